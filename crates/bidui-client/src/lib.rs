//! Signed HTTP calls to the matcher (`protocol-docs/wire-v2.md`), shared by agents, the
//! operator's CLI and the custodian's.
//!
//! HTTPS is verified against a trust anchor the caller configures ([`MatcherTrust`]: the
//! matcher's own certificate, pinned, or a CA file); never against web PKI roots. An
//! `https://` matcher without one is refused, and so is an `http://` matcher when one is
//! configured: the configuration would say TLS while the wire says plain text.
//!
//! Requests are signed by an [`Identity`] from `bidui-keyfile`, re-exported here because
//! every [`Client`] takes one.
//!
//! A request that fails on the way — the matcher restarting, a dropped connection, a
//! matcher answering 408/502/503/504 — is signed afresh and sent again with growing pauses,
//! for up to [`RetryPolicy::budget`]. That is safe because every request of the protocol
//! may be repeated: reads; a chunk the matcher already holds is answered "already stored";
//! a repeated seal or job creation with the same content is accepted as a repeat. A refusal
//! by the matcher, or a certificate the trust anchor rejects, is never retried.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bidui_core::api::{ApiError, SubmissionNotice, HEADER_NONCE, HEADER_SIGNATURE, HEADER_SIGNER, HEADER_TIMESTAMP};
use bidui_core::wire::request_signing_payload;
pub use bidui_keyfile::Identity;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{}", bidui_i18n::t!("client-error-transport", url = .url, reason = .reason))]
    Transport { url: String, reason: ConnectionCause },
    #[error(
        "{}",
        bidui_i18n::t!("client-error-gave-up", url = .url, reason = .reason, attempts = .attempts, seconds = .seconds)
    )]
    GaveUp { url: String, reason: ConnectionCause, attempts: u32, seconds: u64 },
    /// Shown with what the code means and what to do, in the reader's language, then the
    /// matcher's own message as sent ([`refusal_explanation`]).
    #[error("{}", refusal_text(.method, .path, *.status, .code, .message))]
    Refused {
        method: String,
        path: String,
        status: u16,
        code: String,
        message: String,
        /// The parties the refusal waits for (`409 not-all-sealed`), as the matcher named them
        /// (boxed: the error stays small enough to return by value everywhere).
        waiting_for: Box<[String]>,
    },
    #[error("{}", bidui_i18n::t!("client-error-answer", path = .path, reason = .reason))]
    Answer { path: String, reason: String },
    #[error("{}", bidui_i18n::t!("client-error-untrusted", url = .url, trust = .trust, reason = .reason))]
    Untrusted { url: String, trust: TrustAnchor, reason: String },
    #[error("{}", bidui_i18n::t!("client-error-no-trust-anchor", url = .url))]
    NoTrustAnchor { url: String },
    #[error("{}", bidui_i18n::t!("client-error-plain-with-trust", url = .url, trust = .trust))]
    PlainWithTrust { url: String, trust: TrustAnchor },
    #[error(transparent)]
    Trust(#[from] TrustError),
}

