//! Integration tests: the real app on 127.0.0.1:0 with a fresh SQLite file
//! per test (one test on a fresh PostgreSQL database, when
//! `SWITCHBOARD_TEST_PG_URL` is set), driven over HTTP like Meta and an
//! agent would. One binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_core::clock::SystemClock;
use switchboard_server::App;
use switchboard_server::config::{Config, Secret};
use switchboard_store::{Store, StoreTx};
use switchboard_store_sqlite::SqliteStore;

// The PostgreSQL gate and throwaway databases, shared with the store's
// conformance test so both skip or require the same way.
#[path = "../../store-postgres/tests/pg/mod.rs"]
mod pg;

const SECRET: &str = "test-app-secret";
const ADMIN: &str = "test-admin-token";
const PNID: &str = "106540352242922";

struct TestApp {
    base: String,
    http: reqwest::Client,
    db_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Arc<tempfile::TempDir>,
}

fn config(db_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database_url: db_url.into(),
        app_secret: Some(Secret::new(SECRET)),
        admin_token: Some(Secret::new(ADMIN)),
        verify_token: Some(Secret::new("verify-me")),
        ..Config::default()
    }
}

impl TestApp {
    async fn spawn() -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let db_url = format!("sqlite://{}", dir.path().join("t.db").display());
        Self::spawn_with(config(&db_url), dir).await
    }

    async fn spawn_with(config: Config, dir: Arc<tempfile::TempDir>) -> Self {
        let db_url = config.database_url.clone();
        let app = App::build(config, Arc::new(SystemClock)).await.unwrap();
        let base = format!("http://{}", app.addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            base,
            http: reqwest::Client::new(),
            db_url,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Stops gracefully and starts again on the same database file.
    async fn restart(mut self) -> Self {
        self.shutdown().await;
        let dir = self._dir.clone();
        Self::spawn_with(config(&self.db_url), dir).await
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    async fn store(&self) -> SqliteStore {
        SqliteStore::connect(&self.db_url).await.unwrap()
    }

    async fn post_raw(&self, body: &[u8], signature: Option<String>) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/webhooks/whatsapp", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.unwrap()
    }

    async fn post_webhook(&self, body: &[u8]) -> Value {
        let resp = self
            .post_raw(
                body,
                Some(switchboard_whatsapp::sign(SECRET.as_bytes(), body)),
            )
            .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        resp.json().await.unwrap()
    }

    async fn post_json(&self, body: &Value) -> Value {
        self.post_webhook(&serde_json::to_vec(body).unwrap()).await
    }

    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.api(reqwest::Method::GET, path, ADMIN, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn team(&self, name: &str, skills: &[&str]) -> i64 {
        let (s, b) = self
            .api(
                reqwest::Method::POST,
                "/api/v1/teams",
                ADMIN,
                Some(json!({"name": name, "skills": skills})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_i64().unwrap()
    }

    async fn agent(
        &self,
        name: &str,
        role: &str,
        team: Option<i64>,
        capacity: u32,
        availability: &str,
    ) -> (i64, String) {
        let (s, b) = self
            .api(
                reqwest::Method::POST,
                "/api/v1/agents",
                ADMIN,
                Some(json!({"name": name, "email": format!("{name}@example.com"), "role": role, "team_id": team,
                            "skills": [], "capacity": capacity, "availability": availability})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        (
            b["id"].as_i64().unwrap(),
            b["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn conversations(&self) -> Vec<Value> {
        self.get("/api/v1/conversations?limit=500").await["conversations"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn conversation_of(&self, wa_id: &str) -> Value {
        let list = self.conversations().await;
        let c = list
            .iter()
            .filter(|c| c["contact"]["wa_id"] == wa_id)
            .max_by_key(|c| c["id"].as_i64())
            .unwrap_or_else(|| panic!("no conversation for {wa_id}: {list:?}"));
        self.get(&format!("/api/v1/conversations/{}", c["id"]))
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A text message delivery in Meta's shape.
fn text_body(wa_id: &str, name: &str, wamid: &str, text: &str, ts: i64) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": text}}]
        }}]}]
    })
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../whatsapp/tests/fixtures")
}

fn fixture_bodies() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&fixtures_dir(), &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let value: Value = serde_json::Deserializer::from_slice(&bytes)
            .into_iter()
            .next()
            .unwrap()
            .unwrap();
        if value.get("object").is_some() {
            // Post single-body files byte for byte, as Meta sent them.
            let valid = serde_json::from_slice::<Value>(&bytes).is_ok();
            out.push((
                f.display().to_string(),
                if valid {
                    bytes
                } else {
                    serde_json::to_vec(&value).unwrap()
                },
            ));
        } else if let Value::Object(map) = value {
            for (k, v) in map {
                if v.get("object").is_some() {
                    out.push((
                        format!("{}#{k}", f.display()),
                        serde_json::to_vec(&v).unwrap(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn every_fixture_payload_is_accepted_and_understood() {
    let app = TestApp::spawn().await;
    let bodies = fixture_bodies();
    assert!(
        bodies.len() >= 119,
        "expected the full fixture corpus, got {}",
        bodies.len()
    );
    let mut messages = 0;
    for (name, body) in &bodies {
        let report = app.post_webhook(body).await;
        assert_eq!(report["dead_letter"], false, "{name} became a dead letter");
        messages += report["messages"].as_u64().unwrap();
    }
    let totals = app.store().await.totals().await.unwrap();
    assert_eq!(totals.deliveries, bodies.len() as u64);
    assert_eq!(totals.dead_letters, 0);
    assert_eq!(totals.messages, messages);
    assert!(totals.messages >= 25, "{totals:?}");
    assert!(totals.statuses >= 5, "{totals:?}");
    assert!(
        totals.webhook_events >= 20,
        "template, preference and account events kept: {totals:?}"
    );
    // Fixture sets reuse placeholder wamids, so dedupe hides some types;
    // post every body again with unique message ids and check that every
    // message type is stored and understood.
    for (i, (_, body)) in bodies.iter().enumerate() {
        let mut v: Value = serde_json::from_slice(body).unwrap();
        for (j, entry) in v["entry"].as_array_mut().unwrap().iter_mut().enumerate() {
            for (k, change) in entry["changes"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .enumerate()
            {
                // Documentation payloads carry `<BUSINESS_PHONE_NUMBER_ID>`
                // placeholders; the first pass kept those messages as
                // unroutable events, this pass threads them.
                if change["value"]["metadata"]["phone_number_id"]
                    .as_str()
                    .is_some_and(|p| p.starts_with('<'))
                {
                    change["value"]["metadata"]["phone_number_id"] = json!(PNID);
                }
                if let Some(msgs) = change["value"]["messages"].as_array_mut() {
                    for (n, m) in msgs.iter_mut().enumerate() {
                        m["id"] = json!(format!("wamid.unique-{i}-{j}-{k}-{n}"));
                    }
                }
            }
        }
        app.post_json(&v).await;
    }
    let mut types = std::collections::BTreeSet::new();
    for c in app.conversations().await {
        let d = app.get(&format!("/api/v1/conversations/{}", c["id"])).await;
        for m in d["messages"].as_array().unwrap() {
            types.insert(m["type"].as_str().unwrap().to_owned());
        }
    }
    for t in [
        "text",
        "image",
        "location",
        "contacts",
        "interactive",
        "button",
        "reaction",
        "order",
        "system",
        "unsupported",
        "revoke",
        "edit",
    ] {
        assert!(types.contains(t), "no {t} message stored; got {types:?}");
    }
}

#[tokio::test]
async fn bad_or_missing_signature_is_refused_and_nothing_stored() {
    let app = TestApp::spawn().await;
    let body =
        serde_json::to_vec(&text_body("919812345678", "A", "wamid.sig", "hello", now())).unwrap();
    let wrong = switchboard_whatsapp::sign(b"another-secret", &body);
    for sig in [
        None,
        Some(wrong),
        Some("sha256=zz".to_owned()),
        Some("md5=abc".to_owned()),
    ] {
        let resp = app.post_raw(&body, sig).await;
        assert_eq!(resp.status(), 401);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "invalid_signature");
    }
    // A body altered after signing fails too.
    let sig = switchboard_whatsapp::sign(SECRET.as_bytes(), &body);
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert_eq!(app.post_raw(&tampered, Some(sig)).await.status(), 401);
    assert_eq!(app.store().await.totals().await.unwrap().deliveries, 0);
}

#[tokio::test]
async fn escaped_unicode_payload_verifies_over_raw_bytes() {
    let app = TestApp::spawn().await;
    // Meta signs its own escaped text; re-serialising would break the HMAC.
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{PNID}"}},"contacts":[{{"profile":{{"name":"J\u00fcrgen"}},"wa_id":"4915112345678"}}],"messages":[{{"from":"4915112345678","id":"wamid.unicode","timestamp":"{}","type":"text","text":{{"body":"\u00e4\u00f6\u00e5 \ud83d\ude00 \u0915\u094d\u092f\u093e \u20b9500"}}}}]}}}}]}}]}}"#,
        now()
    );
    let report = app.post_webhook(body.as_bytes()).await;
    assert_eq!(report["messages"], 1);
    let c = app.conversation_of("4915112345678").await;
    assert_eq!(c["contact"]["name"], "Jürgen");
    assert_eq!(c["messages"][0]["text"], "äöå 😀 क्या ₹500");
}

#[tokio::test]
async fn the_same_delivery_ten_times_stores_one_message() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&text_body(
        "919812345678",
        "A",
        "wamid.TEN",
        "price kya hai?",
        now(),
    ))
    .unwrap();
    let mut handles = Vec::new();
    for _ in 0..10 {
        let (http, base, body) = (app.http.clone(), app.base.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            let sig = switchboard_whatsapp::sign(SECRET.as_bytes(), &body);
            let r = http
                .post(format!("{base}/webhooks/whatsapp"))
                .header("x-hub-signature-256", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }));
    }
    let mut stored = 0;
    let mut dups = 0;
    for h in handles {
        let r = h.await.unwrap();
        stored += r["messages"].as_u64().unwrap();
        dups += r["duplicates"].as_u64().unwrap();
    }
    assert_eq!((stored, dups), (1, 9));
    let store = app.store().await;
    assert_eq!(
        store.count_messages_with_wamid("wamid.TEN").await.unwrap(),
        1
    );
    let totals = store.totals().await.unwrap();
    assert_eq!(
        (totals.deliveries, totals.messages, totals.conversations),
        (10, 1, 1)
    );
    let c = app.conversation_of("919812345678").await;
    assert_eq!(
        c["waiting_count"], 1,
        "a redelivery is not a second waiting message"
    );
}

#[tokio::test]
async fn statuses_out_of_order_are_recorded_once_each() {
    let app = TestApp::spawn().await;
    let status = |s: &str, ts: i64| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
            "statuses": [{"id": "wamid.OUT1", "status": s, "timestamp": ts.to_string(), "recipient_id": "919812345678"}]
        }}]}]})
    };
    let t = now();
    for (s, ts) in [
        ("read", t + 2),
        ("sent", t),
        ("delivered", t + 1),
        ("read", t + 2),
    ] {
        app.post_json(&status(s, ts)).await;
    }
    assert_eq!(
        app.store().await.totals().await.unwrap().statuses,
        3,
        "read redelivery ignored"
    );
}

