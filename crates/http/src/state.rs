use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hookgate_store::{InboxWriter, Store};
use hookgate_tenancy::{AdminTokens, Registry, Tenancy};
use tokio::sync::Notify;

use crate::ApiError;

/// Everything a handler may reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Registry,
    pub store: Store,
    /// Where ingest hands verified deliveries to be stored (group commit).
    pub inbox: InboxWriter,
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
    /// The `tenant` label of ingest metrics.
    pub tenant_labels: TenantLabels,
    /// Sends the test notifications of the admin API.
    pub test_notifier: TestNotifier,
}

/// Who a test notification goes to.
#[derive(Debug)]
pub enum TestRecipient {
    /// A tenant's notification URL, with its opened secret.
    Tenant {
        slug: String,
        url: String,
        secret: hookgate_tenancy::Secret,
    },
    /// The operator's URL (`notifications.url`).
    Global,
}

/// Why a test notification was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestFailure {
    /// There is nowhere to send it (no global URL configured).
    NoRecipient(String),
    /// The URL did not answer 2xx, or could not be reached.
    Refused(String),
}

/// The future of a test send: the status of a 2xx answer, or why there was none.
pub type TestSend =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<u16, TestFailure>> + Send>>;

/// Sends a signed `notification.test`. Built by the binary, which holds the HTTP client and the
/// global URL's secret; the handlers only say to whom.
#[derive(Clone)]
pub struct TestNotifier(pub Arc<dyn Fn(TestRecipient) -> TestSend + Send + Sync>);

impl std::fmt::Debug for TestNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestNotifier")
    }
}

impl AppState {
    /// The answer of the admin and tenant APIs to a storage failure: a 503 with the configured
    /// `Retry-After`, logged here with its cause and answered without it.
    pub(crate) fn storage_error(&self, err: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%err, "storage operation failed");
        ApiError::unavailable(
            "storage unavailable, retry later",
            self.ingest.retry_after_secs,
        )
    }
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

/// Bounds the `tenant` label of ingest metrics: the first `limit` tenants seen keep their slug,
/// later ones share `_other`, and deliveries to no known tenant count as `_unknown`, so neither
/// many tenants nor probing with made-up slugs can grow the number of series without bound.
#[derive(Debug, Clone, Default)]
pub struct TenantLabels {
    limit: usize,
    seen: Arc<RwLock<HashSet<String>>>,
}

impl TenantLabels {
    /// `limit` 0: no tenant label at all.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            seen: Arc::default(),
        }
    }

    /// The label for a delivery to `tenant` (`None` when it named no known tenant), or `None`
    /// when the label is off.
    pub fn label(&self, tenant: Option<&str>) -> Option<String> {
        if self.limit == 0 {
            return None;
        }
        let Some(slug) = tenant else {
            return Some("_unknown".to_owned());
        };
        // A poisoned lock only means another request panicked mid-insert; the set is still valid.
        let seen = self
            .seen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(slug) {
            return Some(slug.to_owned());
        }
        let full = seen.len() >= self.limit;
        drop(seen);
        if full {
            return Some("_other".to_owned());
        }
        let mut seen = self
            .seen
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() < self.limit || seen.contains(slug) {
            seen.insert(slug.to_owned());
            Some(slug.to_owned())
        } else {
            Some("_other".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TenantLabels;

    #[test]
    fn the_label_set_is_bounded() {
        let labels = TenantLabels::new(2);
        assert_eq!(labels.label(Some("a")).as_deref(), Some("a"));
        assert_eq!(labels.label(Some("b")).as_deref(), Some("b"));
        assert_eq!(labels.label(Some("c")).as_deref(), Some("_other"));
        assert_eq!(labels.label(Some("a")).as_deref(), Some("a"));
        assert_eq!(labels.label(None).as_deref(), Some("_unknown"));
        assert_eq!(TenantLabels::new(0).label(Some("a")), None);
    }
}
