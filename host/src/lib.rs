//! backup-gateway: a server that speaks the backup APIs of several providers through
//! WebAssembly component plugins.
//!
//! The host owns everything that must be correct and fast for every provider (HTTP, auth,
//! streaming ingest with SHA-256, quotas, rate limits, storage); a plugin owns what differs
//! between providers (routes, validation, response shapes, error format). See
//! `ARCHITECTURE.md` for the map and the invariants.
//!
//! Tests and tools build a gateway with [`gateway::build`] and get its router from
//! [`http::app`], with no socket needed.
//!
//! The core (`ingest`, `store`, `jobs`, `ratelimit`, `auth`, `keys`, `lease`, `limits`,
//! `services`, and the control plane `control`) is provider-neutral and knows nothing of
//! HTTP or plugins; `plugins` runs plugins over it, `http` (clients) and `admin`
//! (operators) are the edge, `gateway` assembles the whole (`tests/tidy.rs`).

pub mod admin;
pub mod auth;
pub mod config;
pub mod control;
pub mod demo;
pub mod gateway;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod lease;
pub mod limits;
pub mod plugins;
pub mod ratelimit;
pub mod services;
pub mod store;
