//! End-to-end tests: real HTTP against a gateway with real plugins, SQLite and local files.
//! One binary for the whole suite (one link of the host).

mod admin;
mod altostrat;
mod appliance;
mod bycloud;
mod bycloud_chain;
mod chunks;
mod contract_reads;
mod crash;
mod demo;
mod edge;
mod fidelity;
mod hello;
mod hostup;
mod jsa;
mod openapi;
mod pg_batch;
mod postgres;
mod router;
mod sandbox;
mod scaleout;
mod slow_clients;

use gateway_tests::{TestGateway, provider_plugin, test_plugin};

pub const ORG: &str = r#"
[[orgs]]
id = "acme"
[[orgs]]
id = "globex"
"#;

/// A gateway with hello-provider and the hostile plugin, and bearer tokens for both.
pub async fn hello_and_hostile() -> TestGateway {
    let extra = format!(
        r#"{ORG}
[[credentials]]
org = "acme"
plugin = "hello"
scheme = "bearer"
key = "reader"
secret = "hello-read-token"
scopes = ["hello:read"]

[[credentials]]
org = "acme"
plugin = "hello"
scheme = "bearer"
key = "writer"
secret = "hello-write-token"
scopes = ["hello:read", "hello:write"]

[[credentials]]
org = "acme"
plugin = "hostile"
scheme = "bearer"
key = "h"
secret = "hostile-token"
"#
    );
    TestGateway::start(
        &[
            provider_plugin("hello_provider"),
            test_plugin("hostile_plugin"),
        ],
        &extra,
    )
    .await
    .expect("gateway starts")
}
