//! Reading the convergence snapshot (docs/adr/0027): the rows decoded by
//! the previous pass are reused where their revision and stored bytes are
//! unchanged, the rest are opened and decoded on every core; the actual
//! rows keep the revisions that wrote them so the apply can guard batched
//! writes with what the plan saw. A warm-up at start (ADR 0030) fills the
//! same cache before the first pass.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use diego_convergence::Snapshot;
use diego_model::{ActualLrp, DesiredLrp, MetricTagValue, Presence, SchedulingInfo};
use diego_store::Revision;

use crate::bulk::{refresh, ScanCache};
use crate::error::Result;
use crate::keys;
use crate::txn::Versioned;
use crate::Bbs;

use super::actual::Rows;

type MetricTags = HashMap<String, BTreeMap<String, MetricTagValue>>;

/// Decoded rows kept from one pass to the next, so a steady-state pass
/// opens and decodes only the records written since (`bulk::refresh`).
/// Taken by a pass and put back when it ends; a pass that fails, or runs
/// while another holds the cache, decodes everything.
#[derive(Default)]
pub(crate) struct ConvergeCache {
    actuals: Option<ScanCache<ActualLrp>>,
    desired: Option<ScanCache<DesiredLrp>>,
}

/// The snapshot, and the key and mod revision of each of its actual rows.
pub(crate) struct ConvergeInput {
    pub snapshot: Snapshot,
    actual_keys: Vec<String>,
    actual_revisions: Vec<Revision>,
    actual_fingerprints: Vec<u64>,
    /// The store revision the actual rows were scanned at.
    actual_scan_revision: Revision,
    /// Whether every actual row is stored at the key its value names, so
    /// rows can be found by key in `snapshot.actuals`.
    all_at_their_keys: bool,
    /// Records opened and decoded by this read (the rest were reused).
    pub decoded: usize,
}

impl ConvergeInput {
    /// The actual rows with their revisions, when steps may be built
    /// from them (see `snapshot_rows`).
    pub(crate) fn revisioned_actuals(&self) -> Option<(&[ActualLrp], &[Revision])> {
        self.all_at_their_keys
            .then_some((&self.snapshot.actuals[..], &self.actual_revisions[..]))
    }
}

/// What a warm-up of the convergence cache did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WarmReport {
    /// Desired and actual LRP records opened and decoded.
    pub records_decoded: usize,
    /// Records found already decoded (a warm-up after a pass).
    pub records_reused: usize,
    pub duration_ms: f64,
}

