//! The Rust client of the BBS gRPC API (`diego.bbs.v1`). It speaks domain
//! types: callers never see generated protobuf types, and every error is a
//! `ModelError` with the original's error type.

mod failover;
mod lrps;

use std::collections::BTreeMap;

use diego_model::{CellPresence, ErrorCode, Event, ModelError, Task, TaskDefinition};
use diego_proto::bbs::v1 as pb;
use diego_proto::bbs::v1::bbs_client::BbsClient;
use diego_proto::status::from_status;
use futures::{Stream, StreamExt};
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::failover::FailoverChannel;

pub use lrps::*;

/// TLS material for an `https://` endpoint (PEM).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
}

#[derive(Clone)]
pub struct Client {
    pub(crate) inner: BbsClient<FailoverChannel>,
    channel: FailoverChannel,
}

/// How long a request waits for an active BBS among several replicas (a
/// failover takes about one lock TTL).
const FAILOVER_BUDGET: Duration = Duration::from_secs(20);

pub type Result<T> = std::result::Result<T, ModelError>;

pub(crate) fn err(s: tonic::Status) -> ModelError {
    let e = from_status(&s);
    // A transport failure (a refused TLS handshake, a dropped connection)
    // carries its cause as the status's source; say what it means.
    match std::error::Error::source(&s) {
        Some(cause) => ModelError::new(e.code, explained(&e.message, cause)),
        None => e,
    }
}

/// `message`, then the meaning of a TLS failure in `cause` when known, then
/// the whole cause chain.
fn explained(message: &str, cause: &(dyn std::error::Error + 'static)) -> String {
    let chain = diego_tls::error_chain(cause);
    match diego_tls::explain(&chain) {
        Some(meaning) => format!("{message}: {meaning} ({chain})"),
        None => format!("{message}: {chain}"),
    }
}

pub(crate) fn missing(field: &str) -> ModelError {
    ModelError::new(
        ErrorCode::InvalidResponse,
        format!("response is missing {field}"),
    )
}

/// One event of a watch, with the revision to resume from.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedEvent {
    pub revision: u64,
    /// The event's place among its revision's events: resume with
    /// `since_revision = revision` and `since_position = Some(position)`.
    pub position: u32,
    pub event: Event,
    /// The request id of the call that caused the event (empty for the
    /// BBS's own changes, such as convergence and auctions).
    pub trace_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub kinds: Vec<String>,
    pub process_guid: String,
    pub cell_id: String,
    /// Resume after this revision; 0 = only new events.
    pub since_revision: u64,
    /// With `since_revision`: the last position of it already seen (one
    /// revision can hold many events); `None` = it was seen whole.
    pub since_position: Option<u32>,
}

/// Whether a connect failure is "connection refused": the server is not
/// listening (yet), as opposed to a bad address or a TLS failure.
fn refused(e: &tonic::transport::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = s.source();
    }
    false
}

fn unreachable(api: &str, e: &tonic::transport::Error) -> ModelError {
    ModelError::new(
        ErrorCode::UnknownError,
        explained(&format!("cannot reach the bbs at {api}"), e),
    )
}

/// One BBS address as a tonic endpoint, with TLS when certificates are given.
fn endpoint(api: &str, tls: Option<TlsFiles>) -> Result<Endpoint> {
    let mut endpoint = Endpoint::from_shared(api.to_string()).map_err(|e| {
        ModelError::new(
            ErrorCode::InvalidRequest,
            format!("invalid api address {api}: {e}"),
        )
    })?;
    endpoint = endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true);
    if tls.is_some() && !api.starts_with("https://") {
        return Err(ModelError::new(
            ErrorCode::InvalidRequest,
            format!("tls certificates were given but the bbs address {api} is not https://"),
        ));
    }
    if let Some(t) = tls {
        let mut cfg = ClientTlsConfig::new();
        if let Some(ca) = t.ca_pem {
            cfg = cfg.ca_certificate(Certificate::from_pem(ca));
        }
        if let (Some(c), Some(k)) = (t.cert_pem, t.key_pem) {
            cfg = cfg.identity(Identity::from_pem(c, k));
        }
        endpoint = endpoint.tls_config(cfg).map_err(|e| unreachable(api, &e))?;
    }
    Ok(endpoint)
}

impl Client {
    /// Connects to `http://host:port` or `https://host:port`; with several
    /// comma-separated addresses (BBS replicas), requests go to whichever is
    /// active and follow it through failovers.
    pub async fn connect(api: &str, tls: Option<TlsFiles>) -> Result<Client> {
        let addresses: Vec<&str> = api
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        match addresses.as_slice() {
            [] => Err(ModelError::new(
                ErrorCode::InvalidRequest,
                "no bbs address given",
            )),
            // one address: connect now, so a wrong address fails at once
            [one] => Self::connect_one(one, tls).await.map_err(|(e, _)| e),
            _ => {
                let mut lazy = Vec::with_capacity(addresses.len());
                for a in &addresses {
                    lazy.push(endpoint(a, tls.clone())?.connect_lazy());
                }
                Ok(Client::over(FailoverChannel::new(lazy, FAILOVER_BUDGET)))
            }
        }
    }

