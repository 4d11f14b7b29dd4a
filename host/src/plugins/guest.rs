//! The version-neutral call layer: a plugin's exports as the host calls them, whichever
//! contract version the component was built against. The host speaks 1.1's types; a 1.0
//! component's arguments and results are converted on the way ([`bindings::convert`]).

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use super::InstanceState;
use super::bindings::convert::Conv;
use super::bindings::{self, Contract, IngestPlan, types, v1_0};

/// One linker per contract version, each with WASI and that version's imports.
pub struct Linkers {
    v1_0: Linker<InstanceState>,
    v1_1: Linker<InstanceState>,
}

impl Linkers {
    /// Link WASI and both versions' capabilities.
    pub fn new(engine: &Engine) -> wasmtime::Result<Linkers> {
        type Own = wasmtime::component::HasSelf<InstanceState>;
        let mut v1_0 = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut v1_0)?;
        v1_0::Provider::add_to_linker::<_, Own>(&mut v1_0, |s| s)?;
        let mut v1_1 = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut v1_1)?;
        bindings::Provider::add_to_linker::<_, Own>(&mut v1_1, |s| s)?;
        Ok(Linkers { v1_0, v1_1 })
    }

    /// Pre-link `component` for `contract`.
    pub fn pre(&self, component: &Component, contract: Contract) -> wasmtime::Result<GuestPre> {
        Ok(match contract {
            Contract::V1_0 => GuestPre::V1_0(v1_0::ProviderPre::new(
                self.v1_0.instantiate_pre(component)?,
            )?),
            Contract::V1_1 => GuestPre::V1_1(bindings::ProviderPre::new(
                self.v1_1.instantiate_pre(component)?,
            )?),
        })
    }
}

/// A pre-linked component of some contract version.
pub enum GuestPre {
    /// Built against 1.0.
    V1_0(v1_0::ProviderPre<InstanceState>),
    /// Built against 1.1.
    V1_1(bindings::ProviderPre<InstanceState>),
}

impl GuestPre {
    /// A fresh instance in `store`.
    pub fn instantiate(&self, store: &mut Store<InstanceState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            GuestPre::V1_0(pre) => Guest::V1_0(pre.instantiate(store)?),
            GuestPre::V1_1(pre) => Guest::V1_1(pre.instantiate(store)?),
        })
    }

    /// The contract version.
    pub fn contract(&self) -> Contract {
        match self {
            GuestPre::V1_0(_) => Contract::V1_0,
            GuestPre::V1_1(_) => Contract::V1_1,
        }
    }
}

/// An instance of a plugin, its exports in the host's (1.1) types.
pub enum Guest {
    /// Built against 1.0.
    V1_0(v1_0::Provider),
    /// Built against 1.1.
    V1_1(bindings::Provider),
}

impl Guest {
    /// `manifest()`.
    pub fn call_manifest(&self, s: &mut Store<InstanceState>) -> wasmtime::Result<types::Manifest> {
        match self {
            Guest::V1_0(p) => p.call_manifest(s).map(Conv::conv),
            Guest::V1_1(p) => p.call_manifest(s),
        }
    }

    /// `handle(req)`.
    pub fn call_handle(
        &self,
        s: &mut Store<InstanceState>,
        req: &types::Request,
    ) -> wasmtime::Result<types::Response> {
        match self {
            Guest::V1_0(p) => p.call_handle(s, &req.clone().conv()).map(Conv::conv),
            Guest::V1_1(p) => p.call_handle(s, req),
        }
    }

    /// `prepare-ingest(req, backup-id)`.
    pub fn call_prepare_ingest(
        &self,
        s: &mut Store<InstanceState>,
        req: &types::Request,
        backup_id: &str,
    ) -> wasmtime::Result<Result<IngestPlan, types::Response>> {
        match self {
            Guest::V1_0(p) => p
                .call_prepare_ingest(s, &req.clone().conv(), backup_id)
                .map(Conv::conv),
            Guest::V1_1(p) => p.call_prepare_ingest(s, req, backup_id),
        }
    }

    /// `complete-ingest(req, stored)`.
    pub fn call_complete_ingest(
        &self,
        s: &mut Store<InstanceState>,
        req: &types::Request,
        stored: &bindings::backups::Backup,
    ) -> wasmtime::Result<types::Response> {
        match self {
            Guest::V1_0(p) => p
                .call_complete_ingest(s, &req.clone().conv(), &stored.clone().conv())
                .map(Conv::conv),
            Guest::V1_1(p) => p.call_complete_ingest(s, req, stored),
        }
    }

    /// `render-problem(problem, req)`.
    pub fn call_render_problem(
        &self,
        s: &mut Store<InstanceState>,
        problem: &types::Problem,
        req: &types::Request,
    ) -> wasmtime::Result<types::Response> {
        match self {
            Guest::V1_0(p) => p
                .call_render_problem(s, &problem.clone().conv(), &req.clone().conv())
                .map(Conv::conv),
            Guest::V1_1(p) => p.call_render_problem(s, problem, req),
        }
    }
}

/// The contract version a component imports, from its import names
/// (`backup-gateway:provider/{interface}@{version}`): one served version, or why not.
pub fn contract_of<'a>(imports: impl IntoIterator<Item = &'a str>) -> Result<Contract, String> {
    let mut found: Option<Contract> = None;
    for name in imports {
        let Some(rest) = name.strip_prefix(super::CONTRACT_PACKAGE) else {
            continue;
        };
        let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
        let contract = Contract::parse(version).ok_or_else(|| {
            format!("imports {name:?}: contract version {version:?} is not one this host serves (it serves {})", served())
        })?;
        match found {
            Some(c) if c != contract => {
                return Err(format!(
                    "imports both contract {} and {}",
                    c.as_str(),
                    contract.as_str()
                ));
            }
            _ => found = Some(contract),
        }
    }
    found.ok_or_else(|| {
        format!(
            "imports nothing of the contract (backup-gateway:provider, {})",
            served()
        )
    })
}

fn served() -> String {
    Contract::ALL.map(Contract::as_str).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_the_imports() {
        let v10 = [
            "wasi:io/streams@0.2.0",
            "backup-gateway:provider/types@1.0.0",
        ];
        assert_eq!(contract_of(v10), Ok(Contract::V1_0));
        let v11 = [
            "backup-gateway:provider/types@1.1.0",
            "backup-gateway:provider/jobs@1.1.0",
        ];
        assert_eq!(contract_of(v11), Ok(Contract::V1_1));
        let mixed = [
            "backup-gateway:provider/types@1.1.0",
            "backup-gateway:provider/jobs@1.0.0",
        ];
        assert!(
            contract_of(mixed)
                .unwrap_err()
                .contains("both contract 1.1.0 and 1.0.0")
        );
        let future = ["backup-gateway:provider/types@2.0.0"];
        let e = contract_of(future).unwrap_err();
        assert!(e.contains("\"2.0.0\"") && e.contains("1.0.0, 1.1.0"), "{e}");
        assert!(
            contract_of(["wasi:io/streams@0.2.0"])
                .unwrap_err()
                .contains("nothing")
        );
        assert_eq!(
            contract_of(["backup-gateway:provider/types@1.1.3"]),
            Ok(Contract::V1_1)
        );
    }
}
