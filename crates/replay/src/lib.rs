//! Replay inputs: past conversations, read from the three formats a business
//! already has, as one [`Transcript`] type that `switchboard replay` runs
//! through triage, routing and SLA in simulated time (issue #6).
//!
//! - [`jsonl`]: Switchboard's own JSON Lines format, one conversation per
//!   line, with optional labels (expected intent, category, escalation) and
//!   the real outcome. Specified in `crates/replay/FORMAT.md`.
//! - [`chat_export`]: the `.txt` file WhatsApp's "Export chat" produces on
//!   Android and iOS (12/24 h clocks, several date orders, system lines,
//!   omitted media). One export is one conversation.
//! - [`webhook_log`]: raw Meta webhook deliveries, one per line, as a
//!   service logs them; grouped into conversations per business number and
//!   customer, deduplicated by wamid.
//!
//! Everything here is pure: functions take the caller's text and return
//! values. Reading files, choosing time zones and reporting are the
//! caller's job. All times in the output are UTC [`jiff::Timestamp`]s.
//!
//! Invariants every parser keeps, so the simulation can rely on them:
//! a transcript has at least one message (not necessarily an inbound one:
//! a webhook log may hold only the business's own echoes for a customer);
//! messages are in time order (a stable sort, so equal times keep input
//! order); directions are only [`Direction::Inbound`] (customer) and
//! [`Direction::Outbound`] (business). Chat exports and webhook logs write
//! media as the [`MEDIA_OMITTED`] placeholder; JSON Lines files are asked
//! to do the same.

#![forbid(unsafe_code)]

pub mod chat_export;
mod error;
pub mod jsonl;
pub mod webhook_log;

pub use error::FormatError;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use switchboard_core::model::{Category, Direction, EscalationReason};

/// The text that stands for a media message (photo, video, audio, sticker,
/// document) whose content replay cannot see. A caption, when there is one,
/// follows on the next line: `"<media omitted>\nis this in stock?"`.
pub const MEDIA_OMITTED: &str = "<media omitted>";

/// One past conversation between a business and a customer.
///
/// Serialises to exactly one line of the JSON Lines format ([`jsonl`]):
/// `None` fields and empty lists are left out. `Deserialize` reads the
/// same shape without [`jsonl::parse`]'s checks (unknown keys, labels on
/// the wrong direction, sorting); use `jsonl::parse` for anything a person
/// wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// Unique within one input: the input's own id, or one generated
    /// deterministically from the input (`"line-7"` in JSON Lines, the
    /// caller's id for a chat export, `"<phone_number_id>:<customer>"` in a
    /// webhook log).
    pub id: String,
    /// The customer as the input names them: a display name, a phone
    /// number as written, a wa_id or a BSUID. Never invented; a group chat
    /// with several customers lists their names joined by `", "`.
    pub contact: String,
    /// The business number (Meta's `phone_number_id`) when the input
    /// carries it (webhook logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_phone: Option<String>,
    /// Click-to-WhatsApp ad or post id (`referral.source_id`) that started
    /// the conversation, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `referral.source_type` (`ad` or `post`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// The messages, oldest first; never empty.
    pub messages: Vec<TranscriptMessage>,
    /// What really happened, when the input records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

impl Transcript {
    /// How many messages came from the customer.
    #[must_use]
    pub fn inbound_count(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .count()
    }
}

/// One message of a [`Transcript`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptMessage {
    /// [`Direction::Inbound`] from the customer, [`Direction::Outbound`]
    /// from the business (a person or a bot). Never [`Direction::Note`].
    pub direction: Direction,
    /// When it was sent, UTC (inputs with local times are converted with
    /// the time zone the caller gives).
    pub at: Timestamp,
    /// What was written. [`MEDIA_OMITTED`] for media (followed by the
    /// caption on a new line, if any); `""` only when the input itself has
    /// an empty text. Multi-line messages keep their `\n`s.
    pub text: String,
    /// The sender's name as the input spells it (chat export sender, webhook
    /// profile name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Labels for an inbound message: what triage should decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Labels>,
    /// For an outbound message: whether a reviewer judged the reply
    /// acceptable. `None` when nobody labelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptable: Option<bool>,
    /// True when a bot, not a person, sent this outbound message (from a
    /// label). False when unknown.
    #[serde(default, skip_serializing_if = "is_false")]
    pub automated: bool,
}

// serde's skip_serializing_if needs a function taking a reference.
fn is_false(value: &bool) -> bool {
    !*value
}

/// Expected triage of one inbound message. Every part is optional: label
/// what you know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    /// Intent name as in the rules file (`pricing`, `refund`, …). Not
    /// checked against a rules file here: a business's own rules may add
    /// intents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The seeds' category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Whether the message must go to a senior now. `Some(true)` whenever
    /// `escalation_reasons` is non-empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate: Option<bool>,
    /// Why it escalates; empty when it does not or when unlabelled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_reasons: Vec<EscalationReason>,
}

/// The real outcome of a past conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The disposition it was closed with (`won`, `resolved`, …; free text
    /// here, matched against the configured dispositions by the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// When it was resolved, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// When the business first answered, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<Timestamp>,
}

/// Which of the three input formats a text is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// [`jsonl`]: one conversation object per line.
    Jsonl,
    /// [`chat_export`]: a WhatsApp "Export chat" `.txt`.
    ChatExport,
    /// [`webhook_log`]: one webhook delivery per line.
    WebhookLog,
}

/// Guesses the format of an input from its first meaningful line, so
/// `switchboard replay FILE` needs no format flag.
///
/// A first non-blank, non-`//` line that starts with `{` is a webhook log
/// when it has a top-level `object`, `entry` or `body` key (or, if it is
/// not valid JSON, mentions `"object"` or `"entry"`), and a JSON Lines
/// file otherwise, so that the chosen parser reports what is wrong with it.
/// Otherwise, if one of the first 50 lines starts with a WhatsApp export
/// timestamp, it is a chat export. `None` when nothing fits; the caller
/// should then ask for the format.
#[must_use]
pub fn detect_format(input: &str) -> Option<InputFormat> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let first = input
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("//"))?;
    if first.starts_with('{') {
        let webhook = match serde_json::from_str::<serde_json::Value>(first) {
            Ok(serde_json::Value::Object(obj)) => ["object", "entry", "body"]
                .iter()
                .any(|k| obj.contains_key(*k)),
            _ => first.contains("\"object\"") || first.contains("\"entry\""),
        };
        return Some(if webhook {
            InputFormat::WebhookLog
        } else {
            InputFormat::Jsonl
        });
    }
    input
        .lines()
        .take(50)
        .any(chat_export::is_message_line)
        .then_some(InputFormat::ChatExport)
}

/// Sorts messages by time, keeping input order among equal times (chat
/// exports have minute resolution, so many messages share a time).
fn sort_messages(messages: &mut [TranscriptMessage]) {
    messages.sort_by_key(|m| m.at);
}
