//! Reporting events and the facts every KPI is computed from.
//!
//! Parts:
//! - [`EventKind`] and [`ReportEvent`]: the append-only reporting log. The
//!   store writes one row per change (conversation opened, triaged,
//!   assigned, replied to, breached, resolved, …) in the same transaction as
//!   the change, stamped with the conversation's [`Dimensions`] at that time.
//! - [`cycles`]: turns one conversation's events (in any order) into
//!   [`Cycle`]s, one per open → resolve cycle, holding the measured facts:
//!   first response time (wall clock and business hours), next responses,
//!   resolution time, SLA outcome per target, handoffs, escalations, repeat
//!   messages, template deliveries. Reports aggregate cycles, never raw
//!   events, so a reopened conversation is measured per cycle and never from
//!   its creation (Chatwoot's resolution time keeps counting from creation).
//! - [`percentile`]: the nearest-rank percentile over a histogram of whole
//!   seconds, the one definition every report uses.
//!
//! `KPIS.md` at the repository root defines each KPI (start event, end
//! event, exclusions, business-hours variant); this module is its code.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::BusinessCalendar;
use crate::ids::{AgentId, ContactId, ConversationId, InboxId, MessageId, TeamId};
use std::fmt;
use std::str::FromStr;

use crate::model::{Category, Priority, UnknownVariant, word_enum};

word_enum!(
    /// What a reporting event records. The store writes each kind in the
    /// same transaction as the change it names.
    EventKind, "report event kind" {
        /// A conversation was created. `detail`: `new` or `returning`
        /// (the contact had a resolved conversation before): the audience.
        ConversationOpened = "conversation_opened",
        /// A resolved conversation was opened again (a new cycle starts).
        Reopened = "reopened",
        /// Category, intent or priority changed (the dimensions carry the new values).
        Triaged = "triaged",
        /// The assignee changed; `agent_id` is the new assignee.
        Assigned = "assigned",
        /// Work was handed to `agent_id` with context. `detail`: `bot`
        /// (automation → human) or `agent` (human → human).
        Handoff = "handoff",
        /// The receiving agent acknowledged the handoff context;
        /// `value_ms`: time from handoff to acknowledgement.
        HandoffAcknowledged = "handoff_acknowledged",
        /// A customer message; `at` is the customer's send time.
        MessageReceived = "message_received",
        /// Automation answered (the automatic first response); never a human reply.
        AutomatedReply = "automated_reply",
        /// A human replied while the customer waited. `detail`: `first` or
        /// `next`; `value_ms`: how long the customer had waited.
        Reply = "reply",
        /// An SLA target's warning fired. `detail`: `first_response`,
        /// `next_response` or `resolution`; `value_ms`: `at - due` (negative).
        SlaWarning = "sla_warning",
        /// An SLA target was met. `detail` as for warnings.
        SlaHit = "sla_hit",
        /// An SLA target was missed. `detail` as for warnings; `value_ms`: lateness.
        SlaBreach = "sla_breach",
        /// An escalation was raised. `detail`: `level:reason`.
        Escalation = "escalation",
        /// An escalation was acknowledged; `value_ms`: time to acknowledge.
        EscalationAcknowledged = "escalation_acknowledged",
        /// The conversation was resolved. `detail`: the disposition.
        Resolved = "resolved",
        /// Meta accepted an outbound message. `detail`: message type (`template`, `text`, …).
        MessageSent = "message_sent",
        /// An outbound message reached the phone. `detail`: message type.
        MessageDelivered = "message_delivered",
        /// An outbound message was read. `detail`: message type.
        MessageRead = "message_read",
        /// An outbound message failed (refused by Meta or undeliverable). `detail`: message type.
        MessageFailed = "message_failed",
        /// The contact opted out of messages.
        OptOut = "opt_out",
        /// The contact opted in again.
        OptIn = "opt_in",
    }
);

/// The conversation's dimensions when an event happened. Every field is
/// optional: an unassigned, untriaged, organic conversation has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimensions {
    /// The business number.
    pub inbox_id: Option<InboxId>,
    /// Owning team.
    pub team_id: Option<TeamId>,
    /// Assignee (for `assigned` and `handoff`: the new one).
    pub agent_id: Option<AgentId>,
    /// Triage category.
    pub category: Option<Category>,
    /// Triage intent.
    pub intent: Option<String>,
    /// Language cohort (`en`, `hi`, `hinglish`, …).
    pub language: Option<String>,
    /// Click-to-WhatsApp ad or post id (the campaign).
    pub source_id: Option<String>,
    /// `ad` or `post`; `None` for organic conversations.
    pub source_type: Option<String>,
}

/// One row of the reporting log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportEvent {
    /// Append order (the store's row id): ties on `at` break by it.
    pub id: i64,
    /// When it happened (UTC).
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// The conversation (none for a contact-level event without one).
    pub conversation_id: Option<ConversationId>,
    /// The customer.
    pub contact_id: Option<ContactId>,
    /// The message, for message status events.
    pub message_id: Option<MessageId>,
    /// Dimensions at that time.
    pub dims: Dimensions,
    /// Priority at that time.
    pub priority: Option<Priority>,
    /// Kind-specific detail (see [`EventKind`]).
    pub detail: Option<String>,
    /// Kind-specific duration in milliseconds (see [`EventKind`]).
    pub value_ms: Option<i64>,
}

/// A re-contact is a new conversation of the same contact opened within
/// this long after a resolve (issue #6: "re-contact within 7 days of resolve").
pub const RECONTACT_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// How an SLA target ended in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaOutcome {
    /// Met (every clock of this target in the cycle was met).
    Hit,
    /// Missed at least once in the cycle.
    Missed,
}

