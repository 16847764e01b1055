//! A log of raw WhatsApp webhook deliveries, one per line, turned into
//! conversations.
//!
//! Each line is either the body Meta POSTed
//! (`{"object": "whatsapp_business_account", "entry": [...]}`) or a wrapper
//! `{"received_at": "<RFC 3339>", "body": <that body>}`; `body` may also
//! be the body as a JSON string, for logs that keep the exact bytes. Other
//! wrapper keys (headers, signatures) are ignored. Blank lines and lines
//! starting with `//` are skipped.
//!
//! Bodies are read with `switchboard-whatsapp` ([`switchboard_whatsapp::events`]),
//! the same code the service runs, so a log replays as the service would
//! have seen it. Customer messages become inbound messages; business replies
//! sent from the WhatsApp Business app (`smb_message_echoes`) become
//! outbound ones. Meta redelivers, so items are deduplicated by (business
//! number, wamid). Statuses, reactions, edits, template and account events
//! are counted, not replayed. A line that cannot be read is reported with
//! its number and skipped; it does not stop the rest.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use serde_json::Value;
use switchboard_core::model::Direction;
use switchboard_whatsapp::event::{InteractiveReply, Referral};
use switchboard_whatsapp::webhook::timestamp_from_value;
use switchboard_whatsapp::{Event, InboundMessage, MessageKind, WebhookPayload, events};

use crate::{FormatError, MEDIA_OMITTED, Transcript, TranscriptMessage, sort_messages};

/// What a webhook log held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookLog {
    /// One transcript per (business `phone_number_id`, customer), ordered by
    /// first message time, then id. `id` is `"<phone_number_id>:<customer>"`,
    /// `contact` the customer's wa_id (or BSUID for username users without
    /// one), `business_phone` the `phone_number_id`.
    pub transcripts: Vec<Transcript>,
    /// Lines read as webhook deliveries.
    pub deliveries: usize,
    /// Messages and echoes dropped because their wamid was already seen
    /// (Meta's redeliveries).
    pub duplicates: usize,
    /// Events that are not conversation messages (statuses, reactions,
    /// edits, template and account updates, …), counted once each.
    pub skipped_events: usize,
    /// `skipped_events` by kind: `status`, `reaction`, `edit`, `revoke`,
    /// `system`, `template`, `user_preference`, `value_errors`,
    /// `unhandled:<field>`, `echo:<type>`, ….
    pub skipped_by_kind: BTreeMap<String, usize>,
    /// Lines that could not be read: (1-based line number, what is wrong).
    pub errors: Vec<(usize, String)>,
}

/// Reads a webhook log.
///
/// `input` is the log's text, one delivery per line (see the module docs).
/// Message times are the messages' own `timestamp` (Unix seconds, UTC),
/// not when the delivery arrived; an echo without a usable timestamp takes
/// the wrapper's `received_at`.
///
/// Text of inbound messages: the text body, a button or list reply's
/// title, a Flow reply's label, a location's name; media becomes
/// [`MEDIA_OMITTED`] (with the caption on the next line); a location
/// without a name, shared contacts, an order without a note and an
/// unsupported message become `<location>`, `<contacts>`, `<order>` and
/// `<unsupported>`.
///
/// # Errors
/// [`FormatError::Empty`] only when the input has no line to read. Bad
/// lines (invalid JSON, a body that is not a WhatsApp webhook, an invalid
/// `received_at`) are listed in [`WebhookLog::errors`] instead, so one bad
/// line in a day of logs does not hide the rest.
pub fn parse(input: &str) -> Result<WebhookLog, FormatError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut log = WebhookLog::default();
    let mut items: Vec<Item> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut any_line = false;
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        any_line = true;
        match delivery(line) {
            Ok((payload, received_at)) => {
                log.deliveries += 1;
                for event in events(&payload) {
                    collect(event, received_at, number, &mut seen, &mut items, &mut log);
                }
            }
            Err(message) => log.errors.push((number, message)),
        }
    }
    if !any_line {
        return Err(FormatError::Empty(
            "the webhook log has no deliveries: every line is blank or a // comment".to_owned(),
        ));
    }
    log.skipped_events = log.skipped_by_kind.values().sum();
    log.transcripts = group(items);
    Ok(log)
}

/// One conversation message found in the log, before grouping.
struct Item {
    phone_number_id: String,
    wa_id: Option<String>,
    user_id: Option<String>,
    message: TranscriptMessage,
    referral: Option<Referral>,
}

