//! Triage: intent, escalation, sentiment, language and policy for every
//! inbound message, explained in words.
//!
//! Every inbound text-bearing message gets a [`TriageResult`]: the seeds'
//! category (which sets the first-response target), an intent with a
//! calibrated `confidence`, the escalation reasons that send it to a senior
//! now, a priority, its sentiment and language, the policy decision
//! (`direct_answer`, `clarify_first`, `escalate_only`) and `reasons` in
//! words an agent understands ("rule: matched 'refund chahiye' (refund)",
//! "model: complaint 0.91").
//!
//! Two layers decide:
//!
//! - a **trained classifier** ([`crate::classifier`]; the default model is
//!   embedded, [`BUILTIN_MODEL`]) gives the intent and one probability per
//!   escalation reason;
//! - **rules** from a versioned TOML file ([`RulesFile`]; the built-in
//!   default is `rules/default.toml`) stay on top for what must never be
//!   missed or must always win ("STOP", "agent se baat karao", "consumer
//!   court"). A rule's `unless` phrases ("cancellation policy") veto its
//!   reason for the model too, which is how hard negatives stay negative.
//!
//! Phrases are compiled once into a single Aho-Corasick automaton over
//! normalised text ([`crate::text::normalize`]), so the rules cost one pass
//! over the message however many phrases there are. The engine is pure:
//! rules and model come in as text and bytes, and nothing here reads a file
//! or a clock.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, MatchKind};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::classifier::{IntentModel, ModelError, Prediction};
use crate::duration::ConfigDuration;
use crate::language::LanguageDetect;
use crate::model::{Category, EscalationReason, Priority};
use crate::policy::{PolicyConfig, PolicyDecision, Probability, decide};
use crate::sentiment::{Sentiment, SentimentAnalyzer};
use crate::text::normalize;

/// The built-in rules file, compiled into the binary.
pub const BUILTIN_RULES: &str = include_str!("../rules/default.toml");

/// The default intent model, compiled into the binary (2^18 hash buckets,
/// about 7 MB; reproduce it byte for byte with the `switchboard train`
/// command in `bench/run.sh`).
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../models/default.sbm");

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
    /// The policy matrix (`[policy]`, `[policy.intents.NAME]`).
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Per-reason probability at or above which the model's escalation head
    /// fires (`[escalation_thresholds]`); reasons not listed keep the
    /// model's own (tuned on held-out data when it was trained).
    #[serde(default)]
    pub escalation_thresholds: BTreeMap<EscalationReason, Probability>,
    /// Reasons another reason already implies (`[escalation_implies]`,
    /// e.g. `legal_regulatory = ["complaint"]`: a consumer-court threat is
    /// a complaint by definition, and listing both tells the senior
    /// nothing more). The implied reasons are dropped from the list when
    /// the key fires; escalation and priority do not change.
    #[serde(default)]
    pub escalation_implies: BTreeMap<EscalationReason, Vec<EscalationReason>>,
    /// Escalation reasons that the model's intent carries by definition
    /// (`[intent_reasons]`, e.g. `complaint = "complaint"`,
    /// `human_agent = "human_requested"`): when the model predicts the
    /// intent with a calibrated probability at or above
    /// `settings.intent_reason_at`, the reason fires even if its own head
    /// stayed below its threshold. A rule's `unless` still vetoes it.
    #[serde(default)]
    pub intent_reasons: BTreeMap<String, EscalationReason>,
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
    /// A run of this many `!` signals frustration; default 3 (0: off).
    pub exclamation_run: usize,
    /// The `!` run counts as a complaint only if the sentiment score is at
    /// or below this (so "thanks!!!" does not escalate); default 0.0.
    pub exclamation_max_sentiment: f32,
    /// Sentiment score at or below which `negative_sentiment` fires;
    /// default -0.75 (-1 turns it off). The built-in rules set -0.9: with a
    /// model its `negative_sentiment` head catches the rest, and VADER
    /// scores praise slang ("killer deal") and scam-safety questions as
    /// strongly negative.
    pub negative_sentiment_at: f32,
    /// Consecutive failures to understand (see [`TriageContext`]) at which
    /// `bot_failure` fires; default 2 (0: off).
    pub bot_failure_after: u32,
    /// Use the trained model (default true; false gives rules only).
    pub use_model: bool,
    /// Intent probability at or above which `[intent_reasons]` fire;
    /// default 0.5 (above 1: off).
    pub intent_reason_at: f32,
    /// When the model predicts an intent outside `[intent_reasons]` with at
    /// least this probability, its reason heads need `calm_head_at` to
    /// fire (rules are unaffected); default 1.1 (off).
    pub calm_intent_at: f32,
    /// See `calm_intent_at`; default 1.1 (such heads never fire).
    pub calm_head_at: f32,
    /// Threshold of the model's escalation gate (probability; see
    /// [`crate::classifier`]; with an escalation combiner it applies to the
    /// combiner's probability): below it, the model's reason heads,
    /// `[intent_reasons]` and the rules' `evidence` phrases do not escalate
    /// (`phrases` still do); at or above it, a model with a combiner
    /// escalates even when no single head reached its threshold, naming the
    /// strongest head. Default: the threshold stored in the model for the
    /// message's detected language, or its one threshold for every other
    /// language ([`crate::classifier::IntentModel::gate_for`]), tuned by
    /// `switchboard train`. A value here applies to every language; 0
    /// turns the gate off (and the combiner's own escalations with it). No
    /// effect with a model without a gate.
    pub escalation_gate_at: Option<Probability>,
    /// Take the category from the model's category head (see
    /// [`crate::classifier::CategoryHead`]) when the intent comes from the
    /// model and the model has one; default true. False: the category
    /// always follows the intent (policy row, intent rule, convention).
    pub model_category: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            repeat_unanswered_after: 2,
            return_after: ConfigDuration::from_secs(24 * 3600),
            shouting_min_letters: 12,
            exclamation_run: 3,
            exclamation_max_sentiment: 0.0,
            negative_sentiment_at: -0.75,
            bot_failure_after: 2,
            use_model: true,
            intent_reason_at: 0.5,
            calm_intent_at: 1.1,
            calm_head_at: 1.1,
            escalation_gate_at: None,
            model_category: true,
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
    /// Phrases that fire the rule (whole words; a trailing `*` is a
    /// prefix). May be empty when `evidence` is not.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Phrases that cancel the rule for a message, and veto the model's
    /// head for the same reason.
    #[serde(default)]
    pub unless: Vec<String>,
    /// Phrases that are evidence, not a verdict: a hit escalates only if
    /// the model's escalation gate agrees (see
    /// `settings.escalation_gate_at`; without a gate they act like
    /// `phrases`). For words that calm messages use too ("fraud" in "does
    /// the card have fraud cover?"); what must never be missed ("consumer
    /// court") belongs in `phrases`.
    #[serde(default)]
    pub evidence: Vec<String>,
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

