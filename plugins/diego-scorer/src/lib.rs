//! Diego's default score as a `diego:placement` scorer, written with the guest SDK (so on
//! the SDK's ABI, `diego:placement@0.5.0`: the guest places batches of works, walking the
//! auction and picking each winner itself).

mod diego;

diego_plugin_sdk::export_scorer!(diego::DiegoScorer);
