//! `switchboard-loadgen`: a load harness for Switchboard's webhook intake.
//!
//! It plays Meta against a running `switchboard serve`:
//!
//! 1. Builds `--messages` realistic WhatsApp Cloud API webhook bodies from
//!    `--contacts` customers (English/Hinglish/Hindi texts, images with
//!    captions, status webhooks, optionally several messages per delivery
//!    with `--batch-max`) and signs each with the app secret, all before the
//!    clock starts, so what is measured is the server, not the generator.
//! 2. Schedules a `--redelivery-rate` share of the deliveries a second time,
//!    byte-identical and at a random later point, as Meta's at-least-once
//!    delivery does.
//! 3. Fires the schedule with `--concurrency` workers over one keep-alive
//!    connection pool, timing each request from send to the full response.
//! 4. Reports throughput, ack latency percentiles, errors by kind and the
//!    server's own counts (`messages`, `duplicates` in each response), and
//!    with `--database-url` checks in the database that every distinct
//!    message was stored exactly once (PASS/FAIL; exit status 1 on FAIL).
//!
//! Modules: [`corpus`] builds the bodies, [`fire`] sends them, [`verify`]
//! checks the database, [`setup`] creates agents for `--setup-agents`.
#![forbid(unsafe_code)]

mod corpus;
mod fire;
mod setup;
mod verify;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::fire::{Job, Percentiles};
use crate::verify::Expected;