/// SLA outcome per target within one cycle; `None` when the target never
/// settled (no clock ran, or it is still running).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaOutcomes {
    /// First response.
    pub first_response: Option<SlaOutcome>,
    /// Next responses (missed when any one was missed).
    pub next_response: Option<SlaOutcome>,
    /// Resolution.
    pub resolution: Option<SlaOutcome>,
}

/// One open → resolve cycle of a conversation: when it started and
/// ended, its dimensions, and the measured numbers ([`CycleFacts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The customer.
    pub contact_id: Option<ContactId>,
    /// 0 for the cycle that opened the conversation, then 1, 2, … per reopen.
    pub seq: u32,
    /// Start: `conversation_opened`, or `reopened` for later cycles.
    pub opened_at: Timestamp,
    /// Dimensions: campaign and inbox from the cycle's start, the rest from
    /// its latest event (the final category, intent, assignee).
    pub dims: Dimensions,
    /// Priority from the latest event.
    pub priority: Option<Priority>,
    /// First bot → human handoff before the first human reply (the first
    /// response clock starts here instead of at open).
    pub bot_handoff_at: Option<Timestamp>,
    /// First human reply in the cycle.
    pub first_reply_at: Option<Timestamp>,
    /// Resolved at (none while the cycle is open).
    pub resolved_at: Option<Timestamp>,
    /// Disposition recorded at resolve.
    pub disposition: Option<String>,
    /// The measured numbers (what the store keeps and reports aggregate).
    pub facts: CycleFacts,
}

impl Cycle {
    fn start(conversation_id: ConversationId, seq: u32, e: &ReportEvent) -> Self {
        Self {
            conversation_id,
            contact_id: e.contact_id,
            seq,
            opened_at: e.at,
            dims: e.dims.clone(),
            priority: e.priority,
            bot_handoff_at: None,
            first_reply_at: None,
            resolved_at: None,
            disposition: None,
            facts: CycleFacts {
                returning: e.detail.as_deref() == Some("returning"),
                ..CycleFacts::default()
            },
        }
    }

    /// Fills in the facts derived from the cycle's times at its end.
    fn settle_facts(&mut self) {
        let f = &mut self.facts;
        f.bot_handoff = self.bot_handoff_at.is_some();
        f.resolved = self.resolved_at.is_some();
        f.closed_with_disposition =
            f.resolved && self.disposition.as_deref().is_some_and(|d| !d.is_empty());
        // Automation resolved it: it took part, and the cycle was resolved
        // with no human reply and no handoff to a human.
        f.bot_resolved = f.automated
            && f.resolved
            && self.first_reply_at.is_none()
            && !f.bot_handoff
            && f.handoffs == 0;
    }
}

