//! The router itself (`http::app`), driven with `oneshot` and no socket: the order of the
//! pipeline's stages (auth → scope → body → plugin), request ids, path and method refusals,
//! the health endpoint and the host's last-resort 404. The connection guard and the accept
//! loop are covered over real sockets in `edge.rs` and `slow_clients.rs`.

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::ORG;
use gateway_tests::{TestGateway, provider_plugin};

/// hello-provider with a 64-byte JSON body limit and a reader and a writer token.
async fn hello() -> TestGateway {
    let extra = format!(
        r#"{ORG}
[[credentials]]
org = "acme"
plugin = "hello"
scheme = "bearer"
key = "reader"
secret = "read-token"
scopes = ["hello:read"]

[[credentials]]
org = "acme"
plugin = "hello"
scheme = "bearer"
key = "writer"
secret = "write-token"
scopes = ["hello:read", "hello:write"]
"#
    );
    TestGateway::start_with(
        &[provider_plugin("hello_provider")],
        "max_json_body = 64",
        &extra,
    )
    .await
    .expect("gateway starts")
}

/// One request through a fresh router: status, headers and the body as JSON (null if none).
async fn send(gw: &TestGateway, req: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let resp = backup_gateway::http::app(gw.gateway.clone())
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON body")
    };
    (parts.status, parts.headers, json)
}

fn echo(token: Option<&str>, body: &str) -> Request<Body> {
    let mut r = Request::post("/hello/echo")
        .header("content-type", "application/json")
        .header("content-length", body.len());
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    r.body(Body::from(body.to_owned())).expect("request")
}

#[tokio::test]
async fn each_stage_refuses_before_the_next_runs() {
    let gw = hello().await;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(100));
    // (token, body, status, the provider's reason): each row passes one more stage
    let cases = [
        (None, big.as_str(), 401, "unauthenticated"), // auth before the body is read
        (Some("nope"), big.as_str(), 401, "unauthenticated"),
        (Some("read-token"), big.as_str(), 403, "forbidden"), // scope before the body
        (Some("write-token"), big.as_str(), 413, "too_large"), // the body before the plugin
        (Some("write-token"), "{not json", 400, "invalid_body"), // the plugin's own 400
    ];
    for (token, body, status, reason) in cases {
        let (got, _, v) = send(&gw, echo(token, body)).await;
        assert_eq!(got.as_u16(), status, "{token:?} {body:.20}: {v}");
        assert_eq!(v["error"]["reason"], reason, "{token:?}: {v}");
        assert_eq!(
            v["error"]["status"], status,
            "in the provider's format: {v}"
        );
    }
    let (got, _, v) = send(&gw, echo(Some("write-token"), r#"{"a":1}"#)).await;
    assert_eq!(got, StatusCode::OK);
    assert_eq!(v, json!({"echo": {"a": 1}}));
}

#[tokio::test]
async fn request_ids_are_kept_or_made_on_answers_and_refusals_alike() {
    let gw = hello().await;
    let given = "client-chosen-id-1";
    for token in [Some("read-token"), None] {
        let mut r = Request::get("/hello/greetings/ada").header("x-request-id", given);
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        let (status, headers, _) = send(&gw, r.body(Body::empty()).unwrap()).await;
        assert_eq!(headers["x-request-id"], given, "{status}");
    }
    let (_, headers, _) = send(
        &gw,
        Request::get("/hello/greetings/ada")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let made = headers["x-request-id"].to_str().unwrap();
    assert_eq!(made.len(), 36, "a made id is a UUID: {made}");
    assert_eq!(
        made.chars().nth(14),
        Some('7'),
        "a made id is a UUIDv7: {made}"
    );
}

#[tokio::test]
async fn paths_and_methods_are_refused_by_their_owner_or_by_the_host() {
    let gw = hello().await;
    let get = |path: &str| {
        Request::get(path)
            .header("authorization", "Bearer read-token")
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, v) = send(&gw, get("/hello/greetings/Ada%20L")).await;
    assert_eq!(
        (status, v),
        (StatusCode::OK, json!({"greeting": "Hello, Ada L!"}))
    );
    // a parameter that is not percent-encoded UTF-8: the plugin's 400, not the host's
    let (status, _, v) = send(&gw, get("/hello/greetings/%FF")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["reason"], "invalid_request", "{v}");
    // a known path with another method: the owner's 405, `Allow` naming what it serves
    let put = Request::put("/hello/echo").body(Body::empty()).unwrap();
    let (status, headers, v) = send(&gw, put).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    assert_eq!(v["error"]["reason"], "method_not_allowed", "{v}");
    // under the plugin's prefix: its 404; nobody's path: the host's plain JSON
    let (status, _, v) = send(&gw, get("/hello/nowhere")).await;
    assert_eq!(
        (status, &v["error"]["reason"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
    let (status, _, v) = send(&gw, get("/nobody/home")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v, json!({"error": {"status": 404, "message": "Not Found"}}));
}

#[tokio::test]
async fn health_lists_each_plugin_with_its_digest_and_routes() {
    let gw = hello().await;
    let req = Request::get("/_gateway/health")
        .body(Body::empty())
        .unwrap();
    let (status, _, v) = send(&gw, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    let plugins = v["plugins"].as_array().expect("plugins");
    assert_eq!(plugins.len(), 1, "{v}");
    let hello = &plugins[0];
    assert_eq!(hello["name"], "hello");
    assert_eq!(hello["contract"], "1.1.0");
    let digest = hello["sha256"].as_str().unwrap_or_default();
    let wasm = std::fs::read(provider_plugin("hello_provider")).unwrap();
    assert_eq!(
        digest,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm))
    );
    assert_eq!(
        hello["routes"],
        json!([
            {"method": "GET", "path": "/hello/greetings/{name}", "operation": "greet"},
            {"method": "POST", "path": "/hello/echo", "operation": "echo"},
        ])
    );
}
