//! The rep: one per cell. It keeps the cell's presence alive, answers the
//! auctioneer (State, Perform), turns executor events into lifecycle reports
//! to the BBS (claim, start, crash, remove; start, complete, reject), and
//! reconciles containers with BBS records both ways on a timer (spec §7).

mod api;
mod evacuate;
mod fence;
mod metrics;
mod presence;
mod process;
mod routes_tags;
mod run_request;
mod state;
mod sync;

use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;

use diego_executor::Executor;
use diego_sdk::Client;

pub use api::{serve_rep_api, serve_rep_api_tls, RepTls};

#[derive(Debug, Clone)]
pub struct RepConfig {
    pub cell_id: String,
    pub zone: String,
    /// The URL the auctioneer and the BBS reach this rep's API at.
    pub rep_url: String,
    /// Stacks served as `preloaded:<stack>`.
    pub stacks: Vec<String>,
    /// Rootfs schemes served whatever follows the colon (an arbitrary provider), e.g. `wasm`
    /// on a cell with the wasm backend.
    pub rootfs_schemes: Vec<String>,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
    /// Presence TTL and refresh (Locket's 15 s / 5 s).
    pub presence_ttl_ms: u64,
    pub presence_interval_ms: u64,
    /// The bulk sync period (Diego: 30 s; 10 s while evacuating).
    pub polling_interval_ms: u64,
    pub evacuation_polling_interval_ms: u64,
    pub evacuation_timeout_ms: u64,
    /// Where the highest auctioneer fencing token is kept across restarts
    /// (ADR 0022); `None` keeps it in memory only (tests, simulations).
    pub fencing_token_file: Option<std::path::PathBuf>,
}

impl RepConfig {
    pub fn new(cell_id: &str, zone: &str, rep_url: &str) -> Self {
        RepConfig {
            cell_id: cell_id.into(),
            zone: zone.into(),
            rep_url: rep_url.into(),
            stacks: vec!["busybox".into()],
            rootfs_schemes: vec![],
            placement_tags: vec![],
            optional_placement_tags: vec![],
            presence_ttl_ms: 15_000,
            presence_interval_ms: 5_000,
            polling_interval_ms: 30_000,
            evacuation_polling_interval_ms: 10_000,
            evacuation_timeout_ms: 600_000,
            fencing_token_file: None,
        }
    }
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Rep {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub cfg: RepConfig,
    pub exec: Executor,
    pub bbs: Client,
    pub evacuating: AtomicBool,
    /// The highest auctioneer fencing token a `Perform` carried (ADR 0022).
    pub auctioneer_token: AtomicI64,
    /// Serializes writes of the token file so a lower token never lands last.
    pub token_file_lock: std::sync::Mutex<()>,
    /// One operation per container at a time (the original's sliding queue).
    pub ops: process::OpLocks,
}

impl Rep {
    pub fn new(cfg: RepConfig, exec: Executor, bbs: Client) -> Self {
        let token = fence::load(cfg.fencing_token_file.as_deref());
        Rep {
            inner: Arc::new(Inner {
                cfg,
                exec,
                bbs,
                evacuating: AtomicBool::new(false),
                auctioneer_token: AtomicI64::new(token),
                token_file_lock: std::sync::Mutex::new(()),
                ops: process::OpLocks::default(),
            }),
        }
    }

    pub fn executor(&self) -> &Executor {
        &self.inner.exec
    }

    pub fn cell_id(&self) -> &str {
        &self.inner.cfg.cell_id
    }

    /// Starts the presence heartbeat, the event consumer and the bulker.
    pub fn spawn_loops(&self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.spawn_presence(),
            self.spawn_event_consumer(),
            self.spawn_bulker(),
        ]
    }
}