/// Load harness for Switchboard's webhook intake: fires signed, realistic
/// Meta deliveries (with redeliveries) at a running server and checks that
/// every message was stored exactly once.
#[derive(Debug, Parser)]
#[command(name = "switchboard-loadgen", version, about)]
struct Args {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Meta app secret the server verifies `X-Hub-Signature-256` with.
    #[arg(long, env = "SWITCHBOARD_APP_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Distinct customer messages to send.
    #[arg(long, default_value_t = 50_000)]
    messages: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Share of deliveries sent a second time (identical signed body, later,
    /// in random order), as Meta's at-least-once delivery does.
    #[arg(long, default_value_t = 0.10)]
    redelivery_rate: f64,
    /// Distinct customers; default messages / 5, so conversations get
    /// several messages.
    #[arg(long)]
    contacts: Option<u64>,
    /// Most messages in one delivery; above 1, deliveries carry 1..=B
    /// messages (in one `value` or in several entries), like Meta's batching.
    #[arg(long, default_value_t = 1)]
    batch_max: u32,
    /// Seed of every random choice (also part of every wamid, so runs with
    /// different seeds never collide in one database).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// `sqlite://PATH` of the server's database: after the run, check that
    /// every distinct message is stored exactly once.
    #[arg(long)]
    database_url: Option<String>,
    /// Check only this many randomly chosen wamids one by one (row-count
    /// checks always cover everything); default: all of them.
    #[arg(long)]
    verify_sample: Option<usize>,
    /// Before the run, create a team and three online agents through the
    /// admin API, so assignment runs for real.
    #[arg(long)]
    setup_agents: bool,
    /// Admin bearer token for `--setup-agents`.
    #[arg(long, env = "SWITCHBOARD_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Runtime threads of the harness itself. One is plenty for the client
    /// side and leaves the rest of a small machine to the server.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Seconds to wait for the server's /healthz to answer before giving up.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// Print the result as one JSON object on stdout (progress still goes
    /// to stderr).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// How the schedule was made.
#[derive(Debug, Default)]
struct Schedule {
    /// Every POST in firing order.
    jobs: Vec<Job>,
    /// Original deliveries.
    originals: u64,
    /// Second sends.
    redeliveries: u64,
    /// Customer messages inside the redeliveries (the server must report
    /// exactly this many duplicates).
    redelivered_messages: u64,
    /// Status items inside the redeliveries (the server must not record
    /// them again).
    redelivered_statuses: u64,
    /// Body bytes of one pass over the schedule.
    bytes: u64,
}

/// Puts the originals in generation order and every redelivery at a
/// uniformly random later position.
fn schedule(corpus: &corpus::Corpus, rate: f64, rng: &mut StdRng) -> anyhow::Result<Schedule> {
    // One arena for all bodies, leaked on purpose: it lives as long as the
    // process anyway, and `&'static [u8]` bodies go to reqwest without a copy
    // per request.
    let mut arena = Vec::with_capacity(corpus.deliveries.iter().map(|d| d.body.len()).sum());
    let mut ranges = Vec::with_capacity(corpus.deliveries.len());
    for d in &corpus.deliveries {
        let start = arena.len();
        arena.extend_from_slice(&d.body);
        ranges.push(start..arena.len());
    }
    let arena: &'static [u8] = arena.leak();

    let n = corpus.deliveries.len();
    let redelivered = (rate * n as f64).round() as usize;
    let chosen = rand::seq::index::sample(rng, n, redelivered.min(n));
    // Sort keys: original i at i, its redelivery anywhere in [i, n). The
    // sort is stable and redeliveries are pushed after every original, so a
    // redelivery never goes before its original even on a tied key.
    let mut keyed: Vec<(f64, usize)> = (0..n).map(|i| (i as f64, i)).collect();
    let mut out = Schedule {
        originals: n as u64,
        ..Schedule::default()
    };
    for i in chosen.iter() {
        let later = i as f64 + rng.random_range(0.0..1.0) * (n - i) as f64;
        keyed.push((later, i));
        out.redeliveries += 1;
        out.redelivered_messages += u64::from(corpus.deliveries[i].messages);
        out.redelivered_statuses += u64::from(corpus.deliveries[i].statuses);
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, i) in keyed {
        let d = &corpus.deliveries[i];
        let body = arena
            .get(ranges[i].clone())
            .context("body range outside the arena")?;
        out.bytes += body.len() as u64;
        out.jobs.push(Job {
            body,
            signature: HeaderValue::from_str(&d.signature)
                .context("signature is not a valid header value")?,
        });
    }
    Ok(out)
}

/// Polls `/healthz` until the server answers 2xx.
async fn wait_for_server(client: &reqwest::Client, base: &str, wait: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        match client.get(format!("{base}/healthz")).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if Instant::now() >= deadline => bail!("{base}/healthz answers {}", r.status()),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).with_context(|| format!("{base} is not reachable"));
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Runs the harness; `Ok(false)` means a check failed.
async fn run(args: Args) -> anyhow::Result<bool> {
    let Some(secret) = args.secret.clone().filter(|s| !s.is_empty()) else {
        bail!("no app secret: pass --secret or set SWITCHBOARD_APP_SECRET");
    };
    if !(0.0..=1.0).contains(&args.redelivery_rate) {
        bail!("--redelivery-rate must be between 0 and 1");
    }
    if args.messages == 0 || args.concurrency == 0 || args.batch_max == 0 {
        bail!("--messages, --concurrency and --batch-max must be at least 1");
    }
    let base = args.url.trim_end_matches('/').to_owned();
    let contacts = args.contacts.unwrap_or(args.messages / 5).max(1);

    let built = Instant::now();
    let corpus = corpus::build(&corpus::Spec {
        messages: args.messages,
        contacts,
        batch_max: args.batch_max,
        seed: args.seed,
        secret,
        now: jiff::Timestamp::now().as_second(),
    });
    // A separate stream for scheduling, so the corpus for a seed is the same
    // whatever the redelivery rate.
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed_5eed);
    let plan = schedule(&corpus, args.redelivery_rate, &mut rng)?;
    eprintln!(
        "loadgen: built and signed {} deliveries ({} messages, {} redeliveries, {:.1} MB) in {:.2} s",
        plan.jobs.len(),
        corpus.wamids.len(),
        plan.redeliveries,
        plan.bytes as f64 / 1e6,
        built.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    wait_for_server(&client, &base, args.wait).await?;
    if args.setup_agents {
        let token = args
            .admin_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .context("--setup-agents needs --admin-token or SWITCHBOARD_ADMIN_TOKEN")?;
        setup::agents(&client, &base, token).await?;
        eprintln!("loadgen: team and 3 online agents ready");
    }
    let before = match &args.database_url {
        Some(url) => {
            // Read and close again, so the harness holds no database
            // connection while the server is being measured.
            let store = verify::open(url).await?;
            let totals = verify::totals(&store).await?;
            store.close().await;
            Some(totals)
        }
        None => None,
    };
    fire::warm_up(&client, &base, args.concurrency).await?;

    let jobs = Arc::new(plan.jobs);
    let total = jobs.len();
    let progress = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let progress = Arc::clone(&progress);
        tokio::spawn(async move {
            let start = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let done = progress.load(Ordering::Relaxed);
                eprintln!(
                    "loadgen: {done}/{total} deliveries after {:.0} s",
                    start.elapsed().as_secs_f64()
                );
            }
        })
    };
    eprintln!(
        "loadgen: firing at {base}/webhooks/whatsapp with {} workers",
        args.concurrency
    );
    let outcome = fire::run(
        &client,
        &format!("{base}/webhooks/whatsapp"),
        jobs,
        args.concurrency,
        progress,
    )
    .await?;
    ticker.abort();
    let mut tally = outcome.tally;
    let elapsed = outcome.elapsed.as_secs_f64();
    let latency = Percentiles::of(&mut tally.latencies);

