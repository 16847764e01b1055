//! The trainable intent and escalation classifier.
//!
//! One linear model over hashed word and character n-grams
//! ([`crate::features`]) with two kinds of output sharing the features:
//!
//! - an **intent head**: multinomial logistic regression (softmax) over the
//!   model's intent names, calibrated by a temperature fitted on held-out
//!   data, so `confidence` is a probability that means something;
//! - **escalation heads**: one logistic (sigmoid) output per escalation
//!   reason, because a message can carry several ("refund chahiye, consumer
//!   court jaunga" is `refund` and `legal_regulatory`), each with its own
//!   decision threshold;
//! - optionally an **escalation gate**: one more sigmoid output, "should
//!   this escalate at all", trained only on the examples marked for it
//!   (`switchboard train --gate-source`; the default model marks every
//!   source). It pools the evidence of every reason, so it can veto a
//!   reason head or a keyword rule that fires on a calm question sharing
//!   its words (measured in `EVAL.md`);
//! - optionally an **escalation combiner** ([`Combiner`]): a small logistic
//!   regression over the outputs above (every intent probability, every
//!   head, the gate), fitted on held-out predictions. Its probability is
//!   the one the gate threshold applies to (one threshold, or one per
//!   language: [`IntentModel::gate_for`]). The linear model cannot say
//!   "a complaint head at 0.4 means little when the intent head is sure
//!   this is praise"; a model of its outputs can.
//! - optionally a **category head** ([`CategoryHead`]): one such logistic
//!   regression per seeds' category (`fresh_high_intent`, …), fitted the
//!   same way on messages labelled with a category. A buying signal that
//!   asks for a call ("interested in the 3BHK, can your sales person call
//!   me?") has intent `human_agent`, which alone reads as an information
//!   request; the intent probabilities together say more.
//!
//! - optionally an **exemplar index** ([`ExemplarIndex`]): the labelled
//!   messages the model learnt from, whose nearest neighbours' vote
//!   ([`crate::exemplar`]) joins the combiner's and the category head's
//!   inputs. The linear model scores each n-gram alone; whole messages that
//!   read alike say what the combination means.
//!
//! Training is AdaGrad over the examples in an order fixed by a seed, on
//! one thread, so the same data and settings give the same model bytes.
//! Weights are stored as `i8` with one scale per output (a quarter of the
//! size of `f32`; the accuracy cost is measured in `EVAL.md`) and laid out
//! bucket-major, so a prediction reads one contiguous row per feature.
//!
//! A model file is the [postcard](https://docs.rs/postcard) encoding of
//! [`IntentModel`]; [`IntentModel::from_bytes`] checks its format tag.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::exemplar::{ExemplarIndex, ExemplarVote};
use crate::features::{BLOCKS, Feature, Featurizer, Keys, Sink};
use crate::model::EscalationReason;
use crate::text::{normalize, normalize_into};

/// Format tag at the start of every model file.
pub const MODEL_FORMAT: &str = "switchboard-intent-model/6";

/// The fifth format (one gate threshold for every language); still loaded.
const MODEL_FORMAT_V5: &str = "switchboard-intent-model/5";

/// The fourth format (no exemplar index); still loaded.
const MODEL_FORMAT_V4: &str = "switchboard-intent-model/4";

/// The third format (no category head); still loaded.
const MODEL_FORMAT_V3: &str = "switchboard-intent-model/3";

/// The second format (no escalation combiner); still loaded.
const MODEL_FORMAT_V2: &str = "switchboard-intent-model/2";

/// The first format (no escalation gate); still loaded.
const MODEL_FORMAT_V1: &str = "switchboard-intent-model/1";

/// Why a model could not be loaded or trained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not a model file (or a different format version).
    #[error("not a Switchboard intent model ({0})")]
    Format(String),
    /// The file decodes but its parts disagree (sizes, names).
    #[error("inconsistent model: {0}")]
    Inconsistent(String),
    /// Training was asked for something impossible.
    #[error("cannot train: {0}")]
    Training(String),
}

/// One labelled training message.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The message text as the customer wrote it.
    pub text: String,
    /// Its intent name.
    pub intent: String,
    /// Its escalation reasons (empty for non-escalations).
    pub reasons: Vec<EscalationReason>,
    /// Sample weight (1.0 normally; higher for in-domain data).
    pub weight: f32,
    /// Whether the escalation gate learns from this example (see
    /// [`TrainConfig::gate`]).
    pub gate: bool,
    /// Its seeds' category (`fresh_high_intent`, `information_request`,
    /// `passive_engagement`), when labelled: what a [`CategoryHead`] learns.
    pub category: Option<String>,
}

/// Training settings. The defaults are the ones the default model uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    /// Hash bits: `2^bits` feature buckets.
    pub bits: u8,
    /// Passes over the data.
    pub epochs: u32,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// L2 penalty applied to the weights a step touches.
    pub l2: f32,
    /// Seed for the example order.
    pub seed: u64,
    /// Train escalation heads for these reasons (none: intent only).
    pub reasons: Vec<EscalationReason>,
    /// Train an escalation gate (needs `reasons`): a sigmoid output for
    /// "any of `reasons`", learnt from the examples whose
    /// [`Example::gate`] is set.
    pub gate: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            bits: 18,
            epochs: 12,
            learning_rate: 0.2,
            l2: 1e-6,
            seed: 0x5eed,
            reasons: Vec::new(),
            gate: false,
        }
    }
}

/// A trained model: intent head plus escalation heads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntentModel {
    format: String,
    /// Free-form description: data, mapping version, settings.
    pub card: String,
    bits: u8,
    intents: Vec<String>,
    reasons: Vec<EscalationReason>,
    /// `2^bits` rows of `intents.len() + reasons.len() + gate` quantised
    /// weights (the gate, when present, is the last output).
    #[serde(deserialize_with = "crate::wire::bytes")]
    weights: Vec<i8>,
    /// Per output: weight = `q * scale`.
    scales: Vec<f32>,
    /// Per output bias.
    bias: Vec<f32>,
    /// Softmax temperature fitted on held-out data (1.0 if none).
    temperature: f32,
    /// Per escalation head: probability at or above which it fires.
    thresholds: Vec<f32>,
    /// The escalation gate's threshold, if the model has a gate: below it,
    /// the model's own reasons do not escalate. With a combiner it applies
    /// to the combiner's probability, else to the gate output's.
    gate: Option<f32>,
    /// The escalation combiner, if fitted (needs a gate).
    combiner: Option<Combiner>,
    /// The category head, if fitted.
    categories: Option<CategoryHead>,
    /// The exemplar index, if built: its vote is an input of the combiner
    /// and the category head.
    exemplars: Option<ExemplarIndex>,
    /// Gate thresholds for single languages, `(language code, probability)`
    /// sorted by code without repeats; a language not listed uses `gate`.
    /// Empty without a gate.
    language_gates: Vec<(String, f32)>,
    /// The non-zero rows of `weights`, packed, built when the model is
    /// loaded or trained (not stored in the file).
    #[serde(skip)]
    live: LiveRows,
}

/// What the model says about one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the most probable intent in [`IntentModel::intents`].
    pub intent: usize,
    /// Its calibrated probability.
    pub confidence: f32,
    /// Calibrated probabilities of every intent, in model order.
    pub intent_probs: Vec<f32>,
    /// Probability of each escalation head, in [`IntentModel::reasons`] order.
    pub reason_probs: Vec<f32>,
    /// The escalation gate's probability, if the model has a gate.
    pub gate_prob: Option<f32>,
    /// The escalation combiner's probability that the message should
    /// escalate at all, if the model has a combiner.
    pub escalation_prob: Option<f32>,
    /// Each category's probability from the category head, in
    /// [`CategoryHead::names`] order (one-vs-rest, so they need not sum to
    /// 1); empty for a model without one.
    pub category_probs: Vec<f32>,
    /// What the nearest exemplars say, if the model has an exemplar index.
    pub exemplar: Option<ExemplarVote>,
}

impl Prediction {
    /// The probability the model's gate threshold ([`IntentModel::gate`])
    /// applies to: the combiner's if the model has one, else the gate
    /// output's; `None` for a model without a gate.
    pub fn escalation_score(&self) -> Option<f32> {
        self.escalation_prob.or(self.gate_prob)
    }
}

/// The escalation combiner: logistic regression over a model's own
/// outputs, giving the probability that a message should escalate at all.
///
/// Inputs, in order: the log-odds of every intent probability, of every
/// escalation head, of the gate, and of the largest head (probabilities
/// clamped to `1e-6..=1 - 1e-6` first), then the same probabilities
/// themselves (the log-odds alone weigh 0.001 → 0.01 like 0.5 → 0.9), then,
/// for a model with an exemplar index, [`ExemplarVote::inputs`]. It is
/// fitted by [`IntentModel::fit_combiner`] on predictions for messages the
/// model was not trained on (held-out ones, and cross-fitted ones with
/// [`IntentModel::fit_combiner_with`]), so it learns how far to trust each
/// output on messages it has not seen. Why: in
/// cross-validation on the in-domain set (`bench/cv.py`, `EVAL.md`), the
/// "any head over its threshold while the gate agrees" rule raised false
/// escalations on praise and calm questions where the intent head was sure
/// of a calm intent; a combiner over all outputs cut them at equal recall.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Combiner {
    /// One weight per input, in the order above.
    weights: Vec<f32>,
    /// The intercept.
    bias: f32,
}

impl Combiner {
    /// The combiner's inputs for a prediction (see [`Combiner`]), as a
    /// vector. Filled slice by slice rather than collected from one chain
    /// of iterators: every prediction of a model with a combiner builds it,
    /// and the chain's per-item branching showed in triage profiles.
    fn inputs(p: &Prediction) -> Vec<f32> {
        let top = p.reason_probs.iter().copied().fold(0.0f32, f32::max);
        let vote = p.exemplar.as_ref();
        let mut out = Vec::with_capacity(
            2 * (p.intent_probs.len() + p.reason_probs.len() + 2)
                + vote.map_or(0, |v| ExemplarVote::input_count(v.categories.len())),
        );
        out.extend(p.intent_probs.iter().map(|&x| log_odds(x)));
        out.extend(p.reason_probs.iter().map(|&x| log_odds(x)));
        out.extend(p.gate_prob.map(log_odds));
        out.push(log_odds(top));
        out.extend_from_slice(&p.intent_probs);
        out.extend_from_slice(&p.reason_probs);
        out.extend(p.gate_prob);
        out.push(top);
        if let Some(v) = vote {
            out.extend(v.inputs());
        }
        out
    }

    /// The probability for inputs laid out as [`Combiner::inputs`] gives
    /// them. Fitting scores its out-of-fold rows through this too, so the
    /// threshold is chosen on exactly what a prediction computes.
    fn score(&self, inputs: impl Iterator<Item = f32>) -> f32 {
        let z = inputs
            .zip(&self.weights)
            .fold(self.bias, |z, (x, w)| z + x * w);
        sigmoid(z)
    }
}

/// The category head: one [`Combiner`] per seeds' category, each a
/// one-vs-rest logistic regression over the model's outputs (the
/// escalation combiner's inputs), fitted by [`IntentModel::fit_categories`]
/// on predictions for messages the model did not train on. The category
/// is the one with the highest probability.
///
/// Why: the engine used to take the category from the intent alone
/// (`purchase` is high intent, `human_agent` an information request), so a
/// buying signal that asks for a call, or a purchase worded as a paperwork
/// question ("credit card chahiye, kaunsa form bharna hoga?"), lost its
/// high intent. In cross-validation on the in-domain set (`bench/cv.py`,
/// `EVAL.md`) a head over every intent probability recovered most of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CategoryHead {
    /// Category names as the training data spells them, sorted.
    names: Vec<String>,
    /// One combiner per name, in the same order.
    combiners: Vec<Combiner>,
}

impl CategoryHead {
    /// The category names, in [`Prediction::category_probs`] order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// What [`IntentModel::fit_categories`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryFit {
    /// The head fitted on every labelled example.
    pub head: CategoryHead,
    /// For each labelled held-out example, in order: its index in the
    /// held-out slice and the index (in [`CategoryHead::names`]) of the
    /// category a head fitted without its fold picks (the full head's when
    /// `folds < 2` or a fold lacked a category).
    pub out_of_fold: Vec<(usize, usize)>,
}

/// What [`IntentModel::fit_combiner`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CombinerFit {
    /// The combiner fitted on every example marked for the gate.
    pub combiner: Combiner,
    /// For each of those examples, in order: its index in the held-out
    /// slice and its probability from a combiner fitted without its fold
    /// (from `combiner` itself when `folds < 2` or a fold lacked one kind
    /// of example).
    pub out_of_fold: Vec<(usize, f32)>,
}

