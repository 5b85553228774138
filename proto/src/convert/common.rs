//! Small shared messages: env vars, modification tags, volume mounts,
//! metric tags and routes.

use std::collections::BTreeMap;

use diego_model as m;
use diego_model::ModelError;

use super::field;
use crate::bbs::v1 as w;

impl From<m::EnvVar> for w::EnvironmentVariable {
    fn from(d: m::EnvVar) -> Self {
        let m::EnvVar { name, value } = d;
        w::EnvironmentVariable { name, value }
    }
}

impl From<w::EnvironmentVariable> for m::EnvVar {
    fn from(v: w::EnvironmentVariable) -> Self {
        let w::EnvironmentVariable { name, value } = v;
        m::EnvVar { name, value }
    }
}

impl From<m::ModificationTag> for w::ModificationTag {
    fn from(d: m::ModificationTag) -> Self {
        let m::ModificationTag { epoch, index } = d;
        w::ModificationTag { epoch, index }
    }
}

impl From<w::ModificationTag> for m::ModificationTag {
    fn from(v: w::ModificationTag) -> Self {
        let w::ModificationTag { epoch, index } = v;
        m::ModificationTag { epoch, index }
    }
}

/// An absent tag is a fresh one (empty epoch, index 0).
pub(crate) fn tag_from_wire(v: Option<w::ModificationTag>) -> m::ModificationTag {
    v.map(m::ModificationTag::from).unwrap_or_default()
}

impl From<m::VolumeMount> for w::VolumeMount {
    fn from(d: m::VolumeMount) -> Self {
        let m::VolumeMount {
            driver,
            container_dir,
            mode,
            shared,
        } = d;
        w::VolumeMount {
            driver,
            container_dir,
            mode,
            shared: shared.map(
                |m::SharedDevice {
                     volume_id,
                     mount_config,
                 }| w::SharedDevice {
                    volume_id,
                    mount_config,
                },
            ),
        }
    }
}

impl From<w::VolumeMount> for m::VolumeMount {
    fn from(v: w::VolumeMount) -> Self {
        let w::VolumeMount {
            driver,
            container_dir,
            mode,
            shared,
        } = v;
        m::VolumeMount {
            driver,
            container_dir,
            mode,
            shared: shared.map(
                |w::SharedDevice {
                     volume_id,
                     mount_config,
                 }| m::SharedDevice {
                    volume_id,
                    mount_config,
                },
            ),
        }
    }
}

impl From<m::MetricTagValue> for w::MetricTagValue {
    fn from(d: m::MetricTagValue) -> Self {
        let m::MetricTagValue {
            static_value,
            dynamic,
        } = d;
        w::MetricTagValue {
            static_value,
            dynamic,
        }
    }
}

impl From<w::MetricTagValue> for m::MetricTagValue {
    fn from(v: w::MetricTagValue) -> Self {
        let w::MetricTagValue {
            static_value,
            dynamic,
        } = v;
        m::MetricTagValue {
            static_value,
            dynamic,
        }
    }
}

pub(crate) fn metric_tags_to_wire(
    tags: BTreeMap<String, m::MetricTagValue>,
) -> BTreeMap<String, w::MetricTagValue> {
    tags.into_iter().map(|(k, v)| (k, v.into())).collect()
}

pub(crate) fn metric_tags_from_wire(
    tags: BTreeMap<String, w::MetricTagValue>,
) -> BTreeMap<String, m::MetricTagValue> {
    tags.into_iter().map(|(k, v)| (k, v.into())).collect()
}

impl From<BTreeMap<String, m::MetricTagValue>> for w::MetricTags {
    fn from(tags: BTreeMap<String, m::MetricTagValue>) -> Self {
        w::MetricTags {
            tags: metric_tags_to_wire(tags),
        }
    }
}

/// Routes travel as each router's JSON bytes; `Value`'s `Display` is its
/// compact JSON, which cannot fail.
pub(crate) fn routes_to_wire(routes: m::Routes) -> BTreeMap<String, Vec<u8>> {
    routes
        .into_iter()
        .map(|(k, v)| (k, v.to_string().into_bytes()))
        .collect()
}

/// Invalid JSON names the router: "invalid field: routes.cf-router ...".
pub(crate) fn routes_from_wire(
    routes: BTreeMap<String, Vec<u8>>,
    path: &str,
) -> Result<m::Routes, ModelError> {
    routes
        .into_iter()
        .map(|(k, bytes)| match serde_json::from_slice(&bytes) {
            Ok(v) => Ok((k, v)),
            Err(e) => Err(ModelError::invalid_field(
                &format!("{}.{k}", field(path, "routes")),
                &format!("is not valid json: {e}"),
            )),
        })
        .collect()
}

impl From<m::Routes> for w::Routes {
    fn from(routes: m::Routes) -> Self {
        w::Routes {
            routes: routes_to_wire(routes),
        }
    }
}

impl From<m::SecurityGroupRule> for w::SecurityGroupRule {
    fn from(d: m::SecurityGroupRule) -> Self {
        let m::SecurityGroupRule {
            protocol,
            destinations,
            ports,
            port_range,
            icmp_info,
            log,
            annotations,
        } = d;
        w::SecurityGroupRule {
            protocol,
            destinations,
            ports,
            port_range: port_range.map(|m::PortRange { start, end }| w::PortRange { start, end }),
            icmp_info: icmp_info.map(|m::IcmpInfo { icmp_type, code }| w::IcmpInfo {
                r#type: icmp_type,
                code,
            }),
            log,
            annotations,
        }
    }
}

impl From<w::SecurityGroupRule> for m::SecurityGroupRule {
    fn from(v: w::SecurityGroupRule) -> Self {
        let w::SecurityGroupRule {
            protocol,
            destinations,
            ports,
            port_range,
            icmp_info,
            log,
            annotations,
        } = v;
        m::SecurityGroupRule {
            protocol,
            destinations,
            ports,
            port_range: port_range.map(|w::PortRange { start, end }| m::PortRange { start, end }),
            icmp_info: icmp_info.map(|w::IcmpInfo { r#type, code }| m::IcmpInfo {
                icmp_type: r#type,
                code,
            }),
            log,
            annotations,
        }
    }
}

impl From<m::Network> for w::Network {
    fn from(d: m::Network) -> Self {
        let m::Network { properties } = d;
        w::Network {
            properties: properties.into_iter().collect(),
        }
    }
}

impl From<w::Network> for m::Network {
    fn from(v: w::Network) -> Self {
        let w::Network { properties } = v;
        m::Network {
            properties: properties.into_iter().collect(),
        }
    }
}

impl From<m::CertificateProperties> for w::CertificateProperties {
    fn from(d: m::CertificateProperties) -> Self {
        let m::CertificateProperties {
            organizational_unit,
        } = d;
        w::CertificateProperties {
            organizational_unit,
        }
    }
}

impl From<w::CertificateProperties> for m::CertificateProperties {
    fn from(v: w::CertificateProperties) -> Self {
        let w::CertificateProperties {
            organizational_unit,
        } = v;
        m::CertificateProperties {
            organizational_unit,
        }
    }
}
