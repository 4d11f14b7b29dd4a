//! The capabilities a plugin may call (the world's imports), implemented over the metadata
//! database and object storage. Every call is scoped to the org of the request's principal;
//! with no principal (manifest loading, unauthenticated requests) they see nothing. One file
//! per interface: `resources`, `backups`, `jobs`, `documents`, and `small` (`ids`, `clock`,
//! `log`), written against the current contract (1.1); `v1_0` serves 1.0 components over them.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::types;
use crate::services::Services;
use crate::store::{DbError, Scoped};

mod backups;
mod documents;
mod jobs;
mod resources;
mod small;
mod v1_0;

pub use backups::to_backup;
pub use small::ulid_from;

/// Who a plugin call runs for.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The plugin's provider name.
    pub plugin: Arc<str>,
    /// The principal's org, when authenticated.
    pub org: Option<String>,
    /// The principal's subject, when authenticated (recorded as a job's requester).
    pub subject: Option<String>,
    /// The request id, for logs.
    pub request_id: String,
    /// The services, absent while loading.
    pub services: Option<Arc<Services>>,
    /// The runtime the (blocking) call is made from, to run async queries on.
    pub rt: Option<tokio::runtime::Handle>,
}

impl CallContext {
    /// The context of a call made for `req` (its principal's org and subject, its request
    /// id), on the current runtime.
    pub fn for_request(plugin: Arc<str>, services: Arc<Services>, req: &types::Request) -> Self {
        CallContext {
            plugin,
            org: req.principal.as_ref().map(|p| p.org.clone()),
            subject: req.principal.as_ref().map(|p| p.subject.clone()),
            request_id: req.request_id.clone(),
            services: Some(services),
            rt: Some(tokio::runtime::Handle::current()),
        }
    }
}

/// The data of one plugin instance's `Store`: an empty WASI context (no preopens, no
/// environment, no network), the memory limiter and the call's scope.
pub struct InstanceState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub(super) ctx: CallContext,
    /// How long one database call may take before the plugin is told `unavailable`: half
    /// the call's deadline, so a stalled database leaves the plugin time to render its 503
    /// (the epoch deadline cannot interrupt a call blocked in the host).
    pub(super) db_budget: std::time::Duration,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The most bytes one `backups.read` returns.
const MAX_READ: u64 = 1024 * 1024;
/// The most items one list call returns.
const MAX_LIST: u32 = 1000;

impl InstanceState {
    /// The org, services and runtime, when the call is scoped to an org.
    fn scope(&self) -> Option<(&str, &Services, &tokio::runtime::Handle)> {
        match (&self.ctx.org, &self.ctx.services, &self.ctx.rt) {
            (Some(org), Some(s), Some(rt)) => Some((org.as_str(), s.as_ref(), rt)),
            _ => None,
        }
    }

    fn plugin(&self) -> &str {
        &self.ctx.plugin
    }

    /// Run a database call for the caller's org, mapping failures to `unavailable`.
    fn with_db<T>(
        &self,
        f: impl AsyncFnOnce(Scoped<'_>) -> Result<T, DbError>,
    ) -> Result<T, types::HostError> {
        let (org, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        let scoped = services.db.scoped(org, self.plugin());
        let outcome = rt.block_on(tokio::time::timeout(self.db_budget, f(scoped)));
        let error = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", self.db_budget.as_millis()),
        };
        tracing::error!(plugin = self.plugin(), request_id = %self.ctx.request_id, %error, "capability call failed");
        Err(types::HostError::Unavailable)
    }
}

impl types::Host for InstanceState {}
