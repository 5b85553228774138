//! Keeps `subscribe()` current with commits of every writer (other
//! processes too). TiKV has no watch, so this polls the revision counter:
//! often right after it moved, less often while it stands still, and with
//! an error backoff while TiKV is away. Watchers then read `log_since`
//! from their last revision, exactly as on the other backends.

use std::sync::Arc;

use crate::read::current_once;
use crate::retry::Backoff;
use crate::store::Shared;

pub(crate) async fn follow(shared: Arc<Shared>) {
    let (min, max) = (shared.opts.poll_min_interval, shared.opts.poll_max_interval);
    let mut idle = Backoff::between(min, max.max(min));
    let mut failing = Backoff::new();
    loop {
        let pause = match current_once(&shared).await {
            Ok(revision) => {
                failing = Backoff::new();
                if shared.publish(revision) {
                    // things are moving: look again soon
                    idle = Backoff::between(min, max.max(min));
                }
                idle.step()
            }
            Err(e) => {
                tracing::warn!(error = %e, "tikv revision poll failed; backing off");
                failing.step()
            }
        };
        tokio::time::sleep(pause).await;
    }
}
