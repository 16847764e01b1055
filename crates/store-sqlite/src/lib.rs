//! Switchboard's embedded SQLite store, the zero-configuration default.
//!
//! Parts:
//! - [`SqliteStore`]: a connection pool opened with the settings every
//!   pooled connection needs (WAL, `synchronous=NORMAL`, a busy timeout,
//!   foreign keys) and the embedded migrations in `migrations/`.
//! - [`SqliteTx`]: the write transaction, always started with
//!   `BEGIN IMMEDIATE`: a deferred `BEGIN` that reads and then writes must
//!   upgrade its lock, and SQLite answers that upgrade with `SQLITE_BUSY`
//!   immediately, without waiting on the busy timeout, whenever another
//!   connection wrote in between (sqlx issue #451; verified on this stack).
//!
//! Times are stored as INTEGER Unix milliseconds (UTC) and JSON as TEXT.
//! SQLite mode is one process: run several instances only on PostgreSQL.
#![forbid(unsafe_code)]

mod rows;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool, Transaction};
use switchboard_core::assign::Candidate;
use switchboard_core::ids::{AgentId, ContactId, ConversationId, DeliveryId, InboxId, MessageId};
use switchboard_core::model::ConversationStatus;
use switchboard_store::*;

use rows::*;

/// The SQLite-backed [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// How long a writer waits for the lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH`
    /// or `sqlite:PATH`), applies the connection settings and runs pending
    /// migrations.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is malformed, the file cannot be
    /// opened or a migration fails.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid database URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot open {url:?}: {e}")))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for connections to be returned; WAL is
    /// checkpointed by SQLite when the last connection closes.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A `BEGIN IMMEDIATE` transaction on [`SqliteStore`].
#[derive(Debug)]
pub struct SqliteTx {
    tx: Transaction<'static, sqlx::Sqlite>,
}

#[async_trait]
impl Store for SqliteStore {
    type Tx = SqliteTx;

    async fn begin(&self) -> StoreResult<SqliteTx> {
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        Ok(SqliteTx { tx })
    }

    async fn create_team(&self, team: &NewTeam) -> StoreResult<Team> {
        let row = sqlx::query("INSERT INTO teams (name, skills, created_at) VALUES (?1, ?2, ?3) RETURNING id, name, skills, created_at")
            .bind(&team.name)
            .bind(to_json(&team.skills)?)
            .bind(ms(team.at))
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        team_from_row(&row)
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        let rows = sqlx::query("SELECT id, name, skills, created_at FROM teams ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(team_from_row).collect()
    }

    async fn create_agent(&self, a: &NewAgent) -> StoreResult<Agent> {
        let row = sqlx::query(concat!(
            "INSERT INTO agents (name, email, role, team_id, skills, capacity, availability, token_sha256, created_at) ",
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING ",
            agent_cols!()
        ))
        .bind(&a.name)
        .bind(&a.email)
        .bind(a.role.as_str())
        .bind(a.team_id.map(|t| t.0))
        .bind(to_json(&a.skills)?)
        .bind(i64::from(a.capacity))
        .bind(a.availability.as_str())
        .bind(&a.token_sha256)
        .bind(ms(a.at))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match db_err(e) {
            StoreError::NotFound(_) => StoreError::NotFound("team"),
            other => other,
        })?;
        agent_from_row(&row)
    }

