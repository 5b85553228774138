//! Mutual TLS with the real binary: `diego certs init`, `diego bbs` with
//! client certificates required, and `diego task list` with and without a
//! client certificate.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::free_port;

fn diego(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(args)
        .env_remove("DIEGO_API")
        .output()
        .expect("diego runs")
}

/// Kills the process if the test panics, so no server outlives it.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn certs_init_then_bbs_with_mutual_tls_accepts_only_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let out = diego(&[
        "certs",
        "init",
        "--dir",
        s(&certs),
        "--hosts",
        "bbs.internal",
        "--days",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in [
        "ca.pem",
        "ca-key.pem",
        "bbs.pem",
        "gateway-key.pem",
        "cell.pem",
        "client-key.pem",
    ] {
        assert!(certs.join(f).exists(), "{f}");
    }
    let again = diego(&["certs", "init", "--dir", s(&certs)]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let port = free_port();
    let _bbs = Proc(
        Command::new(env!("CARGO_BIN_EXE_diego"))
            .args([
                "bbs",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .arg("--tls-ca-file")
            .arg(certs.join("ca.pem"))
            .arg("--tls-cert-file")
            .arg(certs.join("bbs.pem"))
            .arg("--tls-key-file")
            .arg(certs.join("bbs-key.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("diego bbs starts"),
    );
    let api = format!("https://127.0.0.1:{port}");
    let ca = certs.join("ca.pem");
    let with_cert = |cert: &str, key: &str| {
        diego(&[
            "--api",
            &api,
            "--ca-file",
            s(&ca),
            "--cert-file",
            cert,
            "--key-file",
            key,
            "-o",
            "json",
            "task",
            "list",
        ])
    };
    let client = certs.join("client.pem");
    let client_key = certs.join("client-key.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = with_cert(s(&client), s(&client_key));
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "task list never succeeded: {}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A cell over mutual TLS both ways: it reports to the BBS with its
    // certificate and serves its rep API over TLS, which the auctioneer
    // calls with the BBS's certificate; a task then runs on it.
    let _cell = Proc(
        Command::new(env!("CARGO_BIN_EXE_diego"))
            .args([
                "cell",
                "--fake-backend",
                "--cell-id",
                "c1",
                "--bbs",
                &api,
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .arg("--tls-ca-file")
            .arg(certs.join("ca.pem"))
            .arg("--tls-cert-file")
            .arg(certs.join("cell.pem"))
            .arg("--tls-key-file")
            .arg(certs.join("cell-key.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("diego cell starts"),
    );
    let task = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/task-echo.json");
    let mut create = Proc(
        Command::new(env!("CARGO_BIN_EXE_diego"))
            .args([
                "--api",
                &api,
                "--ca-file",
                s(&ca),
                "--cert-file",
                s(&client),
            ])
            .args(["--key-file", s(&client_key), "-o", "json"])
            .args(["task", "create", "-f", task, "--wait"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("diego task create runs"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = create.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the task did not complete over mtls"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(create.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{out}");
    assert!(out.contains("\"state\":\"Completed\""), "{out}");
    assert!(out.contains("\"failed\":false"), "{out}");

    // No client certificate: refused by the server, and the CLI says why.
    let out = diego(&["--api", &api, "--ca-file", s(&ca), "task", "list"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("requires a client certificate"), "{e}");

    // A client certificate from another CA: the CLI names it before dialing.
    let other = dir.path().join("other");
    assert!(diego(&["certs", "init", "--dir", s(&other)])
        .status
        .success());
    let out = with_cert(
        s(&other.join("client.pem")),
        s(&other.join("client-key.pem")),
    );
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("was not issued by the CA"), "{e}");
}
