//! `/admin/v1/orgs`: create, list, read (with usage against each provider's quota),
//! update (rename, suspend, resume) and delete orgs.

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
use crate::control::{AdminScope, NewOrg, OrgUpdate};
use crate::gateway::Gateway;
use crate::limits::QuotaOverride;

/// `POST /admin/v1/orgs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// `PATCH /admin/v1/orgs/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    suspended: Option<bool>,
}

pub async fn list(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Result<Response, Problem> {
    actor(&gw, &headers, AdminScope::Read).await?;
    let orgs = gw.control.orgs().await?;
    Ok(Json(json!({ "orgs": orgs })).into_response())
}

pub async fn create(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Body(body): Body<CreateOrg>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    let new = NewOrg {
        id: body.id,
        name: body.name,
    };
    let org = gw.control.create_org(&who, new).await?;
    let location = format!("/admin/v1/orgs/{}", org.id);
    Ok((
        StatusCode::CREATED,
        [(http::header::LOCATION, location)],
        Json(org),
    )
        .into_response())
}

pub async fn get(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    actor(&gw, &headers, AdminScope::Read).await?;
    let view = gw.control.org(&id, &gw.limits).await?;
    Ok(Json(view).into_response())
}

pub async fn update(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<UpdateOrg>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    let update = OrgUpdate {
        name: body.name,
        suspended: body.suspended,
    };
    let org = gw.control.update_org(&who, &id, update).await?;
    Ok(Json(org).into_response())
}

pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    gw.control.delete_org(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /admin/v1/orgs/{id}/limits/{plugin}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default)]
    org_bytes: Option<u64>,
    #[serde(default)]
    upload_bytes: Option<u64>,
    #[serde(default)]
    resource_slots: Option<u32>,
    #[serde(default)]
    resource_bytes: Option<u64>,
}

pub async fn set_limits(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, plugin)): Path<(String, String)>,
    Body(b): Body<Limits>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    if !gw.plugins.iter().any(|p| *p.name == plugin) {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no plugin {plugin:?} is loaded"),
        ));
    }
    let limits = QuotaOverride {
        org_bytes: b.org_bytes,
        upload_bytes: b.upload_bytes,
        resource_slots: b.resource_slots,
        resource_bytes: b.resource_bytes,
    };
    let rec = gw
        .control
        .set_org_limits(&who, &id, &plugin, limits)
        .await?;
    Ok(Json(rec).into_response())
}

pub async fn clear_limits(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, plugin)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let who = actor(&gw, &headers, AdminScope::Write).await?;
    gw.control.clear_org_limits(&who, &id, &plugin).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
