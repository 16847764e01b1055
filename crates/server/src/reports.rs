//! KPIs and reports (issue #6; definitions in `KPIS.md`).
//!
//! Parts:
//! - [`ReportRuntime`]: the reporting settings compiled from `[reports]`
//!   (time zone, business-hours calendar, qualification dispositions).
//! - [`ReportRuntime::rollup`]: folds new reporting events into per-cycle
//!   facts (`switchboard_core::kpi::cycles`), incrementally: only
//!   conversations with new events are recomputed, from all their events,
//!   so late and out-of-order events land in the right cycle.
//! - [`ReportRuntime::summary`] and [`ReportRuntime::timeseries`]: KPIs of
//!   the cycles opened in a period of local days, overall and by a
//!   dimension, or per day/week.
//! - [`RollupWorker`]: keeps the rollup current in the background.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use switchboard_core::calendar::BusinessCalendar;
use switchboard_core::ids::ConversationId;
use switchboard_core::kpi::{self, KpiAccumulator, Kpis, Qualification};
use switchboard_store::{CycleRecord, DailyAggregate, Dimension, Store, StoreResult, StoreTx};

use crate::config::Config;

/// Events folded per rollup transaction (bounded so a backlog never holds
/// the single SQLite writer for long).
const ROLLUP_BATCH: u32 = 5_000;

/// Reporting settings, compiled.
#[derive(Debug, Clone)]
pub struct ReportRuntime {
    /// Time zone of report days.
    pub tz: TimeZone,
    /// Calendar of the business-hours variants.
    pub calendar: Option<BusinessCalendar>,
    /// Dispositions that mark a lead qualified.
    pub qualified: BTreeSet<String>,
    /// Dispositions that mark an opportunity.
    pub opportunity: BTreeSet<String>,
}

/// Why reporting settings or a report request are invalid.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A setting or parameter is invalid; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] switchboard_store::StoreError),
}

impl ReportRuntime {
    /// Compiles `[reports]` (falling back to `[sla] calendar`).
    ///
    /// # Errors
    /// [`ReportError::Invalid`] for an unknown calendar or time zone.
    pub fn from_config(config: &Config) -> Result<Self, ReportError> {
        let calendar_name = config
            .reports
            .calendar
            .as_ref()
            .or(config.sla.calendar.as_ref());
        let calendar = match calendar_name {
            None => None,
            Some(name) => {
                let spec = config.calendars.get(name).ok_or_else(|| {
                    ReportError::Invalid(format!(
                        "calendar {name:?} is not defined under [calendars]"
                    ))
                })?;
                Some(
                    BusinessCalendar::new(spec)
                        .map_err(|e| ReportError::Invalid(format!("calendar {name}: {e}")))?,
                )
            }
        };
        let tz = match &config.reports.timezone {
            Some(name) => TimeZone::get(name)
                .map_err(|e| ReportError::Invalid(format!("reports.timezone {name:?}: {e}")))?,
            None => calendar
                .as_ref()
                .map_or(TimeZone::UTC, |c| c.time_zone().clone()),
        };
        Ok(Self {
            tz,
            calendar,
            qualified: config
                .reports
                .qualified_dispositions
                .iter()
                .cloned()
                .collect(),
            opportunity: config
                .reports
                .opportunity_dispositions
                .iter()
                .cloned()
                .collect(),
        })
    }

    /// Today's local date.
    pub fn today(&self, now: jiff::Timestamp) -> Date {
        now.to_zoned(self.tz.clone()).date()
    }

    fn qualification(&self, disposition: Option<&str>) -> Qualification {
        disposition.map_or_else(Qualification::default, |d| Qualification {
            qualified: self.qualified.contains(d),
            opportunity: self.opportunity.contains(d),
        })
    }

