//! Loading PEM files into checked TLS material: every problem an operator
//! can cause (a missing file, a file that is not PEM, an expired certificate,
//! a certificate from another CA, a key of another certificate) is found
//! here, at start-up, with the file named, instead of as an opaque handshake
//! failure later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::TlsError;

/// Where a process's TLS identity and trusted CA live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// The CA that signed every peer this process accepts.
    pub ca: PathBuf,
    /// This process's certificate (the leaf first, then any intermediates).
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsPaths {
    pub fn new(ca: impl Into<PathBuf>, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsPaths {
            ca: ca.into(),
            cert: cert.into(),
            key: key.into(),
        }
    }

    /// The three `--tls-*` flags of a role: all or none.
    pub fn from_flags(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Option<TlsPaths>, TlsError> {
        match (ca, cert, key) {
            (None, None, None) => Ok(None),
            (Some(ca), Some(cert), Some(key)) => Ok(Some(TlsPaths::new(ca, cert, key))),
            _ => Err(TlsError::Config(
                "mutual tls needs all of --tls-ca-file, --tls-cert-file and --tls-key-file".into(),
            )),
        }
    }
}

/// Checked TLS material: the PEM bytes (for tonic) and the parsed forms (for
/// rustls configs).
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    pub paths: TlsPaths,
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub(crate) roots: Arc<RootCertStore>,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: Arc<PrivateKeyDer<'static>>,
}

/// The one crypto provider of this crate: ring (no cmake/nasm at build time).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsMaterial {
    /// Reads and checks the three files against the current time.
    pub fn load(paths: &TlsPaths) -> Result<TlsMaterial, TlsError> {
        TlsMaterial::load_at(paths, UnixTime::now())
    }

    /// As `load`, at a given time (tests).
    pub fn load_at(paths: &TlsPaths, now: UnixTime) -> Result<TlsMaterial, TlsError> {
        let ca_pem = read("ca", &paths.ca)?;
        let cert_pem = read("certificate", &paths.cert)?;
        let key_pem = read("key", &paths.key)?;
        let cas = certs("ca", &paths.ca, &ca_pem)?;
        let chain = certs("certificate", &paths.cert, &cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NotPem {
            what: "key",
            path: paths.key.clone(),
            detail: format!("no private key found ({e})"),
        })?;
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots.add(ca).map_err(|e| TlsError::Invalid {
                path: paths.ca.clone(),
                detail: format!("not a usable ca certificate: {e}"),
            })?;
        }
        check_chain(paths, &roots, &chain, now)?;
        CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider()).map_err(
            |e| match e {
                rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                    cert: paths.cert.clone(),
                    key: paths.key.clone(),
                },
                other => TlsError::NotPem {
                    what: "key",
                    path: paths.key.clone(),
                    detail: format!("unusable private key: {other}"),
                },
            },
        )?;
        Ok(TlsMaterial {
            paths: paths.clone(),
            ca_pem,
            cert_pem,
            key_pem,
            roots: Arc::new(roots),
            chain,
            key: Arc::new(key),
        })
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn certs(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let not_pem = |detail: String| TlsError::NotPem {
        what,
        path: path.to_path_buf(),
        detail,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(not_pem("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// The leaf must chain to the CA and be valid now. Usage (server or client)
/// is the peer's business: a certificate made for one role only is checked
/// for the other too before giving up.
fn check_chain(
    paths: &TlsPaths,
    roots: &RootCertStore,
    chain: &[CertificateDer<'static>],
    now: UnixTime,
) -> Result<(), TlsError> {
    let leaf = ParsedCertificate::try_from(&chain[0]).map_err(|e| TlsError::Invalid {
        path: paths.cert.clone(),
        detail: e.to_string(),
    })?;
    let algs = provider().signature_verification_algorithms;
    let as_server =
        verify_server_cert_signed_by_trust_anchor(&leaf, roots, &chain[1..], now, algs.all);
    let result = match as_server {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. },
        )) => Ok(()),
        other => other,
    };
    result.map_err(|e| cert_error(paths, now, e))
}

fn cert_error(paths: &TlsPaths, now: UnixTime, e: rustls::Error) -> TlsError {
    let path = paths.cert.clone();
    let now_s = rfc3339(now);
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::ExpiredContext { not_after, .. } => TlsError::Expired {
                path,
                not_after: rfc3339(not_after),
                now: now_s,
            },
            CertificateError::Expired => TlsError::Expired {
                path,
                not_after: "an earlier time".into(),
                now: now_s,
            },
            CertificateError::NotValidYetContext { not_before, .. } => TlsError::NotYetValid {
                path,
                not_before: rfc3339(not_before),
                now: now_s,
            },
            CertificateError::NotValidYet => TlsError::NotYetValid {
                path,
                not_before: "a later time".into(),
                now: now_s,
            },
            CertificateError::UnknownIssuer | CertificateError::BadSignature => TlsError::OtherCa {
                path,
                ca: paths.ca.clone(),
            },
            other => TlsError::Invalid {
                path,
                detail: format!("{other:?}"),
            },
        },
        other => TlsError::Invalid {
            path,
            detail: other.to_string(),
        },
    }
}

pub(crate) fn rfc3339(t: UnixTime) -> String {
    let secs = t.as_secs() as i64;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("unix {secs}"))
}
