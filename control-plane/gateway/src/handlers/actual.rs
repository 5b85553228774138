//! Actual LRP, deprecated group and evacuation routes.

use bytes::Bytes;
use diego_model::{ActualLrp, ModelError, RunningInfo};
use diego_proto::compat::{self, group_of, instance_key_from, key_from};
use diego_proto::models as w;
use diego_sdk::ActualFilter;

use super::{decode, encode};
use crate::api::BbsApi;

type R<T> = Result<T, ModelError>;

fn lrps_out(v: Vec<ActualLrp>) -> Vec<w::ActualLrp> {
    v.into_iter().map(Into::into).collect()
}

/// The deprecated group view: one group per index, the ordinary (or
/// suspect) row as instance and the evacuating row beside it.
fn groups(v: Vec<ActualLrp>) -> Vec<w::ActualLrpGroup> {
    let mut out: Vec<(diego_model::ActualLrpKey, w::ActualLrpGroup)> = Vec::new();
    for a in v {
        let g = group_of(&a);
        match out.iter_mut().find(|(k, _)| *k == a.key) {
            Some((_, existing)) => {
                if g.instance.is_some() && existing.instance.is_none() {
                    existing.instance = g.instance;
                }
                if g.evacuating.is_some() {
                    existing.evacuating = g.evacuating;
                }
            }
            None => out.push((a.key.clone(), g)),
        }
    }
    out.into_iter().map(|(_, g)| g).collect()
}

fn running_info(
    net: Option<w::ActualLrpNetInfo>,
    routes: Vec<w::ActualLrpInternalRoute>,
    metric_tags: std::collections::BTreeMap<String, String>,
    routable: Option<bool>,
    availability_zone: String,
    r0: bool,
) -> RunningInfo {
    // The r0 revisions predate internal routes and metric tags and ignore them.
    let (routes, metric_tags) = if r0 {
        (Vec::new(), Default::default())
    } else {
        (compat::internal_routes_from(routes), metric_tags)
    };
    RunningInfo {
        net_info: compat::net_info_from(net),
        internal_routes: routes,
        metric_tags,
        routable,
        availability_zone,
    }
}

async fn lifecycle(bbs: &dyn BbsApi, name: &str, body: Option<&Bytes>) -> R<()> {
    match name {
        "ClaimActualLRP" => {
            let w::ClaimActualLrpRequest {
                process_guid,
                index,
                actual_lrp_instance_key,
            } = decode(body)?;
            let ik = instance_key_from(actual_lrp_instance_key);
            bbs.claim_actual_lrp(&process_guid, index, &ik).await
        }
        "StartActualLRP" | "StartActualLRP_r0" => {
            let w::StartActualLrpRequest {
                actual_lrp_key,
                actual_lrp_instance_key,
                actual_lrp_net_info,
                actual_lrp_internal_routes,
                metric_tags,
                optional_routable,
                availability_zone,
            } = decode(body)?;
            let routable = optional_routable
                .map(|w::start_actual_lrp_request::OptionalRoutable::Routable(r)| r);
            let info = running_info(
                actual_lrp_net_info,
                actual_lrp_internal_routes,
                metric_tags,
                routable,
                availability_zone,
                name.ends_with("_r0"),
            );
            let (k, ik) = (
                key_from(actual_lrp_key),
                instance_key_from(actual_lrp_instance_key),
            );
            bbs.start_actual_lrp(&k, &ik, &info).await
        }
        "CrashActualLRP" => {
            let w::CrashActualLrpRequest {
                actual_lrp_key,
                actual_lrp_instance_key,
                error_message,
            } = decode(body)?;
            let (k, ik) = (
                key_from(actual_lrp_key),
                instance_key_from(actual_lrp_instance_key),
            );
            bbs.crash_actual_lrp(&k, &ik, &error_message).await
        }
        "FailActualLRP" => {
            let w::FailActualLrpRequest {
                actual_lrp_key,
                error_message,
            } = decode(body)?;
            bbs.fail_actual_lrp(&key_from(actual_lrp_key), &error_message)
                .await
        }
        "RemoveActualLRP" => {
            let w::RemoveActualLrpRequest {
                process_guid,
                index,
                actual_lrp_instance_key,
            } = decode(body)?;
            let ik = actual_lrp_instance_key.map(|k| instance_key_from(Some(k)));
            bbs.remove_actual_lrp(&process_guid, index, ik.as_ref())
                .await
        }
        _ => {
            let w::RetireActualLrpRequest { actual_lrp_key } = decode(body)?;
            bbs.retire_actual_lrp(&key_from(actual_lrp_key)).await
        }
    }
}

