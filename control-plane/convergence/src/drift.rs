//! Route and metric tag drift (spec §5.3 rules 13 and 14): a RUNNING
//! instance whose container was told other internal routes or metric tags
//! than its desired LRP now has gets an update through its rep.

use std::collections::BTreeMap;

use diego_model::{resolve_metric_tags, ActualLrp, ActualState, MetricTagValue, Presence};

/// Tell the instance's rep the desired internal routes and resolved metric
/// tags; the rep updates the container and reports the instance again.
#[derive(Debug, Clone, PartialEq)]
pub struct LrpInstanceUpdate {
    pub actual: ActualLrp,
    /// Sorted hostnames of the desired `internal-router` routes.
    pub internal_routes: Vec<String>,
    /// The desired metric tags resolved for this instance.
    pub metric_tags: BTreeMap<String, String>,
}

/// The update an ORDINARY RUNNING row needs, if its stored routes or tags
/// drifted from the desired ones (`desired_routes`: the desired LRP's
/// `internal_route_hostnames`, worked out once per LRP). Routes compare as sets. Rows that stored no
/// metric tags are not compared on tags (reps that predate them report
/// none), as in Diego.
pub(crate) fn drift(
    actual: &ActualLrp,
    desired_routes: &[String],
    desired_tags: Option<&BTreeMap<String, MetricTagValue>>,
) -> Option<LrpInstanceUpdate> {
    if actual.presence != Presence::Ordinary || actual.state != ActualState::Running {
        return None;
    }
    // `desired_routes` is sorted and deduplicated; stored routes usually
    // are too, and then compare without a copy
    let stored = &actual.internal_routes;
    let routes_drifted = if stored.windows(2).all(|w| w[0] < w[1]) {
        stored[..] != *desired_routes
    } else {
        let mut sorted = stored.clone();
        sorted.sort();
        sorted.dedup();
        sorted[..] != *desired_routes
    };
    let metric_tags = desired_tags
        .map(|t| resolve_metric_tags(t, actual.key.index, &actual.instance_key.instance_guid))
        .unwrap_or_default();
    let tags_drifted = !actual.metric_tags.is_empty() && actual.metric_tags != metric_tags;
    (routes_drifted || tags_drifted).then(|| LrpInstanceUpdate {
        actual: actual.clone(),
        internal_routes: desired_routes.to_vec(),
        metric_tags,
    })
}
