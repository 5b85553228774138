//! Container backend on an OCI runtime (runc or crun) with OCI bundles and CNI networking.
//!
//! Per container: a bundle at `<state_dir>/containers/<guid>` (config.json, an overlay
//! rootfs over the shared busybox base, net.json), a netns `diego-<hash>` wired by the CNI
//! bridge/host-local/portmap plugins, and a runc or crun container whose init sleeps; Run
//! actions are `<runtime> exec`s. Destroy undoes all of it.

mod bundle;
mod cmd;
mod egress;
mod error;
mod files;
mod net;
mod pidfd;
mod portmap;
mod process;
mod rootfs;
mod runtime;
mod sys;
mod timing;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use diego_executor::{
    Backend, ContainerInfo, ContainerSpec, ExecutorError, FileEntry, PortMap, ProcessSpec, Spawned,
};
use tokio::sync::{Mutex as AsyncMutex, Semaphore};

pub use error::OciError;
pub use net::{NetConfig, NetState, DEBIAN_CNI_DIR, DIEGO_CNI_DIR};
pub use portmap::{PortmapBackend, HOSTPORT_TABLE};
pub use rootfs::BUSYBOX_ROOTFS;
pub use runtime::{crun_cgroup_blocker, OciRuntime, RUNTIME_ENV};
pub use timing::PhaseTimings;

use error::Result;
use net::PortPool;

/// The runtime writes the container init's host pid here (`run --pid-file`).
const INIT_PID_FILE: &str = "init.pid";

#[derive(Debug, Clone)]
pub struct OciConfig {
    pub cell_id: String,
    /// Bundles, runtime state and IPAM leases of this cell.
    pub state_dir: PathBuf,
    /// The OCI runtime new containers get; None = crun when it is installed and can
    /// manage this host's cgroups, else runc (ADR 0025). Existing containers keep the
    /// one that made them.
    pub runtime: Option<OciRuntime>,
    /// Where the shared read-only busybox base lives.
    pub rootfs_dir: PathBuf,
    pub net: NetConfig,
    /// Keep per-phase create/destroy timings for `take_timings` (benchmarks).
    pub record_timings: bool,
    /// At most this many CNI plugin runs at once (0 = no limit): portmap and bridge
    /// each run ten or more iptables commands that contend on the nat table.
    pub cni_concurrency: usize,
    /// Run actions as `exec -d`: no runtime process stays as the parent of each app
    /// process; this process becomes a child subreaper, adopts it and reaps it
    /// through a pidfd (ADR 0025). false: `exec` stays attached as before.
    pub exec_detached: bool,
}