/// `ln(p / (1 - p))` with `p` clamped to `1e-6..=1 - 1e-6`.
fn log_odds(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// The fields every model format starts with, in order: the whole of the
/// first format. Each later format appended fields after them (format 2 the
/// gate, 3 the combiner, 4 the category head, 5 the exemplar index, 6 the
/// per-language gate thresholds), and postcard writes fields in
/// order with nothing between them, so an older file is this prefix followed
/// by the fields its format had.
#[derive(Deserialize)]
struct ModelPrefix {
    _format: String,
    card: String,
    bits: u8,
    intents: Vec<String>,
    reasons: Vec<EscalationReason>,
    #[serde(deserialize_with = "crate::wire::bytes")]
    weights: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<f32>,
    temperature: f32,
    thresholds: Vec<f32>,
}

impl IntentModel {
    /// Decodes a model file.
    ///
    /// # Errors
    /// [`ModelError::Format`] for bytes that are not a model of this
    /// format, [`ModelError::Inconsistent`] for a damaged one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let format_error = |e: postcard::Error| ModelError::Format(e.to_string());
        // The tag is the first field, so it decodes on its own.
        let (format, _) = postcard::take_from_bytes::<String>(bytes).map_err(format_error)?;
        let model: IntentModel = match format.as_str() {
            MODEL_FORMAT => postcard::from_bytes(bytes).map_err(format_error)?,
            MODEL_FORMAT_V5 | MODEL_FORMAT_V4 | MODEL_FORMAT_V3 | MODEL_FORMAT_V2
            | MODEL_FORMAT_V1 => {
                let (prefix, rest) =
                    postcard::take_from_bytes::<ModelPrefix>(bytes).map_err(format_error)?;
                let (gate, rest) = if format == MODEL_FORMAT_V1 {
                    (None, rest)
                } else {
                    postcard::take_from_bytes::<Option<f32>>(rest).map_err(format_error)?
                };
                let v3_on = [MODEL_FORMAT_V3, MODEL_FORMAT_V4, MODEL_FORMAT_V5];
                let (combiner, rest) = if v3_on.contains(&format.as_str()) {
                    postcard::take_from_bytes::<Option<Combiner>>(rest).map_err(format_error)?
                } else {
                    (None, rest)
                };
                let (categories, rest) = if format == MODEL_FORMAT_V4 || format == MODEL_FORMAT_V5 {
                    postcard::take_from_bytes::<Option<CategoryHead>>(rest).map_err(format_error)?
                } else {
                    (None, rest)
                };
                let exemplars = if format == MODEL_FORMAT_V5 {
                    postcard::from_bytes::<Option<ExemplarIndex>>(rest).map_err(format_error)?
                } else {
                    None
                };
                IntentModel {
                    format: MODEL_FORMAT.into(),
                    card: prefix.card,
                    bits: prefix.bits,
                    intents: prefix.intents,
                    reasons: prefix.reasons,
                    weights: prefix.weights,
                    scales: prefix.scales,
                    bias: prefix.bias,
                    temperature: prefix.temperature,
                    thresholds: prefix.thresholds,
                    gate,
                    combiner,
                    categories,
                    exemplars,
                    language_gates: Vec::new(),
                    live: LiveRows::default(),
                }
            }
            other => {
                return Err(ModelError::Format(format!(
                    "format {other:?}, expected {MODEL_FORMAT:?}"
                )));
            }
        };
        model.check()?;
        let mut model = model;
        model.live = LiveRows::build(&model.weights, model.width());
        Ok(model)
    }

    /// Encodes the model (deterministic: same model, same bytes).
    ///
    /// # Errors
    /// [`ModelError::Format`] if encoding fails (it does not for a valid model).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        postcard::to_stdvec(self).map_err(|e| ModelError::Format(e.to_string()))
    }

    fn check(&self) -> Result<(), ModelError> {
        let width = self.width();
        let dim = Featurizer::new(self.bits).dim();
        if self.intents.is_empty() {
            return Err(ModelError::Inconsistent("no intents".into()));
        }
        if Featurizer::new(self.bits).bits() != self.bits {
            return Err(ModelError::Inconsistent(format!("bits {}", self.bits)));
        }
        if self.weights.len() != dim * width
            || self.scales.len() != width
            || self.bias.len() != width
            || self.thresholds.len() != self.reasons.len()
        {
            return Err(ModelError::Inconsistent("table sizes disagree".into()));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(ModelError::Inconsistent("temperature".into()));
        }
        if self.gate.is_some() && self.reasons.is_empty() {
            return Err(ModelError::Inconsistent("a gate without reasons".into()));
        }
        if let Some(c) = &self.combiner {
            if self.gate.is_none() {
                return Err(ModelError::Inconsistent("a combiner without a gate".into()));
            }
            if c.weights.len() != self.combiner_inputs() {
                return Err(ModelError::Inconsistent("combiner size".into()));
            }
        }
        if !self.language_gates.is_empty() && self.gate.is_none() {
            return Err(ModelError::Inconsistent(
                "language gate thresholds without a gate".into(),
            ));
        }
        let sorted = self.language_gates.windows(2).all(|w| match w {
            [a, b] => a.0 < b.0,
            _ => true,
        });
        if !sorted
            || self
                .language_gates
                .iter()
                .any(|(l, t)| l.is_empty() || !(0.0..=1.0).contains(t))
        {
            return Err(ModelError::Inconsistent("language gate thresholds".into()));
        }
        if let Some(h) = &self.categories
            && (h.names.len() < 2
                || h.names.len() != h.combiners.len()
                || h.combiners
                    .iter()
                    .any(|c| c.weights.len() != self.combiner_inputs()))
        {
            return Err(ModelError::Inconsistent("category head size".into()));
        }
        Ok(())
    }

    fn width(&self) -> usize {
        self.intents.len() + self.reasons.len() + usize::from(self.gate.is_some())
    }

    /// The number of inputs a combiner of this model takes.
    fn combiner_inputs(&self) -> usize {
        2 * (self.width() + 1)
            + self
                .exemplars
                .as_ref()
                .map_or(0, |x| ExemplarVote::input_count(x.categories().len()))
    }

    /// The intent names, in output order.
    pub fn intents(&self) -> &[String] {
        &self.intents
    }

    /// The escalation reasons with a head, in output order.
    pub fn reasons(&self) -> &[EscalationReason] {
        &self.reasons
    }

    /// The featurizer this model was trained with.
    pub fn featurizer(&self) -> Featurizer {
        Featurizer::new(self.bits)
    }

    /// The softmax temperature.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Sets the softmax temperature (clamped to `0.05..=20`), e.g. one fitted
    /// on held-out data before a final refit on all data.
    pub fn set_temperature(&mut self, temperature: f32) {
        self.temperature = if temperature.is_finite() {
            temperature.clamp(0.05, 20.0)
        } else {
            1.0
        };
    }

    /// Decision thresholds of the escalation heads.
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// Replaces the escalation thresholds (clamped to `0..=1`); extra values
    /// are ignored, missing ones keep their value.
    pub fn set_thresholds(&mut self, thresholds: &[f32]) {
        for (t, v) in self.thresholds.iter_mut().zip(thresholds) {
            *t = v.clamp(0.0, 1.0);
        }
    }

    /// The escalation gate's threshold (probability), if the model has a
    /// gate.
    pub fn gate(&self) -> Option<f32> {
        self.gate
    }

    /// Replaces the gate's threshold (clamped to `0..=1`); no effect on a
    /// model without a gate.
    pub fn set_gate(&mut self, threshold: f32) {
        if let Some(t) = self.gate.as_mut() {
            *t = threshold.clamp(0.0, 1.0);
        }
    }

    /// The gate threshold for a message in `language` (a code such as
    /// `en`, `hi`, `hinglish`): the language's own one if the model has
    /// it ([`IntentModel::language_gates`]), else [`IntentModel::gate`].
    /// `None` for a model without a gate.
    pub fn gate_for(&self, language: &str) -> Option<f32> {
        let own = self
            .language_gates
            .binary_search_by(|(l, _)| l.as_str().cmp(language))
            .ok()
            .and_then(|i| self.language_gates.get(i))
            .map(|&(_, t)| t);
        self.gate.map(|g| own.unwrap_or(g))
    }

    /// The gate thresholds of single languages, `(code, probability)`
    /// sorted by code; empty when every language uses
    /// [`IntentModel::gate`].
    pub fn language_gates(&self) -> &[(String, f32)] {
        &self.language_gates
    }

    /// Replaces the gate thresholds of single languages (each clamped to
    /// `0..=1`, NaN read as 1; empty codes dropped; for a code given twice
    /// the last wins). Why a model would have them: one threshold over the
    /// combiner's probability serves the languages unequally when their
    /// messages separate unequally well (`switchboard train
    /// --gate-per-language`). No effect on a model without a gate.
    pub fn set_language_gates(&mut self, gates: &[(String, f32)]) {
        if self.gate.is_none() {
            return;
        }
        let mut by_code: std::collections::BTreeMap<&str, f32> = std::collections::BTreeMap::new();
        for (code, t) in gates.iter().filter(|(c, _)| !c.is_empty()) {
            let t = if t.is_finite() {
                t.clamp(0.0, 1.0)
            } else {
                1.0
            };
            by_code.insert(code, t);
        }
        self.language_gates = by_code
            .into_iter()
            .map(|(c, t)| (c.to_owned(), t))
            .collect();
    }

    /// The escalation combiner, if the model has one.
    pub fn combiner(&self) -> Option<&Combiner> {
        self.combiner.as_ref()
    }

    /// Replaces the escalation combiner (`None` removes it).
    ///
    /// # Errors
    /// [`ModelError::Inconsistent`] if the model has no gate or the
    /// combiner was fitted for a model with other outputs.
    pub fn set_combiner(&mut self, combiner: Option<Combiner>) -> Result<(), ModelError> {
        self.replace_checked(combiner, |m| &mut m.combiner)
    }

    /// Puts `value` into the part `slot` picks and checks the model; on an
    /// inconsistency the old value goes back and the error is returned, so
    /// a failed setter leaves the model as it was.
    fn replace_checked<T>(
        &mut self,
        value: T,
        slot: fn(&mut Self) -> &mut T,
    ) -> Result<(), ModelError> {
        let old = std::mem::replace(slot(self), value);
        self.check().inspect_err(|_| *slot(self) = old)
    }

    /// Whether a prediction (made by another model, say a cross-fitted
    /// one) has this model's outputs, so a combiner fitted on it applies.
    fn same_outputs(&self, p: &Prediction) -> bool {
        p.intent_probs.len() == self.intents.len()
            && p.reason_probs.len() == self.reasons.len()
            && p.gate_prob.is_some() == self.gate.is_some()
            && p.exemplar.as_ref().map(|v| v.categories.len())
                == self.exemplars.as_ref().map(|x| x.categories().len())
    }

    /// The exemplar index, if the model has one.
    pub fn exemplars(&self) -> Option<&ExemplarIndex> {
        self.exemplars.as_ref()
    }

    /// Replaces the exemplar index (`None` removes it). Its vote is an
    /// input of the combiner and the category head, so set it before
    /// fitting or attaching them.
    ///
    /// # Errors
    /// [`ModelError::Inconsistent`] if the model has a combiner or a
    /// category head fitted with other inputs.
    pub fn set_exemplars(&mut self, index: Option<ExemplarIndex>) -> Result<(), ModelError> {
        self.replace_checked(index, |m| &mut m.exemplars)
    }

    /// The category head, if the model has one.
    pub fn categories(&self) -> Option<&CategoryHead> {
        self.categories.as_ref()
    }

    /// The category the head picks for a prediction and its probability;
    /// `None` without a head.
    pub fn category(&self, p: &Prediction) -> Option<(&str, f32)> {
        let names = &self.categories.as_ref()?.names;
        let (i, prob) = p
            .category_probs
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        Some((names.get(i)?.as_str(), prob))
    }

    /// Replaces the category head (`None` removes it).
    ///
    /// # Errors
    /// [`ModelError::Inconsistent`] if the head was fitted for a model with
    /// other outputs.
    pub fn set_categories(&mut self, head: Option<CategoryHead>) -> Result<(), ModelError> {
        self.replace_checked(head, |m| &mut m.categories)
    }

    /// Fits a category head on this model's predictions for `held_out`
    /// and for the cross-fitted `extra` ones (as
    /// [`IntentModel::fit_combiner_with`] does), using every example with a
    /// category: one penalised logistic regression per category, that
    /// category against the rest, each by Newton's method in `f64`.
    ///
    /// `balance` (0 to 1) evens out the categories: in each fit the rows of
    /// the category and of the rest are weighted by `(total / (2 *
    /// side))^balance`, so 0 keeps the sample weights (the rare category
    /// loses every close call) and 1 makes both sides weigh the same.
    /// With `folds >= 2` every held-out example also gets the category of
    /// a head fitted without its fold. `None` with fewer than two
    /// categories among the examples.
    pub fn fit_categories<'a>(
        &self,
        held_out: &'a [Example],
        extra: &[(Prediction, &'a Example)],
        l2: f64,
        balance: f64,
        folds: usize,
    ) -> Option<CategoryFit> {
        let mut index: Vec<usize> = Vec::new();
        let mut xs: Vec<Vec<f64>> = Vec::new();
        let mut labels: Vec<&str> = Vec::new();
        let mut ws: Vec<f64> = Vec::new();
        let mut add = |p: &Prediction, e: &'a Example, label: &'a str| {
            xs.push(Combiner::inputs(p).into_iter().map(f64::from).collect());
            ws.push(f64::from(e.weight));
            labels.push(label);
        };
        for (i, e) in held_out.iter().enumerate() {
            if let Some(c) = &e.category {
                index.push(i);
                add(&self.predict_held_out(&e.text), e, c);
            }
        }
        for (p, e) in extra {
            if let (Some(c), true) = (&e.category, self.same_outputs(p)) {
                add(p, e, c);
            }
        }
        let mut names: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        names.sort();
        names.dedup();
        if names.len() < 2 {
            return None;
        }
        // One "this category or not" column per name, shared by every fold.
        let targets: Vec<Vec<f64>> = names
            .iter()
            .map(|name| {
                labels
                    .iter()
                    .map(|l| if l == name { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        let fit = |keep: &dyn Fn(usize) -> bool| -> Option<Vec<Combiner>> {
            targets
                .iter()
                .map(|ys| {
                    let side = |y: f64| -> f64 {
                        ys.iter()
                            .zip(&ws)
                            .enumerate()
                            .filter(|(j, (l, _))| **l == y && keep(*j))
                            .map(|(_, (_, w))| w)
                            .sum()
                    };
                    let (pos, neg) = (side(1.0), side(0.0));
                    if pos <= 0.0 || neg <= 0.0 {
                        return None;
                    }
                    let scale = |side: f64| ((pos + neg) / (2.0 * side)).powf(balance);
                    let (sp, sn) = (scale(pos), scale(neg));
                    let w: Vec<f64> = ws
                        .iter()
                        .zip(ys)
                        .enumerate()
                        .map(|(j, (w, y))| match (keep(j), *y > 0.5) {
                            (false, _) => 0.0,
                            (true, true) => w * sp,
                            (true, false) => w * sn,
                        })
                        .collect();
                    let (weights, bias) = fit_logistic(&xs, ys, &w, l2)?;
                    Some(Combiner {
                        weights: weights.into_iter().map(|w| w as f32).collect(),
                        bias: bias as f32,
                    })
                })
                .collect()
        };
        // The rows hold f32 inputs widened to f64, so this narrowing is exact.
        let pick = |cs: &Vec<Combiner>, x: &[f64]| -> usize {
            cs.iter()
                .map(|c| c.score(x.iter().map(|&v| v as f32)))
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(i, _)| i)
        };
        let (combiners, out_of_fold) = cross_fit(held_out, &index, &xs, folds, fit, pick)?;
        Some(CategoryFit {
            head: CategoryHead { names, combiners },
            out_of_fold,
        })
    }

    /// Fits an escalation combiner on this model's predictions for
    /// `held_out` (messages it was not trained on): the examples marked
    /// for the gate, labelled "escalate" when they carry a reason the model
    /// has a head for, weighted by their sample weight. Weighted L2-penalised
    /// logistic regression (`l2` on the weights, not the intercept), solved
    /// by Newton's method in `f64`, so the same data give the same bytes.
    ///
    /// With `folds >= 2` it also scores every such example with a
    /// combiner fitted without its fold (folds by a hash of the text), so a
    /// threshold can be chosen on probabilities the combiner did not fit:
    /// fitted and scored on the same messages, it looks better than it is.
    /// `None` for a model without a gate, or without both kinds of example.
    pub fn fit_combiner(&self, held_out: &[Example], l2: f64, folds: usize) -> Option<CombinerFit> {
        self.fit_combiner_with(held_out, &[], l2, folds)
    }

    /// Like [`IntentModel::fit_combiner`], with more examples to fit on:
    /// `extra` pairs an example with a prediction from a model of the same
    /// outputs that was not trained on it (cross-fitted on the training
    /// part, say). They join every fit but get no out-of-fold score: the
    /// threshold is still chosen on `held_out` alone. Examples not marked
    /// for the gate, or whose prediction has other outputs, are skipped.
    pub fn fit_combiner_with(
        &self,
        held_out: &[Example],
        extra: &[(Prediction, &Example)],
        l2: f64,
        folds: usize,
    ) -> Option<CombinerFit> {
        self.gate?;
        let mut index: Vec<usize> = Vec::new();
        let mut xs: Vec<Vec<f64>> = Vec::new();
        let mut ys: Vec<f64> = Vec::new();
        let mut ws: Vec<f64> = Vec::new();
        let mut add = |p: &Prediction, e: &Example| {
            xs.push(Combiner::inputs(p).into_iter().map(f64::from).collect());
            ys.push(if e.reasons.iter().any(|r| self.reasons.contains(r)) {
                1.0
            } else {
                0.0
            });
            ws.push(f64::from(e.weight));
        };
        for (i, e) in held_out.iter().enumerate().filter(|(_, e)| e.gate) {
            index.push(i);
            add(&self.predict_held_out(&e.text), e);
        }
        for (p, e) in extra {
            if e.gate && self.same_outputs(p) {
                add(p, e);
            }
        }
        // A row left out of a fit weighs 0: it adds exactly nothing to the
        // loss and its derivatives, and no copy of the rows is made.
        let fit = |keep: &dyn Fn(usize) -> bool| -> Option<Combiner> {
            let w: Vec<f64> = ws
                .iter()
                .enumerate()
                .map(|(j, w)| if keep(j) { *w } else { 0.0 })
                .collect();
            let kept = |label: f64| ys.iter().zip(&w).any(|(y, w)| *y == label && *w > 0.0);
            if !kept(1.0) || !kept(0.0) {
                return None;
            }
            let (weights, bias) = fit_logistic(&xs, &ys, &w, l2)?;
            Some(Combiner {
                weights: weights.into_iter().map(|w| w as f32).collect(),
                bias: bias as f32,
            })
        };
        // The rows hold f32 inputs widened to f64, so this narrowing is exact.
        let score = |c: &Combiner, x: &[f64]| c.score(x.iter().map(|&v| v as f32));
        let (combiner, out_of_fold) = cross_fit(held_out, &index, &xs, folds, fit, score)?;
        Some(CombinerFit {
            combiner,
            out_of_fold,
        })
    }

    /// Predicts from text.
    pub fn predict(&self, text: &str) -> Prediction {
        self.predict_text(text, false)
    }

    /// Predicts from the text of a message the model learnt from, as if it
    /// had not: the exemplar vote leaves out exemplars with the same
    /// normalised text ([`ExemplarIndex::vote_without`]). The same as
    /// [`IntentModel::predict`] for a model without an exemplar index.
    /// Fitting the combiner and the category head uses it on their
    /// training messages, so what they learn matches unseen messages.
    pub fn predict_held_out(&self, text: &str) -> Prediction {
        self.predict_text(text, true)
    }

    fn predict_text(&self, text: &str, held_out: bool) -> Prediction {
        // Normalised into this thread's buffer (nothing here predicts
        // again, so it is never borrowed twice; if it were, a fresh string).
        NORM.with(|norm| match norm.try_borrow_mut() {
            Ok(mut norm) => {
                normalize_into(text, &mut norm);
                self.predict_with(text, &norm, held_out)
            }
            Err(_) => self.predict_with(text, &normalize(text), held_out),
        })
    }

    /// Predicts from text and its `normalize(text)`.
    ///
    /// The same model function as [`IntentModel::predict_features`] of the
    /// extracted features, computed differently: a feature whose raw
    /// value is ±1 (most of them) adds its `i8` weights to an exact integer
    /// sum, multiplied by its block's scale once; the others add as
    /// floats. Probabilities agree with `predict_features` up to float
    /// rounding (the tests bound the difference).
    pub fn predict_normalized(&self, text: &str, norm: &str) -> Prediction {
        self.predict_with(text, norm, false)
    }

    fn predict_with(&self, text: &str, norm: &str, held_out: bool) -> Prediction {
        let vote = self.exemplars.as_ref().map(|x| {
            if held_out {
                x.vote_without(norm)
            } else {
                x.vote(norm)
            }
        });
        if self.live.starts.is_empty() {
            // Not built (a model deserialised by hand): the float path.
            let mut feats = Vec::with_capacity(256);
            self.featurizer().extract_normalized(text, norm, &mut feats);
            let mut acc = vec![0.0f32; self.width()];
            self.accumulate(&feats, &mut acc);
            return self.finish(acc, vote);
        }
        // One sum per output and then to the stride: the integer sums fill
        // whole pieces of rows (see `pieces`), and padding adds zeros.
        let mut acc = vec![0.0f32; self.width().max(self.live.stride)];
        SCRATCH.with(|scratch| {
            // Only this thread uses its scratch, and nothing here calls
            // back into a prediction, so it is never borrowed twice; the
            // fallback just allocates.
            let mut fresh = Scratch::default();
            let mut borrowed = scratch.try_borrow_mut();
            let s = borrowed.as_deref_mut().unwrap_or(&mut fresh);
            self.featurizer().hash_keys(text, norm, &mut s.keys);
            self.live.gather(&mut s.keys, &mut s.rows);
            self.live.accumulate_grouped(&mut s.rows, &mut acc);
        });
        acc.truncate(self.width());
        self.finish(acc, vote)
    }

    /// Predicts from features made by [`IntentModel::featurizer`]. Features
    /// carry no text, so for a model with an exemplar index the vote is the
    /// one of a message sharing no word with any exemplar.
    pub fn predict_features(&self, feats: &[Feature]) -> Prediction {
        let width = self.width();
        let mut acc = vec![0.0f32; width];
        self.accumulate(feats, &mut acc);
        self.finish(acc, self.exemplars.as_ref().map(|x| x.vote("")))
    }

    /// The prediction from the weighted feature sums of every output and
    /// the exemplar vote (for a model with an index).
    fn finish(&self, mut acc: Vec<f32>, exemplar: Option<ExemplarVote>) -> Prediction {
        let k = self.intents.len().min(acc.len());
        // Scores in place: `a * scale + bias`, as `logits` computes them.
        for ((a, s), b) in acc.iter_mut().zip(&self.scales).zip(&self.bias) {
            *a = *a * s + b;
        }
        let mut intent_probs = acc;
        let mut reason_probs: Vec<f32> = intent_probs
            .get(k..)
            .unwrap_or_default()
            .iter()
            .map(|&z| sigmoid(z))
            .collect();
        let gate_prob = if self.gate.is_some() {
            reason_probs.pop()
        } else {
            None
        };
        intent_probs.truncate(k);
        let top = softmax_in_place(&mut intent_probs, self.temperature);
        // The first intent of the largest probability, as `argmax` finds
        // it, without a pass to find the largest.
        let (intent, confidence) = match intent_probs.iter().position(|&p| p == top) {
            Some(i) => (i, top),
            None => (0, f32::NEG_INFINITY),
        };
        let mut p = Prediction {
            intent,
            confidence,
            intent_probs,
            reason_probs,
            gate_prob,
            escalation_prob: None,
            category_probs: Vec::new(),
            exemplar,
        };
        if self.combiner.is_some() || self.categories.is_some() {
            let inputs = Combiner::inputs(&p);
            let score = |c: &Combiner| c.score(inputs.iter().copied());
            p.escalation_prob = self.combiner.as_ref().map(score);
            if let Some(h) = &self.categories {
                p.category_probs = h.combiners.iter().map(score).collect();
            }
        }
        p
    }

    /// Adds `x * q` of every feature's weight row to `acc`, in feature
    /// order (so the sums round exactly as they always have). Rows that
    /// are all zero, the buckets no training message reached, are skipped
    /// without being read: adding `x * 0` changes no sum.
    fn accumulate(&self, feats: &[Feature], acc: &mut [f32]) {
        let width = acc.len();
        if self.live.starts.is_empty() {
            // Not built (a model deserialised by hand): the full table.
            for &(bucket, x) in feats {
                let start = bucket as usize * width;
                if let Some(row) = self.weights.get(start..start + width) {
                    add_row(acc, x, row);
                }
            }
            return;
        }
        // Gather the live rows first, then run over them once per block of
        // `LANES` outputs, whose sums stay in registers. Each output still
        // adds its terms in feature order, so every sum rounds as before.
        let stride = self.live.stride;
        let mut rows: [(usize, f32); 128] = [(0, 0.0); 128];
        for chunk in feats.chunks(rows.len()) {
            let mut n = 0usize;
            // Reading a byte at each end of every row now starts all their
            // cache misses together, instead of one per row in the loop below.
            let mut touch = 0u8;
            for &(bucket, x) in chunk {
                if let (Some(start), Some(slot)) = (self.live.start(bucket), rows.get_mut(n)) {
                    let w = &self.live.weights;
                    touch ^= w.get(start).copied().unwrap_or(0)
                        ^ w.get(start + stride - 1).copied().unwrap_or(0);
                    *slot = (start, x);
                    n += 1;
                }
            }
            std::hint::black_box(touch);
            let rows = rows.get(..n).unwrap_or_default();
            for (block, out) in acc.chunks_mut(LANES).enumerate() {
                let mut sums = [0.0f32; LANES];
                for (s, a) in sums.iter_mut().zip(out.iter()) {
                    *s = *a;
                }
                let offset = block * LANES;
                for &(start, x) in rows {
                    let Some(q) = self
                        .live
                        .weights
                        .get(start + offset..start + offset + LANES)
                    else {
                        continue;
                    };
                    for (s, &q) in sums.iter_mut().zip(q) {
                        *s += x * f32::from(unbias(q));
                    }
                }
                for (a, s) in out.iter_mut().zip(sums) {
                    *a = s;
                }
            }
        }
    }

    /// The escalation reasons whose head is at or above its threshold.
    pub fn fired(&self, p: &Prediction) -> Vec<(EscalationReason, f32)> {
        self.reasons
            .iter()
            .zip(&p.reason_probs)
            .zip(&self.thresholds)
            .filter(|((_, prob), t)| **prob >= **t)
            .map(|((r, prob), _)| (*r, *prob))
            .collect()
    }
}

/// Buffers a prediction reuses, one set per thread: a message's features
/// and rows are a few hundred entries, and allocating and growing them
/// afresh for every message showed in profiles at several percent of the
/// prediction time.
#[derive(Default)]
struct Scratch {
    keys: Keys,
    rows: Rows,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// The normalised text of the message [`IntentModel::predict`] is on.
    static NORM: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A message's live rows by block and raw feature value (made by
/// [`LiveRows::gather`]), as offsets into [`LiveRows::weights`].
#[derive(Default)]
struct Rows {
    /// Per block: the factor from raw to feature values.
    scale: [f32; BLOCKS],
    /// Per block: where it ends in each list.
    ends: [Ends; BLOCKS],
    /// Rows of raw value +1, block after block (up to `ends`; longer, so
    /// that gathering writes at an index).
    plus: Vec<u32>,
    /// Rows of raw value -1, as `plus`.
    minus: Vec<u32>,
    /// Rows whose bucket counts +2 (raw value `1 + ln 2`), block after block.
    twice_plus: Vec<u32>,
    /// Rows whose bucket counts -2, block after block.
    twice_minus: Vec<u32>,
    /// Rows of any other raw value, with that value.
    other: Vec<(u32, f32)>,
    /// Scratch: one block's integer sums, one per output.
    ints: Vec<i32>,
}

/// Where a block ends in each list of [`Rows`].
#[derive(Debug, Clone, Copy, Default)]
struct Ends {
    plus: usize,
    minus: usize,
    twice_plus: usize,
    twice_minus: usize,
    other: usize,
}

/// One block of [`Rows`].
struct BlockRows<'a> {
    scale: f32,
    plus: &'a [u32],
    minus: &'a [u32],
    twice_plus: &'a [u32],
    twice_minus: &'a [u32],
    other: &'a [(u32, f32)],
}

impl Rows {
    /// Block `b`'s scale and rows.
    fn block(&self, b: usize) -> BlockRows<'_> {
        let start = b
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .copied()
            .unwrap_or_default();
        let end = self.ends.get(b).copied().unwrap_or(start);
        BlockRows {
            scale: self.scale.get(b).copied().unwrap_or(0.0),
            plus: self.plus.get(start.plus..end.plus).unwrap_or_default(),
            minus: self.minus.get(start.minus..end.minus).unwrap_or_default(),
            twice_plus: (self.twice_plus)
                .get(start.twice_plus..end.twice_plus)
                .unwrap_or_default(),
            twice_minus: (self.twice_minus)
                .get(start.twice_minus..end.twice_minus)
                .unwrap_or_default(),
            other: self.other.get(start.other..end.other).unwrap_or_default(),
        }
    }
}

/// Outputs summed together in registers; packed rows are padded to a
/// multiple of it.
const LANES: usize = 16;

/// Rows summed in one pass of [`sum_rows`]: the sums of that many weights
/// (each within ±127) fit in an `i16`.
const CHUNK_ROWS: usize = 256;

/// The sums, over the rows starting at `plus` minus those at `minus` (at
/// most [`CHUNK_ROWS`] rows in all), of the `2 * H` stored weights from
/// `offset`: per pair of outputs, the wrapping sum of the pair read as a
/// little-endian `u16`, and the wrapping sum of its high bytes, from which
/// [`add_pairs`] recovers both outputs' sums. Adding whole words and then
/// their high bytes is two SIMD additions and a shift per 16 bytes;
/// widening the bytes to `u16` first took two unpacks and a copy more. Not
/// inlined: on its own the loop keeps all the sums in registers.
#[inline(never)]
fn sum_rows<const H: usize>(
    w: &[u8],
    plus: &[u32],
    minus: &[u32],
    offset: usize,
) -> ([u16; H], [u16; H]) {
    let (mut words, mut highs) = ([0u16; H], [0u16; H]);
    // One comparison per row: from a `u32` start, the end cannot
    // overflow, and the slice's length is then known.
    let w = w.get(offset..).unwrap_or_default();
    let pairs = |start: u32| {
        let at = start as usize;
        w.get(at..at + 2 * H)
            .and_then(|row| row.as_chunks::<2>().0.first_chunk::<H>())
    };
    let mut add = |start: u32| {
        let Some(q) = pairs(start) else { return };
        for ((s, h), &q) in words.iter_mut().zip(highs.iter_mut()).zip(q) {
            let q = u16::from_le_bytes(q);
            *s = s.wrapping_add(q);
            *h = h.wrapping_add(q >> 8);
        }
    };
    // Two rows an iteration: the loop's own instructions (pointer, end
    // test, jumps) were a quarter of a row's.
    let (twos, one) = plus.as_chunks::<2>();
    for &[a, b] in twos {
        add(a);
        add(b);
    }
    one.iter().for_each(|&a| add(a));
    let mut sub = |start: u32| {
        let Some(q) = pairs(start) else { return };
        for ((s, h), &q) in words.iter_mut().zip(highs.iter_mut()).zip(q) {
            let q = u16::from_le_bytes(q);
            *s = s.wrapping_sub(q);
            *h = h.wrapping_sub(q >> 8);
        }
    };
    let (twos, one) = minus.as_chunks::<2>();
    for &[a, b] in twos {
        sub(a);
        sub(b);
    }
    one.iter().for_each(|&a| sub(a));
    (words, highs)
}

/// The pieces a row of `stride` bytes (a multiple of [`LANES`]) is summed
/// in, as (byte offset, pairs of outputs): as many outputs per pass over
/// the rows as registers allow, so that the loop overhead per row is paid
/// once per 80 outputs (the stride of 65 to 80) instead of once per 16.
fn pieces(stride: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut offset = 0;
    std::iter::from_fn(move || {
        let left = stride.checked_sub(offset).filter(|&left| left > 0)?;
        let pairs = match left {
            80.. => 40,
            64.. => 32,
            32.. => 16,
            _ => 8,
        };
        let piece = (offset, pairs);
        offset += 2 * pairs;
        Some(piece)
    })
}

/// Adds to `out` (a piece's `2 * H` outputs, split: the even ones, then
/// the odd ones; or sets it, if `first`) the sums of weights in the [`sum_rows`] of rows of which
/// `diff` more were added than subtracted (as `u16`, wrapping). Sums mod
/// 2^16 are exact here: the true sums, of at most [`CHUNK_ROWS`] weights
/// within ±127, fit in an `i16`. Split, the outputs are two contiguous
/// runs that LLVM widens and adds a register at a time; interleaved, it
/// took two outputs at a time.
fn add_split<const H: usize>(out: &mut [i32], sums: ([u16; H], [u16; H]), diff: u16, first: bool) {
    let (words, highs) = sums;
    // Every stored weight is `q + BIAS`, so each sum holds `BIAS` per row.
    let bias = diff.wrapping_mul(u16::from(BIAS));
    let (even, odd) = out.split_at_mut(H.min(out.len()));
    let start = |o: i32| if first { 0 } else { o };
    for ((e, &w), &h) in even.iter_mut().zip(&words).zip(&highs) {
        // The low bytes' sum is the words' less 256 times the high bytes'.
        *e = start(*e) + i32::from(w.wrapping_sub(h << 8).wrapping_sub(bias) as i16);
    }
    for (o, &h) in odd.iter_mut().zip(&highs) {
        *o = start(*o) + i32::from(h.wrapping_sub(bias) as i16);
    }
}

/// `acc += x * sums` for one piece of `2 * H` outputs, from the
/// [`sum_rows`] of rows of which `diff` more were added than subtracted:
/// each output's integer sum as [`add_split`] recovers it, then as
/// [`add_scaled_piece`] adds it.
fn add_sums<const H: usize>(acc: &mut [f32], sums: ([u16; H], [u16; H]), diff: u16, x: f32) {
    let (words, highs) = sums;
    let bias = diff.wrapping_mul(u16::from(BIAS));
    let pairs = acc.as_chunks_mut::<2>().0.iter_mut();
    for (([a, b], &w), &h) in pairs.zip(&words).zip(&highs) {
        let even = w.wrapping_sub(h << 8).wrapping_sub(bias) as i16;
        let odd = h.wrapping_sub(bias) as i16;
        *a += x * f32::from(even);
        *b += x * f32::from(odd);
    }
}

/// `acc += x * ints` for one piece of `2 * H` outputs whose sums are
/// split (see [`add_split`]).
fn add_scaled_piece<const H: usize>(acc: &mut [f32], ints: &[i32], x: f32) {
    let (even, odd) = ints.split_at(H.min(ints.len()));
    let pairs = acc.as_chunks_mut::<2>().0.iter_mut();
    for (([a, b], &e), &o) in pairs.zip(even).zip(odd) {
        *a += x * e as f32;
        *b += x * o as f32;
    }
}

/// [`LiveRows::gather`]'s [`Sink`]: each bucket's row into the list for
/// its raw value (dead buckets' the zero row when ±1, else left out).
struct Gather<'a> {
    /// [`LiveRows::starts`].
    starts: &'a [u32],
    /// Where the zero row starts: a dead bucket's.
    zero: u32,
    /// Rows of raw value +1, the first `np` of them.
    plus: &'a mut [u32],
    /// Rows of raw value -1, the first `nm` of them.
    minus: &'a mut [u32],
    np: usize,
    nm: usize,
    twice_plus: &'a mut Vec<u32>,
    twice_minus: &'a mut Vec<u32>,
    other: &'a mut Vec<(u32, f32)>,
}

impl Sink for Gather<'_> {
    // No read-ahead of the buckets' `starts` entries (a loop that put
    // their cache misses in flight together, when each unit's stores
    // waited on its start to test it for the zero row): with no test, the
    // loop below does not wait on them, and without the read-ahead a
    // banking77 prediction is ~1,000 instructions and about 3% of its
    // time shorter.
    #[inline(always)]
    fn unit(&mut self, bucket: u32, count: i32) {
        // Every bucket has an entry (a featurizer's buckets are below
        // `starts.len()`); one without would have no row, and adds
        // nothing. (Not the zero row's start as a default: holding it in
        // a register for this made the loop spill others.)
        let Some(&start) = self.starts.get(bucket as usize) else {
            return;
        };
        // Written to both lists, kept by the one its count is for: the
        // sign is the hash's coin toss, a branch on it would mispredict
        // half the time. A dead bucket's row is the zero row, which is
        // summed like the others and adds nothing: testing every bucket
        // for it cost more than the few extra rows (8% of a banking77
        // message's), and made the next stores wait for the row's start.
        if let Some(p) = self.plus.get_mut(self.np) {
            *p = start;
        }
        if let Some(m) = self.minus.get_mut(self.nm) {
            *m = start;
        }
        // The count is +1 or -1: its sign bit says which list keeps it.
        let down = (count as u32 >> 31) as usize;
        self.np += down ^ 1;
        self.nm += down;
    }

    fn other(&mut self, bucket: u32, count: i32, value: f32) {
        let start = self
            .starts
            .get(bucket as usize)
            .copied()
            .unwrap_or(self.zero);
        if start != self.zero {
            match count {
                2 => self.twice_plus.push(start),
                -2 => self.twice_minus.push(start),
                _ => self.other.push((start, value)),
            }
        }
    }
}

