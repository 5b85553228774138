//! Suspect LRPs (cell lost its presence), spec §4.4, as pure functions over
//! the rows of one `(process_guid, index)`. They return [`RowChange`]s that
//! the BBS applies in one transaction, in order.

use crate::evacuation::{IndexRows, RowChange};
use crate::{ActualLrp, ActualState, InstanceKey, Presence, TimeNs};

/// What a convergence-side suspect step decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SuspectOutcome {
    pub changes: Vec<RowChange>,
    /// Request an auction for the ORDINARY row of the index right away.
    pub request_auction: bool,
}

fn caller_is_suspect(rows: &IndexRows, ik: &InstanceKey) -> bool {
    rows.find(ik)
        .is_some_and(|r| r.presence == Presence::Suspect)
}

/// `ClaimActualLRP` from the instance of the SUSPECT row: ignored (success,
/// nothing changes). `None` = the caller is not the suspect, go on with the
/// ORDINARY row.
pub fn claim(rows: &IndexRows, ik: &InstanceKey) -> Option<Vec<RowChange>> {
    caller_is_suspect(rows, ik).then(Vec::new)
}

/// `StartActualLRP` from the instance of the SUSPECT row: ignored (success,
/// nothing changes, no side effects). `None` = go on with the ORDINARY row,
/// then apply [`start_side_effects`].
pub fn start(rows: &IndexRows, ik: &InstanceKey) -> Option<Vec<RowChange>> {
    caller_is_suspect(rows, ik).then(Vec::new)
}

/// `CrashActualLRP` from the instance of the SUSPECT row: the suspect row is
/// deleted and the call returns (no crash count, no auction). `None` = go on
/// with the ORDINARY row.
pub fn crash(rows: &IndexRows, ik: &InstanceKey) -> Option<Vec<RowChange>> {
    caller_is_suspect(rows, ik).then(|| vec![RowChange::Delete(Presence::Suspect)])
}

/// After a successful `StartActualLRP` on the ORDINARY row (a no-op
/// heartbeat included): the replacement is up, so the index's EVACUATING and
/// SUSPECT rows are deleted.
pub fn start_side_effects(rows: &IndexRows) -> Vec<RowChange> {
    let mut changes = Vec::new();
    if rows.evacuating.is_some() {
        changes.push(RowChange::Delete(Presence::Evacuating));
    }
    if rows.suspect.is_some() {
        changes.push(RowChange::Delete(Presence::Suspect));
    }
    changes
}

/// Convergence found the ORDINARY row CLAIMED/RUNNING on a cell missing from
/// Locket.
/// 1. A SUSPECT row already exists (this ORDINARY is a replacement that lost
///    its cell too): unclaim the ORDINARY; no immediate auction (the stale-
///    unclaimed rule re-auctions it at least 30 s later).
/// 2. Otherwise the ORDINARY row becomes the SUSPECT row as it is (state,
///    cell, net info kept: it stays routable) and a fresh UNCLAIMED ORDINARY
///    row (epoch `new_epoch`) takes its place, auctioned at once.
///
/// No ORDINARY row, or one that is not CLAIMED/RUNNING: nothing to do.
pub fn mark_suspect(rows: &IndexRows, new_epoch: &str, now_ns: TimeNs) -> SuspectOutcome {
    let Some(ordinary) = rows.ordinary.as_ref().filter(|o| o.is_placed()) else {
        return SuspectOutcome::default();
    };
    if rows.suspect.is_some() {
        let mut unclaimed = ordinary.clone();
        return match unclaimed.unclaim(false, now_ns) {
            Ok(()) => SuspectOutcome {
                changes: vec![RowChange::Put(unclaimed)],
                request_auction: false,
            },
            Err(_) => SuspectOutcome::default(),
        };
    }
    let mut suspect = ordinary.clone();
    suspect.presence = Presence::Suspect;
    let replacement = ActualLrp::unclaimed(ordinary.key.clone(), new_epoch, now_ns);
    SuspectOutcome {
        changes: vec![RowChange::Put(suspect), RowChange::Put(replacement)],
        request_auction: true,
    }
}

/// The SUSPECT row's cell is present again: the ORDINARY replacement is
/// deleted (whatever its state) and the SUSPECT row becomes the ORDINARY row
/// again. No SUSPECT row: nothing to do.
pub fn promote_suspect(rows: &IndexRows) -> Vec<RowChange> {
    let Some(suspect) = rows.suspect.as_ref() else {
        return Vec::new();
    };
    let mut promoted = suspect.clone();
    promoted.presence = Presence::Ordinary;
    let mut changes = Vec::new();
    if rows.ordinary.is_some() {
        changes.push(RowChange::Delete(Presence::Ordinary));
    }
    changes.push(RowChange::Delete(Presence::Suspect));
    changes.push(RowChange::Put(promoted));
    changes
}

/// Convergence's "extra suspect": both the ORDINARY and the SUSPECT rows are
/// RUNNING, so the SUSPECT one goes.
pub fn remove_extra_suspect(rows: &IndexRows) -> Vec<RowChange> {
    let running =
        |r: &Option<ActualLrp>| r.as_ref().is_some_and(|r| r.state == ActualState::Running);
    if running(&rows.ordinary) && running(&rows.suspect) {
        vec![RowChange::Delete(Presence::Suspect)]
    } else {
        Vec::new()
    }
}