/// Milliseconds of a signed duration, saturating.
fn ms(d: SignedDuration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn settle(slot: &mut Option<SlaOutcome>, outcome: SlaOutcome) {
    // A miss is final for the cycle; a hit only fills an empty slot.
    match (outcome, *slot) {
        (SlaOutcome::Missed, _) => *slot = Some(SlaOutcome::Missed),
        (SlaOutcome::Hit, None) => *slot = Some(SlaOutcome::Hit),
        (SlaOutcome::Hit, Some(_)) => {}
    }
}

/// Splits one conversation's events into cycles and measures each.
///
/// `events` may arrive in any order (deliveries do): they are sorted by
/// time, then id. Events before the first `conversation_opened` belong to
/// the first cycle (a late-delivered message sent before the conversation
/// row was created); events after a resolve and before a reopen (late
/// delivery receipts, an opt-out) belong to the resolved cycle. A
/// conversation whose `conversation_opened` event is missing (an import)
/// starts at its earliest event. Events of other conversations are ignored.
///
/// With a `calendar`, the business-hours variants are filled in.
pub fn cycles(
    conversation_id: ConversationId,
    events: &[ReportEvent],
    calendar: Option<&BusinessCalendar>,
) -> Vec<Cycle> {
    let mut sorted: Vec<&ReportEvent> = events
        .iter()
        .filter(|e| e.conversation_id == Some(conversation_id))
        .collect();
    sorted.sort_by_key(|e| (e.at, e.id));
    // The opening event leads even if a message's send time precedes it.
    if let Some(pos) = sorted
        .iter()
        .position(|e| e.kind == EventKind::ConversationOpened)
    {
        let opened = sorted.remove(pos);
        sorted.insert(0, opened);
    }
    let Some(first) = sorted.first() else {
        return Vec::new();
    };
    let mut out: Vec<Cycle> = Vec::new();
    let mut cur = Cycle::start(conversation_id, 0, first);
    // Waiting state for repeat messages: a customer message while already
    // waiting for a human reply is a repeat.
    let mut waiting = false;
    let mut templates: BTreeSet<i64> = BTreeSet::new();
    let mut delivered: BTreeSet<i64> = BTreeSet::new();
    let mut failed: BTreeSet<i64> = BTreeSet::new();

    let finish = |cur: &mut Cycle,
                  templates: &mut BTreeSet<i64>,
                  delivered: &mut BTreeSet<i64>,
                  failed: &mut BTreeSet<i64>| {
        cur.facts.templates_sent = u32::try_from(templates.len()).unwrap_or(u32::MAX);
        cur.facts.templates_delivered =
            u32::try_from(delivered.intersection(templates).count()).unwrap_or(u32::MAX);
        cur.facts.templates_failed = u32::try_from(
            failed
                .difference(delivered)
                .filter(|m| templates.contains(m))
                .count(),
        )
        .unwrap_or(u32::MAX);
        cur.settle_facts();
        templates.clear();
        delivered.clear();
        failed.clear();
    };

    for (i, e) in sorted.iter().enumerate() {
        if e.kind == EventKind::Reopened && i > 0 {
            finish(&mut cur, &mut templates, &mut delivered, &mut failed);
            let seq = cur.seq + 1;
            let returning = cur.facts.returning;
            let prev = std::mem::replace(&mut cur, Cycle::start(conversation_id, seq, e));
            cur.facts.returning = returning;
            // Campaign and inbox stay those of the conversation.
            cur.dims.source_id.clone_from(&prev.dims.source_id);
            cur.dims.source_type.clone_from(&prev.dims.source_type);
            out.push(prev);
            waiting = false;
            continue;
        }
        // Latest dimensions win, except the campaign, fixed at open.
        if e.kind != EventKind::OptOut && e.kind != EventKind::OptIn {
            let source_id = cur
                .dims
                .source_id
                .take()
                .or_else(|| e.dims.source_id.clone());
            let source_type = cur
                .dims
                .source_type
                .take()
                .or_else(|| e.dims.source_type.clone());
            if e.dims.inbox_id.is_some() {
                cur.dims = e.dims.clone();
            }
            cur.dims.source_id = source_id;
            cur.dims.source_type = source_type;
            if e.priority.is_some() {
                cur.priority = e.priority;
            }
        }
        match e.kind {
            EventKind::ConversationOpened | EventKind::Reopened => {
                if e.detail.as_deref() == Some("returning") {
                    cur.facts.returning = true;
                }
            }
            EventKind::Triaged | EventKind::Assigned | EventKind::OptIn => {}
            EventKind::Handoff => {
                cur.facts.handoffs += 1;
                if e.detail.as_deref() == Some("bot") {
                    cur.facts.automated = true;
                    if cur.first_reply_at.is_none() && cur.bot_handoff_at.is_none() {
                        cur.bot_handoff_at = Some(e.at);
                    }
                }
            }
            EventKind::HandoffAcknowledged => {
                cur.facts.handoffs_acknowledged += 1;
                cur.facts.handoff_ack_total_ms += e.value_ms.unwrap_or(0).max(0);
            }
            EventKind::MessageReceived => {
                cur.facts.inbound_messages += 1;
                if waiting {
                    cur.facts.repeat_messages += 1;
                }
                waiting = true;
            }
            EventKind::AutomatedReply => cur.facts.automated = true,
            EventKind::Reply => {
                if cur.first_reply_at.is_none() {
                    cur.first_reply_at = Some(e.at);
                    let start = cur.bot_handoff_at.unwrap_or(cur.opened_at).min(e.at);
                    cur.facts.first_response_ms = Some(ms(e.at.duration_since(start)));
                    cur.facts.first_response_business_ms =
                        calendar.map(|c| ms(c.business_duration(start, e.at)));
                } else {
                    cur.facts.next_responses += 1;
                    cur.facts.next_response_total_ms += e.value_ms.unwrap_or(0).max(0);
                }
                waiting = false;
            }
            EventKind::SlaWarning => cur.facts.sla_warnings += 1,
            EventKind::SlaHit | EventKind::SlaBreach => {
                let outcome = if e.kind == EventKind::SlaHit {
                    SlaOutcome::Hit
                } else {
                    SlaOutcome::Missed
                };
                match e.detail.as_deref() {
                    Some("first_response") => settle(&mut cur.facts.sla.first_response, outcome),
                    Some("next_response") => settle(&mut cur.facts.sla.next_response, outcome),
                    Some("resolution") => settle(&mut cur.facts.sla.resolution, outcome),
                    _ => {}
                }
            }
            EventKind::Escalation => cur.facts.escalations += 1,
            EventKind::EscalationAcknowledged => {
                cur.facts.escalations_acknowledged += 1;
                cur.facts.escalation_ack_total_ms += e.value_ms.unwrap_or(0).max(0);
            }
            EventKind::Resolved => {
                if cur.resolved_at.is_none() {
                    cur.resolved_at = Some(e.at);
                    let d = e.at.duration_since(cur.opened_at);
                    cur.facts.resolution_ms = Some(ms(d).max(0));
                    cur.facts.resolution_business_ms =
                        calendar.map(|c| ms(c.business_duration(cur.opened_at, e.at)).max(0));
                    cur.disposition.clone_from(&e.detail);
                }
                waiting = false;
            }
            EventKind::MessageSent
            | EventKind::MessageDelivered
            | EventKind::MessageRead
            | EventKind::MessageFailed => {
                if let Some(m) = e.message_id
                    && e.detail.as_deref() == Some("template")
                {
                    templates.insert(m.0);
                    match e.kind {
                        EventKind::MessageDelivered | EventKind::MessageRead => {
                            delivered.insert(m.0);
                        }
                        EventKind::MessageFailed => {
                            failed.insert(m.0);
                        }
                        _ => {}
                    }
                }
            }
            EventKind::OptOut => cur.facts.opted_out = true,
        }
    }
    finish(&mut cur, &mut templates, &mut delivered, &mut failed);
    out.push(cur);
    out
}

/// Nearest-rank percentile (`q` in 0..=1) over a histogram of
/// `(value, count)` pairs in any order: the smallest value such that at
/// least `q` of all observations are at or below it. `None` when empty.
/// The median is `percentile(h, 0.5)`; with whole-second values the result
/// is exact to the second.
pub fn percentile(histogram: &[(i64, u64)], q: f64) -> Option<i64> {
    let total: u64 = histogram.iter().map(|(_, c)| c).sum();
    if total == 0 {
        return None;
    }
    let mut sorted: Vec<(i64, u64)> = histogram.iter().copied().filter(|(_, c)| *c > 0).collect();
    sorted.sort_unstable_by_key(|(v, _)| *v);
    let q = q.clamp(0.0, 1.0);
    // rank = ceil(q * n), at least 1.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "q*n is within 0..=n, n far below 2^52"
    )]
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (v, c) in &sorted {
        seen += c;
        if seen >= rank {
            return Some(*v);
        }
    }
    sorted.last().map(|(v, _)| *v)
}

