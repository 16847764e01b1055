//! `switchboard report`: the KPI summary from the service's database, as a
//! table, CSV, JSON or an HTML page with SVG charts (definitions: KPIS.md).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use switchboard_core::kpi::{Distribution, Kpis, Ratio};
use switchboard_server::config::Config;
use switchboard_server::reports::{Interval, Metric, ReportRuntime, Summary, Timeseries};
use switchboard_store::{Dimension, Store};
use switchboard_store_postgres::PgStore;
use switchboard_store_sqlite::SqliteStore;

/// Arguments of `switchboard report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The service's configuration file (same database and settings as `serve`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// First local day, YYYY-MM-DD (default: 29 days before --to).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last local day, inclusive (default: today in the reporting time zone).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Group by campaign, channel, audience, intent, category, language, team, agent or inbox.
    #[arg(long, value_name = "DIMENSION")]
    pub by: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// One row per group, for spreadsheets.
    Csv,
    /// The summary and daily series as JSON.
    Json,
    /// A page with SVG charts.
    Html,
}

/// Runs the command.
///
/// # Errors
/// Configuration, database and I/O errors, and invalid arguments.
pub async fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let runtime = ReportRuntime::from_config(&config)?;
    let by = args
        .by
        .as_deref()
        .map(Dimension::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!(e))?;
    let today = runtime.today(jiff::Timestamp::now());
    let (from, to) =
        switchboard_server::http::reports::period(args.from.as_deref(), args.to.as_deref(), today)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = if config.is_postgres() {
        let store = PgStore::connect(&config.database_url)
            .await
            .context("opening the PostgreSQL database")?;
        let text = render(&store, &runtime, args, (from, to), by).await;
        store.close().await;
        text?
    } else {
        let store = SqliteStore::connect(&config.database_url)
            .await
            .with_context(|| format!("opening {}", config.database_url))?;
        let text = render(&store, &runtime, args, (from, to), by).await;
        store.close().await;
        text?
    };
    crate::emit(args.out.as_deref(), &text)
}

/// The report in `args.format` from `store` (either backend), after
/// bringing the rollup up to date.
async fn render<S: Store>(
    store: &S,
    runtime: &ReportRuntime,
    args: &ReportArgs,
    (from, to): (jiff::civil::Date, jiff::civil::Date),
    by: Option<Dimension>,
) -> anyhow::Result<String> {
    runtime.rollup(store).await?;
    let mut summary = runtime.summary(store, from, to, by).await?;
    switchboard_server::reports::label_groups(store, &mut summary).await?;
    Ok(match args.format {
        Format::Table => table(&summary),
        Format::Csv => csv(&summary)?,
        Format::Json => {
            let series = series(runtime, store, from, to).await?;
            serde_json::to_string_pretty(
                &serde_json::json!({"summary": summary, "timeseries": series}),
            )?
        }
        Format::Html => {
            let series = series(runtime, store, from, to).await?;
            html(&summary, &series)?
        }
    })
}

/// The daily series the JSON and HTML outputs include.
const SERIES: &[Metric] = &[
    Metric::Conversations,
    Metric::FirstResponseMedian,
    Metric::SlaFirstResponse,
    Metric::Closure,
];

async fn series<S: Store>(
    runtime: &ReportRuntime,
    store: &S,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> anyhow::Result<Vec<Timeseries>> {
    let mut out = Vec::new();
    for m in SERIES {
        out.push(
            runtime
                .timeseries(store, *m, Interval::Day, from, to)
                .await?,
        );
    }
    Ok(out)
}

pub(crate) fn secs(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), human)
}

