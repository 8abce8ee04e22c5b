//! Rows to token records. The only place where raw identity numbers and names are read;
//! what comes out is tokens, counts and row numbers.

use std::collections::BTreeMap;

use bidui_core::api::Attribute;
use bidui_core::name::{self, NameForms};
use bidui_core::wire::{encode_record, record_len, ABSENT};
use bidui_core::{CivilDate, IdNumber, JobKeys, Sex, TokenBatch, TokenSlot};

use std::sync::{mpsc, Arc, Mutex};

use crate::source::{RowError, Source, SourceError};

/// Column positions the tokenizer reads.
#[derive(Clone, Debug)]
pub struct ColumnIndex {
    pub id: usize,
    pub name: Option<usize>,
    pub sex: Option<usize>,
    pub birth_date: Option<usize>,
}

impl ColumnIndex {
    /// The tokenized columns: identity number, name, sex, birth date.
    fn cells(&self) -> [Option<usize>; 4] {
        [Some(self.id), self.name, self.sex, self.birth_date]
    }

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

pub struct Tokenizer {
    keys: JobKeys,
    attributes: Vec<Attribute>,
    columns: ColumnIndex,
    today: CivilDate,
}

/// The person-level values of one row, canonicalized.
struct PersonValues<'a> {
    id: Option<IdNumber>,
    name: &'a NameForms,
    sex: Option<Sex>,
    birth: Option<CivilDate>,
}

/// Where one row's tokens wait in a [`TokenBatch`].
struct QueuedRow {
    number: u32,
    invalid: Option<&'static str>,
    /// The row's tokens in consecutive slots (identity, quasi-identifier, then one per
    /// attribute), or `None` when the row has neither an identity nor a quasi-identifier
    /// token and sends nothing.
    tokens: Option<TokenSlot>,
}

impl Tokenizer {
    pub fn new(keys: JobKeys, attributes: Vec<Attribute>, columns: ColumnIndex, today: CivilDate) -> Tokenizer {
        Tokenizer { keys, attributes, columns, today }
    }

    /// Attribute tokens per record.
    pub fn attribute_count(&self) -> usize {
        self.attributes.len()
    }

    /// Canonicalizes one row's cells and queues its tokens in `batch`; `name` is a
    /// buffer reused from row to row.
    fn queue_row(
        &self,
        batch: &mut TokenBatch,
        name: &mut NameForms,
        number: u32,
        [raw_id, raw_name, raw_sex, raw_birth]: [&str; 4],
    ) -> QueuedRow {
        let parsed = IdNumber::parse(raw_id, self.today);
        name::forms_into(raw_name, name);
        let values =
            PersonValues { id: parsed.ok(), name, sex: Sex::parse(raw_sex), birth: CivilDate::parse(raw_birth) };
        let invalid = parsed.err().map(|e| e.code());
        let qid = self.qid_inputs(&values);
        if values.id.is_none() && qid.is_none() {
            return QueuedRow { number, invalid, tokens: None };
        }
        let first = match &values.id {
            Some(id) => self.keys.queue_id_token(batch, id),
            None => batch.push(ABSENT),
        };
        match qid {
            Some((birth, sex)) => self.keys.queue_qid_token(batch, &values.name.canonical, birth, sex),
            None => batch.push(ABSENT),
        };
        for &attribute in &self.attributes {
            match &values.id {
                Some(id) => self.queue_attr_token(batch, id, attribute, &values),
                None => batch.push(ABSENT),
            };
        }
        QueuedRow { number, invalid, tokens: Some(first) }
    }

    /// Birth date and sex for the quasi-identifier token, when name, birth date and sex
    /// are all known. A row's own birth date and sex columns win; a valid identity number
    /// supplies them otherwise. An empty name never makes a token: every nameless row
    /// would match every other.
    fn qid_inputs(&self, values: &PersonValues) -> Option<(CivilDate, Sex)> {
        let birth = values.birth.or_else(|| values.id.map(|id| id.birth_date()))?;
        let sex = values.sex.or_else(|| values.id.map(|id| id.sex()))?;
        (!values.name.canonical.is_empty()).then_some((birth, sex))
    }

