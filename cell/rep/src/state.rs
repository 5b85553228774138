//! The cell's answer to State, and Perform (spec §7.1).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use diego_executor::{AllocationRequest, ContainerState};
use diego_proto::rep::v1 as pb;

use crate::Rep;

pub(crate) const TAG_LIFECYCLE: &str = "lifecycle";
pub(crate) const TAG_DOMAIN: &str = "domain";
pub(crate) const TAG_PROCESS_GUID: &str = "process-guid";
pub(crate) const TAG_PROCESS_INDEX: &str = "process-index";
pub(crate) const TAG_INSTANCE_GUID: &str = "instance-guid";

/// Instance guids are UUIDv4 strings cut to 28 characters, as the original's.
pub(crate) fn new_instance_guid() -> String {
    uuid::Uuid::new_v4().to_string()[..28].to_string()
}

impl Rep {
    pub(crate) fn state(&self) -> pb::CellState {
        let exec = &self.inner.exec;
        let cfg = &self.inner.cfg;
        let total = exec.total();
        let remaining = exec.remaining();
        let res = |r: diego_executor::Resources| pb::Resources {
            memory_mb: clamp(r.memory_mb),
            disk_mb: clamp(r.disk_mb),
            containers: clamp(r.containers),
        };
        let mut lrps = Vec::new();
        let mut tasks = Vec::new();
        let mut starting = 0;
        for c in exec.list() {
            if matches!(
                c.state,
                ContainerState::Reserved | ContainerState::Initializing | ContainerState::Created
            ) {
                starting += 1;
            }
            let tag = |k: &str| c.tags.get(k).cloned().unwrap_or_default();
            match tag(TAG_LIFECYCLE).as_str() {
                "lrp" => lrps.push(pb::CellLrp {
                    process_guid: tag(TAG_PROCESS_GUID),
                    index: tag(TAG_PROCESS_INDEX).parse().unwrap_or(0),
                    instance_guid: tag(TAG_INSTANCE_GUID),
                    domain: tag(TAG_DOMAIN),
                    memory_mb: clamp(c.memory_mb),
                    disk_mb: clamp(c.disk_mb),
                    state: c.state.as_str().to_uppercase(),
                    ..Default::default()
                }),
                "task" => tasks.push(pb::CellTask {
                    task_guid: c.guid.clone(),
                    domain: tag(TAG_DOMAIN),
                    memory_mb: clamp(c.memory_mb),
                    disk_mb: clamp(c.disk_mb),
                    state: c.state.as_str().to_string(),
                    failed: c.run_result.as_ref().is_some_and(|r| r.failed),
                    ..Default::default()
                }),
                _ => {}
            }
        }
        let fixed = pb::RootfsProvider {
            kind: pb::RootfsProviderKind::FixedSet as i32,
            set: cfg.stacks.clone(),
        };
        let mut providers = BTreeMap::new();
        providers.insert("preloaded".to_string(), fixed);
        for scheme in &cfg.rootfs_schemes {
            let arbitrary = pb::RootfsProvider {
                kind: pb::RootfsProviderKind::Arbitrary as i32,
                set: vec![],
            };
            providers.insert(scheme.clone(), arbitrary);
        }
        pb::CellState {
            rep_url: cfg.rep_url.clone(),
            cell_id: cfg.cell_id.clone(),
            cell_index: 0,
            zone: cfg.zone.clone(),
            rootfs_providers: providers.into_iter().collect(),
            available_resources: Some(res(remaining)),
            total_resources: Some(res(total)),
            lrps,
            tasks,
            starting_container_count: starting,
            evacuating: self.inner.evacuating.load(Ordering::SeqCst),
            volume_drivers: vec![],
            placement_tags: cfg.placement_tags.clone(),
            optional_placement_tags: cfg.optional_placement_tags.clone(),
            proxy_memory_mb: 0,
        }
    }

    /// Reserves containers for the work; returns what could not be reserved.
    pub(crate) fn perform(&self, work: pb::Work) -> Result<pb::Work, String> {
        if work.cell_id != self.inner.cfg.cell_id {
            return Err(format!(
                "work for cell {} sent to cell {}",
                work.cell_id, self.inner.cfg.cell_id
            ));
        }
        if self.inner.evacuating.load(Ordering::SeqCst) {
            return Ok(work);
        }
        let mut failed = pb::Work {
            cell_id: work.cell_id.clone(),
            ..Default::default()
        };
        let mut lrps = work.lrps;
        // Largest first, like the rep: what fits best goes in before the rest.
        lrps.sort_by_key(|l| std::cmp::Reverse(l.memory_mb));
        for mut l in lrps {
            let guid = new_instance_guid();
            let mut tags = BTreeMap::new();
            tags.insert(TAG_LIFECYCLE.to_string(), "lrp".to_string());
            tags.insert(TAG_DOMAIN.to_string(), l.domain.clone());
            tags.insert(TAG_PROCESS_GUID.to_string(), l.process_guid.clone());
            tags.insert(TAG_PROCESS_INDEX.to_string(), l.index.to_string());
            tags.insert(TAG_INSTANCE_GUID.to_string(), guid.clone());
            let req = AllocationRequest {
                guid,
                memory_mb: unsigned(l.memory_mb),
                disk_mb: unsigned(l.disk_mb),
                tags,
            };
            if let Some((_, reason)) = self.inner.exec.allocate(vec![req]).into_iter().next() {
                l.reason = reason;
                failed.lrps.push(l);
            }
        }
        for mut t in work.tasks {
            let mut tags = BTreeMap::new();
            tags.insert(TAG_LIFECYCLE.to_string(), "task".to_string());
            tags.insert(TAG_DOMAIN.to_string(), t.domain.clone());
            let req = AllocationRequest {
                guid: t.task_guid.clone(),
                memory_mb: unsigned(t.memory_mb),
                disk_mb: unsigned(t.disk_mb),
                tags,
            };
            if let Some((_, reason)) = self.inner.exec.allocate(vec![req]).into_iter().next() {
                t.reason = reason;
                failed.tasks.push(t);
            }
        }
        Ok(failed)
    }
}

fn clamp(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn unsigned(v: i32) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
