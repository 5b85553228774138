//! Diego's default score on `diego:placement@0.3.0` (the SDK's 0.3 export): the same source
//! as `diego-scorer`, for plan identity of 0.3 components and the benchmark's 0.3 figure.

#[path = "../../diego-scorer/src/diego.rs"]
mod diego;

diego_plugin_sdk::export_scorer_v0_3!(diego::DiegoScorer);
