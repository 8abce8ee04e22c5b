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

/// One CSV cell: quoted when it holds a separator, a quote or a line break; formula-like
/// text is prefixed with `'` so a spreadsheet never runs it.
pub fn cell(text: &str) -> String {
    let text = if formula_like(text) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub fn line(cells: &[&str]) -> String {
    let mut out = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
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
    let mut out = String::from("\u{FEFF}");
    out.push_str(&line(&PROBLEM_COLUMNS));
    for p in &set.problems {
        let cells = problem_cells(p);
        out.push_str(&line(&cells.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.into_bytes()
}

pub fn problems_json(set: &ProblemSet) -> Vec<u8> {
    serde_json::to_vec_pretty(set).expect("a problem set serializes")
}

/// The matcher's results, one line per registry row, UTF-8 with BOM.
pub fn results_csv(results: &bidui_core::api::JobResults) -> Vec<u8> {
    let mut out = String::from("\u{FEFF}");
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
    out.push_str(&line(&header.iter().map(String::as_str).collect::<Vec<_>>()));
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
        out.push_str(&line(&cells.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.into_bytes()
}
