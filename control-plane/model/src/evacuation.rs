//! Evacuation (cell draining), spec §4.5, as pure functions over the rows of
//! one `(process_guid, index)`.
//!
//! Every function reads an [`IndexRows`] snapshot (taken inside the BBS's
//! transaction) and returns the row changes to apply, in order, in that same
//! transaction. Nothing here talks to a store, an auctioneer or a clock.
//!
//! Errors: an `Err` from `evacuate_claimed` or `evacuate_running` is answered
//! with `keep_container = true` (the rep keeps the container and asks again);
//! an `Err` from `evacuate_crashed` or `evacuate_stopped` is answered with
//! `keep_container = false`, as the original does.
//!
//! New rows: an EVACUATING row that did not exist before gets the caller's
//! instance guid as its modification-tag epoch (a guid unique to that
//! instance), so these functions need no guid source. A replaced row keeps its
//! epoch and bumps the index.

use crate::crash::RestartPolicy;
use crate::{
    ActualLrp, ActualLrpKey, ActualState, ErrorCode, InstanceKey, ModelError, ModificationTag,
    Presence, RunningInfo, TimeNs, UpdateStrategy,
};

/// The rows stored for one `(process_guid, index)`: at most one per presence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexRows {
    pub ordinary: Option<ActualLrp>,
    pub evacuating: Option<ActualLrp>,
    pub suspect: Option<ActualLrp>,
}

/// One write the BBS applies (in order, in one transaction).
// The values live for one transaction and most are `Put`s, so boxing the
// row would only add an allocation per write.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// Insert or replace the row at `actual.presence`.
    Put(ActualLrp),
    /// Delete the row at this presence.
    Delete(Presence),
}

/// What an evacuation call decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvacuationOutcome {
    /// Tells the evacuating rep whether to keep its container running.
    pub keep_container: bool,
    pub changes: Vec<RowChange>,
    /// Request an auction for the ORDINARY row of the index.
    pub request_auction: bool,
}

/// The desired LRP as `EvacuateRunningActualLRP` needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesiredView {
    pub strategy: UpdateStrategy,
    pub instances: i32,
    /// How many ORDINARY rows of this desired LRP are RUNNING (read under the
    /// desired LRP's row lock, for RECREATE).
    pub running_ordinary: i32,
}

impl IndexRows {
    pub fn is_empty(&self) -> bool {
        self.ordinary.is_none() && self.evacuating.is_none() && self.suspect.is_none()
    }

    pub fn get(&self, presence: Presence) -> Option<&ActualLrp> {
        match presence {
            Presence::Ordinary => self.ordinary.as_ref(),
            Presence::Evacuating => self.evacuating.as_ref(),
            Presence::Suspect => self.suspect.as_ref(),
        }
    }

    fn slot(&mut self, presence: Presence) -> &mut Option<ActualLrp> {
        match presence {
            Presence::Ordinary => &mut self.ordinary,
            Presence::Evacuating => &mut self.evacuating,
            Presence::Suspect => &mut self.suspect,
        }
    }

    /// The caller's row: the first row (ORDINARY, EVACUATING, SUSPECT, the
    /// order the original reads them in) holding this instance key. An empty
    /// key matches nothing: a rep always names its instance.
    pub fn find(&self, instance_key: &InstanceKey) -> Option<&ActualLrp> {
        if instance_key.is_empty() {
            return None;
        }
        [&self.ordinary, &self.evacuating, &self.suspect]
            .into_iter()
            .flatten()
            .find(|row| row.instance_key == *instance_key)
    }

    /// Applies changes in order (what the store does in its transaction).
    pub fn apply(&mut self, changes: &[RowChange]) {
        for change in changes {
            match change {
                RowChange::Put(row) => *self.slot(row.presence) = Some(row.clone()),
                RowChange::Delete(presence) => *self.slot(*presence) = None,
            }
        }
    }

    /// The rows after `changes`.
    pub fn applied(&self, changes: &[RowChange]) -> IndexRows {
        let mut out = self.clone();
        out.apply(changes);
        out
    }

    /// Rows in storage order (ORDINARY, EVACUATING, SUSPECT).
    pub fn rows(&self) -> impl Iterator<Item = &ActualLrp> {
        [&self.ordinary, &self.evacuating, &self.suspect]
            .into_iter()
            .flatten()
    }
}

fn outcome(keep_container: bool, changes: Vec<RowChange>) -> EvacuationOutcome {
    EvacuationOutcome {
        keep_container,
        changes,
        request_auction: false,
    }
}

/// "If the caller's row is EVACUATING or SUSPECT ⇒ delete it, keep=false".
fn delete_if_evacuating_or_suspect(
    rows: &IndexRows,
    ik: &InstanceKey,
) -> Option<EvacuationOutcome> {
    match rows.find(ik).map(|r| r.presence) {
        Some(p @ (Presence::Evacuating | Presence::Suspect)) => {
            Some(outcome(false, vec![RowChange::Delete(p)]))
        }
        _ => None,
    }
}

