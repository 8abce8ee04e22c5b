//! Category derivation, diff, workbooks and summary on hand-made results.

use std::collections::{BTreeMap, BTreeSet};

use bidui_core::api::{
    DepartmentFinding, JobResults, PersonRef, ResultSummary, RowResult, RuleTest, Severity, StatusRule,
};
use bidui_core::profile::Profile;
use bidui_i18n::{in_language, Lang};
use bidui_report::{derive, diff, Options, ProblemSet, RegistryEntry};
use calamine::{Data, Reader};

const DEPARTMENTS: [&str; 4] = ["household", "social-security", "assistance", "service-records"];

fn row(n: u32, town: &str, fields: &[(&str, &str)]) -> RowResult {
    let mut all: BTreeMap<String, String> = [
        ("town", town),
        ("category", "退役士兵"),
        ("registry_status", "在册"),
        ("phone", "13800000000"),
        ("address", "甲路1号"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in fields {
        if v.is_empty() {
            all.remove(*k);
        } else {
            all.insert(k.to_string(), v.to_string());
        }
    }
    let mut departments: BTreeMap<String, DepartmentFinding> =
        DEPARTMENTS.iter().map(|d| (d.to_string(), DepartmentFinding::default())).collect();
    // Found where a veteran is expected, everything agreeing.
    let household = departments.get_mut("household").unwrap();
    household.found = true;
    household.department_rows = 1;
    household.attributes = [("name", "same"), ("sex", "agree"), ("birth_date", "agree")]
        .iter()
        .map(|(a, v)| (a.to_string(), v.to_string()))
        .collect();
    household.released =
        released(&[("household_status", &["正常"]), ("household_town", &[town]), ("registered_address", &["甲路1号"])]);
    let service = departments.get_mut("service-records").unwrap();
    service.found = true;
    service.department_rows = 1;
    RowResult { row: n, fields: all, id_valid: true, duplicate_rows: Vec::new(), departments, person: None }
}

fn released(values: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    values.iter().map(|(f, v)| (f.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
}

/// The demo district's profile, as the examples hold it.
fn demo_profile() -> Profile {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/district.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn results(rows: Vec<RowResult>) -> JobResults {
    JobResults {
        job: "zc-test-1".into(),
        purpose: "第二阶段数据比对".into(),
        approval: "增政数〔2026〕1号".into(),
        requester: "veterans".into(),
        departments: DEPARTMENTS.iter().map(|d| d.to_string()).collect(),
        summary: ResultSummary { registry_rows_read: 12, registry_rows: rows.len() as u64, ..ResultSummary::default() },
        rows,
        rules: Vec::new(),
        profile: Some(demo_profile()),
        registry_fields: ["town", "category", "registry_status", "phone", "address"].map(String::from).to_vec(),
        sealed_fields: [
            ("household", &["household_status", "registered_address", "household_town"][..]),
            ("social-security", &["phone"]),
            ("assistance", &["assistance_town"]),
            ("service-records", &[]),
        ]
        .iter()
        .map(|(d, fields)| (d.to_string(), fields.iter().map(|f| f.to_string()).collect()))
        .collect(),
        refused: BTreeMap::new(),
        unopened: 0,
    }
}

fn finding<'a>(r: &'a mut RowResult, d: &str) -> &'a mut DepartmentFinding {
    r.departments.get_mut(d).unwrap()
}

/// Every category once, on rows 1–12 of towns 荔城街道 (A), 新塘镇 (B), 石滩镇 (C).
fn district() -> JobResults {
    let (a, b, c) = ("荔城街道", "新塘镇", "石滩镇");
    let mut rows = Vec::new();
    rows.push(row(1, a, &[])); // nothing wrong
    let mut r = row(2, a, &[]); // invalid number, a probable match in household
    r.id_valid = false;
    for f in r.departments.values_mut() {
        *f = DepartmentFinding::default();
    }
    finding(&mut r, "household").probable_rows = 2;
    rows.push(r);
    let mut r = row(3, a, &[]); // duplicate of 4 in another town; dead in household
    r.duplicate_rows = vec![4];
    finding(&mut r, "household").released.insert("household_status".into(), vec!["死亡".into()]);
    rows.push(r);
    let mut r = row(4, b, &[]);
    r.duplicate_rows = vec![3];
    rows.push(r);
    let mut r = row(5, b, &[]); // duplicate of 6, which is closed: no problem
    r.duplicate_rows = vec![6];
    rows.push(r);
    let mut r = row(6, b, &[("registry_status", "注销")]);
    r.duplicate_rows = vec![5];
    finding(&mut r, "household").released.insert("household_status".into(), vec!["死亡".into()]);
    rows.push(r);
    let mut r = row(7, b, &[("phone", "")]); // homophone, sex, no service record, phone to fill
    finding(&mut r, "household").attributes.insert("name".into(), "homophone".into());
    finding(&mut r, "household").attributes.insert("sex".into(), "differ".into());
    *finding(&mut r, "service-records") = DepartmentFinding::default();
    let ss = finding(&mut r, "social-security");
    ss.found = true;
    ss.released = released(&[("phone", &["020-12345678"])]);
    rows.push(r);
    let mut r = row(8, c, &[("category", "现役军人家属")]); // found nowhere
    for f in r.departments.values_mut() {
        *f = DepartmentFinding::default();
    }
    rows.push(r);
    let mut r = row(9, c, &[]); // assistance in two towns
    let asst = finding(&mut r, "assistance");
    asst.found = true;
    asst.released = released(&[("assistance_town", &[c, a])]);
    rows.push(r);
    let mut r = row(10, c, &[]); // assistance in another town
    let asst = finding(&mut r, "assistance");
    asst.found = true;
    asst.released = released(&[("assistance_town", &[b])]);
    rows.push(r);
    let mut r = row(11, c, &[("address", "")]); // moved out, other town, address to fill
    let h = finding(&mut r, "household");
    h.released =
        released(&[("household_status", &["迁出"]), ("household_town", &[a]), ("registered_address", &["乙路2号"])]);
    h.attributes.insert("name".into(), "variant".into());
    rows.push(r);
    let mut r = row(12, c, &[("address", "丙路3号")]); // address differs, name different in social security
    let ss = finding(&mut r, "social-security");
    ss.found = true;
    ss.attributes.insert("name".into(), "different".into());
    rows.push(r);
    results(rows)
}

fn local_invalid_rows() -> BTreeMap<u32, String> {
    bidui_report::parse_invalid_rows("\u{FEFF}row,reason\n2,excel-mangled\n13,\"merged cells, cannot read\"\n").unwrap()
}

fn triples(set: &ProblemSet) -> BTreeSet<(u32, String, String)> {
    set.problems.iter().map(|p| (p.row, p.code.clone(), p.department.clone().unwrap_or_default())).collect()
}

fn t(row: u32, code: &str, department: &str) -> (u32, String, String) {
    (row, code.to_owned(), department.to_owned())
}

#[test]
fn every_category_is_derived_exactly_on_hand_made_results() {
    let set = derive(&district(), &Options { invalid_rows: Some(local_invalid_rows()), ..Options::default() }).unwrap();
    let expected: BTreeSet<_> = [
        t(2, "invalid_id.excel-mangled", ""),
        t(2, "probable_match", "household"),
        t(3, "duplicate.cross_town", ""),
        t(3, "deceased_active", "household"),
        t(4, "duplicate.cross_town", ""),
        t(7, "name.homophone", "household"),
        t(7, "attribute.sex", "household"),
        t(7, "not_found", "service-records"),
        t(7, "missing.phone", "social-security"),
        t(8, "found_nowhere", ""),
        t(8, "not_found", "household"),
        t(9, "two_town_assistance", "assistance"),
        t(10, "assistance_other_town", "assistance"),
        t(11, "moved_out_active", "household"),
        t(11, "town_differs", "household"),
        t(11, "missing.address", "household"),
        t(11, "name.variant", "household"),
        t(12, "address_differs", "household"),
        t(12, "name.different", "social-security"),
        t(13, "unreadable_row", ""),
    ]
    .into_iter()
    .collect();
    assert_eq!(triples(&set), expected);

    let p = |row: u32, code: &str| set.problems.iter().find(|p| p.row == row && p.code == code).unwrap();
    assert_eq!(p(2, "invalid_id.excel-mangled").detail, "身份证号被Excel科学计数法或截断损坏，请以文本格式重新录入");
    assert_eq!(p(2, "invalid_id.excel-mangled").severity, Severity::Serious);
    assert_eq!(p(3, "deceased_active").label, "户籍已死亡但仍在册");
    assert_eq!(p(3, "duplicate.cross_town").detail, "与第4行（新塘镇）为同一身份证号");
    assert_eq!(p(8, "not_found").severity, Severity::Serious);
    assert_eq!(p(7, "not_found").severity, Severity::Notice);
    assert_eq!(p(7, "name.homophone").label, "姓名同音字");
    assert_eq!(p(11, "name.variant").label, "姓名繁简异体");
    assert_eq!(p(12, "name.different").label, "姓名不一致");
    assert_eq!(p(2, "probable_match").label, "疑似匹配，需上门核实");
    assert!(p(2, "probable_match").detail.contains("2条"), "{}", p(2, "probable_match").detail);
    assert_eq!(p(9, "two_town_assistance").detail, "民政救助登记的救助所属镇街有2个不同值：“石滩镇”、“荔城街道”");
    assert_eq!(p(13, "unreadable_row").town, bidui_report::problems::NO_TOWN);
    let fills: Vec<(u32, &str, &str)> = set
        .fill_ins()
        .map(|p| (p.row, p.fill.as_ref().unwrap().label.as_str(), p.fill.as_ref().unwrap().value.as_str()))
        .collect();
    assert_eq!(fills, vec![(7, "联系电话", "020-12345678"), (11, "户籍地址", "乙路2号")]);
    assert_eq!(
        set.towns.keys().map(String::as_str).collect::<Vec<_>>(),
        ["新塘镇", "未注明镇街", "石滩镇", "荔城街道"]
    );
    assert!(set.local_invalid_rows);
}

#[test]
fn without_the_local_report_invalid_numbers_have_no_code() {
    let set = derive(&district(), &Options::default()).unwrap();
    let invalid: Vec<_> =
        set.problems.iter().filter(|p| p.code.starts_with("invalid_id")).map(|p| (p.row, p.code.as_str())).collect();
    assert_eq!(invalid, vec![(2, "invalid_id.unknown")]);
    assert!(!set.problems.iter().any(|p| p.code == "unreadable_row"));
}

#[test]
fn declared_rules_use_the_districts_own_field_names_and_replace_builtin_ones() {
    let mut results = district();
    // This district's household agent calls the status field `hj_zt` and uses 已死亡.
    for row in &mut results.rows {
        let h = row.departments.get_mut("household").unwrap();
        if let Some(v) = h.released.remove("household_status") {
            h.released
                .insert("hj_zt".into(), v.into_iter().map(|s| if s == "死亡" { "已死亡".into() } else { s }).collect());
        }
    }
    results.rules = vec![StatusRule {
        code: "deceased_active".into(),
        label: "户籍注销（死亡）但仍在册".into(),
        severity: Severity::Serious,
        department: "household".into(),
        test: RuleTest::AnyOf,
        field: Some("hj_zt".into()),
        values: vec!["已死亡".into()],
        registry_field: Some("registry_status".into()),
        registry_values: vec!["在册".into()],
        action: None,
        field_label: Some("户籍状态".into()),
        registry_field_label: None,
    }];
    let set = derive(&results, &Options::default()).unwrap();
    let deceased: Vec<_> = set.problems.iter().filter(|p| p.code == "deceased_active").collect();
    assert_eq!(deceased.len(), 1);
    assert_eq!(deceased[0].row, 3);
    assert_eq!(deceased[0].label, "户籍注销（死亡）但仍在册");
    assert_eq!(deceased[0].detail, "公安户籍登记的户籍状态为“已死亡”，名册状态为“在册”");
    // Built-in rules on fields this district does not release find nothing.
    assert!(!set.problems.iter().any(|p| p.code == "moved_out_active"));

    let mut reserved = district();
    reserved.rules = results.rules.clone();
    reserved.rules[0].code = "duplicate".into();
    assert!(derive(&reserved, &Options::default()).is_err());
}

#[test]
fn diff_lists_fixed_new_and_still_open_per_town() {
    let before = derive(&district(), &Options::default()).unwrap();
    let mut corrected = district();
    corrected.job = "zc-test-2".into();
    // Row 3 (荔城街道) closed as a duplicate: its deceased and duplicate problems go, and so does row 4's duplicate.
    corrected.rows[2].fields.insert("registry_status".into(), "注销".into());
    // Row 7 (新塘镇): the phone filled in.
    corrected.rows[6].fields.insert("phone".into(), "020-12345678".into());
    // Row 1 (荔城街道): a new sex mismatch.
    corrected.rows[0].departments.get_mut("household").unwrap().attributes.insert("sex".into(), "differ".into());
    // Row 12: the name is now only a homophone: still the same open problem.
    corrected.rows[11]
        .departments
        .get_mut("social-security")
        .unwrap()
        .attributes
        .insert("name".into(), "homophone".into());
    let after = derive(&corrected, &Options::default()).unwrap();
    let d = diff(&before, &after);
    let keys = |list: &[bidui_report::Problem]| list.iter().map(|p| (p.row, p.code.clone())).collect::<Vec<_>>();
    let a = &d.towns["荔城街道"];
    assert_eq!(keys(&a.fixed), vec![(3, "deceased_active".into()), (3, "duplicate.cross_town".into())]);
    assert_eq!(keys(&a.new), vec![(1, "attribute.sex".into())]);
    let b = &d.towns["新塘镇"];
    assert_eq!(keys(&b.fixed), vec![(4, "duplicate.cross_town".into()), (7, "missing.phone".into())]);
    assert!(b.new.is_empty());
    let c = &d.towns["石滩镇"];
    assert!(c.fixed.is_empty() && c.new.is_empty());
    assert!(
        c.still_open.iter().any(|p| p.row == 12 && p.code == "name.homophone"),
        "a name still not the department's stays open"
    );
    assert_eq!(d.totals.fixed, 4);
    assert_eq!(d.totals.new, 1);
    assert_eq!(d.totals.still_open, before.problems.len() - 4);
    let text = bidui_report::diff::text(&d, true);
    assert!(text.contains("已整改") && text.contains("第3行 户籍已死亡但仍在册"), "{text}");
    let csv = String::from_utf8(bidui_report::diff::csv(&d)).unwrap();
    assert!(csv.starts_with("\u{FEFF}状态,镇街,序号"));
    assert_eq!(csv.lines().count(), 1 + d.totals.fixed + d.totals.new + d.totals.still_open);
}

fn sheet(path: &std::path::Path, name: &str) -> Vec<Vec<Data>> {
    let mut workbook = calamine::open_workbook_auto(path).unwrap();
    let range = workbook.worksheet_range(name).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => format!("{other:?}"),
    }
}

#[test]
fn town_workbooks_read_back_with_their_sheets_headers_and_rows() {
    let set = derive(&district(), &Options { invalid_rows: Some(local_invalid_rows()), ..Options::default() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let written = bidui_report::write_town_workbooks(&set, dir.path(), None).unwrap();
    assert_eq!(written.len(), 4);
    for town in &written {
        let workbook = calamine::open_workbook_auto(&town.path).unwrap();
        assert_eq!(workbook.sheet_names(), vec!["问题清单", "缺省数据补充", "说明"]);
        let problems = sheet(&town.path, "问题清单");
        assert_eq!(problems[0].iter().map(text).collect::<Vec<_>>(), bidui_report::xlsx::problem_headers(false));
        let expected = set.problems.iter().filter(|p| p.town == town.town).count();
        assert_eq!(problems.len() - 1, expected, "{}", town.town);
        let fills = sheet(&town.path, "缺省数据补充");
        assert_eq!(fills[0].iter().map(text).collect::<Vec<_>>(), ["序号", "缺省字段", "提供部门", "补充值", "说明"]);
        assert_eq!(fills.len() - 1, set.fill_ins().filter(|p| p.town == town.town).count());
    }
    let b = sheet(&dir.path().join("新塘镇.xlsx"), "缺省数据补充");
    assert_eq!(b[1].iter().take(4).map(text).collect::<Vec<_>>(), ["7", "联系电话", "人社社保", "020-12345678"]);

    // Resolved on the requester's side: names, identity numbers (as text, as written) and contacts.
    let entries: BTreeMap<u32, RegistryEntry> = (1..=13)
        .map(|r| {
            let identity = if r == 2 { "4.40183E+17".to_owned() } else { format!("44018319800101{:03}X", r) };
            (r, RegistryEntry { name: format!("人员{r}"), identity, contact: format!("1380000{r:04}"), town: None })
        })
        .collect();
    let resolved = tempfile::tempdir().unwrap();
    bidui_report::write_town_workbooks(&set, resolved.path(), Some(&entries)).unwrap();
    let a = sheet(&resolved.path().join("荔城街道.xlsx"), "问题清单");
    assert_eq!(a[0].iter().map(text).collect::<Vec<_>>(), bidui_report::xlsx::problem_headers(true));
    assert_eq!(&a[0][..4].iter().map(text).collect::<Vec<_>>(), &["序号", "姓名", "公民身份号码", "联系电话"]);
    let row2 = a.iter().find(|r| text(&r[0]) == "2").unwrap();
    assert_eq!(row2[1], Data::String("人员2".into()));
    assert_eq!(row2[2], Data::String("4.40183E+17".into()), "identity cells are text, never numbers");
    let row3 = a.iter().find(|r| text(&r[0]) == "3").unwrap();
    assert_eq!(row3[2], Data::String("44018319800101003X".into()));
    assert_eq!(row3[3], Data::String("13800000003".into()));
}

#[test]
fn built_on_the_requesters_side_the_town_workbooks_name_the_people_and_probable_values_show_for_verification() {
    let mut run = district();
    for row in &mut run.rows {
        row.person =
            Some(PersonRef { name: format!("人员{}", row.row), id_number: format!("44018319800101{:03}X", row.row) });
    }
    let probable = finding(&mut run.rows[1], "household");
    probable.probable_released = released(&[("household_status", &["死亡"])]);
    let set = derive(&run, &Options::default()).unwrap();
    let detail = &set.problems.iter().find(|p| p.row == 2 && p.code == "probable_match").unwrap().detail;
    assert!(detail.contains("该记录显示（待核实）户籍状态：死亡"), "{detail}");
    let dir = tempfile::tempdir().unwrap();
    let written = bidui_report::write_report(&run, &set, None, None, dir.path()).unwrap();
    let a = sheet(&written.towns.iter().find(|t| t.town == "荔城街道").unwrap().path, "问题清单");
    assert_eq!(a[0].iter().map(text).collect::<Vec<_>>(), bidui_report::xlsx::problem_headers(true));
    let row3 = a.iter().find(|r| text(&r[0]) == "3").unwrap();
    assert_eq!((text(&row3[1]), text(&row3[2])), ("人员3".to_owned(), "44018319800101003X".to_owned()));
}

#[test]
fn the_summary_is_one_self_contained_page() {
    let before = derive(&district(), &Options::default()).unwrap();
    let mut corrected = district();
    corrected.rows[2].fields.insert("registry_status".into(), "注销".into());
    let after = derive(&corrected, &Options::default()).unwrap();
    let d = diff(&before, &after);
    let page = in_language(Lang::Zh, || bidui_report::html::summary(&after, Some(&d), Some("2026-05-01 10:00")));
    assert!(page.starts_with("<!DOCTYPE html>"));
    for forbidden in ["<script", "src=", "href=", "@import", "url(", "<link", "@font-face"] {
        assert!(!page.contains(forbidden), "the page must fetch nothing: found {forbidden}");
    }
    assert_eq!(page.matches("<svg").count(), 3, "towns, coverage and trend charts");
    for heading in ["各镇街问题数", "镇街 × 问题类别", "部门比对覆盖", "与上一轮比较", "户籍已死亡但仍在册"]
    {
        assert!(page.contains(heading), "{heading}");
    }
    assert!(!page.contains("440183"), "no identity number in the summary");
}

#[test]
fn the_summary_speaks_the_language_of_the_thread_that_writes_it() {
    let set = derive(&district(), &Options::default()).unwrap();
    let page = |lang| in_language(lang, || bidui_report::html::summary(&set, None, Some("2026-05-01 10:00")));
    let chinese = page(Lang::Zh);
    for text in ["<html lang=\"zh-CN\">", "各镇街问题数", "生成于 2026-05-01 10:00", ">严重<"] {
        assert!(chinese.contains(text), "the Chinese page lacks {text}");
    }
    let english = page(Lang::En);
    for text in ["<html lang=\"en\">", "Problems per town", "generated 2026-05-01 10:00 Beijing time", ">Serious<"] {
        assert!(english.contains(text), "the English page lacks {text}");
    }
    assert!(!english.contains("各镇街问题数") && !english.contains(">严重<"));
    // The district's words stay as they are: its towns, the problems' categories.
    assert!(english.contains("荔城街道") && english.contains("跨镇街重复登记"));
}

#[test]
fn a_rule_whose_registry_values_no_row_has_is_noted_not_silent() {
    let mut results = district();
    for row in &mut results.rows {
        if row.fields.get("registry_status").is_some_and(|s| s == "在册") {
            row.fields.insert("registry_status".into(), "正常".into());
        }
    }
    let set = derive(&results, &Options::default()).unwrap();
    assert!(!set.problems.iter().any(|p| p.code == "deceased_active"));
    assert!(set.notes.iter().any(|n| n.contains("deceased_active") && n.contains("在册")), "{:?}", set.notes);
    // 正常 is live: only the 注销 row is closed.
    assert!(set.problems.iter().any(|p| p.row == 3 && p.code == "duplicate.cross_town"));
    assert!(!set.problems.iter().any(|p| p.row == 6));
}

/// The demo district's run in the words of a district whose departments are `gongan`,
/// `renshe`, `minzheng` and `wuzhuangbu` and whose columns are named in pinyin.
fn own_vocabulary(mut run: JobResults) -> JobResults {
    let parties = [
        ("veterans", "tyjr"),
        ("household", "gongan"),
        ("social-security", "renshe"),
        ("assistance", "minzheng"),
        ("service-records", "wuzhuangbu"),
    ];
    let fields = [
        ("town", "suoshu_zhenjie"),
        ("category", "youfu_leibie"),
        ("registry_status", "zaice_zhuangtai"),
        ("phone", "lianxi_dianhua"),
        ("address", "hukou_dizhi"),
        ("household_status", "hukou_status"),
        ("registered_address", "gongan_dizhi"),
        ("household_town", "gongan_zhenjie"),
        ("assistance_town", "jiuzhu_zhenjie"),
    ];
    let party = |p: &str| parties.iter().find(|(a, _)| *a == p).map_or(p.to_owned(), |(_, b)| (*b).to_owned());
    let field = |f: &str| fields.iter().find(|(a, _)| *a == f).map_or(f.to_owned(), |(_, b)| (*b).to_owned());
    let rename = |map: BTreeMap<String, Vec<String>>| map.into_iter().map(|(k, v)| (field(&k), v)).collect();
    let mut profile = run.profile.take().unwrap();
    for p in &mut profile.parties {
        p.code = party(&p.code);
    }
    for f in &mut profile.fields {
        f.code = field(&f.code);
    }
    run.profile = Some(profile);
    run.requester = party(&run.requester);
    run.departments = run.departments.iter().map(|d| party(d)).collect();
    run.registry_fields = run.registry_fields.iter().map(|f| field(f)).collect();
    run.sealed_fields =
        run.sealed_fields.into_iter().map(|(d, fs)| (party(&d), fs.iter().map(|f| field(f)).collect())).collect();
    for row in &mut run.rows {
        row.fields = row.fields.clone().into_iter().map(|(k, v)| (field(&k), v)).collect();
        row.departments = std::mem::take(&mut row.departments)
            .into_iter()
            .map(|(d, mut finding)| {
                finding.released = rename(finding.released);
                finding.probable_released = rename(finding.probable_released);
                (party(&d), finding)
            })
            .collect();
    }
    run
}

#[test]
fn a_district_with_its_own_codes_gets_the_same_problems_and_reads_only_its_display_names() {
    let options = Options { invalid_rows: Some(local_invalid_rows()), ..Options::default() };
    let demo = derive(&district(), &options).unwrap();
    let own = derive(&own_vocabulary(district()), &options).unwrap();
    let shape = |set: &ProblemSet| {
        set.problems
            .iter()
            .map(|p| {
                (p.row, p.town.clone(), p.code.split('.').next().unwrap().to_owned(), p.label.clone(), p.detail.clone())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&own), shape(&demo), "rules bind to kinds and roles, not to the demo's codes");
    assert_eq!(own.notes, demo.notes);

    let dir = tempfile::tempdir().unwrap();
    let written = bidui_report::write_town_workbooks(&own, dir.path(), None).unwrap();
    let codes = ["gongan", "renshe", "minzheng", "wuzhuangbu", "tyjr", "hukou", "zhenjie", "dianhua", "zaice"];
    for town in &written {
        for name in ["问题清单", "缺省数据补充", "说明"] {
            let rows = sheet(&town.path, name);
            // 问题代码 (the problem's stable code, for the correction round) is the one
            // column of codes.
            let code_column = rows[0].iter().position(|h| text(h) == "问题代码");
            for row in &rows {
                let shown = row.iter().enumerate().filter(|(i, _)| Some(*i) != code_column).map(|(_, c)| text(c));
                for cell in shown {
                    assert!(!codes.iter().any(|c| cell.contains(c)), "{name} of {} shows a code: {cell}", town.town);
                }
            }
        }
    }
    let page = bidui_report::html::summary(&own, None, None);
    for code in codes {
        assert!(!page.contains(code), "the summary shows the code {code}");
    }
    assert!(page.contains("公安户籍") && page.contains("民政救助"));
}

#[test]
fn every_empty_required_field_is_listed_with_its_filler_or_no_source() {
    let mut run = district();
    // Row 1: no phone and nobody has one; row 7: no phone, social security has it; row 1's
    // category (not required) is empty too, and nobody can fill it: not listed.
    run.rows[0].fields.remove("phone");
    run.rows[0].fields.remove("category");
    let set = derive(&run, &Options::default()).unwrap();
    let missing: Vec<(u32, &str, &str, &str)> = set
        .fill_ins()
        .map(|p| {
            let fill = p.fill.as_ref().unwrap();
            (p.row, fill.field.as_str(), fill.source_label(), fill.value.as_str())
        })
        .collect();
    assert_eq!(
        missing,
        vec![
            (1, "phone", "无部门可补充", ""),
            (7, "phone", "人社社保", "020-12345678"),
            (11, "address", "公安户籍", "乙路2号")
        ]
    );
    let row1 = set.problems.iter().find(|p| p.row == 1 && p.code == "missing.phone").unwrap();
    assert_eq!((row1.label.as_str(), row1.department.as_deref()), ("缺联系电话（无部门可补充）", None));
    assert_eq!(row1.town, "荔城街道");

    // A closed row lists nothing; the operator's copy (no registry cells) neither.
    run.rows[0].fields.insert("registry_status".into(), "注销".into());
    assert!(!derive(&run, &Options::default()).unwrap().problems.iter().any(|p| p.row == 1));
    for row in &mut run.rows {
        row.fields.clear();
    }
    assert_eq!(derive(&run, &Options::default()).unwrap().fill_ins().count(), 0);
}

#[test]
fn a_run_without_a_town_role_says_so_instead_of_filing_everything_under_no_town_in_silence() {
    let mut run = district();
    let profile = run.profile.as_mut().unwrap();
    profile.fields.iter_mut().filter(|f| f.code == "town").for_each(|f| f.role = None);
    let set = derive(&run, &Options::default()).unwrap();
    assert!(set.problems.iter().all(|p| p.town == bidui_report::problems::NO_TOWN));
    assert!(set.notes.iter().any(|n| n.contains("role = \"town\"")), "{:?}", set.notes);
}

#[test]
fn a_date_of_death_recorded_while_active_is_found_in_any_department_that_seals_one() {
    let mut run = district();
    let profile = run.profile.as_mut().unwrap();
    profile.fields.push(bidui_core::profile::FieldProfile {
        code: "death_date".into(),
        label: "死亡日期".into(),
        role: Some(bidui_core::profile::FieldRole::DeathDate),
        required: false,
    });
    run.sealed_fields.get_mut("social-security").unwrap().push("death_date".into());
    let ss = finding(&mut run.rows[0], "social-security");
    ss.found = true;
    ss.released = released(&[("death_date", &["2025-03-01"])]);
    let set = derive(&run, &Options::default()).unwrap();
    let hit = set.problems.iter().find(|p| p.code == "death_recorded_active").unwrap();
    assert_eq!((hit.row, hit.label.as_str()), (1, "人社社保登记有死亡日期但仍在册"));
    assert_eq!(hit.detail, "人社社保登记的死亡日期为“2025-03-01”，名册状态为“在册”");
}

/// The run of `district()` as its requester holds it: each row names its person.
fn with_people(mut run: JobResults) -> JobResults {
    for row in &mut run.rows {
        row.person =
            Some(PersonRef { name: format!("人员{}", row.row), id_number: format!("44018319800101{:03}X", row.row) });
    }
    run
}

#[test]
fn the_report_upward_counts_per_town_and_category_and_each_towns_completion() {
    let before = derive(&district(), &Options::default()).unwrap();
    let mut corrected = district();
    corrected.rows[2].fields.insert("registry_status".into(), "注销".into());
    corrected.rows[6].fields.insert("phone".into(), "020-12345678".into());
    let after = derive(&corrected, &Options::default()).unwrap();
    let upward = bidui_report::upward::Upward::of(&after, Some(&before), "2026-12-01 10:00");
    assert_eq!(upward.area, "增城区（演示）");
    assert_eq!(upward.totals.problems, after.problems.len() as u64);
    assert_eq!(upward.totals.serious + upward.totals.normal + upward.totals.notice, upward.totals.problems);
    let town = |name: &str| upward.parts.iter().find(|t| t.name == name).unwrap();
    let d = diff(&before, &after);
    for (name, changes) in &d.towns {
        let c = changes.counts();
        let progress = town(name).progress.unwrap();
        assert_eq!(
            (progress.fixed, progress.still_open, progress.new),
            (c.fixed as u64, c.still_open as u64, c.new as u64)
        );
    }
    // 荔城街道 fixed row 3's two problems and has row 1 and 2's still open.
    let a = town("荔城街道").progress.unwrap();
    assert_eq!(a.fixed, 2);
    assert_eq!(a.completion(), Some(2.0 / (2.0 + a.still_open as f64)));
    assert_eq!(town("石滩镇").categories["在两个镇街领取救助"], 1);
    let parts: u64 = upward.parts.iter().map(|t| t.problems).sum();
    assert_eq!(parts, upward.totals.problems);
    assert!(upward.coverage.iter().any(|c| c.department == "公安户籍"), "{:?}", upward.coverage);
}

#[test]
fn the_report_upward_holds_no_person_identity_number_or_row_number() {
    let run = with_people(district());
    let before = derive(&run, &Options::default()).unwrap();
    let upward = bidui_report::upward::Upward::of(&before, Some(&before), "2026-12-01 10:00");
    let json = serde_json::to_string(&upward).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("upward.xlsx");
    bidui_report::upward::write_xlsx(&upward, &xlsx).unwrap();
    let mut cells: Vec<String> = Vec::new();
    let mut workbook = calamine::open_workbook_auto(&xlsx).unwrap();
    for name in workbook.sheet_names() {
        for row in workbook.worksheet_range(&name).unwrap().rows() {
            cells.extend(row.iter().map(text));
        }
    }
    for row in &run.rows {
        let person = row.person.as_ref().unwrap();
        for secret in [&person.name, &person.id_number] {
            assert!(!json.contains(secret.as_str()), "the JSON names {secret}");
            assert!(!cells.iter().any(|c| c.contains(secret.as_str())), "the workbook names {secret}");
        }
    }
    // No field could carry a row: the keys are names of areas, categories and counts.
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    keys(&value, &mut all);
    assert!(!all.iter().any(|k| k.contains("row") || k == "序号" || k == "detail"), "{all:?}");
    assert!(!cells.iter().any(|c| c == "序号" || c == "公民身份号码" || c == "姓名"));
}

#[test]
fn districts_merge_into_a_city_and_a_city_into_the_province() {
    use bidui_report::upward::{merge, MergeError, Upward};
    let set = derive(&district(), &Options::default()).unwrap();
    let mut a = Upward::of(&set, None, "2026-12-01 10:00");
    a.area = "增城区".into();
    let mut b = a.clone();
    b.area = "从化区".into();
    let city = merge("广州市", &[a.clone(), b.clone()], "2026-12-01 11:00").unwrap();
    assert_eq!(city.totals.problems, 2 * a.totals.problems);
    assert_eq!(city.totals.people, 2 * a.totals.people);
    assert_eq!(city.parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["增城区", "从化区"]);
    assert_eq!(city.coverage[0].found, 2 * a.coverage[0].found);
    assert_eq!(city.merged.len(), 2);
    let province = merge("广东省", std::slice::from_ref(&city), "2026-12-01 12:00").unwrap();
    assert_eq!(province.totals.problems, city.totals.problems);
    let twice = merge("广州市", &[a.clone(), a.clone()], "x");
    assert_eq!(twice, Err(MergeError::Twice("增城区".into())));
    // Told in the reader's language: Chinese first, English on request.
    let twice = twice.unwrap_err();
    let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || twice.to_string());
    assert_eq!(zh, "增城区 出现了两次，同一地区只能汇总一次");
    let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || twice.to_string());
    assert_eq!(en, "增城区 appears twice: an area is merged once only");
    assert_eq!(merge("广州市", &[], "x"), Err(MergeError::Empty));
    let dir = tempfile::tempdir().unwrap();
    bidui_report::upward::write_xlsx(&city, &dir.path().join("city.xlsx")).unwrap();
    let workbook = calamine::open_workbook_auto(dir.path().join("city.xlsx")).unwrap();
    assert_eq!(workbook.sheet_names(), ["汇总", "部门覆盖", "增城区", "从化区", "说明"]);
}

/// A town's workbook as the town returns it: every cell as written, with 整改情况 and
/// 整改说明 filled in on the rows of `answers` (序号, 问题代码 → 整改情况).
fn returned(workbook: &std::path::Path, answers: &[(u32, &str, &str)], out: &std::path::Path) {
    let rows = sheet(workbook, "问题清单");
    let column = |name: &str| rows[0].iter().position(|h| text(h) == name).unwrap();
    let (row_c, code_c, status_c, note_c) =
        (column("序号"), column("问题代码"), column("整改情况"), column("整改说明"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("问题清单").unwrap();
    for (r, cells) in rows.iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            match cell {
                Data::Float(f) => sheet.write_number(r as u32, c as u16, *f).map(|_| ()).unwrap(),
                other => sheet.write_string(r as u32, c as u16, text(other)).map(|_| ()).unwrap(),
            }
        }
        let answer = answers
            .iter()
            .find(|(row, code, _)| text(&cells[row_c]) == row.to_string() && text(&cells[code_c]) == *code);
        if let Some((_, _, status)) = answer {
            sheet.write_string(r as u32, status_c as u16, *status).unwrap();
            sheet.write_string(r as u32, note_c as u16, "镇街已核实").unwrap();
        }
    }
    book.save(out).unwrap();
}

#[test]
fn completion_over_all_rounds_adds_up_every_pair_and_ranks_on_the_sum() {
    use bidui_report::claims::{progress, progress_over, read_workbook, Claims};
    let first = derive(&district(), &Options::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    bidui_report::write_town_workbooks(&first, dir.path(), None).unwrap();
    let claimed = dir.path().join("returned.xlsx");
    returned(&dir.path().join("荔城街道.xlsx"), &[(3, "deceased_active", "已整改")], &claimed);
    let mut first_claims = Claims::new(&first.job);
    first_claims.add(read_workbook(&claimed, &first).unwrap());
    // Round two: 荔城街道's row 3 closed. Round three: nothing more changed.
    let mut corrected = district();
    corrected.job = "zc-test-2".into();
    corrected.rows[2].fields.insert("registry_status".into(), "注销".into());
    let second = derive(&corrected, &Options::default()).unwrap();
    corrected.job = "zc-test-3".into();
    let third = derive(&corrected, &Options::default()).unwrap();
    let none = Claims::new(&second.job);

    let pairs = [progress(&first, &first_claims, &second), progress(&second, &none, &third)];
    let over = progress_over(&[(&first, &first_claims), (&second, &none), (&third, &Claims::new(&third.job))]);
    for town in &over {
        let mut sum = bidui_report::claims::Correction::default();
        for pair in &pairs {
            if let Some(t) = pair.iter().find(|t| t.town == town.town) {
                sum.add(&t.total);
            }
        }
        assert_eq!(town.total, sum, "{}", town.town);
    }
    let lc =
        |towns: &[bidui_report::claims::TownCorrection]| towns.iter().find(|t| t.town == "荔城街道").cloned().unwrap();
    // The last pair alone: 荔城街道 fixed nothing more; over all rounds its first fix counts.
    assert_eq!(lc(&pairs[1]).total.completion(), Some(0.0));
    let overall = lc(&over);
    assert_eq!((overall.total.claimed_fixed, overall.total.confirmed), (1, 1));
    assert!(overall.total.completion().unwrap() > 0.0);
    assert_eq!(over[0].town, "荔城街道", "{over:?}");
    assert!(progress_over(&[(&first, &first_claims)]).is_empty(), "one round has nothing to weigh");
}

#[test]
fn towns_claims_are_taken_back_and_weighed_against_the_next_round() {
    use bidui_report::claims::{progress, read_workbook, Claims};
    let before = derive(&district(), &Options::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    bidui_report::write_town_workbooks(&before, dir.path(), None).unwrap();
    // 荔城街道 claims three problems fixed: row 3's deceased and duplicate, and row 2's
    // invalid number (which it does not really fix).
    let claimed = dir.path().join("returned.xlsx");
    let answers =
        [(3, "deceased_active", "已整改"), (3, "duplicate.cross_town", "已整改"), (2, "invalid_id.unknown", "已整改")];
    returned(&dir.path().join("荔城街道.xlsx"), &answers, &claimed);
    let mut claims = Claims::new(&before.job);
    claims.add(read_workbook(&claimed, &before).unwrap());
    assert_eq!(claims.claims.len(), 3);
    assert!(claims.claims.iter().all(|c| c.town == "荔城街道" && c.note == "镇街已核实"));

    // The next round: row 3 closed (注销), row 2 still invalid.
    let mut corrected = district();
    corrected.job = "zc-test-2".into();
    corrected.rows[2].fields.insert("registry_status".into(), "注销".into());
    let after = derive(&corrected, &Options::default()).unwrap();
    let towns = progress(&before, &claims, &after);
    let a = towns.iter().find(|t| t.town == "荔城街道").unwrap();
    assert_eq!((a.total.claimed_fixed, a.total.confirmed, a.total.claimed_but_present), (3, 2, 1));
    assert_eq!(a.categories["身份证号无效"].claimed_but_present, 1);
    assert_eq!(a.categories["户籍已死亡但仍在册"].confirmed, 1);
    // 荔城街道 fixed something; it ranks above the towns that fixed nothing but row 4's
    // duplicate, which went with row 3's.
    assert_eq!(towns[0].town, "荔城街道", "{towns:?}");
    assert!(a.total.completion().unwrap() > 0.0);

    // A row that names no problem of the run: the whole workbook is refused, with its row.
    let wrong = dir.path().join("wrong.xlsx");
    returned(&dir.path().join("荔城街道.xlsx"), &[(3, "deceased_active", "已整改")], &wrong);
    let mut other_run = before.clone();
    other_run.problems.retain(|p| !(p.row == 3 && p.code == "deceased_active"));
    let error = read_workbook(&wrong, &other_run).unwrap_err().to_string();
    assert!(error.contains("序号 3，deceased_active") && error.contains("整个工作簿未导入"), "{error}");
}

/// The town workbooks are written on several threads and the other files beside them: the
/// report lists the towns in the problem set's order, every file is whole, and its
/// results.json (compact, streamed) reads back as the run.
#[test]
fn a_report_written_in_parallel_lists_its_towns_in_order_and_its_results_read_back() {
    let run = district();
    let set = derive(&run, &Options { invalid_rows: Some(local_invalid_rows()), ..Options::default() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let written = bidui_report::write_report(&run, &set, None, None, dir.path()).unwrap();
    let towns: Vec<&str> = written.towns.iter().map(|t| t.town.as_str()).collect();
    assert_eq!(towns, set.by_town().keys().copied().collect::<Vec<_>>());
    for town in &written.towns {
        assert_eq!(sheet(&town.path, "问题清单").len() - 1, town.problems, "{}", town.town);
    }
    assert_eq!(bidui_report::load_results(dir.path()).unwrap(), run);
    let json = std::fs::read_to_string(&written.results).unwrap();
    assert!(!json.contains('\n'), "results.json is compact, as the agent writes it");
    for file in [&written.results_csv, &written.problems_json, &written.problems_csv, &written.summary] {
        assert!(std::fs::metadata(file).unwrap().len() > 0, "{}", file.display());
    }
}

#[test]
fn deriving_while_writing_gives_the_same_report_as_derive_then_write_report() {
    let run = with_people(district());
    let options = Options { invalid_rows: Some(local_invalid_rows()), ..Options::default() };
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let set = derive(&run, &options).unwrap();
    let apart = bidui_report::write_report(&run, &set, None, Some("2026-12-01 10:00"), one.path()).unwrap();
    let (derived, together) =
        bidui_report::derive_and_write(&run, &options, None, Some("2026-12-01 10:00"), two.path()).unwrap();
    assert_eq!(derived, set);
    for file in ["results.json", "results.csv", "problems.json", "problems.csv", "summary.html"] {
        let read = |dir: &tempfile::TempDir| std::fs::read(dir.path().join(file)).unwrap();
        assert_eq!(read(&one), read(&two), "{file}");
    }
    let towns = |written: &bidui_report::Written| {
        written.towns.iter().map(|t| (t.town.clone(), t.problems, t.fill_ins)).collect::<Vec<_>>()
    };
    assert_eq!(towns(&apart), towns(&together));
    assert!(!apart.towns.is_empty());
    for (a, b) in apart.towns.iter().zip(&together.towns) {
        for name in [bidui_report::xlsx::PROBLEM_SHEET, bidui_report::xlsx::FILL_SHEET, bidui_report::xlsx::INFO_SHEET]
        {
            assert_eq!(sheet(&a.path, name), sheet(&b.path, name), "{} {name}", a.town);
        }
    }
}

#[test]
fn the_fields_carried_are_every_rows_even_when_a_row_carries_other_fields_than_the_one_before() {
    let carrying = |n: u32, fields: &[&str]| RowResult {
        fields: fields.iter().map(|f| (f.to_string(), "x".to_owned())).collect(),
        ..row(n, "荔城街道", &[])
    };
    let run = results(vec![
        carrying(1, &["phone", "town"]),
        carrying(2, &["phone", "town"]),
        carrying(3, &["address", "town"]),
        carrying(4, &["phone", "town"]),
        carrying(5, &["category"]),
    ]);
    let carried: Vec<&str> = bidui_report::labels::carried_fields(&run).into_iter().collect();
    assert_eq!(carried, vec!["address", "category", "phone", "town"]);
}
