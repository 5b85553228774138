//! Real etcd processes for tests: free loopback ports, a temp data dir,
//! wait for health, SIGKILL on drop.

#![allow(dead_code)] // each test binary uses a different part

pub mod peer_proxy;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diego_store_etcd::{EtcdOptions, EtcdStore};

const ETCD: &str = "/usr/bin/etcd";
const HEALTH_WAIT: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// One etcd member; the data dir outlives kills so a restart finds its data.
pub struct Member {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// The peer port the others dial: `peer_port`, or a proxy in front of it.
    pub advertised_peer_port: u16,
    pub data_dir: PathBuf,
    cluster: String,
    state: &'static str,
    child: Option<Child>,
}

impl Member {
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    fn advertised_peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.advertised_peer_port)
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "member {} already running", self.name);
        let log = std::fs::File::create(self.data_dir.with_extension("log")).expect("etcd log");
        let child = Command::new(ETCD)
            .arg("--name")
            .arg(&self.name)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen-client-urls")
            .arg(self.client_url())
            .arg("--advertise-client-urls")
            .arg(self.client_url())
            .arg("--listen-peer-urls")
            .arg(self.peer_url())
            .arg("--initial-advertise-peer-urls")
            .arg(self.advertised_peer_url())
            .arg("--initial-cluster")
            .arg(&self.cluster)
            .arg("--initial-cluster-state")
            .arg(self.state)
            // diego txns can carry more ops than etcd's default 128
            .arg("--max-txn-ops=10000")
            .arg("--max-request-bytes=33554432")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn /usr/bin/etcd (apt-get install etcd-server)");
        self.child = Some(child);
    }

    /// SIGKILL: no clean shutdown, like a crash or power loss of the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `/health` answers `"health":"true"` once the member is serving with a leader.
    pub fn healthy(&self) -> bool {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.client_port)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if conn.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut body = String::new();
        let _ = conn.read_to_string(&mut body);
        body.contains("\"health\":\"true\"")
    }
}

impl Member {
    /// The sum of the Prometheus series on `/metrics` whose line starts
    /// with `series` (labels included), 0 if none.
    pub fn metric(&self, series: &str) -> f64 {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.client_port)) else {
            return 0.0;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if conn.write_all(request.as_bytes()).is_err() {
            return 0.0;
        }
        let mut body = String::new();
        let _ = conn.read_to_string(&mut body);
        body.lines()
            .filter(|line| line.starts_with(series))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A cluster of one or more members with a temp dir that goes with it.
pub struct Cluster {
    pub members: Vec<Member>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn single() -> Self {
        Self::start(1)
    }

    pub fn start(size: usize) -> Self {
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let advertised = ports.iter().map(|(_, peer)| *peer).collect();
        Self::start_with(ports, advertised)
    }

    /// A cluster whose members reach each other through `peer_proxy`
    /// proxies, so one member can be partitioned off; the proxies come back
    /// in member order.
    pub fn start_partitionable(
        size: usize,
    ) -> (Self, peer_proxy::Partitions, Vec<peer_proxy::PeerProxy>) {
        let partitions = peer_proxy::Partitions::default();
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let proxies: Vec<_> = ports
            .iter()
            .map(|(_, peer)| partitions.proxy(*peer))
            .collect();
        let advertised = proxies.iter().map(|p| p.port).collect();
        (Self::start_with(ports, advertised), partitions, proxies)
    }

    fn start_with(ports: Vec<(u16, u16)>, advertised: Vec<u16>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = advertised
            .iter()
            .enumerate()
            .map(|(i, peer)| format!("m{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<Member> = ports
            .iter()
            .zip(&advertised)
            .enumerate()
            .map(|(i, ((client, peer), advertised))| Member {
                name: format!("m{i}"),
                client_port: *client,
                peer_port: *peer,
                advertised_peer_port: *advertised,
                data_dir: dir.path().join(format!("m{i}")),
                cluster: cluster.clone(),
                state: "new",
                child: None,
            })
            .collect();
        for member in &mut members {
            member.start();
        }
        let cluster = Self { members, _dir: dir };
        cluster.wait_healthy();
        cluster
    }

    /// Waits until every running member reports healthy.
    pub fn wait_healthy(&self) {
        let deadline = Instant::now() + HEALTH_WAIT;
        for member in self.members.iter().filter(|m| m.child.is_some()) {
            while !member.healthy() {
                assert!(
                    Instant::now() < deadline,
                    "etcd member {} not healthy within {HEALTH_WAIT:?}; see {}",
                    member.name,
                    member.data_dir.with_extension("log").display()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::client_url).collect()
    }

    /// A store under a prefix no other store of this process uses.
    pub async fn fresh_store(&self) -> EtcdStore {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let prefix = format!("/test-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        EtcdStore::connect(&self.endpoints(), &prefix, EtcdOptions::default())
            .await
            .expect("connect to the test etcd")
    }
}
