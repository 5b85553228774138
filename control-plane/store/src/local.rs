//! The one-call way for a node to open its local store.

use std::path::Path;
use std::sync::Arc;

use crate::{AtRestStore, EmbeddedOptions, EmbeddedStore, Keyring, Store, StoreError};

/// Name of the database file inside the data directory.
pub const STORE_FILE: &str = "store.redb";

/// Whether values are encrypted before they reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtRest {
    /// AES-256-GCM with the keyring in `<data dir>/keyring` (created on first start).
    #[default]
    Encrypted,
    /// Values stored as given; for development and for data that is not sensitive.
    Plaintext,
}

/// Opens `<data_dir>/store.redb`, encrypted unless asked otherwise.
pub fn open_local(
    data_dir: &Path,
    at_rest: AtRest,
    opts: EmbeddedOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    open_local_keyed(data_dir, at_rest, None, opts)
}

/// As `open_local`, encrypting with `keyring` (from configuration) when
/// given instead of the keyring file in the data dir.
pub fn open_local_keyed(
    data_dir: &Path,
    at_rest: AtRest,
    keyring: Option<Keyring>,
    opts: EmbeddedOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(open_local_at_rest(data_dir, at_rest, keyring, opts)?.store)
}

/// As `open_local_keyed`, with the handle that moves records onto the
/// active key after a rotation (`migrate_to_active_key`).
pub fn open_local_at_rest(
    data_dir: &Path,
    at_rest: AtRest,
    keyring: Option<Keyring>,
    opts: EmbeddedOptions,
) -> Result<AtRestStore, StoreError> {
    let embedded = EmbeddedStore::open(&data_dir.join(STORE_FILE), opts)?;
    Ok(match at_rest {
        AtRest::Encrypted => {
            let keyring = match keyring {
                Some(k) => k,
                None => Keyring::load_or_create(data_dir)?,
            };
            AtRestStore::encrypted(embedded, keyring)
        }
        AtRest::Plaintext => AtRestStore::plaintext(embedded),
    })
}
