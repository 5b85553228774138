//! The gateway over mutual TLS with RSA keys (what the Go BBS client's TLS
//! 1.2 cipher list needs): a client with a certificate from the CA pings it;
//! a client without one is refused. The gateway is in front of a BBS on
//! loopback gRPC.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use diego_proto::models as w;
use diego_tls::{client_config, server_config, Ca, KeyType, LeafSpec, TlsMaterial, TlsPaths};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use prost::Message;

fn material(dir: &std::path::Path, ca: &Ca, name: &str, key_type: KeyType) -> TlsMaterial {
    let issued = ca.issue(&LeafSpec::new(name, &[], key_type, 30)).unwrap();
    let p = TlsPaths::new(
        dir.join("ca.pem"),
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&p.ca, ca.cert_pem()).unwrap();
    std::fs::write(&p.cert, issued.cert_pem).unwrap();
    std::fs::write(&p.key, issued.key_pem).unwrap();
    TlsMaterial::load(&p).unwrap()
}

async fn ping(
    addr: std::net::SocketAddr,
    cfg: Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<bool, String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| diego_tls::error_chain(&e))?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method("POST")
        .uri("/v1/ping")
        .header("host", "bbs")
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| diego_tls::error_chain(&e))?;
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Ok(w::PingResponse::decode(body).unwrap().available)
}

#[tokio::test]
async fn gateway_over_mutual_tls_with_rsa_keys_answers_ping() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::BbsServer::start().await;
    let bbs = diego_sdk::Client::connect(&server.url, None).await.unwrap();
    let ca = Ca::generate(30).unwrap();
    let server = material(dir.path(), &ca, "gateway", KeyType::Rsa2048);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = server_config(&server, &[b"http/1.1"]).unwrap();
    tokio::spawn(diego_gateway::serve_tls(
        Arc::new(bbs),
        listener,
        cfg,
        std::future::pending(),
    ));

    let client = material(dir.path(), &ca, "client", KeyType::Rsa2048);
    let mut tls12 = (*client_config(&client, &[b"http/1.1"]).unwrap()).clone();
    assert!(ping(addr, Arc::new(tls12.clone())).await.unwrap());
    // TLS 1.2 with an RSA key exchange-capable certificate, as the Go client
    // negotiates it.
    tls12 = tokio_rustls::rustls::ClientConfig::builder_with_provider(diego_tls::provider())
        .with_protocol_versions(&[&tokio_rustls::rustls::version::TLS12])
        .unwrap()
        .with_root_certificates({
            let mut r = tokio_rustls::rustls::RootCertStore::empty();
            use tokio_rustls::rustls::pki_types::pem::PemObject;
            r.add(
                tokio_rustls::rustls::pki_types::CertificateDer::from_pem_slice(
                    ca.cert_pem().as_bytes(),
                )
                .unwrap(),
            )
            .unwrap();
            r
        })
        .with_client_auth_cert(
            {
                use tokio_rustls::rustls::pki_types::pem::PemObject;
                vec![
                    tokio_rustls::rustls::pki_types::CertificateDer::from_pem_slice(
                        &client.cert_pem,
                    )
                    .unwrap(),
                ]
            },
            {
                use tokio_rustls::rustls::pki_types::pem::PemObject;
                tokio_rustls::rustls::pki_types::PrivateKeyDer::from_pem_slice(&client.key_pem)
                    .unwrap()
            },
        )
        .unwrap();
    assert!(ping(addr, Arc::new(tls12)).await.unwrap());

    // A certificate from another CA: refused. (The alert that says why may
    // be lost to a reset when the request write races the server's close,
    // so only the refusal is asserted here; diego-tls tests the wording.)
    let other = Ca::generate(30).unwrap();
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let mut stranger = material(&x, &other, "stranger", KeyType::EcdsaP256);
    std::fs::write(
        &stranger.paths.ca,
        format!("{}{}", ca.cert_pem(), other.cert_pem()),
    )
    .unwrap();
    stranger = TlsMaterial::load(&stranger.paths).unwrap();
    let e = ping(addr, client_config(&stranger, &[b"http/1.1"]).unwrap())
        .await
        .unwrap_err();
    assert!(!e.is_empty());
}