/// Reads a byte of every cache line of the rows of `stride` bytes at
/// `starts` (see [`LiveRows::gather`]), and returns their XOR. Rows start
/// 16-byte aligned (an allocation is, and so is the stride), so a row of
/// up to 80 bytes spans at most two lines, which its first and last bytes
/// reach; longer ones take a byte every 64 in between too.
#[inline]
fn touch_rows(w: &[u8], starts: &[u32], stride: usize) -> u8 {
    let byte = |at: usize| w.get(at).copied().unwrap_or(0);
    let mut touch = 0u8;
    for &start in starts {
        let (start, end) = (start as usize, start as usize + stride - 1);
        touch ^= byte(start) ^ byte(end);
        if stride > 80 {
            let mut at = start + 64;
            while at < end {
                touch ^= byte(at);
                at += 64;
            }
        }
    }
    touch
}

/// Stored weights are `q + 128` (as `u8`): summing bytes that need no sign
/// extension takes fewer instructions on baseline x86-64 (whose SIMD has no
/// sign-extending load).
const BIAS: u8 = 0x80;

/// The weight of a stored byte.
#[inline]
fn unbias(stored: u8) -> i8 {
    i8::from_ne_bytes([stored ^ BIAS])
}

/// `acc += x * row` for a row of stored weights.
#[inline]
fn add_stored_row(acc: &mut [f32], x: f32, row: &[u8]) {
    for (a, &q) in acc.iter_mut().zip(row) {
        *a += x * f32::from(unbias(q));
    }
}

