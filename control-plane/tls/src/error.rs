use std::path::PathBuf;

/// Everything that can go wrong loading or generating TLS material. Each
/// variant names the file it is about, so an operator knows which flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the {what} file {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {what} file {path} is not PEM: {detail}")]
    NotPem {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("certificate {path} expired at {not_after} (now {now})")]
    Expired {
        path: PathBuf,
        not_after: String,
        now: String,
    },
    #[error("certificate {path} is not valid before {not_before} (now {now})")]
    NotYetValid {
        path: PathBuf,
        not_before: String,
        now: String,
    },
    #[error("certificate {path} was not issued by the CA in {ca} (certificate from another CA)")]
    OtherCa { path: PathBuf, ca: PathBuf },
    #[error("certificate {path} is refused: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("the key {key} does not belong to the certificate {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("tls configuration: {0}")]
    Config(String),
    #[error("certificate generation: {0}")]
    Generate(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} already exists; pass --force to replace the CA and every certificate")]
    Exists { path: PathBuf },
}
