//! A normalised view of a webhook delivery: one [`Event`] per thing that
//! happened.
//!
//! [`events`] walks `entry[] → changes[]` and, per `changes[].field`, the
//! arrays inside `value` (`messages[]`, `statuses[]`, `errors[]`,
//! `user_preferences[]`), producing events in body order. Meta batches freely
//! at every level, so one POST can yield many events
//! (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started/>;
//! openapi `WebhookPayload`).
//!
//! Nothing is dropped: anything this crate does not interpret, or cannot read,
//! becomes [`Event::Unhandled`] carrying the original JSON, so the service can
//! store it and nobody has to replay Meta's retries to find out what was sent.
//! Parsing never panics and never fails a whole delivery because of one odd
//! item.

mod message;

pub use message::{
    ContactProfile, InboundMessage, InteractiveReply, MessageContext, MessageKind, Referral,
};

use serde::Serialize;
use serde_json::Value;

use crate::webhook::{Change, WebhookPayload, timestamp_from_value};

/// One normalised occurrence from a webhook delivery.
///
/// Produced by [`events`]. Variants map to `changes[].field` and to the array
/// inside `value` that carried the item; see each variant for its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "events live briefly in one Vec per delivery and most are messages, \
              so boxing would add an allocation per message and save nothing"
)]
pub enum Event {
    /// A message a user sent to the business: one `value.messages[]` item
    /// under field `messages`, including `system` messages that arrive
    /// without `contacts` (openapi `IncomingMessage`, `SystemMessage`).
    Message(InboundMessage),
    /// A delivery status for a message the business sent: one
    /// `value.statuses[]` item under field `messages` (openapi `Statuses`).
    Status(StatusUpdate),
    /// System-, app- or account-level errors in `value.errors[]` under field
    /// `messages` (Meta: webhooks/reference/messages/errors). Emitted whenever
    /// that array is non-empty, after any messages and statuses of the same
    /// change.
    ValueErrors {
        /// `value.metadata.phone_number_id`, when Meta included it.
        phone_number_id: Option<String>,
        /// The errors, in body order.
        errors: Vec<MetaError>,
    },
    /// A template review outcome, field `message_template_status_update`
    /// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update>).
    TemplateStatus {
        /// `message_template_id`. Meta sends a JSON number; it is kept as its
        /// decimal string (a string ID is taken as is) because template IDs
        /// are opaque identifiers, not quantities.
        message_template_id: Option<String>,
        /// `message_template_name`.
        name: Option<String>,
        /// `message_template_language`, e.g. `en_US`.
        language: Option<String>,
        /// `event`: `APPROVED`, `REJECTED`, `PENDING`, `FLAGGED`, `PAUSED`,
        /// `DISABLED`, `ARCHIVED`, … exactly as sent.
        event: String,
        /// `reason`, e.g. `NONE`, `INVALID_FORMAT`, `SCAM`; `None` for
        /// `null` or absent.
        reason: Option<String>,
        /// The whole `value` object (keeps `rejection_info`, `disable_info`,
        /// `message_template_category`, …).
        raw: Value,
    },
    /// Other template webhooks, kept whole: fields
    /// `message_template_quality_update`, `template_category_update` and
    /// `message_template_components_update` (Meta webhooks overview).
    TemplateOther {
        /// The `changes[].field` value.
        field: String,
        /// The whole `value` object.
        raw: Value,
    },
    /// A user stopped or resumed marketing messages: one
    /// `value.user_preferences[]` item under field `user_preferences`
    /// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences>).
    UserPreference {
        /// The user's `wa_id` (may be absent for username users).
        wa_id: Option<String>,
        /// The user's BSUID, `user_id`, when present.
        user_id: Option<String>,
        /// `category`, e.g. `marketing_messages`.
        category: Option<String>,
        /// `value`: `stop`, `resume`, `signup`, … exactly as sent.
        value: String,
        /// Unix seconds (`timestamp`, an integer in Meta's examples; strings
        /// are accepted too).
        timestamp: Option<i64>,
        /// `detail`, a human-readable explanation.
        detail: Option<String>,
        /// The whole `user_preferences[]` item.
        raw: Value,
    },
    /// Anything not interpreted above: other fields (`account_update`,
    /// `calls`, group fields, `smb_message_echoes`, …) or an item that could
    /// not be read (for example a message without `id`).
    Unhandled {
        /// The `changes[].field` value.
        field: String,
        /// Why it was not interpreted, for logs (free text, not stable).
        reason: String,
        /// The JSON that was not interpreted: the whole `value` for a
        /// change-level problem, or the single array item (message, status,
        /// preference) that could not be read.
        value: Value,
    },
}

