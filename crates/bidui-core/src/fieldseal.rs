//! Field values sealed by a department to whoever knows the person (`protocol-docs/spec-v2.md` §5).
//!
//! A department agent seals each row's released values twice: once under a key only a
//! holder of the row's identity number can derive, once under a key only a holder of its
//! name, birth date and sex can derive. The matcher forwards the sealed values of matched
//! rows to the requester and cannot read them; the requester opens only those of people in
//! its own registry.
//!
//! ```text
//! K_seal    = the pair's field-seal key (person = canonical id) or qid-seal key (person = the
//!             quasi-identifier message), spec-v2 §3
//! K_ctx     = MAC(K_seal, "bidui/v2 seal context" || 0x00 || kind || 0x00 || job || 0x00 ||
//!                 requester || 0x00 || department || 0x00 || (field || 0x00)*)
//! enc_key   = MAC(K_ctx, "bidui/v2 seal key" || 0x00 || person)
//! aad       = u32le(row)
//! plaintext = u16le(len(body)) || body || 0x00 … (to a multiple of 64 bytes)
//!             body = for each field: 0x00 (no value) | 0x01 || u16le(len) || UTF-8 value
//! nonce     = first_12(MAC(K_ctx, "bidui/v2 seal nonce" || 0x00 || u32le(len(person)) || person ||
//!                          aad || plaintext))
//! sealed    = nonce || ChaCha20-Poly1305(enc_key, nonce, aad, plaintext)   (ciphertext || tag)
//! ```
//!
//! Only a holder of the epoch secret who knows the person derives `enc_key`. The context
//! key binds the kind, the pair domain and the field names once per department and job, so
//! each row's MACs and associated data carry only what varies: the person, the row and the
//! values. The nonce is a MAC of everything sealed (a synthetic IV), so sealing is
//! deterministic: an interrupted upload recomputes the same bytes and resumes by digest,
//! and two different plaintexts under one key get different nonces. Both come from the
//! context key's precomputed MAC state, with no key schedule per row: sealing runs for
//! every row a department holds. Padding hides value lengths below 64 bytes.

use std::ops::Range;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use zeroize::{Zeroize, Zeroizing};

use crate::keys::{MacBatch, PairDomain, PurposeKey};

const CONTEXT_LABEL: &[u8] = b"bidui/v2 seal context";
const KEY_LABEL: &[u8] = b"bidui/v2 seal key";
const NONCE_LABEL: &[u8] = b"bidui/v2 seal nonce";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Plaintexts are padded to a multiple of this.
pub const PAD_TO: usize = 64;
/// Longest value a department may seal, in UTF-8 bytes.
pub const MAX_VALUE_BYTES: usize = 1024;
/// Most fields one department seals.
pub const MAX_SEALED_FIELDS: usize = 16;
/// Longest sealed blob: nonce, the padded plaintext of the most and longest values, tag.
pub const MAX_SEALED_LEN: usize =
    NONCE_LEN + (2 + MAX_SEALED_FIELDS * (3 + MAX_VALUE_BYTES)).div_ceil(PAD_TO) * PAD_TO + TAG_LEN;

/// Which key a blob is sealed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealKind {
    /// The identity number: opened for an identity match.
    Id,
    /// Name, birth date and sex: opened for a probable match, to verify in person.
    Qid,
}

impl SealKind {
    pub fn label(self) -> &'static str {
        match self {
            SealKind::Id => "id",
            SealKind::Qid => "qid",
        }
    }
}

/// What a sealed blob is bound to besides the person: the pair domain, the department's
/// row and the field names, in order.
#[derive(Clone, Copy, Debug)]
pub struct SealContext<'a> {
    pub pair: PairDomain<'a>,
    pub fields: &'a [String],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealValuesError {
    #[error("a value of {len} bytes; at most {MAX_VALUE_BYTES} can be sealed")]
    ValueTooLong { len: usize },
    #[error("{0} values for {1} fields")]
    ValueCount(usize, usize),
    #[error("sealed values do not open: not this person's, another row's or field list, or damaged")]
    CannotOpen,
    #[error("sealed values are malformed: {0}")]
    Malformed(&'static str),
}

