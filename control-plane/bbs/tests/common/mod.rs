//! A BBS gRPC server on loopback over a store in a directory, for the
//! integration tests that talk to it the way a rep or a client would.

#![allow(dead_code)] // each test file uses a different part of this

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use diego_bbs::grpc::{serve, BbsGrpc, DecisionLog, ServeOptions};
use diego_bbs::{Bbs, BbsConfig, NoAuctioneer, StaticCells, SystemClock};
use diego_model::{Action, CellPresence, DesiredLrp, NetInfo, RunningInfo, TaskDefinition};
use diego_store::{open_local, AtRest, EmbeddedOptions, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Server {
    pub addr: SocketAddr,
    pub bbs: Bbs,
    pub cells: Arc<StaticCells>,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// Opens the store, retrying while a previous server's last handles drain
/// (the database file is exclusively locked while any handle lives).
async fn open_store(dir: &Path) -> Arc<dyn Store> {
    let mut last = None;
    for _ in 0..500 {
        match open_local(dir, AtRest::Encrypted, EmbeddedOptions::default()) {
            Ok(s) => return s,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("store did not reopen: {last:?}");
}

impl Server {
    /// Starts a server on 127.0.0.1:0 over `<dir>/store.redb`; cells c1 and
    /// c2 are present so stops are sent to them rather than applied directly.
    pub async fn start(dir: &Path) -> Server {
        Self::start_at(dir, "127.0.0.1:0".parse().unwrap()).await
    }

    /// As [`Server::start`], listening on `addr`.
    pub async fn start_at(dir: &Path, addr: SocketAddr) -> Server {
        let store = open_store(dir).await;
        let cells = Arc::new(StaticCells::default());
        *cells.presences.lock().unwrap() = ["c1", "c2"]
            .iter()
            .map(|id| CellPresence {
                cell_id: id.to_string(),
                ..Default::default()
            })
            .collect();
        let bbs = Bbs::new(
            store,
            Arc::new(SystemClock),
            Arc::new(NoAuctioneer),
            cells.clone(),
            BbsConfig::default(),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let grpc = BbsGrpc::new(bbs.clone(), Arc::new(DecisionLog::default()));
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve(grpc, listener, ServeOptions::default(), async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            bbs,
            cells,
            stop,
            handle,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn client(&self) -> diego_sdk::Client {
        diego_sdk::Client::connect(&self.url(), None).await.unwrap()
    }

    /// Stops serving and waits until the server has let go of the store.
    /// Clients must have dropped their watch streams first (a graceful
    /// shutdown waits for open calls).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

pub fn task_def() -> TaskDefinition {
    TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/true", &[])),
        memory_mb: 64,
        ..Default::default()
    }
}

pub fn lrp(pg: &str, instances: i32) -> DesiredLrp {
    DesiredLrp {
        process_guid: pg.into(),
        domain: "d".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        memory_mb: 128,
        action: Some(Action::run("/bin/server", &[])),
        ..Default::default()
    }
}

pub fn running(address: &str) -> RunningInfo {
    RunningInfo {
        net_info: NetInfo {
            address: address.into(),
            ..Default::default()
        },
        ..Default::default()
    }
}
