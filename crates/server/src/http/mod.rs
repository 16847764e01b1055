//! The HTTP surface: webhook intake, the JSON API, health and metrics.
//!
//! - `GET/POST /webhooks/whatsapp` ([`webhook`]): Meta's handshake and
//!   signed deliveries.
//! - `/api/v1/...` ([`api`]): teams, agents, the conversation queue,
//!   escalations, SLA policies, calendars and the triage engine (version,
//!   reload), behind bearer tokens ([`auth`]); the agent's side ([`work`]):
//!   replies, handoff acknowledgement, assignment, snooze, resolve,
//!   templates, consent.
//! - `/api/v1/reports/...` ([`reports`]): the KPI summary and time series.
//! - `GET /healthz`, `GET /metrics` (Prometheus text format).
//!
//! Errors use [`error::ApiError`]'s body and stable codes.

pub mod api;
pub mod auth;
pub mod error;
pub mod reports;
pub mod view;
pub mod webhook;
pub mod work;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_core::clock::Clock;
use switchboard_store::Store;

use crate::config::Config;
use crate::ingest::Ingestor;
use crate::pipeline::Pipeline;

/// Shared state of every handler.
#[derive(Debug)]
pub struct AppState<S: Store> {
    /// The database.
    pub store: S,
    /// Effective configuration.
    pub config: Arc<Config>,
    /// The group-commit writer.
    pub ingestor: Ingestor,
    /// Triage, SLA and routing.
    pub pipeline: Pipeline,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// Wakes the outbox worker; `None` when sending is not configured.
    pub outbox: Option<Arc<tokio::sync::Notify>>,
    /// The Graph API client (template sync); `None` without a token.
    pub graph: Option<Arc<switchboard_whatsapp::client::CloudApiClient>>,
    /// Reporting settings and the rollup.
    pub reports: Arc<crate::reports::ReportRuntime>,
}

impl<S: Store> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            config: self.config.clone(),
            ingestor: self.ingestor.clone(),
            pipeline: self.pipeline.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            outbox: self.outbox.clone(),
            graph: self.graph.clone(),
            reports: self.reports.clone(),
        }
    }
}

/// Builds the router over `state`.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    let max_body = state.config.ingest.max_body_bytes;
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(webhook::verify::<S>)
                .post(webhook::receive::<S>)
                .layer(axum::extract::DefaultBodyLimit::max(max_body)),
        )
        .route(
            "/api/v1/teams",
            post(api::create_team::<S>).get(api::list_teams::<S>),
        )
        .route("/api/v1/agents", post(api::create_agent::<S>))
        .route(
            "/api/v1/agents/{id}",
            patch(api::update_agent::<S>).get(api::get_agent::<S>),
        )
        .route("/api/v1/conversations", get(api::list_conversations::<S>))
        .route(
            "/api/v1/conversations/{id}",
            get(api::get_conversation::<S>),
        )
        .route("/api/v1/conversations/{id}/messages", post(work::send::<S>))
        .route("/api/v1/conversations/{id}/assign", post(work::assign::<S>))
        .route(
            "/api/v1/conversations/{id}/handoff/ack",
            post(work::ack_handoff::<S>),
        )
        .route("/api/v1/conversations/{id}/snooze", post(work::snooze::<S>))
        .route(
            "/api/v1/conversations/{id}/resolve",
            post(work::resolve::<S>),
        )
        .route("/api/v1/templates", get(work::list_templates::<S>))
        .route("/api/v1/templates/sync", post(work::sync_templates::<S>))
        .route("/api/v1/contacts/{id}/opt-in", post(work::opt_in::<S>))
        .route("/api/v1/escalations", get(api::list_escalations::<S>))
        .route(
            "/api/v1/escalations/{id}/ack",
            post(api::ack_escalation::<S>),
        )
        .route("/api/v1/sla-policies", get(api::sla_policies::<S>))
        .route("/api/v1/calendars", get(api::calendars::<S>))
        .route("/api/v1/triage", get(api::triage_version::<S>))
        .route("/api/v1/triage/reload", post(api::reload_triage::<S>))
        .route("/api/v1/reports/summary", get(reports::summary::<S>))
        .route("/api/v1/reports/timeseries", get(reports::timeseries::<S>))
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics_text::<S>))
        .fallback(|| async { error::ApiError::NotFound("route".into()) })
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz<S: Store>(State(state): State<AppState<S>>) -> impl IntoResponse {
    match state.store.queue_stats(state.clock.now()).await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                serde_json::json!({"error": {"code": "unavailable", "message": e.to_string()}}),
            ),
        ),
    }
}

async fn metrics_text<S: Store>(State(state): State<AppState<S>>) -> impl IntoResponse {
    // Queue depth is read at scrape time so it is exact, not a drifting gauge.
    if let Ok(q) = state.store.queue_stats(state.clock.now()).await {
        metrics::gauge!("switchboard_queue_open").set(q.open as f64);
        metrics::gauge!("switchboard_queue_waiting").set(q.waiting as f64);
        metrics::gauge!("switchboard_queue_unassigned").set(q.unassigned as f64);
        metrics::gauge!("switchboard_queue_overdue").set(q.overdue as f64);
    }
    let body = state
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
