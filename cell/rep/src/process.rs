//! Container operations: one at a time per container, dispatched by
//! lifecycle to the LRP or the task processor (spec §7.3, §7.4).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use diego_executor::{Container, ContainerState};
use diego_model::{ActualLrpKey, ErrorCode, InstanceKey, NetInfo, PreferredAddress, RunningInfo};

use crate::state::{
    TAG_DOMAIN, TAG_INSTANCE_GUID, TAG_LIFECYCLE, TAG_PROCESS_GUID, TAG_PROCESS_INDEX,
};
use crate::Rep;
use crate::{routes_tags, run_request};

#[derive(Default)]
pub(crate) struct OpLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl OpLocks {
    fn get(&self, guid: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(guid.to_string()).or_default().clone()
    }

    fn forget(&self, guid: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(guid);
    }
}

/// The LRP identity a container carries in its tags.
pub(crate) struct LrpTags {
    pub key: ActualLrpKey,
    pub ik: InstanceKey,
}

impl Rep {
    pub(crate) fn lrp_tags(&self, c: &Container) -> Option<LrpTags> {
        let pg = c.tags.get(TAG_PROCESS_GUID)?;
        let index = c.tags.get(TAG_PROCESS_INDEX)?.parse().ok()?;
        let domain = c.tags.get(TAG_DOMAIN).cloned().unwrap_or_default();
        let ig = c.tags.get(TAG_INSTANCE_GUID)?;
        Some(LrpTags {
            key: ActualLrpKey::new(pg, index, &domain),
            ik: InstanceKey::new(ig, &self.inner.cfg.cell_id),
        })
    }

