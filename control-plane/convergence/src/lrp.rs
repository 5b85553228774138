//! LRP convergence (spec §5.3, suspects §4.4).

use std::collections::{BTreeMap, HashMap};

use diego_model::{ActualLrp, ActualLrpKey, ActualState, Presence, SchedulingInfo};

use crate::{CellView, ConvergenceConfig, LrpAction, Plan, RetireReason, Snapshot};

/// The rows of one index, borrowed from the snapshot.
#[derive(Default, Clone, Copy)]
struct IndexRefs<'a> {
    ordinary: Option<&'a ActualLrp>,
    evacuating: Option<&'a ActualLrp>,
    suspect: Option<&'a ActualLrp>,
}

#[derive(Default)]
struct Process<'a> {
    desired: Option<&'a SchedulingInfo>,
    indices: BTreeMap<i32, IndexRefs<'a>>,
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

pub(crate) fn plan_lrps(
    snapshot: &Snapshot,
    cells: CellView<'_>,
    now_ns: i64,
    cfg: &ConvergenceConfig,
    out: &mut Plan,
) {
    // A hash map groups 250k rows fast; sorting the guids afterwards keeps
    // the plan deterministic.
    let mut processes: HashMap<&str, Process<'_>> = HashMap::with_capacity(snapshot.desired.len());
    for d in &snapshot.desired {
        processes
            .entry(d.process_guid.as_str())
            .or_default()
            .desired = Some(d);
    }
    for a in &snapshot.actuals {
        let refs = processes
            .entry(a.key.process_guid.as_str())
            .or_default()
            .indices
            .entry(a.key.index)
            .or_default();
        match a.presence {
            Presence::Ordinary => refs.ordinary = Some(a),
            Presence::Evacuating => refs.evacuating = Some(a),
            Presence::Suspect => refs.suspect = Some(a),
        }
    }
    let mut guids: Vec<&str> = processes.keys().copied().collect();
    guids.sort_unstable();
    let ctx = Ctx {
        snapshot,
        cells,
        now_ns,
        cfg,
    };
    for guid in guids {
        plan_process(&ctx, guid, &processes[guid], out);
    }
}

fn plan_process(ctx: &Ctx<'_>, guid: &str, p: &Process<'_>, out: &mut Plan) {
    let mut promoted = Vec::new();
    for (&index, rows) in &p.indices {
        if plan_index(ctx, p.desired, rows, out) {
            promoted.push(index);
        }
    }
    let Some(d) = p.desired else { return };
    for index in 0..d.instances.max(0) {
        let has_ordinary = p.indices.get(&index).is_some_and(|r| r.ordinary.is_some());
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
        ActualState::Claimed | ActualState::Running if !suspect_touched && ctx.cell_missing(o) => {
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
    if action.is_none() && ctx.cell_present(o) {
        let tags = ctx.snapshot.metric_tags.get(o.key.process_guid.as_str());
        out.lrp_updates.extend(crate::drift::drift(o, d, tags));
    }
    out.lrp_actions.extend(action);
    false
}
