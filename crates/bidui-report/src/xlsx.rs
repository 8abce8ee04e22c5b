//! One workbook per town (镇街): the problems of its registry rows and the values a
//! department can fill in, with Chinese headers, identity-like values as text, an
//! autofilter and a frozen header row.
//!
//! The workbooks are Chinese whatever the reader's language (`bidui --lang en`): they are
//! forms the towns fill in and return, read back by [`crate::claims`] by their Chinese sheet
//! and column names, and the problems' own wording in them is Chinese.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bidui_core::api::Severity;
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use crate::problems::{Problem, ProblemSet};
use crate::{labels, ReportError};

pub const PROBLEM_SHEET: &str = "问题清单";
pub const FILL_SHEET: &str = "缺省数据补充";
pub const INFO_SHEET: &str = "说明";

/// Columns the requester fills in locally (`bidui report resolve`), after 序号.
pub const RESOLVED_COLUMNS: [&str; 3] = ["姓名", "公民身份号码", "联系电话"];
const PROBLEM_COLUMNS: [&str; 8] =
    ["问题类别", "严重程度", "部门", "详情", "建议处理", "问题代码", "整改情况", "整改说明"];
const FILL_COLUMNS: [&str; 4] = ["缺省字段", "提供部门", "补充值", "说明"];

/// A registry row as the requester holds it, for the resolved workbooks. Never sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryEntry {
    pub name: String,
    /// The identity cell as written in the registry (invalid ones too: that is what to fix).
    pub identity: String,
    pub contact: String,
    /// The row's town in the registry, for rows the matcher never saw.
    pub town: Option<String>,
}

/// Headers of the problem sheet.
pub fn problem_headers(resolved: bool) -> Vec<&'static str> {
    let mut out = vec!["序号"];
    if resolved {
        out.extend(RESOLVED_COLUMNS);
    }
    out.extend(PROBLEM_COLUMNS);
    out
}

/// Headers of the fill-in sheet.
pub fn fill_headers(resolved: bool) -> Vec<&'static str> {
    let mut out = vec!["序号"];
    if resolved {
        out.extend(&RESOLVED_COLUMNS[..2]);
    }
    out.extend(FILL_COLUMNS);
    out
}

/// What one town's workbook holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TownWorkbook {
    pub town: String,
    pub path: PathBuf,
    pub problems: usize,
    pub fill_ins: usize,
}

/// A file name for a town: characters no file system takes are replaced.
pub fn town_file_name(town: &str) -> String {
    let clean: String =
        town.chars()
            .map(|c| {
                if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
    let clean = clean.trim().trim_matches('.');
    format!("{}.xlsx", if clean.is_empty() { "_" } else { clean })
}

pub(crate) struct Formats {
    pub(crate) header: Format,
    text: Format,
    pub(crate) wrap: Format,
    pub(crate) number: Format,
    serious: Format,
    normal: Format,
    notice: Format,
}

impl Formats {
    pub(crate) fn new() -> Formats {
        let base = Format::new().set_border(FormatBorder::Thin);
        Formats {
            header: base
                .clone()
                .set_bold()
                .set_background_color(Color::RGB(0xDDEBF7))
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            // "@": the cell is text, so an identity number or phone stays as written.
            text: base.clone().set_num_format("@"),
            wrap: base.clone().set_text_wrap().set_align(FormatAlign::Top),
            number: base.clone().set_align(FormatAlign::Center),
            serious: base.clone().set_background_color(Color::RGB(0xF8CBAD)).set_align(FormatAlign::Center),
            normal: base.clone().set_background_color(Color::RGB(0xFFE699)).set_align(FormatAlign::Center),
            notice: base.set_background_color(Color::RGB(0xE2EFDA)).set_align(FormatAlign::Center),
        }
    }

    fn severity(&self, severity: Severity) -> &Format {
        match severity {
            Severity::Serious => &self.serious,
            Severity::Normal => &self.normal,
            Severity::Notice => &self.notice,
        }
    }
}

pub(crate) fn header(
    sheet: &mut Worksheet,
    headers: &[&str],
    widths: &[f64],
    formats: &Formats,
    rows: usize,
) -> Result<(), XlsxError> {
    for (c, (h, w)) in headers.iter().zip(widths).enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &formats.header)?;
        sheet.set_column_width(c as u16, *w)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, rows as u32, headers.len() as u16 - 1)?;
    Ok(())
}

