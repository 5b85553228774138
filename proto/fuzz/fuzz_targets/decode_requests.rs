//! Arbitrary bytes decoded as DesireTask, DesireLrp and StartActualLrp
//! requests, converted and validated: nothing may panic. Run with
//! `cargo +nightly fuzz run decode_requests` from `proto/`; the seeded unit
//! test `decode_requests_never_panics_on_seeded_inputs` runs the same
//! property in CI.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    diego_proto::fuzzing::decode_requests(data);
});
