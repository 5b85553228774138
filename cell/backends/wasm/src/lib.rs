//! Container backend for WASM apps on wasmtime, side by side with OCI containers.
//!
//! A workload whose rootfs is `wasm:` (anything after the colon is ignored) runs here. Its
//! "container" is a directory on the host, `<state_dir>/instances/<guid>`, preopened as `/`
//! in the guest: Download actions write into it, and the Run action's `path` names the
//! component file in it (`/app/app.wasm`), its `args` and `env` are the WASI args and
//! environment. A component exporting `wasi:http/incoming-handler` is served on each exposed
//! port's host port; any other must export `wasi:cli/run` and runs as a command whose exit
//! code is the process's. See ADR 0009 and `lifecycles-wasm/README.md` ("WASM apps").

mod command;
mod dispatch;
mod engine;
mod error;
mod files;
mod http;
mod output;
mod ports;
mod process;
mod state;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use diego_executor::{
    Backend, ContainerInfo, ContainerSpec, ExecutorError, FileEntry, PortMap, ProcessHandle,
    ProcessSpec, Signal, Spawned,
};
use wasmtime::component::ResourceTable;
use wasmtime::Store;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

pub use dispatch::{is_wasm_rootfs, RoutedBackend, WasmPortChecker, WASM_SCHEME};
pub use engine::{AppEngine, EPOCH_TICK_MS};
pub use error::WasmBackendError;
pub use process::{EXIT_KILLED, EXIT_TERMINATED, EXIT_TRAPPED};

use error::Result;
use output::GuestOut;
use ports::PortPool;
use process::WasmProcess;
use state::{InstanceState, MemoryLimiter};

/// How long `destroy` waits for a stopped instance to let go of its listeners.
const DESTROY_WAIT_MS: u64 = 2_000;

#[derive(Debug, Clone)]
pub struct WasmConfig {
    /// Instance directories live in `<state_dir>/instances`.
    pub state_dir: PathBuf,
    /// Host ports handed to exposed container ports (inclusive).
    pub host_port_range: (u32, u32),
    /// Where http components listen; also the instance's `internal_ip`.
    pub listen_ip: IpAddr,
    /// Connections served at once per instance (across its ports); more wait in the backlog.
    pub max_connections: usize,
    /// A request whose guest has not finished by then is cut off.
    pub request_timeout_ms: u64,
}

impl WasmConfig {
    pub fn new(state_dir: impl Into<PathBuf>, host_port_range: (u32, u32)) -> Self {
        Self {
            state_dir: state_dir.into(),
            host_port_range,
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            max_connections: 256,
            request_timeout_ms: 60_000,
        }
    }
}

struct Instance {
    dir: PathBuf,
    memory_mb: u64,
    ports: Vec<(u32, u32)>,
    processes: Mutex<Vec<Arc<WasmProcess>>>,
    /// Whether the ports have listeners yet; see [`WasmBackend::wait_for_listeners`].
    serving: tokio::sync::watch::Sender<Serving>,
}

/// Where an instance's spawns are: its ports are served by the host once an http
/// component's spawn has bound them.
#[derive(Debug, Clone, Copy, Default)]
struct Serving {
    spawns_started: u32,
    spawns_finished: u32,
    listening: bool,
}

impl Serving {
    /// Nothing more will bind the ports until another spawn starts.
    fn settled(&self) -> bool {
        self.listening || (self.spawns_finished > 0 && self.spawns_finished == self.spawns_started)
    }
}

/// Marks a spawn finished however it ends (error paths included).
struct SpawnGuard<'a>(&'a Instance);

impl Drop for SpawnGuard<'_> {
    fn drop(&mut self) {
        self.0.serving.send_modify(|s| s.spawns_finished += 1);
    }
}

pub struct WasmBackend {
    cfg: WasmConfig,
    engine: Arc<AppEngine>,
    ports: PortPool,
    instances: Mutex<HashMap<String, Arc<Instance>>>,
}

impl WasmBackend {
    /// A backend on the process's shared app engine.
    pub fn new(cfg: WasmConfig) -> std::result::Result<Arc<Self>, WasmBackendError> {
        Ok(Self::with_engine(cfg, AppEngine::shared()?))
    }

    pub fn with_engine(cfg: WasmConfig, engine: Arc<AppEngine>) -> Arc<Self> {
        Arc::new(Self {
            ports: PortPool::new(cfg.host_port_range, cfg.listen_ip),
            cfg,
            engine,
            instances: Mutex::new(HashMap::new()),
        })
    }

