//! Each plugin's own OpenAPI document checked against its behaviour: Schemathesis (a
//! property-based tester from PyPI, installed by `scripts/ensure-schemathesis`, which
//! `scripts/test` runs) generates requests from the document — its examples, boundary and
//! invalid values, and random ones — and sends them to a gateway serving every plugin, with
//! credentials and with resources whose ids are the documents' own examples, so generated
//! requests reach real sites, VPSes, volumes and hosts. The run fails on any 5xx, on any
//! response the document does not describe (a status it does not list, a content type,
//! header or body that does not match), and on a request that breaks the document but is
//! accepted anyway (`negative_data_rejection`: behaviour more lenient than the document
//! says). `tests/schemathesis.toml` holds the one setting the command line cannot carry.
//!
//! The budget is small ([`MAX_EXAMPLES`] per operation and phase, a fixed seed), so the run
//! stays well inside CI's time; the figures (operations, test cases, failures) are printed.
//! The program is `SCHEMATHESIS_BIN`, by default where the script installs it; a missing
//! program fails the test with that instruction, never skips it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gateway_tests::{TestGateway, provider_plugin};
use serde_json::Value;

/// Test cases per operation and phase (about 45 s for all five documents on an idle
/// machine; 100 takes about 95 s).
const MAX_EXAMPLES: u32 = 50;
/// The generator's seed: the same requests every run.
const SEED: u32 = 24;
/// One plugin's run may take this long at most.
const RUN_LIMIT: Duration = Duration::from_secs(150);

/// Altostrat's example site.
pub const SITE: &str = "a1b2c3d4-e5f6-7890-1234-567890abcdef";
/// HostUp's example VPS.
pub const VPS: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// ByCloud's example volume.
pub const VOLUME: &str = "550e8400-e29b-41d4-a716-446655440000";
/// The tokens of the fleet's credentials.
pub const ALTOSTRAT_TOKEN: &str = "sdx-fleet-token";
pub const HOSTUP_TOKEN: &str = "hu-fleet-token";
pub const BYCLOUD_TOKEN: &str = "bc-fleet-token";
pub const JSA_TOKEN: &str = "jsa-fleet-token";
pub const SYSTEM: (&str, &str) = ("NETH-FLEET-1", "my_fleet_secret");

/// A gateway serving every provider plugin for org `acme`, each with a credential holding
/// every scope and the resources its document's examples name, rate limits raised so
/// generated traffic reaches the handlers. Its files live in `dir`.
pub async fn fleet(dir: &Path) -> TestGateway {
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let export = file(
        "site.rsc",
        include_bytes!("../../../plugins/altostrat/tests/fixtures/hq-rb5009.rsc"),
    );
    let disk = file("vps.img", &gateway_tests::Rng(1).bytes(64 * 1024));
    let volume = file("volume.img", &gateway_tests::Rng(2).bytes(96 * 1024));
    let console = file("console.tgz", &gateway_tests::Rng(3).bytes(8 * 1024));
    let extra = format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "altostrat"
scheme = "bearer"
key = "sdx"
secret = "{ALTOSTRAT_TOKEN}"
scopes = ["backup:read", "backup:create"]

[[credentials]]
org = "acme"
plugin = "hostup"
scheme = "bearer"
key = "hu"
secret = "{HOSTUP_TOKEN}"
scopes = ["read:vm", "backup:vm"]

[[credentials]]
org = "acme"
plugin = "bycloud"
scheme = "bearer"
key = "bc"
secret = "{BYCLOUD_TOKEN}"
scopes = ["backups:read", "backups:write"]

[[credentials]]
org = "acme"
plugin = "jsa"
scheme = "header"
header = "SEC"
key = "svc"
secret = "{JSA_TOKEN}"

[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "{system}"
secret = "{system_secret}"

[[resources]]
org = "acme"
plugin = "altostrat"
kind = "site"
id = "{SITE}"
name = "HQ"
source = {{ file = "{export}" }}

[[resources]]
org = "acme"
plugin = "hostup"
kind = "vps"
id = "{VPS}"
name = "web-1"
state = "active"
attributes = {{ primaryIp = "192.0.2.10", powerState = "running", backupQuota = 100 }}
source = {{ file = "{disk}" }}

[[resources]]
org = "acme"
plugin = "bycloud"
kind = "volume"
id = "{VOLUME}"
name = "db-data"
state = "available"
source = {{ file = "{volume}" }}

[[resources]]
org = "acme"
plugin = "jsa"
kind = "jsa-host"
id = "53"
name = "console"
attributes = {{ is_console = true, stores_data = true, status = "Active", version = "7.5.0" }}
source = {{ file = "{console}" }}

[[resources]]
org = "acme"
plugin = "jsa"
kind = "backup-config"
id = "1"
attributes = {{ deployed = true }}

[plugins.appliance-collect]
rate_limits = {{ upload-minute = {{ window_seconds = 60, max_requests = 100000 }}, upload-hour = {{ window_seconds = 3600, max_requests = 100000 }} }}

[plugins.hostup]
rate_limits = {{ api = {{ window_seconds = 60, max_requests = 100000 }} }}

[plugins.bycloud]
rate_limits = {{ api = {{ window_seconds = 60, max_requests = 100000 }} }}
"#,
        org = super::ORG,
        system = SYSTEM.0,
        system_secret = SYSTEM.1,
    );
    let plugins: Vec<PathBuf> = ["altostrat", "appliance_collect", "bycloud", "hostup", "jsa"]
        .iter()
        .map(|p| provider_plugin(p))
        .collect();
    TestGateway::start(&plugins, &extra)
        .await
        .expect("gateway starts")
}

