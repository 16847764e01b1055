//! Inbound messages (`value.messages[]` under field `messages`).
//!
//! Shapes follow openapi `IncomingMessage`, `BaseMessageProperties`,
//! `ContextObject`, `ReferralObject` and `SystemMessage`
//! (`facebook/openapi:business-messaging-api_v23.0.yaml`), plus the newer
//! `request_welcome`, `edit` and `revoke` types seen in
//! `david-lev/pywa:pywa/types/others.py` and BSUID fields from
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/>.

use serde::Serialize;
use serde_json::Value;

use super::{
    MetaError, bool_at, errors_at, f64_at, present, required_timestamp, str_at, string_at,
};

/// A message a WhatsApp user sent to the business.
///
/// Built from one `value.messages[]` object plus its change's `metadata`,
/// matching `contacts[]` entry and the entry ID. `kind` holds the typed
/// payload; `raw` keeps the whole message object so nothing Meta added is
/// lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundMessage {
    /// `value.metadata.phone_number_id`: the business number that received
    /// the message; the ID used to reply (`POST /{phone-number-id}/messages`).
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`, digits without `+`.
    pub display_phone_number: Option<String>,
    /// `entry[].id`: the WhatsApp Business Account ID.
    pub waba_id: String,
    /// `id`: the message's wamid (`wamid.<base64>`; older examples use other
    /// opaque strings). The deduplication key for redeliveries.
    pub wamid: String,
    /// `from`: the sender's wa_id (phone number without `+`). Absent for
    /// users who adopted a username (since April 2026); use
    /// [`InboundMessage::from_user_id`] then.
    pub from: Option<String>,
    /// `from_user_id`: the sender's business-scoped user ID (BSUID), e.g.
    /// `US.13491208655302741918`.
    pub from_user_id: Option<String>,
    /// The `contacts[]` entry for the sender: the one whose `wa_id` equals
    /// `from` or whose `user_id` equals `from_user_id`, else the first.
    /// `None` when the change has no contacts (system messages).
    pub contact: Option<ContactProfile>,
    /// `timestamp` in unix seconds (Meta sends a string).
    pub timestamp: i64,
    /// The typed payload selected by `type`.
    pub kind: MessageKind,
    /// `context`: reply target, forwarding flags, product inquiry.
    pub context: Option<MessageContext>,
    /// `referral`: set on the first message after a click-to-WhatsApp ad or
    /// post.
    pub referral: Option<Referral>,
    /// `errors[]` on the message itself (e.g. 131051 on `unsupported`).
    pub errors: Vec<MetaError>,
    /// The whole `messages[]` object as received.
    pub raw: Value,
}

impl InboundMessage {
    /// The text a human typed or chose, if any.
    ///
    /// Text `body`, media `caption`, location `name`, template button `text`,
    /// interactive button/list reply `title`, the new text (or caption) of an
    /// edit, order `text` and system `body`. `None` for reactions, contacts,
    /// flow (`nfm_reply`) replies, revokes, unsupported and unknown types, a
    /// location without name, and whenever the string is empty.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        let text = match &self.kind {
            MessageKind::Text { body } => Some(body.as_str()),
            MessageKind::Button { text, .. } => Some(text.as_str()),
            MessageKind::Interactive(
                InteractiveReply::ButtonReply { title, .. }
                | InteractiveReply::ListReply { title, .. },
            ) => Some(title.as_str()),
            MessageKind::Media { caption: text, .. }
            | MessageKind::Location { name: text, .. }
            | MessageKind::Edit { new_text: text, .. }
            | MessageKind::Order { text, .. }
            | MessageKind::System { body: text, .. } => text.as_deref(),
            MessageKind::Contacts { .. }
            | MessageKind::Interactive(_)
            | MessageKind::Reaction { .. }
            | MessageKind::Unsupported { .. }
            | MessageKind::Revoke { .. }
            | MessageKind::RequestWelcome
            | MessageKind::Unknown { .. } => None,
        };
        text.filter(|t| !t.is_empty())
    }

    /// Meta's `type` string for this message (`text`, `image`, `interactive`,
    /// …), as sent; derived from [`InboundMessage::kind`] if `raw` lacks it.
    #[must_use]
    pub fn type_name(&self) -> &str {
        self.raw
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_else(|| self.kind.type_name())
    }
}

/// The sender as described in `value.contacts[]`.
///
/// Source: openapi `ContactProfile`; `user_id` and `profile.username` from
/// Meta's BSUID page (see module docs). `name` is the user's self-chosen
/// profile name, not verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactProfile {
    /// `wa_id`; Meta notes it may differ from the phone number. Absent for
    /// username-only users.
    pub wa_id: Option<String>,
    /// `user_id`: the BSUID.
    pub user_id: Option<String>,
    /// `profile.name`.
    pub name: Option<String>,
    /// `profile.username`, e.g. `@testusername`.
    pub username: Option<String>,
}

/// `messages[].context`: what this message replies to or how it was
/// forwarded (openapi `ContextObject`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageContext {
    /// `context.from`: who sent the message being replied to (for replies to
    /// our messages, the business number).
    pub from: Option<String>,
    /// `context.id`: the wamid of the message being replied to.
    pub id: Option<String>,
    /// `context.forwarded`.
    pub forwarded: bool,
    /// `context.frequently_forwarded` (forwarded more than five times).
    pub frequently_forwarded: bool,
    /// `context.referred_product` (`{catalog_id, product_retailer_id}`) for
    /// product inquiries.
    pub referred_product: Option<Value>,
}

/// `messages[].referral`: the click-to-WhatsApp ad or post that started the
/// conversation (openapi `ReferralObject`).
///
/// Store `ctwa_clid`: it keys the Conversions API for Business Messaging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Referral {
    /// `source_url`: the ad or post URL.
    pub source_url: Option<String>,
    /// `source_id`: the ad or post ID.
    pub source_id: Option<String>,
    /// `source_type`: `ad` or `post`.
    pub source_type: Option<String>,
    /// `headline`.
    pub headline: Option<String>,
    /// `body`.
    pub body: Option<String>,
    /// `media_type`: `image` or `video`.
    pub media_type: Option<String>,
    /// `ctwa_clid`: the click ID.
    pub ctwa_clid: Option<String>,
    /// The whole `referral` object (`image_url`, `video_url`,
    /// `welcome_message`, …).
    pub raw: Value,
}

/// The typed payload of an inbound message, chosen by `messages[].type`.
///
/// Source: openapi `IncomingMessage` discriminator and pywa's `MessageType`
/// (see module docs). If the payload object for a known type is missing or
/// lacks a required part, the message becomes [`MessageKind::Unknown`] and
/// the original stays in [`InboundMessage::raw`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// `type: text`, `text.body`.
    Text {
        /// The message text.
        body: String,
    },
    /// `type: image | video | audio | document | sticker`, payload under the
    /// key of the same name.
    Media {
        /// The `type` value: `image`, `video`, `audio`, `document` or
        /// `sticker`.
        media_type: String,
        /// Media ID for `GET /{media-id}`; expires after 7 days.
        id: Option<String>,
        /// `mime_type`, e.g. `audio/ogg; codecs=opus`.
        mime_type: Option<String>,
        /// `sha256` of the file, base64.
        sha256: Option<String>,
        /// `caption` (image, video, document).
        caption: Option<String>,
        /// `filename` (document).
        filename: Option<String>,
        /// `voice`: an audio recorded as a voice note.
        voice: bool,
        /// `animated`: an animated sticker.
        animated: bool,
        /// `url`: a direct download URL (newer payloads); needs the access
        /// token.
        url: Option<String>,
    },
    /// `type: location`.
    Location {
        /// Degrees.
        latitude: f64,
        /// Degrees.
        longitude: f64,
        /// Place name, for a chosen (not current) location.
        name: Option<String>,
        /// Place address.
        address: Option<String>,
        /// Place URL.
        url: Option<String>,
    },
    /// `type: contacts`: shared contact cards.
    Contacts {
        /// The `contacts` array as sent (`name`, `phones`, `emails`, `org`, …).
        contacts: Value,
    },
    /// `type: interactive`: a reply to an interactive message we sent.
    Interactive(InteractiveReply),
    /// `type: button`: a tap on a template quick-reply button.
    Button {
        /// `button.payload`, the developer-defined payload.
        payload: Option<String>,
        /// `button.text`, the button label.
        text: String,
    },
    /// `type: reaction`.
    Reaction {
        /// `reaction.message_id`: the wamid reacted to.
        message_id: String,
        /// `reaction.emoji`; `None` when empty or missing, which means the
        /// user removed their reaction.
        emoji: Option<String>,
    },
    /// `type: order`: a cart sent from a catalog.
    Order {
        /// `order.catalog_id`.
        catalog_id: Option<String>,
        /// `order.text`, the user's note.
        text: Option<String>,
        /// `order.product_items` as sent
        /// (`[{product_retailer_id, quantity, item_price, currency}]`).
        product_items: Value,
    },
    /// `type: system`: a change on the user's side; arrives without
    /// `contacts`.
    System {
        /// `system.body`, a human-readable description.
        body: Option<String>,
        /// `system.type`: `user_changed_number`, `customer_identity_changed`, …
        kind: Option<String>,
        /// `system.wa_id`: the user's new wa_id after a number change.
        wa_id: Option<String>,
        /// `system.new_wa_id`: the same, as older API versions named it.
        new_wa_id: Option<String>,
    },
    /// `type: unsupported`: a type the Cloud API cannot deliver; the reason
    /// (usually code 131051) is in [`InboundMessage::errors`].
    Unsupported {
        /// `unsupported.type` when Meta names the original type (e.g. `poll`).
        unsupported_type: Option<String>,
    },
    /// `type: revoke`: the user deleted a message.
    Revoke {
        /// `revoke.original_message_id`: the wamid deleted.
        original_message_id: Option<String>,
    },
    /// `type: edit`: the user edited a message.
    Edit {
        /// `edit.original_message_id`: the wamid edited.
        original_message_id: Option<String>,
        /// The new text: `edit.message.text.body`, or the new caption for
        /// media.
        new_text: Option<String>,
        /// The whole `edit` object (the replacement is in `message`).
        raw: Value,
    },
    /// `type: request_welcome`: the user opened the chat for the first time.
    RequestWelcome,
    /// Any other `type` (including Meta's `unknown`), or a known type whose
    /// payload could not be read.
    Unknown {
        /// The `type` value as sent (empty if absent).
        type_name: String,
    },
}

impl MessageKind {
    /// Meta's `type` string for this kind.
    #[must_use]
    pub fn type_name(&self) -> &str {
        match self {
            Self::Text { .. } => "text",
            Self::Media { media_type, .. } => media_type,
            Self::Location { .. } => "location",
            Self::Contacts { .. } => "contacts",
            Self::Interactive(_) => "interactive",
            Self::Button { .. } => "button",
            Self::Reaction { .. } => "reaction",
            Self::Order { .. } => "order",
            Self::System { .. } => "system",
            Self::Unsupported { .. } => "unsupported",
            Self::Revoke { .. } => "revoke",
            Self::Edit { .. } => "edit",
            Self::RequestWelcome => "request_welcome",
            Self::Unknown { type_name } => type_name,
        }
    }
}

/// The reply inside a `type: interactive` message, chosen by
/// `interactive.type` (openapi `IncomingMessage` interactive schemas; Flows:
/// `david-lev/pywa` `flow_completion` fixture).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractiveReply {
    /// `button_reply`: a reply button was tapped.
    ButtonReply {
        /// The button ID we set when sending.
        id: String,
        /// The button label.
        title: String,
    },
    /// `list_reply`: a list row was chosen.
    ListReply {
        /// The row ID we set when sending.
        id: String,
        /// The row title.
        title: String,
        /// The row description, if the row had one.
        description: Option<String>,
    },
    /// `nfm_reply`: a WhatsApp Flow was completed.
    NfmReply {
        /// `name`, `flow` for Flows.
        name: Option<String>,
        /// `body`, the label shown in the chat (e.g. `Sent`).
        body: Option<String>,
        /// `response_json`: the Flow's answers as a JSON *string*; parse it
        /// separately.
        response_json: String,
    },
    /// Any other `interactive.type` (e.g. `call_permission_reply`).
    Other {
        /// The `interactive.type` value.
        kind: String,
        /// The whole `interactive` object.
        raw: Value,
    },
}

/// The change-level data every message of one change shares.
pub(super) struct Envelope<'a> {
    pub(super) phone_number_id: &'a str,
    pub(super) display_phone_number: Option<String>,
    pub(super) waba_id: &'a str,
    pub(super) contacts: &'a [ContactProfile],
}

/// Reads `value.contacts[]`, skipping items that are not objects.
pub(super) fn contacts(value: &Value) -> Vec<ContactProfile> {
    present(value, "contacts")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|c| c.is_object())
                .map(|c| {
                    let profile = present(c, "profile");
                    ContactProfile {
                        wa_id: string_at(c, "wa_id"),
                        user_id: string_at(c, "user_id"),
                        name: profile.and_then(|p| str_at(p, "name")),
                        username: profile.and_then(|p| str_at(p, "username")),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Builds an [`InboundMessage`]; `Err` names the missing required part (`id`,
/// `timestamp`) so the caller can report the item as unhandled.
pub(super) fn parse_message(env: &Envelope<'_>, item: &Value) -> Result<InboundMessage, String> {
    if !item.is_object() {
        return Err("not a JSON object".to_owned());
    }
    let wamid = string_at(item, "id").ok_or("missing `id`")?;
    let timestamp = required_timestamp(item)?;
    let from = string_at(item, "from");
    let from_user_id = string_at(item, "from_user_id");
    let contact = matching_contact(env.contacts, from.as_deref(), from_user_id.as_deref());
    let type_name = str_at(item, "type").unwrap_or_default();
    let kind = parse_kind(item, &type_name).unwrap_or(MessageKind::Unknown { type_name });
    Ok(InboundMessage {
        phone_number_id: env.phone_number_id.to_owned(),
        display_phone_number: env.display_phone_number.clone(),
        waba_id: env.waba_id.to_owned(),
        wamid,
        from,
        from_user_id,
        contact,
        timestamp,
        kind,
        context: present(item, "context").and_then(parse_context),
        referral: present(item, "referral").and_then(parse_referral),
        errors: errors_at(item),
        raw: item.clone(),
    })
}

fn matching_contact(
    contacts: &[ContactProfile],
    from: Option<&str>,
    from_user_id: Option<&str>,
) -> Option<ContactProfile> {
    // Meta's examples sometimes pad wa_id with a trailing space, so compare
    // trimmed values.
    let same = |a: Option<&String>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => a.trim() == b.trim(),
        _ => false,
    };
    contacts
        .iter()
        .find(|c| same(c.wa_id.as_ref(), from) || same(c.user_id.as_ref(), from_user_id))
        .or_else(|| contacts.first())
        .cloned()
}

fn parse_kind(item: &Value, type_name: &str) -> Option<MessageKind> {
    // Meta nests each type's payload under a key equal to the type name.
    let payload = present(item, type_name);
    match type_name {
        "text" => Some(MessageKind::Text {
            body: str_at(payload?, "body")?,
        }),
        "image" | "video" | "audio" | "document" | "sticker" => media(type_name, payload?),
        "location" => location(payload?),
        "contacts" => payload
            .filter(|c| c.is_array())
            .map(|c| MessageKind::Contacts {
                contacts: c.clone(),
            }),
        "interactive" => interactive(payload?).map(MessageKind::Interactive),
        "button" => Some(MessageKind::Button {
            payload: string_at(payload?, "payload"),
            text: str_at(payload?, "text")?,
        }),
        "reaction" => Some(MessageKind::Reaction {
            message_id: string_at(payload?, "message_id")?,
            emoji: str_at(payload?, "emoji").filter(|e| !e.is_empty()),
        }),
        "order" => {
            let order = payload.filter(|o| o.is_object())?;
            Some(MessageKind::Order {
                catalog_id: string_at(order, "catalog_id"),
                text: str_at(order, "text"),
                product_items: order.get("product_items").cloned().unwrap_or(Value::Null),
            })
        }
        "system" => {
            let system = payload.filter(|s| s.is_object())?;
            Some(MessageKind::System {
                body: str_at(system, "body"),
                kind: str_at(system, "type"),
                wa_id: string_at(system, "wa_id"),
                new_wa_id: string_at(system, "new_wa_id"),
            })
        }
        // The sub-objects of these types are optional extras; the type alone
        // already says what happened.
        "unsupported" => Some(MessageKind::Unsupported {
            unsupported_type: payload.and_then(|u| str_at(u, "type")),
        }),
        "revoke" => Some(MessageKind::Revoke {
            original_message_id: payload.and_then(|r| string_at(r, "original_message_id")),
        }),
        "edit" => Some(MessageKind::Edit {
            original_message_id: payload.and_then(|e| string_at(e, "original_message_id")),
            new_text: payload.and_then(edited_text),
            raw: payload.cloned().unwrap_or(Value::Null),
        }),
        "request_welcome" => Some(MessageKind::RequestWelcome),
        _ => None,
    }
}

fn media(media_type: &str, media: &Value) -> Option<MessageKind> {
    media.as_object()?;
    Some(MessageKind::Media {
        media_type: media_type.to_owned(),
        id: string_at(media, "id"),
        mime_type: str_at(media, "mime_type"),
        sha256: str_at(media, "sha256"),
        caption: str_at(media, "caption"),
        filename: str_at(media, "filename"),
        voice: bool_at(media, "voice"),
        animated: bool_at(media, "animated"),
        url: str_at(media, "url"),
    })
}

fn location(location: &Value) -> Option<MessageKind> {
    Some(MessageKind::Location {
        latitude: f64_at(location, "latitude")?,
        longitude: f64_at(location, "longitude")?,
        name: str_at(location, "name"),
        address: str_at(location, "address"),
        url: str_at(location, "url"),
    })
}

fn interactive(interactive: &Value) -> Option<InteractiveReply> {
    let kind = str_at(interactive, "type")?;
    let reply = present(interactive, &kind);
    match kind.as_str() {
        "button_reply" => Some(InteractiveReply::ButtonReply {
            id: string_at(reply?, "id")?,
            title: str_at(reply?, "title")?,
        }),
        "list_reply" => Some(InteractiveReply::ListReply {
            id: string_at(reply?, "id")?,
            title: str_at(reply?, "title")?,
            description: str_at(reply?, "description"),
        }),
        "nfm_reply" => Some(InteractiveReply::NfmReply {
            name: str_at(reply?, "name"),
            body: str_at(reply?, "body"),
            response_json: str_at(reply?, "response_json")?,
        }),
        _ => Some(InteractiveReply::Other {
            kind,
            raw: interactive.clone(),
        }),
    }
}

/// The replacement text of an edit: the new message's text body, or its
/// caption when the edited message is media.
fn edited_text(edit: &Value) -> Option<String> {
    let message = present(edit, "message")?;
    let kind = str_at(message, "type").unwrap_or_else(|| "text".to_owned());
    let inner = present(message, &kind)?;
    str_at(inner, "body").or_else(|| str_at(inner, "caption"))
}

fn parse_context(context: &Value) -> Option<MessageContext> {
    context.as_object()?;
    Some(MessageContext {
        from: string_at(context, "from"),
        id: string_at(context, "id"),
        forwarded: bool_at(context, "forwarded"),
        frequently_forwarded: bool_at(context, "frequently_forwarded"),
        referred_product: present(context, "referred_product").cloned(),
    })
}

fn parse_referral(referral: &Value) -> Option<Referral> {
    referral.as_object()?;
    Some(Referral {
        source_url: str_at(referral, "source_url"),
        source_id: string_at(referral, "source_id"),
        source_type: str_at(referral, "source_type"),
        headline: str_at(referral, "headline"),
        body: str_at(referral, "body"),
        media_type: str_at(referral, "media_type"),
        ctwa_clid: str_at(referral, "ctwa_clid"),
        raw: referral.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(item: Value) -> InboundMessage {
        let contacts = [];
        let env = Envelope {
            phone_number_id: "P",
            display_phone_number: None,
            waba_id: "W",
            contacts: &contacts,
        };
        parse_message(&env, &item).unwrap()
    }

    fn base(extra: Value) -> Value {
        let mut item = json!({"id": "wamid.1", "from": "1", "timestamp": "10"});
        if let (Some(item), Some(extra)) = (item.as_object_mut(), extra.as_object()) {
            item.extend(extra.clone());
        }
        item
    }

    #[test]
    fn malformed_payloads_fall_back_to_unknown() {
        for (type_name, payload) in [
            ("text", json!({"text": {"body": 5}})),
            ("location", json!({"location": {"latitude": "north"}})),
            ("image", json!({"image": "id"})),
            ("button", json!({"button": {"payload": "p"}})),
            ("reaction", json!({"reaction": {}})),
            (
                "interactive",
                json!({"interactive": {"type": "button_reply"}}),
            ),
            ("interactive", json!({})),
            ("contacts", json!({"contacts": {}})),
            ("order", json!({"order": []})),
            ("system", json!({})),
        ] {
            let mut item = base(payload);
            item["type"] = json!(type_name);
            let message = parse(item.clone());
            assert_eq!(
                message.kind,
                MessageKind::Unknown {
                    type_name: type_name.to_owned()
                },
                "{item}"
            );
            assert_eq!(message.raw, item);
            assert_eq!(message.type_name(), type_name);
            assert_eq!(message.text(), None);
        }
    }

    #[test]
    fn optional_sub_objects_are_optional() {
        let message = parse(base(json!({"type": "revoke"})));
        assert_eq!(
            message.kind,
            MessageKind::Revoke {
                original_message_id: None
            }
        );
        let message = parse(base(json!({"type": "request_welcome"})));
        assert_eq!(message.kind, MessageKind::RequestWelcome);
        assert_eq!(message.type_name(), "request_welcome");
    }

    #[test]
    fn string_coordinates_and_empty_text_are_handled() {
        let message = parse(base(json!({"type": "location",
            "location": {"latitude": "1.5", "longitude": -2}})));
        assert!(matches!(
            message.kind,
            MessageKind::Location { latitude, longitude, .. } if latitude == 1.5 && longitude == -2.0
        ));
        assert_eq!(message.text(), None);
        let message = parse(base(json!({"type": "text", "text": {"body": ""}})));
        assert_eq!(message.text(), None);
    }

    #[test]
    fn type_name_falls_back_to_kind() {
        let mut message = parse(base(json!({"type": "text", "text": {"body": "x"}})));
        message.raw = json!({});
        assert_eq!(message.type_name(), "text");
    }

    #[test]
    fn contact_matching_prefers_user_id_then_first() {
        let contacts = [
            ContactProfile {
                wa_id: Some("1".into()),
                user_id: None,
                name: Some("first".into()),
                username: None,
            },
            ContactProfile {
                wa_id: None,
                user_id: Some("US.2".into()),
                name: Some("second".into()),
                username: None,
            },
            ContactProfile {
                wa_id: Some("3 ".into()),
                user_id: None,
                name: Some("third".into()),
                username: None,
            },
        ];
        let name = |from, user| matching_contact(&contacts, from, user).and_then(|c| c.name);
        assert_eq!(name(None, Some("US.2")).as_deref(), Some("second"));
        assert_eq!(name(Some("3"), None).as_deref(), Some("third"));
        assert_eq!(name(Some("9"), None).as_deref(), Some("first"));
        assert_eq!(matching_contact(&[], Some("1"), None), None);
    }
}
