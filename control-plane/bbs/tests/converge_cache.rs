//! The decoded rows kept between convergence passes (ADRs 0027 and 0030):
//! a pass that starts from the start-time warm-up gives what a cold pass
//! gives, and a store restored in place is read again even when its
//! revision has already climbed past the cached one. Over the encrypted
//! embedded store on disk.

use std::path::Path;
use std::sync::{Arc, RwLock};

use diego_bbs::{
    keys, ActualLrpFilter, Bbs, BbsConfig, ConvergeReport, ConvergenceConfig, ManualClock,
    NoAuctioneer, StaticCells,
};
use diego_model::{
    Action, ActualLrp, ActualLrpKey, CellPresence, DesiredLrp, DesiredLrpUpdate, InstanceKey,
    ModificationTag, NetInfo, RunningInfo,
};
use diego_store::{
    open_local, AtRest, BoxFuture, EmbeddedOptions, LogEntry, Record, Revision, SealedScan, Store,
    StoreError, Txn,
};

/// A store whose backend can be replaced under a running BBS: what a
/// restore in place looks like from the BBS (same endpoint, other data).
struct Swappable(RwLock<Arc<dyn Store>>);

impl Swappable {
    fn now(&self) -> Arc<dyn Store> {
        self.0.read().unwrap().clone()
    }
    fn restore(&self, other: Arc<dyn Store>) {
        *self.0.write().unwrap() = other;
    }
}

impl Store for Swappable {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        let s = self.now();
        Box::pin(async move { s.get(key).await })
    }
    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<Record>, Revision), StoreError>> {
        let s = self.now();
        Box::pin(async move { s.scan_prefix(prefix).await })
    }
    fn scan_prefix_sealed<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<SealedScan, StoreError>> {
        let s = self.now();
        Box::pin(async move { s.scan_prefix_sealed(prefix).await })
    }
    fn commit(&self, txn: Txn) -> BoxFuture<'_, Result<Revision, StoreError>> {
        let s = self.now();
        Box::pin(async move { s.commit(txn).await })
    }
    fn current_revision(&self) -> BoxFuture<'_, Result<Revision, StoreError>> {
        let s = self.now();
        Box::pin(async move { s.current_revision().await })
    }
    fn log_since(
        &self,
        after: Revision,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LogEntry>, StoreError>> {
        let s = self.now();
        Box::pin(async move { s.log_since(after, limit).await })
    }
    fn compact_log(&self, upto: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        let s = self.now();
        Box::pin(async move { s.compact_log(upto).await })
    }
    fn subscribe(&self) -> tokio::sync::watch::Receiver<Revision> {
        self.now().subscribe()
    }
}

fn open(dir: &Path) -> Arc<dyn Store> {
    open_local(dir, AtRest::Encrypted, EmbeddedOptions::default()).expect("open the store")
}

fn cells(ids: &[&str]) -> Arc<StaticCells> {
    let cells = Arc::new(StaticCells::default());
    set_cells(&cells, ids);
    cells
}

fn set_cells(cells: &StaticCells, ids: &[&str]) {
    *cells.presences.lock().unwrap() = ids
        .iter()
        .map(|id| CellPresence {
            cell_id: id.to_string(),
            ..Default::default()
        })
        .collect();
}

fn bbs_on(store: Arc<dyn Store>, cells: Arc<StaticCells>) -> Bbs {
    Bbs::new(
        store,
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(NoAuctioneer),
        cells,
        BbsConfig::default(),
    )
}

async fn desire(bbs: &Bbs, pg: &str, instances: i32) {
    let lrp = DesiredLrp {
        process_guid: pg.into(),
        domain: "d".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(Action::run("/bin/true", &[])),
        ..Default::default()
    };
    bbs.desire_lrp(lrp).await.unwrap();
}

