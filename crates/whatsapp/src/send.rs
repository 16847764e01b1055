//! Typed request bodies for `POST /{Version}/{Phone-Number-ID}/messages`,
//! and the success bodies Meta answers with.
//!
//! Every body serialises to exactly the JSON Meta documents (openapi
//! `Message`, `BaseMessageProperties`, `TextMessage`, `TemplateObject`,
//! `InteractiveObject`, `ReactionMessage`, `MarkMessageRequestPayload`, and
//! the spec's named request examples, copied to
//! `tests/fixtures/meta-openapi/send_message_requests/`):
//!
//! ```json
//! {"messaging_product":"whatsapp","recipient_type":"individual",
//!  "to":"16505551234",                      // or "recipient":"US.1349…" (BSUID)
//!  "context":{"message_id":"wamid.…"},      // optional: quote a message
//!  "type":"text","text":{"body":"Hi","preview_url":false}}
//! ```
//!
//! Constructors validate what Meta would refuse (lengths, counts,
//! uniqueness, ID formats) and return a [`BuildError`] instead, so a bad
//! reply fails in our process with a readable reason rather than as a
//! Graph error `100`/`131008`/`131009` after a network round trip. Each
//! limit names its source; limits taken from the OpenAPI spec are its
//! `maxLength`/`maxItems` values.
//!
//! The types only serialise; sending is [`crate::client::CloudApiClient`].

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// Why a request body could not be built.
///
/// Returned by the validating constructors in this module. `field` names
/// the JSON field (or a dotted path such as `interactive.action.buttons`)
/// in Meta's terms, so the message can be shown to an agent as is.
/// Character counts are Unicode scalar values (`str::chars`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A required text or list is empty.
    #[error("{field} must not be empty")]
    Empty {
        /// The JSON field.
        field: &'static str,
    },
    /// A text is longer than Meta allows.
    #[error("{field} is {actual} characters long; Meta allows at most {max}")]
    TooLong {
        /// The JSON field.
        field: &'static str,
        /// Meta's limit, in characters.
        max: usize,
        /// The length given, in characters.
        actual: usize,
    },
    /// A list has more items than Meta allows.
    #[error("{field} has {actual} items; Meta allows at most {max}")]
    TooMany {
        /// The JSON field.
        field: &'static str,
        /// Meta's limit.
        max: usize,
        /// The count given.
        actual: usize,
    },
    /// Two items that Meta requires to be unique are equal.
    #[error("{field} must be unique, {value:?} appears twice")]
    Duplicate {
        /// The JSON field.
        field: &'static str,
        /// The repeated value.
        value: String,
    },
    /// A value has the wrong form or is not allowed in this position.
    #[error("{field} is invalid: {reason}")]
    Invalid {
        /// The JSON field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Fails with [`BuildError::Empty`] or [`BuildError::TooLong`] unless
/// `1 <= chars(value) <= max`.
fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), BuildError> {
    if value.is_empty() {
        return Err(BuildError::Empty { field });
    }
    let actual = value.chars().count();
    if actual > max {
        return Err(BuildError::TooLong { field, max, actual });
    }
    Ok(())
}

/// Fails unless `1 <= count <= max`.
fn check_count(field: &'static str, count: usize, max: usize) -> Result<(), BuildError> {
    if count == 0 {
        return Err(BuildError::Empty { field });
    }
    if count > max {
        return Err(BuildError::TooMany {
            field,
            max,
            actual: count,
        });
    }
    Ok(())
}

/// Fails on the first value seen twice.
fn check_unique<'a>(
    field: &'static str,
    values: impl IntoIterator<Item = &'a str>,
) -> Result<(), BuildError> {
    let mut seen = std::collections::HashSet::new();
    for value in values {
        if !seen.insert(value) {
            return Err(BuildError::Duplicate {
                field,
                value: value.to_owned(),
            });
        }
    }
    Ok(())
}

/// A message ID (wamid) we reply to, react to or mark as read: non-empty,
/// no whitespace or control characters. Meta does not document the wamid
/// format (it is opaque base64 after `wamid.`), so only what can never be
/// a valid ID is refused.
fn check_message_id(field: &'static str, id: &str) -> Result<(), BuildError> {
    if id.is_empty() {
        return Err(BuildError::Empty { field });
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BuildError::Invalid {
            field,
            reason: "a message ID has no whitespace or control characters",
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------

/// Who a message goes to: a phone number / WhatsApp ID (`"to"`) or, for
/// users who adopted a username, a business-scoped user ID (`"recipient"`).
///
/// Serialised as one key of the message object: `"to": "16505551234"` or
/// `"recipient": "US.13491208655302741918"` (BSUID sending,
/// `david-lev/pywa:pywa/api.py` `send_message`; Meta business-scoped user
/// IDs page, notes §2.3). Some message types refuse a BSUID with error
/// `131062`; the caller then falls back to a phone number if it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Recipient(RecipientKey);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
enum RecipientKey {
    #[serde(rename = "to")]
    Phone(String),
    #[serde(rename = "recipient")]
    UserId(String),
}

impl Recipient {
    /// A phone number or `wa_id`, e.g. `16505551234` or `+1 650-555-1234`.
    ///
    /// Meta takes the number as given and reports its normalised form in
    /// the response's `contacts[].wa_id` (openapi `ContactResponse`; the
    /// spec's response example echoes `"input": "+1-631-555-5555"`), so
    /// `+`, spaces, `-`, `.` and parentheses are kept. The number must have
    /// 1–15 digits (E.164's maximum) and `+` only in front.
    ///
    /// # Errors
    /// [`BuildError::Empty`] or [`BuildError::Invalid`] for `to`.
    pub fn phone(number: impl Into<String>) -> Result<Self, BuildError> {
        let number = number.into();
        let field = "to";
        if number.trim().is_empty() {
            return Err(BuildError::Empty { field });
        }
        let body = number.strip_prefix('+').unwrap_or(&number);
        if !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        {
            return Err(BuildError::Invalid {
                field,
                reason: "a phone number has only digits, an optional leading +, and spaces, dashes, dots or parentheses",
            });
        }
        let digits = body.chars().filter(char::is_ascii_digit).count();
        if digits == 0 || digits > 15 {
            return Err(BuildError::Invalid {
                field,
                reason: "a phone number has 1 to 15 digits (E.164)",
            });
        }
        Ok(Self(RecipientKey::Phone(number)))
    }

    /// A business-scoped user ID (BSUID) such as `US.13491208655302741918`
    /// or a parent ID `US.ENT.…`: two uppercase ASCII letters (a country
    /// code), a dot, then ASCII letters, digits and dots (Meta
    /// business-scoped user IDs page, notes §2.3).
    ///
    /// # Errors
    /// [`BuildError::Empty`] or [`BuildError::Invalid`] for `recipient`.
    pub fn user_id(bsuid: impl Into<String>) -> Result<Self, BuildError> {
        let bsuid = bsuid.into();
        let field = "recipient";
        if bsuid.is_empty() {
            return Err(BuildError::Empty { field });
        }
        let valid = match bsuid.split_once('.') {
            Some((country, rest)) => {
                country.len() == 2
                    && country.bytes().all(|b| b.is_ascii_uppercase())
                    && !rest.is_empty()
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
            }
            None => false,
        };
        if !valid {
            return Err(BuildError::Invalid {
                field,
                reason: "a BSUID is a two-letter country code, a dot, then letters, digits and dots",
            });
        }
        Ok(Self(RecipientKey::UserId(bsuid)))
    }

    /// The phone number or BSUID as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            RecipientKey::Phone(s) | RecipientKey::UserId(s) => s,
        }
    }

    /// `true` for a BSUID (`"recipient"`), `false` for a phone number.
    #[must_use]
    pub fn is_user_id(&self) -> bool {
        matches!(self.0, RecipientKey::UserId(_))
    }
}

/// `context`: the message this one replies to, shown as a quoted bubble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ReplyContext {
    message_id: String,
}

