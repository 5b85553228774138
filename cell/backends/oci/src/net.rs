//! Per-container network: a named netns wired with the CNI bridge, host-local and
//! portmap plugins, invoked directly as the CNI spec describes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cmd;
use crate::error::{OciError, Result};
use crate::timing::Stopwatch;
use tokio::sync::Semaphore;

const CNI_VERSION: &str = "1.0.0";
const IFNAME: &str = "eth0";

#[derive(Debug, Clone)]
pub struct NetConfig {
    pub cni_path: PathBuf,
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
            "ipMasq": !self.cell_masquerade,
            "ipam": {
                "type": "host-local",
                "subnet": self.subnet,
                "dataDir": self.ipam_dir.to_string_lossy(),
            }
        })
    }

    fn portmap_conf(&self, ports: &[(u32, u32)], prev: Option<&Value>) -> Value {
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
        if let Some(prev) = prev {
            conf["prevResult"] = prev.clone();
        }
        conf
    }

    async fn invoke(
        &self,
        cni: &Semaphore,
        plugin: &str,
        command: &str,
        id: &str,
        netns: &str,
        conf: &Value,
    ) -> Result<Value> {
        let _permit = cni.acquire().await.expect("cni semaphore never closed");
        let binary = self.cni_path.join(plugin);
        let cni_path = self.cni_path.to_string_lossy().to_string();
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
                plugin: plugin.into(),
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
        let result = self
            .invoke(cni, "bridge", "ADD", id, &state.netns, &self.bridge_conf())
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
            self.invoke(
                cni,
                "portmap",
                "ADD",
                id,
                &state.netns,
                &self.portmap_conf(&state.ports, Some(&result)),
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
            if let Err(e) = self
                .invoke(
                    cni,
                    "portmap",
                    "DEL",
                    id,
                    &state.netns,
                    &self.portmap_conf(&state.ports, None),
                )
                .await
            {
                first_err.get_or_insert(e);
            }
            sw.mark("cni portmap del");
        }
        if let Err(e) = self
            .invoke(cni, "bridge", "DEL", id, &state.netns, &self.bridge_conf())
            .await
        {
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

    /// Removes the cell-wide network pieces: the masquerade rule and the bridge.
    /// For a cell that goes away for good (benchmarks, tests); containers must be
    /// destroyed first.
    pub(crate) async fn remove_cell_network(&self) -> Result<()> {
        self.remove_cell_masquerade().await?;
        let exists = cmd::run("ip", &["link", "show", &self.bridge])
            .await
            .is_ok();
        if exists {
            cmd::run("ip", &["link", "del", &self.bridge]).await?;
        }
        Ok(())
    }
}
