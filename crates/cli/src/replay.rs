//! `switchboard replay FILE`: past conversations through the service's own
//! pipeline in simulated time, before go-live (issue #6). Reads Switchboard's
//! JSON Lines format, a WhatsApp chat export `.txt` or a log of raw webhook
//! deliveries (detected from the content), runs them with a simulated
//! roster on an in-memory store (a SQLite file with `--keep-db`) and prints
//! triage accuracy, escalations, predicted first responses against SLA
//! targets, breaches, load per agent and the launch gates as PASS/FAIL with a remediation list.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use switchboard_replay::{InputFormat, Transcript, chat_export, detect_format, jsonl, webhook_log};
use switchboard_server::config::Config;
use switchboard_server::replay::{Gate, ReplayOptions, ReplayReport, Roster};

use crate::report::{bars_svg, esc, human, pct, secs};

/// Arguments of `switchboard replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Conversations: JSON Lines (crates/replay/FORMAT.md), a WhatsApp chat
    /// export (.txt) or raw webhook deliveries, one per line.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Input format (default: detected from the content).
    #[arg(long, value_enum)]
    pub input: Option<Input>,
    /// Chat exports: the business side's sender name (default: detected
    /// when exactly one of two senders is a phone number).
    #[arg(long, value_name = "NAME")]
    pub business: Option<String>,
    /// Chat exports: the phone's time zone (exports carry local times).
    #[arg(long, value_name = "TZ", default_value = "Asia/Kolkata")]
    pub timezone: String,
    /// Chat exports: date order `dmy`, `mdy` or `ymd` (default: detected).
    #[arg(long, value_name = "ORDER")]
    pub date_order: Option<String>,
    /// Service configuration (SLA policies, calendars, routing, workflow,
    /// reports); the database setting is ignored.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Candidate triage rules file (default: the configuration's, else built-in).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Run a second time with these rules and show both side by side.
    #[arg(long, value_name = "OTHER_RULES")]
    pub compare: Option<PathBuf>,
    /// Simulated roster: TOML with `[[agents]]` (name, role, team, skills,
    /// capacity, reply_median, reply_p90, calendar). Default: 3 agents, a
    /// senior and a supervisor replying in 3 min median / 15 min p90.
    #[arg(long, value_name = "FILE")]
    pub roster: Option<PathBuf>,
    /// Seed of the simulated reply times (same seed, same report).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Resolve a conversation this long after the last reply when the
    /// customer stays quiet.
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub resolve_after: String,
    /// Replay into a SQLite database at this path (must not exist) and keep
    /// it for inspection; without it the replay runs in memory (same
    /// results, much faster).
    #[arg(long, value_name = "FILE")]
    pub keep_db: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Input formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Input {
    /// Switchboard's JSON Lines conversations.
    Jsonl,
    /// A WhatsApp chat export.
    Chat,
    /// Raw webhook deliveries, one per line.
    Webhooks,
}

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Text for a terminal.
    Table,
    /// The full report(s) as JSON.
    Json,
    /// A page with SVG charts.
    Html,
}

/// Reads the input file into transcripts, reporting what was skipped.
///
/// # Errors
/// Unreadable file, unknown format, parse errors (with line numbers).
pub fn read_transcripts(args: &ReplayArgs) -> anyhow::Result<Vec<Transcript>> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let format = match args.input {
        Some(Input::Jsonl) => InputFormat::Jsonl,
        Some(Input::Chat) => InputFormat::ChatExport,
        Some(Input::Webhooks) => InputFormat::WebhookLog,
        None => detect_format(&text).with_context(|| {
            format!(
                "{}: cannot tell the format; pass --input jsonl|chat|webhooks",
                args.file.display()
            )
        })?,
    };
    let name = args.file.display().to_string();
    Ok(match format {
        InputFormat::Jsonl => jsonl::parse(&text).with_context(|| name.clone())?,
        InputFormat::ChatExport => {
            let mut opts = chat_export::ExportOptions::new(
                args.file
                    .file_stem()
                    .map_or_else(|| "export".into(), |s| s.to_string_lossy().into_owned()),
            );
            opts.business.clone_from(&args.business);
            opts.timezone = jiff::tz::TimeZone::get(&args.timezone)
                .with_context(|| format!("--timezone {}", args.timezone))?;
            opts.date_order = args
                .date_order
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--date-order: {e}"))?;
            let export = chat_export::parse(&text, &opts).with_context(|| name.clone())?;
            for w in &export.warnings {
                eprintln!("warning: {name}: {w}");
            }
            vec![export.transcript]
        }
        InputFormat::WebhookLog => {
            let log = webhook_log::parse(&text).with_context(|| name.clone())?;
            for (line, e) in log.errors.iter().take(20) {
                eprintln!("warning: {name}: line {line}: {e}");
            }
            if log.errors.len() > 20 {
                eprintln!("warning: {name}: {} more bad lines", log.errors.len() - 20);
            }
            log.transcripts
        }
    })
}

