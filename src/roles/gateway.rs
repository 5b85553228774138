//! `diego gateway`: the compatibility gateway (the original BBS HTTP API) as
//! its own stateless role, a gRPC client of the BBS (`--bbs`, several
//! comma-separated addresses for replicas). See ADR 0014.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use diego_sdk::{Client, TlsFiles};

/// How long start-up waits for a single BBS address to answer, so the
/// gateway and the BBS can be started together.
const CONNECT_WAIT: Duration = Duration::from_secs(30);

#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    /// The BBS gRPC API; several comma-separated addresses for BBS replicas
    /// (the gateway follows the active one).
    #[arg(long, env = "DIEGO_BBS", default_value = "http://127.0.0.1:8889")]
    pub bbs: String,
    /// Mutual TLS to an `https://` --bbs (all three or none): the BBS's PEM
    /// CA and the gateway's client certificate and key.
    #[arg(long, env = "DIEGO_BBS_TLS_CA_FILE")]
    pub bbs_tls_ca_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_BBS_TLS_CERT_FILE")]
    pub bbs_tls_cert_file: Option<PathBuf>,
    #[arg(long, env = "DIEGO_BBS_TLS_KEY_FILE")]
    pub bbs_tls_key_file: Option<PathBuf>,
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

/// The client TLS files for --bbs, checked now (expiry, CA, key) so a bad
/// file fails the start rather than every call.
fn bbs_tls(a: &GatewayArgs) -> anyhow::Result<Option<TlsFiles>> {
    let paths = diego_tls::TlsPaths::from_flags(
        a.bbs_tls_ca_file.as_deref(),
        a.bbs_tls_cert_file.as_deref(),
        a.bbs_tls_key_file.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!(e.to_string().replace("--tls-", "--bbs-tls-")))?;
    let https = a.bbs.split(',').any(|u| u.trim().starts_with("https://"));
    match paths {
        Some(p) => {
            let m = diego_tls::TlsMaterial::load(&p)?;
            if a.bbs.split(',').any(|u| !u.trim().starts_with("https://")) {
                anyhow::bail!("--bbs {} must be https:// with --bbs-tls-* certificates", a.bbs);
            }
            Ok(Some(TlsFiles {
                ca_pem: Some(m.ca_pem),
                cert_pem: Some(m.cert_pem),
                key_pem: Some(m.key_pem),
            }))
        }
        None if https => anyhow::bail!(
            "--bbs {} is https://: give --bbs-tls-ca-file, --bbs-tls-cert-file and --bbs-tls-key-file",
            a.bbs
        ),
        None => Ok(None),
    }
}

/// Connects to the BBS, waiting up to `CONNECT_WAIT` for one that is not up
/// yet. (With several addresses the SDK connects lazily and follows the
/// active replica on its own.)
async fn connect(api: &str, tls: Option<TlsFiles>) -> anyhow::Result<Client> {
    let started = Instant::now();
    let mut said = false;
    loop {
        match Client::connect(api, tls.clone()).await {
            Ok(c) => return Ok(c),
            Err(e) if started.elapsed() < CONNECT_WAIT => {
                if !said {
                    println!("waiting for the bbs at {api}: {}", e.message);
                    said = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => anyhow::bail!(
                "no bbs at {api} after {} s: {}",
                CONNECT_WAIT.as_secs(),
                e.message
            ),
        }
    }
}

pub async fn run(a: GatewayArgs) -> anyhow::Result<i32> {
    super::init_tracing();
    let client_tls = bbs_tls(&a)?;
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
    let client = connect(&a.bbs, client_tls).await?;
    println!("bbs: {}", a.bbs);
    let bbs: Arc<dyn diego_gateway::BbsApi> = Arc::new(client);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let gateway = match tls {
        Some(cfg) => {
            println!("bbs compatibility gateway: https://{addr} (mutual tls)");
            tokio::spawn(diego_gateway::serve_tls(bbs, listener, cfg, stopped))
        }
        None => {
            println!("bbs compatibility gateway: http://{addr}");
            tokio::spawn(diego_gateway::serve(bbs, listener, stopped))
        }
    };
    super::wait_for_signal().await;
    let _ = stop.send(());
    let _ = gateway.await;
    Ok(0)
}
