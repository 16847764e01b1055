//! Switchboard's JSON Lines conversation format: one conversation per line.
//!
//! The full specification, with an example, is `crates/replay/FORMAT.md`.
//! In short:
//!
//! ```text
//! {"id": "c1", "contact": "+91 98765 43210", "source_id": "1202263",
//!  "messages": [{"direction": "inbound", "at": "2026-05-01T10:00:00+05:30",
//!                "text": "fees kitni hai?",
//!                "expected": {"intent": "pricing", "category": "information_request"}},
//!               {"direction": "outbound", "at": "2026-05-01T10:02:10+05:30",
//!                "text": "Rs 4,500 per month", "automated": true, "acceptable": true}],
//!  "outcome": {"disposition": "won", "resolved_at": "2026-05-01T12:00:00+05:30"}}
//! ```
//!
//! Reading is strict, because a silently ignored typo in a label would make
//! a replay report wrong without anyone noticing: unknown keys at any level
//! are refused, enum words are checked with the core vocabulary's parsers,
//! times must carry an offset. Every error names the line and the field.

use std::collections::HashMap;
use std::str::FromStr;

use jiff::Timestamp;
use serde_json::{Map, Value};
use switchboard_core::model::{Category, Direction, EscalationReason};

use crate::{FormatError, Labels, Outcome, Transcript, TranscriptMessage, sort_messages};

const TOP_KEYS: &[&str] = &[
    "id",
    "contact",
    "business_phone",
    "source_id",
    "source_type",
    "messages",
    "outcome",
];
const MESSAGE_KEYS: &[&str] = &[
    "direction",
    "at",
    "text",
    "author",
    "expected",
    "acceptable",
    "automated",
];
const LABEL_KEYS: &[&str] = &["intent", "category", "escalate", "escalation_reasons"];
const OUTCOME_KEYS: &[&str] = &["disposition", "resolved_at", "first_response_at"];

/// Reads a whole JSON Lines file: one [`Transcript`] per non-blank line.
///
/// `input` is the file's text. Lines that are empty, whitespace or start
/// with `//` (after leading whitespace) are skipped; a UTF-8 byte-order
/// mark at the start is ignored. Transcripts come back in line order; each
/// one's messages are sorted by `at` (stable). A missing `id` becomes
/// `"line-N"` (N = the 1-based line number).
///
/// # Errors
/// The first bad line, as [`FormatError::Line`] with its 1-based number and
/// the field path (`messages[2].expected.category: unknown category …`):
/// invalid JSON (with the column), an unknown key, a missing or empty
/// `contact`, `messages` missing or empty, a message without `direction`,
/// `at` or `text`, a time without a UTC offset, an unknown direction,
/// category or escalation reason, labels on an outbound message,
/// `escalate: false` with reasons, or an `id` used twice.
/// [`FormatError::Empty`] if no line holds a conversation.
pub fn parse(input: &str) -> Result<Vec<Transcript>, FormatError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        let transcript = parse_line(trimmed, number).map_err(|m| FormatError::line(number, m))?;
        if let Some(first) = seen.insert(transcript.id.clone(), number) {
            return Err(FormatError::line(
                number,
                format!("id {:?} is already used on line {first}", transcript.id),
            ));
        }
        out.push(transcript);
    }
    if out.is_empty() {
        return Err(FormatError::Empty(
            "no conversations: every line is blank or a // comment".to_owned(),
        ));
    }
    Ok(out)
}

/// Writes one transcript as one line of this format (no trailing newline).
/// [`parse`] reads it back to an equal [`Transcript`]; times are written in
/// UTC (`…Z`).
///
/// # Errors
/// Only if serde_json fails to serialise, which these types do not cause.
pub fn to_line(transcript: &Transcript) -> Result<String, serde_json::Error> {
    serde_json::to_string(transcript)
}

