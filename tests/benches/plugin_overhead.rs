//! Per-request overhead of a plugin against a native handler with the same logic, measured
//! in the same run (a benchmark, not a test: it prints figures, asserts nothing about time).
//!
//! 1. instance level: a fresh instance of hello-provider (new Store, instantiate from the
//!    pre-instantiated component, one `handle` call, drop) vs the same greeting built natively;
//! 2. router level: `GET /hello/greetings/{name}` through the whole gateway router (auth,
//!    scope, plugin) vs a native axum router answering the same JSON, both via `oneshot`.
//!
//! Run: `scripts/build-plugins && cargo bench -p gateway-tests --bench plugin_overhead`.

use std::time::{Duration, Instant};

use axum::body::Body;
use tower::ServiceExt;

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(v[v.len() / 2]), us(v[v.len() * 99 / 100]))
}

fn report(name: &str, plugin: Vec<Duration>, native: Vec<Duration>) {
    let (pm, p99) = stats(plugin);
    let (nm, n99) = stats(native);
    println!(
        "{name:8} plugin median {pm:8.2} µs  p99 {p99:8.2} µs | native median {nm:6.2} µs  p99 {n99:6.2} µs | ratio median {:.1}x, p99 {:.1}x | plugin overhead {:.2} µs",
        pm / nm,
        p99 / n99,
        pm - nm
    );
}

fn greeting(name: &str) -> Vec<u8> {
    serde_json::json!({ "greeting": format!("Hello, {name}!") })
        .to_string()
        .into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    const N: usize = 5000;
    let extra = r#"
[[orgs]]
id = "acme"
[[credentials]]
org = "acme"
plugin = "hello"
scheme = "bearer"
key = "r"
secret = "bench-token"
scopes = ["hello:read"]
"#;
    let gw = gateway_tests::TestGateway::start(
        &[gateway_tests::provider_plugin("hello_provider")],
        extra,
    )
    .await?;
    let plugin = gw.gateway.plugins[0].clone();

    // 1. instance level
    let req = backup_gateway::plugins::bindings::types::Request {
        operation: "greet".into(),
        method: backup_gateway::plugins::bindings::types::Method::Get,
        path: "/hello/greetings/bench".into(),
        params: vec![("name".into(), "bench".into())],
        query: vec![],
        headers: vec![],
        body: vec![],
        principal: None,
        request_id: "bench".into(),
        received_at: 0,
    };
    let name = plugin.name.clone();
    let ctx = move || backup_gateway::plugins::CallContext {
        plugin: name.clone(),
        org: None,
        subject: None,
        request_id: "bench".into(),
        services: None,
        rt: None,
    };
    let (p, r) = (plugin.clone(), req.clone());
    let (inst, native) = tokio::task::spawn_blocking(move || {
        let mut inst = Vec::with_capacity(N);
        let mut native = Vec::with_capacity(N);
        for i in 0..N + 500 {
            let t = Instant::now();
            let out = p
                .call_blocking(ctx(), |prov, s| prov.call_handle(s, &r))
                .expect("call");
            let d = t.elapsed();
            std::hint::black_box(out);
            let t = Instant::now();
            std::hint::black_box(greeting(std::hint::black_box("bench")));
            let n = t.elapsed();
            if i >= 500 {
                inst.push(d);
                native.push(n);
            }
        }
        (inst, native)
    })
    .await?;
    report("instance", inst, native);

    // 2. router level
    let app = backup_gateway::http::app(gw.gateway.clone());
    let native_app = axum::Router::new().route(
        "/hello/greetings/{name}",
        axum::routing::get(
            |axum::extract::Path(name): axum::extract::Path<String>| async move {
                ([("content-type", "application/json")], greeting(&name))
            },
        ),
    );
    let mk = || {
        http::Request::get("/hello/greetings/bench")
            .header("authorization", "Bearer bench-token")
            .body(Body::empty())
            .expect("request")
    };
    let mut plugin_t = Vec::with_capacity(N);
    let mut native_t = Vec::with_capacity(N);
    for i in 0..N + 500 {
        let t = Instant::now();
        let resp = app.clone().oneshot(mk()).await?;
        assert_eq!(resp.status(), 200);
        let d = t.elapsed();
        let t = Instant::now();
        let resp = native_app.clone().oneshot(mk()).await?;
        assert_eq!(resp.status(), 200);
        let n = t.elapsed();
        if i >= 500 {
            plugin_t.push(d);
            native_t.push(n);
        }
    }
    report("router", plugin_t, native_t);
    Ok(())
}
