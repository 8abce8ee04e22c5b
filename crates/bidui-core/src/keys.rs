//! The key schedule: epoch secrets, token suites, and the purpose keys of one pair domain
//! (job, requester, department) derived from them (`protocol-docs/spec-v2.md` §3).
//!
//! Anyone holding an epoch secret can brute-force identity tokens (the identity number
//! space is small), so secret-bearing types zeroize on drop and never print themselves.

use std::fmt;
use std::str::FromStr;

use hmac::Mac;
use ring::hmac as ring_hmac;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::sha256_lanes::{self, SHA256_IV};
use crate::token::Token;

/// Salt of every purpose-key derivation, and the version tag of this protocol.
pub const KDF_SALT: &[u8] = b"bidui/v2";
/// Message MACed with the epoch secret itself to make its key check value. Unchanged
/// since v1: the key check value names the secret, not the protocol that uses it.
pub const KEY_CHECK_MESSAGE: &[u8] = b"bidui/v1 key check";
/// Length of an epoch secret in bytes.
pub const SECRET_LEN: usize = 32;

/// A token suite: which MAC and KDF turn a secret into tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Suite {
    /// HMAC-SHA256 and HKDF-SHA256 (RFC 2104, RFC 5869). The default.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// HMAC-SM3 and HKDF over HMAC-SM3 (GB/T 32905), for the commercial cryptography
    /// assessment (密评, GB/T 39786-2021).
    #[serde(rename = "hmac-sm3")]
    HmacSm3,
    /// Keyed BLAKE3 in place of HMAC, `derive_key` in place of HKDF-Extract.
    #[serde(rename = "blake3")]
    Blake3,
}

impl Suite {
    pub const ALL: [Suite; 3] = [Suite::HmacSha256, Suite::HmacSm3, Suite::Blake3];

    pub fn name(self) -> &'static str {
        match self {
            Suite::HmacSha256 => "hmac-sha256",
            Suite::HmacSm3 => "hmac-sm3",
            Suite::Blake3 => "blake3",
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("unknown token suite {0:?}; expected one of hmac-sha256, hmac-sm3, blake3")]
    UnknownSuite(String),
    #[error("unknown key purpose {0:?}; expected one of id-token, attr-token, qid-token, field-seal, qid-seal")]
    UnknownPurpose(String),
    #[error("an epoch secret is exactly 32 bytes (64 hex digits), got {0} bytes")]
    SecretLength(usize),
    #[error("an epoch secret must be written in hexadecimal")]
    SecretNotHex,
}

impl FromStr for Suite {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Suite, KeyError> {
        Suite::ALL.into_iter().find(|suite| suite.name() == s).ok_or_else(|| KeyError::UnknownSuite(s.to_owned()))
    }
}

/// What a derived key is for. Each purpose gets its own key, so a token made for one
/// purpose says nothing about another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    IdToken,
    AttrToken,
    QidToken,
    /// Seals a department row's values to whoever knows the row's identity number.
    FieldSeal,
    /// Seals them again to whoever knows the row's name, birth date and sex (probable matches).
    QidSeal,
}

impl Purpose {
    pub const ALL: [Purpose; 5] =
        [Purpose::IdToken, Purpose::AttrToken, Purpose::QidToken, Purpose::FieldSeal, Purpose::QidSeal];

    /// The ASCII label that goes into the derivation's `info`.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::IdToken => "id-token",
            Purpose::AttrToken => "attr-token",
            Purpose::QidToken => "qid-token",
            Purpose::FieldSeal => "field-seal",
            Purpose::QidSeal => "qid-seal",
        }
    }
}

impl FromStr for Purpose {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Purpose, KeyError> {
        Purpose::ALL.into_iter().find(|p| p.label() == s).ok_or_else(|| KeyError::UnknownPurpose(s.to_owned()))
    }
}

/// The 32-byte linkage secret of one key epoch. Zeroized on drop; `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct EpochSecret([u8; SECRET_LEN]);

