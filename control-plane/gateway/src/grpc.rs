//! `BbsApi` over the BBS's gRPC API through the Rust SDK, which follows the
//! active replica among comma-separated addresses and speaks TLS. The SDK
//! turns a gRPC status back into the `ModelError` it carries (the error
//! type travels in `diego-error-type`), so handlers answer with the
//! original's error types and messages.

use std::sync::Arc;

use diego_model::{
    ActualLrp, ActualLrpKey, CellPresence, DesiredLrp, DesiredLrpUpdate, InstanceKey, RunningInfo,
    Task, TaskDefinition,
};
use diego_sdk::{ActualFilter, Client, WatchOptions};
use futures::StreamExt;

use crate::api::{BbsApi, Events, Result};

#[async_trait::async_trait]
impl BbsApi for Client {
    fn traced(&self, trace_id: &str) -> Arc<dyn BbsApi> {
        match self.with_trace_id(trace_id) {
            Ok(c) => Arc::new(c),
            // unreachable from HTTP (the id came from a header); untraced
            // is the safe answer
            Err(e) => {
                tracing::debug!(error = %e.message, "request id not forwarded");
                Arc::new(self.clone())
            }
        }
    }

    async fn ping(&self) -> Result<bool> {
        Client::ping(self).await
    }
    async fn domains(&self) -> Result<Vec<String>> {
        Client::domains(self).await
    }
    async fn upsert_domain(&self, domain: &str, ttl_s: u32) -> Result<()> {
        Client::upsert_domain(self, domain, ttl_s).await
    }
    async fn cells(&self) -> Result<Vec<CellPresence>> {
        Client::cells(self).await
    }

    async fn desire_task(&self, guid: &str, domain: &str, def: TaskDefinition) -> Result<()> {
        Client::desire_task(self, guid, domain, def).await
    }
    async fn tasks(&self, domain: &str, cell_id: &str) -> Result<Vec<Task>> {
        Client::tasks(self, domain, cell_id).await
    }
    async fn task(&self, guid: &str) -> Result<Task> {
        Client::task(self, guid).await
    }
    async fn cancel_task(&self, guid: &str) -> Result<()> {
        Client::cancel_task(self, guid).await
    }
    async fn resolving_task(&self, guid: &str) -> Result<()> {
        Client::resolving_task(self, guid).await
    }
    async fn delete_task(&self, guid: &str) -> Result<()> {
        Client::delete_task(self, guid).await
    }
    async fn start_task(&self, guid: &str, cell_id: &str) -> Result<bool> {
        Client::start_task(self, guid, cell_id).await
    }
    async fn complete_task(
        &self,
        guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<()> {
        Client::complete_task(self, guid, cell_id, failed, failure_reason, result).await
    }
    async fn reject_task(&self, guid: &str, reason: &str) -> Result<()> {
        Client::reject_task(self, guid, reason).await
    }
    async fn fail_task(&self, guid: &str, reason: &str) -> Result<()> {
        Client::fail_task(self, guid, reason).await
    }

    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<()> {
        Client::desire_lrp(self, lrp).await
    }
    async fn update_desired_lrp(&self, process_guid: &str, update: DesiredLrpUpdate) -> Result<()> {
        Client::update_desired_lrp(self, process_guid, update).await
    }
    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<()> {
        Client::remove_desired_lrp(self, process_guid).await
    }
    async fn desired_lrps(
        &self,
        domain: &str,
        process_guids: Vec<String>,
    ) -> Result<Vec<DesiredLrp>> {
        Client::desired_lrps(self, domain, process_guids).await
    }
    async fn desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp> {
        Client::desired_lrp(self, process_guid).await
    }

    async fn actual_lrps(&self, filter: ActualFilter) -> Result<Vec<ActualLrp>> {
        Client::actual_lrps(self, filter).await
    }
    async fn claim_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: &InstanceKey,
    ) -> Result<()> {
        Client::claim_actual_lrp(self, process_guid, index, ik).await
    }
    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<()> {
        Client::start_actual_lrp(self, key, ik, info).await
    }
    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<()> {
        Client::crash_actual_lrp(self, key, ik, reason).await
    }
    async fn fail_actual_lrp(&self, key: &ActualLrpKey, reason: &str) -> Result<()> {
        Client::fail_actual_lrp(self, key, reason).await
    }
    async fn remove_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: Option<&InstanceKey>,
    ) -> Result<()> {
        Client::remove_actual_lrp(self, process_guid, index, ik).await
    }
    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<()> {
        Client::retire_actual_lrp(self, key).await
    }
    async fn evacuate_claimed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool> {
        Client::evacuate_claimed_actual_lrp(self, key, ik).await
    }
    async fn evacuate_crashed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<bool> {
        Client::evacuate_crashed_actual_lrp(self, key, ik, reason).await
    }
    async fn evacuate_stopped_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool> {
        Client::evacuate_stopped_actual_lrp(self, key, ik).await
    }
    async fn evacuate_running_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<bool> {
        Client::evacuate_running_actual_lrp(self, key, ik, info).await
    }
    async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<()> {
        Client::remove_evacuating_actual_lrp(self, key, ik).await
    }

    async fn watch(&self, kinds: Vec<String>) -> Result<Events> {
        let opts = WatchOptions {
            kinds,
            ..Default::default()
        };
        Ok(Client::watch(self, opts).await?.boxed())
    }
}
