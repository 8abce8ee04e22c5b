//! Problem categories and their derivation from the matcher's results.

use std::collections::{BTreeMap, BTreeSet};

use bidui_core::api::{DepartmentFinding, JobResults, ResultSummary, RowResult, RuleTest, Severity, StatusRule};
use bidui_core::profile::FieldRole;
use serde::{Deserialize, Serialize};

use crate::labels::{self, Vocabulary};
use crate::{rules, ReportError};

/// The version of `problems.json`.
pub const FORMAT: &str = "bidui-report/1";

/// Where a problem has no town: the row was never sent (no identity number and no name,
/// birth date and sex), or the job does not name the requester's town field.
pub const NO_TOWN: &str = "未注明镇街";

/// Codes of the categories the report derives itself; a status rule may not take them.
pub const RESERVED_CODES: [&str; 8] =
    ["invalid_id", "unreadable_row", "duplicate", "found_nowhere", "name", "attribute", "probable_match", "missing"];

/// Where no department holds a value for an empty required registry field.
pub const NO_SOURCE: &str = "无部门可补充";

/// One problem of one registry row, in plain Chinese for town staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The requester's data row (序号 in the registry): the record reference.
    pub row: u32,
    /// The row's town (镇街), from the requester's registry.
    pub town: String,
    /// Stable category code: `invalid_id.excel-mangled`, `duplicate.cross_town`,
    /// `name.homophone`, `attribute.sex`, `probable_match`, or a status rule's code.
    pub code: String,
    /// The category as town staff read it.
    pub label: String,
    pub severity: Severity,
    /// The department (party) the problem comes from; none for the registry itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The department's name as the district's profile gives it (公安户籍).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_name: Option<String>,
    /// The attribute or field concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub detail: String,
    pub action: String,
    /// Missing data (缺省数据): the registry field and the value a department can fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<Fill>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The registry field (`phone`).
    pub field: String,
    /// Its Chinese name (联系电话).
    pub label: String,
    /// The value a department holds; empty where none does ([`NO_SOURCE`]).
    pub value: String,
    /// The department's name the value comes from; none where no department has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Fill {
    /// Where the value comes from, as town staff read it.
    pub fn source_label(&self) -> &str {
        self.source.as_deref().unwrap_or(NO_SOURCE)
    }
}

/// What identifies a problem across runs: (row, category family, department, subject).
/// The family is the code up to its first `.`, so an identity number that is still
/// invalid for another reason, or a name that is still not the household's, stays open.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProblemKey {
    pub row: u32,
    pub family: String,
    pub department: Option<String>,
    pub subject: Option<String>,
}

impl Problem {
    pub fn key(&self) -> ProblemKey {
        ProblemKey {
            row: self.row,
            family: self.code.split('.').next().unwrap_or(&self.code).to_owned(),
            department: self.department.clone(),
            subject: self.subject.clone(),
        }
    }

    pub fn department_label(&self) -> &str {
        match (&self.department_name, &self.department) {
            (Some(name), _) => name,
            (None, Some(code)) => code,
            (None, None) => "名册",
        }
    }

    /// The severity in Chinese, beside the problem's Chinese wording: the town workbooks,
    /// problems.csv and the diff's files, whatever the reader's language.
    pub fn severity_label(&self) -> &'static str {
        labels::severity_zh(self.severity)
    }
}

/// Every problem of one run, with what the summary and the workbooks need besides:
/// `problems.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProblemSet {
    pub format: String,
    pub job: String,
    pub purpose: String,
    pub approval: String,
    pub requester: String,
    pub departments: Vec<String>,
    /// The district's name, from its profile (empty without one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub district: String,
    /// The display names of the requester and the departments, by code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub party_names: BTreeMap<String, String>,
    pub summary: ResultSummary,
    /// Registry rows per town (every town with rows, problems or not).
    pub towns: BTreeMap<String, u64>,
    /// The status rules applied.
    pub rules: Vec<StatusRule>,
    /// Whether the identity-number error codes per row came from the requester's local
    /// report (otherwise invalid rows are `invalid_id.unknown`).
    pub local_invalid_rows: bool,
    /// Things the reader should know (inconsistent inputs, rules that could not apply).
    pub notes: Vec<String>,
    /// In row order, then severity.
    pub problems: Vec<Problem>,
}

