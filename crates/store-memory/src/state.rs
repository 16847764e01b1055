//! The tables and their indexes.
//!
//! Every table whose SQLite ids are `INTEGER PRIMARY KEY` is a `Vec` whose
//! row `i` has id `i + 1`: rows are never deleted and a rolled-back insert
//! is popped again, which gives exactly SQLite's ids (max + 1, from 1).
//! Indexes stand in for SQLite's unique constraints and for the lookups
//! the pipeline makes on every message (wamid, active conversation,
//! pending timers by due time).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value;
use switchboard_core::kpi::{CycleFacts, Dimensions};
use switchboard_core::model::Priority;
use switchboard_store::*;

/// A stored delivery (the model's [`Delivery`] plus the signature).
#[derive(Debug, Clone)]
pub(crate) struct DeliveryRow {
    pub delivery: Delivery,
    pub _signature: Option<String>,
}

/// An agent and its token hash.
#[derive(Debug, Clone)]
pub(crate) struct AgentRow {
    pub agent: Agent,
    pub token_sha256: String,
}

/// A message and the status columns the model does not show. (Meta's raw
/// message object is not kept: nothing reads it back through the trait.)
#[derive(Debug, Clone)]
pub(crate) struct MessageRow {
    pub message: Message,
    pub status_rank: u8,
    pub status_at: Option<Timestamp>,
}

/// Lifecycle of a timer row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerStatus {
    Pending,
    Fired,
    Cancelled,
}

/// A timer row.
#[derive(Debug, Clone)]
pub(crate) struct TimerRow {
    pub conversation_id: i64,
    pub kind: TimerKind,
    pub due_at: Timestamp,
    pub status: TimerStatus,
    pub payload: Option<Value>,
    pub locked_until: Option<Timestamp>,
    pub locked_by: Option<String>,
    pub attempts: u32,
    pub finished_at: Option<Timestamp>,
}

/// An outbox row.
#[derive(Debug, Clone)]
pub(crate) struct OutboxRow {
    pub item: OutboxItem,
    pub next_attempt_at: Timestamp,
    pub locked_until: Option<Timestamp>,
    pub locked_by: Option<String>,
    pub finished_at: Option<Timestamp>,
}

/// A rolled-up cycle (`report_cycles`).
#[derive(Debug, Clone)]
pub(crate) struct CycleRow {
    pub contact_id: Option<i64>,
    pub opened_at: Timestamp,
    pub day: Date,
    pub returning: bool,
    pub dims: Dimensions,
    pub _priority: Option<Priority>,
    pub disposition: Option<String>,
    pub resolved_at: Option<Timestamp>,
    pub facts: CycleFacts,
    pub recontacted: bool,
}

/// One `report_daily` row.
#[derive(Debug, Clone)]
pub(crate) struct DailyRow {
    pub dimension: Option<switchboard_core::kpi::Dimension>,
    pub key: Option<String>,
    pub acc: KpiAccumulator,
}

/// The whole database.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub deliveries: Vec<DeliveryRow>,
    /// Kept non-message webhook items: only counted (nothing reads them back).
    pub webhook_events: u64,
    pub teams: Vec<Team>,
    pub agents: Vec<AgentRow>,
    pub inboxes: Vec<Inbox>,
    pub inbox_by_number: HashMap<String, i64>,
    pub contacts: Vec<Contact>,
    pub contact_by_wa: HashMap<String, i64>,
    pub contact_by_user: HashMap<String, i64>,
    pub conversations: Vec<Conversation>,
    /// (contact, inbox) → the conversation that is not resolved.
    pub active: HashMap<(i64, i64), i64>,
    /// contact → its newest conversation (consent events carry its dimensions).
    pub latest_of_contact: HashMap<i64, i64>,
    pub messages: Vec<MessageRow>,
    pub message_by_wamid: HashMap<String, i64>,
    /// (conversation, message id): a conversation's messages, ascending. A
    /// B-tree holds many entries per node, where a list per conversation
    /// would be one allocation (and one free) per conversation.
    pub messages_of: BTreeSet<(i64, i64)>,
    /// (wamid, status) pairs recorded (`message_statuses`' unique key).
    pub statuses: HashSet<(String, String)>,
    pub assignments: Vec<Assignment>,
    pub timers: Vec<TimerRow>,
    /// (conversation, kind) → the pending timer.
    pub pending_timer: HashMap<(i64, TimerKind), i64>,
    /// Pending timers by (due time, id).
    pub timers_due: BTreeSet<(Timestamp, i64)>,
    pub escalations: Vec<Escalation>,
    pub sla_events: Vec<SlaEvent>,
    pub outbox: Vec<OutboxRow>,
    pub outbox_by_key: HashMap<String, i64>,
    pub handoffs: Vec<Handoff>,
    /// (conversation, handoff id), ascending.
    pub handoffs_of: BTreeSet<(i64, i64)>,
    pub templates: BTreeMap<(String, String), TemplateRecord>,
    pub consent_events: u64,
    pub events: Vec<ReportEvent>,
    /// (conversation, index into `events`), ascending.
    pub events_of: BTreeSet<(i64, usize)>,
    pub cycles: BTreeMap<(i64, u32), CycleRow>,
    pub cycles_by_day: BTreeMap<Date, BTreeSet<(i64, u32)>>,
    pub cycles_by_contact: HashMap<i64, BTreeSet<(i64, u32)>>,
    pub daily: BTreeMap<Date, Vec<DailyRow>>,
    pub watermark: i64,
}

/// The 1-based id of the next row of a table.
pub(crate) fn next_id<T>(table: &[T]) -> i64 {
    i64::try_from(table.len()).unwrap_or(i64::MAX - 1) + 1
}

/// The index of row `id` in its table, if it exists.
pub(crate) fn slot<T>(table: &[T], id: i64) -> Option<usize> {
    let i = usize::try_from(id.checked_sub(1)?).ok()?;
    (i < table.len()).then_some(i)
}

/// Millisecond precision, as SQLite stores times: what is read back must
/// be what a SQLite-backed service would read back.
pub(crate) fn ms(t: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
}

/// [`ms`] of an optional time.
pub(crate) fn oms(t: Option<Timestamp>) -> Option<Timestamp> {
    t.map(ms)
}

/// A conversation as SQLite would store and return it (times in ms).
pub(crate) fn conversation_ms(c: &Conversation) -> Conversation {
    let mut c = c.clone();
    c.waiting_since = oms(c.waiting_since);
    c.first_response_due_at = oms(c.first_response_due_at);
    c.first_responded_at = oms(c.first_responded_at);
    c.created_at = ms(c.created_at);
    c.updated_at = ms(c.updated_at);
    c.last_message_at = ms(c.last_message_at);
    c.next_response_due_at = oms(c.next_response_due_at);
    c.resolution_due_at = oms(c.resolution_due_at);
    c.last_responded_at = oms(c.last_responded_at);
    c.callback_at = oms(c.callback_at);
    c.last_inbound_at = oms(c.last_inbound_at);
    c.resolved_at = oms(c.resolved_at);
    c.snoozed_until = oms(c.snoozed_until);
    c.auto_ack_at = oms(c.auto_ack_at);
    if let Some(n) = &mut c.next_action {
        n.due_at = ms(n.due_at);
    }
    c
}

/// The queue order key: first-response due time in ms, none last.
pub(crate) fn due_key(c: &Conversation) -> i64 {
    c.first_response_due_at
        .map_or(i64::MAX, |t| t.as_millisecond())
}
