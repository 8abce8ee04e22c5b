//! The join: requester tokens against each department's, without the database.
//!
//! Every department shares a token domain with the requester only (its pair keys): the
//! requester's records carry one token group per department, and department `g` is joined
//! with group `g` alone. Two departments' tokens are never compared: they could not match.
//!
//! The requester's registry (tens of thousands of rows) is indexed in memory; department
//! submissions (up to millions of rows) stream past it one chunk at a time, so memory is
//! bounded by the registry, not by the departments.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use bidui_core::api::Attribute;
use bidui_core::wire::{Chunk, Layout, ABSENT};
use bidui_core::Token;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

/// Tokens are uniformly random already: hashing their first 8 bytes is enough, and much
/// cheaper than SipHash in the join's inner loop.
#[derive(Default)]
pub struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

pub type TokenMap<V> = HashMap<Token, V, BuildHasherDefault<TokenHasher>>;

/// No further row: the end of a chain in [`Chains`].
const END: u32 = u32::MAX;

/// The registry rows (indexes into [`RegistryIndex::rows`]) that carry each token of one
/// kind in one pair domain: a map to the first and last row of a chain, and one link per
/// row to the next row with the same token. Nearly every token is one person's, so this
/// keeps a row at one map entry and four bytes, without a list of its own.
#[derive(Default)]
struct Chains {
    ends: TokenMap<(u32, u32)>,
    next: Vec<u32>,
}

impl Chains {
    fn with_capacity(rows: usize) -> Chains {
        Chains { ends: TokenMap::with_capacity_and_hasher(rows, Default::default()), next: Vec::with_capacity(rows) }
    }

    /// Adds row `index` (every row is pushed, in order, with or without a token).
    fn push(&mut self, token: Token, index: u32) {
        self.next.push(END);
        if token == ABSENT {
            return;
        }
        match self.ends.get_mut(&token) {
            Some((_, last)) => {
                self.next[*last as usize] = index;
                *last = index;
            }
            None => {
                self.ends.insert(token, (index, index));
            }
        }
    }

    /// The rows carrying `token`, in the order they were added.
    #[inline]
    fn rows(&self, token: &Token) -> impl Iterator<Item = u32> + '_ {
        let first = self.ends.get(token).map_or(END, |&(first, _)| first);
        std::iter::successors((first != END).then_some(first), move |&i| {
            let next = self.next[i as usize];
            (next != END).then_some(next)
        })
    }
}

/// The requester's tokens of one department's pair domain, by identity and
/// quasi-identifier token.
#[derive(Default)]
struct GroupIndex {
    by_id: Chains,
    by_qid: Chains,
}

/// The requester's registry, indexed per department: group `g` of every record holds the
/// tokens made with department `g`'s pair keys (spec order), so department `g` can be
/// joined with group `g` only. Per row and department group it holds the attribute tokens
/// (16 bytes each) and about 60 bytes of maps; `bidui bench province` prints the total.
pub struct RegistryIndex {
    /// The requester's row number of each indexed row.
    rows: Vec<u32>,
    /// Every row's attribute tokens, group after group, `attributes_per_row` a row.
    attributes: Vec<Token>,
    /// Where group `g`'s attribute tokens start within a row's.
    attribute_starts: Vec<usize>,
    attributes_per_row: usize,
    groups: Vec<GroupIndex>,
    /// Requester rows whose identity number was invalid at the agent (no identity token).
    pub invalid_id_rows: RoaringBitmap,
    pub all_rows: RoaringBitmap,
}

impl RegistryIndex {
    /// An empty index for a requester sending `groups` token groups (one per department).
    pub fn new(groups: usize) -> RegistryIndex {
        RegistryIndex::with_capacity(groups, 0)
    }

    /// An empty index with room for `rows` rows, so its maps are built at their final size.
    pub fn with_capacity(groups: usize, rows: usize) -> RegistryIndex {
        RegistryIndex {
            rows: Vec::with_capacity(rows),
            attributes: Vec::new(),
            attribute_starts: Vec::new(),
            attributes_per_row: 0,
            groups: (0..groups)
                .map(|_| GroupIndex { by_id: Chains::with_capacity(rows), by_qid: Chains::with_capacity(rows) })
                .collect(),
            invalid_id_rows: RoaringBitmap::new(),
            all_rows: RoaringBitmap::new(),
        }
    }

