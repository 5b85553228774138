//! Loading, generation and real handshakes on loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use diego_tls::{
    client_config, explain, init_dir, server_config, Ca, InitOptions, KeyType, LeafSpec, TlsError,
    TlsMaterial, TlsPaths, UnixTime, COMPONENTS,
};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

fn leaf(ca: &Ca, name: &str, key_type: KeyType) -> diego_tls::Issued {
    ca.issue(&LeafSpec::new(name, &[], key_type, 30)).unwrap()
}

fn paths(dir: &Path, ca: &str, name: &str, issued: &diego_tls::Issued) -> TlsPaths {
    TlsPaths::new(
        write(dir, &format!("{name}-ca.pem"), ca),
        write(dir, &format!("{name}.pem"), &issued.cert_pem),
        write(dir, &format!("{name}-key.pem"), &issued.key_pem),
    )
}

#[test]
fn loads_ecdsa_and_rsa_material() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate(30).unwrap();
    for (name, kt) in [("ec", KeyType::EcdsaP256), ("rsa", KeyType::Rsa2048)] {
        let p = paths(dir.path(), &ca.cert_pem(), name, &leaf(&ca, name, kt));
        let m = TlsMaterial::load(&p).unwrap();
        server_config(&m, &[b"h2"]).unwrap();
        client_config(&m, &[b"h2"]).unwrap();
    }
}

#[test]
fn errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate(30).unwrap();
    let good = paths(
        dir.path(),
        &ca.cert_pem(),
        "good",
        &leaf(&ca, "good", KeyType::EcdsaP256),
    );

    let mut missing = good.clone();
    missing.cert = dir.path().join("nope.pem");
    let e = TlsMaterial::load(&missing).unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::Read {
                what: "certificate",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("nope.pem"), "{e}");

    let mut not_pem = good.clone();
    not_pem.ca = write(dir.path(), "garbage.pem", "hello, not a certificate\n");
    let e = TlsMaterial::load(&not_pem).unwrap_err();
    assert!(matches!(e, TlsError::NotPem { what: "ca", .. }), "{e}");
    assert!(e.to_string().contains("garbage.pem is not PEM"), "{e}");

    let mut bad_key = good.clone();
    bad_key.key = write(dir.path(), "badkey.pem", &ca.cert_pem());
    let e = TlsMaterial::load(&bad_key).unwrap_err();
    assert!(matches!(e, TlsError::NotPem { what: "key", .. }), "{e}");

    let other = leaf(&ca, "other", KeyType::EcdsaP256);
    let mut mismatch = good.clone();
    mismatch.key = write(dir.path(), "other-key.pem", &other.key_pem);
    let e = TlsMaterial::load(&mismatch).unwrap_err();
    assert!(matches!(e, TlsError::KeyMismatch { .. }), "{e}");

    let other_ca = Ca::generate(30).unwrap();
    let foreign = paths(
        dir.path(),
        &ca.cert_pem(),
        "foreign",
        &leaf(&other_ca, "foreign", KeyType::EcdsaP256),
    );
    let e = TlsMaterial::load(&foreign).unwrap_err();
    assert!(matches!(e, TlsError::OtherCa { .. }), "{e}");
    assert!(e.to_string().contains("another CA"), "{e}");

    let now = OffsetDateTime::now_utc();
    let mut spec = LeafSpec::new("old", &[], KeyType::EcdsaP256, 1);
    spec.not_before = now - Duration::days(10);
    spec.not_after = now - Duration::days(1);
    let expired = paths(dir.path(), &ca.cert_pem(), "old", &ca.issue(&spec).unwrap());
    let e = TlsMaterial::load(&expired).unwrap_err();
    assert!(matches!(e, TlsError::Expired { .. }), "{e}");
    assert!(e.to_string().contains("old.pem expired at"), "{e}");
}