/// Runs the command.
///
/// # Errors
/// Bad input or options, rules or calendars, store failures, I/O.
pub async fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let transcripts = read_transcripts(args)?;
    if transcripts.is_empty() {
        bail!("{}: no conversations to replay", args.file.display());
    }
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(rules) = &args.rules {
        config.triage.rules_file = Some(rules.clone());
    }
    let roster = match &args.roster {
        None => Roster::default(),
        Some(path) => Roster::from_toml(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
    };
    let resolve_after: switchboard_core::duration::ConfigDuration = args
        .resolve_after
        .parse()
        .map_err(|e| anyhow::anyhow!("--resolve-after: {e}"))?;
    let options = ReplayOptions {
        seed: args.seed,
        roster,
        resolve_after: resolve_after.as_signed(),
        database: args.keep_db.clone(),
        ..ReplayOptions::default()
    };
    let mut reports =
        vec![replay_once(&config, &transcripts, &options, args.quiet, "replay").await?];
    if let Some(other) = &args.compare {
        let mut second = config.clone();
        second.triage.rules_file = Some(other.clone());
        let options = ReplayOptions {
            database: None,
            ..options.clone()
        };
        reports.push(replay_once(&second, &transcripts, &options, args.quiet, "compare").await?);
    }
    let names: Vec<String> = std::iter::once(
        args.rules
            .as_ref()
            .or(config.triage.rules_file.as_ref())
            .map_or_else(|| "built-in rules".into(), |p| p.display().to_string()),
    )
    .chain(args.compare.iter().map(|p| p.display().to_string()))
    .collect();
    let text = match args.format {
        Format::Table => table(&reports, &names),
        Format::Json => serde_json::to_string_pretty(&if reports.len() == 1 {
            serde_json::to_value(&reports[0])?
        } else {
            serde_json::json!({"runs": names.iter().zip(&reports).map(|(n, r)| serde_json::json!({"rules": n, "report": r})).collect::<Vec<_>>()})
        })?,
        Format::Html => html(&reports, &names)?,
    };
    crate::emit(args.out.as_deref(), &text)
}

async fn replay_once(
    config: &Config,
    transcripts: &[Transcript],
    options: &ReplayOptions,
    quiet: bool,
    label: &str,
) -> anyhow::Result<ReplayReport> {
    let pb = ProgressBar::new(0);
    pb.set_draw_target(if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{label} [{{bar:30}}] {{pos}}/{{len}} messages {{per_sec}} eta {{eta}}"
    )) {
        pb.set_style(style.progress_chars("=> "));
    }
    let bar = pb.clone();
    let progress = move |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report =
        switchboard_server::replay::run(config.clone(), transcripts, options, &progress).await?;
    pb.finish_and_clear();
    Ok(report)
}

/// One compared figure of a report.
type Column = Box<dyn Fn(&ReplayReport) -> String>;

fn gate_line(g: &Gate) -> String {
    let verdict = match g.pass {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "N/A ",
    };
    format!("{verdict}  {}: {}", g.name, g.detail)
}

