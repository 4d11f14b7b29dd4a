//! `/admin/v1/tokens`: create admin tokens (the secret is in the 201 and never again), list
//! them, revoke one.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::actor;
use super::extract::Body;
use super::problem::Problem;
use crate::control::{AdminScope, NewToken};
use crate::gateway::Gateway;

/// `POST /admin/v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_in_seconds: Option<u64>,
}

pub async fn list(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Result<Response, Problem> {
    actor(&gw, &headers, AdminScope::Read).await?;
    let tokens = gw.control.tokens().await?;
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

pub async fn create(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Body(body): Body<CreateToken>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    let new = NewToken {
        name: body.name,
        scopes: body.scopes,
        expires_in_seconds: body.expires_in_seconds,
    };
    let (rec, secret) = gw.control.create_token(&who, new).await?;
    let mut out = serde_json::to_value(&rec).unwrap_or_default();
    out["token"] = secret.into();
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

pub async fn revoke(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    let rec = gw.control.revoke_token(&who, &id).await?;
    Ok(Json(rec).into_response())
}
