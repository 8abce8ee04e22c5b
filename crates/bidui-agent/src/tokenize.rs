//! Rows to token records. The only place where raw identity numbers and names are read;
//! what comes out is tokens, counts, row numbers and — for a department — field values
//! sealed to whoever knows the row's person ([`bidui_core::fieldseal`]).

use std::collections::BTreeMap;
use std::ops::Range;

use bidui_core::api::{Attribute, DepartmentSpec, JobSpec};
use bidui_core::fieldseal::{SealContext, SealKind, Sealer, MAX_SEALED_FIELDS, MAX_VALUE_BYTES};
use bidui_core::name::{self, NameForms};
use bidui_core::token::{id_message, qid_message};
use bidui_core::wire::{encode_record, Layout, ABSENT};
use bidui_core::{CivilDate, IdNumber, JobKeys, KeyEpoch, PairDomain, PurposeKey, Sex, TokenBatch, TokenSlot};

use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The person's columns: identity number, name, sex, birth date.
    pub fn cells(&self) -> [Option<usize>; 4] {
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

/// One pair domain's token keys and the attributes compared in it.
struct TokenGroupKeys {
    keys: JobKeys,
    attributes: Vec<Attribute>,
}

/// What a department seals for each row: its pair's two sealing keys, the pair domain the
/// seals are bound to, and the fields sealed (those its policy allows, possibly none)
/// with their columns.
struct FieldSealing {
    field_seal: PurposeKey,
    qid_seal: PurposeKey,
    job: String,
    requester: String,
    department: String,
    fields: Vec<String>,
    columns: Vec<usize>,
}

impl FieldSealing {
    fn context(&self) -> SealContext<'_> {
        let pair = PairDomain { job: &self.job, requester: &self.requester, department: &self.department };
        SealContext { pair, fields: &self.fields }
    }
}

pub struct Tokenizer {
    groups: Vec<TokenGroupKeys>,
    sealing: Option<FieldSealing>,
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

impl PersonValues<'_> {
    /// Birth date and sex for the quasi-identifier, when name, birth date and sex are all
    /// known. A row's own birth date and sex columns win; a valid identity number supplies
    /// them otherwise. An empty name never makes one: every nameless row would match
    /// every other.
    fn qid_inputs(&self) -> Option<(CivilDate, Sex)> {
        let birth = self.birth.or_else(|| self.id.map(|id| id.birth_date()))?;
        let sex = self.sex.or_else(|| self.id.map(|id| id.sex()))?;
        (!self.name.canonical.is_empty()).then_some((birth, sex))
    }
}

/// A row's person as its tokens and seals know it: the identity number, if valid, and the
/// quasi-identifier, if complete. The requester opens sealed values with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowIdentity {
    pub id: Option<IdNumber>,
    pub qid: Option<QuasiIdentifier>,
}

/// Canonical name, birth date and sex: the quasi-identifier token's and seal's inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuasiIdentifier {
    pub canonical_name: String,
    pub birth: CivilDate,
    pub sex: Sex,
}

impl RowIdentity {
    /// Canonicalizes the person's cells (identity number, name, sex, birth date) exactly as
    /// the tokenizer does.
    pub fn from_cells([raw_id, raw_name, raw_sex, raw_birth]: [&str; 4], today: CivilDate) -> RowIdentity {
        let name = name::forms(raw_name);
        let values = PersonValues {
            id: IdNumber::parse(raw_id, today).ok(),
            name: &name,
            sex: Sex::parse(raw_sex),
            birth: CivilDate::parse(raw_birth),
        };
        let qid = values.qid_inputs().map(|(birth, sex)| QuasiIdentifier {
            canonical_name: name.canonical.clone(),
            birth,
            sex,
        });
        RowIdentity { id: values.id, qid }
    }
}

/// Fields of one row whose values were too long to seal (sealed as no value instead), by
/// their index among the sealed fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(u32);

impl FieldSet {
    fn insert(&mut self, index: usize) {
        self.0 |= 1 << index;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..32).filter(move |i| self.0 & (1 << i) != 0)
    }
}

