//! Wire formats shared by agents and the matcher (`protocol-docs/wire-v1.md`).
//!
//! - token chunks: the compact framed binary in which a party uploads its tokens;
//! - request signatures: what an agent signs so the matcher can refuse forged, replayed
//!   and stale requests.

use crate::fieldseal::valid_sealed_len;
use crate::token::Token;

/// First bytes of every token chunk: format and version.
pub const CHUNK_MAGIC: [u8; 4] = *b"BDT2";
/// The magic of protocol v1's chunks, refused with a message saying so.
pub const CHUNK_MAGIC_V1: [u8; 4] = *b"BDT1";
/// Magic, token count, flags, two reserved zero bytes, record count.
pub const CHUNK_HEADER_LEN: usize = 12;
/// Most tokens one record may carry (a requester's record carries a group per department).
pub const MAX_TOKENS: usize = 128;
/// Most attribute tokens one group may carry.
pub const MAX_ATTRIBUTES: usize = 16;
/// Most records in one chunk; keeps a chunk well under the matcher's body limit.
pub const MAX_CHUNK_RECORDS: usize = 65_536;
/// Agents close a chunk once it is this large, whatever its record count, so a chunk of
/// sealed values stays under the matcher's 8 MiB body limit.
pub const CHUNK_BYTES_TARGET: usize = 4 << 20;
/// Header flag: every record ends with its two sealed values.
pub const FLAG_SEALED: u8 = 1;

/// An absent token (a row with an invalid identity number has no identity token; a row
/// with a missing attribute has no attribute token). A real token is all-zero with
/// probability 2^-128.
pub const ABSENT: Token = Token([0; 16]);

/// What a party's records hold, derived by both sides from the job (wire-v2 §4): one token
/// group per pair domain (a department has one, the requester one per department, in job
/// order), each `id, qid, attr…`; and for a department that seals values, two sealed values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Attribute tokens of each group.
    pub groups: Vec<usize>,
    pub sealed: bool,
}

impl Layout {
    pub fn token_count(&self) -> usize {
        self.groups.iter().map(|a| 2 + a).sum()
    }

    /// Index of group `g`'s identity token among a record's tokens.
    pub fn group_start(&self, g: usize) -> usize {
        self.groups[..g].iter().map(|a| 2 + a).sum()
    }
}

/// One pair domain's tokens of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGroup {
    /// Identity token, or [`ABSENT`] when the row's identity number is invalid.
    pub id: Token,
    /// Quasi-identifier token (name, birth date, sex), or [`ABSENT`].
    pub qid: Token,
    /// Attribute tokens in the order the job lists the attributes; [`ABSENT`] where missing.
    pub attrs: Vec<Token>,
}

/// One row's tokens (and sealed values) as carried in a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// The party's own 1-based data-row number: its opaque record reference.
    pub row: u32,
    pub groups: Vec<TokenGroup>,
    /// Values sealed under the identity (empty when the identity token is absent) and the
    /// quasi-identifier (empty when that token is absent); `None` for a party that seals nothing.
    pub sealed: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("token chunk is shorter than its {CHUNK_HEADER_LEN}-byte header")]
    TooShort,
    #[error("token chunk is in the format of protocol v1 (BDT1); this matcher speaks protocol v2 only")]
    ProtocolV1,
    #[error("token chunk does not start with the BDT2 magic: not a bidui v2 chunk")]
    BadMagic,
    #[error("token chunk reserved bytes or flags are not zero")]
    Reserved,
    #[error("token chunk declares {0} tokens per record; at most {MAX_TOKENS} are allowed")]
    TooManyTokens(usize),
    #[error("token chunk declares {tokens} tokens per record (sealed values: {sealed}) but the job needs {expected_tokens} (sealed values: {expected_sealed})")]
    Layout { tokens: usize, sealed: bool, expected_tokens: usize, expected_sealed: bool },
    #[error("token chunk declares {0} records; at most {MAX_CHUNK_RECORDS} are allowed")]
    TooManyRecords(usize),
    #[error("token chunk is empty")]
    Empty,
    #[error("token chunk ends inside record {0}: truncated")]
    Truncated(usize),
    #[error("token chunk has {0} bytes after its last record: padded")]
    Trailing(usize),
    #[error("token chunk rows must be strictly increasing and start at 1 (row {row} after {previous})")]
    RowOrder { previous: u32, row: u32 },
    #[error("token chunk row {0} carries neither an identity nor a quasi-identifier token")]
    NoToken(u32),
    #[error("token chunk row {0} has an identity or quasi-identifier token in some groups and not in others")]
    Inconsistent(u32),
    #[error("token chunk row {0} has a sealed value without its token, a token without its sealed value, or a sealed value of impossible length")]
    Sealed(u32),
}