async fn run_on(bbs: &Bbs, pg: &str, index: i32, cell: &str) {
    let ik = InstanceKey::new(&format!("{pg}-{index}-{cell}"), cell);
    bbs.claim_actual_lrp(pg, index, &ik).await.unwrap();
    let info = RunningInfo {
        net_info: NetInfo {
            address: "10.0.0.1".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    bbs.start_actual_lrp(&ActualLrpKey::new(pg, index, "d"), &ik, &info)
        .await
        .unwrap();
}

async fn update_instances(bbs: &Bbs, pg: &str, instances: i32) {
    let update = DesiredLrpUpdate {
        instances: Some(instances),
        ..Default::default()
    };
    bbs.update_desired_lrp(pg, update).await.unwrap();
}

/// Every actual row, without the random part of its modification tag.
async fn actual_rows(bbs: &Bbs) -> Vec<ActualLrp> {
    let mut rows = bbs.actual_lrps(&ActualLrpFilter::default()).await.unwrap();
    for r in &mut rows {
        r.modification_tag = ModificationTag::default();
    }
    rows
}

/// A report without what differs by design between a warm and a cold pass.
fn outcome(r: &ConvergeReport) -> ConvergeReport {
    ConvergeReport {
        snapshot_ms: 0.0,
        plan_ms: 0.0,
        duration_ms: 0.0,
        records_decoded: 0,
        ..r.clone()
    }
}

/// The same history on a fresh store; the warm-up (when asked) runs
/// half-way, before the changes a pass has to pick up.
async fn history(dir: &Path, warm_up: bool) -> (Bbs, ConvergeReport) {
    let cells = cells(&["cell-1", "cell-2"]);
    let bbs = bbs_on(open(dir), cells.clone());
    bbs.upsert_domain("d", 0).await.unwrap();
    desire(&bbs, "pg-a", 3).await;
    run_on(&bbs, "pg-a", 0, "cell-1").await;
    run_on(&bbs, "pg-a", 1, "cell-1").await;
    desire(&bbs, "pg-b", 2).await;
    run_on(&bbs, "pg-b", 0, "cell-2").await;
    run_on(&bbs, "pg-b", 1, "cell-1").await;
    if warm_up {
        let w = bbs.warm_convergence_cache().await.unwrap();
        assert_eq!((w.records_decoded, w.records_reused), (2 + 5, 0));
    }
    // after the warm-up: new rows, changed rows, a cell gone
    desire(&bbs, "pg-c", 1).await;
    update_instances(&bbs, "pg-a", 4).await;
    run_on(&bbs, "pg-a", 2, "cell-1").await;
    set_cells(&cells, &["cell-1"]);
    let report = bbs.converge(&ConvergenceConfig::default()).await.unwrap();
    (bbs, report)
}

#[tokio::test]
async fn a_pass_after_the_warm_up_equals_a_cold_pass() {
    let (warm_dir, cold_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (warm, warm_report) = history(warm_dir.path(), true).await;
    let (cold, cold_report) = history(cold_dir.path(), false).await;
    assert_eq!(outcome(&warm_report), outcome(&cold_report));
    assert_eq!(actual_rows(&warm).await, actual_rows(&cold).await);
    // the pass did something (pg-b's instance on cell-2 went suspect)
    assert!(cold_report.lrp_actions_applied > 0, "{cold_report:?}");
    // the cold pass decoded all 3 desired and 7 actual rows; the warm one
    // only what changed after the warm-up: pg-c and its instance, pg-a and
    // its changed instance 2 and new instance 3
    assert_eq!(cold_report.records_decoded, 10);
    assert_eq!(warm_report.records_decoded, 5);
    // and the next pass of each agrees again
    let cfg = ConvergenceConfig::default();
    let (a, b) = (
        warm.converge(&cfg).await.unwrap(),
        cold.converge(&cfg).await.unwrap(),
    );
    assert_eq!(outcome(&a), outcome(&b));
}

#[tokio::test]
async fn a_pass_started_during_the_warm_up_waits_for_it_and_equals_a_cold_pass() {
    let (dir, cold_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (bbs, _) = history(dir.path(), false).await;
    let (cold, _) = history(cold_dir.path(), false).await;
    bbs.forget_convergence_cache();
    cold.forget_convergence_cache();
    let cfg = ConvergenceConfig::default();
    let cold_pass = cold.converge(&cfg).await.unwrap();
    let (warmed, pass) = tokio::join!(bbs.warm_convergence_cache(), bbs.converge(&cfg));
    let (warmed, pass) = (warmed.unwrap(), pass.unwrap());
    // one of the two decoded everything, the other nothing: never both
    assert_eq!(
        warmed.records_decoded + pass.records_decoded,
        cold_pass.records_decoded
    );
    assert_eq!(outcome(&pass), outcome(&cold_pass));
}

#[tokio::test]
async fn a_store_restored_in_place_past_the_cached_revision_is_read_again() {
    let (live_dir, backup_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cells = cells(&["cell-1"]);
    {
        let bbs = bbs_on(open(live_dir.path()), cells.clone());
        bbs.upsert_domain("d", 0).await.unwrap();
        desire(&bbs, "pg", 1).await;
        run_on(&bbs, "pg", 0, "cell-1").await;
    }
    // the backup: a copy of the closed store (database, log, keyring)
    for entry in std::fs::read_dir(live_dir.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), backup_dir.path().join(entry.file_name())).unwrap();
    }
    let store = Arc::new(Swappable(RwLock::new(open(live_dir.path()))));
    let bbs = bbs_on(store.clone(), cells.clone());
    let cfg = ConvergenceConfig::default();
    // live: one more write, and a pass that caches it
    let annotate = DesiredLrpUpdate {
        annotation: Some("live".into()),
        ..Default::default()
    };
    bbs.update_desired_lrp("pg", annotate).await.unwrap();
    let live = bbs.converge(&cfg).await.unwrap();
    assert_eq!(live.metrics.lrps_desired, 1);
    let live_rev = store.get(&keys::desired("pg")).await.unwrap().unwrap();

    // the backup goes on elsewhere: its first write is to the same key,
    // so it takes the same revision with other bytes; then it climbs on
    let restored = open(backup_dir.path());
    let other = bbs_on(restored.clone(), cells.clone());
    update_instances(&other, "pg", 2).await;
    other.upsert_domain("e", 0).await.unwrap();
    let restored_rev = restored.get(&keys::desired("pg")).await.unwrap().unwrap();
    assert_eq!(
        restored_rev.mod_revision, live_rev.mod_revision,
        "the test needs one key at one revision naming other bytes"
    );
    assert_ne!(restored_rev.value, live_rev.value);
    assert!(restored.current_revision().await.unwrap() > live_rev.mod_revision);

    // restored in place under the running bbs
    store.restore(restored);
    let pass = bbs.converge(&cfg).await.unwrap();
    // the restored desired lrp (2 instances) is read, not the cached one
    // (1 instance, which would retire the restored store's index 1)
    assert_eq!(pass.metrics.lrps_desired, 2, "{pass:?}");
    assert_eq!(pass.lrp_actions_applied, 0, "{pass:?}");
    assert_eq!(pass.metrics.lrps_extra, 0, "{pass:?}");
    let rows = actual_rows(&bbs).await;
    assert_eq!(rows.iter().map(|r| r.key.index).collect::<Vec<_>>(), [0, 1]);
    assert!(pass.records_decoded >= 2, "{pass:?}");
}
