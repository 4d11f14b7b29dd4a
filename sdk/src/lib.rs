//! Guest-side SDK for backup-gateway provider plugins.
//!
//! This crate owns the one `wit_bindgen::generate!` for the `backup-gateway:provider@1.1.0`
//! world, so plugins don't each repeat it, and everything a provider needs besides its own
//! routes and wording:
//!
//! - [`Provider`]: the exports, with the host passed to the handlers and defaults for the
//!   ingest pair (the provider's 404 and 500; see [`provider`]);
//! - [`Host`]: every import behind one trait; [`WasmHost`] calls the real ones. Every read
//!   that touches the database answers a `Result`: an outage is [`HostError::Unavailable`],
//!   which a provider shows as its own 503, never as "not found";
//! - [`Collection`] and [`Stored`]: typed JSON records with compare-and-swap;
//! - [`paging`]: one walk through the host's list cap;
//! - `testing::FakeHost` (feature `testing`): the host in memory, for native tests, held
//!   equal to the real one by a shared conformance test (feature `conformance`);
//! - request accessors and response builders ([`Request::header`], [`Response::json`], …).
//!
//! ```ignore
//! use backup_gateway_sdk::{Host, Manifest, Problem, Provider, Request, Response};
//! struct MyProvider;
//! impl Provider for MyProvider {
//!     fn manifest() -> Manifest { /* routes, auth, limits */ }
//!     fn handle(host: &impl Host, req: Request) -> Response { /* one arm per operation */ }
//!     fn render_problem(problem: Problem, req: &Request) -> Response { /* your error format */ }
//! }
//! backup_gateway_sdk::export_provider!(MyProvider);
//! ```
//!
//! In a native test the same handler runs against the fake host:
//!
//! ```ignore
//! let host = backup_gateway_sdk::testing::FakeHost::new();
//! let resp = MyProvider::handle(&host, backup_gateway_sdk::testing::request("greet", "/", &[]));
//! ```

pub mod bindings {
    //! Generated bindings of the provider world (do not edit; see `wit/`).
    wit_bindgen::generate!({
        world: "provider",
        path: "../wit/provider@1.1.0",
        // `Method` is a variant since 1.1 (no longer an enum with these derived).
        additional_derives: [PartialEq, Eq],
        pub_export_macro: true,
        export_macro_name: "export_provider",
        default_bindings_module: "backup_gateway_sdk::bindings",
        generate_all,
    });
}

#[cfg(feature = "conformance")]
pub mod conformance;
mod host;
mod http;
pub mod paging;
pub mod provider;
mod records;
#[cfg(feature = "testing")]
pub mod testing;

pub use bindings::IngestPlan;
pub use bindings::backup_gateway::provider::types::{
    AuthFailure, AuthScheme, Body, BodyMode, ByteRange, FieldError, HostError, Manifest, Method,
    Principal, Problem, QuotaDefaults, RateKey, RateLimit, RateLimitState, Request, Response,
    Route,
};
pub use bindings::backup_gateway::provider::{
    backups, clock, documents, ids, jobs, log, resources,
};
pub use bindings::{Guest, export_provider};
pub use host::{Host, WasmHost};
pub use http::*;
pub use paging::PAGE_LIMIT;
pub use provider::Provider;
pub use records::{Collection, Stored};

/// The contract version this SDK implements; put it in `Manifest::contract`.
pub const CONTRACT_VERSION: &str = "1.1.0";