/// Deletes the EVACUATING row when it is the caller's.
fn delete_callers_evacuating(rows: &IndexRows, ik: &InstanceKey) -> Vec<RowChange> {
    match &rows.evacuating {
        Some(e) if !ik.is_empty() && e.instance_key == *ik => {
            vec![RowChange::Delete(Presence::Evacuating)]
        }
        _ => Vec::new(),
    }
}

/// `EvacuateClaimedActualLRP`: the rep drops a container it had claimed but
/// not started. The caller's EVACUATING/SUSPECT row is deleted; otherwise the
/// ORDINARY row is unclaimed and re-auctioned. Never keeps the container.
///
/// Deliberate guard: the ORDINARY row is unclaimed only when it is the
/// caller's (same instance key). The original unclaims it whoever holds it,
/// which would knock out a replacement already placed on another cell; here a
/// foreign or missing ORDINARY row is treated like the original's
/// ResourceNotFound (keep=false, nothing changes).
pub fn evacuate_claimed(
    rows: &IndexRows,
    key: &ActualLrpKey,
    ik: &InstanceKey,
    now_ns: TimeNs,
) -> Result<EvacuationOutcome, ModelError> {
    if let Some(out) = delete_if_evacuating_or_suspect(rows, ik) {
        return Ok(out);
    }
    let Some(ordinary) = rows.ordinary.as_ref() else {
        return Ok(outcome(false, Vec::new()));
    };
    if ordinary.instance_key != *ik || ordinary.key != *key {
        return Ok(outcome(false, Vec::new()));
    }
    let mut unclaimed = ordinary.clone();
    unclaimed.unclaim(false, now_ns)?;
    Ok(EvacuationOutcome {
        keep_container: false,
        changes: vec![RowChange::Put(unclaimed)],
        request_auction: true,
    })
}

/// `EvacuateCrashedActualLRP`: the caller's EVACUATING/SUSPECT row is
/// deleted; otherwise the normal crash logic runs on the ORDINARY row
/// (ResourceNotFound without one, `ActualLRPCannotBeCrashed` if it is not the
/// caller's). Quirk kept from the original (§12.9): no auction is requested
/// even when the crash moves the row to UNCLAIMED; convergence's stale-
/// unclaimed rule re-auctions it. Never keeps the container.
pub fn evacuate_crashed(
    rows: &IndexRows,
    key: &ActualLrpKey,
    ik: &InstanceKey,
    reason: &str,
    policy: &RestartPolicy,
    now_ns: TimeNs,
) -> Result<EvacuationOutcome, ModelError> {
    if let Some(out) = delete_if_evacuating_or_suspect(rows, ik) {
        return Ok(out);
    }
    let Some(ordinary) = rows.ordinary.as_ref() else {
        return Err(ModelError::not_found());
    };
    if !ordinary.allows_transition_to(key, ik, ActualState::Crashed) {
        return Err(ModelError::code_only(ErrorCode::ActualLrpCannotBeCrashed));
    }
    let mut crashed = ordinary.clone();
    crashed.crash(ik, reason, policy, now_ns)?;
    Ok(outcome(false, vec![RowChange::Put(crashed)]))
}

/// `EvacuateStoppedActualLRP`: the caller's EVACUATING/SUSPECT row is
/// deleted; otherwise the ORDINARY row holding the caller's instance key is
/// deleted (ResourceNotFound when there is none). Never keeps the container.
pub fn evacuate_stopped(
    rows: &IndexRows,
    key: &ActualLrpKey,
    ik: &InstanceKey,
) -> Result<EvacuationOutcome, ModelError> {
    if let Some(out) = delete_if_evacuating_or_suspect(rows, ik) {
        return Ok(out);
    }
    match rows.ordinary.as_ref() {
        Some(o)
            if o.instance_key == *ik
                && o.key.process_guid == key.process_guid
                && o.key.index == key.index =>
        {
            Ok(outcome(false, vec![RowChange::Delete(Presence::Ordinary)]))
        }
        _ => Err(ModelError::not_found()),
    }
}

/// `RemoveEvacuatingActualLRP`: the caller's row must be the EVACUATING one
/// (else ResourceNotFound); it is deleted. (The store-level race answers of
/// the original, "already gone ⇒ OK" and "instance key changed ⇒
/// ActualLRPCannotBeRemoved", cannot arise within one snapshot.)
pub fn remove_evacuating(rows: &IndexRows, ik: &InstanceKey) -> Result<Vec<RowChange>, ModelError> {
    match rows.find(ik) {
        Some(row) if row.presence == Presence::Evacuating => {
            Ok(vec![RowChange::Delete(Presence::Evacuating)])
        }
        _ => Err(ModelError::not_found()),
    }
}

