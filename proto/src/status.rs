//! The one place an `ErrorCode` becomes a gRPC status or an HTTP status
//! (architecture invariant 7), and a gRPC status becomes a `ModelError` again.

use diego_model::{ErrorCode, ModelError};
use tonic::{Code, Status};

/// Metadata key carrying the original error type name (`ErrorCode::name`),
/// so a client recovers the exact code, not just the coarser gRPC one.
pub const ERROR_TYPE_KEY: &str = "diego-error-type";

/// The gRPC code for an error code. Exhaustive, so a new `ErrorCode` must be
/// placed here before the workspace builds.
pub fn grpc_code(code: ErrorCode) -> Code {
    use ErrorCode::*;
    match code {
        InvalidRequest | InvalidProtobufMessage | InvalidJson => Code::InvalidArgument,
        ResourceNotFound => Code::NotFound,
        ResourceExists => Code::AlreadyExists,
        InvalidStateTransition
        | ActualLrpCannotBeClaimed
        | ActualLrpCannotBeStarted
        | ActualLrpCannotBeCrashed
        | ActualLrpCannotBeFailed
        | ActualLrpCannotBeRemoved
        | ActualLrpCannotBeUnclaimed
        | RunningOnDifferentCell => Code::FailedPrecondition,
        // Conflicts a client may retry on fresher state.
        ResourceConflict | LockCollision | Deadlock => Code::Aborted,
        Timeout => Code::DeadlineExceeded,
        InvalidRecord | InvalidResponse | FailedToOpenEnvelope | GuidGeneration | Deserialize
        | Unrecoverable => Code::Internal,
        UnknownError | RouterError => Code::Unknown,
    }
}

/// The HTTP status for an error code, for HTTP front ends.
pub fn http_status(code: ErrorCode) -> u16 {
    match grpc_code(code) {
        Code::InvalidArgument => 400,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => 409,
        Code::DeadlineExceeded => 504,
        _ => 500,
    }
}

/// A `ModelError` as a gRPC status: its message is the status message and
/// its type name travels in `diego-error-type`.
pub fn to_status(e: &ModelError) -> Status {
    let mut status = Status::new(grpc_code(e.code), e.message.clone());
    // Type names are ASCII identifiers, so this parse cannot fail in practice;
    // the gRPC code still carries the class of the error if it did.
    if let Ok(v) = e.code.name().parse() {
        status.metadata_mut().insert(ERROR_TYPE_KEY, v);
    }
    status
}

/// The `ModelError` a status carries: the exact code from the metadata when
/// present and known, otherwise the most general code of the gRPC class.
pub fn from_status(s: &Status) -> ModelError {
    let named = s
        .metadata()
        .get(ERROR_TYPE_KEY)
        .and_then(|v| v.to_str().ok())
        .and_then(ErrorCode::from_name);
    let code = named.unwrap_or_else(|| fallback_code(s.code()));
    ModelError::new(code, s.message())
}

/// The error code for a status without (or with an unknown) type name.
pub fn fallback_code(code: Code) -> ErrorCode {
    match code {
        Code::InvalidArgument => ErrorCode::InvalidRequest,
        Code::NotFound => ErrorCode::ResourceNotFound,
        Code::AlreadyExists => ErrorCode::ResourceExists,
        Code::FailedPrecondition => ErrorCode::InvalidStateTransition,
        Code::Aborted => ErrorCode::ResourceConflict,
        Code::DeadlineExceeded => ErrorCode::Timeout,
        Code::Internal => ErrorCode::Unrecoverable,
        _ => ErrorCode::UnknownError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diego_model::error::ALL_CODES;

    #[test]
    fn every_code_round_trips_through_a_status() {
        for code in ALL_CODES {
            let e = ModelError::new(code, format!("something about {}", code.name()));
            let s = to_status(&e);
            assert_eq!(s.code(), grpc_code(code), "{code:?}");
            assert_eq!(s.message(), e.message);
            assert_eq!(from_status(&s), e, "{code:?}");
        }
    }

    #[test]
    fn table_of_grpc_codes() {
        let table = [
            (ErrorCode::InvalidRequest, Code::InvalidArgument, 400),
            (ErrorCode::ResourceNotFound, Code::NotFound, 404),
            (ErrorCode::ResourceExists, Code::AlreadyExists, 409),
            (
                ErrorCode::InvalidStateTransition,
                Code::FailedPrecondition,
                409,
            ),
            (
                ErrorCode::ActualLrpCannotBeClaimed,
                Code::FailedPrecondition,
                409,
            ),
            (
                ErrorCode::ActualLrpCannotBeUnclaimed,
                Code::FailedPrecondition,
                409,
            ),
            (
                ErrorCode::RunningOnDifferentCell,
                Code::FailedPrecondition,
                409,
            ),
            (ErrorCode::LockCollision, Code::Aborted, 409),
            (ErrorCode::Timeout, Code::DeadlineExceeded, 504),
            (ErrorCode::Unrecoverable, Code::Internal, 500),
            (ErrorCode::UnknownError, Code::Unknown, 500),
        ];
        for (code, grpc, http) in table {
            assert_eq!(grpc_code(code), grpc, "{code:?}");
            assert_eq!(http_status(code), http, "{code:?}");
        }
    }

    #[test]
    fn without_metadata_the_code_falls_back_within_the_same_grpc_class() {
        for code in ALL_CODES {
            let grpc = grpc_code(code);
            let back = from_status(&Status::new(grpc, "m"));
            assert_eq!(grpc_code(back.code), grpc, "{code:?} -> {back:?}");
            assert_eq!(back.message, "m");
        }
        assert_eq!(
            from_status(&Status::unavailable("down")).code,
            ErrorCode::UnknownError
        );
    }

    #[test]
    fn an_unknown_type_name_falls_back_by_grpc_code() {
        let mut s = Status::not_found("gone");
        s.metadata_mut()
            .insert(ERROR_TYPE_KEY, "NoSuchType".parse().unwrap());
        assert_eq!(from_status(&s).code, ErrorCode::ResourceNotFound);
    }
}
