//! Host bindings of the contract, one `bindgen!` per version, kept in this one module.
//!
//! The current version (`provider@1.1.0`) is the host's own vocabulary: the rest of the host
//! uses the re-exports below. [`v1_0`] is the first version's bindings, which only the
//! version-neutral call layer (`plugins::guest`) and the 1.0 imports (`plugins::host::v1_0`)
//! use, through the conversions in [`convert`].

mod generated {
    pub mod v1_0 {
        wasmtime::component::bindgen!({
            world: "provider",
            path: "../wit/provider@1.0.0",
        });
    }
    pub mod v1_1 {
        wasmtime::component::bindgen!({
            world: "provider",
            path: "../wit/provider@1.1.0",
        });
    }
}

pub mod convert;

pub use generated::v1_1::backup_gateway::provider::{
    backups, clock, documents, ids, jobs, log, resources, types,
};
pub use generated::v1_1::{IngestPlan, Provider, ProviderPre};

/// The bindings of `provider@1.0.0`.
pub mod v1_0 {
    pub use super::generated::v1_0::backup_gateway::provider::{
        backups, clock, documents, ids, jobs, log, resources, types,
    };
    pub use super::generated::v1_0::{IngestPlan, Provider, ProviderPre};
}

/// A contract version this host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Contract {
    /// `provider@1.0.0`.
    V1_0,
    /// `provider@1.1.0`.
    V1_1,
}

impl Contract {
    /// Every version served, oldest first.
    pub const ALL: [Contract; 2] = [Contract::V1_0, Contract::V1_1];

    /// The version as `major.minor.patch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Contract::V1_0 => "1.0.0",
            Contract::V1_1 => "1.1.0",
        }
    }

    /// The version a manifest's `contract` (or an import's `@version`) names: its major and
    /// minor must be served, at any patch level.
    pub fn parse(version: &str) -> Option<Contract> {
        let mut it = version.split('.').map(str::parse::<u64>);
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(Ok(1)), Some(Ok(0)), Some(Ok(_)), None) => Some(Contract::V1_0),
            (Some(Ok(1)), Some(Ok(1)), Some(Ok(_)), None) => Some(Contract::V1_1),
            _ => None,
        }
    }
}