/// The typed part of a message: `"type"` plus the object of that name.
///
/// Serialises as two keys, e.g. `"type": "text", "text": {…}`, which
/// [`OutboundMessage`] flattens into the message object (openapi `Message`
/// discriminator `type`).
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// `"type": "text"` with a [`Text`] object.
    Text(Text),
    /// `"type": "template"` with a [`TemplateMessage`] object.
    Template(TemplateMessage),
    /// `"type": "interactive"` with an [`Interactive`] object.
    Interactive(Interactive),
    /// `"type": "reaction"` with a [`Reaction`] object.
    Reaction(Reaction),
}

impl Content {
    /// Meta's `type` value: `text`, `template`, `interactive` or `reaction`.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Template(_) => "template",
            Self::Interactive(_) => "interactive",
            Self::Reaction(_) => "reaction",
        }
    }
}

impl Serialize for Content {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        let name = self.type_name();
        map.serialize_entry("type", name)?;
        match self {
            Self::Text(v) => map.serialize_entry(name, v)?,
            Self::Template(v) => map.serialize_entry(name, v)?,
            Self::Interactive(v) => map.serialize_entry(name, v)?,
            Self::Reaction(v) => map.serialize_entry(name, v)?,
        }
        map.end()
    }
}

impl From<Text> for Content {
    fn from(value: Text) -> Self {
        Self::Text(value)
    }
}

impl From<TemplateMessage> for Content {
    fn from(value: TemplateMessage) -> Self {
        Self::Template(value)
    }
}

impl From<Interactive> for Content {
    fn from(value: Interactive) -> Self {
        Self::Interactive(value)
    }
}

impl From<Reaction> for Content {
    fn from(value: Reaction) -> Self {
        Self::Reaction(value)
    }
}

/// A complete body for `POST /{Version}/{Phone-Number-ID}/messages`.
///
/// Shape (openapi `BaseMessageProperties` + one `Message` variant):
/// `{"messaging_product":"whatsapp","recipient_type":"individual",
/// "to"|"recipient", "context"?:{"message_id"}, "biz_opaque_callback_data"?,
/// "type", <type>:{…}}`. `messaging_product`, `recipient_type` and `type`
/// are always written: the spec marks them required, though six of Meta's
/// 49 message examples leave out `recipient_type` and two leave out `type`
/// (relying on defaults; for "Send Reply to List Message", an interactive
/// message, a missing `type` cannot be right). Group messaging
/// (`recipient_type: "group"`) is not supported here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboundMessage {
    messaging_product: &'static str,
    recipient_type: &'static str,
    #[serde(flatten)]
    recipient: Recipient,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<ReplyContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<String>,
    #[serde(flatten)]
    content: Content,
}

/// Meta's limit on `biz_opaque_callback_data`, in characters (Meta
/// send-messages reference; not re-verified in the project notes).
pub const MAX_CALLBACK_DATA_CHARS: usize = 512;

impl OutboundMessage {
    /// A message of any supported type to `to`.
    pub fn new(to: Recipient, content: impl Into<Content>) -> Self {
        Self {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            recipient: to,
            context: None,
            biz_opaque_callback_data: None,
            content: content.into(),
        }
    }

    /// A plain text message with `preview_url: false`; shorthand for
    /// `OutboundMessage::new(to, Text::new(body)?)`.
    ///
    /// # Errors
    /// As [`Text::new`].
    pub fn text(to: Recipient, body: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self::new(to, Text::new(body)?))
    }

    /// Quotes the message `message_id` (a wamid): adds
    /// `"context": {"message_id": …}` (openapi `MessageContext`; example
    /// "Send Reply to Text Message").
    ///
    /// # Errors
    /// [`BuildError::Invalid`] for a reaction, which names its target in
    /// `reaction.message_id` instead (openapi `ReactionMessage` has no
    /// context), or for a malformed ID; [`BuildError::Empty`] for `""`.
    pub fn in_reply_to(mut self, message_id: impl Into<String>) -> Result<Self, BuildError> {
        let message_id = message_id.into();
        check_message_id("context.message_id", &message_id)?;
        if matches!(self.content, Content::Reaction(_)) {
            return Err(BuildError::Invalid {
                field: "context",
                reason: "a reaction names its message in reaction.message_id, not context",
            });
        }
        self.context = Some(ReplyContext { message_id });
        Ok(self)
    }

    /// Sets `biz_opaque_callback_data`, an arbitrary string Meta echoes back
    /// in this message's status webhooks (notes §4), e.g. our outbox row ID.
    ///
    /// # Errors
    /// [`BuildError::Empty`], or [`BuildError::TooLong`] over
    /// [`MAX_CALLBACK_DATA_CHARS`].
    pub fn with_callback_data(mut self, data: impl Into<String>) -> Result<Self, BuildError> {
        let data = data.into();
        check_text("biz_opaque_callback_data", &data, MAX_CALLBACK_DATA_CHARS)?;
        self.biz_opaque_callback_data = Some(data);
        Ok(self)
    }

    /// The recipient.
    #[must_use]
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    /// The typed content.
    #[must_use]
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// The quoted message ID, if this is a reply.
    #[must_use]
    pub fn reply_to(&self) -> Option<&str> {
        self.context.as_ref().map(|c| c.message_id.as_str())
    }
}

