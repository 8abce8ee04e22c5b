//! A small district, read back with independent readers (calamine, csv, encoding_rs) and
//! checked against its ground truth.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use bidui_core::{CivilDate, IdNumber};
use bidui_synth::{
    generate, number_cell_text, Department, GroundTruth, IdForm, NameForm, Options, AS_OF, GROUND_TRUTH_FILE,
    REGISTRY_COLUMNS, REGISTRY_FILE,
};
use calamine::{open_workbook_auto, Data, Reader};

/// A data table: header, then rows, every cell as the text a reader gets.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn column(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }

    /// Data row `row` (1-based), column `name`.
    fn cell(&self, row: u64, name: &str) -> &str {
        let r = &self.rows[row as usize - 1];
        r.get(self.column(name)).map_or("", String::as_str)
    }
}

fn read_xlsx(path: &Path) -> (Table, Vec<bool>) {
    let mut workbook = open_workbook_auto(path).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    let mut rows = range.rows();
    let header = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let mut numbers = Vec::new();
    let mut data = Vec::new();
    for row in rows {
        let mut is_number = false;
        data.push(
            row.iter()
                .enumerate()
                .map(|(i, c)| match c {
                    Data::String(s) => s.clone(),
                    Data::Float(f) => {
                        is_number |= i == 4 || i == 1;
                        number_cell_text(*f)
                    }
                    Data::Int(i) => i.to_string(),
                    Data::Empty => String::new(),
                    other => panic!("unexpected cell {other:?}"),
                })
                .collect(),
        );
        numbers.push(is_number);
    }
    (Table { header, rows: data }, numbers)
}

fn decode(bytes: &[u8], encoding: &str) -> String {
    match encoding {
        "utf-8" => {
            assert!(!bytes.starts_with(b"\xEF\xBB\xBF"));
            String::from_utf8(bytes.to_vec()).unwrap()
        }
        "utf-8-bom" => {
            assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "expected a BOM");
            String::from_utf8(bytes[3..].to_vec()).unwrap()
        }
        "gbk" | "gb18030" => {
            assert!(std::str::from_utf8(bytes).is_err(), "a {encoding} file must not be valid UTF-8");
            let enc = if encoding == "gbk" { encoding_rs::GBK } else { encoding_rs::GB18030 };
            enc.decode_without_bom_handling_and_without_replacement(bytes)
                .unwrap_or_else(|| panic!("not valid {encoding}"))
                .into_owned()
        }
        other => panic!("unknown encoding {other}"),
    }
}

fn read_csv(path: &Path, encoding: &str) -> Table {
    let text = decode(&std::fs::read(path).unwrap(), encoding);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    Table { header, rows }
}

fn outcome(cell: &str, today: CivilDate) -> (String, Option<String>) {
    match IdNumber::parse(cell, today) {
        Ok(id) => ("OK".into(), Some(id.as_str().to_owned())),
        Err(e) => (e.code().into(), None),
    }
}

fn toneless(text: &str) -> Vec<&'static str> {
    use pinyin::ToPinyin;
    text.chars().map(|c| c.to_pinyin().map_or("?", |p| p.plain())).collect()
}

