//! CSV (UTF-8 with BOM, so Excel opens it right) and JSON for machines.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use bidui_core::api::{DepartmentFinding, JobResults};

use crate::problems::{Problem, ProblemSet};
use crate::ReportError;

/// Whether a spreadsheet would take the text for a formula (`=…`, `@…`, `+A1`, `-A1`; a
/// signed number such as a `+86` phone stays as it is).
fn formula_like(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some('=' | '@') => true,
        Some('+' | '-') => chars.next().is_some_and(|c| !c.is_ascii_digit()),
        _ => false,
    }
}

/// A cell as a spreadsheet may show it: formula-like text is prefixed with `'` so a
/// spreadsheet never runs it.
fn defused(text: &str) -> Cow<'_, str> {
    if formula_like(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// CSV as spreadsheets open it: UTF-8 with a BOM (so Excel does not guess a code page),
/// CRLF line ends, cells quoted only when they hold a separator, a quote or a line break,
/// formula-like text defused.
pub struct SpreadsheetCsv(csv::Writer<Vec<u8>>);

impl SpreadsheetCsv {
    pub fn new() -> SpreadsheetCsv {
        let bom = "\u{FEFF}".as_bytes().to_vec();
        SpreadsheetCsv(csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(bom))
    }

    /// One line; every line of a file has as many cells as its header.
    pub fn line<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        const IN_MEMORY: &str = "CSV lines in memory have as many cells as the header";
        for cell in cells {
            self.0.write_field(defused(cell.as_ref()).as_bytes()).expect(IN_MEMORY);
        }
        self.0.write_record(None::<&[u8]>).expect(IN_MEMORY);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_inner().expect("a CSV writer in memory flushes")
    }
}

impl Default for SpreadsheetCsv {
    fn default() -> SpreadsheetCsv {
        SpreadsheetCsv::new()
    }
}

pub const PROBLEM_COLUMNS: [&str; 12] = [
    "序号",
    "镇街",
    "问题代码",
    "问题类别",
    "严重程度",
    "部门",
    "部门代码",
    "比对项",
    "详情",
    "建议处理",
    "补充字段",
    "补充值",
];

fn problem_cells(p: &Problem) -> Vec<String> {
    vec![
        p.row.to_string(),
        p.town.clone(),
        p.code.clone(),
        p.label.clone(),
        p.severity_label().to_owned(),
        p.department_label().to_owned(),
        p.department.clone().unwrap_or_default(),
        p.subject.clone().unwrap_or_default(),
        p.detail.clone(),
        p.action.clone(),
        p.fill.as_ref().map(|f| f.label.clone()).unwrap_or_default(),
        p.fill.as_ref().map(|f| f.value.clone()).unwrap_or_default(),
    ]
}

/// Every problem, one line each, UTF-8 with BOM.
pub fn problems_csv(set: &ProblemSet) -> Vec<u8> {
    let mut out = SpreadsheetCsv::new();
    out.line(PROBLEM_COLUMNS);
    for p in &set.problems {
        out.line(problem_cells(p));
    }
    out.into_bytes()
}

pub fn problems_json(set: &ProblemSet) -> Vec<u8> {
    serde_json::to_vec_pretty(set).expect("a problem set serializes")
}

/// The run's results as the requester's agent completed them, compact as its agent writes
/// them (tens of megabytes for a registry of tens of thousands), streamed into `path`.
pub fn write_results_json(results: &JobResults, path: &Path) -> Result<(), ReportError> {
    let io = |e: std::io::Error| ReportError::io(path, e);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
    serde_json::to_writer(&mut out, results).map_err(|e| io(e.into()))?;
    out.flush().map_err(io)
}

/// One line's cells, their buffers reused from line to line.
#[derive(Default)]
struct Cells {
    cells: Vec<String>,
    used: usize,
}

impl Cells {
    /// The next cell of the line, empty.
    fn next(&mut self) -> &mut String {
        if self.used == self.cells.len() {
            self.cells.push(String::new());
        }
        self.used += 1;
        let cell = &mut self.cells[self.used - 1];
        cell.clear();
        cell
    }
}

/// The matcher's results, one line per registry row, UTF-8 with BOM.
pub fn results_csv(results: &JobResults) -> Vec<u8> {
    let mut out = SpreadsheetCsv::new();
    let requester_fields = crate::labels::carried_fields(results);
    let mut header = vec!["row".to_owned()];
    header.extend(requester_fields.iter().map(|f| (*f).to_owned()));
    header.extend(["id_valid".to_owned(), "duplicate_rows".to_owned()]);
    for d in &results.departments {
        header.extend([
            format!("{d}.found"),
            format!("{d}.attributes"),
            format!("{d}.released"),
            format!("{d}.probable_rows"),
        ]);
    }
    out.line(&header);
    let absent = DepartmentFinding::default();
    let mut cells = Cells::default();
    for row in &results.rows {
        cells.used = 0;
        let _ = write!(cells.next(), "{}", row.row);
        for field in &requester_fields {
            cells.next().push_str(row.fields.get(*field).map_or("", String::as_str));
        }
        cells.next().push_str(if row.id_valid { "true" } else { "false" });
        let duplicates = cells.next();
        for (i, other) in row.duplicate_rows.iter().enumerate() {
            let _ = write!(duplicates, "{}{other}", if i == 0 { "" } else { " " });
        }
        for d in &results.departments {
            let finding = row.departments.get(d).unwrap_or(&absent);
            cells.next().push_str(if finding.found { "true" } else { "false" });
            let attributes = cells.next();
            for (i, (k, v)) in finding.attributes.iter().enumerate() {
                let _ = write!(attributes, "{}{k}={v}", if i == 0 { "" } else { ";" });
            }
            let released = cells.next();
            for (i, (k, values)) in finding.released.iter().enumerate() {
                let _ = write!(released, "{}{k}=", if i == 0 { "" } else { ";" });
                for (j, value) in values.iter().enumerate() {
                    let _ = write!(released, "{}{value}", if j == 0 { "" } else { "|" });
                }
            }
            let _ = write!(cells.next(), "{}", finding.probable_rows);
        }
        out.line(&cells.cells[..cells.used]);
    }
    out.into_bytes()
}