impl ClientError {
    /// The HTTP status of a refusal, if the matcher answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Why the request did not get through, when it did not reach the matcher's answer.
    pub fn cause(&self) -> Option<&ConnectionCause> {
        match self {
            ClientError::Transport { reason, .. } | ClientError::GaveUp { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The parties a refusal waits for; empty for any other error.
    pub fn waiting_for(&self) -> &[String] {
        match self {
            ClientError::Refused { waiting_for, .. } => waiting_for,
            _ => &[],
        }
    }
}

/// The refusal as a person reads it: what its code means and what to do, in the reader's
/// language, then the matcher's message, which may name the field or figure at fault and
/// stays as the matcher sent it. A code this client does not know (a newer matcher) is shown
/// with the matcher's message alone.
fn refusal_text(method: &str, path: &str, status: u16, code: &str, message: &str) -> String {
    match refusal_explanation(code) {
        Some(explanation) => bidui_i18n::t!(
            "client-error-refused-explained",
            method = method,
            path = path,
            status = status,
            code = code,
            explanation = explanation,
            message = message
        ),
        None => bidui_i18n::t!(
            "client-error-refused",
            method = method,
            path = path,
            status = status,
            code = code,
            message = message
        ),
    }
}

/// What a stable refusal code of the matcher (`protocol-docs/wire-v2.md` §6, `wire-v1.md`,
/// `keys.md`) means and what to do about it, in the reader's language; `None` for a code
/// this client does not know. The e2e test `docs` checks that every code the matcher's
/// sources can answer with is here.
pub fn refusal_explanation(code: &str) -> Option<String> {
    use bidui_i18n::t;
    Some(match code {
        // Request signatures and bodies (wire-v1 §4.4, wire-v2 §3).
        "unsigned" => t!("refusal-unsigned"),
        "malformed-signature" => t!("refusal-malformed-signature"),
        "stale" => t!("refusal-stale"),
        "unknown-signer" => t!("refusal-unknown-signer"),
        "revoked" => t!("refusal-revoked"),
        "bad-signature" => t!("refusal-bad-signature"),
        "replayed" => t!("refusal-replayed"),
        "too-large" => t!("refusal-too-large"),
        "busy" => t!("refusal-busy"),
        "body-too-slow" => t!("refusal-body-too-slow"),
        "body-interrupted" => t!("refusal-body-interrupted"),
        "https-only" => t!("refusal-https-only"),
        "malformed" => t!("refusal-malformed"),
        "forbidden" => t!("refusal-forbidden"),
        "not-found" => t!("refusal-not-found"),
        "internal" => t!("refusal-internal"),
        "database-missing" => t!("refusal-database-missing"),
        "database-replaced" => t!("refusal-database-replaced"),
        "database-unwritable" => t!("refusal-database-unwritable"),
        // Jobs (wire-v2 §6).
        "protocol-v1" => t!("refusal-protocol-v1"),
        "invalid-spec" => t!("refusal-invalid-spec"),
        "bad-job-signature" => t!("refusal-bad-job-signature"),
        "signer-mismatch" => t!("refusal-signer-mismatch"),
        "unknown-party" => t!("refusal-unknown-party"),
        "job-exists" => t!("refusal-job-exists"),
        "not-collecting" => t!("refusal-not-collecting"),
        "wrong-epoch" => t!("refusal-wrong-epoch"),
        "malformed-chunk" => t!("refusal-malformed-chunk"),
        "over-cap" => t!("refusal-over-cap"),
        "sealed" => t!("refusal-sealed"),
        "chunk-gap" => t!("refusal-chunk-gap"),
        "chunk-conflict" => t!("refusal-chunk-conflict"),
        "incomplete" => t!("refusal-incomplete"),
        "digest-mismatch" => t!("refusal-digest-mismatch"),
        "more-records-than-rows" => t!("refusal-more-records-than-rows"),
        "bad-seal" => t!("refusal-bad-seal"),
        "bad-sealed-fields" => t!("refusal-bad-sealed-fields"),
        "seal-differs" => t!("refusal-seal-differs"),
        "not-all-sealed" => t!("refusal-not-all-sealed"),
        "not-ready" => t!("refusal-not-ready"),
        "bad-notice" => t!("refusal-bad-notice"),
        // The custodian's endpoints (wire-v1, keys.md).
        "no-custodian" => t!("refusal-no-custodian"),
        "bad-statement" => t!("refusal-bad-statement"),
        "stale-statement" => t!("refusal-stale-statement"),
        "unknown-recipient" => t!("refusal-unknown-recipient"),
        "bad-sealed-epoch" => t!("refusal-bad-sealed-epoch"),
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{}", bidui_i18n::t!("trust-error-read", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("trust-error-invalid", path = .path.display(), reason = .reason))]
    Invalid { path: PathBuf, reason: String },
    #[error("{}", bidui_i18n::t!("trust-error-not-one", path = .path.display(), count = .count))]
    NotOne { path: PathBuf, count: usize },
    #[error("{}", bidui_i18n::t!("trust-error-both"))]
    Both,
    #[error("{}", bidui_i18n::t!("trust-error-not-self-signed", path = .path.display()))]
    NotSelfSigned { path: PathBuf },
}

/// The trust anchor an error names, told in the reader's language when it is shown.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    kind: TrustKind,
    path: PathBuf,
}

impl std::fmt::Display for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        f.write_str(&match self.kind {
            TrustKind::PinnedCertificate => bidui_i18n::t!("client-trust-pinned", path = path),
            TrustKind::CaFile => bidui_i18n::t!("client-trust-ca-file", path = path),
        })
    }
}

/// What the client trusts to authenticate the matcher over HTTPS.
#[derive(Clone, Debug)]
pub struct MatcherTrust {
    kind: TrustKind,
    path: PathBuf,
    certificates: Vec<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustKind {
    /// Exactly the matcher's certificate: it is the only trust anchor, so only a server
    /// holding its private key, and presenting a certificate for the URL's host under
    /// that key, is accepted.
    PinnedCertificate,
    /// A CA file: any certificate for the URL's host issued by one of these CAs.
    CaFile,
}

fn read_pem_certificates(path: &Path) -> Result<Vec<Vec<u8>>, TrustError> {
    use rustls_pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|source| TrustError::Read { path: path.to_owned(), source })?;
    let certificates = rustls_pki_types::CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrustError::Invalid { path: path.to_owned(), reason: e.to_string() })?;
    if certificates.is_empty() {
        return Err(TrustError::Invalid {
            path: path.to_owned(),
            reason: "no -----BEGIN CERTIFICATE----- block".into(),
        });
    }
    for der in &certificates {
        let mut store = rustls::RootCertStore::empty();
        store.add(rustls_pki_types::CertificateDer::from(der.as_slice())).map_err(|e| TrustError::Invalid {
            path: path.to_owned(),
            reason: format!("a certificate cannot be a trust anchor: {e}"),
        })?;
    }
    Ok(certificates)
}

impl MatcherTrust {
    /// The matcher's own certificate (PEM, exactly one), pinned.
    pub fn pinned_certificate(path: &Path) -> Result<MatcherTrust, TrustError> {
        let certificates = read_pem_certificates(path)?;
        if certificates.len() != 1 {
            return Err(TrustError::NotOne { path: path.to_owned(), count: certificates.len() });
        }
        // The pinned certificate becomes the only trust anchor, so it must be its own
        // issuer: a CA-issued certificate would never chain to itself.
        let der = rustls_pki_types::CertificateDer::from(certificates[0].as_slice());
        let parsed = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| TrustError::Invalid { path: path.to_owned(), reason: format!("{e:?}") })?;
        if parsed.issuer() != parsed.subject() {
            return Err(TrustError::NotSelfSigned { path: path.to_owned() });
        }
        Ok(MatcherTrust { kind: TrustKind::PinnedCertificate, path: path.to_owned(), certificates })
    }

    /// A file of CA certificates (PEM, one or more).
    pub fn ca_file(path: &Path) -> Result<MatcherTrust, TrustError> {
        Ok(MatcherTrust { kind: TrustKind::CaFile, path: path.to_owned(), certificates: read_pem_certificates(path)? })
    }

