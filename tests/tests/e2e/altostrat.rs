//! Altostrat site backups end to end: opaque API tokens and HS256 JWTs (with `exp`), a
//! requested backup captured by a worker from the site's RouterOS export, the list, the four
//! representations of one backup, subnet discovery, and errors in `{type, code, message,
//! doc_url}`.

use std::time::Duration;

use serde_json::{Value, json};

use gateway_tests::{TestGateway, provider_plugin};

const SITE: &str = "a1b2c3d4-e5f6-7890-1234-567890abcdef";
const OPAQUE: &str = "0b6f2d7e-0000-4000-8000-000000000001:6a1c0c9e-0000-4000-8000-000000000002:s3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAB";
const JWT_SECRET: &str = "altostrat-test-signing-key";

fn jwt(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn gateway(export: &std::path::Path) -> TestGateway {
    let extra = format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "altostrat"
scheme = "bearer"
key = "sdx-token"
secret = "{OPAQUE}"
scopes = ["backup:read", "backup:create"]

[[resources]]
org = "acme"
plugin = "altostrat"
kind = "site"
id = "{SITE}"
name = "HQ"
source = {{ file = "{src}" }}

[plugins.altostrat.jwt]
hs256_secret = "{JWT_SECRET}"
org_claim = "team_id"
"#,
        org = super::ORG,
        src = export.display()
    );
    TestGateway::start(&[provider_plugin("altostrat")], &extra)
        .await
        .unwrap()
}

#[tokio::test]
async fn request_list_fetch_and_discover_subnets() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("hq.rsc");
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plugins/altostrat/tests/fixtures/hq-rb5009.rsc"
    ))
    .unwrap();
    std::fs::write(&export, &script).unwrap();
    let gw = gateway(&export).await;
    let (c, base) = (&gw.client, gw.url.as_str());

    // no backup yet: subnet discovery says so
    let r = c
        .get(format!("{base}/backup/{SITE}/subnets"))
        .bearer_auth(OPAQUE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "no_backup");

    // a JWT with the create scope requests a backup
    let token = jwt(
        json!({"sub": "ops@acme", "team_id": "acme", "scope": "backup:create backup:read", "exp": now() + 300}),
    );
    let r = c
        .post(format!("{base}/backup/{SITE}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "Backup requested"})
    );

    // the worker captures it
    let mut list = Value::Null;
    for _ in 0..200 {
        list = c
            .get(format!("{base}/backup/{SITE}"))
            .bearer_auth(OPAQUE)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let item = &list[0];
    let filename = item["filename"].as_str().unwrap().to_owned();
    assert!(filename.ends_with(".rsc"), "{list}");
    assert!(item["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(item["size"].as_str().unwrap().ends_with('B'));

    let get = |h: Option<&'static str>| {
        let mut r = c
            .get(format!("{base}/backup/{SITE}/{filename}"))
            .bearer_auth(OPAQUE);
        if let Some(h) = h {
            r = r.header(h, "true");
        }
        r.send()
    };
    let v: Value = get(None).await.unwrap().json().await.unwrap();
    assert_eq!(v["content"], script.as_str());
    let r = get(Some("x-view")).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), script);
    let r = get(Some("x-download")).await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&filename)
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), script.as_bytes());
    let r = get(Some("x-highlight")).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<span"));

    let subnets: Value = c
        .get(format!("{base}/backup/{SITE}/subnets"))
        .bearer_auth(OPAQUE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(subnets["backup"], filename.as_str());
    assert!(
        !subnets["subnets"].as_array().unwrap().is_empty(),
        "{subnets}"
    );
}

#[tokio::test]
async fn errors_are_altostrat_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("hq.rsc");
    std::fs::write(
        &export,
        "/ip address\nadd address=10.0.0.1/24 interface=ether1\n",
    )
    .unwrap();
    let gw = gateway(&export).await;
    let (c, base) = (&gw.client, gw.url.as_str());
    let expired = jwt(json!({"team_id": "acme", "scope": "backup:read", "exp": now() - 60}));
    let read_only = jwt(json!({"team_id": "acme", "scope": "backup:read", "exp": now() + 60}));
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (c.get(format!("{base}/backup/{SITE}")), 401),
        (
            c.get(format!("{base}/backup/{SITE}")).bearer_auth(&expired),
            401,
        ),
        (
            c.get(format!("{base}/backup/{SITE}")).bearer_auth("nope"),
            401,
        ),
        (
            c.post(format!("{base}/backup/{SITE}"))
                .bearer_auth(&read_only),
            403,
        ),
        (
            c.get(format!("{base}/backup/not-a-uuid"))
                .bearer_auth(&read_only),
            400,
        ),
        (
            c.get(format!(
                "{base}/backup/00000000-0000-4000-8000-000000000000"
            ))
            .bearer_auth(&read_only),
            404,
        ),
        (
            c.get(format!("{base}/backup/{SITE}/1.rsc"))
                .bearer_auth(&read_only),
            404,
        ),
    ];
    for (req, status) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status);
        let v: Value = r.json().await.unwrap();
        for field in ["type", "code", "message", "doc_url"] {
            assert!(v[field].is_string(), "{field} missing: {v}");
        }
        assert!(
            v["doc_url"]
                .as_str()
                .unwrap()
                .ends_with(v["code"].as_str().unwrap()),
            "{v}"
        );
    }
    let r = c
        .get(format!("{base}/backup/{SITE}"))
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "token_expired");
}

/// A method outside the contract's named cases reaches the plugin as itself (contract 1.1):
/// Altostrat's 405 for `OPTIONS /backup/{siteId}` names OPTIONS, not GET, and lists what the
/// path serves.
#[tokio::test]
async fn an_options_request_gets_a_405_naming_options() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("hq.rsc");
    std::fs::write(&export, "/system identity set name=hq\n").unwrap();
    let gw = gateway(&export).await;
    let (c, base) = (&gw.client, gw.url.as_str());
    let r = c
        .request(reqwest::Method::OPTIONS, format!("{base}/backup/{SITE}"))
        .bearer_auth(OPAQUE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let allow = r.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "method_not_allowed", "{v}");
    assert_eq!(
        v["message"],
        "The OPTIONS method is not allowed on this endpoint."
    );
}
