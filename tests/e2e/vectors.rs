//! The checked-in protocol vectors against independent Python recomputations
//! (`tests/reference/*.py`, standard library only, written from the specifications).
//!
//! The Rust tests check that the files are what the code generates; these check that what
//! the code generates is what the specifications say, so a bug shared by the generator and
//! the code it calls cannot hide.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const REFERENCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference");
const VECTORS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol-docs/vectors");

/// How many vectors a file holds: the length of its array, or of the array under `key`.
fn vector_count(file: &str, key: Option<&str>) -> usize {
    let path = Path::new(VECTORS_DIR).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text).expect("vector files are JSON");
    let vectors = match key {
        Some(key) => &value[key],
        None => &value,
    };
    vectors.as_array().unwrap_or_else(|| panic!("{file}: no array of vectors")).len()
}

/// Runs `tests/reference/<script> <vectors dir>`, requires it to succeed, and returns how
/// many vectors it says it checked, per file.
fn run_reference(script: &str) -> Vec<(String, usize)> {
    let path = PathBuf::from(REFERENCE_DIR).join(script);
    let output = Command::new("python3")
        .arg(&path)
        .arg(VECTORS_DIR)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} found vectors that do not recompute ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| {
            let mut words = line.split(' ');
            let (Some("checked"), Some(count), Some(file), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                panic!("{script} printed an unexpected line: {line}");
            };
            (file.to_owned(), count.parse().expect("a count"))
        })
        .collect()
}

/// Requires `script` to have checked exactly the vectors of `files`, every one of them.
fn assert_checked_all(script: &str, files: &[(&str, Option<&str>)]) {
    let checked = run_reference(script);
    let want: Vec<(String, usize)> =
        files.iter().map(|(file, key)| ((*file).to_owned(), vector_count(file, *key))).collect();
    assert!(want.iter().all(|(_, count)| *count > 0), "a vector file is empty: {want:?}");
    assert_eq!(checked, want, "{script} did not check every vector");
}

#[test]
fn tokens_and_key_check_values_of_every_suite_recompute_in_python() {
    assert_checked_all("tokens.py", &[("tokens.json", None), ("key-check.json", None)]);
}

#[test]
fn sealed_epochs_statements_sealed_values_and_signed_jobs_recompute_in_python() {
    assert_checked_all(
        "sealing.py",
        &[
            ("sealed-epoch.json", Some("cases")),
            ("statements.json", Some("cases")),
            ("field-seal.json", Some("cases")),
            ("job-signature.json", Some("cases")),
        ],
    );
}

#[test]
fn the_audit_chain_recomputes_in_python() {
    assert_checked_all("audit.py", &[("audit.json", Some("records"))]);
}

#[test]
fn identity_number_vectors_agree_with_the_independent_checker() {
    assert_checked_all("idnum_vectors.py", &[("idnum.json", Some("cases"))]);
}
