//! What the plugin declares: the five `/v1/backups` routes with their scopes, Bearer tokens
//! and `X-Api-Key` access keys, one per-credential request window on every route, no storage
//! limits of its own, and the OpenAPI document describing exactly those routes.

use backup_gateway_sdk::{AuthScheme, Manifest, Method, RateKey, RateLimit, Route};

/// Provider name, unique among loaded plugins.
pub const NAME: &str = "bycloud";

/// The OpenAPI 3.0.3 document for the routes below.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The header service accounts send `<access-key-id>:<secret-access-key>` in.
pub const API_KEY_HEADER: &str = "X-Api-Key";

/// Scope of the routes that read backups.
pub const SCOPE_READ: &str = "backups:read";
/// Scope of the routes that create, restore and delete backups.
pub const SCOPE_WRITE: &str = "backups:write";

/// The one rate-limit class: requests per credential.
pub const API_RATE_CLASS: &str = "api";
/// Its window, in seconds.
const API_WINDOW_SECONDS: u32 = 60;
/// Requests allowed per window (operators override it in `[plugins.bycloud.rate_limits]`).
const API_MAX_REQUESTS: u32 = 300;

/// `GET /v1/backups`.
pub const LIST_BACKUPS: &str = "listBackups";
/// `POST /v1/backups`.
pub const CREATE_BACKUP: &str = "createBackup";
/// `GET /v1/backups/{backup_id}`.
pub const GET_BACKUP: &str = "getBackup";
/// `DELETE /v1/backups/{backup_id}`.
pub const DELETE_BACKUP: &str = "deleteBackup";
/// `POST /v1/backups/{backup_id}/restore`.
pub const RESTORE_BACKUP: &str = "restoreBackup";

/// Every route: method, path template, operation id, scope.
const ROUTES: [(Method, &str, &str, &str); 5] = [
    (Method::Get, "/v1/backups", LIST_BACKUPS, SCOPE_READ),
    (Method::Post, "/v1/backups", CREATE_BACKUP, SCOPE_WRITE),
    (
        Method::Get,
        "/v1/backups/{backup_id}",
        GET_BACKUP,
        SCOPE_READ,
    ),
    (
        Method::Delete,
        "/v1/backups/{backup_id}",
        DELETE_BACKUP,
        SCOPE_WRITE,
    ),
    (
        Method::Post,
        "/v1/backups/{backup_id}/restore",
        RESTORE_BACKUP,
        SCOPE_WRITE,
    ),
];

