//! Forwarding: claims due deliveries, POSTs each event exactly as Clerk sent it to the
//! destination, signed with the destination's secret in both Svix (`svix-*`) and Standard Webhooks
//! (`webhook-*`) headers, and records the attempt: delivered on 2xx, otherwise retried with
//! backoff until dead.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate_store::{Attempt, DeliveryJob, DeliveryOutcome, SealedKind, SealedRow, Store};
use hookgate_verify::{Secret, sign};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::Backoff;

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
}

/// Opens a destination's stored secret (the binary decrypts with the secrets key).
#[derive(Clone)]
pub struct SecretOpener(pub Arc<OpenSecret>);

/// Decrypts the stored secret of a destination (the row it is bound to, and its ciphertext).
pub type OpenSecret = dyn Fn(SealedRow, &[u8]) -> Result<Secret, String> + Send + Sync;

impl std::fmt::Debug for SecretOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretOpener")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
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
    client: reqwest::Client,
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
    /// `wake` is notified when workers queue deliveries, so forwarding starts at once.
    pub fn new(
        store: Store,
        settings: ForwarderSettings,
        open: SecretOpener,
        wake: Arc<Notify>,
    ) -> Result<Self, ForwarderError> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A destination answers itself: following redirects would send the event (and its
            // signature) somewhere the operator never configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hookgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Ok(Self {
            store,
            settings,
            owner,
            client,
            open,
            wake,
        })
    }

    /// Forwards until `stop` turns true, keeping up to `concurrency` attempts in flight. Attempts
    /// in flight at the stop finish (each bounded by `timeout`); leases still held are released.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut failures = 0u32;
        while !*stop.borrow() {
            let free = self.settings.concurrency.saturating_sub(in_flight.len());
            let mut claimed_full = false;
            if free > 0 {
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
                            in_flight.spawn(async move { this.attempt_and_record(job).await });
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
        if let Err(err) = self.store.release_delivery_leases(&self.owner).await {
            tracing::warn!(%err, "could not release delivery leases; they expire on their own");
        }
    }

    /// One attempt, recorded. When the outcome cannot be recorded, the lease expires and the
    /// delivery is attempted again.
    async fn attempt_and_record(&self, job: DeliveryJob) {
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
        async {
            let started = std::time::Instant::now();
            let attempt = self.attempt(&job).await;
            metrics::histogram!("hookgate_forward_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            let span = tracing::Span::current();
            match &attempt {
                Attempt::Delivered { status } => {
                    span.record("status_code", status);
                }
                Attempt::Failed { status, error } => {
                    if let Some(status) = status {
                        span.record("status_code", status);
                    }
                    tracing::info!(%error, "forwarding attempt failed");
                }
            }
            match self
                .store
                .finish_delivery(&self.owner, &job.delivery, attempt, &self.settings.backoff)
                .await
            {
                Ok(outcome) => {
                    span.record("outcome", outcome.label());
                    metrics::counter!("hookgate_forward_deliveries_total", "outcome" => outcome.label())
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
        let at = SealedRow {
            kind: SealedKind::DestinationSecret,
            tenant_id: job.delivery.tenant_id,
            row_id: job.delivery.destination_id,
        };
        let secret = match (self.open.0)(at, &job.ciphertext) {
            Ok(secret) => secret,
            Err(error) => {
                return Attempt::Failed {
                    status: None,
                    error: format!("the destination's secret cannot be opened: {error}"),
                };
            }
        };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = sign(&secret, &job.svix_id, timestamp, &job.body);
        let timestamp = timestamp.to_string();
        let request = self
            .client
            .post(&job.url)
            .header("content-type", "application/json")
            .header("svix-id", &job.svix_id)
            .header("svix-timestamp", &timestamp)
            .header("svix-signature", &signature)
            .header("webhook-id", &job.svix_id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", &signature)
            .body(job.body.clone());
        match request.send().await {
            Ok(response) if response.status().is_success() => Attempt::Delivered {
                status: response.status().as_u16(),
            },
            Ok(response) => Attempt::Failed {
                status: Some(response.status().as_u16()),
                error: format!("the destination answered {}", response.status()),
            },
            Err(err) => Attempt::Failed {
                status: None,
                error: describe(err),
            },
        }
    }
}

/// Why a request failed, without its URL: a destination's URL may carry a token in its query,
/// and this text goes to logs, spans and `last_error`.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
