//! Epoch files: a key epoch's suite and secret, kept by the agent with mode 0600.
//!
//! ```toml
//! # bidui key epoch: SECRET. Anyone holding this file can brute-force tokens.
//! suite = "hmac-sha256"
//! secret = "<64 hex digits>"
//! ```

use std::path::{Path, PathBuf};

use bidui_core::{EpochSecret, KeyEpoch, Suite};
use bidui_i18n::Said;
use bidui_keyfile::{write_secret_file, Identity, KeyFileError};
use serde::Deserialize;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    #[error("{}", bidui_i18n::t!("agent-error-epoch-read", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("agent-error-epoch-invalid", path = .path.display(), message = .message))]
    Invalid { path: PathBuf, message: Said },
    #[error("{}", bidui_i18n::t!("agent-error-epoch-not-held", wanted = .wanted, held = .held))]
    NotHeld { wanted: String, held: String },
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error("{}", bidui_i18n::t!("random-failed"))]
    Random,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochFile {
    suite: Suite,
    secret: Zeroizing<String>,
}

pub fn load(path: &Path) -> Result<KeyEpoch, EpochError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| EpochError::Read { path: path.to_owned(), source })?,
    );
    let file: EpochFile = toml::from_str(&text)
        .map_err(|e| EpochError::Invalid { path: path.to_owned(), message: Said::new(|| e.message().to_owned()) })?;
    let secret = EpochSecret::from_hex(&file.secret)
        .map_err(|e| EpochError::Invalid { path: path.to_owned(), message: Said::new(|| e.to_string()) })?;
    Ok(KeyEpoch::new(file.suite, secret))
}

/// Epoch files the agent holds: those configured by path and those it unsealed into
/// its epochs folder.
pub fn held(configured: &[PathBuf], dir: &Path) -> Vec<PathBuf> {
    let mut paths = configured.to_vec();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut unsealed: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "epoch"))
            .collect();
        unsealed.sort();
        paths.extend(unsealed);
    }
    paths
}

/// Where an unsealed epoch is kept: one 0600 file per key check value.
pub fn unsealed_path(dir: &Path, kcv: &str) -> PathBuf {
    dir.join(format!("{kcv}.epoch"))
}

/// What taking up a delivery did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TakeUp {
    /// Check values newly opened and kept (to acknowledge to the matcher).
    pub taken: Vec<String>,
    /// Sealed epochs refused, with the reason: one bad seal does not stop the others.
    pub refused: Vec<String>,
}

/// A key check value is 16 lowercase hex digits; anything else from the matcher is
/// refused before it comes near a file name.
fn valid_kcv(kcv: &str) -> bool {
    kcv.len() == 16 && kcv.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Opens the sealed epochs addressed to `me` that the agent does not hold yet, keeping
/// each in `dir`; deletes the files of `retired` epochs.
pub fn take_up(
    delivery: &bidui_core::api::EpochDelivery,
    me: &str,
    my_key: &x25519_dalek::StaticSecret,
    custodian: &[u8; 32],
    dir: &Path,
) -> Result<TakeUp, EpochError> {
    std::fs::create_dir_all(dir).map_err(|source| EpochError::Read { path: dir.to_owned(), source })?;
    let mut outcome = TakeUp::default();
    for sealed in delivery.sealed.iter().filter(|s| s.recipient == me) {
        if !valid_kcv(&sealed.kcv) {
            outcome.refused.push(format!("{:?}: not a key check value", sealed.kcv));
            continue;
        }
        let path = unsealed_path(dir, &sealed.kcv);
        if path.exists() {
            continue;
        }
        match sealed.open(me, my_key, custodian) {
            Ok(epoch) => {
                write(&path, &epoch)?;
                outcome.taken.push(sealed.kcv.clone());
            }
            Err(e) => outcome.refused.push(format!("{}: {e}", sealed.kcv)),
        }
    }
    for kcv in delivery.retired.iter().filter(|k| valid_kcv(k)) {
        let path = unsealed_path(dir, kcv);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|source| EpochError::Read { path, source })?;
        }
    }
    Ok(outcome)
}

/// The agent's X25519 key file: 32 secret bytes as hex, 0600.
pub fn load_x25519(path: &Path) -> Result<x25519_dalek::StaticSecret, EpochError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| EpochError::Read { path: path.to_owned(), source })?,
    );
    let invalid =
        || EpochError::Invalid { path: path.to_owned(), message: Said::new(|| bidui_i18n::t!("agent-x25519-invalid")) };
    let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(hex::decode(text.trim()).map_err(|_| invalid())?);
    let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| invalid())?;
    Ok(x25519_dalek::StaticSecret::from(array))
}