    /// Folds every reporting event not yet rolled up into cycles; returns
    /// how many events it folded. Each batch is one write transaction that
    /// also moves the watermark, so a crash never folds twice or skips.
    ///
    /// # Errors
    /// Store errors.
    pub async fn rollup<S: Store>(&self, store: &S) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let (calendar, tz) = (self.calendar.clone(), self.tz.clone());
            let folded = store
                .write(move |tx| {
                    Box::pin(async move {
                        let after = tx.rollup_watermark().await?;
                        let events = tx.report_events_after(after, ROLLUP_BATCH).await?;
                        let Some(last) = events.last().map(|e| e.id) else {
                            return Ok(0);
                        };
                        let touched: Vec<ConversationId> = events
                            .iter()
                            .filter_map(|e| e.conversation_id)
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        let all = tx.report_events_of(&touched).await?;
                        let mut by_conv: BTreeMap<ConversationId, Vec<kpi::ReportEvent>> =
                            BTreeMap::new();
                        for e in all {
                            if let Some(c) = e.conversation_id {
                                by_conv.entry(c).or_default().push(e);
                            }
                        }
                        let mut dirty: BTreeSet<Date> = BTreeSet::new();
                        for (id, events) in by_conv {
                            let records: Vec<CycleRecord> =
                                kpi::cycles(id, &events, calendar.as_ref())
                                    .into_iter()
                                    .map(|cycle| CycleRecord {
                                        day: cycle.opened_at.to_zoned(tz.clone()).date(),
                                        cycle,
                                    })
                                    .collect();
                            dirty.extend(tx.replace_cycles(id, &records).await?);
                        }
                        aggregate_days(tx, dirty).await?;
                        tx.set_rollup_watermark(last).await?;
                        Ok(events.len() as u64)
                    })
                })
                .await?;
            total += folded;
            if folded < u64::from(ROLLUP_BATCH) {
                return Ok(total);
            }
        }
    }

    /// KPIs of the cycles opened on local days `from..=to`, overall and
    /// grouped by `by`.
    ///
    /// # Errors
    /// Store errors.
    pub async fn summary<S: Store>(
        &self,
        store: &S,
        from: Date,
        to: Date,
        by: Option<Dimension>,
    ) -> StoreResult<Summary> {
        let qualify = |d: &str| self.qualification(Some(d));
        // Every cycle has exactly one value (or none) per dimension, so a
        // grouped report's total is the sum of its groups: one read, not two.
        let mut total = KpiAccumulator::default();
        let mut rows: Vec<Group> = Vec::new();
        if let Some(by) = by {
            let mut groups: BTreeMap<Option<String>, KpiAccumulator> = BTreeMap::new();
            for row in store.daily_aggregates(from, to, Some(by)).await? {
                total.merge(&row.acc);
                groups.entry(row.key).or_default().merge(&row.acc);
            }
            rows = groups
                .into_iter()
                .map(|(key, acc)| Group {
                    key,
                    label: None,
                    kpis: acc.finish(qualify),
                })
                .collect();
            rows.sort_by(|a, b| {
                b.kpis
                    .conversations
                    .cmp(&a.kpis.conversations)
                    .then_with(|| a.key.cmp(&b.key))
            });
        } else {
            for row in store.daily_aggregates(from, to, None).await? {
                total.merge(&row.acc);
            }
        }
        Ok(Summary {
            from,
            to,
            timezone: self.tz.iana_name().unwrap_or("UTC").to_owned(),
            by,
            total: total.finish(qualify),
            groups: rows,
        })
    }

    /// One KPI per day or week over local days `from..=to`: every period
    /// in the range appears, with `value: None` where nothing was measured.
    ///
    /// # Errors
    /// Store errors.
    pub async fn timeseries<S: Store>(
        &self,
        store: &S,
        metric: Metric,
        interval: Interval,
        from: Date,
        to: Date,
    ) -> StoreResult<Timeseries> {
        let qualify = |d: &str| self.qualification(Some(d));
        let mut periods: BTreeMap<Date, KpiAccumulator> = BTreeMap::new();
        let mut day = interval.start_of(from);
        while day <= to {
            periods.insert(day, KpiAccumulator::default());
            day = match interval.next(day) {
                Some(d) => d,
                None => break,
            };
        }
        for row in store.daily_aggregates(from, to, None).await? {
            periods
                .entry(interval.start_of(row.day))
                .or_default()
                .merge(&row.acc);
        }
        let points = periods
            .into_iter()
            .map(|(start, acc)| {
                let k = acc.finish(qualify);
                Point {
                    start,
                    value: metric.value(&k),
                    conversations: k.conversations,
                }
            })
            .collect();
        Ok(Timeseries {
            metric,
            interval,
            from,
            to,
            timezone: self.tz.iana_name().unwrap_or("UTC").to_owned(),
            points,
        })
    }
}

