//! `switchboard sample --week W --per-intent N`: a stratified random sample
//! of one ISO week's conversations for quality review (seeds: "weekly
//! transcript sampling by intent and language cohort"), with phone numbers
//! masked, as JSON Lines.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use jiff::civil::{Date, ISOWeekDate, Weekday};
use serde_json::json;
use switchboard_server::config::Config;
use switchboard_server::reports::ReportRuntime;
use switchboard_store::{OpenedConversation, Store};
use switchboard_store_postgres::PgStore;
use switchboard_store_sqlite::SqliteStore;

/// Arguments of `switchboard sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// ISO week, `2026-W47` (default: last week).
    #[arg(long, value_name = "W")]
    pub week: Option<String>,
    /// Conversations per intent, spread across language cohorts.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub per_intent: usize,
    /// Seed of the random choice (same seed and week, same sample).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The service's configuration file (same database as `serve`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Parses `YYYY-Www` into the week's Monday and Sunday.
///
/// # Errors
/// A message saying what is wrong.
pub fn week_days(w: &str) -> anyhow::Result<(Date, Date)> {
    let (year, week) = w
        .split_once("-W")
        .with_context(|| format!("--week {w:?}: expected YYYY-Www, e.g. 2026-W47"))?;
    let year: i16 = year
        .parse()
        .with_context(|| format!("--week {w:?}: year"))?;
    let week: i8 = week
        .parse()
        .with_context(|| format!("--week {w:?}: week number"))?;
    let monday = ISOWeekDate::new(year, week, Weekday::Monday)
        .with_context(|| format!("--week {w:?}: no such ISO week"))?
        .date();
    let sunday = monday
        .checked_add(jiff::Span::new().days(6))
        .with_context(|| format!("--week {w:?}: out of range"))?;
    Ok((monday, sunday))
}

/// Up to `per_intent` conversations per intent, taken in turn from each
/// language cohort (shuffled by `seed`) so every cohort an intent has is
/// represented before any gets a second one. Deterministic.
pub fn stratify(
    population: &[OpenedConversation],
    per_intent: usize,
    seed: u64,
) -> Vec<&OpenedConversation> {
    let mut strata: BTreeMap<&str, BTreeMap<&str, Vec<&OpenedConversation>>> = BTreeMap::new();
    for c in population {
        strata
            .entry(c.intent.as_deref().unwrap_or("(none)"))
            .or_default()
            .entry(c.language.as_deref().unwrap_or("(unknown)"))
            .or_default()
            .push(c);
    }
    let mut rng = switchboard_core::rng::SplitMix64::new(seed);
    let mut out = Vec::new();
    for languages in strata.values_mut() {
        for bucket in languages.values_mut() {
            // Fisher-Yates.
            for i in (1..bucket.len()).rev() {
                let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
                bucket.swap(i, j);
            }
        }
        let mut taken = 0;
        let mut round = 0;
        while taken < per_intent {
            let mut any = false;
            for bucket in languages.values() {
                if taken == per_intent {
                    break;
                }
                if let Some(c) = bucket.get(round) {
                    out.push(*c);
                    taken += 1;
                    any = true;
                }
            }
            if !any {
                break;
            }
            round += 1;
        }
    }
    out
}

/// Masks every run of 8 or more digits (phone numbers, account numbers)
/// but its last two.
pub fn mask_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= 8 {
            let keep = run.len().saturating_sub(2);
            out.extend(std::iter::repeat_n('X', keep));
            out.push_str(run.get(keep..).unwrap_or_default());
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Runs the command.
///
/// # Errors
/// Configuration, database, week and I/O errors.
pub async fn run(args: &SampleArgs) -> anyhow::Result<()> {
    if args.per_intent == 0 {
        bail!("--per-intent must be at least 1");
    }
    let config = Config::load(args.config.as_deref())?;
    let reports = ReportRuntime::from_config(&config)?;
    let (from, to) = match &args.week {
        Some(w) => week_days(w)?,
        None => {
            let today = reports.today(jiff::Timestamp::now());
            let this_monday = today
                .checked_sub(
                    jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())),
                )
                .context("date out of range")?;
            let monday = this_monday
                .checked_sub(jiff::Span::new().days(7))
                .context("date out of range")?;
            (
                monday,
                this_monday
                    .checked_sub(jiff::Span::new().days(1))
                    .context("date out of range")?,
            )
        }
    };
    let (out, chosen, population) = if config.is_postgres() {
        let store = PgStore::connect(&config.database_url)
            .await
            .context("opening the PostgreSQL database")?;
        let drawn = draw(&store, &reports, args, (from, to)).await;
        store.close().await;
        drawn?
    } else {
        let store = SqliteStore::connect(&config.database_url)
            .await
            .with_context(|| format!("opening {}", config.database_url))?;
        let drawn = draw(&store, &reports, args, (from, to)).await;
        store.close().await;
        drawn?
    };
    eprintln!(
        "sampled {} of {} conversations opened {from} .. {to} ({} per intent)",
        chosen, population, args.per_intent
    );
    crate::emit(args.out.as_deref(), &out)
}

