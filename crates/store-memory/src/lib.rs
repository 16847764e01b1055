//! Switchboard's in-memory store: the SQLite backend's behaviour in plain
//! Rust collections, for replays (issue #6) and tests.
//!
//! Parts:
//! - [`MemoryStore`]: the whole database (module `state`: one `Vec` per
//!   table, ids from 1 in insert order as SQLite allocates them, and the
//!   indexes that stand in for unique constraints and hot lookups) behind
//!   one [`std::sync::Mutex`]. Reads lock it briefly; a write transaction
//!   holds it for its whole closure, like SQLite's single writer.
//! - [`MemoryTx`] (module `tx`): the write transaction. Changes apply in
//!   place and record their inverse in an undo log; an `Err` (or a panic)
//!   from the closure replays it backwards, so a failed transaction leaves
//!   nothing behind for the price of what it changed. The effects of the
//!   SQLite triggers (agent load and contact counters, migration 0002; the
//!   reporting events with the conversation's dimensions at the time,
//!   migration 0005) are Rust code there, firing in SQLite's order.
//!
//! Times are kept at millisecond precision, as SQLite stores them, so that
//! a replay on this store reads back exactly what one on SQLite would.
//! Columns nothing reads back through the trait (Meta's raw message JSON,
//! the payloads of kept webhook items) are not kept. Nothing is persisted:
//! the state lives as long as the last clone.
#![forbid(unsafe_code)]

mod state;
mod tx;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use jiff::Timestamp;
use switchboard_core::ids::{AgentId, ConversationId, DeliveryId};
use switchboard_core::model::ConversationStatus;
use switchboard_store::*;

use state::{State, TimerStatus, due_key, ms, slot};
pub use tx::MemoryTx;

/// The in-memory [`Store`]. Cheap to clone: clones share one state.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

/// Polls a future once: write closures only await [`MemoryTx`] methods,
/// which never suspend, so one poll completes them.
fn run_ready<T>(fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("the in-memory store's lock is poisoned".into())
}

