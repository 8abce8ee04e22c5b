//! Status rules: the built-in ones for the common cases (bound to kinds of department and
//! field roles of the district profile), and their evaluation on one registry row.

use std::collections::BTreeSet;

use bidui_core::api::{JobResults, RowResult, RuleTest, Severity, StatusRule};
use bidui_core::profile::{FieldRole, PartyKind};

use crate::labels::Vocabulary;

/// The categories of the built-in rules whose department is not found by identity number
/// in service records for good reason (families, civilians): only those who served are
/// expected there.
pub const SERVED_CATEGORIES: [&str; 6] =
    ["退役军官", "退役士兵", "退伍红军老战士", "西路军红军老战士", "红军失散人员", "老复员军人"];

/// A built-in rule before it meets a job: bound to a kind of department and to field roles,
/// never to a district's codes. `{部门}` in the label stands for the department's name.
struct Template {
    code: &'static str,
    label: &'static str,
    severity: Severity,
    /// The kind of department it applies to; `None`: any department with the field.
    kind: Option<PartyKind>,
    test: RuleTest,
    field: Option<FieldRole>,
    values: &'static [&'static str],
    registry_field: Option<FieldRole>,
    registry_values: &'static [&'static str],
    action: &'static str,
}

const ACTIVE: &[&str] = &["在册"];

const TEMPLATES: [Template; 9] = {
    use RuleTest::*;
    use Severity::*;
    let none: &[&str] = &[];
    [
        Template {
            code: "not_found",
            label: "{部门}中查无此人",
            severity: Serious,
            kind: Some(PartyKind::Household),
            test: Absent,
            field: None,
            values: none,
            registry_field: None,
            registry_values: none,
            action: "核实身份证号是否录错、人员是否已死亡注销或户籍不在本区",
        },
        Template {
            code: "deceased_active",
            label: "户籍已死亡但仍在册",
            severity: Serious,
            kind: Some(PartyKind::Household),
            test: AnyOf,
            field: Some(FieldRole::HouseholdStatus),
            values: &["死亡"],
            registry_field: Some(FieldRole::RegistryStatus),
            registry_values: ACTIVE,
            action: "核实死亡情况，停发优抚待遇并办理注销",
        },
        Template {
            code: "moved_out_active",
            label: "户籍已迁出但仍在册",
            severity: Normal,
            kind: Some(PartyKind::Household),
            test: AnyOf,
            field: Some(FieldRole::HouseholdStatus),
            values: &["迁出"],
            registry_field: Some(FieldRole::RegistryStatus),
            registry_values: ACTIVE,
            action: "核实迁往何处，办理优抚关系转移或注销",
        },
        Template {
            code: "death_recorded_active",
            label: "{部门}登记有死亡日期但仍在册",
            severity: Serious,
            kind: None,
            test: Present,
            field: Some(FieldRole::DeathDate),
            values: none,
            registry_field: Some(FieldRole::RegistryStatus),
            registry_values: ACTIVE,
            action: "核实死亡情况，停发优抚待遇并办理注销",
        },
        Template {
            code: "town_differs",
            label: "名册镇街与{部门}所属镇街不一致",
            severity: Normal,
            kind: Some(PartyKind::Household),
            test: Differs,
            field: Some(FieldRole::Town),
            values: none,
            registry_field: Some(FieldRole::Town),
            registry_values: none,
            action: "核实实际管理镇街，必要时办理转移",
        },
        Template {
            code: "address_differs",
            label: "户籍地址与{部门}不一致",
            severity: Notice,
            kind: Some(PartyKind::Household),
            test: Differs,
            field: Some(FieldRole::Address),
            values: none,
            registry_field: Some(FieldRole::Address),
            registry_values: none,
            action: "以公安户籍为准核实并更新户籍地址",
        },
        Template {
            code: "two_town_assistance",
            label: "在两个镇街领取救助",
            severity: Serious,
            kind: Some(PartyKind::Assistance),
            test: Distinct,
            field: Some(FieldRole::Town),
            values: none,
            registry_field: None,
            registry_values: none,
            action: "核实是否重复领取救助，通报民政部门处理",
        },
        Template {
            code: "assistance_other_town",
            label: "救助所属镇街与名册镇街不一致",
            severity: Normal,
            kind: Some(PartyKind::Assistance),
            test: Differs,
            field: Some(FieldRole::Town),
            values: none,
            registry_field: Some(FieldRole::Town),
            registry_values: none,
            action: "核实实际居住和管理镇街，是否两地分别享受待遇",
        },
        Template {
            code: "not_found",
            label: "{部门}无服役记录",
            severity: Notice,
            kind: Some(PartyKind::ServiceRecords),
            test: Absent,
            field: None,
            values: none,
            registry_field: Some(FieldRole::Category),
            registry_values: &SERVED_CATEGORIES,
            action: "核实服役经历和优抚对象身份",
        },
    ]
};

