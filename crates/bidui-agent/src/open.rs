//! The requester's last step (spec-v2 §6): opening the sealed values the matcher forwarded
//! with each registry row's own person, and filling in the registry's fields and who the
//! row is. Everything here happens on the requester's side; none of it goes back.
//!
//! A blob opens only with the identity number (kind `id`) or the name, birth date and sex
//! (kind `qid`) it was sealed to, under the department's pair keys, for the department row
//! and field list it was sealed with. So a dishonest matcher forwarding the values of
//! people who are not in the registry, or moving a blob to another row, department or
//! field list, gets nothing opened: such blobs are counted as unopened and dropped.

use std::collections::{BTreeMap, HashMap};

use bidui_core::api::{DepartmentFinding, JobResults, JobSpec, PersonRef, RowResult, SealedValues};
use bidui_core::fieldseal::{Opener, SealContext, SealKind};
use bidui_core::token::{id_message, qid_message};
use bidui_core::{CivilDate, KeyEpoch, PairKeys};

use crate::source::Source;
use crate::tokenize::{ColumnIndex, RowIdentity};

/// The registry columns the opening pass reads: the person's, and the requester's fields.
#[derive(Clone, Debug)]
pub struct RegistryColumns {
    pub person: ColumnIndex,
    /// The job's requester fields and their columns, in job order.
    pub fields: Vec<(String, usize)>,
}

/// One department's sealing keys and the fields its seals hold.
/// One department's openers: under its identity (`id`) and quasi-identifier (`qid`) keys.
struct DepartmentOpener {
    id: Opener,
    qid: Opener,
    fields: Vec<String>,
}

/// The keys to open every department's sealed values in one job.
pub struct Openers {
    departments: BTreeMap<String, DepartmentOpener>,
}

/// Whether `sealed` lists some of `asked`, each once, in `asked`'s order.
fn is_subsequence(sealed: &[String], asked: &[String]) -> bool {
    let mut asked = asked.iter();
    sealed.iter().all(|field| asked.any(|a| a == field))
}

impl Openers {
    /// Keys for the departments of the verified `spec`, with the field lists the matcher
    /// reports each sealed (`sealed_fields`). A department whose reported list is not part
    /// of what the spec asks it for gets no opener: nothing of it opens.
    pub fn new(epoch: &KeyEpoch, spec: &JobSpec, sealed_fields: &BTreeMap<String, Vec<String>>) -> Openers {
        let departments = spec
            .departments
            .iter()
            .filter_map(|d| {
                let fields = sealed_fields.get(&d.party).cloned().unwrap_or_default();
                is_subsequence(&fields, &d.fields).then(|| {
                    let pair = spec.pair(&d.party);
                    let keys: PairKeys = epoch.pair_keys(&pair);
                    let context = SealContext { pair, fields: &fields };
                    let opener = DepartmentOpener {
                        id: Opener::new(&keys.field_seal, SealKind::Id, &context),
                        qid: Opener::new(&keys.qid_seal, SealKind::Qid, &context),
                        fields: fields.clone(),
                    };
                    (d.party.clone(), opener)
                })
            })
            .collect();
        Openers { departments }
    }

    /// The values of one blob, if it opens for `identity` (`None`: the row is not in the
    /// registry).
    fn open(
        &self,
        department: &str,
        blob: &SealedValues,
        identity: Option<&RowIdentity>,
    ) -> Option<Vec<Option<String>>> {
        let opener = self.departments.get(department)?;
        let identity = identity?;
        // Into a buffer of the right size: `hex::decode` grows its output a byte at a time,
        // which was half of opening a district's results.
        let mut sealed = vec![0u8; blob.sealed.len() / 2];
        hex::decode_to_slice(&blob.sealed, &mut sealed).ok()?;
        let opened = match blob.kind {
            SealKind::Id => {
                let id = identity.id.as_ref()?;
                opener.id.open(&id_message(id), blob.row, &sealed)
            }
            SealKind::Qid => {
                let qid = identity.qid.as_ref()?;
                let birth = qid.birth.yyyymmdd_bytes();
                let birth = std::str::from_utf8(&birth).expect("ASCII digits");
                let person = qid_message(&qid.canonical_name, birth, qid.sex);
                opener.qid.open(&person, blob.row, &sealed)
            }
        };
        opened.ok()
    }

