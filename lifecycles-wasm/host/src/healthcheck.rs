//! The `diego:lifecycle/healthcheck` world, typed: one check per call, the guest's network
//! limited to exactly the instance's address and port.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtxBuilder;

use crate::{Digest, WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/lifecycle",
        world: "diego:lifecycle/healthcheck",
    });
}

use bindings::diego::lifecycle::types::{CheckKind as WitKind, CheckRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    Tcp,
    Http,
}

/// One check of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub address: IpAddr,
    pub port: u16,
    pub kind: CheckKind,
    /// HTTP path (ignored for TCP).
    pub path: String,
    pub timeout_ms: u32,
}

/// A loaded healthcheck component.
pub struct Healthcheck {
    host: Arc<WasmHost>,
    pre: bindings::HealthcheckPre<crate::state::CallState>,
    digest: Digest,
}

impl Healthcheck {
    /// Loads `bytes` and checks they implement the healthcheck world.
    pub fn load(host: &Arc<WasmHost>, bytes: &[u8]) -> Result<Self, WasmError> {
        let digest = host.load(bytes)?;
        Self::from_digest(host, digest)
    }

    pub fn from_digest(host: &Arc<WasmHost>, digest: Digest) -> Result<Self, WasmError> {
        let pre = bindings::HealthcheckPre::new(host.instance_pre(&digest)?)
            .map_err(|e| WasmError::Invalid(format!("not a healthcheck component: {e:#}")))?;
        Ok(Self {
            host: host.clone(),
            pre,
            digest,
        })
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// `Ok(())` when healthy; `Err(reason)` when the instance failed the check. A sandbox
    /// failure (trap, fuel, deadline, memory) is the outer error.
    pub fn check(&self, check: &Check) -> Result<Result<(), String>, WasmError> {
        let target = SocketAddr::new(check.address, check.port);
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_tcp(true)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(move |addr, usage| {
                // Connecting is allowed to the instance only. A connect first binds implicitly
                // to the wildcard address with an ephemeral port, which is checked as a bind;
                // that one bind is allowed, any other bind and every listen are refused.
                let allowed = match usage {
                    SocketAddrUse::TcpConnect => addr == target,
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    _ => false,
                };
                Box::pin(async move { allowed })
            });
        let mut store = self.host.store(wasi, u64::from(check.timeout_ms));
        let request = CheckRequest {
            address: check.address.to_string(),
            port: check.port,
            kind: match check.kind {
                CheckKind::Tcp => WitKind::Tcp,
                CheckKind::Http => WitKind::Http,
            },
            path: check.path.clone(),
            timeout_ms: check.timeout_ms,
        };
        self.host.run(&mut store, |store| {
            let instance = self.pre.instantiate(&mut *store)?;
            instance
                .diego_lifecycle_check()
                .call_check(&mut *store, &request)
        })
    }
}