impl ProblemSet {
    /// A party's display name (its code where the run has none).
    pub fn party_name<'a>(&'a self, party: &'a str) -> &'a str {
        self.party_names.get(party).map_or(party, String::as_str)
    }

    /// Problems carrying a value to fill in (缺省数据).
    pub fn fill_ins(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.fill.is_some())
    }

    /// Problems by town, every town listed.
    pub fn by_town(&self) -> BTreeMap<&str, Vec<&Problem>> {
        let mut out: BTreeMap<&str, Vec<&Problem>> = self.towns.keys().map(|t| (t.as_str(), Vec::new())).collect();
        for p in &self.problems {
            out.entry(p.town.as_str()).or_default().push(p);
        }
        out
    }

    /// Category labels in a stable order: by severity, then code.
    pub fn categories(&self) -> Vec<(Severity, String)> {
        let mut seen: BTreeMap<(Severity, String), ()> = BTreeMap::new();
        let mut order: Vec<(Severity, String, String)> = Vec::new();
        for p in &self.problems {
            if seen.insert((p.severity, p.label.clone()), ()).is_none() {
                order.push((p.severity, p.code.clone(), p.label.clone()));
            }
        }
        order.sort();
        order.into_iter().map(|(s, _, l)| (s, l)).collect()
    }
}

/// The requester's local report of invalid rows (`invalid-rows.csv`: `row,reason`), by
/// row. It never leaves the requester; rows and codes are its own.
pub fn parse_invalid_rows(text: &str) -> Result<BTreeMap<u32, String>, ReportError> {
    let mut out = BTreeMap::new();
    for (i, line) in text.trim_start_matches('\u{FEFF}').lines().enumerate() {
        if i == 0 || line.trim().is_empty() {
            continue;
        }
        let (row, reason) = line.split_once(',').ok_or_else(|| {
            ReportError::Input(bidui_i18n::t!(
                "report-error-invalid-rows-line",
                line = i + 1,
                text = format!("{line:?}")
            ))
        })?;
        let row: u32 = row.trim().parse().map_err(|_| {
            ReportError::Input(bidui_i18n::t!("report-error-invalid-rows-row", line = i + 1, row = format!("{row:?}")))
        })?;
        out.insert(row, reason.trim().trim_matches('"').to_owned());
    }
    Ok(out)
}

/// How a report is derived.
#[derive(Clone, Debug)]
pub struct Options {
    /// The requester's local invalid rows (row → error code or reader message).
    pub invalid_rows: Option<BTreeMap<u32, String>>,
    /// Rules added to the job's own (e.g. from `bidui report build --rules`).
    pub extra_rules: Vec<StatusRule>,
    /// Apply the built-in rules the job's rules do not replace.
    pub builtin_rules: bool,
    /// Values of the requester's status field (the profile's `registry_status` role) that
    /// close a record (注销, 已故 …): closed rows get no problem, so closing a duplicate or a
    /// deceased person's row fixes it. Any other value (在册, 正常, …) is live.
    pub closed_values: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            invalid_rows: None,
            extra_rules: Vec::new(),
            builtin_rules: true,
            closed_values: CLOSED_STATUSES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// Registry statuses that close a record, by default.
pub const CLOSED_STATUSES: [&str; 10] =
    ["注销", "已注销", "销户", "死亡", "已故", "已死亡", "迁出", "已迁出", "停发", "取消"];

const IDENTITY_CODES: [&str; 6] = ["empty", "excel-mangled", "length", "charset", "birthdate", "checksum"];

/// A problem's category and wording, before it is placed on a row.
struct Wording {
    code: String,
    label: String,
    severity: Severity,
    detail: String,
    action: String,
}

/// What every category family reads: the run, its rows by number, which rows are closed.
struct Context<'a> {
    results: &'a JobResults,
    vocabulary: Vocabulary,
    /// The requester's town field (the profile's `town` role); none: every row 未注明镇街.
    town_field: Option<String>,
    by_row: BTreeMap<u32, &'a RowResult>,
    /// Requester fields the results carry.
    registry_fields: BTreeSet<String>,
    /// Rows whose registry status closes them: they get no problem.
    closed: BTreeSet<u32>,
}