    async fn update_agent(&self, id: AgentId, patch: &AgentPatch) -> StoreResult<Agent> {
        let row = sqlx::query(concat!(
            "UPDATE agents SET availability = coalesce(?2, availability), capacity = coalesce(?3, capacity) ",
            "WHERE id = ?1 RETURNING ",
            agent_cols!()
        ))
        .bind(id.0)
        .bind(patch.availability.map(|a| a.as_str()))
        .bind(patch.capacity.map(i64::from))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound("agent"))?;
        agent_from_row(&row)
    }

    async fn get_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            agent_cols!(),
            " FROM agents WHERE id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agent_by_token_hash(&self, token_sha256: &str) -> StoreResult<Option<Agent>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            agent_cols!(),
            " FROM agents WHERE token_sha256 = ?1"
        ))
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> StoreResult<Page> {
        let limit = f.limit.clamp(1, 500);
        let (after_due, after_id) = f.after.map_or((i64::MIN, i64::MIN), |c| (c.due_ms, c.id.0));
        let rows = sqlx::query(concat!(
            "SELECT ",
            summary_cols!(),
            " FROM conversations c JOIN contacts ct ON ct.id = c.contact_id JOIN inboxes ib ON ib.id = c.inbox_id ",
            "WHERE (?1 IS NULL OR c.status = ?1) AND (?2 IS NULL OR c.assignee_id = ?2) ",
            "AND (?3 = 0 OR c.assignee_id IS NULL) AND (?4 IS NULL OR c.team_id = ?4) ",
            "AND (?5 IS NULL OR c.category = ?5) AND (c.due_key, c.id) > (?6, ?7) ",
            "ORDER BY c.due_key, c.id LIMIT ?8"
        ))
        .bind(f.status.map(|s| s.as_str()))
        .bind(f.assignee_id.map(|a| a.0))
        .bind(f.unassigned)
        .bind(f.team_id.map(|t| t.0))
        .bind(f.category.map(|c| c.as_str()))
        .bind(after_due)
        .bind(after_id)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut items = rows
            .iter()
            .map(summary_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|s| QueueCursor {
                due_ms: s.conversation.first_response_due_at.map_or(i64::MAX, ms),
                id: s.conversation.id,
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn get_conversation(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationDetail>> {
        let Some(row) = sqlx::query(concat!(
            "SELECT ",
            summary_cols!(),
            " FROM conversations c JOIN contacts ct ON ct.id = c.contact_id JOIN inboxes ib ON ib.id = c.inbox_id WHERE c.id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        else {
            return Ok(None);
        };
        let summary = summary_from_row(&row)?;
        let messages = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE conversation_id = ?1 ORDER BY sent_at, id"
        ))
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(message_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let assignments = sqlx::query(
            "SELECT id, conversation_id, agent_id, rule, reason, created_at FROM assignments WHERE conversation_id = ?1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(assignment_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(ConversationDetail {
            summary,
            messages,
            assignments,
        }))
    }

    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        let row = sqlx::query("SELECT id, received_at, body, status, error, messages, duplicates FROM deliveries WHERE id = ?1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<Delivery>> {
        sqlx::query(
            "SELECT id, received_at, body, status, error, messages, duplicates FROM deliveries WHERE status = 'dead_letter' ORDER BY id DESC LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    async fn queue_stats(&self, now: Timestamp) -> StoreResult<QueueStats> {
        let row = sqlx::query(concat!(
            "SELECT count(*) AS open, ",
            "coalesce(sum(waiting_since IS NOT NULL), 0) AS waiting, ",
            "coalesce(sum(assignee_id IS NULL), 0) AS unassigned, ",
            "coalesce(sum(waiting_since IS NOT NULL AND first_responded_at IS NULL AND first_response_due_at < ?1), 0) AS overdue ",
            "FROM conversations WHERE status <> 'resolved'"
        ))
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(QueueStats {
            open: get_u64(&row, "open")?,
            waiting: get_u64(&row, "waiting")?,
            unassigned: get_u64(&row, "unassigned")?,
            overdue: get_u64(&row, "overdue")?,
        })
    }

    async fn count_messages_with_wamid(&self, wamid: &str) -> StoreResult<u64> {
        let row = sqlx::query("SELECT count(*) AS n FROM messages WHERE wamid = ?1")
            .bind(wamid)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        get_u64(&row, "n")
    }

    async fn totals(&self) -> StoreResult<Totals> {
        let row = sqlx::query(concat!(
            "SELECT (SELECT count(*) FROM deliveries) AS deliveries, ",
            "(SELECT count(*) FROM deliveries WHERE status = 'dead_letter') AS dead_letters, ",
            "(SELECT count(*) FROM messages) AS messages, ",
            "(SELECT count(*) FROM conversations) AS conversations, ",
            "(SELECT count(*) FROM contacts) AS contacts, ",
            "(SELECT count(*) FROM message_statuses) AS statuses, ",
            "(SELECT count(*) FROM webhook_events) AS webhook_events"
        ))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Totals {
            deliveries: get_u64(&row, "deliveries")?,
            dead_letters: get_u64(&row, "dead_letters")?,
            messages: get_u64(&row, "messages")?,
            conversations: get_u64(&row, "conversations")?,
            contacts: get_u64(&row, "contacts")?,
            statuses: get_u64(&row, "statuses")?,
            webhook_events: get_u64(&row, "webhook_events")?,
        })
    }
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn insert_delivery(&mut self, d: &NewDelivery) -> StoreResult<DeliveryId> {
        let row = sqlx::query("INSERT INTO deliveries (received_at, body, signature) VALUES (?1, ?2, ?3) RETURNING id")
            .bind(ms(d.received_at))
            .bind(&d.body)
            .bind(&d.signature)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(DeliveryId(get_i64(&row, "id")?))
    }

    async fn finish_delivery(&mut self, id: DeliveryId, o: &DeliveryOutcome) -> StoreResult<()> {
        sqlx::query("UPDATE deliveries SET status = ?2, error = ?3, messages = ?4, duplicates = ?5 WHERE id = ?1")
            .bind(id.0)
            .bind(o.status.as_str())
            .bind(&o.error)
            .bind(i64::from(o.messages))
            .bind(i64::from(o.duplicates))
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_webhook_event(&mut self, e: &NewWebhookEvent) -> StoreResult<()> {
        sqlx::query("INSERT INTO webhook_events (delivery_id, field, kind, payload, received_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(e.delivery_id.0)
            .bind(&e.field)
            .bind(&e.kind)
            .bind(e.payload.to_string())
            .bind(ms(e.received_at))
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn upsert_inbox(&mut self, i: &InboxUpsert) -> StoreResult<Inbox> {
        let row = sqlx::query(concat!(
            "INSERT INTO inboxes (phone_number_id, display_phone_number, waba_id, created_at) VALUES (?1, ?2, ?3, ?4) ",
            "ON CONFLICT (phone_number_id) DO UPDATE SET ",
            "display_phone_number = coalesce(excluded.display_phone_number, display_phone_number), ",
            "waba_id = coalesce(excluded.waba_id, waba_id) ",
            "RETURNING id, phone_number_id, display_phone_number, waba_id, team_id"
        ))
        .bind(i.phone_number_id.as_str())
        .bind(&i.display_phone_number)
        .bind(&i.waba_id)
        .bind(ms(i.at))
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_err)?;
        inbox_from_row(&row, "")
    }

    async fn upsert_contact(&mut self, c: &ContactUpsert) -> StoreResult<Contact> {
        let wa = c.wa_id.as_ref().map(|w| w.as_str());
        let user = c.user_id.as_ref().map(|u| u.as_str());
        if wa.is_none() && user.is_none() {
            return Err(StoreError::Corrupt(
                "a contact needs a wa_id or a BSUID".into(),
            ));
        }
        let found = sqlx::query(
            "SELECT id, wa_id, user_id FROM contacts WHERE wa_id = ?1 OR user_id = ?2 ORDER BY id",
        )
        .bind(wa)
        .bind(user)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_err)?;
        let id = match found.first() {
            None => {
                let row = sqlx::query(
                    "INSERT INTO contacts (wa_id, user_id, name, username, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
                )
                .bind(wa)
                .bind(user)
                .bind(&c.name)
                .bind(&c.username)
                .bind(ms(c.at))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(db_err)?;
                get_i64(&row, "id")?
            }
            Some(first) => {
                let id = get_i64(first, "id")?;
                // Two rows means the wa_id and the BSUID were first seen
                // apart; the older row keeps both, the other keeps its own id
                // only (its history stays where it is).
                let other_has = |col: &str, v: Option<&str>| {
                    found.iter().skip(1).any(|r| {
                        v.is_some()
                            && r.try_get::<Option<String>, _>(col)
                                .ok()
                                .flatten()
                                .as_deref()
                                == v
                    })
                };
                let link_wa = if other_has("wa_id", wa) { None } else { wa };
                let link_user = if other_has("user_id", user) {
                    None
                } else {
                    user
                };
                sqlx::query(concat!(
                    "UPDATE contacts SET wa_id = coalesce(wa_id, ?2), user_id = coalesce(user_id, ?3), ",
                    "name = coalesce(?4, name), username = coalesce(?5, username), updated_at = ?6 WHERE id = ?1"
                ))
                .bind(id)
                .bind(link_wa)
                .bind(link_user)
                .bind(&c.name)
                .bind(&c.username)
                .bind(ms(c.at))
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
                id
            }
        };
        let row = sqlx::query(concat!(
            "SELECT ",
            contact_cols!(),
            " FROM contacts ct WHERE ct.id = ?1"
        ))
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_err)?;
        contact_from_row(&row)
    }

    async fn touch_contact_inbound(&mut self, id: ContactId, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE contacts SET last_inbound_at = max(coalesce(last_inbound_at, ?2), ?2) WHERE id = ?1")
            .bind(id.0)
            .bind(ms(at))
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn wamid_exists(&mut self, wamid: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM messages WHERE wamid = ?1) AS e")
            .bind(wamid)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(get_i64(&row, "e")? != 0)
    }

    async fn active_conversation(
        &mut self,
        contact: ContactId,
        inbox: InboxId,
    ) -> StoreResult<Option<Conversation>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            conv_cols!(),
            " FROM conversations c WHERE c.contact_id = ?1 AND c.inbox_id = ?2 AND c.status <> 'resolved'"
        ))
        .bind(contact.0)
        .bind(inbox.0)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_err)?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn insert_conversation(&mut self, c: &NewConversation) -> StoreResult<Conversation> {
        let row = sqlx::query(concat!(
            "INSERT INTO conversations (contact_id, inbox_id, team_id, attribution, created_at, updated_at, last_message_at) ",
            "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5) RETURNING id"
        ))
        .bind(c.contact_id.0)
        .bind(c.inbox_id.0)
        .bind(c.team_id.map(|t| t.0))
        .bind(c.attribution.as_ref().map(to_json).transpose()?)
        .bind(ms(c.at))
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_err)?;
        let row = sqlx::query(concat!(
            "SELECT ",
            conv_cols!(),
            " FROM conversations c WHERE c.id = ?1"
        ))
        .bind(get_i64(&row, "id")?)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_err)?;
        conversation_from_row(&row)
    }

    async fn save_conversation(&mut self, c: &Conversation) -> StoreResult<()> {
        let before = sqlx::query("SELECT status, assignee_id FROM conversations WHERE id = ?1")
            .bind(c.id.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound("conversation"))?;
        let was_resolved = get_opt_str_pub(&before, "status")?.as_deref() == Some("resolved");
        let is_resolved = c.status == ConversationStatus::Resolved;
        let done = sqlx::query(concat!(
            "UPDATE conversations SET status = ?2, priority = ?3, category = ?4, intent = ?5, escalation_reasons = ?6, ",
            "assignee_id = ?7, team_id = ?8, waiting_since = ?9, waiting_count = ?10, first_response_due_at = ?11, ",
            "first_responded_at = ?12, attribution = ?13, updated_at = ?14, last_message_at = ?15 WHERE id = ?1"
        ))
        .bind(c.id.0)
        .bind(c.status.as_str())
        .bind(c.priority.as_str())
        .bind(c.category.map(|x| x.as_str()))
        .bind(&c.intent)
        .bind(to_json(&c.escalation_reasons)?)
        .bind(c.assignee_id.map(|a| a.0))
        .bind(c.team_id.map(|t| t.0))
        .bind(c.waiting_since.map(ms))
        .bind(i64::from(c.waiting_count))
        .bind(c.first_response_due_at.map(ms))
        .bind(c.first_responded_at.map(ms))
        .bind(c.attribution.as_ref().map(to_json).transpose()?)
        .bind(ms(c.updated_at))
        .bind(ms(c.last_message_at))
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("conversation"));
        }
        // Open-conversation counters follow resolve and reopen, so capacity
        // is released the moment a conversation closes.
        if let Some(agent) = c.assignee_id.filter(|_| was_resolved != is_resolved) {
            let delta: i64 = if is_resolved { -1 } else { 1 };
            sqlx::query("UPDATE agents SET open_count = max(open_count + ?2, 0) WHERE id = ?1")
                .bind(agent.0)
                .bind(delta)
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
        }
        if is_resolved && !was_resolved {
            // Counted once per resolution: the returning-contact signal.
            sqlx::query(concat!(
                "UPDATE contacts SET resolved_conversations = ",
                "(SELECT count(*) FROM conversations WHERE contact_id = ?1 AND status = 'resolved') WHERE id = ?1"
            ))
            .bind(c.contact_id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        }
        Ok(())
    }

    async fn insert_message(&mut self, m: &NewMessage) -> StoreResult<Option<MessageId>> {
        let row = sqlx::query(concat!(
            "INSERT INTO messages (conversation_id, wamid, direction, type, text, media, context, referral, raw, status, sent_at, received_at, triage) ",
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (wamid) DO NOTHING RETURNING id"
        ))
        .bind(m.conversation_id.0)
        .bind(&m.wamid)
        .bind(m.direction.as_str())
        .bind(&m.message_type)
        .bind(&m.text)
        .bind(m.media.as_ref().map(|v| v.to_string()))
        .bind(m.context.as_ref().map(|v| v.to_string()))
        .bind(m.referral.as_ref().map(|v| v.to_string()))
        .bind(m.raw.to_string())
        .bind(&m.status)
        .bind(ms(m.sent_at))
        .bind(ms(m.received_at))
        .bind(m.triage.as_ref().map(to_json).transpose()?)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_err)?;
        row.map(|r| get_i64(&r, "id").map(MessageId)).transpose()
    }

    async fn edit_message(
        &mut self,
        wamid: &str,
        text: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE messages SET text = coalesce(?2, text), edited_at = ?3 WHERE wamid = ?1",
        )
        .bind(wamid)
        .bind(text)
        .bind(ms(at))
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_message(&mut self, wamid: &str, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE messages SET revoked_at = ?2 WHERE wamid = ?1")
            .bind(wamid)
            .bind(ms(at))
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn apply_status(&mut self, s: &NewStatus) -> StoreResult<StatusOutcome> {
        let inserted = sqlx::query(
            "INSERT INTO message_statuses (wamid, status, at, raw) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (wamid, status) DO NOTHING",
        )
        .bind(&s.wamid)
        .bind(&s.status)
        .bind(ms(s.at))
        .bind(s.raw.to_string())
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        if inserted.rows_affected() == 0 {
            return Ok(StatusOutcome::Duplicate);
        }
        // `failed` carries the highest rank so nothing moves a failed
        // message back to a success state; otherwise higher rank wins.
        let updated = sqlx::query("UPDATE messages SET status = ?2, status_rank = ?3 WHERE wamid = ?1 AND status_rank < ?3")
            .bind(&s.wamid)
            .bind(&s.status)
            .bind(i64::from(s.rank))
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(StatusOutcome::Recorded {
            message_updated: updated.rows_affected() > 0,
        })
    }

    async fn roster(&mut self) -> StoreResult<Vec<Candidate>> {
        let rows = sqlx::query(concat!(
            "SELECT a.id, a.name, a.role, a.team_id, a.skills, t.skills AS team_skills, a.capacity, a.open_count, ",
            "a.availability, a.last_assigned_at FROM agents a LEFT JOIN teams t ON t.id = a.team_id ORDER BY a.id"
        ))
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_err)?;
        rows.iter().map(candidate_from_row).collect()
    }

    async fn record_assignment(&mut self, a: &NewAssignment) -> StoreResult<Assignment> {
        let row = sqlx::query(
            "INSERT INTO assignments (conversation_id, agent_id, rule, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id, conversation_id, agent_id, rule, reason, created_at",
        )
        .bind(a.conversation_id.0)
        .bind(a.agent_id.map(|x| x.0))
        .bind(rule_str(a.rule))
        .bind(&a.reason)
        .bind(ms(a.at))
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_err)?;
        if a.agent_id != a.previous_agent_id {
            if let Some(prev) = a.previous_agent_id {
                sqlx::query("UPDATE agents SET open_count = max(open_count - 1, 0) WHERE id = ?1")
                    .bind(prev.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db_err)?;
            }
            if let Some(next) = a.agent_id {
                sqlx::query("UPDATE agents SET open_count = open_count + 1, last_assigned_at = ?2 WHERE id = ?1")
                    .bind(next.0)
                    .bind(ms(a.at))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("UPDATE contacts SET last_agent_id = ?2 WHERE id = ?1")
                    .bind(a.contact_id.0)
                    .bind(next.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db_err)?;
            }
            sqlx::query("UPDATE conversations SET assignee_id = ?2, updated_at = ?3 WHERE id = ?1")
                .bind(a.conversation_id.0)
                .bind(a.agent_id.map(|x| x.0))
                .bind(ms(a.at))
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
        }
        assignment_from_row(&row)
    }

    async fn unassigned_conversations(&mut self, limit: u32) -> StoreResult<Vec<Conversation>> {
        sqlx::query(concat!(
            "SELECT ",
            conv_cols!(),
            " FROM conversations c WHERE c.assignee_id IS NULL AND c.status = 'open' ORDER BY c.due_key, c.id LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(conversation_from_row)
        .collect()
    }

    async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await.map_err(db_err)
    }
}
