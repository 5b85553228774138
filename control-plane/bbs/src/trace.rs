//! The trace id of the call being served, carried to the events it emits.
//!
//! The original BBS copies a request's `X-Vcap-Request-Id` into the
//! `trace_id` of the events that request causes. Passing it through every
//! operation's signature would touch each one for a value only the change
//! log reads, so the gRPC adapter scopes it as a task-local around the call
//! (as Go passes it in the context) and `Change::emit` records it. Work the
//! BBS does on its own (convergence, auctions) runs outside any scope and
//! emits an empty trace id.

use std::future::Future;

tokio::task_local! {
    static TRACE_ID: String;
}

/// Runs `call` with `trace_id` as the trace id of every event it emits.
pub async fn with_trace_id<F: Future>(trace_id: String, call: F) -> F::Output {
    TRACE_ID.scope(trace_id, call).await
}

/// The trace id in scope, or empty outside any.
pub fn current() -> String {
    TRACE_ID.try_with(Clone::clone).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_sets_the_trace_id_and_nothing_leaks_out() {
        assert_eq!(current(), "");
        let inside = with_trace_id("req-1".into(), async {
            tokio::task::yield_now().await;
            current()
        })
        .await;
        assert_eq!(inside, "req-1");
        assert_eq!(current(), "");
    }
}
