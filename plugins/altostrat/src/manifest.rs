//! What the plugin declares: the four `/backup` routes with their scopes, Bearer auth, no rate
//! limits or storage limits, and the OpenAPI document describing exactly those routes.

use backup_gateway_sdk::{AuthScheme, BodyMode, Manifest, Method, Route};

/// Provider name, unique among loaded plugins.
pub const NAME: &str = "altostrat";

/// The provider's OpenAPI 3.0.3 document: the seed's, extended with every route served here.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Scope of the route that requests a backup.
pub const SCOPE_CREATE: &str = "backup:create";
/// Scope of the routes that read backups.
pub const SCOPE_READ: &str = "backup:read";

/// Operation ids, as in the OpenAPI document.
pub const REQUEST_BACKUP: &str = "requestSiteBackup";
/// `GET /backup/{siteId}`.
pub const LIST_BACKUPS: &str = "listSiteBackups";
/// `GET /backup/{siteId}/{filename}`.
pub const GET_BACKUP: &str = "getSiteBackup";
/// `GET /backup/{siteId}/subnets`.
pub const LIST_SUBNETS: &str = "listSiteSubnets";

/// Every route: method, path template, operation id, scope.
const ROUTES: [(Method, &str, &str, &str); 4] = [
    (
        Method::Post,
        "/backup/{siteId}",
        REQUEST_BACKUP,
        SCOPE_CREATE,
    ),
    (Method::Get, "/backup/{siteId}", LIST_BACKUPS, SCOPE_READ),
    // The host's router prefers the literal `subnets` segment over `{filename}`.
    (
        Method::Get,
        "/backup/{siteId}/subnets",
        LIST_SUBNETS,
        SCOPE_READ,
    ),
    (
        Method::Get,
        "/backup/{siteId}/{filename}",
        GET_BACKUP,
        SCOPE_READ,
    ),
];

/// The plugin's manifest. No route reads a body (the POST takes none), no rate limits, and
/// storage limits are unlimited (`Manifest::new`'s defaults).
pub fn manifest() -> Manifest {
    let routes = ROUTES
        .iter()
        .map(|(method, path, operation, scope)| {
            Route::new(method.clone(), path, operation)
                .scope(scope)
                .body(BodyMode::None)
        })
        .collect();
    let mut manifest = Manifest::new(
        NAME,
        env!("CARGO_PKG_VERSION"),
        vec![AuthScheme::Bearer],
        routes,
    );
    manifest.openapi = Some(OPENAPI.into());
    manifest
}

/// The methods (upper-case, sorted) served on a request path, for `Allow` on a 405.
pub fn allowed_methods(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut methods: Vec<String> = ROUTES
        .iter()
        .filter(|(_, template, ..)| {
            let pattern: Vec<&str> = template.trim_start_matches('/').split('/').collect();
            pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p.starts_with('{') || p == s)
        })
        .map(|(method, ..)| method.name().to_string())
        .collect();
    methods.sort();
    methods.dedup();
    methods
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use backup_gateway_sdk::CONTRACT_VERSION;
    use serde_json::Value;

    use super::*;
    use crate::errors::Code;

    fn openapi() -> Value {
        serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
    }

    #[test]
    fn declares_bearer_scopes_and_no_limits() {
        let m = manifest();
        assert_eq!(m.name, "altostrat");
        assert_eq!(m.contract, CONTRACT_VERSION);
        assert!(matches!(m.auth.as_slice(), [AuthScheme::Bearer]));
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
        for route in &m.routes {
            assert!(route.authenticated, "{}", route.operation);
            assert!(matches!(route.body, BodyMode::None), "{}", route.operation);
            assert!(route.rate_classes.is_empty());
            let expected = if matches!(route.method, Method::Post) {
                SCOPE_CREATE
            } else {
                SCOPE_READ
            };
            assert_eq!(
                route.scope.as_deref(),
                Some(expected),
                "{}",
                route.operation
            );
        }
    }

    #[test]
    fn openapi_describes_exactly_the_routes() {
        let doc = openapi();
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(
            doc["components"]["securitySchemes"]["BearerAuth"]["scheme"],
            "bearer"
        );
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().expect("operationId");
                documented.insert((path.clone(), method.clone(), id.to_string()));
                // Each operation names its scope and documents success and every error the
                // host or the plugin can answer it with.
                let scopes = &op["security"][0]["BearerAuth"];
                let route = manifest()
                    .routes
                    .into_iter()
                    .find(|r| r.operation == id)
                    .expect("declared");
                assert_eq!(scopes, &serde_json::json!([route.scope]), "{id}");
                let responses = op["responses"].as_object().expect("responses");
                for status in ["400", "401", "403", "404", "429", "500", "503"] {
                    assert!(responses.contains_key(status), "{id} lacks {status}");
                }
                assert!(responses.keys().any(|s| s.starts_with('2')), "{id}");
            }
        }
        let declared: BTreeSet<_> = manifest()
            .routes
            .iter()
            .map(|r| (r.path.clone(), r.method.openapi_key(), r.operation.clone()))
            .collect();
        assert_eq!(documented, declared);
    }

    #[test]
    fn openapi_lists_every_error_code() {
        let doc = openapi();
        let schema = &doc["components"]["schemas"]["ErrorResponse"];
        let codes: Vec<&str> = schema["properties"]["code"]["enum"]
            .as_array()
            .expect("code enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let ours: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes, ours);
        let types: BTreeSet<&str> = schema["properties"]["type"]["enum"]
            .as_array()
            .expect("type enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let ours: BTreeSet<&str> = Code::ALL.iter().map(|c| c.error_type()).collect();
        assert_eq!(types, ours);
        assert_eq!(
            schema["required"],
            serde_json::json!(["type", "code", "message", "doc_url"])
        );
    }

    #[test]
    fn openapi_keeps_the_seed() {
        let doc = openapi();
        assert_eq!(doc["info"]["title"], "Altostrat Backups API");
        assert_eq!(doc["servers"][0]["url"], "https://v1.api.altostrat.io");
        let post = &doc["paths"]["/backup/{siteId}"]["post"];
        assert_eq!(post["summary"], "Request a New Backup");
        assert_eq!(
            post["responses"]["202"]["content"]["application/json"]["schema"]["properties"]["message"]
                ["example"],
            "Backup requested"
        );
        // Every $ref resolves.
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
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let pointer = r.strip_prefix('#').expect("local ref");
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
    }

    #[test]
    fn allowed_methods_follow_the_routes() {
        assert_eq!(allowed_methods("/backup/abc"), ["GET", "POST"]);
        assert_eq!(allowed_methods("/backup/abc/1.rsc"), ["GET"]);
        assert_eq!(allowed_methods("/backup/abc/subnets"), ["GET"]);
        assert!(allowed_methods("/backup").is_empty());
        assert!(allowed_methods("/other/abc").is_empty());
    }
}
