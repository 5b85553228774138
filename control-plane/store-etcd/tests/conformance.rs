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
