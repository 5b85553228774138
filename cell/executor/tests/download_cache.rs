//! The download cache (ADR 0031) against a loopback HTTP server: revalidation
//! with 304s, refresh on change, the size cap and LRU eviction, checksums,
//! single flight and crash leftovers; and through the Download step.

#[path = "common/cache_server.rs"]
mod cache_server;
mod common;

use std::sync::Arc;

use cache_server::{cache_server, Artifact};
use common::*;
use diego_backend_fake::FakeBackend;
use diego_executor::{
    ContainerState, DownloadCache, Executor, ExecutorConfig, Lifecycle, RunRequest,
};
use diego_model::*;

fn artifact(body: &[u8], etag: &str) -> Artifact {
    Artifact {
        body: body.to_vec(),
        etag: etag.into(),
        ..Default::default()
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Bytes that do not compress, so sizes on disk are what the test says.
fn noise(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

fn data_bytes_on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".data"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn cached_executor(dir: &std::path::Path, max_bytes: u64) -> (Executor, Arc<FakeBackend>) {
    let backend = FakeBackend::new();
    let cfg = ExecutorConfig {
        download_cache_dir: Some(dir.to_path_buf()),
        download_cache_max_bytes: max_bytes,
        ..config()
    };
    (Executor::new(backend.clone(), cfg), backend)
}

fn download(from: String, cache_key: &str, checksum: (&str, &str)) -> Action {
    Action::Download(DownloadAction {
        artifact: "droplet".into(),
        from,
        to: "/home/vcap".into(),
        cache_key: cache_key.into(),
        user: "vcap".into(),
        checksum_algorithm: checksum.0.into(),
        checksum_value: checksum.1.into(),
        ..Default::default()
    })
}

async fn run_in(exec: &Executor, guid: &str, action: Action) -> Option<String> {
    alloc(exec, guid);
    exec.run(guid, RunRequest::new(Lifecycle::Task, action))
        .await
        .unwrap();
    let c = wait_state(exec, guid, ContainerState::Completed, 5000).await;
    failure(&c)
}

#[tokio::test]
async fn second_download_revalidates_with_a_304_and_transfers_no_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    let bits = tgz(&[("app/run.sh", b"echo v1\n")]);
    server.set("/droplet.tgz", artifact(&bits, "\"v1\""));
    let (exec, backend) = cached_executor(dir.path(), 1 << 20);
    let action = download(
        server.url("/droplet.tgz"),
        "droplets/app-1",
        ("sha256", &sha256(&bits)),
    );

    assert_eq!(run_in(&exec, "first", action.clone()).await, None);
    assert_eq!(server.body_bytes(), bits.len() as u64);
    assert!(!server
        .last_head()
        .to_ascii_lowercase()
        .contains("if-none-match"));

    assert_eq!(run_in(&exec, "second", action).await, None);
    assert_eq!(server.requests(), 2);
    assert_eq!(server.not_modified(), 1);
    assert!(
        server
            .last_head()
            .to_ascii_lowercase()
            .contains("if-none-match: \"v1\""),
        "{}",
        server.last_head()
    );
    assert_eq!(
        server.body_bytes(),
        bits.len() as u64,
        "the body crossed the wire once"
    );
    for guid in ["first", "second"] {
        assert_eq!(
            backend.file(guid, "/home/vcap/app/run.sh").as_deref(),
            Some(&b"echo v1\n"[..])
        );
    }
    let first = log_text(&exec, "first");
    assert!(
        first[1].starts_with("APP:Downloaded droplet ("),
        "{first:?}"
    );
    // Diego prints no size when the cache served it
    assert_eq!(log_text(&exec, "second")[1], "APP:Downloaded droplet");
    let stats = exec.download_cache().unwrap().stats();
    assert_eq!((stats.entries, stats.used_bytes), (1, bits.len() as u64));
}

#[tokio::test]
async fn a_changed_artifact_refreshes_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    let v1 = tgz(&[("run.sh", b"v1")]);
    let v2 = tgz(&[("run.sh", b"version two")]);
    server.set("/d", artifact(&v1, "\"1\""));
    let (exec, backend) = cached_executor(dir.path(), 1 << 20);
    let action = download(server.url("/d"), "k", ("", ""));
    assert_eq!(run_in(&exec, "a", action.clone()).await, None);
    server.set("/d", artifact(&v2, "\"2\""));
    assert_eq!(run_in(&exec, "b", action.clone()).await, None);
    assert_eq!(
        backend.file("b", "/home/vcap/run.sh").as_deref(),
        Some(&b"version two"[..])
    );
    assert!(server.last_head().contains("\"1\""), "revalidated v1");
    // the refreshed entry is what the next 304 serves
    assert_eq!(run_in(&exec, "c", action).await, None);
    assert_eq!(server.not_modified(), 1);
    assert_eq!(
        backend.file("c", "/home/vcap/run.sh").as_deref(),
        Some(&b"version two"[..])
    );
    let cache = exec.download_cache().unwrap();
    assert_eq!(cache.stats().used_bytes, v2.len() as u64);
    // the old generation's file is gone: one data file and its meta
    assert_eq!(files_in(dir.path()).len(), 2, "{:?}", files_in(dir.path()));
}

#[tokio::test]
async fn last_modified_alone_revalidates_with_if_modified_since() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    let date = "Wed, 25 Nov 2026 10:00:00 GMT";
    server.set(
        "/d",
        Artifact {
            body: b"body".to_vec(),
            last_modified: date.into(),
            ..Default::default()
        },
    );
    let cache = DownloadCache::open(dir.path(), 1 << 20).unwrap();
    cache
        .fetch(&http(), &server.url("/d"), "k", ("", ""))
        .await
        .unwrap();
    let again = cache
        .fetch(&http(), &server.url("/d"), "k", ("", ""))
        .await
        .unwrap();
    assert_eq!(
        (again.bytes.as_slice(), again.transferred_bytes),
        (&b"body"[..], 0)
    );
    assert!(server
        .last_head()
        .to_ascii_lowercase()
        .contains(&format!("if-modified-since: {}", date.to_ascii_lowercase())));
    assert_eq!(server.not_modified(), 1);
}

