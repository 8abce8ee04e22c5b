//! TLS end to end, through the real binary: `bidui demo` over HTTPS with a pinned test
//! certificate (what the agents send is TLS records, nothing readable); an operator or
//! agent pinning another certificate is refused before sending anything, the right one
//! works; the HTTPS port answers plain HTTP with a refusal only; the TLS key is written
//! 0600 and never overwritten.
//!
//! `district.rs` runs the same demo on plain HTTP (`--insecure-http`) so that its capture
//! can be searched for raw identity numbers; this file shows the real deployment shape.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bidui_core::api::JobResults;

use crate::district::{capturing_proxy, free_port};
use crate::{bidui, bidui_exe, printed, MatcherProcess};

struct TlsDistrict {
    dir: PathBuf,
    results: JobResults,
    agent_bytes: Vec<u8>,
}

/// A small demo district over HTTPS, agents reaching the matcher through a proxy that
/// records the bytes they send.
fn tls_district() -> &'static TlsDistrict {
    static DISTRICT: OnceLock<TlsDistrict> = OnceLock::new();
    DISTRICT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("bidui-e2e-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let matcher_port = free_port();
        let (proxy_port, captured) = capturing_proxy(matcher_port);
        let output = Command::new(bidui_exe())
            .args(["demo", "--registry", "300", "--population", "1500", "--dir"])
            .arg(&dir)
            .args(["--listen", &format!("127.0.0.1:{matcher_port}")])
            .args(["--agents-via", &format!("https://127.0.0.1:{proxy_port}")])
            .output()
            .expect("run bidui demo");
        assert!(output.status.success(), "bidui demo over TLS failed:\n{}", printed(&output));
        let results: JobResults =
            serde_json::from_slice(&std::fs::read(dir.join("report/results.json")).unwrap()).unwrap();
        let agent_bytes = captured.lock().unwrap().clone();
        TlsDistrict { dir, results, agent_bytes }
    })
}