// ---------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------

/// Meta's limit on a text message body, in characters. Stated by
/// third-party references (posthog WhatsApp destination docs, dualhook best
/// practices; notes §4), not by the OpenAPI spec.
pub const MAX_TEXT_BODY_CHARS: usize = 4096;

/// `"text": {"body": …, "preview_url": …}` (openapi `TextMessage`).
///
/// Free-form text is only deliverable inside the 24 h customer service
/// window; outside it Meta answers `131047` (notes §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    body: String,
    preview_url: bool,
}

impl Text {
    /// A text body with `preview_url: false`. `preview_url` is always
    /// written, as in Meta's "Send Text Message" example.
    ///
    /// # Errors
    /// [`BuildError::Empty`], or [`BuildError::TooLong`] over
    /// [`MAX_TEXT_BODY_CHARS`].
    pub fn new(body: impl Into<String>) -> Result<Self, BuildError> {
        let body = body.into();
        check_text("text.body", &body, MAX_TEXT_BODY_CHARS)?;
        Ok(Self {
            body,
            preview_url: false,
        })
    }

    /// Sets `preview_url`: when `true`, WhatsApp renders a preview of the
    /// first URL in the body (example "Send Text Message with Preview URL").
    #[must_use]
    pub fn with_preview_url(mut self, preview_url: bool) -> Self {
        self.preview_url = preview_url;
        self
    }

    /// The body text.
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }
}

// ---------------------------------------------------------------------------
// Media
// ---------------------------------------------------------------------------

/// A media object: `{"id": …}` (an uploaded media ID) or `{"link": …}` (an
/// HTTP/HTTPS URL Meta fetches) (openapi `MediaObject`: "Either `id` or
/// `link` is required"; links are "HTTP/HTTPS only"). Captions are not
/// offered because template and interactive-header media do not support
/// them (openapi `ImageParameter`, `DocumentParameter`, `VideoParameter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media(MediaSource);

#[derive(Debug, Clone, PartialEq, Eq)]
enum MediaSource {
    Id(String),
    Link(String),
}

impl Serialize for Media {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match &self.0 {
            MediaSource::Id(id) => map.serialize_entry("id", id)?,
            MediaSource::Link(link) => map.serialize_entry("link", link)?,
        }
        map.end()
    }
}

impl Media {
    /// A media ID from an earlier upload.
    ///
    /// # Errors
    /// [`BuildError::Empty`] or, for whitespace inside, [`BuildError::Invalid`].
    pub fn id(id: impl Into<String>) -> Result<Self, BuildError> {
        let id = id.into();
        if id.is_empty() {
            return Err(BuildError::Empty { field: "media.id" });
        }
        if id.chars().any(char::is_whitespace) {
            return Err(BuildError::Invalid {
                field: "media.id",
                reason: "a media ID has no whitespace",
            });
        }
        Ok(Self(MediaSource::Id(id)))
    }

    /// A URL Meta downloads the media from.
    ///
    /// # Errors
    /// [`BuildError::Invalid`] unless it starts with `http://` or
    /// `https://` and has no whitespace (openapi `MediaObject.link`:
    /// "HTTP/HTTPS only").
    pub fn link(url: impl Into<String>) -> Result<Self, BuildError> {
        let link = url.into();
        let lower = link.to_ascii_lowercase();
        let has_host = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .is_some_and(|rest| !rest.is_empty());
        if !has_host || link.chars().any(char::is_whitespace) {
            return Err(BuildError::Invalid {
                field: "media.link",
                reason: "a media link is an http:// or https:// URL without spaces",
            });
        }
        Ok(Self(MediaSource::Link(link)))
    }
}

// ---------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------

/// Meta's limit on a template name, in characters (Meta message-templates
/// reference: names are at most 512 characters of lowercase letters, digits
/// and underscores).
pub const MAX_TEMPLATE_NAME_CHARS: usize = 512;

/// Meta's limit on one text parameter (openapi `TextParameter.text`
/// `maxLength: 32768`).
pub const MAX_TEMPLATE_TEXT_PARAM_CHARS: usize = 32_768;

/// `"template": {"name", "language": {"code"}, "components"?: […]}`
/// (openapi `TemplateObject`, `LanguageObject`, `TemplateComponent`).
///
/// Templates are the only messages deliverable outside the 24 h customer
/// service window (notes §5.1) and must be `APPROVED` (notes §5.8).
/// Components are kept in Meta's example order: header, body, then buttons
/// by index; `components` is left out when there are none (example "Send
/// Test Message", `hello_world`). `language.policy` is not written: the
/// spec marks it required, but every example except one omits it and Meta
/// accepts `deterministic` as the only value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateMessage {
    name: String,
    language: Language,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Language {
    code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Component {
    Header {
        parameters: Vec<Parameter>,
    },
    Body {
        parameters: Vec<Parameter>,
    },
    Button {
        sub_type: ButtonSubType,
        /// A decimal string, as in the spec (`index: '0'`).
        index: String,
        parameters: Vec<ButtonParameter>,
    },
}

impl Component {
    /// Sort key giving Meta's example order: header, body, buttons by index.
    fn rank(&self) -> (u8, u8) {
        match self {
            Self::Header { .. } => (0, 0),
            Self::Body { .. } => (1, 0),
            Self::Button { index, .. } => (2, index.parse().unwrap_or(u8::MAX)),
        }
    }
}

/// `sub_type` of a template button component (openapi `ButtonComponent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum ButtonSubType {
    QuickReply,
    Url,
}

