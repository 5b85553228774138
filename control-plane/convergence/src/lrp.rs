//! LRP convergence (spec §5.3, suspects §4.4).

use std::cmp::Ordering;

use diego_model::{
    internal_route_hostnames, ActualLrp, ActualLrpKey, ActualState, Presence, SchedulingInfo,
};

use crate::{CellView, ConvergenceConfig, LrpAction, Plan, RetireReason, Snapshot};

/// The rows of one index, borrowed from the snapshot.
#[derive(Default, Clone, Copy)]
struct IndexRefs<'a> {
    ordinary: Option<&'a ActualLrp>,
    evacuating: Option<&'a ActualLrp>,
    suspect: Option<&'a ActualLrp>,
}

struct Process<'a> {
    desired: Option<&'a SchedulingInfo>,
    /// In index order, one entry per index that has rows.
    indices: Vec<(i32, IndexRefs<'a>)>,
}

struct Ctx<'a> {
    snapshot: &'a Snapshot,
    cells: CellView<'a>,
    now_ns: i64,
    cfg: &'a ConvergenceConfig,
}

impl Ctx<'_> {
    fn fresh(&self, domain: &str) -> bool {
        self.snapshot.fresh_domains.contains(domain)
    }

    fn cell_missing(&self, row: &ActualLrp) -> bool {
        self.cells.is_missing(&row.instance_key.cell_id) == Some(true)
    }

    fn cell_present(&self, row: &ActualLrp) -> bool {
        self.cells.is_missing(&row.instance_key.cell_id) == Some(false)
    }
}

fn by_index(a: &ActualLrp, b: &ActualLrp) -> Ordering {
    a.key
        .process_guid
        .cmp(&b.key.process_guid)
        .then(a.key.index.cmp(&b.key.index))
}

