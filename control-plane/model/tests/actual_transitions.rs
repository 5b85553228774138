//! Every cell of the §4.2 transition table, through `allows_transition` and
//! through claim/start/crash.

mod common;
use common::*;
use diego_model::crash::RestartPolicy;
use diego_model::*;
use ActualState::*;

const STATES: [ActualState; 4] = [Unclaimed, Claimed, Running, Crashed];

/// The spec's table, verbatim: rows = from, columns = to
/// (UNCLAIMED, CLAIMED, RUNNING, CRASHED).
const TABLE: [[&str; 4]; 4] = [
    ["yes", "yes", "yes", "no"],       // UNCLAIMED
    ["empty", "same", "yes", "same"],  // CLAIMED
    ["empty", "same", "same", "same"], // RUNNING
    ["empty", "same", "same", "no"],   // CRASHED
];

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Same,
    Different,
    Empty,
}
const KINDS: [KeyKind; 3] = [KeyKind::Same, KeyKind::Different, KeyKind::Empty];

fn idx(s: ActualState) -> usize {
    STATES.iter().position(|x| *x == s).unwrap()
}

fn caller_key(row_key: &InstanceKey, kind: KeyKind) -> InstanceKey {
    match kind {
        KeyKind::Same => row_key.clone(),
        KeyKind::Different => ik("other-guid", "cell-b"),
        KeyKind::Empty => InstanceKey::default(),
    }
}

fn expected(
    from: ActualState,
    to: ActualState,
    row_key: &InstanceKey,
    caller: &InstanceKey,
) -> bool {
    match TABLE[idx(from)][idx(to)] {
        "yes" => true,
        "no" => false,
        "empty" => caller.is_empty(),
        "same" => caller == row_key,
        other => unreachable!("{other}"),
    }
}

