//! The wasm healthcheck behind the executor's `HealthChecker` trait, worded as the native one
//! (Diego's messages), so a cell can switch between them by configuration alone.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use diego_executor::health::DEFAULT_CHECK_TIMEOUT_MS;
use diego_executor::{CheckTarget, HealthChecker};

use crate::{Check, CheckKind, Healthcheck};

pub struct WasmHealthChecker {
    healthcheck: Arc<Healthcheck>,
}

impl WasmHealthChecker {
    pub fn new(healthcheck: Healthcheck) -> Self {
        Self {
            healthcheck: Arc::new(healthcheck),
        }
    }
}

fn timeout_ms(ms: u64) -> u32 {
    let ms = if ms == 0 {
        DEFAULT_CHECK_TIMEOUT_MS
    } else {
        ms
    };
    u32::try_from(ms).unwrap_or(u32::MAX)
}

#[async_trait]
impl HealthChecker for WasmHealthChecker {
    async fn check(
        &self,
        target: &CheckTarget,
        check: &diego_model::action::Check,
    ) -> Result<(), String> {
        let address: IpAddr = target
            .internal_ip
            .parse()
            .map_err(|_| format!("invalid instance address {:?}", target.internal_ip))?;
        let (request, fail): (Check, Box<dyn Fn(String) -> String + Send>) =
            if let Some(tcp) = &check.tcp_check {
                let port = tcp.port;
                let request = Check {
                    address,
                    port: u16::try_from(port).map_err(|_| format!("invalid port {port}"))?,
                    kind: CheckKind::Tcp,
                    path: String::new(),
                    timeout_ms: timeout_ms(tcp.connect_timeout_ms),
                };
                let fail =
                    move |r: String| format!("Failed to make TCP connection to port {port}: {r}");
                (request, Box::new(fail))
            } else if let Some(http) = &check.http_check {
                let port = http.port;
                let path = if http.path.is_empty() {
                    "/".to_owned()
                } else {
                    http.path.clone()
                };
                let request = Check {
                    address,
                    port: u16::try_from(port).map_err(|_| format!("invalid port {port}"))?,
                    kind: CheckKind::Http,
                    path: path.clone(),
                    timeout_ms: timeout_ms(http.request_timeout_ms),
                };
                let fail = move |r: String| {
                    let r = match r.strip_prefix("http status ") {
                        Some(code) => format!("received status code {code}"),
                        None => r,
                    };
                    format!("Failed to make HTTP request to '{path}' on port {port}: {r}")
                };
                (request, Box::new(fail))
            } else {
                return Err("check has neither tcp_check nor http_check".to_string());
            };
        // The guest call is synchronous and may block up to its timeout: keep it off the
        // async workers.
        let healthcheck = self.healthcheck.clone();
        let outcome = tokio::task::spawn_blocking(move || healthcheck.check(&request))
            .await
            .map_err(|e| format!("healthcheck task: {e}"))?;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(fail(reason)),
            Err(sandbox) => Err(fail(sandbox.to_string())),
        }
    }
}
