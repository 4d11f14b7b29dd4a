//! What the plugin declares: the collect routes, HTTP Basic auth, the per-system upload rate
//! windows and the storage limits from the seed, plus the OpenAPI document describing the
//! same routes.

use backup_gateway_sdk::{
    AuthScheme, BodyMode, CONTRACT_VERSION, Manifest, Method, QuotaDefaults, RateKey, RateLimit,
    Route,
};

/// Provider name, unique among loaded plugins.
pub const NAME: &str = "appliance-collect";

/// The OpenAPI 3 document for the routes below.
const OPENAPI: &str = include_str!("openapi.json");

/// Rate class for the per-minute upload window.
const UPLOAD_MINUTE: &str = "upload-minute";
/// Rate class for the per-hour upload window.
const UPLOAD_HOUR: &str = "upload-hour";

const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

/// Base path of every collect route.
const BACKUPS: &str = "/api/systems/backups";

/// The plugin's manifest.
pub fn manifest() -> Manifest {
    let by_id = format!("{BACKUPS}/{{id}}");
    // The reference answers a trailing slash with no id as 400 "backup id required".
    let no_id = format!("{BACKUPS}/");
    Manifest {
        contract: CONTRACT_VERSION.into(),
        name: NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        auth: vec![AuthScheme::Basic],
        routes: vec![
            Route::new(Method::Post, BACKUPS, "upload")
                .body(BodyMode::Ingest)
                .rate_class(UPLOAD_MINUTE)
                .rate_class(UPLOAD_HOUR),
            // GET and DELETE routes take no body (the SDK's default for them).
            Route::new(Method::Get, BACKUPS, "list"),
            Route::new(Method::Get, &by_id, "download"),
            Route::new(Method::Delete, &by_id, "delete"),
            Route::new(Method::Get, &no_id, "download-empty"),
            Route::new(Method::Delete, &no_id, "delete-empty"),
        ],
        rate_limits: vec![
            per_system(UPLOAD_MINUTE, 60, 6),
            per_system(UPLOAD_HOUR, 3600, 60),
        ],
        quotas: QuotaDefaults {
            org_bytes: 100 * GIB,
            upload_bytes: 2 * GIB,
            resource_slots: 10,
            resource_bytes: 500 * MIB,
        },
        openapi: Some(OPENAPI.into()),
    }
}

/// A fixed window counted per appliance (the authenticated subject).
fn per_system(class: &str, window_seconds: u32, max_requests: u32) -> RateLimit {
    RateLimit {
        class: class.into(),
        per: RateKey::Subject,
        window_seconds,
        max_requests,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    #[test]
    fn declares_the_seed_limits() {
        let m = manifest();
        assert_eq!(m.name, "appliance-collect");
        assert_eq!(m.contract, CONTRACT_VERSION);
        assert!(matches!(m.auth.as_slice(), [AuthScheme::Basic]));
        assert_eq!(m.quotas.org_bytes, 107_374_182_400);
        assert_eq!(m.quotas.upload_bytes, 2_147_483_648);
        assert_eq!(m.quotas.resource_slots, 10);
        assert_eq!(m.quotas.resource_bytes, 524_288_000);
        let upload = m
            .routes
            .iter()
            .find(|r| r.operation == "upload")
            .expect("upload route");
        assert!(matches!(upload.body, BodyMode::Ingest));
        // Only the upload reads a body.
        for route in m.routes.iter().filter(|r| r.operation != "upload") {
            assert!(matches!(route.body, BodyMode::None), "{}", route.operation);
        }
        for class in &upload.rate_classes {
            assert!(m.rate_limits.iter().any(|l| &l.class == class), "{class}");
        }
        assert!(
            m.routes
                .iter()
                .all(|r| r.authenticated && r.scope.is_none())
        );
    }

    #[test]
    fn openapi_describes_exactly_the_routes() {
        let m = manifest();
        let doc: Value = serde_json::from_str(m.openapi.as_deref().unwrap_or_default())
            .expect("openapi is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        assert_eq!(
            doc["components"]["securitySchemes"]["basicAuth"]["scheme"],
            "basic"
        );

        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().expect("operationId");
                documented.insert((path.clone(), method.clone(), id.to_string()));
                let responses = op["responses"].as_object().expect("responses");
                // Only the id-less routes have no success response.
                let refused_always = id.ends_with("-empty");
                assert_eq!(
                    responses.keys().any(|s| s.starts_with('2')),
                    !refused_always,
                    "{path} {method}"
                );
                assert!(responses.contains_key("401"), "{path} {method}");
            }
        }
        let declared: BTreeSet<_> = m
            .routes
            .iter()
            .map(|r| (r.path.clone(), r.method.openapi_key(), r.operation.clone()))
            .collect();
        assert_eq!(documented, declared);
    }
}