impl<'a> Context<'a> {
    fn new(results: &'a JobResults, options: &'a Options) -> Context<'a> {
        let vocabulary = Vocabulary::of(results);
        let registry_fields = rules::released_registry_fields(results);
        let status = vocabulary.registry_field(FieldRole::RegistryStatus).map(str::to_owned);
        let is_closed = |row: &RowResult| match &status {
            Some(field) => row.fields.get(field).is_some_and(|v| options.closed_values.iter().any(|c| c == v.trim())),
            None => false,
        };
        Context {
            results,
            town_field: vocabulary.registry_field(FieldRole::Town).map(str::to_owned),
            vocabulary,
            by_row: results.rows.iter().map(|r| (r.row, r)).collect(),
            closed: results.rows.iter().filter(|r| is_closed(r)).map(|r| r.row).collect(),
            registry_fields,
        }
    }

    fn town_cell(&self, row: u32) -> Option<&String> {
        self.by_row.get(&row).and_then(|r| r.fields.get(self.town_field.as_deref()?))
    }

    fn town_of(&self, row: u32) -> String {
        self.town_cell(row).cloned().unwrap_or_else(|| NO_TOWN.to_owned())
    }

    /// `第3行（荔城街道）、第4行`.
    fn rows_text(&self, rows: &[u32]) -> String {
        rows.iter()
            .map(|r| match self.town_cell(*r) {
                Some(town) => format!("第{r}行（{town}）"),
                None => format!("第{r}行"),
            })
            .collect::<Vec<_>>()
            .join("、")
    }
}

/// The problems and notes of a run as they are found.
struct Derivation<'a> {
    ctx: Context<'a>,
    problems: Vec<Problem>,
    notes: Vec<String>,
}

/// Derives every problem of a run from the matcher's results (and, on the requester's
/// side, its local invalid rows).
pub fn derive(results: &JobResults, options: &Options) -> Result<ProblemSet, ReportError> {
    let declared = declared_rules(results, options)?;
    let ctx = Context::new(results, options);
    let builtin =
        if options.builtin_rules { rules::builtin(&ctx.vocabulary, &results.departments) } else { Vec::new() };
    let (applied, skipped): (Vec<StatusRule>, Vec<StatusRule>) =
        rules::effective(&declared, builtin).into_iter().partition(|r| results.departments.contains(&r.department));
    let mut d = Derivation { ctx, problems: Vec::new(), notes: Vec::new() };
    d.note_no_town();
    d.note_rules_for_absent_departments(&declared, &skipped);
    d.note_rules_no_row_meets(&applied);
    match &options.invalid_rows {
        Some(local) => d.invalid_numbers_from_local_report(local),
        None => d.invalid_numbers_without_codes(),
    }
    for row in &results.rows {
        if d.ctx.closed.contains(&row.row) {
            continue;
        }
        d.duplicates(row);
        d.found_nowhere(row);
        for department in &results.departments {
            let Some(finding) = row.departments.get(department) else { continue };
            d.name_tiers_and_attribute_mismatches(row, department, finding);
            d.probable_match(row, department, finding);
        }
        d.status_rules(&applied, row);
        d.missing_data(row);
    }
    Ok(d.finish(options, applied))
}

