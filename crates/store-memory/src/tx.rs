//! The write transaction: every change records its inverse in an undo log,
//! and the SQLite triggers' effects (counters, reporting events) happen here
//! in Rust, in the order SQLite fires them.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use async_trait::async_trait;
use jiff::Timestamp;
use switchboard_core::assign::Candidate;
use switchboard_core::ids::{AgentId, ContactId, ConversationId, DeliveryId, InboxId, MessageId};
use switchboard_core::kpi::{Dimensions, EventKind};
use switchboard_core::model::{ConversationStatus, Direction, Priority};
use switchboard_core::sla::SlaStatus;
use switchboard_store::*;

use crate::state::*;

/// One inverse change, applied newest first on rollback. The frequent
/// ones (a row appended with its index entries, a timer settled) are plain
/// functions of two integers kept inline in the log: a replay writes tens of
/// them per message, and a boxed closure each cost an allocation and, at
/// commit, a scattered free (measured at a tenth of a replay).
enum Undo {
    /// Calls the function with the two values.
    Ints(fn(&mut State, i64, i64), i64, i64),
    /// Anything else.
    Boxed(Box<dyn FnOnce(&mut State) + Send>),
}

/// Inverse of [`MemoryTx::emit`]: the event at index `i` (the last one)
/// and its entry in the per-conversation index (`conv` < 0: none).
fn unemit(s: &mut State, conv: i64, i: i64) {
    s.events.pop();
    if conv >= 0 {
        s.events_of
            .remove(&(conv, usize::try_from(i).unwrap_or(usize::MAX)));
    }
}

/// Inverse of `insert_message`: the last message and its index entries.
fn uninsert_message(s: &mut State, conv: i64, id: i64) {
    if let Some(row) = s.messages.pop()
        && let Some(w) = row.message.wamid
        && s.message_by_wamid.get(&w) == Some(&id)
    {
        s.message_by_wamid.remove(&w);
    }
    s.messages_of.remove(&(conv, id));
}

/// Inverse of inserting a pending timer: the last timer and its indexes.
fn uninsert_timer(s: &mut State, _: i64, id: i64) {
    if let Some(t) = s.timers.pop() {
        s.pending_timer.remove(&(t.conversation_id, t.kind));
        s.timers_due.remove(&(t.due_at, id));
    }
}

/// Inverse of settling (firing or cancelling) pending timer `id`.
fn unsettle_timer(s: &mut State, _: i64, id: i64) {
    let Some(t) = slot(&s.timers, id).and_then(|i| s.timers.get_mut(i)) else {
        return;
    };
    (t.status, t.finished_at) = (TimerStatus::Pending, None);
    s.pending_timer.insert((t.conversation_id, t.kind), id);
    s.timers_due.insert((t.due_at, id));
}

/// Inverse of appending a delivery.
fn uninsert_delivery(s: &mut State, _: i64, _: i64) {
    s.deliveries.pop();
}

/// Inverse of `insert_conversation`: the last conversation, its active
/// entry and the contact's previous newest conversation (`previous` 0: none).
fn uninsert_conversation(s: &mut State, previous: i64, _: i64) {
    let Some(c) = s.conversations.pop() else {
        return;
    };
    let key = (c.contact_id.0, c.inbox_id.0);
    if s.active.get(&key) == Some(&c.id.0) {
        s.active.remove(&key);
    }
    if previous > 0 {
        s.latest_of_contact.insert(c.contact_id.0, previous);
    } else {
        s.latest_of_contact.remove(&c.contact_id.0);
    }
}

/// A write transaction on the in-memory state. Changes apply in place; an
/// `Err` from the write closure replays the undo log backwards, so a failed
/// transaction leaves nothing behind at a cost proportional to what it
/// changed (never a copy of the whole state).
pub struct MemoryTx {
    pub(crate) s: State,
    undo: Vec<Undo>,
}

impl std::fmt::Debug for MemoryTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTx")
            .field("undo_entries", &self.undo.len())
            .finish_non_exhaustive()
    }
}

fn missing(what: &'static str) -> StoreError {
    StoreError::NotFound(what)
}

fn conflict(what: &str) -> StoreError {
    StoreError::Conflict(format!("UNIQUE constraint failed: {what}"))
}

fn is_resolved(c: &Conversation) -> bool {
    c.status == ConversationStatus::Resolved
}

/// The conversation's dimensions as the triggers stamp them, with `agent`
/// as the event's agent.
fn dims(c: &Conversation, agent: Option<AgentId>) -> Dimensions {
    let attribution = c.attribution.as_ref();
    Dimensions {
        inbox_id: Some(c.inbox_id),
        team_id: c.team_id,
        agent_id: agent,
        category: c.category,
        intent: c.intent.clone(),
        language: c.language.clone(),
        source_id: attribution.and_then(|a| a.source_id.clone()),
        source_type: attribution.and_then(|a| a.source_type.clone()),
    }
}

/// A reporting event about conversation `c` (id assigned on append).
fn event(
    c: &Conversation,
    at: Timestamp,
    kind: EventKind,
    agent: Option<AgentId>,
    detail: Option<String>,
    value_ms: Option<i64>,
) -> ReportEvent {
    ReportEvent {
        id: 0,
        at,
        kind,
        conversation_id: Some(c.id),
        contact_id: Some(c.contact_id),
        message_id: None,
        dims: dims(c, agent),
        priority: Some(c.priority),
        detail,
        value_ms,
    }
}

fn millis(later: Timestamp, earlier: Timestamp) -> i64 {
    later.as_millisecond() - earlier.as_millisecond()
}

/// What a conversation update changes in the counters (migration 0002).
struct Counters {
    old_assignee: Option<AgentId>,
    new_assignee: Option<AgentId>,
    was: bool,
    is: bool,
    at: Timestamp,
    contact: ContactId,
}

/// The reporting events the triggers on `UPDATE conversations` append,
/// newest trigger first (SQLite fires a table's triggers in reverse order of
/// creation, and the event ids record that order): reopened, resolved,
/// automated_reply, reply, assigned, triaged (migration 0005); and the
/// counter changes (0002, the oldest trigger).
fn update_triggers(old: &Conversation, new: &Conversation) -> (Vec<ReportEvent>, Counters) {
    let (was, is) = (is_resolved(old), is_resolved(new));
    let mut events = Vec::new();
    if was && !is {
        events.push(event(
            new,
            new.updated_at,
            EventKind::Reopened,
            new.assignee_id,
            None,
            None,
        ));
    }
    if !was && is {
        events.push(event(
            new,
            new.resolved_at.unwrap_or(new.updated_at),
            EventKind::Resolved,
            new.assignee_id,
            new.disposition.clone(),
            None,
        ));
    }
    if old.auto_ack_at.is_none()
        && let Some(at) = new.auto_ack_at
    {
        events.push(event(
            new,
            at,
            EventKind::AutomatedReply,
            new.assignee_id,
            None,
            None,
        ));
    }
    if new.last_responded_at != old.last_responded_at
        && let (Some(at), Some(since)) = (new.last_responded_at, old.waiting_since)
    {
        let detail = if old.first_responded_at.is_none() {
            "first"
        } else {
            "next"
        };
        events.push(event(
            new,
            at,
            EventKind::Reply,
            new.assignee_id,
            Some(detail.into()),
            Some(millis(at, since)),
        ));
    }
    if old.assignee_id != new.assignee_id && new.assignee_id.is_some() {
        events.push(event(
            new,
            new.updated_at,
            EventKind::Assigned,
            new.assignee_id,
            None,
            None,
        ));
    }
    if old.category != new.category || old.intent != new.intent || old.priority != new.priority {
        events.push(event(
            new,
            new.updated_at,
            EventKind::Triaged,
            new.assignee_id,
            None,
            None,
        ));
    }
    let counters = Counters {
        old_assignee: old.assignee_id,
        new_assignee: new.assignee_id,
        was,
        is,
        at: new.updated_at,
        contact: new.contact_id,
    };
    (events, counters)
}