    /// From the two configuration keys, at most one of which may be set.
    pub fn from_config(certificate: Option<&Path>, ca: Option<&Path>) -> Result<Option<MatcherTrust>, TrustError> {
        match (certificate, ca) {
            (Some(_), Some(_)) => Err(TrustError::Both),
            (Some(path), None) => MatcherTrust::pinned_certificate(path).map(Some),
            (None, Some(path)) => MatcherTrust::ca_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    pub fn kind(&self) -> TrustKind {
        self.kind
    }

    /// SHA-256 fingerprints (hex) of the trusted certificates.
    pub fn fingerprints(&self) -> Vec<String> {
        self.certificates.iter().map(|c| certificate_fingerprint(c)).collect()
    }

    fn describe(&self) -> TrustAnchor {
        TrustAnchor { kind: self.kind, path: self.path.clone() }
    }

    fn tls_config(&self) -> ureq::tls::TlsConfig {
        let roots: Vec<ureq::tls::Certificate<'static>> =
            self.certificates.iter().map(|der| ureq::tls::Certificate::from_der(der).to_owned()).collect();
        ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build()
    }
}

/// Where the matcher is and how to trust it: the keys `matcher`, `matcher_certificate` and
/// `matcher_ca` of the agent's and the operator's TOML configuration, which flatten this
/// type into theirs (`#[serde(flatten)]`).
// Serialize: the configuration reference's test lists the keys (src/config_docs.rs).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct MatcherEndpoint {
    /// Base URL of the matcher, e.g. `https://matcher.district.gov:8700`.
    #[serde(rename = "matcher")]
    pub url: String,
    /// The matcher's TLS certificate (PEM), pinned: only it is trusted.
    #[serde(rename = "matcher_certificate", default)]
    pub certificate: Option<PathBuf>,
    /// A CA file (PEM) that issued the matcher's certificate; instead of the above.
    #[serde(rename = "matcher_ca", default)]
    pub ca: Option<PathBuf>,
}

impl MatcherEndpoint {
    /// Takes relative trust file paths from `base`, the folder of the configuration file
    /// that named them, so a configuration works from any working directory.
    pub fn resolve_relative_to(&mut self, base: &Path) {
        for path in self.certificate.iter_mut().chain(self.ca.iter_mut()) {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    /// The trust anchor the configuration names, read from its file.
    pub fn trust(&self) -> Result<Option<MatcherTrust>, TrustError> {
        MatcherTrust::from_config(self.certificate.as_deref(), self.ca.as_deref())
    }

    /// A client of this matcher signing as `signer`; refused as [`Client::with_trust`] does.
    pub fn client(&self, signer: &str, identity: Identity) -> Result<Client, ClientError> {
        Client::with_trust(&self.url, signer, identity, self.trust()?)
    }
}

/// Bytes a path segment keeps as they are: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes one path segment (job ids may hold CJK characters, `/` or `?`).
pub fn path_segment(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// The path of a job at the matcher (protocol v2): `/v2/jobs/{job}`, the job id
/// percent-encoded. Its assignment, submission and results are under it.
pub fn job_path(job: &str) -> String {
    format!("/v2/jobs/{}", path_segment(job))
}

/// How long a request that failed on the way is tried again, and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries stop once this much time has passed since the first attempt.
    pub budget: Duration,
    /// The pause after the first failure; each later pause doubles, up to `max_pause`.
    pub first_pause: Duration,
    pub max_pause: Duration,
}

impl Default for RetryPolicy {
    /// For a command a person waits on: long enough for a matcher restart, short enough to
    /// say soon that the matcher is away.
    fn default() -> RetryPolicy {
        RetryPolicy { budget: Duration::from_secs(20), ..RetryPolicy::UNATTENDED }
    }
}

impl RetryPolicy {
    /// For an agent: long enough for a matcher to be restarted or a network to come back.
    /// An agent half-way through a department's upload should wait rather than fail.
    pub const UNATTENDED: RetryPolicy = RetryPolicy {
        budget: Duration::from_secs(300),
        first_pause: Duration::from_millis(250),
        max_pause: Duration::from_secs(10),
    };

    /// For a progress notice (wire-v2 §6.13): it only informs the operator, so a matcher
    /// away is not waited for as an upload waits for it; the next notice or chunk tells.
    pub const NOTICE: RetryPolicy = RetryPolicy {
        budget: Duration::from_secs(5),
        first_pause: Duration::from_millis(250),
        max_pause: Duration::from_secs(2),
    };

    /// No retry: the first failure is the answer.
    pub const NONE: RetryPolicy =
        RetryPolicy { budget: Duration::ZERO, first_pause: Duration::ZERO, max_pause: Duration::ZERO };

    /// The pause before retry `retry` (1 for the first retry).
    pub fn pause(&self, retry: u32) -> Duration {
        let doubled = self.first_pause.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        doubled.min(self.max_pause)
    }
}

/// Whether an HTTP status means "try again shortly": a proxy without its upstream, an
/// overloaded or restarting matcher, or a body the network delivered too slowly
/// (`408 body-too-slow`: on a lossy link TCP's backoff can stall a body for seconds; the
/// matcher refused it before reading it, so it is sent again whole).
fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// Why a request did not get through, in words a person can act on. It is shown in the
/// reader's language through the catalogue (`client-cause-…`); [`ConnectionCause::code`]
/// is its stable ASCII form for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionCause {
    /// Nothing listens at the address: the matcher is not running (or not on that port).
    Refused,
    /// The connection was reset or aborted: the matcher may have restarted.
    Cut,
    /// The connection closed before any answer.
    ClosedBeforeAnswer,
    NoAnswerInTime,
    NetworkUnreachable,
    HostNotFound,
    ConnectionFailed,
    /// The answer started, then stopped coming.
    AnswerStalled,
    ClosedMidAnswer,
    /// `presented_certificate` of an `http://` URL.
    NotHttps,
    NoHost,
    /// The TLS handshake failed, as rustls says it.
    TlsHandshake(String),
    NoCertificate,
    /// Anything else, as the operating system or the library says it (English).
    Other(String),
}

impl ConnectionCause {
    /// The stable ASCII name of the cause, for logs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionCause::Refused => "connection-refused",
            ConnectionCause::Cut => "connection-cut",
            ConnectionCause::ClosedBeforeAnswer => "closed-before-answer",
            ConnectionCause::NoAnswerInTime => "timeout",
            ConnectionCause::NetworkUnreachable => "network-unreachable",
            ConnectionCause::HostNotFound => "host-not-found",
            ConnectionCause::ConnectionFailed => "connection-failed",
            ConnectionCause::AnswerStalled => "answer-stalled",
            ConnectionCause::ClosedMidAnswer => "closed-mid-answer",
            ConnectionCause::NotHttps => "not-https",
            ConnectionCause::NoHost => "no-host",
            ConnectionCause::TlsHandshake(_) => "tls-handshake",
            ConnectionCause::NoCertificate => "no-certificate",
            ConnectionCause::Other(_) => "other",
        }
    }
}

impl std::fmt::Display for ConnectionCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use bidui_i18n::t;
        f.write_str(&match self {
            ConnectionCause::Refused => t!("client-cause-refused"),
            ConnectionCause::Cut => t!("client-cause-cut"),
            ConnectionCause::ClosedBeforeAnswer => t!("client-cause-closed-before-answer"),
            ConnectionCause::NoAnswerInTime => t!("client-cause-no-answer-in-time"),
            ConnectionCause::NetworkUnreachable => t!("client-cause-network-unreachable"),
            ConnectionCause::HostNotFound => t!("client-cause-host-not-found"),
            ConnectionCause::ConnectionFailed => t!("client-cause-connection-failed"),
            ConnectionCause::AnswerStalled => t!("client-cause-answer-stalled"),
            ConnectionCause::ClosedMidAnswer => t!("client-cause-closed-mid-answer"),
            ConnectionCause::NotHttps => t!("client-cause-not-https"),
            ConnectionCause::NoHost => t!("client-cause-no-host"),
            ConnectionCause::TlsHandshake(error) => t!("client-cause-tls-handshake", error = error),
            ConnectionCause::NoCertificate => t!("client-cause-no-certificate"),
            ConnectionCause::Other(text) => text.clone(),
        })
    }
}

