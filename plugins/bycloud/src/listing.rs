//! `GET /v1/backups` conventions: the query (`limit`, `marker`, `name`, `status`,
//! `volume_id`), filtering, marker paging and the `meta` and `links` objects.
//!
//! - Order: newest first (`created_at` descending), ties by `id` descending: a total order
//!   that does not change while backups are created, so markers stay meaningful.
//! - `limit`: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]; larger values are clamped (as
//!   Cinder's `osapi_max_limit` does), 0, negatives and non-integers are 400s.
//! - `marker`: the id of the last item of the previous page; the page starts after it in
//!   the order above. It must name an existing backup (any status, whether or not it matches
//!   the filters: a backup that changed status between pages is still a valid marker), else
//!   400, as in Cinder.
//! - `name`: exact match, or a prefix match when it ends with `*` (`*` alone matches every
//!   named backup).
//! - `status`: one of the status names, case-insensitive; an unknown status matches nothing,
//!   an empty one is no filter.
//! - `volume_id`: a UUID (else 400, an empty value included, as for `marker`).
//! - `links` are paths with a query (`/v1/backups?limit=2&marker=…`), relative to the API
//!   base, because the gateway cannot know the scheme and host its clients use. `self` is
//!   this page; `next` is set when `has_more`; `previous` is set on every page after the
//!   first (without `marker` when the previous page is the first).

use backup_gateway_sdk::Request;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::record::{Entry, Status};
use crate::validate;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page.
pub const MAX_LIMIT: usize = 1000;
/// The collection path links point at.
pub const BASE_PATH: &str = "/v1/backups";

/// The `name` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameFilter {
    /// Exactly this name.
    Exact(String),
    /// Names starting with this.
    Prefix(String),
}

impl NameFilter {
    /// The filter a `name` parameter means.
    pub fn parse(text: &str) -> NameFilter {
        match text.strip_suffix('*') {
            Some(prefix) => NameFilter::Prefix(prefix.to_string()),
            None => NameFilter::Exact(text.to_string()),
        }
    }

    /// Whether a backup's name passes.
    pub fn matches(&self, name: Option<&str>) -> bool {
        match (self, name) {
            (_, None) => false,
            (NameFilter::Exact(want), Some(name)) => name == want,
            (NameFilter::Prefix(prefix), Some(name)) => name.starts_with(prefix.as_str()),
        }
    }
}

/// The `status` filter: a known status, or a name that matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusFilter {
    /// This status.
    Is(Status),
    /// Not a status name.
    Unknown,
}

/// The validated list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Page size.
    pub limit: usize,
    /// Id of the last item of the previous page.
    pub marker: Option<String>,
    /// `name` filter.
    pub name: Option<NameFilter>,
    /// `status` filter.
    pub status: Option<StatusFilter>,
    /// `volume_id` filter (lower-case).
    pub volume_id: Option<String>,
    /// The filters as received (for links): `name`, `status`, `volume_id`.
    raw_filters: Vec<(&'static str, String)>,
}

