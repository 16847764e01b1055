//! JSON shapes of the API's responses. Times are RFC 3339 UTC strings.

use jiff::Timestamp;
use serde::Serialize;
use switchboard_core::sla::{FirstResponseSla, is_breached};
use switchboard_store::{
    Agent, Assignment, ConversationDetail, ConversationSummary, Message, Team,
};

/// A queue item (`GET /api/v1/conversations`).
#[derive(Debug, Serialize)]
pub struct ConversationView {
    /// Id.
    pub id: i64,
    /// `open | pending | snoozed | resolved`.
    pub status: &'static str,
    /// `urgent | high | medium | low`.
    pub priority: &'static str,
    /// Triage category.
    pub category: Option<&'static str>,
    /// Coarse intent.
    pub intent: Option<String>,
    /// Escalation reasons raised while open.
    pub escalation_reasons: Vec<&'static str>,
    /// True when any escalation reason is present.
    pub escalate: bool,
    /// The customer.
    pub contact: ContactView,
    /// The business number.
    pub inbox: InboxView,
    /// Assigned agent.
    pub assignee_id: Option<i64>,
    /// Owning team.
    pub team_id: Option<i64>,
    /// Since when the customer waits.
    pub waiting_since: Option<Timestamp>,
    /// Messages waiting for a reply.
    pub waiting_count: u32,
    /// SLA clocks.
    pub sla: SlaView,
    /// After hours: when the team opens and the conversation is assigned.
    pub callback_at: Option<Timestamp>,
    /// When the 24 h customer service window closes (free-form replies
    /// need it open; a template is needed after).
    pub window_closes_at: Option<Timestamp>,
    /// Disposition recorded at resolve.
    pub disposition: Option<String>,
    /// Next action recorded at resolve.
    pub next_action: Option<switchboard_store::NextAction>,
    /// When it was resolved.
    pub resolved_at: Option<Timestamp>,
    /// Snoozed until.
    pub snoozed_until: Option<Timestamp>,
    /// Click-to-WhatsApp attribution.
    pub attribution: Option<switchboard_store::Attribution>,
    /// Opened.
    pub created_at: Timestamp,
    /// Latest message.
    pub last_message_at: Timestamp,
}

/// One SLA clock.
#[derive(Debug, Serialize)]
pub struct ClockView {
    /// Due time (UTC), when the clock runs or ran.
    pub due_at: Option<Timestamp>,
    /// Past due without being met (or met late).
    pub breached: bool,
    /// `not_started`, `running`, `hit` or `missed`.
    pub status: &'static str,
}

impl ClockView {
    fn new(due: Option<Timestamp>, done: Option<Timestamp>, now: Timestamp) -> Self {
        let breached = is_breached(due, done, now);
        let status = match (due, done) {
            (None, _) => "not_started",
            (Some(_), Some(_)) if breached => "missed",
            (Some(_), Some(_)) => "hit",
            (Some(_), None) if breached => "missed",
            (Some(_), None) => "running",
        };
        Self {
            due_at: due,
            breached,
            status,
        }
    }
}

/// A conversation's SLA: its status and each clock. The top-level
/// `first_response_due_at`, `first_responded_at` and `breached` are the
/// first-response clock (issue #2's fields, kept).
#[derive(Debug, Serialize)]
pub struct SlaView {
    /// `active`, `hit`, `missed` or `active_with_misses`.
    pub status: &'static str,
    /// First-response due time.
    pub first_response_due_at: Option<Timestamp>,
    /// First human reply.
    pub first_responded_at: Option<Timestamp>,
    /// First response breached.
    pub breached: bool,
    /// First response.
    pub first_response: ClockView,
    /// Next response (a customer message waiting after a reply).
    pub next_response: ClockView,
    /// Resolution.
    pub resolution: ClockView,
}

impl SlaView {
    /// Evaluates the clocks at `now`.
    pub fn new(c: &switchboard_store::Conversation, now: Timestamp) -> Self {
        let first = FirstResponseSla::evaluate(c.first_response_due_at, c.first_responded_at, now);
        Self {
            status: c.sla_status.as_str(),
            first_response_due_at: first.first_response_due_at,
            first_responded_at: first.first_responded_at,
            breached: first.breached,
            first_response: ClockView::new(c.first_response_due_at, c.first_responded_at, now),
            next_response: ClockView::new(c.next_response_due_at, None, now),
            resolution: ClockView::new(c.resolution_due_at, None, now),
        }
    }
}

