//! The auctioneer's metrics as OpenTelemetry instruments, after Diego's
//! (`AuctioneerLRPAuctionsStarted/Failed`, `AuctioneerTaskAuctionsStarted/Failed`,
//! `AuctioneerFetchStatesDuration`, `AuctioneerFailedCellStateRequests`), in
//! OpenTelemetry's dotted style. Without a meter provider installed (no
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) the global meter is a no-op.

use std::sync::OnceLock;

use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

pub(crate) struct AuctionInstruments {
    lrp_auctions: Counter<u64>,
    task_auctions: Counter<u64>,
    failed_cell_states: Counter<u64>,
    fetch_states_ms: Histogram<f64>,
    batch_ms: Histogram<f64>,
}

pub(crate) fn instruments() -> &'static AuctionInstruments {
    static INSTRUMENTS: OnceLock<AuctionInstruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("diego-auctioneer");
        AuctionInstruments {
            lrp_auctions: meter
                .u64_counter("diego.auctioneer.lrp_auctions")
                .with_description("lrp instances auctioned, by outcome (started: placed on a cell; failed: not placeable)")
                .build(),
            task_auctions: meter
                .u64_counter("diego.auctioneer.task_auctions")
                .with_description("tasks auctioned, by outcome (started, failed)")
                .build(),
            failed_cell_states: meter
                .u64_counter("diego.auctioneer.cell_state_failures")
                .with_description("cell state requests that failed or timed out")
                .build(),
            fetch_states_ms: meter
                .f64_histogram("diego.auctioneer.fetch_states.duration")
                .with_unit("ms")
                .with_description("fetching every cell's state for one auction")
                .build(),
            batch_ms: meter
                .f64_histogram("diego.auctioneer.batch.duration")
                .with_unit("ms")
                .with_description("one auction batch, states to performs")
                .build(),
        }
    })
}

fn outcome(o: &'static str) -> [KeyValue; 1] {
    [KeyValue::new("outcome", o)]
}

impl AuctionInstruments {
    pub(crate) fn placed(&self, lrps: usize, tasks: usize) {
        self.lrp_auctions.add(lrps as u64, &outcome("started"));
        self.task_auctions.add(tasks as u64, &outcome("started"));
    }

    pub(crate) fn failed_lrp(&self) {
        self.lrp_auctions.add(1, &outcome("failed"));
    }

    pub(crate) fn failed_task(&self) {
        self.task_auctions.add(1, &outcome("failed"));
    }

    pub(crate) fn cell_state_failed(&self) {
        self.failed_cell_states.add(1, &[]);
    }

    pub(crate) fn fetched_states(&self, ms: f64) {
        self.fetch_states_ms.record(ms, &[]);
    }

    pub(crate) fn batch_done(&self, ms: f64) {
        self.batch_ms.record(ms, &[]);
    }
}