    fn instances_dir(&self) -> PathBuf {
        self.cfg.state_dir.join("instances")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Instance>>> {
        self.instances.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `guid` is (or was, before a restart) one of this backend's instances.
    pub fn owns(&self, guid: &str) -> bool {
        self.lock().contains_key(guid) || self.instances_dir().join(guid).is_dir()
    }

    /// The host port an exposed container port of `guid` is served on.
    pub fn host_port(&self, guid: &str, container_port: u32) -> Option<u32> {
        let instance = self.lock().get(guid).cloned()?;
        instance
            .ports
            .iter()
            .find(|(c, _)| *c == container_port)
            .map(|(_, h)| *h)
    }

    /// Waits (at most `max_wait`) until `guid`'s ports have listeners, or no spawn that
    /// could bind them is pending. The host binds an http component's ports in `spawn`, which
    /// runs concurrently with the first health check: a check connecting before that is
    /// refused and retried only after the executor's startup pause (50 ms), although the
    /// bind follows within a millisecond or two. Waiting for the bind instead is what a
    /// connect to a listening socket would see; an unknown guid returns at once.
    pub async fn wait_for_listeners(&self, guid: &str, max_wait: Duration) {
        let Ok(instance) = self.instance(guid) else {
            return;
        };
        let mut serving = instance.serving.subscribe();
        drop(instance);
        let _ = tokio::time::timeout(max_wait, serving.wait_for(Serving::settled)).await;
    }

    fn instance(&self, guid: &str) -> Result<Arc<Instance>> {
        self.lock()
            .get(guid)
            .cloned()
            .ok_or_else(|| WasmBackendError::NotFound(guid.to_string()))
    }

    fn internal_ip(&self) -> String {
        if self.cfg.listen_ip.is_unspecified() {
            Ipv4Addr::LOCALHOST.to_string()
        } else {
            self.cfg.listen_ip.to_string()
        }
    }

    fn create_inner(&self, spec: &ContainerSpec) -> Result<ContainerInfo> {
        if !is_wasm_rootfs(&spec.rootfs) {
            return Err(WasmBackendError::UnsupportedRootfs(spec.rootfs.clone()));
        }
        if spec.guid.is_empty() || spec.guid.contains(['/', '\0']) || spec.guid.starts_with('.') {
            return Err(WasmBackendError::PathEscapes(spec.guid.clone()));
        }
        if self.lock().contains_key(&spec.guid) {
            return Err(WasmBackendError::AlreadyExists(spec.guid.clone()));
        }
        let dir = self.instances_dir().join(&spec.guid);
        std::fs::create_dir_all(&dir).map_err(WasmBackendError::io("create instance dir"))?;
        let mut ports = Vec::with_capacity(spec.ports.len());
        for container_port in &spec.ports {
            match self.ports.take() {
                Ok(host_port) => ports.push((*container_port, host_port)),
                Err(e) => {
                    for (_, host_port) in &ports {
                        self.ports.release(*host_port);
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(e);
                }
            }
        }
        let info = ContainerInfo {
            internal_ip: self.internal_ip(),
            ports: ports
                .iter()
                .map(|(c, h)| PortMap {
                    container_port: *c,
                    host_port: *h,
                })
                .collect(),
        };
        let instance = Arc::new(Instance {
            dir,
            memory_mb: spec.memory_mb,
            ports,
            processes: Mutex::new(Vec::new()),
            serving: tokio::sync::watch::channel(Serving::default()).0,
        });
        self.lock().insert(spec.guid.clone(), instance);
        Ok(info)
    }

    async fn spawn_inner(&self, guid: &str, spec: ProcessSpec) -> Result<Spawned> {
        let instance = self.instance(guid)?;
        instance.serving.send_modify(|s| s.spawns_started += 1);
        let _finished = SpawnGuard(&instance);
        let path = files::contained(&instance.dir, &spec.path)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(WasmBackendError::io(format!(
                "read component {}",
                spec.path
            )))?;
        let engine = self.engine.clone();
        let name = spec.path.clone();
        // Compiling is CPU-bound (tens of ms to seconds); keep it off the async workers.
        let loaded = tokio::task::spawn_blocking(move || engine.load(&name, &bytes))
            .await
            .map_err(|e| WasmBackendError::Engine(format!("compile task: {e}")))??;
        let (stdout, stderr, output) = output::pipes();
        let host_log = output.sender();
        let (process, runner) = process::new_process();
        let ctx = StoreParts {
            engine: self.engine.clone(),
            dir: instance.dir.clone(),
            args: std::iter::once(spec.path.clone())
                .chain(spec.args.iter().cloned())
                .collect(),
            env: spec
                .env
                .iter()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect(),
            stdout,
            stderr,
            max_memory_bytes: usize::try_from(instance.memory_mb)
                .unwrap_or(usize::MAX)
                .saturating_mul(1 << 20),
        };
        match loaded {
            engine::Loaded::Command(pre) => {
                let store = ctx.store(runner.flags.out_of_memory.clone())?;
                drop(ctx);
                command::spawn(pre, store, runner, host_log.clone());
            }
            engine::Loaded::Http(pre) => {
                if instance.ports.is_empty() {
                    return Err(WasmBackendError::InvalidComponent {
                        path: spec.path.clone(),
                        reason: "a wasi:http component needs at least one exposed port".to_string(),
                    });
                }
                // Fail the spawn (not the first request) when the context cannot be built.
                drop(ctx.store(Arc::new(AtomicBool::new(false)))?);
                let mut listeners = Vec::with_capacity(instance.ports.len());
                for (_, host_port) in &instance.ports {
                    let addr = std::net::SocketAddr::new(
                        self.cfg.listen_ip,
                        u16::try_from(*host_port).unwrap_or(0),
                    );
                    let listener = tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(WasmBackendError::io(format!("listen on {addr}")))?;
                    listeners.push(listener);
                }
                let new_store: http::StoreFactory = Arc::new(move || {
                    ctx.store(Arc::new(AtomicBool::new(false)))
                        .expect("built once at spawn")
                });
                let served = http::Served {
                    pre,
                    new_store,
                    max_connections: self.cfg.max_connections,
                    request_timeout_ms: self.cfg.request_timeout_ms,
                    host_log: host_log.clone(),
                };
                http::spawn(served, listeners, runner);
                instance.serving.send_modify(|s| s.listening = true);
            }
        }
        let mut processes = instance.processes.lock().unwrap_or_else(|p| p.into_inner());
        processes.retain(|p| !p.exited());
        processes.push(process.clone());
        Ok(Spawned {
            process,
            output: output.into_receiver(),
        })
    }

    async fn destroy_inner(&self, guid: &str) -> Result<()> {
        let instance = self.lock().remove(guid);
        if let Some(instance) = instance {
            let processes: Vec<_> = instance
                .processes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
                .collect();
            for process in processes {
                let _ = process.signal(Signal::Kill).await;
                let waited =
                    tokio::time::timeout(Duration::from_millis(DESTROY_WAIT_MS), process.wait())
                        .await;
                if waited.is_err() {
                    tracing::warn!(guid, "wasm instance did not stop in time");
                }
            }
            for (_, host_port) in &instance.ports {
                self.ports.release(*host_port);
            }
        }
        let dir = self.instances_dir().join(guid);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(WasmBackendError::io("remove instance dir"))?;
        }
        Ok(())
    }
}

/// Everything a store of this process is made from; http components make one per request.
struct StoreParts {
    engine: Arc<AppEngine>,
    dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdout: GuestOut,
    stderr: GuestOut,
    max_memory_bytes: usize,
}

impl StoreParts {
    fn wasi(&self) -> Result<WasiCtx> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&self.args)
            .envs(&self.env)
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone());
        wasi.preopened_dir(&self.dir, "/", FsPerms::ReadWrite)
            .map_err(|e| WasmBackendError::Engine(format!("preopen instance dir: {e:#}")))?;
        Ok(wasi.build())
    }

    fn store(&self, out_of_memory: Arc<AtomicBool>) -> Result<Store<InstanceState>> {
        let state = InstanceState {
            wasi: self.wasi()?,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: self.max_memory_bytes,
                hit: out_of_memory,
            },
        };
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        Ok(store)
    }
}

