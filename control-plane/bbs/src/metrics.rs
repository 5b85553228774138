//! Convergence metrics as OpenTelemetry instruments (spec §5's names, in
//! OpenTelemetry's dotted style). Without a meter provider installed (no
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) the global meter is a no-op, so recording
//! costs nothing.

use std::sync::OnceLock;

use opentelemetry::metrics::{Gauge, Histogram, Meter};
use opentelemetry::KeyValue;

use crate::ConvergeReport;

/// Diego warns operators when a pass takes longer than this.
pub const SLOW_CONVERGENCE_MS: f64 = 10_000.0;

pub struct ConvergenceInstruments {
    lrps: Gauge<u64>,
    tasks: Gauge<u64>,
    cells: Gauge<u64>,
    desired_instances: Gauge<u64>,
    crashing_desired: Gauge<u64>,
    fresh_domains: Gauge<u64>,
    duration_ms: Histogram<f64>,
}

fn gauge(meter: &Meter, name: &'static str, description: &'static str) -> Gauge<u64> {
    meter.u64_gauge(name).with_description(description).build()
}

/// The instruments, made once against the global meter provider (install it
/// before the first pass).
pub fn convergence() -> &'static ConvergenceInstruments {
    static INSTRUMENTS: OnceLock<ConvergenceInstruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("diego-bbs");
        ConvergenceInstruments {
            lrps: gauge(
                &meter,
                "diego.convergence.lrps",
                "actual lrp rows and plan counts by kind (unclaimed, claimed, running, crashed, missing, extra, suspect_running, suspect_claimed, evacuating)",
            ),
            tasks: gauge(
                &meter,
                "diego.convergence.tasks",
                "tasks by state (pending, running, completed, resolving) and what the pass pruned and kicked",
            ),
            cells: gauge(
                &meter,
                "diego.convergence.cells",
                "cells with a presence (present) and cells placed work names without one (missing)",
            ),
            desired_instances: gauge(
                &meter,
                "diego.convergence.lrps.desired",
                "the sum of desired instance counts",
            ),
            crashing_desired: gauge(
                &meter,
                "diego.convergence.desired_lrps.crashing",
                "desired lrps with at least one crashed instance",
            ),
            fresh_domains: gauge(
                &meter,
                "diego.convergence.domains.fresh",
                "fresh domains",
            ),
            duration_ms: meter
                .f64_histogram("diego.convergence.duration")
                .with_unit("ms")
                .with_description("one convergence pass, snapshot read to auction requests")
                .build(),
        }
    })
}

impl ConvergenceInstruments {
    pub fn record(&self, r: &ConvergeReport) {
        let m = &r.metrics;
        let kind = |k: &'static str| [KeyValue::new("kind", k)];
        for (k, v) in [
            ("unclaimed", m.lrps_unclaimed),
            ("claimed", m.lrps_claimed),
            ("running", m.lrps_running),
            ("crashed", m.crashed_actual_lrps),
            ("missing", m.lrps_missing),
            ("extra", m.lrps_extra),
            ("suspect_running", m.suspect_running_actual_lrps),
            ("suspect_claimed", m.suspect_claimed_actual_lrps),
            ("evacuating", m.evacuating_actual_lrps),
        ] {
            self.lrps.record(v, &kind(k));
        }
        for (k, v) in [
            ("pending", m.tasks_pending),
            ("running", m.tasks_running),
            ("completed", m.tasks_completed),
            ("resolving", m.tasks_resolving),
            ("pruned", m.tasks_pruned),
            ("kicked", m.tasks_kicked),
        ] {
            self.tasks.record(v, &kind(k));
        }
        if let Some(present) = m.present_cells {
            self.cells.record(present, &kind("present"));
        }
        self.cells.record(m.missing_cells, &kind("missing"));
        self.desired_instances.record(m.lrps_desired, &[]);
        self.crashing_desired.record(m.crashing_desired_lrps, &[]);
        self.fresh_domains.record(m.fresh_domains, &[]);
        self.duration_ms.record(r.duration_ms, &[]);
    }
}

/// Per-call instruments of the gRPC API (Diego's BBS `RequestCount` and
/// `RequestLatency`, split by method and status code here).
pub struct RequestInstruments {
    count: opentelemetry::metrics::Counter<u64>,
    duration_ms: Histogram<f64>,
}

/// The request instruments, made once against the global meter provider.
pub fn requests() -> &'static RequestInstruments {
    static INSTRUMENTS: OnceLock<RequestInstruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("diego-bbs");
        RequestInstruments {
            count: meter
                .u64_counter("diego.bbs.requests")
                .with_description("api calls by rpc method and grpc status code")
                .build(),
            duration_ms: meter
                .f64_histogram("diego.bbs.request.duration")
                .with_unit("ms")
                .with_description(
                    "from the request to the response head (for watch: to the stream's start)",
                )
                .build(),
        }
    })
}

impl RequestInstruments {
    /// `rpc` is the method's name (`DesireTask`), `code` the grpc status
    /// code (`0` for ok).
    pub fn record(&self, rpc: String, code: &str, duration_ms: f64) {
        let attrs = [
            KeyValue::new("rpc", rpc),
            KeyValue::new("code", code.to_string()),
        ];
        self.count.add(1, &attrs);
        self.duration_ms.record(duration_ms, &attrs);
    }
}
