//! SLA clocks, replies and the escalation ladder, as steps inside a store
//! transaction.
//!
//! - [`SlaRuntime`]: the SLA settings with their calendars compiled.
//! - Starting clocks ([`Pipeline::start_clocks`]): when a customer message
//!   starts waiting, the first-response (or, after a reply, next-response)
//!   deadline is computed from the conversation's policy and its warning and
//!   breach timers are written in the same transaction; a new conversation
//!   also starts its resolution clock.
//! - A reply ([`Pipeline::record_reply`]) meets the waiting clock: an SLA
//!   `hit` or `miss` event, and its timers are cancelled.
//! - Timers firing ([`Pipeline::fire_timer`]): the ladder of issue #4. At
//!   warning the assignee is notified (an SLA event naming them). At breach
//!   the conversation is reassigned to the next available agent with a
//!   context note, its priority raised, and an escalation of level `breach`
//!   recorded for the new assignee; `supervisor_after` later, if still
//!   unanswered, an escalation of level `supervisor` goes to the team's
//!   supervisor. One breach yields exactly these two records: timers are
//!   unique per kind and fire once (see `switchboard-store`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::json;
use switchboard_core::assign::{self, Candidate};
use switchboard_core::calendar::{BusinessCalendar, CalendarSpec};
use switchboard_core::ids::AgentId;
use switchboard_core::model::{Category, Direction, Priority, Role};
use switchboard_core::sla::{EffectivePolicy, SlaClock, SlaSettings};
use switchboard_store::*;

use crate::config::{EscalationConfig, Tier};
use crate::pipeline::Pipeline;

/// SLA settings with compiled calendars.
#[derive(Debug)]
pub struct SlaRuntime {
    /// The `[sla]` table.
    pub settings: SlaSettings,
    /// Calendars by name.
    pub calendars: BTreeMap<String, BusinessCalendar>,
    /// The `[escalation]` table.
    pub escalation: EscalationConfig,
}

/// Why calendars could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("calendar {name}: {message}")]
pub struct CalendarLoadError {
    /// The calendar.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

impl SlaRuntime {
    /// Compiles the calendars, reading each `holidays_ics` file (holidays
    /// of yearly rules are expanded through ten years after `now`).
    ///
    /// # Errors
    /// [`CalendarLoadError`] naming the calendar and the problem.
    pub fn load(
        settings: SlaSettings,
        specs: &BTreeMap<String, CalendarSpec>,
        escalation: EscalationConfig,
        now: Timestamp,
    ) -> Result<Self, CalendarLoadError> {
        let mut calendars = BTreeMap::new();
        for (name, spec) in specs {
            let err = |message: String| CalendarLoadError {
                name: name.clone(),
                message,
            };
            let mut cal = BusinessCalendar::new(spec).map_err(|e| err(e.to_string()))?;
            if let Some(path) = &spec.holidays_ics {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| err(format!("{}: {e}", path.display())))?;
                let last_year = now.to_zoned(jiff::tz::TimeZone::UTC).year() + 10;
                let dates =
                    switchboard_core::calendar::parse_ics_holidays_through(&text, last_year)
                        .map_err(|e| err(format!("{}: {e}", path.display())))?;
                cal = cal.with_holidays(dates).map_err(|e| err(e.to_string()))?;
            }
            calendars.insert(name.clone(), cal);
        }
        Ok(Self {
            settings,
            calendars,
            escalation,
        })
    }

    /// The policy of a conversation and the calendar it counts on.
    pub fn policy(
        &self,
        category: Category,
        priority: Priority,
        inbox: &str,
    ) -> (EffectivePolicy, BusinessCalendar) {
        let policy = self.settings.policy_for(category, priority, inbox);
        let cal = policy
            .calendar
            .as_ref()
            .and_then(|n| self.calendars.get(n))
            .cloned()
            .unwrap_or_else(BusinessCalendar::always_open);
        (policy, cal)
    }
}