    /// Adds a chunk decoded with the requester's layout.
    pub fn add_chunk(&mut self, chunk: &Chunk<'_>, layout: &Layout) {
        if self.rows.is_empty() {
            self.attribute_starts =
                layout.groups.iter().scan(0, |at, &n| Some(std::mem::replace(at, *at + n))).collect();
            self.attributes_per_row = layout.groups.iter().sum();
            self.attributes.reserve(self.rows.capacity() * self.attributes_per_row);
        }
        for record in chunk.records() {
            let row = record.row();
            let index = self.rows.len() as u32;
            self.all_rows.insert(row);
            self.rows.push(row);
            for (g, &n) in layout.groups.iter().enumerate() {
                self.attributes.extend((0..n).map(|k| record.attr(g, k)));
            }
            // The chunk format guarantees an identity token in every group or in none.
            if record.id(0) == ABSENT {
                self.invalid_id_rows.insert(row);
            }
            for (g, group) in self.groups.iter_mut().enumerate() {
                group.by_id.push(record.id(g), index);
                group.by_qid.push(record.qid(g), index);
            }
        }
    }

    /// Row `index`'s attribute tokens of group `g`.
    #[inline]
    fn attributes_of(&self, index: u32, g: usize) -> &[Token] {
        let start = index as usize * self.attributes_per_row + self.attribute_starts[g];
        let end = start + self.attributes_per_row_of(g);
        &self.attributes[start..end]
    }

    fn attributes_per_row_of(&self, g: usize) -> usize {
        self.attribute_starts.get(g + 1).copied().unwrap_or(self.attributes_per_row) - self.attribute_starts[g]
    }

    /// Groups of requester rows that carry the same identity token: the same person
    /// registered more than once (maybe in two towns). Every group partitions the rows
    /// alike (one identity number, one token per pair domain), so the first one decides.
    pub fn duplicate_groups(&self) -> Vec<Vec<u32>> {
        let Some(first) = self.groups.first() else { return Vec::new() };
        let mut groups: Vec<Vec<u32>> = first
            .by_id
            .ends
            .iter()
            .filter(|(_, (head, last))| head != last)
            .map(|(token, _)| first.by_id.rows(token).map(|i| self.rows[i as usize]).collect())
            .collect();
        groups.iter_mut().for_each(|g: &mut Vec<u32>| g.sort_unstable());
        groups.sort();
        groups
    }
}

/// How a requester row and a department row were linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Same identity token: the same identity number.
    Identity,
    /// Same name, birth date and sex only: a probable match that needs verification.
    QuasiIdentifier,
}

/// One linked pair, with the attribute comparison for identity links.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub requester_row: u32,
    pub department_row: u32,
    pub kind: LinkKind,
    /// Per attribute compared with this department: did the tokens agree? `None` when
    /// either side lacked the value.
    pub attributes: BTreeMap<Attribute, Option<bool>>,
}

/// What the join of one department found.
#[derive(Debug, Default)]
pub struct DepartmentMatch {
    /// Requester rows found in the department by identity.
    pub coverage: RoaringBitmap,
    pub links: Vec<Link>,
    pub records: u64,
    /// The values sealed under the identity, of department rows linked by identity only.
    pub sealed_by_id: HashMap<u32, Vec<u8>>,
    /// The values sealed under the quasi-identifier, of department rows linked by it only.
    pub sealed_by_qid: HashMap<u32, Vec<u8>>,
}

/// What the join found in one chunk of a department: its links, and the sealed values of
/// its rows that were linked. Kept in place of the chunk's tokens when the chunk is joined
/// on arrival (see [`encode_chunk_match`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkMatch {
    pub links: Vec<Link>,
    pub sealed_by_id: Vec<(u32, Vec<u8>)>,
    pub sealed_by_qid: Vec<(u32, Vec<u8>)>,
}

impl DepartmentMatch {
    /// Adds what the join found in one chunk of `records` records.
    pub fn absorb(&mut self, found: ChunkMatch, records: u64) {
        self.records += records;
        for link in &found.links {
            if link.kind == LinkKind::Identity {
                self.coverage.insert(link.requester_row);
            }
        }
        self.links.extend(found.links);
        self.sealed_by_id.extend(found.sealed_by_id);
        self.sealed_by_qid.extend(found.sealed_by_qid);
    }
}

