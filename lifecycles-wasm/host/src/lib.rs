//! The wasmtime embedding of diego-rs (architecture invariant 8): one `Engine` per
//! [`WasmHost`], components content-addressed by sha256 and pre-instantiated once, every call
//! in a fresh `Store` with fuel, an epoch deadline and a memory limiter, so a runaway guest
//! fails with a typed [`WasmError`] instead of hanging a cell or the auctioneer.
//!
//! Typed worlds: [`Healthcheck`] (`diego:lifecycle/healthcheck`) and [`WasmScorer`]
//! (`diego:placement/scorer`, also a `diego_auction::Scorer`). The WIT lives in
//! `lifecycles-wasm/wit/`; the ABI and its versioning rule in `lifecycles-wasm/README.md`.

mod builder;
mod digest;
mod error;
#[cfg(feature = "executor")]
mod executor;
mod healthcheck;
mod host;
mod launcher;
mod scorer;
mod state;

pub use builder::{AppKind, Builder, StageLimits, StagingResult};
pub use digest::Digest;
pub use error::WasmError;
#[cfg(feature = "executor")]
pub use executor::WasmHealthChecker;
pub use healthcheck::{Check, CheckKind, Healthcheck};
pub use host::{HostConfig, WasmHost};
pub use launcher::{LaunchSpec, Launcher};
pub use scorer::{diego_params, BatchVerdict, WasmScorer};
