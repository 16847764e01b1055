//! Rows as the rest of the service sees them. All times are UTC
//! [`jiff::Timestamp`]s; backends choose their own column encoding.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::assign::Rule;
use switchboard_core::ids::{
    AgentId, Bsuid, ContactId, ConversationId, DeliveryId, InboxId, MessageId, PhoneNumberId,
    TeamId, WaId,
};
use switchboard_core::model::{
    Availability, Category, ConversationStatus, Direction, EscalationReason, Priority, Role,
};
use switchboard_core::triage::TriageResult;

/// A raw webhook delivery to store before anything else happens.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// When the POST arrived.
    pub received_at: Timestamp,
    /// The body exactly as received (the bytes Meta signed).
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` header value.
    pub signature: Option<String>,
}

/// Processing state of a stored delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Stored; not processed yet.
    Received,
    /// Every item was processed.
    Processed,
    /// Signed but not understood; kept for inspection and acknowledged so
    /// Meta stops retrying.
    DeadLetter,
}

impl DeliveryStatus {
    /// The snake_case word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processed => "processed",
            Self::DeadLetter => "dead_letter",
        }
    }

    /// Parses the snake_case word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => Self::Received,
            "processed" => Self::Processed,
            "dead_letter" => Self::DeadLetter,
            _ => return None,
        })
    }
}

/// How processing a delivery ended.
#[derive(Debug, Clone)]
pub struct DeliveryOutcome {
    /// Final status.
    pub status: DeliveryStatus,
    /// Why it is a dead letter, if it is.
    pub error: Option<String>,
    /// Messages newly stored from it.
    pub messages: u32,
    /// Messages that were already stored (redeliveries).
    pub duplicates: u32,
}

/// A stored delivery.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Id.
    pub id: DeliveryId,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The raw body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Processing state.
    pub status: DeliveryStatus,
    /// Dead-letter reason.
    pub error: Option<String>,
    /// Messages stored from it.
    pub messages: u32,
    /// Duplicate messages it carried.
    pub duplicates: u32,
}

/// A non-message webhook item to keep.
#[derive(Debug, Clone)]
pub struct NewWebhookEvent {
    /// The delivery it came in.
    pub delivery_id: DeliveryId,
    /// Meta's `changes[].field`.
    pub field: String,
    /// Our classification (`template_status`, `user_preference`,
    /// `value_errors`, `unhandled`, …).
    pub kind: String,
    /// The item as JSON.
    pub payload: Value,
    /// When it was received.
    pub received_at: Timestamp,
}

/// Inbox lookup-or-create input.
#[derive(Debug, Clone)]
pub struct InboxUpsert {
    /// Meta's phone_number_id.
    pub phone_number_id: PhoneNumberId,
    /// The number as displayed.
    pub display_phone_number: Option<String>,
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: Option<String>,
    /// When seen.
    pub at: Timestamp,
}

/// One WhatsApp business number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inbox {
    /// Id.
    pub id: InboxId,
    /// Meta's phone_number_id.
    pub phone_number_id: PhoneNumberId,
    /// The number as displayed.
    pub display_phone_number: Option<String>,
    /// The WABA id.
    pub waba_id: Option<String>,
    /// The team that owns it, if set.
    pub team_id: Option<TeamId>,
}

/// Contact lookup-or-create input; at least one id is present.
#[derive(Debug, Clone)]
pub struct ContactUpsert {
    /// Phone-number identity.
    pub wa_id: Option<WaId>,
    /// Business-scoped user id (username users).
    pub user_id: Option<Bsuid>,
    /// Profile name.
    pub name: Option<String>,
    /// WhatsApp username.
    pub username: Option<String>,
    /// When seen.
    pub at: Timestamp,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// Id.
    pub id: ContactId,
    /// Phone-number identity.
    pub wa_id: Option<WaId>,
    /// Business-scoped user id.
    pub user_id: Option<Bsuid>,
    /// Profile name.
    pub name: Option<String>,
    /// WhatsApp username.
    pub username: Option<String>,
    /// The agent who last handled this contact.
    pub last_agent_id: Option<AgentId>,
    /// When the contact's latest inbound message was sent.
    pub last_inbound_at: Option<Timestamp>,
    /// How many of the contact's conversations were resolved.
    pub resolved_conversations: u32,
    /// When the contact opted out of marketing messages (none: not opted out).
    pub opted_out_at: Option<Timestamp>,
    /// When the contact last opted in.
    pub opted_in_at: Option<Timestamp>,
}

/// A team to create.
#[derive(Debug, Clone)]
pub struct NewTeam {
    /// Unique name.
    pub name: String,
    /// Skills every member has (lowercase).
    pub skills: Vec<String>,
    /// When.
    pub at: Timestamp,
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    /// Id.
    pub id: TeamId,
    /// Unique name.
    pub name: String,
    /// Skills.
    pub skills: Vec<String>,
    /// Created.
    pub created_at: Timestamp,
}

/// An agent to create.
#[derive(Debug, Clone)]
pub struct NewAgent {
    /// Display name.
    pub name: String,
    /// Unique email (lowercase).
    pub email: String,
    /// Authority.
    pub role: Role,
    /// Team.
    pub team_id: Option<TeamId>,
    /// Skills (lowercase).
    pub skills: Vec<String>,
    /// Maximum open conversations.
    pub capacity: u32,
    /// Presence.
    pub availability: Availability,
    /// SHA-256 (lowercase hex) of the API token; the token itself is never stored.
    pub token_sha256: String,
    /// When.
    pub at: Timestamp,
}

/// An agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    /// Id.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Authority.
    pub role: Role,
    /// Team.
    pub team_id: Option<TeamId>,
    /// Skills.
    pub skills: Vec<String>,
    /// Maximum open conversations.
    pub capacity: u32,
    /// Presence.
    pub availability: Availability,
    /// Open conversations assigned now.
    pub open_count: u32,
    /// Last assignment received.
    pub last_assigned_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
}

/// A partial update of an agent; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    /// New presence.
    pub availability: Option<Availability>,
    /// New capacity.
    pub capacity: Option<u32>,
}

/// Click-to-WhatsApp attribution: the first `referral` of a conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// The ad or post id.
    pub source_id: Option<String>,
    /// `ad` or `post`.
    pub source_type: Option<String>,
    /// The ad or post URL.
    pub source_url: Option<String>,
    /// The ad headline.
    pub headline: Option<String>,
    /// The ad body.
    pub body: Option<String>,
    /// `image` or `video`.
    pub media_type: Option<String>,
    /// The click id for Meta's conversion API.
    pub ctwa_clid: Option<String>,
}

/// A conversation to create.
#[derive(Debug, Clone)]
pub struct NewConversation {
    /// The customer.
    pub contact_id: ContactId,
    /// The business number.
    pub inbox_id: InboxId,
    /// Owning team (from the inbox).
    pub team_id: Option<TeamId>,
    /// Attribution of its first message, if it came from an ad.
    pub attribution: Option<Attribution>,
    /// When it opened (the first message's send time).
    pub at: Timestamp,
}

/// A conversation: one thread between a contact and an inbox. At most one
/// per contact and inbox is not `resolved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// The customer.
    pub contact_id: ContactId,
    /// The business number.
    pub inbox_id: InboxId,
    /// Lifecycle state.
    pub status: ConversationStatus,
    /// Priority (triage; never lowered while open).
    pub priority: Priority,
    /// Triage category (the most urgent seen while open).
    pub category: Option<Category>,
    /// Intent of the message that set the category.
    pub intent: Option<String>,
    /// Escalation reasons raised while open (union).
    pub escalation_reasons: Vec<EscalationReason>,
    /// Who works it.
    pub assignee_id: Option<AgentId>,
    /// Owning team.
    pub team_id: Option<TeamId>,
    /// Since when the customer waits for a reply; `None` when answered.
    pub waiting_since: Option<Timestamp>,
    /// Inbound messages waiting for a reply.
    pub waiting_count: u32,
    /// First human reply due at.
    pub first_response_due_at: Option<Timestamp>,
    /// First human reply given at.
    pub first_responded_at: Option<Timestamp>,
    /// Ad attribution.
    pub attribution: Option<Attribution>,
    /// Opened.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Send time of the latest message.
    pub last_message_at: Timestamp,
    /// SLA status across the conversation's clocks.
    pub sla_status: switchboard_core::sla::SlaStatus,
    /// Next reply due at (a customer message waits after we replied).
    pub next_response_due_at: Option<Timestamp>,
    /// Resolution due at.
    pub resolution_due_at: Option<Timestamp>,
    /// When we last replied.
    pub last_responded_at: Option<Timestamp>,
    /// After hours: when the team opens and the conversation will be assigned.
    pub callback_at: Option<Timestamp>,
    /// Send time of the latest inbound message: the 24 h customer service
    /// window runs from here (Meta: free-form messages only within 24 h of
    /// the user's last message).
    pub last_inbound_at: Option<Timestamp>,
    /// When it was last resolved.
    pub resolved_at: Option<Timestamp>,
    /// Snoozed until (status `snoozed`).
    pub snoozed_until: Option<Timestamp>,
    /// Outcome recorded at resolve.
    pub disposition: Option<String>,
    /// What happens next, recorded at resolve.
    pub next_action: Option<NextAction>,
    /// When the automatic first response was queued.
    pub auto_ack_at: Option<Timestamp>,
    /// Language cohort of the message that set the category (`en`, `hi`,
    /// `hinglish`, …): a reporting dimension.
    pub language: Option<String>,
    /// Consecutive customer messages automation could not understand
    /// (out of scope or below the intent's confidence threshold, while
    /// automation answers first and no human has replied): the
    /// `bot_failure` escalation fires on the next one at the rules'
    /// `bot_failure_after`.
    pub bot_failures: u32,
}

