//! Auction requests: the BBS's requests mapped onto auction inputs, and the
//! checks that turn a malformed request into a failure with a reason.

use diego_auction::{LrpStart, TaskStart};
use diego_bbs::{AuctionRequester, LrpAuction};
use diego_model::Task;

use crate::{Auctioneer, BoxFut};

/// Why an auction request cannot be placed at all, if it cannot.
pub(crate) fn invalid(guid: &str, memory_mb: i32, disk_mb: i32, rootfs: &str) -> Option<String> {
    if guid.is_empty() {
        return Some("invalid auction request: empty guid".into());
    }
    if memory_mb < 0 || disk_mb < 0 {
        return Some("invalid auction request: negative resources".into());
    }
    // Go's url.Parse accepts "" (as a relative path no cell provides), but
    // Diego's request validation refuses it, so say so up front.
    if rootfs.is_empty() {
        return Some("invalid auction request: empty rootfs".into());
    }
    if diego_auction::parse_rootfs(rootfs).is_none() {
        return Some(format!(
            "invalid auction request: unparsable rootfs {rootfs:?}"
        ));
    }
    None
}

/// One auction input per index of each LRP start request.
pub fn lrp_starts(starts: Vec<LrpAuction>) -> Vec<LrpStart> {
    let mut lrps = Vec::new();
    for s in starts {
        for index in s.indices {
            lrps.push(LrpStart {
                process_guid: s.info.process_guid.clone(),
                domain: s.info.domain.clone(),
                index,
                memory_mb: s.info.memory_mb,
                disk_mb: s.info.disk_mb,
                max_pids: s.info.max_pids,
                rootfs: s.info.root_fs.clone(),
                placement_tags: s.info.placement_tags.clone(),
                volume_drivers: s.info.volume_drivers.clone(),
            });
        }
    }
    lrps
}

/// A task as the auction sees it (Diego builds it from the definition).
pub fn task_start(t: Task) -> TaskStart {
    TaskStart {
        task_guid: t.task_guid,
        domain: t.domain,
        memory_mb: t.definition.memory_mb,
        disk_mb: t.definition.disk_mb,
        max_pids: t.definition.max_pids,
        rootfs: t.definition.root_fs,
        placement_tags: t.definition.placement_tags,
        volume_drivers: t
            .definition
            .volume_mounts
            .into_iter()
            .map(|v| v.driver)
            .collect(),
    }
}

/// Maps the BBS's requests onto auction inputs.
impl AuctionRequester for Auctioneer {
    fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) -> BoxFut<'_, Result<(), String>> {
        self.submit(lrp_starts(starts), vec![]);
        Box::pin(async { Ok(()) })
    }

    fn request_task_auctions(&self, tasks: Vec<Task>) -> BoxFut<'_, Result<(), String>> {
        self.submit(vec![], tasks.into_iter().map(task_start).collect());
        Box::pin(async { Ok(()) })
    }
}
