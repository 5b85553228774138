//! The `diego:lifecycle/builder` world (0.2.0), typed: stages an app directory into a droplet
//! directory. The guest sees exactly two preopens, `/app` (read-only) and `/droplet`
//! (read-write): no network, no environment, no other files.

use std::path::Path;
use std::sync::Arc;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::{Digest, WasmError, WasmHost};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/lifecycle/v0.2",
        world: "diego:lifecycle/builder",
    });
}

use bindings::diego::lifecycle::types as wit;

/// What the builder detected (WIT `app-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppKind {
    StaticSite,
    Procfile,
    WasmCommand,
    WasmHttp,
}

impl AppKind {
    /// The WIT case name, also the staging result's JSON form.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::StaticSite => "static-site",
            AppKind::Procfile => "procfile",
            AppKind::WasmCommand => "wasm-command",
            AppKind::WasmHttp => "wasm-http",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            AppKind::StaticSite,
            AppKind::Procfile,
            AppKind::WasmCommand,
            AppKind::WasmHttp,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// Whether the app runs on the wasm backend rather than in a busybox container.
    pub fn is_wasm(self) -> bool {
        matches!(self, AppKind::WasmCommand | AppKind::WasmHttp)
    }
}

/// The result of staging (WIT `staging-result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingResult {
    pub kind: AppKind,
    pub detected_buildpack: String,
    pub start_command: String,
    pub process_types: Vec<(String, String)>,
    pub lifecycle_metadata: Vec<(String, String)>,
}

/// Budget of one staging call: copying an app costs far more than a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLimits {
    pub fuel: u64,
    /// Added to the host's `epoch_deadline_ms`.
    pub extra_deadline_ms: u64,
}

impl Default for StageLimits {
    fn default() -> Self {
        Self {
            fuel: 5_000_000_000,
            extra_deadline_ms: 30_000,
        }
    }
}

/// A loaded builder component.
pub struct Builder {
    host: Arc<WasmHost>,
    pre: bindings::BuilderPre<crate::state::CallState>,
    digest: Digest,
    limits: StageLimits,
}

impl Builder {
    /// Loads `bytes` and checks they implement the builder world.
    pub fn load(host: &Arc<WasmHost>, bytes: &[u8]) -> Result<Self, WasmError> {
        let digest = host.load(bytes)?;
        Self::from_digest(host, digest)
    }

    pub fn from_digest(host: &Arc<WasmHost>, digest: Digest) -> Result<Self, WasmError> {
        let pre = bindings::BuilderPre::new(host.instance_pre(&digest)?)
            .map_err(|e| WasmError::Invalid(format!("not a builder component: {e:#}")))?;
        Ok(Self {
            host: host.clone(),
            pre,
            digest,
            limits: StageLimits::default(),
        })
    }

    pub fn with_limits(mut self, limits: StageLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Stages `app_dir` into `droplet_dir` (which must exist). `Err(reason)` inside is the
    /// builder's own message (the app could not be staged); the outer error is the sandbox's.
    pub fn stage(
        &self,
        app_dir: &Path,
        droplet_dir: &Path,
        buildpacks: &[String],
        env: &[(String, String)],
    ) -> Result<Result<StagingResult, String>, WasmError> {
        let mut wasi = WasiCtxBuilder::new();
        let preopen = |what: &str, dir: &Path, e: wasmtime::Error| {
            WasmError::Host(format!("preopen {what} {}: {e:#}", dir.display()))
        };
        wasi.preopened_dir(app_dir, "/app", FsPerms::ReadOnly)
            .map_err(|e| preopen("app dir", app_dir, e))?;
        wasi.preopened_dir(droplet_dir, "/droplet", FsPerms::ReadWrite)
            .map_err(|e| preopen("droplet dir", droplet_dir, e))?;
        let mut store = self.host.store(wasi, self.limits.extra_deadline_ms);
        // set_fuel only fails when fuel metering is off (`consume_fuel`): nothing to arm.
        let _ = store.set_fuel(self.limits.fuel);
        let outcome = self.host.run(&mut store, |store| {
            let instance = self.pre.instantiate(&mut *store)?;
            instance
                .diego_lifecycle_stage()
                .call_stage(&mut *store, buildpacks, env)
        })?;
        Ok(outcome.map(|r| StagingResult {
            kind: match r.kind {
                wit::AppKind::StaticSite => AppKind::StaticSite,
                wit::AppKind::Procfile => AppKind::Procfile,
                wit::AppKind::WasmCommand => AppKind::WasmCommand,
                wit::AppKind::WasmHttp => AppKind::WasmHttp,
            },
            detected_buildpack: r.detected_buildpack,
            start_command: r.start_command,
            process_types: r.process_types,
            lifecycle_metadata: r.lifecycle_metadata,
        }))
    }
}
