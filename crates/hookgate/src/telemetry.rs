//! Logs, traces and metrics. Building the subscriber and installing it are separate, so tests can
//! build one that writes to a sink and install it only when they want to.

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

use crate::settings::{LogFormat, LogSettings, TelemetrySettings};

/// The process's span exporter, when one is configured. Spans are batched in the background;
/// [`Telemetry::shutdown`] sends what is left.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still buffered, so the last requests before an exit are not lost.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(err) = provider.force_flush()
        {
            tracing::warn!(%err, "exporting the remaining spans failed");
        }
    }

    /// Flushes and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(%err, "stopping the span exporter failed");
        }
    }
}

/// A subscriber filtered by `RUST_LOG`, or `log.level` when that is unset, writing `log.format`
/// to `writer` and, when `telemetry.otlp.endpoint` is set, exporting spans over OTLP/HTTP. A
/// filter that does not parse is an error rather than silently logging at another level.
pub fn subscriber<W>(
    log: &LogSettings,
    telemetry: &TelemetrySettings,
    writer: W,
) -> anyhow::Result<(Box<dyn Subscriber + Send + Sync>, Telemetry)>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(&directives).context("invalid RUST_LOG")?
        }
        _ => EnvFilter::try_new(&log.level).context("invalid settings: log.level")?,
    };
    let mut layers = Vec::with_capacity(2);
    layers.push(match log.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            // Every span of the line's context, so `request_id` (on the request span) is on each
            // line logged inside ingest, verify or store.
            .with_span_list(true)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_writer(writer).boxed(),
    });
    let provider = match telemetry.otlp.traces_url() {
        Some(url) => Some(tracer_provider(&url, telemetry)?),
        None => None,
    };
    if let Some(provider) = &provider {
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("hookgate"))
                .boxed(),
        );
    }
    // W3C trace context in and out (ingest reads `traceparent`, stored events carry it to the
    // worker), whether or not this process exports.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let subscriber = Registry::default().with(layers.with_filter(filter));
    Ok((Box::new(subscriber), Telemetry { provider }))
}

fn tracer_provider(url: &str, telemetry: &TelemetrySettings) -> anyhow::Result<SdkTracerProvider> {
    hookgate_worker::install_tls_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_timeout(Duration::from_millis(telemetry.otlp.timeout_ms))
        .build()
        .context("building the OTLP span exporter")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        // By trace id alone, not parent-based: every span of a trace gets the same decision,
        // and a caller's `traceparent` (anyone can send one to the public ingest route) picks
        // the trace id but cannot force its trace to be exported.
        .with_sampler(Sampler::TraceIdRatioBased(telemetry.otlp.sampling_ratio))
        .with_resource(
            Resource::builder()
                .with_service_name(telemetry.service_name.clone())
                .build(),
        )
        .build())
}

/// Installs `subscriber` for the whole process. Only the first call in a process takes effect.
pub fn install(subscriber: Box<dyn Subscriber + Send + Sync>) {
    let _ = tracing::subscriber::set_global_default(subscriber);
}
