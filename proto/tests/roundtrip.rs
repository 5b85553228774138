//! domain -> wire -> bytes -> wire -> domain gives back the original.

mod common;

use std::fmt::Debug;

use common::*;
use diego_model::*;
use diego_proto::bbs::v1 as w;
use diego_proto::convert::requests::*;
use diego_proto::convert::WatchedEvent;
use prost::Message;

/// Converts to the wire, encodes, decodes, converts back and compares.
fn round_trip<D, W>(d: D)
where
    D: Clone + PartialEq + Debug + TryFrom<W>,
    <D as TryFrom<W>>::Error: Debug,
    W: From<D> + Message + Default + PartialEq,
{
    let wire = W::from(d.clone());
    let bytes = wire.encode_to_vec();
    let decoded = W::decode(bytes.as_slice()).expect("decodes what it encoded");
    assert!(decoded == wire, "prost round trip changed the message");
    // Maps are BTreeMaps, so equal messages encode to equal bytes.
    assert_eq!(decoded.encode_to_vec(), bytes);
    let back = D::try_from(decoded).expect("converts back");
    assert_eq!(back, d);
}

fn kinds(a: &Action, out: &mut Vec<&'static str>) {
    out.push(a.kind());
    match a {
        Action::Timeout(t) => kinds(&t.action, out),
        Action::EmitProgress(e) => kinds(&e.action, out),
        Action::Try(t) => kinds(&t.action, out),
        Action::Parallel(p) => p.actions.iter().for_each(|a| kinds(a, out)),
        Action::Serial(s) => s.actions.iter().for_each(|a| kinds(a, out)),
        Action::Codependent(c) => c.actions.iter().for_each(|a| kinds(a, out)),
        Action::Download(_) | Action::Upload(_) | Action::Run(_) => {}
    }
}

#[test]
fn the_sample_action_tree_holds_every_kind() {
    let mut seen = Vec::new();
    kinds(&every_action(), &mut seen);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 9, "{seen:?}");
}

#[test]
fn actions_round_trip() {
    round_trip::<Action, w::Action>(every_action());
    round_trip::<Action, w::Action>(Action::run("/bin/true", &[]));
}

#[test]
fn tasks_round_trip_in_every_state() {
    for state in [
        TaskState::Invalid,
        TaskState::Pending,
        TaskState::Running,
        TaskState::Completed,
        TaskState::Resolving,
    ] {
        round_trip::<Task, w::Task>(Task { state, ..task() });
    }
    round_trip::<Task, w::Task>(Task::default());
    let bare = TaskDefinition {
        action: None,
        log_rate_limit_bytes_per_second: None,
        ..task_definition()
    };
    round_trip::<TaskDefinition, w::TaskDefinition>(bare);
}

#[test]
fn desired_lrps_round_trip() {
    round_trip::<DesiredLrp, w::DesiredLrp>(desired_lrp());
    round_trip::<DesiredLrp, w::DesiredLrp>(DesiredLrp::default());
    round_trip::<DesiredLrp, w::DesireLrpRequest>(desired_lrp());
    round_trip::<SchedulingInfo, w::SchedulingInfo>(desired_lrp().scheduling_info());
}

#[test]
fn desired_lrp_updates_keep_absent_apart_from_empty() {
    round_trip::<DesiredLrpUpdate, w::DesiredLrpUpdate>(DesiredLrpUpdate::default());
    round_trip::<DesiredLrpUpdate, w::DesiredLrpUpdate>(DesiredLrpUpdate {
        instances: Some(0),
        routes: Some(Routes::new()),
        annotation: Some(String::new()),
        metric_tags: Some(Default::default()),
        image_username: Some(String::new()),
        image_password: Some(String::new()),
    });
    round_trip::<DesiredLrpUpdate, w::DesiredLrpUpdate>(DesiredLrpUpdate {
        instances: Some(5),
        routes: Some(routes()),
        annotation: Some("a".into()),
        metric_tags: Some(metric_tags()),
        image_username: Some("u".into()),
        image_password: Some("p".into()),
    });
}

#[test]
fn actual_lrps_round_trip_in_every_state_and_presence() {
    let states = [
        ActualState::Unclaimed,
        ActualState::Claimed,
        ActualState::Running,
        ActualState::Crashed,
    ];
    for state in states {
        for presence in [Presence::Ordinary, Presence::Evacuating, Presence::Suspect] {
            for routable in [None, Some(false), Some(true)] {
                round_trip::<ActualLrp, w::ActualLrp>(ActualLrp {
                    state,
                    presence,
                    routable,
                    ..running_actual_lrp()
                });
            }
        }
    }
    round_trip::<ActualLrp, w::ActualLrp>(unclaimed_actual_lrp());
}

#[test]
fn empty_instance_key_and_net_info_travel_as_absent() {
    let wire = w::ActualLrp::from(unclaimed_actual_lrp());
    assert!(wire.instance_key.is_none());
    assert!(wire.net_info.is_none());
    assert!(wire.modification_tag.is_some());
}