impl OciConfig {
    /// Defaults under /var/lib/diego; the subnet 10.255.<n>.0/24 and bridge `diego<n>`
    /// come from `subnet_index` so several cells can share one machine. CNI plugins
    /// are looked up in $DIEGO_CNI_DIR (default /usr/local/lib/diego/cni, where
    /// scripts/setup.sh builds them), then Debian's /usr/lib/cni. The runtime is
    /// $DIEGO_OCI_RUNTIME (`runc` or `crun`; `available` rejects anything else), else
    /// chosen when the backend starts.
    pub fn new(cell_id: &str, subnet_index: u8) -> Self {
        let state_dir = PathBuf::from("/var/lib/diego").join(cell_id);
        let diego_cni_dir = std::env::var_os("DIEGO_CNI_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(DIEGO_CNI_DIR), PathBuf::from);
        Self {
            cell_id: cell_id.to_string(),
            rootfs_dir: PathBuf::from("/var/lib/diego/rootfs"),
            net: NetConfig {
                cni_search_path: vec![diego_cni_dir, PathBuf::from(DEBIAN_CNI_DIR)],
                portmap_backend: None,
                portmap_direct_del: true,
                bridge: format!("diego{subnet_index}"),
                subnet: format!("10.255.{subnet_index}.0/24"),
                ipam_dir: state_dir.join("ipam"),
                network_name: format!("diego-{cell_id}"),
                host_port_range: (61000, 64999),
                cell_masquerade: true,
            },
            state_dir,
            runtime: OciRuntime::from_env().ok().flatten(),
            record_timings: false,
            cni_concurrency: 0,
            exec_detached: true,
        }
    }
}

pub struct OciBackend {
    cfg: OciConfig,
    /// `cfg.runtime`, or the one chosen for this host when that is None.
    runtime: OciRuntime,
    /// Why the runtime cannot run containers here (crun on hybrid cgroups), if so:
    /// creates fail with it instead of the runtime's own words.
    runtime_blocker: Option<String>,
    ports: PortPool,
    /// Serialises building the shared rootfs.
    base_lock: AsyncMutex<()>,
    timings: timing::TimingLog,
    /// Bounds concurrent CNI plugin runs (`cni_concurrency`).
    cni: Semaphore,
    /// Containers that exist (or are being made) on this cell. The cell-wide
    /// masquerade rule is added when the first arrives and removed when the last is
    /// destroyed, so an idle cell holds no iptables rule (ADR 0016).
    net_users: AsyncMutex<NetUsers>,
    /// Run actions as `exec -d` (`exec_detached` and this process is a child
    /// subreaper): the processes the runtime starts detached become our children.
    subreaper: bool,
    /// Containers whose init this backend started while the process was a subreaper
    /// (set by any backend in it): our children, to be reaped when they are destroyed.
    adopted_inits: std::sync::Mutex<HashSet<String>>,
}

#[derive(Default)]
struct NetUsers {
    guids: HashSet<String>,
    /// Whether this backend has put the masquerade rule in place.
    rule_in_place: bool,
    /// Whether one of them had ports mapped by the nftables portmap, whose table
    /// is removed with the last container when no other cell uses it (ADR 0019).
    hostport_table_used: bool,
}

impl OciBackend {
    pub fn new(cfg: OciConfig) -> Arc<Self> {
        let ports = PortPool::new(cfg.net.host_port_range);
        let runtime = cfg.runtime.unwrap_or_else(OciRuntime::detect);
        let runtime_blocker = runtime.unusable_reason();
        let subreaper = cfg.exec_detached
            && match pidfd::become_subreaper() {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot become a child subreaper; run actions keep an attached exec");
                    false
                }
            };
        let backend = Self {
            runtime,
            runtime_blocker,
            subreaper,
            adopted_inits: std::sync::Mutex::new(HashSet::new()),
            timings: timing::TimingLog::new(cfg.record_timings),
            cni: Semaphore::new(match cfg.cni_concurrency {
                0 => Semaphore::MAX_PERMITS,
                n => n,
            }),
            net_users: AsyncMutex::new(NetUsers::default()),
            cfg,
            ports,
            base_lock: AsyncMutex::new(()),
        };
        // Containers surviving a restart keep their host ports and their share of the
        // masquerade rule.
        if let Ok(entries) = std::fs::read_dir(backend.cfg.state_dir.join("containers")) {
            for entry in entries.flatten() {
                let guid = entry.file_name().to_string_lossy().to_string();
                let net = backend.load_net(&guid).unwrap_or_default();
                let mut users = backend.net_users.try_lock().expect("no other user yet");
                users.guids.insert(guid.clone());
                users.hostport_table_used |=
                    !net.ports.is_empty() && net.portmap_backend == PortmapBackend::Nftables;
                for (_, host_port) in net.ports {
                    backend.ports.reserve(host_port);
                }
            }
        }
        Arc::new(backend)
    }

