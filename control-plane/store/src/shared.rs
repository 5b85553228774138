//! `Store` for shared pointers, so wrappers such as `EncryptedStore` can sit
//! on an `Arc<dyn Store>` picked at run time.

use std::sync::Arc;

use crate::{BoxFuture, LogEntry, Record, Revision, SealedScan, Store, StoreError, Txn};

macro_rules! forward_store {
    ($ptr:ident) => {
        impl<T: Store + ?Sized> Store for $ptr<T> {
            fn get<'a>(
                &'a self,
                key: &'a str,
            ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
                (**self).get(key)
            }

            fn scan_prefix<'a>(
                &'a self,
                prefix: &'a str,
            ) -> BoxFuture<'a, Result<(Vec<Record>, Revision), StoreError>> {
                (**self).scan_prefix(prefix)
            }

            fn scan_prefix_sealed<'a>(
                &'a self,
                prefix: &'a str,
            ) -> BoxFuture<'a, Result<SealedScan, StoreError>> {
                (**self).scan_prefix_sealed(prefix)
            }

            fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<Revision, StoreError>> {
                (**self).commit(txn)
            }

            fn current_revision(&self) -> BoxFuture<'_, Result<Revision, StoreError>> {
                (**self).current_revision()
            }

            fn log_since(
                &self,
                after: Revision,
                limit: usize,
            ) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
                (**self).log_since(after, limit)
            }

            fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
                (**self).compact_log(upto)
            }

            fn subscribe(&self) -> tokio::sync::watch::Receiver<Revision> {
                (**self).subscribe()
            }
        }
    };
}

forward_store!(Arc);
forward_store!(Box);
