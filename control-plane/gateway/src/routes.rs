//! The original router's table (bbs routes.go): 50 routes, current and
//! deprecated revisions, matched on exact method and path as rata does.

use diego_proto::compat::{Stream, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The rata route name, as the original's logs and metrics use it.
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    /// Event streams: which family and model version they deliver.
    pub stream: Option<(Stream, Version)>,
}

const fn post(name: &'static str, path: &'static str) -> Route {
    Route {
        name,
        method: "POST",
        path,
        stream: None,
    }
}

const fn events(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    stream: Stream,
    version: Version,
) -> Route {
    Route {
        name,
        method,
        path,
        stream: Some((stream, version)),
    }
}

pub const ROUTES: [Route; 50] = [
    post("Ping", "/v1/ping"),
    post("Domains", "/v1/domains/list"),
    post("UpsertDomain", "/v1/domains/upsert"),
    post("ActualLRPs", "/v1/actual_lrps/list"),
    post(
        "ActualLRPsByProcessGuids",
        "/v1/actual_lrps/list_by_process_guids",
    ),
    post("ActualLRPGroups", "/v1/actual_lrp_groups/list"),
    post(
        "ActualLRPGroupsByProcessGuid",
        "/v1/actual_lrp_groups/list_by_process_guid",
    ),
    post(
        "ActualLRPGroupsByProcessGuidAndIndex",
        "/v1/actual_lrp_groups/get_by_process_guid_and_index",
    ),
    post("ClaimActualLRP", "/v1/actual_lrps/claim"),
    post("StartActualLRP", "/v1/actual_lrps/start.r1"),
    post("StartActualLRP_r0", "/v1/actual_lrps/start"),
    post("CrashActualLRP", "/v1/actual_lrps/crash"),
    post("FailActualLRP", "/v1/actual_lrps/fail"),
    post("RemoveActualLRP", "/v1/actual_lrps/remove"),
    post("RetireActualLRP", "/v1/actual_lrps/retire"),
    post(
        "RemoveEvacuatingActualLRP",
        "/v1/actual_lrps/remove_evacuating",
    ),
    post(
        "EvacuateClaimedActualLRP",
        "/v1/actual_lrps/evacuate_claimed",
    ),
    post(
        "EvacuateCrashedActualLRP",
        "/v1/actual_lrps/evacuate_crashed",
    ),
    post(
        "EvacuateStoppedActualLRP",
        "/v1/actual_lrps/evacuate_stopped",
    ),
    post(
        "EvacuateRunningActualLRP",
        "/v1/actual_lrps/evacuate_running.r1",
    ),
    post(
        "EvacuateRunningActualLRP_r0",
        "/v1/actual_lrps/evacuate_running",
    ),
    post(
        "DesiredLRPSchedulingInfos",
        "/v1/desired_lrp_scheduling_infos/list",
    ),
    post(
        "DesiredLRPSchedulingInfoByProcessGuid",
        "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
    ),
    post(
        "DesiredLRPRoutingInfos",
        "/v1/desired_lrp_routing_infos/list",
    ),
    post("DesiredLRPs", "/v1/desired_lrps/list.r3"),
    post(
        "DesiredLRPByProcessGuid",
        "/v1/desired_lrps/get_by_process_guid.r3",
    ),
    post("DesiredLRPs_r2", "/v1/desired_lrps/list.r2"),
    post(
        "DesiredLRPByProcessGuid_r2",
        "/v1/desired_lrps/get_by_process_guid.r2",
    ),
    post("DesireDesiredLRP", "/v1/desired_lrp/desire.r2"),
    post("UpdateDesireLRP", "/v1/desired_lrp/update"),
    post("RemoveDesiredLRP", "/v1/desired_lrp/remove"),
    post("Tasks", "/v1/tasks/list.r3"),
    post("TaskByGuid", "/v1/tasks/get_by_task_guid.r3"),
    post("Tasks_r2", "/v1/tasks/list.r2"),
    post("TaskByGuid_r2", "/v1/tasks/get_by_task_guid.r2"),
    post("DesireTask", "/v1/tasks/desire.r2"),
    post("StartTask", "/v1/tasks/start"),
    post("CancelTask", "/v1/tasks/cancel"),
    post("FailTask", "/v1/tasks/fail"),
    post("RejectTask", "/v1/tasks/reject"),
    post("CompleteTask", "/v1/tasks/complete"),
    post("ResolvingTask", "/v1/tasks/resolving"),
    post("DeleteTask", "/v1/tasks/delete"),
    events(
        "EventStream",
        "GET",
        "/v1/events.r1",
        Stream::LrpGroups,
        Version::V3,
    ),
    events(
        "TaskEventStream",
        "POST",
        "/v1/events/tasks.r1",
        Stream::Tasks,
        Version::V3,
    ),
    events(
        "LRPInstanceEventStream",
        "POST",
        "/v1/events/lrp_instances.r1",
        Stream::LrpInstances,
        Version::V3,
    ),
    events(
        "EventStream_r0",
        "GET",
        "/v1/events",
        Stream::LrpGroups,
        Version::V0,
    ),
    events(
        "TaskEventStream_r0",
        "POST",
        "/v1/events/tasks",
        Stream::Tasks,
        Version::V0,
    ),
    events(
        "LrpInstanceEventStream_r0",
        "POST",
        "/v1/events/lrp_instances",
        Stream::LrpInstances,
        Version::V0,
    ),
    post("Cells", "/v1/cells/list.r1"),
];

/// The route for an exact method and path; anything else is the router's 404.
pub fn route(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!((a.method, a.path), (b.method, b.path));
            }
        }
    }

    #[test]
    fn wrong_method_and_old_paths_are_not_routed() {
        assert!(route("GET", "/v1/ping").is_none());
        assert!(route("POST", "/v1/events.r1").is_none());
        assert!(route("POST", "/v1/desired_lrps/list").is_none());
        assert!(route("POST", "/v1/desired_lrp/desire").is_none());
        assert_eq!(
            route("GET", "/v1/events").map(|r| r.name),
            Some("EventStream_r0")
        );
    }
}
