//! Runs the Go test module in tests/compat-go, which imports the real
//! `code.cloudfoundry.org/bbs` client, against a gateway on 127.0.0.1:0.
//! Skipped, with the reason printed, when `go` is not installed, or when
//! the Go module proxy cannot serve the client module (unless
//! DIEGO_REQUIRE_GO_COMPAT is set, which makes that a failure).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Gateway;

fn module_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/compat-go")
}

/// Signs that the go command could not fetch a module, as opposed to a
/// test that ran and failed.
fn unfetchable(output: &str) -> bool {
    [
        "403 Forbidden",
        "not available",
        "dial tcp",
        "no required module",
        "missing go.sum entry",
    ]
    .iter()
    .any(|s| output.contains(s))
        && !output.contains("--- FAIL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_bbs_client_works_against_the_gateway() {
    if Command::new("go").arg("version").output().is_err() {
        println!("skipped: go is not installed");
        return;
    }
    let g = Gateway::start().await;
    let url = format!("http://{}", g.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("go")
            .args(["test", "-count=1", "./..."])
            .current_dir(module_dir())
            .env("GOFLAGS", "-mod=mod")
            .env("DIEGO_GATEWAY_URL", url)
            .output()
            .expect("go runs")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success()
        && unfetchable(&text)
        && std::env::var_os("DIEGO_REQUIRE_GO_COMPAT").is_none()
    {
        println!("skipped: the go client module could not be fetched:\n{text}");
        return;
    }
    assert!(out.status.success(), "go test failed:\n{text}");
    assert!(!text.contains("SKIP"), "go tests were skipped:\n{text}");
}