#[tokio::test]
async fn username_only_user_becomes_a_contact_by_bsuid() {
    let app = TestApp::spawn().await;
    let raw = std::fs::read(fixtures_dir().join("whatsapp-api-js/v25/incoming.json")).unwrap();
    let mut body: Value = serde_json::from_slice(&raw).unwrap();
    let value = &mut body["entry"][0]["changes"][0]["value"];
    value["contacts"][0]
        .as_object_mut()
        .unwrap()
        .remove("wa_id");
    value["messages"][0].as_object_mut().unwrap().remove("from");
    let user_id = value["contacts"][0]["user_id"].as_str().unwrap().to_owned();
    let report = app.post_json(&body).await;
    assert_eq!(report["messages"], 1, "{report}");
    let list = app.conversations().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["contact"]["user_id"], user_id.as_str());
    assert!(list[0]["contact"]["wa_id"].is_null());
}

#[tokio::test]
async fn triage_follows_the_seeds() {
    let app = TestApp::spawn().await;
    let t = now();
    app.post_json(&text_body(
        "919800000001",
        "Priya",
        "wamid.s1",
        "When can we sign?",
        t,
    ))
    .await;
    app.post_json(&text_body(
        "919800000002",
        "Karan",
        "wamid.s2",
        "ok thanks",
        t,
    ))
    .await;
    app.post_json(&text_body(
        "919800000003",
        "Meera",
        "wamid.s3",
        "I want to talk to a person",
        t,
    ))
    .await;
    // A prospect who wrote three weeks ago returns with a question.
    app.post_json(&text_body(
        "919800000004",
        "Rohit",
        "wamid.s4a",
        "send me the brochure",
        t - 21 * 86_400,
    ))
    .await;
    app.post_json(&text_body(
        "919800000004",
        "Rohit",
        "wamid.s4b",
        "is the 3BHK still available? ready to proceed",
        t,
    ))
    .await;
    app.post_json(&text_body(
        "919800000005",
        "Sana",
        "wamid.s5",
        "refund chahiye, consumer court jaunga",
        t,
    ))
    .await;

    let c = app.conversation_of("919800000001").await;
    assert_eq!(
        (c["category"].as_str(), c["intent"].as_str()),
        (Some("fresh_high_intent"), Some("purchase"))
    );
    assert_eq!(c["escalate"], false);
    let m = &c["messages"][0];
    assert_eq!(m["triage"]["category"], "fresh_high_intent");
    assert!(
        m["triage"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("when can we sign")
    );
    assert!(
        m["triage"]["rules_version"]
            .as_str()
            .unwrap()
            .starts_with("builtin")
    );

    let c = app.conversation_of("919800000002").await;
    assert_eq!(
        (c["category"].as_str(), c["priority"].as_str()),
        (Some("passive_engagement"), Some("low"))
    );

    let c = app.conversation_of("919800000003").await;
    assert_eq!(c["escalation_reasons"], json!(["human_requested"]));
    assert_eq!(
        (c["escalate"].as_bool(), c["priority"].as_str()),
        (Some(true), Some("urgent"))
    );

    let c = app.conversation_of("919800000004").await;
    assert_eq!(c["category"], "high_intent_return");
    assert_eq!(c["messages"][1]["triage"]["category"], "high_intent_return");

    let c = app.conversation_of("919800000005").await;
    assert_eq!(
        c["escalation_reasons"],
        json!(["refund", "legal_regulatory"])
    );

    // SLA due times follow the category targets, and the queue is sorted by them.
    let list = app.conversations().await;
    let dues: Vec<&str> = list
        .iter()
        .map(|c| c["sla"]["first_response_due_at"].as_str().unwrap())
        .collect();
    let mut sorted = dues.clone();
    sorted.sort();
    assert_eq!(dues, sorted, "queue sorted by SLA due time");
    let priya = app.conversation_of("919800000001").await;
    let due: jiff::Timestamp = priya["sla"]["first_response_due_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        due.as_second(),
        t + 30 * 60,
        "fresh high intent: 30 minutes"
    );
    let karan = app.conversation_of("919800000002").await;
    let due: jiff::Timestamp = karan["sla"]["first_response_due_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(due.as_second(), t + 24 * 3600, "passive: same day (24h)");
    assert_eq!(karan["sla"]["breached"], false);
    // The returning prospect first waited three weeks ago: already breached.
    assert_eq!(
        app.conversation_of("919800000004").await["sla"]["breached"],
        true
    );
}

#[tokio::test]
async fn assignment_honours_capacity_availability_and_continuity() {
    let app = TestApp::spawn().await;
    let sales = app.team("Sales", &["sales"]).await;
    let (senior, _) = app
        .agent("senior", "senior", Some(sales), 5, "online")
        .await;
    let (a1, _) = app.agent("a1", "agent", Some(sales), 1, "online").await;
    let (a2, a2_token) = app.agent("a2", "agent", Some(sales), 5, "away").await;
    let t = now();
    // Information requests go to the least-loaded online agent (a1 and the
    // senior tie on load; a1 was never assigned: id order breaks the tie).
    app.post_json(&text_body(
        "919811111111",
        "C1",
        "wamid.a1",
        "price kya hai?",
        t,
    ))
    .await;
    let c1 = app.conversation_of("919811111111").await;
    assert_eq!(c1["assignee_id"].as_i64(), Some(senior.min(a1)));
    // An escalation goes to the senior.
    app.post_json(&text_body(
        "919822222222",
        "C2",
        "wamid.a2",
        "I want to talk to a person",
        t,
    ))
    .await;
    assert_eq!(
        app.conversation_of("919822222222").await["assignee_id"].as_i64(),
        Some(senior)
    );
    let reason = app.conversation_of("919822222222").await["assignments"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("escalated"), "{reason}");
    // a2 is away: never assigned. Fill everyone up; the rest waits unassigned.
    for i in 0..6 {
        app.post_json(&text_body(
            &format!("91983333333{i}"),
            "C",
            &format!("wamid.fill{i}"),
            "timings?",
            t,
        ))
        .await;
    }
    for c in app.conversations().await {
        assert_ne!(c["assignee_id"].as_i64(), Some(a2), "away agent got work");
    }
    assert_eq!(
        app.get(&format!("/api/v1/agents/{a1}")).await["open_count"],
        1,
        "capacity 1 respected"
    );
    assert_eq!(
        app.get(&format!("/api/v1/agents/{senior}")).await["open_count"],
        5
    );
    let unassigned = app.get("/api/v1/conversations?assignee_id=none").await["conversations"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(unassigned, 2);
    // a2 comes online (with its own token): the unassigned queue drains to it.
    let (s, b) = app
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/agents/{a2}"),
            &a2_token,
            Some(json!({"availability": "online"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["open_count"], 2, "queue drained on coming online");
    assert!(
        app.get("/api/v1/conversations?assignee_id=none").await["conversations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Continuity: once C1's conversation is resolved, C1's next message opens
    // a new conversation that goes back to the agent who handled C1 before.
    let first_agent = c1["assignee_id"].as_i64().unwrap();
    let store = app.store().await;
    let id = switchboard_core::ids::ConversationId(c1["id"].as_i64().unwrap());
    store
        .write(move |tx| {
            Box::pin(async move {
                let mut conv = tx.conversation(id).await?.unwrap();
                conv.status = switchboard_core::model::ConversationStatus::Resolved;
                tx.save_conversation(&conv).await
            })
        })
        .await
        .unwrap();
    app.post_json(&text_body(
        "919811111111",
        "C1",
        "wamid.a1b",
        "one more question about fees",
        t + 1,
    ))
    .await;
    let again = app.conversation_of("919811111111").await;
    assert_ne!(
        again["id"], c1["id"],
        "a message after resolve opens a new conversation"
    );
    assert_eq!(
        again["category"], "high_intent_return",
        "a contact with a resolved conversation is returning"
    );
    assert_eq!(again["assignee_id"].as_i64(), Some(first_agent));
    let reason = again["assignments"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("handled this contact before"), "{reason}");
}

#[tokio::test]
async fn a_restart_keeps_everything() {
    let app = TestApp::spawn().await;
    let team = app.team("Support", &[]).await;
    app.agent("keeper", "agent", Some(team), 5, "online").await;
    app.post_json(&text_body(
        "919844444444",
        "R",
        "wamid.r1",
        "refund chahiye",
        now(),
    ))
    .await;
    let before = app.conversation_of("919844444444").await;
    let app = app.restart().await;
    let after = app.conversation_of("919844444444").await;
    assert_eq!(before["id"], after["id"]);
    assert_eq!(before["sla"], after["sla"]);
    assert_eq!(before["assignee_id"], after["assignee_id"]);
    assert_eq!(before["messages"], after["messages"]);
    // Redelivery after restart is still a duplicate.
    let report = app
        .post_json(&text_body(
            "919844444444",
            "R",
            "wamid.r1",
            "refund chahiye",
            now(),
        ))
        .await;
    assert_eq!(
        (report["messages"].as_u64(), report["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
}

#[tokio::test]
async fn handshake_body_limit_dead_letters_and_errors() {
    let app = TestApp::spawn().await;
    let get = |q: &str| {
        app.http
            .get(format!("{}/webhooks/whatsapp?{q}", app.base))
            .send()
    };
    let ok = get("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(
        get("hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get("hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1")
            .await
            .unwrap()
            .status(),
        403
    );

    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    let resp = app
        .post_raw(
            &big,
            Some(switchboard_whatsapp::sign(SECRET.as_bytes(), &big)),
        )
        .await;
    assert_eq!(resp.status(), 413);

    // Signed but not JSON: kept as a dead letter and acknowledged.
    let report = app.post_webhook(b"{not json").await;
    assert_eq!(report["dead_letter"], true);
    let store = app.store().await;
    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, b"{not json");

    // API errors use the stable body.
    let (s, b) = app
        .api(reqwest::Method::GET, "/api/v1/conversations", "wrong", None)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (s, b) = app
        .api(
            reqwest::Method::GET,
            "/api/v1/conversations/999",
            ADMIN,
            None,
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, b) = app
        .api(
            reqwest::Method::GET,
            "/api/v1/conversations?status=closed",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (s, b) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/agents",
            ADMIN,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("validation_failed")),
        "{b}"
    );
    let (_, token) = app.agent("plain", "agent", None, 5, "online").await;
    let (s, b) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/teams",
            &token,
            Some(json!({"name": "t"})),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/agents",
            ADMIN,
            Some(json!({"name": "plain", "email": "plain@example.com"})),
        )
        .await;
    assert_eq!(s, 409);

    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchboard_webhooks_received_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_webhooks_rejected_total"),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_queue_open"), "{metrics}");
}

#[tokio::test]
async fn click_to_whatsapp_referral_becomes_attribution_and_pages_work() {
    let app = TestApp::spawn().await;
    let raw = std::fs::read(
        fixtures_dir().join("meta-openapi/webhooks/text_message_from_click_to_whatsapp_ad.json"),
    )
    .unwrap();
    app.post_webhook(&raw).await;
    let list = app.conversations().await;
    assert_eq!(list.len(), 1);
    let a = &list[0]["attribution"];
    assert!(
        a["source_id"].is_string() && a["ctwa_clid"].is_string(),
        "{a}"
    );
    let d = app
        .get(&format!("/api/v1/conversations/{}", list[0]["id"]))
        .await;
    assert!(d["messages"][0]["referral"].is_object());

    for i in 0..5 {
        app.post_json(&text_body(
            &format!("91985555555{i}"),
            "P",
            &format!("wamid.p{i}"),
            "hi",
            now(),
        ))
        .await;
    }
    let p1 = app.get("/api/v1/conversations?limit=4").await;
    assert_eq!(p1["conversations"].as_array().unwrap().len(), 4);
    let cursor = p1["next_cursor"].as_str().unwrap().to_owned();
    let p2 = app
        .get(&format!("/api/v1/conversations?limit=4&cursor={cursor}"))
        .await;
    assert_eq!(p2["conversations"].as_array().unwrap().len(), 2);
    assert!(p2["next_cursor"].is_null());
}

#[tokio::test]
async fn messages_out_of_order_wait_since_the_earliest() {
    let app = TestApp::spawn().await;
    let t = now();
    app.post_json(&text_body(
        "919866666666",
        "O",
        "wamid.o2",
        "hello?",
        t - 60,
    ))
    .await;
    app.post_json(&text_body(
        "919866666666",
        "O",
        "wamid.o1",
        "what are the timings?",
        t - 600,
    ))
    .await;
    let c = app.conversation_of("919866666666").await;
    let since: jiff::Timestamp = c["waiting_since"].as_str().unwrap().parse().unwrap();
    assert_eq!(since.as_second(), t - 600);
    let due: jiff::Timestamp = c["sla"]["first_response_due_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        due.as_second(),
        t - 600 + 2 * 3600,
        "information request: 2h from the earliest message"
    );
    // Messages are listed in send order, not arrival order.
    assert_eq!(c["messages"][0]["wamid"], "wamid.o1");
}

// ---------------------------------------------------------------- issue #4
// Simulated time: the app runs with a ManualClock and no background timer
// worker; each test moves the clock and fires due timers itself.

struct SimApp {
    app: TestApp,
    clock: switchboard_core::clock::ManualClock,
    timers: switchboard_server::timers::TimerWorker<SqliteStore>,
}

impl SimApp {
    async fn spawn(start: &str, edit: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut cfg = config(&format!("sqlite://{}", dir.path().join("t.db").display()));
        // These tests are about the SLA ladder; handoff escalations have their own.
        cfg.workflow.handoff_ack_after = "0s".parse().unwrap();
        edit(&mut cfg);
        let clock = switchboard_core::clock::ManualClock::new(start.parse().unwrap());
        let app = App::build(cfg, Arc::new(clock.clone()))
            .await
            .unwrap()
            .without_background_timers();
        let timers = app.timers();
        let base = format!("http://{}", app.addr().unwrap());
        let db_url = format!("sqlite://{}", dir.path().join("t.db").display());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            app: TestApp {
                base,
                http: reqwest::Client::new(),
                db_url,
                stop: Some(stop),
                server: Some(server),
                _dir: dir,
            },
            clock,
            timers,
        }
    }

    fn now(&self) -> i64 {
        use switchboard_core::clock::Clock;
        self.clock.now().as_second()
    }

    /// Moves the clock and fires whatever fell due.
    async fn advance(&self, secs: i64) -> usize {
        self.clock.advance(jiff::SignedDuration::from_secs(secs));
        self.timers.run_once().await.unwrap()
    }

    async fn say(&self, wa: &str, wamid: &str, text: &str) {
        self.app
            .post_json(&text_body(wa, "Customer", wamid, text, self.now()))
            .await;
    }

    /// The business replies from the WhatsApp Business app (an echo webhook).
    async fn reply_from_app(&self, wa: &str, wamid: &str) {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "smb_message_echoes", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
            "message_echoes": [{"from": "15550783881", "to": wa, "id": wamid, "timestamp": self.now().to_string(), "type": "text", "text": {"body": "Hello! Happy to help."}}]
        }}]}]});
        self.app.post_json(&body).await;
    }
}

