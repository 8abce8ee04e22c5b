//! HTTPS for the matcher: rustls on the ring provider (no aws-lc), the handshake (which
//! answers plain HTTP on the HTTPS port with a readable refusal), and the district's self-signed
//! certificate (`bidui keys tls-cert`). See `protocol-docs/keys.md` §3.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The certificate chain and private key the matcher serves with (PEM files).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// The only crypto provider bidui uses: ring.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in a PEM file; refuses a file that holds none.
pub fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading the certificate file {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certificates.is_empty() {
        bail!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display());
    }
    Ok(certificates)
}

/// SHA-256 of a certificate's DER encoding, as hex: what an operator compares by phone.
pub fn fingerprint(certificate: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, certificate))
}

/// The server configuration: TLS 1.3 and 1.2 with ring's default suites, HTTP/1.1.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certificates = read_certificates(&files.certificate)?;
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(&files.key) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            let mode = format!("{:o}", meta.permissions().mode() & 0o777);
            tracing::warn!(key = %files.key.display(), mode, "the TLS key file is readable by others: chmod 600 it");
        }
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("{} is not a PEM private key (PKCS#8, SEC1 or PKCS#1)", files.key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .with_context(|| {
            format!("the key {} does not fit the certificate {}", files.key.display(), files.certificate.display())
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS record starts with content type 22 (handshake). Anything else — typically a
/// client speaking plain HTTP to the HTTPS port — gets a plain refusal it can read.
pub(crate) async fn handshake(
    mut stream: TcpStream,
    acceptor: &TlsAcceptor,
) -> std::io::Result<Option<TlsStream<TcpStream>>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before the handshake"));
    }
    if first[0] != 22 {
        let body = concat!(
            r#"{"code":"https-only","message":"this matcher serves HTTPS only: "#,
            r#"use an https:// URL and configure matcher_certificate or matcher_ca"}"#
        );
        let answer = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
        return Ok(None);
    }
    acceptor.accept(stream).await.map(Some)
}

/// A freshly generated certificate and its key, PEM.
pub struct GeneratedCertificate {
    pub certificate_pem: String,
    pub key_pem: String,
    /// SHA-256 of the certificate's DER, hex.
    pub fingerprint: String,
}

/// A self-signed server certificate for `hosts` (DNS names or IP addresses), valid from
/// yesterday for `days` days, with an ECDSA P-256 key made by ring.
pub fn generate_self_signed(hosts: &[String], common_name: &str, days: u32) -> anyhow::Result<GeneratedCertificate> {
    if hosts.is_empty() {
        bail!("name at least one --host the agents use to reach the matcher (a DNS name or an IP address)");
    }
    let mut params =
        rcgen::CertificateParams::new(hosts.to_vec()).context("a --host is neither a DNS name nor an IP address")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "bidui");
    let today = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400) as i64;
    let date = |days: i64| {
        let d = bidui_core::CivilDate::from_days_since_unix_epoch(days);
        rcgen::date_time_ymd(i32::from(d.year), d.month, d.day)
    };
    params.not_before = date(today - 1);
    params.not_after = date(today + i64::from(days));
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).context("generating the TLS key")?;
    let certificate = params.self_signed(&key).context("signing the certificate")?;
    Ok(GeneratedCertificate {
        certificate_pem: certificate.pem(),
        key_pem: key.serialize_pem(),
        fingerprint: fingerprint(certificate.der()),
    })
}
