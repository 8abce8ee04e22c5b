//! The stage-two report on the shared demo district: `bidui report build` with the
//! requester's local invalid-rows report, every category measured against the generator's
//! ground truth (precision and recall), and the town workbooks read back.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use bidui_report::ProblemSet;
use bidui_synth::{Department, GroundTruth, IdForm, NameForm, RegistryRow};
use calamine::{Data, Reader};

use crate::bidui_exe;
use crate::district::district;

/// The report of the shared district, built by the CLI into its own directory.
fn report() -> &'static (PathBuf, ProblemSet) {
    static REPORT: OnceLock<(PathBuf, ProblemSet)> = OnceLock::new();
    REPORT.get_or_init(|| {
        let d = district();
        let out = d.dir.join("report-e2e");
        let invalid_rows = d.dir.join(format!("agents/veterans/state/{}/invalid-rows.csv", d.results.job));
        let output = Command::new(bidui_exe())
            .args(["report", "build"])
            .arg(d.dir.join("report/results.json"))
            .arg("--out")
            .arg(&out)
            .arg("--invalid-rows")
            .arg(&invalid_rows)
            .output()
            .expect("run bidui report build");
        assert!(output.status.success(), "bidui report build failed:\n{}", String::from_utf8_lossy(&output.stderr));
        let set: ProblemSet = serde_json::from_slice(&std::fs::read(out.join("problems.json")).unwrap()).unwrap();
        (out, set)
    })
}

fn department_key(department: Department) -> &'static str {
    department.key()
}

/// Precision and recall of `found` against `expected`, printed; `(1, 1)` when both are
/// empty.
fn score<T: Ord + std::fmt::Debug>(category: &str, expected: &BTreeSet<T>, found: &BTreeSet<T>) -> (f64, f64) {
    let hits = expected.intersection(found).count() as f64;
    let precision = if found.is_empty() { 1.0 } else { hits / found.len() as f64 };
    let recall = if expected.is_empty() { 1.0 } else { hits / expected.len() as f64 };
    println!(
        "{category:<40} expected {:>4}  found {:>4}  precision {precision:.3}  recall {recall:.3}",
        expected.len(),
        found.len()
    );
    (precision, recall)
}

fn exact<T: Ord + std::fmt::Debug + Clone>(
    category: &str,
    expected: BTreeSet<T>,
    found: BTreeSet<T>,
    failures: &mut Vec<String>,
) {
    let (p, r) = score(category, &expected, &found);
    if p < 1.0 || r < 1.0 {
        let missed: Vec<&T> = expected.difference(&found).take(5).collect();
        let extra: Vec<&T> = found.difference(&expected).take(5).collect();
        failures.push(format!("{category}: precision {p:.3}, recall {r:.3}; missed {missed:?}; extra {extra:?}"));
    }
}

fn rows_with(set: &ProblemSet, code: &str, department: Option<&str>) -> BTreeSet<u32> {
    set.problems.iter().filter(|p| p.code == code && p.department.as_deref() == department).map(|p| p.row).collect()
}

/// Whether a registry row can be linked by its identity number to `department`: the
/// registry cell reads as the person's true number, and so does one of the department's
/// cells for the person.
fn linkable(row: &RegistryRow, department: Department) -> bool {
    row.id_correct && row.appearances.get(&department).is_some_and(|a| a.iter().any(|a| a.id_correct))
}