/// The next action recorded when a conversation is resolved (seeds: "every
/// closed conversation should carry a tagged next action").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// What to do (`follow_up`, `send_proposal`, `call`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// When (UTC).
    pub due_at: Timestamp,
    /// Who.
    pub owner_id: AgentId,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Meta's message id (the dedupe key); `None` for notes.
    pub wamid: Option<String>,
    /// Who wrote it.
    pub direction: Direction,
    /// Meta's `type` (`text`, `image`, `interactive`, …).
    pub message_type: String,
    /// Text or caption or chosen title.
    pub text: Option<String>,
    /// Media object (id, mime type, sha256, filename) when present.
    pub media: Option<Value>,
    /// Reply context (replied-to wamid, forwarded flags, product).
    pub context: Option<Value>,
    /// Click-to-WhatsApp referral on this message.
    pub referral: Option<Value>,
    /// Meta's message object as received, unknown fields included.
    pub raw: Value,
    /// Meta's timestamp (send time).
    pub sent_at: Timestamp,
    /// When we received it.
    pub received_at: Timestamp,
    /// Inbound: `received`; outbound: `pending`, `sent`, …
    pub status: String,
    /// Triage of this message.
    pub triage: Option<TriageResult>,
}

/// A stored message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Meta's message id.
    pub wamid: Option<String>,
    /// Who wrote it.
    pub direction: Direction,
    /// Meta's `type`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Text, caption or chosen title.
    pub text: Option<String>,
    /// Media object.
    pub media: Option<Value>,
    /// Reply context.
    pub context: Option<Value>,
    /// Referral.
    pub referral: Option<Value>,
    /// Delivery status.
    pub status: String,
    /// Meta's send time.
    pub timestamp: Timestamp,
    /// Our receive time.
    pub received_at: Timestamp,
    /// Set when the customer edited it.
    pub edited_at: Option<Timestamp>,
    /// Set when the customer deleted it.
    pub revoked_at: Option<Timestamp>,
    /// Triage of this message.
    pub triage: Option<TriageResult>,
}

