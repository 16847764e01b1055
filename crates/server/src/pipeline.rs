//! The ingest pipeline: one parsed webhook delivery becomes contacts,
//! conversations, messages, triage, assignments and SLA due times inside one
//! store transaction.
//!
//! Threading rule (documented for users in the README): a contact has at most
//! one conversation per inbox that is not `resolved`; every inbound message
//! lands there. A message after the conversation was resolved opens a *new*
//! conversation, and the contact then counts as returning (triage's
//! high-intent-return signal). The first Click-to-WhatsApp `referral` seen in
//! a conversation becomes its attribution.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};
use switchboard_core::assign::{self, Candidate, Rule};
use switchboard_core::ids::{Bsuid, DeliveryId, PhoneNumberId, WaId};
use switchboard_core::model::{Category, ConversationStatus, Direction};
use switchboard_core::triage::{History, TriageContext, TriageEngine, TriageInput, TriageResult};
use switchboard_store::*;
use switchboard_whatsapp::event::{Event, InboundMessage, MessageKind};

use crate::config::RoutingConfig;

/// What the pipeline needs besides the transaction: the triage engine, the
/// SLA targets and the routing table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Compiled triage rules and model, swappable at runtime.
    pub engine: Arc<EngineSlot>,
    /// SLA policies, calendars and the escalation ladder.
    pub sla: Arc<crate::sla::SlaRuntime>,
    /// The agent's side: dispositions, handoffs, auto-ack, consent.
    pub workflow: Arc<crate::config::WorkflowConfig>,
    /// Sends are possible (a Graph API token is configured); without it no
    /// automatic first response is queued.
    pub sending: bool,
    /// Intent → required skill.
    pub routing: Arc<RoutingConfig>,
}

/// The triage engine in use. Reloading the rules (`POST
/// /api/v1/triage/reload`, `SIGHUP`) swaps it without a restart: messages
/// being triaged finish with the engine they started with, and each result
/// records the rules and model versions that produced it.
#[derive(Debug)]
pub struct EngineSlot(std::sync::RwLock<Arc<TriageEngine>>);

impl EngineSlot {
    /// A slot holding `engine`.
    pub fn new(engine: TriageEngine) -> Self {
        Self(std::sync::RwLock::new(Arc::new(engine)))
    }

    /// The engine in use now.
    pub fn current(&self) -> Arc<TriageEngine> {
        match self.0.read() {
            Ok(g) => g.clone(),
            // A writer panicked mid-swap; the value is still a whole Arc.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `engine` in use; returns the one it replaces.
    pub fn replace(&self, engine: TriageEngine) -> Arc<TriageEngine> {
        let new = Arc::new(engine);
        match self.0.write() {
            Ok(mut g) => std::mem::replace(&mut *g, new),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), new),
        }
    }
}

/// Counts for one processed delivery, returned to the webhook caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Stored delivery id.
    pub delivery_id: i64,
    /// Messages newly stored.
    pub messages: u32,
    /// Messages already stored before (redeliveries).
    pub duplicates: u32,
    /// Status records applied (new ones).
    pub statuses: u32,
    /// Other webhook items kept.
    pub events: u32,
    /// True when the body was signed but not understood.
    pub dead_letter: bool,
}

/// State shared by the deliveries of one batch: the roster is read once per
/// batch and kept current in memory as conversations are assigned.
#[derive(Debug, Default)]
pub struct BatchState {
    roster: Option<Vec<Candidate>>,
    inboxes: HashMap<String, Inbox>,
}

impl Pipeline {
    /// Stores `body` as a raw delivery and processes it. A body that does not
    /// parse is kept as a dead letter (Meta would otherwise retry it for
    /// days).
    ///
    /// # Errors
    /// Only store errors; the caller rolls back and may retry.
    pub async fn ingest<T: StoreTx>(
        &self,
        tx: &mut T,
        batch: &mut BatchState,
        delivery: &NewDelivery,
    ) -> StoreResult<DeliveryReport> {
        let id = tx.insert_delivery(delivery).await?;
        let mut report = DeliveryReport {
            delivery_id: id.0,
            ..DeliveryReport::default()
        };
        let payload = match switchboard_whatsapp::parse(&delivery.body) {
            Ok(p) => p,
            Err(e) => {
                report.dead_letter = true;
                tx.finish_delivery(
                    id,
                    &DeliveryOutcome {
                        status: DeliveryStatus::DeadLetter,
                        error: Some(e.to_string()),
                        messages: 0,
                        duplicates: 0,
                    },
                )
                .await?;
                return Ok(report);
            }
        };
        for event in switchboard_whatsapp::events(&payload) {
            self.apply_event(tx, batch, id, delivery.received_at, event, &mut report)
                .await?;
        }
        tx.finish_delivery(
            id,
            &DeliveryOutcome {
                status: DeliveryStatus::Processed,
                error: None,
                messages: report.messages,
                duplicates: report.duplicates,
            },
        )
        .await?;
        Ok(report)
    }

