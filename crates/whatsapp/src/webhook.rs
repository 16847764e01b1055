//! Lenient serde types for the webhook envelope.
//!
//! Every WhatsApp webhook POST has the same outer shape
//! (`facebook/openapi:business-messaging-api_v23.0.yaml`, schemas
//! `WebhookPayload`, `Entry`, `Change`):
//!
//! ```json
//! { "object": "whatsapp_business_account",
//!   "entry": [ { "id": "<WABA id>", "time": 1751247548,
//!                "changes": [ { "field": "messages", "value": { … } } ] } ] }
//! ```
//!
//! Only the envelope is typed here. `changes[].value` differs completely per
//! `field` and keeps growing, so it stays a [`serde_json::Value`] and is
//! interpreted by [`crate::event`]. Unknown keys at every level are kept in
//! `extra` so nothing Meta sends is lost when the service stores a payload.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A whole webhook delivery: the JSON body of one POST from Meta.
///
/// Shape: `{ "object": String, "entry": [Entry] }`. Both fields default when
/// absent (empty string / empty list) so a surprising body still parses and
/// can be stored; callers that care should check
/// `object == "whatsapp_business_account"`.
///
/// Source: `facebook/openapi:business-messaging-api_v23.0.yaml` schema
/// `WebhookPayload`; batching of several entries per POST is described at
/// <https://developers.facebook.com/docs/graph-api/webhooks/getting-started/>.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// Always `"whatsapp_business_account"` for WhatsApp webhooks.
    #[serde(default)]
    pub object: String,
    /// One item per WhatsApp Business Account with news; usually one, but
    /// Meta may batch several.
    #[serde(default)]
    pub entry: Vec<Entry>,
    /// Any other top-level keys, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `entry[]` item: the changes for one WhatsApp Business Account.
///
/// Source: openapi schema `Entry`; `time` is documented on
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update>.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The WhatsApp Business Account (WABA) ID. This is *not* the phone
    /// number ID; route by `value.metadata.phone_number_id` instead.
    #[serde(default)]
    pub id: String,
    /// Unix seconds when Meta produced the entry. Present on account and
    /// template webhooks, absent on `messages`. Integer or numeric string are
    /// accepted; any other value becomes `None` rather than rejecting the
    /// whole delivery (the original is then only visible in logs of the
    /// raw body).
    #[serde(
        default,
        deserialize_with = "deserialize_lenient_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<i64>,
    /// The changes in this entry, in the order Meta sent them.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Any other keys, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `changes[]` item: a `field` name and its field-specific `value`.
///
/// `field` says what `value` contains, for example `messages` (inbound
/// messages, statuses, value-level errors), `message_template_status_update`,
/// `user_preferences`, `account_update` or `calls`. The full list is at
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/overview>.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Change {
    /// The webhook field this change belongs to (`"messages"`, …).
    #[serde(default)]
    pub field: String,
    /// The field-specific object, untouched. Interpreted by
    /// [`crate::event::events`].
    #[serde(default)]
    pub value: Value,
    /// Any other keys, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The webhook body could not be read as a [`WebhookPayload`].
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON, or its envelope has the wrong JSON types (for
    /// example `entry` is not a list). The message is serde_json's, with line
    /// and column.
    #[error("invalid webhook body: {0}")]
    Json(#[from] serde_json::Error),
}

/// Parses a raw webhook body into the envelope types.
///
/// `body` is the POST body as received (verify it with
/// [`crate::signature::verify_signature`] first). The whole body must be one
/// JSON value; trailing non-whitespace is rejected, as serde_json does.
///
/// # Errors
/// [`ParseError::Json`] if the body is not JSON or the envelope has the wrong
/// types. Unknown keys and unknown `field`s never cause an error.
///
/// Source: openapi schema `WebhookPayload`.
pub fn parse(body: &[u8]) -> Result<WebhookPayload, ParseError> {
    Ok(serde_json::from_slice(body)?)
}

/// Reads a unix-seconds timestamp that Meta sends either as a JSON string or
/// as a JSON integer.
///
/// Messages and statuses use strings (`"1749416383"`); `user_preferences`,
/// `entry[].time` and group webhooks use integers
/// (openapi `BaseMessageProperties_1`, `Statuses`; Meta's `user_preferences`
/// reference). Accepted: an integer, a float with no fractional part, or a
/// string holding a decimal integer (surrounding whitespace ignored). Returns
/// unix seconds, or `None` for anything else (including `null`).
#[must_use]
pub fn timestamp_from_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                // The range filter above keeps the cast exact.
                .map(|f| f as i64)
        }),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// Serde `deserialize_with` helper for a required timestamp field that may
