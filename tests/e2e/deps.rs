//! The dependency graph keeps its promises: the core crate stays sans-IO, OpenCC is used
//! only by tests, every crate we ship under MIT OR Apache-2.0 carries a licence `deny.toml`
//! allows, and none that it bans is shipped (`cargo deny check licenses bans` with nothing
//! but cargo).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// The licence and ban policy, `deny.toml`: the one list, read here so that CI enforces it
/// with nothing but cargo (and `cargo deny check` reads the same file where it is installed).
struct Policy {
    allowed_licences: Vec<String>,
    banned_crates: Vec<String>,
}

fn policy() -> Policy {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deny.toml")).expect("read deny.toml");
    let table: toml::Table = text.parse().expect("deny.toml is TOML");
    let strings = |value: &toml::Value| -> Vec<String> {
        value.as_array().expect("a list").iter().map(|v| v.as_str().expect("a string").to_owned()).collect()
    };
    let allowed_licences = strings(&table["licenses"]["allow"]);
    let banned_crates = table["bans"]["deny"]
        .as_array()
        .expect("[bans] deny is a list")
        .iter()
        .map(|entry| entry["name"].as_str().expect("a banned crate has a name").to_owned())
        .collect();
    Policy { allowed_licences, banned_crates }
}

/// Crates that do I/O or run an event loop: none may reach the core crate.
const FORBIDDEN_IN_CORE: &[&str] =
    &["tokio", "axum", "hyper", "rusqlite", "libsqlite3-sys", "reqwest", "mio", "calamine"];

/// The platform we build for: other platforms' crates (winapi, …) are never shipped here
/// and may not even be downloaded.
fn host_triple() -> String {
    let output = Command::new("rustc").arg("-vV").output().expect("run rustc -vV");
    let text = String::from_utf8(output.stdout).expect("rustc -vV prints UTF-8");
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").to_owned()
}

fn metadata() -> Value {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", &host_triple()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

fn package_names(metadata: &Value) -> HashMap<&str, &str> {
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect()
}

/// Package ids reachable from `root` through normal and build dependencies (not dev).
fn shipped_dependencies<'a>(metadata: &'a Value, root: &str) -> BTreeSet<&'a str> {
    let names = package_names(metadata);
    let nodes: HashMap<&str, &Value> =
        metadata["resolve"]["nodes"].as_array().unwrap().iter().map(|n| (n["id"].as_str().unwrap(), n)).collect();
    let root_id = *names.iter().find(|(_, name)| **name == root).expect("root package in metadata").0;
    let mut seen = BTreeSet::new();
    let mut stack = vec![root_id];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let shipped = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"] != "dev");
            if shipped {
                stack.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    seen
}

#[test]
fn core_crate_never_depends_on_io_crates() {
    let metadata = metadata();
    let names = package_names(&metadata);
    let reached: BTreeSet<&str> = shipped_dependencies(&metadata, "bidui-core").iter().map(|id| names[id]).collect();
    assert!(reached.contains("ring"), "the dependency walk found nothing: {reached:?}");
    let forbidden: Vec<_> = FORBIDDEN_IN_CORE.iter().filter(|name| reached.contains(*name)).collect();
    assert!(forbidden.is_empty(), "bidui-core must stay sans-IO but depends on {forbidden:?}");
}

/// The traditional→simplified name table is protocol data (`protocol-docs/name-t2s.txt`):
/// computing it at run time from an OpenCC crate would let two agents built with different
/// versions disagree on a canonical name. The crate stays a dev-dependency, for the tests
/// that check and regenerate the file and for bidui-synth's tests.
#[test]
fn opencc_is_only_a_test_dependency() {
    let metadata = metadata();
    let names = package_names(&metadata);
    for root in ["bidui-core", "bidui-synth", "bidui"] {
        let reached: BTreeSet<&str> = shipped_dependencies(&metadata, root).iter().map(|id| names[id]).collect();
        assert!(
            reached.contains("unicode-normalization"),
            "the dependency walk from {root} found nothing: {reached:?}"
        );
        assert!(!reached.contains("ferrous-opencc"), "{root} ships ferrous-opencc; read the name table instead");
    }
}

/// The custodian's crate signs statements and writes key files; the binary delivers what
/// it signs. An HTTP client and a TLS stack there would be code it links and never uses.
const FORBIDDEN_IN_CUSTODIAN: &[&str] = &["ureq", "rustls", "hyper", "reqwest", "tokio"];

