//! The district profile (`district.toml`): the district's own vocabulary. Which parties
//! take part — each with its code, the Chinese name town staff know it by (公安户籍, 人社社保)
//! and its kind — and a catalogue of fields, each with a Chinese label and, where the report
//! needs to know what it means, a semantic role (the town, a phone number, a household
//! status). The report's built-in rules bind to kinds and roles, never to party or field
//! codes, so a district whose household department is `gongan` and whose town column is
//! `suoshu_zhenjie` gets the same checks as the demo.
//!
//! `bidui job create` checks a job against the profile and embeds the part of it the job
//! uses ([`Profile::for_job`]) in the spec the operator signs; the requester's report reads
//! it from there. Messages are Chinese first: the district's IT staff act on them.

use serde::{Deserialize, Serialize};

use crate::api::JobSpec;

/// A district profile, or the part of one a job uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The district's name (增城区), shown on the report.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub district: String,
    #[serde(rename = "party", default)]
    pub parties: Vec<PartyProfile>,
    #[serde(rename = "field", default)]
    pub fields: Vec<FieldProfile>,
}

/// One party: its code (the principal's name), display name and kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyProfile {
    /// The party's code, as enrolled and named in jobs: `gongan`.
    pub code: String,
    /// What town staff call it: 公安户籍.
    pub name: String,
    pub kind: PartyKind,
}

/// What a party is; built-in rules bind to kinds (a household registry's "not found" is a
/// problem, a petitions office's is not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartyKind {
    /// The requester's registry (优抚对象名册).
    Registry,
    /// Household registration (公安户籍).
    Household,
    /// Social security (人社社保).
    SocialSecurity,
    /// Medical insurance (医保).
    MedicalInsurance,
    /// Housing (住建).
    Housing,
    /// Civil affairs' assistance (民政救助).
    Assistance,
    /// Petitions (信访).
    Petitions,
    /// The armed-forces department's service records (武装部).
    ServiceRecords,
    /// Anything else: no built-in rule applies to it.
    Other,
}

/// One field of the catalogue. A code means the same wherever it appears: the registry's
/// `phone` and social security's `phone` are both a phone number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldProfile {
    /// The field's code, as jobs and agent configurations name it: `suoshu_zhenjie`.
    pub code: String,
    /// Its Chinese label: 所属镇街.
    pub label: String,
    /// What it means, where a built-in rule or the report needs to know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<FieldRole>,
    /// A registry field every row must have: an empty cell is listed under 缺省数据, with a
    /// department's value where one has it and 无部门可补充 where none does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

/// What a field means to the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldRole {
    /// The town (镇街) a row belongs to: the registry's organises the report.
    Town,
    /// A phone number (联系电话).
    Phone,
    /// An address (户籍地址).
    Address,
    /// The registry's own status of the record (在册 / 注销): closed rows get no problem.
    RegistryStatus,
    /// The registry's category of the person (优抚类别).
    Category,
    /// Household registration status (正常 / 死亡 / 迁出).
    HouseholdStatus,
    /// A date of death.
    DeathDate,
    /// The kind of assistance received.
    AssistanceType,
}

impl FieldRole {
    pub fn code(self) -> &'static str {
        match self {
            FieldRole::Town => "town",
            FieldRole::Phone => "phone",
            FieldRole::Address => "address",
            FieldRole::RegistryStatus => "registry_status",
            FieldRole::Category => "category",
            FieldRole::HouseholdStatus => "household_status",
            FieldRole::DeathDate => "death_date",
            FieldRole::AssistanceType => "assistance_type",
        }
    }

    /// The role's usual Chinese name, for messages.
    pub fn label(self) -> &'static str {
        match self {
            FieldRole::Town => "镇街",
            FieldRole::Phone => "联系电话",
            FieldRole::Address => "地址",
            FieldRole::RegistryStatus => "名册状态",
            FieldRole::Category => "优抚类别",
            FieldRole::HouseholdStatus => "户籍状态",
            FieldRole::DeathDate => "死亡日期",
            FieldRole::AssistanceType => "救助类型",
        }
    }
}

