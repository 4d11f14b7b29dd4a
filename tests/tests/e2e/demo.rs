//! The demo's walkthrough, tried as written: the release binary started the way `scripts/demo`
//! starts it (`examples/demo.toml`, the built plugins, from the repository root) on a fresh
//! data directory and a free port; every line it prints pasted, provider by provider and in
//! order, into bash — with curl made to fail on any HTTP error — and each provider's answers
//! checked.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gateway_tests::target_dir;

/// The gateway as `scripts/demo` runs it; killed when dropped.
struct Demo {
    child: Child,
    printed: Vec<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Start the binary on `data` and read what it prints up to the walkthrough's last line.
fn start(data: &Path) -> Demo {
    let bin = target_dir().join("release/backup-gateway");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test",
        bin.display()
    );
    let port = gateway_tests::free_port();
    let mut child = Command::new(bin)
        .current_dir(root())
        .args(["serve", "--config", "examples/demo.toml", "--plugins-dir"])
        .arg(target_dir().join("plugins"))
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env(
            "BACKUP_GATEWAY_ADMIN__LISTEN",
            format!("127.0.0.1:{}", gateway_tests::free_port()),
        )
        // The compiled plugins of earlier runs, as the other end-to-end tests share them.
        .env(
            "BACKUP_GATEWAY_RUNTIME__CACHE_DIR",
            target_dir().join("test-cache"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the gateway starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line == backup_gateway::demo::END => break,
            Ok(line) => printed.push(line),
            Err(e) => panic!("the walkthrough did not end ({e}); printed so far:\n{printed:#?}"),
        }
    }
    Demo { child, printed }
}

/// The printed lines by provider: `# name: title` starts a section, a blank line ends it.
fn sections(printed: &[String]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in printed {
        if let Some(header) = line.strip_prefix("# ") {
            let name = header.split(':').next().unwrap_or_default().to_string();
            current = Some((name, Vec::new()));
        } else if line.is_empty() {
            out.extend(current.take());
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line.clone());
        }
    }
    out.extend(current);
    out
}

/// Paste `lines` into bash as a newcomer would, but stop at the first failing line, and let
/// curl fail on any HTTP error status. Returns what the shell printed (stdout and stderr).
fn paste(lines: &[String]) -> (bool, String) {
    let script = format!(
        "set -euo pipefail\ncurl() {{ command curl --fail-with-body --max-time 30 \"$@\"; }}\n{}\n",
        lines.join("\n")
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// What each provider's walkthrough must have answered.
fn expected(provider: &str) -> &'static [&'static str] {
    match provider {
        "appliance-collect" => &[
            "\"message\":\"backup stored\"",
            "\"message\":\"backups listed\"",
            "a demo backup",
            "\"message\":\"backup deleted\"",
        ],
        "altostrat" => &[
            "{\"message\":\"Backup requested\"}",
            "alto_file=",
            "\"content\":",
            "/system identity",
            "\"subnets\":",
        ],
        "hostup" => &[
            "\"status\":\"queued\"",
            "\"isCompleted\":true",
            "hostup_backup=bkp_",
            "HTTP 204",
            "\"backups\":[]",
        ],
        "bycloud" => &[
            "\"status\":\"creating\"",
            "\"status\":\"available\"",
            "\"volume_id\":\"550e8400-e29b-41d4-a716-446655440001\"",
            "HTTP 202",
        ],
        "jsa" => &[
            "\"status\":\"INITIALIZING\"",
            "\"status\":\"SUCCESS\"",
            "\"size_on_disk\":",
            "\"status\":\"DELETING\"",
        ],
        "admin" => &[
            "\"id\":\"demo\",\"name\":\"Demo Org\"",
            "\"usage\":[",
            "{\"tokens\":[]}",
            "\"actor\":\"config\",\"org\":\"demo\",\"action\":\"org.create\"",
        ],
        "hello" => &[
            "{\"greeting\":\"Hello, newcomer!\"}",
            "{\"echo\":{\"hello\":\"world\"}}",
        ],
        _ => &[],
    }
}

#[test]
fn the_demo_walkthrough_works_as_printed() {
    let data = tempfile::tempdir().expect("tempdir");
    let demo = start(data.path());
    let sections = sections(&demo.printed);
    let names: Vec<&str> = sections.iter().map(|(n, _)| n.as_str()).collect();
    for provider in [
        "appliance-collect",
        "altostrat",
        "hostup",
        "bycloud",
        "jsa",
        "hello",
        "admin",
    ] {
        assert!(
            names.contains(&provider),
            "no walkthrough for {provider}: {:#?}",
            demo.printed
        );
    }
    for (provider, lines) in &sections {
        let (ok, transcript) = paste(lines);
        assert!(
            ok,
            "{provider}: a line failed\n--- lines\n{}\n--- transcript\n{transcript}",
            lines.join("\n")
        );
        for needle in expected(provider) {
            assert!(
                transcript.contains(needle),
                "{provider}: {needle:?} not answered\n--- lines\n{}\n--- transcript\n{transcript}",
                lines.join("\n")
            );
        }
    }
}
