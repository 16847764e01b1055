//! `switchboard train`: trains an intent model from labelled messages.
//!
//! ```text
//! switchboard train --data FILE.csv|jsonl [--data FILE…] [--mapping FILE]
//!                   --out MODEL [--test FILE…] [--weight SOURCE=W…]
//!                   [--gate-source SOURCE…] [--bits N] [--epochs N]
//!                   [--report FILE.json]
//! ```
//!
//! Records with `split = "test"` are never used (test splits measure, they
//! do not train). The rest is divided into a training part and a held-out
//! part: the records with `split = "dev"` when there are any, otherwise a
//! fixed 20 % chosen by a hash of the text. The model is trained on the
//! training part and measured on the held-out part (the report printed at
//! the end), which also calibrates the confidence (softmax temperature) and
//! sets each escalation head's threshold (best weighted F1). With
//! `--gate-source`, the model also gets an escalation gate learnt from
//! those sources' messages only; the gate's threshold and one threshold
//! shared by the heads are the pair that maximises recall minus
//! false-escalation rate of "a head fires and the gate agrees" on their
//! held-out messages. The final model is then retrained
//! on both parts with the same settings (`--no-refit` keeps the first
//! one). Same data, same command, same model bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use switchboard_core::classifier::{Example, IntentModel, TrainConfig, train};
use switchboard_core::dataset::{Mapping, Record};
use switchboard_core::metrics::{ClassScore, Confusion};
use switchboard_core::model::EscalationReason;
use xxhash_rust::xxh3::xxh3_64;

use crate::data::read_records;

/// Arguments of `switchboard train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Labelled messages (JSON Lines or CSV; repeat for several files).
    #[arg(long, value_name = "FILE", required = true)]
    pub data: Vec<PathBuf>,
    /// Label mapping (TOML) for records that carry a source `label`
    /// instead of an `intent`; without it such labels are used as intents.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Where to write the model.
    #[arg(long, value_name = "MODEL")]
    pub out: PathBuf,
    /// Also measure the final model on these files (all their records).
    #[arg(long, value_name = "FILE")]
    pub test: Vec<PathBuf>,
    /// Sample weight per source, e.g. `in_domain=4` (default 1).
    #[arg(long, value_name = "SOURCE=W")]
    pub weight: Vec<String>,
    /// Train an escalation gate on this source's messages (repeat for
    /// several; none: no gate). Name every source whose escalation labels
    /// are trustworthy: the default model names all of them (a gate
    /// trained on the in-domain set alone held back public-style
    /// escalations, `EVAL.md`).
    #[arg(long, value_name = "SOURCE")]
    pub gate_source: Vec<String>,
    /// Hash bits (2^bits feature buckets; the model has 2^bits rows).
    #[arg(long, default_value_t = 18)]
    pub bits: u8,
    /// Passes over the data.
    #[arg(long, default_value_t = 12)]
    pub epochs: u32,
    /// L2 penalty on the weights each step touches.
    #[arg(long, default_value_t = 1e-6)]
    pub l2: f32,
    /// AdaGrad base learning rate.
    #[arg(long, default_value_t = 0.2)]
    pub learning_rate: f32,
    /// Keep the model trained without the held-out part.
    #[arg(long)]
    pub no_refit: bool,
    /// Write the held-out (and test) report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Scores of a model on one set of messages.
#[derive(Debug, Serialize)]
pub struct SetReport {
    /// Messages.
    pub messages: usize,
    /// Intent accuracy.
    pub accuracy: f64,
    /// Macro-averaged intent F1.
    pub macro_f1: f64,
    /// Per intent.
    pub intents: BTreeMap<String, ClassScore>,
    /// Mean microseconds per single-message prediction.
    pub micros_per_message: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    model: String,
    train_messages: usize,
    held_out: SetReport,
    thresholds: BTreeMap<String, f32>,
    gate: Option<f32>,
    temperature: f32,
    test: Vec<(String, SetReport)>,
    train_seconds: f64,
    model_bytes: usize,
}

fn bar(quiet: bool, len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if quiet {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        pb.set_draw_target(ProgressDrawTarget::stderr());
    }
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} epochs {elapsed}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_owned());
    pb
}

