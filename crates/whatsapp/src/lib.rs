//! WhatsApp Cloud API handling for Switchboard: the part of the service that
//! turns Meta's webhook POSTs into events the rest of the service can act
//! on, and the outbound side that sends replies back through the Cloud API.
//!
//! Inbound, the crate has three parts, used in this order by the server:
//!
//! 1. [`signature`]: checks the `X-Hub-Signature-256` header
//!    (HMAC-SHA256 of the raw body keyed with the app secret) before anything
//!    else touches the body, and can produce that header for tests and
//!    tooling ([`verify_signature`], [`sign`]).
//! 2. [`webhook`]: lenient serde types for the envelope
//!    `object → entry[] → changes[] → {field, value}` and [`parse`]. Unknown
//!    keys are kept, `value` stays raw JSON, and timestamps are read whether
//!    Meta sends them as strings or integers.
//! 3. [`event`]: [`events`] flattens a payload into [`Event`]s (inbound
//!    messages, delivery statuses, value-level errors, template and
//!    marketing-preference updates) in body order. Anything it does not
//!    interpret is returned as [`Event::Unhandled`] rather than dropped.
//!
//! Outbound:
//!
//! - [`send`]: validated request bodies for `POST /{phone-number-id}/messages`
//!   ([`OutboundMessage`] with text, template, interactive buttons/list and
//!   reaction content; [`MarkRead`] for read receipts and the typing
//!   indicator) and the success responses. Constructors refuse what Meta
//!   would refuse, with a [`BuildError`].
//! - [`errors`]: [`classify`] turns a Graph API error code, HTTP status or
//!   transport failure into an [`ErrorClass`] (`Retry`, `WindowClosed`,
//!   `Terminal`, `TerminalAlert`) carried by every [`SendError`].
//! - [`templates`]: the template listing ([`TemplatePage`], [`Template`])
//!   with the `{{1}}`/`{{name}}` variables each component needs.
//! - [`client`]: [`CloudApiClient`], one pooled reqwest client that sends,
//!   marks read and lists templates, one HTTP request per call and no
//!   retries (the caller's outbox owns retrying and dedupe).
//!
//! Only [`client`] does I/O. Facts about Meta's payloads come from Meta's
//! webhook documentation and OpenAPI spec
//! (`facebook/openapi:business-messaging-api_v23.0.yaml`); each item cites
//! its source. Test fixtures from four MIT-licensed upstream sets live in
//! `tests/fixtures/` and are also read by the server crate's tests.

#![forbid(unsafe_code)]

pub mod client;
pub mod errors;
pub mod event;
pub mod send;
pub mod signature;
pub mod templates;
pub mod webhook;

pub use client::{ClientBuildError, CloudApiClient, SendAccepted};
pub use errors::{ErrorClass, Failure, GraphError, SendError, classify};
pub use event::{Event, InboundMessage, MessageKind, StatusKind, StatusUpdate, events};
pub use send::{BuildError, MarkRead, OutboundMessage, Recipient};
pub use signature::{SignatureError, sign, verify_signature};
pub use templates::{Template, TemplatePage};
pub use webhook::{ParseError, WebhookPayload, parse};
