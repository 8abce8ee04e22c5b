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

/// The signer name of the key custodian's requests: never an enrolled principal's name.
pub const CUSTODIAN_NAME: &str = "custodian";

/// The audit actor of the matcher host's administrator: never a principal's name either.
pub const ADMINISTRATOR_NAME: &str = "matcher-administrator";

/// What a principal may do at the matcher. Serialized as the lowercase strings that travel
/// in statements, are signed, and are stored in the matcher's database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalRole {
    /// A party's agent: uploads tokens (and, a department's, sealed values), receives sealed
    /// epochs.
    Agent,
    /// The district operator: creates jobs and reads results.
    Operator,
    /// The key custodian: enrols and revokes principals, delivers sealed epochs. Never
    /// enrolled: its key is trusted once by the matcher's administrator.
    Custodian,
}

impl PrincipalRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalRole::Agent => "agent",
            PrincipalRole::Operator => "operator",
            PrincipalRole::Custodian => CUSTODIAN_NAME,
        }
    }

    /// Whether a principal can hold this role by enrolment (a statement or the
    /// administrator's `enroll`): the custodian is trusted by key, never enrolled.
    pub fn is_enrollable(self) -> bool {
        matches!(self, PrincipalRole::Agent | PrincipalRole::Operator)
    }
}

impl std::fmt::Display for PrincipalRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a principal role (agent, operator or custodian)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for PrincipalRole {
    type Err = UnknownRole;

    /// Exactly the serialized strings: no case folding, no default.
    fn from_str(text: &str) -> Result<PrincipalRole, UnknownRole> {
        [PrincipalRole::Agent, PrincipalRole::Operator, PrincipalRole::Custodian]
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrincipalNameError {
    #[error("principal names are 1–64 characters of lowercase letters, digits and '-'; got {0:?}")]
    Form(String),
    #[error("{0:?} is reserved: it names the key custodian or the matcher's administrator")]
    Reserved(String),
}

/// 1–64 lowercase ASCII letters, digits and '-': the form of principal and party names.
pub(crate) fn has_name_form(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The one check of a principal's name, wherever a principal is enrolled (by the
/// custodian's statement, at the custodian's machine, or by the matcher's administrator):
/// a party name's form (an agent under any other name could take part in no job), and
/// neither reserved name, which would be taken for the custodian or the administrator.
pub fn validate_principal_name(name: &str) -> Result<(), PrincipalNameError> {
    if !has_name_form(name) {
        return Err(PrincipalNameError::Form(name.to_owned()));
    }
    if name == CUSTODIAN_NAME || name == ADMINISTRATOR_NAME {
        return Err(PrincipalNameError::Reserved(name.to_owned()));
    }
    Ok(())
}

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
    /// `agent` or `operator` (`custodian` parses, and the matcher refuses it).
    pub role: PrincipalRole,
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
            self.role.as_str().as_bytes(),
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
        role: PrincipalRole,
        signing_key: &[u8; 32],
        x25519_key: &[u8; 32],
        at: u64,
    ) -> PrincipalStatement {
        let mut statement = PrincipalStatement {
            action,
            name: name.to_owned(),
            role,
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

    /// An agent's enrolment signed by a fresh custodian key, and that key's public half.
    fn signed_enrolment(at: u64) -> (PrincipalStatement, [u8; 32]) {
        let rng = SystemRandom::new();
        let custodian = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
        let public: [u8; 32] = custodian.public_key().as_ref().try_into().unwrap();
        let statement = PrincipalStatement::sign(
            &custodian,
            Action::Enrol,
            "household",
            PrincipalRole::Agent,
            &[1; 32],
            &[2; 32],
            at,
        );
        (statement, public)
    }

    #[test]
    fn a_statement_verifies_only_unchanged_and_under_the_custodian_key() {
        let (statement, public) = signed_enrolment(1_700_000_000);
        assert_eq!(statement.verify(&public), Ok(()));
        for forged in [
            PrincipalStatement { name: "housing".into(), ..statement.clone() },
            PrincipalStatement { role: PrincipalRole::Operator, ..statement.clone() },
            PrincipalStatement { action: Action::Revoke, ..statement.clone() },
            PrincipalStatement { signing_key: hex::encode([9; 32]), ..statement.clone() },
            PrincipalStatement { at: 1, ..statement.clone() },
        ] {
            assert_eq!(forged.verify(&public), Err(StatementError::BadSignature));
        }
        assert_eq!(statement.verify(&[3; 32]), Err(StatementError::BadSignature));
    }

    #[test]
    fn roles_travel_as_the_lowercase_strings_and_nothing_else_parses() {
        for (role, text) in [
            (PrincipalRole::Agent, "agent"),
            (PrincipalRole::Operator, "operator"),
            (PrincipalRole::Custodian, "custodian"),
        ] {
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<PrincipalRole>(&format!("\"{text}\"")).unwrap(), role);
            assert_eq!(text.parse::<PrincipalRole>(), Ok(role));
            assert_eq!(role.to_string(), text);
        }
        for unknown in ["", "Agent", "operator ", "administrator", "auditor"] {
            assert_eq!(unknown.parse::<PrincipalRole>(), Err(UnknownRole(unknown.to_owned())));
            assert!(serde_json::from_str::<PrincipalRole>(&format!("\"{unknown}\"")).is_err());
        }
        assert!(PrincipalRole::Agent.is_enrollable() && PrincipalRole::Operator.is_enrollable());
        assert!(!PrincipalRole::Custodian.is_enrollable());
    }

    #[test]
    fn a_statement_with_an_unknown_role_does_not_decode() {
        let (statement, _) = signed_enrolment(1);
        let mut json = serde_json::to_value(&statement).unwrap();
        assert_eq!(json["role"], "agent");
        json["role"] = "auditor".into();
        assert!(serde_json::from_value::<PrincipalStatement>(json).is_err());
    }

    #[test]
    fn principal_names_have_the_party_form_and_are_not_reserved() {
        for good in ["household", "district-operator", "a", "dept-2", &"x".repeat(64)] {
            assert_eq!(validate_principal_name(good), Ok(()), "{good:?}");
        }
        for bad in ["", "Household", "house hold", "户籍", "under_score", "a.b", &"x".repeat(65)] {
            assert_eq!(validate_principal_name(bad), Err(PrincipalNameError::Form(bad.to_owned())), "{bad:?}");
        }
        for reserved in [CUSTODIAN_NAME, ADMINISTRATOR_NAME] {
            assert_eq!(validate_principal_name(reserved), Err(PrincipalNameError::Reserved(reserved.to_owned())));
        }
    }
}