/// `acc += x * row`, one output at a time.
#[inline]
fn add_row(acc: &mut [f32], x: f32, row: &[i8]) {
    for (a, &q) in acc.iter_mut().zip(row) {
        *a += x * f32::from(q);
    }
}

fn softmax(scores: &[f32], temperature: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = scores
        .iter()
        .map(|s| ((s - max) / temperature).exp())
        .collect();
    let sum: f32 = exps.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        exps.iter().map(|e| e / sum).collect()
    } else {
        let n = scores.len().max(1) as f32;
        vec![1.0 / n; scores.len()]
    }
}

/// [`softmax`] without a second vector, for predictions: the same
/// operations except the exponential, which is [`exp_below_zero`] (within
/// a few units in the last place of `f32::exp`, so probabilities move by
/// less than 1e-6), and the order of the sum, eight running sums instead
/// of one (a chain of dependent additions, one per intent, was a tenth of
/// the prediction's latency after the rows). Training and the
/// temperature fit keep `f32::exp`, so model files do not change.
///
/// Returns the largest probability: `1 / sum`, because the largest
/// score's exponential is exactly 1 (`exp_below_zero(0.0)`) and dividing
/// by the same sum keeps the order (no NaN gets there: it would make the
/// sum NaN); or, when the sum is not usable, the uniform probability.
fn softmax_in_place(scores: &mut [f32], temperature: f32) -> f32 {
    let max = max_of(scores);
    for s in scores.iter_mut() {
        *s = exp_below_zero((*s - max) / temperature);
    }
    let sum = sum_of(scores);
    if sum > 0.0 && sum.is_finite() {
        for s in scores.iter_mut() {
            *s /= sum;
        }
        1.0 / sum
    } else {
        let n = scores.len().max(1) as f32;
        scores.fill(1.0 / n);
        1.0 / n
    }
}

