//! The guide in `examples/README.md`, followed by a test: copy `examples/hello-provider` to a
//! new crate outside the workspace (its own `[workspace]` table, a path dependency on the SDK,
//! a `[profile.plugin]`), rename the provider and its routes (in the code and in its OpenAPI
//! document), build it for `wasm32-wasip2` with the guide's command, and run its copied
//! scenario through the harness in strict mode.
//!
//! The copy builds into the same target directory as this test run with the workspace's
//! `Cargo.lock`, so only the SDK and the new crate compile (a couple of seconds when the
//! plugins are built); the timings are printed (`cargo test -- --nocapture`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// `Cargo.toml` of a plugin crate outside the workspace, as the guide writes it.
fn standalone_manifest(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
backup-gateway-sdk = {{ path = "{sdk}" }}
serde_json = {{ version = "1", features = ["preserve_order"] }}

# Native unit tests on the SDK's fake host.
[dev-dependencies]
backup-gateway-sdk = {{ path = "{sdk}", features = ["testing"] }}

# The size profile the gateway's plugins use.
[profile.plugin]
inherits = "release"
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"
incremental = false

# A workspace of its own (not a member of the gateway's).
[workspace]
"#,
        sdk = sdk.display()
    )
}

fn edit(path: &Path, pairs: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(path).expect("reading a template file");
    for (from, to) in pairs {
        assert!(text.contains(from), "{from:?} not in {}", path.display());
        text = text.replace(from, to);
    }
    std::fs::write(path, text).expect("writing a template file");
}

/// A copy of the template as crate `name` in `dir`, renamed (provider `name`, routes under
/// `/my/`), with `doc_edits` applied to its OpenAPI document, built for wasm32-wasip2 with
/// the guide's command. Returns the crate directory and the built component.
fn build_copy(dir: &Path, name: &str, doc_edits: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let root = workspace();
    let krate = dir.join(name);

    // 1. Copy the template (sources, document and scenario), give it a manifest of its own.
    std::fs::create_dir_all(krate.join("src")).expect("mkdir");
    std::fs::create_dir_all(krate.join("scenarios")).expect("mkdir");
    let template = root.join("examples/hello-provider");
    for file in ["lib.rs", "openapi.json"] {
        std::fs::copy(
            template.join("src").join(file),
            krate.join("src").join(file),
        )
        .unwrap_or_else(|e| panic!("copy src/{file}: {e}"));
    }
    std::fs::copy(
        template.join("scenarios/hello.toml"),
        krate.join("scenarios/my-provider.toml"),
    )
    .expect("copy the scenario");
    std::fs::write(
        krate.join("Cargo.toml"),
        standalone_manifest(name, &root.join("sdk")),
    )
    .expect("write Cargo.toml");
    // The workspace's lock pins the same versions, so the build reuses compiled dependencies.
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).expect("copy Cargo.lock");

    // 2. Rename the provider and its routes; the document and the scenario follow.
    let provider = format!("\"{name}\",");
    edit(
        &krate.join("src/lib.rs"),
        &[("\"hello\",", provider.as_str()), ("\"/hello/", "\"/my/")],
    );
    edit(&krate.join("src/openapi.json"), &[("\"/hello/", "\"/my/")]);
    if !doc_edits.is_empty() {
        edit(&krate.join("src/openapi.json"), doc_edits);
    }
    let plugin = format!("plugin = \"{name}\"");
    edit(
        &krate.join("scenarios/my-provider.toml"),
        &[("plugin = \"hello\"", plugin.as_str()), ("/hello/", "/my/")],
    );

    // 3. Build for wasm32-wasip2 with the guide's command.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(krate.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "building the copy failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = target_dir().join(format!(
        "wasm32-wasip2/plugin/{}.wasm",
        name.replace('-', "_")
    ));
    assert!(wasm.exists(), "{} was not built", wasm.display());
    (krate, wasm)
}

fn strict() -> harness::Options {
    harness::Options {
        strict: true,
        ..Default::default()
    }
}

#[test]
fn a_copy_of_the_template_builds_and_passes_the_harness() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let (krate, wasm) = build_copy(dir.path(), "my-provider", &[]);
    let build_time = started.elapsed();

    // 4. Run its scenario, strictly.
    let run = Instant::now();
    let report = harness::run_scenario(&wasm, krate.join("scenarios/my-provider.toml"), &strict());
    assert!(report.passed(), "{report}");
    assert!(report.warnings.is_empty(), "{report}");
    assert_eq!(report.plugin, "my-provider");
    eprintln!(
        "template copy → passing harness run: {} ms (copy and build {} ms, harness {} ms)",
        started.elapsed().as_millis(),
        build_time.as_millis(),
        run.elapsed().as_millis()
    );
}

