//! The action tree. On the wire an action is nine optional fields, not a
//! oneof; exactly one must be set, as the original validates.

use diego_model as m;
use diego_model::ModelError;

use super::field;
use crate::models as w;

impl From<m::Action> for w::Action {
    fn from(d: m::Action) -> Self {
        let mut a = w::Action::default();
        match d {
            m::Action::Download(x) => a.download_action = Some(download(x)),
            m::Action::Upload(x) => {
                let m::UploadAction {
                    artifact,
                    from,
                    to,
                    log_source,
                    user,
                } = x;
                a.upload_action = Some(w::UploadAction {
                    artifact,
                    from,
                    to,
                    log_source,
                    user,
                })
            }
            m::Action::Run(x) => a.run_action = Some(run(x)),
            m::Action::Timeout(x) => {
                let m::TimeoutAction {
                    action,
                    deprecated_timeout_ns,
                    log_source,
                    timeout_ms,
                } = x;
                a.timeout_action = Some(Box::new(w::TimeoutAction {
                    action: Some(Box::new((*action).into())),
                    deprecated_timeout_ns,
                    log_source,
                    timeout_ms,
                }))
            }
            m::Action::EmitProgress(x) => {
                let m::EmitProgressAction {
                    action,
                    start_message,
                    success_message,
                    failure_message_prefix,
                    log_source,
                } = x;
                a.emit_progress_action = Some(Box::new(w::EmitProgressAction {
                    action: Some(Box::new((*action).into())),
                    start_message,
                    success_message,
                    failure_message_prefix,
                    log_source,
                }))
            }
            m::Action::Try(x) => {
                let m::TryAction { action, log_source } = x;
                a.try_action = Some(Box::new(w::TryAction {
                    action: Some(Box::new((*action).into())),
                    log_source,
                }))
            }
            m::Action::Parallel(m::ParallelAction {
                actions,
                log_source,
            }) => {
                a.parallel_action = Some(w::ParallelAction {
                    actions: actions.into_iter().map(Into::into).collect(),
                    log_source,
                })
            }
            m::Action::Serial(m::SerialAction {
                actions,
                log_source,
            }) => {
                a.serial_action = Some(w::SerialAction {
                    actions: actions.into_iter().map(Into::into).collect(),
                    log_source,
                })
            }
            m::Action::Codependent(m::CodependentAction {
                actions,
                log_source,
            }) => {
                a.codependent_action = Some(w::CodependentAction {
                    actions: actions.into_iter().map(Into::into).collect(),
                    log_source,
                })
            }
        }
        a
    }
}

fn download(x: m::DownloadAction) -> w::DownloadAction {
    let m::DownloadAction {
        artifact,
        from,
        to,
        cache_key,
        log_source,
        user,
        checksum_algorithm,
        checksum_value,
    } = x;
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

fn run(x: m::RunAction) -> w::RunAction {
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
    } = x;
    w::RunAction {
        path,
        args,
        dir,
        env: env
            .into_iter()
            .map(|m::EnvVar { name, value }| w::EnvironmentVariable { name, value })
            .collect(),
        resource_limits: resource_limits.map(|m::ResourceLimits { nofile, nproc }| {
            w::ResourceLimits {
                optional_nofile: nofile.map(w::resource_limits::OptionalNofile::Nofile),
                optional_nproc: nproc.map(w::resource_limits::OptionalNproc::Nproc),
            }
        }),
        user,
        log_source,
        suppress_log_output,
        volume_mounted_files: files_into(volume_mounted_files),
    }
}

pub(crate) fn env_from(v: Vec<w::EnvironmentVariable>) -> Vec<m::EnvVar> {
    v.into_iter()
        .map(|w::EnvironmentVariable { name, value }| m::EnvVar { name, value })
        .collect()
}

pub(crate) fn env_into(v: Vec<m::EnvVar>) -> Vec<w::EnvironmentVariable> {
    v.into_iter()
        .map(|m::EnvVar { name, value }| w::EnvironmentVariable { name, value })
        .collect()
}

pub(crate) fn files_into(v: Vec<m::File>) -> Vec<w::File> {
    v.into_iter()
        .map(|m::File { path, content }| w::File { path, content })
        .collect()
}

pub(crate) fn files_from(v: Vec<w::File>) -> Vec<m::File> {
    v.into_iter()
        .map(|w::File { path, content }| m::File { path, content })
        .collect()
}

