//! `GET /api/v2/vps`: the caller's VPSes in HostUp's canonical inventory shape, with cursor
//! paging and the `name` / `primaryIp` filters. Filters are applied while paging through the
//! host's resource list (`primaryIp` by the host's attribute filter), so a page is full
//! whenever enough VPSes match.

use backup_gateway_sdk::{
    Host, HostError, Request, paging,
    resources::{Query as ResourceQuery, Resource},
};
use serde_json::{Map, Value, json};

use crate::cursor;
use crate::problem::ApiError;
use crate::store::{self, VPS_KIND};

/// VPSes per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 20;
/// Largest `limit`.
const MAX_LIMIT: u32 = 100;
/// The one `include` value HostUp documents.
const PENDING_MAINTENANCE: &str = "pendingMaintenance";
/// The attribute holding a VPS's primary IP (a string).
const PRIMARY_IP: &str = "primaryIp";

/// A resource's attributes as a JSON object (empty when they are not one).
pub fn attributes(resource: &Resource) -> Map<String, Value> {
    match serde_json::from_str(&resource.attributes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The canonical inventory shape of a VPS. Fields the operator did not declare are `null`.
pub fn canonical(vps: &Resource, include_maintenance: bool) -> Value {
    let attrs = attributes(vps);
    let attr = |name: &str| attrs.get(name).cloned().unwrap_or(Value::Null);
    let mut doc = json!({
        "id": vps.id,
        "name": vps.name,
        "primaryIp": attr(PRIMARY_IP),
        "serviceStatus": vps.state,
        "powerState": attr("powerState"),
        "operatingSystem": attr("operatingSystem"),
        "billing": attr("billing"),
        "resources": attr("resources"),
    });
    if include_maintenance {
        doc["pendingMaintenance"] = attr("pendingMaintenance");
        doc["pendingMaintenanceHasDeadline"] = attrs
            .get("pendingMaintenanceHasDeadline")
            .and_then(Value::as_bool)
            .map_or(Value::Bool(false), Value::Bool);
    }
    doc
}

/// The query of a listing, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// VPSes per page.
    pub limit: u32,
    /// Resume after this VPS id.
    pub after: Option<String>,
    /// Only VPSes with this name (case-insensitive).
    pub name: Option<String>,
    /// Only VPSes with this primary IP (exact).
    pub primary_ip: Option<String>,
    /// Add the pending-maintenance fields.
    pub include_maintenance: bool,
}

impl ListQuery {
    /// Read and validate the query string: `limit` must be an integer from 1 to 100,
    /// `cursor` a cursor this API issued and every `include` the one documented value.
    pub fn parse(req: &Request) -> Result<ListQuery, ApiError> {
        let limit = match req.query("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        "/limit",
                        "`limit` must be an integer between 1 and 100.",
                    )
                })?,
        };
        let after = match req.query("cursor") {
            None => None,
            Some(text) => Some(cursor::decode(text).ok_or_else(|| {
                ApiError::invalid_param(
                    "/cursor",
                    "`cursor` must be a `nextCursor` value returned by this endpoint.",
                )
            })?),
        };
        Ok(ListQuery {
            limit,
            after,
            name: req.query("name").map(str::to_string),
            primary_ip: req.query("primaryIp").map(str::to_string),
            include_maintenance: includes(req)?,
        })
    }

    /// Whether a VPS passes the filters.
    fn matches(&self, vps: &Resource) -> bool {
        let name_ok = self
            .name
            .as_ref()
            .is_none_or(|n| n.to_lowercase() == vps.name.to_lowercase());
        let ip_ok = self.primary_ip.as_ref().is_none_or(|ip| {
            attributes(vps).get(PRIMARY_IP).and_then(Value::as_str) == Some(ip.as_str())
        });
        name_ok && ip_ok
    }
}

/// Whether `include=pendingMaintenance` was asked for. `include` is an enum of one value (it
/// may be repeated); any other value is a 400 pointing at it (`/include/<index>`), as for
/// the other parameters, rather than a silently ignored typo.
fn includes(req: &Request) -> Result<bool, ApiError> {
    let mut wanted = false;
    for (index, value) in req.query_all("include").enumerate() {
        if value != PENDING_MAINTENANCE {
            return Err(ApiError::invalid_param(
                &format!("/include/{index}"),
                "`include` must be `pendingMaintenance`.",
            ));
        }
        wanted = true;
    }
    Ok(wanted)
}

/// `GET /api/v2/vps` → `{data, nextCursor}`.
pub fn list_vps(store: &impl Host, req: &Request) -> Result<Value, ApiError> {
    let query = ListQuery::parse(req)?;
    let (page, more) = matching_page(store, &query)
        .map_err(|e| ApiError::from_host(&store::logged(store, "listing VPSes", e)))?;
    let next = match (more, page.last()) {
        (true, Some(last)) => Value::String(cursor::encode(&last.id)),
        _ => Value::Null,
    };
    let data: Vec<Value> = page
        .iter()
        .map(|v| canonical(v, query.include_maintenance))
        .collect();
    Ok(json!({ "data": data, "nextCursor": next }))
}

