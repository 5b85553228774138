//! The app engine: one wasmtime `Engine` per process for app instances, an epoch ticker, and
//! compiled components cached by sha256 so the second instance of an app starts without
//! compiling.
//!
//! Separate from `diego-wasm-host`'s engine (ADR 0009): that one is sized for short plugin
//! calls (pooling slots of 64 MiB, fuel, a 1 s deadline); app instances live for days, need
//! their workload's memory and async I/O for wasi-http.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::error::{Result, WasmBackendError};
use crate::state::InstanceState;

/// How often the epoch advances: the time slice of a busy guest and the latency of a stop.
pub const EPOCH_TICK_MS: u64 = 10;

/// What a component is run as, decided by its exports.
#[derive(Clone)]
pub(crate) enum Loaded {
    /// Exports `wasi:http/incoming-handler`: served on the instance's ports.
    Http(ProxyPre<InstanceState>),
    /// Exports `wasi:cli/run`: run once, its exit code is the process's.
    Command(CommandPre<InstanceState>),
}

pub struct AppEngine {
    engine: Engine,
    linker: Linker<InstanceState>,
    loaded: Mutex<HashMap<[u8; 32], Loaded>>,
}

impl AppEngine {
    /// The process's app engine, made on first use.
    pub fn shared() -> Result<Arc<AppEngine>> {
        static SHARED: OnceLock<std::result::Result<Arc<AppEngine>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| AppEngine::new().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(WasmBackendError::Engine)
    }

    fn new() -> Result<AppEngine> {
        let engine_error = |e: wasmtime::Error| WasmBackendError::Engine(format!("{e:#}"));
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&config).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_error)?;
        // The process lives as long as the engine (it is a static), so the ticker never stops.
        let ticking = engine.clone();
        std::thread::Builder::new()
            .name("wasm-app-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(EPOCH_TICK_MS));
                ticking.increment_epoch();
            })
            .map_err(|e| WasmBackendError::Engine(format!("epoch thread: {e}")))?;
        Ok(AppEngine {
            engine,
            linker,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles (or takes from the cache) and classifies a component. `path` only names it in
    /// errors.
    pub(crate) fn load(&self, path: &str, bytes: &[u8]) -> Result<Loaded> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(loaded) = self.lock().get(&digest) {
            return Ok(loaded.clone());
        }
        let invalid = |reason: String| WasmBackendError::InvalidComponent {
            path: path.to_string(),
            reason,
        };
        let component =
            Component::new(&self.engine, bytes).map_err(|e| invalid(format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let loaded = if let Ok(proxy) = ProxyPre::new(pre.clone()) {
            Loaded::Http(proxy)
        } else if let Ok(command) = CommandPre::new(pre) {
            Loaded::Command(command)
        } else {
            return Err(invalid(
                "exports neither wasi:http/incoming-handler nor wasi:cli/run".to_string(),
            ));
        };
        self.lock().insert(digest, loaded.clone());
        Ok(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Loaded>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}
