//! Triage v1: a versioned, explainable rules engine.
//!
//! Every inbound text-bearing message gets a [`TriageResult`]: the seeds'
//! category (which sets the first-response target), a coarse intent, the
//! escalation reasons that send it to a senior now, a priority, and
//! `reasons` in words an agent understands ("matched 'refund chahiye'
//! (refund)").
//!
//! The rules live in a TOML file ([`RulesFile`]; the built-in default is
//! `rules/default.toml`, English, Hinglish and some Devanagari). Phrases are
//! compiled once into a single Aho-Corasick automaton over normalised text
//! ([`crate::text::normalize`]), so a decision costs one pass over the
//! message however many phrases there are. A later engine replaces the
//! matching core with a trained classifier; [`TriageInput`] and
//! [`TriageResult`] are the interface that stays.

use aho_corasick::{AhoCorasick, MatchKind};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;
use crate::model::{Category, EscalationReason, Priority};
use crate::text::normalize;

/// The built-in rules file, compiled into the binary.
pub const BUILTIN_RULES: &str = include_str!("../rules/default.toml");

/// A rules file as written by a user (TOML). See `rules/default.toml` for a
/// commented example of every key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Free-form version label, recorded on every triage result.
    pub version: String,
    /// Thresholds.
    #[serde(default)]
    pub settings: Settings,
    /// Escalation rules; several may fire for one message.
    #[serde(default)]
    pub escalation: Vec<EscalationRule>,
    /// Intent rules; the best match names the intent and category.
    #[serde(default)]
    pub intent: Vec<IntentRule>,
}

/// Numeric knobs of the rules file (`[settings]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Inbound messages waiting without a reply (this one included) at which
    /// `repeat_unanswered` fires; default 2.
    pub repeat_unanswered_after: u32,
    /// Silence after which a contact counts as returning; default `"24h"`.
    pub return_after: ConfigDuration,
    /// Minimum letters for the shouting check; default 12.
    pub shouting_min_letters: usize,
    /// A run of this many `!` signals frustration; default 3.
    pub exclamation_run: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            repeat_unanswered_after: 2,
            return_after: ConfigDuration::from_secs(24 * 3600),
            shouting_min_letters: 12,
            exclamation_run: 3,
        }
    }
}

/// One escalation rule (`[[escalation]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationRule {
    /// The reason this rule raises.
    pub reason: EscalationReason,
    /// What the rule means, for people reading the file.
    #[serde(default)]
    pub description: Option<String>,
    /// Phrases that fire the rule (whole words; a trailing `*` is a prefix).
    pub phrases: Vec<String>,
    /// Phrases that cancel the rule for a message.
    #[serde(default)]
    pub unless: Vec<String>,
}

/// What an intent rule says about the category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentCategory {
    /// Buying signal: `high_intent_return` for a returning contact,
    /// `fresh_high_intent` otherwise.
    HighIntent,
    /// A general query.
    InformationRequest,
    /// Acknowledgement, greeting, broadcast reply.
    PassiveEngagement,
}

/// One intent rule (`[[intent]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRule {
    /// The intent's name (snake_case).
    pub name: String,
    /// The category it implies.
    pub category: IntentCategory,
    /// Higher wins when several intents match; default 10.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Phrases that match the intent.
    pub phrases: Vec<String>,
    /// Phrases that cancel the intent for a message.
    #[serde(default)]
    pub unless: Vec<String>,
}

fn default_weight() -> u32 {
    10
}

/// Why a rules file was refused. Messages name the rule and the problem;
/// TOML syntax errors carry line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The TOML did not parse or did not match the schema.
    #[error("{0}")]
    Syntax(String),
    /// A semantic problem in one rule.
    #[error("{rule}: {problem}")]
    Invalid {
        /// Which rule (`escalation[2] (refund)`, `intent[0] (purchase)`).
        rule: String,
        /// What is wrong.
        problem: String,
    },
}

/// What the caller knows about the contact and conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// When this contact's previous inbound message (before this one) arrived.
    pub previous_inbound_at: Option<Timestamp>,
    /// How many of the contact's earlier conversations were resolved.
    pub resolved_conversations: u32,
    /// Inbound messages waiting for a reply, this one included.
    pub waiting_inbound: u32,
}