/// A failed connection in plain words, for the kinds of I/O error that waiting may cure.
fn io_reason(kind: std::io::ErrorKind) -> Option<ConnectionCause> {
    use std::io::ErrorKind;
    let reason = match kind {
        ErrorKind::ConnectionRefused => ConnectionCause::Refused,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => ConnectionCause::Cut,
        ErrorKind::UnexpectedEof => ConnectionCause::ClosedBeforeAnswer,
        ErrorKind::TimedOut => ConnectionCause::NoAnswerInTime,
        ErrorKind::NotConnected | ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            ConnectionCause::NetworkUnreachable
        }
        ErrorKind::AddrNotAvailable | ErrorKind::Interrupted => ConnectionCause::Other(kind.to_string()),
        _ => return None,
    };
    Some(reason)
}

/// A transport failure in plain words, with the cause a person can act on; `None` for
/// one that repeating cannot cure (a bad URL, a protocol violation, a limit).
fn transient_reason(error: &ureq::Error) -> Option<ConnectionCause> {
    let reason = match error {
        // Any other I/O error, a TLS error such as an untrusted certificate in particular,
        // would fail again the same way.
        ureq::Error::Io(io) => return io_reason(io.kind()),
        ureq::Error::Timeout(_) => ConnectionCause::NoAnswerInTime,
        ureq::Error::HostNotFound => ConnectionCause::HostNotFound,
        ureq::Error::ConnectionFailed => ConnectionCause::ConnectionFailed,
        ureq::Error::BodyStalled => ConnectionCause::AnswerStalled,
        ureq::Error::Protocol(_) => ConnectionCause::ClosedMidAnswer,
        _ => return None,
    };
    Some(reason)
}

/// How long one attempt may take unless [`Client::with_timeout`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The HTTP agent of a client: TLS verified against `trust` only, no redirects.
fn http_agent(trust: Option<&MatcherTrust>, timeout: Duration) -> ureq::Agent {
    // Without a trust anchor no root is trusted: HTTPS fails closed, never open.
    let tls = match trust {
        Some(trust) => trust.tls_config(),
        None => ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(Vec::new())))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build(),
    };
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        // A signed request is meant for one URL: never follow a redirect elsewhere.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .tls_config(tls)
        .build()
        .into()
}

/// A matcher connection that signs every request as `signer`.
pub struct Client {
    base: String,
    signer: String,
    identity: Identity,
    http: ureq::Agent,
    rng: SystemRandom,
    trust: Option<MatcherTrust>,
    retry: RetryPolicy,
}

impl Client {
    /// A client without a TLS trust anchor: for `http://` matchers (loopback tests) only;
    /// requests to an `https://` matcher are refused with [`ClientError::NoTrustAnchor`].
    pub fn new(base_url: &str, signer: &str, identity: Identity) -> Client {
        Client::build(base_url, signer, identity, None)
    }

    /// A client that verifies the matcher's certificate against `trust`. With `None` it is
    /// [`Client::new`]. Refuses an `https://` URL without a trust anchor, and an `http://`
    /// URL with one.
    pub fn with_trust(
        base_url: &str,
        signer: &str,
        identity: Identity,
        trust: Option<MatcherTrust>,
    ) -> Result<Client, ClientError> {
        let client = Client::build(base_url, signer, identity, trust);
        client.check_scheme()?;
        Ok(client)
    }

    fn build(base_url: &str, signer: &str, identity: Identity, trust: Option<MatcherTrust>) -> Client {
        Client {
            base: base_url.trim_end_matches('/').to_owned(),
            signer: signer.to_owned(),
            identity,
            http: http_agent(trust.as_ref(), DEFAULT_TIMEOUT),
            rng: SystemRandom::new(),
            trust,
            retry: RetryPolicy::default(),
        }
    }

