//! Firing: `concurrency` workers take the next delivery from one shared
//! queue and POST it, each request timed from send until the whole response
//! body has arrived.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;

/// One scheduled POST.
#[derive(Debug, Clone)]
pub struct Job {
    /// The exact signed bytes.
    pub body: &'static [u8],
    /// `X-Hub-Signature-256`, ready to attach.
    pub signature: HeaderValue,
}

/// What the workers saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Latency of every request that got a response, any status.
    pub latencies: Vec<Duration>,
    /// 2xx responses.
    pub ok: u64,
    /// Non-2xx responses by status code.
    pub http_errors: BTreeMap<u16, u64>,
    /// Requests that got no response, by kind (connect, timeout, ...).
    pub transport_errors: BTreeMap<String, u64>,
    /// The first few error texts, to show what went wrong.
    pub error_samples: Vec<String>,
    /// 2xx responses whose body was not the expected JSON report.
    pub unreadable_reports: u64,
    /// Sum of the server's `messages` (newly stored).
    pub server_messages: u64,
    /// Sum of the server's `duplicates` (already stored).
    pub server_duplicates: u64,
    /// Sum of the server's `statuses` (new status records).
    pub server_statuses: u64,
    /// Sum of the server's `events` (other kept items).
    pub server_events: u64,
    /// Responses with `dead_letter: true`.
    pub dead_letters: u64,
}

impl Tally {
    /// Folds another worker's tally into this one.
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.ok += other.ok;
        for (k, v) in other.http_errors {
            *self.http_errors.entry(k).or_default() += v;
        }
        for (k, v) in other.transport_errors {
            *self.transport_errors.entry(k).or_default() += v;
        }
        for s in other.error_samples {
            if self.error_samples.len() < MAX_SAMPLES {
                self.error_samples.push(s);
            }
        }
        self.unreadable_reports += other.unreadable_reports;
        self.server_messages += other.server_messages;
        self.server_duplicates += other.server_duplicates;
        self.server_statuses += other.server_statuses;
        self.server_events += other.server_events;
        self.dead_letters += other.dead_letters;
    }

    /// Every request that failed in any way.
    pub fn failures(&self) -> u64 {
        self.http_errors.values().sum::<u64>()
            + self.transport_errors.values().sum::<u64>()
            + self.unreadable_reports
    }
}

/// Error texts kept per run.
const MAX_SAMPLES: usize = 5;

/// Result of [`run`].
#[derive(Debug)]
pub struct Outcome {
    /// Merged worker tallies.
    pub tally: Tally,
    /// Wall time from the first send to the last response.
    pub elapsed: Duration,
}

/// Opens up to `count` keep-alive connections before the clock starts, so
/// the measurement does not include TCP handshakes (Meta keeps its
/// connections open too).
pub async fn warm_up(client: &reqwest::Client, base: &str, count: usize) -> anyhow::Result<()> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..count {
        let client = client.clone();
        let url = format!("{base}/healthz");
        set.spawn(async move {
            let r = client.get(url).send().await?;
            r.bytes().await.map(|_| ())
        });
    }
    while let Some(joined) = set.join_next().await {
        joined
            .context("warm-up task failed")?
            .context("warm-up request failed")?;
    }
    Ok(())
}

/// Sends every job with `concurrency` workers and collects the tally.
pub async fn run(
    client: &reqwest::Client,
    url: &str,
    jobs: Arc<Vec<Job>>,
    concurrency: usize,
    progress: Arc<AtomicUsize>,
) -> anyhow::Result<Outcome> {
    // The queue is just an index into the pre-built schedule: taking the
    // next job is one atomic add, so the client adds no contention of its
    // own to what is measured.
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        let jobs = Arc::clone(&jobs);
        let next = Arc::clone(&next);
        let progress = Arc::clone(&progress);
        set.spawn(async move {
            let mut tally = Tally {
                latencies: Vec::with_capacity(jobs.len() / concurrency.max(1) + 1),
                ..Tally::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                send(&client, &url, job, &mut tally).await;
                progress.fetch_add(1, Ordering::Relaxed);
            }
            tally
        });
    }
    let mut tally = Tally::default();
    while let Some(joined) = set.join_next().await {
        tally.merge(joined.context("a worker task panicked")?);
    }
    Ok(Outcome {
        tally,
        elapsed: started.elapsed(),
    })
}

/// One POST: times it and files the result.
async fn send(client: &reqwest::Client, url: &str, job: &Job, tally: &mut Tally) {
    let start = Instant::now();
    let response = client
        .post(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("x-hub-signature-256", job.signature.clone())
        .body(job.body)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            transport_error(tally, &e);
            return;
        }
    };
    let status = response.status();
    // Time to the full body: the 200 only means something once the report
    // (which the server writes after its commit) has arrived.
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            transport_error(tally, &e);
            return;
        }
    };
    tally.latencies.push(start.elapsed());
    if !status.is_success() {
        *tally.http_errors.entry(status.as_u16()).or_default() += 1;
        if tally.error_samples.len() < MAX_SAMPLES {
            tally.error_samples.push(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
        return;
    }
    tally.ok += 1;
    let Ok(report) = serde_json::from_slice::<Value>(&body) else {
        tally.unreadable_reports += 1;
        return;
    };
    let field = |name: &str| report.get(name).and_then(Value::as_u64);
    match (field("messages"), field("duplicates")) {
        (Some(m), Some(d)) => {
            tally.server_messages += m;
            tally.server_duplicates += d;
        }
        _ => tally.unreadable_reports += 1,
    }
    tally.server_statuses += field("statuses").unwrap_or(0);
    tally.server_events += field("events").unwrap_or(0);
    if report.get("dead_letter").and_then(Value::as_bool) == Some(true) {
        tally.dead_letters += 1;
    }
}

/// Files a request that got no (complete) response.
fn transport_error(tally: &mut Tally, e: &reqwest::Error) {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "response body"
    } else {
        "request"
    };
    *tally.transport_errors.entry(kind.to_owned()).or_default() += 1;
    if tally.error_samples.len() < MAX_SAMPLES {
        tally.error_samples.push(format!("{kind}: {e:#}"));
    }
}

/// Latency summary in milliseconds, from the sorted vector of all latencies
/// (nearest-rank percentiles: no histogram bucketing error).
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Sorts `latencies` in place and summarises them.
    pub fn of(latencies: &mut [Duration]) -> Self {
        if latencies.is_empty() {
            return Self::default();
        }
        latencies.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rank = |p: f64| {
            let n = latencies.len();
            let idx = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            ms(latencies[idx])
        };
        let total: Duration = latencies.iter().sum();
        Self {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: rank(1.0),
            mean: ms(total) / latencies.len() as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!(p.p50, 50.0);
        assert_eq!(p.p90, 90.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(p.max, 100.0);
        assert!((p.mean - 50.5).abs() < 1e-9);
    }
}