/// Turns records into examples (gold labels through the mapping); the
/// examples of `gate_sources` train the escalation gate.
pub fn examples(
    records: &[Record],
    mapping: Option<&Mapping>,
    weights: &BTreeMap<String, f32>,
    gate_sources: &[String],
) -> anyhow::Result<Vec<(Example, Option<String>)>> {
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let gold = match (mapping, &r.intent, &r.label) {
            (Some(m), _, _) => m.resolve(r).with_context(|| format!("record {}", i + 1))?,
            (None, Some(intent), _) => switchboard_core::dataset::Gold {
                intent: intent.clone(),
                reasons: r.escalation_reasons.clone().unwrap_or_default(),
            },
            (None, None, Some(switchboard_core::dataset::Labels::One(l))) => {
                switchboard_core::dataset::Gold {
                    intent: l.clone(),
                    reasons: Vec::new(),
                }
            }
            _ => bail!(
                "record {} has no intent (give --mapping for `label` lists)",
                i + 1
            ),
        };
        let weight = r
            .source
            .as_ref()
            .and_then(|s| weights.get(s))
            .copied()
            .unwrap_or(1.0);
        out.push((
            Example {
                text: r.text.clone(),
                intent: gold.intent,
                reasons: gold.reasons,
                weight,
                gate: r.source.as_ref().is_some_and(|s| gate_sources.contains(s)),
            },
            r.split.clone(),
        ));
    }
    Ok(out)
}

/// Timed passes over a scored set: the reported prediction time is their
/// median, so one pass disturbed by another process or a cold cache does
/// not decide it (`bench/baseline.py` times scikit-learn the same way).
const TIMED_PASSES: usize = 5;

/// Measures intent accuracy, macro-F1 and prediction time on `set`; the
/// time is the median over [`TIMED_PASSES`] passes, in microseconds per
/// single-message prediction.
pub fn score(model: &IntentModel, set: &[Example]) -> SetReport {
    let mut c = Confusion::default();
    for e in set {
        let p = model.predict(&e.text);
        let name = model.intents().get(p.intent).map_or("?", String::as_str);
        c.add(&e.intent, name);
    }
    let mut passes: Vec<f64> = (0..TIMED_PASSES)
        .map(|_| {
            let start = Instant::now();
            for e in set {
                std::hint::black_box(model.predict(std::hint::black_box(&e.text)));
            }
            start.elapsed().as_secs_f64() * 1e6 / set.len().max(1) as f64
        })
        .collect();
    passes.sort_by(f64::total_cmp);
    let micros = passes.get(passes.len() / 2).copied().unwrap_or(0.0);
    SetReport {
        messages: set.len(),
        accuracy: c.accuracy(),
        macro_f1: c.macro_f1(),
        intents: c.scores(),
        micros_per_message: micros,
    }
}

/// For each head, the threshold with the best weighted F1 on `held_out`
/// (sample weights count, so in-domain messages weigh as in training),
/// searched on 0.20..=0.90: below 0.2 a head fires on noise.
fn tune_thresholds(model: &IntentModel, held_out: &[Example]) -> Vec<f32> {
    let probs: Vec<Vec<f32>> = held_out
        .iter()
        .map(|e| model.predict(&e.text).reason_probs)
        .collect();
    model
        .reasons()
        .iter()
        .enumerate()
        .map(|(h, reason)| {
            let mut best = (0.5f32, -1.0f64);
            for step in 4..=18 {
                let t = step as f32 * 0.05;
                let (mut tp, mut fp, mut fnn) = (0.0f64, 0.0f64, 0.0f64);
                for (e, p) in held_out.iter().zip(&probs) {
                    let pred = p.get(h).copied().unwrap_or(0.0) >= t;
                    let gold = e.reasons.contains(reason);
                    let w = f64::from(e.weight);
                    match (gold, pred) {
                        (true, true) => tp += w,
                        (false, true) => fp += w,
                        (true, false) => fnn += w,
                        _ => {}
                    }
                }
                let f1 = if tp > 0.0 {
                    2.0 * tp / (2.0 * tp + fnn + fp)
                } else {
                    0.0
                };
                if f1 > best.1 {
                    best = (t, f1);
                }
            }
            best.0
        })
        .collect()
}