#[test]
fn cells_and_domains_round_trip() {
    round_trip::<CellPresence, w::CellPresence>(cell_presence());
    let d = Domain::upsert("cf-apps", 0, 0);
    let back = Domain::from(
        w::Domain::decode(w::Domain::from(d.clone()).encode_to_vec().as_slice()).unwrap(),
    );
    assert_eq!(back, d);
}

#[test]
fn every_event_round_trips() {
    let events = every_event();
    let mut kinds: Vec<_> = events.iter().map(Event::kind).collect();
    kinds.dedup();
    assert_eq!(kinds.len(), 10);
    for (i, event) in events.into_iter().enumerate() {
        round_trip::<Event, w::Event>(event.clone());
        round_trip::<WatchedEvent, w::WatchEvent>(WatchedEvent {
            revision: i as u64 + 1,
            position: i as u32 % 3,
            event,
            trace_id: format!("trace-{i}"),
        });
    }
}

#[test]
fn request_arguments_round_trip() {
    let key = ActualLrpKey::new("app-1", 1, "cf-apps");
    let ik = InstanceKey::new("ig", "cell-1");
    round_trip::<DesireTask, w::DesireTaskRequest>(DesireTask {
        task_guid: "t".into(),
        domain: "d".into(),
        definition: task_definition(),
    });
    round_trip::<UpdateDesiredLrp, w::UpdateDesiredLrpRequest>(UpdateDesiredLrp {
        process_guid: "app-1".into(),
        update: DesiredLrpUpdate {
            instances: Some(2),
            ..Default::default()
        },
    });
    round_trip::<ClaimActualLrp, w::ClaimActualLrpRequest>(ClaimActualLrp {
        process_guid: "app-1".into(),
        index: 3,
        instance_key: ik.clone(),
    });
    let start = StartActualLrp {
        key: key.clone(),
        instance_key: ik.clone(),
        info: RunningInfo {
            net_info: net_info(),
            internal_routes: vec!["r".into()],
            metric_tags: [("k".to_string(), "v".to_string())].into(),
            routable: None,
            availability_zone: "z1".into(),
        },
    };
    round_trip::<StartActualLrp, w::StartActualLrpRequest>(start.clone());
    round_trip::<StartActualLrp, w::EvacuateRunningActualLrpRequest>(start);
    let crash = CrashActualLrp {
        key: key.clone(),
        instance_key: ik.clone(),
        error_message: "e".into(),
    };
    round_trip::<CrashActualLrp, w::CrashActualLrpRequest>(crash.clone());
    round_trip::<CrashActualLrp, w::EvacuateCrashedActualLrpRequest>(crash);
    let one = LrpInstance {
        key: key.clone(),
        instance_key: ik.clone(),
    };
    round_trip::<LrpInstance, w::EvacuateClaimedActualLrpRequest>(one.clone());
    round_trip::<LrpInstance, w::EvacuateStoppedActualLrpRequest>(one.clone());
    round_trip::<LrpInstance, w::RemoveEvacuatingActualLrpRequest>(one);
    round_trip::<FailActualLrp, w::FailActualLrpRequest>(FailActualLrp {
        key: key.clone(),
        error_message: "no cells".into(),
    });
    for instance_key in [None, Some(ik)] {
        round_trip::<RemoveActualLrp, w::RemoveActualLrpRequest>(RemoveActualLrp {
            process_guid: "app-1".into(),
            index: 0,
            instance_key,
        });
    }
    round_trip::<ActualLrpKey, w::RetireActualLrpRequest>(key);
    round_trip::<ReportCell, w::ReportCellRequest>(ReportCell {
        cell: cell_presence(),
        ttl_ms: 15_000,
    });
    round_trip::<WatchFilter, w::WatchRequest>(WatchFilter {
        kinds: WatchKind::ALL.to_vec(),
        process_guid: "app-1".into(),
        cell_id: "cell-1".into(),
        since_revision: 17,
        since_position: Some(2),
    });
}

#[test]
fn watch_filters_select_by_kind_process_and_cell() {
    let events = every_event();
    let all = WatchFilter::default();
    assert!(events.iter().all(|e| all.matches(e)));
    let tasks = WatchFilter {
        kinds: vec![WatchKind::Task],
        ..Default::default()
    };
    assert_eq!(events.iter().filter(|e| tasks.matches(e)).count(), 3);
    let actual = WatchFilter {
        kinds: vec![WatchKind::ActualLrp],
        ..Default::default()
    };
    assert_eq!(events.iter().filter(|e| actual.matches(e)).count(), 4);
    let cell = WatchFilter {
        cell_id: "cell-1".into(),
        ..Default::default()
    };
    // The task events (cell_id set) and the actual events with a running side.
    assert_eq!(events.iter().filter(|e| cell.matches(e)).count(), 5);
    let other = WatchFilter {
        process_guid: "nope".into(),
        ..Default::default()
    };
    assert!(!events.iter().any(|e| other.matches(e)));
}