/// A delivery status from a `statuses[]` webhook.
#[derive(Debug, Clone)]
pub struct NewStatus {
    /// The wamid of the message the status is about.
    pub wamid: String,
    /// `sent`, `delivered`, `read`, `played`, `failed`, …
    pub status: String,
    /// Order for the never-backwards rule (higher wins; failed is terminal).
    pub rank: u8,
    /// Meta's timestamp.
    pub at: Timestamp,
    /// The status object as received.
    pub raw: Value,
}

/// What applying a status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// New (wamid, status) pair; the message moved forward if it is ours.
    Recorded {
        /// The stored message's status changed.
        message_updated: bool,
    },
    /// Already recorded (a redelivery).
    Duplicate,
}

/// An assignment to record.
#[derive(Debug, Clone)]
pub struct NewAssignment {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The new assignee; `None` records a decision to leave it unassigned.
    pub agent_id: Option<AgentId>,
    /// The previous assignee, whose counter drops.
    pub previous_agent_id: Option<AgentId>,
    /// The contact, whose last agent becomes `agent_id`.
    pub contact_id: ContactId,
    /// Which step decided.
    pub rule: Rule,
    /// Why, in words.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// A recorded assignment.
#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    /// Id.
    pub id: i64,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The assignee (`None`: left unassigned).
    pub agent_id: Option<AgentId>,
    /// Which step decided.
    pub rule: Rule,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: Timestamp,
}