    async fn apply_event<T: StoreTx>(
        &self,
        tx: &mut T,
        batch: &mut BatchState,
        delivery_id: DeliveryId,
        received_at: Timestamp,
        event: Event,
        report: &mut DeliveryReport,
    ) -> StoreResult<()> {
        let keep = |field: &str, kind: &str, payload: Value| NewWebhookEvent {
            delivery_id,
            field: field.to_owned(),
            kind: kind.to_owned(),
            payload,
            received_at,
        };
        let kept = match event {
            Event::Message(msg) => {
                match self.apply_message(tx, batch, received_at, &msg).await? {
                    MessageOutcome::Stored => report.messages += 1,
                    MessageOutcome::Duplicate => report.duplicates += 1,
                    MessageOutcome::Unroutable(why) => {
                        report.events += 1;
                        tx.insert_webhook_event(&keep(
                            "messages",
                            "unroutable_message",
                            json!({"reason": why, "message": msg.raw}),
                        ))
                        .await?;
                    }
                }
                return Ok(());
            }
            Event::Status(st) => {
                let outcome = tx
                    .apply_status(&NewStatus {
                        wamid: st.id.clone(),
                        status: st.status.as_str().to_owned(),
                        rank: st.status.rank(),
                        at: clamp_time(st.timestamp, received_at),
                        raw: st.raw.clone(),
                    })
                    .await?;
                if matches!(outcome, StatusOutcome::Recorded { .. }) {
                    report.statuses += 1;
                    metrics::counter!("switchboard_statuses_applied_total", "status" => st.status.as_str().to_owned()).increment(1);
                }
                return Ok(());
            }
            Event::ValueErrors {
                phone_number_id,
                errors,
            } => keep(
                "messages",
                "value_errors",
                json!({"phone_number_id": phone_number_id, "errors": errors}),
            ),
            Event::TemplateStatus {
                name,
                language,
                event,
                raw,
                ..
            } => {
                // Keeps synced templates current: only APPROVED ones can be sent.
                if let Some(name) = &name {
                    tx.set_template_status(name, language.as_deref(), &event, received_at)
                        .await?;
                }
                keep("message_template_status_update", "template_status", raw)
            }
            Event::TemplateOther { field, raw } => keep(&field, "template_update", raw),
            Event::UserPreference {
                wa_id,
                user_id,
                value,
                raw,
                ..
            } => {
                self.apply_preference(
                    tx,
                    wa_id.as_deref(),
                    user_id.as_deref(),
                    &value,
                    received_at,
                )
                .await?;
                keep("user_preferences", "user_preference", raw)
            }
            Event::Unhandled { field, value, .. } if field == "smb_message_echoes" => {
                let n = self.apply_echoes(tx, batch, received_at, &value).await?;
                report.events += 1;
                return tx
                    .insert_webhook_event(&keep(
                        &field,
                        "message_echoes",
                        json!({"replies_recorded": n, "value": value}),
                    ))
                    .await;
            }
            Event::Unhandled {
                field,
                reason,
                value,
            } => keep(
                &field,
                "unhandled",
                json!({"reason": reason, "value": value}),
            ),
        };
        report.events += 1;
        tx.insert_webhook_event(&kept).await
    }

