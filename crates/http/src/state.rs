use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hookgate_store::Store;
use hookgate_tenancy::{AdminTokens, Registry, Tenancy};
use tokio::sync::Notify;

/// Everything a handler may reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Registry,
    pub store: Store,
    /// Tenant management (registry attached, so changes apply at once) and API-key checks.
    pub tenancy: Tenancy,
    pub admin_tokens: AdminTokens,
    pub ingest: IngestSettings,
    pub readiness: Readiness,
    /// Notified whenever ingest stores a new event, so in-process workers start at once.
    pub stored: Arc<Notify>,
    /// Renders the Prometheus text exposition for `/metrics`; `None`: no metrics here.
    pub metrics: Option<MetricsRender>,
    /// Whether this process takes deliveries (`api` and `all` roles) or only answers health
    /// checks (`worker` role).
    pub serve_ingest: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    /// How long ingest waits for its row to be durable before answering 503. Kept well under
    /// the 15 s after which Svix counts a delivery as failed.
    pub store_timeout: Duration,
    /// Upper bound for a whole request, body read included.
    pub request_timeout: Duration,
    /// Longest pause allowed between two pieces of a request body.
    pub body_idle_timeout: Duration,
    /// `Retry-After` sent with 503 answers, in seconds.
    pub retry_after_secs: u64,
}

/// Whether this process should receive traffic. Set to draining at the start of shutdown so
/// load balancers stop sending new requests while in-flight ones finish.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
}

impl Readiness {
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// Renders the process's metrics in the Prometheus text format. (The exporter lives in the
/// binary; this crate only records.)
#[derive(Clone)]
pub struct MetricsRender(pub Arc<dyn Fn() -> String + Send + Sync>);

impl std::fmt::Debug for MetricsRender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsRender")
    }
}
