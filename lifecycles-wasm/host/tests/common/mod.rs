//! Builds the real guest components once per test binary.
//!
//! Guests are a separate cargo workspace for `wasm32-wasip2`, so they cannot be ordinary
//! dependencies; a build.rs would rebuild them on every host compile and hide their errors.
//! Instead the first test that needs one runs `cargo build --release --target wasm32-wasip2`
//! for both guest workspaces (into `$CARGO_TARGET_DIR/wasm-guests`), and the rest reuse it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use diego_wasm_host::{HostConfig, WasmHost};

const GUEST_WORKSPACES: [&str; 2] = ["../guests", "../../plugins"];

fn target_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../../target"));
    base.join("wasm-guests")
}

fn build_guests() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = target_dir();
    for workspace in GUEST_WORKSPACES {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(manifest_dir.join(workspace))
            .env("CARGO_TARGET_DIR", &target)
            // Flags meant for the host build must not leak into the wasm build.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo for the guests");
        assert!(status.success(), "building guests in {workspace} failed");
    }
    target.join("wasm32-wasip2/release")
}

/// The bytes of guest `name` (its crate name with `_`), e.g. `diego_healthcheck`.
pub fn guest(name: &str) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let path = DIR.get_or_init(build_guests).join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn host(config: HostConfig) -> Arc<WasmHost> {
    Arc::new(WasmHost::new(config).expect("wasm host"))
}
