//! Actual LRPs (spec §3.5) and the single-row state machine of §4.2.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crash::RestartPolicy;
use crate::{truncate_reason, ErrorCode, ModelError, ModificationTag, TimeNs};

pub const MAX_CRASH_REASON_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ActualLrpKey {
    pub process_guid: String,
    pub index: i32,
    pub domain: String,
}

impl ActualLrpKey {
    pub fn new(process_guid: &str, index: i32, domain: &str) -> Self {
        Self {
            process_guid: process_guid.into(),
            index,
            domain: domain.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceKey {
    pub instance_guid: String,
    pub cell_id: String,
}

impl InstanceKey {
    pub fn new(instance_guid: &str, cell_id: &str) -> Self {
        Self {
            instance_guid: instance_guid.into(),
            cell_id: cell_id.into(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.instance_guid.is_empty() && self.cell_id.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortMapping {
    pub container_port: u32,
    pub host_port: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub container_tls_proxy_port: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub host_tls_proxy_port: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PreferredAddress {
    #[default]
    Unknown = 0,
    Instance = 1,
    Host = 2,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetInfo {
    pub address: String,
    pub ports: Vec<PortMapping>,
    pub instance_address: String,
    pub preferred_address: PreferredAddress,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instance_ipv6_address: String,
}

impl NetInfo {
    pub fn is_empty(&self) -> bool {
        *self == NetInfo::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActualState {
    #[default]
    Unclaimed,
    Claimed,
    Running,
    Crashed,
}

impl ActualState {
    pub fn name(self) -> &'static str {
        match self {
            ActualState::Unclaimed => "UNCLAIMED",
            ActualState::Claimed => "CLAIMED",
            ActualState::Running => "RUNNING",
            ActualState::Crashed => "CRASHED",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Unclaimed, Self::Claimed, Self::Running, Self::Crashed]
            .into_iter()
            .find(|v| v.name() == s)
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Presence {
    #[default]
    Ordinary = 0,
    Evacuating = 1,
    Suspect = 2,
}

impl Presence {
    pub fn from_i32(v: i32) -> Option<Self> {
        [Self::Ordinary, Self::Evacuating, Self::Suspect]
            .into_iter()
            .find(|p| *p as i32 == v)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ActualLrp {
    #[serde(flatten)]
    pub key: ActualLrpKey,
    #[serde(flatten)]
    pub instance_key: InstanceKey,
    #[serde(flatten)]
    pub net_info: NetInfo,
    pub crash_count: i32,
    pub crash_reason: String,
    pub state: ActualState,
    pub placement_error: String,
    pub since: TimeNs,
    pub modification_tag: ModificationTag,
    pub presence: Presence,
    pub internal_routes: Vec<String>,
    pub metric_tags: BTreeMap<String, String>,
    pub routable: Option<bool>,
    pub availability_zone: String,
}

/// The data a rep reports when an instance is running.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunningInfo {
    pub net_info: NetInfo,
    pub internal_routes: Vec<String>,
    pub metric_tags: BTreeMap<String, String>,
    /// Absent in the request means routable (spec §3.5).
    pub routable: Option<bool>,
    pub availability_zone: String,
}

/// What a crash did to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashOutcome {
    /// True when the policy restarts at once: the row is UNCLAIMED and must be auctioned.
    pub restart_now: bool,
    pub crash_count: i32,
}

/// The transition predicate of spec §4.2 (`AllowsTransitionTo`).
pub fn allows_transition(
    from: ActualState,
    from_key: &InstanceKey,
    to: ActualState,
    to_key: &InstanceKey,
) -> bool {
    use ActualState::*;
    let same = from_key == to_key;
    match (from, to) {
        (Unclaimed, Crashed) | (Crashed, Crashed) => false,
        (Unclaimed, _) => true,
        (_, Unclaimed) => to_key.is_empty(),
        (Claimed, Running) => true,
        (Claimed, Claimed) | (Claimed, Crashed) => same,
        (Running, _) => same,
        (Crashed, Claimed) | (Crashed, Running) => same,
    }
}

impl ActualLrp {
    /// `AllowsTransitionTo(key, instanceKey, new)` of the original: the
    /// request's LRP key must equal the row's, then the §4.2 table applies.
    pub fn allows_transition_to(
        &self,
        key: &ActualLrpKey,
        to_key: &InstanceKey,
        to: ActualState,
    ) -> bool {
        self.key == *key && allows_transition(self.state, &self.instance_key, to, to_key)
    }

    /// The RUNNING ordinary row `StartActualLRP` inserts when the index has no
    /// ORDINARY row (spec §4.2): a new row with a fresh epoch.
    pub fn running(
        key: ActualLrpKey,
        instance_key: InstanceKey,
        info: &RunningInfo,
        epoch: &str,
        now_ns: TimeNs,
    ) -> Self {
        ActualLrp {
            key,
            instance_key,
            net_info: info.net_info.clone(),
            state: ActualState::Running,
            since: now_ns,
            modification_tag: ModificationTag::new(epoch),
            presence: Presence::Ordinary,
            internal_routes: info.internal_routes.clone(),
            metric_tags: info.metric_tags.clone(),
            routable: Some(info.routable.unwrap_or(true)),
            availability_zone: info.availability_zone.clone(),
            ..Default::default()
        }
    }

    /// Whether this row already holds exactly what a start/evacuate-running
    /// request reports (state RUNNING, same instance, same data).
    pub fn is_running_with(
        &self,
        key: &ActualLrpKey,
        instance_key: &InstanceKey,
        info: &RunningInfo,
    ) -> bool {
        self.state == ActualState::Running
            && self.key == *key
            && self.instance_key == *instance_key
            && self.net_info == info.net_info
            && self.internal_routes == info.internal_routes
            && self.metric_tags == info.metric_tags
            && self.routable == Some(info.routable.unwrap_or(true))
            && self.availability_zone == info.availability_zone
    }

    /// A fresh UNCLAIMED ordinary row (desire, scale-up, convergence "missing").
    pub fn unclaimed(key: ActualLrpKey, epoch: &str, now_ns: TimeNs) -> Self {
        ActualLrp {
            key,
            since: now_ns,
            modification_tag: ModificationTag::new(epoch),
            routable: Some(false),
            ..Default::default()
        }
    }

    fn touch(&mut self, now_ns: TimeNs) {
        self.since = now_ns;
        self.modification_tag.increment();
    }

    fn check(&self, to: ActualState, key: &InstanceKey, code: ErrorCode) -> Result<(), ModelError> {
        if allows_transition(self.state, &self.instance_key, to, key) {
            Ok(())
        } else {
            Err(ModelError::code_only(code))
        }
    }

    /// `ClaimActualLRP`. Returns false for the idempotent repeat.
    pub fn claim(&mut self, key: &InstanceKey, now_ns: TimeNs) -> Result<bool, ModelError> {
        self.check(
            ActualState::Claimed,
            key,
            ErrorCode::ActualLrpCannotBeClaimed,
        )?;
        if self.state == ActualState::Claimed && self.instance_key == *key {
            return Ok(false);
        }
        self.state = ActualState::Claimed;
        self.instance_key = key.clone();
        self.placement_error.clear();
        self.net_info = NetInfo::default();
        self.touch(now_ns);
        Ok(true)
    }

    /// `StartActualLRP`. Returns false when everything is identical already.
    pub fn start(
        &mut self,
        key: &InstanceKey,
        info: &RunningInfo,
        now_ns: TimeNs,
    ) -> Result<bool, ModelError> {
        let routable = Some(info.routable.unwrap_or(true));
        if self.state == ActualState::Running
            && self.instance_key == *key
            && self.net_info == info.net_info
            && self.internal_routes == info.internal_routes
            && self.metric_tags == info.metric_tags
            && self.routable == routable
            && self.availability_zone == info.availability_zone
        {
            return Ok(false);
        }
        self.check(
            ActualState::Running,
            key,
            ErrorCode::ActualLrpCannotBeStarted,
        )?;
        // Spec §4.2: every effective start stamps `since`, like the original
        // (a heartbeat that only flips `routable` counts as a change too).
        self.since = now_ns;
        self.state = ActualState::Running;
        self.instance_key = key.clone();
        self.net_info = info.net_info.clone();
        self.internal_routes = info.internal_routes.clone();
        self.metric_tags = info.metric_tags.clone();
        self.routable = routable;
        self.availability_zone = info.availability_zone.clone();
        self.placement_error.clear();
        self.modification_tag.increment();
        Ok(true)
    }

    /// `CrashActualLRP`: counts the crash (reset after 5 minutes of running),
    /// then either UNCLAIMED for an immediate restart or CRASHED to wait.
    pub fn crash(
        &mut self,
        key: &InstanceKey,
        reason: &str,
        policy: &RestartPolicy,
        now_ns: TimeNs,
    ) -> Result<CrashOutcome, ModelError> {
        self.check(
            ActualState::Crashed,
            key,
            ErrorCode::ActualLrpCannotBeCrashed,
        )?;
        let ran_long = self.state == ActualState::Running
            && now_ns - self.since > policy.crash_reset_window_ns;
        let count = if ran_long {
            1
        } else {
            self.crash_count.saturating_add(1)
        };
        let restart_now = policy.restart_immediately(count);
        self.crash_count = count;
        self.crash_reason = truncate_reason(reason, MAX_CRASH_REASON_BYTES);
        self.instance_key = InstanceKey::default();
        self.net_info = NetInfo::default();
        self.internal_routes.clear();
        self.metric_tags.clear();
        self.routable = Some(false);
        self.state = if restart_now {
            ActualState::Unclaimed
        } else {
            ActualState::Crashed
        };
        self.touch(now_ns);
        Ok(CrashOutcome {
            restart_now,
            crash_count: count,
        })
    }

    /// `FailActualLRP`: the auction could not place an UNCLAIMED instance.
    pub fn fail_placement(&mut self, error: &str, now_ns: TimeNs) -> Result<(), ModelError> {
        if self.state != ActualState::Unclaimed {
            return Err(ModelError::code_only(ErrorCode::ActualLrpCannotBeFailed));
        }
        self.placement_error = truncate_reason(error, MAX_CRASH_REASON_BYTES);
        self.touch(now_ns);
        Ok(())
    }

    /// Unclaim (convergence and evacuation). In `stale` mode a CLAIMED row is
    /// left alone, because its rep is still starting it.
    pub fn unclaim(&mut self, stale: bool, now_ns: TimeNs) -> Result<(), ModelError> {
        if self.state == ActualState::Unclaimed || (stale && self.state == ActualState::Claimed) {
            return Err(ModelError::code_only(ErrorCode::ActualLrpCannotBeUnclaimed));
        }
        self.state = ActualState::Unclaimed;
        self.instance_key = InstanceKey::default();
        self.net_info = NetInfo::default();
        self.internal_routes.clear();
        self.metric_tags.clear();
        self.routable = Some(false);
        self.touch(now_ns);
        Ok(())
    }

    /// Whether the row's cell is one of `cells` (only CLAIMED/RUNNING rows have one).
    pub fn is_placed(&self) -> bool {
        matches!(self.state, ActualState::Claimed | ActualState::Running)
    }
}
