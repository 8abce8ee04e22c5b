//! The report upward (上报): what a district sends to the city, and the city on to the
//! province — aggregate figures only. Per town and category the problem counts, per
//! department its coverage, and, against the previous round, each town's completion
//! (整改完成率). No person, no identity number, no registry row number: a figure is a count
//! or a share, a name is a town's, a department's or a category's.
//!
//! [`Upward::of`] makes a district's figures from its run (and the previous one);
//! [`merge`] adds districts (or cities) up into one file, so a city-level instance merges
//! what its districts send and the province what its cities send. Both are written as
//! JSON ([`FORMAT`]) and as a workbook a city office reads ([`write_xlsx`]).

use std::collections::BTreeMap;
use std::path::Path;

use bidui_core::api::Severity;
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};

use crate::problems::ProblemSet;
use crate::xlsx::{header, Formats};
use crate::{diff, ReportError};

/// The version of an upward file.
pub const FORMAT: &str = "bidui-upward/1";

/// One area's figures: a town of a district, or a whole district, city or province.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Its name: the town, district or city.
    pub name: String,
    /// Registry people (rows).
    pub people: u64,
    /// People with at least one problem.
    pub people_with_problems: u64,
    pub problems: u64,
    pub serious: u64,
    pub normal: u64,
    pub notice: u64,
    /// Problems per category, by the category's label.
    pub categories: BTreeMap<String, u64>,
    /// Against the previous round: problems fixed, still open, and new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub fixed: u64,
    pub still_open: u64,
    pub new: u64,
}

impl Progress {
    /// 整改完成率: the share of the previous round's problems fixed since.
    pub fn completion(&self) -> Option<f64> {
        let earlier = self.fixed + self.still_open;
        (earlier > 0).then(|| self.fixed as f64 / earlier as f64)
    }
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.people += other.people;
        self.people_with_problems += other.people_with_problems;
        self.problems += other.problems;
        self.serious += other.serious;
        self.normal += other.normal;
        self.notice += other.notice;
        for (category, n) in &other.categories {
            *self.categories.entry(category.clone()).or_default() += n;
        }
        if let Some(theirs) = other.progress {
            let ours = self.progress.get_or_insert_with(Progress::default);
            ours.fixed += theirs.fixed;
            ours.still_open += theirs.still_open;
            ours.new += theirs.new;
        }
    }
}

/// A department's coverage: registry people found in it by identity number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The department's display name.
    pub department: String,
    pub found: u64,
    pub people: u64,
    pub problems: u64,
}

/// One district's figures, or several merged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Upward {
    pub format: String,
    /// What the figures cover: the district, or the city they were merged into.
    pub area: String,
    /// When the file was made (China Standard Time).
    pub generated: String,
    /// The jobs behind the figures (purpose and approval number each), for the record.
    pub jobs: Vec<JobRef>,
    /// The whole area.
    pub totals: Figures,
    /// Its parts: a district's towns, or a city's districts.
    pub parts: Vec<Figures>,
    /// Coverage per department, by display name (summed over merged districts).
    pub coverage: Vec<Coverage>,
    /// The areas merged into this one, with their parts (a city's districts and their
    /// towns); empty for a district.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<Upward>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub job: String,
    pub purpose: String,
    pub approval: String,
}

fn figures(name: &str, people: u64, problems: &[&crate::Problem]) -> Figures {
    let mut f = Figures { name: name.to_owned(), people, problems: problems.len() as u64, ..Figures::default() };
    let mut rows: Vec<u32> = problems.iter().map(|p| p.row).collect();
    rows.sort_unstable();
    rows.dedup();
    f.people_with_problems = rows.len() as u64;
    for p in problems {
        match p.severity {
            Severity::Serious => f.serious += 1,
            Severity::Normal => f.normal += 1,
            Severity::Notice => f.notice += 1,
        }
        *f.categories.entry(p.label.clone()).or_default() += 1;
    }
    f
}