#[async_trait]
impl Backend for WasmBackend {
    async fn create(
        &self,
        spec: ContainerSpec,
    ) -> std::result::Result<ContainerInfo, ExecutorError> {
        Ok(self.create_inner(&spec)?)
    }

    async fn spawn(
        &self,
        guid: &str,
        spec: ProcessSpec,
    ) -> std::result::Result<Spawned, ExecutorError> {
        Ok(self.spawn_inner(guid, spec).await?)
    }

    async fn stream_in(
        &self,
        guid: &str,
        dst_dir: &str,
        _user: &str,
        entries: Vec<FileEntry>,
    ) -> std::result::Result<(), ExecutorError> {
        let root = self.instance(guid)?.dir.clone();
        let dst = dst_dir.to_string();
        tokio::task::spawn_blocking(move || files::write_entries(&root, &dst, entries))
            .await
            .map_err(ExecutorError::backend)??;
        Ok(())
    }

    async fn read_file(
        &self,
        guid: &str,
        path: &str,
        max_bytes: u64,
    ) -> std::result::Result<Vec<u8>, ExecutorError> {
        let root = self.instance(guid)?.dir.clone();
        Ok(files::read(&root, path, max_bytes)?)
    }

    async fn destroy(&self, guid: &str) -> std::result::Result<(), ExecutorError> {
        Ok(self.destroy_inner(guid).await?)
    }

    async fn list(&self) -> std::result::Result<Vec<String>, ExecutorError> {
        let mut guids: Vec<String> = self.lock().keys().cloned().collect();
        if let Ok(entries) = std::fs::read_dir(self.instances_dir()) {
            for entry in entries.flatten() {
                let guid = entry.file_name().to_string_lossy().to_string();
                if entry.path().is_dir() && !guids.contains(&guid) {
                    guids.push(guid);
                }
            }
        }
        Ok(guids)
    }
}
