//! Turning a failed connection into a sentence an operator can act on. A
//! refused client certificate reaches the client only as a TLS alert deep in
//! an error chain (with TLS 1.3, after its own handshake looked fine), so
//! the alert is looked up by name in the chain's text.

use std::error::Error;

/// The error and all its sources, joined with ": ".
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// What a TLS failure in `chain` (see `error_chain`) means for the client,
/// or None when it is not one we recognize.
pub fn explain(chain: &str) -> Option<&'static str> {
    const KNOWN: &[(&str, &str)] = &[
        (
            "CertificateRequired",
            "the server requires a client certificate and none was sent (give --tls-cert-file and --tls-key-file, or --cert-file/--key-file for the cli)",
        ),
        (
            "alert: HandshakeFailure",
            "the server refused the handshake (a client certificate is probably required)",
        ),
        (
            "alert: UnknownCA",
            "the server refused our client certificate: it is from another CA",
        ),
        (
            "alert: CertificateExpired",
            "the server refused our client certificate: it has expired",
        ),
        (
            "alert: BadCertificate",
            "the server refused our client certificate as invalid",
        ),
        (
            "alert: CertificateUnknown",
            "the server refused our client certificate",
        ),
        (
            "UnknownIssuer",
            "the server's certificate is from another CA than the one we trust (check the ca file)",
        ),
        (
            "certificate expired",
            "the server's certificate has expired",
        ),
        (
            "Expired",
            "the server's certificate has expired",
        ),
        (
            "NotValidForName",
            "the server's certificate does not name this host (regenerate it with --hosts)",
        ),
        (
            "InvalidContentType",
            "the server does not speak tls (use an http:// address)",
        ),
        (
            "CorruptMessage",
            "the server does not speak tls (use an http:// address)",
        ),
    ];
    KNOWN
        .iter()
        .find(|(needle, _)| chain.contains(needle))
        .map(|(_, meaning)| *meaning)
}