    /// Opens every sealed blob of `row` with the row's `identity` into `released` (identity
    /// matches) and `probable_released` (probable matches), values distinct in department
    /// row order; empties `sealed`. Returns the blobs that did not open.
    pub fn open_row(&self, row: &mut RowResult, identity: Option<&RowIdentity>) -> u64 {
        let mut unopened = 0;
        for (department, finding) in &mut row.departments {
            let mut sealed = std::mem::take(&mut finding.sealed);
            sealed.sort_by_key(|blob| blob.row);
            // Only what opens here is a value: nothing the matcher wrote in clear counts.
            finding.released.clear();
            finding.probable_released.clear();
            for blob in &sealed {
                match self.open(department, blob, identity) {
                    Some(values) => self.keep(department, finding, blob.kind, values),
                    None => unopened += 1,
                }
            }
        }
        unopened
    }

    fn keep(&self, department: &str, finding: &mut DepartmentFinding, kind: SealKind, values: Vec<Option<String>>) {
        let into = match kind {
            SealKind::Id => &mut finding.released,
            SealKind::Qid => &mut finding.probable_released,
        };
        let fields = &self.departments[department].fields;
        for (field, value) in fields.iter().zip(values) {
            let Some(value) = value else { continue };
            let kept = into.entry(field.clone()).or_default();
            if !kept.contains(&value) {
                kept.push(value);
            }
        }
    }
}

/// The registry cells the opening needs, read in one pass: each readable row's person
/// cells and the requester's fields, all in one string (a row's cells are `cells_per_row`
/// consecutive slices of it).
pub struct RegistryCells {
    text: String,
    ends: Vec<usize>,
    cells_per_row: usize,
    /// Data row number → index of the row's first cell end in `ends`; the first row of a
    /// number read wins.
    rows: HashMap<u32, usize>,
}

impl RegistryCells {
    /// Reads `columns` of every readable row of `registry`. An unreadable row sent no
    /// tokens, so nothing can match it.
    pub fn read(registry: &mut Source, columns: &RegistryColumns) -> RegistryCells {
        let read: Vec<Option<usize>> =
            columns.person.cells().into_iter().chain(columns.fields.iter().map(|&(_, c)| Some(c))).collect();
        let mut cells =
            RegistryCells { text: String::new(), ends: Vec::new(), cells_per_row: read.len(), rows: HashMap::new() };
        loop {
            let (text_len, ends_len) = (cells.text.len(), cells.ends.len());
            let Some(next) = registry.next_cells(&read, &mut cells.text, &mut cells.ends) else { break };
            match next {
                Ok(number) if !cells.rows.contains_key(&number) => {
                    cells.rows.insert(number, ends_len);
                }
                _ => {
                    cells.text.truncate(text_len);
                    cells.ends.truncate(ends_len);
                }
            }
        }
        cells
    }

    /// The cells of data row `number`, in the order read: the four person cells, then the
    /// fields'.
    fn row(&self, number: u32) -> Option<Vec<&str>> {
        let first = *self.rows.get(&number)?;
        let mut start = if first == 0 { 0 } else { self.ends[first - 1] };
        let cells = self.ends[first..first + self.cells_per_row]
            .iter()
            .map(|&end| {
                let cell = &self.text[start..end];
                start = end;
                cell
            })
            .collect();
        Some(cells)
    }
}