async fn evacuate(bbs: &dyn BbsApi, name: &str, body: Option<&Bytes>) -> R<bool> {
    match name {
        "EvacuateClaimedActualLRP" | "EvacuateStoppedActualLRP" => {
            let w::EvacuateClaimedActualLrpRequest {
                actual_lrp_key,
                actual_lrp_instance_key,
            } = decode(body)?;
            let (k, ik) = (
                key_from(actual_lrp_key),
                instance_key_from(actual_lrp_instance_key),
            );
            if name == "EvacuateClaimedActualLRP" {
                bbs.evacuate_claimed_actual_lrp(&k, &ik).await
            } else {
                bbs.evacuate_stopped_actual_lrp(&k, &ik).await
            }
        }
        "EvacuateCrashedActualLRP" => {
            let w::EvacuateCrashedActualLrpRequest {
                actual_lrp_key,
                actual_lrp_instance_key,
                error_message,
            } = decode(body)?;
            let (k, ik) = (
                key_from(actual_lrp_key),
                instance_key_from(actual_lrp_instance_key),
            );
            bbs.evacuate_crashed_actual_lrp(&k, &ik, &error_message)
                .await
        }
        _ => {
            let w::EvacuateRunningActualLrpRequest {
                actual_lrp_key,
                actual_lrp_instance_key,
                actual_lrp_net_info,
                actual_lrp_internal_routes,
                metric_tags,
                optional_routable,
                availability_zone,
            } = decode(body)?;
            let routable = optional_routable
                .map(|w::evacuate_running_actual_lrp_request::OptionalRoutable::Routable(r)| r);
            let info = running_info(
                actual_lrp_net_info,
                actual_lrp_internal_routes,
                metric_tags,
                routable,
                availability_zone,
                name.ends_with("_r0"),
            );
            let (k, ik) = (
                key_from(actual_lrp_key),
                instance_key_from(actual_lrp_instance_key),
            );
            bbs.evacuate_running_actual_lrp(&k, &ik, &info).await
        }
    }
}

async fn list(bbs: &dyn BbsApi, f: ActualFilter) -> R<Vec<ActualLrp>> {
    bbs.actual_lrps(f).await
}

/// Filtered reads in flight at once for `ActualLRPsByProcessGuids`.
const GUID_READS_IN_FLIGHT: usize = 16;