impl ListQuery {
    /// Parse the query string of `req`.
    pub fn parse(req: &Request) -> Result<ListQuery, ApiError> {
        let mut problems = Vec::new();
        let limit = match req.query("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => match text.trim().parse::<u64>() {
                Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
                _ => {
                    problems.push("Field 'limit' must be a positive integer".to_string());
                    DEFAULT_LIMIT
                }
            },
        };
        let marker = match req.query("marker") {
            None => None,
            Some(m) => {
                let id = validate::uuid(m);
                if id.is_none() {
                    problems.push("Field 'marker' must be a UUID".to_string());
                }
                id
            }
        };
        let volume_id = match req.query("volume_id") {
            None => None,
            Some(v) => {
                let id = validate::uuid(v);
                if id.is_none() {
                    problems.push("Field 'volume_id' must be a UUID".to_string());
                }
                id
            }
        };
        if !problems.is_empty() {
            return Err(ApiError::bad_request(problems.join("; ")));
        }
        let name = req.query("name").map(NameFilter::parse);
        let status = req
            .query("status")
            .filter(|s| !s.is_empty())
            .map(|s| Status::parse(s).map_or(StatusFilter::Unknown, StatusFilter::Is));
        let raw_filters = ["name", "status", "volume_id"]
            .into_iter()
            .filter_map(|k| req.query(k).map(|v| (k, v.to_string())))
            .collect();
        Ok(ListQuery {
            limit,
            marker,
            name,
            status,
            volume_id,
            raw_filters,
        })
    }

    /// Whether an entry passes every filter.
    pub fn matches(&self, entry: &Entry) -> bool {
        let f = entry.fields();
        self.name
            .as_ref()
            .is_none_or(|n| n.matches(f.name.as_deref()))
            && self.status.as_ref().is_none_or(|s| match s {
                StatusFilter::Is(status) => entry.status == *status,
                StatusFilter::Unknown => false,
            })
            && self.volume_id.as_ref().is_none_or(|v| *v == f.volume_id)
    }

    /// A link to the page after `marker` (none: the first page), with the same filters.
    fn link(&self, marker: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        let limit = self.limit.to_string();
        pairs.push(("limit", &limit));
        if let Some(m) = marker {
            pairs.push(("marker", m));
        }
        for (k, v) in &self.raw_filters {
            pairs.push((k, v));
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        format!("{BASE_PATH}?{}", query.join("&"))
    }
}

/// Percent-encode a query value (everything but RFC 3986 unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sort entries into list order (newest first, then id descending).
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| b.sort_key().cmp(&a.sort_key()));
}

/// One page of a filtered list.
#[derive(Debug)]
pub struct Page<'a> {
    /// The items, in order.
    pub items: Vec<&'a Entry>,
    /// `meta` and `links`.
    pub meta: Value,
    /// `links`.
    pub links: Value,
}