fn delivery(line: &str) -> Result<(WebhookPayload, Option<Timestamp>), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        format!(
            "invalid JSON at column {}: {}",
            e.column(),
            full.strip_suffix(&suffix).unwrap_or(&full)
        )
    })?;
    let Some(obj) = value.as_object() else {
        return Err("expected a JSON object (a webhook body or {received_at, body})".to_owned());
    };
    let (body, received_at) = if let Some(body) = obj.get("body") {
        let received_at = match obj.get("received_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(crate::jsonl::parse_time(text).map_err(|e| format!("received_at: {e}"))?)
            }
            Some(_) => return Err("received_at: expected an RFC 3339 string".to_owned()),
        };
        let body = match body {
            Value::String(text) => serde_json::from_str::<Value>(text)
                .map_err(|e| format!("body: the string is not JSON: {e}"))?,
            other => other.clone(),
        };
        (body, received_at)
    } else if obj.contains_key("object") || obj.contains_key("entry") {
        (value.clone(), None)
    } else {
        return Err(
            "neither a webhook body (with `object` and `entry`) nor {received_at, body}".to_owned(),
        );
    };
    let payload: WebhookPayload =
        serde_json::from_value(body).map_err(|e| format!("invalid webhook body: {e}"))?;
    if payload.object != "whatsapp_business_account" {
        return Err(format!(
            "object is {:?}, not \"whatsapp_business_account\"",
            payload.object
        ));
    }
    Ok((payload, received_at))
}

fn skip(log: &mut WebhookLog, kind: impl Into<String>) {
    *log.skipped_by_kind.entry(kind.into()).or_default() += 1;
}

fn collect(
    event: Event,
    received_at: Option<Timestamp>,
    line: usize,
    seen: &mut HashSet<(String, String)>,
    items: &mut Vec<Item>,
    log: &mut WebhookLog,
) {
    match event {
        Event::Message(message) => {
            if !seen.insert((message.phone_number_id.clone(), message.wamid.clone())) {
                log.duplicates += 1;
                return;
            }
            match inbound(&message) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => skip(log, message.kind.type_name().to_owned()),
                Err(e) => log.errors.push((line, e)),
            }
        }
        Event::Unhandled { field, value, .. } if field == "smb_message_echoes" => {
            echoes(&value, received_at, line, seen, items, log);
        }
        Event::Unhandled { field, .. } => skip(log, format!("unhandled:{field}")),
        Event::Status(_) => skip(log, "status"),
        Event::ValueErrors { .. } => skip(log, "value_errors"),
        Event::TemplateStatus { .. } | Event::TemplateOther { .. } => skip(log, "template"),
        Event::UserPreference { .. } => skip(log, "user_preference"),
    }
}

fn at(seconds: i64) -> Result<Timestamp, String> {
    Timestamp::from_second(seconds).map_err(|e| format!("timestamp {seconds} is out of range: {e}"))
}

fn with_caption(caption: Option<&str>) -> String {
    match caption.map(str::trim).filter(|c| !c.is_empty()) {
        Some(caption) => format!("{MEDIA_OMITTED}\n{caption}"),
        None => MEDIA_OMITTED.to_owned(),
    }
}

/// The text a customer message stands for in a replay, or `None` for
/// events that are not something the customer said (reactions, edits,
/// revokes, system notices, welcome requests, unknown types).
fn inbound_text(message: &InboundMessage) -> Option<String> {
    let text = message.text().map(str::to_owned);
    match &message.kind {
        MessageKind::Text { .. }
        | MessageKind::Button { .. }
        | MessageKind::Interactive(
            InteractiveReply::ButtonReply { .. } | InteractiveReply::ListReply { .. },
        ) => Some(text.unwrap_or_default()),
        MessageKind::Interactive(InteractiveReply::NfmReply { body, .. }) => {
            Some(body.clone().unwrap_or_else(|| "<flow reply>".to_owned()))
        }
        MessageKind::Media { caption, .. } => Some(with_caption(caption.as_deref())),
        MessageKind::Location { .. } => Some(text.unwrap_or_else(|| "<location>".to_owned())),
        MessageKind::Contacts { .. } => Some("<contacts>".to_owned()),
        MessageKind::Order { .. } => Some(text.unwrap_or_else(|| "<order>".to_owned())),
        MessageKind::Unsupported { .. } => Some("<unsupported>".to_owned()),
        MessageKind::Interactive(InteractiveReply::Other { .. })
        | MessageKind::Reaction { .. }
        | MessageKind::Revoke { .. }
        | MessageKind::Edit { .. }
        | MessageKind::System { .. }
        | MessageKind::RequestWelcome
        | MessageKind::Unknown { .. } => None,
    }
}

fn inbound(message: &InboundMessage) -> Result<Option<Item>, String> {
    let Some(text) = inbound_text(message) else {
        return Ok(None);
    };
    let contact = message.contact.as_ref();
    let wa_id = message
        .from
        .clone()
        .or_else(|| contact.and_then(|c| c.wa_id.clone()))
        .map(|s| s.trim().to_owned());
    let user_id = message
        .from_user_id
        .clone()
        .or_else(|| contact.and_then(|c| c.user_id.clone()))
        .map(|s| s.trim().to_owned());
    if wa_id.is_none() && user_id.is_none() {
        return Err(format!(
            "message {} has neither `from` nor `from_user_id`",
            message.wamid
        ));
    }
    Ok(Some(Item {
        phone_number_id: message.phone_number_id.clone(),
        wa_id,
        user_id,
        message: TranscriptMessage {
            direction: Direction::Inbound,
            at: at(message.timestamp)?,
            text,
            author: contact.and_then(|c| c.name.clone()),
            expected: None,
            acceptable: None,
            automated: false,
        },
        referral: message.referral.clone(),
    }))
}

