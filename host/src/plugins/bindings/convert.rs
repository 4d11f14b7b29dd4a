//! Between the bindings of `provider@1.0.0` and `provider@1.1.0`: [`Conv`] converts a value of
//! one version's type to the other's, field by field (the two are the same shapes but distinct
//! Rust types). Where 1.1 says more than 1.0 can, the narrowing is the 1.0 behaviour: a method
//! outside the 1.0 enum becomes `get`; a job query from 1.0 filters no kinds.

use crate::plugins::bindings as n;
use crate::plugins::bindings::v1_0 as o;

/// A conversion between the two versions' types (both directions are implemented).
pub trait Conv<T> {
    /// The value as the other version's type.
    fn conv(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Conv<$t> for $t {
            fn conv(self) -> $t {
                self
            }
        }
    )*};
}
same!((), String, bool, u8, u16, u32, u64);

impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(self) -> Vec<B> {
        self.into_iter().map(Conv::conv).collect()
    }
}

impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(self) -> Option<B> {
        self.map(Conv::conv)
    }
}

impl<A: Conv<B>, B, E: Conv<F>, F> Conv<Result<B, F>> for Result<A, E> {
    fn conv(self) -> Result<B, F> {
        self.map(Conv::conv).map_err(Conv::conv)
    }
}

impl<A: Conv<C>, B: Conv<D>, C, D> Conv<(C, D)> for (A, B) {
    fn conv(self) -> (C, D) {
        (self.0.conv(), self.1.conv())
    }
}

/// Records whose fields are the same in both versions.
macro_rules! records {
    ($($i:ident :: $t:ident { $($f:ident),* $(,)? })*) => {$(
        impl Conv<n::$i::$t> for o::$i::$t {
            fn conv(self) -> n::$i::$t {
                n::$i::$t { $($f: self.$f.conv()),* }
            }
        }
        impl Conv<o::$i::$t> for n::$i::$t {
            fn conv(self) -> o::$i::$t {
                o::$i::$t { $($f: self.$f.conv()),* }
            }
        }
    )*};
}

/// Enums and variants whose cases are the same in both versions.
macro_rules! variants {
    ($($i:ident :: $t:ident { $($v:ident $(($p:ident))?),* $(,)? })*) => {$(
        impl Conv<n::$i::$t> for o::$i::$t {
            fn conv(self) -> n::$i::$t {
                match self { $(o::$i::$t::$v $(($p))? => n::$i::$t::$v $(($p.conv()))?),* }
            }
        }
        impl Conv<o::$i::$t> for n::$i::$t {
            fn conv(self) -> o::$i::$t {
                match self { $(n::$i::$t::$v $(($p))? => o::$i::$t::$v $(($p.conv()))?),* }
            }
        }
    )*};
}

records! {
    types::RateLimit { class, per, window_seconds, max_requests }
    types::QuotaDefaults { org_bytes, upload_bytes, resource_slots, resource_bytes }
    types::Route { method, path, operation, authenticated, scope, body, rate_classes }
    types::Manifest { contract, name, version, auth, routes, rate_limits, quotas, openapi }
    types::Principal { org, subject, scopes }
    types::Request {
        operation, method, path, params, query, headers, body, principal, request_id, received_at,
    }
    types::ByteRange { offset, length }
    types::Response { status, headers, body }
    types::FieldError { location, code, message, value }
    types::RateLimitState { class, retry_after_seconds, limit, remaining, reset_at }
    resources::Resource { kind, id, name, state, attributes, has_source, created_at }
    backups::Backup {
        id, seq, resource_kind, resource_id, filename, extension, media_type, size, stored_bytes,
        sha256, created_at, subject, job_id, metadata,
    }
    backups::Query { resource_kind, resource_id, newest_first, offset, limit }
    backups::Page { items, total }
    jobs::Progress { bytes_done, bytes_total, message }
    jobs::Job {
        id, seq, kind, resource_kind, resource_id, source_backup, status, progress, attempts,
        backup_id, error, subject, created_at, started_at, finished_at, metadata,
    }
    jobs::JobSpec {
        kind, resource_kind, resource_id, source_backup, deduplicate, exclusive, filename,
        media_type, metadata,
    }
    documents::Document { key, value, revision }
}

