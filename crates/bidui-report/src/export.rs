//! CSV (UTF-8 with BOM, so Excel opens it right) and JSON for machines.

use crate::problems::{Problem, ProblemSet};

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
fn defused(text: &str) -> String {
    if formula_like(text) {
        format!("'{text}")
    } else {
        text.to_owned()
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
        self.0
            .write_record(cells.into_iter().map(|c| defused(c.as_ref())))
            .expect("CSV lines in memory have as many cells as the header");
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

/// The run's results as the requester's agent completed them, indented.
pub fn results_json(results: &bidui_core::api::JobResults) -> Vec<u8> {
    serde_json::to_vec_pretty(results).expect("results serialize")
}

/// The matcher's results, one line per registry row, UTF-8 with BOM.
pub fn results_csv(results: &bidui_core::api::JobResults) -> Vec<u8> {
    let mut out = SpreadsheetCsv::new();
    let mut requester_fields: Vec<String> = results.rows.iter().flat_map(|r| r.fields.keys().cloned()).collect();
    requester_fields.sort();
    requester_fields.dedup();
    let mut header = vec!["row".to_owned()];
    header.extend(requester_fields.iter().cloned());
    header.extend(["id_valid".to_owned(), "duplicate_rows".to_owned()]);
    for d in &results.departments {
        header.extend([
            format!("{d}.found"),
            format!("{d}.attributes"),
            format!("{d}.released"),
            format!("{d}.probable_rows"),
        ]);
    }
    out.line(header);
    for row in &results.rows {
        let mut cells = vec![row.row.to_string()];
        cells.extend(requester_fields.iter().map(|f| row.fields.get(f).cloned().unwrap_or_default()));
        cells.push(row.id_valid.to_string());
        cells.push(row.duplicate_rows.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
        for d in &results.departments {
            let finding = row.departments.get(d).cloned().unwrap_or_default();
            cells.push(finding.found.to_string());
            cells.push(finding.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";"));
            cells.push(
                finding.released.iter().map(|(k, v)| format!("{k}={}", v.join("|"))).collect::<Vec<_>>().join(";"),
            );
            cells.push(finding.probable_rows.to_string());
        }
        out.line(cells);
    }
    out.into_bytes()
}
