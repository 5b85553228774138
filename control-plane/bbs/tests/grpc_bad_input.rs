//! Malformed and invalid requests over gRPC: each gets the right status,
//! the original's error type in `diego-error-type` and a message naming the
//! field; nothing is stored and the server keeps serving.

mod common;

use common::{lrp, task_def, Server};
use diego_proto::bbs::v1 as pb;
use diego_proto::bbs::v1::bbs_client::BbsClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Asserts the status, its error type and that the message has `needle`.
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, ty: &str, needle: &str) {
    let s = r.expect_err("request should be refused");
    assert_eq!(s.code(), code, "{s:?}");
    let named = s
        .metadata()
        .get("diego-error-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(named, Some(ty), "{s:?}");
    assert!(s.message().contains(needle), "{needle:?} not in {s:?}");
}

#[track_caller]
fn invalid<T: std::fmt::Debug>(r: Result<T, Status>, field: &str) {
    refused(r, Code::InvalidArgument, "InvalidRequest", field);
}

#[track_caller]
fn not_found<T: std::fmt::Debug>(r: Result<T, Status>) {
    refused(
        r,
        Code::NotFound,
        "ResourceNotFound",
        "the requested resource could not be found",
    );
}

#[track_caller]
fn transition<T: std::fmt::Debug>(r: Result<T, Status>, from: &str, to: &str) {
    let msg = format!("Cannot transition from {from} to {to}");
    refused(r, Code::FailedPrecondition, "InvalidStateTransition", &msg);
}

fn key(pg: &str, index: i32) -> Option<pb::ActualLrpKey> {
    Some(diego_model::ActualLrpKey::new(pg, index, "d").into())
}

fn ik(guid: &str, cell: &str) -> Option<pb::ActualLrpInstanceKey> {
    Some(diego_model::InstanceKey::new(guid, cell).into())
}

fn net(address: &str) -> Option<pb::NetInfo> {
    Some(common::running(address).net_info.into())
}

fn desire_task(guid: &str, def: Option<pb::TaskDefinition>) -> pb::DesireTaskRequest {
    pb::DesireTaskRequest {
        task_guid: guid.into(),
        domain: "d".into(),
        definition: def,
    }
}

fn desire_lrp(edit: impl FnOnce(&mut pb::DesiredLrp)) -> pb::DesireLrpRequest {
    let mut d: pb::DesiredLrp = lrp("pg-new", 1).into();
    edit(&mut d);
    pb::DesireLrpRequest {
        desired_lrp: Some(d),
    }
}

/// What a client can list: compared before and after the bad requests.
async fn everything(b: &mut BbsClient<Channel>) -> String {
    let tasks = b.tasks(pb::TasksRequest::default()).await.unwrap();
    let desired = b.desired_lrps(pb::DesiredLrpsRequest::default()).await;
    let actual = b.actual_lrps(pb::ActualLrpsRequest::default()).await;
    let domains = b.domains(pb::DomainsRequest {}).await.unwrap();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        tasks.into_inner(),
        desired.unwrap().into_inner(),
        actual.unwrap().into_inner(),
        domains.into_inner()
    )
}

