//! Working a conversation: reply, assign, acknowledge a handoff, snooze,
//! resolve; templates and consent.
//!
//! WhatsApp's rules are enforced before anything is queued: a free-form
//! reply outside the 24 h customer service window is refused with
//! `409 window_closed` (and when it closed); only `APPROVED` templates with
//! the right number of parameters are sent; an opted-out contact gets no
//! marketing template (`409 opted_out`); an agent who has not acknowledged
//! the handoff cannot reply (`409 handoff_not_acknowledged`); only the
//! assignee, seniors, supervisors and admins may reply (`403`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::ids::{AgentId, ContactId, ConversationId};
use switchboard_core::model::{ConversationStatus, Role};
use switchboard_store::{
    Conversation, NewAssignment, NewTimer, NextAction, Store, StoreError, StoreTx, TemplateRecord,
    TimerKind,
};
use switchboard_whatsapp::send::{
    Interactive, ListRow, ListSection, OutboundMessage, Parameter, ReplyButton, TemplateMessage,
};

use super::AppState;
use super::api::path_id;
use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use crate::agent::{recipient_of, to_recipient, window_closes_at};

type PathId = Result<Path<i64>, axum::extract::rejection::PathRejection>;

fn refused(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
    details: Option<Value>,
) -> ApiError {
    ApiError::Refused {
        status,
        code,
        message: message.into(),
        details,
    }
}

/// Carries API refusals out of a store transaction.
#[derive(Debug)]
enum Outcome<T> {
    Done(T),
    Refused(ApiError),
}

fn wrap<T>(r: Result<Outcome<T>, StoreError>) -> Result<T, ApiError> {
    match r? {
        Outcome::Done(v) => Ok(v),
        Outcome::Refused(e) => Err(e),
    }
}

/// A template to send: `{"name", "language", "parameters"?: ["..."]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Template name.
    pub name: String,
    /// Language code (`en`, `hi`, `en_US`).
    pub language: String,
    /// Body parameters in order (`{{1}}`, `{{2}}`, …).
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// Interactive message: reply buttons `{"body", "buttons": [{"id", "title"}]}`
/// or a list `{"body", "list": {"button", "sections": [{"title"?, "rows": [{"id", "title", "description"?}]}]}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractiveBody {
    /// Body text.
    pub body: String,
    /// Up to three reply buttons.
    #[serde(default)]
    pub buttons: Vec<ButtonBody>,
    /// A list menu instead of buttons.
    pub list: Option<ListBody>,
}

/// A list menu.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    /// The label of the button that opens the list.
    pub button: String,
    /// Sections of rows (10 rows in all at most).
    pub sections: Vec<SectionBody>,
}

/// One list section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionBody {
    /// Section title.
    pub title: Option<String>,
    /// Rows.
    pub rows: Vec<RowBody>,
}

/// One list row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowBody {
    /// Payload id returned when chosen.
    pub id: String,
    /// Row title (at most 24 characters).
    pub title: String,
    /// Description.
    pub description: Option<String>,
}

