//! Tokens and the exact MAC messages they are computed over (`protocol-docs/spec-v1.md` §5).

use std::fmt;

use crate::idnum::{CivilDate, IdNumber, Sex};
use crate::keys::{JobKeys, TokenBatch, TokenSlot};

/// A 16-byte keyed token. Equal tokens in one job mean equal inputs; across jobs tokens
/// are unrelated, because every job derives its own keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Token(pub [u8; 16]);

impl Token {
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", hex::encode(self.0))
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Separates the variable-length parts of attribute and quasi-identifier messages. No
/// canonical id, field name, canonical value or canonical name contains it.
pub const SEPARATOR: &[u8] = &[0];

/// Message parts of an identity token: the 18 ASCII bytes of the canonical number.
pub fn id_message(id: &IdNumber) -> [&[u8]; 1] {
    [id.as_bytes()]
}

/// Message parts of an attribute token: `canonical_id || 0x00 || field || 0x00 || value`.
pub fn attr_message<'a>(id: &'a IdNumber, field: &'a str, canonical_value: &'a str) -> [&'a [u8]; 5] {
    [id.as_bytes(), SEPARATOR, field.as_bytes(), SEPARATOR, canonical_value.as_bytes()]
}

/// Message parts of a quasi-identifier token:
/// `canonical_name || 0x00 || YYYYMMDD || 0x00 || M|F`.
pub fn qid_message<'a>(canonical_name: &'a str, birth_yyyymmdd: &'a str, sex: Sex) -> [&'a [u8]; 5] {
    [canonical_name.as_bytes(), SEPARATOR, birth_yyyymmdd.as_bytes(), SEPARATOR, sex.code().as_bytes()]
}

impl JobKeys {
    pub fn id_token(&self, id: &IdNumber) -> Token {
        self.id.token(&id_message(id))
    }

    /// `canonical_value` must already be in the canonical form of its field (for names,
    /// [`crate::name::canonical`]).
    pub fn attr_token(&self, id: &IdNumber, field: &str, canonical_value: &str) -> Token {
        self.attr.token(&attr_message(id, field, canonical_value))
    }

    pub fn qid_token(&self, canonical_name: &str, birth: CivilDate, sex: Sex) -> Token {
        let birth = birth.yyyymmdd_bytes();
        let birth = std::str::from_utf8(&birth).expect("ASCII digits");
        self.qid.token(&qid_message(canonical_name, birth, sex))
    }

    /// [`JobKeys::id_token`], computed with the rest of `batch`.
    #[inline]
    pub fn queue_id_token(&self, batch: &mut TokenBatch, id: &IdNumber) -> TokenSlot {
        batch.queue(&self.id, &id_message(id))
    }

    /// [`JobKeys::attr_token`], computed with the rest of `batch`.
    #[inline]
    pub fn queue_attr_token(
        &self,
        batch: &mut TokenBatch,
        id: &IdNumber,
        field: &str,
        canonical_value: &str,
    ) -> TokenSlot {
        batch.queue(&self.attr, &attr_message(id, field, canonical_value))
    }

    /// [`JobKeys::qid_token`], computed with the rest of `batch`.
    #[inline]
    pub fn queue_qid_token(
        &self,
        batch: &mut TokenBatch,
        canonical_name: &str,
        birth: CivilDate,
        sex: Sex,
    ) -> TokenSlot {
        let birth = birth.yyyymmdd_bytes();
        let birth = std::str::from_utf8(&birth).expect("ASCII digits");
        batch.queue(&self.qid, &qid_message(canonical_name, birth, sex))
    }
}