fn parse_line(line: &str, number: usize) -> Result<Transcript, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| json_error(&e))?;
    let top = object(&value, "the line")?;
    refuse_unknown(top, TOP_KEYS, "")?;
    let id = match optional_str(top, "id", "")? {
        Some(id) if id.trim().is_empty() => return Err("id: empty".to_owned()),
        Some(id) => id.to_owned(),
        None => format!("line-{number}"),
    };
    let contact = match optional_str(top, "contact", "")? {
        Some(c) if !c.trim().is_empty() => c.to_owned(),
        Some(_) => return Err("contact: empty".to_owned()),
        None => {
            return Err("contact: missing (the customer's name, phone number or wa_id)".to_owned());
        }
    };
    let list = match top.get("messages") {
        None | Some(Value::Null) => return Err("messages: missing".to_owned()),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(format!("messages: expected a list, got {}", kind(other))),
    };
    if list.is_empty() {
        return Err("messages: empty; a conversation needs at least one message".to_owned());
    }
    let mut messages = list
        .iter()
        .enumerate()
        .map(|(i, m)| parse_message(m, &format!("messages[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    sort_messages(&mut messages);
    let outcome = match top.get("outcome") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_outcome(value)?),
    };
    Ok(Transcript {
        id,
        contact,
        business_phone: optional_str(top, "business_phone", "")?.map(str::to_owned),
        source_id: optional_str(top, "source_id", "")?.map(str::to_owned),
        source_type: optional_str(top, "source_type", "")?.map(str::to_owned),
        messages,
        outcome,
    })
}

fn parse_message(value: &Value, path: &str) -> Result<TranscriptMessage, String> {
    let obj = object(value, path)?;
    refuse_unknown(obj, MESSAGE_KEYS, path)?;
    let direction = match optional_str(obj, "direction", path)? {
        None => return Err(format!("{path}.direction: missing (inbound or outbound)")),
        Some(word) => match Direction::from_str(word) {
            Ok(Direction::Note) => {
                return Err(format!(
                    "{path}.direction: notes are internal and are not replayed; use inbound or outbound"
                ));
            }
            Ok(direction) => direction,
            Err(e) => return Err(format!("{path}.direction: {e}")),
        },
    };
    let at = required_time(obj, "at", path)?;
    let Some(text) = optional_str(obj, "text", path)? else {
        return Err(format!(
            "{path}.text: missing (use \"\" or \"{}\" for media without text)",
            crate::MEDIA_OMITTED
        ));
    };
    let automated = optional_bool(obj, "automated", path)?.unwrap_or(false);
    let acceptable = optional_bool(obj, "acceptable", path)?;
    let expected = match obj.get("expected") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_labels(value, &format!("{path}.expected"))?),
    };
    if direction == Direction::Inbound {
        if automated {
            return Err(format!(
                "{path}.automated: only outbound messages are sent by a bot"
            ));
        }
        if acceptable.is_some() {
            return Err(format!(
                "{path}.acceptable: labels a business reply; this message is inbound"
            ));
        }
    } else if expected.is_some() {
        return Err(format!(
            "{path}.expected: labels what triage should decide for a customer message; this message is outbound"
        ));
    }
    Ok(TranscriptMessage {
        direction,
        at,
        text: text.to_owned(),
        author: optional_str(obj, "author", path)?.map(str::to_owned),
        expected,
        acceptable,
        automated,
    })
}

fn parse_labels(value: &Value, path: &str) -> Result<Labels, String> {
    let obj = object(value, path)?;
    refuse_unknown(obj, LABEL_KEYS, path)?;
    let intent = match optional_str(obj, "intent", path)? {
        Some(i) if i.trim().is_empty() => return Err(format!("{path}.intent: empty")),
        other => other.map(str::to_owned),
    };
    let category = match optional_str(obj, "category", path)? {
        None => None,
        Some("high_intent") => {
            return Err(format!(
                "{path}.category: \"high_intent\" is a rules-file intent class, not a category; \
                 use fresh_high_intent (new contact) or high_intent_return (returning contact)"
            ));
        }
        Some(word) => Some(Category::from_str(word).map_err(|e| format!("{path}.category: {e}"))?),
    };
    let mut escalation_reasons = Vec::new();
    match obj.get("escalation_reasons") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let Some(word) = item.as_str() else {
                    return Err(format!(
                        "{path}.escalation_reasons[{i}]: expected a string, got {}",
                        kind(item)
                    ));
                };
                let reason = EscalationReason::from_str(word)
                    .map_err(|e| format!("{path}.escalation_reasons[{i}]: {e}"))?;
                if !escalation_reasons.contains(&reason) {
                    escalation_reasons.push(reason);
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "{path}.escalation_reasons: expected a list, got {}",
                kind(other)
            ));
        }
    }
    let escalate = match optional_bool(obj, "escalate", path)? {
        Some(false) if !escalation_reasons.is_empty() => {
            return Err(format!(
                "{path}.escalate: false, but escalation_reasons lists reasons to escalate"
            ));
        }
        None if !escalation_reasons.is_empty() => Some(true),
        other => other,
    };
    Ok(Labels {
        intent,
        category,
        escalate,
        escalation_reasons,
    })
}