impl MemoryTx {
    pub(crate) fn new(s: State) -> Self {
        Self {
            s,
            undo: Vec::new(),
        }
    }

    /// Undoes every change of this transaction and returns the state.
    pub(crate) fn rollback(mut self) -> State {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Ints(f, a, b) => f(&mut self.s, a, b),
                Undo::Boxed(f) => f(&mut self.s),
            }
        }
        self.s
    }

    /// Keeps the changes and returns the state.
    pub(crate) fn commit(self) -> State {
        self.s
    }

    fn log(&mut self, undo: impl FnOnce(&mut State) + Send + 'static) {
        self.undo.push(Undo::Boxed(Box::new(undo)));
    }

    fn log_ints(&mut self, undo: fn(&mut State, i64, i64), a: i64, b: i64) {
        self.undo.push(Undo::Ints(undo, a, b));
    }

    /// Appends a row; rollback pops it.
    fn push<T: Send + 'static>(&mut self, table: fn(&mut State) -> &mut Vec<T>, row: T) {
        table(&mut self.s).push(row);
        self.log(move |s| {
            table(s).pop();
        });
    }

    /// Changes row `i` in place; rollback restores the old row.
    fn update<T: Clone + Send + 'static>(
        &mut self,
        table: fn(&mut State) -> &mut Vec<T>,
        i: usize,
        change: impl FnOnce(&mut T),
    ) {
        let Some(row) = table(&mut self.s).get_mut(i) else {
            return;
        };
        let old = row.clone();
        change(row);
        self.log(move |s| {
            if let Some(row) = table(s).get_mut(i) {
                *row = old;
            }
        });
    }

    fn map_insert<K, V>(&mut self, map: fn(&mut State) -> &mut HashMap<K, V>, k: K, v: V)
    where
        K: Eq + Hash + Clone + Send + 'static,
        V: Send + 'static,
    {
        let old = map(&mut self.s).insert(k.clone(), v);
        self.log(move |s| match old {
            Some(old) => {
                map(s).insert(k, old);
            }
            None => {
                map(s).remove(&k);
            }
        });
    }

    fn map_remove<K, V>(&mut self, map: fn(&mut State) -> &mut HashMap<K, V>, k: K)
    where
        K: Eq + Hash + Send + 'static,
        V: Send + 'static,
    {
        if let Some(old) = map(&mut self.s).remove(&k) {
            self.log(move |s| {
                map(s).insert(k, old);
            });
        }
    }

    fn set_insert<K: Ord + Clone + Send + 'static>(
        &mut self,
        set: fn(&mut State) -> &mut BTreeSet<K>,
        k: K,
    ) {
        if set(&mut self.s).insert(k.clone()) {
            self.log(move |s| {
                set(s).remove(&k);
            });
        }
    }

    fn set_remove<K: Ord + Send + 'static>(
        &mut self,
        set: fn(&mut State) -> &mut BTreeSet<K>,
        k: K,
    ) {
        if set(&mut self.s).remove(&k) {
            self.log(move |s| {
                set(s).insert(k);
            });
        }
    }

    /// Appends a reporting event with the next id (`report_events` is
    /// append-only: rollback is the only removal).
    pub(crate) fn emit(&mut self, mut e: ReportEvent) {
        e.id = next_id(&self.s.events);
        let index = self.s.events.len();
        let conv = e.conversation_id.map_or(-1, |c| c.0);
        if conv >= 0 {
            self.s.events_of.insert((conv, index));
        }
        self.s.events.push(e);
        self.log_ints(unemit, conv, i64::try_from(index).unwrap_or(i64::MAX));
    }

    fn conv(&self, id: i64) -> Option<&Conversation> {
        slot(&self.s.conversations, id).and_then(|i| self.s.conversations.get(i))
    }

    fn agent_exists(&self, id: Option<AgentId>) -> bool {
        id.is_none_or(|a| slot(&self.s.agents, a.0).is_some())
    }

    /// Writes a conversation row and keeps the active index; then what the
    /// triggers on `UPDATE conversations` do. The old row moves into the
    /// undo log instead of being copied.
    fn write_conversation(&mut self, new: Conversation) -> StoreResult<()> {
        let i = slot(&self.s.conversations, new.id.0).ok_or(missing("conversation"))?;
        let (key, was) = {
            let old = &self.s.conversations[i];
            ((old.contact_id.0, old.inbox_id.0), is_resolved(old))
        };
        match (was, is_resolved(&new)) {
            (true, false) => {
                if self.s.active.contains_key(&key) {
                    return Err(conflict("conversations.contact_id, conversations.inbox_id"));
                }
                self.map_insert(|s| &mut s.active, key, new.id.0);
            }
            (false, true) => self.map_remove(|s| &mut s.active, key),
            _ => {}
        }
        let old = std::mem::replace(&mut self.s.conversations[i], new);
        let (events, counters) = update_triggers(&old, &self.s.conversations[i]);
        self.log(move |s| {
            if let Some(c) = s.conversations.get_mut(i) {
                *c = old;
            }
        });
        for e in events {
            self.emit(e);
        }
        self.apply_counters(counters);
        Ok(())
    }

    /// Migration 0002: agents' open counts and last assignment, the
    /// contact's last agent and resolved count.
    fn apply_counters(&mut self, c: Counters) {
        let moved = c.old_assignee != c.new_assignee;
        if !moved && c.was == c.is {
            return;
        }
        if let Some(a) = c.old_assignee
            && !c.was
        {
            self.agent_counters(a, |r| r.open_count = r.open_count.saturating_sub(1));
        }
        if let Some(a) = c.new_assignee {
            self.agent_counters(a, |r| {
                if !c.is {
                    r.open_count += 1;
                }
                if moved {
                    r.last_assigned_at = Some(c.at);
                }
            });
        }
        let agent = c.new_assignee.filter(|_| moved);
        if (agent.is_some() || c.was != c.is)
            && let Some(i) = slot(&self.s.contacts, c.contact.0)
        {
            let row = &mut self.s.contacts[i];
            let before = (row.last_agent_id, row.resolved_conversations);
            if agent.is_some() {
                row.last_agent_id = agent;
            }
            if c.was != c.is {
                row.resolved_conversations = if c.is {
                    row.resolved_conversations + 1
                } else {
                    row.resolved_conversations.saturating_sub(1)
                };
            }
            self.log(move |s| {
                if let Some(row) = s.contacts.get_mut(i) {
                    (row.last_agent_id, row.resolved_conversations) = before;
                }
            });
        }
    }

    /// Changes an agent's counters; rollback restores just those.
    fn agent_counters(&mut self, id: AgentId, change: impl FnOnce(&mut Agent)) {
        let Some(i) = slot(&self.s.agents, id.0) else {
            return;
        };
        let row = &mut self.s.agents[i].agent;
        let before = (row.open_count, row.last_assigned_at);
        change(row);
        self.log(move |s| {
            if let Some(r) = s.agents.get_mut(i) {
                (r.agent.open_count, r.agent.last_assigned_at) = before;
            }
        });
    }

    /// `UPDATE messages SET status …`: the status trigger.
    fn message_status_changed(&mut self, old: &MessageRow, new: &MessageRow) {
        let m = &new.message;
        if m.direction != Direction::Outbound || m.status == old.message.status {
            return;
        }
        let kind = match m.status.as_str() {
            "accepted" | "sent" => EventKind::MessageSent,
            "delivered" => EventKind::MessageDelivered,
            "read" => EventKind::MessageRead,
            "failed" => EventKind::MessageFailed,
            _ => return,
        };
        let Some(c) = self.conv(m.conversation_id.0) else {
            return;
        };
        let mut e = event(
            c,
            new.status_at.unwrap_or(m.timestamp),
            kind,
            c.assignee_id,
            Some(m.message_type.clone()),
            None,
        );
        e.message_id = Some(m.id);
        self.emit(e);
    }

    fn update_message(&mut self, i: usize, change: impl FnOnce(&mut MessageRow)) {
        let old = self.s.messages[i].clone();
        self.update(|s| &mut s.messages, i, change);
        let new = self.s.messages[i].clone();
        if new.message.status != old.message.status {
            self.message_status_changed(&old, &new);
        }
    }

    fn timer_done(&mut self, id: i64, status: TimerStatus, at: Timestamp) {
        let Some(t) = slot(&self.s.timers, id).and_then(|i| self.s.timers.get_mut(i)) else {
            return;
        };
        if t.status != TimerStatus::Pending {
            return;
        }
        (t.status, t.finished_at) = (status, Some(at));
        let (key, due) = ((t.conversation_id, t.kind), t.due_at);
        self.s.pending_timer.remove(&key);
        self.s.timers_due.remove(&(due, id));
        self.log_ints(unsettle_timer, 0, id);
    }

    /// Leases due timers (see `Store::claim_due_timers`).
    pub(crate) fn lease(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> Vec<Timer> {
        let (now, until) = (ms(now), ms(until));
        let mut chosen = Vec::new();
        for &(due, id) in &self.s.timers_due {
            if chosen.len() >= limit as usize || due > now {
                break;
            }
            if let Some(i) = slot(&self.s.timers, id)
                && self.s.timers[i].locked_until.is_none_or(|l| l < now)
            {
                chosen.push(i);
            }
        }
        chosen
            .into_iter()
            .map(|i| {
                let t = &mut self.s.timers[i];
                let before = (
                    t.locked_until,
                    t.locked_by.replace(worker.to_owned()),
                    t.attempts,
                );
                t.locked_until = Some(until);
                t.attempts += 1;
                self.log(move |s| {
                    if let Some(t) = s.timers.get_mut(i) {
                        (t.locked_until, t.locked_by, t.attempts) = before;
                    }
                });
                let t = &self.s.timers[i];
                Timer {
                    id: i as i64 + 1,
                    conversation_id: ConversationId(t.conversation_id),
                    kind: t.kind,
                    due_at: t.due_at,
                    payload: t.payload.clone(),
                    attempts: t.attempts,
                }
            })
            .collect()
    }

    /// Leases due outbox rows (see `Store::claim_outbox`).
    pub(crate) fn lease_outbox(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> Vec<OutboxItem> {
        let (now, until) = (ms(now), ms(until));
        let mut due: Vec<(Timestamp, usize)> = self
            .s
            .outbox
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.item.status == "pending"
                    && o.next_attempt_at <= now
                    && o.locked_until.is_none_or(|l| l < now)
            })
            .map(|(i, o)| (o.next_attempt_at, i))
            .collect();
        due.sort();
        due.truncate(limit as usize);
        let mut chosen: Vec<usize> = due.into_iter().map(|(_, i)| i).collect();
        chosen.sort_unstable();
        chosen
            .into_iter()
            .map(|i| {
                let worker = worker.to_owned();
                self.update(
                    |s| &mut s.outbox,
                    i,
                    |o| {
                        o.locked_until = Some(until);
                        o.locked_by = Some(worker);
                        o.item.attempts += 1;
                    },
                );
                self.s.outbox[i].item.clone()
            })
            .collect()
    }

    /// Creates a team (see `Store::create_team`).
    pub(crate) fn create_team(&mut self, t: &NewTeam) -> StoreResult<Team> {
        if self.s.teams.iter().any(|x| x.name == t.name) {
            return Err(conflict("teams.name"));
        }
        let team = Team {
            id: switchboard_core::ids::TeamId(next_id(&self.s.teams)),
            name: t.name.clone(),
            skills: t.skills.clone(),
            created_at: ms(t.at),
        };
        self.push(|s| &mut s.teams, team.clone());
        Ok(team)
    }

    /// Creates an agent (see `Store::create_agent`).
    pub(crate) fn create_agent(&mut self, a: &NewAgent) -> StoreResult<Agent> {
        if let Some(team) = a.team_id
            && slot(&self.s.teams, team.0).is_none()
        {
            return Err(missing("team"));
        }
        if self.s.agents.iter().any(|x| x.agent.email == a.email) {
            return Err(conflict("agents.email"));
        }
        if self
            .s
            .agents
            .iter()
            .any(|x| x.token_sha256 == a.token_sha256)
        {
            return Err(conflict("agents.token_sha256"));
        }
        let agent = Agent {
            id: AgentId(next_id(&self.s.agents)),
            name: a.name.clone(),
            email: a.email.clone(),
            role: a.role,
            team_id: a.team_id,
            skills: a.skills.clone(),
            capacity: a.capacity,
            availability: a.availability,
            open_count: 0,
            last_assigned_at: None,
            created_at: ms(a.at),
        };
        self.push(
            |s| &mut s.agents,
            AgentRow {
                agent: agent.clone(),
                token_sha256: a.token_sha256.clone(),
            },
        );
        Ok(agent)
    }

    /// Changes an agent (see `Store::update_agent`).
    pub(crate) fn update_agent(&mut self, id: AgentId, p: &AgentPatch) -> StoreResult<Agent> {
        let i = slot(&self.s.agents, id.0).ok_or(missing("agent"))?;
        let p = p.clone();
        self.update(
            |s| &mut s.agents,
            i,
            move |r| {
                if let Some(a) = p.availability {
                    r.agent.availability = a;
                }
                if let Some(c) = p.capacity {
                    r.agent.capacity = c;
                }
            },
        );
        Ok(self.s.agents[i].agent.clone())
    }

    /// Acknowledges an escalation (see `Store::ack_escalation`).
    pub(crate) fn ack_escalation(
        &mut self,
        id: i64,
        by: Option<AgentId>,
        at: Timestamp,
    ) -> StoreResult<Escalation> {
        let i = slot(&self.s.escalations, id).ok_or(missing("escalation"))?;
        if self.s.escalations[i].acknowledged_at.is_some() {
            return Ok(self.s.escalations[i].clone());
        }
        let at = ms(at);
        let e = &mut self.s.escalations[i];
        (e.acknowledged_at, e.acknowledged_by) = (Some(at), by);
        self.log(move |s| {
            if let Some(e) = s.escalations.get_mut(i) {
                (e.acknowledged_at, e.acknowledged_by) = (None, None);
            }
        });
        let e = self.s.escalations[i].clone();
        if let Some(c) = self.conv(e.conversation_id.0) {
            let ev = event(
                c,
                at,
                EventKind::EscalationAcknowledged,
                by.or(c.assignee_id),
                Some(format!("{}:{}", e.level.as_str(), e.reason)),
                Some(millis(at, e.created_at)),
            );
            self.emit(ev);
        }
        Ok(e)
    }

    /// Inserts a contact with the given ids.
    fn insert_contact(&mut self, c: &ContactUpsert) -> i64 {
        let id = next_id(&self.s.contacts);
        if let Some(w) = &c.wa_id {
            self.map_insert(|s| &mut s.contact_by_wa, w.as_str().to_owned(), id);
        }
        if let Some(u) = &c.user_id {
            self.map_insert(|s| &mut s.contact_by_user, u.as_str().to_owned(), id);
        }
        self.push(
            |s| &mut s.contacts,
            Contact {
                id: ContactId(id),
                wa_id: c.wa_id.clone(),
                user_id: c.user_id.clone(),
                name: c.name.clone(),
                username: c.username.clone(),
                last_agent_id: None,
                last_inbound_at: None,
                resolved_conversations: 0,
                opted_out_at: None,
                opted_in_at: None,
            },
        );
        id
    }
}