/// Seconds as `45s`, `12m05s`, `3h20m`, `2d04h`.
pub(crate) fn human(s: i64) -> String {
    match s {
        ..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub(crate) fn pct(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn ratio(r: &Ratio) -> String {
    pct(r.rate)
}

fn dist(d: &Distribution) -> [String; 3] {
    [
        secs(d.median_s),
        secs(d.p90_s),
        d.mean_s
            .map_or_else(|| "-".into(), |m| human(m.round() as i64)),
    ]
}

const COLUMNS: &[&str] = &[
    "group",
    "conversations",
    "frt_median",
    "frt_p90",
    "frt_mean",
    "frt_business_median",
    "unanswered",
    "sla_first_response",
    "sla_resolution",
    "resolution_median",
    "closure",
    "handoff_acceptance",
    "escalations",
    "escalation_ack_mean",
    "bot_resolution",
    "agent_handover",
    "repeat_messages",
    "recontact_7d",
    "template_delivery",
    "qualified",
    "opportunity",
];

fn row(name: &str, k: &Kpis) -> Vec<String> {
    let [m, p90, mean] = dist(&k.first_response);
    vec![
        name.to_owned(),
        k.conversations.to_string(),
        m,
        p90,
        mean,
        secs(k.first_response_business.median_s),
        k.unanswered.to_string(),
        pct(k.sla_first_response.rate),
        pct(k.sla_resolution.rate),
        secs(k.resolution.median_s),
        ratio(&k.closure),
        ratio(&k.handoff_acceptance),
        k.escalations.of.to_string(),
        k.escalation_ack_mean_s
            .map_or_else(|| "-".into(), |m| human(m.round() as i64)),
        ratio(&k.bot_resolution),
        ratio(&k.agent_handover),
        ratio(&k.repeat_messages),
        ratio(&k.recontact),
        ratio(&k.template_delivery),
        ratio(&k.qualified),
        ratio(&k.opportunity),
    ]
}

fn group_name(g: &switchboard_server::reports::Group) -> String {
    match (&g.label, &g.key) {
        (Some(l), Some(k)) => format!("{l} ({k})"),
        (None, Some(k)) => k.clone(),
        (_, None) => "(none)".into(),
    }
}

fn rows(s: &Summary) -> Vec<Vec<String>> {
    let mut out = vec![row("all", &s.total)];
    out.extend(s.groups.iter().map(|g| row(&group_name(g), &g.kpis)));
    out
}

/// Aligned text: KPIs as rows, groups as columns (a terminal is narrow).
fn table(s: &Summary) -> String {
    let data = rows(s);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Switchboard KPIs {} .. {} ({}), cycles opened in the period{}",
        s.from,
        s.to,
        s.timezone,
        s.by.map(|b| format!(", by {}", b.as_str()))
            .unwrap_or_default()
    );
    let width = COLUMNS.iter().map(|c| c.len()).max().unwrap_or(10);
    let col_w: Vec<usize> = data
        .iter()
        .map(|r| r.iter().map(String::len).max().unwrap_or(5).max(8))
        .collect();
    for (i, name) in COLUMNS.iter().enumerate() {
        let _ = write!(out, "{name:<width$}");
        for (r, w) in data.iter().zip(&col_w) {
            let _ = write!(out, "  {:>w$}", r.get(i).map_or("", String::as_str));
        }
        out.push('\n');
    }
    out
}

fn csv(s: &Summary) -> anyhow::Result<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for r in rows(s) {
        w.write_record(&r)?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?)
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart of one daily series (SVG).
fn line_svg(t: &Timeseries) -> anyhow::Result<String> {
    use plotters::prelude::*;
    let pts: Vec<(i32, f64)> = t
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.value.map(|v| (i as i32, v)))
        .collect();
    let n = t.points.len().max(2) as i32;
    let max = pts.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (520, 220)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let labels: Vec<String> = t
            .points
            .iter()
            .map(|p| p.start.strftime("%m-%d").to_string())
            .collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(t.metric.as_str(), ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(48)
            .build_cartesian_2d(0..n - 1, 0.0..max)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| labels.get(*i as usize).cloned().unwrap_or_default())
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().copied(),
                RGBColor(70, 110, 200).stroke_width(2),
            ))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new(*p, 2, RGBColor(70, 110, 200).filled())),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(svg)
}

/// Horizontal bars of one value per group (SVG).
pub(crate) fn bars_svg(title: &str, items: &[(String, f64)]) -> anyhow::Result<String> {
    use plotters::prelude::*;
    let h = 50 + 18 * items.len().max(1) as u32;
    let max = items.iter().map(|i| i.1).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (520, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(20)
            .y_label_area_size(140)
            .build_cartesian_2d(0.0..max, (0..items.len()).into_segmented())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let names: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(items.len().max(1))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, v))| {
                Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (*v, SegmentValue::Exact(i + 1)),
                    ],
                    RGBColor(70, 110, 200).filled(),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(svg)
}

fn html(s: &Summary, series: &[Timeseries]) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchboard KPIs</title>\
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0;font-size:13px}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
.charts{{display:flex;flex-wrap:wrap;gap:12px}}</style></head><body><h1>Switchboard KPIs</h1>\
<p>{} .. {} ({}) · cycles opened in the period · {} conversations · definitions in KPIS.md</p><div class=\"charts\">",
        s.from,
        s.to,
        esc(&s.timezone),
        s.total.conversations
    );
    for t in series {
        out.push_str(&line_svg(t)?);
    }
    if s.by.is_some() && !s.groups.is_empty() {
        let top: Vec<&switchboard_server::reports::Group> = s.groups.iter().take(20).collect();
        let conv: Vec<(String, f64)> = top
            .iter()
            .map(|g| (group_name(g), g.kpis.conversations as f64))
            .collect();
        out.push_str(&bars_svg("conversations", &conv)?);
        let frt: Vec<(String, f64)> = top
            .iter()
            .map(|g| {
                (
                    group_name(g),
                    g.kpis.first_response.median_s.unwrap_or(0) as f64 / 60.0,
                )
            })
            .collect();
        out.push_str(&bars_svg("first response median (minutes)", &frt)?);
        let sla: Vec<(String, f64)> = top
            .iter()
            .map(|g| {
                (
                    group_name(g),
                    g.kpis.sla_first_response.rate.unwrap_or(0.0) * 100.0,
                )
            })
            .collect();
        out.push_str(&bars_svg("first-response SLA attainment (%)", &sla)?);
    }
    out.push_str("</div><table><tr>");
    for c in COLUMNS {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr>");
    for r in rows(s) {
        out.push_str("<tr>");
        for v in r {
            let _ = write!(out, "<td>{}</td>", esc(&v));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></body></html>\n");
    Ok(out)
}
