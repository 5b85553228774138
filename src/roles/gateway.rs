//! `diego gateway`: the compatibility gateway (the original BBS HTTP API)
//! as its own role. The gateway library drives the BBS operations in
//! process, so this role runs the control plane on the store like `diego
//! bbs` (same flags) and serves the gateway beside it; see ADR 0007.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    #[command(flatten)]
    pub bbs: super::bbs::BbsArgs,
    /// The gateway's HTTP address.
    #[arg(long, env = "DIEGO_GATEWAY_LISTEN", default_value = "127.0.0.1:8890")]
    pub gateway_listen: SocketAddr,
    /// Mutual TLS for the gateway (all three or none; plain HTTP without):
    /// clients need a certificate from this CA. Use an RSA certificate
    /// (`diego certs init` makes gateway.pem) for the Go BBS client.
    #[arg(long, env = "DIEGO_GATEWAY_TLS_CA_FILE")]
    pub gateway_tls_ca_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_GATEWAY_TLS_CERT_FILE")]
    pub gateway_tls_cert_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_GATEWAY_TLS_KEY_FILE")]
    pub gateway_tls_key_file: Option<PathBuf>,
}

pub async fn run(a: GatewayArgs) -> anyhow::Result<i32> {
    super::init_tracing();
    if a.bbs.store != "embedded" {
        // On a shared store the control plane runs as fenced replicas
        // (`diego bbs`); a second, unfenced one here would compete with them.
        anyhow::bail!(
            "diego gateway runs its own control plane on the embedded store; --store {} is not supported yet (ADR 0007)",
            a.bbs.store
        );
    }
    let tls = match diego_tls::TlsPaths::from_flags(
        a.gateway_tls_ca_file.as_deref(),
        a.gateway_tls_cert_file.as_deref(),
        a.gateway_tls_key_file.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!(e.to_string().replace("--tls-", "--gateway-tls-")))?
    {
        Some(p) => {
            let m = diego_tls::TlsMaterial::load(&p)?;
            Some(diego_tls::server_config(&m, &[b"http/1.1"])?)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(a.gateway_listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", a.gateway_listen))?;
    let addr = listener.local_addr()?;
    let cp = super::bbs::start(&a.bbs).await?;
    println!("bbs api: {}", cp.api_url());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let gateway = match tls {
        Some(cfg) => {
            println!("bbs compatibility gateway: https://{addr} (mutual tls)");
            tokio::spawn(diego_gateway::serve_tls(
                cp.bbs.clone(),
                listener,
                cfg,
                stopped,
            ))
        }
        None => {
            println!("bbs compatibility gateway: http://{addr}");
            tokio::spawn(diego_gateway::serve(cp.bbs.clone(), listener, stopped))
        }
    };
    super::wait_for_signal().await;
    let _ = stop.send(());
    let _ = gateway.await;
    cp.stop().await;
    Ok(0)
}
