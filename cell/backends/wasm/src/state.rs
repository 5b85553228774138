//! What each `Store` of an app holds: WASI and wasi-http contexts, the memory limiter, and the
//! flag the epoch callback reads to stop the guest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Caps linear memory at the workload's `memory_mb` and remembers a refusal, so the exit can
/// be reported as out of memory.
pub(crate) struct MemoryLimiter {
    /// 0 = unlimited (Diego's `memory_mb: 0`).
    pub(crate) max_bytes: usize,
    pub(crate) hit: Arc<AtomicBool>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.max_bytes == 0 || desired <= self.max_bytes;
        if !allowed {
            self.hit.store(true, Ordering::SeqCst);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

pub(crate) struct InstanceState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// Why a guest stopped early, shared by the process handle and every store it runs.
#[derive(Default)]
pub(crate) struct StopFlags {
    /// Set by `signal`: the next epoch tick traps the guest.
    pub(crate) cancelled: AtomicBool,
    /// Set by the limiter when it refused a grow.
    pub(crate) out_of_memory: Arc<AtomicBool>,
}

/// Time slicing and cancellation: every epoch tick the guest yields to the async runtime
/// (so a busy loop cannot starve other instances on the same worker), and traps once the
/// instance is cancelled.
pub(crate) fn arm_epoch(store: &mut Store<InstanceState>, flags: Arc<StopFlags>) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if flags.cancelled.load(Ordering::SeqCst) {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
}
