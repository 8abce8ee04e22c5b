//! The report's files on a hand-made run, byte for byte: `tests/golden/results.json` (every
//! category, cells a CSV must quote or defuse, a rule for a department the job lacks) gives
//! the checked-in `problems.json`, `problems.csv`, `results.csv`, `summary.html` and, against
//! a corrected run, `diff.csv` and `diff.txt`.
//!
//! After an intended change of the output, rewrite the expected files with
//! `BIDUI_BLESS=1 cargo test -p bidui-report --test golden` and review their diff.

use std::path::{Path, PathBuf};

use bidui_core::api::JobResults;
use bidui_i18n::{in_language, Lang};
use bidui_report::{derive, diff, export, html, Options};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

fn check(name: &str, actual: &[u8]) {
    let path = golden(name);
    if std::env::var_os("BIDUI_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap();
    assert!(expected == actual, "{name} differs from the checked-in file:\n{}", String::from_utf8_lossy(actual));
}

fn run() -> JobResults {
    serde_json::from_slice(&std::fs::read(golden("results.json")).unwrap()).unwrap()
}

#[test]
fn problems_and_exports_are_byte_identical_to_the_checked_in_files() {
    let results = run();
    let local = bidui_report::parse_invalid_rows(
        "\u{FEFF}row,reason\n2,excel-mangled\n5,checksum\n13,\"merged cells, cannot read\"\n",
    )
    .unwrap();
    let set = derive(&results, &Options { invalid_rows: Some(local), ..Options::default() }).unwrap();
    check("problems.json", &export::problems_json(&set));
    check("problems.csv", &export::problems_csv(&set));
    check("results.csv", &export::results_csv(&results));

    let without_local = derive(&results, &Options::default()).unwrap();
    check("problems-without-local-report.json", &export::problems_json(&without_local));
}

#[test]
fn the_summary_is_byte_identical_to_the_checked_in_page() {
    let before = derive(&run(), &Options::default()).unwrap();
    let mut corrected = run();
    corrected.rows[2].fields.insert("registry_status".into(), "注销".into());
    corrected.rows[6].fields.insert("phone".into(), "13900000000".into());
    let after = derive(&corrected, &Options::default()).unwrap();
    let trend = diff(&before, &after);
    // Chinese, the default, whatever the locale the tests run in.
    let (page, first_run_page) = in_language(Lang::Zh, || {
        (html::summary(&after, Some(&trend), Some("2026-05-01 10:00")), html::summary(&before, None, None))
    });
    check("summary.html", page.as_bytes());
    check("summary-first-run.html", first_run_page.as_bytes());
    check("diff.csv", &bidui_report::diff::csv(&trend));
    check("diff.txt", bidui_report::diff::text(&trend, true).as_bytes());
}
