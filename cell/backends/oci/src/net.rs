//! Per-container network: a named netns wired with the CNI bridge, host-local and
//! portmap plugins, invoked directly as the CNI spec describes. Plugins come from an
//! ordered search path (the diego directory scripts/setup.sh fills, then Debian's);
//! portmap uses its nftables backend when the plugin found has it, and then its DEL is
//! one nft transaction of our own (ADR 0019, `portmap.rs`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cmd;
use crate::error::{OciError, Result};
use crate::portmap::{self, PortmapBackend};
use crate::timing::Stopwatch;
use tokio::sync::Semaphore;

const CNI_VERSION: &str = "1.0.0";
const IFNAME: &str = "eth0";

/// Where scripts/setup.sh builds the upstream plugins it needs (ADR 0019).
pub const DIEGO_CNI_DIR: &str = "/usr/local/lib/diego/cni";
/// Debian's containernetworking-plugins.
pub const DEBIAN_CNI_DIR: &str = "/usr/lib/cni";

#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Directories searched in order for each plugin (and passed to the plugins as
    /// CNI_PATH, so the bridge finds host-local the same way).
    pub cni_search_path: Vec<PathBuf>,
    /// None: nftables when the portmap plugin found has that backend and `nft` is
    /// installed, else iptables. Some(Nftables) with a portmap without it fails creates
    /// with a message saying so (ADR 0019).
    pub portmap_backend: Option<PortmapBackend>,
    /// With the nftables backend, DEL deletes the container's rules in one nft
    /// transaction (two `nft` runs) instead of running the plugin's DEL (twelve);
    /// the same rules go either way (ADR 0019).
    pub portmap_direct_del: bool,
    pub bridge: String,
    /// e.g. 10.255.7.0/24
    pub subnet: String,
    /// host-local's lease files, under the cell's state dir so destroy leaves nothing.
    pub ipam_dir: PathBuf,
    pub network_name: String,
    pub host_port_range: (u32, u32),
    /// Masquerade the containers' outbound traffic with one rule for the cell's subnet
    /// (present while the cell has containers, see `ensure_cell_masquerade`) instead of the
    /// bridge plugin's `ipMasq` chain per container, which costs about ten iptables
    /// runs per create and destroy (ADR 0016).
    pub cell_masquerade: bool,
}

/// What destroy needs to undo the network, persisted beside the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct NetState {
    pub netns: String,
    pub ip: String,
    /// (container port, host port)
    pub ports: Vec<(u32, u32)>,
    /// The portmap plugin and backend that mapped `ports`, so DEL runs the same ones
    /// even if the search path changed meanwhile. None (files from before ADR 0019):
    /// whichever portmap is found, iptables backend.
    #[serde(default)]
    pub portmap_plugin: Option<PathBuf>,
    #[serde(default)]
    pub portmap_backend: PortmapBackend,
}

pub(crate) fn netns_name(cell_id: &str, guid: &str) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(format!("{cell_id}/{guid}")));
    format!("diego-{}", &digest[..12])
}

pub(crate) fn netns_path(name: &str) -> PathBuf {
    Path::new("/var/run/netns").join(name)
}

/// Hands out host ports, skipping ones in use by us or by anything listening.
pub(crate) struct PortPool {
    range: (u32, u32),
    taken: Mutex<HashSet<u32>>,
}

impl PortPool {
    pub(crate) fn new(range: (u32, u32)) -> Self {
        Self {
            range,
            taken: Mutex::new(HashSet::new()),
        }
    }

    pub(crate) fn take(&self) -> Result<u32> {
        let mut taken = self.taken.lock().expect("port pool poisoned");
        for port in self.range.0..=self.range.1 {
            if taken.contains(&port) {
                continue;
            }
            // Another cell on this machine may use the same range: probe the host too.
            if std::net::TcpListener::bind(("0.0.0.0", port as u16)).is_ok() {
                taken.insert(port);
                return Ok(port);
            }
        }
        Err(OciError::NoFreePort(format!(
            "{}-{}",
            self.range.0, self.range.1
        )))
    }

    pub(crate) fn reserve(&self, port: u32) {
        self.taken.lock().expect("port pool poisoned").insert(port);
    }

    pub(crate) fn release(&self, port: u32) {
        self.taken.lock().expect("port pool poisoned").remove(&port);
    }
}