/// The largest of `v` that is not NaN (minus infinity if none): the same as
/// a fold with `f32::max`, in eight running maxima.
fn max_of(v: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let (chunks, rest) = v.as_chunks::<8>();
    for chunk in chunks {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            *m = m.max(x);
        }
    }
    let max = rest.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    lanes.into_iter().fold(max, f32::max)
}

/// The sum of `v` in eight running sums.
fn sum_of(v: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (chunks, rest) = v.as_chunks::<8>();
    for chunk in chunks {
        for (s, &x) in lanes.iter_mut().zip(chunk) {
            *s += x;
        }
    }
    let sum: f32 = rest.iter().sum();
    lanes.into_iter().sum::<f32>() + sum
}

/// `e^x` for `x <= 0` (NaN stays NaN; below -87, where `f32` runs out of
/// normal numbers, `e^-87`, about 1.6e-38, instead of something smaller).
/// libm's `expf` is a call per output, about 50 instructions; this is a few
/// branch-free steps that LLVM vectorises over all of a prediction's
/// intents: `x = n ln 2 + r` with `|r| <= ln 2 / 2`, `e^r` by the Cephes
/// `expf` polynomial (error about 1e-7), and `2^n` built from its exponent
/// bits.
#[inline]
fn exp_below_zero(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer (ties to even) and leaves it
    // in the low mantissa bits; subtracting it again gives that integer as
    // a float. (`f32::round` is a libm call on baseline x86-64.)
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 0.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let er = p * (r * r) + r + 1.0;
    // `n` is in -126..=0, so `n + 127` is a normal exponent; the shift
    // drops the bits of `ROUND` above it.
    let two_n = f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    er * two_n
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The first index of the largest value of `v` that is not NaN, and that
/// value; `(0, -inf)` if none is above minus infinity. Found as the
/// maximum (in running maxima) and then its first place: a fold keeping
/// the best index was a chain of dependent compare-and-selects. (A
/// prediction takes the maximum from [`softmax_in_place`] instead; the
/// tests check the two agree.)
#[cfg(test)]
fn argmax(v: &[f32]) -> (usize, f32) {
    let max = max_of(v);
    if max == f32::NEG_INFINITY {
        return (0, max);
    }
    // The maximum is one of the values, and no NaN equals it.
    match v.iter().position(|&p| p == max) {
        Some(i) => (i, v.get(i).copied().unwrap_or(max)),
        None => (0, f32::NEG_INFINITY),
    }
}

/// The rows of a bucket-major weight table that have a non-zero weight,
/// packed in bucket order, with an index from bucket to packed row.
/// A model trained on a few thousand messages reaches an eighth of its
/// `2^18` buckets, so this is a few megabytes instead of tens.
#[derive(Debug, Clone, Default, PartialEq)]
struct LiveRows {
    /// Per bucket: where its packed row starts in `weights`, or the zero
    /// row's start for a dead bucket. A rank index (a bit per bucket and
    /// a count per 64) is a tenth of the size, but finding a row in it
    /// cost a tenth of a prediction's instructions (no `popcnt` on
    /// baseline x86-64); the direct index is 4 bytes per bucket, and only
    /// the entries of the buckets a message hits are read.
    starts: Vec<u32>,
    /// The live rows, in bucket order, each padded with zeros to `stride`,
    /// then one row of zeros; every weight `q` stored as `q + 128` (see
    /// [`BIAS`]).
    weights: Vec<u8>,
    /// Length of a packed row: the model's width rounded up to [`LANES`].
    stride: usize,
    /// Index of the row of zeros after the live rows.
    zero_row: usize,
}

impl LiveRows {
    fn build(weights: &[i8], width: usize) -> Self {
        let width = width.max(1);
        let stride = width.next_multiple_of(LANES);
        let rows = weights.chunks_exact(width);
        let mut bits = vec![0u64; rows.len().div_ceil(64)];
        for (i, row) in rows.clone().enumerate() {
            if row.iter().any(|&q| q != 0)
                && let Some(w) = bits.get_mut(i / 64)
            {
                *w |= 1 << (i % 64);
            }
        }
        let live: usize = bits.iter().map(|w| w.count_ones() as usize).sum();
        // One more row of zeros after the live ones, for dead buckets.
        let mut packed = vec![BIAS; (live + 1) * stride];
        let live_rows = rows
            .enumerate()
            .filter(|(i, _)| bits.get(i / 64).is_some_and(|w| (w >> (i % 64)) & 1 == 1));
        for (dst, (_, row)) in packed.chunks_exact_mut(stride).zip(live_rows) {
            for (d, &q) in dst.iter_mut().zip(row) {
                *d = q.to_ne_bytes()[0] ^ BIAS;
            }
        }
        // Offsets fit in `u32` for any model below 4 GiB of packed rows.
        let zero_start = u32::try_from(live * stride).unwrap_or(u32::MAX);
        let step = u32::try_from(stride).unwrap_or(u32::MAX);
        let mut starts = Vec::with_capacity(bits.len() * 64);
        let mut next = 0u32;
        for &w in &bits {
            for i in 0..64 {
                if (w >> i) & 1 == 1 {
                    starts.push(next);
                    next = next.saturating_add(step);
                } else {
                    starts.push(zero_start);
                }
            }
        }
        Self {
            starts,
            weights: packed,
            stride,
            zero_row: live,
        }
    }

    /// Groups the message's `keys` block by block (see [`Keys::group`])
    /// into `rows`: the rows of raw value +1 and -1, and the others with
    /// their value. Dead buckets (whose rows are all zero) count in their
    /// block's norm but add nothing: the ±1 ones point at the zero row
    /// (see [`Gather::unit`]), the others are left out.
    fn gather(&self, keys: &mut Keys, rows: &mut Rows) {
        // Room for every key: the buffers only grow, so that placing a row
        // is a store at an index.
        let need = keys.len();
        if rows.plus.len() < need {
            rows.plus.resize(need, 0);
        }
        if rows.minus.len() < need {
            rows.minus.resize(need, 0);
        }
        rows.twice_plus.clear();
        rows.twice_minus.clear();
        rows.other.clear();
        let mut sink = Gather {
            starts: self.starts.as_slice(),
            // Offsets fit in u32 (see `LiveRows::starts`).
            zero: (self.zero_row * self.stride) as u32,
            plus: rows.plus.as_mut_slice(),
            minus: rows.minus.as_mut_slice(),
            np: 0,
            nm: 0,
            twice_plus: &mut rows.twice_plus,
            twice_minus: &mut rows.twice_minus,
            other: &mut rows.other,
        };
        for b in 0..BLOCKS {
            let scale = keys.group(b, &mut sink);
            if let Some(s) = rows.scale.get_mut(b) {
                *s = scale;
            }
            if let Some(e) = rows.ends.get_mut(b) {
                *e = Ends {
                    plus: sink.np,
                    minus: sink.nm,
                    twice_plus: sink.twice_plus.len(),
                    twice_minus: sink.twice_minus.len(),
                    other: sink.other.len(),
                };
            }
        }
        let Gather {
            plus,
            minus,
            np,
            nm,
            twice_plus,
            twice_minus,
            other,
            ..
        } = sink;
        // Rows not in the core's cache (a large model, the first messages)
        // make the sums wait on memory. Reading a byte of every 64-byte
        // cache line of every row in a loop this short puts as many of
        // their cache misses in flight as the core allows, instead of the
        // few that fit beside the arithmetic.
        let (stride, w) = (self.stride, self.weights.as_slice());
        let mut touch = touch_rows(w, plus.get(..np).unwrap_or_default(), stride);
        touch ^= touch_rows(w, minus.get(..nm).unwrap_or_default(), stride);
        touch ^= touch_rows(w, twice_plus, stride) ^ touch_rows(w, twice_minus, stride);
        for &(start, _) in other.iter() {
            touch ^= touch_rows(w, &[start], stride);
        }
        std::hint::black_box(touch);
    }

    /// Adds the gathered rows' weights times their feature values to `acc`
    /// (one sum per output, `acc.len()` outputs). Per block, the rows of
    /// raw value ±1 are summed as integers, the total times the block's
    /// scale goes into `acc`, and so do those of counts ±2 (most of the
    /// rest: a character n-gram twice in a message) times `1 + ln 2` and
    /// the scale; the rows of other raw values add `value * q` as floats.
    fn accumulate_grouped(&self, rows: &mut Rows, acc: &mut [f32]) {
        let stride = self.stride;
        let w = &self.weights;
        let mut ints = std::mem::take(&mut rows.ints);
        ints.resize(stride, 0);
        // The raw value of a count of 2, as `Keys::group` computes it.
        let twice = 1.0 + 2.0f32.ln();
        for b in 0..BLOCKS {
            let r = rows.block(b);
            self.add_block(acc, r.plus, r.minus, r.scale, &mut ints);
            if !(r.twice_plus.is_empty() && r.twice_minus.is_empty()) {
                self.add_block(acc, r.twice_plus, r.twice_minus, r.scale * twice, &mut ints);
            }
            for &(start, v) in r.other {
                let start = start as usize;
                if let Some(q) = w.get(start..start + stride) {
                    add_stored_row(acc, r.scale * v, q);
                }
            }
        }
        rows.ints = ints;
    }

    /// `acc += x * sums`, the sums of the weights of the rows at `plus`
    /// less those at `minus` (`ints` is scratch). Up to [`CHUNK_ROWS`] rows
    /// (nearly always), each piece's sums go straight into `acc`, the same
    /// operations without storing them as `i32` and reading them again
    /// (2% of a banking77 prediction went to that round trip).
    fn add_block(&self, acc: &mut [f32], plus: &[u32], minus: &[u32], x: f32, ints: &mut [i32]) {
        if plus.len() + minus.len() > CHUNK_ROWS {
            self.sum_block(plus, minus, ints);
            self.add_scaled(acc, ints, x);
            return;
        }
        let w = &self.weights;
        let diff = (plus.len().wrapping_sub(minus.len())) as u16;
        for (offset, pairs) in pieces(self.stride) {
            let Some(acc) = acc.get_mut(offset..offset + 2 * pairs) else {
                continue;
            };
            match pairs {
                40 => add_sums(acc, sum_rows::<40>(w, plus, minus, offset), diff, x),
                32 => add_sums(acc, sum_rows::<32>(w, plus, minus, offset), diff, x),
                16 => add_sums(acc, sum_rows::<16>(w, plus, minus, offset), diff, x),
                _ => add_sums(acc, sum_rows::<8>(w, plus, minus, offset), diff, x),
            }
        }
    }

    /// Sets `ints` to the sums of the weights of the rows at `plus` less
    /// those at `minus`, in chunks of at most [`CHUNK_ROWS`] rows (the
    /// chunks add in `i32`, exact in any order).
    fn sum_block(&self, plus: &[u32], minus: &[u32], ints: &mut [i32]) {
        if plus.len() + minus.len() <= CHUNK_ROWS {
            self.sum_chunk(plus, minus, ints, true);
        } else {
            let chunks = plus.chunks(CHUNK_ROWS).map(|c| (c, &[][..]));
            let chunks = chunks.chain(minus.chunks(CHUNK_ROWS).map(|c| (&[][..], c)));
            for (i, (plus, minus)) in chunks.enumerate() {
                self.sum_chunk(plus, minus, ints, i == 0);
            }
        }
    }

    /// Adds to `ints` (or sets them to, for the `first` chunk: zeroing
    /// them first was a `memset` call per block) the sums of the weights
    /// of the rows at `plus` less those at `minus` (at most
    /// [`CHUNK_ROWS`] rows in all), piece by piece, each piece's outputs
    /// split (see [`add_split`]).
    fn sum_chunk(&self, plus: &[u32], minus: &[u32], ints: &mut [i32], first: bool) {
        let w = &self.weights;
        let diff = (plus.len().wrapping_sub(minus.len())) as u16;
        for (offset, pairs) in pieces(self.stride) {
            let out = ints.get_mut(offset..offset + 2 * pairs).unwrap_or_default();
            match pairs {
                40 => add_split(out, sum_rows::<40>(w, plus, minus, offset), diff, first),
                32 => add_split(out, sum_rows::<32>(w, plus, minus, offset), diff, first),
                16 => add_split(out, sum_rows::<16>(w, plus, minus, offset), diff, first),
                _ => add_split(out, sum_rows::<8>(w, plus, minus, offset), diff, first),
            }
        }
    }

    /// `acc += x * ints` for the integer sums of [`LiveRows::sum_chunk`],
    /// whose outputs are split by piece: each piece's even outputs, then
    /// its odd ones.
    fn add_scaled(&self, acc: &mut [f32], ints: &[i32], x: f32) {
        for (offset, pairs) in pieces(self.stride) {
            let range = offset..offset + 2 * pairs;
            let (Some(acc), Some(ints)) = (acc.get_mut(range.clone()), ints.get(range)) else {
                continue;
            };
            match pairs {
                40 => add_scaled_piece::<40>(acc, ints, x),
                32 => add_scaled_piece::<32>(acc, ints, x),
                16 => add_scaled_piece::<16>(acc, ints, x),
                _ => add_scaled_piece::<8>(acc, ints, x),
            }
        }
    }

    /// Where the packed row of `bucket` starts, or the zero row after the
    /// live ones if that bucket's row is all zero. No branch on liveness:
    /// which buckets a message hits is unpredictable.
    #[inline]
    fn start_or_zero(&self, bucket: u32) -> usize {
        self.starts
            .get(bucket as usize)
            .map_or(self.zero_row * self.stride, |&s| s as usize)
    }

    /// Where the packed row of `bucket` starts, or `None` if that row is
    /// all zero.
    #[inline]
    fn start(&self, bucket: u32) -> Option<usize> {
        let start = self.start_or_zero(bucket);
        (start != self.zero_row * self.stride).then_some(start)
    }
}

/// SplitMix64: a tiny, specified generator, so the shuffle (and with it the
/// model) does not change when a random-number crate changes its algorithm.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // Modulo bias is irrelevant for shuffling training data.
        (self.next() % (n.max(1) as u64)) as usize
    }
}

