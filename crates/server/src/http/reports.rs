//! `GET /api/v1/reports/summary` and `GET /api/v1/reports/timeseries`:
//! KPIs for supervisors and admins (definitions in `KPIS.md`).

use axum::Json;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use jiff::civil::Date;
use serde::Deserialize;
use switchboard_core::model::Role;
use switchboard_store::{Dimension, Store};

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;
use crate::reports::{Interval, Metric};

/// Days a report covers when `from` is left out (ending `to`, default today).
pub const DEFAULT_DAYS: i64 = 30;

/// Query of the summary report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// First local day, `YYYY-MM-DD`; default 29 days before `to`.
    pub from: Option<String>,
    /// Last local day (inclusive); default today in the reporting time zone.
    pub to: Option<String>,
    /// Group by: campaign, channel, audience, intent, category, language,
    /// team, agent or inbox.
    pub by: Option<String>,
}

/// Query of the time series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeseriesQuery {
    /// The KPI (see [`Metric`]); default `conversations`.
    pub metric: Option<String>,
    /// `day`, `week` or `month`; default `day`.
    pub interval: Option<String>,
    /// First local day; default 29 days before `to`.
    pub from: Option<String>,
    /// Last local day; default today.
    pub to: Option<String>,
}

fn require_supervisor(p: &Principal) -> Result<(), ApiError> {
    match p {
        Principal::Admin => Ok(()),
        Principal::Agent(a) if matches!(a.role, Role::Supervisor | Role::Admin) => Ok(()),
        Principal::Agent(_) => Err(ApiError::Forbidden(
            "reports need a supervisor or admin token".into(),
        )),
    }
}

/// Parses the period: `to` defaults to today, `from` to `to - 29 days`.
///
/// # Errors
/// [`ApiError::Validation`] for a malformed date or `from` after `to`.
pub fn period(from: Option<&str>, to: Option<&str>, today: Date) -> Result<(Date, Date), ApiError> {
    let parse = |name: &str, v: &str| {
        v.parse::<Date>().map_err(|e| {
            ApiError::Validation(format!("{name}: {v:?} is not a date (YYYY-MM-DD): {e}"))
        })
    };
    let to = to.map(|v| parse("to", v)).transpose()?.unwrap_or(today);
    let from = match from {
        Some(v) => parse("from", v)?,
        None => to
            .checked_sub(jiff::Span::new().days(DEFAULT_DAYS - 1))
            .unwrap_or(to),
    };
    if from > to {
        return Err(ApiError::Validation(format!(
            "from ({from}) is after to ({to})"
        )));
    }
    Ok((from, to))
}

/// `GET /api/v1/reports/summary?from=&to=&by=`: KPIs of the cycles opened
/// in the period, overall and per group, plus the live queue. Folds new
/// events first, so the numbers include everything committed.
pub async fn summary<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    query: Result<Query<SummaryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_supervisor(&principal)?;
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let by =
        q.by.as_deref()
            .map(Dimension::parse)
            .transpose()
            .map_err(ApiError::Validation)?;
    let now = state.clock.now();
    let (from, to) = period(q.from.as_deref(), q.to.as_deref(), state.reports.today(now))?;
    state.reports.rollup(&state.store).await?;
    let mut report = state.reports.summary(&state.store, from, to, by).await?;
    crate::reports::label_groups(&state.store, &mut report).await?;
    let queue = state.store.queue_stats(now).await?;
    Ok(Json(
        serde_json::json!({ "summary": report, "queue": queue }),
    ))
}

/// `GET /api/v1/reports/timeseries?metric=&interval=day|week|month&from=&to=`.
pub async fn timeseries<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    query: Result<Query<TimeseriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_supervisor(&principal)?;
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let metric = Metric::parse(q.metric.as_deref().unwrap_or("conversations"))
        .map_err(ApiError::Validation)?;
    let interval =
        Interval::parse(q.interval.as_deref().unwrap_or("day")).map_err(ApiError::Validation)?;
    let (from, to) = period(
        q.from.as_deref(),
        q.to.as_deref(),
        state.reports.today(state.clock.now()),
    )?;
    state.reports.rollup(&state.store).await?;
    let series = state
        .reports
        .timeseries(&state.store, metric, interval, from, to)
        .await?;
    Ok(Json(serde_json::json!({ "timeseries": series })))
}