fn parse_outcome(value: &Value) -> Result<Outcome, String> {
    let obj = object(value, "outcome")?;
    refuse_unknown(obj, OUTCOME_KEYS, "outcome")?;
    let disposition = match optional_str(obj, "disposition", "outcome")? {
        Some(d) if d.trim().is_empty() => return Err("outcome.disposition: empty".to_owned()),
        other => other.map(str::to_owned),
    };
    Ok(Outcome {
        disposition,
        resolved_at: optional_time(obj, "resolved_at", "outcome")?,
        first_response_at: optional_time(obj, "first_response_at", "outcome")?,
    })
}

/// serde_json appends "at line 1 column N", and line 1 is misleading when
/// each input line is parsed on its own; keep the column only.
fn json_error(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    format!("invalid JSON at column {}: {message}", e.column())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{what}: expected a JSON object, got {}", kind(value)))
}

fn refuse_unknown(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), String> {
    // Report in key order so the message is the same on every run.
    let mut unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    unknown.sort_unstable();
    match unknown.first() {
        None => Ok(()),
        Some(key) => Err(format!(
            "{}: unknown field; allowed here: {}",
            join(path, key),
            allowed.join(", ")
        )),
    }
}

fn optional_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "{}: expected a string, got {}",
            join(path, key),
            kind(other)
        )),
    }
}

fn optional_bool(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!(
            "{}: expected true or false, got {}",
            join(path, key),
            kind(other)
        )),
    }
}

fn optional_time(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<Timestamp>, String> {
    let Some(text) = optional_str(obj, key, path)? else {
        return Ok(None);
    };
    parse_time(text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", join(path, key)))
}

fn required_time(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Timestamp, String> {
    optional_time(obj, key, path)?.ok_or_else(|| {
        format!(
            "{}: missing (an RFC 3339 time such as 2026-05-01T10:00:00+05:30)",
            join(path, key)
        )
    })
}

/// RFC 3339 with a UTC offset or `Z`. A time without an offset is refused
/// rather than guessed: the same wall time is 5 h 30 min apart in India and
/// in UTC, which would move every SLA result.
pub(crate) fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::from_str(text.trim()).map_err(|e| {
        format!(
            "{text:?} is not an RFC 3339 time with a UTC offset \
             (e.g. 2026-05-01T10:00:00+05:30 or 2026-05-01T04:30:00Z): {e}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> String {
        parse(input).unwrap_err().to_string()
    }

    #[test]
    fn json_errors_give_the_column_not_line_one() {
        let e = err("\n\n{\"contact\": }");
        assert!(e.starts_with("line 3: invalid JSON at column 13:"), "{e}");
        assert!(!e.contains("line 1"), "{e}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let e =
            err(r#"{"contact": "a", "messages": [{"direction": "inbound", "at": 5, "text": ""}]}"#);
        assert_eq!(e, "line 1: messages[0].at: expected a string, got a number");
        let e = err(r#"{"contact": "a", "messages": {}}"#);
        assert_eq!(e, "line 1: messages: expected a list, got an object");
        let e = err("[1]");
        assert_eq!(e, "line 1: the line: expected a JSON object, got a list");
    }
}
