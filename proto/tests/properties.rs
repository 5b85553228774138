//! Property tests: arbitrary domain values survive domain -> wire -> bytes ->
//! wire -> domain, and arbitrary bytes never make the conversions panic.

use std::collections::BTreeMap;

use diego_model::*;
use diego_proto::bbs::v1 as w;
use proptest::prelude::*;
use prost::Message;
use rand::{Rng, RngCore, SeedableRng};

fn s() -> impl Strategy<Value = String> {
    "[a-z0-9:/_-]{0,8}"
}

fn leaf() -> impl Strategy<Value = Action> {
    prop_oneof![
        (s(), s(), s(), s()).prop_map(|(from, to, user, cache_key)| {
            Action::Download(DownloadAction {
                from,
                to,
                user,
                cache_key,
                ..Default::default()
            })
        }),
        (s(), s(), s()).prop_map(|(from, to, user)| {
            Action::Upload(UploadAction {
                from,
                to,
                user,
                ..Default::default()
            })
        }),
        (
            s(),
            prop::collection::vec(s(), 0..3),
            any::<bool>(),
            prop::option::of(any::<u64>())
        )
            .prop_map(|(path, args, suppress_log_output, nofile)| {
                Action::Run(RunAction {
                    path,
                    args,
                    suppress_log_output,
                    resource_limits: nofile.map(|n| ResourceLimits {
                        nofile: Some(n),
                        nproc: None,
                    }),
                    ..Default::default()
                })
            }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), any::<i64>(), s()).prop_map(|(a, timeout_ms, log_source)| {
                Action::Timeout(TimeoutAction {
                    action: Box::new(a),
                    deprecated_timeout_ns: 0,
                    log_source,
                    timeout_ms,
                })
            }),
            (inner.clone(), s()).prop_map(|(a, start_message)| {
                Action::EmitProgress(EmitProgressAction {
                    action: Box::new(a),
                    start_message,
                    success_message: String::new(),
                    failure_message_prefix: String::new(),
                    log_source: String::new(),
                })
            }),
            inner.clone().prop_map(|a| Action::Try(TryAction {
                action: Box::new(a),
                log_source: String::new()
            })),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|actions| Action::Parallel(
                ParallelAction {
                    actions,
                    log_source: String::new()
                }
            )),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|actions| Action::Serial(
                SerialAction {
                    actions,
                    log_source: String::new()
                }
            )),
            prop::collection::vec(inner, 0..4).prop_map(|actions| {
                Action::Codependent(CodependentAction {
                    actions,
                    log_source: String::new(),
                })
            }),
        ]
    })
}

fn task() -> impl Strategy<Value = Task> {
    (
        (
            s(),
            s(),
            prop::option::of(action()),
            any::<i32>(),
            any::<i32>(),
            prop::option::of(any::<i64>()),
        ),
        (0..5i32, s(), any::<bool>(), any::<i64>(), any::<i32>()),
    )
        .prop_map(
            |(
                (task_guid, domain, action, memory_mb, max_pids, rate),
                (st, cell_id, failed, at, rc),
            )| {
                Task {
                    task_guid,
                    domain,
                    definition: TaskDefinition {
                        root_fs: "preloaded:busybox".into(),
                        action,
                        memory_mb,
                        max_pids,
                        log_rate_limit_bytes_per_second: rate,
                        ..Default::default()
                    },
                    created_at: at,
                    state: TaskState::from_i32(st).unwrap_or_default(),
                    cell_id,
                    failed,
                    rejection_count: rc,
                    ..Default::default()
                }
            },
        )
}

fn routes() -> impl Strategy<Value = Routes> {
    prop::collection::btree_map(s(), (s(), any::<i32>(), any::<bool>()), 0..3).prop_map(|m| {
        m.into_iter()
            .map(|(k, (h, p, b))| (k, serde_json::json!([{"hostname": h, "port": p, "tls": b}])))
            .collect()
    })
}

