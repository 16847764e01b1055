//! The policy matrix: what automation may answer directly, what it must
//! confirm first, and what only a human may handle.
//!
//! Per intent, the rules file's `[policy.intents.NAME]` sets an `action`
//! (`direct_answer`, `clarify_first` or `escalate_only`) and a confidence
//! `threshold` below which a `direct_answer` becomes `clarify_first`;
//! `never_automate` lists intents that always go to a person (the regulated
//! boundary for banks, lenders and insurers) and raise the
//! `regulated_intent` escalation. Any escalation makes the decision
//! `escalate_only`. [`decide`] is the whole rule; every triage result
//! carries its [`PolicyDecision`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::EscalationReason;
use crate::triage::IntentCategory;

/// What automation may do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyAction {
    /// A bot or template may answer without asking back.
    DirectAnswer,
    /// Confirm what the customer wants before answering.
    #[default]
    ClarifyFirst,
    /// Only a person answers.
    EscalateOnly,
}

impl PolicyAction {
    /// The snake_case word.
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicyAction::DirectAnswer => "direct_answer",
            PolicyAction::ClarifyFirst => "clarify_first",
            PolicyAction::EscalateOnly => "escalate_only",
        }
    }
}

impl fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A probability in `0..=1`, refused at load otherwise (so the error
/// carries the rules file's line and column).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Probability(f32);

impl Probability {
    /// Wraps a value, clamped to `0..=1` (NaN becomes 0).
    pub fn new(p: f32) -> Self {
        Self(if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) })
    }

    /// The value.
    pub fn get(self) -> f32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&v) {
            Ok(Self(v as f32))
        } else {
            Err(serde::de::Error::custom(format!(
                "{v} is not a probability (expected a number from 0 to 1)"
            )))
        }
    }
}

/// One intent's row of the matrix (`[policy.intents.NAME]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentPolicy {
    /// The seeds' category this intent implies (default
    /// `information_request`).
    #[serde(default)]
    pub category: Option<IntentCategory>,
    /// What automation may do (default: `[policy] default_action`).
    #[serde(default)]
    pub action: Option<PolicyAction>,
    /// Confidence below which `direct_answer` becomes `clarify_first`
    /// (default: `[policy] default_threshold`).
    #[serde(default)]
    pub threshold: Option<Probability>,
}

/// The `[policy]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Action for intents without a row.
    pub default_action: PolicyAction,
    /// Threshold for intents without one.
    pub default_threshold: Probability,
    /// Intents that are never automated (raise `regulated_intent`).
    pub never_automate: Vec<String>,
    /// Per-intent rows.
    pub intents: BTreeMap<String, IntentPolicy>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            default_action: PolicyAction::ClarifyFirst,
            default_threshold: Probability(0.6),
            never_automate: Vec::new(),
            intents: BTreeMap::new(),
        }
    }
}

/// The decision recorded on every triage result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// What automation may do.
    pub action: PolicyAction,
    /// The intent's confidence threshold that applied.
    pub threshold: f32,
    /// Why, in words.
    pub why: String,
}

impl Default for PolicyDecision {
    fn default() -> Self {
        Self {
            action: PolicyAction::ClarifyFirst,
            threshold: 0.0,
            why: String::new(),
        }
    }
}

impl PolicyConfig {
    /// The threshold for `intent`.
    pub fn threshold(&self, intent: &str) -> f32 {
        self.intents
            .get(intent)
            .and_then(|p| p.threshold)
            .unwrap_or(self.default_threshold)
            .get()
    }

    /// True when `intent` is on the never-automate list.
    pub fn never_automated(&self, intent: &str) -> bool {
        self.never_automate.iter().any(|i| i == intent)
    }
}

/// The policy decision for a message with this intent, confidence and
/// escalation reasons.
pub fn decide(
    policy: &PolicyConfig,
    intent: &str,
    confidence: f32,
    escalations: &[EscalationReason],
) -> PolicyDecision {
    let threshold = policy.threshold(intent);
    if policy.never_automated(intent) {
        return PolicyDecision {
            action: PolicyAction::EscalateOnly,
            threshold,
            why: format!("{intent} is never automated"),
        };
    }
    if !escalations.is_empty() {
        let names: Vec<&str> = escalations.iter().map(|r| r.as_str()).collect();
        return PolicyDecision {
            action: PolicyAction::EscalateOnly,
            threshold,
            why: format!("escalated: {}", names.join(", ")),
        };
    }
    let action = policy
        .intents
        .get(intent)
        .and_then(|p| p.action)
        .unwrap_or(policy.default_action);
    match action {
        PolicyAction::DirectAnswer if confidence < threshold => PolicyDecision {
            action: PolicyAction::ClarifyFirst,
            threshold,
            why: format!(
                "{intent} confidence {confidence:.2} is below its threshold {threshold:.2}"
            ),
        },
        action => PolicyDecision {
            action,
            threshold,
            why: format!("{intent}: {action} per the policy matrix"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PolicyConfig {
        toml::from_str(
            r#"
default_action = "clarify_first"
default_threshold = 0.5
never_automate = ["legal_regulatory"]
[intents.pricing]
action = "direct_answer"
threshold = 0.7
"#,
        )
        .unwrap()
    }

    #[test]
    fn matrix_thresholds_and_exclusions() {
        let p = config();
        assert_eq!(
            decide(&p, "pricing", 0.9, &[]).action,
            PolicyAction::DirectAnswer
        );
        assert_eq!(
            decide(&p, "pricing", 0.6, &[]).action,
            PolicyAction::ClarifyFirst
        );
        assert_eq!(
            decide(&p, "greeting", 0.99, &[]).action,
            PolicyAction::ClarifyFirst
        );
        assert_eq!(
            decide(&p, "legal_regulatory", 0.99, &[]).action,
            PolicyAction::EscalateOnly
        );
        assert_eq!(
            decide(&p, "pricing", 0.99, &[EscalationReason::Complaint]).action,
            PolicyAction::EscalateOnly
        );
    }

    #[test]
    fn thresholds_must_be_probabilities() {
        let e = toml::from_str::<PolicyConfig>("default_threshold = 1.5\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(e.to_string().contains("not a probability"), "{e}");
    }
}
