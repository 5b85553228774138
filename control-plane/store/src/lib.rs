//! Storage for the control plane: the `Store` contract, the embedded redb
//! backend, encryption at rest and the conformance suite every backend runs.

pub mod api;
mod blocking;
pub mod conformance;
pub mod crypto;
pub mod embedded;
mod error;
pub mod kv_codec;
mod local;
mod shared;

pub use api::*;
pub use crypto::{
    migrate_to_active_key, AtRestStore, EncryptedStore, KeyMigration, Keyring, Migration,
};
pub use embedded::{EmbeddedOptions, EmbeddedStore};
pub use error::StoreError;
pub use local::{open_local, open_local_at_rest, open_local_keyed, AtRest, STORE_FILE};
