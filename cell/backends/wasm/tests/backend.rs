//! The wasm backend with real components on real wasmtime: commands, http proxies, limits,
//! stop and teardown.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{drain, guest, http_get, install, run, spec};
use diego_backend_wasm::{WasmBackend, WasmConfig, EXIT_KILLED, EXIT_TERMINATED};
use diego_executor::{Backend, ExecutorError, Signal, Stream};

/// Host ports for these tests: cell 70's slot (61000 + (70 % 18) * 250), upper half.
const PORT_BASE: u32 = 61_000 + (70 % 18) * 250 + 150;

fn backend(dir: &tempfile::TempDir, offset: u32) -> Arc<WasmBackend> {
    let base = PORT_BASE + offset * 10;
    WasmBackend::new(WasmConfig::new(dir.path(), (base, base + 9))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_exit_code_and_output_are_captured() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 0);
    let info = backend.create(spec("cmd", 64, vec![])).await.unwrap();
    assert!(info.ports.is_empty());
    install(backend.as_ref(), "cmd", guest("diego_app_cli")).await;
    let mut spawned = backend
        .spawn(
            "cmd",
            run(&["echo", "hello", "world"], &[("EXIT_CODE", "3")]),
        )
        .await
        .unwrap();
    let lines = drain(&mut spawned).await;
    let status = spawned.process.wait().await.unwrap();
    // WASI 0.2's exit carries ok or error only: any non-zero exit is 1.
    assert_eq!(status.code, 1);
    assert!(!status.oom_killed);
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == Stream::Stdout)
        .map(|l| l.line.as_str())
        .collect();
    assert_eq!(stdout, ["hello", "world"]);
    assert!(lines
        .iter()
        .any(|l| l.stream == Stream::Stderr && l.line == "done"));
    backend.destroy("cmd").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_directory_is_the_guest_root() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 1);
    backend.create(spec("files", 64, vec![])).await.unwrap();
    install(backend.as_ref(), "files", guest("diego_app_cli")).await;
    let entry = diego_executor::FileEntry {
        path: "data/greeting.txt".into(),
        mode: 0o644,
        kind: diego_executor::FileKind::File(b"hi from a download\n".to_vec()),
    };
    backend
        .stream_in("files", "/app", "vcap", vec![entry])
        .await
        .unwrap();
    let mut spawned = backend
        .spawn("files", run(&["cat", "/app/data/greeting.txt"], &[]))
        .await
        .unwrap();
    let lines = drain(&mut spawned).await;
    assert_eq!(spawned.process.wait().await.unwrap().code, 0);
    assert_eq!(lines[0].line, "hi from a download");
    // The host reads files of the instance by the same paths.
    let bytes = backend
        .read_file("files", "/app/data/greeting.txt", 1024)
        .await
        .unwrap();
    assert_eq!(bytes, b"hi from a download\n");
    backend.destroy("files").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_component_answers_on_its_host_port() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 2);
    let info = backend.create(spec("web", 64, vec![8080])).await.unwrap();
    assert_eq!(info.internal_ip, "127.0.0.1");
    assert_eq!(info.ports.len(), 1);
    assert_eq!(info.ports[0].container_port, 8080);
    let host_port = info.ports[0].host_port;
    install(backend.as_ref(), "web", guest("diego_app_http")).await;
    let mut spawned = backend
        .spawn("web", run(&[], &[("GREETING", "hola")]))
        .await
        .unwrap();
    let (status, body) = http_get(host_port, "/").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "hello from wasm\n"));
    let (status, body) = http_get(host_port, "/env/GREETING").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "hola"));
    let line = tokio::time::timeout(Duration::from_secs(5), spawned.output.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line.line, "request /");
    backend.destroy("web").await.unwrap();
    let status = spawned.process.wait().await.unwrap();
    assert_eq!(status.code, EXIT_KILLED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_is_stopped_as_out_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 3);
    backend.create(spec("hog", 32, vec![])).await.unwrap();
    install(backend.as_ref(), "hog", guest("diego_app_cli")).await;
    let mut spawned = backend.spawn("hog", run(&["hog"], &[])).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), spawned.process.wait())
        .await
        .expect("the hog is stopped by its limit")
        .unwrap();
    assert!(status.oom_killed, "{status:?}");
    assert_eq!(status.code, EXIT_KILLED);
    let lines = drain(&mut spawned).await;
    let held: Vec<&str> = lines
        .iter()
        .filter(|l| l.line.starts_with("holding"))
        .map(|l| l.line.as_str())
        .collect();
    // It got close to its 32 MiB, never past it.
    assert!(held.contains(&"holding 16 MiB"), "{held:?}");
    assert!(!held.contains(&"holding 32 MiB"), "{held:?}");
    assert!(lines
        .iter()
        .any(|l| l.line == "wasm instance exceeded its memory limit"));
    backend.destroy("hog").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_command_stops_on_signal_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 4);
    backend.create(spec("spin", 64, vec![])).await.unwrap();
    install(backend.as_ref(), "spin", guest("diego_app_cli")).await;
    let spawned = backend.spawn("spin", run(&["loop"], &[])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(50), spawned.process.wait())
            .await
            .is_err(),
        "the loop runs until stopped"
    );
    spawned.process.signal(Signal::Terminate).await.unwrap();
    // The executor's default grace is 10 s; a stop lands within an epoch tick.
    let status = tokio::time::timeout(Duration::from_secs(2), spawned.process.wait())
        .await
        .expect("stopped within the grace period")
        .unwrap();
    assert_eq!(status.code, EXIT_TERMINATED);
    backend.destroy("spin").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_leaves_no_listener_and_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 5);
    let info = backend
        .create(spec("gone", 64, vec![8080, 9090]))
        .await
        .unwrap();
    install(backend.as_ref(), "gone", guest("diego_app_http")).await;
    let spawned = backend.spawn("gone", run(&[], &[])).await.unwrap();
    for port in &info.ports {
        assert_eq!(http_get(port.host_port, "/").await.unwrap().0, 200);
    }
    assert_eq!(backend.list().await.unwrap(), ["gone"]);
    backend.destroy("gone").await.unwrap();
    assert!(spawned.process.wait().await.is_ok());
    for port in &info.ports {
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port.host_port as u16)).await;
        assert!(connect.is_err(), "port {} still listens", port.host_port);
    }
    assert!(!dir.path().join("instances/gone").exists());
    assert!(backend.list().await.unwrap().is_empty());
    // Its host ports are free again, and destroying twice is fine.
    backend.destroy("gone").await.unwrap();
    let again = backend
        .create(spec("next", 64, vec![8080, 9090]))
        .await
        .unwrap();
    assert_eq!(again.ports, info.ports);
    backend.destroy("next").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let base = PORT_BASE + 60;
    let mut cfg = WasmConfig::new(dir.path(), (base, base + 9));
    cfg.max_connections = 1;
    let backend = WasmBackend::new(cfg).unwrap();
    let info = backend.create(spec("one", 64, vec![8080])).await.unwrap();
    let port = info.ports[0].host_port;
    install(backend.as_ref(), "one", guest("diego_app_http")).await;
    backend.spawn("one", run(&[], &[])).await.unwrap();
    // A keep-alive connection holds the only slot.
    let mut holder = tokio::net::TcpStream::connect(("127.0.0.1", port as u16))
        .await
        .unwrap();
    holder
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiting = tokio::spawn(http_get(port, "/"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a second connection is served past the limit"
    );
    drop(holder);
    let (status, _) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the slot frees")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    backend.destroy("one").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 7);
    let mut oci = spec("oci", 64, vec![]);
    oci.rootfs = "preloaded:busybox".into();
    let err = backend.create(oci).await.unwrap_err();
    assert!(err.to_string().contains("not a wasm rootfs"), "{err}");

    backend.create(spec("bad", 64, vec![])).await.unwrap();
    let err = backend.create(spec("bad", 64, vec![])).await.unwrap_err();
    assert!(matches!(err, ExecutorError::AlreadyExists(_)), "{err}");
    install(backend.as_ref(), "bad", b"not wasm at all".to_vec()).await;
    let err = match backend.spawn("bad", run(&[], &[])).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("garbage ran"),
    };
    assert!(err.contains("component /app/app.wasm"), "{err}");
    let mut escape = run(&[], &[]);
    escape.path = "/app/../../../etc/passwd".into();
    let err = match backend.spawn("bad", escape).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("escaped"),
    };
    assert!(err.contains("leaves the instance directory"), "{err}");
    // An http component without a port has nowhere to be served.
    install(backend.as_ref(), "bad", guest("diego_app_http")).await;
    let err = match backend.spawn("bad", run(&[], &[])).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("served nowhere"),
    };
    assert!(err.contains("needs at least one exposed port"), "{err}");
    assert!(matches!(
        backend.spawn("nobody", run(&[], &[])).await.err(),
        Some(ExecutorError::NotFound(_))
    ));
    backend.destroy("bad").await.unwrap();
}