    /// This client with another retry policy ([`RetryPolicy::NONE`] for one attempt).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// This client with another limit on each attempt, connection included (default
    /// 300 s, for chunk uploads): a person's quick check should not wait minutes on a
    /// firewall that drops packets.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.http = http_agent(self.trust.as_ref(), timeout);
        self
    }

    fn check_scheme(&self) -> Result<(), ClientError> {
        let https = self.base.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        match &self.trust {
            None if https => Err(ClientError::NoTrustAnchor { url: self.base.clone() }),
            Some(trust) if !https => {
                Err(ClientError::PlainWithTrust { url: self.base.clone(), trust: trust.describe() })
            }
            _ => Ok(()),
        }
    }

    /// A transport failure, told apart from a certificate the trust anchor refuses.
    fn transport_error(&self, url: &str, error: ureq::Error) -> ClientError {
        let certificate_problem = match &error {
            ureq::Error::Rustls(rustls::Error::InvalidCertificate(e)) => Some(format!("{e:?}")),
            ureq::Error::Io(io) => {
                io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).and_then(|e| match e {
                    rustls::Error::InvalidCertificate(e) => Some(format!("{e:?}")),
                    _ => None,
                })
            }
            _ => None,
        };
        match (certificate_problem, &self.trust) {
            (Some(reason), Some(trust)) => {
                ClientError::Untrusted { url: url.to_owned(), trust: trust.describe(), reason }
            }
            _ => ClientError::Transport { url: url.to_owned(), reason: ConnectionCause::Other(error.to_string()) },
        }
    }

    pub fn signer(&self) -> &str {
        &self.signer
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends one signed request; returns the status and body of a 2xx answer.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        self.send_owned(method, path, body.to_vec(), &sha256(body), content_type)
    }

    /// [`Client::send`] for a body the caller gives up, with its SHA-256 digest already
    /// computed: token chunks are megabytes, and the agent hashes each one anyway for its
    /// submission digest. A wrong digest only gets the request refused (the matcher
    /// recomputes it to check the signature).
    fn send_owned(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        digest: &[u8; 32],
        content_type: &str,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        self.send_retrying(method, path, body, digest, content_type, self.retry)
    }

    /// [`Client::send_owned`] retried within `retry` rather than the client's policy.
    fn send_retrying(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        digest: &[u8; 32],
        content_type: &str,
        retry: RetryPolicy,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        self.check_scheme()?;
        let started = std::time::Instant::now();
        let mut retries = 0u32;
        loop {
            let failure = match self.attempt(method, path, &body, digest, content_type) {
                Attempt::Done(result) => return result,
                Attempt::Transient(failure) => failure,
            };
            let pause = retry.pause(retries + 1);
            if started.elapsed() + pause > retry.budget {
                return Err(match failure {
                    _ if retries == 0 => failure,
                    ClientError::Transport { url, reason } => {
                        ClientError::GaveUp { url, reason, attempts: retries + 1, seconds: started.elapsed().as_secs() }
                    }
                    other => other,
                });
            }
            retries += 1;
            // A log line: English whatever the reader's language, the cause by its code.
            let error = bidui_i18n::in_language(bidui_i18n::Lang::En, || failure.to_string());
            let cause = failure.cause().map(ConnectionCause::code).or(failure.code()).unwrap_or("other");
            tracing::warn!(method, path, retry = retries, cause, error, "request failed on the way; retrying");
            std::thread::sleep(pause);
        }
    }

    /// One signed attempt (a fresh timestamp and nonce each time).
    fn attempt(&self, method: &str, path: &str, body: &[u8], digest: &[u8; 32], content_type: &str) -> Attempt {
        let url = format!("{}{path}", self.base);
        let transport = |reason: ConnectionCause| ClientError::Transport { url: url.clone(), reason };
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut nonce = [0u8; 16];
        if self.rng.fill(&mut nonce).is_err() {
            return Attempt::Done(Err(transport(ConnectionCause::Other("no randomness for the nonce".into()))));
        }
        let nonce = hex::encode(nonce);
        let signature =
            self.identity.sign(&request_signing_payload(method, path, digest, timestamp, &nonce, &self.signer));
        let request = match ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header(HEADER_SIGNER, &self.signer)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_NONCE, &nonce)
            .header(HEADER_SIGNATURE, hex::encode(signature))
            .header("content-type", content_type)
            .body(body)
        {
            Ok(request) => request,
            Err(e) => return Attempt::Done(Err(transport(ConnectionCause::Other(e.to_string())))),
        };
        let mut response = match self.http.run(request) {
            Ok(response) => response,
            Err(error) => {
                return match transient_reason(&error) {
                    Some(reason) => Attempt::Transient(transport(reason)),
                    None => Attempt::Done(Err(self.transport_error(&url, error))),
                }
            }
        };
        let status = response.status().as_u16();
        let bytes = match response.body_mut().with_config().limit(512 * 1024 * 1024).read_to_vec() {
            Ok(bytes) => bytes,
            Err(error) => {
                return match transient_reason(&error) {
                    Some(reason) => Attempt::Transient(transport(reason)),
                    None => Attempt::Done(Err(transport(ConnectionCause::Other(error.to_string())))),
                }
            }
        };
        if (200..300).contains(&status) {
            return Attempt::Done(Ok((status, bytes)));
        }
        let error: ApiError = serde_json::from_slice(&bytes).unwrap_or(ApiError {
            code: "http".into(),
            message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            waiting_for: Vec::new(),
        });
        let refused = ClientError::Refused {
            method: method.into(),
            path: path.into(),
            status,
            code: error.code,
            message: error.message,
            waiting_for: error.waiting_for.into_boxed_slice(),
        };
        if is_transient_status(status) {
            Attempt::Transient(refused)
        } else {
            Attempt::Done(Err(refused))
        }
    }

    fn decode<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, ClientError> {
        serde_json::from_slice(bytes).map_err(|e| ClientError::Answer { path: path.into(), reason: e.to_string() })
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (_, body) = self.send("GET", path, b"", "application/json")?;
        Self::decode(path, &body)
    }

    /// POSTs JSON; returns the answer's status (200 for an idempotent repeat, 201 for new).
    pub fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<(u16, Vec<u8>), ClientError> {
        let json = serde_json::to_vec(body).expect("request types serialize");
        self.send("POST", path, &json, "application/json")
    }

    /// `POST /v2/jobs/{job}/submission/notice`: tells the matcher where this agent's own
    /// submission of `job` stands (wire-v2 §6.13). Retried within [`RetryPolicy::NOTICE`]
    /// (or the client's policy, if shorter): a notice is worth no wait of an upload.
    pub fn notice(&self, job: &str, notice: &SubmissionNotice) -> Result<(), ClientError> {
        let json = serde_json::to_vec(notice).expect("notices serialize");
        let digest = sha256(&json);
        let retry = if self.retry.budget < RetryPolicy::NOTICE.budget { self.retry } else { RetryPolicy::NOTICE };
        let path = format!("{}/submission/notice", job_path(job));
        self.send_retrying("POST", &path, json, &digest, "application/json", retry).map(|_| ())
    }

    pub fn put_bytes(&self, path: &str, body: &[u8]) -> Result<u16, ClientError> {
        Ok(self.send("PUT", path, body, "application/octet-stream")?.0)
    }

    /// PUTs a binary body whose SHA-256 digest `sha256` the caller has computed (see
    /// [`Client::send_owned`]).
    pub fn put_hashed_bytes(&self, path: &str, body: Vec<u8>, sha256: &[u8; 32]) -> Result<u16, ClientError> {
        Ok(self.send_owned("PUT", path, body, sha256, "application/octet-stream")?.0)
    }
}

/// What one attempt came to.
enum Attempt {
    Done(Result<(u16, Vec<u8>), ClientError>),
    /// Failed on the way, or answered "try again": worth another attempt.
    Transient(ClientError),
}

