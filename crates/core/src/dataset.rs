//! Labelled messages and the label mapping that turns a dataset's own
//! labels into Switchboard intents and escalation reasons.
//!
//! A record is one JSON object (or CSV row) with `text` and either
//! Switchboard's own labels (`intent`, `escalation_reasons`, as in
//! `data/triage/in_domain.jsonl`) or the source's `label` (a string, or a
//! list for multi-label sets), plus optional `language`, `source`, `split`,
//! `id` and `hard`. The mapping file (TOML, see `data/mapping/public.toml`)
//! says, per source, what each label means; it is data, reviewed like
//! data, not code. Parsing only: reading files is the caller's job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::EscalationReason;

/// A dataset label: one name or several (multi-label sources).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Labels {
    /// Single-label.
    One(String),
    /// Multi-label (may be empty).
    Many(Vec<String>),
}

/// One labelled message as read from a JSONL line or a CSV row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Stable identifier, if the data has one.
    #[serde(default)]
    pub id: Option<String>,
    /// The message.
    pub text: String,
    /// Switchboard intent, when the data is labelled in Switchboard's terms.
    #[serde(default)]
    pub intent: Option<String>,
    /// Switchboard escalation reasons (with `intent`).
    #[serde(default)]
    pub escalation_reasons: Option<Vec<EscalationReason>>,
    /// The source's own label(s), mapped through a [`Mapping`].
    #[serde(default)]
    pub label: Option<Labels>,
    /// Language code (`en`, `hi`, `hinglish`, …).
    #[serde(default)]
    pub language: Option<String>,
    /// Which dataset the record comes from (the mapping's section name).
    #[serde(default)]
    pub source: Option<String>,
    /// `train`, `dev` or `test`.
    #[serde(default)]
    pub split: Option<String>,
    /// `negative` or `positive` for hard examples.
    #[serde(default)]
    pub hard: Option<String>,
    /// The seeds' category (`fresh_high_intent`, …), when labelled.
    #[serde(default)]
    pub category: Option<String>,
    /// Gold sentiment (`negative`, `neutral`, `positive`, or
    /// `not_negative`), for sentiment-only data such as GoEmotions.
    #[serde(default)]
    pub sentiment: Option<String>,
}

/// The Switchboard labels of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gold {
    /// Intent name.
    pub intent: String,
    /// Escalation reasons (empty: no escalation).
    pub reasons: Vec<EscalationReason>,
}

/// What a label maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Switchboard intent.
    pub intent: String,
    /// Escalation reasons.
    #[serde(default)]
    pub escalation: Vec<EscalationReason>,
}

/// A rule for multi-label sources: holds when any of `any` (if given), all
/// of `all` and none of `none` are among the record's labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRule {
    /// At least one of these labels (ignored when empty).
    #[serde(default)]
    pub any: Vec<String>,
    /// All of these labels.
    #[serde(default)]
    pub all: Vec<String>,
    /// None of these labels.
    #[serde(default)]
    pub none: Vec<String>,
    /// Switchboard intent.
    pub intent: String,
    /// Escalation reasons.
    #[serde(default)]
    pub escalation: Vec<EscalationReason>,
}

/// One source's mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceMapping {
    /// Use another source's mapping.
    #[serde(default)]
    pub same_as: Option<String>,
    /// Exact label lookup.
    #[serde(default)]
    pub labels: BTreeMap<String, Target>,
    /// Ordered rules for multi-label records.
    #[serde(default)]
    pub rules: Vec<LabelRule>,
    /// For records with an empty label list.
    #[serde(default)]
    pub empty: Option<Target>,
    /// For labels nothing else matches.
    #[serde(default)]
    pub default: Option<Target>,
}

/// A label mapping file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Version label, reported with every evaluation.
    pub version: String,
    /// Per source.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceMapping>,
}

/// Why a mapping or a record could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// TOML or schema error (with line and column).
    #[error("{0}")]
    Syntax(String),
    /// A semantic problem.
    #[error("{0}")]
    Invalid(String),
}

