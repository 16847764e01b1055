//! Runs the shared store conformance suite against the in-memory store, and
//! checks that a failed transaction undoes every kind of change exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use switchboard_core::assign::Rule;
use switchboard_core::ids::{AgentId, ConversationId, PhoneNumberId, WaId};
use switchboard_core::kpi;
use switchboard_core::model::{Availability, ConversationStatus, Direction, Priority, Role};
use switchboard_core::sla::SlaClock;
use switchboard_store::*;
use switchboard_store_memory::MemoryStore;

#[tokio::test]
async fn memory_passes_the_conformance_suite() {
    switchboard_store::conformance::run_all(|| async { MemoryStore::new() }).await;
}

fn t0() -> Timestamp {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

fn mins(n: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(n)
}

/// Touches every table and index: contacts, conversations (insert, save,
/// resolve, reopen), messages, statuses, assignments, timers (schedule,
/// move, lease, complete, cancel), escalations, SLA events, handoffs,
/// outbox, templates, consent, deliveries, cycles, daily rows, watermark.
async fn work(
    tx: &mut switchboard_store_memory::MemoryTx,
    wa: &str,
    agent: AgentId,
) -> StoreResult<()> {
    let d = tx
        .insert_delivery(&NewDelivery {
            received_at: t0(),
            body: b"{}".to_vec(),
            signature: None,
        })
        .await?;
    tx.insert_webhook_event(&NewWebhookEvent {
        delivery_id: d,
        field: "messages".into(),
        kind: "unhandled".into(),
        payload: json!({}),
        received_at: t0(),
    })
    .await?;
    let inbox = tx
        .upsert_inbox(&InboxUpsert {
            phone_number_id: PhoneNumberId::parse("106540352242922").unwrap(),
            display_phone_number: Some(format!("1555{wa}")),
            waba_id: None,
            at: t0(),
        })
        .await?;
    let contact = tx
        .upsert_contact(&ContactUpsert {
            wa_id: Some(WaId::parse(wa).unwrap()),
            user_id: None,
            name: Some(format!("name {wa}")),
            username: None,
            at: t0(),
        })
        .await?;
    tx.touch_contact_inbound(contact.id, mins(1)).await?;
    let next_action = |c: ConversationId| NewTimer {
        conversation_id: c,
        kind: TimerKind::NextAction,
        due_at: mins(500),
        payload: None,
        at: t0(),
    };
    let mut c = match tx.active_conversation(contact.id, inbox.id).await? {
        Some(c) => c,
        None => {
            tx.insert_conversation(&NewConversation {
                contact_id: contact.id,
                inbox_id: inbox.id,
                team_id: None,
                attribution: None,
                at: t0(),
            })
            .await?
        }
    };
    // A timer left pending by an earlier round is cancelled and a new one
    // left pending for the next round.
    tx.cancel_timers(c.id, &[TimerKind::NextAction], t0())
        .await?;
    tx.schedule_timer(&next_action(c.id)).await?;
    let m = tx
        .insert_message(&NewMessage {
            conversation_id: c.id,
            wamid: Some(format!("wamid.{wa}.{}", d.0)),
            direction: Direction::Outbound,
            message_type: "text".into(),
            text: Some("hi".into()),
            media: None,
            context: None,
            referral: None,
            raw: json!({}),
            sent_at: mins(1),
            received_at: mins(1),
            status: "pending".into(),
            triage: None,
        })
        .await?
        .unwrap();
    tx.update_outbound(
        m,
        Some(&format!("wamid.out.{wa}.{}", d.0)),
        "accepted",
        mins(2),
    )
    .await?;
    tx.apply_status(&NewStatus {
        wamid: format!("wamid.out.{wa}.{}", d.0),
        status: "delivered".into(),
        rank: 2,
        at: mins(3),
        raw: json!({}),
    })
    .await?;
    tx.edit_message(&format!("wamid.out.{wa}.{}", d.0), Some("edited"), mins(4))
        .await?;
    tx.record_assignment(&NewAssignment {
        conversation_id: c.id,
        agent_id: Some(agent),
        previous_agent_id: c.assignee_id,
        contact_id: contact.id,
        rule: Rule::LeastLoaded,
        reason: "test".into(),
        at: mins(2),
    })
    .await?;
    c = tx.conversation(c.id).await?.unwrap();
    c.priority = Priority::High;
    c.intent = Some("pricing".into());
    c.waiting_since = Some(mins(1));
    c.updated_at = mins(3);
    tx.save_conversation(&c).await?;
    for (kind, at) in [
        (TimerKind::FirstResponseBreach, 10),
        (TimerKind::AutoAck, 5),
        (TimerKind::Dormant, 50),
    ] {
        tx.schedule_timer(&NewTimer {
            conversation_id: c.id,
            kind,
            due_at: mins(at),
            payload: Some(json!({"k": at})),
            at: t0(),
        })
        .await?;
    }
    tx.schedule_timer(&NewTimer {
        conversation_id: c.id,
        kind: TimerKind::Dormant,
        due_at: mins(60),
        payload: None,
        at: t0(),
    })
    .await?;
    let leased = tx.lease_due_timers(mins(20), mins(21), "w", 10).await?;
    for t in &leased {
        tx.complete_timer(t.id, "w", mins(20)).await?;
    }
    tx.cancel_timers(c.id, &[TimerKind::Dormant], mins(20))
        .await?;
    tx.insert_escalation(&NewEscalation {
        conversation_id: c.id,
        level: EscalationLevel::Breach,
        reason: "late".into(),
        target_agent_id: Some(agent),
        at: mins(10),
    })
    .await?;
    tx.insert_sla_event(&NewSlaEvent {
        conversation_id: c.id,
        clock: SlaClock::FirstResponse,
        event: SlaEventKind::Miss,
        due_at: mins(10),
        at: mins(11),
        agent_id: None,
    })
    .await?;
    let h = tx
        .insert_handoff(&NewHandoff {
            conversation_id: c.id,
            from_agent_id: None,
            to_agent_id: agent,
            reason: "bot".into(),
            summary: json!({"intent": "pricing"}),
            at: mins(12),
        })
        .await?;
    tx.ack_handoff(h.id, mins(13)).await?;
    tx.enqueue(&NewOutbox {
        kind: OutboxKind::WhatsappRead,
        idempotency_key: format!("read-{wa}"),
        conversation_id: Some(c.id),
        message_id: None,
        phone_number_id: "106540352242922".into(),
        recipient: wa.into(),
        payload: json!({}),
        at: mins(13),
    })
    .await?;
    tx.upsert_template(&TemplateRecord {
        waba_id: "1".into(),
        meta_id: None,
        name: format!("t{wa}"),
        language: "en".into(),
        status: "APPROVED".into(),
        category: None,
        components: json!([]),
        placeholders: json!([]),
        updated_at: t0(),
    })
    .await?;
    tx.set_template_status(&format!("t{wa}"), None, "PAUSED", mins(14))
        .await?;
    tx.record_consent(contact.id, false, "stop", mins(14))
        .await?;
    c = tx.conversation(c.id).await?.unwrap();
    c.last_responded_at = Some(mins(15));
    c.first_responded_at = Some(mins(15));
    c.waiting_since = None;
    c.status = ConversationStatus::Resolved;
    c.resolved_at = Some(mins(16));
    c.updated_at = mins(16);
    tx.save_conversation(&c).await?;
    c.status = ConversationStatus::Open;
    c.updated_at = mins(17);
    tx.save_conversation(&c).await?;
    tx.cancel_timers(c.id, &[TimerKind::NextAction], mins(17))
        .await?;
    tx.schedule_timer(&next_action(c.id)).await?;
    tx.finish_delivery(
        d,
        &DeliveryOutcome {
            status: DeliveryStatus::Processed,
            error: None,
            messages: 1,
            duplicates: 0,
        },
    )
    .await?;
    let events = tx.report_events_of(&[c.id]).await?;
    let records: Vec<CycleRecord> = kpi::cycles(c.id, &events, None)
        .into_iter()
        .map(|cycle| CycleRecord {
            day: cycle.opened_at.to_zoned(jiff::tz::TimeZone::UTC).date(),
            cycle,
        })
        .collect();
    let days = tx.replace_cycles(c.id, &records).await?;
    for day in days {
        let cycles = tx.cycles_of_day(day).await?;
        let rows: Vec<DailyAggregate> = kpi::aggregate_day(&cycles)
            .into_iter()
            .map(|(dimension, key, acc)| DailyAggregate {
                day,
                dimension,
                key,
                acc,
            })
            .collect();
        tx.replace_daily(day, &rows).await?;
    }
    let last = tx
        .report_events_after(0, 100_000)
        .await?
        .last()
        .map_or(0, |e| e.id);
    tx.set_rollup_watermark(last).await?;
    Ok(())
}

/// Everything the trait can read back, as text.
async fn fingerprint(store: &MemoryStore, agent: AgentId) -> String {
    let mut out = format!("{:?}\n", store.totals().await.unwrap());
    let page = store
        .list_conversations(&ConversationFilter {
            limit: 500,
            ..ConversationFilter::default()
        })
        .await
        .unwrap();
    for s in &page.items {
        let id = s.conversation.id;
        let d = store.get_conversation(id).await.unwrap().unwrap();
        out += &format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n",
            d.summary, d.messages, d.assignments, d.escalations, d.sla_events
        );
        out += &format!("{:?}\n", store.handoffs(id).await.unwrap());
    }
    out += &format!("{:?}\n", store.get_agent(agent).await.unwrap());
    out += &format!("{:?}\n", store.pending_timers().await.unwrap());
    out += &format!("{:?}\n", store.next_timer_due().await.unwrap());
    out += &format!("{:?}\n", store.next_outbox_due().await.unwrap());
    out += &format!("{:?}\n", store.list_templates().await.unwrap());
    out += &format!("{:?}\n", store.queue_stats(mins(30)).await.unwrap());
    let (from, to) = ("2026-11-01".parse().unwrap(), "2026-12-31".parse().unwrap());
    out += &format!(
        "{:?}\n",
        store.daily_aggregates(from, to, None).await.unwrap()
    );
    out += &format!(
        "{:?}\n",
        store.opened_conversations(from, to).await.unwrap()
    );
    // Reads inside a transaction that is then abandoned (leases included).
    let inside = store
        .write(|tx| {
            Box::pin(async move {
                let mut out = format!("{:?}\n", tx.report_events_after(0, 100_000).await?);
                out += &format!("{:?}\n", tx.rollup_watermark().await?);
                out += &format!(
                    "{:?}\n",
                    tx.lease_due_timers(mins(1_000), mins(1_001), "x", 100)
                        .await?
                );
                out += &format!("{:?}\n", tx.roster().await?);
                for wa in ["16505550001", "16505550002"] {
                    out += &format!(
                        "{:?}\n",
                        tx.wamid_exists(&format!("wamid.out.{wa}.2")).await?
                    );
                    out += &format!("{:?}\n", tx.template(&format!("t{wa}"), "en").await?);
                }
                Err::<(), _>(StoreError::Conflict(out))
            })
        })
        .await;
    match inside {
        Err(StoreError::Conflict(text)) => out + &text,
        other => panic!("{other:?}"),
    }
}

