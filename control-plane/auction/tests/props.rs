//! Properties of any plan: capacity, constraints, determinism, completeness, reasons.

use std::collections::BTreeSet;

use diego_auction::*;
use proptest::prelude::*;

const ROOTFSES: [&str; 4] = [
    "preloaded:cflinuxfs4",
    "preloaded:cflinuxfs3",
    "docker:///library/busybox#latest",
    "preloaded+layer:cflinuxfs4?layer=https://x/l.tgz",
];

fn pick(mask: u8, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| n.to_string())
        .collect()
}

fn cell_strategy() -> impl Strategy<Value = CellState> {
    (
        (1..4000i32, 1..4000i32, 1..6i32, 0..3usize),
        (0..=100i32, 0..=100i32, 0..=100i32),
        (0..8u8, 0..2u8, 0..2u8, 0..2u8),
        (0..3i32, 0..40i32, prop::bool::weighted(0.1)),
        (prop::collection::vec((0..4usize, 0..5i32), 0..4), 0..3usize),
    )
        .prop_map(|(totals, percent, masks, misc, existing)| {
            let (memory_mb, disk_mb, containers, zone) = totals;
            let total = Resources::new(memory_mb, disk_mb, containers);
            let mut cell = CellState::new("", ["z1", "z2", "z3"][zone], total);
            cell.available = Resources::new(
                memory_mb * percent.0 / 100,
                disk_mb * percent.1 / 100,
                containers * percent.2 / 100,
            );
            let (providers, drivers, tags, optional) = masks;
            if providers & 1 != 0 {
                cell.rootfs_providers
                    .insert("docker".into(), RootfsProvider::Arbitrary);
            }
            for (bit, scheme) in [(2u8, "preloaded"), (4, "preloaded+layer")] {
                if providers & bit != 0 {
                    let stacks = BTreeSet::from(["cflinuxfs4".to_string()]);
                    cell.rootfs_providers
                        .insert(scheme.into(), RootfsProvider::FixedSet(stacks));
                }
            }
            cell.volume_drivers = pick(drivers, &["nfs"]);
            cell.placement_tags = pick(tags, &["a"]);
            cell.optional_placement_tags = pick(optional, &["b"]);
            (
                cell.starting_container_count,
                cell.proxy_memory_mb,
                cell.evacuating,
            ) = misc;
            cell.lrps = existing
                .0
                .into_iter()
                .map(|(p, index)| CellLrp {
                    process_guid: format!("p{p}"),
                    index,
                })
                .collect();
            cell.task_guids = (0..existing.1).map(|i| format!("old-{i}")).collect();
            cell
        })
}

type Constraints = (usize, u8, u8);

fn constraints() -> impl Strategy<Value = Constraints> {
    (0..ROOTFSES.len(), 0..2u8, 0..4u8)
}

fn lrp_strategy() -> impl Strategy<Value = LrpStart> {
    (0..4usize, 0..4i32, 0..1500i32, 0..1500i32, constraints()).prop_map(
        |(p, index, memory_mb, disk_mb, (rootfs, drivers, tags))| {
            let mut lrp =
                LrpStart::new(format!("p{p}"), index, memory_mb, disk_mb, ROOTFSES[rootfs]);
            lrp.volume_drivers = pick(drivers, &["nfs"]);
            lrp.placement_tags = pick(tags, &["a", "b"]);
            lrp
        },
    )
}

fn task_strategy() -> impl Strategy<Value = TaskStart> {
    (0..1000usize, 0..1500i32, 0..1500i32, constraints()).prop_map(
        |(id, memory_mb, disk_mb, (rootfs, drivers, tags))| {
            let mut task = TaskStart::new(format!("t{id}"), memory_mb, disk_mb, ROOTFSES[rootfs]);
            task.volume_drivers = pick(drivers, &["nfs"]);
            task.placement_tags = pick(tags, &["a", "b"]);
            task
        },
    )
}

