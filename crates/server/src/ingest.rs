//! Group commit for webhook intake.
//!
//! Handlers do not write to the database themselves: they hand the verified
//! body to one writer task and wait for its answer. The writer takes
//! everything queued (up to `max_batch` deliveries), processes it in one
//! `BEGIN IMMEDIATE` transaction and commits once, then answers every
//! waiting handler. One fsync-bound commit serves a whole batch, and SQLite's
//! single-writer lock is never contended by webhook traffic.
//!
//! A batch that fails is retried one delivery per transaction, so one bad
//! delivery cannot sink its neighbours; a delivery that still fails is stored
//! raw as a dead letter in a transaction of its own. Only when even that
//! fails does the handler answer 500, and Meta redelivers. Nothing
//! acknowledged is ever lost: the 200 is sent after the commit.

use jiff::Timestamp;
use switchboard_store::{DeliveryOutcome, DeliveryStatus, NewDelivery, Store, StoreError, StoreTx};
use tokio::sync::{mpsc, oneshot};

use crate::pipeline::{BatchState, DeliveryReport, Pipeline};

type Reply = oneshot::Sender<Result<DeliveryReport, StoreError>>;

struct Job {
    delivery: NewDelivery,
    reply: Reply,
}

/// The handlers' side of the writer: cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("bytes", &self.delivery.body.len())
            .finish()
    }
}

impl Ingestor {
    /// Starts the writer task. It runs until every `Ingestor` clone is
    /// dropped and the queue is drained, which is how graceful shutdown
    /// finishes accepted work.
    pub fn spawn<S: Store>(
        store: S,
        pipeline: Pipeline,
        max_batch: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(max_batch.saturating_mul(4).max(16));
        let handle = tokio::spawn(writer(store, pipeline, rx, max_batch.max(1)));
        (Self { tx }, handle)
    }

    /// Stores and processes one verified delivery; resolves after commit.
    ///
    /// # Errors
    /// [`StoreError`] when the delivery could not be stored at all (the
    /// caller answers 500 so Meta retries), or `Backend("shutting down")`.
    pub async fn submit(
        &self,
        body: Vec<u8>,
        signature: Option<String>,
        received_at: Timestamp,
    ) -> Result<DeliveryReport, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            delivery: NewDelivery {
                received_at,
                body,
                signature,
            },
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::Backend("shutting down".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("writer stopped".into()))?
    }
}

async fn writer<S: Store>(
    store: S,
    pipeline: Pipeline,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        metrics::histogram!("switchboard_ingest_batch_size").record(jobs.len() as f64);
        match process_batch(&store, &pipeline, &jobs).await {
            Ok(reports) => {
                for (job, report) in jobs.drain(..).zip(reports) {
                    let _ = job.reply.send(Ok(report));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, size = jobs.len(), "batch failed; retrying deliveries one by one");
                for job in jobs.drain(..) {
                    let result = process_one(&store, &pipeline, &job.delivery).await;
                    let _ = job.reply.send(result);
                }
            }
        }
    }
    tracing::debug!("ingest writer stopped");
}

async fn process_batch<S: Store>(
    store: &S,
    pipeline: &Pipeline,
    jobs: &[Job],
) -> Result<Vec<DeliveryReport>, StoreError> {
    let mut tx = store.begin().await?;
    let mut state = BatchState::default();
    let mut reports = Vec::with_capacity(jobs.len());
    for job in jobs {
        reports.push(pipeline.ingest(&mut tx, &mut state, &job.delivery).await?);
    }
    tx.commit().await?;
    Ok(reports)
}

async fn process_one<S: Store>(
    store: &S,
    pipeline: &Pipeline,
    delivery: &NewDelivery,
) -> Result<DeliveryReport, StoreError> {
    let attempt = async {
        let mut tx = store.begin().await?;
        let report = pipeline
            .ingest(&mut tx, &mut BatchState::default(), delivery)
            .await?;
        tx.commit().await?;
        Ok::<_, StoreError>(report)
    };
    match attempt.await {
        Ok(report) => Ok(report),
        Err(e) => {
            tracing::error!(error = %e, "delivery failed processing; keeping it as a dead letter");
            let mut tx = store.begin().await?;
            let id = tx.insert_delivery(delivery).await?;
            tx.finish_delivery(
                id,
                &DeliveryOutcome {
                    status: DeliveryStatus::DeadLetter,
                    error: Some(format!("processing failed: {e}")),
                    messages: 0,
                    duplicates: 0,
                },
            )
            .await?;
            tx.commit().await?;
            Ok(DeliveryReport {
                delivery_id: id.0,
                dead_letter: true,
                ..DeliveryReport::default()
            })
        }
    }
}
