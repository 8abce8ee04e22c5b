//! A whole comparison on a generated district through the real binary: `bidui demo` runs
//! the matcher on loopback and one agent process per party, with every byte the agents
//! send captured by a proxy. The results are checked against the generator's ground
//! truth, and every file the matcher wrote is searched for raw identity numbers.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;

use bidui_core::api::JobResults;
use bidui_synth::GroundTruth;

use crate::bidui_exe;

/// What one demo run left behind, shared by the tests of this module.
pub(crate) struct District {
    pub(crate) dir: PathBuf,
    pub(crate) truth: GroundTruth,
    pub(crate) results: JobResults,
    /// Every byte the agents sent to the matcher.
    pub(crate) agent_bytes: Vec<u8>,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Forwards connections to `target`, recording what clients send.
pub(crate) fn capturing_proxy(target: u16) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let captured = Arc::new(Mutex::new(Vec::new()));
    let sink = captured.clone();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
            let sink = sink.clone();
            let (mut client_read, mut server_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = client_read.read(&mut buf) {
                    if n == 0 || server_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                let _ = server_write.shutdown(std::net::Shutdown::Write);
            });
            let (mut server_read, mut client_write) = (server, client);
            thread::spawn(move || {
                let _ = std::io::copy(&mut server_read, &mut client_write);
                let _ = client_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, captured)
}

pub(crate) fn district() -> &'static District {
    static DISTRICT: OnceLock<District> = OnceLock::new();
    DISTRICT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("bidui-e2e-district-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let matcher_port = free_port();
        let (proxy_port, captured) = capturing_proxy(matcher_port);
        // Plain HTTP, so that the capture can be searched for raw identity numbers; the
        // same demo over TLS is `tls.rs`'s.
        let output = Command::new(bidui_exe())
            .args(["demo", "--insecure-http", "--registry", "600", "--population", "3000", "--dir"])
            .arg(&dir)
            .args(["--listen", &format!("127.0.0.1:{matcher_port}")])
            .args(["--agents-via", &format!("http://127.0.0.1:{proxy_port}")])
            .output()
            .expect("run bidui demo");
        assert!(
            output.status.success(),
            "bidui demo failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let truth: GroundTruth =
            serde_json::from_slice(&std::fs::read(dir.join("data/ground-truth.json")).unwrap()).unwrap();
        let results: JobResults =
            serde_json::from_slice(&std::fs::read(dir.join("report/results.json")).unwrap()).unwrap();
        let agent_bytes = captured.lock().unwrap().clone();
        District { dir, truth, results, agent_bytes }
    })
}

fn department_name(department: &bidui_synth::Department) -> String {
    serde_json::to_value(department).unwrap().as_str().unwrap().to_owned()
}