/// A status update for a message the business sent (`value.statuses[]`).
///
/// Source: openapi `Statuses`; Meta's status reference
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/>.
/// Statuses can arrive duplicated and out of order; use
/// [`StatusKind::rank`] so a status never moves backwards.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusUpdate {
    /// `value.metadata.phone_number_id` of the business number that sent
    /// the message.
    pub phone_number_id: String,
    /// `id`: the wamid of *our* outbound message this status is about.
    pub id: String,
    /// `status`.
    pub status: StatusKind,
    /// `timestamp` in unix seconds (Meta sends a string).
    pub timestamp: i64,
    /// `recipient_id`: the user's wa_id, or a group ID for group messages;
    /// may be absent for username users.
    pub recipient_id: Option<String>,
    /// `recipient_user_id`: the recipient's BSUID (since April 2026).
    pub recipient_user_id: Option<String>,
    /// `errors[]`, set on `failed` statuses (e.g. 131047 "Re-engagement
    /// message": the 24-hour window is closed).
    pub errors: Vec<MetaError>,
    /// `conversation` object (legacy conversation-based pricing; often absent
    /// since the per-message pricing migration of 1 July 2025).
    pub conversation: Option<Value>,
    /// `pricing` object (`billable`, `pricing_model`, `type`, `category`).
    pub pricing: Option<Value>,
    /// The whole `statuses[]` item (keeps `biz_opaque_callback_data`,
    /// `recipient_type`, group participant fields, …).
    pub raw: Value,
}

/// The `statuses[].status` value.
///
/// Known values come from openapi `Statuses` (`sent`, `delivered`, `read`,
/// `failed`), pywa's fixtures (`played`, first play of a voice message) and
/// older API versions (`deleted`; not present in any fixture). Matching is
/// ASCII case-insensitive; anything else is kept in [`StatusKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// Meta accepted the message and sent it.
    Sent,
    /// The message reached the user's device.
    Delivered,
    /// The user opened the chat with the message.
    Read,
    /// The user played a voice message for the first time.
    Played,
    /// The message could not be delivered; see [`StatusUpdate::errors`].
    Failed,
    /// The message was deleted.
    Deleted,
    /// A status this crate does not know, exactly as sent.
    Other(String),
}

impl StatusKind {
    /// Reads a `statuses[].status` string (ASCII case-insensitive).
    #[must_use]
    pub fn parse(status: &str) -> Self {
        const KNOWN: [(&str, StatusKind); 6] = [
            ("sent", StatusKind::Sent),
            ("delivered", StatusKind::Delivered),
            ("read", StatusKind::Read),
            ("played", StatusKind::Played),
            ("failed", StatusKind::Failed),
            ("deleted", StatusKind::Deleted),
        ];
        KNOWN
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(status))
            .map_or_else(|| Self::Other(status.to_owned()), |(_, kind)| kind)
    }

    /// The status string as Meta spells it (lowercase for known statuses).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
            Self::Other(other) => other,
        }
    }

    /// Position in the never-move-backwards order; apply a new status only if
    /// its rank is strictly greater than the stored one
    /// (see [`StatusKind::supersedes`]).
    ///
    /// `Other` = 0, `Sent` = 1, `Delivered` = 2, `Read` = 3, `Played` = 4,
    /// `Failed` = `Deleted` = 5.
    ///
    /// Meta does not guarantee order and may skip `delivered` when delivery
    /// and read happen together (status reference above), so `sent → read`
    /// must be accepted and a late `delivered` after `read` ignored. `played`
    /// implies the voice note was read. `failed` and `deleted` are terminal:
    /// Meta sends `failed` once delivery has definitively failed, so any
    /// `sent`/`delivered` arriving afterwards is a stale, reordered event
    /// rather than news; keeping them highest stops a redelivery from
    /// "un-failing" a message. Unknown statuses rank 0 so they never overwrite
    /// a known one.
    #[must_use]
    pub fn rank(&self) -> u8 {
        match self {
            Self::Other(_) => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Played => 4,
            Self::Failed | Self::Deleted => 5,
        }
    }

    /// Whether this status should replace `current` under the
    /// never-move-backwards rule: `self.rank() > current.rank()`.
    #[must_use]
    pub fn supersedes(&self, current: &StatusKind) -> bool {
        self.rank() > current.rank()
    }

    /// Whether no later status may replace this one (`failed`, `deleted`).
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Failed | Self::Deleted)
    }
}

