//! The behavioural suite every [`Store`] backend must pass.
//!
//! Each check takes a fresh, migrated, empty store. A backend's test binary
//! calls [`run_all`] with a factory; a failing check panics with its name.
//! This is test code shipped as a library so that every backend crate runs
//! the very same assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use switchboard_core::assign::Rule;
use switchboard_core::ids::{AgentId, Bsuid, PhoneNumberId, TeamId, WaId};
use switchboard_core::model::{Availability, Category, ConversationStatus, Direction, Role};
use switchboard_core::sla::SlaClock;

use crate::*;

fn t0() -> Timestamp {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

/// Runs `work` in a write transaction and returns its value; panics on error.
async fn w<S, R, F>(store: &S, work: F) -> R
where
    S: Store,
    R: Send + 'static,
    F: for<'t> FnOnce(&'t mut S::Tx) -> BoxFuture<'t, StoreResult<R>> + Send + 'static,
{
    store.write(work).await.unwrap()
}

/// Runs every check, each against a store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    deliveries_round_trip(make().await).await;
    contacts_link_wa_id_and_bsuid(make().await).await;
    messages_dedupe_on_wamid(make().await).await;
    statuses_never_move_backwards(make().await).await;
    one_active_conversation_per_contact_and_inbox(make().await).await;
    teams_and_agents(make().await).await;
    assignments_keep_counters(make().await).await;
    queue_is_ordered_by_due_time_and_pages(make().await).await;
    failed_work_rolls_back(make().await).await;
    timers_are_claimed_once_and_fenced(make().await).await;
    escalations_and_sla_events(make().await).await;
    outbox_is_idempotent_leased_and_fenced(make().await).await;
    handoffs_templates_and_consent(make().await).await;
    reporting_events_follow_changes_and_roll_up(make().await).await;
    one_update_records_its_events_in_one_order(make().await).await;
}

fn upsert(wa: &str) -> ContactUpsert {
    ContactUpsert {
        wa_id: Some(WaId::parse(wa).unwrap()),
        user_id: None,
        name: None,
        username: None,
        at: t0(),
    }
}

async fn conversation<T: StoreTx>(tx: &mut T, wa: &str, at: Timestamp) -> Conversation {
    let inbox = tx
        .upsert_inbox(&InboxUpsert {
            phone_number_id: PhoneNumberId::parse("106540352242922").unwrap(),
            display_phone_number: Some("15550783881".into()),
            waba_id: Some("102290129340398".into()),
            at: t0(),
        })
        .await
        .unwrap();
    let mut c = upsert(wa);
    c.name = Some("Asha".into());
    let contact = tx.upsert_contact(&c).await.unwrap();
    tx.insert_conversation(&NewConversation {
        contact_id: contact.id,
        inbox_id: inbox.id,
        team_id: None,
        attribution: None,
        at,
    })
    .await
    .unwrap()
}

fn message(conversation: &Conversation, wamid: &str) -> NewMessage {
    NewMessage {
        conversation_id: conversation.id,
        wamid: Some(wamid.into()),
        direction: Direction::Inbound,
        message_type: "text".into(),
        text: Some("hello".into()),
        media: None,
        context: None,
        referral: None,
        raw: json!({"id": wamid, "type": "text", "future_field": 1}),
        sent_at: t0(),
        received_at: t0(),
        status: "received".into(),
        triage: None,
    }
}

/// A raw delivery is stored byte for byte and its outcome recorded.
pub async fn deliveries_round_trip<S: Store>(store: S) {
    let body = "{\"a\":\"\\u00e4\\u00f6\\u00e5 \u{1F600}\"}"
        .as_bytes()
        .to_vec();
    let stored = body.clone();
    let id = w(&store, move |tx| {
        Box::pin(async move {
            let id = tx
                .insert_delivery(&NewDelivery {
                    received_at: t0(),
                    body: stored,
                    signature: Some("sha256=00".into()),
                })
                .await?;
            tx.finish_delivery(
                id,
                &DeliveryOutcome {
                    status: DeliveryStatus::DeadLetter,
                    error: Some("bad json".into()),
                    messages: 0,
                    duplicates: 0,
                },
            )
            .await?;
            Ok(id)
        })
    })
    .await;
    let d = store
        .get_delivery(id)
        .await
        .unwrap()
        .expect("delivery stored");
    assert_eq!(d.body, body, "deliveries_round_trip: body bytes");
    assert_eq!(d.status, DeliveryStatus::DeadLetter);
    assert_eq!(store.dead_letters(10).await.unwrap().len(), 1);
    assert_eq!(store.totals().await.unwrap().dead_letters, 1);
}