fn owned(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The built-in rules for a run's departments, bound through the district profile: each
/// template applies to the departments of its kind that sealed a field of its role. A
/// registry condition on a role the requester has no field for is dropped (a registry row is
/// presumed active), except where it narrows who is expected at all (service records).
/// Missing data (缺省数据) is not a rule: [`crate::problems`] lists every empty registry
/// field.
pub fn builtin(vocabulary: &Vocabulary, departments: &[String]) -> Vec<StatusRule> {
    let mut rules = Vec::new();
    for template in &TEMPLATES {
        for department in departments {
            if template.kind.is_some_and(|kind| vocabulary.kind(department) != Some(kind)) {
                continue;
            }
            let field = match template.field {
                Some(role) => match vocabulary.department_field(department, role) {
                    Some(field) => Some(field),
                    None => continue,
                },
                None => None,
            };
            let registry_field = template.registry_field.and_then(|role| vocabulary.registry_field(role));
            let needs_registry = matches!(template.test, RuleTest::Differs | RuleTest::Absent);
            if template.registry_field.is_some() && registry_field.is_none() && needs_registry {
                continue;
            }
            let name = vocabulary.department(department);
            rules.push(StatusRule {
                code: template.code.to_owned(),
                label: template.label.replace("{部门}", name),
                severity: template.severity,
                department: department.clone(),
                test: template.test,
                field: field.map(str::to_owned),
                values: owned(template.values),
                registry_field: registry_field.map(str::to_owned),
                registry_values: if registry_field.is_some() { owned(template.registry_values) } else { Vec::new() },
                action: Some(template.action.to_owned()),
                field_label: field.map(|f| vocabulary.field(f).to_owned()),
                registry_field_label: registry_field.map(|f| vocabulary.field(f).to_owned()),
            });
        }
    }
    rules
}

/// The rules a report applies: the job's own, then the built-in ones it does not replace.
pub fn effective(declared: &[StatusRule], builtin: Vec<StatusRule>) -> Vec<StatusRule> {
    let mut rules: Vec<StatusRule> = Vec::new();
    for rule in declared {
        if !rules.iter().any(|r| r.code == rule.code && r.department == rule.department) {
            rules.push(rule.clone());
        }
    }
    for rule in builtin {
        if !rules.iter().any(|r| r.code == rule.code && r.department == rule.department) {
            rules.push(rule);
        }
    }
    rules
}

/// Requester fields filled in for at least one row: an absent value of such a field means
/// the registry cell is empty; of any other, that the job does not know it.
pub fn released_registry_fields(results: &JobResults) -> BTreeSet<String> {
    crate::labels::carried_fields(results).into_iter().map(str::to_owned).collect()
}

/// One rule's finding on one row, before it becomes a [`crate::Problem`].
pub struct Hit {
    pub detail: String,
    /// The value a `fills` rule brings.
    pub fill: Option<String>,
}

fn quote(values: &[&str]) -> String {
    values.iter().map(|v| format!("“{v}”")).collect::<Vec<_>>().join("、")
}

pub fn field_label(rule: &StatusRule, vocabulary: &Vocabulary) -> String {
    rule.field_label.clone().unwrap_or_else(|| rule.field.as_deref().map_or("", |f| vocabulary.field(f)).to_owned())
}

pub fn registry_field_label(rule: &StatusRule, vocabulary: &Vocabulary) -> String {
    rule.registry_field_label
        .clone()
        .unwrap_or_else(|| rule.registry_field.as_deref().map_or("", |f| vocabulary.field(f)).to_owned())
}

/// Evaluates `rule` on `row`. `registry_fields` are the requester fields the results carry.
pub fn evaluate(
    rule: &StatusRule,
    row: &RowResult,
    registry_fields: &BTreeSet<String>,
    vocabulary: &Vocabulary,
) -> Option<Hit> {
    let finding = row.departments.get(&rule.department)?;
    let department = vocabulary.department(&rule.department);
    let registry_known = rule.registry_field.as_ref().is_some_and(|f| registry_fields.contains(f));
    let registry_value =
        rule.registry_field.as_ref().and_then(|f| row.fields.get(f)).map(|v| v.trim()).filter(|v| !v.is_empty());
    // A registry condition on a field the results do not carry cannot be checked: the rule
    // then holds for every row (a registry row is presumed active).
    let condition = !registry_known
        || rule.registry_values.is_empty()
        || registry_value.is_some_and(|v| rule.registry_values.iter().any(|x| x == v));
    if rule.test == RuleTest::Absent {
        return (row.id_valid && !finding.found && condition)
            .then(|| Hit { detail: format!("{department}中查无此身份证号"), fill: None });
    }
    if !finding.found {
        return None;
    }
    let field = rule.field.as_ref()?;
    let mut values: Vec<&str> = Vec::new();
    for v in finding.released.get(field).into_iter().flatten().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if !values.contains(&v) {
            values.push(v);
        }
    }
    if values.is_empty() {
        return None;
    }
    // Labels only for the detail of a hit: most rows meet no rule.
    let label = || field_label(rule, vocabulary);
    let registry_label = || registry_field_label(rule, vocabulary);
    match rule.test {
        RuleTest::AnyOf => {
            let hits: Vec<&str> = values.iter().copied().filter(|v| rule.values.iter().any(|x| x == v)).collect();
            if hits.is_empty() || !condition {
                return None;
            }
            let mut detail = format!("{department}登记的{}为{}", label(), quote(&hits));
            if let Some(r) = registry_value.filter(|_| registry_known) {
                detail.push_str(&format!("，名册{}为“{r}”", registry_label()));
            }
            Some(Hit { detail, fill: None })
        }
        RuleTest::Present => condition.then(|| {
            let mut detail = format!("{department}登记的{}为{}", label(), quote(&values));
            if let Some(r) = registry_value.filter(|_| registry_known) {
                detail.push_str(&format!("，名册{}为“{r}”", registry_label()));
            }
            Hit { detail, fill: None }
        }),
        RuleTest::Distinct => (values.len() >= 2 && condition).then(|| Hit {
            detail: format!("{department}登记的{}有{}个不同值：{}", label(), values.len(), quote(&values)),
            fill: None,
        }),
        RuleTest::Differs => {
            let r = registry_value.filter(|_| registry_known)?;
            (!values.contains(&r)).then(|| Hit {
                detail: format!("{department}登记的{}为{}，名册{}为“{r}”", label(), quote(&values), registry_label()),
                fill: None,
            })
        }
        RuleTest::Fills => {
            if !registry_known || registry_value.is_some() {
                return None;
            }
            let value = values.join("；");
            Some(Hit {
                detail: format!("名册{}为空，{department}登记为{}", registry_label(), quote(&values)),
                fill: Some(value),
            })
        }
        RuleTest::Absent => None,
    }
}

/// The default suggested action of a rule without one.
pub fn default_action(rule: &StatusRule, vocabulary: &Vocabulary) -> String {
    if let Some(action) = &rule.action {
        return action.clone();
    }
    let department = vocabulary.department(&rule.department);
    match rule.test {
        RuleTest::Fills => format!("核实后按{department}登记补录{}", registry_field_label(rule, vocabulary)),
        RuleTest::Absent => format!("核实该人员在{department}的登记情况"),
        _ => format!("与{department}核实后更正名册"),
    }
}
