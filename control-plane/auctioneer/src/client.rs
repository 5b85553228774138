//! The auctioneer API as the BBS calls it (ADR 0013): one channel to one
//! auctioneer URL; finding which URL is the caller's business (the lock).

use std::time::Duration;

use diego_bbs::LrpAuction;
use diego_model::Task;
use diego_proto::auctioneer::v1 as pb;
use diego_proto::auctioneer::v1::auctioneer_client::AuctioneerClient as PbClient;
use diego_proto::bbs::v1 as bbs_pb;
use diego_proto::convert::auctioneer::lrp_start_request;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::requests::task_start;

/// PEM material for calling an auctioneer over mutual TLS.
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Clone)]
pub struct AuctioneerClient {
    url: String,
    inner: PbClient<Channel>,
}

impl AuctioneerClient {
    /// A client for `url` (`http://` or `https://`); connects on first use.
    /// `https://` needs `tls`; every call is bounded by `timeout`.
    pub fn lazy(url: &str, tls: Option<ClientTls>, timeout: Duration) -> Result<Self, String> {
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| format!("invalid auctioneer url {url:?}: {e}"))?;
        if url.starts_with("https://") {
            let tls = tls.ok_or_else(|| {
                format!(
                    "the auctioneer at {url} serves tls but this process has no tls certificates"
                )
            })?;
            let cfg = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(tls.ca_pem))
                .identity(Identity::from_pem(tls.cert_pem, tls.key_pem));
            endpoint = endpoint
                .tls_config(cfg)
                .map_err(|e| format!("tls for the auctioneer at {url}: {e}"))?;
        }
        let channel = endpoint
            .timeout(timeout)
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(AuctioneerClient {
            url: url.to_string(),
            inner: PbClient::new(channel),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn request_lrp_auctions(&self, starts: Vec<LrpAuction>) -> Result<(), String> {
        let req = pb::RequestLrpAuctionsRequest {
            lrps: starts
                .into_iter()
                .map(|s| lrp_start_request(&s.info, s.indices))
                .collect(),
        };
        self.inner
            .clone()
            .request_lrp_auctions(req)
            .await
            .map_err(|e| self.failed("lrp auctions", &e))?;
        Ok(())
    }

    pub async fn request_task_auctions(&self, tasks: Vec<Task>) -> Result<(), String> {
        let req = pb::RequestTaskAuctionsRequest {
            tasks: tasks.into_iter().map(|t| task_start(t).into()).collect(),
        };
        self.inner
            .clone()
            .request_task_auctions(req)
            .await
            .map_err(|e| self.failed("task auctions", &e))?;
        Ok(())
    }

    pub async fn placement_decisions(
        &self,
        req: bbs_pb::PlacementDecisionsRequest,
    ) -> Result<bbs_pb::PlacementDecisionsResponse, tonic::Status> {
        Ok(self
            .inner
            .clone()
            .placement_decisions(req)
            .await?
            .into_inner())
    }

    fn failed(&self, what: &str, e: &tonic::Status) -> String {
        let mut msg = format!("auctioneer at {}: {what}: {}", self.url, e.message());
        // transport failures carry their cause (refused, tls) as the source
        if let Some(cause) = std::error::Error::source(e) {
            msg.push_str(&format!(" ({cause})"));
        }
        msg
    }
}
