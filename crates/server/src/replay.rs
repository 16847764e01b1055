//! Replay: past conversations through the service's own pipeline, in
//! simulated time, before go-live (issue #6; seeds: "replay at least 50 real
//! conversations per intent before production launch").
//!
//! Parts:
//! - [`Roster`] and [`SimAgent`]: the simulated team (skills, capacity,
//!   role, shift calendar, reply-time distribution as median and p90).
//! - [`run`]: feeds every customer message, as the Meta webhook it would
//!   have been, through [`Pipeline::ingest`] (the same threading, triage,
//!   policy, routing, SLA clocks and automatic first response as `serve`),
//!   on a manual clock, into an in-memory store (`switchboard-store-memory`:
//!   SQLite's behaviour, triggers included, held to the same conformance
//!   suite) or, when [`ReplayOptions::database`] names a file, into SQLite.
//!   Simulated agents acknowledge handoffs, answer after a sampled delay (as replies from the
//!   WhatsApp Business app, which is how the service learns of them), and
//!   resolve quiet conversations; the timer worker fires breaches,
//!   reassignments and escalations as time passes. Deterministic for a seed.
//! - [`ReplayReport`]: triage accuracy against labels, escalations, the KPIs
//!   of the run (first response against SLA targets, breaches, load per
//!   agent, handoffs) through the same rollup as `switchboard report`, and
//!   the seeds' launch gates as PASS/FAIL with a remediation list.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use switchboard_core::clock::{Clock, ManualClock};
use switchboard_core::duration::ConfigDuration;
use switchboard_core::ids::{AgentId, ConversationId, PhoneNumberId, WaId};
use switchboard_core::kpi::{Dimension, EventKind};
use switchboard_core::metrics::{Confusion, EscalationCounts};
use switchboard_core::model::{Availability, ConversationStatus, Direction, Priority, Role};
use switchboard_core::rng::SplitMix64;
use switchboard_replay::Transcript;
use switchboard_store::{
    ContactUpsert, InboxUpsert, NewAgent, NewDelivery, NewTeam, Store, StoreError, StoreResult,
    StoreTx,
};
use switchboard_store_memory::MemoryStore;
use switchboard_store_sqlite::SqliteStore;

use crate::config::Config;
use crate::pipeline::{BatchState, Pipeline};
use crate::reports::{ReportRuntime, Summary};

/// The business number replayed conversations arrive on when the input
/// does not name one.
pub const DEFAULT_PHONE_NUMBER_ID: &str = "100000000000001";

/// One simulated agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimAgent {
    /// Name (unique).
    pub name: String,
    /// `agent`, `senior`, `supervisor` or `admin`.
    #[serde(default = "default_role")]
    pub role: Role,
    /// Team name (created if missing).
    #[serde(default)]
    pub team: Option<String>,
    /// Skills (for skill routing: `[routing] intent_skills`).
    #[serde(default)]
    pub skills: Vec<String>,
    /// Open conversations at once.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Median time to answer a waiting customer.
    #[serde(default = "default_median")]
    pub reply_median: ConfigDuration,
    /// 90th percentile of that time (log-normal between the two).
    #[serde(default = "default_p90")]
    pub reply_p90: ConfigDuration,
    /// Shift calendar (a name under `[calendars]`): off shift, replies wait
    /// for the next opening. None: always on.
    #[serde(default)]
    pub calendar: Option<String>,
}

fn default_role() -> Role {
    Role::Agent
}
fn default_capacity() -> u32 {
    8
}
fn default_median() -> ConfigDuration {
    ConfigDuration::from_secs(180)
}
fn default_p90() -> ConfigDuration {
    ConfigDuration::from_secs(900)
}

/// The simulated team: `[[agents]]` entries in a TOML file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// The agents.
    pub agents: Vec<SimAgent>,
}

impl Default for Roster {
    /// Three agents and a senior on team `support`, a supervisor; replies in
    /// 3 minutes (median) / 15 minutes (p90), capacity 8.
    fn default() -> Self {
        let agent = |name: &str, role: Role| SimAgent {
            name: name.into(),
            role,
            team: Some("support".into()),
            skills: Vec::new(),
            capacity: default_capacity(),
            reply_median: default_median(),
            reply_p90: default_p90(),
            calendar: None,
        };
        Self {
            agents: vec![
                agent("Asha", Role::Agent),
                agent("Bilal", Role::Agent),
                agent("Chitra", Role::Agent),
                agent("Dev", Role::Senior),
                agent("Esha", Role::Supervisor),
            ],
        }
    }
}

