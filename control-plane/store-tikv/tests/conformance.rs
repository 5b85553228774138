//! The store conformance suite against a real TiKV cluster, when
//! `DIEGO_TEST_TIKV_PD` names its PD endpoints (`host:port[,host:port]`);
//! without it the suite is skipped with a printed line (no TiKV or PD
//! binary is packaged for this machine: see ADR 0012).

#![cfg(feature = "tikv")]

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use diego_store::conformance::run_all;
use diego_store::StoreError;
use diego_store_tikv::{TikvOptions, TikvStore};

const PD_ENV: &str = "DIEGO_TEST_TIKV_PD";

fn pd_endpoints() -> Option<Vec<String>> {
    let raw = std::env::var(PD_ENV).ok()?;
    let endpoints: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect();
    (!endpoints.is_empty()).then_some(endpoints)
}

/// A prefix no earlier run used, so reruns against a long-lived cluster
/// start from empty stores.
fn fresh_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let run_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!(
        "/diego-test-{}-{run_ns}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tikv_passes_the_conformance_suite() {
    let Some(pd) = pd_endpoints() else {
        println!(
            "skipped: set {PD_ENV}=host:port (a PD endpoint) to run the conformance suite on tikv"
        );
        return;
    };
    run_all(|| {
        let pd = pd.clone();
        async move {
            TikvStore::connect(&pd, &fresh_prefix(), TikvOptions::default())
                .await
                .expect("connect to the test tikv cluster")
        }
    })
    .await;
}

/// Runs everywhere: a PD address where nothing listens fails `connect`
/// with an error naming the endpoint, within the retry budget.
#[tokio::test]
async fn unreachable_pd_is_a_clear_error_within_the_budget() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.local_addr().expect("local addr").port()
    };
    let pd = vec![format!("127.0.0.1:{port}")];
    let opts = TikvOptions {
        retry_budget: Duration::from_secs(3),
        request_timeout: Duration::from_millis(500),
        ..TikvOptions::default()
    };
    let started = Instant::now();
    let result = TikvStore::connect(&pd, "/diego", opts).await;
    let elapsed = started.elapsed();
    match result {
        Err(StoreError::Backend(reason)) => {
            println!("connect refused as expected: {reason}");
            assert!(
                reason.contains(&pd[0]),
                "error names the endpoint: {reason}"
            )
        }
        Err(other) => panic!("unexpected error kind: {other}"),
        Ok(_) => panic!("connect to a closed port succeeded"),
    }
    assert!(
        elapsed < Duration::from_secs(15),
        "connect gave up after {elapsed:?}, far past its 3 s budget"
    );
}

#[tokio::test]
async fn bad_arguments_are_refused_before_any_network_call() {
    let no_pd = TikvStore::connect(&[], "/diego", TikvOptions::default()).await;
    assert!(matches!(no_pd, Err(StoreError::Backend(r)) if r.contains("pd endpoint")));
    let pd = vec!["127.0.0.1:1".to_string()];
    let no_prefix = TikvStore::connect(&pd, "/", TikvOptions::default()).await;
    assert!(matches!(no_prefix, Err(StoreError::Backend(r)) if r.contains("prefix")));
}
