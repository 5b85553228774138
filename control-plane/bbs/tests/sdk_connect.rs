//! A client that starts before its BBS waits for it; one with a bad address
//! does not.

mod common;

use std::time::Duration;

use common::Server;
use diego_model::ErrorCode;
use diego_sdk::Client;

#[tokio::test]
async fn a_client_waits_for_a_bbs_that_is_not_listening_yet() {
    let dir = tempfile::tempdir().unwrap();
    // a free port, closed again: connecting to it is refused until the server binds it
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}");
    let waiting =
        tokio::spawn(async move { Client::connect_when_listening(&url, None, 200).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiting.is_finished(),
        "the client gave up while nothing listened"
    );
    let server = Server::start_at(dir.path(), addr).await;
    let client = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the client connects once the bbs listens")
        .unwrap()
        .unwrap();
    client.ping().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_bad_address_fails_at_once_instead_of_waiting() {
    // a retry loop would never return: the timeout turns that into a failure
    let e = tokio::time::timeout(
        Duration::from_secs(30),
        Client::connect_when_listening("not a url", None, 200),
    )
    .await
    .expect("a malformed address is not waited on")
    .err()
    .expect("a malformed address is refused");
    assert_eq!(e.code, ErrorCode::InvalidRequest, "{e}");
    assert!(e.message.contains("not a url"), "{e}");
}
