//! A plugin's manifest in host terms, and the checks made before any route is mounted: the
//! contract version is supported, route templates parse, operations and rate classes are
//! consistent, and no two plugins claim the same method and path.

use std::collections::{BTreeMap, HashSet};

use super::bindings::{Contract, types};
use crate::auth::Scheme;
use crate::limits::{Quotas, RateSpec};

/// One segment of a route template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matched literally.
    Literal(String),
    /// Captured under this name.
    Param(String),
}

/// How a route's body is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// Not read.
    None,
    /// Buffered up to the JSON limit.
    Buffered,
    /// Streamed into storage.
    Ingest,
}

/// A validated route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: http::Method,
    /// Template as declared.
    pub template: String,
    /// Parsed segments.
    pub segments: Vec<Segment>,
    /// Operation id.
    pub operation: String,
    /// Whether credentials are required.
    pub authenticated: bool,
    /// Required scope.
    pub scope: Option<String>,
    /// Body handling.
    pub body: BodyMode,
    /// Rate classes counted.
    pub rate_classes: Vec<String>,
}

impl RouteSpec {
    /// The template with parameters made positional (`/backup/{p0}/{p1}`): the key that
    /// collides when two routes would match the same requests, and the path mounted in axum.
    pub fn mount_path(&self) -> String {
        let mut i = 0;
        let mut out = String::new();
        for s in &self.segments {
            out.push('/');
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Param(_) => {
                    out.push_str(&format!("{{p{i}}}"));
                    i += 1;
                }
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }

    /// Template parameter names in order.
    pub fn param_names(&self) -> Vec<String> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(p) => Some(p.clone()),
                Segment::Literal(_) => None,
            })
            .collect()
    }
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct PluginManifest {
    /// Provider name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Contract version declared.
    pub contract: String,
    /// Accepted schemes, in order.
    pub auth: Vec<Scheme>,
    /// Routes.
    pub routes: Vec<RouteSpec>,
    /// Rate limits by class.
    pub rate_limits: BTreeMap<String, RateSpec>,
    /// Storage limits.
    pub quotas: Quotas,
    /// OpenAPI document, if shipped.
    pub openapi: Option<String>,
}

/// A manifest that cannot be accepted.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Contract version not implemented by this host.
    #[error(
        "plugin {plugin:?} targets contract {version:?}; this host serves {}",
        served()
    )]
    UnsupportedContract {
        /// Plugin.
        plugin: String,
        /// Declared version.
        version: String,
    },
    /// Something in the manifest is malformed.
    #[error("plugin {plugin:?}: {reason}")]
    Invalid {
        /// Plugin.
        plugin: String,
        /// What is wrong.
        reason: String,
    },
    /// Two plugins (or one plugin twice) claim the same method and path.
    #[error(
        "route collision: {method} {first_path} of plugin {first:?} and {method} {second_path} of plugin {second:?} match the same requests"
    )]
    Collision {
        /// Method.
        method: http::Method,
        /// First claimant.
        first: String,
        /// Its template.
        first_path: String,
        /// Second claimant.
        second: String,
        /// Its template.
        second_path: String,
    },
}

fn parse_template(path: &str) -> Result<Vec<Segment>, String> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("route {path:?} must start with '/'"))?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            // Only a trailing slash may leave an empty segment.
            if i + 1 == parts.len() {
                out.push(Segment::Literal(String::new()));
                continue;
            }
            return Err(format!("route {path:?} has an empty segment"));
        }
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(format!("route {path:?}: bad parameter {part:?}"));
            }
            if !names.insert(name.to_owned()) {
                return Err(format!("route {path:?}: parameter {name:?} repeats"));
            }
            out.push(Segment::Param(name.to_owned()));
        } else if part.contains(['{', '}', '*', ':', '?', '#', '%']) {
            return Err(format!(
                "route {path:?}: segment {part:?} is neither literal nor {{param}}"
            ));
        } else {
            out.push(Segment::Literal((*part).to_owned()));
        }
    }
    Ok(out)
}