    fn queue_attr_token(
        &self,
        batch: &mut TokenBatch,
        id: &IdNumber,
        attribute: Attribute,
        values: &PersonValues,
    ) -> TokenSlot {
        let birth = values.birth.map(CivilDate::yyyymmdd_bytes);
        let value = match attribute {
            Attribute::Name => values.name.canonical.as_str(),
            Attribute::NameScript => values.name.keep_script.as_str(),
            Attribute::NameSound => values.name.sound.as_str(),
            Attribute::Sex => values.sex.map_or("", Sex::code),
            Attribute::BirthDate => birth.as_ref().map_or("", |b| std::str::from_utf8(b).expect("ASCII digits")),
        };
        if value.is_empty() {
            return batch.push(ABSENT);
        }
        self.keys.queue_attr_token(batch, id, attribute.label(), value)
    }
}

/// One source row's outcome, in source order.
pub enum RowOutcome<'a> {
    /// The row could not be read (bad encoding, broken CSV record): reported locally.
    Unreadable(RowError),
    /// The row's token record, encoded as in a chunk ([`bidui_core::wire::encode_record`]),
    /// if it has one; and the identity-number error code, if any.
    Tokenized { row: u32, record: Option<&'a [u8]>, invalid: Option<&'static str> },
}

/// A batch's outcomes as a tokenizing thread hands them over: records already encoded,
/// back to back in one buffer, so no record is a heap allocation of its own (freeing
/// millions of those on another thread cost the agent a tenth of its time).
struct TokenizedBatch {
    outcomes: Vec<BatchOutcome>,
    records: Vec<u8>,
}

enum BatchOutcome {
    Unreadable(RowError),
    /// `record`: the end of the row's record in `records`, if it has one.
    Tokenized {
        row: u32,
        record: Option<usize>,
        invalid: Option<&'static str>,
    },
}

impl TokenizedBatch {
    fn deliver<E>(self, sink: &mut impl FnMut(RowOutcome) -> Result<(), E>) -> Result<(), E> {
        let mut start = 0;
        for outcome in self.outcomes {
            sink(match outcome {
                BatchOutcome::Unreadable(error) => RowOutcome::Unreadable(error),
                BatchOutcome::Tokenized { row, record, invalid } => {
                    let record = record.map(|end| {
                        let bytes = &self.records[start..end];
                        start = end;
                        bytes
                    });
                    RowOutcome::Tokenized { row, record, invalid }
                }
            })?;
        }
        Ok(())
    }
}

/// Rows on their way to a tokenizing thread: the four cells of each row packed into one
/// string, so a batch of thousands of rows costs a couple of allocations.
#[derive(Default)]
struct Batch {
    text: String,
    rows: Vec<BatchRow>,
}

enum BatchRow {
    Cells { number: u32, ends: [usize; 4] },
    Unreadable(RowError),
}

impl Batch {
    /// Reads the source's next row into the batch; `false` at the end of the source.
    fn read_row(&mut self, source: &mut Source, columns: &[Option<usize>; 4], ends: &mut Vec<usize>) -> bool {
        ends.clear();
        match source.next_cells(columns, &mut self.text, ends) {
            None => return false,
            Some(Ok(number)) => {
                self.rows.push(BatchRow::Cells { number, ends: ends[..].try_into().expect("one end per cell") })
            }
            Some(Err(error)) => self.rows.push(BatchRow::Unreadable(error)),
        }
        true
    }

