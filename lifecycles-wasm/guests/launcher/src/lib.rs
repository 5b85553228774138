//! The launcher lifecycle: a staging result and the instance's environment -> the process to
//! run. Busybox-stack apps (static sites, Procfile apps) run their command through `/bin/sh -c`
//! in the droplet's app directory under the `vcap` home, where the LRP downloads the droplet;
//! wasm apps name their component file (`/app/NAME.wasm`: the wasm backend preopens the
//! instance directory, where the droplet is downloaded, as `/`), which it runs with the
//! environment as WASI environment.

wit_bindgen::generate!({
    path: "../../wit/lifecycle/v0.2",
    world: "diego:lifecycle/launcher",
});

use diego::lifecycle::types::{AppKind, ProcessSpec, StagingResult};
use exports::diego::lifecycle::launch::Guest;

/// Where a busybox-stack LRP downloads its droplet (the droplet holds `app/`).
const HOME: &str = "/home/vcap";

struct Launcher;

fn metadata<'a>(staging: &'a StagingResult, key: &str) -> Option<&'a str> {
    staging
        .lifecycle_metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A relative droplet path, checked: the launcher must not point outside the droplet.
fn droplet_path(value: &str, what: &str) -> Result<String, String> {
    let bad = value.is_empty()
        || value.starts_with('/')
        || value.split('/').any(|p| p == ".." || p.is_empty());
    if bad {
        return Err(format!(
            "staging result: {what} {value:?} is not a relative path inside the droplet"
        ));
    }
    Ok(value.to_string())
}

impl Guest for Launcher {
    fn launch(
        staging: StagingResult,
        process_type: String,
        env: Vec<(String, String)>,
    ) -> Result<ProcessSpec, String> {
        let process_type = if process_type.is_empty() {
            "web".to_string()
        } else {
            process_type
        };
        let command = match staging
            .process_types
            .iter()
            .find(|(name, _)| *name == process_type)
        {
            Some((_, command)) => command.clone(),
            None if process_type == "web" && !staging.start_command.is_empty() => {
                staging.start_command.clone()
            }
            None => {
                let known: Vec<&str> = staging
                    .process_types
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect();
                return Err(format!(
                    "no process type {process_type:?} in the staging result (has: {})",
                    known.join(", ")
                ));
            }
        };
        let is_web = process_type == "web";
        if is_web && !env.iter().any(|(k, _)| k == "PORT") {
            return Err("env: PORT is required for the web process".into());
        }
        let app_dir = droplet_path(metadata(&staging, "app-dir").unwrap_or("app"), "app-dir")?;
        // Whatever the instance says wins over what the launcher adds.
        let mut out_env: Vec<(String, String)> = Vec::new();
        let mut add = |k: &str, v: String| {
            if !env.iter().any(|(key, _)| key == k) {
                out_env.push((k.to_string(), v));
            }
        };
        match staging.kind {
            AppKind::StaticSite | AppKind::Procfile => {
                let root = format!("{HOME}/{app_dir}");
                add("HOME", HOME.to_string());
                add("APP_ROOT", root.clone());
                out_env.extend(env.iter().cloned());
                Ok(ProcessSpec {
                    path: "/bin/sh".into(),
                    args: vec!["-c".into(), command],
                    env: out_env,
                    dir: root,
                })
            }
            AppKind::WasmCommand | AppKind::WasmHttp => {
                let component = droplet_path(&command, "component")?;
                if !component.ends_with(".wasm") {
                    return Err(format!(
                        "staging result: component {component:?} is not a .wasm file"
                    ));
                }
                add("APP_ROOT", format!("/{app_dir}"));
                out_env.extend(env.iter().cloned());
                // The wasm backend preopens the instance directory, where the droplet is
                // downloaded, as `/`.
                Ok(ProcessSpec {
                    path: format!("/{component}"),
                    args: Vec::new(),
                    env: out_env,
                    dir: String::new(),
                })
            }
        }
    }
}

export!(Launcher);
