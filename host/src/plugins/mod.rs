//! The plugin runtime: loading components, checking what they import and declare, and calling
//! them in a fresh, sandboxed instance per request.
//!
//! - [`engine`]: the one `Engine` (pooling allocator, epoch ticker, compiled-artifact cache);
//! - [`bindings`]: the generated host bindings of each contract version, and the conversions
//!   between them;
//! - [`guest`]: the version-neutral call layer (one linker per version; a plugin's exports in
//!   the host's types, whatever version it was built against);
//! - [`manifest`]: manifest validation and route-collision checks;
//! - [`openapi`]: the plugin's OpenAPI document — its response schemas, and whether it agrees
//!   with the manifest (`check` and the harness's strict mode both use it);
//! - [`problems`]: the status each host problem is sent with, and the render-problem probes
//!   (`check` and strict mode both run them);
//! - [`host`]: the capabilities (imports) a plugin may call, scoped to the caller's org;
//! - `check`: `backup-gateway check`.
//!
//! Traps are not errors: a plugin's domain error is a response it returns; a trap, a missed
//! deadline or memory exhaustion is a [`Fault`], which the HTTP layer turns into a
//! provider-shaped 500.

pub mod bindings;
mod check;
pub mod engine;
pub mod guest;
pub mod host;
pub mod manifest;
pub mod openapi;
pub mod problems;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, Store, StoreLimitsBuilder, Trap};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::config::RuntimeConfig;
pub use host::{CallContext, InstanceState};
pub use manifest::{BodyMode, ManifestError, PluginManifest, RouteSpec};

pub use bindings::Contract;
pub use check::check;
pub use guest::Guest;
use guest::{GuestPre, Linkers};

/// WASI interfaces a plugin may import. Rust's standard library imports some of `wasi:io` and
/// `wasi:cli` even when unused; they are linked against an empty context (no environment,
/// no arguments, stdin empty, stdout discarded, stderr captured for the log). Filesystem,
/// sockets and HTTP are refused at load time, whatever a component asks for.
const ALLOWED_WASI: &[&str] = &[
    "wasi:io/",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-",
    "wasi:random/",
    "wasi:clocks/",
];
const CONTRACT_PACKAGE: &str = "backup-gateway:provider/";

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a component, or it does not compile or link. (The message names the file; the
    /// reason is the source, so a chain printed with `{:#}` says it once.)
    #[error("{path}: cannot be loaded")]
    Component {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: wasmtime::Error,
    },
    /// It imports something a plugin may not have.
    #[error(
        "{path}: imports {import:?}, which plugins are not given (no filesystem, sockets or HTTP)"
    )]
    ForbiddenImport {
        /// The file.
        path: PathBuf,
        /// The import.
        import: String,
    },
    /// It imports no contract version this host serves, or two, or its manifest names
    /// another version than it imports.
    #[error("{path}: {reason}")]
    Contract {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Its manifest call failed.
    #[error("{path}: manifest() failed: {fault}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// The fault.
        fault: Fault,
    },
    /// The manifest is invalid.
    #[error("{path}: manifest refused")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<ManifestError>,
    },
}

/// A plugin call that did not return normally.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    /// The call ran past its deadline and was interrupted.
    #[error("deadline exceeded")]
    Deadline,
    /// The instance tried to grow its memory past the limit.
    #[error("memory limit exceeded")]
    Memory,
    /// The guest trapped (panic, unreachable, out-of-bounds access...).
    #[error("trap: {0}")]
    Trap(String),
    /// Every instance slot is in use.
    #[error("no free instance slot")]
    Busy,
    /// The blocking task was lost (the host is shutting down).
    #[error("call aborted")]
    Aborted,
}

impl Fault {
    fn classify(err: &wasmtime::Error, stderr: &MemoryOutputPipe) -> Fault {
        if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            Fault::Deadline
        } else if format!("{err:?}").contains("growing memory") {
            Fault::Memory
        } else if format!("{err:?}").contains("maximum concurrent") {
            Fault::Busy
        } else {
            // The wasm backtrace (and the panic's own hint at one) go to the debug log only.
            tracing::debug!(error = ?err, "plugin trapped");
            let out = stderr.contents();
            Fault::Trap(trap_message(err, &String::from_utf8_lossy(&out)))
        }
    }
}

/// A trap said on one line: the error chain without its wasm backtrace, then what the guest
/// wrote to stderr (a panic's message), without the standard library's backtrace hint.
fn trap_message(err: &wasmtime::Error, stderr: &str) -> String {
    let chain: Vec<String> = err
        .chain()
        .map(|e| e.to_string())
        .filter(|e| !e.starts_with("error while executing at wasm backtrace"))
        .map(|e| e.trim_start_matches("wasm trap: ").to_string())
        .collect();
    let stderr: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    let mut out = chain.join(": ");
    if !stderr.is_empty() {
        out.push_str("; stderr: ");
        out.push_str(&stderr.join(" "));
    }
    out.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// The one engine and its linkers, shared by every plugin.
pub struct PluginRuntime {
    engine: Engine,
    linkers: Linkers,
    limits: RuntimeConfig,
    _ticker: engine::EpochTicker,
}

/// A loaded plugin, ready to instantiate per request.
pub struct Plugin {
    /// Provider name (from the manifest).
    pub name: Arc<str>,
    /// The validated manifest.
    pub manifest: PluginManifest,
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// The contract version it was built against (from its imports; its manifest agrees).
    pub contract: Contract,
    /// Whether the compiled code came from the cache.
    pub cached: bool,
    instances: Instances,
}

/// What a call needs to make a fresh instance: the pre-linked component and the limits.
struct Instances {
    pre: GuestPre,
    engine: Engine,
    limits: RuntimeConfig,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish()
    }
}

