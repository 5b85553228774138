//! Property tests: no double start of a task, crash counts follow the policy,
//! JSON round-trips; the shared examples parse and validate.

mod common;
use common::*;
use diego_model::crash::RestartPolicy;
use diego_model::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum TaskOp {
    Start(u8),
    Complete(u8, bool),
    Cancel,
    Reject,
    Resolve,
}

fn task_op() -> impl Strategy<Value = TaskOp> {
    prop_oneof![
        4 => (0u8..3).prop_map(TaskOp::Start),
        2 => (0u8..3, any::<bool>()).prop_map(|(c, f)| TaskOp::Complete(c, f)),
        1 => Just(TaskOp::Cancel),
        2 => Just(TaskOp::Reject),
        1 => Just(TaskOp::Resolve),
    ]
}

proptest! {
    #[test]
    fn a_task_never_starts_on_two_cells(ops in proptest::collection::vec(task_op(), 1..60)) {
        let mut t = Task::desired("t", "d", task_def(), 0);
        let mut started_this_pending = false;
        for (i, op) in ops.into_iter().enumerate() {
            let now = i as i64;
            let before = t.clone();
            match op {
                TaskOp::Start(c) => {
                    let cell = format!("cell-{c}");
                    if let Ok(d) = t.start(&cell, now) {
                        if d.should_start {
                            prop_assert_eq!(before.state, TaskState::Pending, "should_start only from Pending");
                            prop_assert!(!started_this_pending, "started twice in one Pending period");
                            started_this_pending = true;
                        } else {
                            prop_assert_eq!(&before.cell_id, &cell, "no-op only on the cell running it");
                        }
                    } else {
                        prop_assert_eq!(&t, &before, "a refused start changes nothing");
                    }
                    if before.state == TaskState::Running && before.cell_id != cell {
                        prop_assert_eq!(&t.cell_id, &before.cell_id, "never taken over while running elsewhere");
                    }
                }
                TaskOp::Complete(c, failed) => {
                    let cell = format!("cell-{c}");
                    if t.complete(&cell, failed, "r", "", now).is_ok() {
                        prop_assert_eq!(before.state, TaskState::Running);
                        prop_assert_eq!(&before.cell_id, &cell);
                    } else {
                        prop_assert_eq!(&t, &before);
                    }
                }
                TaskOp::Cancel => { let _ = t.cancel(now); }
                TaskOp::Reject => { let _ = t.reject("no", DEFAULT_MAX_TASK_RETRIES, now); }
                TaskOp::Resolve => { let _ = t.resolving(now); }
            }
            if t.state == TaskState::Pending && before.state != TaskState::Pending {
                started_this_pending = false;
            }
            // Invariants: a cell exactly while Running; retries bounded.
            prop_assert_eq!(t.state == TaskState::Running, !t.cell_id.is_empty());
            prop_assert!(t.rejection_count <= DEFAULT_MAX_TASK_RETRIES + 1);
            if t.rejection_count > DEFAULT_MAX_TASK_RETRIES {
                prop_assert!(t.state != TaskState::Pending && t.state != TaskState::Running);
            }
        }
    }
}

/// The spec's §4.3 table, independent of `RestartPolicy`.
fn table_wait(n: i32) -> Option<i64> {
    match n {
        i32::MIN..=2 => Some(0),
        3 => Some(30 * S),
        4 => Some(60 * S),
        5 => Some(120 * S),
        6 => Some(240 * S),
        7 => Some(480 * S),
        8..=199 => Some(960 * S),
        _ => None,
    }
}

#[derive(Debug, Clone)]
enum LrpOp {
    /// Claim + start on some cell, after `dt`.
    Start(u8, i64),
    /// Crash the running instance after `dt`.
    Crash(i64),
    /// A convergence pass after `dt`: restart a CRASHED row whose backoff elapsed.
    Converge(i64),
}

fn lrp_op() -> impl Strategy<Value = LrpOp> {
    let dt = prop_oneof![
        0i64..2 * MIN,
        0i64..20 * MIN,
        Just(5 * MIN),
        Just(5 * MIN + 1)
    ];
    prop_oneof![
        (0u8..3, dt.clone()).prop_map(|(c, d)| LrpOp::Start(c, d)),
        dt.clone().prop_map(LrpOp::Crash),
        dt.prop_map(LrpOp::Converge),
    ]
}