#[async_trait]
impl StoreTx for MemoryTx {
    async fn insert_delivery(&mut self, d: &NewDelivery) -> StoreResult<DeliveryId> {
        let id = DeliveryId(next_id(&self.s.deliveries));
        self.log_ints(uninsert_delivery, 0, id.0);
        self.s.deliveries.push(DeliveryRow {
            delivery: Delivery {
                id,
                received_at: ms(d.received_at),
                body: d.body.clone(),
                status: DeliveryStatus::Received,
                error: None,
                messages: 0,
                duplicates: 0,
            },
            _signature: d.signature.clone(),
        });
        Ok(id)
    }

    async fn finish_delivery(&mut self, id: DeliveryId, o: &DeliveryOutcome) -> StoreResult<()> {
        let Some(i) = slot(&self.s.deliveries, id.0) else {
            return Ok(());
        };
        // Only the outcome columns go to the undo log, never the body.
        let d = &mut self.s.deliveries[i].delivery;
        let before = (
            d.status,
            std::mem::replace(&mut d.error, o.error.clone()),
            d.messages,
            d.duplicates,
        );
        (d.status, d.messages, d.duplicates) = (o.status, o.messages, o.duplicates);
        self.log(move |s| {
            if let Some(r) = s.deliveries.get_mut(i) {
                let d = &mut r.delivery;
                (d.status, d.error, d.messages, d.duplicates) = before;
            }
        });
        Ok(())
    }

