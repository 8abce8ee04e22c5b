//! Two runs compared: which problems were fixed, which are new, which are still open, per
//! town. A problem is the same across runs when its [`ProblemKey`] is: the registry row,
//! the category family, the department and the attribute or field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::export;
use crate::problems::{Problem, ProblemKey, ProblemSet};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub job: String,
    pub problems: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub fixed: usize,
    pub new: usize,
    pub still_open: usize,
}

/// One town's changes. Fixed problems are listed under the town of the earlier run; new
/// and still-open ones under the town of the later run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TownDiff {
    pub fixed: Vec<Problem>,
    pub new: Vec<Problem>,
    pub still_open: Vec<Problem>,
}

impl TownDiff {
    pub fn counts(&self) -> Counts {
        Counts { fixed: self.fixed.len(), new: self.new.len(), still_open: self.still_open.len() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub before: RunInfo,
    pub after: RunInfo,
    pub totals: Counts,
    pub towns: BTreeMap<String, TownDiff>,
}

fn keyed(set: &ProblemSet) -> BTreeMap<ProblemKey, &Problem> {
    let mut out = BTreeMap::new();
    for p in &set.problems {
        out.entry(p.key()).or_insert(p);
    }
    out
}

pub fn diff(before: &ProblemSet, after: &ProblemSet) -> Diff {
    let a = keyed(before);
    let b = keyed(after);
    let mut towns: BTreeMap<String, TownDiff> =
        before.towns.keys().chain(after.towns.keys()).map(|t| (t.clone(), TownDiff::default())).collect();
    for (key, p) in &a {
        if !b.contains_key(key) {
            towns.entry(p.town.clone()).or_default().fixed.push((*p).clone());
        }
    }
    for (key, p) in &b {
        let town = towns.entry(p.town.clone()).or_default();
        if a.contains_key(key) {
            town.still_open.push((*p).clone());
        } else {
            town.new.push((*p).clone());
        }
    }
    let mut totals = Counts::default();
    for t in towns.values() {
        let c = t.counts();
        totals.fixed += c.fixed;
        totals.new += c.new;
        totals.still_open += c.still_open;
    }
    Diff {
        before: RunInfo { job: before.job.clone(), problems: before.problems.len() },
        after: RunInfo { job: after.job.clone(), problems: after.problems.len() },
        totals,
        towns,
    }
}

/// Columns a text takes in a terminal: CJK characters take two.
fn width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

fn pad(text: &str, columns: usize) -> String {
    format!("{text}{}", " ".repeat(columns.saturating_sub(width(text))))
}

fn lpad(text: &str, columns: usize) -> String {
    format!("{}{text}", " ".repeat(columns.saturating_sub(width(text))))
}

fn table_line(first: &str, cells: [&str; 3]) -> String {
    format!("{}{}{}{}\n", pad(first, 14), lpad(cells[0], 10), lpad(cells[1], 8), lpad(cells[2], 12))
}

fn problem_line(p: &Problem) -> String {
    let department = p.department.as_ref().map(|_| format!("［{}］", p.department_label())).unwrap_or_default();
    format!("    第{}行 {}{} {}", p.row, p.label, department, p.detail)
}

/// The diff as text: a table per town, then (with `details`) each problem.
pub fn text(diff: &Diff, details: bool) -> String {
    let mut out = format!(
        "比对轮次对比：{}（{}个问题）→ {}（{}个问题）\n\n",
        diff.before.job, diff.before.problems, diff.after.job, diff.after.problems
    );
    out.push_str(&table_line("镇街", ["已整改", "新增", "仍未整改"]));
    for (town, t) in &diff.towns {
        let c = t.counts();
        out.push_str(&table_line(town, [&c.fixed.to_string(), &c.new.to_string(), &c.still_open.to_string()]));
    }
    let c = &diff.totals;
    out.push_str(&table_line("合计", [&c.fixed.to_string(), &c.new.to_string(), &c.still_open.to_string()]));
    if details {
        for (town, t) in &diff.towns {
            for (title, list) in [("已整改", &t.fixed), ("新增", &t.new), ("仍未整改", &t.still_open)] {
                if list.is_empty() {
                    continue;
                }
                out.push_str(&format!("\n{town} — {title}（{}）\n", list.len()));
                for p in list {
                    out.push_str(&problem_line(p));
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// One line per problem with its status (已整改 / 新增 / 仍未整改), UTF-8 with BOM.
pub fn csv(diff: &Diff) -> Vec<u8> {
    let mut out = export::SpreadsheetCsv::new();
    out.line(["状态", "镇街", "序号", "问题代码", "问题类别", "严重程度", "部门", "比对项", "详情"]);
    for (town, t) in &diff.towns {
        for (status, list) in [("已整改", &t.fixed), ("新增", &t.new), ("仍未整改", &t.still_open)] {
            for p in list {
                out.line::<&str>([
                    status,
                    town,
                    &p.row.to_string(),
                    &p.code,
                    &p.label,
                    p.severity_label(),
                    p.department_label(),
                    p.subject.as_deref().unwrap_or(""),
                    &p.detail,
                ]);
            }
        }
    }
    out.into_bytes()
}
