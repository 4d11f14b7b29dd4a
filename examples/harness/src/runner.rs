//! Running scenarios: a throwaway gateway per scenario (the real host core, in-process: SQLite
//! in a temporary directory, `memory://` objects, job workers running), requests sent straight
//! into its router (no socket), expectations checked, variables captured, jobs waited for.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use axum::body::Body;
use backup_gateway::config::Config;
use backup_gateway::gateway::Gateway;
use backup_gateway::jobs::JobStatus;
use backup_gateway::plugins::{Plugin, PluginRuntime};
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use sha2::Digest;
use tower::ServiceExt;

use crate::Options;
use crate::conformance::{self, Observed};
use crate::matcher::{self, Mismatch, clip};
use crate::report::{Report, StepReport, SuiteReport};
use crate::scenario::{Expect, Scenario, Step, expectation, toml_to_json};
use crate::vars::Vars;
use backup_gateway::plugins::RouteSpec;
use backup_gateway::plugins::openapi::{self, Document};

/// A gateway built for one scenario.
struct Live {
    gw: Arc<Gateway>,
    plugin: Arc<Plugin>,
    app: axum::Router,
    orgs: Vec<String>,
    /// Aborted when dropped.
    _background: backup_gateway::gateway::Background,
    /// Job settings, for workers a `start_jobs` step starts.
    jobs: backup_gateway::config::JobsConfig,
    started: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    _runtime: Arc<PluginRuntime>,
    _dir: tempfile::TempDir,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(started) = self.started.lock() {
            for h in started.iter() {
                h.abort();
            }
        }
    }
}

/// The default compiled-plugin cache: shared by runs, keyed by the component's SHA-256 and
/// the engine, so an unchanged plugin is compiled once.
pub fn default_cache_dir() -> PathBuf {
    std::env::temp_dir().join("backup-gateway-harness-cache")
}

async fn start(plugin_path: &Path, scenario: &Scenario, options: &Options) -> anyhow::Result<Live> {
    let dir = tempfile::Builder::new().prefix("harness-").tempdir()?;
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    let name = plugin_path
        .file_name()
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "wasm"))
        .map_or_else(|| "plugin.wasm".into(), |n| n.to_os_string());
    std::fs::copy(plugin_path, plugins.join(&name))
        .with_context(|| format!("reading plugin {}", plugin_path.display()))?;
    let cache = options.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let text = scenario.config_toml(dir.path(), &plugins, &cache)?;
    let mut config =
        Config::from_toml(&text).context("[setup] is not a valid gateway configuration")?;
    crate::scenario::nulls_in_attributes(&mut config);
    // Errors name the author's file, not the copy the gateway loaded.
    let copy = plugins.join(&name).display().to_string();
    let built = backup_gateway::gateway::build(&config).await.map_err(|e| {
        let message = format!("{e:#}").replace(&copy, &plugin_path.display().to_string());
        anyhow!("building the gateway: {message}")
    })?;
    let plugin = built
        .gateway
        .plugins
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("the plugin is not loaded (disabled in [setup.plugins]?)"))?;
    let background = backup_gateway::gateway::spawn_background(built.gateway.clone(), &config);
    let app = backup_gateway::http::app(built.gateway.clone());
    Ok(Live {
        gw: built.gateway,
        plugin,
        app,
        orgs: config.orgs.iter().map(|o| o.id.clone()).collect(),
        _background: background,
        jobs: config.jobs.clone(),
        started: std::sync::Mutex::new(Vec::new()),
        _runtime: built.runtime,
        _dir: dir,
    })
}

/// What the suite accumulates across scenarios for the conformance mode.
#[derive(Default)]
struct Accumulated {
    routes: Vec<RouteSpec>,
    document: Option<Document>,
    observed: Vec<Observed>,
    /// `(origin, message)`, said among the response findings.
    probe_failures: Vec<(String, String)>,
    probed: bool,
    hit: BTreeSet<usize>,
    loaded: bool,
}

/// Run every scenario against the plugin, then (strict) the conformance checks over all.
pub async fn run_suite_async(
    plugin: &Path,
    scenarios: &[PathBuf],
    options: &Options,
) -> SuiteReport {
    let started = Instant::now();
    let mut suite = SuiteReport {
        plugin_path: plugin.to_path_buf(),
        plugin: plugin.display().to_string(),
        strict: options.strict,
        ..SuiteReport::default()
    };
    let mut acc = Accumulated::default();
    for path in scenarios {
        let mut report = run_one(plugin, path, options, &mut acc, &mut suite).await;
        // An error every scenario hits (the plugin does not load) is said once.
        if let Some(first) = suite
            .reports
            .iter()
            .find(|r| r.error.is_some() && r.error == report.error)
        {
            report.error = Some(format!("the same error as {}", first.scenario.display()));
        }
        suite.reports.push(report);
    }
    if options.strict && acc.loaded {
        conformance_checks(&acc, &mut suite);
    } else if options.strict {
        suite
            .conformance
            .push("not checked: the plugin did not load".into());
    }
    suite.duration = started.elapsed();
    suite
}

