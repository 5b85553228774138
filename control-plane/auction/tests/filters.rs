//! Each placement filter, each of Diego's error strings, evacuation and the in-flight limit.

mod common;

use common::*;
use diego_auction::*;

fn one_lrp(cells: &[CellState], work: LrpStart) -> Plan {
    schedule_default(cells, vec![work], vec![], &explain())
}

#[test]
fn rootfs_must_match_a_provider() {
    let cells = vec![cell("c1", "z", 1000, 1000, 10)];
    let mut stack3 = lrp("web", 0, 10, 10);
    stack3.rootfs = "preloaded:cflinuxfs3".into();
    let plan = one_lrp(&cells, stack3);
    assert_eq!(
        lrp_error(&plan, "web", 0).as_deref(),
        Some("found no compatible cell for required rootfs")
    );
    assert_eq!(plan.decisions[0].tally.filtered_rootfs, 1);

    // docker is arbitrary; preloaded+layer compares the opaque part; unknown schemes fail.
    for (rootfs, ok) in [
        ("docker:///user/image#tag", true),
        ("preloaded+layer:cflinuxfs4?layer=https://x/y.tgz", true),
        ("preloaded+layer:cflinuxfs3?layer=https://x/y.tgz", false),
        ("oci:///image", false),
        ("cflinuxfs4", false),
    ] {
        let mut work = lrp("web", 0, 10, 10);
        work.rootfs = rootfs.into();
        let plan = one_lrp(&cells, work);
        assert_eq!(lrp_cell(&plan, "web", 0).is_some(), ok, "{rootfs}");
    }
}

#[test]
fn volume_drivers_must_all_be_offered() {
    let mut nfs = cell("c1", "z", 1000, 1000, 10);
    nfs.volume_drivers = strings(&["nfs"]);
    let mut work = lrp("web", 0, 10, 10);
    work.volume_drivers = strings(&["nfs", "smb"]);
    let plan = one_lrp(&[nfs.clone()], work.clone());
    assert_eq!(
        lrp_error(&plan, "web", 0).as_deref(),
        Some("found no compatible cell with required volume drivers")
    );
    work.volume_drivers = strings(&["nfs"]);
    assert!(lrp_cell(&one_lrp(&[nfs], work), "web", 0).is_some());
}

#[test]
fn placement_tag_error_strings() {
    let mut tagged = cell("c1", "z", 1000, 1000, 10);
    tagged.placement_tags = strings(&["gpu"]);
    let cases: [(&[&str], &str); 4] = [
        (&[], "found no compatible cell with no placement tags"),
        (&["a"], "found no compatible cell with placement tag \"a\""),
        (
            &["a", "b"],
            "found no compatible cell with placement tags \"a\" and \"b\"",
        ),
        (
            &["a", "b", "c"],
            "found no compatible cell with placement tags \"a\", \"b\" and \"c\"",
        ),
    ];
    for (tags, expected) in cases {
        let mut work = task("t", 10, 10);
        work.placement_tags = strings(tags);
        let plan = schedule_default(&[tagged.clone()], vec![], vec![work], &explain());
        assert_eq!(task_error(&plan, "t").as_deref(), Some(expected));
    }
}

#[test]
fn optional_placement_tags_widen_what_a_cell_accepts() {
    let mut cell_ab = cell("c1", "z", 1000, 1000, 10);
    cell_ab.placement_tags = strings(&["a"]);
    cell_ab.optional_placement_tags = strings(&["b"]);
    for (tags, ok) in [
        (&["a"][..], true),
        (&["a", "b"], true),
        (&["b"], false),
        (&[], false),
    ] {
        let mut work = lrp("web", 0, 10, 10);
        work.placement_tags = strings(tags);
        let plan = one_lrp(&[cell_ab.clone()], work);
        assert_eq!(lrp_cell(&plan, "web", 0).is_some(), ok, "{tags:?}");
    }
}

#[test]
fn the_most_specific_constraint_error_wins() {
    let mut wrong_stack = cell("c1", "z1", 1000, 1000, 10);
    wrong_stack.rootfs_providers.clear();
    let mut no_driver = cell("c2", "z2", 1000, 1000, 10);
    no_driver.placement_tags = strings(&["x"]);
    let mut tagged = cell("c3", "z3", 1000, 1000, 10);
    tagged.volume_drivers = strings(&["nfs"]);
    tagged.placement_tags = strings(&["x"]);
    let mut work = lrp("web", 0, 10, 10);
    work.volume_drivers = strings(&["nfs"]);
    let plan = one_lrp(&[wrong_stack.clone(), no_driver.clone()], work.clone());
    assert_eq!(
        lrp_error(&plan, "web", 0).as_deref(),
        Some("found no compatible cell with required volume drivers")
    );
    let plan = one_lrp(&[wrong_stack, no_driver, tagged], work);
    assert_eq!(
        lrp_error(&plan, "web", 0).as_deref(),
        Some("found no compatible cell with no placement tags")
    );
    let decision = &plan.decisions[0];
    // Explanations follow the seeded cell order, so compare them as a sorted list.
    let mut verdicts: Vec<String> = decision
        .cells
        .iter()
        .map(|c| format!("{:?}", c.verdict))
        .collect();
    verdicts.sort();
    assert_eq!(
        verdicts,
        [
            "Filtered(PlacementTags)",
            "Filtered(Rootfs)",
            "Filtered(VolumeDrivers)"
        ]
    );
    assert!(decision
        .summary()
        .contains("3 filtered: 1 rootfs, 1 volume drivers, 1 placement tags"));
}