    /// Connects to one BBS that may still be starting (a node started
    /// beside it, a supervisor restarting it): retries with backoff while
    /// nothing listens at the address, up to `max_delay_ms` between tries,
    /// and fails at once on any other error (a wrong name, a TLS refusal).
    /// A list of replicas connects lazily, as [`Client::connect`] does.
    pub async fn connect_when_listening(
        api: &str,
        tls: Option<TlsFiles>,
        max_delay_ms: u64,
    ) -> Result<Client> {
        if api.contains(',') {
            // several replicas connect lazily and follow the active one
            return Self::connect(api, tls).await;
        }
        let mut delay_ms = 250.min(max_delay_ms.max(1));
        loop {
            match Self::connect_one(api, tls.clone()).await {
                Ok(client) => return Ok(client),
                Err((e, true)) => {
                    tracing::warn!(bbs = api, retry_in_ms = delay_ms, error = %e, "bbs not listening yet");
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    delay_ms = (delay_ms * 2).min(max_delay_ms.max(1));
                }
                Err((e, false)) => return Err(e),
            }
        }
    }

    /// One address, connected now; the flag says the connection was
    /// refused (nothing listening), the one failure worth waiting out.
    async fn connect_one(
        one: &str,
        tls: Option<TlsFiles>,
    ) -> std::result::Result<Client, (ModelError, bool)> {
        let anonymous = tls.as_ref().is_some_and(|t| t.cert_pem.is_none());
        let channel = endpoint(one, tls)
            .map_err(|e| (e, false))?
            .connect()
            .await
            .map_err(|e| (unreachable(one, &e), refused(&e)))?;
        let client = Client::over(FailoverChannel::new(vec![channel], Duration::ZERO));
        if anonymous {
            // A server that requires a client certificate rejects us
            // with an alert that a TLS 1.3 client often never reads
            // (its own writes hit the closed socket first): probe
            // once so the error says what is missing.
            if let Err(e) = client.ping().await {
                let message = format!(
                    "the bbs at {one} refused the connection: it probably requires a client certificate and none was sent ({})",
                    e.message
                );
                return Err((ModelError::new(e.code, message), false));
            }
        }
        Ok(client)
    }

    fn over(channel: FailoverChannel) -> Client {
        Client {
            inner: BbsClient::new(channel.clone()).max_decoding_message_size(256 * 1024 * 1024),
            channel,
        }
    }

    /// This client (same connections) sending `trace_id` as the request id
    /// of every call; the BBS records it on the events those calls cause
    /// (the original's `X-Vcap-Request-Id`). An id that is not a valid
    /// header value is refused naming it.
    pub fn with_trace_id(&self, trace_id: &str) -> Result<Client> {
        let value = http::HeaderValue::from_str(trace_id).map_err(|_| {
            ModelError::invalid_field(
                "trace_id",
                &format!("{trace_id:?} is not a valid header value"),
            )
        })?;
        Ok(Client::over(self.channel.traced(value)))
    }

    pub async fn ping(&self) -> Result<bool> {
        let r = self
            .inner
            .clone()
            .ping(pb::PingRequest {})
            .await
            .map_err(err)?;
        Ok(r.into_inner().available)
    }

    pub async fn domains(&self) -> Result<Vec<String>> {
        let r = self
            .inner
            .clone()
            .domains(pb::DomainsRequest {})
            .await
            .map_err(err)?;
        Ok(r.into_inner().domains)
    }