    async fn apply_message<T: StoreTx>(
        &self,
        tx: &mut T,
        batch: &mut BatchState,
        received_at: Timestamp,
        msg: &InboundMessage,
    ) -> StoreResult<MessageOutcome> {
        if tx.wamid_exists(&msg.wamid).await? {
            return Ok(MessageOutcome::Duplicate);
        }
        let Ok(phone_number_id) = PhoneNumberId::parse(&msg.phone_number_id) else {
            return Ok(MessageOutcome::Unroutable(format!(
                "invalid phone_number_id {:?}",
                msg.phone_number_id
            )));
        };
        let profile = msg.contact.as_ref();
        // `from` first, then the matching `contacts[]` entry: either may be
        // absent (username users) or unusable.
        let wa_id = msg
            .from
            .as_deref()
            .and_then(|s| WaId::parse(s).ok())
            .or_else(|| {
                profile
                    .and_then(|p| p.wa_id.as_deref())
                    .and_then(|s| WaId::parse(s).ok())
            });
        let user_id = msg
            .from_user_id
            .as_deref()
            .and_then(|s| Bsuid::parse(s).ok())
            .or_else(|| {
                profile
                    .and_then(|p| p.user_id.as_deref())
                    .and_then(|s| Bsuid::parse(s).ok())
            });
        if wa_id.is_none() && user_id.is_none() {
            return Ok(MessageOutcome::Unroutable(
                "no usable wa_id or BSUID".into(),
            ));
        }
        let sent_at = clamp_time(msg.timestamp, received_at);

        let inbox = match batch.inboxes.get(phone_number_id.as_str()) {
            Some(i) => i.clone(),
            None => {
                let i = tx
                    .upsert_inbox(&InboxUpsert {
                        phone_number_id: phone_number_id.clone(),
                        display_phone_number: msg.display_phone_number.clone(),
                        waba_id: Some(msg.waba_id.clone()).filter(|w| !w.is_empty()),
                        at: received_at,
                    })
                    .await?;
                batch
                    .inboxes
                    .insert(phone_number_id.as_str().to_owned(), i.clone());
                i
            }
        };
        let contact = tx
            .upsert_contact(&ContactUpsert {
                wa_id,
                user_id,
                name: profile.and_then(|p| p.name.clone()),
                username: profile.and_then(|p| p.username.clone()),
                at: received_at,
            })
            .await?;
        let attribution = msg.referral.as_ref().map(|r| Attribution {
            source_id: r.source_id.clone(),
            source_type: r.source_type.clone(),
            source_url: r.source_url.clone(),
            headline: r.headline.clone(),
            body: r.body.clone(),
            media_type: r.media_type.clone(),
            ctwa_clid: r.ctwa_clid.clone(),
        });
        let mut conv = match tx.active_conversation(contact.id, inbox.id).await? {
            Some(c) => c,
            None => {
                let team_id = self.inbox_team(tx, &inbox).await?;
                tx.insert_conversation(&NewConversation {
                    contact_id: contact.id,
                    inbox_id: inbox.id,
                    team_id,
                    attribution: attribution.clone(),
                    at: sent_at,
                })
                .await?
            }
        };
        if conv.attribution.is_none() && attribution.is_some() {
            conv.attribution = attribution;
        }

        // Which messages wait for a reply: anything a person sent to us, but
        // not reactions, deletions, edits or system notices.
        let waits = !matches!(
            msg.kind,
            MessageKind::Reaction { .. }
                | MessageKind::Revoke { .. }
                | MessageKind::Edit { .. }
                | MessageKind::System { .. }
                | MessageKind::RequestWelcome
        );
        let triaged = waits || matches!(msg.kind, MessageKind::Edit { .. });
        // Automation is in front until a human answers: messages it cannot
        // understand count toward the bot_failure escalation.
        let bot_in_front = self.automation_first() && conv.first_responded_at.is_none();
        let context = TriageContext {
            bot_failures: if bot_in_front { conv.bot_failures } else { 0 },
        };
        let triage = triaged.then(|| {
            self.engine.current().triage_with(
                &TriageInput {
                    text: msg.text(),
                    message_type: msg.type_name(),
                    sent_at,
                    history: History {
                        previous_inbound_at: contact.last_inbound_at,
                        resolved_conversations: contact.resolved_conversations,
                        waiting_inbound: conv.waiting_count + u32::from(waits),
                    },
                },
                &context,
            )
        });

        let media = match &msg.kind {
            MessageKind::Media { .. }
            | MessageKind::Location { .. }
            | MessageKind::Contacts { .. }
            | MessageKind::Order { .. } => serde_json::to_value(&msg.kind).ok(),
            _ => None,
        };
        let stored = tx
            .insert_message(&NewMessage {
                conversation_id: conv.id,
                wamid: Some(msg.wamid.clone()),
                direction: Direction::Inbound,
                message_type: msg.type_name().to_owned(),
                text: msg.text().map(str::to_owned),
                media,
                context: msg
                    .context
                    .as_ref()
                    .and_then(|c| serde_json::to_value(c).ok()),
                referral: msg.referral.as_ref().map(|r| r.raw.clone()),
                raw: msg.raw.clone(),
                sent_at,
                received_at,
                status: "received".into(),
                triage: triage.clone(),
            })
            .await?;
        if stored.is_none() {
            return Ok(MessageOutcome::Duplicate);
        }
        if let Some(t) = triage.as_ref().filter(|_| waits) {
            // Not understood: out of scope, or below the intent's
            // confidence threshold (what makes the policy clarify first).
            let not_understood = t.intent == "out_of_scope" || t.confidence < t.policy.threshold;
            conv.bot_failures = if bot_in_front && not_understood {
                conv.bot_failures.saturating_add(1)
            } else {
                0
            };
        }
        match &msg.kind {
            MessageKind::Edit {
                original_message_id: Some(orig),
                new_text,
                ..
            } => {
                tx.edit_message(orig, new_text.as_deref(), sent_at).await?;
            }
            MessageKind::Revoke {
                original_message_id: Some(orig),
            } => {
                tx.revoke_message(orig, sent_at).await?;
            }
            _ => {}
        }
        tx.touch_contact_inbound(contact.id, sent_at).await?;

        let was_escalated = !conv.escalation_reasons.is_empty();
        if !matches!(msg.kind, MessageKind::System { .. }) {
            conv.last_inbound_at = Some(conv.last_inbound_at.map_or(sent_at, |t| t.max(sent_at)));
        }
        if let Some(text) = msg.text()
            && self.is_opt_out(text)
            && contact.opted_out_at.is_none()
        {
            tx.record_consent(
                contact.id,
                false,
                &format!("keyword: {}", text.trim()),
                sent_at,
            )
            .await?;
            metrics::counter!("switchboard_consent_changes_total", "event" => "opt_out")
                .increment(1);
        }
        conv.last_message_at = conv.last_message_at.max(sent_at);
        conv.updated_at = received_at;
        if waits {
            // Deliveries arrive out of order: the customer has waited since
            // the earliest unanswered message, whichever arrived first.
            let earlier = conv.waiting_since.is_none_or(|w| sent_at < w);
            if earlier {
                conv.waiting_since = Some(sent_at);
                if conv.first_responded_at.is_none() {
                    // Recomputed from the new start by apply_triage.
                    conv.first_response_due_at = None;
                }
            }
            conv.waiting_count += 1;
            if conv.status != ConversationStatus::Open {
                // A customer message wakes a pending or snoozed conversation.
                conv.status = ConversationStatus::Open;
            }
        }
        if let Some(t) = &triage {
            self.apply_triage(&mut conv, t);
        }
        let newly_escalated = !was_escalated && !conv.escalation_reasons.is_empty();
        let needs_routing = waits && conv.assignee_id.is_none() && conv.callback_at.is_none();
        if needs_routing || newly_escalated {
            if batch.roster.is_none() {
                batch.roster = Some(tx.roster().await?);
            }
            let mut roster = batch.roster.take().unwrap_or_default();
            if needs_routing {
                self.route_new(
                    tx,
                    &mut conv,
                    &contact,
                    &mut roster,
                    received_at,
                    phone_number_id.as_str(),
                )
                .await?;
            } else if !self.is_senior(&roster, conv.assignee_id) {
                self.assign(tx, &mut conv, &contact, &mut roster, received_at, false)
                    .await?;
            }
            if newly_escalated {
                self.escalate_from_triage(tx, &conv, &roster, received_at)
                    .await?;
            }
            batch.roster = Some(roster);
        }
        if waits
            && conv.auto_ack_at.is_none()
            && conv.first_responded_at.is_none()
            && self.workflow.auto_ack.enabled
            && self.sending
        {
            tx.schedule_timer(&NewTimer {
                conversation_id: conv.id,
                kind: TimerKind::AutoAck,
                due_at: received_at
                    .checked_add(self.workflow.auto_ack.quiet.as_signed())
                    .unwrap_or(received_at),
                payload: None,
                at: received_at,
            })
            .await?;
        }
        if waits {
            // The customer wrote: follow-ups for their silence stop (they
            // exist only after a reply).
            if conv.last_responded_at.is_some() {
                tx.cancel_timers(
                    conv.id,
                    &[
                        TimerKind::FollowUpReminder,
                        TimerKind::Reengagement,
                        TimerKind::Dormant,
                    ],
                    received_at,
                )
                .await?;
            }
            self.start_clocks(
                tx,
                &mut conv,
                phone_number_id.as_str(),
                sent_at,
                received_at,
            )
            .await?;
        }
        tx.save_conversation(&conv).await?;
        metrics::counter!("switchboard_messages_ingested_total", "type" => msg.type_name().to_owned()).increment(1);
        if let Some(t) = &triage {
            metrics::counter!("switchboard_triage_decisions_total", "category" => t.category.as_str(), "escalate" => if t.escalate { "true" } else { "false" }).increment(1);
        }
        Ok(MessageOutcome::Stored)
    }

