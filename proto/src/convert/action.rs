//! The action tree and health checks.

use diego_model as m;
use diego_model::ModelError;

use super::{field, list_from, list_into, required, try_from_wire, FromWire};
use crate::bbs::v1 as w;
use crate::bbs::v1::action::Kind;

impl From<m::Action> for w::Action {
    fn from(d: m::Action) -> Self {
        let kind = match d {
            m::Action::Download(a) => Kind::Download(a.into()),
            m::Action::Upload(a) => Kind::Upload(a.into()),
            m::Action::Run(a) => Kind::Run(a.into()),
            m::Action::Timeout(a) => Kind::Timeout(Box::new(a.into())),
            m::Action::EmitProgress(a) => Kind::EmitProgress(Box::new(a.into())),
            m::Action::Try(a) => Kind::Try(Box::new(a.into())),
            m::Action::Parallel(a) => Kind::Parallel(a.into()),
            m::Action::Serial(a) => Kind::Serial(a.into()),
            m::Action::Codependent(a) => Kind::Codependent(a.into()),
        };
        w::Action { kind: Some(kind) }
    }
}

impl FromWire<w::Action> for m::Action {
    fn from_wire(v: w::Action, path: &str) -> Result<Self, ModelError> {
        let w::Action { kind } = v;
        let Some(kind) = kind else {
            return Err(ModelError::invalid_field(
                path,
                "is missing its kind (one of download, upload, run, timeout, emit_progress, \
                 try, parallel, serial, codependent)",
            ));
        };
        Ok(match kind {
            Kind::Download(a) => m::Action::Download(a.into()),
            Kind::Upload(a) => m::Action::Upload(a.into()),
            Kind::Run(a) => m::Action::Run(a.into()),
            Kind::Timeout(a) => {
                m::Action::Timeout(FromWire::from_wire(*a, &field(path, "timeout"))?)
            }
            Kind::EmitProgress(a) => {
                m::Action::EmitProgress(FromWire::from_wire(*a, &field(path, "emit_progress"))?)
            }
            Kind::Try(a) => m::Action::Try(FromWire::from_wire(*a, &field(path, "try"))?),
            Kind::Parallel(a) => {
                let w::ParallelAction {
                    actions,
                    log_source,
                } = a;
                let actions = list_from(actions, &field(path, "parallel"), "actions")?;
                m::Action::Parallel(m::ParallelAction {
                    actions,
                    log_source,
                })
            }
            Kind::Serial(a) => {
                let w::SerialAction {
                    actions,
                    log_source,
                } = a;
                let actions = list_from(actions, &field(path, "serial"), "actions")?;
                m::Action::Serial(m::SerialAction {
                    actions,
                    log_source,
                })
            }
            Kind::Codependent(a) => {
                let w::CodependentAction {
                    actions,
                    log_source,
                } = a;
                let actions = list_from(actions, &field(path, "codependent"), "actions")?;
                m::Action::Codependent(m::CodependentAction {
                    actions,
                    log_source,
                })
            }
        })
    }
}
try_from_wire!(m::Action, w::Action, "action");

/// The inner action of timeout, emit_progress and try.
fn inner(v: Option<Box<w::Action>>, path: &str) -> Result<Box<m::Action>, ModelError> {
    let a = required(v, path, "action")?;
    Ok(Box::new(m::Action::from_wire(*a, &field(path, "action"))?))
}

impl From<m::DownloadAction> for w::DownloadAction {
    fn from(d: m::DownloadAction) -> Self {
        let m::DownloadAction {
            artifact,
            from,
            to,
            cache_key,
            log_source,
            user,
            checksum_algorithm,
            checksum_value,
        } = d;
        w::DownloadAction {
            artifact,
            from,
            to,
            cache_key,
            log_source,
            user,
            checksum_algorithm,
            checksum_value,
        }
    }
}

impl From<w::DownloadAction> for m::DownloadAction {
    fn from(v: w::DownloadAction) -> Self {
        let w::DownloadAction {
            artifact,
            from,
            to,
            cache_key,
            log_source,
            user,
            checksum_algorithm,
            checksum_value,
        } = v;
        m::DownloadAction {
            artifact,
            from,
            to,
            cache_key,
            log_source,
            user,
            checksum_algorithm,
            checksum_value,
        }
    }
}

impl From<m::UploadAction> for w::UploadAction {
    fn from(d: m::UploadAction) -> Self {
        let m::UploadAction {
            artifact,
            from,
            to,
            log_source,
            user,
        } = d;
        w::UploadAction {
            artifact,
            from,
            to,
            log_source,
            user,
        }
    }
}

impl From<w::UploadAction> for m::UploadAction {
    fn from(v: w::UploadAction) -> Self {
        let w::UploadAction {
            artifact,
            from,
            to,
            log_source,
            user,
        } = v;
        m::UploadAction {
            artifact,
            from,
            to,
            log_source,
            user,
        }
    }
}