/// Why a profile, or a job under it, is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("参与方代码 {0:?} 不合规：只能用小写字母、数字和 '-'，1–64 个字符 (party code)")]
    PartyCode(String),
    #[error("字段代码 {0:?} 不合规：只能用小写字母、数字和 '_'，1–64 个字符 (field code)")]
    FieldCode(String),
    #[error("{0:?} 在档案中出现了两次，每个代码只能声明一次")]
    Duplicate(String),
    #[error("{0:?} 缺少中文名称（party 的 name 或 field 的 label），或名称超过 32 个字")]
    Name(String),
    #[error("字段 {field:?} 的角色 {role} 已由字段 {other:?} 在同一参与方中使用；一个参与方每个角色只能有一个字段")]
    RoleTwice { field: String, other: String, role: &'static str },
    #[error("任务中的参与方 {0:?} 未在区级档案 (district.toml) 中声明：请添加 [[party]] code = {0:?}、name 和 kind")]
    UnknownParty(String),
    #[error("任务的名册方 {0:?} 在档案中的 kind 不是 \"registry\"")]
    RequesterNotRegistry(String),
    #[error("部门 {0:?} 在档案中的 kind 是 \"registry\"；部门应为 household、social-security 等")]
    DepartmentIsRegistry(String),
    #[error(
        "任务中的字段 {0:?} 未在区级档案 (district.toml) 中声明：请添加 [[field]] code = {0:?} 和 label（中文名称）"
    )]
    UnknownField(String),
    #[error(
        "名册方 {requester:?} 的字段中没有镇街：报表按镇街分发，请在 district.toml 中为名册的镇街字段声明 \
         [[field]] code = \"…\"、label = \"镇街\"、role = \"town\"，并把它列入任务的 [requester] fields"
    )]
    NoTown { requester: String },
    #[error("字段 {field:?}（{label}）在档案中为必填 (required)，但任务的 [requester] fields 没有列出它：请添加")]
    RequiredNotAsked { field: String, label: String },
}

const MAX_NAME_CHARS: usize = 32;

fn valid_field_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS
}

