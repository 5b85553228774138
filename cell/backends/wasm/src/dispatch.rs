//! One cell, two runtimes: `RoutedBackend` sends `wasm:` workloads to the wasm backend and
//! everything else (`preloaded:`, `docker:`) to the other backend (runc); `WasmPortChecker`
//! points health checks of wasm instances at their host ports.

use std::sync::Arc;

use async_trait::async_trait;
use diego_executor::{
    Backend, CheckTarget, ContainerInfo, ContainerSpec, ExecutorError, FileEntry, HealthChecker,
    ProcessSpec, Spawned,
};
use diego_model::Check;

use crate::WasmBackend;

/// The rootfs scheme this backend serves (the cell advertises it as a rootfs provider).
pub const WASM_SCHEME: &str = "wasm";

/// `wasm:` or `wasm:anything`; the scheme is case-insensitive like every URL scheme.
pub fn is_wasm_rootfs(rootfs: &str) -> bool {
    rootfs
        .split_once(':')
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case(WASM_SCHEME))
}

pub struct RoutedBackend {
    wasm: Arc<WasmBackend>,
    other: Arc<dyn Backend>,
}

impl RoutedBackend {
    pub fn new(wasm: Arc<WasmBackend>, other: Arc<dyn Backend>) -> Arc<Self> {
        Arc::new(Self { wasm, other })
    }

    fn by_guid(&self, guid: &str) -> &dyn Backend {
        if self.wasm.owns(guid) {
            self.wasm.as_ref()
        } else {
            self.other.as_ref()
        }
    }
}

#[async_trait]
impl Backend for RoutedBackend {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerInfo, ExecutorError> {
        if is_wasm_rootfs(&spec.rootfs) {
            self.wasm.create(spec).await
        } else {
            self.other.create(spec).await
        }
    }

    async fn spawn(&self, guid: &str, spec: ProcessSpec) -> Result<Spawned, ExecutorError> {
        self.by_guid(guid).spawn(guid, spec).await
    }

    async fn stream_in(
        &self,
        guid: &str,
        dst_dir: &str,
        user: &str,
        entries: Vec<FileEntry>,
    ) -> Result<(), ExecutorError> {
        self.by_guid(guid)
            .stream_in(guid, dst_dir, user, entries)
            .await
    }

    async fn read_file(
        &self,
        guid: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ExecutorError> {
        self.by_guid(guid).read_file(guid, path, max_bytes).await
    }

    async fn destroy(&self, guid: &str) -> Result<(), ExecutorError> {
        self.by_guid(guid).destroy(guid).await
    }

    async fn list(&self) -> Result<Vec<String>, ExecutorError> {
        let mut guids = self.wasm.list().await?;
        guids.extend(self.other.list().await?);
        Ok(guids)
    }

    fn health_checker(&self) -> Option<Arc<dyn HealthChecker>> {
        self.other.health_checker()
    }
}

/// A wasm instance has no address of its own: its exposed ports are served on host ports of
/// the cell. This checker sends a wasm instance's checks to the host port of the checked
/// container port (through `inner`, the native or the wasm healthcheck) and words failures
/// with the container port, as for a container; other containers' checks pass through.
pub struct WasmPortChecker {
    wasm: Arc<WasmBackend>,
    inner: Arc<dyn HealthChecker>,
}

impl WasmPortChecker {
    pub fn new(wasm: Arc<WasmBackend>, inner: Arc<dyn HealthChecker>) -> Arc<Self> {
        Arc::new(Self { wasm, inner })
    }
}

#[async_trait]
impl HealthChecker for WasmPortChecker {
    async fn check(&self, target: &CheckTarget, check: &Check) -> Result<(), String> {
        if !self.wasm.owns(&target.guid) {
            return self.inner.check(target, check).await;
        }
        let container_port = match (&check.tcp_check, &check.http_check) {
            (Some(tcp), _) => tcp.port,
            (None, Some(http)) => http.port,
            (None, None) => return self.inner.check(target, check).await,
        };
        // The first startup check races the spawn that binds the port: wait for the bind
        // (within the check's own timeout) rather than fail and sleep the retry pause.
        let timeout_ms = match (&check.tcp_check, &check.http_check) {
            (Some(tcp), _) => tcp.connect_timeout_ms,
            (None, Some(http)) => http.request_timeout_ms,
            (None, None) => 0,
        };
        let timeout_ms = if timeout_ms == 0 {
            diego_executor::health::DEFAULT_CHECK_TIMEOUT_MS
        } else {
            timeout_ms
        };
        self.wasm
            .wait_for_listeners(&target.guid, std::time::Duration::from_millis(timeout_ms))
            .await;
        let Some(host_port) = self.wasm.host_port(&target.guid, container_port) else {
            return Err(format!(
                "port {container_port} is not exposed by the wasm instance"
            ));
        };
        let mut mapped = check.clone();
        if let Some(tcp) = mapped.tcp_check.as_mut() {
            tcp.port = host_port;
        }
        if let Some(http) = mapped.http_check.as_mut() {
            http.port = host_port;
        }
        self.inner.check(target, &mapped).await.map_err(|message| {
            message.replace(
                &format!("port {host_port}"),
                &format!("port {container_port}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasm_rootfs_is_the_scheme_alone() {
        assert!(is_wasm_rootfs("wasm:"));
        assert!(is_wasm_rootfs("wasm:any-text"));
        assert!(is_wasm_rootfs("WASM:x"));
        assert!(!is_wasm_rootfs("preloaded:busybox"));
        assert!(!is_wasm_rootfs("docker:///wasm:x"));
        assert!(!is_wasm_rootfs("wasm"));
        assert!(!is_wasm_rootfs(""));
    }
}