#[tokio::test]
async fn breach_reassigns_with_context_then_escalates_to_the_supervisor_once() {
    let sim = SimApp::spawn("2026-11-23T10:00:00Z", |c| {
        c.escalation.supervisor_after = "5m".parse().unwrap();
    })
    .await;
    let app = &sim.app;
    let team = app.team("Sales", &[]).await;
    let (a1, a1_token) = app.agent("asha", "agent", Some(team), 5, "online").await;
    let (a2, a2_token) = app.agent("ravi", "agent", Some(team), 5, "online").await;
    let (sup, sup_token) = app
        .agent("meena", "supervisor", Some(team), 0, "online")
        .await;
    sim.say(
        "919800000011",
        "wamid.b1",
        "what are the timings on Sunday?",
    )
    .await;
    let c = app.conversation_of("919800000011").await;
    assert_eq!(c["assignee_id"].as_i64(), Some(a1));
    assert_eq!(c["sla"]["first_response"]["status"], "running");

    // 80 % of the 2 h information-request target: the assignee is warned.
    assert_eq!(sim.advance(96 * 60).await, 1);
    let c = app.conversation_of("919800000011").await;
    assert_eq!(c["sla_events"].as_array().unwrap().len(), 1);
    assert_eq!(c["sla_events"][0]["event"], "warning");
    assert_eq!(c["sla_events"][0]["agent_id"].as_i64(), Some(a1));

    // Breach: reassigned to the next available agent with a context note,
    // priority raised, an escalation of level `breach` for the new assignee.
    sim.advance(24 * 60 + 1).await;
    let c = app.conversation_of("919800000011").await;
    assert_eq!(c["assignee_id"].as_i64(), Some(a2), "{c}");
    assert_eq!(c["priority"], "high", "medium raised one step");
    assert_eq!(c["sla"]["status"], "active_with_misses");
    assert_eq!(c["sla"]["first_response"]["status"], "missed");
    let note = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "note")
        .expect("context note");
    let note = note["text"].as_str().unwrap();
    assert!(
        note.contains("reassigned from asha to ravi")
            && note.contains("Waiting 120 min")
            && note.contains("timings on Sunday"),
        "{note}"
    );
    assert_eq!(c["escalations"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            c["escalations"][0]["level"].as_str(),
            c["escalations"][0]["target_agent_id"].as_i64()
        ),
        (Some("breach"), Some(a2))
    );
    assert!(
        c["assignments"].as_array().unwrap().last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("SLA breach")
    );

    // Nothing fires twice.
    assert_eq!(sim.advance(60).await, 0);
    // breach + supervisor_after, still no reply: the supervisor is escalated to.
    assert_eq!(sim.advance(4 * 60).await, 1);
    let c = app.conversation_of("919800000011").await;
    let levels: Vec<&str> = c["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        vec!["breach", "supervisor"],
        "one breach yields exactly two escalations"
    );
    assert_eq!(c["escalations"][1]["target_agent_id"].as_i64(), Some(sup));
    assert_eq!(sim.advance(3600).await, 0, "no further escalations");

    // Each target sees its own; the supervisor sees all; acknowledgement.
    let list = |token: String| async move {
        app.api(reqwest::Method::GET, "/api/v1/escalations", &token, None)
            .await
            .1["escalations"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(list(a2_token.clone()).await, 1);
    assert_eq!(list(a1_token.clone()).await, 0);
    assert_eq!(list(sup_token.clone()).await, 2);
    let breach_id = c["escalations"][0]["id"].as_i64().unwrap();
    let sup_id = c["escalations"][1]["id"].as_i64().unwrap();
    let (s, _) = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/escalations/{sup_id}/ack"),
            &a2_token,
            None,
        )
        .await;
    assert_eq!(s, 403, "only the target (or a supervisor) acknowledges");
    let (s, b) = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/escalations/{breach_id}/ack"),
            &a2_token,
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["acknowledged_at"].is_string());
    let (s, _) = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/escalations/{sup_id}/ack"),
            &sup_token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        list(sup_token).await,
        0,
        "acknowledged escalations leave the list"
    );
}