/// One button parameter: `payload` for quick replies, `text` (the URL
/// suffix) for URL buttons (openapi `ButtonParameterObject`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ButtonParameter {
    Payload { payload: String },
    Text { text: String },
}

/// Highest template button index; templates hold at most ten buttons
/// (openapi `TemplateComponent.index`: "Position index of the button (0-9)").
pub const MAX_TEMPLATE_BUTTON_INDEX: u8 = 9;

impl TemplateMessage {
    /// A template by name and language, with no parameters yet.
    ///
    /// - `name`: the template's name as approved, e.g. `order_update`:
    ///   1–512 lowercase ASCII letters, digits and underscores (Meta
    ///   message-templates reference).
    /// - `language_code`: the template language, e.g. `en` or `en_US`
    ///   (openapi `LanguageObject.code`): 2–15 ASCII letters and
    ///   underscores.
    ///
    /// # Errors
    /// [`BuildError`] for `template.name` or `template.language.code`.
    pub fn new(
        name: impl Into<String>,
        language_code: impl Into<String>,
    ) -> Result<Self, BuildError> {
        let name = name.into();
        check_text("template.name", &name, MAX_TEMPLATE_NAME_CHARS)?;
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(BuildError::Invalid {
                field: "template.name",
                reason: "a template name has only lowercase letters, digits and underscores",
            });
        }
        let code = language_code.into();
        if !(2..=15).contains(&code.len())
            || !code.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            return Err(BuildError::Invalid {
                field: "template.language.code",
                reason: "a language code is like en or en_US",
            });
        }
        Ok(Self {
            name,
            language: Language { code },
            components: Vec::new(),
        })
    }

    fn push(mut self, component: Component) -> Self {
        self.components.push(component);
        self.components.sort_by_key(Component::rank);
        self
    }

    /// Adds the `header` component with its single parameter: text, or an
    /// image, document or video (openapi `HeaderComponent`: "which can be
    /// `image`, `video`, `document`, or `text`"; a template header has one
    /// variable).
    ///
    /// # Errors
    /// [`BuildError::Invalid`] for a second header or a currency/date-time
    /// parameter.
    pub fn with_header(self, parameter: Parameter) -> Result<Self, BuildError> {
        let field = "template.components.header";
        if self
            .components
            .iter()
            .any(|c| matches!(c, Component::Header { .. }))
        {
            return Err(BuildError::Invalid {
                field,
                reason: "a template has one header",
            });
        }
        if matches!(
            parameter.value,
            ParameterValue::Currency { .. } | ParameterValue::DateTime { .. }
        ) {
            return Err(BuildError::Invalid {
                field,
                reason: "header parameters are text, image, document or video",
            });
        }
        Ok(self.push(Component::Header {
            parameters: vec![parameter],
        }))
    }

    /// Adds the `body` component: its text, currency and date-time
    /// parameters in the order of the template's `{{1}}`, `{{2}}`, … — or,
    /// for a template with named parameters, each carrying its
    /// `parameter_name` (openapi `BodyComponent`; named parameters per
    /// `david-lev/pywa:pywa/types/named_parameter.py`, citing Meta's
    /// message-templates reference).
    ///
    /// # Errors
    /// [`BuildError::Empty`] for no parameters; [`BuildError::Invalid`] for
    /// a second body, a media parameter, or a mix of named and positional
    /// parameters (a template uses one `parameter_format`).
    pub fn with_body(self, parameters: Vec<Parameter>) -> Result<Self, BuildError> {
        let field = "template.components.body";
        if parameters.is_empty() {
            return Err(BuildError::Empty { field });
        }
        if self
            .components
            .iter()
            .any(|c| matches!(c, Component::Body { .. }))
        {
            return Err(BuildError::Invalid {
                field,
                reason: "a template has one body",
            });
        }
        if parameters.iter().any(|p| p.value.is_media()) {
            return Err(BuildError::Invalid {
                field,
                reason: "body parameters are text, currency or date_time",
            });
        }
        let named = parameters
            .iter()
            .filter(|p| p.parameter_name.is_some())
            .count();
        if named != 0 && named != parameters.len() {
            return Err(BuildError::Invalid {
                field,
                reason: "either every body parameter has a parameter_name or none does",
            });
        }
        check_unique(
            "template.components.body.parameter_name",
            parameters
                .iter()
                .filter_map(|p| p.parameter_name.as_deref()),
        )?;
        Ok(self.push(Component::Body { parameters }))
    }

    fn with_button(
        self,
        sub_type: ButtonSubType,
        index: u8,
        parameter: ButtonParameter,
    ) -> Result<Self, BuildError> {
        let field = "template.components.button.index";
        if index > MAX_TEMPLATE_BUTTON_INDEX {
            return Err(BuildError::Invalid {
                field,
                reason: "a template button index is 0 to 9",
            });
        }
        let index = index.to_string();
        if self
            .components
            .iter()
            .any(|c| matches!(c, Component::Button { index: i, .. } if *i == index))
        {
            return Err(BuildError::Duplicate {
                field,
                value: index,
            });
        }
        Ok(self.push(Component::Button {
            sub_type,
            index,
            parameters: vec![parameter],
        }))
    }

    /// Sets the payload of the quick-reply button at `index` (0-based
    /// position in the template): `{"type":"button","sub_type":"quick_reply",
    /// "index":"0","parameters":[{"type":"payload","payload":…}]}` (example
    /// "Send Message Template Interactive"). The payload comes back in the
    /// user's `button` message when tapped.
    ///
    /// # Errors
    /// [`BuildError::Empty`] payload; [`BuildError::Invalid`] index over 9;
    /// [`BuildError::Duplicate`] index.
    pub fn with_quick_reply(
        self,
        index: u8,
        payload: impl Into<String>,
    ) -> Result<Self, BuildError> {
        let payload = payload.into();
        if payload.is_empty() {
            return Err(BuildError::Empty {
                field: "template.components.button.parameters.payload",
            });
        }
        self.with_button(
            ButtonSubType::QuickReply,
            index,
            ButtonParameter::Payload { payload },
        )
    }

    /// Sets the dynamic suffix of the URL button at `index`:
    /// `{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":…}]}`.
    /// The text replaces `{{1}}` at the end of the template's URL (openapi
    /// `ButtonTextParameter`: "suffix that is appended to the predefined
    /// prefix URL").
    ///
    /// # Errors
    /// As [`TemplateMessage::with_quick_reply`].
    pub fn with_url_button(
        self,
        index: u8,
        url_suffix: impl Into<String>,
    ) -> Result<Self, BuildError> {
        let text = url_suffix.into();
        if text.is_empty() {
            return Err(BuildError::Empty {
                field: "template.components.button.parameters.text",
            });
        }
        self.with_button(ButtonSubType::Url, index, ButtonParameter::Text { text })
    }

    /// The template name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The language code.
    #[must_use]
    pub fn language_code(&self) -> &str {
        &self.language.code
    }
}

