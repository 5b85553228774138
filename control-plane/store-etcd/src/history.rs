//! Settling a commit whose outcome is unknown: etcd's history says which
//! write followed a counter position.

use diego_store::{Revision, StoreError};
use etcd_client::WatchOptions;

use crate::layout::decode_rev;
use crate::retry::backend;
use crate::Shared;

/// The first counter write after etcd revision `sent_at`: our revision it
/// set, the attempt id it carries and its etcd revision. Reads etcd's
/// history through a watch.
pub(crate) async fn next_counter_write(
    shared: &Shared,
    sent_at: i64,
) -> Result<(Revision, Vec<u8>, i64), StoreError> {
    let lookup = async {
        let options = WatchOptions::new().with_start_revision(sent_at + 1);
        let (mut watcher, mut stream) = shared
            .client
            .clone()
            .watch(shared.layout.rev(), Some(options))
            .await?;
        let mut outcome = Err(etcd_client::Error::WatchError(
            "history ended before the next counter write".into(),
        ));
        while let Some(resp) = stream.message().await? {
            if resp.canceled() {
                outcome = Err(etcd_client::Error::WatchError(format!(
                    "etcd history compacted past {sent_at}: {}",
                    resp.cancel_reason()
                )));
                break;
            }
            if let Some(kv) = resp.events().first().and_then(|e| e.kv()) {
                outcome = Ok((kv.value().to_vec(), kv.mod_revision()));
                break;
            }
        }
        // best effort: the stream closes with the watcher anyway
        let _ = watcher.cancel().await;
        outcome
    };
    let (value, written_at) = tokio::time::timeout(shared.opts.request_timeout, lookup)
        .await
        .map_err(|_| {
            StoreError::Backend("commit outcome unknown: etcd history lookup timed out".into())
        })?
        .map_err(|e| backend(&shared.endpoints, "commit outcome lookup", e))?;
    let (revision, id) = decode_rev(&value)?;
    Ok((revision, id.to_vec(), written_at))
}
