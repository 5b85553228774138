//! A scripted in-memory container backend for unit tests and simulations.
//!
//! Processes are interpreted from their command line (see [`script`]): `sh -c "echo hi;
//! exit 3"` prints `hi` and exits 3, a `sleep` honours SIGTERM/SIGKILL, and any unknown
//! program behaves like a server that runs until signalled. `on_spawn` replaces the script
//! of matching processes; `fail_create` makes creation fail. Health checks pass while the
//! container has a live process, unless `set_healthy(guid, false)`.

mod process;
pub mod script;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use diego_executor::{
    Backend, CheckTarget, ContainerInfo, ContainerSpec, ExecutorError, FileEntry, FileKind,
    HealthChecker, PortMap, ProcessSpec, Signal, Spawned,
};
use tokio::sync::mpsc;

pub(crate) type Files = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;
type SpawnHook = Box<dyn Fn(&ProcessSpec) -> Option<String> + Send + Sync>;

const FIRST_HOST_PORT: u32 = 61000;

struct FakeContainer {
    spec: ContainerSpec,
    files: Files,
    live_processes: Arc<Mutex<usize>>,
    killers: Vec<mpsc::UnboundedSender<Signal>>,
    spawned: Vec<ProcessSpec>,
}

#[derive(Default)]
struct State {
    containers: HashMap<String, FakeContainer>,
    next_index: u32,
    failing_creates: HashSet<String>,
    fail_all_creates: bool,
    unhealthy: HashSet<String>,
}

#[derive(Default)]
pub struct FakeBackend {
    state: Arc<Mutex<State>>,
    hooks: Mutex<Vec<SpawnHook>>,
}

impl FakeBackend {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake backend poisoned")
    }

    /// The first hook returning Some replaces the process's script (`sh -c` syntax).
    pub fn on_spawn(&self, hook: impl Fn(&ProcessSpec) -> Option<String> + Send + Sync + 'static) {
        self.hooks
            .lock()
            .expect("hooks poisoned")
            .push(Box::new(hook));
    }

    /// Creation of `guid` fails from now on; `"*"` fails every creation.
    pub fn fail_create(&self, guid: &str) {
        let mut state = self.lock();
        if guid == "*" {
            state.fail_all_creates = true;
        } else {
            state.failing_creates.insert(guid.to_string());
        }
    }

    pub fn set_healthy(&self, guid: &str, healthy: bool) {
        let mut state = self.lock();
        if healthy {
            state.unhealthy.remove(guid);
        } else {
            state.unhealthy.insert(guid.to_string());
        }
    }

    /// Every process spawned in the container, in order.
    pub fn spawned(&self, guid: &str) -> Vec<ProcessSpec> {
        self.lock()
            .containers
            .get(guid)
            .map(|c| c.spawned.clone())
            .unwrap_or_default()
    }

    pub fn spec(&self, guid: &str) -> Option<ContainerSpec> {
        self.lock().containers.get(guid).map(|c| c.spec.clone())
    }

    pub fn live_processes(&self, guid: &str) -> usize {
        let state = self.lock();
        state
            .containers
            .get(guid)
            .map(|c| *c.live_processes.lock().expect("poisoned"))
            .unwrap_or(0)
    }

    pub fn file(&self, guid: &str, path: &str) -> Option<Vec<u8>> {
        let state = self.lock();
        let files = state.containers.get(guid)?.files.clone();
        drop(state);
        let content = files.lock().expect("poisoned").get(path).cloned();
        content
    }

    pub fn write_file(&self, guid: &str, path: &str, data: &[u8]) -> Result<(), ExecutorError> {
        let state = self.lock();
        let c = state
            .containers
            .get(guid)
            .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
        c.files
            .lock()
            .expect("poisoned")
            .insert(path.to_string(), data.to_vec());
        Ok(())
    }

    pub fn remove_file(&self, guid: &str, path: &str) {
        if let Some(c) = self.lock().containers.get(guid) {
            c.files.lock().expect("poisoned").remove(path);
        }
    }

    /// Makes a container vanish behind the executor's back (for the reaper).
    pub fn vanish(&self, guid: &str) {
        if let Some(c) = self.lock().containers.remove(guid) {
            for killer in &c.killers {
                let _ = killer.send(Signal::Kill);
            }
        }
    }
}