/// One header or body parameter of a template (openapi `ParameterObject`):
/// `{"type":"text","text"}`, `{"type":"currency","currency":{…}}`,
/// `{"type":"date_time","date_time":{…}}`, or `{"type":"image"|"document"|
/// "video", <type>: {"id"|"link"}}`, plus `"parameter_name"` for templates
/// with named parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    #[serde(flatten)]
    value: ParameterValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ParameterValue {
    Text { text: String },
    Currency { currency: Currency },
    DateTime { date_time: DateTimeValue },
    Image { image: Media },
    Document { document: Media },
    Video { video: Media },
}

impl ParameterValue {
    fn is_media(&self) -> bool {
        matches!(
            self,
            Self::Image { .. } | Self::Document { .. } | Self::Video { .. }
        )
    }
}

/// `currency` object (openapi `CurrencyObject`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Currency {
    fallback_value: String,
    code: String,
    amount_1000: i64,
}

/// `date_time` object (openapi `DateTimeObject`). Cloud API always renders
/// `fallback_value`; the component fields are optional and written only
/// when given, as Meta's "Send Message Template Text" example does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct DateTimeValue {
    fallback_value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    calendar: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    year: Option<i16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    month: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_of_month: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_of_week: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hour: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minute: Option<i8>,
}

impl Parameter {
    fn new(value: ParameterValue) -> Self {
        Self {
            value,
            parameter_name: None,
        }
    }

    /// A text parameter.
    ///
    /// # Errors
    /// [`BuildError::Empty`] (an empty variable is never intended and Meta
    /// reports it as a missing parameter), or [`BuildError::TooLong`] over
    /// [`MAX_TEMPLATE_TEXT_PARAM_CHARS`].
    pub fn text(text: impl Into<String>) -> Result<Self, BuildError> {
        let text = text.into();
        check_text("parameters.text", &text, MAX_TEMPLATE_TEXT_PARAM_CHARS)?;
        Ok(Self::new(ParameterValue::Text { text }))
    }

    /// A currency parameter: `fallback_value` is shown as is (e.g.
    /// `$100.99`), `code` is the ISO 4217 code (e.g. `USD`) and
    /// `amount_1000` is the amount times 1000 (100990 for 100.99)
    /// (openapi `CurrencyObject`).
    ///
    /// # Errors
    /// [`BuildError::Empty`] fallback; [`BuildError::Invalid`] code not
    /// three uppercase ASCII letters.
    pub fn currency(
        fallback_value: impl Into<String>,
        code: impl Into<String>,
        amount_1000: i64,
    ) -> Result<Self, BuildError> {
        let fallback_value = fallback_value.into();
        let code = code.into();
        if fallback_value.is_empty() {
            return Err(BuildError::Empty {
                field: "currency.fallback_value",
            });
        }
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(BuildError::Invalid {
                field: "currency.code",
                reason: "an ISO 4217 code is three uppercase letters",
            });
        }
        Ok(Self::new(ParameterValue::Currency {
            currency: Currency {
                fallback_value,
                code,
                amount_1000,
            },
        }))
    }

    /// A date-time parameter with only `fallback_value`, the text Cloud API
    /// always displays (openapi `DateTimeObject`: "For Cloud API, this
    /// fallback value is always used").
    ///
    /// # Errors
    /// [`BuildError::Empty`] fallback.
    pub fn date_time(fallback_value: impl Into<String>) -> Result<Self, BuildError> {
        let fallback_value = fallback_value.into();
        if fallback_value.is_empty() {
            return Err(BuildError::Empty {
                field: "date_time.fallback_value",
            });
        }
        Ok(Self::new(ParameterValue::DateTime {
            date_time: DateTimeValue {
                fallback_value,
                calendar: None,
                year: None,
                month: None,
                day_of_month: None,
                day_of_week: None,
                hour: None,
                minute: None,
            },
        }))
    }

    /// A date-time parameter that also carries the components of `at`, as
    /// in Meta's "Send Message Template Text" example: `calendar:
    /// "GREGORIAN"`, `year`, `month` (1–12), `day_of_month`, `day_of_week`
    /// (1 = Monday … 7 = Sunday; the example has 5 for Friday 25 Feb 1977),
    /// `hour` (0–23) and `minute`. `at` is a civil (wall-clock) time: the
    /// recipient sees exactly these numbers.
    ///
    /// # Errors
    /// As [`Parameter::date_time`].
    pub fn date_time_at(
        fallback_value: impl Into<String>,
        at: jiff::civil::DateTime,
    ) -> Result<Self, BuildError> {
        let mut parameter = Self::date_time(fallback_value)?;
        if let ParameterValue::DateTime { date_time } = &mut parameter.value {
            date_time.calendar = Some("GREGORIAN");
            date_time.year = Some(at.year());
            date_time.month = Some(at.month());
            date_time.day_of_month = Some(at.day());
            date_time.day_of_week = Some(at.weekday().to_monday_one_offset());
            date_time.hour = Some(at.hour());
            date_time.minute = Some(at.minute());
        }
        Ok(parameter)
    }

    /// An image parameter (header only).
    #[must_use]
    pub fn image(media: Media) -> Self {
        Self::new(ParameterValue::Image { image: media })
    }

    /// A document parameter (header only; Meta supports PDF here, openapi
    /// `DocumentParameter`).
    #[must_use]
    pub fn document(media: Media) -> Self {
        Self::new(ParameterValue::Document { document: media })
    }

    /// A video parameter (header only).
    #[must_use]
    pub fn video(media: Media) -> Self {
        Self::new(ParameterValue::Video { video: media })
    }

    /// Names this parameter for a template created with named parameters
    /// (`{{first_name}}`): adds `"parameter_name": name`. Names are
    /// lowercase letters, digits and underscores, starting with a letter or
    /// underscore (`david-lev/pywa:pywa/types/named_parameter.py`, citing
    /// Meta's message-templates reference).
    ///
    /// # Errors
    /// [`BuildError::Invalid`] for a media parameter (they fill media
    /// headers, which have no name) or a malformed name.
    pub fn named(mut self, name: impl Into<String>) -> Result<Self, BuildError> {
        let name = name.into();
        let field = "parameters.parameter_name";
        if self.value.is_media() {
            return Err(BuildError::Invalid {
                field,
                reason: "media parameters are not named",
            });
        }
        if !is_named_placeholder(&name) {
            return Err(BuildError::Invalid {
                field,
                reason: "a parameter name is lowercase letters, digits and underscores, not starting with a digit",
            });
        }
        self.parameter_name = Some(name);
        Ok(self)
    }
}