/// wa_id and BSUID arriving separately and then together make one contact.
pub async fn contacts_link_wa_id_and_bsuid<S: Store>(store: S) {
    w(&store, |tx| {
        Box::pin(async move {
            let by_bsuid = tx
                .upsert_contact(&ContactUpsert {
                    wa_id: None,
                    user_id: Some(Bsuid::parse("US.13491208655302741918").unwrap()),
                    name: None,
                    username: Some("asha".into()),
                    at: t0(),
                })
                .await?;
            let both = tx
                .upsert_contact(&ContactUpsert {
                    wa_id: Some(WaId::parse("16505551234").unwrap()),
                    user_id: Some(Bsuid::parse("US.13491208655302741918").unwrap()),
                    name: Some("Asha".into()),
                    username: None,
                    at: t0(),
                })
                .await?;
            assert_eq!(
                by_bsuid.id, both.id,
                "contacts: BSUID then both ids is one contact"
            );
            assert_eq!(both.wa_id.as_ref().map(WaId::as_str), Some("16505551234"));
            assert_eq!(
                both.username.as_deref(),
                Some("asha"),
                "contacts: username kept"
            );
            let by_wa = tx.upsert_contact(&upsert("16505551234")).await?;
            assert_eq!(by_wa.id, both.id);
            assert_eq!(
                by_wa.name.as_deref(),
                Some("Asha"),
                "contacts: name kept when absent"
            );
            tx.touch_contact_inbound(by_wa.id, t0()).await?;
            tx.touch_contact_inbound(by_wa.id, t0() - SignedDuration::from_hours(1))
                .await?;
            let again = tx.upsert_contact(&upsert("16505551234")).await?;
            assert_eq!(
                again.last_inbound_at,
                Some(t0()),
                "contacts: last_inbound_at never moves back"
            );
            assert_eq!(tx.contact(again.id).await?.map(|c| c.id), Some(again.id));
            Ok(())
        })
    })
    .await;
    assert_eq!(store.totals().await.unwrap().contacts, 1);
}

/// The same wamid is stored once, however often it arrives.
pub async fn messages_dedupe_on_wamid<S: Store>(store: S) {
    let id = w(&store, |tx| {
        Box::pin(async move {
            let c = conversation(tx, "16505551234", t0()).await;
            assert!(!tx.wamid_exists("wamid.A").await?);
            assert!(tx.insert_message(&message(&c, "wamid.A")).await?.is_some());
            assert!(tx.wamid_exists("wamid.A").await?);
            assert!(
                tx.insert_message(&message(&c, "wamid.A")).await?.is_none(),
                "dedupe"
            );
            assert!(
                tx.edit_message("wamid.A", Some("hello again"), t0())
                    .await?
            );
            assert!(!tx.edit_message("wamid.unknown", Some("x"), t0()).await?);
            assert_eq!(tx.recent_messages(c.id, 5).await?.len(), 1);
            Ok(c.id)
        })
    })
    .await;
    assert_eq!(store.count_messages_with_wamid("wamid.A").await.unwrap(), 1);
    let d = store.get_conversation(id).await.unwrap().unwrap();
    assert_eq!(d.messages.len(), 1);
    assert_eq!(d.messages[0].text.as_deref(), Some("hello again"));
    assert!(d.messages[0].edited_at.is_some());
}

/// sent < delivered < read; duplicates are recognised; failed is terminal.
pub async fn statuses_never_move_backwards<S: Store>(store: S) {
    let id = w(&store, |tx| {
        Box::pin(async move {
            let c = conversation(tx, "16505551234", t0()).await;
            let mut m = message(&c, "wamid.OUT");
            m.direction = Direction::Outbound;
            m.status = "pending".into();
            tx.insert_message(&m).await?;
            let st = |s: &str, rank| NewStatus {
                wamid: "wamid.OUT".into(),
                status: s.into(),
                rank,
                at: t0(),
                raw: json!({"status": s}),
            };
            assert_eq!(
                tx.apply_status(&st("read", 3)).await?,
                StatusOutcome::Recorded {
                    message_updated: true
                }
            );
            assert_eq!(
                tx.apply_status(&st("delivered", 2)).await?,
                StatusOutcome::Recorded {
                    message_updated: false
                }
            );
            assert_eq!(
                tx.apply_status(&st("read", 3)).await?,
                StatusOutcome::Duplicate
            );
            // A status for a message we never stored is still recorded.
            let mut other = st("sent", 1);
            other.wamid = "wamid.ELSEWHERE".into();
            assert_eq!(
                tx.apply_status(&other).await?,
                StatusOutcome::Recorded {
                    message_updated: false
                }
            );
            Ok(c.id)
        })
    })
    .await;
    let d = store.get_conversation(id).await.unwrap().unwrap();
    assert_eq!(d.messages[0].status, "read", "statuses: never backwards");
    assert_eq!(store.totals().await.unwrap().statuses, 3);
}

