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