#[test]
fn every_exact_category_has_precision_and_recall_one() {
    let d = district();
    let (_, set) = report();
    let truth: &GroundTruth = &d.truth;
    let registry: HashMap<u32, &RegistryRow> = truth.registry.iter().map(|r| (r.row as u32, r)).collect();
    let mut failures = Vec::new();
    println!("\nper-category precision and recall against the ground truth ({} registry rows)", truth.registry.len());

    // Invalid identity numbers, per error code: every row whose cell fails validation.
    let mut codes: BTreeSet<&str> =
        truth.registry.iter().filter(|r| r.id_outcome != "OK").map(|r| r.id_outcome.as_str()).collect();
    codes.extend(set.problems.iter().filter_map(|p| p.code.strip_prefix("invalid_id.")));
    assert!(codes.len() >= 5, "too few error codes in the district: {codes:?}");
    for code in codes {
        let expected = truth.registry.iter().filter(|r| r.id_outcome == code).map(|r| r.row as u32).collect();
        exact(
            &format!("invalid_id.{code}"),
            expected,
            rows_with(set, &format!("invalid_id.{code}"), None),
            &mut failures,
        );
    }

    // Registry duplicates: rows of one person whose cells read as the true number. A row
    // whose number is wrong cannot join its group by number (excluded); a group keeps
    // being one while two of its rows can.
    let mut duplicates = BTreeSet::new();
    let mut cross_town = BTreeSet::new();
    for group in &truth.duplicates {
        let rows: Vec<&RegistryRow> =
            group.rows.iter().map(|r| registry[&(*r as u32)]).filter(|r| r.id_correct).collect();
        if rows.len() < 2 {
            continue;
        }
        for row in &rows {
            duplicates.insert(row.row as u32);
            if rows.iter().any(|o| o.town != row.town) {
                cross_town.insert(row.row as u32);
            }
        }
    }
    assert!(!cross_town.is_empty(), "the district has no cross-town duplicate");
    let found: BTreeSet<u32> =
        set.problems.iter().filter(|p| p.code.starts_with("duplicate.")).map(|p| p.row).collect();
    exact("duplicate (any town)", duplicates, found, &mut failures);
    exact("duplicate.cross_town", cross_town, rows_with(set, "duplicate.cross_town", None), &mut failures);

    // Not found in household registration: rows with a valid number (invalid ones are
    // reported as invalid instead, never as not found) that no household row holds: the
    // person is absent, or the registry's valid-looking number is not theirs.
    let expected: BTreeSet<u32> = truth
        .registry
        .iter()
        .filter(|r| r.id_outcome == "OK" && !linkable(r, Department::Household))
        .map(|r| r.row as u32)
        .collect();
    let absent: BTreeSet<u32> =
        truth.absent_from_household.iter().map(|r| *r as u32).filter(|r| registry[r].id_correct).collect();
    assert!(!absent.is_empty() && absent.is_subset(&expected));
    exact("not_found (公安户籍)", expected, rows_with(set, "not_found", Some("household")), &mut failures);

    // Deceased / moved out but active: the registry rows of each case, except rows whose
    // number is wrong (they cannot be linked to the household row that says so).
    for (code, cases) in [("deceased_active", &truth.deceased_active), ("moved_out_active", &truth.moved_out_active)] {
        let expected: BTreeSet<u32> = cases
            .iter()
            .flat_map(|c| c.registry_rows.iter().map(|r| registry[&(*r as u32)]))
            .filter(|r| linkable(r, Department::Household))
            .map(|r| r.row as u32)
            .collect();
        assert!(!expected.is_empty(), "no {code} case in the district");
        exact(code, expected, rows_with(set, code, Some("household")), &mut failures);
    }

    // Assistance in two towns: the rows of each case whose number links, when the
    // assistance rows that link (an assistance cell can be Excel-mangled too) still name
    // two towns.
    let mut expected = BTreeSet::new();
    for case in &truth.two_town_assistance {
        for row in case.registry_rows.iter().map(|r| registry[&(*r as u32)]).filter(|r| r.id_correct) {
            let towns: BTreeSet<&str> = row.appearances[&Department::Assistance]
                .iter()
                .filter(|a| a.id_correct)
                .filter_map(|a| a.town.as_deref())
                .collect();
            if towns.len() >= 2 {
                expected.insert(row.row as u32);
            }
        }
    }
    assert!(!expected.is_empty(), "no two-town assistance case in the district");
    exact("two_town_assistance", expected, rows_with(set, "two_town_assistance", Some("assistance")), &mut failures);

    // Fill-ins (缺省数据), with their values: those whose registry row and department row
    // both link by number (no link, no release).
    let expected: BTreeSet<(u32, String, String, String)> = truth
        .fill_ins
        .iter()
        .filter(|f| {
            let row = registry[&(f.registry_row as u32)];
            row.id_correct && row.appearances[&f.department].iter().any(|a| a.row == f.department_row && a.id_correct)
        })
        .map(|f| (f.registry_row as u32, f.field.clone(), department_key(f.department).to_owned(), f.value.clone()))
        .collect();
    let found: BTreeSet<(u32, String, String, String)> = set
        .fill_ins()
        .filter_map(|p| {
            let fill = p.fill.as_ref().unwrap();
            Some((p.row, fill.label.clone(), p.department.clone()?, fill.value.clone()))
        })
        .collect();
    assert!(expected.len() > 20, "too few fill-ins: {}", expected.len());
    exact("fill-ins (缺省数据, with values)", expected, found, &mut failures);

    // Missing data (缺省数据) is complete: every registry row without a phone or an
    // address is listed, with a department's value or 无部门可补充 (issue #12: 24 of 234
    // rows without a phone once appeared nowhere in the report).
    type Lacks = fn(&RegistryRow) -> bool;
    let without: [(&str, Lacks); 2] = [("phone", |r| r.phone.is_none()), ("address", |r| r.address.is_none())];
    for (field, missing) in without {
        let expected: BTreeSet<u32> = truth.registry.iter().filter(|r| missing(r)).map(|r| r.row as u32).collect();
        assert!(!expected.is_empty(), "no row without a {field} in the district");
        let code = format!("missing.{field}");
        let listed: BTreeSet<u32> = set.problems.iter().filter(|p| p.code == code).map(|p| p.row).collect();
        exact(&code, expected, listed, &mut failures);
    }

    // Disagreements with household registration, where both sides link.
    for (field, code) in [
        ("性别", "attribute.sex"),
        ("出生日期", "attribute.birth_date"),
        ("镇街", "town_differs"),
        ("户籍地址", "address_differs"),
    ] {
        let expected: BTreeSet<u32> = truth
            .disagreements
            .iter()
            .filter(|x| x.field == field && linkable(registry[&(x.registry_row as u32)], Department::Household))
            .map(|x| x.registry_row as u32)
            .collect();
        exact(&format!("{code} (公安户籍)"), expected, rows_with(set, code, Some("household")), &mut failures);
    }

    // Name tiers, for information: the matcher's sound key is coarser than a reading in
    // clear (wire-v1 §9.3), so these are measured, not required to be exact.
    for (form, code) in [
        (NameForm::Variant, "name.variant"),
        (NameForm::Homophone, "name.homophone"),
        (NameForm::Different, "name.different"),
    ] {
        let mut expected = BTreeSet::new();
        for row in truth.registry.iter().filter(|r| r.id_correct) {
            for (department, appearances) in &row.appearances {
                if appearances.iter().any(|a| {
                    a.id_correct
                        && (a.name_form == form
                            || (form == NameForm::Homophone && a.name_form == NameForm::HomophoneCantonese))
                }) {
                    expected.insert((row.row as u32, department_key(*department).to_owned()));
                }
            }
        }
        let found: BTreeSet<(u32, String)> =
            set.problems.iter().filter(|p| p.code == code).map(|p| (p.row, p.department.clone().unwrap())).collect();
        score(&format!("{code} (measured only)"), &expected, &found);
    }

    assert!(failures.is_empty(), "categories that are not exact:\n{}", failures.join("\n"));
}

