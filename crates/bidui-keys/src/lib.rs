//! The key custodian: a separate person, on a machine that is not the matcher's, who
//! enrols agents, creates and rotates epoch secrets, and revokes agents.
//!
//! The custodian's folder holds its Ed25519 signing key (`custodian.ed25519`, 0600) and
//! `custodian.json`: the enrolled agents' public keys and the epochs' check values — no
//! secret. An epoch secret exists in cleartext only in memory during [`Custodian::rotate`]
//! (then it is zeroized) and, after sealing, inside the agents.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use bidui_core::custody::{validate_principal_name, Action, PrincipalNameError, PrincipalRole, PrincipalStatement};
use bidui_core::seal::{seal, SealError, SealedEpoch};
use bidui_core::{EpochSecret, KeyEpoch, Suite};
use bidui_keyfile::{write_secret_file, KeyFileError};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

pub const KEY_FILE: &str = "custodian.ed25519";
pub const STATE_FILE: &str = "custodian.json";

#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error("{}", bidui_i18n::t!("keys-error-io", path = .path.display(), source = .source))]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("keys-error-state", path = .path.display(), message = .message))]
    State { path: PathBuf, message: String },
    #[error("{}", bidui_i18n::t!("keys-error-already-enrolled", name = .0))]
    AlreadyEnrolled(String),
    #[error("{}", bidui_i18n::t!("keys-error-unknown-agent", name = .0))]
    UnknownAgent(String),
    #[error(transparent)]
    BadName(#[from] PrincipalNameError),
    #[error("{}", bidui_i18n::t!("keys-error-bad-key", key = .0))]
    BadKey(String),
    #[error("{}", bidui_i18n::t!("keys-error-nobody-to-seal-to"))]
    NobodyToSealTo,
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("{}", bidui_i18n::t!("random-failed"))]
    Random,
}

/// An agent as the custodian knows it: public keys only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolledAgent {
    pub name: String,
    pub signing_key: String,
    pub x25519_key: String,
    pub enrolled_at: u64,
    pub revoked_at: Option<u64>,
}

/// An epoch as the custodian records it: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub number: u32,
    pub kcv: String,
    pub suite: Suite,
    pub created_at: u64,
    pub sealed_to: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodianState {
    pub agents: Vec<EnrolledAgent>,
    pub epochs: Vec<EpochRecord>,
    /// The `at` of the last statement signed: each new one is later, so the matcher can
    /// refuse a replayed older statement (an old enrolment must not undo a revocation).
    #[serde(default)]
    pub last_statement_at: u64,
}

/// The outcome of a rotation: the sealed epochs to hand to the matcher for delivery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rotation {
    pub number: u32,
    pub kcv: String,
    pub suite: Suite,
    pub sealed: Vec<SealedEpoch>,
}

pub struct Custodian {
    dir: PathBuf,
    key: Ed25519KeyPair,
    state: CustodianState,
}

fn parse_key(text: &str) -> Result<[u8; 32], CustodyError> {
    hex::decode(text.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| CustodyError::BadKey(text.to_owned()))
}

