//! `backup-gateway check PLUGIN.wasm`: load one component as the gateway would, print its
//! routes, and fail on any finding the harness's strict mode would also report without
//! running scenarios: the document itself ([`Document::of`]) and the
//! render-problem probes ([`problems::probe`]), each rendering judged by the document
//! ([`openapi::judge`]). Each finding is said once.

use std::path::Path;

use super::openapi::judge::Findings;
use super::openapi::{self, Document};
use super::problems::{self, ProbeHost};
use super::{Plugin, PluginRuntime, manifest};
use crate::config::RuntimeConfig;

/// Load `path` with default limits, validate its manifest and print its routes; then compare
/// its OpenAPI document (when it ships one) with the manifest, and probe its
/// `render-problem` for every host problem on every route, judging each rendering by the
/// document (without one, by its status alone). Any finding fails the check.
///
/// Blocking, like [`Plugin::call_blocking`]: from async code, call it on a blocking thread
/// (`tokio::task::spawn_blocking`), where a plugin's stderr can be flushed.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let limits = RuntimeConfig::default();
    let runtime = PluginRuntime::new(&limits).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let cache = std::env::temp_dir().join("backup-gateway-check-cache");
    let plugin = runtime.load(path, &cache)?;
    print_routes(&plugin);
    manifest::check_collisions([&plugin.manifest])?;
    let m = &plugin.manifest;
    let document = Document::of(m);
    let host = ProbeHost {
        org: "check".into(),
        services: None,
    };
    let probes = problems::probe(&plugin, &m.routes, &host);
    let sent = probes.sent;
    let api = document.as_ref().and_then(|d| d.api.as_ref());
    let probed = Findings::of_probes(api, &m.routes, probes);
    let mut failures = document.map(|d| d.findings).unwrap_or_default();
    failures.extend(probed.failures);
    for w in &probed.warnings {
        println!("warning: {w}");
    }
    if failures.is_empty() {
        say_passed(m.openapi.is_some(), sent);
        return Ok(());
    }
    if m.openapi.is_some() {
        eprintln!("findings (the OpenAPI document is {}):", openapi::SOURCE);
    } else {
        eprintln!("findings:");
    }
    for f in &failures {
        eprintln!("  {f}");
    }
    anyhow::bail!(
        "{}: {} finding(s), listed above",
        path.display(),
        failures.len()
    )
}

fn print_routes(plugin: &Plugin) {
    let m = &plugin.manifest;
    println!(
        "{} {} (contract {}), sha256 {}",
        m.name, m.version, m.contract, plugin.sha256
    );
    for r in &m.routes {
        println!(
            "  {:6} {:45} {:20} scope={} body={:?}",
            r.method.as_str(),
            r.template,
            r.operation,
            r.scope.as_deref().unwrap_or("-"),
            r.body
        );
    }
}

fn say_passed(has_document: bool, probes: usize) {
    if has_document {
        println!("OpenAPI document: agrees with the manifest");
        println!(
            "render-problem: {probes} probes, every rendering has the host's status and fits the document"
        );
    } else {
        println!("no OpenAPI document (manifest.openapi is not set)");
        println!("render-problem: {probes} probes, every rendering has the host's status");
    }
}
