//! The `diego:lifecycle/launcher` world (0.2.0), typed: a staging result and the instance's
//! environment -> the process to run. The guest gets no capability at all (no files, network
//! or environment): everything it knows comes in as arguments.

use std::sync::Arc;

use wasmtime_wasi::WasiCtxBuilder;

use crate::{AppKind, Digest, StagingResult, WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/lifecycle/v0.2",
        world: "diego:lifecycle/launcher",
    });
}

use bindings::diego::lifecycle::types as wit;

/// The process the launcher asks the cell to run (WIT `process-spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Empty = the user's home.
    pub dir: String,
}

/// A loaded launcher component.
pub struct Launcher {
    host: Arc<WasmHost>,
    pre: bindings::LauncherPre<crate::state::CallState>,
    digest: Digest,
}

impl Launcher {
    /// Loads `bytes` and checks they implement the launcher world.
    pub fn load(host: &Arc<WasmHost>, bytes: &[u8]) -> Result<Self, WasmError> {
        let digest = host.load(bytes)?;
        Self::from_digest(host, digest)
    }

    pub fn from_digest(host: &Arc<WasmHost>, digest: Digest) -> Result<Self, WasmError> {
        let pre = bindings::LauncherPre::new(host.instance_pre(&digest)?)
            .map_err(|e| WasmError::Invalid(format!("not a launcher component: {e:#}")))?;
        Ok(Self {
            host: host.clone(),
            pre,
            digest,
        })
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// `Err(reason)` inside is the launcher's message (bad staging result, missing `PORT`);
    /// the outer error is the sandbox's.
    pub fn launch(
        &self,
        staging: &StagingResult,
        process_type: &str,
        env: &[(String, String)],
    ) -> Result<Result<LaunchSpec, String>, WasmError> {
        let request = wit::StagingResult {
            kind: match staging.kind {
                AppKind::StaticSite => wit::AppKind::StaticSite,
                AppKind::Procfile => wit::AppKind::Procfile,
                AppKind::WasmCommand => wit::AppKind::WasmCommand,
                AppKind::WasmHttp => wit::AppKind::WasmHttp,
            },
            detected_buildpack: staging.detected_buildpack.clone(),
            start_command: staging.start_command.clone(),
            process_types: staging.process_types.clone(),
            lifecycle_metadata: staging.lifecycle_metadata.clone(),
        };
        let mut store = self.host.store(WasiCtxBuilder::new(), 0);
        let outcome = self.host.run(&mut store, |store| {
            let instance = self.pre.instantiate(&mut *store)?;
            instance
                .diego_lifecycle_launch()
                .call_launch(&mut *store, &request, process_type, env)
        })?;
        Ok(outcome.map(|p| LaunchSpec {
            path: p.path,
            args: p.args,
            env: p.env,
            dir: p.dir,
        }))
    }
}
