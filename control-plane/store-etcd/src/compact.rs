//! Change-log compaction: move the compaction point and delete the log
//! below it in one etcd transaction, fenced like every write.

use diego_store::{Revision, StoreError};
use etcd_client::{Compare, CompareOp, DeleteOptions, TxnOp};

use crate::batch::fence_compare;
use crate::layout::encode_u64;
use crate::read::{compacted_at, current};
use crate::retry::retrying;
use crate::Shared;

/// Moves the compaction point to `min(upto, current)` and deletes the log
/// below it, in one etcd transaction guarded by the old point.
pub(crate) async fn compact_log(shared: &Shared, upto: Revision) -> Result<(), StoreError> {
    let layout = &shared.layout;
    loop {
        let newest = current(shared).await?.revision;
        let (compacted, compacted_mod, _) = compacted_at(shared).await?;
        let target = upto.min(newest);
        if target <= compacted {
            return Ok(());
        }
        let guard = if compacted_mod == 0 {
            Compare::version(layout.compacted(), CompareOp::Equal, 0)
        } else {
            Compare::mod_revision(layout.compacted(), CompareOp::Equal, compacted_mod)
        };
        let below = DeleteOptions::new().with_range(layout.log(target + 1));
        let mut guards = vec![guard];
        guards.extend(shared.fence.as_ref().map(fence_compare));
        let request = etcd_client::Txn::new().when(guards).and_then(vec![
            TxnOp::delete(layout.log(0), Some(below)),
            TxnOp::put(layout.compacted(), encode_u64(target), None),
        ]);
        // safe to repeat: a repeat after a landed attempt fails the guard
        let resp = retrying(
            &shared.endpoints,
            shared.opts.retry_budget,
            "compact",
            || {
                let mut kv = shared.kv.clone();
                let request = request.clone();
                async move { kv.txn(request).await }
            },
        )
        .await?;
        if resp.succeeded() {
            return Ok(());
        }
        if let Some(fence) = &shared.fence {
            let lock = shared.kv.clone().get(fence.key.clone(), None).await;
            let ours = lock
                .ok()
                .and_then(|r| r.kvs().first().map(|kv| kv.create_revision()));
            if ours != Some(fence.token) {
                return Err(StoreError::Fenced(format!(
                    "lock {} is no longer ours (token {})",
                    String::from_utf8_lossy(&fence.key),
                    fence.token
                )));
            }
        }
    }
}
