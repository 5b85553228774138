//! The builder lifecycle as a `diego:lifecycle/builder` component: stages the app in the
//! preopened `/app` into a droplet tree under the preopened `/droplet`. Detection and copying
//! live in `stage.rs`, shared with the command form (`main.rs`) that staging Tasks run.

wit_bindgen::generate!({
    path: "../../wit/lifecycle/v0.2",
    world: "diego:lifecycle/builder",
});

mod stage;

use std::path::Path;

use diego::lifecycle::types::{AppKind, StagingResult};
use exports::diego::lifecycle::stage::Guest;

struct Builder;

impl Guest for Builder {
    fn stage(
        buildpacks: Vec<String>,
        _env: Vec<(String, String)>,
    ) -> Result<StagingResult, String> {
        let staged = stage::stage(Path::new("/app"), Path::new("/droplet"), &buildpacks)?;
        Ok(StagingResult {
            kind: match staged.kind {
                stage::Kind::StaticSite => AppKind::StaticSite,
                stage::Kind::Procfile => AppKind::Procfile,
                stage::Kind::WasmCommand => AppKind::WasmCommand,
                stage::Kind::WasmHttp => AppKind::WasmHttp,
            },
            detected_buildpack: staged.buildpack.to_string(),
            start_command: staged.start_command,
            process_types: staged.process_types,
            lifecycle_metadata: staged.metadata,
        })
    }
}

export!(Builder);
