//! Switchboard's pure domain core.
//!
//! Everything here is deterministic and free of I/O and async: time comes in
//! through a [`clock::Clock`], configuration comes in as values, and every
//! decision is a function from facts to a result that says *why*. Adapters
//! (store, WhatsApp, HTTP server) call into this crate; it never calls out.
//!
//! Parts:
//! - [`clock`]: the `Clock` trait, the system clock and a manual clock for
//!   simulated time in tests and replays.
//! - [`ids`]: newtypes for database ids and for WhatsApp identities
//!   ([`ids::WaId`], [`ids::Bsuid`], [`ids::PhoneNumberId`]), parsed once at
//!   the edge.
//! - [`model`]: the field's vocabulary as enums: conversation status,
//!   priority, triage category, escalation reason, agent role and
//!   availability, message direction.
//! - [`duration`]: the `"15m"` / `"2h"` / `"1h30m"` duration format used in
//!   configuration files.
//! - [`text`]: text normalisation shared by every matcher (NFKC, case,
//!   repeated letters, chat spellings, Devanagari punctuation).
//! - [`triage`]: triage v1, a rules engine (English and Hinglish phrase
//!   lists from a versioned rules file) giving category, intent, escalation
//!   reasons, priority and human-readable reasons.
//! - [`assign`]: assignment v1: senior tier for escalations and returning
//!   high-intent prospects, relationship continuity, least-loaded fallback.
//! - [`sla`]: first-response targets per category and due-time arithmetic.
//! - [`calendar`]: business calendars, `.ics` holidays and business time.
#![forbid(unsafe_code)]

pub mod assign;
pub mod calendar;
pub mod clock;
pub mod duration;
pub mod ids;
pub mod model;
pub mod sla;
pub mod text;
pub mod triage;