/// A rate that can never exceed 1: `part / whole` over one population
/// (callers pass counts from the same cycles). `None` when `whole` is 0.
pub fn rate(part: u64, whole: u64) -> Option<f64> {
    #[expect(clippy::cast_precision_loss, reason = "report ratio")]
    (whole > 0).then(|| part.min(whole) as f64 / whole as f64)
}

/// The measured numbers of a [`Cycle`], without its dimensions: what the
/// store keeps per cycle (compactly encoded) and what reports aggregate.
/// The four derived flags (`bot_handoff`, `resolved`,
/// `closed_with_disposition`, `bot_resolved`) are set when the cycle ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleFacts {
    /// Audience `returning`.
    pub returning: bool,
    /// Automation took part.
    pub automated: bool,
    /// A bot → human handoff happened.
    pub bot_handoff: bool,
    /// Automation resolved it: it took part, and the cycle was resolved
    /// with no human reply and no handoff to a human.
    pub bot_resolved: bool,
    /// First response time (ms), wall clock.
    pub first_response_ms: Option<i64>,
    /// First response time (ms), business hours.
    pub first_response_business_ms: Option<i64>,
    /// Next responses counted.
    pub next_responses: u32,
    /// Sum of their waits (ms).
    pub next_response_total_ms: i64,
    /// Resolved within the cycle.
    pub resolved: bool,
    /// Resolution time (ms), wall clock.
    pub resolution_ms: Option<i64>,
    /// Resolution time (ms), business hours.
    pub resolution_business_ms: Option<i64>,
    /// Resolved with a disposition.
    pub closed_with_disposition: bool,
    /// SLA outcome per target.
    pub sla: SlaOutcomes,
    /// SLA warnings.
    pub sla_warnings: u32,
    /// Handoffs.
    pub handoffs: u32,
    /// Handoffs acknowledged.
    pub handoffs_acknowledged: u32,
    /// Sum of handoff acknowledgement times (ms).
    pub handoff_ack_total_ms: i64,
    /// Escalations.
    pub escalations: u32,
    /// Escalations acknowledged.
    pub escalations_acknowledged: u32,
    /// Sum of escalation acknowledgement times (ms).
    pub escalation_ack_total_ms: i64,
    /// Customer messages.
    pub inbound_messages: u32,
    /// Customer messages sent while already waiting.
    pub repeat_messages: u32,
    /// Templates sent (delivery denominator).
    pub templates_sent: u32,
    /// Templates delivered or read.
    pub templates_delivered: u32,
    /// Templates failed.
    pub templates_failed: u32,
    /// Opted out during the cycle.
    pub opted_out: bool,
}

/// How a disposition counts for qualification KPIs (configured lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qualification {
    /// The disposition marks the lead qualified.
    pub qualified: bool,
    /// The disposition marks an opportunity (also counts as qualified).
    pub opportunity: bool,
}

/// Median, p90 and mean of a duration sample, in whole seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Observations.
    pub count: u64,
    /// Median (nearest rank), seconds.
    pub median_s: Option<i64>,
    /// 90th percentile (nearest rank), seconds.
    pub p90_s: Option<i64>,
    /// Mean, seconds.
    pub mean_s: Option<f64>,
}

/// A count and the rate it makes over its population (0..=1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Numerator.
    pub count: u64,
    /// Denominator (the same cycles).
    pub of: u64,
    /// `count / of`; `None` when `of` is 0.
    pub rate: Option<f64>,
}

impl Ratio {
    fn new(count: u64, of: u64) -> Self {
        Self {
            count: count.min(of),
            of,
            rate: rate(count, of),
        }
    }
}

/// SLA attainment of one target: hits over settled cycles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Attainment {
    /// Cycles that met the target.
    pub hit: u64,
    /// Cycles that missed it.
    pub missed: u64,
    /// `hit / (hit + missed)`.
    pub rate: Option<f64>,
}

/// Every KPI of one group of cycles (definitions: `KPIS.md`). All rates use
/// the same cycles (opened in the period) for numerator and denominator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// Cycles opened in the period (conversations plus reopens).
    pub conversations: u64,
    /// Of those, from returning contacts.
    pub returning: u64,
    /// First response time, wall clock.
    pub first_response: Distribution,
    /// First response time, business hours.
    pub first_response_business: Distribution,
    /// Cycles whose first response is still missing.
    pub unanswered: u64,
    /// Next response time: count and mean of the waits after the first reply.
    pub next_response: Distribution,
    /// Resolution time per cycle, wall clock.
    pub resolution: Distribution,
    /// Resolution time per cycle, business hours.
    pub resolution_business: Distribution,
    /// SLA attainment, first response.
    pub sla_first_response: Attainment,
    /// SLA attainment, next response.
    pub sla_next_response: Attainment,
    /// SLA attainment, resolution.
    pub sla_resolution: Attainment,
    /// Cycles with at least one SLA warning.
    pub sla_warned: u64,
    /// Handoffs acknowledged / handoffs.
    pub handoff_acceptance: Ratio,
    /// Mean time to acknowledge a handoff, seconds.
    pub handoff_ack_mean_s: Option<f64>,
    /// Escalations (count) and acknowledged.
    pub escalations: Ratio,
    /// Mean time to acknowledge an escalation, seconds.
    pub escalation_ack_mean_s: Option<f64>,
    /// Bot resolution: cycles automation resolved / cycles automation took part in.
    pub bot_resolution: Ratio,
    /// Agent handover: cycles handed from bot to human / cycles automation took part in.
    pub agent_handover: Ratio,
    /// Closure with disposition: resolved with a disposition / cycles.
    pub closure: Ratio,
    /// Repeat messages: customer messages sent while waiting / customer messages.
    pub repeat_messages: Ratio,
    /// Re-contact within 7 days: resolved cycles followed by a new
    /// conversation of the same contact within 7 days / resolved cycles.
    pub recontact: Ratio,
    /// Template delivery success: delivered or read / sent.
    pub template_delivery: Ratio,
    /// Qualification pass rate: qualified (incl. opportunity) / cycles.
    pub qualified: Ratio,
    /// Opportunity rate: opportunity / cycles.
    pub opportunity: Ratio,
    /// Cycles in which the contact opted out.
    pub opt_outs: u64,
}