/// Whether a blob's length is one a sealer can produce: nonce, whole pad blocks, tag.
pub fn valid_sealed_len(len: usize) -> bool {
    len > NONCE_LEN + TAG_LEN && len <= MAX_SEALED_LEN && (len - NONCE_LEN - TAG_LEN).is_multiple_of(PAD_TO)
}

/// The message of the context key: the kind, the pair domain and the field names, each
/// ended by a zero byte (none of them holds one).
pub(crate) fn context_message(kind: SealKind, context: &SealContext<'_>) -> Vec<u8> {
    let pair = &context.pair;
    let mut message = [CONTEXT_LABEL, b"\0", kind.label().as_bytes(), b"\0"].concat();
    for part in [pair.job, pair.requester, pair.department].into_iter().chain(context.fields.iter().map(String::as_str))
    {
        message.extend_from_slice(part.as_bytes());
        message.push(0);
    }
    message
}

/// The key of one job's, kind's and department's sealed values (`K_ctx`), a MAC key of the
/// seal key's suite.
pub(crate) fn context_key(seal_key: &PurposeKey, kind: SealKind, context: &SealContext<'_>) -> PurposeKey {
    let key = Zeroizing::new(seal_key.mac(&[&context_message(kind, context)]));
    PurposeKey::new(seal_key.suite(), *key)
}

fn enc_key(context_key: &PurposeKey, person: &[u8]) -> LessSafeKey {
    let key = Zeroizing::new(context_key.mac(&[KEY_LABEL, b"\0", person]));
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key[..]).expect("a 32-byte ChaCha20 key"))
}

fn nonce(context_key: &PurposeKey, person: &[u8], aad: &[u8; 4], plaintext: &[u8]) -> [u8; NONCE_LEN] {
    let person_len = (person.len() as u32).to_le_bytes();
    let mac = context_key.mac(&[NONCE_LABEL, b"\0", &person_len, person, aad, plaintext]);
    mac[..NONCE_LEN].try_into().expect("12 of 32 bytes")
}

/// Appends the padded plaintext of `values` to `out`; on an error `out` is as it was.
fn encode_plaintext(values: &[Option<&str>], out: &mut Vec<u8>) -> Result<(), SealValuesError> {
    if let Some(len) = values.iter().flatten().map(|value| value.len()).find(|&len| len > MAX_VALUE_BYTES) {
        return Err(SealValuesError::ValueTooLong { len });
    }
    let body_len: usize = values.iter().map(|value| value.map_or(1, |value| 3 + value.len())).sum();
    let start = out.len();
    let padded = (2 + body_len).div_ceil(PAD_TO) * PAD_TO;
    // Sized once and zero-filled, which is the padding: no growth, no per-value push.
    out.resize(start + padded, 0);
    let plaintext = &mut out[start..];
    plaintext[..2].copy_from_slice(&(body_len as u16).to_le_bytes());
    let mut at = 2;
    for value in values {
        match value {
            None => at += 1,
            Some(value) => {
                plaintext[at] = 1;
                plaintext[at + 1..at + 3].copy_from_slice(&(value.len() as u16).to_le_bytes());
                plaintext[at + 3..at + 3 + value.len()].copy_from_slice(value.as_bytes());
                at += 3 + value.len();
            }
        }
    }
    Ok(())
}