impl Upward {
    /// A district's figures from its run, with each town's progress since `previous`.
    pub fn of(set: &ProblemSet, previous: Option<&ProblemSet>, generated: &str) -> Upward {
        let by_town = set.by_town();
        let changes = previous.map(|before| diff::diff(before, set));
        let mut parts: Vec<Figures> = by_town
            .iter()
            .map(|(town, problems)| {
                let mut f = figures(town, set.towns.get(*town).copied().unwrap_or(0), problems);
                if let Some(d) = &changes {
                    let c = d.towns.get(*town).map(|t| t.counts()).unwrap_or_default();
                    f.progress =
                        Some(Progress { fixed: c.fixed as u64, still_open: c.still_open as u64, new: c.new as u64 });
                }
                f
            })
            .collect();
        // Towns only the previous round had still count their fixed problems.
        if let Some(d) = &changes {
            for (town, t) in &d.towns {
                if !by_town.contains_key(town.as_str()) && !t.fixed.is_empty() {
                    let progress = Progress { fixed: t.fixed.len() as u64, ..Progress::default() };
                    parts.push(Figures { name: town.clone(), progress: Some(progress), ..Figures::default() });
                }
            }
        }
        let all: Vec<&crate::Problem> = set.problems.iter().collect();
        let area =
            if set.district.is_empty() { set.party_name(&set.requester).to_owned() } else { set.district.clone() };
        let mut totals = figures(&area, set.summary.registry_rows, &all);
        totals.progress = changes.as_ref().map(|d| Progress {
            fixed: d.totals.fixed as u64,
            still_open: d.totals.still_open as u64,
            new: d.totals.new as u64,
        });
        let coverage = set
            .departments
            .iter()
            .map(|d| Coverage {
                department: set.party_name(d).to_owned(),
                found: set.summary.found.get(d).copied().unwrap_or(0),
                people: set.summary.registry_rows,
                problems: set.problems.iter().filter(|p| p.department.as_ref() == Some(d)).count() as u64,
            })
            .collect();
        Upward {
            format: FORMAT.to_owned(),
            area,
            generated: generated.to_owned(),
            jobs: vec![JobRef { job: set.job.clone(), purpose: set.purpose.clone(), approval: set.approval.clone() }],
            totals,
            parts,
            coverage,
            merged: Vec::new(),
        }
    }
}

/// Why files cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("{}", bidui_i18n::t!("merge-error-empty"))]
    Empty,
    #[error("{}", bidui_i18n::t!("merge-error-twice", area = .0))]
    Twice(String),
    #[error("{}", bidui_i18n::t!("merge-error-format", found = format!("{:?}", .0), format = FORMAT))]
    Format(String),
}

/// Several areas' figures added up into `area` (a city from its districts, a province from
/// its cities): each input becomes a part, its totals summed; coverage summed by
/// department name.
pub fn merge(area: &str, inputs: &[Upward], generated: &str) -> Result<Upward, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut seen = std::collections::BTreeSet::new();
    for input in inputs {
        if input.format != FORMAT {
            return Err(MergeError::Format(input.format.clone()));
        }
        if !seen.insert(input.area.as_str()) {
            return Err(MergeError::Twice(input.area.clone()));
        }
    }
    let mut totals = Figures { name: area.to_owned(), ..Figures::default() };
    let mut coverage: Vec<Coverage> = Vec::new();
    for input in inputs {
        totals.add(&input.totals);
        for c in &input.coverage {
            match coverage.iter_mut().find(|x| x.department == c.department) {
                Some(x) => {
                    x.found += c.found;
                    x.people += c.people;
                    x.problems += c.problems;
                }
                None => coverage.push(c.clone()),
            }
        }
    }
    Ok(Upward {
        format: FORMAT.to_owned(),
        area: area.to_owned(),
        generated: generated.to_owned(),
        jobs: inputs.iter().flat_map(|i| i.jobs.clone()).collect(),
        totals,
        parts: inputs.iter().map(|i| Figures { name: i.area.clone(), ..i.totals.clone() }).collect(),
        coverage,
        merged: inputs.to_vec(),
    })
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".to_owned()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The categories of `figures`, most frequent first (then by name), for the columns.
fn categories<'a>(figures: impl Iterator<Item = &'a Figures>) -> Vec<String> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for f in figures {
        for (c, n) in &f.categories {
            *counts.entry(c).or_default() += n;
        }
    }
    let mut order: Vec<(&str, u64)> = counts.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    order.into_iter().map(|(c, _)| c.to_owned()).collect()
}