#[test]
fn every_true_match_is_found_and_no_false_one() {
    let d = district();
    let rows: BTreeMap<u32, _> = d.results.rows.iter().map(|r| (r.row, r)).collect();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for truth in &d.truth.registry {
        let Some(result) = rows.get(&(truth.row as u32)) else {
            // A row with neither a valid number nor a name, birth date and sex sends nothing.
            assert_ne!(truth.id_outcome, "OK", "registry row {} is missing from the results", truth.row);
            continue;
        };
        assert_eq!(result.id_valid, truth.id_outcome == "OK", "registry row {}", truth.row);
        for department in &d.results.departments {
            let appearances = truth.appearances.iter().find(|(k, _)| department_name(k) == *department).map(|(_, v)| v);
            let expected = truth.id_correct && appearances.is_some_and(|a| a.iter().any(|a| a.id_correct));
            let found = result.departments[department].found;
            if found != expected {
                mismatches.push(format!("row {} in {department}: found {found}, expected {expected}", truth.row));
            }
            checked += 1;
        }
    }
    assert!(checked > 4000, "too few comparisons: {checked}");
    assert!(
        mismatches.is_empty(),
        "{} wrong findings, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
}

#[test]
fn registry_duplicates_are_found_exactly() {
    let d = district();
    let expected: BTreeSet<Vec<u32>> = d
        .truth
        .duplicates
        .iter()
        .filter(|g| g.detectable_by_id)
        .map(|g| g.rows.iter().map(|&r| r as u32).collect())
        .collect();
    let mut found = BTreeSet::new();
    for row in d.results.rows.iter().filter(|r| !r.duplicate_rows.is_empty()) {
        let mut group: Vec<u32> = row.duplicate_rows.clone();
        group.push(row.row);
        group.sort();
        found.insert(group);
    }
    assert!(!expected.is_empty(), "the district has no detectable duplicates to find");
    assert!(
        d.truth.duplicates.iter().any(|g| g.different_towns && g.detectable_by_id),
        "no cross-town duplicate in the district"
    );
    assert_eq!(found, expected);
}

#[test]
fn deceased_but_active_are_found_exactly() {
    let d = district();
    let correct: HashSet<u64> = d.truth.registry.iter().filter(|r| r.id_correct).map(|r| r.row).collect();
    let expected: BTreeSet<u32> = d
        .truth
        .deceased_active
        .iter()
        .flat_map(|case| case.registry_rows.iter().copied())
        .filter(|row| correct.contains(row))
        .map(|r| r as u32)
        .collect();
    let found: BTreeSet<u32> = d
        .results
        .rows
        .iter()
        .filter(|r| {
            r.departments["household"].released.get("household_status").is_some_and(|v| v.iter().any(|s| s == "死亡"))
        })
        .map(|r| r.row)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
}

#[test]
fn invalid_identity_numbers_are_counted_and_reported_locally_by_row() {
    let d = district();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for row in d.truth.registry.iter().filter(|r| r.id_outcome != "OK") {
        *expected.entry(row.id_outcome.clone()).or_default() += 1;
    }
    assert_eq!(d.results.summary.invalid_ids, expected);
    // The requester's agent keeps the rows, with their numbers and codes, locally.
    let local =
        std::fs::read_to_string(d.dir.join("agents/veterans/state/zc-2019-stage2-demo/invalid-rows.csv")).unwrap();
    let listed: BTreeSet<(u64, String)> = local
        .lines()
        .skip(1)
        .map(|line| {
            let (row, code) = line.split_once(',').unwrap();
            (row.parse().unwrap(), code.to_owned())
        })
        .collect();
    let truth: BTreeSet<(u64, String)> =
        d.truth.registry.iter().filter(|r| r.id_outcome != "OK").map(|r| (r.row, r.id_outcome.clone())).collect();
    assert_eq!(listed, truth);
}

/// Every raw identity number of the district, in the forms a leak could take.
fn identity_needles(d: &District) -> HashSet<Vec<u8>> {
    let mut ids: BTreeSet<String> = d.truth.registry.iter().map(|r| r.identity.clone()).collect();
    let household = std::fs::read_to_string(d.dir.join("data/household.csv")).unwrap();
    let column = household.lines().next().unwrap().split(',').position(|h| h == "身份证号").unwrap();
    for line in household.lines().skip(1) {
        let cell: String =
            line.split(',').nth(column).unwrap_or("").chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        if cell.len() == 18 {
            ids.insert(cell.to_uppercase());
        }
    }
    assert!(ids.len() > 3000, "too few identity numbers to look for: {}", ids.len());
    let mut needles = HashSet::new();
    for id in ids {
        let old = format!("{}{}", &id[..6], &id[8..17]);
        needles.insert(id.as_bytes().to_vec());
        needles.insert(old.into_bytes());
        needles.insert(hex_upper(id.as_bytes()).into_bytes());
        needles.insert(hex_upper(id.as_bytes()).to_lowercase().into_bytes());
    }
    needles
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Finds any needle in `haystack`: every needle is a run of digits (and `X`) or of hex
/// digits, so candidate runs are cut at other bytes and looked up.
fn leaks(haystack: &[u8], needles: &HashSet<Vec<u8>>) -> Vec<String> {
    let lengths: BTreeSet<usize> = needles.iter().map(Vec::len).collect();
    let mut found = Vec::new();
    for window_len in lengths {
        for start in 0..haystack.len().saturating_sub(window_len - 1) {
            let window = &haystack[start..start + window_len];
            if window[0].is_ascii_hexdigit() && needles.contains(window) {
                found.push(String::from_utf8_lossy(window).into_owned());
            }
        }
    }
    found
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn no_raw_identity_number_reaches_the_wire_or_the_matchers_files() {
    let d = district();
    let needles = identity_needles(d);
    // The scan finds what it looks for: the department's own file is full of them.
    assert!(!leaks(&std::fs::read(d.dir.join("data/household.csv")).unwrap()[..20_000], &needles).is_empty());

    assert!(d.agent_bytes.len() > 100_000, "the proxy captured too little: {} bytes", d.agent_bytes.len());
    let on_wire = leaks(&d.agent_bytes, &needles);
    assert!(on_wire.is_empty(), "raw identity numbers on the wire: {:?}", &on_wire[..on_wire.len().min(5)]);

    let mut scanned = Vec::new();
    for path in files_under(&d.dir.join("matcher")).into_iter().chain(files_under(&d.dir.join("report"))) {
        let bytes = std::fs::read(&path).unwrap();
        let found = leaks(&bytes, &needles);
        assert!(found.is_empty(), "{} holds raw identity numbers: {:?}", path.display(), &found[..found.len().min(5)]);
        scanned.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    for expected in ["matcher.db", "matcher.log", "results.json", "results.csv"] {
        assert!(scanned.iter().any(|s| s == expected), "{expected} was not scanned: {scanned:?}");
    }
}

#[test]
fn no_epoch_secret_reaches_the_matcher() {
    let d = district();
    let epoch = std::fs::read_to_string(d.dir.join("test-epoch-1.toml")).unwrap();
    let secret = epoch.lines().find_map(|l| l.strip_prefix("secret = \"")).unwrap().trim_end_matches('"').to_owned();
    let raw =
        (0..secret.len()).step_by(2).map(|i| u8::from_str_radix(&secret[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    for path in files_under(&d.dir.join("matcher")) {
        let bytes = std::fs::read(&path).unwrap();
        for needle in [secret.as_bytes(), secret.to_uppercase().as_bytes(), &raw[..]] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{} holds the epoch secret", path.display());
        }
    }
    assert!(!d.agent_bytes.windows(raw.len()).any(|w| w == raw.as_slice()));
    assert!(!d.agent_bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

#[test]
fn fields_are_released_only_for_matched_rows_and_every_release_is_logged() {
    let d = district();
    for row in &d.results.rows {
        for (department, finding) in &row.departments {
            assert!(
                finding.found || finding.released.is_empty(),
                "row {} got {department} fields without a match",
                row.row
            );
        }
    }
    let released_somewhere =
        d.results.rows.iter().filter(|r| r.departments.values().any(|f| !f.released.is_empty())).count();
    assert!(released_somewhere > 500, "too few releases to mean anything: {released_somewhere}");
    // The agents' own release logs: one line per party, naming job, purpose and fields.
    for party in ["veterans", "household", "social-security", "assistance"] {
        let log = std::fs::read_to_string(d.dir.join(format!("agents/{party}/state/release-log.jsonl"))).unwrap();
        let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
        assert_eq!(entry["job"], "zc-2019-stage2-demo");
        assert!(entry["purpose"].as_str().unwrap().contains("比对"));
        assert!(entry["records_released"].as_u64().unwrap() > 0, "{party}: {entry}");
    }
}
