//! The BBS gRPC API over mutual TLS on loopback: a client with a certificate
//! from the server's CA gets in; no certificate, one from another CA and an
//! expired one are refused, each with an error that says which.

use std::path::Path;
use std::sync::Arc;

use diego_bbs::grpc::{serve, BbsGrpc, DecisionLog, ServeOptions};
use diego_bbs::{Bbs, BbsConfig, NoAuctioneer, StaticCells, SystemClock};
use diego_sdk::{Client, TlsFiles};
use diego_store::{open_local, AtRest, EmbeddedOptions};
use diego_tls::{Ca, Issued, KeyType, LeafSpec};
use time::{Duration, OffsetDateTime};

async fn mtls_server(dir: &Path, ca: &Ca, server: &Issued) -> String {
    let store = open_local(dir, AtRest::Encrypted, EmbeddedOptions::default()).unwrap();
    let bbs = Bbs::new(
        store,
        Arc::new(SystemClock),
        Arc::new(NoAuctioneer),
        Arc::new(StaticCells::default()),
        BbsConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let grpc = BbsGrpc::new(bbs, Arc::new(DecisionLog::default()));
    let opts = ServeOptions {
        tls: Some((
            server.cert_pem.clone().into(),
            server.key_pem.clone().into(),
        )),
        client_ca: Some(ca.cert_pem().into()),
    };
    tokio::spawn(serve(grpc, listener, opts, std::future::pending()));
    format!("https://{addr}")
}

fn files(ca: &Ca, client: Option<&Issued>) -> TlsFiles {
    TlsFiles {
        ca_pem: Some(ca.cert_pem().into()),
        cert_pem: client.map(|c| c.cert_pem.clone().into()),
        key_pem: client.map(|c| c.key_pem.clone().into()),
    }
}

/// Connects and pings; the error message on failure.
async fn ping(url: &str, tls: TlsFiles) -> Result<(), String> {
    let c = Client::connect(url, Some(tls))
        .await
        .map_err(|e| e.message)?;
    c.ping().await.map(|_| ()).map_err(|e| e.message)
}

/// The server refused us for `reason`. A TLS 1.3 client learns the reason
/// from the server's alert; when its first write races the server's close
/// the alert is lost to a broken pipe, which is still a refusal.
fn assert_refused(e: &str, reason: &str) {
    let lost_alert = e.contains("broken pipe") || e.contains("reset");
    assert!(e.contains(reason) || lost_alert, "{e}");
}

#[tokio::test]
async fn mtls_accepts_its_ca_and_refuses_the_rest_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate(30).unwrap();
    let leaf = |ca: &Ca, name: &str| ca.issue(&LeafSpec::new(name, &[], KeyType::EcdsaP256, 30));
    let url = mtls_server(dir.path(), &ca, &leaf(&ca, "bbs").unwrap()).await;

    let client = leaf(&ca, "client").unwrap();
    ping(&url, files(&ca, Some(&client))).await.unwrap();
    // The SDK works for real calls too, not only ping.
    let c = Client::connect(&url, Some(files(&ca, Some(&client))))
        .await
        .unwrap();
    assert!(c.tasks("", "").await.unwrap().is_empty());

    let e = ping(&url, files(&ca, None)).await.unwrap_err();
    assert!(e.contains("requires a client certificate"), "{e}");

    let other = Ca::generate(30).unwrap();
    let e = ping(&url, files(&ca, Some(&leaf(&other, "client").unwrap())))
        .await
        .unwrap_err();
    assert_refused(&e, "from another CA");

    let now = OffsetDateTime::now_utc();
    let mut spec = LeafSpec::new("client", &[], KeyType::EcdsaP256, 1);
    spec.not_before = now - Duration::days(10);
    spec.not_after = now - Duration::days(1);
    let e = ping(&url, files(&ca, Some(&ca.issue(&spec).unwrap())))
        .await
        .unwrap_err();
    assert_refused(&e, "has expired");

    // Plain HTTP/2 to a TLS server fails too, and the certificate a client
    // gets from `https` to a plaintext address is refused before dialing.
    let plain = url.replace("https://", "http://");
    let e = Client::connect(&plain, Some(files(&ca, Some(&client))))
        .await
        .err()
        .unwrap()
        .message;
    assert!(e.contains("is not https://"), "{e}");
}
