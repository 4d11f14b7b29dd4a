//! What the plugin declares: HostUp's VPS backup routes with their API scopes, Bearer API keys,
//! one per-key request window on every route, no storage limits of its own, and the OpenAPI
//! document describing the same routes.

use backup_gateway_sdk::{AuthScheme, Manifest, Method, RateKey, RateLimit, Route};

/// Provider name, unique among loaded plugins.
pub const NAME: &str = "hostup";

/// The OpenAPI 3 document for the routes below.
const OPENAPI: &str = include_str!("openapi.json");

/// The one rate-limit class: requests per API key.
pub const API_RATE_CLASS: &str = "api";
/// Its window, in seconds.
const API_WINDOW_SECONDS: u32 = 60;
/// Requests allowed per window.
const API_MAX_REQUESTS: u32 = 120;

/// Scope to read VPSes, their backups and backup jobs.
pub const READ_VM: &str = "read:vm";
/// Scope to create and delete VPS backups.
pub const BACKUP_VM: &str = "backup:vm";

/// `POST /api/v2/vps/{id}/backups`.
pub const CREATE_VPS_BACKUP: &str = "createVpsBackup";
/// `GET /api/v2/vps/{id}/backups`.
pub const LIST_VPS_BACKUPS: &str = "listVpsBackups";
/// `DELETE /api/v2/vps/{id}/backups/{backupId}`.
pub const DELETE_VPS_BACKUP: &str = "deleteVpsBackup";
/// `GET /api/jobs/{jobId}`.
pub const GET_JOB: &str = "getJob";
/// `GET /api/v2/vps`.
pub const LIST_VPS: &str = "listVps";

/// The plugin's manifest.
pub fn manifest() -> Manifest {
    let backups = "/api/v2/vps/{id}/backups";
    let routes = [
        (Method::Post, backups, CREATE_VPS_BACKUP, BACKUP_VM),
        (Method::Get, backups, LIST_VPS_BACKUPS, READ_VM),
        (
            Method::Delete,
            "/api/v2/vps/{id}/backups/{backupId}",
            DELETE_VPS_BACKUP,
            BACKUP_VM,
        ),
        (Method::Get, "/api/jobs/{jobId}", GET_JOB, READ_VM),
        (Method::Get, "/api/v2/vps", LIST_VPS, READ_VM),
    ]
    .into_iter()
    // POST gets a buffered body (the optional note), GET and DELETE none: the SDK's defaults.
    .map(|(method, path, operation, scope)| {
        Route::new(method, path, operation)
            .scope(scope)
            .rate_class(API_RATE_CLASS)
    })
    .collect();
    let mut manifest = Manifest::new(
        NAME,
        env!("CARGO_PKG_VERSION"),
        vec![AuthScheme::Bearer],
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
    use serde_json::Value;

    use super::*;

    #[test]
    fn declares_bearer_auth_one_rate_window_and_no_quotas() {
        let m = manifest();
        assert_eq!(m.name, "hostup");
        assert_eq!(m.contract, CONTRACT_VERSION);
        assert!(matches!(m.auth.as_slice(), [AuthScheme::Bearer]));
        assert_eq!(m.rate_limits.len(), 1);
        let limit = &m.rate_limits[0];
        assert_eq!(limit.class, "api");
        assert_eq!(limit.per, RateKey::Subject);
        assert_eq!((limit.window_seconds, limit.max_requests), (60, 120));
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
            let reads_body = route.operation == CREATE_VPS_BACKUP;
            assert_eq!(
                matches!(route.body, BodyMode::Buffered),
                reads_body,
                "{}",
                route.operation
            );
            if !reads_body {
                assert!(matches!(route.body, BodyMode::None), "{}", route.operation);
            }
        }
        let operations: BTreeSet<&str> = m.routes.iter().map(|r| r.operation.as_str()).collect();
        assert_eq!(operations.len(), m.routes.len(), "operation ids are unique");
    }

    #[test]
    fn openapi_describes_exactly_the_routes_with_their_scopes() {
        let m = manifest();
        let doc: Value = serde_json::from_str(m.openapi.as_deref().unwrap_or_default())
            .expect("openapi is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );

        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().expect("operationId");
                let scopes = op["security"][0]["bearerAuth"]
                    .as_array()
                    .expect("bearerAuth scopes");
                assert_eq!(scopes.len(), 1, "{id}");
                let scope = scopes[0].as_str().expect("scope").to_string();
                documented.insert((path.clone(), method.clone(), id.to_string(), scope));
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.keys().any(|s| s.starts_with('2')), "{id}");
                for status in ["401", "403", "404", "429", "500"] {
                    assert!(responses.contains_key(status), "{id} {status}");
                }
                // Every path parameter of the template is documented.
                let params: Vec<&str> = item["parameters"]
                    .as_array()
                    .into_iter()
                    .chain(op["parameters"].as_array())
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                let templated = path.matches('{').count();
                assert_eq!(params.len(), templated, "{id}");
                for name in params {
                    assert!(path.contains(&format!("{{{name}}}")), "{id} {name}");
                }
            }
        }
        let declared: BTreeSet<_> = m
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
    fn openapi_references_resolve() {
        let doc: Value = serde_json::from_str(include_str!("openapi.json")).expect("JSON");
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r.strip_prefix('#').expect("local ref");
            assert!(doc.pointer(pointer).is_some(), "{r}");
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_str()) {
                        ("$ref", Some(target)) => out.push(target.to_string()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
