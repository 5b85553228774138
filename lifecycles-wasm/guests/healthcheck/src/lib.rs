//! The healthcheck lifecycle: a TCP connect or an HTTP GET against the instance's own
//! address:port. Sockets come from `wasi:sockets`; the host only lets this component reach the
//! instance it checks, so a check can never be turned into a port scanner.
//!
//! Reasons are bare ("connection refused", "timed out", "http status 503"): the caller knows
//! the target and words the message (the executor uses Diego's wording).
//!
//! Every wait polls the socket together with a timer at the check's deadline, so a check never
//! blocks past `timeout-ms` whatever the peer does.

wit_bindgen::generate!({
    path: "../../wit/lifecycle",
    world: "diego:lifecycle/healthcheck",
});

use diego::lifecycle::types::{CheckKind, CheckRequest};
use exports::diego::lifecycle::check::Guest;
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{poll, Pollable};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

/// How much of the response is enough to read the status line.
const STATUS_LINE_MAX_BYTES: usize = 1024;

struct Healthcheck;

/// Waits for `ready` or the deadline, whichever comes first; `false` means timed out.
fn wait(ready: &Pollable, deadline_ns: u64) -> bool {
    let timer = monotonic_clock::subscribe_instant(deadline_ns);
    let fired = poll(&[ready, &timer]);
    fired.contains(&0)
}

fn parse_address(address: &str, port: u16) -> Result<(IpAddressFamily, IpSocketAddress), String> {
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|_| format!("invalid address {address:?}"))?;
    Ok(match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            let socket = Ipv4SocketAddress {
                port,
                address: (a, b, c, d),
            };
            (IpAddressFamily::Ipv4, IpSocketAddress::Ipv4(socket))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            let socket = Ipv6SocketAddress {
                port,
                flow_info: 0,
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: 0,
            };
            (IpAddressFamily::Ipv6, IpSocketAddress::Ipv6(socket))
        }
    })
}

fn describe(code: ErrorCode) -> String {
    match code {
        ErrorCode::AccessDenied => "access denied".into(),
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionReset => "connection reset".into(),
        ErrorCode::Timeout => "timed out".into(),
        ErrorCode::RemoteUnreachable => "remote unreachable".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// An open connection. Field order is drop order: the streams are the socket's children and
/// must go before it, or the host refuses to drop the socket ("resource has children").
struct Connection {
    input: InputStream,
    output: OutputStream,
    _socket: TcpSocket,
}

/// Connects within the deadline.
fn connect(request: &CheckRequest, deadline_ns: u64) -> Result<Connection, String> {
    let (family, remote) = parse_address(&request.address, request.port)?;
    let network = instance_network();
    let socket = create_tcp_socket(family).map_err(|e| format!("socket: {}", describe(e)))?;
    socket
        .start_connect(&network, remote)
        .map_err(describe)?;
    let ready = socket.subscribe();
    loop {
        match socket.finish_connect() {
            Ok((input, output)) => {
                drop(ready);
                return Ok(Connection {
                    input,
                    output,
                    _socket: socket,
                });
            }
            Err(ErrorCode::WouldBlock) => {
                if !wait(&ready, deadline_ns) {
                    return Err("timed out".into());
                }
            }
            Err(e) => return Err(describe(e)),
        }
    }
}

fn write_all(output: &OutputStream, mut bytes: &[u8], deadline_ns: u64) -> Result<(), String> {
    let ready = output.subscribe();
    while !bytes.is_empty() {
        let permitted = output.check_write().map_err(stream_error)?;
        if permitted == 0 {
            if !wait(&ready, deadline_ns) {
                return Err("send request: timed out".into());
            }
            continue;
        }
        let n = bytes.len().min(permitted as usize);
        output.write(&bytes[..n]).map_err(stream_error)?;
        bytes = &bytes[n..];
    }
    output.flush().map_err(stream_error)
}

fn stream_error(error: StreamError) -> String {
    match error {
        StreamError::Closed => "connection closed".into(),
        StreamError::LastOperationFailed(e) => e.to_debug_string().to_lowercase(),
    }
}

/// Reads until the status line is complete; returns the status code.
fn read_status(input: &InputStream, deadline_ns: u64) -> Result<u16, String> {
    let ready = input.subscribe();
    let mut head = Vec::new();
    while !head.contains(&b'\n') && head.len() < STATUS_LINE_MAX_BYTES {
        match input.read((STATUS_LINE_MAX_BYTES - head.len()) as u64) {
            Ok(chunk) if chunk.is_empty() => {
                if !wait(&ready, deadline_ns) {
                    return Err("read response: timed out".into());
                }
            }
            Ok(chunk) => head.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("read response: {}", stream_error(e))),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or("");
    let mut words = line.split_whitespace();
    match (words.next(), words.next().and_then(|s| s.parse().ok())) {
        (Some(version), Some(status)) if version.starts_with("HTTP/") => Ok(status),
        _ => Err(format!("not an http response: {:?}", line)),
    }
}

fn http(request: &CheckRequest, deadline_ns: u64) -> Result<(), String> {
    let connection = connect(request, deadline_ns)?;
    let path = if request.path.starts_with('/') {
        request.path.clone()
    } else {
        format!("/{}", request.path)
    };
    let host = match request.address.contains(':') {
        true => format!("[{}]:{}", request.address, request.port),
        false => format!("{}:{}", request.address, request.port),
    };
    let get = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: diego-healthcheck\r\nConnection: close\r\n\r\n"
    );
    write_all(&connection.output, get.as_bytes(), deadline_ns)?;
    let status = read_status(&connection.input, deadline_ns)?;
    // Diego's healthcheck passes on 200 only, not on any 2xx.
    if status == 200 {
        Ok(())
    } else {
        Err(format!("http status {status}"))
    }
}

impl Guest for Healthcheck {
    fn check(request: CheckRequest) -> Result<(), String> {
        let timeout_ns = u64::from(request.timeout_ms) * 1_000_000;
        let deadline_ns = monotonic_clock::now().saturating_add(timeout_ns);
        match request.kind {
            CheckKind::Tcp => connect(&request, deadline_ns).map(|_| ()),
            CheckKind::Http => http(&request, deadline_ns),
        }
    }
}

export!(Healthcheck);
