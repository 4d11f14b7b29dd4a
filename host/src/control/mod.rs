//! The control plane: orgs, client credentials, admin tokens and the audit log, changed at runtime (through the
//! admin API, see `crate::admin`) and seen by every node. State lives in the database; each
//! node keeps what requests consult on every call (which orgs are suspended) in memory, as a
//! [`Directory`] that a watcher reloads when the database's control version moves (polled
//! every [`POLL`], so a change reaches every node within a second of its commit).
//!
//! Provider-neutral and unaware of HTTP: operations take typed input and return
//! [`ControlError`], which the admin listener maps to RFC 7807 problems once.

mod credentials;
mod directory;
mod orgs;
mod tokens;

use crate::store::{AuditEntry, AuditQuery, AuditRecord, Db, DbError};

pub use credentials::NewCredential;
pub use directory::{Directory, POLL, spawn_watcher};
pub use orgs::{NewOrg, OrgUpdate, OrgView};
pub use tokens::{Actor, AdminScope, NewToken, TOKEN_PREFIX, hash_token};

/// Why a control-plane operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A field is missing or wrong; `pointer` is its JSON pointer in the request.
    #[error("{pointer}: {detail}")]
    Invalid {
        /// JSON pointer of the field, e.g. `/id`.
        pointer: String,
        /// What is wrong with it.
        detail: String,
    },
    /// No such thing (what, e.g. `org "acme"`).
    #[error("no {0}")]
    NotFound(String),
    /// The change contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error(transparent)]
    Unavailable(#[from] DbError),
}

impl ControlError {
    /// A field error.
    pub fn invalid(pointer: &str, detail: impl Into<String>) -> Self {
        ControlError::Invalid {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// The control plane of one node: the database, the bootstrap token's hash and the cache.
#[derive(Debug)]
pub struct Control {
    db: Db,
    bootstrap: Option<[u8; 32]>,
    directory: std::sync::Arc<Directory>,
}

impl Control {
    /// The control plane over `db`, accepting the admin token whose SHA-256 is `bootstrap`.
    pub fn new(db: Db, bootstrap: Option<[u8; 32]>, directory: std::sync::Arc<Directory>) -> Self {
        Control {
            db,
            bootstrap,
            directory,
        }
    }

    /// The node's cache of control-plane state.
    pub fn directory(&self) -> &std::sync::Arc<Directory> {
        &self.directory
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Audit entries matching `q`, oldest first.
    pub async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, ControlError> {
        Ok(self.db.audit_entries(q).await?)
    }
}

/// An audit entry by `actor` about `org`.
fn audit(actor: &Actor, org: Option<&str>, action: &str, target: String) -> AuditEntry {
    AuditEntry {
        actor: actor.name(),
        org: org.map(str::to_owned),
        action: action.into(),
        target,
        ..AuditEntry::default()
    }
}
