//! The small messages desired LRPs and tasks share: metric tags, volume
//! mounts, routes, health checks and modification tags.

use std::collections::BTreeMap;

use diego_model as m;
use diego_model::ModelError;

use crate::models as w;

pub(crate) fn metric_tags_into(
    t: BTreeMap<String, m::MetricTagValue>,
) -> BTreeMap<String, w::MetricTagValue> {
    t.into_iter()
        .map(
            |(
                k,
                m::MetricTagValue {
                    static_value,
                    dynamic,
                },
            )| {
                let dynamic = match dynamic.as_str() {
                    "INDEX" => w::metric_tag_value::DynamicValue::Index,
                    "INSTANCE_GUID" => w::metric_tag_value::DynamicValue::InstanceGuid,
                    _ => w::metric_tag_value::DynamicValue::Invalid,
                };
                (
                    k,
                    w::MetricTagValue {
                        r#static: static_value,
                        dynamic: dynamic as i32,
                    },
                )
            },
        )
        .collect()
}

pub(crate) fn metric_tags_from(
    t: BTreeMap<String, w::MetricTagValue>,
    path: &str,
) -> Result<BTreeMap<String, m::MetricTagValue>, ModelError> {
    t.into_iter()
        .map(|(k, w::MetricTagValue { r#static, dynamic })| {
            let dynamic = match w::metric_tag_value::DynamicValue::try_from(dynamic) {
                Ok(w::metric_tag_value::DynamicValue::Invalid) => String::new(),
                Ok(w::metric_tag_value::DynamicValue::Index) => "INDEX".to_string(),
                Ok(w::metric_tag_value::DynamicValue::InstanceGuid) => "INSTANCE_GUID".to_string(),
                Err(_) => {
                    return Err(ModelError::invalid_field(
                        &format!("{path}[{k}].dynamic"),
                        &format!("has unknown value {dynamic}"),
                    ))
                }
            };
            Ok((
                k,
                m::MetricTagValue {
                    static_value: r#static,
                    dynamic,
                },
            ))
        })
        .collect()
}

pub(crate) fn volume_mounts_into(v: Vec<m::VolumeMount>) -> Vec<w::VolumeMount> {
    v.into_iter()
        .map(
            |m::VolumeMount {
                 driver,
                 container_dir,
                 mode,
                 shared,
             }| w::VolumeMount {
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
                dedicated: None,
            },
        )
        .collect()
}

/// The shared device is kept for the volume driver; the original's
/// `dedicated` device was never implemented by it and is dropped.
pub(crate) fn volume_mounts_from(v: Vec<w::VolumeMount>) -> Vec<m::VolumeMount> {
    v.into_iter()
        .map(
            |w::VolumeMount {
                 driver,
                 container_dir,
                 mode,
                 shared,
                 dedicated: _,
             }| m::VolumeMount {
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
            },
        )
        .collect()
}

pub(crate) fn routes_into(r: m::Routes) -> Option<w::ProtoRoutes> {
    if r.is_empty() {
        return None;
    }
    Some(w::ProtoRoutes {
        routes: r
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_vec(&v).unwrap_or_default()))
            .collect(),
    })
}

/// Route values are raw JSON blobs; one that does not parse is refused.
pub(crate) fn routes_from(r: Option<w::ProtoRoutes>, path: &str) -> Result<m::Routes, ModelError> {
    let Some(w::ProtoRoutes { routes }) = r else {
        return Ok(m::Routes::new());
    };
    routes
        .into_iter()
        .map(|(k, v)| match serde_json::from_slice(&v) {
            Ok(json) => Ok((k, json)),
            Err(e) => Err(ModelError::invalid_field(
                &format!("{path}[{k}]"),
                &format!("is not json: {e}"),
            )),
        })
        .collect()
}

