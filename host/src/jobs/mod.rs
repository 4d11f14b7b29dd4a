//! The job store and the workers that run it: captures (a resource's source streamed through
//! the ingest pipeline into a new backup) and restores (a backup's bytes written back to a
//! resource's file source).
//!
//! - [`store`]: the table, leases and transitions (SQLite and PostgreSQL);
//! - [`worker`]: the pool of workers in every gateway node, running captures (`capture.rs`)
//!   and restores (`restore.rs`);
//! - [`source`]: reading sources and writing restore targets.
//!
//! A job is claimed with a lease that its worker renews while it runs; a worker that dies
//! stops renewing, and another claims the job once the lease has expired. Completion is
//! idempotent: a capture records its backup with the job id (unique), and a retried job
//! that finds its backup already committed completes with it instead of capturing again.

mod capture;
mod restore;
pub mod source;
pub mod store;
pub mod worker;

pub use store::{JobKind, JobRecord, JobStatus, NewJob};
