//! Statements the key custodian signs about principals: enrolment and revocation.
//! The matcher acts on them only when the custodian's signature verifies, so taking over
//! the matcher's host does not let anyone enrol an agent of their own.
//!
//! ```text
//! signed = Ed25519(custodian, "bidui/v1 principal statement" || 0x00 || action || 0x00 ||
//!                  name || 0x00 || role || 0x00 || signing_key || x25519_key || at (u64 BE))
//! ```

use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

const LABEL: &[u8] = b"bidui/v1 principal statement";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Enrol,
    Revoke,
}

/// A principal statement as it travels to the matcher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalStatement {
    pub action: Action,
    pub name: String,
    /// `agent` or `operator`.
    pub role: String,
    /// Hex Ed25519 public key that signs the principal's requests.
    pub signing_key: String,
    /// Hex X25519 public key epochs are sealed to (all zeros for an operator).
    pub x25519_key: String,
    /// When the custodian signed it (Unix milliseconds), strictly increasing per
    /// custodian: the matcher applies only statements newer than the last one it applied.
    pub at: u64,
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    #[error("the statement is not signed by the district's key custodian")]
    BadSignature,
    #[error("the statement is malformed: {0}")]
    Malformed(&'static str),
}

fn key32(text: &str, what: &'static str) -> Result<[u8; 32], StatementError> {
    hex::decode(text).ok().and_then(|b| b.try_into().ok()).ok_or(StatementError::Malformed(what))
}

impl PrincipalStatement {
    /// The bytes the custodian signs.
    pub(crate) fn message(&self) -> Result<Vec<u8>, StatementError> {
        let action: &[u8] = match self.action {
            Action::Enrol => b"enrol",
            Action::Revoke => b"revoke",
        };
        let signing = key32(&self.signing_key, "signing key")?;
        let x25519 = key32(&self.x25519_key, "x25519 key")?;
        Ok([
            LABEL,
            b"\0",
            action,
            b"\0",
            self.name.as_bytes(),
            b"\0",
            self.role.as_bytes(),
            b"\0",
            &signing,
            &x25519,
            &self.at.to_be_bytes(),
        ]
        .concat())
    }

    /// Builds and signs a statement.
    pub fn sign(
        custodian: &Ed25519KeyPair,
        action: Action,
        name: &str,
        role: &str,
        signing_key: &[u8; 32],
        x25519_key: &[u8; 32],
        at: u64,
    ) -> PrincipalStatement {
        let mut statement = PrincipalStatement {
            action,
            name: name.to_owned(),
            role: role.to_owned(),
            signing_key: hex::encode(signing_key),
            x25519_key: hex::encode(x25519_key),
            at,
            signature: String::new(),
        };
        let message = statement.message().expect("keys we encoded decode");
        statement.signature = hex::encode(custodian.sign(&message).as_ref());
        statement
    }

    pub fn verify(&self, custodian_public: &[u8; 32]) -> Result<(), StatementError> {
        let signature = hex::decode(&self.signature).map_err(|_| StatementError::Malformed("signature"))?;
        UnparsedPublicKey::new(&ED25519, custodian_public)
            .verify(&self.message()?, &signature)
            .map_err(|_| StatementError::BadSignature)
    }

    pub fn signing_key_bytes(&self) -> Result<[u8; 32], StatementError> {
        key32(&self.signing_key, "signing key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;

    #[test]
    fn a_statement_verifies_only_unchanged_and_under_the_custodian_key() {
        let rng = SystemRandom::new();
        let custodian = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
        let public: [u8; 32] = custodian.public_key().as_ref().try_into().unwrap();
        let statement = PrincipalStatement::sign(
            &custodian,
            Action::Enrol,
            "household",
            "agent",
            &[1; 32],
            &[2; 32],
            1_700_000_000,
        );
        assert_eq!(statement.verify(&public), Ok(()));
        for forged in [
            PrincipalStatement { name: "housing".into(), ..statement.clone() },
            PrincipalStatement { role: "operator".into(), ..statement.clone() },
            PrincipalStatement { action: Action::Revoke, ..statement.clone() },
            PrincipalStatement { signing_key: hex::encode([9; 32]), ..statement.clone() },
            PrincipalStatement { at: 1, ..statement.clone() },
        ] {
            assert_eq!(forged.verify(&public), Err(StatementError::BadSignature));
        }
        assert_eq!(statement.verify(&[3; 32]), Err(StatementError::BadSignature));
    }
}
