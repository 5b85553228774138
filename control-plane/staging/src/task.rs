//! The staging Task: on the wasm stack, download the app and the builder (both checked by
//! sha256), run the builder command, upload the droplet; the staging result is the Task's
//! result file.

use diego_fileserver::{client, Digest};
use diego_model::Task;
use diego_wasm_host::{AppKind, StagingResult};
use serde_json::{json, Value};

use crate::PushError;

/// The wasm stack (the backend takes any `wasm:` rootfs; validation wants something after
/// the colon).
pub const WASM_ROOTFS: &str = "wasm:wasip2";

/// Staging tasks live in their own domain.
pub const STAGING_DOMAIN: &str = "staging";

/// Where things go in the staging instance (the wasm backend preopens its directory as `/`).
const APP_DIR: &str = "/app";
const LIFECYCLE_DIR: &str = "/lifecycle";
const DROPLET_DIR: &str = "/droplet";
const DROPLET_TAR: &str = "/droplet.tar";
const RESULT_FILE: &str = "/staging_result.json";

/// The staging Task for an app tar and a builder tar already on the file server.
pub fn staging_task(
    task_guid: &str,
    fileserver_url: &str,
    app: &Digest,
    lifecycle: &Digest,
    memory_mb: i32,
) -> Result<Task, PushError> {
    // The builder is the same blob for every push: the cell keeps it (one
    // entry per digest); app bits change with every push and are not kept.
    let download = |artifact: &str, digest: &Digest, to: &str, cached: bool| {
        let cache_key = if cached {
            format!("{artifact}-{}", digest.hex())
        } else {
            String::new()
        };
        json!({"download": {
            "artifact": artifact,
            "from": client::blob_url(fileserver_url, digest),
            "to": to,
            "user": "root",
            "checksum_algorithm": "sha256",
            "checksum_value": digest.hex(),
            "cache_key": cache_key,
        }})
    };
    let task = json!({
        "task_guid": task_guid,
        "domain": STAGING_DOMAIN,
        "rootfs": WASM_ROOTFS,
        "memory_mb": memory_mb,
        "disk_mb": 1024,
        "action": {"serial": {"actions": [
            download("app", app, APP_DIR, false),
            download("builder", lifecycle, LIFECYCLE_DIR, true),
            {"run": {
                "path": format!("{LIFECYCLE_DIR}/builder.wasm"),
                "args": [APP_DIR, DROPLET_DIR, DROPLET_TAR, RESULT_FILE],
                "user": "root",
            }},
            {"upload": {
                "artifact": "droplet",
                "from": DROPLET_TAR,
                "to": client::upload_url(fileserver_url),
                "user": "root",
            }},
        ]}},
        "result_file": RESULT_FILE,
        "annotation": "diego push: staging with the builder lifecycle",
    });
    serde_json::from_value(task).map_err(|e| PushError::Invalid {
        field: "staging task",
        reason: e.to_string(),
    })
}

fn pairs(value: &Value, field: &str) -> Result<Vec<(String, String)>, PushError> {
    let bad = || PushError::BadResult(format!("{field} must be a list of [name, value] pairs"));
    let list = value.get(field).and_then(Value::as_array).ok_or_else(bad)?;
    list.iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
            _ => Err(bad()),
        })
        .collect()
}

/// Reads the builder's result: the staging result and the droplet's digest, or the builder's
/// own error message (`{"error": "..."}`) as [`PushError::Staging`].
pub fn parse_staging_result(result: &str) -> Result<(StagingResult, Digest), PushError> {
    let value: Value = serde_json::from_str(result)
        .map_err(|e| PushError::BadResult(format!("not json ({e}): {result:?}")))?;
    if let Some(message) = value.get("error") {
        let message = message
            .as_str()
            .unwrap_or("the builder failed without a message");
        return Err(PushError::Staging(message.to_string()));
    }
    let string = |field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PushError::BadResult(format!("{field} must be a string")))
    };
    let kind = string("kind")?;
    let kind = AppKind::from_name(&kind)
        .ok_or_else(|| PushError::BadResult(format!("unknown kind {kind:?}")))?;
    let droplet = Digest::parse(&string("droplet_sha256")?)
        .map_err(|e| PushError::BadResult(format!("droplet_sha256: {e}")))?;
    Ok((
        StagingResult {
            kind,
            detected_buildpack: string("detected_buildpack")?,
            start_command: string("start_command")?,
            process_types: pairs(&value, "process_types")?,
            lifecycle_metadata: pairs(&value, "lifecycle_metadata")?,
        },
        droplet,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staging_task_is_a_valid_wasm_task() {
        let (app, builder) = (Digest::of(b"app"), Digest::of(b"builder"));
        let task = staging_task("staging-x", "http://127.0.0.1:8891", &app, &builder, 256).unwrap();
        assert_eq!(task.domain, STAGING_DOMAIN);
        assert_eq!(task.definition.result_file, "/staging_result.json");
        diego_model::validate::task_definition(&task.definition).expect("valid");
        let json = serde_json::to_string(&task.definition).unwrap();
        assert!(json.contains(&format!("http://127.0.0.1:8891/blobs/{app}")));
        assert!(json.contains(&builder.hex()));
    }

    #[test]
    fn the_builders_result_and_errors_are_read() {
        let digest = Digest::of(b"droplet");
        let ok = format!(
            r#"{{"kind":"procfile","detected_buildpack":"procfile","start_command":"sh run.sh","process_types":[["web","sh run.sh"]],"lifecycle_metadata":[["app-dir","app"]],"droplet_sha256":"{}"}}"#,
            digest.hex()
        );
        let (staged, droplet) = parse_staging_result(&ok).unwrap();
        assert_eq!(staged.kind, AppKind::Procfile);
        assert_eq!(
            staged.process_types,
            vec![("web".into(), "sh run.sh".into())]
        );
        assert_eq!(droplet, digest);

        let err = parse_staging_result(r#"{"error":"procfile has no web process"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "staging failed: procfile has no web process"
        );
        let err = parse_staging_result("garbage").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("malformed staging result: not json"));
        let err = parse_staging_result(r#"{"kind":"cobol"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed staging result: unknown kind \"cobol\""
        );
    }
}