pub(crate) fn check_into(c: m::Check) -> w::Check {
    let m::Check {
        tcp_check,
        http_check,
    } = c;
    w::Check {
        tcp_check: tcp_check.map(
            |m::TcpCheck {
                 port,
                 connect_timeout_ms,
                 interval_ms,
             }| w::TcpCheck {
                port,
                connect_timeout_ms,
                interval_ms,
            },
        ),
        http_check: http_check.map(
            |m::HttpCheck {
                 port,
                 request_timeout_ms,
                 path,
                 interval_ms,
             }| w::HttpCheck {
                port,
                request_timeout_ms,
                path,
                interval_ms,
            },
        ),
    }
}

pub(crate) fn check_from(c: w::Check) -> m::Check {
    let w::Check {
        tcp_check,
        http_check,
    } = c;
    m::Check {
        tcp_check: tcp_check.map(
            |w::TcpCheck {
                 port,
                 connect_timeout_ms,
                 interval_ms,
             }| m::TcpCheck {
                port,
                connect_timeout_ms,
                interval_ms,
            },
        ),
        http_check: http_check.map(
            |w::HttpCheck {
                 port,
                 request_timeout_ms,
                 path,
                 interval_ms,
             }| m::HttpCheck {
                port,
                request_timeout_ms,
                path,
                interval_ms,
            },
        ),
    }
}

pub(crate) fn tag_into(t: m::ModificationTag) -> w::ModificationTag {
    let m::ModificationTag { epoch, index } = t;
    w::ModificationTag { epoch, index }
}

pub(crate) fn tag_from(t: Option<w::ModificationTag>) -> m::ModificationTag {
    let w::ModificationTag { epoch, index } = t.unwrap_or_default();
    m::ModificationTag { epoch, index }
}

pub(crate) fn tag_of(t: m::ModificationTag) -> Option<w::ModificationTag> {
    Some(tag_into(t))
}

pub(crate) fn egress_into(rules: Vec<m::SecurityGroupRule>) -> Vec<w::SecurityGroupRule> {
    rules
        .into_iter()
        .map(|r| {
            let m::SecurityGroupRule {
                protocol,
                destinations,
                ports,
                port_range,
                icmp_info,
                log,
                annotations,
            } = r;
            w::SecurityGroupRule {
                protocol,
                destinations,
                ports,
                port_range: port_range
                    .map(|m::PortRange { start, end }| w::PortRange { start, end }),
                icmp_info: icmp_info.map(|m::IcmpInfo { icmp_type, code }| w::IcmpInfo {
                    r#type: icmp_type,
                    code,
                }),
                log,
                annotations,
            }
        })
        .collect()
}

pub(crate) fn egress_from(rules: Vec<w::SecurityGroupRule>) -> Vec<m::SecurityGroupRule> {
    rules
        .into_iter()
        .map(|r| {
            let w::SecurityGroupRule {
                protocol,
                destinations,
                ports,
                port_range,
                icmp_info,
                log,
                annotations,
            } = r;
            m::SecurityGroupRule {
                protocol,
                destinations,
                ports,
                port_range: port_range
                    .map(|w::PortRange { start, end }| m::PortRange { start, end }),
                icmp_info: icmp_info.map(|w::IcmpInfo { r#type, code }| m::IcmpInfo {
                    icmp_type: r#type,
                    code,
                }),
                log,
                annotations,
            }
        })
        .collect()
}

pub(crate) fn network_into(n: Option<m::Network>) -> Option<w::Network> {
    n.map(|m::Network { properties }| w::Network { properties })
}

pub(crate) fn network_from(n: Option<w::Network>) -> Option<m::Network> {
    n.map(|w::Network { properties }| m::Network { properties })
}

pub(crate) fn certificate_properties_into(
    c: Option<m::CertificateProperties>,
) -> Option<w::CertificateProperties> {
    c.map(
        |m::CertificateProperties {
             organizational_unit,
         }| w::CertificateProperties {
            organizational_unit,
        },
    )
}

pub(crate) fn certificate_properties_from(
    c: Option<w::CertificateProperties>,
) -> Option<m::CertificateProperties> {
    c.map(
        |w::CertificateProperties {
             organizational_unit,
         }| m::CertificateProperties {
            organizational_unit,
        },
    )
}