fn build_interactive(
    i: &InteractiveBody,
) -> Result<Interactive, switchboard_whatsapp::send::BuildError> {
    match &i.list {
        Some(list) => {
            let sections = list
                .sections
                .iter()
                .map(|s| {
                    let rows = s
                        .rows
                        .iter()
                        .map(|r| {
                            let row = ListRow::new(r.id.clone(), r.title.clone())?;
                            match &r.description {
                                Some(d) => row.with_description(d.clone()),
                                None => Ok(row),
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    ListSection::new(s.title.clone(), rows)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Interactive::list(i.body.clone(), list.button.clone(), sections)
        }
        None => {
            let buttons = i
                .buttons
                .iter()
                .map(|b| ReplyButton::new(b.id.clone(), b.title.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            Interactive::buttons(i.body.clone(), buttons)
        }
    }
}

/// One reply button.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonBody {
    /// Payload id returned when tapped.
    pub id: String,
    /// Label (≤ 20 characters).
    pub title: String,
}

/// `POST /api/v1/conversations/{id}/messages`: exactly one of `text`,
/// `template`, `interactive`, `note`; `reply_to` quotes a message (wamid).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// Free-form text (inside the window only).
    pub text: Option<String>,
    /// An approved template (any time).
    pub template: Option<TemplateBody>,
    /// Reply buttons (inside the window only).
    pub interactive: Option<InteractiveBody>,
    /// A private note, never sent.
    pub note: Option<String>,
    /// Quote this message.
    pub reply_to: Option<String>,
}

fn may_reply(principal: &Principal, conv: &Conversation) -> bool {
    match principal {
        Principal::Admin => true,
        Principal::Agent(a) => {
            Some(a.id) == conv.assignee_id
                || (matches!(a.role, Role::Senior | Role::Supervisor)
                    && (conv.team_id.is_none() || a.team_id == conv.team_id))
                || a.role == Role::Admin
        }
    }
}

fn agent_of(principal: &Principal) -> Option<AgentId> {
    match principal {
        Principal::Admin => None,
        Principal::Agent(a) => Some(a.id),
    }
}

/// `POST /api/v1/conversations/{id}/messages`: queue a reply (202) or store
/// a note (201).
pub async fn send<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    path: PathId,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId(path_id(path)?);
    let kinds = [
        body.text.is_some(),
        body.template.is_some(),
        body.interactive.is_some(),
        body.note.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(ApiError::Validation(
            "give exactly one of text, template, interactive or note".into(),
        ));
    }
    if body.note.is_none() && state.outbox.is_none() {
        return Err(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "sending_unconfigured",
            "no Graph API access token is configured (SWITCHBOARD_ACCESS_TOKEN); replies cannot be sent",
            None,
        ));
    }
    let (pipeline, now, agent, allowed_principal) = (
        state.pipeline.clone(),
        state.clock.now(),
        agent_of(&principal),
        principal.clone(),
    );
    let result = state
        .store
        .write(move |tx| {
            Box::pin(async move {
                let Some(conv) = tx.conversation(id).await? else {
                    return Ok(Outcome::Refused(ApiError::NotFound("conversation".into())));
                };
                if !may_reply(&allowed_principal, &conv) {
                    return Ok(Outcome::Refused(ApiError::Forbidden(
                        "only the assignee, the team's seniors and supervisors, or an admin may reply".into(),
                    )));
                }
                if let Some(note) = &body.note {
                    let id = tx
                        .insert_message(&switchboard_store::NewMessage {
                            conversation_id: conv.id,
                            wamid: None,
                            direction: switchboard_core::model::Direction::Note,
                            message_type: "note".into(),
                            text: Some(note.clone()),
                            media: None,
                            context: None,
                            referral: None,
                            raw: json!({"agent_id": agent}),
                            sent_at: now,
                            received_at: now,
                            status: "internal".into(),
                            triage: None,
                        })
                        .await?;
                    return Ok(Outcome::Done((StatusCode::CREATED, json!({"message_id": id, "note": true}))));
                }
                if let (Some(handoff), Some(me)) = (tx.open_handoff(conv.id).await?, agent)
                    && handoff.to_agent_id == me
                {
                    return Ok(Outcome::Refused(refused(
                        StatusCode::CONFLICT,
                        "handoff_not_acknowledged",
                        "acknowledge the handoff context first: POST /api/v1/conversations/{id}/handoff/ack",
                        Some(json!({"handoff": handoff})),
                    )));
                }
                let Some(contact) = tx.contact(conv.contact_id).await? else {
                    return Ok(Outcome::Refused(ApiError::NotFound("contact".into())));
                };
                let Some(inbox) = tx.inbox(conv.inbox_id).await? else {
                    return Ok(Outcome::Refused(ApiError::NotFound("inbox".into())));
                };
                let Some(to) = recipient_of(&contact) else {
                    return Ok(Outcome::Refused(ApiError::Validation("the contact has no address".into())));
                };
                let recipient = match to_recipient(&to) {
                    Ok(r) => r,
                    Err(e) => return Ok(Outcome::Refused(ApiError::Validation(e.to_string()))),
                };
                let free_form = body.text.is_some() || body.interactive.is_some();
                let closes = window_closes_at(&conv);
                if free_form && closes.is_none_or(|c| c <= now) {
                    return Ok(Outcome::Refused(refused(
                        StatusCode::CONFLICT,
                        "window_closed",
                        "the 24 h customer service window is closed: send an approved template instead",
                        Some(json!({"window_closed_at": closes, "template_required": true})),
                    )));
                }
                let built = if let Some(text) = &body.text {
                    OutboundMessage::text(recipient, text.clone()).map(|m| (m, "text", Some(text.clone())))
                } else if let Some(i) = &body.interactive {
                    build_interactive(i).map(|x| (OutboundMessage::new(recipient, x), "interactive", Some(i.body.clone())))
                } else if let Some(t) = &body.template {
                    let Some(template) = tx.template(&t.name, &t.language).await? else {
                        return Ok(Outcome::Refused(refused(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "template_not_found",
                            format!("no synced template {:?} in {:?} (POST /api/v1/templates/sync)", t.name, t.language),
                            None,
                        )));
                    };
                    if let Some(refusal) = check_template(&template, t, contact.opted_out_at.is_some()) {
                        return Ok(Outcome::Refused(refusal));
                    }
                    let params: Result<Vec<_>, _> = t.parameters.iter().map(|p| Parameter::text(p.clone())).collect();
                    params
                        .and_then(|p| {
                            let m = TemplateMessage::new(t.name.clone(), t.language.clone())?;
                            if p.is_empty() { Ok(m) } else { m.with_body(p) }
                        })
                        .map(|m| (OutboundMessage::new(recipient, m), "template", Some(format!("template {}", t.name))))
                } else {
                    return Ok(Outcome::Refused(ApiError::Validation("nothing to send".into())));
                };
                let (message, kind, text) = match built {
                    Ok(b) => b,
                    Err(e) => return Ok(Outcome::Refused(ApiError::Validation(e.to_string()))),
                };
                let message = match &body.reply_to {
                    Some(wamid) => match message.in_reply_to(wamid.clone()) {
                        Ok(m) => m,
                        Err(e) => return Ok(Outcome::Refused(ApiError::Validation(e.to_string()))),
                    },
                    None => message,
                };
                let request = serde_json::to_value(&message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let (message_id, item) = pipeline
                    .queue_message(tx, &conv, inbox.phone_number_id.as_str(), &to, request, (kind, text), agent.or(conv.assignee_id), now)
                    .await?;
                // Answering marks the customer's latest message read (blue
                // ticks); once per message, whatever happens to the reply.
                if let Some(last) = tx
                    .recent_messages(conv.id, 20)
                    .await?
                    .iter()
                    .rev()
                    .find(|m| m.direction == switchboard_core::model::Direction::Inbound && m.wamid.is_some())
                    && let Some(wamid) = &last.wamid
                {
                    tx.enqueue(&switchboard_store::NewOutbox {
                        kind: switchboard_store::OutboxKind::WhatsappRead,
                        idempotency_key: format!("read-{wamid}"),
                        conversation_id: Some(conv.id),
                        message_id: None,
                        phone_number_id: inbox.phone_number_id.as_str().to_owned(),
                        recipient: format!("read:{to}"),
                        payload: json!({"message_id": wamid}),
                        at: now,
                    })
                    .await?;
                }
                Ok(Outcome::Done((StatusCode::ACCEPTED, json!({"message_id": message_id, "outbox_id": item.id, "status": "pending"}))))
            })
        })
        .await;
    let (status, body) = wrap(result)?;
    if let Some(wake) = &state.outbox {
        wake.notify_one();
    }
    Ok((status, Json(body)))
}

/// Only APPROVED templates, the right parameter count, and no marketing to
/// opted-out contacts.
fn check_template(
    template: &TemplateRecord,
    body: &TemplateBody,
    opted_out: bool,
) -> Option<ApiError> {
    if template.status != "APPROVED" {
        return Some(refused(
            StatusCode::CONFLICT,
            "template_not_approved",
            format!(
                "template {:?} is {}, only APPROVED templates can be sent",
                template.name, template.status
            ),
            None,
        ));
    }
    if opted_out && template.category.as_deref() == Some("MARKETING") {
        return Some(refused(
            StatusCode::CONFLICT,
            "opted_out",
            "the contact opted out of marketing messages",
            None,
        ));
    }
    let expected: u64 = template
        .placeholders
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| {
                    c["component"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("body"))
                })
                .map(|c| {
                    c["positional"].as_u64().unwrap_or(0)
                        + c["named"].as_array().map_or(0, |n| n.len() as u64)
                })
                .sum()
        })
        .unwrap_or(0);
    if expected != body.parameters.len() as u64 {
        return Some(ApiError::Validation(format!(
            "parameters: template {:?} has {expected} body placeholder(s), got {}",
            template.name,
            body.parameters.len()
        )));
    }
    None
}

/// `POST /api/v1/conversations/{id}/assign`: `{"agent_id", "reason"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The new assignee.
    pub agent_id: i64,
    /// Why (shown to the receiver with the handoff context).
    pub reason: String,
}

