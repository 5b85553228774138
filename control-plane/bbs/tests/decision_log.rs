//! The decision log `diego why` reads keeps its memory bounded.

use diego_bbs::grpc::DecisionLog;

fn lines(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("cell-{i}: score 0.1")).collect()
}

#[test]
fn only_the_latest_decisions_keep_per_cell_lines() {
    let log = DecisionLog::default();
    log.record("task/first".into(), "first".into(), lines(100), 1);
    for i in 0..2_000 {
        log.record(format!("task/t{i}"), format!("t{i}"), lines(3), 2);
    }
    let first = log.get("task/first");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].summary, "first", "the summary outlives the lines");
    assert!(first[0].cell_lines.is_empty());
    assert_eq!(log.get("task/t0")[0].cell_lines.len(), 3);
    assert_eq!(log.get("task/t1999")[0].cell_lines.len(), 3);
}

#[test]
fn a_newer_decision_for_the_same_work_keeps_its_lines() {
    let log = DecisionLog::default();
    log.record("lrp/web/0".into(), "old".into(), lines(2), 1);
    for i in 0..1_999 {
        log.record(format!("task/t{i}"), "x".into(), lines(1), 2);
    }
    log.record("lrp/web/0".into(), "new".into(), lines(2), 3);
    // The old decision has fallen out of the detailed window; the new has not.
    let web = log.get("lrp/web/0");
    assert_eq!(web.len(), 2);
    assert!(web[0].cell_lines.is_empty());
    assert_eq!(web[1].summary, "new");
    assert_eq!(web[1].cell_lines.len(), 2);
}
