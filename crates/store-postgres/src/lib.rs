//! Switchboard's PostgreSQL store, for deployments that outgrow one
//! process or want a managed database.
//!
//! Parts:
//! - [`PgStore`]: an sqlx connection pool and the embedded migrations in
//!   `migrations/`, which translate the SQLite schema one to one (same
//!   tables, columns, constraints and indices; SQLite triggers become
//!   PL/pgSQL triggers), so both backends keep counters and reporting
//!   events in the database, where no write path can forget them.
//! - [`PgTx`]: the write transaction lent to [`Store::write`] closures.
//!
//! Times are stored as `bigint` Unix milliseconds (UTC) and JSON as `text`,
//! the same representation as on SQLite: the row decoders, the queue cursor
//! (`due_ms`) and the reporting arithmetic (`value_ms`) then mean the same
//! thing on both backends.
//!
//! Timer and outbox claims use `FOR UPDATE SKIP LOCKED`, so several
//! Switchboard processes can share one database; the lease columns
//! (`locked_by`, `locked_until`) fence a worker whose lease expired.
#![forbid(unsafe_code)]

mod tx;

use std::str::FromStr;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use switchboard_core::ids::{AgentId, ConversationId, DeliveryId};
use switchboard_store::*;

use switchboard_store::rows::*;
pub use tx::PgTx;

/// The PostgreSQL-backed [`Store`]. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Pooled connections per process: the webhook intake, the timer and
/// outbox workers and the API's reads each hold one at a time.
const MAX_CONNECTIONS: u32 = 16;

impl PgStore {
    /// Connects to the database at `url` (`postgres://USER:PASSWORD@HOST:PORT/DB`
    /// or `postgresql://…`) and runs pending migrations. The database must
    /// exist; Switchboard does not create it.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is malformed, the server cannot
    /// be reached or refuses the login, or a migration fails.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for checked-out connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The rows `sql` selects for one conversation (its `$1` is the
    /// conversation id), decoded by `decode`: every per-conversation read of
    /// the detail view, the handoffs and the report events.
    async fn of_conversation<T>(
        &self,
        sql: &'static str,
        id: ConversationId,
        decode: fn(&sqlx::postgres::PgRow) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        sqlx::query(sql)
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(decode)
            .collect()
    }
}

#[async_trait]
impl Store for PgStore {
    type Tx = PgTx;

    async fn write<R, F>(&self, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: for<'t> FnOnce(&'t mut PgTx) -> BoxFuture<'t, StoreResult<R>> + Send + 'static,
    {
        let tx = self.pool.begin().await.map_err(db_err)?;
        let mut tx = PgTx { tx };
        // A panic in `work` drops the transaction, which rolls it back.
        match work(&mut tx).await {
            Ok(value) => {
                tx.tx.commit().await.map_err(db_err)?;
                Ok(value)
            }
            Err(e) => {
                tx.tx.rollback().await.map_err(db_err)?;
                Err(e)
            }
        }
    }

    async fn close(&self) {
        PgStore::close(self).await;
    }

