//! Each case of §4.5.

mod common;
use common::*;
use diego_model::crash::RestartPolicy;
use diego_model::evacuation::*;
use diego_model::*;
use ActualState::*;
use Presence::*;

fn a() -> InstanceKey {
    ik("g-a", "cell-a")
}
fn b() -> InstanceKey {
    ik("g-b", "cell-b")
}
fn rows(o: Option<ActualLrp>, e: Option<ActualLrp>, s: Option<ActualLrp>) -> IndexRows {
    IndexRows {
        ordinary: o,
        evacuating: e,
        suspect: s,
    }
}
fn rolling(instances: i32, running: i32) -> Option<DesiredView> {
    Some(DesiredView {
        strategy: UpdateStrategy::Rolling,
        instances,
        running_ordinary: running,
    })
}
fn recreate(instances: i32, running: i32) -> Option<DesiredView> {
    Some(DesiredView {
        strategy: UpdateStrategy::Recreate,
        instances,
        running_ordinary: running,
    })
}
fn no_change(keep: bool) -> EvacuationOutcome {
    EvacuationOutcome {
        keep_container: keep,
        changes: vec![],
        request_auction: false,
    }
}

// ---- EvacuateClaimedActualLRP ----

#[test]
fn claimed_deletes_callers_evacuating_or_suspect_row() {
    for p in [Evacuating, Suspect] {
        let r = rows(
            Some(claimed(&b(), Ordinary)),
            (p == Evacuating).then(|| running(&a(), Evacuating)),
            (p == Suspect).then(|| running(&a(), Suspect)),
        );
        let out = evacuate_claimed(&r, &key(), &a(), 5).unwrap();
        assert_eq!(
            out,
            EvacuationOutcome {
                keep_container: false,
                changes: vec![RowChange::Delete(p)],
                request_auction: false
            }
        );
    }
}

#[test]
fn claimed_unclaims_the_ordinary_and_auctions() {
    let r = rows(Some(claimed(&a(), Ordinary)), None, None);
    let out = evacuate_claimed(&r, &key(), &a(), 5).unwrap();
    assert!(!out.keep_container && out.request_auction);
    let [RowChange::Put(u)] = out.changes.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!((u.state, u.presence, u.since), (Unclaimed, Ordinary, 5));
    assert!(u.instance_key.is_empty());
}

#[test]
fn claimed_without_an_ordinary_row_lets_go() {
    assert_eq!(
        evacuate_claimed(&IndexRows::default(), &key(), &a(), 5).unwrap(),
        no_change(false)
    );
    // Guard: another instance's ordinary row is not ours to unclaim.
    let r = rows(Some(running(&b(), Ordinary)), None, None);
    assert_eq!(
        evacuate_claimed(&r, &key(), &a(), 5).unwrap(),
        no_change(false)
    );
}

// ---- EvacuateCrashedActualLRP ----

#[test]
fn crashed_deletes_callers_evacuating_or_suspect_row() {
    let p = RestartPolicy::default();
    let r = rows(
        Some(claimed(&b(), Ordinary)),
        Some(running(&a(), Evacuating)),
        None,
    );
    let out = evacuate_crashed(&r, &key(), &a(), "x", &p, 5).unwrap();
    assert_eq!(out.changes, vec![RowChange::Delete(Evacuating)]);
    let r = rows(
        Some(claimed(&b(), Ordinary)),
        None,
        Some(running(&a(), Suspect)),
    );
    let out = evacuate_crashed(&r, &key(), &a(), "x", &p, 5).unwrap();
    assert_eq!(out.changes, vec![RowChange::Delete(Suspect)]);
    assert!(!out.keep_container);
}

#[test]
fn crashed_runs_crash_logic_without_auction() {
    let p = RestartPolicy::default();
    // First crash: immediate restart -> UNCLAIMED, but no auction (quirk §12.9).
    let r = rows(Some(running(&a(), Ordinary)), None, None);
    let out = evacuate_crashed(&r, &key(), &a(), "oom", &p, 10 * S).unwrap();
    assert!(!out.keep_container && !out.request_auction);
    let [RowChange::Put(c)] = out.changes.as_slice() else {
        panic!()
    };
    assert_eq!(
        (c.state, c.crash_count, c.crash_reason.as_str()),
        (Unclaimed, 1, "oom")
    );
    // Third crash: CRASHED.
    let mut o = running(&a(), Ordinary);
    o.crash_count = 2;
    let out =
        evacuate_crashed(&rows(Some(o), None, None), &key(), &a(), "oom", &p, 10 * S).unwrap();
    let [RowChange::Put(c)] = out.changes.as_slice() else {
        panic!()
    };
    assert_eq!((c.state, c.crash_count), (Crashed, 3));
    assert!(!out.request_auction);
}

