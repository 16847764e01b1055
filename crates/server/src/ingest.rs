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

use std::sync::Arc;

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
        let (deliveries, replies): (Vec<NewDelivery>, Vec<Reply>) =
            jobs.drain(..).map(|j| (j.delivery, j.reply)).unzip();
        let deliveries = Arc::new(deliveries);
        match process_batch(&store, &pipeline, deliveries.clone()).await {
            Ok(reports) => {
                for (reply, report) in replies.into_iter().zip(reports) {
                    let _ = reply.send(Ok(report));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, size = deliveries.len(), "batch failed; retrying deliveries one by one");
                for (i, reply) in replies.into_iter().enumerate() {
                    let result = process_one(&store, &pipeline, deliveries.clone(), i).await;
                    let _ = reply.send(result);
                }
            }
        }
    }
    tracing::debug!("ingest writer stopped");
}

async fn process_batch<S: Store>(
    store: &S,
    pipeline: &Pipeline,
    deliveries: Arc<Vec<NewDelivery>>,
) -> Result<Vec<DeliveryReport>, StoreError> {
    let pipeline = pipeline.clone();
    store
        .write(move |tx| {
            Box::pin(async move {
                let mut state = BatchState::default();
                let mut reports = Vec::with_capacity(deliveries.len());
                for delivery in deliveries.iter() {
                    reports.push(pipeline.ingest(tx, &mut state, delivery).await?);
                }
                Ok(reports)
            })
        })
        .await
}

async fn process_one<S: Store>(
    store: &S,
    pipeline: &Pipeline,
    deliveries: Arc<Vec<NewDelivery>>,
    index: usize,
) -> Result<DeliveryReport, StoreError> {
    let attempt = {
        let (pipeline, deliveries) = (pipeline.clone(), deliveries.clone());
        store
            .write(move |tx| {
                Box::pin(async move {
                    let delivery = deliveries
                        .get(index)
                        .ok_or(StoreError::NotFound("delivery"))?;
                    pipeline
                        .ingest(tx, &mut BatchState::default(), delivery)
                        .await
                })
            })
            .await
    };
    match attempt {
        Ok(report) => Ok(report),
        Err(e) => {
            tracing::error!(error = %e, "delivery failed processing; keeping it as a dead letter");
            let error = format!("processing failed: {e}");
            store
                .write(move |tx| {
                    Box::pin(async move {
                        let delivery = deliveries
                            .get(index)
                            .ok_or(StoreError::NotFound("delivery"))?;
                        let id = tx.insert_delivery(delivery).await?;
                        tx.finish_delivery(
                            id,
                            &DeliveryOutcome {
                                status: DeliveryStatus::DeadLetter,
                                error: Some(error),
                                messages: 0,
                                duplicates: 0,
                            },
                        )
                        .await?;
                        Ok(DeliveryReport {
                            delivery_id: id.0,
                            dead_letter: true,
                            ..DeliveryReport::default()
                        })
                    })
                })
                .await
        }
    }
}
