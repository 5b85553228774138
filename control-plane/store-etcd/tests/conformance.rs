//! The store conformance suite against a real etcd.

mod common;

use diego_store::conformance::run_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_passes_the_conformance_suite() {
    let cluster = common::Cluster::single();
    run_all(|| cluster.fresh_store()).await;
}

#[tokio::test]
async fn etcd_passes_on_a_current_thread_runtime() {
    let cluster = common::Cluster::single();
    run_all(|| cluster.fresh_store()).await;
}

/// The same with four group-commit transactions in flight (ADR 0035).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_passes_with_pipelined_commits() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use diego_store_etcd::{EtcdOptions, EtcdStore};

    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let cluster = common::Cluster::single();
    let endpoints = cluster.endpoints();
    run_all(|| {
        let endpoints = endpoints.clone();
        async move {
            let prefix = format!("/pipelined-{}", NEXT.fetch_add(1, Ordering::Relaxed));
            let opts = EtcdOptions {
                max_batches_in_flight: 4,
                ..EtcdOptions::default()
            };
            EtcdStore::connect(&endpoints, &prefix, opts)
                .await
                .expect("connect to the test etcd")
        }
    })
    .await;
}