impl NetConfig {
    fn bridge_conf(&self) -> Value {
        json!({
            "cniVersion": CNI_VERSION,
            "name": self.network_name,
            "type": "bridge",
            "bridge": self.bridge,
            "isGateway": true,
            // A container reaching its own host port through a host address: with
            // br_netfilter the DNATed frame leaves by the port it came in on.
            "hairpinMode": true,
            "ipMasq": !self.cell_masquerade,
            "ipam": {
                "type": "host-local",
                "subnet": self.subnet,
                "dataDir": self.ipam_dir.to_string_lossy(),
            }
        })
    }

    fn portmap_conf(&self, state: &NetState, prev: Option<&Value>) -> Value {
        let ports = &state.ports;
        let mappings: Vec<Value> = ports
            .iter()
            .map(|(c, h)| json!({"hostPort": h, "containerPort": c, "protocol": "tcp"}))
            .collect();
        let mut conf = json!({
            "cniVersion": CNI_VERSION,
            "name": self.network_name,
            "type": "portmap",
            "capabilities": {"portMappings": true},
            "snat": true,
            "runtimeConfig": {"portMappings": mappings},
        });
        // Only upstream >= v1.5 knows the field; Debian's 1.1.1 would ignore it.
        if state.portmap_backend == PortmapBackend::Nftables {
            conf["backend"] = json!("nftables");
            // Its prerouting jump has no destination check, so a host port would also
            // capture traffic passing through to other hosts; the iptables backend
            // matches local addresses only (`-m addrtype --dst-type LOCAL`): same here.
            conf["conditionsV4"] = json!(["fib daddr type local"]);
        }
        if let Some(prev) = prev {
            conf["prevResult"] = prev.clone();
        }
        conf
    }

    /// The first `plugin` on the search path.
    pub(crate) fn find_plugin(&self, plugin: &str) -> Result<PathBuf> {
        self.cni_search_path
            .iter()
            .map(|dir| dir.join(plugin))
            .find(|path| path.is_file())
            .ok_or_else(|| OciError::Cni {
                plugin: plugin.into(),
                command: "find".into(),
                message: format!(
                    "not found in cni_search_path {:?} (install containernetworking-plugins)",
                    self.cni_search_path
                ),
            })
    }

    /// The portmap plugin and the backend to run it with (see `portmap_backend`).
    pub(crate) fn choose_portmap(&self) -> Result<(PathBuf, PortmapBackend)> {
        let plugin = self.find_plugin("portmap")?;
        let capable = portmap::supports_nftables(&plugin) && portmap::nft_available();
        let backend = match self.portmap_backend {
            None if capable => PortmapBackend::Nftables,
            None | Some(PortmapBackend::Iptables) => PortmapBackend::Iptables,
            Some(PortmapBackend::Nftables) if capable => PortmapBackend::Nftables,
            Some(PortmapBackend::Nftables) => {
                return Err(OciError::Cni {
                    plugin: "portmap".into(),
                    command: "find".into(),
                    message: format!(
                        "portmap_backend nftables, but {} has no {} naming v1.5 or later beside it, or nft is not installed (run scripts/setup.sh)",
                        plugin.display(),
                        portmap::VERSION_FILE
                    ),
                })
            }
        };
        Ok((plugin, backend))
    }

    async fn invoke(
        &self,
        cni: &Semaphore,
        binary: &Path,
        command: &str,
        id: &str,
        netns: &str,
        conf: &Value,
    ) -> Result<Value> {
        let _permit = cni.acquire().await.expect("cni semaphore never closed");
        let plugin = binary
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let cni_path = std::env::join_paths(&self.cni_search_path)
            .map_err(|e| OciError::Cni {
                plugin: plugin.clone(),
                command: command.into(),
                message: format!("cni_search_path: {e}"),
            })?
            .to_string_lossy()
            .to_string();
        let netns_path = netns_path(netns).to_string_lossy().to_string();
        let env = [
            ("CNI_COMMAND", command),
            ("CNI_CONTAINERID", id),
            ("CNI_NETNS", netns_path.as_str()),
            ("CNI_IFNAME", IFNAME),
            ("CNI_PATH", cni_path.as_str()),
        ];
        let input = serde_json::to_vec(conf).expect("json");
        let out = cmd::run_with_stdin(&binary.to_string_lossy(), &[], &env, Some(&input))
            .await
            .map_err(|e| OciError::Cni {
                plugin,
                command: command.into(),
                message: e.to_string(),
            })?;
        Ok(serde_json::from_str(&out).unwrap_or(Value::Null))
    }

