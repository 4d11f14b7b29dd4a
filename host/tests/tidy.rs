//! House rules that the compiler does not check, checked over `host/src`:
//!
//! - every module opens with its `//!` documentation;
//! - the core is provider-neutral and unaware of the edge: `ingest`, `store`, `jobs`,
//!   `ratelimit`, `auth`, `keys`, `lease`, `limits`, `services` and the control plane
//!   (`control`, whose HTTP face is `admin`) name nothing of
//!   `crate::http`, `crate::gateway`, `crate::plugins` (the runtime and its WIT bindings)
//!   or `axum`. The dependency direction is edge → runtime → core, never back.

use std::path::{Path, PathBuf};

/// The core: modules (a folder or a file under `host/src`) that must stay provider-neutral.
const CORE: &[&str] = &[
    "ingest",
    "store",
    "jobs",
    "ratelimit",
    "auth",
    "keys",
    "lease",
    "limits",
    "services",
    "control",
];

/// What the core must not name.
const FORBIDDEN: &[&str] = &[
    "crate::http",
    "crate::admin",
    "crate::gateway",
    "crate::plugins",
    "axum",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read host/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether the file opens with `//!` (blank lines aside).
fn documented(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with("//!"))
}

/// The forbidden names `text` uses in code (comments are not code), with line numbers.
fn forbidden_uses(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for name in FORBIDDEN {
            let hit = code.match_indices(name).any(|(at, _)| {
                // a whole path segment: `axum::` or `axum;`, not `my_axum`
                let before = code[..at].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    && !code[at + name.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if hit {
                found.push((i + 1, *name));
            }
        }
    }
    found
}

fn is_core(rel: &Path) -> bool {
    let first = rel.components().next().and_then(|c| c.as_os_str().to_str());
    first.is_some_and(|f| CORE.contains(&f.trim_end_matches(".rs")))
}

#[test]
fn every_module_has_its_doc_line() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 40, "found only {} files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|p| !documented(&std::fs::read_to_string(p).expect("read")))
        .map(|p| p.strip_prefix(src()).unwrap_or(p).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` line: {missing:?}"
    );
}

#[test]
fn the_core_names_nothing_of_the_edge_or_the_runtime() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let core: Vec<_> = files
        .iter()
        .filter(|p| is_core(p.strip_prefix(src()).unwrap_or(p)))
        .collect();
    assert!(core.len() >= CORE.len(), "core files: {core:?}");
    let mut violations = Vec::new();
    for path in core {
        let text = std::fs::read_to_string(path).expect("read");
        for (line, name) in forbidden_uses(&text) {
            let rel = path.strip_prefix(src()).unwrap_or(path).display();
            violations.push(format!("{rel}:{line} names {name}"));
        }
    }
    assert!(
        violations.is_empty(),
        "the core must stay provider-neutral and unaware of HTTP:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_are_for() {
    assert!(documented("\n//! A module.\nuse x;"));
    assert!(!documented("/// An item.\nfn f() {}"));
    assert!(!documented("use x;\n//! late"));
    let text = "use crate::http::Gateway;\n\
                // crate::plugins in a comment is fine\n\
                let r: axum::Router = todo!();\n\
                use my_axum_helpers::X;\n\
                use crate::gateway;\n";
    assert_eq!(
        forbidden_uses(text),
        vec![(1, "crate::http"), (3, "axum"), (5, "crate::gateway")]
    );
    assert!(is_core(Path::new("ingest/write.rs")));
    assert!(is_core(Path::new("keys.rs")));
    assert!(!is_core(Path::new("http/upload.rs")));
    assert!(!is_core(Path::new("gateway/mod.rs")));
}