/// Up to `limit` matching VPSes after the cursor, and whether another match follows (found by
/// looking for one more, so `nextCursor` never leads to an empty page). The host filters by
/// `primaryIp` (a string attribute); the name filter, and the IP again, are checked here.
fn matching_page(store: &impl Host, query: &ListQuery) -> Result<(Vec<Resource>, bool), HostError> {
    let wanted = query.limit as usize + 1;
    let mut found: Vec<Resource> = Vec::new();
    let resources = ResourceQuery {
        after: query.after.clone(),
        attribute: query
            .primary_ip
            .as_ref()
            .map(|ip| (PRIMARY_IP.to_string(), ip.clone())),
        ..paging::resources_of(VPS_KIND)
    };
    // Only an empty page ends the scan: the host may serve fewer than asked.
    paging::walk_resources(store, &resources, |vps| {
        if vps.kind == VPS_KIND && query.matches(&vps) {
            found.push(vps);
        }
        found.len() < wanted
    })?;
    let more = found.len() == wanted;
    found.truncate(query.limit as usize);
    Ok((found, more))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{VPS, request, vps, vps_with};
    use backup_gateway_sdk::testing::FakeHost;
    use backup_gateway_sdk::testing::Import;

    fn list_request(query: &[(&str, &str)]) -> Request {
        let mut r = request("listVps", &[], "/api/v2/vps");
        r.query = query
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        r
    }

    /// `count` VPSes `vps_000`, `vps_001`, …
    fn fleet(count: usize) -> Vec<Resource> {
        (0..count).map(|i| vps(&format!("vps_{i:03}"))).collect()
    }

    fn ids(body: &Value) -> Vec<String> {
        body["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn canonical_shape_from_the_resource() {
        let resource = vps_with(
            VPS,
            json!({
                "primaryIp": "192.0.2.10",
                "powerState": "running",
                "operatingSystem": { "displayName": "Debian 12", "family": "debian", "version": "12", "variant": null },
                "billing": { "amount": 99, "currencyCode": "SEK", "billingCycle": "monthly", "isPayg": false, "periodYears": null },
                "resources": { "cpuCores": 2, "memoryGb": 4, "storageGb": 80 },
                "backupQuota": 5,
            }),
        );
        assert_eq!(
            canonical(&resource, false),
            json!({
                "id": VPS,
                "name": format!("name-of-{VPS}"),
                "primaryIp": "192.0.2.10",
                "serviceStatus": "active",
                "powerState": "running",
                "operatingSystem": { "displayName": "Debian 12", "family": "debian", "version": "12", "variant": null },
                "billing": { "amount": 99, "currencyCode": "SEK", "billingCycle": "monthly", "isPayg": false, "periodYears": null },
                "resources": { "cpuCores": 2, "memoryGb": 4, "storageGb": 80 },
            })
        );
        let bare = canonical(&vps("vps_x"), true);
        assert_eq!(bare["primaryIp"], Value::Null);
        assert_eq!(bare["powerState"], Value::Null);
        assert_eq!(bare["operatingSystem"], Value::Null);
        assert_eq!(bare["billing"], Value::Null);
        assert_eq!(bare["resources"], Value::Null);
        assert_eq!(bare["pendingMaintenance"], Value::Null);
        assert_eq!(bare["pendingMaintenanceHasDeadline"], false);
    }

    #[test]
    fn default_page_and_cursor_walk() {
        let store = FakeHost::with_resources(fleet(45));
        let first = list_vps(&store, &list_request(&[])).expect("page");
        assert_eq!(ids(&first).len(), 20);
        assert_eq!(ids(&first)[0], "vps_000");
        let cursor = first["nextCursor"].as_str().expect("cursor").to_string();
        assert_eq!(crate::cursor::decode(&cursor).as_deref(), Some("vps_019"));

        let second = list_vps(&store, &list_request(&[("cursor", &cursor)])).expect("page");
        assert_eq!(ids(&second)[0], "vps_020");
        let cursor = second["nextCursor"].as_str().expect("cursor").to_string();
        let third = list_vps(&store, &list_request(&[("cursor", &cursor)])).expect("page");
        assert_eq!(ids(&third).len(), 5);
        assert_eq!(third["nextCursor"], Value::Null);
    }

    #[test]
    fn an_exactly_full_last_page_has_no_cursor() {
        let store = FakeHost::with_resources(fleet(10));
        let body = list_vps(&store, &list_request(&[("limit", "10")])).expect("page");
        assert_eq!(ids(&body).len(), 10);
        assert_eq!(body["nextCursor"], Value::Null);
        let empty = FakeHost::with_resources(Vec::new());
        assert_eq!(
            list_vps(&empty, &list_request(&[])).expect("page"),
            json!({ "data": [], "nextCursor": null })
        );
    }

    #[test]
    fn filters_apply_across_host_pages() {
        let mut resources = fleet(250);
        for (i, r) in resources.iter_mut().enumerate() {
            if i % 50 == 7 {
                r.name = "Web-Frontend".into();
                r.attributes = json!({ "primaryIp": format!("192.0.2.{i}") }).to_string();
            }
        }
        let store = FakeHost::with_resources(resources);
        store.set_page_cap(40);
        let body = list_vps(
            &store,
            &list_request(&[("name", "web-frontend"), ("limit", "2")]),
        )
        .expect("page");
        assert_eq!(ids(&body), ["vps_007", "vps_057"]);
        let cursor = body["nextCursor"].as_str().expect("cursor").to_string();
        let rest = list_vps(
            &store,
            &list_request(&[("name", "WEB-FRONTEND"), ("cursor", &cursor)]),
        )
        .expect("page");
        assert_eq!(ids(&rest), ["vps_107", "vps_157", "vps_207"]);
        assert_eq!(rest["nextCursor"], Value::Null);

        let by_ip = list_vps(&store, &list_request(&[("primaryIp", "192.0.2.157")])).expect("page");
        assert_eq!(ids(&by_ip), ["vps_157"]);
        let no_ip = list_vps(&store, &list_request(&[("primaryIp", "192.0.2.15")])).expect("page");
        assert_eq!(ids(&no_ip), Vec::<String>::new());
        // The scan went on past short host pages (40 of the 100 asked each time).
        assert!(store.calls(Import::ResourcesList) >= 7);
    }

    #[test]
    fn other_kinds_do_not_leak() {
        let mut volume = vps("vps_001");
        volume.kind = "volume".into();
        let store = FakeHost::with_resources(vec![vps("vps_000"), volume]);
        let body = list_vps(&store, &list_request(&[])).expect("page");
        assert_eq!(ids(&body), ["vps_000"]);
    }

    #[test]
    fn include_pending_maintenance() {
        let store = FakeHost::with_resources(vec![vps_with(
            VPS,
            json!({ "pendingMaintenance": { "startsAt": "2026-05-01T00:00:00Z" }, "pendingMaintenanceHasDeadline": true }),
        )]);
        let plain = list_vps(&store, &list_request(&[])).expect("page");
        assert!(plain["data"][0].get("pendingMaintenance").is_none());
        let with = list_vps(
            &store,
            &list_request(&[
                ("include", "pendingMaintenance"),
                ("include", "pendingMaintenance"),
            ]),
        )
        .expect("page");
        assert_eq!(
            with["data"][0]["pendingMaintenance"],
            json!({ "startsAt": "2026-05-01T00:00:00Z" })
        );
        assert_eq!(with["data"][0]["pendingMaintenanceHasDeadline"], true);
    }

    #[test]
    fn include_is_an_enum() {
        let store = FakeHost::with_resources(fleet(1));
        for (pairs, pointer) in [
            (&[("include", "other")][..], "/include/0"),
            (&[("include", "")][..], "/include/0"),
            (&[("include", "pendingmaintenance")][..], "/include/0"),
            (
                &[("include", "pendingMaintenance"), ("include", "other")][..],
                "/include/1",
            ),
        ] {
            let error = list_vps(&store, &list_request(pairs)).expect_err("refused");
            assert_eq!((error.status, error.code), (400, "invalid_request"));
            let errors = error.errors.expect("errors");
            assert_eq!(
                (errors.len(), errors[0].pointer.as_str()),
                (1, pointer),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn bad_limits_and_cursors_name_their_pointer() {
        let store = FakeHost::with_resources(fleet(3));
        for limit in ["0", "101", "-1", "abc", "", "1.5", " 5", "99999999999"] {
            let error = list_vps(&store, &list_request(&[("limit", limit)])).expect_err(limit);
            assert_eq!(error.status, 400);
            assert_eq!(error.code, "invalid_request");
            let errors = error.errors.expect("errors");
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].pointer, "/limit");
        }
        for limit in ["1", "100"] {
            assert!(list_vps(&store, &list_request(&[("limit", limit)])).is_ok());
        }
        for cursor in ["", "%%%", "YWI=", "-__-"] {
            let error = list_vps(&store, &list_request(&[("cursor", cursor)])).expect_err(cursor);
            let errors = error.errors.expect("errors");
            assert_eq!(errors[0].pointer, "/cursor", "{cursor}");
        }
    }
}
