//! A report built while the process speaks English (`bidui --lang en report build`): the
//! summary page is English but for the district's own words; the town workbooks, which
//! towns fill in and return, stay the Chinese forms `claims` reads back. A test binary of
//! its own, as the process's language is chosen once and holds for every thread, the
//! workbooks' writer threads too.

use std::path::Path;

use bidui_core::api::{JobResults, Severity};
use bidui_i18n::Lang;
use bidui_report::xlsx::{fill_headers, problem_headers, FILL_SHEET, INFO_SHEET, PROBLEM_SHEET};
use bidui_report::{claims, derive, derive_and_write, html, problems, Options, ProblemSet, Written};
use calamine::{Data, Reader};

fn golden_run() -> JobResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/results.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The golden run corrected, its report written beside the first run's as `report build
/// --previous` does, with the process speaking English.
fn english_report(dir: &Path) -> (ProblemSet, ProblemSet, Written) {
    bidui_i18n::set_language(Lang::En);
    assert_eq!(bidui_i18n::language(), Lang::En);
    let before = derive(&golden_run(), &Options::default()).unwrap();
    let mut corrected = golden_run();
    corrected.rows[2].fields.insert("registry_status".into(), "注销".into());
    corrected.rows[6].fields.insert("phone".into(), "13900000000".into());
    let (after, written) =
        derive_and_write(&corrected, &Options::default(), Some(&before), Some("2026-05-01 10:00"), dir).unwrap();
    (before, after, written)
}

/// Chinese script, CJK punctuation or a full-width form.
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9FFF}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
}

/// The run's own words, which stay as problems.json has them: the job, its purpose and
/// approval, the district, its parties' names, towns, the problems' categories, the rules'
/// labels and the derivation's notes.
fn districts_words(runs: &[&ProblemSet]) -> Vec<String> {
    let mut words = Vec::new();
    for set in runs {
        words.extend([set.job.clone(), set.purpose.clone(), set.approval.clone(), set.district.clone()]);
        words.extend(set.party_names.values().cloned());
        words.extend(set.towns.keys().cloned());
        words.extend(set.problems.iter().map(|p| p.label.clone()));
        words.extend(set.rules.iter().map(|r| r.label.clone()));
        words.extend(set.notes.iter().cloned());
    }
    words.push(problems::NO_TOWN.to_owned());
    // The longest first, so a town inside a note does not leave the note's other words.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words
}

#[test]
fn the_summary_written_in_english_has_no_chinese_but_the_districts_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after, written) = english_report(dir.path());
    let page = std::fs::read_to_string(&written.summary).unwrap();
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    for english in ["Problems per town", "Compared with the previous round", "generated 2026-05-01 10:00 Beijing time"]
    {
        assert!(page.contains(english), "the page lacks {english:?}");
    }
    assert!(page.contains(">Serious<") && page.contains(">Notice<"), "severities in English");
    let mut rest = page.clone();
    for word in districts_words(&[&before, &after]) {
        rest = rest.replace(&html::escape(&word), "");
    }
    let chinese: Vec<&str> = rest.lines().filter(|line| line.chars().any(is_cjk)).collect();
    assert!(chinese.is_empty(), "Chinese on the English page beside the district's words: {chinese:#?}");
}

fn cells(path: &Path, sheet: &str) -> Vec<Vec<String>> {
    let mut workbook = calamine::open_workbook_auto(path).unwrap();
    let range = workbook.worksheet_range(sheet).unwrap();
    let text = |cell: &Data| match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => format!("{other:?}"),
    };
    range.rows().map(|r| r.iter().map(text).collect()).collect()
}

#[test]
fn the_town_workbooks_stay_chinese_forms_when_the_process_speaks_english() {
    let dir = tempfile::tempdir().unwrap();
    let (_, after, written) = english_report(dir.path());
    // Without the requester's people the workbooks have no name columns.
    assert!(bidui_report::registry_entries(&golden_run()).is_none());
    let chinese_severities: Vec<String> = [Severity::Serious, Severity::Normal, Severity::Notice]
        .map(|s| bidui_report::labels::severity_in(Lang::Zh, s))
        .to_vec();
    assert!(written.towns.len() >= 2);
    for town in &written.towns {
        let workbook = calamine::open_workbook_auto(&town.path).unwrap();
        assert_eq!(workbook.sheet_names(), [PROBLEM_SHEET, FILL_SHEET, INFO_SHEET]);
        let problems = cells(&town.path, PROBLEM_SHEET);
        assert_eq!(problems[0], problem_headers(false));
        let severity_column = problems[0].iter().position(|h| h == "严重程度").unwrap();
        for row in &problems[1..] {
            assert!(chinese_severities.contains(&row[severity_column]), "{}: {row:?}", town.town);
        }
        assert_eq!(cells(&town.path, FILL_SHEET)[0], fill_headers(false));
        for (label, _) in cells(&town.path, INFO_SHEET).iter().filter_map(|r| Some((r.first()?, r.get(1)?))) {
            assert!(!["Serious", "Normal", "Notice"].iter().any(|e| label.contains(e)), "{}: {label}", town.town);
        }
        // Returned as written (nothing filled in), it reads back: its sheet and columns are found.
        assert!(claims::read_workbook(&town.path, &after).unwrap().is_empty(), "{}", town.town);
    }
    // problems.csv, for people in a spreadsheet, is Chinese as its problems' wording is.
    let mut csv = csv::Reader::from_path(&written.problems_csv).unwrap();
    let severity_column = csv.headers().unwrap().iter().position(|h| h == "严重程度").unwrap();
    for line in csv.records() {
        let line = line.unwrap();
        assert!(chinese_severities.iter().any(|s| s == &line[severity_column]), "{line:?}");
    }
}
