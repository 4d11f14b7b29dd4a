//! Request accessors and response builders shared by every provider plugin.

use crate::{
    AuthScheme, Body, Manifest, Method, Principal, QuotaDefaults, Request, Response, Route,
};
use crate::{BodyMode, bindings::backup_gateway::provider::types::Headers};

impl Request {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A path parameter by template name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable query parameter, in order.
    pub fn query_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The authenticated caller (present on every authenticated route).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether a boolean-ish header (`true`, `1`, `yes`) is set.
    pub fn header_flag(&self, name: &str) -> bool {
        self.header(name)
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    }

    /// The body parsed as JSON; `Ok(None)` when the body is empty.
    pub fn json_body(&self) -> Result<Option<serde_json::Value>, serde_json::Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some)
    }
}

impl Response {
    /// A JSON response with `content-type: application/json`.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Self::json_as(status, "application/json", value)
    }

    /// A JSON response with the given content type (e.g. `application/problem+json`).
    pub fn json_as(status: u16, content_type: &str, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Body::Bytes(value.to_string().into_bytes()),
        }
    }

    /// A response with a text body and content type.
    pub fn text(status: u16, content_type: &str, text: impl Into<String>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Body::Bytes(text.into().into_bytes()),
        }
    }

    /// A response with no body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Headers::new(),
            body: Body::Empty,
        }
    }

    /// A 200 whose body is a stored backup (optionally a range), streamed by the host.
    pub fn backup(id: &str, range: Option<crate::ByteRange>) -> Response {
        Response {
            status: 200,
            headers: Headers::new(),
            body: Body::Backup((id.into(), range)),
        }
    }

    /// The body as JSON, when it is bytes that parse (for tests).
    pub fn body_json(&self) -> Option<serde_json::Value> {
        match &self.body {
            Body::Bytes(b) => serde_json::from_slice(b).ok(),
            _ => None,
        }
    }

    /// The first value of a response header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Add a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

impl Method {
    /// The method as HTTP spells it (`GET`, `DELETE`, `OPTIONS`): what a provider names in a
    /// message or an `Allow` header. An `Other` is as the host received it (upper case).
    pub fn name(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Other(name) => name,
        }
    }

    /// The method in lower case, as OpenAPI path items name it (`get`, `options`, …).
    pub fn openapi_key(&self) -> String {
        self.name().to_ascii_lowercase()
    }
}

impl QuotaDefaults {
    /// No storage limits (0 = unlimited everywhere).
    pub const UNLIMITED: QuotaDefaults = QuotaDefaults {
        org_bytes: 0,
        upload_bytes: 0,
        resource_slots: 0,
        resource_bytes: 0,
    };
}

impl Manifest {
    /// A manifest for this SDK's contract version with no rate limits, no storage limits and
    /// no OpenAPI document; set those fields afterwards where the provider has them.
    pub fn new(name: &str, version: &str, auth: Vec<AuthScheme>, routes: Vec<Route>) -> Manifest {
        Manifest {
            contract: crate::CONTRACT_VERSION.into(),
            name: name.into(),
            version: version.into(),
            auth,
            routes,
            rate_limits: Vec::new(),
            quotas: QuotaDefaults::UNLIMITED,
            openapi: None,
        }
    }
}

impl Route {
    /// An authenticated route with no scope or rate class; POST, PUT and PATCH get a
    /// buffered body, other methods none.
    pub fn new(method: Method, path: &str, operation: &str) -> Route {
        let body = match &method {
            Method::Post | Method::Put | Method::Patch => BodyMode::Buffered,
            _ => BodyMode::None,
        };
        Route {
            method,
            path: path.into(),
            operation: operation.into(),
            authenticated: true,
            scope: None,
            body,
            rate_classes: Vec::new(),
        }
    }

    /// Require a scope.
    pub fn scope(mut self, scope: &str) -> Route {
        self.scope = Some(scope.into());
        self
    }

    /// Set the body mode.
    pub fn body(mut self, body: BodyMode) -> Route {
        self.body = body;
        self
    }

    /// Count the route against a rate-limit class.
    pub fn rate_class(mut self, class: &str) -> Route {
        self.rate_classes.push(class.into());
        self
    }

    /// Make the route public (no authentication).
    pub fn public(mut self) -> Route {
        self.authenticated = false;
        self
    }
}

/// Format a timestamp (µs since the epoch) as RFC 3339 UTC with `digits` fractional digits
/// (0, 3 or 6), e.g. `2026-04-12T02:15:00Z` or `2026-04-27T12:34:56.000Z`.
pub fn rfc3339(micros: u64, digits: u8) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let (y, mo, d, h, mi, s) = civil(secs);
    let base = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    match digits {
        0 => format!("{base}Z"),
        3 => format!("{base}.{:03}Z", frac / 1000),
        _ => format!("{base}.{frac:06}Z"),
    }
}

/// Split seconds since the epoch into (year, month, day, hour, minute, second), UTC.
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_named_as_http_and_openapi_spell_them() {
        assert_eq!(Method::Delete.name(), "DELETE");
        assert_eq!(Method::Other("OPTIONS".into()).name(), "OPTIONS");
        assert_eq!(Method::Patch.openapi_key(), "patch");
        assert_eq!(Method::Other("TRACE".into()).openapi_key(), "trace");
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        // 2026-04-12T02:15:00Z
        assert_eq!(rfc3339(1_775_960_100_000_000, 0), "2026-04-12T02:15:00Z");
        assert_eq!(
            rfc3339(1_732_567_800_123_456, 6),
            "2024-11-25T20:50:00.123456Z"
        );
        assert_eq!(
            rfc3339(1_732_567_800_123_456, 3),
            "2024-11-25T20:50:00.123Z"
        );
        // leap day
        assert_eq!(rfc3339(951_782_400_000_000, 0), "2000-02-29T00:00:00Z");
    }
}