fn resolved_cells(
    sheet: &mut Worksheet,
    r: u32,
    entry: Option<&RegistryEntry>,
    columns: usize,
    formats: &Formats,
) -> Result<(), XlsxError> {
    let empty = RegistryEntry::default();
    let entry = entry.unwrap_or(&empty);
    for (c, value) in [&entry.name, &entry.identity, &entry.contact].into_iter().take(columns).enumerate() {
        sheet.write_string_with_format(r, 1 + c as u16, value, &formats.text)?;
    }
    Ok(())
}

fn write_problems(
    sheet: &mut Worksheet,
    problems: &[&Problem],
    resolved: Option<&BTreeMap<u32, RegistryEntry>>,
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(PROBLEM_SHEET)?;
    let headers = problem_headers(resolved.is_some());
    let mut widths = vec![7.0];
    if resolved.is_some() {
        widths.extend([10.0, 21.0, 14.0]);
    }
    widths.extend([22.0, 9.0, 11.0, 48.0, 36.0, 22.0, 10.0, 20.0]);
    header(sheet, &headers, &widths, formats, problems.len())?;
    let offset: u16 = if resolved.is_some() { 4 } else { 1 };
    if resolved.is_some() {
        for c in 1..4 {
            sheet.set_column_format(c, &formats.text)?;
        }
    }
    for (i, p) in problems.iter().enumerate() {
        let r = 1 + i as u32;
        sheet.write_number_with_format(r, 0, p.row, &formats.number)?;
        if let Some(entries) = resolved {
            resolved_cells(sheet, r, entries.get(&p.row), 3, formats)?;
        }
        sheet.write_string_with_format(r, offset, &p.label, &formats.wrap)?;
        sheet.write_string_with_format(r, offset + 1, p.severity_label(), formats.severity(p.severity))?;
        sheet.write_string_with_format(r, offset + 2, p.department_label(), &formats.wrap)?;
        sheet.write_string_with_format(r, offset + 3, &p.detail, &formats.wrap)?;
        sheet.write_string_with_format(r, offset + 4, &p.action, &formats.wrap)?;
        sheet.write_string_with_format(r, offset + 5, &p.code, &formats.text)?;
        sheet.write_string_with_format(r, offset + 6, "", &formats.text)?;
        sheet.write_string_with_format(r, offset + 7, "", &formats.text)?;
    }
    // 整改情况 offers the answers `bidui report claims` reads (a town may still type its own).
    if !problems.is_empty() {
        let choices = DataValidation::new().allow_list_strings(&crate::claims::STATUSES)?.ignore_blank(true);
        let choices = choices.set_error_style(DataValidationErrorStyle::Information);
        sheet.add_data_validation(1, offset + 6, problems.len() as u32, offset + 6, &choices)?;
    }
    Ok(())
}

fn write_fill_ins(
    sheet: &mut Worksheet,
    fills: &[&Problem],
    resolved: Option<&BTreeMap<u32, RegistryEntry>>,
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(FILL_SHEET)?;
    let headers = fill_headers(resolved.is_some());
    let mut widths = vec![7.0];
    if resolved.is_some() {
        widths.extend([10.0, 21.0]);
    }
    widths.extend([12.0, 11.0, 40.0, 44.0]);
    header(sheet, &headers, &widths, formats, fills.len())?;
    let offset: u16 = if resolved.is_some() { 3 } else { 1 };
    sheet.set_column_format(offset + 2, &formats.text)?;
    for (i, p) in fills.iter().enumerate() {
        let fill = p.fill.as_ref().expect("fill-ins carry a fill");
        let r = 1 + i as u32;
        sheet.write_number_with_format(r, 0, p.row, &formats.number)?;
        if let Some(entries) = resolved {
            resolved_cells(sheet, r, entries.get(&p.row), 2, formats)?;
        }
        sheet.write_string_with_format(r, offset, &fill.label, &formats.wrap)?;
        sheet.write_string_with_format(r, offset + 1, fill.source_label(), &formats.wrap)?;
        sheet.write_string_with_format(r, offset + 2, &fill.value, &formats.text)?;
        sheet.write_string_with_format(r, offset + 3, &p.detail, &formats.wrap)?;
    }
    Ok(())
}

