//! Epoch files: a key epoch's suite and secret, kept by the agent with mode 0600.
//!
//! ```toml
//! # bidui key epoch: SECRET. Anyone holding this file can brute-force tokens.
//! suite = "hmac-sha256"
//! secret = "<64 hex digits>"
//! ```

use std::path::{Path, PathBuf};

use bidui_core::{EpochSecret, KeyEpoch, Suite};
use serde::Deserialize;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    #[error("cannot read epoch file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("epoch file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("this agent holds no epoch with key check value {wanted} (it holds: {held}); ask the key custodian for the job's epoch")]
    NotHeld { wanted: String, held: String },
    #[error(transparent)]
    KeyFile(#[from] bidui_client::KeyFileError),
    #[error("the system random number generator failed")]
    Random,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochFile {
    suite: Suite,
    secret: Zeroizing<String>,
}

pub fn load(path: &Path) -> Result<KeyEpoch, EpochError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| EpochError::Read { path: path.to_owned(), source })?);
    let file: EpochFile = toml::from_str(&text).map_err(|e| EpochError::Invalid { path: path.to_owned(), message: e.message().to_owned() })?;
    let secret = EpochSecret::from_hex(&file.secret).map_err(|e| EpochError::Invalid { path: path.to_owned(), message: e.to_string() })?;
    Ok(KeyEpoch::new(file.suite, secret))
}

/// The epoch among `paths` whose key check value is `kcv`.
pub fn select(paths: &[PathBuf], kcv: &str) -> Result<KeyEpoch, EpochError> {
    let mut held = Vec::new();
    for path in paths {
        let epoch = load(path)?;
        let value = epoch.key_check_value();
        if value == kcv {
            return Ok(epoch);
        }
        held.push(value);
    }
    Err(EpochError::NotHeld { wanted: kcv.to_owned(), held: if held.is_empty() { "none".into() } else { held.join(", ") } })
}

/// Writes a fresh random epoch to a new 0600 file and returns it. Never overwrites.
pub fn create(path: &Path, suite: Suite) -> Result<KeyEpoch, EpochError> {
    let secret = EpochSecret::generate(&ring::rand::SystemRandom::new()).map_err(|_| EpochError::Random)?;
    write(path, &KeyEpoch::new(suite, secret))?;
    load(path)
}

pub fn write(path: &Path, epoch: &KeyEpoch) -> Result<(), EpochError> {
    let text = Zeroizing::new(format!(
        "# bidui key epoch: SECRET. Anyone holding this file can brute-force tokens.\n# key check value: {}\nsuite = \"{}\"\nsecret = \"{}\"\n",
        epoch.key_check_value(),
        epoch.suite,
        epoch.secret.expose_hex().as_str()
    ));
    bidui_client::write_secret_file(path, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_file_round_trips_and_is_selected_by_its_check_value() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.epoch");
        let b = dir.path().join("b.epoch");
        let first = create(&a, Suite::HmacSha256).unwrap();
        let second = create(&b, Suite::HmacSm3).unwrap();
        let paths = vec![a.clone(), b];
        assert_eq!(select(&paths, &second.key_check_value()).unwrap().suite, Suite::HmacSm3);
        assert_eq!(select(&paths, &first.key_check_value()).unwrap().secret, first.secret);
        assert!(matches!(select(&paths, "0000000000000000"), Err(EpochError::NotHeld { .. })));
        assert!(matches!(create(&a, Suite::Blake3), Err(EpochError::KeyFile(bidui_client::KeyFileError::Exists(_)))));
    }
}
