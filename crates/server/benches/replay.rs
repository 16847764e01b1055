//! Replay throughput, end to end (issue #6 goal: ≥ 100,000 messages/s).
//!
//! `cargo bench -p switchboard-server --bench replay [-- COPIES RUNS [sqlite]]`
//!
//! Replays the shipped example corpus (`data/replay/example.jsonl`, 700
//! conversations, 820 customer messages) COPIES times over (default 20:
//! 16,400 messages), each copy two weeks after the previous one with its
//! own customers, through `switchboard_server::replay::run` with the
//! default configuration and roster: webhook bodies into the pipeline,
//! triage, routing, SLA timers, simulated replies and resolves, the
//! rollup and the report. Prints the median of RUNS (default 3). The
//! replay's store is in memory, as `switchboard replay` runs by default;
//! `sqlite` replays into a SQLite file instead (`--keep-db`), the way every
//! replay ran before the in-memory store.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::time::Instant;

use jiff::SignedDuration;
use switchboard_server::config::Config;
use switchboard_server::replay::{ReplayOptions, run};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let copies: i64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let sqlite = args.get(2).is_some_and(|a| a == "sqlite");
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/replay/example.jsonl"
    ))
    .unwrap();
    let base = switchboard_replay::jsonl::parse(&text).unwrap();
    let mut transcripts = Vec::new();
    for k in 0..copies {
        for t in &base {
            let mut t = t.clone();
            t.id = format!("{}#{k}", t.id);
            t.contact = format!("{}#{k}", t.contact);
            for m in &mut t.messages {
                m.at += SignedDuration::from_hours(24 * 14 * k);
            }
            transcripts.push(t);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rates = Vec::new();
    let mut messages = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let simulated = std::sync::Mutex::new(None);
        let progress = |done: u64, total: u64| {
            if done == total {
                let mut s = simulated.lock().unwrap();
                s.get_or_insert_with(Instant::now);
            }
        };
        let report = rt
            .block_on(run(
                Config::default(),
                &transcripts,
                &ReplayOptions {
                    database: sqlite.then(|| dir.path().join(format!("replay{}.db", rates.len()))),
                    ..ReplayOptions::default()
                },
                &progress,
            ))
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        if let Some(at) = *simulated.lock().unwrap() {
            println!(
                "  simulation {:.2} s, reports and triage accuracy {:.2} s",
                at.duration_since(started).as_secs_f64(),
                secs - at.duration_since(started).as_secs_f64()
            );
        }
        messages = report.messages;
        rates.push(report.messages as f64 / secs);
        println!(
            "replayed {} conversations, {} messages, {} simulated replies in {secs:.2} s: {:.0} messages/s",
            report.transcripts,
            report.messages,
            report.replies,
            report.messages as f64 / secs
        );
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "median {:.0} messages/s over {runs} runs of {messages} messages",
        rates[rates.len() / 2]
    );
}