/// Whole-second histogram of durations with an exact millisecond sum:
/// percentiles exact to the second, means exact. Mergeable, so daily
/// aggregates add up to any period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations per whole second.
    pub seconds: BTreeMap<i64, u64>,
    /// Sum of the observations, milliseconds.
    pub sum_ms: i64,
    /// Observations.
    pub count: u64,
}

impl Histogram {
    /// Adds one observation (milliseconds).
    pub fn add(&mut self, ms: i64) {
        *self.seconds.entry(ms.div_euclid(1000)).or_default() += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    /// Adds another histogram.
    pub fn merge(&mut self, o: &Self) {
        for (k, v) in &o.seconds {
            *self.seconds.entry(*k).or_default() += v;
        }
        self.sum_ms = self.sum_ms.saturating_add(o.sum_ms);
        self.count += o.count;
    }

    /// Median, p90 (nearest rank) and mean.
    pub fn distribution(&self) -> Distribution {
        let pairs: Vec<(i64, u64)> = self.seconds.iter().map(|(k, v)| (*k, *v)).collect();
        #[expect(clippy::cast_precision_loss, reason = "report mean")]
        let mean_s = (self.count > 0).then(|| self.sum_ms as f64 / self.count as f64 / 1000.0);
        Distribution {
            count: self.count,
            median_s: percentile(&pairs, 0.5),
            p90_s: percentile(&pairs, 0.9),
            mean_s,
        }
    }
}

/// Accumulates cycles into [`Kpis`]. Serialisable and mergeable: the store
/// keeps one per day and dimension value, and a report merges the days of
/// its period. Qualification is applied at [`KpiAccumulator::finish`] from
/// the disposition counts, so changing the configured lists applies to
/// history too.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiAccumulator {
    conversations: u64,
    returning: u64,
    frt: Histogram,
    frt_business: Histogram,
    unanswered: u64,
    next_count: u64,
    next_total_ms: i64,
    resolution: Histogram,
    resolution_business: Histogram,
    sla: [(u64, u64); 3],
    sla_warned: u64,
    handoffs: u64,
    handoffs_ack: u64,
    handoff_ack_ms: i64,
    escalations: u64,
    escalations_ack: u64,
    escalation_ack_ms: i64,
    automated: u64,
    bot_resolved: u64,
    bot_handoff: u64,
    resolved: u64,
    closed: u64,
    inbound: u64,
    repeat: u64,
    recontacted: u64,
    templates_sent: u64,
    templates_delivered: u64,
    dispositions: BTreeMap<String, u64>,
    opt_outs: u64,
}

impl KpiAccumulator {
    /// Adds one cycle. `recontacted`: a new conversation of the same contact
    /// opened within [`RECONTACT_WINDOW`] after this cycle's resolve.
    pub fn add(&mut self, f: &CycleFacts, disposition: Option<&str>, recontacted: bool) {
        self.conversations += 1;
        self.returning += u64::from(f.returning);
        match f.first_response_ms {
            Some(ms) => self.frt.add(ms),
            None => self.unanswered += 1,
        }
        if let Some(ms) = f.first_response_business_ms {
            self.frt_business.add(ms);
        }
        self.next_count += u64::from(f.next_responses);
        self.next_total_ms += f.next_response_total_ms;
        if let Some(ms) = f.resolution_ms {
            self.resolution.add(ms);
        }
        if let Some(ms) = f.resolution_business_ms {
            self.resolution_business.add(ms);
        }
        for (slot, outcome) in
            self.sla
                .iter_mut()
                .zip([f.sla.first_response, f.sla.next_response, f.sla.resolution])
        {
            match outcome {
                Some(SlaOutcome::Hit) => slot.0 += 1,
                Some(SlaOutcome::Missed) => slot.1 += 1,
                None => {}
            }
        }
        self.sla_warned += u64::from(f.sla_warnings > 0);
        self.handoffs += u64::from(f.handoffs);
        self.handoffs_ack += u64::from(f.handoffs_acknowledged.min(f.handoffs));
        self.handoff_ack_ms += f.handoff_ack_total_ms;
        self.escalations += u64::from(f.escalations);
        self.escalations_ack += u64::from(f.escalations_acknowledged.min(f.escalations));
        self.escalation_ack_ms += f.escalation_ack_total_ms;
        self.automated += u64::from(f.automated);
        self.bot_resolved += u64::from(f.bot_resolved);
        self.bot_handoff += u64::from(f.automated && f.bot_handoff);
        self.resolved += u64::from(f.resolved);
        self.closed += u64::from(f.closed_with_disposition);
        self.inbound += u64::from(f.inbound_messages);
        self.repeat += u64::from(f.repeat_messages.min(f.inbound_messages));
        self.recontacted += u64::from(recontacted && f.resolved);
        self.templates_sent += u64::from(f.templates_sent);
        self.templates_delivered += u64::from(f.templates_delivered.min(f.templates_sent));
        if let Some(d) = disposition.filter(|_| f.resolved) {
            *self.dispositions.entry(d.to_owned()).or_default() += 1;
        }
        self.opt_outs += u64::from(f.opted_out);
    }

