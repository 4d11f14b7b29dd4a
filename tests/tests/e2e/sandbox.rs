//! A plugin can never hurt the host: loops, memory hogs, traps, oversized bodies and bad
//! headers each end in a 500 in the plugin's own format within the deadline, while other
//! plugins keep serving; colliding routes refuse to start.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::hello_and_hostile;
use gateway_tests::{TestGateway, provider_plugin, test_plugin};

async fn hostile(gw: &TestGateway, op: &str) -> (u16, Value, Duration) {
    let t = Instant::now();
    let r = gw
        .client
        .get(gw.at(&format!("/hostile/{op}")))
        .bearer_auth("hostile-token")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null), t.elapsed())
}

#[tokio::test]
async fn every_misbehaviour_becomes_a_plugin_shaped_500() {
    let gw = hello_and_hostile().await;
    let (s, body, _) = hostile(&gw, "ok").await;
    assert_eq!((s, body["ok"].as_bool()), (200, Some(true)));
    for op in ["loop", "hog", "trap", "big", "bad-header"] {
        let (status, body, took) = hostile(&gw, op).await;
        assert_eq!(status, 500, "{op}: {body}");
        assert_eq!(body["hostile_error"]["kind"], "internal", "{op}: {body}");
        // the deadline is 1 s; generous slack for a loaded machine, but not unbounded
        assert!(took < Duration::from_secs(30), "{op} took {took:?}");
    }
    // when render-problem fails too, the host's plain JSON still says 500
    let (status, body, _) = hostile(&gw, "double-fault").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["status"], 500, "{body}");
}

#[tokio::test]
async fn other_plugins_serve_while_one_spins() {
    let gw = hello_and_hostile().await;
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let c = gw.client.clone();
            let url = gw.at("/hostile/loop");
            tokio::spawn(async move {
                c.get(url)
                    .bearer_auth("hostile-token")
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    // while both spin (each holds a blocking thread until its deadline), hello answers
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        let r = gw
            .client
            .get(gw.at("/hello/greetings/x"))
            .bearer_auth("hello-read-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for s in spinners {
        assert_eq!(s.await.unwrap().unwrap(), 500);
    }
}

#[tokio::test]
async fn colliding_routes_refuse_to_start_naming_both_plugins() {
    let err = TestGateway::start(
        &[
            provider_plugin("hello_provider"),
            test_plugin("collider_plugin"),
        ],
        super::ORG,
    )
    .await
    .err()
    .expect("start-up must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains("collider") && msg.contains("hello"), "{msg}");
    assert!(
        msg.contains("/hello/greetings/{name}") && msg.contains("/hello/greetings/{who}"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_plugin_that_imports_the_filesystem_is_refused_at_load() {
    let err = TestGateway::start(&[test_plugin("snooper_plugin")], super::ORG)
        .await
        .err()
        .expect("start-up must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains("wasi:filesystem"), "{msg}");
}

#[tokio::test]
async fn a_restart_reuses_compiled_components() {
    let first = hello_and_hostile().await;
    drop(first);
    let second = hello_and_hostile().await;
    for p in &second.gateway.plugins {
        assert!(p.cached, "{} was compiled again", p.name);
    }
}
