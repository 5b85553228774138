//! The real test guests, built once per test binary with `cargo build --release --target
//! wasm32-wasip2` in the guests workspace (into `$CARGO_TARGET_DIR/wasm-guests`, as the wasm
//! host's tests do).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use diego_executor::{
    Backend, ContainerSpec, FileEntry, FileKind, OutputLine, ProcessSpec, Spawned,
};
use diego_model::EnvVar;

const GUESTS: [&str; 3] = ["diego-app-cli", "diego-app-http", "diego-healthcheck"];

fn build_guests() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../../../target"))
        .join("wasm-guests");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--release", "--target", "wasm32-wasip2"]);
    for guest in GUESTS {
        cmd.args(["-p", guest]);
    }
    let status = cmd
        .current_dir(manifest_dir.join("../../../lifecycles-wasm/guests"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo for the guests");
    assert!(status.success(), "building the wasm guests failed");
    target.join("wasm32-wasip2/release")
}

/// The bytes of guest `name` (file stem), e.g. `diego_app_cli`.
pub fn guest(name: &str) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let path = DIR.get_or_init(build_guests).join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn spec(guid: &str, memory_mb: u64, ports: Vec<u32>) -> ContainerSpec {
    ContainerSpec {
        guid: guid.into(),
        rootfs: "wasm:".into(),
        memory_mb,
        ports,
        ..ContainerSpec::default()
    }
}

/// Puts `bytes` at `/app/app.wasm` of the instance, as a Download action would.
pub async fn install(backend: &dyn Backend, guid: &str, bytes: Vec<u8>) {
    let entry = FileEntry {
        path: "app.wasm".into(),
        mode: 0o644,
        kind: FileKind::File(bytes),
    };
    backend
        .stream_in(guid, "/app", "vcap", vec![entry])
        .await
        .unwrap();
}

pub fn run(args: &[&str], env: &[(&str, &str)]) -> ProcessSpec {
    ProcessSpec {
        path: "/app/app.wasm".into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(n, v)| EnvVar {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        ..ProcessSpec::default()
    }
}

/// Every line until the output closes.
pub async fn drain(spawned: &mut Spawned) -> Vec<OutputLine> {
    let mut lines = Vec::new();
    while let Some(line) = spawned.output.recv().await {
        lines.push(line);
    }
    lines
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub async fn http_get(port: u32, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port as u16)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

/// Undoes `Transfer-Encoding: chunked` well enough for short test bodies.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
