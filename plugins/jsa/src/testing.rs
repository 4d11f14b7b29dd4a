//! Test support: JSA's fixtures (hosts, backup configurations, requests); the SDK's fake
//! host plays the gateway.

use backup_gateway_sdk::{Method, Principal, Request, resources::Resource};
use serde_json::Value;

use crate::hosts::{CONFIG_KIND, HOST_KIND};

pub use backup_gateway_sdk::testing::T0;

/// A host resource with attributes and a capture source.
pub fn jsa_host(id: u64, attributes: Value) -> Resource {
    Resource {
        kind: HOST_KIND.into(),
        id: id.to_string(),
        name: format!("host-{id}"),
        state: "active".into(),
        attributes: attributes.to_string(),
        has_source: true,
        created_at: T0,
    }
}

/// A backup configuration resource.
pub fn backup_config(id: u64, attributes: Value) -> Resource {
    Resource {
        kind: CONFIG_KIND.into(),
        id: id.to_string(),
        name: format!("config-{id}"),
        state: "active".into(),
        attributes: attributes.to_string(),
        has_source: false,
        created_at: T0,
    }
}

/// An authenticated GET request routed to `operation`.
pub fn request(operation: &str) -> Request {
    Request {
        operation: operation.into(),
        method: Method::Get,
        path: "/api/backup_and_restore/backups".into(),
        params: Vec::new(),
        query: Vec::new(),
        headers: vec![("version".into(), "20.0".into())],
        body: Vec::new(),
        principal: Some(Principal {
            org: "org-1".into(),
            subject: "admin".into(),
            scopes: Vec::new(),
        }),
        request_id: "req-1".into(),
        received_at: T0,
    }
}
