//! Column lists and row decoding shared by the SQL backends
//! (`switchboard-store-sqlite` and `switchboard-store-postgres`), which store
//! the same schema the same way: integers as 64-bit integers, times as Unix
//! milliseconds (UTC), JSON as text. One decoder per table serves sqlx rows
//! of either database and rusqlite rows (SQLite's writer thread) through
//! [`Cols`]. Column lists are macros exported at the crate root so they can
//! be spliced into `concat!` and stay `'static` SQL (sqlx 0.9 takes only
//! statically known SQL without an explicit safety assertion).

use crate::*;
use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use switchboard_core::assign::{Candidate, Rule};
use switchboard_core::ids::{
    AgentId, Bsuid, ContactId, ConversationId, DeliveryId, InboxId, MessageId, PhoneNumberId,
    TeamId, WaId,
};

/// Columns of `agents`, in the order [`rows::agent_from_row`](crate::rows::agent_from_row) reads.
#[macro_export]
macro_rules! agent_cols {
    () => {
        "id, name, email, role, team_id, skills, capacity, availability, open_count, last_assigned_at, created_at"
    };
}
/// Columns of `conversations` aliased `c`, as [`rows::conversation_from_row`](crate::rows::conversation_from_row) reads them.
#[macro_export]
macro_rules! conv_cols {
    () => {
        "c.id, c.contact_id, c.inbox_id, c.status, c.priority, c.category, c.intent, c.escalation_reasons, \
         c.assignee_id, c.team_id, c.waiting_since, c.waiting_count, c.first_response_due_at, \
         c.first_responded_at, c.attribution, c.created_at, c.updated_at, c.last_message_at, \
         c.sla_status, c.next_response_due_at, c.resolution_due_at, c.last_responded_at, c.callback_at, \
         c.last_inbound_at, c.resolved_at, c.snoozed_until, c.disposition, c.next_action, c.auto_ack_at, c.language, c.bot_failures"
    };
}
/// Columns of `conversations` without a table alias.
#[macro_export]
macro_rules! conv_cols_bare {
    () => {
        "id, contact_id, inbox_id, status, priority, category, intent, escalation_reasons, \
         assignee_id, team_id, waiting_since, waiting_count, first_response_due_at, \
         first_responded_at, attribution, created_at, updated_at, last_message_at, \
         sla_status, next_response_due_at, resolution_due_at, last_responded_at, callback_at, \
         last_inbound_at, resolved_at, snoozed_until, disposition, next_action, auto_ack_at, language, bot_failures"
    };
}
/// Columns of `contacts` without a table alias.
#[macro_export]
macro_rules! contact_cols_bare {
    () => {
        "id AS ct_id, wa_id AS ct_wa_id, user_id AS ct_user_id, name AS ct_name, \
         username AS ct_username, last_agent_id AS ct_last_agent_id, \
         last_inbound_at AS ct_last_inbound_at, resolved_conversations AS ct_resolved, \
         opted_out_at AS ct_opted_out_at, opted_in_at AS ct_opted_in_at"
    };
}
/// Columns of `contacts` aliased `ct`, prefixed `ct_`, as [`rows::contact_from_row`](crate::rows::contact_from_row) reads them in joins.
#[macro_export]
macro_rules! contact_cols {
    () => {
        "ct.id AS ct_id, ct.wa_id AS ct_wa_id, ct.user_id AS ct_user_id, ct.name AS ct_name, \
         ct.username AS ct_username, ct.last_agent_id AS ct_last_agent_id, \
         ct.last_inbound_at AS ct_last_inbound_at, ct.resolved_conversations AS ct_resolved, \
         ct.opted_out_at AS ct_opted_out_at, ct.opted_in_at AS ct_opted_in_at"
    };
}
/// Conversation, contact and inbox columns of a queue row ([`rows::summary_from_row`](crate::rows::summary_from_row)).
#[macro_export]
macro_rules! summary_cols {
    () => {
        concat!(
            $crate::conv_cols!(),
            ", ",
            $crate::contact_cols!(),
            ", ib.id AS ib_id, ib.phone_number_id AS ib_phone_number_id, \
             ib.display_phone_number AS ib_display_phone_number, ib.waba_id AS ib_waba_id, ib.team_id AS ib_team_id"
        )
    };
}
/// Columns of `escalations`.
#[macro_export]
macro_rules! escalation_cols {
    () => {
        "id, conversation_id, level, reason, target_agent_id, created_at, acknowledged_at, acknowledged_by"
    };
}
/// Columns of `messages`.
#[macro_export]
macro_rules! message_cols {
    () => {
        "id, conversation_id, wamid, direction, type, text, media, context, referral, status, sent_at, \
         received_at, edited_at, revoked_at, triage"
    };
}

