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

/// Reads the registry again and completes `results` on the requester's side: each row's
/// fields (trimmed, empty omitted), its person as the registry writes it, and its opened
/// values. A row the registry does not hold opens nothing. Sets and returns
/// `results.unopened`.
pub fn complete(
    results: &mut JobResults,
    registry: &mut Source,
    columns: &RegistryColumns,
    openers: &Openers,
    today: CivilDate,
) -> u64 {
    let index: HashMap<u32, usize> = results.rows.iter().enumerate().map(|(i, r)| (r.row, i)).collect();
    let mut seen = vec![false; results.rows.len()];
    let read: Vec<Option<usize>> =
        columns.person.cells().into_iter().chain(columns.fields.iter().map(|&(_, c)| Some(c))).collect();
    let mut unopened = 0;
    let (mut text, mut ends) = (String::new(), Vec::with_capacity(read.len()));
    loop {
        text.clear();
        ends.clear();
        let Some(next) = registry.next_cells(&read, &mut text, &mut ends) else { break };
        // An unreadable row sent no tokens, so nothing matched it.
        let Ok(number) = next else { continue };
        let Some(&i) = index.get(&number) else { continue };
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let mut start = 0;
        let cells: Vec<&str> = ends
            .iter()
            .map(|&end| {
                let cell = &text[start..end];
                start = end;
                cell
            })
            .collect();
        let person: [&str; 4] = cells[..4].try_into().expect("four person cells");
        let row = &mut results.rows[i];
        row.fields = columns
            .fields
            .iter()
            .zip(&cells[4..])
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|((field, _), value)| (field.clone(), value.trim().to_owned()))
            .collect();
        // The identity cell exactly as written (stray spaces and tabs included): the town
        // corrects the cell it sees.
        row.person = Some(PersonRef { name: person[1].trim().to_owned(), id_number: person[0].to_owned() });
        unopened += openers.open_row(row, Some(&RowIdentity::from_cells(person, today)));
    }
    for (row, seen) in results.rows.iter_mut().zip(seen) {
        if !seen {
            row.fields.clear();
            row.person = None;
            unopened += openers.open_row(row, None);
        }
    }
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

    #[test]
    fn the_registry_fills_in_fields_and_persons_and_rows_it_lacks_open_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.csv");
        std::fs::write(
            &path,
            format!("身份证号,姓名,性别,出生日期,镇街\n {REGISTERED} ,张三,女,1949-12-31, 荔城街道 \n{STRANGER},李四,男,,\n"),
        )
        .unwrap();
        let mut source = Source::open(&crate::source::SourceSpec::new(&path)).unwrap();
        let columns = RegistryColumns {
            person: ColumnIndex { id: 0, name: Some(1), sex: Some(2), birth_date: Some(3) },
            fields: vec![("town".into(), 4)],
        };
        let mut second = registry_row(vec![]);
        second.row = 2;
        let mut invented = registry_row(vec![seal("household", SealKind::Id, STRANGER, 5, &[Some("死亡"), None])]);
        invented.row = 9;
        let mut results = JobResults {
            job: "zc-1".into(),
            purpose: "比对".into(),
            approval: "1".into(),
            requester: "veterans".into(),
            departments: vec!["household".into(), "pension".into()],
            summary: ResultSummary::default(),
            rows: vec![
                registry_row(vec![seal("household", SealKind::Id, REGISTERED, 4, &[Some("死亡"), None])]),
                second,
                invented,
            ],
            rules: vec![],
            profile: None,
            registry_fields: vec![],
            sealed_fields: sealed_fields(),
            refused: BTreeMap::new(),
            unopened: 0,
        };
        assert_eq!(complete(&mut results, &mut source, &columns, &openers(), today()), 1);
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
