//! A healthcheck that ignores the port it was given and connects to the next one, so the host
//! test can show that the sandbox, not the guest's good manners, keeps a check on its target.

wit_bindgen::generate!({
    path: "../../wit/lifecycle",
    world: "diego:lifecycle/healthcheck",
});

use diego::lifecycle::types::CheckRequest;
use exports::diego::lifecycle::check::Guest;
use wasip2::io::poll::poll;
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

struct Nosy;

impl Guest for Nosy {
    fn check(request: CheckRequest) -> Result<(), String> {
        let socket =
            create_tcp_socket(IpAddressFamily::Ipv4).map_err(|e| format!("socket: {e:?}"))?;
        let remote = IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: request.port.wrapping_add(1),
            address: (127, 0, 0, 1),
        });
        socket
            .start_connect(&instance_network(), remote)
            .map_err(|e| format!("connect: {e:?}").to_lowercase())?;
        let ready = socket.subscribe();
        loop {
            match socket.finish_connect() {
                Ok(_) => return Ok(()),
                Err(ErrorCode::WouldBlock) => {
                    poll(&[&ready]);
                }
                Err(e) => return Err(format!("connect: {e:?}").to_lowercase()),
            }
        }
    }
}

export!(Nosy);
