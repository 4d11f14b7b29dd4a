//! The admin API end to end (its own listener, a real gateway): orgs created, read with
//! their usage, renamed, suspended (every client request refused in the provider's own
//! format, on every node), deleted; admin tokens with scopes, expiry and revocation; the
//! audit log; and every refusal an RFC 7807 problem pointing at the field.

use reqwest::Method;
use serde_json::{Value, json};

use super::appliance::{A1, gateway, list, upload};
use gateway_tests::{ADMIN_TOKEN, TestGateway, eventually};

/// Send `body` (JSON) with `token` and return status and parsed body.
async fn call(
    gw: &TestGateway,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = gw.admin(method, path, token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    if status >= 400 {
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The status of acme's list call with A1.
pub(crate) async fn list_status(gw: &TestGateway) -> u16 {
    list_response(gw).await.status().as_u16()
}

async fn list_response(gw: &TestGateway) -> reqwest::Response {
    gw.client
        .get(gw.at("/api/systems/backups"))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap()
}

/// Acme's list body once the call answers `want` (a change reaches a node within a poll
/// of the control version); panics after 10 s.
pub(crate) async fn until_list_status(gw: &TestGateway, want: u16) -> Value {
    assert_eq!(eventually(want, async || list_status(gw).await).await, want);
    list_response(gw).await.json().await.unwrap()
}

#[tokio::test]
async fn orgs_are_created_read_with_usage_renamed_and_deleted() {
    let gw = gateway("[plugins.appliance-collect]\norg_bytes = 5000\n").await;
    // the file's orgs are there
    let (s, all) = call(&gw, Method::GET, "/orgs", ADMIN_TOKEN, None).await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = all["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "globex"]);
    // create
    let r = gw
        .admin(Method::POST, "/orgs", ADMIN_TOKEN)
        .json(&json!({"id": "initech", "name": "Initech"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/admin/v1/orgs/initech");
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        (&created["id"], &created["name"], &created["suspended"]),
        (&json!("initech"), &json!("Initech"), &json!(false))
    );
    let (s, p) = call(
        &gw,
        Method::POST,
        "/orgs",
        ADMIN_TOKEN,
        Some(json!({"id": "initech"})),
    )
    .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (409, Some("/admin/v1/problems/conflict"))
    );
    // usage: what acme stores, against the plugin's org quota
    assert_eq!(
        upload(&gw, A1, Some("a.tar.gz"), vec![1; 1234])
            .await
            .status(),
        201
    );
    let (s, acme) = call(&gw, Method::GET, "/orgs/acme", ADMIN_TOKEN, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        acme["usage"],
        json!([{"provider": "appliance-collect", "used_bytes": 1234, "reserved_bytes": 0,
                "backups": 1, "limit_bytes": 5000}])
    );
    // rename
    let (s, renamed) = call(
        &gw,
        Method::PATCH,
        "/orgs/initech",
        ADMIN_TOKEN,
        Some(json!({"name": "Initech Corp"})),
    )
    .await;
    assert_eq!((s, &renamed["name"]), (200, &json!("Initech Corp")));
    // delete: refused while acme holds a backup, done for the empty org
    let (s, p) = call(&gw, Method::DELETE, "/orgs/acme", ADMIN_TOKEN, None).await;
    assert_eq!(s, 409, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("still holds 1"),
        "{p}"
    );
    let (s, _) = call(&gw, Method::DELETE, "/orgs/initech", ADMIN_TOKEN, None).await;
    assert_eq!(s, 204);
    let (s, p) = call(&gw, Method::GET, "/orgs/initech", ADMIN_TOKEN, None).await;
    assert_eq!((s, p["detail"].as_str()), (404, Some("no org \"initech\"")));
    // acme's backup is untouched
    assert_eq!(
        list(&gw, A1).await["data"]["backups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_admin_requests_are_problems_pointing_at_the_field() {
    let gw = gateway("").await;
    let cases = [
        (json!({"id": "a/b"}), "/id"),
        (json!({"id": ""}), "/id"),
        (json!({"id": "ok", "nickname": "x"}), "/nickname"),
        (json!({"id": 7}), "/id"),
        (json!({"id": "ok", "name": "  "}), "/name"),
        (json!(["id"]), "/"),
    ];
    for (body, pointer) in cases {
        let (s, p) = call(&gw, Method::POST, "/orgs", ADMIN_TOKEN, Some(body.clone())).await;
        assert_eq!(s, 400, "{body}: {p}");
        assert_eq!(p["type"], "/admin/v1/problems/invalid-request", "{body}");
        assert_eq!(p["errors"][0]["pointer"], pointer, "{body}: {p}");
        assert_eq!(p["status"], 400);
    }
    // not JSON at all, the wrong media type, an unknown route and method
    let r = gw
        .admin(Method::POST, "/orgs", ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = gw
        .admin(Method::POST, "/orgs", ADMIN_TOKEN)
        .body(r#"{"id": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let (s, _) = call(&gw, Method::GET, "/nope", ADMIN_TOKEN, None).await;
    assert_eq!(s, 404);
    let (s, _) = call(&gw, Method::PUT, "/orgs", ADMIN_TOKEN, None).await;
    assert_eq!(s, 405);
    let (s, p) = call(&gw, Method::GET, "/audit?limit=0", ADMIN_TOKEN, None).await;
    assert_eq!(
        (s, &p["errors"][0]["pointer"]),
        (400, &json!("query:limit"))
    );
    let (s, p) = call(&gw, Method::GET, "/audit?colour=red", ADMIN_TOKEN, None).await;
    assert_eq!(s, 400, "{p}");
    // nothing was created by any of it
    let (_, all) = call(&gw, Method::GET, "/orgs", ADMIN_TOKEN, None).await;
    assert_eq!(all["orgs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn tokens_have_scopes_expire_and_are_revoked() {
    let gw = gateway("").await;
    // no token, a wrong one
    let r = gw
        .client
        .get(format!("{}/admin/v1/orgs", gw.admin_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"backup-gateway admin\""
    );
    let (s, _) = call(&gw, Method::GET, "/orgs", "bgat_wrong", None).await;
    assert_eq!(s, 401);
    // a read-only token reads and cannot change anything
    let (s, made) = call(
        &gw,
        Method::POST,
        "/tokens",
        ADMIN_TOKEN,
        Some(json!({"name": "dashboards", "scopes": ["read"]})),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    let reader = made["token"].as_str().unwrap().to_owned();
    assert!(
        reader.starts_with("bgat_") && reader.len() == 69,
        "{reader}"
    );
    let (s, _) = call(&gw, Method::GET, "/orgs", &reader, None).await;
    assert_eq!(s, 200);
    let (s, p) = call(
        &gw,
        Method::POST,
        "/orgs",
        &reader,
        Some(json!({"id": "x"})),
    )
    .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (403, Some("/admin/v1/problems/forbidden"))
    );
    let (s, _) = call(
        &gw,
        Method::PATCH,
        "/orgs/acme",
        &reader,
        Some(json!({"suspended": true})),
    )
    .await;
    assert_eq!(s, 403);
    // the secret is never shown again
    let (_, tokens) = call(&gw, Method::GET, "/tokens", ADMIN_TOKEN, None).await;
    assert!(!tokens.to_string().contains(&reader));
    assert_eq!(tokens["tokens"][0]["name"], "dashboards");
    assert!(tokens["tokens"][0].get("token").is_none());
    // revoked: refused at once
    let id = made["id"].as_str().unwrap();
    let (s, revoked) = call(
        &gw,
        Method::DELETE,
        &format!("/tokens/{id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(revoked["revoked_at"].is_i64());
    let (s, _) = call(&gw, Method::GET, "/orgs", &reader, None).await;
    assert_eq!(s, 401);
    let (s, _) = call(&gw, Method::DELETE, "/tokens/nope", ADMIN_TOKEN, None).await;
    assert_eq!(s, 404);
    // an unknown scope; an expiring token stops working
    let (s, p) = call(
        &gw,
        Method::POST,
        "/tokens",
        ADMIN_TOKEN,
        Some(json!({"name": "x", "scopes": ["read", "root"]})),
    )
    .await;
    assert_eq!((s, &p["errors"][0]["pointer"]), (400, &json!("/scopes/1")));
    let (_, brief) = call(
        &gw,
        Method::POST,
        "/tokens",
        ADMIN_TOKEN,
        Some(json!({"name": "brief", "scopes": ["read"], "expires_in_seconds": 1})),
    )
    .await;
    let brief = brief["token"].as_str().unwrap().to_owned();
    let status = eventually(401, async || {
        call(&gw, Method::GET, "/orgs", &brief, None).await.0
    });
    assert_eq!(status.await, 401, "the token expired");
    // no secret is in the audit log
    let (_, audit) = call(&gw, Method::GET, "/audit", ADMIN_TOKEN, None).await;
    assert!(!audit.to_string().contains(&reader));
    assert!(!audit.to_string().contains(&brief));
    assert!(!audit.to_string().contains(ADMIN_TOKEN));
}

#[tokio::test]
async fn a_suspended_org_is_refused_in_the_providers_format_until_resumed() {
    let gw = gateway("").await;
    assert_eq!(
        upload(&gw, A1, Some("a.tar.gz"), b"kept".to_vec())
            .await
            .status(),
        201
    );
    let (s, org) = call(
        &gw,
        Method::PATCH,
        "/orgs/acme",
        ADMIN_TOKEN,
        Some(json!({"suspended": true})),
    )
    .await;
    assert_eq!((s, &org["suspended"]), (200, &json!(true)));
    let refused = until_list_status(&gw, 401).await;
    assert_eq!(
        refused,
        json!({"code": 401, "message": "invalid system credentials", "data": null})
    );
    // uploads too, and nothing is charged for them
    let r = upload(&gw, A1, Some("b.tar.gz"), b"refused".to_vec()).await;
    assert_eq!(r.status(), 401);
    // another org is not affected
    let g = gw
        .client
        .get(gw.at("/api/systems/backups"))
        .basic_auth("NETH-G1", Some("my_secret_g1"))
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), 200);
    call(
        &gw,
        Method::PATCH,
        "/orgs/acme",
        ADMIN_TOKEN,
        Some(json!({"suspended": false})),
    )
    .await;
    let back = until_list_status(&gw, 200).await;
    assert_eq!(back["data"]["backups"].as_array().unwrap().len(), 1);
    // the audit log: who suspended and resumed, with before and after
    let (_, audit) = call(
        &gw,
        Method::GET,
        "/audit?org=acme&action=org.suspend",
        ADMIN_TOKEN,
        None,
    )
    .await;
    let e = &audit["entries"][0];
    assert_eq!(
        (&e["actor"], &e["target"]),
        (&json!("admin:bootstrap"), &json!("org/acme"))
    );
    let before: Value = serde_json::from_str(e["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(e["after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&before["suspended"], &after["suspended"]),
        (&json!(false), &json!(true))
    );
    let (_, resumed) = call(
        &gw,
        Method::GET,
        "/audit?action=org.resume",
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(resumed["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_delete_is_in_the_audit_log_with_its_principal_and_pages_follow() {
    let gw = gateway("").await;
    let r = upload(&gw, A1, Some("a.tar.gz"), b"to delete".to_vec()).await;
    let id = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = gw
        .client
        .delete(gw.at(&format!("/api/systems/backups/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, audit) = call(
        &gw,
        Method::GET,
        "/audit?action=backup.delete",
        ADMIN_TOKEN,
        None,
    )
    .await;
    let e = &audit["entries"][0];
    assert_eq!(e["actor"], "client:acme/NETH-A1", "{audit}");
    assert_eq!(e["org"], "acme");
    let before: Value = serde_json::from_str(e["before"].as_str().unwrap()).unwrap();
    // collect's id is the host's id and the extension
    assert!(id.starts_with(before["id"].as_str().unwrap()), "{before}");
    assert_eq!(
        (&before["filename"], &before["size"]),
        (&json!("a.tar.gz"), &json!(9))
    );
    assert!(e["after"].is_null());
    // paging: the config's two org creations and this delete, one per page
    let mut seen = Vec::new();
    let mut path = "/audit?limit=1".to_owned();
    loop {
        let (s, page) = call(&gw, Method::GET, &path, ADMIN_TOKEN, None).await;
        assert_eq!(s, 200, "{page}");
        for e in page["entries"].as_array().unwrap() {
            seen.push(e["action"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/audit?limit=1&cursor={next}"),
            None => break,
        }
        assert!(seen.len() < 10, "{seen:?}");
    }
    assert_eq!(seen, ["org.create", "org.create", "backup.delete"]);
}

/// The status of acme's collect list with HTTP Basic `who`.
pub(crate) async fn list_as(gw: &TestGateway, who: (&str, &str)) -> u16 {
    gw.client
        .get(gw.at("/api/systems/backups"))
        .basic_auth(who.0, Some(who.1))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Poll until `who`'s list answers `want` (a change reaches a node within a poll); the
/// last status.
pub(crate) async fn until_as(gw: &TestGateway, who: (&str, &str), want: u16) -> u16 {
    eventually(want, async || list_as(gw, who).await).await
}

#[tokio::test]
async fn credentials_are_issued_rotated_with_a_grace_and_revoked_at_runtime() {
    let gw = gateway("").await;
    let issue = json!({"org": "acme", "plugin": "appliance-collect", "scheme": "basic",
                       "key": "NETH-NEW-1"});
    let (s, made) = call(
        &gw,
        Method::POST,
        "/credentials",
        ADMIN_TOKEN,
        Some(issue.clone()),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let first = made["secret"].as_str().unwrap().to_owned();
    assert!(first.starts_with("bgc_") && first.len() == 68, "{first}");
    // it authenticates on the client route (collect's format for the rest), within a poll
    assert_eq!(until_as(&gw, ("NETH-NEW-1", &first), 200).await, 200);
    assert_eq!(list_as(&gw, ("NETH-NEW-1", "wrong")).await, 401);
    // the same basic key again is a conflict; unknown org and plugin are the fields' fault
    let (s, _) = call(
        &gw,
        Method::POST,
        "/credentials",
        ADMIN_TOKEN,
        Some(issue.clone()),
    )
    .await;
    assert_eq!(s, 409);
    for (field, value) in [("org", "nope"), ("plugin", "nope"), ("scheme", "digest")] {
        let mut bad = issue.clone();
        bad[field] = value.into();
        bad["key"] = "NETH-OTHER".into();
        let (s, p) = call(&gw, Method::POST, "/credentials", ADMIN_TOKEN, Some(bad)).await;
        assert_eq!(
            (s, &p["errors"][0]["pointer"]),
            (400, &json!(format!("/{field}"))),
            "{p}"
        );
    }
    // never a secret after creation, nor a digest
    let (_, listed) = call(&gw, Method::GET, "/credentials?org=acme", ADMIN_TOKEN, None).await;
    let (_, one) = call(
        &gw,
        Method::GET,
        &format!("/credentials/{id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    for shown in [listed.to_string(), one.to_string()] {
        assert!(!shown.contains(&first), "{shown}");
        assert!(
            !shown.contains(&gateway_tests::sha256_hex(first.as_bytes())),
            "{shown}"
        );
    }
    assert_eq!(one["key"], "NETH-NEW-1");
    // rotated with a 2 s grace: both secrets work, then only the new one
    let (s, rotated) = call(
        &gw,
        Method::POST,
        &format!("/credentials/{id}/rotate"),
        ADMIN_TOKEN,
        Some(json!({"grace_seconds": 2})),
    )
    .await;
    assert_eq!(s, 200, "{rotated}");
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(until_as(&gw, ("NETH-NEW-1", &second), 200).await, 200);
    assert_eq!(
        list_as(&gw, ("NETH-NEW-1", &first)).await,
        200,
        "the old secret, in its grace"
    );
    assert_eq!(
        until_as(&gw, ("NETH-NEW-1", &first), 401).await,
        401,
        "the grace ended"
    );
    assert_eq!(list_as(&gw, ("NETH-NEW-1", &second)).await, 200);
    // revoked: refused within a poll; a revoked credential cannot be rotated
    let (s, _) = call(
        &gw,
        Method::DELETE,
        &format!("/credentials/{id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(until_as(&gw, ("NETH-NEW-1", &second), 401).await, 401);
    let (s, _) = call(
        &gw,
        Method::POST,
        &format!("/credentials/{id}/rotate"),
        ADMIN_TOKEN,
        Some(json!({"grace_seconds": 0})),
    )
    .await;
    assert_eq!(s, 409);
    // every step audited, no secret in the log
    let (_, audit) = call(&gw, Method::GET, "/audit?org=acme", ADMIN_TOKEN, None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("credential."))
        .collect();
    assert_eq!(
        actions,
        [
            "credential.create",
            "credential.rotate",
            "credential.revoke"
        ]
    );
    for secret in [&first, &second] {
        assert!(!audit.to_string().contains(secret.as_str()));
    }
    let rows: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT before, after FROM audit_log")
            .fetch_all(gw.gateway.services.db.pool())
            .await
            .unwrap();
    for secret in [&first, &second] {
        assert!(!format!("{rows:?}").contains(secret.as_str()));
    }
}

#[tokio::test]
async fn a_credential_expires_and_a_chosen_secret_is_taken_by_its_hash() {
    let gw = gateway("").await;
    let chosen = "my-own-secret-for-NETH-H";
    let (s, made) = call(
        &gw,
        Method::POST,
        "/credentials",
        ADMIN_TOKEN,
        Some(
            json!({"org": "acme", "plugin": "appliance-collect", "scheme": "basic",
                    "key": "NETH-H", "expires_in_seconds": 2,
                    "secret_sha256": gateway_tests::sha256_hex(chosen.as_bytes())}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    assert!(made.get("secret").is_none(), "{made}");
    assert_eq!(until_as(&gw, ("NETH-H", chosen), 200).await, 200);
    assert_eq!(until_as(&gw, ("NETH-H", chosen), 401).await, 401, "expired");
}

#[tokio::test]
async fn an_orgs_quota_set_through_the_api_applies_to_the_next_upload() {
    let gw = gateway("").await;
    assert_eq!(
        upload(&gw, A1, Some("a.tar.gz"), vec![1; 1000])
            .await
            .status(),
        201
    );
    let limits = "/orgs/acme/limits/appliance-collect";
    let (s, set) = call(
        &gw,
        Method::PUT,
        limits,
        ADMIN_TOKEN,
        Some(json!({"org_bytes": 1500})),
    )
    .await;
    assert_eq!(s, 200, "{set}");
    assert_eq!(set["org_bytes"], 1500);
    // the node sees it within a poll (its usage view and its uploads read the same cache)
    let limit = async || {
        let (_, acme) = call(&gw, Method::GET, "/orgs/acme", ADMIN_TOKEN, None).await;
        acme["usage"][0]["limit_bytes"].as_u64()
    };
    assert_eq!(eventually(Some(1500), limit).await, Some(1500));
    // the next upload past 1500 bytes is collect's own 413, and nothing is charged for it
    let r = upload(&gw, A1, Some("b.tar.gz"), vec![2; 1000]).await;
    assert_eq!(r.status(), 413);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["code"], 413, "{refused}");
    let (_, acme) = call(&gw, Method::GET, "/orgs/acme", ADMIN_TOKEN, None).await;
    assert_eq!(acme["usage"][0]["used_bytes"], 1000, "{acme}");
    assert_eq!(acme["usage"][0]["reserved_bytes"], 0, "{acme}");
    // cleared, acme's upload goes in again
    let (s, _) = call(&gw, Method::DELETE, limits, ADMIN_TOKEN, None).await;
    assert_eq!(s, 204);
    let again = async || {
        let r = upload(&gw, A1, Some("c.tar.gz"), vec![3; 1000]).await;
        r.status().as_u16()
    };
    assert_eq!(eventually(201, again).await, 201);
    // bad input: an unknown plugin, an unknown org, a negative quota
    let (s, _) = call(
        &gw,
        Method::PUT,
        "/orgs/acme/limits/nope",
        ADMIN_TOKEN,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &gw,
        Method::PUT,
        "/orgs/nope/limits/appliance-collect",
        ADMIN_TOKEN,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, p) = call(
        &gw,
        Method::PUT,
        limits,
        ADMIN_TOKEN,
        Some(json!({"org_bytes": -1})),
    )
    .await;
    assert_eq!((s, &p["errors"][0]["pointer"]), (400, &json!("/org_bytes")));
    let (_, audit) = call(
        &gw,
        Method::GET,
        "/audit?action=org.limits.set",
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1);
}

/// Schemathesis over the admin API's own document (served at `/admin/v1/openapi.json`),
/// with the bootstrap token: no 5xx, every answer as documented, every request that breaks
/// the document refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_document_describes_the_admin_api() {
    let gw = gateway("").await;
    let dir = tempfile::tempdir().unwrap();
    let served = gw
        .client
        .get(format!("{}/admin/v1/openapi.json", gw.admin_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = dir.path().join("admin-openapi.json");
    std::fs::write(&doc, &served).unwrap();
    let auth = [
        "-H".to_string(),
        format!("Authorization: Bearer {ADMIN_TOKEN}"),
    ];
    let (found, output) =
        super::openapi::schemathesis("admin", &doc, &gw.admin_url, &auth, dir.path()).await;
    println!(
        "admin: {} operations, {} test cases, {} failures",
        found.operations, found.cases, found.failures
    );
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(found.operations >= 16 && found.cases > 0, "{found:?}");
}
