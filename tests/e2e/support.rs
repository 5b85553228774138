//! Helpers the end-to-end tests share; each file in tests/e2e is its own
//! test crate and takes this in with `mod support;`.
#![allow(dead_code)] // each test crate uses a different part

use std::future::Future;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Root with runc installed: what real containers need.
pub fn root_with_runc() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    root && Command::new("runc").arg("--version").output().is_ok()
}

/// Polls `f` every 200 ms until it yields a value; panics naming `what` after `limit`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