/// Reassigns with a handoff the receiver must acknowledge.
pub async fn assign<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    path: PathId,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId(path_id(path)?);
    if body.reason.trim().is_empty() {
        return Err(ApiError::Validation("reason: required".into()));
    }
    let target = state
        .store
        .get_agent(AgentId(body.agent_id))
        .await?
        .ok_or_else(|| ApiError::Validation("agent_id: no such agent".into()))?;
    let (pipeline, now, by) = (state.pipeline.clone(), state.clock.now(), principal.clone());
    let result = state
        .store
        .write(move |tx| {
            Box::pin(async move {
                let Some(mut conv) = tx.conversation(id).await? else {
                    return Ok(Outcome::Refused(ApiError::NotFound("conversation".into())));
                };
                if !may_reply(&by, &conv) {
                    return Ok(Outcome::Refused(ApiError::Forbidden(
                        "only the assignee, seniors, supervisors or admins may reassign".into(),
                    )));
                }
                let previous = conv.assignee_id;
                tx.record_assignment(&NewAssignment {
                    conversation_id: conv.id,
                    agent_id: Some(target.id),
                    previous_agent_id: previous,
                    contact_id: conv.contact_id,
                    rule: switchboard_core::assign::Rule::Continuity,
                    reason: format!("manual: {}", body.reason),
                    at: now,
                })
                .await?;
                conv.assignee_id = Some(target.id);
                let handoff = pipeline
                    .hand_off(tx, &conv, previous, target.id, &body.reason, now)
                    .await?;
                Ok(Outcome::Done(
                    json!({"assignee_id": target.id, "handoff": handoff}),
                ))
            })
        })
        .await;
    Ok(Json(wrap(result)?))
}