impl From<m::RunAction> for w::RunAction {
    fn from(d: m::RunAction) -> Self {
        let m::RunAction {
            path,
            args,
            dir,
            env,
            resource_limits,
            user,
            log_source,
            suppress_log_output,
            volume_mounted_files,
        } = d;
        w::RunAction {
            path,
            args,
            dir,
            env: list_into(env),
            resource_limits: resource_limits.map(|r| {
                let m::ResourceLimits { nofile, nproc } = r;
                w::ResourceLimits { nofile, nproc }
            }),
            user,
            log_source,
            suppress_log_output,
            volume_mounted_files: list_into(volume_mounted_files),
        }
    }
}

impl From<w::RunAction> for m::RunAction {
    fn from(v: w::RunAction) -> Self {
        let w::RunAction {
            path,
            args,
            dir,
            env,
            resource_limits,
            user,
            log_source,
            suppress_log_output,
            volume_mounted_files,
        } = v;
        m::RunAction {
            path,
            args,
            dir,
            env: list_into(env),
            resource_limits: resource_limits.map(|r| {
                let w::ResourceLimits { nofile, nproc } = r;
                m::ResourceLimits { nofile, nproc }
            }),
            user,
            log_source,
            suppress_log_output,
            volume_mounted_files: list_into(volume_mounted_files),
        }
    }
}

impl From<m::TimeoutAction> for w::TimeoutAction {
    fn from(d: m::TimeoutAction) -> Self {
        let m::TimeoutAction {
            action,
            deprecated_timeout_ns,
            log_source,
            timeout_ms,
        } = d;
        w::TimeoutAction {
            action: Some(Box::new((*action).into())),
            deprecated_timeout_ns,
            log_source,
            timeout_ms,
        }
    }
}

impl FromWire<w::TimeoutAction> for m::TimeoutAction {
    fn from_wire(v: w::TimeoutAction, path: &str) -> Result<Self, ModelError> {
        let w::TimeoutAction {
            action,
            deprecated_timeout_ns,
            log_source,
            timeout_ms,
        } = v;
        Ok(m::TimeoutAction {
            action: inner(action, path)?,
            deprecated_timeout_ns,
            log_source,
            timeout_ms,
        })
    }
}

impl From<m::EmitProgressAction> for w::EmitProgressAction {
    fn from(d: m::EmitProgressAction) -> Self {
        let m::EmitProgressAction {
            action,
            start_message,
            success_message,
            failure_message_prefix,
            log_source,
        } = d;
        w::EmitProgressAction {
            action: Some(Box::new((*action).into())),
            start_message,
            success_message,
            failure_message_prefix,
            log_source,
        }
    }
}

impl FromWire<w::EmitProgressAction> for m::EmitProgressAction {
    fn from_wire(v: w::EmitProgressAction, path: &str) -> Result<Self, ModelError> {
        let w::EmitProgressAction {
            action,
            start_message,
            success_message,
            failure_message_prefix,
            log_source,
        } = v;
        Ok(m::EmitProgressAction {
            action: inner(action, path)?,
            start_message,
            success_message,
            failure_message_prefix,
            log_source,
        })
    }
}

impl From<m::TryAction> for w::TryAction {
    fn from(d: m::TryAction) -> Self {
        let m::TryAction { action, log_source } = d;
        w::TryAction {
            action: Some(Box::new((*action).into())),
            log_source,
        }
    }
}

impl FromWire<w::TryAction> for m::TryAction {
    fn from_wire(v: w::TryAction, path: &str) -> Result<Self, ModelError> {
        let w::TryAction { action, log_source } = v;
        Ok(m::TryAction {
            action: inner(action, path)?,
            log_source,
        })
    }
}

impl From<m::ParallelAction> for w::ParallelAction {
    fn from(d: m::ParallelAction) -> Self {
        let m::ParallelAction {
            actions,
            log_source,
        } = d;
        w::ParallelAction {
            actions: list_into(actions),
            log_source,
        }
    }
}

impl From<m::SerialAction> for w::SerialAction {
    fn from(d: m::SerialAction) -> Self {
        let m::SerialAction {
            actions,
            log_source,
        } = d;
        w::SerialAction {
            actions: list_into(actions),
            log_source,
        }
    }
}

impl From<m::CodependentAction> for w::CodependentAction {
    fn from(d: m::CodependentAction) -> Self {
        let m::CodependentAction {
            actions,
            log_source,
        } = d;
        w::CodependentAction {
            actions: list_into(actions),
            log_source,
        }
    }
}

impl From<m::File> for w::File {
    fn from(f: m::File) -> Self {
        let m::File { path, content } = f;
        w::File { path, content }
    }
}

impl From<w::File> for m::File {
    fn from(f: w::File) -> Self {
        let w::File { path, content } = f;
        m::File { path, content }
    }
}
