//! The outbox worker: delivers queued WhatsApp sends through the Cloud API.
//!
//! Rows are written in the same transaction as the change that causes them
//! (a reply, an automatic first response), claimed here with a lease, sent
//! outside any transaction, and their result recorded in a transaction that
//! is fenced on the lease holder. Retryable failures (Meta's rate limits and
//! transient codes, 5xx, timeouts) come back after a capped, jittered
//! exponential backoff; `131047` fails the message with `window_closed`;
//! terminal codes fail it with the code; `190`, `368`, `131031` also raise an
//! operator alert (log at error level and `switchboard_operator_alerts_total`).
//! After `max_attempts` a row becomes a dead letter with its last error.
//!
//! A crash between claim and send leaves the row leased; it is sent once
//! after the lease expires. A crash after Meta accepted but before the result
//! was recorded would resend after the lease: Meta has no idempotency key, so
//! that window (milliseconds) is the one place a duplicate is possible; the
//! outbound message's idempotency key travels in `biz_opaque_callback_data`
//! so status webhooks can show it.
//!
//! Pacing: at most `per_number_per_second` sends per business number, and
//! `per_recipient_gap` between two sends to the same customer (Meta's pair
//! rate limit, error 131056); paced rows are deferred, not counted as
//! attempts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use switchboard_core::clock::Clock;
use switchboard_store::{OutboxItem, OutboxResult, Store, StoreError, StoreTx};
use switchboard_whatsapp::client::CloudApiClient;
use switchboard_whatsapp::errors::ErrorClass;
use tokio::sync::Notify;

use crate::pipeline::Pipeline;

/// Lease on a claimed row.
const LEASE: SignedDuration = SignedDuration::from_secs(60);

#[derive(Debug, Default)]
struct Pacing {
    numbers: HashMap<String, (i64, u32)>,
    recipients: HashMap<String, Timestamp>,
}

/// Delivers the outbox; cheap to clone.
#[derive(Debug, Clone)]
pub struct OutboxWorker<S: Store> {
    store: S,
    pipeline: Pipeline,
    client: Arc<CloudApiClient>,
    clock: Arc<dyn Clock>,
    id: Arc<str>,
    wake: Arc<Notify>,
    pacing: Arc<Mutex<Pacing>>,
}

/// Backoff before attempt `attempts + 1`: 2 s doubling, capped at 5 min,
/// with ±50 % jitter so retries from a burst spread out.
pub fn backoff(attempts: u32) -> SignedDuration {
    let base = 2_000u64
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(16))
        .min(300_000);
    let jitter: f64 = 0.5 + rand::random::<f64>();
    SignedDuration::from_millis(i64::try_from((base as f64 * jitter) as u64).unwrap_or(300_000))
}

impl<S: Store> OutboxWorker<S> {
    /// A worker named `id` sending through `client`.
    pub fn new(
        store: S,
        pipeline: Pipeline,
        client: CloudApiClient,
        clock: Arc<dyn Clock>,
        id: &str,
    ) -> Self {
        Self {
            store,
            pipeline,
            client: Arc::new(client),
            clock,
            id: Arc::from(id),
            wake: Arc::new(Notify::new()),
            pacing: Arc::new(Mutex::new(Pacing::default())),
        }
    }