    /// Merges another accumulator (days into a period, groups into totals).
    pub fn merge(&mut self, o: &Self) {
        self.conversations += o.conversations;
        self.returning += o.returning;
        self.frt.merge(&o.frt);
        self.frt_business.merge(&o.frt_business);
        self.unanswered += o.unanswered;
        self.next_count += o.next_count;
        self.next_total_ms += o.next_total_ms;
        self.resolution.merge(&o.resolution);
        self.resolution_business.merge(&o.resolution_business);
        for (a, b) in self.sla.iter_mut().zip(o.sla) {
            a.0 += b.0;
            a.1 += b.1;
        }
        self.sla_warned += o.sla_warned;
        self.handoffs += o.handoffs;
        self.handoffs_ack += o.handoffs_ack;
        self.handoff_ack_ms += o.handoff_ack_ms;
        self.escalations += o.escalations;
        self.escalations_ack += o.escalations_ack;
        self.escalation_ack_ms += o.escalation_ack_ms;
        self.automated += o.automated;
        self.bot_resolved += o.bot_resolved;
        self.bot_handoff += o.bot_handoff;
        self.resolved += o.resolved;
        self.closed += o.closed;
        self.inbound += o.inbound;
        self.repeat += o.repeat;
        self.recontacted += o.recontacted;
        self.templates_sent += o.templates_sent;
        self.templates_delivered += o.templates_delivered;
        for (k, v) in &o.dispositions {
            *self.dispositions.entry(k.clone()).or_default() += v;
        }
        self.opt_outs += o.opt_outs;
    }

    /// The KPIs of everything added; `qualify` says how a disposition counts.
    pub fn finish(&self, qualify: impl Fn(&str) -> Qualification) -> Kpis {
        let mean = |total_ms: i64, n: u64| {
            #[expect(clippy::cast_precision_loss, reason = "report mean")]
            (n > 0).then(|| total_ms as f64 / n as f64 / 1000.0)
        };
        let attain = |(hit, missed): (u64, u64)| Attainment {
            hit,
            missed,
            rate: rate(hit, hit + missed),
        };
        let (mut qualified, mut opportunity) = (0, 0);
        for (d, n) in &self.dispositions {
            let q = qualify(d);
            if q.qualified || q.opportunity {
                qualified += n;
            }
            if q.opportunity {
                opportunity += n;
            }
        }
        Kpis {
            conversations: self.conversations,
            returning: self.returning,
            first_response: self.frt.distribution(),
            first_response_business: self.frt_business.distribution(),
            unanswered: self.unanswered,
            next_response: Distribution {
                count: self.next_count,
                mean_s: mean(self.next_total_ms, self.next_count),
                ..Distribution::default()
            },
            resolution: self.resolution.distribution(),
            resolution_business: self.resolution_business.distribution(),
            sla_first_response: attain(self.sla[0]),
            sla_next_response: attain(self.sla[1]),
            sla_resolution: attain(self.sla[2]),
            sla_warned: self.sla_warned,
            handoff_acceptance: Ratio::new(self.handoffs_ack, self.handoffs),
            handoff_ack_mean_s: mean(self.handoff_ack_ms, self.handoffs_ack),
            escalations: Ratio::new(self.escalations_ack, self.escalations),
            escalation_ack_mean_s: mean(self.escalation_ack_ms, self.escalations_ack),
            bot_resolution: Ratio::new(self.bot_resolved, self.automated),
            agent_handover: Ratio::new(self.bot_handoff, self.automated),
            closure: Ratio::new(self.closed, self.conversations),
            repeat_messages: Ratio::new(self.repeat, self.inbound),
            recontact: Ratio::new(self.recontacted, self.resolved),
            template_delivery: Ratio::new(self.templates_delivered, self.templates_sent),
            qualified: Ratio::new(qualified, self.conversations),
            opportunity: Ratio::new(opportunity, self.conversations),
            opt_outs: self.opt_outs,
        }
    }
}

/// A reporting dimension: what a summary groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Click-to-WhatsApp ad or post id (`organic` when none).
    Campaign,
    /// Entry point: `ctwa_ad`, `ctwa_post` or `organic`.
    Channel,
    /// `new` or `returning` contact.
    Audience,
    /// Triage intent.
    Intent,
    /// Triage category.
    Category,
    /// Language cohort.
    Language,
    /// Owning team (id).
    Team,
    /// Assignee (id).
    Agent,
    /// Business number (inbox id).
    Inbox,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: &'static [Dimension] = &[
        Dimension::Campaign,
        Dimension::Channel,
        Dimension::Audience,
        Dimension::Intent,
        Dimension::Category,
        Dimension::Language,
        Dimension::Team,
        Dimension::Agent,
        Dimension::Inbox,
    ];

    /// The snake_case word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dimension::Campaign => "campaign",
            Dimension::Channel => "channel",
            Dimension::Audience => "audience",
            Dimension::Intent => "intent",
            Dimension::Category => "category",
            Dimension::Language => "language",
            Dimension::Team => "team",
            Dimension::Agent => "agent",
            Dimension::Inbox => "inbox",
        }
    }

    /// Parses the snake_case word; the error lists the accepted ones.
    ///
    /// # Errors
    /// A message naming the accepted words.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let words: Vec<&str> = Self::ALL.iter().map(|d| d.as_str()).collect();
                format!(
                    "unknown dimension {s:?}; expected one of: {}",
                    words.join(", ")
                )
            })
    }

    /// This dimension's value for a cycle (`None`: the cycle has none).
    pub fn key(self, dims: &Dimensions, returning: bool) -> Option<String> {
        match self {
            Dimension::Campaign => Some(dims.source_id.clone().unwrap_or_else(|| "organic".into())),
            Dimension::Channel => Some(
                dims.source_type
                    .as_deref()
                    .map_or_else(|| "organic".into(), |t| format!("ctwa_{t}")),
            ),
            Dimension::Audience => Some(if returning { "returning" } else { "new" }.into()),
            Dimension::Intent => dims.intent.clone(),
            Dimension::Category => dims.category.map(|c| c.as_str().to_owned()),
            Dimension::Language => dims.language.clone(),
            Dimension::Team => dims.team_id.map(|t| t.0.to_string()),
            Dimension::Agent => dims.agent_id.map(|a| a.0.to_string()),
            Dimension::Inbox => dims.inbox_id.map(|i| i.0.to_string()),
        }
    }
}