#[test]
fn probable_matches_by_secondary_key_reach_their_targets() {
    let d = district();
    let (_, set) = report();
    // A probable match needs the department to write the name the same once canonical
    // (exact, spaced, middle-dot look-alike, traditional characters); a homophone or
    // another name cannot be found by name + birth date + sex.
    let findable = |form: NameForm| {
        matches!(form, NameForm::Exact | NameForm::Spaced | NameForm::DotLookalike | NameForm::Variant)
    };
    let typo = |form: IdForm| {
        matches!(form, IdForm::Typo | IdForm::TypoValid | IdForm::Length | IdForm::Charset | IdForm::Birthdate)
    };
    let found_all: BTreeSet<(u32, String)> = set
        .problems
        .iter()
        .filter(|p| p.code == "probable_match")
        .map(|p| (p.row, p.department.clone().unwrap()))
        .collect();
    let mut figures = BTreeMap::new();
    for (scope, in_scope) in [
        (
            "rows whose number has a typo",
            &(|r: &RegistryRow| !r.id_correct && typo(r.id_form)) as &dyn Fn(&RegistryRow) -> bool,
        ),
        ("rows whose number is wrong (any way)", &|r: &RegistryRow| !r.id_correct),
    ] {
        let rows: BTreeMap<u32, &RegistryRow> =
            d.truth.registry.iter().filter(|r| in_scope(r)).map(|r| (r.row as u32, r)).collect();
        let expected: BTreeSet<(u32, String)> = d
            .truth
            .probable_matches
            .iter()
            .filter(|m| rows.contains_key(&(m.registry_row as u32)) && findable(m.name_form))
            .map(|m| (m.registry_row as u32, m.department.key().to_owned()))
            .collect();
        let found: BTreeSet<(u32, String)> = found_all.iter().filter(|(r, _)| rows.contains_key(r)).cloned().collect();
        let ambiguous = d
            .truth
            .probable_matches
            .iter()
            .filter(|m| rows.contains_key(&(m.registry_row as u32)) && m.ambiguous)
            .count();
        println!(
            "probable matches on {scope}: {} rows, {ambiguous} (row, department) pairs with a namesake",
            rows.len()
        );
        let pairs = score("  probable_match (row, department)", &expected, &found);
        let expected_rows: BTreeSet<u32> = expected.iter().map(|(r, _)| *r).collect();
        let found_rows: BTreeSet<u32> = found.iter().map(|(r, _)| *r).collect();
        let by_row = score("  probable_match (row)", &expected_rows, &found_rows);
        figures.insert(scope, (pairs, by_row, expected.len()));
    }
    // Outside these rows (a valid, true number found nowhere) a probable match is rare.
    let elsewhere = found_all.iter().filter(|(r, _)| d.truth.registry[*r as usize - 1].id_correct).count();
    println!("  probable matches on rows whose number is right: {elsewhere}");

    // The target is on rows (a town visits a row); per (row, department) a namesake in a
    // department where the person is not can add a pair, which the detail's count shows.
    let (_, (precision, recall), n) = figures["rows whose number has a typo"];
    assert!(n >= 5, "too few typo rows with a findable match: {n}");
    assert!(precision >= 0.99 && recall >= 0.95, "typo rows: precision {precision:.3}, recall {recall:.3}");
    let (_, (precision, recall), _) = figures["rows whose number is wrong (any way)"];
    assert!(precision >= 0.99 && recall >= 0.95, "wrong numbers: precision {precision:.3}, recall {recall:.3}");
}

