//! Criterion benchmarks of the pure decisions on the hot path.
//!
//! `cargo bench -p switchboard-core --bench decisions`
//!
//! - `assign/decide_1000_agents`: one assignment decision among 1,000
//!   candidate agents (issue #4 asks for ≤ 1 ms).
//! - `triage/single_message`: one triage decision with the built-in rules
//!   and model (issue #3 asks for ≥ 100,000 per second on one core), over
//!   English, Hinglish and Devanagari messages in turn.
//! - `triage/model_load`: decoding the built-in model (issue #3: ≤ 50 ms).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use switchboard_core::assign::{Candidate, Request, decide};
use switchboard_core::classifier::IntentModel;
use switchboard_core::ids::{AgentId, TeamId};
use switchboard_core::model::{Availability, Category, Role};
use switchboard_core::triage::{BUILTIN_MODEL, History, TriageEngine, TriageInput};

fn roster(n: i64) -> Vec<Candidate> {
    (0..n)
        .map(|i| Candidate {
            id: AgentId(i),
            name: format!("agent-{i}"),
            role: if i % 10 == 0 {
                Role::Senior
            } else {
                Role::Agent
            },
            team_id: Some(TeamId(i % 5)),
            skills: if i % 3 == 0 {
                vec!["billing".into()]
            } else {
                vec!["sales".into()]
            },
            capacity: 20,
            open_count: u32::try_from(i % 17).unwrap(),
            availability: if i % 4 == 0 {
                Availability::Away
            } else {
                Availability::Online
            },
            last_assigned_at: Some(Timestamp::from_second(1_700_000_000 + i).unwrap()),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let agents = roster(1000);
    c.bench_function("assign/decide_1000_agents", |b| {
        b.iter(|| {
            decide(
                black_box(&Request {
                    escalate: false,
                    category: Category::InformationRequest,
                    required_skill: Some("billing"),
                    team_id: Some(TeamId(2)),
                    previous_agent: Some(AgentId(4)),
                }),
                black_box(&agents),
            )
        })
    });
    c.bench_function("assign/decide_1000_agents_escalated", |b| {
        b.iter(|| {
            decide(
                black_box(&Request {
                    escalate: true,
                    category: Category::HighIntentReturn,
                    required_skill: Some("sales"),
                    team_id: Some(TeamId(1)),
                    previous_agent: None,
                }),
                black_box(&agents),
            )
        })
    });
    let engine = TriageEngine::builtin().unwrap();
    let at: Timestamp = "2026-11-20T10:00:00Z".parse().unwrap();
    let texts = [
        "When can we sign? ready to proceed with the 2BHK",
        "price kya hai 3 month batch ka?",
        "paisa kat gaya par order nahi hua, refund chahiye",
        "ok thanks",
        "मेरा पैसा वापस करो, बहुत परेशान हूँ",
        "third time I'm asking, nobody replies",
        "legal documents for the flat kaunse chahiye?",
        "what is your cancellation policy?",
    ];
    c.bench_function("triage/single_message", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % texts.len();
            engine.triage(black_box(&TriageInput {
                text: Some(texts[i]),
                message_type: "text",
                sent_at: at,
                history: History {
                    waiting_inbound: 1,
                    ..History::default()
                },
            }))
        })
    });
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("triage");
    group.sample_size(20);
    group.bench_function("model_load", |b| {
        b.iter(|| IntentModel::from_bytes(black_box(BUILTIN_MODEL)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench, load);
criterion_main!(benches);
