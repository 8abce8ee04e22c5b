//! Wire formats shared by agents and the matcher (`protocol-docs/wire-v1.md`).
//!
//! - token chunks: the compact framed binary in which a party uploads its tokens;
//! - request signatures: what an agent signs so the matcher can refuse forged, replayed
//!   and stale requests.

use crate::token::Token;

/// First bytes of every token chunk: format and version.
pub const CHUNK_MAGIC: [u8; 4] = *b"BDT1";
/// Magic, attribute count, three reserved zero bytes, record count.
pub const CHUNK_HEADER_LEN: usize = 12;
/// Most attribute tokens one record may carry.
pub const MAX_ATTRIBUTES: usize = 16;
/// Most records in one chunk; keeps a chunk well under the matcher's body limit.
pub const MAX_CHUNK_RECORDS: usize = 65_536;

/// An absent token (a row with an invalid identity number has no identity token; a row
/// with a missing attribute has no attribute token). A real token is all-zero with
/// probability 2^-128.
pub const ABSENT: Token = Token([0; 16]);

/// One row's tokens as carried in a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// The party's own 1-based data-row number: its opaque record reference.
    pub row: u32,
    /// Identity token, or [`ABSENT`] when the row's identity number is invalid.
    pub id: Token,
    /// Quasi-identifier token (name, birth date, sex), or [`ABSENT`].
    pub qid: Token,
    /// Attribute tokens in the order the job lists the attributes; [`ABSENT`] where missing.
    pub attrs: Vec<Token>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("token chunk is shorter than its {CHUNK_HEADER_LEN}-byte header")]
    TooShort,
    #[error("token chunk does not start with the BDT1 magic: not a bidui v1 chunk")]
    BadMagic,
    #[error("token chunk reserved bytes are not zero")]
    Reserved,
    #[error("token chunk declares {0} attributes; at most {MAX_ATTRIBUTES} are allowed")]
    TooManyAttributes(usize),
    #[error("token chunk declares {0} attributes but the job compares {1}")]
    AttributeCount(usize, usize),
    #[error("token chunk declares {0} records; at most {MAX_CHUNK_RECORDS} are allowed")]
    TooManyRecords(usize),
    #[error("token chunk is empty")]
    Empty,
    #[error("token chunk length {actual} does not match its header ({expected} bytes): truncated or padded")]
    Length { expected: usize, actual: usize },
    #[error("token chunk rows must be strictly increasing and start at 1 (row {row} after {previous})")]
    RowOrder { previous: u32, row: u32 },
    #[error("token chunk row {0} carries neither an identity nor a quasi-identifier token")]
    NoToken(u32),
}

/// Bytes of one record in a chunk with `attr_count` attribute tokens.
pub fn record_len(attr_count: usize) -> usize {
    4 + 16 + 16 + 16 * attr_count
}

/// Encodes records into one chunk. Callers keep rows increasing and `attrs` of equal length.
pub fn encode_chunk(attr_count: usize, records: &[TokenRecord]) -> Vec<u8> {
    let mut chunk = ChunkBuilder::new(attr_count);
    for record in records {
        assert_eq!(record.attrs.len(), attr_count, "every record carries one token per attribute");
        encode_record(record.row, record.id, record.qid, &record.attrs, &mut chunk.bytes);
        chunk.records += 1;
    }
    chunk.finish()
}

/// Appends one record in the chunk layout: row (u32 LE), identity, quasi-identifier and
/// attribute tokens. Agents encode on their tokenizing threads, so a row's tokens cross to
/// the uploading thread as bytes, not as a heap allocation per record.
pub fn encode_record(row: u32, id: Token, qid: Token, attrs: &[Token], out: &mut Vec<u8>) {
    out.extend_from_slice(&row.to_le_bytes());
    out.extend_from_slice(&id.0);
    out.extend_from_slice(&qid.0);
    attrs.iter().for_each(|t| out.extend_from_slice(&t.0));
}

/// A chunk built record by record.
pub struct ChunkBuilder {
    bytes: Vec<u8>,
    records: usize,
}

impl ChunkBuilder {
    pub fn new(attr_count: usize) -> ChunkBuilder {
        assert!(attr_count <= MAX_ATTRIBUTES);
        let mut bytes = Vec::with_capacity(CHUNK_HEADER_LEN + 16_384 * record_len(attr_count));
        bytes.extend_from_slice(&CHUNK_MAGIC);
        bytes.push(attr_count as u8);
        bytes.extend_from_slice(&[0; 3 + 4]); // reserved, then the record count
        ChunkBuilder { bytes, records: 0 }
    }