    pub(crate) fn spawn_event_consumer(&self) -> tokio::task::JoinHandle<()> {
        let rep = self.clone();
        let mut events = self.inner.exec.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) => {
                        let rep = rep.clone();
                        tokio::spawn(async move { rep.process(&ev.guid).await });
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // The bulker catches whatever we missed.
                        tracing::warn!(missed = n, "executor events lagged");
                    }
                    Err(_) => return,
                }
            }
        })
    }

    /// Re-reads the container and acts on its current state.
    #[tracing::instrument(name = "rep process", skip(self))]
    pub(crate) async fn process(&self, guid: &str) {
        let lock = self.inner.ops.get(guid);
        let _held = lock.lock().await;
        let Some(c) = self.inner.exec.get(guid) else {
            self.inner.ops.forget(guid);
            return;
        };
        let evacuating = self.inner.evacuating.load(Ordering::SeqCst);
        match c.tags.get(TAG_LIFECYCLE).map(String::as_str) {
            Some("lrp") if evacuating => self.process_lrp_evacuating(&c).await,
            Some("lrp") => self.process_lrp(&c).await,
            Some("task") => self.process_task(&c).await,
            _ => tracing::warn!(guid, "container without a lifecycle tag"),
        }
    }

    async fn delete_container(&self, guid: &str) {
        if let Err(e) = self.inner.exec.delete(guid).await {
            tracing::info!(error = %e, guid, "delete container");
        }
    }

    pub(crate) fn running_info(&self, c: &Container) -> RunningInfo {
        let (internal_routes, metric_tags) = routes_tags::from_tags(&c.tags);
        RunningInfo {
            net_info: NetInfo {
                address: c.net.external_ip.clone(),
                ports: c.net.ports.clone(),
                instance_address: c.net.internal_ip.clone(),
                preferred_address: PreferredAddress::Host,
                instance_ipv6_address: String::new(),
            },
            internal_routes,
            metric_tags,
            routable: Some(c.routable),
            availability_zone: self.inner.cfg.zone.clone(),
        }
    }

    async fn process_lrp(&self, c: &Container) {
        let Some(t) = self.lrp_tags(c) else { return };
        let bbs = &self.inner.bbs;
        match c.state {
            ContainerState::Reserved => {
                if let Err(e) = bbs
                    .claim_actual_lrp(&t.key.process_guid, t.key.index, &t.ik)
                    .await
                {
                    tracing::info!(error = %e, guid = %c.guid, "claim refused; dropping container");
                    return self.delete_container(&c.guid).await;
                }
                let desired = match bbs.desired_lrp(&t.key.process_guid).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(error = %e, "desired lrp gone; dropping container");
                        let _ = bbs
                            .remove_actual_lrp(&t.key.process_guid, t.key.index, Some(&t.ik))
                            .await;
                        return self.delete_container(&c.guid).await;
                    }
                };
                let Some(req) = run_request::for_lrp(&desired, t.key.index, &t.ik.instance_guid)
                else {
                    return self.delete_container(&c.guid).await;
                };
                // reported with the instance once it runs; UpdateLrpInstance changes them
                let tags = routes_tags::to_tags(
                    &desired.internal_route_hostnames(),
                    &desired.resolved_metric_tags(t.key.index, &t.ik.instance_guid),
                );
                if self.inner.exec.update_tags(&c.guid, tags).is_err() {
                    return;
                }
                if let Err(e) = self.inner.exec.run(&c.guid, req).await {
                    tracing::warn!(error = %e, guid = %c.guid, "run failed");
                    let _ = bbs
                        .remove_actual_lrp(&t.key.process_guid, t.key.index, Some(&t.ik))
                        .await;
                    self.delete_container(&c.guid).await;
                }
            }
            ContainerState::Initializing | ContainerState::Created => {
                if let Err(e) = bbs
                    .claim_actual_lrp(&t.key.process_guid, t.key.index, &t.ik)
                    .await
                {
                    if e.code == ErrorCode::ActualLrpCannotBeClaimed {
                        self.delete_container(&c.guid).await;
                    }
                }
            }
            ContainerState::Running => {
                let info = self.running_info(c);
                if let Err(e) = bbs.start_actual_lrp(&t.key, &t.ik, &info).await {
                    if e.code == ErrorCode::ActualLrpCannotBeStarted {
                        let _ = self.inner.exec.stop(&c.guid).await;
                    } else {
                        tracing::warn!(error = %e, "start report failed");
                    }
                }
            }
            ContainerState::Completed => {
                let result = c.run_result.clone().unwrap_or_default();
                let res = if result.stopped {
                    bbs.remove_actual_lrp(&t.key.process_guid, t.key.index, Some(&t.ik))
                        .await
                } else {
                    bbs.crash_actual_lrp(&t.key, &t.ik, &result.failure_reason)
                        .await
                };
                if let Err(e) = res {
                    tracing::info!(error = %e, guid = %c.guid, "completion report");
                }
                self.delete_container(&c.guid).await;
            }
        }
    }

    async fn process_task(&self, c: &Container) {
        let bbs = &self.inner.bbs;
        let cell = &self.inner.cfg.cell_id;
        match c.state {
            ContainerState::Reserved
            | ContainerState::Initializing
            | ContainerState::Created
            | ContainerState::Running => {
                let should_start = match bbs.start_task(&c.guid, cell).await {
                    Ok(s) => s,
                    Err(e)
                        if matches!(
                            e.code,
                            ErrorCode::InvalidStateTransition | ErrorCode::ResourceNotFound
                        ) =>
                    {
                        return self.delete_container(&c.guid).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, task_guid = %c.guid, "start task failed");
                        return;
                    }
                };
                if !should_start || c.state != ContainerState::Reserved {
                    return;
                }
                let task = match bbs.task(&c.guid).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, "task vanished");
                        return self.delete_container(&c.guid).await;
                    }
                };
                let run = run_request::for_task(&task);
                let ok = match run {
                    Some(req) => self.inner.exec.run(&c.guid, req).await.is_ok(),
                    None => false,
                };
                if !ok {
                    let _ = bbs
                        .complete_task(&c.guid, cell, true, "failed to run container", "")
                        .await;
                    self.delete_container(&c.guid).await;
                }
            }
            ContainerState::Completed => {
                let r = c.run_result.clone().unwrap_or_default();
                let res = if r.failed && r.retryable {
                    bbs.reject_task(&c.guid, &r.failure_reason).await
                } else {
                    let result = c.result.clone().unwrap_or_default();
                    match bbs
                        .complete_task(&c.guid, cell, r.failed, &r.failure_reason, &result)
                        .await
                    {
                        Err(e) if e.code == ErrorCode::InvalidStateTransition => {
                            bbs.complete_task(&c.guid, cell, true, "invalid state transition", "")
                                .await
                        }
                        other => other,
                    }
                };
                if let Err(e) = res {
                    tracing::info!(error = %e, task_guid = %c.guid, "task completion report");
                }
                self.delete_container(&c.guid).await;
            }
        }
    }
}
