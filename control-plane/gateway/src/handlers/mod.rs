//! The request/decode/validate/execute pattern for every non-stream route.
//! Validation lives in the BBS operations, which check before they store.

mod actual;
mod desired;
mod tasks;

use bytes::Bytes;
use diego_model::ModelError;
use diego_proto::models as w;
use prost::Message;

use crate::api::BbsApi;

/// A response message whose field 1 is the error.
pub(crate) trait Failed: Message + Default {
    fn failed(e: w::Error) -> Self;
}

macro_rules! failed {
    ($($t:ty),* $(,)?) => {$(
        impl Failed for $t {
            // One body for every response: some have only the error field.
            #[allow(clippy::needless_update)]
            fn failed(e: w::Error) -> Self {
                Self { error: Some(e), ..Default::default() }
            }
        }
    )*};
}

failed!(
    w::DomainsResponse,
    w::UpsertDomainResponse,
    w::CellsResponse,
    w::ActualLrpLifecycleResponse,
    w::ActualLrpGroupsResponse,
    w::ActualLrpGroupResponse,
    w::ActualLrPsResponse,
    w::ActualLrPsByProcessGuidsResponse,
    w::EvacuationResponse,
    w::RemoveEvacuatingActualLrpResponse,
    w::DesiredLrpLifecycleResponse,
    w::DesiredLrPsResponse,
    w::DesiredLrpResponse,
    w::DesiredLrpSchedulingInfosResponse,
    w::DesiredLrpSchedulingInfoByProcessGuidResponse,
    w::TaskLifecycleResponse,
    w::StartTaskResponse,
    w::TasksResponse,
    w::TaskResponse,
);

/// Decodes a request; an empty body is the default message, as Go sends
/// nil requests (Ping, Domains, Cells) with no body. Anything that does not
/// parse, or was refused before reading, is the original's bad request.
pub(crate) fn decode<M: Message + Default>(body: Option<&Bytes>) -> Result<M, ModelError> {
    let body = body.ok_or_else(ModelError::invalid_request)?;
    M::decode(body.as_ref()).map_err(|_| ModelError::invalid_request())
}

/// Encodes the outcome: the response, or the same message carrying only
/// the error (never an empty error on success, which gogo reads as failure).
pub(crate) fn encode<R: Failed>(out: Result<R, ModelError>) -> Vec<u8> {
    match out {
        Ok(r) => r.encode_to_vec(),
        Err(e) => {
            tracing::info!(code = e.code.name(), message = %e.message, "request failed");
            R::failed(w::Error::from(&e)).encode_to_vec()
        }
    }
}

/// Runs the route `name` on `body`, returning the encoded response.
pub(crate) async fn call(bbs: &dyn BbsApi, name: &str, body: Option<Bytes>) -> Vec<u8> {
    let body = body.as_ref();
    if name == "Ping" {
        // The original answers true whenever it answers at all and ignores
        // the body; in front of a BBS, available means the BBS answered.
        let available = match bbs.ping().await {
            Ok(up) => up,
            Err(e) => {
                tracing::info!(error = %e.message, "bbs ping failed");
                false
            }
        };
        return w::PingResponse { available }.encode_to_vec();
    }
    if let Some(out) = tasks::call(bbs, name, body).await {
        return out;
    }
    if let Some(out) = desired::call(bbs, name, body).await {
        return out;
    }
    if let Some(out) = actual::call(bbs, name, body).await {
        return out;
    }
    // The route table and the handlers are kept in step by a test; reaching
    // here is a bug, reported the way the original reports unknown errors.
    encode::<w::TaskLifecycleResponse>(Err(ModelError::new(
        diego_model::ErrorCode::UnknownError,
        format!("route {name} has no handler"),
    )))
}