/// Creates an agent's keys in `dir`: `agent.ed25519` (signs requests) and `agent.x25519`
/// (receives sealed epochs), both 0600, never overwriting. Returns the public keys.
pub fn init_agent_keys(dir: &Path) -> Result<([u8; 32], [u8; 32]), EpochError> {
    std::fs::create_dir_all(dir).map_err(|source| EpochError::Read { path: dir.to_owned(), source })?;
    let x25519_path = dir.join("agent.x25519");
    if x25519_path.exists() {
        return Err(KeyFileError::Exists(x25519_path).into());
    }
    let signing = Identity::create(&dir.join("agent.ed25519"))?;
    let mut secret = Zeroizing::new([0u8; 32]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret[..])
        .map_err(|_| EpochError::Random)?;
    write_secret_file(&x25519_path, Zeroizing::new(hex::encode(*secret)).as_bytes())?;
    let public = bidui_core::seal::x25519_public(&x25519_dalek::StaticSecret::from(*secret));
    Ok((signing.public_key(), public))
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
    Err(EpochError::NotHeld {
        wanted: kcv.to_owned(),
        held: if held.is_empty() { bidui_i18n::t!("none") } else { held.join(", ") },
    })
}

/// Writes a fresh random epoch to a new 0600 file and returns it. Never overwrites.
pub fn create(path: &Path, suite: Suite) -> Result<KeyEpoch, EpochError> {
    let secret = EpochSecret::generate(&ring::rand::SystemRandom::new()).map_err(|_| EpochError::Random)?;
    write(path, &KeyEpoch::new(suite, secret))?;
    load(path)
}

pub fn write(path: &Path, epoch: &KeyEpoch) -> Result<(), EpochError> {
    let text = Zeroizing::new(format!(
        "# bidui key epoch: SECRET. Anyone holding this file can brute-force tokens.\n\
         # key check value: {}\nsuite = \"{}\"\nsecret = \"{}\"\n",
        epoch.key_check_value(),
        epoch.suite,
        epoch.secret.expose_hex().as_str()
    ));
    write_secret_file(path, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_delivery_is_refused_piece_by_piece_and_names_no_file_outside() {
        use ring::signature::KeyPair;
        let dir = tempfile::tempdir().unwrap();
        let epochs_dir = dir.path().join("epochs");
        let rng = ring::rand::SystemRandom::new();
        let custodian = ring::signature::Ed25519KeyPair::from_pkcs8(
            ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref(),
        )
        .unwrap();
        let custodian_public: [u8; 32] = custodian.public_key().as_ref().try_into().unwrap();
        let me = x25519_dalek::StaticSecret::from([5; 32]);
        let good = KeyEpoch::new(Suite::HmacSha256, EpochSecret::generate(&rng).unwrap());
        let sealed =
            bidui_core::seal::seal(&good, "household", &bidui_core::seal::x25519_public(&me), &custodian, &rng)
                .unwrap();
        let mut forged = sealed.clone();
        forged.kcv = "ffffffffffffffff".into();
        let mut traversal = sealed.clone();
        traversal.kcv = "../../etc/passwd".into();
        let outside = dir.path().join("keep.epoch");
        std::fs::write(&outside, "not to be deleted").unwrap();
        let delivery = bidui_core::api::EpochDelivery {
            sealed: vec![forged, traversal, sealed.clone()],
            retired: vec!["../keep".into()],
        };
        let outcome = take_up(&delivery, "household", &me, &custodian_public, &epochs_dir).unwrap();
        assert_eq!(outcome.taken, vec![sealed.kcv.clone()]);
        assert_eq!(outcome.refused.len(), 2, "{:?}", outcome.refused);
        assert!(outside.exists());
        assert_eq!(select(&held(&[], &epochs_dir), &sealed.kcv).unwrap().secret, good.secret);
    }

    #[test]
    fn agent_keys_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let (signing, x25519) = init_agent_keys(dir.path()).unwrap();
        for file in ["agent.ed25519", "agent.x25519"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        let before = std::fs::read(dir.path().join("agent.x25519")).unwrap();
        assert!(matches!(init_agent_keys(dir.path()), Err(EpochError::KeyFile(KeyFileError::Exists(_)))));
        assert_eq!(std::fs::read(dir.path().join("agent.x25519")).unwrap(), before);
        let key = load_x25519(&dir.path().join("agent.x25519")).unwrap();
        assert_eq!(bidui_core::seal::x25519_public(&key), x25519);
        assert_eq!(Identity::load(&dir.path().join("agent.ed25519")).unwrap().public_key(), signing);
    }

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
        assert!(matches!(create(&a, Suite::Blake3), Err(EpochError::KeyFile(KeyFileError::Exists(_)))));
    }

    #[test]
    fn a_damaged_x25519_key_is_said_in_the_readers_language() {
        use bidui_i18n::{in_language, Lang};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.x25519");
        for text in ["zz", "abcd"] {
            std::fs::write(&path, text).unwrap();
            let en = in_language(Lang::En, || load_x25519(&path).err().unwrap().to_string());
            assert!(en.ends_with("it is not 64 hex digits (the key bidui agent init writes)"), "{en}");
            let zh = in_language(Lang::Zh, || load_x25519(&path).err().unwrap().to_string());
            assert!(zh.ends_with("不是 64 位十六进制数字（应为 bidui agent init 生成的密钥）"), "{zh}");
        }
        let none = in_language(Lang::Zh, || select(&[], "0000000000000000").unwrap_err().to_string());
        assert!(none.contains("（现有：无）"), "{none}");
    }
}
