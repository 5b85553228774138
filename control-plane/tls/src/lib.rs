//! Mutual TLS for diego-rs: rustls server and client configurations from PEM
//! files, checked at load time with errors that name the file and the
//! problem, certificate generation for `diego certs init`, and the reading
//! of handshake failures into plain sentences. ring is the crypto provider.

mod config;
mod error;
mod explain;
#[cfg(feature = "gen")]
mod gen;
mod load;

pub use config::{client_config, server_config};
pub use error::TlsError;
pub use explain::{error_chain, explain};
#[cfg(feature = "gen")]
pub use gen::{init_dir, Ca, InitOptions, Issued, KeyType, LeafSpec, COMPONENTS};
pub use load::{provider, TlsMaterial, TlsPaths};
pub use rustls;
pub use rustls_pki_types::UnixTime;
