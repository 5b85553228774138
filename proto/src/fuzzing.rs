//! The property the `decode_requests` fuzz target checks, kept here so a
//! seeded unit test runs the same function in CI (cargo fuzz needs nightly).

use diego_model as m;
use prost::Message;

use crate::bbs::v1 as w;
use crate::convert::requests::{DesireTask, StartActualLrp};

/// Decodes `data` as each of DesireTask, DesireLrp and StartActualLrp
/// requests; whatever decodes is converted and validated. Must never panic.
/// Anything that converts must survive domain -> wire -> domain unchanged.
/// Returns how many of the three converted, so tests can tell that the
/// happy path was exercised, not just decoding failures.
pub fn decode_requests(data: &[u8]) -> usize {
    let mut converted = 0;
    if let Ok(req) = w::DesireTaskRequest::decode(data) {
        if let Ok(task) = DesireTask::try_from(req) {
            converted += 1;
            let _ = task.validate();
            let again = DesireTask::try_from(w::DesireTaskRequest::from(task.clone()));
            assert_eq!(again.as_ref(), Ok(&task), "desire task did not round-trip");
        }
    }
    if let Ok(req) = w::DesireLrpRequest::decode(data) {
        if let Ok(lrp) = m::DesiredLrp::try_from(req) {
            converted += 1;
            let _ = m::validate::desired_lrp(&lrp);
            let again = m::DesiredLrp::try_from(w::DesireLrpRequest::from(lrp.clone()));
            let again = again.expect("a converted desired lrp converts again");
            // Route values are compared as keys only: a JSON float may move
            // by one ulp through print and parse without being wrong.
            assert_eq!(
                again.routes.keys().collect::<Vec<_>>(),
                lrp.routes.keys().collect::<Vec<_>>()
            );
            assert_eq!(
                m::DesiredLrp {
                    routes: Default::default(),
                    ..again
                },
                m::DesiredLrp {
                    routes: Default::default(),
                    ..lrp
                },
                "desired lrp did not round-trip"
            );
        }
    }
    if let Ok(req) = w::StartActualLrpRequest::decode(data) {
        if let Ok(start) = StartActualLrp::try_from(req) {
            converted += 1;
            let again = StartActualLrp::try_from(w::StartActualLrpRequest::from(start.clone()));
            assert_eq!(
                again.as_ref(),
                Ok(&start),
                "start actual lrp did not round-trip"
            );
        }
    }
    converted
}

/// Valid encodings of the three requests, the corpus a fuzzer starts from
/// and the seeded test mutates.
pub fn seed_inputs() -> Vec<Vec<u8>> {
    let action = m::Action::Timeout(m::TimeoutAction {
        action: Box::new(m::Action::Serial(m::SerialAction {
            actions: vec![
                m::Action::run("/bin/sh", &["-c", "true"]),
                m::Action::run("/bin/true", &[]),
            ],
            log_source: "L".into(),
        })),
        deprecated_timeout_ns: 0,
        log_source: String::new(),
        timeout_ms: 1000,
    });
    let task = DesireTask {
        task_guid: "task-1".into(),
        domain: "cf-tasks".into(),
        definition: m::TaskDefinition {
            root_fs: "preloaded:busybox".into(),
            action: Some(action.clone()),
            memory_mb: 64,
            ..Default::default()
        },
    };
    let lrp = m::DesiredLrp {
        process_guid: "app-1".into(),
        domain: "cf-apps".into(),
        root_fs: "preloaded:busybox".into(),
        instances: 2,
        action: Some(action),
        routes: [(
            "cf-router".to_string(),
            serde_json::json!([{"hostnames": ["a"], "port": 8080}]),
        )]
        .into(),
        ..Default::default()
    };
    let start = StartActualLrp {
        key: m::ActualLrpKey::new("app-1", 0, "cf-apps"),
        instance_key: m::InstanceKey::new("ig-1", "cell-1"),
        info: m::RunningInfo {
            net_info: m::NetInfo {
                address: "10.0.0.1".into(),
                ports: vec![m::PortMapping {
                    container_port: 8080,
                    host_port: 61000,
                    ..Default::default()
                }],
                ..Default::default()
            },
            routable: Some(true),
            ..Default::default()
        },
    };
    vec![
        w::DesireTaskRequest::from(task).encode_to_vec(),
        w::DesireLrpRequest::from(lrp).encode_to_vec(),
        w::StartActualLrpRequest::from(start).encode_to_vec(),
    ]
}
