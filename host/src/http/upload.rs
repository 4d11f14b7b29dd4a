//! Uploads on ingest routes, after authentication and the scope check: the HTTP half of
//! [`crate::ingest`], which owns the stream, the quota and the commit.
//!
//! Order of checks (the reference collect service's, so a malformed request never consumes
//! a rate-limit slot): `Content-Length` present and non-zero (411) → not over the
//! per-upload cap (413) → rate limit (429) → the plugin's `prepare-ingest` → quota
//! reservation (413, or 503 when it cannot be read) → stream → length check (400) → commit
//! → retention → the plugin's `complete-ingest` (201).
//!
//! The work runs in its own task, so a client that disconnects mid-body cannot cancel the
//! cleanup (see [`crate::ingest`]).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;

use super::dispatch::{RouteEntry, rate_limit, respond};
use super::problem;
use crate::auth::Principal;
use crate::gateway::Gateway;
use crate::ingest::{IdleTimeout, IngestError, Size, Target};
use crate::keys;
use crate::limits::Quotas;
use crate::plugins::bindings::IngestPlan;
use crate::plugins::bindings::types::{self, Problem};
use crate::plugins::host::to_backup;
use crate::plugins::{CallContext, Plugin};
use crate::store::BackupRecord;

/// Serve an upload on an ingest route (after authentication and the scope check).
pub async fn serve(
    gw: Arc<Gateway>,
    entry: Arc<RouteEntry>,
    call: types::Request,
    principal: Principal,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    let task = tokio::spawn(run(
        gw.clone(),
        entry.clone(),
        call.clone(),
        principal,
        parts,
        body,
    ));
    match task.await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "ingest task failed");
            problem::render(&gw, &entry.plugin, Problem::Internal, &call).await
        }
    }
}

async fn run(
    gw: Arc<Gateway>,
    entry: Arc<RouteEntry>,
    call: types::Request,
    principal: Principal,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    let plugin = &entry.plugin;
    let refuse = async |p: Problem| problem::render(&gw, plugin, p, &call).await;
    let quotas = gw.quotas(&principal.org, &plugin.name);
    let declared = match admit(&gw, &entry, &principal, &parts, quotas).await {
        Ok(n) => n,
        Err(p) => return refuse(p).await,
    };
    let backup_id = uuid::Uuid::now_v7().to_string();
    let plan = match prepare(&gw, plugin, &call, &backup_id).await {
        Ok(plan) => plan,
        Err(resp) => return resp,
    };
    let Some(target) = target(plugin, &principal, &plan, backup_id) else {
        tracing::error!(plugin = %plugin.name, extension = %plan.extension, "prepare-ingest named an unsafe extension");
        return refuse(Problem::Internal).await;
    };
    let stored = match store(&gw, target, declared, body, quotas).await {
        Ok(rec) => rec,
        Err(e) => {
            tracing::info!(plugin = %plugin.name, error = %e, "upload refused or failed");
            return refuse(problem::of_ingest(&e)).await;
        }
    };
    let ctx = CallContext::for_request(plugin.name.clone(), gw.services.clone(), &call);
    let (req, backup) = (call.clone(), to_backup(stored));
    let result = plugin
        .call(ctx, move |prov, store| {
            prov.call_complete_ingest(store, &req, &backup)
        })
        .await;
    respond(&gw, plugin, &call, result).await
}

/// The checks before the plugin is asked: a declared, non-zero length within the upload
/// cap, and the route's rate limit. Answers the declared length.
async fn admit(
    gw: &Gateway,
    entry: &RouteEntry,
    principal: &Principal,
    parts: &http::request::Parts,
    quotas: Quotas,
) -> Result<u64, Problem> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if declared == 0 {
        return Err(Problem::LengthRequired);
    }
    if quotas.upload_bytes > 0 && declared > quotas.upload_bytes {
        return Err(Problem::PayloadTooLarge(quotas.upload_bytes));
    }
    rate_limit(gw, entry, principal).await?;
    Ok(declared)
}

/// The plugin's `prepare-ingest`: its plan, or the response it (or its failure) makes.
async fn prepare(
    gw: &Arc<Gateway>,
    plugin: &Arc<Plugin>,
    call: &types::Request,
    backup_id: &str,
) -> Result<IngestPlan, Response> {
    let ctx = CallContext::for_request(plugin.name.clone(), gw.services.clone(), call);
    let (req, bid) = (call.clone(), backup_id.to_owned());
    match plugin
        .call(ctx, move |prov, store| {
            prov.call_prepare_ingest(store, &req, &bid)
        })
        .await
    {
        Ok(Ok(plan)) => Ok(plan),
        Ok(Err(resp)) => Err(respond(gw, plugin, call, Ok(resp)).await),
        Err(fault) => Err(respond(gw, plugin, call, Err(fault)).await),
    }
}

/// Where the upload goes, from the plugin's plan; `None` when the plan names an unsafe
/// extension.
fn target(
    plugin: &Plugin,
    principal: &Principal,
    plan: &IngestPlan,
    backup_id: String,
) -> Option<Target> {
    let extension = keys::clean_extension(&plan.extension)?;
    Some(Target {
        org: principal.org.clone(),
        provider: plugin.name.to_string(),
        resource_kind: plan.resource_kind.clone(),
        resource_id: plan.resource_id.clone(),
        key: keys::backup_key(&principal.org, &plan.resource_id, &backup_id, &extension),
        backup_id,
        filename: keys::clean_filename(&plan.filename),
        extension,
        media_type: plan.media_type.clone(),
        subject: principal.subject.clone(),
        metadata: if plan.metadata.trim().is_empty() {
            "{}".into()
        } else {
            plan.metadata.clone()
        },
        job_id: None,
        dedup: false,
    })
}

/// Reserve, stream the body in and commit; then make the commit durable (it is
/// acknowledged next) and apply the resource's retention.
async fn store(
    gw: &Gateway,
    target: Target,
    declared: u64,
    body: Body,
    quotas: Quotas,
) -> Result<BackupRecord, IngestError> {
    let stream = IdleTimeout::new(
        body.into_data_stream()
            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))),
        gw.body_idle_timeout,
    );
    let (db, objects) = (&gw.services.db, &gw.services.objects);
    let caps = Some(gw.upload_caps);
    let reserved = crate::ingest::reserve(
        db,
        objects,
        target,
        Size::Exact(declared),
        quotas.org_bytes,
        caps,
    )
    .await?;
    let stored = reserved.write(stream).await?;
    if let Err(e) = db.sync().await {
        tracing::error!(error = %e, backup = %stored.id, "could not make a committed upload durable");
        return Err(IngestError::StorageFailed(e.to_string()));
    }
    let (slots, bytes) = (quotas.resource_slots, quotas.resource_bytes);
    if let Err(e) = crate::ingest::prune(db, objects, &stored, slots, bytes).await {
        tracing::warn!(error = %e, "retention pruning failed");
    }
    Ok(stored)
}