fn conformance_checks(acc: &Accumulated, suite: &mut SuiteReport) {
    let api = acc.document.as_ref().and_then(|d| d.api.as_ref());
    let findings =
        conformance::check_responses(&acc.routes, api, &acc.observed, acc.probe_failures.clone());
    suite.conformance.extend(findings.failures);
    suite.warnings.extend(findings.warnings);
    for (i, r) in acc.routes.iter().enumerate() {
        if !acc.hit.contains(&i) {
            suite.conformance.push(format!(
                "route {} is hit by no scenario step",
                conformance::describe(r)
            ));
        }
    }
    if let Some(document) = &acc.document {
        suite.conformance.extend(document.findings.iter().cloned());
        suite.document = Some(openapi::SOURCE.to_string());
    }
}

async fn run_one(
    plugin_path: &Path,
    path: &Path,
    options: &Options,
    acc: &mut Accumulated,
    suite: &mut SuiteReport,
) -> Report {
    let mut report = Report {
        scenario: path.to_path_buf(),
        title: path.display().to_string(),
        ..Report::default()
    };
    let scenario = match Scenario::load(path) {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(format!("{e:#}"));
            return report;
        }
    };
    report.title = scenario.title();
    let setup = Instant::now();
    let live = match start(plugin_path, &scenario, options).await {
        Ok(l) => l,
        Err(e) => {
            report.error = Some(format!("{e:#}"));
            report.setup_time = setup.elapsed();
            return report;
        }
    };
    report.setup_time = setup.elapsed();
    report.plugin = live.plugin.name.to_string();
    if !acc.loaded {
        acc.loaded = true;
        acc.routes = live.plugin.manifest.routes.clone();
        acc.document = Document::of(&live.plugin.manifest);
        suite.plugin = format!("{} {}", live.plugin.name, live.plugin.manifest.version);
    }
    let credentialed = scenario
        .setup
        .get("credentials")
        .and_then(toml::Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.get("plugin").and_then(toml::Value::as_str) == Some(&*live.plugin.name))
        });
    if !credentialed {
        report.warnings.push(format!(
            "no [[setup.credentials]] entry names plugin {:?}: authenticated routes will answer 401",
            &*live.plugin.name
        ));
    }
    if options.strict && !acc.probed {
        acc.probed = true;
        let org = live
            .orgs
            .first()
            .cloned()
            .unwrap_or_else(|| "harness".into());
        let probes = conformance::probe(&live.gw, &live.plugin, &org).await;
        acc.observed.extend(probes.observed);
        acc.probe_failures.extend(probes.failures);
    }

    let mut vars = Vars::new(&scenario.initial_vars());
    let started = Instant::now();
    for (i, step) in scenario.steps.iter().enumerate() {
        let mut sr = StepReport {
            index: i + 1,
            label: step.label(),
            ..StepReport::default()
        };
        let t = Instant::now();
        run_step(&live, &scenario, step, options, &mut vars, &mut sr, acc).await;
        sr.duration = t.elapsed();
        let failed = !sr.passed();
        report.steps.push(sr);
        if failed && !options.keep_going {
            report.not_run = scenario.steps.len() - (i + 1);
            break;
        }
    }
    report.steps_time = started.elapsed();
    report
}

