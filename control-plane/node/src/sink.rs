//! Where the in-process auctioneer sends its results: straight to the BBS
//! operations and to the decision log `diego why` reads.

use std::sync::Arc;

use diego_auctioneer::{BoxFut, ResultSink};
use diego_bbs::grpc::DecisionLog;
use diego_bbs::Bbs;
use diego_model::ActualLrpKey;

pub struct BbsSink {
    pub bbs: Bbs,
    pub decisions: Arc<DecisionLog>,
}

impl ResultSink for BbsSink {
    fn fail_lrp<'a>(&'a self, key: &'a ActualLrpKey, reason: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.bbs.fail_actual_lrp(key, reason).await {
                tracing::warn!(error = %e, process_guid = %key.process_guid, "fail actual lrp");
            }
        })
    }

    fn reject_task<'a>(&'a self, task_guid: &'a str, reason: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.bbs.reject_task(task_guid, reason).await {
                tracing::warn!(error = %e, task_guid, "reject task");
            }
        })
    }

    fn record(&self, work_id: String, summary: String, cell_lines: Vec<String>) {
        let now = self.bbs.clock().now_ns();
        self.decisions.record(work_id, summary, cell_lines, now);
    }
}
