//! `switchboard eval`: measures triage on labelled messages.
//!
//! ```text
//! switchboard eval --data FILE [--data FILE…] --mapping FILE
//!                  [--split test] [--rules FILE] [--model FILE]
//!                  [--format table|json|html] [--out FILE]
//! ```
//!
//! Every record goes through the same engine as the service (rules plus
//! model). Reported: intent accuracy, macro-F1, per-intent precision /
//! recall / F1 and the confusion matrix; escalation recall and
//! false-escalation rate overall and by language, source and reason
//! (definitions in `switchboard_core::metrics`); category recall when the
//! data has categories; language accuracy when it has languages; sentiment
//! negative-vs-not F1 when it has gold sentiment; hard negatives and
//! positives. `--split` keeps only records of that split, so a report on
//! `test` never mixes in training data. The HTML report draws the
//! confusion matrix and per-intent F1 as SVG.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::report::esc;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use switchboard_core::dataset::Mapping;
use switchboard_core::metrics::{ClassScore, Confusion, EscalationCounts};
use switchboard_core::model::EscalationReason;
use switchboard_core::sentiment::SentimentLabel;
use switchboard_core::triage::{History, TriageInput};

use crate::data::read_records;
use crate::triage_cmd::load_engine;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain-text tables.
    Table,
    /// One JSON document.
    Json,
    /// A self-contained HTML page with SVG charts.
    Html,
}

/// Arguments of `switchboard eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Labelled messages (JSON Lines or CSV; repeat for several files).
    #[arg(long, value_name = "FILE", required = true)]
    pub data: Vec<PathBuf>,
    /// Label mapping (TOML) from the data's labels to Switchboard's.
    #[arg(long, value_name = "FILE")]
    pub mapping: PathBuf,
    /// Only records of this split (`test` for reported numbers).
    #[arg(long)]
    pub split: Option<String>,
    /// Rules file (default: built-in).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Model file (default: built-in).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Escalation quality for one slice of the data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EscalationSlice {
    /// Raw counts.
    pub counts: EscalationCounts,
    /// Escalation recall (null without positives).
    pub recall: Option<f64>,
    /// False-escalation rate (null without negatives).
    pub false_escalation_rate: Option<f64>,
}

impl EscalationSlice {
    fn add(&mut self, gold: bool, predicted: bool) {
        self.counts.add(gold, predicted);
        self.recall = self.counts.recall();
        self.false_escalation_rate = self.counts.false_escalation_rate();
    }
}

/// Per gold reason: how many escalated at all, and how many with that
/// exact reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReasonSlice {
    /// Messages with this gold reason.
    pub support: u64,
    /// Of those, escalated for any reason.
    pub escalated: u64,
    /// Of those, predicted with this reason.
    pub exact: u64,
    /// `escalated / support`.
    pub recall: f64,
    /// `exact / support`.
    pub reason_recall: f64,
    /// Messages predicted with this reason whose gold lacks it.
    pub extra: u64,
}

/// Accuracy of one labelled attribute (language, sentiment).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attribute {
    /// Messages with a gold value.
    pub messages: u64,
    /// Share predicted right.
    pub accuracy: f64,
    /// Per gold value: (messages, right).
    pub by_value: BTreeMap<String, (u64, u64)>,
}

/// Sentiment, negative vs not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SentimentReport {
    /// Messages with gold sentiment.
    pub messages: u64,
    /// Precision of "negative".
    pub precision: f64,
    /// Recall of "negative".
    pub recall: f64,
    /// F1 of "negative".
    pub f1: f64,
}