impl std::fmt::Display for StatusKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Meta error object, as found in `value.errors[]`, `messages[].errors[]`
/// and `statuses[].errors[]`.
///
/// Shape `{code, title, message, error_data: {details}, href}` (openapi
/// `StatusError`; Meta's error-code table
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>).
/// Meta recommends branching on `code` and `details`, never on titles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaError {
    /// Numeric error code, e.g. 131047 (re-engagement), 131051 (unsupported
    /// message type), 130472 (number in an experiment). A numeric string is
    /// accepted; 0 when Meta sent no usable code.
    pub code: i64,
    /// `title`, short English text.
    pub title: Option<String>,
    /// `message`, usually equal to `title`.
    pub message: Option<String>,
    /// `error_data.details`, the most specific explanation.
    pub details: Option<String>,
    /// `href`, a link to Meta's error-code documentation.
    pub href: Option<String>,
}

/// Turns a parsed delivery into events, in body order.
///
/// Order: entries, then changes, then within a `messages` change first all
/// `messages[]`, then all `statuses[]`, then one [`Event::ValueErrors`] if
/// `errors[]` is non-empty. Dispatch is on `changes[].field` first, then on
/// which array is present (Meta webhooks overview and openapi `Change`).
///
/// Never panics and never drops a change: what is not understood comes back
/// as [`Event::Unhandled`]. A single malformed message, status or preference
/// becomes its own `Unhandled` without affecting its neighbours. A `messages`
/// change with messages or statuses but no `metadata.phone_number_id` is one
/// `Unhandled`, because such events could not be routed to a number.
#[must_use]
pub fn events(payload: &WebhookPayload) -> Vec<Event> {
    let mut out = Vec::new();
    for entry in &payload.entry {
        for change in &entry.changes {
            change_events(&entry.id, change, &mut out);
        }
    }
    out
}

fn change_events(waba_id: &str, change: &Change, out: &mut Vec<Event>) {
    let field = change.field.as_str();
    let value = &change.value;
    match field {
        "messages" => messages_change(waba_id, value, out),
        "message_template_status_update" => out.push(template_status(value)),
        "message_template_quality_update"
        | "template_category_update"
        | "message_template_components_update" => out.push(Event::TemplateOther {
            field: field.to_owned(),
            raw: value.clone(),
        }),
        "user_preferences" => user_preferences_change(value, out),
        _ => out.push(unhandled(
            field,
            format!("webhook field `{field}` is not interpreted"),
            value,
        )),
    }
}

fn unhandled(field: &str, reason: impl Into<String>, value: &Value) -> Event {
    Event::Unhandled {
        field: field.to_owned(),
        reason: reason.into(),
        value: value.clone(),
    }
}

const MESSAGES: &str = "messages";

fn messages_change(waba_id: &str, value: &Value, out: &mut Vec<Event>) {
    if !value.is_object() {
        out.push(unhandled(MESSAGES, "`value` is not a JSON object", value));
        return;
    }
    let metadata = present(value, "metadata");
    let phone_number_id = metadata.and_then(|m| string_at(m, "phone_number_id"));
    let messages = present(value, "messages");
    let statuses = present(value, "statuses");
    let errors = present(value, "errors");

    let routed_items = messages.is_some() || statuses.is_some();
    let phone_number_id = match phone_number_id {
        Some(id) => id,
        None if routed_items => {
            out.push(unhandled(
                MESSAGES,
                "missing `metadata.phone_number_id`",
                value,
            ));
            return;
        }
        None => String::new(),
    };

    let before = out.len();
    if let Some(messages) = messages {
        let contacts = message::contacts(value);
        let ctx = message::Envelope {
            phone_number_id: &phone_number_id,
            display_phone_number: metadata.and_then(|m| string_at(m, "display_phone_number")),
            waba_id,
            contacts: &contacts,
        };
        for_each_item(messages, "messages", value, out, |item| {
            message::parse_message(&ctx, item).map(Event::Message)
        });
    }
    if let Some(statuses) = statuses {
        for_each_item(statuses, "statuses", value, out, |item| {
            parse_status(&phone_number_id, item).map(Event::Status)
        });
    }
    if let Some(errors) = errors {
        match errors.as_array() {
            Some(list) if !list.is_empty() => out.push(Event::ValueErrors {
                phone_number_id: (!phone_number_id.is_empty()).then_some(phone_number_id),
                errors: list.iter().filter_map(parse_error).collect(),
            }),
            Some(_) => {}
            None => out.push(unhandled(MESSAGES, "`errors` is not a list", value)),
        }
    }
    if out.len() == before {
        out.push(unhandled(
            MESSAGES,
            "`messages` change without messages, statuses or errors",
            value,
        ));
    }
}

