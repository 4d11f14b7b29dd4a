//! The guide in `examples/README.md`, followed by a test: copy `examples/hello-provider` to a
//! new crate outside the workspace (its own `[workspace]` table, a path dependency on the SDK,
//! a `[profile.plugin]`), rename the provider and its routes, build it for `wasm32-wasip2`
//! with the guide's command, and run its copied scenario through the harness in strict mode.
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

#[test]
fn a_copy_of_the_template_builds_and_passes_the_harness() {
    let started = Instant::now();
    let root = workspace();
    let dir = tempfile::tempdir().expect("tempdir");
    let krate = dir.path().join("my-provider");

    // 1. Copy the template (sources and scenarios), give it a manifest of its own.
    std::fs::create_dir_all(krate.join("src")).expect("mkdir");
    std::fs::create_dir_all(krate.join("scenarios")).expect("mkdir");
    let template = root.join("examples/hello-provider");
    std::fs::copy(template.join("src/lib.rs"), krate.join("src/lib.rs")).expect("copy lib.rs");
    std::fs::copy(
        template.join("scenarios/hello.toml"),
        krate.join("scenarios/my-provider.toml"),
    )
    .expect("copy the scenario");
    std::fs::write(
        krate.join("Cargo.toml"),
        standalone_manifest("my-provider", &root.join("sdk")),
    )
    .expect("write Cargo.toml");
    // The workspace's lock pins the same versions, so the build reuses compiled dependencies.
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).expect("copy Cargo.lock");

    // 2. Rename the provider and its routes; the scenario follows.
    edit(
        &krate.join("src/lib.rs"),
        &[("\"hello\",", "\"my-provider\","), ("\"/hello/", "\"/my/")],
    );
    edit(
        &krate.join("scenarios/my-provider.toml"),
        &[
            ("plugin = \"hello\"", "plugin = \"my-provider\""),
            ("/hello/", "/my/"),
        ],
    );

    // 3. Build for wasm32-wasip2 with the guide's command.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Instant::now();
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
    let build_time = build.elapsed();
    let wasm = target_dir().join("wasm32-wasip2/plugin/my_provider.wasm");
    assert!(wasm.exists(), "{} was not built", wasm.display());

    // 4. Run its scenario, strictly.
    let run = Instant::now();
    let report = harness::run_scenario(
        &wasm,
        krate.join("scenarios/my-provider.toml"),
        &harness::Options {
            strict: true,
            ..Default::default()
        },
    );
    assert!(report.passed(), "{report}");
    assert_eq!(report.plugin, "my-provider");
    eprintln!(
        "template copy → passing harness run: {} ms (build {} ms, harness {} ms)",
        started.elapsed().as_millis(),
        build_time.as_millis(),
        run.elapsed().as_millis()
    );
}
