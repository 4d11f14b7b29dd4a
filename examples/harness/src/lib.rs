//! `harness`: build and test a backup-gateway provider plugin without running the server.
//!
//! The harness loads one plugin (`.wasm` component) into the **real host core** in-process —
//! the same `backup_gateway::gateway::build` and `backup_gateway::http::app` the server runs,
//! with its auth, scopes, body limits, rate limits, streaming ingest, quotas and job workers —
//! on throwaway storage (SQLite in a temporary directory, `memory://` objects). It seeds orgs,
//! credentials and resources from a scenario file's `[setup]` (the gateway's own config
//! sections) and replays the scenario's ordered requests, checking status, headers and bodies
//! with matchers for generated values. See `examples/README.md` for the scenario format.
//!
//! ```no_run
//! let report = harness::run_scenario(
//!     "target/plugins/hello_provider.wasm",
//!     "examples/hello-provider/scenarios/hello.toml",
//!     &harness::Options { strict: true, ..Default::default() },
//! );
//! assert!(report.passed(), "{report}");
//! ```
//!
//! Modules: [`scenario`] (the file format), [`vars`] (`{{name}}` substitution), [`matcher`]
//! (expectations and matchers), [`runner`] (gateway per scenario, steps, jobs), [`conformance`]
//! (the strict mode: the host's own render-problem probes, [`backup_gateway::plugins::problems`],
//! and its judge of responses by the plugin's OpenAPI document,
//! [`backup_gateway::plugins::openapi::judge`] — what `backup-gateway check` runs too),
//! [`report`] (results, printable).

pub mod conformance;
pub mod matcher;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod vars;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use report::{Report, StepReport, SuiteReport};
pub use runner::{default_cache_dir, run_suite_async};

/// How to run scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    /// Conformance mode: responses and render-problem probes judged by the OpenAPI document
    /// (or error formats without one), route coverage, manifest/OpenAPI agreement.
    pub strict: bool,
    /// Where compiled plugins are cached (default: [`default_cache_dir`]).
    pub cache_dir: Option<PathBuf>,
    /// Longest `wait_jobs` wait, unless a step says otherwise.
    pub job_timeout: Duration,
    /// Longest wait for one response.
    pub request_timeout: Duration,
    /// Run every step even after one failed (default: stop at the first failure).
    pub keep_going: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            strict: false,
            cache_dir: None,
            job_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            keep_going: false,
        }
    }
}

/// Run one scenario against a plugin. In strict mode the conformance checks judge this
/// scenario alone (coverage included); use [`run_suite`] to judge several together.
///
/// Blocking: it runs its own tokio runtime (call [`run_suite_async`] from async code).
pub fn run_scenario(
    plugin_path: impl AsRef<Path>,
    scenario_path: impl AsRef<Path>,
    options: &Options,
) -> Report {
    let mut suite = run_suite(
        plugin_path,
        &[scenario_path.as_ref().to_path_buf()],
        options,
    );
    let mut report = suite.reports.pop().unwrap_or_default();
    report.conformance.append(&mut suite.conformance);
    report.document = suite.document.take();
    report.warnings.append(&mut suite.warnings);
    report
}

/// Run several scenarios against one plugin, each on its own fresh gateway, then (strict)
/// the conformance checks over all of them.
///
/// Blocking: it runs its own tokio runtime (call [`run_suite_async`] from async code).
pub fn run_suite(
    plugin_path: impl AsRef<Path>,
    scenarios: &[PathBuf],
    options: &Options,
) -> SuiteReport {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    match runtime {
        Ok(rt) => rt.block_on(run_suite_async(plugin_path.as_ref(), scenarios, options)),
        Err(e) => SuiteReport {
            plugin_path: plugin_path.as_ref().to_path_buf(),
            conformance: vec![format!("cannot start a tokio runtime: {e}")],
            ..SuiteReport::default()
        },
    }
}

/// The scenario files (`*.toml`) of a directory, sorted by name.
pub fn scenarios_in(dir: impl AsRef<Path>) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    Ok(out)
}