#[test]
fn small_district_agrees_with_its_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = generate(&Options::small(), dir.path()).unwrap();
    let truth: GroundTruth =
        serde_json::from_reader(std::fs::File::open(dir.path().join(GROUND_TRUTH_FILE)).unwrap()).unwrap();
    assert_eq!(manifest.files, truth.files);
    assert_eq!(truth.registry.len(), 300);
    let later = CivilDate::new(2026, 11, 29).unwrap();

    // Files, headers, encodings, row counts.
    let mut tables: HashMap<Option<Department>, Table> = HashMap::new();
    let mut registry_numbers = Vec::new();
    for file in &truth.files {
        let path = dir.path().join(&file.file);
        assert!(path.is_file(), "{} missing", file.file);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), file.bytes);
        let table = if file.format == "xlsx" {
            let (t, numbers) = read_xlsx(&path);
            if file.department.is_none() {
                registry_numbers = numbers;
            }
            t
        } else {
            read_csv(&path, &file.encoding)
        };
        assert_eq!(table.header, file.columns, "{}", file.file);
        assert_eq!(table.rows.len() as u64, file.rows, "{}", file.file);
        assert!(file.columns.contains(&file.id_column) && file.columns.contains(&file.name_column));
        tables.insert(file.department, table);
    }
    assert_eq!(truth.files[0].file, REGISTRY_FILE);
    assert_eq!(tables[&None].header, REGISTRY_COLUMNS);
    let expected_headers: [(Department, &[&str]); 7] = [
        (Department::Household, &["姓名", "性别", "出生日期", "身份证号", "户籍状态", "户籍地址", "所属镇街"]),
        (Department::SocialSecurity, &["姓名", "公民身份号码", "参保状态", "养老金领取", "参保单位", "联系电话"]),
        (Department::MedicalInsurance, &["姓名", "证件号码", "参保类型", "参保状态"]),
        (Department::Housing, &["姓名", "身份证号", "住房类型", "房屋地址"]),
        (Department::Assistance, &["姓名", "身份证号", "救助类型", "所属镇街", "月救助金额"]),
        (Department::Petitions, &["姓名", "身份证号码", "主要诉求", "登记日期"]),
        (Department::ServiceRecords, &["姓名", "公民身份号码", "入伍时间", "退伍时间", "军种"]),
    ];
    for (d, header) in expected_headers {
        assert_eq!(tables[&Some(d)].header, header, "{d:?}");
    }

    // Registry rows: the cell read back has the stated outcome, today or later.
    let registry = &tables[&None];
    let identities: Vec<&str> = truth.registry.iter().map(|r| r.identity.as_str()).collect();
    for (i, row) in truth.registry.iter().enumerate() {
        assert_eq!(row.row, i as u64 + 1);
        assert_eq!(registry.cell(row.row, "序号"), row.row.to_string());
        let cell = registry.cell(row.row, "公民身份号码");
        assert_eq!(cell, row.id_cell, "row {}", row.row);
        assert_eq!(registry_numbers[i], row.id_cell_type == "number", "row {}", row.row);
        for today in [AS_OF, later] {
            let (code, parsed) = outcome(cell, today);
            assert_eq!(code, row.id_outcome, "row {} cell {cell:?}", row.row);
            assert_eq!(parsed.as_deref() == Some(row.identity.as_str()), row.id_correct, "row {}", row.row);
        }
        assert_eq!(registry.cell(row.row, "姓名"), row.name);
        assert_eq!(registry.cell(row.row, "性别"), row.sex);
        assert_eq!(registry.cell(row.row, "出生日期"), row.birth_date);
        assert_eq!(registry.cell(row.row, "镇街"), row.town);
        assert_eq!(registry.cell(row.row, "优抚类别"), row.category);
        assert_eq!(registry.cell(row.row, "联系电话"), row.phone.as_deref().unwrap_or(""));
        assert_eq!(registry.cell(row.row, "户籍地址"), row.address.as_deref().unwrap_or(""));
        assert_eq!(registry.cell(row.row, "状态"), "在册");
        assert!(IdNumber::parse(&row.identity, AS_OF).is_ok());
    }

    // Department rows of registry persons: they exist, hold the stated cell and name.
    let t2s = ferrous_opencc::OpenCC::from_config(ferrous_opencc::config::BuiltinConfig::T2s).unwrap();
    let mut id_forms_seen: BTreeSet<IdForm> = truth.registry.iter().map(|r| r.id_form).collect();
    let mut name_forms_seen = BTreeSet::new();
    for row in &truth.registry {
        for (d, apps) in &row.appearances {
            let table = &tables[&Some(*d)];
            let layout = d.layout();
            for a in apps {
                assert!(a.row >= 1 && a.row as usize <= table.rows.len(), "{d:?} row {}", a.row);
                let cell = table.cell(a.row, layout.id_column);
                let (code, parsed) = outcome(cell, AS_OF);
                assert_eq!(code, a.id_outcome, "{d:?} row {} cell {cell:?}", a.row);
                assert_eq!(parsed.as_deref() == Some(row.identity.as_str()), a.id_correct, "{d:?} row {}", a.row);
                let name = table.cell(a.row, layout.name_column);
                assert_eq!(name, a.name);
                match a.name_form {
                    NameForm::Exact => assert_eq!(name, row.name),
                    NameForm::Spaced => {
                        assert_ne!(name, row.name);
                        assert_eq!(name.replace([' ', '\u{3000}'], ""), row.name);
                    }
                    NameForm::DotLookalike => {
                        assert!(row.name.contains('·') && !name.contains('·'));
                        assert_eq!(name.chars().count(), row.name.chars().count());
                    }
                    NameForm::Variant => {
                        assert_ne!(name, row.name);
                        assert_eq!(t2s.convert(name), row.name);
                    }
                    NameForm::Homophone => {
                        assert_ne!(name, row.name);
                        assert_eq!(toneless(name), toneless(&row.name), "{name} / {}", row.name);
                    }
                    NameForm::HomophoneCantonese => {
                        let (a0, b0) = (name.chars().next().unwrap(), row.name.chars().next().unwrap());
                        assert!(matches!((a0, b0), ('黄', '王') | ('王', '黄')), "{name} / {}", row.name);
                        assert_eq!(
                            name.chars().skip(1).collect::<String>(),
                            row.name.chars().skip(1).collect::<String>()
                        );
                    }
                    NameForm::Different => {
                        assert_ne!(name, row.name);
                        assert_ne!(t2s.convert(name), row.name);
                    }
                }
                if let Some(town) = &a.town {
                    assert_eq!(table.cell(a.row, "所属镇街"), town);
                }
                id_forms_seen.insert(a.id_form);
                name_forms_seen.insert(a.name_form);
            }
        }
    }
    // Every kind of messiness occurs at least once.
    assert_eq!(id_forms_seen, IdForm::ALL.into_iter().collect(), "identity forms");
    assert_eq!(name_forms_seen, NameForm::ALL.into_iter().collect(), "name forms");
    let outcomes: BTreeSet<&str> = truth.registry.iter().map(|r| r.id_outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        BTreeSet::from(["OK", "empty", "excel-mangled", "length", "charset", "birthdate", "checksum"])
    );
    assert!(truth.registry.iter().any(|r| r.id_outcome == "OK" && !r.id_correct), "a valid-looking wrong number");
    assert!(truth.registry.iter().any(|r| r.id_form == IdForm::Old15Number && r.id_correct));
    assert!(truth.registry.iter().any(|r| r.id_form == IdForm::Number && r.id_cell.ends_with("000")));
    let codes: BTreeSet<&str> = truth.registry.iter().map(|r| &r.identity[..6]).collect();
    for code in ["440183", "440118", "440125"] {
        assert!(codes.contains(code), "no registry identity with area code {code}");
    }
    assert!(codes.iter().any(|c| c.starts_with("4401") && !["440183", "440118", "440125"].contains(c)));
    assert!(codes.iter().any(|c| !c.starts_with("44")));
    assert!(truth.registry.iter().any(|r| r.name.contains('·')), "a minority name");
    let categories: BTreeSet<&str> = truth.registry.iter().map(|r| r.category.as_str()).collect();
    assert_eq!(categories.len(), 13);

    // Identities are unique across people: the registry's only repeats are its duplicates.
    let mut rows_by_identity: HashMap<&str, Vec<u64>> = HashMap::new();
    for r in &truth.registry {
        rows_by_identity.entry(&r.identity).or_default().push(r.row);
    }
    let dup_groups: BTreeSet<Vec<u64>> = rows_by_identity.values().filter(|v| v.len() > 1).cloned().collect();
    assert_eq!(dup_groups, truth.duplicates.iter().map(|g| g.rows.clone()).collect());
    assert!(truth.duplicates.iter().any(|g| g.different_towns));
    assert!(truth.duplicates.iter().any(|g| !g.different_towns));
    assert!(truth.duplicates.iter().any(|g| g.rows.len() == 3) || truth.duplicates.len() < 5);
    let household = &tables[&Some(Department::Household)];
    let mut household_ids = HashSet::new();
    for r in 1..=household.rows.len() as u64 {
        let (code, parsed) = outcome(household.cell(r, "身份证号"), AS_OF);
        assert_eq!(code, "OK");
        assert!(household_ids.insert(parsed.unwrap()), "household row {r} repeats a number");
    }
    let registry_ids: HashSet<&str> = identities.iter().copied().collect();

    // Problem cases.
    assert!(!truth.deceased_active.is_empty() && !truth.moved_out_active.is_empty());
    for (cases, status) in [(&truth.deceased_active, "死亡"), (&truth.moved_out_active, "迁出")] {
        for c in cases {
            assert_eq!(household.cell(c.household_row, "户籍状态"), status);
            let (_, parsed) = outcome(household.cell(c.household_row, "身份证号"), AS_OF);
            assert_eq!(parsed.as_deref(), Some(truth.registry[c.registry_rows[0] as usize - 1].identity.as_str()));
        }
    }
    assert!(!truth.absent_from_household.is_empty());
    for &r in &truth.absent_from_household {
        let row = &truth.registry[r as usize - 1];
        assert!(!household_ids.contains(&row.identity));
        assert!(!row.appearances.contains_key(&Department::Household));
    }
    assert!(!truth.two_town_assistance.is_empty());
    let assistance = &tables[&Some(Department::Assistance)];
    for c in &truth.two_town_assistance {
        assert_eq!(c.assistance_rows.len(), 2);
        let towns: BTreeSet<&str> = c.assistance_rows.iter().map(|&r| assistance.cell(r, "所属镇街")).collect();
        assert_eq!(towns.len(), 2);
    }
    let fields: BTreeSet<&str> = truth.fill_ins.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, BTreeSet::from(["联系电话", "户籍地址"]));
    for f in &truth.fill_ins {
        let table = &tables[&Some(f.department)];
        assert_eq!(registry.cell(f.registry_row, &f.field), "");
        assert_eq!(table.cell(f.department_row, &f.field), f.value);
    }
    let fields: BTreeSet<&str> = truth.disagreements.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, BTreeSet::from(["性别", "出生日期", "镇街", "户籍地址"]));
    for d in &truth.disagreements {
        assert_eq!(registry.cell(d.registry_row, &d.field), d.registry_value);
        let column = match d.field.as_str() {
            "镇街" => "所属镇街",
            other => other,
        };
        assert_eq!(household.cell(d.department_row, column), d.department_value);
        assert_ne!(d.registry_value.replace('-', ""), d.department_value.replace('-', ""));
    }
    assert!(!truth.probable_matches.is_empty());
    for m in &truth.probable_matches {
        let row = &truth.registry[m.registry_row as usize - 1];
        assert!(!row.id_correct);
        let layout = m.department.layout();
        let (_, parsed) = outcome(tables[&Some(m.department)].cell(m.department_row, layout.id_column), AS_OF);
        assert_eq!(parsed.as_deref(), Some(row.identity.as_str()));
        if m.department == Department::Household && m.name_form == NameForm::Exact {
            // Name, birth date and sex agree: the secondary keys find the person.
            assert_eq!(household.cell(m.department_row, "姓名"), row.name);
            assert_eq!(household.cell(m.department_row, "性别"), row.sex);
            assert_eq!(household.cell(m.department_row, "出生日期"), row.birth_date.replace('-', ""));
        }
    }
    assert!(truth.probable_matches.iter().any(|m| m.department == Department::Household));
    // Some wrong numbers belong to people with a namesake born the same day: ambiguous.
    let ambiguous: Vec<_> = truth.probable_matches.iter().filter(|m| m.ambiguous).collect();
    assert!(!ambiguous.is_empty());
    for m in ambiguous {
        let row = &truth.registry[m.registry_row as usize - 1];
        let same: Vec<u64> = (1..=household.rows.len() as u64)
            .filter(|&r| {
                household.cell(r, "姓名") == row.name
                    && household.cell(r, "出生日期") == row.birth_date.replace('-', "")
                    && household.cell(r, "性别") == row.sex
            })
            .collect();
        // The namesake, and the person unless absent or written otherwise.
        let own = row
            .appearances
            .get(&Department::Household)
            .map_or(0, |a| a.iter().filter(|a| a.name_form == NameForm::Exact).count());
        assert_eq!(same.len(), 1 + own, "row {}: {same:?}", row.row);
    }
    let service = &tables[&Some(Department::ServiceRecords)];
    assert!(!truth.unregistered_service_records.is_empty());
    for &r in &truth.unregistered_service_records {
        if let (_, Some(id)) = outcome(service.cell(r, "公民身份号码"), AS_OF) {
            assert!(!registry_ids.contains(id.as_str()));
        }
    }
    let s = &truth.summary;
    assert_eq!(s.registry_rows, 300);
    assert_eq!(s.duplicate_extra_rows, 300 - s.registry_persons);
    assert_eq!(s.probable_matches, truth.probable_matches.len() as u64);
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_does_not() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let manifest = generate(&Options::small(), a.path()).unwrap();
    generate(&Options::small(), b.path()).unwrap();
    generate(&Options { seed: Options::small().seed + 1, ..Options::small() }, c.path()).unwrap();
    let mut names: Vec<String> = manifest.files.iter().map(|f| f.file.clone()).collect();
    names.push(GROUND_TRUTH_FILE.into());
    for name in &names {
        let x = std::fs::read(a.path().join(name)).unwrap();
        assert!(x == std::fs::read(b.path().join(name)).unwrap(), "{name} differs between two runs");
        assert!(x != std::fs::read(c.path().join(name)).unwrap(), "{name} ignores the seed");
    }
}

