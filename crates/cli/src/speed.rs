//! `switchboard speed`: how fast an intent model predicts on this machine.
//!
//! ```text
//! switchboard speed [--model MODEL] --data FILE [--data FILE…] [--passes N]
//! ```
//!
//! Loads the model (default: the built-in one) and the messages' `text`
//! (JSON Lines or CSV, as `train` reads them; labels are not needed),
//! predicts every message once to warm the caches, then times `N` passes of
//! one `predict` call per message (normalisation, hashing and the exemplar
//! vote included, as `switchboard train --test` times them). Prints one
//! JSON object:
//!
//! ```json
//! {"messages": 1000, "passes": 25, "pass_micros": [3.1, …], "micros_per_message": 3.1}
//! ```
//!
//! `pass_micros` is each pass's wall time in microseconds per message, in
//! order; `micros_per_message` is their median. Why a command: a business
//! that trained its own model can check what a message costs on its own
//! hardware, and `bench/baseline.py` calls it between scikit-learn's timed
//! passes, so that both sides of the speed ratio in `EVAL.md` are timed
//! under the same load of a shared host (timed minutes apart, the host's
//! drift was larger than the margin it decides).

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Serialize;
use switchboard_core::classifier::IntentModel;
use switchboard_core::triage::BUILTIN_MODEL;

use crate::data::read_records;
use crate::train::{median, time_predictions};

/// Arguments of `switchboard speed`.
#[derive(Debug, clap::Args)]
pub struct SpeedArgs {
    /// Model file from `switchboard train` (default: the built-in model).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Messages to time (JSON Lines or CSV with a `text` field; repeat for
    /// several files).
    #[arg(long, value_name = "FILE", required = true)]
    pub data: Vec<PathBuf>,
    /// Timed passes over all the messages; the reported time is their
    /// median.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub passes: u32,
}

/// What `switchboard speed` prints.
#[derive(Debug, Serialize)]
pub struct SpeedReport {
    /// Messages timed per pass.
    pub messages: usize,
    /// Timed passes.
    pub passes: usize,
    /// Per pass, in order: wall time in microseconds per message.
    pub pass_micros: Vec<f64>,
    /// The median of `pass_micros`.
    pub micros_per_message: f64,
}

/// Runs `switchboard speed`. Errors: an unreadable or malformed model or
/// data file (named), or no messages.
pub fn run(args: &SpeedArgs) -> anyhow::Result<()> {
    let report = measure(args)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn measure(args: &SpeedArgs) -> anyhow::Result<SpeedReport> {
    let model = match &args.model {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            IntentModel::from_bytes(&bytes).with_context(|| format!("model {}", p.display()))?
        }
        None => IntentModel::from_bytes(BUILTIN_MODEL).context("the built-in model")?,
    };
    let mut texts = Vec::new();
    for p in &args.data {
        texts.extend(read_records(p)?.into_iter().map(|r| r.text));
    }
    if texts.is_empty() {
        bail!("no messages to time in the --data files");
    }
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    // One untimed pass: the first predictions pay for page faults and cold
    // caches that a running service has paid long before.
    time_predictions(&model, &texts, 1);
    let pass_micros = time_predictions(&model, &texts, args.passes as usize);
    Ok(SpeedReport {
        messages: texts.len(),
        passes: pass_micros.len(),
        micros_per_message: median(pass_micros.clone()),
        pass_micros,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(model: Option<PathBuf>, data: PathBuf, passes: u32) -> SpeedArgs {
        SpeedArgs {
            model,
            data: vec![data],
            passes,
        }
    }

    #[test]
    fn times_every_pass_of_the_builtin_model() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("m.jsonl");
        std::fs::write(
            &data,
            "{\"text\":\"refund kab milega\"}\n\n{\"text\":\"what is the fee?\"}\n",
        )
        .unwrap();
        let r = measure(&args(None, data, 3)).unwrap();
        assert_eq!((r.messages, r.passes, r.pass_micros.len()), (2, 3, 3));
        assert!(r.pass_micros.iter().all(|&m| m > 0.0), "{r:?}");
        assert!(r.pass_micros.contains(&r.micros_per_message), "{r:?}");
    }

    #[test]
    fn bad_inputs_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, "\n").unwrap();
        let e = measure(&args(None, empty.clone(), 1)).unwrap_err();
        assert!(format!("{e:#}").contains("no messages"), "{e:#}");
        let junk = dir.path().join("junk.sbm");
        std::fs::write(&junk, b"not a model").unwrap();
        let e = measure(&args(Some(junk), empty, 1)).unwrap_err();
        assert!(format!("{e:#}").contains("junk.sbm"), "{e:#}");
    }
}
