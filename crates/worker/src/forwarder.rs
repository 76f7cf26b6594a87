//! Forwarding: claims due deliveries, sends each event exactly as Clerk sent it through the
//! destination's [output](crate::outputs), and records the attempt: delivered when the
//! destination has it, otherwise retried with backoff until dead.

use std::sync::Arc;
use std::time::Duration;

use hookgate_events::DestinationKind;
use hookgate_store::{
    Attempt, DeliveryJob, DeliveryOutcome, DestinationEvent, HealthChange, HealthPolicy,
    SealedKind, SealedRow, Store,
};
use hookgate_verify::Secret;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::Backoff;
use crate::outputs::{Failure, Message, Outputs, StoredDestination};
use crate::recorder::Recorder;

#[derive(Debug, Clone, Copy)]
pub struct ForwarderSettings {
    /// Deliveries attempted at once by one forwarder.
    pub concurrency: usize,
    /// How long one attempt may take, connection included.
    pub timeout: Duration,
    /// How long a claim holds; longer than `timeout`, so a live attempt keeps its delivery.
    pub lease: Duration,
    pub poll_interval: Duration,
    pub backoff: Backoff,
    /// When a failing destination's circuit opens, and when it is disabled.
    pub health: HealthPolicy,
}

/// Opens a destination's stored secret and sealed URL (the binary decrypts with the secrets
/// key).
#[derive(Clone)]
pub struct SecretOpener {
    pub secret: Arc<OpenSecret>,
    pub url: Arc<OpenUrl>,
}

/// Decrypts the stored secret of a destination (the row it is bound to, and its ciphertext).
pub type OpenSecret = dyn Fn(SealedRow, &[u8]) -> Result<Secret, String> + Send + Sync;

/// Decrypts the sealed URL of a destination whose URL holds credentials.
pub type OpenUrl = dyn Fn(SealedRow, &[u8]) -> Result<String, String> + Send + Sync;

impl std::fmt::Debug for SecretOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretOpener")
    }
}

/// Installs ring as the process's TLS crypto provider: every HTTPS client in the process
/// (forwarding, span export) needs one before it is built, and ring is the one the database
/// driver already uses. Call it at start-up; calling it again changes nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One forwarding loop. Several may run, in one process or many, on one queue.
#[derive(Clone)]
pub struct Forwarder {
    store: Store,
    settings: ForwarderSettings,
    owner: String,
    outputs: Outputs,
    open: SecretOpener,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("owner", &self.owner)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// `wake` is notified when workers queue deliveries, so forwarding starts at once. The
    /// forwarders of a process share one `outputs` (one connection per destination).
    pub fn new(
        store: Store,
        settings: ForwarderSettings,
        outputs: Outputs,
        open: SecretOpener,
        wake: Arc<Notify>,
    ) -> Self {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Self {
            store,
            settings,
            owner,
            outputs,
            open,
            wake,
        }
    }