/// `POST /api/v1/conversations/{id}/handoff/ack`: the receiver confirms
/// they read the context; time to acknowledge is recorded.
pub async fn ack_handoff<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    path: PathId,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId(path_id(path)?);
    let (now, me, admin) = (
        state.clock.now(),
        agent_of(&principal),
        principal.is_admin(),
    );
    let result = state
        .store
        .write(move |tx| {
            Box::pin(async move {
                let Some(handoff) = tx.open_handoff(id).await? else {
                    return Ok(Outcome::Refused(ApiError::NotFound("open handoff".into())));
                };
                if !admin && me != Some(handoff.to_agent_id) {
                    return Ok(Outcome::Refused(ApiError::Forbidden(
                        "only the receiving agent acknowledges a handoff".into(),
                    )));
                }
                let acked = tx.ack_handoff(handoff.id, now).await?;
                tx.cancel_timers(id, &[TimerKind::HandoffAck], now).await?;
                let seconds = acked
                    .acknowledged_at
                    .map(|a| a.duration_since(acked.created_at).as_secs());
                metrics::histogram!("switchboard_handoff_ack_seconds")
                    .record(seconds.unwrap_or(0) as f64);
                Ok(Outcome::Done(
                    json!({"handoff": acked, "seconds_to_acknowledge": seconds}),
                ))
            })
        })
        .await;
    Ok(Json(wrap(result)?))
}

