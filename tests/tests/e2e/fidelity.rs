//! Behaviour the documents promise, end to end (issue 24, points 9 and 10): Altostrat's
//! boolean representation headers and its filenames, unique per site even for backups
//! requested in the same second; HostUp's `include` enum; ByCloud's non-nullable body fields,
//! UUID query values and metadata key lengths.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::openapi::{ALTOSTRAT_TOKEN, BYCLOUD_TOKEN, HOSTUP_TOKEN, SITE, VOLUME, VPS, fleet};
use gateway_tests::TestGateway;

async fn altostrat_list(gw: &TestGateway) -> Vec<String> {
    let r = gw
        .client
        .get(gw.at(&format!("/backup/{SITE}")))
        .bearer_auth(ALTOSTRAT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_string())
        .collect()
}

/// Point 10: backups requested within one second get distinct `<unix seconds>.rsc` names,
/// each listed once and fetchable by name.
#[tokio::test]
async fn altostrat_backups_of_one_second_get_distinct_fetchable_names() {
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet(dir.path()).await;
    // Three requests answered within one second were received in at most two distinct
    // seconds, so naming by the second alone would repeat a name.
    let mut requested = 0;
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..3 {
            let r = gw
                .client
                .post(gw.at(&format!("/backup/{SITE}")))
                .bearer_auth(ALTOSTRAT_TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            requested += 1;
        }
        if started.elapsed() < Duration::from_millis(900) {
            break;
        }
    }
    let mut names = Vec::new();
    for _ in 0..500 {
        names = altostrat_list(&gw).await;
        if names.len() == requested {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(names.len(), requested, "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "names repeat: {names:?}");
    let script = include_str!("../../../plugins/altostrat/tests/fixtures/hq-rb5009.rsc");
    for name in &names {
        let digits = name.strip_suffix(".rsc").unwrap();
        assert!(
            digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        let r = gw
            .client
            .get(gw.at(&format!("/backup/{SITE}/{name}")))
            .bearer_auth(ALTOSTRAT_TOKEN)
            .header("X-View", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.text().await.unwrap(), script, "{name}");
    }
}

/// Point 9: the representation headers are booleans, as documented.
#[tokio::test]
async fn altostrat_representation_headers_are_booleans() {
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet(dir.path()).await;
    let r = gw
        .client
        .post(gw.at(&format!("/backup/{SITE}")))
        .bearer_auth(ALTOSTRAT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mut names = Vec::new();
    for _ in 0..500 {
        names = altostrat_list(&gw).await;
        if !names.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = gw.at(&format!("/backup/{SITE}/{}", names[0]));
    let get = |name: &'static str, value: &'static str| {
        gw.client
            .get(&url)
            .bearer_auth(ALTOSTRAT_TOKEN)
            .header(name, value)
            .send()
    };
    let r = get("X-View", "true").await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    let r = get("X-Download", "FALSE").await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    for (name, value) in [
        ("X-View", "yes"),
        ("X-Highlight", "1"),
        ("X-Download", "on"),
    ] {
        let r = get(name, value).await.unwrap();
        assert_eq!(r.status(), 400, "{name}: {value}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({
                "type": "invalid_request_error",
                "code": "parameter_invalid",
                "message": format!("The request is invalid: header '{name}' must be 'true' or 'false', not '{value}'."),
                "doc_url": "https://docs.altostrat.io/errors/parameter_invalid",
            })
        );
    }
}

/// Point 9: `include` is an enum of one value; anything else is a 400 pointing at it.
#[tokio::test]
async fn hostup_include_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet(dir.path()).await;
    let list = |query: &'static str| {
        gw.client
            .get(gw.at(&format!("/api/v2/vps?{query}")))
            .bearer_auth(HOSTUP_TOKEN)
            .send()
    };
    let r = list("include=pendingMaintenance").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"][0]["id"], VPS);
    assert!(
        body["data"][0]
            .get("pendingMaintenanceHasDeadline")
            .is_some()
    );
    for (query, pointer) in [
        ("include=other", "/include/0"),
        (
            "include=pendingMaintenance&include=pendingmaintenance",
            "/include/1",
        ),
        ("include=", "/include/0"),
    ] {
        let r = list(query).await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_request", "{body}");
        assert_eq!(body["errors"][0]["pointer"], pointer, "{body}");
    }
}

/// Point 9: no ByCloud field is nullable, `marker` and `volume_id` are UUIDs even when
/// empty, metadata keys are 1 to 255 characters: each a 400 naming the field.
#[tokio::test]
async fn bycloud_refuses_what_its_document_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet(dir.path()).await;
    let create = |body: Value| {
        gw.client
            .post(gw.at("/v1/backups"))
            .bearer_auth(BYCLOUD_TOKEN)
            .json(&body)
            .send()
    };
    let details = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], 400, "{body}");
        body["error"]["details"].as_str().unwrap().to_string()
    };
    let r = create(json!({"volume_id": VOLUME, "name": null, "metadata": null}))
        .await
        .unwrap();
    assert_eq!(
        details(r).await,
        "Field 'name' must not be null; Field 'metadata' must not be null"
    );
    let r = create(json!({"volume_id": null})).await.unwrap();
    assert_eq!(details(r).await, "Field 'volume_id' must not be null");
    let r = create(json!({"volume_id": VOLUME, "metadata": {"": "x"}}))
        .await
        .unwrap();
    assert_eq!(
        details(r).await,
        "Field 'metadata' keys must be 1 to 255 characters"
    );
    for query in ["marker=", "volume_id="] {
        let r = gw
            .client
            .get(gw.at(&format!("/v1/backups?{query}")))
            .bearer_auth(BYCLOUD_TOKEN)
            .send()
            .await
            .unwrap();
        let field = query.trim_end_matches('=');
        assert_eq!(details(r).await, format!("Field '{field}' must be a UUID"));
    }
    // The same body without the nulls is accepted, and restores refuse null too.
    let r = create(json!({"volume_id": VOLUME, "name": "ok"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["backup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = gw
        .client
        .post(gw.at(&format!("/v1/backups/{id}/restore")))
        .bearer_auth(BYCLOUD_TOKEN)
        .json(&json!({"volume_id": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(details(r).await, "Field 'volume_id' must not be null");
}