impl EpochSecret {
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> EpochSecret {
        EpochSecret(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<EpochSecret, KeyError> {
        let array: [u8; SECRET_LEN] = bytes.try_into().map_err(|_| KeyError::SecretLength(bytes.len()))?;
        Ok(EpochSecret(array))
    }

    pub fn from_hex(text: &str) -> Result<EpochSecret, KeyError> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| KeyError::SecretNotHex)?);
        EpochSecret::from_slice(&bytes)
    }

    /// Draws a fresh secret from a cryptographic random source.
    pub fn generate(rng: &dyn ring::rand::SecureRandom) -> Result<EpochSecret, ring::error::Unspecified> {
        let mut bytes = [0u8; SECRET_LEN];
        rng.fill(&mut bytes)?;
        Ok(EpochSecret(bytes))
    }

    /// The raw secret, for sealing it to an agent or writing its 0600 file.
    pub fn expose_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    pub fn expose_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }
}

impl fmt::Debug for EpochSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EpochSecret(<redacted>)")
    }
}

/// A key epoch: a secret and the suite it is used with.
#[derive(Clone, Debug)]
pub struct KeyEpoch {
    pub suite: Suite,
    pub secret: EpochSecret,
}

impl KeyEpoch {
    pub fn new(suite: Suite, secret: EpochSecret) -> KeyEpoch {
        KeyEpoch { suite, secret }
    }

    /// Key check value: lets parties confirm they hold the same secret without revealing
    /// it. First 8 bytes of `MAC(S, "bidui/v1 key check")`, lowercase hex.
    pub fn key_check_value(&self) -> String {
        let mac = mac32(self.suite, self.secret.expose_bytes(), &[KEY_CHECK_MESSAGE]);
        hex::encode(&mac[..8])
    }

    /// `K_P = KDF(salt = "bidui/v2", IKM = S, info = P || ":" || job || ":" || requester || ":" || department)`.
    pub fn derive(&self, purpose: Purpose, pair: &PairDomain<'_>) -> PurposeKey {
        let secret = self.secret.expose_bytes();
        let info: [&[u8]; 7] = [
            purpose.label().as_bytes(),
            b":",
            pair.job.as_bytes(),
            b":",
            pair.requester.as_bytes(),
            b":",
            pair.department.as_bytes(),
        ];
        let mut key = Zeroizing::new([0u8; 32]);
        match self.suite {
            Suite::HmacSha256 => {
                let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, KDF_SALT).extract(secret);
                prk.expand(&info, ring::hkdf::HKDF_SHA256)
                    .and_then(|okm| okm.fill(&mut key[..]))
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
            }
            Suite::HmacSm3 => {
                let hkdf = hkdf::Hkdf::<sm3::Sm3>::new(Some(KDF_SALT), secret);
                hkdf.expand_multi_info(&info, &mut key[..]).expect("32 bytes is a valid HKDF-SM3 output length");
            }
            Suite::Blake3 => {
                let prk = Zeroizing::new(blake3::derive_key("bidui/v2", secret));
                *key = mac32(Suite::Blake3, &prk, &info);
            }
        }
        PurposeKey::new(self.suite, *key)
    }

    /// Every key of one pair domain, derived once and reused for every row.
    pub fn pair_keys(&self, pair: &PairDomain<'_>) -> PairKeys {
        PairKeys {
            tokens: JobKeys {
                id: self.derive(Purpose::IdToken, pair),
                attr: self.derive(Purpose::AttrToken, pair),
                qid: self.derive(Purpose::QidToken, pair),
            },
            field_seal: self.derive(Purpose::FieldSeal, pair),
            qid_seal: self.derive(Purpose::QidSeal, pair),
        }
    }
}

/// One token domain: a job, its requester and one of its departments. Every key is
/// derived per domain, so the matcher can relate each department to the registry and
/// never two departments to each other. Party names never contain `:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairDomain<'a> {
    pub job: &'a str,
    pub requester: &'a str,
    pub department: &'a str,
}

/// One suite's MAC over the concatenation of `parts`, full 32-byte output.
fn mac32(suite: Suite, key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    PurposeKey::new(suite, *key).mac(parts)
}

/// A derived key for one purpose in one job: a keyed MAC ready to make tokens.
#[derive(Clone)]
pub struct PurposeKey {
    suite: Suite,
    mac: KeyedMac,
}

