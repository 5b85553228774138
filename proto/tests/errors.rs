//! Wire values that cannot become domain values fail with InvalidRequest and
//! a message naming the field.

mod common;

use std::collections::BTreeMap;

use common::*;
use diego_model::*;
use diego_proto::bbs::v1 as w;
use diego_proto::convert::requests::*;
use diego_proto::convert::WatchedEvent;

fn message<T: std::fmt::Debug>(r: Result<T, ModelError>) -> String {
    let e = r.expect_err("conversion must fail");
    assert_eq!(e.code, ErrorCode::InvalidRequest, "{e:?}");
    e.message
}

fn no_kind() -> w::Action {
    w::Action { kind: None }
}

#[test]
fn an_action_without_a_kind_names_its_path() {
    let m = message(Action::try_from(no_kind()));
    assert!(
        m.starts_with("invalid field: action is missing its kind"),
        "{m}"
    );

    let mut lrp = w::DesiredLrp::from(desired_lrp());
    lrp.setup = Some(w::Action {
        kind: Some(w::action::Kind::Serial(w::SerialAction {
            actions: vec![Action::run("/bin/true", &[]).into(), no_kind()],
            log_source: String::new(),
        })),
    });
    let m = message(DesiredLrp::try_from(lrp));
    assert!(
        m.starts_with("invalid field: setup.serial.actions[1] is missing its kind"),
        "{m}"
    );
}

#[test]
fn wrapper_actions_require_their_inner_action() {
    let timeout = w::Action {
        kind: Some(w::action::Kind::Timeout(Box::new(w::TimeoutAction {
            action: None,
            deprecated_timeout_ns: 0,
            log_source: String::new(),
            timeout_ms: 10,
        }))),
    };
    assert_eq!(
        message(Action::try_from(timeout)),
        "invalid field: action.timeout.action is missing"
    );
    let try_ = w::Action {
        kind: Some(w::action::Kind::Try(Box::new(w::TryAction {
            action: Some(Box::new(no_kind())),
            log_source: String::new(),
        }))),
    };
    let m = message(Action::try_from(try_));
    assert!(
        m.starts_with("invalid field: action.try.action is missing its kind"),
        "{m}"
    );
}

#[test]
fn tasks_need_a_definition_and_a_known_state() {
    let mut t = w::Task::from(task());
    t.definition = None;
    assert_eq!(
        message(Task::try_from(t)),
        "invalid field: task.definition is missing"
    );
    let mut t = w::Task::from(task());
    t.state = 9;
    assert_eq!(
        message(Task::try_from(t)),
        "invalid field: task.state has unknown value 9"
    );
    let mut t = w::Task::from(task());
    t.definition.as_mut().unwrap().action = Some(no_kind());
    let m = message(Task::try_from(t));
    assert!(
        m.starts_with("invalid field: task.definition.action is missing its kind"),
        "{m}"
    );
}

#[test]
fn actual_lrps_need_a_key_and_known_enums() {
    let mut a = w::ActualLrp::from(running_actual_lrp());
    a.key = None;
    assert_eq!(
        message(ActualLrp::try_from(a)),
        "invalid field: actual_lrp.key is missing"
    );
    let mut a = w::ActualLrp::from(running_actual_lrp());
    a.state = w::ActualLrpState::Unspecified as i32;
    assert_eq!(
        message(ActualLrp::try_from(a)),
        "invalid field: actual_lrp.state must be set"
    );
    let mut a = w::ActualLrp::from(running_actual_lrp());
    a.state = 42;
    assert_eq!(
        message(ActualLrp::try_from(a)),
        "invalid field: actual_lrp.state has unknown value 42"
    );
    let mut a = w::ActualLrp::from(running_actual_lrp());
    a.presence = 3;
    assert_eq!(
        message(ActualLrp::try_from(a)),
        "invalid field: actual_lrp.presence has unknown value 3"
    );
    let mut a = w::ActualLrp::from(running_actual_lrp());
    a.net_info.as_mut().unwrap().preferred_address = 5;
    assert_eq!(
        message(ActualLrp::try_from(a)),
        "invalid field: actual_lrp.net_info.preferred_address has unknown value 5"
    );
}

#[test]
fn desired_lrps_reject_bad_routes_and_unknown_strategies() {
    let mut d = w::DesiredLrp::from(desired_lrp());
    d.routes.insert("cf-router".into(), b"{not json".to_vec());
    let m = message(DesiredLrp::try_from(d));
    assert!(
        m.starts_with("invalid field: routes.cf-router is not valid json"),
        "{m}"
    );
    let mut d = w::DesiredLrp::from(desired_lrp());
    d.update_strategy = 7;
    assert_eq!(
        message(DesiredLrp::try_from(d)),
        "invalid field: update_strategy has unknown value 7"
    );
    let update = w::DesiredLrpUpdate {
        routes: Some(w::Routes {
            routes: BTreeMap::from([("tcp-router".into(), vec![0xff])]),
        }),
        ..Default::default()
    };
    let m = message(DesiredLrpUpdate::try_from(update));
    assert!(
        m.starts_with("invalid field: update.routes.tcp-router is not valid json"),
        "{m}"
    );
    let mut info = w::SchedulingInfo::from(desired_lrp().scheduling_info());
    info.routes.insert("x".into(), b"[".to_vec());
    let m = message(SchedulingInfo::try_from(info));
    assert!(
        m.starts_with("invalid field: scheduling_info.routes.x is not valid json"),
        "{m}"
    );
}

