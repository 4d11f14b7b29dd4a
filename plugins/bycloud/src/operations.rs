//! Dispatch: one handler per operation id, each answering a response or an [`ApiError`],
//! rendered here against the request so every refusal carries its `request_id`.

use backup_gateway_sdk::Host;
use backup_gateway_sdk::{Request, Response};

use crate::errors::ApiError;
use crate::manifest::{CREATE_BACKUP, DELETE_BACKUP, GET_BACKUP, LIST_BACKUPS, RESTORE_BACKUP};
use crate::{backups, restore};

/// Serve a routed request.
pub fn handle(store: &impl Host, req: &Request) -> Response {
    let answer = match req.operation.as_str() {
        LIST_BACKUPS => backups::list(store, req),
        CREATE_BACKUP => backups::create(store, req),
        GET_BACKUP => backups::get(store, req),
        DELETE_BACKUP => backups::delete(store, req),
        RESTORE_BACKUP => restore::restore(store, req),
        _ => Err(ApiError::not_found()),
    };
    answer.unwrap_or_else(|error| error.render(req))
}
