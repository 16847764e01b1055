//! An HTTP client for the Cloud API endpoints Switchboard calls: send a
//! message, mark one read, list message templates.
//!
//! One [`CloudApiClient`] wraps one `reqwest::Client`, whose connection pool
//! keeps connections to the Graph host alive between sends; clone the
//! client (cheap, shared pool) rather than building one per request.
//!
//! The client makes exactly one HTTP request per call and never retries:
//! retry timing, attempt counts and dead-lettering belong to the caller's
//! outbox, which sees the decision in [`SendError::class`]. Meta has no
//! idempotency mechanism for sends, so a retry after a timeout or a dropped
//! connection can deliver the message twice; the outbox's own record of
//! what was accepted (the returned wamid) is the only dedupe there is.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Serialize;

use crate::errors::{ErrorClass, Failure, SendError};
use crate::send::{MarkRead, MarkReadResponse, MessageStatus, SendResponse};
use crate::templates::TemplatePage;

/// The header carrying the caller's idempotency key on sends.
///
/// Meta ignores it (the Graph API documents no idempotency header); it is
/// sent so the key shows up in our proxies, captures and test fakes, tying
/// an HTTP request to the outbox row that produced it.
pub const IDEMPOTENCY_HEADER: &str = "X-Idempotency-Key";

/// Fields requested when listing templates (Graph API `fields` parameter;
/// names from the openapi listing response and `parameter_format` from
/// Meta's message-templates reference).
pub const TEMPLATE_FIELDS: &str = "id,name,language,status,category,parameter_format,components";

/// Templates requested per page (`limit`). Meta may return fewer; follow
/// [`TemplatePage::next`] until it is `None`.
pub const TEMPLATE_PAGE_LIMIT: u32 = 100;

/// Largest response body read, in bytes. Graph responses are a few KiB (a
/// full template page tens of KiB); the cap keeps a misbehaving proxy from
/// exhausting memory.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Longest accepted idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 200;

/// Why [`CloudApiClient::new`] refused its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientBuildError {
    /// The base URL is not an absolute `http`/`https` URL without query or
    /// fragment.
    #[error("invalid Graph API base URL: {0}")]
    InvalidBaseUrl(String),
    /// The access token is empty or cannot be an HTTP header value
    /// (control characters, non-ASCII). The token itself is not included.
    #[error("invalid access token: {0}")]
    InvalidToken(&'static str),
    /// The timeout is zero, which would fail every request.
    #[error("timeout must be greater than zero")]
    ZeroTimeout,
    /// reqwest could not build its client (for example no TLS backend for
    /// an `https` base URL).
    #[error("HTTP client setup failed: {0}")]
    Http(String),
}

/// A successful send: Meta accepted the message.
///
/// Acceptance is not delivery; `sent`/`delivered`/`read`/`failed` arrive
/// later as status webhooks carrying [`SendAccepted::wamid`] (notes §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAccepted {
    /// The message ID Meta assigned (`messages[0].id`), e.g. `wamid.HBgL…`.
    pub wamid: String,
    /// The WhatsApp ID Meta resolved the recipient to (`contacts[0].wa_id`);
    /// absent when sending to a BSUID.
    pub wa_id: Option<String>,
    /// `messages[0].message_status`, when Meta reported one.
    pub message_status: Option<MessageStatus>,
}

/// A client for `POST /{phone_number_id}/messages` and
/// `GET /{waba_id}/message_templates` under one base URL and token.
///
/// `Debug` shows the base URL only; the access token is never printed and
/// never appears in errors (it is sent as a sensitive header value).
#[derive(Clone)]
pub struct CloudApiClient {
    http: reqwest::Client,
    /// Base URL without a trailing slash, e.g.
    /// `https://graph.facebook.com/v23.0`.
    base_url: String,
    /// `Bearer <token>`, marked sensitive.
    authorization: HeaderValue,
}

