//! Which TiKV errors are worth retrying, the backoff between attempts and
//! the one way a TiKV error becomes a `StoreError`.

use std::future::Future;
use std::time::{Duration, Instant};

use diego_store::StoreError;
use tikv_client::Error;

const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Errors that say "this request is wrong" (or our use of the client is);
/// everything else (PD or a TiKV node away, region moves, lock waits) is
/// worth another attempt within the retry budget.
pub(crate) fn is_permanent(error: &Error) -> bool {
    matches!(
        error,
        Error::Unimplemented
            | Error::InvalidTransactionType
            | Error::OperationAfterCommitError
            | Error::UnsupportedMode
            | Error::Url(_)
            | Error::InvalidSemver(_)
            | Error::KeyspaceNotFound(_)
            | Error::MaxScanLimitExceeded { .. }
            | Error::ColumnFamilyError(_)
    )
}

/// Whether a failed commit lost a race with another writer (TiKV's
/// write-conflict check on the counter key), which only asks for a re-read.
pub(crate) fn is_write_conflict(error: &Error) -> bool {
    match error {
        Error::KeyError(key_error) => key_error.conflict.is_some(),
        Error::MultipleKeyErrors(errors) | Error::ExtractedErrors(errors) => {
            errors.iter().any(is_write_conflict)
        }
        Error::PessimisticLockError { inner, .. } => is_write_conflict(inner),
        _ => false,
    }
}

/// Doubling backoff, capped.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self::between(FIRST_BACKOFF, MAX_BACKOFF)
    }

    pub(crate) fn between(first: Duration, max: Duration) -> Self {
        Self { next: first, max }
    }

    /// The next pause, doubling the one after it.
    pub(crate) fn step(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.step()).await;
    }
}

/// Runs `attempt` until it succeeds, fails for good, or failures have gone
/// on for `budget`. Only for requests that are safe to repeat.
pub(crate) async fn retrying<T, F, Fut>(
    pd: &[String],
    budget: Duration,
    what: &str,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let started = Instant::now();
    let mut backoff = Backoff::new();
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if !is_permanent(&e) && started.elapsed() < budget => {
                tracing::debug!(error = %e, what, "tikv request failed; retrying");
                backoff.wait().await;
            }
            Err(e) => return Err(backend(pd, what, e)),
        }
    }
}

pub(crate) fn backend(pd: &[String], what: &str, error: Error) -> StoreError {
    StoreError::Backend(format!("tikv {what} (pd {pd:?}): {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut backoff = Backoff::between(Duration::from_millis(10), Duration::from_millis(35));
        let steps: Vec<u128> = (0..4).map(|_| backoff.step().as_millis()).collect();
        assert_eq!(steps, [10, 20, 35, 35]);
    }

    #[test]
    fn write_conflicts_are_told_apart_from_other_errors() {
        let conflict = tikv_client::ProtoKeyError {
            conflict: Some(Default::default()),
            ..Default::default()
        };
        let conflict = Error::KeyError(Box::new(conflict));
        assert!(is_write_conflict(&conflict));
        assert!(is_write_conflict(&Error::MultipleKeyErrors(vec![conflict])));
        let locked = Error::KeyError(Box::default());
        assert!(!is_write_conflict(&locked));
        assert!(!is_write_conflict(&Error::StringError("pd down".into())));
        assert!(is_permanent(&Error::Unimplemented));
        assert!(!is_permanent(&Error::StringError("pd down".into())));
    }
}