    /// Business replies sent from the WhatsApp Business app (coexistence:
    /// `smb_message_echoes`) are human replies: stored as outbound messages
    /// and counted against the waiting SLA clock. Returns how many were
    /// recorded.
    async fn apply_echoes<T: StoreTx>(
        &self,
        tx: &mut T,
        batch: &mut BatchState,
        received_at: Timestamp,
        value: &Value,
    ) -> StoreResult<u32> {
        let Some(pnid) = value["metadata"]["phone_number_id"]
            .as_str()
            .and_then(|p| PhoneNumberId::parse(p).ok())
        else {
            return Ok(0);
        };
        let Some(echoes) = value["message_echoes"].as_array() else {
            return Ok(0);
        };
        let mut recorded = 0;
        for echo in echoes {
            let Some(wamid) = echo["id"].as_str() else {
                continue;
            };
            if tx.wamid_exists(wamid).await? {
                continue;
            }
            let wa_id = echo["to"].as_str().and_then(|s| WaId::parse(s).ok());
            let user_id = echo["to_user_id"]
                .as_str()
                .and_then(|s| Bsuid::parse(s).ok());
            if wa_id.is_none() && user_id.is_none() {
                continue;
            }
            let inbox = match batch.inboxes.get(pnid.as_str()) {
                Some(i) => i.clone(),
                None => {
                    let i = tx
                        .upsert_inbox(&InboxUpsert {
                            phone_number_id: pnid.clone(),
                            display_phone_number: None,
                            waba_id: None,
                            at: received_at,
                        })
                        .await?;
                    batch.inboxes.insert(pnid.as_str().to_owned(), i.clone());
                    i
                }
            };
            let contact = tx
                .upsert_contact(&ContactUpsert {
                    wa_id,
                    user_id,
                    name: None,
                    username: None,
                    at: received_at,
                })
                .await?;
            let Some(mut conv) = tx.active_conversation(contact.id, inbox.id).await? else {
                continue;
            };
            let at = echo["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<i64>().ok())
                .or_else(|| echo["timestamp"].as_i64())
                .map_or(received_at, |t| clamp_time(t, received_at));
            let kind = echo["type"].as_str().unwrap_or("unknown").to_owned();
            let text = echo[kind.as_str()]["body"]
                .as_str()
                .or_else(|| echo[kind.as_str()]["caption"].as_str())
                .map(str::to_owned);
            tx.insert_message(&NewMessage {
                conversation_id: conv.id,
                wamid: Some(wamid.to_owned()),
                direction: Direction::Outbound,
                message_type: kind,
                text,
                media: None,
                context: None,
                referral: None,
                raw: echo.clone(),
                sent_at: at,
                received_at,
                status: "sent".into(),
                triage: None,
            })
            .await?;
            if conv.waiting_since.is_some() {
                let agent = conv.assignee_id;
                self.record_reply(tx, &mut conv, agent, at).await?;
            }
            conv.last_message_at = conv.last_message_at.max(at);
            tx.save_conversation(&conv).await?;
            recorded += 1;
        }
        Ok(recorded)
    }

    /// True when automation answers first in front of the agents (the
    /// automatic first response is on and sending is configured): the first
    /// assignment is then a bot-to-human handoff. Without automation the
    /// first assignee receives the conversation, not a handoff.
    pub(crate) fn automation_first(&self) -> bool {
        self.sending && self.workflow.auto_ack.enabled
    }

    /// True when a whole message is an opt-out keyword (`STOP`, `band karo`, …).
    fn is_opt_out(&self, text: &str) -> bool {
        // Keywords are short whole messages; skip normalising anything longer.
        if text.len() > 64 {
            return false;
        }
        let norm = switchboard_core::text::normalize(text);
        self.workflow
            .opt_out_keywords
            .iter()
            .any(|k| switchboard_core::text::normalize(k) == norm)
    }

    /// `user_preferences` webhooks: `stop` opts the user out of marketing,
    /// `resume` opts them back in.
    async fn apply_preference<T: StoreTx>(
        &self,
        tx: &mut T,
        wa_id: Option<&str>,
        user_id: Option<&str>,
        value: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let opt_in = match value.to_ascii_lowercase().as_str() {
            "stop" => false,
            "resume" => true,
            _ => return Ok(()),
        };
        let wa_id = wa_id.and_then(|w| WaId::parse(w).ok());
        let user_id = user_id.and_then(|u| Bsuid::parse(u).ok());
        if wa_id.is_none() && user_id.is_none() {
            return Ok(());
        }
        let contact = tx
            .upsert_contact(&ContactUpsert {
                wa_id,
                user_id,
                name: None,
                username: None,
                at,
            })
            .await?;
        tx.record_consent(
            contact.id,
            opt_in,
            &format!("user_preferences: {value}"),
            at,
        )
        .await?;
        metrics::counter!("switchboard_consent_changes_total", "event" => if opt_in { "opt_in" } else { "opt_out" }).increment(1);
        Ok(())
    }

    fn is_senior(
        &self,
        roster: &[Candidate],
        agent: Option<switchboard_core::ids::AgentId>,
    ) -> bool {
        let e = &self.sla.escalation;
        agent
            .and_then(|a| roster.iter().find(|c| c.id == a))
            .is_some_and(|c| {
                e.senior_roles.contains(&c.role) || e.supervisor_roles.contains(&c.role)
            })
    }

    /// First routing of a waiting conversation: after hours it gets a
    /// callback at the next opening; a returning contact whose previous agent
    /// is away or full waits up to `continuity_grace` for them; otherwise
    /// the assignment order of `switchboard_core::assign` decides.
    async fn route_new<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        contact: &Contact,
        roster: &mut [Candidate],
        now: Timestamp,
        inbox: &str,
    ) -> StoreResult<()> {
        let record = |reason: String| NewAssignment {
            conversation_id: conv.id,
            agent_id: None,
            previous_agent_id: None,
            contact_id: contact.id,
            rule: Rule::Unassigned,
            reason,
            at: now,
        };
        let team = self.team_name(tx, conv.team_id).await?;
        if let Some(cal) = self.shift_calendar(team.as_deref(), Some(inbox))
            && !cal.is_open(now)
        {
            let at = cal.next_open(now);
            let local = cal.next_opening_local(now).map_or_else(
                || at.to_string(),
                |z| z.strftime("%a %d %b %H:%M %Z").to_string(),
            );
            tx.record_assignment(&record(format!(
                "after hours: no agent on shift; callback scheduled at the next opening ({local})"
            )))
            .await?;
            tx.schedule_timer(&NewTimer {
                conversation_id: conv.id,
                kind: TimerKind::Callback,
                due_at: at,
                payload: None,
                at: now,
            })
            .await?;
            conv.callback_at = Some(at);
            metrics::counter!("switchboard_assignments_total", "rule" => "after_hours")
                .increment(1);
            return Ok(());
        }
        let grace = self.routing.continuity_grace;
        let escalated = !conv.escalation_reasons.is_empty()
            || conv.category == Some(Category::HighIntentReturn);
        if let Some(prev) = contact
            .last_agent_id
            .and_then(|p| roster.iter().find(|c| c.id == p))
            && grace.as_secs() > 0
            && !escalated
            && !(prev.availability == switchboard_core::model::Availability::Online
                && prev.open_count < prev.capacity)
        {
            tx.record_assignment(&record(format!(
                "relationship continuity: waiting up to {grace} for {} (previous agent, {} with {}/{} open) before the pool",
                prev.name, prev.availability, prev.open_count, prev.capacity
            )))
            .await?;
            tx.schedule_timer(&NewTimer {
                conversation_id: conv.id,
                kind: TimerKind::ContinuityGrace,
                due_at: now.checked_add(grace.as_signed()).unwrap_or(now),
                payload: None,
                at: now,
            })
            .await?;
            metrics::counter!("switchboard_assignments_total", "rule" => "continuity_grace")
                .increment(1);
            return Ok(());
        }
        self.assign(tx, conv, contact, roster, now, true).await
    }

