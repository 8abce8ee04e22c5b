//! The bureau's correction loop in a real browser, end to end: a matcher of its own, the
//! registry's and household registration's agents as services, `bidui console` with the
//! operator's side, and headless Chromium driven by playwright-core (`tests/browser/drive.mjs`,
//! installed by `.ci/run`) as a person in the bureau would use it:
//!
//! 1. watch a job created with `bidui job create` progress to complete on the jobs page,
//!    and its round appear, built from the results the bureau's agent opened;
//! 2. open a town's list with names;
//! 3. upload the town's returned workbook with three problems claimed fixed;
//! 4. household registration corrects two of them; start the second round from the page;
//! 5. the progress page shows 2 confirmed and 1 claimed but still present, and the town
//!    now leads the completion ranking;
//! 6. the city export, downloaded through the browser, holds no name, identity number or
//!    row number;
//! 7. a town's account sees its own town's list and is refused another town's and the
//!    bureau's pages;
//!
//! every step signed in with an account made by `bidui console account`, and nothing the
//! browser asked for was outside the console. Screenshots of the main pages
//! are kept in the work folder (`console-loop/*.png`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Data, Reader};

use crate::district::district;
use crate::printed;
use crate::resume::Jobs;
use crate::serve::{serving_agent, Service};

const SPEC_ID: &str = "console-loop-1";
const STAFF_PASSWORD: &str = "district bureau 2026";
const TOWN_PASSWORD: &str = "the town's own 2026";
/// The town of the town account (one of the district's).
const ACCOUNT_TOWN: &str = "派潭镇";

/// `bidui console account add …` with the password on standard input.
fn add_account(accounts: &Path, args: &[&str], password: &str) {
    let mut all = vec!["add", "--accounts", accounts.to_str().unwrap()];
    all.extend_from_slice(args);
    let added = crate::console_access::account(&all, password);
    assert!(added.status.success(), "{}", printed(&added));
}

/// The steps that sign a fresh browser in, then `steps`.
fn signed_in(base: &str, name: &str, password: &str, steps: serde_json::Value) -> serde_json::Value {
    let mut all = vec![
        serde_json::json!({ "goto": format!("{base}/signin") }),
        serde_json::json!({ "fill": ["#name", name] }),
        serde_json::json!({ "fill": ["#password", password] }),
        serde_json::json!({ "click": "form.signin button" }),
    ];
    all.extend(steps.as_array().unwrap().iter().cloned());
    serde_json::Value::Array(all)
}

/// What the browser saw over one list of steps.
#[derive(serde::Deserialize)]
struct Observed {
    html: BTreeMap<String, String>,
    requests: Vec<String>,
    error: Option<String>,
}

/// Runs `steps` in headless Chromium through playwright-core.
fn browse(work: &Path, name: &str, steps: serde_json::Value) -> Observed {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is needed for this test: `.ci/run` installs it (cd tests/browser && npm ci)"
    );
    let plan = work.join(format!("{name}.json"));
    let out = work.join(format!("{name}-observed.json"));
    let chromium = crate::browser::chromium();
    std::fs::write(&plan, serde_json::json!({ "chromium": chromium, "out": out, "steps": steps }).to_string()).unwrap();
    let run = Command::new("node").arg(browser_dir.join("drive.mjs")).arg(&plan).output().expect("node runs");
    assert!(run.status.success(), "the browser driver failed: {}", printed(&run));
    let observed: Observed = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    if let Some(error) = &observed.error {
        panic!("{name}: {error}\n{}", observed.html.get("failed").map_or("", String::as_str));
    }
    observed
}

fn text(cell: &Data) -> String {
    match cell {
        Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// A town's workbook as the town returns it: 已整改 and a note on the rows of `claimed`
/// (序号, 问题代码).
fn returned(workbook: &Path, claimed: &[(u32, String)], out: &Path) {
    let mut book = calamine::open_workbook_auto(workbook).unwrap();
    let rows: Vec<Vec<Data>> = book.worksheet_range("问题清单").unwrap().rows().map(|r| r.to_vec()).collect();
    let column = |name: &str| rows[0].iter().position(|h| text(h) == name).unwrap();
    let (row_c, code_c, status_c, note_c) =
        (column("序号"), column("问题代码"), column("整改情况"), column("整改说明"));
    let mut answered = rust_xlsxwriter::Workbook::new();
    let sheet = answered.add_worksheet().set_name("问题清单").unwrap();
    for (r, cells) in rows.iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, text(cell)).unwrap();
        }
        if claimed.iter().any(|(row, code)| text(&cells[row_c]) == row.to_string() && text(&cells[code_c]) == *code) {
            sheet.write_string(r as u32, status_c as u16, "已整改").unwrap();
            sheet.write_string(r as u32, note_c as u16, "已与户籍核实").unwrap();
        }
    }
    answered.save(out).unwrap();
}

