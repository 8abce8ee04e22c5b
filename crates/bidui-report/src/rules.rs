//! Status rules: the built-in ones for the common cases (with the field names of the demo's
//! mapping, `src/demo.rs`), and their evaluation on one registry row.

use std::collections::BTreeSet;

use bidui_core::api::{JobResults, RowResult, RuleTest, Severity, StatusRule};

use crate::labels;

/// The categories of the built-in rules whose department is not found by identity number
/// in service records for good reason (families, civilians): only those who served are
/// expected there.
pub const SERVED_CATEGORIES: [&str; 6] =
    ["退役军官", "退役士兵", "退伍红军老战士", "西路军红军老战士", "红军失散人员", "老复员军人"];

#[allow(clippy::too_many_arguments)]
fn rule(
    code: &str,
    label: &str,
    severity: Severity,
    department: &str,
    test: RuleTest,
    field: Option<&str>,
    values: &[&str],
    registry_field: Option<&str>,
    registry_values: &[&str],
    action: &str,
) -> StatusRule {
    StatusRule {
        code: code.to_owned(),
        label: label.to_owned(),
        severity,
        department: department.to_owned(),
        test,
        field: field.map(str::to_owned),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
        registry_field: registry_field.map(str::to_owned),
        registry_values: registry_values.iter().map(|v| (*v).to_owned()).collect(),
        action: Some(action.to_owned()),
        field_label: None,
        registry_field_label: None,
    }
}

/// The built-in rules. A rule whose department is not in the job, or whose fields are not
/// sealed in it, finds nothing; a rule declared in the job spec with the same code and
/// department replaces the built-in one.
pub fn builtin() -> Vec<StatusRule> {
    use RuleTest::*;
    use Severity::*;
    let active = ["在册"];
    vec![
        rule(
            "not_found",
            "公安户籍中查无此人",
            Serious,
            "household",
            Absent,
            None,
            &[],
            None,
            &[],
            "核实身份证号是否录错、人员是否已死亡注销或户籍不在本区",
        ),
        rule(
            "deceased_active",
            "户籍已死亡但仍在册",
            Serious,
            "household",
            AnyOf,
            Some("household_status"),
            &["死亡"],
            Some("registry_status"),
            &active,
            "核实死亡情况，停发优抚待遇并办理注销",
        ),
        rule(
            "moved_out_active",
            "户籍已迁出但仍在册",
            Normal,
            "household",
            AnyOf,
            Some("household_status"),
            &["迁出"],
            Some("registry_status"),
            &active,
            "核实迁往何处，办理优抚关系转移或注销",
        ),
        rule(
            "town_differs",
            "名册镇街与户籍所属镇街不一致",
            Normal,
            "household",
            Differs,
            Some("household_town"),
            &[],
            Some("town"),
            &[],
            "核实实际管理镇街，必要时办理转移",
        ),
        rule(
            "address_differs",
            "户籍地址与公安户籍不一致",
            Notice,
            "household",
            Differs,
            Some("registered_address"),
            &[],
            Some("address"),
            &[],
            "以公安户籍为准核实并更新户籍地址",
        ),
        rule(
            "missing_address",
            "缺户籍地址（公安户籍可补充）",
            Notice,
            "household",
            Fills,
            Some("registered_address"),
            &[],
            Some("address"),
            &[],
            "核实后按公安户籍补录户籍地址",
        ),
        rule(
            "missing_phone",
            "缺联系电话（人社社保可补充）",
            Notice,
            "social-security",
            Fills,
            Some("phone"),
            &[],
            Some("phone"),
            &[],
            "电话核实后补录联系电话",
        ),
        rule(
            "two_town_assistance",
            "在两个镇街领取救助",
            Serious,
            "assistance",
            Distinct,
            Some("assistance_town"),
            &[],
            None,
            &[],
            "核实是否重复领取救助，通报民政部门处理",
        ),
        rule(
            "assistance_other_town",
            "救助所属镇街与名册镇街不一致",
            Normal,
            "assistance",
            Differs,
            Some("assistance_town"),
            &[],
            Some("town"),
            &[],
            "核实实际居住和管理镇街，是否两地分别享受待遇",
        ),
        rule(
            "not_found",
            "武装部无服役记录",
            Notice,
            "service-records",
            Absent,
            None,
            &[],
            Some("category"),
            &SERVED_CATEGORIES,
            "核实服役经历和优抚对象身份",
        ),
    ]
}

