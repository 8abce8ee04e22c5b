//! Sealing an epoch secret to one agent (`protocol-docs/keys.md`).
//!
//! The key custodian seals each new epoch secret to every enrolled agent's X25519 key and
//! signs the result; the matcher stores and forwards sealed epochs it cannot open. An
//! agent opens only its own, after checking the custodian's signature.
//!
//! ```text
//! shared = X25519(ephemeral_secret, recipient_public)
//! K      = HKDF-SHA256(salt = "bidui/v1 epoch seal", IKM = shared,
//!                      info = ephemeral_public || recipient_public, L = 32)
//! aad    = "bidui/v1 sealed epoch" || 0x00 || suite || 0x00 || kcv || 0x00 || recipient
//! sealed = ChaCha20-Poly1305(K, nonce = 12 zero bytes, aad, plaintext = S)
//! signed = Ed25519(custodian, "bidui/v1 epoch statement" || 0x00 || aad || 0x00 || ephemeral_public || sealed)
//! ```
//!
//! A fresh ephemeral key per seal makes every K unique, so the all-zero nonce is never
//! reused under one key.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::{EpochSecret, KeyEpoch, Suite};

const SEAL_SALT: &[u8] = b"bidui/v1 epoch seal";
const AAD_LABEL: &[u8] = b"bidui/v1 sealed epoch";
const STATEMENT_LABEL: &[u8] = b"bidui/v1 epoch statement";

/// An epoch secret sealed to one agent and signed by the custodian. Safe to store and
/// forward: only the recipient's X25519 secret opens it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedEpoch {
    pub suite: Suite,
    /// Key check value of the sealed secret.
    pub kcv: String,
    /// The agent (party name) it is sealed to.
    pub recipient: String,
    /// Hex of the custodian's ephemeral X25519 public key.
    pub ephemeral_public: String,
    /// Hex of the ChaCha20-Poly1305 ciphertext and tag (48 bytes).
    pub sealed: String,
    /// Hex of the custodian's Ed25519 signature over the statement.
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealed epoch is not signed by the district's key custodian: refuse it")]
    BadSignature,
    #[error("the sealed epoch is addressed to {0}, not to this agent")]
    WrongRecipient(String),
    #[error("the sealed epoch does not open with this agent's key (sealed to another key, or damaged)")]
    CannotOpen,
    #[error("the opened secret's key check value is not the one the custodian announced")]
    CheckValue,
    #[error("the sealed epoch is malformed: {0}")]
    Malformed(&'static str),
    #[error("the system random number generator failed")]
    Random,
    #[error("the X25519 key of {0} is a low-order point: refused (a seal to it could be opened by anyone)")]
    WeakKey(String),
}

pub(crate) fn aad(suite: Suite, kcv: &str, recipient: &str) -> Vec<u8> {
    [AAD_LABEL, b"\0", suite.name().as_bytes(), b"\0", kcv.as_bytes(), b"\0", recipient.as_bytes()].concat()
}

pub(crate) fn statement(aad: &[u8], ephemeral_public: &[u8], sealed: &[u8]) -> Vec<u8> {
    [STATEMENT_LABEL, b"\0", aad, b"\0", ephemeral_public, sealed].concat()
}

fn seal_key(shared: &[u8; 32], ephemeral_public: &[u8; 32], recipient_public: &[u8; 32]) -> LessSafeKey {
    let mut key = Zeroizing::new([0u8; 32]);
    let info: [&[u8]; 2] = [ephemeral_public, recipient_public];
    ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, SEAL_SALT)
        .extract(shared)
        .expand(&info, ring::hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut key[..]))
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key[..]).expect("a 32-byte ChaCha20 key"))
}

/// Seals `epoch` to `recipient`'s X25519 public key and signs it as the custodian.
pub fn seal(
    epoch: &KeyEpoch,
    recipient: &str,
    recipient_public: &[u8; 32],
    custodian: &Ed25519KeyPair,
    rng: &dyn SecureRandom,
) -> Result<SealedEpoch, SealError> {
    let mut ephemeral_bytes = Zeroizing::new([0u8; 32]);
    rng.fill(&mut ephemeral_bytes[..]).map_err(|_| SealError::Random)?;
    seal_with_ephemeral(
        epoch,
        recipient,
        recipient_public,
        custodian,
        x25519_dalek::StaticSecret::from(*ephemeral_bytes),
    )
}