impl fmt::Debug for CloudApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudApiClient")
            .field("base_url", &self.base_url)
            .field("access_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CloudApiClient {
    /// Builds a client.
    ///
    /// - `base_url`: the Graph API root including the version, e.g.
    ///   `https://graph.facebook.com/v23.0` (the spec is v23.0 while Meta's
    ///   current pages show v26.0, so the version is configuration; notes
    ///   §4). A trailing `/` is ignored. Paths are appended to it.
    /// - `access_token`: a system-user token (notes §4), sent as
    ///   `Authorization: Bearer <token>`.
    /// - `timeout`: the limit for a whole request, connect to last body
    ///   byte. Connecting alone is limited to the smaller of this and 10 s.
    ///
    /// Redirects are not followed: the Graph API does not redirect, and
    /// following one could carry the request somewhere unexpected.
    ///
    /// `https` needs a TLS backend in reqwest, which the workspace does not
    /// enable yet; until it does, every request to an `https` base URL
    /// fails with [`ErrorClass::TerminalAlert`]` { code: None }`.
    ///
    /// # Errors
    /// [`ClientBuildError`] for a bad URL, token or timeout.
    pub fn new(
        base_url: String,
        access_token: String,
        timeout: Duration,
    ) -> Result<Self, ClientBuildError> {
        let trimmed = base_url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(trimmed)
            .map_err(|e| ClientBuildError::InvalidBaseUrl(format!("{trimmed:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(ClientBuildError::InvalidBaseUrl(format!(
                "{trimmed:?}: expected http(s)://host[/path] without query or fragment"
            )));
        }
        if access_token.is_empty() {
            return Err(ClientBuildError::InvalidToken("empty"));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {access_token}"))
            .map_err(|_| ClientBuildError::InvalidToken("not a valid header value"))?;
        authorization.set_sensitive(true);
        if timeout.is_zero() {
            return Err(ClientBuildError::ZeroTimeout);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchboard-whatsapp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientBuildError::Http(error_chain(&e)))?;
        Ok(Self {
            http,
            base_url: trimmed.to_owned(),
            authorization,
        })
    }

    /// The base URL requests go to, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one message: `POST {base}/{phone_number_id}/messages` with
    /// `Authorization: Bearer …`, `Content-Type: application/json`,
    /// [`IDEMPOTENCY_HEADER`]` = idempotency_key`, and `body` as JSON
    /// (normally a [`crate::send::OutboundMessage`]).
    ///
    /// One attempt only; see the module docs for why retries live in the
    /// caller.
    ///
    /// # Errors
    /// [`SendError`] with [`ErrorClass`] `Retry`, `WindowClosed`,
    /// `Terminal` or `TerminalAlert` (see [`crate::errors::classify`]). A
    /// `phone_number_id` that is not all digits, an idempotency key that is
    /// empty, over [`MAX_IDEMPOTENCY_KEY_BYTES`] or not visible ASCII, or a
    /// body that fails to serialise is refused before sending (terminal).
    /// A 200 without `messages[0].id` is terminal too: Meta may have
    /// accepted the message, so it must not be resent blindly.
    pub async fn send(
        &self,
        phone_number_id: &str,
        body: &impl Serialize,
        idempotency_key: &str,
    ) -> Result<SendAccepted, SendError> {
        check_numeric_id("phone_number_id", phone_number_id)?;
        let key = idempotency_header(idempotency_key)?;
        let json = serde_json::to_vec(body)
            .map_err(|e| SendError::invalid_request(format!("body does not serialise: {e}")))?;
        let url = format!("{}/{phone_number_id}/messages", self.base_url);
        let request = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(IDEMPOTENCY_HEADER, key)
            .body(json);
        let (status, bytes) = self.execute(request).await?;
        let response: SendResponse = serde_json::from_slice(&bytes)
            .map_err(|e| decode_error(status, format!("not a send response: {e}")))?;
        let Some(message) = response.messages.first() else {
            return Err(decode_error(
                status,
                "no messages[].id in the response".into(),
            ));
        };
        Ok(SendAccepted {
            wamid: message.id.clone(),
            wa_id: response.contacts.first().and_then(|c| c.wa_id.clone()),
            message_status: message.message_status,
        })
    }

    /// Marks an inbound message read (and optionally shows the typing
    /// indicator): `POST {base}/{phone_number_id}/messages` with a
    /// [`MarkRead`] body; Meta answers `{"success": true}`.
    ///
    /// No idempotency key: repeating a read receipt is harmless.
    ///
    /// # Errors
    /// As [`CloudApiClient::send`]; `{"success": false}` or another body is
    /// a terminal decode failure.
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        request: &MarkRead,
    ) -> Result<(), SendError> {
        check_numeric_id("phone_number_id", phone_number_id)?;
        let json = serde_json::to_vec(request)
            .map_err(|e| SendError::invalid_request(format!("body does not serialise: {e}")))?;
        let url = format!("{}/{phone_number_id}/messages", self.base_url);
        let builder = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(json);
        let (status, bytes) = self.execute(builder).await?;
        let response: MarkReadResponse = serde_json::from_slice(&bytes)
            .map_err(|e| decode_error(status, format!("not a success response: {e}")))?;
        if !response.success {
            return Err(decode_error(status, "success: false".into()));
        }
        Ok(())
    }

    /// Lists one page of a WhatsApp Business Account's templates:
    /// `GET {base}/{waba_id}/message_templates?fields=`[`TEMPLATE_FIELDS`]
    /// `&limit=`[`TEMPLATE_PAGE_LIMIT`]`[&after={cursor}]`.
    ///
    /// Start with `after = None`, then pass [`TemplatePage::next`] until it
    /// is `None`. The cursor is percent-encoded into the query.
    ///
    /// # Errors
    /// As [`CloudApiClient::send`] (a `waba_id` that is not all digits is
    /// refused before sending); a 200 body without a `data` array is a
    /// terminal decode failure.
    pub async fn list_templates(
        &self,
        waba_id: &str,
        after: Option<&str>,
    ) -> Result<TemplatePage, SendError> {
        check_numeric_id("waba_id", waba_id)?;
        let mut url =
            reqwest::Url::parse(&format!("{}/{waba_id}/message_templates", self.base_url))
                .map_err(|e| SendError::invalid_request(format!("URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("fields", TEMPLATE_FIELDS);
            query.append_pair("limit", &TEMPLATE_PAGE_LIMIT.to_string());
            if let Some(after) = after {
                query.append_pair("after", after);
            }
        }
        let request = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.authorization.clone());
        let (status, bytes) = self.execute(request).await?;
        TemplatePage::from_body(&bytes).map_err(|reason| decode_error(status, reason))
    }

    /// Sends the request and reads the body (capped at
    /// [`MAX_RESPONSE_BYTES`]); non-2xx becomes a classified [`SendError`].
    async fn execute(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), SendError> {
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(SendError {
                    // The status may be a success, and the message may have
                    // been accepted, so a resend is not safe to automate.
                    class: ErrorClass::Terminal { code: None },
                    failure: Failure::Transport(format!(
                        "HTTP {status} response body over {MAX_RESPONSE_BYTES} bytes"
                    )),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            Ok((status, body))
        } else {
            Err(SendError::from_response(status, &body))
        }
    }
}

/// Graph node IDs (phone number IDs, WABA IDs) are decimal numbers. Refusing
/// anything else keeps `/`, `?`, `..` and friends out of the URL path.
fn check_numeric_id(field: &str, id: &str) -> Result<(), SendError> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SendError::invalid_request(format!(
            "{field} must be 1 to 32 decimal digits"
        )));
    }
    Ok(())
}