    /// Appends one record made by [`encode_record`] with this chunk's attribute count.
    pub fn push_encoded(&mut self, record: &[u8]) {
        assert_eq!(record.len(), record_len(usize::from(self.bytes[4])), "one whole record");
        assert!(self.records < MAX_CHUNK_RECORDS);
        self.bytes.extend_from_slice(record);
        self.records += 1;
    }

    /// Records in the chunk so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// The chunk, its header naming its record count.
    pub fn finish(mut self) -> Vec<u8> {
        let count = (self.records as u32).to_le_bytes();
        self.bytes[8..CHUNK_HEADER_LEN].copy_from_slice(&count);
        let attr_count = usize::from(self.bytes[4]);
        assert_eq!(self.bytes.len(), CHUNK_HEADER_LEN + self.records * record_len(attr_count), "whole records");
        self.bytes
    }
}

/// A validated chunk: records are read in place, without copying.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    attr_count: usize,
    body: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// Checks every rule of the format. `expected_attrs` is the number of attributes the
    /// job compares; `after_row` is the last row of the previous chunk (0 for the first).
    pub fn decode(bytes: &'a [u8], expected_attrs: usize, after_row: u32) -> Result<Chunk<'a>, ChunkError> {
        if bytes.len() < CHUNK_HEADER_LEN {
            return Err(ChunkError::TooShort);
        }
        if bytes[..4] != CHUNK_MAGIC {
            return Err(ChunkError::BadMagic);
        }
        if bytes[5..8] != [0, 0, 0] {
            return Err(ChunkError::Reserved);
        }
        let attr_count = usize::from(bytes[4]);
        if attr_count > MAX_ATTRIBUTES {
            return Err(ChunkError::TooManyAttributes(attr_count));
        }
        if attr_count != expected_attrs {
            return Err(ChunkError::AttributeCount(attr_count, expected_attrs));
        }
        let count = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        if count > MAX_CHUNK_RECORDS {
            return Err(ChunkError::TooManyRecords(count));
        }
        if count == 0 {
            return Err(ChunkError::Empty);
        }
        let expected = CHUNK_HEADER_LEN + count * record_len(attr_count);
        if bytes.len() != expected {
            return Err(ChunkError::Length { expected, actual: bytes.len() });
        }
        let chunk = Chunk { attr_count, body: &bytes[CHUNK_HEADER_LEN..] };
        let mut previous = after_row;
        for record in chunk.records() {
            let row = record.row();
            if row <= previous {
                return Err(ChunkError::RowOrder { previous, row });
            }
            if record.id() == ABSENT && record.qid() == ABSENT {
                return Err(ChunkError::NoToken(row));
            }
            previous = row;
        }
        Ok(chunk)
    }

    pub fn len(&self) -> usize {
        self.body.len() / record_len(self.attr_count)
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    pub fn records(&self) -> impl Iterator<Item = RecordRef<'a>> + 'a {
        let attr_count = self.attr_count;
        self.body.chunks_exact(record_len(attr_count)).map(move |raw| RecordRef { raw })
    }

    /// Row number of the last record (chunks are never empty once decoded).
    pub fn last_row(&self) -> u32 {
        self.records().last().map_or(0, |r| r.row())
    }
}

/// One record inside a decoded chunk.
#[derive(Clone, Copy, Debug)]
pub struct RecordRef<'a> {
    raw: &'a [u8],
}

