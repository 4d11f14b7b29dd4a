//! Dispatch: one handler per operation id, each answering a response or an [`ApiError`].
//! Host failures inside a handler come back as code 1000 without a description; the
//! operation's documented 500 description is filled in here.

use backup_gateway_sdk::{Host, Request, Response};

use crate::errors::{ApiError, SERVER_ERROR, internal_description};
use crate::manifest::{
    CREATE_BACKUP, CREATE_RESTORE, DELETE_BACKUP, DELETE_RESTORE, GET_BACKUP, GET_RESTORE,
    LIST_BACKUPS, LIST_RESTORES, UPDATE_RESTORE,
};
use crate::{backups, restores};

/// Serve a routed request.
pub fn handle(store: &impl Host, req: &Request) -> Response {
    let operation = req.operation.as_str();
    let answer = match operation {
        LIST_BACKUPS => backups::list(store, req),
        CREATE_BACKUP => backups::create(store, req),
        GET_BACKUP => backups::get(store, req),
        DELETE_BACKUP => backups::delete(store, req),
        LIST_RESTORES => restores::list(store, req),
        CREATE_RESTORE => restores::create(store, req),
        GET_RESTORE => restores::get(store, req),
        UPDATE_RESTORE => restores::update(store, req),
        DELETE_RESTORE => restores::delete(store, req),
        _ => Err(ApiError::not_found(
            "The requested resource does not exist.",
            "The requested resource does not exist.",
        )),
    };
    answer.unwrap_or_else(|mut error| {
        if error.code == SERVER_ERROR && error.description.is_empty() {
            error.description = internal_description(operation).into();
        }
        error.render()
    })
}