/// Where one row's tokens and sealed values wait.
struct QueuedRow {
    number: u32,
    invalid: Option<&'static str>,
    /// The row's tokens in consecutive slots (per group: identity, quasi-identifier, then
    /// one per attribute), or `None` when the row has neither an identity nor a
    /// quasi-identifier token and sends nothing.
    tokens: Option<TokenSlot>,
    /// The row's two sealed values in the batch's seal buffer, for a sealing department.
    sealed: Option<(Range<usize>, Range<usize>)>,
    too_long: FieldSet,
}

impl Tokenizer {
    /// A department's tokenizer: one token group under its pair's keys, and — when the job
    /// gives it fields — every row's `sealed_fields` (field, column; the job's fields its
    /// policy allows, in job order, possibly none) sealed under the pair's sealing keys.
    pub fn department(
        epoch: &KeyEpoch,
        spec: &JobSpec,
        department: &DepartmentSpec,
        sealed_fields: Vec<(String, usize)>,
        columns: ColumnIndex,
        today: CivilDate,
    ) -> Tokenizer {
        let pair = spec.pair(&department.party);
        let keys = epoch.pair_keys(&pair);
        debug_assert!(sealed_fields.iter().all(|(f, _)| department.fields.contains(f)));
        assert!(sealed_fields.len() <= MAX_SEALED_FIELDS, "a valid job seals at most {MAX_SEALED_FIELDS} fields");
        let sealing = (!department.fields.is_empty()).then(|| {
            let (fields, columns) = sealed_fields.into_iter().unzip();
            FieldSealing {
                field_seal: keys.field_seal,
                qid_seal: keys.qid_seal,
                job: spec.id.clone(),
                requester: spec.requester.party.clone(),
                department: department.party.clone(),
                fields,
                columns,
            }
        });
        let groups = vec![TokenGroupKeys { keys: keys.tokens, attributes: Attribute::expand(&department.compare) }];
        Tokenizer { groups, sealing, columns, today }
    }

    /// The requester's tokenizer: one token group per department, in job order, each under
    /// that department's pair keys and with its compared attributes. Nothing is sealed.
    pub fn requester(epoch: &KeyEpoch, spec: &JobSpec, columns: ColumnIndex, today: CivilDate) -> Tokenizer {
        let groups = spec
            .departments
            .iter()
            .map(|d| TokenGroupKeys {
                keys: epoch.pair_keys(&spec.pair(&d.party)).tokens,
                attributes: Attribute::expand(&d.compare),
            })
            .collect();
        Tokenizer { groups, sealing: None, columns, today }
    }

    /// What this tokenizer's records hold: the job's layout for its party.
    pub fn layout(&self) -> Layout {
        Layout { groups: self.groups.iter().map(|g| g.attributes.len()).collect(), sealed: self.sealing.is_some() }
    }

    /// The fields sealed in every record, in order (none for the requester).
    pub fn sealed_fields(&self) -> &[String] {
        self.sealing.as_ref().map_or(&[], |s| &s.fields[..])
    }

    /// The columns one pass reads per row: the person's, then the sealed fields'.
    fn read_columns(&self) -> Vec<Option<usize>> {
        let fields = self.sealing.iter().flat_map(|s| s.columns.iter().map(|&c| Some(c)));
        self.columns.cells().into_iter().chain(fields).collect()
    }

