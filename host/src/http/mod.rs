//! The HTTP surface: every plugin route mounted in one axum router, the gateway's own
//! `/_gateway/*` endpoints, and the middleware stack (request id → trace span).
//!
//! - [`dispatch`]: one request through auth → scope → body → rate limit → plugin;
//! - [`upload`]: the same pipeline for ingest routes, around [`crate::ingest`];
//! - [`convert`]: requests into the WIT shape and plugin responses back out;
//! - [`problem`]: host refusals rendered by the owning plugin (plain JSON as the last resort);
//! - [`serve`]: the accept loop, each connection behind a `guard` that checks request heads
//!   before hyper does and times out stalled writes.

mod convert;
mod dispatch;
mod guard;
pub mod problem;
mod serve;
mod upload;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodFilter, MethodRouter, get};
use http::HeaderName;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::gateway::Gateway;
use crate::plugins::RouteSpec;

pub use dispatch::RouteEntry;
pub use guard::HeadLimits;
pub use serve::{EdgeLimits, serve};

/// The header carrying the request id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The router: every plugin route, `/_gateway/health`, and a fallback that lets the plugin
/// owning the path prefix render 404s.
pub fn app(gw: Arc<Gateway>) -> Router {
    let mut by_path: BTreeMap<String, Vec<Arc<RouteEntry>>> = BTreeMap::new();
    for plugin in &gw.plugins {
        for spec in &plugin.manifest.routes {
            by_path
                .entry(spec.mount_path())
                .or_default()
                .push(Arc::new(RouteEntry::new(plugin.clone(), spec.clone())));
        }
    }
    let mut router = Router::new();
    for (path, entries) in by_path {
        router = router.route(&path, method_router(&gw, &entries));
    }
    let health_gw = gw.clone();
    let fallback_gw = gw.clone();
    router
        .route(
            "/_gateway/health",
            get(move || health(health_gw.clone())),
        )
        .fallback(move |req| dispatch::no_route(fallback_gw.clone(), req))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuidV7))
}

/// Request ids are UUIDv7, so they sort by arrival (providers format them, e.g. `req_<ulid>`).
#[derive(Clone, Copy)]
struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        http::HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

fn method_router(gw: &Arc<Gateway>, entries: &[Arc<RouteEntry>]) -> MethodRouter {
    let mut mr = MethodRouter::new();
    for entry in entries {
        let Ok(filter) = MethodFilter::try_from(entry.spec.method.clone()) else {
            continue;
        };
        let (gw, entry) = (gw.clone(), entry.clone());
        mr = mr.on(filter, move |req| {
            dispatch::dispatch(gw.clone(), entry.clone(), req)
        });
    }
    // A known path with another method: 405, rendered by the plugin owning the path, with
    // the methods it does serve in `Allow`.
    let owner = entries[0].clone();
    let allow: Arc<str> = entries
        .iter()
        .map(|e| e.spec.method.as_str())
        .collect::<Vec<_>>()
        .join(", ")
        .into();
    let gw = gw.clone();
    mr.fallback(move |req| dispatch::wrong_method(gw.clone(), owner.clone(), allow.clone(), req))
}

async fn health(gw: Arc<Gateway>) -> axum::Json<serde_json::Value> {
    let plugins: Vec<_> = gw
        .plugins
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": &*p.name,
                "version": p.manifest.version,
                "contract": p.manifest.contract,
                "sha256": p.sha256,
                "routes": p.manifest.routes.iter().map(route_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(serde_json::json!({ "status": "ok", "plugins": plugins }))
}

fn route_json(r: &RouteSpec) -> serde_json::Value {
    serde_json::json!({ "method": r.method.as_str(), "path": r.template, "operation": r.operation })
}