#[test]
fn init_dir_writes_loadable_material_and_refuses_to_replace_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let opts = InitOptions {
        dir: dir.path().join("certs"),
        extra_hosts: vec!["bbs.example".into(), "10.0.0.5".into()],
        days: 10,
        force: false,
    };
    let files = init_dir(&opts).unwrap();
    assert_eq!(files.len(), 2 + 2 * COMPONENTS.len());
    for (c, _) in COMPONENTS {
        let p = TlsPaths::new(
            opts.dir.join("ca.pem"),
            opts.dir.join(format!("{c}.pem")),
            opts.dir.join(format!("{c}-key.pem")),
        );
        TlsMaterial::load(&p).unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    let gw_key = std::fs::read_to_string(opts.dir.join("gateway-key.pem")).unwrap();
    let gw = rustls_key_is_rsa(&gw_key);
    assert!(gw, "the gateway key is rsa");
    let before = std::fs::read(opts.dir.join("ca.pem")).unwrap();
    let e = init_dir(&opts).unwrap_err();
    assert!(matches!(e, TlsError::Exists { .. }), "{e}");
    assert_eq!(before, std::fs::read(opts.dir.join("ca.pem")).unwrap());
    init_dir(&InitOptions {
        force: true,
        ..opts.clone()
    })
    .unwrap();
    assert_ne!(before, std::fs::read(opts.dir.join("ca.pem")).unwrap());
}

fn rustls_key_is_rsa(pem: &str) -> bool {
    // PKCS#8 carries the algorithm: rsaEncryption is OID 1.2.840.113549.1.1.1.
    use rsa::pkcs8::DecodePrivateKey;
    rsa::RsaPrivateKey::from_pkcs8_pem(pem).is_ok()
}

/// An echo server with the given material; returns its address.
async fn hello_server(m: &TlsMaterial) -> std::net::SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(m, &[]).unwrap());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let _ = tls.write_all(b"hello").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Connects and reads the server's "hello"; the error chain on failure. The
/// client writes nothing itself: a write racing the server's close would
/// turn the refusal alert into a connection reset.
async fn hello(addr: std::net::SocketAddr, cfg: Arc<rustls::ClientConfig>) -> Result<(), String> {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let run = async {
        let mut tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, s)
            .await?;
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hello");
        Ok::<_, std::io::Error>(())
    };
    run.await.map_err(|e| diego_tls::error_chain(&e))
}

#[tokio::test]
async fn mutual_tls_handshakes_accept_the_ca_and_refuse_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate(30).unwrap();
    let server = TlsMaterial::load(&paths(
        dir.path(),
        &ca.cert_pem(),
        "server",
        &leaf(&ca, "bbs", KeyType::Rsa2048),
    ))
    .unwrap();
    let addr = hello_server(&server).await;

    let good = TlsMaterial::load(&paths(
        dir.path(),
        &ca.cert_pem(),
        "client",
        &leaf(&ca, "client", KeyType::EcdsaP256),
    ))
    .unwrap();
    hello(addr, client_config(&good, &[]).unwrap())
        .await
        .unwrap();

    // No client certificate.
    let bare = rustls::ClientConfig::builder_with_provider(diego_tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates({
            let mut r = rustls::RootCertStore::empty();
            r.add(rustls::pki_types::CertificateDer::from(
                rustls::pki_types::pem::PemObject::from_pem_slice(ca.cert_pem().as_bytes())
                    .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())
                    .unwrap(),
            ))
            .unwrap();
            r
        })
        .with_no_client_auth();
    let e = hello(addr, Arc::new(bare)).await.unwrap_err();
    assert!(
        explain(&e)
            .unwrap()
            .contains("requires a client certificate"),
        "{e}"
    );

    // A certificate from another CA (the client trusts both CAs so its own
    // check passes; the server trusts only its own).
    let other_ca = Ca::generate(30).unwrap();
    let both = format!("{}{}", ca.cert_pem(), other_ca.cert_pem());
    let foreign = TlsMaterial::load(&paths(
        dir.path(),
        &both,
        "foreign",
        &leaf(&other_ca, "client", KeyType::EcdsaP256),
    ))
    .unwrap();
    let e = hello(addr, client_config(&foreign, &[]).unwrap())
        .await
        .unwrap_err();
    assert!(explain(&e).unwrap().contains("another CA"), "{e}");

    // An expired certificate, loaded as of a time it was valid.
    let now = OffsetDateTime::now_utc();
    let mut spec = LeafSpec::new("client", &[], KeyType::EcdsaP256, 1);
    spec.not_before = now - Duration::days(10);
    spec.not_after = now - Duration::days(1);
    let then = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        (now - Duration::days(5)).unix_timestamp() as u64,
    ));
    let expired = TlsMaterial::load_at(
        &paths(
            dir.path(),
            &ca.cert_pem(),
            "expired",
            &ca.issue(&spec).unwrap(),
        ),
        then,
    )
    .unwrap();
    let e = hello(addr, client_config(&expired, &[]).unwrap())
        .await
        .unwrap_err();
    assert!(explain(&e).unwrap().contains("expired"), "{e}");
}
