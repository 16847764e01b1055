//! The writer thread and the rusqlite write transaction.
//!
//! SQLite has one writer at a time anyway; giving it one thread that owns
//! one connection and runs whole transactions there means a batch of
//! webhook deliveries costs a single hand-off between threads, instead of
//! one per statement (which, measured, cost more than SQLite itself: see
//! BENCHMARKS.md).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, params};
use switchboard_core::assign::Candidate;
use switchboard_core::ids::{ContactId, ConversationId, DeliveryId, InboxId, MessageId};
use switchboard_store::*;

use switchboard_store::rows::*;

/// A unit of work for the writer thread.
pub(crate) type Job = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// Opens the writer's connection with the settings every connection gets.
pub(crate) fn open(path: &PathBuf, busy: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy)?;
    // Copying WAL pages into the database file inside commits cost the
    // single writer about a fifth of its time under load. The checkpointer
    // thread copies them beside; the writer checkpoints itself only every
    // 4,096 pages (16 MiB), finds them copied already, and that checkpoint
    // is what lets the WAL restart from its beginning.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32000; PRAGMA wal_autocheckpoint = 4096;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// How often the checkpointer copies committed WAL pages into the database.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Runs passive checkpoints beside the writer until `alive` reports the
/// store gone. Passive checkpoints never block the writer or readers; they
/// copy committed WAL pages into the database file on this thread, so the
/// writer's own (rare) automatic checkpoint finds little left to copy.
pub(crate) fn checkpointer(path: &std::path::Path, alive: impl Fn() -> bool) {
    let conn = match Connection::open(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the checkpointer connection; the writer checkpoints alone");
            return;
        }
    };
    let _ = conn.busy_timeout(Duration::from_millis(100));
    while alive() {
        std::thread::sleep(CHECKPOINT_EVERY);
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
            tracing::debug!(error = %e, "checkpoint skipped");
        }
    }
}

/// Maps rusqlite errors onto the layer's error enum.
pub(crate) fn rq_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound("row"),
        rusqlite::Error::SqliteFailure(f, msg) => match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
            }
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound("referenced row"),
            _ => StoreError::Backend(e.to_string()),
        },
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Polls a future once: write closures only await [`SqliteTx`] methods,
/// which never suspend, so one poll completes them.
fn run_ready<T>(fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Runs one write transaction on the writer's connection.
pub(crate) fn run_transaction<R, F>(
    slot: &mut Option<Connection>,
    reopen: impl Fn() -> rusqlite::Result<Connection>,
    work: F,
) -> StoreResult<R>
where
    F: for<'t> FnOnce(&'t mut SqliteTx) -> BoxFuture<'t, StoreResult<R>>,
{
    let conn = match slot.take() {
        Some(c) => c,
        None => reopen().map_err(rq_err)?,
    };
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Typically a lock timeout; the connection itself is fine.
        *slot = Some(conn);
        return Err(rq_err(e));
    }
    let mut tx = SqliteTx { conn };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run_ready(work(&mut tx))));
    let SqliteTx { conn } = tx;
    let result = match outcome {
        Ok(Some(Ok(value))) => conn.execute_batch("COMMIT").map(|()| value).map_err(rq_err),
        Ok(Some(Err(e))) => Err(e),
        Ok(None) => Err(StoreError::Backend(
            "a write transaction awaited something other than the database".into(),
        )),
        Err(_) => Err(StoreError::Backend(
            "a write transaction panicked; rolled back".into(),
        )),
    };
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    *slot = Some(conn);
    result
}

/// A write transaction on the writer thread's connection.
#[derive(Debug)]
pub struct SqliteTx {
    conn: Connection,
}

impl SqliteTx {
    fn one<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(rq_err)?;
        let mut rows = stmt.query(p).map_err(rq_err)?;
        match rows.next().map_err(rq_err)? {
            Some(row) => f(row),
            None => Err(StoreError::NotFound("row")),
        }
    }

    fn optional<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(rq_err)?;
        let mut rows = stmt.query(p).map_err(rq_err)?;
        match rows.next().map_err(rq_err)? {
            Some(row) => f(row).map(Some),
            None => Ok(None),
        }
    }

    fn all<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl Fn(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(rq_err)?;
        let mut rows = stmt.query(p).map_err(rq_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(rq_err)? {
            out.push(f(row)?);
        }
        Ok(out)
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> StoreResult<usize> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(rq_err)?;
        stmt.execute(p).map_err(rq_err)
    }

    /// Claims due timers (see `Store::claim_due_timers`).
    pub(crate) fn claim_due_timers(
        &self,
        now: Timestamp,
        until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        let mut timers = self.all(
            concat!(
                "UPDATE timers SET locked_until = ?2, locked_by = ?3, attempts = attempts + 1 WHERE id IN (",
                "SELECT id FROM timers WHERE status = 'pending' AND due_at <= ?1 ",
                "AND (locked_until IS NULL OR locked_until < ?1) ORDER BY due_at, id LIMIT ?4) ",
                "RETURNING id, conversation_id, kind, due_at, payload, attempts"
            ),
            params![ms(now), ms(until), worker, i64::from(limit)],
            |r| timer_from_row(r),
        )?;
        timers.sort_by_key(|t| (t.due_at, t.id));
        Ok(timers)
    }
}