fn table(reports: &[ReplayReport], names: &[String]) -> String {
    let mut out = String::new();
    let Some(r) = reports.first() else {
        return out;
    };
    let _ = writeln!(
        out,
        "Replay of {} conversations, {} customer messages over {:.1} h (seed {}), {} simulated replies",
        r.transcripts, r.messages, r.span_hours, r.seed, r.replies
    );
    if reports.len() > 1 {
        out.push('\n');
        let _ = writeln!(
            out,
            "{:<34}{}",
            "",
            names.iter().map(|n| format!("{n:>28}")).collect::<String>()
        );
        let rows: Vec<(&str, Column)> = vec![
            (
                "rules version",
                Box::new(|r: &ReplayReport| r.rules_version.clone()),
            ),
            (
                "intent accuracy",
                Box::new(|r: &ReplayReport| pct(r.triage.intent_accuracy)),
            ),
            (
                "escalation recall",
                Box::new(|r: &ReplayReport| pct(r.triage.escalation_recall)),
            ),
            (
                "false escalations",
                Box::new(|r: &ReplayReport| pct(r.triage.false_escalation_rate)),
            ),
            (
                "conversations escalated by triage",
                Box::new(|r: &ReplayReport| r.escalation_reasons.values().sum::<u64>().to_string()),
            ),
            (
                "first response median",
                Box::new(|r: &ReplayReport| secs(r.by_intent.total.first_response.median_s)),
            ),
            (
                "first response p90",
                Box::new(|r: &ReplayReport| secs(r.by_intent.total.first_response.p90_s)),
            ),
            (
                "first-response SLA attainment",
                Box::new(|r: &ReplayReport| pct(r.by_intent.total.sla_first_response.rate)),
            ),
            (
                "first-response breaches",
                Box::new(|r: &ReplayReport| {
                    r.by_intent.total.sla_first_response.missed.to_string()
                }),
            ),
            (
                "handoffs",
                Box::new(|r: &ReplayReport| r.by_intent.total.handoff_acceptance.of.to_string()),
            ),
            (
                "gates passed",
                Box::new(|r: &ReplayReport| {
                    format!(
                        "{}/{}",
                        r.gates.iter().filter(|g| g.pass == Some(true)).count(),
                        r.gates.len()
                    )
                }),
            ),
        ];
        for (name, f) in rows {
            let _ = writeln!(
                out,
                "{name:<34}{}",
                reports
                    .iter()
                    .map(|r| format!("{:>28}", f(r)))
                    .collect::<String>()
            );
        }
        out.push('\n');
    }
    for (r, name) in reports.iter().zip(names) {
        if reports.len() > 1 {
            let _ = writeln!(out, "== {name} ==");
        }
        let t = &r.triage;
        let _ = writeln!(
            out,
            "\nTriage ({}) against {} labelled messages: intent accuracy {}, escalation recall {}, false escalations {}",
            r.rules_version,
            t.labelled,
            pct(t.intent_accuracy),
            pct(t.escalation_recall),
            pct(t.false_escalation_rate)
        );
        if !t.per_intent.is_empty() {
            let _ = writeln!(
                out,
                "  {:<22}{:>10}{:>10}{:>10}{:>9}",
                "intent", "precision", "recall", "F1", "support"
            );
            for (k, s) in &t.per_intent {
                let _ = writeln!(
                    out,
                    "  {k:<22}{:>10.3}{:>10.3}{:>10.3}{:>9}",
                    s.precision, s.recall, s.f1, s.support
                );
            }
        }
        let _ = writeln!(
            out,
            "\nEscalations raised by triage (conversations): {}",
            join_counts(&r.escalation_reasons)
        );
        let _ = writeln!(
            out,
            "Escalations by ladder level: {}",
            join_counts(&r.escalations)
        );
        let k = &r.by_intent.total;
        let _ = writeln!(
            out,
            "\nPredicted first response: median {}, p90 {}, mean {} ({} answered, {} unanswered); the input's real ones: median {}, p90 {}",
            secs(k.first_response.median_s),
            secs(k.first_response.p90_s),
            k.first_response
                .mean_s
                .map_or_else(|| "-".into(), |m| human(m.round() as i64)),
            k.first_response.count,
            k.unanswered,
            secs(r.real_first_response.median_s),
            secs(r.real_first_response.p90_s),
        );
        let _ = writeln!(
            out,
            "SLA first response: {} hit, {} breached ({}); handoffs {} ({} acknowledged); conversations {}",
            k.sla_first_response.hit,
            k.sla_first_response.missed,
            pct(k.sla_first_response.rate),
            k.handoff_acceptance.of,
            k.handoff_acceptance.count,
            r.conversations
        );
        let _ = writeln!(
            out,
            "\n  {:<22}{:>8}{:>12}{:>12}{:>10}{:>10}",
            "category", "convs", "frt median", "frt p90", "SLA", "breaches"
        );
        for g in &r.by_category.groups {
            let _ = writeln!(
                out,
                "  {:<22}{:>8}{:>12}{:>12}{:>10}{:>10}",
                g.key.as_deref().unwrap_or("(none)"),
                g.kpis.conversations,
                secs(g.kpis.first_response.median_s),
                secs(g.kpis.first_response.p90_s),
                pct(g.kpis.sla_first_response.rate),
                g.kpis.sla_first_response.missed
            );
        }
        let _ = writeln!(
            out,
            "\n  {:<22}{:>8}{:>12}{:>10}",
            "agent (load)", "convs", "frt median", "handoffs"
        );
        for g in &r.by_agent.groups {
            let _ = writeln!(
                out,
                "  {:<22}{:>8}{:>12}{:>10}",
                g.label
                    .clone()
                    .or_else(|| g.key.clone())
                    .unwrap_or_else(|| "(unassigned)".into()),
                g.kpis.conversations,
                secs(g.kpis.first_response.median_s),
                g.kpis.handoff_acceptance.of
            );
        }
        out.push_str("\nLaunch gates\n");
        for g in &r.gates {
            let _ = writeln!(out, "  {}", gate_line(g));
            for item in &g.remediation {
                let _ = writeln!(out, "      - {item}");
            }
        }
    }
    out
}