/// At most one unresolved conversation per contact and inbox.
pub async fn one_active_conversation_per_contact_and_inbox<S: Store>(store: S) {
    w(&store, |tx| {
        Box::pin(async move {
            let mut c = conversation(tx, "16505551234", t0()).await;
            let found = tx.active_conversation(c.contact_id, c.inbox_id).await?;
            assert_eq!(found.as_ref().map(|f| f.id), Some(c.id));
            let dup = tx
                .insert_conversation(&NewConversation {
                    contact_id: c.contact_id,
                    inbox_id: c.inbox_id,
                    team_id: None,
                    attribution: None,
                    at: t0(),
                })
                .await;
            assert!(
                matches!(dup, Err(StoreError::Conflict(_))),
                "second active conversation refused: {dup:?}"
            );
            c.status = ConversationStatus::Resolved;
            tx.save_conversation(&c).await?;
            assert!(
                tx.active_conversation(c.contact_id, c.inbox_id)
                    .await?
                    .is_none()
            );
            let contact = tx.contact(c.contact_id).await?.unwrap();
            assert_eq!(
                contact.resolved_conversations, 1,
                "resolved conversations counted"
            );
            let next = tx
                .insert_conversation(&NewConversation {
                    contact_id: c.contact_id,
                    inbox_id: c.inbox_id,
                    team_id: None,
                    attribution: Some(Attribution {
                        source_id: Some("ad-1".into()),
                        ..Attribution::default()
                    }),
                    at: t0(),
                })
                .await?;
            assert_ne!(next.id, c.id);
            assert_eq!(
                next.attribution
                    .as_ref()
                    .and_then(|a| a.source_id.as_deref()),
                Some("ad-1")
            );
            Ok(())
        })
    })
    .await;
}

fn new_agent(email: &str, hash: &str, role: Role, team: Option<TeamId>) -> NewAgent {
    NewAgent {
        name: email.into(),
        email: email.into(),
        role,
        team_id: team,
        skills: vec!["billing".into()],
        capacity: 3,
        availability: Availability::Online,
        token_sha256: hash.into(),
        at: t0(),
    }
}

