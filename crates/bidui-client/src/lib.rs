//! Signed HTTP calls to the matcher (`protocol-docs/wire-v1.md`), shared by agents and
//! the operator's CLI, and the Ed25519 identity files that sign them.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bidui_core::api::{ApiError, HEADER_NONCE, HEADER_SIGNATURE, HEADER_SIGNER, HEADER_TIMESTAMP};
use bidui_core::wire::request_signing_payload;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the matcher at {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("the matcher refused {method} {path}: {status} {code}: {message}")]
    Refused { method: String, path: String, status: u16, code: String, message: String },
    #[error("the matcher's answer to {path} was not understood: {reason}")]
    Answer { path: String, reason: String },
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
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{0} already exists; bidui never overwrites a key (move it away first if you mean to replace it)")]
    Exists(PathBuf),
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0} is not an Ed25519 private key written by bidui")]
    Invalid(PathBuf),
    #[error("the system random number generator failed")]
    Random,
}

/// Writes `bytes` to a new file readable by its owner only. Never replaces a file.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => KeyFileError::Exists(path.to_owned()),
        _ => KeyFileError::Write { path: path.to_owned(), source },
    })?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(|source| KeyFileError::Write { path: path.to_owned(), source })
}

/// An Ed25519 signing identity (agent or operator).
pub struct Identity {
    key: Ed25519KeyPair,
}

impl Identity {
    /// Creates a new key at `path` (PKCS#8, mode 0600); refuses to overwrite.
    pub fn create(path: &Path) -> Result<Identity, KeyFileError> {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyFileError::Random)?;
        write_secret_file(path, pkcs8.as_ref())?;
        Identity::load(path)
    }

    pub fn load(path: &Path) -> Result<Identity, KeyFileError> {
        let bytes = std::fs::read(path).map_err(|source| KeyFileError::Read { path: path.to_owned(), source })?;
        let key = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| KeyFileError::Invalid(path.to_owned()))?;
        Ok(Identity { key })
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.public_key().as_ref().try_into().expect("Ed25519 public keys are 32 bytes")
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).as_ref().to_vec()
    }
}

/// A matcher connection that signs every request as `signer`.
pub struct Client {
    base: String,
    signer: String,
    identity: Identity,
    http: ureq::Agent,
    rng: SystemRandom,
}

impl Client {
    pub fn new(base_url: &str, signer: &str, identity: Identity) -> Client {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        Client { base: base_url.trim_end_matches('/').to_owned(), signer: signer.to_owned(), identity, http, rng: SystemRandom::new() }
    }

    pub fn signer(&self) -> &str {
        &self.signer
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends one signed request; returns the status and body of a 2xx answer.
    pub fn send(&self, method: &str, path: &str, body: &[u8], content_type: &str) -> Result<(u16, Vec<u8>), ClientError> {
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut nonce = [0u8; 16];
        self.rng.fill(&mut nonce).map_err(|_| ClientError::Transport { url: self.base.clone(), reason: "no randomness for the nonce".into() })?;
        let nonce = hex::encode(nonce);
        let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, body).as_ref().try_into().expect("32 bytes");
        let signature = self.identity.sign(&request_signing_payload(method, path, &digest, timestamp, &nonce, &self.signer));
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header(HEADER_SIGNER, &self.signer)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_NONCE, &nonce)
            .header(HEADER_SIGNATURE, hex::encode(signature))
            .header("content-type", content_type)
            .body(body.to_vec())
            .map_err(|e| ClientError::Transport { url: url.clone(), reason: e.to_string() })?;
        let mut response = self.http.run(request).map_err(|e| ClientError::Transport { url: url.clone(), reason: e.to_string() })?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| ClientError::Transport { url: url.clone(), reason: e.to_string() })?;
        if (200..300).contains(&status) {
            return Ok((status, bytes));
        }
        let error: ApiError = serde_json::from_slice(&bytes)
            .unwrap_or(ApiError { code: "http".into(), message: String::from_utf8_lossy(&bytes).chars().take(200).collect() });
        Err(ClientError::Refused { method: method.into(), path: path.into(), status, code: error.code, message: error.message })
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

    pub fn put_bytes(&self, path: &str, body: &[u8]) -> Result<u16, ClientError> {
        Ok(self.send("PUT", path, body, "application/octet-stream")?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.ed25519");
        let identity = Identity::create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(Identity::create(&path), Err(KeyFileError::Exists(_))));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(Identity::load(&path).unwrap().public_key(), identity.public_key());
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        std::fs::write(&path, b"not a key").unwrap();
        assert!(matches!(Identity::load(&path), Err(KeyFileError::Invalid(_))));
    }
}
