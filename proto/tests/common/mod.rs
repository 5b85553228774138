//! Sample domain values shared by the conversion tests: every field set to
//! something other than its default, so a dropped field shows up as a diff.
#![allow(dead_code)]

use std::collections::BTreeMap;

use diego_model::*;
use serde_json::json;

pub fn env(name: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: format!("{name}-value"),
    }
}

/// One action of every kind, nested so every wrapper holds another kind.
pub fn every_action() -> Action {
    let download = Action::Download(DownloadAction {
        artifact: "droplet".into(),
        from: "http://files/droplet.tgz".into(),
        to: "/home/vcap".into(),
        cache_key: "droplet-key".into(),
        log_source: "STG".into(),
        user: "vcap".into(),
        checksum_algorithm: "sha256".into(),
        checksum_value: "abc123".into(),
    });
    let upload = Action::Upload(UploadAction {
        artifact: "result".into(),
        from: "/tmp/out".into(),
        to: "http://files/out".into(),
        log_source: "UPL".into(),
        user: "vcap".into(),
    });
    let run = Action::Run(RunAction {
        path: "/bin/sh".into(),
        args: vec!["-c".into(), "echo hi".into()],
        dir: "/home/vcap".into(),
        env: vec![env("PORT"), env("HOME")],
        resource_limits: Some(ResourceLimits {
            nofile: Some(1024),
            nproc: Some(7),
        }),
        user: "vcap".into(),
        log_source: "APP".into(),
        suppress_log_output: true,
        volume_mounted_files: vec![File {
            path: "/etc/cfg".into(),
            content: "x=1".into(),
        }],
    });
    let timeout = Action::Timeout(TimeoutAction {
        action: Box::new(run.clone()),
        deprecated_timeout_ns: 5_000_000,
        log_source: "TMO".into(),
        timeout_ms: 5,
    });
    let emit = Action::EmitProgress(EmitProgressAction {
        action: Box::new(download.clone()),
        start_message: "starting".into(),
        success_message: "done".into(),
        failure_message_prefix: "failed".into(),
        log_source: "EMT".into(),
    });
    let try_ = Action::Try(TryAction {
        action: Box::new(upload.clone()),
        log_source: "TRY".into(),
    });
    let parallel = Action::Parallel(ParallelAction {
        actions: vec![timeout, emit],
        log_source: "PAR".into(),
    });
    let codependent = Action::Codependent(CodependentAction {
        actions: vec![try_, run],
        log_source: "COD".into(),
    });
    Action::Serial(SerialAction {
        actions: vec![download, upload, parallel, codependent],
        log_source: "SER".into(),
    })
}

pub fn metric_tags() -> BTreeMap<String, MetricTagValue> {
    BTreeMap::from([
        (
            "source_id".to_string(),
            MetricTagValue {
                static_value: "app-1".into(),
                dynamic: "".into(),
            },
        ),
        (
            "index".to_string(),
            MetricTagValue {
                static_value: "".into(),
                dynamic: "INDEX".into(),
            },
        ),
    ])
}

pub fn task_definition() -> TaskDefinition {
    TaskDefinition {
        root_fs: "preloaded:busybox".into(),
        environment_variables: vec![env("A"), env("B")],
        action: Some(every_action()),
        disk_mb: 1024,
        memory_mb: 256,
        cpu_weight: 50,
        privileged: true,
        log_source: "TASK".into(),
        log_guid: "log-guid".into(),
        metrics_guid: "metrics-guid".into(),
        result_file: "/tmp/result".into(),
        completion_callback_url: "http://cc/callback".into(),
        annotation: "note".into(),
        volume_mounts: vec![VolumeMount {
            driver: "nfs".into(),
            container_dir: "/data".into(),
            mode: "rw".into(),
            shared: Some(SharedDevice {
                volume_id: "vol-1".into(),
                mount_config: r#"{"source":"nfs://server/export"}"#.into(),
            }),
        }],
        placement_tags: vec!["gpu".into()],
        max_pids: 100,
        image_username: "user".into(),
        image_password: "secret".into(),
        log_rate_limit_bytes_per_second: Some(-1),
        metric_tags: metric_tags(),
        volume_mounted_files: vec![File {
            path: "mysql/uri".into(),
            content: "mysql://db".into(),
        }],
        egress_rules: egress_rules(),
        network: Some(network()),
        certificate_properties: Some(certificate_properties()),
        trusted_system_certificates_path: "/etc/cf-system-certificates".into(),
    }
}

