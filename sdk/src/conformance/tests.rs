//! The sequences on the fake host: each runs, and the lines that pin the 1.1 features (the
//! attribute filter, the kind filter, deletes at a revision, reads that answer a result)
//! say what the real host must say too.

use super::{SEQUENCES, fake_transcripts, run, seeded_fake};

/// Every sequence's transcript on the fake, with 4-byte sources.
fn transcripts() -> Vec<(&'static str, Vec<String>)> {
    fake_transcripts(4)
}

/// The lines of sequence `name`.
fn lines(all: &[(&str, Vec<String>)], name: &str) -> Vec<String> {
    all.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| l.clone())
        .unwrap_or_default()
}

/// Assert that sequence `name` says each of `expected`, in this order.
fn says(all: &[(&str, Vec<String>)], name: &str, expected: &[&str]) {
    let got = lines(all, name);
    let mut rest = got.iter();
    for line in expected {
        assert!(
            rest.any(|l| l == line),
            "{name} does not say {line:?} (in order); it says:\n{}",
            got.join("\n")
        );
    }
}

const BAD_KEY: &str = "invalid: attribute key must be 1-64 of [A-Za-z0-9._-]";

#[test]
fn every_sequence_runs_on_the_fake() {
    let all = transcripts();
    assert_eq!(all.len(), SEQUENCES.len());
    for (name, lines) in &all {
        assert!(lines.len() >= 8, "{name}: {lines:?}");
    }
    assert!(run(&seeded_fake(), "nope").is_none());
}

#[test]
fn the_attribute_filter_matches_top_level_strings_only() {
    let all = transcripts();
    says(
        &all,
        "resources",
        &[
            "site=12 -> ok s12",
            "rack=7 (a number in s12) -> ok s12n",
            "tag is empty -> ok s7",
            "dotted key, top level only -> ok s12",
            "nested object -> ok ",
            "site=12 limit 1 -> ok s12",
            "site=12 after s12 -> ok s12b",
            &format!("empty key -> {BAD_KEY}"),
            &format!("key with a space -> {BAD_KEY}"),
            "key of 64 -> ok ",
            &format!("key of 65 -> {BAD_KEY}"),
            "key of a dot -> ok ",
            &format!("non-ASCII key -> {BAD_KEY}"),
        ],
    );
}

#[test]
fn the_kind_filter_keeps_only_the_kinds_asked_for() {
    let all = transcripts();
    says(&all, "jobs", &["list restores (none yet) -> ok "]);
    says(
        &all,
        "captures",
        &[
            "list restores -> ok #5 JobKind::Restore d2",
            "list captures -> ok #4 JobKind::Capture d1,#3 JobKind::Capture d2,\
             #2 JobKind::Capture d1,#1 JobKind::Capture d1",
        ],
    );
}

#[test]
fn a_delete_at_a_revision_deletes_only_that_revision() {
    let all = transcripts();
    says(
        &all,
        "documents",
        &[
            "delete a at a wrong revision -> conflict: revision mismatch",
            "delete a at revision 0 -> conflict: revision mismatch",
            "a after refused deletes -> ok Some(\"a rev=3 [3]\")",
            "delete a at its revision -> ok true",
            "delete a at its revision again -> ok false",
            "delete missing at revision 0 -> ok false",
            "get deleted a -> ok None",
        ],
    );
}

#[test]
fn unscoped_reads_are_not_found_not_empty() {
    let all = transcripts();
    says(
        &all,
        "unscoped",
        &[
            "resource -> not-found",
            "resources -> not-found",
            "jobs -> not-found",
            "job by seq -> not-found",
            "document -> not-found",
            "documents -> not-found",
            "delete at a revision -> not-found",
            "next in sequence -> not-found",
        ],
    );
}
