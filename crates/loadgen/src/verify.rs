//! The exactly-once check: after the run, the database must hold every
//! distinct message once, whatever was redelivered.

use anyhow::Context;
use serde_json::{Value, json};
use switchboard_store::{Store, Totals};
use switchboard_store_sqlite::SqliteStore;

/// Parallel readers for the per-wamid check (the store's pool holds 8).
const READERS: usize = 8;

/// What the run promised the database should now hold.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Distinct customer messages sent.
    pub messages: u64,
    /// Deliveries answered 2xx (each is stored raw, redeliveries included).
    pub deliveries: u64,
    /// Distinct `(wamid, status)` pairs sent.
    pub statuses: u64,
}

/// The verdict.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Row counts before the run.
    pub before: Totals,
    /// Row counts after the run.
    pub after: Totals,
    /// Wamids looked up one by one.
    pub checked: u64,
    /// Of those, stored zero times.
    pub lost: u64,
    /// Of those, stored more than once.
    pub duplicated: u64,
    /// A few lost wamids, for debugging.
    pub lost_sample: Vec<String>,
    /// Every problem found; empty means PASS.
    pub problems: Vec<String>,
}

impl Verification {
    /// True when nothing is wrong.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// Messages missing by row count (negative counts are excess).
    pub fn missing_by_totals(&self, expected: &Expected) -> i64 {
        expected.messages as i64 - (self.after.messages as i64 - self.before.messages as i64)
    }

    /// The verdict as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "pass": self.passed(),
            "before": self.before,
            "after": self.after,
            "wamids_checked": self.checked,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "lost_sample": self.lost_sample,
            "problems": self.problems,
        })
    }
}

/// Opens the database (the server's own store code, so the same URL rules
/// and pragmas apply).
pub async fn open(url: &str) -> anyhow::Result<SqliteStore> {
    SqliteStore::connect(url)
        .await
        .with_context(|| format!("opening {url} for the exactly-once check"))
}

/// Row counts now.
pub async fn totals(store: &SqliteStore) -> anyhow::Result<Totals> {
    store.totals().await.context("reading row counts")
}

/// Compares the database with what was sent: row-count deltas, then every
/// wamid in `wamids` looked up individually.
pub async fn check(
    store: &SqliteStore,
    before: Totals,
    expected: &Expected,
    wamids: Vec<String>,
) -> anyhow::Result<Verification> {
    let after = totals(store).await?;
    let delta = |a: u64, b: u64| a as i64 - b as i64;
    let mut problems = Vec::new();
    let stored = delta(after.messages, before.messages);
    if stored != expected.messages as i64 {
        problems.push(format!(
            "messages table grew by {stored}, expected {}",
            expected.messages
        ));
    }
    let deliveries = delta(after.deliveries, before.deliveries);
    if deliveries != expected.deliveries as i64 {
        problems.push(format!(
            "deliveries table grew by {deliveries}, expected {} (one raw row per acknowledged delivery)",
            expected.deliveries
        ));
    }
    let dead = delta(after.dead_letters, before.dead_letters);
    if dead != 0 {
        problems.push(format!("{dead} new dead letters, expected none"));
    }
    let statuses = delta(after.statuses, before.statuses);
    if statuses != expected.statuses as i64 {
        problems.push(format!(
            "status records grew by {statuses}, expected {}",
            expected.statuses
        ));
    }

    // Split the wamids over a few readers; each lookup is an indexed point
    // query, so all 50,000 take a couple of seconds.
    let checked = wamids.len() as u64;
    let chunk = wamids.len().div_ceil(READERS).max(1);
    let mut set = tokio::task::JoinSet::new();
    let mut rest = wamids;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        let mine = std::mem::replace(&mut rest, tail);
        let store = store.clone();
        set.spawn(async move {
            let mut lost = Vec::new();
            let mut duplicated = Vec::new();
            for wamid in mine {
                match store.count_messages_with_wamid(&wamid).await? {
                    0 => lost.push(wamid),
                    1 => {}
                    _ => duplicated.push(wamid),
                }
            }
            Ok::<_, switchboard_store::StoreError>((lost, duplicated))
        });
    }
    let mut lost = Vec::new();
    let mut duplicated = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (l, d) = joined
            .context("a verification task panicked")?
            .context("looking up wamids")?;
        lost.extend(l);
        duplicated.extend(d);
    }
    if !lost.is_empty() {
        problems.push(format!(
            "{} of {checked} checked messages are not stored",
            lost.len()
        ));
    }
    if !duplicated.is_empty() {
        problems.push(format!(
            "{} of {checked} checked messages are stored more than once (e.g. {})",
            duplicated.len(),
            duplicated.first().map_or("", String::as_str)
        ));
    }
    lost.sort();
    Ok(Verification {
        before,
        after,
        checked,
        lost: lost.len() as u64,
        duplicated: duplicated.len() as u64,
        lost_sample: lost.into_iter().take(5).collect(),
        problems,
    })
}
