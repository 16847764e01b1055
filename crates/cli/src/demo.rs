//! `switchboard demo`: the whole slice on real input, on a throwaway database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchboard_core::clock::SystemClock;
use switchboard_server::App;
use switchboard_server::config::{Config, Secret};

const SECRET: &str = "demo-app-secret";
const ADMIN: &str = "demo-admin-token";

/// Runs the demo; prints progress to stderr and the queue to stdout.
pub async fn run(fixtures: &Path) -> anyhow::Result<()> {
    if !fixtures.is_dir() {
        bail!(
            "fixture directory {} not found (run from the repository root or pass --fixtures)",
            fixtures.display()
        );
    }
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.path().join("demo.db").display()),
        app_secret: Some(Secret::new(SECRET)),
        admin_token: Some(Secret::new(ADMIN)),
        ..Config::default()
    };
    let app = App::build(config, Arc::new(SystemClock)).await?;
    let base = format!("http://{}", app.addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    eprintln!(
        "demo: service on {base}, database in {}",
        dir.path().display()
    );
    let http = reqwest::Client::new();
    let admin = |r: reqwest::RequestBuilder| r.bearer_auth(ADMIN);

    let team: Value = admin(http.post(format!("{base}/api/v1/teams")))
        .json(&json!({"name": "Sales", "skills": ["sales"]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    for (name, role, skills) in [
        ("Asha (senior)", "senior", vec!["sales"]),
        ("Ravi", "agent", vec!["billing", "support"]),
    ] {
        admin(http.post(format!("{base}/api/v1/agents")))
            .json(&json!({
                "name": name, "email": format!("{}@demo.example", name.split(' ').next().unwrap_or("agent").to_lowercase()),
                "role": role, "team_id": team["id"], "skills": skills, "capacity": 20, "availability": "online"
            }))
            .send()
            .await?
            .error_for_status()?;
    }
    eprintln!("demo: created team Sales with a senior and an agent");

    let now = jiff::Timestamp::now().as_second();
    let mut bodies = fixture_bodies(fixtures)?;
    bodies.extend(seed_examples(now));
    let (mut accepted, mut messages, mut duplicates) = (0, 0, 0);
    for (name, mut body) in bodies {
        refresh_timestamps(&mut body, now);
        let raw = serde_json::to_vec(&body)?;
        let resp = http
            .post(format!("{base}/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                switchboard_whatsapp::sign(SECRET.as_bytes(), &raw),
            )
            .body(raw)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "{name}: {} {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        let report: Value = resp.json().await?;
        accepted += 1;
        messages += report["messages"].as_u64().unwrap_or(0);
        duplicates += report["duplicates"].as_u64().unwrap_or(0);
    }
    eprintln!(
        "demo: {accepted} signed deliveries accepted, {messages} messages stored, {duplicates} duplicates ignored"
    );

    let queue: Value = admin(http.get(format!("{base}/api/v1/conversations?limit=500")))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    print_queue(&queue);
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// Every webhook body under `dir`: single-body files, and the pywa files
/// that map variant names to bodies. Unparseable files are skipped.
fn fixture_bodies(dir: &Path) -> anyhow::Result<Vec<(String, Value)>> {
    let mut files = Vec::new();
    collect_json(dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path)?;
        let Some(Ok(value)) = serde_json::Deserializer::from_slice(&bytes)
            .into_iter::<Value>()
            .next()
        else {
            continue;
        };
        let name = path.display().to_string();
        if value.get("object").is_some() {
            out.push((name, value));
        } else if let Value::Object(map) = value {
            for (variant, body) in map {
                if body.get("object").is_some() {
                    out.push((format!("{name}#{variant}"), body));
                }
            }
        }
    }
    Ok(out)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Fixture timestamps are years old; move them to "now" so the SLA clocks
/// in the printed queue are meaningful.
fn refresh_timestamps(v: &mut Value, now: i64) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "timestamp" && (child.is_string() || child.is_number()) {
                    *child = Value::String(now.to_string());
                } else {
                    refresh_timestamps(child, now);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| refresh_timestamps(c, now)),
        _ => {}
    }
}

/// The seeds' triage examples as realistic deliveries from three customers.
fn seed_examples(now: i64) -> Vec<(String, Value)> {
    let texts = [
        (
            "919800000001",
            "Priya",
            "When can we sign? We are ready to proceed with the 2BHK.",
        ),
        ("919800000002", "Karan", "ok thanks"),
        (
            "919800000003",
            "Meera",
            "I want to talk to a person, nobody replies here",
        ),
        ("919800000004", "Rohit", "price kya hai 3 month batch ka?"),
        (
            "919800000005",
            "Sana",
            "paisa kat gaya par order nahi hua, refund chahiye",
        ),
        (
            "919800000006",
            "Vikram",
            "thoda discount do toh aaj hi le lunga",
        ),
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, (wa, name, text))| {
            let body = json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa}],
                    "messages": [{"from": wa, "id": format!("wamid.demo-seed-{i}"), "timestamp": now.to_string(),
                                  "type": "text", "text": {"body": text}}]
                }}]}]
            });
            (format!("seed example {i}"), body)
        })
        .collect()
}

fn print_queue(queue: &Value) {
    let empty = Vec::new();
    let items = queue["conversations"].as_array().unwrap_or(&empty);
    println!(
        "{:<4} {:<8} {:<20} {:<18} {:<34} {:<16} {:<8} {:<20}",
        "id",
        "priority",
        "category",
        "intent",
        "escalation",
        "contact",
        "assignee",
        "first response due"
    );
    for c in items {
        let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
        let reasons: Vec<String> = c["escalation_reasons"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(s)
            .collect();
        let contact = c["contact"]["name"]
            .as_str()
            .or(c["contact"]["wa_id"].as_str())
            .or(c["contact"]["user_id"].as_str())
            .unwrap_or("-");
        let due = s(&c["sla"]["first_response_due_at"]);
        println!(
            "{:<4} {:<8} {:<20} {:<18} {:<34} {:<16} {:<8} {:<20}",
            c["id"].as_i64().unwrap_or_default(),
            s(&c["priority"]),
            s(&c["category"]),
            s(&c["intent"]),
            if reasons.is_empty() {
                "-".to_owned()
            } else {
                reasons.join(",")
            },
            contact.chars().take(16).collect::<String>(),
            c["assignee_id"]
                .as_i64()
                .map_or("-".to_owned(), |a| a.to_string()),
            due.get(..19).unwrap_or(&due),
        );
    }
    println!(
        "{} conversations in the queue (sorted by first-response due time)",
        items.len()
    );
}