/// The template's own responses, judged by a document that says otherwise in three places:
/// strict mode must name each one.
#[test]
fn strict_mode_fails_on_responses_the_document_does_not_describe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (krate, wasm) = build_copy(
        dir.path(),
        "strict-mismatch-provider",
        &[
            // (a) echo's own 400 is documented in another shape
            (
                r##""400": { "$ref": "#/components/responses/Error" },"##,
                r##""400": { "description": "refused", "content": { "application/json": { "schema": { "type": "object", "required": ["code", "detail"] } } } },"##,
            ),
            // (b) greet's 200 requires a field the plugin does not send
            (
                r#""required": ["greeting"]"#,
                r#""required": ["greeting", "language"]"#,
            ),
            // (c) statuses only `default` covers (404 on an unknown path, 405) get a schema
            // the plugin's errors do not fit
            (
                r##""default": { "$ref": "#/components/responses/Error" }
        }
      }
    },
    "/my/echo""##,
                r##""default": { "description": "other", "content": { "application/json": { "schema": { "type": "object", "required": ["problem"] } } } }
        }
      }
    },
    "/my/echo""##,
            ),
        ],
    );
    let report = harness::run_scenario(&wasm, krate.join("scenarios/my-provider.toml"), &strict());
    assert!(report.steps.iter().all(|s| s.passed()), "{report}");
    assert!(!report.passed(), "{report}");
    let all = report.conformance.join("\n");
    // (where it was first seen, what): one line says both.
    for (place, what) in [
        // (a)
        (
            "step 3 (POST /my/echo) of hello: greet, echo and the error format → 400 against POST /my/echo responses.400",
            "does not fit the schema: body: missing properties 'code', 'detail'",
        ),
        // (b)
        (
            "→ 200 against GET /my/greetings/{name} responses.200",
            "does not fit the schema: body: missing properties 'language'",
        ),
        // (c): the unknown path and the wrong method reach no operation; greet's default is
        // the first `default` of the document. The probes see it first, on several statuses.
        (
            "probe not-found on greet → 404 against GET /my/greetings/{name} responses.default (and ",
            "does not fit the schema: body: missing properties 'problem'",
        ),
    ] {
        assert!(
            report
                .conformance
                .iter()
                .any(|l| l.contains(place) && l.ends_with(what)),
            "{place:?} … {what:?} not in:\n{all}"
        );
    }
    // (c) on 404, 405, 413, 429 and 500, on greet and off any route, is one finding.
    let problem = "more like it): does not fit the schema: body: missing properties 'problem'";
    assert_eq!(all.matches(problem).count(), 1, "{all}");
    assert_eq!(
        all.matches("missing properties 'problem'").count(),
        1,
        "{all}"
    );
    // The report says where the document is fixed, once, and never names a copy.
    let text = report.to_string();
    assert_eq!(
        text.matches("the OpenAPI document is manifest.openapi, src/openapi.json in the template")
            .count(),
        1,
        "{text}"
    );
    assert!(!text.contains("harness-"), "{text}");
    for line in &report.conformance {
        assert!(line.matches("OpenAPI document").count() <= 1, "{line}");
    }
    // Each finding once, however many responses showed it.
    let lines: Vec<&str> = report.conformance.iter().map(String::as_str).collect();
    let mut unique = lines.clone();
    unique.dedup();
    assert_eq!(lines, unique, "{all}");
}

/// `backup-gateway check PLUGIN.wasm`: (success, stdout and stderr).
fn check(wasm: &Path) -> (bool, String) {
    let gateway = target_dir().join("release/backup-gateway");
    assert!(
        gateway.exists(),
        "{} is missing: cargo build --release -p backup-gateway",
        gateway.display()
    );
    let out = Command::new(&gateway)
        .arg("check")
        .arg(wasm)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running backup-gateway check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `backup-gateway check` on a copy whose document lacks one of its routes exits non-zero
/// and names the route; on the template as shipped it passes, probes included.
#[test]
fn check_fails_when_manifest_and_document_disagree() {
    let (ok, text) = check(&target_dir().join("plugins/hello_provider.wasm"));
    assert!(
        ok && text.contains("OpenAPI document: agrees with the manifest"),
        "{text}"
    );
    // 13 problems on each of 2 routes and one unrouted path.
    assert!(
        text.contains(
            "render-problem: 39 probes, every rendering has the host's status and fits the document"
        ),
        "{text}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (_, wasm) = build_copy(
        dir.path(),
        "check-mismatch-provider",
        &[(r#""/my/echo": {"#, r#""/my/echoes": {"#)],
    );
    let (ok, text) = check(&wasm);
    assert!(!ok, "check passed:\n{text}");
    for needle in [
        "findings (the OpenAPI document is manifest.openapi, src/openapi.json in the template):",
        "manifest route POST /my/echo (echo) is not in the OpenAPI document",
        "OpenAPI operation POST /my/echoes (echo) is not a manifest route",
        ": 2 finding(s), listed above",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert!(text.contains(&wasm.display().to_string()), "{text}");
}

/// A copy whose document leaves two of the reasons its `render_problem` sends (429's and
/// 500's, which no scenario step provokes) out of the `Error` schema: `check` fails on it
/// with one finding for the six renderings, and strict mode reports the very same line.
#[test]
fn check_and_strict_mode_fail_on_render_problem_output_the_document_does_not_describe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (krate, wasm) = build_copy(
        dir.path(),
        "render-mismatch-provider",
        &[(
            r#""rate_limited", "conflict", "unavailable", "bad_gateway", "internal""#,
            r#""conflict", "unavailable", "bad_gateway""#,
        )],
    );
    let (ok, text) = check(&wasm);
    assert!(!ok, "check passed:\n{text}");
    let finding = "probe rate-limited on greet → 429 against GET /my/greetings/{name} responses.default (and 5 more like it): does not fit the schema: body/error/reason: ";
    assert!(text.contains(finding), "{finding:?} not in:\n{text}");
    assert!(text.contains(": 1 finding(s), listed above"), "{text}");
    assert_eq!(text.matches("does not fit the schema").count(), 1, "{text}");

    let report = harness::run_scenario(&wasm, krate.join("scenarios/my-provider.toml"), &strict());
    assert!(report.steps.iter().all(|s| s.passed()), "{report}");
    let checked = text
        .lines()
        .find(|l| l.contains(finding))
        .map(str::trim)
        .unwrap_or_default();
    assert_eq!(report.conformance, [checked], "{report}");
}
