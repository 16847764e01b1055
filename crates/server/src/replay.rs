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
//!   into a throwaway SQLite database, on a manual clock. Simulated agents
//!   acknowledge handoffs, answer after a sampled delay (as replies from the
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
use serde_json::json;
use switchboard_core::clock::{Clock, ManualClock};
use switchboard_core::duration::ConfigDuration;
use switchboard_core::ids::{AgentId, ConversationId, PhoneNumberId, WaId};
use switchboard_core::kpi::Dimension;
use switchboard_core::metrics::{Confusion, EscalationCounts};
use switchboard_core::model::{Availability, ConversationStatus, Direction, Priority, Role};
use switchboard_replay::Transcript;
use switchboard_store::{
    ContactUpsert, ConversationFilter, InboxUpsert, NewAgent, NewDelivery, NewTeam, Store,
    StoreError, StoreTx,
};
use switchboard_store_sqlite::SqliteStore;

use crate::config::Config;
use crate::pipeline::{BatchState, Pipeline};
use crate::reports::{ReportRuntime, Summary};
use crate::timers::TimerWorker;

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
    /// Keep the database here instead of a temporary file.
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

/// Splitmix64: a tiny, portable, seedable generator, so the same seed gives
/// the same replay on every machine and version.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    #[expect(clippy::cast_precision_loss, reason = "53-bit mantissa")]
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Log-normal with the given median and 90th percentile (seconds).
    fn lognormal(&mut self, median: f64, p90: f64) -> f64 {
        // Box-Muller; z_0.9 = 1.28155.
        let z = (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos();
        let sigma = (p90.max(median) / median.max(1.0)).ln() / 1.281_551_6;
        median.max(1.0) * (sigma * z).exp()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Inbound { t: usize, m: usize },
    Reply { conv: i64, agent: i64, token: u64 },
    Resolve { conv: i64 },
}

struct Sim {
    store: SqliteStore,
    pipeline: Pipeline,
    clock: ManualClock,
    timers: TimerWorker<SqliteStore>,
    heap: BinaryHeap<Reverse<(Timestamp, u64, Ev)>>,
    seq: u64,
    rng: Rng,
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
    /// Conversations waiting without a scheduled reply (unassigned, or the
    /// assignee changed).
    unscheduled: BTreeSet<i64>,
    replies: u64,
    resolve_after: SignedDuration,
    disposition: String,
}

fn wa_for(index: usize) -> String {
    format!("9190{index:08}")
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
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "replay", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": pnid, "phone_number_id": pnid},
            "contacts": [{"profile": {"name": name}, "wa_id": wa}],
            "messages": [{"from": wa, "id": wamid, "timestamp": at.as_second().to_string(), "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

fn echo_body(pnid: &str, wa: &str, wamid: &str, at: Timestamp) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "replay", "changes": [{"field": "smb_message_echoes", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": pnid, "phone_number_id": pnid},
            "message_echoes": [{"from": pnid, "to": wa, "id": wamid, "timestamp": at.as_second().to_string(), "type": "text", "text": {"body": "(simulated reply)"}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

impl Sim {
    fn push(&mut self, at: Timestamp, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    /// Schedules the assignee's reply to a waiting conversation.
    fn schedule_reply(&mut self, conv: i64, agent: i64, now: Timestamp) {
        let Some((median, p90, calendar)) = self.agents.get(&agent).cloned() else {
            // Not a roster agent (cannot happen in a fresh database): leave it waiting.
            self.unscheduled.insert(conv);
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
        self.unscheduled.remove(&conv);
        self.push(at, Ev::Reply { conv, agent, token });
    }

    /// Looks at conversations waiting without a scheduled reply (after
    /// timers reassign or callbacks assign them).
    async fn check_unscheduled(&mut self) -> Result<(), ReplayError> {
        if self.unscheduled.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = self.unscheduled.iter().copied().collect();
        let states = self
            .store
            .write(move |tx| {
                Box::pin(async move {
                    let mut out = Vec::new();
                    for id in ids {
                        out.push((id, tx.conversation(ConversationId(id)).await?));
                    }
                    Ok(out)
                })
            })
            .await?;
        let now = self.clock.now();
        for (id, conv) in states {
            match conv {
                Some(c)
                    if c.status != ConversationStatus::Resolved && c.waiting_since.is_some() =>
                {
                    if let Some(a) = c.assignee_id {
                        self.schedule_reply(id, a.0, now);
                    }
                }
                _ => {
                    self.unscheduled.remove(&id);
                }
            }
        }
        Ok(())
    }

    /// Fires every timer due up to `until`, in order, moving the clock.
    async fn run_timers_until(&mut self, until: Timestamp) -> Result<(), ReplayError> {
        loop {
            let Some(due) = self.store.next_timer_due().await? else {
                return Ok(());
            };
            if due > until {
                return Ok(());
            }
            if due > self.clock.now() {
                self.clock.set(due);
            }
            self.timers.run_once().await?;
            // Timers may have reassigned someone's waiting conversation.
            let waiting: Vec<i64> = self.scheduled.keys().copied().collect();
            self.unscheduled.extend(waiting);
            self.check_unscheduled().await?;
        }
    }
}

/// Replays `transcripts` through the service configured by `config` (its
/// rules, SLA policies, calendars, routing and workflow; its database URL
/// is ignored), with a simulated roster, and reports.
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
    let dir = tempfile::tempdir()
        .map_err(|e| ReplayError::Invalid(format!("cannot create a temporary directory: {e}")))?;
    let path = options
        .database
        .clone()
        .unwrap_or_else(|| dir.path().join("replay.db"));
    if options.database.is_some() && path.exists() {
        return Err(ReplayError::Invalid(format!(
            "{} exists; replay writes a fresh database",
            path.display()
        )));
    }
    config.database_url = format!("sqlite://{}", path.display());
    let engine = crate::load_engine(&config)?;
    let rules_version = engine.version().to_owned();
    let store = SqliteStore::connect(&config.database_url)
        .await
        .map_err(crate::StartError::from)?;
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
        engine: Arc::new(engine),
        sla: Arc::new(sla),
        routing: Arc::new(config.routing.clone()),
        workflow: Arc::new(config.workflow.clone()),
        // Automation answers first as it would live (its messages stay in
        // the outbox: nothing is sent).
        sending: true,
    };
    let timers = TimerWorker::new(
        store.clone(),
        pipeline.clone(),
        Arc::new(clock.clone()),
        "replay",
    );

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
    let mut sim = Sim {
        store: store.clone(),
        pipeline,
        clock: clock.clone(),
        timers,
        heap: BinaryHeap::new(),
        seq: 0,
        rng: Rng(options.seed),
        agents,
        scheduled: HashMap::new(),
        unscheduled: BTreeSet::new(),
        replies: 0,
        resolve_after: options.resolve_after,
        disposition,
    };

    // Customers: one contact per distinct name in the input.
    let mut contacts: HashMap<&str, usize> = HashMap::new();
    let mut wa_of: Vec<String> = Vec::with_capacity(transcripts.len());
    let mut total = 0u64;
    for (ti, t) in transcripts.iter().enumerate() {
        let n = contacts.len();
        let index = *contacts.entry(t.contact.as_str()).or_insert(n);
        wa_of.push(wa_for(index));
        for (mi, m) in t.messages.iter().enumerate() {
            if m.direction == Direction::Inbound {
                sim.push(m.at, Ev::Inbound { t: ti, m: mi });
                total += 1;
            }
        }
    }
    let pnid_of = |t: &Transcript| -> String {
        t.business_phone
            .as_deref()
            .filter(|p| PhoneNumberId::parse(p).is_ok())
            .unwrap_or(DEFAULT_PHONE_NUMBER_ID)
            .to_owned()
    };

    let mut done = 0u64;
    while let Some(Reverse((at, _, _))) = sim.heap.peek().cloned() {
        sim.run_timers_until(at).await?;
        if at > sim.clock.now() {
            sim.clock.set(at);
        }
        let mut batch = Vec::new();
        while let Some(Reverse((t2, _, _))) = sim.heap.peek() {
            if *t2 != at {
                break;
            }
            if let Some(Reverse((_, _, ev))) = sim.heap.pop() {
                batch.push(ev);
            }
        }
        // Customer messages of this instant: one transaction, as the
        // service's group commit would.
        let inbound: Vec<(String, String, String, String, Vec<u8>)> = batch
            .iter()
            .filter_map(|ev| match ev {
                Ev::Inbound { t, m } => {
                    let tr = &transcripts[*t];
                    let msg = &tr.messages[*m];
                    let pnid = pnid_of(tr);
                    let wa = wa_of[*t].clone();
                    let name = msg.author.clone().unwrap_or_else(|| "Customer".into());
                    let wamid = format!("replay-{t}-{m}");
                    let body = inbound_body(&pnid, &wa, &name, &wamid, msg.at, &msg.text);
                    Some((pnid, wa, name, wamid, body))
                }
                _ => None,
            })
            .collect();
        if !inbound.is_empty() {
            done += inbound.len() as u64;
            let pipeline = sim.pipeline.clone();
            let states = sim
                .store
                .write(move |tx| {
                    Box::pin(async move {
                        let mut state = BatchState::default();
                        let mut out = Vec::new();
                        for (pnid, wa, name, _, body) in inbound {
                            pipeline
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
                            let (Ok(wa_id), Ok(pn)) =
                                (WaId::parse(&wa), PhoneNumberId::parse(&pnid))
                            else {
                                continue;
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
                            if let Some(c) = tx.active_conversation(contact.id, inbox.id).await? {
                                out.push((c.id.0, c.waiting_since.is_some(), c.assignee_id));
                            }
                        }
                        Ok(out)
                    })
                })
                .await?;
            for (conv, waiting, assignee) in states {
                if !waiting {
                    continue;
                }
                match (assignee, sim.scheduled.get(&conv)) {
                    (Some(a), Some((s, _))) if *s == a.0 => {}
                    (Some(a), _) => sim.schedule_reply(conv, a.0, at),
                    (None, _) => {
                        sim.unscheduled.insert(conv);
                    }
                }
            }
            if done % 100 < 8 || done == total {
                progress(done, total);
            }
        }
        for ev in batch {
            match ev {
                Ev::Inbound { .. } => {}
                Ev::Reply { conv, agent, token } => {
                    if sim.scheduled.get(&conv) != Some(&(agent, token)) {
                        continue;
                    }
                    sim.scheduled.remove(&conv);
                    reply(&mut sim, conv, agent, at).await?;
                }
                Ev::Resolve { conv } => resolve(&mut sim, conv, at).await?,
            }
        }
        sim.check_unscheduled().await?;
    }
    let end = last.checked_add(options.tail).unwrap_or(last);
    sim.run_timers_until(end).await?;
    progress(total, total);

    // Reports through the same rollup as `switchboard report`.
    let reports = ReportRuntime::from_config(&config)?;
    reports.rollup(&store).await?;
    let (from, to) = (
        reports
            .today(first)
            .checked_sub(jiff::Span::new().days(1))
            .unwrap_or(reports.today(first)),
        reports.today(end),
    );
    let by_intent = reports
        .summary(&store, from, to, Some(Dimension::Intent))
        .await?;
    let by_category = reports
        .summary(&store, from, to, Some(Dimension::Category))
        .await?;
    let mut by_agent = reports
        .summary(&store, from, to, Some(Dimension::Agent))
        .await?;
    crate::reports::label_groups(&store, &mut by_agent).await?;

    // Per conversation: triage against labels, escalations, SLA misses.
    let mut triage = TriageAccuracy::default();
    let mut escalation_reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut escalations: BTreeMap<String, u64> = BTreeMap::new();
    let mut intents: BTreeMap<String, u64> = BTreeMap::new();
    let mut late_high: Vec<String> = Vec::new();
    let mut conversations = 0u64;
    let mut cursor = None;
    loop {
        let page = store
            .list_conversations(&ConversationFilter {
                status: None,
                assignee_id: None,
                unassigned: false,
                team_id: None,
                category: None,
                limit: 500,
                after: cursor,
            })
            .await?;
        for item in &page.items {
            conversations += 1;
            let Some(detail) = store.get_conversation(item.conversation.id).await? else {
                continue;
            };
            let c = &detail.summary.conversation;
            *intents
                .entry(c.intent.clone().unwrap_or_else(|| "(none)".into()))
                .or_default() += 1;
            for r in &c.escalation_reasons {
                *escalation_reasons.entry(r.to_string()).or_default() += 1;
            }
            for e in &detail.escalations {
                *escalations.entry(e.level.as_str().to_owned()).or_default() += 1;
            }
            let mut source: Option<&Transcript> = None;
            for m in &detail.messages {
                let Some((t, mi)) = m.wamid.as_deref().and_then(parse_wamid) else {
                    continue;
                };
                let (Some(tr), Some(pred)) = (transcripts.get(t), m.triage.as_ref()) else {
                    continue;
                };
                source = Some(tr);
                let Some(expected) = tr.messages.get(mi).and_then(|x| x.expected.as_ref()) else {
                    continue;
                };
                if let Some(intent) = &expected.intent {
                    triage.labelled += 1;
                    triage.intents.add(intent, &pred.intent);
                }
                if let Some(cat) = expected.category {
                    triage.categories.add(cat.as_str(), pred.category.as_str());
                }
                if let Some(esc) = expected.escalate {
                    triage.escalation.add(esc, pred.escalate);
                }
            }
            // The breach timer records a miss at the due time and the late
            // reply another: report each target once, by its final lateness.
            let mut worst: BTreeMap<&str, SignedDuration> = BTreeMap::new();
            for e in detail.sla_events.iter().filter(|e| e.event == "miss") {
                let late = e.at.duration_since(e.due_at);
                let w = worst.entry(e.target.as_str()).or_insert(late);
                *w = (*w).max(late);
            }
            let missed = worst
                .iter()
                .map(|(target, late)| format!("{target} {}", late_by(*late)))
                .collect::<Vec<_>>();
            if matches!(c.priority, Priority::Urgent | Priority::High) && !missed.is_empty() {
                late_high.push(format!(
                    "conversation {} (transcript {}, {} {}, intent {}): {}",
                    c.id.0,
                    source.map_or("?", |t| t.id.as_str()),
                    c.priority,
                    c.category.map_or("untriaged", |x| x.as_str()),
                    c.intent.as_deref().unwrap_or("-"),
                    missed.join(", ")
                ));
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
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
    store.close().await;
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

fn parse_wamid(w: &str) -> Option<(usize, usize)> {
    let rest = w.strip_prefix("replay-")?;
    let (t, m) = rest.split_once('-')?;
    Some((t.parse().ok()?, m.parse().ok()?))
}

fn late_by(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    if s >= 3600 {
        format!("missed by {}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("missed by {}m{:02}s", s / 60, s % 60)
    }
}

/// The assignee acknowledges any open handoff and answers (a reply from the
/// WhatsApp Business app: the echo webhook is how the service sees it).
async fn reply(sim: &mut Sim, conv: i64, agent: i64, at: Timestamp) -> Result<(), ReplayError> {
    let pipeline = sim.pipeline.clone();
    sim.replies += 1;
    let wamid = format!("replay-out-{}", sim.replies);
    let outcome = sim
        .store
        .write(move |tx| {
            Box::pin(async move {
                let Some(c) = tx.conversation(ConversationId(conv)).await? else {
                    return Ok(None);
                };
                if c.status == ConversationStatus::Resolved || c.waiting_since.is_none() {
                    return Ok(Some((false, None)));
                }
                if c.assignee_id != Some(AgentId(agent)) {
                    return Ok(Some((false, c.assignee_id)));
                }
                if let Some(h) = tx.open_handoff(c.id).await?
                    && h.to_agent_id == AgentId(agent)
                {
                    tx.ack_handoff(h.id, at).await?;
                }
                let (Some(contact), Some(inbox)) =
                    (tx.contact(c.contact_id).await?, tx.inbox(c.inbox_id).await?)
                else {
                    return Ok(None);
                };
                let Some(wa) = contact.wa_id else {
                    return Ok(None);
                };
                let body = echo_body(inbox.phone_number_id.as_str(), wa.as_str(), &wamid, at);
                let mut state = BatchState::default();
                pipeline
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
                Ok(Some((true, None)))
            })
        })
        .await?;
    match outcome {
        Some((true, _)) => {
            let at = at.checked_add(sim.resolve_after).unwrap_or(at);
            sim.push(at, Ev::Resolve { conv });
        }
        Some((false, Some(new_assignee))) => sim.schedule_reply(conv, new_assignee.0, at),
        _ => sim.replies -= 1,
    }
    Ok(())
}

/// Resolves a conversation that stayed quiet since its last reply.
async fn resolve(sim: &mut Sim, conv: i64, at: Timestamp) -> Result<(), ReplayError> {
    let (pipeline, disposition, quiet) = (
        sim.pipeline.clone(),
        sim.disposition.clone(),
        sim.resolve_after,
    );
    let later = sim
        .store
        .write(move |tx| {
            Box::pin(async move {
                let Some(mut c) = tx.conversation(ConversationId(conv)).await? else {
                    return Ok(None);
                };
                if c.status == ConversationStatus::Resolved || c.waiting_since.is_some() {
                    return Ok(None);
                }
                let quiet_until = c.last_message_at.checked_add(quiet).unwrap_or(at);
                if quiet_until > at {
                    return Ok(Some(quiet_until));
                }
                pipeline.resolve(tx, &mut c, &disposition, None, at).await?;
                tx.save_conversation(&c).await?;
                Ok(None)
            })
        })
        .await?;
    if let Some(t) = later {
        sim.push(t, Ev::Resolve { conv });
    }
    Ok(())
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
