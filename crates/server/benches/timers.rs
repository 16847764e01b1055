//! Breach detection latency with 100,000 open conversations and timers on
//! SQLite (issue #4: p99 of fire time minus due time ≤ 1 s).
//!
//! `cargo bench -p switchboard-server --bench timers [-- CONVERSATIONS SPREAD_SECS]`
//!
//! Seeds N open, waiting, assigned conversations whose first-response breach
//! timers fall due evenly over SPREAD_SECS (default 100,000 over 60 s), runs
//! the real timer worker on the real clock, and reads each timer's lateness
//! (finished_at - due_at) back from the database. Every breach does the full
//! ladder step: SLA miss event, reassignment with a context note, breach
//! escalation and the supervisor timer.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use switchboard_core::assign::Rule;
use switchboard_core::clock::SystemClock;
use switchboard_core::ids::{PhoneNumberId, WaId};
use switchboard_core::model::{Availability, Category, Role};
use switchboard_server::App;
use switchboard_server::config::Config;
use switchboard_store::*;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let spread: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n, spread));
}

async fn run(n: usize, spread_secs: i64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("timers.db");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", db.display()),
        ..Config::default()
    };
    let app = App::build(config, Arc::new(SystemClock))
        .await
        .unwrap()
        .without_background_timers();
    let store = app.store().clone();
    let worker = app.timers();
    let mut agents = Vec::new();
    for i in 0..20 {
        let a = store
            .create_agent(&NewAgent {
                name: format!("agent-{i}"),
                email: format!("agent-{i}@bench.example"),
                role: if i == 0 {
                    Role::Supervisor
                } else {
                    Role::Agent
                },
                team_id: None,
                skills: vec![],
                capacity: 1_000_000,
                availability: Availability::Online,
                token_sha256: format!("{i:064}"),
                at: Timestamp::now(),
            })
            .await
            .unwrap();
        agents.push(a.id);
    }

    let seed_start = Instant::now();
    let first_due = Timestamp::now() + SignedDuration::from_secs(20 + n as i64 / 20_000);
    let step_us = spread_secs * 1_000_000 / n as i64;
    const CHUNK: usize = 5_000;
    for chunk in 0..n.div_ceil(CHUNK) {
        let agents = agents.clone();
        store
            .write(move |tx| {
                Box::pin(async move {
                    let now = Timestamp::now();
                    let inbox = tx
                        .upsert_inbox(&InboxUpsert {
                            phone_number_id: PhoneNumberId::parse("106540352242922").unwrap(),
                            display_phone_number: None,
                            waba_id: None,
                            at: now,
                        })
                        .await?;
                    for i in chunk * CHUNK..((chunk + 1) * CHUNK).min(n) {
                        let contact = tx
                            .upsert_contact(&ContactUpsert {
                                wa_id: Some(WaId::parse(&format!("91{:010}", i)).unwrap()),
                                user_id: None,
                                name: None,
                                username: None,
                                at: now,
                            })
                            .await?;
                        let mut conv = tx
                            .insert_conversation(&NewConversation {
                                contact_id: contact.id,
                                inbox_id: inbox.id,
                                team_id: None,
                                attribution: None,
                                at: now,
                            })
                            .await?;
                        let agent = agents[1 + i % (agents.len() - 1)];
                        tx.record_assignment(&NewAssignment {
                            conversation_id: conv.id,
                            agent_id: Some(agent),
                            previous_agent_id: None,
                            contact_id: contact.id,
                            rule: Rule::LeastLoaded,
                            reason: "bench".into(),
                            at: now,
                        })
                        .await?;
                        let due = first_due + SignedDuration::from_micros(step_us * i as i64);
                        conv.assignee_id = Some(agent);
                        conv.category = Some(Category::InformationRequest);
                        conv.waiting_since = Some(now);
                        conv.waiting_count = 1;
                        conv.first_response_due_at = Some(due);
                        tx.save_conversation(&conv).await?;
                        tx.schedule_timer(&NewTimer {
                            conversation_id: conv.id,
                            kind: TimerKind::FirstResponseBreach,
                            due_at: due,
                            payload: None,
                            at: now,
                        })
                        .await?;
                    }
                    Ok(())
                })
            })
            .await
            .unwrap();
    }
    println!(
        "seeded {n} open conversations with breach timers in {:.1} s; first due in {:.1} s, spread over {spread_secs} s",
        seed_start.elapsed().as_secs_f64(),
        first_due.duration_since(Timestamp::now()).as_secs_f64()
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.clone().run(async {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let pending: u64 = store
            .pending_timers()
            .await
            .unwrap()
            .iter()
            .filter(|(k, _)| *k == TimerKind::FirstResponseBreach)
            .map(|(_, c)| c)
            .sum();
        if pending == 0 || started.elapsed().as_secs() > 600 {
            break;
        }
    }
    let _ = stop.send(());
    task.await.unwrap();

    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut lateness: Vec<i64> = conn
        .prepare("SELECT finished_at - due_at FROM timers WHERE kind = 'first_response_breach' AND status = 'fired'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let escalations: i64 = conn
        .query_row(
            "SELECT count(*) FROM escalations WHERE level = 'breach'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    lateness.sort_unstable();
    let pct = |p: f64| {
        lateness
            .get(((lateness.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(-1)
    };
    println!(
        "fired {} of {n} breach timers ({escalations} breach escalations); lateness ms: p50 {} p90 {} p99 {} max {}",
        lateness.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lateness.last().copied().unwrap_or(-1)
    );
}
