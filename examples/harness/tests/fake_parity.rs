//! The SDK's fake host against the real one: the conformance call sequences
//! (`backup_gateway_sdk::conformance`) run natively on `testing::FakeHost`, and inside the
//! real host through the `conformance` test plugin (built by `scripts/build-plugins` into
//! `${CARGO_TARGET_DIR:-target}/test-plugins/`), on the same seeded resources; before the
//! `captures` sequence one real worker runs the queued jobs, and
//! `conformance::fake_transcripts` plays that worker on the fake. The fake's transcript is
//! the scenario's expectation, so any line where the two hosts answer
//! differently fails the step with both answers side by side.

use std::path::{Path, PathBuf};

use backup_gateway_sdk::conformance::{self, ORG, RESOURCES, SEQUENCES, SUBJECT};

/// Every source's content.
const DISK: &[u8] = b"disk";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// A scenario seeding the real host as `conformance::seeded_fake` seeds the fake, expecting
/// each of the fake's transcripts.
fn scenario(transcripts: &[(&str, Vec<String>)]) -> String {
    let mut s = String::from(
        "[setup.jobs]\nconcurrency = 0   # no workers: jobs stay as the sequences leave them\n\n",
    );
    for org in ["acme", "other"] {
        s.push_str(&format!("[[setup.orgs]]\nid = \"{org}\"\n\n"));
    }
    s.push_str(&format!(
        "[[setup.credentials]]\norg = \"{ORG}\"\nplugin = \"conformance\"\nscheme = \"bearer\"\n\
         key = \"{SUBJECT}\"\nsecret = \"conformance-token\"\n\n"
    ));
    for seed in RESOURCES {
        s.push_str(&format!(
            "[[setup.resources]]\norg = \"{}\"\nplugin = \"conformance\"\nkind = \"{}\"\nid = \"{}\"\nname = \"{}\"\n",
            seed.org, seed.kind, seed.id, seed.name
        ));
        if seed.source {
            s.push_str("source = { file = \"disk.img\" }\n");
        }
        s.push('\n');
    }
    for (name, lines) in transcripts {
        let path = if *name == "unscoped" {
            format!("/conformance-public/{name}")
        } else {
            format!("/conformance/{name}")
        };
        let expected = serde_json::to_string(lines).unwrap_or_default();
        if *name == "captures" {
            // One worker runs the queued jobs to the end first.
            s.push_str(
                "[[steps]]
name = \"run the jobs\"
start_jobs = 1
wait_jobs = true

",
            );
        }
        s.push_str(&format!(
            "[[steps]]\nname = \"{name}\"\nmethod = \"GET\"\npath = \"{path}\"\nbearer = \"conformance-token\"\n\
             expect.status = 200\nexpect.json_text = '''{expected}'''\n\n"
        ));
    }
    s
}

#[test]
fn the_fake_host_answers_every_sequence_as_the_real_host_does() {
    let plugin = target_dir().join("test-plugins/conformance_plugin.wasm");
    assert!(
        plugin.exists(),
        "{} is missing: build the plugins first with `scripts/build-plugins`",
        plugin.display()
    );
    let transcripts = conformance::fake_transcripts(DISK.len() as u64);
    assert_eq!(transcripts.len(), SEQUENCES.len());
    assert!(
        transcripts.iter().all(|(_, lines)| lines.len() >= 8),
        "{transcripts:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("disk.img"), DISK).expect("fixture");
    let path = dir.path().join("parity.toml");
    std::fs::write(&path, scenario(&transcripts)).expect("writing the scenario");
    let options = harness::Options {
        keep_going: true,
        ..harness::Options::default()
    };
    let report = harness::run_scenario(&plugin, &path, &options);
    assert!(
        report.passed(),
        "the fake host and the real one differ:\n{report}"
    );
    assert_eq!(report.steps.len(), SEQUENCES.len() + 1, "{report}");
}