    /// Tokenizes every row, queueing all their tokens in `scratch.tokens` first so the
    /// MACs run several at a time.
    fn tokenize(self, tokenizer: &Tokenizer, scratch: &mut Scratch) -> TokenizedBatch {
        scratch.tokens.clear();
        let mut start = 0;
        let queued: Vec<Result<QueuedRow, RowError>> = self
            .rows
            .into_iter()
            .map(|row| match row {
                BatchRow::Unreadable(error) => Err(error),
                BatchRow::Cells { number, ends } => {
                    let mut cells = [""; 4];
                    for (cell, end) in cells.iter_mut().zip(ends) {
                        *cell = &self.text[start..end];
                        start = end;
                    }
                    Ok(tokenizer.queue_row(&mut scratch.tokens, &mut scratch.name, number, cells))
                }
            })
            .collect();
        scratch.tokens.compute();
        let attrs = tokenizer.attributes.len();
        let mut records = Vec::with_capacity(queued.len() * record_len(attrs));
        let outcomes = queued
            .into_iter()
            .map(|row| match row {
                Err(error) => BatchOutcome::Unreadable(error),
                Ok(row) => {
                    let record = row.tokens.map(|first| {
                        let tokens = scratch.tokens.run(first, 2 + attrs);
                        encode_record(row.number, tokens[0], tokens[1], &tokens[2..], &mut records);
                        records.len()
                    });
                    BatchOutcome::Tokenized { row: row.number, record, invalid: row.invalid }
                }
            })
            .collect();
        TokenizedBatch { outcomes, records }
    }
}

/// A tokenizing thread's buffers, reused from batch to batch.
#[derive(Default)]
struct Scratch {
    tokens: TokenBatch,
    name: NameForms,
}

/// Rows read per batch handed to a tokenizing thread.
const BATCH_ROWS: usize = 4096;