/// Teams and agents: conflicts, patches, token lookup.
pub async fn teams_and_agents<S: Store>(store: S) {
    let team = store
        .create_team(&NewTeam {
            name: "Sales".into(),
            skills: vec!["sales".into()],
            at: t0(),
        })
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_team(&NewTeam {
                name: "Sales".into(),
                skills: vec![],
                at: t0()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    let new = new_agent(
        "ravi@example.com",
        &"ab".repeat(32),
        Role::Senior,
        Some(team.id),
    );
    let agent = store.create_agent(&new).await.unwrap();
    assert_eq!(agent.open_count, 0);
    assert!(matches!(
        store.create_agent(&new).await,
        Err(StoreError::Conflict(_))
    ));
    let bad_team = new_agent(
        "x@example.com",
        &"cd".repeat(32),
        Role::Agent,
        Some(TeamId(999)),
    );
    assert!(matches!(
        store.create_agent(&bad_team).await,
        Err(StoreError::NotFound(_))
    ));
    let patched = store
        .update_agent(
            agent.id,
            &AgentPatch {
                availability: Some(Availability::Away),
                capacity: Some(8),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (patched.availability, patched.capacity),
        (Availability::Away, 8)
    );
    assert!(matches!(
        store
            .update_agent(AgentId(999), &AgentPatch::default())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .agent_by_token_hash(&"ab".repeat(32))
            .await
            .unwrap()
            .map(|a| a.id),
        Some(agent.id)
    );
    assert!(store.agent_by_token_hash("00").await.unwrap().is_none());
    let roster = w(&store, |tx| Box::pin(async move { tx.roster().await })).await;
    assert_eq!(roster.len(), 1);
    let teams = w(&store, |tx| Box::pin(async move { tx.teams().await })).await;
    assert_eq!(
        teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        vec!["Sales"]
    );
    assert!(
        roster[0].skills.contains(&"sales".to_owned()),
        "team skills merged into roster"
    );
    assert!(roster[0].skills.contains(&"billing".to_owned()));
}

/// Assignments move the open-conversation counters and the contact's last
/// agent; resolving releases capacity exactly once.
pub async fn assignments_keep_counters<S: Store>(store: S) {
    let a = store
        .create_agent(&new_agent("a@x.io", "01", Role::Agent, None))
        .await
        .unwrap()
        .id;
    let b = store
        .create_agent(&new_agent("b@x.io", "02", Role::Agent, None))
        .await
        .unwrap()
        .id;
    let c = w(&store, move |tx| {
        Box::pin(async move {
            let c = conversation(tx, "16505551234", t0()).await;
            assert_eq!(tx.unassigned_conversations(10).await?.len(), 1);
            for (agent, prev, rule, reason) in [
                (a, None, Rule::LeastLoaded, "least loaded"),
                (b, Some(a), Rule::SeniorTier, "escalated"),
            ] {
                tx.record_assignment(&NewAssignment {
                    conversation_id: c.id,
                    agent_id: Some(agent),
                    previous_agent_id: prev,
                    contact_id: c.contact_id,
                    rule,
                    reason: reason.into(),
                    at: t0(),
                })
                .await?;
            }
            assert!(tx.unassigned_conversations(10).await?.is_empty());
            let contact = tx.upsert_contact(&upsert("16505551234")).await?;
            assert_eq!(
                contact.last_agent_id,
                Some(b),
                "contact remembers last agent"
            );
            Ok(c.id)
        })
    })
    .await;
    assert_eq!(store.get_agent(a).await.unwrap().unwrap().open_count, 0);
    assert_eq!(store.get_agent(b).await.unwrap().unwrap().open_count, 1);
    let d = store.get_conversation(c).await.unwrap().unwrap();
    assert_eq!(d.summary.conversation.assignee_id, Some(b));
    assert_eq!(d.assignments.len(), 2);
    assert_eq!(d.assignments[1].reason, "escalated");
    w(&store, move |tx| {
        Box::pin(async move {
            let mut conv = tx.conversation(c).await?.unwrap();
            conv.status = ConversationStatus::Resolved;
            tx.save_conversation(&conv).await?;
            tx.save_conversation(&conv).await?;
            Ok(())
        })
    })
    .await;
    assert_eq!(
        store.get_agent(b).await.unwrap().unwrap().open_count,
        0,
        "resolve releases capacity once"
    );
}

/// The queue is sorted by due time (none last), filters work, cursors page.
pub async fn queue_is_ordered_by_due_time_and_pages<S: Store>(store: S) {
    let ids = w(&store, |tx| {
        Box::pin(async move {
            let mut ids = Vec::new();
            for (i, due_min) in [(0, Some(120)), (1, None), (2, Some(15)), (3, Some(30))] {
                let mut c = conversation(tx, &format!("1650555000{i}"), t0()).await;
                c.first_response_due_at = due_min.map(|m| t0() + SignedDuration::from_mins(m));
                c.waiting_since = Some(t0());
                c.category = Some(if i == 2 {
                    Category::HighIntentReturn
                } else {
                    Category::InformationRequest
                });
                tx.save_conversation(&c).await?;
                ids.push(c.id);
            }
            Ok(ids)
        })
    })
    .await;
    let page = |after| ConversationFilter {
        limit: 3,
        after,
        ..ConversationFilter::default()
    };
    let p1 = store.list_conversations(&page(None)).await.unwrap();
    let order: Vec<_> = p1.items.iter().map(|s| s.conversation.id).collect();
    assert_eq!(
        order,
        vec![ids[2], ids[3], ids[0]],
        "queue: earliest due first"
    );
    let p2 = store.list_conversations(&page(p1.next)).await.unwrap();
    assert_eq!(
        p2.items
            .iter()
            .map(|s| s.conversation.id)
            .collect::<Vec<_>>(),
        vec![ids[1]],
        "no due time last"
    );
    assert!(p2.next.is_none());
    let only = store
        .list_conversations(&ConversationFilter {
            limit: 50,
            category: Some(Category::HighIntentReturn),
            ..ConversationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(only.items.len(), 1);
    let stats = store
        .queue_stats(t0() + SignedDuration::from_mins(20))
        .await
        .unwrap();
    assert_eq!(
        (stats.open, stats.unassigned, stats.overdue),
        (4, 4, 1),
        "only the 15-minute one is overdue at +20m"
    );
}

/// Work that fails leaves no trace.
pub async fn failed_work_rolls_back<S: Store>(store: S) {
    let result = store
        .write(|tx| {
            Box::pin(async move {
                conversation(tx, "16505551234", t0()).await;
                Err::<(), _>(StoreError::Conflict("abandon".into()))
            })
        })
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))));
    let totals = store.totals().await.unwrap();
    assert_eq!(
        (totals.conversations, totals.contacts),
        (0, 0),
        "rolled back"
    );
    // The store still works afterwards.
    w(&store, |tx| {
        Box::pin(async move { Ok(conversation(tx, "16505551234", t0()).await.id) })
    })
    .await;
}

/// Timers: one pending per kind (rescheduling moves it), claimed once with a
/// lease, re-claimable after the lease expires, fenced on completion.
pub async fn timers_are_claimed_once_and_fenced<S: Store>(store: S) {
    let c = w(&store, |tx| {
        Box::pin(async move {
            let c = conversation(tx, "16505551234", t0()).await;
            let timer = |kind, mins| NewTimer {
                conversation_id: c.id,
                kind,
                due_at: t0() + SignedDuration::from_mins(mins),
                payload: None,
                at: t0(),
            };
            tx.schedule_timer(&timer(TimerKind::FirstResponseBreach, 30))
                .await?;
            tx.schedule_timer(&timer(TimerKind::FirstResponseBreach, 15))
                .await?; // moves it
            tx.schedule_timer(&timer(TimerKind::FirstResponseWarning, 12))
                .await?;
            tx.schedule_timer(&timer(TimerKind::ResolutionBreach, 600))
                .await?;
            Ok(c.id)
        })
    })
    .await;
    let pending: u64 = store
        .pending_timers()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(pending, 3, "one pending timer per kind");
    assert_eq!(
        store.next_timer_due().await.unwrap(),
        Some(t0() + SignedDuration::from_mins(12))
    );
    let lease = SignedDuration::from_secs(30);
    let at = t0() + SignedDuration::from_mins(20);
    let claimed = store.claim_due_timers(at, lease, "w1", 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|t| t.kind).collect::<Vec<_>>(),
        vec![
            TimerKind::FirstResponseWarning,
            TimerKind::FirstResponseBreach
        ]
    );
    assert!(
        store
            .claim_due_timers(at, lease, "w2", 10)
            .await
            .unwrap()
            .is_empty(),
        "leased timers are not claimed twice"
    );
    // w1 dies; after the lease, w2 claims the breach again.
    let later = at + SignedDuration::from_mins(1);
    let reclaimed = store
        .claim_due_timers(later, lease, "w2", 10)
        .await
        .unwrap();
    assert_eq!(reclaimed.len(), 2);
    assert_eq!(reclaimed[1].attempts, 2);
    let (warning, breach) = (reclaimed[0].id, reclaimed[1].id);
    let fenced = w(&store, move |tx| {
        Box::pin(async move { tx.complete_timer(breach, "w1", later).await })
    })
    .await;
    assert!(
        !fenced,
        "a worker whose lease was taken over cannot complete"
    );
    assert!(
        w(&store, move |tx| Box::pin(async move {
            tx.complete_timer(breach, "w2", later).await
        }))
        .await
    );
    assert!(
        !w(&store, move |tx| Box::pin(async move {
            tx.complete_timer(breach, "w2", later).await
        }))
        .await,
        "fires once"
    );
    let cancelled = w(&store, move |tx| {
        Box::pin(async move {
            tx.cancel_timers(
                c,
                &[TimerKind::FirstResponseWarning, TimerKind::ResolutionBreach],
                later,
            )
            .await
        })
    })
    .await;
    assert_eq!(cancelled, 2);
    assert!(
        !w(&store, move |tx| Box::pin(async move {
            tx.complete_timer(warning, "w2", later).await
        }))
        .await,
        "cancelled timers do not fire"
    );
    assert!(store.pending_timers().await.unwrap().is_empty());
    assert_eq!(store.next_timer_due().await.unwrap(), None);
}

/// Escalations are listed until acknowledged; SLA events are kept in order.
pub async fn escalations_and_sla_events<S: Store>(store: S) {
    let agent = store
        .create_agent(&new_agent("sup@x.io", "03", Role::Supervisor, None))
        .await
        .unwrap()
        .id;
    let (c, e) = w(&store, move |tx| {
        Box::pin(async move {
            let c = conversation(tx, "16505551234", t0()).await;
            let e = tx
                .insert_escalation(&NewEscalation {
                    conversation_id: c.id,
                    level: EscalationLevel::Supervisor,
                    reason: "no reply 15m after breach".into(),
                    target_agent_id: Some(agent),
                    at: t0(),
                })
                .await?;
            tx.insert_sla_event(&NewSlaEvent {
                conversation_id: c.id,
                clock: SlaClock::FirstResponse,
                event: SlaEventKind::Miss,
                due_at: t0(),
                at: t0(),
                agent_id: Some(agent),
            })
            .await?;
            Ok((c.id, e))
        })
    })
    .await;
    let open = store
        .list_escalations(&EscalationFilter {
            target_agent_id: Some(agent),
            unacknowledged: true,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    let first = store.ack_escalation(e.id, Some(agent), t0()).await.unwrap();
    let again = store
        .ack_escalation(e.id, None, t0() + SignedDuration::from_mins(5))
        .await
        .unwrap();
    assert_eq!(
        first.acknowledged_at, again.acknowledged_at,
        "acknowledging twice keeps the first time"
    );
    assert_eq!(again.acknowledged_by, Some(agent));
    assert!(
        store
            .list_escalations(&EscalationFilter {
                target_agent_id: Some(agent),
                unacknowledged: true,
                limit: 10
            })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.ack_escalation(999, None, t0()).await,
        Err(StoreError::NotFound(_))
    ));
    let d = store.get_conversation(c).await.unwrap().unwrap();
    assert_eq!(d.escalations.len(), 1);
    assert_eq!(
        (
            d.sla_events[0].target.as_str(),
            d.sla_events[0].event.as_str()
        ),
        ("first_response", "miss")
    );
}

/// The outbox: one row per idempotency key, claimed once per lease, results
/// fenced on the lease holder, pacing deferrals not counted as attempts.
pub async fn outbox_is_idempotent_leased_and_fenced<S: Store>(store: S) {
    let first = w(&store, |tx| {
        Box::pin(async move {
            let c = conversation(tx, "16505551234", t0()).await;
            let item = NewOutbox {
                kind: OutboxKind::WhatsappMessage,
                idempotency_key: "msg-1".into(),
                conversation_id: Some(c.id),
                message_id: None,
                phone_number_id: "106540352242922".into(),
                recipient: "16505551234".into(),
                payload: json!({"request": {"type": "text"}}),
                at: t0(),
            };
            let a = tx.enqueue(&item).await?;
            let b = tx.enqueue(&item).await?;
            assert_eq!(a.id, b.id, "same key, same row");
            Ok(a)
        })
    })
    .await;
    assert_eq!(first.status, "pending");
    let lease = SignedDuration::from_secs(60);
    let claimed = store.claim_outbox(t0(), lease, "w1", 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .claim_outbox(t0(), lease, "w2", 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let id = claimed[0].id;
    let later = t0() + SignedDuration::from_secs(5);
    assert!(
        w(&store, move |tx| Box::pin(async move {
            tx.finish_outbox(id, "w1", &OutboxResult::Defer { at: later }, t0())
                .await
        }))
        .await
    );
    let again = store.claim_outbox(later, lease, "w1", 10).await.unwrap();
    assert_eq!(again[0].attempts, 1, "a pacing deferral is not an attempt");
    let retry_at = later + SignedDuration::from_secs(30);
    let retry = OutboxResult::Retry {
        at: retry_at,
        error: "503".into(),
        code: Some(131000),
    };
    assert!(
        !w(&store, move |tx| Box::pin(async move {
            tx.finish_outbox(id, "w2", &retry, later).await
        }))
        .await,
        "fenced"
    );
    let retry = OutboxResult::Retry {
        at: retry_at,
        error: "503".into(),
        code: Some(131000),
    };
    assert!(
        w(&store, move |tx| Box::pin(async move {
            tx.finish_outbox(id, "w1", &retry, later).await
        }))
        .await
    );
    assert!(
        store
            .claim_outbox(later, lease, "w1", 10)
            .await
            .unwrap()
            .is_empty(),
        "not before the backoff"
    );
    assert_eq!(store.next_outbox_due().await.unwrap(), Some(retry_at));
    let third = store.claim_outbox(retry_at, lease, "w3", 10).await.unwrap();
    assert_eq!(third[0].attempts, 2);
    let sent = OutboxResult::Sent {
        wamid: Some("wamid.X".into()),
    };
    assert!(
        w(&store, move |tx| Box::pin(async move {
            tx.finish_outbox(id, "w3", &sent, retry_at).await
        }))
        .await
    );
    let row = store.outbox_by_key("msg-1").await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.last_error), ("sent", None));
    assert!(
        store
            .claim_outbox(retry_at + SignedDuration::from_hours(1), lease, "w1", 10)
            .await
            .unwrap()
            .is_empty(),
        "sent rows stay sent"
    );
    assert_eq!(store.next_outbox_due().await.unwrap(), None);
}

/// Handoffs wait for acknowledgement; templates upsert by name and language
/// and follow status updates; consent changes are recorded on the contact.
pub async fn handoffs_templates_and_consent<S: Store>(store: S) {
    let agent = store
        .create_agent(&new_agent("h@x.io", "09", Role::Agent, None))
        .await
        .unwrap()
        .id;
    let c = w(&store, move |tx| {
        Box::pin(async move {
            let c = conversation(tx, "16505551234", t0()).await;
            let h = tx
                .insert_handoff(&NewHandoff {
                    conversation_id: c.id,
                    from_agent_id: None,
                    to_agent_id: agent,
                    reason: "assigned".into(),
                    summary: json!({"customer_wants": "price"}),
                    at: t0(),
                })
                .await?;
            assert_eq!(tx.open_handoff(c.id).await?.map(|o| o.id), Some(h.id));
            let acked = tx
                .ack_handoff(h.id, t0() + SignedDuration::from_mins(2))
                .await?;
            assert!(acked.acknowledged_at.is_some());
            assert!(tx.open_handoff(c.id).await?.is_none());
            let mut t = TemplateRecord {
                waba_id: "1".into(),
                meta_id: Some("9".into()),
                name: "followup".into(),
                language: "en".into(),
                status: "PENDING".into(),
                category: Some("UTILITY".into()),
                components: json!([]),
                placeholders: json!([]),
                updated_at: t0(),
            };
            tx.upsert_template(&t).await?;
            t.status = "APPROVED".into();
            tx.upsert_template(&t).await?;
            assert!(
                tx.set_template_status("followup", Some("en"), "PAUSED", t0())
                    .await?
            );
            assert!(
                !tx.set_template_status("nope", None, "APPROVED", t0())
                    .await?
            );
            assert_eq!(
                tx.template("followup", "en").await?.map(|t| t.status),
                Some("PAUSED".into())
            );
            tx.record_consent(c.contact_id, false, "keyword: STOP", t0())
                .await?;
            assert!(
                tx.contact(c.contact_id)
                    .await?
                    .unwrap()
                    .opted_out_at
                    .is_some()
            );
            tx.record_consent(c.contact_id, true, "website form", t0())
                .await?;
            let contact = tx.contact(c.contact_id).await?.unwrap();
            assert!(contact.opted_out_at.is_none() && contact.opted_in_at.is_some());
            Ok(c.id)
        })
    })
    .await;
    assert_eq!(store.handoffs(c).await.unwrap().len(), 1);
    assert_eq!(
        store.list_templates().await.unwrap().len(),
        1,
        "one row per name and language"
    );
}

/// Reporting: every change writes its event in the same transaction with
/// the dimensions as written; a failed transaction leaves none; cycles and
/// daily aggregates round-trip and re-contacts are marked both ways.
pub async fn reporting_events_follow_changes_and_roll_up<S: Store>(store: S) {
    use switchboard_core::kpi::{self, EventKind, KpiAccumulator};
    let (first, second) = w(&store, |tx| {
        Box::pin(async move {
            let mut c = conversation(tx, "16505550001", t0()).await;
            tx.insert_message(&NewMessage {
                conversation_id: c.id,
                wamid: Some("wamid.rep1".into()),
                direction: Direction::Inbound,
                message_type: "text".into(),
                text: Some("price?".into()),
                media: None,
                context: None,
                referral: None,
                raw: json!({}),
                sent_at: t0(),
                received_at: t0(),
                status: "received".into(),
                triage: None,
            })
            .await?;
            c.category = Some(Category::InformationRequest);
            c.intent = Some("pricing".into());
            c.language = Some("hinglish".into());
            c.waiting_since = Some(t0());
            c.updated_at = t0();
            tx.save_conversation(&c).await?;
            let replied = t0() + SignedDuration::from_mins(5);
            c.first_responded_at = Some(replied);
            c.last_responded_at = Some(replied);
            c.waiting_since = None;
            c.updated_at = replied;
            tx.save_conversation(&c).await?;
            let resolved = t0() + SignedDuration::from_hours(1);
            c.status = ConversationStatus::Resolved;
            c.resolved_at = Some(resolved);
            c.disposition = Some("won".into());
            c.updated_at = resolved;
            tx.save_conversation(&c).await?;
            // The same contact comes back two days later: a new conversation.
            let next = tx
                .insert_conversation(&NewConversation {
                    contact_id: c.contact_id,
                    inbox_id: c.inbox_id,
                    team_id: None,
                    attribution: None,
                    at: t0() + SignedDuration::from_hours(48),
                })
                .await?;
            Ok((c.id, next.id))
        })
    })
    .await;
    let events = store.report_events(first).await.unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::ConversationOpened,
            EventKind::MessageReceived,
            EventKind::Triaged,
            EventKind::Reply,
            EventKind::Resolved
        ],
        "{events:?}"
    );
    let reply = &events[3];
    assert_eq!(
        (reply.detail.as_deref(), reply.value_ms),
        (Some("first"), Some(300_000))
    );
    assert_eq!(reply.dims.intent.as_deref(), Some("pricing"));
    assert_eq!(reply.dims.language.as_deref(), Some("hinglish"));
    assert_eq!(events[4].detail.as_deref(), Some("won"));
    let again = store.report_events(second).await.unwrap();
    assert_eq!(again[0].detail.as_deref(), Some("returning"));

    // Nothing of a rolled-back transaction is reported.
    let failed = store
        .write(|tx| {
            Box::pin(async move {
                conversation(tx, "16505550002", t0()).await;
                Err::<(), _>(StoreError::Conflict("rollback".into()))
            })
        })
        .await;
    assert!(failed.is_err());
    let all_after = w(&store, |tx| {
        Box::pin(async move { tx.report_events_after(0, 1000).await })
    })
    .await;
    assert!(
        all_after
            .iter()
            .all(|e| e.conversation_id == Some(first) || e.conversation_id == Some(second)),
        "{all_after:?}"
    );

    // Cycles, re-contact marking, daily aggregates.
    let day: jiff::civil::Date = "2026-11-20".parse().unwrap();
    let later: jiff::civil::Date = "2026-11-22".parse().unwrap();
    let (dirty, cycles) = w(&store, move |tx| {
        Box::pin(async move {
            let mut dirty = Vec::new();
            for id in [first, second] {
                let events = tx.report_events_of(&[id]).await?;
                let records: Vec<CycleRecord> = kpi::cycles(id, &events, None)
                    .into_iter()
                    .map(|cycle| CycleRecord {
                        day: cycle.opened_at.to_zoned(jiff::tz::TimeZone::UTC).date(),
                        cycle,
                    })
                    .collect();
                dirty.extend(tx.replace_cycles(id, &records).await?);
            }
            let cycles = tx.cycles_of_day(day).await?;
            let mut acc = KpiAccumulator::default();
            for c in &cycles {
                acc.add(&c.facts, c.disposition.as_deref(), c.recontacted);
            }
            tx.replace_daily(
                day,
                &[DailyAggregate {
                    day,
                    dimension: None,
                    key: None,
                    acc,
                }],
            )
            .await?;
            tx.set_rollup_watermark(42).await?;
            assert_eq!(tx.rollup_watermark().await?, 42);
            Ok((dirty, cycles))
        })
    })
    .await;
    assert!(dirty.contains(&day) && dirty.contains(&later), "{dirty:?}");
    assert_eq!(cycles.len(), 1);
    assert!(cycles[0].recontacted, "came back within 7 days");
    assert_eq!(cycles[0].facts.first_response_ms, Some(300_000));
    let daily = store.daily_aggregates(day, later, None).await.unwrap();
    assert_eq!(daily.len(), 1);
    let k = daily[0].acc.finish(|d| kpi::Qualification {
        qualified: d == "won",
        opportunity: false,
    });
    assert_eq!(
        (k.conversations, k.recontact.count, k.qualified.count),
        (1, 1, 1)
    );
    let opened = store.opened_conversations(day, later).await.unwrap();
    assert_eq!(opened.len(), 2);
    assert_eq!(opened[0].intent.as_deref(), Some("pricing"));
}