    /// Canonicalizes one row's cells, queues its tokens in `batch` and seals its field
    /// values into `sealed`; `name` is a buffer reused from row to row.
    fn queue_row(
        &self,
        scratch: &mut Scratch,
        number: u32,
        [raw_id, raw_name, raw_sex, raw_birth]: [&str; 4],
        field_values: &[&str],
    ) -> QueuedRow {
        let parsed = IdNumber::parse(raw_id, self.today);
        name::forms_into(raw_name, &mut scratch.name);
        let values = PersonValues {
            id: parsed.ok(),
            name: &scratch.name,
            sex: Sex::parse(raw_sex),
            birth: CivilDate::parse(raw_birth),
        };
        let invalid = parsed.err().map(|e| e.code());
        let qid = values.qid_inputs();
        if values.id.is_none() && qid.is_none() {
            return QueuedRow { number, invalid, tokens: None, sealed: None, too_long: FieldSet::default() };
        }
        let batch = &mut scratch.tokens;
        let mut first = None;
        for group in &self.groups {
            let slot = match &values.id {
                Some(id) => group.keys.queue_id_token(batch, id),
                None => batch.push(ABSENT),
            };
            first.get_or_insert(slot);
            match qid {
                Some((birth, sex)) => group.keys.queue_qid_token(batch, &values.name.canonical, birth, sex),
                None => batch.push(ABSENT),
            };
            for &attribute in &group.attributes {
                match &values.id {
                    Some(id) => queue_attr_token(&group.keys, batch, id, attribute, &values),
                    None => batch.push(ABSENT),
                };
            }
        }
        let mut too_long = FieldSet::default();
        let sealed = self.sealing.as_ref().map(|sealing| {
            // On the stack: a row's cells are no allocation of their own.
            let mut cells = [None; MAX_SEALED_FIELDS];
            let cells = &mut cells[..field_values.len()];
            for (i, (cell, value)) in cells.iter_mut().zip(field_values).enumerate() {
                let value = value.trim();
                if value.len() > MAX_VALUE_BYTES {
                    too_long.insert(i);
                } else if !value.is_empty() {
                    *cell = Some(value);
                }
            }
            let cells = &*cells;
            let (by_id_sealer, by_qid_sealer) = scratch.sealers.get_or_insert_with(|| {
                let context = sealing.context();
                (
                    Sealer::new(&sealing.field_seal, SealKind::Id, &context),
                    Sealer::new(&sealing.qid_seal, SealKind::Qid, &context),
                )
            });
            let out = &mut scratch.sealed;
            let mut seal = |sealer: &mut Sealer, person: &[&[u8]]| {
                sealer
                    .queue(person, number, cells, out)
                    .expect("values are trimmed to the length limit and counted per field before sealing")
            };
            // An absent blob is an empty range: the record carries a zero length.
            let by_id = values.id.map_or(0..0, |id| seal(by_id_sealer, &id_message(&id)));
            let by_qid = qid.map_or(0..0, |(birth, sex)| {
                let birth = birth.yyyymmdd_bytes();
                let birth = std::str::from_utf8(&birth).expect("ASCII digits");
                seal(by_qid_sealer, &qid_message(&values.name.canonical, birth, sex))
            });
            (by_id, by_qid)
        });
        QueuedRow { number, invalid, tokens: first, sealed, too_long }
    }
}

fn queue_attr_token(
    keys: &JobKeys,
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
    keys.queue_attr_token(batch, id, attribute.label(), value)
}

/// One source row's outcome, in source order.
pub enum RowOutcome<'a> {
    /// The row could not be read (bad encoding, broken CSV record): reported locally.
    Unreadable(RowError),
    /// The row's record, encoded as in a chunk ([`bidui_core::wire::encode_record`]), if it
    /// has one; the identity-number error code, if any; and the sealed fields whose values
    /// were too long to seal (sealed as no value).
    Tokenized { row: u32, record: Option<&'a [u8]>, invalid: Option<&'static str>, too_long: FieldSet },
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
        too_long: FieldSet,
    },
}

impl TokenizedBatch {
    fn deliver<E>(self, sink: &mut impl FnMut(RowOutcome) -> Result<(), E>) -> Result<(), E> {
        let mut start = 0;
        for outcome in self.outcomes {
            sink(match outcome {
                BatchOutcome::Unreadable(error) => RowOutcome::Unreadable(error),
                BatchOutcome::Tokenized { row, record, invalid, too_long } => {
                    let record = record.map(|end| {
                        let bytes = &self.records[start..end];
                        start = end;
                        bytes
                    });
                    RowOutcome::Tokenized { row, record, invalid, too_long }
                }
            })?;
        }
        Ok(())
    }
}

