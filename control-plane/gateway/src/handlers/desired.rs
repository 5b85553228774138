//! Desired LRP, domain and cell routes.

use bytes::Bytes;
use diego_model::ModelError;
use diego_proto::compat::{self, version};
use diego_proto::models as w;

use super::{decode, encode};
use crate::api::BbsApi;

type R<T> = Result<T, ModelError>;

/// What the list and get handlers return: metrics guid populated. Stored
/// records have no image layers, so r2 and r3 are the same bytes.
fn out(d: diego_model::DesiredLrp) -> w::DesiredLrp {
    let mut d: w::DesiredLrp = d.into();
    version::populate_metrics_guid(&mut d);
    d
}

/// `DesiredLRPsRequest` filters: app guids match process guid prefixes.
async fn list(
    bbs: &dyn BbsApi,
    body: Option<&Bytes>,
    app_guids: bool,
) -> R<Vec<diego_model::DesiredLrp>> {
    let w::DesiredLrPsRequest {
        domain,
        process_guids,
        app_guids: apps,
    } = decode(body)?;
    let all = bbs.desired_lrps(&domain, process_guids).await?;
    Ok(all
        .into_iter()
        .filter(|d| {
            !app_guids
                || apps.is_empty()
                || apps.iter().any(|a| d.process_guid.starts_with(a.as_str()))
        })
        .collect())
}

async fn lifecycle(
    bbs: &dyn BbsApi,
    name: &str,
    body: Option<&Bytes>,
) -> R<w::DesiredLrpLifecycleResponse> {
    match name {
        "DesireDesiredLRP" => {
            let w::DesireLrpRequest { desired_lrp } = decode(body)?;
            let d = desired_lrp
                .ok_or_else(|| ModelError::invalid_field("desired_lrp", "is missing"))?;
            bbs.desire_lrp(compat::desired_lrp_from(d)?).await
        }
        "UpdateDesireLRP" => {
            let w::UpdateDesiredLrpRequest {
                process_guid,
                update,
            } = decode(body)?;
            let u = update.ok_or_else(|| ModelError::invalid_field("update", "is missing"))?;
            diego_model::validate::guid("process_guid", &process_guid)?;
            bbs.update_desired_lrp(&process_guid, compat::desired_lrp_update_from(u)?)
                .await
        }
        _ => {
            let w::RemoveDesiredLrpRequest { process_guid } = decode(body)?;
            diego_model::validate::guid("process_guid", &process_guid)?;
            bbs.remove_desired_lrp(&process_guid).await
        }
    }?;
    Ok(w::DesiredLrpLifecycleResponse { error: None })
}

fn cell_out(c: diego_model::CellPresence) -> w::CellPresence {
    let diego_model::CellPresence {
        cell_id,
        rep_address,
        zone,
        capacity,
        rootfs_providers,
        placement_tags,
        optional_placement_tags,
        rep_url,
        annotations,
    } = c;
    let diego_model::CellCapacity {
        memory_mb,
        disk_mb,
        containers,
    } = capacity;
    w::CellPresence {
        cell_id,
        rep_address,
        zone,
        capacity: Some(w::CellCapacity {
            memory_mb,
            disk_mb,
            containers,
        }),
        rootfs_providers: rootfs_providers
            .into_iter()
            .map(|diego_model::Provider { name, properties }| w::Provider { name, properties })
            .collect(),
        placement_tags,
        optional_placement_tags,
        rep_url,
        annotations,
    }
}

pub(super) async fn call(bbs: &dyn BbsApi, name: &str, body: Option<&Bytes>) -> Option<Vec<u8>> {
    Some(match name {
        "Domains" => encode(
            async {
                let domains = bbs.domains().await?;
                Ok(w::DomainsResponse {
                    error: None,
                    domains,
                })
            }
            .await,
        ),
        "UpsertDomain" => encode(
            async {
                let w::UpsertDomainRequest { domain, ttl } = decode(body)?;
                bbs.upsert_domain(&domain, ttl).await?;
                Ok(w::UpsertDomainResponse { error: None })
            }
            .await,
        ),
        "Cells" => encode(
            async {
                let cells = bbs.cells().await?;
                Ok(w::CellsResponse {
                    error: None,
                    cells: cells.into_iter().map(cell_out).collect(),
                })
            }
            .await,
        ),
        "DesireDesiredLRP" | "UpdateDesireLRP" | "RemoveDesiredLRP" => {
            encode(lifecycle(bbs, name, body).await)
        }
        "DesiredLRPs" | "DesiredLRPs_r2" => encode(
            async {
                let lrps = list(bbs, body, true).await?;
                Ok(w::DesiredLrPsResponse {
                    error: None,
                    desired_lrps: lrps.into_iter().map(out).collect(),
                })
            }
            .await,
        ),
        // The route emitter's partial records: keys, instances, routes,
        // metric tags, modification tag; app guids are ignored.
        "DesiredLRPRoutingInfos" => encode(
            async {
                let lrps = list(bbs, body, false).await?;
                Ok(w::DesiredLrPsResponse {
                    error: None,
                    desired_lrps: lrps.into_iter().map(routing_info).collect(),
                })
            }
            .await,
        ),
        "DesiredLRPByProcessGuid" | "DesiredLRPByProcessGuid_r2" => encode(
            async {
                let w::DesiredLrpByProcessGuidRequest { process_guid } = decode(body)?;
                let d = bbs.desired_lrp(&process_guid).await?;
                Ok(w::DesiredLrpResponse {
                    error: None,
                    desired_lrp: Some(out(d)),
                })
            }
            .await,
        ),
        "DesiredLRPSchedulingInfos" => encode(
            async {
                let lrps = list(bbs, body, true).await?;
                Ok(w::DesiredLrpSchedulingInfosResponse {
                    error: None,
                    desired_lrp_scheduling_infos: lrps
                        .iter()
                        .map(|d| compat::scheduling_info(d.scheduling_info()))
                        .collect(),
                })
            }
            .await,
        ),
        "DesiredLRPSchedulingInfoByProcessGuid" => encode(
            async {
                let w::DesiredLrpByProcessGuidRequest { process_guid } = decode(body)?;
                let d = bbs.desired_lrp(&process_guid).await?;
                Ok(w::DesiredLrpSchedulingInfoByProcessGuidResponse {
                    error: None,
                    desired_lrp_scheduling_info: Some(compat::scheduling_info(d.scheduling_info())),
                })
            }
            .await,
        ),
        _ => return None,
    })
}

fn routing_info(d: diego_model::DesiredLrp) -> w::DesiredLrp {
    let full = out(d);
    w::DesiredLrp {
        process_guid: full.process_guid,
        domain: full.domain,
        log_guid: full.log_guid,
        instances: full.instances,
        routes: full.routes,
        modification_tag: full.modification_tag,
        metric_tags: full.metric_tags,
        ..Default::default()
    }
}