/// A stored cycle as the daily aggregation reads it.
#[derive(Debug, Clone)]
pub struct DayCycle {
    /// Dimensions.
    pub dims: Dimensions,
    /// Audience `returning`.
    pub returning: bool,
    /// Disposition at resolve.
    pub disposition: Option<String>,
    /// Followed by a new conversation within 7 days of its resolve.
    pub recontacted: bool,
    /// The numbers.
    pub facts: CycleFacts,
}

/// One day's aggregates: the total (`dimension: None`) and one per value of
/// every dimension.
pub fn aggregate_day(
    cycles: &[DayCycle],
) -> Vec<(Option<Dimension>, Option<String>, KpiAccumulator)> {
    let mut groups: BTreeMap<(Option<Dimension>, Option<String>), KpiAccumulator> = BTreeMap::new();
    for c in cycles {
        groups.entry((None, None)).or_default().add(
            &c.facts,
            c.disposition.as_deref(),
            c.recontacted,
        );
        for d in Dimension::ALL {
            groups
                .entry((Some(*d), d.key(&c.dims, c.returning)))
                .or_default()
                .add(&c.facts, c.disposition.as_deref(), c.recontacted);
        }
    }
    groups.into_iter().map(|((d, k), a)| (d, k, a)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn ev(id: i64, at: &str, kind: EventKind) -> ReportEvent {
        ReportEvent {
            id,
            at: t(at),
            kind,
            conversation_id: Some(ConversationId(1)),
            contact_id: Some(ContactId(7)),
            message_id: None,
            dims: Dimensions {
                inbox_id: Some(InboxId(1)),
                ..Dimensions::default()
            },
            priority: None,
            detail: None,
            value_ms: None,
        }
    }

    fn with(mut e: ReportEvent, detail: &str, value_ms: Option<i64>) -> ReportEvent {
        e.detail = Some(detail.into());
        e.value_ms = value_ms;
        e
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let h = [(10, 1), (20, 1), (30, 1), (40, 1)];
        assert_eq!(percentile(&h, 0.5), Some(20));
        assert_eq!(percentile(&h, 0.9), Some(40));
        assert_eq!(percentile(&h, 0.0), Some(10));
        assert_eq!(percentile(&[(5, 3), (1, 1)], 0.5), Some(5));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn reopen_starts_a_new_cycle_measured_from_the_reopen() {
        let events = vec![
            ev(1, "2026-01-05T10:00:00Z", EventKind::ConversationOpened),
            ev(2, "2026-01-05T10:00:00Z", EventKind::MessageReceived),
            ev(3, "2026-01-05T10:01:00Z", EventKind::MessageReceived),
            with(
                ev(4, "2026-01-05T10:10:00Z", EventKind::Reply),
                "first",
                Some(600_000),
            ),
            with(
                ev(5, "2026-01-05T11:00:00Z", EventKind::Resolved),
                "qualified",
                None,
            ),
            ev(6, "2026-01-08T09:00:00Z", EventKind::Reopened),
            ev(7, "2026-01-08T09:00:00Z", EventKind::MessageReceived),
            with(
                ev(8, "2026-01-08T09:30:00Z", EventKind::Resolved),
                "won",
                None,
            ),
        ];
        let c = cycles(ConversationId(1), &events, None);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].facts.first_response_ms, Some(600_000));
        assert_eq!(c[0].facts.repeat_messages, 1);
        assert_eq!(c[0].facts.resolution_ms, Some(3_600_000));
        assert_eq!(c[0].disposition.as_deref(), Some("qualified"));
        assert_eq!(c[1].seq, 1);
        assert_eq!(c[1].facts.resolution_ms, Some(1_800_000));
        assert_eq!(c[1].facts.first_response_ms, None);
        assert_eq!(c[1].disposition.as_deref(), Some("won"));
    }

    #[test]
    fn bot_handoff_starts_the_first_response_clock_and_order_does_not_matter() {
        let mut events = vec![
            ev(1, "2026-01-05T10:00:00Z", EventKind::ConversationOpened),
            ev(2, "2026-01-05T10:00:00Z", EventKind::AutomatedReply),
            with(
                ev(3, "2026-01-05T10:05:00Z", EventKind::Handoff),
                "bot",
                None,
            ),
            with(
                ev(4, "2026-01-05T10:07:00Z", EventKind::Reply),
                "first",
                Some(420_000),
            ),
            with(
                ev(5, "2026-01-05T10:07:00Z", EventKind::SlaHit),
                "first_response",
                None,
            ),
        ];
        events.reverse();
        let c = cycles(ConversationId(1), &events, None);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].facts.first_response_ms, Some(120_000));
        assert!(c[0].facts.automated);
        assert!(!c[0].facts.bot_resolved);
        assert_eq!(c[0].facts.sla.first_response, Some(SlaOutcome::Hit));
    }

    #[test]
    fn a_miss_is_final_and_a_late_message_joins_the_first_cycle() {
        let events = vec![
            ev(1, "2026-01-05T10:00:05Z", EventKind::ConversationOpened),
            // Sent before the row was created, delivered late.
            ev(2, "2026-01-05T09:59:00Z", EventKind::MessageReceived),
            with(
                ev(3, "2026-01-05T10:30:00Z", EventKind::SlaBreach),
                "first_response",
                Some(1),
            ),
            with(
                ev(4, "2026-01-05T10:40:00Z", EventKind::SlaHit),
                "first_response",
                None,
            ),
        ];
        let c = cycles(ConversationId(1), &events, None);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].opened_at, t("2026-01-05T10:00:05Z"));
        assert_eq!(c[0].facts.inbound_messages, 1);
        assert_eq!(c[0].facts.sla.first_response, Some(SlaOutcome::Missed));
    }

    #[test]
    fn template_delivery_counts_each_message_once() {
        let mut sent = ev(1, "2026-01-05T10:00:00Z", EventKind::MessageSent);
        sent.message_id = Some(MessageId(9));
        sent.detail = Some("template".into());
        let mut read = sent.clone();
        read.id = 2;
        read.kind = EventKind::MessageRead;
        let mut failed = sent.clone();
        failed.id = 3;
        failed.kind = EventKind::MessageFailed;
        failed.message_id = Some(MessageId(10));
        let opened = ev(0, "2026-01-05T09:00:00Z", EventKind::ConversationOpened);
        let c = cycles(ConversationId(1), &[opened, sent, read, failed], None);
        assert_eq!(c[0].facts.templates_sent, 2);
        assert_eq!(c[0].facts.templates_delivered, 1);
        assert_eq!(c[0].facts.templates_failed, 1);
    }

    #[test]
    fn accumulator_matches_hand_computed_kpis() {
        let mut acc = KpiAccumulator::default();
        let mut a = CycleFacts {
            first_response_ms: Some(60_000),
            resolved: true,
            resolution_ms: Some(3_600_000),
            closed_with_disposition: true,
            inbound_messages: 3,
            repeat_messages: 2,
            handoffs: 1,
            handoffs_acknowledged: 1,
            handoff_ack_total_ms: 30_000,
            ..CycleFacts::default()
        };
        a.sla.first_response = Some(SlaOutcome::Hit);
        let mut b = CycleFacts {
            first_response_ms: Some(1_200_000),
            inbound_messages: 1,
            handoffs: 1,
            ..CycleFacts::default()
        };
        b.sla.first_response = Some(SlaOutcome::Missed);
        let c = CycleFacts::default();
        acc.add(&a, Some("follow_up"), true);
        acc.add(&b, None, false);
        acc.add(&c, None, false);
        let mut merged = KpiAccumulator::default();
        merged.merge(&acc);
        let k = merged.finish(|d| Qualification {
            qualified: d == "follow_up",
            opportunity: false,
        });
        assert_eq!(k.conversations, 3);
        assert_eq!(k.first_response.count, 2);
        assert_eq!(k.first_response.median_s, Some(60));
        assert_eq!(k.first_response.p90_s, Some(1200));
        assert_eq!(k.first_response.mean_s, Some(630.0));
        assert_eq!(k.unanswered, 1);
        assert_eq!(k.sla_first_response.rate, Some(0.5));
        assert_eq!(k.handoff_acceptance.rate, Some(0.5));
        assert_eq!(k.handoff_ack_mean_s, Some(30.0));
        assert_eq!(k.closure.count, 1);
        assert_eq!(k.repeat_messages.rate, Some(0.5));
        assert_eq!(k.recontact.rate, Some(1.0));
        assert_eq!(k.qualified.count, 1);
    }

    #[test]
    fn business_hours_variant_counts_only_open_time() {
        // Mon-Fri 10:00-18:00 IST. Opened Friday 17:30, first reply Monday
        // 10:30, resolved Monday 12:00.
        let spec: crate::calendar::CalendarSpec = toml::from_str(
            r#"
            time_zone = "Asia/Kolkata"
            [hours]
            mon = ["10:00-18:00"]
            tue = ["10:00-18:00"]
            wed = ["10:00-18:00"]
            thu = ["10:00-18:00"]
            fri = ["10:00-18:00"]
            "#,
        )
        .unwrap();
        let cal = BusinessCalendar::new(&spec).unwrap();
        let events = vec![
            ev(1, "2026-03-06T12:00:00Z", EventKind::ConversationOpened),
            with(
                ev(2, "2026-03-09T05:00:00Z", EventKind::Reply),
                "first",
                None,
            ),
            with(
                ev(3, "2026-03-09T06:30:00Z", EventKind::Resolved),
                "resolved",
                None,
            ),
        ];
        let c = cycles(ConversationId(1), &events, Some(&cal));
        // 30 min on Friday + 30 min on Monday.
        assert_eq!(c[0].facts.first_response_business_ms, Some(3_600_000));
        assert_eq!(c[0].facts.first_response_ms, Some(65 * 3_600_000));
        // + 1 h 30 min more on Monday.
        assert_eq!(c[0].facts.resolution_business_ms, Some(9_000_000));
    }

    #[test]
    fn rates_never_exceed_one() {
        assert_eq!(rate(5, 4), Some(1.0));
        assert_eq!(rate(1, 4), Some(0.25));
        assert_eq!(rate(0, 0), None);
    }
}
