//! `GET /admin/v1/audit`: the audit log, oldest first, filtered by org, action and time,
//! paged by an opaque cursor (`next` in each page).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use super::actor;
use super::extract::Query;
use super::problem::Problem;
use crate::control::AdminScope;
use crate::gateway::Gateway;
use crate::store::AuditQuery;

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    action: Option<String>,
    /// µs since the epoch.
    #[serde(default)]
    since: Option<i64>,
    /// µs since the epoch.
    #[serde(default)]
    until: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// A cursor is `{at}.{id}` of the last entry of the page before.
fn cursor(s: &str) -> Result<(i64, String), Problem> {
    s.split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| Problem::invalid("query:cursor", "not a cursor this API returned"))
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Result<Response, Problem> {
    actor(&gw, &headers, AdminScope::Read).await?;
    let limit = f.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("query:limit", "must be 1-1000"));
    }
    let q = AuditQuery {
        org: f.org,
        action: f.action,
        since: f.since,
        until: f.until,
        after: f.cursor.as_deref().map(cursor).transpose()?,
        limit: i64::from(limit),
    };
    let entries = gw.control.audit(&q).await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| format!("{}.{}", e.at, e.id)))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next": next })).into_response())
}
