//! The crash restart policy of §4.3, exactly.

mod common;
use common::*;
use diego_model::crash::RestartPolicy;
use diego_model::*;

/// The spec's table: crash count after the crash -> wait (None = never).
fn table(n: i32) -> Option<i64> {
    match n {
        i32::MIN..=2 => Some(0),
        3 => Some(30 * S),
        4 => Some(60 * S),
        5 => Some(2 * MIN),
        6 => Some(4 * MIN),
        7 => Some(8 * MIN),
        8..=199 => Some(16 * MIN),
        _ => None,
    }
}

#[test]
fn constants() {
    let p = RestartPolicy::default();
    assert_eq!(p.immediate_restarts, 3);
    assert_eq!(p.max_backoff_ns, 16 * MIN);
    assert_eq!(p.min_backoff_ns, 30 * S);
    assert_eq!(p.max_restart_attempts, 200);
    assert_eq!(p.crash_reset_window_ns, 5 * MIN);
    assert_eq!(p.max_backoff_exponent(), 5);
}

#[test]
fn backoff_table() {
    let p = RestartPolicy::default();
    for n in 1..=260 {
        assert_eq!(p.backoff_ns(n), table(n), "crash count {n}");
        assert_eq!(p.restart_immediately(n), n <= 2, "crash count {n}");
    }
}

#[test]
fn should_restart_at_the_boundaries() {
    let p = RestartPolicy::default();
    let crashed_at = 1_000 * S;
    for n in 1..=205 {
        match table(n) {
            Some(wait) => {
                assert!(
                    p.should_restart(crashed_at + wait, crashed_at, n),
                    "n={n} at the deadline"
                );
                if wait > 0 {
                    assert!(
                        !p.should_restart(crashed_at + wait - 1, crashed_at, n),
                        "n={n} just before"
                    );
                }
            }
            None => assert!(
                !p.should_restart(crashed_at + 365 * 24 * 60 * MIN, crashed_at, n),
                "n={n} never"
            ),
        }
    }
}

#[test]
fn crashes_one_and_two_restart_immediately_then_back_off() {
    let p = RestartPolicy::default();
    let a = ik("g1", "cell-a");
    let mut r = ActualLrp::unclaimed(key(), "e", 0);
    let mut now = 0;
    for n in 1..=10 {
        if r.state == ActualState::Crashed {
            r.unclaim(true, now).unwrap(); // convergence restarts it
        }
        r.claim(&a, now).unwrap();
        r.start(&a, &info("1.1.1.1"), now).unwrap();
        now += 10 * S; // crashes quickly
        let out = r.crash(&a, "exit 1", &p, now).unwrap();
        assert_eq!(out.crash_count, n);
        assert_eq!(out.restart_now, n <= 2, "crash #{n}");
        assert_eq!(
            r.state,
            if n <= 2 {
                ActualState::Unclaimed
            } else {
                ActualState::Crashed
            }
        );
        now += 20 * MIN;
    }
}

#[test]
fn crash_after_more_than_five_minutes_running_resets_the_count() {
    let p = RestartPolicy::default();
    let a = ik("g1", "cell-a");
    for (ran, want) in [(5 * MIN + 1, 1), (5 * MIN, 8), (S, 8)] {
        let mut r = running(&a, Presence::Ordinary);
        r.crash_count = 7;
        r.since = 100;
        let out = r.crash(&a, "x", &p, 100 + ran).unwrap();
        assert_eq!(out.crash_count, want, "ran {ran} ns");
        assert_eq!(out.restart_now, want < 3);
    }
    // Only a RUNNING row resets: a long CLAIMED one counts on.
    let mut r = claimed(&a, Presence::Ordinary);
    r.crash_count = 7;
    r.since = 0;
    assert_eq!(r.crash(&a, "x", &p, 60 * MIN).unwrap().crash_count, 8);
}
