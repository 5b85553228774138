//! Diego's default score as a `diego:placement` scorer, written with the guest SDK (so on
//! the SDK's ABI, `diego:placement@0.4.0`: the guest picks each placement's winner).

mod diego;

diego_plugin_sdk::export_scorer!(diego::DiegoScorer);
