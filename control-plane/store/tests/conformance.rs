//! The conformance suite against every backend this crate ships.

use diego_store::conformance::run_all;
use diego_store::{EmbeddedOptions, EmbeddedStore, EncryptedStore, Keyring};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_plain() {
    run_all(|| async { EmbeddedStore::open_temp(EmbeddedOptions::default()).unwrap() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_encrypted() {
    run_all(|| async {
        let inner = EmbeddedStore::open_temp(EmbeddedOptions::default()).unwrap();
        EncryptedStore::new(inner, Keyring::generate())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_in_memory() {
    run_all(|| async { EmbeddedStore::in_memory(EmbeddedOptions::default()).unwrap() }).await;
}

#[tokio::test]
async fn embedded_on_current_thread_runtime() {
    run_all(|| async { EmbeddedStore::open_temp(EmbeddedOptions::default()).unwrap() }).await;
}
