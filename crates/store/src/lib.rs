//! Switchboard's storage interface.
//!
//! Parts:
//! - [`model`]: the rows the service reads and writes (inbox, contact, team,
//!   agent, conversation, message, assignment, raw delivery) as plain types
//!   over `switchboard-core`'s ids and enums.
//! - [`Store`]: what the HTTP API and workers need from a database, and
//!   [`StoreTx`]: the write transaction in which one webhook delivery (or a
//!   batch of them) becomes contacts, conversations, messages, triage,
//!   assignments and SLA due times, all or nothing.
//! - [`conformance`]: the behavioural suite every backend runs, so they all
//!   mean the same thing.
//! - `rows` (feature `sql`): column lists and row decoders the two SQL
//!   backends share, since they store the same schema the same way.
//!
//! Backends live in their own crates:
//! - `switchboard-store-sqlite`: the embedded SQLite database `serve` uses
//!   (some behaviour lives in its SQL triggers: counters, reporting events);
//! - `switchboard-store-memory`: the same behaviour in Rust collections
//!   behind a mutex, nothing persisted, for replays (issue #6) and tests;
//! - `switchboard-store-postgres`: PostgreSQL, the same schema and
//!   triggers in PL/pgSQL, for several processes sharing one database.
//!
//! None contains business decisions: those are `switchboard-core` functions
//! that the server's pipeline calls between store operations.
#![forbid(unsafe_code)]

pub mod conformance;
pub mod model;
#[cfg(feature = "sql")]
pub mod rows;

use async_trait::async_trait;
use jiff::Timestamp;
use switchboard_core::assign::Candidate;
use switchboard_core::ids::{AgentId, ContactId, ConversationId, DeliveryId, InboxId, MessageId};

pub use model::*;
pub use switchboard_core::kpi::{DayCycle, Dimension, KpiAccumulator, ReportEvent};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique constraint refused the write (e.g. an agent email already in use).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value read back could not be decoded (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed (I/O, lock timeout, connection lost).
    #[error("database error: {0}")]
    Backend(String),
}

/// Result alias of this layer.
pub type StoreResult<T> = Result<T, StoreError>;