#[tokio::test]
async fn a_reply_meets_the_clock_and_cancels_its_timers_then_next_response_runs() {
    let sim = SimApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let app = &sim.app;
    let team = app.team("Sales", &[]).await;
    app.agent("asha", "agent", Some(team), 5, "online").await;
    app.agent("ravi", "agent", Some(team), 5, "online").await;
    sim.say(
        "919800000022",
        "wamid.r1",
        "When can we sign? ready to proceed",
    )
    .await;
    sim.advance(10 * 60).await;
    sim.reply_from_app("919800000022", "wamid.echo1").await;
    let c = app.conversation_of("919800000022").await;
    assert_eq!(c["sla"]["first_response"]["status"], "hit", "{c}");
    assert!(c["waiting_since"].is_null());
    assert_eq!(
        c["sla_events"].as_array().unwrap().last().unwrap()["event"],
        "hit"
    );
    // Past the 30-minute target: no warning, no breach.
    assert_eq!(sim.advance(3600).await, 0);
    assert!(
        app.conversation_of("919800000022").await["escalations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let pending = app.store().await.pending_timers().await.unwrap();
    // Only the resolution clock and the follow-up policy remain.
    let kinds: Vec<&str> = pending.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "dormant",
            "follow_up_reminder",
            "reengagement",
            "resolution_breach",
            "resolution_warning"
        ],
        "{pending:?}"
    );

    // The customer writes again: the next-response clock (30 min) runs and breaches.
    sim.say(
        "919800000022",
        "wamid.r2",
        "hello? any update on the agreement?",
    )
    .await;
    let c = app.conversation_of("919800000022").await;
    assert_eq!(c["sla"]["next_response"]["status"], "running");
    sim.advance(31 * 60).await;
    let c = app.conversation_of("919800000022").await;
    assert_eq!(c["sla"]["next_response"]["status"], "missed");
    assert_eq!(c["escalations"][0]["level"], "breach");
    assert!(
        c["escalations"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("next response")
    );
}

#[tokio::test]
async fn business_hours_targets_skip_nights_weekends_and_holidays() {
    // Friday 2026-11-27 18:30 IST; Monday 2026-11-30 is a holiday.
    let sim = SimApp::spawn("2026-11-27T13:00:00Z", |c| {
        let spec: switchboard_core::calendar::CalendarSpec = toml::from_str(
            r#"
            time_zone = "Asia/Kolkata"
            holidays = ["2026-11-30"]
            [hours]
            mon = ["09:30-13:00", "14:00-19:00"]
            tue = ["09:30-13:00", "14:00-19:00"]
            wed = ["09:30-13:00", "14:00-19:00"]
            thu = ["09:30-13:00", "14:00-19:00"]
            fri = ["09:30-13:00", "14:00-19:00"]
            "#,
        )
        .unwrap();
        c.calendars.insert("office".into(), spec);
        c.sla.business_hours = true;
        c.sla.calendar = Some("office".into());
    })
    .await;
    let app = &sim.app;
    sim.say(
        "919800000033",
        "wamid.h1",
        "what is the fee for the weekend batch?",
    )
    .await;
    let c = app.conversation_of("919800000033").await;
    // 2 business hours from Fri 18:30: 30 min on Friday, then Tuesday 09:30 + 1h30 = 11:00 IST.
    assert_eq!(
        c["sla"]["first_response_due_at"], "2026-12-01T05:30:00Z",
        "{c}"
    );
    let (s, b) = app
        .api(reqwest::Method::GET, "/api/v1/calendars", ADMIN, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["calendars"]["office"]["open_now"], true);
    let (s, b) = app
        .api(reqwest::Method::GET, "/api/v1/sla-policies", ADMIN, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["defaults"]["first_response"]["information_request"], "2h");
    assert_eq!(b["defaults"]["business_hours"], true);
}

#[tokio::test]
async fn after_hours_callback_and_continuity_grace() {
    // Shift calendar: 09:00-18:00 UTC on weekdays; it is Monday 20:00.
    let sim = SimApp::spawn("2026-11-23T20:00:00Z", |c| {
        let spec: switchboard_core::calendar::CalendarSpec = toml::from_str(
            "time_zone = \"UTC\"\n[hours]\nmon = [\"09:00-18:00\"]\ntue = [\"09:00-18:00\"]\nwed = [\"09:00-18:00\"]\nthu = [\"09:00-18:00\"]\nfri = [\"09:00-18:00\"]\n",
        )
        .unwrap();
        c.calendars.insert("shift".into(), spec);
        c.routing.calendar = Some("shift".into());
        c.routing.continuity_grace = "10m".parse().unwrap();
    })
    .await;
    let app = &sim.app;
    let team = app.team("Support", &[]).await;
    let (asha, asha_token) = app.agent("asha", "agent", Some(team), 5, "online").await;
    let (ravi, _) = app.agent("ravi", "agent", Some(team), 5, "online").await;
    sim.say("919800000044", "wamid.c1", "my order status please")
        .await;
    let c = app.conversation_of("919800000044").await;
    assert!(c["assignee_id"].is_null());
    assert_eq!(c["callback_at"], "2026-11-24T09:00:00Z", "{c}");
    assert!(
        c["assignments"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("after hours")
    );
    // The team opens at 09:00: the callback assigns it.
    sim.advance(13 * 3600).await;
    let c = app.conversation_of("919800000044").await;
    assert_eq!(c["assignee_id"].as_i64(), Some(asha));
    assert!(c["callback_at"].is_null());

    // Continuity grace: resolve; asha goes away; the contact writes again
    // and waits up to 10 min for asha; she returns and gets it back.
    let store = app.store().await;
    let id = switchboard_core::ids::ConversationId(c["id"].as_i64().unwrap());
    store
        .write(move |tx| {
            Box::pin(async move {
                let mut conv = tx.conversation(id).await?.unwrap();
                conv.status = switchboard_core::model::ConversationStatus::Resolved;
                tx.save_conversation(&conv).await
            })
        })
        .await
        .unwrap();
    app.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/agents/{asha}"),
        &asha_token,
        Some(json!({"availability": "away"})),
    )
    .await;
    sim.advance(3600).await;
    sim.say("919800000044", "wamid.c2", "ok").await;
    let c = app.conversation_of("919800000044").await;
    assert!(c["assignee_id"].is_null(), "{c}");
    assert!(
        c["assignments"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("waiting up to 10m for asha")
    );
    app.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/agents/{asha}"),
        &asha_token,
        Some(json!({"availability": "online"})),
    )
    .await;
    let c = app.conversation_of("919800000044").await;
    assert_eq!(
        c["assignee_id"].as_i64(),
        Some(asha),
        "drained back to the previous agent"
    );
    // If asha stays away, the grace period ends and the pool takes it.
    let id = switchboard_core::ids::ConversationId(c["id"].as_i64().unwrap());
    store
        .write(move |tx| {
            Box::pin(async move {
                let mut conv = tx.conversation(id).await?.unwrap();
                conv.status = switchboard_core::model::ConversationStatus::Resolved;
                tx.save_conversation(&conv).await
            })
        })
        .await
        .unwrap();
    app.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/agents/{asha}"),
        &asha_token,
        Some(json!({"availability": "away"})),
    )
    .await;
    sim.say("919800000044", "wamid.c3", "hello again").await;
    assert!(
        app.conversation_of("919800000044").await["assignee_id"].is_null(),
        "waiting for asha"
    );
    sim.advance(10 * 60 + 1).await;
    let c = app.conversation_of("919800000044").await;
    assert_eq!(
        c["assignee_id"].as_i64(),
        Some(ravi),
        "grace over: the pool"
    );
    assert!(
        c["assignments"].as_array().unwrap().last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("continuity grace period ended"),
        "{c}"
    );
}

#[tokio::test]
async fn triage_escalations_route_to_the_configured_tier() {
    let sim = SimApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let app = &sim.app;
    let team = app.team("Sales", &[]).await;
    app.agent("asha", "agent", Some(team), 5, "online").await;
    let (senior, _) = app.agent("rohit", "senior", Some(team), 5, "online").await;
    let (sup, _) = app
        .agent("meena", "supervisor", Some(team), 0, "online")
        .await;
    sim.say("919800000066", "wamid.t1", "refund chahiye abhi")
        .await;
    let c = app.conversation_of("919800000066").await;
    assert_eq!(c["assignee_id"].as_i64(), Some(senior));
    assert_eq!(
        (
            c["escalations"][0]["level"].as_str(),
            c["escalations"][0]["target_agent_id"].as_i64()
        ),
        (Some("triage"), Some(senior))
    );
    sim.say(
        "919800000077",
        "wamid.t2",
        "I will go to the consumer court",
    )
    .await;
    let c = app.conversation_of("919800000077").await;
    assert_eq!(
        c["escalations"][0]["target_agent_id"].as_i64(),
        Some(sup),
        "legal goes to the supervisor tier: {c}"
    );
}

#[tokio::test]
async fn inbox_team_shift_calendar_and_team_tiers() {
    // The inbox belongs to team Legal, whose shift calendar is closed on
    // Sundays and whose supervisor tier is its admins.
    let sim = SimApp::spawn("2026-11-22T10:00:00Z", |c| {
        let spec: switchboard_core::calendar::CalendarSpec =
            toml::from_str("time_zone = \"UTC\"\n[hours]\nmon = [\"09:00-18:00\"]\n").unwrap();
        c.calendars.insert("legal-desk".into(), spec);
        c.routing.inboxes.insert(
            PNID.into(),
            switchboard_server::config::InboxSettings {
                team: Some("Legal".into()),
                calendar: None,
            },
        );
        c.routing.teams.insert(
            "Legal".into(),
            switchboard_server::config::TeamSettings {
                calendar: Some("legal-desk".into()),
                senior_roles: None,
                supervisor_roles: Some(vec![switchboard_core::model::Role::Admin]),
            },
        );
    })
    .await;
    let app = &sim.app;
    let legal = app.team("Legal", &[]).await;
    app.agent("asha", "agent", Some(legal), 5, "online").await;
    app.agent("meena", "supervisor", Some(legal), 0, "online")
        .await;
    let (owner, _) = app.agent("owner", "admin", Some(legal), 0, "online").await;
    sim.say("919800000088", "wamid.l1", "I will send a legal notice")
        .await;
    let c = app.conversation_of("919800000088").await;
    assert_eq!(
        c["team_id"].as_i64(),
        Some(legal),
        "the inbox's configured team"
    );
    assert!(c["assignee_id"].is_null(), "Sunday: the team is off shift");
    assert_eq!(c["callback_at"], "2026-11-23T09:00:00Z");
    assert_eq!(
        c["escalations"][0]["target_agent_id"].as_i64(),
        Some(owner),
        "the team's L4 is its admins: {c}"
    );
}

// ---------------------------------------------------------------- issue #5
// A fake Graph API: a real HTTP server on loopback that records requests and
// answers from a script (default: accept with a fresh wamid).

#[derive(Clone, Default)]
struct FakeGraph {
    requests: Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
    script: Arc<std::sync::Mutex<std::collections::VecDeque<(u16, Value)>>>,
}