#[test]
fn insufficient_resources_reports_the_intersection_sorted() {
    let full = |id: &str, memory_mb, disk_mb, containers| {
        let mut c = cell(id, "z", 1000, 1000, 10);
        c.available = Resources::new(memory_mb, disk_mb, containers);
        c
    };
    let work = lrp("web", 0, 500, 500);
    let cases = [
        (
            vec![full("a", 100, 1000, 5)],
            "insufficient resources: memory",
        ),
        (
            vec![full("a", 100, 100, 0)],
            "insufficient resources: containers, disk, memory",
        ),
        (
            vec![full("a", 100, 100, 5), full("b", 100, 1000, 0)],
            "insufficient resources: memory",
        ),
        (
            vec![full("a", 100, 1000, 5), full("b", 1000, 100, 5)],
            "insufficient resources",
        ),
    ];
    for (cells, expected) in cases {
        let plan = one_lrp(&cells, work.clone());
        assert_eq!(lrp_error(&plan, "web", 0).as_deref(), Some(expected));
        assert_eq!(
            plan.decisions[0].summary(),
            format!(
                "lrp web/0: not placed: {expected} ({} too full)",
                cells.len()
            )
        );
    }
}

#[test]
fn resources_are_decremented_within_the_batch() {
    let cells = vec![cell("a", "z", 1000, 10_000, 10)];
    let lrps = vec![
        lrp("x", 0, 400, 10),
        lrp("y", 0, 400, 10),
        lrp("z", 0, 400, 10),
    ];
    let plan = schedule_default(&cells, lrps, vec![], &AuctionConfig::default());
    assert_eq!(plan.placed_count(), 2);
    assert_eq!(plan.failed_lrps.len(), 1);
    assert_eq!(
        plan.failed_lrps[0].1.to_string(),
        "insufficient resources: memory"
    );
}

#[test]
fn no_cells_or_only_evacuating_cells_fail_with_communication_error() {
    let expected = "unable to communicate to compatible cells";
    let plan = schedule_default(
        &[],
        vec![lrp("w", 0, 1, 1)],
        vec![task("t", 1, 1)],
        &explain(),
    );
    assert_eq!(lrp_error(&plan, "w", 0).as_deref(), Some(expected));
    assert_eq!(task_error(&plan, "t").as_deref(), Some(expected));
    let mut leaving = cell("a", "z", 1000, 1000, 10);
    leaving.evacuating = true;
    let plan = schedule_default(
        &[leaving.clone()],
        vec![lrp("w", 0, 1, 1)],
        vec![],
        &explain(),
    );
    assert_eq!(lrp_error(&plan, "w", 0).as_deref(), Some(expected));
    assert_eq!(
        plan.decisions[0].summary(),
        format!("lrp w/0: not placed: {expected}")
    );

    // An evacuating cell never wins, even when it is the emptier one.
    let mut busy = cell("b", "z", 1000, 1000, 10);
    busy.available = Resources::new(300, 300, 3);
    let plan = schedule_default(
        &[leaving, busy],
        vec![lrp("w", 0, 1, 1)],
        vec![],
        &explain(),
    );
    assert_eq!(lrp_cell(&plan, "w", 0).as_deref(), Some("b"));
    assert_eq!(
        plan.decisions[0].cells.len(),
        1,
        "evacuating cells are not considered"
    );
}

#[test]
fn in_flight_start_limit() {
    let mut a = cell("a", "z", 10_000, 10_000, 100);
    a.starting_container_count = 1;
    let b = cell("b", "z", 10_000, 10_000, 100);
    let config = AuctionConfig {
        starting_container_count_maximum: 3,
        ..AuctionConfig::default()
    };
    let lrps = vec![lrp("w", 0, 1, 1), lrp("w", 1, 1, 1)];
    let tasks = vec![task("t1", 1, 1), task("t2", 1, 1)];
    let plan = schedule_default(&[a, b], lrps, tasks, &config);
    // 1 already starting + 2 placements reach 3: the third and fourth are refused. Order is
    // lrp w/0, then tasks (t1, t2), then w/1: w/0 and t1 are placed.
    assert_eq!(plan.placed_count(), 2);
    let limit = "waiting to start instance: reached in-flight start limit";
    assert_eq!(task_error(&plan, "t2").as_deref(), Some(limit));
    assert_eq!(lrp_error(&plan, "w", 1).as_deref(), Some(limit));
    assert!(task_cell(&plan, "t1").is_some());
}

#[test]
fn decision_summary_for_a_placement() {
    let mut other_stack = cell("b", "z", 1000, 1000, 10);
    other_stack.rootfs_providers.clear();
    let cells = vec![cell("a", "z", 1000, 1000, 10), other_stack];
    let plan = one_lrp(&cells, lrp("web", 0, 100, 100));
    // ((1 - 900/1000) × 2 + (1 - 9/10)) / 3 = 0.1
    assert_eq!(
        plan.decisions[0].summary(),
        "lrp web/0: placed on a (score 0.10; 1 cell scored, 1 filtered: rootfs)"
    );
    // The compact form (explain off) keeps the same tally and summary.
    let compact = schedule_default(
        &cells,
        vec![lrp("web", 0, 100, 100)],
        vec![],
        &AuctionConfig::default(),
    );
    assert_eq!(compact.decisions[0].summary(), plan.decisions[0].summary());
    assert!(compact.decisions[0].cells.is_empty());
}