/// A database holding Switchboard's state.
///
/// Cheap to clone (a pool handle). Reads run outside transactions; every
/// multi-statement write goes through [`Store::write`].
#[async_trait]
pub trait Store: Clone + Send + Sync + 'static {
    /// The backend's write transaction.
    type Tx: StoreTx + 'static;

    /// Runs `work` in one write transaction: commits when it returns `Ok`,
    /// rolls back when it returns `Err` (or panics). On SQLite every write
    /// transaction runs on one writer thread under `BEGIN IMMEDIATE`, so
    /// the whole closure costs one thread hand-off however many statements
    /// it runs; `work` must therefore await nothing but `Self::Tx` methods.
    ///
    /// # Errors
    /// Whatever `work` returns, or [`StoreError::Backend`] when the
    /// transaction cannot begin or commit.
    async fn write<R, F>(&self, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: for<'t> FnOnce(&'t mut Self::Tx) -> BoxFuture<'t, StoreResult<R>> + Send + 'static;

    /// Closes the backend's connections, waiting for those in use to be
    /// returned (graceful shutdown). The default does nothing: a store
    /// without connections has nothing to close.
    async fn close(&self) {}

    /// Creates a team. [`StoreError::Conflict`] when the name is taken.
    async fn create_team(&self, team: &NewTeam) -> StoreResult<Team>;

    /// All teams, by id.
    async fn list_teams(&self) -> StoreResult<Vec<Team>>;

    /// Creates an agent. [`StoreError::Conflict`] when the email is taken;
    /// [`StoreError::NotFound`] when the team does not exist.
    async fn create_agent(&self, agent: &NewAgent) -> StoreResult<Agent>;

    /// Changes an agent's availability and/or capacity.
    /// [`StoreError::NotFound`] for an unknown id.
    async fn update_agent(&self, id: AgentId, patch: &AgentPatch) -> StoreResult<Agent>;

    /// One agent.
    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>>;

    /// The agent whose API token hashes to `token_sha256` (lowercase hex).
    async fn agent_by_token_hash(&self, token_sha256: &str) -> StoreResult<Option<Agent>>;

    /// The queue: conversations matching `filter`, ordered by first-response
    /// due time (earliest first, conversations with no due time last), then
    /// id; never by recency.
    async fn list_conversations(&self, filter: &ConversationFilter) -> StoreResult<Page>;

    /// Handoffs of a conversation, oldest first.
    async fn handoffs(&self, id: ConversationId) -> StoreResult<Vec<Handoff>>;

    /// One conversation with its messages (oldest first) and assignments.
    async fn get_conversation(&self, id: ConversationId)
    -> StoreResult<Option<ConversationDetail>>;

    /// One raw delivery as stored.
    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>>;

    /// Deliveries kept as dead letters (signed but unparseable), newest first.
    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<Delivery>>;

    /// Live queue counters at `now`.
    async fn queue_stats(&self, now: Timestamp) -> StoreResult<QueueStats>;

    /// Number of stored messages with this wamid (0 or 1: the dedupe key).
    async fn count_messages_with_wamid(&self, wamid: &str) -> StoreResult<u64>;

    /// Total row counts, for tests, the demo and the load harness.
    async fn totals(&self) -> StoreResult<Totals>;

    /// Claims up to `limit` pending timers due at or before `now` whose lease
    /// is free or expired, leasing them to `worker` until `now + lease`.
    /// Runs in its own short write transaction; the caller then handles each
    /// timer in a transaction that ends with [`StoreTx::complete_timer`].
    async fn claim_due_timers(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<Timer>>;

    /// The earliest due time of any pending timer (for the worker's sleep).
    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>>;

    /// Escalations, newest first.
    async fn list_escalations(&self, filter: &EscalationFilter) -> StoreResult<Vec<Escalation>>;

    /// One escalation.
    async fn get_escalation(&self, id: i64) -> StoreResult<Option<Escalation>>;

    /// Acknowledges an escalation (idempotent: a second call keeps the first
    /// time). [`StoreError::NotFound`] for an unknown id.
    async fn ack_escalation(
        &self,
        id: i64,
        by: Option<AgentId>,
        at: Timestamp,
    ) -> StoreResult<Escalation>;

    /// Claims up to `limit` pending outbox rows due at `now` whose lease is
    /// free or expired, leasing them to `worker` until `now + lease`.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>>;

    /// One outbox row by idempotency key.
    async fn outbox_by_key(&self, key: &str) -> StoreResult<Option<OutboxItem>>;

    /// The earliest next attempt of any pending outbox row.
    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>>;

    /// Templates, by name and language.
    async fn list_templates(&self) -> StoreResult<Vec<TemplateRecord>>;

    /// Counts of pending timers by kind (for tests and metrics).
    async fn pending_timers(&self) -> StoreResult<Vec<(TimerKind, u64)>>;

    /// The daily aggregates of local days `from..=to` for one dimension
    /// (`None`: the daily totals), by day. Reads only: run the rollup first
    /// for up-to-the-moment numbers.
    async fn daily_aggregates(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        dimension: Option<Dimension>,
    ) -> StoreResult<Vec<DailyAggregate>>;

    /// Conversations opened on local days `from..=to` (their first cycle),
    /// with their final intent and language: the population a weekly
    /// transcript sample is drawn from. Ordered by id.
    async fn opened_conversations(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> StoreResult<Vec<OpenedConversation>>;

    /// Reporting events of one conversation, in append order (for tests,
    /// the API and audits).
    async fn report_events(&self, id: ConversationId) -> StoreResult<Vec<ReportEvent>>;
}

/// A write transaction, lent to a [`Store::write`] closure.
#[async_trait]
pub trait StoreTx: Send {
    /// Stores a raw webhook delivery exactly as received.
    async fn insert_delivery(&mut self, delivery: &NewDelivery) -> StoreResult<DeliveryId>;

    /// Records how processing a delivery ended.
    async fn finish_delivery(
        &mut self,
        id: DeliveryId,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<()>;

    /// Keeps a non-message webhook item (template update, user preference,
    /// value-level error, unknown field) attached to its delivery.
    async fn insert_webhook_event(&mut self, event: &NewWebhookEvent) -> StoreResult<()>;

    /// Finds or creates the inbox of a business number; fills in missing
    /// display number and WABA id.
    async fn upsert_inbox(&mut self, inbox: &InboxUpsert) -> StoreResult<Inbox>;

    /// Finds the contact by wa_id or BSUID and creates it if neither is
    /// known. When both ids arrive and only one was known, the other is
    /// linked to the same contact. Profile name and username are refreshed.
    async fn upsert_contact(&mut self, contact: &ContactUpsert) -> StoreResult<Contact>;

    /// Moves `last_inbound_at` forward to `at` (never backward: deliveries
    /// arrive out of order).
    async fn touch_contact_inbound(&mut self, id: ContactId, at: Timestamp) -> StoreResult<()>;

    /// True when a message with this wamid is already stored.
    async fn wamid_exists(&mut self, wamid: &str) -> StoreResult<bool>;

    /// The contact's conversation with this inbox that is not resolved.
    async fn active_conversation(
        &mut self,
        contact: ContactId,
        inbox: InboxId,
    ) -> StoreResult<Option<Conversation>>;

    /// Creates a conversation.
    async fn insert_conversation(
        &mut self,
        conversation: &NewConversation,
    ) -> StoreResult<Conversation>;

    /// Writes every mutable field of a conversation.
    async fn save_conversation(&mut self, conversation: &Conversation) -> StoreResult<()>;

    /// Stores a message; `None` when its wamid is already stored (dedupe by
    /// unique key, so concurrent duplicates cannot both land).
    async fn insert_message(&mut self, message: &NewMessage) -> StoreResult<Option<MessageId>>;

    /// Applies an edit to a stored message (by wamid): new text, `edited_at`.
    /// Returns false when the original is unknown.
    async fn edit_message(
        &mut self,
        wamid: &str,
        text: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// Marks a stored message (by wamid) as revoked by the customer.
    async fn revoke_message(&mut self, wamid: &str, at: Timestamp) -> StoreResult<bool>;

    /// Records a delivery status once per (message id, status) and moves the
    /// message's status forward only (sent < delivered < read; failed is
    /// terminal).
    async fn apply_status(&mut self, status: &NewStatus) -> StoreResult<StatusOutcome>;

    /// Agents as assignment candidates, with team skills merged in.
    async fn roster(&mut self) -> StoreResult<Vec<Candidate>>;

    /// Records an assignment, moves the conversation's assignee, keeps the
    /// agents' open-conversation counters and the contact's last agent in
    /// step.
    async fn record_assignment(&mut self, assignment: &NewAssignment) -> StoreResult<Assignment>;

    /// Open, unassigned conversations, earliest first-response due first.
    async fn unassigned_conversations(&mut self, limit: u32) -> StoreResult<Vec<Conversation>>;

    /// One conversation, read inside the transaction.
    async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<Conversation>>;

    /// One inbox.
    async fn inbox(&mut self, id: InboxId) -> StoreResult<Option<Inbox>>;

    /// All teams (for mapping configured team names to ids).
    async fn teams(&mut self) -> StoreResult<Vec<Team>>;

    /// One contact.
    async fn contact(&mut self, id: ContactId) -> StoreResult<Option<Contact>>;

    /// The latest `limit` messages of a conversation, oldest first.
    async fn recent_messages(
        &mut self,
        id: ConversationId,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;

    /// Starts a timer, or moves the pending one of the same kind to the new
    /// due time.
    async fn schedule_timer(&mut self, timer: &NewTimer) -> StoreResult<()>;

    /// Cancels the conversation's pending timers of these kinds; returns how
    /// many were cancelled.
    async fn cancel_timers(
        &mut self,
        id: ConversationId,
        kinds: &[TimerKind],
        at: Timestamp,
    ) -> StoreResult<u64>;

    /// Marks a claimed timer fired, only if it is still pending and leased to
    /// `worker` (fencing: a worker whose lease expired and was re-claimed
    /// elsewhere gets `false` and must roll back).
    async fn complete_timer(&mut self, id: i64, worker: &str, at: Timestamp) -> StoreResult<bool>;

    /// Inside this transaction: leases up to `limit` pending timers due at
    /// or before `now` whose lease is free or expired to `worker` until
    /// `until` (what [`Store::claim_due_timers`] does in its own
    /// transaction), for callers that fire them in the same transaction.
    async fn lease_due_timers(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<Timer>>;

    /// The earliest due time of any pending timer, read inside the transaction.
    async fn next_timer_due(&mut self) -> StoreResult<Option<Timestamp>>;

    /// Records an escalation.
    async fn insert_escalation(&mut self, escalation: &NewEscalation) -> StoreResult<Escalation>;

    /// Queues an outbound effect; returns the row (the existing one when the
    /// idempotency key was already queued).
    async fn enqueue(&mut self, item: &NewOutbox) -> StoreResult<OutboxItem>;

    /// Records a delivery attempt's result, only while `worker` holds the
    /// row's lease (fencing). Returns false when the lease was lost.
    async fn finish_outbox(
        &mut self,
        id: i64,
        worker: &str,
        result: &OutboxResult,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// Sets an outbound message's wamid and status (at `at`) after Meta
    /// accepted or refused it.
    async fn update_outbound(
        &mut self,
        id: MessageId,
        wamid: Option<&str>,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// Records a handoff.
    async fn insert_handoff(&mut self, handoff: &NewHandoff) -> StoreResult<Handoff>;

    /// The conversation's latest unacknowledged handoff, if any.
    async fn open_handoff(&mut self, id: ConversationId) -> StoreResult<Option<Handoff>>;

    /// Acknowledges a handoff.
    async fn ack_handoff(&mut self, handoff_id: i64, at: Timestamp) -> StoreResult<Handoff>;

    /// Inserts or updates a template (by name and language).
    async fn upsert_template(&mut self, template: &TemplateRecord) -> StoreResult<()>;

    /// Sets a template's status (`message_template_status_update`); false
    /// when unknown.
    async fn set_template_status(
        &mut self,
        name: &str,
        language: Option<&str>,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// One template.
    async fn template(&mut self, name: &str, language: &str)
    -> StoreResult<Option<TemplateRecord>>;

    /// Records a consent change (`opt_in` / `opt_out`) with its source and
    /// updates the contact.
    async fn record_consent(
        &mut self,
        contact: ContactId,
        opt_in: bool,
        source: &str,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// Records an SLA event.
    async fn insert_sla_event(&mut self, event: &NewSlaEvent) -> StoreResult<()>;

    /// The rollup's watermark: the id of the last reporting event already
    /// folded into the cycles (0 at first).
    async fn rollup_watermark(&mut self) -> StoreResult<i64>;

    /// Moves the rollup's watermark.
    async fn set_rollup_watermark(&mut self, last_event_id: i64) -> StoreResult<()>;

    /// Up to `limit` reporting events with id above `after`, in id order.
    async fn report_events_after(
        &mut self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ReportEvent>>;

    /// Every reporting event of these conversations, in id order.
    async fn report_events_of(&mut self, ids: &[ConversationId]) -> StoreResult<Vec<ReportEvent>>;

    /// Replaces a conversation's rolled-up cycles, and marks re-contacts both
    /// ways: a cycle resolved within [`switchboard_core::kpi::RECONTACT_WINDOW`]
    /// before a *new* conversation of the same contact is `recontacted`.
    /// Returns the local days whose aggregates changed (the old and new
    /// cycles' days and those of cycles newly marked as re-contacted).
    async fn replace_cycles(
        &mut self,
        id: ConversationId,
        cycles: &[CycleRecord],
    ) -> StoreResult<Vec<jiff::civil::Date>>;

    /// Every rolled-up cycle opened on a local day.
    async fn cycles_of_day(&mut self, day: jiff::civil::Date) -> StoreResult<Vec<DayCycle>>;

    /// Replaces a day's aggregates.
    async fn replace_daily(
        &mut self,
        day: jiff::civil::Date,
        rows: &[DailyAggregate],
    ) -> StoreResult<()>;

    /// Appends reporting events as given (replays and imports; the live
    /// service writes them through the store's triggers). Returns how many.
    async fn import_report_events(&mut self, events: &[ReportEvent]) -> StoreResult<u64>;
}

/// A boxed, sendable future: what a [`Store::write`] closure returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