    /// The shift calendar that decides "after hours": the inbox's, else the
    /// team's, else `[routing] calendar`; none means always on shift.
    pub(crate) fn shift_calendar(
        &self,
        team: Option<&str>,
        inbox: Option<&str>,
    ) -> Option<&switchboard_core::calendar::BusinessCalendar> {
        let r = &self.routing;
        inbox
            .and_then(|i| r.inboxes.get(i))
            .and_then(|i| i.calendar.as_ref())
            .or_else(|| {
                team.and_then(|t| r.teams.get(t))
                    .and_then(|t| t.calendar.as_ref())
            })
            .or(r.calendar.as_ref())
            .and_then(|n| self.sla.calendars.get(n))
    }

    /// The configured name of a team id (only looked up when team settings
    /// exist).
    pub(crate) async fn team_name<T: StoreTx>(
        &self,
        tx: &mut T,
        team: Option<switchboard_core::ids::TeamId>,
    ) -> StoreResult<Option<String>> {
        let Some(id) = team else { return Ok(None) };
        if self.routing.teams.is_empty() {
            return Ok(None);
        }
        Ok(tx
            .teams()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .map(|t| t.name))
    }

    /// The team a new conversation of this inbox belongs to: the inbox's
    /// stored team, else the one named in `[routing.inboxes]`.
    async fn inbox_team<T: StoreTx>(
        &self,
        tx: &mut T,
        inbox: &Inbox,
    ) -> StoreResult<Option<switchboard_core::ids::TeamId>> {
        if inbox.team_id.is_some() {
            return Ok(inbox.team_id);
        }
        let Some(name) = self
            .routing
            .inboxes
            .get(inbox.phone_number_id.as_str())
            .and_then(|i| i.team.as_ref())
        else {
            return Ok(None);
        };
        Ok(tx
            .teams()
            .await?
            .into_iter()
            .find(|t| &t.name == name)
            .map(|t| t.id))
    }

