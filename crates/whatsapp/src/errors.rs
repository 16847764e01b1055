//! What a failed Cloud API call means for the caller: retry later, switch to
//! a template, give up, or give up and page an operator.
//!
//! Graph API failures arrive as an HTTP status plus a JSON body
//! `{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id",…}}`
//! (openapi `GraphAPIError`; Meta error-codes page
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>).
//! [`classify`] decides by the numeric `error.code` first and the HTTP status
//! second. It never looks at `message` or titles: Meta says to branch on
//! `code` and `details` because titles will be deprecated (same page; project
//! notes `whatsapp-cloud-api.md` §5.9).
//!
//! Retrying is the caller's job (the outbox worker owns backoff and
//! attempts); this module only says whether a retry can help.

use std::fmt;

use serde_json::Value;

/// What the caller should do after a failed Cloud API call.
///
/// Produced by [`classify`] and carried by every [`SendError`]. The code
/// lists per variant follow the project notes (`whatsapp-cloud-api.md` §5.4,
/// §5.5, §5.9), which cite Meta's error-codes and throughput pages and
/// `david-lev/pywa:pywa/errors.py` for descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Transient: the same request may succeed later, so back off and retry.
    /// Rate limits (`4`, `80007`, `130429`, `131056`), Meta-side failures
    /// (`131000`, `131016`), HTTP 5xx, 408 and 429 without a terminal code,
    /// timeouts and connection failures.
    Retry,
    /// `131047`: more than 24 h since the user's last message, so the
    /// customer service window is closed and only an approved template can
    /// be sent (Meta "Service messages",
    /// <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages>;
    /// notes §5.1).
    WindowClosed,
    /// Resending the same request will fail the same way: fix the request,
    /// pick another template or mark the message failed. `code` is Meta's
    /// `error.code` when the body had one, `None` for a bare HTTP status,
    /// an unreadable response or a request refused before it was sent.
    Terminal {
        /// Meta's numeric `error.code`, when known.
        code: Option<i64>,
    },
    /// Terminal, and nothing will work until a person acts: the token, the
    /// account or the business is blocked (`190`, `368`, `131031`, plus the
    /// authentication/permission and payment codes listed in
    /// [`classify_code`]), or our own setup is broken. Stop the sender and
    /// alert an operator.
    TerminalAlert {
        /// Meta's numeric `error.code`; `None` for a local configuration
        /// failure (an `https` base URL while reqwest has no TLS backend).
        code: Option<i64>,
    },
}

impl ErrorClass {
    /// `true` only for [`ErrorClass::Retry`].
    #[must_use]
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Retry)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retry => f.write_str("retryable"),
            Self::WindowClosed => f.write_str("customer service window closed"),
            Self::Terminal { code: Some(code) } => write!(f, "terminal (code {code})"),
            Self::Terminal { code: None } => f.write_str("terminal"),
            Self::TerminalAlert { code: Some(code) } => {
                write!(f, "terminal, operator needed (code {code})")
            }
            Self::TerminalAlert { code: None } => f.write_str("terminal, operator needed"),
        }
    }
}