/// Queue filter and page.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// Only this status.
    pub status: Option<ConversationStatus>,
    /// Only this assignee.
    pub assignee_id: Option<AgentId>,
    /// Only unassigned conversations.
    pub unassigned: bool,
    /// Only this team.
    pub team_id: Option<TeamId>,
    /// Only this category.
    pub category: Option<Category>,
    /// Page size (1–500).
    pub limit: u32,
    /// Continue after this position.
    pub after: Option<QueueCursor>,
}

/// A position in the queue order: (due time in ms, or `i64::MAX` for none; id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCursor {
    /// First-response due time in Unix milliseconds, `i64::MAX` when none.
    pub due_ms: i64,
    /// Conversation id.
    pub id: ConversationId,
}

/// A conversation with the contact and inbox it belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// The customer.
    pub contact: Contact,
    /// The business number.
    pub inbox: Inbox,
}

/// One page of the queue.
#[derive(Debug, Clone)]
pub struct Page {
    /// Items in queue order.
    pub items: Vec<ConversationSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<QueueCursor>,
}

/// A conversation with everything an agent needs.
#[derive(Debug, Clone)]
pub struct ConversationDetail {
    /// Summary.
    pub summary: ConversationSummary,
    /// Messages, oldest first.
    pub messages: Vec<Message>,
    /// Assignment history, oldest first.
    pub assignments: Vec<Assignment>,
    /// Escalations, oldest first.
    pub escalations: Vec<Escalation>,
    /// SLA events, oldest first.
    pub sla_events: Vec<SlaEvent>,
}

/// Live queue counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Conversations not resolved.
    pub open: u64,
    /// Open and waiting for a reply.
    pub waiting: u64,
    /// Open with no assignee.
    pub unassigned: u64,
    /// Waiting past the first-response due time.
    pub overdue: u64,
}