/// One message to triage.
#[derive(Debug, Clone, Copy)]
pub struct TriageInput<'a> {
    /// The text a person typed or chose (text body, caption, button title);
    /// `None` for messages without text.
    pub text: Option<&'a str>,
    /// Meta's message type (`text`, `image`, `order`, …), used when there is
    /// no text.
    pub message_type: &'a str,
    /// When the customer sent it (Meta's timestamp, UTC).
    pub sent_at: Timestamp,
    /// History facts.
    pub history: History,
}

/// The triage decision for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageResult {
    /// The seeds' category.
    pub category: Category,
    /// A coarse intent name (`purchase`, `pricing`, `refund`, …).
    pub intent: String,
    /// Escalation reasons, in the enum's order, without duplicates.
    pub escalation_reasons: Vec<EscalationReason>,
    /// True when `escalation_reasons` is not empty.
    pub escalate: bool,
    /// Priority implied by escalation and category.
    pub priority: Priority,
    /// Which rules fired, in words.
    pub reasons: Vec<String>,
    /// The `version` of the rules file used.
    pub rules_version: String,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Escalation(usize),
    EscalationUnless(usize),
    Intent(usize),
    IntentUnless(usize),
}

#[derive(Debug, Clone)]
struct Pattern {
    target: Target,
    phrase: String,
    words: usize,
}

/// A compiled rules file, cheap to share (`Arc`) across threads.
#[derive(Debug, Clone)]
pub struct TriageEngine {
    rules: RulesFile,
    automaton: AhoCorasick,
    patterns: Vec<Pattern>,
}

impl TriageEngine {
    /// The engine for [`BUILTIN_RULES`].
    ///
    /// # Errors
    /// Only if the built-in file is broken, which a unit test rules out.
    pub fn builtin() -> Result<Self, RulesError> {
        Self::from_toml(BUILTIN_RULES)
    }