impl Roster {
    /// Parses a roster file.
    ///
    /// # Errors
    /// The TOML error (with line and column), or an empty roster.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let r: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        if r.agents.is_empty() {
            return Err("the roster has no [[agents]]".into());
        }
        Ok(r)
    }
}

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Seed of the reply-time sampling.
    pub seed: u64,
    /// The simulated team.
    pub roster: Roster,
    /// A conversation nobody writes in for this long after a reply is resolved.
    pub resolve_after: SignedDuration,
    /// Simulated time kept running after the last message (late breaches).
    pub tail: SignedDuration,
    /// Replay into a SQLite database at this path (which must not exist)
    /// and keep it, instead of into memory.
    pub database: Option<std::path::PathBuf>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            roster: Roster::default(),
            resolve_after: SignedDuration::from_mins(30),
            tail: SignedDuration::from_hours(24),
            database: None,
        }
    }
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The input or options are unusable.
    #[error("{0}")]
    Invalid(String),
    /// The service could not start (rules, calendars, database).
    #[error(transparent)]
    Start(#[from] crate::StartError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reporting settings.
    #[error(transparent)]
    Reports(#[from] crate::reports::ReportError),
}

/// Triage measured against the labels present in the input.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TriageAccuracy {
    /// Messages with an expected intent.
    pub labelled: u64,
    /// Share of those predicted right.
    pub intent_accuracy: Option<f64>,
    /// Expected × predicted intents.
    pub intents: Confusion,
    /// Per intent: precision, recall, F1, support.
    pub per_intent: BTreeMap<String, switchboard_core::metrics::ClassScore>,
    /// Escalation against `expected.escalate`.
    pub escalation: EscalationCounts,
    /// Escalation recall.
    pub escalation_recall: Option<f64>,
    /// False-escalation rate.
    pub false_escalation_rate: Option<f64>,
    /// Expected × predicted categories, where labelled.
    pub categories: Confusion,
}

/// A launch gate.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    /// What it checks.
    pub name: String,
    /// `Some(true)` PASS, `Some(false)` FAIL, `None` not measurable from this input.
    pub pass: Option<bool>,
    /// The measured value in words.
    pub detail: String,
    /// What to fix, one item per failing element.
    pub remediation: Vec<String>,
}

/// What a replay measured.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// Seed.
    pub seed: u64,
    /// Rules version of the triage engine.
    pub rules_version: String,
    /// Conversations read.
    pub transcripts: u64,
    /// Customer messages replayed.
    pub messages: u64,
    /// Simulated replies by the roster.
    pub replies: u64,
    /// Conversations (service side; a transcript may reopen or split).
    pub conversations: u64,
    /// Simulated time span, first to last customer message.
    pub span_hours: f64,
    /// Triage against labels.
    pub triage: TriageAccuracy,
    /// Conversations per escalation reason raised by triage.
    pub escalation_reasons: BTreeMap<String, u64>,
    /// Escalations raised, by ladder level (`triage`, `handoff`, `breach`,
    /// `supervisor`, …).
    pub escalations: BTreeMap<String, u64>,
    /// KPIs overall and by intent.
    pub by_intent: Summary,
    /// KPIs by category (SLA attainment per category).
    pub by_category: Summary,
    /// Load and KPIs per agent.
    pub by_agent: Summary,
    /// The input's real first response times (where it has business
    /// replies), for comparison: median and p90 seconds.
    pub real_first_response: switchboard_core::kpi::Distribution,
    /// The seeds' launch gates.
    pub gates: Vec<Gate>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Inbound { t: usize, m: usize },
    Reply { conv: i64, agent: i64, token: u64 },
    Resolve { conv: i64 },
}

struct Sim {
    pipeline: Pipeline,
    clock: ManualClock,
    heap: BinaryHeap<Reverse<(Timestamp, u64, Ev)>>,
    seq: u64,
    rng: SplitMix64,
    /// Per agent id: reply-time median and p90 (seconds) and shift calendar.
    agents: HashMap<
        i64,
        (
            f64,
            f64,
            Option<switchboard_core::calendar::BusinessCalendar>,
        ),
    >,
    /// Conversation → (agent, token) of its scheduled reply.
    scheduled: HashMap<i64, (i64, u64)>,
    /// Conversations to look at again: waiting without a scheduled reply,
    /// or whose assignee a timer may have changed.
    unscheduled: BTreeSet<i64>,
    replies: u64,
    resolve_after: SignedDuration,
    disposition: String,
    transcripts: Arc<Vec<Transcript>>,
    wa_of: Vec<String>,
    /// Customer messages replayed so far.
    done: u64,
    /// Simulated time runs until here after the last event (late breaches).
    end: Timestamp,
    /// Triage of the replayed messages against their labels.
    triage: TriageAccuracy,
    /// Per conversation: escalation reasons triage raised, and the
    /// transcript it came from.
    conversations: BTreeMap<i64, (BTreeSet<String>, usize)>,
}

/// Simulation steps per write transaction.
const CHUNK_STEPS: usize = 2_000;

/// The name timers are leased under during a replay.
const WORKER: &str = "replay";

fn wa_for(index: usize) -> String {
    format!("9190{index:08}")
}

// The webhook bodies a replay feeds the pipeline, serialized straight from
// borrowed fields: building them as `serde_json::Value` trees first cost
// about 6 % of a replay.
#[derive(Serialize)]
struct Webhook<V> {
    object: &'static str,
    entry: [Entry<V>; 1],
}

#[derive(Serialize)]
struct Entry<V> {
    id: &'static str,
    changes: [Change<V>; 1],
}

