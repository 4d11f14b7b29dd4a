//! Typed records kept as JSON documents, with compare-and-swap: a [`Collection`] names the
//! document collection and the record type, a [`Stored`] is a record with the revision its
//! next write must match.
//!
//! ```ignore
//! const RESTORES: Collection<Restore> = Collection::new("restores");
//! let mut r = RESTORES.insert(host, "7", Restore::pending())?;   // fails if "7" exists
//! r.record.state = State::Running;
//! RESTORES.save(host, &mut r)?;   // conflict if someone wrote "7" since it was read
//! RESTORES.delete_if_unchanged(host, &r)?;   // the same check for a delete
//! ```
//!
//! Reads answer `Result`: an outage (`HostError::Unavailable`) is an error, never an absent
//! record. A document that does not parse as the record type is logged (`unreadable record
//! {collection}/{key}: …`) and treated as absent, so one bad record never hides the others.

use std::marker::PhantomData;

use serde::{Serialize, de::DeserializeOwned};

use crate::documents::Document;
use crate::{Host, HostError, paging};

/// A document collection holding records of type `R`.
#[derive(Debug)]
pub struct Collection<R> {
    name: &'static str,
    record: PhantomData<fn() -> R>,
}

impl<R> Clone for Collection<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Collection<R> {}

/// A record and the document revision it was read at (0: not written yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<R> {
    /// The document key.
    pub key: String,
    /// The record.
    pub record: R,
    /// Revision for compare-and-swap: the next write succeeds only if the stored document
    /// still has it.
    pub revision: u64,
}

impl<R> Stored<R> {
    /// A record not written yet (its first save must find no document under `key`).
    pub fn new(key: impl Into<String>, record: R) -> Stored<R> {
        Stored {
            key: key.into(),
            record,
            revision: 0,
        }
    }
}

impl<R: Serialize + DeserializeOwned> Collection<R> {
    /// The collection named `name`.
    pub const fn new(name: &'static str) -> Collection<R> {
        Collection {
            name,
            record: PhantomData,
        }
    }

    /// The collection's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The record under `key`, if there is one that parses.
    pub fn load(&self, host: &impl Host, key: &str) -> Result<Option<Stored<R>>, HostError> {
        Ok(host
            .document(self.name, key)?
            .and_then(|d| self.parse(host, d)))
    }

    /// Every record of the collection that parses, in key order.
    pub fn load_all(&self, host: &impl Host) -> Result<Vec<Stored<R>>, HostError> {
        Ok(paging::all_documents(host, self.name)?
            .into_iter()
            .filter_map(|d| self.parse(host, d))
            .collect())
    }

    /// Write a new record under `key`; a conflict when one exists.
    pub fn insert(&self, host: &impl Host, key: &str, record: R) -> Result<Stored<R>, HostError> {
        let mut stored = Stored::new(key, record);
        self.save(host, &mut stored)?;
        Ok(stored)
    }

    /// Write a record back over the revision it was read at (0: it must not exist yet); on
    /// success `stored.revision` is the new one. A conflict when the document changed.
    pub fn save(&self, host: &impl Host, stored: &mut Stored<R>) -> Result<(), HostError> {
        let value = serde_json::to_string(&stored.record).map_err(|e| {
            HostError::Invalid(format!("{} record does not serialise: {e}", self.name))
        })?;
        let doc = host.put_document(self.name, &stored.key, &value, Some(stored.revision))?;
        stored.revision = doc.revision;
        Ok(())
    }

    /// Delete the record under `key` whatever it holds; false when there was none.
    pub fn delete(&self, host: &impl Host, key: &str) -> Result<bool, HostError> {
        host.delete_document(self.name, key, None)
    }

    /// Delete a record that was read, only while it is as read: a conflict (`revision
    /// mismatch`, nothing deleted) when someone wrote it since; false when it is gone.
    pub fn delete_if_unchanged(
        &self,
        host: &impl Host,
        stored: &Stored<R>,
    ) -> Result<bool, HostError> {
        host.delete_document(self.name, &stored.key, Some(stored.revision))
    }

    fn parse(&self, host: &impl Host, doc: Document) -> Option<Stored<R>> {
        match serde_json::from_str::<R>(&doc.value) {
            Ok(record) => Some(Stored {
                key: doc.key,
                record,
                revision: doc.revision,
            }),
            Err(e) => {
                host.warn(&format!("unreadable record {}/{}: {e}", self.name, doc.key));
                None
            }
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, Import};
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Note {
        text: String,
    }

    const NOTES: Collection<Note> = Collection::new("notes");

    fn note(text: &str) -> Note {
        Note { text: text.into() }
    }

    #[test]
    fn insert_load_save_and_conflicts() {
        let host = FakeHost::new();
        let mut a = NOTES.insert(&host, "a", note("one")).expect("inserted");
        assert_eq!(a.revision, 1);
        assert!(matches!(
            NOTES.insert(&host, "a", note("again")),
            Err(HostError::Conflict(_))
        ));
        let mut stale = NOTES.load(&host, "a").expect("read").expect("loaded");
        a.record.text = "two".into();
        NOTES.save(&host, &mut a).expect("saved");
        assert_eq!(a.revision, 2);
        stale.record.text = "lost".into();
        assert!(matches!(
            NOTES.save(&host, &mut stale),
            Err(HostError::Conflict(m)) if m == "revision mismatch"
        ));
        assert_eq!(
            NOTES.load(&host, "a").expect("read").map(|s| s.record),
            Some(note("two"))
        );
        assert!(NOTES.delete(&host, "a").expect("deleted"));
        assert!(NOTES.load(&host, "a").expect("read").is_none());
    }

    #[test]
    fn a_delete_after_a_read_refuses_a_changed_record() {
        let host = FakeHost::new();
        let read = NOTES.insert(&host, "a", note("one")).expect("inserted");
        let mut writer = NOTES.load(&host, "a").expect("read").expect("loaded");
        writer.record.text = "two".into();
        NOTES.save(&host, &mut writer).expect("saved");
        assert!(matches!(
            NOTES.delete_if_unchanged(&host, &read),
            Err(HostError::Conflict(m)) if m == "revision mismatch"
        ));
        assert!(NOTES.load(&host, "a").expect("read").is_some());
        assert!(NOTES.delete_if_unchanged(&host, &writer).expect("deleted"));
        assert!(!NOTES.delete_if_unchanged(&host, &writer).expect("gone"));
    }

    #[test]
    fn an_outage_is_an_error_not_an_absent_record() {
        let host = FakeHost::new();
        NOTES.insert(&host, "a", note("one")).expect("inserted");
        host.fail_next(Import::DocumentsGet, 1, HostError::Unavailable);
        assert!(matches!(
            NOTES.load(&host, "a"),
            Err(HostError::Unavailable)
        ));
        host.fail_next(Import::DocumentsList, 1, HostError::Unavailable);
        assert!(matches!(NOTES.load_all(&host), Err(HostError::Unavailable)));
    }

    #[test]
    fn unreadable_records_are_logged_and_skipped() {
        let host = FakeHost::new();
        NOTES.insert(&host, "a", note("one")).expect("inserted");
        host.put_document("notes", "bad", "[1,2]", None)
            .expect("put");
        let all = NOTES.load_all(&host).expect("listed");
        assert_eq!(all.len(), 1);
        assert!(NOTES.load(&host, "bad").expect("read").is_none());
        let warnings = host.warnings();
        assert_eq!(warnings.len(), 2);
        assert!(
            warnings[0].starts_with("unreadable record notes/bad: "),
            "{warnings:?}"
        );
    }
}