    /// Parses and compiles a rules file's text.
    ///
    /// # Errors
    /// [`RulesError::Syntax`] with line and column for TOML/schema errors
    /// (unknown keys, unknown escalation reasons, bad durations), and
    /// [`RulesError::Invalid`] for empty phrase lists, phrases that
    /// normalise to nothing, and duplicate intent names.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let rules: RulesFile =
            toml::from_str(text).map_err(|e| RulesError::Syntax(e.to_string()))?;
        Self::compile(rules)
    }

    /// Compiles parsed rules; see [`TriageEngine::from_toml`] for errors.
    pub fn compile(rules: RulesFile) -> Result<Self, RulesError> {
        if rules.version.trim().is_empty() {
            return Err(RulesError::Invalid {
                rule: "version".into(),
                problem: "must not be empty".into(),
            });
        }
        let mut patterns = Vec::new();
        let mut add = |rule: String, list: &[String], target: Target, required: bool| {
            if required && list.is_empty() {
                return Err(RulesError::Invalid {
                    rule,
                    problem: "`phrases` must not be empty".into(),
                });
            }
            for phrase in list {
                let prefix = phrase.trim_end().ends_with('*');
                let norm = normalize(phrase.trim_end().trim_end_matches('*'));
                let words = norm.split_whitespace().count();
                if words == 0 {
                    return Err(RulesError::Invalid {
                        rule,
                        problem: format!("phrase {phrase:?} has no letters or digits"),
                    });
                }
                let key = if prefix {
                    norm.trim_end().to_owned()
                } else {
                    norm
                };
                patterns.push((
                    key,
                    Pattern {
                        target,
                        phrase: phrase.clone(),
                        words,
                    },
                ));
            }
            Ok(())
        };
        for (i, r) in rules.escalation.iter().enumerate() {
            let name = format!("escalation[{i}] ({})", r.reason);
            add(name.clone(), &r.phrases, Target::Escalation(i), true)?;
            add(name, &r.unless, Target::EscalationUnless(i), false)?;
        }
        let mut seen = std::collections::HashSet::new();
        for (i, r) in rules.intent.iter().enumerate() {
            let name = format!("intent[{i}] ({})", r.name);
            if !seen.insert(r.name.as_str()) {
                return Err(RulesError::Invalid {
                    rule: name,
                    problem: "duplicate intent name".into(),
                });
            }
            if r.name.is_empty()
                || !r
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            {
                return Err(RulesError::Invalid {
                    rule: name,
                    problem: "intent names are snake_case".into(),
                });
            }
            add(name.clone(), &r.phrases, Target::Intent(i), true)?;
            add(name, &r.unless, Target::IntentUnless(i), false)?;
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns.iter().map(|(k, _)| k.as_str()))
            .map_err(|e| RulesError::Invalid {
                rule: "phrases".into(),
                problem: e.to_string(),
            })?;
        Ok(Self {
            rules,
            automaton,
            patterns: patterns.into_iter().map(|(_, p)| p).collect(),
        })
    }

    /// The rules this engine was compiled from.
    pub fn rules(&self) -> &RulesFile {
        &self.rules
    }

    /// The rules file's version label.
    pub fn version(&self) -> &str {
        &self.rules.version
    }

    /// True when a contact with this history is "returning" at `at`: it has
    /// a resolved conversation, or its previous inbound message is at least
    /// `return_after` old.
    pub fn is_returning(&self, history: &History, at: Timestamp) -> bool {
        history.resolved_conversations > 0
            || history.previous_inbound_at.is_some_and(|prev| {
                at.duration_since(prev) >= self.rules.settings.return_after.as_signed()
            })
    }

    /// Triage one message. Never panics, whatever the text.
    pub fn triage(&self, input: &TriageInput<'_>) -> TriageResult {
        let settings = &self.rules.settings;
        let mut reasons = Vec::new();
        let mut escalations: Vec<EscalationReason> = Vec::new();
        let returning = self.is_returning(&input.history, input.sent_at);

        let text = input.text.map(str::trim).filter(|t| !t.is_empty());
        let mut intent: Option<(usize, usize, String)> = None; // (rule, words, phrase)
        if let Some(text) = text {
            let norm = normalize(text);
            let n_esc = self.rules.escalation.len();
            let n_int = self.rules.intent.len();
            let mut esc_hit: Vec<Option<&str>> = vec![None; n_esc];
            let mut esc_cancel = vec![false; n_esc];
            let mut int_hit: Vec<Option<(usize, &str)>> = vec![None; n_int];
            let mut int_cancel = vec![false; n_int];
            for m in self.automaton.find_overlapping_iter(&norm) {
                let Some(p) = self.patterns.get(m.pattern().as_usize()) else {
                    continue;
                };
                match p.target {
                    Target::Escalation(i) => {
                        if let Some(slot) = esc_hit.get_mut(i) {
                            slot.get_or_insert(p.phrase.as_str());
                        }
                    }
                    Target::EscalationUnless(i) => {
                        if let Some(slot) = esc_cancel.get_mut(i) {
                            *slot = true;
                        }
                    }
                    Target::Intent(i) => {
                        if let Some(slot) = int_hit.get_mut(i)
                            && slot.is_none_or(|(w, _)| p.words > w)
                        {
                            *slot = Some((p.words, p.phrase.as_str()));
                        }
                    }
                    Target::IntentUnless(i) => {
                        if let Some(slot) = int_cancel.get_mut(i) {
                            *slot = true;
                        }
                    }
                }
            }
            for (i, hit) in esc_hit.iter().enumerate() {
                let (Some(phrase), Some(rule)) = (hit, self.rules.escalation.get(i)) else {
                    continue;
                };
                if esc_cancel.get(i).copied().unwrap_or(false) {
                    reasons.push(format!(
                        "'{phrase}' looked like {} but an exception phrase matched",
                        rule.reason
                    ));
                    continue;
                }
                escalations.push(rule.reason);
                reasons.push(format!("matched '{phrase}' ({})", rule.reason));
            }
            for (i, hit) in int_hit.iter().enumerate() {
                let (Some((words, phrase)), Some(rule)) = (hit, self.rules.intent.get(i)) else {
                    continue;
                };
                if int_cancel.get(i).copied().unwrap_or(false) {
                    continue;
                }
                let better = match &intent {
                    None => true,
                    Some((j, w, _)) => {
                        let cur = self.rules.intent.get(*j).map_or(0, |r| r.weight);
                        (rule.weight, *words) > (cur, *w)
                    }
                };
                if better {
                    intent = Some((i, *words, (*phrase).to_owned()));
                }
            }
            if is_shouting(text, settings.shouting_min_letters) {
                escalations.push(EscalationReason::NegativeSentiment);
                reasons.push("written in capitals (shouting)".into());
            }
            if settings.exclamation_run > 0 && text.contains(&"!".repeat(settings.exclamation_run))
            {
                escalations.push(EscalationReason::Complaint);
                reasons.push(format!("{}+ exclamation marks", settings.exclamation_run));
            }
        }
        if settings.repeat_unanswered_after > 0
            && input.history.waiting_inbound >= settings.repeat_unanswered_after
        {
            escalations.push(EscalationReason::RepeatUnanswered);
            reasons.push(format!(
                "{} messages waiting without a reply",
                input.history.waiting_inbound
            ));
        }
        escalations.sort();
        escalations.dedup();

        // Intent and category.
        let (intent_name, intent_category) = match &intent {
            Some((i, _, phrase)) => {
                let rule = self.rules.intent.get(*i);
                let name = rule.map_or_else(|| "out_of_scope".to_owned(), |r| r.name.clone());
                let cat = rule.map_or(IntentCategory::InformationRequest, |r| r.category);
                reasons.push(format!("intent {name}: matched '{phrase}'"));
                (name, cat)
            }
            None => fallback_intent(text, input.message_type, &mut reasons),
        };
        // An escalation names the intent when the text matched none, or only
        // a passive one ("ok but I want my money back").
        let intent_name = match escalations.first() {
            Some(first)
                if intent.is_none() || intent_category == IntentCategory::PassiveEngagement =>
            {
                escalation_intent(*first, &escalations).to_owned()
            }
            _ => intent_name,
        };
        let mut intent_category = intent_category;
        if escalations.contains(&EscalationReason::PriceNegotiation) {
            intent_category = IntentCategory::HighIntent;
        } else if !escalations.is_empty() && intent_category == IntentCategory::PassiveEngagement {
            intent_category = IntentCategory::InformationRequest;
        }
        let category = match intent_category {
            IntentCategory::HighIntent | IntentCategory::InformationRequest if returning => {
                reasons.push("returning contact re-initiating (high-intent return)".into());
                Category::HighIntentReturn
            }
            IntentCategory::HighIntent => Category::FreshHighIntent,
            IntentCategory::InformationRequest => Category::InformationRequest,
            IntentCategory::PassiveEngagement => Category::PassiveEngagement,
        };
        let priority = if escalations.iter().any(|r| r.is_urgent()) {
            Priority::Urgent
        } else if escalations.is_empty() {
            category.default_priority()
        } else {
            Priority::High
        };
        TriageResult {
            category,
            intent: intent_name,
            escalate: !escalations.is_empty(),
            escalation_reasons: escalations,
            priority,
            reasons,
            rules_version: self.rules.version.clone(),
        }
    }
}