/// A route's method; of the methods outside the named cases only `OPTIONS` and `TRACE`.
fn method(m: types::Method) -> Result<http::Method, String> {
    Ok(match m {
        types::Method::Get => http::Method::GET,
        types::Method::Head => http::Method::HEAD,
        types::Method::Post => http::Method::POST,
        types::Method::Put => http::Method::PUT,
        types::Method::Patch => http::Method::PATCH,
        types::Method::Delete => http::Method::DELETE,
        types::Method::Other(m) if m == "OPTIONS" => http::Method::OPTIONS,
        types::Method::Other(m) if m == "TRACE" => http::Method::TRACE,
        types::Method::Other(m) => {
            return Err(format!(
                "routes are declared for GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or TRACE, not {m:?}"
            ));
        }
    })
}

/// The WIT form of a method (the inverse of [`method`], any method at all).
pub fn wit_method(m: &http::Method) -> types::Method {
    match *m {
        http::Method::HEAD => types::Method::Head,
        http::Method::POST => types::Method::Post,
        http::Method::PUT => types::Method::Put,
        http::Method::PATCH => types::Method::Patch,
        http::Method::DELETE => types::Method::Delete,
        http::Method::GET => types::Method::Get,
        ref other => types::Method::Other(other.as_str().to_owned()),
    }
}

fn contract_supported(v: &str) -> bool {
    Contract::parse(v).is_some()
}

fn served() -> String {
    Contract::ALL
        .map(|c| format!("{}.x", &c.as_str()[..3]))
        .join(", ")
}

