//! W3C trace context: a delivery's `traceparent` becomes the parent of its request span, and the
//! ingest span's own context is stored with the event so the worker's apply span joins the trace.

use axum::http::HeaderMap;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes the caller's trace, when it sent a valid `traceparent`, the parent of `span`.
pub(crate) fn adopt_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let cx = global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    if cx.span().span_context().is_valid() {
        // Fails only when spans are not exported; then there is nothing to join.
        let _ = span.set_parent(cx);
    }
}

#[derive(Default)]
struct TraceParent(Option<String>);

impl Injector for TraceParent {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.0 = Some(value);
        }
    }
}

/// `span`'s W3C `traceparent`, when spans are exported.
pub(crate) fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = TraceParent::default();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.0
}
