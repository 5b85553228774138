//! Transient-error handling: which etcd errors are worth retrying and the
//! backoff between attempts.

use std::future::Future;
use std::time::{Duration, Instant};

use diego_store::StoreError;
use etcd_client::Error;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Errors that say "try again" (no leader yet, a member down, a dropped
/// connection) rather than "this request is wrong".
pub(crate) fn is_transient(error: &Error) -> bool {
    match error {
        Error::TransportError(_) | Error::IoError(_) => true,
        Error::GRpcStatus(status) => matches!(
            status.code(),
            tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Aborted
                | tonic::Code::Unknown
                | tonic::Code::Cancelled
        ),
        _ => false,
    }
}

/// Doubling backoff, capped.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            next: FIRST_BACKOFF,
        }
    }

    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(MAX_BACKOFF);
    }
}

/// Runs `attempt` until it succeeds, fails for good, or transient failures
/// have gone on for `budget`. Only for requests that are safe to repeat
/// (reads, and writes guarded so a repeat cannot apply twice).
pub(crate) async fn retrying<T, F, Fut>(
    endpoints: &[String],
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
            Err(e) if is_transient(&e) && started.elapsed() < budget => {
                tracing::debug!(error = %e, what, "etcd request failed; retrying");
                backoff.wait().await;
            }
            Err(e) => return Err(backend(endpoints, what, e)),
        }
    }
}

pub(crate) fn backend(endpoints: &[String], what: &str, error: Error) -> StoreError {
    StoreError::Backend(format!("etcd {what} at {endpoints:?}: {error}"))
}