/// Encodes records into one chunk. Callers keep rows increasing and records in `layout`.
pub fn encode_chunk(layout: &Layout, records: &[TokenRecord]) -> Vec<u8> {
    let mut chunk = ChunkBuilder::new(layout);
    let mut bytes = Vec::new();
    for record in records {
        assert_eq!(record.groups.len(), layout.groups.len(), "one group per pair domain");
        let tokens: Vec<Token> = record
            .groups
            .iter()
            .zip(&layout.groups)
            .flat_map(|(g, &a)| {
                assert_eq!(g.attrs.len(), a, "one token per attribute");
                [g.id, g.qid].into_iter().chain(g.attrs.iter().copied())
            })
            .collect();
        assert_eq!(record.sealed.is_some(), layout.sealed, "sealed values exactly when the layout has them");
        bytes.clear();
        encode_record(record.row, &tokens, record.sealed.as_ref().map(|(i, q)| (&i[..], &q[..])), &mut bytes);
        chunk.push_encoded(&bytes);
    }
    chunk.finish()
}

/// Appends one record in the chunk layout: row (u32 LE), its tokens, and for a sealing
/// party the two sealed values, each after its u16 LE length. Agents encode on their
/// tokenizing threads, so a row crosses to the uploading thread as bytes.
pub fn encode_record(row: u32, tokens: &[Token], sealed: Option<(&[u8], &[u8])>, out: &mut Vec<u8>) {
    out.extend_from_slice(&row.to_le_bytes());
    tokens.iter().for_each(|t| out.extend_from_slice(&t.0));
    if let Some((by_id, by_qid)) = sealed {
        for blob in [by_id, by_qid] {
            let len = u16::try_from(blob.len()).expect("a sealed value fits a u16 length");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(blob);
        }
    }
}

/// A chunk built record by record.
pub struct ChunkBuilder {
    bytes: Vec<u8>,
    records: usize,
}

impl ChunkBuilder {
    pub fn new(layout: &Layout) -> ChunkBuilder {
        ChunkBuilder::with_capacity(layout, CHUNK_HEADER_LEN + 1024 * (4 + 16 * layout.token_count()))
    }

    /// A builder with room for `bytes` bytes of chunk. A chunk of a few megabytes grown
    /// from [`ChunkBuilder::new`]'s room copies itself at each doubling; an agent sizes
    /// the next chunk like the one it closed.
    pub fn with_capacity(layout: &Layout, bytes: usize) -> ChunkBuilder {
        let tokens = layout.token_count();
        assert!(tokens <= MAX_TOKENS);
        let mut bytes = Vec::with_capacity(bytes.max(CHUNK_HEADER_LEN));
        bytes.extend_from_slice(&CHUNK_MAGIC);
        bytes.push(tokens as u8);
        bytes.push(if layout.sealed { FLAG_SEALED } else { 0 });
        bytes.extend_from_slice(&[0; 2 + 4]); // reserved, then the record count
        ChunkBuilder { bytes, records: 0 }
    }

    /// Appends one record made by [`encode_record`] in this chunk's layout.
    pub fn push_encoded(&mut self, record: &[u8]) {
        assert!(self.records < MAX_CHUNK_RECORDS);
        self.bytes.extend_from_slice(record);
        self.records += 1;
    }

    /// Records in the chunk so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Bytes of the chunk so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The chunk, its header naming its record count.
    pub fn finish(mut self) -> Vec<u8> {
        let count = (self.records as u32).to_le_bytes();
        self.bytes[8..CHUNK_HEADER_LEN].copy_from_slice(&count);
        self.bytes
    }
}

/// A validated chunk: records are read in place, without copying.
#[derive(Clone, Debug)]
pub struct Chunk<'a> {
    layout: Layout,
    /// Each group's first token index.
    starts: Vec<usize>,
    count: usize,
    body: &'a [u8],
    /// Found while decoding: the join and the upload handler need it per chunk.
    last_row: u32,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    bytes.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

