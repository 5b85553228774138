//! Every route's encoding through real HTTP, including deprecated
//! revisions, errors inside 200 responses, bad input and the 404.

mod common;

use common::{BbsServer, Gateway, Proxy, Sse};
use diego_proto::models as w;
use http_body_util::BodyExt;
use prost::Message;

fn task_request(guid: &str) -> Vec<u8> {
    w::DesireTaskRequest {
        task_guid: guid.to_string(),
        domain: "d".to_string(),
        task_definition: Some(w::TaskDefinition {
            root_fs: "docker:///busybox".to_string(),
            memory_mb: 64,
            disk_mb: 64,
            action: Some(w::Action {
                run_action: Some(w::RunAction {
                    path: "/bin/true".to_string(),
                    user: "root".to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

fn err_of(bytes: &[u8]) -> Option<w::Error> {
    w::TaskLifecycleResponse::decode(bytes).unwrap().error
}

async fn task_count(g: &Gateway) -> usize {
    let r = g.post("/v1/tasks/list.r3", vec![]).await;
    w::TasksResponse::decode(r.as_slice()).unwrap().tasks.len()
}

#[tokio::test]
async fn ping_answers_available_with_an_empty_body() {
    let g = Gateway::start().await;
    let r = g.post("/v1/ping", vec![]).await;
    assert!(w::PingResponse::decode(r.as_slice()).unwrap().available);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_a_plain_404() {
    let g = Gateway::start().await;
    for (m, p) in [
        ("POST", "/v1/nope"),
        ("GET", "/v1/ping"),
        ("POST", "/v1/desired_lrp/desire"),
    ] {
        let resp = g.send(m, p, vec![]).await;
        assert_eq!(resp.status(), 404, "{m} {p}");
        assert_ne!(
            resp.headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap()),
            Some("application/x-protobuf")
        );
    }
}

#[tokio::test]
async fn every_route_answers_an_empty_body_without_a_missing_handler() {
    let g = Gateway::start().await;
    for r in diego_gateway::ROUTES.iter().filter(|r| r.stream.is_none()) {
        let bytes = g.post(r.path, vec![]).await;
        // Every response has the error in field 1; an empty request may be
        // refused, but never as a route the gateway forgot.
        if let Ok(w::TaskLifecycleResponse { error: Some(e) }) =
            w::TaskLifecycleResponse::decode(bytes.as_slice())
        {
            assert!(
                !e.message.contains("has no handler"),
                "{}: {}",
                r.name,
                e.message
            );
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_protobuf_is_a_bad_request_and_stores_nothing() {
    let g = Gateway::start().await;
    let r = g
        .post("/v1/tasks/desire.r2", b"\xff\xff\xff not protobuf".to_vec())
        .await;
    let e = err_of(&r).expect("an error");
    assert_eq!(e.r#type, w::error::Type::InvalidRequest as i32);
    assert_eq!(e.message, "the request received is invalid");
    assert_eq!(task_count(&g).await, 0);
}

#[tokio::test]
async fn an_oversized_body_is_a_bad_request_and_stores_nothing() {
    let g = Gateway::start().await;
    let mut body = task_request("big");
    body.resize(diego_gateway::MAX_BODY_BYTES + 1, 0);
    let e = err_of(&g.post("/v1/tasks/desire.r2", body).await).expect("an error");
    assert_eq!(e.r#type, w::error::Type::InvalidRequest as i32);
    assert_eq!(task_count(&g).await, 0);
}

#[tokio::test]
async fn invalid_fields_are_refused_naming_the_field_and_store_nothing() {
    let g = Gateway::start().await;
    for guid in ["abc def", "abc/def", "abc.def", "abc∆def"] {
        let e = err_of(&g.post("/v1/tasks/desire.r2", task_request(guid)).await).expect(guid);
        assert_eq!(e.r#type, w::error::Type::InvalidRequest as i32, "{guid}");
        assert!(e.message.contains("task_guid"), "{}", e.message);
    }
    let mut no_action = w::DesireTaskRequest::decode(task_request("t").as_slice()).unwrap();
    no_action.task_definition.as_mut().unwrap().action = Some(w::Action::default());
    let e = err_of(
        &g.post("/v1/tasks/desire.r2", no_action.encode_to_vec())
            .await,
    )
    .unwrap();
    assert_eq!(e.r#type, w::error::Type::InvalidRequest as i32);
    assert_eq!(task_count(&g).await, 0);
}

#[tokio::test]
async fn task_lifecycle_with_the_original_error_types() {
    let g = Gateway::start().await;
    // Success carries no error field at all: gogo reads an empty one as failure.
    assert!(g
        .post("/v1/tasks/desire.r2", task_request("t1"))
        .await
        .is_empty());
    let dup = err_of(&g.post("/v1/tasks/desire.r2", task_request("t1")).await).unwrap();
    assert_eq!(dup.r#type, w::error::Type::ResourceExists as i32);

    let get = w::TaskByGuidRequest {
        task_guid: "t1".into(),
    }
    .encode_to_vec();
    let r3 = g.post("/v1/tasks/get_by_task_guid.r3", get.clone()).await;
    let r2 = g.post("/v1/tasks/get_by_task_guid.r2", get.clone()).await;
    assert_eq!(r3, r2, "without image layers r2 and r3 are byte-identical");
    let task = w::TaskResponse::decode(r3.as_slice())
        .unwrap()
        .task
        .unwrap();
    assert_eq!(task.state, w::task::State::Pending as i32);
    assert_eq!(task.task_definition.unwrap().root_fs, "docker:///busybox");

    let guid = w::TaskGuidRequest {
        task_guid: "t1".into(),
    }
    .encode_to_vec();
    let bad = err_of(&g.post("/v1/tasks/resolving", guid.clone()).await).unwrap();
    assert_eq!(bad.r#type, w::error::Type::InvalidStateTransition as i32);
    assert_eq!(bad.message, "Cannot transition from Pending to Resolving");
    for path in [
        "/v1/tasks/cancel",
        "/v1/tasks/resolving",
        "/v1/tasks/delete",
    ] {
        assert_eq!(err_of(&g.post(path, guid.clone()).await), None, "{path}");
    }
    let gone = w::TaskResponse::decode(
        g.post("/v1/tasks/get_by_task_guid.r3", get)
            .await
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        gone.error.unwrap().r#type,
        w::error::Type::ResourceNotFound as i32
    );
}

#[tokio::test]
async fn domains_upsert_and_list() {
    let g = Gateway::start().await;
    let up = w::UpsertDomainRequest {
        domain: "cf-apps".into(),
        ttl: 0,
    }
    .encode_to_vec();
    assert!(g.post("/v1/domains/upsert", up).await.is_empty());
    let r =
        w::DomainsResponse::decode(g.post("/v1/domains/list", vec![]).await.as_slice()).unwrap();
    assert_eq!(r.domains, vec!["cf-apps".to_string()]);
    let empty = w::UpsertDomainResponse::decode(
        g.post(
            "/v1/domains/upsert",
            w::UpsertDomainRequest::default().encode_to_vec(),
        )
        .await
        .as_slice(),
    )
    .unwrap();
    assert_eq!(
        empty.error.unwrap().r#type,
        w::error::Type::InvalidRequest as i32
    );
}

#[tokio::test]
async fn event_streams_answer_with_sse_headers_and_refuse_bad_bodies() {
    let g = Gateway::start().await;
    let bad = g
        .send("POST", "/v1/events/lrp_instances.r1", b"\xff\xff".to_vec())
        .await;
    assert_eq!(bad.status(), 500);
    let ok = g
        .send("POST", "/v1/events/tasks.r1", b"\xff\xff".to_vec())
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(
        ok.headers()["cache-control"],
        "no-cache, no-store, must-revalidate"
    );
    drop(ok.into_body().boxed());
}

#[tokio::test]
async fn a_broken_watch_ends_the_event_stream_and_a_lost_bbs_is_an_error() {
    let server = BbsServer::start().await;
    let proxy = Proxy::start(&server.url).await;
    let g = Gateway::in_front_of(server, &proxy.url).await;
    let r = g.post("/v1/ping", vec![]).await;
    assert!(w::PingResponse::decode(r.as_slice()).unwrap().available);
    let mut sse = Sse::new(g.send("POST", "/v1/events/tasks.r1", vec![]).await);
    assert!(g
        .post("/v1/tasks/desire.r2", task_request("t1"))
        .await
        .is_empty());
    assert_eq!(sse.next().await.1, "task_created");

    proxy.cut();
    // The response ends cleanly (the Go client then reconnects).
    sse.ended().await;
    // Without a BBS: ping says unavailable, calls answer with an error
    // inside a 200 as the original does, and a subscription is refused.
    let r = g.post("/v1/ping", vec![]).await;
    assert!(!w::PingResponse::decode(r.as_slice()).unwrap().available);
    let e = err_of(&g.post("/v1/tasks/desire.r2", task_request("t2")).await).unwrap();
    assert_eq!(e.r#type, w::error::Type::UnknownError as i32);
    assert!(
        e.message.contains("bbs") || e.message.contains("transport"),
        "{}",
        e.message
    );
    let refused = g.send("POST", "/v1/events/tasks.r1", vec![]).await;
    assert_eq!(refused.status(), 500);
}