fn decode_plaintext(plaintext: &[u8], fields: usize) -> Result<Vec<Option<String>>, SealValuesError> {
    let malformed = SealValuesError::Malformed;
    let body_len = usize::from(u16::from_le_bytes(plaintext[..2].try_into().map_err(|_| malformed("no length"))?));
    let body = plaintext.get(2..2 + body_len).ok_or(malformed("length beyond the plaintext"))?;
    if plaintext[2 + body_len..].iter().any(|&b| b != 0) {
        return Err(malformed("padding is not zero"));
    }
    let mut at = 0;
    let mut values = Vec::with_capacity(fields);
    for _ in 0..fields {
        match body.get(at) {
            Some(0) => {
                values.push(None);
                at += 1;
            }
            Some(1) => {
                let len = body.get(at + 1..at + 3).ok_or(malformed("value length cut off"))?;
                let len = usize::from(u16::from_le_bytes(len.try_into().expect("2 bytes")));
                let value = body.get(at + 3..at + 3 + len).ok_or(malformed("value cut off"))?;
                let value = std::str::from_utf8(value).map_err(|_| malformed("value is not UTF-8"))?;
                values.push(Some(value.to_owned()));
                at += 3 + len;
            }
            _ => return Err(malformed("bad value tag")),
        }
    }
    if at != body.len() {
        return Err(malformed("bytes after the last value"));
    }
    Ok(values)
}

/// Seals the rows of one department, kind and job: the associated data is built once,
/// the buffers are reused, and the MACs of queued rows (each row's key and nonce) run
/// several at a time (`keys::MacBatch`), so sealing every row a department holds costs
/// little more than its cipher. Each plaintext is written once, where its ciphertext
/// goes, and encrypted there: a plaintext built aside and copied into the output was two
/// more copies per seal. Until sealed, the output holds field values the source file
/// holds too, never the person.
pub struct Sealer {
    /// `K_ctx` of the job, kind and department.
    context_key: PurposeKey,
    kind: SealKind,
    fields: usize,
    person: Zeroizing<Vec<u8>>,
    /// Per queued seal, the message of its key's MAC and of its nonce's (which ends with
    /// the plaintext).
    key_messages: MacBatch,
    nonce_messages: MacBatch,
    macs: Zeroizing<Vec<[u8; 32]>>,
    queued: Vec<QueuedSeal>,
}

/// A seal waiting for its MACs: where its blob goes in the output and what it binds.
struct QueuedSeal {
    at: usize,
    plaintext_len: usize,
    row: u32,
}

impl Sealer {
    /// Queued seals computed at once: enough to fill the SHA-256 lanes, few enough that
    /// their messages stay in the L1 cache.
    const SEAL_AT: usize = 32;

    /// `seal_key` is the pair's field-seal key for [`SealKind::Id`], its qid-seal key for
    /// [`SealKind::Qid`].
    pub fn new(seal_key: &PurposeKey, kind: SealKind, context: &SealContext<'_>) -> Sealer {
        Sealer {
            context_key: context_key(seal_key, kind, context),
            kind,
            fields: context.fields.len(),
            person: Zeroizing::new(Vec::new()),
            key_messages: MacBatch::default(),
            nonce_messages: MacBatch::default(),
            macs: Zeroizing::new(Vec::new()),
            queued: Vec::new(),
        }
    }

    pub fn kind(&self) -> SealKind {
        self.kind
    }

