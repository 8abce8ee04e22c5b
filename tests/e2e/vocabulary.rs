//! A district with its own vocabulary, deployed through the real binary: departments
//! enrolled as `gongan`, `renshe` and `minzheng`, the registry as `tyjr`, every field named
//! in the district's own pinyin, Chinese display names in its profile (issue #12). The
//! built-in rules still fire (they bind to kinds and roles, not to the demo's names), and
//! the town workbooks and the summary show display names and labels, never a code.

use std::path::Path;

use bidui_core::api::JobSpec;
use calamine::{Data, Reader};

use crate::district::{district, job_spec};
use crate::{bidui, fresh_dir, path, printed, MatcherProcess};

/// The demo's parties as this district calls them.
const PARTIES: [(&str, &str, &str, &str); 4] = [
    ("veterans", "tyjr", "区退役军人事务局", "registry"),
    ("household", "gongan", "区公安分局户政", "household"),
    ("social-security", "renshe", "区人社局社保", "social-security"),
    ("assistance", "minzheng", "区民政局救助", "assistance"),
];

/// The demo's fields as this district names them: (demo, own, label, role or "").
const FIELDS: [(&str, &str, &str, &str); 12] = [
    ("town", "suoshu_zhenjie", "所属镇街", "town"),
    ("category", "youfu_leibie", "优抚类别", "category"),
    ("registry_status", "zaice_zhuangtai", "在册状态", "registry_status"),
    ("phone", "lianxi_dianhua", "联系电话", "phone"),
    ("address", "hukou_dizhi", "户籍地址", "address"),
    ("household_status", "hukou_zhuangtai", "户口状态", "household_status"),
    ("registered_address", "gongan_dizhi", "公安登记地址", "address"),
    ("household_town", "gongan_zhenjie", "户口所在镇街", "town"),
    ("assistance_town", "jiuzhu_zhenjie", "救助发放镇街", "town"),
    ("assistance_type", "jiuzhu_leixing", "救助类别", "assistance_type"),
    ("insured_status", "canbao_zhuangtai", "社保参保状态", ""),
    ("pension", "yanglaojin", "领取养老金", ""),
];

fn own(demo: &str) -> &'static str {
    PARTIES
        .iter()
        .find(|p| p.0 == demo)
        .map(|p| p.1)
        .or_else(|| FIELDS.iter().find(|f| f.0 == demo).map(|f| f.1))
        .unwrap()
}

fn profile() -> String {
    let mut text = String::from("district = \"某区\"\n");
    for (_, code, name, kind) in PARTIES {
        text.push_str(&format!("\n[[party]]\ncode = \"{code}\"\nname = \"{name}\"\nkind = \"{kind}\"\n"));
    }
    for (_, code, label, role) in FIELDS {
        text.push_str(&format!("\n[[field]]\ncode = \"{code}\"\nlabel = \"{label}\"\n"));
        if !role.is_empty() {
            text.push_str(&format!("role = \"{role}\"\n"));
        }
        if ["suoshu_zhenjie", "lianxi_dianhua"].contains(&code) {
            text.push_str("required = true\n");
        }
    }
    text
}

/// The demo agent's configuration, spoken in this district's words.
fn agent_config(demo: &str, url: &str) -> String {
    let mut config = std::fs::read_to_string(district().dir.join("agents").join(demo).join("agent.toml")).unwrap();
    config = config.replace(&format!("party = \"{demo}\""), &format!("party = \"{}\"", own(demo)));
    for (field, renamed, _, _) in FIELDS {
        config = config
            .replace(&format!("\n{field} = "), &format!("\n{renamed} = "))
            .replace(&format!("\"{field}\""), &format!("\"{renamed}\""));
    }
    // Fields this job does not ask for stay out of the district's words and the policy.
    let config: Vec<&str> =
        config.lines().filter(|l| !l.starts_with("assistance_amount") && !l.starts_with("matcher =")).collect();
    format!("matcher = \"{url}\"\n{}\n", config.join("\n").replace(", \"assistance_amount\"", ""))
}

fn cells(path: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let mut workbook = calamine::open_workbook_auto(path).unwrap();
    let text = |cell: &Data| match cell {
        Data::String(s) => s.clone(),
        other => other.to_string(),
    };
    workbook
        .sheet_names()
        .into_iter()
        .map(|name| {
            let range = workbook.worksheet_range(&name).unwrap();
            (name, range.rows().map(|r| r.iter().map(text).collect()).collect())
        })
        .collect()
}

