//! A whole comparison on a generated district through the real binary: `bidui demo` runs
//! the matcher on loopback and one agent process per party, every exchange recorded by a
//! proxy. The results are checked against the generator's ground truth; every file the
//! matcher wrote and every byte on the wire is searched for raw identity numbers and for
//! the values the requester opened. A second run on another registry, behind a proxy
//! playing a dishonest matcher, shows what departments and the requester cannot learn.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;

use bidui_core::api::{JobResults, JobSpec};
use bidui_core::wire::Chunk;
use bidui_synth::GroundTruth;

use crate::bidui_exe;
use crate::proxy::{Exchange, Proxy, Rewrite};

/// What one demo run left behind, shared by the tests of this module.
pub(crate) struct District {
    pub(crate) dir: PathBuf,
    pub(crate) truth: GroundTruth,
    /// The results the requester's agent opened (the report's input).
    pub(crate) results: JobResults,
    /// Every exchange between the agents and the matcher.
    pub(crate) exchanges: Vec<Exchange>,
    /// Every byte of every request and response body, both ways.
    pub(crate) agent_bytes: Vec<u8>,
}

pub(crate) const JOB: &str = "zc-2019-stage2-demo";
const REQUESTER: &str = "veterans";

fn wire_bytes(exchanges: &[Exchange]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for e in exchanges {
        bytes.extend_from_slice(e.path.as_bytes());
        bytes.extend_from_slice(&e.request_body);
        bytes.extend_from_slice(&e.response_body);
    }
    bytes
}

/// Runs `bidui demo --insecure-http` in `dir` with the agents behind a proxy.
fn run_demo(dir: &Path, extra: &[&str], rewrite: Option<Rewrite>) -> Vec<Exchange> {
    let matcher_port = free_port();
    let proxy = Proxy::start(matcher_port, rewrite);
    // Plain HTTP, so that the proxy can read and search everything; the same demo over
    // TLS is `tls.rs`'s.
    let output = Command::new(bidui_exe())
        .args(["demo", "--insecure-http", "--registry", "600", "--population", "3000", "--dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{matcher_port}")])
        .args(["--agents-via", &proxy.url()])
        .args(extra)
        .output()
        .expect("run bidui demo");
    assert!(
        output.status.success(),
        "bidui demo failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    proxy.exchanges()
}

fn read_results(dir: &Path) -> JobResults {
    serde_json::from_slice(&std::fs::read(dir.join("report/results.json")).unwrap()).unwrap()
}

pub(crate) fn job_spec(dir: &Path) -> JobSpec {
    toml::from_str(&std::fs::read_to_string(dir.join("job.toml")).unwrap()).unwrap()
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
        let exchanges = run_demo(&dir, &[], None);
        let truth: GroundTruth =
            serde_json::from_slice(&std::fs::read(dir.join("data/ground-truth.json")).unwrap()).unwrap();
        let results = read_results(&dir);
        let agent_bytes = wire_bytes(&exchanges);
        District { dir, truth, results, exchanges, agent_bytes }
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

    // The report is the requester's own: built on its side, its town workbooks name the
    // people to visit. Everything the matcher wrote is searched.
    let mut scanned = Vec::new();
    for path in files_under(&d.dir.join("matcher")) {
        let bytes = std::fs::read(&path).unwrap();
        let found = leaks(&bytes, &needles);
        assert!(found.is_empty(), "{} holds raw identity numbers: {:?}", path.display(), &found[..found.len().min(5)]);
        scanned.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    for expected in ["matcher.db", "matcher.log", "matcher.stderr"] {
        assert!(scanned.iter().any(|s| s == expected), "{expected} was not scanned: {scanned:?}");
    }
}

/// Every value the requester's agent opened or read from its registry, long enough to be
/// unmistakable, that the job spec itself does not contain.
fn value_needles(d: &District) -> BTreeSet<String> {
    let spec = std::fs::read_to_string(d.dir.join("job.toml")).unwrap();
    let mut values = BTreeSet::new();
    for row in &d.results.rows {
        values.extend(row.fields.values().cloned());
        for finding in row.departments.values() {
            values.extend(finding.released.values().flatten().cloned());
            values.extend(finding.probable_released.values().flatten().cloned());
        }
    }
    values.retain(|v| v.len() >= 8 && !spec.contains(v.as_str()));
    values
}

#[test]
fn no_value_and_no_registry_field_reaches_the_matcher_in_clear() {
    let d = district();
    let needles = value_needles(d);
    assert!(needles.len() > 1000, "too few values to look for: {}", needles.len());
    // Phones, addresses, amounts and petition demands of departments; the registry's
    // own phones and addresses.
    for field in ["phone", "address"] {
        let registry: Vec<&String> = d.results.rows.iter().filter_map(|r| r.fields.get(field)).collect();
        assert!(registry.iter().filter(|v| needles.contains(v.as_str())).count() > 300, "{field}");
    }
    let own = std::fs::read(d.dir.join("report/results.json")).unwrap();
    let needles: Vec<&String> = needles.iter().collect();
    let searcher = aho_corasick::AhoCorasick::new(&needles).unwrap();
    let search = |bytes: &[u8], what: &str| {
        if let Some(found) = searcher.find(bytes) {
            panic!("{what} holds the value {:?}", needles[found.pattern().as_usize()]);
        }
    };
    // The scan finds what it looks for: the requester's own results are full of them.
    assert!(searcher.find_iter(&own).count() > 1000);
    search(&d.agent_bytes, "the wire");
    let files = files_under(&d.dir.join("matcher"));
    assert!(files.iter().any(|f| f.ends_with("matcher.db")));
    for path in files {
        search(&std::fs::read(&path).unwrap(), &path.display().to_string());
    }
}

/// Each party's token records, decoded from the chunks it uploaded.
fn uploaded_chunks(d: &[Exchange], spec: &JobSpec) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for e in d.iter().filter(|e| e.method == "PUT" && e.path.contains("/submission/chunks/") && e.status < 300) {
        assert!(spec.role(&e.signer).is_some(), "{} is no party", e.signer);
        out.entry(e.signer.clone()).or_default().push(e.request_body.clone());
    }
    out
}