/// `smb_message_echoes`: messages the business sent from the WhatsApp
/// Business app (coexistence). switchboard-whatsapp leaves this field
/// uninterpreted, so it is read here with the same shape the server's
/// pipeline reads: `value.metadata.phone_number_id` and
/// `value.message_echoes[] = {id, to, to_user_id, timestamp, type, <type>}`.
fn echoes(
    value: &Value,
    received_at: Option<Timestamp>,
    line: usize,
    seen: &mut HashSet<(String, String)>,
    items: &mut Vec<Item>,
    log: &mut WebhookLog,
) {
    let pnid = value
        .pointer("/metadata/phone_number_id")
        .and_then(id_string);
    let (Some(pnid), Some(list)) = (pnid, value.get("message_echoes").and_then(Value::as_array))
    else {
        skip(log, "echo:unreadable");
        return;
    };
    for echo in list {
        let Some(wamid) = echo.get("id").and_then(id_string) else {
            skip(log, "echo:unreadable");
            continue;
        };
        if !seen.insert((pnid.clone(), wamid)) {
            log.duplicates += 1;
            continue;
        }
        let kind = echo.get("type").and_then(Value::as_str).unwrap_or("");
        let payload = echo.get(kind);
        let field = |key: &str| payload.and_then(|p| p.get(key)).and_then(Value::as_str);
        let text = match kind {
            "text" => field("body").unwrap_or_default().to_owned(),
            "image" | "video" | "audio" | "document" | "sticker" => with_caption(field("caption")),
            "interactive" | "template" => {
                // What the customer saw; bodies differ by subtype, so take
                // the first readable text and say what it was otherwise.
                echo.pointer(&format!("/{kind}/body/text"))
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("<{kind}>"), str::to_owned)
            }
            other => {
                skip(log, format!("echo:{other}"));
                continue;
            }
        };
        let wa_id = echo.get("to").and_then(id_string);
        let user_id = echo.get("to_user_id").and_then(id_string);
        if wa_id.is_none() && user_id.is_none() {
            log.errors
                .push((line, "an echo has neither `to` nor `to_user_id`".to_owned()));
            continue;
        }
        let time = match echo.get("timestamp").and_then(timestamp_from_value) {
            Some(seconds) => match at(seconds) {
                Ok(time) => time,
                Err(e) => {
                    log.errors.push((line, e));
                    continue;
                }
            },
            None => match received_at {
                Some(time) => time,
                None => {
                    log.errors.push((
                        line,
                        "an echo has no usable `timestamp` and the line no `received_at`"
                            .to_owned(),
                    ));
                    continue;
                }
            },
        };
        items.push(Item {
            phone_number_id: pnid.clone(),
            wa_id,
            user_id,
            message: TranscriptMessage {
                direction: Direction::Outbound,
                at: time,
                text,
                author: None,
                expected: None,
                acceptable: None,
                automated: false,
            },
            referral: None,
        });
    }
}

fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn group(items: Vec<Item>) -> Vec<Transcript> {
    // A user who has both a wa_id and a BSUID may appear with either; link
    // them so one customer stays one conversation.
    let mut wa_of_user: HashMap<(String, String), String> = HashMap::new();
    for item in &items {
        if let (Some(wa), Some(user)) = (&item.wa_id, &item.user_id) {
            wa_of_user
                .entry((item.phone_number_id.clone(), user.clone()))
                .or_insert_with(|| wa.clone());
        }
    }
    let mut groups: BTreeMap<(String, String), Vec<Item>> = BTreeMap::new();
    for item in items {
        let customer = match (&item.wa_id, &item.user_id) {
            (Some(wa), _) => wa.clone(),
            (None, Some(user)) => wa_of_user
                .get(&(item.phone_number_id.clone(), user.clone()))
                .cloned()
                .unwrap_or_else(|| user.clone()),
            (None, None) => continue,
        };
        groups
            .entry((item.phone_number_id.clone(), customer))
            .or_default()
            .push(item);
    }
    let mut out: Vec<Transcript> = groups
        .into_iter()
        .map(|((pnid, customer), mut items)| {
            items.sort_by_key(|i| i.message.at);
            let referral = items.iter().find_map(|i| i.referral.as_ref());
            let source_id = referral.and_then(|r| r.source_id.clone());
            let source_type = referral.and_then(|r| r.source_type.clone());
            let mut messages: Vec<TranscriptMessage> =
                items.into_iter().map(|i| i.message).collect();
            sort_messages(&mut messages);
            Transcript {
                id: format!("{pnid}:{customer}"),
                contact: customer,
                business_phone: Some(pnid),
                source_id,
                source_type,
                messages,
                outcome: None,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let first = |t: &Transcript| t.messages.first().map(|m| m.at);
        first(a).cmp(&first(b)).then_with(|| a.id.cmp(&b.id))
    });
    out
}
