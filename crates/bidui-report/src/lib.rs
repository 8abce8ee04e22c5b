//! `bidui-report`: the stage-two comparison report (第二阶段数据比对).
//!
//! A job's results ([`JobResults`]), as the requester's agent completed them — the matcher's
//! match structure, with the values sealed to the requester opened and the requester's own
//! fields and people filled in from its registry — say, per registry row and department,
//! found or not, attribute verdicts, the department's values, duplicates and probable
//! matches. This crate
//! turns them into **problems**, each with a stable code, a Chinese label, a severity
//! (严重 / 一般 / 提示), the department it comes from, a detail in plain Chinese and a
//! suggested action ([`problems`]):
//!
//! | code | category |
//! | --- | --- |
//! | `invalid_id.<error code>` | identity number invalid in the registry (`excel-mangled`, `checksum`, …; `unknown` without the requester's local report) |
//! | `unreadable_row` | a registry row the agent could not read (local report) |
//! | `duplicate.same_town`, `duplicate.cross_town` | the same identity number on several live registry rows |
//! | `found_nowhere` | a valid identity number no department has |
//! | `name.variant`, `name.homophone`, `name.different` | the name differs from a department's: 繁简异体 / 同音字 / 姓名不一致 |
//! | `attribute.<attribute>` | sex or birth date differs from a department's |
//! | `probable_match` | found only by name, birth date and sex: 疑似匹配，需上门核实, never merged |
//! | `missing.<field>` | missing data (缺省数据): a registry field empty on the row that a department can fill (its value and name) or that the district profile marks required (无部门可补充) |
//! | status rules | declared in the job spec (`[[rule]]`) or built in ([`rules::builtin`], bound to the district profile's kinds of department and field roles): `not_found`, `deceased_active`, `moved_out_active`, `death_recorded_active`, `two_town_assistance`, `assistance_other_town`, `town_differs`, `address_differs` |
//!
//! Names come from the job's district profile (`bidui_core::profile`): departments by
//! their display names (公安户籍), fields by their labels, the town by the registry field
//! whose role is `town`. Missing data and a declared `fills` rule's problems carry the
//! value a department sealed to the requester, listed on the towns' fill-in sheets.
//!
//! # A run and its report directory
//!
//! A **run** is one job: the `results.json` the requester's agent wrote
//! (`<state_dir>/<job>/results.json`). [`write_report`] writes a run's report directory
//! ([`derive_and_write`] derives its problems as well),
//! on the requester's side:
//!
//! ```text
//! <dir>/results.json    the run's results, as the requester's agent completed them
//!       results.csv     one line per registry row
//!       problems.json   every problem (ProblemSet), for machines and for `report diff`
//!       problems.csv    the same, UTF-8 with BOM
//!       summary.html    the leadership summary: one self-contained page
//!       towns/<镇街>.xlsx  one workbook per town: 问题清单, 缺省数据补充, 说明
//! ```
//!
//! The town workbooks name each row's person (name and identity number as the registry
//! writes them) when the results carry them, as the requester's do. Results without them
//! (the operator's match structure) know registry rows only by their number (序号);
//! `bidui report resolve` fills in names, identity numbers and contacts from the registry
//! file into new workbooks ([`xlsx::write_town_workbooks`] with entries). Nothing goes to
//! the matcher.
//!
//! # Correction rounds
//!
//! Towns correct the registry **in place**: same rows, same order, no row inserted or
//! deleted (a duplicate or a deceased person is closed by setting its status, e.g. 状态 =
//! 注销, not by deleting the row), because the row number is the record reference. The
//! district then runs the same job spec again **under a new job id**: a new job means new
//! tokens (tokens are per job), so the matcher cannot link the two runs by token. `bidui
//! report diff <run-a> <run-b>` compares two runs ([`diff`]) by [`ProblemKey`]: registry
//! row, category family, department and attribute or field; it lists per town what was
//! fixed, what is new and what is still open.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bidui_core::api::JobResults;
use bidui_core::profile::FieldRole;

pub mod claims;
pub mod diff;
pub mod export;
pub mod html;
pub mod labels;
pub mod problems;
pub mod rules;
pub mod upward;
pub mod xlsx;

pub use diff::{diff, Diff};
pub use problems::{derive, parse_invalid_rows, Fill, Options, Problem, ProblemKey, ProblemSet};
pub use xlsx::{write_town_workbooks, RegistryEntry, TownWorkbook};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Input(String),
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{}", bidui_i18n::t!("report-error-xlsx", error = .0))]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

impl ReportError {
    pub fn io(path: &Path, source: std::io::Error) -> ReportError {
        ReportError::Io { path: path.to_owned(), source }
    }
}

pub const RESULTS_FILE: &str = "results.json";
pub const RESULTS_CSV: &str = "results.csv";
pub const PROBLEMS_FILE: &str = "problems.json";
pub const PROBLEMS_CSV: &str = "problems.csv";
pub const SUMMARY_FILE: &str = "summary.html";
pub const TOWNS_DIR: &str = "towns";

/// What [`write_report`] wrote.
#[derive(Clone, Debug)]
pub struct Written {
    pub results: PathBuf,
    pub results_csv: PathBuf,
    pub problems_json: PathBuf,
    pub problems_csv: PathBuf,
    pub summary: PathBuf,
    pub towns: Vec<TownWorkbook>,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|e| ReportError::io(path, e))
}

