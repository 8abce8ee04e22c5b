//! Rows to token records. The only place where raw identity numbers and names are read;
//! what comes out is tokens, counts and row numbers.

use std::collections::BTreeMap;

use bidui_core::api::Attribute;
use bidui_core::wire::{TokenRecord, ABSENT};
use bidui_core::{name, CivilDate, IdNumber, JobKeys, Sex, Token};

use crate::source::{Row, Source, SourceError};

/// Column positions the tokenizer reads.
#[derive(Clone, Debug)]
pub struct ColumnIndex {
    pub id: usize,
    pub name: Option<usize>,
    pub sex: Option<usize>,
    pub birth_date: Option<usize>,
}

impl ColumnIndex {
    pub fn resolve(source: &Source, columns: &crate::config::Columns) -> Result<ColumnIndex, SourceError> {
        let optional = |header: &Option<String>| header.as_deref().map(|h| source.column(h)).transpose();
        Ok(ColumnIndex {
            id: source.column(&columns.id)?,
            name: optional(&columns.name)?,
            sex: optional(&columns.sex)?,
            birth_date: optional(&columns.birth_date)?,
        })
    }
}

/// Why a row produced no identity token (kept locally, never sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRow {
    pub row: u32,
    pub reason: String,
}

pub struct Tokenizer {
    keys: JobKeys,
    attributes: Vec<Attribute>,
    columns: ColumnIndex,
    today: CivilDate,
}

/// The person-level values of one row, canonicalized.
struct PersonValues {
    id: Option<IdNumber>,
    canonical_name: String,
    sex: Option<Sex>,
    birth: Option<CivilDate>,
}

impl Tokenizer {
    pub fn new(keys: JobKeys, attributes: Vec<Attribute>, columns: ColumnIndex, today: CivilDate) -> Tokenizer {
        Tokenizer { keys, attributes, columns, today }
    }

    /// Tokens for one row. `Err` when the identity number is invalid: the error code is
    /// counted; the record (if any) still carries a quasi-identifier token so the
    /// matcher can propose a probable match.
    pub fn tokenize(&self, row: &Row) -> (Option<TokenRecord>, Option<&'static str>) {
        let raw_id = row.text(self.columns.id);
        let parsed = IdNumber::parse(&raw_id, self.today);
        let raw_name = self.columns.name.map(|c| row.text(c)).unwrap_or_default();
        let values = PersonValues {
            id: parsed.ok(),
            canonical_name: name::canonical(&raw_name),
            sex: self.columns.sex.and_then(|c| Sex::parse(&row.text(c))),
            birth: self.columns.birth_date.and_then(|c| CivilDate::parse(&row.text(c))),
        };
        let error = parsed.err().map(|e| e.code());
        let id = values.id.map_or(ABSENT, |id| self.keys.id_token(&id));
        let qid = self.qid_token(&values);
        if id == ABSENT && qid == ABSENT {
            return (None, error);
        }
        let attrs = self.attributes.iter().map(|a| self.attr_token(*a, &values, &raw_name)).collect();
        (Some(TokenRecord { row: row.number, id, qid, attrs }), error)
    }

    /// Name, birth date and sex, where all three are known. A row's own birth date and
    /// sex columns win; a valid identity number supplies them otherwise. An empty name
    /// never makes a token: every nameless row would match every other.
    fn qid_token(&self, values: &PersonValues) -> Token {
        let birth = values.birth.or_else(|| values.id.map(|id| id.birth_date()));
        let sex = values.sex.or_else(|| values.id.map(|id| id.sex()));
        match (values.canonical_name.is_empty(), birth, sex) {
            (false, Some(birth), Some(sex)) => self.keys.qid_token(&values.canonical_name, birth, sex),
            _ => ABSENT,
        }
    }

    fn attr_token(&self, attribute: Attribute, values: &PersonValues, raw_name: &str) -> Token {
        let Some(id) = values.id else { return ABSENT };
        let value = match attribute {
            Attribute::Name => values.canonical_name.clone(),
            Attribute::NameScript => name::canonical_keep_script(raw_name),
            Attribute::NameSound => name::sound_key(raw_name),
            Attribute::Sex => values.sex.map(|s| s.code().to_owned()).unwrap_or_default(),
            Attribute::BirthDate => values.birth.map(|d| d.yyyymmdd()).unwrap_or_default(),
        };
        if value.is_empty() {
            return ABSENT;
        }
        self.keys.attr_token(&id, attribute.label(), &value)
    }
}

/// Counts of what a pass over the source saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassCounts {
    pub rows_read: u64,
    pub records: u64,
    pub invalid_ids: BTreeMap<String, u64>,
    pub unreadable_rows: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::{EpochSecret, KeyEpoch, Suite};

    fn tokenizer(attributes: Vec<Attribute>) -> Tokenizer {
        let keys = KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([3; 32])).job_keys("t");
        let columns = ColumnIndex { id: 0, name: Some(1), sex: Some(2), birth_date: Some(3) };
        Tokenizer::new(keys, attributes, columns, CivilDate::new(2026, 11, 29).unwrap())
    }

    fn row(number: u32, cells: &[&str]) -> Row {
        Row::from_texts(number, cells)
    }

    #[test]
    fn messy_spellings_of_one_person_give_one_identity_token() {
        let t = tokenizer(vec![Attribute::Name]);
        let a = t.tokenize(&row(1, &["11010519491231002X", "张三", "女", "1949-12-31"])).0.unwrap();
        let b = t.tokenize(&row(2, &[" 11010519491231002x ", "張 三", "2", "19491231"])).0.unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.qid, b.qid);
        assert_eq!(a.attrs, b.attrs);
    }

    #[test]
    fn an_invalid_number_is_counted_and_still_offers_a_quasi_identifier() {
        let t = tokenizer(vec![Attribute::Sex]);
        let (record, error) = t.tokenize(&row(7, &["11010519491231002Y", "张三", "女", "1949-12-31"]));
        assert_eq!(error, Some("charset"));
        let record = record.unwrap();
        assert_eq!((record.row, record.id, record.attrs[0]), (7, ABSENT, ABSENT));
        assert_ne!(record.qid, ABSENT);
    }

    #[test]
    fn a_row_with_nothing_to_match_on_sends_nothing() {
        let t = tokenizer(vec![]);
        let (record, error) = t.tokenize(&row(3, &["4.40118E+17", "", "", ""]));
        assert_eq!((record, error), (None, Some("excel-mangled")));
    }

    #[test]
    fn missing_attribute_values_are_absent_tokens_not_tokens_of_nothing() {
        let t = tokenizer(vec![Attribute::BirthDate, Attribute::Sex]);
        let record = t.tokenize(&row(1, &["11010519491231002X", "张三", "", ""])).0.unwrap();
        assert_eq!(record.attrs, vec![ABSENT, ABSENT]);
        assert_ne!(record.qid, ABSENT, "birth date and sex come from the valid identity number");
    }
}