fn desired() -> impl Strategy<Value = DesiredLrp> {
    (
        s(),
        prop::option::of(action()),
        action(),
        routes(),
        any::<i32>(),
        prop::collection::vec(any::<u32>(), 0..3),
    )
        .prop_map(
            |(process_guid, setup, action, routes, instances, ports)| DesiredLrp {
                process_guid,
                setup,
                action: Some(action),
                routes,
                instances,
                ports,
                update_strategy: if instances % 2 == 0 {
                    UpdateStrategy::Rolling
                } else {
                    UpdateStrategy::Recreate
                },
                ..Default::default()
            },
        )
}

fn actual() -> impl Strategy<Value = ActualLrp> {
    (
        s(),
        any::<i32>(),
        s(),
        s(),
        0..4usize,
        0..3i32,
        prop::option::of(any::<bool>()),
        s(),
    )
        .prop_map(|(pg, index, ig, addr, st, pr, routable, zone)| ActualLrp {
            key: ActualLrpKey::new(&pg, index, "d"),
            instance_key: InstanceKey::new(&ig, "cell"),
            net_info: NetInfo {
                address: addr,
                ..Default::default()
            },
            state: [
                ActualState::Unclaimed,
                ActualState::Claimed,
                ActualState::Running,
                ActualState::Crashed,
            ][st],
            presence: Presence::from_i32(pr).unwrap_or_default(),
            routable,
            availability_zone: zone,
            metric_tags: BTreeMap::from([("k".to_string(), "v".to_string())]),
            ..Default::default()
        })
}

fn check<D, W>(d: D) -> Result<(), TestCaseError>
where
    D: Clone + PartialEq + std::fmt::Debug + TryFrom<W, Error = ModelError>,
    W: From<D> + Message + Default,
{
    let bytes = W::from(d.clone()).encode_to_vec();
    let back = D::try_from(W::decode(bytes.as_slice()).unwrap()).unwrap();
    prop_assert_eq!(back, d);
    Ok(())
}

proptest! {
    #[test]
    fn tasks_round_trip(t in task()) { check::<Task, w::Task>(t)?; }

    #[test]
    fn desired_lrps_round_trip(d in desired()) { check::<DesiredLrp, w::DesiredLrp>(d)?; }

    #[test]
    fn actual_lrps_round_trip(a in actual()) { check::<ActualLrp, w::ActualLrp>(a)?; }

    #[test]
    fn events_round_trip(before in actual(), after in actual(), t in task()) {
        check::<Event, w::Event>(Event::ActualLrpChanged { before, after })?;
        check::<Event, w::Event>(Event::TaskRemoved { task: t })?;
    }
}

/// The fuzz target's property on a few thousand seeded inputs: pure noise,
/// and valid encodings with bytes flipped, cut or inserted (noise alone
/// rarely decodes into anything interesting).
#[test]
fn decode_requests_never_panics_on_seeded_inputs() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x000d_1e90);
    for _ in 0..2000 {
        let mut buf = vec![0u8; rng.gen_range(0..256)];
        rng.fill_bytes(&mut buf);
        diego_proto::fuzzing::decode_requests(&buf);
    }
    let seeds = diego_proto::fuzzing::seed_inputs();
    let mut converted = 0;
    for _ in 0..3000 {
        let mut buf = seeds[rng.gen_range(0..seeds.len())].clone();
        for _ in 0..rng.gen_range(1..4) {
            if buf.is_empty() {
                break;
            }
            let at = rng.gen_range(0..buf.len());
            match rng.gen_range(0..3) {
                0 => buf[at] ^= 1 << rng.gen_range(0..8),
                1 => buf.truncate(at),
                _ => buf.insert(at, rng.gen()),
            }
        }
        converted += diego_proto::fuzzing::decode_requests(&buf);
    }
    // Mutants of valid requests mostly still decode and convert; if none did
    // the property would only ever see decoding errors.
    assert!(converted > 200, "only {converted} mutated inputs converted");
}
