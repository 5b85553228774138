//! An instance's internal routes and resolved metric tags, kept in its
//! container's tags so they survive in the executor's record and can be
//! changed while it runs (rep `UpdateLrpInstance`, spec §5 route/tag drift).

use std::collections::BTreeMap;

const TAG_INTERNAL_ROUTES: &str = "internal-routes";
const TAG_METRIC_TAGS: &str = "metric-tags";

/// The container tags that carry `routes` and `metric_tags`.
pub(crate) fn to_tags(
    routes: &[String],
    metric_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut routes = routes.to_vec();
    routes.sort();
    routes.dedup();
    BTreeMap::from([
        (
            TAG_INTERNAL_ROUTES.to_string(),
            serde_json::to_string(&routes).unwrap_or_default(),
        ),
        (
            TAG_METRIC_TAGS.to_string(),
            serde_json::to_string(metric_tags).unwrap_or_default(),
        ),
    ])
}

/// What `to_tags` stored in a container's tags; empty where it has none.
pub(crate) fn from_tags(
    tags: &BTreeMap<String, String>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let routes = tags
        .get(TAG_INTERNAL_ROUTES)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let metric_tags = tags
        .get(TAG_METRIC_TAGS)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    (routes, metric_tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_tags_round_trip_through_container_tags() {
        let tags = BTreeMap::from([("instance".to_string(), "3".to_string())]);
        let stored = to_tags(&["b.internal".into(), "a.internal".into()], &tags);
        let (routes, got) = from_tags(&stored);
        assert_eq!(routes, vec!["a.internal".to_string(), "b.internal".into()]);
        assert_eq!(got, tags);
        assert_eq!(from_tags(&BTreeMap::new()).0, Vec::<String>::new());
    }
}