/// [`seal`] with a given ephemeral key: the only randomness of a seal, fixed here so the
/// protocol vectors (`crate::vectors`) are deterministic. Never reuse an ephemeral key.
pub(crate) fn seal_with_ephemeral(
    epoch: &KeyEpoch,
    recipient: &str,
    recipient_public: &[u8; 32],
    custodian: &Ed25519KeyPair,
    ephemeral: x25519_dalek::StaticSecret,
) -> Result<SealedEpoch, SealError> {
    let ephemeral_public = x25519_dalek::PublicKey::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(&x25519_dalek::PublicKey::from(*recipient_public));
    // A low-order recipient key makes the shared secret predictable from public values:
    // the matcher could open the seal. Such a key is refused, never sealed to.
    if !shared.was_contributory() {
        return Err(SealError::WeakKey(recipient.to_owned()));
    }
    let shared = Zeroizing::new(shared.to_bytes());
    let kcv = epoch.key_check_value();
    let aad = aad(epoch.suite, &kcv, recipient);
    // Room for the tag up front: the secret is never copied by a reallocation.
    let mut sealed = Zeroizing::new(Vec::with_capacity(32 + CHACHA20_POLY1305.tag_len()));
    sealed.extend_from_slice(epoch.secret.expose_bytes());
    seal_key(&shared, &ephemeral_public, recipient_public)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key([0; 12]), Aad::from(&aad), &mut *sealed)
        .map_err(|_| SealError::Malformed("sealing failed"))?;
    let signature = custodian.sign(&statement(&aad, &ephemeral_public, &sealed));
    Ok(SealedEpoch {
        suite: epoch.suite,
        kcv,
        recipient: recipient.to_owned(),
        ephemeral_public: hex::encode(ephemeral_public),
        sealed: hex::encode(&*sealed),
        signature: hex::encode(signature.as_ref()),
    })
}

fn decode<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], SealError> {
    hex::decode(text).ok().and_then(|b| b.try_into().ok()).ok_or(SealError::Malformed(what))
}

impl SealedEpoch {
    /// Checks the custodian's signature only (what the matcher can do without opening it).
    pub fn verify(&self, custodian_public: &[u8; 32]) -> Result<(), SealError> {
        let ephemeral_public: [u8; 32] = decode(&self.ephemeral_public, "ephemeral key")?;
        let sealed = hex::decode(&self.sealed).map_err(|_| SealError::Malformed("ciphertext"))?;
        let signature = hex::decode(&self.signature).map_err(|_| SealError::Malformed("signature"))?;
        let message = statement(&aad(self.suite, &self.kcv, &self.recipient), &ephemeral_public, &sealed);
        UnparsedPublicKey::new(&ED25519, custodian_public)
            .verify(&message, &signature)
            .map_err(|_| SealError::BadSignature)
    }

    /// Verifies and opens a sealed epoch addressed to `me`.
    pub fn open(
        &self,
        me: &str,
        my_secret: &x25519_dalek::StaticSecret,
        custodian_public: &[u8; 32],
    ) -> Result<KeyEpoch, SealError> {
        self.verify(custodian_public)?;
        if self.recipient != me {
            return Err(SealError::WrongRecipient(self.recipient.clone()));
        }
        let ephemeral_public: [u8; 32] = decode(&self.ephemeral_public, "ephemeral key")?;
        let my_public = x25519_dalek::PublicKey::from(my_secret).to_bytes();
        let shared = my_secret.diffie_hellman(&x25519_dalek::PublicKey::from(ephemeral_public));
        if !shared.was_contributory() {
            return Err(SealError::CannotOpen);
        }
        let shared = Zeroizing::new(shared.to_bytes());
        let mut sealed = Zeroizing::new(hex::decode(&self.sealed).map_err(|_| SealError::Malformed("ciphertext"))?);
        let aad = aad(self.suite, &self.kcv, &self.recipient);
        let plain = seal_key(&shared, &ephemeral_public, &my_public)
            .open_in_place(Nonce::assume_unique_for_key([0; 12]), Aad::from(&aad), &mut sealed)
            .map_err(|_| SealError::CannotOpen)?;
        let secret = EpochSecret::from_slice(plain).map_err(|_| SealError::Malformed("secret length"))?;
        let epoch = KeyEpoch::new(self.suite, secret);
        if epoch.key_check_value() != self.kcv {
            return Err(SealError::CheckValue);
        }
        Ok(epoch)
    }
}

