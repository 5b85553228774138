//! Staging in plain Rust over `std::fs` (WASI preopens): detect what the app is, copy it into
//! the droplet. Shared by the component (`lib.rs`) and the command (`main.rs`).

use std::fs;
use std::path::Path;

/// What the builder detected (mirrors the WIT `app-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    StaticSite,
    Procfile,
    WasmCommand,
    WasmHttp,
}

impl Kind {
    #[allow(dead_code)] // the command form (main.rs) prints it; the component does not
    pub fn name(self) -> &'static str {
        match self {
            Kind::StaticSite => "static-site",
            Kind::Procfile => "procfile",
            Kind::WasmCommand => "wasm-command",
            Kind::WasmHttp => "wasm-http",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub kind: Kind,
    pub buildpack: &'static str,
    pub start_command: String,
    pub process_types: Vec<(String, String)>,
    pub metadata: Vec<(String, String)>,
}

/// The buildpack names, in detection precedence.
pub const BUILDPACKS: [&str; 3] = ["wasm", "procfile", "static"];

/// Where the app's files go inside the droplet.
pub const DROPLET_APP_DIR: &str = "app";

/// Files larger than this are refused: a droplet is copied through the guest's memory.
const MAX_FILE_BYTES: u64 = 48 << 20;

/// Detects the app in `app_dir` and copies it to `droplet_dir/app`.
pub fn stage(app_dir: &Path, droplet_dir: &Path, buildpacks: &[String]) -> Result<Staged, String> {
    for b in buildpacks {
        if !BUILDPACKS.contains(&b.as_str()) {
            return Err(format!(
                "unknown buildpack {b:?} (known: {})",
                BUILDPACKS.join(", ")
            ));
        }
    }
    let enabled = |name: &str| buildpacks.is_empty() || buildpacks.iter().any(|b| b == name);
    let names = top_level_files(app_dir)?;
    let staged = if enabled("wasm") && names.iter().any(|n| n.ends_with(".wasm")) {
        detect_wasm(app_dir, &names)?
    } else if enabled("procfile") && names.iter().any(|n| n == "Procfile") {
        detect_procfile(app_dir)?
    } else if enabled("static") && names.iter().any(|n| n == "index.html") {
        Staged {
            kind: Kind::StaticSite,
            buildpack: "static",
            // busybox httpd in the foreground, serving the app directory it runs in.
            start_command: "httpd -f -p $PORT -h .".into(),
            process_types: vec![("web".into(), "httpd -f -p $PORT -h .".into())],
            metadata: vec![("app-dir".into(), DROPLET_APP_DIR.into())],
        }
    } else if buildpacks.is_empty() {
        return Err("no index.html, Procfile or .wasm found in the app".into());
    } else {
        return Err(format!(
            "no buildpack of {} detects the app",
            buildpacks.join(", ")
        ));
    };
    let target = droplet_dir.join(DROPLET_APP_DIR);
    fs::create_dir_all(&target).map_err(|e| format!("create droplet dir: {e}"))?;
    copy_tree(app_dir, &target)?;
    Ok(staged)
}

fn top_level_files(app_dir: &Path) -> Result<Vec<String>, String> {
    let entries = fs::read_dir(app_dir).map_err(|e| format!("read app dir: {e}"))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("read app dir: {e}"))?;
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// `name: command` lines; blank lines and `#` comments are skipped. The `web` process is the
/// one that serves, so it is required.
pub fn parse_procfile(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut processes: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, command)) = line.split_once(':') else {
            return Err(format!(
                "procfile line {}: expected \"name: command\"",
                i + 1
            ));
        };
        let (name, command) = (name.trim(), command.trim());
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(format!(
                "procfile line {}: invalid process type {name:?}",
                i + 1
            ));
        }
        if command.is_empty() {
            return Err(format!(
                "procfile line {}: process {name} has no command",
                i + 1
            ));
        }
        if processes.iter().any(|(n, _)| n == name) {
            return Err(format!(
                "procfile line {}: process {name} defined twice",
                i + 1
            ));
        }
        processes.push((name.to_string(), command.to_string()));
    }
    Ok(processes)
}

