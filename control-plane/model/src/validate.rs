//! Validation rules of spec §3: every API entry point runs these before it
//! stores anything, and every error names the field and what was wrong.

use crate::{
    Action, Check, CheckDefinition, DesiredLrp, DesiredLrpUpdate, MetricTagValue, ModelError,
    TaskDefinition,
};

pub const MAX_ANNOTATION_BYTES: usize = 10 * 1024;
pub const MAX_ROUTES_BYTES: usize = 131_072;
pub const MAX_VOLUME_MOUNTED_FILES_BYTES: usize = 1024 * 1024;

type R = Result<(), ModelError>;

fn bad(field: &str, reason: &str) -> ModelError {
    ModelError::invalid_field(field, reason)
}

/// Guids match `^[a-zA-Z0-9_-]+$`.
pub fn guid(field: &str, value: &str) -> R {
    if value.is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(bad(field, "must match ^[a-zA-Z0-9_-]+$"));
    }
    Ok(())
}

pub fn non_empty(field: &str, value: &str) -> R {
    if value.is_empty() {
        Err(bad(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// A rootfs is a URL with a scheme: `preloaded:busybox`, `docker:///user/image#tag`.
pub fn rootfs(value: &str) -> R {
    let Some((scheme, _)) = value.split_once(':') else {
        return Err(bad(
            "rootfs",
            "must be a url with a scheme (e.g. preloaded:busybox)",
        ));
    };
    let scheme_ok = !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    // Like Go's url.Parse, the part after the scheme may be empty (`wasm:`).
    if !scheme_ok {
        return Err(bad(
            "rootfs",
            "must be a url with a scheme (e.g. preloaded:busybox)",
        ));
    }
    Ok(())
}

fn non_negative(field: &str, v: i32) -> R {
    if v < 0 {
        Err(bad(field, "must not be negative"))
    } else {
        Ok(())
    }
}

fn annotation(v: &str) -> R {
    if v.len() > MAX_ANNOTATION_BYTES {
        return Err(bad("annotation", "must be at most 10240 bytes"));
    }
    Ok(())
}

fn log_rate(v: Option<i64>) -> R {
    match v {
        Some(b) if b < -1 => Err(bad("log_rate_limit", "must be -1 (unlimited) or more")),
        _ => Ok(()),
    }
}

fn image_credentials(user: &str, password: &str) -> R {
    if user.is_empty() != password.is_empty() {
        return Err(bad(
            "image_username",
            "image_username and image_password go together",
        ));
    }
    Ok(())
}

fn env_vars(field: &str, vars: &[crate::EnvVar]) -> R {
    for (i, v) in vars.iter().enumerate() {
        if v.name.is_empty() {
            return Err(bad(&format!("{field}[{i}].name"), "must not be empty"));
        }
    }
    Ok(())
}

fn volume_mounts(mounts: &[crate::VolumeMount]) -> R {
    for (i, m) in mounts.iter().enumerate() {
        non_empty(&format!("volume_mounts[{i}].driver"), &m.driver)?;
        if !m.container_dir.starts_with('/') {
            return Err(bad(
                &format!("volume_mounts[{i}].container_dir"),
                "must be an absolute path",
            ));
        }
        if !matches!(m.mode.as_str(), "r" | "rw") {
            return Err(bad(&format!("volume_mounts[{i}].mode"), "must be r or rw"));
        }
        if let Some(shared) = &m.shared {
            non_empty(
                &format!("volume_mounts[{i}].shared.volume_id"),
                &shared.volume_id,
            )?;
        }
    }
    Ok(())
}

fn metric_tags(tags: &std::collections::BTreeMap<String, MetricTagValue>) -> R {
    for (k, v) in tags {
        let has_static = !v.static_value.is_empty();
        let has_dynamic = !v.dynamic.is_empty();
        if has_static == has_dynamic {
            return Err(bad(
                &format!("metric_tags.{k}"),
                "must set exactly one of static and dynamic",
            ));
        }
        if has_dynamic && !matches!(v.dynamic.as_str(), "INDEX" | "INSTANCE_GUID") {
            return Err(bad(
                &format!("metric_tags.{k}"),
                "dynamic must be INDEX or INSTANCE_GUID",
            ));
        }
    }
    Ok(())
}

/// Validates an action tree; `field` is the path used in the message.
pub fn action(field: &str, a: &Action) -> R {
    match a {
        Action::Download(d) => {
            non_empty(&format!("{field}.download.from"), &d.from)?;
            non_empty(&format!("{field}.download.to"), &d.to)?;
            non_empty(&format!("{field}.download.user"), &d.user)?;
            if d.checksum_algorithm.is_empty() != d.checksum_value.is_empty() {
                return Err(bad(
                    &format!("{field}.download.checksum_value"),
                    "algorithm and value go together",
                ));
            }
            if !d.checksum_algorithm.is_empty()
                && !matches!(
                    d.checksum_algorithm.to_lowercase().as_str(),
                    "md5" | "sha1" | "sha256"
                )
            {
                return Err(bad(
                    &format!("{field}.download.checksum_algorithm"),
                    "must be md5, sha1 or sha256",
                ));
            }
            Ok(())
        }
        Action::Upload(u) => {
            non_empty(&format!("{field}.upload.from"), &u.from)?;
            non_empty(&format!("{field}.upload.to"), &u.to)?;
            non_empty(&format!("{field}.upload.user"), &u.user)
        }
        Action::Run(r) => {
            non_empty(&format!("{field}.run.path"), &r.path)?;
            non_empty(&format!("{field}.run.user"), &r.user)?;
            volume_mounted_files(
                &format!("{field}.run.volume_mounted_files"),
                &r.volume_mounted_files,
            )
        }
        Action::Timeout(t) => {
            if t.timeout_ms <= 0 {
                return Err(bad(
                    &format!("{field}.timeout.timeout_ms"),
                    "must be greater than 0",
                ));
            }
            action(&format!("{field}.timeout.action"), &t.action)
        }
        Action::EmitProgress(e) => action(&format!("{field}.emit_progress.action"), &e.action),
        Action::Try(t) => action(&format!("{field}.try.action"), &t.action),
        Action::Parallel(p) => list(&format!("{field}.parallel"), &p.actions),
        Action::Serial(s) => list(&format!("{field}.serial"), &s.actions),
        Action::Codependent(c) => list(&format!("{field}.codependent"), &c.actions),
    }
}

fn list(field: &str, actions: &[Action]) -> R {
    if actions.is_empty() {
        return Err(bad(&format!("{field}.actions"), "must not be empty"));
    }
    for (i, a) in actions.iter().enumerate() {
        action(&format!("{field}.actions[{i}]"), a)?;
    }
    Ok(())
}

fn check(field: &str, c: &Check) -> R {
    let port = match (&c.tcp_check, &c.http_check) {
        (Some(t), None) => t.port,
        (None, Some(h)) => h.port,
        _ => {
            return Err(bad(
                field,
                "must set exactly one of tcp_check and http_check",
            ))
        }
    };
    if !(1..=65535).contains(&port) {
        return Err(bad(&format!("{field}.port"), "must be between 1 and 65535"));
    }
    Ok(())
}

fn check_definition(d: &CheckDefinition) -> R {
    for (i, c) in d.checks.iter().enumerate() {
        check(&format!("check_definition.checks[{i}]"), c)?;
    }
    for (i, c) in d.readiness_checks.iter().enumerate() {
        check(&format!("check_definition.readiness_checks[{i}]"), c)?;
    }
    Ok(())
}

/// `TaskDefinition.Validate()` plus the guid and domain checks of DesireTask.
pub fn desire_task(task_guid: &str, domain: &str, def: &TaskDefinition) -> R {
    guid("task_guid", task_guid)?;
    non_empty("domain", domain)?;
    task_definition(def)
}

pub fn task_definition(def: &TaskDefinition) -> R {
    rootfs(&def.root_fs)?;
    match &def.action {
        Some(a) => action("action", a)?,
        None => return Err(bad("action", "is required")),
    }
    non_negative("memory_mb", def.memory_mb)?;
    non_negative("disk_mb", def.disk_mb)?;
    non_negative("max_pids", def.max_pids)?;
    volume_mounts(&def.volume_mounts)?;
    log_rate(def.log_rate_limit_bytes_per_second)?;
    annotation(&def.annotation)?;
    image_credentials(&def.image_username, &def.image_password)?;
    volume_mounted_files("volume_mounted_files", &def.volume_mounted_files)?;
    egress_rules(&def.egress_rules)?;
    metric_tags(&def.metric_tags)
}

/// Diego caps the files' total content at 1 MiB; a file with no path could
/// not be placed, so it is refused here rather than failing on the cell.
fn volume_mounted_files(field: &str, files: &[crate::File]) -> R {
    for (i, f) in files.iter().enumerate() {
        non_empty(&format!("{field}[{i}].path"), &f.path)?;
    }
    let total: usize = files.iter().map(|f| f.content.len()).sum();
    if total > MAX_VOLUME_MOUNTED_FILES_BYTES {
        return Err(bad(field, "must total at most 1 MiB"));
    }
    Ok(())
}

fn routes_size(routes: &crate::Routes) -> R {
    let total: usize = routes.values().map(|v| v.to_string().len()).sum();
    if total > MAX_ROUTES_BYTES {
        return Err(bad("routes", "must total at most 131072 bytes"));
    }
    Ok(())
}

/// `DesiredLRP.Validate()` (spec §3.4).
pub fn desired_lrp(d: &DesiredLrp) -> R {
    guid("process_guid", &d.process_guid)?;
    non_empty("domain", &d.domain)?;
    rootfs(&d.root_fs)?;
    non_negative("instances", d.instances)?;
    non_negative("memory_mb", d.memory_mb)?;
    non_negative("disk_mb", d.disk_mb)?;
    non_negative("max_pids", d.max_pids)?;
    annotation(&d.annotation)?;
    routes_size(&d.routes)?;
    env_vars("env", &d.environment_variables)?;
    volume_mounts(&d.volume_mounts)?;
    metric_tags(&d.metric_tags)?;
    if !d.metrics_guid.is_empty() && !d.metric_tags.is_empty() {
        match d.metric_tags.get("source_id") {
            Some(v) if v.static_value == d.metrics_guid => {}
            _ => {
                return Err(bad(
                    "metric_tags.source_id",
                    "must be static and equal metrics_guid",
                ))
            }
        }
    }
    match &d.action {
        Some(a) => action("action", a)?,
        None => return Err(bad("action", "is required")),
    }
    if let Some(s) = &d.setup {
        action("setup", s)?;
    }
    if let Some(m) = &d.monitor {
        action("monitor", m)?;
    }
    if let Some(c) = &d.check_definition {
        check_definition(c)?;
    }
    for (i, sidecar) in d.sidecars.iter().enumerate() {
        let field = format!("sidecars[{i}]");
        match &sidecar.action {
            Some(a) => action(&format!("{field}.action"), a)?,
            None => return Err(bad(&format!("{field}.action"), "is required")),
        }
        non_negative(&format!("{field}.memory_mb"), sidecar.memory_mb)?;
        non_negative(&format!("{field}.disk_mb"), sidecar.disk_mb)?;
    }
    if d.start_timeout_ms < 0 {
        return Err(bad("start_timeout_ms", "must not be negative"));
    }
    image_credentials(&d.image_username, &d.image_password)?;
    volume_mounted_files("volume_mounted_files", &d.volume_mounted_files)?;
    egress_rules(&d.egress_rules)?;
    log_rate(d.log_rate_limit_bytes_per_second)
}

pub fn desired_lrp_update(u: &DesiredLrpUpdate) -> R {
    if let Some(n) = u.instances {
        non_negative("instances", n)?;
    }
    if let Some(a) = &u.annotation {
        annotation(a)?;
    }
    if let Some(r) = &u.routes {
        routes_size(r)?;
    }
    if let Some(t) = &u.metric_tags {
        metric_tags(t)?;
    }
    if u.image_username.is_some() || u.image_password.is_some() {
        image_credentials(
            u.image_username.as_deref().unwrap_or(""),
            u.image_password.as_deref().unwrap_or(""),
        )?;
    }
    Ok(())
}

/// The original's `SecurityGroupRule.Validate`: a known protocol; tcp and
/// udp take ports or a port range (not both) and no icmp info; icmp takes
/// icmp info and no ports; `all` takes none of them; at least one
/// destination, each an IP, a CIDR or an ascending range `a-b`.
fn egress_rules(rules: &[crate::SecurityGroupRule]) -> R {
    for (i, rule) in rules.iter().enumerate() {
        let field = |name: &str| format!("egress_rules[{i}].{name}");
        let has_ports = !rule.ports.is_empty() || rule.port_range.is_some();
        match rule.protocol.as_str() {
            "tcp" | "udp" => {
                if rule.ports.is_empty() == rule.port_range.is_none() {
                    return Err(bad(
                        &field("ports"),
                        "give either ports or port_range for tcp and udp",
                    ));
                }
                if rule.ports.contains(&0) {
                    return Err(bad(&field("ports"), "must be 1 or more"));
                }
                if let Some(r) = rule.port_range {
                    if r.start < 1 || r.end < 1 || r.start > r.end {
                        return Err(bad(
                            &field("port_range"),
                            "must be 1 or more with start at most end",
                        ));
                    }
                }
                if rule.icmp_info.is_some() {
                    return Err(bad(&field("icmp_info"), "is only for icmp"));
                }
            }
            "icmp" => {
                if has_ports {
                    return Err(bad(&field("ports"), "are not allowed for icmp"));
                }
                if rule.icmp_info.is_none() {
                    return Err(bad(&field("icmp_info"), "is required for icmp"));
                }
            }
            "all" => {
                if has_ports {
                    return Err(bad(&field("ports"), "are not allowed for all"));
                }
                if rule.icmp_info.is_some() {
                    return Err(bad(&field("icmp_info"), "is only for icmp"));
                }
            }
            other => {
                return Err(bad(
                    &field("protocol"),
                    &format!("{other:?} is not one of tcp, udp, icmp, all"),
                ))
            }
        }
        if rule.destinations.is_empty() {
            return Err(bad(&field("destinations"), "must not be empty"));
        }
        for (j, d) in rule.destinations.iter().enumerate() {
            if !destination(d) {
                return Err(bad(
                    &field(&format!("destinations[{j}]")),
                    &format!("{d:?} is not an IP, a CIDR or an ascending range a-b"),
                ));
            }
        }
    }
    Ok(())
}

fn destination(d: &str) -> bool {
    use std::net::IpAddr;
    if let Some((ip, prefix)) = d.split_once('/') {
        let max_prefix = match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => 32,
            Ok(IpAddr::V6(_)) => 128,
            Err(_) => return false,
        };
        return prefix.parse::<u8>().is_ok_and(|p| p <= max_prefix);
    }
    if let Some((first, last)) = d.split_once('-') {
        return match (first.parse::<IpAddr>(), last.parse::<IpAddr>()) {
            (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(b))) => a <= b,
            (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(b))) => a <= b,
            _ => false,
        };
    }
    d.parse::<IpAddr>().is_ok()
}
