//! Desired LRPs (spec §3.4): what the user wants running, N instances of it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Action, CheckDefinition, EnvVar, MetricTagValue, ModificationTag, VolumeMount};

/// Router name -> the route entries that router consumes, as raw JSON.
pub type Routes = BTreeMap<String, serde_json::Value>;

/// The sorted, de-duplicated hostnames of the `internal-router` routes:
/// what an instance's container is told to answer to (spec §5, route drift).
pub fn internal_route_hostnames(routes: &Routes) -> Vec<String> {
    let mut out: Vec<String> = routes
        .get("internal-router")
        .and_then(|v| v.as_array())
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.get("hostname").and_then(|h| h.as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// Metric tags as one instance reports them: `INDEX` and `INSTANCE_GUID`
/// dynamic values substituted, static values as they are.
pub fn resolve_metric_tags(
    tags: &BTreeMap<String, MetricTagValue>,
    index: i32,
    instance_guid: &str,
) -> BTreeMap<String, String> {
    tags.iter()
        .map(|(k, v)| {
            let value = match v.dynamic.as_str() {
                "INDEX" => index.to_string(),
                "INSTANCE_GUID" => instance_guid.to_string(),
                _ => v.static_value.clone(),
            };
            (k.clone(), value)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpdateStrategy {
    #[default]
    Rolling = 0,
    Recreate = 1,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DesiredLrp {
    pub process_guid: String,
    pub domain: String,
    #[serde(rename = "rootfs")]
    pub root_fs: String,
    pub instances: i32,
    #[serde(rename = "env", skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Action>,
    pub disk_mb: i32,
    pub memory_mb: i32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub cpu_weight: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: Routes,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_guid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub metrics_guid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub annotation: String,
    pub modification_tag: ModificationTag,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    pub start_timeout_ms: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement_tags: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub max_pids: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_definition: Option<CheckDefinition>,
    pub metric_tags: BTreeMap<String, MetricTagValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_rate_limit_bytes_per_second: Option<i64>,
    pub update_strategy: UpdateStrategy,
    /// Processes that run beside `action` in each instance's container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    /// Files every process of each instance sees (service bindings): a
    /// relative path lands under `/etc/cf-service-bindings`, read-only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounted_files: Vec<crate::File>,
    /// Application security groups: the egress the work is allowed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<crate::SecurityGroupRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::Network>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_properties: Option<crate::CertificateProperties>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trusted_system_certificates_path: String,
}

/// A process that runs beside an LRP's action in the same container (spec
/// §6.2): when any of them exits, the others are stopped and the instance
/// crashes. Its memory and disk are the caller's accounting (Cloud Controller
/// adds them to the process's own); the cell limits the container as a whole.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Sidecar {
    pub action: Option<Action>,
    pub disk_mb: i32,
    pub memory_mb: i32,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// The fields `UpdateDesiredLRP` may change; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DesiredLrpUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Routes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_tags: Option<BTreeMap<String, MetricTagValue>>,
    /// Spec §3.4: image credentials are updatable, and only as a pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_password: Option<String>,
}

impl DesiredLrp {
    /// Applies an update and bumps the modification index. Returns the
    /// instance count before the update.
    pub fn apply(&mut self, update: &DesiredLrpUpdate) -> i32 {
        let before = self.instances;
        if let Some(n) = update.instances {
            self.instances = n;
        }
        if let Some(r) = &update.routes {
            self.routes = r.clone();
        }
        if let Some(a) = &update.annotation {
            self.annotation = a.clone();
        }
        if let Some(t) = &update.metric_tags {
            self.metric_tags = t.clone();
        }
        if let Some(u) = &update.image_username {
            self.image_username = u.clone();
        }
        if let Some(p) = &update.image_password {
            self.image_password = p.clone();
        }
        self.modification_tag.increment();
        before
    }

    /// The hostnames of the `internal-router` routes, which the BBS pushes
    /// into running containers.
    pub fn internal_route_hostnames(&self) -> Vec<String> {
        internal_route_hostnames(&self.routes)
    }

    pub fn scheduling_info(&self) -> SchedulingInfo {
        SchedulingInfo {
            process_guid: self.process_guid.clone(),
            domain: self.domain.clone(),
            log_guid: self.log_guid.clone(),
            annotation: self.annotation.clone(),
            instances: self.instances,
            memory_mb: self.memory_mb,
            disk_mb: self.disk_mb,
            max_pids: self.max_pids,
            root_fs: self.root_fs.clone(),
            routes: self.routes.clone(),
            modification_tag: self.modification_tag.clone(),
            volume_drivers: self
                .volume_mounts
                .iter()
                .map(|v| v.driver.clone())
                .collect(),
            placement_tags: self.placement_tags.clone(),
        }
    }

    /// Resolves the metric tags for one instance (dynamic values substituted).
    pub fn resolved_metric_tags(
        &self,
        index: i32,
        instance_guid: &str,
    ) -> BTreeMap<String, String> {
        resolve_metric_tags(&self.metric_tags, index, instance_guid)
    }
}

/// `DesiredLRPSchedulingInfo`: what the auction needs to place an instance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulingInfo {
    pub process_guid: String,
    pub domain: String,
    pub log_guid: String,
    pub annotation: String,
    pub instances: i32,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub max_pids: i32,
    #[serde(rename = "rootfs")]
    pub root_fs: String,
    pub routes: Routes,
    pub modification_tag: ModificationTag,
    pub volume_drivers: Vec<String>,
    pub placement_tags: Vec<String>,
}