fn input() -> impl Strategy<Value = (Vec<CellState>, Vec<LrpStart>, Vec<TaskStart>, AuctionConfig)>
{
    (
        prop::collection::vec(cell_strategy(), 0..8),
        prop::collection::vec(lrp_strategy(), 0..16),
        prop::collection::vec(task_strategy(), 0..10),
        (
            any::<u64>(),
            0..8i32,
            prop_oneof![Just(0.0), Just(0.5)],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(mut cells, lrps, tasks, (seed, maximum, bin_pack, explain))| {
                for (i, cell) in cells.iter_mut().enumerate() {
                    cell.cell_id = format!("cell-{i}");
                    cell.cell_index = (i as i32 * 7) % 5;
                }
                let config = AuctionConfig {
                    seed,
                    starting_container_count_maximum: maximum,
                    bin_pack_first_fit_weight: bin_pack,
                    explain,
                    ..AuctionConfig::default()
                };
                (cells, lrps, tasks, config)
            },
        )
}

fn sorted_debug<T: std::fmt::Debug>(items: impl Iterator<Item = T>) -> Vec<String> {
    let mut out: Vec<String> = items.map(|i| format!("{i:?}")).collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plans_respect_capacity_constraints_and_account_for_everything(
        (cells, lrps, tasks, config) in input()
    ) {
        let plan = schedule_default(&cells, lrps.clone(), tasks.clone(), &config);

        // Same input and seed: the same plan.
        prop_assert_eq!(&plan, &schedule_default(&cells, lrps.clone(), tasks.clone(), &config));
        // Explaining changes nothing but the explanations.
        let other = AuctionConfig { explain: !config.explain, ..config.clone() };
        let twin = schedule_default(&cells, lrps.clone(), tasks.clone(), &other);
        prop_assert_eq!(&plan.assignments, &twin.assignments);
        prop_assert_eq!(&plan.failed_lrps, &twin.failed_lrps);

        // Every input exactly once, in assignments or failures.
        let placed_lrps = plan.assignments.values().flat_map(|a| a.lrps.iter());
        let failed_lrps = plan.failed_lrps.iter().map(|(l, _)| l);
        prop_assert_eq!(sorted_debug(placed_lrps.chain(failed_lrps)), sorted_debug(lrps.iter()));
        let placed_tasks = plan.assignments.values().flat_map(|a| a.tasks.iter());
        let failed_tasks = plan.failed_tasks.iter().map(|(t, _)| t);
        prop_assert_eq!(sorted_debug(placed_tasks.chain(failed_tasks)), sorted_debug(tasks.iter()));
        prop_assert_eq!(plan.decisions.len(), lrps.len() + tasks.len());

        // Every failure says why.
        for reason in plan.failed_lrps.iter().map(|(_, e)| e).chain(plan.failed_tasks.iter().map(|(_, e)| e)) {
            prop_assert!(!reason.to_string().is_empty());
        }

        // No cell over capacity, no constraint violated, no evacuating cell used.
        for (cell_id, work) in &plan.assignments {
            let cell = cells.iter().find(|c| &c.cell_id == cell_id).expect("known cell");
            prop_assert!(!cell.evacuating);
            let memory_mb: i32 = work.lrps.iter().map(|l| l.memory_mb).chain(work.tasks.iter().map(|t| t.memory_mb)).sum();
            let disk_mb: i32 = work.lrps.iter().map(|l| l.disk_mb).chain(work.tasks.iter().map(|t| t.disk_mb)).sum();
            let containers = (work.lrps.len() + work.tasks.len()) as i32;
            prop_assert!(memory_mb <= cell.available.memory_mb);
            prop_assert!(disk_mb <= cell.available.disk_mb);
            prop_assert!(containers <= cell.available.containers);
            for l in &work.lrps {
                prop_assert_eq!(check_constraints(cell, &l.rootfs, &l.volume_drivers, &l.placement_tags), Ok(()));
            }
            for t in &work.tasks {
                prop_assert_eq!(check_constraints(cell, &t.rootfs, &t.volume_drivers, &t.placement_tags), Ok(()));
            }
        }

        // The in-flight limit holds.
        if config.starting_container_count_maximum > 0 {
            let inflight: i32 = cells.iter().filter(|c| !c.evacuating).map(|c| c.starting_container_count).sum();
            let allowed = (config.starting_container_count_maximum - inflight).max(0) as usize;
            prop_assert!(plan.placed_count() <= allowed);
        }

        // Decisions agree with the assignments.
        let placed_decisions = plan.decisions.iter().filter(|d| d.placed_on().is_some()).count();
        prop_assert_eq!(placed_decisions, plan.placed_count());
        for d in &plan.decisions {
            prop_assert!(!d.summary().is_empty());
            // The winner has the lowest score of every cell scored for it.
            if let Outcome::Placed { score, .. } = &d.outcome {
                for verdict in &d.cells {
                    if let Verdict::Scored { parts, .. } = &verdict.verdict {
                        prop_assert!(score.total() <= parts.total());
                    }
                }
            }
        }
    }
}
