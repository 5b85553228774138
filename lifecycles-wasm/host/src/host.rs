//! The embedding: one `Engine` per host, components loaded by digest and pre-instantiated once,
//! and every call in a fresh `Store` with fuel, an epoch deadline and a memory limiter.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::WasiCtxBuilder;

use crate::error::classify;
use crate::state::{CallState, Limiter};
use crate::{Digest, WasmError};

/// Limits every call runs under, and where compiled components are kept.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Wasm instructions (roughly) a call may execute, when `consume_fuel` is on.
    pub fuel: u64,
    /// Meter fuel (instrumented code: every basic block counts). Off, a call is bounded by
    /// the epoch deadline alone; measured on the scorers' hot path it gains nothing (ADR 0020),
    /// so the default keeps both bounds.
    pub consume_fuel: bool,
    /// Wall-clock budget of a call's guest code, in epoch ticks of `epoch_tick_ms`.
    pub epoch_deadline_ms: u64,
    /// How often the background thread advances the engine's epoch.
    pub epoch_tick_ms: u64,
    /// Linear memory one instance may grow to.
    pub max_memory_bytes: usize,
    /// Instances alive at once (pooling allocator slots).
    pub max_instances: u32,
    /// Precompiled artifacts, keyed by digest and engine; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            fuel: 100_000_000,
            consume_fuel: true,
            epoch_deadline_ms: 1_000,
            epoch_tick_ms: 5,
            max_memory_bytes: 64 << 20,
            max_instances: 64,
            cache_dir: None,
        }
    }
}

/// Advances the engine's epoch until the host is dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub struct WasmHost {
    engine: Engine,
    linker: Linker<CallState>,
    config: HostConfig,
    /// Hash of the engine's compatibility settings: part of every cache file's name, so an
    /// artifact from another wasmtime or another config is never deserialized.
    engine_key: u64,
    loaded: RwLock<HashMap<Digest, InstancePre<CallState>>>,
    _ticker: Ticker,
}

impl WasmHost {
    pub fn new(config: HostConfig) -> Result<Self, WasmError> {
        let host_error = |e: wasmtime::Error| WasmError::Host(format!("{e:#}"));
        let mut pooling = PoolingAllocationConfig::default();
        let slots = config.max_instances;
        pooling
            .total_component_instances(slots)
            .total_core_instances(slots * 4)
            .total_memories(slots * 4)
            .total_tables(slots * 4)
            .total_stacks(slots)
            // Above the limiter's cap, so the limiter is what refuses (and records it) rather
            // than the allocator failing the grow silently.
            .max_memory_size(config.max_memory_bytes.saturating_mul(2));
        let mut wasm_config = Config::new();
        wasm_config
            .wasm_component_model(true)
            .consume_fuel(config.consume_fuel)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&wasm_config).map_err(host_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(host_error)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| WasmError::Host(format!("cache dir {}: {e}", dir.display())))?;
        }
        let ticker = Self::start_ticker(&engine, config.epoch_tick_ms)?;
        Ok(Self {
            engine,
            linker,
            engine_key: hasher.finish(),
            config,
            loaded: RwLock::new(HashMap::new()),
            _ticker: ticker,
        })
    }

    fn start_ticker(engine: &Engine, tick_ms: u64) -> Result<Ticker, WasmError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        let tick = Duration::from_millis(tick_ms.max(1));
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| WasmError::Host(format!("epoch thread: {e}")))?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Validates, compiles (or takes from the disk cache) and pre-instantiates a component.
    /// Loading the same bytes twice is cheap and returns the same digest.
    pub fn load(&self, bytes: &[u8]) -> Result<Digest, WasmError> {
        let digest = Digest::of(bytes);
        if self.is_loaded(&digest) {
            return Ok(digest);
        }
        let component = self.compile(&digest, bytes)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| WasmError::Invalid(format!("{e:#}")))?;
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest, pre);
        Ok(digest)
    }

    pub fn is_loaded(&self, digest: &Digest) -> bool {
        let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        loaded.contains_key(digest)
    }

    fn cache_path(&self, digest: &Digest) -> Option<PathBuf> {
        let dir = self.config.cache_dir.as_ref()?;
        let name = format!(
            "{}-{:016x}.cwasm",
            hex::encode(digest.as_bytes()),
            self.engine_key
        );
        Some(dir.join(name))
    }

    fn compile(&self, digest: &Digest, bytes: &[u8]) -> Result<Component, WasmError> {
        let path = self.cache_path(digest);
        if let Some(path) = path.as_ref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `serialize` of this engine configuration (its
            // name carries the engine key) in our own cache dir; a corrupt or foreign file is
            // rejected by wasmtime's header check and we fall back to compiling.
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, path) } {
                return Ok(component);
            }
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| WasmError::Invalid(format!("{e:#}")))?;
        if let Some(path) = path {
            let artifact = component
                .serialize()
                .map_err(|e| WasmError::Host(format!("serialize: {e:#}")))?;
            // Write then rename, so a concurrent loader never reads half a file.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, artifact)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| WasmError::Host(format!("cache {}: {e}", path.display())))?;
        }
        Ok(component)
    }

    pub(crate) fn instance_pre(
        &self,
        digest: &Digest,
    ) -> Result<InstancePre<CallState>, WasmError> {
        let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        loaded
            .get(digest)
            .cloned()
            .ok_or(WasmError::Unknown(*digest))
    }

    /// A fresh store for one call: its own WASI context, fuel, deadline and limiter.
    /// `extra_deadline_ms` extends the deadline for calls that legitimately wait (a health
    /// check's own timeout).
    pub(crate) fn store(
        &self,
        mut wasi: WasiCtxBuilder,
        extra_deadline_ms: u64,
    ) -> Store<CallState> {
        let state = CallState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: Limiter {
                max_memory_bytes: self.config.max_memory_bytes,
                max_table_elements: 100_000,
                hit: false,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        if self.config.consume_fuel {
            // set_fuel only fails when fuel is off.
            let _ = store.set_fuel(self.config.fuel);
        }
        let deadline_ms = self.config.epoch_deadline_ms + extra_deadline_ms;
        store.set_epoch_deadline(
            deadline_ms
                .div_ceil(self.config.epoch_tick_ms.max(1))
                .max(1),
        );
        store.epoch_deadline_trap();
        store
    }

    /// Runs `call` and maps its failure to a typed error.
    pub(crate) fn run<R>(
        &self,
        store: &mut Store<CallState>,
        call: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, WasmError> {
        call(store).map_err(|e| classify(e, store.data().limiter.hit))
    }
}