/// `POST /api/v1/conversations/{id}/snooze`: `{"until": "RFC 3339"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    /// Reopen at (UTC); a customer message reopens earlier.
    pub until: jiff::Timestamp,
}

/// Snoozes a conversation until a time.
pub async fn snooze<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    path: PathId,
    ApiJson(body): ApiJson<SnoozeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId(path_id(path)?);
    let now = state.clock.now();
    if body.until <= now {
        return Err(ApiError::Validation("until: must be in the future".into()));
    }
    let by = principal.clone();
    let result = state
        .store
        .write(move |tx| {
            Box::pin(async move {
                let Some(mut conv) = tx.conversation(id).await? else {
                    return Ok(Outcome::Refused(ApiError::NotFound("conversation".into())));
                };
                if !may_reply(&by, &conv) {
                    return Ok(Outcome::Refused(ApiError::Forbidden(
                        "not yours to snooze".into(),
                    )));
                }
                conv.status = ConversationStatus::Snoozed;
                conv.snoozed_until = Some(body.until);
                conv.updated_at = now;
                tx.save_conversation(&conv).await?;
                tx.schedule_timer(&NewTimer {
                    conversation_id: id,
                    kind: TimerKind::Unsnooze,
                    due_at: body.until,
                    payload: None,
                    at: now,
                })
                .await?;
                Ok(Outcome::Done(
                    json!({"status": "snoozed", "snoozed_until": body.until}),
                ))
            })
        })
        .await;
    Ok(Json(wrap(result)?))
}

/// `POST /api/v1/conversations/{id}/resolve`: `{"disposition", "next_action"?: {"type", "due_at", "owner_id"}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// One of the configured dispositions.
    pub disposition: Option<String>,
    /// Required unless the disposition is terminal.
    pub next_action: Option<NextActionBody>,
}

/// A next action as posted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextActionBody {
    /// What (`follow_up`, `send_proposal`, `call`, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// When (UTC, in the future).
    pub due_at: Option<jiff::Timestamp>,
    /// Who.
    pub owner_id: Option<i64>,
}

/// Resolves with a disposition and, unless terminal, a next action.
pub async fn resolve<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    path: PathId,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId(path_id(path)?);
    let wf = &state.pipeline.workflow;
    let now = state.clock.now();
    let field = |f: &str, m: String| {
        refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("{f}: {m}"),
            Some(json!({"field": f})),
        )
    };
    let disposition = body.disposition.ok_or_else(|| {
        field(
            "disposition",
            format!("required; one of {}", wf.dispositions.join(", ")),
        )
    })?;
    if !wf.dispositions.contains(&disposition) {
        return Err(field(
            "disposition",
            format!(
                "{disposition:?} is not one of {}",
                wf.dispositions.join(", ")
            ),
        ));
    }
    let terminal = wf.terminal_dispositions.contains(&disposition);
    let next_action = match body.next_action {
        None if terminal => None,
        None => {
            return Err(field(
                "next_action",
                format!("required for the non-terminal disposition {disposition:?}"),
            ));
        }
        Some(n) => {
            let kind = n
                .kind
                .filter(|k| !k.trim().is_empty())
                .ok_or_else(|| field("next_action.type", "required".into()))?;
            let due_at = n
                .due_at
                .ok_or_else(|| field("next_action.due_at", "required (RFC 3339, UTC)".into()))?;
            if due_at <= now {
                return Err(field("next_action.due_at", "must be in the future".into()));
            }
            let owner = n
                .owner_id
                .ok_or_else(|| field("next_action.owner_id", "required".into()))?;
            if state.store.get_agent(AgentId(owner)).await?.is_none() {
                return Err(field("next_action.owner_id", "no such agent".into()));
            }
            Some(NextAction {
                kind,
                due_at,
                owner_id: AgentId(owner),
            })
        }
    };
    let (pipeline, by) = (state.pipeline.clone(), principal.clone());
    let result = state
        .store
        .write(move |tx| {
            Box::pin(async move {
                let Some(mut conv) = tx.conversation(id).await? else {
                    return Ok(Outcome::Refused(ApiError::NotFound("conversation".into())));
                };
                if !may_reply(&by, &conv) {
                    return Ok(Outcome::Refused(ApiError::Forbidden("not yours to resolve".into())));
                }
                if conv.status == ConversationStatus::Resolved {
                    return Ok(Outcome::Refused(refused(StatusCode::CONFLICT, "already_resolved", "the conversation is already resolved", None)));
                }
                pipeline.resolve(tx, &mut conv, &disposition, next_action, now).await?;
                tx.save_conversation(&conv).await?;
                Ok(Outcome::Done(json!({"status": "resolved", "disposition": conv.disposition, "next_action": conv.next_action, "sla_status": conv.sla_status})))
            })
        })
        .await;
    Ok(Json(wrap(result)?))
}