impl Profile {
    /// Checks codes, names and uniqueness.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let mut seen = std::collections::BTreeSet::new();
        for party in &self.parties {
            if !crate::custody::has_name_form(&party.code) {
                return Err(ProfileError::PartyCode(party.code.clone()));
            }
            if !valid_name(&party.name) {
                return Err(ProfileError::Name(party.code.clone()));
            }
            if !seen.insert(("party", party.code.as_str())) {
                return Err(ProfileError::Duplicate(party.code.clone()));
            }
        }
        for field in &self.fields {
            if !valid_field_code(&field.code) {
                return Err(ProfileError::FieldCode(field.code.clone()));
            }
            if !valid_name(&field.label) {
                return Err(ProfileError::Name(field.code.clone()));
            }
            if !seen.insert(("field", field.code.as_str())) {
                return Err(ProfileError::Duplicate(field.code.clone()));
            }
        }
        Ok(())
    }

    pub fn party(&self, code: &str) -> Option<&PartyProfile> {
        self.parties.iter().find(|p| p.code == code)
    }

    pub fn field(&self, code: &str) -> Option<&FieldProfile> {
        self.fields.iter().find(|f| f.code == code)
    }

    /// The party's display name, or its code where the profile has none.
    pub fn party_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.party(code).map_or(code, |p| p.name.as_str())
    }

    /// The field's label, or its code where the profile has none.
    pub fn field_label<'a>(&'a self, code: &'a str) -> &'a str {
        self.field(code).map_or(code, |f| f.label.as_str())
    }

    pub fn role_of(&self, field: &str) -> Option<FieldRole> {
        self.field(field).and_then(|f| f.role)
    }

    /// The first of `fields` with `role`.
    pub fn with_role<'a>(&self, fields: &'a [String], role: FieldRole) -> Option<&'a str> {
        fields.iter().find(|f| self.role_of(f) == Some(role)).map(String::as_str)
    }

    /// Whether `spec` can run under this profile: every party and field declared, the
    /// requester a registry with a town, every required field asked of it, no party with
    /// two fields of one role. The errors say what to add.
    pub fn check_job(&self, spec: &JobSpec) -> Result<(), ProfileError> {
        self.validate()?;
        for party in spec.parties() {
            self.party(party).ok_or_else(|| ProfileError::UnknownParty(party.to_owned()))?;
        }
        if self.party(&spec.requester.party).map(|p| p.kind) != Some(PartyKind::Registry) {
            return Err(ProfileError::RequesterNotRegistry(spec.requester.party.clone()));
        }
        if let Some(d) =
            spec.departments.iter().find(|d| self.party(&d.party).map(|p| p.kind) == Some(PartyKind::Registry))
        {
            return Err(ProfileError::DepartmentIsRegistry(d.party.clone()));
        }
        let field_lists = std::iter::once(&spec.requester.fields).chain(spec.departments.iter().map(|d| &d.fields));
        for fields in field_lists {
            let mut roles: Vec<(FieldRole, &str)> = Vec::new();
            for field in fields {
                let declared = self.field(field).ok_or_else(|| ProfileError::UnknownField(field.clone()))?;
                let Some(role) = declared.role else { continue };
                if let Some((_, other)) = roles.iter().find(|(r, _)| *r == role) {
                    return Err(ProfileError::RoleTwice {
                        field: field.clone(),
                        other: (*other).to_owned(),
                        role: role.code(),
                    });
                }
                roles.push((role, field));
            }
        }
        if self.with_role(&spec.requester.fields, FieldRole::Town).is_none() {
            return Err(ProfileError::NoTown { requester: spec.requester.party.clone() });
        }
        if let Some(required) = self.fields.iter().find(|f| f.required && !spec.requester.fields.contains(&f.code)) {
            return Err(ProfileError::RequiredNotAsked { field: required.code.clone(), label: required.label.clone() });
        }
        Ok(())
    }

    /// The part of the profile `spec` uses: its parties and fields, in the profile's order.
    pub fn for_job(&self, spec: &JobSpec) -> Profile {
        let fields: std::collections::BTreeSet<&str> = std::iter::once(&spec.requester.fields)
            .chain(spec.departments.iter().map(|d| &d.fields))
            .flatten()
            .map(String::as_str)
            .collect();
        let parties: Vec<&str> = spec.parties().collect();
        Profile {
            district: self.district.clone(),
            parties: self.parties.iter().filter(|p| parties.contains(&p.code.as_str())).cloned().collect(),
            fields: self.fields.iter().filter(|f| fields.contains(f.code.as_str())).cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DepartmentSpec, RequesterSpec};

    fn party(code: &str, name: &str, kind: PartyKind) -> PartyProfile {
        PartyProfile { code: code.into(), name: name.into(), kind }
    }

    fn field(code: &str, label: &str, role: Option<FieldRole>, required: bool) -> FieldProfile {
        FieldProfile { code: code.into(), label: label.into(), role, required }
    }

    /// A district unlike the demo: its own codes, its own column names.
    fn profile() -> Profile {
        Profile {
            district: "某区".into(),
            parties: vec![
                party("tyjr", "退役军人事务局", PartyKind::Registry),
                party("gongan", "公安户籍", PartyKind::Household),
                party("renshe", "人社社保", PartyKind::SocialSecurity),
                party("minzheng", "民政救助", PartyKind::Assistance),
            ],
            fields: vec![
                field("suoshu_zhenjie", "所属镇街", Some(FieldRole::Town), true),
                field("lianxi_dianhua", "联系电话", Some(FieldRole::Phone), true),
                field("hukou_status", "户籍状态", Some(FieldRole::HouseholdStatus), false),
                field("beizhu", "备注", None, false),
            ],
        }
    }

    fn spec() -> JobSpec {
        let department = |party: &str, fields: &[&str]| DepartmentSpec {
            party: party.into(),
            compare: vec![],
            fields: fields.iter().map(|f| (*f).into()).collect(),
            max_records: 10,
        };
        JobSpec {
            id: "j-1".into(),
            purpose: "比对".into(),
            approval: "批准".into(),
            epoch: "0123456789abcdef".into(),
            suite: crate::Suite::HmacSha256,
            requester: RequesterSpec {
                party: "tyjr".into(),
                fields: vec!["suoshu_zhenjie".into(), "lianxi_dianhua".into()],
                max_records: 10,
            },
            departments: vec![department("gongan", &["hukou_status"]), department("renshe", &["lianxi_dianhua"])],
            retention_hours: None,
            rules: vec![],
            profile: None,
        }
    }

    #[test]
    fn a_job_is_checked_against_the_profile_with_what_to_add() {
        type Change = fn(&mut Profile, &mut JobSpec);
        let cases: [(&str, Change, Option<ProfileError>); 9] = [
            ("fits", |_, _| {}, None),
            (
                "an undeclared department",
                |_, s| s.departments[0].party = "gongan2".into(),
                Some(ProfileError::UnknownParty("gongan2".into())),
            ),
            (
                "an undeclared field",
                |_, s| s.departments[0].fields.push("siwang_riqi".into()),
                Some(ProfileError::UnknownField("siwang_riqi".into())),
            ),
            (
                "a requester without a town role",
                |p, _| p.fields[0].role = None,
                Some(ProfileError::NoTown { requester: "tyjr".into() }),
            ),
            (
                "a requester that does not ask for its town field",
                |_, s| s.requester.fields.retain(|f| f != "suoshu_zhenjie"),
                Some(ProfileError::NoTown { requester: "tyjr".into() }),
            ),
            (
                "a required field not asked of the registry",
                |p, _| p.fields[3].required = true,
                Some(ProfileError::RequiredNotAsked { field: "beizhu".into(), label: "备注".into() }),
            ),
            (
                "a requester that is not a registry",
                |p, _| p.parties[0].kind = PartyKind::Other,
                Some(ProfileError::RequesterNotRegistry("tyjr".into())),
            ),
            (
                "a department that is a registry",
                |p, _| p.parties[1].kind = PartyKind::Registry,
                Some(ProfileError::DepartmentIsRegistry("gongan".into())),
            ),
            (
                "two fields of one role in one party",
                |p, s| {
                    p.fields[3].role = Some(FieldRole::Town);
                    s.requester.fields.push("beizhu".into());
                },
                Some(ProfileError::RoleTwice { field: "beizhu".into(), other: "suoshu_zhenjie".into(), role: "town" }),
            ),
        ];
        for (name, change, expected) in cases {
            let (mut p, mut s) = (profile(), spec());
            change(&mut p, &mut s);
            assert_eq!(p.check_job(&s).err(), expected, "{name}");
        }
        let message = ProfileError::NoTown { requester: "tyjr".into() }.to_string();
        assert!(message.contains("role = \"town\"") && message.contains("[requester] fields"), "{message}");
    }

    #[test]
    fn a_profile_with_bad_codes_names_or_duplicates_is_refused() {
        type Change = fn(&mut Profile);
        let cases: [(Change, ProfileError); 5] = [
            (|p| p.parties[1].code = "GongAn".into(), ProfileError::PartyCode("GongAn".into())),
            (|p| p.fields[0].code = "所属镇街".into(), ProfileError::FieldCode("所属镇街".into())),
            (|p| p.parties[1].name = " ".into(), ProfileError::Name("gongan".into())),
            (|p| p.fields[1].label = "很".repeat(33), ProfileError::Name("lianxi_dianhua".into())),
            (|p| p.fields[1].code = "suoshu_zhenjie".into(), ProfileError::Duplicate("suoshu_zhenjie".into())),
        ];
        for (change, expected) in cases {
            let mut p = profile();
            change(&mut p);
            assert_eq!(p.validate(), Err(expected));
        }
    }

    #[test]
    fn the_job_carries_only_its_own_part_and_its_spec_is_checked_against_it() {
        let mut p = profile();
        p.parties.push(party("xinfang", "信访", PartyKind::Petitions));
        let mut s = spec();
        let part = p.for_job(&s);
        assert_eq!(part.parties.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(), ["tyjr", "gongan", "renshe"]);
        assert_eq!(
            part.fields.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["suoshu_zhenjie", "lianxi_dianhua", "hukou_status"]
        );
        s.profile = Some(part);
        s.validate().unwrap();
        // What an agent verifies: a spec whose embedded profile does not fit it is invalid.
        s.profile.as_mut().unwrap().fields.retain(|f| f.code != "hukou_status");
        assert_eq!(
            s.validate(),
            Err(crate::api::SpecError::Profile(ProfileError::UnknownField("hukou_status".into())))
        );
    }
}
