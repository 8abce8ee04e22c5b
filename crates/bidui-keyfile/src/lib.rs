//! Key files: secrets written readable by their owner only and never overwritten, and the
//! Ed25519 identities (agent, operator, custodian) kept in them.
//!
//! Kept apart from the HTTP client so that the custodian, which signs statements and
//! writes its key but may never talk to the network, does not link a TLS stack for it.

#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{}", bidui_i18n::t!("keyfile-error-exists", path = .0.display()))]
    Exists(PathBuf),
    #[error("{}", bidui_i18n::t!("keyfile-error-write", path = .path.display(), source = .source))]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("keyfile-error-read", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("keyfile-error-invalid", path = .0.display()))]
    Invalid(PathBuf),
    #[error("{}", bidui_i18n::t!("random-failed"))]
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
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|source| KeyFileError::Write { path: path.to_owned(), source })
}

/// An Ed25519 signing identity (agent, operator or custodian).
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

    /// A new key kept in memory only: it signs requests no matcher knows, for the one
    /// endpoint that reads no signature (the health check) when the real key is unusable.
    pub fn ephemeral() -> Result<Identity, KeyFileError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyFileError::Random)?;
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyFileError::Random)?;
        Ok(Identity { key })
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
        let Err(exists) = Identity::create(&path) else { panic!("a key was overwritten") };
        assert!(matches!(exists, KeyFileError::Exists(_)), "{exists}");
        // Told in the reader's language: Chinese first, English on request.
        let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || exists.to_string());
        assert!(zh.contains("已存在；bidui 从不覆盖密钥文件"), "{zh}");
        let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || exists.to_string());
        assert!(en.contains("already exists; bidui never overwrites a key"), "{en}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(Identity::load(&path).unwrap().public_key(), identity.public_key());
    }

    #[test]
    fn an_ephemeral_identity_signs_and_is_new_each_time() {
        use ring::signature::{UnparsedPublicKey, ED25519};
        let (one, two) = (Identity::ephemeral().unwrap(), Identity::ephemeral().unwrap());
        assert_ne!(one.public_key(), two.public_key());
        let signature = one.sign(b"GET /v1/health");
        assert!(UnparsedPublicKey::new(&ED25519, one.public_key()).verify(b"GET /v1/health", &signature).is_ok());
    }

    #[test]
    fn secret_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matcher.key");
        write_secret_file(&path, b"first").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(matches!(write_secret_file(&path, b"second"), Err(KeyFileError::Exists(_))));
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        std::fs::write(&path, b"not a key").unwrap();
        assert!(matches!(Identity::load(&path), Err(KeyFileError::Invalid(_))));
    }
}