/// The job's rules and the extra ones; none may take a code of the report's own.
fn declared_rules(results: &JobResults, options: &Options) -> Result<Vec<StatusRule>, ReportError> {
    let declared: Vec<StatusRule> = results.rules.iter().chain(&options.extra_rules).cloned().collect();
    if let Some(rule) = declared.iter().find(|r| RESERVED_CODES.contains(&r.code.split('.').next().unwrap_or(""))) {
        return Err(ReportError::Input(bidui_i18n::t!(
            "report-error-reserved-code",
            code = format!("{:?}", rule.code)
        )));
    }
    Ok(declared)
}

/// Name tiers (繁简异体 / 同音字 / 姓名不一致) from a department's name verdict.
fn name_tier(attribute: &str, verdict: &str, department_name: &str) -> Option<Wording> {
    let (code, label, severity, detail, action) = match (attribute, verdict) {
        ("name", "variant") => (
            "name.variant",
            "姓名繁简异体",
            Severity::Notice,
            format!("姓名与{department_name}登记仅繁体/异体字不同"),
            "统一为规范简体字（以公安户籍为准）",
        ),
        ("name", "homophone") => (
            "name.homophone",
            "姓名同音字",
            Severity::Normal,
            format!("姓名与{department_name}登记读音相同但用字不同（同音字）"),
            "对照户口簿核实姓名用字并更正",
        ),
        ("name", "different") => (
            "name.different",
            "姓名不一致",
            Severity::Serious,
            format!("同一身份证号在{department_name}登记的姓名与名册不一致"),
            "核实是否本人、身份证号或姓名是否录错",
        ),
        _ => return None,
    };
    Some(Wording { code: code.to_owned(), label: label.to_owned(), severity, detail, action: action.to_owned() })
}

/// An attribute (sex, birth date) a department has differently.
fn attribute_mismatch(attribute: &str, verdict: &str, department_name: &str) -> Option<Wording> {
    if verdict != "differ" {
        return None;
    }
    let label = labels::attribute(attribute).unwrap_or(attribute);
    Some(Wording {
        code: format!("attribute.{attribute}"),
        label: format!("{label}不一致"),
        severity: Severity::Normal,
        detail: format!("{label}与{department_name}登记不一致"),
        action: format!("对照证件核实{label}，以{department_name}为准更正"),
    })
}