fn join_counts(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    let mut v: Vec<(&String, &u64)> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn html(reports: &[ReplayReport], names: &[String]) -> anyhow::Result<String> {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchboard replay</title>\
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}pre{background:#f6f6f6;padding:1em;overflow:auto}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.pass{color:#176e17}.fail{color:#b00}</style></head><body><h1>Switchboard replay</h1>",
    );
    for (r, name) in reports.iter().zip(names) {
        let _ = write!(out, "<h2>{}</h2><ul>", esc(name));
        for g in &r.gates {
            let class = if g.pass == Some(false) {
                "fail"
            } else {
                "pass"
            };
            let _ = write!(out, "<li class=\"{class}\">{}", esc(&gate_line(g)));
            if !g.remediation.is_empty() {
                out.push_str("<ul>");
                for item in &g.remediation {
                    let _ = write!(out, "<li>{}</li>", esc(item));
                }
                out.push_str("</ul>");
            }
            out.push_str("</li>");
        }
        out.push_str("</ul><div class=\"charts\">");
        let intents: Vec<(String, f64)> = r
            .by_intent
            .groups
            .iter()
            .take(20)
            .map(|g| {
                (
                    g.key.clone().unwrap_or_else(|| "(none)".into()),
                    g.kpis.conversations as f64,
                )
            })
            .collect();
        out.push_str(&bars_svg("conversations by intent", &intents)?);
        let frt: Vec<(String, f64)> = r
            .by_category
            .groups
            .iter()
            .map(|g| {
                (
                    g.key.clone().unwrap_or_else(|| "(none)".into()),
                    g.kpis.first_response.median_s.unwrap_or(0) as f64 / 60.0,
                )
            })
            .collect();
        out.push_str(&bars_svg(
            "first response median by category (minutes)",
            &frt,
        )?);
        let load: Vec<(String, f64)> = r
            .by_agent
            .groups
            .iter()
            .map(|g| {
                (
                    g.label
                        .clone()
                        .or_else(|| g.key.clone())
                        .unwrap_or_else(|| "(unassigned)".into()),
                    g.kpis.conversations as f64,
                )
            })
            .collect();
        out.push_str(&bars_svg("load per agent (conversations)", &load)?);
        let f1: Vec<(String, f64)> = r
            .triage
            .per_intent
            .iter()
            .map(|(k, s)| (k.clone(), s.f1))
            .collect();
        if !f1.is_empty() {
            out.push_str(&bars_svg("triage F1 per labelled intent", &f1)?);
        }
        out.push_str("</div>");
    }
    let _ = writeln!(
        out,
        "<pre>{}</pre></body></html>",
        esc(&table(reports, names))
    );
    Ok(out)
}