impl PluginRuntime {
    /// Build the engine, start its epoch ticker and link the capabilities.
    pub fn new(limits: &RuntimeConfig) -> wasmtime::Result<PluginRuntime> {
        let engine = engine::build_engine(limits)?;
        let linkers = Linkers::new(&engine)?;
        let ticker = engine::EpochTicker::start(
            engine.clone(),
            Duration::from_millis(limits.epoch_tick_ms.max(1)),
        )?;
        Ok(PluginRuntime {
            engine,
            linkers,
            limits: limits.clone(),
            _ticker: ticker,
        })
    }

    /// Load every `*.wasm` in `dir` (sorted by file name).
    pub fn load_dir(&self, dir: &Path, cache_dir: &Path) -> Result<Vec<Arc<Plugin>>, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Component {
            path: dir.to_owned(),
            source: wasmtime::Error::msg(format!("cannot read plugins directory: {e}")),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| self.load(p, cache_dir).map(Arc::new))
            .collect()
    }

    /// Load one component: compile (or reuse the cache), check imports, read the manifest.
    pub fn load(&self, path: &Path, cache_dir: &Path) -> Result<Plugin, LoadError> {
        let component_err = |source| LoadError::Component {
            path: path.to_owned(),
            source,
        };
        let loaded =
            engine::load_component(&self.engine, path, cache_dir).map_err(component_err)?;
        let contract = check_imports(&self.engine, &loaded.component, path)?;
        let pre = self
            .linkers
            .pre(&loaded.component, contract)
            .map_err(component_err)?;
        let instances = Instances {
            pre,
            engine: self.engine.clone(),
            limits: self.limits.clone(),
        };
        let ctx = CallContext {
            plugin: Arc::from("(loading)"),
            org: None,
            subject: None,
            request_id: "load".into(),
            services: None,
            rt: None,
        };
        let raw = instances
            .call_blocking(ctx, |p, s| p.call_manifest(s))
            .map_err(|fault| LoadError::Manifest {
                path: path.to_owned(),
                fault,
            })?;
        let manifest = PluginManifest::validate(raw).map_err(|source| LoadError::Invalid {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        if Contract::parse(&manifest.contract) != Some(contract) {
            return Err(LoadError::Contract {
                path: path.to_owned(),
                reason: format!(
                    "its manifest names contract {:?} but it imports contract {}",
                    manifest.contract,
                    contract.as_str()
                ),
            });
        }
        Ok(Plugin {
            name: Arc::from(manifest.name.as_str()),
            manifest,
            path: path.to_owned(),
            sha256: loaded.sha256,
            contract,
            cached: loaded.cached,
            instances,
        })
    }
}

/// Refuse what a plugin may not import; the contract version it imports.
fn check_imports(
    engine: &Engine,
    component: &Component,
    path: &Path,
) -> Result<Contract, LoadError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        let allowed = name.starts_with(CONTRACT_PACKAGE)
            || ALLOWED_WASI.iter().any(|prefix| name.starts_with(prefix));
        if !allowed {
            return Err(LoadError::ForbiddenImport {
                path: path.to_owned(),
                import: name.to_owned(),
            });
        }
    }
    guest::contract_of(ty.imports(engine).map(|(name, _)| name)).map_err(|reason| {
        LoadError::Contract {
            path: path.to_owned(),
            reason,
        }
    })
}

impl Plugin {
    /// Call into a fresh instance on a blocking thread.
    pub async fn call<R, F>(self: &Arc<Self>, ctx: CallContext, f: F) -> Result<R, Fault>
    where
        R: Send + 'static,
        F: FnOnce(&Guest, &mut Store<InstanceState>) -> wasmtime::Result<R> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.call_blocking(ctx, f))
            .await
            .map_err(|_| Fault::Aborted)?
    }

    /// Like [`Plugin::call`], on the current (blocking) thread.
    pub fn call_blocking<R, F>(&self, ctx: CallContext, f: F) -> Result<R, Fault>
    where
        F: FnOnce(&Guest, &mut Store<InstanceState>) -> wasmtime::Result<R>,
    {
        self.instances.call_blocking(ctx, f)
    }
}

impl Instances {
    /// Instantiate in a new `Store` (memory limit, epoch deadline), run `f`, drop the store.
    fn call_blocking<R, F>(&self, ctx: CallContext, f: F) -> Result<R, Fault>
    where
        F: FnOnce(&Guest, &mut Store<InstanceState>) -> wasmtime::Result<R>,
    {
        let stderr = MemoryOutputPipe::new(4096);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let max_memory = usize::try_from(self.limits.max_memory_bytes).unwrap_or(usize::MAX);
        let state = InstanceState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(max_memory)
                .trap_on_grow_failure(true)
                .build(),
            ctx,
            db_budget: std::time::Duration::from_millis(self.limits.deadline_ms / 2),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (self.limits.deadline_ms / self.limits.epoch_tick_ms.max(1)).max(1);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let run = self
            .pre
            .instantiate(&mut store)
            .and_then(|provider| f(&provider, &mut store));
        run.map_err(|e| Fault::classify(&e, &stderr))
    }
}

#[cfg(test)]
mod tests;
