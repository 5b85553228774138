//! What a piece of work says about its network beyond ports: egress rules
//! (application security groups), network properties for the policy
//! plugins, and the properties of its instance identity certificate
//! (spec §3.2). The BBS stores and returns them as given; validation
//! follows the original's `SecurityGroupRule.Validate`. OCI cells enforce
//! egress rules in each container's network namespace (ADR 0032); the wasm
//! backend does not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One egress rule (an application security group entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityGroupRule {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// Each an IP, a range `a-b` or a CIDR.
    pub destinations: Vec<String>,
    /// tcp and udp: these ports or `port_range`, not both.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
    /// Required for icmp, refused otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_info: Option<IcmpInfo>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub log: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortRange {
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IcmpInfo {
    #[serde(rename = "type")]
    pub icmp_type: i32,
    pub code: i32,
}

/// Properties the container networking policy plugins read (e.g. the app
/// and space ids); opaque to the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    pub properties: BTreeMap<String, String>,
}

/// Organizational units put into the instance identity certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificateProperties {
    pub organizational_unit: Vec<String>,
}
