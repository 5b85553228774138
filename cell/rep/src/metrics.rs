//! The rep's metrics as OpenTelemetry instruments, after Diego's rep
//! (`RepBulkSyncDuration`, `CapacityTotal*`/`CapacityRemaining*`,
//! `ContainerCount`), in OpenTelemetry's dotted style. Every series carries
//! the cell id (`diego up` runs several cells in one process). Without a
//! meter provider installed the global meter is a no-op.

use std::sync::OnceLock;

use opentelemetry::metrics::{Gauge, Histogram};
use opentelemetry::KeyValue;

use diego_executor::Resources;

pub(crate) struct RepInstruments {
    bulk_sync_ms: Histogram<f64>,
    capacity_total: Gauge<u64>,
    capacity_remaining: Gauge<u64>,
    containers: Gauge<u64>,
}

pub(crate) fn instruments() -> &'static RepInstruments {
    static INSTRUMENTS: OnceLock<RepInstruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("diego-rep");
        RepInstruments {
            bulk_sync_ms: meter
                .f64_histogram("diego.rep.bulk_sync.duration")
                .with_unit("ms")
                .with_description("one reconciliation of containers and bbs records, by outcome")
                .build(),
            capacity_total: meter
                .u64_gauge("diego.rep.capacity.total")
                .with_description(
                    "the cell's capacity by resource (memory_mb, disk_mb, containers)",
                )
                .build(),
            capacity_remaining: meter
                .u64_gauge("diego.rep.capacity.remaining")
                .with_description("capacity not allocated to containers, by resource")
                .build(),
            containers: meter
                .u64_gauge("diego.rep.containers")
                .with_description("containers on the cell, by lifecycle (lrp, task)")
                .build(),
        }
    })
}

impl RepInstruments {
    pub(crate) fn bulk_sync(&self, cell_id: &str, ok: bool, duration_ms: f64) {
        let outcome = if ok { "ok" } else { "failed" };
        let attrs = [
            KeyValue::new("cell_id", cell_id.to_string()),
            KeyValue::new("outcome", outcome),
        ];
        self.bulk_sync_ms.record(duration_ms, &attrs);
    }

    /// Capacity and container counts, recorded on every bulk sync.
    pub(crate) fn capacity(&self, cell_id: &str, total: Resources, remaining: Resources) {
        for (gauge, r) in [
            (&self.capacity_total, total),
            (&self.capacity_remaining, remaining),
        ] {
            for (resource, v) in [
                ("memory_mb", r.memory_mb),
                ("disk_mb", r.disk_mb),
                ("containers", r.containers),
            ] {
                let attrs = [
                    KeyValue::new("cell_id", cell_id.to_string()),
                    KeyValue::new("resource", resource),
                ];
                gauge.record(v, &attrs);
            }
        }
    }

    pub(crate) fn containers(&self, cell_id: &str, lrps: u64, tasks: u64) {
        for (lifecycle, n) in [("lrp", lrps), ("task", tasks)] {
            let attrs = [
                KeyValue::new("cell_id", cell_id.to_string()),
                KeyValue::new("lifecycle", lifecycle),
            ];
            self.containers.record(n, &attrs);
        }
    }
}