/// The rules a report applies: the job's own, then the built-in ones it does not replace.
pub fn effective(declared: &[StatusRule], builtin: bool) -> Vec<StatusRule> {
    let mut rules: Vec<StatusRule> = Vec::new();
    for rule in declared {
        if !rules.iter().any(|r| r.code == rule.code && r.department == rule.department) {
            rules.push(rule.clone());
        }
    }
    if builtin {
        for rule in self::builtin() {
            if !rules.iter().any(|r| r.code == rule.code && r.department == rule.department) {
                rules.push(rule);
            }
        }
    }
    rules
}

/// Requester fields filled in for at least one row: an absent value of such a field means
/// the registry cell is empty; of any other, that the job does not know it.
pub fn released_registry_fields(results: &JobResults) -> BTreeSet<String> {
    results.rows.iter().flat_map(|r| r.fields.keys().cloned()).collect()
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

pub fn field_label(rule: &StatusRule) -> String {
    rule.field_label.clone().unwrap_or_else(|| rule.field.as_deref().map(labels::field).unwrap_or("").to_owned())
}

pub fn registry_field_label(rule: &StatusRule) -> String {
    rule.registry_field_label
        .clone()
        .unwrap_or_else(|| rule.registry_field.as_deref().map(labels::field).unwrap_or("").to_owned())
}

/// Evaluates `rule` on `row`. `registry_fields` are the requester fields the results carry.
pub fn evaluate(rule: &StatusRule, row: &RowResult, registry_fields: &BTreeSet<String>) -> Option<Hit> {
    let finding = row.departments.get(&rule.department)?;
    let department = labels::department(&rule.department);
    let registry_known = rule.registry_field.as_ref().is_some_and(|f| registry_fields.contains(f));
    let registry_value =
        rule.registry_field.as_ref().and_then(|f| row.fields.get(f)).map(|v| v.trim()).filter(|v| !v.is_empty());
    // A registry condition on a field the results do not carry cannot be checked: the rule
    // then holds for every row (a registry row is presumed active).
    let condition = !registry_known
        || rule.registry_values.is_empty()
        || registry_value.is_some_and(|v| rule.registry_values.iter().any(|x| x == v));
    let registry_label = registry_field_label(rule);
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
    let label = field_label(rule);
    match rule.test {
        RuleTest::AnyOf => {
            let hits: Vec<&str> = values.iter().copied().filter(|v| rule.values.iter().any(|x| x == v)).collect();
            if hits.is_empty() || !condition {
                return None;
            }
            let mut detail = format!("{department}登记的{label}为{}", quote(&hits));
            if let Some(r) = registry_value.filter(|_| registry_known) {
                detail.push_str(&format!("，名册{registry_label}为“{r}”"));
            }
            Some(Hit { detail, fill: None })
        }
        RuleTest::Distinct => (values.len() >= 2 && condition).then(|| Hit {
            detail: format!("{department}登记的{label}有{}个不同值：{}", values.len(), quote(&values)),
            fill: None,
        }),
        RuleTest::Differs => {
            let r = registry_value.filter(|_| registry_known)?;
            (!values.contains(&r)).then(|| Hit {
                detail: format!("{department}登记的{label}为{}，名册{registry_label}为“{r}”", quote(&values)),
                fill: None,
            })
        }
        RuleTest::Fills => {
            if !registry_known || registry_value.is_some() {
                return None;
            }
            let value = values.join("；");
            Some(Hit {
                detail: format!("名册{registry_label}为空，{department}登记为{}", quote(&values)),
                fill: Some(value),
            })
        }
        RuleTest::Absent => None,
    }
}

/// The default suggested action of a rule without one.
pub fn default_action(rule: &StatusRule) -> String {
    if let Some(action) = &rule.action {
        return action.clone();
    }
    let department = labels::department(&rule.department);
    match rule.test {
        RuleTest::Fills => format!("核实后按{department}登记补录{}", registry_field_label(rule)),
        RuleTest::Absent => format!("核实该人员在{department}的登记情况"),
        _ => format!("与{department}核实后更正名册"),
    }
}