/// BLAKE3 of every file of the small district with the default seed: the generator's output
/// is pinned byte for byte (a refactoring must not move it). An intended change of the data
/// updates this list; the assertion message prints the new one.
const SMALL_DISTRICT_BLAKE3: &[(&str, &str)] = &[
    ("registry.xlsx", "020584efa0d3bacbf177d8797becfbae998a5c29aebea533fa42a84d828d1682"),
    ("household.csv", "e57d7d6377ae9ae38c90cc21349e02b3cee0b9a1969a94878572b2056b380609"),
    ("social-security.csv", "9f12f26fe1110a22360036a72e8ea61ea2f26738d752d7d39c7992e403feb056"),
    ("medical-insurance.xlsx", "b269e68d32d2b17f54f8e62ca3238a1ea230ee2f213c9331db2a6a0289bcede9"),
    ("housing.csv", "f9a3c9bbefc0d9429ceaac29a1dfd109af59dfa326f01c7ae8f946ac524e1c23"),
    ("assistance.xlsx", "cfd66f23d01bb12e277d95c509efd63b06b5e63a513ededf62259ff0005d9a32"),
    ("petitions.csv", "f1ddae1df0fae16a50e4982a0ed913575003d8243b89ebcb7e41fe433c662dd6"),
    ("service-records.xlsx", "f4a4edb7bee04d03296117800a3c5649d21fc41021610d99c1e8d8c80c0d034f"),
    ("ground-truth.json", "05b2585492ceb6f1603287ff55232c947292ae6353e3e36bb62d0665b141b398"),
];