/// The actual LRPs of `process_guids` (each once, in the order asked), one
/// filtered read per guid (the BBS reads an LRP's rows by key prefix) rather
/// than the whole table; an empty list means every LRP, as the original.
async fn list_by_process_guids(bbs: &dyn BbsApi, process_guids: Vec<String>) -> R<Vec<ActualLrp>> {
    use futures::{StreamExt, TryStreamExt};
    if process_guids.is_empty() {
        return list(bbs, ActualFilter::default()).await;
    }
    let mut seen = std::collections::HashSet::new();
    let guids: Vec<String> = process_guids
        .into_iter()
        .filter(|g| seen.insert(g.clone()))
        .collect();
    let per_guid: Vec<Vec<ActualLrp>> = futures::stream::iter(guids)
        .map(|process_guid| {
            list(
                bbs,
                ActualFilter {
                    process_guid,
                    ..Default::default()
                },
            )
        })
        .buffered(GUID_READS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(per_guid.into_iter().flatten().collect())
}

pub(super) async fn call(bbs: &dyn BbsApi, name: &str, body: Option<&Bytes>) -> Option<Vec<u8>> {
    Some(match name {
        "ClaimActualLRP" | "StartActualLRP" | "StartActualLRP_r0" | "CrashActualLRP"
        | "FailActualLRP" | "RemoveActualLRP" | "RetireActualLRP" => encode(
            lifecycle(bbs, name, body)
                .await
                .map(|()| w::ActualLrpLifecycleResponse { error: None }),
        ),
        "EvacuateClaimedActualLRP"
        | "EvacuateStoppedActualLRP"
        | "EvacuateCrashedActualLRP"
        | "EvacuateRunningActualLRP"
        | "EvacuateRunningActualLRP_r0" => encode(evacuate(bbs, name, body).await.map(
            |keep_container| w::EvacuationResponse {
                error: None,
                keep_container,
            },
        )),
        "RemoveEvacuatingActualLRP" => encode(
            async {
                let w::RemoveEvacuatingActualLrpRequest {
                    actual_lrp_key,
                    actual_lrp_instance_key,
                } = decode(body)?;
                let (k, ik) = (
                    key_from(actual_lrp_key),
                    instance_key_from(actual_lrp_instance_key),
                );
                bbs.remove_evacuating_actual_lrp(&k, &ik).await?;
                Ok(w::RemoveEvacuatingActualLrpResponse { error: None })
            }
            .await,
        ),
        "ActualLRPs" => encode(
            async {
                let w::ActualLrPsRequest {
                    domain,
                    cell_id,
                    process_guid,
                    optional_index,
                } = decode(body)?;
                let index =
                    optional_index.map(|w::actual_lr_ps_request::OptionalIndex::Index(i)| i);
                let f = ActualFilter {
                    domain,
                    cell_id,
                    process_guid,
                    index,
                };
                Ok(w::ActualLrPsResponse {
                    error: None,
                    actual_lrps: lrps_out(list(bbs, f).await?),
                })
            }
            .await,
        ),
        "ActualLRPsByProcessGuids" => encode(
            async {
                let w::ActualLrPsByProcessGuidsRequest { process_guids } = decode(body)?;
                Ok(w::ActualLrPsByProcessGuidsResponse {
                    error: None,
                    actual_lrps: lrps_out(list_by_process_guids(bbs, process_guids).await?),
                })
            }
            .await,
        ),
        "ActualLRPGroups" => encode(
            async {
                let w::ActualLrpGroupsRequest { domain, cell_id } = decode(body)?;
                let f = ActualFilter {
                    domain,
                    cell_id,
                    ..Default::default()
                };
                Ok(w::ActualLrpGroupsResponse {
                    error: None,
                    actual_lrp_groups: groups(list(bbs, f).await?),
                })
            }
            .await,
        ),
        "ActualLRPGroupsByProcessGuid" => encode(
            async {
                let w::ActualLrpGroupsByProcessGuidRequest { process_guid } = decode(body)?;
                let f = ActualFilter {
                    process_guid,
                    ..Default::default()
                };
                Ok(w::ActualLrpGroupsResponse {
                    error: None,
                    actual_lrp_groups: groups(list(bbs, f).await?),
                })
            }
            .await,
        ),
        "ActualLRPGroupsByProcessGuidAndIndex" => encode(
            async {
                let w::ActualLrpGroupByProcessGuidAndIndexRequest {
                    process_guid,
                    index,
                } = decode(body)?;
                let f = ActualFilter {
                    process_guid,
                    index: Some(index),
                    ..Default::default()
                };
                let group = groups(list(bbs, f).await?)
                    .into_iter()
                    .next()
                    .ok_or_else(ModelError::not_found)?;
                Ok(w::ActualLrpGroupResponse {
                    error: None,
                    actual_lrp_group: Some(group),
                })
            }
            .await,
        ),
        _ => return None,
    })
}