/// Classifies a Graph API `error.code` on its own, or `None` when the code
/// is not one this crate knows (then the HTTP status decides, see
/// [`classify`]).
///
/// Meanings (project notes `whatsapp-cloud-api.md` §5.9 from Meta's
/// error-codes page, descriptions mirrored in `david-lev/pywa:pywa/errors.py`;
/// throughput from Meta's throughput page, notes §5.4/§5.5):
///
/// | code | meaning | class |
/// |---|---|---|
/// | `4` | app-level API call rate limit | `Retry` |
/// | `80007` | WhatsApp Business Account rate limit | `Retry` |
/// | `130429` | Cloud API throughput reached (80 mps default per number) | `Retry` |
/// | `131056` | pair rate limit: same recipient messaged too fast (≈1 per 6 s) | `Retry` |
/// | `131000` | unknown error on Meta's side | `Retry` |
/// | `131016` | service unavailable | `Retry` |
/// | `131047` | re-engagement: more than 24 h since the user last wrote | `WindowClosed` |
/// | `100` | invalid parameter (generic Graph request error) | `Terminal` |
/// | `131026` | undeliverable (not on WhatsApp, old client, terms not accepted, …) | `Terminal` |
/// | `131049` | held back to keep ecosystem engagement healthy (per-user marketing limit; no resend for ≥ 24 h) | `Terminal` |
/// | `131050` | user stopped marketing messages (record the opt-out) | `Terminal` |
/// | `130472` | user is in a marketing experiment | `Terminal` |
/// | `132000`–`132016` | template errors: parameter count, missing/unapproved template or language, text too long, policy, parameter format, template paused (`132015`) or disabled (`132016`) | `Terminal` |
/// | `190` | access token expired or invalidated | `TerminalAlert` |
/// | `368` | temporarily blocked for policy violations | `TerminalAlert` |
/// | `131031` | account locked or restricted (also a wrong two-step PIN) | `TerminalAlert` |
/// | `0` | `AuthException`: cannot authenticate the app user | `TerminalAlert` |
/// | `3`, `10`, `200`–`299` | capability or permission missing | `TerminalAlert` |
/// | `131042` | business payment issue | `TerminalAlert` |
///
/// The last three rows go beyond the minimum list (`190`, `368`, `131031`)
/// because the notes mark them "alert" too: no retry or request change can
/// fix missing permissions or an unpaid account.
#[must_use]
pub fn classify_code(code: i64) -> Option<ErrorClass> {
    match code {
        4 | 80007 | 130429 | 131056 | 131000 | 131016 => Some(ErrorClass::Retry),
        131047 => Some(ErrorClass::WindowClosed),
        100 | 131026 | 131049 | 131050 | 130472 | 132000..=132016 => {
            Some(ErrorClass::Terminal { code: Some(code) })
        }
        0 | 3 | 10 | 190 | 200..=299 | 368 | 131031 | 131042 => {
            Some(ErrorClass::TerminalAlert { code: Some(code) })
        }
        _ => None,
    }
}

/// Classifies a Graph API failure from its HTTP status and, when the body
/// had one, its `error.code`.
///
/// Order of the rules:
/// 1. A code known to [`classify_code`] wins whatever the status: Meta sends
///    rate limits such as `130429` with HTTP 400, so the status alone would
///    call them terminal.
/// 2. Otherwise 5xx, 408 (request timeout) and 429 (too many requests) are
///    [`ErrorClass::Retry`]: the server or a proxy in front of it failed,
///    or asked us to slow down, and nothing says the request was wrong.
/// 3. Any other status (other 4xx, and the unexpected 1xx/3xx) is
///    [`ErrorClass::Terminal`] carrying `code`.
#[must_use]
pub fn classify(status: u16, code: Option<i64>) -> ErrorClass {
    if let Some(class) = code.and_then(classify_code) {
        return class;
    }
    match status {
        408 | 429 | 500..=599 => ErrorClass::Retry,
        _ => ErrorClass::Terminal { code },
    }
}

/// The `error` object of a Graph API error body, as far as it could be read.
///
/// Shape (openapi `GraphAPIError`; `error_data` from Meta's error-codes page
/// and the notes §4):
/// `{"error":{"message","type","code","error_subcode","error_data":{"messaging_product","details"},"fbtrace_id","is_transient","error_user_title","error_user_msg"}}`.
/// Every field except `code` is optional here, because a proxy or an older
/// API version may leave parts out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    /// `error.code`: the number to branch on.
    pub code: i64,
    /// `error.error_subcode`, when present; it narrows `code` for Meta
    /// support and logs, and is not used for classification.
    pub subcode: Option<i64>,
    /// `error.type`, e.g. `OAuthException`.
    pub error_type: Option<String>,
    /// A short title: `error.title` when Meta sent one (WhatsApp-specific
    /// errors), else `error.error_user_title`. For people, never for
    /// branching.
    pub title: Option<String>,
    /// `error.message`, e.g. `(#131047) Re-engagement message`. For people,
    /// never for branching.
    pub message: String,
    /// `error.error_data.details`: Meta's explanation of this occurrence
    /// (for example which parameter was wrong).
    pub details: Option<String>,
    /// `error.fbtrace_id`: quote it to Meta support.
    pub fbtrace_id: Option<String>,
    /// `error.is_transient`, recorded but not used for classification:
    /// Meta's guidance keys handling on `code`, and the code table in
    /// [`classify_code`] is explicit where this flag is not documented.
    pub is_transient: Option<bool>,
}