/// be a string or an integer (see [`timestamp_from_value`]).
///
/// Gives unix seconds as `i64`.
///
/// # Errors
/// A serde error when the value is neither an integer nor a numeric string.
pub fn deserialize_timestamp<'de, D>(deserializer: D) -> Result<i64, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    timestamp_from_value(&value).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "expected unix seconds as integer or numeric string, got {value}"
        ))
    })
}

/// Serde `deserialize_with` helper for an optional timestamp field that may
/// be a string or an integer. Pair it with `#[serde(default)]`.
///
/// `null` gives `None`; integers and numeric strings give unix seconds.
///
/// # Errors
/// A serde error when the value is present, not `null`, and neither an
/// integer nor a numeric string.
pub fn deserialize_optional_timestamp<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    if value.is_null() {
        return Ok(None);
    }
    timestamp_from_value(&value).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "expected unix seconds as integer or numeric string, got {value}"
        ))
    })
}

/// Like [`deserialize_optional_timestamp`] but maps garbage to `None`: used
/// on the envelope, where one odd value must not make Meta redeliver the whole
/// batch for days.
fn deserialize_lenient_timestamp<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(timestamp_from_value(&value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_accept_strings_and_integers() {
        assert_eq!(
            timestamp_from_value(&json!("1749416383")),
            Some(1_749_416_383)
        );
        assert_eq!(timestamp_from_value(&json!(" 17 ")), Some(17));
        assert_eq!(
            timestamp_from_value(&json!(1_731_705_721)),
            Some(1_731_705_721)
        );
        assert_eq!(timestamp_from_value(&json!(1.0e9)), Some(1_000_000_000));
        assert_eq!(timestamp_from_value(&json!(1.5)), None);
        assert_eq!(timestamp_from_value(&json!("<TIMESTAMP>")), None);
        assert_eq!(timestamp_from_value(&json!(null)), None);
        assert_eq!(timestamp_from_value(&json!(true)), None);
    }

    #[test]
    fn serde_helpers_work_in_derives() {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(deserialize_with = "deserialize_timestamp")]
            at: i64,
            #[serde(default, deserialize_with = "deserialize_optional_timestamp")]
            maybe: Option<i64>,
        }
        let probe: Probe = serde_json::from_value(json!({"at": "5", "maybe": 6})).unwrap();
        assert_eq!((probe.at, probe.maybe), (5, Some(6)));
        let probe: Probe = serde_json::from_value(json!({"at": 5})).unwrap();
        assert_eq!(probe.maybe, None);
        let probe: Probe = serde_json::from_value(json!({"at": 5, "maybe": null})).unwrap();
        assert_eq!(probe.maybe, None);
        assert!(serde_json::from_value::<Probe>(json!({"at": "x"})).is_err());
        assert!(serde_json::from_value::<Probe>(json!({"at": 1, "maybe": "x"})).is_err());
    }

    #[test]
    fn envelope_keeps_unknown_keys_and_tolerates_bad_time() {
        let body = br#"{"object":"whatsapp_business_account","surprise":1,
            "entry":[{"id":"1","time":"<TIMESTAMP>","new":true,
              "changes":[{"field":"messages","value":{},"later":"x"}]}]}"#;
        let payload = parse(body).unwrap();
        assert_eq!(payload.extra["surprise"], json!(1));
        let entry = &payload.entry[0];
        assert_eq!(entry.time, None);
        assert_eq!(entry.extra["new"], json!(true));
        assert_eq!(entry.changes[0].extra["later"], json!("x"));
    }

    #[test]
    fn missing_parts_default_and_garbage_fails_with_message() {
        let payload = parse(b"{}").unwrap();
        assert!(payload.object.is_empty() && payload.entry.is_empty());
        let err = parse(b"{\"entry\": 5}").unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        assert!(parse(b"not json").is_err());
        assert!(parse(b"{} {").is_err());
    }
}