impl<'a> Chunk<'a> {
    /// Checks every rule of the format (wire-v2 §4.3). `layout` is what the job makes the
    /// party send; `after_row` is the last row of the previous chunk (0 for the first).
    pub fn decode(bytes: &'a [u8], layout: &Layout, after_row: u32) -> Result<Chunk<'a>, ChunkError> {
        if bytes.len() < CHUNK_HEADER_LEN {
            return Err(ChunkError::TooShort);
        }
        if bytes[..4] == CHUNK_MAGIC_V1 {
            return Err(ChunkError::ProtocolV1);
        }
        if bytes[..4] != CHUNK_MAGIC {
            return Err(ChunkError::BadMagic);
        }
        if bytes[5] & !FLAG_SEALED != 0 || bytes[6..8] != [0, 0] {
            return Err(ChunkError::Reserved);
        }
        let tokens = usize::from(bytes[4]);
        if tokens > MAX_TOKENS {
            return Err(ChunkError::TooManyTokens(tokens));
        }
        let sealed = bytes[5] & FLAG_SEALED != 0;
        if tokens != layout.token_count() || sealed != layout.sealed {
            return Err(ChunkError::Layout {
                tokens,
                sealed,
                expected_tokens: layout.token_count(),
                expected_sealed: layout.sealed,
            });
        }
        let count = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        if count > MAX_CHUNK_RECORDS {
            return Err(ChunkError::TooManyRecords(count));
        }
        if count == 0 {
            return Err(ChunkError::Empty);
        }
        let body = &bytes[CHUNK_HEADER_LEN..];
        let starts: Vec<usize> = (0..layout.groups.len()).map(|g| layout.group_start(g)).collect();
        let fixed = 4 + 16 * tokens;
        let mut at = 0;
        let mut previous = after_row;
        for index in 0..count {
            let Some(raw) = body.get(at..at + fixed) else { return Err(ChunkError::Truncated(index)) };
            let record = RecordRef { raw, sealed_id: &[], sealed_qid: &[], starts: &starts };
            let row = record.row();
            if row <= previous {
                return Err(ChunkError::RowOrder { previous, row });
            }
            let (has_id, has_qid) = (record.id(0) != ABSENT, record.qid(0) != ABSENT);
            if !has_id && !has_qid {
                return Err(ChunkError::NoToken(row));
            }
            if (1..starts.len()).any(|g| (record.id(g) != ABSENT) != has_id || (record.qid(g) != ABSENT) != has_qid) {
                return Err(ChunkError::Inconsistent(row));
            }
            at += fixed;
            if sealed {
                for present in [has_id, has_qid] {
                    let Some(len) = u16_at(body, at) else { return Err(ChunkError::Truncated(index)) };
                    if body.len() < at + 2 + len {
                        return Err(ChunkError::Truncated(index));
                    }
                    if present != (len > 0) || (len > 0 && !valid_sealed_len(len)) {
                        return Err(ChunkError::Sealed(row));
                    }
                    at += 2 + len;
                }
            }
            previous = row;
        }
        if at != body.len() {
            return Err(ChunkError::Trailing(body.len() - at));
        }
        Ok(Chunk { layout: layout.clone(), starts, count, body, last_row: previous })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    #[inline]
    pub fn records(&self) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        let fixed = 4 + 16 * self.layout.token_count();
        let starts = &self.starts[..];
        let sealed = self.layout.sealed;
        let mut at = 0;
        let body = self.body;
        (0..self.count).map(move |_| {
            let raw = &body[at..at + fixed];
            at += fixed;
            let (mut sealed_id, mut sealed_qid): (&[u8], &[u8]) = (&[], &[]);
            if sealed {
                for blob in [&mut sealed_id, &mut sealed_qid] {
                    let len = u16_at(body, at).expect("checked by decode");
                    *blob = &body[at + 2..at + 2 + len];
                    at += 2 + len;
                }
            }
            RecordRef { raw, sealed_id, sealed_qid, starts }
        })
    }

    /// Row number of the last record (chunks are never empty once decoded).
    pub fn last_row(&self) -> u32 {
        self.last_row
    }
}

/// One record inside a decoded chunk.
#[derive(Clone, Copy, Debug)]
pub struct RecordRef<'a> {
    raw: &'a [u8],
    sealed_id: &'a [u8],
    sealed_qid: &'a [u8],
    starts: &'a [usize],
}