/// Writes a run's report directory (see the crate documentation). `previous` is the
/// previous run, for the trend in the summary; `generated` a time to print on it.
pub fn write_report(
    results: &JobResults,
    set: &ProblemSet,
    previous: Option<&ProblemSet>,
    generated: Option<&str>,
    dir: &Path,
) -> Result<Written, ReportError> {
    let written = Written::in_dir(dir)?;
    // The town workbooks on a thread of their own, the other files meanwhile: the two
    // halves take about as long.
    let (towns, files) = std::thread::scope(|scope| {
        let towns = scope.spawn(|| write_town_workbooks(set, &dir.join(TOWNS_DIR), registry_entries(results).as_ref()));
        let files = written.results_files(results).and_then(|()| written.problem_files(set, previous, generated));
        (joined(towns), files)
    });
    files?;
    Ok(Written { towns: towns?, ..written })
}

/// Derives a run's problems ([`derive`]) and writes its report directory as
/// [`write_report`] does: the results' own files are written while the problems are
/// derived, then the town workbooks beside the problems' files.
pub fn derive_and_write(
    results: &JobResults,
    options: &Options,
    previous: Option<&ProblemSet>,
    generated: Option<&str>,
    dir: &Path,
) -> Result<(ProblemSet, Written), ReportError> {
    let written = Written::in_dir(dir)?;
    let (set, towns) = std::thread::scope(|scope| {
        let results_files = scope.spawn(|| written.results_files(results));
        let set = derive(results, options)?;
        let (towns, files) = std::thread::scope(|scope| {
            let towns =
                scope.spawn(|| write_town_workbooks(&set, &dir.join(TOWNS_DIR), registry_entries(results).as_ref()));
            (joined(towns), written.problem_files(&set, previous, generated))
        });
        joined(results_files)?;
        files?;
        Ok::<_, ReportError>((set, towns?))
    })?;
    Ok((set, Written { towns, ..written }))
}

fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

impl Written {
    /// The paths of a report directory, created.
    fn in_dir(dir: &Path) -> Result<Written, ReportError> {
        std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
        Ok(Written {
            results: dir.join(RESULTS_FILE),
            results_csv: dir.join(RESULTS_CSV),
            problems_json: dir.join(PROBLEMS_FILE),
            problems_csv: dir.join(PROBLEMS_CSV),
            summary: dir.join(SUMMARY_FILE),
            towns: Vec::new(),
        })
    }

    /// results.json and results.csv: the results alone, no problem needed.
    fn results_files(&self, results: &JobResults) -> Result<(), ReportError> {
        export::write_results_json(results, &self.results)?;
        write_file(&self.results_csv, &export::results_csv(results))
    }

    /// problems.json, problems.csv and summary.html.
    fn problem_files(
        &self,
        set: &ProblemSet,
        previous: Option<&ProblemSet>,
        generated: Option<&str>,
    ) -> Result<(), ReportError> {
        write_file(&self.problems_json, &export::problems_json(set))?;
        write_file(&self.problems_csv, &export::problems_csv(set))?;
        let trend = previous.map(|p| diff::diff(p, set));
        write_file(&self.summary, html::summary(set, trend.as_ref(), generated).as_bytes())
    }
}

/// The people of the registry rows, when the requester's agent filled them in (protocol v2
/// builds the report on the requester's side): the town workbooks then name whom to visit.
pub fn registry_entries(results: &JobResults) -> Option<BTreeMap<u32, RegistryEntry>> {
    let vocabulary = labels::Vocabulary::of(results);
    let contact = vocabulary.registry_field(FieldRole::Phone);
    let town = vocabulary.registry_field(FieldRole::Town);
    let cell = |row: &bidui_core::api::RowResult, field: Option<&str>| field.and_then(|f| row.fields.get(f)).cloned();
    let entries: BTreeMap<u32, RegistryEntry> = results
        .rows
        .iter()
        .filter_map(|row| {
            let person = row.person.as_ref()?;
            let entry = RegistryEntry {
                name: person.name.clone(),
                identity: person.id_number.clone(),
                // The registry's contact and town: its fields of those roles in the profile.
                contact: cell(row, contact).unwrap_or_default(),
                town: cell(row, town),
            };
            Some((row.row, entry))
        })
        .collect();
    (!entries.is_empty()).then_some(entries)
}

fn read(path: &Path) -> Result<Vec<u8>, ReportError> {
    std::fs::read(path).map_err(|e| ReportError::io(path, e))
}

/// Loads a run's problems from a report directory (its `problems.json`, else its
/// `results.json`), a `problems.json`, or a `results.json` (derived with default options).
pub fn load_run(path: &Path) -> Result<ProblemSet, ReportError> {
    let file = if path.is_dir() {
        let problems = path.join(PROBLEMS_FILE);
        if problems.exists() {
            problems
        } else {
            path.join(RESULTS_FILE)
        }
    } else {
        path.to_owned()
    };
    let bytes = read(&file)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ReportError::Parse { path: file.clone(), message: e.to_string() })?;
    let parse_error = |e: serde_json::Error| ReportError::Parse { path: file.clone(), message: e.to_string() };
    if value.get("format").and_then(|f| f.as_str()) == Some(problems::FORMAT) {
        return serde_json::from_value(value).map_err(parse_error);
    }
    let results: JobResults = serde_json::from_value(value).map_err(parse_error)?;
    derive(&results, &Options::default())
}

/// Loads the matcher's results from a `results.json` or a report directory.
pub fn load_results(path: &Path) -> Result<JobResults, ReportError> {
    let file = if path.is_dir() { path.join(RESULTS_FILE) } else { path.to_owned() };
    let bytes = read(&file)?;
    serde_json::from_slice(&bytes).map_err(|e| ReportError::Parse { path: file, message: e.to_string() })
}
