//! An HTTP server on loopback that answers like a blobstore behind Diego's
//! cache: ETag / Last-Modified on every 200, 304 for a matching
//! If-None-Match / If-Modified-Since; it counts requests and body bytes sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug, Default)]
pub struct Artifact {
    pub body: Vec<u8>,
    /// Empty: no ETag header.
    pub etag: String,
    /// Empty: no Last-Modified header.
    pub last_modified: String,
    /// A status other than 200 for every request (e.g. 500).
    pub status: Option<u16>,
}

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicUsize,
    pub not_modified: AtomicUsize,
    pub body_bytes: AtomicU64,
    /// The request heads, in order.
    pub heads: Mutex<Vec<String>>,
}

pub struct CacheServer {
    pub base: String,
    pub artifacts: Arc<Mutex<HashMap<String, Artifact>>>,
    pub counters: Arc<Counters>,
}

impl CacheServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    pub fn set(&self, path: &str, artifact: Artifact) {
        self.artifacts
            .lock()
            .unwrap()
            .insert(path.to_string(), artifact);
    }
    pub fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }
    pub fn not_modified(&self) -> usize {
        self.counters.not_modified.load(Ordering::SeqCst)
    }
    pub fn body_bytes(&self) -> u64 {
        self.counters.body_bytes.load(Ordering::SeqCst)
    }
    pub fn last_head(&self) -> String {
        self.counters
            .heads
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `delay_ms` holds every answer back, so concurrent requests overlap.
pub async fn cache_server(delay_ms: u64) -> CacheServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let artifacts: Arc<Mutex<HashMap<String, Artifact>>> = Arc::default();
    let counters: Arc<Counters> = Arc::default();
    let (arts, count) = (artifacts.clone(), counters.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (arts, count) = (arts.clone(), count.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                count.requests.fetch_add(1, Ordering::SeqCst);
                count.heads.lock().unwrap().push(head.clone());
                if delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                let artifact = arts.lock().unwrap().get(&path).cloned();
                let (status, headers, body) = match artifact {
                    None => ("404 Not Found".to_string(), String::new(), b"nope".to_vec()),
                    Some(Artifact {
                        status: Some(code), ..
                    }) => (format!("{code} Boom"), String::new(), b"boom".to_vec()),
                    Some(a) => {
                        let etag_hit = !a.etag.is_empty()
                            && header(&head, "if-none-match") == Some(a.etag.as_str());
                        let date_hit = !a.last_modified.is_empty()
                            && header(&head, "if-none-match").is_none()
                            && header(&head, "if-modified-since") == Some(a.last_modified.as_str());
                        let mut headers = String::new();
                        if !a.etag.is_empty() {
                            headers += &format!("ETag: {}\r\n", a.etag);
                        }
                        if !a.last_modified.is_empty() {
                            headers += &format!("Last-Modified: {}\r\n", a.last_modified);
                        }
                        if etag_hit || date_hit {
                            count.not_modified.fetch_add(1, Ordering::SeqCst);
                            ("304 Not Modified".to_string(), headers, Vec::new())
                        } else {
                            count
                                .body_bytes
                                .fetch_add(a.body.len() as u64, Ordering::SeqCst);
                            ("200 OK".to_string(), headers, a.body)
                        }
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    CacheServer {
        base,
        artifacts,
        counters,
    }
}