/// An identity number as digits and X: each side writes some its own way (spaces, a small
/// x, full-width digits).
fn plain(id: &str) -> String {
    id.chars()
        .map(|c| if ('０'..='ｚ').contains(&c) { char::from_u32(c as u32 - 0xFEE0).unwrap_or(c) } else { c })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_uppercase()
}

/// The household problems a household correction removes: the person is alive, here, and
/// named as in the registry.
const FIXABLE: [&str; 4] = ["deceased_active", "moved_out_active", "town_differs", "name.homophone"];

/// Household registration corrects the rows of these people: 正常, their registry town, their
/// registry name.
fn correct_household(household: &Path, people: &[(String, String, String)]) {
    let original = std::fs::read_to_string(household).unwrap();
    let mut lines = original.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (name_c, id_c, status_c, town_c) = (column("姓名"), column("身份证号"), column("户籍状态"), column("所属镇街"));
    let mut out = vec![header.join(",")];
    let mut corrected = 0;
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        if let Some((name, _, town)) = people.iter().find(|(_, wanted, _)| plain(wanted) == plain(&cells[id_c])) {
            cells[name_c] = name.clone();
            cells[status_c] = "正常".into();
            cells[town_c] = town.clone();
            corrected += 1;
        }
        out.push(cells.join(","));
    }
    assert!(corrected >= people.len(), "every corrected person has a household row: {people:?}");
    std::fs::write(household, out.join("\n") + "\n").unwrap();
}

