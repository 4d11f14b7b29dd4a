//! What the plugin declares: the QRadar backup and restore routes under
//! `/api/backup_and_restore/`, authenticated with a `SEC` token header or HTTP Basic (the host
//! verifies both; the `Version` header is accepted and ignored), no scopes, no rate limits,
//! no storage limits of its own, and the OpenAPI document describing the same routes.

use backup_gateway_sdk::{AuthScheme, Manifest, Method, Route};

/// Provider name, unique among loaded plugins.
pub const NAME: &str = "jsa";

/// The OpenAPI 3 document for the routes below.
const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/backup_and_restore/backups`.
pub const LIST_BACKUPS: &str = "listBackups";
/// `POST /api/backup_and_restore/backups`.
pub const CREATE_BACKUP: &str = "createBackup";
/// `GET /api/backup_and_restore/backups/{id}`.
pub const GET_BACKUP: &str = "getBackup";
/// `DELETE /api/backup_and_restore/backups/{id}`.
pub const DELETE_BACKUP: &str = "deleteBackup";
/// `GET /api/backup_and_restore/restores`.
pub const LIST_RESTORES: &str = "listRestores";
/// `POST /api/backup_and_restore/restores`.
pub const CREATE_RESTORE: &str = "createRestore";
/// `GET /api/backup_and_restore/restores/{id}`.
pub const GET_RESTORE: &str = "getRestore";
/// `POST /api/backup_and_restore/restores/{id}`.
pub const UPDATE_RESTORE: &str = "updateRestore";
/// `DELETE /api/backup_and_restore/restores/{id}`.
pub const DELETE_RESTORE: &str = "deleteRestore";

/// The plugin's manifest.
pub fn manifest() -> Manifest {
    let backups = "/api/backup_and_restore/backups";
    let backup = "/api/backup_and_restore/backups/{id}";
    let restores = "/api/backup_and_restore/restores";
    let restore = "/api/backup_and_restore/restores/{id}";
    let routes = [
        (Method::Get, backups, LIST_BACKUPS),
        (Method::Post, backups, CREATE_BACKUP),
        (Method::Get, backup, GET_BACKUP),
        (Method::Delete, backup, DELETE_BACKUP),
        (Method::Get, restores, LIST_RESTORES),
        (Method::Post, restores, CREATE_RESTORE),
        (Method::Get, restore, GET_RESTORE),
        (Method::Post, restore, UPDATE_RESTORE),
        (Method::Delete, restore, DELETE_RESTORE),
    ]
    .into_iter()
    // POSTs get a buffered body, GET and DELETE none: the SDK's defaults.
    .map(|(method, path, operation)| Route::new(method, path, operation))
    .collect();
    let mut manifest = Manifest::new(
        NAME,
        env!("CARGO_PKG_VERSION"),
        vec![AuthScheme::Header("SEC".into()), AuthScheme::Basic],
        routes,
    );
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
    fn declares_sec_and_basic_auth_and_no_limits() {
        let m = manifest();
        assert_eq!(m.name, "jsa");
        assert_eq!(m.contract, CONTRACT_VERSION);
        assert!(matches!(
            m.auth.as_slice(),
            [AuthScheme::Header(h), AuthScheme::Basic] if h == "SEC"
        ));
        assert!(m.rate_limits.is_empty());
        assert_eq!(
            (
                m.quotas.org_bytes,
                m.quotas.upload_bytes,
                m.quotas.resource_slots,
                m.quotas.resource_bytes
            ),
            (0, 0, 0, 0)
        );
        assert_eq!(m.routes.len(), 9);
        for route in &m.routes {
            assert!(route.authenticated, "{}", route.operation);
            assert!(route.scope.is_none(), "{}", route.operation);
            assert!(route.rate_classes.is_empty(), "{}", route.operation);
            assert!(
                route.path.starts_with("/api/backup_and_restore/"),
                "{}",
                route.operation
            );
            let buffered = route.method == Method::Post;
            assert_eq!(
                matches!(route.body, BodyMode::Buffered),
                buffered,
                "{}",
                route.operation
            );
            if !buffered {
                assert!(matches!(route.body, BodyMode::None), "{}", route.operation);
            }
        }
        let operations: BTreeSet<&str> = m.routes.iter().map(|r| r.operation.as_str()).collect();
        assert_eq!(operations.len(), m.routes.len(), "operation ids are unique");
    }

    #[test]
    fn openapi_describes_exactly_the_routes() {
        let m = manifest();
        let doc: Value = serde_json::from_str(m.openapi.as_deref().unwrap_or_default())
            .expect("openapi is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["secToken"]["type"], "apiKey");
        assert_eq!(schemes["secToken"]["in"], "header");
        assert_eq!(schemes["secToken"]["name"], "SEC");
        assert_eq!(schemes["basicAuth"]["scheme"], "basic");

        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().expect("operationId");
                documented.insert((path.clone(), method.clone(), id.to_string()));
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.keys().any(|s| s.starts_with('2')), "{id}");
                for status in ["401", "403", "422", "500"] {
                    assert!(responses.contains_key(status), "{id} {status}");
                }
                if path.contains("{id}") {
                    assert!(responses.contains_key("404"), "{id}");
                }
                let params: Vec<&str> = item["parameters"]
                    .as_array()
                    .into_iter()
                    .chain(op["parameters"].as_array())
                    .flatten()
                    .map(|p| match p["$ref"].as_str() {
                        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(p),
                        None => p,
                    })
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                assert_eq!(params.len(), path.matches('{').count(), "{id}");
                for name in params {
                    assert!(path.contains(&format!("{{{name}}}")), "{id} {name}");
                }
            }
        }
        let declared: BTreeSet<_> = m
            .routes
            .iter()
            .map(|r| (r.path.clone(), r.method.openapi_key(), r.operation.clone()))
            .collect();
        assert_eq!(documented, declared);
        // Global security: SEC or Basic.
        assert_eq!(
            doc["security"],
            serde_json::json!([{"secToken": []}, {"basicAuth": []}])
        );
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

    #[test]
    fn openapi_schemas_list_the_object_fields() {
        let doc: Value = serde_json::from_str(include_str!("openapi.json")).expect("JSON");
        for (schema, fields) in [
            ("Backup", crate::backup_record::FIELDS),
            ("Restore", crate::restore_record::FIELDS),
        ] {
            let props: Vec<&str> = doc["components"]["schemas"][schema]["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .map(String::as_str)
                .collect();
            let expected: Vec<&str> = fields.iter().map(|f| f.name).collect();
            assert_eq!(props, expected, "{schema}");
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