impl Bbs {
    /// Reads and decodes every desired and actual LRP into the rows kept
    /// between convergence passes, so the first pass after a start only
    /// re-reads what changed since (ADR 0030). Safe at any time: it is the
    /// refresh a pass does, without the plan; a pass that starts meanwhile
    /// waits for it and then refreshes from what it built.
    pub async fn warm_convergence_cache(&self) -> Result<WarmReport> {
        let started = Instant::now();
        let _reading = self.converge_reads.lock().await;
        let cache = std::mem::take(&mut *self.lock_cache());
        let desired = async {
            let scan = self.store.scan_prefix_sealed(keys::DESIRED).await?;
            refresh(cache.desired.unwrap_or_default(), scan).await
        };
        let actuals = async {
            let scan = self.store.scan_prefix_sealed(keys::ACTUAL).await?;
            refresh(cache.actuals.unwrap_or_default(), scan).await
        };
        let ((desired, d), (actuals, a)) = tokio::try_join!(desired, actuals)?;
        let mut kept = self.lock_cache();
        kept.desired = Some(desired);
        kept.actuals = Some(actuals);
        Ok(WarmReport {
            records_decoded: d.decoded + a.decoded,
            records_reused: d.reused + a.reused,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    pub(crate) async fn read_snapshot(&self) -> Result<ConvergeInput> {
        let cell_ids = match self.cells.cells().await {
            Ok(cells) => Some(cells.into_iter().map(|c| c.cell_id).collect()),
            Err(e) => {
                tracing::warn!(error = %e, "cell directory unavailable during convergence");
                None
            }
        };
        // one reader of the cache at a time: a pass that starts during the
        // warm-up waits for it instead of decoding everything a second time
        let _reading = self.converge_reads.lock().await;
        let cache = std::mem::take(&mut *self.lock_cache());
        // The four reads are independent (each is as fresh as the pass needs:
        // every step re-checks its rows before it writes), so they overlap.
        let (desired, tasks, actuals, domains) = tokio::try_join!(
            self.converge_desired(cache.desired.unwrap_or_default()),
            self.tasks("", ""),
            self.converge_actuals(cache.actuals.unwrap_or_default()),
            self.domains(),
        )?;
        let (desired, metric_tags, desired_decoded) = desired;
        let (actuals, actual_decoded) = actuals;
        let all_at_their_keys = actuals
            .keys
            .iter()
            .zip(&actuals.values)
            .all(|(k, a)| keys::is_actual(k, &a.key.process_guid, a.key.index, a.presence));
        if !all_at_their_keys {
            tracing::warn!(
                "an actual lrp row is stored under another key; convergence re-reads every row it changes"
            );
        }
        Ok(ConvergeInput {
            snapshot: Snapshot {
                tasks,
                metric_tags,
                desired,
                actuals: actuals.values,
                cell_ids,
                fresh_domains: domains.into_iter().collect(),
            },
            actual_keys: actuals.keys,
            actual_revisions: actuals.mod_revisions,
            actual_fingerprints: actuals.fingerprints,
            actual_scan_revision: actuals.revision,
            all_at_their_keys,
            decoded: desired_decoded + actual_decoded,
        })
    }

    /// Keeps the actual rows of a finished pass for the next one.
    pub(crate) fn keep_for_next_pass(&self, input: ConvergeInput) {
        let actuals = ScanCache {
            keys: input.actual_keys,
            mod_revisions: input.actual_revisions,
            fingerprints: input.actual_fingerprints,
            values: input.snapshot.actuals,
            revision: input.actual_scan_revision,
        };
        self.lock_cache().actuals = Some(actuals);
    }

    /// Drops the rows kept between passes (about 170 MB at 250,000
    /// instances): a node that stops converging keeps nothing it would
    /// have to re-check anyway.
    pub fn forget_convergence_cache(&self) {
        *self.lock_cache() = ConvergeCache::default();
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ConvergeCache> {
        self.converge_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Scheduling infos and metric tags by process guid.
    async fn converge_desired(
        &self,
        cache: ScanCache<DesiredLrp>,
    ) -> Result<(Vec<SchedulingInfo>, MetricTags, usize)> {
        let scan = self.store.scan_prefix_sealed(keys::DESIRED).await?;
        let (cache, stats) = refresh(cache, scan).await?;
        let infos = cache.values.iter().map(|d| d.scheduling_info()).collect();
        let tags = cache
            .values
            .iter()
            .filter(|d| !d.metric_tags.is_empty())
            .map(|d| (d.process_guid.clone(), d.metric_tags.clone()))
            .collect();
        // the desired LRPs themselves are not part of the snapshot: their
        // cache goes back at once
        self.lock_cache().desired = Some(cache);
        Ok((infos, tags, stats.decoded))
    }

    async fn converge_actuals(
        &self,
        cache: ScanCache<ActualLrp>,
    ) -> Result<(ScanCache<ActualLrp>, usize)> {
        let scan = self.store.scan_prefix_sealed(keys::ACTUAL).await?;
        let (cache, stats) = refresh(cache, scan).await?;
        Ok((cache, stats.decoded))
    }
}

/// The rows of one index as the snapshot read them, guarded by the
/// revisions they were read at: a write built on them fails its
/// compare-and-swap if any of them changed since.
pub(crate) fn snapshot_rows(
    actuals: &[ActualLrp],
    revisions: &[Revision],
    process_guid: &str,
    index: i32,
) -> Rows {
    let want = keys::actual_index_prefix(process_guid, index);
    let prefix_of = |a: &ActualLrp| keys::actual_index_prefix(&a.key.process_guid, a.key.index);
    // the scan returned rows in key order, and every row is at its key
    let start = actuals.partition_point(|a| prefix_of(a) < want);
    let mut rows = Rows::default();
    for (a, rev) in actuals[start..].iter().zip(&revisions[start..]) {
        if a.key.process_guid != process_guid || a.key.index != index {
            break;
        }
        let found = Some(Versioned {
            value: a.clone(),
            key: keys::actual(process_guid, index, a.presence),
            mod_revision: *rev,
        });
        match a.presence {
            Presence::Ordinary => rows.ordinary = found,
            Presence::Evacuating => rows.evacuating = found,
            Presence::Suspect => rows.suspect = found,
        }
    }
    rows
}
