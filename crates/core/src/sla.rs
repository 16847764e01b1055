//! SLA clock v1: first-response targets per triage category.
//!
//! The defaults are the seeds' triage table: high-intent return within 15
//! minutes, fresh high intent within 30 minutes, information request within 2
//! hours, passive engagement the same day (24 hours of calendar time until
//! business calendars arrive). Due times are computed from the moment the
//! customer started waiting, in UTC.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;
use crate::model::Category;

/// First-response targets, one per category (`[sla.first_response]` in the
/// configuration file). Any duration down to `"1s"` is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirstResponseTargets {
    /// Target for [`Category::HighIntentReturn`]; default `"15m"`.
    pub high_intent_return: ConfigDuration,
    /// Target for [`Category::FreshHighIntent`]; default `"30m"`.
    pub fresh_high_intent: ConfigDuration,
    /// Target for [`Category::InformationRequest`]; default `"2h"`.
    pub information_request: ConfigDuration,
    /// Target for [`Category::PassiveEngagement`]; default `"24h"`.
    pub passive_engagement: ConfigDuration,
}

impl Default for FirstResponseTargets {
    fn default() -> Self {
        Self {
            high_intent_return: ConfigDuration::from_secs(15 * 60),
            fresh_high_intent: ConfigDuration::from_secs(30 * 60),
            information_request: ConfigDuration::from_secs(2 * 3600),
            passive_engagement: ConfigDuration::from_secs(24 * 3600),
        }
    }
}

impl FirstResponseTargets {
    /// The target for one category.
    pub fn target(&self, category: Category) -> ConfigDuration {
        match category {
            Category::HighIntentReturn => self.high_intent_return,
            Category::FreshHighIntent => self.fresh_high_intent,
            Category::InformationRequest => self.information_request,
            Category::PassiveEngagement => self.passive_engagement,
        }
    }

    /// The first-response due time for a customer waiting since
    /// `waiting_since` in `category` (UTC, calendar time).
    pub fn due_at(&self, category: Category, waiting_since: Timestamp) -> Timestamp {
        waiting_since
            .checked_add(self.target(category).as_signed())
            .unwrap_or(Timestamp::MAX)
    }
}

/// The SLA view of one conversation, as the API returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstResponseSla {
    /// When the first human reply is due (UTC); `None` when nothing waits.
    pub first_response_due_at: Option<Timestamp>,
    /// When the first reply was given, if it was.
    pub first_responded_at: Option<Timestamp>,
    /// True when the due time passed without a reply, or the reply came late.
    pub breached: bool,
}

impl FirstResponseSla {
    /// Evaluates the clock at `now`.
    pub fn evaluate(
        due_at: Option<Timestamp>,
        responded_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Self {
        let breached = match (due_at, responded_at) {
            (Some(due), Some(done)) => done > due,
            (Some(due), None) => now > due,
            (None, _) => false,
        };
        Self {
            first_response_due_at: due_at,
            first_responded_at: responded_at,
            breached,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_defaults() {
        let t = FirstResponseTargets::default();
        assert_eq!(t.target(Category::HighIntentReturn).as_secs(), 900);
        assert_eq!(t.target(Category::FreshHighIntent).as_secs(), 1800);
        assert_eq!(t.target(Category::InformationRequest).as_secs(), 7200);
        assert_eq!(t.target(Category::PassiveEngagement).as_secs(), 86_400);
    }

    #[test]
    fn breach_evaluation() {
        let since: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let t = FirstResponseTargets::default();
        let due = t.due_at(Category::FreshHighIntent, since);
        assert_eq!(due, "2026-03-01T10:30:00Z".parse::<Timestamp>().unwrap());
        let before: Timestamp = "2026-03-01T10:29:59Z".parse().unwrap();
        let after: Timestamp = "2026-03-01T10:30:01Z".parse().unwrap();
        assert!(!FirstResponseSla::evaluate(Some(due), None, before).breached);
        assert!(FirstResponseSla::evaluate(Some(due), None, after).breached);
        assert!(!FirstResponseSla::evaluate(Some(due), Some(before), after).breached);
    }

    #[test]
    fn targets_parse_from_toml_down_to_one_second() {
        let t: FirstResponseTargets = toml::from_str("high_intent_return = \"1s\"").unwrap();
        assert_eq!(t.high_intent_return.as_secs(), 1);
        assert_eq!(t.fresh_high_intent.as_secs(), 1800);
    }
}