fn fallback_intent(
    text: Option<&str>,
    message_type: &str,
    reasons: &mut Vec<String>,
) -> (String, IntentCategory) {
    match (text, message_type) {
        (None, "order") => {
            reasons.push("a catalogue order (buying signal)".into());
            ("purchase".into(), IntentCategory::HighIntent)
        }
        (None, "reaction" | "sticker") => {
            reasons.push(format!("{message_type} without text"));
            ("acknowledgement".into(), IntentCategory::PassiveEngagement)
        }
        (None, kind) => {
            reasons.push(format!(
                "{kind} message without text; treated as an information request"
            ));
            ("product_info".into(), IntentCategory::InformationRequest)
        }
        (Some(t), _) if t.contains('?') => {
            reasons.push("no rule matched; a question, treated as an information request".into());
            ("product_info".into(), IntentCategory::InformationRequest)
        }
        (Some(_), _) => {
            reasons.push("no rule matched; treated as a general information request".into());
            ("out_of_scope".into(), IntentCategory::InformationRequest)
        }
    }
}

fn escalation_intent(first: EscalationReason, all: &[EscalationReason]) -> &'static str {
    // Prefer the most specific reason over generic tone signals.
    let specific = all
        .iter()
        .find(|r| {
            !matches!(
                r,
                EscalationReason::NegativeSentiment
                    | EscalationReason::RepeatUnanswered
                    | EscalationReason::Complaint
            )
        })
        .copied()
        .unwrap_or(first);
    match specific {
        EscalationReason::Complaint | EscalationReason::NegativeSentiment => "complaint",
        EscalationReason::Refund => "refund",
        EscalationReason::Cancellation => "cancellation",
        EscalationReason::HumanRequested => "human_agent",
        EscalationReason::LegalRegulatory => "legal_regulatory",
        EscalationReason::SecurityFraud => "security_fraud",
        EscalationReason::PriceNegotiation => "price_negotiation",
        EscalationReason::RepeatUnanswered => "out_of_scope",
    }
}