    /// Queues the sealing of `values` (in the context's field order; `None` for no value)
    /// of department row `row`, sealed to `person`: the identity message for
    /// [`SealKind::Id`], the quasi-identifier message for [`SealKind::Qid`]
    /// ([`crate::token::id_message`], [`crate::token::qid_message`]). Reserves the sealed
    /// blob's bytes at the end of `out` and returns where they are; until
    /// [`Sealer::seal_queued`] encrypts them in place (some may be sealed sooner), they
    /// hold the plaintext, never to be read as a blob.
    pub fn queue(
        &mut self,
        person: &[&[u8]],
        row: u32,
        values: &[Option<&str>],
        out: &mut Vec<u8>,
    ) -> Result<Range<usize>, SealValuesError> {
        if values.len() != self.fields {
            return Err(SealValuesError::ValueCount(values.len(), self.fields));
        }
        let at = out.len();
        out.resize(at + NONCE_LEN, 0);
        if let Err(error) = encode_plaintext(values, out) {
            out.truncate(at);
            return Err(error);
        }
        let plaintext = at + NONCE_LEN..out.len();
        out.resize(plaintext.end + TAG_LEN, 0);
        self.person.clear();
        person.iter().for_each(|part| self.person.extend_from_slice(part));
        let person_len = (self.person.len() as u32).to_le_bytes();
        let aad = row.to_le_bytes();
        self.key_messages.push(&[KEY_LABEL, b"\0", &self.person]);
        self.nonce_messages.push(&[NONCE_LABEL, b"\0", &person_len, &self.person, &aad, &out[plaintext.clone()]]);
        self.queued.push(QueuedSeal { at, plaintext_len: plaintext.len(), row });
        if self.queued.len() == Self::SEAL_AT {
            self.seal_queued(out);
        }
        Ok(at..out.len())
    }

    /// Seals every queued row in place, in the bytes [`Sealer::queue`] reserved for it in
    /// `out`.
    pub fn seal_queued(&mut self, out: &mut [u8]) {
        let count = self.queued.len();
        self.macs.clear();
        self.key_messages.compute_into(&self.context_key, &mut self.macs);
        self.nonce_messages.compute_into(&self.context_key, &mut self.macs);
        let (enc_keys, nonces) = self.macs.split_at(count);
        for ((seal, enc_key), nonce) in self.queued.iter().zip(enc_keys).zip(nonces) {
            let enc_key = UnboundKey::new(&CHACHA20_POLY1305, enc_key).expect("a 32-byte ChaCha20 key");
            let nonce: [u8; NONCE_LEN] = nonce[..NONCE_LEN].try_into().expect("12 of 32 bytes");
            let aad = seal.row.to_le_bytes();
            let blob = &mut out[seal.at..seal.at + NONCE_LEN + seal.plaintext_len + TAG_LEN];
            let (nonce_bytes, rest) = blob.split_at_mut(NONCE_LEN);
            let (plaintext, tag_bytes) = rest.split_at_mut(seal.plaintext_len);
            nonce_bytes.copy_from_slice(&nonce);
            let tag = LessSafeKey::new(enc_key)
                .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), plaintext)
                .expect("a plaintext of at most MAX_SEALED_LEN bytes is far within ChaCha20-Poly1305's limit");
            tag_bytes.copy_from_slice(tag.as_ref());
        }
        self.key_messages.clear();
        self.nonce_messages.clear();
        self.macs.zeroize();
        self.queued.clear();
    }

    /// Appends the sealed `values` of department row `row` to `out`, sealed to `person`
    /// ([`Sealer::queue`], then [`Sealer::seal_queued`]).
    pub fn seal_into(
        &mut self,
        person: &[&[u8]],
        row: u32,
        values: &[Option<&str>],
        out: &mut Vec<u8>,
    ) -> Result<(), SealValuesError> {
        self.queue(person, row, values, out)?;
        self.seal_queued(out);
        Ok(())
    }
}

/// Seals one department row's `values` (in `context.fields` order; `None` for no value)
/// to `person` ([`Sealer::seal_into`] for one row).
pub fn seal_values(
    seal_key: &PurposeKey,
    kind: SealKind,
    person: &[&[u8]],
    context: &SealContext<'_>,
    row: u32,
    values: &[Option<&str>],
) -> Result<Vec<u8>, SealValuesError> {
    if values.len() > MAX_SEALED_FIELDS {
        return Err(SealValuesError::ValueCount(values.len(), context.fields.len()));
    }
    let mut sealed = Vec::new();
    Sealer::new(seal_key, kind, context).seal_into(person, row, values, &mut sealed)?;
    Ok(sealed)
}