/// Runs `parse` over each item of a `value` array, turning per-item failures
/// into `Unhandled` events that name the offending index.
fn for_each_item(
    list: &Value,
    name: &str,
    value: &Value,
    out: &mut Vec<Event>,
    parse: impl Fn(&Value) -> Result<Event, String>,
) {
    let Some(items) = list.as_array() else {
        out.push(unhandled(
            MESSAGES,
            format!("`{name}` is not a list"),
            value,
        ));
        return;
    };
    for (index, item) in items.iter().enumerate() {
        match parse(item) {
            Ok(event) => out.push(event),
            Err(reason) => out.push(unhandled(
                MESSAGES,
                format!("{name}[{index}]: {reason}"),
                item,
            )),
        }
    }
}

fn parse_status(phone_number_id: &str, item: &Value) -> Result<StatusUpdate, String> {
    if !item.is_object() {
        return Err("not a JSON object".to_owned());
    }
    let id = string_at(item, "id").ok_or("missing `id`")?;
    let status = str_at(item, "status").ok_or("missing `status`")?;
    let timestamp = required_timestamp(item)?;
    Ok(StatusUpdate {
        phone_number_id: phone_number_id.to_owned(),
        id,
        status: StatusKind::parse(&status),
        timestamp,
        recipient_id: string_at(item, "recipient_id"),
        recipient_user_id: string_at(item, "recipient_user_id"),
        errors: errors_at(item),
        conversation: present(item, "conversation").cloned(),
        pricing: present(item, "pricing").cloned(),
        raw: item.clone(),
    })
}

fn template_status(value: &Value) -> Event {
    const FIELD: &str = "message_template_status_update";
    let Some(event) = str_at(value, "event") else {
        return unhandled(FIELD, "missing `event`", value);
    };
    Event::TemplateStatus {
        message_template_id: string_at(value, "message_template_id"),
        name: string_at(value, "message_template_name"),
        language: string_at(value, "message_template_language"),
        event,
        reason: string_at(value, "reason"),
        raw: value.clone(),
    }
}

fn user_preferences_change(value: &Value, out: &mut Vec<Event>) {
    const FIELD: &str = "user_preferences";
    let Some(items) = present(value, "user_preferences").and_then(Value::as_array) else {
        out.push(unhandled(FIELD, "missing `user_preferences` list", value));
        return;
    };
    if items.is_empty() {
        out.push(unhandled(FIELD, "empty `user_preferences` list", value));
    }
    for (index, item) in items.iter().enumerate() {
        match str_at(item, "value") {
            Some(choice) => out.push(Event::UserPreference {
                wa_id: string_at(item, "wa_id"),
                user_id: string_at(item, "user_id"),
                category: string_at(item, "category"),
                value: choice,
                timestamp: item.get("timestamp").and_then(timestamp_from_value),
                detail: string_at(item, "detail"),
                raw: item.clone(),
            }),
            None => out.push(unhandled(
                FIELD,
                format!("user_preferences[{index}]: missing `value`"),
                item,
            )),
        }
    }
}

// Small lenient accessors shared with the message parser. Meta's types drift
// between API versions and examples (IDs as numbers, timestamps as strings),
// so reading through these keeps one odd field from rejecting an event.