impl MemoryStore {
    /// An empty store (what a freshly migrated SQLite database holds).
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` in one transaction on the state, committing on `Ok` and
    /// undoing every change on `Err`, on a panic, or when `work` awaits
    /// something other than the transaction.
    fn transaction<R, F>(&self, work: F) -> StoreResult<R>
    where
        F: for<'t> FnOnce(&'t mut MemoryTx) -> BoxFuture<'t, StoreResult<R>>,
    {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        let mut tx = MemoryTx::new(std::mem::take(&mut *guard));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run_ready(work(&mut tx))));
        let result = match outcome {
            Ok(Some(result)) => result,
            Ok(None) => Err(StoreError::Backend(
                "a write transaction awaited something other than the store".into(),
            )),
            Err(_) => Err(StoreError::Backend(
                "a write transaction panicked; rolled back".into(),
            )),
        };
        *guard = if result.is_ok() {
            tx.commit()
        } else {
            tx.rollback()
        };
        result
    }

    /// Runs `f` on the state (a read outside any transaction).
    fn read<R>(&self, f: impl FnOnce(&State) -> R) -> StoreResult<R> {
        let guard = self.state.lock().map_err(|_| poisoned())?;
        Ok(f(&guard))
    }

    /// Runs `f` as one write transaction (the store-level writes).
    fn apply<R>(&self, f: impl FnOnce(&mut MemoryTx) -> StoreResult<R>) -> StoreResult<R> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        let mut tx = MemoryTx::new(std::mem::take(&mut *guard));
        let result = f(&mut tx);
        *guard = if result.is_ok() {
            tx.commit()
        } else {
            tx.rollback()
        };
        result
    }
}

fn summary(s: &State, c: &Conversation) -> Option<ConversationSummary> {
    let contact = s.contacts.get(slot(&s.contacts, c.contact_id.0)?)?.clone();
    let inbox = s.inboxes.get(slot(&s.inboxes, c.inbox_id.0)?)?.clone();
    Some(ConversationSummary {
        conversation: c.clone(),
        contact,
        inbox,
    })
}

#[async_trait]
impl Store for MemoryStore {
    type Tx = MemoryTx;

    async fn write<R, F>(&self, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: for<'t> FnOnce(&'t mut MemoryTx) -> BoxFuture<'t, StoreResult<R>> + Send + 'static,
    {
        self.transaction(work)
    }

    async fn create_team(&self, team: &NewTeam) -> StoreResult<Team> {
        self.apply(|tx| tx.create_team(team))
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        self.read(|s| s.teams.clone())
    }

    async fn create_agent(&self, agent: &NewAgent) -> StoreResult<Agent> {
        self.apply(|tx| tx.create_agent(agent))
    }

    async fn update_agent(&self, id: AgentId, patch: &AgentPatch) -> StoreResult<Agent> {
        self.apply(|tx| tx.update_agent(id, patch))
    }

    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        self.read(|s| slot(&s.agents, id.0).map(|i| s.agents[i].agent.clone()))
    }

    async fn agent_by_token_hash(&self, token_sha256: &str) -> StoreResult<Option<Agent>> {
        self.read(|s| {
            s.agents
                .iter()
                .find(|a| a.token_sha256 == token_sha256)
                .map(|a| a.agent.clone())
        })
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> StoreResult<Page> {
        let limit = f.limit.clamp(1, 500) as usize;
        let after = f.after.map_or((i64::MIN, i64::MIN), |c| (c.due_ms, c.id.0));
        self.read(|s| {
            let mut matching: Vec<&Conversation> = s
                .conversations
                .iter()
                .filter(|c| {
                    f.status.is_none_or(|x| c.status == x)
                        && f.assignee_id.is_none_or(|a| c.assignee_id == Some(a))
                        && (!f.unassigned || c.assignee_id.is_none())
                        && f.team_id.is_none_or(|t| c.team_id == Some(t))
                        && f.category.is_none_or(|x| c.category == Some(x))
                        && (due_key(c), c.id.0) > after
                })
                .collect();
            matching.sort_by_key(|c| (due_key(c), c.id));
            let mut items: Vec<ConversationSummary> = matching
                .into_iter()
                .filter_map(|c| summary(s, c))
                .take(limit + 1)
                .collect();
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|x| QueueCursor {
                    due_ms: due_key(&x.conversation),
                    id: x.conversation.id,
                })
            } else {
                None
            };
            Page { items, next }
        })
    }

    async fn handoffs(&self, id: ConversationId) -> StoreResult<Vec<Handoff>> {
        self.read(|s| {
            s.handoffs_of
                .range((id.0, i64::MIN)..=(id.0, i64::MAX))
                .filter_map(|&(_, h)| slot(&s.handoffs, h).map(|i| s.handoffs[i].clone()))
                .collect()
        })
    }

    async fn get_conversation(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationDetail>> {
        self.read(|s| {
            let c = s.conversations.get(slot(&s.conversations, id.0)?)?;
            let summary = summary(s, c)?;
            let mut messages: Vec<Message> = s
                .messages_of
                .range((id.0, i64::MIN)..=(id.0, i64::MAX))
                .filter_map(|&(_, m)| slot(&s.messages, m))
                .map(|i| s.messages[i].message.clone())
                .collect();
            messages.sort_by_key(|m| (m.timestamp, m.id));
            Some(ConversationDetail {
                summary,
                messages,
                assignments: s
                    .assignments
                    .iter()
                    .filter(|a| a.conversation_id == id)
                    .cloned()
                    .collect(),
                escalations: s
                    .escalations
                    .iter()
                    .filter(|e| e.conversation_id == id)
                    .cloned()
                    .collect(),
                sla_events: s
                    .sla_events
                    .iter()
                    .filter(|e| e.conversation_id == id)
                    .cloned()
                    .collect(),
            })
        })
    }

    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        self.read(|s| slot(&s.deliveries, id.0).map(|i| s.deliveries[i].delivery.clone()))
    }

    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<Delivery>> {
        self.read(|s| {
            s.deliveries
                .iter()
                .rev()
                .filter(|d| d.delivery.status == DeliveryStatus::DeadLetter)
                .take(limit as usize)
                .map(|d| d.delivery.clone())
                .collect()
        })
    }

    async fn queue_stats(&self, now: Timestamp) -> StoreResult<QueueStats> {
        let now = ms(now);
        self.read(|s| {
            let mut q = QueueStats::default();
            for c in s
                .conversations
                .iter()
                .filter(|c| c.status != ConversationStatus::Resolved)
            {
                q.open += 1;
                q.waiting += u64::from(c.waiting_since.is_some());
                q.unassigned += u64::from(c.assignee_id.is_none());
                q.overdue += u64::from(
                    c.waiting_since.is_some()
                        && c.first_responded_at.is_none()
                        && c.first_response_due_at.is_some_and(|d| d < now),
                );
            }
            q
        })
    }

    async fn count_messages_with_wamid(&self, wamid: &str) -> StoreResult<u64> {
        self.read(|s| u64::from(s.message_by_wamid.contains_key(wamid)))
    }

    async fn totals(&self) -> StoreResult<Totals> {
        self.read(|s| Totals {
            deliveries: s.deliveries.len() as u64,
            dead_letters: s
                .deliveries
                .iter()
                .filter(|d| d.delivery.status == DeliveryStatus::DeadLetter)
                .count() as u64,
            messages: s.messages.len() as u64,
            conversations: s.conversations.len() as u64,
            contacts: s.contacts.len() as u64,
            statuses: s.statuses.len() as u64,
            webhook_events: s.webhook_events,
        })
    }

    async fn claim_due_timers(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        let until = now.checked_add(lease).unwrap_or(now);
        self.apply(|tx| Ok(tx.lease(now, until, worker, limit)))
    }

    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>> {
        self.read(|s| s.timers_due.first().map(|(t, _)| *t))
    }

    async fn list_escalations(&self, f: &EscalationFilter) -> StoreResult<Vec<Escalation>> {
        self.read(|s| {
            s.escalations
                .iter()
                .rev()
                .filter(|e| {
                    f.target_agent_id
                        .is_none_or(|a| e.target_agent_id == Some(a))
                        && (!f.unacknowledged || e.acknowledged_at.is_none())
                })
                .take(f.limit.clamp(1, 1000) as usize)
                .cloned()
                .collect()
        })
    }

    async fn get_escalation(&self, id: i64) -> StoreResult<Option<Escalation>> {
        self.read(|s| slot(&s.escalations, id).map(|i| s.escalations[i].clone()))
    }

    async fn ack_escalation(
        &self,
        id: i64,
        by: Option<AgentId>,
        at: Timestamp,
    ) -> StoreResult<Escalation> {
        self.apply(|tx| tx.ack_escalation(id, by, at))
    }

    async fn claim_outbox(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let until = now.checked_add(lease).unwrap_or(now);
        self.apply(|tx| Ok(tx.lease_outbox(now, until, worker, limit)))
    }

    async fn outbox_by_key(&self, key: &str) -> StoreResult<Option<OutboxItem>> {
        self.read(|s| {
            s.outbox_by_key
                .get(key)
                .and_then(|&id| slot(&s.outbox, id))
                .map(|i| s.outbox[i].item.clone())
        })
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>> {
        self.read(|s| {
            s.outbox
                .iter()
                .filter(|o| o.item.status == "pending")
                .map(|o| o.next_attempt_at)
                .min()
        })
    }

    async fn list_templates(&self) -> StoreResult<Vec<TemplateRecord>> {
        self.read(|s| s.templates.values().cloned().collect())
    }

    async fn pending_timers(&self) -> StoreResult<Vec<(TimerKind, u64)>> {
        self.read(|s| {
            // Grouped and ordered by the stored word, as SQL's GROUP BY kind.
            let mut counts: std::collections::BTreeMap<&'static str, (TimerKind, u64)> =
                std::collections::BTreeMap::new();
            for t in s.timers.iter().filter(|t| t.status == TimerStatus::Pending) {
                counts.entry(t.kind.as_str()).or_insert((t.kind, 0)).1 += 1;
            }
            counts.into_values().collect()
        })
    }

    async fn daily_aggregates(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        dimension: Option<Dimension>,
    ) -> StoreResult<Vec<DailyAggregate>> {
        if from > to {
            return Ok(Vec::new());
        }
        self.read(|s| {
            s.daily
                .range(from..=to)
                .flat_map(|(day, rows)| {
                    rows.iter()
                        .filter(|r| r.dimension == dimension)
                        .map(|r| DailyAggregate {
                            day: *day,
                            dimension,
                            key: r.key.clone(),
                            acc: r.acc.clone(),
                        })
                })
                .collect()
        })
    }

    async fn opened_conversations(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> StoreResult<Vec<OpenedConversation>> {
        self.read(|s| {
            s.cycles
                .iter()
                .filter(|((_, seq), r)| *seq == 0 && r.day >= from && r.day <= to)
                .map(|((id, _), r)| OpenedConversation {
                    id: ConversationId(*id),
                    intent: r.dims.intent.clone(),
                    language: r.dims.language.clone(),
                })
                .collect()
        })
    }

    async fn report_events(&self, id: ConversationId) -> StoreResult<Vec<ReportEvent>> {
        self.read(|s| {
            s.events_of
                .range((id.0, 0)..=(id.0, usize::MAX))
                .filter_map(|&(_, i)| s.events.get(i).cloned())
                .collect()
        })
    }
}