/// Maps sqlx errors onto the layer's error enum.
pub fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound("row"),
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_owned())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound("referenced row")
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// A timestamp as stored: Unix milliseconds (UTC).
pub fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(v: i64) -> StoreResult<Timestamp> {
    Timestamp::from_millisecond(v).map_err(|e| StoreError::Corrupt(format!("timestamp {v}: {e}")))
}

/// A value as stored JSON text; [`StoreError::Corrupt`] if it cannot be serialized.
pub fn to_json<T: Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Column access shared by sqlx rows (reads, either database) and rusqlite
/// rows (SQLite's writer thread), so each table has one decoder. Errors are
/// [`StoreError::Corrupt`] naming the column.
pub trait Cols {
    /// A nullable integer column.
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>>;
    /// A nullable text column.
    fn opt_str(&self, col: &str) -> StoreResult<Option<String>>;
    /// A nullable blob column.
    fn opt_blob(&self, col: &str) -> StoreResult<Option<Vec<u8>>>;
}

fn corrupt(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {e}"))
}

impl Cols for sqlx::sqlite::SqliteRow {
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(|e| corrupt(col, e))
    }
    fn opt_str(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(|e| corrupt(col, e))
    }
    fn opt_blob(&self, col: &str) -> StoreResult<Option<Vec<u8>>> {
        self.try_get(col).map_err(|e| corrupt(col, e))
    }
}

#[cfg(feature = "sqlite")]
impl Cols for rusqlite::Row<'_> {
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col).map_err(|e| corrupt(col, e))
    }
    fn opt_str(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col).map_err(|e| corrupt(col, e))
    }
    fn opt_blob(&self, col: &str) -> StoreResult<Option<Vec<u8>>> {
        self.get(col).map_err(|e| corrupt(col, e))
    }
}

#[cfg(feature = "postgres")]
impl Cols for sqlx::postgres::PgRow {
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(|e| corrupt(col, e))
    }
    fn opt_str(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(|e| corrupt(col, e))
    }
    fn opt_blob(&self, col: &str) -> StoreResult<Option<Vec<u8>>> {
        self.try_get(col).map_err(|e| corrupt(col, e))
    }
}

/// A value type readable from a column.
pub trait ColValue: Sized {
    /// Reads column `col` of `row`.
    fn read<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Self>;
}

impl ColValue for Option<i64> {
    fn read<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Self> {
        row.opt_i64(col)
    }
}
impl ColValue for i64 {
    fn read<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Self> {
        row.opt_i64(col)?
            .ok_or_else(|| corrupt(col, "unexpected NULL"))
    }
}
impl ColValue for Option<String> {
    fn read<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Self> {
        row.opt_str(col)
    }
}
impl ColValue for String {
    fn read<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Self> {
        row.opt_str(col)?
            .ok_or_else(|| corrupt(col, "unexpected NULL"))
    }
}
impl ColValue for Vec<u8> {
    fn read<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Self> {
        row.opt_blob(col)?
            .ok_or_else(|| corrupt(col, "unexpected NULL"))
    }
}