#[test]
fn predicate_matches_every_cell_of_the_table() {
    let mut checked = 0;
    // Both with a row holding a key and with an empty-key row.
    for row_key in [ik("g1", "cell-a"), InstanceKey::default()] {
        for from in STATES {
            for to in STATES {
                for kind in KINDS {
                    let caller = caller_key(&row_key, kind);
                    let want = expected(from, to, &row_key, &caller);
                    assert_eq!(
                        allows_transition(from, &row_key, to, &caller),
                        want,
                        "{from:?} -> {to:?} with {kind:?} key (row key {row_key:?})"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 4 * 3);
}

#[test]
fn spot_checks_of_the_table() {
    let a = ik("g1", "cell-a");
    let b = ik("g2", "cell-b");
    let e = InstanceKey::default();
    assert!(
        allows_transition(Unclaimed, &e, Claimed, &b),
        "unclaimed -> claimed with any key"
    );
    assert!(!allows_transition(Unclaimed, &e, Crashed, &e));
    assert!(
        allows_transition(Claimed, &a, Running, &b),
        "claimed -> running with any key"
    );
    assert!(!allows_transition(Claimed, &a, Claimed, &b));
    assert!(!allows_transition(Running, &a, Running, &b));
    assert!(
        !allows_transition(Running, &a, Unclaimed, &a),
        "unclaim needs an empty key"
    );
    assert!(allows_transition(Running, &a, Unclaimed, &e));
    assert!(!allows_transition(Crashed, &e, Crashed, &e));
}

#[test]
fn lrp_key_must_equal() {
    let a = ik("g1", "cell-a");
    let r = claimed(&a, Presence::Ordinary);
    assert!(r.allows_transition_to(&key(), &a, Running));
    let mut other = key();
    other.domain = "other".into();
    assert!(!r.allows_transition_to(&other, &a, Running));
    let mut other = key();
    other.index = 1;
    assert!(!r.allows_transition_to(&other, &a, Running));
}

/// The row as the invariants of §3.5 allow it: a key only when CLAIMED/RUNNING.
fn invariant_row(from: ActualState) -> ActualLrp {
    let a = ik("g1", "cell-a");
    let k = matches!(from, Claimed | Running).then_some(&a);
    row(from, k, Presence::Ordinary, 0)
}

#[test]
fn claim_follows_the_table() {
    for from in STATES {
        for kind in KINDS {
            let before = invariant_row(from);
            let caller = caller_key(&before.instance_key, kind);
            let want = expected(from, Claimed, &before.instance_key, &caller);
            let mut r = before.clone();
            let res = r.claim(&caller, 100);
            let ctx = format!("claim from {from:?} with {kind:?}");
            if want {
                let changed = res.expect(&ctx);
                assert_eq!(r.state, Claimed, "{ctx}");
                assert_eq!(r.instance_key, caller, "{ctx}");
                assert!(r.net_info.is_empty(), "{ctx}");
                assert!(r.placement_error.is_empty(), "{ctx}");
                let noop = from == Claimed && before.instance_key == caller;
                assert_eq!(changed, !noop, "{ctx}");
                if noop {
                    assert_eq!(r, before, "{ctx}: the repeat is a no-op");
                } else {
                    assert_eq!(r.since, 100, "{ctx}");
                    assert_eq!(
                        r.modification_tag.index,
                        before.modification_tag.index + 1,
                        "{ctx}"
                    );
                }
            } else {
                let err = res.expect_err(&ctx);
                assert_eq!(err.code, ErrorCode::ActualLrpCannotBeClaimed, "{ctx}");
                assert_eq!(r, before, "{ctx}: a refused claim changes nothing");
            }
        }
    }
}

#[test]
fn start_follows_the_table() {
    let i = info("5.6.7.8");
    for from in STATES {
        for kind in KINDS {
            let before = invariant_row(from);
            let caller = caller_key(&before.instance_key, kind);
            let want = expected(from, Running, &before.instance_key, &caller);
            let mut r = before.clone();
            let res = r.start(&caller, &i, 100);
            let ctx = format!("start from {from:?} with {kind:?}");
            if want {
                assert!(res.expect(&ctx), "{ctx}: data differs so it is a change");
                assert_eq!(r.state, Running, "{ctx}");
                assert_eq!(r.instance_key, caller, "{ctx}");
                assert_eq!(r.net_info, i.net_info, "{ctx}");
                assert_eq!(r.routable, Some(true), "{ctx}: absent routable means true");
                assert_eq!(r.since, 100, "{ctx}");
                assert_eq!(r.modification_tag.index, before.modification_tag.index + 1);
            } else {
                assert_eq!(
                    res.expect_err(&ctx).code,
                    ErrorCode::ActualLrpCannotBeStarted,
                    "{ctx}"
                );
                assert_eq!(r, before, "{ctx}");
            }
        }
    }
}

#[test]
fn start_identical_is_a_noop_and_any_change_stamps_since() {
    let a = ik("g1", "cell-a");
    let i = info("1.2.3.4");
    let mut r = claimed(&a, Presence::Ordinary);
    assert!(r.start(&a, &i, 10).unwrap());
    let snapshot = r.clone();
    assert!(
        !r.start(&a, &i, 20).unwrap(),
        "heartbeat with identical data"
    );
    assert_eq!(r, snapshot);
    let mut i2 = i.clone();
    i2.routable = Some(false);
    assert!(r.start(&a, &i2, 30).unwrap());
    assert_eq!(r.routable, Some(false));
    assert_eq!(r.since, 30, "spec §4.2: since=now on every effective start");
}

#[test]
fn crash_follows_the_table() {
    let policy = RestartPolicy::default();
    for from in STATES {
        for kind in KINDS {
            let mut before = invariant_row(from);
            before.crash_count = 5; // so the crash lands in CRASHED, not UNCLAIMED
            let caller = caller_key(&before.instance_key, kind);
            let want = expected(from, Crashed, &before.instance_key, &caller);
            let mut r = before.clone();
            let res = r.crash(&caller, "boom", &policy, 1_000);
            let ctx = format!("crash from {from:?} with {kind:?}");
            if want {
                let out = res.expect(&ctx);
                assert_eq!(out.crash_count, 6, "{ctx}");
                assert!(!out.restart_now);
                assert_eq!(r.state, Crashed, "{ctx}");
                assert!(r.instance_key.is_empty() && r.net_info.is_empty(), "{ctx}");
                assert_eq!(r.crash_reason, "boom");
                assert_eq!(r.since, 1_000);
            } else {
                assert_eq!(
                    res.expect_err(&ctx).code,
                    ErrorCode::ActualLrpCannotBeCrashed,
                    "{ctx}"
                );
                assert_eq!(r, before, "{ctx}");
            }
        }
    }
}

#[test]
fn fail_placement_only_when_unclaimed() {
    for from in STATES {
        let before = invariant_row(from);
        let mut r = before.clone();
        let res = r.fail_placement("insufficient resources", 7);
        if from == Unclaimed {
            res.unwrap();
            assert_eq!(r.placement_error, "insufficient resources");
            assert_eq!(r.state, Unclaimed);
            assert_eq!(r.modification_tag.index, 1);
        } else {
            assert_eq!(res.unwrap_err().code, ErrorCode::ActualLrpCannotBeFailed);
            assert_eq!(r, before);
        }
    }
}

#[test]
fn unclaim_from_every_state() {
    for stale in [false, true] {
        for from in STATES {
            let mut before = invariant_row(from);
            before.crash_count = 2;
            let mut r = before.clone();
            let res = r.unclaim(stale, 9);
            let refused = from == Unclaimed || (stale && from == Claimed);
            if refused {
                assert_eq!(
                    res.unwrap_err().code,
                    ErrorCode::ActualLrpCannotBeUnclaimed,
                    "{from:?} stale={stale}"
                );
                assert_eq!(r, before);
            } else {
                res.unwrap();
                assert_eq!(r.state, Unclaimed);
                assert!(r.instance_key.is_empty() && r.net_info.is_empty());
                assert_eq!(r.crash_count, 2, "unclaim keeps the crash count");
                assert_eq!(r.since, 9);
            }
        }
    }
}

#[test]
fn reasons_are_truncated_to_1024_bytes() {
    let policy = RestartPolicy::default();
    let a = ik("g1", "cell-a");
    let mut r = running(&a, Presence::Ordinary);
    let long = "x".repeat(5000);
    r.crash(&a, &long, &policy, 1).unwrap();
    assert_eq!(r.crash_reason.len(), 1024);
    assert!(r.crash_reason.ends_with("(truncated)"));
}

#[test]
fn running_constructor_is_an_ordinary_running_row() {
    let a = ik("g1", "cell-a");
    let r = ActualLrp::running(key(), a.clone(), &info("1.1.1.1"), "ep", 5);
    assert_eq!(r.state, Running);
    assert_eq!(r.presence, Presence::Ordinary);
    assert_eq!(r.modification_tag, ModificationTag::new("ep"));
    assert_eq!(r.routable, Some(true));
    assert!(r.is_running_with(&key(), &a, &info("1.1.1.1")));
}
