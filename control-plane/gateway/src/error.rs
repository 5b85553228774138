/// Errors of the gateway server itself; request errors travel inside the
/// protobuf responses instead.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("accepting a connection: {0}")]
    Accept(#[source] std::io::Error),
}
