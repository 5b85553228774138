//! Every task operation from every TaskState (§4.1), with Diego's messages.

mod common;
use common::*;
use diego_model::*;
use TaskState::*;

const ALL: [TaskState; 5] = [Invalid, Pending, Running, Completed, Resolving];

/// A task in `state`; a Running one runs on cell "a".
fn task_in(state: TaskState) -> Task {
    let mut t = Task::desired("t-1", "d", task_def(), 1);
    t.state = state;
    if state == Running {
        t.cell_id = "a".into();
    }
    t
}

fn assert_err(res: Result<impl std::fmt::Debug, ModelError>, code: ErrorCode, msg: &str) {
    let e = res.expect_err(msg);
    assert_eq!(e.code, code, "{msg}");
    assert_eq!(e.message, msg);
}

#[test]
fn desire_creates_pending() {
    let t = Task::desired("t-1", "d", task_def(), 42);
    assert_eq!(t.state, Pending);
    assert_eq!(
        (t.created_at, t.updated_at, t.first_completed_at),
        (42, 42, 0)
    );
}

#[test]
fn generic_transition_check() {
    for from in ALL {
        for to in ALL {
            let want = matches!(
                (from, to),
                (Pending, Running) | (Running, Completed) | (Completed, Resolving)
            );
            assert_eq!(from.can_transition_to(to), want, "{from:?} -> {to:?}");
        }
    }
}

#[test]
fn start_from_every_state() {
    for s in ALL {
        for cell in ["a", "b"] {
            let before = task_in(s);
            let mut t = before.clone();
            let res = t.start(cell, 10);
            match (s, cell) {
                (Pending, _) => {
                    let d = res.unwrap();
                    assert!(d.should_start && d.changed);
                    assert_eq!(
                        (t.state, t.cell_id.as_str(), t.updated_at),
                        (Running, cell, 10)
                    );
                }
                (Running, "a") => {
                    let d = res.unwrap();
                    assert!(!d.should_start && !d.changed, "same cell: no-op");
                    assert_eq!(t, before);
                }
                _ => {
                    assert_err(
                        res,
                        ErrorCode::InvalidStateTransition,
                        &format!("Cannot transition from {} to Running", s.name()),
                    );
                    assert_eq!(t, before);
                }
            }
        }
    }
}

#[test]
fn complete_from_every_state() {
    for s in ALL {
        for cell in ["a", "b"] {
            let before = task_in(s);
            let mut t = before.clone();
            let res = t.complete(cell, true, "oops", "result!", 20);
            match (s, cell) {
                (Running, "a") => {
                    res.unwrap();
                    assert_eq!(t.state, Completed);
                    assert!(t.failed);
                    assert_eq!(t.failure_reason, "oops");
                    assert_eq!(t.result, "result!");
                    assert_eq!((t.first_completed_at, t.updated_at), (20, 20));
                    assert!(t.cell_id.is_empty(), "cell_id cleared on completion");
                }
                (Running, _) => {
                    assert_err(
                        res,
                        ErrorCode::RunningOnDifferentCell,
                        "Running on cell a not b",
                    );
                    assert_eq!(t, before);
                }
                _ => {
                    assert_err(
                        res,
                        ErrorCode::InvalidStateTransition,
                        &format!("Cannot transition from {} to Completed", s.name()),
                    );
                    assert_eq!(t, before);
                }
            }
        }
    }
}

#[test]
fn cancel_and_fail_from_every_state() {
    for s in ALL {
        let before = task_in(s);
        let mut t = before.clone();
        let res = t.cancel(30);
        let mut f = before.clone();
        let fres = f.fail("gone", 30);
        match s {
            Pending | Running => {
                let cell = res.unwrap();
                assert_eq!(cell.as_deref(), if s == Running { Some("a") } else { None });
                assert_eq!(
                    (t.state, t.failed, t.failure_reason.as_str()),
                    (Completed, true, "task was cancelled")
                );
                assert_eq!(t.first_completed_at, 30);
                assert!(t.cell_id.is_empty());
                fres.unwrap();
                assert_eq!(
                    (f.state, f.failed, f.failure_reason.as_str()),
                    (Completed, true, "gone")
                );
            }
            _ => {
                let msg = format!("Cannot transition from {} to Completed", s.name());
                assert_err(res, ErrorCode::InvalidStateTransition, &msg);
                assert_err(fres, ErrorCode::InvalidStateTransition, &msg);
                assert_eq!(t, before);
            }
        }
    }
}