/// Row counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Raw deliveries.
    pub deliveries: u64,
    /// Dead letters among them.
    pub dead_letters: u64,
    /// Messages.
    pub messages: u64,
    /// Conversations.
    pub conversations: u64,
    /// Contacts.
    pub contacts: u64,
    /// Status records.
    pub statuses: u64,
    /// Kept non-message webhook items.
    pub webhook_events: u64,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Warn the assignee: first response at the warning threshold.
    FirstResponseWarning,
    /// First response missed: reassign and escalate.
    FirstResponseBreach,
    /// Warn: next response.
    NextResponseWarning,
    /// Next response missed.
    NextResponseBreach,
    /// Warn: resolution.
    ResolutionWarning,
    /// Resolution missed.
    ResolutionBreach,
    /// Breach + `supervisor_after` with still no reply: escalate to the supervisor.
    SupervisorEscalation,
    /// The previous agent's grace period ended: assign from the pool.
    ContinuityGrace,
    /// After hours: the team opens; assign the conversation.
    Callback,
    /// The quiet period after a conversation's first message ended: send
    /// the automatic first response.
    AutoAck,
    /// A handoff was not acknowledged in time: escalate.
    HandoffAck,
    /// A resolved conversation's next action is due: reopen it for its owner.
    NextAction,
    /// The reopened next action was ignored: escalate.
    NextActionIgnored,
    /// A snooze ended: reopen.
    Unsnooze,
    /// An evaluating prospect has been silent since our reply: remind the assignee.
    FollowUpReminder,
    /// Days 4–7 of silence: offer a re-engagement template.
    Reengagement,
    /// Silent for the dormant period: park the conversation.
    Dormant,
}

impl TimerKind {
    /// Every kind.
    pub const ALL: &'static [TimerKind] = &[
        TimerKind::FirstResponseWarning,
        TimerKind::FirstResponseBreach,
        TimerKind::NextResponseWarning,
        TimerKind::NextResponseBreach,
        TimerKind::ResolutionWarning,
        TimerKind::ResolutionBreach,
        TimerKind::SupervisorEscalation,
        TimerKind::ContinuityGrace,
        TimerKind::Callback,
        TimerKind::AutoAck,
        TimerKind::HandoffAck,
        TimerKind::NextAction,
        TimerKind::NextActionIgnored,
        TimerKind::Unsnooze,
        TimerKind::FollowUpReminder,
        TimerKind::Reengagement,
        TimerKind::Dormant,
    ];

    /// The snake_case word stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimerKind::FirstResponseWarning => "first_response_warning",
            TimerKind::FirstResponseBreach => "first_response_breach",
            TimerKind::NextResponseWarning => "next_response_warning",
            TimerKind::NextResponseBreach => "next_response_breach",
            TimerKind::ResolutionWarning => "resolution_warning",
            TimerKind::ResolutionBreach => "resolution_breach",
            TimerKind::SupervisorEscalation => "supervisor_escalation",
            TimerKind::ContinuityGrace => "continuity_grace",
            TimerKind::Callback => "callback",
            TimerKind::AutoAck => "auto_ack",
            TimerKind::HandoffAck => "handoff_ack",
            TimerKind::NextAction => "next_action",
            TimerKind::NextActionIgnored => "next_action_ignored",
            TimerKind::Unsnooze => "unsnooze",
            TimerKind::FollowUpReminder => "follow_up_reminder",
            TimerKind::Reengagement => "reengagement",
            TimerKind::Dormant => "dormant",
        }
    }

    /// Parses the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// A timer to start (or move, if one of its kind is pending).
#[derive(Debug, Clone)]
pub struct NewTimer {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// What it does.
    pub kind: TimerKind,
    /// When it fires (UTC).
    pub due_at: Timestamp,
    /// Extra data for the action.
    pub payload: Option<Value>,
    /// When it was scheduled.
    pub at: Timestamp,
}

/// A claimed timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timer {
    /// Id.
    pub id: i64,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// What it does.
    pub kind: TimerKind,
    /// When it was due.
    pub due_at: Timestamp,
    /// Extra data.
    pub payload: Option<Value>,
    /// Claims so far (more than one means a worker died holding it).
    pub attempts: u32,
}

/// Who an escalation goes to and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationLevel {
    /// Triage raised an escalation reason (complaint, legal, …).
    Triage,
    /// The first-response target was missed; the conversation was reassigned.
    Breach,
    /// Still no reply `supervisor_after` the breach.
    Supervisor,
    /// A handoff was not acknowledged in time.
    Handoff,
    /// A resolved conversation's next action came due and was ignored.
    NextAction,
    /// A follow-up is due (silent prospect, re-engagement window).
    FollowUp,
}

