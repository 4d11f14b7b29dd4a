//! hello-provider through the whole pipeline: auth, scopes, bodies, 404/405, error format.

use serde_json::{Value, json};

use super::hello_and_hostile;

#[tokio::test]
async fn greets_with_a_valid_token_and_renders_every_refusal_in_its_format() {
    let gw = hello_and_hostile().await;
    let get = |path: &str, token: Option<&str>| {
        let mut r = gw.client.get(gw.at(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let r = get("/hello/greetings/Ada%20L", Some("hello-read-token"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        uuid_version(&rid),
        Some('7'),
        "request ids are UUIDv7: {rid}"
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"greeting": "Hello, Ada L!"})
    );

    let cases = [
        (None, 401, "unauthenticated"),
        (Some("wrong"), 401, "unauthenticated"),
        (Some("hostile-token"), 401, "unauthenticated"), // valid for another plugin only
    ];
    for (token, status, reason) in cases {
        let r = get("/hello/greetings/x", token).await.unwrap();
        assert_eq!(r.status(), status);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["reason"], reason, "{body}");
    }
    // scope missing
    let r = gw
        .client
        .post(gw.at("/hello/echo"))
        .bearer_auth("hello-read-token")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["reason"],
        "forbidden"
    );
    // unknown path under the plugin's prefix, and a wrong method
    let r = get("/hello/nothing", Some("hello-read-token"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["reason"],
        "not_found"
    );
    let r = gw.client.delete(gw.at("/hello/echo")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["reason"],
        "method_not_allowed"
    );
    // a path nobody owns gets the host's plain JSON
    let r = get("/nobody/home", None).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["status"], 404);
}

#[tokio::test]
async fn echo_body_limits_and_bad_json() {
    let gw = hello_and_hostile().await;
    let post = |body: Vec<u8>| {
        gw.client
            .post(gw.at("/hello/echo"))
            .bearer_auth("hello-write-token")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post(br#"{"x":[1,2,3]}"#.to_vec()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"echo": {"x": [1, 2, 3]}})
    );
    let r = post(b"{not json".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    // over the 1 MiB JSON limit: 413 in the plugin's format, never a 5xx
    let r = post(vec![b' '; 1024 * 1024 + 1]).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["reason"],
        "too_large"
    );
}

fn uuid_version(id: &str) -> Option<char> {
    (id.len() == 36).then(|| id.chars().nth(14)).flatten()
}
