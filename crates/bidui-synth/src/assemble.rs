//! The ground truth, assembled from the people, the registry rows and what each department
//! writer reported: one function per section of [`GroundTruth`].

use std::collections::{BTreeMap, HashMap, HashSet};

use bidui_core::CivilDate;

use crate::{
    depts, idgen, people, places, registry, Appearance, Department, Disagreement, DuplicateGroup, FileInfo, FillIn,
    GroundTruth, ProbableMatch, RegistryRow, StatusCase, Summary, TwoTownAssistance, AS_OF, CATEGORIES,
    REGISTRY_COLUMNS, REGISTRY_FILE, REGISTRY_SHEET, TOWNS,
};

/// What every section is assembled from.
struct Sources<'a> {
    seed: u64,
    universe: &'a people::Universe,
    rows: &'a [registry::RegRow],
    /// Per registry person, their rows in each department.
    appearances: Vec<BTreeMap<Department, Vec<Appearance>>>,
    /// Per registry person, their 1-based registry rows (several for a duplicate).
    rows_of: Vec<Vec<u64>>,
}

impl Sources<'_> {
    fn household_appearance(&self, person: usize) -> Option<&Appearance> {
        self.appearances[person].get(&Department::Household).and_then(|a| a.first())
    }
}

fn date_text(d: CivilDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn sex_text(male: bool) -> String {
    if male { "男" } else { "女" }.to_owned()
}

pub(crate) fn ground_truth(
    seed: u64,
    universe: &people::Universe,
    rows: &[registry::RegRow],
    registry_bytes: u64,
    outputs: &[depts::DeptOutput],
) -> GroundTruth {
    let mut appearances: Vec<BTreeMap<Department, Vec<Appearance>>> = vec![BTreeMap::new(); universe.registry];
    for output in outputs {
        for (p, a) in &output.appearances {
            appearances[*p as usize].entry(output.department).or_default().push(a.clone());
        }
    }
    let mut rows_of: Vec<Vec<u64>> = vec![Vec::new(); universe.registry];
    for (i, row) in rows.iter().enumerate() {
        rows_of[row.person as usize].push(i as u64 + 1);
    }
    let sources = Sources { seed, universe, rows, appearances, rows_of };

    let mut summary = Summary {
        registry_rows: rows.len() as u64,
        registry_persons: universe.registry as u64,
        population: universe.population as u64,
        migrants: universe.migrants as u64,
        ..Summary::default()
    };
    let registry = registry_rows(&sources, &mut summary);
    let duplicates = duplicate_groups(&sources, &registry);
    let status = StatusCases::of(&sources);
    let (fill_ins, disagreements) = fill_ins_and_disagreements(&sources);
    for d in &disagreements {
        *summary.disagreements.entry(d.field.clone()).or_default() += 1;
    }
    let probable_matches = probable_matches(&sources, &registry, &mut summary);
    let files = files(rows.len() as u64, registry_bytes, outputs, &mut summary);
    let unregistered: Vec<u64> = outputs.iter().flat_map(|o| o.unregistered_rows.iter().copied()).collect();

    summary.duplicate_groups = duplicates.len() as u64;
    summary.duplicate_extra_rows = duplicates.iter().map(|g| g.rows.len() as u64 - 1).sum();
    summary.deceased_active = status.deceased_active.len() as u64;
    summary.moved_out_active = status.moved_out_active.len() as u64;
    summary.absent_from_household = status.absent.len() as u64;
    summary.two_town_assistance = status.two_town.len() as u64;
    summary.fill_ins = fill_ins.len() as u64;
    summary.probable_matches = probable_matches.len() as u64;
    summary.unregistered_service_records = unregistered.len() as u64;

    GroundTruth {
        format: "bidui-synth/1".into(),
        seed,
        as_of: date_text(AS_OF),
        files,
        summary,
        registry,
        duplicates,
        deceased_active: status.deceased_active,
        moved_out_active: status.moved_out_active,
        absent_from_household: status.absent,
        two_town_assistance: status.two_town,
        fill_ins,
        disagreements,
        probable_matches,
        unregistered_service_records: unregistered,
    }
}

/// Every registry row: the true identity, the cell as written and its parse outcome, the
/// person's appearances; counts the registry's forms, outcomes, categories and towns.
fn registry_rows(sources: &Sources, summary: &mut Summary) -> Vec<RegistryRow> {
    let universe = sources.universe;
    let mut registry = Vec::with_capacity(sources.rows.len());
    for (i, row) in sources.rows.iter().enumerate() {
        let person = &universe.persons[row.person as usize];
        let identity = idgen::canonical_string(person.body);
        let id_cell = row.cell.text();
        let (outcome, parsed) = idgen::outcome_of(&id_cell);
        let id_cell_type = match &row.cell {
            idgen::Cell::Number(_) => "number",
            idgen::Cell::Text(t) if t.is_empty() => "empty",
            idgen::Cell::Text(_) => "text",
        };
        *summary.registry_id_forms.entry(row.id_form).or_default() += 1;
        *summary.registry_id_outcomes.entry(outcome.clone()).or_default() += 1;
        *summary.categories.entry(CATEGORIES[usize::from(person.category)].to_owned()).or_default() += 1;
        *summary.towns.entry(TOWNS[usize::from(row.town)].to_owned()).or_default() += 1;
        summary.missing_phone += u64::from(row.phone.is_none());
        summary.missing_address += u64::from(row.address.is_none());
        registry.push(RegistryRow {
            row: i as u64 + 1,
            person: row.person,
            id_correct: parsed.as_deref() == Some(identity.as_str()),
            identity,
            id_cell,
            id_cell_type: id_cell_type.to_owned(),
            id_form: row.id_form,
            id_outcome: outcome,
            name: universe.name(row.person).text,
            sex: sex_text(row.male),
            birth_date: date_text(row.birth),
            category: CATEGORIES[usize::from(person.category)].to_owned(),
            town: TOWNS[usize::from(row.town)].to_owned(),
            phone: row.phone.clone(),
            address: row.address.clone(),
            appearances: sources.appearances[row.person as usize].clone(),
        });
    }
    registry
}

/// Persons on several registry rows, in the order of their first row.
fn duplicate_groups(sources: &Sources, registry: &[RegistryRow]) -> Vec<DuplicateGroup> {
    let mut duplicates = Vec::new();
    let mut seen = vec![false; sources.universe.registry];
    for row in registry {
        let p = row.person as usize;
        let rows = &sources.rows_of[p];
        if rows.len() > 1 && !seen[p] {
            seen[p] = true;
            let group: Vec<&RegistryRow> = rows.iter().map(|&r| &registry[r as usize - 1]).collect();
            let towns: Vec<String> = group.iter().map(|r| r.town.clone()).collect();
            duplicates.push(DuplicateGroup {
                rows: rows.clone(),
                different_towns: towns.iter().any(|t| *t != towns[0]),
                detectable_by_id: group.iter().all(|r| r.id_correct),
                towns,
            });
        }
    }
    duplicates
}

/// Registry persons whose household registration or assistance contradicts the registry.
struct StatusCases {
    deceased_active: Vec<StatusCase>,
    moved_out_active: Vec<StatusCase>,
    /// Registry rows of persons absent from household registration.
    absent: Vec<u64>,
    two_town: Vec<TwoTownAssistance>,
}

impl StatusCases {
    fn of(sources: &Sources) -> StatusCases {
        let mut cases = StatusCases {
            deceased_active: Vec::new(),
            moved_out_active: Vec::new(),
            absent: Vec::new(),
            two_town: Vec::new(),
        };
        for p in 0..sources.universe.registry {
            let person = &sources.universe.persons[p];
            let rows_of = &sources.rows_of[p];
            if let Some(h) = sources.household_appearance(p) {
                let case = |status: &str| StatusCase {
                    registry_rows: rows_of.clone(),
                    household_row: h.row,
                    household_status: status.into(),
                };
                match person.status {
                    people::STATUS_DECEASED => cases.deceased_active.push(case("死亡")),
                    people::STATUS_MOVED_OUT => cases.moved_out_active.push(case("迁出")),
                    _ => {}
                }
            }
            if person.flags & people::FLAG_ABSENT != 0 {
                cases.absent.extend(rows_of.iter().copied());
            }
            if person.flags & people::FLAG_TWO_TOWN != 0 {
                let rows: &[Appearance] =
                    sources.appearances[p].get(&Department::Assistance).map_or(&[], |v| v.as_slice());
                cases.two_town.push(TwoTownAssistance {
                    registry_rows: rows_of.clone(),
                    assistance_rows: rows.iter().map(|a| a.row).collect(),
                    towns: rows.iter().filter_map(|a| a.town.clone()).collect(),
                });
            }
        }
        cases.absent.sort_unstable();
        cases.deceased_active.sort_by_key(|c| c.registry_rows[0]);
        cases.moved_out_active.sort_by_key(|c| c.registry_rows[0]);
        cases.two_town.sort_by_key(|c| c.registry_rows[0]);
        cases
    }
}

/// Per registry row: the missing phone and address a department can fill in, and where
/// the registry disagrees with household registration.
fn fill_ins_and_disagreements(sources: &Sources) -> (Vec<FillIn>, Vec<Disagreement>) {
    let mut fill_ins = Vec::new();
    let mut disagreements = Vec::new();
    for (i, row) in sources.rows.iter().enumerate() {
        let r = i as u64 + 1;
        let p = row.person;
        let person = &sources.universe.persons[p as usize];
        let apps = &sources.appearances[p as usize];
        if row.phone.is_none() {
            if let Some(a) = apps.get(&Department::SocialSecurity).and_then(|v| v.first()) {
                fill_ins.push(FillIn {
                    registry_row: r,
                    field: "联系电话".into(),
                    department: Department::SocialSecurity,
                    department_row: a.row,
                    value: places::phone(sources.seed, p),
                });
            }
        }
        let Some(h) = sources.household_appearance(p as usize) else { continue };
        let household_address = places::household_address(sources.seed, p, person.town);
        if row.address.is_none() {
            fill_ins.push(FillIn {
                registry_row: r,
                field: "户籍地址".into(),
                department: Department::Household,
                department_row: h.row,
                value: household_address.clone(),
            });
        }
        let mut disagree = |field: &str, registry_value: String, department_value: String| {
            disagreements.push(Disagreement {
                registry_row: r,
                field: field.into(),
                department: Department::Household,
                department_row: h.row,
                registry_value,
                department_value,
            });
        };
        if row.male != person.male() {
            disagree("性别", sex_text(row.male), sex_text(person.male()));
        }
        if row.birth != person.birth() {
            disagree("出生日期", date_text(row.birth), person.birth().yyyymmdd());
        }
        if row.town != person.town {
            disagree("镇街", TOWNS[usize::from(row.town)].into(), TOWNS[usize::from(person.town)].into());
        }
        if let Some(a) = &row.address {
            if *a != household_address {
                disagree("户籍地址", a.clone(), household_address);
            }
        }
    }
    (fill_ins, disagreements)
}

/// Department rows with the right number of a registry row whose number is wrong: found
/// only by name, birth date and sex.
fn probable_matches(sources: &Sources, registry: &[RegistryRow], summary: &mut Summary) -> Vec<ProbableMatch> {
    let targets: Vec<&RegistryRow> = registry.iter().filter(|r| !r.id_correct).collect();
    let ambiguous = ambiguous_persons(sources.universe, &targets);
    let mut probable_matches = Vec::new();
    for t in &targets {
        let mut any = false;
        for (department, apps) in &t.appearances {
            for a in apps.iter().filter(|a| a.id_correct) {
                any = true;
                probable_matches.push(ProbableMatch {
                    registry_row: t.row,
                    registry_id_outcome: t.id_outcome.clone(),
                    department: *department,
                    department_row: a.row,
                    name_form: a.name_form,
                    ambiguous: ambiguous[t.person as usize],
                });
            }
        }
        summary.probable_match_rows += u64::from(any);
        summary.ambiguous_probable_matches += u64::from(any && ambiguous[t.person as usize]);
    }
    probable_matches
}

/// Per registry person: whether someone else in household registration has the same name,
/// birth date and sex, so the secondary keys find two people.
fn ambiguous_persons(universe: &people::Universe, targets: &[&RegistryRow]) -> Vec<bool> {
    let mut by_key: HashMap<(u64, bool), Vec<u32>> = HashMap::new();
    for t in targets {
        let person = &universe.persons[t.person as usize];
        by_key.entry((person.body / 1000 % 100_000_000, person.male())).or_default().push(t.person);
    }
    let mut ambiguous = vec![false; universe.registry];
    let household_persons = (0..universe.registry as u32)
        .filter(|&p| universe.persons[p as usize].flags & people::FLAG_ABSENT == 0)
        .chain(universe.population_range());
    for q in household_persons {
        let other = &universe.persons[q as usize];
        if let Some(ps) = by_key.get(&(other.body / 1000 % 100_000_000, other.male())) {
            for &p in ps {
                if p != q && !ambiguous[p as usize] && universe.name(p).text == universe.name(q).text {
                    ambiguous[p as usize] = true;
                }
            }
        }
    }
    ambiguous
}

/// The registry's file and each department's; counts each department's rows, registry
/// persons found, and their identity and name forms.
fn files(
    registry_rows: u64,
    registry_bytes: u64,
    outputs: &[depts::DeptOutput],
    summary: &mut Summary,
) -> Vec<FileInfo> {
    let mut files = vec![FileInfo {
        department: None,
        file: REGISTRY_FILE.into(),
        format: "xlsx".into(),
        encoding: "xlsx".into(),
        sheet: Some(REGISTRY_SHEET.into()),
        columns: REGISTRY_COLUMNS.iter().map(|c| c.to_string()).collect(),
        id_column: "公民身份号码".into(),
        name_column: "姓名".into(),
        rows: registry_rows,
        bytes: registry_bytes,
    }];
    for output in outputs {
        let layout = output.department.layout();
        files.push(FileInfo {
            department: Some(output.department),
            file: layout.file.into(),
            format: layout.format.into(),
            encoding: layout.encoding.into(),
            sheet: layout.sheet.map(str::to_owned),
            columns: layout.columns.iter().map(|c| c.to_string()).collect(),
            id_column: layout.id_column.into(),
            name_column: layout.name_column.into(),
            rows: output.rows,
            bytes: output.bytes,
        });
        summary.department_rows.insert(output.department, output.rows);
        let mut found = HashSet::new();
        for (p, a) in &output.appearances {
            found.insert(*p);
            *summary.department_id_forms.entry(output.department).or_default().entry(a.id_form).or_default() += 1;
            *summary.department_name_forms.entry(output.department).or_default().entry(a.name_form).or_default() += 1;
        }
        summary.registry_persons_found.insert(output.department, found.len() as u64);
    }
    files
}
