//! Guest-side SDK for backup-gateway provider plugins.
//!
//! This crate owns the one `wit_bindgen::generate!` for the `backup-gateway:provider@1.0.0`
//! world, so plugins don't each repeat it, and adds a few helpers that every provider needs:
//! reading headers, parameters and query strings, and building JSON responses.
//!
//! A plugin implements [`Guest`] and exports it:
//!
//! ```ignore
//! use backup_gateway_sdk::{Guest, Manifest, Request, Response, Problem};
//! struct MyProvider;
//! impl Guest for MyProvider { /* manifest, handle, prepare_ingest, complete_ingest, render_problem */ }
//! backup_gateway_sdk::export_provider!(MyProvider);
//! ```

pub mod bindings {
    //! Generated bindings of the provider world (do not edit; see `wit/`).
    wit_bindgen::generate!({
        world: "provider",
        path: "../wit/provider@1.0.0",
        pub_export_macro: true,
        export_macro_name: "export_provider",
        default_bindings_module: "backup_gateway_sdk::bindings",
        generate_all,
    });
}

mod http;

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
pub use http::*;

/// The contract version this SDK implements; put it in `Manifest::contract`.
pub const CONTRACT_VERSION: &str = "1.0.0";