pub fn task() -> Task {
    Task {
        task_guid: "task-1".into(),
        domain: "cf-tasks".into(),
        definition: task_definition(),
        created_at: 1,
        updated_at: 2,
        first_completed_at: 3,
        state: TaskState::Completed,
        cell_id: "cell-1".into(),
        result: "ok".into(),
        failed: true,
        failure_reason: "boom".into(),
        rejection_count: 2,
        rejection_reason: "full".into(),
    }
}

pub fn routes() -> Routes {
    BTreeMap::from([
        (
            "cf-router".to_string(),
            json!([{"hostnames": ["a.example.com"], "port": 8080, "weight": 0.5}]),
        ),
        (
            "internal-router".to_string(),
            json!([{"hostname": "a.apps.internal"}]),
        ),
    ])
}

pub fn check_definition() -> CheckDefinition {
    CheckDefinition {
        checks: vec![
            Check {
                tcp_check: Some(TcpCheck {
                    port: 8080,
                    connect_timeout_ms: 100,
                    interval_ms: 200,
                }),
                http_check: None,
            },
            Check {
                tcp_check: None,
                http_check: Some(HttpCheck {
                    port: 8080,
                    request_timeout_ms: 300,
                    path: "/health".into(),
                    interval_ms: 400,
                }),
            },
        ],
        log_source: "HEALTH".into(),
        readiness_checks: vec![Check {
            tcp_check: Some(TcpCheck {
                port: 9090,
                connect_timeout_ms: 1,
                interval_ms: 2,
            }),
            http_check: None,
        }],
    }
}

pub fn desired_lrp() -> DesiredLrp {
    DesiredLrp {
        process_guid: "app-1".into(),
        domain: "cf-apps".into(),
        root_fs: "docker:///busybox#latest".into(),
        instances: 3,
        environment_variables: vec![env("X")],
        setup: Some(every_action()),
        action: Some(Action::run("/bin/httpd", &["-f"])),
        monitor: Some(every_action()),
        disk_mb: 512,
        memory_mb: 128,
        cpu_weight: 10,
        privileged: true,
        ports: vec![8080, 9090],
        routes: routes(),
        log_source: "APP".into(),
        log_guid: "log-1".into(),
        metrics_guid: "app-1".into(),
        annotation: "etag".into(),
        modification_tag: ModificationTag {
            epoch: "epoch-1".into(),
            index: 4,
        },
        volume_mounts: vec![VolumeMount {
            driver: "nfs".into(),
            container_dir: "/d".into(),
            mode: "r".into(),
            shared: None,
        }],
        start_timeout_ms: 60_000,
        placement_tags: vec!["blue".into()],
        max_pids: 1000,
        image_username: "u".into(),
        image_password: "p".into(),
        check_definition: Some(check_definition()),
        metric_tags: metric_tags(),
        log_rate_limit_bytes_per_second: Some(4096),
        update_strategy: UpdateStrategy::Recreate,
        sidecars: vec![diego_model::Sidecar {
            action: Some(Action::run("/bin/sleep", &["100"])),
            disk_mb: 64,
            memory_mb: 32,
        }],
        volume_mounted_files: vec![File {
            path: "/etc/cf-service-bindings/db/password".into(),
            content: "s3cret".into(),
        }],
        egress_rules: egress_rules(),
        network: Some(network()),
        certificate_properties: Some(certificate_properties()),
        trusted_system_certificates_path: "/etc/cf-system-certificates".into(),
    }
}

pub fn net_info() -> NetInfo {
    NetInfo {
        address: "10.0.0.1".into(),
        ports: vec![PortMapping {
            container_port: 8080,
            host_port: 61000,
            container_tls_proxy_port: 61001,
            host_tls_proxy_port: 61002,
        }],
        instance_address: "172.16.0.2".into(),
        preferred_address: PreferredAddress::Host,
        instance_ipv6_address: "fd00::2".into(),
    }
}

