//! Host refusals as provider-neutral problems, rendered by the plugin that owns the route.
//! If the plugin cannot render (it traps, times out or answers nonsense), a plain JSON body
//! with the problem's natural status is sent: the client still gets the right status.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};

use super::convert;
use crate::auth::AuthFailure;
use crate::gateway::Gateway;
use crate::ingest::IngestError;
use crate::plugins::bindings::types::{self, Problem};
use crate::plugins::{CallContext, Plugin};

/// The status a problem means (the runtime's, which the probes of `check` use too).
pub use crate::plugins::problems::status;

/// The WIT form of an authentication failure.
pub fn auth_failure(f: AuthFailure) -> types::AuthFailure {
    match f {
        AuthFailure::Missing => types::AuthFailure::Missing,
        AuthFailure::UnsupportedScheme => types::AuthFailure::UnsupportedScheme,
        AuthFailure::MalformedEncoding => types::AuthFailure::MalformedEncoding,
        AuthFailure::MalformedCredentials => types::AuthFailure::MalformedCredentials,
        AuthFailure::InvalidCredentials => types::AuthFailure::InvalidCredentials,
        AuthFailure::ExpiredCredentials => types::AuthFailure::ExpiredCredentials,
    }
}

/// What a client refused for having too many uploads in flight is told to wait: a place
/// frees when one of them ends, which the server cannot foresee.
const IN_FLIGHT_RETRY_SECONDS: u32 = 5;

/// The provider-neutral problem an ingest failure is.
pub fn of_ingest(e: &IngestError) -> Problem {
    match e {
        IngestError::QuotaExceeded => Problem::QuotaExceeded,
        IngestError::QuotaUnavailable(_) => Problem::QuotaUnavailable,
        IngestError::StorageUnavailable(_) => Problem::StorageUnavailable,
        IngestError::StorageFailed(_) => Problem::StorageFailed,
        IngestError::LengthMismatch { declared, received }
        | IngestError::Interrupted {
            declared, received, ..
        } => Problem::LengthMismatch((*declared, *received)),
        IngestError::TooLarge(n) => Problem::PayloadTooLarge(*n),
        IngestError::TooManyUploads(n) => Problem::RateLimited(types::RateLimitState {
            class: "uploads-in-flight".into(),
            retry_after_seconds: IN_FLIGHT_RETRY_SECONDS,
            limit: *n,
            remaining: 0,
            reset_at: u64::try_from(crate::store::now_micros()).unwrap_or(0)
                + u64::from(IN_FLIGHT_RETRY_SECONDS) * 1_000_000,
        }),
    }
}

/// The last resort: `{"error": {"status": …, "message": …}}`.
pub fn fallback(p: &Problem) -> Response {
    let status = status(p);
    let body = serde_json::json!({
        "error": { "status": status.as_u16(), "message": status.canonical_reason().unwrap_or("error") }
    });
    (status, axum::Json(body)).into_response()
}

/// Render `problem` through `plugin`, falling back to plain JSON.
pub async fn render(
    gw: &Arc<Gateway>,
    plugin: &Arc<Plugin>,
    problem: Problem,
    req: &types::Request,
) -> Response {
    let org = req.principal.as_ref().map(|p| p.org.clone());
    let ctx = CallContext::for_request(plugin.name.clone(), gw.services.clone(), req);
    let (p, r) = (problem.clone(), req.clone());
    match plugin
        .call(ctx, move |prov, store| {
            prov.call_render_problem(store, &p, &r)
        })
        .await
    {
        Ok(resp) => match convert::response(gw, plugin, org.as_deref(), resp).await {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(plugin = %plugin.name, error = %e, "render-problem answered an unusable response");
                fallback(&problem)
            }
        },
        Err(fault) => {
            tracing::error!(plugin = %plugin.name, %fault, "render-problem failed");
            fallback(&problem)
        }
    }
}
