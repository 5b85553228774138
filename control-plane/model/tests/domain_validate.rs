//! Domain freshness (§3.8) and validation (§3.4, §3.6, §3.7).

mod common;
use common::*;
use diego_model::*;

/// Named mutations of a valid value, each of which must fail validation.
type Cases<T> = Vec<(&'static str, Box<dyn Fn(&mut T)>)>;

#[test]
fn domain_ttl_and_freshness() {
    let now = 1_000 * S;
    let d = Domain::upsert("cf-apps", 10, now);
    assert_eq!(d.expire_at_ns, 1_010 * S);
    assert!(d.is_fresh(now));
    assert!(d.is_fresh(1_009 * S + 499_999_999), "rounds down to 1009 s");
    assert!(
        !d.is_fresh(1_009 * S + 500_000_000),
        "rounds up to 1010 s: not after it"
    );
    assert!(!d.is_fresh(1_010 * S));
    assert!(!d.is_fresh(2_000 * S));
    let forever = Domain::upsert("cf-apps", 0, now);
    assert_eq!(forever.expire_at_ns, i64::MAX);
    assert!(forever.is_fresh(i64::MAX - 10 * S));
    assert_eq!(round_to_second(1_500_000_000), 2 * S);
    assert_eq!(round_to_second(1_499_999_999), S);
    assert_eq!(round_to_second(-1), 0);
}

fn assert_field<T: std::fmt::Debug>(res: Result<T, ModelError>, field: &str) {
    let e = res.expect_err(field);
    assert_eq!(e.code, ErrorCode::InvalidRequest, "{field}");
    assert!(
        e.message.contains(field),
        "message {:?} should name {field}",
        e.message
    );
}

#[test]
fn valid_ones_pass() {
    validate::desire_task("t-1", "d", &task_def()).unwrap();
    validate::desired_lrp(&desired_lrp()).unwrap();
}

#[test]
fn task_rules() {
    assert_field(
        validate::desire_task("bad guid!", "d", &task_def()),
        "task_guid",
    );
    assert_field(validate::desire_task("", "d", &task_def()), "task_guid");
    assert_field(validate::desire_task("t", "", &task_def()), "domain");
    let cases: Cases<TaskDefinition> = vec![
        ("rootfs", Box::new(|d| d.root_fs = "".into())),
        ("rootfs", Box::new(|d| d.root_fs = "no-scheme".into())),
        ("action", Box::new(|d| d.action = None)),
        (
            "action.run.path",
            Box::new(|d| {
                d.action = Some(Action::Run(RunAction {
                    user: "root".into(),
                    ..Default::default()
                }))
            }),
        ),
        (
            "action.run.user",
            Box::new(|d| {
                d.action = Some(Action::Run(RunAction {
                    path: "/x".into(),
                    ..Default::default()
                }))
            }),
        ),
        ("memory_mb", Box::new(|d| d.memory_mb = -1)),
        ("disk_mb", Box::new(|d| d.disk_mb = -1)),
        ("max_pids", Box::new(|d| d.max_pids = -1)),
        (
            "log_rate_limit",
            Box::new(|d| d.log_rate_limit_bytes_per_second = Some(-2)),
        ),
        (
            "annotation",
            Box::new(|d| d.annotation = "a".repeat(10 * 1024 + 1)),
        ),
        (
            "image_username",
            Box::new(|d| d.image_password = "p".into()),
        ),
        (
            "image_username",
            Box::new(|d| d.image_username = "u".into()),
        ),
        (
            "metric_tags.x",
            Box::new(|d| {
                d.metric_tags.insert("x".into(), MetricTagValue::default());
            }),
        ),
        (
            "metric_tags.x",
            Box::new(|d| {
                d.metric_tags.insert(
                    "x".into(),
                    MetricTagValue {
                        dynamic: "NOPE".into(),
                        ..Default::default()
                    },
                );
            }),
        ),
    ];
    for (field, mutate) in cases {
        let mut d = task_def();
        mutate(&mut d);
        assert_field(validate::task_definition(&d), field);
    }
    // Boundaries that pass.
    let mut d = task_def();
    d.annotation = "a".repeat(10 * 1024);
    d.log_rate_limit_bytes_per_second = Some(-1);
    d.image_username = "u".into();
    d.image_password = "p".into();
    validate::task_definition(&d).unwrap();
}

#[test]
fn action_rules() {
    let run = || Box::new(run_action());
    let cases: Vec<(&str, Action)> = vec![
        (
            "a.download.from",
            Action::Download(DownloadAction {
                to: "/t".into(),
                user: "u".into(),
                ..Default::default()
            }),
        ),
        (
            "a.download.to",
            Action::Download(DownloadAction {
                from: "http://x".into(),
                user: "u".into(),
                ..Default::default()
            }),
        ),
        (
            "a.download.user",
            Action::Download(DownloadAction {
                from: "http://x".into(),
                to: "/t".into(),
                ..Default::default()
            }),
        ),
        (
            "a.download.checksum_value",
            Action::Download(DownloadAction {
                from: "f".into(),
                to: "t".into(),
                user: "u".into(),
                checksum_algorithm: "md5".into(),
                ..Default::default()
            }),
        ),
        (
            "a.download.checksum_algorithm",
            Action::Download(DownloadAction {
                from: "f".into(),
                to: "t".into(),
                user: "u".into(),
                checksum_algorithm: "crc".into(),
                checksum_value: "1".into(),
                ..Default::default()
            }),
        ),
        (
            "a.upload.from",
            Action::Upload(UploadAction {
                to: "t".into(),
                user: "u".into(),
                ..Default::default()
            }),
        ),
        (
            "a.upload.user",
            Action::Upload(UploadAction {
                from: "f".into(),
                to: "t".into(),
                ..Default::default()
            }),
        ),
        (
            "a.timeout.timeout_ms",
            Action::Timeout(TimeoutAction {
                action: run(),
                deprecated_timeout_ns: 0,
                log_source: String::new(),
                timeout_ms: 0,
            }),
        ),
        ("a.serial.actions", Action::Serial(SerialAction::default())),
        (
            "a.parallel.actions",
            Action::Parallel(ParallelAction::default()),
        ),
        (
            "a.codependent.actions",
            Action::Codependent(CodependentAction::default()),
        ),
        (
            "a.try.action.run.path",
            Action::Try(TryAction {
                action: Box::new(Action::Run(RunAction {
                    user: "u".into(),
                    ..Default::default()
                })),
                log_source: String::new(),
            }),
        ),
        (
            "a.serial.actions[1].run.user",
            Action::Serial(SerialAction {
                actions: vec![
                    run_action(),
                    Action::Run(RunAction {
                        path: "/p".into(),
                        ..Default::default()
                    }),
                ],
                log_source: String::new(),
            }),
        ),
    ];
    for (field, a) in cases {
        assert_field(validate::action("a", &a), field);
    }
    let ok = Action::Download(DownloadAction {
        from: "f".into(),
        to: "t".into(),
        user: "u".into(),
        checksum_algorithm: "SHA256".into(),
        checksum_value: "ab".into(),
        ..Default::default()
    });
    validate::action("a", &ok).unwrap();
}

#[test]
fn desired_lrp_rules() {
    let cases: Cases<DesiredLrp> = vec![
        ("process_guid", Box::new(|d| d.process_guid = "a b".into())),
        ("domain", Box::new(|d| d.domain = "".into())),
        ("rootfs", Box::new(|d| d.root_fs = "busybox".into())),
        ("instances", Box::new(|d| d.instances = -1)),
        ("memory_mb", Box::new(|d| d.memory_mb = -1)),
        ("disk_mb", Box::new(|d| d.disk_mb = -1)),
        ("max_pids", Box::new(|d| d.max_pids = -1)),
        (
            "sidecars[0].action",
            Box::new(|d| d.sidecars.push(Sidecar::default())),
        ),
        (
            "sidecars[0].memory_mb",
            Box::new(|d| {
                d.sidecars.push(Sidecar {
                    action: Some(Action::run("/bin/sleep", &["1"])),
                    memory_mb: -1,
                    ..Default::default()
                })
            }),
        ),
        ("annotation", Box::new(|d| d.annotation = "a".repeat(10241))),
        (
            "routes",
            Box::new(|d| {
                d.routes.insert(
                    "cf-router".into(),
                    serde_json::Value::String("x".repeat(131_072)),
                );
            }),
        ),
        (
            "metric_tags.k",
            Box::new(|d| {
                d.metric_tags.insert(
                    "k".into(),
                    MetricTagValue {
                        static_value: "a".into(),
                        dynamic: "INDEX".into(),
                    },
                );
            }),
        ),
        (
            "metric_tags.source_id",
            Box::new(|d| {
                d.metrics_guid = "m".into();
                d.metric_tags.insert(
                    "source_id".into(),
                    MetricTagValue {
                        static_value: "other".into(),
                        ..Default::default()
                    },
                );
            }),
        ),
        ("action", Box::new(|d| d.action = None)),
        (
            "setup.serial.actions",
            Box::new(|d| d.setup = Some(Action::Serial(SerialAction::default()))),
        ),
        (
            "monitor.run.path",
            Box::new(|d| {
                d.monitor = Some(Action::Run(RunAction {
                    user: "u".into(),
                    ..Default::default()
                }))
            }),
        ),
        (
            "check_definition.checks[0]",
            Box::new(|d| {
                d.check_definition = Some(CheckDefinition {
                    checks: vec![Check::default()],
                    ..Default::default()
                })
            }),
        ),
        (
            "check_definition.checks[0].port",
            Box::new(|d| {
                d.check_definition = Some(CheckDefinition {
                    checks: vec![Check {
                        tcp_check: Some(TcpCheck {
                            port: 0,
                            ..Default::default()
                        }),
                        http_check: None,
                    }],
                    ..Default::default()
                })
            }),
        ),
        (
            "check_definition.readiness_checks[0].port",
            Box::new(|d| {
                d.check_definition = Some(CheckDefinition {
                    readiness_checks: vec![Check {
                        http_check: Some(HttpCheck {
                            port: 70000,
                            ..Default::default()
                        }),
                        tcp_check: None,
                    }],
                    ..Default::default()
                })
            }),
        ),
        ("start_timeout_ms", Box::new(|d| d.start_timeout_ms = -1)),
        (
            "image_username",
            Box::new(|d| d.image_username = "u".into()),
        ),
        (
            "log_rate_limit",
            Box::new(|d| d.log_rate_limit_bytes_per_second = Some(-5)),
        ),
        (
            "env[0].name",
            Box::new(|d| {
                d.environment_variables = vec![EnvVar {
                    name: "".into(),
                    value: "v".into(),
                }]
            }),
        ),
        (
            "volume_mounts[0].driver",
            Box::new(|d| {
                d.volume_mounts = vec![VolumeMount {
                    driver: "".into(),
                    container_dir: "/v".into(),
                    mode: "r".into(),
                    ..Default::default()
                }]
            }),
        ),
        (
            "volume_mounts[0].container_dir",
            Box::new(|d| {
                d.volume_mounts = vec![VolumeMount {
                    driver: "nfs".into(),
                    container_dir: "v".into(),
                    mode: "r".into(),
                    ..Default::default()
                }]
            }),
        ),
        (
            "volume_mounts[0].mode",
            Box::new(|d| {
                d.volume_mounts = vec![VolumeMount {
                    driver: "nfs".into(),
                    container_dir: "/v".into(),
                    mode: "w".into(),
                    ..Default::default()
                }]
            }),
        ),
        (
            "volume_mounts[0].shared.volume_id",
            Box::new(|d| {
                d.volume_mounts = vec![VolumeMount {
                    driver: "nfs".into(),
                    container_dir: "/v".into(),
                    mode: "rw".into(),
                    shared: Some(SharedDevice {
                        volume_id: "".into(),
                        mount_config: "{}".into(),
                    }),
                }]
            }),
        ),
        (
            "action.run.volume_mounted_files",
            Box::new(|d| {
                d.action = Some(Action::Run(RunAction {
                    path: "/p".into(),
                    user: "u".into(),
                    volume_mounted_files: vec![File {
                        path: "/f".into(),
                        content: "z".repeat(1024 * 1024 + 1),
                    }],
                    ..Default::default()
                }))
            }),
        ),
    ];
    for (field, mutate) in cases {
        let mut d = desired_lrp();
        mutate(&mut d);
        assert_field(validate::desired_lrp(&d), field);
    }
    // source_id rule satisfied; empty tag map with metrics_guid is fine.
    let mut d = desired_lrp();
    d.metrics_guid = "m".into();
    validate::desired_lrp(&d).unwrap();
    d.metric_tags.insert(
        "source_id".into(),
        MetricTagValue {
            static_value: "m".into(),
            ..Default::default()
        },
    );
    d.metric_tags.insert(
        "idx".into(),
        MetricTagValue {
            dynamic: "INDEX".into(),
            ..Default::default()
        },
    );
    validate::desired_lrp(&d).unwrap();
}

#[test]
fn desired_lrp_update_rules() {
    validate::desired_lrp_update(&DesiredLrpUpdate::default()).unwrap();
    assert_field(
        validate::desired_lrp_update(&DesiredLrpUpdate {
            instances: Some(-1),
            ..Default::default()
        }),
        "instances",
    );
    assert_field(
        validate::desired_lrp_update(&DesiredLrpUpdate {
            annotation: Some("a".repeat(10241)),
            ..Default::default()
        }),
        "annotation",
    );
    let mut big = Routes::new();
    big.insert("r".into(), serde_json::Value::String("x".repeat(131_073)));
    assert_field(
        validate::desired_lrp_update(&DesiredLrpUpdate {
            routes: Some(big),
            ..Default::default()
        }),
        "routes",
    );
    let bad_tags = [("t".to_string(), MetricTagValue::default())]
        .into_iter()
        .collect();
    assert_field(
        validate::desired_lrp_update(&DesiredLrpUpdate {
            metric_tags: Some(bad_tags),
            ..Default::default()
        }),
        "metric_tags.t",
    );
    assert_field(
        validate::desired_lrp_update(&DesiredLrpUpdate {
            image_username: Some("u".into()),
            ..Default::default()
        }),
        "image_username",
    );
    let both = DesiredLrpUpdate {
        image_username: Some("u".into()),
        image_password: Some("p".into()),
        ..Default::default()
    };
    validate::desired_lrp_update(&both).unwrap();
    let mut d = desired_lrp();
    d.apply(&both);
    assert_eq!(
        (d.image_username.as_str(), d.image_password.as_str()),
        ("u", "p")
    );
}

#[test]
fn cell_presence_rules() {
    let ok = CellPresence {
        cell_id: "cell-a".into(),
        rep_address: "http://10.0.0.1:1800".into(),
        rep_url: "https://cell-a.cell.service.cf.internal:1801".into(),
        capacity: CellCapacity {
            memory_mb: 1024,
            disk_mb: 0,
            containers: 250,
        },
        ..Default::default()
    };
    ok.validate().unwrap();
    let cases: Cases<CellPresence> = vec![
        ("cell_id", Box::new(|c| c.cell_id.clear())),
        ("rep_address", Box::new(|c| c.rep_address.clear())),
        ("rep_url", Box::new(|c| c.rep_url = "ftp://x".into())),
        ("capacity.memory_mb", Box::new(|c| c.capacity.memory_mb = 0)),
        ("capacity.disk_mb", Box::new(|c| c.capacity.disk_mb = -1)),
        (
            "capacity.containers",
            Box::new(|c| c.capacity.containers = 0),
        ),
        (
            "annotations",
            Box::new(|c| {
                c.annotations.insert("k".into(), "".into());
            }),
        ),
    ];
    for (field, mutate) in cases {
        let mut c = ok.clone();
        mutate(&mut c);
        assert_field(c.validate(), field);
    }
}

/// A task's and an LRP's own volume-mounted files (service bindings): a
/// file needs a path, and their content totals at most 1 MiB.
#[test]
fn volume_mounted_files_rules() {
    let file = |path: &str, len: usize| File {
        path: path.into(),
        content: "z".repeat(len),
    };
    let half = 512 * 1024;
    let mut t = task_def();
    t.volume_mounted_files = vec![file("a", half), file("/etc/b", half)];
    validate::task_definition(&t).unwrap();
    t.volume_mounted_files.push(file("c", 1));
    assert_field(validate::task_definition(&t), "volume_mounted_files");
    t.volume_mounted_files = vec![file("a", 1), file("", 1)];
    assert_field(
        validate::task_definition(&t),
        "volume_mounted_files[1].path",
    );

    let mut d = desired_lrp();
    d.volume_mounted_files = vec![file("db/uri", half), file("db/password", half)];
    validate::desired_lrp(&d).unwrap();
    d.volume_mounted_files[0].content.push('z');
    assert_field(validate::desired_lrp(&d), "volume_mounted_files");
    d.volume_mounted_files = vec![file("", 0)];
    assert_field(validate::desired_lrp(&d), "volume_mounted_files[0].path");
}

/// Egress rules follow the original's `SecurityGroupRule.Validate`, each
/// error naming the rule and its field.
#[test]
fn egress_rules_rules() {
    let tcp = || SecurityGroupRule {
        protocol: "tcp".into(),
        destinations: vec!["10.0.0.1".into()],
        ports: vec![443],
        ..Default::default()
    };
    let icmp = || SecurityGroupRule {
        protocol: "icmp".into(),
        destinations: vec!["0.0.0.0/0".into()],
        icmp_info: Some(IcmpInfo {
            icmp_type: 0,
            code: 0,
        }),
        ..Default::default()
    };
    let good = vec![
        tcp(),
        SecurityGroupRule {
            protocol: "udp".into(),
            destinations: vec!["10.0.0.1-10.0.0.9".into(), "fd00::/8".into()],
            port_range: Some(PortRange { start: 53, end: 53 }),
            ..Default::default()
        },
        icmp(),
        SecurityGroupRule {
            protocol: "all".into(),
            destinations: vec!["::1".into()],
            ..Default::default()
        },
    ];
    let mut d = desired_lrp();
    d.egress_rules = good.clone();
    validate::desired_lrp(&d).unwrap();
    let mut t = task_def();
    t.egress_rules = good;
    validate::task_definition(&t).unwrap();

    let cases: Cases<SecurityGroupRule> = vec![
        (
            "egress_rules[0].protocol",
            Box::new(|r| r.protocol = "sctp".into()),
        ),
        ("egress_rules[0].ports", Box::new(|r| r.ports.clear())),
        (
            "egress_rules[0].ports",
            Box::new(|r| r.port_range = Some(PortRange { start: 1, end: 2 })),
        ),
        ("egress_rules[0].ports", Box::new(|r| r.ports = vec![0])),
        (
            "egress_rules[0].port_range",
            Box::new(|r| {
                r.ports.clear();
                r.port_range = Some(PortRange { start: 9, end: 8 });
            }),
        ),
        (
            "egress_rules[0].icmp_info",
            Box::new(|r| r.icmp_info = Some(IcmpInfo::default())),
        ),
        (
            "egress_rules[0].destinations",
            Box::new(|r| r.destinations.clear()),
        ),
        (
            "egress_rules[0].destinations[1]",
            Box::new(|r| r.destinations.push("10.0.0.9-10.0.0.1".into())),
        ),
        (
            "egress_rules[0].destinations[1]",
            Box::new(|r| r.destinations.push("10.0.0.0/33".into())),
        ),
        (
            "egress_rules[0].destinations[1]",
            Box::new(|r| r.destinations.push("example.com".into())),
        ),
        (
            "egress_rules[0].destinations[1]",
            Box::new(|r| r.destinations.push("10.0.0.1-::1".into())),
        ),
    ];
    for (field, mutate) in cases {
        let mut rule = tcp();
        mutate(&mut rule);
        let mut d = desired_lrp();
        d.egress_rules = vec![rule.clone()];
        assert_field(validate::desired_lrp(&d), field);
        let mut t = task_def();
        t.egress_rules = vec![rule];
        assert_field(validate::task_definition(&t), field);
    }
    let mut no_info = icmp();
    no_info.icmp_info = None;
    let mut d = desired_lrp();
    d.egress_rules = vec![no_info];
    assert_field(validate::desired_lrp(&d), "egress_rules[0].icmp_info");
    let mut icmp_ports = icmp();
    icmp_ports.ports = vec![1];
    d.egress_rules = vec![icmp_ports];
    assert_field(validate::desired_lrp(&d), "egress_rules[0].ports");
}
