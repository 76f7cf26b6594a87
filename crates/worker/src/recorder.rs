//! Records forwarding attempts in batches: each attempt hands its outcome over and waits, and one
//! task writes whatever has gathered in one transaction. On SQLite every commit is an fsync, so
//! one commit per attempt would cap forwarding at the disk's commit rate.

use hookgate_store::{Attempt, Delivery, DeliveryOutcome, DestinationEvent, HealthPolicy, Store};
use tokio::sync::{mpsc, oneshot};

use crate::Backoff;

/// Most attempts written in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<DeliveryOutcome, String>>;

#[derive(Clone)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<(Delivery, Attempt, Reply)>,
}

impl Recorder {
    /// Starts the writing task; it ends when every `Recorder` clone is dropped, after writing
    /// what it was given.
    pub(crate) fn start(
        store: Store,
        owner: String,
        backoff: Backoff,
        health: HealthPolicy,
        on_health: impl Fn(DestinationEvent) + Send + 'static,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<(Delivery, Attempt, Reply)>(MAX_BATCH);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (attempts, replies): (Vec<_>, Vec<_>) = batch
                    .drain(..)
                    .map(|(delivery, attempt, reply)| ((delivery, attempt), reply))
                    .unzip();
                match store
                    .finish_deliveries(&owner, attempts, &backoff, &health)
                    .await
                {
                    Ok(recorded) => {
                        for (reply, outcome) in replies.into_iter().zip(recorded.outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                        recorded.events.into_iter().for_each(&on_health);
                    }
                    Err(err) => {
                        let err = err.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(err.clone()));
                        }
                    }
                }
            }
        });
        (Self { tx }, task)
    }

    /// Records one attempt, with whatever others are waiting; an error leaves the delivery to
    /// its lease.
    pub(crate) async fn record(
        &self,
        delivery: Delivery,
        attempt: Attempt,
    ) -> Result<DeliveryOutcome, String> {
        let (reply, outcome) = oneshot::channel();
        self.tx
            .send((delivery, attempt, reply))
            .await
            .map_err(|_| "the recorder has stopped".to_owned())?;
        outcome
            .await
            .map_err(|_| "the recorder has stopped".to_owned())?
    }
}