    async fn insert_webhook_event(&mut self, e: &NewWebhookEvent) -> StoreResult<()> {
        if slot(&self.s.deliveries, e.delivery_id.0).is_none() {
            return Err(missing("referenced row"));
        }
        self.s.webhook_events += 1;
        self.log(|s| s.webhook_events -= 1);
        Ok(())
    }

    async fn upsert_inbox(&mut self, u: &InboxUpsert) -> StoreResult<Inbox> {
        let key = u.phone_number_id.as_str();
        if let Some(&id) = self.s.inbox_by_number.get(key)
            && let Some(i) = slot(&self.s.inboxes, id)
        {
            let row = &self.s.inboxes[i];
            let changes = |new: &Option<String>, old: &Option<String>| new.is_some() && new != old;
            let (display, waba) = (u.display_phone_number.clone(), u.waba_id.clone());
            if changes(&display, &row.display_phone_number) || changes(&waba, &row.waba_id) {
                self.update(
                    |s| &mut s.inboxes,
                    i,
                    move |r| {
                        if display.is_some() {
                            r.display_phone_number = display;
                        }
                        if waba.is_some() {
                            r.waba_id = waba;
                        }
                    },
                );
            }
            return Ok(self.s.inboxes[i].clone());
        }
        let inbox = Inbox {
            id: InboxId(next_id(&self.s.inboxes)),
            phone_number_id: u.phone_number_id.clone(),
            display_phone_number: u.display_phone_number.clone(),
            waba_id: u.waba_id.clone(),
            team_id: None,
        };
        self.map_insert(|s| &mut s.inbox_by_number, key.to_owned(), inbox.id.0);
        self.push(|s| &mut s.inboxes, inbox.clone());
        Ok(inbox)
    }

    async fn upsert_contact(&mut self, c: &ContactUpsert) -> StoreResult<Contact> {
        let wa = c.wa_id.as_ref().map(|w| w.as_str().to_owned());
        let user = c.user_id.as_ref().map(|u| u.as_str().to_owned());
        if wa.is_none() && user.is_none() {
            return Err(StoreError::Corrupt(
                "a contact needs a wa_id or a BSUID".into(),
            ));
        }
        let by_wa = wa
            .as_ref()
            .and_then(|w| self.s.contact_by_wa.get(w).copied());
        let by_user = user
            .as_ref()
            .and_then(|u| self.s.contact_by_user.get(u).copied());
        let mut found: Vec<i64> = by_wa.into_iter().chain(by_user).collect();
        found.sort_unstable();
        found.dedup();
        let Some(&id) = found.first() else {
            let id = self.insert_contact(c);
            return Ok(self.s.contacts[(id - 1) as usize].clone());
        };
        let i = slot(&self.s.contacts, id).ok_or(missing("contact"))?;
        // Two rows means the wa_id and the BSUID were first seen apart; the
        // older row gains the other id unless another row already holds it.
        let other = found.get(1).copied();
        let taken_wa = other.is_some() && other == by_wa;
        let taken_user = other.is_some() && other == by_user;
        let current = &self.s.contacts[i];
        let link_wa = match (&current.wa_id, &c.wa_id) {
            (None, Some(w)) if !taken_wa => Some(w.clone()),
            _ => None,
        };
        let link_user = match (&current.user_id, &c.user_id) {
            (None, Some(u)) if !taken_user => Some(u.clone()),
            _ => None,
        };
        let changes = |new: &Option<String>, old: &Option<String>| new.is_some() && new != old;
        let dirty = link_wa.is_some()
            || link_user.is_some()
            || changes(&c.name, &current.name)
            || changes(&c.username, &current.username);
        if let Some(w) = &link_wa {
            self.map_insert(|s| &mut s.contact_by_wa, w.as_str().to_owned(), id);
        }
        if let Some(u) = &link_user {
            self.map_insert(|s| &mut s.contact_by_user, u.as_str().to_owned(), id);
        }
        if dirty {
            let (name, username) = (c.name.clone(), c.username.clone());
            self.update(
                |s| &mut s.contacts,
                i,
                move |r| {
                    if link_wa.is_some() {
                        r.wa_id = link_wa;
                    }
                    if link_user.is_some() {
                        r.user_id = link_user;
                    }
                    if name.is_some() {
                        r.name = name;
                    }
                    if username.is_some() {
                        r.username = username;
                    }
                },
            );
        }
        Ok(self.s.contacts[i].clone())
    }

    async fn touch_contact_inbound(&mut self, id: ContactId, at: Timestamp) -> StoreResult<()> {
        let at = ms(at);
        if let Some(i) = slot(&self.s.contacts, id.0)
            && self.s.contacts[i].last_inbound_at.is_none_or(|t| t < at)
        {
            let before = self.s.contacts[i].last_inbound_at.replace(at);
            self.log(move |s| {
                if let Some(c) = s.contacts.get_mut(i) {
                    c.last_inbound_at = before;
                }
            });
        }
        Ok(())
    }

    async fn wamid_exists(&mut self, wamid: &str) -> StoreResult<bool> {
        Ok(self.s.message_by_wamid.contains_key(wamid))
    }

    async fn active_conversation(
        &mut self,
        contact: ContactId,
        inbox: InboxId,
    ) -> StoreResult<Option<Conversation>> {
        Ok(self
            .s
            .active
            .get(&(contact.0, inbox.0))
            .and_then(|&id| self.conv(id))
            .cloned())
    }