/// The EVACUATING row the caller's report makes: always RUNNING (upstream
/// FIXME kept: even when the source row was CLAIMED). It replaces an existing
/// EVACUATING row (same epoch, index + 1) or is new (epoch = instance guid).
fn evacuating_row(
    rows: &IndexRows,
    source: Option<&ActualLrp>,
    key: &ActualLrpKey,
    ik: &InstanceKey,
    info: &RunningInfo,
    now_ns: TimeNs,
) -> ActualLrp {
    let modification_tag = match &rows.evacuating {
        Some(existing) => {
            let mut tag = existing.modification_tag.clone();
            tag.increment();
            tag
        }
        None => ModificationTag::new(ik.instance_guid.clone()),
    };
    ActualLrp {
        key: key.clone(),
        instance_key: ik.clone(),
        net_info: info.net_info.clone(),
        crash_count: source.map_or(0, |s| s.crash_count),
        crash_reason: source.map_or_else(String::new, |s| s.crash_reason.clone()),
        state: ActualState::Running,
        placement_error: String::new(),
        since: now_ns,
        modification_tag,
        presence: Presence::Evacuating,
        internal_routes: info.internal_routes.clone(),
        metric_tags: info.metric_tags.clone(),
        routable: Some(info.routable.unwrap_or(true)),
        availability_zone: info.availability_zone.clone(),
    }
}

/// `EvacuateRunningActualLRP`, the evacuation dance of §4.5, step by step.
/// `desired` is `None` when the desired LRP does not exist.
pub fn evacuate_running(
    rows: &IndexRows,
    key: &ActualLrpKey,
    ik: &InstanceKey,
    info: &RunningInfo,
    desired: Option<DesiredView>,
    now_ns: TimeNs,
) -> Result<EvacuationOutcome, ModelError> {
    // 1. No rows for the index.
    if rows.is_empty() {
        return Ok(outcome(false, Vec::new()));
    }
    let caller = rows.find(ik);

    // 2. No ORDINARY row, or it is a different instance already RUNNING or
    //    CRASHED (the replacement is up, or gave up): let the container go.
    let replaced = match &rows.ordinary {
        None => true,
        Some(o) => {
            o.instance_key != *ik && matches!(o.state, ActualState::Running | ActualState::Crashed)
        }
    };
    if replaced {
        return Ok(outcome(false, delete_callers_evacuating(rows, ik)));
    }

    // 3. The desired LRP is gone: remove the caller's evacuating row.
    let Some(desired) = desired else {
        return Ok(outcome(false, delete_callers_evacuating(rows, ik)));
    };

    // 4. RECREATE: no overlap, at most one instance down at a time.
    if desired.strategy == UpdateStrategy::Recreate {
        let Some(caller) = caller else {
            return Ok(outcome(false, Vec::new()));
        };
        return Ok(match (caller.presence, caller.state) {
            (Presence::Evacuating, _) | (Presence::Suspect, _) => {
                outcome(false, vec![RowChange::Delete(caller.presence)])
            }
            (Presence::Ordinary, ActualState::Running | ActualState::Claimed) => {
                if desired.running_ordinary < desired.instances {
                    outcome(true, Vec::new())
                } else {
                    let mut unclaimed = caller.clone();
                    unclaimed.unclaim(false, now_ns)?;
                    EvacuationOutcome {
                        keep_container: false,
                        changes: vec![RowChange::Put(unclaimed)],
                        request_auction: true,
                    }
                }
            }
            _ => outcome(false, Vec::new()),
        });
    }

    // 5. ROLLING, caller unknown or already evacuating: (re)write its
    //    EVACUATING row, unless another instance holds the index's one.
    if caller.is_none_or(|c| c.presence == Presence::Evacuating) {
        if let Some(e) = &rows.evacuating {
            if e.instance_key != *ik {
                return Ok(outcome(false, Vec::new()));
            }
            if e.is_running_with(key, ik, info) {
                return Ok(outcome(true, Vec::new()));
            }
        }
        let row = evacuating_row(rows, caller, key, ik, info, now_ns);
        return Ok(outcome(true, vec![RowChange::Put(row)]));
    }
    let caller = caller.expect("checked above");

    // 6. Caller is the ORDINARY or the SUSPECT row and RUNNING/CLAIMED: copy
    //    it to EVACUATING, then free its slot for a replacement.
    if matches!(caller.state, ActualState::Running | ActualState::Claimed) {
        let mut changes = vec![RowChange::Put(evacuating_row(
            rows,
            Some(caller),
            key,
            ik,
            info,
            now_ns,
        ))];
        if caller.presence == Presence::Suspect {
            changes.push(RowChange::Delete(Presence::Suspect));
            return Ok(outcome(true, changes));
        }
        let mut unclaimed = caller.clone();
        unclaimed.unclaim(false, now_ns)?;
        changes.push(RowChange::Put(unclaimed));
        return Ok(EvacuationOutcome {
            keep_container: true,
            changes,
            request_auction: true,
        });
    }

    // 7. Any other state.
    Ok(outcome(false, Vec::new()))
}