/// For a model with a gate: the gate threshold (0.05..=0.95) and one
/// threshold for every head (0.20..=0.50; below 0.2 a head fires on
/// noise, as in [`tune_thresholds`]) that together maximise recall
/// minus false-escalation rate of the model's escalation decision ("a head
/// at or above the head threshold and the gate at or above its own") on
/// the held-out examples that train the gate. With the gate deciding
/// whether to escalate, a head only has to say which reason, so one low
/// threshold serves them all (per-head F1 tuning, made for heads that
/// decide alone, lost recall in cross-validation). `None` for a model
/// without a gate or without such examples.
fn tune_gate(model: &IntentModel, held_out: &[Example]) -> Option<(f32, f32)> {
    model.gate()?;
    let scored: Vec<(bool, f32, f32)> = held_out
        .iter()
        .filter(|e| e.gate)
        .map(|e| {
            let p = model.predict(&e.text);
            let top = p.reason_probs.iter().copied().fold(0.0f32, f32::max);
            let gold = e.reasons.iter().any(|r| model.reasons().contains(r));
            (gold, top, p.gate_prob.unwrap_or(1.0))
        })
        .collect();
    let positives = scored.iter().filter(|(g, _, _)| *g).count();
    let negatives = scored.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut best = ((0.5f32, 0.5f32), f64::NEG_INFINITY);
    for head_step in 4..=10 {
        let head = head_step as f32 * 0.05;
        for gate_step in 1..=19 {
            let gate = gate_step as f32 * 0.05;
            let (mut tp, mut fp) = (0usize, 0usize);
            for (gold, top, g) in &scored {
                if *top >= head && *g >= gate {
                    if *gold {
                        tp += 1;
                    } else {
                        fp += 1;
                    }
                }
            }
            let j = tp as f64 / positives as f64 - fp as f64 / negatives as f64;
            if j > best.1 {
                best = ((gate, head), j);
            }
        }
    }
    Some(best.0)
}