/// A message the engine got wrong on escalation, for reading.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    /// Record id or line.
    pub id: String,
    /// The text.
    pub text: String,
    /// Gold reasons.
    pub gold: Vec<EscalationReason>,
    /// Predicted reasons.
    pub predicted: Vec<EscalationReason>,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Data files.
    pub data: Vec<String>,
    /// Split filter.
    pub split: Option<String>,
    /// Mapping version.
    pub mapping_version: String,
    /// Rules version.
    pub rules_version: String,
    /// Model identifier.
    pub model_version: String,
    /// Messages evaluated (with intent labels).
    pub messages: u64,
    /// Intent accuracy.
    pub intent_accuracy: f64,
    /// Intent macro-F1.
    pub intent_macro_f1: f64,
    /// Per intent.
    pub intents: BTreeMap<String, ClassScore>,
    /// Intent confusion matrix.
    pub confusion: Confusion,
    /// Escalation overall.
    pub escalation: EscalationSlice,
    /// By gold language.
    pub escalation_by_language: BTreeMap<String, EscalationSlice>,
    /// By source.
    pub escalation_by_source: BTreeMap<String, EscalationSlice>,
    /// By gold reason.
    pub escalation_by_reason: BTreeMap<String, ReasonSlice>,
    /// Intent accuracy and macro-F1 by source.
    pub intent_by_source: BTreeMap<String, (u64, f64, f64)>,
    /// Category recall (gold category → (messages, right)).
    pub category: Attribute,
    /// Language detection.
    pub language: Attribute,
    /// Sentiment, negative vs not.
    pub sentiment: Option<SentimentReport>,
    /// Hard examples: kind → (messages, right on escalation).
    pub hard: BTreeMap<String, (u64, u64)>,
    /// Escalation mistakes (first 200).
    pub misses: Vec<Miss>,
    /// Mean microseconds per triage decision in this run.
    pub micros_per_message: f64,
}

fn attr_add(a: &mut Attribute, gold: &str, predicted: &str) {
    let e = a.by_value.entry(gold.to_owned()).or_default();
    e.0 += 1;
    if gold == predicted {
        e.1 += 1;
    }
    a.messages += 1;
    let right: u64 = a.by_value.values().map(|v| v.1).sum();
    a.accuracy = right as f64 / a.messages as f64;
}