variants! {
    types::BodyMode { None, Buffered, Ingest }
    types::AuthScheme { Bearer, Basic, Header(h) }
    types::RateKey { Subject, Org }
    types::Body { Empty, Bytes(b), Backup(b) }
    types::AuthFailure {
        Missing, UnsupportedScheme, MalformedEncoding, MalformedCredentials, InvalidCredentials,
        ExpiredCredentials,
    }
    types::Problem {
        Unauthenticated(a), Forbidden(s), NotFound, MethodNotAllowed, Validation(v),
        LengthRequired, PayloadTooLarge(n), QuotaExceeded, LengthMismatch(t), RateLimited(r),
        Conflict(s), StorageUnavailable, QuotaUnavailable, StorageFailed, Internal,
    }
    types::HostError { NotFound, Conflict(s), QuotaExceeded, Invalid(s), Unavailable }
    jobs::JobKind { Capture, Restore }
    jobs::JobStatus { Queued, InProgress, Completed, Failed, Cancelled }
    log::Level { Debug, Info, Warn, Error }
}

impl Conv<n::types::Method> for o::types::Method {
    fn conv(self) -> n::types::Method {
        match self {
            o::types::Method::Get => n::types::Method::Get,
            o::types::Method::Head => n::types::Method::Head,
            o::types::Method::Post => n::types::Method::Post,
            o::types::Method::Put => n::types::Method::Put,
            o::types::Method::Patch => n::types::Method::Patch,
            o::types::Method::Delete => n::types::Method::Delete,
        }
    }
}

/// 1.0 has no name for other methods; they reached 1.0 plugins as `get`, and still do.
impl Conv<o::types::Method> for n::types::Method {
    fn conv(self) -> o::types::Method {
        match self {
            n::types::Method::Head => o::types::Method::Head,
            n::types::Method::Post => o::types::Method::Post,
            n::types::Method::Put => o::types::Method::Put,
            n::types::Method::Patch => o::types::Method::Patch,
            n::types::Method::Delete => o::types::Method::Delete,
            n::types::Method::Get | n::types::Method::Other(_) => o::types::Method::Get,
        }
    }
}

/// A 1.0 job query filters no kinds.
impl Conv<n::jobs::Query> for o::jobs::Query {
    fn conv(self) -> n::jobs::Query {
        n::jobs::Query {
            kinds: Vec::new(),
            resource_kind: self.resource_kind,
            resource_id: self.resource_id,
            statuses: self.statuses.conv(),
            limit: self.limit,
        }
    }
}

impl Conv<n::IngestPlan> for o::IngestPlan {
    fn conv(self) -> n::IngestPlan {
        n::IngestPlan {
            resource_kind: self.resource_kind,
            resource_id: self.resource_id,
            filename: self.filename,
            extension: self.extension,
            media_type: self.media_type,
            metadata: self.metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_keeps_every_field_across_versions_but_an_unnamed_method() {
        let req = n::types::Request {
            operation: "op".into(),
            method: n::types::Method::Other("OPTIONS".into()),
            path: "/p".into(),
            params: vec![("a".into(), "1".into())],
            query: vec![("q".into(), "2".into())],
            headers: vec![("h".into(), "3".into())],
            body: b"body".to_vec(),
            principal: Some(n::types::Principal {
                org: "acme".into(),
                subject: "s".into(),
                scopes: vec!["x".into()],
            }),
            request_id: "rid".into(),
            received_at: 7,
        };
        let old: o::types::Request = req.clone().conv();
        assert!(matches!(old.method, o::types::Method::Get));
        let back: n::types::Request = old.conv();
        assert!(matches!(back.method, n::types::Method::Get));
        assert_eq!(
            format!(
                "{:?}",
                n::types::Request {
                    method: req.method.clone(),
                    ..back
                }
            ),
            format!("{req:?}")
        );
    }

    #[test]
    fn problems_and_host_errors_round_trip() {
        let p = n::types::Problem::LengthMismatch((3, 4));
        let old: o::types::Problem = p.clone().conv();
        assert_eq!(format!("{old:?}"), format!("{p:?}"));
        let e: Result<u64, o::types::HostError> =
            Err::<u64, n::types::HostError>(n::types::HostError::Conflict("c".into())).conv();
        assert!(matches!(e, Err(o::types::HostError::Conflict(c)) if c == "c"));
    }
}