/// The page `query` asks for, out of `all` (every entry, sorted by [`sort`]); 400 for an
/// unknown marker.
pub fn page<'a>(query: &ListQuery, all: &'a [Entry]) -> Result<Page<'a>, ApiError> {
    let matching: Vec<&Entry> = all.iter().filter(|e| query.matches(e)).collect();
    let start = match &query.marker {
        None => 0,
        Some(marker) => {
            let key = all
                .iter()
                .find(|e| e.id() == marker)
                .map(Entry::sort_key)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("Marker '{marker}' could not be found."))
                })?;
            // The first matching entry after the marker in list order.
            matching.partition_point(|e| e.sort_key() >= key)
        }
    };
    let end = start.saturating_add(query.limit).min(matching.len());
    let items: Vec<&Entry> = matching[start..end].to_vec();
    let has_more = end < matching.len();
    let next = has_more
        .then(|| items.last().map(|e| query.link(Some(e.id()))))
        .flatten();
    let previous = query.marker.as_ref().map(|_| {
        let previous_start = start.saturating_sub(query.limit);
        match previous_start.checked_sub(1) {
            None => query.link(None),
            Some(before) => query.link(Some(matching[before].id())),
        }
    });
    let meta = json!({
        "total": matching.len(),
        "limit": query.limit,
        "marker": query.marker,
        "has_more": has_more,
    });
    let links = json!({
        "self": query.link(query.marker.as_deref()),
        "next": next,
        "previous": previous,
    });
    Ok(Page { items, meta, links })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{T0, record, request};

    const VOL_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const VOL_B: &str = "bbbbbbbb-0000-4000-8000-000000000002";

    /// Backup number `n` (ids sort like `n`), created `n` seconds after T0.
    fn entry(n: u64, volume: &str, name: Option<&str>, status: Status) -> Entry {
        let mut r = record(&id(n), volume, T0 + n * 1_000_000);
        r.fields.name = name.map(str::to_string);
        Entry {
            stored: crate::record::stored(r, 1),
            status,
            backup: None,
            fail_reason: None,
            updated_at: T0,
        }
    }

    fn id(n: u64) -> String {
        format!("00000000-0000-4000-8000-{n:012x}")
    }

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        let mut r = request("listBackups", "/v1/backups");
        r.query = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        ListQuery::parse(&r)
    }

    fn ids(page: &Page<'_>) -> Vec<String> {
        page.items.iter().map(|e| e.id().to_string()).collect()
    }

    /// Seven backups: 1-4 of volume A named nightly-1..4, 5-6 of volume B named weekly, 7
    /// unnamed; 3 in error and 6 creating.
    fn sample() -> Vec<Entry> {
        let mut all: Vec<Entry> = (1..=7)
            .map(|n| {
                let volume = if n <= 4 { VOL_A } else { VOL_B };
                let name = match n {
                    1..=4 => Some(format!("nightly-{n}")),
                    5 | 6 => Some("weekly".to_string()),
                    _ => None,
                };
                let status = match n {
                    3 => Status::Error,
                    6 => Status::Creating,
                    _ => Status::Available,
                };
                entry(n, volume, name.as_deref(), status)
            })
            .collect();
        sort(&mut all);
        all
    }

    #[test]
    fn query_defaults_and_limits() {
        let q = query(&[]).expect("valid");
        assert_eq!(
            (q.limit, q.marker.clone(), q.name.clone()),
            (20, None, None)
        );
        assert_eq!(query(&[("limit", "5000")]).expect("clamped").limit, 1000);
        assert_eq!(query(&[("limit", " 3 ")]).expect("trimmed").limit, 3);
        for bad in ["0", "-1", "abc", "1.5", ""] {
            let e = query(&[("limit", bad)]).expect_err(bad);
            assert_eq!(e.status, 400);
            assert_eq!(e.details, "Field 'limit' must be a positive integer");
        }
        let e = query(&[("marker", "m"), ("volume_id", "v")]).expect_err("both");
        assert_eq!(
            e.details,
            "Field 'marker' must be a UUID; Field 'volume_id' must be a UUID"
        );
        // An empty marker or volume_id is not a UUID; an empty status is no filter.
        let e = query(&[("marker", ""), ("volume_id", "")]).expect_err("empty");
        assert_eq!(
            e.details,
            "Field 'marker' must be a UUID; Field 'volume_id' must be a UUID"
        );
        let q = query(&[("status", "")]).expect("empty status");
        assert_eq!(q.status, None);
        let q = query(&[("volume_id", &VOL_A.to_uppercase())]).expect("valid");
        assert_eq!(q.volume_id.as_deref(), Some(VOL_A));
    }

    #[test]
    fn name_filters() {
        assert_eq!(NameFilter::parse("a*"), NameFilter::Prefix("a".into()));
        assert_eq!(NameFilter::parse("a"), NameFilter::Exact("a".into()));
        assert!(NameFilter::parse("night*").matches(Some("nightly-1")));
        assert!(!NameFilter::parse("night*").matches(Some("Nightly")));
        assert!(NameFilter::parse("*").matches(Some("")));
        assert!(!NameFilter::parse("*").matches(None));
        assert!(!NameFilter::parse("nightly").matches(Some("nightly-1")));
        assert!(NameFilter::parse("nightly-1").matches(Some("nightly-1")));
        assert!(!NameFilter::parse("").matches(Some("x")));
    }

    #[test]
    fn filters_combine() {
        let all = sample();
        let run = |pairs: &[(&str, &str)]| {
            let q = query(pairs).expect("valid");
            ids(&page(&q, &all).expect("page"))
        };
        assert_eq!(run(&[]), [7, 6, 5, 4, 3, 2, 1].map(id));
        assert_eq!(run(&[("name", "nightly*")]), [4, 3, 2, 1].map(id));
        assert_eq!(run(&[("name", "weekly")]), [6, 5].map(id));
        assert_eq!(run(&[("status", "available")]), [7, 5, 4, 2, 1].map(id));
        assert_eq!(run(&[("status", "ERROR")]), [3].map(id));
        assert!(run(&[("status", "ACTIVE")]).is_empty());
        assert_eq!(run(&[("volume_id", VOL_B)]), [7, 6, 5].map(id));
        assert_eq!(
            run(&[
                ("volume_id", VOL_A),
                ("status", "available"),
                ("name", "nightly*")
            ]),
            [4, 2, 1].map(id)
        );
    }

    #[test]
    fn ties_in_time_are_ordered_by_id() {
        let mut all = vec![
            entry(1, VOL_A, None, Status::Available),
            entry(2, VOL_A, None, Status::Available),
            entry(3, VOL_A, None, Status::Available),
        ];
        for e in &mut all {
            e.stored.record.fields.created_at = T0;
        }
        sort(&mut all);
        let q = query(&[("limit", "2")]).expect("valid");
        let first = page(&q, &all).expect("page");
        assert_eq!(ids(&first), [3, 2].map(id));
        let q = query(&[("limit", "2"), ("marker", &id(2))]).expect("valid");
        assert_eq!(ids(&page(&q, &all).expect("page")), [1].map(id));
    }

    #[test]
    fn marker_paging_with_links() {
        let all = sample();
        let q = query(&[("limit", "2"), ("name", "nightly*")]).expect("valid");
        let p1 = page(&q, &all).expect("page");
        assert_eq!(ids(&p1), [4, 3].map(id));
        assert_eq!(
            p1.meta,
            json!({ "total": 4, "limit": 2, "marker": null, "has_more": true })
        );
        let next = format!("/v1/backups?limit=2&marker={}&name=nightly%2A", id(3));
        assert_eq!(
            p1.links,
            json!({
                "self": "/v1/backups?limit=2&name=nightly%2A",
                "next": next,
                "previous": null,
            })
        );

        let q = query(&[("limit", "2"), ("name", "nightly*"), ("marker", &id(3))]).expect("ok");
        let p2 = page(&q, &all).expect("page");
        assert_eq!(ids(&p2), [2, 1].map(id));
        assert_eq!(
            p2.meta,
            json!({ "total": 4, "limit": 2, "marker": id(3), "has_more": false })
        );
        assert_eq!(p2.links["self"], next);
        assert_eq!(p2.links["next"], Value::Null);
        assert_eq!(p2.links["previous"], "/v1/backups?limit=2&name=nightly%2A");

        // Three pages of one: the last page's previous link names the first item.
        let q = query(&[("limit", "1"), ("volume_id", VOL_B), ("marker", &id(6))]).expect("ok");
        let p = page(&q, &all).expect("page");
        assert_eq!(ids(&p), [5].map(id));
        assert_eq!(
            p.links["previous"],
            format!("/v1/backups?limit=1&marker={}&volume_id={VOL_B}", id(7))
        );
        assert_eq!(p.meta["has_more"], false);
    }

    #[test]
    fn a_marker_outside_the_filter_still_positions_the_page() {
        let all = sample();
        // 6 is creating, so not in status=available, but pages after it all the same.
        let q = query(&[("status", "available"), ("marker", &id(6))]).expect("ok");
        assert_eq!(ids(&page(&q, &all).expect("page")), [5, 4, 2, 1].map(id));
        let q = query(&[("marker", &id(99))]).expect("ok");
        let e = page(&q, &all).expect_err("unknown marker");
        assert_eq!(e.status, 400);
        assert_eq!(
            e.details,
            format!("Marker '{}' could not be found.", id(99))
        );
        // After the last item: an empty page.
        let q = query(&[("marker", &id(1))]).expect("ok");
        let p = page(&q, &all).expect("page");
        assert!(p.items.is_empty());
        assert_eq!(p.meta["total"], 7);
        assert_eq!(p.meta["has_more"], false);
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("a b/c*ü"), "a%20b%2Fc%2A%C3%BC");
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
    }
}