/// KPIs of one group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// The dimension's value (`None`: the cycles had none, e.g. untriaged).
    pub key: Option<String>,
    /// A readable name for ids (agent and team names), when known.
    pub label: Option<String>,
    /// The KPIs.
    pub kpis: Kpis,
}

/// A summary report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// First local day (inclusive).
    pub from: Date,
    /// Last local day (inclusive).
    pub to: Date,
    /// Time zone of the days.
    pub timezone: String,
    /// The grouping dimension.
    pub by: Option<Dimension>,
    /// KPIs over every cycle in the period.
    pub total: Kpis,
    /// KPIs per group, largest first (empty without `by`).
    pub groups: Vec<Group>,
}

/// Day or week buckets (weeks start on Monday, ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Local days.
    Day,
    /// ISO weeks, Monday first.
    Week,
    /// Calendar months.
    Month,
}

impl Interval {
    /// Parses `day`, `week` or `month`.
    ///
    /// # Errors
    /// A message listing the accepted words.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err(format!(
                "unknown interval {s:?}; expected one of: day, week, month"
            )),
        }
    }

    /// The first day of the period containing `d`.
    pub fn start_of(self, d: Date) -> Date {
        match self {
            Self::Day => d,
            Self::Week => {
                let back = i64::from(d.weekday().to_monday_zero_offset());
                d.checked_sub(jiff::Span::new().days(back)).unwrap_or(d)
            }
            Self::Month => d.first_of_month(),
        }
    }

    fn next(self, d: Date) -> Option<Date> {
        let step = match self {
            Self::Day => jiff::Span::new().days(1),
            Self::Week => jiff::Span::new().weeks(1),
            Self::Month => jiff::Span::new().months(1),
        };
        d.checked_add(step).ok()
    }
}

macro_rules! metrics {
    ($($(#[$doc:meta])* $variant:ident = $word:literal => |$k:ident| $value:expr),+ $(,)?) => {
        /// A KPI plotted by [`ReportRuntime::timeseries`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Metric {
            $($(#[$doc])* #[serde(rename = $word)] $variant),+
        }

        impl Metric {
            /// Every metric.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),+];

            /// The snake_case word.
            pub const fn as_str(self) -> &'static str {
                match self { $(Metric::$variant => $word),+ }
            }

            /// The metric's value for one group's KPIs.
            #[allow(clippy::cast_precision_loss, reason = "report values")]
            pub fn value(self, k: &Kpis) -> Option<f64> {
                match self { $(Metric::$variant => { let $k = k; $value }),+ }
            }
        }
    };
}

metrics! {
    /// Cycles opened.
    Conversations = "conversations" => |k| Some(k.conversations as f64),
    /// Median first response time, seconds.
    FirstResponseMedian = "first_response_median_s" => |k| k.first_response.median_s.map(|v| v as f64),
    /// 90th percentile first response time, seconds.
    FirstResponseP90 = "first_response_p90_s" => |k| k.first_response.p90_s.map(|v| v as f64),
    /// Median first response time in business hours, seconds.
    FirstResponseBusinessMedian = "first_response_business_median_s" => |k| k.first_response_business.median_s.map(|v| v as f64),
    /// Mean next response time, seconds.
    NextResponseMean = "next_response_mean_s" => |k| k.next_response.mean_s,
    /// Median resolution time, seconds.
    ResolutionMedian = "resolution_median_s" => |k| k.resolution.median_s.map(|v| v as f64),
    /// First-response SLA attainment (0..=1).
    SlaFirstResponse = "sla_first_response" => |k| k.sla_first_response.rate,
    /// Resolution SLA attainment (0..=1).
    SlaResolution = "sla_resolution" => |k| k.sla_resolution.rate,
    /// Handoff acceptance rate (0..=1).
    HandoffAcceptance = "handoff_acceptance" => |k| k.handoff_acceptance.rate,
    /// Escalations raised.
    Escalations = "escalations" => |k| Some(k.escalations.of as f64),
    /// Bot resolution rate (0..=1).
    BotResolution = "bot_resolution" => |k| k.bot_resolution.rate,
    /// Agent handover rate (0..=1).
    AgentHandover = "agent_handover" => |k| k.agent_handover.rate,
    /// Closure rate with a disposition (0..=1).
    Closure = "closure" => |k| k.closure.rate,
    /// Repeat message rate (0..=1).
    RepeatMessages = "repeat_messages" => |k| k.repeat_messages.rate,
    /// Re-contact rate within 7 days (0..=1).
    Recontact = "recontact" => |k| k.recontact.rate,
    /// Template delivery success (0..=1).
    TemplateDelivery = "template_delivery" => |k| k.template_delivery.rate,
    /// Qualification pass rate (0..=1).
    Qualified = "qualified" => |k| k.qualified.rate,
    /// Opportunity rate (0..=1).
    Opportunity = "opportunity" => |k| k.opportunity.rate,
}

impl Metric {
    /// Parses a metric's word; the error lists the accepted ones.
    ///
    /// # Errors
    /// A message naming the accepted words.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let words: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
                format!(
                    "unknown metric {s:?}; expected one of: {}",
                    words.join(", ")
                )
            })
    }
}

