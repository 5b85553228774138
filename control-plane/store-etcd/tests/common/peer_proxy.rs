//! A TCP proxy in front of one etcd member's peer port that can cut that
//! member off from the others: a real network partition on loopback.
//!
//! etcd's peer traffic is HTTP/1.1 and every raft request names its sender
//! in `X-Server-From` (hex member id); a connection only ever carries one
//! sender's traffic to one member. So each member advertises its proxy, and
//! a cut member's proxy refuses everything while the other proxies refuse
//! connections from it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// Which connections the proxies refuse.
#[derive(Default)]
struct Cut {
    /// The member id (hex) cut off, once a partition is on.
    member: Option<String>,
}

/// Open connections through a proxy, with the sender each names.
type Live = Arc<Mutex<Vec<(Option<String>, TcpStream)>>>;

/// One proxy per member, sharing what is cut.
pub struct PeerProxy {
    pub port: u16,
    /// The cut member's own proxy refuses everything.
    owner_id: Arc<Mutex<Option<String>>>,
    cut: Arc<Mutex<Cut>>,
    live: Live,
}

/// The proxies of one cluster.
#[derive(Clone, Default)]
pub struct Partitions {
    cut: Arc<Mutex<Cut>>,
}

impl Partitions {
    /// Starts a proxy that forwards to `upstream_port`.
    pub fn proxy(&self, upstream_port: u16) -> PeerProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind peer proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let proxy = PeerProxy {
            port,
            owner_id: Arc::default(),
            cut: self.cut.clone(),
            live: Arc::default(),
        };
        let (owner, cut, live) = (
            proxy.owner_id.clone(),
            proxy.cut.clone(),
            proxy.live.clone(),
        );
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (owner, cut, live) = (owner.clone(), cut.clone(), live.clone());
                thread::spawn(move || forward(conn, upstream_port, &owner, &cut, &live));
            }
        });
        proxy
    }

    /// Cuts `member_id` off (and the connections it has open) until `heal`.
    pub fn cut(&self, member_id: &str, proxies: &[PeerProxy]) {
        self.cut.lock().unwrap().member = Some(member_id.to_string());
        for proxy in proxies {
            let owned = proxy.owner_id.lock().unwrap().as_deref() == Some(member_id);
            for (from, conn) in proxy.live.lock().unwrap().iter() {
                if owned || from.as_deref() == Some(member_id) {
                    let _ = conn.shutdown(Shutdown::Both);
                }
            }
        }
    }

    pub fn heal(&self) {
        self.cut.lock().unwrap().member = None;
    }
}

impl PeerProxy {
    /// Tells the proxy whose member it fronts (known once the cluster is up).
    pub fn set_owner(&self, member_id: &str) {
        *self.owner_id.lock().unwrap() = Some(member_id.to_string());
    }
}

fn forward(
    mut client: TcpStream,
    upstream_port: u16,
    owner: &Mutex<Option<String>>,
    cut: &Mutex<Cut>,
    live: &Live,
) {
    // the first request's head names the sender
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let from = sender(&head);
    {
        let cut = cut.lock().unwrap();
        if let Some(member) = &cut.member {
            let to_cut = owner.lock().unwrap().as_deref() == Some(member.as_str());
            if to_cut || from.as_deref() == Some(member.as_str()) {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    if upstream.write_all(&head).is_err() {
        return;
    }
    if let Ok(clone) = client.try_clone() {
        live.lock().unwrap().push((from, clone));
    }
    let (Ok(mut client_read), Ok(mut upstream_write)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(Shutdown::Both);
    });
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = up.join();
}

/// The `X-Server-From` header of an HTTP request head, lower-cased.
fn sender(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("x-server-from")
            .then(|| value.trim().to_ascii_lowercase())
    })
}