/// The Schemathesis program: `SCHEMATHESIS_BIN`, or where `scripts/ensure-schemathesis`
/// installs it.
fn schemathesis_bin() -> PathBuf {
    let bin = std::env::var_os("SCHEMATHESIS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home =
                std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            home.join(".cache/backup-gateway/tools/schemathesis/bin/schemathesis")
        });
    assert!(
        bin.exists(),
        "{} is missing: run scripts/ensure-schemathesis (scripts/test does) or set \
         SCHEMATHESIS_BIN; the documents' property-based run is never skipped",
        bin.display()
    );
    bin
}

/// One plugin's document and how its requests authenticate.
struct Target {
    plugin: &'static str,
    /// `-H`/`-a` arguments.
    auth: Vec<String>,
}

fn targets() -> Vec<Target> {
    let bearer = |token: &str| vec!["-H".to_string(), format!("Authorization: Bearer {token}")];
    vec![
        Target {
            plugin: "appliance-collect",
            auth: vec!["-a".into(), format!("{}:{}", SYSTEM.0, SYSTEM.1)],
        },
        Target {
            plugin: "altostrat",
            auth: bearer(ALTOSTRAT_TOKEN),
        },
        Target {
            plugin: "hostup",
            auth: bearer(HOSTUP_TOKEN),
        },
        Target {
            plugin: "bycloud",
            auth: bearer(BYCLOUD_TOKEN),
        },
        Target {
            plugin: "jsa",
            auth: vec!["-H".into(), format!("SEC: {JSA_TOKEN}")],
        },
    ]
}

/// What one run found.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    pub(crate) operations: u64,
    pub(crate) cases: u64,
    pub(crate) failures: u64,
}

/// Figures from Schemathesis's JSON report (`--report-json-path`): operations tested, test
/// cases generated, unique failures plus errors (a request that timed out, say).
fn figures(report: &Path) -> Figures {
    let text = std::fs::read_to_string(report).unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let count = |pointer: &str| json.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let errors = json["errors"].as_array().map_or(0, |e| e.len() as u64);
    Figures {
        operations: count("/operations/tested"),
        cases: count("/test_cases/generated"),
        failures: count("/test_cases/unique_failures") + errors,
    }
}

/// Run Schemathesis over the document at `doc` against `url` with `auth`, in `dir`; what
/// it found and how it ended. `name` names the run in its report file and in a timeout.
pub(crate) async fn schemathesis(
    name: &str,
    doc: &Path,
    url: &str,
    auth: &[String],
    dir: &Path,
) -> (Figures, std::process::Output) {
    let report = dir.join(format!("report-{name}.json"));
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml");
    let child = tokio::process::Command::new(schemathesis_bin())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(doc)
        .args(["--url", url])
        .args(auth)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,\
             negative_data_rejection",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            &MAX_EXAMPLES.to_string(),
            "--seed",
            &SEED.to_string(),
            // One worker: Hypothesis on several threads trips CPython 3.11's parser
            // ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
            "--generation-database",
            "none",
            "--report",
            "json",
            "--report-json-path",
        ])
        .arg(&report)
        .current_dir(dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(RUN_LIMIT, child)
        .await
        .unwrap_or_else(|_| panic!("schemathesis on {name} ran over {RUN_LIMIT:?}"))
        .expect("schemathesis runs");
    (figures(&report), output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_plugins_document_describes_its_behaviour() {
    schemathesis_bin();
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet(dir.path()).await;
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut totals = Figures::default();
    for target in targets() {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins")
            .join(target.plugin)
            .join("src/openapi.json");
        let run = Instant::now();
        let (found, output) =
            schemathesis(target.plugin, &doc, &gw.url, &target.auth, dir.path()).await;
        println!(
            "{}: {} operations, {} test cases, {} failures, {:.1} s",
            target.plugin,
            found.operations,
            found.cases,
            found.failures,
            run.elapsed().as_secs_f64()
        );
        totals.operations += found.operations;
        totals.cases += found.cases;
        totals.failures += found.failures;
        if !output.status.success() {
            problems.push(format!(
                "{} ({}):\n{}\n{}",
                target.plugin,
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    println!(
        "all documents: {} operations, {} test cases, {} failures, {:.1} s",
        totals.operations,
        totals.cases,
        totals.failures,
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(totals.operations >= 20 && totals.cases > 0, "{totals:?}");
}