fn is_shouting(text: &str, min_letters: usize) -> bool {
    let letters: Vec<char> = text
        .chars()
        .filter(|c| c.is_alphabetic() && (c.is_uppercase() || c.is_lowercase()))
        .collect();
    if min_letters == 0 || letters.len() < min_letters {
        return false;
    }
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    upper * 10 >= letters.len() * 9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> TriageEngine {
        TriageEngine::builtin().unwrap()
    }

    fn at() -> Timestamp {
        "2026-11-20T10:00:00Z".parse().unwrap()
    }

    fn run(text: &str) -> TriageResult {
        run_with(
            text,
            History {
                waiting_inbound: 1,
                ..History::default()
            },
        )
    }

    fn run_with(text: &str, history: History) -> TriageResult {
        engine().triage(&TriageInput {
            text: Some(text),
            message_type: "text",
            sent_at: at(),
            history,
        })
    }

    #[test]
    fn seeds_examples() {
        let r = run("When can we sign?");
        assert_eq!(r.category, Category::FreshHighIntent);
        assert_eq!(r.intent, "purchase");
        assert!(!r.escalate);

        let r = run("ok thanks");
        assert_eq!(r.category, Category::PassiveEngagement);
        assert_eq!(r.priority, Priority::Low);

        let r = run("I want to talk to a person");
        assert_eq!(r.escalation_reasons, vec![EscalationReason::HumanRequested]);
        assert!(r.escalate);
        assert_eq!(r.intent, "human_agent");
        assert_eq!(r.priority, Priority::Urgent);

        let returning = History {
            previous_inbound_at: Some("2026-10-30T10:00:00Z".parse().unwrap()),
            resolved_conversations: 0,
            waiting_inbound: 1,
        };
        let r = run_with("is the 3BHK still available? ready to proceed", returning);
        assert_eq!(r.category, Category::HighIntentReturn);
        assert_eq!(r.priority, Priority::High);
    }

    #[test]
    fn hinglish_phrases() {
        assert_eq!(run("price kya hai").intent, "pricing");
        assert_eq!(
            run("ye kitne ka hai bhaiya").category,
            Category::InformationRequest
        );
        assert_eq!(
            run("abhi book karna hai").category,
            Category::FreshHighIntent
        );
        assert_eq!(
            run("refund chahiye jaldi").escalation_reasons,
            vec![EscalationReason::Refund]
        );
        assert!(
            run("agent se baat karao")
                .escalation_reasons
                .contains(&EscalationReason::HumanRequested)
        );
        assert!(
            run("consumer court jaunga")
                .escalation_reasons
                .contains(&EscalationReason::LegalRegulatory)
        );
        assert!(
            run("thoda discount do toh aaj hi le lunga")
                .escalation_reasons
                .contains(&EscalationReason::PriceNegotiation)
        );
        assert!(
            run("paisa kat gaya par order nahi hua")
                .escalation_reasons
                .contains(&EscalationReason::Complaint)
        );
    }

    #[test]
    fn hard_negatives_do_not_escalate() {
        for text in [
            "what is your cancellation policy?",
            "thanks for the quick refund!",
            "legal documents for the flat kaunse chahiye?",
        ] {
            let r = run(text);
            assert!(!r.escalate, "{text}: {:?}", r.reasons);
        }
    }

    #[test]
    fn repeat_unanswered_and_shouting() {
        let r = run_with(
            "hello?",
            History {
                waiting_inbound: 2,
                ..History::default()
            },
        );
        assert!(
            r.escalation_reasons
                .contains(&EscalationReason::RepeatUnanswered)
        );
        let r = run("WHY IS NOBODY ANSWERING MY MESSAGES");
        assert!(
            r.escalation_reasons
                .contains(&EscalationReason::NegativeSentiment)
        );
    }

    #[test]
    fn messages_without_text() {
        let r = engine().triage(&TriageInput {
            text: None,
            message_type: "order",
            sent_at: at(),
            history: History::default(),
        });
        assert_eq!(r.category, Category::FreshHighIntent);
        assert_eq!(r.intent, "purchase");
    }

    #[test]
    fn rules_errors_are_clear() {
        let e = TriageEngine::from_toml(
            "version = \"x\"\n[[escalation]]\nreason = \"nope\"\nphrases = [\"a\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
        let e = TriageEngine::from_toml("version = \"x\"\n[[intent]]\nname = \"a\"\ncategory = \"information_request\"\nphrases = [\"!!\"]\n").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { .. }), "{e}");
        let e = TriageEngine::from_toml("version = \"x\"\nbogus = 1\n").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}", waiting in 0u32..5) {
            let r = run_with(&text, History { waiting_inbound: waiting, ..History::default() });
            proptest::prop_assert_eq!(r.escalate, !r.escalation_reasons.is_empty());
        }
    }
}