/// Completes `results` on the requester's side from the registry's `cells`: each row's
/// fields (trimmed, empty omitted), its person as the registry writes it, and its opened
/// values. A row the registry does not hold opens nothing, nor does a row number the
/// results list twice but the last time. Sets and returns `results.unopened`. Rows are
/// opened on every core: each is on its own.
pub fn complete(
    results: &mut JobResults,
    cells: &RegistryCells,
    columns: &RegistryColumns,
    openers: &Openers,
    today: CivilDate,
) -> u64 {
    let last_of_number: HashMap<u32, usize> = results.rows.iter().enumerate().map(|(i, r)| (r.row, i)).collect();
    let complete_row = |i: usize, row: &mut RowResult| -> u64 {
        let registry_row = (last_of_number[&row.row] == i).then(|| cells.row(row.row)).flatten();
        let Some(registry_row) = registry_row else {
            row.fields.clear();
            row.person = None;
            return openers.open_row(row, None);
        };
        let person: [&str; 4] = registry_row[..4].try_into().expect("four person cells");
        row.fields = columns
            .fields
            .iter()
            .zip(&registry_row[4..])
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|((field, _), value)| (field.clone(), value.trim().to_owned()))
            .collect();
        // The identity cell exactly as written (stray spaces and tabs included): the town
        // corrects the cell it sees.
        row.person = Some(PersonRef { name: person[1].trim().to_owned(), id_number: person[0].to_owned() });
        openers.open_row(row, Some(&RowIdentity::from_cells(person, today)))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = results.rows.len().div_ceil(threads).max(1);
    let unopened = std::thread::scope(|scope| {
        let opening: Vec<_> = results
            .rows
            .chunks_mut(per_thread)
            .enumerate()
            .map(|(part, rows)| {
                let complete_row = &complete_row;
                scope.spawn(move || {
                    rows.iter_mut().enumerate().map(|(i, row)| complete_row(part * per_thread + i, row)).sum::<u64>()
                })
            })
            .collect();
        opening.into_iter().map(|thread| thread.join().expect("opening a row does not panic")).sum()
    });
    results.unopened = unopened;
    unopened
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::api::{Attribute, DepartmentSpec, RequesterSpec, ResultSummary};
    use bidui_core::fieldseal::seal_values;
    use bidui_core::{EpochSecret, IdNumber, Sex, Suite};

    fn epoch() -> KeyEpoch {
        KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([5; 32]))
    }

    fn today() -> CivilDate {
        CivilDate::new(2026, 11, 29).unwrap()
    }

    fn spec() -> JobSpec {
        let department = |party: &str, fields: &[&str]| DepartmentSpec {
            party: party.into(),
            compare: vec![Attribute::Sex],
            fields: fields.iter().map(|f| f.to_string()).collect(),
            max_records: 100,
        };
        JobSpec {
            id: "zc-1".into(),
            purpose: "比对".into(),
            approval: "1".into(),
            epoch: epoch().key_check_value(),
            suite: Suite::HmacSha256,
            requester: RequesterSpec { party: "veterans".into(), fields: vec!["town".into()], max_records: 100 },
            departments: vec![department("household", &["status", "address"]), department("pension", &["amount"])],
            retention_hours: None,
            rules: Vec::new(),
            profile: None,
        }
    }

    fn sealed_fields() -> BTreeMap<String, Vec<String>> {
        [("household", vec!["status", "address"]), ("pension", vec!["amount"])]
            .into_iter()
            .map(|(d, f)| (d.to_owned(), f.into_iter().map(String::from).collect()))
            .collect()
    }

    const REGISTERED: &str = "11010519491231002X";
    const STRANGER: &str = "440183198001010011";

    /// What `department` seals for its row `row` of the person `id` (or, for `qid`, of the
    /// person 张三 born 1949-12-31, female), as its agent does.
    fn seal(department: &str, kind: SealKind, id: &str, row: u32, values: &[Option<&str>]) -> SealedValues {
        let spec = spec();
        let keys = epoch().pair_keys(&spec.pair(department));
        let fields = sealed_fields()[department].clone();
        let context = SealContext { pair: spec.pair(department), fields: &fields };
        let id = IdNumber::parse(id, today()).unwrap();
        let blob = match kind {
            SealKind::Id => seal_values(&keys.field_seal, kind, &id_message(&id), &context, row, values),
            SealKind::Qid => {
                let person = qid_message("张三", "19491231", Sex::Female);
                seal_values(&keys.qid_seal, kind, &person, &context, row, values)
            }
        };
        SealedValues { row, kind, sealed: hex::encode(blob.unwrap()) }
    }

    fn registry_row(household: Vec<SealedValues>) -> RowResult {
        let finding = DepartmentFinding { found: true, department_rows: 1, sealed: household, ..Default::default() };
        RowResult {
            row: 1,
            fields: BTreeMap::new(),
            id_valid: true,
            duplicate_rows: vec![],
            departments: [("household".to_owned(), finding)].into_iter().collect(),
            person: None,
        }
    }

    fn registered() -> RowIdentity {
        RowIdentity::from_cells([REGISTERED, "张三", "女", "1949-12-31"], today())
    }

    fn openers() -> Openers {
        Openers::new(&epoch(), &spec(), &sealed_fields())
    }

    #[test]
    fn a_blob_sealed_for_a_registry_person_opens_into_released() {
        let mut row = registry_row(vec![
            seal("household", SealKind::Id, REGISTERED, 40, &[Some("迁出"), None]),
            seal("household", SealKind::Id, REGISTERED, 7, &[Some("死亡"), Some("府佑路 1 号")]),
            seal("household", SealKind::Id, REGISTERED, 41, &[Some("死亡"), None]),
        ]);
        assert_eq!(openers().open_row(&mut row, Some(&registered())), 0);
        let household = &row.departments["household"];
        assert!(household.sealed.is_empty(), "opened blobs are dropped");
        assert_eq!(household.released["status"], vec!["死亡", "迁出"], "distinct, in department row order");
        assert_eq!(household.released["address"], vec!["府佑路 1 号"]);
        assert!(household.probable_released.is_empty());
    }

    #[test]
    fn a_blob_whose_hex_is_damaged_counts_as_unopened_and_the_others_still_open() {
        let good = seal("household", SealKind::Id, REGISTERED, 7, &[Some("死亡"), None]);
        let damaged = |change: fn(&mut String)| {
            let mut blob = seal("household", SealKind::Id, REGISTERED, 8, &[Some("迁出"), None]);
            change(&mut blob.sealed);
            blob
        };
        let mut row = registry_row(vec![
            good,
            damaged(|hex| hex.truncate(hex.len() - 1)),
            damaged(|hex| hex.replace_range(..1, "g")),
            damaged(|hex| hex.truncate(0)),
        ]);
        assert_eq!(openers().open_row(&mut row, Some(&registered())), 3);
        assert_eq!(row.departments["household"].released["status"], vec!["死亡"]);
    }

    #[test]
    fn a_probable_blob_opens_into_probable_released() {
        // The registry's number is wrong; name, birth date and sex still open the values.
        let identity = RowIdentity::from_cells(["11010519491231003X", "张三", "女", "1949-12-31"], today());
        let mut row = registry_row(vec![seal("household", SealKind::Qid, REGISTERED, 3, &[Some("死亡"), None])]);
        assert_eq!(openers().open_row(&mut row, Some(&identity)), 0);
        let household = &row.departments["household"];
        assert_eq!(household.probable_released["status"], vec!["死亡"]);
        assert!(household.released.is_empty(), "never merged into the person's values");
    }

    #[test]
    fn a_blob_of_a_person_not_in_the_registry_never_opens() {
        // A dishonest matcher forwards a stranger's values with a registry row, and claims
        // values in clear: nothing of it is kept.
        let mut row = registry_row(vec![
            seal("household", SealKind::Id, STRANGER, 9, &[Some("死亡"), Some("荔城街道 9 号")]),
            seal("household", SealKind::Id, REGISTERED, 2, &[Some("正常"), None]),
        ]);
        let household = row.departments.get_mut("household").unwrap();
        household.released.insert("phone".into(), vec!["13800000000".into()]);
        assert_eq!(openers().open_row(&mut row, Some(&registered())), 1);
        let household = &row.departments["household"];
        assert_eq!(household.released.keys().collect::<Vec<_>>(), vec!["status"]);
        assert_eq!(household.released["status"], vec!["正常"]);
        // A row the registry does not hold opens nothing at all.
        let mut invented = registry_row(vec![seal("household", SealKind::Id, STRANGER, 9, &[Some("死亡"), None])]);
        assert_eq!(openers().open_row(&mut invented, None), 1);
        assert!(invented.departments["household"].released.is_empty());
    }

    #[test]
    fn a_blob_moved_to_another_row_department_or_field_list_does_not_open() {
        let blob = seal("household", SealKind::Id, REGISTERED, 7, &[Some("死亡"), None]);
        let moved_row = SealedValues { row: 8, ..blob.clone() };
        let as_probable = SealedValues { kind: SealKind::Qid, ..blob.clone() };
        for moved in [moved_row, as_probable] {
            let mut row = registry_row(vec![moved]);
            assert_eq!(openers().open_row(&mut row, Some(&registered())), 1);
        }
        let mut row = registry_row(vec![]);
        let pension = DepartmentFinding { found: true, sealed: vec![blob.clone()], ..Default::default() };
        row.departments.insert("pension".into(), pension);
        assert_eq!(openers().open_row(&mut row, Some(&registered())), 1, "another department");
        let mut relabelled = sealed_fields();
        relabelled.insert("household".into(), vec!["status".into()]);
        let mut row = registry_row(vec![blob.clone()]);
        assert_eq!(Openers::new(&epoch(), &spec(), &relabelled).open_row(&mut row, Some(&registered())), 1);
        // A field list the spec never asked for gets no opener at all.
        let mut widened = sealed_fields();
        widened.insert("household".into(), vec!["status".into(), "address".into(), "phone".into()]);
        let mut row = registry_row(vec![blob]);
        assert_eq!(Openers::new(&epoch(), &spec(), &widened).open_row(&mut row, Some(&registered())), 1);
    }

    fn results_of(rows: Vec<RowResult>) -> JobResults {
        JobResults {
            job: "zc-1".into(),
            purpose: "比对".into(),
            approval: "1".into(),
            requester: "veterans".into(),
            departments: vec!["household".into(), "pension".into()],
            summary: ResultSummary::default(),
            rows,
            rules: vec![],
            profile: None,
            registry_fields: vec![],
            sealed_fields: sealed_fields(),
            refused: BTreeMap::new(),
            unopened: 0,
        }
    }

    fn town_columns() -> RegistryColumns {
        RegistryColumns {
            person: ColumnIndex { id: 0, name: Some(1), sex: Some(2), birth_date: Some(3) },
            fields: vec![("town".into(), 4)],
        }
    }

    fn registry_cells(dir: &std::path::Path, csv: &[u8]) -> RegistryCells {
        let path = dir.join("registry.csv");
        std::fs::write(&path, csv).unwrap();
        let mut source = Source::open(&crate::source::SourceSpec::new(&path)).unwrap();
        RegistryCells::read(&mut source, &town_columns())
    }

    #[test]
    fn rows_opened_on_several_threads_each_get_their_own_registry_row() {
        // More rows than one thread takes, each a different person with its own town, and
        // the results in another order than the registry's.
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..301)
            .map(|i| {
                let body = format!("110105194912{:02}{:03}", i % 28 + 1, i);
                let check = bidui_core::idnum::check_character(body.as_bytes().try_into().unwrap());
                format!("{body}{}", check as char)
            })
            .collect();
        let mut csv = "身份证号,姓名,性别,出生日期,镇街\n".to_owned();
        for (i, id) in ids.iter().enumerate() {
            csv.push_str(&format!("{id},张{i},女,1949-12-{:02},镇{i}\n", i % 28 + 1));
        }
        let cells = registry_cells(dir.path(), csv.as_bytes());
        let rows = (1..=301u32)
            .rev()
            .map(|row| {
                let blob = seal("household", SealKind::Id, &ids[row as usize - 1], row * 2, &[Some("正常"), None]);
                RowResult { row, ..registry_row(vec![blob]) }
            })
            .collect();
        let mut results = results_of(rows);
        assert_eq!(complete(&mut results, &cells, &town_columns(), &openers(), today()), 0);
        for row in &results.rows {
            let i = row.row as usize - 1;
            assert_eq!(row.fields["town"], format!("镇{i}"));
            assert_eq!(row.person.as_ref().unwrap().id_number, ids[i]);
            assert_eq!(row.departments["household"].released["status"], vec!["正常"]);
        }
    }

    #[test]
    fn a_row_number_the_results_list_twice_is_completed_the_last_time_only() {
        // What the requester did when it read the registry row by row: a dishonest matcher
        // repeating a row gets the earlier copies emptied, not the person's values twice.
        let dir = tempfile::tempdir().unwrap();
        let cells = registry_cells(
            dir.path(),
            format!("身份证号,姓名,性别,出生日期,镇街\n{REGISTERED},张三,女,1949-12-31,荔城街道\n").as_bytes(),
        );
        let blob = || seal("household", SealKind::Id, REGISTERED, 4, &[Some("死亡"), None]);
        let mut results = results_of(vec![registry_row(vec![blob()]), registry_row(vec![blob()])]);
        assert_eq!(complete(&mut results, &cells, &town_columns(), &openers(), today()), 1);
        assert_eq!(results.rows[0].person, None);
        assert!(results.rows[0].departments["household"].released.is_empty());
        assert_eq!(results.rows[1].person.as_ref().unwrap().name, "张三");
        assert_eq!(results.rows[1].departments["household"].released["status"], vec!["死亡"]);
    }

    #[test]
    fn an_unreadable_registry_row_completes_nothing_and_the_rows_after_it_keep_their_own_cells() {
        let dir = tempfile::tempdir().unwrap();
        // A record over 1 MiB is skipped up to the next line, unread.
        let overlong = "x".repeat(1_100_000);
        let csv = format!(
            "身份证号,姓名,性别,出生日期,镇街\n440183198001010011,李四,男,,{overlong}\n{REGISTERED},张三,女,1949-12-31,荔城街道\n"
        );
        let cells = registry_cells(dir.path(), csv.as_bytes());
        assert_eq!(cells.rows.len(), 1, "row 1 is unreadable");
        let mut second = registry_row(vec![seal("household", SealKind::Id, REGISTERED, 4, &[Some("死亡"), None])]);
        second.row = 2;
        let mut results = results_of(vec![registry_row(vec![]), second]);
        assert_eq!(complete(&mut results, &cells, &town_columns(), &openers(), today()), 0);
        assert_eq!(results.rows[0].person, None, "row 1 could not be read");
        assert_eq!(results.rows[1].fields["town"], "荔城街道");
        assert_eq!(results.rows[1].departments["household"].released["status"], vec!["死亡"]);
    }

    #[test]
    fn the_registry_fills_in_fields_and_persons_and_rows_it_lacks_open_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let csv = format!(
            "身份证号,姓名,性别,出生日期,镇街\n {REGISTERED} ,张三,女,1949-12-31, 荔城街道 \n{STRANGER},李四,男,,\n"
        );
        let cells = registry_cells(dir.path(), csv.as_bytes());
        let mut second = registry_row(vec![]);
        second.row = 2;
        let mut invented = registry_row(vec![seal("household", SealKind::Id, STRANGER, 5, &[Some("死亡"), None])]);
        invented.row = 9;
        let mut results = results_of(vec![
            registry_row(vec![seal("household", SealKind::Id, REGISTERED, 4, &[Some("死亡"), None])]),
            second,
            invented,
        ]);
        assert_eq!(complete(&mut results, &cells, &town_columns(), &openers(), today()), 1);
        assert_eq!(results.unopened, 1);
        let first = &results.rows[0];
        assert_eq!(first.fields["town"], "荔城街道");
        // The identity cell as the registry writes it, spaces included: the town corrects that cell.
        let written = format!(" {REGISTERED} ");
        assert_eq!(first.person, Some(PersonRef { name: "张三".into(), id_number: written }));
        assert_eq!(first.departments["household"].released["status"], vec!["死亡"]);
        assert!(results.rows[1].fields.is_empty(), "an empty field is omitted");
        assert_eq!(results.rows[1].person.as_ref().unwrap().name, "李四");
        assert_eq!(results.rows[2].person, None);
        assert!(results.rows.iter().all(|r| r.departments.values().all(|f| f.sealed.is_empty())));
    }
}