#[tokio::test]
async fn eviction_keeps_the_cache_under_its_cap_and_spares_entries_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
        server.set(&format!("/{name}"), artifact(&noise(1_200, i as u8), name));
    }
    let cap = 3_000;
    let cache = DownloadCache::open(dir.path(), cap).unwrap();
    let fetch = |name: &'static str| {
        let (cache, url) = (cache.clone(), server.url(&format!("/{name}")));
        async move { cache.fetch(&http(), &url, name, ("", "")).await.unwrap() }
    };
    drop(fetch("a").await);
    drop(fetch("b").await);
    // a is the least recently used, but it is in use now
    let pinned = cache.hold("a").expect("a is cached");
    drop(fetch("c").await);
    assert!(cache.contains("a"), "an entry in use is never evicted");
    assert!(
        !cache.contains("b"),
        "b was the least recently used one not in use"
    );
    assert!(cache.contains("c"));
    assert!(cache.stats().used_bytes <= cap);
    assert!(data_bytes_on_disk(dir.path()) <= cap);

    // with a and c both in use there is no room for d: it is served, not stored
    let held_c = cache.hold("c").unwrap();
    let d = fetch("d").await;
    assert_eq!(d.bytes, noise(1_200, 3));
    assert!(!cache.contains("d"));
    assert!(cache.stats().used_bytes <= cap);
    drop((d, held_c, pinned));
    // nothing in use: d now takes the place of the least recently used (a)
    drop(fetch("d").await);
    assert!(cache.contains("d") && cache.contains("c") && !cache.contains("a"));
    assert!(data_bytes_on_disk(dir.path()) <= cap);

    // bigger than the whole cap: never stored
    server.set("/huge", artifact(&noise(4_000, 9), "h"));
    let huge = cache
        .fetch(&http(), &server.url("/huge"), "huge", ("", ""))
        .await
        .unwrap();
    assert_eq!(huge.bytes.len(), 4_000);
    assert!(!cache.contains("huge"));
    drop(huge);
    assert!(
        files_in(dir.path()).iter().all(|f| !f.starts_with("tmp-")),
        "no temp file stays behind: {:?}",
        files_in(dir.path())
    );
}