impl Derivation<'_> {
    fn push(&mut self, row: u32, department: Option<&str>, subject: Option<&str>, wording: Wording) -> &mut Problem {
        self.problems.push(Problem {
            row,
            town: self.ctx.town_of(row),
            code: wording.code,
            label: wording.label,
            severity: wording.severity,
            department: department.map(str::to_owned),
            department_name: department.map(|d| self.ctx.vocabulary.department(d).to_owned()),
            subject: subject.map(str::to_owned),
            detail: wording.detail,
            action: wording.action,
            fill: None,
        });
        self.problems.last_mut().expect("just pushed")
    }

    /// Without a town every problem lands in 未注明镇街: say why, and what to add.
    fn note_no_town(&mut self) {
        if self.ctx.town_field.is_none() {
            self.notes.push(format!(
                "任务的区级档案没有为名册声明镇街字段（role = \"town\"），所有问题归入“{NO_TOWN}”：请在 district.toml \
                 中为名册的镇街列声明 role = \"town\" 后重新创建任务"
            ));
        }
    }

    fn note_rules_for_absent_departments(&mut self, declared: &[StatusRule], skipped: &[StatusRule]) {
        for rule in skipped.iter().filter(|r| declared.contains(r)) {
            self.notes.push(format!(
                "规则 {}（{}）所指部门 {} 不在本次比对中，未执行",
                rule.code,
                rule.label,
                self.ctx.vocabulary.department(&rule.department)
            ));
        }
    }

    /// A rule whose registry condition no row meets is probably written for other values
    /// (正常 rather than 在册): say so rather than find nothing in silence.
    fn note_rules_no_row_meets(&mut self, applied: &[StatusRule]) {
        for rule in applied {
            let Some(field) = rule.registry_field.as_ref().filter(|f| self.ctx.registry_fields.contains(*f)) else {
                continue;
            };
            let met =
                |r: &RowResult| r.fields.get(field).is_some_and(|v| rule.registry_values.iter().any(|x| x == v.trim()));
            if !rule.registry_values.is_empty() && !self.ctx.results.rows.iter().any(met) {
                self.notes.push(format!(
                    "规则 {}（{}）要求名册{}为{}，但没有任何一行是这些值，请核对取值或在比对任务中声明规则",
                    rule.code,
                    rule.label,
                    rules::registry_field_label(rule, &self.ctx.vocabulary),
                    rule.registry_values.join("/")
                ));
            }
        }
    }

    /// Identity numbers that fail validation, with their codes from the requester's own
    /// local report, and rows its agent could not read; notes where the report and the
    /// results disagree.
    fn invalid_numbers_from_local_report(&mut self, local: &BTreeMap<u32, String>) {
        for (&row, reason) in local {
            if self.ctx.closed.contains(&row) {
                continue;
            }
            let (subject, wording) = if IDENTITY_CODES.contains(&reason.as_str()) {
                let (detail, action) = labels::invalid_id(reason);
                let wording = Wording {
                    code: format!("invalid_id.{reason}"),
                    label: "身份证号无效".to_owned(),
                    severity: Severity::Serious,
                    detail: detail.to_owned(),
                    action: action.to_owned(),
                };
                (Some("identity"), wording)
            } else {
                let wording = Wording {
                    code: "unreadable_row".to_owned(),
                    label: "名册此行无法读取".to_owned(),
                    severity: Severity::Serious,
                    detail: format!("比对程序无法读取名册此行：{reason}"),
                    action: "检查该行是否有合并单元格、公式错误或异常字符，修正后重新比对".to_owned(),
                };
                (None, wording)
            };
            self.push(row, None, subject, wording);
        }
        let results = self.ctx.results;
        let in_results = results.rows.iter().filter(|r| !r.id_valid && !self.ctx.closed.contains(&r.row)).count();
        let local_rows = results.rows.iter().filter(|r| !r.id_valid && local.contains_key(&r.row)).count();
        if in_results > local_rows {
            self.notes.push(format!(
                "本地校验报告缺少{}行无效身份证号的记录，是否为本次比对的报告？",
                in_results - local_rows
            ));
        }
        let counted: u64 = results.summary.invalid_ids.values().sum();
        let listed = local.values().filter(|r| IDENTITY_CODES.contains(&r.as_str())).count() as u64;
        if counted != listed {
            self.notes.push(format!(
                "本地校验报告列出{listed}个无效身份证号，比对结果统计为{counted}个，请确认报告与本次比对对应"
            ));
        }
    }

    /// Without the local report the matcher knows only which sent rows lack a valid number.
    fn invalid_numbers_without_codes(&mut self) {
        let results = self.ctx.results;
        for row in &results.rows {
            if row.id_valid || self.ctx.closed.contains(&row.row) {
                continue;
            }
            let (detail, action) = labels::invalid_id("unknown");
            let wording = Wording {
                code: "invalid_id.unknown".to_owned(),
                label: "身份证号无效".to_owned(),
                severity: Severity::Serious,
                detail: detail.to_owned(),
                action: action.to_owned(),
            };
            self.push(row.row, None, Some("identity"), wording);
        }
    }

    /// Among live rows only, so closing the extra row fixes the problem.
    fn duplicates(&mut self, row: &RowResult) {
        let others: Vec<u32> = row.duplicate_rows.iter().copied().filter(|o| !self.ctx.closed.contains(o)).collect();
        if others.is_empty() {
            return;
        }
        let town = self.ctx.town_cell(row.row);
        let cross = others.iter().any(|o| self.ctx.town_cell(*o) != town);
        let (code, label, severity, action) = if cross {
            (
                "duplicate.cross_town",
                "跨镇街重复登记",
                Severity::Serious,
                "与相关镇街核实此人实际管理镇街，保留一条，其余注销",
            )
        } else {
            ("duplicate.same_town", "名册内重复登记", Severity::Normal, "核实后保留一条，其余注销")
        };
        let detail = format!("与{}为同一身份证号", self.ctx.rows_text(&others));
        let wording =
            Wording { code: code.to_owned(), label: label.to_owned(), severity, detail, action: action.to_owned() };
        self.push(row.row, None, None, wording);
    }

    fn found_nowhere(&mut self, row: &RowResult) {
        if !row.id_valid || row.departments.values().any(|f| f.found) {
            return;
        }
        let wording = Wording {
            code: "found_nowhere".to_owned(),
            label: "各部门均查无此身份证号".to_owned(),
            severity: Severity::Serious,
            detail: format!("在{}个比对部门中都查不到此身份证号，号码可能录错", row.departments.len()),
            action: "对照身份证或户口簿核对身份证号".to_owned(),
        };
        self.push(row.row, None, Some("identity"), wording);
    }

    fn name_tiers_and_attribute_mismatches(&mut self, row: &RowResult, department: &str, finding: &DepartmentFinding) {
        let name = self.ctx.vocabulary.department(department);
        // Most rows agree everywhere: nothing is allocated for them.
        let found: Vec<(&String, Wording)> = finding
            .attributes
            .iter()
            .filter_map(|(attribute, verdict)| {
                let wording =
                    name_tier(attribute, verdict, name).or_else(|| attribute_mismatch(attribute, verdict, name))?;
                Some((attribute, wording))
            })
            .collect();
        for (attribute, wording) in found {
            self.push(row.row, Some(department), Some(attribute), wording);
        }
    }

    /// Found only by name, birth date and sex: to be checked on site, never merged.
    fn probable_match(&mut self, row: &RowResult, department: &str, finding: &DepartmentFinding) {
        if finding.probable_rows == 0 {
            return;
        }
        let why = if row.id_valid { "此身份证号在各部门均查不到" } else { "此行身份证号无效" };
        let vocabulary = &self.ctx.vocabulary;
        let name = vocabulary.department(department);
        let mut detail = format!("{why}，但{name}有{}条记录的姓名、出生日期、性别与此人相同", finding.probable_rows);
        // What the namesake's record says, opened with name, birth date and sex: a lead
        // for the visit, never the person's data until verified.
        let shown: Vec<String> = finding
            .probable_released
            .iter()
            .map(|(field, values)| format!("{}：{}", vocabulary.field(field), values.join("、")))
            .collect();
        if !shown.is_empty() {
            detail.push_str(&format!("；该记录显示（待核实）{}", shown.join("；")));
        }
        let wording = Wording {
            code: "probable_match".to_owned(),
            label: "疑似匹配，需上门核实".to_owned(),
            severity: Severity::Normal,
            detail,
            action: "上门核实是否为同一人并核对身份证号；不得直接合并".to_owned(),
        };
        self.push(row.row, Some(department), None, wording);
    }

    /// Status rules; a `fills` rule's problem carries the missing data a department can
    /// fill in (缺省数据).
    fn status_rules(&mut self, applied: &[StatusRule], row: &RowResult) {
        for rule in applied {
            let Some(hit) = rules::evaluate(rule, row, &self.ctx.registry_fields, &self.ctx.vocabulary) else {
                continue;
            };
            let subject = match rule.test {
                RuleTest::Fills | RuleTest::Differs => rule.registry_field.as_deref(),
                RuleTest::AnyOf | RuleTest::Distinct | RuleTest::Present => rule.field.as_deref(),
                RuleTest::Absent => None,
            };
            let wording = Wording {
                code: rule.code.clone(),
                label: rule.label.clone(),
                severity: rule.severity,
                detail: hit.detail,
                action: rules::default_action(rule, &self.ctx.vocabulary),
            };
            let label = rules::registry_field_label(rule, &self.ctx.vocabulary);
            let source = self.ctx.vocabulary.department(&rule.department).to_owned();
            let problem = self.push(row.row, Some(&rule.department), subject, wording);
            if let Some(value) = hit.fill {
                let field = rule.registry_field.clone().unwrap_or_default();
                problem.fill = Some(Fill { label, field, value, source: Some(source) });
            }
        }
    }

    /// Missing data (缺省数据): every registry field of the job that is empty on this row and
    /// that either a department can fill (it sealed a field of the same code or role with a
    /// value for this person: the first in job order) or the profile marks required (then
    /// with 无部门可补充). Only where the results carry the requester's fields: the operator's
    /// match structure knows no cell.
    fn missing_data(&mut self, row: &RowResult) {
        if self.ctx.registry_fields.is_empty() || (row.fields.is_empty() && row.person.is_none()) {
            return;
        }
        let vocabulary = &self.ctx.vocabulary;
        let mut missing = Vec::new();
        for field in vocabulary.registry_fields() {
            if row.fields.get(field).is_some_and(|v| !v.trim().is_empty()) {
                continue;
            }
            let source = self.ctx.results.departments.iter().find_map(|department| {
                let finding = row.departments.get(department).filter(|f| f.found)?;
                vocabulary.same_meaning(department, field).find_map(|f| {
                    let values: Vec<&str> =
                        finding.released.get(f)?.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
                    (!values.is_empty()).then(|| (department.clone(), values.join("；")))
                })
            });
            if source.is_none() && !vocabulary.required(field) {
                continue;
            }
            let label = vocabulary.field(field).to_owned();
            let (wording, department, fill) = match source {
                Some((department, value)) => {
                    let name = vocabulary.department(&department).to_owned();
                    let wording = Wording {
                        code: format!("missing.{field}"),
                        label: format!("缺{label}（{name}可补充）"),
                        severity: Severity::Notice,
                        detail: format!("名册{label}为空，{name}登记为“{value}”"),
                        action: format!("核实后按{name}登记补录{label}"),
                    };
                    let fill = Fill { field: field.clone(), label: label.clone(), value, source: Some(name) };
                    (wording, Some(department), fill)
                }
                None => {
                    let wording = Wording {
                        code: format!("missing.{field}"),
                        label: format!("缺{label}（{NO_SOURCE}）"),
                        severity: Severity::Notice,
                        detail: format!("名册{label}为空，比对部门中没有可补充的数据"),
                        action: format!("由镇街联系本人核实后补录{label}"),
                    };
                    let fill = Fill { field: field.clone(), label: label.clone(), value: String::new(), source: None };
                    (wording, None, fill)
                }
            };
            missing.push((field.clone(), wording, department, fill));
        }
        for (field, wording, department, fill) in missing {
            self.push(row.row, department.as_deref(), Some(&field), wording).fill = Some(fill);
        }
    }

    /// Problems in row order, then severity; every town with rows or problems.
    fn finish(self, options: &Options, applied: Vec<StatusRule>) -> ProblemSet {
        let Derivation { ctx, mut problems, notes } = self;
        problems.sort_by(|a, b| {
            (a.row, a.severity, &a.code, &a.department).cmp(&(b.row, b.severity, &b.code, &b.department))
        });
        let results = ctx.results;
        let mut towns: BTreeMap<String, u64> = BTreeMap::new();
        for row in &results.rows {
            *towns.entry(ctx.town_of(row.row)).or_default() += 1;
        }
        for p in &problems {
            towns.entry(p.town.clone()).or_default();
        }
        ProblemSet {
            format: FORMAT.to_owned(),
            job: results.job.clone(),
            purpose: results.purpose.clone(),
            approval: results.approval.clone(),
            requester: results.requester.clone(),
            departments: results.departments.clone(),
            district: ctx.vocabulary.district().to_owned(),
            party_names: ctx.vocabulary.party_names(std::iter::once(&results.requester).chain(&results.departments)),
            summary: results.summary.clone(),
            towns,
            rules: applied,
            local_invalid_rows: options.invalid_rows.is_some(),
            notes,
            problems,
        }
    }
}