    /// Whether this machine can run containers: root, a valid $DIEGO_OCI_RUNTIME and
    /// the runtime it names (or, unset, runc or crun) on PATH.
    pub fn available() -> std::result::Result<(), String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root".to_string());
        }
        let wanted = OciRuntime::from_env().map_err(|e| format!("{RUNTIME_ENV}: {e}"))?;
        match wanted {
            Some(rt) if !rt.installed() => {
                Err(format!("{} not found ({RUNTIME_ENV})", rt.binary()))
            }
            Some(_) => Ok(()),
            None if [OciRuntime::Runc, OciRuntime::Crun]
                .iter()
                .all(|rt| !rt.installed()) =>
            {
                Err("neither runc nor crun found".to_string())
            }
            None => Ok(()),
        }
    }

    /// The runtime new containers get.
    pub fn runtime(&self) -> OciRuntime {
        self.runtime
    }

    /// The `--root` state directory of `runtime` on this cell: one per runtime, so a
    /// change of runtime never mixes their state.
    pub fn runtime_root(&self, runtime: OciRuntime) -> PathBuf {
        self.cfg.state_dir.join(runtime.as_str())
    }

    fn bundle(&self, guid: &str) -> PathBuf {
        self.cfg.state_dir.join("containers").join(guid)
    }

    fn base(&self) -> PathBuf {
        self.cfg.rootfs_dir.join("busybox")
    }

    pub fn cgroups_path(&self, guid: &str) -> String {
        bundle::cgroups_path(&self.cfg.cell_id, guid)
    }

    pub fn netns_name(&self, guid: &str) -> String {
        net::netns_name(&self.cfg.cell_id, guid)
    }

    /// The portmap plugin and backend a create with ports would use now.
    pub fn portmap(&self) -> std::result::Result<(PathBuf, PortmapBackend), OciError> {
        self.cfg.net.choose_portmap()
    }

    /// The phases of the last create and destroy of `guid` (with `record_timings`).
    pub fn take_timings(&self, guid: &str) -> (Option<PhaseTimings>, Option<PhaseTimings>) {
        self.timings.take(guid)
    }

    /// Removes the cell's bridge (and its masquerade rule, normally gone with the last
    /// container). For a cell going away for good; destroy its containers first.
    pub async fn remove_cell_network(&self) -> std::result::Result<(), OciError> {
        self.cfg.net.remove_cell_network().await
    }

    fn load_net(&self, guid: &str) -> Option<NetState> {
        let text = std::fs::read_to_string(self.bundle(guid).join("net.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    async fn create_inner(&self, spec: &ContainerSpec) -> Result<ContainerInfo> {
        if spec.rootfs != BUSYBOX_ROOTFS && !spec.rootfs.is_empty() {
            return Err(OciError::UnsupportedRootfs(spec.rootfs.clone()));
        }
        if let Some(reason) = &self.runtime_blocker {
            return Err(OciError::RuntimeUnusable {
                runtime: self.runtime.as_str().to_string(),
                reason: reason.clone(),
            });
        }
        let mut sw = timing::Stopwatch::start();
        {
            let _guard = self.base_lock.lock().await;
            rootfs::ensure_base(&self.base()).await?;
        }
        let dir = self.bundle(&spec.guid);
        std::fs::create_dir_all(dir.join("proc")).map_err(OciError::io("create bundle"))?;
        let mut state = NetState {
            netns: self.netns_name(&spec.guid),
            ..Default::default()
        };
        if !spec.ports.is_empty() {
            let (plugin, backend) = self.cfg.net.choose_portmap()?;
            state.portmap_plugin = Some(plugin);
            state.portmap_backend = backend;
        }
        for port in &spec.ports {
            state.ports.push((*port, self.ports.take()?));
        }
        // Written first so a half-created container can still be torn down.
        self.save_net(&spec.guid, &state)?;
        let rt = self.runtime;
        std::fs::write(dir.join(runtime::RUNTIME_FILE), rt.as_str())
            .map_err(OciError::io("write runtime"))?;
        sw.mark("bundle dir");
        rootfs::mount_overlay(&self.base(), &dir).await?;
        sw.mark("overlay mount");
        {
            let mut users = self.net_users.lock().await;
            if !users.rule_in_place {
                self.cfg.net.ensure_cell_masquerade().await?;
                users.rule_in_place = true;
            }
            users.guids.insert(spec.guid.clone());
            users.hostport_table_used |=
                !state.ports.is_empty() && state.portmap_backend == PortmapBackend::Nftables;
        }
        self.cfg.net.create_netns(&state).await?;
        // before the init or any Run action exists, so nothing ever runs unrestricted
        egress::apply(&state.netns, &spec.egress_rules).await?;
        sw.mark("egress rules");
        let config = bundle::config(spec, &self.cfg.cell_id, &net::netns_path(&state.netns));
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&config).expect("json"),
        )
        .map_err(OciError::io("write config.json"))?;
        sw.mark("netns + config.json");
        // The init only sleeps and needs no network, so the runtime starts it while CNI wires
        // the netns; create returns once both are done, so a Run action still finds
        // eth0, its IP and its host ports in place.
        let mut net_sw = timing::Stopwatch::start();
        let mut run_sw = timing::Stopwatch::start();
        let attach = self
            .cfg
            .net
            .attach(&spec.guid, &mut state, &self.cni, &mut net_sw);
        let root = self.runtime_root(rt).to_string_lossy().to_string();
        let bundle = dir.to_string_lossy().to_string();
        let pid_file = dir.join(INIT_PID_FILE).to_string_lossy().to_string();
        if pidfd::is_subreaper() {
            self.adopted_inits
                .lock()
                .expect("adopted inits poisoned")
                .insert(spec.guid.clone());
        }
        let args = [
            "--root",
            &root,
            "run",
            "-d",
            "--pid-file",
            &pid_file,
            "--bundle",
            &bundle,
            &spec.guid,
        ];
        let run = async {
            let r = cmd::run_detached(rt.binary(), &args, &dir.join("init.log")).await;
            run_sw.mark(match rt {
                OciRuntime::Runc => "runc run",
                OciRuntime::Crun => "crun run",
            });
            r
        };
        let run = async {
            let ran = run.await;
            if rt == OciRuntime::Crun && pidfd::is_subreaper() {
                process::reap_crun_intermediate(&dir.join(INIT_PID_FILE)).await;
            }
            ran
        };
        let (attached, ran) = tokio::join!(attach, run);
        sw.mark("cni add | runtime run (wall)");
        sw.overlapped(net_sw.finish());
        sw.overlapped(run_sw.finish());
        // Saved whatever happened: destroy needs the ports even after a failure.
        self.save_net(&spec.guid, &state)?;
        attached?;
        ran?;
        self.timings.record_create(&spec.guid, sw.finish());
        Ok(ContainerInfo {
            internal_ip: state.ip.clone(),
            ports: state
                .ports
                .iter()
                .map(|(c, h)| PortMap {
                    container_port: *c,
                    host_port: *h,
                })
                .collect(),
        })
    }

    fn save_net(&self, guid: &str, state: &NetState) -> Result<()> {
        std::fs::write(
            self.bundle(guid).join("net.json"),
            serde_json::to_vec(state).expect("json"),
        )
        .map_err(OciError::io("write net.json"))
    }

    async fn destroy_inner(&self, guid: &str) -> Result<()> {
        let dir = self.bundle(guid);
        let rt = OciRuntime::of_bundle(&dir);
        let root = self.runtime_root(rt).to_string_lossy().to_string();
        let mut first_err: Option<OciError> = None;
        let mut sw = timing::Stopwatch::start();
        // `runc delete -f` sleeps 100 ms after its SIGKILL before it looks again:
        // killing the init ourselves and waiting on a pidfd leaves a stopped
        // container that a plain delete removes at once. `-f` stays the fallback.
        let init = self.bundle(guid).join(INIT_PID_FILE);
        let adopted = self
            .adopted_inits
            .lock()
            .expect("adopted inits poisoned")
            .remove(guid);
        process::kill_init(&init, &self.cgroups_path(guid), adopted).await;
        let bin = rt.binary();
        if let Err(e) = cmd::run(bin, &["--root", &root, "delete", guid]).await {
            if !rt.says_missing(&e.to_string()) {
                if let Err(e) = cmd::run(bin, &["--root", &root, "delete", "-f", guid]).await {
                    if !rt.says_missing(&e.to_string()) {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        sw.mark(match rt {
            OciRuntime::Runc => "runc delete",
            OciRuntime::Crun => "crun delete",
        });
        if let Some(state) = self.load_net(guid) {
            if let Err(e) = self
                .cfg
                .net
                .teardown(guid, &state, &self.cni, &mut sw)
                .await
            {
                first_err.get_or_insert(e);
            }
            for (_, host_port) in &state.ports {
                self.ports.release(*host_port);
            }
        }
        {
            let mut users = self.net_users.lock().await;
            if users.guids.remove(guid) && users.guids.is_empty() {
                match self.cfg.net.remove_cell_masquerade().await {
                    Ok(()) => users.rule_in_place = false,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
                if users.hostport_table_used {
                    match portmap::remove_table_if_unused().await {
                        Ok(_) => users.hostport_table_used = false,
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
            }
        }
        remove_cgroups(&self.cgroups_path(guid));
        sw.mark("cgroups");
        if let Err(e) = rootfs::unmount(&dir.join("rootfs")).await {
            first_err.get_or_insert(e);
        }
        sw.mark("umount");
        if dir.exists() && !rootfs::is_mounted(&dir.join("rootfs")) {
            let bundle = dir.clone();
            let removed = sys::blocking(move || {
                std::fs::remove_dir_all(&bundle).map_err(OciError::io("remove bundle"))
            })
            .await;
            if let Err(e) = removed {
                first_err.get_or_insert(e);
            }
        }
        sw.mark("remove bundle");
        self.timings.record_destroy(guid, sw.finish());
        first_err.map_or(Ok(()), Err)
    }

    fn rootfs_of(&self, guid: &str) -> Result<PathBuf> {
        let rootfs = self.bundle(guid).join("rootfs");
        if !rootfs.join("etc/passwd").exists() {
            return Err(OciError::NotFound(guid.to_string()));
        }
        Ok(rootfs)
    }

    fn spawn_inner(&self, guid: &str, spec: ProcessSpec) -> Result<Spawned> {
        let rootfs = self.rootfs_of(guid)?;
        let (uid, gid, home) = rootfs::lookup_user(&rootfs, &spec.user)?;
        let mut env: Vec<String> = vec![
            format!("HOME={home}"),
            format!(
                "USER={}",
                if spec.user.is_empty() {
                    "root"
                } else {
                    &spec.user
                }
            ),
        ];
        env.extend(spec.env.iter().map(|v| format!("{}={}", v.name, v.value)));
        let mut args = vec![spec.path.clone()];
        args.extend(spec.args.iter().cloned());
        let cwd = if spec.dir.is_empty() {
            home
        } else {
            spec.dir.clone()
        };
        // the runtime would start, and the step would count as running, before the
        // exec fails inside; Garden refuses a missing binary at spawn
        let search_path = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(bundle::DEFAULT_SEARCH_PATH);
        if !rootfs::may_have_executable(&rootfs, &spec.path, &cwd, search_path) {
            return Err(OciError::ExecutableNotFound(spec.path.clone()));
        }
        let process = bundle::exec_process(&bundle::ExecProcess {
            args,
            env,
            cwd: &cwd,
            uid,
            gid,
            nofile: spec.nofile,
            privileged: false,
        });
        let id = uuid::Uuid::new_v4().to_string();
        let dir = self.bundle(guid).join("proc");
        let process_file = dir.join(format!("{id}.json"));
        std::fs::write(&process_file, serde_json::to_vec(&process).expect("json"))
            .map_err(OciError::io("write process.json"))?;
        let rt = OciRuntime::of_bundle(&self.bundle(guid));
        let root = self.runtime_root(rt).to_string_lossy().to_string();
        let (handle, output) = process::spawn(process::ExecRequest {
            runtime: rt,
            root: &root,
            id: guid,
            process_file,
            pid_file: dir.join(format!("{id}.pid")),
            cgroups_path: self.cgroups_path(guid),
            detached: self.subreaper,
        })?;
        Ok(Spawned {
            process: handle,
            output,
        })
    }
}

/// The runtime removes its cgroups on delete; this catches the ones a crash left behind.
fn remove_cgroups(cgroups_path: &str) {
    let rel = cgroups_path.trim_start_matches('/');
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
        roots.extend(dirs.flatten().map(|d| d.path()));
    }
    for root in roots {
        let path = root.join(rel);
        if path.is_dir() {
            let _ = std::fs::remove_dir(&path);
        }
    }
}

#[async_trait]
impl Backend for OciBackend {
    async fn create(
        &self,
        spec: ContainerSpec,
    ) -> std::result::Result<ContainerInfo, ExecutorError> {
        match self.create_inner(&spec).await {
            Ok(info) => Ok(info),
            Err(e) => {
                // Leave nothing half-made behind a failed create.
                if let Err(cleanup) = self.destroy_inner(&spec.guid).await {
                    tracing::warn!(guid = %spec.guid, error = %cleanup, "cleanup after failed create");
                }
                Err(e.into())
            }
        }
    }

    async fn spawn(
        &self,
        guid: &str,
        spec: ProcessSpec,
    ) -> std::result::Result<Spawned, ExecutorError> {
        Ok(self.spawn_inner(guid, spec)?)
    }

    async fn stream_in(
        &self,
        guid: &str,
        dst_dir: &str,
        user: &str,
        entries: Vec<FileEntry>,
    ) -> std::result::Result<(), ExecutorError> {
        let rootfs = self.rootfs_of(guid)?;
        let (uid, gid, _) = rootfs::lookup_user(&rootfs, user)?;
        let dst = dst_dir.to_string();
        tokio::task::spawn_blocking(move || files::write_entries(&rootfs, &dst, uid, gid, entries))
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
        let rootfs = self.rootfs_of(guid)?;
        Ok(files::read(&rootfs, path, max_bytes)?)
    }

    async fn destroy(&self, guid: &str) -> std::result::Result<(), ExecutorError> {
        Ok(self.destroy_inner(guid).await?)
    }

    async fn list(&self) -> std::result::Result<Vec<String>, ExecutorError> {
        let dir = self.cfg.state_dir.join("containers");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect())
    }
}
