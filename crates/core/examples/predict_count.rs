//! Runs `predict` on the first N messages of a JSON Lines file, for
//! counting instructions under callgrind.
//!
//! `cargo build --release -p switchboard-core --example predict_count`, then
//! `valgrind --tool=callgrind target/release/examples/predict_count MODEL DATA.jsonl N`
//! for N and for 2N messages: the difference of the two totals over N is
//! the instructions of one prediction, without loading and start-up.
//! Every message is read and held before the first prediction either way,
//! so the two runs differ only in the predictions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use switchboard_core::classifier::IntentModel;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = IntentModel::from_bytes(&std::fs::read(&args[1]).unwrap()).unwrap();
    let texts: Vec<String> = std::fs::read_to_string(&args[2])
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    let n: usize = args[3].parse().unwrap();
    let mut sink = 0usize;
    for t in texts.iter().cycle().take(n) {
        sink = sink.wrapping_add(std::hint::black_box(model.predict(t)).intent);
    }
    println!("{sink}");
}