#[tokio::test]
async fn a_bad_checksum_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    let bits = tgz(&[("f", b"x")]);
    server.set("/d", artifact(&bits, "\"e\""));
    let cache_dir = dir.path().join("cache");
    let (exec, _) = cached_executor(&cache_dir, 1 << 20);
    let url = server.url("/d");
    let reason = run_in(&exec, "t", download(url.clone(), "k", ("md5", "00ff"))).await;
    let reason = reason.expect("the step fails");
    assert!(
        reason.starts_with(&format!(
            "failed to download {url}: checksum mismatch: expected md5 00ff, got "
        )),
        "{reason}"
    );
    let cache = exec.download_cache().unwrap();
    assert_eq!(cache.stats().entries, 0);
    assert!(
        files_in(&cache_dir).is_empty(),
        "{:?}",
        files_in(&cache_dir)
    );

    // a good checksum stores it; a later action asking another checksum of the
    // cached entry is checked too (sha256 from the metadata, md5 by hashing)
    let md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(&bits))
    };
    assert_eq!(
        run_in(&exec, "u", download(url.clone(), "k", ("md5", &md5))).await,
        None
    );
    assert_eq!(
        run_in(
            &exec,
            "v",
            download(url.clone(), "k", ("sha256", &sha256(&bits)))
        )
        .await,
        None
    );
    let bad = run_in(&exec, "w", download(url.clone(), "k", ("sha256", "abc"))).await;
    assert!(bad.unwrap().contains("checksum mismatch"));
    assert_eq!(server.not_modified(), 2);
}

#[tokio::test]
async fn concurrent_downloads_of_one_key_hit_the_server_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(1_000).await;
    let body = noise(50_000, 1);
    server.set("/d", artifact(&body, "\"x\""));
    let cache = DownloadCache::open(dir.path(), 1 << 20).unwrap();
    let fetches: Vec<_> = (0..4)
        .map(|_| {
            let (cache, url) = (cache.clone(), server.url("/d"));
            tokio::spawn(async move { cache.fetch(&http(), &url, "same", ("", "")).await })
        })
        .collect();
    let mut transferred = Vec::new();
    for f in fetches {
        let got = f.await.unwrap().unwrap();
        assert_eq!(got.bytes, body);
        transferred.push(got.transferred_bytes);
    }
    assert_eq!(server.requests(), 1, "one request for four downloads");
    assert_eq!(server.body_bytes(), body.len() as u64);
    transferred.sort();
    assert_eq!(transferred, vec![0, 0, 0, body.len() as u64]);
}

#[tokio::test]
async fn leftovers_of_a_crash_are_removed_at_start_and_entries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    server.set("/d", artifact(b"kept", "\"k\""));
    {
        let cache = DownloadCache::open(dir.path(), 1 << 20).unwrap();
        cache
            .fetch(&http(), &server.url("/d"), "k", ("", ""))
            .await
            .unwrap();
    }
    // a download cut off mid-body, and data whose meta never got written
    std::fs::write(dir.path().join("tmp-data-1-2-3"), b"half a body").unwrap();
    std::fs::write(dir.path().join("0000-7.data"), b"torn").unwrap();
    let cache = DownloadCache::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(cache.stats().removed_at_start, 2);
    assert!(!dir.path().join("tmp-data-1-2-3").exists());
    assert!(!dir.path().join("0000-7.data").exists());
    assert!(
        cache.contains("k"),
        "a committed entry survives the restart"
    );
    let again = cache
        .fetch(&http(), &server.url("/d"), "k", ("", ""))
        .await
        .unwrap();
    assert_eq!(
        (again.bytes.as_slice(), again.transferred_bytes),
        (&b"kept"[..], 0)
    );
    assert_eq!(server.not_modified(), 1);

    // through the executor: the cache dir is scanned when it starts
    std::fs::write(dir.path().join("tmp-data-9-9-9"), b"x").unwrap();
    drop((again, cache));
    let (exec, _) = cached_executor(dir.path(), 1 << 20);
    assert_eq!(exec.download_cache().unwrap().stats().removed_at_start, 1);
    assert!(!dir.path().join("tmp-data-9-9-9").exists());
}