/// Rows on their way to a tokenizing thread: the cells a pass reads (the person's four,
/// then the sealed fields') packed into one string, so a batch of thousands of rows costs
/// a couple of allocations.
#[derive(Default)]
struct Batch {
    text: String,
    /// End of every cell in `text`, row after row.
    ends: Vec<usize>,
    rows: Vec<BatchRow>,
}

enum BatchRow {
    /// A row whose cells start at `start` in the text, their ends from `ends[first_end]` on.
    Cells {
        number: u32,
        start: usize,
        first_end: usize,
    },
    Unreadable(RowError),
}

impl Batch {
    /// An empty batch with room for one like this, and a little more: a batch's text
    /// runs to the better part of a megabyte, and growing it from nothing copied it
    /// again at each doubling.
    fn with_room_for_another(&self) -> Batch {
        let room = |len: usize| len + len / 8;
        Batch {
            text: String::with_capacity(room(self.text.len())),
            ends: Vec::with_capacity(room(self.ends.len())),
            rows: Vec::with_capacity(room(self.rows.len())),
        }
    }

    /// Reads the source's next row into the batch; `false` at the end of the source.
    fn read_row(&mut self, source: &mut Source, columns: &[Option<usize>]) -> bool {
        let (start, first_end) = (self.text.len(), self.ends.len());
        let next = source.next_cells(columns, &mut self.text, &mut self.ends);
        if !matches!(next, Some(Ok(_))) {
            // Whatever an unreadable row left behind is not a cell of the next row.
            self.text.truncate(start);
            self.ends.truncate(first_end);
        }
        match next {
            None => return false,
            Some(Ok(number)) => self.rows.push(BatchRow::Cells { number, start, first_end }),
            Some(Err(error)) => self.rows.push(BatchRow::Unreadable(error)),
        }
        true
    }

