//! Health checks run from the host against the container's address (spec §6.4).
//!
//! A trait so a WASM healthcheck (or the fake backend's scripted one) can replace the native one.

use std::time::Duration;

use async_trait::async_trait;
use diego_model::{Check, PortMapping};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DEFAULT_CHECK_TIMEOUT_MS: u64 = 1000;

/// Where a container's checks go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckTarget {
    pub guid: String,
    pub internal_ip: String,
    pub ports: Vec<PortMapping>,
}

#[async_trait]
pub trait HealthChecker: Send + Sync {
    /// Ok when the check passes, else Diego's healthcheck message.
    async fn check(&self, target: &CheckTarget, check: &Check) -> Result<(), String>;
}

/// TCP connect / HTTP GET expecting 200, straight to `internal_ip:port`.
pub struct NativeHealthChecker;

fn timeout_of(ms: u64) -> Duration {
    Duration::from_millis(if ms == 0 {
        DEFAULT_CHECK_TIMEOUT_MS
    } else {
        ms
    })
}

fn timed_out(d: Duration) -> String {
    format!("timed out after {:.2} seconds", d.as_secs_f64())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => e.to_string(),
    }
}

async fn http_status(addr: &str, path: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| io_reason(&e))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: diego-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| io_reason(&e))?;
    // The status line is all we need; 64 bytes always covers it.
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).await.map_err(|e| io_reason(&e))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "malformed http response".to_string())
}

#[async_trait]
impl HealthChecker for NativeHealthChecker {
    async fn check(&self, target: &CheckTarget, check: &Check) -> Result<(), String> {
        if let Some(tcp) = &check.tcp_check {
            let addr = format!("{}:{}", target.internal_ip, tcp.port);
            let limit = timeout_of(tcp.connect_timeout_ms);
            let fail =
                |r: String| format!("Failed to make TCP connection to port {}: {r}", tcp.port);
            return match tokio::time::timeout(limit, TcpStream::connect(&addr)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(fail(io_reason(&e))),
                Err(_) => Err(fail(timed_out(limit))),
            };
        }
        if let Some(http) = &check.http_check {
            let addr = format!("{}:{}", target.internal_ip, http.port);
            let path = if http.path.is_empty() {
                "/"
            } else {
                http.path.as_str()
            };
            let limit = timeout_of(http.request_timeout_ms);
            let fail = |r: String| {
                format!(
                    "Failed to make HTTP request to '{path}' on port {}: {r}",
                    http.port
                )
            };
            return match tokio::time::timeout(limit, http_status(&addr, path)).await {
                Ok(Ok(200)) => Ok(()),
                Ok(Ok(code)) => Err(fail(format!("received status code {code}"))),
                Ok(Err(r)) => Err(fail(r)),
                Err(_) => Err(fail(timed_out(limit))),
            };
        }
        Err("check has neither tcp_check nor http_check".to_string())
    }
}
