//! The field's vocabulary as closed enums.
//!
//! Each enum serialises as the snake_case word used in the API, the database
//! and the configuration, and parses back with [`std::str::FromStr`] (the
//! error names the accepted words).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A word that is not one of an enum's accepted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of: {expected}")]
pub struct UnknownVariant {
    /// What was being parsed (`"priority"`, `"role"`, …).
    pub kind: &'static str,
    /// The refused input.
    pub value: String,
    /// The accepted words, comma-separated.
    pub expected: String,
}

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The snake_case word for this value.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownVariant {
                        kind: $kind,
                        value: s.to_owned(),
                        expected: [$($word),+].join(", "),
                    }),
                }
            }
        }
    };
}
pub(crate) use word_enum;

word_enum!(
    /// Lifecycle of a conversation (Chatwoot's four states).
    ConversationStatus, "conversation status" {
        /// Waiting for or being worked by the business.
        Open = "open",
        /// Parked by automation or an agent, waiting for the customer.
        Pending = "pending",
        /// Hidden until a time or until the customer writes again.
        Snoozed = "snoozed",
        /// Closed. A later inbound message opens a *new* conversation.
        Resolved = "resolved",
    }
);

word_enum!(
    /// How soon a conversation must be worked, most urgent first.
    Priority, "priority" {
        /// Escalated: a senior must act now.
        Urgent = "urgent",
        /// High intent or returning prospect.
        High = "high",
        /// Information requests.
        Medium = "medium",
        /// Passive engagement.
        Low = "low",
    }
);

word_enum!(
    /// The seeds' four triage categories, each with its own first-response
    /// target (seeds: "Customer response management on WhatsApp", triage
    /// table: 15 min / 30 min / 2 h / same day).
    Category, "category" {
        /// A contact who engaged before and now re-initiates with intent
        /// (target 15 minutes, senior sales or owner).
        HighIntentReturn = "high_intent_return",
        /// A new contact with a specific product/service question or buying
        /// signal (target 30 minutes, sales team).
        FreshHighIntent = "fresh_high_intent",
        /// A general query: pricing, availability, timings, status (target
        /// 2 hours, support or junior sales).
        InformationRequest = "information_request",
        /// Acknowledgements, greetings, replies to a broadcast (same day).
        PassiveEngagement = "passive_engagement",
    }
);

impl Category {
    /// The default priority of a conversation in this category when nothing
    /// escalates it.
    pub const fn default_priority(self) -> Priority {
        match self {
            Category::HighIntentReturn | Category::FreshHighIntent => Priority::High,
            Category::InformationRequest => Priority::Medium,
            Category::PassiveEngagement => Priority::Low,
        }
    }

    /// Rank for "never downgrade" comparisons: lower is more urgent.
    pub const fn urgency_rank(self) -> u8 {
        match self {
            Category::HighIntentReturn => 0,
            Category::FreshHighIntent => 1,
            Category::InformationRequest => 2,
            Category::PassiveEngagement => 3,
        }
    }
}

word_enum!(
    /// Why a conversation goes to a senior human now.
    EscalationReason, "escalation reason" {
        /// The customer expresses dissatisfaction or blame, or a payment went wrong.
        Complaint = "complaint",
        /// Demands or chases money back.
        Refund = "refund",
        /// Wants to cancel or close an order, plan or account.
        Cancellation = "cancellation",
        /// Asks for a person, a call or a manager.
        HumanRequested = "human_requested",
        /// Lawyer, legal notice, consumer court, regulator complaint, data deletion.
        LegalRegulatory = "legal_regulatory",
        /// Unauthorised transaction, hacked account, stolen card, scam report.
        SecurityFraud = "security_fraud",
        /// Strongly negative or abusive tone.
        NegativeSentiment = "negative_sentiment",
        /// Asks for a discount or a better price to close a deal.
        PriceNegotiation = "price_negotiation",
        /// Two or more inbound messages waiting without a reply.
        RepeatUnanswered = "repeat_unanswered",
        /// Automation failed to understand the customer twice in a row.
        BotFailure = "bot_failure",
        /// The intent is on the never-automate list (the regulated boundary
        /// for banks, lenders and insurers).
        RegulatedIntent = "regulated_intent",
    }
);

impl EscalationReason {
    /// Reasons that make a conversation `urgent` rather than `high`.
    pub const fn is_urgent(self) -> bool {
        matches!(
            self,
            EscalationReason::LegalRegulatory
                | EscalationReason::SecurityFraud
                | EscalationReason::Complaint
                | EscalationReason::NegativeSentiment
                | EscalationReason::HumanRequested
                | EscalationReason::RepeatUnanswered
        )
    }
}

word_enum!(
    /// An agent's authority.
    Role, "role" {
        /// Answers conversations.
        Agent = "agent",
        /// Senior tier: escalations and returning high-intent prospects.
        Senior = "senior",
        /// Supervises a team; target of supervisor escalations.
        Supervisor = "supervisor",
        /// Manages teams, agents and configuration.
        Admin = "admin",
    }
);

impl Role {
    /// True for roles that take escalated work (senior and above).
    pub const fn is_senior_tier(self) -> bool {
        matches!(self, Role::Senior | Role::Supervisor | Role::Admin)
    }
}

word_enum!(
    /// Presence: only `online` agents receive new work.
    Availability, "availability" {
        /// Takes new conversations.
        Online = "online",
        /// Keeps current work, receives nothing new.
        Away = "away",
        /// Not working.
        Offline = "offline",
    }
);

word_enum!(
    /// Who wrote a message.
    Direction, "direction" {
        /// From the customer.
        Inbound = "inbound",
        /// From the business to the customer.
        Outbound = "outbound",
        /// A private note between agents, never sent.
        Note = "note",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), *c);
            assert_eq!(
                serde_json::to_string(c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        let e = "boss".parse::<Role>().unwrap_err();
        assert!(e.to_string().contains("agent, senior, supervisor, admin"));
    }
}
