//! The matcher's HTTPS listener with the real client: a pinned self-signed certificate and
//! a CA file that issued the matcher's certificate are accepted; another certificate, a
//! certificate for another host, and pinning a CA-issued certificate are refused.

use std::path::{Path, PathBuf};

use bidui_client::{Client, ClientError, Identity, MatcherTrust, TrustError};
use bidui_matcher::tls::{self, TlsFiles};
use bidui_matcher::AppState;

struct Served {
    /// Keeps the server running until dropped.
    _runtime: tokio::runtime::Runtime,
    url: String,
}

/// The matcher's router on an HTTPS listener with `files`, on a free loopback port.
fn serve(dir: &Path, files: &TlsFiles) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = tls::server_config(files).unwrap();
    let state = AppState::create(&dir.join("matcher.db")).unwrap();
    let url = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (app, limits) = (bidui_matcher::app(state), bidui_matcher::conn::Limits::from_process());
        tokio::spawn(bidui_matcher::conn::serve(listener, Some(config), app, limits, std::future::pending()));
        format!("https://{address}")
    });
    Served { _runtime: runtime, url }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A CA, and a server certificate for `hosts` that it issued: (ca.pem, server files).
fn ca_and_server(dir: &Path, hosts: &[&str]) -> (PathBuf, TlsFiles) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "district test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>()).unwrap();
    let server = params.signed_by(&key, &issuer).unwrap();
    let files = TlsFiles {
        certificate: write(dir, "server-cert.pem", &server.pem()),
        key: write(dir, "server-key.pem", &key.serialize_pem()),
    };
    (write(dir, "ca.pem", &ca.pem()), files)
}

fn health(url: &str, dir: &Path, trust: MatcherTrust) -> Result<(u16, Vec<u8>), ClientError> {
    let key = dir.join(format!("client-{}.key", rand_name()));
    let client = Client::with_trust(url, "nobody", Identity::create(&key).unwrap(), Some(trust))?;
    client.send("GET", "/v1/health", b"", "text/plain")
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

#[test]
fn a_pinned_self_signed_certificate_is_accepted_and_another_refused() {
    let dir = tempfile::tempdir().unwrap();
    let generated = tls::generate_self_signed(&["127.0.0.1".into()], "test matcher", 2).unwrap();
    let files = TlsFiles {
        certificate: write(dir.path(), "cert.pem", &generated.certificate_pem),
        key: write(dir.path(), "key.pem", &generated.key_pem),
    };
    let served = serve(dir.path(), &files);
    let pinned = MatcherTrust::pinned_certificate(&files.certificate).unwrap();
    assert_eq!(pinned.fingerprints(), std::slice::from_ref(&generated.fingerprint));
    assert_eq!(health(&served.url, dir.path(), pinned).unwrap(), (200, b"ok".to_vec()));

    let other = tls::generate_self_signed(&["127.0.0.1".into()], "impostor", 2).unwrap();
    let other = write(dir.path(), "other.pem", &other.certificate_pem);
    let refused = health(&served.url, dir.path(), MatcherTrust::pinned_certificate(&other).unwrap()).unwrap_err();
    assert!(matches!(refused, ClientError::Untrusted { .. }), "{refused}");

    // The right certificate, but the matcher reached by a name it does not carry.
    let elsewhere = tls::generate_self_signed(&["matcher.district.gov".into()], "test matcher", 2).unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let files2 = TlsFiles {
        certificate: write(dir2.path(), "cert.pem", &elsewhere.certificate_pem),
        key: write(dir2.path(), "key.pem", &elsewhere.key_pem),
    };
    let served2 = serve(dir2.path(), &files2);
    let refused =
        health(&served2.url, dir2.path(), MatcherTrust::pinned_certificate(&files2.certificate).unwrap()).unwrap_err();
    assert!(
        matches!(&refused, ClientError::Untrusted { reason, .. } if reason.contains("NotValidForName")),
        "{refused}"
    );
    drop((served, served2));
}

#[test]
fn a_ca_file_accepts_what_the_ca_issued_and_pinning_an_issued_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, files) = ca_and_server(dir.path(), &["127.0.0.1"]);
    let served = serve(dir.path(), &files);
    assert_eq!(health(&served.url, dir.path(), MatcherTrust::ca_file(&ca).unwrap()).unwrap().0, 200);

    // Another CA's file does not vouch for it.
    let other_dir = tempfile::tempdir().unwrap();
    let (other_ca, _) = ca_and_server(other_dir.path(), &["127.0.0.1"]);
    let refused = health(&served.url, dir.path(), MatcherTrust::ca_file(&other_ca).unwrap()).unwrap_err();
    assert!(matches!(refused, ClientError::Untrusted { .. }), "{refused}");

    // A CA-issued certificate cannot be pinned: it would never chain to itself.
    assert!(matches!(MatcherTrust::pinned_certificate(&files.certificate), Err(TrustError::NotSelfSigned { .. })));
    drop(served);
}

#[test]
fn a_key_that_does_not_fit_the_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = tls::generate_self_signed(&["127.0.0.1".into()], "a", 2).unwrap();
    let b = tls::generate_self_signed(&["127.0.0.1".into()], "b", 2).unwrap();
    let files = TlsFiles {
        certificate: write(dir.path(), "a.pem", &a.certificate_pem),
        key: write(dir.path(), "b.key", &b.key_pem),
    };
    let error = tls::server_config(&files).unwrap_err();
    assert!(format!("{error:#}").contains("does not fit"), "{error:#}");
    assert!(tls::generate_self_signed(&[], "none", 2).is_err());
}