/// The certificate an `https://` server presents: its leaf, DER-encoded. Read by a TLS
/// handshake that trusts whatever is presented and sends nothing once it is done, so that a
/// person can compare the fingerprint ([`certificate_fingerprint`]) with the one the
/// district read out, even when the configured trust anchor refuses it. Never use what
/// this returns to decide whether to talk to the server: [`MatcherTrust`] does that.
pub fn presented_certificate(url: &str, timeout: Duration) -> Result<Vec<u8>, ClientError> {
    use std::io::Write;
    let failed = |reason: ConnectionCause| ClientError::Transport { url: url.to_owned(), reason };
    let other = |text: String| failed(ConnectionCause::Other(text));
    let io_failed = |e: std::io::Error| {
        let reason = match e.kind() {
            // A socket read timeout reports itself as WouldBlock on Unix.
            std::io::ErrorKind::WouldBlock => ConnectionCause::NoAnswerInTime,
            kind => io_reason(kind).unwrap_or_else(|| ConnectionCause::Other(e.to_string())),
        };
        failed(reason)
    };
    let uri: ureq::http::Uri = url.parse().map_err(|e| other(format!("not a URL: {e}")))?;
    if !uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https")) {
        return Err(failed(ConnectionCause::NotHttps));
    }
    let host = uri.host().ok_or_else(|| failed(ConnectionCause::NoHost))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let address = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .map_err(|_| failed(ConnectionCause::HostNotFound))?
        .next()
        .ok_or_else(|| failed(ConnectionCause::HostNotFound))?;
    let server_name = rustls_pki_types::ServerName::try_from(host.clone())
        .map_err(|_| other(format!("{host:?} is not a host name")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| other(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    let mut connection =
        rustls::ClientConnection::new(Arc::new(config), server_name).map_err(|e| other(e.to_string()))?;
    let mut socket = std::net::TcpStream::connect_timeout(&address, timeout).map_err(io_failed)?;
    socket.set_read_timeout(Some(timeout)).and_then(|()| socket.set_write_timeout(Some(timeout))).map_err(io_failed)?;
    while connection.is_handshaking() {
        connection.complete_io(&mut socket).map_err(|e| {
            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => failed(ConnectionCause::TlsHandshake(tls.to_string())),
                None => io_failed(e),
            }
        })?;
    }
    let leaf = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.to_vec())
        .ok_or_else(|| failed(ConnectionCause::NoCertificate))?;
    connection.send_close_notify();
    let _ = connection.complete_io(&mut socket);
    let _ = socket.flush();
    Ok(leaf)
}

/// SHA-256 of a certificate's DER encoding, as lowercase hex: the form `bidui keys
/// tls-cert` prints and [`MatcherTrust::fingerprints`] gives.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, der))
}

