//! The agent's side of a conversation, as steps inside a store transaction:
//! handoffs with context, outbound messages through the outbox, resolve
//! with disposition and next action, snooze, consent, and the workflow
//! timers (automatic first response, handoff acknowledgement, next action).

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use switchboard_core::ids::{AgentId, MessageId};
use switchboard_core::model::{Category, ConversationStatus, Direction};
use switchboard_store::*;

use crate::pipeline::Pipeline;

/// The 24 h customer service window (Meta: free-form messages are allowed
/// only within 24 hours of the user's last message; error 131047 otherwise).
pub const SERVICE_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// When a conversation's customer service window closes (UTC), if a
/// customer ever wrote.
pub fn window_closes_at(conv: &Conversation) -> Option<Timestamp> {
    conv.last_inbound_at
        .and_then(|t| t.checked_add(SERVICE_WINDOW).ok())
}

/// Amounts mentioned in text (₹5,000, rs 45k, 2 lakh, $300), for handoff
/// summaries: the agreed terms an agent must not have to ask again.
fn amounts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let lower = w.to_lowercase();
        let has_currency = lower.starts_with('₹')
            || lower.starts_with("rs")
            || lower.starts_with('$')
            || lower.starts_with("inr");
        let digits = lower.chars().any(|c| c.is_ascii_digit());
        let next = words
            .get(i + 1)
            .map(|n| n.to_lowercase())
            .unwrap_or_default();
        let unit = ["lakh", "lac", "crore", "k", "thousand"]
            .iter()
            .any(|u| next.starts_with(u));
        let suffix = lower.ends_with('k')
            && digits
            && lower
                .trim_end_matches('k')
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '.');
        if (digits && (has_currency || unit)) || suffix {
            let mut s = (*w).to_owned();
            if unit && !has_currency {
                s.push(' ');
                s.push_str(words.get(i + 1).copied().unwrap_or_default());
            }
            out.push(
                s.trim_matches(|c: char| c == ',' || c == '.' || c == '?' || c == '!')
                    .to_owned(),
            );
        } else if has_currency
            && !digits
            && let Some(n) = words.get(i + 1)
            && n.chars().any(|c| c.is_ascii_digit())
        {
            out.push(format!(
                "{w} {}",
                n.trim_matches(|c: char| c == ',' || c == '.' || c == '?' || c == '!')
            ));
        }
    }
    out.dedup();
    out
}

impl Pipeline {
    /// Key facts for a receiving agent (seeds: "summarised with the key
    /// facts, the agreed terms, and the current status"): what the customer
    /// wants, intent and category, amounts mentioned, what was already
    /// answered, how long they have waited, and the last messages.
    pub fn handoff_summary(
        &self,
        conv: &Conversation,
        messages: &[Message],
        now: Timestamp,
    ) -> Value {
        let inbound: Vec<&Message> = messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .collect();
        let mentioned: Vec<String> = inbound
            .iter()
            .filter_map(|m| m.text.as_deref())
            .flat_map(amounts)
            .collect();
        let answered: Vec<&str> = messages
            .iter()
            .filter(|m| m.direction == Direction::Outbound)
            .filter_map(|m| m.text.as_deref())
            .collect();
        let last: Vec<Value> = messages
            .iter()
            .rev()
            .take(5)
            .rev()
            .map(|m| json!({"direction": m.direction, "text": m.text, "at": m.timestamp}))
            .collect();
        json!({
            "customer_wants": inbound.last().and_then(|m| m.text.clone()),
            "intent": conv.intent,
            "category": conv.category,
            "escalation_reasons": conv.escalation_reasons,
            "amounts_mentioned": mentioned,
            "already_answered": answered.last(),
            "waiting_minutes": conv.waiting_since.map(|w| now.duration_since(w).as_secs() / 60),
            "status": conv.status,
            "last_messages": last,
        })
    }