/// `obj[key]` unless absent or `null`.
fn present<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A string field, exactly as sent.
fn str_at(obj: &Value, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// An identifier-like field: a string, or a number rendered in decimal
/// (group payloads send `wa_id` as a number; template IDs are numbers).
fn string_at(obj: &Value, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A flag that counts only when explicitly true.
fn bool_at(obj: &Value, key: &str) -> bool {
    match obj.get(key) {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A number, or a string holding one.
fn f64_at(obj: &Value, key: &str) -> Option<f64> {
    match obj.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn required_timestamp(obj: &Value) -> Result<i64, String> {
    obj.get("timestamp")
        .and_then(timestamp_from_value)
        .ok_or_else(|| "missing or invalid `timestamp`".to_owned())
}

/// The `errors` array of an object; non-object items are skipped (they stay
/// visible in the enclosing `raw`).
fn errors_at(obj: &Value) -> Vec<MetaError> {
    present(obj, "errors")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(parse_error).collect())
        .unwrap_or_default()
}

fn parse_error(error: &Value) -> Option<MetaError> {
    error.as_object()?;
    Some(MetaError {
        // Codes follow the same integer-or-numeric-string leniency as
        // timestamps, so the timestamp reader doubles as an integer reader.
        code: error
            .get("code")
            .and_then(timestamp_from_value)
            .unwrap_or(0),
        title: str_at(error, "title"),
        message: str_at(error, "message"),
        details: present(error, "error_data").and_then(|data| str_at(data, "details")),
        href: str_at(error, "href"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(body: Value) -> Vec<Event> {
        let payload: WebhookPayload = serde_json::from_value(body).unwrap();
        events(&payload)
    }

    fn messages_body(value: Value) -> Value {
        json!({"object": "whatsapp_business_account",
               "entry": [{"id": "W", "changes": [{"field": "messages", "value": value}]}]})
    }

    #[test]
    fn status_rank_never_moves_backwards() {
        use StatusKind::*;
        assert!(Read.supersedes(&Sent));
        assert!(!Delivered.supersedes(&Read));
        assert!(Played.supersedes(&Read));
        assert!(!Sent.supersedes(&Failed));
        assert!(!Read.supersedes(&Failed));
        assert!(!Other("x".into()).supersedes(&Sent));
        assert!(Sent.supersedes(&Other("x".into())));
        assert!(Failed.is_terminal() && !Read.is_terminal());
        assert_eq!(StatusKind::parse("DELIVERED"), Delivered);
        assert_eq!(StatusKind::parse("warning"), Other("warning".into()));
        assert_eq!(Other("warning".into()).to_string(), "warning");
    }

    #[test]
    fn bad_items_become_unhandled_without_hurting_neighbours() {
        let events = run(messages_body(json!({
            "metadata": {"phone_number_id": "P"},
            "messages": [
                {"from": "1", "timestamp": "1", "type": "text", "text": {"body": "no id"}},
                {"from": "1", "id": "wamid.ok", "timestamp": "2", "type": "text", "text": {"body": "hi"}},
                "not an object"
            ],
            "statuses": [{"id": "wamid.s", "status": "sent"}]
        })));
        assert_eq!(events.len(), 4);
        assert!(
            matches!(&events[0], Event::Unhandled { reason, .. } if reason.contains("messages[0]"))
        );
        assert!(matches!(&events[1], Event::Message(m) if m.wamid == "wamid.ok"));
        assert!(
            matches!(&events[2], Event::Unhandled { reason, .. } if reason.contains("messages[2]"))
        );
        assert!(
            matches!(&events[3], Event::Unhandled { reason, .. } if reason.contains("timestamp"))
        );
    }

    #[test]
    fn odd_messages_values_are_unhandled() {
        for value in [
            json!("string"),
            json!({"metadata": {"phone_number_id": "P"}}),
            json!({"metadata": {"phone_number_id": "P"}, "messages": {}}),
            json!({"messages": [{"id": "x", "timestamp": "1", "type": "text"}]}),
            json!({"metadata": {"phone_number_id": "P"}, "errors": "boom"}),
        ] {
            let events = run(messages_body(value.clone()));
            assert_eq!(events.len(), 1, "{value}");
            assert!(matches!(events[0], Event::Unhandled { .. }), "{value}");
        }
    }

    #[test]
    fn value_errors_with_and_without_metadata() {
        let events = run(messages_body(json!({
            "errors": [{"code": "131000", "title": "Something went wrong",
                        "error_data": {"details": "d"}}, 7]
        })));
        let Event::ValueErrors {
            phone_number_id,
            errors,
        } = &events[0]
        else {
            panic!("{events:?}");
        };
        assert_eq!(phone_number_id, &None);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, 131_000);
        assert_eq!(errors[0].details.as_deref(), Some("d"));
    }

    #[test]
    fn template_status_without_event_and_preferences_without_value() {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [
            {"field": "message_template_status_update", "value": {"message_template_id": 1}},
            {"field": "user_preferences", "value": {"user_preferences": [{"wa_id": "1"}]}},
            {"field": "user_preferences", "value": {}}
        ]}]});
        let events = run(body);
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(|e| matches!(e, Event::Unhandled { .. })));
    }
}