proptest! {
    #[test]
    fn crash_counts_follow_the_policy(ops in proptest::collection::vec(lrp_op(), 1..80)) {
        let p = RestartPolicy::default();
        let mut r = ActualLrp::unclaimed(key(), "e", 0);
        let mut now = 0i64;
        let mut expected_count = 0i32;
        for op in ops {
            match op {
                LrpOp::Start(c, dt) => {
                    now += dt;
                    let k = ik(&format!("g{now}"), &format!("cell-{c}"));
                    if r.state == ActualState::Unclaimed {
                        r.claim(&k, now).unwrap();
                        r.start(&k, &info("1.1.1.1"), now).unwrap();
                    }
                }
                LrpOp::Crash(dt) => {
                    now += dt;
                    if matches!(r.state, ActualState::Running | ActualState::Claimed) {
                        let ran_long = r.state == ActualState::Running && now - r.since > 5 * MIN;
                        expected_count = if ran_long { 1 } else { expected_count + 1 };
                        let k = r.instance_key.clone();
                        let out = r.crash(&k, "x", &p, now).unwrap();
                        prop_assert_eq!(out.crash_count, expected_count);
                        prop_assert_eq!(r.crash_count, expected_count);
                        let immediate = table_wait(expected_count) == Some(0);
                        prop_assert_eq!(out.restart_now, immediate);
                        prop_assert_eq!(r.state, if immediate { ActualState::Unclaimed } else { ActualState::Crashed });
                    } else {
                        let k = ik("someone", "cell-x");
                        prop_assert!(r.clone().crash(&k, "x", &p, now).is_err());
                    }
                }
                LrpOp::Converge(dt) => {
                    now += dt;
                    if r.state == ActualState::Crashed {
                        let due = match table_wait(r.crash_count) {
                            Some(w) => now >= r.since + w,
                            None => false,
                        };
                        prop_assert_eq!(p.should_restart(now, r.since, r.crash_count), due);
                        if due {
                            r.unclaim(true, now).unwrap();
                            prop_assert_eq!(r.crash_count, expected_count, "unclaim keeps the count");
                        }
                    }
                }
            }
        }
    }
}

fn small_string() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _:/\\-]{0,12}"
}

fn arb_action() -> impl Strategy<Value = Action> {
    let leaf = (
        small_string(),
        proptest::collection::vec(small_string(), 0..3),
        small_string(),
    )
        .prop_map(|(path, args, user)| {
            Action::Run(RunAction {
                path,
                args,
                user,
                ..Default::default()
            })
        });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|actions| Action::Serial(
                SerialAction {
                    actions,
                    log_source: String::new()
                }
            )),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|actions| Action::Parallel(
                ParallelAction {
                    actions,
                    log_source: "ls".into()
                }
            )),
            (inner.clone(), 1i64..10_000).prop_map(|(a, ms)| Action::Timeout(TimeoutAction {
                action: Box::new(a),
                deprecated_timeout_ns: 0,
                log_source: String::new(),
                timeout_ms: ms
            })),
            inner.prop_map(|a| Action::Try(TryAction {
                action: Box::new(a),
                log_source: String::new()
            })),
        ]
    })
}

fn arb_task() -> impl Strategy<Value = Task> {
    (
        (
            small_string(),
            small_string(),
            small_string(),
            proptest::option::of(arb_action()),
            any::<i32>(),
            any::<i32>(),
        ),
        (
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            0i32..5,
            small_string(),
            small_string(),
        ),
        (
            any::<bool>(),
            small_string(),
            any::<i32>(),
            small_string(),
            proptest::option::of(any::<i64>()),
            any::<u32>(),
        ),
        proptest::collection::btree_map(
            "[a-z]{1,5}",
            small_string().prop_map(|s| MetricTagValue {
                static_value: s,
                dynamic: String::new(),
            }),
            0..3,
        ),
    )
        .prop_map(
            |(
                (guid, domain, rootfs, action, mem, disk),
                (c, u, f, st, cell, result),
                (failed, reason, rc, rr, lr, cpu),
                tags,
            )| Task {
                task_guid: guid,
                domain,
                definition: TaskDefinition {
                    root_fs: rootfs,
                    action,
                    memory_mb: mem,
                    disk_mb: disk,
                    cpu_weight: cpu,
                    log_rate_limit_bytes_per_second: lr,
                    environment_variables: vec![EnvVar {
                        name: "A".into(),
                        value: reason.clone(),
                    }],
                    metric_tags: tags,
                    ..Default::default()
                },
                created_at: c,
                updated_at: u,
                first_completed_at: f,
                state: TaskState::from_i32(st).unwrap(),
                cell_id: cell,
                result,
                failed,
                failure_reason: reason,
                rejection_count: rc,
                rejection_reason: rr,
            },
        )
}