    let distinct = corpus.wamids.len() as u64;
    let mut checks: Vec<(String, bool)> = vec![
        (
            format!("{} failed requests", tally.failures()),
            tally.failures() == 0,
        ),
        (
            format!(
                "server stored {} messages, {} distinct sent",
                tally.server_messages, distinct
            ),
            tally.server_messages == distinct,
        ),
        (
            format!(
                "server reported {} duplicates, {} messages redelivered",
                tally.server_duplicates, plan.redelivered_messages
            ),
            tally.server_duplicates == plan.redelivered_messages,
        ),
        (
            format!(
                "server recorded {} statuses, {} distinct sent ({} redelivered)",
                tally.server_statuses, corpus.status_items, plan.redelivered_statuses
            ),
            tally.server_statuses == corpus.status_items,
        ),
        (
            format!("{} dead letters", tally.dead_letters),
            tally.dead_letters == 0,
        ),
    ];

    let expected = Expected {
        messages: distinct,
        deliveries: tally.ok,
        statuses: corpus.status_items,
    };
    let verification = match (&args.database_url, before) {
        (Some(url), Some(before)) => {
            let store = verify::open(url).await?;
            let wamids = match args.verify_sample {
                Some(k) if k < corpus.wamids.len() => corpus
                    .wamids
                    .choose_multiple(&mut rng, k)
                    .cloned()
                    .collect(),
                _ => corpus.wamids.clone(),
            };
            let v = verify::check(&store, before, &expected, wamids).await?;
            store.close().await;
            checks.push((
                format!(
                    "database: {} wamids checked, {} lost, {} duplicated, {} missing by row count",
                    v.checked,
                    v.lost,
                    v.duplicated,
                    v.missing_by_totals(&expected)
                ),
                v.passed(),
            ));
            Some(v)
        }
        _ => None,
    };
    let pass = checks.iter().all(|(_, ok)| *ok);
    // Lost and duplicated from the database when it was checked (the
    // stronger evidence), else from the server's own counts.
    let (lost, duplicated) = match &verification {
        Some(v) => {
            let missing = v.missing_by_totals(&expected);
            (
                v.lost.max(u64::try_from(missing).unwrap_or(0)),
                v.duplicated.max(u64::try_from(-missing).unwrap_or(0)),
            )
        }
        None => (
            distinct.saturating_sub(tally.server_messages),
            tally.server_messages.saturating_sub(distinct),
        ),
    };

