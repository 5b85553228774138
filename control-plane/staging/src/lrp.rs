//! The app's DesiredLRP: download the droplet by digest, run the launcher's process, expose
//! port 8080 and health-check it over HTTP.

use diego_fileserver::{client, Digest};
use diego_model::DesiredLrp;
use diego_wasm_host::{AppKind, LaunchSpec};
use serde_json::json;

use crate::task::WASM_ROOTFS;
use crate::versions::APP_TAG;
use crate::PushError;

/// The port every pushed web app listens on (`PORT`).
pub const APP_PORT: u32 = 8080;

#[derive(Debug, Clone)]
pub struct LrpOptions {
    pub process_guid: String,
    /// The app this LRP is a version of: its route and `source_id` tag.
    pub app_name: String,
    pub domain: String,
    pub instances: i32,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub start_timeout_ms: i64,
}

/// The LRP for a staged app. Busybox-stack apps get the droplet under `/home/vcap` (so the
/// app is `/home/vcap/app`, where the launcher runs it) as `vcap`; wasm apps get it at the
/// root of their instance directory.
pub fn desired_lrp(
    options: &LrpOptions,
    kind: AppKind,
    launch: &LaunchSpec,
    fileserver_url: &str,
    droplet: &Digest,
) -> Result<DesiredLrp, PushError> {
    let (rootfs, droplet_to, user) = if kind.is_wasm() {
        (WASM_ROOTFS, "/", "root")
    } else {
        ("preloaded:busybox", "/home/vcap", "vcap")
    };
    let env: Vec<_> = launch
        .env
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let serves_http = kind != AppKind::WasmCommand;
    let mut lrp = json!({
        "process_guid": options.process_guid,
        "domain": options.domain,
        "rootfs": rootfs,
        "instances": options.instances,
        "memory_mb": options.memory_mb,
        "disk_mb": options.disk_mb,
        "setup": {"download": {
            "artifact": "droplet",
            "from": client::blob_url(fileserver_url, droplet),
            "to": droplet_to,
            "user": user,
            "checksum_algorithm": "sha256",
            "checksum_value": droplet.hex(),
            // blobs are content-addressed: one cache entry per droplet
            // version, so every instance after a cell's first skips the body
            "cache_key": format!("droplet-{}", droplet.hex()),
        }},
        "action": {"run": {
            "path": launch.path,
            "args": launch.args,
            "dir": launch.dir,
            "env": env,
            "user": user,
        }},
        "start_timeout_ms": options.start_timeout_ms,
        "annotation": format!("diego push: {} app {}", kind.name(), options.app_name),
        "metric_tags": {APP_TAG: {"static": options.app_name}},
    });
    if serves_http {
        lrp["ports"] = json!([APP_PORT]);
        lrp["routes"] = json!({"cf-router": [{
            "hostnames": [format!("{}.localhost", options.app_name)],
            "port": APP_PORT,
        }]});
        lrp["check_definition"] =
            json!({"checks": [{"http_check": {"port": APP_PORT, "path": "/"}}]});
    }
    let lrp: DesiredLrp = serde_json::from_value(lrp).map_err(|e| PushError::Invalid {
        field: "desired lrp",
        reason: e.to_string(),
    })?;
    diego_model::validate::desired_lrp(&lrp).map_err(|e| PushError::Invalid {
        field: "desired lrp",
        reason: e.to_string(),
    })?;
    Ok(lrp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> LrpOptions {
        LrpOptions {
            process_guid: "site".into(),
            app_name: "site".into(),
            domain: "apps".into(),
            instances: 2,
            memory_mb: 64,
            disk_mb: 128,
            start_timeout_ms: 60_000,
        }
    }

    #[test]
    fn a_busybox_app_downloads_its_droplet_into_the_vcap_home() {
        let launch = LaunchSpec {
            path: "/bin/sh".into(),
            args: vec!["-c".into(), "httpd -f -p $PORT -h .".into()],
            env: vec![("PORT".into(), "8080".into())],
            dir: "/home/vcap/app".into(),
        };
        let droplet = Digest::of(b"droplet");
        let lrp = desired_lrp(
            &options(),
            AppKind::StaticSite,
            &launch,
            "http://fs",
            &droplet,
        )
        .unwrap();
        assert_eq!(lrp.root_fs, "preloaded:busybox");
        assert_eq!(lrp.metric_tags[APP_TAG].static_value, "site");
        assert_eq!(lrp.ports, vec![8080]);
        let json = serde_json::to_value(&lrp).unwrap();
        assert_eq!(json["setup"]["download"]["to"], "/home/vcap");
        assert_eq!(json["setup"]["download"]["checksum_value"], droplet.hex());
        assert_eq!(
            json["setup"]["download"]["cache_key"],
            format!("droplet-{}", droplet.hex())
        );
        assert_eq!(json["action"]["run"]["dir"], "/home/vcap/app");
        assert_eq!(
            json["check_definition"]["checks"][0]["http_check"]["port"],
            8080
        );
    }

    #[test]
    fn a_wasm_command_has_no_port_or_check() {
        let launch = LaunchSpec {
            path: "/app/tool.wasm".into(),
            args: vec![],
            env: vec![],
            dir: String::new(),
        };
        let lrp = desired_lrp(
            &options(),
            AppKind::WasmCommand,
            &launch,
            "http://fs",
            &Digest::of(b"d"),
        )
        .unwrap();
        assert_eq!(lrp.root_fs, WASM_ROOTFS);
        assert!(lrp.ports.is_empty());
    }
}
