//! Health check definitions.

use diego_model as m;

use crate::bbs::v1 as w;

impl From<m::CheckDefinition> for w::CheckDefinition {
    fn from(d: m::CheckDefinition) -> Self {
        let m::CheckDefinition {
            checks,
            log_source,
            readiness_checks,
        } = d;
        w::CheckDefinition {
            checks: checks.into_iter().map(Into::into).collect(),
            log_source,
            readiness_checks: readiness_checks.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<w::CheckDefinition> for m::CheckDefinition {
    fn from(v: w::CheckDefinition) -> Self {
        let w::CheckDefinition {
            checks,
            log_source,
            readiness_checks,
        } = v;
        m::CheckDefinition {
            checks: checks.into_iter().map(Into::into).collect(),
            log_source,
            readiness_checks: readiness_checks.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<m::Check> for w::Check {
    fn from(d: m::Check) -> Self {
        let m::Check {
            tcp_check,
            http_check,
        } = d;
        w::Check {
            tcp_check: tcp_check.map(|t| {
                let m::TcpCheck {
                    port,
                    connect_timeout_ms,
                    interval_ms,
                } = t;
                w::TcpCheck {
                    port,
                    connect_timeout_ms,
                    interval_ms,
                }
            }),
            http_check: http_check.map(|h| {
                let m::HttpCheck {
                    port,
                    request_timeout_ms,
                    path,
                    interval_ms,
                } = h;
                w::HttpCheck {
                    port,
                    request_timeout_ms,
                    path,
                    interval_ms,
                }
            }),
        }
    }
}

impl From<w::Check> for m::Check {
    fn from(v: w::Check) -> Self {
        let w::Check {
            tcp_check,
            http_check,
        } = v;
        m::Check {
            tcp_check: tcp_check.map(|t| {
                let w::TcpCheck {
                    port,
                    connect_timeout_ms,
                    interval_ms,
                } = t;
                m::TcpCheck {
                    port,
                    connect_timeout_ms,
                    interval_ms,
                }
            }),
            http_check: http_check.map(|h| {
                let w::HttpCheck {
                    port,
                    request_timeout_ms,
                    path,
                    interval_ms,
                } = h;
                m::HttpCheck {
                    port,
                    request_timeout_ms,
                    path,
                    interval_ms,
                }
            }),
        }
    }
}
