//! The join: requester tokens against each department's, without the database.
//!
//! The requester's registry (tens of thousands of rows) is indexed in memory; department
//! submissions (up to millions of rows) stream past it one chunk at a time, so memory is
//! bounded by the registry, not by the departments.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use bidui_core::api::Attribute;
use bidui_core::wire::{Chunk, ABSENT};
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

/// One requester row as the join needs it.
#[derive(Clone, Debug)]
struct RegistryRow {
    row: u32,
    attrs: Vec<Token>,
}

/// The requester's registry, indexed by identity and quasi-identifier token.
pub struct RegistryIndex {
    attributes: Vec<Attribute>,
    rows: Vec<RegistryRow>,
    by_id: TokenMap<Vec<u32>>,
    by_qid: TokenMap<Vec<u32>>,
    /// Requester rows whose identity number was invalid at the agent (no identity token).
    pub invalid_id_rows: RoaringBitmap,
    pub all_rows: RoaringBitmap,
}

impl RegistryIndex {
    pub fn new(attributes: Vec<Attribute>) -> RegistryIndex {
        RegistryIndex {
            attributes,
            rows: Vec::new(),
            by_id: TokenMap::default(),
            by_qid: TokenMap::default(),
            invalid_id_rows: RoaringBitmap::new(),
            all_rows: RoaringBitmap::new(),
        }
    }

    pub fn add_chunk(&mut self, chunk: &Chunk<'_>) {
        for record in chunk.records() {
            let row = record.row();
            let index = self.rows.len() as u32;
            self.all_rows.insert(row);
            let attrs = (0..self.attributes.len()).map(|i| record.attr(i)).collect();
            self.rows.push(RegistryRow { row, attrs });
            if record.id() == ABSENT {
                self.invalid_id_rows.insert(row);
            } else {
                self.by_id.entry(record.id()).or_default().push(index);
            }
            if record.qid() != ABSENT {
                self.by_qid.entry(record.qid()).or_default().push(index);
            }
        }
    }

    /// Groups of requester rows that carry the same identity token: the same person
    /// registered more than once (maybe in two towns).
    pub fn duplicate_groups(&self) -> Vec<Vec<u32>> {
        let mut groups: Vec<Vec<u32>> = self
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
    /// The department's own rows that matched a requester row by identity: the rows it
    /// will be asked to release fields for.
    pub matched_rows: RoaringBitmap,
    pub links: Vec<Link>,
    pub records: u64,
}

/// Streams one department's chunks past the registry index.
pub struct DepartmentJoin<'a> {
    index: &'a RegistryIndex,
    /// For each department attribute: its position in the requester's attribute list.
    positions: Vec<(Attribute, usize)>,
    pub result: DepartmentMatch,
}

impl<'a> DepartmentJoin<'a> {
    /// `attributes` are the department's wire attributes; each is among the requester's.
    pub fn new(index: &'a RegistryIndex, attributes: &[Attribute]) -> DepartmentJoin<'a> {
        let positions = attributes
            .iter()
            .map(|a| {
                (
                    *a,
                    index.attributes.iter().position(|r| r == a).expect("the requester sends every compared attribute"),
                )
            })
            .collect();
        DepartmentJoin { index, positions, result: DepartmentMatch::default() }
    }

    pub fn add_chunk(&mut self, chunk: &Chunk<'_>) {
        for record in chunk.records() {
            self.result.records += 1;
            let id = record.id();
            let mut linked_by_id: &[u32] = &[];
            if id != ABSENT {
                if let Some(rows) = self.index.by_id.get(&id) {
                    linked_by_id = rows;
                    self.result.matched_rows.insert(record.row());
                    for &i in rows {
                        let registry = &self.index.rows[i as usize];
                        self.result.coverage.insert(registry.row);
                        let attributes = self
                            .positions
                            .iter()
                            .enumerate()
                            .map(|(k, (attr, at))| {
                                let ours = record.attr(k);
                                let theirs = registry.attrs[*at];
                                let agree = (ours != ABSENT && theirs != ABSENT).then_some(ours == theirs);
                                (*attr, agree)
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
            let qid = record.qid();
            if qid == ABSENT {
                continue;
            }
            if let Some(rows) = self.index.by_qid.get(&qid) {
                for &i in rows.iter().filter(|i| !linked_by_id.contains(i)) {
                    self.result.links.push(Link {
                        requester_row: self.index.rows[i as usize].row,
                        department_row: record.row(),
                        kind: LinkKind::QuasiIdentifier,
                        attributes: BTreeMap::new(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::wire::{encode_chunk, TokenRecord};

    fn t(n: u8) -> Token {
        Token([n; 16])
    }

    fn rec(row: u32, id: Token, qid: Token, attrs: Vec<Token>) -> TokenRecord {
        TokenRecord { row, id, qid, attrs }
    }

    #[test]
    fn joins_by_identity_compares_attributes_and_finds_probable_matches() {
        use Attribute::*;
        let registry = encode_chunk(
            2,
            &[
                rec(1, t(1), t(101), vec![t(11), t(21)]),
                rec(2, t(2), t(102), vec![t(12), ABSENT]),
                rec(3, t(1), t(103), vec![t(13), t(23)]),
                rec(4, ABSENT, t(104), vec![t(14), t(24)]),
                rec(5, t(5), t(105), vec![t(15), t(25)]),
            ],
        );
        let mut index = RegistryIndex::new(vec![Name, Sex]);
        index.add_chunk(&Chunk::decode(&registry, 2, 0).unwrap());
        assert_eq!(index.duplicate_groups(), vec![vec![1, 3]]);
        assert_eq!(index.invalid_id_rows.iter().collect::<Vec<_>>(), vec![4]);

        let department = encode_chunk(
            1,
            &[
                rec(10, t(1), t(101), vec![t(21)]),
                rec(11, t(2), ABSENT, vec![t(99)]),
                rec(12, t(77), t(104), vec![t(24)]),
                rec(13, t(78), ABSENT, vec![t(25)]),
            ],
        );
        let mut join = DepartmentJoin::new(&index, &[Sex]);
        join.add_chunk(&Chunk::decode(&department, 1, 0).unwrap());
        let result = join.result;
        assert_eq!(result.coverage.iter().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(result.matched_rows.iter().collect::<Vec<_>>(), vec![10, 11]);
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
        assert_eq!(result.records, 4);
    }
}
