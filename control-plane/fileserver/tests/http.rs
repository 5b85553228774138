//! The file server over real HTTP on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;

use diego_fileserver::{client, serve, Digest, FileServer, FileServerError};

struct Running {
    url: String,
    dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn start(max_blob_bytes: u64) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let server = FileServer::with_max_blob_bytes(dir.path(), max_blob_bytes).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(server, listener, async {
        let _ = stopped.await;
    }));
    Running {
        url,
        dir,
        stop: Some(stop),
    }
}

/// One raw HTTP/1.1 exchange, to see statuses and headers as a client like the executor does.
fn raw(url: &str, request: &str, body: &[u8]) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{request} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_posted_blob_is_served_under_its_sha256() {
    let fs = start(1 << 20).await;
    let url = fs.url.clone();
    let body = b"droplet bytes".to_vec();
    let digest = Digest::of(&body);
    let posted = tokio::task::spawn_blocking(move || raw(&url, "POST /blobs", &body))
        .await
        .unwrap();
    assert!(posted.starts_with("HTTP/1.1 201"), "{posted}");
    assert!(posted.contains(&format!("{{\"digest\":\"{digest}\",\"size\":13}}")));

    let url = fs.url.clone();
    let path = format!("GET /blobs/{digest}");
    let got = tokio::task::spawn_blocking(move || raw(&url, &path, b""))
        .await
        .unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.contains(&format!("x-checksum-sha256: {}", digest.hex())));
    assert!(got.ends_with("droplet bytes"));
    // On disk under its digest.
    assert!(fs.dir.path().join("sha256").join(digest.hex()).is_file());

    // The same bytes again: 200, not 201, and the client agrees on the digest.
    let again = client::upload(&fs.url, b"droplet bytes".to_vec())
        .await
        .unwrap();
    assert_eq!(again, digest);
    assert_eq!(
        client::download(&fs.url, &digest).await.unwrap(),
        b"droplet bytes"
    );
    assert!(client::exists(&fs.url, &digest).await.unwrap());
    drop(fs.stop);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_store_nothing() {
    let fs = start(16).await;
    let missing = Digest::of(b"never uploaded");
    assert!(!client::exists(&fs.url, &missing).await.unwrap());
    let err = client::download(&fs.url, &missing).await.unwrap_err();
    assert!(matches!(err, FileServerError::NotFound(_)), "{err}");

    let url = fs.url.clone();
    let responses = tokio::task::spawn_blocking(move || {
        let wrong = format!("PUT /blobs/{}", Digest::of(b"something else"));
        [
            raw(&url, "GET /blobs/sha256:xyz", b""),
            raw(&url, &wrong, b"body"),
            raw(&url, "POST /blobs", &[b'x'; 17]),
            raw(&url, "DELETE /blobs/sha256:00", b""),
            raw(&url, "GET /droplets/x", b""),
        ]
    })
    .await
    .unwrap();
    let expect = [
        (
            "HTTP/1.1 400",
            "malformed digest \"sha256:xyz\": expected sha256:<64 hex digits>",
        ),
        (
            "HTTP/1.1 400",
            "checksum mismatch: the body hashes to sha256:",
        ),
        ("HTTP/1.1 413", "blob too large: more than 16 bytes"),
        (
            "HTTP/1.1 405",
            "method DELETE not allowed on /blobs/sha256:00",
        ),
        ("HTTP/1.1 404", "no route /droplets/x"),
    ];
    for (response, (status, message)) in responses.iter().zip(expect) {
        assert!(response.starts_with(status), "{response}");
        assert!(response.contains(message), "{response}");
    }
    // Refused uploads leave nothing behind, not even a temporary file.
    let left: Vec<_> = std::fs::read_dir(fs.dir.path().join("sha256"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    drop(fs.stop);
}

/// A cell revalidating its cached copy with the ETag it was given gets a
/// 304 and no body; another tag, or a blob that is gone, gets the usual answer.
#[tokio::test]
async fn a_matching_if_none_match_gets_304_without_the_body() {
    let fs = start(1 << 20).await;
    let digest = client::upload(&fs.url, b"droplet v1".to_vec())
        .await
        .unwrap();
    let get = |if_none_match: String| {
        let url = fs.url.clone();
        let path = format!("/blobs/{digest}");
        tokio::task::spawn_blocking(move || {
            let addr = url.strip_prefix("http://").unwrap().to_string();
            let mut stream = TcpStream::connect(&addr).unwrap();
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nIf-None-Match: {if_none_match}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).unwrap();
            let mut out = Vec::new();
            stream.read_to_end(&mut out).unwrap();
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let etag = format!("\"{digest}\"");
    let cached = get(etag.clone()).await.unwrap();
    assert!(cached.starts_with("HTTP/1.1 304"), "{cached}");
    assert!(cached.contains(&format!("etag: {etag}")), "{cached}");
    assert!(!cached.contains("droplet v1"), "{cached}");
    let listed = get(format!("\"sha256:other\", W/{etag}")).await.unwrap();
    assert!(listed.starts_with("HTTP/1.1 304"), "{listed}");
    let other = get("\"sha256:other\"".into()).await.unwrap();
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    assert!(other.ends_with("droplet v1"), "{other}");
    drop(fs.stop);
}