async fn run_step(
    live: &Live,
    scenario: &Scenario,
    step: &Step,
    options: &Options,
    vars: &mut Vars,
    sr: &mut StepReport,
    acc: &mut Accumulated,
) {
    if let Some(n) = step.start_jobs {
        let config = backup_gateway::config::JobsConfig {
            concurrency: n,
            ..live.jobs.clone()
        };
        let workers = backup_gateway::jobs::worker::spawn(
            live.gw.worker_env(),
            config,
            "harness",
            &tokio_util::sync::CancellationToken::new(),
        );
        if let Ok(mut started) = live.started.lock() {
            started.extend(workers);
        }
    }
    if step.wait_jobs {
        let timeout = step
            .wait_timeout_ms
            .map_or(options.job_timeout, Duration::from_millis);
        if let Err(e) = wait_jobs(live, timeout).await {
            sr.failures.push(e);
            return;
        }
    }
    let (Some(method), Some(path)) = (&step.method, &step.path) else {
        return;
    };
    let request = match build_request(step, method, path, vars) {
        Ok(r) => r,
        Err(e) => {
            sr.failures.push(e);
            return;
        }
    };
    sr.request = Some(format!("{} {}", request.method, request.path));
    let sent = (request.body.len(), request.body_sha256.clone());
    let (method, path) = (request.method.to_string(), request.path.clone());
    let response = match send(&live.app, request, options.request_timeout).await {
        Ok(r) => r,
        Err(e) => {
            sr.failures.push(e);
            return;
        }
    };
    sr.status = Some(response.status);
    let route = conformance::match_route(&acc.routes, Some(&method), &path);
    if let Some(i) = route {
        acc.hit.insert(i);
    }
    acc.observed.push(Observed {
        origin: format!(
            "step {} ({method} {path}) of {}",
            sr.index,
            scenario.title()
        ),
        method: method.clone(),
        path: path.clone(),
        route,
        status: response.status,
        media_type: response
            .header("content-type")
            .as_deref()
            .map(conformance::media_type),
        body: response.body.clone(),
        probe: false,
    });
    if sent.0 > 0 {
        vars.set("sent_size", sent.0.to_string());
        vars.set("sent_sha256", sent.1);
    }
    if let Some(expect) = &step.expect {
        match verify(expect, vars, &response) {
            Ok(mismatches) => sr
                .failures
                .extend(mismatches.iter().map(Mismatch::to_string)),
            Err(e) => sr.failures.push(e),
        }
    }
    for (var, from) in &step.capture {
        match capture(from, &response) {
            Ok(v) => vars.set(var, v),
            Err(e) => sr.failures.push(format!("capture {var}: {e}")),
        }
    }
    if !sr.failures.is_empty() {
        sr.response = Some(response.describe());
    }
}

/// A request ready to send.
struct Outgoing {
    method: http::Method,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    body_sha256: String,
}

fn build_request(step: &Step, method: &str, path: &str, vars: &Vars) -> Result<Outgoing, String> {
    let method = http::Method::from_bytes(vars.substitute(method)?.to_ascii_uppercase().as_bytes())
        .map_err(|e| format!("bad method {method:?}: {e}"))?;
    let path = vars.substitute(path)?;
    if !path.starts_with('/') {
        return Err(format!("the path {path:?} must start with '/'"));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &step.headers {
        add(&mut headers, name, vars.substitute(value)?)?;
    }
    if let Some(token) = &step.bearer {
        add(
            &mut headers,
            "authorization",
            format!("Bearer {}", vars.substitute(token)?),
        )?;
    }
    if let Some(b) = &step.basic {
        let pair = format!(
            "{}:{}",
            vars.substitute(&b.user)?,
            vars.substitute(&b.password)?
        );
        add(
            &mut headers,
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ),
        )?;
    }
    let (body, content_type) = if let Some(json) = &step.json {
        let value = vars.substitute_json(&toml_to_json(json))?;
        (value.to_string().into_bytes(), Some("application/json"))
    } else if let Some(text) = &step.json_text {
        (
            vars.substitute(text)?.into_bytes(),
            Some("application/json"),
        )
    } else if let Some(text) = &step.text {
        (vars.substitute(text)?.into_bytes(), None)
    } else if let Some(n) = step.bytes {
        (generated(n), Some("application/octet-stream"))
    } else {
        (Vec::new(), None)
    };
    if let Some(ct) = content_type
        && !headers.contains_key(http::header::CONTENT_TYPE)
    {
        add(&mut headers, "content-type", ct.into())?;
    }
    let takes_body = matches!(
        method,
        http::Method::POST | http::Method::PUT | http::Method::PATCH
    );
    if !step.omit_content_length
        && !headers.contains_key(http::header::CONTENT_LENGTH)
        && (takes_body || !body.is_empty())
    {
        add(&mut headers, "content-length", body.len().to_string())?;
    }
    let body_sha256 = hex::encode(sha2::Sha256::digest(&body));
    Ok(Outgoing {
        method,
        path,
        headers,
        body,
        body_sha256,
    })
}

/// Append a header, refusing names and values HTTP cannot carry.
fn add(headers: &mut HeaderMap, name: &str, value: String) -> Result<(), String> {
    let n = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        .map_err(|e| format!("bad header name {name:?}: {e}"))?;
    let v =
        HeaderValue::from_str(&value).map_err(|e| format!("bad value for header {name}: {e}"))?;
    headers.append(n, v);
    Ok(())
}

/// `n` deterministic bytes (the same for every run, so digests can be written down).
pub fn generated(n: u64) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A response as the scenario sees it.
struct Received {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    /// A header's values joined with `, ` (absent: `None`).
    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<String> = self
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    fn describe(&self) -> String {
        let mut out = format!("HTTP {}\n", self.status);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        match std::str::from_utf8(&self.body) {
            Ok(text) => out.push_str(&clip(text, 1500)),
            Err(_) => out.push_str(&format!("({} bytes of binary)", self.body.len())),
        }
        out
    }
}