impl FakeGraph {
    async fn start() -> (Self, String) {
        let fake = FakeGraph::default();
        let f = fake.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let f = f.clone();
            async move {
                let path = req.uri().path().to_owned();
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let n = {
                    let mut r = f.requests.lock().unwrap();
                    r.push((path.clone(), auth, body.clone()));
                    r.len()
                };
                if path.ends_with("/message_templates") {
                    return (
                        axum::http::StatusCode::OK,
                        axum::Json(json!({"data": [
                            {"id": "111", "name": "order_update", "language": "en", "status": "APPROVED", "category": "UTILITY",
                             "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} is on its way"}]},
                            {"id": "222", "name": "diwali_offer", "language": "hi", "status": "PENDING", "category": "MARKETING",
                             "components": [{"type": "BODY", "text": "{{1}} ji, Diwali offer!"}]}
                        ], "paging": {"cursors": {"before": "a", "after": "b"}}})),
                    );
                }
                if body["status"] == "read" {
                    return (axum::http::StatusCode::OK, axum::Json(json!({"success": true})));
                }
                let (status, reply) = f.script.lock().unwrap().pop_front().unwrap_or_else(|| {
                    (200, json!({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}], "messages": [{"id": format!("wamid.OUT{n}")}]}))
                });
                (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(reply))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, base)
    }

    fn then(&self, status: u16, code: i64) {
        self.script.lock().unwrap().push_back((status, json!({"error": {"message": "scripted", "type": "OAuthException", "code": code, "fbtrace_id": "x"}})));
    }

    /// Message sends (read receipts left out).
    fn sent(&self) -> Vec<(String, String, Value)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, b)| b["status"] != "read")
            .cloned()
            .collect()
    }

    /// Read receipts.
    fn reads(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, b)| b["status"] == "read")
            .map(|(_, _, b)| b.clone())
            .collect()
    }
}

struct WorkApp {
    sim: SimApp,
    graph: FakeGraph,
    outbox: switchboard_server::outbox::OutboxWorker<SqliteStore>,
}

impl WorkApp {
    async fn spawn(start: &str, edit: impl FnOnce(&mut Config)) -> Self {
        let (graph, base) = FakeGraph::start().await;
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let db_url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut cfg = config(&db_url);
        cfg.graph_api_base = base;
        cfg.access_token = Some(Secret::new("graph-token"));
        cfg.workflow.auto_ack.enabled = false;
        cfg.workflow.per_recipient_gap = "1s".parse().unwrap();
        edit(&mut cfg);
        let clock = switchboard_core::clock::ManualClock::new(start.parse().unwrap());
        let app = App::build(cfg, Arc::new(clock.clone()))
            .await
            .unwrap()
            .without_background_timers();
        let (timers, outbox) = (app.timers(), app.outbox().unwrap());
        let base = format!("http://{}", app.addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let sim = SimApp {
            app: TestApp {
                base,
                http: reqwest::Client::new(),
                db_url,
                stop: Some(stop),
                server: Some(server),
                _dir: dir,
            },
            clock,
            timers,
        };
        WorkApp { sim, graph, outbox }
    }

    /// A conversation assigned to a fresh agent; returns (conversation id, agent token).
    async fn assigned(&self, wa: &str, text: &str) -> (i64, String) {
        let app = &self.sim.app;
        let team = app.team(&format!("T{wa}"), &[]).await;
        let (_, token) = app
            .agent(&format!("a{wa}"), "agent", Some(team), 10, "online")
            .await;
        self.sim.say(wa, &format!("wamid.in{wa}"), text).await;
        (app.conversation_of(wa).await["id"].as_i64().unwrap(), token)
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.sim
            .app
            .api(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn reply(&self, id: i64, token: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/api/v1/conversations/{id}/messages"), token, body)
            .await
    }

    async fn deliver(&self) {
        self.outbox.run_once().await.unwrap();
    }
}

#[tokio::test]
async fn reply_needs_the_handoff_ack_then_goes_out_with_the_exact_body_and_meets_the_sla() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |c| {
        // Automation answers first here, so the first assignment is a
        // bot-to-human handoff the agent must acknowledge.
        c.workflow.auto_ack.enabled = true;
    })
    .await;
    let (id, token) = w
        .assigned("919811100001", "price for the 2BHK? budget ₹45,000 max")
        .await;
    let (s, b) = w
        .reply(id, &token, json!({"text": "Hello! The 2BHK is ₹48,000."}))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("handoff_not_acknowledged")),
        "{b}"
    );
    assert_eq!(
        b["error"]["handoff"]["summary"]["amounts_mentioned"],
        json!(["₹45,000"])
    );
    let (s, b) = w
        .post(
            &format!("/api/v1/conversations/{id}/handoff/ack"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = w
        .reply(id, &token, json!({"text": "Hello! The 2BHK is ₹48,000."}))
        .await;
    assert_eq!(s, 202, "{b}");
    assert!(
        w.graph.sent().is_empty(),
        "nothing is sent inside the request"
    );
    w.sim.clock.advance(jiff::SignedDuration::from_mins(5));
    w.deliver().await;
    let sent = w.graph.sent();
    assert_eq!(sent.len(), 1);
    let (path, auth, body) = &sent[0];
    assert_eq!(path, &format!("/{PNID}/messages"));
    assert_eq!(auth, "Bearer graph-token");
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["recipient_type"], "individual");
    assert_eq!(body["to"], "919811100001");
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "Hello! The 2BHK is ₹48,000.");
    let c = w.sim.app.conversation_of("919811100001").await;
    let out = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "outbound")
        .unwrap();
    assert_eq!(
        (out["status"].as_str(), out["wamid"].as_str()),
        (Some("accepted"), Some("wamid.OUT1"))
    );
    assert_eq!(
        c["sla"]["first_response"]["status"], "hit",
        "responded when Meta accepted: {c}"
    );
    assert_eq!(
        w.graph.reads(),
        vec![
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.in919811100001"})
        ],
        "the customer's message is marked read"
    );
    // Statuses from Meta move it forward.
    let status = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": PNID},
        "statuses": [{"id": "wamid.OUT1", "status": "read", "timestamp": w.sim.now().to_string(), "recipient_id": "919811100001"}]}}]}]});
    w.sim.app.post_json(&status).await;
    let c = w.sim.app.conversation_of("919811100001").await;
    assert_eq!(
        c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "outbound")
            .unwrap()["status"],
        "read"
    );
    // Another agent cannot reply.
    let (_, other) = w.sim.app.agent("stranger", "agent", None, 5, "away").await;
    assert_eq!(w.reply(id, &other, json!({"text": "hi"})).await.0, 403);
}