    /// The container's netns with loopback up; `attach` wires it to the bridge.
    pub(crate) async fn create_netns(&self, state: &NetState) -> Result<()> {
        let name = state.netns.clone();
        crate::sys::blocking(move || crate::sys::netns_add(&name)).await
    }

    /// bridge (+ portmap) into the netns `create_netns` made; sets the container's IP.
    pub(crate) async fn attach(
        &self,
        id: &str,
        state: &mut NetState,
        cni: &Semaphore,
        sw: &mut Stopwatch,
    ) -> Result<()> {
        let bridge = self.find_plugin("bridge")?;
        let result = self
            .invoke(cni, &bridge, "ADD", id, &state.netns, &self.bridge_conf())
            .await?;
        state.ip = result["ips"][0]["address"]
            .as_str()
            .and_then(|a| a.split('/').next())
            .ok_or_else(|| OciError::Cni {
                plugin: "bridge".into(),
                command: "ADD".into(),
                message: format!("no ip in {result}"),
            })?
            .to_string();
        sw.mark("cni bridge add");
        if !state.ports.is_empty() {
            let portmap = match &state.portmap_plugin {
                Some(p) => p.clone(),
                None => self.find_plugin("portmap")?,
            };
            let _lock = match state.portmap_backend {
                PortmapBackend::Nftables => Some(portmap::lock_shared().await?),
                PortmapBackend::Iptables => None,
            };
            self.invoke(
                cni,
                &portmap,
                "ADD",
                id,
                &state.netns,
                &self.portmap_conf(state, Some(&result)),
            )
            .await?;
            sw.mark("cni portmap add");
        }
        Ok(())
    }

    /// Undoes `attach` and `create_netns`; every part is attempted even when an earlier one fails.
    pub(crate) async fn teardown(
        &self,
        id: &str,
        state: &NetState,
        cni: &Semaphore,
        sw: &mut Stopwatch,
    ) -> Result<()> {
        let mut first_err = None;
        if !state.ports.is_empty() {
            if let Err(e) = self.portmap_del(id, state, cni).await {
                first_err.get_or_insert(e);
            }
            sw.mark("cni portmap del");
        }
        let bridge_del = async {
            let bridge = self.find_plugin("bridge")?;
            self.invoke(cni, &bridge, "DEL", id, &state.netns, &self.bridge_conf())
                .await
        };
        if let Err(e) = bridge_del.await {
            first_err.get_or_insert(e);
        }
        sw.mark("cni bridge del");
        let name = state.netns.clone();
        if let Err(e) = crate::sys::blocking(move || crate::sys::netns_del(&name)).await {
            first_err.get_or_insert(e);
        }
        sw.mark("netns del");
        first_err.map_or(Ok(()), Err)
    }

    async fn portmap_del(&self, id: &str, state: &NetState, cni: &Semaphore) -> Result<()> {
        let portmap = match &state.portmap_plugin {
            Some(p) => p.clone(),
            None => self.find_plugin("portmap")?,
        };
        let _lock = match state.portmap_backend {
            PortmapBackend::Nftables => Some(portmap::lock_shared().await?),
            PortmapBackend::Iptables => None,
        };
        if state.portmap_backend == PortmapBackend::Nftables && self.portmap_direct_del {
            let _permit = cni.acquire().await.expect("cni semaphore never closed");
            return portmap::delete_container_rules(id)
                .await
                .map_err(|e| OciError::Cni {
                    plugin: "portmap".into(),
                    command: "DEL".into(),
                    message: e.to_string(),
                });
        }
        let conf = self.portmap_conf(state, None);
        self.invoke(cni, &portmap, "DEL", id, &state.netns, &conf)
            .await
            .map(|_| ())
    }