/// An agent's X25519 public key from its secret.
pub fn x25519_public(secret: &x25519_dalek::StaticSecret) -> [u8; 32] {
    x25519_dalek::PublicKey::from(secret).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn new_custodian() -> Ed25519KeyPair {
        let rng = SystemRandom::new();
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap()
    }

    fn agent_key(byte: u8) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from([byte; 32])
    }

    fn custodian_public(c: &Ed25519KeyPair) -> [u8; 32] {
        use ring::signature::KeyPair;
        c.public_key().as_ref().try_into().unwrap()
    }

    #[test]
    fn a_sealed_epoch_opens_with_the_right_agent_key_only() {
        let rng = SystemRandom::new();
        let custodian = new_custodian();
        let epoch = KeyEpoch::new(Suite::HmacSm3, EpochSecret::generate(&rng).unwrap());
        let (household, housing) = (agent_key(1), agent_key(2));
        let sealed = seal(&epoch, "household", &x25519_public(&household), &custodian, &rng).unwrap();
        let opened = sealed.open("household", &household, &custodian_public(&custodian)).unwrap();
        assert_eq!((opened.suite, opened.secret), (epoch.suite, epoch.secret.clone()));
        assert_eq!(
            sealed.open("household", &housing, &custodian_public(&custodian)).unwrap_err(),
            SealError::CannotOpen
        );
        assert!(matches!(
            sealed.open("housing", &housing, &custodian_public(&custodian)),
            Err(SealError::WrongRecipient(_))
        ));
        assert!(!sealed.sealed.contains(epoch.secret.expose_hex().as_str()));
    }

    #[test]
    fn a_low_order_recipient_key_is_refused() {
        let rng = SystemRandom::new();
        let custodian = new_custodian();
        let epoch = KeyEpoch::new(Suite::HmacSha256, EpochSecret::generate(&rng).unwrap());
        for weak in [[0u8; 32], {
            let mut k = [0u8; 32];
            k[0] = 1;
            k
        }] {
            assert!(matches!(seal(&epoch, "household", &weak, &custodian, &rng), Err(SealError::WeakKey(_))));
        }
    }

    #[test]
    fn any_change_or_another_signer_is_refused() {
        let rng = SystemRandom::new();
        let custodian = new_custodian();
        let epoch = KeyEpoch::new(Suite::HmacSha256, EpochSecret::generate(&rng).unwrap());
        let me = agent_key(7);
        let sealed = seal(&epoch, "petitions", &x25519_public(&me), &custodian, &rng).unwrap();
        let key = custodian_public(&custodian);
        let mut forged = sealed.clone();
        forged.recipient = "housing".into();
        assert_eq!(forged.open("housing", &me, &key).unwrap_err(), SealError::BadSignature);
        let mut forged = sealed.clone();
        forged.suite = Suite::Blake3;
        assert_eq!(forged.open("petitions", &me, &key).unwrap_err(), SealError::BadSignature);
        let mut forged = sealed.clone();
        let mut bytes = hex::decode(&forged.sealed).unwrap();
        bytes[0] ^= 1;
        forged.sealed = hex::encode(bytes);
        assert_eq!(forged.open("petitions", &me, &key).unwrap_err(), SealError::BadSignature);
        let impostor = new_custodian();
        assert_eq!(sealed.open("petitions", &me, &custodian_public(&impostor)).unwrap_err(), SealError::BadSignature);
        // Re-signed by the impostor: the signature holds, but the custodian key does not.
        let resealed = seal(&epoch, "petitions", &x25519_public(&me), &impostor, &rng).unwrap();
        assert_eq!(resealed.verify(&key).unwrap_err(), SealError::BadSignature);
    }
}
