//! Server roles.

pub mod auctioneer;
pub mod bbs;
pub mod cell;
pub mod gateway;
pub mod up;

/// Logs, and spans over OTLP when configured (see `crate::telemetry`); the
/// service is named after the role on the command line.
pub fn init_tracing() {
    const ROLES: [&str; 5] = ["up", "bbs", "cell", "gateway", "auctioneer"];
    let role = std::env::args()
        .skip(1)
        .find(|a| ROLES.contains(&a.as_str()))
        .unwrap_or_else(|| "cli".to_string());
    crate::telemetry::init(&role);
}

/// `--oci-runtime` as the backend's type (clap already limits the values).
pub fn oci_runtime(flag: Option<&str>) -> anyhow::Result<Option<diego_node::OciRuntime>> {
    flag.map(diego_node::OciRuntime::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--oci-runtime: {e}"))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