impl RecordRef<'_> {
    pub fn row(&self) -> u32 {
        u32::from_le_bytes(self.raw[..4].try_into().expect("4 bytes"))
    }
    pub fn id(&self) -> Token {
        Token(self.raw[4..20].try_into().expect("16 bytes"))
    }
    pub fn qid(&self) -> Token {
        Token(self.raw[20..36].try_into().expect("16 bytes"))
    }
    pub fn attr(&self, index: usize) -> Token {
        let at = 36 + 16 * index;
        Token(self.raw[at..at + 16].try_into().expect("16 bytes"))
    }
    pub fn to_record(&self) -> TokenRecord {
        let attrs = (0..(self.raw.len() - 36) / 16).map(|i| self.attr(i)).collect();
        TokenRecord { row: self.row(), id: self.id(), qid: self.qid(), attrs }
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
    use proptest::prelude::*;

    fn token(byte: u8) -> Token {
        Token([byte; 16])
    }

    fn record(row: u32, attrs: usize) -> TokenRecord {
        TokenRecord { row, id: token(row as u8 | 1), qid: ABSENT, attrs: vec![token(7); attrs] }
    }

    #[test]
    fn a_chunk_built_from_encoded_records_is_the_encoded_chunk() {
        let records: Vec<TokenRecord> = (1..=5).map(|row| record(row, 3)).collect();
        let mut chunk = ChunkBuilder::new(3);
        for r in &records {
            let mut bytes = Vec::new();
            encode_record(r.row, r.id, r.qid, &r.attrs, &mut bytes);
            chunk.push_encoded(&bytes);
        }
        assert_eq!(chunk.records(), 5);
        let bytes = chunk.finish();
        assert_eq!(bytes, encode_chunk(3, &records));
        let decoded = Chunk::decode(&bytes, 3, 0).unwrap();
        assert_eq!(decoded.records().map(|r| r.to_record()).collect::<Vec<_>>(), records);
    }

    #[test]
    fn refuses_each_malformed_chunk() {
        let good = encode_chunk(2, &[record(1, 2), record(5, 2)]);
        assert!(Chunk::decode(&good, 2, 0).is_ok());
        let cases: Vec<(Vec<u8>, ChunkError)> = vec![
            (good[..8].to_vec(), ChunkError::TooShort),
            ([b"XXXX", &good[4..]].concat(), ChunkError::BadMagic),
            (good[..good.len() - 1].to_vec(), ChunkError::Length { expected: good.len(), actual: good.len() - 1 }),
            ([&good[..], &[0]].concat(), ChunkError::Length { expected: good.len(), actual: good.len() + 1 }),
            (encode_chunk(2, &[]), ChunkError::Empty),
            (encode_chunk(2, &[record(5, 2), record(5, 2)]), ChunkError::RowOrder { previous: 5, row: 5 }),
            (encode_chunk(2, &[record(0, 2)]), ChunkError::RowOrder { previous: 0, row: 0 }),
            (encode_chunk(1, &[record(1, 1)]), ChunkError::AttributeCount(1, 2)),
            (
                encode_chunk(2, &[TokenRecord { row: 1, id: ABSENT, qid: ABSENT, attrs: vec![ABSENT; 2] }]),
                ChunkError::NoToken(1),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Chunk::decode(&bytes, 2, 0).unwrap_err(), want);
        }
        let mut reserved = good.clone();
        reserved[6] = 1;
        assert_eq!(Chunk::decode(&reserved, 2, 0).unwrap_err(), ChunkError::Reserved);
        assert_eq!(Chunk::decode(&good, 2, 1).unwrap_err(), ChunkError::RowOrder { previous: 1, row: 1 });
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

    fn arb_records() -> impl Strategy<Value = (usize, Vec<TokenRecord>)> {
        (0usize..4).prop_flat_map(|attrs| {
            let rec =
                (1u32..50, any::<[u8; 16]>(), any::<[u8; 16]>(), proptest::collection::vec(any::<[u8; 16]>(), attrs));
            proptest::collection::vec(rec, 1..40).prop_map(move |raw| {
                let mut row = 0;
                let records = raw
                    .into_iter()
                    .map(|(step, id, qid, attrs)| {
                        row += step;
                        let id = if id == [0; 16] { Token([1; 16]) } else { Token(id) };
                        TokenRecord { row, id, qid: Token(qid), attrs: attrs.into_iter().map(Token).collect() }
                    })
                    .collect();
                (attrs, records)
            })
        })
    }

    proptest! {
        #[test]
        fn chunks_round_trip((attrs, records) in arb_records()) {
            let bytes = encode_chunk(attrs, &records);
            let chunk = Chunk::decode(&bytes, attrs, 0).unwrap();
            let back: Vec<TokenRecord> = chunk.records().map(|r| r.to_record()).collect();
            prop_assert_eq!(back, records.clone());
            prop_assert_eq!(chunk.last_row(), records.last().unwrap().row);
        }

        #[test]
        fn any_truncation_is_refused((attrs, records) in arb_records(), cut in 1usize..64) {
            let bytes = encode_chunk(attrs, &records);
            let cut = cut.min(bytes.len());
            prop_assert!(Chunk::decode(&bytes[..bytes.len() - cut], attrs, 0).is_err());
        }
    }
}
