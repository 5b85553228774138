//! The `diego:placement/scorer` world, typed, and its adapter to `diego_auction::Scorer`.
//!
//! Five ABI versions are bound (the versioning rule): `0.5.0` has the guest keeping the
//! round's loads place a whole batch of works per call, walking the auction itself
//! (`place-batch`; see `v5`, ADR 0029), `0.4.0` adds to 0.3's rounds a guest that keeps the
//! round's loads and picks each placement's winner itself (`place`, one call of numbers per
//! placement; see `v4`, ADR 0026), `0.3.0` scores in rounds with flat
//! numeric lists (columnar cells and loads, interned strings; see `v3`), `0.2.0` in rounds
//! with lists of records (see `v2`), `0.1.0` with one fresh-store `score-batch` call per
//! placement (see `v1`). Either way the auction asks once per placement for every candidate
//! ([`Scorer::open_round`]). A failed call (trap, fuel,
//! deadline, memory, malformed output) ends the plugin's part in that round: the rest is
//! scored by the native fallback, and the round reports the failure so the auctioneer can
//! re-plan the auction with the default scorer and record why.

/// Instantiates a scorer component in `$store` and constructs its `round`
/// resource with the constructor's arguments: the same steps for every ABI
/// version, each over its own generated bindings (hence a macro).
macro_rules! open_round {
    ($host:expr, $store:expr, $pre:expr, $($arg:expr),+ $(,)?) => {
        $host.run(&mut $store, |store| {
            let bindings = $pre.instantiate(&mut *store)?;
            let round = bindings
                .diego_placement_score()
                .round()
                .call_constructor(&mut *store, $(&$arg),+)?;
            Ok((bindings, round))
        })
    };
}

mod flat;
mod picking;
mod v1;
mod v2;
mod v3;
mod v4;
mod v5;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use diego_auction::{
    BatchWork, CandidateSet, CellScore, CellState, CellView, DiegoScorer, Pick, ScoreColumns,
    ScoreParts, ScoreRound, Scorer, WorkView,
};

use crate::{Digest, WasmError, WasmHost};

/// One cell's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchVerdict {
    Reject(String),
    Score {
        parts: ScoreParts,
        named: Vec<(String, f64)>,
    },
}

/// Named `diego:placement` params carrying `AuctionConfig`'s weights to a Diego-compatible guest.
pub fn diego_params(fallback: &DiegoScorer) -> Vec<(String, f64)> {
    vec![
        (
            "starting-container-weight".into(),
            fallback.starting_container_weight,
        ),
        (
            "bin-pack-first-fit-weight".into(),
            fallback.bin_pack_first_fit_weight,
        ),
    ]
}

/// Scores are numbers: a NaN term (it would never win nor lose consistently) or a `-inf`
/// total (it would always win) is malformed output. `+inf` is allowed and never wins.
pub(crate) fn checked(parts: ScoreParts) -> Result<ScoreParts, WasmError> {
    let terms = [
        ("resource", parts.resource),
        ("starting", parts.starting),
        ("same-process", parts.same_process),
        ("tasks", parts.tasks),
        ("bin-pack", parts.bin_pack),
        ("plugin", parts.plugin),
    ];
    for (name, value) in terms {
        if value.is_nan() {
            return Err(WasmError::Malformed(format!("score term {name} is NaN")));
        }
    }
    if parts.total() == f64::NEG_INFINITY {
        return Err(WasmError::Malformed("score total is -inf".into()));
    }
    Ok(parts)
}

enum Abi {
    V1(v1::Pre),
    V2(v2::Pre),
    V3(v3::Pre),
    V4(v4::Pre),
    V5(v5::Pre),
}