    async fn insert_conversation(&mut self, n: &NewConversation) -> StoreResult<Conversation> {
        let Some(ci) = slot(&self.s.contacts, n.contact_id.0) else {
            return Err(missing("referenced row"));
        };
        if slot(&self.s.inboxes, n.inbox_id.0).is_none()
            || n.team_id
                .is_some_and(|t| slot(&self.s.teams, t.0).is_none())
        {
            return Err(missing("referenced row"));
        }
        let key = (n.contact_id.0, n.inbox_id.0);
        if self.s.active.contains_key(&key) {
            return Err(conflict("conversations.contact_id, conversations.inbox_id"));
        }
        let at = ms(n.at);
        let c = Conversation {
            id: ConversationId(next_id(&self.s.conversations)),
            contact_id: n.contact_id,
            inbox_id: n.inbox_id,
            status: ConversationStatus::Open,
            priority: Priority::Low,
            category: None,
            intent: None,
            escalation_reasons: Vec::new(),
            assignee_id: None,
            team_id: n.team_id,
            waiting_since: None,
            waiting_count: 0,
            first_response_due_at: None,
            first_responded_at: None,
            attribution: n.attribution.clone(),
            created_at: at,
            updated_at: at,
            last_message_at: at,
            sla_status: SlaStatus::Active,
            next_response_due_at: None,
            resolution_due_at: None,
            last_responded_at: None,
            callback_at: None,
            last_inbound_at: None,
            resolved_at: None,
            snoozed_until: None,
            disposition: None,
            next_action: None,
            auto_ack_at: None,
            language: None,
            bot_failures: 0,
        };
        self.s.active.insert(key, c.id.0);
        let previous = self.s.latest_of_contact.insert(n.contact_id.0, c.id.0);
        self.s.conversations.push(c.clone());
        self.log_ints(uninsert_conversation, previous.unwrap_or(0), c.id.0);
        let returning = self.s.contacts[ci].resolved_conversations > 0;
        self.emit(event(
            &c,
            at,
            EventKind::ConversationOpened,
            None,
            Some(if returning { "returning" } else { "new" }.into()),
            None,
        ));
        Ok(c)
    }

    async fn save_conversation(&mut self, c: &Conversation) -> StoreResult<()> {
        let i = slot(&self.s.conversations, c.id.0).ok_or(missing("conversation"))?;
        if !self.agent_exists(c.assignee_id)
            || c.team_id
                .is_some_and(|t| slot(&self.s.teams, t.0).is_none())
        {
            return Err(missing("referenced row"));
        }
        let mut new = conversation_ms(c);
        // Columns the UPDATE does not set.
        let old = &self.s.conversations[i];
        new.contact_id = old.contact_id;
        new.inbox_id = old.inbox_id;
        new.created_at = old.created_at;
        self.write_conversation(new)
    }

    async fn insert_message(&mut self, m: &NewMessage) -> StoreResult<Option<MessageId>> {
        if self.conv(m.conversation_id.0).is_none() {
            return Err(missing("referenced row"));
        }
        if let Some(w) = &m.wamid
            && self.s.message_by_wamid.contains_key(w)
        {
            return Ok(None);
        }
        let id = MessageId(next_id(&self.s.messages));
        let row = MessageRow {
            message: Message {
                id,
                conversation_id: m.conversation_id,
                wamid: m.wamid.clone(),
                direction: m.direction,
                message_type: m.message_type.clone(),
                text: m.text.clone(),
                media: m.media.clone(),
                context: m.context.clone(),
                referral: m.referral.clone(),
                status: m.status.clone(),
                timestamp: ms(m.sent_at),
                received_at: ms(m.received_at),
                edited_at: None,
                revoked_at: None,
                triage: m.triage.clone(),
            },
            status_rank: 0,
            status_at: None,
        };
        if let Some(w) = &m.wamid {
            self.s.message_by_wamid.insert(w.clone(), id.0);
        }
        self.s.messages_of.insert((m.conversation_id.0, id.0));
        self.s.messages.push(row);
        self.log_ints(uninsert_message, m.conversation_id.0, id.0);
        if m.direction == Direction::Inbound
            && let Some(c) = self.conv(m.conversation_id.0)
        {
            let mut e = event(
                c,
                ms(m.sent_at),
                EventKind::MessageReceived,
                c.assignee_id,
                None,
                None,
            );
            e.message_id = Some(id);
            self.emit(e);
        }
        Ok(Some(id))
    }

    async fn edit_message(
        &mut self,
        wamid: &str,
        text: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let Some(i) = self
            .s
            .message_by_wamid
            .get(wamid)
            .and_then(|&id| slot(&self.s.messages, id))
        else {
            return Ok(false);
        };
        let (text, at) = (text.map(str::to_owned), ms(at));
        self.update(
            |s| &mut s.messages,
            i,
            move |r| {
                if text.is_some() {
                    r.message.text = text;
                }
                r.message.edited_at = Some(at);
            },
        );
        Ok(true)
    }

    async fn revoke_message(&mut self, wamid: &str, at: Timestamp) -> StoreResult<bool> {
        let Some(i) = self
            .s
            .message_by_wamid
            .get(wamid)
            .and_then(|&id| slot(&self.s.messages, id))
        else {
            return Ok(false);
        };
        let at = ms(at);
        self.update(
            |s| &mut s.messages,
            i,
            move |r| r.message.revoked_at = Some(at),
        );
        Ok(true)
    }

    async fn apply_status(&mut self, st: &NewStatus) -> StoreResult<StatusOutcome> {
        let key = (st.wamid.clone(), st.status.clone());
        if self.s.statuses.contains(&key) {
            return Ok(StatusOutcome::Duplicate);
        }
        self.s.statuses.insert(key.clone());
        self.log(move |s| {
            s.statuses.remove(&key);
        });
        // `failed` carries the highest rank so nothing moves a failed
        // message back to a success state; otherwise higher rank wins.
        let target = self
            .s
            .message_by_wamid
            .get(&st.wamid)
            .and_then(|&id| slot(&self.s.messages, id))
            .filter(|&i| self.s.messages[i].status_rank < st.rank);
        let Some(i) = target else {
            return Ok(StatusOutcome::Recorded {
                message_updated: false,
            });
        };
        let (status, rank, at) = (st.status.clone(), st.rank, ms(st.at));
        self.update_message(i, move |r| {
            r.message.status = status;
            r.status_rank = rank;
            r.status_at = Some(at);
        });
        Ok(StatusOutcome::Recorded {
            message_updated: true,
        })
    }

    async fn roster(&mut self) -> StoreResult<Vec<Candidate>> {
        Ok(self
            .s
            .agents
            .iter()
            .map(|r| {
                let a = &r.agent;
                let mut skills = a.skills.clone();
                if let Some(team) = a
                    .team_id
                    .and_then(|t| slot(&self.s.teams, t.0))
                    .and_then(|i| self.s.teams.get(i))
                {
                    for s in &team.skills {
                        if !skills.contains(s) {
                            skills.push(s.clone());
                        }
                    }
                }
                Candidate {
                    id: a.id,
                    name: a.name.clone(),
                    role: a.role,
                    team_id: a.team_id,
                    skills,
                    capacity: a.capacity,
                    open_count: a.open_count,
                    availability: a.availability,
                    last_assigned_at: a.last_assigned_at,
                }
            })
            .collect())
    }

    async fn record_assignment(&mut self, a: &NewAssignment) -> StoreResult<Assignment> {
        let Some(ci) = slot(&self.s.conversations, a.conversation_id.0) else {
            return Err(missing("referenced row"));
        };
        if !self.agent_exists(a.agent_id) {
            return Err(missing("referenced row"));
        }
        let row = Assignment {
            id: next_id(&self.s.assignments),
            conversation_id: a.conversation_id,
            agent_id: a.agent_id,
            rule: a.rule,
            reason: a.reason.clone(),
            created_at: ms(a.at),
        };
        self.push(|s| &mut s.assignments, row.clone());
        if a.agent_id != a.previous_agent_id {
            let mut c = self.s.conversations[ci].clone();
            c.assignee_id = a.agent_id;
            c.updated_at = ms(a.at);
            self.write_conversation(c)?;
        }
        Ok(row)
    }