pub fn running_actual_lrp() -> ActualLrp {
    ActualLrp {
        key: ActualLrpKey::new("app-1", 2, "cf-apps"),
        instance_key: InstanceKey::new("ig-1", "cell-1"),
        net_info: net_info(),
        crash_count: 1,
        crash_reason: "oom".into(),
        state: ActualState::Running,
        placement_error: "".into(),
        since: 99,
        modification_tag: ModificationTag {
            epoch: "e".into(),
            index: 7,
        },
        presence: Presence::Evacuating,
        internal_routes: vec!["a.apps.internal".into()],
        metric_tags: BTreeMap::from([("index".to_string(), "2".to_string())]),
        routable: Some(true),
        availability_zone: "z1".into(),
    }
}

pub fn unclaimed_actual_lrp() -> ActualLrp {
    let mut a = ActualLrp::unclaimed(ActualLrpKey::new("app-1", 0, "cf-apps"), "epoch", 5);
    a.placement_error = "insufficient resources: memory".into();
    a.presence = Presence::Suspect;
    a
}

pub fn cell_presence() -> CellPresence {
    CellPresence {
        cell_id: "cell-1".into(),
        rep_address: "http://10.0.0.1:1800".into(),
        zone: "z1".into(),
        capacity: CellCapacity {
            memory_mb: 4096,
            disk_mb: 8192,
            containers: 250,
        },
        rootfs_providers: vec![
            Provider {
                name: "preloaded".into(),
                properties: vec!["busybox".into()],
            },
            Provider {
                name: "docker".into(),
                properties: vec![],
            },
        ],
        placement_tags: vec!["blue".into()],
        optional_placement_tags: vec!["green".into()],
        rep_url: "https://cell-1.cell.service.cf.internal:1801".into(),
        annotations: BTreeMap::from([("rack".to_string(), "r1".to_string())]),
    }
}

/// One event of every kind.
pub fn every_event() -> Vec<Event> {
    let mut before_task = task();
    before_task.state = TaskState::Running;
    let mut before_lrp = desired_lrp();
    before_lrp.instances = 1;
    vec![
        Event::TaskCreated { task: task() },
        Event::TaskChanged {
            before: before_task,
            after: task(),
        },
        Event::TaskRemoved { task: task() },
        Event::DesiredLrpCreated {
            desired_lrp: desired_lrp(),
        },
        Event::DesiredLrpChanged {
            before: before_lrp,
            after: desired_lrp(),
        },
        Event::DesiredLrpRemoved {
            desired_lrp: desired_lrp(),
        },
        Event::ActualLrpCreated {
            actual_lrp: unclaimed_actual_lrp(),
        },
        Event::ActualLrpChanged {
            before: unclaimed_actual_lrp(),
            after: running_actual_lrp(),
        },
        Event::ActualLrpRemoved {
            actual_lrp: running_actual_lrp(),
        },
        Event::ActualLrpCrashed {
            actual_lrp: unclaimed_actual_lrp(),
            crash_count: 3,
            crash_reason: "exit 1".into(),
            since: 42,
        },
    ]
}

/// Every kind of egress rule: tcp ports, a udp range, icmp.
pub fn egress_rules() -> Vec<SecurityGroupRule> {
    vec![
        SecurityGroupRule {
            protocol: "tcp".into(),
            destinations: vec!["10.0.0.0/8".into(), "192.168.1.1-192.168.1.9".into()],
            ports: vec![80, 443],
            log: true,
            annotations: vec!["asg".into()],
            ..Default::default()
        },
        SecurityGroupRule {
            protocol: "udp".into(),
            destinations: vec!["8.8.8.8".into()],
            port_range: Some(PortRange { start: 53, end: 54 }),
            ..Default::default()
        },
        SecurityGroupRule {
            protocol: "icmp".into(),
            destinations: vec!["0.0.0.0/0".into()],
            icmp_info: Some(IcmpInfo {
                icmp_type: 8,
                code: 0,
            }),
            ..Default::default()
        },
    ]
}

pub fn network() -> Network {
    Network {
        properties: [("policy_group_id".to_string(), "app-guid".to_string())].into(),
    }
}

pub fn certificate_properties() -> CertificateProperties {
    CertificateProperties {
        organizational_unit: vec!["app:app-guid".into(), "space:s".into()],
    }
}
