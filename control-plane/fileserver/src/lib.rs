//! The content-addressed file server of the control plane: app bits, droplets and lifecycle
//! components are stored under their sha256 and served at `/blobs/sha256:<hex>`, so whoever
//! downloads one (an executor's Download action) can verify it by its name.
//!
//! ```text
//! POST|PUT /blobs                 store the body; 201 (200 if already there) {"digest": "sha256:<hex>", "size": N}
//! PUT      /blobs/sha256:<hex>    the same, refused with 400 unless the body hashes to <hex>
//! GET|HEAD /blobs/sha256:<hex>    the blob; X-Checksum-Sha256: <hex>; 404 if unknown
//! ```

mod blobs;
pub mod client;
mod error;
mod server;

pub use blobs::{BlobStore, Digest};
pub use error::FileServerError;
pub use server::{serve, spawn, FileServer, Running};
