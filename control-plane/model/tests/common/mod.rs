#![allow(dead_code)]
use diego_model::*;

pub const S: i64 = NS_PER_S;
pub const MIN: i64 = 60 * NS_PER_S;

pub fn key() -> ActualLrpKey {
    ActualLrpKey::new("pg-1", 0, "cf-apps")
}

pub fn ik(guid: &str, cell: &str) -> InstanceKey {
    InstanceKey::new(guid, cell)
}

pub fn info(addr: &str) -> RunningInfo {
    RunningInfo {
        net_info: NetInfo {
            address: addr.to_string(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61000,
                ..Default::default()
            }],
            instance_address: "10.255.0.2".into(),
            preferred_address: PreferredAddress::Host,
            ..Default::default()
        },
        internal_routes: vec!["app.apps.internal".into()],
        metric_tags: [("source_id".to_string(), "pg-1".to_string())]
            .into_iter()
            .collect(),
        routable: None,
        availability_zone: "z1".into(),
    }
}

/// A row in `state` at `presence`, with the instance key the invariants of
/// §3.5 require (none for UNCLAIMED/CRASHED).
pub fn row(
    state: ActualState,
    instance: Option<&InstanceKey>,
    presence: Presence,
    since: i64,
) -> ActualLrp {
    let mut r = ActualLrp::unclaimed(key(), "epoch-1", since);
    r.presence = presence;
    r.state = state;
    if let Some(k) = instance {
        r.instance_key = k.clone();
    }
    if state == ActualState::Running {
        let i = info("1.2.3.4");
        r.net_info = i.net_info;
        r.internal_routes = i.internal_routes;
        r.metric_tags = i.metric_tags;
        r.routable = Some(true);
        r.availability_zone = i.availability_zone;
    }
    r
}

pub fn running(instance: &InstanceKey, presence: Presence) -> ActualLrp {
    row(ActualState::Running, Some(instance), presence, 0)
}

pub fn claimed(instance: &InstanceKey, presence: Presence) -> ActualLrp {
    row(ActualState::Claimed, Some(instance), presence, 0)
}

pub fn run_action() -> Action {
    Action::run("/bin/true", &[])
}

pub fn task_def() -> TaskDefinition {
    TaskDefinition {
        root_fs: "preloaded:busybox".into(),
        action: Some(run_action()),
        memory_mb: 64,
        disk_mb: 64,
        ..Default::default()
    }
}

pub fn desired_lrp() -> DesiredLrp {
    DesiredLrp {
        process_guid: "pg-1".into(),
        domain: "cf-apps".into(),
        root_fs: "preloaded:busybox".into(),
        instances: 3,
        action: Some(run_action()),
        memory_mb: 64,
        disk_mb: 64,
        ..Default::default()
    }
}
