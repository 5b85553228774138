//! Diego's default score on `diego:placement@0.4.0` (the SDK's 0.4 export): the same source
//! as `diego-scorer`, for plan identity of 0.4 components and the benchmark's 0.4 figure.

#[path = "../../diego-scorer/src/diego.rs"]
mod diego;

diego_plugin_sdk::export_scorer_v0_4!(diego::DiegoScorer);
