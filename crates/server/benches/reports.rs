//! The summary report over 1,000,000 conversations (issue #6: ≤ 1 s).
//!
//! `cargo bench -p switchboard-server --bench reports [-- CONVERSATIONS RUNS]`
//!
//! Seeds N rolled-up cycles (default 1,000,000) spread over 30 days, with
//! realistic spreads of intents, languages, campaigns, agents, first
//! response and resolution times, SLA outcomes, handoffs and dispositions,
//! written through the store's own `replace_cycles`, then builds the daily
//! aggregates as the rollup does (timed too). Then times the full
//! summary (merge the daily aggregates of the period: exact counts and
//! means, percentiles exact to the second)
//! overall and by intent, agent and campaign, RUNS times each (default 5),
//! and prints the medians.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use switchboard_core::ids::{AgentId, ContactId, ConversationId, InboxId, TeamId};
use switchboard_core::kpi::{Cycle, CycleFacts, Dimensions, SlaOutcome, SlaOutcomes};
use switchboard_core::model::{Category, Priority};
use switchboard_server::config::Config;
use switchboard_server::reports::ReportRuntime;
use switchboard_store::*;
use switchboard_store_sqlite::SqliteStore;

const INTENTS: &[&str] = &[
    "pricing",
    "purchase",
    "availability",
    "booking",
    "order_status",
    "payment",
    "complaint",
    "refund",
    "cancellation",
    "product_info",
    "greeting",
    "acknowledgement",
];
const LANGS: &[&str] = &["en", "hinglish", "hi"];

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn cycle(i: i64, rng: &mut Rng, start: Timestamp) -> Cycle {
    let opened = start + SignedDuration::from_secs(rng.below(30 * 86_400) as i64);
    let frt = (rng.below(100) < 95).then(|| (30 + rng.below(3 * 3600)) as i64 * 1000);
    let resolved = (rng.below(100) < 80)
        .then(|| opened + SignedDuration::from_secs(600 + rng.below(86_400) as i64));
    let category = [
        Category::HighIntentReturn,
        Category::FreshHighIntent,
        Category::InformationRequest,
        Category::PassiveEngagement,
    ][rng.below(4) as usize];
    let campaign = (rng.below(100) < 40).then(|| format!("ad-{}", rng.below(50)));
    let facts = CycleFacts {
        returning: rng.below(100) < 30,
        automated: true,
        bot_handoff: true,
        bot_resolved: false,
        first_response_ms: frt,
        first_response_business_ms: frt,
        next_responses: rng.below(4) as u32,
        next_response_total_ms: rng.below(3_600_000) as i64,
        resolved: resolved.is_some(),
        resolution_ms: resolved.map(|r| r.duration_since(opened).as_millis() as i64),
        resolution_business_ms: None,
        closed_with_disposition: resolved.is_some(),
        sla: SlaOutcomes {
            first_response: Some(if rng.below(100) < 85 {
                SlaOutcome::Hit
            } else {
                SlaOutcome::Missed
            }),
            next_response: None,
            resolution: resolved.map(|_| SlaOutcome::Hit),
        },
        sla_warnings: rng.below(2) as u32,
        handoffs: 1,
        handoffs_acknowledged: rng.below(2) as u32,
        handoff_ack_total_ms: rng.below(600_000) as i64,
        escalations: rng.below(2) as u32,
        escalations_acknowledged: 0,
        escalation_ack_total_ms: 0,
        inbound_messages: 1 + rng.below(5) as u32,
        repeat_messages: rng.below(2) as u32,
        templates_sent: rng.below(2) as u32,
        templates_delivered: 0,
        templates_failed: 0,
        opted_out: false,
    };
    Cycle {
        conversation_id: ConversationId(i),
        contact_id: Some(ContactId(i)),
        seq: 0,
        opened_at: opened,
        dims: Dimensions {
            inbox_id: Some(InboxId(1 + rng.below(3) as i64)),
            team_id: Some(TeamId(1 + rng.below(5) as i64)),
            agent_id: Some(AgentId(1 + rng.below(200) as i64)),
            category: Some(category),
            intent: Some(INTENTS[rng.below(INTENTS.len() as u64) as usize].to_owned()),
            language: Some(LANGS[rng.below(3) as usize].to_owned()),
            source_type: campaign.as_ref().map(|_| "ad".to_owned()),
            source_id: campaign,
        },
        priority: Some(Priority::Medium),
        bot_handoff_at: Some(opened),
        first_reply_at: frt.map(|f| opened + SignedDuration::from_millis(f)),
        resolved_at: resolved,
        disposition: resolved.map(|_| {
            ["won", "follow_up", "not_interested", "resolved", "spam"][rng.below(5) as usize]
                .to_owned()
        }),
        facts,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: i64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("reports.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let start: Timestamp = "2026-10-01T00:00:00Z".parse().unwrap();
        let seeded = Instant::now();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut i = 1;
        while i <= n {
            let batch: Vec<Cycle> = (i..(i + 20_000).min(n + 1)).map(|k| cycle(k, &mut rng, start)).collect();
            i += batch.len() as i64;
            store
                .write(move |tx| {
                    Box::pin(async move {
                        for c in batch {
                            let day = c.opened_at.to_zoned(jiff::tz::TimeZone::UTC).date();
                            tx.replace_cycles(c.conversation_id, &[CycleRecord { cycle: c, day }]).await?;
                        }
                        Ok(())
                    })
                })
                .await
                .unwrap();
        }
        println!("seeded {n} cycles in {:.1} s", seeded.elapsed().as_secs_f64());
        let aggregated = Instant::now();
        let days: Vec<jiff::civil::Date> = (0..31)
            .map(|d| start.to_zoned(jiff::tz::TimeZone::UTC).date() + jiff::Span::new().days(d))
            .collect();
        let per_day = days.clone();
        store
            .write(move |tx| Box::pin(async move { switchboard_server::reports::aggregate_days(tx, per_day).await }))
            .await
            .unwrap();
        println!(
            "daily aggregates of {} days rebuilt in {:.1} s ({:.0} ms per day)",
            days.len(),
            aggregated.elapsed().as_secs_f64(),
            aggregated.elapsed().as_secs_f64() * 1000.0 / days.len() as f64
        );
        let runtime = ReportRuntime::from_config(&Config::default()).unwrap();
        let (from, to) = ("2026-10-01".parse().unwrap(), "2026-10-30".parse().unwrap());
        for by in [None, Some(Dimension::Intent), Some(Dimension::Agent), Some(Dimension::Campaign)] {
            let mut times = Vec::new();
            let mut total = 0;
            for _ in 0..runs {
                let t = Instant::now();
                let s = runtime.summary(&store, from, to, by).await.unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                total = s.total.conversations;
            }
            times.sort_by(f64::total_cmp);
            println!(
                "summary by {:<8} over {total} conversations: median {:.0} ms (min {:.0}, max {:.0}, {runs} runs)",
                by.map_or("(none)", |b| b.as_str()),
                times[times.len() / 2],
                times[0],
                times[times.len() - 1]
            );
        }
    });
}