#[tokio::test]
async fn window_closed_refuses_free_form_and_templates_follow_meta_rules() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let (id, token) = w.assigned("919811100002", "hello").await;
    w.post(
        &format!("/api/v1/conversations/{id}/handoff/ack"),
        &token,
        json!({}),
    )
    .await;
    w.sim.clock.advance(jiff::SignedDuration::from_hours(25));
    let (s, b) = w
        .reply(id, &token, json!({"text": "sorry for the delay"}))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("window_closed")),
        "{b}"
    );
    assert_eq!(b["error"]["window_closed_at"], "2026-11-24T10:00:00Z");
    w.deliver().await;
    assert!(w.graph.sent().is_empty(), "nothing sent");
    // Templates: synced ones only, APPROVED only, parameters checked.
    let store = w.sim.app.store().await;
    store
        .write(|tx| {
            Box::pin(async move {
                for (name, status, category) in [
                    ("followup", "APPROVED", "UTILITY"),
                    ("offer", "APPROVED", "MARKETING"),
                    ("draft", "PENDING", "UTILITY"),
                ] {
                    tx.upsert_template(&switchboard_store::TemplateRecord {
                        waba_id: "1".into(),
                        meta_id: None,
                        name: name.into(),
                        language: "en".into(),
                        status: status.into(),
                        category: Some(category.into()),
                        components: json!([{"type": "BODY", "text": "Hi {{1}}"}]),
                        placeholders: json!([{"component": "BODY", "positional": 1, "named": []}]),
                        updated_at: "2026-11-23T10:00:00Z".parse().unwrap(),
                    })
                    .await?;
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    let (s, b) = w
        .reply(
            id,
            &token,
            json!({"template": {"name": "draft", "language": "en", "parameters": ["Asha"]}}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("template_not_approved"))
    );
    let (s, b) = w
        .reply(
            id,
            &token,
            json!({"template": {"name": "followup", "language": "en", "parameters": []}}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("validation_failed")),
        "{b}"
    );
    let (s, b) = w
        .reply(
            id,
            &token,
            json!({"template": {"name": "followup", "language": "en", "parameters": ["Asha"]}}),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    w.deliver().await;
    let body = &w.graph.sent()[0].2;
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "followup");
    assert_eq!(body["template"]["language"]["code"], "en");
    assert_eq!(
        body["template"]["components"][0]["parameters"][0],
        json!({"type": "text", "text": "Asha"})
    );
    // Opt-out ("STOP") blocks marketing, not service templates.
    w.sim.say("919811100002", "wamid.stop", "STOP").await;
    let (s, b) = w
        .reply(
            id,
            &token,
            json!({"template": {"name": "offer", "language": "en", "parameters": ["Asha"]}}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("opted_out")),
        "{b}"
    );
    assert_eq!(
        w.reply(
            id,
            &token,
            json!({"template": {"name": "followup", "language": "en", "parameters": ["Asha"]}})
        )
        .await
        .0,
        202
    );
}

#[tokio::test]
async fn graph_failures_retry_fail_or_dead_letter_by_meta_code() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let mut convs = Vec::new();
    for (i, wa) in [
        "919811100010",
        "919811100011",
        "919811100012",
        "919811100013",
    ]
    .iter()
    .enumerate()
    {
        let (id, token) = w.assigned(wa, "hello").await;
        w.post(
            &format!("/api/v1/conversations/{id}/handoff/ack"),
            &token,
            json!({}),
        )
        .await;
        convs.push((id, token, *wa, i));
    }
    // 500 then 200: sent once, after a backoff.
    w.graph.script.lock().unwrap().push_back((
        500,
        json!({"error": {"message": "boom", "code": 2, "type": "x"}}),
    ));
    w.reply(convs[0].0, &convs[0].1, json!({"text": "one"}))
        .await;
    w.deliver().await;
    assert_eq!(w.graph.sent().len(), 1);
    let app = &w.sim.app;
    let out = |wa: &'static str| async move {
        let c = app.conversation_of(wa).await;
        c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "outbound")
            .unwrap()
            .clone()
    };
    assert_eq!(out("919811100010").await["status"], "pending");
    w.deliver().await;
    assert_eq!(w.graph.sent().len(), 1, "not before the backoff");
    w.sim.clock.advance(jiff::SignedDuration::from_secs(10));
    w.deliver().await;
    assert_eq!(w.graph.sent().len(), 2);
    assert_eq!(out("919811100010").await["status"], "accepted");
    w.sim.clock.advance(jiff::SignedDuration::from_mins(10));
    w.deliver().await;
    assert_eq!(w.graph.sent().len(), 2, "sent exactly once");
    // 130429: retried later. 131047: window_closed. 131026: terminal.
    for (k, code) in [(1usize, 130429i64), (2, 131047), (3, 131026)] {
        w.graph.then(400, code);
        w.reply(convs[k].0, &convs[k].1, json!({"text": "x"})).await;
        w.deliver().await;
    }
    assert_eq!(
        out("919811100011").await["status"],
        "pending",
        "rate limit: retried later"
    );
    assert_eq!(out("919811100012").await["status"], "failed");
    assert_eq!(out("919811100013").await["status"], "failed");
    let store = w.sim.app.store().await;
    let item = store
        .outbox_by_key(&format!("msg-{}", out("919811100012").await["id"]))
        .await
        .unwrap()
        .unwrap();
    assert!(item.last_error.unwrap().starts_with("window_closed"));
    assert_eq!(item.last_code, Some(131047));
    let item = store
        .outbox_by_key(&format!("msg-{}", out("919811100013").await["id"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (item.status.as_str(), item.last_code),
        ("failed", Some(131026))
    );
    w.sim.clock.advance(jiff::SignedDuration::from_mins(10));
    w.deliver().await;
    assert_eq!(out("919811100011").await["status"], "accepted");
}

#[tokio::test]
async fn a_worker_that_dies_after_claiming_is_replaced_and_the_message_goes_once() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let (id, token) = w.assigned("919811100020", "hello").await;
    w.post(
        &format!("/api/v1/conversations/{id}/handoff/ack"),
        &token,
        json!({}),
    )
    .await;
    w.reply(id, &token, json!({"text": "hi there"})).await;
    use switchboard_core::clock::Clock;
    let store = w.sim.app.store().await;
    let claimed = store
        .claim_outbox(
            w.sim.clock.now(),
            jiff::SignedDuration::from_secs(60),
            "crashed-worker",
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "the reply and its read receipt");
    w.deliver().await;
    assert!(w.graph.sent().is_empty(), "leased by the dead worker");
    w.sim.clock.advance(jiff::SignedDuration::from_secs(61));
    w.deliver().await;
    w.sim.clock.advance(jiff::SignedDuration::from_secs(120));
    w.deliver().await;
    assert_eq!(
        w.graph.sent().len(),
        1,
        "delivered once after the lease expired"
    );
}

#[tokio::test]
async fn resolve_requires_disposition_and_next_action_which_reopens_and_escalates() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let (id, token) = w
        .assigned("919811100030", "send me the proposal please")
        .await;
    let path = format!("/api/v1/conversations/{id}/resolve");
    let (s, b) = w.post(&path, &token, json!({})).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("disposition")),
        "{b}"
    );
    let (s, b) = w.post(&path, &token, json!({"disposition": "maybe"})).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("disposition"))
    );
    let (s, b) = w
        .post(&path, &token, json!({"disposition": "proposal_sent"}))
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("next_action")),
        "{b}"
    );
    let c = w.sim.app.conversation_of("919811100030").await;
    let owner = c["assignee_id"].as_i64().unwrap();
    let (s, b) = w.post(&path, &token, json!({"disposition": "proposal_sent", "next_action": {"type": "follow_up", "due_at": "2026-11-26T10:00:00Z"}})).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("next_action.owner_id"))
    );
    let (s, b) = w
        .post(&path, &token, json!({"disposition": "proposal_sent", "next_action": {"type": "follow_up", "due_at": "2026-11-26T10:00:00Z", "owner_id": owner}}))
        .await;
    assert_eq!(s, 200, "{b}");
    let c = w.sim.app.conversation_of("919811100030").await;
    assert_eq!(
        (c["status"].as_str(), c["sla"]["status"].as_str()),
        (Some("resolved"), Some("hit"))
    );
    // The next action comes due: reopened for its owner; ignored: escalated.
    w.sim.advance(3 * 86_400).await;
    let c = w.sim.app.conversation_of("919811100030").await;
    assert_eq!(
        (c["status"].as_str(), c["assignee_id"].as_i64()),
        (Some("open"), Some(owner))
    );
    w.sim.advance(3601).await;
    let c = w.sim.app.conversation_of("919811100030").await;
    assert_eq!(
        c["escalations"].as_array().unwrap().last().unwrap()["level"],
        "next_action",
        "{c}"
    );
    // A terminal disposition needs no next action.
    let (id2, token2) = w.assigned("919811100031", "ok thanks").await;
    let (s, _) = w
        .post(
            &format!("/api/v1/conversations/{id2}/resolve"),
            &token2,
            json!({"disposition": "not_interested"}),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn automatic_first_response_once_with_category_and_shift_wording() {
    // Weekdays 09:30-19:00 IST; Monday 2026-11-23 10:00 UTC is 15:30 IST (open).
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |c| {
        c.workflow.auto_ack.enabled = true;
        let spec: switchboard_core::calendar::CalendarSpec = toml::from_str(
            "time_zone = \"Asia/Kolkata\"\n[hours]\nmon = [\"09:30-19:00\"]\ntue = [\"09:30-19:00\"]\n",
        )
        .unwrap();
        c.calendars.insert("shift".into(), spec);
        c.routing.calendar = Some("shift".into());
    })
    .await;
    let app = &w.sim.app;
    let team = app.team("Sales", &[]).await;
    app.agent("asha", "agent", Some(team), 10, "online").await;
    w.sim
        .say(
            "919811100040",
            "wamid.aa1",
            "When can we sign? ready to proceed",
        )
        .await;
    w.sim
        .say("919811100040", "wamid.aa2", "also need parking")
        .await;
    w.sim.advance(11).await;
    w.deliver().await;
    let sent = w.graph.sent();
    assert_eq!(sent.len(), 1, "one acknowledgement");
    assert_eq!(
        sent[0].2["text"]["body"],
        "Thanks for your message! Our team will reply within 30 minutes."
    );
    let c = app.conversation_of("919811100040").await;
    assert!(
        c["sla"]["first_responded_at"].is_null(),
        "automation is not the human first response"
    );
    w.sim.advance(60).await;
    w.deliver().await;
    assert_eq!(w.graph.sent().len(), 1, "never twice");
    // After hours (21:30 IST): the off-shift wording with the opening time.
    w.sim.clock.set("2026-11-23T16:00:00Z".parse().unwrap());
    w.sim
        .say("919811100041", "wamid.aa3", "what are the fees?")
        .await;
    w.sim.advance(11).await;
    w.deliver().await;
    let sent = w.graph.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].2["text"]["body"],
        "Thanks for your message! We're closed right now and open at Tue 09:30; we'll reply then."
    );
}

#[tokio::test]
async fn follow_ups_for_a_silent_prospect_stop_when_they_write() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let (id, token) = w
        .assigned("919811100050", "abhi book karna hai, ready to proceed")
        .await;
    w.post(
        &format!("/api/v1/conversations/{id}/handoff/ack"),
        &token,
        json!({}),
    )
    .await;
    w.reply(
        id,
        &token,
        json!({"text": "Great! Sharing the booking form."}),
    )
    .await;
    w.deliver().await;
    let levels = |c: &Value| {
        c["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "follow_up")
            .count()
    };
    // 24 h of silence: a reminder for the assignee.
    w.sim.advance(24 * 3600 + 1).await;
    let c = w.sim.app.conversation_of("919811100050").await;
    assert_eq!(levels(&c), 1, "{c}");
    assert!(
        c["escalations"].as_array().unwrap().last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("silent")
    );
    // Day 4: the re-engagement offer (the window has closed: a template).
    w.sim.advance(3 * 86_400).await;
    let c = w.sim.app.conversation_of("919811100050").await;
    assert_eq!(levels(&c), 2);
    assert!(
        c["escalations"].as_array().unwrap().last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("use a template")
    );
    // The prospect writes: the dormancy follow-up is cancelled.
    w.sim
        .say(
            "919811100050",
            "wamid.back",
            "sorry, was travelling. still interested",
        )
        .await;
    w.sim.advance(11 * 86_400).await;
    let c = w.sim.app.conversation_of("919811100050").await;
    assert_eq!(levels(&c), 2, "no dormancy after the customer wrote");
    assert_ne!(c["status"], "pending");
}