fn write_figures(
    sheet: &mut Worksheet,
    first: &str,
    rows: &[&Figures],
    total: &Figures,
    formats: &Formats,
) -> Result<(), XlsxError> {
    let categories = categories(rows.iter().copied());
    let mut headers: Vec<&str> = vec![
        first,
        "名册人数",
        "有问题人数",
        "问题数",
        "严重",
        "一般",
        "提示",
        "已整改",
        "仍未整改",
        "新增",
        "整改完成率",
    ];
    headers.extend(categories.iter().map(String::as_str));
    let mut widths = vec![18.0, 10.0, 11.0, 9.0, 7.0, 7.0, 7.0, 9.0, 10.0, 7.0, 11.0];
    widths.extend(categories.iter().map(|_| 14.0));
    header(sheet, &headers, &widths, formats, rows.len() + 1)?;
    for (i, f) in rows.iter().copied().chain(std::iter::once(total)).enumerate() {
        let r = 1 + i as u32;
        sheet.write_string_with_format(r, 0, if i == rows.len() { "合计" } else { &f.name }, &formats.wrap)?;
        let numbers = [f.people, f.people_with_problems, f.problems, f.serious, f.normal, f.notice];
        for (c, n) in numbers.iter().enumerate() {
            sheet.write_number_with_format(r, 1 + c as u16, *n as f64, &formats.number)?;
        }
        match f.progress {
            Some(p) => {
                for (c, n) in [p.fixed, p.still_open, p.new].iter().enumerate() {
                    sheet.write_number_with_format(r, 7 + c as u16, *n as f64, &formats.number)?;
                }
                sheet.write_string_with_format(r, 10, percent(p.fixed, p.fixed + p.still_open), &formats.number)?;
            }
            None => {
                for c in 7..=10 {
                    sheet.write_string_with_format(r, c, "—", &formats.number)?;
                }
            }
        }
        for (c, category) in categories.iter().enumerate() {
            let n = f.categories.get(category).copied().unwrap_or(0);
            sheet.write_number_with_format(r, 11 + c as u16, n as f64, &formats.number)?;
        }
    }
    Ok(())
}

/// The workbook a city office reads: 汇总 (one line per town or district, with the
/// total), 部门覆盖, for a merged file one sheet per merged area's parts, and 说明.
pub fn write_xlsx(upward: &Upward, path: &Path) -> Result<(), ReportError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    let first = if upward.merged.is_empty() { "镇街" } else { "地区" };
    let parts: Vec<&Figures> = upward.parts.iter().collect();
    write_figures(workbook.add_worksheet().set_name("汇总")?, first, &parts, &upward.totals, &formats)?;

    let sheet = workbook.add_worksheet().set_name("部门覆盖")?;
    header(
        sheet,
        &["部门", "找到人数", "名册人数", "覆盖率", "问题数"],
        &[18.0, 10.0, 10.0, 10.0, 9.0],
        &formats,
        upward.coverage.len(),
    )?;
    for (i, c) in upward.coverage.iter().enumerate() {
        let r = 1 + i as u32;
        sheet.write_string_with_format(r, 0, &c.department, &formats.wrap)?;
        sheet.write_number_with_format(r, 1, c.found as f64, &formats.number)?;
        sheet.write_number_with_format(r, 2, c.people as f64, &formats.number)?;
        sheet.write_string_with_format(r, 3, percent(c.found, c.people), &formats.number)?;
        sheet.write_number_with_format(r, 4, c.problems as f64, &formats.number)?;
    }

    for area in &upward.merged {
        let parts: Vec<&Figures> = area.parts.iter().collect();
        // A sheet name is at most 31 characters and unique; areas are unique by merge.
        let name: String = area.area.chars().take(31).collect();
        write_figures(workbook.add_worksheet().set_name(&name)?, "镇街", &parts, &area.totals, &formats)?;
    }

    let sheet = workbook.add_worksheet().set_name("说明")?;
    sheet.set_column_width(0, 16.0)?;
    sheet.set_column_width(1, 80.0)?;
    let mut lines = vec![
        ("地区".to_owned(), upward.area.clone()),
        ("生成时间".to_owned(), format!("{}（北京时间）", upward.generated)),
        ("内容".to_owned(), "汇总数字：各镇街（地区）按问题类别的数量、各部门比对覆盖、整改完成情况；不含任何个人信息、身份证号或名册行号".to_owned()),
    ];
    for job in &upward.jobs {
        lines.push(("比对任务".to_owned(), format!("{}：{}（{}）", job.job, job.purpose, job.approval)));
    }
    for (i, (k, v)) in lines.iter().enumerate() {
        sheet.write_string_with_format(i as u32, 0, k, &formats.header)?;
        sheet.write_string_with_format(i as u32, 1, v, &formats.wrap)?;
    }
    workbook.save(path)?;
    Ok(())
}

/// Reads an upward file (a district's or a merged one).
pub fn load(path: &Path) -> Result<Upward, ReportError> {
    let bytes = std::fs::read(path).map_err(|e| ReportError::io(path, e))?;
    let upward: Upward = serde_json::from_slice(&bytes)
        .map_err(|e| ReportError::Parse { path: path.to_owned(), message: e.to_string() })?;
    if upward.format != FORMAT {
        return Err(ReportError::Parse { path: path.to_owned(), message: format!("not a {FORMAT} file") });
    }
    Ok(upward)
}
