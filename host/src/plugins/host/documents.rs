//! `documents`: the small JSON store for a plugin's own state, per org, with revisions for
//! compare-and-swap.

use super::{InstanceState, MAX_LIST};
use crate::plugins::bindings::{documents, types};
use crate::store::DocumentDeleted;

fn to_document(d: crate::store::DocumentRecord) -> documents::Document {
    documents::Document {
        key: d.key,
        value: d.value,
        revision: u64::try_from(d.revision).unwrap_or(0),
    }
}

impl documents::Host for InstanceState {
    fn get(
        &mut self,
        collection: String,
        key: String,
    ) -> Result<Option<documents::Document>, types::HostError> {
        self.with_db(async |s| s.document(&collection, &key).await)
            .map(|d| d.map(to_document))
    }

    fn put(
        &mut self,
        collection: String,
        key: String,
        value: String,
        expected_revision: Option<u64>,
    ) -> Result<documents::Document, types::HostError> {
        if serde_json::from_str::<serde_json::Value>(&value).is_err() {
            return Err(types::HostError::Invalid("value must be JSON".into()));
        }
        let expected = expected_revision.map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        let rev =
            self.with_db(async |s| s.put_document(&collection, &key, &value, expected).await)?;
        match rev {
            Some(revision) => Ok(documents::Document {
                key,
                value,
                revision: u64::try_from(revision).unwrap_or(0),
            }),
            None => Err(types::HostError::Conflict("revision mismatch".into())),
        }
    }

    fn delete(
        &mut self,
        collection: String,
        key: String,
        expected_revision: Option<u64>,
    ) -> Result<bool, types::HostError> {
        let expected = expected_revision.map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        let done =
            self.with_db(async |s| s.delete_document((&collection, &key), expected).await)?;
        match done {
            DocumentDeleted::Yes => Ok(true),
            DocumentDeleted::Missing => Ok(false),
            DocumentDeleted::RevisionMismatch => {
                Err(types::HostError::Conflict("revision mismatch".into()))
            }
        }
    }

    fn list(
        &mut self,
        collection: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<documents::Document>, types::HostError> {
        let limit = i64::from(limit.min(MAX_LIST));
        let rows =
            self.with_db(async |s| s.documents(&collection, after.as_deref(), limit).await)?;
        Ok(rows.into_iter().map(to_document).collect())
    }
}
