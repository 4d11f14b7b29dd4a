//! Paging through the host's list cap: every document of a collection, every resource
//! matching a query, every backup matching a query, in one call each.
//!
//! The host serves at most [`PAGE_LIMIT`] items a call. Cursor lists (documents, resources)
//! end at the first empty page rather than the first short one, so a host that caps lower
//! than it is asked (the contract only promises "at most `limit`") still yields everything;
//! offset lists (backups) end when the page total is reached. The first host error (e.g.
//! `unavailable` on any page) ends a walk and is returned: a partial list is never passed
//! off as the whole.

use crate::Host;
use crate::HostError;
use crate::backups::{Backup, Query as BackupQuery};
use crate::documents::Document;
use crate::resources::{Query as ResourceQuery, Resource};

/// The most items one list call returns (the host's cap).
pub const PAGE_LIMIT: u32 = 1000;

/// Every document of a collection, in key order.
pub fn all_documents(host: &impl Host, collection: &str) -> Result<Vec<Document>, HostError> {
    by_cursor(
        None,
        |after| host.documents(collection, after, PAGE_LIMIT),
        |d| &d.key,
    )
}

/// The query for every resource of a kind; set `attribute` to keep only those whose
/// attributes hold a key with a string value (`Some(("site".into(), "12".into()))`).
pub fn resources_of(kind: &str) -> ResourceQuery {
    ResourceQuery {
        kind: kind.into(),
        after: None,
        limit: PAGE_LIMIT,
        attribute: None,
    }
}

/// Every resource matching `query` (its `limit` is the walk's own; it starts after
/// `query.after`), in id order.
pub fn all_resources(host: &impl Host, query: &ResourceQuery) -> Result<Vec<Resource>, HostError> {
    by_cursor(
        query.after.as_deref(),
        |after| {
            host.resources(&ResourceQuery {
                after: after.map(str::to_string),
                limit: PAGE_LIMIT,
                ..query.clone()
            })
        },
        |r| &r.id,
    )
}

/// Visit the resources matching `query` after the id `query.after` in id order, page by
/// page, until `visit` returns `false` or none are left.
pub fn walk_resources(
    host: &impl Host,
    query: &ResourceQuery,
    mut visit: impl FnMut(Resource) -> bool,
) -> Result<(), HostError> {
    let mut after = query.after.clone();
    loop {
        let page = host.resources(&ResourceQuery {
            after: after.clone(),
            limit: PAGE_LIMIT,
            ..query.clone()
        })?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        // A host that does not move past `after` would loop forever.
        if after.as_deref().is_some_and(|a| last.id.as_str() <= a) {
            return Ok(());
        }
        after = Some(last.id.clone());
        for r in page {
            if !visit(r) {
                return Ok(());
            }
        }
    }
}

/// Every item of a cursor list after `start`: `page(after)` is one call, `key` an item's
/// cursor.
fn by_cursor<T>(
    start: Option<&str>,
    mut page: impl FnMut(Option<&str>) -> Result<Vec<T>, HostError>,
    key: impl Fn(&T) -> &String,
) -> Result<Vec<T>, HostError> {
    let mut all: Vec<T> = Vec::new();
    loop {
        let after = all
            .last()
            .map(|t| key(t).clone())
            .or_else(|| start.map(str::to_string));
        let next = page(after.as_deref())?;
        // The end, or a host that does not move past `after` (which would loop forever).
        let stuck = match (next.last(), &after) {
            (Some(last), Some(a)) => key(last) <= a,
            (None, _) => true,
            _ => false,
        };
        if stuck {
            return Ok(all);
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
    use crate::testing::{FakeHost, Import, backup, resource};

    #[test]
    fn documents_and_resources_page_through_the_cap() {
        let host = FakeHost::new();
        for i in 0..2500u32 {
            host.put_document("c", &format!("{i:05}"), "{}", None)
                .expect("put");
        }
        let all = all_documents(&host, "c").expect("listed");
        assert_eq!(all.len(), 2500);
        assert_eq!(all[0].key, "00000");
        assert_eq!(all[2499].key, "02499");

        host.set_page_cap(3);
        for i in 0..7 {
            host.add_resource(resource("vps", &format!("v{i}")));
        }
        host.add_resource(resource("site", "s"));
        let ids: Vec<String> = all_resources(&host, &resources_of("vps"))
            .expect("listed")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["v0", "v1", "v2", "v3", "v4", "v5", "v6"]);
        let mut seen = Vec::new();
        walk_resources(&host, &resources_of("vps"), |r| {
            seen.push(r.id);
            seen.len() < 4
        })
        .expect("walked");
        assert_eq!(seen, ["v0", "v1", "v2", "v3"]);
        let mut rest = Vec::new();
        let after_v4 = ResourceQuery {
            after: Some("v4".into()),
            ..resources_of("vps")
        };
        walk_resources(&host, &after_v4, |r| {
            rest.push(r.id);
            true
        })
        .expect("walked");
        assert_eq!(rest, ["v5", "v6"]);
    }

    #[test]
    fn resource_walks_keep_the_attribute_filter_on_every_page() {
        let host = FakeHost::new();
        host.set_page_cap(2);
        for (id, site) in [
            ("a", "12"),
            ("b", "7"),
            ("c", "12"),
            ("d", "12"),
            ("e", "12"),
        ] {
            host.add_resource(Resource {
                attributes: format!(r#"{{"site":"{site}"}}"#),
                ..resource("vps", id)
            });
        }
        let site_12 = ResourceQuery {
            attribute: Some(("site".into(), "12".into())),
            ..resources_of("vps")
        };
        let ids: Vec<String> = all_resources(&host, &site_12)
            .expect("listed")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["a", "c", "d", "e"]);
    }

    #[test]
    fn a_failing_page_fails_the_whole_cursor_walk() {
        let host = FakeHost::new();
        host.set_page_cap(2);
        for i in 0..5 {
            host.add_resource(resource("vps", &format!("v{i}")));
            host.put_document("c", &format!("k{i}"), "{}", None)
                .expect("put");
        }
        host.fail_later(Import::ResourcesList, 1, 1, HostError::Unavailable);
        assert!(matches!(
            all_resources(&host, &resources_of("vps")),
            Err(HostError::Unavailable)
        ));
        host.fail_later(Import::DocumentsList, 2, 1, HostError::Unavailable);
        assert!(matches!(
            all_documents(&host, "c"),
            Err(HostError::Unavailable)
        ));
        assert_eq!(all_documents(&host, "c").expect("healed").len(), 5);
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

        host.fail_next(Import::BackupsList, 1, HostError::Unavailable);
        assert!(matches!(
            all_backups(&host, &backups_of("vol", None, false)),
            Err(HostError::Unavailable)
        ));
    }
}
