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
//! - [`features`]: hashed word and character n-gram features (every script).
//! - [`classifier`]: the trainable intent classifier with escalation heads
//!   and an optional escalation gate
//!   (logistic regression, calibrated, deterministic, a compact model file).
//! - [`exemplar`]: the nearest labelled exemplars of a message, an input to
//!   the classifier's escalation combiner and category head.
//! - [`sentiment`]: VADER plus a Hinglish/Hindi overlay; `vader` (private)
//!   computes VADER's score over the `vader_sentiment` crate's lexicons
//!   without its per-character allocations.
//! - `wire` (private): decodes a model file's long arrays in one piece,
//!   from the same bytes serde's derived code writes.
//! - [`language`]: `en`, `hi`, `hinglish` or another ISO 639-1 code.
//! - [`policy`]: the policy matrix (`direct_answer`, `clarify_first`,
//!   `escalate_only`), thresholds and the never-automate list.
//! - [`triage`]: the engine: model plus rules from a versioned rules file,
//!   giving category, intent, confidence, escalation reasons, priority,
//!   sentiment, language, policy and human-readable reasons.
//! - [`dataset`]: labelled records and the reviewed label mapping.
//! - [`metrics`]: confusion matrices, P/R/F1, escalation recall and
//!   false-escalation rate.
//! - [`assign`]: assignment v1: senior tier for escalations and returning
//!   high-intent prospects, relationship continuity, least-loaded fallback.
//! - [`sla`]: first-response targets per category and due-time arithmetic.
//! - [`calendar`]: business calendars, `.ics` holidays and business time.
//! - [`rng`]: the seedable generator of replays and transcript samples.
//! - [`kpi`]: reporting events and the per-cycle facts every KPI is
//!   computed from (definitions in `KPIS.md`).
#![forbid(unsafe_code)]

pub mod assign;
pub mod calendar;
pub mod classifier;
pub mod clock;
pub mod dataset;
pub mod duration;
pub mod exemplar;
pub mod features;
pub mod ids;
pub mod kpi;
pub mod language;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod rng;
pub mod sentiment;
pub mod sla;
pub mod text;
pub mod triage;
mod vader;
mod wire;