/// Runs `switchboard eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.mapping)
        .with_context(|| format!("cannot read {}", args.mapping.display()))?;
    let mapping = Mapping::from_toml(&text).with_context(|| args.mapping.display().to_string())?;
    let engine = load_engine(args.rules.as_ref(), args.model.as_ref())?;
    let mut records = Vec::new();
    for p in &args.data {
        records.extend(read_records(p)?);
    }
    if let Some(split) = &args.split {
        records.retain(|r| r.split.as_deref() == Some(split.as_str()));
    }
    if records.is_empty() {
        bail!("no records to evaluate");
    }
    let pb = ProgressBar::new(records.len() as u64);
    pb.set_draw_target(if args.quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    if let Ok(style) =
        ProgressStyle::with_template("eval [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    let at: jiff::Timestamp = "2026-01-01T00:00:00Z".parse()?;
    let mut report = Report {
        data: args.data.iter().map(|p| p.display().to_string()).collect(),
        split: args.split.clone(),
        mapping_version: mapping.version.clone(),
        rules_version: engine.version().to_owned(),
        model_version: engine.model_version().to_owned(),
        ..Report::default()
    };
    let mut by_source: BTreeMap<String, Confusion> = BTreeMap::new();
    let (mut s_tp, mut s_fp, mut s_fn, mut s_n) = (0u64, 0u64, 0u64, 0u64);
    let started = std::time::Instant::now();
    for (i, r) in records.iter().enumerate() {
        pb.inc(1);
        let result = engine.triage(&TriageInput {
            text: Some(&r.text),
            message_type: "text",
            sent_at: at,
            history: History {
                waiting_inbound: 1,
                ..History::default()
            },
        });
        if let Some(lang) = &r.language {
            attr_add(&mut report.language, lang, &result.language);
        }
        if let Some(gold) = &r.sentiment {
            let gold_neg = gold == "negative";
            let pred_neg = result.sentiment.label == SentimentLabel::Negative;
            s_n += 1;
            match (gold_neg, pred_neg) {
                (true, true) => s_tp += 1,
                (false, true) => s_fp += 1,
                (true, false) => s_fn += 1,
                _ => {}
            }
        }
        if r.intent.is_none() && r.label.is_none() {
            continue;
        }
        let gold = mapping
            .resolve(r)
            .with_context(|| format!("record {} ({})", i + 1, r.id.clone().unwrap_or_default()))?;
        report.messages += 1;
        report.confusion.add(&gold.intent, &result.intent);
        let source = r.source.clone().unwrap_or_else(|| "-".into());
        by_source
            .entry(source.clone())
            .or_default()
            .add(&gold.intent, &result.intent);
        // History-driven reasons cannot be labelled from text alone.
        let predicted: Vec<EscalationReason> = result
            .escalation_reasons
            .iter()
            .copied()
            .filter(|r| {
                !matches!(
                    r,
                    EscalationReason::RepeatUnanswered | EscalationReason::BotFailure
                )
            })
            .collect();
        let (g, p) = (!gold.reasons.is_empty(), !predicted.is_empty());
        report.escalation.add(g, p);
        if let Some(lang) = &r.language {
            report
                .escalation_by_language
                .entry(lang.clone())
                .or_default()
                .add(g, p);
        }
        report
            .escalation_by_source
            .entry(source)
            .or_default()
            .add(g, p);
        for reason in &gold.reasons {
            let s = report
                .escalation_by_reason
                .entry(reason.to_string())
                .or_default();
            s.support += 1;
            s.escalated += u64::from(p);
            s.exact += u64::from(predicted.contains(reason));
            s.recall = s.escalated as f64 / s.support as f64;
            s.reason_recall = s.exact as f64 / s.support as f64;
        }
        for reason in &predicted {
            if !gold.reasons.contains(reason) {
                report
                    .escalation_by_reason
                    .entry(reason.to_string())
                    .or_default()
                    .extra += 1;
            }
        }
        if g != p && report.misses.len() < 200 {
            report.misses.push(Miss {
                id: r.id.clone().unwrap_or_else(|| format!("#{}", i + 1)),
                text: r.text.clone(),
                gold: gold.reasons.clone(),
                predicted: predicted.clone(),
            });
        }
        if let Some(cat) = &r.category {
            attr_add(&mut report.category, cat, result.category.as_str());
        }
        if let Some(h) = &r.hard {
            let e = report.hard.entry(h.clone()).or_default();
            e.0 += 1;
            e.1 += u64::from(g == p);
        }
    }
    pb.finish_and_clear();
    report.micros_per_message = started.elapsed().as_secs_f64() * 1e6 / records.len().max(1) as f64;
    report.intent_accuracy = report.confusion.accuracy();
    report.intent_macro_f1 = report.confusion.macro_f1();
    report.intents = report.confusion.scores();
    report.intent_by_source = by_source
        .iter()
        .map(|(s, c)| (s.clone(), (c.total(), c.accuracy(), c.macro_f1())))
        .collect();
    if s_n > 0 {
        let precision = ratio(s_tp, s_tp + s_fp);
        let recall = ratio(s_tp, s_tp + s_fn);
        report.sentiment = Some(SentimentReport {
            messages: s_n,
            precision,
            recall,
            f1: if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            },
        });
    }
    let rendered = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)?,
        Format::Table => table(&report),
        Format::Html => html(&report)?,
    };
    crate::emit(args.out.as_deref(), &rendered)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.3}"))
}