/// A startup check that starts before the spawn has bound the port (the executor runs them
/// concurrently) waits for the bind instead of being refused; a check of an instance whose
/// spawn bound nothing fails at once, not after its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_racing_the_spawn_waits_for_the_listener() {
    use diego_backend_wasm::WasmPortChecker;
    use diego_executor::{CheckTarget, HealthChecker, NativeHealthChecker};
    use diego_model::{Check, TcpCheck};

    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir, 8);
    let checker = WasmPortChecker::new(backend.clone(), Arc::new(NativeHealthChecker));
    let check = Check {
        tcp_check: Some(TcpCheck {
            port: 8080,
            connect_timeout_ms: 5_000,
            interval_ms: 0,
        }),
        http_check: None,
    };
    let target = |guid: &str| CheckTarget {
        guid: guid.into(),
        internal_ip: "127.0.0.1".into(),
        ports: vec![],
    };
    backend.create(spec("early", 64, vec![8080])).await.unwrap();
    install(backend.as_ref(), "early", guest("diego_app_http")).await;
    let early = {
        let (checker, check, target) = (checker.clone(), check.clone(), target("early"));
        tokio::spawn(async move { checker.check(&target, &check).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!early.is_finished(), "the check did not wait for the spawn");
    let _spawned = backend.spawn("early", run(&[], &[])).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(2), early)
        .await
        .expect("the check ends once the port is bound")
        .unwrap();
    assert_eq!(result, Ok(()));

    // a command component serves no port: once its spawn is done, checks fail promptly
    backend.create(spec("cli", 64, vec![8080])).await.unwrap();
    install(backend.as_ref(), "cli", guest("diego_app_cli")).await;
    let mut spawned = backend
        .spawn("cli", run(&["echo", "x"], &[]))
        .await
        .unwrap();
    drain(&mut spawned).await;
    let started = std::time::Instant::now();
    let err = checker.check(&target("cli"), &check).await.unwrap_err();
    assert!(err.contains("port 8080"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    backend.destroy("early").await.unwrap();
    backend.destroy("cli").await.unwrap();
}
