//! The original BBS wire details the compat conversions must get right.

use diego_model as m;
use diego_proto::compat;
use diego_proto::models as w;
use prost::Message;

fn run() -> w::Action {
    w::Action {
        run_action: Some(w::RunAction {
            path: "/bin/true".into(),
            user: "root".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn desired() -> w::DesiredLrp {
    w::DesiredLrp {
        process_guid: "p".into(),
        domain: "d".into(),
        root_fs: "docker:///busybox".into(),
        instances: 1,
        action: Some(run()),
        ports: vec![8080, 9090],
        metric_tags: [(
            "source_id".to_string(),
            w::MetricTagValue {
                r#static: "p".into(),
                dynamic: 0,
            },
        )]
        .into(),
        ..Default::default()
    }
}

#[test]
fn ports_are_encoded_unpacked_and_read_in_both_forms() {
    let bytes = desired().encode_to_vec();
    // Field 14, varint: tag 0x70 before each element (8080 = 0x90 0x3f).
    assert!(bytes.windows(3).any(|b| b == [0x70, 0x90, 0x3f]));
    assert!(!bytes.windows(2).any(|b| b == [0x72, 0x04]), "not packed");
    let packed = [0x72, 0x04, 0x90, 0x3f, 0x82, 0x47];
    assert_eq!(
        w::DesiredLrp::decode(&packed[..]).unwrap().ports,
        vec![8080, 9090]
    );
}

#[test]
fn start_timeout_ms_is_field_27() {
    // Tag (27 << 3) | 0 = 216 = varint 0xd8 0x01, then 1000 = 0xe8 0x07.
    let d = w::DesiredLrp::decode(&[0xd8, 0x01, 0xe8, 0x07][..]).unwrap();
    assert_eq!(d.start_timeout_ms, 1000);
}

#[test]
fn a_set_false_routable_is_emitted_and_an_unset_one_is_not() {
    let mut a = m::ActualLrp {
        routable: Some(false),
        state: m::ActualState::Running,
        ..Default::default()
    };
    let wire: w::ActualLrp = a.clone().into();
    assert_eq!(wire.state, "RUNNING");
    let bytes = wire.encode_to_vec();
    assert!(
        bytes.windows(2).any(|b| b == [0x68, 0x00]),
        "field 13 = false present"
    );
    a.routable = None;
    let unset: w::ActualLrp = a.into();
    assert!(!unset.encode_to_vec().windows(2).any(|b| b == [0x68, 0x00]));
}

#[test]
fn an_update_with_zero_instances_is_a_set_zero() {
    let mut u = w::DesiredLrpUpdate {
        optional_instances: Some(w::desired_lrp_update::OptionalInstances::Instances(0)),
        ..Default::default()
    };
    let back = w::DesiredLrpUpdate::decode(u.encode_to_vec().as_slice()).unwrap();
    assert_eq!(
        compat::desired_lrp_update_from(back).unwrap().instances,
        Some(0)
    );
    u.optional_instances = None;
    assert_eq!(compat::desired_lrp_update_from(u).unwrap().instances, None);
}

#[test]
fn desired_lrps_round_trip_through_the_domain() {
    let d = compat::desired_lrp_from(desired()).unwrap();
    let back: w::DesiredLrp = d.clone().into();
    assert_eq!(compat::desired_lrp_from(back).unwrap(), d);
}

#[test]
fn metric_tags_are_required_and_source_id_must_match_metrics_guid() {
    let mut none = desired();
    none.metric_tags.clear();
    assert_eq!(
        compat::desired_lrp_from(none).unwrap_err().code,
        m::ErrorCode::InvalidRequest
    );
    let mut mismatch = desired();
    #[allow(deprecated)]
    {
        mismatch.metrics_guid = "other".into();
    }
    assert!(compat::desired_lrp_from(mismatch).is_err());
}

#[test]
fn an_action_needs_exactly_one_field_and_errors_name_the_path() {
    let mut two = run();
    two.upload_action = Some(w::UploadAction::default());
    let mut d = desired();
    d.action = Some(w::Action {
        serial_action: Some(w::SerialAction {
            actions: vec![run(), two],
            log_source: String::new(),
        }),
        ..Default::default()
    });
    let e = compat::desired_lrp_from(d).unwrap_err();
    assert!(
        e.message.contains("action.serial_action.actions[1]"),
        "{}",
        e.message
    );
    let mut empty = desired();
    empty.action = Some(w::Action::default());
    assert!(compat::desired_lrp_from(empty).is_err());
}

#[test]
fn image_layers_and_cached_dependencies_lower_into_setup_downloads() {
    let mut d = desired();
    d.image_layers = vec![w::ImageLayer {
        name: "layer".into(),
        url: "https://example.com/l.tgz".into(),
        destination_path: "/l".into(),
        layer_type: w::image_layer::Type::Exclusive as i32,
        media_type: w::image_layer::MediaType::Tgz as i32,
        digest_algorithm: w::image_layer::DigestAlgorithm::Sha256 as i32,
        digest_value: "abc".into(),
    }];
    d.setup = Some(run());
    let lrp = compat::desired_lrp_from(d).unwrap();
    let Some(m::Action::Serial(s)) = lrp.setup else {
        panic!("setup is a serial: {:?}", lrp.setup)
    };
    let m::Action::Parallel(p) = &s.actions[0] else {
        panic!("downloads first")
    };
    let m::Action::Download(dl) = &p.actions[0] else {
        panic!("a download")
    };
    assert_eq!(
        (dl.to.as_str(), dl.checksum_algorithm.as_str()),
        ("/l", "sha256")
    );
    assert!(matches!(s.actions[1], m::Action::Run(_)));
}

#[test]
fn v0_fills_the_deprecated_timeouts() {
    let mut d = desired();
    d.start_timeout_ms = 61_000;
    d.action = Some(w::Action {
        timeout_action: Some(Box::new(w::TimeoutAction {
            action: Some(Box::new(run())),
            timeout_ms: 3,
            ..Default::default()
        })),
        ..Default::default()
    });
    compat::version::desired_to_v0(&mut d);
    #[allow(deprecated)]
    let got = (
        d.deprecated_start_timeout_s,
        d.action
            .unwrap()
            .timeout_action
            .unwrap()
            .deprecated_timeout_ns,
    );
    assert_eq!(got, (61, 3_000_000));
}

#[test]
fn sse_events_respect_stream_and_cell_filter() {
    let a = m::ActualLrp {
        instance_key: m::InstanceKey::new("ig", "cell-a"),
        ..Default::default()
    };
    let created = m::Event::ActualLrpCreated { actual_lrp: a };
    let v = compat::Version::V3;
    let on = |s, cell| compat::sse_event(&created, s, v, cell, "").map(|e| e.name);
    assert_eq!(
        on(compat::Stream::LrpInstances, ""),
        Some("actual_lrp_instance_created")
    );
    assert_eq!(
        on(compat::Stream::LrpGroups, "cell-a"),
        Some("actual_lrp_created")
    );
    assert_eq!(on(compat::Stream::LrpInstances, "cell-b"), None);
    assert_eq!(on(compat::Stream::Tasks, ""), None);
    let desired = m::Event::DesiredLrpCreated {
        desired_lrp: m::DesiredLrp::default(),
    };
    let name =
        compat::sse_event(&desired, compat::Stream::LrpInstances, v, "cell-b", "t").map(|e| e.name);
    assert_eq!(
        name,
        Some("desired_lrp_created"),
        "desired events are never filtered"
    );
}

/// Cloud Controller's file-based service bindings travel in DesiredLRP
/// field 38 and TaskDefinition field 28: the gateway keeps them both ways.
#[test]
fn volume_mounted_files_are_kept_both_ways() {
    let files = vec![w::File {
        path: "db/password".into(),
        content: "s3cret".into(),
    }];
    let mut wire = desired();
    wire.volume_mounted_files = files.clone();
    let bytes = wire.encode_to_vec();
    let d = compat::desired_lrp_from(w::DesiredLrp::decode(bytes.as_slice()).unwrap()).unwrap();
    assert_eq!(d.volume_mounted_files.len(), 1);
    assert_eq!(d.volume_mounted_files[0].path, "db/password");
    let back: w::DesiredLrp = d.into();
    assert_eq!(back.volume_mounted_files, files);

    let def = w::TaskDefinition {
        root_fs: "preloaded:busybox".into(),
        action: Some(run()),
        volume_mounted_files: files.clone(),
        ..Default::default()
    };
    let domain = compat::task_definition_from(def, "task_definition").unwrap();
    assert_eq!(domain.volume_mounted_files[0].content, "s3cret");
    let back: w::TaskDefinition = domain.into();
    assert_eq!(back.volume_mounted_files, files);
}

/// Egress rules, network properties, certificate properties and the
/// trusted certificates path are kept through the gateway, and an invalid
/// rule is refused as the original refuses it.
#[test]
fn egress_rules_and_network_are_kept_and_checked() {
    let mut wire = desired();
    wire.egress_rules = vec![w::SecurityGroupRule {
        protocol: "tcp".into(),
        destinations: vec!["10.0.0.0/8".into()],
        ports: vec![5432],
        ..Default::default()
    }];
    wire.network = Some(w::Network {
        properties: [("policy_group_id".to_string(), "g".to_string())].into(),
    });
    wire.certificate_properties = Some(w::CertificateProperties {
        organizational_unit: vec!["app:p".into()],
    });
    wire.trusted_system_certificates_path = "/etc/certs".into();
    let d = compat::desired_lrp_from(wire.clone()).unwrap();
    diego_model::validate::desired_lrp(&d).unwrap();
    assert_eq!(d.egress_rules[0].ports, vec![5432]);
    let back: w::DesiredLrp = d.clone().into();
    assert_eq!(back.egress_rules, wire.egress_rules);
    assert_eq!(back.network, wire.network);
    assert_eq!(back.certificate_properties, wire.certificate_properties);
    assert_eq!(back.trusted_system_certificates_path, "/etc/certs");

    let mut bad = d;
    bad.egress_rules[0].destinations = vec!["not-an-ip".into()];
    let e = diego_model::validate::desired_lrp(&bad).unwrap_err();
    assert!(
        e.to_string().contains("egress_rules[0].destinations[0]"),
        "{e}"
    );
}

/// A volume service's shared device (id and driver options) survives the
/// gateway both ways; the driver that reads it is not diego-rs's business.
#[test]
fn a_volume_mounts_shared_device_is_kept() {
    let mut wire = desired();
    wire.volume_mounts = vec![w::VolumeMount {
        driver: "nfsv3driver".into(),
        container_dir: "/var/vcap/data/v".into(),
        mode: "rw".into(),
        shared: Some(w::SharedDevice {
            volume_id: "vol-1".into(),
            mount_config: r#"{"source":"nfs://server/export"}"#.into(),
        }),
        dedicated: None,
    }];
    let d = compat::desired_lrp_from(wire.clone()).unwrap();
    diego_model::validate::desired_lrp(&d).unwrap();
    let back: w::DesiredLrp = d.into();
    assert_eq!(back.volume_mounts, wire.volume_mounts);
}
