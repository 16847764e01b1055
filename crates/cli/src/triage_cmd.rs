//! `switchboard triage [--rules FILE] [--model FILE] [FILE]`: triage
//! messages from a file or stdin, one JSON result per input line.
//!
//! Each input line is either JSON (`{"text": "...", "history": [...]}`,
//! history optional) or plain text. History items are earlier turns of the
//! conversation, oldest first: a string is a customer message; an object
//! is `{"from": "customer" | "agent" | "business" | "bot", "text": …,
//! "at": RFC 3339, "understood": false}` (a bot turn that failed to
//! understand). From the history come the facts triage needs: customer
//! messages still waiting for a reply (`repeat_unanswered`), consecutive
//! bot failures (`bot_failure`) and the previous message's time (returning
//! contact). Optional top-level keys: `id` (echoed), `type` (Meta's message
//! type, default `text`), `at` (send time, default now) and
//! `resolved_conversations`.
//!
//! A line that cannot be read produces `{"line": N, "error": "..."}` in its
//! place, so output line N always answers input line N.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::triage::{History, TriageContext, TriageEngine, TriageInput};

/// Arguments of `switchboard triage`.
#[derive(Debug, clap::Args)]
pub struct TriageArgs {
    /// Rules file (TOML; default: the built-in rules).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Model file from `switchboard train` (default: the built-in model).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Input (JSON Lines or plain text lines); stdin when absent.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Add the model's raw scores to each result: `"scores": {"intents":
    /// {name: p}, "reasons": {name: p}, "gate": p, "escalation": p}`
    /// (probabilities in 0..=1; `gate` is the gate output's, `escalation`
    /// the one the gate threshold applies to, the combiner's when the model
    /// has one; both null without a gate, and `scores` is null without a
    /// model). For checking a model on your own messages: which intents it
    /// hesitated between, how close a head came to its threshold.
    #[arg(long)]
    pub scores: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    id: Option<Value>,
    text: Option<String>,
    #[serde(default)]
    history: Vec<Turn>,
    #[serde(default, rename = "type")]
    message_type: Option<String>,
    #[serde(default)]
    at: Option<jiff::Timestamp>,
    #[serde(default)]
    resolved_conversations: u32,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Turn {
    Customer(#[allow(dead_code)] String),
    Full(FullTurn),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullTurn {
    #[serde(default = "customer")]
    from: String,
    #[serde(default)]
    #[allow(dead_code)]
    text: Option<String>,
    #[serde(default)]
    at: Option<jiff::Timestamp>,
    #[serde(default = "yes")]
    understood: bool,
}

fn customer() -> String {
    "customer".into()
}

fn yes() -> bool {
    true
}

/// Loads the engine from the optional rules and model files.
pub fn load_engine(
    rules: Option<&PathBuf>,
    model: Option<&PathBuf>,
) -> anyhow::Result<TriageEngine> {
    let (rules_text, rules_name) = match rules {
        Some(p) => (
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
            p.display().to_string(),
        ),
        None => (
            switchboard_core::triage::BUILTIN_RULES.to_owned(),
            "built-in rules".to_owned(),
        ),
    };
    match model {
        Some(m) => {
            let bytes = std::fs::read(m).with_context(|| format!("cannot read {}", m.display()))?;
            TriageEngine::from_toml_and_model(&rules_text, &bytes)
                .with_context(|| format!("{rules_name} with model {}", m.display()))
        }
        None => TriageEngine::from_toml(&rules_text).with_context(|| rules_name),
    }
}

/// The facts a history list implies.
fn facts(history: &[Turn]) -> (History, TriageContext) {
    let mut h = History {
        waiting_inbound: 1,
        ..History::default()
    };
    let mut bot_failures = 0u32;
    for turn in history {
        match turn {
            Turn::Customer(_) => h.waiting_inbound += 1,
            Turn::Full(t) => match t.from.as_str() {
                "customer" => {
                    h.waiting_inbound += 1;
                    if t.at.is_some() {
                        h.previous_inbound_at = t.at;
                    }
                }
                "bot" => {
                    // A bot reply answers nothing a person must read, but a
                    // failed one counts towards bot_failure.
                    h.waiting_inbound = 1;
                    bot_failures = if t.understood { 0 } else { bot_failures + 1 };
                }
                _ => {
                    h.waiting_inbound = 1;
                    bot_failures = 0;
                }
            },
        }
    }
    (h, TriageContext { bot_failures })
}

fn triage_line(
    engine: &TriageEngine,
    line: &str,
    now: jiff::Timestamp,
    scores: bool,
) -> Result<Value, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err("empty line".into());
    }
    let parsed: Line = if trimmed.starts_with('{') {
        serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON: {e}"))?
    } else {
        Line {
            id: None,
            text: Some(trimmed.to_owned()),
            history: Vec::new(),
            message_type: None,
            at: None,
            resolved_conversations: 0,
        }
    };
    let (mut history, context) = facts(&parsed.history);
    history.resolved_conversations = parsed.resolved_conversations;
    let result = engine.triage_with(
        &TriageInput {
            text: parsed.text.as_deref(),
            message_type: parsed.message_type.as_deref().unwrap_or("text"),
            sent_at: parsed.at.unwrap_or(now),
            history,
        },
        &context,
    );
    let mut v = serde_json::to_value(&result).map_err(|e| e.to_string())?;
    if let Value::Object(map) = &mut v {
        if let Some(id) = parsed.id {
            map.insert("id".into(), id);
        }
        if scores {
            let text = parsed.text.as_deref().unwrap_or("");
            map.insert("scores".into(), model_scores(engine, text));
        }
    }
    Ok(v)
}

/// The model's probabilities for `text`, or null without a model.
fn model_scores(engine: &TriageEngine, text: &str) -> Value {
    let Some(model) = engine.model() else {
        return Value::Null;
    };
    let p = model.predict(text);
    let intents: serde_json::Map<String, Value> = model
        .intents()
        .iter()
        .zip(&p.intent_probs)
        .map(|(name, &prob)| (name.clone(), json!(prob)))
        .collect();
    let reasons: serde_json::Map<String, Value> = model
        .reasons()
        .iter()
        .zip(&p.reason_probs)
        .map(|(reason, &prob)| (reason.as_str().to_owned(), json!(prob)))
        .collect();
    json!({
        "intents": intents,
        "reasons": reasons,
        "gate": p.gate_prob,
        "escalation": p.escalation_score(),
    })
}

/// Runs `switchboard triage`.
pub fn run(args: &TriageArgs) -> anyhow::Result<()> {
    let engine = load_engine(args.rules.as_ref(), args.model.as_ref())?;
    let input: Box<dyn BufRead> = match &args.file {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let now = jiff::Timestamp::now();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line.context("cannot read input")?;
        let text = String::from_utf8_lossy(&line);
        let value = match triage_line(&engine, &text, now, args.scores) {
            Ok(v) => v,
            Err(e) => json!({ "line": i + 1, "error": e }),
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_facts() {
        let turns: Vec<Turn> = serde_json::from_str(
            r#"["hello?", {"from": "bot", "text": "Sorry?", "understood": false},
                {"from": "customer", "text": "price"}, {"from": "bot", "understood": false}]"#,
        )
        .unwrap();
        let (h, c) = facts(&turns);
        assert_eq!(h.waiting_inbound, 1);
        assert_eq!(c.bot_failures, 2);
        let (h, _) = facts(&serde_json::from_str::<Vec<Turn>>(r#"["a", "b"]"#).unwrap());
        assert_eq!(h.waiting_inbound, 3);
    }

    #[test]
    fn lines_and_errors() {
        let engine = TriageEngine::builtin().unwrap();
        let now = jiff::Timestamp::now();
        let v = triage_line(&engine, "price kya hai?", now, false).unwrap();
        assert_eq!(v["intent"], "pricing");
        assert_eq!(v["language"], "hinglish");
        let v = triage_line(
            &engine,
            r#"{"id": 7, "text": "I want to talk to a person"}"#,
            now,
            false,
        )
        .unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["escalate"], true);
        assert!(triage_line(&engine, r#"{"text": "x", "bogus": 1}"#, now, false).is_err());
        assert!(triage_line(&engine, "{not json", now, false).is_err());
        let v = triage_line(
            &engine,
            r#"{"text": "hello??", "history": [{"from":"bot","understood":false},{"from":"bot","understood":false}]}"#,
            now,
            false,
        )
        .unwrap();
        assert!(
            v["escalation_reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("bot_failure"))
        );
    }

    #[test]
    fn scores_on_request() {
        let engine = TriageEngine::builtin().unwrap();
        let now = jiff::Timestamp::now();
        let v = triage_line(&engine, "I want to talk to a person", now, true).unwrap();
        let intents = v["scores"]["intents"].as_object().unwrap();
        let total: f64 = intents.values().map(|p| p.as_f64().unwrap()).sum();
        assert!(
            (total - 1.0).abs() < 1e-3,
            "intent probabilities sum to {total}"
        );
        let human = v["scores"]["reasons"]["human_requested"].as_f64().unwrap();
        assert!(human > 0.5, "human_requested head at {human}");
        assert!(v["scores"]["gate"].as_f64().is_some());
        let v = triage_line(&engine, "price kya hai?", now, false).unwrap();
        assert!(v.get("scores").is_none());
    }
}