/// Reads `source` on one thread, tokenizes on `workers` threads, and hands every row's
/// outcome to `sink` in source order on the calling thread. Channels are bounded, so
/// memory stays bounded whatever the file size; an error from `sink` stops everything.
pub fn tokenize_source<E>(
    source: &mut Source,
    tokenizer: &Tokenizer,
    workers: usize,
    progress: &indicatif::ProgressBar,
    mut sink: impl FnMut(RowOutcome) -> Result<(), E>,
) -> Result<(), E> {
    let workers = workers.max(1);
    let columns = tokenizer.columns.cells();

    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Batch)>(workers * 2);
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, TokenizedBatch)>(workers * 2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut seq = 0;
            let mut batch = Batch::default();
            let mut ends = Vec::with_capacity(columns.len());
            while batch.read_row(source, &columns, &mut ends) {
                if batch.rows.len() == BATCH_ROWS {
                    progress.set_position(source.bytes_read());
                    if work_tx.send((seq, std::mem::take(&mut batch))).is_err() {
                        return;
                    }
                    seq += 1;
                }
            }
            if !batch.rows.is_empty() {
                let _ = work_tx.send((seq, batch));
            }
        });
        // Workers own the receiving end together: when the sink stops and they exit, the
        // reader's next send fails and it stops too.
        let work_rx = Arc::new(Mutex::new(work_rx));
        for _ in 0..workers {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                loop {
                    let next = work_rx.lock().expect("no worker panics holding the lock").recv();
                    let Ok((seq, batch)) = next else { return };
                    if done_tx.send((seq, batch.tokenize(tokenizer, &mut scratch))).is_err() {
                        return;
                    }
                }
            });
        }
        drop((work_rx, done_tx));
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        for (seq, outcomes) in done_rx {
            waiting.insert(seq, outcomes);
            while let Some(batch) = waiting.remove(&next) {
                batch.deliver(&mut sink)?;
                next += 1;
            }
        }
        Ok(())
    })
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
    use bidui_core::wire::TokenRecord;
    use bidui_core::{EpochSecret, KeyEpoch, Suite};

    fn tokenizer(attributes: Vec<Attribute>) -> Tokenizer {
        let keys = KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([3; 32])).job_keys("t");
        let columns = ColumnIndex { id: 0, name: Some(1), sex: Some(2), birth_date: Some(3) };
        Tokenizer::new(keys, attributes, columns, CivilDate::new(2026, 11, 29).unwrap())
    }

    /// One row tokenized on its own: the reference a batch of rows must agree with. `Err`
    /// in the second place when the identity number is invalid; the record (if any)
    /// still carries a quasi-identifier token.
    fn tokenize(t: &Tokenizer, number: u32, cells: [&str; 4]) -> (Option<TokenRecord>, Option<&'static str>) {
        let mut batch = TokenBatch::new();
        let queued = t.queue_row(&mut batch, &mut NameForms::default(), number, cells);
        batch.compute();
        let record = queued.tokens.map(|first| {
            let tokens = batch.run(first, 2 + t.attributes.len());
            TokenRecord { row: number, id: tokens[0], qid: tokens[1], attrs: tokens[2..].to_vec() }
        });
        (record, queued.invalid)
    }

    #[test]
    fn messy_spellings_of_one_person_give_one_identity_token() {
        let t = tokenizer(vec![Attribute::Name]);
        let a = tokenize(&t, 1, ["11010519491231002X", "张三", "女", "1949-12-31"]).0.unwrap();
        let b = tokenize(&t, 2, [" 11010519491231002x ", "張 三", "2", "19491231"]).0.unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.qid, b.qid);
        assert_eq!(a.attrs, b.attrs);
    }

    #[test]
    fn an_invalid_number_is_counted_and_still_offers_a_quasi_identifier() {
        let t = tokenizer(vec![Attribute::Sex]);
        let (record, error) = tokenize(&t, 7, ["11010519491231002Y", "张三", "女", "1949-12-31"]);
        assert_eq!(error, Some("charset"));
        let record = record.unwrap();
        assert_eq!((record.row, record.id, record.attrs[0]), (7, ABSENT, ABSENT));
        assert_ne!(record.qid, ABSENT);
    }

    #[test]
    fn a_row_with_nothing_to_match_on_sends_nothing() {
        let t = tokenizer(vec![]);
        let (record, error) = tokenize(&t, 3, ["4.40118E+17", "", "", ""]);
        assert_eq!((record, error), (None, Some("excel-mangled")));
    }

    #[test]
    fn missing_attribute_values_are_absent_tokens_not_tokens_of_nothing() {
        let t = tokenizer(vec![Attribute::BirthDate, Attribute::Sex]);
        let record = tokenize(&t, 1, ["11010519491231002X", "张三", "", ""]).0.unwrap();
        assert_eq!(record.attrs, vec![ABSENT, ABSENT]);
        assert_ne!(record.qid, ABSENT, "birth date and sex come from the valid identity number");
    }

    #[test]
    fn a_batch_of_rows_gives_each_row_the_tokens_it_gets_alone() {
        // Rows that send everything, only a quasi-identifier, or nothing, in one batch
        // longer than the token batch's flush point: a token landing in a neighbour's
        // slot would show.
        let t = tokenizer(Attribute::expand(&[Attribute::Name, Attribute::Sex, Attribute::BirthDate]));
        let samples: [&[&str]; 5] = [
            &["11010519491231002X", "张三", "女", "1949-12-31"],
            &["11010519491231002Y", "張 三", "女", "1949-12-31"],
            &["4.40118E+17", "", "", ""],
            &["110105491231002", "李娜", "", ""],
            &["11010519491231002X", "", "", "19491231"],
        ];
        let rows: Vec<(u32, [&str; 4])> =
            (0..200).map(|i| (i + 1, samples[i as usize % samples.len()].try_into().unwrap())).collect();
        let mut batch = Batch::default();
        for (number, cells) in &rows {
            let mut ends = [0; 4];
            for (end, cell) in ends.iter_mut().zip(cells) {
                batch.text.push_str(cell);
                *end = batch.text.len();
            }
            batch.rows.push(BatchRow::Cells { number: *number, ends });
        }
        let mut rows_left = rows.iter();
        batch
            .tokenize(&t, &mut Scratch::default())
            .deliver(&mut |outcome| {
                let &(row, cells) = rows_left.next().expect("one outcome per row");
                let RowOutcome::Tokenized { row: number, record, invalid } = outcome else {
                    panic!("row {row} unreadable")
                };
                assert_eq!(number, row);
                let (alone, alone_invalid) = tokenize(&t, row, cells);
                let alone = alone.map(|r| {
                    let mut bytes = Vec::new();
                    encode_record(r.row, r.id, r.qid, &r.attrs, &mut bytes);
                    bytes
                });
                assert_eq!((record, invalid), (alone.as_deref(), alone_invalid), "row {number}");
                Ok::<(), ()>(())
            })
            .unwrap();
        assert!(rows_left.next().is_none(), "every row has an outcome");
    }
}
