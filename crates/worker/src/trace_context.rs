//! Joins an apply span to the trace of the delivery that stored the event.

use opentelemetry::global;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct TraceParent<'a>(&'a str);

impl Extractor for TraceParent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// Makes the ingest span recorded as `traceparent` the parent of `span`. A malformed value
/// (it came from the database) is ignored.
pub(crate) fn adopt_stored_parent(span: &tracing::Span, traceparent: &str) {
    let cx = global::get_text_map_propagator(|p| p.extract(&TraceParent(traceparent)));
    if cx.span().span_context().is_valid() {
        // Fails only when spans are not exported; then there is nothing to join.
        let _ = span.set_parent(cx);
    }
}
