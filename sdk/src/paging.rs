//! Paging through the host's list cap: every document of a collection, every resource of a
//! kind, every backup matching a query, in one call each.
//!
//! The host serves at most [`PAGE_LIMIT`] items a call. Cursor lists (documents, resources)
//! end at the first empty page rather than the first short one, so a host that caps lower
//! than it is asked (the contract only promises "at most `limit`") still yields everything;
//! offset lists (backups) end when the page total is reached. The first host error ends a
//! backup walk and is returned.

use crate::Host;
use crate::HostError;
use crate::backups::{Backup, Query as BackupQuery};
use crate::documents::Document;
use crate::resources::Resource;

/// The most items one list call returns (the host's cap).
pub const PAGE_LIMIT: u32 = 1000;

/// Every document of a collection, in key order.
pub fn all_documents(host: &impl Host, collection: &str) -> Vec<Document> {
    by_cursor(
        |after| host.documents(collection, after, PAGE_LIMIT),
        |d| &d.key,
    )
}

/// Every resource of a kind, in id order.
pub fn all_resources(host: &impl Host, kind: &str) -> Vec<Resource> {
    by_cursor(|after| host.resources(kind, after, PAGE_LIMIT), |r| &r.id)
}

/// Visit the resources of a kind after the id `after` in id order, page by page, until
/// `visit` returns `false` or none are left.
pub fn walk_resources(
    host: &impl Host,
    kind: &str,
    after: Option<&str>,
    mut visit: impl FnMut(Resource) -> bool,
) {
    let mut after: Option<String> = after.map(str::to_string);
    loop {
        let page = host.resources(kind, after.as_deref(), PAGE_LIMIT);
        let Some(last) = page.last() else { return };
        // A host that does not move past `after` would loop forever.
        if after.as_deref().is_some_and(|a| last.id.as_str() <= a) {
            return;
        }
        after = Some(last.id.clone());
        for r in page {
            if !visit(r) {
                return;
            }
        }
    }
}

fn by_cursor<T>(
    mut page: impl FnMut(Option<&str>) -> Vec<T>,
    key: impl Fn(&T) -> &String,
) -> Vec<T> {
    let mut all: Vec<T> = Vec::new();
    loop {
        let after = all.last().map(|t| key(t).clone());
        let next = page(after.as_deref());
        // The end, or a host that does not move past `after` (which would loop forever).
        let stuck = match (next.last(), &after) {
            (Some(last), Some(a)) => key(last) <= a,
            (None, _) => true,
            _ => false,
        };
        if stuck {
            return all;
        }
        all.extend(next);
    }
}

/// Every backup matching `query` (its `offset` and `limit` are the walk's own), in the
/// query's order.
pub fn all_backups(host: &impl Host, query: &BackupQuery) -> Result<Vec<Backup>, HostError> {
    let mut all = Vec::new();
    walk_backups(host, query, |b| {
        all.push(b);
        true
    })?;
    Ok(all)
}

/// Visit the backups matching `query` in its order, page by page, until `visit` returns
/// `false` or none are left.
pub fn walk_backups(
    host: &impl Host,
    query: &BackupQuery,
    mut visit: impl FnMut(Backup) -> bool,
) -> Result<(), HostError> {
    let mut offset = 0u64;
    loop {
        let page = host.backups(&BackupQuery {
            offset,
            limit: PAGE_LIMIT,
            ..query.clone()
        })?;
        let fetched = page.items.len() as u64;
        for backup in page.items {
            if !visit(backup) {
                return Ok(());
            }
        }
        offset += fetched;
        if fetched == 0 || offset >= page.total {
            return Ok(());
        }
    }
}

/// The query for the backups of one resource (`id: None`: every resource of the kind).
pub fn backups_of(kind: &str, id: Option<&str>, newest_first: bool) -> BackupQuery {
    BackupQuery {
        resource_kind: Some(kind.into()),
        resource_id: id.map(str::to_string),
        newest_first,
        offset: 0,
        limit: PAGE_LIMIT,
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, backup, resource};

    #[test]
    fn documents_and_resources_page_through_the_cap() {
        let host = FakeHost::new();
        for i in 0..2500u32 {
            host.put_document("c", &format!("{i:05}"), "{}", None)
                .expect("put");
        }
        let all = all_documents(&host, "c");
        assert_eq!(all.len(), 2500);
        assert_eq!(all[0].key, "00000");
        assert_eq!(all[2499].key, "02499");

        host.set_page_cap(3);
        for i in 0..7 {
            host.add_resource(resource("vps", &format!("v{i}")));
        }
        host.add_resource(resource("site", "s"));
        let ids: Vec<String> = all_resources(&host, "vps")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["v0", "v1", "v2", "v3", "v4", "v5", "v6"]);
        let mut seen = Vec::new();
        walk_resources(&host, "vps", None, |r| {
            seen.push(r.id);
            seen.len() < 4
        });
        assert_eq!(seen, ["v0", "v1", "v2", "v3"]);
        let mut rest = Vec::new();
        walk_resources(&host, "vps", Some("v4"), |r| {
            rest.push(r.id);
            true
        });
        assert_eq!(rest, ["v5", "v6"]);
    }

    #[test]
    fn backups_page_filter_stop_early_and_fail_on_any_page() {
        let host = FakeHost::new();
        host.set_page_cap(3);
        for i in 0..7 {
            host.add_backup(backup("vol", "a", &format!("b{i}")));
        }
        host.add_backup(backup("vol", "b", "other"));
        let newest = all_backups(&host, &backups_of("vol", Some("a"), true)).expect("listed");
        let ids: Vec<&str> = newest.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["b6", "b5", "b4", "b3", "b2", "b1", "b0"]);
        assert_eq!(
            all_backups(&host, &backups_of("vol", None, false))
                .expect("listed")
                .len(),
            8
        );
        let mut first = None;
        walk_backups(&host, &backups_of("vol", Some("a"), false), |b| {
            first = Some(b.id);
            false
        })
        .expect("walked");
        assert_eq!(first.as_deref(), Some("b0"));

        host.fail_next(
            crate::testing::Import::BackupsList,
            1,
            HostError::Unavailable,
        );
        assert!(matches!(
            all_backups(&host, &backups_of("vol", None, false)),
            Err(HostError::Unavailable)
        ));
    }
}