#[derive(Clone)]
enum KeyedMac {
    // ring's key schedule cannot be zeroized; the epoch secret and the pad states can.
    Sha256 { ring: ring_hmac::Key, pads: Zeroizing<PadStates> },
    Sm3(hmac::Hmac<sm3::Sm3>),
    Blake3(Zeroizing<[u8; 32]>),
}

impl PurposeKey {
    pub(crate) fn new(suite: Suite, key: [u8; 32]) -> PurposeKey {
        let key = Zeroizing::new(key);
        let mac = match suite {
            Suite::HmacSha256 => KeyedMac::Sha256 {
                ring: ring_hmac::Key::new(ring_hmac::HMAC_SHA256, &key[..]),
                pads: Zeroizing::new(PadStates::new(&key)),
            },
            Suite::HmacSm3 => KeyedMac::Sm3(
                <hmac::Hmac<sm3::Sm3> as Mac>::new_from_slice(&key[..]).expect("HMAC accepts any key length"),
            ),
            Suite::Blake3 => KeyedMac::Blake3(key),
        };
        PurposeKey { suite, mac }
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The MAC of the concatenation of `parts` (no separators are added here: message
    /// layouts put their own 0x00 separators in).
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut out = [0u8; 32];
        match &self.mac {
            KeyedMac::Sha256 { ring, pads } => {
                if let Some(mac) = pads.single_block_mac(parts) {
                    return mac;
                }
                let mut ctx = ring_hmac::Context::with_key(ring);
                parts.iter().for_each(|part| ctx.update(part));
                out.copy_from_slice(ctx.sign().as_ref());
            }
            KeyedMac::Sm3(keyed) => {
                let mut mac = keyed.clone();
                parts.iter().for_each(|part| mac.update(part));
                out.copy_from_slice(&mac.finalize().into_bytes());
            }
            KeyedMac::Blake3(key) => {
                let mut hasher = blake3::Hasher::new_keyed(key);
                parts.iter().for_each(|part| {
                    hasher.update(part);
                });
                out = *hasher.finalize().as_bytes();
            }
        }
        out
    }

    /// A token: the first 16 bytes of the MAC of the message `parts` concatenated.
    pub fn token(&self, parts: &[&[u8]]) -> Token {
        let mac = self.mac(parts);
        Token(mac[..16].try_into().expect("16 of 32 bytes"))
    }
}

/// Longest message that fits one SHA-256 block after the 0x80 byte and the 8-byte length.
const SINGLE_BLOCK_MAX: usize = 55;

/// HMAC-SHA256 states after absorbing `K ^ ipad` and `K ^ opad`.
///
/// Identity tokens are MACs of 18 bytes: with the pads absorbed once per job, a token is
/// exactly two SHA-256 compressions. ring recomputes nothing either, but its per-call
/// context handling halves the throughput (5.4M vs 11M tokens/s per core measured), and
/// tokenizing is the agent's inner loop. Tested equal to ring for every message length.
#[derive(Clone, Zeroize)]
struct PadStates {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl PadStates {
    fn new(key: &[u8; 32]) -> PadStates {
        let absorb = |pad: u8| {
            let mut block = [pad; 64];
            block.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
            let mut state = SHA256_IV;
            sha2::compress256(&mut state, &[block.into()]);
            block.zeroize();
            state
        };
        PadStates { inner: absorb(0x36), outer: absorb(0x5c) }
    }