/// The plain-text report.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "data {} split {} | mapping {} | rules {} | model {}",
        r.data.join(","),
        r.split.as_deref().unwrap_or("all"),
        r.mapping_version,
        r.rules_version,
        if r.model_version.is_empty() {
            "none"
        } else {
            &r.model_version
        }
    );
    let _ = writeln!(
        s,
        "{} messages: intent accuracy {:.4}, macro-F1 {:.4}; {:.1} µs per triage",
        r.messages, r.intent_accuracy, r.intent_macro_f1, r.micros_per_message
    );
    let _ = writeln!(
        s,
        "\nescalation          recall  false-esc  positives negatives"
    );
    let mut row = |name: &str, e: &EscalationSlice| {
        let _ = writeln!(
            s,
            "{name:<18} {:>7} {:>10} {:>10} {:>9}",
            opt(e.recall),
            opt(e.false_escalation_rate),
            e.counts.positives(),
            e.counts.negatives()
        );
    };
    row("all", &r.escalation);
    for (k, v) in &r.escalation_by_language {
        row(&format!("language {k}"), v);
    }
    for (k, v) in &r.escalation_by_source {
        row(&format!("source {k}"), v);
    }
    let _ = writeln!(
        s,
        "\nby reason          support escalated  recall  reason-recall  extra"
    );
    for (k, v) in &r.escalation_by_reason {
        let _ = writeln!(
            s,
            "{k:<18} {:>7} {:>9} {:>7.3} {:>14.3} {:>6}",
            v.support, v.escalated, v.recall, v.reason_recall, v.extra
        );
    }
    let _ = writeln!(s, "\nintent             precision  recall     f1  support");
    for (k, v) in &r.intents {
        let _ = writeln!(
            s,
            "{k:<18} {:>9.3} {:>7.3} {:>6.3} {:>8}",
            v.precision, v.recall, v.f1, v.support
        );
    }
    if r.intent_by_source.len() > 1 {
        let _ = writeln!(s, "\nintent by source   messages accuracy macro-F1");
        for (k, (n, a, f)) in &r.intent_by_source {
            let _ = writeln!(s, "{k:<18} {n:>8} {a:>8.3} {f:>8.3}");
        }
    }
    for (title, a) in [("category", &r.category), ("language", &r.language)] {
        if a.messages > 0 {
            let _ = writeln!(
                s,
                "\n{title} accuracy {:.4} ({} messages)",
                a.accuracy, a.messages
            );
            for (k, (n, right)) in &a.by_value {
                let _ = writeln!(s, "  {k:<20} {:>6} recall {:.3}", n, ratio(*right, *n));
            }
        }
    }
    if let Some(se) = &r.sentiment {
        let _ = writeln!(
            s,
            "\nsentiment negative-vs-not: precision {:.3} recall {:.3} F1 {:.3} ({} messages)",
            se.precision, se.recall, se.f1, se.messages
        );
    }
    if !r.hard.is_empty() {
        let _ = writeln!(s, "\nhard examples (escalation right)");
        for (k, (n, right)) in &r.hard {
            let _ = writeln!(s, "  {k:<10} {right}/{n}");
        }
    }
    let labels = r.confusion.labels();
    if labels.len() <= 30 {
        let _ = writeln!(
            s,
            "\nconfusion (rows gold, columns predicted, in label order)"
        );
        for (i, g) in labels.iter().enumerate() {
            let row = r.confusion.counts.get(g);
            let cells: Vec<String> = labels
                .iter()
                .map(|p| format!("{:>4}", row.and_then(|x| x.get(p)).copied().unwrap_or(0)))
                .collect();
            let _ = writeln!(s, "{i:>2} {g:<18}{}", cells.join(""));
        }
    }
    s
}

