//! A work's own log rate limit (`log_rate_limit`, bytes per second): lines
//! over it are dropped and the app is told once per second, as Diego's
//! executor does; without a limit nothing is dropped.

mod common;

use common::*;
use diego_executor::{ContainerState, Lifecycle, RunRequest, LOG_RATE_EXCEEDED};

/// Ten 10-byte lines (11 with their newlines) in well under a second.
const SCRIPT: &str = "echo line-00001; echo line-00002; echo line-00003; echo line-00004; \
     echo line-00005; echo line-00006; echo line-00007; echo line-00008; echo line-00009; \
     echo line-00010";

async fn run_with_limit(limit: Option<u64>) -> Vec<String> {
    let (exec, _backend) = executor();
    alloc(&exec, "t");
    let mut req = RunRequest::new(Lifecycle::Task, sh(SCRIPT));
    req.log_rate_limit_bytes_per_second = limit;
    exec.run("t", req).await.unwrap();
    wait_state(&exec, "t", ContainerState::Completed, 5000).await;
    log_text(&exec, "t")
}

#[tokio::test]
async fn lines_over_the_byte_limit_are_dropped_and_the_app_is_told_once() {
    let logs = run_with_limit(Some(35)).await;
    let kept: Vec<_> = logs.iter().filter(|l| l.contains("line-")).collect();
    assert_eq!(
        kept.len(),
        3,
        "35 bytes/s hold three 11-byte lines: {logs:?}"
    );
    let told: Vec<_> = logs
        .iter()
        .filter(|l| l.contains(LOG_RATE_EXCEEDED))
        .collect();
    assert_eq!(told.len(), 1, "one notice per second: {logs:?}");
    assert!(told[0].ends_with("(35 bytes/sec)"), "{}", told[0]);
}

#[tokio::test]
async fn without_a_limit_every_line_is_kept() {
    let logs = run_with_limit(None).await;
    assert_eq!(logs.iter().filter(|l| l.contains("line-")).count(), 10);
    assert!(!logs.iter().any(|l| l.contains(LOG_RATE_EXCEEDED)));
}
