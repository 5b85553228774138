//! The contract every `Store` backend must keep, as runnable checks.
//!
//! Compiled into the library (not test-only) so another crate's tests can
//! run it against their backend:
//!
//! ```ignore
//! diego_store::conformance::run_all(|| async { MyStore::connect_fresh().await.unwrap() }).await;
//! ```
//!
//! Each check panics with a message naming the broken rule. Checks use
//! their own key prefixes and only assume revisions relative to where the
//! store stood when they started, so they also work on a non-empty store.
//! Contract points beyond the trait docs, pinned here:
//! - a transaction with an empty `log` gets a revision but no change-log entry;
//! - `compact_log(upto)` makes `log_since(after)` fail for `after < upto`
//!   and keeps working for `after >= upto`;
//! - after `commit` returns `Ok(rev)`, `subscribe()` already shows `>= rev`.

mod log;
mod mixed;
mod records;

use std::future::Future;
use std::sync::Arc;

pub use log::{
    compaction, concurrent_cas_one_winner, concurrent_increments, log_since, subscribe_wakes,
};
pub use mixed::concurrent_mixed_commits;
pub use records::{
    expectations, get_put_delete, multi_key_atomicity, revisions_step_by_one, scan_prefix,
};

use crate::{Check, Expect, Op, Revision, Store, StoreError, Txn};

/// Runs every check, each on a fresh store from `fresh`.
pub async fn run_all<F, Fut, S>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
    S: Store,
{
    get_put_delete(&fresh().await).await;
    expectations(&fresh().await).await;
    multi_key_atomicity(&fresh().await).await;
    scan_prefix(&fresh().await).await;
    revisions_step_by_one(&fresh().await).await;
    log_since(&fresh().await).await;
    compaction(&fresh().await).await;
    subscribe_wakes(&fresh().await).await;
    let shared: Arc<dyn Store> = Arc::new(fresh().await);
    concurrent_cas_one_winner(shared).await;
    let shared: Arc<dyn Store> = Arc::new(fresh().await);
    concurrent_increments(shared).await;
    let shared: Arc<dyn Store> = Arc::new(fresh().await);
    concurrent_mixed_commits(shared).await;
}

pub(crate) fn put(key: &str, value: &[u8]) -> Op {
    Op::Put {
        key: key.to_string(),
        value: value.to_vec(),
    }
}

pub(crate) fn check(key: &str, expect: Expect) -> Check {
    Check {
        key: key.to_string(),
        expect,
    }
}

pub(crate) fn ops(ops: Vec<Op>) -> Txn {
    Txn {
        ops,
        ..Txn::default()
    }
}

pub(crate) async fn must_commit(store: &dyn Store, txn: Txn, what: &str) -> Revision {
    match store.commit(txn).await {
        Ok(rev) => rev,
        Err(e) => panic!("conformance: {what}: commit failed: {e}"),
    }
}

/// Asserts the commit fails with a conflict on `key` and changes nothing.
pub(crate) async fn must_conflict(store: &dyn Store, txn: Txn, key: &str, what: &str) {
    let before = store.current_revision().await.expect("current_revision");
    match store.commit(txn).await {
        Err(StoreError::Conflict { key: k }) => {
            assert_eq!(k, key, "conformance: {what}: conflict names the failed key")
        }
        other => panic!("conformance: {what}: expected conflict on {key}, got {other:?}"),
    }
    let after = store.current_revision().await.expect("current_revision");
    assert_eq!(
        before, after,
        "conformance: {what}: a failed txn must not take a revision"
    );
}

pub(crate) async fn value_of(store: &dyn Store, key: &str) -> Option<Vec<u8>> {
    store.get(key).await.expect("get").map(|r| r.value)
}