impl EscalationLevel {
    /// The snake_case word.
    pub const fn as_str(self) -> &'static str {
        match self {
            EscalationLevel::Triage => "triage",
            EscalationLevel::Breach => "breach",
            EscalationLevel::Supervisor => "supervisor",
            EscalationLevel::Handoff => "handoff",
            EscalationLevel::NextAction => "next_action",
            EscalationLevel::FollowUp => "follow_up",
        }
    }

    /// Parses the word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "triage" => EscalationLevel::Triage,
            "breach" => EscalationLevel::Breach,
            "supervisor" => EscalationLevel::Supervisor,
            "handoff" => EscalationLevel::Handoff,
            "next_action" => EscalationLevel::NextAction,
            "follow_up" => EscalationLevel::FollowUp,
            _ => return None,
        })
    }
}

/// An escalation to record.
#[derive(Debug, Clone)]
pub struct NewEscalation {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Level.
    pub level: EscalationLevel,
    /// Why, in words.
    pub reason: String,
    /// Who must act; `None` when nobody could be found (still listed).
    pub target_agent_id: Option<AgentId>,
    /// When.
    pub at: Timestamp,
}

/// A recorded escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// Id.
    pub id: i64,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Level.
    pub level: EscalationLevel,
    /// Why.
    pub reason: String,
    /// Who must act.
    pub target_agent_id: Option<AgentId>,
    /// When raised.
    pub created_at: Timestamp,
    /// When acknowledged.
    pub acknowledged_at: Option<Timestamp>,
    /// By whom.
    pub acknowledged_by: Option<AgentId>,
}

/// An SLA event to record.
#[derive(Debug, Clone)]
pub struct NewSlaEvent {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Which clock.
    pub clock: switchboard_core::sla::SlaClock,
    /// `warning`, `miss` or `hit`.
    pub event: SlaEventKind,
    /// The clock's due time.
    pub due_at: Timestamp,
    /// When it happened.
    pub at: Timestamp,
    /// The assignee at the time (who is notified of a warning).
    pub agent_id: Option<AgentId>,
}

/// Kinds of SLA events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaEventKind {
    /// Warning threshold reached.
    Warning,
    /// Target missed.
    Miss,
    /// Target met.
    Hit,
}

impl SlaEventKind {
    /// The snake_case word.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaEventKind::Warning => "warning",
            SlaEventKind::Miss => "miss",
            SlaEventKind::Hit => "hit",
        }
    }
}

/// A recorded SLA event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaEvent {
    /// Id.
    pub id: i64,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Which clock (`first_response`, `next_response`, `resolution`).
    pub target: String,
    /// `warning`, `miss` or `hit`.
    pub event: String,
    /// The clock's due time.
    pub due_at: Timestamp,
    /// When.
    pub at: Timestamp,
    /// The agent notified.
    pub agent_id: Option<AgentId>,
}

/// Filter of `list_escalations`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscalationFilter {
    /// Only those targeting this agent.
    pub target_agent_id: Option<AgentId>,
    /// Only unacknowledged ones.
    pub unacknowledged: bool,
    /// At most this many (newest first).
    pub limit: u32,
}

/// Kinds of outbound effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// `POST /{phone_number_id}/messages` with a message body.
    WhatsappMessage,
    /// `POST /{phone_number_id}/messages` marking a message read.
    WhatsappRead,
}

impl OutboxKind {
    /// The stored word.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxKind::WhatsappMessage => "whatsapp_message",
            OutboxKind::WhatsappRead => "whatsapp_read",
        }
    }

    /// Parses the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "whatsapp_message" => Some(OutboxKind::WhatsappMessage),
            "whatsapp_read" => Some(OutboxKind::WhatsappRead),
            _ => None,
        }
    }
}

