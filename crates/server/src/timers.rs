//! The timer worker: fires due SLA, escalation, continuity and callback
//! timers.
//!
//! It claims due timers with a lease (so a crashed worker's timers come back
//! after the lease), then fires each in its own write transaction that first
//! completes the timer (fencing on the lease holder) and then performs the
//! action, so an action happens exactly once in effect, even across
//! `kill -9`. It sleeps until the next due time, at most [`MAX_SLEEP`], so a
//! timer scheduled meanwhile by ingest is seen within half a second (a wake-up
//! per ingest batch would cost a write transaction on SQLite's one writer).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use switchboard_core::clock::Clock;
use switchboard_core::ids::ConversationId;
use switchboard_store::{Store, StoreError, StoreTx, Timer};

use crate::pipeline::Pipeline;

/// Longest sleep between polls; bounds detection latency when a timer is
/// scheduled after the worker went to sleep (by ingest or another process).
pub const MAX_SLEEP: Duration = Duration::from_millis(500);

/// How long a claim is held before another worker may take it over.
pub const LEASE: SignedDuration = SignedDuration::from_secs(30);

/// Fires timers; cheap to clone.
#[derive(Debug, Clone)]
pub struct TimerWorker<S: Store> {
    store: S,
    pipeline: Pipeline,
    clock: Arc<dyn Clock>,
    id: Arc<str>,
}

impl<S: Store> TimerWorker<S> {
    /// A worker named `id` (lease holder name; unique per process run).
    pub fn new(store: S, pipeline: Pipeline, clock: Arc<dyn Clock>, id: &str) -> Self {
        Self {
            store,
            pipeline,
            clock,
            id: Arc::from(id),
        }
    }

    /// Fires every timer due at the clock's `now`; returns how many fired.
    /// Tests drive simulated time with this.
    ///
    /// # Errors
    /// Store errors (the claimed timers come back after the lease).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut fired = 0;
        loop {
            let now = self.clock.now();
            let timers = self
                .store
                .claim_due_timers(now, LEASE, &self.id, 256)
                .await?;
            if timers.is_empty() {
                return Ok(fired);
            }
            // One transaction for the whole claim: one hand-off to the
            // writer and one commit instead of one per timer. If any action
            // fails, fall back to one transaction per timer so a single bad
            // timer cannot hold the others back.
            fired += match self.fire_all(timers.clone()).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "firing a batch of timers failed; firing one by one");
                    let mut n = 0;
                    for timer in timers {
                        match self.fire_all(vec![timer]).await {
                            Ok(k) => n += k,
                            Err(e) => {
                                tracing::error!(error = %e, "a timer failed to fire; it returns after its lease")
                            }
                        }
                    }
                    n
                }
            };
        }
    }

    async fn fire_all(&self, timers: Vec<Timer>) -> Result<usize, StoreError> {
        let (pipeline, worker) = (self.pipeline.clone(), self.id.clone());
        let now = self.clock.now();
        let fired = self
            .store
            .write(move |tx| {
                Box::pin(async move { fire_claimed(&pipeline, tx, timers, &worker, now).await })
            })
            .await?;
        for timer in &fired {
            let (kind, due) = (timer.kind, timer.due_at);
            metrics::counter!("switchboard_timers_fired_total", "kind" => kind.as_str())
                .increment(1);
            metrics::histogram!("switchboard_timer_lateness_seconds")
                .record(now.duration_since(due).as_secs_f64().max(0.0));
        }
        Ok(fired.len())
    }

    /// Runs until `shutdown` resolves. Each pass first reads the next due
    /// time (a cheap read off the writer) and claims only when something is
    /// due: a claim is a write transaction, and SQLite has one writer that
    /// webhook intake needs.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let next = self.store.next_timer_due().await;
            let now = self.clock.now();
            if matches!(next, Ok(Some(due)) if due <= now)
                && let Err(e) = self.run_once().await
            {
                tracing::error!(error = %e, "timer worker pass failed; retrying");
            }
            let sleep = match self.store.next_timer_due().await {
                Ok(Some(due)) => {
                    let ms = due.duration_since(self.clock.now()).as_millis().max(0);
                    Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(MAX_SLEEP)
                }
                _ => MAX_SLEEP,
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(sleep) => {},
            }
        }
    }
}

/// Fires claimed timers inside `tx`: each completes (fencing: only while
/// `worker` holds its lease, once) and its action runs in the same
/// transaction. Returns those that fired.
///
/// # Errors
/// Store errors.
pub async fn fire_claimed<T: StoreTx>(
    pipeline: &Pipeline,
    tx: &mut T,
    timers: Vec<Timer>,
    worker: &str,
    now: Timestamp,
) -> Result<Vec<Timer>, StoreError> {
    let mut fired = Vec::with_capacity(timers.len());
    for timer in timers {
        if tx.complete_timer(timer.id, worker, now).await? {
            pipeline.fire_timer(tx, &timer, now).await?;
            fired.push(timer);
        }
    }
    Ok(fired)
}

/// Fires every timer due at `now` inside `tx` (the same claim and actions
/// as [`TimerWorker::run_once`], for simulations that run in one
/// transaction). Returns the conversations whose timers fired.
///
/// # Errors
/// Store errors.
pub async fn fire_due_in<T: StoreTx>(
    pipeline: &Pipeline,
    tx: &mut T,
    worker: &str,
    now: Timestamp,
) -> Result<Vec<ConversationId>, StoreError> {
    let mut touched = Vec::new();
    loop {
        let until = now.checked_add(LEASE).unwrap_or(now);
        let timers = tx.lease_due_timers(now, until, worker, 256).await?;
        if timers.is_empty() {
            return Ok(touched);
        }
        let fired = fire_claimed(pipeline, tx, timers, worker, now).await?;
        touched.extend(fired.iter().map(|t| t.conversation_id));
    }
}
