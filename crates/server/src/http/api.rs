//! `/api/v1`: teams, agents and the conversation queue.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use switchboard_core::ids::{AgentId, ConversationId, TeamId};
use switchboard_core::model::{Availability, Category, ConversationStatus, Role};
use switchboard_store::{AgentPatch, ConversationFilter, NewAgent, NewTeam, QueueCursor, Store};

use super::AppState;
use super::auth::{Principal, new_token, token_hash};
use super::error::{ApiError, ApiJson};
use super::view::{AgentView, ConversationDetailView, ConversationView};

/// Body of `POST /api/v1/teams`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// Unique name.
    pub name: String,
    /// Skills every member has.
    #[serde(default)]
    pub skills: Vec<String>,
}

fn clean_skills(skills: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for s in skills {
        let s = s.trim().to_lowercase();
        if s.is_empty() || s.len() > 64 {
            return Err(ApiError::Validation(
                "skills: each skill is 1-64 characters".into(),
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// `POST /api/v1/teams` (admin): 201 with the team.
pub async fn create_team<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateTeam>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require_admin()?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::Validation("name: 1-200 characters".into()));
    }
    let team = state
        .store
        .create_team(&NewTeam {
            name,
            skills: clean_skills(body.skills)?,
            at: state.clock.now(),
        })
        .await
        .map_err(|e| match e {
            switchboard_store::StoreError::Conflict(_) => {
                ApiError::Conflict("a team with this name exists".into())
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// `GET /api/v1/teams`: every team.
pub async fn list_teams<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        serde_json::json!({"teams": state.store.list_teams().await?}),
    ))
}

/// Body of `POST /api/v1/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// Display name.
    pub name: String,
    /// Unique email.
    pub email: String,
    /// `agent | senior | supervisor | admin`; default `agent`.
    #[serde(default = "default_role")]
    pub role: Role,
    /// Team id.
    pub team_id: Option<i64>,
    /// Skills.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Max open conversations; default 10.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// `online | away | offline`; default `offline`.
    #[serde(default = "default_availability")]
    pub availability: Availability,
}

fn default_role() -> Role {
    Role::Agent
}
fn default_capacity() -> u32 {
    10
}
fn default_availability() -> Availability {
    Availability::Offline
}

/// `POST /api/v1/agents` (admin): 201 with the agent and its API token,
/// shown this once.
pub async fn create_agent<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateAgent>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require_admin()?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::Validation("name: 1-200 characters".into()));
    }
    let email = body.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 320 || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::Validation("email: not an email address".into()));
    }
    if body.capacity > 10_000 {
        return Err(ApiError::Validation("capacity: at most 10000".into()));
    }
    let token = new_token();
    let agent = state
        .store
        .create_agent(&NewAgent {
            name,
            email,
            role: body.role,
            team_id: body.team_id.map(TeamId),
            skills: clean_skills(body.skills)?,
            capacity: body.capacity,
            availability: body.availability,
            token_sha256: token_hash(&token),
            at: state.clock.now(),
        })
        .await
        .map_err(|e| match e {
            switchboard_store::StoreError::Conflict(_) => {
                ApiError::Conflict("an agent with this email exists".into())
            }
            switchboard_store::StoreError::NotFound(_) => {
                ApiError::Validation("team_id: no such team".into())
            }
            other => other.into(),
        })?;
    if agent.availability == Availability::Online {
        drain(&state).await?;
    }
    let agent = state.store.get_agent(agent.id).await?.unwrap_or(agent);
    Ok((
        StatusCode::CREATED,
        Json(AgentView {
            agent,
            token: Some(token),
        }),
    ))
}

/// Body of `PATCH /api/v1/agents/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchAgent {
    /// New presence.
    pub availability: Option<Availability>,
    /// New capacity.
    pub capacity: Option<u32>,
}

/// `PATCH /api/v1/agents/{id}` (admin, or the agent itself): availability
/// and capacity. Coming online or gaining capacity drains the unassigned
/// queue, earliest SLA due first.
pub async fn update_agent<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    path: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    ApiJson(body): ApiJson<PatchAgent>,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(path)?;
    let is_self = matches!(&principal, Principal::Agent(a) if a.id.0 == id);
    if !is_self {
        principal.require_admin()?;
    }
    if body.capacity.is_some_and(|c| c > 10_000) {
        return Err(ApiError::Validation("capacity: at most 10000".into()));
    }
    let agent = state
        .store
        .update_agent(
            AgentId(id),
            &AgentPatch {
                availability: body.availability,
                capacity: body.capacity,
            },
        )
        .await?;
    if agent.availability == Availability::Online && agent.open_count < agent.capacity {
        drain(&state).await?;
    }
    let agent = state.store.get_agent(agent.id).await?.unwrap_or(agent);
    Ok(Json(AgentView { agent, token: None }))
}