    async fn unassigned_conversations(&mut self, limit: u32) -> StoreResult<Vec<Conversation>> {
        let mut open: Vec<&Conversation> = self
            .s
            .conversations
            .iter()
            .filter(|c| c.assignee_id.is_none() && c.status == ConversationStatus::Open)
            .collect();
        open.sort_by_key(|c| (due_key(c), c.id));
        Ok(open.into_iter().take(limit as usize).cloned().collect())
    }

    async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        Ok(self.conv(id.0).cloned())
    }

    async fn inbox(&mut self, id: InboxId) -> StoreResult<Option<Inbox>> {
        Ok(slot(&self.s.inboxes, id.0).map(|i| self.s.inboxes[i].clone()))
    }

    async fn teams(&mut self) -> StoreResult<Vec<Team>> {
        Ok(self.s.teams.clone())
    }

    async fn contact(&mut self, id: ContactId) -> StoreResult<Option<Contact>> {
        Ok(slot(&self.s.contacts, id.0).map(|i| self.s.contacts[i].clone()))
    }

    async fn recent_messages(
        &mut self,
        id: ConversationId,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let mut rows: Vec<&Message> = self
            .s
            .messages_of
            .range((id.0, i64::MIN)..=(id.0, i64::MAX))
            .filter_map(|&(_, m)| slot(&self.s.messages, m).map(|i| &self.s.messages[i].message))
            .collect();
        rows.sort_by_key(|m| (m.timestamp, m.id));
        let skip = rows.len().saturating_sub(limit as usize);
        Ok(rows.into_iter().skip(skip).cloned().collect())
    }

    async fn schedule_timer(&mut self, t: &NewTimer) -> StoreResult<()> {
        if self.conv(t.conversation_id.0).is_none() {
            return Err(missing("referenced row"));
        }
        let key = (t.conversation_id.0, t.kind);
        let due = ms(t.due_at);
        if let Some(&id) = self.s.pending_timer.get(&key)
            && let Some(i) = slot(&self.s.timers, id)
        {
            let old_due = self.s.timers[i].due_at;
            self.set_remove(|s| &mut s.timers_due, (old_due, id));
            self.set_insert(|s| &mut s.timers_due, (due, id));
            let r = &mut self.s.timers[i];
            let before = (
                r.due_at,
                std::mem::replace(&mut r.payload, t.payload.clone()),
            );
            r.due_at = due;
            self.log(move |s| {
                if let Some(r) = s.timers.get_mut(i) {
                    (r.due_at, r.payload) = before;
                }
            });
            return Ok(());
        }
        let id = next_id(&self.s.timers);
        self.s.pending_timer.insert(key, id);
        self.s.timers_due.insert((due, id));
        self.log_ints(uninsert_timer, 0, id);
        self.s.timers.push(TimerRow {
            conversation_id: t.conversation_id.0,
            kind: t.kind,
            due_at: due,
            status: TimerStatus::Pending,
            payload: t.payload.clone(),
            locked_until: None,
            locked_by: None,
            attempts: 0,
            finished_at: None,
        });
        Ok(())
    }

    async fn cancel_timers(
        &mut self,
        id: ConversationId,
        kinds: &[TimerKind],
        at: Timestamp,
    ) -> StoreResult<u64> {
        let mut n = 0;
        for (k, kind) in kinds.iter().enumerate() {
            if kinds[..k].contains(kind) {
                continue;
            }
            if let Some(&timer) = self.s.pending_timer.get(&(id.0, *kind)) {
                self.timer_done(timer, TimerStatus::Cancelled, ms(at));
                n += 1;
            }
        }
        Ok(n)
    }

    async fn complete_timer(&mut self, id: i64, worker: &str, at: Timestamp) -> StoreResult<bool> {
        let Some(i) = slot(&self.s.timers, id) else {
            return Ok(false);
        };
        let t = &self.s.timers[i];
        if t.status != TimerStatus::Pending || t.locked_by.as_deref() != Some(worker) {
            return Ok(false);
        }
        self.timer_done(id, TimerStatus::Fired, ms(at));
        Ok(true)
    }

    async fn lease_due_timers(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        Ok(self.lease(now, until, worker, limit))
    }

    async fn next_timer_due(&mut self) -> StoreResult<Option<Timestamp>> {
        Ok(self.s.timers_due.first().map(|(t, _)| *t))
    }

    async fn insert_escalation(&mut self, e: &NewEscalation) -> StoreResult<Escalation> {
        if self.conv(e.conversation_id.0).is_none() || !self.agent_exists(e.target_agent_id) {
            return Err(missing("referenced row"));
        }
        let row = Escalation {
            id: next_id(&self.s.escalations),
            conversation_id: e.conversation_id,
            level: e.level,
            reason: e.reason.clone(),
            target_agent_id: e.target_agent_id,
            created_at: ms(e.at),
            acknowledged_at: None,
            acknowledged_by: None,
        };
        self.push(|s| &mut s.escalations, row.clone());
        if let Some(c) = self.conv(e.conversation_id.0) {
            let ev = event(
                c,
                row.created_at,
                EventKind::Escalation,
                c.assignee_id,
                Some(format!("{}:{}", row.level.as_str(), row.reason)),
                None,
            );
            self.emit(ev);
        }
        Ok(row)
    }

    async fn enqueue(&mut self, o: &NewOutbox) -> StoreResult<OutboxItem> {
        if let Some(&id) = self.s.outbox_by_key.get(&o.idempotency_key)
            && let Some(i) = slot(&self.s.outbox, id)
        {
            return Ok(self.s.outbox[i].item.clone());
        }
        if o.conversation_id.is_some_and(|c| self.conv(c.0).is_none())
            || o.message_id
                .is_some_and(|m| slot(&self.s.messages, m.0).is_none())
        {
            return Err(missing("referenced row"));
        }
        let item = OutboxItem {
            id: next_id(&self.s.outbox),
            kind: o.kind,
            idempotency_key: o.idempotency_key.clone(),
            conversation_id: o.conversation_id,
            message_id: o.message_id,
            phone_number_id: o.phone_number_id.clone(),
            recipient: o.recipient.clone(),
            payload: o.payload.clone(),
            attempts: 0,
            status: "pending".into(),
            last_error: None,
            last_code: None,
        };
        self.map_insert(
            |s| &mut s.outbox_by_key,
            item.idempotency_key.clone(),
            item.id,
        );
        self.push(
            |s| &mut s.outbox,
            OutboxRow {
                item: item.clone(),
                next_attempt_at: ms(o.at),
                locked_until: None,
                locked_by: None,
                finished_at: None,
            },
        );
        Ok(item)
    }

    async fn finish_outbox(
        &mut self,
        id: i64,
        worker: &str,
        result: &OutboxResult,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let Some(i) = slot(&self.s.outbox, id) else {
            return Ok(false);
        };
        let o = &self.s.outbox[i];
        if o.item.status != "pending" || o.locked_by.as_deref() != Some(worker) {
            return Ok(false);
        }
        let (result, at) = (result.clone(), ms(at));
        self.update(
            |s| &mut s.outbox,
            i,
            move |o| {
                o.locked_until = None;
                match result {
                    OutboxResult::Sent { .. } => {
                        o.item.status = "sent".into();
                        o.finished_at = Some(at);
                        o.item.last_error = None;
                    }
                    OutboxResult::Retry {
                        at: next,
                        error,
                        code,
                    } => {
                        o.next_attempt_at = ms(next);
                        o.item.last_error = Some(error);
                        o.item.last_code = code;
                    }
                    OutboxResult::Defer { at: next } => {
                        o.next_attempt_at = ms(next);
                        o.item.attempts = o.item.attempts.saturating_sub(1);
                    }
                    OutboxResult::Failed { dead, error, code } => {
                        o.item.status = if dead { "dead" } else { "failed" }.into();
                        o.finished_at = Some(at);
                        o.item.last_error = Some(error);
                        o.item.last_code = code;
                    }
                }
            },
        );
        Ok(true)
    }

    async fn update_outbound(
        &mut self,
        id: MessageId,
        wamid: Option<&str>,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let Some(i) = slot(&self.s.messages, id.0) else {
            return Ok(());
        };
        if let Some(w) = wamid {
            match self.s.message_by_wamid.get(w) {
                Some(&other) if other != id.0 => return Err(conflict("messages.wamid")),
                Some(_) => {}
                None => {
                    if let Some(old) = self.s.messages[i].message.wamid.clone() {
                        self.map_remove(|s| &mut s.message_by_wamid, old);
                    }
                    self.map_insert(|s| &mut s.message_by_wamid, w.to_owned(), id.0);
                }
            }
        }
        let (wamid, status, at) = (wamid.map(str::to_owned), status.to_owned(), ms(at));
        self.update_message(i, move |r| {
            if wamid.is_some() {
                r.message.wamid = wamid;
            }
            r.message.status = status;
            r.status_at = Some(at);
        });
        Ok(())
    }

    async fn insert_handoff(&mut self, h: &NewHandoff) -> StoreResult<Handoff> {
        if self.conv(h.conversation_id.0).is_none()
            || !self.agent_exists(h.from_agent_id)
            || !self.agent_exists(Some(h.to_agent_id))
        {
            return Err(missing("referenced row"));
        }
        let row = Handoff {
            id: next_id(&self.s.handoffs),
            conversation_id: h.conversation_id,
            from_agent_id: h.from_agent_id,
            to_agent_id: h.to_agent_id,
            reason: h.reason.clone(),
            summary: h.summary.clone(),
            created_at: ms(h.at),
            acknowledged_at: None,
        };
        self.set_insert(|s| &mut s.handoffs_of, (h.conversation_id.0, row.id));
        self.push(|s| &mut s.handoffs, row.clone());
        if let Some(c) = self.conv(h.conversation_id.0) {
            let from = if h.from_agent_id.is_none() {
                "bot"
            } else {
                "agent"
            };
            let ev = event(
                c,
                row.created_at,
                EventKind::Handoff,
                Some(h.to_agent_id),
                Some(from.into()),
                None,
            );
            self.emit(ev);
        }
        Ok(row)
    }

    async fn open_handoff(&mut self, id: ConversationId) -> StoreResult<Option<Handoff>> {
        Ok(self
            .s
            .handoffs_of
            .range((id.0, i64::MIN)..=(id.0, i64::MAX))
            .rev()
            .filter_map(|&(_, h)| slot(&self.s.handoffs, h).map(|i| &self.s.handoffs[i]))
            .find(|h| h.acknowledged_at.is_none())
            .cloned())
    }

    async fn ack_handoff(&mut self, handoff_id: i64, at: Timestamp) -> StoreResult<Handoff> {
        let i = slot(&self.s.handoffs, handoff_id).ok_or(missing("row"))?;
        if self.s.handoffs[i].acknowledged_at.is_some() {
            return Ok(self.s.handoffs[i].clone());
        }
        let at = ms(at);
        self.s.handoffs[i].acknowledged_at = Some(at);
        self.log(move |s| {
            if let Some(h) = s.handoffs.get_mut(i) {
                h.acknowledged_at = None;
            }
        });
        let h = self.s.handoffs[i].clone();
        if let Some(c) = self.conv(h.conversation_id.0) {
            let ev = event(
                c,
                at,
                EventKind::HandoffAcknowledged,
                Some(h.to_agent_id),
                None,
                Some(millis(at, h.created_at)),
            );
            self.emit(ev);
        }
        Ok(h)
    }

    async fn upsert_template(&mut self, t: &TemplateRecord) -> StoreResult<()> {
        let key = (t.name.clone(), t.language.clone());
        let mut t = t.clone();
        t.updated_at = ms(t.updated_at);
        let old = self.s.templates.insert(key.clone(), t);
        self.log(move |s| match old {
            Some(old) => {
                s.templates.insert(key, old);
            }
            None => {
                s.templates.remove(&key);
            }
        });
        Ok(())
    }

    async fn set_template_status(
        &mut self,
        name: &str,
        language: Option<&str>,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let keys: Vec<(String, String)> = self
            .s
            .templates
            .keys()
            .filter(|(n, l)| n == name && language.is_none_or(|x| x == l))
            .cloned()
            .collect();
        for key in &keys {
            if let Some(t) = self.s.templates.get_mut(key) {
                let old = t.clone();
                t.status = status.to_owned();
                t.updated_at = ms(at);
                let key = key.clone();
                self.log(move |s| {
                    s.templates.insert(key, old);
                });
            }
        }
        Ok(!keys.is_empty())
    }

    async fn template(
        &mut self,
        name: &str,
        language: &str,
    ) -> StoreResult<Option<TemplateRecord>> {
        Ok(self
            .s
            .templates
            .get(&(name.to_owned(), language.to_owned()))
            .cloned())
    }

    async fn record_consent(
        &mut self,
        contact: ContactId,
        opt_in: bool,
        source: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let i = slot(&self.s.contacts, contact.0).ok_or(missing("referenced row"))?;
        let at = ms(at);
        self.s.consent_events += 1;
        self.log(|s| s.consent_events -= 1);
        let kind = if opt_in {
            EventKind::OptIn
        } else {
            EventKind::OptOut
        };
        // The contact's newest conversation, if any, lends its dimensions.
        let latest = self
            .s
            .latest_of_contact
            .get(&contact.0)
            .and_then(|&id| self.conv(id));
        let ev = match latest {
            Some(c) => event(c, at, kind, c.assignee_id, Some(source.to_owned()), None),
            None => ReportEvent {
                id: 0,
                at,
                kind,
                conversation_id: None,
                contact_id: Some(contact),
                message_id: None,
                dims: Dimensions::default(),
                priority: None,
                detail: Some(source.to_owned()),
                value_ms: None,
            },
        };
        self.emit(ev);
        self.update(
            |s| &mut s.contacts,
            i,
            move |c| {
                if opt_in {
                    c.opted_in_at = Some(at);
                    c.opted_out_at = None;
                } else if c.opted_out_at.is_none() {
                    c.opted_out_at = Some(at);
                }
            },
        );
        Ok(())
    }

    async fn insert_sla_event(&mut self, e: &NewSlaEvent) -> StoreResult<()> {
        if self.conv(e.conversation_id.0).is_none() || !self.agent_exists(e.agent_id) {
            return Err(missing("referenced row"));
        }
        let (due, at) = (ms(e.due_at), ms(e.at));
        let row = SlaEvent {
            id: next_id(&self.s.sla_events),
            conversation_id: e.conversation_id,
            target: e.clock.as_str().to_owned(),
            event: e.event.as_str().to_owned(),
            due_at: due,
            at,
            agent_id: e.agent_id,
        };
        self.push(|s| &mut s.sla_events, row);
        if let Some(c) = self.conv(e.conversation_id.0) {
            let kind = match e.event {
                SlaEventKind::Warning => EventKind::SlaWarning,
                SlaEventKind::Hit => EventKind::SlaHit,
                SlaEventKind::Miss => EventKind::SlaBreach,
            };
            let ev = event(
                c,
                at,
                kind,
                e.agent_id.or(c.assignee_id),
                Some(e.clock.as_str().to_owned()),
                Some(millis(at, due)),
            );
            self.emit(ev);
        }
        Ok(())
    }

    async fn rollup_watermark(&mut self) -> StoreResult<i64> {
        Ok(self.s.watermark)
    }

    async fn set_rollup_watermark(&mut self, last_event_id: i64) -> StoreResult<()> {
        let old = std::mem::replace(&mut self.s.watermark, last_event_id);
        self.log(move |s| s.watermark = old);
        Ok(())
    }

    async fn report_events_after(
        &mut self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ReportEvent>> {
        // Ids are positions + 1, so the events after `after` start at index `after`.
        let from = usize::try_from(after.max(0))
            .unwrap_or(usize::MAX)
            .min(self.s.events.len());
        Ok(self.s.events[from..]
            .iter()
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn report_events_of(&mut self, ids: &[ConversationId]) -> StoreResult<Vec<ReportEvent>> {
        let mut out = Vec::new();
        for id in ids {
            out.extend(
                self.s
                    .events_of
                    .range((id.0, 0)..=(id.0, usize::MAX))
                    .filter_map(|&(_, i)| self.s.events.get(i).cloned()),
            );
        }
        Ok(out)
    }

    async fn replace_cycles(
        &mut self,
        id: ConversationId,
        cycles: &[CycleRecord],
    ) -> StoreResult<Vec<jiff::civil::Date>> {
        let window = switchboard_core::kpi::RECONTACT_WINDOW.as_millis() as i64;
        let existing: Vec<(i64, u32)> = self
            .s
            .cycles
            .range((id.0, 0)..=(id.0, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        let mut days = Vec::new();
        for key in existing {
            if let Some(row) = self.s.cycles.remove(&key) {
                days.push(row.day);
                self.unindex_cycle(key, &row);
                self.log(move |s| {
                    s.cycles.insert(key, row);
                });
            }
        }
        for r in cycles {
            let c = &r.cycle;
            let contact = c.contact_id.map(|x| x.0);
            let opened = ms(c.opened_at);
            let resolved_at = oms(c.resolved_at);
            // A later new conversation of the same contact within the window
            // makes this resolve a re-contact; and this conversation's
            // opening does the same for the contact's earlier resolves.
            let recontacted = match (resolved_at, contact) {
                (Some(resolved), Some(contact)) => {
                    let (lo, hi) = (
                        resolved.as_millisecond(),
                        resolved.as_millisecond().saturating_add(window),
                    );
                    self.s.cycles_by_contact.get(&contact).is_some_and(|keys| {
                        keys.iter().any(|k| {
                            k.0 != id.0
                                && k.1 == 0
                                && self.s.cycles.get(k).is_some_and(|o| {
                                    let t = o.opened_at.as_millisecond();
                                    t > lo && t <= hi
                                })
                        })
                    })
                }
                _ => false,
            };
            days.push(r.day);
            let key = (id.0, c.seq);
            let row = CycleRow {
                contact_id: contact,
                opened_at: opened,
                day: r.day,
                returning: c.facts.returning,
                dims: c.dims.clone(),
                _priority: c.priority,
                disposition: c.disposition.clone(),
                resolved_at,
                facts: c.facts.clone(),
                recontacted,
            };
            if self.s.cycles.contains_key(&key) {
                return Err(conflict("report_cycles.conversation_id, report_cycles.seq"));
            }
            self.index_cycle(key, &row);
            self.s.cycles.insert(key, row);
            self.log(move |s| {
                s.cycles.remove(&key);
            });
            if c.seq == 0
                && let Some(contact) = contact
            {
                let (lo, hi) = (
                    opened.as_millisecond().saturating_sub(window),
                    opened.as_millisecond(),
                );
                let marked: Vec<(i64, u32)> = self
                    .s
                    .cycles_by_contact
                    .get(&contact)
                    .map(|keys| {
                        keys.iter()
                            .filter(|k| {
                                k.0 != id.0
                                    && self.s.cycles.get(k).is_some_and(|o| {
                                        !o.recontacted
                                            && o.resolved_at.is_some_and(|t| {
                                                let t = t.as_millisecond();
                                                t < hi && t >= lo
                                            })
                                    })
                            })
                            .copied()
                            .collect()
                    })
                    .unwrap_or_default();
                for k in marked {
                    if let Some(o) = self.s.cycles.get_mut(&k) {
                        o.recontacted = true;
                        days.push(o.day);
                        self.log(move |s| {
                            if let Some(o) = s.cycles.get_mut(&k) {
                                o.recontacted = false;
                            }
                        });
                    }
                }
            }
        }
        days.sort();
        days.dedup();
        Ok(days)
    }

    async fn cycles_of_day(&mut self, day: jiff::civil::Date) -> StoreResult<Vec<DayCycle>> {
        Ok(self
            .s
            .cycles_by_day
            .get(&day)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.s.cycles.get(k))
                    .map(|r| DayCycle {
                        dims: r.dims.clone(),
                        returning: r.returning,
                        disposition: r.disposition.clone(),
                        recontacted: r.recontacted,
                        facts: r.facts.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn replace_daily(
        &mut self,
        day: jiff::civil::Date,
        rows: &[DailyAggregate],
    ) -> StoreResult<()> {
        let new: Vec<DailyRow> = rows
            .iter()
            .map(|r| DailyRow {
                dimension: r.dimension,
                key: r.key.clone(),
                acc: r.acc.clone(),
            })
            .collect();
        let old = if new.is_empty() {
            self.s.daily.remove(&day)
        } else {
            self.s.daily.insert(day, new)
        };
        self.log(move |s| match old {
            Some(old) => {
                s.daily.insert(day, old);
            }
            None => {
                s.daily.remove(&day);
            }
        });
        Ok(())
    }

    async fn import_report_events(&mut self, events: &[ReportEvent]) -> StoreResult<u64> {
        for e in events {
            let mut e = e.clone();
            e.at = ms(e.at);
            self.emit(e);
        }
        Ok(events.len() as u64)
    }
}

impl MemoryTx {
    fn index_cycle(&mut self, key: (i64, u32), row: &CycleRow) {
        self.s.cycles_by_day.entry(row.day).or_default().insert(key);
        if let Some(contact) = row.contact_id {
            self.s
                .cycles_by_contact
                .entry(contact)
                .or_default()
                .insert(key);
        }
        let (day, contact) = (row.day, row.contact_id);
        self.log(move |s| {
            if let Some(set) = s.cycles_by_day.get_mut(&day) {
                set.remove(&key);
            }
            if let Some(set) = contact.and_then(|c| s.cycles_by_contact.get_mut(&c)) {
                set.remove(&key);
            }
        });
    }

    fn unindex_cycle(&mut self, key: (i64, u32), row: &CycleRow) {
        if let Some(set) = self.s.cycles_by_day.get_mut(&row.day) {
            set.remove(&key);
        }
        if let Some(set) = row
            .contact_id
            .and_then(|c| self.s.cycles_by_contact.get_mut(&c))
        {
            set.remove(&key);
        }
        let (day, contact) = (row.day, row.contact_id);
        self.log(move |s| {
            s.cycles_by_day.entry(day).or_default().insert(key);
            if let Some(c) = contact {
                s.cycles_by_contact.entry(c).or_default().insert(key);
            }
        });
    }
}