fn cells(path: &std::path::Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut workbook = calamine::open_workbook_auto(path).unwrap();
    workbook.worksheet_range(sheet).unwrap().rows().map(|r| r.to_vec()).collect()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        _ => String::new(),
    }
}

/// Checks that every problem row of the town workbooks in `dir` names its person as the
/// registry writes them: name, identity cell (as text), contact. Returns the rows checked.
fn check_named_workbooks(dir: &std::path::Path, towns: &BTreeSet<&str>) -> usize {
    let d = district();
    let mut checked = 0;
    for town in towns {
        let rows = cells(&dir.join(format!("{town}.xlsx")), "问题清单");
        assert_eq!(&rows[0][..4].iter().map(text).collect::<Vec<_>>(), &["序号", "姓名", "公民身份号码", "联系电话"]);
        for row in &rows[1..] {
            let truth = &d.truth.registry[text(&row[0]).parse::<usize>().unwrap() - 1];
            assert_eq!(text(&row[1]), truth.name);
            // The identity cell as the registry holds it, as text (an Excel-mangled one
            // too: that is what the town must correct).
            assert!(matches!(row[2], Data::String(_) | Data::Empty), "identity as text: {:?}", row[2]);
            if truth.id_cell_type == "number" {
                // A number cell reads as Excel shows it; the ground truth keeps its digits.
                assert!(!text(&row[2]).is_empty(), "row {}", truth.row);
            } else {
                assert_eq!(text(&row[2]), truth.id_cell, "row {}", truth.row);
            }
            assert_eq!(text(&row[3]), truth.phone.clone().unwrap_or_default());
            checked += 1;
        }
    }
    checked
}

