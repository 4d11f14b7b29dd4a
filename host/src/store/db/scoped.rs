//! [`Scoped`]: the database as one org's provider sees it. Every query over the tables a
//! plugin reaches (resources, backups, documents, sequences, jobs, quota usage) is a method
//! of this handle, and the handle carries the org and provider it was made for, so "every
//! query takes the caller's org" is a type, not an argument each call site must pass right.

use super::Db;

/// One org's view of one provider's data. Cheap to copy; made by [`Db::scoped`].
#[derive(Debug, Clone, Copy)]
pub struct Scoped<'a> {
    pub(in crate::store) db: &'a Db,
    pub(in crate::store) org: &'a str,
    pub(in crate::store) provider: &'a str,
}

impl Db {
    /// The data of `org` for `provider`, and nothing else.
    pub fn scoped<'a>(&'a self, org: &'a str, provider: &'a str) -> Scoped<'a> {
        Scoped {
            db: self,
            org,
            provider,
        }
    }
}

impl<'a> Scoped<'a> {
    /// The database underneath (for the few unscoped operations a scoped caller needs).
    pub fn db(&self) -> &'a Db {
        self.db
    }

    /// The org every query is scoped to.
    pub fn org(&self) -> &'a str {
        self.org
    }

    /// The provider every query is scoped to.
    pub fn provider(&self) -> &'a str {
        self.provider
    }
}
