//! WhatsApp Cloud API webhook handling for Switchboard: the part of the
//! service that turns Meta's HTTP POSTs into events the rest of the service
//! can act on.
//!
//! The crate has three parts, used in this order by the server:
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
//! The crate does no I/O. Facts about Meta's payloads come from Meta's
//! webhook documentation and OpenAPI spec
//! (`facebook/openapi:business-messaging-api_v23.0.yaml`); each item cites
//! its source. Test fixtures from four MIT-licensed upstream sets live in
//! `tests/fixtures/` and are also read by the server crate's tests.

#![forbid(unsafe_code)]

pub mod event;
pub mod signature;
pub mod webhook;

pub use event::{Event, InboundMessage, MessageKind, StatusKind, StatusUpdate, events};
pub use signature::{SignatureError, sign, verify_signature};
pub use webhook::{ParseError, WebhookPayload, parse};