#[tokio::test]
async fn templates_sync_follow_status_webhooks_and_consent_is_recorded() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |c| {
        c.workflow.waba_id = Some("102290129340398".into())
    })
    .await;
    let (s, b) = w.post("/api/v1/templates/sync", ADMIN, json!({})).await;
    assert_eq!((s, b["synced"].as_i64()), (200, Some(2)), "{b}");
    let (_, list) = w
        .sim
        .app
        .api(reqwest::Method::GET, "/api/v1/templates", ADMIN, None)
        .await;
    let order = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "order_update")
        .unwrap()
        .clone();
    assert_eq!(order["placeholders"][0]["positional"], 2, "{order}");
    let (id, token) = w.assigned("919811100060", "where is my order?").await;
    w.post(
        &format!("/api/v1/conversations/{id}/handoff/ack"),
        &token,
        json!({}),
    )
    .await;
    let send =
        json!({"template": {"name": "diwali_offer", "language": "hi", "parameters": ["Asha"]}});
    assert_eq!(
        w.reply(id, &token, send.clone()).await.1["error"]["code"],
        "template_not_approved"
    );
    // Meta approves it: the status webhook keeps the local copy current.
    let approved = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "time": 1, "changes": [{"field": "message_template_status_update",
        "value": {"event": "APPROVED", "message_template_id": 222, "message_template_name": "diwali_offer", "message_template_language": "hi", "reason": "NONE"}}]}]});
    w.sim.app.post_json(&approved).await;
    assert_eq!(w.reply(id, &token, send.clone()).await.0, 202);
    // Consent: an opt-in with its source and time; STOP later wins for marketing.
    let contact = w.sim.app.conversation_of("919811100060").await["contact"]["id"]
        .as_i64()
        .unwrap();
    let (s, b) = w
        .post(
            &format!("/api/v1/contacts/{contact}/opt-in"),
            &token,
            json!({"source": "website form"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    w.sim.say("919811100060", "wamid.stop60", "band karo").await;
    assert_eq!(
        w.reply(id, &token, send).await.1["error"]["code"],
        "opted_out"
    );
}

#[tokio::test]
async fn interactive_buttons_and_lists_go_out_as_meta_documents_them() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |_| {}).await;
    let (id, token) = w
        .assigned("919811100070", "which batches do you have?")
        .await;
    w.post(
        &format!("/api/v1/conversations/{id}/handoff/ack"),
        &token,
        json!({}),
    )
    .await;
    let (s, b) = w
        .reply(id, &token, json!({"interactive": {"body": "Pick a batch", "list": {"button": "Batches", "sections": [
            {"title": "Weekday", "rows": [{"id": "wd-am", "title": "Morning 7-9", "description": "Mon-Fri"}, {"id": "wd-pm", "title": "Evening 6-8"}]}
        ]}}}))
        .await;
    assert_eq!(s, 202, "{b}");
    let (s, _) = w.reply(id, &token, json!({"interactive": {"body": "Shall we book?", "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "Not now"}]}})).await;
    assert_eq!(s, 202);
    let (s, b) = w.reply(id, &token, json!({"interactive": {"body": "x", "buttons": [{"id": "a", "title": "a title much longer than twenty characters"}]}})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("validation_failed")),
        "Meta's limits are checked before queueing: {b}"
    );
    w.deliver().await;
    w.sim.clock.advance(jiff::SignedDuration::from_secs(5));
    w.deliver().await;
    let sent = w.graph.sent();
    assert_eq!(sent.len(), 2);
    let list = &sent[0].2["interactive"];
    assert_eq!(
        (list["type"].as_str(), list["action"]["button"].as_str()),
        (Some("list"), Some("Batches"))
    );
    assert_eq!(
        list["action"]["sections"][0]["rows"][0],
        json!({"id": "wd-am", "title": "Morning 7-9", "description": "Mon-Fri"})
    );
    let buttons = &sent[1].2["interactive"];
    assert_eq!(buttons["type"], "button");
    assert_eq!(
        buttons["action"]["buttons"][1],
        json!({"type": "reply", "reply": {"id": "no", "title": "Not now"}})
    );
}

#[tokio::test]
async fn an_unacknowledged_handoff_escalates_and_ack_time_is_recorded() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |c| {
        c.workflow.handoff_ack_after = "5m".parse().unwrap()
    })
    .await;
    let app = &w.sim.app;
    let team = app.team("Support", &[]).await;
    let (a1, a1_token) = app.agent("asha", "agent", Some(team), 10, "online").await;
    let (a2, a2_token) = app.agent("ravi", "agent", Some(team), 10, "online").await;
    let (sup, _) = app
        .agent("meena", "supervisor", Some(team), 0, "online")
        .await;
    w.sim
        .say(
            "919811100080",
            "wamid.h80",
            "my invoice shows ₹12,500 but we agreed 10k",
        )
        .await;
    let id = app.conversation_of("919811100080").await["id"]
        .as_i64()
        .unwrap();
    let (from, to, to_token) =
        if app.conversation_of("919811100080").await["assignee_id"].as_i64() == Some(a1) {
            (a1, a2, a2_token)
        } else {
            (a2, a1, a1_token)
        };
    let (s, b) = w
        .post(
            &format!("/api/v1/conversations/{id}/assign"),
            ADMIN,
            json!({"agent_id": to, "reason": "billing expert"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["handoff"]["from_agent_id"].as_i64(), Some(from));
    assert_eq!(
        b["handoff"]["summary"]["amounts_mentioned"],
        json!(["₹12,500", "10k"])
    );
    // Nobody acknowledges within 5 minutes: the supervisor is escalated to.
    w.sim.advance(5 * 60 + 1).await;
    let c = app.conversation_of("919811100080").await;
    let handoff_escalation = c["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["level"] == "handoff")
        .expect("handoff escalation");
    assert_eq!(handoff_escalation["target_agent_id"].as_i64(), Some(sup));
    // The receiver acknowledges late; the time to acknowledge is recorded.
    let (s, b) = w
        .post(
            &format!("/api/v1/conversations/{id}/handoff/ack"),
            &to_token,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["seconds_to_acknowledge"], 301);
    assert!(
        app.conversation_of("919811100080").await["handoffs"][0]["acknowledged_at"].is_string()
    );
}

#[tokio::test]
async fn reports_measure_cycles_from_events_written_with_each_change() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |c| {
        c.workflow.auto_ack.enabled = true;
    })
    .await;
    // A: bot answers first, a second message while waiting, the agent
    // acknowledges the handoff, replies 5 minutes in, resolves as won.
    let (a, token) = w
        .assigned("919811100101", "price for the 2BHK? budget ₹45,000 max")
        .await;
    w.sim.clock.advance(jiff::SignedDuration::from_mins(1));
    w.sim.say("919811100101", "wamid.a2", "hello??").await;
    w.post(
        &format!("/api/v1/conversations/{a}/handoff/ack"),
        &token,
        json!({}),
    )
    .await;
    w.sim.clock.advance(jiff::SignedDuration::from_mins(4));
    let (s, b) = w
        .reply(a, &token, json!({"text": "The 2BHK is ₹48,000."}))
        .await;
    assert_eq!(s, 202, "{b}");
    w.deliver().await;
    w.sim.clock.advance(jiff::SignedDuration::from_mins(55));
    let (s, b) = w
        .post(
            &format!("/api/v1/conversations/{a}/resolve"),
            &token,
            json!({"disposition": "won"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // B: never answered; its first-response clock breaches.
    w.assigned("919811100102", "is the clinic open on sunday?")
        .await;
    w.sim.advance(3 * 3600).await;

    let store = w.sim.app.store().await;
    let kinds: Vec<String> = store
        .report_events(switchboard_core::ids::ConversationId(a))
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.to_string())
        .collect();
    for k in [
        "conversation_opened",
        "message_received",
        "triaged",
        "assigned",
        "handoff",
        "handoff_acknowledged",
        "reply",
        "sla_hit",
        "message_sent",
        "resolved",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }

    let (s, body) = w
        .sim
        .app
        .api(
            reqwest::Method::GET,
            "/api/v1/reports/summary?from=2026-11-01&to=2026-11-30&by=intent",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let t = &body["summary"]["total"];
    assert_eq!(t["conversations"], 2, "{t}");
    assert_eq!(t["first_response"]["count"], 1, "{t}");
    assert_eq!(t["unanswered"], 1);
    assert_eq!(t["sla_first_response"]["hit"], 1, "{t}");
    assert_eq!(t["sla_first_response"]["missed"], 1, "{t}");
    assert_eq!(t["sla_first_response"]["rate"], 0.5);
    // A's bot handoff (acknowledged after 60 s); B's bot handoff and its
    // breach reassignment (never acknowledged).
    assert_eq!(t["handoff_acceptance"]["count"], 1, "{t}");
    assert_eq!(t["handoff_acceptance"]["of"], 3, "{t}");
    assert_eq!(t["handoff_ack_mean_s"], 60.0, "{t}");
    assert_eq!(t["agent_handover"]["count"], 2, "{t}");
    assert_eq!(t["closure"]["count"], 1);
    assert_eq!(t["qualified"]["count"], 1);
    assert_eq!(t["opportunity"]["count"], 1);
    assert_eq!(t["repeat_messages"]["count"], 1, "{t}");
    assert_eq!(t["repeat_messages"]["of"], 3, "{t}");
    assert_eq!(t["resolution"]["median_s"], 3600, "{t}");
    // First response: from the bot handoff (at the first message) to the
    // moment Meta accepted the reply, 5 minutes later.
    assert_eq!(t["first_response"]["median_s"], 300, "{t}");
    assert!(body["summary"]["groups"].as_array().unwrap().len() >= 2);
    assert!(body["queue"]["open"].as_u64().is_some());

    let (s, body) = w
        .sim
        .app
        .api(
            reqwest::Method::GET,
            "/api/v1/reports/timeseries?metric=conversations&interval=day&from=2026-11-22&to=2026-11-24",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let values: Vec<Value> = body["timeseries"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].clone())
        .collect();
    assert_eq!(values, vec![json!(0.0), json!(2.0), json!(0.0)]);

    // Bad input gets a clear error; agents without supervisor rights are refused.
    let (s, body) = w
        .sim
        .app
        .api(
            reqwest::Method::GET,
            "/api/v1/reports/summary?by=planet",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let (s, _) = w
        .sim
        .app
        .api(
            reqwest::Method::GET,
            "/api/v1/reports/summary",
            &token,
            None,
        )
        .await;
    assert_eq!(s, 403);
}

const REPLAY_CORPUS: &str = r#"{"id": "a", "contact": "Priya", "messages": [{"direction": "inbound", "at": "2026-05-04T10:00:00+05:30", "text": "price of the 2BHK flat in sector 62?", "expected": {"intent": "pricing", "escalate": false}}]}
{"id": "b", "contact": "Ravi", "messages": [{"direction": "inbound", "at": "2026-05-04T10:05:00+05:30", "text": "money debited twice and no order, refund my money now!!!", "expected": {"intent": "refund", "escalate": true}}, {"direction": "outbound", "at": "2026-05-04T10:06:00+05:30", "text": "Thanks for contacting us", "automated": true, "acceptable": false}]}
{"id": "c", "contact": "Meena", "messages": [{"direction": "inbound", "at": "2026-05-04T11:00:00+05:30", "text": "i want to buy the blue kurta, is size M available?"}, {"direction": "inbound", "at": "2026-05-04T11:40:00+05:30", "text": "ok thanks"}]}
{"id": "d", "contact": "Priya", "messages": [{"direction": "inbound", "at": "2026-05-06T09:00:00+05:30", "text": "is the site visit on saturday possible?"}]}
"#;

#[tokio::test]
async fn replay_is_deterministic_for_a_seed_and_gates_list_what_to_fix() {
    use switchboard_server::replay::{ReplayOptions, Roster, run};
    let transcripts = switchboard_replay::jsonl::parse(REPLAY_CORPUS).unwrap();
    let options = ReplayOptions {
        seed: 7,
        ..ReplayOptions::default()
    };
    let a = run(Config::default(), &transcripts, &options, &|_, _| {})
        .await
        .unwrap();
    let b = run(Config::default(), &transcripts, &options, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&b).unwrap(),
        "same seed, same report"
    );
    assert_eq!((a.transcripts, a.messages), (4, 5));
    assert_eq!(a.triage.labelled, 2);
    assert_eq!(a.triage.escalation.true_positive, 1, "{:?}", a.triage);
    assert!(
        a.escalation_reasons.contains_key("refund"),
        "{:?}",
        a.escalation_reasons
    );
    // Every conversation got a simulated answer within the default roster's times.
    assert_eq!(a.by_intent.total.unanswered, 0, "{:?}", a.by_intent.total);
    assert!(a.replies >= 4);
    let coverage = &a.gates[0];
    assert_eq!(coverage.pass, Some(false));
    assert!(
        coverage.remediation.iter().any(|r| r.contains("replay")),
        "{coverage:?}"
    );
    let automated = &a.gates[1];
    assert_eq!(automated.pass, Some(false), "{automated:?}");
    assert!(automated.detail.starts_with("0 of 1"), "{automated:?}");

    // Another seed samples other reply times.
    let c = run(
        Config::default(),
        &transcripts,
        &ReplayOptions {
            seed: 8,
            ..ReplayOptions::default()
        },
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_ne!(
        a.by_intent.total.first_response.mean_s,
        c.by_intent.total.first_response.mean_s
    );

    // A team that answers in hours leaves urgent conversations past their SLA.
    let mut slow = Roster::default();
    for agent in &mut slow.agents {
        agent.reply_median = "3h".parse().unwrap();
        agent.reply_p90 = "5h".parse().unwrap();
    }
    let d = run(
        Config::default(),
        &transcripts,
        &ReplayOptions {
            roster: slow,
            ..ReplayOptions::default()
        },
        &|_, _| {},
    )
    .await
    .unwrap();
    let sla = &d.gates[2];
    assert_eq!(sla.pass, Some(false), "{sla:?}");
    assert!(
        sla.remediation.iter().any(|r| r.contains("transcript b")),
        "{sla:?}"
    );
    assert!(d.by_intent.total.sla_first_response.missed >= 1);
}

#[tokio::test]
async fn triage_rules_reload_without_restart_and_bad_files_keep_the_old_ones() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let rules = dir.path().join("rules.toml");
    let builtin = switchboard_core::triage::BUILTIN_RULES;
    // The built-in label changes with every rules release; rename whatever it is.
    let label = switchboard_core::triage::TriageEngine::builtin()
        .unwrap()
        .version()
        .to_owned();
    std::fs::write(&rules, builtin.replace(&label, "shop-v1")).unwrap();
    let mut cfg = config(&format!("sqlite://{}", dir.path().join("t.db").display()));
    cfg.triage.rules_file = Some(rules.clone());
    let app = TestApp::spawn_with(cfg, dir.clone()).await;
    assert_eq!(app.get("/api/v1/triage").await["rules_version"], "shop-v1");
    app.post_json(&text_body(
        "919800000001",
        "A",
        "wamid.r1",
        "price of the red saree?",
        now(),
    ))
    .await;

    std::fs::write(&rules, builtin.replace(&label, "shop-v2")).unwrap();
    let (s, b) = app
        .api(reqwest::Method::POST, "/api/v1/triage/reload", ADMIN, None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (
            b["rules_version"].as_str(),
            b["previous_rules_version"].as_str()
        ),
        (Some("shop-v2"), Some("shop-v1"))
    );
    app.post_json(&text_body(
        "919800000002",
        "B",
        "wamid.r2",
        "price of the blue saree?",
        now(),
    ))
    .await;
    let first = app.conversation_of("919800000001").await;
    let second = app.conversation_of("919800000002").await;
    assert_eq!(first["messages"][0]["triage"]["rules_version"], "shop-v1");
    assert_eq!(second["messages"][0]["triage"]["rules_version"], "shop-v2");

    // A broken file is refused with its line; the engine in use stays.
    std::fs::write(&rules, "version = \"shop-v3\"\n[[nonsense\n").unwrap();
    let (s, b) = app
        .api(reqwest::Method::POST, "/api/v1/triage/reload", ADMIN, None)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("validation_failed")),
        "{b}"
    );
    assert!(
        b["error"]["message"].as_str().unwrap().contains("line"),
        "{b}"
    );
    assert_eq!(app.get("/api/v1/triage").await["rules_version"], "shop-v2");
    // Only admins reload.
    let (_, token) = app.agent("reloader", "agent", None, 1, "online").await;
    let (s, _) = app
        .api(reqwest::Method::POST, "/api/v1/triage/reload", &token, None)
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn automation_that_fails_to_understand_twice_escalates_as_bot_failure() {
    let w = WorkApp::spawn("2026-11-23T10:00:00Z", |c| {
        c.workflow.auto_ack.enabled = true;
    })
    .await;
    let wa = "919811100201";
    w.sim.say(wa, "wamid.bf1", "asdf qwer").await;
    w.sim.clock.advance(jiff::SignedDuration::from_secs(20));
    w.sim.say(wa, "wamid.bf2", "???").await;
    let c = w.sim.app.conversation_of(wa).await;
    assert!(
        !c["escalation_reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "bot_failure"),
        "{c}"
    );
    w.sim.clock.advance(jiff::SignedDuration::from_secs(20));
    w.sim.say(wa, "wamid.bf3", "xyz").await;
    let c = w.sim.app.conversation_of(wa).await;
    let reasons = c["escalation_reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "bot_failure"), "{c}");
    let last = c["messages"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["triage"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap_or("").contains("automation")),
        "{last}"
    );
}

/// The in-memory store predicts what `serve` on SQLite does: the same
/// corpus and seed give the very same report on both (triage, escalations,
/// KPIs from the event log and the rollup, gates), with a team that keeps
/// up and with one whose slow replies breach, reassign and escalate.
#[tokio::test]
async fn replay_in_memory_reports_exactly_what_sqlite_reports() {
    use switchboard_server::replay::{ReplayOptions, Roster, run};
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/replay/example.jsonl"
    ))
    .unwrap();
    let corpus = switchboard_replay::jsonl::parse(&text).unwrap();
    let mut slow = Roster::default();
    for agent in &mut slow.agents {
        agent.capacity = 3;
        agent.reply_median = "40m".parse().unwrap();
        agent.reply_p90 = "3h".parse().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    for (n, (roster, conversations)) in [(Roster::default(), 300), (slow, 150)]
        .into_iter()
        .enumerate()
    {
        let transcripts = &corpus[..conversations];
        let options = ReplayOptions {
            seed: 11,
            roster,
            ..ReplayOptions::default()
        };
        let memory = run(Config::default(), transcripts, &options, &|_, _| {})
            .await
            .unwrap();
        let on_sqlite = ReplayOptions {
            database: Some(dir.path().join(format!("replay{n}.db"))),
            ..options
        };
        let sqlite = run(Config::default(), transcripts, &on_sqlite, &|_, _| {})
            .await
            .unwrap();
        assert!(
            memory.messages as usize > conversations
                && (n == 0 || memory.escalations.contains_key("breach")),
            "{} messages, escalations {:?}",
            memory.messages,
            memory.escalations
        );
        assert_eq!(
            serde_json::to_string_pretty(&memory).unwrap(),
            serde_json::to_string_pretty(&sqlite).unwrap(),
            "roster {n}: the in-memory replay must report what SQLite reports"
        );
    }
}

/// The real pipeline (threading, triage, routing, SLA clocks, timers) on
/// PostgreSQL: `serve`'s backend choice by URL, end to end over HTTP.
#[tokio::test]
async fn the_pipeline_runs_on_postgres() {
    let Some(admin) = pg::admin_url() else {
        return;
    };
    let (name, url) = pg::fresh_database_url(&admin);
    pg::create_database(&admin, &name).await;
    let app = switchboard_server::AnyApp::build(config(&url), Arc::new(SystemClock))
        .await
        .unwrap();
    assert!(matches!(app, switchboard_server::AnyApp::Postgres(_)));
    let base = format!("http://{}", app.addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let mut t = TestApp {
        base,
        http: reqwest::Client::new(),
        db_url: url.clone(),
        stop: Some(stop),
        server: Some(server),
        _dir: Arc::new(tempfile::tempdir().unwrap()),
    };
    let (agent, _) = t.agent("Asha", "agent", None, 5, "online").await;
    t.post_json(&text_body(
        "919800000001",
        "Priya",
        "wamid.pg1",
        "When can we sign?",
        now(),
    ))
    .await;
    // The same delivery again: deduplicated by wamid on PostgreSQL too.
    t.post_json(&text_body(
        "919800000001",
        "Priya",
        "wamid.pg1",
        "When can we sign?",
        now(),
    ))
    .await;

    let c = t.conversation_of("919800000001").await;
    assert_eq!(
        (c["category"].as_str(), c["intent"].as_str()),
        (Some("fresh_high_intent"), Some("purchase"))
    );
    assert_eq!(c["messages"].as_array().unwrap().len(), 1);
    assert_eq!(c["messages"][0]["triage"]["category"], "fresh_high_intent");
    assert_eq!(c["assignee_id"].as_i64(), Some(agent));
    assert!(!c["assignments"].as_array().unwrap().is_empty());
    assert!(c["sla"]["first_response_due_at"].is_string(), "{c}");
    let a = t.get(&format!("/api/v1/agents/{agent}")).await;
    assert_eq!(a["open_count"], 1, "the counter trigger ran: {a}");
    // The KPI summary (what `switchboard report` prints) from PostgreSQL's
    // reporting events: the rollup and its reads run there too.
    let (s, body) = t
        .api(reqwest::Method::GET, "/api/v1/reports/summary", ADMIN, None)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["summary"]["total"]["conversations"], 1, "{body}");

    let store = switchboard_store_postgres::PgStore::connect(&url)
        .await
        .unwrap();
    let pending = store.pending_timers().await.unwrap();
    assert!(
        !pending.is_empty(),
        "the SLA clocks are timer rows in the same transaction"
    );
    store.close().await;
    t.shutdown().await;
    pg::drop_database(&admin, &name).await;
}
