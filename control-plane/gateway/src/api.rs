//! What the handlers need of the BBS, in domain types. The gateway is a
//! client of the BBS's gRPC API (`grpc.rs` implements this over the Rust
//! SDK), so it holds no state and can sit in front of BBS replicas; errors
//! are the BBS's `ModelError`s, with the original's error types.

use std::sync::Arc;

use diego_model::{
    ActualLrp, ActualLrpKey, CellPresence, DesiredLrp, DesiredLrpUpdate, InstanceKey, ModelError,
    RunningInfo, Task, TaskDefinition,
};
use diego_sdk::{ActualFilter, WatchedEvent};
use futures::stream::BoxStream;

pub type Result<T> = std::result::Result<T, ModelError>;

/// A stream of events from now on; it ends (or yields an error) when the
/// watch breaks.
pub type Events = BoxStream<'static, Result<WatchedEvent>>;

#[async_trait::async_trait]
pub trait BbsApi: Send + Sync + 'static {
    /// This connection, sending `trace_id` (the client's X-Vcap-Request-Id)
    /// with every call, so the BBS records it on the events they cause.
    fn traced(&self, trace_id: &str) -> Arc<dyn BbsApi>;

    async fn ping(&self) -> Result<bool>;
    async fn domains(&self) -> Result<Vec<String>>;
    async fn upsert_domain(&self, domain: &str, ttl_s: u32) -> Result<()>;
    async fn cells(&self) -> Result<Vec<CellPresence>>;

    async fn desire_task(&self, guid: &str, domain: &str, def: TaskDefinition) -> Result<()>;
    async fn tasks(&self, domain: &str, cell_id: &str) -> Result<Vec<Task>>;
    async fn task(&self, guid: &str) -> Result<Task>;
    async fn cancel_task(&self, guid: &str) -> Result<()>;
    async fn resolving_task(&self, guid: &str) -> Result<()>;
    async fn delete_task(&self, guid: &str) -> Result<()>;
    async fn start_task(&self, guid: &str, cell_id: &str) -> Result<bool>;
    async fn complete_task(
        &self,
        guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<()>;
    async fn reject_task(&self, guid: &str, reason: &str) -> Result<()>;
    async fn fail_task(&self, guid: &str, reason: &str) -> Result<()>;

    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<()>;
    async fn update_desired_lrp(&self, process_guid: &str, update: DesiredLrpUpdate) -> Result<()>;
    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<()>;
    async fn desired_lrps(
        &self,
        domain: &str,
        process_guids: Vec<String>,
    ) -> Result<Vec<DesiredLrp>>;
    async fn desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp>;

    async fn actual_lrps(&self, filter: ActualFilter) -> Result<Vec<ActualLrp>>;
    async fn claim_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: &InstanceKey,
    ) -> Result<()>;
    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<()>;
    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<()>;
    async fn fail_actual_lrp(&self, key: &ActualLrpKey, reason: &str) -> Result<()>;
    async fn remove_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        ik: Option<&InstanceKey>,
    ) -> Result<()>;
    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<()>;
    async fn evacuate_claimed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool>;
    async fn evacuate_crashed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        reason: &str,
    ) -> Result<bool>;
    async fn evacuate_stopped_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<bool>;
    async fn evacuate_running_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
        info: &RunningInfo,
    ) -> Result<bool>;
    async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        ik: &InstanceKey,
    ) -> Result<()>;

    /// Events of `kinds` ("task", "desired_lrp", "actual_lrp") from now on.
    /// Once this returns, every later commit is in the stream.
    async fn watch(&self, kinds: Vec<String>) -> Result<Events>;
}
