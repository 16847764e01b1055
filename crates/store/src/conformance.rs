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
use switchboard_core::ids::{AgentId, Bsuid, PhoneNumberId, WaId};
use switchboard_core::model::{Availability, Category, ConversationStatus, Direction, Role};

use crate::*;

fn t0() -> Timestamp {
    "2026-11-20T10:00:00Z".parse().unwrap()
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
    rollback_on_drop(make().await).await;
}

async fn inbox_and_contact<T: StoreTx>(tx: &mut T, wa: &str) -> (Inbox, Contact) {
    let inbox = tx
        .upsert_inbox(&InboxUpsert {
            phone_number_id: PhoneNumberId::parse("106540352242922").unwrap(),
            display_phone_number: Some("15550783881".into()),
            waba_id: Some("102290129340398".into()),
            at: t0(),
        })
        .await
        .unwrap();
    let contact = tx
        .upsert_contact(&ContactUpsert {
            wa_id: Some(WaId::parse(wa).unwrap()),
            user_id: None,
            name: Some("Asha".into()),
            username: None,
            at: t0(),
        })
        .await
        .unwrap();
    (inbox, contact)
}

async fn conversation<T: StoreTx>(tx: &mut T, wa: &str, at: Timestamp) -> Conversation {
    let (inbox, contact) = inbox_and_contact(tx, wa).await;
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
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .insert_delivery(&NewDelivery {
            received_at: t0(),
            body: body.clone(),
            signature: Some("sha256=00".into()),
        })
        .await
        .unwrap();
    tx.finish_delivery(
        id,
        &DeliveryOutcome {
            status: DeliveryStatus::DeadLetter,
            error: Some("bad json".into()),
            messages: 0,
            duplicates: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
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
    let mut tx = store.begin().await.unwrap();
    let by_bsuid = tx
        .upsert_contact(&ContactUpsert {
            wa_id: None,
            user_id: Some(Bsuid::parse("US.13491208655302741918").unwrap()),
            name: None,
            username: Some("asha".into()),
            at: t0(),
        })
        .await
        .unwrap();
    let both = tx
        .upsert_contact(&ContactUpsert {
            wa_id: Some(WaId::parse("16505551234").unwrap()),
            user_id: Some(Bsuid::parse("US.13491208655302741918").unwrap()),
            name: Some("Asha".into()),
            username: None,
            at: t0(),
        })
        .await
        .unwrap();
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
    let by_wa = tx
        .upsert_contact(&ContactUpsert {
            wa_id: Some(WaId::parse("16505551234").unwrap()),
            user_id: None,
            name: None,
            username: None,
            at: t0(),
        })
        .await
        .unwrap();
    assert_eq!(by_wa.id, both.id);
    assert_eq!(
        by_wa.name.as_deref(),
        Some("Asha"),
        "contacts: name kept when absent"
    );
    tx.touch_contact_inbound(by_wa.id, t0()).await.unwrap();
    tx.touch_contact_inbound(by_wa.id, t0() - SignedDuration::from_hours(1))
        .await
        .unwrap();
    let again = tx
        .upsert_contact(&ContactUpsert {
            wa_id: Some(WaId::parse("16505551234").unwrap()),
            user_id: None,
            name: None,
            username: None,
            at: t0(),
        })
        .await
        .unwrap();
    assert_eq!(
        again.last_inbound_at,
        Some(t0()),
        "contacts: last_inbound_at never moves back"
    );
    tx.commit().await.unwrap();
    assert_eq!(store.totals().await.unwrap().contacts, 1);
}

/// The same wamid is stored once, however often it arrives.
pub async fn messages_dedupe_on_wamid<S: Store>(store: S) {
    let mut tx = store.begin().await.unwrap();
    let c = conversation(&mut tx, "16505551234", t0()).await;
    assert!(!tx.wamid_exists("wamid.A").await.unwrap());
    assert!(
        tx.insert_message(&message(&c, "wamid.A"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(tx.wamid_exists("wamid.A").await.unwrap());
    assert!(
        tx.insert_message(&message(&c, "wamid.A"))
            .await
            .unwrap()
            .is_none(),
        "dedupe"
    );
    assert!(
        tx.edit_message("wamid.A", Some("hello again"), t0())
            .await
            .unwrap()
    );
    assert!(
        !tx.edit_message("wamid.unknown", Some("x"), t0())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(store.count_messages_with_wamid("wamid.A").await.unwrap(), 1);
    let d = store.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(d.messages.len(), 1);
    assert_eq!(d.messages[0].text.as_deref(), Some("hello again"));
    assert!(d.messages[0].edited_at.is_some());
}

/// sent < delivered < read; duplicates are recognised; failed is terminal.
pub async fn statuses_never_move_backwards<S: Store>(store: S) {
    let mut tx = store.begin().await.unwrap();
    let c = conversation(&mut tx, "16505551234", t0()).await;
    let mut m = message(&c, "wamid.OUT");
    m.direction = Direction::Outbound;
    m.status = "pending".into();
    tx.insert_message(&m).await.unwrap();
    let st = |s: &str, rank| NewStatus {
        wamid: "wamid.OUT".into(),
        status: s.into(),
        rank,
        at: t0(),
        raw: json!({"status": s}),
    };
    assert_eq!(
        tx.apply_status(&st("read", 3)).await.unwrap(),
        StatusOutcome::Recorded {
            message_updated: true
        }
    );
    assert_eq!(
        tx.apply_status(&st("delivered", 2)).await.unwrap(),
        StatusOutcome::Recorded {
            message_updated: false
        }
    );
    assert_eq!(
        tx.apply_status(&st("read", 3)).await.unwrap(),
        StatusOutcome::Duplicate
    );
    // A status for a message we never stored is still recorded.
    let mut other = st("sent", 1);
    other.wamid = "wamid.ELSEWHERE".into();
    assert_eq!(
        tx.apply_status(&other).await.unwrap(),
        StatusOutcome::Recorded {
            message_updated: false
        }
    );
    tx.commit().await.unwrap();
    let d = store.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(d.messages[0].status, "read", "statuses: never backwards");
    assert_eq!(store.totals().await.unwrap().statuses, 3);
}

/// At most one unresolved conversation per contact and inbox.
pub async fn one_active_conversation_per_contact_and_inbox<S: Store>(store: S) {
    let mut tx = store.begin().await.unwrap();
    let mut c = conversation(&mut tx, "16505551234", t0()).await;
    let found = tx
        .active_conversation(c.contact_id, c.inbox_id)
        .await
        .unwrap();
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
    tx.save_conversation(&c).await.unwrap();
    assert!(
        tx.active_conversation(c.contact_id, c.inbox_id)
            .await
            .unwrap()
            .is_none()
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
        .await
        .unwrap();
    assert_ne!(next.id, c.id);
    assert_eq!(
        next.attribution
            .as_ref()
            .and_then(|a| a.source_id.as_deref()),
        Some("ad-1")
    );
    tx.commit().await.unwrap();
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
    let new = NewAgent {
        name: "Ravi".into(),
        email: "ravi@example.com".into(),
        role: Role::Senior,
        team_id: Some(team.id),
        skills: vec!["billing".into()],
        capacity: 5,
        availability: Availability::Online,
        token_sha256: "ab".repeat(32),
        at: t0(),
    };
    let agent = store.create_agent(&new).await.unwrap();
    assert_eq!(agent.open_count, 0);
    assert!(matches!(
        store.create_agent(&new).await,
        Err(StoreError::Conflict(_))
    ));
    let mut bad_team = new.clone();
    bad_team.email = "x@example.com".into();
    bad_team.token_sha256 = "cd".repeat(32);
    bad_team.team_id = Some(switchboard_core::ids::TeamId(999));
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
    let mut tx = store.begin().await.unwrap();
    let roster = tx.roster().await.unwrap();
    assert_eq!(roster.len(), 1);
    assert!(
        roster[0].skills.contains(&"sales".to_owned()),
        "team skills merged into roster"
    );
    assert!(roster[0].skills.contains(&"billing".to_owned()));
    tx.commit().await.unwrap();
}

/// Assignments move the open-conversation counters and the contact's last agent.
pub async fn assignments_keep_counters<S: Store>(store: S) {
    let mk = |email: &str, hash: &str| NewAgent {
        name: email.into(),
        email: email.into(),
        role: Role::Agent,
        team_id: None,
        skills: vec![],
        capacity: 3,
        availability: Availability::Online,
        token_sha256: hash.into(),
        at: t0(),
    };
    let a = store.create_agent(&mk("a@x.io", "01")).await.unwrap();
    let b = store.create_agent(&mk("b@x.io", "02")).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let c = conversation(&mut tx, "16505551234", t0()).await;
    assert_eq!(tx.unassigned_conversations(10).await.unwrap().len(), 1);
    tx.record_assignment(&NewAssignment {
        conversation_id: c.id,
        agent_id: Some(a.id),
        previous_agent_id: None,
        contact_id: c.contact_id,
        rule: Rule::LeastLoaded,
        reason: "least loaded".into(),
        at: t0(),
    })
    .await
    .unwrap();
    tx.record_assignment(&NewAssignment {
        conversation_id: c.id,
        agent_id: Some(b.id),
        previous_agent_id: Some(a.id),
        contact_id: c.contact_id,
        rule: Rule::SeniorTier,
        reason: "escalated".into(),
        at: t0(),
    })
    .await
    .unwrap();
    assert!(tx.unassigned_conversations(10).await.unwrap().is_empty());
    let contact = tx
        .upsert_contact(&ContactUpsert {
            wa_id: Some(WaId::parse("16505551234").unwrap()),
            user_id: None,
            name: None,
            username: None,
            at: t0(),
        })
        .await
        .unwrap();
    assert_eq!(
        contact.last_agent_id,
        Some(b.id),
        "contact remembers last agent"
    );
    tx.commit().await.unwrap();
    assert_eq!(store.get_agent(a.id).await.unwrap().unwrap().open_count, 0);
    assert_eq!(store.get_agent(b.id).await.unwrap().unwrap().open_count, 1);
    // Resolving releases the assignee's capacity; saving again does not count twice.
    let mut tx = store.begin().await.unwrap();
    let mut conv = store
        .get_conversation(c.id)
        .await
        .unwrap()
        .unwrap()
        .summary
        .conversation;
    conv.status = ConversationStatus::Resolved;
    tx.save_conversation(&conv).await.unwrap();
    tx.save_conversation(&conv).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.get_agent(b.id).await.unwrap().unwrap().open_count,
        0,
        "resolve releases capacity"
    );
    let d = store.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(d.summary.conversation.assignee_id, Some(b.id));
    assert_eq!(d.assignments.len(), 2);
    assert_eq!(d.assignments[1].reason, "escalated");
}

/// The queue is sorted by due time (none last), filters work, cursors page.
pub async fn queue_is_ordered_by_due_time_and_pages<S: Store>(store: S) {
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for (i, due_min) in [(0, Some(120)), (1, None), (2, Some(15)), (3, Some(30))] {
        let mut c = conversation(&mut tx, &format!("1650555000{i}"), t0()).await;
        c.first_response_due_at = due_min.map(|m| t0() + SignedDuration::from_mins(m));
        c.waiting_since = Some(t0());
        c.category = Some(if i == 2 {
            Category::HighIntentReturn
        } else {
            Category::InformationRequest
        });
        tx.save_conversation(&c).await.unwrap();
        ids.push(c.id);
    }
    tx.commit().await.unwrap();
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
    assert_eq!(stats.open, 4);
    assert_eq!(stats.unassigned, 4);
    assert_eq!(
        stats.overdue, 1,
        "only the 15-minute one is overdue at +20m"
    );
}

/// Dropping a transaction without commit leaves no trace.
pub async fn rollback_on_drop<S: Store>(store: S) {
    {
        let mut tx = store.begin().await.unwrap();
        conversation(&mut tx, "16505551234", t0()).await;
    }
    let totals = store.totals().await.unwrap();
    assert_eq!((totals.conversations, totals.contacts), (0, 0));
}
