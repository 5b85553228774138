//! The crate's one error type: what can go wrong loading or calling a component.

use crate::Digest;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WasmError {
    /// The bytes are not a valid component for this host (refused at load).
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The guest trapped (unreachable, abort, out-of-bounds access, ...).
    #[error("guest trapped: {0}")]
    Trap(String),
    #[error("guest ran out of fuel")]
    OutOfFuel,
    #[error("guest passed its epoch deadline")]
    Deadline,
    #[error("guest exceeded its memory limit")]
    MemoryLimit,
    /// The guest returned something its world forbids (e.g. the wrong number of verdicts).
    #[error("malformed guest output: {0}")]
    Malformed(String),
    #[error("no component loaded with digest {0}")]
    Unknown(Digest),
    /// Host-side setup failed (engine config, cache directory, epoch thread).
    #[error("wasm host: {0}")]
    Host(String),
}

/// Maps a failed call to its typed cause. `memory_limit_hit` wins over the trap it caused,
/// since a refused `memory.grow` usually surfaces as the guest's own abort.
pub(crate) fn classify(error: wasmtime::Error, memory_limit_hit: bool) -> WasmError {
    if memory_limit_hit {
        return WasmError::MemoryLimit;
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => WasmError::OutOfFuel,
        Some(wasmtime::Trap::Interrupt) => WasmError::Deadline,
        Some(trap) => WasmError::Trap(trap.to_string()),
        None => WasmError::Trap(format!("{error:#}")),
    }
}