    /// Wakes the worker after a commit that queued a send.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Delivers everything due now; returns how many rows were attempted.
    ///
    /// # Errors
    /// Store errors (claimed rows come back after their lease).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut attempted = 0;
        loop {
            let now = self.clock.now();
            let items = self.store.claim_outbox(now, LEASE, &self.id, 64).await?;
            if items.is_empty() {
                return Ok(attempted);
            }
            for item in items {
                if let Some(at) = self.defer(&item, self.clock.now()) {
                    self.record(item, OutboxResult::Defer { at }, None).await?;
                    continue;
                }
                attempted += 1;
                self.deliver(item).await?;
            }
        }
    }

    fn defer(&self, item: &OutboxItem, now: Timestamp) -> Option<Timestamp> {
        let cfg = &self.pipeline.workflow;
        let mut p = self.pacing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(last) = p.recipients.get(&item.recipient) {
            let next = *last + cfg.per_recipient_gap.as_signed();
            if next > now {
                return Some(next);
            }
        }
        let second = now.as_second();
        let slot = p
            .numbers
            .entry(item.phone_number_id.clone())
            .or_insert((second, 0));
        if slot.0 != second {
            *slot = (second, 0);
        }
        if slot.1 >= cfg.per_number_per_second.max(1) {
            return Timestamp::from_second(second + 1).ok();
        }
        slot.1 += 1;
        p.recipients.insert(item.recipient.clone(), now);
        None
    }

    async fn deliver(&self, item: OutboxItem) -> Result<(), StoreError> {
        let sent = match item.kind {
            switchboard_store::OutboxKind::WhatsappMessage => {
                self.client
                    .send(
                        &item.phone_number_id,
                        &item.payload["request"],
                        &item.idempotency_key,
                    )
                    .await
            }
            switchboard_store::OutboxKind::WhatsappRead => {
                let wamid = item.payload["message_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                match switchboard_whatsapp::send::MarkRead::new(wamid) {
                    Ok(read) => self
                        .client
                        .mark_read(&item.phone_number_id, &read)
                        .await
                        .map(|()| switchboard_whatsapp::client::SendAccepted {
                            wamid: String::new(),
                            wa_id: None,
                            message_status: None,
                        }),
                    Err(e) => Err(switchboard_whatsapp::errors::SendError::invalid_request(
                        e.to_string(),
                    )),
                }
            }
        };
        let now = self.clock.now();
        let max = self.pipeline.workflow.max_attempts;
        let (result, status) = match sent {
            Ok(accepted) => (
                OutboxResult::Sent {
                    wamid: Some(accepted.wamid),
                },
                "accepted",
            ),
            Err(e) => {
                let code = e.code();
                let error = e.to_string();
                match e.class {
                    ErrorClass::Retry if item.attempts >= max => (
                        OutboxResult::Failed {
                            dead: true,
                            error,
                            code,
                        },
                        "failed",
                    ),
                    ErrorClass::Retry => (
                        OutboxResult::Retry {
                            at: now + backoff(item.attempts),
                            error,
                            code,
                        },
                        "pending",
                    ),
                    ErrorClass::WindowClosed => (
                        OutboxResult::Failed {
                            dead: false,
                            error: format!("window_closed: {error}"),
                            code,
                        },
                        "failed",
                    ),
                    ErrorClass::Terminal { .. } => (
                        OutboxResult::Failed {
                            dead: false,
                            error,
                            code,
                        },
                        "failed",
                    ),
                    ErrorClass::TerminalAlert { code: alert } => {
                        tracing::error!(code = ?alert, error = %error, "operator alert: WhatsApp refused a send (token, policy block or locked account)");
                        metrics::counter!("switchboard_operator_alerts_total", "code" => alert.map_or_else(|| "none".to_owned(), |c| c.to_string())).increment(1);
                        (
                            OutboxResult::Failed {
                                dead: false,
                                error,
                                code,
                            },
                            "failed",
                        )
                    }
                }
            }
        };
        let outcome = match &result {
            OutboxResult::Sent { .. } => "sent",
            OutboxResult::Retry { .. } => "retry",
            OutboxResult::Failed { dead: true, .. } => "dead",
            _ => "failed",
        };
        metrics::counter!("switchboard_outbox_attempts_total", "outcome" => outcome).increment(1);
        self.record(item, result, Some(status)).await
    }

    async fn record(
        &self,
        item: OutboxItem,
        result: OutboxResult,
        message_status: Option<&'static str>,
    ) -> Result<(), StoreError> {
        let (pipeline, worker, now) = (self.pipeline.clone(), self.id.clone(), self.clock.now());
        self.store
            .write(move |tx| {
                Box::pin(async move {
                    if !tx.finish_outbox(item.id, &worker, &result, now).await? {
                        return Ok(());
                    }
                    let (Some(message), Some(status)) = (item.message_id, message_status) else {
                        return Ok(());
                    };
                    let wamid = match &result {
                        OutboxResult::Sent { wamid } => wamid.clone(),
                        _ => None,
                    };
                    if status != "pending" {
                        tx.update_outbound(message, wamid.as_deref(), status, now)
                            .await?;
                    }
                    // "Responded" only when Meta accepts a human reply;
                    // automation never meets the human first-response clock.
                    let reply_by = item.payload["reply_by"]
                        .as_i64()
                        .map(switchboard_core::ids::AgentId);
                    if let (OutboxResult::Sent { .. }, Some(agent), Some(cid)) =
                        (&result, reply_by, item.conversation_id)
                        && let Some(mut conv) = tx.conversation(cid).await?
                    {
                        if conv.waiting_since.is_some() {
                            pipeline
                                .record_reply(tx, &mut conv, Some(agent), now)
                                .await?;
                        } else {
                            conv.last_responded_at = Some(now);
                        }
                        conv.last_message_at = conv.last_message_at.max(now);
                        tx.save_conversation(&conv).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Runs until `shutdown` resolves; claims only when a row is due (see
    /// the timer worker for why).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let next = self.store.next_outbox_due().await;
            if matches!(next, Ok(Some(due)) if due <= self.clock.now())
                && let Err(e) = self.run_once().await
            {
                tracing::error!(error = %e, "outbox pass failed; retrying");
            }
            let sleep = match self.store.next_outbox_due().await {
                Ok(Some(due)) => {
                    let ms = due.duration_since(self.clock.now()).as_millis().max(0);
                    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
                        .min(Duration::from_millis(500))
                }
                _ => Duration::from_millis(500),
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(sleep) => {},
                () = self.wake.notified() => {},
            }
        }
    }
}