fn arb_actual() -> impl Strategy<Value = ActualLrp> {
    (
        (
            small_string(),
            any::<i32>(),
            small_string(),
            small_string(),
            small_string(),
        ),
        (
            small_string(),
            proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 0..3),
            small_string(),
            0usize..3,
        ),
        (
            any::<i32>(),
            small_string(),
            0usize..4,
            small_string(),
            any::<i64>(),
            small_string(),
            any::<u32>(),
            0i32..3,
        ),
        (
            proptest::collection::vec(small_string(), 0..3),
            proptest::collection::btree_map("[a-z]{1,5}", small_string(), 0..3),
            proptest::option::of(any::<bool>()),
            small_string(),
        ),
    )
        .prop_map(
            |(
                (pg, idx, dom, guid, cell),
                (addr, ports, iaddr, pref),
                (cc, cr, st, pe, since, epoch, mi, pres),
                (routes, tags, routable, az),
            )| ActualLrp {
                key: ActualLrpKey::new(&pg, idx, &dom),
                instance_key: InstanceKey::new(&guid, &cell),
                net_info: NetInfo {
                    address: addr,
                    ports: ports
                        .into_iter()
                        .map(|(c, h, t)| PortMapping {
                            container_port: c,
                            host_port: h,
                            container_tls_proxy_port: t,
                            host_tls_proxy_port: 0,
                        })
                        .collect(),
                    instance_address: iaddr,
                    preferred_address: [
                        PreferredAddress::Unknown,
                        PreferredAddress::Instance,
                        PreferredAddress::Host,
                    ][pref],
                    instance_ipv6_address: String::new(),
                },
                crash_count: cc,
                crash_reason: cr,
                state: [
                    ActualState::Unclaimed,
                    ActualState::Claimed,
                    ActualState::Running,
                    ActualState::Crashed,
                ][st],
                placement_error: pe,
                since,
                modification_tag: ModificationTag { epoch, index: mi },
                presence: Presence::from_i32(pres).unwrap(),
                internal_routes: routes,
                metric_tags: tags,
                routable,
                availability_zone: az,
            },
        )
}

proptest! {
    #[test]
    fn task_json_round_trips(t in arb_task()) {
        let json = serde_json::to_string(&t).unwrap();
        let back: Task = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, t);
    }

    #[test]
    fn actual_lrp_json_round_trips(a in arb_actual()) {
        let json = serde_json::to_string(&a).unwrap();
        let back: ActualLrp = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, a);
    }

    #[test]
    fn desired_lrp_json_round_trips(instances in any::<i32>(), action in arb_action(), annotation in small_string(), ports in proptest::collection::vec(any::<u32>(), 0..3), recreate in any::<bool>()) {
        let mut d = desired_lrp();
        d.instances = instances;
        d.action = Some(action);
        d.annotation = annotation;
        d.ports = ports;
        d.update_strategy = if recreate { UpdateStrategy::Recreate } else { UpdateStrategy::Rolling };
        d.routes.insert("cf-router".into(), serde_json::json!([{"hostnames": ["h"], "port": 8080}]));
        let json = serde_json::to_string(&d).unwrap();
        let back: DesiredLrp = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, d);
    }
}

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn task_echo_example_parses_and_validates() {
    let t: Task = serde_json::from_str(&example("task-echo.json")).unwrap();
    assert_eq!(t.task_guid, "hello-task");
    assert_eq!(t.definition.result_file, "/tmp/result");
    assert!(matches!(&t.definition.action, Some(Action::Serial(s)) if s.actions.len() == 2));
    validate::desire_task(&t.task_guid, &t.domain, &t.definition).unwrap();
}

#[test]
fn lrp_httpd_example_parses_and_validates() {
    let d: DesiredLrp = serde_json::from_str(&example("lrp-httpd.json")).unwrap();
    assert_eq!((d.process_guid.as_str(), d.instances), ("hello-web", 3));
    assert_eq!(d.ports, vec![8080]);
    assert_eq!(d.start_timeout_ms, 60_000);
    assert_eq!(
        d.check_definition.as_ref().unwrap().checks[0]
            .http_check
            .as_ref()
            .unwrap()
            .port,
        8080
    );
    validate::desired_lrp(&d).unwrap();
}
