//! Running CPU-heavy store work off the async worker threads.

use crate::StoreError;

/// Runs `work` on the blocking pool when there is a runtime, because large
/// scans take long enough to stall other tasks on the same worker.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

/// Below this many items a job runs on one thread: starting a thread costs
/// more than the work it would take over.
const MIN_ITEMS_PER_THREAD: usize = 4096;

/// Applies `work` to every item, splitting large inputs across the cores.
/// The first error wins; items keep their order.
pub(crate) fn parallel_for_each<T: Send>(
    items: &mut [T],
    work: impl Fn(&mut T) -> Result<(), StoreError> + Sync,
) -> Result<(), StoreError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(items.len() / MIN_ITEMS_PER_THREAD).max(1);
    let per_thread = items.len().div_ceil(threads);
    if threads == 1 {
        return items.iter_mut().try_for_each(&work);
    }
    std::thread::scope(|scope| {
        let mut chunks = items.chunks_mut(per_thread);
        // the calling thread takes the first chunk itself
        let first = chunks.next();
        let helpers: Vec<_> = chunks
            .map(|chunk| scope.spawn(|| chunk.iter_mut().try_for_each(&work)))
            .collect();
        let mut outcome = first.map_or(Ok(()), |chunk| chunk.iter_mut().try_for_each(&work));
        for helper in helpers {
            let result = helper
                .join()
                .unwrap_or_else(|_| Err(StoreError::Backend("store worker panicked".into())));
            outcome = outcome.and(result);
        }
        outcome
    })
}