impl From<Category> for IntentCategory {
    /// Both high-intent categories are a buying signal; which one a
    /// message gets depends on the contact's history, not on the text.
    fn from(c: Category) -> Self {
        match c {
            Category::HighIntentReturn | Category::FreshHighIntent => Self::HighIntent,
            Category::InformationRequest => Self::InformationRequest,
            Category::PassiveEngagement => Self::PassiveEngagement,
        }
    }
}

impl IntentCategory {
    /// Reads a category as labelled data spells it: one of the seeds'
    /// [`Category`] words (`fresh_high_intent`, …) or this enum's
    /// `high_intent`; `None` for anything else.
    pub fn from_label(label: &str) -> Option<Self> {
        if label == "high_intent" {
            return Some(Self::HighIntent);
        }
        label.parse::<Category>().ok().map(Self::from)
    }
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
    /// When true the rule's intent overrides the model ("STOP" is an
    /// opt-out whatever else the message says); otherwise the rule only
    /// decides when there is no model or the model is below its threshold.
    #[serde(default)]
    pub wins: bool,
    /// Phrases that match the intent.
    pub phrases: Vec<String>,
    /// Phrases that cancel the intent for a message.
    #[serde(default)]
    pub unless: Vec<String>,
}

fn default_weight() -> u32 {
    10
}

/// Why a rules file (or the model given with it) was refused. Messages name
/// the line, the rule and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The TOML did not parse or did not match the schema (the message
    /// carries line and column).
    #[error("{0}")]
    Syntax(String),
    /// A semantic problem in one rule.
    #[error("{}{rule}: {problem}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Invalid {
        /// Which rule (`escalation[2] (refund)`, `policy.intents.foo`).
        rule: String,
        /// What is wrong.
        problem: String,
        /// 1-based line in the rules file, when known.
        line: Option<usize>,
    },
    /// The model could not be loaded.
    #[error("model: {0}")]
    Model(#[from] ModelError),
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

/// Conversation facts beyond [`History`] (kept separate so that callers
/// building a `History` literal keep compiling as facts are added).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TriageContext {
    /// Consecutive earlier customer messages that automation failed to
    /// understand (answered "sorry, I did not get that", or triaged
    /// `clarify_first` for low confidence). `bot_failure` fires at
    /// `settings.bot_failure_after`.
    pub bot_failures: u32,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageResult {
    /// The seeds' category.
    pub category: Category,
    /// The intent name (`purchase`, `pricing`, `refund`, …).
    pub intent: String,
    /// Calibrated probability of `intent` (1.0 when a winning rule or a
    /// message type decided it; 0 for results stored before v2).
    #[serde(default)]
    pub confidence: f32,
    /// Escalation reasons, in the enum's order, without duplicates.
    pub escalation_reasons: Vec<EscalationReason>,
    /// True when `escalation_reasons` is not empty.
    pub escalate: bool,
    /// Priority implied by escalation and category.
    pub priority: Priority,
    /// Sentiment label and score.
    #[serde(default)]
    pub sentiment: Sentiment,
    /// Language code: `en`, `hi`, `hinglish`, another ISO 639-1 code, or
    /// `und` (no letters, or no text).
    #[serde(default)]
    pub language: String,
    /// The policy matrix's decision.
    #[serde(default)]
    pub policy: PolicyDecision,
    /// What fired, in words: rules first, then the model.
    pub reasons: Vec<String>,
    /// The `version` of the rules file used.
    pub rules_version: String,
    /// Identifies the model used (empty: rules only).
    #[serde(default)]
    pub model_version: String,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Escalation(usize),
    EscalationEvidence(usize),
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

/// A compiled rules file plus model, cheap to share (`Arc`) across threads.
#[derive(Debug, Clone)]
pub struct TriageEngine {
    rules: RulesFile,
    automaton: AhoCorasick,
    patterns: Vec<Pattern>,
    model: Option<Arc<IntentModel>>,
    model_version: String,
    /// Model head thresholds after the rules file's overrides.
    thresholds: Vec<f32>,
    language: Arc<LanguageDetect>,
    sentiment: Arc<SentimentAnalyzer>,
}

/// The decoded built-in model, shared by every engine in the process.
fn builtin_model() -> Result<Option<Arc<IntentModel>>, ModelError> {
    static MODEL: OnceLock<Result<Option<Arc<IntentModel>>, ModelError>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            if BUILTIN_MODEL.is_empty() {
                return Ok(None);
            }
            IntentModel::from_bytes(BUILTIN_MODEL).map(|m| Some(Arc::new(m)))
        })
        .clone()
}

fn shared_language() -> Arc<LanguageDetect> {
    static L: OnceLock<Arc<LanguageDetect>> = OnceLock::new();
    L.get_or_init(|| Arc::new(LanguageDetect::builtin()))
        .clone()
}

fn shared_sentiment() -> Arc<SentimentAnalyzer> {
    static S: OnceLock<Arc<SentimentAnalyzer>> = OnceLock::new();
    S.get_or_init(|| Arc::new(SentimentAnalyzer::builtin()))
        .clone()
}

