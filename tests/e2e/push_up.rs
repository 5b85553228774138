//! `diego push` through the real binary against a real `diego up` (issue 5): each example app
//! is staged by the builder, launched by the launcher, health-checked by the wasm healthcheck
//! and answers HTTP; `diego plugin test` builds the example scorer plugin and explains a plan.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{free_port, root_with_runc};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Where guests and plugins are built: beside the main target dir, so a nested cargo never
/// waits on the lock of the `cargo test` that runs us.
fn wasm_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("wasm-guests")
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.env("CARGO_TARGET_DIR", wasm_target())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

/// The lifecycle guests and the example http component, built once.
fn guests() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = cargo()
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(repo().join("lifecycles-wasm/guests"))
            .status()
            .expect("run cargo for the guests");
        assert!(status.success(), "building the guests failed");
        wasm_target().join("wasm32-wasip2/release")
    })
}

/// `diego up`, stopped with SIGINT so its cells tear their containers down.
struct Up {
    child: Child,
    api: String,
    fileserver: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn diego(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_diego"));
    c.args(args);
    c
}

fn up(data_dir: &Path) -> Up {
    let (api_port, gw_port, fs_port) = (free_port(), free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let child = diego(&["up"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{api_port}")])
        .args(["--gateway-listen", &format!("127.0.0.1:{gw_port}")])
        .args(["--fileserver-listen", &format!("127.0.0.1:{fs_port}")])
        .env(
            "DIEGO_HEALTHCHECK_WASM",
            guests().join("diego_healthcheck.wasm"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("diego up starts");
    let up = Up {
        child,
        api,
        fileserver: format!("http://127.0.0.1:{fs_port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cells = run(diego(&["cells"]).env("DIEGO_API", &up.api));
        if cells.status.success()
            && String::from_utf8_lossy(&cells.stdout).matches('z').count() >= 2
        {
            return up;
        }
        assert!(Instant::now() < deadline, "diego up did not come up");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run diego")
}

/// GET / as HTTP/1.0; returns (status line, body).
fn http_get(addr: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Pushes `dir` with the binary and checks every instance it prints answers 200 with `expect`.
fn push(up: &Up, name: &str, dir: &Path, instances: usize, expect: &str) {
    let out = run(diego(&["push", "--name", name, "--instances"])
        .arg(instances.to_string())
        .arg("--fileserver")
        .arg(&up.fileserver)
        .arg("--lifecycles-dir")
        .arg(guests())
        .arg(dir)
        .env("DIEGO_API", &up.api));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "push {name} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "<guid>/<index>: curl http://<address>:<port>/"
    let addrs: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split("curl http://").nth(1))
        .map(|a| a.trim_end_matches('/'))
        .collect();
    assert_eq!(addrs.len(), instances, "push {name} printed: {stdout}");
    for addr in addrs {
        let (status, body) = http_get(addr);
        assert!(
            status.contains(" 200"),
            "{name} at {addr}: {status}\n{body}"
        );
        assert!(body.contains(expect), "{name} at {addr}: {body}");
    }
}

#[test]
fn each_example_app_is_pushed_with_the_binary_onto_diego_up() {
    if !root_with_runc() {
        eprintln!("skipping: diego up runs busybox apps in runc, which needs root and runc");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let up = up(&data.path().join("up"));
    let apps = repo().join("examples/apps");
    push(
        &up,
        "site",
        &apps.join("static-site"),
        2,
        "hello from a static site",
    );
    push(
        &up,
        "procfile",
        &apps.join("procfile-shell"),
        1,
        "hello from a Procfile app",
    );
    // The wasm app's component is built, not checked in: assemble the app dir as its README says.
    let wasm_app = data.path().join("wasm-http");
    std::fs::create_dir_all(&wasm_app).unwrap();
    std::fs::copy(
        guests().join("diego_example_http.wasm"),
        wasm_app.join("hello.wasm"),
    )
    .unwrap();
    push(&up, "hello-wasm", &wasm_app, 2, "hello");

    // A push that cannot stage says why and exits 1, desiring nothing.
    let empty = data.path().join("empty-app");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "no index.html, Procfile or .wasm").unwrap();
    let out = run(diego(&["push", "--name", "empty"])
        .arg("--fileserver")
        .arg(&up.fileserver)
        .arg("--lifecycles-dir")
        .arg(guests())
        .arg(&empty)
        .env("DIEGO_API", &up.api));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let listed = run(diego(&["lrp", "list"]).env("DIEGO_API", &up.api));
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("hello-wasm"), "{listed}");
    assert!(!listed.contains("empty"), "{listed}");
}

#[test]
fn plugin_test_builds_the_example_plugin_and_explains_its_plan() {
    let plugin = repo().join("plugins/examples/prefer-tagged");
    let out = run(diego(&["plugin", "test"])
        .arg(&plugin)
        .arg("--snapshot")
        .arg(repo().join("plugins/examples/snapshot.json"))
        .env("CARGO_TARGET_DIR", wasm_target())
        .env_remove("RUSTFLAGS"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "plugin test failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    let snapshot: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("plugins/examples/snapshot.json")).unwrap(),
    )
    .unwrap();
    // Every cell of the snapshot gets a verdict line.
    for cell in snapshot["cells"].as_array().unwrap() {
        let id = cell["cell_id"].as_str().unwrap();
        assert!(stdout.contains(id), "no verdict for {id}: {stdout}");
    }
    // cell-1 is 87.5% used before any placement, over the snapshot's 80% limit: the plugin
    // rejects it with its reason and the plan puts nothing there.
    assert!(
        stdout.contains("memory would be") && stdout.contains("(limit 80%)"),
        "{stdout}"
    );
    let plan = stdout.split("\nplan:").nth(1).expect("a plan section");
    assert!(!plan.contains("cell-1:"), "{plan}");
    assert!(plan.contains("web/2"), "{plan}");

    // A snapshot that is not valid is refused with the file named, exit code non-zero.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), r#"{"cells": [{"cell_id": "c1"}]}"#).unwrap();
    let out = run(diego(&["plugin", "test"])
        .arg(&plugin)
        .arg("--snapshot")
        .arg(bad.path())
        .env("CARGO_TARGET_DIR", wasm_target()));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not valid"), "{stderr}");
}
