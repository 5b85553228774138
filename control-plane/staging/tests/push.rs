//! `diego push` end to end on the real stack: the control plane (BBS over gRPC on loopback,
//! auctioneer), the file server, and a cell running runc containers and wasm apps. Each example
//! app is staged by the builder as a Task, launched, run as an LRP and answers HTTP 200.
//! Cells use numbers 80-89 (subnet 10.255.90+.0/24, host ports 61000+(n%18)*250).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use diego_node::{CellConfig, ControlPlane, ControlPlaneConfig, LocalCell};
use diego_sdk::Client;
use diego_staging::{Lifecycles, PushError, PushOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the guests once per test binary (as the wasm host's tests do) into
/// `$CARGO_TARGET_DIR/wasm-guests`; returns the release dir.
fn guests() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target"));
        let target = base.join("wasm-guests");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(repo().join("lifecycles-wasm/guests"))
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo for the guests");
        assert!(status.success(), "building the guests failed");
        target.join("wasm32-wasip2/release")
    })
}

struct Stack {
    cp: ControlPlane,
    cell: LocalCell,
    fileserver: diego_fileserver::Running,
    client: Client,
    _dir: tempfile::TempDir,
}

async fn start(cell_number: u8) -> Option<Stack> {
    if let Err(why) = diego_backend_oci::OciBackend::available() {
        // This machine cannot run containers; the wasm host tests still cover the lifecycles.
        eprintln!("skipping: no runc here: {why}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = ControlPlaneConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("bbs"));
    let cp = ControlPlane::start(cfg)
        .await
        .expect("control plane starts");
    let fileserver =
        diego_fileserver::spawn("127.0.0.1:0".parse().unwrap(), &dir.path().join("fs"))
            .await
            .expect("file server starts");
    let mut cell_cfg = CellConfig::new(
        &format!("push-cell-{cell_number}"),
        "z1",
        &cp.api_url(),
        cell_number,
    );
    cell_cfg.memory_mb = 2048;
    cell_cfg.state_dir = dir.path().join("cell");
    let cell = LocalCell::start(cell_cfg).await.expect("cell starts");
    let client = Client::connect(&cp.api_url(), None).await.unwrap();
    Some(Stack {
        cp,
        cell,
        fileserver,
        client,
        _dir: dir,
    })
}

impl Stack {
    async fn stop(self) {
        self.cell.stop().await;
        self.fileserver.stop().await;
        self.cp.stop().await;
    }
}

/// GET / with a deadline; returns (status line, body).
fn http_get(addr: &str, port: u32) -> (String, String) {
    let mut stream = TcpStream::connect((addr, port as u16)).expect("connect to the app");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Pushes `app_dir`, waits for the instance and checks it answers 200 with `expect` in the body.
async fn push_and_get(stack: &Stack, name: &str, app_dir: &Path, expect: &str) {
    let lifecycles = Lifecycles::load(guests()).expect("lifecycles load");
    let options = PushOptions::new(name, &stack.fileserver.url());
    let mut log = |line: &str| eprintln!("push {name}: {line}");
    let pushed = diego_staging::push(&stack.client, &options, &lifecycles, app_dir, &mut log)
        .await
        .unwrap_or_else(|e| panic!("push {name}: {e}"));
    let running = diego_staging::wait_running(&stack.client, &pushed.process_guid, 1, 90_000)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let net = &running[0].net_info;
    let port = net.ports.first().expect("a mapped port").host_port;
    // Running means the health check passed, so one GET is enough.
    let (status, body) = tokio::task::spawn_blocking({
        let address = net.address.clone();
        move || http_get(&address, port)
    })
    .await
    .unwrap();
    assert!(status.contains(" 200"), "{name}: {status}\n{body}");
    assert!(body.contains(expect), "{name}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_example_app_is_pushed_and_answers_200() {
    let Some(stack) = start(80).await else {
        return;
    };
    let apps = repo().join("examples/apps");
    push_and_get(
        &stack,
        "static-site",
        &apps.join("static-site"),
        "hello from a static site",
    )
    .await;
    push_and_get(
        &stack,
        "procfile-shell",
        &apps.join("procfile-shell"),
        "hello from a Procfile app",
    )
    .await;
    // The wasm app's component is built, not checked in: assemble the app dir.
    let wasm_app = tempfile::tempdir().unwrap();
    std::fs::copy(
        guests().join("diego_example_http.wasm"),
        wasm_app.path().join("hello.wasm"),
    )
    .unwrap();
    push_and_get(
        &stack,
        "wasm-http",
        wasm_app.path(),
        "hello from a wasm http app",
    )
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_build_reports_the_builders_message_and_desires_nothing() {
    let Some(stack) = start(81).await else {
        return;
    };
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("Procfile"), "worker: sleep 100\n").unwrap();
    let lifecycles = Lifecycles::load(guests()).expect("lifecycles load");
    let options = PushOptions::new("broken", &stack.fileserver.url());
    let err = diego_staging::push(
        &stack.client,
        &options,
        &lifecycles,
        app.path(),
        &mut |_| {},
    )
    .await
    .expect_err("a procfile without web must not stage");
    assert!(
        matches!(&err, PushError::Staging(m) if m == "procfile has no web process"),
        "{err}"
    );
    assert!(
        stack.client.desired_lrp("broken").await.is_err(),
        "no lrp desired"
    );
    // The staging task was cleaned up.
    let tasks = stack.client.tasks("", "").await.unwrap();
    assert!(tasks.is_empty(), "{tasks:?}");
    stack.stop().await;
}

/// GETs every running instance of `guid` and checks each body has `expect`.
async fn all_answer(stack: &Stack, guid: &str, instances: usize, expect: &str) {
    let running = diego_staging::wait_running(&stack.client, guid, instances, 90_000)
        .await
        .unwrap_or_else(|e| panic!("{guid}: {e}"));
    for r in running {
        let port = r.net_info.ports.first().expect("a mapped port").host_port;
        let address = r.net_info.address.clone();
        let (status, body) = tokio::task::spawn_blocking(move || http_get(&address, port))
            .await
            .unwrap();
        assert!(status.contains(" 200"), "{guid}: {status}\n{body}");
        assert!(body.contains(expect), "{guid}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_push_replaces_the_running_version_and_the_same_files_desire_nothing() {
    let Some(stack) = start(82).await else {
        return;
    };
    let lifecycles = Lifecycles::load(guests()).expect("lifecycles load");
    let app = tempfile::tempdir().unwrap();
    let index = app.path().join("index.html");
    std::fs::write(&index, "<p>version one</p>\n").unwrap();
    let mut options = PushOptions::new("site", &stack.fileserver.url());
    options.instances = Some(2);
    let mut log = |line: &str| eprintln!("push site: {line}");

    let first = diego_staging::push(&stack.client, &options, &lifecycles, app.path(), &mut log)
        .await
        .expect("first push");
    assert_eq!(first.process_guid, "site");
    assert!(first.replaces.is_empty() && !first.unchanged);
    all_answer(&stack, "site", 2, "version one").await;

    // the same files: the droplet runs already, nothing new is desired
    options.instances = None;
    let again = diego_staging::push(&stack.client, &options, &lifecycles, app.path(), &mut log)
        .await
        .expect("the same push again");
    assert!(again.unchanged, "{again:?}");
    assert_eq!((again.process_guid.as_str(), again.instances), ("site", 2));
    assert!(again.replaces.is_empty());

    // new files: a new version beside the old, with the old one's instance count
    std::fs::write(&index, "<p>version two</p>\n").unwrap();
    let second = diego_staging::push(&stack.client, &options, &lifecycles, app.path(), &mut log)
        .await
        .expect("second push");
    assert!(!second.unchanged);
    assert!(
        second.process_guid.starts_with("site-") && second.process_guid.len() == "site-".len() + 8,
        "{}",
        second.process_guid
    );
    assert_eq!(second.replaces, vec!["site".to_string()]);
    assert_eq!(second.instances, 2);
    all_answer(&stack, &second.process_guid, 2, "version two").await;
    // the old version served until now
    all_answer(&stack, "site", 2, "version one").await;
    let versions = diego_staging::versions(&stack.client, "apps", "site")
        .await
        .unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");

    diego_staging::retire(&stack.client, &second.replaces)
        .await
        .expect("retire the old version");
    let versions = diego_staging::versions(&stack.client, "apps", "site")
        .await
        .unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.process_guid.as_str())
            .collect::<Vec<_>>(),
        vec![second.process_guid.as_str()]
    );
    // the old version's instances stop
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let filter = diego_sdk::ActualFilter {
            process_guid: "site".into(),
            ..Default::default()
        };
        if stack.client.actual_lrps(filter).await.unwrap().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the old instances did not stop"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.stop().await;
}
