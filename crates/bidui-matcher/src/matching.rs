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

/// One requester row as the join needs it: its attribute tokens, per department group.
#[derive(Clone, Debug)]
struct RegistryRow {
    row: u32,
    attrs: Vec<Vec<Token>>,
}

/// The requester's tokens of one department's pair domain, by identity and
/// quasi-identifier token (rows are indexes into [`RegistryIndex::rows`]).
#[derive(Default)]
struct GroupIndex {
    by_id: TokenMap<Vec<u32>>,
    by_qid: TokenMap<Vec<u32>>,
}

/// The requester's registry, indexed per department: group `g` of every record holds the
/// tokens made with department `g`'s pair keys (spec order), so department `g` can be
/// joined with group `g` only.
pub struct RegistryIndex {
    rows: Vec<RegistryRow>,
    groups: Vec<GroupIndex>,
    /// Requester rows whose identity number was invalid at the agent (no identity token).
    pub invalid_id_rows: RoaringBitmap,
    pub all_rows: RoaringBitmap,
}

impl RegistryIndex {
    /// An empty index for a requester sending `groups` token groups (one per department).
    pub fn new(groups: usize) -> RegistryIndex {
        RegistryIndex {
            rows: Vec::new(),
            groups: (0..groups).map(|_| GroupIndex::default()).collect(),
            invalid_id_rows: RoaringBitmap::new(),
            all_rows: RoaringBitmap::new(),
        }
    }

    /// Adds a chunk decoded with the requester's layout.
    pub fn add_chunk(&mut self, chunk: &Chunk<'_>, layout: &Layout) {
        for record in chunk.records() {
            let row = record.row();
            let index = self.rows.len() as u32;
            self.all_rows.insert(row);
            let attrs = layout.groups.iter().enumerate().map(|(g, &n)| (0..n).map(|k| record.attr(g, k)).collect());
            self.rows.push(RegistryRow { row, attrs: attrs.collect() });
            // The chunk format guarantees an identity token in every group or in none.
            if record.id(0) == ABSENT {
                self.invalid_id_rows.insert(row);
            }
            for (g, group) in self.groups.iter_mut().enumerate() {
                if record.id(g) != ABSENT {
                    group.by_id.entry(record.id(g)).or_default().push(index);
                }
                if record.qid(g) != ABSENT {
                    group.by_qid.entry(record.qid(g)).or_default().push(index);
                }
            }
        }
    }

    /// Groups of requester rows that carry the same identity token: the same person
    /// registered more than once (maybe in two towns). Every group partitions the rows
    /// alike (one identity number, one token per pair domain), so the first one decides.
    pub fn duplicate_groups(&self) -> Vec<Vec<u32>> {
        let Some(first) = self.groups.first() else { return Vec::new() };
        let mut groups: Vec<Vec<u32>> = first
            .by_id
            .values()
            .filter(|rows| rows.len() > 1)
            .map(|rows| rows.iter().map(|&i| self.rows[i as usize].row).collect())
            .collect();
        groups.iter_mut().for_each(|g| g.sort_unstable());
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
        let group = &self.index.groups[self.group];
        for record in chunk.records() {
            self.result.records += 1;
            let id = record.id(0);
            let mut linked_by_id: &[u32] = &[];
            if id != ABSENT {
                if let Some(rows) = group.by_id.get(&id) {
                    linked_by_id = rows;
                    if !record.sealed_id().is_empty() {
                        self.result.sealed_by_id.insert(record.row(), record.sealed_id().to_vec());
                    }
                    for &i in rows {
                        let registry = &self.index.rows[i as usize];
                        self.result.coverage.insert(registry.row);
                        let theirs = &registry.attrs[self.group];
                        let attributes = self
                            .attributes
                            .iter()
                            .enumerate()
                            .map(|(k, attr)| {
                                let (ours, theirs) = (record.attr(0, k), theirs[k]);
                                (*attr, (ours != ABSENT && theirs != ABSENT).then_some(ours == theirs))
                            })
                            .collect();
                        self.result.links.push(Link {
                            requester_row: registry.row,
                            department_row: record.row(),
                            kind: LinkKind::Identity,
                            attributes,
                        });
                    }
                }
            }
            let qid = record.qid(0);
            if qid == ABSENT {
                continue;
            }
            if let Some(rows) = group.by_qid.get(&qid) {
                let mut linked = false;
                for &i in rows.iter().filter(|i| !linked_by_id.contains(i)) {
                    linked = true;
                    self.result.links.push(Link {
                        requester_row: self.index.rows[i as usize].row,
                        department_row: record.row(),
                        kind: LinkKind::QuasiIdentifier,
                        attributes: BTreeMap::new(),
                    });
                }
                if linked && !record.sealed_qid().is_empty() {
                    self.result.sealed_by_qid.insert(record.row(), record.sealed_qid().to_vec());
                }
            }
        }
    }
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
}
