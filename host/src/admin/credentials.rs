//! `/admin/v1/credentials`: issue client credentials (a generated secret is in the 201 and
//! never again), list (optionally one org's) and read them, revoke, rotate with a grace.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::actor;
use super::extract::{Body, Query};
use super::problem::Problem;
use crate::control::{AdminScope, NewCredential};
use crate::gateway::Gateway;

/// `POST /admin/v1/credentials`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    org: String,
    plugin: String,
    scheme: String,
    key: String,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires_in_seconds: Option<u64>,
    #[serde(default)]
    secret_sha256: Option<String>,
}

/// `POST /admin/v1/credentials/{id}/rotate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    grace_seconds: u64,
}

/// The list's query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    org: Option<String>,
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Result<Response, Problem> {
    actor(&gw, &headers, AdminScope::Read).await?;
    let list = gw.control.credentials(f.org.as_deref()).await?;
    Ok(Json(json!({ "credentials": list })).into_response())
}

pub async fn create(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Body(b): Body<CreateCredential>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    if !gw.plugins.iter().any(|p| *p.name == b.plugin) {
        return Err(Problem::invalid(
            "/plugin",
            format!("no plugin {:?} is loaded", b.plugin),
        ));
    }
    let new = NewCredential {
        org: b.org,
        plugin: b.plugin,
        scheme: b.scheme,
        key: b.key,
        header: b.header,
        subject: b.subject,
        scopes: b.scopes,
        expires_in_seconds: b.expires_in_seconds,
        secret_sha256: b.secret_sha256,
    };
    let (rec, secret) = gw.control.create_credential(&who, new).await?;
    let mut out = serde_json::to_value(&rec).unwrap_or_default();
    if let Some(s) = secret {
        out["secret"] = s.into();
    }
    let location = format!("/admin/v1/credentials/{}", rec.id);
    Ok((
        StatusCode::CREATED,
        [(http::header::LOCATION, location)],
        Json(out),
    )
        .into_response())
}

pub async fn get(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    actor(&gw, &headers, AdminScope::Read).await?;
    Ok(Json(gw.control.credential(&id).await?).into_response())
}

pub async fn revoke(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    Ok(Json(gw.control.revoke_credential(&who, &id).await?).into_response())
}

pub async fn rotate(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(b): Body<Rotate>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    let (rec, secret) = gw
        .control
        .rotate_credential(&who, &id, b.grace_seconds)
        .await?;
    let mut out = serde_json::to_value(&rec).unwrap_or_default();
    out["secret"] = secret.into();
    Ok(Json(out).into_response())
}