#[test]
fn a_district_with_its_own_codes_and_names_reads_only_its_display_names() {
    let d = district();
    let work = fresh_dir("vocabulary");
    let database = work.join("matcher.db");
    let copied =
        bidui(&["matcher", "backup", "--db", path(&d.dir.join("matcher/matcher.db")), "--to", path(&database)]);
    assert!(copied.status.success(), "{}", printed(&copied));

    // Each party under its own code: fresh keys, enrolled by the administrator, the demo's
    // epoch provisioned by hand.
    let mut homes = Vec::new();
    for (demo, code, _, _) in PARTIES {
        let home = work.join("agents").join(code);
        let init = bidui(&["agent", "init", "--dir", path(&home)]);
        let keys = String::from_utf8(init.stdout).unwrap();
        let signing = keys.lines().find_map(|l| l.strip_prefix("signing_key = ")).unwrap();
        let enrolled = bidui(&[
            "matcher",
            "enroll",
            "--db",
            path(&database),
            "--name",
            code,
            "--role",
            "agent",
            "--public-key",
            signing,
        ]);
        assert!(enrolled.status.success(), "{}", printed(&enrolled));
        std::fs::copy(d.dir.join("agents").join(demo).join("epoch-1.toml"), home.join("epoch-1.toml")).unwrap();
        homes.push((demo, home));
    }
    let matcher = MatcherProcess::start(&database, &["--insecure-http".as_ref()]);
    let url = matcher.http_url();
    for (demo, home) in &homes {
        std::fs::write(home.join("agent.toml"), agent_config(demo, &url)).unwrap();
    }

    std::fs::write(work.join("district.toml"), profile()).unwrap();
    std::fs::write(
        work.join("operator.toml"),
        format!(
            "matcher = \"{url}\"\nname = \"operator\"\nidentity_key = {:?}\nprofile = \"district.toml\"\n",
            d.dir.join("operator/operator.ed25519")
        ),
    )
    .unwrap();
    let mut spec: JobSpec = job_spec(&d.dir);
    spec.id = "mq-2026-own-words".into();
    spec.profile = None;
    spec.requester.party = own(&spec.requester.party).into();
    spec.requester.fields = spec.requester.fields.iter().map(|f| own(f).into()).collect();
    spec.departments.retain(|dep| PARTIES.iter().any(|p| p.0 == dep.party));
    for department in &mut spec.departments {
        department.party = own(&department.party).into();
        department.fields.retain(|f| f != "assistance_amount");
        department.fields = department.fields.iter().map(|f| own(f).into()).collect();
    }
    std::fs::write(work.join("job.toml"), toml::to_string(&spec).unwrap()).unwrap();
    let created =
        bidui(&["job", "create", path(&work.join("job.toml")), "--operator", path(&work.join("operator.toml"))]);
    assert!(created.status.success(), "{}", printed(&created));

    let home_dirs: Vec<&Path> = homes.iter().map(|(_, home)| home.as_path()).collect();
    for output in crate::run_agents(&home_dirs, &spec.id, &[]) {
        assert!(output.status.success(), "{}", printed(&output));
    }

    let state = homes[0].1.join("state").join(&spec.id);
    let report = work.join("report");
    let built = bidui(&[
        "report",
        "build",
        path(&state.join("results.json")),
        "--out",
        path(&report),
        "--invalid-rows",
        path(&state.join("invalid-rows.csv")),
    ]);
    assert!(built.status.success(), "{}", printed(&built));
    let problems: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("problems.json")).unwrap()).unwrap();
    let codes: Vec<&str> =
        problems["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    for expected in ["deceased_active", "town_differs", "two_town_assistance", "missing.lianxi_dianhua", "not_found"] {
        assert!(codes.contains(&expected), "no {expected} problem in this district's words");
    }

    // Nothing a person reads shows a code: not the parties', not the fields'.
    let words: Vec<&str> = PARTIES.iter().skip(1).map(|p| p.1).chain(FIELDS.iter().map(|f| f.1)).collect();
    let shows_code = |text: &str| words.iter().find(|w| text.contains(*w)).copied();
    let mut towns = 0;
    for entry in std::fs::read_dir(report.join("towns")).unwrap() {
        let workbook = entry.unwrap().path();
        towns += 1;
        for (sheet, rows) in cells(&workbook) {
            // 问题代码 holds each problem's stable code, for the correction round.
            let code_column = rows.first().and_then(|h| h.iter().position(|c| c == "问题代码"));
            for row in &rows {
                for (i, cell) in row.iter().enumerate().filter(|(i, _)| Some(*i) != code_column) {
                    assert_eq!(shows_code(cell), None, "{} {sheet} column {i}: {cell}", workbook.display());
                }
            }
        }
    }
    assert!(towns >= 3, "{towns} town workbooks");
    let summary = std::fs::read_to_string(report.join("summary.html")).unwrap();
    assert_eq!(shows_code(&summary), None, "the summary shows a code");
    for name in ["区公安分局户政", "区人社局社保", "区民政局救助"] {
        assert!(summary.contains(name), "the summary lacks {name}");
    }
}