#[test]
fn the_bureau_runs_a_correction_round_in_the_browser() {
    let d = district();
    let work = d.dir.join("console-loop");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("rounds")).unwrap();
    let matcher = crate::serve::enrolled_matcher(d, &work, &["veterans", "household"]);
    let url = matcher.http_url();
    let jobs = Jobs::new(d, &work, &url);
    let spec = work.join("loop.toml");
    std::fs::write(
        &spec,
        format!(
            "id = \"{SPEC_ID}\"\npurpose = \"退役军人和其他优抚对象信息采集第二阶段数据比对\"\napproval = \"增退役军人〔2026〕12号\"\n\
             epoch = \"{}\"\n[requester]\nparty = \"veterans\"\nfields = [\"town\", \"registry_status\"]\nmax_records = 2000\n\
             [[department]]\nparty = \"household\"\nmax_records = 10000\ncompare = [\"name\"]\n\
             fields = [\"household_status\", \"household_town\"]\n",
            jobs.kcv()
        ),
    )
    .unwrap();
    let serve = "auto_run = true\npurposes = [\"退役军人和其他优抚对象信息采集第二阶段数据比对\"]\n\
                 requesters = [\"veterans\"]\npoll_seconds = 1\n";
    let (household_config, _) = serving_agent(&work, "household", "household.csv", &url, serve);
    let (veterans_config, _) = serving_agent(&work, "veterans", "registry.xlsx", &url, serve);
    let _household = Service::start(&household_config, &work.join("household.log"));
    let _veterans = Service::start(&veterans_config, &work.join("veterans.log"));
    let accounts = work.join("accounts.json");
    add_account(&accounts, &["staff", "--role", "bureau"], STAFF_PASSWORD);
    add_account(&accounts, &["town-account", "--role", "town", "--town", ACCOUNT_TOWN], TOWN_PASSWORD);
    let console = crate::ConsoleProcess::start(&[
        "--accounts".as_ref(),
        accounts.as_os_str(),
        "--rounds".as_ref(),
        work.join("rounds").as_os_str(),
        "--operator".as_ref(),
        jobs.operator().as_os_str(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--requester".as_ref(),
        veterans_config.as_os_str(),
    ]);
    let base = console.base.clone();
    let staff = |steps: serde_json::Value| signed_in(&base, "staff", STAFF_PASSWORD, steps);
    let created =
        crate::bidui(&["job", "create", spec.to_str().unwrap(), "--operator", jobs.operator().to_str().unwrap()]);
    assert!(created.status.success(), "{}", printed(&created));

    // 1. The job, watched from the page, runs to complete; its round is built.
    let shot = |name: &str| serde_json::json!({ "screenshot": work.join(format!("{name}.png")) });
    let first = browse(
        &work,
        "first-round",
        staff(serde_json::json!([
            { "goto": format!("{base}/jobs") },
            { "fill": ["form[action='/jobs/watch'] input[name=job]", SPEC_ID] },
            { "click": "form[action='/jobs/watch'] button" },
            { "html": "watching" },
            { "wait_text": ["报告已生成", 240] },
            shot("jobs"),
            { "html": "jobs" },
            { "goto": format!("{base}/") },
            { "html": "index" },
        ])),
    );
    let watching = &first.html["watching"];
    assert!(watching.contains(SPEC_ID) && watching.contains("公安户籍"), "the watched job with display names");
    assert!(first.html["jobs"].contains("报告已生成"));
    assert!(first.html["index"].contains(SPEC_ID), "{}", first.html["index"]);
    let round_one = only_round(&work.join("rounds"), &BTreeSet::new());

    // 2–3. A town with problems household registration can correct: its list, its upload.
    let problems: serde_json::Value =
        serde_json::from_slice(&std::fs::read(round_one.join("problems.json")).unwrap()).unwrap();
    let results = bidui_report::load_results(&round_one.join("results.json")).unwrap();
    let people: BTreeMap<u32, (String, String)> = results
        .rows
        .iter()
        .filter_map(|r| Some((r.row, r.person.clone()?)))
        .map(|(row, p)| (row, (p.name, p.id_number)))
        .collect();
    let household_problems = |town: &str| -> Vec<(u32, String)> {
        problems["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["town"] == town && p["department"] == "household")
            .map(|p| (p["row"].as_u64().unwrap() as u32, p["code"].as_str().unwrap().to_owned()))
            .collect()
    };
    let towns: BTreeSet<String> =
        problems["problems"].as_array().unwrap().iter().map(|p| p["town"].as_str().unwrap().to_owned()).collect();
    // The town with the most correctable problems; two of them fixed, a third claimed only.
    let town = towns
        .iter()
        .max_by_key(|t| household_problems(t).iter().filter(|(_, c)| FIXABLE.contains(&c.as_str())).count())
        .unwrap()
        .clone();
    let all = household_problems(&town);
    let fixable: Vec<(u32, String)> = all.iter().filter(|(_, c)| FIXABLE.contains(&c.as_str())).cloned().collect();
    assert!(fixable.len() >= 2, "{town}: {all:?}");
    let fixed_rows: BTreeSet<u32> = fixable.iter().take(2).map(|(r, _)| *r).collect();
    let unfixed = all.iter().find(|(r, _)| !fixed_rows.contains(r)).expect("a third problem of the town").clone();
    let claimed: Vec<(u32, String)> = fixable.iter().take(2).cloned().chain([unfixed.clone()]).collect();
    let returned_workbook = work.join("returned.xlsx");
    returned(&round_one.join("towns").join(format!("{town}.xlsx")), &claimed, &returned_workbook);
    let first_job = SPEC_ID;
    let town_url = format!("{base}/rounds/{first_job}/towns/{}", encode(&town));
    let second = browse(
        &work,
        "upload",
        staff(serde_json::json!([
            { "goto": town_url },
            shot("town"),
            { "html": "town" },
            { "goto": format!("{base}/rounds/{first_job}") },
            shot("round"),
            { "upload": ["input[name=workbook]", returned_workbook] },
            { "click": "form[enctype='multipart/form-data'] button" },
            { "html": "taken" },
        ])),
    );
    let (name, id) = &people[&claimed[0].0];
    assert!(
        second.html["town"].contains(name.as_str()) && second.html["town"].contains(id.as_str()),
        "names on the town's list"
    );
    assert!(second.html["taken"].contains("申报已整改 3 条"), "{}", second.html["taken"]);

    // 4. Household registration corrects two; the second round is started from the page.
    let corrected: Vec<(String, String, String)> = fixed_rows
        .iter()
        .map(|row| {
            let (name, id) = people[row].clone();
            (name, id, town.clone())
        })
        .collect();
    correct_household(&work.join("household.csv"), &corrected);
    let known: BTreeSet<PathBuf> = [round_one.clone()].into();
    let third = browse(
        &work,
        "second-round",
        staff(serde_json::json!([
            { "goto": format!("{base}/jobs") },
            { "click": "form[action='/jobs/start'] button" },
            { "html": "started" },
            { "goto": format!("{base}/") },
            { "wait_text": ["第2轮", 240] },
            shot("index"),
            { "goto": format!("{base}/progress") },
            shot("progress"),
            { "html": "progress" },
        ])),
    );
    assert!(third.html["started"].contains("由本控制台按 loop.toml 发起"), "{}", third.html["started"]);
    let round_two = only_round(&work.join("rounds"), &known);
    let second_job =
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(round_two.join("problems.json")).unwrap()).unwrap()
            ["job"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(second_job.starts_with(&format!("{SPEC_ID}-")), "{second_job}");

    // 5. 2 confirmed, 1 claimed but still present; the town leads the ranking over all rounds.
    let progress = &third.html["progress"];
    let overall = &progress[progress.find("id=\"overall\"").expect("the ranking over all rounds")..];
    let overall = &overall[..overall.find("</table>").unwrap()];
    let ranked: Vec<(String, Vec<String>)> = overall
        .split("<tr>")
        .skip(2)
        .map(|row| {
            let cells: Vec<String> = row
                .split("<td")
                .skip(1)
                .map(|c| {
                    let inner = &c[c.find('>').unwrap() + 1..c.find("</td>").unwrap()];
                    // The town's cell is a link; the rate cell has a bar before it.
                    let inner = inner.rsplit("\">").next().unwrap();
                    inner.replace("</a>", "").replace("</span>", "")
                })
                .collect();
            (cells[1].clone(), cells)
        })
        .collect();
    let (first_town, cells) = &ranked[0];
    assert_eq!(first_town, &town, "the correcting town leads: {ranked:?}");
    // Earlier problems, claimed fixed, claimed but still present, confirmed, …
    assert_eq!((&cells[3][..], &cells[4][..], &cells[5][..]), ("3", "1", "2"), "{cells:?}");
    assert!(ranked[1..].iter().all(|(_, c)| c[9] == "0.0%" || c[9] == "—"), "the others corrected nothing: {ranked:?}");
    // Towns that corrected nothing rank by name; this town moved up from its place there.
    let by_name: Vec<&String> = ranked.iter().map(|(t, _)| t).filter(|t| **t != town).collect();
    assert!(by_name.windows(2).all(|w| w[0] <= w[1]), "{by_name:?}");
    assert!(by_name[0] < &town, "{town} leads only by its corrections");

    // 6. The city export, through the browser: no name, identity number or row number.
    let upward_json = work.join("upward.json");
    let upward_xlsx = work.join("upward.xlsx");
    let exported = browse(
        &work,
        "export",
        staff(serde_json::json!([
            { "goto": format!("{base}/rounds/{}", bidui_client::path_segment(&second_job)) },
            { "download": ["a[href$='upward.json']", upward_json] },
            { "download": ["a[href$='upward.xlsx']", upward_xlsx] },
        ])),
    );
    let json = std::fs::read_to_string(&upward_json).unwrap();
    let mut xlsx_text = String::new();
    let mut book = calamine::open_workbook_auto(&upward_xlsx).unwrap();
    for name in book.sheet_names() {
        for row in book.worksheet_range(&name).unwrap().rows() {
            for cell in row {
                xlsx_text.push_str(&text(cell));
                xlsx_text.push('\n');
            }
        }
    }
    assert!(json.contains(&town) && xlsx_text.contains(&town), "the export is per town");
    for (row, (name, id)) in &people {
        for export in [&json, &xlsx_text] {
            // A mangled number (4.40125E+17) is no number any more.
            let id = plain(id);
            if id.len() >= 15 {
                assert!(!export.contains(&id) && !export.contains(&id[..14]), "{id} in the export");
            }
            assert!(
                !export.contains(&format!("\"{name}\"")) && !export.lines().any(|l| l == name),
                "{name} in the export"
            );
        }
        assert!(!json.contains(&format!("\"row\": {row}")), "a row reference in the export");
    }

    // 7. The town's account: its own list, nothing of another town's or the bureau's.
    assert_ne!(town, ACCOUNT_TOWN, "the test needs the corrected town to be another town");
    let own_url = format!("{base}/rounds/{first_job}/towns/{}", encode(ACCOUNT_TOWN));
    let town_view = browse(
        &work,
        "town-account",
        signed_in(
            &base,
            "town-account",
            TOWN_PASSWORD,
            serde_json::json!([
                { "goto": own_url },
                shot("town-account"),
                { "html": "own" },
                { "goto": town_url },
                { "html": "other" },
                { "goto": format!("{base}/progress") },
                { "html": "progress" },
                { "goto": format!("{base}/jobs") },
                { "html": "jobs" },
            ]),
        ),
    );
    assert!(town_view.html["own"].contains("问题清单") && town_view.html["own"].contains(ACCOUNT_TOWN));
    for page in ["other", "progress", "jobs"] {
        let html = &town_view.html[page];
        assert!(html.contains("无权查看") && !html.contains(name.as_str()), "{page}: {html}");
    }

    // Nothing the browser asked for was outside the console.
    for observed in [&first, &second, &third, &exported, &town_view] {
        let outside: Vec<&String> = observed.requests.iter().filter(|u| !u.starts_with(&base)).collect();
        assert!(outside.is_empty(), "the console's pages fetched from elsewhere: {outside:?}");
    }
    let log = console.stop();
    assert!(log.is_ascii(), "{log}");
    assert!(
        log.contains("round-built job=console-loop-1 ") && log.contains("job-started job=console-loop-1-"),
        "{log}"
    );
    drop(matcher);
}

/// The one round folder under `rounds` not in `known`.
fn only_round(rounds: &Path, known: &BTreeSet<PathBuf>) -> PathBuf {
    let new: Vec<PathBuf> = std::fs::read_dir(rounds)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("problems.json").is_file() && !known.contains(p))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    new[0].clone()
}

fn encode(text: &str) -> String {
    bidui_client::path_segment(text)
}
