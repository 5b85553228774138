//! rustls configurations for mutual TLS from checked material.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};

use crate::load::provider;
use crate::{TlsError, TlsMaterial};

/// A server that requires a client certificate signed by the material's CA.
/// `alpn` lists the protocols offered (`h2` for gRPC, `http/1.1` for the
/// gateway). TLS 1.2 stays enabled: the Go BBS client's cipher list is 1.2.
pub fn server_config(m: &TlsMaterial, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(m.roots.clone(), provider())
        .build()
        .map_err(|e| TlsError::Config(format!("client verifier: {e}")))?;
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(m.chain.clone(), m.key.clone_key())
        .map_err(|e| TlsError::Config(format!("{}: {e}", m.paths.cert.display())))?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// A client that presents the material's certificate and trusts only its CA.
pub fn client_config(m: &TlsMaterial, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, TlsError> {
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(m.roots.clone())
        .with_client_auth_cert(m.chain.clone(), m.key.clone_key())
        .map_err(|e| TlsError::Config(format!("{}: {e}", m.paths.cert.display())))?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}