/// Column `col` as `T`; [`StoreError::Corrupt`] on a NULL or mistyped value.
pub fn get<T: ColValue, R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<T> {
    T::read(row, col)
}

/// A non-NULL integer column.
pub fn get_i64<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<i64> {
    get(row, col)
}

/// A non-NULL, non-negative integer column.
pub fn get_u64<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<u64> {
    u64::try_from(get_i64(row, col)?).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

fn get_u32<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<u32> {
    u32::try_from(get_i64(row, col)?).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

/// A text column holding one of an enum's stored names, read by `parse`;
/// [`StoreError::Corrupt`] names `what` and the value when it is not one.
fn get_parsed<T, R: Cols + ?Sized>(
    row: &R,
    col: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> StoreResult<T> {
    let s: String = get(row, col)?;
    parse(&s).ok_or_else(|| StoreError::Corrupt(format!("{what} {s:?}")))
}

fn get_ts<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Timestamp> {
    ts(get_i64(row, col)?)
}

/// A nullable time column (Unix milliseconds, UTC).
pub fn get_opt_ts<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Option<Timestamp>> {
    get::<Option<i64>, _>(row, col)?.map(ts).transpose()
}

/// A nullable text column.
pub fn get_opt_str<R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Option<String>> {
    get(row, col)
}

fn get_word<T: std::str::FromStr, R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = get(row, col)?;
    s.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("column {col}: {e}")))
}

fn get_json<T: DeserializeOwned, R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<T> {
    from_json(&get::<String, _>(row, col)?, col)
}

