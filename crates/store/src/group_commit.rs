//! Group commit of inbox inserts. Ingest hands each verified delivery to one writer task, which
//! stores everything waiting in one transaction and then answers each delivery. While a commit is
//! on disk the next deliveries queue up, so batches grow with the load by themselves and no
//! delivery waits for a timer. The queue is bounded: when it is full, ingest answers 503 at once
//! instead of holding memory for requests the database cannot keep up with.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::{InsertOutcome, NewInboxEvent, Store, StoreError};

#[derive(Debug, Clone, Copy)]
pub struct GroupCommitOptions {
    /// Most deliveries written in one transaction.
    pub max_batch: usize,
    /// Deliveries that may wait for the writer; more are refused.
    pub queue_capacity: usize,
}

/// Why a delivery was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the ingest queue is full")]
    QueueFull,
    /// Refused: the writer had stopped taking deliveries; nothing was stored.
    #[error("the inbox writer has stopped")]
    Stopped,
    /// Taken into the queue but never answered (the writer ended without writing it): whether
    /// it was stored is unknown, so the sender must redeliver. Stopping never does this; a
    /// writer that crashed would.
    #[error("the inbox writer ended without answering")]
    Dropped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Pending {
    tenant_id: Uuid,
    event: NewInboxEvent,
    reply: oneshot::Sender<Result<InsertOutcome, StoreError>>,
    /// The submitter's span: it gets the batch size, and the first one of a batch parents the
    /// commit's span.
    span: tracing::Span,
}

/// Hands deliveries to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct InboxWriter {
    tx: mpsc::Sender<Pending>,
}

/// The writer task. [`InboxWriterTask::stop`] stores what is queued, then ends.
#[derive(Debug)]
pub struct InboxWriterTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl InboxWriter {
    /// Starts the writer task on `store`.
    pub fn start(store: Store, options: GroupCommitOptions) -> (Self, InboxWriterTask) {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(store, rx, stopped, options.max_batch.max(1)));
        (Self { tx }, InboxWriterTask { stop, task })
    }

    /// Stores `event` with the next batch and returns once it is durable (or known to be a
    /// duplicate). Dropping the future does not withdraw the delivery: it may still be stored,
    /// and a redelivery then finds it as a duplicate.
    pub async fn insert(
        &self,
        tenant_id: Uuid,
        event: NewInboxEvent,
    ) -> Result<InsertOutcome, SubmitError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            tenant_id,
            event,
            reply,
            span: tracing::Span::current(),
        };
        self.tx.try_send(pending).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => SubmitError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => SubmitError::Stopped,
        })?;
        Ok(answer.await.map_err(|_| SubmitError::Dropped)??)
    }
}

impl InboxWriterTask {
    /// Refuses new deliveries, stores those already queued, and waits for the task to end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Pending>,
    mut stopped: oneshot::Receiver<()>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        let first = tokio::select! {
            biased;
            next = rx.recv() => next,
            _ = &mut stopped => {
                // Nothing new gets in; what is queued is still written below.
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        write(&store, &mut batch).await;
    }
}

/// Writes `batch` in one transaction and answers each delivery; leaves `batch` empty.
async fn write(store: &Store, batch: &mut Vec<Pending>) {
    let size = batch.len();
    metrics::histogram!("hookgate_group_commit_batch_size").record(size as f64);
    let span = match batch.first() {
        Some(first) => tracing::info_span!(parent: &first.span, "group_commit", size),
        None => return,
    };
    let mut replies = Vec::with_capacity(size);
    let mut events = Vec::with_capacity(size);
    for pending in batch.drain(..) {
        pending.span.record("batch_size", size);
        replies.push(pending.reply);
        events.push((pending.tenant_id, pending.event));
    }
    match store.insert_inbox_events(events).instrument(span).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // The delivery's request may have timed out meanwhile; its row is stored anyway.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            // Each delivery is answered 503 and redelivered. Usually nothing was stored; when
            // only the duplicate lookup after the commit failed, the redelivery is a duplicate.
            tracing::error!(%err, size, "storing a batch of deliveries failed");
            let message = err.to_string();
            for reply in replies {
                let _ = reply.send(Err(StoreError::Batch(message.clone())));
            }
        }
    }
}