/// Streams one department's chunks past its group of the registry index.
pub struct DepartmentJoin<'a> {
    index: &'a RegistryIndex,
    group: usize,
    /// The attributes compared with this department: the department's attribute tokens and
    /// the requester's group both follow this order.
    attributes: Vec<Attribute>,
    pub result: DepartmentMatch,
}

impl<'a> DepartmentJoin<'a> {
    /// Joins the department whose pair domain is the requester's group `group`, comparing
    /// `attributes` (the department's wire attributes, in order).
    pub fn new(index: &'a RegistryIndex, group: usize, attributes: Vec<Attribute>) -> DepartmentJoin<'a> {
        DepartmentJoin { index, group, attributes, result: DepartmentMatch::default() }
    }

    /// Adds a chunk decoded with the department's layout (one group).
    pub fn add_chunk(&mut self, chunk: &Chunk<'_>) {
        let found = self.join_chunk(chunk);
        self.result.absorb(found, chunk.len() as u64);
    }

    /// Joins one chunk decoded with the department's layout (one group), without adding it
    /// to [`DepartmentJoin::result`].
    pub fn join_chunk(&self, chunk: &Chunk<'_>) -> ChunkMatch {
        let index = self.index;
        let group = &index.groups[self.group];
        let mut found = ChunkMatch::default();
        let mut linked_by_id: Vec<u32> = Vec::new();
        for record in chunk.records() {
            linked_by_id.clear();
            let id = record.id(0);
            if id != ABSENT {
                for i in group.by_id.rows(&id) {
                    if linked_by_id.is_empty() && !record.sealed_id().is_empty() {
                        found.sealed_by_id.push((record.row(), record.sealed_id().to_vec()));
                    }
                    linked_by_id.push(i);
                    let theirs = index.attributes_of(i, self.group);
                    let attributes = self
                        .attributes
                        .iter()
                        .enumerate()
                        .map(|(k, attr)| {
                            let (ours, theirs) = (record.attr(0, k), theirs[k]);
                            (*attr, (ours != ABSENT && theirs != ABSENT).then_some(ours == theirs))
                        })
                        .collect();
                    found.links.push(Link {
                        requester_row: index.rows[i as usize],
                        department_row: record.row(),
                        kind: LinkKind::Identity,
                        attributes,
                    });
                }
            }
            let qid = record.qid(0);
            if qid == ABSENT {
                continue;
            }
            let mut linked = false;
            for i in group.by_qid.rows(&qid).filter(|i| !linked_by_id.contains(i)) {
                linked = true;
                found.links.push(Link {
                    requester_row: index.rows[i as usize],
                    department_row: record.row(),
                    kind: LinkKind::QuasiIdentifier,
                    attributes: BTreeMap::new(),
                });
            }
            if linked && !record.sealed_qid().is_empty() {
                found.sealed_by_qid.push((record.row(), record.sealed_qid().to_vec()));
            }
        }
        found
    }
}

/// First bytes of a stored chunk match: format and version.
const CHUNK_MATCH_MAGIC: [u8; 4] = *b"BDJ1";

/// A stored chunk match that cannot be read back: the database was changed under the
/// matcher, or written by another version. Its job cannot be joined.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a stored chunk match is damaged ({0}); the job cannot be joined from it")]
pub struct ChunkMatchError(&'static str);

/// The stored form of a chunk match, for a department compared on `attributes` (the same
/// list decodes it): the magic, then the links (`u32` count; per link the requester row,
/// the department row, the kind, and per attribute `0` unknown, `1` differs, `2` agrees),
/// then the sealed values by identity and by quasi-identifier (`u32` count; per value its
/// row, `u16` length and bytes). Integers little-endian.
pub fn encode_chunk_match(found: &ChunkMatch, attributes: &[Attribute]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + found.links.len() * (9 + attributes.len()));
    out.extend_from_slice(&CHUNK_MATCH_MAGIC);
    out.extend_from_slice(&(found.links.len() as u32).to_le_bytes());
    for link in &found.links {
        out.extend_from_slice(&link.requester_row.to_le_bytes());
        out.extend_from_slice(&link.department_row.to_le_bytes());
        match link.kind {
            LinkKind::Identity => {
                out.push(0);
                for attribute in attributes {
                    out.push(match link.attributes.get(attribute) {
                        Some(Some(true)) => 2,
                        Some(Some(false)) => 1,
                        _ => 0,
                    });
                }
            }
            LinkKind::QuasiIdentifier => out.push(1),
        }
    }
    for sealed in [&found.sealed_by_id, &found.sealed_by_qid] {
        out.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        for (row, blob) in sealed {
            out.extend_from_slice(&row.to_le_bytes());
            out.extend_from_slice(&(blob.len() as u16).to_le_bytes());
            out.extend_from_slice(blob);
        }
    }
    out
}

/// Reads back what [`encode_chunk_match`] wrote for the same `attributes`.
pub fn decode_chunk_match(bytes: &[u8], attributes: &[Attribute]) -> Result<ChunkMatch, ChunkMatchError> {
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], ChunkMatchError> {
            if self.0.len() < n {
                return Err(ChunkMatchError("truncated"));
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn u32(&mut self) -> Result<u32, ChunkMatchError> {
            Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
        }
        fn u16(&mut self) -> Result<u16, ChunkMatchError> {
            Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
        }
        fn u8(&mut self) -> Result<u8, ChunkMatchError> {
            Ok(self.take(1)?[0])
        }
    }
    let mut reader = Reader(bytes);
    if reader.take(4)? != CHUNK_MATCH_MAGIC {
        return Err(ChunkMatchError("wrong magic"));
    }
    let mut found = ChunkMatch::default();
    // Counts are not trusted for allocation: every entry takes at least 5 bytes.
    let links = reader.u32()? as usize;
    found.links.reserve(links.min(reader.0.len() / 9));
    for _ in 0..links {
        let (requester_row, department_row) = (reader.u32()?, reader.u32()?);
        let (kind, attributes) = match reader.u8()? {
            0 => {
                let mut compared = BTreeMap::new();
                for attribute in attributes {
                    let agreed = match reader.u8()? {
                        0 => None,
                        1 => Some(false),
                        2 => Some(true),
                        _ => return Err(ChunkMatchError("unknown attribute comparison")),
                    };
                    compared.insert(*attribute, agreed);
                }
                (LinkKind::Identity, compared)
            }
            1 => (LinkKind::QuasiIdentifier, BTreeMap::new()),
            _ => return Err(ChunkMatchError("unknown link kind")),
        };
        found.links.push(Link { requester_row, department_row, kind, attributes });
    }
    for sealed in [&mut found.sealed_by_id, &mut found.sealed_by_qid] {
        let count = reader.u32()? as usize;
        sealed.reserve(count.min(reader.0.len() / 6));
        for _ in 0..count {
            let row = reader.u32()?;
            let len = usize::from(reader.u16()?);
            sealed.push((row, reader.take(len)?.to_vec()));
        }
    }
    if !reader.0.is_empty() {
        return Err(ChunkMatchError("bytes after the end"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::wire::{encode_chunk, TokenGroup, TokenRecord};

    fn t(n: u8) -> Token {
        Token([n; 16])
    }

    fn group(id: Token, qid: Token, attrs: Vec<Token>) -> TokenGroup {
        TokenGroup { id, qid, attrs }
    }

    /// A sealed blob of a valid length (nonce, one pad block, tag), marked with `n`.
    fn blob(n: u8) -> Vec<u8> {
        vec![n; 12 + 64 + 16]
    }

    #[test]
    fn joins_each_department_with_its_own_group_compares_attributes_and_keeps_linked_blobs_only() {
        use Attribute::*;
        // Group 0 is the household's pair domain (sex compared), group 1 the pension's (none).
        let layout = Layout { groups: vec![1, 0], sealed: false };
        let registry_record = |row, id0, qid0, sex, id1| TokenRecord {
            row,
            groups: vec![group(id0, qid0, vec![sex]), group(id1, if qid0 == ABSENT { ABSENT } else { t(150) }, vec![])],
            sealed: None,
        };
        let registry = encode_chunk(
            &layout,
            &[
                registry_record(1, t(1), t(101), t(21), t(51)),
                registry_record(2, t(2), t(102), ABSENT, t(52)),
                registry_record(3, t(1), t(103), t(23), t(51)),
                registry_record(4, ABSENT, t(104), t(24), ABSENT),
                registry_record(5, t(5), t(105), t(25), t(55)),
            ],
        );
        let mut index = RegistryIndex::new(2);
        index.add_chunk(&Chunk::decode(&registry, &layout, 0).unwrap(), &layout);
        assert_eq!(index.duplicate_groups(), vec![vec![1, 3]]);
        assert_eq!(index.invalid_id_rows.iter().collect::<Vec<_>>(), vec![4]);

        let household = Layout { groups: vec![1], sealed: true };
        let record = |row, id: Token, qid: Token, sex, seal: u8| TokenRecord {
            row,
            groups: vec![group(id, qid, vec![sex])],
            sealed: Some((
                if id == ABSENT { vec![] } else { blob(seal) },
                if qid == ABSENT { vec![] } else { blob(seal + 100) },
            )),
        };
        let department = encode_chunk(
            &household,
            &[
                record(10, t(1), t(101), t(21), 10),
                record(11, t(2), ABSENT, t(99), 11),
                record(12, t(77), t(104), t(24), 12),
                record(13, t(78), ABSENT, t(25), 13),
                // The pension's identity token of registry row 1: another pair domain, no match.
                record(14, t(51), t(150), t(21), 14),
            ],
        );
        let mut join = DepartmentJoin::new(&index, 0, vec![Sex]);
        join.add_chunk(&Chunk::decode(&department, &household, 0).unwrap());
        let result = join.result;
        assert_eq!(result.coverage.iter().collect::<Vec<_>>(), vec![1, 2, 3]);
        let summary: Vec<_> = result
            .links
            .iter()
            .map(|l| (l.requester_row, l.department_row, l.kind, l.attributes.get(&Sex).copied().flatten()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, 10, LinkKind::Identity, Some(true)),
                (3, 10, LinkKind::Identity, Some(false)),
                (2, 11, LinkKind::Identity, None),
                (4, 12, LinkKind::QuasiIdentifier, None),
            ]
        );
        assert_eq!(result.records, 5);
        let mut by_id: Vec<_> = result.sealed_by_id.iter().map(|(row, b)| (*row, b[0])).collect();
        by_id.sort();
        assert_eq!(by_id, vec![(10, 10), (11, 11)], "the identity blobs of identity-linked rows only");
        let by_qid: Vec<_> = result.sealed_by_qid.iter().map(|(row, b)| (*row, b[0])).collect();
        assert_eq!(by_qid, vec![(12, 112)], "the quasi-identifier blobs of probable links only");
    }

    #[test]
    fn a_chunk_match_reads_back_as_written_and_a_damaged_one_is_refused() {
        use Attribute::*;
        let attributes = [Name, Sex, BirthDate];
        let compared = |values: [Option<bool>; 3]| attributes.iter().copied().zip(values).collect();
        let found = ChunkMatch {
            links: vec![
                Link {
                    requester_row: 7,
                    department_row: 70_000,
                    kind: LinkKind::Identity,
                    attributes: compared([Some(true), None, Some(false)]),
                },
                Link {
                    requester_row: 7,
                    department_row: 70_001,
                    kind: LinkKind::QuasiIdentifier,
                    attributes: BTreeMap::new(),
                },
            ],
            sealed_by_id: vec![(70_000, blob(1))],
            sealed_by_qid: vec![(70_001, blob(2)), (70_002, Vec::new())],
        };
        let bytes = encode_chunk_match(&found, &attributes);
        assert_eq!(decode_chunk_match(&bytes, &attributes), Ok(found.clone()));
        assert_eq!(
            decode_chunk_match(&encode_chunk_match(&ChunkMatch::default(), &[]), &[]),
            Ok(ChunkMatch::default())
        );
        for cut in 0..bytes.len() {
            assert!(decode_chunk_match(&bytes[..cut], &attributes).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_chunk_match(&longer, &attributes), Err(ChunkMatchError("bytes after the end")));
        // Whatever the damage: an error or a match that is the exact encoding of itself,
        // never a panic or a huge allocation.
        let mut rng = fastrand::Rng::with_seed(0xb1d0_0010);
        for _ in 0..5_000 {
            let mut damaged = bytes.clone();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..damaged.len());
                damaged[at] = rng.u8(..);
            }
            if let Ok(read) = decode_chunk_match(&damaged, &attributes) {
                assert_eq!(encode_chunk_match(&read, &attributes), damaged);
            }
        }
    }
}