fn detect_procfile(app_dir: &Path) -> Result<Staged, String> {
    let text =
        fs::read_to_string(app_dir.join("Procfile")).map_err(|e| format!("read procfile: {e}"))?;
    let processes = parse_procfile(&text)?;
    let Some((_, web)) = processes.iter().find(|(n, _)| n == "web") else {
        return Err("procfile has no web process".into());
    };
    Ok(Staged {
        kind: Kind::Procfile,
        buildpack: "procfile",
        start_command: web.clone(),
        process_types: processes.clone(),
        metadata: vec![("app-dir".into(), DROPLET_APP_DIR.into())],
    })
}

fn detect_wasm(app_dir: &Path, names: &[String]) -> Result<Staged, String> {
    let wasm: Vec<&String> = names.iter().filter(|n| n.ends_with(".wasm")).collect();
    if wasm.len() > 1 {
        let list: Vec<&str> = wasm.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "more than one .wasm component in the app: {}",
            list.join(", ")
        ));
    }
    let name = wasm[0];
    let bytes = fs::read(app_dir.join(name)).map_err(|e| format!("read {name}: {e}"))?;
    let kind = component_kind(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let component = format!("{DROPLET_APP_DIR}/{name}");
    Ok(Staged {
        kind,
        buildpack: "wasm",
        start_command: component.clone(),
        process_types: vec![("web".into(), component.clone())],
        metadata: vec![
            ("app-dir".into(), DROPLET_APP_DIR.into()),
            ("component".into(), component),
        ],
    })
}

/// Reads a component's top-level exports: `wasi:http/incoming-handler` makes an http app,
/// `wasi:cli/run` a command.
pub fn component_kind(bytes: &[u8]) -> Result<Kind, String> {
    use wasmparser::{Encoding, Parser, Payload};
    let (mut http, mut run, mut depth) = (false, false, 0usize);
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid wasm binary: {e}"))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err(
                        "a core wasm module, not a component (build for wasm32-wasip2)".into(),
                    );
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            // Only the outermost component's exports describe the app.
            Payload::ComponentExportSection(section) if depth == 1 => {
                for export in section {
                    let export = export.map_err(|e| format!("not a valid component: {e}"))?;
                    let name = export.name.name;
                    http |= name.starts_with("wasi:http/incoming-handler@");
                    run |= name.starts_with("wasi:cli/run@");
                }
            }
            _ => {}
        }
    }
    match (http, run) {
        (true, _) => Ok(Kind::WasmHttp),
        (false, true) => Ok(Kind::WasmCommand),
        (false, false) => {
            Err("component exports neither wasi:cli/run nor wasi:http/incoming-handler".into())
        }
    }
}

/// Copies regular files and directories; anything else (symlinks, devices) is refused, since a
/// droplet must not point outside itself.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let entries = fs::read_dir(from).map_err(|e| format!("read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("read {}: {e}", from.display()))?;
        let kind = entry
            .file_type()
            .map_err(|e| format!("stat {}: {e}", entry.path().display()))?;
        let dst = to.join(entry.file_name());
        if kind.is_dir() {
            fs::create_dir_all(&dst).map_err(|e| format!("create {}: {e}", dst.display()))?;
            copy_tree(&entry.path(), &dst)?;
        } else if kind.is_file() {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if size > MAX_FILE_BYTES {
                return Err(format!(
                    "{} is {size} bytes; the builder takes files up to {MAX_FILE_BYTES} bytes",
                    entry.path().display()
                ));
            }
            fs::copy(entry.path(), &dst)
                .map_err(|e| format!("copy {}: {e}", entry.path().display()))?;
        } else {
            return Err(format!(
                "{} is neither a file nor a directory",
                entry.path().display()
            ));
        }
    }
    Ok(())
}