#[test]
fn the_small_district_and_its_printed_summary_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = generate(&Options::small(), dir.path()).unwrap();
    let mut names: Vec<String> = manifest.files.iter().map(|f| f.file.clone()).collect();
    names.push(GROUND_TRUTH_FILE.into());
    let actual: Vec<(String, String)> = names
        .into_iter()
        .map(|name| {
            let hash = blake3::hash(&std::fs::read(dir.path().join(&name)).unwrap()).to_hex().to_string();
            (name, hash)
        })
        .collect();
    let expected: Vec<(String, String)> =
        SMALL_DISTRICT_BLAKE3.iter().map(|(n, h)| (n.to_string(), h.to_string())).collect();
    let listing: String = actual.iter().map(|(n, h)| format!("    (\"{n}\", \"{h}\"),\n")).collect();
    assert!(actual == expected, "the small district's files changed; now:\n{listing}");

    // What `bidui synth` prints (the time aside).
    let printed = manifest.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], format!("synthetic Zengcheng district (seed 20190419) in {}", dir.path().display()));
    assert_eq!(lines[1], "  registry.xlsx                   300 rows        30371 bytes  xlsx ");
    assert_eq!(lines[2], "  household.csv                  3292 rows       385228 bytes  csv utf-8");
    assert_eq!(lines[9], "  ground-truth.json                              270593 bytes");
    assert!(lines[10].starts_with("done in ") && lines[10].ends_with(" s"), "{}", lines[10]);
    assert_eq!(lines.len(), 11);
}

#[test]
fn department_rows_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        registry: 120,
        population: 800,
        department_rows: vec![
            (Department::Housing, 500),
            (Department::Petitions, 40),
            (Department::ServiceRecords, 3),
            (Department::ServiceRecords, 10),
        ],
        ..Options::default()
    };
    let manifest = generate(&options, dir.path()).unwrap();
    let rows = |d: Department| manifest.files.iter().find(|f| f.department == Some(d)).unwrap().rows;
    assert_eq!(rows(Department::Housing), 500);
    assert_eq!(rows(Department::Petitions), 40);
    // The last override counts. Fewer rows asked than registry persons who served: those
    // are kept, nobody else added.
    assert_eq!(options.rows_for(Department::ServiceRecords), 10);
    assert!(rows(Department::ServiceRecords) >= 10);
    assert_eq!(rows(Department::SocialSecurity), 480);
}