/// One period of a time series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// First local day of the period.
    pub start: Date,
    /// The metric (`None` when nothing was measured).
    pub value: Option<f64>,
    /// Cycles opened in the period.
    pub conversations: u64,
}

/// A KPI over time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeseries {
    /// The metric.
    pub metric: Metric,
    /// The bucket size.
    pub interval: Interval,
    /// First local day (inclusive).
    pub from: Date,
    /// Last local day (inclusive).
    pub to: Date,
    /// Time zone of the days.
    pub timezone: String,
    /// Every period from `from` to `to`.
    pub points: Vec<Point>,
}

/// Runs the rollup every `every` in the background.
#[derive(Debug, Clone)]
pub struct RollupWorker<S: Store> {
    store: S,
    reports: Arc<ReportRuntime>,
    every: Duration,
}

impl<S: Store> RollupWorker<S> {
    /// A worker folding events every `every`.
    pub fn new(store: S, reports: Arc<ReportRuntime>, every: Duration) -> Self {
        Self {
            store,
            reports,
            every,
        }
    }

    /// Folds until `shutdown` resolves (and once more at the end).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.reports.rollup(&self.store).await {
                tracing::warn!(error = %e, "report rollup failed; retrying");
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.every) => {}
            }
        }
        if let Err(e) = self.reports.rollup(&self.store).await {
            tracing::warn!(error = %e, "final report rollup failed");
        }
    }
}

/// Fills in readable labels for agent and team groups (their names).
///
/// # Errors
/// Store errors.
pub async fn label_groups<S: Store>(store: &S, summary: &mut Summary) -> StoreResult<()> {
    match summary.by {
        Some(Dimension::Agent) => {
            for g in &mut summary.groups {
                if let Some(id) = g.key.as_deref().and_then(|k| k.parse::<i64>().ok())
                    && let Some(agent) = store.get_agent(switchboard_core::ids::AgentId(id)).await?
                {
                    g.label = Some(agent.name);
                }
            }
        }
        Some(Dimension::Team) => {
            let teams = store.list_teams().await?;
            for g in &mut summary.groups {
                g.label = teams
                    .iter()
                    .find(|t| Some(t.id.0.to_string()) == g.key)
                    .map(|t| t.name.clone());
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rebuilds the daily aggregates of `days` from their stored cycles
/// (inside the caller's write transaction).
///
/// # Errors
/// Store errors.
pub async fn aggregate_days<T: StoreTx>(
    tx: &mut T,
    days: impl IntoIterator<Item = Date>,
) -> StoreResult<()> {
    for day in days {
        let cycles = tx.cycles_of_day(day).await?;
        let rows: Vec<DailyAggregate> = kpi::aggregate_day(&cycles)
            .into_iter()
            .map(|(dimension, key, acc)| DailyAggregate {
                day,
                dimension,
                key,
                acc,
            })
            .collect();
        tx.replace_daily(day, &rows).await?;
    }
    Ok(())
}
