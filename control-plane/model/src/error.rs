//! The one error vocabulary of the control plane. `ErrorCode` names the
//! original `models.Error.Type` values so that the gRPC status, the HTTP
//! status and the compat gateway's error type are mapped in one place.

/// The original `models.Error.Type` values (numbers are the wire values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorCode {
    UnknownError = 0,
    InvalidRecord = 3,
    InvalidRequest = 4,
    InvalidResponse = 5,
    InvalidProtobufMessage = 6,
    InvalidJson = 7,
    FailedToOpenEnvelope = 8,
    InvalidStateTransition = 9,
    ResourceConflict = 11,
    ResourceExists = 12,
    ResourceNotFound = 13,
    RouterError = 14,
    ActualLrpCannotBeClaimed = 15,
    ActualLrpCannotBeStarted = 16,
    ActualLrpCannotBeCrashed = 17,
    ActualLrpCannotBeFailed = 18,
    ActualLrpCannotBeRemoved = 19,
    ActualLrpCannotBeUnclaimed = 21,
    RunningOnDifferentCell = 24,
    GuidGeneration = 26,
    Deserialize = 27,
    Deadlock = 28,
    Unrecoverable = 29,
    LockCollision = 30,
    Timeout = 31,
}

impl ErrorCode {
    /// The original's name for the type, as its JSON and cfdot print it.
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            UnknownError => "UnknownError",
            InvalidRecord => "InvalidRecord",
            InvalidRequest => "InvalidRequest",
            InvalidResponse => "InvalidResponse",
            InvalidProtobufMessage => "InvalidProtobufMessage",
            InvalidJson => "InvalidJSON",
            FailedToOpenEnvelope => "FailedToOpenEnvelope",
            InvalidStateTransition => "InvalidStateTransition",
            ResourceConflict => "ResourceConflict",
            ResourceExists => "ResourceExists",
            ResourceNotFound => "ResourceNotFound",
            RouterError => "RouterError",
            ActualLrpCannotBeClaimed => "ActualLRPCannotBeClaimed",
            ActualLrpCannotBeStarted => "ActualLRPCannotBeStarted",
            ActualLrpCannotBeCrashed => "ActualLRPCannotBeCrashed",
            ActualLrpCannotBeFailed => "ActualLRPCannotBeFailed",
            ActualLrpCannotBeRemoved => "ActualLRPCannotBeRemoved",
            ActualLrpCannotBeUnclaimed => "ActualLRPCannotBeUnclaimed",
            RunningOnDifferentCell => "RunningOnDifferentCell",
            GuidGeneration => "GUIDGeneration",
            Deserialize => "Deserialize",
            Deadlock => "Deadlock",
            Unrecoverable => "Unrecoverable",
            LockCollision => "LockCollision",
            Timeout => "Timeout",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        ALL_CODES.iter().copied().find(|c| c.name() == name)
    }

    pub fn from_i32(v: i32) -> Option<Self> {
        ALL_CODES.iter().copied().find(|c| *c as i32 == v)
    }
}

pub const ALL_CODES: [ErrorCode; 25] = {
    use ErrorCode::*;
    [
        UnknownError,
        InvalidRecord,
        InvalidRequest,
        InvalidResponse,
        InvalidProtobufMessage,
        InvalidJson,
        FailedToOpenEnvelope,
        InvalidStateTransition,
        ResourceConflict,
        ResourceExists,
        ResourceNotFound,
        RouterError,
        ActualLrpCannotBeClaimed,
        ActualLrpCannotBeStarted,
        ActualLrpCannotBeCrashed,
        ActualLrpCannotBeFailed,
        ActualLrpCannotBeRemoved,
        ActualLrpCannotBeUnclaimed,
        RunningOnDifferentCell,
        GuidGeneration,
        Deserialize,
        Deadlock,
        Unrecoverable,
        LockCollision,
        Timeout,
    ]
};

/// A domain error: a code and a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    pub code: ErrorCode,
    pub message: String,
}

impl ModelError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A validation failure naming the field and what was wrong with it.
    pub fn invalid_field(field: &str, reason: &str) -> Self {
        Self::new(
            ErrorCode::InvalidRequest,
            format!("invalid field: {field} {reason}"),
        )
    }

    /// The original's message for a request that does not parse.
    pub fn invalid_request() -> Self {
        Self::new(ErrorCode::InvalidRequest, "the request received is invalid")
    }

    pub fn not_found() -> Self {
        Self::new(
            ErrorCode::ResourceNotFound,
            "the requested resource could not be found",
        )
    }

    pub fn exists() -> Self {
        Self::new(
            ErrorCode::ResourceExists,
            "the requested resource already exists",
        )
    }

    pub fn transition(from: &str, to: &str) -> Self {
        Self::new(
            ErrorCode::InvalidStateTransition,
            format!("Cannot transition from {from} to {to}"),
        )
    }

    pub fn code_only(code: ErrorCode) -> Self {
        Self::new(code, code.name().to_string())
    }
}

/// Lets infallible conversions share the fallible ones' error type.
impl From<std::convert::Infallible> for ModelError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
