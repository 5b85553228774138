//! The operations, one module per record kind.

pub mod actual;
pub mod desired;
pub mod domains;
pub mod evacuation;

pub mod converge;
mod converge_apply;
pub(crate) mod converge_read;
pub mod tasks;

use std::future::Future;

use diego_store::StoreError;

use crate::error::{BbsError, Result};
use crate::Bbs;

impl Bbs {
    /// Runs a read-modify-write until its compare-and-swap holds. Conflicts
    /// only happen when two requests touch the same record at once.
    pub(crate) async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut last = None;
        for _ in 0..self.config.cas_retries.max(1) {
            match attempt().await {
                Err(BbsError::Store(StoreError::Conflict { key })) => {
                    last = Some(key);
                    tokio::task::yield_now().await;
                }
                other => return other,
            }
        }
        Err(BbsError::Store(StoreError::Conflict {
            key: last.unwrap_or_default(),
        }))
    }
}