/// Accepts any certificate, for [`presented_certificate`] only; the handshake's signatures
/// are still checked, so the certificate read is the one whose key the server holds.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &rustls_pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &rustls_pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The SHA-256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().try_into().expect("32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_i18n::{in_language, Lang};

    fn certificate_pem(host: &str) -> String {
        rcgen::generate_simple_self_signed(vec![host.to_owned()]).unwrap().cert.pem()
    }

    #[test]
    fn a_pinned_certificate_is_exactly_one_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.pem");
        std::fs::write(&one, certificate_pem("127.0.0.1")).unwrap();
        let trust = MatcherTrust::pinned_certificate(&one).unwrap();
        assert_eq!((trust.kind(), trust.fingerprints().len()), (TrustKind::PinnedCertificate, 1));
        let two = dir.path().join("two.pem");
        std::fs::write(&two, certificate_pem("127.0.0.1") + &certificate_pem("localhost")).unwrap();
        assert!(matches!(MatcherTrust::pinned_certificate(&two), Err(TrustError::NotOne { count: 2, .. })));
        assert_eq!(MatcherTrust::ca_file(&two).unwrap().fingerprints().len(), 2);
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(matches!(MatcherTrust::pinned_certificate(&junk), Err(TrustError::Invalid { .. })));
        assert!(matches!(MatcherTrust::from_config(Some(&one), Some(&one)), Err(TrustError::Both)));
        assert!(MatcherTrust::from_config(None, None).unwrap().is_none());
    }

    #[test]
    fn https_needs_a_trust_anchor_and_http_must_not_have_one() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("cert.pem");
        std::fs::write(&pem, certificate_pem("127.0.0.1")).unwrap();
        let trust = || Some(MatcherTrust::pinned_certificate(&pem).unwrap());
        let identity = || Identity::create(&dir.path().join(format!("k{}", rand_suffix()))).unwrap();
        assert!(matches!(
            Client::with_trust("https://127.0.0.1:1", "a", identity(), None),
            Err(ClientError::NoTrustAnchor { .. })
        ));
        let Err(plain) = Client::with_trust("http://127.0.0.1:1", "a", identity(), trust()) else { panic!() };
        assert!(matches!(plain, ClientError::PlainWithTrust { .. }), "{plain}");
        // Told in the reader's language, the trust anchor included: Chinese first, English on request.
        let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || plain.to_string());
        assert!(zh.contains("是明文 http:// 比对服务，却配置了 matcher_certificate（固定证书）"), "{zh}");
        let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || plain.to_string());
        assert!(en.contains("is a plain http:// matcher but the pinned matcher_certificate"), "{en}");
        assert!(Client::with_trust("HTTPS://127.0.0.1:1", "a", identity(), trust()).is_ok());
        assert!(Client::with_trust("http://127.0.0.1:1", "a", identity(), None).is_ok());
        // `new` has no trust anchor: an https:// matcher is refused before any connection.
        let client = Client::new("https://127.0.0.1:1", "a", identity());
        assert!(matches!(client.get::<serde_json::Value>("/v1/health"), Err(ClientError::NoTrustAnchor { .. })));
    }

    /// A loopback server answering each request, in turn, with the next of `answers`
    /// (status, body); returns its port and the nonces it saw. With `after`, it starts
    /// listening only that long after the call: the port refuses connections until then.
    fn scripted_server(
        answers: Vec<(u16, &'static str)>,
        after: Duration,
    ) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Write};
        // Listening before it returns, unless it is to come up late: a client without
        // retries once asked before the thread had bound, was refused, and the test then
        // waited forever for the answer's thread to accept.
        let early = (after.is_zero()).then(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let port = match &early {
            Some(listener) => listener.local_addr().unwrap().port(),
            None => std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(),
        };
        let server = std::thread::spawn(move || {
            std::thread::sleep(after);
            let listener = early.unwrap_or_else(|| std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
            let mut nonces = Vec::new();
            for (status, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(nonce) = line.to_ascii_lowercase().strip_prefix(&format!("{HEADER_NONCE}:")) {
                        nonces.push(nonce.trim().to_owned());
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                reader.get_mut().write_all(answer.as_bytes()).unwrap();
            }
            nonces
        });
        (port, server)
    }

    fn quick_retries(budget_ms: u64) -> RetryPolicy {
        RetryPolicy {
            budget: Duration::from_millis(budget_ms),
            first_pause: Duration::from_millis(50),
            max_pause: Duration::from_millis(200),
        }
    }

    #[test]
    fn retry_pauses_double_up_to_their_cap() {
        let policy = RetryPolicy::UNATTENDED;
        let pauses: Vec<u64> = (1..=8).map(|n| policy.pause(n).as_millis() as u64).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(policy.pause(u32::MAX), Duration::from_secs(10));
        assert_eq!(RetryPolicy::NONE.pause(1), Duration::ZERO);
    }

    #[test]
    fn a_matcher_that_comes_back_is_reached_by_retrying_each_time_signed_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::create(&dir.path().join("k")).unwrap();
        // Not listening for 300 ms (a restart), then "unavailable", a body too slow (a lossy
        // link), "bad gateway", then the answer.
        let answers = vec![
            (503, r#"{"code":"busy","message":"m"}"#),
            (408, r#"{"code":"body-too-slow","message":"m"}"#),
            (502, "bad gateway"),
            (200, r#"{"ok":true}"#),
        ];
        let (port, server) = scripted_server(answers, Duration::from_millis(300));
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "a", identity).with_retry(quick_retries(30_000));
        let answer: serde_json::Value = client.get("/v1/health").unwrap();
        assert_eq!(answer["ok"], true);
        let nonces = server.join().unwrap();
        assert_eq!(nonces.len(), 4, "{nonces:?}");
        assert!(nonces.windows(2).all(|pair| pair[0] != pair[1]), "every attempt is a new signed request");
    }

    #[test]
    fn a_refusal_is_the_answer_and_is_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::create(&dir.path().join("k")).unwrap();
        let (port, server) = scripted_server(vec![(409, r#"{"code":"sealed","message":"m"}"#)], Duration::ZERO);
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "a", identity).with_retry(quick_retries(30_000));
        let error = client.get::<serde_json::Value>("/v2/jobs/j").unwrap_err();
        assert_eq!((error.status(), error.code()), (Some(409), Some("sealed")));
        assert_eq!(server.join().unwrap().len(), 1);
    }

    #[test]
    fn a_notice_is_retried_on_the_way_and_a_refusal_is_its_answer() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::create(&dir.path().join("k")).unwrap();
        let (port, server) =
            scripted_server(vec![(503, r#"{"code":"busy","message":"m"}"#), (204, "")], Duration::ZERO);
        let client =
            Client::new(&format!("http://127.0.0.1:{port}"), "a", identity).with_retry(RetryPolicy::UNATTENDED);
        client.notice("zc/1", &SubmissionNotice::Reading {}).unwrap();
        assert_eq!(server.join().unwrap().len(), 2);
        let identity = Identity::create(&dir.path().join("k2")).unwrap();
        let (port, server) = scripted_server(vec![(409, r#"{"code":"sealed","message":"m"}"#)], Duration::ZERO);
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "a", identity);
        let error = client.notice("zc/1", &SubmissionNotice::Declined { reason: "held".into() }).unwrap_err();
        assert_eq!((error.status(), error.code()), (Some(409), Some("sealed")));
        assert_eq!(server.join().unwrap().len(), 1);
    }

    #[test]
    fn a_refusal_is_explained_in_the_readers_language_and_keeps_the_matchers_message() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::create(&dir.path().join("k")).unwrap();
        let body = r#"{"code":"over-cap","message":"120 records are more than the 100 the signed job allows"}"#;
        let message = serde_json::from_str::<ApiError>(body).unwrap().message;
        let (port, server) = scripted_server(vec![(422, body)], Duration::ZERO);
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "a", identity).with_retry(RetryPolicy::NONE);
        let error = client.put_bytes("/v2/jobs/j/submission/chunks/0", b"chunk").unwrap_err();
        server.join().unwrap();
        // Chinese, what the command line speaks unless told otherwise; English under `--lang en`.
        let zh = in_language(Lang::Zh, || error.to_string());
        assert_eq!(
            zh,
            format!(
                "比对服务拒绝了 PUT /v2/jobs/j/submission/chunks/0（422 over-cap）：本方的记录数超过已签名任务允许的上限。\
                 请检查源文件，或请操作员创建上限更高的任务。（比对服务原文：{message}）"
            )
        );
        let en = in_language(Lang::En, || error.to_string());
        assert_eq!(
            en,
            format!(
                "the matcher refused PUT /v2/jobs/j/submission/chunks/0 (422 over-cap): This party's records are more \
                 than the signed job allows. Check the source file, or ask the operator for a job with a higher cap. \
                 (the matcher said: {message})"
            )
        );
    }

    #[test]
    fn a_refusal_code_from_a_newer_matcher_is_shown_with_the_matchers_message_alone() {
        let error = ClientError::Refused {
            method: "POST".into(),
            path: "/v2/jobs".into(),
            status: 409,
            code: "some-new-code".into(),
            message: "a newer rule".into(),
            waiting_for: Box::default(),
        };
        assert_eq!(refusal_explanation("some-new-code"), None);
        assert_eq!(
            in_language(Lang::Zh, || error.to_string()),
            "比对服务拒绝了 POST /v2/jobs：409 some-new-code：a newer rule"
        );
        assert_eq!(
            in_language(Lang::En, || error.to_string()),
            "the matcher refused POST /v2/jobs: 409 some-new-code: a newer rule"
        );
    }

    #[test]
    fn a_matcher_that_stays_away_is_reported_in_plain_words_after_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::create(&dir.path().join("k")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "a", identity).with_retry(quick_retries(400));
        let error = client.get::<serde_json::Value>("/v1/health").unwrap_err();
        let ClientError::GaveUp { attempts, reason, .. } = &error else { panic!("{error:?}") };
        assert!(*attempts > 1, "{error}");
        assert_eq!(
            (reason, error.cause().map(ConnectionCause::code)),
            (&ConnectionCause::Refused, Some("connection-refused"))
        );
        let text = in_language(Lang::En, || error.to_string());
        assert!(text.contains("the connection was refused (is the matcher running?)"), "{text}");
        assert!(!text.contains("docs.rs") && !text.contains("os error"), "plain words only: {text}");
        // Chinese unless English is asked for.
        let text = in_language(Lang::Zh, || error.to_string());
        assert!(text.contains("连接被拒绝（比对服务是否在运行？）"), "{text}");
        // Without retries the first failure is the answer.
        let identity = Identity::create(&dir.path().join("k2")).unwrap();
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "a", identity).with_retry(RetryPolicy::NONE);
        assert!(matches!(client.get::<serde_json::Value>("/v1/health"), Err(ClientError::Transport { .. })));
    }

    #[test]
    fn connection_causes_read_in_the_readers_language_and_log_as_ascii_codes() {
        let causes = [
            ConnectionCause::Refused,
            ConnectionCause::Cut,
            ConnectionCause::ClosedBeforeAnswer,
            ConnectionCause::NoAnswerInTime,
            ConnectionCause::NetworkUnreachable,
            ConnectionCause::HostNotFound,
            ConnectionCause::ConnectionFailed,
            ConnectionCause::AnswerStalled,
            ConnectionCause::ClosedMidAnswer,
            ConnectionCause::NotHttps,
            ConnectionCause::NoHost,
            ConnectionCause::TlsHandshake("HandshakeFailure".into()),
            ConnectionCause::NoCertificate,
        ];
        let mut codes = std::collections::BTreeSet::new();
        for cause in &causes {
            let (zh, en) = (in_language(Lang::Zh, || cause.to_string()), in_language(Lang::En, || cause.to_string()));
            assert!(en.is_ascii() && !zh.is_ascii() && !zh.contains("client-cause"), "{zh} / {en}");
            let code = cause.code();
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{code}");
            assert!(codes.insert(code), "{code} twice");
        }
        assert_eq!(in_language(Lang::Zh, || ConnectionCause::Cut.to_string()), "连接被中断（比对服务可能刚重启）");
        let error = ClientError::Transport { url: "http://m".into(), reason: ConnectionCause::NoAnswerInTime };
        assert_eq!(
            in_language(Lang::En, || error.to_string()),
            "cannot reach the matcher at http://m: no answer in time"
        );
        assert_eq!(in_language(Lang::Zh, || error.to_string()), "无法连接比对服务 http://m：未在时限内答复");
    }

    fn rand_suffix() -> String {
        let mut bytes = [0u8; 8];
        SystemRandom::new().fill(&mut bytes).unwrap();
        hex::encode(bytes)
    }

    /// The hand-written encoder `path_segment` replaced: the oracle it must agree with.
    fn path_segment_by_hand(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    }

    #[test]
    fn path_segments_keep_only_unreserved_characters() {
        assert_eq!(path_segment("zc-2026_Q4.v1~"), "zc-2026_Q4.v1~");
        assert_eq!(path_segment("增城 2026/11?x#%"), "%E5%A2%9E%E5%9F%8E%202026%2F11%3Fx%23%25");
        assert_eq!(path_segment(""), "");
    }

    #[test]
    fn job_paths_are_protocol_v2_and_encode_the_id() {
        assert_eq!(job_path("zc-2026-001"), "/v2/jobs/zc-2026-001");
        assert_eq!(job_path("增城/1"), "/v2/jobs/%E5%A2%9E%E5%9F%8E%2F1");
    }

    proptest::proptest! {
        #[test]
        fn path_segments_are_encoded_as_before(text in "\\PC*", ascii in "[ -~]*") {
            proptest::prop_assert_eq!(path_segment(&text), path_segment_by_hand(&text));
            proptest::prop_assert_eq!(path_segment(&ascii), path_segment_by_hand(&ascii));
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SomeConfig {
        name: String,
        #[serde(flatten)]
        matcher: MatcherEndpoint,
    }

    #[test]
    fn an_endpoint_flattens_into_a_config_under_the_matcher_keys() {
        let config: SomeConfig = toml::from_str(
            "name = \"operator\"\nmatcher = \"https://m:8700\"\nmatcher_certificate = \"m.pem\"\n\
             matcher_ca = \"/etc/ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(config.name, "operator");
        let mut endpoint = config.matcher;
        assert_eq!(
            endpoint,
            MatcherEndpoint {
                url: "https://m:8700".into(),
                certificate: Some("m.pem".into()),
                ca: Some("/etc/ca.pem".into())
            }
        );
        endpoint.resolve_relative_to(Path::new("/home/op"));
        assert_eq!(endpoint.certificate.as_deref(), Some(Path::new("/home/op/m.pem")));
        assert_eq!(endpoint.ca.as_deref(), Some(Path::new("/etc/ca.pem")), "absolute paths stay");
        assert!(matches!(endpoint.trust(), Err(TrustError::Both)));

        let plain: SomeConfig = toml::from_str("name = \"a\"\nmatcher = \"http://127.0.0.1:1\"\n").unwrap();
        assert_eq!((plain.matcher.certificate, plain.matcher.ca), (None, None));
        let unknown = toml::from_str::<SomeConfig>("name = \"a\"\nmatcher = \"http://m\"\nmatcher_cert = \"m.pem\"\n");
        assert!(unknown.unwrap_err().to_string().contains("matcher_cert"), "unknown keys are still refused");
        assert!(toml::from_str::<SomeConfig>("name = \"a\"\n").is_err(), "the matcher's URL is required");
    }

    #[test]
    fn an_endpoint_builds_a_client_with_its_trust_anchor() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), certificate_pem("127.0.0.1")).unwrap();
        let identity = || Identity::create(&dir.path().join(format!("k{}", rand_suffix()))).unwrap();
        let mut endpoint =
            MatcherEndpoint { url: "https://127.0.0.1:1".into(), certificate: Some("cert.pem".into()), ca: None };
        endpoint.resolve_relative_to(dir.path());
        let client = endpoint.client("operator", identity()).unwrap();
        assert_eq!((client.signer(), client.base_url()), ("operator", "https://127.0.0.1:1"));
        endpoint.certificate = None;
        assert!(matches!(endpoint.client("operator", identity()), Err(ClientError::NoTrustAnchor { .. })));
    }
}