    let result = json!({
        "config": {
            "url": base,
            "messages": args.messages,
            "contacts": contacts,
            "concurrency": args.concurrency,
            "redelivery_rate": args.redelivery_rate,
            "batch_max": args.batch_max,
            "seed": args.seed,
            "client_threads": args.client_threads,
        },
        "corpus": {
            "deliveries": plan.originals,
            "messages": distinct,
            "contacts_used": corpus.contacts_used,
            "images": corpus.images,
            "non_ascii_messages": corpus.non_ascii_messages,
            "status_deliveries": corpus.status_deliveries,
            "status_items": corpus.status_items,
            "bytes": plan.bytes,
        },
        "deliveries_sent": total,
        "redeliveries": plan.redeliveries,
        "redelivered_messages": plan.redelivered_messages,
        "redelivered_statuses": plan.redelivered_statuses,
        "elapsed_s": elapsed,
        "accepted_messages_per_s": tally.server_messages as f64 / elapsed,
        "deliveries_per_s": total as f64 / elapsed,
        "latency_ms": {
            "p50": latency.p50, "p90": latency.p90, "p99": latency.p99,
            "max": latency.max, "mean": latency.mean,
        },
        "responses_2xx": tally.ok,
        "http_errors": tally.http_errors.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "transport_errors": tally.transport_errors,
        "unreadable_reports": tally.unreadable_reports,
        "error_samples": tally.error_samples,
        "server": {
            "messages": tally.server_messages,
            "duplicates": tally.server_duplicates,
            "statuses": tally.server_statuses,
            "events": tally.server_events,
            "dead_letters": tally.dead_letters,
        },
        "lost": lost,
        "duplicated": duplicated,
        "database": verification.as_ref().map(verify::Verification::to_json),
        "checks": checks.iter().map(|(what, ok)| json!({"check": what, "ok": ok})).collect::<Vec<_>>(),
        "pass": pass,
    });
    if args.json {
        println!("{result}");
    } else {
        print_human(&result, &checks, verification.as_ref());
    }
    Ok(pass)
}

/// The result for a terminal.
fn print_human(r: &Value, checks: &[(String, bool)], v: Option<&verify::Verification>) {
    let n = |p: &str| r.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let f = |p: &str| r.pointer(p).and_then(Value::as_f64).unwrap_or(0.0);
    println!(
        "deliveries sent   {} ({} original + {} redeliveries; {} status-only)",
        n("/deliveries_sent"),
        n("/corpus/deliveries"),
        n("/redeliveries"),
        n("/corpus/status_deliveries")
    );
    println!(
        "messages          {} distinct from {} contacts ({} images, {} non-ASCII); {} redelivered",
        n("/corpus/messages"),
        n("/corpus/contacts_used"),
        n("/corpus/images"),
        n("/corpus/non_ascii_messages"),
        n("/redelivered_messages")
    );
    println!("elapsed           {:.2} s", f("/elapsed_s"));
    println!(
        "accepted          {:.0} messages/s (distinct messages stored / wall time)",
        f("/accepted_messages_per_s")
    );
    println!("deliveries        {:.0} /s", f("/deliveries_per_s"));
    println!(
        "ack latency (ms)  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
        f("/latency_ms/p50"),
        f("/latency_ms/p90"),
        f("/latency_ms/p99"),
        f("/latency_ms/max"),
        f("/latency_ms/mean")
    );
    println!(
        "responses         {} 2xx; non-2xx {}; transport errors {}; unreadable reports {}",
        n("/responses_2xx"),
        r["http_errors"],
        r["transport_errors"],
        n("/unreadable_reports")
    );
    if let Some(samples) = r["error_samples"].as_array() {
        for s in samples {
            println!("  error: {}", s.as_str().unwrap_or_default());
        }
    }
    println!(
        "server reported   {} stored, {} duplicates, {} statuses, {} dead letters",
        n("/server/messages"),
        n("/server/duplicates"),
        n("/server/statuses"),
        n("/server/dead_letters")
    );
    println!("lost {}  duplicated {}", n("/lost"), n("/duplicated"));
    for (what, ok) in checks {
        println!("  [{}] {what}", if *ok { "ok" } else { "FAIL" });
    }
    if let Some(v) = v {
        for p in &v.problems {
            println!("  database problem: {p}");
        }
        for w in &v.lost_sample {
            println!("  not stored: {w}");
        }
        println!(
            "exactly-once check: {}",
            if v.passed() { "PASS" } else { "FAIL" }
        );
    }
    println!(
        "result: {}",
        if r["pass"] == true { "PASS" } else { "FAIL" }
    );
}