#[test]
fn town_workbooks_name_the_people_and_resolve_still_fills_names_locally() {
    let d = district();
    let (out, set) = report();
    let towns: BTreeSet<&str> = d.truth.registry.iter().map(|r| r.town.as_str()).collect();
    let mut files = 0;
    for town in &towns {
        let path = out.join("towns").join(format!("{town}.xlsx"));
        let workbook = calamine::open_workbook_auto(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(workbook.sheet_names(), vec!["问题清单", "缺省数据补充", "说明"]);
        let problems = cells(&path, "问题清单");
        // Built on the requester's side (protocol v2), the workbooks name the people.
        assert_eq!(problems[0].iter().map(text).collect::<Vec<_>>(), bidui_report::xlsx::problem_headers(true));
        assert_eq!(problems.len() - 1, set.problems.iter().filter(|p| p.town == *town).count(), "{town}");
        for row in &problems[1..] {
            let r = text(&row[0]).parse::<u32>().unwrap();
            assert_eq!(d.truth.registry[r as usize - 1].town, *town, "row {r} is listed for its own town");
        }
        let fills = cells(&path, "缺省数据补充");
        assert_eq!(fills[0].iter().map(text).collect::<Vec<_>>(), bidui_report::xlsx::fill_headers(true));
        assert_eq!(fills.len() - 1, set.fill_ins().filter(|p| p.town == *town).count(), "{town}");
        files += 1;
    }
    assert_eq!(files, std::fs::read_dir(out.join("towns")).unwrap().count(), "one workbook per town, no other");
    for file in ["summary.html", "problems.csv", "problems.json", "results.json", "results.csv"] {
        assert!(out.join(file).exists(), "{file}");
    }
    let csv = std::fs::read(out.join("problems.csv")).unwrap();
    assert!(csv.starts_with("\u{FEFF}序号,".as_bytes()), "CSV in UTF-8 with BOM");
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 1 + set.problems.len());
    assert_eq!(check_named_workbooks(&out.join("towns"), &towns), set.problems.len());

    // Resolve on the requester's side, from its own registry file.
    let resolved = d.dir.join("report-e2e-resolved");
    let output = Command::new(bidui_exe())
        .args(["report", "resolve"])
        .arg(out)
        .arg("--registry")
        .arg(d.dir.join("data/registry.xlsx"))
        .arg("--out")
        .arg(&resolved)
        .output()
        .unwrap();
    assert!(output.status.success(), "resolve failed: {}", String::from_utf8_lossy(&output.stderr));
    let checked = check_named_workbooks(&resolved, &towns);
    assert_eq!(checked, set.problems.len());

    // A registry that is not the run's is refused: its rows would not be the same people.
    let other = d.dir.join("report-e2e-other.csv");
    std::fs::write(&other, "序号,姓名,公民身份号码,联系电话,镇街\n1,某某,440183198001010000,,荔城街道\n").unwrap();
    let output = Command::new(bidui_exe())
        .args(["--lang=en", "report", "resolve"])
        .arg(out)
        .arg("--registry")
        .arg(&other)
        .arg("--out")
        .arg(d.dir.join("report-e2e-wrong"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not look like the registry"));
}

/// `report resolve` used to skip its check when the registry's town column was not named
/// `镇街`, and then put other people's names and identity numbers on the problems of a
/// re-sorted registry.
#[test]
fn resolve_refuses_a_registry_it_cannot_check_or_that_was_re_sorted() {
    let d = district();
    let (out, _) = report();
    let mut rows = registry_cells(&d.dir.join("data/registry.xlsx"));
    let town = rows[0].iter().position(|c| text(c) == "镇街").unwrap();
    rows[0][town] = Data::String("所属镇街".into());
    // Two rows of one town, both compared, change places: every problem's town still agrees.
    let compared: BTreeSet<usize> = d.results.rows.iter().map(|r| r.row as usize).collect();
    let first = *compared.first().unwrap();
    let second = (first + 1..rows.len())
        .find(|r| compared.contains(r) && text(&rows[*r][town]) == text(&rows[first][town]))
        .unwrap();
    rows.swap(first, second);
    let resorted = d.dir.join("report-e2e-resorted.xlsx");
    write_registry(&resorted, &rows);
    let resolve = |report: &std::path::Path, extra: &[&str]| {
        let output = Command::new(bidui_exe())
            .args(["--lang", "en", "report", "resolve"])
            .arg(report)
            .arg("--registry")
            .arg(&resorted)
            .arg("--out")
            .arg(d.dir.join("report-e2e-resorted"))
            .args(extra)
            .output()
            .unwrap();
        assert!(!output.status.success(), "refused");
        crate::printed(&output)
    };
    let said = resolve(out, &[]);
    assert!(
        said.contains("no column \"镇街\"") && said.contains("所属镇街") && said.contains("--town-column"),
        "{said}"
    );
    let said = resolve(out, &["--town-column", "所属镇街"]);
    assert!(said.contains("2 rows hold another person"), "{said}");
    // A report without the requester's results.json, and no town column: nothing to check by.
    let bare = d.dir.join("report-e2e-bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(out.join("problems.json"), bare.join("problems.json")).unwrap();
    let said = resolve(&bare, &["--town-column", ""]);
    assert!(said.contains("nothing to check its rows by"), "{said}");
    assert!(!d.dir.join("report-e2e-resorted").exists(), "nothing resolved");
}

/// Built without the requester agent's local invalid-rows report, invalid numbers used to be
/// listed as `invalid_id.unknown` with a detail pointing to a report the reader did not have:
/// the detail now says the reason was not listed, and the command says which file to pass.
#[test]
fn a_report_without_the_local_invalid_rows_says_which_file_lists_the_reasons() {
    let d = district();
    let out = d.dir.join("report-e2e-unlisted");
    let output = Command::new(bidui_exe())
        .args(["--lang=en", "report", "build"])
        .arg(d.dir.join("report/results.json"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", crate::printed(&output));
    let invalid: u64 = d.results.summary.invalid_ids.values().sum();
    assert!(invalid > 0);
    let said = String::from_utf8_lossy(&output.stdout);
    let expected = format!("--invalid-rows <state_dir>/{}/invalid-rows.csv", d.results.job);
    assert!(said.contains("invalid identity numbers are listed without their reason") && said.contains(&expected));
    let set: ProblemSet = serde_json::from_slice(&std::fs::read(out.join("problems.json")).unwrap()).unwrap();
    let unlisted: Vec<_> = set.problems.iter().filter(|p| p.code == "invalid_id.unknown").collect();
    assert!(!unlisted.is_empty());
    assert!(unlisted.iter().all(|p| p.detail.contains("未列出具体原因")), "{:?}", unlisted[0]);
}

/// The registry sheet as cells, header first.
fn registry_cells(path: &std::path::Path) -> Vec<Vec<Data>> {
    cells(path, bidui_synth::REGISTRY_SHEET)
}

fn write_registry(path: &std::path::Path, rows: &[Vec<Data>]) {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(bidui_synth::REGISTRY_SHEET).unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Data::Float(f) => sheet.write_number(r, c, *f).map(|_| ()),
                Data::Int(i) => sheet.write_number(r, c, *i as f64).map(|_| ()),
                Data::String(s) => sheet.write_string(r, c, s).map(|_| ()),
                Data::Empty => Ok(()),
                other => panic!("unexpected registry cell {other:?}"),
            }
            .unwrap();
        }
    }
    workbook.save(path).unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_correction_round_shows_exactly_the_corrections_as_fixed() {
    let d = district();
    let (before_dir, before) = report();
    let truth = &d.truth;
    let registry: HashMap<u32, &RegistryRow> = truth.registry.iter().map(|r| (r.row as u32, r)).collect();
    let mut used: BTreeSet<u32> = BTreeSet::new();
    let in_duplicate: BTreeSet<u32> = truth.duplicates.iter().flat_map(|g| g.rows.iter().map(|r| *r as u32)).collect();
    let has = |row: u32, code: &str| before.problems.iter().any(|p| p.row == row && p.code == code);
    let problems_of = |row: u32| before.problems.iter().filter(|p| p.row == row).count();

    // Rows whose only change is one correction, chosen from the ground truth.
    let pick = |candidates: Vec<u32>, what: &str, used: &mut BTreeSet<u32>| -> u32 {
        let row = candidates
            .into_iter()
            .find(|r| !used.contains(r) && !in_duplicate.contains(r))
            .unwrap_or_else(|| panic!("no row to correct for {what}"));
        used.insert(row);
        row
    };
    // A wrong identity number, corrected to the person's own: a person found everywhere
    // they are, with nothing else wrong, so no new problem can appear once linked.
    let disagreeing: BTreeSet<u32> = truth.disagreements.iter().map(|x| x.registry_row as u32).collect();
    let status_cases: BTreeSet<u32> = truth
        .deceased_active
        .iter()
        .chain(&truth.moved_out_active)
        .flat_map(|c| c.registry_rows.iter().map(|r| *r as u32))
        .collect();
    let served = bidui_report::rules::SERVED_CATEGORIES;
    let clean_once_linked = |r: &RegistryRow| {
        r.appearances.values().flatten().all(|a| a.id_correct && a.name_form == NameForm::Exact)
            && r.appearances.contains_key(&Department::Household)
            && !r.appearances.contains_key(&Department::Assistance)
            && (!served.contains(&r.category.as_str()) || r.appearances.contains_key(&Department::ServiceRecords))
            && r.phone.is_some()
            && r.address.is_some()
            && !disagreeing.contains(&(r.row as u32))
            && !status_cases.contains(&(r.row as u32))
    };
    let wrong_number = pick(
        truth
            .registry
            .iter()
            .filter(|r| r.id_outcome == "excel-mangled" && clean_once_linked(r))
            .map(|r| r.row as u32)
            .collect(),
        "an Excel-mangled number",
        &mut used,
    );
    // Deceased but active: closed (状态 注销).
    let deceased = pick(
        truth
            .deceased_active
            .iter()
            .filter(|c| c.registry_rows.len() == 1)
            .map(|c| c.registry_rows[0] as u32)
            .filter(|r| registry[r].id_correct)
            .collect(),
        "deceased",
        &mut used,
    );
    // A missing phone, filled in from social security.
    let phone_fill = truth
        .fill_ins
        .iter()
        .find(|f| {
            f.field == "联系电话"
                && has(f.registry_row as u32, "missing.phone")
                && !used.contains(&(f.registry_row as u32))
                && !in_duplicate.contains(&(f.registry_row as u32))
        })
        .unwrap();
    let phone = pick(vec![phone_fill.registry_row as u32], "phone", &mut used);
    // An address that differs from household registration, and a wrong sex.
    let disagreement = |field: &str, code: &str, used: &BTreeSet<u32>| {
        truth
            .disagreements
            .iter()
            .find(|x| {
                x.field == field
                    && has(x.registry_row as u32, code)
                    && !used.contains(&(x.registry_row as u32))
                    && !in_duplicate.contains(&(x.registry_row as u32))
            })
            .unwrap()
            .clone()
    };
    let address_fix = disagreement("户籍地址", "address_differs", &used);
    let address = pick(vec![address_fix.registry_row as u32], "address", &mut used);
    let sex_fix = disagreement("性别", "attribute.sex", &used);
    let sex = pick(vec![sex_fix.registry_row as u32], "sex", &mut used);
    // A duplicate pair: the second row closed.
    let pair =
        truth.duplicates.iter().find(|g| g.rows.len() == 2 && g.detectable_by_id).expect("a detectable duplicate pair");
    let (kept, closed) = (pair.rows[0] as u32, pair.rows[1] as u32);
    assert!(
        has(wrong_number, "invalid_id.excel-mangled")
            && has(deceased, "deceased_active")
            && has(
                kept,
                &before.problems.iter().find(|p| p.row == kept && p.code.starts_with("duplicate")).unwrap().code
            )
    );

    // The corrected registry, same rows in the same order.
    let round = d.dir.join("round-2");
    let _ = std::fs::remove_dir_all(&round);
    copy_dir(&d.dir.join("data"), &round.join("data"));
    let path = round.join("data").join(bidui_synth::REGISTRY_FILE);
    let mut rows = registry_cells(&path);
    let column = |name: &str| rows[0].iter().position(|h| text(h) == name).unwrap();
    let (id, status, phone_col, address_col, sex_col) =
        (column("公民身份号码"), column("状态"), column("联系电话"), column("户籍地址"), column("性别"));
    rows[wrong_number as usize][id] = Data::String(registry[&wrong_number].identity.clone());
    rows[deceased as usize][status] = Data::String("注销".into());
    rows[closed as usize][status] = Data::String("注销".into());
    rows[phone as usize][phone_col] = Data::String(phone_fill.value.clone());
    rows[address as usize][address_col] = Data::String(address_fix.department_value.clone());
    rows[sex as usize][sex_col] = Data::String(sex_fix.department_value.clone());
    write_registry(&path, &rows);

    // The same job spec again, under a new job id.
    let job = "zc-2019-stage2-round2";
    let output = Command::new(bidui_exe())
        .args([
            "demo",
            "--insecure-http",
            "--reuse-data",
            "--registry",
            "600",
            "--population",
            "3000",
            "--job",
            job,
            "--dir",
        ])
        .arg(&round)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "round 2 failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let after_dir = round.join("report-e2e");
    let output = Command::new(bidui_exe())
        .args(["report", "build"])
        .arg(round.join("report/results.json"))
        .arg("--out")
        .arg(&after_dir)
        .arg("--invalid-rows")
        .arg(round.join(format!("agents/veterans/state/{job}/invalid-rows.csv")))
        .arg("--previous")
        .arg(before_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "report build failed: {}", String::from_utf8_lossy(&output.stderr));
    let summary = std::fs::read_to_string(after_dir.join("summary.html")).unwrap();
    assert!(summary.contains("与上一轮比较"), "the summary shows the trend");

    let diff_json = round.join("diff.json");
    let output = Command::new(bidui_exe())
        .args(["report", "diff"])
        .arg(before_dir)
        .arg(&after_dir)
        .arg("--json")
        .arg(&diff_json)
        .arg("--csv")
        .arg(round.join("diff.csv"))
        .output()
        .unwrap();
    assert!(output.status.success(), "report diff failed: {}", String::from_utf8_lossy(&output.stderr));
    let text_out = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{text_out}");
    assert!(text_out.contains("已整改") && text_out.contains("合计"));
    let diff: bidui_report::Diff = serde_json::from_slice(&std::fs::read(&diff_json).unwrap()).unwrap();

    let keys = |select: &dyn Fn(&bidui_report::Problem) -> bool| -> BTreeSet<bidui_report::ProblemKey> {
        before.problems.iter().filter(|p| select(p)).map(|p| p.key()).collect()
    };
    // Rows that become clean or closed lose every problem; the others exactly the one
    // corrected; the kept duplicate loses its duplicate problem.
    let expected_fixed = keys(&|p| {
        [wrong_number, deceased, closed].contains(&p.row)
            || (p.row == phone && p.code == "missing.phone")
            || (p.row == address && p.code == "address_differs")
            || (p.row == sex && p.code == "attribute.sex")
            || (p.row == kept && p.code.starts_with("duplicate."))
    });
    assert!(problems_of(wrong_number) >= 2, "the wrong number also had its probable matches");
    let fixed: BTreeSet<_> = diff.towns.values().flat_map(|t| t.fixed.iter().map(|p| p.key())).collect();
    let new: Vec<_> = diff.towns.values().flat_map(|t| t.new.iter().map(|p| (p.row, p.code.clone()))).collect();
    let still_open: BTreeSet<_> = diff.towns.values().flat_map(|t| t.still_open.iter().map(|p| p.key())).collect();
    assert_eq!(fixed, expected_fixed, "exactly the corrections are fixed");
    assert!(new.is_empty(), "nothing new: {new:?}");
    let all_before: BTreeSet<_> = before.problems.iter().map(|p| p.key()).collect();
    assert_eq!(still_open, all_before.difference(&expected_fixed).cloned().collect(), "everything else is still open");
    println!("correction round: {} fixed, {} new, {} still open", fixed.len(), new.len(), still_open.len());
}

/// The report upward, through the binary: from the district's report, then two districts
/// merged into a city. Neither file holds a person's name or identity number (scanned for
/// every registry person), and the same district twice is refused.
#[test]
fn the_report_upward_and_the_city_merge_hold_figures_only() {
    let d = district();
    let (report_dir, set) = report();
    let work = crate::fresh_dir("upward");
    let district_out = work.join("district");
    let made = crate::bidui(&["report", "upward", crate::path(report_dir), "--out", crate::path(&district_out)]);
    assert!(made.status.success(), "{}", crate::printed(&made));
    let json = std::fs::read_to_string(district_out.join("upward.json")).unwrap();
    let upward: bidui_report::upward::Upward = serde_json::from_str(&json).unwrap();
    assert_eq!(upward.totals.problems, set.problems.len() as u64);

    let mut other: serde_json::Value = serde_json::from_str(&json).unwrap();
    other["area"] = "从化区".into();
    let other_file = work.join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let city = work.join("city");
    let district_file = district_out.join("upward.json");
    let merged = crate::bidui(&[
        "report",
        "merge",
        crate::path(&district_file),
        crate::path(&other_file),
        "--area",
        "广州市",
        "--out",
        crate::path(&city),
    ]);
    assert!(merged.status.success(), "{}", crate::printed(&merged));
    let twice = crate::bidui(&[
        "report",
        "merge",
        crate::path(&district_file),
        crate::path(&district_file),
        "--area",
        "广州市",
        "--out",
        crate::path(&work.join("twice")),
    ]);
    assert!(!twice.status.success(), "{}", crate::printed(&twice));

    let people: Vec<&bidui_core::api::PersonRef> = d.results.rows.iter().filter_map(|r| r.person.as_ref()).collect();
    assert!(people.len() > 100);
    let names = aho_corasick::AhoCorasick::new(
        people.iter().flat_map(|p| [p.name.as_str(), p.id_number.trim()]).filter(|s| s.chars().count() >= 2),
    )
    .unwrap();
    for file in [district_out.join("upward.json"), city.join("upward.json")] {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(names.find(&text).is_none(), "{} names a person", file.display());
    }
    for file in [district_out.join("upward.xlsx"), city.join("upward.xlsx")] {
        let mut workbook = calamine::open_workbook_auto(&file).unwrap();
        for sheet in workbook.sheet_names() {
            for row in workbook.worksheet_range(&sheet).unwrap().rows() {
                for cell in row {
                    let text = cell.to_string();
                    assert!(names.find(&text).is_none(), "{} {sheet} names a person: {text}", file.display());
                }
            }
        }
    }
}

/// The correction loop's commands through the binary: a returned workbook is taken back
/// into claims.json; a file that is not a town workbook is refused and changes nothing;
/// `progress` ranks every town.
#[test]
fn report_claims_refuses_what_is_not_a_town_workbook_and_progress_ranks_the_towns() {
    let (report_dir, set) = report();
    let work = crate::fresh_dir("claims");
    let round = work.join("round-1");
    std::fs::create_dir_all(&round).unwrap();
    std::fs::copy(report_dir.join("problems.json"), round.join("problems.json")).unwrap();
    let town = std::fs::read_dir(report_dir.join("towns")).unwrap().next().unwrap().unwrap().path();
    let taken = crate::bidui(&["report", "claims", crate::path(&round), crate::path(&town)]);
    assert!(taken.status.success(), "{}", crate::printed(&taken));
    let kept = std::fs::read(round.join("claims.json")).unwrap();

    let upward = work.join("upward");
    assert!(crate::bidui(&["report", "upward", crate::path(report_dir), "--out", crate::path(&upward)])
        .status
        .success());
    let refused = crate::bidui(&["report", "claims", crate::path(&round), crate::path(&upward.join("upward.xlsx"))]);
    assert!(!refused.status.success() && crate::printed(&refused).contains("问题清单"), "{}", crate::printed(&refused));
    assert_eq!(std::fs::read(round.join("claims.json")).unwrap(), kept, "a refused workbook changed the claims");

    let progress = crate::bidui(&["report", "progress", crate::path(&round), crate::path(report_dir)]);
    assert!(progress.status.success(), "{}", crate::printed(&progress));
    let ranked = String::from_utf8_lossy(&progress.stdout).lines().count() - 1;
    assert_eq!(ranked, set.towns.len());
}