fn write_info(
    sheet: &mut Worksheet,
    set: &ProblemSet,
    town: &str,
    problems: &[&Problem],
    resolved: bool,
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(INFO_SHEET)?;
    sheet.set_column_width(0, 16.0)?;
    sheet.set_column_width(1, 80.0)?;
    let count = |s: Severity| problems.iter().filter(|p| p.severity == s).count();
    let rows_with_problems = {
        let mut rows: Vec<u32> = problems.iter().map(|p| p.row).collect();
        rows.dedup();
        rows.len()
    };
    let mut lines: Vec<(String, String)> = vec![
        ("镇街".into(), town.to_owned()),
        ("比对任务".into(), set.job.clone()),
        ("用途".into(), set.purpose.clone()),
        ("批准文号".into(), set.approval.clone()),
        ("名册行数".into(), set.towns.get(town).copied().unwrap_or(0).to_string()),
        ("有问题的行".into(), rows_with_problems.to_string()),
        (
            "问题数".into(),
            format!(
                "{}（严重 {}，一般 {}，提示 {}）",
                problems.len(),
                count(Severity::Serious),
                count(Severity::Normal),
                count(Severity::Notice)
            ),
        ),
        ("缺省数据".into(), problems.iter().filter(|p| p.fill.is_some()).count().to_string()),
    ];
    let mut by_label: BTreeMap<(Severity, &str), usize> = BTreeMap::new();
    for p in problems {
        *by_label.entry((p.severity, p.label.as_str())).or_default() += 1;
    }
    for ((severity, label), n) in by_label {
        // Chinese, not the thread's language: the workbook is a Chinese form (module docs).
        lines.push((format!("  {}", labels::severity_zh(severity)), format!("{label}：{n}")));
    }
    lines.push(("".into(), "".into()));
    let notes = [
        "“序号”是名册中的数据行号（表头下第一行为1），即名册“序号”列。",
        if resolved {
            "本表已在名册端本地补入姓名、身份证号和联系电话，含个人信息，请妥善保管，不得外传。"
        } else {
            "本表不含姓名和身份证号：由名册单位用 bidui report resolve 在本地按序号补入，比对平台看不到这些信息。"
        },
        "整改时请在原行上修改，不要插入或删除行（重复登记、已故人员请将“状态”改为注销），\
         以便下一轮比对按序号对照整改情况。",
        "疑似匹配仅凭姓名、出生日期和性别找到，须上门核实，不得直接合并。",
        "严重：须优先核实处理；一般：须核实更正；提示：建议核实完善。",
    ];
    for note in notes {
        lines.push(("说明".into(), note.to_owned()));
    }
    for (i, (k, v)) in lines.iter().enumerate() {
        sheet.write_string(i as u32, 0, k)?;
        sheet.write_string_with_format(
            i as u32,
            1,
            v,
            &formats.text.clone().set_border(FormatBorder::None).set_text_wrap(),
        )?;
    }
    Ok(())
}

/// Writes one workbook per town into `dir` (created). With `resolved`, the requester's own
/// names, identity numbers and contacts are filled in by row: run only on its side. The
/// workbooks are written on as many threads as the machine has cores, the largest first.
pub fn write_town_workbooks(
    set: &ProblemSet,
    dir: &Path,
    resolved: Option<&BTreeMap<u32, RegistryEntry>>,
) -> Result<Vec<TownWorkbook>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let formats = Formats::new();
    let towns: Vec<(&str, Vec<&Problem>)> = set.by_town().into_iter().collect();
    let mut largest_first: Vec<usize> = (0..towns.len()).collect();
    largest_first.sort_by_key(|&i| std::cmp::Reverse(towns[i].1.len()));
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, towns.len().max(1));
    let mut written: Vec<Option<Result<TownWorkbook, ReportError>>> = towns.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(&i) = largest_first.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (town, problems) = &towns[i];
                        done.push((i, write_town(set, dir, town, problems, resolved, &formats)));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            for (i, town) in worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
                written[i] = Some(town);
            }
        }
    });
    written.into_iter().map(|town| town.expect("every town taken by a worker")).collect()
}

fn write_town(
    set: &ProblemSet,
    dir: &Path,
    town: &str,
    problems: &[&Problem],
    resolved: Option<&BTreeMap<u32, RegistryEntry>>,
    formats: &Formats,
) -> Result<TownWorkbook, ReportError> {
    let fills: Vec<&Problem> = problems.iter().copied().filter(|p| p.fill.is_some()).collect();
    let mut workbook = Workbook::new();
    // Level 2 instead of the default 6: deflate took a third of a workbook's time, for a
    // file about a tenth larger (rust_xlsxwriter's measurements).
    workbook.set_zip_compression_level(2);
    write_problems(workbook.add_worksheet(), problems, resolved, formats)?;
    write_fill_ins(workbook.add_worksheet(), &fills, resolved, formats)?;
    write_info(workbook.add_worksheet(), set, town, problems, resolved.is_some(), formats)?;
    let path = dir.join(town_file_name(town));
    workbook.save(&path)?;
    Ok(TownWorkbook { town: town.to_owned(), path, problems: problems.len(), fill_ins: fills.len() })
}