/// The sample as JSON Lines from `store` (either backend), after bringing
/// the rollup up to date; also how many conversations were chosen of how
/// many opened in the period.
async fn draw<S: Store>(
    store: &S,
    reports: &ReportRuntime,
    args: &SampleArgs,
    (from, to): (Date, Date),
) -> anyhow::Result<(String, usize, usize)> {
    reports.rollup(store).await?;
    let population = store.opened_conversations(from, to).await?;
    let chosen = stratify(&population, args.per_intent, args.seed);
    let mut out = String::new();
    for c in &chosen {
        let Some(d) = store.get_conversation(c.id).await? else {
            continue;
        };
        let conv = &d.summary.conversation;
        let contact = &d.summary.contact;
        let line = json!({
            "conversation_id": conv.id.0,
            "week": args.week.clone().unwrap_or_else(|| from.iso_week_date().to_string()),
            "intent": c.intent,
            "language": c.language,
            "category": conv.category,
            "priority": conv.priority,
            "status": conv.status,
            "disposition": conv.disposition,
            "assignee_id": conv.assignee_id.map(|a| a.0),
            "escalation_reasons": conv.escalation_reasons,
            "sla_status": conv.sla_status,
            "opened_at": conv.created_at,
            "contact": {
                "wa_id": contact.wa_id.as_ref().map(|w| w.masked()),
                "name": contact.name.as_deref().and_then(|n| n.chars().next()).map(|c| format!("{c}.")),
            },
            "messages": d.messages.iter().map(|m| json!({
                "direction": m.direction,
                "at": m.timestamp,
                "type": m.message_type,
                "text": m.text.as_deref().map(mask_digits),
                "intent": m.triage.as_ref().map(|t| t.intent.clone()),
            })).collect::<Vec<_>>(),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok((out, chosen.len(), population.len()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use switchboard_core::ids::ConversationId;

    fn c(id: i64, intent: &str, lang: &str) -> OpenedConversation {
        OpenedConversation {
            id: ConversationId(id),
            intent: Some(intent.into()),
            language: Some(lang.into()),
        }
    }

    #[test]
    fn every_cohort_before_seconds_and_deterministic() {
        let mut pop = Vec::new();
        for i in 0..10 {
            pop.push(c(i, "pricing", "en"));
        }
        pop.push(c(100, "pricing", "hi"));
        pop.push(c(101, "pricing", "hinglish"));
        pop.push(c(200, "refund", "en"));
        let s = stratify(&pop, 3, 7);
        let pricing: Vec<&str> = s
            .iter()
            .filter(|x| x.intent.as_deref() == Some("pricing"))
            .map(|x| x.language.as_deref().unwrap())
            .collect();
        assert_eq!(pricing.len(), 3);
        assert!(pricing.contains(&"hi") && pricing.contains(&"hinglish"));
        assert_eq!(
            s.iter()
                .filter(|x| x.intent.as_deref() == Some("refund"))
                .count(),
            1
        );
        let ids = |v: Vec<&OpenedConversation>| v.iter().map(|x| x.id.0).collect::<Vec<_>>();
        assert_eq!(ids(stratify(&pop, 3, 7)), ids(s));
    }

    #[test]
    fn weeks_and_masking() {
        let (mon, sun) = week_days("2026-W47").unwrap();
        assert_eq!(
            (mon.to_string(), sun.to_string()),
            ("2026-11-16".into(), "2026-11-22".into())
        );
        assert!(week_days("2026-47").is_err());
        assert_eq!(
            mask_digits("call me on +919876543210 ok"),
            "call me on +XXXXXXXXXX10 ok"
        );
        assert_eq!(mask_digits("flat 2BHK for 45000"), "flat 2BHK for 45000");
    }
}