/// A set of identity tokens.
type TokenSet = HashSet<[u8; 16]>;

/// Identity tokens per department, and the requester's per department group.
fn identity_tokens(exchanges: &[Exchange], spec: &JobSpec) -> (BTreeMap<String, TokenSet>, Vec<TokenSet>) {
    let chunks = uploaded_chunks(exchanges, spec);
    let mut departments = BTreeMap::new();
    let mut requester = vec![HashSet::new(); spec.departments.len()];
    for (party, bodies) in &chunks {
        let layout = spec.layout(party).unwrap();
        let mut after = 0;
        for body in bodies {
            let chunk = Chunk::decode(body, &layout, after).unwrap();
            after = chunk.last_row();
            for record in chunk.records() {
                if party != REQUESTER {
                    if record.id(0).0 != [0; 16] {
                        departments.entry(party.clone()).or_insert_with(HashSet::new).insert(record.id(0).0);
                    }
                    continue;
                }
                for (g, tokens) in requester.iter_mut().enumerate() {
                    if record.id(g).0 != [0; 16] {
                        tokens.insert(record.id(g).0);
                    }
                }
            }
        }
    }
    (departments, requester)
}

#[test]
fn departments_never_share_a_token_and_each_meets_the_registry_in_its_own_domain() {
    let d = district();
    let spec = job_spec(&d.dir);
    let (departments, requester) = identity_tokens(&d.exchanges, &spec);
    assert_eq!(departments.len(), spec.departments.len(), "every department uploaded");
    let parties: Vec<&String> = departments.keys().collect();
    for (i, a) in parties.iter().enumerate() {
        for b in &parties[i + 1..] {
            let shared = departments[*a].intersection(&departments[*b]).count();
            assert_eq!(shared, 0, "{a} and {b} share {shared} identity tokens: the matcher could link them");
        }
    }
    for (g, department) in spec.departments.iter().enumerate() {
        let met = departments[&department.party].intersection(&requester[g]).count();
        let found = d.results.summary.found[&department.party];
        assert!(
            met > 0 && met as u64 <= found,
            "{}: {met} tokens met the registry, {found} rows found",
            department.party
        );
        for (other, tokens) in &departments {
            if *other != department.party {
                assert_eq!(tokens.intersection(&requester[g]).count(), 0, "{other} in {}'s domain", department.party);
            }
        }
    }
}

#[test]
fn departments_are_never_asked_anything_about_rows() {
    let d = district();
    let spec = job_spec(&d.dir);
    let allowed = |e: &Exchange| {
        let job = format!("/v2/jobs/{JOB}");
        e.path == format!("{job}/assignment")
            || e.path == format!("{job}/submission")
            || e.path == format!("{job}/submission/seal")
            || e.path.starts_with(&format!("{job}/submission/chunks/"))
    };
    let mut asked = 0;
    for e in d.exchanges.iter().filter(|e| spec.department(&e.signer).is_some()) {
        assert!(allowed(e), "{} asked {} {}", e.signer, e.method, e.path);
        asked += 1;
    }
    assert!(asked >= 4 * spec.departments.len(), "{asked} department requests");
}