#[test]
fn reject_from_every_state() {
    for s in ALL {
        let before = task_in(s);
        let mut t = before.clone();
        let res = t.reject("no room", DEFAULT_MAX_TASK_RETRIES, 40);
        match s {
            Pending | Running => {
                assert_eq!(res.unwrap(), RejectOutcome::Requeued);
                assert_eq!(t.state, Pending);
                assert!(t.cell_id.is_empty());
                assert_eq!(
                    (t.rejection_count, t.rejection_reason.as_str(), t.updated_at),
                    (1, "no room", 40)
                );
            }
            _ => {
                assert_err(
                    res,
                    ErrorCode::InvalidRequest,
                    "the request received is invalid",
                );
                assert_eq!(t, before);
            }
        }
    }
}

#[test]
fn resolving_and_delete_from_every_state() {
    for s in ALL {
        let before = task_in(s);
        let mut t = before.clone();
        let res = t.resolving(50);
        let del = before.check_deletable();
        let msg = format!("Cannot transition from {} to Resolving", s.name());
        if s == Completed {
            res.unwrap();
            assert_eq!((t.state, t.updated_at), (Resolving, 50));
        } else {
            assert_err(res, ErrorCode::InvalidStateTransition, &msg);
            assert_eq!(t, before);
        }
        if s == Resolving {
            del.unwrap();
        } else {
            assert_err(del, ErrorCode::InvalidStateTransition, &msg);
        }
    }
    // The message the brief quotes.
    assert_eq!(
        task_in(Pending).resolving(1).unwrap_err().message,
        "Cannot transition from Pending to Resolving"
    );
}

#[test]
fn reject_gives_the_initial_attempt_plus_three_retries() {
    let mut t = Task::desired("t-1", "d", task_def(), 0);
    let mut starts = 0;
    for attempt in 1..=4 {
        let d = t.start(&format!("cell-{attempt}"), attempt).unwrap();
        assert!(d.should_start);
        starts += 1;
        let out = t
            .reject(
                &format!("reason {attempt}"),
                DEFAULT_MAX_TASK_RETRIES,
                attempt,
            )
            .unwrap();
        assert_eq!(t.rejection_count, attempt as i32);
        if attempt < 4 {
            assert_eq!(out, RejectOutcome::Requeued, "attempt {attempt}");
            assert_eq!(t.state, Pending);
            assert!(!t.failed);
        } else {
            assert_eq!(out, RejectOutcome::Failed);
            assert_eq!(t.state, Completed);
            assert!(t.failed);
            assert_eq!(
                t.failure_reason, "reason 4",
                "failed with the rejection reason"
            );
            assert_eq!(t.rejection_reason, "reason 4");
        }
    }
    assert_eq!(starts, 4);
    // Out of retries: it cannot start again.
    assert!(t.start("cell-x", 9).is_err());
}

#[test]
fn rejection_counts_from_pending_too() {
    // The auctioneer rejects Pending tasks it could not place.
    let mut t = Task::desired("t-1", "d", task_def(), 0);
    for _ in 0..3 {
        assert_eq!(t.reject("no cell", 3, 1).unwrap(), RejectOutcome::Requeued);
    }
    assert_eq!(t.reject("no cell", 3, 1).unwrap(), RejectOutcome::Failed);
    assert_eq!(t.failure_reason, "no cell");
}

#[test]
fn demote_only_touches_resolving() {
    for s in ALL {
        let mut t = task_in(s);
        t.updated_at = 77;
        t.demote_to_completed();
        assert_eq!(t.state, if s == Resolving { Completed } else { s });
        assert_eq!(t.updated_at, 77);
    }
}

#[test]
fn failure_reason_is_truncated() {
    let mut t = task_in(Running);
    t.complete("a", true, &"y".repeat(4096), "", 1).unwrap();
    assert_eq!(t.failure_reason.len(), 1024);
}