/// Trains a model. `calibration` (held-out examples, may be empty) fits the
/// softmax temperature; `card` is stored as the model's description.
/// `progress` is called after each epoch with (epoch, epochs).
///
/// # Errors
/// [`ModelError::Training`] if there are no examples or no intents.
pub fn train(
    examples: &[Example],
    calibration: &[Example],
    config: &TrainConfig,
    card: String,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<IntentModel, ModelError> {
    let mut intents: Vec<String> = examples.iter().map(|e| e.intent.clone()).collect();
    intents.sort();
    intents.dedup();
    if intents.is_empty() {
        return Err(ModelError::Training("no examples".into()));
    }
    let reasons = config.reasons.clone();
    let gate = config.gate && !reasons.is_empty();
    let k = intents.len();
    let width = k + reasons.len() + usize::from(gate);
    let featurizer = Featurizer::new(config.bits);
    let dim = featurizer.dim();

    let encode = |e: &Example| -> (Vec<Feature>, usize, Vec<bool>) {
        let mut f = Vec::new();
        featurizer.extract(&e.text, &mut f);
        let y = intents.binary_search(&e.intent).unwrap_or(0);
        let r = reasons.iter().map(|r| e.reasons.contains(r)).collect();
        (f, y, r)
    };
    let data: Vec<(Vec<Feature>, usize, Vec<bool>)> = examples.iter().map(encode).collect();

    let mut w = vec![0.0f32; dim * width];
    let mut g2 = vec![0.0f32; dim * width];
    let mut b = vec![0.0f32; width];
    let mut bg2 = vec![0.0f32; width];
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut rng = SplitMix(config.seed);
    let mut scores = vec![0.0f32; width];
    let mut grad = vec![0.0f32; width];
    let eta = config.learning_rate;
    const EPS: f32 = 1e-6;
    for epoch in 0..config.epochs {
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        for &idx in &order {
            let Some((feats, y, ys)) = data.get(idx) else {
                continue;
            };
            let weight = examples.get(idx).map_or(1.0, |e| e.weight);
            scores.copy_from_slice(&b);
            for &(f, x) in feats {
                let start = f as usize * width;
                if let Some(row) = w.get(start..start + width) {
                    for (s, wv) in scores.iter_mut().zip(row) {
                        *s += x * wv;
                    }
                }
            }
            let (si, sr) = scores.split_at(k);
            let p = softmax(si, 1.0);
            let gate_here = gate && examples.get(idx).is_some_and(|e| e.gate);
            for (c, g) in grad.iter_mut().enumerate() {
                *g = if c < k {
                    let target = if c == *y { 1.0 } else { 0.0 };
                    p.get(c).copied().unwrap_or(0.0) - target
                } else if c == k + reasons.len() {
                    // The gate: "any reason", from the marked examples only.
                    if gate_here {
                        let target = if ys.iter().any(|&r| r) { 1.0 } else { 0.0 };
                        sigmoid(sr.get(c - k).copied().unwrap_or(0.0)) - target
                    } else {
                        0.0
                    }
                } else {
                    let target = if ys.get(c - k).copied().unwrap_or(false) {
                        1.0
                    } else {
                        0.0
                    };
                    sigmoid(sr.get(c - k).copied().unwrap_or(0.0)) - target
                } * weight;
            }
            for &(f, x) in feats {
                let start = f as usize * width;
                let (Some(row), Some(acc)) = (
                    w.get_mut(start..start + width),
                    g2.get_mut(start..start + width),
                ) else {
                    continue;
                };
                for ((wv, a), g) in row.iter_mut().zip(acc.iter_mut()).zip(&grad) {
                    if g.abs() < 1e-5 {
                        continue;
                    }
                    let gx = g * x + config.l2 * *wv;
                    *a += gx * gx;
                    *wv -= eta * gx / (a.sqrt() + EPS);
                }
            }
            for ((bv, a), g) in b.iter_mut().zip(bg2.iter_mut()).zip(&grad) {
                *a += g * g;
                *bv -= eta * g / (a.sqrt() + EPS);
            }
        }
        progress(epoch + 1, config.epochs);
    }

    // Quantise: one scale per output column.
    let mut scales = vec![0.0f32; width];
    for row in w.chunks(width) {
        for (s, v) in scales.iter_mut().zip(row) {
            *s = s.max(v.abs());
        }
    }
    for s in scales.iter_mut() {
        *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
    }
    let weights: Vec<i8> = w
        .chunks(width)
        .flat_map(|row| {
            row.iter()
                .zip(&scales)
                .map(|(v, s)| (v / s).round().clamp(-127.0, 127.0) as i8)
                .collect::<Vec<i8>>()
        })
        .collect();
    let mut model = IntentModel {
        format: MODEL_FORMAT.into(),
        card,
        bits: featurizer.bits(),
        thresholds: vec![0.5; reasons.len()],
        gate: gate.then_some(0.5),
        combiner: None,
        categories: None,
        exemplars: None,
        language_gates: Vec::new(),
        intents,
        reasons,
        weights,
        scales,
        bias: b,
        temperature: 1.0,
        live: LiveRows::default(),
    };
    model.live = LiveRows::build(&model.weights, model.width());
    model.temperature = fit_temperature(&model, calibration);
    Ok(model)
}

/// Fits on every row, then (with `folds >= 2`) refits once per fold of the
/// held-out rows without that fold and rescores the fold's rows with it.
///
/// `xs` holds the held-out rows first (row `j` is `held_out[index[j]]`),
/// then rows that join every fit; `fit(keep)` fits on the rows `keep`
/// accepts, `score` reads one row. Folds are by a hash of the text. Returns
/// the full fit and, per held-out row, `(index into held_out, score)`, the
/// full fit's score where a fold could not be fitted. `None` if the full
/// fit fails.
fn cross_fit<M, T>(
    held_out: &[Example],
    index: &[usize],
    xs: &[Vec<f64>],
    folds: usize,
    fit: impl Fn(&dyn Fn(usize) -> bool) -> Option<M>,
    score: impl Fn(&M, &[f64]) -> T,
) -> Option<(M, Vec<(usize, T)>)> {
    let full = fit(&|_| true)?;
    let mut out_of_fold: Vec<(usize, T)> = index
        .iter()
        .zip(xs)
        .map(|(&i, x)| (i, score(&full, x)))
        .collect();
    if folds >= 2 {
        let held = index.len();
        let fold_of: Vec<u64> = index
            .iter()
            .map(|&i| {
                held_out
                    .get(i)
                    .map_or(0, |e| xxh3_64(e.text.as_bytes()) % folds as u64)
            })
            .collect();
        for k in 0..folds as u64 {
            let Some(m) = fit(&|j| j >= held || fold_of.get(j) != Some(&k)) else {
                continue;
            };
            for ((slot, x), f) in out_of_fold.iter_mut().zip(xs).zip(&fold_of) {
                if *f == k {
                    slot.1 = score(&m, x);
                }
            }
        }
    }
    Some((full, out_of_fold))
}

/// Weighted logistic regression with an L2 penalty `l2 * |w|^2 / 2` on the
/// weights (not the intercept), by Newton's method with step halving:
/// `(weights, intercept)`, or `None` if a step cannot be solved (a
/// singular system, which the penalty rules out for `l2 > 0`).
fn fit_logistic(xs: &[Vec<f64>], ys: &[f64], ws: &[f64], l2: f64) -> Option<(Vec<f64>, f64)> {
    let d = xs.first()?.len();
    // theta = [w_0 .. w_{d-1}, b]
    let mut theta = vec![0.0f64; d + 1];
    let loss = |theta: &[f64]| -> f64 {
        let mut total = 0.0;
        for ((x, &y), &w) in xs.iter().zip(ys).zip(ws) {
            let z = dot(theta, x);
            // log(1 + e^z) - y z, computed without overflow
            total += w * (z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z);
        }
        total + 0.5 * l2 * theta.iter().take(d).map(|t| t * t).sum::<f64>()
    };
    let mut current = loss(&theta);
    for _ in 0..50 {
        let mut grad = vec![0.0f64; d + 1];
        let mut hess = vec![vec![0.0f64; d + 1]; d + 1];
        for ((x, &y), &w) in xs.iter().zip(ys).zip(ws) {
            let p = 1.0 / (1.0 + (-dot(&theta, x)).exp());
            let r = w * (p - y);
            let c = w * p * (1.0 - p);
            for i in 0..=d {
                let xi = x.get(i).copied().unwrap_or(1.0);
                if let Some(g) = grad.get_mut(i) {
                    *g += r * xi;
                }
                if let Some(row) = hess.get_mut(i) {
                    for (j, h) in row.iter_mut().enumerate().take(i + 1) {
                        *h += c * xi * x.get(j).copied().unwrap_or(1.0);
                    }
                }
            }
        }
        for i in 0..=d {
            for j in 0..i {
                let v = hess.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0.0);
                if let Some(h) = hess.get_mut(j).and_then(|r| r.get_mut(i)) {
                    *h = v;
                }
            }
            if i < d {
                if let Some(g) = grad.get_mut(i) {
                    *g += l2 * theta.get(i).copied().unwrap_or(0.0);
                }
                if let Some(h) = hess.get_mut(i).and_then(|r| r.get_mut(i)) {
                    *h += l2;
                }
            }
        }
        let step = solve(hess, grad)?;
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let trial: Vec<f64> = theta
                .iter()
                .zip(&step)
                .map(|(t, s)| t - scale * s)
                .collect();
            let l = loss(&trial);
            if l <= current {
                theta = trial;
                let gain = current - l;
                current = l;
                accepted = gain > 1e-10 * (1.0 + current.abs());
                break;
            }
            scale /= 2.0;
        }
        if !accepted {
            break;
        }
    }
    let bias = theta.pop()?;
    Some((theta, bias))
}