#[tokio::test]
async fn every_rpc_refuses_bad_input_by_name_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut b = BbsClient::connect(server.url()).await.unwrap();
    // Records the bad requests aim at, in known states: a Pending task and
    // an LRP whose only instance is UNCLAIMED.
    b.upsert_domain(pb::UpsertDomainRequest {
        domain: "d".into(),
        ttl_s: 0,
    })
    .await
    .unwrap();
    b.desire_task(desire_task("t", Some(task_def().into())))
        .await
        .unwrap();
    b.desire_lrp(pb::DesireLrpRequest {
        desired_lrp: Some(lrp("pg", 1).into()),
    })
    .await
    .unwrap();
    let before = everything(&mut b).await;

    // Domains and cells.
    let domain = |d: &str| pb::UpsertDomainRequest {
        domain: d.into(),
        ttl_s: 1,
    };
    invalid(b.upsert_domain(domain("")).await, "domain");
    let cell = pb::ReportCellRequest {
        cell: None,
        ttl_ms: 1000,
    };
    invalid(b.report_cell(cell).await, "cell");

    // Tasks.
    let def = || Some(pb::TaskDefinition::from(task_def()));
    invalid(b.desire_task(desire_task("t2", None)).await, "definition");
    invalid(
        b.desire_task(desire_task("bad guid!", def())).await,
        "task_guid",
    );
    invalid(b.desire_task(desire_task("", def())).await, "task_guid");
    let mut no_domain = desire_task("t2", def());
    no_domain.domain.clear();
    invalid(b.desire_task(no_domain).await, "domain");
    let with = |edit: fn(&mut pb::TaskDefinition)| {
        let mut d = pb::TaskDefinition::from(task_def());
        edit(&mut d);
        desire_task("t2", Some(d))
    };
    invalid(
        b.desire_task(with(|d| d.root_fs = "cflinuxfs4".into()))
            .await,
        "rootfs",
    );
    invalid(b.desire_task(with(|d| d.action = None)).await, "action");
    invalid(b.desire_task(with(|d| d.memory_mb = -1)).await, "memory_mb");
    invalid(b.desire_task(with(|d| d.disk_mb = -5)).await, "disk_mb");
    refused(
        b.desire_task(desire_task("t", def())).await,
        Code::AlreadyExists,
        "ResourceExists",
        "already exists",
    );
    let guid = |g: &str| pb::TaskByGuidRequest {
        task_guid: g.into(),
    };
    invalid(b.task_by_guid(guid("bad guid!")).await, "task_guid");
    not_found(b.task_by_guid(guid("nope")).await);
    let cancel = |g: &str| pb::CancelTaskRequest {
        task_guid: g.into(),
    };
    not_found(b.cancel_task(cancel("nope")).await);
    invalid(b.cancel_task(cancel("")).await, "task_guid");
    let resolving = |g: &str| pb::ResolvingTaskRequest {
        task_guid: g.into(),
    };
    transition(
        b.resolving_task(resolving("t")).await,
        "Pending",
        "Resolving",
    );
    not_found(b.resolving_task(resolving("nope")).await);
    let delete = |g: &str| pb::DeleteTaskRequest {
        task_guid: g.into(),
    };
    transition(b.delete_task(delete("t")).await, "Pending", "Resolving");
    invalid(b.delete_task(delete("a/b")).await, "task_guid");
    let start = |g: &str, c: &str| pb::StartTaskRequest {
        task_guid: g.into(),
        cell_id: c.into(),
    };
    invalid(b.start_task(start("t", "")).await, "cell_id");
    not_found(b.start_task(start("nope", "c1")).await);
    let complete = |c: &str| pb::CompleteTaskRequest {
        task_guid: "t".into(),
        cell_id: c.into(),
        ..Default::default()
    };
    invalid(b.complete_task(complete("")).await, "cell_id");
    transition(
        b.complete_task(complete("c1")).await,
        "Pending",
        "Completed",
    );
    let reject = pb::RejectTaskRequest {
        task_guid: "t".into(),
        reason: String::new(),
    };
    invalid(b.reject_task(reject).await, "rejection_reason");
    let fail = pb::FailTaskRequest {
        task_guid: "t".into(),
        reason: String::new(),
    };
    invalid(b.fail_task(fail).await, "failure_reason");

    // Desired LRPs.
    let missing = pb::DesireLrpRequest { desired_lrp: None };
    invalid(b.desire_lrp(missing).await, "desired_lrp");
    let bad_guid = desire_lrp(|d| d.process_guid = "bad guid!".into());
    invalid(b.desire_lrp(bad_guid).await, "process_guid");
    invalid(
        b.desire_lrp(desire_lrp(|d| d.instances = -1)).await,
        "instances",
    );
    invalid(
        b.desire_lrp(desire_lrp(|d| d.memory_mb = -1)).await,
        "memory_mb",
    );
    invalid(
        b.desire_lrp(desire_lrp(|d| d.action = None)).await,
        "action",
    );
    let no_scheme = desire_lrp(|d| d.root_fs = "busybox".into());
    invalid(b.desire_lrp(no_scheme).await, "rootfs");
    refused(
        b.desire_lrp(desire_lrp(|d| d.process_guid = "pg".into()))
            .await,
        Code::AlreadyExists,
        "ResourceExists",
        "already exists",
    );
    let update = |pg: &str, u: Option<pb::DesiredLrpUpdate>| pb::UpdateDesiredLrpRequest {
        process_guid: pg.into(),
        update: u,
    };
    let scale = |n: i32| {
        Some(pb::DesiredLrpUpdate::from(diego_model::DesiredLrpUpdate {
            instances: Some(n),
            ..Default::default()
        }))
    };
    invalid(b.update_desired_lrp(update("pg", None)).await, "update");
    invalid(
        b.update_desired_lrp(update("pg", scale(-2))).await,
        "instances",
    );
    invalid(
        b.update_desired_lrp(update("bad guid!", scale(2))).await,
        "process_guid",
    );
    not_found(b.update_desired_lrp(update("nope", scale(2))).await);
    let remove = |pg: &str| pb::RemoveDesiredLrpRequest {
        process_guid: pg.into(),
    };
    invalid(b.remove_desired_lrp(remove("")).await, "process_guid");
    not_found(b.remove_desired_lrp(remove("nope")).await);
    let by_guid = pb::DesiredLrpByProcessGuidRequest {
        process_guid: "nope".into(),
    };
    not_found(b.desired_lrp_by_process_guid(by_guid).await);

    // Actual LRPs, as a rep or the auctioneer would call them.
    let claim = |pg: &str, index: i32, ik| pb::ClaimActualLrpRequest {
        process_guid: pg.into(),
        index,
        instance_key: ik,
    };
    invalid(
        b.claim_actual_lrp(claim("pg", 0, None)).await,
        "instance_key",
    );
    invalid(
        b.claim_actual_lrp(claim("", 0, ik("i", "c1"))).await,
        "process_guid",
    );
    invalid(
        b.claim_actual_lrp(claim("pg", 0, ik("i", ""))).await,
        "cell_id",
    );
    invalid(
        b.claim_actual_lrp(claim("pg", -1, ik("i", "c1"))).await,
        "index",
    );
    not_found(b.claim_actual_lrp(claim("nope", 0, ik("i", "c1"))).await);
    let start = |k, i, n| pb::StartActualLrpRequest {
        key: k,
        instance_key: i,
        net_info: n,
        ..Default::default()
    };
    invalid(
        b.start_actual_lrp(start(None, ik("i", "c1"), net("a")))
            .await,
        "key",
    );
    invalid(
        b.start_actual_lrp(start(key("pg", 0), None, net("a")))
            .await,
        "instance_key",
    );
    invalid(
        b.start_actual_lrp(start(key("pg", 0), ik("i", "c1"), None))
            .await,
        "net_info",
    );
    let no_address = start(key("pg", 0), ik("i", "c1"), net(""));
    invalid(b.start_actual_lrp(no_address).await, "address");
    let crash = |k, i| pb::CrashActualLrpRequest {
        key: k,
        instance_key: i,
        error_message: "boom".into(),
    };
    invalid(b.crash_actual_lrp(crash(None, ik("i", "c1"))).await, "key");
    invalid(
        b.crash_actual_lrp(crash(key("pg", -1), ik("i", "c1")))
            .await,
        "index",
    );
    refused(
        b.crash_actual_lrp(crash(key("pg", 0), ik("i", "c1"))).await,
        Code::FailedPrecondition,
        "ActualLRPCannotBeCrashed",
        "",
    );
    let fail = |k, m: &str| pb::FailActualLrpRequest {
        key: k,
        error_message: m.into(),
    };
    invalid(
        b.fail_actual_lrp(fail(key("pg", 0), "")).await,
        "error_message",
    );
    invalid(b.fail_actual_lrp(fail(None, "no room")).await, "key");
    let remove = |pg: &str, index: i32| pb::RemoveActualLrpRequest {
        process_guid: pg.into(),
        index,
        instance_key: None,
    };
    not_found(b.remove_actual_lrp(remove("nope", 0)).await);
    invalid(b.remove_actual_lrp(remove("pg", -1)).await, "index");
    invalid(
        b.remove_actual_lrp(remove("bad guid!", 0)).await,
        "process_guid",
    );
    let retire = |k| pb::RetireActualLrpRequest { key: k };
    invalid(b.retire_actual_lrp(retire(None)).await, "key");
    not_found(b.retire_actual_lrp(retire(key("pg", 7))).await);
    let evac = pb::EvacuateClaimedActualLrpRequest {
        key: None,
        instance_key: ik("i", "c1"),
    };
    invalid(b.evacuate_claimed_actual_lrp(evac).await, "key");
    let evac = pb::EvacuateRunningActualLrpRequest {
        key: key("pg", 0),
        instance_key: ik("i", "c1"),
        ..Default::default()
    };
    invalid(b.evacuate_running_actual_lrp(evac).await, "net_info");
    let evac = pb::EvacuateStoppedActualLrpRequest {
        key: key("pg", 0),
        instance_key: None,
    };
    invalid(b.evacuate_stopped_actual_lrp(evac).await, "instance_key");
    let evac = pb::RemoveEvacuatingActualLrpRequest {
        key: None,
        instance_key: ik("i", "c1"),
    };
    invalid(b.remove_evacuating_actual_lrp(evac).await, "key");

    // Watch and placement decisions.
    let watch = pb::WatchRequest {
        kinds: vec!["task".into(), "lrp".into()],
        ..Default::default()
    };
    invalid(b.watch(watch).await, "kinds");
    let decisions = pb::PlacementDecisionsRequest {
        kind: 99,
        guid: "t".into(),
        index: None,
    };
    invalid(b.placement_decisions(decisions).await, "kind");

    assert_eq!(
        everything(&mut b).await,
        before,
        "nothing invalid was stored"
    );
    assert!(
        b.ping(pb::PingRequest {})
            .await
            .unwrap()
            .into_inner()
            .available
    );
    drop(b);
    server.stop().await;
}