/// The HTML report: tables plus two SVG charts drawn with plotters.
pub fn html(r: &Report) -> anyhow::Result<String> {
    use plotters::prelude::*;
    let labels = r.confusion.labels();
    let n = labels.len().max(1);
    let cell = if n > 40 { 6u32 } else { 22u32 };
    let side = 170 + cell * n as u32;
    let mut confusion_svg = String::new();
    {
        let root = SVGBackend::with_string(&mut confusion_svg, (side, side)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let max = r
            .confusion
            .counts
            .values()
            .flat_map(|row| row.values())
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        for (i, g) in labels.iter().enumerate() {
            let row = r.confusion.counts.get(g);
            for (j, p) in labels.iter().enumerate() {
                let v = row.and_then(|x| x.get(p)).copied().unwrap_or(0);
                let shade = (v as f64 / max).sqrt();
                let color = RGBColor(
                    (255.0 - 200.0 * shade) as u8,
                    (255.0 - 150.0 * shade) as u8,
                    255,
                );
                let (x, y) = (160 + cell as i32 * j as i32, 10 + cell as i32 * i as i32);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell as i32 - 1, y + cell as i32 - 1)],
                    color.filled(),
                ))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                if v > 0 && cell >= 20 {
                    root.draw(&Text::new(
                        v.to_string(),
                        (x + 2, y + 6),
                        ("sans-serif", 10).into_font(),
                    ))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
            }
            if cell >= 20 {
                root.draw(&Text::new(
                    g.clone(),
                    (2, 10 + cell as i32 * i as i32 + 6),
                    ("sans-serif", 11).into_font(),
                ))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut bars_svg = String::new();
    {
        let items: Vec<(&String, &ClassScore)> = r.intents.iter().collect();
        let h = 40 + 18 * items.len() as u32;
        let root = SVGBackend::with_string(&mut bars_svg, (640, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(20)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0f64..1.0f64, (0..items.len()).into_segmented())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let names: Vec<String> = items.iter().map(|(k, _)| (*k).clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(items.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("F1")
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, s))| {
                Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (s.f1, SegmentValue::Exact(i + 1)),
                    ],
                    RGBColor(70, 110, 200).filled(),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchboard triage evaluation</title>\
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style>\
</head><body><h1>Triage evaluation</h1><p>{}</p>",
        esc(&format!(
            "data {} · split {} · mapping {} · rules {} · model {} · {} messages",
            r.data.join(", "),
            r.split.as_deref().unwrap_or("all"),
            r.mapping_version,
            r.rules_version,
            r.model_version,
            r.messages
        ))
    );
    let _ = write!(
        s,
        "<h2>Escalation</h2><table><tr><th>slice</th><th>recall</th><th>false-escalation</th><th>positives</th><th>negatives</th></tr>"
    );
    let mut row = |name: &str, e: &EscalationSlice| {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            opt(e.recall),
            opt(e.false_escalation_rate),
            e.counts.positives(),
            e.counts.negatives()
        );
    };
    row("all", &r.escalation);
    for (k, v) in &r.escalation_by_language {
        row(&format!("language {k}"), v);
    }
    for (k, v) in &r.escalation_by_source {
        row(&format!("source {k}"), v);
    }
    let _ = write!(
        s,
        "</table><table><tr><th>reason</th><th>support</th><th>recall</th><th>reason recall</th><th>extra</th></tr>"
    );
    for (k, v) in &r.escalation_by_reason {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            esc(k),
            v.support,
            v.recall,
            v.reason_recall,
            v.extra
        );
    }
    let _ = write!(
        s,
        "</table><h2>Intents</h2><p>accuracy {:.4}, macro-F1 {:.4}</p>{bars_svg}<h2>Confusion matrix</h2><p>rows: gold, columns: predicted (same order)</p>{confusion_svg}",
        r.intent_accuracy, r.intent_macro_f1
    );
    let _ = write!(
        s,
        "<table><tr><th>intent</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
    );
    for (k, v) in &r.intents {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            esc(k),
            v.precision,
            v.recall,
            v.f1,
            v.support
        );
    }
    let _ = write!(
        s,
        "</table><h2>Escalation mistakes</h2><table><tr><th>id</th><th>text</th><th>gold</th><th>predicted</th></tr>"
    );
    for m in r.misses.iter().take(100) {
        let names =
            |v: &[EscalationReason]| v.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        let _ = write!(
            s,
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.id),
            esc(&m.text),
            names(&m.gold),
            names(&m.predicted)
        );
    }
    let _ = writeln!(s, "</table></body></html>");
    Ok(s)
}