impl PluginManifest {
    /// Check a manifest as returned by a plugin.
    pub fn validate(m: types::Manifest) -> Result<PluginManifest, ManifestError> {
        let plugin = m.name.clone();
        let invalid = |reason: String| ManifestError::Invalid {
            plugin: plugin.clone(),
            reason,
        };
        let name_ok = !m.name.is_empty()
            && m.name.len() <= 64
            && m.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(invalid("name must be 1-64 of [a-z0-9-]".into()));
        }
        if !contract_supported(&m.contract) {
            return Err(ManifestError::UnsupportedContract {
                plugin: m.name,
                version: m.contract,
            });
        }
        let rate_limits = rate_limits(m.rate_limits).map_err(&invalid)?;
        let routes = routes(m.routes, &rate_limits).map_err(&invalid)?;
        if routes.iter().any(|r| r.authenticated) && m.auth.is_empty() {
            return Err(invalid("authenticated routes but no auth scheme".into()));
        }
        let auth = m
            .auth
            .into_iter()
            .map(|s| match s {
                types::AuthScheme::Bearer => Ok(Scheme::Bearer),
                types::AuthScheme::Basic => Ok(Scheme::Basic),
                types::AuthScheme::Header(h) => http::HeaderName::from_bytes(h.as_bytes())
                    .map(|n| Scheme::Header(n.as_str().to_owned()))
                    .map_err(|_| invalid(format!("bad auth header name {h:?}"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(doc) = &m.openapi
            && serde_json::from_str::<serde_json::Value>(doc).is_err()
        {
            return Err(invalid("openapi is not valid JSON".into()));
        }
        Ok(PluginManifest {
            name: m.name,
            version: m.version,
            contract: m.contract,
            auth,
            routes,
            rate_limits,
            quotas: Quotas {
                org_bytes: m.quotas.org_bytes,
                upload_bytes: m.quotas.upload_bytes,
                resource_slots: m.quotas.resource_slots,
                resource_bytes: m.quotas.resource_bytes,
            },
            openapi: m.openapi,
        })
    }
}

/// The declared rate classes, each with a window and a maximum, none twice.
fn rate_limits(declared: Vec<types::RateLimit>) -> Result<BTreeMap<String, RateSpec>, String> {
    let mut rate_limits = BTreeMap::new();
    for r in declared {
        if r.window_seconds == 0 || r.max_requests == 0 {
            return Err(format!(
                "rate limit {:?} needs a window and a maximum",
                r.class
            ));
        }
        let spec = RateSpec {
            class: r.class.clone(),
            per_org: matches!(r.per, types::RateKey::Org),
            window_seconds: r.window_seconds,
            max_requests: r.max_requests,
        };
        if rate_limits.insert(r.class.clone(), spec).is_some() {
            return Err(format!("rate limit {:?} declared twice", r.class));
        }
    }
    Ok(rate_limits)
}

/// The declared routes: parsed templates, unique operation ids, known rate classes, and no
/// scope or ingest on a public route.
fn routes(
    declared: Vec<types::Route>,
    rate_limits: &BTreeMap<String, RateSpec>,
) -> Result<Vec<RouteSpec>, String> {
    let mut operations = HashSet::new();
    let mut routes = Vec::new();
    for r in declared {
        let segments = parse_template(&r.path)?;
        if r.operation.is_empty() || !operations.insert(r.operation.clone()) {
            return Err(format!(
                "operation id {:?} is empty or repeats",
                r.operation
            ));
        }
        if let Some(c) = r
            .rate_classes
            .iter()
            .find(|c| !rate_limits.contains_key(*c))
        {
            return Err(format!("route {} names unknown rate class {c:?}", r.path));
        }
        if r.scope.as_deref() == Some("") {
            return Err(format!("route {} has an empty scope", r.path));
        }
        if !r.authenticated && (r.scope.is_some() || matches!(r.body, types::BodyMode::Ingest)) {
            return Err(format!(
                "public route {} cannot require a scope or ingest",
                r.path
            ));
        }
        routes.push(RouteSpec {
            method: method(r.method)?,
            template: r.path,
            segments,
            operation: r.operation,
            authenticated: r.authenticated,
            scope: r.scope,
            body: match r.body {
                types::BodyMode::None => BodyMode::None,
                types::BodyMode::Buffered => BodyMode::Buffered,
                types::BodyMode::Ingest => BodyMode::Ingest,
            },
            rate_classes: r.rate_classes,
        });
    }
    Ok(routes)
}

/// Refuse two routes (of any plugins) that match the same method and path, naming both.
/// Also refuses route sets the router itself would reject.
pub fn check_collisions<'a>(
    manifests: impl IntoIterator<Item = &'a PluginManifest>,
) -> Result<(), ManifestError> {
    let mut seen: BTreeMap<(String, String), (&str, &str)> = BTreeMap::new();
    let mut router = matchit::Router::new();
    let mut mounted = HashSet::new();
    for m in manifests {
        for r in &m.routes {
            let key = (r.method.to_string(), r.mount_path());
            if let Some((first, first_path)) = seen.get(&key) {
                return Err(ManifestError::Collision {
                    method: r.method.clone(),
                    first: (*first).to_owned(),
                    first_path: (*first_path).to_owned(),
                    second: m.name.clone(),
                    second_path: r.template.clone(),
                });
            }
            seen.insert(key.clone(), (&m.name, &r.template));
            // Each path shape once into the router axum uses, so what it would panic on is
            // an error here.
            if mounted.insert(key.1.clone())
                && let Err(e) = router.insert(key.1.clone(), ())
            {
                return Err(ManifestError::Invalid {
                    plugin: m.name.clone(),
                    reason: format!("route {}: {e}", r.template),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("/backup/{siteId}/{filename}").unwrap(),
            vec![
                Segment::Literal("backup".into()),
                Segment::Param("siteId".into()),
                Segment::Param("filename".into())
            ]
        );
        assert!(parse_template("/api/systems/backups/").is_ok());
        assert!(parse_template("no-slash").is_err());
        assert!(parse_template("/a//b").is_err());
        assert!(parse_template("/a/{x}/{x}").is_err());
        assert!(parse_template("/a/x{y}").is_err());
        assert!(parse_template("/a/{*rest}").is_err());
    }

    #[test]
    fn contract_versions() {
        assert!(contract_supported("1.0.0"));
        assert!(contract_supported("1.0.7"));
        assert!(contract_supported("1.1.0"));
        assert!(!contract_supported("1.2.0"));
        assert!(!contract_supported("2.0.0"));
        assert!(!contract_supported("1.0"));
    }
}