fn valid_intent(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Mapping {
    /// Parses and checks a mapping file's text.
    ///
    /// # Errors
    /// [`MappingError::Syntax`] (line and column) for TOML and schema
    /// errors, including unknown escalation reasons;
    /// [`MappingError::Invalid`] for intents that are not snake_case and
    /// `same_as` pointing nowhere.
    pub fn from_toml(text: &str) -> Result<Self, MappingError> {
        let m: Mapping = toml::from_str(text).map_err(|e| MappingError::Syntax(e.to_string()))?;
        for (name, s) in &m.sources {
            if let Some(other) = &s.same_as
                && !m.sources.contains_key(other)
            {
                return Err(MappingError::Invalid(format!(
                    "sources.{name}.same_as: no source {other:?}"
                )));
            }
            let intents = s
                .labels
                .values()
                .map(|t| &t.intent)
                .chain(s.rules.iter().map(|r| &r.intent))
                .chain(s.empty.iter().map(|t| &t.intent))
                .chain(s.default.iter().map(|t| &t.intent));
            for i in intents {
                if !valid_intent(i) {
                    return Err(MappingError::Invalid(format!(
                        "sources.{name}: intent {i:?} is not snake_case"
                    )));
                }
            }
        }
        Ok(m)
    }

    /// The Switchboard labels of `record`: its own `intent` when present,
    /// otherwise its `label` mapped through its `source`'s section.
    ///
    /// # Errors
    /// [`MappingError::Invalid`] when the record has neither, its source has
    /// no section, or no entry (and no default) covers its label.
    pub fn resolve(&self, record: &Record) -> Result<Gold, MappingError> {
        if let Some(intent) = &record.intent {
            let mut reasons = record.escalation_reasons.clone().unwrap_or_default();
            reasons.sort();
            reasons.dedup();
            return Ok(Gold {
                intent: intent.clone(),
                reasons,
            });
        }
        let Some(label) = &record.label else {
            return Err(MappingError::Invalid(
                "record has neither `intent` nor `label`".into(),
            ));
        };
        let source = record.source.as_deref().unwrap_or("default");
        let mut section = self.sources.get(source);
        // Follow `same_as` a bounded number of times (cycles are an error).
        for _ in 0..8 {
            match section.and_then(|s| s.same_as.as_ref()) {
                Some(other) => section = self.sources.get(other),
                None => break,
            }
        }
        let Some(section) = section else {
            return Err(MappingError::Invalid(format!(
                "mapping {} has no section for source {source:?}",
                self.version
            )));
        };
        let target = match label {
            Labels::One(l) => section.labels.get(l).cloned().or_else(|| {
                section
                    .rules
                    .iter()
                    .find(|r| rule_holds(r, std::slice::from_ref(l)))
                    .map(rule_target)
            }),
            Labels::Many(ls) if ls.is_empty() => section.empty.clone(),
            Labels::Many(ls) => section
                .rules
                .iter()
                .find(|r| rule_holds(r, ls))
                .map(rule_target)
                .or_else(|| ls.iter().find_map(|l| section.labels.get(l).cloned())),
        }
        .or_else(|| section.default.clone());
        let Some(t) = target else {
            return Err(MappingError::Invalid(format!(
                "source {source:?}: no mapping for label {label:?}"
            )));
        };
        let mut reasons = t.escalation;
        reasons.sort();
        reasons.dedup();
        Ok(Gold {
            intent: t.intent,
            reasons,
        })
    }
}

fn rule_holds(rule: &LabelRule, labels: &[String]) -> bool {
    let has = |x: &String| labels.contains(x);
    (rule.any.is_empty() || rule.any.iter().any(has))
        && rule.all.iter().all(has)
        && !rule.none.iter().any(has)
}

fn rule_target(rule: &LabelRule) -> Target {
    Target {
        intent: rule.intent.clone(),
        escalation: rule.escalation.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = r#"
version = "t1"
[sources.a]
default = { intent = "out_of_scope" }
[sources.a.labels]
refund_me = { intent = "refund", escalation = ["refund"] }
[sources.b]
same_as = "a"
[sources.m]
empty = { intent = "acknowledgement" }
[[sources.m.rules]]
any = ["handoff"]
intent = "human_agent"
escalation = ["human_requested"]
[[sources.m.rules]]
any = ["cancel"]
none = ["how"]
intent = "cancellation"
escalation = ["cancellation"]
"#;

    fn rec(source: &str, label: Labels) -> Record {
        Record {
            text: "x".into(),
            source: Some(source.into()),
            label: Some(label),
            ..Record::default()
        }
    }

    #[test]
    fn maps_single_multi_and_native_records() {
        let m = Mapping::from_toml(M).unwrap();
        let g = m
            .resolve(&rec("b", Labels::One("refund_me".into())))
            .unwrap();
        assert_eq!(g.intent, "refund");
        assert_eq!(g.reasons, vec![EscalationReason::Refund]);
        assert_eq!(
            m.resolve(&rec("a", Labels::One("zzz".into())))
                .unwrap()
                .intent,
            "out_of_scope"
        );
        let many = |v: &[&str]| Labels::Many(v.iter().map(|s| (*s).to_owned()).collect());
        assert!(m.resolve(&rec("m", many(&["cancel", "how"]))).is_err());
        assert_eq!(
            m.resolve(&rec("m", many(&["cancel"]))).unwrap().intent,
            "cancellation"
        );
        assert_eq!(
            m.resolve(&rec("m", many(&[]))).unwrap().intent,
            "acknowledgement"
        );
        let native: Record = serde_json::from_str(
            r#"{"text":"refund do","intent":"refund","escalation_reasons":["refund"],"domain":"retail"}"#,
        )
        .unwrap();
        assert_eq!(m.resolve(&native).unwrap().intent, "refund");
    }

    #[test]
    fn mapping_errors_name_the_problem() {
        let e =
            Mapping::from_toml("version = \"x\"\n[sources.a]\nsame_as = \"nope\"\n").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = Mapping::from_toml(
            "version = \"x\"\n[sources.a.labels]\nz = { intent = \"refund\", escalation = [\"bogus\"] }\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }
}