fn raise(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Medium,
        Priority::Medium => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

const FIRST: [TimerKind; 2] = [
    TimerKind::FirstResponseWarning,
    TimerKind::FirstResponseBreach,
];
const NEXT: [TimerKind; 2] = [
    TimerKind::NextResponseWarning,
    TimerKind::NextResponseBreach,
];
const RESOLUTION: [TimerKind; 2] = [TimerKind::ResolutionWarning, TimerKind::ResolutionBreach];

impl Pipeline {
    /// Computes and schedules the clock that a waiting customer message
    /// starts (first response until the first reply, next response after),
    /// and the resolution clock of a conversation that has none. Call after
    /// the conversation's category and waiting state are updated.
    ///
    /// # Errors
    /// Store errors.
    pub async fn start_clocks<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        inbox: &str,
        message_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        let Some(since) = conv.waiting_since else {
            return Ok(());
        };
        let category = conv.category.unwrap_or(Category::InformationRequest);
        let (policy, cal) = self.sla.policy(category, conv.priority, inbox);
        let (clock, kinds) = if conv.first_responded_at.is_none() {
            (SlaClock::FirstResponse, FIRST)
        } else {
            (SlaClock::NextResponse, NEXT)
        };
        let current = match clock {
            SlaClock::FirstResponse => conv.first_response_due_at,
            _ => conv.next_response_due_at,
        };
        // A new clock counts from the first waiting message. A running one
        // never moves later (a less urgent message must not buy time); a
        // more urgent message moves it earlier, counting from that message.
        let deadline = policy.deadline(
            clock,
            &cal,
            if current.is_some() {
                message_at.max(since)
            } else {
                since
            },
        );
        let due = current.map_or(deadline.due_at, |c| c.min(deadline.due_at));
        let warn = deadline.warn_at.min(due);
        if current != Some(due) {
            match clock {
                SlaClock::FirstResponse => conv.first_response_due_at = Some(due),
                _ => conv.next_response_due_at = Some(due),
            }
            for (kind, at) in [(kinds[0], warn), (kinds[1], due)] {
                tx.schedule_timer(&NewTimer {
                    conversation_id: conv.id,
                    kind,
                    due_at: at,
                    payload: Some(json!({"policy": policy.name})),
                    at: now,
                })
                .await?;
            }
        }
        if conv.resolution_due_at.is_none() {
            let d = policy.deadline(SlaClock::Resolution, &cal, conv.created_at);
            conv.resolution_due_at = Some(d.due_at);
            for (kind, at) in [(RESOLUTION[0], d.warn_at), (RESOLUTION[1], d.due_at)] {
                tx.schedule_timer(&NewTimer {
                    conversation_id: conv.id,
                    kind,
                    due_at: at,
                    payload: Some(json!({"policy": policy.name})),
                    at: now,
                })
                .await?;
            }
        }
        Ok(())
    }

    /// A reply reached the customer at `at` (a human reply when `agent` is
    /// set or the business replied from its own app): the waiting clock is
    /// met (an SLA `hit` or `miss` event) and its timers are cancelled.
    ///
    /// # Errors
    /// Store errors.
    pub async fn record_reply<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        agent: Option<AgentId>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (clock, due, kinds) = if conv.first_responded_at.is_none() {
            conv.first_responded_at = Some(at);
            (SlaClock::FirstResponse, conv.first_response_due_at, FIRST)
        } else {
            (
                SlaClock::NextResponse,
                conv.next_response_due_at.take(),
                NEXT,
            )
        };
        if conv.waiting_since.is_some()
            && let Some(due) = due
        {
            let event = if at <= due {
                SlaEventKind::Hit
            } else {
                SlaEventKind::Miss
            };
            tx.insert_sla_event(&NewSlaEvent {
                conversation_id: conv.id,
                clock,
                event,
                due_at: due,
                at,
                agent_id: agent.or(conv.assignee_id),
            })
            .await?;
            metrics::counter!("switchboard_sla_events_total", "target" => clock.as_str(), "event" => event.as_str()).increment(1);
        }
        let mut cancel = kinds.to_vec();
        cancel.push(TimerKind::SupervisorEscalation);
        tx.cancel_timers(conv.id, &cancel, at).await?;
        self.schedule_follow_ups(tx, conv, at).await?;
        conv.waiting_since = None;
        conv.waiting_count = 0;
        conv.last_responded_at = Some(at);
        conv.updated_at = at;
        Ok(())
    }

    /// Performs a claimed timer's action. Called inside the transaction that
    /// also completes the timer, so the action happens at most once.
    ///
    /// # Errors
    /// Store errors.
    pub async fn fire_timer<T: StoreTx>(
        &self,
        tx: &mut T,
        timer: &Timer,
        now: Timestamp,
    ) -> StoreResult<()> {
        let Some(mut conv) = tx.conversation(timer.conversation_id).await? else {
            return Ok(());
        };
        if conv.status == switchboard_core::model::ConversationStatus::Resolved
            && timer.kind != TimerKind::NextAction
        {
            return Ok(());
        }
        let waiting_first = conv.waiting_since.is_some() && conv.first_responded_at.is_none();
        let waiting_next = conv.waiting_since.is_some() && conv.first_responded_at.is_some();
        match timer.kind {
            TimerKind::FirstResponseWarning
            | TimerKind::NextResponseWarning
            | TimerKind::ResolutionWarning => {
                let (clock, due, live) = match timer.kind {
                    TimerKind::FirstResponseWarning => (
                        SlaClock::FirstResponse,
                        conv.first_response_due_at,
                        waiting_first,
                    ),
                    TimerKind::NextResponseWarning => (
                        SlaClock::NextResponse,
                        conv.next_response_due_at,
                        waiting_next,
                    ),
                    _ => (SlaClock::Resolution, conv.resolution_due_at, true),
                };
                if live && let Some(due) = due {
                    // The warning is the assignee's notification, listed in
                    // the conversation's `sla_events`.
                    tx.insert_sla_event(&NewSlaEvent {
                        conversation_id: conv.id,
                        clock,
                        event: SlaEventKind::Warning,
                        due_at: due,
                        at: now,
                        agent_id: conv.assignee_id,
                    })
                    .await?;
                    metrics::counter!("switchboard_sla_events_total", "target" => clock.as_str(), "event" => "warning").increment(1);
                }
            }
            TimerKind::FirstResponseBreach | TimerKind::NextResponseBreach => {
                let (clock, due, live) = if timer.kind == TimerKind::FirstResponseBreach {
                    (
                        SlaClock::FirstResponse,
                        conv.first_response_due_at,
                        waiting_first,
                    )
                } else {
                    (
                        SlaClock::NextResponse,
                        conv.next_response_due_at,
                        waiting_next,
                    )
                };
                if live && let Some(due) = due {
                    self.breach(tx, &mut conv, clock, due, now).await?;
                    tx.save_conversation(&conv).await?;
                }
            }
            TimerKind::ResolutionBreach => {
                if let Some(due) = conv.resolution_due_at {
                    tx.insert_sla_event(&NewSlaEvent {
                        conversation_id: conv.id,
                        clock: SlaClock::Resolution,
                        event: SlaEventKind::Miss,
                        due_at: due,
                        at: now,
                        agent_id: conv.assignee_id,
                    })
                    .await?;
                    conv.sla_status = conv.sla_status.on_miss();
                    conv.updated_at = now;
                    tx.save_conversation(&conv).await?;
                    metrics::counter!("switchboard_sla_events_total", "target" => "resolution", "event" => "miss").increment(1);
                }
            }
            TimerKind::SupervisorEscalation => {
                if conv.waiting_since.is_some() {
                    let roster = tx.roster().await?;
                    let team = self.team_name(tx, conv.team_id).await?;
                    let target = self.tier_target(
                        &roster,
                        Tier::Supervisor,
                        conv.team_id,
                        team.as_deref(),
                        None,
                    );
                    let waited = conv
                        .waiting_since
                        .map(|w| now.duration_since(w).as_secs() / 60)
                        .unwrap_or_default();
                    tx.insert_escalation(&NewEscalation {
                        conversation_id: conv.id,
                        level: EscalationLevel::Supervisor,
                        reason: format!(
                            "still no reply {} after the SLA breach; the customer has waited {waited} min",
                            self.sla.escalation.supervisor_after
                        ),
                        target_agent_id: target,
                        at: now,
                    })
                    .await?;
                    metrics::counter!("switchboard_escalations_total", "level" => "supervisor")
                        .increment(1);
                }
            }
            TimerKind::AutoAck
            | TimerKind::HandoffAck
            | TimerKind::NextAction
            | TimerKind::NextActionIgnored
            | TimerKind::Unsnooze
            | TimerKind::FollowUpReminder
            | TimerKind::Reengagement
            | TimerKind::Dormant => {
                self.fire_workflow_timer(tx, timer, &mut conv, now).await?;
            }
            TimerKind::ContinuityGrace | TimerKind::Callback => {
                if timer.kind == TimerKind::Callback && conv.callback_at.is_some() {
                    conv.callback_at = None;
                    tx.save_conversation(&conv).await?;
                }
                if conv.assignee_id.is_none() {
                    let contact = tx.contact(conv.contact_id).await?;
                    let mut roster = tx.roster().await?;
                    let reason = if timer.kind == TimerKind::Callback {
                        "after-hours callback: the team is open"
                    } else {
                        "continuity grace period ended"
                    };
                    conv.callback_at = None;
                    self.assign_from_pool(
                        tx,
                        &mut conv,
                        contact.as_ref(),
                        &mut roster,
                        now,
                        reason,
                    )
                    .await?;
                    tx.save_conversation(&conv).await?;
                }
            }
        }
        Ok(())
    }

    async fn breach<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        clock: SlaClock,
        due: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        tx.insert_sla_event(&NewSlaEvent {
            conversation_id: conv.id,
            clock,
            event: SlaEventKind::Miss,
            due_at: due,
            at: now,
            agent_id: conv.assignee_id,
        })
        .await?;
        metrics::counter!("switchboard_sla_events_total", "target" => clock.as_str(), "event" => "miss").increment(1);
        conv.sla_status = conv.sla_status.on_miss();
        conv.priority = raise(conv.priority);
        conv.updated_at = now;

        // Reassign to the next available agent (never back to the one who
        // let it breach), with a context note.
        let previous = conv.assignee_id;
        let roster = tx.roster().await?;
        let others: Vec<Candidate> = roster
            .iter()
            .filter(|c| Some(c.id) != previous)
            .cloned()
            .collect();
        // Nobody is on shift after hours: the breach is recorded and the
        // callback at the next opening assigns the conversation.
        let team = self.team_name(tx, conv.team_id).await?;
        let after_hours = self
            .shift_calendar(team.as_deref(), None)
            .is_some_and(|c| !c.is_open(now));
        let decision = assign::decide(
            &assign::Request {
                escalate: true,
                category: conv.category.unwrap_or(Category::InformationRequest),
                required_skill: self.skill_for(conv),
                team_id: conv.team_id,
                previous_agent: None,
            },
            if after_hours { &[] } else { &others },
        );
        let waited_min = conv
            .waiting_since
            .map(|w| now.duration_since(w).as_secs() / 60)
            .unwrap_or_default();
        let name = |id: Option<AgentId>| {
            id.and_then(|id| roster.iter().find(|c| c.id == id))
                .map_or_else(|| "nobody".to_owned(), |c| c.name.clone())
        };
        let target = decision.agent_id.or(previous);
        if let Some(next) = decision.agent_id {
            let last = tx.recent_messages(conv.id, 3).await?;
            let last_text: Vec<String> = last
                .iter()
                .filter(|m| m.direction == Direction::Inbound)
                .filter_map(|m| m.text.clone())
                .collect();
            let note = format!(
                "SLA breach ({}): reassigned from {} to {}. Customer wants: {} ({}). Waiting {waited_min} min since {}. Last messages: {}",
                clock.as_str().replace('_', " "),
                name(previous),
                name(Some(next)),
                conv.intent.as_deref().unwrap_or("unknown"),
                conv.category.map_or("uncategorised", |c| c.as_str()),
                conv.waiting_since
                    .map(|w| w.to_string())
                    .unwrap_or_default(),
                if last_text.is_empty() {
                    "(no text)".to_owned()
                } else {
                    last_text.join(" | ")
                },
            );
            tx.insert_message(&NewMessage {
                conversation_id: conv.id,
                wamid: None,
                direction: Direction::Note,
                message_type: "note".into(),
                text: Some(note),
                media: None,
                context: None,
                referral: None,
                raw: json!({"kind": "breach_context"}),
                sent_at: now,
                received_at: now,
                status: "internal".into(),
                triage: None,
            })
            .await?;
            tx.record_assignment(&NewAssignment {
                conversation_id: conv.id,
                agent_id: Some(next),
                previous_agent_id: previous,
                contact_id: conv.contact_id,
                rule: decision.rule,
                reason: format!(
                    "SLA breach after {waited_min} min without a reply: {}",
                    decision.reason
                ),
                at: now,
            })
            .await?;
            conv.assignee_id = Some(next);
            self.hand_off(tx, conv, previous, next, "SLA breach reassignment", now)
                .await?;
        }
        tx.insert_escalation(&NewEscalation {
            conversation_id: conv.id,
            level: EscalationLevel::Breach,
            reason: match decision.agent_id {
                Some(next) => format!(
                    "{} missed after {waited_min} min; reassigned from {} to {}",
                    clock.as_str().replace('_', " "),
                    name(previous),
                    name(Some(next))
                ),
                None if after_hours => format!(
                    "{} missed after {waited_min} min; after hours, no agent on shift",
                    clock.as_str().replace('_', " ")
                ),
                None => format!(
                    "{} missed after {waited_min} min; no other agent available",
                    clock.as_str().replace('_', " ")
                ),
            },
            target_agent_id: target,
            at: now,
        })
        .await?;
        metrics::counter!("switchboard_escalations_total", "level" => "breach").increment(1);
        tx.schedule_timer(&NewTimer {
            conversation_id: conv.id,
            kind: TimerKind::SupervisorEscalation,
            due_at: now
                .checked_add(self.sla.escalation.supervisor_after.as_signed())
                .unwrap_or(now),
            payload: None,
            at: now,
        })
        .await?;
        Ok(())
    }

    /// The agent a tier escalation goes to: the least-loaded online member
    /// of the tier in the team, else in any team, else anyone of the tier
    /// (an escalation must reach a person even when they are away).
    pub fn tier_target(
        &self,
        roster: &[Candidate],
        tier: Tier,
        team: Option<switchboard_core::ids::TeamId>,
        team_name: Option<&str>,
        exclude: Option<AgentId>,
    ) -> Option<AgentId> {
        let e = &self.sla.escalation;
        let settings = team_name.and_then(|t| self.routing.teams.get(t));
        let roles: &[Role] = match tier {
            Tier::Senior => settings
                .and_then(|s| s.senior_roles.as_deref())
                .unwrap_or(&e.senior_roles),
            Tier::Supervisor => settings
                .and_then(|s| s.supervisor_roles.as_deref())
                .unwrap_or(&e.supervisor_roles),
        };
        let in_tier = |c: &&Candidate| roles.contains(&c.role) && Some(c.id) != exclude;
        let online =
            |c: &&Candidate| c.availability == switchboard_core::model::Availability::Online;
        let pick = |it: Vec<&Candidate>| {
            it.into_iter()
                .min_by_key(|c| (c.open_count, c.id))
                .map(|c| c.id)
        };
        pick(
            roster
                .iter()
                .filter(in_tier)
                .filter(online)
                .filter(|c| team.is_none() || c.team_id == team)
                .collect(),
        )
        .or_else(|| pick(roster.iter().filter(in_tier).filter(online).collect()))
        .or_else(|| {
            pick(
                roster
                    .iter()
                    .filter(in_tier)
                    .filter(|c| team.is_none() || c.team_id == team)
                    .collect(),
            )
        })
        .or_else(|| pick(roster.iter().filter(in_tier).collect()))
    }

    pub(crate) fn skill_for(&self, conv: &Conversation) -> Option<&str> {
        conv.intent
            .as_deref()
            .and_then(|i| self.routing.intent_skills.get(i))
            .map(String::as_str)
    }

    /// Assigns an unassigned conversation from the pool (no grace period).
    ///
    /// # Errors
    /// Store errors.
    pub async fn assign_from_pool<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        contact: Option<&Contact>,
        roster: &mut [Candidate],
        now: Timestamp,
        why: &str,
    ) -> StoreResult<()> {
        let decision = assign::decide(
            &assign::Request {
                escalate: !conv.escalation_reasons.is_empty(),
                category: conv.category.unwrap_or(Category::InformationRequest),
                required_skill: self.skill_for(conv),
                team_id: conv.team_id,
                previous_agent: contact.and_then(|c| c.last_agent_id),
            },
            roster,
        );
        if let Some(agent) = decision.agent_id {
            tx.record_assignment(&NewAssignment {
                conversation_id: conv.id,
                agent_id: Some(agent),
                previous_agent_id: None,
                contact_id: conv.contact_id,
                rule: decision.rule,
                reason: format!("{why}: {}", decision.reason),
                at: now,
            })
            .await?;
            conv.assignee_id = Some(agent);
            if self.automation_first() {
                self.hand_off(tx, conv, None, agent, why, now).await?;
            }
            if let Some(c) = roster.iter_mut().find(|c| c.id == agent) {
                c.open_count += 1;
                c.last_assigned_at = Some(now);
            }
        }
        Ok(())
    }
}