/// `true` for a named template variable: `[a-z_][a-z0-9_]*`.
pub(crate) fn is_named_placeholder(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

// ---------------------------------------------------------------------------
// Interactive
// ---------------------------------------------------------------------------

/// Interactive limits, from the OpenAPI spec (`InteractiveObject`,
/// `HeaderObject`, `BodyObject`, `FooterObject`, `ActionObject`,
/// `SectionObject`) unless noted. The project notes (§4, §8) flag these as
/// not re-verified against Meta's interactive-message pages.
pub mod limits {
    /// `body.text` `maxLength`.
    pub const BODY_CHARS: usize = 1024;
    /// `footer.text` `maxLength`.
    pub const FOOTER_CHARS: usize = 60;
    /// `header.text` `maxLength`.
    pub const HEADER_TEXT_CHARS: usize = 60;
    /// `action.buttons` `maxItems` (reply buttons).
    pub const REPLY_BUTTONS: usize = 3;
    /// `action.buttons[].reply.title` `maxLength`.
    pub const REPLY_BUTTON_TITLE_CHARS: usize = 20;
    /// `action.buttons[].reply.id` `maxLength`.
    pub const REPLY_BUTTON_ID_CHARS: usize = 256;
    /// `action.button` (the list's menu button label) `maxLength`.
    pub const LIST_BUTTON_CHARS: usize = 20;
    /// `action.sections` `maxItems`.
    pub const LIST_SECTIONS: usize = 10;
    /// Rows across all sections of one list. The spec gives `maxItems: 10`
    /// per section; Meta's list-message page caps the total at 10, the
    /// stricter rule, so that is what is enforced.
    pub const LIST_ROWS_TOTAL: usize = 10;
    /// `sections[].title` `maxLength`.
    pub const SECTION_TITLE_CHARS: usize = 24;
    /// `rows[].title` `maxLength`.
    pub const ROW_TITLE_CHARS: usize = 24;
    /// `rows[].id` `maxLength`.
    pub const ROW_ID_CHARS: usize = 200;
    /// `rows[].description` `maxLength`.
    pub const ROW_DESCRIPTION_CHARS: usize = 72;
}

/// `"interactive": {"type": "button"|"list", "header"?, "body", "footer"?,
/// "action"}` (openapi `InteractiveObject`; examples "Send Reply Button",
/// "Send List Message").
///
/// Interactive messages are free-form: only inside the 24 h window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interactive {
    #[serde(rename = "type")]
    kind: InteractiveKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<InteractiveHeader>,
    body: TextObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    footer: Option<TextObject>,
    action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum InteractiveKind {
    Button,
    List,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct TextObject {
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
enum Action {
    Buttons {
        buttons: Vec<ReplyButtonWire>,
    },
    List {
        button: String,
        sections: Vec<ListSection>,
    },
}

/// `{"type":"reply","reply":{"id","title"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ReplyButtonWire {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: ReplyButton,
}

/// One reply button: `id` comes back in the user's `button_reply`, `title`
/// is what they see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyButton {
    id: String,
    title: String,
}

impl ReplyButton {
    /// A reply button.
    ///
    /// - `id`: 1–256 characters, no leading or trailing spaces (openapi
    ///   "Unique identifier for your button. No leading/trailing spaces").
    /// - `title`: 1–20 characters (openapi `reply.title` `maxLength: 20`).
    ///
    /// # Errors
    /// [`BuildError`] for `reply.id` or `reply.title`.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Result<Self, BuildError> {
        let id = id.into();
        let title = title.into();
        check_text(
            "action.buttons.reply.id",
            &id,
            limits::REPLY_BUTTON_ID_CHARS,
        )?;
        if id.trim() != id {
            return Err(BuildError::Invalid {
                field: "action.buttons.reply.id",
                reason: "no leading or trailing spaces",
            });
        }
        check_text(
            "action.buttons.reply.title",
            &title,
            limits::REPLY_BUTTON_TITLE_CHARS,
        )?;
        Ok(Self { id, title })
    }
}

/// One section of a list message: an optional title and its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    rows: Vec<ListRow>,
}

impl ListSection {
    /// A section. `title` is required by Meta when the list has more than
    /// one section (checked by [`Interactive::list`]); 1–24 characters.
    ///
    /// # Errors
    /// [`BuildError`] for `sections.title`, or [`BuildError::Empty`] for no
    /// rows.
    pub fn new(title: Option<String>, rows: Vec<ListRow>) -> Result<Self, BuildError> {
        if let Some(title) = &title {
            check_text("action.sections.title", title, limits::SECTION_TITLE_CHARS)?;
        }
        if rows.is_empty() {
            return Err(BuildError::Empty {
                field: "action.sections.rows",
            });
        }
        Ok(Self { title, rows })
    }
}