/// `GET /api/v1/agents/{id}`.
pub async fn get_agent<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
    path: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(path)?;
    let agent = state
        .store
        .get_agent(AgentId(id))
        .await?
        .ok_or_else(|| ApiError::NotFound("agent".into()))?;
    Ok(Json(AgentView { agent, token: None }))
}

async fn drain<S: Store>(state: &AppState<S>) -> Result<u32, ApiError> {
    let (pipeline, now) = (state.pipeline.clone(), state.clock.now());
    Ok(state
        .store
        .write(move |tx| Box::pin(async move { pipeline.drain_unassigned(tx, now, 500).await }))
        .await?)
}

/// Query of `GET /api/v1/conversations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Filter by status.
    pub status: Option<String>,
    /// Filter by assignee id, or `none` for unassigned.
    pub assignee_id: Option<String>,
    /// Filter by team id.
    pub team_id: Option<i64>,
    /// Filter by category.
    pub category: Option<String>,
    /// Page size, default 50, at most 500.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /api/v1/conversations`: the queue, sorted by SLA due time.
pub async fn list_conversations<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
    query: Result<Query<QueueQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let bad =
        |field: &str, e: &dyn std::fmt::Display| ApiError::InvalidRequest(format!("{field}: {e}"));
    let status = q
        .status
        .as_deref()
        .map(str::parse::<ConversationStatus>)
        .transpose()
        .map_err(|e| bad("status", &e))?;
    let category = q
        .category
        .as_deref()
        .map(str::parse::<Category>)
        .transpose()
        .map_err(|e| bad("category", &e))?;
    let (assignee_id, unassigned) = match q.assignee_id.as_deref() {
        None => (None, false),
        Some("none") => (None, true),
        Some(s) => (
            Some(AgentId(s.parse().map_err(|e| bad("assignee_id", &e))?)),
            false,
        ),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::InvalidRequest("limit: between 1 and 500".into()));
    }
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let page = state
        .store
        .list_conversations(&ConversationFilter {
            status,
            assignee_id,
            unassigned,
            team_id: q.team_id.map(TeamId),
            category,
            limit,
            after,
        })
        .await?;
    let now = state.clock.now();
    let items: Vec<ConversationView> = page
        .items
        .iter()
        .map(|s| ConversationView::new(s, now))
        .collect();
    Ok(Json(serde_json::json!({
        "conversations": items,
        "next_cursor": page.next.map(|c| format!("{}.{}", c.due_ms, c.id.0)),
    })))
}

fn parse_cursor(s: &str) -> Result<QueueCursor, ApiError> {
    let bad = || {
        ApiError::InvalidRequest("cursor: use the next_cursor value of the previous page".into())
    };
    let (due, id) = s.split_once('.').ok_or_else(bad)?;
    Ok(QueueCursor {
        due_ms: due.parse().map_err(|_| bad())?,
        id: ConversationId(id.parse().map_err(|_| bad())?),
    })
}

/// `GET /api/v1/conversations/{id}`: the conversation with messages,
/// per-message triage and assignment history.
pub async fn get_conversation<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
    path: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(path)?;
    let detail = state
        .store
        .get_conversation(ConversationId(id))
        .await?
        .ok_or_else(|| ApiError::NotFound("conversation".into()))?;
    let handoffs = state.store.handoffs(ConversationId(id)).await?;
    Ok(Json(ConversationDetailView::new(
        detail,
        handoffs,
        state.clock.now(),
    )))
}

pub(crate) fn path_id(
    path: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<i64, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::InvalidRequest("the id in the path must be an integer".into()))
}

/// Query of `GET /api/v1/escalations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationQuery {
    /// Include acknowledged escalations (default: only unacknowledged).
    #[serde(default)]
    pub include_acknowledged: bool,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

fn sees_all(p: &Principal) -> bool {
    match p {
        Principal::Admin => true,
        Principal::Agent(a) => matches!(a.role, Role::Supervisor | Role::Admin),
    }
}

