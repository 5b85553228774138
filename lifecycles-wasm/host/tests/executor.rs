//! The wasm healthcheck behind the executor's trait gives the native checker's verdicts and
//! messages.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};

use diego_executor::{CheckTarget, HealthChecker, NativeHealthChecker};
use diego_model::action::{Check, HttpCheck, TcpCheck};
use diego_wasm_host::{Healthcheck, HostConfig, WasmHealthChecker};

fn wasm_checker() -> WasmHealthChecker {
    let host = common::host(HostConfig::default());
    WasmHealthChecker::new(Healthcheck::load(&host, &common::guest("diego_healthcheck")).unwrap())
}

fn target() -> CheckTarget {
    CheckTarget {
        guid: "instance".into(),
        internal_ip: "127.0.0.1".into(),
        ports: Vec::new(),
    }
}

fn tcp(port: u16) -> Check {
    Check {
        tcp_check: Some(TcpCheck {
            port: u32::from(port),
            ..TcpCheck::default()
        }),
        http_check: None,
    }
}

fn http(port: u16) -> Check {
    Check {
        tcp_check: None,
        http_check: Some(HttpCheck {
            port: u32::from(port),
            path: "/ready".into(),
            ..HttpCheck::default()
        }),
    }
}

fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// Answers every connection with `status`.
fn http_server(status: &'static str) -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            if matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                let _ = stream.write_all(response.as_bytes());
            }
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_and_native_checkers_agree() {
    let wasm = wasm_checker();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = closed_port();
    let ok = http_server("200 OK");
    let unavailable = http_server("503 Service Unavailable");
    for check in [
        tcp(open),
        tcp(closed),
        http(ok),
        http(unavailable),
        http(closed),
    ] {
        let native = NativeHealthChecker.check(&target(), &check).await;
        let sandboxed = wasm.check(&target(), &check).await;
        assert_eq!(sandboxed, native, "{check:?}");
    }
    assert_eq!(
        wasm.check(&target(), &tcp(closed)).await,
        Err(format!(
            "Failed to make TCP connection to port {closed}: connection refused"
        ))
    );
}
