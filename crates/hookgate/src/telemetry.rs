//! Logging. Building the subscriber and installing it are separate, so tests can build one that
//! writes to a sink and install it only when `TEST_LOG` is set.

use anyhow::Context as _;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Registry};

use crate::settings::LogFormat;

/// A subscriber filtered by `RUST_LOG`, or `level` when that is unset. A filter that does not
/// parse is an error rather than silently logging at another level.
pub fn subscriber<W>(
    level: &str,
    format: LogFormat,
    writer: W,
) -> anyhow::Result<Box<dyn Subscriber + Send + Sync>>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(&directives).context("invalid RUST_LOG")?
        }
        _ => EnvFilter::try_new(level).context("invalid settings: log.level")?,
    };
    let registry = Registry::default().with(filter);
    Ok(match format {
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            ),
        ),
        LogFormat::Pretty => {
            Box::new(registry.with(tracing_subscriber::fmt::layer().with_writer(writer)))
        }
    })
}

/// Installs `subscriber` for the whole process. Only the first call in a process takes effect.
pub fn install(subscriber: Box<dyn Subscriber + Send + Sync>) {
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The process's Prometheus recorder, installed on first use. `None` when another recorder was
/// installed first.
pub fn metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Seconds: from sub-millisecond ingest to hours of retry lag.
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 60.0, 600.0, 3600.0,
            ];
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(metrics_exporter_prometheus::PrometheusBuilder::install_recorder)
                .map_err(|err| tracing::warn!(%err, "metrics recorder not installed"))
                .ok()
        })
        .clone()
}
