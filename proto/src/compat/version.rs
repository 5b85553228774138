//! Model versions (spec §2.6). The domain model carries no image layers and
//! no cached dependencies, so V3 and V2 records are byte-identical on the way
//! out, and on the way in both are lowered into download actions exactly as
//! the original's V3 -> V2 -> V0 down-conversion does.

use diego_model as m;

use super::action::download_from;
use crate::models as w;

/// Which revision of a route or stream a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// r0 streams: timeouts also in their deprecated fields.
    V0,
    /// r2 routes: no image layers (identical to V3 for our records).
    V2,
    V3,
}

/// Prepends the downloads that image layers and cached dependencies stand
/// for to `action`: exclusive layers and cached dependencies become a
/// Parallel of downloads run in a Serial before it; shared layers become
/// cached dependencies first (prepended), as `VersionDownTo(V2)` does.
pub(crate) fn lower_downloads(
    image_layers: Vec<w::ImageLayer>,
    cached_dependencies: Vec<w::CachedDependency>,
    legacy_download_user: &str,
    action: Option<m::Action>,
) -> Option<m::Action> {
    let mut shared = Vec::new();
    let mut exclusive = Vec::new();
    for layer in image_layers {
        let w::ImageLayer {
            name,
            url,
            destination_path,
            layer_type,
            media_type: _,
            digest_algorithm,
            digest_value,
        } = layer;
        let algorithm = match w::image_layer::DigestAlgorithm::try_from(digest_algorithm) {
            Ok(w::image_layer::DigestAlgorithm::Sha256) => "sha256",
            Ok(w::image_layer::DigestAlgorithm::Sha512) => "sha512",
            _ => "",
        };
        let dl = m::DownloadAction {
            artifact: name,
            from: url,
            to: destination_path,
            cache_key: if layer_type == w::image_layer::Type::Shared as i32 {
                format!("{algorithm}:{digest_value}")
            } else {
                String::new()
            },
            log_source: String::new(),
            user: legacy_download_user.to_string(),
            checksum_algorithm: algorithm.to_string(),
            checksum_value: digest_value,
        };
        if layer_type == w::image_layer::Type::Shared as i32 {
            shared.push(dl);
        } else {
            exclusive.push(dl);
        }
    }
    let cached = cached_dependencies.into_iter().map(|c| {
        let w::CachedDependency {
            name,
            from,
            to,
            cache_key,
            log_source,
            checksum_algorithm,
            checksum_value,
        } = c;
        download_from(w::DownloadAction {
            artifact: name,
            from,
            to,
            cache_key,
            log_source,
            user: legacy_download_user.to_string(),
            checksum_algorithm,
            checksum_value,
        })
    });
    let downloads: Vec<m::Action> = shared
        .into_iter()
        .chain(cached)
        .chain(exclusive)
        .map(m::Action::Download)
        .collect();
    if downloads.is_empty() {
        return action;
    }
    let parallel = m::Action::Parallel(m::ParallelAction {
        actions: downloads,
        log_source: String::new(),
    });
    Some(match action {
        None => parallel,
        Some(a) => m::Action::Serial(m::SerialAction {
            actions: vec![parallel, a],
            log_source: String::new(),
        }),
    })
}

/// V1 -> V0 on an outgoing action tree: every timeout also carries its
/// deprecated nanosecond field, which V0 readers use.
pub fn action_to_v0(a: &mut w::Action) {
    if let Some(t) = a.timeout_action.as_mut() {
        t.deprecated_timeout_ns = t.timeout_ms.saturating_mul(1_000_000);
        if let Some(inner) = t.action.as_mut() {
            action_to_v0(inner);
        }
    }
    if let Some(inner) = a
        .emit_progress_action
        .as_mut()
        .and_then(|e| e.action.as_mut())
    {
        action_to_v0(inner);
    }
    if let Some(inner) = a.try_action.as_mut().and_then(|e| e.action.as_mut()) {
        action_to_v0(inner);
    }
    let lists = [
        a.parallel_action.as_mut().map(|p| &mut p.actions),
        a.serial_action.as_mut().map(|p| &mut p.actions),
        a.codependent_action.as_mut().map(|p| &mut p.actions),
    ];
    for list in lists.into_iter().flatten() {
        list.iter_mut().for_each(action_to_v0);
    }
}

/// A desired LRP as a V0 reader expects it.
pub fn desired_to_v0(d: &mut w::DesiredLrp) {
    d.deprecated_start_timeout_s = u32::try_from(d.start_timeout_ms / 1000).unwrap_or(0);
    for a in [&mut d.setup, &mut d.action, &mut d.monitor]
        .into_iter()
        .flatten()
    {
        action_to_v0(a);
    }
}

/// A task as a V0 reader expects it.
pub fn task_to_v0(t: &mut w::Task) {
    if let Some(a) = t.task_definition.as_mut().and_then(|d| d.action.as_mut()) {
        action_to_v0(a);
    }
}

/// `PopulateMetricsGuid` of the list and get handlers: `metrics_guid` and
/// `metric_tags["source_id"]` each fill the other when missing.
pub fn populate_metrics_guid(d: &mut w::DesiredLrp) {
    let guid = &mut d.metrics_guid;
    match d.metric_tags.get("source_id") {
        Some(tag) if guid.is_empty() => *guid = tag.r#static.clone(),
        None if !guid.is_empty() => {
            d.metric_tags.insert(
                "source_id".to_string(),
                w::MetricTagValue {
                    r#static: guid.clone(),
                    dynamic: 0,
                },
            );
        }
        _ => {}
    }
}
