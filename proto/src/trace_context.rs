//! W3C trace context on the wire: the `traceparent` (and `tracestate`)
//! headers of a gRPC or HTTP request, read into and written from `tracing`
//! spans, so one trace crosses the gateway, the BBS and the SDK's callers
//! (ADR 0018). Without an OpenTelemetry layer and propagator installed
//! (no `OTEL_EXPORTER_OTLP_ENDPOINT`) both are no-ops.

use tonic::codegen::http::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct Extract<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for Extract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct Inject<'a>(&'a mut HeaderMap);

impl opentelemetry::propagation::Injector for Inject<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the caller's span named in `headers`, if any.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Extract(headers)));
    let _ = span.set_parent(parent);
}

/// Names the current span in `headers`, so the callee continues its trace.
pub fn inject_current(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut Inject(headers))
    });
}