/// `GET /api/v1/escalations`: unacknowledged escalations, newest first.
/// Supervisors and admins see all; other agents only those targeting them.
pub async fn list_escalations<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    query: Result<Query<EscalationQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let target_agent_id = match &principal {
        Principal::Agent(a) if !sees_all(&principal) => Some(a.id),
        _ => None,
    };
    let items = state
        .store
        .list_escalations(&switchboard_store::EscalationFilter {
            target_agent_id,
            unacknowledged: !q.include_acknowledged,
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
        })
        .await?;
    Ok(Json(serde_json::json!({ "escalations": items })))
}

/// `POST /api/v1/escalations/{id}/ack`: the target (or a supervisor or
/// admin) acknowledges; idempotent.
pub async fn ack_escalation<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    path: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(path)?;
    let escalation = state
        .store
        .get_escalation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("escalation".into()))?;
    let by = match &principal {
        Principal::Admin => None,
        Principal::Agent(a) => Some(a.id),
    };
    if !sees_all(&principal) && by != escalation.target_agent_id {
        return Err(ApiError::Forbidden(
            "only the escalation's target, a supervisor or an admin can acknowledge it".into(),
        ));
    }
    let acked = state
        .store
        .ack_escalation(id, by, state.clock.now())
        .await?;
    metrics::counter!("switchboard_escalations_acknowledged_total").increment(1);
    Ok(Json(acked))
}

/// `GET /api/v1/sla-policies`: targets per category and clock, overrides,
/// business-hours settings and the escalation ladder.
pub async fn sla_policies<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
) -> Result<impl IntoResponse, ApiError> {
    let sla = &state.pipeline.sla;
    Ok(Json(serde_json::json!({
        "defaults": {
            "first_response": sla.settings.first_response,
            "next_response": sla.settings.next_response,
            "resolution": sla.settings.resolution,
            "business_hours": sla.settings.business_hours,
            "calendar": sla.settings.calendar,
            "warn_at_percent": sla.settings.warn_at_percent,
        },
        "policies": sla.settings.policies,
        "escalation": sla.escalation,
    })))
}

/// `GET /api/v1/calendars`: business calendars with whether each is open now
/// and when it next opens.
pub async fn calendars<S: Store>(
    State(state): State<AppState<S>>,
    _p: Principal,
) -> Result<impl IntoResponse, ApiError> {
    let now = state.clock.now();
    let mut out = serde_json::Map::new();
    for (name, spec) in &state.config.calendars {
        let cal = state.pipeline.sla.calendars.get(name);
        out.insert(
            name.clone(),
            serde_json::json!({
                "spec": spec,
                "open_now": cal.map(|c| c.is_open(now)),
                "next_open": cal.map(|c| c.next_open(now)),
            }),
        );
    }
    Ok(Json(
        serde_json::json!({ "calendars": out, "shift_calendar": state.config.routing.calendar }),
    ))
}

/// `GET /api/v1/triage`: the rules and model versions in use.
pub async fn triage_version<S: Store>(
    State(state): State<AppState<S>>,
    _principal: Principal,
) -> Result<impl IntoResponse, ApiError> {
    let engine = state.pipeline.engine.current();
    Ok(Json(serde_json::json!({
        "rules_version": engine.version(),
        "model_version": engine.model_version(),
        "rules_file": state.config.triage.rules_file,
        "model_file": state.config.triage.model_file,
    })))
}

/// `POST /api/v1/triage/reload` (admin): re-reads `[triage] rules_file`
/// and `model_file` and swaps the engine without a restart (as `SIGHUP`
/// does). An invalid file keeps the engine in use and answers 422
/// `validation_failed` naming the file, line and column.
pub async fn reload_triage<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
) -> Result<impl IntoResponse, ApiError> {
    principal.require_admin()?;
    let engine =
        crate::load_engine(&state.config).map_err(|e| ApiError::Validation(e.to_string()))?;
    let (rules, model) = (
        engine.version().to_owned(),
        engine.model_version().to_owned(),
    );
    let previous = state.pipeline.engine.replace(engine);
    tracing::info!(rules = %rules, model = %model, previous = %previous.version(), "triage rules reloaded");
    Ok(Json(serde_json::json!({
        "rules_version": rules,
        "model_version": model,
        "previous_rules_version": previous.version(),
    })))
}