    fn single_block_mac(&self, parts: &[&[u8]]) -> Option<[u8; 32]> {
        let mut block = [0; 64];
        if !write_inner_block(&mut block, parts) {
            return None;
        }
        let mut state = self.inner;
        sha2::compress256(&mut state, &[block.into()]);
        write_outer_block(&mut block, &state);
        state = self.outer;
        sha2::compress256(&mut state, &[block.into()]);
        Some(digest_bytes(&state))
    }
}

/// Writes into `block` the padded last block of the inner hash of `parts` (which follows
/// the `K ^ ipad` block), or returns `false` when the message does not fit in one block.
#[inline(always)]
fn write_inner_block(block: &mut [u8; 64], parts: &[&[u8]]) -> bool {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > SINGLE_BLOCK_MAX {
        return false;
    }
    *block = [0; 64];
    let mut at = 0;
    for part in parts {
        copy_short(&mut block[at..at + part.len()], part);
        at += part.len();
    }
    block[len] = 0x80;
    block[56..].copy_from_slice(&(((64 + len) * 8) as u64).to_be_bytes());
    true
}

/// `dst.copy_from_slice(src)` for the few bytes of a message part, without calling
/// `memcpy`: a row's tokens are built from some thirty parts of 1 to 18 bytes, and the
/// calls cost more than the copies. Two overlapping fixed-size copies cover any length
/// from one size class to the next.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    assert_eq!(dst.len(), n);
    match n {
        0 => {}
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..].copy_from_slice(&src[n - 4..]);
        }
        8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..].copy_from_slice(&src[n - 8..]);
        }
        17..=32 => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..].copy_from_slice(&src[n - 16..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

/// Writes into `block` the padded block of the outer hash: the inner digest, after the
/// `K ^ opad` block.
fn write_outer_block(block: &mut [u8; 64], inner_state: &[u32; 8]) {
    write_be_words(&mut block[..32], inner_state);
    block[32..].fill(0);
    block[32] = 0x80;
    block[56..].copy_from_slice(&((96 * 8) as u64).to_be_bytes());
}

fn digest_bytes(state: &[u32; 8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    write_be_words(&mut digest, state);
    digest
}

/// SHA-256 state words as digest bytes, as many as `out` holds (16 for a token).
fn write_be_words(out: &mut [u8], words: &[u32; 8]) {
    out.chunks_exact_mut(4).zip(words).for_each(|(out, word)| out.copy_from_slice(&word.to_be_bytes()));
}

/// Where a queued token will be in its [`TokenBatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenSlot(usize);

/// Tokens computed together: queue every token a run of rows needs, [`compute`], then
/// read them back by slot. Single-block HMAC-SHA256 tokens (every token of the default
/// suite) then run several SHA-256 streams at once (see `sha256_lanes`), which nearly
/// halves the agent's hashing time; other tokens are computed as they are queued.
///
/// Queued messages hold canonical identity numbers and the states hold key material, so
/// both are wiped when the batch is dropped.
///
/// [`compute`]: TokenBatch::compute
#[derive(Default)]
pub struct TokenBatch {
    tokens: Vec<Token>,
    pending: Box<PendingMacs>,
}

/// Queued single-block HMACs, in columns because the compression takes slices of states
/// and blocks. Each block is written in place: building it elsewhere and copying it in
/// made the CPU stall on reading back bytes it had just stored piecemeal.
#[derive(Zeroize)]
struct PendingMacs {
    count: usize,
    slots: [usize; TokenBatch::FLUSH_AT],
    outer: [[u32; 8]; TokenBatch::FLUSH_AT],
    states: [[u32; 8]; TokenBatch::FLUSH_AT],
    blocks: [[u8; 64]; TokenBatch::FLUSH_AT],
}

impl Default for PendingMacs {
    fn default() -> PendingMacs {
        const N: usize = TokenBatch::FLUSH_AT;
        PendingMacs { count: 0, slots: [0; N], outer: [[0; 8]; N], states: [[0; 8]; N], blocks: [[0; 64]; N] }
    }
}

impl TokenBatch {
    /// Queued MACs computed at once: enough streams to interleave, few enough that the
    /// states and blocks stay in the L1 cache.
    const FLUSH_AT: usize = 64;

    pub fn new() -> TokenBatch {
        TokenBatch::default()
    }

    /// Queues the token of the message `parts` (concatenated) under `key`.
    #[inline]
    pub fn queue(&mut self, key: &PurposeKey, parts: &[&[u8]]) -> TokenSlot {
        let slot = TokenSlot(self.tokens.len());
        self.tokens.push(Token::default());
        let pending = &mut *self.pending;
        let lane = pending.count;
        match &key.mac {
            KeyedMac::Sha256 { pads, .. } if write_inner_block(&mut pending.blocks[lane], parts) => {
                pending.slots[lane] = slot.0;
                pending.outer[lane] = pads.outer;
                pending.states[lane] = pads.inner;
                pending.count += 1;
                if pending.count == Self::FLUSH_AT {
                    self.compute();
                }
            }
            _ => self.tokens[slot.0] = key.token(parts),
        }
        slot
    }

    /// Computes every queued token.
    pub fn compute(&mut self) {
        let pending = &mut *self.pending;
        let n = pending.count;
        let (states, blocks) = (&mut pending.states[..n], &mut pending.blocks[..n]);
        sha256_lanes::compress(states, blocks);
        for ((block, state), outer) in blocks.iter_mut().zip(states.iter_mut()).zip(&pending.outer) {
            write_outer_block(block, state);
            *state = *outer;
        }
        sha256_lanes::compress(states, blocks);
        for (&slot, state) in pending.slots.iter().zip(states.iter()) {
            write_be_words(&mut self.tokens[slot].0, state);
        }
        pending.count = 0;
    }

    /// Adds a token already known (such as [`crate::wire::ABSENT`]), so a row's tokens
    /// can sit in consecutive slots whether or not each was computed.
    pub fn push(&mut self, token: Token) -> TokenSlot {
        self.tokens.push(token);
        TokenSlot(self.tokens.len() - 1)
    }

    /// `len` computed tokens from consecutive slots starting at `first`.
    ///
    /// # Panics
    /// If tokens are still queued, or the run goes past the last slot.
    pub fn run(&self, first: TokenSlot, len: usize) -> &[Token] {
        assert!(self.pending.count == 0, "TokenBatch::compute must run before tokens are read");
        &self.tokens[first.0..first.0 + len]
    }

    /// Forgets every token, keeping the allocations for the next run of rows.
    pub fn clear(&mut self) {
        self.compute();
        self.tokens.clear();
    }
}

impl Drop for TokenBatch {
    fn drop(&mut self) {
        self.pending.zeroize();
    }
}

/// HMACs of many messages of any length under one key: the field sealer's nonces and
/// row keys, several per row. With HMAC-SHA256 the messages run four at a time through
/// the SHA-256 lanes (each message's blocks, then its outer block, one lane each), which
/// cut a department agent's CPU by 15% against one MAC at a time; other suites
/// compute each message alone.
///
/// The queued messages hold identity numbers and field values, so they are wiped when
/// the batch is cleared or dropped.
#[derive(Default)]
pub(crate) struct MacBatch {
    /// The messages back to back, each padded to whole SHA-256 blocks as the inner hash
    /// after the `K ^ ipad` block pads it.
    bytes: Zeroizing<Vec<u8>>,
    /// Per message: where it starts in `bytes` and its length before padding.
    messages: Vec<(usize, usize)>,
}

impl MacBatch {
    /// Queues the message `parts` (concatenated). The padded message is sized once and
    /// zero-filled, which is most of its padding, and the parts are copied into it.
    pub(crate) fn push(&mut self, parts: &[&[u8]]) {
        let start = self.bytes.len();
        let len: usize = parts.iter().map(|part| part.len()).sum();
        let padded = (len + 9).div_ceil(64) * 64;
        self.bytes.resize(start + padded, 0);
        let message = &mut self.bytes[start..];
        let mut at = 0;
        for part in parts {
            copy_short(&mut message[at..at + part.len()], part);
            at += part.len();
        }
        message[len] = 0x80;
        message[padded - 8..].copy_from_slice(&(((64 + len) * 8) as u64).to_be_bytes());
        self.messages.push((start, len));
    }

    /// Appends the MAC under `key` of every queued message to `out`, in order.
    pub(crate) fn compute_into(&mut self, key: &PurposeKey, out: &mut Vec<[u8; 32]>) {
        let first = out.len();
        out.resize(first + self.messages.len(), [0; 32]);
        let macs = &mut out[first..];
        match &key.mac {
            KeyedMac::Sha256 { pads, .. } => self.compute_sha256(pads, macs),
            _ => {
                for (mac, &(start, len)) in macs.iter_mut().zip(&self.messages) {
                    *mac = key.mac(&[&self.bytes[start..start + len]]);
                }
            }
        }
    }

    /// Runs each message through one of four lanes: its padded inner blocks from
    /// `K ^ ipad`, then the outer block from `K ^ opad`; a lane that finishes takes the
    /// next message. Idle lanes at the end compress whatever they hold, unread.
    fn compute_sha256(&self, pads: &PadStates, macs: &mut [[u8; 32]]) {
        #[derive(Clone, Copy)]
        struct Lane {
            message: usize,
            /// The next block of the message to compress; past its inner blocks, the outer.
            block: usize,
            inner_blocks: usize,
        }
        const N: usize = sha256_lanes::LANES;
        let mut lanes: [Option<Lane>; N] = [None; N];
        let mut states = Zeroizing::new([[0u32; 8]; N]);
        let mut blocks = Zeroizing::new([[0u8; 64]; N]);
        let mut next = 0;
        loop {
            for (lane, state) in lanes.iter_mut().zip(states.iter_mut()) {
                if lane.is_none() && next < self.messages.len() {
                    let len = self.messages[next].1;
                    *lane = Some(Lane { message: next, block: 0, inner_blocks: (len + 9).div_ceil(64) });
                    *state = pads.inner;
                    next += 1;
                }
            }
            if lanes.iter().all(Option::is_none) {
                return;
            }
            for (lane, block) in lanes.iter().zip(blocks.iter_mut()) {
                if let Some(lane) = lane {
                    if lane.block < lane.inner_blocks {
                        let at = self.messages[lane.message].0 + lane.block * 64;
                        block.copy_from_slice(&self.bytes[at..at + 64]);
                    }
                }
            }
            sha256_lanes::compress(&mut states[..], &blocks[..]);
            for ((slot, state), block) in lanes.iter_mut().zip(states.iter_mut()).zip(blocks.iter_mut()) {
                let Some(lane) = slot else { continue };
                lane.block += 1;
                if lane.block == lane.inner_blocks {
                    write_outer_block(block, state);
                    *state = pads.outer;
                } else if lane.block > lane.inner_blocks {
                    write_be_words(&mut macs[lane.message], state);
                    *slot = None;
                }
            }
        }
    }

    /// Wipes and forgets every queued message.
    pub(crate) fn clear(&mut self) {
        self.bytes.zeroize();
        self.messages.clear();
    }
}

impl fmt::Debug for PurposeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PurposeKey({}, <redacted>)", self.suite)
    }
}

/// The token keys of one pair domain.
#[derive(Clone, Debug)]
pub struct JobKeys {
    pub id: PurposeKey,
    pub attr: PurposeKey,
    pub qid: PurposeKey,
}

/// Every key of one pair domain: its token keys and its two sealing keys
/// ([`crate::fieldseal`]).
#[derive(Clone, Debug)]
pub struct PairKeys {
    pub tokens: JobKeys,
    pub field_seal: PurposeKey,
    pub qid_seal: PurposeKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: PairDomain<'static> = PairDomain { job: "j", requester: "r", department: "d" };

    fn epoch(suite: Suite) -> KeyEpoch {
        KeyEpoch::new(suite, EpochSecret::from_bytes([7; 32]))
    }

    #[test]
    fn suites_and_purposes_round_trip_their_names() {
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>().unwrap(), suite);
        }
        for purpose in Purpose::ALL {
            assert_eq!(purpose.label().parse::<Purpose>().unwrap(), purpose);
        }
        assert!(matches!("sha256".parse::<Suite>(), Err(KeyError::UnknownSuite(_))));
    }

    #[test]
    fn purpose_keys_differ_by_purpose_job_department_and_suite() {
        let msg: &[&[u8]] = &[b"11010519491231002X"];
        let mut seen = std::collections::HashSet::new();
        for suite in Suite::ALL {
            for purpose in Purpose::ALL {
                for job in ["job-1", "job-2"] {
                    for department in ["household", "pension"] {
                        let pair = PairDomain { job, requester: "veterans", department };
                        let token = epoch(suite).derive(purpose, &pair).token(msg);
                        assert!(seen.insert(token), "{suite} {purpose:?} {job} {department}");
                    }
                }
            }
        }
    }

    #[test]
    fn token_is_the_same_whatever_the_message_split() {
        for suite in Suite::ALL {
            let key = epoch(suite).derive(Purpose::AttrToken, &PAIR);
            assert_eq!(key.token(&[b"abc", b"\0", b"def"]), key.token(&[b"abc\0def"]));
        }
    }

    #[test]
    fn batched_tokens_equal_one_at_a_time_for_every_suite_key_and_length() {
        // Interleaved keys and lengths 0..80 straddle the one-block limit and the flush
        // point, so a token written to the wrong slot or a lane computed with another
        // lane's key shows.
        let message: Vec<u8> = (0..80u8).map(|b| b.wrapping_mul(37)).collect();
        for suite in Suite::ALL {
            let keys: Vec<PurposeKey> = Purpose::ALL.iter().map(|&p| epoch(suite).derive(p, &PAIR)).collect();
            let mut batch = TokenBatch::new();
            for round in 0..2 {
                let mut queued = Vec::new();
                for len in 0..message.len() {
                    let key = &keys[(len + round) % keys.len()];
                    let (a, b) = message[..len].split_at(len / 2);
                    queued.push((batch.queue(key, &[a, b]), key.token(&[&message[..len]])));
                }
                batch.compute();
                for (i, (slot, want)) in queued.into_iter().enumerate() {
                    assert_eq!(batch.run(slot, 1), [want], "{suite}, round {round}, length {i}");
                }
                batch.clear();
            }
        }
    }

    #[test]
    #[should_panic(expected = "compute must run")]
    fn reading_a_batch_before_computing_it_is_a_bug() {
        let key = epoch(Suite::HmacSha256).derive(Purpose::IdToken, &PAIR);
        let mut batch = TokenBatch::new();
        let slot = batch.queue(&key, &[b"11010519491231002X"]);
        batch.run(slot, 1);
    }

    #[test]
    fn single_block_hmac_sha256_equals_ring_for_every_length() {
        let key = epoch(Suite::HmacSha256).derive(Purpose::AttrToken, &PAIR);
        let KeyedMac::Sha256 { ring, .. } = &key.mac else { unreachable!() };
        let message: Vec<u8> = (0..200u8).collect();
        for len in 0..message.len() {
            let want = ring_hmac::sign(ring, &message[..len]);
            let (a, b) = message[..len].split_at(len / 3);
            assert_eq!(&key.mac(&[a, b])[..], want.as_ref(), "length {len}");
        }
    }

    #[test]
    fn batched_macs_of_any_length_equal_one_at_a_time_for_every_suite() {
        // Lengths 0..300 in an order that makes lanes finish out of step: short messages
        // beside four-block ones, a lane refilled while others are mid-message, and a
        // ragged tail. HMAC-SHA256 is checked against ring itself.
        let message: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let lengths: Vec<usize> = (0..300).map(|i| (i * 37) % 300).collect();
        for suite in Suite::ALL {
            let key = epoch(suite).derive(Purpose::FieldSeal, &PAIR);
            let mut batch = MacBatch::default();
            for &len in &lengths {
                let (a, b) = message[..len].split_at(len / 2);
                batch.push(&[a, b]);
            }
            let mut macs = vec![[1; 32]];
            batch.compute_into(&key, &mut macs);
            assert_eq!(macs.len(), 1 + lengths.len());
            assert_eq!(macs[0], [1; 32], "what was in the output is kept");
            for (&len, mac) in lengths.iter().zip(&macs[1..]) {
                let want = match &key.mac {
                    KeyedMac::Sha256 { ring, .. } => ring_hmac::sign(ring, &message[..len]).as_ref().to_vec(),
                    _ => key.mac(&[&message[..len]]).to_vec(),
                };
                assert_eq!(&mac[..], &want[..], "{suite}, length {len}");
            }
            batch.clear();
            assert!(batch.messages.is_empty() && batch.bytes.is_empty());
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let e = epoch(Suite::HmacSha256);
        let shown = format!("{e:?} {:?}", e.derive(Purpose::IdToken, &PAIR));
        assert!(!shown.contains("07") && !shown.contains('7'), "{shown}");
    }

    #[test]
    fn secret_hex_is_checked() {
        assert_eq!(EpochSecret::from_hex("zz"), Err(KeyError::SecretNotHex));
        assert_eq!(EpochSecret::from_hex("00ff"), Err(KeyError::SecretLength(2)));
        assert!(EpochSecret::from_hex(&"ab".repeat(32)).is_ok());
    }
}