    pub async fn upsert_domain(&self, domain: &str, ttl_s: u32) -> Result<()> {
        let req = pb::UpsertDomainRequest {
            domain: domain.into(),
            ttl_s,
        };
        self.inner.clone().upsert_domain(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn cells(&self) -> Result<Vec<CellPresence>> {
        let r = self
            .inner
            .clone()
            .cells(pb::CellsRequest {})
            .await
            .map_err(err)?;
        r.into_inner()
            .cells
            .into_iter()
            .map(CellPresence::try_from)
            .collect()
    }

    pub async fn report_cell(&self, cell: CellPresence, ttl_ms: i64) -> Result<()> {
        let req = pb::ReportCellRequest {
            cell: Some(cell.into()),
            ttl_ms,
        };
        self.inner.clone().report_cell(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn desire_task(&self, guid: &str, domain: &str, def: TaskDefinition) -> Result<()> {
        let req = pb::DesireTaskRequest {
            task_guid: guid.into(),
            domain: domain.into(),
            definition: Some(def.into()),
        };
        self.inner.clone().desire_task(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn tasks(&self, domain: &str, cell_id: &str) -> Result<Vec<Task>> {
        let req = pb::TasksRequest {
            domain: domain.into(),
            cell_id: cell_id.into(),
        };
        let r = self.inner.clone().tasks(req).await.map_err(err)?;
        r.into_inner()
            .tasks
            .into_iter()
            .map(Task::try_from)
            .collect()
    }

    pub async fn task(&self, guid: &str) -> Result<Task> {
        let req = pb::TaskByGuidRequest {
            task_guid: guid.into(),
        };
        let r = self.inner.clone().task_by_guid(req).await.map_err(err)?;
        Task::try_from(r.into_inner().task.ok_or_else(|| missing("task"))?)
    }

    pub async fn cancel_task(&self, guid: &str) -> Result<()> {
        let req = pb::CancelTaskRequest {
            task_guid: guid.into(),
        };
        self.inner.clone().cancel_task(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn resolving_task(&self, guid: &str) -> Result<()> {
        let req = pb::ResolvingTaskRequest {
            task_guid: guid.into(),
        };
        self.inner.clone().resolving_task(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn delete_task(&self, guid: &str) -> Result<()> {
        let req = pb::DeleteTaskRequest {
            task_guid: guid.into(),
        };
        self.inner.clone().delete_task(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn start_task(&self, guid: &str, cell_id: &str) -> Result<bool> {
        let req = pb::StartTaskRequest {
            task_guid: guid.into(),
            cell_id: cell_id.into(),
        };
        let r = self.inner.clone().start_task(req).await.map_err(err)?;
        Ok(r.into_inner().should_start)
    }

    pub async fn complete_task(
        &self,
        guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<()> {
        let req = pb::CompleteTaskRequest {
            task_guid: guid.into(),
            cell_id: cell_id.into(),
            failed,
            failure_reason: failure_reason.into(),
            result: result.into(),
        };
        self.inner.clone().complete_task(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn reject_task(&self, guid: &str, reason: &str) -> Result<()> {
        let req = pb::RejectTaskRequest {
            task_guid: guid.into(),
            reason: reason.into(),
        };
        self.inner.clone().reject_task(req).await.map_err(err)?;
        Ok(())
    }

    pub async fn fail_task(&self, guid: &str, reason: &str) -> Result<()> {
        let req = pb::FailTaskRequest {
            task_guid: guid.into(),
            reason: reason.into(),
        };
        self.inner.clone().fail_task(req).await.map_err(err)?;
        Ok(())
    }

    /// The auction's recorded decisions for a task (`kind` "task") or an
    /// LRP ("lrp", optionally one index): (work id, summary, per-cell lines).
    pub async fn placement_decisions(
        &self,
        kind: &str,
        guid: &str,
        index: Option<i32>,
    ) -> Result<Vec<(String, String, Vec<String>)>> {
        let kind = match kind {
            "task" => pb::PlacementKind::Task,
            "lrp" => pb::PlacementKind::Lrp,
            other => {
                return Err(ModelError::invalid_field(
                    "kind",
                    &format!("{other:?} is not task or lrp"),
                ))
            }
        };
        let req = pb::PlacementDecisionsRequest {
            kind: kind as i32,
            guid: guid.into(),
            index,
        };
        let r = self
            .inner
            .clone()
            .placement_decisions(req)
            .await
            .map_err(err)?;
        Ok(r.into_inner()
            .decisions
            .into_iter()
            .map(|d| (d.work_id, d.summary, d.cell_lines))
            .collect())
    }

    /// A stream of events; resume with the last revision and position seen.
    pub async fn watch(
        &self,
        opts: WatchOptions,
    ) -> Result<impl Stream<Item = Result<WatchedEvent>>> {
        let req = pb::WatchRequest {
            kinds: opts.kinds,
            process_guid: opts.process_guid,
            cell_id: opts.cell_id,
            since_revision: opts.since_revision,
            since_position: opts.since_position,
        };
        let stream = self
            .inner
            .clone()
            .watch(req)
            .await
            .map_err(err)?
            .into_inner();
        Ok(stream.map(|item| {
            let ev = item.map_err(err)?;
            let mut wire = ev.event.ok_or_else(|| missing("event"))?;
            let trace_id = std::mem::take(&mut wire.trace_id);
            Ok(WatchedEvent {
                revision: ev.revision,
                position: ev.position,
                event: Event::try_from(wire)?,
                trace_id,
            })
        }))
    }
}

/// Metric tags in the form the API takes them.
pub type Tags = BTreeMap<String, String>;