    /// Records the escalation that triage raised, for the tier configured
    /// per reason (`[escalation.route]`; senior by default).
    async fn escalate_from_triage<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &Conversation,
        roster: &[Candidate],
        now: Timestamp,
    ) -> StoreResult<()> {
        let tier = if conv
            .escalation_reasons
            .iter()
            .any(|r| self.sla.escalation.route.get(r) == Some(&crate::config::Tier::Supervisor))
        {
            crate::config::Tier::Supervisor
        } else {
            crate::config::Tier::Senior
        };
        let target = match tier {
            crate::config::Tier::Senior if self.is_senior(roster, conv.assignee_id) => {
                conv.assignee_id
            }
            _ => {
                let team = self.team_name(tx, conv.team_id).await?;
                self.tier_target(roster, tier, conv.team_id, team.as_deref(), None)
            }
        };
        let reasons: Vec<&str> = conv.escalation_reasons.iter().map(|r| r.as_str()).collect();
        tx.insert_escalation(&NewEscalation {
            conversation_id: conv.id,
            level: EscalationLevel::Triage,
            reason: format!("triage: {}", reasons.join(", ")),
            target_agent_id: target,
            at: now,
        })
        .await?;
        metrics::counter!("switchboard_escalations_total", "level" => "triage").increment(1);
        Ok(())
    }

    /// Folds one message's triage into its conversation: the category and
    /// priority only ever become more urgent while the conversation is open,
    /// and escalation reasons accumulate. (Due times: [`Pipeline::start_clocks`].)
    fn apply_triage(&self, conv: &mut Conversation, t: &TriageResult) {
        let upgrade = conv
            .category
            .is_none_or(|c| t.category.urgency_rank() < c.urgency_rank());
        if conv.category.is_none() {
            conv.priority = t.priority;
        }
        if upgrade || conv.language.is_none() {
            conv.language = Some(t.language.clone());
        }
        if upgrade {
            conv.category = Some(t.category);
            conv.intent = Some(t.intent.clone());
        } else if conv.intent.as_deref().is_none_or(|i| i == "out_of_scope")
            && t.intent != "out_of_scope"
        {
            conv.intent = Some(t.intent.clone());
        }
        conv.priority = conv.priority.min(t.priority);
        for r in &t.escalation_reasons {
            if !conv.escalation_reasons.contains(r) {
                conv.escalation_reasons.push(*r);
            }
        }
        conv.escalation_reasons.sort();
    }

    async fn assign<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        contact: &Contact,
        roster: &mut [Candidate],
        at: Timestamp,
        first: bool,
    ) -> StoreResult<()> {
        let skill = conv
            .intent
            .as_deref()
            .and_then(|i| self.routing.intent_skills.get(i))
            .map(String::as_str);
        let decision = assign::decide(
            &assign::Request {
                escalate: !conv.escalation_reasons.is_empty(),
                category: conv.category.unwrap_or(Category::InformationRequest),
                required_skill: skill,
                team_id: conv.team_id,
                previous_agent: contact.last_agent_id,
            },
            roster,
        );
        if let Some(prev) = contact.last_agent_id {
            // The continuity rate: how often a returning contact gets the
            // agent who handled them before.
            let outcome = if decision.agent_id == Some(prev) {
                "kept"
            } else {
                "lost"
            };
            metrics::counter!("switchboard_continuity_total", "outcome" => outcome).increment(1);
        }
        if decision.agent_id.is_none() && !first {
            // Keep the current assignee rather than unassigning on escalation.
            return Ok(());
        }
        let previous = conv.assignee_id;
        tx.record_assignment(&NewAssignment {
            conversation_id: conv.id,
            agent_id: decision.agent_id,
            previous_agent_id: previous,
            contact_id: contact.id,
            rule: decision.rule,
            reason: decision.reason,
            at,
        })
        .await?;
        if decision.agent_id != previous {
            for c in roster.iter_mut() {
                if Some(c.id) == previous {
                    c.open_count = c.open_count.saturating_sub(1);
                }
                if Some(c.id) == decision.agent_id {
                    c.open_count += 1;
                    c.last_assigned_at = Some(at);
                }
            }
        }
        conv.assignee_id = decision.agent_id.or(previous);
        if let Some(to) = decision.agent_id.filter(|a| Some(*a) != previous)
            && (previous.is_some() || self.automation_first())
        {
            let reason = if previous.is_some() {
                "reassigned"
            } else {
                "bot to human: automation answered first"
            };
            self.hand_off(tx, conv, previous, to, reason, at).await?;
        }
        metrics::counter!("switchboard_assignments_total", "rule" => decision.rule.as_str())
            .increment(1);
        Ok(())
    }

    /// Assigns waiting, unassigned conversations (earliest due first) while
    /// any online agent has capacity: run when an agent comes online or gains
    /// capacity. Returns how many were assigned.
    ///
    /// # Errors
    /// Store errors.
    pub async fn drain_unassigned<T: StoreTx>(
        &self,
        tx: &mut T,
        at: Timestamp,
        limit: u32,
    ) -> StoreResult<u32> {
        let mut roster = tx.roster().await?;
        let mut assigned = 0;
        for mut conv in tx.unassigned_conversations(limit).await? {
            if !roster.iter().any(|c| {
                c.availability == switchboard_core::model::Availability::Online
                    && c.open_count < c.capacity
            }) {
                break;
            }
            let Some(contact) = tx.contact(conv.contact_id).await? else {
                continue;
            };
            let before = conv.assignee_id;
            self.assign(tx, &mut conv, &contact, &mut roster, at, false)
                .await?;
            if conv.assignee_id != before {
                assigned += 1;
                conv.callback_at = None;
                tx.cancel_timers(
                    conv.id,
                    &[TimerKind::Callback, TimerKind::ContinuityGrace],
                    at,
                )
                .await?;
                tx.save_conversation(&conv).await?;
            }
        }
        Ok(assigned)
    }
}

enum MessageOutcome {
    Stored,
    Duplicate,
    Unroutable(String),
}

/// Meta's send time, clamped so that a skewed clock never puts a message in
/// the future relative to when we received it.
fn clamp_time(unix_seconds: i64, received_at: Timestamp) -> Timestamp {
    Timestamp::from_second(unix_seconds)
        .map(|t| t.min(received_at))
        .unwrap_or(received_at)
}