#[derive(Serialize)]
struct Change<V> {
    field: &'static str,
    value: V,
}

#[derive(Serialize)]
struct Metadata<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

#[derive(Serialize)]
struct Profile<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct WebhookContact<'a> {
    profile: Profile<'a>,
    wa_id: &'a str,
}

#[derive(Serialize)]
struct Text<'a> {
    body: &'a str,
}

#[derive(Serialize)]
struct WebhookMessage<'a> {
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    id: &'a str,
    timestamp: String,
    #[serde(rename = "type")]
    kind: &'static str,
    text: Text<'a>,
}

#[derive(Serialize)]
struct Messages<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    contacts: [WebhookContact<'a>; 1],
    messages: [WebhookMessage<'a>; 1],
}

#[derive(Serialize)]
struct Echoes<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    message_echoes: [WebhookMessage<'a>; 1],
}

fn webhook<V: Serialize>(field: &'static str, value: V) -> Vec<u8> {
    // Serializing these plain structs cannot fail; an empty body would be
    // kept as a dead letter.
    serde_json::to_vec(&Webhook {
        object: "whatsapp_business_account",
        entry: [Entry {
            id: "replay",
            changes: [Change { field, value }],
        }],
    })
    .unwrap_or_default()
}

fn inbound_body(
    pnid: &str,
    wa: &str,
    name: &str,
    wamid: &str,
    at: Timestamp,
    text: &str,
) -> Vec<u8> {
    let text = if text.trim().is_empty() {
        switchboard_replay::MEDIA_OMITTED
    } else {
        text
    };
    webhook(
        "messages",
        Messages {
            messaging_product: "whatsapp",
            metadata: Metadata {
                display_phone_number: pnid,
                phone_number_id: pnid,
            },
            contacts: [WebhookContact {
                profile: Profile { name },
                wa_id: wa,
            }],
            messages: [WebhookMessage {
                from: wa,
                to: None,
                id: wamid,
                timestamp: at.as_second().to_string(),
                kind: "text",
                text: Text { body: text },
            }],
        },
    )
}

fn echo_body(pnid: &str, wa: &str, wamid: &str, at: Timestamp) -> Vec<u8> {
    webhook(
        "smb_message_echoes",
        Echoes {
            messaging_product: "whatsapp",
            metadata: Metadata {
                display_phone_number: pnid,
                phone_number_id: pnid,
            },
            message_echoes: [WebhookMessage {
                from: pnid,
                to: Some(wa),
                id: wamid,
                timestamp: at.as_second().to_string(),
                kind: "text",
                text: Text {
                    body: "(simulated reply)",
                },
            }],
        },
    )
}

impl Sim {
    fn push(&mut self, at: Timestamp, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    /// Schedules the assignee's reply to a waiting conversation.
    fn schedule_reply(&mut self, conv: i64, agent: i64, now: Timestamp) {
        self.unscheduled.remove(&conv);
        let Some((median, p90, calendar)) = self.agents.get(&agent).cloned() else {
            // Not a roster agent (cannot happen in a fresh database).
            return;
        };
        let start = match &calendar {
            Some(c) if !c.is_open(now) => c.next_open(now),
            _ => now,
        };
        let delay = self.rng.lognormal(median, p90);
        #[expect(clippy::cast_possible_truncation, reason = "seconds of a reply delay")]
        let at = start
            .checked_add(SignedDuration::from_millis((delay * 1000.0) as i64))
            .unwrap_or(start);
        self.seq += 1;
        let token = self.seq;
        self.scheduled.insert(conv, (agent, token));
        self.push(at, Ev::Reply { conv, agent, token });
    }

    /// Looks again at conversations that may need a (new) reply: a reply is
    /// scheduled for the current assignee of every waiting conversation.
    async fn check_unscheduled<T: StoreTx>(&mut self, tx: &mut T) -> StoreResult<()> {
        let now = self.clock.now();
        for id in std::mem::take(&mut self.unscheduled) {
            let Some(c) = tx.conversation(ConversationId(id)).await? else {
                continue;
            };
            if c.status == ConversationStatus::Resolved || c.waiting_since.is_none() {
                continue;
            }
            match (c.assignee_id, self.scheduled.get(&id)) {
                (Some(a), Some((s, _))) if *s == a.0 => {}
                (Some(a), _) => self.schedule_reply(id, a.0, now),
                // Unassigned (after hours, no capacity): wait for routing.
                (None, _) => {
                    self.unscheduled.insert(id);
                }
            }
        }
        Ok(())
    }

    /// Runs simulated time forward inside `tx` for up to `budget` steps;
    /// true when nothing is left before the end.
    async fn run_chunk<T: StoreTx>(&mut self, tx: &mut T, budget: usize) -> StoreResult<bool> {
        let mut steps = 0;
        while steps < budget {
            steps += 1;
            let next_event = self.heap.peek().map(|Reverse((t, _, _))| *t);
            let next_timer = tx.next_timer_due().await?.filter(|t| *t <= self.end);
            let timer_first = match (next_event, next_timer) {
                (None, None) => return Ok(true),
                (Some(e), Some(t)) => t <= e,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            if timer_first {
                if let Some(t) = next_timer
                    && t > self.clock.now()
                {
                    self.clock.set(t);
                }
                // A fired timer (breach reassignment, after-hours callback)
                // may have moved its waiting conversation to someone else.
                let touched =
                    crate::timers::fire_due_in(&self.pipeline, tx, WORKER, self.clock.now())
                        .await?;
                self.unscheduled.extend(touched.iter().map(|c| c.0));
                self.check_unscheduled(tx).await?;
                continue;
            }
            let Some(at) = next_event else {
                return Ok(true);
            };
            if at > self.clock.now() {
                self.clock.set(at);
            }
            let mut batch = Vec::new();
            while let Some(Reverse((t2, _, _))) = self.heap.peek() {
                if *t2 != at {
                    break;
                }
                if let Some(Reverse((_, _, ev))) = self.heap.pop() {
                    batch.push(ev);
                }
            }
            for ev in batch {
                match ev {
                    Ev::Inbound { t, m } => self.inbound(tx, t, m, at).await?,
                    Ev::Reply { conv, agent, token } => {
                        if self.scheduled.get(&conv) == Some(&(agent, token)) {
                            self.scheduled.remove(&conv);
                            self.reply(tx, conv, agent, at).await?;
                        }
                    }
                    Ev::Resolve { conv } => self.resolve(tx, conv, at).await?,
                }
            }
            self.check_unscheduled(tx).await?;
        }
        Ok(false)
    }

    /// Hands `body` to the pipeline as one webhook delivery received at
    /// `at`, exactly as live intake does (unsigned: the replay built it).
    async fn deliver<T: StoreTx>(
        &mut self,
        tx: &mut T,
        body: Vec<u8>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut state = BatchState::default();
        self.pipeline
            .ingest(
                tx,
                &mut state,
                &NewDelivery {
                    received_at: at,
                    body,
                    signature: None,
                },
            )
            .await?;
        Ok(())
    }

    /// One customer message, as the webhook it would have been.
    async fn inbound<T: StoreTx>(
        &mut self,
        tx: &mut T,
        t: usize,
        m: usize,
        at: Timestamp,
    ) -> StoreResult<()> {
        let transcripts = self.transcripts.clone();
        let (Some(tr), Some(wa)) = (transcripts.get(t), self.wa_of.get(t).cloned()) else {
            return Ok(());
        };
        let Some(msg) = tr.messages.get(m) else {
            return Ok(());
        };
        let pnid = tr
            .business_phone
            .as_deref()
            .filter(|p| PhoneNumberId::parse(p).is_ok())
            .unwrap_or(DEFAULT_PHONE_NUMBER_ID)
            .to_owned();
        let name = msg.author.clone().unwrap_or_else(|| "Customer".into());
        let body = inbound_body(
            &pnid,
            &wa,
            &name,
            &format!("replay-{t}-{m}"),
            msg.at,
            &msg.text,
        );
        self.deliver(tx, body, at).await?;
        self.done += 1;
        let (Ok(wa_id), Ok(pn)) = (WaId::parse(&wa), PhoneNumberId::parse(&pnid)) else {
            return Ok(());
        };
        let contact = tx
            .upsert_contact(&ContactUpsert {
                wa_id: Some(wa_id),
                user_id: None,
                name: Some(name),
                username: None,
                at,
            })
            .await?;
        let inbox = tx
            .upsert_inbox(&InboxUpsert {
                phone_number_id: pn,
                display_phone_number: None,
                waba_id: None,
                at,
            })
            .await?;
        let Some(c) = tx.active_conversation(contact.id, inbox.id).await? else {
            return Ok(());
        };
        if c.waiting_since.is_some() {
            self.unscheduled.insert(c.id.0);
        }
        // The triage the service stored with this message.
        let wamid = format!("replay-{t}-{m}");
        let stored = tx.recent_messages(c.id, 8).await?;
        let Some(pred) = stored
            .iter()
            .find(|x| x.wamid.as_deref() == Some(wamid.as_str()))
            .and_then(|x| x.triage.as_ref())
        else {
            return Ok(());
        };
        let entry = self
            .conversations
            .entry(c.id.0)
            .or_insert_with(|| (BTreeSet::new(), t));
        entry
            .0
            .extend(pred.escalation_reasons.iter().map(ToString::to_string));
        if let Some(expected) = &msg.expected {
            if let Some(intent) = &expected.intent {
                self.triage.labelled += 1;
                self.triage.intents.add(intent, &pred.intent);
            }
            if let Some(cat) = expected.category {
                self.triage
                    .categories
                    .add(cat.as_str(), pred.category.as_str());
            }
            if let Some(esc) = expected.escalate {
                self.triage.escalation.add(esc, pred.escalate);
            }
        }
        Ok(())
    }

    /// The assignee acknowledges any open handoff and answers (a reply from
    /// the WhatsApp Business app: the echo webhook is how the service sees
    /// it); the conversation is resolved once it stays quiet.
    async fn reply<T: StoreTx>(
        &mut self,
        tx: &mut T,
        conv: i64,
        agent: i64,
        at: Timestamp,
    ) -> StoreResult<()> {
        let Some(c) = tx.conversation(ConversationId(conv)).await? else {
            return Ok(());
        };
        if c.status == ConversationStatus::Resolved || c.waiting_since.is_none() {
            return Ok(());
        }
        if c.assignee_id != Some(AgentId(agent)) {
            self.unscheduled.insert(conv);
            return Ok(());
        }
        if let Some(h) = tx.open_handoff(c.id).await?
            && h.to_agent_id == AgentId(agent)
        {
            tx.ack_handoff(h.id, at).await?;
        }
        let (Some(contact), Some(inbox)) =
            (tx.contact(c.contact_id).await?, tx.inbox(c.inbox_id).await?)
        else {
            return Ok(());
        };
        let Some(wa) = contact.wa_id else {
            return Ok(());
        };
        self.replies += 1;
        let wamid = format!("replay-out-{}", self.replies);
        let body = echo_body(inbox.phone_number_id.as_str(), wa.as_str(), &wamid, at);
        self.deliver(tx, body, at).await?;
        let quiet = at.checked_add(self.resolve_after).unwrap_or(at);
        self.push(quiet, Ev::Resolve { conv });
        Ok(())
    }

    /// Resolves a conversation that stayed quiet since its last reply.
    async fn resolve<T: StoreTx>(
        &mut self,
        tx: &mut T,
        conv: i64,
        at: Timestamp,
    ) -> StoreResult<()> {
        let Some(mut c) = tx.conversation(ConversationId(conv)).await? else {
            return Ok(());
        };
        if c.status == ConversationStatus::Resolved || c.waiting_since.is_some() {
            return Ok(());
        }
        let quiet_until = c
            .last_message_at
            .checked_add(self.resolve_after)
            .unwrap_or(at);
        if quiet_until > at {
            self.push(quiet_until, Ev::Resolve { conv });
            return Ok(());
        }
        self.pipeline
            .resolve(tx, &mut c, &self.disposition, None, at)
            .await?;
        tx.save_conversation(&c).await
    }
}

/// Replays `transcripts` through the service configured by `config` (its
/// rules, SLA policies, calendars, routing and workflow; its database URL
/// is ignored), with a simulated roster, and reports. The store is in
/// memory unless `options.database` asks for a SQLite file.
///
/// `progress(done, total)` is called as customer messages are replayed.
///
/// # Errors
/// [`ReplayError`] for unusable input, rules or calendars, or store failures.
pub async fn run(
    mut config: Config,
    transcripts: &[Transcript],
    options: &ReplayOptions,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<ReplayReport, ReplayError> {
    let first = transcripts
        .iter()
        .flat_map(|t| t.messages.iter())
        .filter(|m| m.direction == Direction::Inbound)
        .map(|m| m.at)
        .min()
        .ok_or_else(|| ReplayError::Invalid("the input has no customer messages".into()))?;
    let last = transcripts
        .iter()
        .flat_map(|t| t.messages.iter())
        .filter(|m| m.direction == Direction::Inbound)
        .map(|m| m.at)
        .max()
        .unwrap_or(first);
    // A replay is only as good as its prediction of `serve`, so it runs the
    // very pipeline; the database underneath is in memory (the same
    // behaviour, checked by the same conformance suite) unless a SQLite
    // file to inspect afterwards was asked for.
    let engine = crate::load_engine(&config)?;
    let Some(path) = options.database.clone() else {
        let store = MemoryStore::new();
        let report = simulate(
            &store,
            config,
            engine,
            transcripts,
            options,
            progress,
            (first, last),
        )
        .await;
        // Freeing every row of the run measured at a tenth of a replay's
        // time; the report does not wait for it.
        let freed = std::thread::Builder::new()
            .name("switchboard-replay-free".into())
            .spawn(move || drop(store));
        if let Err(e) = freed {
            tracing::debug!(error = %e, "freeing the replay's store on this thread");
        }
        return report;
    };
    if path.exists() {
        return Err(ReplayError::Invalid(format!(
            "{} exists; replay writes a fresh database",
            path.display()
        )));
    }
    config.database_url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&config.database_url)
        .await
        .map_err(crate::StartError::from)?;
    let report = simulate(
        &store,
        config,
        engine,
        transcripts,
        options,
        progress,
        (first, last),
    )
    .await;
    store.close().await;
    report
}

/// The replay proper, on any [`Store`] (fresh and empty); the last
/// argument holds the first and the last customer message's send time.
async fn simulate<S: Store>(
    store: &S,
    config: Config,
    engine: switchboard_core::triage::TriageEngine,
    transcripts: &[Transcript],
    options: &ReplayOptions,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    (first, last): (Timestamp, Timestamp),
) -> Result<ReplayReport, ReplayError> {
    let rules_version = engine.version().to_owned();
    let start = first
        .checked_sub(SignedDuration::from_secs(1))
        .unwrap_or(first);
    let clock = ManualClock::new(start);
    let sla = crate::sla::SlaRuntime::load(
        config.sla.clone(),
        &config.calendars,
        config.escalation.clone(),
        start,
    )
    .map_err(crate::StartError::from)?;
    let pipeline = Pipeline {
        engine: Arc::new(crate::pipeline::EngineSlot::new(engine)),
        sla: Arc::new(sla),
        routing: Arc::new(config.routing.clone()),
        workflow: Arc::new(config.workflow.clone()),
        // Automation answers first as it would live (its messages stay in
        // the outbox: nothing is sent).
        sending: true,
    };
    // The roster.
    let mut teams: BTreeMap<String, switchboard_core::ids::TeamId> = BTreeMap::new();
    let mut agents = HashMap::new();
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for a in &options.roster.agents {
        if !names.insert(a.name.as_str()) {
            return Err(ReplayError::Invalid(format!(
                "roster: agent {:?} appears twice",
                a.name
            )));
        }
        let team_id = match &a.team {
            None => None,
            Some(name) => match teams.get(name) {
                Some(id) => Some(*id),
                None => {
                    let team = store
                        .create_team(&NewTeam {
                            name: name.clone(),
                            skills: Vec::new(),
                            at: start,
                        })
                        .await?;
                    teams.insert(name.clone(), team.id);
                    Some(team.id)
                }
            },
        };
        let calendar = match &a.calendar {
            None => None,
            Some(name) => Some(
                config
                    .calendars
                    .get(name)
                    .ok_or_else(|| {
                        ReplayError::Invalid(format!(
                            "roster: agent {:?}: calendar {name:?} is not under [calendars]",
                            a.name
                        ))
                    })
                    .and_then(|spec| {
                        switchboard_core::calendar::BusinessCalendar::new(spec)
                            .map_err(|e| ReplayError::Invalid(format!("calendar {name}: {e}")))
                    })?,
            ),
        };
        let agent = store
            .create_agent(&NewAgent {
                name: a.name.clone(),
                email: format!("agent{}@replay.invalid", agents.len() + 1),
                role: a.role,
                team_id,
                skills: a.skills.clone(),
                capacity: a.capacity,
                availability: Availability::Online,
                token_sha256: crate::http::auth::token_hash(&format!("replay-{}", a.name)),
                at: start,
            })
            .await?;
        #[expect(clippy::cast_precision_loss, reason = "seconds")]
        agents.insert(
            agent.id.0,
            (
                a.reply_median.as_secs() as f64,
                a.reply_p90.as_secs() as f64,
                calendar,
            ),
        );
    }

    let disposition = ["resolved"]
        .into_iter()
        .map(str::to_owned)
        .chain(config.workflow.terminal_dispositions.iter().cloned())
        .find(|d| config.workflow.terminal_dispositions.contains(d))
        .ok_or_else(|| ReplayError::Invalid("[workflow] terminal_dispositions is empty".into()))?;

    // Customers: one contact per distinct name in the input.
    let mut contacts: HashMap<&str, usize> = HashMap::new();
    let mut wa_of: Vec<String> = Vec::with_capacity(transcripts.len());
    for t in transcripts {
        let n = contacts.len();
        let index = *contacts.entry(t.contact.as_str()).or_insert(n);
        wa_of.push(wa_for(index));
    }
    let end = last.checked_add(options.tail).unwrap_or(last);
    let mut sim = Sim {
        pipeline,
        clock: clock.clone(),
        heap: BinaryHeap::new(),
        seq: 0,
        rng: SplitMix64::new(options.seed),
        agents,
        scheduled: HashMap::new(),
        unscheduled: BTreeSet::new(),
        replies: 0,
        resolve_after: options.resolve_after,
        disposition,
        transcripts: Arc::new(transcripts.to_vec()),
        wa_of,
        done: 0,
        end,
        triage: TriageAccuracy::default(),
        conversations: BTreeMap::new(),
    };
    let mut total = 0u64;
    for (ti, t) in transcripts.iter().enumerate() {
        for (mi, m) in t.messages.iter().enumerate() {
            if m.direction == Direction::Inbound {
                sim.push(m.at, Ev::Inbound { t: ti, m: mi });
                total += 1;
            }
        }
    }

    // Simulated time runs inside write transactions of a few thousand
    // steps each: the same pipeline calls as live intake, without a thread
    // hand-off per message.
    loop {
        let (s, finished) = store
            .write(move |tx| {
                Box::pin(async move {
                    let mut sim = sim;
                    let finished = sim.run_chunk(tx, CHUNK_STEPS).await?;
                    Ok((sim, finished))
                })
            })
            .await?;
        sim = s;
        progress(sim.done, total);
        if finished {
            break;
        }
    }

    // Reports through the same rollup as `switchboard report`.
    let reports = ReportRuntime::from_config(&config)?;
    reports.rollup(store).await?;
    let (from, to) = (
        reports
            .today(first)
            .checked_sub(jiff::Span::new().days(1))
            .unwrap_or(reports.today(first)),
        reports.today(end),
    );
    let by_intent = reports
        .summary(store, from, to, Some(Dimension::Intent))
        .await?;
    let by_category = reports
        .summary(store, from, to, Some(Dimension::Category))
        .await?;
    let mut by_agent = reports
        .summary(store, from, to, Some(Dimension::Agent))
        .await?;
    crate::reports::label_groups(store, &mut by_agent).await?;

    // Escalations and SLA misses from the reporting log, read in one
    // transaction and tallied page by page (the log is the run's largest
    // table; gathering it into one list first cost 2 % of a replay).
    let (escalations, opened, late) = store
        .write(|tx| {
            Box::pin(async move {
                let mut tally = LogTally::default();
                let mut after = 0;
                loop {
                    let page = tx.report_events_after(after, 10_000).await?;
                    let Some(last) = page.last().map(|e| e.id) else {
                        return Ok((tally.escalations, tally.opened, tally.late));
                    };
                    after = last;
                    page.iter().for_each(|e| tally.add(e));
                }
            })
        })
        .await?;
    let mut late_high: Vec<String> = Vec::new();
    let mut by_conv: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut what_of: BTreeMap<i64, String> = BTreeMap::new();
    for ((conv, target), (ms, what)) in &late {
        by_conv.entry(*conv).or_default().push(format!(
            "{target} {}",
            late_by(SignedDuration::from_millis(*ms))
        ));
        what_of.insert(*conv, what.clone());
    }
    for (conv, misses) in by_conv {
        let transcript = sim
            .conversations
            .get(&conv)
            .and_then(|(_, t)| transcripts.get(*t))
            .map_or("?", |t| t.id.as_str());
        late_high.push(format!(
            "conversation {conv} (transcript {transcript}, {}): {}",
            what_of.get(&conv).map_or("", String::as_str),
            misses.join(", ")
        ));
    }
    let mut escalation_reasons: BTreeMap<String, u64> = BTreeMap::new();
    for (reasons, _) in sim.conversations.values() {
        for r in reasons {
            *escalation_reasons.entry(r.clone()).or_default() += 1;
        }
    }
    let intents: BTreeMap<String, u64> = by_intent
        .groups
        .iter()
        .map(|g| {
            (
                g.key.clone().unwrap_or_else(|| "(none)".into()),
                g.kpis.conversations,
            )
        })
        .collect();
    let conversations = opened;
    let mut triage = std::mem::take(&mut sim.triage);
    if triage.labelled > 0 {
        triage.intent_accuracy = Some(triage.intents.accuracy());
        triage.per_intent = triage.intents.scores();
    }
    triage.escalation_recall = triage.escalation.recall();
    triage.false_escalation_rate = triage.escalation.false_escalation_rate();

    let gates = gates(transcripts, &intents, conversations, &late_high);
    let real_first_response = real_first_response(transcripts);
    #[expect(clippy::cast_precision_loss, reason = "hours")]
    let span_hours = last.duration_since(first).as_secs() as f64 / 3600.0;
    Ok(ReplayReport {
        seed: options.seed,
        rules_version,
        transcripts: transcripts.len() as u64,
        messages: total,
        replies: sim.replies,
        conversations,
        span_hours,
        triage,
        escalation_reasons,
        escalations,
        by_intent,
        by_category,
        by_agent,
        real_first_response,
        gates,
    })
}

/// What a replay's report takes from the reporting log.
#[derive(Default)]
struct LogTally {
    /// Escalations by ladder level.
    escalations: BTreeMap<String, u64>,
    /// Conversations opened.
    opened: u64,
    /// Per urgent/high conversation and SLA target: the worst lateness and
    /// what the conversation was at the time.
    late: BTreeMap<(i64, String), (i64, String)>,
}

impl LogTally {
    fn add(&mut self, e: &switchboard_core::kpi::ReportEvent) {
        match e.kind {
            EventKind::ConversationOpened => self.opened += 1,
            EventKind::Escalation => {
                let level = e
                    .detail
                    .as_deref()
                    .and_then(|d| d.split(':').next())
                    .unwrap_or("unknown");
                *self.escalations.entry(level.to_owned()).or_default() += 1;
            }
            EventKind::SlaBreach
                if matches!(e.priority, Some(Priority::Urgent | Priority::High)) =>
            {
                let Some(conv) = e.conversation_id else {
                    return;
                };
                let what = format!(
                    "{} {}, intent {}",
                    e.priority.map_or("", |p| p.as_str()),
                    e.dims.category.map_or("untriaged", |c| c.as_str()),
                    e.dims.intent.as_deref().unwrap_or("-")
                );
                let key = (conv.0, e.detail.clone().unwrap_or_default());
                let v = e.value_ms.unwrap_or(0);
                let slot = self.late.entry(key).or_insert((v, what.clone()));
                if v >= slot.0 {
                    *slot = (v, what);
                }
            }
            _ => {}
        }
    }
}

fn late_by(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    if s >= 3600 {
        format!("missed by {}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("missed by {}m{:02}s", s / 60, s % 60)
    }
}

/// The seeds' launch gates.
fn gates(
    transcripts: &[Transcript],
    intents: &BTreeMap<String, u64>,
    conversations: u64,
    late_high: &[String],
) -> Vec<Gate> {
    // Top intents: the most frequent ones that together cover 80 % of
    // conversations.
    let mut ranked: Vec<(&String, &u64)> = intents.iter().filter(|(k, _)| *k != "(none)").collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let mut covered = 0u64;
    let mut top = Vec::new();
    for (intent, n) in ranked {
        if covered * 10 >= conversations * 8 {
            break;
        }
        covered += n;
        top.push((intent.clone(), *n));
    }
    let short: Vec<String> = top
        .iter()
        .filter(|(_, n)| *n < 50)
        .map(|(i, n)| {
            format!(
                "intent {i}: {n} conversations; replay {} more before launch",
                50 - n
            )
        })
        .collect();
    let coverage = Gate {
        name: "at least 50 conversations per top intent".into(),
        pass: Some(short.is_empty() && !top.is_empty()),
        detail: format!(
            "top intents (80 % of conversations): {}",
            top.iter()
                .map(|(i, n)| format!("{i} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        remediation: short,
    };

    let (mut labelled, mut acceptable) = (0u64, 0u64);
    let mut bad = Vec::new();
    for t in transcripts {
        for m in &t.messages {
            if m.direction == Direction::Outbound
                && m.automated
                && let Some(ok) = m.acceptable
            {
                labelled += 1;
                if ok {
                    acceptable += 1;
                } else if bad.len() < 20 {
                    bad.push(format!(
                        "transcript {}: automated reply {:?} marked unacceptable",
                        t.id,
                        truncate(&m.text, 80)
                    ));
                }
            }
        }
    }
    let rate = switchboard_core::kpi::rate(acceptable, labelled);
    let automated = Gate {
        name: "at least 80 % of automated replies acceptable".into(),
        pass: rate.map(|r| r >= 0.8),
        detail: match rate {
            Some(r) => format!(
                "{acceptable} of {labelled} labelled automated replies acceptable ({:.1} %)",
                r * 100.0
            ),
            None => {
                "not measured: no automated reply in the input carries an `acceptable` label".into()
            }
        },
        remediation: if rate.is_some_and(|r| r < 0.8) {
            bad
        } else {
            Vec::new()
        },
    };

    let sla = Gate {
        name: "no high-priority conversation left past its SLA".into(),
        pass: Some(late_high.is_empty()),
        detail: format!(
            "{} urgent or high-priority conversations missed an SLA target",
            late_high.len()
        ),
        remediation: late_high.iter().take(50).cloned().collect(),
    };
    vec![coverage, automated, sla]
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// First response times the input itself shows: the first business message
/// after the first customer message (or the outcome's `first_response_at`).
fn real_first_response(transcripts: &[Transcript]) -> switchboard_core::kpi::Distribution {
    let mut h = switchboard_core::kpi::Histogram::default();
    for t in transcripts {
        let Some(first_in) = t
            .messages
            .iter()
            .find(|m| m.direction == Direction::Inbound)
            .map(|m| m.at)
        else {
            continue;
        };
        let answered = t
            .outcome
            .as_ref()
            .and_then(|o| o.first_response_at)
            .or_else(|| {
                t.messages
                    .iter()
                    .find(|m| {
                        m.direction == Direction::Outbound && !m.automated && m.at >= first_in
                    })
                    .map(|m| m.at)
            });
        if let Some(a) = answered {
            h.add(i64::try_from(a.duration_since(first_in).as_millis()).unwrap_or(i64::MAX));
        }
    }
    h.distribution()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::{Value, json};

    use super::*;

    /// The bodies serialized from structs are the webhooks written out.
    #[test]
    fn webhook_bodies_are_metas_payloads() {
        let at: Timestamp = "2026-05-04T10:00:00Z".parse().unwrap();
        let inbound: Value = serde_json::from_slice(&inbound_body(
            "100000000000001",
            "919000000001",
            "Priya \"P\"",
            "replay-0-0",
            at,
            "price?",
        ))
        .unwrap();
        assert_eq!(
            inbound,
            json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": "replay", "changes": [{"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "100000000000001", "phone_number_id": "100000000000001"},
                    "contacts": [{"profile": {"name": "Priya \"P\""}, "wa_id": "919000000001"}],
                    "messages": [{"from": "919000000001", "id": "replay-0-0", "timestamp": at.as_second().to_string(), "type": "text", "text": {"body": "price?"}}]
                }}]}]
            })
        );
        let echo: Value = serde_json::from_slice(&echo_body(
            "100000000000001",
            "919000000001",
            "replay-out-1",
            at,
        ))
        .unwrap();
        assert_eq!(
            echo,
            json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": "replay", "changes": [{"field": "smb_message_echoes", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "100000000000001", "phone_number_id": "100000000000001"},
                    "message_echoes": [{"from": "100000000000001", "to": "919000000001", "id": "replay-out-1", "timestamp": at.as_second().to_string(), "type": "text", "text": {"body": "(simulated reply)"}}]
                }}]}]
            })
        );
    }
}