#[test]
fn crashed_errors() {
    let p = RestartPolicy::default();
    let e = evacuate_crashed(&IndexRows::default(), &key(), &a(), "x", &p, 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::ResourceNotFound);
    let r = rows(Some(running(&b(), Ordinary)), None, None);
    let e = evacuate_crashed(&r, &key(), &a(), "x", &p, 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::ActualLrpCannotBeCrashed);
}

// ---- EvacuateStoppedActualLRP ----

#[test]
fn stopped_cases() {
    let r = rows(
        Some(claimed(&b(), Ordinary)),
        Some(running(&a(), Evacuating)),
        None,
    );
    assert_eq!(
        evacuate_stopped(&r, &key(), &a()).unwrap().changes,
        vec![RowChange::Delete(Evacuating)]
    );
    let r = rows(None, None, Some(running(&a(), Suspect)));
    assert_eq!(
        evacuate_stopped(&r, &key(), &a()).unwrap().changes,
        vec![RowChange::Delete(Suspect)]
    );
    let r = rows(Some(running(&a(), Ordinary)), None, None);
    let out = evacuate_stopped(&r, &key(), &a()).unwrap();
    assert_eq!(
        out,
        EvacuationOutcome {
            keep_container: false,
            changes: vec![RowChange::Delete(Ordinary)],
            request_auction: false
        }
    );
    let r = rows(Some(running(&b(), Ordinary)), None, None);
    assert_eq!(
        evacuate_stopped(&r, &key(), &a()).unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
    assert_eq!(
        evacuate_stopped(&IndexRows::default(), &key(), &a())
            .unwrap_err()
            .code,
        ErrorCode::ResourceNotFound
    );
}

// ---- RemoveEvacuatingActualLRP ----

#[test]
fn remove_evacuating_cases() {
    let r = rows(
        Some(running(&b(), Ordinary)),
        Some(running(&a(), Evacuating)),
        None,
    );
    assert_eq!(
        remove_evacuating(&r, &a()).unwrap(),
        vec![RowChange::Delete(Evacuating)]
    );
    assert_eq!(
        remove_evacuating(&r, &b()).unwrap_err().code,
        ErrorCode::ResourceNotFound,
        "caller's row is ORDINARY"
    );
    assert_eq!(
        remove_evacuating(&r, &ik("g-c", "cell-c"))
            .unwrap_err()
            .code,
        ErrorCode::ResourceNotFound
    );
    assert_eq!(
        remove_evacuating(&IndexRows::default(), &a())
            .unwrap_err()
            .code,
        ErrorCode::ResourceNotFound
    );
}

// ---- EvacuateRunningActualLRP ----

#[test]
fn running_step1_no_rows() {
    let out = evacuate_running(
        &IndexRows::default(),
        &key(),
        &a(),
        &info("1.2.3.4"),
        rolling(1, 1),
        5,
    )
    .unwrap();
    assert_eq!(out, no_change(false));
}

#[test]
fn running_step2_replacement_up_or_no_ordinary() {
    let i = info("1.2.3.4");
    for state in [Running, Crashed] {
        let mut o = row(state, (state == Running).then(b).as_ref(), Ordinary, 0);
        o.instance_key = if state == Running {
            b()
        } else {
            InstanceKey::default()
        };
        let r = rows(Some(o.clone()), Some(running(&a(), Evacuating)), None);
        let out = evacuate_running(&r, &key(), &a(), &i, rolling(1, 1), 5).unwrap();
        assert_eq!(
            out,
            EvacuationOutcome {
                keep_container: false,
                changes: vec![RowChange::Delete(Evacuating)],
                request_auction: false
            },
            "{state:?}"
        );
        // Another instance's evacuating row is left alone.
        let r = rows(
            Some(o),
            Some(running(&ik("g-c", "cell-c"), Evacuating)),
            None,
        );
        assert_eq!(
            evacuate_running(&r, &key(), &a(), &i, rolling(1, 1), 5).unwrap(),
            no_change(false)
        );
    }
    // No ORDINARY row at all (desired removed / scaled down).
    let r = rows(None, Some(running(&a(), Evacuating)), None);
    let out = evacuate_running(&r, &key(), &a(), &i, rolling(1, 1), 5).unwrap();
    assert_eq!(out.changes, vec![RowChange::Delete(Evacuating)]);
    assert!(!out.keep_container);
}

#[test]
fn running_step3_desired_missing() {
    let i = info("1.2.3.4");
    let r = rows(
        Some(row(Unclaimed, None, Ordinary, 0)),
        Some(running(&a(), Evacuating)),
        None,
    );
    let out = evacuate_running(&r, &key(), &a(), &i, None, 5).unwrap();
    assert_eq!(
        out,
        EvacuationOutcome {
            keep_container: false,
            changes: vec![RowChange::Delete(Evacuating)],
            request_auction: false
        }
    );
    let r = rows(Some(running(&a(), Ordinary)), None, None);
    assert_eq!(
        evacuate_running(&r, &key(), &a(), &i, None, 5).unwrap(),
        no_change(false)
    );
}

#[test]
fn running_step4_recreate() {
    let i = info("1.2.3.4");
    let unclaimed = || Some(row(Unclaimed, None, Ordinary, 0));
    // Caller unknown.
    assert_eq!(
        evacuate_running(
            &rows(unclaimed(), None, None),
            &key(),
            &a(),
            &i,
            recreate(3, 3),
            5
        )
        .unwrap(),
        no_change(false)
    );
    // Caller EVACUATING / SUSPECT: delete it.
    let r = rows(unclaimed(), Some(running(&a(), Evacuating)), None);
    assert_eq!(
        evacuate_running(&r, &key(), &a(), &i, recreate(3, 3), 5)
            .unwrap()
            .changes,
        vec![RowChange::Delete(Evacuating)]
    );
    let r = rows(unclaimed(), None, Some(running(&a(), Suspect)));
    let out = evacuate_running(&r, &key(), &a(), &i, recreate(3, 3), 5).unwrap();
    assert_eq!(out.changes, vec![RowChange::Delete(Suspect)]);
    assert!(!out.keep_container);
    // Caller ORDINARY RUNNING/CLAIMED, fewer running than desired: wait.
    for caller in [running(&a(), Ordinary), claimed(&a(), Ordinary)] {
        let r = rows(Some(caller.clone()), None, None);
        assert_eq!(
            evacuate_running(&r, &key(), &a(), &i, recreate(3, 2), 5).unwrap(),
            no_change(true)
        );
        // All running: unclaim it now, no overlap.
        let out = evacuate_running(&r, &key(), &a(), &i, recreate(3, 3), 5).unwrap();
        assert!(!out.keep_container && out.request_auction);
        let [RowChange::Put(u)] = out.changes.as_slice() else {
            panic!()
        };
        assert_eq!((u.state, u.presence), (Unclaimed, Ordinary));
        assert!(
            out.changes
                .iter()
                .all(|c| !matches!(c, RowChange::Put(r) if r.presence == Evacuating)),
            "RECREATE never writes an evacuating row"
        );
    }
}

#[test]
fn running_step5_rolling_unknown_or_evacuating_caller() {
    let i = info("1.2.3.4");
    // Unknown caller, ordinary UNCLAIMED (already replaced), no evacuating row: write one.
    let r = rows(Some(row(Unclaimed, None, Ordinary, 0)), None, None);
    let out = evacuate_running(&r, &key(), &a(), &i, rolling(1, 0), 7).unwrap();
    assert!(out.keep_container && !out.request_auction);
    let [RowChange::Put(e)] = out.changes.as_slice() else {
        panic!()
    };
    assert_eq!((e.state, e.presence, e.since), (Running, Evacuating, 7));
    assert_eq!(e.instance_key, a());
    assert_eq!(e.net_info, i.net_info);
    assert_eq!(e.internal_routes, i.internal_routes);
    assert_eq!(e.metric_tags, i.metric_tags);
    assert_eq!(e.routable, Some(true));
    assert_eq!(e.availability_zone, "z1");
    assert_eq!(e.modification_tag, ModificationTag::new("g-a"));
    // A different evacuating row holds the index: only one per index.
    let r = rows(
        Some(claimed(&b(), Ordinary)),
        Some(running(&ik("g-c", "cell-c"), Evacuating)),
        None,
    );
    assert_eq!(
        evacuate_running(&r, &key(), &a(), &i, rolling(1, 0), 7).unwrap(),
        no_change(false)
    );
    // The caller's own, identical evacuating row: keep, no change.
    let r0 = rows(Some(claimed(&b(), Ordinary)), None, None);
    let first = evacuate_running(&r0, &key(), &a(), &i, rolling(1, 0), 7).unwrap();
    let r1 = r0.applied(&first.changes);
    assert_eq!(
        evacuate_running(&r1, &key(), &a(), &i, rolling(1, 0), 8).unwrap(),
        no_change(true)
    );
    // ... with changed data: updated in place, index bumped.
    let mut i2 = i.clone();
    i2.routable = Some(false);
    let out = evacuate_running(&r1, &key(), &a(), &i2, rolling(1, 0), 9).unwrap();
    assert!(out.keep_container);
    let [RowChange::Put(e)] = out.changes.as_slice() else {
        panic!()
    };
    assert_eq!(
        (e.routable, e.since, e.modification_tag.index),
        (Some(false), 9, 1)
    );
}

#[test]
fn running_step6_ordinary_caller_moves_to_evacuating_and_is_replaced() {
    for caller in [running(&a(), Ordinary), claimed(&a(), Ordinary)] {
        let mut caller = caller;
        caller.crash_count = 1;
        let i = info("9.9.9.9");
        let r = rows(Some(caller.clone()), None, None);
        let out = evacuate_running(&r, &key(), &a(), &i, rolling(3, 3), 11).unwrap();
        assert!(out.keep_container && out.request_auction);
        let [RowChange::Put(e), RowChange::Put(u)] = out.changes.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(
            (e.presence, e.state),
            (Evacuating, Running),
            "always written RUNNING, even from CLAIMED"
        );
        assert_eq!(e.instance_key, a());
        assert_eq!(e.net_info.address, "9.9.9.9");
        assert_eq!(e.crash_count, 1);
        assert_eq!((u.presence, u.state), (Ordinary, Unclaimed));
        let after = r.applied(&out.changes);
        assert!(after.ordinary.is_some() && after.evacuating.is_some() && after.suspect.is_none());
        // The next poll: the caller's row is EVACUATING and identical -> keep, no change.
        assert_eq!(
            evacuate_running(&after, &key(), &a(), &i, rolling(3, 2), 12).unwrap(),
            no_change(true)
        );
        // The replacement starts on cell b; the next poll lets the old container go.
        let mut replaced = after.clone();
        let mut o = replaced.ordinary.take().unwrap();
        o.claim(&b(), 13).unwrap();
        o.start(&b(), &info("2.2.2.2"), 14).unwrap();
        replaced.ordinary = Some(o);
        let out = evacuate_running(&replaced, &key(), &a(), &i, rolling(3, 3), 15).unwrap();
        assert_eq!(out.changes, vec![RowChange::Delete(Evacuating)]);
        assert!(!out.keep_container);
    }
}

#[test]
fn running_step6_overwrites_another_instances_evacuating_row() {
    // b (a replacement) is itself evacuated while a's evacuating row lingers.
    let old = running(&a(), Evacuating);
    let r = rows(Some(running(&b(), Ordinary)), Some(old.clone()), None);
    let out = evacuate_running(&r, &key(), &b(), &info("2.2.2.2"), rolling(1, 1), 20).unwrap();
    assert!(out.keep_container);
    let after = r.applied(&out.changes);
    let e = after.evacuating.unwrap();
    assert_eq!(e.instance_key, b());
    assert_eq!(e.modification_tag.epoch, old.modification_tag.epoch);
    assert_eq!(e.modification_tag.index, old.modification_tag.index + 1);
    // a's next poll: its row is gone, the ordinary is UNCLAIMED, b holds the
    // evacuating slot -> a lets go.
    let out = evacuate_running(
        &r.applied(&out.changes),
        &key(),
        &a(),
        &info("1.2.3.4"),
        rolling(1, 0),
        21,
    )
    .unwrap();
    assert_eq!(out, no_change(false));
}

#[test]
fn running_step6_suspect_caller() {
    let r = rows(
        Some(row(Unclaimed, None, Ordinary, 0)),
        None,
        Some(running(&a(), Suspect)),
    );
    let out = evacuate_running(&r, &key(), &a(), &info("1.2.3.4"), rolling(1, 0), 5).unwrap();
    assert!(
        out.keep_container && !out.request_auction,
        "the replacement already exists"
    );
    assert!(
        matches!(out.changes.as_slice(), [RowChange::Put(e), RowChange::Delete(Suspect)] if e.presence == Evacuating && e.state == Running)
    );
}

#[test]
fn running_step7_other_states() {
    // The caller's ordinary row can only hold its key when CLAIMED/RUNNING;
    // force an odd one to reach step 7.
    let mut o = running(&a(), Ordinary);
    o.state = Crashed;
    let r = rows(Some(o), None, None);
    assert_eq!(
        evacuate_running(&r, &key(), &a(), &info("1.2.3.4"), rolling(1, 0), 5).unwrap(),
        no_change(false)
    );
}

#[test]
fn only_one_evacuating_row_per_index() {
    // Whatever the callers do, applying the outcomes never yields two
    // evacuating instances: the IndexRows type has one slot, and the second
    // evacuee is refused while the first one's row is there.
    let r = rows(
        Some(claimed(&b(), Ordinary)),
        Some(running(&a(), Evacuating)),
        None,
    );
    let out = evacuate_running(
        &r,
        &key(),
        &ik("g-c", "cell-c"),
        &info("3.3.3.3"),
        rolling(1, 0),
        5,
    )
    .unwrap();
    assert_eq!(out, no_change(false));
}
