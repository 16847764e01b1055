//! Records a model's predictions on a JSON Lines file and times them.
//!
//! `cargo run --release -p switchboard-core --example predict_dump -- MODEL DATA.jsonl [SPLIT] > out.tsv`
//!
//! MODEL is a `.sbm` file or `builtin`. One output line per message (whose
//! `split` equals SPLIT when given): the predicted intent, the top
//! probability rounded to 1e-5, the fired escalation reasons, then the exact
//! bits of every probability (intents, reasons, gate, combiner, categories),
//! so that two builds' outputs can be compared with `cmp`. The mean time of one `predict` call (the loop
//! `switchboard train --test` times) goes to stderr.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::time::Instant;

use switchboard_core::classifier::IntentModel;
use switchboard_core::features::Grouped;
use switchboard_core::triage::BUILTIN_MODEL;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = if args[1] == "builtin" {
        BUILTIN_MODEL.to_vec()
    } else {
        std::fs::read(&args[1]).unwrap()
    };
    let model = IntentModel::from_bytes(&bytes).unwrap();
    let split = args.get(3);
    let texts: Vec<String> = std::fs::read_to_string(&args[2])
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| split.is_none_or(|s| v.get("split").and_then(|x| x.as_str()) == Some(s)))
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    let mut out = String::new();
    for t in &texts {
        let p = model.predict(t);
        let fired: Vec<String> = model
            .fired(&p)
            .iter()
            .map(|(r, _)| format!("{r:?}"))
            .collect();
        write!(
            out,
            "{}\t{:.5}\t{}\t",
            model.intents()[p.intent],
            p.confidence,
            fired.join(",")
        )
        .unwrap();
        let (gate, escalation) = (p.gate_prob, p.escalation_prob);
        for x in (p.intent_probs.iter().chain(&p.reason_probs))
            .chain(gate.iter().chain(&escalation))
            .chain(&p.category_probs)
        {
            write!(out, "{:08x}", x.to_bits()).unwrap();
        }
        out.push('\n');
    }
    print!("{out}");
    // Timing: several passes, best mean, like `train::score` (one predict per message).
    let mut best = f64::INFINITY;
    let mut first = 0.0;
    let passes: usize = std::env::var("PASSES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5);
    for pass in 0..passes {
        let start = Instant::now();
        let mut sink = 0usize;
        for t in &texts {
            sink = sink.wrapping_add(model.predict(t).intent);
        }
        std::hint::black_box(sink);
        let mean = start.elapsed().as_secs_f64() * 1e6 / texts.len().max(1) as f64;
        if pass == 0 {
            first = mean;
        }
        best = best.min(mean);
    }
    let mut feat_best = f64::INFINITY;
    // The features `predict` uses (grouped for integer sums).
    let mut feats = Grouped::default();
    for _ in 0..passes {
        let start = Instant::now();
        let mut sink = 0usize;
        for t in &texts {
            let norm = switchboard_core::text::normalize(t);
            model.featurizer().extract_grouped(t, &norm, &mut feats);
            sink = sink.wrapping_add(feats.block(1).plus.len());
        }
        std::hint::black_box(sink);
        feat_best = feat_best.min(start.elapsed().as_secs_f64() * 1e6 / texts.len().max(1) as f64);
    }
    let norms: Vec<String> = texts
        .iter()
        .map(|t| switchboard_core::text::normalize(t))
        .collect();
    let (mut norm_best, mut hash_best) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..passes {
        let start = Instant::now();
        for t in &texts {
            std::hint::black_box(switchboard_core::text::normalize(t));
        }
        norm_best = norm_best.min(start.elapsed().as_secs_f64() * 1e6 / texts.len().max(1) as f64);
        let start = Instant::now();
        for (t, n) in texts.iter().zip(&norms) {
            model.featurizer().extract_grouped(t, n, &mut feats);
            std::hint::black_box(&feats);
        }
        hash_best = hash_best.min(start.elapsed().as_secs_f64() * 1e6 / texts.len().max(1) as f64);
    }
    eprintln!(
        "features alone: best {feat_best:.3} us/message (normalize {norm_best:.3}, features of normalised text {hash_best:.3})"
    );
    eprintln!(
        "{} messages: first pass {first:.3} us/predict, best of {passes} {best:.3}",
        texts.len()
    );
}