/// The contact inside a conversation view.
#[derive(Debug, Serialize)]
pub struct ContactView {
    /// Id.
    pub id: i64,
    /// Phone identity.
    pub wa_id: Option<String>,
    /// BSUID.
    pub user_id: Option<String>,
    /// Profile name.
    pub name: Option<String>,
    /// Username.
    pub username: Option<String>,
}

/// The inbox inside a conversation view.
#[derive(Debug, Serialize)]
pub struct InboxView {
    /// Id.
    pub id: i64,
    /// Meta's phone_number_id.
    pub phone_number_id: String,
    /// Display number.
    pub display_phone_number: Option<String>,
}

impl ConversationView {
    /// Builds the view, evaluating the SLA clock at `now`.
    pub fn new(s: &ConversationSummary, now: Timestamp) -> Self {
        let c = &s.conversation;
        Self {
            id: c.id.0,
            status: c.status.as_str(),
            priority: c.priority.as_str(),
            category: c.category.map(|x| x.as_str()),
            intent: c.intent.clone(),
            escalation_reasons: c.escalation_reasons.iter().map(|r| r.as_str()).collect(),
            escalate: !c.escalation_reasons.is_empty(),
            contact: ContactView {
                id: s.contact.id.0,
                wa_id: s.contact.wa_id.as_ref().map(|w| w.as_str().to_owned()),
                user_id: s.contact.user_id.as_ref().map(|u| u.as_str().to_owned()),
                name: s.contact.name.clone(),
                username: s.contact.username.clone(),
            },
            inbox: InboxView {
                id: s.inbox.id.0,
                phone_number_id: s.inbox.phone_number_id.as_str().to_owned(),
                display_phone_number: s.inbox.display_phone_number.clone(),
            },
            assignee_id: c.assignee_id.map(|a| a.0),
            team_id: c.team_id.map(|t| t.0),
            waiting_since: c.waiting_since,
            waiting_count: c.waiting_count,
            sla: SlaView::new(c, now),
            callback_at: c.callback_at,
            window_closes_at: crate::agent::window_closes_at(c),
            disposition: c.disposition.clone(),
            next_action: c.next_action.clone(),
            resolved_at: c.resolved_at,
            snoozed_until: c.snoozed_until,
            attribution: c.attribution.clone(),
            created_at: c.created_at,
            last_message_at: c.last_message_at,
        }
    }
}

/// `GET /api/v1/conversations/{id}`.
#[derive(Debug, Serialize)]
pub struct ConversationDetailView {
    /// The queue fields.
    #[serde(flatten)]
    pub conversation: ConversationView,
    /// Messages, oldest first, each with its triage.
    pub messages: Vec<Message>,
    /// Assignment history with reasons.
    pub assignments: Vec<Assignment>,
    /// Escalations with their acknowledgement.
    pub escalations: Vec<switchboard_store::Escalation>,
    /// SLA warnings, misses and hits.
    pub sla_events: Vec<switchboard_store::SlaEvent>,
    /// Handoffs with their context and acknowledgement.
    pub handoffs: Vec<switchboard_store::Handoff>,
}

impl ConversationDetailView {
    /// Builds the view at `now`.
    pub fn new(
        d: ConversationDetail,
        handoffs: Vec<switchboard_store::Handoff>,
        now: Timestamp,
    ) -> Self {
        Self {
            conversation: ConversationView::new(&d.summary, now),
            messages: d.messages,
            assignments: d.assignments,
            escalations: d.escalations,
            sla_events: d.sla_events,
            handoffs,
        }
    }
}

/// An agent as returned by the API (never its token hash).
#[derive(Debug, Serialize)]
pub struct AgentView {
    /// The agent.
    #[serde(flatten)]
    pub agent: Agent,
    /// The API token, present only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A team.
pub type TeamView = Team;