    /// Records a handoff to `to` (from the previous assignee, or from the
    /// bot/queue) and schedules its acknowledgement deadline.
    ///
    /// # Errors
    /// Store errors.
    pub async fn hand_off<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &Conversation,
        from: Option<AgentId>,
        to: AgentId,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<Handoff> {
        let messages = tx.recent_messages(conv.id, 8).await?;
        let handoff = tx
            .insert_handoff(&NewHandoff {
                conversation_id: conv.id,
                from_agent_id: from,
                to_agent_id: to,
                reason: reason.to_owned(),
                summary: self.handoff_summary(conv, &messages, now),
                at: now,
            })
            .await?;
        if self.workflow.handoff_ack_after.as_secs() == 0 {
            metrics::counter!("switchboard_handoffs_total").increment(1);
            return Ok(handoff);
        }
        tx.schedule_timer(&NewTimer {
            conversation_id: conv.id,
            kind: TimerKind::HandoffAck,
            due_at: now
                .checked_add(self.workflow.handoff_ack_after.as_signed())
                .unwrap_or(now),
            payload: Some(json!({"handoff_id": handoff.id})),
            at: now,
        })
        .await?;
        metrics::counter!("switchboard_handoffs_total").increment(1);
        Ok(handoff)
    }

    /// Stores an outbound message (status `pending`) and queues its send in
    /// the same transaction. `reply_by` is the agent whose reply this is
    /// (none for automation, which never counts as the human response).
    ///
    /// # Errors
    /// Store errors.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per message kind; a struct would only rename them"
    )]
    pub async fn queue_message<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &Conversation,
        phone_number_id: &str,
        recipient: &str,
        request: Value,
        (message_type, text): (&str, Option<String>),
        reply_by: Option<AgentId>,
        now: Timestamp,
    ) -> StoreResult<(MessageId, OutboxItem)> {
        let automated = reply_by.is_none();
        let id = tx
            .insert_message(&NewMessage {
                conversation_id: conv.id,
                wamid: None,
                direction: Direction::Outbound,
                message_type: message_type.to_owned(),
                text,
                media: None,
                context: None,
                referral: None,
                raw: json!({"request": request, "agent_id": reply_by, "automated": automated}),
                sent_at: now,
                received_at: now,
                status: "pending".into(),
                triage: None,
            })
            .await?
            .ok_or_else(|| StoreError::Conflict("outbound message already stored".into()))?;
        let item = tx
            .enqueue(&NewOutbox {
                kind: OutboxKind::WhatsappMessage,
                idempotency_key: format!("msg-{}", id.0),
                conversation_id: Some(conv.id),
                message_id: Some(id),
                phone_number_id: phone_number_id.to_owned(),
                recipient: recipient.to_owned(),
                payload: json!({"request": request, "reply_by": reply_by, "automated": automated}),
                at: now,
            })
            .await?;
        Ok((id, item))
    }

    /// Resolves a conversation: the resolution clock is met, SLA timers stop,
    /// the SLA status settles (`hit` or `missed`), and a next action becomes
    /// a timer that reopens the conversation for its owner.
    ///
    /// # Errors
    /// Store errors.
    pub async fn resolve<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        disposition: &str,
        next_action: Option<NextAction>,
        now: Timestamp,
    ) -> StoreResult<()> {
        if let Some(due) = conv.resolution_due_at {
            let event = if now <= due {
                SlaEventKind::Hit
            } else {
                SlaEventKind::Miss
            };
            if event == SlaEventKind::Miss
                && conv.sla_status == switchboard_core::sla::SlaStatus::Active
            {
                conv.sla_status = conv.sla_status.on_miss();
            }
            tx.insert_sla_event(&NewSlaEvent {
                conversation_id: conv.id,
                clock: switchboard_core::sla::SlaClock::Resolution,
                event,
                due_at: due,
                at: now,
                agent_id: conv.assignee_id,
            })
            .await?;
        }
        let stop: Vec<TimerKind> = TimerKind::ALL
            .iter()
            .copied()
            .filter(|k| *k != TimerKind::NextAction)
            .collect();
        tx.cancel_timers(conv.id, &stop, now).await?;
        conv.status = ConversationStatus::Resolved;
        conv.sla_status = conv.sla_status.on_resolve();
        conv.resolved_at = Some(now);
        conv.disposition = Some(disposition.to_owned());
        conv.waiting_since = None;
        conv.waiting_count = 0;
        conv.callback_at = None;
        conv.snoozed_until = None;
        conv.updated_at = now;
        if let Some(action) = &next_action {
            tx.schedule_timer(&NewTimer {
                conversation_id: conv.id,
                kind: TimerKind::NextAction,
                due_at: action.due_at,
                payload: Some(json!({"type": action.kind, "owner_id": action.owner_id})),
                at: now,
            })
            .await?;
        }
        conv.next_action = next_action;
        metrics::counter!("switchboard_resolutions_total", "disposition" => disposition.to_owned())
            .increment(1);
        Ok(())
    }

    /// Performs a workflow timer (auto-ack, handoff acknowledgement, next
    /// action, snooze end). Returns false for kinds handled elsewhere.
    ///
    /// # Errors
    /// Store errors.
    pub async fn fire_workflow_timer<T: StoreTx>(
        &self,
        tx: &mut T,
        timer: &Timer,
        conv: &mut Conversation,
        now: Timestamp,
    ) -> StoreResult<()> {
        match timer.kind {
            TimerKind::AutoAck => self.auto_ack(tx, conv, now).await,
            TimerKind::HandoffAck => {
                let Some(handoff) = tx.open_handoff(conv.id).await? else {
                    return Ok(());
                };
                if timer
                    .payload
                    .as_ref()
                    .and_then(|p| p["handoff_id"].as_i64())
                    != Some(handoff.id)
                {
                    return Ok(());
                }
                let roster = tx.roster().await?;
                let team = self.team_name(tx, conv.team_id).await?;
                let target = self.tier_target(
                    &roster,
                    crate::config::Tier::Supervisor,
                    conv.team_id,
                    team.as_deref(),
                    None,
                );
                tx.insert_escalation(&NewEscalation {
                    conversation_id: conv.id,
                    level: EscalationLevel::Handoff,
                    reason: format!(
                        "handoff to agent {} not acknowledged within {}",
                        handoff.to_agent_id, self.workflow.handoff_ack_after
                    ),
                    target_agent_id: target,
                    at: now,
                })
                .await?;
                metrics::counter!("switchboard_escalations_total", "level" => "handoff")
                    .increment(1);
                Ok(())
            }
            TimerKind::NextAction => {
                let Some(action) = conv.next_action.clone() else {
                    return Ok(());
                };
                // Reopen for the owner; it now waits on us.
                conv.status = ConversationStatus::Open;
                conv.sla_status = conv.sla_status.on_reopen();
                let previous = conv.assignee_id;
                if previous != Some(action.owner_id) {
                    tx.record_assignment(&NewAssignment {
                        conversation_id: conv.id,
                        agent_id: Some(action.owner_id),
                        previous_agent_id: previous,
                        contact_id: conv.contact_id,
                        rule: switchboard_core::assign::Rule::Continuity,
                        reason: format!(
                            "next action '{}' is due: reopened for its owner",
                            action.kind
                        ),
                        at: now,
                    })
                    .await?;
                    conv.assignee_id = Some(action.owner_id);
                }
                conv.updated_at = now;
                tx.save_conversation(conv).await?;
                tx.schedule_timer(&NewTimer {
                    conversation_id: conv.id,
                    kind: TimerKind::NextActionIgnored,
                    due_at: now
                        .checked_add(self.workflow.next_action_grace.as_signed())
                        .unwrap_or(now),
                    payload: None,
                    at: now,
                })
                .await?;
                Ok(())
            }
            TimerKind::NextActionIgnored => {
                if conv.status == ConversationStatus::Open
                    && conv.last_responded_at.is_none_or(|r| {
                        r < timer.due_at - self.workflow.next_action_grace.as_signed()
                    })
                {
                    let roster = tx.roster().await?;
                    let team = self.team_name(tx, conv.team_id).await?;
                    let target = self.tier_target(
                        &roster,
                        crate::config::Tier::Supervisor,
                        conv.team_id,
                        team.as_deref(),
                        None,
                    );
                    let kind = conv
                        .next_action
                        .as_ref()
                        .map_or("follow-up", |a| a.kind.as_str())
                        .to_owned();
                    tx.insert_escalation(&NewEscalation {
                        conversation_id: conv.id,
                        level: EscalationLevel::NextAction,
                        reason: format!(
                            "next action '{kind}' ignored for {}",
                            self.workflow.next_action_grace
                        ),
                        target_agent_id: target,
                        at: now,
                    })
                    .await?;
                }
                Ok(())
            }
            TimerKind::FollowUpReminder | TimerKind::Reengagement | TimerKind::Dormant => {
                self.follow_up(tx, timer, conv, now).await
            }
            TimerKind::Unsnooze => {
                if conv.status == ConversationStatus::Snoozed {
                    conv.status = ConversationStatus::Open;
                    conv.snoozed_until = None;
                    conv.updated_at = now;
                    tx.save_conversation(conv).await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// After a reply to an evaluating prospect (a high-intent category),
    /// schedules the follow-up policy's reminder, re-engagement offer and
    /// dormancy; off-shift times move to the next opening.
    ///
    /// # Errors
    /// Store errors.
    pub async fn schedule_follow_ups<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &Conversation,
        at: Timestamp,
    ) -> StoreResult<()> {
        let f = &self.workflow.follow_up;
        let evaluating = matches!(
            conv.category,
            Some(Category::HighIntentReturn | Category::FreshHighIntent)
        );
        if !f.enabled || !evaluating {
            return Ok(());
        }
        let team = self.team_name(tx, conv.team_id).await?;
        let shift = self.shift_calendar(team.as_deref(), None).cloned();
        for (kind, after) in [
            (TimerKind::FollowUpReminder, f.reminder_after),
            (TimerKind::Reengagement, f.reengage_after),
            (TimerKind::Dormant, f.dormant_after),
        ] {
            let due = at.checked_add(after.as_signed()).unwrap_or(at);
            let due = shift.as_ref().map_or(due, |c| c.next_open(due));
            tx.schedule_timer(&NewTimer {
                conversation_id: conv.id,
                kind,
                due_at: due,
                payload: Some(json!({"since": at})),
                at,
            })
            .await?;
        }
        Ok(())
    }

    async fn follow_up<T: StoreTx>(
        &self,
        tx: &mut T,
        timer: &Timer,
        conv: &mut Conversation,
        now: Timestamp,
    ) -> StoreResult<()> {
        // Only while the customer stays silent after our reply.
        if conv.waiting_since.is_some() || conv.status == ConversationStatus::Resolved {
            return Ok(());
        }
        let silent_days = conv
            .last_responded_at
            .map_or(0, |r| now.duration_since(r).as_secs() / 86_400);
        let reason = match timer.kind {
            TimerKind::FollowUpReminder => format!(
                "follow up: the prospect has been silent for {} since our reply ({})",
                self.workflow.follow_up.reminder_after,
                conv.intent.as_deref().unwrap_or("evaluating")
            ),
            TimerKind::Reengagement => {
                let opted_out = tx
                    .contact(conv.contact_id)
                    .await?
                    .is_some_and(|c| c.opted_out_at.is_some());
                if opted_out {
                    return Ok(());
                }
                let window = if window_closes_at(conv).is_some_and(|c| c > now) {
                    "open"
                } else {
                    "closed: use a template"
                };
                format!(
                    "re-engage: day {silent_days} of silence is the re-engagement window (days 4-7); the service window is {window}"
                )
            }
            _ => {
                conv.status = ConversationStatus::Pending;
                conv.updated_at = now;
                tx.save_conversation(conv).await?;
                format!(
                    "dormant: {silent_days} days without a reply from the prospect; parked as pending"
                )
            }
        };
        tx.insert_escalation(&NewEscalation {
            conversation_id: conv.id,
            level: EscalationLevel::FollowUp,
            reason,
            target_agent_id: conv.assignee_id,
            at: now,
        })
        .await?;
        metrics::counter!("switchboard_follow_ups_total", "kind" => timer.kind.as_str())
            .increment(1);
        Ok(())
    }

    /// The automatic first response: once per conversation, inside the
    /// window, only while nobody has answered, worded by category and shift.
    async fn auto_ack<T: StoreTx>(
        &self,
        tx: &mut T,
        conv: &mut Conversation,
        now: Timestamp,
    ) -> StoreResult<()> {
        let cfg = &self.workflow.auto_ack;
        if !cfg.enabled
            || conv.auto_ack_at.is_some()
            || conv.first_responded_at.is_some()
            || conv.waiting_since.is_none()
        {
            return Ok(());
        }
        if window_closes_at(conv).is_none_or(|c| c <= now) {
            return Ok(());
        }
        let Some(contact) = tx.contact(conv.contact_id).await? else {
            return Ok(());
        };
        let inbox = tx.inbox(conv.inbox_id).await?;
        let Some(inbox) = inbox else { return Ok(()) };
        if cfg
            .disabled_inboxes
            .iter()
            .any(|i| i == inbox.phone_number_id.as_str())
        {
            return Ok(());
        }
        let team = self.team_name(tx, conv.team_id).await?;
        let shift = self.shift_calendar(team.as_deref(), Some(inbox.phone_number_id.as_str()));
        let text = match shift {
            Some(cal) if !cal.is_open(now) => {
                let opening = cal.next_opening_local(now).map_or_else(
                    || cal.next_open(now).to_string(),
                    |z| z.strftime("%a %H:%M").to_string(),
                );
                cfg.off_shift.replace("{opening}", &opening)
            }
            _ if conv.category == Some(Category::PassiveEngagement) => cfg.passive.clone(),
            _ => {
                let category = conv.category.unwrap_or(Category::InformationRequest);
                let (policy, _) =
                    self.sla
                        .policy(category, conv.priority, inbox.phone_number_id.as_str());
                cfg.on_shift.replace(
                    "{target}",
                    &human_target(&policy.first_response.to_string()),
                )
            }
        };
        let Some(to) = recipient_of(&contact) else {
            return Ok(());
        };
        let request = match to_recipient(&to)
            .and_then(|r| switchboard_whatsapp::send::OutboundMessage::text(r, text.clone()))
        {
            Ok(m) => serde_json::to_value(m).unwrap_or(Value::Null),
            Err(e) => {
                tracing::warn!(error = %e, "cannot build the automatic first response");
                return Ok(());
            }
        };
        self.queue_message(
            tx,
            conv,
            inbox.phone_number_id.as_str(),
            &to,
            request,
            ("text", Some(text)),
            None,
            now,
        )
        .await?;
        conv.auto_ack_at = Some(now);
        conv.updated_at = now;
        tx.save_conversation(conv).await?;
        metrics::counter!("switchboard_auto_acks_total").increment(1);
        Ok(())
    }
}

/// "15m" → "15 minutes", "2h" → "2 hours", for customer-facing text.
fn human_target(t: &str) -> String {
    if t == "same_business_day" {
        return "the same business day".into();
    }
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let plural = num != "1";
    match unit {
        "s" => format!("{num} second{}", if plural { "s" } else { "" }),
        "m" => format!("{num} minute{}", if plural { "s" } else { "" }),
        "h" => format!("{num} hour{}", if plural { "s" } else { "" }),
        "d" => format!("{num} day{}", if plural { "s" } else { "" }),
        _ => t.to_owned(),
    }
}

/// The Cloud API recipient for an address from [`recipient_of`]: a phone
/// number (`to`), else a BSUID (`recipient`, username users).
///
/// # Errors
/// [`switchboard_whatsapp::send::BuildError`] when it is neither.
pub fn to_recipient(
    to: &str,
) -> Result<switchboard_whatsapp::send::Recipient, switchboard_whatsapp::send::BuildError> {
    switchboard_whatsapp::send::Recipient::phone(to)
        .or_else(|_| switchboard_whatsapp::send::Recipient::user_id(to))
}

/// The address to send to: the wa_id, else the BSUID (username users).
pub fn recipient_of(contact: &Contact) -> Option<String> {
    contact
        .wa_id
        .as_ref()
        .map(|w| w.as_str().to_owned())
        .or_else(|| contact.user_id.as_ref().map(|u| u.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_amounts() {
        assert_eq!(
            amounts("budget ₹45,000 max, or rs 50k?"),
            vec!["₹45,000", "rs 50k"]
        );
        assert_eq!(amounts("2 lakh down payment"), vec!["2 lakh"]);
        assert!(amounts("call me at 5").is_empty());
    }

    #[test]
    fn human_targets() {
        assert_eq!(human_target("15m"), "15 minutes");
        assert_eq!(human_target("2h"), "2 hours");
        assert_eq!(human_target("1d"), "1 day");
    }
}