/// `theta · [x, 1]` (the last entry of `theta` is the intercept).
fn dot(theta: &[f64], x: &[f64]) -> f64 {
    let mut z = theta.last().copied().unwrap_or(0.0);
    for (t, v) in theta.iter().zip(x) {
        z += t * v;
    }
    z
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None`
/// for a singular (or non-finite) system.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| {
            let ai = a.get(i).and_then(|r| r.get(col)).map_or(0.0, |v| v.abs());
            let aj = a.get(j).and_then(|r| r.get(col)).map_or(0.0, |v| v.abs());
            ai.total_cmp(&aj)
        })?;
        a.swap(col, pivot);
        b.swap(col, pivot);
        let diag = *a.get(col)?.get(col)?;
        if !diag.is_finite() || diag.abs() < 1e-12 {
            return None;
        }
        let pivot_row = a.get(col)?.clone();
        let pivot_b = *b.get(col)?;
        for row in col + 1..n {
            let r = a.get_mut(row)?;
            let f = *r.get(col)? / diag;
            if f == 0.0 {
                continue;
            }
            for (v, p) in r.iter_mut().zip(&pivot_row).skip(col) {
                *v -= f * p;
            }
            *b.get_mut(row)? -= f * pivot_b;
        }
    }
    let mut x = vec![0.0f64; n];
    for row in (0..n).rev() {
        let r = a.get(row)?;
        let mut v = *b.get(row)?;
        for (c, xv) in r.iter().zip(&x).skip(row + 1) {
            v -= c * xv;
        }
        *x.get_mut(row)? = v / r.get(row)?;
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// The temperature minimising the negative log-likelihood of the held-out
/// intents (golden-section search on `[0.25, 8]`; 1.0 without data).
fn fit_temperature(model: &IntentModel, held_out: &[Example]) -> f32 {
    let known: Vec<(Vec<f32>, usize)> = held_out
        .iter()
        .filter_map(|e| {
            let y = model.intents.iter().position(|i| *i == e.intent)?;
            let mut feats = Vec::new();
            model.featurizer().extract(&e.text, &mut feats);
            let logits = model.logits(&feats);
            Some((logits, y))
        })
        .collect();
    if known.is_empty() {
        return 1.0;
    }
    let nll = |t: f32| -> f32 {
        known
            .iter()
            .map(|(z, y)| -softmax(z, t).get(*y).copied().unwrap_or(0.0).max(1e-9).ln())
            .sum()
    };
    let (mut lo, mut hi) = (0.25f32, 8.0f32);
    let phi = 0.618_034f32;
    for _ in 0..40 {
        let a = hi - phi * (hi - lo);
        let c = lo + phi * (hi - lo);
        if nll(a) < nll(c) {
            hi = c;
        } else {
            lo = a;
        }
    }
    (lo + hi) / 2.0
}

impl IntentModel {
    fn logits(&self, feats: &[Feature]) -> Vec<f32> {
        let width = self.width();
        let mut acc = vec![0.0f32; width];
        for &(bucket, x) in feats {
            let start = bucket as usize * width;
            if let Some(row) = self.weights.get(start..start + width) {
                for (a, &q) in acc.iter_mut().zip(row) {
                    *a += x * f32::from(q);
                }
            }
        }
        acc.iter()
            .zip(&self.scales)
            .zip(&self.bias)
            .take(self.intents.len())
            .map(|((a, s), b)| a * s + b)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model file of an earlier format: the fields every format starts
    /// with, tagged `format`, then `later`, that format's own fields already
    /// serialised (postcard writes a tuple as its fields in order, so the
    /// parts concatenate). Written field by field here, not through the
    /// reader's `ModelPrefix`, so a layout mistake there cannot hide.
    fn legacy_file(m: &IntentModel, format: &str, later: &[u8]) -> Vec<u8> {
        let mut bytes = postcard::to_stdvec(&(
            format,
            &m.card,
            m.bits,
            &m.intents,
            &m.reasons,
            &m.weights,
            &m.scales,
            &m.bias,
            m.temperature,
            &m.thresholds,
        ))
        .unwrap();
        bytes.extend_from_slice(later);
        bytes
    }

    fn ex(text: &str, intent: &str, reasons: &[EscalationReason]) -> Example {
        Example {
            text: text.into(),
            intent: intent.into(),
            reasons: reasons.to_vec(),
            weight: 1.0,
            gate: true,
            category: None,
        }
    }

    /// The toy models' training settings: one `refund` head and a gate
    /// (the toy examples all train it).
    fn gated_config() -> TrainConfig {
        TrainConfig {
            bits: 14,
            epochs: 5,
            reasons: vec![EscalationReason::Refund],
            gate: true,
            ..TrainConfig::default()
        }
    }

    fn toy() -> Vec<Example> {
        use EscalationReason::Refund;
        let mut v = Vec::new();
        for i in 0..20 {
            v.push(ex(
                &format!("what is the price of plan {i}"),
                "pricing",
                &[],
            ));
            v.push(ex(&format!("kitne ka hai model {i}"), "pricing", &[]));
            v.push(ex(
                &format!("i want my money back for order {i}"),
                "refund",
                &[Refund],
            ));
            v.push(ex(
                &format!("refund chahiye order {i} ka"),
                "refund",
                &[Refund],
            ));
            v.push(ex(&format!("thanks a lot {i}"), "acknowledgement", &[]));
        }
        v
    }

    #[test]
    fn learns_and_round_trips_deterministically() {
        let cfg = TrainConfig {
            bits: 14,
            epochs: 5,
            reasons: vec![EscalationReason::Refund],
            ..TrainConfig::default()
        };
        let data = toy();
        let m1 = train(&data, &data, &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        let m2 = train(&data, &data, &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        let bytes = m1.to_bytes().unwrap();
        assert_eq!(bytes, m2.to_bytes().unwrap());
        let m = IntentModel::from_bytes(&bytes).unwrap();
        let p = m.predict("price of plan 99?");
        assert_eq!(m.intents()[p.intent], "pricing");
        assert!(p.confidence > 0.5);
        let p = m.predict("mera refund chahiye");
        assert_eq!(m.intents()[p.intent], "refund");
        assert_eq!(m.fired(&p).len(), 1);
        let sum: f32 = p.intent_probs.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }

    /// The gate learns "any reason" from the examples marked for it only,
    /// round-trips, and a first-format file (no gate) still loads.
    #[test]
    fn gate_learns_from_marked_examples_and_v1_files_load() {
        let mut data = toy();
        // Unmarked examples that would teach the opposite: ignored by the gate.
        for i in 0..20 {
            data.push(Example {
                gate: false,
                ..ex(&format!("i want my money back {i}"), "refund", &[])
            });
        }
        let cfg = gated_config();
        let m = train(&data, &[], &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        assert_eq!(m.gate(), Some(0.5));
        let m = IntentModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        let yes = m.predict("refund chahiye order 99 ka").gate_prob.unwrap();
        let no = m.predict("what is the price of plan 99").gate_prob.unwrap();
        assert!(yes > 0.7 && no < 0.3, "{yes} {no}");

        // The first format is the same fields without the gate.
        let plain = train(
            &toy(),
            &[],
            &TrainConfig {
                gate: false,
                ..cfg.clone()
            },
            "toy".into(),
            &mut |_, _| {},
        )
        .unwrap();
        let v1 = legacy_file(&plain, MODEL_FORMAT_V1, &[]);
        let loaded = IntentModel::from_bytes(&v1).unwrap();
        assert_eq!(loaded.gate(), None);
        let p = loaded.predict("mera refund chahiye");
        assert_eq!(p, plain.predict("mera refund chahiye"));
        assert_eq!(p.gate_prob, None);
        assert!(
            IntentModel::from_bytes(
                &postcard::to_stdvec(&("switchboard-intent-model/9", 1u8)).unwrap()
            )
            .is_err()
        );
    }

    /// Newton's method finds the maximum-likelihood fit: data drawn
    /// exactly from `sigmoid(2x - 1)` (as weights on both labels) give back
    /// 2 and -1.
    #[test]
    fn logistic_fit_recovers_known_coefficients() {
        let (mut xs, mut ys, mut ws) = (Vec::new(), Vec::new(), Vec::new());
        for i in -20..=20 {
            let x = f64::from(i) / 5.0;
            let p = 1.0 / (1.0 + (-(2.0 * x - 1.0)).exp());
            for (y, w) in [(1.0, p), (0.0, 1.0 - p)] {
                xs.push(vec![x]);
                ys.push(y);
                ws.push(w);
            }
        }
        let (w, b) = fit_logistic(&xs, &ys, &ws, 0.0).unwrap();
        assert!(
            (w[0] - 2.0).abs() < 1e-6 && (b + 1.0).abs() < 1e-6,
            "{w:?} {b}"
        );
        // The penalty shrinks the weight, not the intercept's role.
        let (w, _) = fit_logistic(&xs, &ys, &ws, 10.0).unwrap();
        assert!(w[0] > 0.0 && w[0] < 2.0, "{w:?}");
        // Separable data stay finite under a penalty.
        let (w, b) = fit_logistic(&[vec![-1.0], vec![1.0]], &[0.0, 1.0], &[1.0, 1.0], 1.0).unwrap();
        assert!(w[0].is_finite() && w[0] > 0.0 && b.is_finite());
    }

    /// A combiner fitted on held-out predictions separates the toy
    /// escalations, round-trips in the file, and needs a gate; a
    /// second-format file (no combiner) still loads.
    #[test]
    fn combiner_fits_round_trips_and_v2_files_load() {
        let cfg = gated_config();
        let data = toy();
        let mut m = train(&data, &[], &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        let before = m.predict("refund chahiye order 99 ka");
        assert_eq!(before.escalation_prob, None);
        assert_eq!(before.escalation_score(), before.gate_prob);
        let v2 = legacy_file(&m, MODEL_FORMAT_V2, &postcard::to_stdvec(&m.gate).unwrap());
        let loaded = IntentModel::from_bytes(&v2).unwrap();
        assert_eq!(loaded.combiner(), None);
        assert_eq!(loaded.predict("refund chahiye order 99 ka"), before);

        let fit = m.fit_combiner(&data, 1.0, 5).unwrap();
        assert_eq!(m.fit_combiner(&data, 1.0, 5), Some(fit.clone()));
        // Every example is scored once, out of its fold.
        assert_eq!(fit.out_of_fold.len(), data.len());
        let oof_yes = fit
            .out_of_fold
            .iter()
            .filter(|(i, p)| data[*i].reasons.is_empty() != (*p >= 0.5))
            .count();
        assert!(
            oof_yes >= data.len() * 9 / 10,
            "{oof_yes} of {}",
            data.len()
        );
        m.set_combiner(Some(fit.combiner)).unwrap();
        let m = IntentModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert!(m.combiner().is_some());
        let yes = m
            .predict("mera refund chahiye order 7 ka")
            .escalation_score()
            .unwrap();
        let no = m
            .predict("kitne ka hai model 7")
            .escalation_score()
            .unwrap();
        assert!(yes > 0.7 && no < 0.3, "{yes} {no}");

        // Extra (cross-fitted) rows join the fit but get no out-of-fold
        // score; rows with other outputs are skipped.
        let held: Vec<Example> = data.iter().take(10).cloned().collect();
        let extra: Vec<(Prediction, &Example)> = data
            .iter()
            .skip(10)
            .map(|e| (m.predict(&e.text), e))
            .collect();
        let with = m.fit_combiner_with(&held, &extra, 1.0, 5).unwrap();
        assert_eq!(with.out_of_fold.len(), held.len());
        let alone = m.fit_combiner(&held, 1.0, 5);
        assert_ne!(alone.map(|f| f.combiner), Some(with.combiner.clone()));
        let mut odd = extra.clone();
        for (p, _) in odd.iter_mut() {
            p.intent_probs.pop();
        }
        assert_eq!(
            m.fit_combiner_with(&held, &odd, 1.0, 5).map(|f| f.combiner),
            m.fit_combiner(&held, 1.0, 5).map(|f| f.combiner)
        );

        let mut plain = train(
            &data,
            &[],
            &TrainConfig {
                gate: false,
                ..cfg.clone()
            },
            "toy".into(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(plain.fit_combiner(&data, 1.0, 5), None);
        let wrong = m.combiner().cloned();
        assert!(plain.set_combiner(wrong).is_err());
        assert_eq!(plain.combiner(), None);
    }

    /// A category head learns the categories of labelled examples (and
    /// only theirs), round-trips in the file, is checked against the
    /// model's outputs, and a third-format file (no head) still loads.
    #[test]
    fn category_head_fits_round_trips_and_v3_files_load() {
        let cfg = gated_config();
        let category = |e: &Example| match e.intent.as_str() {
            "acknowledgement" => "passive_engagement",
            _ => "information_request",
        };
        let data: Vec<Example> = toy()
            .into_iter()
            .map(|e| Example {
                category: Some(category(&e).into()),
                ..e
            })
            .collect();
        let mut m = train(&data, &[], &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        let fit = m.fit_combiner(&data, 1.0, 5).unwrap();
        m.set_combiner(Some(fit.combiner)).unwrap();
        let before = m.predict("thanks a lot 99");
        assert!(before.category_probs.is_empty());
        assert_eq!(m.category(&before), None);
        let v3 = legacy_file(
            &m,
            MODEL_FORMAT_V3,
            &postcard::to_stdvec(&(m.gate, &m.combiner)).unwrap(),
        );
        let loaded = IntentModel::from_bytes(&v3).unwrap();
        assert_eq!(loaded.categories(), None);
        assert_eq!(loaded.predict("thanks a lot 99"), before);

        // Unlabelled examples take no part.
        let mut mixed = data.clone();
        mixed.push(ex("what is the price of plan 99", "pricing", &[]));
        let fit = m.fit_categories(&mixed, &[], 1.0, 0.5, 5).unwrap();
        assert_eq!(m.fit_categories(&data, &[], 1.0, 0.5, 5), Some(fit.clone()));
        assert_eq!(
            fit.head.names(),
            ["information_request", "passive_engagement"]
        );
        assert_eq!(fit.out_of_fold.len(), data.len());
        let right = fit
            .out_of_fold
            .iter()
            .filter(|(i, c)| fit.head.names()[*c] == category(&data[*i]))
            .count();
        assert!(right >= data.len() * 9 / 10, "{right} of {}", data.len());
        m.set_categories(Some(fit.head.clone())).unwrap();
        let m = IntentModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(m.categories(), Some(&fit.head));
        let p = m.predict("thanks a lot 7");
        assert_eq!(p.category_probs.len(), 2);
        assert_eq!(m.category(&p).map(|c| c.0), Some("passive_engagement"));
        let p = m.predict("kitne ka hai model 7");
        assert_eq!(m.category(&p).map(|c| c.0), Some("information_request"));
        // The escalation combiner's probability is unchanged by the head.
        assert_eq!(
            p.escalation_prob,
            loaded.predict("kitne ka hai model 7").escalation_prob
        );

        // One category is no head; a head for other outputs is refused.
        let one: Vec<Example> = toy()
            .into_iter()
            .map(|e| Example {
                category: Some("information_request".into()),
                ..e
            })
            .collect();
        assert_eq!(m.fit_categories(&one, &[], 1.0, 0.5, 5), None);
        let mut plain = train(
            &data,
            &[],
            &TrainConfig {
                gate: false,
                ..cfg.clone()
            },
            "toy".into(),
            &mut |_, _| {},
        )
        .unwrap();
        assert!(plain.set_categories(Some(fit.head)).is_err());
        assert_eq!(plain.categories(), None);
        // Without a gate a head still fits (it needs no escalation output).
        let own = plain.fit_categories(&data, &[], 1.0, 0.5, 0).unwrap();
        plain.set_categories(Some(own.head)).unwrap();
    }

    /// An exemplar index joins the combiner's and the category head's
    /// inputs, round-trips in the file, scores a training message without
    /// itself, must match a fitted combiner, and a fourth-format file (no
    /// index) still loads with its category head.
    #[test]
    fn exemplars_join_the_combiner_round_trip_and_v4_files_load() {
        use crate::exemplar::{Exemplar, ExemplarIndex};
        let cfg = gated_config();
        let data: Vec<Example> = toy()
            .into_iter()
            .map(|e| Example {
                category: Some(
                    if e.intent == "acknowledgement" {
                        "passive_engagement"
                    } else {
                        "information_request"
                    }
                    .into(),
                ),
                ..e
            })
            .collect();
        let mut m = train(&data, &[], &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        let fit = m.fit_combiner(&data, 1.0, 5).unwrap();
        m.set_combiner(Some(fit.combiner)).unwrap();
        let head = m.fit_categories(&data, &[], 1.0, 0.5, 5).unwrap().head;
        m.set_categories(Some(head)).unwrap();
        let v4 = legacy_file(
            &m,
            MODEL_FORMAT_V4,
            &postcard::to_stdvec(&(m.gate, &m.combiner, &m.categories)).unwrap(),
        );
        let loaded = IntentModel::from_bytes(&v4).unwrap();
        assert!(loaded.categories().is_some() && loaded.exemplars().is_none());
        assert_eq!(
            loaded.predict("thanks a lot 3"),
            m.predict("thanks a lot 3")
        );

        let rows: Vec<Exemplar<'_>> = data
            .iter()
            .map(|e| Exemplar {
                text: &e.text,
                escalates: !e.reasons.is_empty(),
                category: e.category.as_deref(),
            })
            .collect();
        let index = ExemplarIndex::build(&rows, 12).unwrap();
        // The combiner and head were fitted without the vote's inputs.
        assert!(m.set_exemplars(Some(index.clone())).is_err());
        m.set_combiner(None).unwrap();
        m.set_categories(None).unwrap();
        m.set_exemplars(Some(index)).unwrap();
        let seen = m.predict("refund chahiye order 3 ka");
        let unseen = m.predict_held_out("refund chahiye order 3 ka");
        let sim = |p: &Prediction| p.exemplar.as_ref().map_or(0.0, |v| v.similarity);
        assert!(
            sim(&seen) > 0.99 && sim(&unseen) < 0.99,
            "{seen:?} {unseen:?}"
        );
        let fit = m.fit_combiner(&data, 1.0, 5).unwrap();
        m.set_combiner(Some(fit.combiner)).unwrap();
        let head = m.fit_categories(&data, &[], 1.0, 0.5, 5).unwrap().head;
        m.set_categories(Some(head)).unwrap();
        let bytes = m.to_bytes().unwrap();
        let back = IntentModel::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes().unwrap(), bytes);
        let p = back.predict("mera refund chahiye order 7 ka");
        assert_eq!(p, m.predict("mera refund chahiye order 7 ka"));
        assert!(p.escalation_score().unwrap() > 0.7, "{p:?}");
        // Features carry no text: the vote of a message sharing no word.
        let mut feats = Vec::new();
        back.featurizer().extract("thanks a lot 7", &mut feats);
        assert_eq!(
            back.predict_features(&feats).exemplar.map(|v| v.similarity),
            Some(0.0)
        );
        // Removing the index breaks the fitted combiner's inputs.
        let mut without = back.clone();
        assert!(without.set_exemplars(None).is_err());

        // Format 5 ended at the exemplar index; it loads with one gate
        // threshold for every language.
        let v5 = legacy_file(
            &back,
            MODEL_FORMAT_V5,
            &postcard::to_stdvec(&(back.gate, &back.combiner, &back.categories, &back.exemplars))
                .unwrap(),
        );
        let old = IntentModel::from_bytes(&v5).unwrap();
        assert!(old.language_gates().is_empty());
        assert_eq!(old.to_bytes().unwrap(), bytes);
    }

    /// Per-language gate thresholds: sorted, clamped, the last of a
    /// repeated code wins, other languages fall back to the model's gate,
    /// and they survive a round trip; a damaged list is refused.
    #[test]
    fn language_gates_override_the_gate_for_their_language() {
        let cfg = gated_config();
        let mut m = train(&toy(), &[], &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        m.set_gate(0.4);
        m.set_language_gates(&[
            ("hi".into(), 0.6),
            ("en".into(), 1.5),
            ("".into(), 0.1),
            ("hi".into(), 0.55),
        ]);
        assert_eq!(
            m.language_gates(),
            &[("en".to_owned(), 1.0), ("hi".to_owned(), 0.55)]
        );
        assert_eq!(m.gate_for("hi"), Some(0.55));
        assert_eq!(m.gate_for("en"), Some(1.0));
        assert_eq!(m.gate_for("hinglish"), Some(0.4));
        let back = IntentModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back.language_gates(), m.language_gates());
        assert_eq!(back.gate_for("hi"), Some(0.55));

        let mut damaged = m.clone();
        damaged.language_gates.reverse();
        let bytes = postcard::to_stdvec(&damaged).unwrap();
        assert!(matches!(
            IntentModel::from_bytes(&bytes),
            Err(ModelError::Inconsistent(_))
        ));

        let mut plain = train(
            &toy(),
            &[],
            &TrainConfig { gate: false, ..cfg },
            "toy".into(),
            &mut |_, _| {},
        )
        .unwrap();
        plain.set_language_gates(&[("hi".into(), 0.6)]);
        assert!(plain.language_gates().is_empty() && plain.gate_for("hi").is_none());
    }

    /// The built-in model decodes (with `crate::wire`'s faster decoders)
    /// to a model that encodes to the very same bytes: those decoders
    /// read what the derived encoder writes.
    #[test]
    fn the_builtin_model_round_trips_byte_for_byte() {
        let builtin = IntentModel::from_bytes(crate::triage::BUILTIN_MODEL).unwrap();
        assert!(builtin.exemplars.as_ref().is_some_and(|e| !e.is_empty()));
        assert!(builtin.to_bytes().unwrap() == crate::triage::BUILTIN_MODEL);
    }

    /// The integer-sum prediction is the float one of the sorted features
    /// up to rounding, for the toy model and the built-in one.
    #[test]
    fn grouped_prediction_matches_float_path() {
        let cfg = TrainConfig {
            bits: 12,
            epochs: 5,
            reasons: vec![EscalationReason::Refund],
            ..TrainConfig::default()
        };
        let toy = train(&toy(), &[], &cfg, "toy".into(), &mut |_, _| {}).unwrap();
        let builtin = IntentModel::from_bytes(crate::triage::BUILTIN_MODEL).unwrap();
        let long = "refund chahiye ".repeat(300);
        // Over `CHUNK_ROWS` distinct unit features in one block.
        let many: String = (0..600).map(|i| format!("w{i}x{} ", i * 7)).collect();
        let texts = [
            "",
            "price of plan 99?",
            "mera refund chahiye!! abhi",
            "I WANT MY MONEY BACK NOW, order 12345 ₹500",
            "मेरा पैसा वापस करो",
            "thanks thanks thanks a lot a lot",
            long.as_str(),
            many.as_str(),
        ];
        for m in [&toy, &builtin] {
            for t in texts {
                let fast = m.predict(t);
                let mut feats = Vec::new();
                m.featurizer().extract(t, &mut feats);
                let slow = m.predict_features(&feats);
                assert_eq!(fast.intent, slow.intent, "{t:?}");
                let probs = fast.intent_probs.iter().zip(&slow.intent_probs);
                let reasons = fast.reason_probs.iter().zip(&slow.reason_probs);
                for (a, b) in probs.chain(reasons) {
                    assert!((a - b).abs() < 1e-5, "{t:?}: {a} vs {b}");
                }
            }
        }
    }

    /// The prediction's exponential is `f32::exp` up to rounding.
    #[test]
    fn exp_below_zero_matches_std() {
        let mut x = 0.0f32;
        while x > -100.0 {
            let (a, b) = (exp_below_zero(x), x.exp());
            assert!((a - b).abs() <= 4e-7 * b + 1e-37, "{x}: {a} vs {b}");
            x -= 0.001_37;
        }
        assert_eq!(exp_below_zero(0.0), 1.0);
        assert!(exp_below_zero(f32::NEG_INFINITY) < 1e-37);
        assert!(exp_below_zero(f32::NAN).is_nan());
    }

    /// The largest probability `softmax_in_place` reports is the one
    /// `argmax` finds, at the same first place.
    #[test]
    fn softmax_reports_its_largest_probability() {
        use proptest::prelude::*;
        let value = prop_oneof![
            -30.0f32..30.0,
            Just(f32::NAN),
            Just(f32::INFINITY),
            Just(0.0),
            Just(1.0),
        ];
        let temperature = prop_oneof![0.05f32..5.0, Just(1.0)];
        proptest!(|(v in proptest::collection::vec(value, 0..90), t in temperature)| {
            let mut p = v.clone();
            let top = softmax_in_place(&mut p, t);
            let (i, best) = argmax(&p);
            let first = p.iter().position(|&x| x == top).map_or((0, f32::NEG_INFINITY), |j| (j, top));
            prop_assert_eq!(first.0, i);
            prop_assert_eq!(first.1.to_bits(), best.to_bits());
        });
    }

    /// `argmax`, `max_of` and `sum_of` are the folds they replace (the sum
    /// up to rounding), whatever the values: NaN, infinities, signed zeros,
    /// ties, any length.
    #[test]
    fn argmax_max_and_sum_match_folds() {
        use proptest::prelude::*;
        let value = prop_oneof![
            -2.0f32..2.0,
            Just(f32::NAN),
            Just(f32::NEG_INFINITY),
            Just(f32::INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(1.0),
        ];
        proptest!(|(v in proptest::collection::vec(value, 0..40))| {
            let fold = v.iter().copied().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, p)| {
                if p > best.1 { (i, p) } else { best }
            });
            let (i, p) = argmax(&v);
            prop_assert_eq!(i, fold.0);
            prop_assert_eq!(p.to_bits(), fold.1.to_bits());
            let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            prop_assert!(max_of(&v) == max || (max_of(&v).is_nan() && max.is_nan()));
            let finite: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
            let sum: f32 = finite.iter().sum();
            prop_assert!((sum_of(&finite) - sum).abs() <= 1e-5);
        });
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(
            IntentModel::from_bytes(b"hello"),
            Err(ModelError::Format(_))
        ));
        assert!(
            train(
                &[],
                &[],
                &TrainConfig::default(),
                String::new(),
                &mut |_, _| {}
            )
            .is_err()
        );
    }
}