/// The plugin's manifest. POSTs get a buffered body, GET and DELETE none (the SDK's
/// defaults); storage limits are unlimited (`Manifest::new`'s defaults).
pub fn manifest() -> Manifest {
    let routes = ROUTES
        .iter()
        .map(|(method, path, operation, scope)| {
            Route::new(method.clone(), path, operation)
                .scope(scope)
                .rate_class(API_RATE_CLASS)
        })
        .collect();
    let mut manifest = Manifest::new(
        NAME,
        env!("CARGO_PKG_VERSION"),
        vec![
            AuthScheme::Bearer,
            AuthScheme::Header(API_KEY_HEADER.into()),
        ],
        routes,
    );
    manifest.rate_limits = vec![RateLimit {
        class: API_RATE_CLASS.into(),
        per: RateKey::Subject,
        window_seconds: API_WINDOW_SECONDS,
        max_requests: API_MAX_REQUESTS,
    }];
    manifest.openapi = Some(OPENAPI.into());
    manifest
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use backup_gateway_sdk::{BodyMode, CONTRACT_VERSION};
    use serde_json::{Value, json};

    use super::*;
    use crate::record::Status;

    fn openapi() -> Value {
        serde_json::from_str(OPENAPI).expect("the OpenAPI document is JSON")
    }

    #[test]
    fn declares_both_auth_schemes_one_rate_window_and_no_quotas() {
        let m = manifest();
        assert_eq!(
            (m.name.as_str(), m.contract.as_str()),
            ("bycloud", CONTRACT_VERSION)
        );
        assert!(matches!(
            m.auth.as_slice(),
            [AuthScheme::Bearer, AuthScheme::Header(h)] if h == "X-Api-Key"
        ));
        assert_eq!(m.rate_limits.len(), 1);
        let limit = &m.rate_limits[0];
        assert_eq!(
            (
                limit.class.as_str(),
                limit.per,
                limit.window_seconds,
                limit.max_requests
            ),
            ("api", RateKey::Subject, 60, 300)
        );
        assert_eq!(
            (
                m.quotas.org_bytes,
                m.quotas.upload_bytes,
                m.quotas.resource_slots,
                m.quotas.resource_bytes
            ),
            (0, 0, 0, 0)
        );
        assert_eq!(m.routes.len(), 5);
        for route in &m.routes {
            assert!(route.authenticated, "{}", route.operation);
            assert_eq!(route.rate_classes, ["api"], "{}", route.operation);
            let buffered = route.method == Method::Post;
            assert_eq!(
                matches!(route.body, BodyMode::Buffered),
                buffered,
                "{}",
                route.operation
            );
            let scope = if route.method == Method::Get {
                SCOPE_READ
            } else {
                SCOPE_WRITE
            };
            assert_eq!(route.scope.as_deref(), Some(scope), "{}", route.operation);
        }
        let operations: BTreeSet<&str> = m.routes.iter().map(|r| r.operation.as_str()).collect();
        assert_eq!(operations.len(), m.routes.len(), "operation ids are unique");
    }

    #[test]
    fn openapi_describes_exactly_the_routes_with_their_scopes() {
        let doc = openapi();
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        let api_key = &doc["components"]["securitySchemes"]["apiKeyAuth"];
        assert_eq!(
            (&api_key["type"], &api_key["in"], &api_key["name"]),
            (&json!("apiKey"), &json!("header"), &json!(API_KEY_HEADER))
        );
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().expect("operationId");
                let security = op["security"].as_array().expect("security");
                assert_eq!(security.len(), 2, "{id}: bearer or API key");
                let scopes = &security[0]["bearerAuth"];
                assert_eq!(scopes, &security[1]["apiKeyAuth"], "{id}");
                let scope = scopes[0].as_str().expect("scope").to_string();
                documented.insert((path.clone(), method.clone(), id.to_string(), scope));
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.keys().any(|s| s.starts_with('2')), "{id}");
                for status in ["400", "401", "403", "404", "429", "500", "503"] {
                    assert!(responses.contains_key(status), "{id} lacks {status}");
                }
                if method != "get" {
                    assert!(responses.contains_key("409"), "{id} lacks 409");
                }
                let params: Vec<&str> = item["parameters"]
                    .as_array()
                    .into_iter()
                    .chain(op["parameters"].as_array())
                    .flatten()
                    .filter_map(|p| {
                        let p = match p["$ref"].as_str() {
                            Some(r) => doc.pointer(r.trim_start_matches('#'))?,
                            None => p,
                        };
                        (p["in"] == "path").then(|| p["name"].as_str()).flatten()
                    })
                    .collect();
                assert_eq!(params.len(), path.matches('{').count(), "{id}");
                for name in params {
                    assert!(path.contains(&format!("{{{name}}}")), "{id} {name}");
                }
            }
        }
        let declared: BTreeSet<_> = manifest()
            .routes
            .iter()
            .map(|r| {
                (
                    r.path.clone(),
                    r.method.openapi_key(),
                    r.operation.clone(),
                    r.scope.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(documented, declared);
    }

    #[test]
    fn openapi_lists_the_statuses_and_the_error_envelope() {
        let doc = openapi();
        let schemas = &doc["components"]["schemas"];
        let statuses: Vec<&str> = schemas["Backup"]["properties"]["status"]["enum"]
            .as_array()
            .expect("status enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let ours: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(statuses, ours);
        assert_eq!(schemas["Error"]["required"], json!(["error"]));
        assert_eq!(
            schemas["Error"]["properties"]["error"]["required"],
            json!(["code", "message", "details", "request_id"])
        );
        // The Backup schema lists the fields the plugin sends, in order.
        let properties: Vec<&str> = schemas["Backup"]["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            properties,
            [
                "id",
                "crn",
                "name",
                "description",
                "status",
                "volume_id",
                "size",
                "container",
                "is_incremental",
                "has_dependent_backups",
                "snapshot_id",
                "metadata",
                "created_at",
                "updated_at",
                "fail_reason"
            ]
        );
    }

    #[test]
    fn openapi_references_resolve() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(map) => {
                    for (k, v) in map {
                        match (k.as_str(), v) {
                            ("$ref", Value::String(r)) => out.push(r),
                            _ => refs(v, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = openapi();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let pointer = r.strip_prefix('#').expect("local ref");
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
    }
}
