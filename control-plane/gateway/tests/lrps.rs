//! LRP routes (current and deprecated) and the event streams over HTTP.

mod common;

use common::{Gateway, Sse};
use diego_proto::models as w;
use prost::Message;

fn lrp(guid: &str, instances: i32) -> w::DesiredLrp {
    w::DesiredLrp {
        process_guid: guid.to_string(),
        domain: "d".to_string(),
        root_fs: "docker:///busybox".to_string(),
        instances,
        memory_mb: 64,
        disk_mb: 64,
        ports: vec![8080, 9090],
        action: Some(w::Action {
            timeout_action: Some(Box::new(w::TimeoutAction {
                action: Some(Box::new(w::Action {
                    run_action: Some(w::RunAction {
                        path: "/bin/sleep".to_string(),
                        user: "root".to_string(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })),
                timeout_ms: 2000,
                ..Default::default()
            })),
            ..Default::default()
        }),
        start_timeout_ms: 60_000,
        metric_tags: [(
            "source_id".to_string(),
            w::MetricTagValue {
                r#static: guid.to_string(),
                dynamic: 0,
            },
        )]
        .into(),
        ..Default::default()
    }
}

fn desire(l: w::DesiredLrp) -> Vec<u8> {
    w::DesireLrpRequest {
        desired_lrp: Some(l),
    }
    .encode_to_vec()
}

async fn actuals(g: &Gateway, req: w::ActualLrPsRequest) -> Vec<w::ActualLrp> {
    let r = g.post("/v1/actual_lrps/list", req.encode_to_vec()).await;
    w::ActualLrPsResponse::decode(r.as_slice())
        .unwrap()
        .actual_lrps
}

#[tokio::test]
async fn desire_get_list_update_and_remove_an_lrp() {
    let g = Gateway::start().await;
    assert!(g
        .post("/v1/desired_lrp/desire.r2", desire(lrp("p1", 2)))
        .await
        .is_empty());
    let dup = w::DesiredLrpLifecycleResponse::decode(
        g.post("/v1/desired_lrp/desire.r2", desire(lrp("p1", 2)))
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        dup.error.unwrap().r#type,
        w::error::Type::ResourceExists as i32
    );

    let get = w::DesiredLrpByProcessGuidRequest {
        process_guid: "p1".into(),
    }
    .encode_to_vec();
    let r3 = g
        .post("/v1/desired_lrps/get_by_process_guid.r3", get.clone())
        .await;
    assert_eq!(
        r3,
        g.post("/v1/desired_lrps/get_by_process_guid.r2", get.clone())
            .await
    );
    // Ports are unpacked: one tag 0x70 per element of field 14.
    let d = w::DesiredLrpResponse::decode(r3.as_slice())
        .unwrap()
        .desired_lrp
        .unwrap();
    let raw = d.encode_to_vec();
    assert!(
        raw.windows(3).any(|b| b == [0x70, 0x90, 0x3f]),
        "8080 unpacked"
    );
    assert_eq!(d.ports, vec![8080, 9090]);
    assert_eq!(d.start_timeout_ms, 60_000);
    #[allow(deprecated)]
    let metrics_guid = d.metrics_guid.clone();
    assert_eq!(metrics_guid, "p1", "populated from the source_id tag");
    assert!(!d.modification_tag.unwrap().epoch.is_empty());

    // Index 0 is a filter when set, and no filter when absent.
    assert_eq!(actuals(&g, w::ActualLrPsRequest::default()).await.len(), 2);
    let zero = actuals(
        &g,
        w::ActualLrPsRequest {
            optional_index: Some(w::actual_lr_ps_request::OptionalIndex::Index(0)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(zero.len(), 1);
    assert_eq!(zero[0].state, "UNCLAIMED");
    assert!(actuals(
        &g,
        w::ActualLrPsRequest {
            domain: "other".into(),
            ..Default::default()
        }
    )
    .await
    .is_empty());

    let scale = w::UpdateDesiredLrpRequest {
        process_guid: "p1".into(),
        update: Some(w::DesiredLrpUpdate {
            optional_instances: Some(w::desired_lrp_update::OptionalInstances::Instances(3)),
            ..Default::default()
        }),
    };
    assert!(g
        .post("/v1/desired_lrp/update", scale.encode_to_vec())
        .await
        .is_empty());
    assert_eq!(actuals(&g, w::ActualLrPsRequest::default()).await.len(), 3);

    let infos = w::DesiredLrpSchedulingInfosResponse::decode(
        g.post("/v1/desired_lrp_scheduling_infos/list", vec![])
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(infos.desired_lrp_scheduling_infos[0].instances, 3);
    let groups = w::ActualLrpGroupsResponse::decode(
        g.post("/v1/actual_lrp_groups/list", vec![])
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(groups.actual_lrp_groups.len(), 3);
    let by_index = w::ActualLrpGroupResponse::decode(
        g.post(
            "/v1/actual_lrp_groups/get_by_process_guid_and_index",
            w::ActualLrpGroupByProcessGuidAndIndexRequest {
                process_guid: "p1".into(),
                index: 7,
            }
            .encode_to_vec(),
        )
        .await
        .as_slice(),
    )
    .unwrap();
    assert_eq!(
        by_index.error.unwrap().r#type,
        w::error::Type::ResourceNotFound as i32
    );

    let remove = w::RemoveDesiredLrpRequest {
        process_guid: "p1".into(),
    }
    .encode_to_vec();
    assert!(g
        .post("/v1/desired_lrp/remove", remove.clone())
        .await
        .is_empty());
    let again = w::DesiredLrpLifecycleResponse::decode(
        g.post("/v1/desired_lrp/remove", remove).await.as_slice(),
    )
    .unwrap();
    assert_eq!(
        again.error.unwrap().r#type,
        w::error::Type::ResourceNotFound as i32
    );
}

#[tokio::test]
async fn a_desired_lrp_without_metric_tags_is_refused() {
    let g = Gateway::start().await;
    let mut l = lrp("p2", 1);
    l.metric_tags.clear();
    let r = w::DesiredLrpLifecycleResponse::decode(
        g.post("/v1/desired_lrp/desire.r2", desire(l))
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        r.error.unwrap().r#type,
        w::error::Type::InvalidRequest as i32
    );
    assert!(actuals(&g, w::ActualLrPsRequest::default())
        .await
        .is_empty());
}

#[tokio::test]
async fn instance_stream_delivers_desired_and_instance_events_in_order() {
    let g = Gateway::start().await;
    let body = w::EventsByCellId::default().encode_to_vec();
    let mut sse = Sse::new(g.send("POST", "/v1/events/lrp_instances.r1", body).await);
    g.post("/v1/desired_lrp/desire.r2", desire(lrp("p3", 2)))
        .await;
    let (id, name, data) = sse.next().await;
    assert_eq!((id, name.as_str()), (0, "desired_lrp_created"));
    let ev = w::DesiredLrpCreatedEvent::decode(data.as_slice()).unwrap();
    assert_eq!(ev.desired_lrp.unwrap().process_guid, "p3");
    for want in 1..=2 {
        let (id, name, data) = sse.next().await;
        assert_eq!((id, name.as_str()), (want, "actual_lrp_instance_created"));
        let a = w::ActualLrpInstanceCreatedEvent::decode(data.as_slice()).unwrap();
        assert_eq!(a.actual_lrp.unwrap().state, "UNCLAIMED");
    }
}

#[tokio::test]
async fn cell_filter_drops_other_cells_instance_events_but_not_desired_ones() {
    let g = Gateway::start().await;
    let body = w::EventsByCellId {
        cell_id: "cell-a".into(),
    }
    .encode_to_vec();
    let mut sse = Sse::new(g.send("POST", "/v1/events/lrp_instances.r1", body).await);
    g.post("/v1/desired_lrp/desire.r2", desire(lrp("p4", 2)))
        .await;
    let claim = |cell: &str, index: i32| w::ClaimActualLrpRequest {
        process_guid: "p4".into(),
        index,
        actual_lrp_instance_key: Some(w::ActualLrpInstanceKey {
            instance_guid: format!("ig-{index}"),
            cell_id: cell.into(),
        }),
    };
    assert!(g
        .post("/v1/actual_lrps/claim", claim("cell-b", 0).encode_to_vec())
        .await
        .is_empty());
    assert!(g
        .post("/v1/actual_lrps/claim", claim("cell-a", 1).encode_to_vec())
        .await
        .is_empty());
    assert_eq!(sse.next().await.1, "desired_lrp_created");
    // The unclaimed creations have no cell and cell-b's claim is filtered.
    let (id, name, data) = sse.next().await;
    assert_eq!((id, name.as_str()), (1, "actual_lrp_instance_changed"));
    let ev = w::ActualLrpInstanceChangedEvent::decode(data.as_slice()).unwrap();
    assert_eq!(ev.actual_lrp_instance_key.unwrap().cell_id, "cell-a");
    assert_eq!(ev.after.unwrap().state, "CLAIMED");
}

#[tokio::test]
async fn r0_group_stream_delivers_v0_models_and_group_events() {
    let g = Gateway::start().await;
    let body = w::EventsByCellId::default().encode_to_vec();
    let mut sse = Sse::new(g.send("GET", "/v1/events", body).await);
    g.post("/v1/desired_lrp/desire.r2", desire(lrp("p5", 1)))
        .await;
    let (_, name, data) = sse.next().await;
    assert_eq!(name, "desired_lrp_created");
    let d = w::DesiredLrpCreatedEvent::decode(data.as_slice())
        .unwrap()
        .desired_lrp
        .unwrap();
    #[allow(deprecated)]
    let (secs, ns) = (
        d.deprecated_start_timeout_s,
        d.action
            .unwrap()
            .timeout_action
            .unwrap()
            .deprecated_timeout_ns,
    );
    assert_eq!((secs, ns), (60, 2_000_000_000));
    let (_, name, data) = sse.next().await;
    assert_eq!(name, "actual_lrp_created");
    let grp = w::ActualLrpCreatedEvent::decode(data.as_slice()).unwrap();
    assert!(grp.actual_lrp_group.unwrap().instance.is_some());
}

#[tokio::test]
async fn task_stream_delivers_task_events_in_order() {
    let g = Gateway::start().await;
    let mut sse = Sse::new(g.send("POST", "/v1/events/tasks.r1", vec![]).await);
    // LRP events never reach the task stream.
    g.post("/v1/desired_lrp/desire.r2", desire(lrp("p6", 1)))
        .await;
    let task = w::DesireTaskRequest {
        task_guid: "t".into(),
        domain: "d".into(),
        task_definition: lrp("x", 1).action.map(|a| w::TaskDefinition {
            root_fs: "docker:///busybox".into(),
            action: Some(a),
            ..Default::default()
        }),
    };
    assert!(g
        .post("/v1/tasks/desire.r2", task.encode_to_vec())
        .await
        .is_empty());
    let guid = w::TaskGuidRequest {
        task_guid: "t".into(),
    }
    .encode_to_vec();
    g.post("/v1/tasks/cancel", guid).await;
    let (id, name, _) = sse.next().await;
    assert_eq!((id, name.as_str()), (0, "task_created"));
    let (id, name, data) = sse.next().await;
    assert_eq!((id, name.as_str()), (1, "task_changed"));
    let after = w::TaskChangedEvent::decode(data.as_slice())
        .unwrap()
        .after
        .unwrap();
    assert!(after.failed);
    assert_eq!(after.failure_reason, "task was cancelled");
}

#[tokio::test]
async fn events_carry_the_request_id_of_the_call_that_caused_them() {
    let g = Gateway::start().await;
    let body = w::EventsByCellId::default().encode_to_vec();
    let mut sse = Sse::new(g.send("POST", "/v1/events/lrp_instances.r1", body).await);
    let desired = common::send(
        g.addr,
        "POST",
        "/v1/desired_lrp/desire.r2",
        desire(lrp("p7", 2)),
        "req-desire",
    )
    .await;
    assert_eq!(desired.status(), 200);
    let (_, name, data) = sse.next().await;
    assert_eq!(name, "desired_lrp_created");
    let ev = w::DesiredLrpCreatedEvent::decode(data.as_slice()).unwrap();
    assert_eq!(ev.trace_id, "req-desire");
    for _ in 0..2 {
        let (_, name, data) = sse.next().await;
        assert_eq!(name, "actual_lrp_instance_created");
        let ev = w::ActualLrpInstanceCreatedEvent::decode(data.as_slice()).unwrap();
        assert_eq!(ev.trace_id, "req-desire");
    }
    let claim = w::ClaimActualLrpRequest {
        process_guid: "p7".into(),
        index: 0,
        actual_lrp_instance_key: Some(w::ActualLrpInstanceKey {
            instance_guid: "ig-0".into(),
            cell_id: "cell-a".into(),
        }),
    };
    let claimed = common::send(
        g.addr,
        "POST",
        "/v1/actual_lrps/claim",
        claim.encode_to_vec(),
        "req-claim",
    )
    .await;
    assert_eq!(claimed.status(), 200);
    let (_, name, data) = sse.next().await;
    assert_eq!(name, "actual_lrp_instance_changed");
    let ev = w::ActualLrpInstanceChangedEvent::decode(data.as_slice()).unwrap();
    assert_eq!(ev.trace_id, "req-claim");
    // A change the BBS makes outside any call carries no trace id.
    g.server
        .bbs
        .claim_actual_lrp("p7", 1, &diego_model::InstanceKey::new("ig-1", "cell-b"))
        .await
        .unwrap();
    let (_, name, data) = sse.next().await;
    assert_eq!(name, "actual_lrp_instance_changed");
    let ev = w::ActualLrpInstanceChangedEvent::decode(data.as_slice()).unwrap();
    assert_eq!(ev.trace_id, "");
}

#[tokio::test]
async fn actual_lrps_by_process_guids_returns_exactly_those_lrps_instances() {
    let g = Gateway::start().await;
    for (guid, instances) in [("a", 2), ("b", 3), ("c", 1)] {
        assert!(g
            .post("/v1/desired_lrp/desire.r2", desire(lrp(guid, instances)))
            .await
            .is_empty());
    }
    let by_guids = |guids: &[&str]| {
        w::ActualLrPsByProcessGuidsRequest {
            process_guids: guids.iter().map(|g| g.to_string()).collect(),
        }
        .encode_to_vec()
    };
    let listed = |body: Vec<u8>| {
        let r = w::ActualLrPsByProcessGuidsResponse::decode(body.as_slice()).unwrap();
        assert!(r.error.is_none(), "{:?}", r.error);
        let mut keys: Vec<(String, i32)> = r
            .actual_lrps
            .into_iter()
            .map(|a| {
                let k = a.actual_lrp_key.unwrap();
                (k.process_guid, k.index)
            })
            .collect();
        keys.sort();
        keys
    };
    let path = "/v1/actual_lrps/list_by_process_guids";
    let got = listed(g.post(path, by_guids(&["c", "a", "a", "missing"])).await);
    assert_eq!(
        got,
        vec![("a".into(), 0), ("a".into(), 1), ("c".into(), 0)],
        "each asked guid once, nothing else"
    );
    // an empty list is every lrp, as in the original
    assert_eq!(listed(g.post(path, by_guids(&[])).await).len(), 6);
}