/// One conversation update that changes several things at once records
/// one event per change, in one order (SQLite's triggers fire newest
/// first: reopened, resolved, automated reply, reply, assigned, triaged):
/// reports break ties on time by event id, so replays on different backends
/// agree only if the order does. The counters follow the same update.
pub async fn one_update_records_its_events_in_one_order<S: Store>(store: S) {
    use switchboard_core::kpi::EventKind;
    use switchboard_core::model::Priority;
    let agent = store
        .create_agent(&new_agent("a@x.io", "01", Role::Agent, None))
        .await
        .unwrap()
        .id;
    let id = w(&store, move |tx| {
        Box::pin(async move {
            let mut c = conversation(tx, "16505551234", t0()).await;
            c.waiting_since = Some(t0());
            tx.save_conversation(&c).await?;
            // Assigned, triaged, answered, automated and resolved in one write.
            let at = t0() + SignedDuration::from_mins(2);
            c.assignee_id = Some(agent);
            c.priority = Priority::High;
            c.intent = Some("refund".into());
            c.auto_ack_at = Some(at);
            c.first_responded_at = Some(at);
            c.last_responded_at = Some(at);
            c.waiting_since = None;
            c.status = ConversationStatus::Resolved;
            c.resolved_at = Some(at);
            c.disposition = Some("resolved".into());
            c.updated_at = at;
            tx.save_conversation(&c).await?;
            // Reopened and moved back to nobody in another.
            c.status = ConversationStatus::Open;
            c.assignee_id = None;
            c.updated_at = at + SignedDuration::from_mins(1);
            tx.save_conversation(&c).await?;
            Ok(c.id)
        })
    })
    .await;
    let kinds: Vec<EventKind> = store
        .report_events(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::ConversationOpened,
            EventKind::Resolved,
            EventKind::AutomatedReply,
            EventKind::Reply,
            EventKind::Assigned,
            EventKind::Triaged,
            EventKind::Reopened,
        ]
    );
    let a = store.get_agent(agent).await.unwrap().unwrap();
    assert_eq!(a.open_count, 0, "assigned while resolved: no load");
    assert!(a.last_assigned_at.is_some());
    let contact = store
        .get_conversation(id)
        .await
        .unwrap()
        .unwrap()
        .summary
        .contact;
    assert_eq!(
        (contact.last_agent_id, contact.resolved_conversations),
        (Some(agent), 0),
        "reopening takes the resolve back"
    );
}
