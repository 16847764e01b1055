//! The real `switchboard` binary: SLA targets of a few seconds, agents who
//! do not reply, `kill -9` in the middle, a restart on the same database,
//! and every breach still fires on time and exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

// Throwaway PostgreSQL databases, gated on the same variables as the store's
// conformance suite.
#[path = "../../store-postgres/tests/pg/mod.rs"]
mod pg;

const SECRET: &str = "bin-secret";
const ADMIN: &str = "bin-admin";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `switchboard serve`, killed when dropped, so a failed
/// assertion does not leave the server behind.
struct Server(Child);

impl Server {
    /// SIGKILL, as an operator's `kill -9` or a crash: no shutdown path runs.
    fn kill9(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path, port: u16) -> Server {
    start_on(
        dir,
        port,
        &format!("sqlite://{}", dir.join("sb.db").display()),
    )
}

fn start_on(dir: &std::path::Path, port: u16, database_url: &str) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--config"])
        .arg(dir.join("switchboard.toml"))
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_DATABASE_URL", database_url)
        .env("SWITCHBOARD_APP_SECRET", SECRET)
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN)
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server(child)
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
    server.kill9();
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
    server.kill9();
}

/// `switchboard train` with an escalation gate: the model it writes has a
/// combiner whose threshold was chosen for the targets on held-out
/// messages, and `switchboard triage --model … --scores` uses it.
#[test]
fn train_a_model_with_a_combined_gate_then_triage_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mine.jsonl");
    let mut lines = String::new();
    let templates: [(&str, &str, &[&str]); 6] = [
        ("what is the price of plan {i}", "pricing", &[]),
        ("kitne ka hai model {i}", "pricing", &[]),
        ("i want my money back for order {i}", "refund", &["refund"]),
        ("refund chahiye order {i} ka, abhi", "refund", &["refund"]),
        ("thanks a lot for order {i}", "acknowledgement", &[]),
        (
            "order {i} is broken and nobody replies, worst",
            "complaint",
            &["complaint"],
        ),
    ];
    // This business counts a thank-you as a request (it answers every
    // one): the category head learns that from the labels, where the
    // built-in convention would call it passive.
    let category = |intent: &str| match intent {
        "pricing" => "fresh_high_intent",
        _ => "information_request",
    };
    // Enough held-out messages of each language on each side for
    // `--gate-per-language` (100): the Hinglish templates are one of six.
    for i in 0..400 {
        for (k, (text, intent, reasons)) in templates.iter().enumerate() {
            let split = if (i + k) % 4 == 0 { "dev" } else { "train" };
            let hinglish = text.contains("kitne") || text.contains("chahiye");
            lines.push_str(
                &json!({
                    "text": text.replace("{i}", &i.to_string()),
                    "intent": intent,
                    "escalation_reasons": reasons,
                    "split": split,
                    "source": if k % 2 == 0 { "shop" } else { "clinic" },
                    "category": category(intent),
                    "language": if hinglish { "hinglish" } else { "en" },
                })
                .to_string(),
            );
            lines.push('\n');
        }
    }
    std::fs::write(&data, lines).unwrap();
    let model = dir.path().join("mine.sbm");
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let out = Command::new(bin)
        .arg("train")
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&model)
        .args([
            "--quiet",
            "--bits",
            "14",
            "--epochs",
            "4",
            "--gate-source",
            "shop",
            "--gate-source",
            "clinic",
            "--tune-group",
            "shop",
            "--tune-group",
            "clinic",
            "--escalation-target",
            "0.95,0.05",
            "--combiner-folds",
            "2",
            "--gate-per-language",
            "--report",
        ])
        .arg(dir.path().join("report.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("(gate, on the combiner)"), "{err}");
    // Each language has held-out messages of both kinds in one group:
    // English in shop (price, refund, thanks), Hinglish in clinic.
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let gates = report["language_gates"].as_object().unwrap();
    assert_eq!(
        gates.keys().collect::<Vec<_>>(),
        ["en", "hinglish"],
        "{report}"
    );
    assert!(err.contains("(gate, hinglish)"), "{err}");
    assert!(
        err.contains("held-out escalation of clinic, language hinglish"),
        "{err}"
    );
    assert!(err.contains("held-out category recall"), "{err}");
    assert!(err.contains("held-out escalation of shop"), "{err}");
    assert!(err.contains("held-out escalation of clinic"), "{err}");

    // The built-in rules name intents this toy model lacks.
    let rules = dir.path().join("mine.toml");
    let toml =
        "version = \"mine-1\"\n[intent_reasons]\nrefund = \"refund\"\ncomplaint = \"complaint\"\n";
    std::fs::write(&rules, toml).unwrap();
    let by_intent = dir.path().join("by-intent.toml");
    std::fs::write(
        &by_intent,
        format!("{toml}[settings]\nmodel_category = false\n"),
    )
    .unwrap();
    let triage_with = |rules: &std::path::Path, text: &str| -> Value {
        let mut child = Command::new(bin)
            .arg("triage")
            .arg("--rules")
            .arg(rules)
            .arg("--model")
            .arg(&model)
            .arg("--scores")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let triage = |text: &str| triage_with(&rules, text);
    let yes = triage("mera refund chahiye order 77 ka");
    assert_eq!(yes["escalate"], true, "{yes}");
    assert!(yes["scores"]["escalation"].as_f64().unwrap() > 0.5, "{yes}");
    let no = triage("kitne ka hai model 77");
    assert_eq!(no["escalate"], false, "{no}");
    assert!(no["scores"]["escalation"].as_f64().unwrap() < 0.5, "{no}");
    assert_eq!(no["category"], "fresh_high_intent", "{no}");
    let thanks = triage("thanks a lot for order 77");
    assert_eq!(thanks["intent"], "acknowledgement", "{thanks}");
    assert_eq!(thanks["category"], "information_request", "{thanks}");
    // Switched off, the category follows the intent again.
    let thanks = triage_with(&by_intent, "thanks a lot for order 77");
    assert_eq!(thanks["category"], "passive_engagement", "{thanks}");

    let bad = Command::new(bin)
        .arg("train")
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&model)
        .args(["--escalation-target", "0.95"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("RECALL,FALSE_ESCALATIONS"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // Exemplars: the vote joins the combiner and the category head, and the
    // trained model still escalates the same toy refund; with neither a
    // combiner nor a head nothing reads the vote, so no index is kept.
    let with_index = |extra: &[&str]| {
        Command::new(bin)
            .arg("train")
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&model)
            .args(["--quiet", "--bits", "14", "--epochs", "4"])
            .args(["--exemplar-source", "shop", "--exemplar-source", "clinic"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = with_index(&["--gate-source", "shop", "--gate-source", "clinic"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("exemplar index dropped"), "{err}");
    let bytes = std::fs::read(&model).unwrap();
    let loaded = switchboard_core::classifier::IntentModel::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.exemplars().map(|x| x.len()), Some(2400), "{err}");
    let yes = triage("mera refund chahiye order 77 ka");
    assert_eq!(yes["escalate"], true, "{yes}");
    let out = with_index(&["--no-category-head"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("exemplar index dropped"), "{err}");
    let bytes = std::fs::read(&model).unwrap();
    let loaded = switchboard_core::classifier::IntentModel::from_bytes(&bytes).unwrap();
    assert!(loaded.exemplars().is_none());
}

/// A WhatsApp chat export replayed into a kept database, then the same
/// database reported on and sampled, all through the real binary.
#[test]
fn replay_a_chat_export_then_report_and_sample_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("chat.txt");
    std::fs::write(
        &export,
        "16/11/2026, 10:02 - Messages and calls are end-to-end encrypted.\n\
         16/11/2026, 10:02 - +91 98765 43210: Hi, what is the price of the 2BHK in Sector 62?\n\
         16/11/2026, 10:03 - +91 98765 43210: my number is 9876543210, please call\n\
         16/11/2026, 10:30 - Sharma Realty: Hello! It is 48 lakh.\n\
         17/11/2026, 18:45 - +91 98765 43210: money debited twice for the booking, refund it now!!!\n\
         17/11/2026, 18:46 - +91 98765 43210: <Media omitted>\n",
    )
    .unwrap();
    let db = dir.path().join("replay.db");
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let out = Command::new(bin)
        .arg("replay")
        .arg(&export)
        .args([
            "--business",
            "Sharma Realty",
            "--format",
            "json",
            "--quiet",
            "--keep-db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["transcripts"], 1);
    assert_eq!(report["messages"], 4, "system line skipped, media kept");
    assert!(
        report["escalation_reasons"]["refund"].as_u64().unwrap_or(0) >= 1,
        "{report}"
    );
    assert_eq!(report["real_first_response"]["median_s"], 28 * 60);
    assert_eq!(report["gates"].as_array().unwrap().len(), 3);

    let env_db = format!("sqlite://{}", db.display());
    let csv = Command::new(bin)
        .args([
            "report",
            "--from",
            "2026-11-16",
            "--to",
            "2026-11-22",
            "--by",
            "intent",
            "--format",
            "csv",
        ])
        .env("SWITCHBOARD_DATABASE_URL", &env_db)
        .output()
        .unwrap();
    assert!(
        csv.status.success(),
        "{}",
        String::from_utf8_lossy(&csv.stderr)
    );
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("group,conversations,frt_median"), "{csv}");
    // The first conversation is resolved after 30 quiet minutes; the next
    // day's message opens a second one: a re-contact within 7 days.
    let all: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!((all[0], all[1]), ("all", "2"), "{csv}");
    assert_eq!(all[17], "50.0%", "recontact_7d: {csv}");

    let html = Command::new(bin)
        .args([
            "report",
            "--from",
            "2026-11-16",
            "--to",
            "2026-11-22",
            "--by",
            "category",
            "--format",
            "html",
        ])
        .env("SWITCHBOARD_DATABASE_URL", &env_db)
        .output()
        .unwrap();
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.contains("<svg") && html.contains("Switchboard KPIs"));

    let sample = Command::new(bin)
        .args(["sample", "--week", "2026-W47", "--per-intent", "2"])
        .env("SWITCHBOARD_DATABASE_URL", &env_db)
        .output()
        .unwrap();
    assert!(
        sample.status.success(),
        "{}",
        String::from_utf8_lossy(&sample.stderr)
    );
    let text = String::from_utf8(sample.stdout).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let wa = first["contact"]["wa_id"].as_str().unwrap();
    assert!(wa.starts_with("XXXX"), "{wa}");
    assert!(
        !text.contains("9876543210"),
        "phone numbers are masked: {text}"
    );

    let bad = Command::new(bin)
        .args(["report", "--by", "planet"])
        .env("SWITCHBOARD_DATABASE_URL", &env_db)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown dimension"));
}

/// `serve`, `report` and `sample` on PostgreSQL: the same commands, the
/// backend chosen by the database URL's scheme.
#[tokio::test]
async fn serve_report_and_sample_on_postgres() {
    let Some(admin_url) = pg::admin_url() else {
        return;
    };
    let (name, url) = pg::fresh_database_url(&admin_url);
    pg::create_database(&admin_url, &name).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[reports]\ntimezone = \"UTC\"\n",
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = start_on(dir.path(), port, &url);
    wait_healthy(&http, &base).await;
    say(&http, &base, "919800000001", "wamid.pgbin1").await;
    server.kill9();

    let bin = env!("CARGO_BIN_EXE_switchboard");
    let out = Command::new(bin)
        .args(["report", "--format", "json", "--config"])
        .arg(dir.path().join("switchboard.toml"))
        .env("SWITCHBOARD_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["total"]["conversations"], 1, "{report}");

    // This week (UTC, the configured reporting time zone): the message above.
    let week = jiff::Timestamp::now()
        .in_tz("UTC")
        .unwrap()
        .date()
        .iso_week_date()
        .to_string();
    let sample = Command::new(bin)
        .args([
            "sample",
            "--per-intent",
            "2",
            "--week",
            week.get(..8).unwrap(),
        ])
        .arg("--config")
        .arg(dir.path().join("switchboard.toml"))
        .env("SWITCHBOARD_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        sample.status.success(),
        "{}",
        String::from_utf8_lossy(&sample.stderr)
    );
    let text = String::from_utf8(sample.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("XXXX"), "the phone number is masked: {text}");
    pg::drop_database(&admin_url, &name).await;
}
