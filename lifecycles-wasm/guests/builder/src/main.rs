//! The builder as a `wasi:cli` command, for staging Tasks on the wasm backend:
//!
//! ```text
//! diego-builder-task APP_DIR DROPLET_DIR DROPLET_TAR RESULT_FILE [BUILDPACK...]
//! ```
//!
//! Stages `APP_DIR` into `DROPLET_DIR` (as the component does), packs the droplet into the tar
//! file `DROPLET_TAR` for the Task's Upload action and writes the staging result as JSON to
//! `RESULT_FILE` (the Task's result file), with the droplet tar's sha256 as
//! `droplet_sha256` so the client knows the droplet's name on the file server.
//!
//! A build that fails still exits 0, with `{"error": "..."}` as the result and an empty tar as
//! the droplet: the executor reports a failed Run only as "Exited with status N", so the
//! builder's own message reaches the client through the result file instead.

mod stage;
mod tar;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!(
            "usage: diego-builder-task APP_DIR DROPLET_DIR DROPLET_TAR RESULT_FILE [BUILDPACK...]"
        );
        return ExitCode::from(2);
    }
    let (app, droplet, tar_path, result_path) = (&args[0], &args[1], &args[2], &args[3]);
    let buildpacks = &args[4..];
    let outcome = stage::stage(Path::new(app), Path::new(droplet), buildpacks).and_then(|s| {
        let digest = tar::pack(Path::new(droplet), Path::new(tar_path))?;
        Ok((s, digest))
    });
    let json = match outcome {
        Ok((s, digest)) => {
            println!(
                "staged {} app (buildpack {}): {}",
                s.kind.name(),
                s.buildpack,
                s.start_command
            );
            result_json(&s, &digest)
        }
        Err(e) => {
            eprintln!("staging failed: {e}");
            if let Err(e2) = tar::pack_empty(Path::new(tar_path)) {
                eprintln!("cannot write the empty droplet: {e2}");
            }
            format!("{{\"error\":{}}}", quote(&e))
        }
    };
    match std::fs::write(result_path, json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write the staging result to {result_path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn result_json(s: &stage::Staged, droplet_sha256: &str) -> String {
    let pairs = |list: &[(String, String)]| {
        let items: Vec<String> = list
            .iter()
            .map(|(k, v)| format!("[{},{}]", quote(k), quote(v)))
            .collect();
        format!("[{}]", items.join(","))
    };
    format!(
        "{{\"kind\":{},\"detected_buildpack\":{},\"start_command\":{},\"process_types\":{},\"lifecycle_metadata\":{},\"droplet_sha256\":{}}}",
        quote(s.kind.name()),
        quote(s.buildpack),
        quote(&s.start_command),
        pairs(&s.process_types),
        pairs(&s.metadata),
        quote(droplet_sha256)
    )
}

/// A JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
