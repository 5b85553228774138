//! Route and metric tag drift (spec §5.3 rules 13 and 14).

mod common;

use std::collections::BTreeMap;

use common::*;
use diego_convergence::{plan, ConvergenceConfig, LrpInstanceUpdate};
use diego_model::ActualState::*;
use diego_model::{MetricTagValue, Presence, SchedulingInfo};

fn with_internal_routes(mut d: SchedulingInfo, hosts: &[&str]) -> SchedulingInfo {
    let entries: Vec<serde_json::Value> = hosts
        .iter()
        .map(|h| serde_json::json!({ "hostname": h }))
        .collect();
    d.routes
        .insert("internal-router".into(), serde_json::Value::Array(entries));
    d.routes.insert(
        "cf-router".into(),
        serde_json::json!([{"hostnames": ["x.example.com"]}]),
    );
    d
}

fn tags() -> BTreeMap<String, MetricTagValue> {
    BTreeMap::from([
        (
            "source_id".to_string(),
            MetricTagValue {
                static_value: "app-1".into(),
                dynamic: String::new(),
            },
        ),
        (
            "instance".to_string(),
            MetricTagValue {
                static_value: String::new(),
                dynamic: "INDEX".into(),
            },
        ),
    ])
}

fn updates(s: &diego_convergence::Snapshot) -> Vec<LrpInstanceUpdate> {
    let p = plan(s, NOW, &ConvergenceConfig::default());
    assert!(p.lrp_actions.is_empty(), "{:?}", p.lrp_actions);
    p.lrp_updates
}

#[test]
fn running_instances_whose_internal_routes_drifted_are_updated() {
    let d = with_internal_routes(
        desired("pg", "d", 3),
        &["b.apps.internal", "a.apps.internal"],
    );
    let mut same = ordinary("pg", 0, Running, "c1");
    same.internal_routes = vec!["a.apps.internal".into(), "b.apps.internal".into()];
    let mut reordered = ordinary("pg", 1, Running, "c1");
    reordered.internal_routes = vec!["b.apps.internal".into(), "a.apps.internal".into()];
    let mut stale = ordinary("pg", 2, Running, "c1");
    stale.internal_routes = vec!["old.apps.internal".into()];
    let s = snap(
        vec![d],
        vec![same, reordered, stale.clone()],
        cells(&["c1"]),
    );
    let got = updates(&s);
    assert_eq!(
        got,
        vec![LrpInstanceUpdate {
            actual: stale,
            internal_routes: vec!["a.apps.internal".into(), "b.apps.internal".into()],
            metric_tags: BTreeMap::new(),
        }]
    );
}

#[test]
fn metric_tags_drift_only_where_the_row_stored_tags() {
    let d = desired("pg", "d", 3);
    let mut right = ordinary("pg", 0, Running, "c1");
    right.metric_tags = BTreeMap::from([
        ("source_id".into(), "app-1".into()),
        ("instance".into(), "0".into()),
    ]);
    let mut wrong = ordinary("pg", 1, Running, "c1");
    wrong.metric_tags = BTreeMap::from([("source_id".into(), "app-0".into())]);
    // no stored tags: an old rep; Diego skips these
    let none = ordinary("pg", 2, Running, "c1");
    let mut s = snap(vec![d], vec![right, wrong.clone(), none], cells(&["c1"]));
    s.metric_tags.insert("pg".into(), tags());
    let got = updates(&s);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].actual, wrong);
    assert_eq!(
        got[0].metric_tags,
        BTreeMap::from([
            ("source_id".to_string(), "app-1".to_string()),
            ("instance".to_string(), "1".to_string()),
        ])
    );
}

#[test]
fn only_ordinary_running_rows_on_live_cells_are_updated() {
    let d = with_internal_routes(desired("pg", "d", 1), &["a.apps.internal"]);
    let claimed = ordinary("pg", 0, Claimed, "c1");
    let on_lost_cell = ordinary("pg", 1, Running, "gone");
    let evacuating = row("pg", 0, Presence::Evacuating, Running, "c1");
    let s = snap(vec![d], vec![claimed, evacuating], cells(&["c1"]));
    assert!(updates(&s).is_empty());
    // a RUNNING row on a lost cell is handled as cell loss, never updated
    let d = with_internal_routes(desired("pg", "d", 2), &["a.apps.internal"]);
    let s = snap(vec![d], vec![on_lost_cell], cells(&["c1"]));
    let p = plan(&s, NOW, &ConvergenceConfig::default());
    assert!(p.lrp_updates.is_empty(), "{:?}", p.lrp_updates);
    // without a cell set nothing cell-dependent happens
    let d = with_internal_routes(desired("pg", "d", 1), &["a.apps.internal"]);
    let s = snap(vec![d], vec![ordinary("pg", 0, Running, "c1")], None);
    let p = plan(&s, NOW, &ConvergenceConfig::default());
    assert!(p.lrp_updates.is_empty(), "{:?}", p.lrp_updates);
}