pub(crate) fn download_from(x: w::DownloadAction) -> m::DownloadAction {
    let w::DownloadAction {
        artifact,
        from,
        to,
        cache_key,
        log_source,
        user,
        checksum_algorithm,
        checksum_value,
    } = x;
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

fn nested(a: Option<Box<w::Action>>, path: &str) -> Result<Box<m::Action>, ModelError> {
    let a = a.ok_or_else(|| ModelError::invalid_field(&field(path, "action"), "is missing"))?;
    Ok(Box::new(action_from(*a, &field(path, "action"))?))
}

fn list(v: Vec<w::Action>, path: &str) -> Result<Vec<m::Action>, ModelError> {
    v.into_iter()
        .enumerate()
        .map(|(i, a)| action_from(a, &format!("{path}.actions[{i}]")))
        .collect()
}

/// Wire -> domain; `path` names the action in errors (`setup.serial...`).
pub(crate) fn action_from(a: w::Action, path: &str) -> Result<m::Action, ModelError> {
    let w::Action {
        download_action,
        upload_action,
        run_action,
        timeout_action,
        emit_progress_action,
        try_action,
        parallel_action,
        serial_action,
        codependent_action,
    } = a;
    let mut out = Vec::with_capacity(1);
    if let Some(x) = download_action {
        out.push(m::Action::Download(download_from(x)));
    }
    if let Some(w::UploadAction {
        artifact,
        from,
        to,
        log_source,
        user,
    }) = upload_action
    {
        out.push(m::Action::Upload(m::UploadAction {
            artifact,
            from,
            to,
            log_source,
            user,
        }));
    }
    if let Some(x) = run_action {
        let w::RunAction {
            path: run_path,
            args,
            dir,
            env,
            resource_limits,
            user,
            log_source,
            suppress_log_output,
            volume_mounted_files,
        } = x;
        out.push(m::Action::Run(m::RunAction {
            path: run_path,
            args,
            dir,
            env: env_from(env),
            resource_limits: resource_limits.map(
                |w::ResourceLimits {
                     optional_nofile,
                     optional_nproc,
                 }| m::ResourceLimits {
                    nofile: optional_nofile.map(|w::resource_limits::OptionalNofile::Nofile(n)| n),
                    nproc: optional_nproc.map(|w::resource_limits::OptionalNproc::Nproc(n)| n),
                },
            ),
            user,
            log_source,
            suppress_log_output,
            volume_mounted_files: files_from(volume_mounted_files),
        }));
    }
    if let Some(x) = timeout_action {
        let w::TimeoutAction {
            action,
            deprecated_timeout_ns,
            log_source,
            timeout_ms,
        } = *x;
        let p = field(path, "timeout_action");
        out.push(m::Action::Timeout(m::TimeoutAction {
            action: nested(action, &p)?,
            deprecated_timeout_ns,
            log_source,
            timeout_ms,
        }));
    }
    if let Some(x) = emit_progress_action {
        let w::EmitProgressAction {
            action,
            start_message,
            success_message,
            failure_message_prefix,
            log_source,
        } = *x;
        let p = field(path, "emit_progress_action");
        out.push(m::Action::EmitProgress(m::EmitProgressAction {
            action: nested(action, &p)?,
            start_message,
            success_message,
            failure_message_prefix,
            log_source,
        }));
    }
    if let Some(x) = try_action {
        let w::TryAction { action, log_source } = *x;
        let p = field(path, "try_action");
        out.push(m::Action::Try(m::TryAction {
            action: nested(action, &p)?,
            log_source,
        }));
    }
    if let Some(w::ParallelAction {
        actions,
        log_source,
    }) = parallel_action
    {
        let actions = list(actions, &field(path, "parallel_action"))?;
        out.push(m::Action::Parallel(m::ParallelAction {
            actions,
            log_source,
        }));
    }
    if let Some(w::SerialAction {
        actions,
        log_source,
    }) = serial_action
    {
        let actions = list(actions, &field(path, "serial_action"))?;
        out.push(m::Action::Serial(m::SerialAction {
            actions,
            log_source,
        }));
    }
    if let Some(w::CodependentAction {
        actions,
        log_source,
    }) = codependent_action
    {
        let actions = list(actions, &field(path, "codependent_action"))?;
        out.push(m::Action::Codependent(m::CodependentAction {
            actions,
            log_source,
        }));
    }
    match out.len() {
        1 => Ok(out.pop().expect("one element")),
        0 => Err(ModelError::invalid_field(path, "has no action set")),
        _ => Err(ModelError::invalid_field(
            path,
            "has more than one action set",
        )),
    }
}