fn join(dir: &str, rel: &str) -> String {
    format!("{}/{}", dir.trim_end_matches('/'), rel)
}

#[async_trait]
impl Backend for FakeBackend {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerInfo, ExecutorError> {
        let mut state = self.lock();
        if state.fail_all_creates || state.failing_creates.contains(&spec.guid) {
            return Err(ExecutorError::backend("fake create failure"));
        }
        if state.containers.contains_key(&spec.guid) {
            return Err(ExecutorError::AlreadyExists(spec.guid));
        }
        state.next_index += 1;
        let n = state.next_index;
        let ports = spec
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| PortMap {
                container_port: *p,
                host_port: FIRST_HOST_PORT + n * 10 + i as u32,
            })
            .collect();
        let info = ContainerInfo {
            internal_ip: format!("10.254.{}.{}", n / 250, n % 250 + 2),
            ports,
        };
        let container = FakeContainer {
            spec: spec.clone(),
            files: Files::default(),
            live_processes: Arc::default(),
            killers: Vec::new(),
            spawned: Vec::new(),
        };
        state.containers.insert(spec.guid, container);
        Ok(info)
    }

    async fn spawn(&self, guid: &str, spec: ProcessSpec) -> Result<Spawned, ExecutorError> {
        let replacement = {
            let hooks = self.hooks.lock().expect("hooks poisoned");
            hooks.iter().find_map(|h| h(&spec))
        };
        let commands = match replacement {
            Some(script) => script::parse_script(&script),
            None => script::parse(&spec.path, &spec.args),
        };
        let mut state = self.lock();
        let c = state
            .containers
            .get_mut(guid)
            .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
        c.spawned.push(spec.clone());
        let running = process::start(spec, commands, c.files.clone(), c.live_processes.clone());
        c.killers.push(running.killer);
        Ok(Spawned {
            process: running.handle,
            output: running.output,
        })
    }

    async fn stream_in(
        &self,
        guid: &str,
        dst_dir: &str,
        _user: &str,
        entries: Vec<FileEntry>,
    ) -> Result<(), ExecutorError> {
        let state = self.lock();
        let c = state
            .containers
            .get(guid)
            .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
        let mut files = c.files.lock().expect("poisoned");
        for entry in entries {
            if let FileKind::File(data) = entry.kind {
                files.insert(join(dst_dir, &entry.path), data);
            }
        }
        Ok(())
    }

    async fn read_file(
        &self,
        guid: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ExecutorError> {
        let state = self.lock();
        let c = state
            .containers
            .get(guid)
            .ok_or_else(|| ExecutorError::NotFound(guid.into()))?;
        let files = c.files.lock().expect("poisoned");
        let data = files
            .get(path)
            .ok_or_else(|| ExecutorError::backend(format!("no such file: {path}")))?;
        if data.len() as u64 > max_bytes {
            return Err(ExecutorError::FileTooLarge {
                path: path.to_string(),
                max_bytes,
            });
        }
        Ok(data.clone())
    }

    async fn destroy(&self, guid: &str) -> Result<(), ExecutorError> {
        self.vanish(guid);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<String>, ExecutorError> {
        Ok(self.lock().containers.keys().cloned().collect())
    }

    fn health_checker(&self) -> Option<Arc<dyn HealthChecker>> {
        Some(Arc::new(FakeHealth {
            state: self.state.clone(),
        }))
    }
}

/// Healthy while the container has a live process and was not marked unhealthy.
struct FakeHealth {
    state: Arc<Mutex<State>>,
}

#[async_trait]
impl HealthChecker for FakeHealth {
    async fn check(&self, target: &CheckTarget, check: &diego_model::Check) -> Result<(), String> {
        let state = self.state.lock().expect("fake backend poisoned");
        let port = check
            .tcp_check
            .as_ref()
            .map(|c| c.port)
            .or(check.http_check.as_ref().map(|c| c.port));
        let live = state
            .containers
            .get(&target.guid)
            .map(|c| *c.live_processes.lock().expect("poisoned"))
            .unwrap_or(0);
        if live == 0 || state.unhealthy.contains(&target.guid) {
            return Err(format!(
                "Failed to make TCP connection to port {}: connection refused",
                port.unwrap_or(0)
            ));
        }
        Ok(())
    }
}