/// A short, stable identifier of a model's bytes.
pub fn model_id(bytes: &[u8]) -> String {
    format!("sbm-{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// 1-based line of the `n`-th line that starts with `needle` (after
/// leading spaces), if any.
fn nth_line_starting(text: &str, needle: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(needle))
        .nth(n)
        .map(|(i, _)| i + 1)
}

/// 1-based line of the first line containing `needle`.
fn line_containing(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

impl TriageEngine {
    /// The engine for [`BUILTIN_RULES`] and [`BUILTIN_MODEL`].
    ///
    /// # Errors
    /// Only if the built-in files are broken, which unit tests rule out.
    pub fn builtin() -> Result<Self, RulesError> {
        Self::from_toml(BUILTIN_RULES)
    }

    /// Parses and compiles a rules file's text, with the built-in model.
    ///
    /// # Errors
    /// [`RulesError::Syntax`] with line and column for TOML/schema errors
    /// (unknown keys, unknown escalation reasons, bad durations, thresholds
    /// outside 0..=1), and [`RulesError::Invalid`] with the line for empty
    /// phrase lists, phrases that normalise to nothing, duplicate intent
    /// names and policy rows naming unknown intents.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let model = builtin_model()?;
        let id = if model.is_some() {
            model_id(BUILTIN_MODEL)
        } else {
            String::new()
        };
        Self::from_toml_with_model(text, model, id)
    }

    /// Like [`TriageEngine::from_toml`] with a model file's bytes instead
    /// of the built-in model.
    ///
    /// # Errors
    /// As [`TriageEngine::from_toml`], plus [`RulesError::Model`].
    pub fn from_toml_and_model(text: &str, model: &[u8]) -> Result<Self, RulesError> {
        let m = IntentModel::from_bytes(model)?;
        Self::from_toml_with_model(text, Some(Arc::new(m)), model_id(model))
    }

    fn from_toml_with_model(
        text: &str,
        model: Option<Arc<IntentModel>>,
        model_version: String,
    ) -> Result<Self, RulesError> {
        let rules: RulesFile =
            toml::from_str(text).map_err(|e| RulesError::Syntax(e.to_string()))?;
        Self::build(rules, model, model_version).map_err(|e| match e {
            RulesError::Invalid {
                rule,
                problem,
                line: None,
            } => {
                let line = locate(text, &rule);
                RulesError::Invalid {
                    rule,
                    problem,
                    line,
                }
            }
            e => e,
        })
    }

    /// Compiles parsed rules with the built-in model; see
    /// [`TriageEngine::from_toml`] for errors.
    pub fn compile(rules: RulesFile) -> Result<Self, RulesError> {
        let model = builtin_model()?;
        let id = if model.is_some() {
            model_id(BUILTIN_MODEL)
        } else {
            String::new()
        };
        Self::build(rules, model, id)
    }

    /// The same rules with another model (`None`: rules only).
    pub fn with_model(mut self, model: Option<IntentModel>, model_version: String) -> Self {
        self.model = model.map(Arc::new);
        self.model_version = if self.model.is_some() {
            model_version
        } else {
            String::new()
        };
        self.thresholds = thresholds(&self.rules, self.model.as_deref());
        self
    }

    fn build(
        rules: RulesFile,
        model: Option<Arc<IntentModel>>,
        model_version: String,
    ) -> Result<Self, RulesError> {
        if rules.version.trim().is_empty() {
            return Err(RulesError::Invalid {
                rule: "version".into(),
                problem: "must not be empty".into(),
                line: None,
            });
        }
        let mut patterns = Vec::new();
        let mut add = |rule: String, list: &[String], target: Target, required: bool| {
            if required && list.is_empty() {
                return Err(RulesError::Invalid {
                    rule,
                    problem: "`phrases` must not be empty".into(),
                    line: None,
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
                        line: None,
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
            add(
                name.clone(),
                &r.phrases,
                Target::Escalation(i),
                r.evidence.is_empty(),
            )?;
            add(
                name.clone(),
                &r.evidence,
                Target::EscalationEvidence(i),
                false,
            )?;
            add(name, &r.unless, Target::EscalationUnless(i), false)?;
        }
        let mut seen = std::collections::HashSet::new();
        for (i, r) in rules.intent.iter().enumerate() {
            let name = format!("intent[{i}] ({})", r.name);
            if !seen.insert(r.name.as_str()) {
                return Err(RulesError::Invalid {
                    rule: name,
                    problem: "duplicate intent name".into(),
                    line: None,
                });
            }
            if !is_snake_case(&r.name) {
                return Err(RulesError::Invalid {
                    rule: name,
                    problem: "intent names are snake_case".into(),
                    line: None,
                });
            }
            add(name.clone(), &r.phrases, Target::Intent(i), true)?;
            add(name, &r.unless, Target::IntentUnless(i), false)?;
        }
        // Policy rows and the never-automate list must name intents the
        // engine can produce, or a typo silently disables a row.
        let mut known: Vec<&str> = rules.intent.iter().map(|r| r.name.as_str()).collect();
        if let Some(m) = &model {
            known.extend(m.intents().iter().map(String::as_str));
        }
        known.extend(FALLBACK_INTENTS);
        for name in rules.policy.intents.keys() {
            if !known.contains(&name.as_str()) {
                return Err(RulesError::Invalid {
                    rule: format!("policy.intents.{name}"),
                    problem: format!("no such intent; known intents: {}", sorted_join(&known)),
                    line: None,
                });
            }
        }
        for name in rules.intent_reasons.keys() {
            if !known.contains(&name.as_str()) {
                return Err(RulesError::Invalid {
                    rule: format!("intent_reasons.{name}"),
                    problem: format!("no such intent; known intents: {}", sorted_join(&known)),
                    line: None,
                });
            }
        }
        for name in &rules.policy.never_automate {
            if !known.contains(&name.as_str()) {
                return Err(RulesError::Invalid {
                    rule: format!("policy.never_automate ({name})"),
                    problem: format!("no such intent; known intents: {}", sorted_join(&known)),
                    line: None,
                });
            }
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns.iter().map(|(k, _)| k.as_str()))
            .map_err(|e| RulesError::Invalid {
                rule: "phrases".into(),
                problem: e.to_string(),
                line: None,
            })?;
        let thresholds = thresholds(&rules, model.as_deref());
        Ok(Self {
            rules,
            automaton,
            patterns: patterns.into_iter().map(|(_, p)| p).collect(),
            model_version: if model.is_some() {
                model_version
            } else {
                String::new()
            },
            model,
            thresholds,
            language: shared_language(),
            sentiment: shared_sentiment(),
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

    /// The model, if any.
    pub fn model(&self) -> Option<&IntentModel> {
        self.model.as_deref()
    }

    /// The model's identifier (empty without a model).
    pub fn model_version(&self) -> &str {
        &self.model_version
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
        self.triage_with(input, &TriageContext::default())
    }

    /// Triage one message with conversation context (bot failures).
    pub fn triage_with(&self, input: &TriageInput<'_>, context: &TriageContext) -> TriageResult {
        let settings = &self.rules.settings;
        let mut reasons = Vec::new();
        let mut model_reasons = Vec::new();
        let mut escalations: Vec<EscalationReason> = Vec::new();
        let returning = self.is_returning(&input.history, input.sent_at);

        let text = input.text.map(str::trim).filter(|t| !t.is_empty());
        let mut rule_intent: Option<(usize, usize, String)> = None; // (rule, words, phrase)
        let mut vetoed: Vec<EscalationReason> = Vec::new();
        let mut sentiment = Sentiment::default();
        let mut language = "und";
        let mut prediction = None;
        if let Some(text) = text {
            let norm = normalize(text);
            language = self.language.detect(text, &norm);
            sentiment = self.sentiment.score(text, &norm);
            let model = self.model.as_deref().filter(|_| settings.use_model);
            let p = model.map(|m| m.predict_normalized(text, &norm));
            // The gate (or the combiner over every output, when the model
            // has one) pools every reason's evidence into "escalate at
            // all"; below it, what the heads and evidence phrases say is
            // kept as a reason text but does not escalate. The model may
            // hold a threshold per language, because its probability can
            // separate one language's messages better than another's.
            let gate_at = model.and_then(|m| {
                settings
                    .escalation_gate_at
                    .map(Probability::get)
                    .or(m.gate_for(language))
            });
            let held_back = match (gate_at, p.as_ref().and_then(Prediction::escalation_score)) {
                (Some(t), Some(g)) if g < t => Some((g, t)),
                _ => None,
            };
            let n_esc = self.rules.escalation.len();
            let n_int = self.rules.intent.len();
            let mut esc_hit: Vec<Option<&str>> = vec![None; n_esc];
            let mut esc_evidence: Vec<Option<&str>> = vec![None; n_esc];
            let mut esc_cancel: Vec<Option<&str>> = vec![None; n_esc];
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
                    Target::EscalationEvidence(i) => {
                        if let Some(slot) = esc_evidence.get_mut(i) {
                            slot.get_or_insert(p.phrase.as_str());
                        }
                    }
                    Target::EscalationUnless(i) => {
                        if let Some(slot) = esc_cancel.get_mut(i) {
                            slot.get_or_insert(p.phrase.as_str());
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
            for (i, rule) in self.rules.escalation.iter().enumerate() {
                let strong = esc_hit.get(i).copied().flatten();
                let evidence = esc_evidence.get(i).copied().flatten();
                let hit = strong.or(evidence);
                let cancel = esc_cancel.get(i).copied().flatten();
                match (hit, cancel) {
                    (Some(phrase), Some(except)) => {
                        vetoed.push(rule.reason);
                        reasons.push(format!(
                            "rule: '{phrase}' looked like {} but '{except}' is an exception",
                            rule.reason
                        ));
                    }
                    (None, Some(except)) => {
                        vetoed.push(rule.reason);
                        reasons.push(format!("rule: '{except}' rules out {}", rule.reason));
                    }
                    (Some(phrase), None) => match held_back {
                        Some((g, t)) if strong.is_none() => reasons.push(format!(
                            "rule: matched '{phrase}' ({}), held back: escalation gate {g:.2} below {t:.2}",
                            rule.reason
                        )),
                        _ => {
                            escalations.push(rule.reason);
                            reasons.push(format!("rule: matched '{phrase}' ({})", rule.reason));
                        }
                    },
                    (None, None) => {}
                }
            }
            for (i, hit) in int_hit.iter().enumerate() {
                let (Some((words, phrase)), Some(rule)) = (hit, self.rules.intent.get(i)) else {
                    continue;
                };
                if int_cancel.get(i).copied().unwrap_or(false) {
                    continue;
                }
                let better = match &rule_intent {
                    None => true,
                    Some((j, w, _)) => {
                        let cur = self
                            .rules
                            .intent
                            .get(*j)
                            .map_or((false, 0), |r| (r.wins, r.weight));
                        (rule.wins, rule.weight, *words) > (cur.0, cur.1, *w)
                    }
                };
                if better {
                    rule_intent = Some((i, *words, (*phrase).to_owned()));
                }
            }
            if is_shouting(text, settings.shouting_min_letters) {
                escalations.push(EscalationReason::NegativeSentiment);
                reasons.push("written in capitals (shouting)".into());
            }
            if settings.exclamation_run > 0
                && text.contains(&"!".repeat(settings.exclamation_run))
                && sentiment.score <= settings.exclamation_max_sentiment
                && !vetoed.contains(&EscalationReason::Complaint)
            {
                escalations.push(EscalationReason::Complaint);
                reasons.push(format!(
                    "{}+ exclamation marks with {} sentiment",
                    settings.exclamation_run,
                    if sentiment.score < 0.0 {
                        "negative"
                    } else {
                        "neutral"
                    }
                ));
            }
            if sentiment.score <= settings.negative_sentiment_at
                && !vetoed.contains(&EscalationReason::NegativeSentiment)
            {
                escalations.push(EscalationReason::NegativeSentiment);
                reasons.push(format!(
                    "strongly negative sentiment ({:.2})",
                    sentiment.score
                ));
            }
            if let (Some(model), Some(p)) = (model, p) {
                let intent = model.intents().get(p.intent);
                // A confident intent that carries no reason ("product_info
                // 0.95") outweighs a reason head barely over its threshold.
                let calm = p.confidence >= settings.calm_intent_at
                    && intent.is_some_and(|i| !self.rules.intent_reasons.contains_key(i));
                let mut withheld: Vec<String> = Vec::new();
                for ((reason, prob), t) in model
                    .reasons()
                    .iter()
                    .zip(&p.reason_probs)
                    .zip(&self.thresholds)
                {
                    let t = if calm {
                        t.max(settings.calm_head_at)
                    } else {
                        *t
                    };
                    if *prob >= t && !vetoed.contains(reason) {
                        if held_back.is_some() {
                            withheld.push(format!("{reason} {prob:.2}"));
                            continue;
                        }
                        if !escalations.contains(reason) {
                            escalations.push(*reason);
                        }
                        model_reasons.push(format!("model: {reason} {prob:.2}"));
                    }
                }
                if let Some((g, t)) = held_back
                    && !withheld.is_empty()
                {
                    model_reasons.push(format!(
                        "model: escalation gate {g:.2} below {t:.2} holds back {}",
                        withheld.join(", ")
                    ));
                }
                if let Some(reason) = intent.and_then(|i| self.rules.intent_reasons.get(i))
                    && held_back.is_none()
                    && p.confidence >= settings.intent_reason_at
                    && !vetoed.contains(reason)
                    && !escalations.contains(reason)
                {
                    escalations.push(*reason);
                    model_reasons.push(format!(
                        "model: intent {} {:.2} implies {reason}",
                        intent.map_or("?", String::as_str),
                        p.confidence
                    ));
                }
                // The combiner decides "escalate at all" from every
                // output together, so when it does and no single source
                // named a reason, its strongest head names one.
                if let (Some(e), Some(t)) = (p.escalation_prob, gate_at)
                    && e >= t
                    && t > 0.0
                    && escalations.is_empty()
                    && let Some((reason, prob)) = model
                        .reasons()
                        .iter()
                        .zip(&p.reason_probs)
                        .filter(|(r, _)| !vetoed.contains(r))
                        .max_by(|a, b| a.1.total_cmp(b.1))
                {
                    escalations.push(*reason);
                    model_reasons.push(format!(
                        "model: escalation {e:.2} over the gate, strongest head {reason} {prob:.2}"
                    ));
                }
                prediction = Some(p);
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
        if settings.bot_failure_after > 0 && context.bot_failures >= settings.bot_failure_after {
            escalations.push(EscalationReason::BotFailure);
            reasons.push(format!(
                "automation failed to understand {} times in a row",
                context.bot_failures
            ));
        }

        // Intent: a winning rule, else the model when it is sure enough,
        // else a rule, else the model anyway, else the fallback.
        let model = self.model.as_deref().filter(|_| settings.use_model);
        let model_intent = prediction.as_ref().and_then(|p| {
            let name = model?.intents().get(p.intent)?;
            Some((name.clone(), p.confidence))
        });
        let rule_hit = rule_intent.as_ref().and_then(|(i, _, phrase)| {
            let r = self.rules.intent.get(*i)?;
            Some((r, phrase.as_str()))
        });
        let (intent_name, confidence, from_model) = match (rule_hit, &model_intent) {
            (Some((r, phrase)), _) if r.wins => {
                reasons.push(format!(
                    "rule: intent {} matched '{phrase}' (always wins)",
                    r.name
                ));
                (r.name.clone(), 1.0, false)
            }
            (None, Some((name, conf))) => {
                model_reasons.insert(0, format!("model: intent {name} {conf:.2}"));
                (name.clone(), *conf, true)
            }
            // "Nothing for us" is no evidence against a phrase that names
            // what the customer wants, so out_of_scope never beats a rule.
            (Some((r, phrase)), Some((name, conf)))
                if *conf >= self.rules.policy.threshold(name) && name != "out_of_scope" =>
            {
                reasons.push(format!("rule: intent {} matched '{phrase}'", r.name));
                model_reasons.insert(0, format!("model: intent {name} {conf:.2}"));
                (name.clone(), *conf, true)
            }
            (Some((r, phrase)), Some((name, conf))) => {
                reasons.push(format!(
                    "rule: intent {} matched '{phrase}' (model unsure: {name} {conf:.2})",
                    r.name
                ));
                (r.name.clone(), *conf, false)
            }
            (Some((r, phrase)), None) => {
                reasons.push(format!("rule: intent {} matched '{phrase}'", r.name));
                (r.name.clone(), 1.0, false)
            }
            (None, None) => {
                let (name, _) = fallback_intent(text, input.message_type, &mut reasons);
                (name, if text.is_some() { 0.0 } else { 1.0 }, false)
            }
        };
        // The category head reads every intent probability at once, so a
        // buying signal that asks for a call keeps its high intent; it
        // speaks only for an intent the model chose.
        let head_category = model
            .filter(|_| from_model && settings.model_category)
            .zip(prediction.as_ref())
            .and_then(|(m, p)| m.category(p))
            .and_then(|(label, prob)| Some((IntentCategory::from_label(label)?, label, prob)));
        let mut intent_category = self.category_of(&intent_name);

        // A message that already escalates for its own reason goes to a
        // person anyway; `regulated_intent` marks the ones that only the
        // never-automate list sends there.
        if self.rules.policy.never_automated(&intent_name) && escalations.is_empty() {
            escalations.push(EscalationReason::RegulatedIntent);
            reasons.push(format!("{intent_name} is on the never-automate list"));
        }
        escalations.sort();
        escalations.dedup();
        let implied: Vec<EscalationReason> = escalations
            .iter()
            .filter_map(|r| self.rules.escalation_implies.get(r))
            .flatten()
            .copied()
            .collect();
        // Never drop every reason (a cycle in the table would otherwise
        // turn an escalation into none).
        if escalations.iter().any(|r| !implied.contains(r)) {
            escalations.retain(|r| !implied.contains(r));
        }
        reasons.append(&mut model_reasons);

        // An escalation names the intent when the text said nothing more
        // specific ("ok but I want my money back").
        let intent_name = match escalations.first() {
            Some(first)
                if matches!(intent_name.as_str(), "out_of_scope")
                    || intent_category == IntentCategory::PassiveEngagement
                        && intent_name != "opt_out" =>
            {
                escalation_intent(*first, &escalations).to_owned()
            }
            _ => intent_name,
        };
        if let Some((c, label, prob)) = head_category {
            if c != intent_category {
                reasons.push(format!("model: category {label} {prob:.2}"));
            }
            intent_category = c;
        }
        // A rude opt-out ("stop these bakwas offers") still asks for no
        // answer, only for the messages to stop: it stays passive
        // (`data/triage/README.md`).
        let rude_opt_out = intent_name == "opt_out"
            && escalations
                .iter()
                .all(|r| *r == EscalationReason::NegativeSentiment);
        if escalations.contains(&EscalationReason::PriceNegotiation) {
            intent_category = IntentCategory::HighIntent;
        } else if !escalations.is_empty()
            && intent_category == IntentCategory::PassiveEngagement
            && !rude_opt_out
        {
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
        let policy = decide(&self.rules.policy, &intent_name, confidence, &escalations);
        TriageResult {
            category,
            intent: intent_name,
            confidence,
            escalate: !escalations.is_empty(),
            escalation_reasons: escalations,
            priority,
            sentiment,
            language: language.to_owned(),
            policy,
            reasons,
            rules_version: self.rules.version.clone(),
            model_version: self.model_version.clone(),
        }
    }

    /// The category an intent implies: its policy row, else its intent
    /// rule, else the built-in convention.
    pub fn category_of(&self, intent: &str) -> IntentCategory {
        if let Some(c) = self
            .rules
            .policy
            .intents
            .get(intent)
            .and_then(|p| p.category)
        {
            return c;
        }
        if let Some(r) = self.rules.intent.iter().find(|r| r.name == intent) {
            return r.category;
        }
        match intent {
            "purchase" | "booking" | "price_negotiation" => IntentCategory::HighIntent,
            "greeting" | "acknowledgement" | "feedback" | "opt_out" => {
                IntentCategory::PassiveEngagement
            }
            _ => IntentCategory::InformationRequest,
        }
    }
}

/// Intents the engine can produce without a model or rule naming them.
const FALLBACK_INTENTS: [&str; 10] = [
    "purchase",
    "product_info",
    "acknowledgement",
    "out_of_scope",
    "complaint",
    "refund",
    "cancellation",
    "human_agent",
    "legal_regulatory",
    "security_fraud",
];

fn sorted_join(v: &[&str]) -> String {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v.join(", ")
}

fn is_snake_case(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// The model's thresholds with the rules file's overrides applied.
fn thresholds(rules: &RulesFile, model: Option<&IntentModel>) -> Vec<f32> {
    let Some(model) = model else {
        return Vec::new();
    };
    model
        .reasons()
        .iter()
        .zip(model.thresholds())
        .map(|(r, t)| rules.escalation_thresholds.get(r).map_or(*t, |p| p.get()))
        .collect()
}

/// Finds the line a semantic error's rule name points at.
fn locate(text: &str, rule: &str) -> Option<usize> {
    let index = |prefix: &str| -> Option<usize> {
        let rest = rule.strip_prefix(prefix)?;
        rest.split(']').next()?.parse().ok()
    };
    if let Some(i) = index("escalation[") {
        return nth_line_starting(text, "[[escalation]]", i);
    }
    if let Some(i) = index("intent[") {
        return nth_line_starting(text, "[[intent]]", i);
    }
    if let Some(name) = rule.strip_prefix("policy.intents.") {
        return line_containing(text, &format!("[policy.intents.{name}]"))
            .or_else(|| nth_line_starting(text, &format!("{name} ="), 0))
            .or_else(|| nth_line_starting(text, &format!("{name}="), 0));
    }
    if let Some(rest) = rule.strip_prefix("policy.never_automate (") {
        let name = rest.trim_end_matches(')');
        return line_containing(text, "never_automate").and_then(|l| {
            text.lines()
                .enumerate()
                .skip(l - 1)
                .find(|(_, s)| s.contains(&format!("\"{name}\"")))
                .map(|(i, _)| i + 1)
        });
    }
    if let Some(name) = rule.strip_prefix("intent_reasons.") {
        return nth_line_starting(text, &format!("{name} ="), 0)
            .or_else(|| nth_line_starting(text, &format!("{name}="), 0));
    }
    if rule == "version" {
        return nth_line_starting(text, "version", 0);
    }
    None
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
                    | EscalationReason::BotFailure
                    | EscalationReason::RegulatedIntent
            )
        })
        .copied()
        .unwrap_or(first);
    match specific {
        EscalationReason::Complaint | EscalationReason::NegativeSentiment => "complaint",
        EscalationReason::Refund => "refund",
        EscalationReason::Cancellation => "cancellation",
        EscalationReason::HumanRequested | EscalationReason::BotFailure => "human_agent",
        EscalationReason::LegalRegulatory => "legal_regulatory",
        EscalationReason::SecurityFraud => "security_fraud",
        EscalationReason::PriceNegotiation => "price_negotiation",
        EscalationReason::RepeatUnanswered | EscalationReason::RegulatedIntent => "out_of_scope",
    }
}

fn is_shouting(text: &str, min_letters: usize) -> bool {
    let letters: Vec<char> = text
        .chars()
        // Case first: Devanagari has none, and its `is_alphabetic` is a
        // table search.
        .filter(|c| (c.is_uppercase() || c.is_lowercase()) && c.is_alphabetic())
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
        run_on(&engine(), text, history)
    }

    fn run_on(e: &TriageEngine, text: &str, history: History) -> TriageResult {
        e.triage(&TriageInput {
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

        // A rude opt-out escalates for its tone but asks for no answer.
        let r = run("stop sending me your stupid ads every day, idiots");
        assert_eq!(r.intent, "opt_out");
        assert_eq!(
            r.escalation_reasons,
            vec![EscalationReason::NegativeSentiment]
        );
        assert_eq!(r.category, Category::PassiveEngagement);

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
        // Rules v4: requests that are never calm escalate whatever the gate.
        for (text, reason) in [
            ("call me plz", EscalationReason::HumanRequested),
            ("मेरा नेट बैंकिंग हैक हो गया है", EscalationReason::SecurityFraud),
            (
                "please cancel my order 4411",
                EscalationReason::Cancellation,
            ),
            ("कल का अपॉइंटमेंट रद्द कर दीजिए", EscalationReason::Cancellation),
        ] {
            let r = run(text);
            assert!(
                r.escalation_reasons.contains(&reason),
                "{text}: {:?}",
                r.reasons
            );
        }
    }

    #[test]
    fn hard_negatives_do_not_escalate() {
        for text in [
            "what is your cancellation policy?",
            "thanks for the quick refund!",
            "legal documents for the flat kaunse chahiye?",
            // Calm uses of the rules' evidence words.
            "Does the credit card come with fraud protection cover?",
            "Do you have a panel lawyer for property registration?",
            // An assistant command, not an order (plural "timers" too).
            "saare timers ko cancel kardo",
            "people call me Brad",
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

    #[test]
    fn results_carry_confidence_sentiment_language_and_policy() {
        let r = run("price kya hai?");
        assert_eq!(r.intent, "pricing");
        assert_eq!(r.language, "hinglish");
        assert!(r.confidence > 0.0 && r.confidence <= 1.0);
        assert!(!r.model_version.is_empty());
        assert_eq!(r.rules_version, "builtin-2026.11-v5");
        let json = serde_json::to_value(&r).unwrap();
        for key in [
            "category",
            "intent",
            "confidence",
            "escalate",
            "escalation_reasons",
            "priority",
            "sentiment",
            "language",
            "policy",
            "reasons",
            "rules_version",
        ] {
            assert!(json.get(key).is_some(), "{key} missing: {json}");
        }
        // Results stored before these fields existed still load.
        let old = r#"{"category":"passive_engagement","intent":"acknowledgement","escalation_reasons":[],"escalate":false,"priority":"low","reasons":[],"rules_version":"v1"}"#;
        let back: TriageResult = serde_json::from_str(old).unwrap();
        assert_eq!(back.confidence, 0.0);

        let r = run("I want to talk to a person");
        assert_eq!(r.policy.action, crate::policy::PolicyAction::EscalateOnly);
        let r = run("ok thanks");
        assert_eq!(r.policy.action, crate::policy::PolicyAction::DirectAnswer);
        assert_eq!(
            r.sentiment.label,
            crate::sentiment::SentimentLabel::Positive
        );
    }

    #[test]
    fn devanagari_messages() {
        let r = run("मेरा पैसा कट गया लेकिन ऑर्डर नहीं हुआ, रिफंड चाहिए");
        assert_eq!(r.language, "hi");
        assert!(r.escalate, "{:?}", r.reasons);
        let r = run("मुझे किसी इंसान से बात करनी है");
        assert!(
            r.escalation_reasons
                .contains(&EscalationReason::HumanRequested),
            "{:?}",
            r.reasons
        );
        let r = run("धन्यवाद जी");
        assert!(!r.escalate, "{:?}", r.reasons);
        assert_eq!(r.category, Category::PassiveEngagement);
    }

    #[test]
    fn hard_positives_without_keywords() {
        for text in [
            "third time I'm asking, nobody replies",
            "paisa kat gaya par order nahi hua",
        ] {
            let r = run(text);
            assert!(r.escalate, "{text}: {:?}", r.reasons);
        }
        let r = run("refund chahiye, consumer court jaunga");
        assert_eq!(
            r.escalation_reasons,
            vec![EscalationReason::Refund, EscalationReason::LegalRegulatory]
        );
        assert!(["refund", "legal_regulatory"].contains(&r.intent.as_str()));
    }

    #[test]
    fn stop_always_wins_and_policy_exclusions_escalate() {
        let r = run("STOP");
        assert_eq!(r.intent, "opt_out");
        assert!(r.reasons[0].contains("always wins"), "{:?}", r.reasons);
        let r = run("someone used my card, I did not make this transaction");
        assert!(
            r.escalation_reasons
                .contains(&EscalationReason::SecurityFraud)
        );
        assert_eq!(r.policy.action, crate::policy::PolicyAction::EscalateOnly);
    }

    #[test]
    fn bot_failure_needs_two_failures() {
        let input = TriageInput {
            text: Some("hello??"),
            message_type: "text",
            sent_at: at(),
            history: History::default(),
        };
        let e = engine();
        let once = e.triage_with(&input, &TriageContext { bot_failures: 1 });
        assert!(
            !once
                .escalation_reasons
                .contains(&EscalationReason::BotFailure)
        );
        let twice = e.triage_with(&input, &TriageContext { bot_failures: 2 });
        assert!(
            twice
                .escalation_reasons
                .contains(&EscalationReason::BotFailure)
        );
        assert_eq!(
            twice.policy.action,
            crate::policy::PolicyAction::EscalateOnly
        );
    }

    #[test]
    fn rules_only_engine_still_works() {
        let rules = BUILTIN_RULES.replace("use_model = true", "use_model = false");
        let e = TriageEngine::from_toml(&rules).unwrap();
        let r = run_on(&e, "refund chahiye jaldi", History::default());
        assert_eq!(r.escalation_reasons, vec![EscalationReason::Refund]);
        assert!(r.reasons.iter().all(|x| !x.starts_with("model:")));
    }

    /// The built-in model's category head keeps a buying signal that
    /// asks for a call high intent, where its intent (`human_agent`) alone
    /// says information request, and says so in `reasons`; with
    /// `model_category = false` the category follows the intent again.
    #[test]
    fn category_head_keeps_a_buying_signal_that_asks_for_a_call() {
        let text =
            "interested in the 3BHK corner flat, can your sales person call me tomorrow evening?";
        let r = run_with(text, History::default());
        assert_eq!(r.intent, "human_agent", "{r:?}");
        assert_eq!(r.escalation_reasons, [EscalationReason::HumanRequested]);
        assert_eq!(r.category, Category::FreshHighIntent, "{r:?}");
        assert!(
            r.reasons
                .iter()
                .any(|x| x.starts_with("model: category fresh_high_intent")),
            "{r:?}"
        );
        let rules = BUILTIN_RULES.replace("model_category = true", "model_category = false");
        let off = run_on(
            &TriageEngine::from_toml(&rules).unwrap(),
            text,
            History::default(),
        );
        assert_eq!(off.category, Category::InformationRequest, "{off:?}");
        // A calm question keeps the intent's category, said nowhere.
        let q = run_with("what are the clinic timings on sunday?", History::default());
        assert_eq!(q.category, Category::InformationRequest, "{q:?}");
        assert!(!q.reasons.iter().any(|x| x.contains("category")), "{q:?}");
    }

    /// Every seeds' category word and the rules' `high_intent` read as a
    /// category; anything else is no category.
    #[test]
    fn category_labels_read_as_seeds_words() {
        use IntentCategory::*;
        for (label, c) in [
            ("fresh_high_intent", HighIntent),
            ("high_intent_return", HighIntent),
            ("high_intent", HighIntent),
            ("information_request", InformationRequest),
            ("passive_engagement", PassiveEngagement),
        ] {
            assert_eq!(IntentCategory::from_label(label), Some(c), "{label}");
        }
        assert_eq!(IntentCategory::from_label("hot_lead"), None);
    }

    /// The built-in engine with `settings.escalation_gate_at = t`.
    fn engine_with_gate_at(t: &str) -> TriageEngine {
        let rules = BUILTIN_RULES.replace(
            "use_model = true",
            &format!("use_model = true\nescalation_gate_at = {t}"),
        );
        TriageEngine::from_toml(&rules).unwrap()
    }

    /// Evidence phrases escalate only when the model's escalation gate
    /// agrees; `phrases` always do; a gate threshold of 0 turns it off.
    #[test]
    fn the_escalation_gate_holds_back_evidence_but_not_phrases() {
        let triage = |e: &TriageEngine, text: &str| run_on(e, text, History::default());
        assert!(engine().model.as_ref().unwrap().gate().is_some());
        let closed = engine_with_gate_at("1.0");
        let open = engine_with_gate_at("0.0");
        // "scam" is evidence for security_fraud.
        let text = "got a scam call today";
        let held = triage(&closed, text);
        assert!(
            !held
                .escalation_reasons
                .contains(&EscalationReason::SecurityFraud),
            "{held:?}"
        );
        assert!(
            held.reasons
                .iter()
                .any(|r| r.contains("matched 'scam'") && r.contains("held back")),
            "{held:?}"
        );
        let passed = triage(&open, text);
        assert!(
            passed
                .escalation_reasons
                .contains(&EscalationReason::SecurityFraud)
        );
        // "consumer court" is a phrase: never held back.
        let r = triage(&closed, "I will go to consumer court");
        assert!(
            r.escalation_reasons
                .contains(&EscalationReason::LegalRegulatory)
        );
    }

    /// A model's gate threshold for one language applies to messages
    /// detected in it only, and `settings.escalation_gate_at` still
    /// applies to every language.
    #[test]
    fn a_language_gate_applies_to_its_language_only() {
        let triage = |e: &TriageEngine, text: &str| run_on(e, text, History::default());
        let mut model = (*engine().model.clone().unwrap()).clone();
        model.set_language_gates(&[("hinglish".into(), 1.0)]);
        let hinglish_closed = engine().with_model(Some(model), "test".into());
        // "scam" is evidence for security_fraud, "dhoka" its Hinglish
        // counterpart: both need the gate.
        let english = "someone did a scam on my account, money gone";
        let hinglish = "mere account se paise gaye, dhoka hua hai bhai";
        assert_eq!(triage(&engine(), english).language, "en");
        assert_eq!(triage(&engine(), hinglish).language, "hinglish");
        assert!(triage(&engine(), hinglish).escalate);
        let r = triage(&hinglish_closed, hinglish);
        assert!(r.reasons.iter().any(|x| x.contains("below 1.00")), "{r:?}");
        // English keeps the model's own threshold: the same decision for
        // the same reasons.
        let (closed, own) = (
            triage(&hinglish_closed, english),
            triage(&engine(), english),
        );
        assert_eq!(closed.escalate, own.escalate);
        assert_eq!(closed.escalation_reasons, own.escalation_reasons);
        assert_eq!(closed.reasons, own.reasons);
        let open = engine_with_gate_at("0.0")
            .with_model(hinglish_closed.model.as_deref().cloned(), "test".into());
        assert!(
            triage(&open, hinglish)
                .reasons
                .iter()
                .all(|x| !x.contains("held back")),
            "the rules file's threshold wins"
        );
    }

    /// Rules v5: words calm messages use are evidence the gate must confirm,
    /// the requests themselves stay phrases, and the sentiment tone check
    /// leaves praise slang alone. The gate is closed so only rules can
    /// escalate.
    #[test]
    fn builtin_rules_leave_calm_uses_of_request_words_to_the_gate() {
        let closed = engine_with_gate_at("1.0");
        let triage = |text: &str| run_on(&closed, text, History::default());
        for calm in [
            "agent se baat ho gayi, sab clear hai",
            "chargeback vs refund, which is faster if a return is approved?",
            "my cousin got cheated by a fake broker, how do I check you are real?",
            "I don't want to cancel anything, just asking about the rider",
            "killer deal on the air fryer 🔥",
        ] {
            let r = triage(calm);
            assert!(!r.escalate, "{calm}: {r:?}");
        }
        let r = triage("agent se baat karao abhi");
        assert!(
            r.escalation_reasons
                .contains(&EscalationReason::HumanRequested),
            "{r:?}"
        );
    }

    /// The built-in model's combiner decides "escalate at all" from every
    /// output: over the gate it escalates even when no head reached its
    /// threshold, naming the strongest head; a threshold of 0 turns that
    /// off with the gate.
    #[test]
    fn the_combiner_escalates_over_the_gate_naming_its_strongest_head() {
        let model = engine().model.clone().unwrap();
        assert!(model.combiner().is_some());
        let text = "what are your timings?";
        let p = model.predict(text);
        let e = p.escalation_prob.unwrap();
        assert!(e < 0.05 && p.reason_probs.iter().all(|&h| h < 0.2), "{p:?}");
        let calm = run_on(&engine(), text, History::default());
        assert!(!calm.escalate, "{calm:?}");
        // A gate just under this message's combined probability.
        let low = engine_with_gate_at(&format!("{}", e * 0.9));
        let r = run_on(&low, text, History::default());
        assert!(r.escalate, "{r:?}");
        assert_eq!(r.escalation_reasons.len(), 1, "{r:?}");
        assert!(
            r.reasons.iter().any(|x| x.contains("strongest head")),
            "{r:?}"
        );
        let off = run_on(&engine_with_gate_at("0.0"), text, History::default());
        assert!(!off.escalate, "{off:?}");
    }

    #[test]
    fn malformed_rules_files_name_line_and_problem() {
        let e = TriageEngine::from_toml("version = \"x\"\n\n[policy]\ndefault_threshold = 2.0\n")
            .unwrap_err();
        assert!(e.to_string().contains("line 4"), "{e}");
        assert!(e.to_string().contains("not a probability"), "{e}");
        let e = TriageEngine::from_toml(
            "version = \"x\"\n[policy.intents]\npricing = { action = \"direct_answer\" }\nprcing = { action = \"direct_answer\" }\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 4"), "{e}");
        assert!(e.to_string().contains("prcing"), "{e}");
        let e = TriageEngine::from_toml(
            "version = \"x\"\n[policy]\nnever_automate = [\"refund\", \"lone\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("lone"), "{e}");
        let e = TriageEngine::from_toml("version = \"x\"\n[policy]\ndefault_action = \"maybe\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = TriageEngine::from_toml(
            "version = \"x\"\n[[escalation]]\nreason = \"refund\"\nphrases = [\"ok\"]\n\n[[escalation]]\nreason = \"refund\"\nphrases = []\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("line 6: escalation[1]"), "{e}");
        let e = TriageEngine::from_toml("version = \"x\"\n\n[intent_reasons]\nnope = \"refund\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 4") && e.contains("intent_reasons.nope"),
            "{e}"
        );
        let e = TriageEngine::from_toml_and_model(BUILTIN_RULES, b"not a model").unwrap_err();
        assert!(matches!(e, RulesError::Model(_)), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}", waiting in 0u32..5) {
            let r = run_with(&text, History { waiting_inbound: waiting, ..History::default() });
            proptest::prop_assert_eq!(r.escalate, !r.escalation_reasons.is_empty());
        }
    }
}