/// The same departments against another registry (a third of the rows dropped), behind a
/// proxy that plays a dishonest matcher: it adds, to every registry row the requester's
/// results name, sealed values of department rows that match nobody in the registry.
struct OtherRegistry {
    dir: PathBuf,
    exchanges: Vec<Exchange>,
    results: JobResults,
    injected: u64,
}

fn drop_every_third_registry_row(from: &Path, to: &Path) {
    use calamine::{Data, Reader};
    let mut workbook = calamine::open_workbook_auto(from).unwrap();
    let sheet = workbook.sheet_names()[0].clone();
    let range = workbook.worksheet_range(&sheet).unwrap();
    let mut out = rust_xlsxwriter::Workbook::new();
    let worksheet = out.add_worksheet().set_name(&sheet).unwrap();
    let kept = range.rows().enumerate().filter(|(i, _)| *i == 0 || i % 3 != 0).map(|(_, r)| r);
    for (r, row) in kept.enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Data::String(text) => worksheet.write_string(r, c, text).map(|_| ()).unwrap(),
                Data::Float(number) => worksheet.write_number(r, c, *number).map(|_| ()).unwrap(),
                Data::Int(number) => worksheet.write_number(r, c, *number as f64).map(|_| ()).unwrap(),
                Data::Empty => {}
                other => panic!("unexpected registry cell {other:?}"),
            }
        }
    }
    out.save(to).unwrap();
}

fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if skip(&path) {
            continue;
        }
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target, skip);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn forward_everything(injected: Arc<std::sync::atomic::AtomicU64>, spec: JobSpec) -> Rewrite {
    Arc::new(move |exchange: &Exchange, history: &[Exchange]| {
        if exchange.signer != REQUESTER || !exchange.path.ends_with("/results") || exchange.status != 200 {
            return None;
        }
        let (_, requester) = identity_tokens(history, &spec);
        let uploaded = uploaded_chunks(history, &spec);
        let mut results: serde_json::Value = serde_json::from_slice(&exchange.response_body).unwrap();
        let mut count = 0;
        for (g, department) in spec.departments.iter().enumerate() {
            // Sealed values of department rows that match no registry row.
            let mut strangers = Vec::new();
            let layout = spec.layout(&department.party).unwrap();
            if !layout.sealed {
                continue;
            }
            let mut after = 0;
            for body in uploaded.get(&department.party).into_iter().flatten() {
                let chunk = Chunk::decode(body, &layout, after).unwrap();
                after = chunk.last_row();
                for record in chunk.records() {
                    if record.id(0).0 != [0; 16] && !requester[g].contains(&record.id(0).0) {
                        strangers.push((
                            record.row(),
                            hex::encode(record.sealed_id()),
                            hex::encode(record.sealed_qid()),
                        ));
                    }
                }
            }
            assert!(!strangers.is_empty(), "{}: no department row outside the registry", department.party);
            for (i, row) in results["rows"].as_array_mut().unwrap().iter_mut().enumerate() {
                let finding = &mut row["departments"][&department.party];
                let sealed = finding.as_object_mut().unwrap().entry("sealed").or_insert(serde_json::json!([]));
                for k in 0..2 {
                    let (row, by_id, by_qid) = &strangers[(2 * i + k) % strangers.len()];
                    sealed.as_array_mut().unwrap().push(serde_json::json!({"row": row, "kind": "id", "sealed": by_id}));
                    count += 1;
                    if !by_qid.is_empty() {
                        let forged = serde_json::json!({"row": row, "kind": "qid", "sealed": by_qid});
                        sealed.as_array_mut().unwrap().push(forged);
                        count += 1;
                    }
                }
            }
        }
        injected.store(count, std::sync::atomic::Ordering::SeqCst);
        Some(serde_json::to_vec(&results).unwrap())
    })
}