async fn send(app: &axum::Router, r: Outgoing, timeout: Duration) -> Result<Received, String> {
    let mut req = http::Request::builder()
        .method(r.method)
        .uri(&r.path)
        .body(Body::from(r.body))
        .map_err(|e| format!("bad request: {e}"))?;
    *req.headers_mut() = r.headers;
    let resp = tokio::time::timeout(timeout, app.clone().oneshot(req))
        .await
        .map_err(|_| format!("no response within {} s", timeout.as_secs()))?
        .map_err(|e| format!("the router failed: {e}"))?;
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(timeout, axum::body::to_bytes(body, usize::MAX))
        .await
        .map_err(|_| format!("the body did not end within {} s", timeout.as_secs()))?
        .map_err(|e| format!("reading the response body: {e}"))?;
    Ok(Received {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.to_vec(),
    })
}

fn verify(expect: &Expect, vars: &Vars, r: &Received) -> Result<Vec<Mismatch>, String> {
    let mut out = Vec::new();
    if let Some(status) = expect.status
        && status != r.status
    {
        out.push(Mismatch {
            at: "status".into(),
            message: format!("expected {status}, got {}", r.status),
        });
    }
    for (name, exp) in &expect.headers {
        let exp = vars.substitute_json(&expectation(exp))?;
        let actual = r.header(&name.to_ascii_lowercase()).map(Value::String);
        matcher::check(&exp, actual.as_ref(), &format!("header {name}"), &mut out);
    }
    let json_expect = match (&expect.json, &expect.json_text) {
        (Some(j), _) => Some(vars.substitute_json(&expectation(j))?),
        (None, Some(text)) => {
            let parsed: Value =
                serde_json::from_str(text).map_err(|e| format!("expect.json_text: {e}"))?;
            Some(vars.substitute_json(&parsed)?)
        }
        (None, None) => None,
    };
    if let Some(exp) = json_expect {
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(actual) => matcher::check(&exp, Some(&actual), "body", &mut out),
            Err(e) => out.push(Mismatch {
                at: "body".into(),
                message: format!("expected JSON, but it does not parse ({e})"),
            }),
        }
    }
    if let Some(exp) = &expect.text {
        let exp = vars.substitute_json(&expectation(exp))?;
        let actual = Value::String(String::from_utf8_lossy(&r.body).into_owned());
        matcher::check(&exp, Some(&actual), "body (text)", &mut out);
    }
    if let Some(want) = &expect.body_sha256 {
        let want = vars.substitute(want)?;
        let got = hex::encode(sha2::Sha256::digest(&r.body));
        if want != got {
            out.push(Mismatch {
                at: "body sha256".into(),
                message: format!("expected {want}, got {got} ({} bytes)", r.body.len()),
            });
        }
    }
    if let Some(size) = expect.body_size
        && size != r.body.len() as u64
    {
        out.push(Mismatch {
            at: "body size".into(),
            message: format!("expected {size} bytes, got {}", r.body.len()),
        });
    }
    Ok(out)
}

fn capture(from: &str, r: &Received) -> Result<String, String> {
    if let Some(name) = from.strip_prefix("header:") {
        return r
            .header(&name.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("the response has no header {name}"));
    }
    let body: Value = serde_json::from_slice(&r.body)
        .map_err(|e| format!("the body is not JSON ({e}), cannot read {from:?}"))?;
    match body.pointer(from) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(format!("{from:?} is not in the body")),
    }
}

/// Poll the job table until no job of the plugin is queued or in progress, in any org.
async fn wait_jobs(live: &Live, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let busy = [JobStatus::Queued, JobStatus::InProgress];
    loop {
        let mut pending = Vec::new();
        for org in &live.orgs {
            let jobs = live
                .gw
                .services
                .db
                .scoped(org, &live.plugin.name)
                .jobs((None, None), &busy, 100)
                .await
                .map_err(|e| format!("reading the job table: {e}"))?;
            pending.extend(jobs);
        }
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let list: Vec<String> = pending
                .iter()
                .map(|j| {
                    format!(
                        "{} {:?} of {}/{} {} (attempts {}, {:?})",
                        j.id,
                        j.kind,
                        j.resource_kind,
                        j.resource_id,
                        j.status.as_str(),
                        j.attempts,
                        j.message
                    )
                })
                .collect();
            return Err(format!(
                "{} job(s) still queued or in progress after {} ms: {}",
                pending.len(),
                timeout.as_millis(),
                list.join("; ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