#[test]
fn cells_need_a_capacity() {
    let mut c = w::CellPresence::from(cell_presence());
    c.capacity = None;
    assert_eq!(
        message(CellPresence::try_from(c)),
        "invalid field: cell.capacity is missing"
    );
    let r = w::ReportCellRequest {
        cell: None,
        ttl_ms: 1,
    };
    assert_eq!(
        message(ReportCell::try_from(r)),
        "invalid field: cell is missing"
    );
}

#[test]
fn events_need_a_kind_and_their_records() {
    assert_eq!(
        message(Event::try_from(w::Event {
            kind: None,
            trace_id: String::new()
        })),
        "invalid field: event.kind is missing"
    );
    let changed = w::Event {
        kind: Some(w::event::Kind::ActualLrpChanged(w::ActualLrpChanged {
            before: Some(running_actual_lrp().into()),
            after: None,
        })),
        trace_id: String::new(),
    };
    assert_eq!(
        message(Event::try_from(changed)),
        "invalid field: event.actual_lrp_changed.after is missing"
    );
    let crashed = w::Event {
        kind: Some(w::event::Kind::ActualLrpCrashed(w::ActualLrpCrashed {
            actual_lrp: Some(w::ActualLrp {
                key: None,
                ..running_actual_lrp().into()
            }),
            crash_count: 1,
            crash_reason: String::new(),
            since: 0,
        })),
        trace_id: String::new(),
    };
    assert_eq!(
        message(Event::try_from(crashed)),
        "invalid field: event.actual_lrp_crashed.actual_lrp.key is missing"
    );
    let watched = w::WatchEvent {
        revision: 3,
        event: None,
        position: 0,
    };
    assert_eq!(
        message(WatchedEvent::try_from(watched)),
        "invalid field: event is missing"
    );
}

#[test]
fn lifecycle_requests_need_their_keys() {
    let full = w::StartActualLrpRequest::from(StartActualLrp {
        key: ActualLrpKey::new("p", 0, "d"),
        instance_key: InstanceKey::new("i", "c"),
        info: RunningInfo {
            net_info: net_info(),
            ..Default::default()
        },
    });
    for (field, req) in [
        (
            "key",
            w::StartActualLrpRequest {
                key: None,
                ..full.clone()
            },
        ),
        (
            "instance_key",
            w::StartActualLrpRequest {
                instance_key: None,
                ..full.clone()
            },
        ),
        (
            "net_info",
            w::StartActualLrpRequest {
                net_info: None,
                ..full.clone()
            },
        ),
    ] {
        assert_eq!(
            message(StartActualLrp::try_from(req)),
            format!("invalid field: {field} is missing")
        );
    }
    let crash = w::CrashActualLrpRequest {
        key: None,
        instance_key: None,
        error_message: "x".into(),
    };
    assert_eq!(
        message(CrashActualLrp::try_from(crash)),
        "invalid field: key is missing"
    );
    let claim = w::ClaimActualLrpRequest {
        process_guid: "p".into(),
        index: 0,
        instance_key: None,
    };
    assert_eq!(
        message(ClaimActualLrp::try_from(claim)),
        "invalid field: instance_key is missing"
    );
    let retire = w::RetireActualLrpRequest { key: None };
    assert_eq!(
        message(ActualLrpKey::try_from(retire)),
        "invalid field: key is missing"
    );
    let fail = w::FailActualLrpRequest {
        key: None,
        error_message: "x".into(),
    };
    assert_eq!(
        message(FailActualLrp::try_from(fail)),
        "invalid field: key is missing"
    );
    let evac = w::EvacuateStoppedActualLrpRequest {
        key: Some(ActualLrpKey::default().into()),
        instance_key: None,
    };
    assert_eq!(
        message(LrpInstance::try_from(evac)),
        "invalid field: instance_key is missing"
    );
}

#[test]
fn desire_requests_need_their_records() {
    let t = w::DesireTaskRequest {
        task_guid: "t".into(),
        domain: "d".into(),
        definition: None,
    };
    assert_eq!(
        message(DesireTask::try_from(t)),
        "invalid field: definition is missing"
    );
    let d = w::DesireLrpRequest { desired_lrp: None };
    assert_eq!(
        message(DesiredLrp::try_from(d)),
        "invalid field: desired_lrp is missing"
    );
    let u = w::UpdateDesiredLrpRequest {
        process_guid: "p".into(),
        update: None,
    };
    assert_eq!(
        message(UpdateDesiredLrp::try_from(u)),
        "invalid field: update is missing"
    );
}

#[test]
fn watch_kinds_must_be_known() {
    let req = w::WatchRequest {
        kinds: vec!["task".into(), "cell".into()],
        ..Default::default()
    };
    let m = message(WatchFilter::try_from(req));
    assert_eq!(
        m,
        "invalid field: kinds[1] \"cell\" is not one of task, desired_lrp, actual_lrp"
    );
}

#[test]
fn a_converted_desire_task_is_then_validated() {
    let mut def = task_definition();
    def.action = None;
    let req = w::DesireTaskRequest::from(DesireTask {
        task_guid: "t-1".into(),
        domain: "d".into(),
        definition: def,
    });
    let task = DesireTask::try_from(req).expect("a missing action is validation's job");
    assert_eq!(
        task.validate().unwrap_err().message,
        "invalid field: action is required"
    );
}