/// `GET /api/v1/templates`.
pub async fn list_templates<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        json!({"templates": state.store.list_templates().await?}),
    ))
}

/// `POST /api/v1/templates/sync` (admin): pulls every page of
/// `GET /{WABA_ID}/message_templates` into the local table.
pub async fn sync_templates<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
) -> Result<impl IntoResponse, ApiError> {
    principal.require_admin()?;
    let (Some(client), Some(waba)) = (state.graph.clone(), state.pipeline.workflow.waba_id.clone())
    else {
        return Err(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "sending_unconfigured",
            "template sync needs SWITCHBOARD_ACCESS_TOKEN and [workflow] waba_id",
            None,
        ));
    };
    let mut after: Option<String> = None;
    let mut all = Vec::new();
    for _ in 0..100 {
        let page = client
            .list_templates(&waba, after.as_deref())
            .await
            .map_err(|e| {
                refused(
                    StatusCode::BAD_GATEWAY,
                    "graph_api_error",
                    e.to_string(),
                    None,
                )
            })?;
        all.extend(page.templates);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let now = state.clock.now();
    let records: Vec<TemplateRecord> = all
        .into_iter()
        .map(|t| TemplateRecord {
            waba_id: waba.clone(),
            meta_id: Some(t.id.clone()),
            name: t.name.clone(),
            language: t.language.clone(),
            status: t.status.clone(),
            category: Some(t.category.clone()),
            components: t.components.clone(),
            placeholders: Value::Array(
                t.placeholders
                    .iter()
                    .map(|p| json!({"component": p.component, "button_index": p.button_index, "media_format": p.media_format, "positional": p.positional, "named": p.named}))
                    .collect(),
            ),
            updated_at: now,
        })
        .collect();
    let n = records.len();
    state
        .store
        .write(move |tx| {
            Box::pin(async move {
                for r in &records {
                    tx.upsert_template(r).await?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(Json(json!({"synced": n})))
}

/// `POST /api/v1/contacts/{id}/opt-in`: `{"source"}` records consent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptInBody {
    /// Where consent was given (`website form`, `ctwa ad`, `in person`).
    pub source: String,
}

/// Records an opt-in with its source and time.
pub async fn opt_in<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
    path: PathId,
    ApiJson(body): ApiJson<OptInBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ContactId(path_id(path)?);
    if body.source.trim().is_empty() {
        return Err(ApiError::Validation("source: required".into()));
    }
    let now = state.clock.now();
    let result = state
        .store
        .write(move |tx| {
            Box::pin(async move {
                if tx.contact(id).await?.is_none() {
                    return Ok(Outcome::Refused(ApiError::NotFound("contact".into())));
                }
                tx.record_consent(id, true, &body.source, now).await?;
                Ok(Outcome::Done(json!({"contact_id": id, "opted_in_at": now})))
            })
        })
        .await;
    Ok(Json(wrap(result)?))
}