/// One selectable row: `id` comes back in the user's `list_reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

impl ListRow {
    /// A row with `id` (1–200 characters) and `title` (1–24 characters)
    /// (openapi `SectionObject.rows`).
    ///
    /// # Errors
    /// [`BuildError`] for `rows.id` or `rows.title`.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Result<Self, BuildError> {
        let id = id.into();
        let title = title.into();
        check_text("action.sections.rows.id", &id, limits::ROW_ID_CHARS)?;
        check_text(
            "action.sections.rows.title",
            &title,
            limits::ROW_TITLE_CHARS,
        )?;
        Ok(Self {
            id,
            title,
            description: None,
        })
    }

    /// Adds a description (1–72 characters).
    ///
    /// # Errors
    /// [`BuildError`] for `rows.description`.
    pub fn with_description(mut self, description: impl Into<String>) -> Result<Self, BuildError> {
        let description = description.into();
        check_text(
            "action.sections.rows.description",
            &description,
            limits::ROW_DESCRIPTION_CHARS,
        )?;
        self.description = Some(description);
        Ok(self)
    }
}

/// The optional header of an interactive message (openapi `HeaderObject`):
/// `{"type":"text","text"}` or `{"type":"image"|"video"|"document",
/// <type>: {"id"|"link"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InteractiveHeader {
    /// A text header, 1–60 characters; build with
    /// [`InteractiveHeader::text`].
    Text {
        /// The header text.
        text: String,
    },
    /// An image header.
    Image {
        /// The image.
        image: Media,
    },
    /// A video header.
    Video {
        /// The video.
        video: Media,
    },
    /// A document header.
    Document {
        /// The document.
        document: Media,
    },
}

impl InteractiveHeader {
    /// A text header (openapi `HeaderObject.text` `maxLength: 60`).
    ///
    /// # Errors
    /// [`BuildError`] for `header.text`.
    pub fn text(text: impl Into<String>) -> Result<Self, BuildError> {
        let text = text.into();
        check_text("interactive.header.text", &text, limits::HEADER_TEXT_CHARS)?;
        Ok(Self::Text { text })
    }

    fn check(&self) -> Result<(), BuildError> {
        match self {
            Self::Text { text } => {
                check_text("interactive.header.text", text, limits::HEADER_TEXT_CHARS)
            }
            _ => Ok(()),
        }
    }
}

impl Interactive {
    /// A reply-buttons message: `body` (1–1024 characters) and 1–3
    /// buttons with unique IDs and unique titles (openapi `ActionObject`
    /// `buttons` `maxItems: 3`; titles "must be unique").
    ///
    /// # Errors
    /// [`BuildError`] for `interactive.body.text` or
    /// `interactive.action.buttons`.
    pub fn buttons(body: impl Into<String>, buttons: Vec<ReplyButton>) -> Result<Self, BuildError> {
        let body = body.into();
        check_text("interactive.body.text", &body, limits::BODY_CHARS)?;
        check_count(
            "interactive.action.buttons",
            buttons.len(),
            limits::REPLY_BUTTONS,
        )?;
        check_unique(
            "interactive.action.buttons.reply.id",
            buttons.iter().map(|b| b.id.as_str()),
        )?;
        check_unique(
            "interactive.action.buttons.reply.title",
            buttons.iter().map(|b| b.title.as_str()),
        )?;
        Ok(Self {
            kind: InteractiveKind::Button,
            header: None,
            body: TextObject { text: body },
            footer: None,
            action: Action::Buttons {
                buttons: buttons
                    .into_iter()
                    .map(|reply| ReplyButtonWire {
                        kind: "reply",
                        reply,
                    })
                    .collect(),
            },
        })
    }

    /// A list message: `body` (1–1024 characters), the label of the button
    /// that opens the list (1–20 characters), and 1–10 sections holding at
    /// most 10 rows in total, with unique row IDs; every section needs a
    /// title when there is more than one (openapi `ActionObject`,
    /// `SectionObject`: "Required if the message has more than one
    /// section"; row total per Meta's list-message page, see
    /// [`limits::LIST_ROWS_TOTAL`]).
    ///
    /// # Errors
    /// [`BuildError`] naming the offending field.
    pub fn list(
        body: impl Into<String>,
        button: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Result<Self, BuildError> {
        let body = body.into();
        let button = button.into();
        check_text("interactive.body.text", &body, limits::BODY_CHARS)?;
        check_text(
            "interactive.action.button",
            &button,
            limits::LIST_BUTTON_CHARS,
        )?;
        check_count(
            "interactive.action.sections",
            sections.len(),
            limits::LIST_SECTIONS,
        )?;
        let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
        check_count(
            "interactive.action.sections.rows",
            rows,
            limits::LIST_ROWS_TOTAL,
        )?;
        if sections.len() > 1 && sections.iter().any(|s| s.title.is_none()) {
            return Err(BuildError::Invalid {
                field: "interactive.action.sections.title",
                reason: "every section needs a title when there is more than one",
            });
        }
        check_unique(
            "interactive.action.sections.rows.id",
            sections
                .iter()
                .flat_map(|s| s.rows.iter().map(|r| r.id.as_str())),
        )?;
        Ok(Self {
            kind: InteractiveKind::List,
            header: None,
            body: TextObject { text: body },
            footer: None,
            action: Action::List { button, sections },
        })
    }

    /// Adds a header.
    ///
    /// # Errors
    /// [`BuildError::Invalid`] for a media header on a list message (Meta's
    /// list-message page allows only a text header there; not re-verified
    /// in the notes), or an over-long text header.
    pub fn with_header(mut self, header: InteractiveHeader) -> Result<Self, BuildError> {
        header.check()?;
        if self.kind == InteractiveKind::List && !matches!(header, InteractiveHeader::Text { .. }) {
            return Err(BuildError::Invalid {
                field: "interactive.header.type",
                reason: "a list message header is text only",
            });
        }
        self.header = Some(header);
        Ok(self)
    }

    /// Adds a footer, 1–60 characters (openapi `FooterObject`).
    ///
    /// # Errors
    /// [`BuildError`] for `interactive.footer.text`.
    pub fn with_footer(mut self, text: impl Into<String>) -> Result<Self, BuildError> {
        let text = text.into();
        check_text("interactive.footer.text", &text, limits::FOOTER_CHARS)?;
        self.footer = Some(TextObject { text });
        Ok(self)
    }
}

// ---------------------------------------------------------------------------
// Reaction
// ---------------------------------------------------------------------------

/// `"reaction": {"message_id", "emoji"}` (openapi `ReactionMessage`;
/// example "Send Reply with Reaction Message").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaction {
    message_id: String,
    emoji: String,
}