#[test]
fn custodian_crate_links_no_http_or_tls() {
    let metadata = metadata();
    let names = package_names(&metadata);
    let reached: BTreeSet<&str> = shipped_dependencies(&metadata, "bidui-keys").iter().map(|id| names[id]).collect();
    assert!(reached.contains("bidui-keyfile"), "the dependency walk found nothing: {reached:?}");
    let forbidden: Vec<_> = FORBIDDEN_IN_CUSTODIAN.iter().filter(|name| reached.contains(*name)).collect();
    assert!(forbidden.is_empty(), "bidui-keys must not depend on {forbidden:?}");
}

/// An SPDX expression is acceptable when one `OR` alternative has only allowed `AND` terms.
fn licence_allowed(allowed: &[String], expression: &str) -> bool {
    let expression = expression.replace(['(', ')'], " ").replace('/', " OR ");
    expression.split(" OR ").any(|alternative| {
        alternative.split(" AND ").all(|term| allowed.contains(&term.split_whitespace().collect::<Vec<_>>().join(" ")))
    })
}

#[test]
fn every_shipped_crate_has_a_permissive_licence() {
    let metadata = metadata();
    let allowed = policy().allowed_licences;
    let shipped = shipped_dependencies(&metadata, "bidui");
    let mut refused = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        if !shipped.contains(package["id"].as_str().unwrap()) {
            continue;
        }
        let licence = package["license"].as_str().unwrap_or("");
        if !licence_allowed(&allowed, licence) {
            refused.push(format!("{} {}: {licence:?}", package["name"], package["version"]));
        }
    }
    assert!(shipped.len() > 20, "the dependency walk found too little: {}", shipped.len());
    assert!(refused.is_empty(), "crates whose licence is not on the allow list:\n{}", refused.join("\n"));
}

#[test]
fn licence_expressions_are_read_as_spdx() {
    let allowed = policy().allowed_licences;
    assert!(licence_allowed(&allowed, "MIT OR Apache-2.0"));
    assert!(licence_allowed(&allowed, "Apache-2.0 AND ISC"));
    assert!(licence_allowed(&allowed, "(MIT OR Apache-2.0) AND Unicode-3.0"));
    assert!(licence_allowed(&allowed, "MIT/Apache-2.0"));
    assert!(!licence_allowed(&allowed, "GPL-2.0-or-later"));
    assert!(!licence_allowed(&allowed, "MIT AND GPL-3.0"));
    assert!(!licence_allowed(&allowed, ""));
}

#[test]
fn no_banned_crate_is_shipped() {
    let Policy { banned_crates, .. } = policy();
    assert!(banned_crates.iter().any(|name| name == "aws-lc-sys"), "deny.toml bans nothing: {banned_crates:?}");
    let metadata = metadata();
    let names = package_names(&metadata);
    let shipped: BTreeSet<&str> = shipped_dependencies(&metadata, "bidui").iter().map(|id| names[id]).collect();
    let banned: Vec<_> = banned_crates.iter().filter(|name| shipped.contains(name.as_str())).collect();
    assert!(banned.is_empty(), "deny.toml bans these, yet bidui ships them: {banned:?}");
}

/// Unsafe code is allowed in one module of the core (the SHA-NI lanes, where the core
/// `#![deny(unsafe_code)]`s everything else) and forbidden in every other crate's root,
/// so a new `unsafe` block anywhere else fails to compile.
#[test]
fn every_crate_but_the_core_forbids_unsafe_code() {
    let metadata = metadata();
    let members: BTreeSet<&str> =
        metadata["workspace_members"].as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect();
    let mut checked = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        if !members.contains(package["id"].as_str().unwrap()) {
            continue;
        }
        let name = package["name"].as_str().unwrap();
        for target in package["targets"].as_array().unwrap() {
            let kinds: Vec<&str> = target["kind"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
            if !kinds.iter().any(|k| *k == "lib" || *k == "bin") {
                continue;
            }
            let path = target["src_path"].as_str().unwrap();
            let root = std::fs::read_to_string(path).unwrap();
            let wanted = if name == "bidui-core" { "#![deny(unsafe_code, " } else { "#![forbid(unsafe_code)]" };
            assert!(root.contains(wanted), "{path} ({name}) must say {wanted}");
            checked.push(name);
        }
    }
    assert!(checked.len() >= 10, "too few crate roots checked: {checked:?}");
}