/// An open round of a 0.2, 0.3, 0.4 or 0.5 component. One per auction round, so the larger
/// sessions (their string tables) are not worth a box.
#[allow(clippy::large_enum_variant)]
enum Session<'h> {
    V2(v2::Session<'h>),
    V3(v3::Session<'h>),
    V4(v4::Session<'h>),
    V5(v5::Session<'h>),
}

impl<'h> Session<'h> {
    /// `None` for 0.1, which has no rounds.
    fn open(
        host: &'h WasmHost,
        abi: &Abi,
        params: &[(String, f64)],
        cells: &[&CellState],
    ) -> Option<Result<Self, WasmError>> {
        match abi {
            Abi::V1(_) => None,
            Abi::V2(pre) => Some(v2::Session::open(host, pre, params, cells).map(Session::V2)),
            Abi::V3(pre) => Some(v3::Session::open(host, pre, params, cells).map(Session::V3)),
            Abi::V4(pre) => Some(v4::Session::open(host, pre, params, cells).map(Session::V4)),
            Abi::V5(pre) => Some(v5::Session::open(host, pre, params, cells).map(Session::V5)),
        }
    }

    fn score(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    ) -> Result<(), WasmError> {
        match self {
            Session::V2(session) => {
                out.extend(session.score(work, ids, cells)?);
                Ok(())
            }
            Session::V3(session) => session.score(work, ids, cells, out),
            Session::V4(session) => session.score(work, ids, cells, out),
            Session::V5(session) => session.score(work, ids, cells, out),
        }
    }

    fn explain(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Result<Vec<BatchVerdict>, WasmError> {
        match self {
            Session::V2(session) => session.explain(work, ids, cells),
            Session::V3(session) => session.explain(work, ids, cells),
            Session::V4(session) => session.explain(work, ids, cells),
            Session::V5(session) => session.explain(work, ids, cells),
        }
    }
}

pub struct WasmScorer {
    host: Arc<WasmHost>,
    abi: Abi,
    digest: Digest,
    name: String,
    params: Vec<(String, f64)>,
    fallback: DiegoScorer,
    fallbacks: AtomicU64,
    /// Placements whose winner the guest picked (0.4.0 and 0.5.0, ADRs 0026 and 0029).
    picks: AtomicU64,
    /// `place-batch` calls (0.5.0, ADR 0029).
    batches: AtomicU64,
    last_error: Mutex<Option<WasmError>>,
}

impl WasmScorer {
    /// A scorer from a loaded component; `params` go to every round (or call), `fallback`
    /// scores what a failed plugin could not. A component exporting neither
    /// any `diego:placement` version this host binds (0.5.0 to 0.1.0) is refused with the
    /// reasons.
    pub fn new(
        host: &Arc<WasmHost>,
        digest: Digest,
        name: impl Into<String>,
        params: Vec<(String, f64)>,
        fallback: DiegoScorer,
    ) -> Result<Self, WasmError> {
        let instance = host.instance_pre(&digest)?;
        // The newest version the component exports.
        let abi = match Self::newest_abi(instance) {
            Ok(abi) => abi,
            Err(reasons) => {
                return Err(WasmError::Invalid(format!(
                    "not a scorer component: {}",
                    reasons.join("; nor a ")
                )))
            }
        };
        Ok(Self {
            host: host.clone(),
            abi,
            digest,
            name: name.into(),
            params,
            fallback,
            fallbacks: AtomicU64::new(0),
            picks: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            last_error: Mutex::new(None),
        })
    }

    /// The newest `diego:placement` version the component exports, or why none fits (one
    /// reason per version, newest first).
    fn newest_abi(
        instance: wasmtime::component::InstancePre<crate::state::CallState>,
    ) -> Result<Abi, Vec<String>> {
        let mut reasons = Vec::new();
        match v5::pre(instance.clone()) {
            Ok(pre) => return Ok(Abi::V5(pre)),
            Err(error) => reasons.push(format!("{error:#}")),
        }
        match v4::pre(instance.clone()) {
            Ok(pre) => return Ok(Abi::V4(pre)),
            Err(error) => reasons.push(format!("0.4.0 one: {error:#}")),
        }
        match v3::pre(instance.clone()) {
            Ok(pre) => return Ok(Abi::V3(pre)),
            Err(error) => reasons.push(format!("0.3.0 one: {error:#}")),
        }
        match v2::pre(instance.clone()) {
            Ok(pre) => return Ok(Abi::V2(pre)),
            Err(error) => reasons.push(format!("0.2.0 one: {error:#}")),
        }
        match v1::pre(instance) {
            Ok(pre) => Ok(Abi::V1(pre)),
            Err(error) => {
                reasons.push(format!("0.1.0 one: {error:#}"));
                Err(reasons)
            }
        }
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The `diego:placement` version the component was built against.
    pub fn abi_version(&self) -> &'static str {
        match self.abi {
            Abi::V1(_) => "0.1.0",
            Abi::V2(_) => "0.2.0",
            Abi::V3(_) => "0.3.0",
            Abi::V4(_) => "0.4.0",
            Abi::V5(_) => "0.5.0",
        }
    }

    /// Rounds (or per-cell calls) whose plugin call failed and that the native fallback
    /// finished instead.
    pub fn fallback_count(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Groups of candidates (0.4.0's `place`) or works (0.5.0's `place-batch`) whose winner
    /// the guest picked: how a test or a benchmark sees that the auction took the picking
    /// path.
    pub fn pick_count(&self) -> u64 {
        self.picks.load(Ordering::Relaxed)
    }

    /// `place-batch` calls (0.5.0): how a test or a benchmark sees the batches.
    pub fn batch_count(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<WasmError> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Scores `cells` for `work` in one guest call: one verdict per cell, in order (a
    /// one-off round under 0.2.0 and 0.3.0).
    pub fn score_batch(
        &self,
        work: &WorkView<'_>,
        cells: &[CellView<'_>],
    ) -> Result<Vec<BatchVerdict>, WasmError> {
        let states: Vec<&CellState> = cells.iter().map(|v| v.cell).collect();
        match Session::open(&self.host, &self.abi, &self.params, &states) {
            Some(session) => {
                let ids: Vec<u32> = (0..cells.len() as u32).collect();
                session?.explain(work, &ids, cells)
            }
            None => match &self.abi {
                Abi::V1(pre) => v1::score_batch(&self.host, pre, &self.params, work, cells),
                _ => Err(WasmError::Host("no round for this abi".into())),
            },
        }
    }

    fn record_failure(&self, error: &WasmError) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.clone());
    }
}

impl Scorer for WasmScorer {
    fn name(&self) -> &str {
        &self.name
    }

    /// The per-cell seam, for callers outside an auction round: a one-cell batch; a rejected
    /// cell scores `+inf` (never wins), a failed call the fallback's score.
    fn score(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> ScoreParts {
        match self.score_batch(work, std::slice::from_ref(cell)) {
            Ok(mut verdicts) => match verdicts.pop() {
                Some(BatchVerdict::Score { parts, .. }) => parts,
                Some(BatchVerdict::Reject(_)) | None => ScoreParts {
                    plugin: f64::INFINITY,
                    ..ScoreParts::default()
                },
            },
            Err(error) => {
                self.record_failure(&error);
                self.fallback.score(cell, work)
            }
        }
    }

    fn describe(&self, cell: &CellView<'_>, work: &WorkView<'_>) -> Vec<(String, f64)> {
        match self.score_batch(work, std::slice::from_ref(cell)) {
            Ok(mut verdicts) => match verdicts.pop() {
                Some(BatchVerdict::Score { named, .. }) => named,
                Some(BatchVerdict::Reject(reason)) => vec![(format!("rejected: {reason}"), 0.0)],
                None => Vec::new(),
            },
            Err(error) => vec![(format!("fell back to diego: {error}"), 0.0)],
        }
    }

    fn open_round(&self, cells: &[&CellState]) -> Option<Box<dyn ScoreRound + '_>> {
        let mut round = PluginRound {
            scorer: self,
            session: None,
            failed: None,
        };
        match Session::open(&self.host, &self.abi, &self.params, cells) {
            Some(Ok(session)) => round.session = Some(session),
            Some(Err(error)) => round.fail(error),
            None => {}
        }
        Some(Box::new(round))
    }
}

/// A plugin's part in one auction; after its first failure, the fallback's.
struct PluginRound<'s> {
    scorer: &'s WasmScorer,
    session: Option<Session<'s>>,
    failed: Option<WasmError>,
}

impl PluginRound<'_> {
    /// Keeps the error for `failures` (the auctioneer logs it when it re-plans).
    fn fail(&mut self, error: WasmError) {
        self.scorer.record_failure(&error);
        // A trapped instance cannot be called again; the store goes with it.
        self.session = None;
        self.failed = Some(error);
    }

    fn call(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Result<Vec<BatchVerdict>, WasmError> {
        match (&self.scorer.abi, self.session.as_mut()) {
            (_, Some(session)) => session.explain(work, ids, cells),
            (Abi::V1(pre), None) => {
                let s = self.scorer;
                v1::score_batch(&s.host, pre, &s.params, work, cells)
            }
            (_, None) => Err(WasmError::Host("round is not open".into())),
        }
    }
}

impl ScoreRound for PluginRound<'_> {
    fn score(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut Vec<Option<ScoreParts>>,
    ) {
        if self.failed.is_none() {
            let start = out.len();
            // The hot path of 0.2.0 and 0.3.0 skips building verdicts.
            let answer = match self.session.as_mut() {
                Some(session) => session.score(work, ids, cells, out),
                None => self.call(work, ids, cells).map(|verdicts| {
                    out.extend(verdicts.into_iter().map(|v| match v {
                        BatchVerdict::Score { parts, .. } => Some(parts),
                        BatchVerdict::Reject(_) => None,
                    }))
                }),
            };
            match answer {
                Ok(()) => return,
                Err(error) => {
                    out.truncate(start);
                    self.fail(error)
                }
            }
        }
        let fallback = &self.scorer.fallback;
        out.extend(cells.iter().map(|cell| Some(fallback.score(cell, work))));
    }

    /// 0.3.0's, 0.4.0's and 0.5.0's answers are already columns: handed over as they are. 0.2.0,
    /// 0.1.0 and a failed plugin (the fallback) go through `score`.
    fn score_columns(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
        out: &mut ScoreColumns,
    ) {
        if self.failed.is_none() {
            let answer = match self.session.as_mut() {
                Some(Session::V3(session)) => {
                    Some(session.score_columns(work, ids, cells, out).map(|_| ()))
                }
                Some(Session::V4(session)) => {
                    Some(session.score_columns(work, ids, cells, out).map(|_| ()))
                }
                Some(Session::V5(session)) => {
                    Some(session.score_columns(work, ids, cells, out).map(|_| ()))
                }
                _ => None,
            };
            match answer {
                Some(Ok(())) => return,
                Some(Err(error)) => self.fail(error),
                None => {}
            }
        }
        let mut scored = Vec::with_capacity(cells.len());
        self.score(work, ids, cells, &mut scored);
        out.fill(&scored);
    }

    fn explain(
        &mut self,
        work: &WorkView<'_>,
        ids: &[u32],
        cells: &[CellView<'_>],
    ) -> Vec<CellScore> {
        if self.failed.is_none() {
            match self.call(work, ids, cells) {
                Ok(verdicts) => {
                    return verdicts
                        .into_iter()
                        .map(|v| match v {
                            BatchVerdict::Score { parts, named } => {
                                CellScore::Scored { parts, named }
                            }
                            BatchVerdict::Reject(reason) => CellScore::Rejected(reason),
                        })
                        .collect()
                }
                Err(error) => self.fail(error),
            }
        }
        let fallback = &self.scorer.fallback;
        cells
            .iter()
            .map(|cell| CellScore::Scored {
                parts: fallback.score(cell, work),
                named: Vec::new(),
            })
            .collect()
    }

    /// 0.4.0 picks (ADR 0026); other versions and a failed plugin do not, and the auction
    /// scores through `score_columns` (the fallback's scores once the plugin failed).
    fn pick(&mut self, work: &WorkView<'_>, candidates: &[u32]) -> Option<Pick> {
        if self.failed.is_some() {
            return None;
        }
        let Some(Session::V4(session)) = self.session.as_mut() else {
            return None;
        };
        match session.place(work, candidates) {
            Ok(pick) => {
                self.scorer.picks.fetch_add(1, Ordering::Relaxed);
                Some(pick)
            }
            Err(error) => {
                self.fail(error);
                None
            }
        }
    }

    /// 0.5.0 places batches (ADR 0029); other versions and a failed plugin do not (a
    /// failed call fails the plugin: the auction then goes on with the fallback's scores).
    fn place_batch(
        &mut self,
        works: &[BatchWork<'_>],
        sets: &[CandidateSet<'_>],
        budget: u32,
        out: &mut Vec<Pick>,
    ) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let Some(Session::V5(session)) = self.session.as_mut() else {
            return false;
        };
        let start = out.len();
        match session.place_batch(works, sets, budget, out) {
            Ok(()) => {
                let placed = out[start..].iter().filter(|p| p.winner.is_some()).count();
                self.scorer
                    .picks
                    .fetch_add(placed as u64, Ordering::Relaxed);
                self.scorer.batches.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(error) => {
                out.truncate(start);
                self.fail(error);
                false
            }
        }
    }

    fn refuse_pick(&mut self, reason: String) {
        if self.failed.is_none() {
            self.fail(WasmError::Malformed(format!("refused pick: {reason}")));
        }
    }

    fn failures(&self) -> Vec<String> {
        match &self.failed {
            Some(error) => vec![format!(
                "scorer {} ({}) failed: {error}",
                self.scorer.name, self.scorer.digest
            )],
            None => Vec::new(),
        }
    }
}