fn idempotency_header(key: &str) -> Result<HeaderValue, SendError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_BYTES
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(SendError::invalid_request(format!(
            "idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"
        )));
    }
    HeaderValue::from_str(key)
        .map_err(|_| SendError::invalid_request("idempotency key is not a header value"))
}

fn decode_error(status: u16, reason: String) -> SendError {
    SendError {
        class: ErrorClass::Terminal { code: None },
        failure: Failure::Decode { status, reason },
    }
}

/// What hyper-util's plain-HTTP connector says when asked for an `https`
/// URL, i.e. when reqwest was built without a TLS backend.
const NO_TLS_MESSAGE: &str = "scheme is not http";

/// Maps a reqwest failure. Timeouts and failed connections are retryable.
/// Other transport failures (a reset or truncated response) are retried
/// too: they are how a flaky network or a restarting proxy looks, and the
/// outbox bounds the attempts. Builder errors mean our request was wrong.
///
/// One connect failure is not transient: an `https` URL with no TLS
/// backend compiled in would fail identically forever, so it is an
/// operator alert rather than an endless retry. It is recognised by
/// hyper-util's message, the only signal reqwest gives; if that wording
/// ever changes the failure degrades to a (visible, repeated) retry.
fn transport_error(error: reqwest::Error) -> SendError {
    let message = error_chain(&error);
    let (class, failure) = if error.is_timeout() {
        (ErrorClass::Retry, Failure::Timeout)
    } else if error.is_connect() && message.contains(NO_TLS_MESSAGE) {
        (
            ErrorClass::TerminalAlert { code: None },
            Failure::Connect(format!(
                "{message} (https needs a TLS feature on the workspace's reqwest dependency)"
            )),
        )
    } else if error.is_connect() {
        (ErrorClass::Retry, Failure::Connect(message))
    } else if error.is_builder() {
        (
            ErrorClass::Terminal { code: None },
            Failure::InvalidRequest(message),
        )
    } else {
        (ErrorClass::Retry, Failure::Transport(message))
    };
    SendError { class, failure }
}

/// The error and its sources, joined with `: `, since reqwest's own message
/// ("error sending request") hides the cause.
fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