    /// Tokenizes and seals every row, queueing all their tokens in `scratch.tokens` first
    /// so the MACs run several at a time.
    fn tokenize(self, tokenizer: &Tokenizer, scratch: &mut Scratch) -> TokenizedBatch {
        scratch.tokens.clear();
        scratch.sealed.clear();
        let cell_count = 4 + tokenizer.sealed_fields().len();
        let mut field_values: Vec<&str> = Vec::with_capacity(cell_count - 4);
        let queued: Vec<Result<QueuedRow, RowError>> = self
            .rows
            .into_iter()
            .map(|row| match row {
                BatchRow::Unreadable(error) => Err(error),
                BatchRow::Cells { number, mut start, first_end } => {
                    let mut cells = self.ends[first_end..first_end + cell_count].iter().map(|&end| {
                        let cell = &self.text[start..end];
                        start = end;
                        cell
                    });
                    let person: [&str; 4] = std::array::from_fn(|_| cells.next().expect("four person cells"));
                    field_values.clear();
                    field_values.extend(cells);
                    Ok(tokenizer.queue_row(scratch, number, person, &field_values))
                }
            })
            .collect();
        scratch.compute_queued();
        let token_count = tokenizer.layout().token_count();
        let mut records = Vec::with_capacity(queued.len() * (4 + 16 * token_count) + scratch.sealed.len());
        let outcomes = queued
            .into_iter()
            .map(|row| match row {
                Err(error) => BatchOutcome::Unreadable(error),
                Ok(row) => {
                    let record = row.tokens.map(|first| {
                        let tokens = scratch.tokens.run(first, token_count);
                        let sealed =
                            row.sealed.map(|(by_id, by_qid)| (&scratch.sealed[by_id], &scratch.sealed[by_qid]));
                        encode_record(row.number, tokens, sealed, &mut records);
                        records.len()
                    });
                    BatchOutcome::Tokenized { row: row.number, record, invalid: row.invalid, too_long: row.too_long }
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
    /// The batch's sealed values, back to back.
    sealed: Vec<u8>,
    /// This thread's sealers (by identity, by quasi-identifier), made at its first row.
    sealers: Option<(Sealer, Sealer)>,
}

impl Scratch {
    /// Computes every queued token and seal, before the batch's records are encoded.
    fn compute_queued(&mut self) {
        self.tokens.compute();
        if let Some((by_id, by_qid)) = &mut self.sealers {
            by_id.seal_queued(&mut self.sealed);
            by_qid.seal_queued(&mut self.sealed);
        }
    }
}

/// Rows read per batch handed to a tokenizing thread.
const BATCH_ROWS: usize = 4096;

/// How far the reader of [`tokenize_source`] has got, batch by batch: the source's bytes on
/// a bar a person may watch, and the rows, which the agent's estimate of its chunks needs
/// (`run`: rows read against rows turned into chunks). The reader runs ahead of the rows
/// handed to the sink by a few batches at most; once it is done, both are the source's.
pub struct ReadProgress {
    bar: indicatif::ProgressBar,
    rows: AtomicU64,
}

impl ReadProgress {
    pub fn new(bar: indicatif::ProgressBar) -> ReadProgress {
        ReadProgress { bar, rows: AtomicU64::new(0) }
    }

    /// Drawn nowhere; still counted.
    pub fn hidden() -> ReadProgress {
        ReadProgress::new(indicatif::ProgressBar::hidden())
    }

    pub fn bar(&self) -> &indicatif::ProgressBar {
        &self.bar
    }

    /// Source bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bar.position()
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    fn advance(&self, rows: usize, bytes: u64) {
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.bar.set_position(bytes);
    }
}

/// Reads `source` on one thread, tokenizes (and seals) on `workers` threads, and hands
/// every row's outcome to `sink` in source order on the calling thread. One pass reads
/// both the person's cells and the sealed fields'. Channels are bounded, so memory stays
/// bounded whatever the file size; an error from `sink` stops everything.
pub fn tokenize_source<E>(
    source: &mut Source,
    tokenizer: &Tokenizer,
    workers: usize,
    progress: &ReadProgress,
    mut sink: impl FnMut(RowOutcome) -> Result<(), E>,
) -> Result<(), E> {
    let workers = workers.max(1);
    let columns = tokenizer.read_columns();

    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Batch)>(workers * 2);
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, TokenizedBatch)>(workers * 2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut seq = 0;
            let mut batch = Batch::default();
            while batch.read_row(source, &columns) {
                if batch.rows.len() == BATCH_ROWS {
                    progress.advance(batch.rows.len(), source.bytes_read());
                    let next = batch.with_room_for_another();
                    if work_tx.send((seq, std::mem::replace(&mut batch, next))).is_err() {
                        return;
                    }
                    seq += 1;
                }
            }
            // The last batch counts too: once the source is read, the rows are all known.
            progress.advance(batch.rows.len(), source.bytes_read());
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
    /// Rows with a value too long to seal (sealed as no value, reported locally).
    pub values_too_long: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::api::RequesterSpec;
    use bidui_core::fieldseal::open_values;
    use bidui_core::wire::{Chunk, ChunkBuilder, TokenRecord};
    use bidui_core::{EpochSecret, Suite};

    fn epoch() -> KeyEpoch {
        KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([3; 32]))
    }

    fn today() -> CivilDate {
        CivilDate::new(2026, 11, 29).unwrap()
    }

    /// A job whose household department compares `compare` and is asked for status and
    /// address; pension compares birth dates and is asked for nothing.
    fn spec(compare: Vec<Attribute>) -> JobSpec {
        JobSpec {
            id: "t".into(),
            purpose: "比对".into(),
            approval: "1".into(),
            epoch: epoch().key_check_value(),
            suite: Suite::HmacSha256,
            requester: RequesterSpec { party: "veterans".into(), fields: vec![], max_records: 100 },
            departments: vec![
                DepartmentSpec {
                    party: "household".into(),
                    compare,
                    fields: vec!["status".into(), "address".into()],
                    max_records: 100,
                },
                DepartmentSpec {
                    party: "pension".into(),
                    compare: vec![Attribute::BirthDate],
                    fields: vec![],
                    max_records: 100,
                },
            ],
            retention_hours: None,
            rules: Vec::new(),
            profile: None,
        }
    }

    fn columns() -> ColumnIndex {
        ColumnIndex { id: 0, name: Some(1), sex: Some(2), birth_date: Some(3) }
    }

    /// Household's tokenizer sealing `fields` (the columns after the person's four).
    fn household(compare: Vec<Attribute>, fields: &[&str]) -> (JobSpec, Tokenizer) {
        let spec = spec(compare);
        let sealed = fields.iter().enumerate().map(|(i, f)| (f.to_string(), 4 + i)).collect();
        let t = Tokenizer::department(&epoch(), &spec, &spec.departments[0], sealed, columns(), today());
        (spec, t)
    }

    fn tokenizer(compare: Vec<Attribute>) -> Tokenizer {
        household(compare, &[]).1
    }

    /// One row tokenized on its own: the reference a batch of rows must agree with. `Err`
    /// in the second place when the identity number is invalid; the record (if any)
    /// still carries a quasi-identifier token.
    fn tokenize(t: &Tokenizer, number: u32, cells: [&str; 4]) -> (Option<TokenRecord>, Option<&'static str>) {
        let (record, invalid, _) = tokenize_with(t, number, cells, &[]);
        (record, invalid)
    }

    fn tokenize_with(
        t: &Tokenizer,
        number: u32,
        cells: [&str; 4],
        fields: &[&str],
    ) -> (Option<TokenRecord>, Option<&'static str>, FieldSet) {
        let mut scratch = Scratch::default();
        let queued = t.queue_row(&mut scratch, number, cells, fields);
        scratch.compute_queued();
        let layout = t.layout();
        let record = queued.tokens.map(|first| {
            let mut bytes = Vec::new();
            let sealed = queued.sealed.clone().map(|(i, q)| (&scratch.sealed[i], &scratch.sealed[q]));
            encode_record(number, scratch.tokens.run(first, layout.token_count()), sealed, &mut bytes);
            let mut chunk = ChunkBuilder::new(&layout);
            chunk.push_encoded(&bytes);
            let chunk = chunk.finish();
            let decoded = Chunk::decode(&chunk, &layout, 0).expect("a record the matcher accepts");
            let record = decoded.records().next().unwrap().to_record(&layout);
            record
        });
        (record, queued.invalid, queued.too_long)
    }

    #[test]
    fn messy_spellings_of_one_person_give_one_identity_token() {
        let t = tokenizer(vec![Attribute::Name, Attribute::Sex, Attribute::BirthDate]);
        let a = tokenize(&t, 1, ["11010519491231002X", "张三", "女", "1949-12-31"]).0.unwrap();
        let b = tokenize(&t, 2, [" 11010519491231002x ", "張 三", "2", "19491231"]).0.unwrap();
        let (a, mut b) = (a.groups[0].clone(), b.groups[0].clone());
        assert_eq!((a.id, a.qid), (b.id, b.qid));
        // name, name_script, name_sound, sex, birth_date: only the script tells them apart.
        assert_ne!(a.attrs[1], b.attrs[1]);
        b.attrs[1] = a.attrs[1];
        assert_eq!(a.attrs, b.attrs);
    }

    #[test]
    fn an_invalid_number_is_counted_and_still_offers_a_quasi_identifier() {
        let t = tokenizer(vec![Attribute::Sex]);
        let (record, error) = tokenize(&t, 7, ["11010519491231002Y", "张三", "女", "1949-12-31"]);
        assert_eq!(error, Some("charset"));
        let record = record.unwrap();
        assert_eq!((record.row, record.groups[0].id, record.groups[0].attrs[0]), (7, ABSENT, ABSENT));
        assert_ne!(record.groups[0].qid, ABSENT);
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
        assert_eq!(record.groups[0].attrs, vec![ABSENT, ABSENT]);
        assert_ne!(record.groups[0].qid, ABSENT, "birth date and sex come from the valid identity number");
    }

    const PERSON: [&str; 4] = ["11010519491231002X", "张三", "女", "1949-12-31"];

    fn open(
        spec: &JobSpec,
        kind: SealKind,
        person: &[&[u8]],
        fields: &[String],
        row: u32,
        blob: &[u8],
    ) -> Vec<Option<String>> {
        let keys = epoch().pair_keys(&spec.pair("household"));
        let key = if kind == SealKind::Id { keys.field_seal } else { keys.qid_seal };
        let context = SealContext { pair: spec.pair("household"), fields };
        open_values(&key, kind, person, &context, row, blob).expect("opens for the same person")
    }

    #[test]
    fn a_department_seals_its_allowed_values_to_the_identity_and_the_quasi_identifier() {
        let (spec, t) = household(vec![Attribute::Sex], &["status", "address"]);
        assert_eq!(t.layout(), spec.layout("household").unwrap());
        let (record, _, too_long) = tokenize_with(&t, 5, PERSON, &[" 死亡 ", "  "]);
        assert!(too_long.is_empty());
        let (by_id, by_qid) = record.unwrap().sealed.unwrap();
        let fields = t.sealed_fields().to_vec();
        let id = IdNumber::parse(PERSON[0], today()).unwrap();
        let expected = vec![Some("死亡".to_owned()), None];
        assert_eq!(
            open(&spec, SealKind::Id, &id_message(&id), &fields, 5, &by_id),
            expected,
            "trimmed; blank is no value"
        );
        let qid = qid_message("张三", "19491231", Sex::Female);
        assert_eq!(open(&spec, SealKind::Qid, &qid, &fields, 5, &by_qid), expected);
    }

    #[test]
    fn a_value_too_long_is_flagged_and_sealed_as_no_value() {
        let (spec, t) = household(vec![], &["status", "address"]);
        let long = "地".repeat(MAX_VALUE_BYTES / 3 + 1);
        let (record, _, too_long) = tokenize_with(&t, 2, PERSON, &["正常", &long]);
        assert_eq!(too_long.iter().collect::<Vec<_>>(), vec![1]);
        let (by_id, _) = record.unwrap().sealed.unwrap();
        let id = IdNumber::parse(PERSON[0], today()).unwrap();
        let opened = open(&spec, SealKind::Id, &id_message(&id), t.sealed_fields(), 2, &by_id);
        assert_eq!(opened, vec![Some("正常".to_owned()), None]);
    }

    #[test]
    fn an_invalid_number_seals_only_to_the_quasi_identifier_and_no_fields_still_seals() {
        let (spec, t) = household(vec![], &[]);
        assert!(t.layout().sealed, "the job asks for fields: the records carry seals even when the policy allows none");
        let (record, _, _) = tokenize_with(&t, 9, ["11010519491231002Y", "张三", "女", "1949-12-31"], &[]);
        let (by_id, by_qid) = record.unwrap().sealed.unwrap();
        assert!(by_id.is_empty());
        let qid = qid_message("张三", "19491231", Sex::Female);
        assert_eq!(open(&spec, SealKind::Qid, &qid, &[], 9, &by_qid), Vec::<Option<String>>::new());
        let pension = Tokenizer::department(&epoch(), &spec, &spec.departments[1], vec![], columns(), today());
        assert_eq!(pension.layout(), spec.layout("pension").unwrap());
        assert_eq!(tokenize(&pension, 1, PERSON).0.unwrap().sealed, None, "no fields asked, nothing sealed");
    }

    #[test]
    fn the_requester_makes_each_departments_tokens_with_that_departments_keys() {
        let (spec, household) = household(vec![Attribute::Name, Attribute::Sex], &["status"]);
        let pension = Tokenizer::department(&epoch(), &spec, &spec.departments[1], vec![], columns(), today());
        let requester = Tokenizer::requester(&epoch(), &spec, columns(), today());
        assert_eq!(requester.layout(), spec.layout("veterans").unwrap());
        let registry = tokenize(&requester, 1, PERSON).0.unwrap();
        assert_eq!(registry.sealed, None);
        let in_household = tokenize_with(&household, 4, PERSON, &["正常"]).0.unwrap();
        let in_pension = tokenize(&pension, 8, PERSON).0.unwrap();
        assert_eq!(registry.groups, vec![in_household.groups[0].clone(), in_pension.groups[0].clone()]);
        assert_ne!(in_household.groups[0].id, in_pension.groups[0].id, "two departments' tokens never meet");
        assert_ne!(in_household.groups[0].qid, in_pension.groups[0].qid);
    }

    #[test]
    fn a_batch_of_rows_gives_each_row_the_tokens_and_seals_it_gets_alone() {
        // Rows that send everything, only a quasi-identifier, or nothing, in one batch
        // longer than the token batch's flush point: a token or a seal landing in a
        // neighbour's slot would show.
        let (_, t) = household(vec![Attribute::Name, Attribute::Sex, Attribute::BirthDate], &["status", "address"]);
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let samples: [[&str; 6]; 5] = [
            ["11010519491231002X", "张三", "女", "1949-12-31", "正常", "府佑路 1 号"],
            ["11010519491231002Y", "張 三", "女", "1949-12-31", "", "府佑路 2 号"],
            ["4.40118E+17", "", "", "", "死亡", ""],
            ["110105491231002", "李娜", "", "", "迁出", &long],
            ["11010519491231002X", "", "", "19491231", " ", " "],
        ];
        let rows: Vec<(u32, [&str; 6])> = (0..200).map(|i| (i + 1, samples[i as usize % samples.len()])).collect();
        let mut batch = Batch::default();
        for (number, cells) in &rows {
            let (start, first_end) = (batch.text.len(), batch.ends.len());
            for cell in cells {
                batch.text.push_str(cell);
                batch.ends.push(batch.text.len());
            }
            batch.rows.push(BatchRow::Cells { number: *number, start, first_end });
        }
        let mut rows_left = rows.iter();
        batch
            .tokenize(&t, &mut Scratch::default())
            .deliver(&mut |outcome| {
                let &(row, cells) = rows_left.next().expect("one outcome per row");
                let RowOutcome::Tokenized { row: number, record, invalid, too_long } = outcome else {
                    panic!("row {row} unreadable")
                };
                assert_eq!(number, row);
                let person: [&str; 4] = cells[..4].try_into().unwrap();
                let (alone, alone_invalid, alone_too_long) = tokenize_with(&t, row, person, &cells[4..]);
                let alone = alone.map(|r| {
                    let tokens: Vec<_> =
                        r.groups.iter().flat_map(|g| [g.id, g.qid].into_iter().chain(g.attrs.clone())).collect();
                    let mut bytes = Vec::new();
                    encode_record(r.row, &tokens, r.sealed.as_ref().map(|(i, q)| (&i[..], &q[..])), &mut bytes);
                    bytes
                });
                assert_eq!(
                    (record, invalid, too_long),
                    (alone.as_deref(), alone_invalid, alone_too_long),
                    "row {number}"
                );
                Ok::<(), ()>(())
            })
            .unwrap();
        assert!(rows_left.next().is_none(), "every row has an outcome");
    }

    #[test]
    fn a_row_identity_is_what_the_tokens_are_made_of() {
        let identity = RowIdentity::from_cells([" 11010519491231002x ", "張 三", "", ""], today());
        assert_eq!(identity.id, IdNumber::parse(PERSON[0], today()).ok());
        let qid = identity.qid.unwrap();
        assert_eq!(
            (qid.canonical_name.as_str(), qid.birth, qid.sex),
            ("张三", CivilDate::new(1949, 12, 31).unwrap(), Sex::Female)
        );
        assert_eq!(
            RowIdentity::from_cells(["bad", "", "女", "1949-12-31"], today()),
            RowIdentity { id: None, qid: None }
        );
    }
}
