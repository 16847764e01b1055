//! The real `switchboard` binary: SLA targets of a few seconds, agents who
//! do not reply, `kill -9` in the middle, a restart on the same database,
//! and every breach still fires on time and exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SECRET: &str = "bin-secret";
const ADMIN: &str = "bin-admin";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--config"])
        .arg(dir.join("switchboard.toml"))
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "SWITCHBOARD_DATABASE_URL",
            format!("sqlite://{}", dir.join("sb.db").display()),
        )
        .env("SWITCHBOARD_APP_SECRET", SECRET)
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN)
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy");
}

async fn admin(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

async fn say(http: &reqwest::Client, base: &str, wa: &str, wamid: &str) {
    let now = jiff::Timestamp::now().as_second();
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "C"}, "wa_id": wa}],
            "messages": [{"from": wa, "id": wamid, "timestamp": now.to_string(), "type": "text", "text": {"body": "what are the timings?"}}]
        }}]}]
    }))
    .unwrap();
    let r = http
        .post(format!("{base}/webhooks/whatsapp"))
        .header(
            "x-hub-signature-256",
            switchboard_whatsapp::sign(SECRET.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn breaches_fire_on_time_and_exactly_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        r#"
[sla]
warn_at_percent = 50
[sla.first_response]
high_intent_return = "3s"
fresh_high_intent = "3s"
information_request = "3s"
passive_engagement = "3s"
[escalation]
supervisor_after = "3s"
[routing]
continuity_grace = "0s"
"#,
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = start(dir.path(), port);
    wait_healthy(&http, &base).await;
    let team = admin(&http, &base, "/api/v1/teams", json!({"name": "Support"})).await;
    for (name, role, cap) in [
        ("a1", "agent", 100),
        ("a2", "agent", 100),
        ("sup", "supervisor", 0),
    ] {
        admin(
            &http,
            &base,
            "/api/v1/agents",
            json!({"name": name, "email": format!("{name}@x.io"), "role": role, "team_id": team["id"], "capacity": cap, "availability": "online"}),
        )
        .await;
    }
    // Group A breaches at +3 s; group B, two seconds later, at +5 s.
    for i in 0..5 {
        say(
            &http,
            &base,
            &format!("9198000001{i:02}"),
            &format!("wamid.a{i}"),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..5 {
        say(
            &http,
            &base,
            &format!("9198000002{i:02}"),
            &format!("wamid.b{i}"),
        )
        .await;
    }
    // kill -9 after group A breached, before its supervisor escalations and
    // before group B's breaches; restart at once on the same database.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let mut server = start(dir.path(), port);
    wait_healthy(&http, &base).await;
    tokio::time::sleep(Duration::from_secs(7)).await;

    let queue: Value = http
        .get(format!("{base}/api/v1/conversations?limit=50"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = queue["conversations"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    for item in items {
        let c: Value = http
            .get(format!("{base}/api/v1/conversations/{}", item["id"]))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let levels: Vec<&str> = c["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["level"].as_str().unwrap())
            .collect();
        assert_eq!(
            levels,
            vec!["breach", "supervisor"],
            "exactly one breach and one supervisor escalation: {c}"
        );
        let misses = c["sla_events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "miss")
            .count();
        assert_eq!(misses, 1, "one miss event per breach");
        let due: jiff::Timestamp = c["sla"]["first_response_due_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let fired: jiff::Timestamp = c["escalations"][0]["created_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let late = fired.duration_since(due).as_secs_f64();
        assert!(
            (0.0..2.0).contains(&late),
            "breach fired {late:.2} s after its due time"
        );
        assert_ne!(
            c["assignee_id"], c["assignments"][0]["agent_id"],
            "reassigned at breach"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