impl Custodian {
    /// Creates the custodian's key and empty state in `dir`; refuses to overwrite a key.
    pub fn init(dir: &Path) -> Result<Custodian, CustodyError> {
        std::fs::create_dir_all(dir).map_err(|source| CustodyError::Io { path: dir.to_owned(), source })?;
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| CustodyError::Random)?;
        write_secret_file(&dir.join(KEY_FILE), pkcs8.as_ref())?;
        let custodian = Custodian::open_with(dir, CustodianState::default())?;
        custodian.save()?;
        Ok(custodian)
    }

    pub fn open(dir: &Path) -> Result<Custodian, CustodyError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| CustodyError::Io { path: path.clone(), source })?;
        let state = serde_json::from_str(&text).map_err(|e| CustodyError::State { path, message: e.to_string() })?;
        Custodian::open_with(dir, state)
    }

    fn open_with(dir: &Path, state: CustodianState) -> Result<Custodian, CustodyError> {
        let path = dir.join(KEY_FILE);
        let bytes = std::fs::read(&path).map_err(|source| CustodyError::Io { path: path.clone(), source })?;
        let key = Ed25519KeyPair::from_pkcs8(&bytes)
            .map_err(|_| CustodyError::State { path, message: "not an Ed25519 key".into() })?;
        Ok(Custodian { dir: dir.to_owned(), key, state })
    }

    /// Writes the state atomically: a crash leaves the old file or the new one.
    fn save(&self) -> Result<(), CustodyError> {
        let path = self.dir.join(STATE_FILE);
        let temp = self.dir.join(format!("{STATE_FILE}.partial"));
        let text = serde_json::to_string_pretty(&self.state).expect("the state serializes");
        std::fs::write(&temp, text)
            .and_then(|_| std::fs::rename(&temp, &path))
            .map_err(|source| CustodyError::Io { path, source })
    }

    /// A statement time strictly after the last one, even within one clock tick.
    fn next_statement_at(&mut self, now: u64) -> u64 {
        self.state.last_statement_at = now.max(self.state.last_statement_at + 1);
        self.state.last_statement_at
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.public_key().as_ref().try_into().expect("Ed25519 public keys are 32 bytes")
    }

    pub fn state(&self) -> &CustodianState {
        &self.state
    }

    /// Enrols an agent by its two public keys; returns the signed statement for the matcher.
    pub fn enroll(
        &mut self,
        name: &str,
        signing_key: &str,
        x25519_key: &str,
        now: u64,
    ) -> Result<PrincipalStatement, CustodyError> {
        validate_principal_name(name)?;
        let (signing, x25519) = (parse_key(signing_key)?, parse_key(x25519_key)?);
        if self.state.agents.iter().any(|a| a.name == name && a.revoked_at.is_none()) {
            return Err(CustodyError::AlreadyEnrolled(name.to_owned()));
        }
        self.state.agents.push(EnrolledAgent {
            name: name.to_owned(),
            signing_key: hex::encode(signing),
            x25519_key: hex::encode(x25519),
            enrolled_at: now,
            revoked_at: None,
        });
        let at = self.next_statement_at(now);
        self.save()?;
        Ok(PrincipalStatement::sign(&self.key, Action::Enrol, name, PrincipalRole::Agent, &signing, &x25519, at))
    }

    /// Revokes an agent: it receives no later epoch; the statement tells the matcher to
    /// refuse its requests at once.
    pub fn revoke(&mut self, name: &str, now: u64) -> Result<PrincipalStatement, CustodyError> {
        let agent = self
            .state
            .agents
            .iter_mut()
            .find(|a| a.name == name && a.revoked_at.is_none())
            .ok_or_else(|| CustodyError::UnknownAgent(name.to_owned()))?;
        agent.revoked_at = Some(now);
        let (signing, x25519) = (parse_key(&agent.signing_key)?, parse_key(&agent.x25519_key)?);
        let at = self.next_statement_at(now);
        self.save()?;
        Ok(PrincipalStatement::sign(&self.key, Action::Revoke, name, PrincipalRole::Agent, &signing, &x25519, at))
    }

    /// Signs the operator's enrolment (operators receive no epochs).
    pub fn enroll_operator(
        &mut self,
        name: &str,
        signing_key: &str,
        now: u64,
    ) -> Result<PrincipalStatement, CustodyError> {
        validate_principal_name(name)?;
        let key = parse_key(signing_key)?;
        let at = self.next_statement_at(now);
        self.save()?;
        Ok(PrincipalStatement::sign(&self.key, Action::Enrol, name, PrincipalRole::Operator, &key, &[0; 32], at))
    }

    /// A new epoch: a fresh secret sealed to every enrolled, non-revoked agent. The
    /// cleartext secret is dropped (zeroized) before this returns.
    pub fn rotate(&mut self, suite: Suite, now: u64) -> Result<Rotation, CustodyError> {
        let rng = SystemRandom::new();
        let active: Vec<EnrolledAgent> = self.state.agents.iter().filter(|a| a.revoked_at.is_none()).cloned().collect();
        if active.is_empty() {
            return Err(CustodyError::NobodyToSealTo);
        }
        let epoch = KeyEpoch::new(suite, EpochSecret::generate(&rng).map_err(|_| CustodyError::Random)?);
        let sealed = active
            .iter()
            .map(|agent| {
                seal(&epoch, &agent.name, &parse_key(&agent.x25519_key)?, &self.key, &rng).map_err(CustodyError::from)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let number = self.state.epochs.iter().map(|e| e.number).max().unwrap_or(0) + 1;
        let kcv = epoch.key_check_value();
        drop(epoch);
        self.state.epochs.push(EpochRecord {
            number,
            kcv: kcv.clone(),
            suite,
            created_at: now,
            sealed_to: active.iter().map(|a| a.name.clone()).collect(),
        });
        self.save()?;
        Ok(Rotation { number, kcv, suite, sealed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_keys(seed: u8) -> ([u8; 32], x25519_dalek::StaticSecret) {
        ([seed; 32], x25519_dalek::StaticSecret::from([seed.wrapping_add(100); 32]))
    }

    #[test]
    fn rotation_seals_to_active_agents_only_and_keeps_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut custodian = Custodian::init(dir.path()).unwrap();
        let custodian_public = custodian.public_key();
        let (sign_a, x_a) = agent_keys(1);
        let (sign_b, x_b) = agent_keys(2);
        let x_pub = |s: &x25519_dalek::StaticSecret| hex::encode(bidui_core::seal::x25519_public(s));
        let statement = custodian.enroll("household", &hex::encode(sign_a), &x_pub(&x_a), 10).unwrap();
        statement.verify(&custodian_public).unwrap();
        custodian.enroll("housing", &hex::encode(sign_b), &x_pub(&x_b), 10).unwrap();
        let Err(twice) = custodian.enroll("housing", &hex::encode(sign_b), &x_pub(&x_b), 11) else { panic!() };
        assert!(matches!(twice, CustodyError::AlreadyEnrolled(_)), "{twice}");
        // Told in the reader's language: Chinese first, English on request.
        let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || twice.to_string());
        assert_eq!(zh, "housing 已登记；如要用这个名称登记新密钥，请先撤销它");
        let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || twice.to_string());
        assert_eq!(en, "housing is already enrolled; revoke it first to enrol a new key under that name");

        let first = custodian.rotate(Suite::HmacSha256, 20).unwrap();
        assert_eq!(first.sealed.len(), 2);
        let opened = first.sealed[0].open("household", &x_a, &custodian_public).unwrap();
        assert_eq!(opened.key_check_value(), first.kcv);

        let revoked = custodian.revoke("housing", 10).unwrap();
        revoked.verify(&custodian_public).unwrap();
        assert!(revoked.at > statement.at, "statements are strictly ordered even within one clock tick");
        let second = custodian.rotate(Suite::HmacSm3, 40).unwrap();
        assert_eq!(second.sealed.iter().map(|s| s.recipient.as_str()).collect::<Vec<_>>(), vec!["household"]);
        assert_ne!(second.kcv, first.kcv);

        // The custodian's files hold public keys and check values, never a secret.
        let opened = second.sealed[0].open("household", &x_a, &custodian_public).unwrap();
        let secret_hex = opened.secret.expose_hex();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let text = String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()).into_owned();
            assert!(!text.contains(secret_hex.as_str()));
        }
        let reopened = Custodian::open(dir.path()).unwrap();
        assert_eq!(reopened.state().epochs.len(), 2);
        assert_eq!(reopened.state().epochs[1].sealed_to, vec!["household".to_owned()]);
    }

    #[test]
    fn the_custodian_key_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        Custodian::init(dir.path()).unwrap();
        let before = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
        assert!(matches!(Custodian::init(dir.path()), Err(CustodyError::KeyFile(KeyFileError::Exists(_)))));
        assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), before);
    }
}
