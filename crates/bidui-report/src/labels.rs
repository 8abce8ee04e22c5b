//! What town staff read: the district's names of its departments and fields (from the job's
//! district profile), severities in the reader's language, and the Chinese of
//! identity-number error codes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use bidui_core::api::{JobResults, Severity};
use bidui_core::profile::{FieldRole, PartyKind, Profile};
use bidui_i18n::{t_in, Lang};

/// The district's words for a run: its parties' display names, its fields' labels and
/// roles (the job's district profile, `bidui_core::profile`), and which fields each party
/// has in the job. Where a run has no profile, codes stand for themselves.
#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    profile: Profile,
    /// The requester's fields the job names.
    registry_fields: Vec<String>,
    /// Per department, the fields it sealed.
    department_fields: BTreeMap<String, Vec<String>>,
}

/// The requester's fields any row carries, in order. Collecting every row's keys sorted
/// them all (a fifth of `derive` on 30,000 rows); most rows carry the same fields as the row
/// before, so only another set of fields is added.
pub fn carried_fields(results: &JobResults) -> BTreeSet<&str> {
    let mut fields = BTreeSet::new();
    let mut last: Option<&BTreeMap<String, String>> = None;
    for row in &results.rows {
        if last.is_some_and(|last| last.keys().eq(row.fields.keys())) {
            continue;
        }
        fields.extend(row.fields.keys().map(String::as_str));
        last = Some(&row.fields);
    }
    fields
}

impl Vocabulary {
    pub fn of(results: &JobResults) -> Vocabulary {
        let mut registry_fields = results.registry_fields.clone();
        // Results of before the spec's field list travelled: the fields the rows carry.
        if registry_fields.is_empty() {
            registry_fields = carried_fields(results).into_iter().map(str::to_owned).collect();
        }
        Vocabulary {
            profile: results.profile.clone().unwrap_or_default(),
            registry_fields,
            department_fields: results.sealed_fields.clone(),
        }
    }

    /// The district's name (增城区), empty where the profile gives none.
    pub fn district(&self) -> &str {
        &self.profile.district
    }

    /// A department's (or the requester's) display name: 公安户籍.
    pub fn department<'a>(&'a self, party: &'a str) -> &'a str {
        self.profile.party_name(party)
    }

    /// A field's Chinese label; the compared attributes have their own.
    pub fn field<'a>(&'a self, field: &'a str) -> &'a str {
        match self.profile.field(field) {
            Some(f) => &f.label,
            None => attribute(field).unwrap_or(field),
        }
    }

    pub fn kind(&self, party: &str) -> Option<PartyKind> {
        self.profile.party(party).map(|p| p.kind)
    }

    pub fn registry_fields(&self) -> &[String] {
        &self.registry_fields
    }

    /// The requester's field with `role`: its town, its status, its phone.
    pub fn registry_field(&self, role: FieldRole) -> Option<&str> {
        self.profile.with_role(&self.registry_fields, role)
    }

    /// The field of `department` with `role`, among those it sealed.
    pub fn department_field(&self, department: &str, role: FieldRole) -> Option<&str> {
        self.profile.with_role(self.department_fields.get(department)?, role)
    }

    /// The fields `department` sealed that mean what the registry's `field` means: the
    /// same code, or the same role.
    pub fn same_meaning<'a>(&'a self, department: &str, field: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let role = self.profile.role_of(field);
        self.department_fields
            .get(department)
            .into_iter()
            .flatten()
            .filter(move |f| *f == field || (role.is_some() && self.profile.role_of(f) == role))
            .map(String::as_str)
    }

    /// Registry fields every row must have (the profile's `required`).
    pub fn required(&self, field: &str) -> bool {
        self.profile.field(field).is_some_and(|f| f.required)
    }

    /// Display names of the requester and the departments, by code.
    pub fn party_names<'a>(&self, parties: impl IntoIterator<Item = &'a String>) -> BTreeMap<String, String> {
        parties.into_iter().map(|p| (p.clone(), self.department(p).to_owned())).collect()
    }
}

/// The compared attributes' names (protocol words, the same in every district).
pub fn attribute(name: &str) -> Option<&'static str> {
    Some(match name {
        "name" => "姓名",
        "sex" => "性别",
        "birth_date" => "出生日期",
        _ => return None,
    })
}

/// A severity in the language of this thread (`bidui --lang`, [`bidui_i18n::in_language`]):
/// the summary page.
pub fn severity(severity: Severity) -> String {
    severity_in(bidui_i18n::language(), severity)
}

/// A severity in `lang`: the town workbooks, problems.csv and the diff's files ask for
/// Chinese whatever the reader's language, as the problems' own wording is Chinese.
pub fn severity_in(lang: Lang, severity: Severity) -> String {
    match severity {
        Severity::Serious => t_in!(lang, "report-severity-serious"),
        Severity::Normal => t_in!(lang, "report-severity-normal"),
        Severity::Notice => t_in!(lang, "report-severity-notice"),
    }
}

/// A severity in Chinese, made from the catalogue once: it labels every problem of the
/// town workbooks, problems.csv and the diff's files, tens of thousands a report.
pub fn severity_zh(severity: Severity) -> &'static str {
    static LABELS: OnceLock<[String; 3]> = OnceLock::new();
    let [serious, normal, notice] = LABELS
        .get_or_init(|| [Severity::Serious, Severity::Normal, Severity::Notice].map(|s| severity_in(Lang::Zh, s)));
    match severity {
        Severity::Serious => serious,
        Severity::Normal => normal,
        Severity::Notice => notice,
    }
}

/// What an identity-number error code (`bidui_core::IdError::code`) means, and what to do.
/// Chinese only, like every problem's wording ([`crate::problems`]): it becomes the
/// problem's detail and action in problems.json, which the town workbooks (Chinese forms,
/// [`crate::xlsx`]) and problems.csv show as they are.
pub fn invalid_id(code: &str) -> (&'static str, &'static str) {
    match code {
        "empty" => ("身份证号为空", "补录身份证号（以文本格式录入）"),
        "excel-mangled" => (
            "身份证号被Excel科学计数法或截断损坏，请以文本格式重新录入",
            "对照身份证或户口簿，将单元格设为文本格式后重新录入完整18位号码",
        ),
        "length" => ("身份证号位数不对（应为18位，旧号码为15位），可能多录或漏录了一位", "对照证件核对位数后重新录入"),
        "charset" => {
            ("身份证号含有非法字符（只能是数字，最后一位可为X），可能把0录成O、把1录成l", "对照证件更正错录的字符")
        }
        "birthdate" => ("身份证号中的出生日期不存在或晚于今天，可能有一位录错", "对照证件核对出生日期部分（第7–14位）"),
        "checksum" => ("身份证号最后一位校验码不符，号码中可能有一位录错", "对照证件逐位核对号码"),
        // Without the requester agent's local report (`report build --invalid-rows`) the
        // report knows only that the number failed, not why.
        _ => {
            ("身份证号未通过校验（本报告未附名册单位的本地校验报告，未列出具体原因）", "对照证件逐位核对并更正身份证号")
        }
    }
}