impl<'a> RecordRef<'a> {
    #[inline]
    pub fn row(&self) -> u32 {
        u32::from_le_bytes(self.raw[..4].try_into().expect("4 bytes"))
    }
    #[inline]
    fn token(&self, index: usize) -> Token {
        let at = 4 + 16 * index;
        Token(self.raw[at..at + 16].try_into().expect("16 bytes"))
    }
    /// Group `g`'s identity token.
    #[inline]
    pub fn id(&self, g: usize) -> Token {
        self.token(self.starts[g])
    }
    #[inline]
    pub fn qid(&self, g: usize) -> Token {
        self.token(self.starts[g] + 1)
    }
    /// Group `g`'s attribute token `k`.
    #[inline]
    pub fn attr(&self, g: usize, k: usize) -> Token {
        self.token(self.starts[g] + 2 + k)
    }
    /// The values sealed under the identity (empty if none).
    #[inline]
    pub fn sealed_id(&self) -> &'a [u8] {
        self.sealed_id
    }
    /// The values sealed under the quasi-identifier (empty if none).
    #[inline]
    pub fn sealed_qid(&self) -> &'a [u8] {
        self.sealed_qid
    }
    pub fn to_record(&self, layout: &Layout) -> TokenRecord {
        let groups = (0..layout.groups.len())
            .map(|g| TokenGroup {
                id: self.id(g),
                qid: self.qid(g),
                attrs: (0..layout.groups[g]).map(|k| self.attr(g, k)).collect(),
            })
            .collect();
        let sealed = layout.sealed.then(|| (self.sealed_id.to_vec(), self.sealed_qid.to_vec()));
        TokenRecord { row: self.row(), groups, sealed }
    }
}