/// An outbound effect to deliver.
#[derive(Debug, Clone)]
pub struct NewOutbox {
    /// What it is.
    pub kind: OutboxKind,
    /// Unique per effect; writing the same key twice is a no-op.
    pub idempotency_key: String,
    /// The conversation it belongs to.
    pub conversation_id: Option<ConversationId>,
    /// The outbound message row it sends.
    pub message_id: Option<MessageId>,
    /// The business number to send from.
    pub phone_number_id: String,
    /// wa_id or BSUID of the recipient (for per-recipient pacing).
    pub recipient: String,
    /// The Graph API request body.
    pub payload: Value,
    /// When it may be sent first.
    pub at: Timestamp,
}

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxItem {
    /// Id.
    pub id: i64,
    /// What it is.
    pub kind: OutboxKind,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Conversation.
    pub conversation_id: Option<ConversationId>,
    /// Outbound message row.
    pub message_id: Option<MessageId>,
    /// Business number.
    pub phone_number_id: String,
    /// Recipient.
    pub recipient: String,
    /// Request body.
    pub payload: Value,
    /// Delivery attempts so far, this claim included.
    pub attempts: u32,
    /// `pending`, `sent`, `failed` or `dead`.
    pub status: String,
    /// Last error text.
    pub last_error: Option<String>,
    /// Last Meta error code.
    pub last_code: Option<i64>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum OutboxResult {
    /// Accepted by Meta (with the message id it returned, for messages).
    Sent {
        /// The wamid Meta assigned.
        wamid: Option<String>,
    },
    /// Try again at `at`.
    Retry {
        /// When.
        at: Timestamp,
        /// Why.
        error: String,
        /// Meta's code, if any.
        code: Option<i64>,
    },
    /// Not attempted (pacing): try at `at`; does not count as an attempt.
    Defer {
        /// When.
        at: Timestamp,
    },
    /// Will never succeed (`failed`), or gave up after retries (`dead`).
    Failed {
        /// `failed` or `dead`.
        dead: bool,
        /// Why.
        error: String,
        /// Meta's code, if any.
        code: Option<i64>,
    },
}

/// A handoff to record.
#[derive(Debug, Clone)]
pub struct NewHandoff {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Who had it (none: the bot or the unassigned queue).
    pub from_agent_id: Option<AgentId>,
    /// Who receives it.
    pub to_agent_id: AgentId,
    /// Why.
    pub reason: String,
    /// Key facts for the receiver.
    pub summary: Value,
    /// When.
    pub at: Timestamp,
}

/// A handoff with context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handoff {
    /// Id.
    pub id: i64,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// From.
    pub from_agent_id: Option<AgentId>,
    /// To.
    pub to_agent_id: AgentId,
    /// Why.
    pub reason: String,
    /// Key facts.
    pub summary: Value,
    /// When.
    pub created_at: Timestamp,
    /// When the receiver acknowledged it.
    pub acknowledged_at: Option<Timestamp>,
}

/// A message template as synced from Meta.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateRecord {
    /// WABA.
    pub waba_id: String,
    /// Meta's template id.
    pub meta_id: Option<String>,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, …
    pub status: String,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub category: Option<String>,
    /// Components as Meta returns them.
    pub components: Value,
    /// Placeholders per component.
    pub placeholders: Value,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A cycle to store, with the local day it opened on (reporting time zone).
#[derive(Debug, Clone)]
pub struct CycleRecord {
    /// The cycle.
    pub cycle: switchboard_core::kpi::Cycle,
    /// Local day of `cycle.opened_at`.
    pub day: jiff::civil::Date,
}

/// One day's aggregate for one dimension value (`dimension: None`: the
/// day's total).
#[derive(Debug, Clone)]
pub struct DailyAggregate {
    /// Local day.
    pub day: jiff::civil::Date,
    /// The dimension (`None`: total).
    pub dimension: Option<switchboard_core::kpi::Dimension>,
    /// The dimension's value (`None`: cycles without one).
    pub key: Option<String>,
    /// The KPIs' accumulated inputs.
    pub acc: switchboard_core::kpi::KpiAccumulator,
}

/// A conversation as the transcript sampler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedConversation {
    /// Id.
    pub id: ConversationId,
    /// Final intent of its first cycle.
    pub intent: Option<String>,
    /// Language cohort.
    pub language: Option<String>,
}