impl GraphError {
    /// Reads a Graph API error body (`{"error":{…}}`).
    ///
    /// Returns `None` when the body is not JSON, has no `error` object, or
    /// the object has no integer `code` (a numeric string such as `"190"` is
    /// accepted, since some proxies re-encode numbers). Unknown keys are
    /// ignored.
    #[must_use]
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let error = value.get("error")?;
        let code = int_field(error.get("code")?)?;
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            code,
            subcode: error.get("error_subcode").and_then(int_field),
            error_type: text("type"),
            title: text("title").or_else(|| text("error_user_title")),
            message: text("message").unwrap_or_default(),
            details: error
                .get("error_data")
                .and_then(|data| data.get("details"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            fbtrace_id: text("fbtrace_id"),
            is_transient: error.get("is_transient").and_then(Value::as_bool),
        })
    }
}

fn int_field(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "code {}", self.code)?;
        if let Some(subcode) = self.subcode {
            write!(f, " (subcode {subcode})")?;
        }
        if let Some(title) = &self.title {
            write!(f, " {title}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(details) = &self.details {
            write!(f, " [details: {details}]")?;
        }
        if let Some(trace) = &self.fbtrace_id {
            write!(f, " [fbtrace_id {trace}]")?;
        }
        Ok(())
    }
}

/// What went wrong, beneath the [`ErrorClass`].
///
/// Strings hold already-rendered messages so the error is `Clone` and never
/// carries request headers (the access token lives only in the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Meta answered with a Graph API error body.
    #[error("HTTP {status}, Graph API error {error}")]
    Graph {
        /// The HTTP status code.
        status: u16,
        /// The parsed `error` object (boxed: it is most of the error's
        /// size, and `Result<_, SendError>` travels through every call).
        error: Box<GraphError>,
    },
    /// A non-2xx status whose body was not a Graph API error (for example a
    /// proxy's HTML page). `body` is the start of the body, at most
    /// 512 bytes, lossily decoded.
    #[error("HTTP {status} without a Graph API error body: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A 2xx response whose body was not the documented success shape.
    /// Meta may have accepted the message, so resending risks a duplicate:
    /// this is classified terminal for a person to check.
    #[error("HTTP {status} response body not understood: {reason}")]
    Decode {
        /// The HTTP status code.
        status: u16,
        /// Why the body was refused.
        reason: String,
    },
    /// No complete response within the client's timeout.
    #[error("request timed out")]
    Timeout,
    /// The TCP (or TLS) connection could not be made.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Another transport failure after the connection was made (reset,
    /// truncated body, oversized body).
    #[error("transport error: {0}")]
    Transport(String),
    /// The request was refused locally and never sent: an ID that is not
    /// all digits, an idempotency key that cannot be a header, a body that
    /// does not serialise.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// A failed Cloud API call: what to do ([`ErrorClass`]) and why
/// ([`Failure`]).
///
/// Returned by every [`crate::client::CloudApiClient`] method (send, mark as
/// read, template listing). Contains Meta's code, title, message, details
/// and trace ID when Meta sent them; never the access token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {failure}")]
pub struct SendError {
    /// What the caller should do next.
    pub class: ErrorClass,
    /// The underlying failure.
    pub failure: Failure,
}

impl SendError {
    /// Builds the error for an HTTP response with a non-2xx status, reading
    /// the Graph API error body when there is one and classifying with
    /// [`classify`].
    #[must_use]
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        match GraphError::from_body(body) {
            Some(error) => Self {
                class: classify(status, Some(error.code)),
                failure: Failure::Graph {
                    status,
                    error: Box::new(error),
                },
            },
            None => Self {
                class: classify(status, None),
                failure: Failure::Status {
                    status,
                    body: excerpt(body),
                },
            },
        }
    }

    /// A request refused before sending; always terminal without a code.
    #[must_use]
    pub fn invalid_request(reason: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Terminal { code: None },
            failure: Failure::InvalidRequest(reason.into()),
        }
    }

    /// Meta's `error.code`, when the response carried one.
    #[must_use]
    pub fn code(&self) -> Option<i64> {
        match &self.failure {
            Failure::Graph { error, .. } => Some(error.code),
            _ => None,
        }
    }

    /// The parsed Graph API error, when the response carried one.
    #[must_use]
    pub fn graph_error(&self) -> Option<&GraphError> {
        match &self.failure {
            Failure::Graph { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// At most this many bytes of an unexpected body are kept in an error, so
/// an HTML error page does not flood the logs.
const EXCERPT_BYTES: usize = 512;

fn excerpt(body: &[u8]) -> String {
    let end = body.len().min(EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&body[..end]).into_owned();
    if body.len() > EXCERPT_BYTES {
        text.push('…');
    }
    text
}