    /// Forwards until `stop` turns true, keeping up to `concurrency` attempts in flight. Attempts
    /// in flight at the stop finish (each bounded by `timeout`); leases still held are released.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let (recorder, recording) = Recorder::start(
            self.store.clone(),
            self.owner.clone(),
            self.settings.backoff,
            self.settings.health,
            report_health,
        );
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut failures = 0u32;
        // Claims wait until half the slots are free: each claim is a write, and claiming one
        // delivery per finished attempt would be one commit each.
        let refill_at = (self.settings.concurrency / 2).max(1);
        while !*stop.borrow() {
            let free = self.settings.concurrency.saturating_sub(in_flight.len());
            let mut claimed_full = false;
            if free >= refill_at {
                match self
                    .store
                    .claim_due_deliveries(&self.owner, free as u64, self.settings.lease)
                    .await
                {
                    Ok(jobs) => {
                        failures = 0;
                        claimed_full = jobs.len() == free;
                        for job in jobs {
                            let this = self.clone();
                            let recorder = recorder.clone();
                            in_flight.spawn(async move {
                                this.attempt_and_record(job, &recorder).await
                            });
                        }
                    }
                    Err(err) => {
                        failures = failures.saturating_add(1);
                        tracing::warn!(%err, "forwarder could not reach the database");
                    }
                }
            }
            if claimed_full && in_flight.len() < self.settings.concurrency {
                continue;
            }
            let pause = self.settings.poll_interval * failures.clamp(1, 10);
            tokio::select! {
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
        drop(recorder);
        let _ = recording.await;
        if let Err(err) = self.store.release_delivery_leases(&self.owner).await {
            tracing::warn!(%err, "could not release delivery leases; they expire on their own");
        }
    }

    /// One attempt, recorded. When the outcome cannot be recorded, the lease expires and the
    /// delivery is attempted again.
    async fn attempt_and_record(&self, job: DeliveryJob, recorder: &Recorder) {
        let span = tracing::info_span!(
            "forward",
            tenant_id = %job.delivery.tenant_id,
            destination_id = %job.delivery.destination_id,
            delivery_id = %job.delivery.id,
            svix_id = %job.svix_id,
            event_type = job.event_type.as_deref().unwrap_or_default(),
            attempt = job.delivery.attempts + 1,
            status_code = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        if let Some(parent) = &job.trace_parent {
            crate::trace_context::adopt_stored_parent(&span, parent);
        }
        let kind = DestinationKind::of_scheme(&job.url).map_or("unknown", DestinationKind::as_str);
        async {
            if let Some(at) = job.send_at {
                // The destination's rate limit gave this delivery its turn; the claim kept it
                // within half the lease, so the attempt still ends inside the lease.
                if let Ok(wait) = (at - chrono::Utc::now()).to_std() {
                    tokio::time::sleep(wait).await;
                }
            }
            let started = std::time::Instant::now();
            let attempt = self.attempt(&job).await;
            metrics::histogram!("hookgate_forward_duration_seconds", "kind" => kind)
                .record(started.elapsed().as_secs_f64());
            let span = tracing::Span::current();
            match &attempt {
                Attempt::Delivered { status } => {
                    span.record("status_code", status);
                }
                Attempt::Failed { status, error, .. } => {
                    if let Some(status) = status {
                        span.record("status_code", status);
                    }
                    tracing::info!(%error, "forwarding attempt failed");
                }
            }
            match recorder.record(job.delivery.clone(), attempt).await {
                Ok(outcome) => {
                    span.record("outcome", outcome.label());
                    metrics::counter!(
                        "hookgate_forward_deliveries_total",
                        "outcome" => outcome.label(),
                        "kind" => kind
                    )
                    .increment(1);
                    if outcome == DeliveryOutcome::Dead {
                        tracing::error!(
                            delivery_id = %job.delivery.id,
                            "delivery is dead; see its last_error, replay when the destination is fixed"
                        );
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "could not record a forwarding attempt; it is retried when its lease expires");
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn attempt(&self, job: &DeliveryJob) -> Attempt {
        let tenant_id = job.delivery.tenant_id;
        let row_id = job.delivery.destination_id;
        let destination = StoredDestination {
            id: row_id,
            url: &job.url,
            url_ciphertext: job.url_ciphertext.as_deref(),
            secret_ciphertext: &job.ciphertext,
        };
        let open = || {
            let secret = (self.open.secret)(
                SealedRow {
                    kind: SealedKind::DestinationSecret,
                    tenant_id,
                    row_id,
                },
                &job.ciphertext,
            )
            .map_err(|err| format!("the destination's secret cannot be opened: {err}"))?;
            let url = match &job.url_ciphertext {
                None => job.url.clone(),
                Some(sealed) => (self.open.url)(
                    SealedRow {
                        kind: SealedKind::DestinationUrl,
                        tenant_id,
                        row_id,
                    },
                    sealed,
                )
                .map_err(|err| format!("the destination's url cannot be opened: {err}"))?,
            };
            Ok((url, secret))
        };
        let message = Message {
            svix_id: &job.svix_id,
            event_type: job.event_type.as_deref().unwrap_or("unknown"),
            tenant: &job.tenant_slug,
            received_at: job.received_at.timestamp(),
            body: &job.body,
        };
        // One bound for connecting and sending together, so an attempt ends well inside its lease.
        let sent = tokio::time::timeout(
            self.settings.timeout,
            self.outputs.send(destination, open, &message),
        );
        match sent.await.unwrap_or_else(|_| {
            Err(Failure::new(format!(
                "timed out after {} ms",
                self.settings.timeout.as_millis()
            )))
        }) {
            Ok(status) => Attempt::Delivered {
                status: status.unwrap_or_default(),
            },
            Err(failure) => Attempt::Failed {
                status: failure.status,
                error: failure.error,
                retry_after: failure.retry_after,
            },
        }
    }
}

/// Logs and counts a change of a destination's health.
fn report_health(event: DestinationEvent) {
    let change = match &event.change {
        HealthChange::CircuitOpened { failures } => {
            tracing::warn!(
                tenant_id = %event.tenant_id,
                destination_id = %event.destination_id,
                failures,
                last_error = event.last_error.as_deref().unwrap_or_default(),
                "destination failing: its circuit is open, one probe at a time until it succeeds"
            );
            "circuit_opened"
        }
        HealthChange::Recovered => {
            tracing::info!(
                tenant_id = %event.tenant_id,
                destination_id = %event.destination_id,
                "destination recovered: its circuit is closed"
            );
            "recovered"
        }
        HealthChange::Disabled { reason } => {
            tracing::error!(
                tenant_id = %event.tenant_id,
                destination_id = %event.destination_id,
                %reason,
                "destination disabled; its deliveries wait until it is enabled again"
            );
            "disabled"
        }
    };
    metrics::counter!("hookgate_destination_health_changes_total", "change" => change).increment(1);
}
