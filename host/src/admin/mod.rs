//! The admin listener (`[admin] listen`): a JSON API under `/admin/v1` over the control
//! plane — orgs with their usage, client credentials, admin tokens, the audit log — with
//! its OpenAPI document at `/admin/v1/openapi.json`. Every endpoint but the document takes
//! an admin bearer token and a scope (`read` to look, `write` to change); errors are
//! RFC 7807 problems ([`problem`]). Nothing is trusted for coming from loopback.

mod audit;
mod credentials;
mod extract;
mod orgs;
pub mod problem;
mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderMap, StatusCode};

use crate::control::{Actor, AdminScope};
use crate::gateway::Gateway;
use problem::Problem;

/// The admin API's own description.
const OPENAPI: &str = include_str!("openapi.json");

/// The admin router over a gateway's control plane.
pub fn app(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/admin/v1/openapi.json", get(openapi))
        .route("/admin/v1/orgs", get(orgs::list).post(orgs::create))
        .route(
            "/admin/v1/orgs/{id}",
            get(orgs::get).patch(orgs::update).delete(orgs::delete),
        )
        .route(
            "/admin/v1/credentials",
            get(credentials::list).post(credentials::create),
        )
        .route(
            "/admin/v1/credentials/{id}",
            get(credentials::get).delete(credentials::revoke),
        )
        .route(
            "/admin/v1/credentials/{id}/rotate",
            axum::routing::post(credentials::rotate),
        )
        .route(
            "/admin/v1/orgs/{id}/limits/{plugin}",
            axum::routing::put(orgs::set_limits).delete(orgs::clear_limits),
        )
        .route("/admin/v1/tokens", get(tokens::list).post(tokens::create))
        .route(
            "/admin/v1/tokens/{id}",
            axum::routing::delete(tokens::revoke),
        )
        .route("/admin/v1/audit", get(audit::list))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(no_route)
        .with_state(gw)
}

/// Serve the admin API on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gw: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(gw))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn openapi() -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn no_route(uri: http::Uri) -> Problem {
    Problem::no_route(uri.path())
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The caller, if its bearer token is a live admin token holding `scope`.
async fn actor(gw: &Gateway, headers: &HeaderMap, scope: AdminScope) -> Result<Actor, Problem> {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Problem::unauthenticated("an admin bearer token is required"))?;
    let actor = gw
        .control
        .authenticate(token)
        .await?
        .ok_or_else(|| Problem::unauthenticated("the token is unknown, expired or revoked"))?;
    if !actor.may(scope) {
        return Err(Problem::forbidden(scope.as_str()));
    }
    Ok(actor)
}