/// The TLS demo's matcher again, on its test certificate, on a free port.
fn start_tls_matcher(d: &TlsDistrict) -> MatcherProcess {
    let (cert, key) = (d.dir.join("matcher/test-tls-cert.pem"), d.dir.join("matcher/test-tls-key.pem"));
    MatcherProcess::start(
        &d.dir.join("matcher/matcher.db"),
        &["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()],
    )
}

/// A certificate and key for 127.0.0.1 that the district never issued.
fn other_certificate(dir: &Path) -> PathBuf {
    let (cert, key) = (dir.join("other-cert.pem"), dir.join("other-key.pem"));
    if !cert.exists() {
        crate::loopback_certificate(&cert, &key);
    }
    cert
}

fn operator_config(dir: &Path, name: &str, url: &str, trust: &str) -> PathBuf {
    let d = tls_district();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "matcher = \"{url}\"\nname = \"operator\"\nidentity_key = {:?}\n{trust}",
            d.dir.join("operator/operator.ed25519")
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_demo_runs_end_to_end_over_tls_with_a_pinned_certificate() {
    let d = tls_district();
    assert!(d.results.summary.found["household"] > 200, "{:?}", d.results.summary.found);
    for party in ["veterans", "household", "petitions"] {
        let config = std::fs::read_to_string(d.dir.join(format!("agents/{party}/agent.toml"))).unwrap();
        assert!(
            config.contains("matcher = \"https://127.0.0.1:")
                && config.contains("matcher_certificate = \"matcher-cert.pem\""),
            "{config}"
        );
        assert_eq!(
            std::fs::read(d.dir.join(format!("agents/{party}/matcher-cert.pem"))).unwrap(),
            std::fs::read(d.dir.join("matcher/test-tls-cert.pem")).unwrap()
        );
    }
    let certificate = std::fs::read_to_string(d.dir.join("matcher/test-tls-cert.pem")).unwrap();
    assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"));

    // The wire carries TLS records only: every connection opens with a handshake record,
    // and no request line, header or identity number is readable.
    assert!(d.agent_bytes.len() > 50_000, "the proxy captured too little: {}", d.agent_bytes.len());
    assert_eq!(&d.agent_bytes[..2], &[0x16, 0x03], "not a TLS handshake");
    for plain in [&b"/v1/jobs"[..], b"HTTP/1.1", b"x-bidui", b"application/json", "比对".as_bytes()] {
        assert!(
            !d.agent_bytes.windows(plain.len()).any(|w| w.eq_ignore_ascii_case(plain)),
            "{:?} readable on the wire",
            String::from_utf8_lossy(plain)
        );
    }
    let truth: bidui_synth::GroundTruth =
        serde_json::from_slice(&std::fs::read(d.dir.join("data/ground-truth.json")).unwrap()).unwrap();
    let ids: HashSet<&[u8]> =
        truth.registry.iter().map(|r| r.identity.as_bytes()).filter(|id| id.len() == 18).collect();
    assert!(ids.len() > 250);
    assert!(!d.agent_bytes.windows(18).any(|w| ids.contains(w)), "a raw identity number on the wire");

    // The audit log of the TLS run verifies too.
    let verified = Command::new(bidui_exe())
        .args(["--lang=en", "audit", "verify", "--db"])
        .arg(d.dir.join("matcher/matcher.db"))
        .output()
        .unwrap();
    assert!(
        verified.status.success() && printed(&verified).starts_with("OK: audit chain intact, 19 records"),
        "{}",
        printed(&verified)
    );
}

#[test]
fn a_wrong_pinned_certificate_is_refused_and_the_right_one_works() {
    let d = tls_district();
    let work = d.dir.join("pinning");
    std::fs::create_dir_all(&work).unwrap();
    let other = other_certificate(&work);
    let matcher = start_tls_matcher(d);
    let url = format!("https://{}", matcher.address);
    let right = d.dir.join("operator/matcher-cert.pem");
    let job = d.results.job.as_str();

    // The operator's CLI.
    for (name, trust) in
        [("right", format!("matcher_certificate = {right:?}\n")), ("right-ca", format!("matcher_ca = {right:?}\n"))]
    {
        let config = operator_config(&work, name, &url, &trust);
        let output = bidui(&["job", "status", job, "--operator", config.to_str().unwrap()]);
        assert!(output.status.success(), "{name}: {}", printed(&output));
        assert!(printed(&output).contains("Complete"), "{}", printed(&output));
    }
    for (name, trust) in
        [("wrong", format!("matcher_certificate = {other:?}\n")), ("wrong-ca", format!("matcher_ca = {other:?}\n"))]
    {
        let config = operator_config(&work, name, &url, &trust);
        let output = bidui(&["job", "status", job, "--operator", config.to_str().unwrap()]);
        assert!(!output.status.success(), "{name}: a matcher with another certificate was trusted");
        let message = printed(&output);
        assert!(
            message.contains("refusing to talk to the matcher")
                && message.contains("not trusted by")
                && message.contains("Nothing was sent"),
            "{name}: {message}"
        );
    }
    // No trust anchor at all: refused before connecting, never web PKI.
    let config = operator_config(&work, "none", &url, "");
    let output = bidui(&["job", "status", job, "--operator", config.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(printed(&output).contains("no trust anchor is configured"), "{}", printed(&output));
    // Both keys at once is a configuration error.
    let config =
        operator_config(&work, "both", &url, &format!("matcher_certificate = {right:?}\nmatcher_ca = {right:?}\n"));
    let output = bidui(&["job", "status", job, "--operator", config.to_str().unwrap()]);
    assert!(!output.status.success() && printed(&output).contains("not both"), "{}", printed(&output));

    // An agent pinning another certificate refuses the matcher and sends nothing.
    let agent = std::fs::read_to_string(d.dir.join("agents/household/agent.toml")).unwrap();
    let home = d.dir.join("agents/household");
    let wrong_agent = agent
        .replace("\"matcher-cert.pem\"", &format!("{other:?}"))
        .replace("\"agent.ed25519\"", &format!("{:?}", home.join("agent.ed25519")))
        .replace("\"state\"", &format!("{:?}", work.join("household-state")))
        .replace("\"epoch-1.toml\"", &format!("{:?}", home.join("epoch-1.toml")));
    let wrong_config = work.join("household-wrong.toml");
    std::fs::write(&wrong_config, wrong_agent).unwrap();
    let output = bidui(&["agent", "run", "--job", job, "--matcher", &url, "--config", wrong_config.to_str().unwrap()]);
    assert!(!output.status.success(), "the agent trusted a matcher with another certificate: {}", printed(&output));
    assert!(printed(&output).contains("not trusted by the pinned matcher_certificate"), "{}", printed(&output));
    assert!(!work.join("household-state").join("release-log.jsonl").exists());
    // With its own configuration (the right certificate) the same agent gets through:
    // the job is complete, so it only learns that it already released.
    let output = bidui(&[
        "agent",
        "run",
        "--job",
        job,
        "--matcher",
        &url,
        "--config",
        home.join("agent.toml").to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", printed(&output));
}

#[test]
fn the_https_port_refuses_plain_http() {
    let d = tls_district();
    let matcher = start_tls_matcher(d);
    // A raw plain-HTTP request: a refusal that says why, never the API.
    let mut stream = TcpStream::connect(&matcher.address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("https-only"), "{answer}");
    assert!(!answer.contains("200 OK"));

    // The operator's CLI pointed at http:// on the TLS port gets the same refusal.
    let work = d.dir.join("plain");
    std::fs::create_dir_all(&work).unwrap();
    let config = operator_config(&work, "plain", &format!("http://{}", matcher.address), "");
    let output = bidui(&["job", "status", &d.results.job, "--operator", config.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(printed(&output).contains("https-only"), "{}", printed(&output));
    // And an http:// URL with a certificate configured is refused as inconsistent.
    let right = d.dir.join("operator/matcher-cert.pem");
    let config = operator_config(
        &work,
        "plain-pinned",
        &format!("http://{}", matcher.address),
        &format!("matcher_certificate = {right:?}\n"),
    );
    let output = bidui(&["job", "status", &d.results.job, "--operator", config.to_str().unwrap()]);
    assert!(!output.status.success() && printed(&output).contains("plain http:// matcher"), "{}", printed(&output));
}

#[test]
fn the_matcher_serves_https_unless_plain_http_is_asked_for() {
    let dir = tempfile_dir("serve-flags");
    let db = dir.join("m.db");
    let output = bidui(&["matcher", "serve", "--listen", "127.0.0.1:0", "--db", db.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        printed(&output).contains("--insecure-http") || printed(&output).contains("--tls-cert"),
        "{}",
        printed(&output)
    );
    let output = bidui(&["matcher", "serve", "--insecure-http", "--listen", "0.0.0.0:0", "--db", db.to_str().unwrap()]);
    assert!(
        !output.status.success() && printed(&output).contains("refusing to serve plain HTTP"),
        "{}",
        printed(&output)
    );
    // A key that does not fit the certificate is refused before serving.
    let (cert, key) = (dir.join("a-cert.pem"), dir.join("a-key.pem"));
    let (cert_b, key_b) = (dir.join("b-cert.pem"), dir.join("b-key.pem"));
    for (c, k) in [(&cert, &key), (&cert_b, &key_b)] {
        assert!(bidui(&[
            "keys",
            "tls-cert",
            "--host",
            "127.0.0.1",
            "--out-cert",
            c.to_str().unwrap(),
            "--out-key",
            k.to_str().unwrap()
        ])
        .status
        .success());
    }
    let output = bidui(&[
        "matcher",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key_b.to_str().unwrap(),
    ]);
    assert!(!output.status.success() && printed(&output).contains("does not fit"), "{}", printed(&output));
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bidui-e2e-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_tls_key_is_private_and_never_overwritten() {
    let dir = tempfile_dir("keys");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let args = |c: &Path, k: &Path| {
        bidui(&[
            "keys",
            "tls-cert",
            "--host",
            "127.0.0.1",
            "--host",
            "matcher.district.gov",
            "--out-cert",
            c.to_str().unwrap(),
            "--out-key",
            k.to_str().unwrap(),
        ])
    };
    let made = args(&cert, &key);
    assert!(made.status.success(), "{}", printed(&made));
    let fingerprint = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    assert_eq!(fingerprint.len(), 64, "{fingerprint}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(std::fs::read_to_string(&key).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    let (cert_before, key_before) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    // Again onto the same files, or onto either one: refused, nothing changes or appears.
    for (c, k) in
        [(cert.clone(), key.clone()), (dir.join("new-cert.pem"), key.clone()), (cert.clone(), dir.join("new-key.pem"))]
    {
        let again = args(&c, &k);
        assert!(!again.status.success());
        assert!(printed(&again).contains("never overwrites"), "{}", printed(&again));
    }
    assert_eq!(std::fs::read(&cert).unwrap(), cert_before);
    assert_eq!(std::fs::read(&key).unwrap(), key_before);
    assert!(!dir.join("new-cert.pem").exists() && !dir.join("new-key.pem").exists());
}

#[test]
fn slow_tls_handshakes_at_a_1024_file_limit_leave_job_status_answered() {
    let d = tls_district();
    let work = d.dir.join("slow-handshakes");
    std::fs::create_dir_all(&work).unwrap();
    let (cert, key) = (d.dir.join("matcher/test-tls-cert.pem"), d.dir.join("matcher/test-tls-key.pem"));
    let matcher = MatcherProcess::start_with_open_files(
        1024,
        &d.dir.join("matcher/matcher.db"),
        &["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()],
    );
    let pin = format!("matcher_certificate = {:?}\n", d.dir.join("operator/matcher-cert.pem"));
    let operator = operator_config(&work, "operator", &format!("https://{}", matcher.address), &pin);
    // 1,100 connections that start a handshake record and send nothing more: more than
    // the matcher may hold open.
    let stalled = crate::flood::silent_connections(&matcher.address, 1100, &[0x16, 0x03, 0x01]);
    let took: Vec<_> = (0..3).map(|_| crate::flood::timed_status_of(&d.results.job, &operator)).collect();
    println!("job status over TLS under {} stalled handshakes: {took:?}", stalled.len());
    assert!(took.iter().all(|t| *t < std::time::Duration::from_secs(10)), "{took:?}");
}