    async fn create_team(&self, team: &NewTeam) -> StoreResult<Team> {
        let row = sqlx::query("INSERT INTO teams (name, skills, created_at) VALUES ($1, $2, $3) RETURNING id, name, skills, created_at")
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
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
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
            "UPDATE agents SET availability = coalesce($2, availability), capacity = coalesce($3, capacity) ",
            "WHERE id = $1 RETURNING ",
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
            " FROM agents WHERE id = $1"
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
            " FROM agents WHERE token_sha256 = $1"
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
            "WHERE ($1 IS NULL OR c.status = $1) AND ($2 IS NULL OR c.assignee_id = $2) ",
            "AND (NOT $3 OR c.assignee_id IS NULL) AND ($4 IS NULL OR c.team_id = $4) ",
            "AND ($5 IS NULL OR c.category = $5) AND (c.due_key, c.id) > ($6, $7) ",
            "ORDER BY c.due_key, c.id LIMIT $8"
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
            " FROM conversations c JOIN contacts ct ON ct.id = c.contact_id JOIN inboxes ib ON ib.id = c.inbox_id WHERE c.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        else {
            return Ok(None);
        };
        let summary = summary_from_row(&row)?;
        let messages = self
            .of_conversation(
                concat!(
                    "SELECT ",
                    message_cols!(),
                    " FROM messages WHERE conversation_id = $1 ORDER BY sent_at, id"
                ),
                id,
                message_from_row,
            )
            .await?;
        let assignments = self.of_conversation("SELECT id, conversation_id, agent_id, rule, reason, created_at FROM assignments WHERE conversation_id = $1 ORDER BY id", id, assignment_from_row).await?;
        let escalations = self
            .of_conversation(
                concat!(
                    "SELECT ",
                    escalation_cols!(),
                    " FROM escalations WHERE conversation_id = $1 ORDER BY id"
                ),
                id,
                escalation_from_row,
            )
            .await?;
        let sla_events = self.of_conversation("SELECT id, conversation_id, target, event, due_at, at, agent_id FROM sla_events WHERE conversation_id = $1 ORDER BY id", id, sla_event_from_row).await?;
        Ok(Some(ConversationDetail {
            summary,
            messages,
            assignments,
            escalations,
            sla_events,
        }))
    }

    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        let row = sqlx::query("SELECT id, received_at, body, status, error, messages, duplicates FROM deliveries WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<Delivery>> {
        sqlx::query(
            "SELECT id, received_at, body, status, error, messages, duplicates FROM deliveries WHERE status = 'dead_letter' ORDER BY id DESC LIMIT $1",
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
            "count(*) FILTER (WHERE waiting_since IS NOT NULL) AS waiting, ",
            "count(*) FILTER (WHERE assignee_id IS NULL) AS unassigned, ",
            "count(*) FILTER (WHERE waiting_since IS NOT NULL AND first_responded_at IS NULL AND first_response_due_at < $1) AS overdue ",
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
        let row = sqlx::query("SELECT count(*) AS n FROM messages WHERE wamid = $1")
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

    async fn claim_due_timers(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        let until = now.checked_add(lease).unwrap_or(now);
        let worker = worker.to_owned();
        self.write(move |tx| {
            Box::pin(async move { tx.claim_due_timers(now, until, &worker, limit).await })
        })
        .await
    }

    async fn claim_outbox(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let until = now.checked_add(lease).unwrap_or(now);
        let worker = worker.to_owned();
        self.write(move |tx| {
            Box::pin(async move { tx.claim_outbox(now, until, &worker, limit).await })
        })
        .await
    }

    async fn outbox_by_key(&self, key: &str) -> StoreResult<Option<OutboxItem>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            outbox_cols!(),
            " FROM outbox WHERE idempotency_key = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(outbox_from_row).transpose()
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>> {
        let row =
            sqlx::query("SELECT min(next_attempt_at) AS due FROM outbox WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        get_opt_ts(&row, "due")
    }

    async fn list_templates(&self) -> StoreResult<Vec<TemplateRecord>> {
        sqlx::query("SELECT waba_id, meta_id, name, language, status, category, components, placeholders, updated_at FROM templates ORDER BY name, language")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(template_from_row)
            .collect()
    }

    async fn handoffs(&self, id: ConversationId) -> StoreResult<Vec<Handoff>> {
        self.of_conversation("SELECT id, conversation_id, from_agent_id, to_agent_id, reason, summary, created_at, acknowledged_at FROM handoffs WHERE conversation_id = $1 ORDER BY id", id, handoff_from_row).await
    }

    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>> {
        let row = sqlx::query("SELECT min(due_at) AS due FROM timers WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        get_opt_ts(&row, "due")
    }

    async fn list_escalations(&self, f: &EscalationFilter) -> StoreResult<Vec<Escalation>> {
        sqlx::query(concat!(
            "SELECT ",
            escalation_cols!(),
            " FROM escalations WHERE ($1 IS NULL OR target_agent_id = $1) AND (NOT $2 OR acknowledged_at IS NULL) ",
            "ORDER BY id DESC LIMIT $3"
        ))
        .bind(f.target_agent_id.map(|a| a.0))
        .bind(f.unacknowledged)
        .bind(i64::from(f.limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(escalation_from_row)
        .collect()
    }

    async fn get_escalation(&self, id: i64) -> StoreResult<Option<Escalation>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            escalation_cols!(),
            " FROM escalations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(escalation_from_row).transpose()
    }

    async fn ack_escalation(
        &self,
        id: i64,
        by: Option<AgentId>,
        at: Timestamp,
    ) -> StoreResult<Escalation> {
        let row = sqlx::query(concat!(
            "UPDATE escalations SET acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN $3 ELSE acknowledged_by END, ",
            "acknowledged_at = coalesce(acknowledged_at, $2) WHERE id = $1 RETURNING ",
            escalation_cols!()
        ))
        .bind(id)
        .bind(ms(at))
        .bind(by.map(|a| a.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound("escalation"))?;
        escalation_from_row(&row)
    }

    async fn pending_timers(&self) -> StoreResult<Vec<(TimerKind, u64)>> {
        let rows = sqlx::query("SELECT kind, count(*) AS n FROM timers WHERE status = 'pending' GROUP BY kind ORDER BY kind")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let kind: String = r
                    .try_get("kind")
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let kind = TimerKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("timer kind {kind:?}")))?;
                Ok((kind, get_u64(r, "n")?))
            })
            .collect()
    }

    async fn daily_aggregates(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        dimension: Option<Dimension>,
    ) -> StoreResult<Vec<DailyAggregate>> {
        let rows = sqlx::query(
            "SELECT day, key, acc FROM report_daily WHERE dimension = $1 AND day >= $2 AND day <= $3 ORDER BY day",
        )
        .bind(dimension.map_or("total", Dimension::as_str))
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let day: String = r.try_get("day").map_err(db_err)?;
                let acc: Vec<u8> = r.try_get("acc").map_err(db_err)?;
                Ok(DailyAggregate {
                    day: day.parse().map_err(|e| {
                        StoreError::Corrupt(format!("report_daily.day {day:?}: {e}"))
                    })?,
                    dimension,
                    key: r.try_get("key").map_err(db_err)?,
                    acc: postcard::from_bytes(&acc)
                        .map_err(|e| StoreError::Corrupt(format!("report_daily.acc: {e}")))?,
                })
            })
            .collect()
    }

    async fn opened_conversations(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> StoreResult<Vec<OpenedConversation>> {
        let rows = sqlx::query(
            "SELECT conversation_id, intent, language FROM report_cycles WHERE seq = 0 AND day >= $1 AND day <= $2 ORDER BY conversation_id",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(OpenedConversation {
                    id: ConversationId(r.try_get("conversation_id").map_err(db_err)?),
                    intent: r.try_get("intent").map_err(db_err)?,
                    language: r.try_get("language").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn report_events(&self, id: ConversationId) -> StoreResult<Vec<ReportEvent>> {
        self.of_conversation(
            concat!(
                "SELECT ",
                report_event_cols!(),
                " FROM report_events WHERE conversation_id = $1 ORDER BY id"
            ),
            id,
            report_event_from_row,
        )
        .await
    }
}