fn get_opt_json<T: DeserializeOwned, R: Cols + ?Sized>(
    row: &R,
    col: &str,
) -> StoreResult<Option<T>> {
    get_opt_str(row, col)?
        .map(|s| from_json(&s, col))
        .transpose()
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn team_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Team> {
    Ok(Team {
        id: TeamId(get_i64(row, "id")?),
        name: get(row, "name")?,
        skills: get_json(row, "skills")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn agent_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Agent> {
    Ok(Agent {
        id: AgentId(get_i64(row, "id")?),
        name: get(row, "name")?,
        email: get(row, "email")?,
        role: get_word(row, "role")?,
        team_id: get::<Option<i64>, _>(row, "team_id")?.map(TeamId),
        skills: get_json(row, "skills")?,
        capacity: get_u32(row, "capacity")?,
        availability: get_word(row, "availability")?,
        open_count: get_u32(row, "open_count")?,
        last_assigned_at: get_opt_ts(row, "last_assigned_at")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn candidate_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Candidate> {
    let mut skills: Vec<String> = get_json(row, "skills")?;
    if let Some(team) = get_opt_json::<Vec<String>, _>(row, "team_skills")? {
        for s in team {
            if !skills.contains(&s) {
                skills.push(s);
            }
        }
    }
    Ok(Candidate {
        id: AgentId(get_i64(row, "id")?),
        name: get(row, "name")?,
        role: get_word(row, "role")?,
        team_id: get::<Option<i64>, _>(row, "team_id")?.map(TeamId),
        skills,
        capacity: get_u32(row, "capacity")?,
        open_count: get_u32(row, "open_count")?,
        availability: get_word(row, "availability")?,
        last_assigned_at: get_opt_ts(row, "last_assigned_at")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn inbox_from_row<R: Cols + ?Sized>(row: &R, prefix: &str) -> StoreResult<Inbox> {
    let col = |c: &str| format!("{prefix}{c}");
    let pnid: String = get(row, &col("phone_number_id"))?;
    Ok(Inbox {
        id: InboxId(get_i64(row, &col("id"))?),
        phone_number_id: PhoneNumberId::parse(&pnid)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        display_phone_number: get_opt_str(row, &col("display_phone_number"))?,
        waba_id: get_opt_str(row, &col("waba_id"))?,
        team_id: get::<Option<i64>, _>(row, &col("team_id"))?.map(TeamId),
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn contact_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Contact> {
    let corrupt = |e: switchboard_core::ids::IdError| StoreError::Corrupt(e.to_string());
    Ok(Contact {
        id: ContactId(get_i64(row, "ct_id")?),
        wa_id: get_opt_str(row, "ct_wa_id")?
            .map(|s| WaId::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        user_id: get_opt_str(row, "ct_user_id")?
            .map(|s| Bsuid::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        name: get_opt_str(row, "ct_name")?,
        username: get_opt_str(row, "ct_username")?,
        last_agent_id: get::<Option<i64>, _>(row, "ct_last_agent_id")?.map(AgentId),
        last_inbound_at: get_opt_ts(row, "ct_last_inbound_at")?,
        resolved_conversations: get_u32(row, "ct_resolved")?,
        opted_out_at: get_opt_ts(row, "ct_opted_out_at")?,
        opted_in_at: get_opt_ts(row, "ct_opted_in_at")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn conversation_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Conversation> {
    Ok(Conversation {
        id: ConversationId(get_i64(row, "id")?),
        contact_id: ContactId(get_i64(row, "contact_id")?),
        inbox_id: InboxId(get_i64(row, "inbox_id")?),
        status: get_word(row, "status")?,
        priority: get_word(row, "priority")?,
        category: get_opt_str(row, "category")?
            .map(|s| s.parse())
            .transpose()
            .map_err(|e: switchboard_core::model::UnknownVariant| {
                StoreError::Corrupt(e.to_string())
            })?,
        intent: get_opt_str(row, "intent")?,
        escalation_reasons: get_json(row, "escalation_reasons")?,
        assignee_id: get::<Option<i64>, _>(row, "assignee_id")?.map(AgentId),
        team_id: get::<Option<i64>, _>(row, "team_id")?.map(TeamId),
        waiting_since: get_opt_ts(row, "waiting_since")?,
        waiting_count: get_u32(row, "waiting_count")?,
        first_response_due_at: get_opt_ts(row, "first_response_due_at")?,
        first_responded_at: get_opt_ts(row, "first_responded_at")?,
        attribution: get_opt_json(row, "attribution")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        last_message_at: get_ts(row, "last_message_at")?,
        sla_status: get_parsed(
            row,
            "sla_status",
            "sla_status",
            switchboard_core::sla::SlaStatus::parse,
        )?,
        next_response_due_at: get_opt_ts(row, "next_response_due_at")?,
        resolution_due_at: get_opt_ts(row, "resolution_due_at")?,
        last_responded_at: get_opt_ts(row, "last_responded_at")?,
        callback_at: get_opt_ts(row, "callback_at")?,
        last_inbound_at: get_opt_ts(row, "last_inbound_at")?,
        resolved_at: get_opt_ts(row, "resolved_at")?,
        snoozed_until: get_opt_ts(row, "snoozed_until")?,
        disposition: get_opt_str(row, "disposition")?,
        next_action: get_opt_json(row, "next_action")?,
        auto_ack_at: get_opt_ts(row, "auto_ack_at")?,
        language: get_opt_str(row, "language")?,
        bot_failures: get_u32(row, "bot_failures")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn summary_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<ConversationSummary> {
    Ok(ConversationSummary {
        conversation: conversation_from_row(row)?,
        contact: contact_from_row(row)?,
        inbox: inbox_from_row(row, "ib_")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn message_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Message> {
    Ok(Message {
        id: MessageId(get_i64(row, "id")?),
        conversation_id: ConversationId(get_i64(row, "conversation_id")?),
        wamid: get_opt_str(row, "wamid")?,
        direction: get_word(row, "direction")?,
        message_type: get(row, "type")?,
        text: get_opt_str(row, "text")?,
        media: get_opt_json(row, "media")?,
        context: get_opt_json(row, "context")?,
        referral: get_opt_json(row, "referral")?,
        status: get(row, "status")?,
        timestamp: get_ts(row, "sent_at")?,
        received_at: get_ts(row, "received_at")?,
        edited_at: get_opt_ts(row, "edited_at")?,
        revoked_at: get_opt_ts(row, "revoked_at")?,
        triage: get_opt_json(row, "triage")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn assignment_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Assignment> {
    Ok(Assignment {
        id: get_i64(row, "id")?,
        conversation_id: ConversationId(get_i64(row, "conversation_id")?),
        agent_id: get::<Option<i64>, _>(row, "agent_id")?.map(AgentId),
        rule: get_parsed(row, "rule", "assignment rule", Rule::parse)?,
        reason: get(row, "reason")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn delivery_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: DeliveryId(get_i64(row, "id")?),
        received_at: get_ts(row, "received_at")?,
        body: get(row, "body")?,
        status: get_parsed(row, "status", "delivery status", DeliveryStatus::parse)?,
        error: get_opt_str(row, "error")?,
        messages: get_u32(row, "messages")?,
        duplicates: get_u32(row, "duplicates")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn timer_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Timer> {
    Ok(Timer {
        id: get_i64(row, "id")?,
        conversation_id: ConversationId(get_i64(row, "conversation_id")?),
        kind: get_parsed(row, "kind", "timer kind", TimerKind::parse)?,
        due_at: get_ts(row, "due_at")?,
        payload: get_opt_json(row, "payload")?,
        attempts: get_u32(row, "attempts")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn escalation_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Escalation> {
    Ok(Escalation {
        id: get_i64(row, "id")?,
        conversation_id: ConversationId(get_i64(row, "conversation_id")?),
        level: get_parsed(row, "level", "escalation level", EscalationLevel::parse)?,
        reason: get(row, "reason")?,
        target_agent_id: get::<Option<i64>, _>(row, "target_agent_id")?.map(AgentId),
        created_at: get_ts(row, "created_at")?,
        acknowledged_at: get_opt_ts(row, "acknowledged_at")?,
        acknowledged_by: get::<Option<i64>, _>(row, "acknowledged_by")?.map(AgentId),
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn sla_event_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<SlaEvent> {
    Ok(SlaEvent {
        id: get_i64(row, "id")?,
        conversation_id: ConversationId(get_i64(row, "conversation_id")?),
        target: get(row, "target")?,
        event: get(row, "event")?,
        due_at: get_ts(row, "due_at")?,
        at: get_ts(row, "at")?,
        agent_id: get::<Option<i64>, _>(row, "agent_id")?.map(AgentId),
    })
}

/// Columns of `outbox`.
#[macro_export]
macro_rules! outbox_cols {
    () => {
        "id, kind, idempotency_key, conversation_id, message_id, phone_number_id, recipient, payload, attempts, status, last_error, last_code"
    };
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn outbox_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<OutboxItem> {
    Ok(OutboxItem {
        id: get_i64(row, "id")?,
        kind: get_parsed(row, "kind", "outbox kind", OutboxKind::parse)?,
        idempotency_key: get(row, "idempotency_key")?,
        conversation_id: get::<Option<i64>, _>(row, "conversation_id")?.map(ConversationId),
        message_id: get::<Option<i64>, _>(row, "message_id")?.map(MessageId),
        phone_number_id: get(row, "phone_number_id")?,
        recipient: get(row, "recipient")?,
        payload: get_json(row, "payload")?,
        attempts: get_u32(row, "attempts")?,
        status: get(row, "status")?,
        last_error: get_opt_str(row, "last_error")?,
        last_code: get::<Option<i64>, _>(row, "last_code")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn handoff_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<Handoff> {
    Ok(Handoff {
        id: get_i64(row, "id")?,
        conversation_id: ConversationId(get_i64(row, "conversation_id")?),
        from_agent_id: get::<Option<i64>, _>(row, "from_agent_id")?.map(AgentId),
        to_agent_id: AgentId(get_i64(row, "to_agent_id")?),
        reason: get(row, "reason")?,
        summary: get_json(row, "summary")?,
        created_at: get_ts(row, "created_at")?,
        acknowledged_at: get_opt_ts(row, "acknowledged_at")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn template_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<TemplateRecord> {
    Ok(TemplateRecord {
        waba_id: get(row, "waba_id")?,
        meta_id: get_opt_str(row, "meta_id")?,
        name: get(row, "name")?,
        language: get(row, "language")?,
        status: get(row, "status")?,
        category: get_opt_str(row, "category")?,
        components: get_json(row, "components")?,
        placeholders: get_json(row, "placeholders")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

/// Columns of `report_events`, in the order
/// [`rows::report_event_from_row`](crate::rows::report_event_from_row) reads.
#[macro_export]
macro_rules! report_event_cols {
    () => {
        "id, at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, \
         category, intent, language, source_id, source_type, priority, detail, value_ms"
    };
}

/// [`report_event_cols!`](crate::report_event_cols) as a constant, for `format!`.
pub const REPORT_EVENT_COLS: &str = crate::report_event_cols!();

fn opt_word<T: std::str::FromStr, R: Cols + ?Sized>(row: &R, col: &str) -> StoreResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    get_opt_str(row, col)?
        .map(|s| {
            s.parse()
                .map_err(|e: T::Err| StoreError::Corrupt(format!("column {col}: {e}")))
        })
        .transpose()
}

/// The conversation dimensions `report_events` and `report_cycles` both
/// carry, under the same column names.
fn dims_from_row<R: Cols + ?Sized>(row: &R) -> StoreResult<switchboard_core::kpi::Dimensions> {
    Ok(switchboard_core::kpi::Dimensions {
        inbox_id: get::<Option<i64>, _>(row, "inbox_id")?.map(InboxId),
        team_id: get::<Option<i64>, _>(row, "team_id")?.map(TeamId),
        agent_id: get::<Option<i64>, _>(row, "agent_id")?.map(AgentId),
        category: opt_word(row, "category")?,
        intent: get_opt_str(row, "intent")?,
        language: get_opt_str(row, "language")?,
        source_id: get_opt_str(row, "source_id")?,
        source_type: get_opt_str(row, "source_type")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn report_event_from_row<R: Cols + ?Sized>(
    row: &R,
) -> StoreResult<switchboard_core::kpi::ReportEvent> {
    use switchboard_core::ids::{ConversationId, MessageId};
    Ok(switchboard_core::kpi::ReportEvent {
        id: get_i64(row, "id")?,
        at: get_ts(row, "at")?,
        kind: get_word(row, "kind")?,
        conversation_id: get::<Option<i64>, _>(row, "conversation_id")?.map(ConversationId),
        contact_id: get::<Option<i64>, _>(row, "contact_id")?.map(ContactId),
        message_id: get::<Option<i64>, _>(row, "message_id")?.map(MessageId),
        dims: dims_from_row(row)?,
        priority: opt_word(row, "priority")?,
        detail: get_opt_str(row, "detail")?,
        value_ms: get(row, "value_ms")?,
    })
}

/// Decodes one row read with this table's column list; [`StoreError::Corrupt`] on a bad value.
pub fn day_cycle_from_row<R: Cols + ?Sized>(
    row: &R,
) -> StoreResult<switchboard_core::kpi::DayCycle> {
    let facts: Vec<u8> = get(row, "facts")?;
    Ok(switchboard_core::kpi::DayCycle {
        dims: dims_from_row(row)?,
        returning: get_i64(row, "returning_contact")? != 0,
        disposition: get_opt_str(row, "disposition")?,
        recontacted: get_i64(row, "recontacted")? != 0,
        facts: postcard::from_bytes(&facts)
            .map_err(|e| StoreError::Corrupt(format!("report_cycles.facts: {e}")))?,
    })
}
