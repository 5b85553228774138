//! Logs and traces for the server roles.
//!
//! Logs go to stdout, filtered by `DIEGO_LOG` (default `info`). When the
//! standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set, every span (a gRPC call, a gateway request, an auction batch, a
//! convergence pass) is also exported over OTLP/HTTP with protobuf bodies,
//! batched, with `service.name` = `diego-<role>` unless `OTEL_SERVICE_NAME`
//! says otherwise. W3C `traceparent` headers on incoming calls continue the
//! caller's trace. The other standard `OTEL_*` variables (headers, timeout,
//! `OTEL_BSP_SCHEDULE_DELAY`) apply as the OpenTelemetry SDK reads them.
//!
//! Metrics (the convergence counts and durations, `diego_bbs::metrics`) go
//! the same way when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`) is set, every
//! `OTEL_METRIC_EXPORT_INTERVAL` ms (default 60 s).

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
static METER_PROVIDER: OnceLock<SdkMeterProvider> = OnceLock::new();

fn any_set(vars: &[&str]) -> bool {
    vars.iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
}

fn otlp_configured() -> bool {
    any_set(&[
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ])
}

fn otlp_metrics_configured() -> bool {
    any_set(&[
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ])
}

/// Runs `build` on a thread of its own: the exporters' blocking HTTP client
/// must not be created (or dropped) on an async runtime thread.
fn off_runtime<T: Send + 'static>(
    what: &'static str,
    build: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(build)
        .join()
        .map_err(|_| format!("the otlp {what} exporter set-up panicked"))?
}

fn resource(service: String) -> Resource {
    Resource::builder().with_service_name(service).build()
}

/// The OTLP meter provider, exporting every `OTEL_METRIC_EXPORT_INTERVAL`.
fn meter_provider(service: String) -> Result<SdkMeterProvider, String> {
    off_runtime("metric", move || {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("cannot set up the otlp metric exporter: {e}"))?;
        Ok(SdkMeterProvider::builder()
            .with_periodic_exporter(exporter)
            .with_resource(resource(service))
            .build())
    })
}

/// The OTLP tracer provider, exporting spans in batches.
fn provider(service: String) -> Result<SdkTracerProvider, String> {
    off_runtime("span", move || {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("cannot set up the otlp exporter: {e}"))?;
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(service))
            .build())
    })
}

/// Starts logging, and span export when OTLP is configured. `role` names
/// the service (`diego-bbs`, `diego-cell`, ...). Idempotent.
pub fn init(role: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DIEGO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let mut otel_error = None;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| format!("diego-{role}"));
    let mut metrics_error = None;
    if otlp_metrics_configured() {
        match meter_provider(service.clone()) {
            Ok(p) => {
                opentelemetry::global::set_meter_provider(p.clone());
                let _ = METER_PROVIDER.set(p);
            }
            Err(e) => metrics_error = Some(e),
        }
    }
    let otel = if otlp_configured() {
        match provider(service) {
            Ok(p) => {
                let tracer = p.tracer("diego");
                let _ = PROVIDER.set(p);
                opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
                Some(tracing_opentelemetry::layer().with_tracer(tracer))
            }
            Err(e) => {
                otel_error = Some(e);
                None
            }
        }
    } else {
        None
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();
    if let (true, Some(e)) = (installed, otel_error) {
        tracing::warn!(error = %e, "spans are not exported");
    }
    if let (true, Some(e)) = (installed, metrics_error) {
        tracing::warn!(error = %e, "metrics are not exported");
    }
}

/// Sends the spans still batched and the last metrics; call before the
/// process exits.
pub fn shutdown() {
    let spans = PROVIDER.get().cloned();
    let meters = METER_PROVIDER.get().cloned();
    // the exporters' blocking client again: off the runtime
    let _ = std::thread::spawn(move || {
        if let Some(p) = spans {
            if let Err(e) = p.shutdown() {
                eprintln!("span export shutdown: {e}");
            }
        }
        if let Some(p) = meters {
            if let Err(e) = p.shutdown() {
                eprintln!("metric export shutdown: {e}");
            }
        }
    })
    .join();
}