/// Opens the sealed values of one job, kind and department: the context key is derived
/// once, for every row opened.
pub struct Opener {
    context_key: PurposeKey,
    fields: usize,
}

impl Opener {
    /// `seal_key` is the pair's field-seal key for [`SealKind::Id`], its qid-seal key for
    /// [`SealKind::Qid`].
    pub fn new(seal_key: &PurposeKey, kind: SealKind, context: &SealContext<'_>) -> Opener {
        Opener { context_key: context_key(seal_key, kind, context), fields: context.fields.len() }
    }

    /// Opens what a [`Sealer`] of the same key, kind and context sealed to `person` for
    /// department row `row` (spec-v2 §5.3, its rules in order).
    pub fn open(&self, person: &[&[u8]], row: u32, sealed: &[u8]) -> Result<Vec<Option<String>>, SealValuesError> {
        if !valid_sealed_len(sealed.len()) {
            return Err(SealValuesError::Malformed("length is not nonce, whole pad blocks and tag"));
        }
        let (nonce_bytes, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce_bytes: [u8; NONCE_LEN] = nonce_bytes.try_into().expect("12 bytes");
        let aad = row.to_le_bytes();
        let person = Zeroizing::new(person.concat());
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plaintext = enc_key(&self.context_key, &person)
            .open_in_place(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(&aad), &mut buffer[..])
            .map_err(|_| SealValuesError::CannotOpen)?;
        // A blob whose nonce is not the MAC of its content was not made by a sealer.
        if nonce(&self.context_key, &person, &aad, plaintext) != nonce_bytes {
            return Err(SealValuesError::CannotOpen);
        }
        decode_plaintext(plaintext, self.fields)
    }
}

/// Opens what [`seal_values`] sealed, given the same key, kind, person, context and row
/// ([`Opener::open`] for one row).
pub fn open_values(
    seal_key: &PurposeKey,
    kind: SealKind,
    person: &[&[u8]],
    context: &SealContext<'_>,
    row: u32,
    sealed: &[u8],
) -> Result<Vec<Option<String>>, SealValuesError> {
    Opener::new(seal_key, kind, context).open(person, row, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{EpochSecret, KeyEpoch, Suite};
    use proptest::prelude::*;

    const PAIR: PairDomain<'static> = PairDomain { job: "j", requester: "veterans", department: "household" };

    fn key(suite: Suite, pair: &PairDomain<'_>) -> PurposeKey {
        KeyEpoch::new(suite, EpochSecret::from_bytes([9; 32])).pair_keys(pair).field_seal
    }

    fn fields() -> Vec<String> {
        vec!["status".into(), "address".into()]
    }

    const ID: &[&[u8]] = &[b"11010519491231002X"];

    #[test]
    fn sealed_values_open_for_the_same_person_row_and_fields_only() {
        for suite in Suite::ALL {
            let fields = fields();
            let context = SealContext { pair: PAIR, fields: &fields };
            let k = key(suite, &PAIR);
            let sealed = seal_values(&k, SealKind::Id, ID, &context, 7, &[Some("死亡"), None]).unwrap();
            assert!(valid_sealed_len(sealed.len()), "{}", sealed.len());
            assert_eq!(
                open_values(&k, SealKind::Id, ID, &context, 7, &sealed).unwrap(),
                vec![Some("死亡".to_owned()), None]
            );
            assert_eq!(seal_values(&k, SealKind::Id, ID, &context, 7, &[Some("死亡"), None]).unwrap(), sealed);
            let other_person: &[&[u8]] = &[b"440183198001010011"];
            assert_eq!(
                open_values(&k, SealKind::Id, other_person, &context, 7, &sealed),
                Err(SealValuesError::CannotOpen)
            );
            assert_eq!(open_values(&k, SealKind::Id, ID, &context, 8, &sealed), Err(SealValuesError::CannotOpen));
            assert_eq!(open_values(&k, SealKind::Qid, ID, &context, 7, &sealed), Err(SealValuesError::CannotOpen));
            let swapped = vec!["address".to_owned(), "status".to_owned()];
            let relabelled = SealContext { pair: PAIR, fields: &swapped };
            assert_eq!(open_values(&k, SealKind::Id, ID, &relabelled, 7, &sealed), Err(SealValuesError::CannotOpen));
            let other_pair = PairDomain { department: "pension", ..PAIR };
            let moved = SealContext { pair: other_pair, fields: &fields };
            assert_eq!(open_values(&k, SealKind::Id, ID, &moved, 7, &sealed), Err(SealValuesError::CannotOpen));
            assert_eq!(
                open_values(&key(suite, &other_pair), SealKind::Id, ID, &context, 7, &sealed),
                Err(SealValuesError::CannotOpen)
            );
            for i in 0..sealed.len() {
                let mut bent = sealed.clone();
                bent[i] ^= 1;
                assert!(open_values(&k, SealKind::Id, ID, &context, 7, &bent).is_err(), "byte {i}");
            }
        }
    }

    #[test]
    fn a_sealer_sealing_many_rows_at_once_gives_each_the_blob_it_gets_alone() {
        // More rows than one round of queued seals, people of different lengths (so nonce
        // messages of different block counts share the lanes), and values of one to three
        // pad blocks.
        let pair = PAIR;
        let fields = fields();
        let context = SealContext { pair, fields: &fields };
        for suite in Suite::ALL {
            let key = key(suite, &pair);
            let mut sealer = Sealer::new(&key, SealKind::Qid, &context);
            let rows: Vec<(String, String)> = (0..Sealer::SEAL_AT as u32 * 3 + 5)
                .map(|i| ("张".repeat(1 + i as usize % 9), "x".repeat(i as usize * 3)))
                .collect();
            let mut out = vec![0xAA];
            let ranges: Vec<_> = rows
                .iter()
                .enumerate()
                .map(|(i, (person, value))| {
                    let values = [Some(value.as_str()), (i % 2 == 0).then_some("在册")];
                    sealer.queue(&[person.as_bytes()], i as u32 + 1, &values, &mut out).unwrap()
                })
                .collect();
            sealer.seal_queued(&mut out);
            assert_eq!(out[0], 0xAA, "bytes before the first blob are left alone");
            for (i, ((person, value), range)) in rows.iter().zip(ranges).enumerate() {
                let values = [Some(value.as_str()), (i % 2 == 0).then_some("在册")];
                let alone =
                    seal_values(&key, SealKind::Qid, &[person.as_bytes()], &context, i as u32 + 1, &values).unwrap();
                assert_eq!(out[range], alone[..], "{suite}, row {}", i + 1);
            }
        }
    }

    /// The blob as the module's formulas define it, built the plain way: the plaintext in
    /// a vector of its own, one MAC at a time, the cipher over a copy. What the sealer
    /// writes in place, with its MACs batched, must be byte for byte this.
    fn reference_blob(context_key: &PurposeKey, person: &[u8], row: u32, values: &[Option<&str>]) -> Vec<u8> {
        let plaintext = crate::vectors::seal_plaintext(values);
        let aad = row.to_le_bytes();
        let nonce_bytes = nonce(context_key, person, &aad, &plaintext);
        let mut blob = nonce_bytes.to_vec();
        let mut ciphertext = plaintext.clone();
        enc_key(context_key, person)
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(&aad), &mut ciphertext)
            .unwrap();
        blob.extend_from_slice(&ciphertext);
        blob
    }

    #[test]
    fn sealed_in_place_with_batched_macs_equals_the_reference_blob() {
        // Values whose plaintexts end on either side of each pad boundary, people whose
        // nonce messages take two or three blocks, no value, and more rows than one round
        // of queued seals.
        let fields = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let context = SealContext { pair: PAIR, fields: &fields };
        for suite in Suite::ALL {
            for kind in [SealKind::Id, SealKind::Qid] {
                let key = key(suite, &PAIR);
                let context_key = context_key(&key, kind, &context);
                let mut sealer = Sealer::new(&key, kind, &context);
                let rows: Vec<(Vec<u8>, [Option<String>; 3])> = (0..200usize)
                    .map(|i| {
                        let person = "张".repeat(i % 11).into_bytes();
                        let value = |n: usize| (n % 7 != 3).then(|| "v".repeat(n));
                        (person, [value(i), value(i * 3 % 130), value(i % 5)])
                    })
                    .collect();
                let mut out = Vec::new();
                let mut ranges = Vec::new();
                for (row, (person, values)) in rows.iter().enumerate() {
                    let values: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
                    let (a, b) = person.split_at(person.len() / 2);
                    ranges.push(sealer.queue(&[a, b], row as u32, &values, &mut out).unwrap());
                }
                sealer.seal_queued(&mut out);
                for (row, ((person, values), range)) in rows.iter().zip(ranges).enumerate() {
                    let values: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
                    let want = reference_blob(&context_key, person, row as u32, &values);
                    assert_eq!(out[range], want[..], "{suite}, {kind:?}, row {row}");
                }
            }
        }
    }

    #[test]
    fn lengths_below_a_pad_block_do_not_show() {
        let fields = fields();
        let context = SealContext { pair: PAIR, fields: &fields };
        let k = key(Suite::HmacSha256, &PAIR);
        let short = seal_values(&k, SealKind::Id, ID, &context, 1, &[Some("正常"), None]).unwrap();
        let long =
            seal_values(&k, SealKind::Id, ID, &context, 1, &[Some("正常"), Some("荔城街道府佑路 88 号 3 栋")]).unwrap();
        assert_eq!(short.len(), long.len());
        assert_eq!(short.len(), NONCE_LEN + PAD_TO + TAG_LEN);
    }

    #[test]
    fn too_long_values_and_wrong_counts_are_refused() {
        let fields = fields();
        let context = SealContext { pair: PAIR, fields: &fields };
        let k = key(Suite::HmacSha256, &PAIR);
        let long = "地".repeat(400);
        assert!(matches!(
            seal_values(&k, SealKind::Id, ID, &context, 1, &[Some(&long), None]),
            Err(SealValuesError::ValueTooLong { .. })
        ));
        assert_eq!(seal_values(&k, SealKind::Id, ID, &context, 1, &[None]), Err(SealValuesError::ValueCount(1, 2)));
        let most = vec!["x".repeat(MAX_VALUE_BYTES); MAX_SEALED_FIELDS];
        let many: Vec<String> = (0..MAX_SEALED_FIELDS).map(|i| format!("f{i}")).collect();
        let values: Vec<Option<&str>> = most.iter().map(|v| Some(v.as_str())).collect();
        let sealed = seal_values(&k, SealKind::Id, ID, &SealContext { pair: PAIR, fields: &many }, 1, &values).unwrap();
        assert_eq!(sealed.len(), MAX_SEALED_LEN);
    }

    proptest! {
        #[test]
        fn any_values_round_trip(values in proptest::collection::vec(proptest::option::of("\\PC{0,40}"), 0..6), row in 1u32..) {
            let fields: Vec<String> = (0..values.len()).map(|i| format!("f{i}")).collect();
            let context = SealContext { pair: PAIR, fields: &fields };
            let k = key(Suite::Blake3, &PAIR);
            let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let sealed = seal_values(&k, SealKind::Qid, ID, &context, row, &refs).unwrap();
            prop_assert!(valid_sealed_len(sealed.len()));
            prop_assert_eq!(open_values(&k, SealKind::Qid, ID, &context, row, &sealed).unwrap(), values);
        }
    }
}