async fn run(store: &MemoryStore, wa: &'static str, agent: AgentId, fail: bool) -> StoreResult<()> {
    store
        .write(move |tx| {
            Box::pin(async move {
                work(tx, wa, agent).await?;
                if fail {
                    return Err(StoreError::Conflict("abandon".into()));
                }
                Ok(())
            })
        })
        .await
}

#[tokio::test]
async fn a_failed_transaction_undoes_every_change_exactly() {
    let agent = |store: MemoryStore| async move {
        store
            .create_agent(&NewAgent {
                name: "A".into(),
                email: "a@x.io".into(),
                role: Role::Agent,
                team_id: None,
                skills: Vec::new(),
                capacity: 5,
                availability: Availability::Online,
                token_sha256: "00".into(),
                at: t0(),
            })
            .await
            .unwrap()
            .id
    };
    // Reference: two committed rounds.
    let reference = MemoryStore::new();
    let a = agent(reference.clone()).await;
    run(&reference, "16505550001", a, false).await.unwrap();
    run(&reference, "16505550002", a, false).await.unwrap();
    run(&reference, "16505550001", a, false).await.unwrap();
    // The same, with a failed round (a new contact, and one more round on
    // the first contact's reopened conversation) in between.
    let store = MemoryStore::new();
    let b = agent(store.clone()).await;
    run(&store, "16505550001", b, false).await.unwrap();
    let before = fingerprint(&store, b).await;
    assert!(run(&store, "16505550002", b, true).await.is_err());
    assert!(run(&store, "16505550001", b, true).await.is_err());
    assert_eq!(
        fingerprint(&store, b).await,
        before,
        "nothing of the failed rounds remains"
    );
    run(&store, "16505550002", b, false).await.unwrap();
    run(&store, "16505550001", b, false).await.unwrap();
    assert_eq!(
        fingerprint(&store, b).await,
        fingerprint(&reference, a).await,
        "ids and indexes continue as if the failed rounds never ran"
    );
}
