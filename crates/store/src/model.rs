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