impl Reaction {
    /// Reacts to `message_id` with `emoji` (e.g. `"😀"`).
    ///
    /// # Errors
    /// [`BuildError`] for a malformed message ID; [`BuildError::Empty`] for
    /// an empty emoji (use [`Reaction::remove`]); [`BuildError::Invalid`]
    /// for an emoji containing ASCII letters or whitespace or longer than
    /// 64 bytes (text such as `:thumbsup:` is refused by Meta; keycaps like
    /// `1️⃣` contain an ASCII digit, so digits are allowed).
    pub fn new(
        message_id: impl Into<String>,
        emoji: impl Into<String>,
    ) -> Result<Self, BuildError> {
        let message_id = message_id.into();
        let emoji = emoji.into();
        check_message_id("reaction.message_id", &message_id)?;
        if emoji.is_empty() {
            return Err(BuildError::Empty {
                field: "reaction.emoji",
            });
        }
        if emoji.len() > 64
            || emoji
                .chars()
                .any(|c| c.is_ascii_alphabetic() || c.is_whitespace())
        {
            return Err(BuildError::Invalid {
                field: "reaction.emoji",
                reason: "an emoji, not text",
            });
        }
        Ok(Self { message_id, emoji })
    }

    /// Removes our reaction from `message_id`: Meta documents an empty
    /// `emoji` string for this (Meta reaction-messages page).
    ///
    /// # Errors
    /// [`BuildError`] for a malformed message ID.
    pub fn remove(message_id: impl Into<String>) -> Result<Self, BuildError> {
        let message_id = message_id.into();
        check_message_id("reaction.message_id", &message_id)?;
        Ok(Self {
            message_id,
            emoji: String::new(),
        })
    }
}

// ---------------------------------------------------------------------------
// Mark as read
// ---------------------------------------------------------------------------

/// Marks an inbound message as read, optionally showing a typing indicator:
/// `{"messaging_product":"whatsapp","status":"read","message_id":…,
/// "typing_indicator"?:{"type":"text"}}` (openapi
/// `MarkMessageRequestPayload`; example "Send Typing Indicator and Read
/// Receipt"). Posted to the same `/messages` endpoint; Meta answers
/// `{"success": true}` ([`MarkReadResponse`]).
///
/// Marking one message read also marks earlier ones in the chat read. The
/// typing indicator disappears when we reply or after 25 s, so only ask for
/// it when a reply is on its way (Meta typing-indicators page, notes §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkRead {
    messaging_product: &'static str,
    status: &'static str,
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_indicator: Option<TypingIndicator>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct TypingIndicator {
    #[serde(rename = "type")]
    kind: &'static str,
}

impl MarkRead {
    /// A read receipt for the inbound message `message_id` (its wamid).
    ///
    /// # Errors
    /// [`BuildError`] for a malformed message ID.
    pub fn new(message_id: impl Into<String>) -> Result<Self, BuildError> {
        let message_id = message_id.into();
        check_message_id("message_id", &message_id)?;
        Ok(Self {
            messaging_product: "whatsapp",
            status: "read",
            message_id,
            typing_indicator: None,
        })
    }

    /// Also shows the typing indicator (`"typing_indicator": {"type":
    /// "text"}`, the only type Meta documents).
    #[must_use]
    pub fn with_typing_indicator(mut self) -> Self {
        self.typing_indicator = Some(TypingIndicator { kind: "text" });
        self
    }

    /// The message being marked read.
    #[must_use]
    pub fn message_id(&self) -> &str {
        &self.message_id
    }
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// The 200 body of a send (openapi `MessageResponse`,
/// `MessageResponsePayload`):
/// `{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id","message_status"?}]}`.
///
/// A 200 means *accepted*, not delivered: delivery arrives later as status
/// webhooks keyed by `messages[0].id` (notes §4). Missing arrays read as
/// empty so an odd but successful body is not mistaken for a failure here;
/// the client then insists on a message ID.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SendResponse {
    /// Always `whatsapp`.
    #[serde(default)]
    pub messaging_product: Option<String>,
    /// One per recipient: what we sent and the WhatsApp ID Meta resolved.
    #[serde(default)]
    pub contacts: Vec<SendContact>,
    /// One per message created; `id` is the wamid.
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

impl SendResponse {
    /// The wamid of the (first) message created.
    #[must_use]
    pub fn wamid(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }
}

/// `contacts[]` of a send response (openapi `ContactResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SendContact {
    /// The `to` value as we sent it.
    #[serde(default)]
    pub input: Option<String>,
    /// The WhatsApp ID Meta resolved it to. Absent when sending to a BSUID.
    #[serde(default)]
    pub wa_id: Option<String>,
}

/// `messages[]` of a send response (openapi `MessageResponseItem`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentMessage {
    /// The wamid, e.g. `wamid.HBgL…`.
    pub id: String,
    /// Present for some sends (marketing messages); see [`MessageStatus`].
    #[serde(default)]
    pub message_status: Option<MessageStatus>,
}

/// `messages[].message_status` (openapi `MessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Accepted and being processed.
    Accepted,
    /// Held for a quality assessment before delivery.
    HeldForQualityAssessment,
    /// Delivery paused.
    Paused,
    /// A value this crate does not know yet.
    #[serde(other)]
    Other,
}

/// The 200 body of a mark-as-read (openapi `MarkMessageResponsePayload`,
/// `SuccessResponse`): `{"success": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct MarkReadResponse {
    /// `true` when Meta recorded the receipt.
    pub success: bool,
}