fn opt_json<T: serde::Serialize>(v: Option<&T>) -> StoreResult<Option<String>> {
    v.map(to_json).transpose()
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn insert_delivery(&mut self, d: &NewDelivery) -> StoreResult<DeliveryId> {
        self.one(
            "INSERT INTO deliveries (received_at, body, signature) VALUES (?1, ?2, ?3) RETURNING id",
            params![ms(d.received_at), d.body, d.signature],
            |r| Ok(DeliveryId(get_i64(r, "id")?)),
        )
    }

    async fn finish_delivery(&mut self, id: DeliveryId, o: &DeliveryOutcome) -> StoreResult<()> {
        self.exec(
            "UPDATE deliveries SET status = ?2, error = ?3, messages = ?4, duplicates = ?5 WHERE id = ?1",
            params![id.0, o.status.as_str(), o.error, i64::from(o.messages), i64::from(o.duplicates)],
        )?;
        Ok(())
    }

    async fn insert_webhook_event(&mut self, e: &NewWebhookEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO webhook_events (delivery_id, field, kind, payload, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![e.delivery_id.0, e.field, e.kind, e.payload.to_string(), ms(e.received_at)],
        )?;
        Ok(())
    }

    async fn upsert_inbox(&mut self, i: &InboxUpsert) -> StoreResult<Inbox> {
        self.one(
            concat!(
                "INSERT INTO inboxes (phone_number_id, display_phone_number, waba_id, created_at) VALUES (?1, ?2, ?3, ?4) ",
                "ON CONFLICT (phone_number_id) DO UPDATE SET ",
                "display_phone_number = coalesce(excluded.display_phone_number, display_phone_number), ",
                "waba_id = coalesce(excluded.waba_id, waba_id) ",
                "RETURNING id, phone_number_id, display_phone_number, waba_id, team_id"
            ),
            params![i.phone_number_id.as_str(), i.display_phone_number, i.waba_id, ms(i.at)],
            |r| inbox_from_row(r, ""),
        )
    }

    async fn upsert_contact(&mut self, c: &ContactUpsert) -> StoreResult<Contact> {
        let wa = c.wa_id.as_ref().map(|w| w.as_str());
        let user = c.user_id.as_ref().map(|u| u.as_str());
        let single = match (wa, user) {
            (None, None) => {
                return Err(StoreError::Corrupt(
                    "a contact needs a wa_id or a BSUID".into(),
                ));
            }
            (Some(w), None) => Some((
                w,
                concat!(
                    "INSERT INTO contacts (wa_id, name, username, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) ",
                    "ON CONFLICT (wa_id) DO UPDATE SET name = coalesce(excluded.name, name), ",
                    "username = coalesce(excluded.username, username), updated_at = excluded.updated_at RETURNING ",
                    contact_cols_bare!()
                ),
            )),
            (None, Some(u)) => Some((
                u,
                concat!(
                    "INSERT INTO contacts (user_id, name, username, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) ",
                    "ON CONFLICT (user_id) DO UPDATE SET name = coalesce(excluded.name, name), ",
                    "username = coalesce(excluded.username, username), updated_at = excluded.updated_at RETURNING ",
                    contact_cols_bare!()
                ),
            )),
            (Some(_), Some(_)) => None,
        };
        // One id only (the usual case): one statement.
        if let Some((key, sql)) = single {
            return self.one(sql, params![key, c.name, c.username, ms(c.at)], |r| {
                contact_from_row(r)
            });
        }
        let found: Vec<(i64, Option<String>, Option<String>)> = self.all(
            "SELECT id, wa_id, user_id FROM contacts WHERE wa_id = ?1 OR user_id = ?2 ORDER BY id",
            params![wa, user],
            |r| {
                Ok((
                    get_i64(r, "id")?,
                    get_opt_str(r, "wa_id")?,
                    get_opt_str(r, "user_id")?,
                ))
            },
        )?;
        let id = match found.first() {
            None => self.one(
                "INSERT INTO contacts (wa_id, user_id, name, username, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
                params![wa, user, c.name, c.username, ms(c.at)],
                |r| get_i64(r, "id"),
            )?,
            Some((id, _, _)) => {
                // Two rows means the wa_id and the BSUID were first seen
                // apart; the older row gains the other id unless another row
                // already holds it (its history stays where it is).
                let taken_wa = found.iter().skip(1).any(|(_, w, _)| w.is_some() && w.as_deref() == wa);
                let taken_user = found.iter().skip(1).any(|(_, _, u)| u.is_some() && u.as_deref() == user);
                self.exec(
                    concat!(
                        "UPDATE contacts SET wa_id = coalesce(wa_id, ?2), user_id = coalesce(user_id, ?3), ",
                        "name = coalesce(?4, name), username = coalesce(?5, username), updated_at = ?6 WHERE id = ?1"
                    ),
                    params![
                        id,
                        if taken_wa { None } else { wa },
                        if taken_user { None } else { user },
                        c.name,
                        c.username,
                        ms(c.at)
                    ],
                )?;
                *id
            }
        };
        self.one(
            concat!(
                "SELECT ",
                contact_cols!(),
                " FROM contacts ct WHERE ct.id = ?1"
            ),
            params![id],
            |r| contact_from_row(r),
        )
    }

    async fn touch_contact_inbound(&mut self, id: ContactId, at: Timestamp) -> StoreResult<()> {
        self.exec(
            "UPDATE contacts SET last_inbound_at = max(coalesce(last_inbound_at, ?2), ?2) WHERE id = ?1",
            params![id.0, ms(at)],
        )?;
        Ok(())
    }

    async fn wamid_exists(&mut self, wamid: &str) -> StoreResult<bool> {
        self.one(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE wamid = ?1) AS e",
            params![wamid],
            |r| Ok(get_i64(r, "e")? != 0),
        )
    }

    async fn active_conversation(
        &mut self,
        contact: ContactId,
        inbox: InboxId,
    ) -> StoreResult<Option<Conversation>> {
        self.optional(
            concat!("SELECT ", conv_cols!(), " FROM conversations c WHERE c.contact_id = ?1 AND c.inbox_id = ?2 AND c.status <> 'resolved'"),
            params![contact.0, inbox.0],
            |r| conversation_from_row(r),
        )
    }

    async fn insert_conversation(&mut self, c: &NewConversation) -> StoreResult<Conversation> {
        self.one(
            concat!(
                "INSERT INTO conversations (contact_id, inbox_id, team_id, attribution, created_at, updated_at, last_message_at) ",
                "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5) RETURNING ",
                conv_cols_bare!()
            ),
            params![c.contact_id.0, c.inbox_id.0, c.team_id.map(|t| t.0), opt_json(c.attribution.as_ref())?, ms(c.at)],
            |r| conversation_from_row(r),
        )
    }

    async fn save_conversation(&mut self, c: &Conversation) -> StoreResult<()> {
        // Counters (agent load, last agent, resolved count) follow through
        // the triggers of migration 0002.
        let n = self.exec(
            concat!(
                "UPDATE conversations SET status = ?2, priority = ?3, category = ?4, intent = ?5, escalation_reasons = ?6, ",
                "assignee_id = ?7, team_id = ?8, waiting_since = ?9, waiting_count = ?10, first_response_due_at = ?11, ",
                "first_responded_at = ?12, attribution = ?13, updated_at = ?14, last_message_at = ?15, ",
                "sla_status = ?16, next_response_due_at = ?17, resolution_due_at = ?18, last_responded_at = ?19, ",
                "callback_at = ?20, last_inbound_at = ?21, resolved_at = ?22, snoozed_until = ?23, disposition = ?24, ",
                "next_action = ?25, auto_ack_at = ?26, language = ?27, bot_failures = ?28 WHERE id = ?1"
            ),
            params![
                c.id.0,
                c.status.as_str(),
                c.priority.as_str(),
                c.category.map(|x| x.as_str()),
                c.intent,
                to_json(&c.escalation_reasons)?,
                c.assignee_id.map(|a| a.0),
                c.team_id.map(|t| t.0),
                c.waiting_since.map(ms),
                i64::from(c.waiting_count),
                c.first_response_due_at.map(ms),
                c.first_responded_at.map(ms),
                opt_json(c.attribution.as_ref())?,
                ms(c.updated_at),
                ms(c.last_message_at),
                c.sla_status.as_str(),
                c.next_response_due_at.map(ms),
                c.resolution_due_at.map(ms),
                c.last_responded_at.map(ms),
                c.callback_at.map(ms),
                c.last_inbound_at.map(ms),
                c.resolved_at.map(ms),
                c.snoozed_until.map(ms),
                c.disposition,
                opt_json(c.next_action.as_ref())?,
                c.auto_ack_at.map(ms),
                c.language,
                c.bot_failures,
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("conversation"));
        }
        Ok(())
    }

    async fn insert_message(&mut self, m: &NewMessage) -> StoreResult<Option<MessageId>> {
        self.optional(
            concat!(
                "INSERT INTO messages (conversation_id, wamid, direction, type, text, media, context, referral, raw, status, sent_at, received_at, triage) ",
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (wamid) DO NOTHING RETURNING id"
            ),
            params![
                m.conversation_id.0,
                m.wamid,
                m.direction.as_str(),
                m.message_type,
                m.text,
                m.media.as_ref().map(|v| v.to_string()),
                m.context.as_ref().map(|v| v.to_string()),
                m.referral.as_ref().map(|v| v.to_string()),
                m.raw.to_string(),
                m.status,
                ms(m.sent_at),
                ms(m.received_at),
                opt_json(m.triage.as_ref())?,
            ],
            |r| Ok(MessageId(get_i64(r, "id")?)),
        )
    }

    async fn edit_message(
        &mut self,
        wamid: &str,
        text: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self.exec(
            "UPDATE messages SET text = coalesce(?2, text), edited_at = ?3 WHERE wamid = ?1",
            params![wamid, text, ms(at)],
        )? > 0)
    }

    async fn revoke_message(&mut self, wamid: &str, at: Timestamp) -> StoreResult<bool> {
        Ok(self.exec(
            "UPDATE messages SET revoked_at = ?2 WHERE wamid = ?1",
            params![wamid, ms(at)],
        )? > 0)
    }

    async fn apply_status(&mut self, s: &NewStatus) -> StoreResult<StatusOutcome> {
        let inserted = self.exec(
            "INSERT INTO message_statuses (wamid, status, at, raw) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (wamid, status) DO NOTHING",
            params![s.wamid, s.status, ms(s.at), s.raw.to_string()],
        )?;
        if inserted == 0 {
            return Ok(StatusOutcome::Duplicate);
        }
        // `failed` carries the highest rank so nothing moves a failed
        // message back to a success state; otherwise higher rank wins.
        let updated = self.exec(
            "UPDATE messages SET status = ?2, status_rank = ?3, status_at = ?4 WHERE wamid = ?1 AND status_rank < ?3",
            params![s.wamid, s.status, i64::from(s.rank), ms(s.at)],
        )?;
        Ok(StatusOutcome::Recorded {
            message_updated: updated > 0,
        })
    }

    async fn roster(&mut self) -> StoreResult<Vec<Candidate>> {
        self.all(
            concat!(
                "SELECT a.id, a.name, a.role, a.team_id, a.skills, t.skills AS team_skills, a.capacity, a.open_count, ",
                "a.availability, a.last_assigned_at FROM agents a LEFT JOIN teams t ON t.id = a.team_id ORDER BY a.id"
            ),
            [],
            |r| candidate_from_row(r),
        )
    }

    async fn record_assignment(&mut self, a: &NewAssignment) -> StoreResult<Assignment> {
        let row = self.one(
            "INSERT INTO assignments (conversation_id, agent_id, rule, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id, conversation_id, agent_id, rule, reason, created_at",
            params![a.conversation_id.0, a.agent_id.map(|x| x.0), a.rule.as_str(), a.reason, ms(a.at)],
            |r| assignment_from_row(r),
        )?;
        if a.agent_id != a.previous_agent_id {
            // Agent counters and the contact's last agent follow through the
            // triggers of migration 0002.
            self.exec(
                "UPDATE conversations SET assignee_id = ?2, updated_at = ?3 WHERE id = ?1",
                params![a.conversation_id.0, a.agent_id.map(|x| x.0), ms(a.at)],
            )?;
        }
        Ok(row)
    }

    async fn unassigned_conversations(&mut self, limit: u32) -> StoreResult<Vec<Conversation>> {
        self.all(
            concat!("SELECT ", conv_cols!(), " FROM conversations c WHERE c.assignee_id IS NULL AND c.status = 'open' ORDER BY c.due_key, c.id LIMIT ?1"),
            params![i64::from(limit)],
            |r| conversation_from_row(r),
        )
    }

    async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.optional(
            concat!(
                "SELECT ",
                conv_cols!(),
                " FROM conversations c WHERE c.id = ?1"
            ),
            params![id.0],
            |r| conversation_from_row(r),
        )
    }

    async fn inbox(&mut self, id: InboxId) -> StoreResult<Option<Inbox>> {
        self.optional("SELECT id, phone_number_id, display_phone_number, waba_id, team_id FROM inboxes WHERE id = ?1", params![id.0], |r| {
            inbox_from_row(r, "")
        })
    }

    async fn teams(&mut self) -> StoreResult<Vec<Team>> {
        self.all(
            "SELECT id, name, skills, created_at FROM teams ORDER BY id",
            [],
            |r| team_from_row(r),
        )
    }

    async fn contact(&mut self, id: ContactId) -> StoreResult<Option<Contact>> {
        self.optional(
            concat!(
                "SELECT ",
                contact_cols!(),
                " FROM contacts ct WHERE ct.id = ?1"
            ),
            params![id.0],
            |r| contact_from_row(r),
        )
    }

    async fn recent_messages(
        &mut self,
        id: ConversationId,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let mut messages = self.all(
            concat!(
                "SELECT ",
                message_cols!(),
                " FROM messages WHERE conversation_id = ?1 ORDER BY sent_at DESC, id DESC LIMIT ?2"
            ),
            params![id.0, i64::from(limit)],
            |r| message_from_row(r),
        )?;
        messages.reverse();
        Ok(messages)
    }

    async fn schedule_timer(&mut self, t: &NewTimer) -> StoreResult<()> {
        self.exec(
            concat!(
                "INSERT INTO timers (conversation_id, kind, due_at, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ",
                "ON CONFLICT (conversation_id, kind) WHERE status = 'pending' ",
                "DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload"
            ),
            params![t.conversation_id.0, t.kind.as_str(), ms(t.due_at), t.payload.as_ref().map(|v| v.to_string()), ms(t.at)],
        )?;
        Ok(())
    }

    async fn cancel_timers(
        &mut self,
        id: ConversationId,
        kinds: &[TimerKind],
        at: Timestamp,
    ) -> StoreResult<u64> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let n = self.exec(
            concat!(
                "UPDATE timers SET status = 'cancelled', finished_at = ?2 WHERE conversation_id = ?1 AND status = 'pending' ",
                "AND kind IN (SELECT value FROM json_each(?3))"
            ),
            params![id.0, ms(at), to_json(&kinds)?],
        )?;
        Ok(n as u64)
    }

    async fn complete_timer(&mut self, id: i64, worker: &str, at: Timestamp) -> StoreResult<bool> {
        Ok(self.exec(
            "UPDATE timers SET status = 'fired', finished_at = ?3 WHERE id = ?1 AND status = 'pending' AND locked_by = ?2",
            params![id, worker, ms(at)],
        )? == 1)
    }

    async fn insert_escalation(&mut self, e: &NewEscalation) -> StoreResult<Escalation> {
        self.one(
            concat!(
                "INSERT INTO escalations (conversation_id, level, reason, target_agent_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING ",
                escalation_cols!()
            ),
            params![e.conversation_id.0, e.level.as_str(), e.reason, e.target_agent_id.map(|a| a.0), ms(e.at)],
            |r| escalation_from_row(r),
        )
    }

    async fn enqueue(&mut self, o: &NewOutbox) -> StoreResult<OutboxItem> {
        self.exec(
            concat!(
                "INSERT INTO outbox (kind, idempotency_key, conversation_id, message_id, phone_number_id, recipient, payload, next_attempt_at, created_at) ",
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (idempotency_key) DO NOTHING"
            ),
            params![
                o.kind.as_str(),
                o.idempotency_key,
                o.conversation_id.map(|c| c.0),
                o.message_id.map(|m| m.0),
                o.phone_number_id,
                o.recipient,
                o.payload.to_string(),
                ms(o.at)
            ],
        )?;
        self.one(
            concat!(
                "SELECT ",
                outbox_cols!(),
                " FROM outbox WHERE idempotency_key = ?1"
            ),
            params![o.idempotency_key],
            |r| outbox_from_row(r),
        )
    }

    async fn finish_outbox(
        &mut self,
        id: i64,
        worker: &str,
        result: &OutboxResult,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let n = match result {
            OutboxResult::Sent { .. } => self.exec(
                "UPDATE outbox SET status = 'sent', finished_at = ?3, locked_until = NULL, last_error = NULL WHERE id = ?1 AND status = 'pending' AND locked_by = ?2",
                params![id, worker, ms(at)],
            )?,
            OutboxResult::Retry { at: next, error, code } => self.exec(
                "UPDATE outbox SET next_attempt_at = ?3, locked_until = NULL, last_error = ?4, last_code = ?5 WHERE id = ?1 AND status = 'pending' AND locked_by = ?2",
                params![id, worker, ms(*next), error, code],
            )?,
            OutboxResult::Defer { at: next } => self.exec(
                "UPDATE outbox SET next_attempt_at = ?3, locked_until = NULL, attempts = max(attempts - 1, 0) WHERE id = ?1 AND status = 'pending' AND locked_by = ?2",
                params![id, worker, ms(*next)],
            )?,
            OutboxResult::Failed { dead, error, code } => self.exec(
                "UPDATE outbox SET status = ?3, finished_at = ?4, locked_until = NULL, last_error = ?5, last_code = ?6 WHERE id = ?1 AND status = 'pending' AND locked_by = ?2",
                params![id, worker, if *dead { "dead" } else { "failed" }, ms(at), error, code],
            )?,
        };
        Ok(n == 1)
    }

    async fn update_outbound(
        &mut self,
        id: MessageId,
        wamid: Option<&str>,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.exec(
            "UPDATE messages SET wamid = coalesce(?2, wamid), status = ?3, status_at = ?4 WHERE id = ?1",
            params![id.0, wamid, status, ms(at)],
        )?;
        Ok(())
    }

    async fn insert_handoff(&mut self, h: &NewHandoff) -> StoreResult<Handoff> {
        self.one(
            concat!(
                "INSERT INTO handoffs (conversation_id, from_agent_id, to_agent_id, reason, summary, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ",
                "RETURNING id, conversation_id, from_agent_id, to_agent_id, reason, summary, created_at, acknowledged_at"
            ),
            params![h.conversation_id.0, h.from_agent_id.map(|a| a.0), h.to_agent_id.0, h.reason, h.summary.to_string(), ms(h.at)],
            |r| handoff_from_row(r),
        )
    }

    async fn open_handoff(&mut self, id: ConversationId) -> StoreResult<Option<Handoff>> {
        self.optional(
            "SELECT id, conversation_id, from_agent_id, to_agent_id, reason, summary, created_at, acknowledged_at FROM handoffs WHERE conversation_id = ?1 AND acknowledged_at IS NULL ORDER BY id DESC LIMIT 1",
            params![id.0],
            |r| handoff_from_row(r),
        )
    }

    async fn ack_handoff(&mut self, handoff_id: i64, at: Timestamp) -> StoreResult<Handoff> {
        self.one(
            "UPDATE handoffs SET acknowledged_at = coalesce(acknowledged_at, ?2) WHERE id = ?1 RETURNING id, conversation_id, from_agent_id, to_agent_id, reason, summary, created_at, acknowledged_at",
            params![handoff_id, ms(at)],
            |r| handoff_from_row(r),
        )
    }

    async fn upsert_template(&mut self, t: &TemplateRecord) -> StoreResult<()> {
        self.exec(
            concat!(
                "INSERT INTO templates (waba_id, meta_id, name, language, status, category, components, placeholders, updated_at) ",
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (name, language) DO UPDATE SET ",
                "waba_id = excluded.waba_id, meta_id = excluded.meta_id, status = excluded.status, category = excluded.category, ",
                "components = excluded.components, placeholders = excluded.placeholders, updated_at = excluded.updated_at"
            ),
            params![t.waba_id, t.meta_id, t.name, t.language, t.status, t.category, t.components.to_string(), t.placeholders.to_string(), ms(t.updated_at)],
        )?;
        Ok(())
    }

    async fn set_template_status(
        &mut self,
        name: &str,
        language: Option<&str>,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self.exec(
            "UPDATE templates SET status = ?3, updated_at = ?4 WHERE name = ?1 AND (?2 IS NULL OR language = ?2)",
            params![name, language, status, ms(at)],
        )? > 0)
    }

    async fn template(
        &mut self,
        name: &str,
        language: &str,
    ) -> StoreResult<Option<TemplateRecord>> {
        self.optional(
            "SELECT waba_id, meta_id, name, language, status, category, components, placeholders, updated_at FROM templates WHERE name = ?1 AND language = ?2",
            params![name, language],
            |r| template_from_row(r),
        )
    }

    async fn record_consent(
        &mut self,
        contact: ContactId,
        opt_in: bool,
        source: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO consent_events (contact_id, event, source, at) VALUES (?1, ?2, ?3, ?4)",
            params![
                contact.0,
                if opt_in { "opt_in" } else { "opt_out" },
                source,
                ms(at)
            ],
        )?;
        if opt_in {
            self.exec(
                "UPDATE contacts SET opted_in_at = ?2, opted_out_at = NULL WHERE id = ?1",
                params![contact.0, ms(at)],
            )?;
        } else {
            self.exec(
                "UPDATE contacts SET opted_out_at = coalesce(opted_out_at, ?2) WHERE id = ?1",
                params![contact.0, ms(at)],
            )?;
        }
        Ok(())
    }

    async fn insert_sla_event(&mut self, e: &NewSlaEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO sla_events (conversation_id, target, event, due_at, at, agent_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.conversation_id.0, e.clock.as_str(), e.event.as_str(), ms(e.due_at), ms(e.at), e.agent_id.map(|a| a.0)],
        )?;
        Ok(())
    }

    async fn lease_due_timers(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        self.claim_due_timers(now, until, worker, limit)
    }

    async fn next_timer_due(&mut self) -> StoreResult<Option<Timestamp>> {
        self.one(
            "SELECT min(due_at) AS due FROM timers WHERE status = 'pending'",
            [],
            |r| get_opt_ts(r, "due"),
        )
    }

    async fn rollup_watermark(&mut self) -> StoreResult<i64> {
        self.one(
            "SELECT last_event_id FROM report_rollup WHERE id = 1",
            [],
            |r| get_i64(r, "last_event_id"),
        )
    }

    async fn set_rollup_watermark(&mut self, last_event_id: i64) -> StoreResult<()> {
        self.exec(
            "UPDATE report_rollup SET last_event_id = ?1 WHERE id = 1",
            params![last_event_id],
        )?;
        Ok(())
    }

    async fn report_events_after(
        &mut self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ReportEvent>> {
        self.all(
            &format!(
                "SELECT {REPORT_EVENT_COLS} FROM report_events WHERE id > ?1 ORDER BY id LIMIT ?2"
            ),
            params![after, limit],
            |r| report_event_from_row(r),
        )
    }

    async fn report_events_of(&mut self, ids: &[ConversationId]) -> StoreResult<Vec<ReportEvent>> {
        let sql = format!(
            "SELECT {REPORT_EVENT_COLS} FROM report_events WHERE conversation_id = ?1 ORDER BY id"
        );
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.all(&sql, params![id.0], |r| report_event_from_row(r))?);
        }
        Ok(out)
    }

    async fn replace_cycles(
        &mut self,
        id: ConversationId,
        cycles: &[CycleRecord],
    ) -> StoreResult<Vec<jiff::civil::Date>> {
        let mut days: Vec<String> = self.all(
            "SELECT DISTINCT day FROM report_cycles WHERE conversation_id = ?1",
            params![id.0],
            |r| get::<String, _>(r, "day"),
        )?;
        let window =
            i64::try_from(switchboard_core::kpi::RECONTACT_WINDOW.as_millis()).unwrap_or(i64::MAX);
        self.exec(
            "DELETE FROM report_cycles WHERE conversation_id = ?1",
            params![id.0],
        )?;
        for r in cycles {
            let c = &r.cycle;
            let facts = postcard::to_allocvec(&c.facts)
                .map_err(|e| StoreError::Corrupt(format!("cycle facts: {e}")))?;
            let contact = c.contact_id.map(|x| x.0);
            // A later new conversation of the same contact within the window
            // makes this resolve a re-contact; and this conversation's
            // opening does the same for the contact's earlier resolves.
            let recontacted = match (c.resolved_at, contact) {
                (Some(resolved), Some(contact)) => self
                    .optional(
                        "SELECT 1 AS hit FROM report_cycles WHERE contact_id = ?1 AND conversation_id <> ?2 AND seq = 0 AND opened_at > ?3 AND opened_at <= ?4 LIMIT 1",
                        params![contact, id.0, ms(resolved), ms(resolved).saturating_add(window)],
                        |r| get_i64(r, "hit"),
                    )?
                    .is_some(),
                _ => false,
            };
            days.push(r.day.to_string());
            self.exec(
                concat!(
                    "INSERT INTO report_cycles (conversation_id, seq, contact_id, opened_at, day, returning_contact, inbox_id, team_id, agent_id, ",
                    "category, intent, language, source_id, source_type, priority, disposition, resolved_at, facts, recontacted) ",
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
                ),
                params![
                    id.0,
                    c.seq,
                    contact,
                    ms(c.opened_at),
                    r.day.to_string(),
                    c.facts.returning,
                    c.dims.inbox_id.map(|x| x.0),
                    c.dims.team_id.map(|x| x.0),
                    c.dims.agent_id.map(|x| x.0),
                    c.dims.category.map(|x| x.as_str()),
                    c.dims.intent,
                    c.dims.language,
                    c.dims.source_id,
                    c.dims.source_type,
                    c.priority.map(|p| p.as_str()),
                    c.disposition,
                    c.resolved_at.map(ms),
                    facts,
                    recontacted,
                ],
            )?;
            if c.seq == 0
                && let Some(contact) = contact
            {
                days.extend(self.all(
                    "UPDATE report_cycles SET recontacted = 1 WHERE contact_id = ?1 AND conversation_id <> ?2 AND resolved_at IS NOT NULL AND resolved_at < ?3 AND resolved_at >= ?4 AND recontacted = 0 RETURNING day",
                    params![contact, id.0, ms(c.opened_at), ms(c.opened_at).saturating_sub(window)],
                    |r| get::<String, _>(r, "day"),
                )?);
            }
        }
        days.sort();
        days.dedup();
        days.iter()
            .map(|d| {
                d.parse()
                    .map_err(|e| StoreError::Corrupt(format!("report_cycles.day {d:?}: {e}")))
            })
            .collect()
    }

    async fn cycles_of_day(&mut self, day: jiff::civil::Date) -> StoreResult<Vec<DayCycle>> {
        self.all(
            concat!(
                "SELECT inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, ",
                "returning_contact, disposition, recontacted, facts FROM report_cycles WHERE day = ?1"
            ),
            params![day.to_string()],
            |r| day_cycle_from_row(r),
        )
    }

    async fn replace_daily(
        &mut self,
        day: jiff::civil::Date,
        rows: &[DailyAggregate],
    ) -> StoreResult<()> {
        let day = day.to_string();
        self.exec("DELETE FROM report_daily WHERE day = ?1", params![day])?;
        for row in rows {
            let acc = postcard::to_allocvec(&row.acc)
                .map_err(|e| StoreError::Corrupt(format!("daily aggregate: {e}")))?;
            self.exec(
                "INSERT INTO report_daily (day, dimension, key, acc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    day,
                    row.dimension.map_or("total", Dimension::as_str),
                    row.key,
                    acc
                ],
            )?;
        }
        Ok(())
    }

    async fn import_report_events(&mut self, events: &[ReportEvent]) -> StoreResult<u64> {
        for e in events {
            self.exec(
                concat!(
                    "INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, ",
                    "category, intent, language, source_id, source_type, priority, detail, value_ms) ",
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ),
                params![
                    ms(e.at),
                    e.kind.as_str(),
                    e.conversation_id.map(|x| x.0),
                    e.contact_id.map(|x| x.0),
                    e.message_id.map(|x| x.0),
                    e.dims.inbox_id.map(|x| x.0),
                    e.dims.team_id.map(|x| x.0),
                    e.dims.agent_id.map(|x| x.0),
                    e.dims.category.map(|x| x.as_str()),
                    e.dims.intent,
                    e.dims.language,
                    e.dims.source_id,
                    e.dims.source_type,
                    e.priority.map(|p| p.as_str()),
                    e.detail,
                    e.value_ms,
                ],
            )?;
        }
        Ok(events.len() as u64)
    }
}

impl SqliteTx {
    /// Claims due outbox rows (see `Store::claim_outbox`).
    pub(crate) fn claim_outbox(
        &self,
        now: Timestamp,
        until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let mut items = self.all(
            concat!(
                "UPDATE outbox SET locked_until = ?2, locked_by = ?3, attempts = attempts + 1 WHERE id IN (",
                "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1 ",
                "AND (locked_until IS NULL OR locked_until < ?1) ORDER BY next_attempt_at, id LIMIT ?4) RETURNING ",
                outbox_cols!()
            ),
            params![ms(now), ms(until), worker, i64::from(limit)],
            |r| outbox_from_row(r),
        )?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }
}
