//! The real healthcheck guest against local listeners.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::thread::JoinHandle;

use diego_wasm_host::{Check, CheckKind, Healthcheck, HostConfig};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn check(port: u16, kind: CheckKind) -> Check {
    Check {
        address: LOOPBACK,
        port,
        kind,
        path: "/health".into(),
        timeout_ms: 2_000,
    }
}

/// Answers one connection with `status`, after reading the request head; returns the head.
fn http_server(status: &'static str) -> (u16, JoinHandle<String>) {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        stream.write_all(response.as_bytes()).unwrap();
        String::from_utf8_lossy(&head).into_owned()
    });
    (port, server)
}

fn healthcheck(guest: &str) -> Healthcheck {
    let host = common::host(HostConfig::default());
    Healthcheck::load(&host, &common::guest(guest)).expect("load healthcheck")
}

#[test]
fn tcp_check_passes_against_a_listener() {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let result = healthcheck("diego_healthcheck").check(&check(port, CheckKind::Tcp));
    assert_eq!(result, Ok(Ok(())));
}

#[test]
fn tcp_check_fails_against_a_closed_port() {
    let port = TcpListener::bind((LOOPBACK, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = healthcheck("diego_healthcheck").check(&check(port, CheckKind::Tcp));
    let reason = result
        .expect("the sandbox call itself succeeds")
        .unwrap_err();
    assert!(reason.contains("connection refused"), "{reason}");
}

#[test]
fn http_check_passes_on_200_and_sends_the_path() {
    let (port, server) = http_server("200 OK");
    let result = healthcheck("diego_healthcheck").check(&check(port, CheckKind::Http));
    assert_eq!(result, Ok(Ok(())));
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /health HTTP/1.1\r\n"), "{head}");
}

#[test]
fn http_check_fails_on_5xx() {
    let (port, server) = http_server("503 Service Unavailable");
    let result = healthcheck("diego_healthcheck").check(&check(port, CheckKind::Http));
    assert_eq!(result, Ok(Err("http status 503".into())));
    server.join().unwrap();
}

#[test]
fn http_check_fails_against_a_closed_port() {
    let port = TcpListener::bind((LOOPBACK, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reason = healthcheck("diego_healthcheck")
        .check(&check(port, CheckKind::Http))
        .unwrap()
        .unwrap_err();
    assert!(reason.contains("connection refused"), "{reason}");
}

#[test]
fn connecting_anywhere_but_the_instance_is_denied() {
    // A listener on the port the nosy guest really dials: without the sandbox it would connect.
    let (target, neighbour) = loop {
        let target = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let port = target.local_addr().unwrap().port();
        if let Ok(neighbour) = TcpListener::bind((LOOPBACK, port.wrapping_add(1))) {
            break (target, neighbour);
        }
    };
    let port = target.local_addr().unwrap().port();
    let reason = healthcheck("diego_nosy")
        .check(&check(port, CheckKind::Tcp))
        .unwrap()
        .unwrap_err();
    assert!(reason.contains("access"), "{reason}");
    drop(neighbour);
}

#[test]
fn a_scorer_is_not_a_healthcheck() {
    let host = common::host(HostConfig::default());
    let error = Healthcheck::load(&host, &common::guest("diego_scorer"))
        .err()
        .expect("refused");
    assert!(error.to_string().contains("not a healthcheck"), "{error}");
}