/// `items` in order of `cmp`; already ordered input (the runner reads rows
/// in key order) costs one comparison per item. The sort is stable, so of
/// two rows for the same slot the later one still wins.
fn ordered<T>(items: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Vec<&T> {
    let mut refs: Vec<&T> = items.iter().collect();
    if !refs
        .windows(2)
        .all(|w| cmp(w[0], w[1]) != Ordering::Greater)
    {
        refs.sort_by(|a, b| cmp(a, b));
    }
    refs
}

pub(crate) fn plan_lrps(
    snapshot: &Snapshot,
    cells: CellView<'_>,
    now_ns: i64,
    cfg: &ConvergenceConfig,
    out: &mut Plan,
) {
    // Both sides sorted by process guid, then walked together: no hashing
    // or tree per process, and the plan comes out in guid order.
    let desired = ordered(&snapshot.desired, |a, b| {
        a.process_guid.cmp(&b.process_guid)
    });
    let actuals = ordered(&snapshot.actuals, by_index);
    let ctx = Ctx {
        snapshot,
        cells,
        now_ns,
        cfg,
    };
    let (mut d, mut a) = (0, 0);
    let mut indices = Vec::new();
    while d < desired.len() || a < actuals.len() {
        let guid = match (desired.get(d), actuals.get(a)) {
            (Some(x), Some(y)) => x.process_guid.as_str().min(y.key.process_guid.as_str()),
            (Some(x), None) => x.process_guid.as_str(),
            (None, Some(y)) => y.key.process_guid.as_str(),
            (None, None) => unreachable!("the loop condition"),
        };
        // of several desired LRPs with one guid, the last wins
        let mut info = None;
        while let Some(x) = desired.get(d).filter(|x| x.process_guid == guid) {
            info = Some(*x);
            d += 1;
        }
        indices.clear();
        while let Some(row) = actuals.get(a).filter(|r| r.key.process_guid == guid) {
            let index = row.key.index;
            if indices.last().is_none_or(|(i, _)| *i != index) {
                indices.push((index, IndexRefs::default()));
            }
            let refs = &mut indices.last_mut().expect("pushed").1;
            match row.presence {
                Presence::Ordinary => refs.ordinary = Some(*row),
                Presence::Evacuating => refs.evacuating = Some(*row),
                Presence::Suspect => refs.suspect = Some(*row),
            }
            a += 1;
        }
        let process = Process {
            desired: info,
            indices: std::mem::take(&mut indices),
        };
        plan_process(&ctx, guid, &process, out);
        indices = process.indices;
    }
}

fn plan_process(ctx: &Ctx<'_>, guid: &str, p: &Process<'_>, out: &mut Plan) {
    // the desired internal routes, worked out once per process
    let routes = p.desired.map(|d| internal_route_hostnames(&d.routes));
    let mut promoted = Vec::new();
    for (index, rows) in &p.indices {
        if plan_index(ctx, p.desired, routes.as_deref(), rows, out) {
            promoted.push(*index);
        }
    }
    let Some(d) = p.desired else { return };
    // `p.indices` is in index order: walk it alongside 0..instances
    let mut rows = p.indices.iter().peekable();
    for index in 0..d.instances.max(0) {
        while rows.next_if(|(i, _)| *i < index).is_some() {}
        let has_ordinary = rows
            .peek()
            .is_some_and(|(i, r)| *i == index && r.ordinary.is_some());
        // A promoted suspect becomes this index's ORDINARY row.
        if !has_ordinary && !promoted.contains(&index) {
            let key = ActualLrpKey::new(guid, index, &d.domain);
            out.lrp_actions.push(LrpAction::CreateMissing { key });
        }
    }
}

/// Plans one index. Returns true when its SUSPECT row is promoted.
fn plan_index(
    ctx: &Ctx<'_>,
    desired: Option<&SchedulingInfo>,
    desired_routes: Option<&[String]>,
    rows: &IndexRefs<'_>,
    out: &mut Plan,
) -> bool {
    if let Some(e) = rows.evacuating.filter(|e| ctx.cell_missing(e)) {
        out.lrp_actions
            .push(LrpAction::DeleteEvacuating { actual: e.clone() });
    }
    // At most one action per SUSPECT row; when it is touched, the ORDINARY
    // row's cell-loss handling waits for the next pass, so two actions never
    // disagree about whether a SUSPECT row exists.
    let mut suspect_touched = false;
    if let Some(s) = rows.suspect {
        let running = |r: Option<&ActualLrp>| r.is_some_and(|r| r.state == ActualState::Running);
        let action = if desired.is_none() && ctx.fresh(&s.key.domain) {
            Some(LrpAction::RemoveOrphanedSuspect { suspect: s.clone() })
        } else if running(rows.ordinary) && running(Some(s)) {
            Some(LrpAction::RemoveExtraSuspect { suspect: s.clone() })
        } else if ctx.cell_present(s) {
            let replacement = rows.ordinary.cloned();
            out.lrp_actions.push(LrpAction::PromoteSuspect {
                suspect: s.clone(),
                replacement,
            });
            return true;
        } else {
            None
        };
        if let Some(a) = action {
            out.lrp_actions.push(a);
            suspect_touched = true;
        }
    }
    let Some(o) = rows.ordinary else { return false };
    let Some(d) = desired else {
        if ctx.fresh(&o.key.domain) {
            out.lrp_actions.push(LrpAction::Retire {
                actual: o.clone(),
                reason: RetireReason::Orphan,
            });
        }
        return false;
    };
    if o.key.index >= d.instances && ctx.fresh(&o.key.domain) && ctx.fresh(&d.domain) {
        out.lrp_actions.push(LrpAction::Retire {
            actual: o.clone(),
            reason: RetireReason::ExtraIndex,
        });
        return false;
    }
    // the ORDINARY row's cell, looked up once
    let cell_missing = ctx.cells.is_missing(&o.instance_key.cell_id);
    let action = match o.state {
        ActualState::Unclaimed
            if o.since
                < ctx
                    .now_ns
                    .saturating_sub(ctx.cfg.stale_unclaimed_duration_ns) =>
        {
            Some(LrpAction::AuctionStaleUnclaimed { actual: o.clone() })
        }
        ActualState::Crashed
            if ctx
                .cfg
                .restart_policy
                .should_restart(ctx.now_ns, o.since, o.crash_count) =>
        {
            Some(LrpAction::RestartCrashed { actual: o.clone() })
        }
        ActualState::Claimed | ActualState::Running
            if !suspect_touched && cell_missing == Some(true) =>
        {
            Some(match rows.suspect {
                Some(s) => LrpAction::UnclaimReplacement {
                    actual: o.clone(),
                    suspect: s.clone(),
                },
                None => LrpAction::MarkSuspect { actual: o.clone() },
            })
        }
        _ => None,
    };
    if action.is_none() && cell_missing == Some(false) {
        let tags = ctx.snapshot.metric_tags.get(o.key.process_guid.as_str());
        let routes = desired_routes.unwrap_or_default();
        out.lrp_updates.extend(crate::drift::drift(o, routes, tags));
    }
    out.lrp_actions.extend(action);
    false
}