    fn masquerade_rule(&self) -> Vec<String> {
        let comment = format!("{} masquerade", self.network_name);
        [
            "POSTROUTING",
            "-s",
            &self.subnet,
            "!",
            "-d",
            &self.subnet,
            "-m",
            "comment",
            "--comment",
            &comment,
            "-j",
            "MASQUERADE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    async fn iptables_nat(&self, op: &str) -> Result<String> {
        let rule = self.masquerade_rule();
        let mut args = vec!["--wait", "-t", "nat", op];
        args.extend(rule.iter().map(String::as_str));
        cmd::run("iptables", &args).await
    }

    /// The cell's one outbound masquerade rule (with `cell_masquerade`); idempotent.
    pub(crate) async fn ensure_cell_masquerade(&self) -> Result<()> {
        if !self.cell_masquerade || self.iptables_nat("-C").await.is_ok() {
            return Ok(());
        }
        self.iptables_nat("-A").await.map(|_| ())
    }

    /// Removes the cell's masquerade rule (every copy); idempotent.
    pub(crate) async fn remove_cell_masquerade(&self) -> Result<()> {
        while self.iptables_nat("-C").await.is_ok() {
            self.iptables_nat("-D").await?;
        }
        Ok(())
    }

    /// Removes the cell-wide network pieces: the masquerade rule, the nftables
    /// portmap's table when no container's rule is left in it (another cell's may be),
    /// and the bridge. For a cell that goes away for good (benchmarks, tests);
    /// containers must be destroyed first.
    pub(crate) async fn remove_cell_network(&self) -> Result<()> {
        self.remove_cell_masquerade().await?;
        if portmap::nft_available() {
            portmap::remove_table_if_unused().await?;
        }
        let exists = cmd::run("ip", &["link", "show", &self.bridge])
            .await
            .is_ok();
        if exists {
            cmd::run("ip", &["link", "del", &self.bridge]).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(search: Vec<PathBuf>, backend: Option<PortmapBackend>) -> NetConfig {
        NetConfig {
            cni_search_path: search,
            portmap_backend: backend,
            portmap_direct_del: true,
            bridge: "diego-t".into(),
            subnet: "10.255.250.0/24".into(),
            ipam_dir: PathBuf::from("/nonexistent"),
            network_name: "diego-t".into(),
            host_port_range: (61000, 61001),
            cell_masquerade: true,
        }
    }

    fn plugin_dir(version: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("portmap"), b"").unwrap();
        if let Some(v) = version {
            std::fs::write(dir.path().join(portmap::VERSION_FILE), v).unwrap();
        }
        dir
    }

    #[test]
    fn plugins_come_from_the_first_directory_that_has_them() {
        let (diego, debian) = (plugin_dir(Some("v1.6.2\n")), plugin_dir(None));
        std::fs::write(debian.path().join("bridge"), b"").unwrap();
        let cfg = config(vec![diego.path().into(), debian.path().into()], None);
        assert_eq!(
            cfg.find_plugin("portmap").unwrap(),
            diego.path().join("portmap")
        );
        assert_eq!(
            cfg.find_plugin("bridge").unwrap(),
            debian.path().join("bridge")
        );
        let err = cfg.find_plugin("host-local").unwrap_err().to_string();
        assert!(err.contains("cni_search_path"), "{err}");
    }

    #[test]
    fn the_portmap_backend_follows_the_plugin_found() {
        let (new, old) = (plugin_dir(Some("v1.6.2\n")), plugin_dir(None));
        let nft = portmap::nft_available();
        let choose = |dir: &tempfile::TempDir, backend| {
            config(vec![dir.path().into()], backend).choose_portmap()
        };
        let (plugin, backend) = choose(&new, None).unwrap();
        assert_eq!(plugin, new.path().join("portmap"));
        let expected = if nft {
            PortmapBackend::Nftables
        } else {
            PortmapBackend::Iptables
        };
        assert_eq!(backend, expected);
        assert_eq!(choose(&old, None).unwrap().1, PortmapBackend::Iptables);
        assert_eq!(
            choose(&new, Some(PortmapBackend::Iptables)).unwrap().1,
            PortmapBackend::Iptables
        );
        let err = choose(&old, Some(PortmapBackend::Nftables))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("portmap_backend nftables") && err.contains("setup.sh"),
            "{err}"
        );
    }

    #[test]
    fn the_nftables_conf_asks_for_local_destinations_only() {
        let cfg = config(vec![], None);
        let mut state = NetState {
            ports: vec![(8080, 61000)],
            ..Default::default()
        };
        let conf = cfg.portmap_conf(&state, None);
        assert!(conf.get("backend").is_none() && conf.get("conditionsV4").is_none());
        state.portmap_backend = PortmapBackend::Nftables;
        let conf = cfg.portmap_conf(&state, None);
        assert_eq!(conf["backend"], "nftables");
        assert_eq!(conf["conditionsV4"], json!(["fib daddr type local"]));
        assert_eq!(conf["snat"], true);
        assert_eq!(conf["runtimeConfig"]["portMappings"][0]["hostPort"], 61000);
    }
}