/// Runs `switchboard train`.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let mapping = match &args.mapping {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Some(Mapping::from_toml(&text).with_context(|| p.display().to_string())?)
        }
        None => None,
    };
    let mut weights = BTreeMap::new();
    for w in &args.weight {
        let Some((s, v)) = w.split_once('=') else {
            bail!("--weight {w:?}: expected SOURCE=WEIGHT");
        };
        let v: f32 = v.parse().with_context(|| format!("--weight {w:?}"))?;
        weights.insert(s.to_owned(), v);
    }
    let mut records = Vec::new();
    for p in &args.data {
        records.extend(read_records(p)?);
    }
    let all = examples(&records, mapping.as_ref(), &weights, &args.gate_source)?;
    let usable: Vec<&(Example, Option<String>)> = all
        .iter()
        .filter(|(_, split)| split.as_deref() != Some("test"))
        .collect();
    if usable.is_empty() {
        bail!("no training records (every record is in a test split?)");
    }
    let has_dev = usable.iter().any(|(_, s)| s.as_deref() == Some("dev"));
    let (mut fit, mut held): (Vec<Example>, Vec<Example>) = (Vec::new(), Vec::new());
    for (e, split) in usable {
        let held_out = if has_dev {
            split.as_deref() == Some("dev")
        } else {
            xxh3_64(e.text.as_bytes()).is_multiple_of(5)
        };
        if held_out {
            held.push(e.clone());
        } else {
            fit.push(e.clone());
        }
    }
    let mut reasons: Vec<EscalationReason> = fit.iter().flat_map(|e| e.reasons.clone()).collect();
    reasons.sort();
    reasons.dedup();
    let config = TrainConfig {
        bits: args.bits,
        epochs: args.epochs,
        l2: args.l2,
        learning_rate: args.learning_rate,
        gate: !args.gate_source.is_empty() && !reasons.is_empty(),
        reasons,
        ..TrainConfig::default()
    };
    let sources: BTreeMap<String, usize> = records.iter().fold(BTreeMap::new(), |mut m, r| {
        if r.split.as_deref() != Some("test") {
            *m.entry(r.source.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
        }
        m
    });
    let data_names: Vec<String> = args
        .data
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        })
        .collect();
    let card = format!(
        "trained by `switchboard train` on {} (records per source, test splits excluded: {:?}); mapping {}; weights {:?}; bits {}, epochs {}, l2 {}, learning rate {}; refit on held-out: {}",
        data_names.join(", "),
        sources,
        mapping.as_ref().map_or("none", |m| m.version.as_str()),
        weights,
        config.bits,
        config.epochs,
        config.l2,
        config.learning_rate,
        !args.no_refit
    );
    let started = Instant::now();
    eprintln!(
        "training on {} messages, holding out {} ({} intents, {} escalation heads)",
        fit.len(),
        held.len(),
        {
            let mut i: Vec<&str> = fit.iter().map(|e| e.intent.as_str()).collect();
            i.sort();
            i.dedup();
            i.len()
        },
        config.reasons.len()
    );
    let pb = bar(args.quiet, u64::from(config.epochs), "held-out run");
    let mut model = train(&fit, &held, &config, card.clone(), &mut |e, _| {
        pb.set_position(u64::from(e))
    })?;
    pb.finish_and_clear();
    let held_report = score(&model, &held);
    let gate = tune_gate(&model, &held);
    let thresholds = match gate {
        Some((_, head)) => vec![head; model.reasons().len()],
        None => tune_thresholds(&model, &held),
    };
    let temperature = model.temperature();
    if !args.no_refit && !held.is_empty() {
        let mut both = fit.clone();
        both.extend(held.iter().cloned());
        let pb = bar(args.quiet, u64::from(config.epochs), "final run");
        model = train(&both, &[], &config, card, &mut |e, _| {
            pb.set_position(u64::from(e))
        })?;
        pb.finish_and_clear();
        model.set_temperature(temperature);
    }
    model.set_thresholds(&thresholds);
    if let Some((t, _)) = gate {
        model.set_gate(t);
    }
    let bytes = model.to_bytes()?;
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let train_seconds = started.elapsed().as_secs_f64();

    let mut tests = Vec::new();
    for p in &args.test {
        let recs = read_records(p)?;
        let set: Vec<Example> = examples(&recs, mapping.as_ref(), &weights, &args.gate_source)?
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        tests.push((p.display().to_string(), score(&model, &set)));
    }
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "wrote {} ({} bytes, {} intents) in {train_seconds:.1} s",
        args.out.display(),
        bytes.len(),
        model.intents().len()
    )?;
    writeln!(
        err,
        "held-out ({} messages): accuracy {:.4}, macro-F1 {:.4}",
        held_report.messages, held_report.accuracy, held_report.macro_f1
    )?;
    writeln!(
        err,
        "{:<24} {:>9} {:>9} {:>9} {:>8}",
        "intent", "precision", "recall", "f1", "support"
    )?;
    for (name, s) in &held_report.intents {
        writeln!(
            err,
            "{name:<24} {:>9.3} {:>9.3} {:>9.3} {:>8}",
            s.precision, s.recall, s.f1, s.support
        )?;
    }
    let names: Vec<String> = model.reasons().iter().map(|r| r.to_string()).collect();
    writeln!(
        err,
        "calibration temperature {temperature:.3}; escalation thresholds:"
    )?;
    for (n, t) in names.iter().zip(model.thresholds()) {
        writeln!(err, "  {n:<20} {t:.2}")?;
    }
    if let Some(t) = model.gate() {
        writeln!(err, "  {:<20} {t:.2}", "(gate)")?;
    }
    for (name, t) in &tests {
        writeln!(
            err,
            "test {name} ({} messages): accuracy {:.4}, macro-F1 {:.4}, {:.1} µs/message",
            t.messages, t.accuracy, t.macro_f1, t.micros_per_message
        )?;
    }
    if let Some(path) = &args.report {
        let report = Report {
            model: args.out.display().to_string(),
            train_messages: fit.len() + if args.no_refit { 0 } else { held.len() },
            held_out: held_report,
            thresholds: names
                .into_iter()
                .zip(model.thresholds().iter().copied())
                .collect(),
            gate: model.gate(),
            temperature,
            test: tests,
            train_seconds,
            model_bytes: bytes.len(),
        };
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