/// The bytes an agent signs for one request. Binding method, path, body digest, time,
/// nonce and signer means a signature cannot be moved to another request, replayed after
/// the nonce window, or claimed by another agent.
pub fn request_signing_payload(
    method: &str,
    path_and_query: &str,
    body_sha256: &[u8; 32],
    timestamp: u64,
    nonce: &str,
    signer: &str,
) -> Vec<u8> {
    format!(
        "bidui/v1 request\n{method}\n{path_and_query}\n{}\n{timestamp}\n{nonce}\n{signer}",
        hex::encode(body_sha256)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fieldseal::MAX_SEALED_LEN;
    use proptest::prelude::*;

    fn token(byte: u8) -> Token {
        Token([byte; 16])
    }

    fn department(attrs: usize) -> Layout {
        Layout { groups: vec![attrs], sealed: true }
    }

    fn blob(len: usize) -> Vec<u8> {
        vec![0xab; len]
    }

    fn record(row: u32, attrs: usize) -> TokenRecord {
        TokenRecord {
            row,
            groups: vec![TokenGroup { id: token(row as u8 | 1), qid: ABSENT, attrs: vec![token(7); attrs] }],
            sealed: Some((blob(12 + 64 + 16), Vec::new())),
        }
    }

    #[test]
    fn a_chunk_built_from_encoded_records_is_the_encoded_chunk() {
        let layout = department(3);
        let records: Vec<TokenRecord> = (1..=5).map(|row| record(row, 3)).collect();
        let bytes = encode_chunk(&layout, &records);
        let decoded = Chunk::decode(&bytes, &layout, 0).unwrap();
        assert_eq!(decoded.len(), 5);
        assert_eq!(decoded.records().map(|r| r.to_record(&layout)).collect::<Vec<_>>(), records);
        assert_eq!(decoded.last_row(), 5);
    }

    #[test]
    fn a_requester_record_carries_one_group_per_department() {
        let layout = Layout { groups: vec![1, 0, 2], sealed: false };
        assert_eq!(layout.token_count(), 3 + 2 + 4);
        let group =
            |id: u8, attrs: usize| TokenGroup { id: token(id), qid: token(id + 1), attrs: vec![token(9); attrs] };
        let records =
            vec![TokenRecord { row: 3, groups: vec![group(10, 1), group(20, 0), group(30, 2)], sealed: None }];
        let bytes = encode_chunk(&layout, &records);
        let chunk = Chunk::decode(&bytes, &layout, 0).unwrap();
        let first = chunk.records().next().unwrap();
        assert_eq!((first.id(1), first.qid(2), first.attr(2, 1)), (token(20), token(31), token(9)));
        assert_eq!(chunk.records().map(|r| r.to_record(&layout)).collect::<Vec<_>>(), records);
    }

    #[test]
    fn refuses_each_malformed_chunk() {
        let layout = department(2);
        let good = encode_chunk(&layout, &[record(1, 2), record(5, 2)]);
        assert!(Chunk::decode(&good, &layout, 0).is_ok());
        let no_token = TokenRecord {
            row: 1,
            groups: vec![TokenGroup { id: ABSENT, qid: ABSENT, attrs: vec![token(200); 2] }],
            sealed: Some((Vec::new(), Vec::new())),
        };
        let mut unsealed = record(1, 2);
        unsealed.sealed = Some((Vec::new(), Vec::new()));
        let mut stray = record(1, 2);
        stray.sealed = Some((blob(92), blob(92)));
        let mut bad_len = record(1, 2);
        bad_len.sealed = Some((blob(93), Vec::new()));
        let mut too_long = record(1, 2);
        too_long.sealed = Some((blob(MAX_SEALED_LEN + 64), Vec::new()));
        let cases: Vec<(Vec<u8>, ChunkError)> = vec![
            (good[..8].to_vec(), ChunkError::TooShort),
            ([b"BDT1", &good[4..]].concat(), ChunkError::ProtocolV1),
            ([b"XXXX", &good[4..]].concat(), ChunkError::BadMagic),
            (good[..good.len() - 1].to_vec(), ChunkError::Truncated(1)),
            ([&good[..], &[0]].concat(), ChunkError::Trailing(1)),
            (encode_chunk(&layout, &[]), ChunkError::Empty),
            (encode_chunk(&layout, &[record(5, 2), record(5, 2)]), ChunkError::RowOrder { previous: 5, row: 5 }),
            (encode_chunk(&layout, &[record(0, 2)]), ChunkError::RowOrder { previous: 0, row: 0 }),
            (
                encode_chunk(&department(1), &[record(1, 1)]),
                ChunkError::Layout { tokens: 3, sealed: true, expected_tokens: 4, expected_sealed: true },
            ),
            (encode_chunk(&layout, &[no_token]), ChunkError::NoToken(1)),
            (encode_chunk(&layout, &[unsealed]), ChunkError::Sealed(1)),
            (encode_chunk(&layout, &[stray]), ChunkError::Sealed(1)),
            (encode_chunk(&layout, &[bad_len]), ChunkError::Sealed(1)),
            (encode_chunk(&layout, &[too_long]), ChunkError::Sealed(1)),
        ];
        for (bytes, want) in cases {
            assert_eq!(Chunk::decode(&bytes, &layout, 0).unwrap_err(), want);
        }
        let unsealed_layout = Layout { groups: vec![2], sealed: false };
        assert_eq!(
            Chunk::decode(&good, &unsealed_layout, 0).unwrap_err(),
            ChunkError::Layout { tokens: 4, sealed: true, expected_tokens: 4, expected_sealed: false }
        );
        let mut reserved = good.clone();
        reserved[6] = 1;
        assert_eq!(Chunk::decode(&reserved, &layout, 0).unwrap_err(), ChunkError::Reserved);
        let mut flags = good.clone();
        flags[5] = 3;
        assert_eq!(Chunk::decode(&flags, &layout, 0).unwrap_err(), ChunkError::Reserved);
        assert_eq!(Chunk::decode(&good, &layout, 1).unwrap_err(), ChunkError::RowOrder { previous: 1, row: 1 });
        let requester = Layout { groups: vec![0, 0], sealed: false };
        let mixed = TokenRecord {
            row: 1,
            groups: vec![
                TokenGroup { id: token(1), qid: ABSENT, attrs: vec![] },
                TokenGroup { id: ABSENT, qid: ABSENT, attrs: vec![] },
            ],
            sealed: None,
        };
        assert_eq!(
            Chunk::decode(&encode_chunk(&requester, &[mixed]), &requester, 0).unwrap_err(),
            ChunkError::Inconsistent(1)
        );
    }

    #[test]
    fn signing_payload_binds_every_part() {
        let base = request_signing_payload("PUT", "/v1/x", &[1; 32], 10, "n", "a");
        for other in [
            request_signing_payload("POST", "/v1/x", &[1; 32], 10, "n", "a"),
            request_signing_payload("PUT", "/v1/y", &[1; 32], 10, "n", "a"),
            request_signing_payload("PUT", "/v1/x", &[2; 32], 10, "n", "a"),
            request_signing_payload("PUT", "/v1/x", &[1; 32], 11, "n", "a"),
            request_signing_payload("PUT", "/v1/x", &[1; 32], 10, "m", "a"),
            request_signing_payload("PUT", "/v1/x", &[1; 32], 10, "n", "b"),
        ] {
            assert_ne!(base, other);
        }
    }

    fn arb_records() -> impl Strategy<Value = (Layout, Vec<TokenRecord>)> {
        (proptest::collection::vec(0usize..4, 1..4), any::<bool>()).prop_flat_map(|(groups, sealed)| {
            let layout = Layout { groups: groups.clone(), sealed: sealed && groups.len() == 1 };
            let group_tokens =
                groups.iter().map(|&a| proptest::collection::vec(any::<[u8; 16]>(), a)).collect::<Vec<_>>();
            let rec = (1u32..50, any::<bool>(), any::<bool>(), group_tokens, 1usize..4, 1usize..4);
            let layout_out = layout.clone();
            proptest::collection::vec(rec, 1..30).prop_map(move |raw| {
                let mut row = 0;
                let records = raw
                    .into_iter()
                    .map(|(step, has_id, has_qid, attrs, id_blocks, qid_blocks)| {
                        row += step;
                        let has_id = has_id || !has_qid;
                        let groups = attrs
                            .into_iter()
                            .enumerate()
                            .map(|(g, attrs)| TokenGroup {
                                id: if has_id { token(g as u8 + 1) } else { ABSENT },
                                qid: if has_qid { token(g as u8 + 100) } else { ABSENT },
                                attrs: attrs.into_iter().map(Token).collect(),
                            })
                            .collect();
                        let sealed = layout.sealed.then(|| {
                            let blob_of = |present: bool, blocks: usize| {
                                if present {
                                    blob(28 + 64 * blocks)
                                } else {
                                    Vec::new()
                                }
                            };
                            (blob_of(has_id, id_blocks), blob_of(has_qid, qid_blocks))
                        });
                        TokenRecord { row, groups, sealed }
                    })
                    .collect();
                (layout_out.clone(), records)
            })
        })
    }

    proptest! {
        #[test]
        fn chunks_round_trip((layout, records) in arb_records()) {
            let bytes = encode_chunk(&layout, &records);
            let chunk = Chunk::decode(&bytes, &layout, 0).unwrap();
            let back: Vec<TokenRecord> = chunk.records().map(|r| r.to_record(&layout)).collect();
            prop_assert_eq!(back, records.clone());
            prop_assert_eq!(chunk.last_row(), records.last().unwrap().row);
        }

        #[test]
        fn any_truncation_is_refused((layout, records) in arb_records(), cut in 1usize..64) {
            let bytes = encode_chunk(&layout, &records);
            let cut = cut.min(bytes.len());
            prop_assert!(Chunk::decode(&bytes[..bytes.len() - cut], &layout, 0).is_err());
        }

        /// Whatever bytes a party sends, decoding answers without panicking, and what it
        /// accepts is exactly the encoding of the records it reads: nothing is skipped,
        /// guessed or read twice.
        #[test]
        fn decoding_any_bytes_never_panics_and_accepts_only_exact_encodings(
            (layout, records) in arb_records(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            cut in 0usize..8,
        ) {
            let mut bytes = encode_chunk(&layout, &records);
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            bytes.truncate(bytes.len() - cut.min(bytes.len()));
            if let Ok(chunk) = Chunk::decode(&bytes, &layout, 0) {
                let read: Vec<TokenRecord> = chunk.records().map(|r| r.to_record(&layout)).collect();
                prop_assert_eq!(encode_chunk(&layout, &read), bytes);
            }
        }
    }
}