#[tokio::test]
async fn downloads_without_a_cache_key_stay_uncached() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    let bits = tgz(&[("f", b"x")]);
    server.set("/d", artifact(&bits, "\"e\""));
    let (exec, _) = cached_executor(dir.path(), 1 << 20);
    for guid in ["a", "b"] {
        assert_eq!(
            run_in(&exec, guid, download(server.url("/d"), "", ("", ""))).await,
            None
        );
        assert!(!server
            .last_head()
            .to_ascii_lowercase()
            .contains("if-none-match"));
    }
    assert_eq!(server.body_bytes(), 2 * bits.len() as u64);
    assert_eq!(exec.download_cache().unwrap().stats().entries, 0);
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test]
async fn a_server_error_fails_the_step_without_a_stale_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    let bits = tgz(&[("f", b"x")]);
    server.set("/d", artifact(&bits, "\"e\""));
    let (exec, _) = cached_executor(dir.path(), 1 << 20);
    let url = server.url("/d");
    assert_eq!(
        run_in(&exec, "a", download(url.clone(), "k", ("", ""))).await,
        None
    );
    server.set(
        "/d",
        Artifact {
            status: Some(500),
            ..artifact(&bits, "\"e\"")
        },
    );
    assert_eq!(
        run_in(&exec, "b", download(url.clone(), "k", ("", ""))).await,
        Some(format!(
            "failed to download {url}: status 500 Internal Server Error"
        ))
    );
    // the entry stays for when the server is back
    assert!(exec.download_cache().unwrap().contains("k"));
}

#[tokio::test]
async fn a_response_without_validators_is_served_but_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let server = cache_server(0).await;
    server.set("/d", artifact(b"v1", "\"1\""));
    let cache = DownloadCache::open(dir.path(), 1 << 20).unwrap();
    cache
        .fetch(&http(), &server.url("/d"), "k", ("", ""))
        .await
        .unwrap();
    assert!(cache.contains("k"));
    // the server stops sending validators: Diego drops the entry
    server.set("/d", artifact(b"v2", ""));
    let got = cache
        .fetch(&http(), &server.url("/d"), "k", ("", ""))
        .await
        .unwrap();
    assert_eq!(got.bytes, b"v2");
    assert!(!cache.contains("k"));
    drop(got);
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[tokio::test]
async fn a_cache_that_cannot_open_leaves_downloads_working_uncached() {
    let dir = tempfile::tempdir().unwrap();
    // a file where the directory should be
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let err = DownloadCache::open(&not_a_dir, 1 << 20).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("download cache {}: ", not_a_dir.display())),
        "{err}"
    );
    let server = cache_server(0).await;
    server.set("/d", artifact(&tgz(&[("f", b"x")]), "\"e\""));
    let (exec, backend) = cached_executor(&not_a_dir, 1 << 20);
    assert!(exec.download_cache().is_none());
    assert_eq!(
        run_in(&exec, "t", download(server.url("/d"), "k", ("", ""))).await,
        None
    );
    assert_eq!(
        backend.file("t", "/home/vcap/f").as_deref(),
        Some(&b"x"[..])
    );
}