fn other_registry() -> &'static OtherRegistry {
    static OTHER: OnceLock<OtherRegistry> = OnceLock::new();
    OTHER.get_or_init(|| {
        let first = district();
        let dir = std::env::temp_dir().join(format!("bidui-e2e-other-registry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The same keys, epoch, operator and departments' files; a fresh matcher and fresh
        // agent state; another registry.
        // Only what the demo wrote: the other tests work in folders of the district's
        // own, concurrently, and a file of theirs may vanish while it is copied.
        let demo_wrote = ["agents", "data", "operator", "job.toml", "test-epoch-1.toml"];
        let skip = |p: &Path| {
            let top_level = p.parent() == Some(first.dir.as_path());
            let name = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            (top_level && !demo_wrote.contains(&name)) || ["state", "registry.xlsx"].contains(&name)
        };
        copy_tree(&first.dir, &dir, &skip);
        drop_every_third_registry_row(&first.dir.join("data/registry.xlsx"), &dir.join("data/registry.xlsx"));
        let injected = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let rewrite = forward_everything(injected.clone(), job_spec(&first.dir));
        let exchanges = run_demo(&dir, &["--reuse-data"], Some(rewrite));
        let results = read_results(&dir);
        let injected = injected.load(std::sync::atomic::Ordering::SeqCst);
        OtherRegistry { dir, exchanges, results, injected }
    })
}

#[test]
fn no_department_receives_anything_that_depends_on_the_registry() {
    let (first, other) = (district(), other_registry());
    assert_ne!(first.results.summary.registry_rows, other.results.summary.registry_rows, "the registries differ");
    let spec = job_spec(&first.dir);
    assert_eq!(spec, job_spec(&other.dir), "the same job");
    // What a party received: each exchange less its request body (the party's own,
    // deterministic, tokens): method, path, status, response headers and body.
    let received = |exchanges: &[Exchange], party: &str| -> Vec<Exchange> {
        exchanges
            .iter()
            .filter(|e| e.signer == party)
            .map(|e| Exchange { request_body: Vec::new(), ..e.clone() })
            .collect()
    };
    for department in &spec.departments {
        let (a, b) = (received(&first.exchanges, &department.party), received(&other.exchanges, &department.party));
        assert!(a.len() >= 4, "{}: {} exchanges", department.party, a.len());
        assert_eq!(a, b, "{} received different bytes under another registry", department.party);
    }
    // The requester's own exchanges do differ: the control that the runs were not the same.
    assert_ne!(received(&first.exchanges, REQUESTER), received(&other.exchanges, REQUESTER));
}

#[test]
fn a_matcher_forwarding_other_peoples_sealed_values_gets_none_of_them_opened() {
    let other = other_registry();
    assert!(other.injected > 1000, "the dishonest proxy forwarded only {} sealed values", other.injected);
    assert_eq!(other.results.unopened, other.injected, "every forwarded stranger's value stays sealed");
    for row in &other.results.rows {
        for (department, finding) in &row.departments {
            assert!(finding.found || finding.released.is_empty(), "row {} opened {department} values", row.row);
            assert!(finding.probable_rows > 0 || finding.probable_released.is_empty(), "row {} {department}", row.row);
            assert!(finding.sealed.is_empty(), "row {}: sealed values left in the results", row.row);
        }
    }
    // The run itself is sound: values opened for the people who are in the registry.
    let opened = other.results.rows.iter().filter(|r| r.departments.values().any(|f| !f.released.is_empty())).count();
    assert!(opened > 300, "{opened} rows with opened values");
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
fn values_open_only_for_matched_rows_and_every_party_logs_what_left_it() {
    let d = district();
    for row in &d.results.rows {
        for (department, finding) in &row.departments {
            assert!(
                finding.found || finding.released.is_empty(),
                "row {} opened {department} values unmatched",
                row.row
            );
            assert!(finding.probable_rows > 0 || finding.probable_released.is_empty(), "row {} {department}", row.row);
        }
    }
    let opened = d.results.rows.iter().filter(|r| r.departments.values().any(|f| !f.released.is_empty())).count();
    assert!(opened > 500, "too few rows with opened values to mean anything: {opened}");
    // Probable matches show what the namesake's record says, for the visit.
    let probable = d.results.rows.iter().filter(|r| r.departments["household"].probable_rows > 0).collect::<Vec<_>>();
    let shown = probable.iter().filter(|r| !r.departments["household"].probable_released.is_empty()).count();
    assert!(!probable.is_empty() && shown == probable.len(), "{shown} of {} probable rows show values", probable.len());
    assert_eq!(d.results.unopened, 0, "an honest matcher forwards only what opens");
    // The agents' own logs: one line per party, naming job, purpose and what was sealed.
    for party in ["veterans", "household", "social-security", "assistance"] {
        let log = std::fs::read_to_string(d.dir.join(format!("agents/{party}/state/release-log.jsonl"))).unwrap();
        let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
        assert_eq!(entry["job"], JOB);
        assert!(entry["purpose"].as_str().unwrap().contains("比对"));
        assert!(entry["records_sent"].as_u64().unwrap() > 0, "{party}: {entry}");
        if party == REQUESTER {
            assert_eq!(entry["fields_sealed"], serde_json::json!([]), "the requester seals nothing: {entry}");
            assert!(entry["results_file"].as_str().unwrap().ends_with("results.json"), "{entry}");
        } else {
            assert!(!entry["fields_sealed"].as_array().unwrap().is_empty(), "{party}: {entry}");
        }
    }
}
