//! The console over two hand-made rounds, through its router: pages, downloads, the claims
//! upload and its CSRF check, progress, and paths that name nothing loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use bidui_console::accounts::{Accounts, Role};
use bidui_console::session::{Limits, Remote};
use bidui_core::api::{DepartmentFinding, JobResults, PersonRef, ResultSummary, RowResult};
use bidui_core::profile::Profile;
use bidui_report::{derive, Options};
use calamine::{Data, Reader};
use tower::ServiceExt;

const DEPARTMENTS: [&str; 4] = ["household", "social-security", "assistance", "service-records"];
const A: &str = "荔城街道";
const B: &str = "新塘镇";

fn released(values: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    values.iter().map(|(f, v)| (f.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
}

/// A registry row found in household and service records, everything agreeing, naming
/// its person as the requester's results do.
fn row(n: u32, town: &str) -> RowResult {
    let fields: BTreeMap<String, String> = [
        ("town", town),
        ("category", "退役士兵"),
        ("registry_status", "在册"),
        ("phone", "13800000000"),
        ("address", "甲路1号"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut departments: BTreeMap<String, DepartmentFinding> =
        DEPARTMENTS.iter().map(|d| (d.to_string(), DepartmentFinding::default())).collect();
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
    let person = PersonRef { name: format!("人员{n}"), id_number: id_number(n) };
    RowResult { row: n, fields, id_valid: true, duplicate_rows: Vec::new(), departments, person: Some(person) }
}

fn id_number(row: u32) -> String {
    format!("44018319800101{row:03}X")
}

fn profile() -> Profile {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/district.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Rows 1–3 in 荔城街道, row 4 in 新塘镇: row 2's number is invalid, row 3 is dead in
/// household and shares its number with row 4.
fn first_round() -> JobResults {
    let mut rows = vec![row(1, A), row(2, A), row(3, A), row(4, B)];
    rows[1].id_valid = false;
    for f in rows[1].departments.values_mut() {
        *f = DepartmentFinding::default();
    }
    rows[2].duplicate_rows = vec![4];
    rows[3].duplicate_rows = vec![3];
    rows[2].departments.get_mut("household").unwrap().released.insert("household_status".into(), vec!["死亡".into()]);
    JobResults {
        job: "zc-test-1".into(),
        purpose: "第二阶段数据比对".into(),
        approval: "增政数〔2026〕1号".into(),
        requester: "veterans".into(),
        departments: DEPARTMENTS.iter().map(|d| d.to_string()).collect(),
        summary: ResultSummary { registry_rows_read: 4, registry_rows: 4, ..ResultSummary::default() },
        rows,
        rules: Vec::new(),
        profile: Some(profile()),
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

/// The next round: row 3 closed (注销), row 2 still invalid.
fn second_round() -> JobResults {
    let mut run = first_round();
    run.job = "zc-test-2".into();
    run.rows[2].fields.insert("registry_status".into(), "注销".into());
    run
}

struct Rounds {
    dir: tempfile::TempDir,
    first: PathBuf,
    console: Arc<bidui_console::Console>,
    app: Router,
}

fn rounds() -> Rounds {
    rounds_with(None)
}

/// The two rounds, behind a sign-in with `accounts` when given.
fn rounds_with(accounts: Option<(Accounts, Limits)>) -> Rounds {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("2026-11-zc-test-1");
    let one = first_round();
    let set_one = derive(&one, &Options::default()).unwrap();
    bidui_report::write_report(&one, &set_one, None, Some("2026-11-01 10:00"), &first).unwrap();
    let two = second_round();
    let set_two = derive(&two, &Options::default()).unwrap();
    let second = dir.path().join("2026-12-zc-test-2");
    bidui_report::write_report(&two, &set_two, Some(&set_one), Some("2026-12-01 10:00"), &second).unwrap();
    let mut console = bidui_console::Console::load(dir.path()).unwrap();
    if let Some((accounts, limits)) = accounts {
        console = console.with_accounts(accounts, limits);
    }
    let console = Arc::new(console);
    Rounds { first, app: bidui_console::app(console.clone()), console, dir }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let (status, body) = send(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    (status, String::from_utf8(body).unwrap())
}

async fn get_ok(app: &Router, uri: &str) -> String {
    let (status, body) = get(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn sheet(path: &Path, name: &str) -> Vec<Vec<Data>> {
    let mut workbook = calamine::open_workbook_auto(path).unwrap();
    workbook.worksheet_range(name).unwrap().rows().map(|r| r.to_vec()).collect()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// A town's workbook as the town returns it, 整改情况 filled in on the rows of `answers`
/// (序号, 问题代码 → 整改情况).
fn returned(workbook: &Path, answers: &[(u32, &str, &str)]) -> Vec<u8> {
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
    book.save_to_buffer().unwrap()
}

/// 荔城街道 claims three problems fixed; the next round shows two of them gone.
fn three_claimed(first: &Path) -> Vec<u8> {
    let answers =
        [(3, "deceased_active", "已整改"), (3, "duplicate.cross_town", "已整改"), (2, "invalid_id.unknown", "已整改")];
    returned(&first.join("towns").join(format!("{A}.xlsx")), &answers)
}

const BOUNDARY: &str = "----bidui-console-test";

/// A multipart form as a browser sends it: the token (if any), then the workbook.
fn upload(job: &str, token: Option<&str>, workbook: &[u8]) -> Request<Body> {
    let mut body = Vec::new();
    if let Some(token) = token {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"workbook\"; filename=\"returned.xlsx\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(workbook);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Request::post(format!("/rounds/{job}/claims"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(body))
        .unwrap()
}

/// The token the round's page puts in its form.
async fn token(app: &Router, job: &str) -> String {
    let page = get_ok(app, &format!("/rounds/{job}")).await;
    let start = page.find("name=\"csrf\" value=\"").expect("the form carries a token") + 19;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// 荔城街道's (claimed fixed, claimed but still present, confirmed) on /progress's ranking.
async fn progress_of_a(app: &Router) -> (u32, u32, u32) {
    let page = get_ok(app, "/progress").await;
    let start = page.find(&format!(">{A}</a></td>")).expect("荔城街道 is ranked");
    let line = &page[start..start + page[start..].find("</tr>").unwrap()];
    // The cells after the town: earlier problems, claimed fixed, claimed but present, confirmed, …
    let cells: Vec<u32> = line
        .split("<td")
        .skip(1)
        .filter_map(|cell| cell[cell.find('>')? + 1..cell.find("</td>")?].parse().ok())
        .collect();
    (cells[1], cells[2], cells[3])
}

#[tokio::test]
async fn the_index_lists_every_round_in_order() {
    let r = rounds();
    let page = get_ok(&r.app, "/").await;
    let (one, two) = (page.find("zc-test-1").unwrap(), page.find("zc-test-2").unwrap());
    assert!(one < two, "rounds in the directories' order");
    assert!(page.contains("第二阶段数据比对") && page.contains("增政数〔2026〕1号"));
    assert!(page.contains("href=\"/rounds/zc-test-1\""));
}

#[tokio::test]
async fn a_round_written_while_the_console_serves_is_taken_in_without_a_restart() {
    let r = rounds();
    let mut three = second_round();
    three.job = "zc-test-3".into();
    let set_three = derive(&three, &Options::default()).unwrap();
    // Half-written: a problems.json that is not one yet. The pages still serve the rounds
    // they have, and the folder is tried again next time.
    let third = r.dir.path().join("2027-01-zc-test-3");
    std::fs::create_dir(&third).unwrap();
    std::fs::write(third.join("problems.json"), "{\"job\": \"zc-te").unwrap();
    let page = get_ok(&r.app, "/").await;
    assert!(page.contains("zc-test-2") && !page.contains("zc-test-3"));
    std::fs::remove_file(third.join("problems.json")).unwrap();
    bidui_report::write_report(&three, &set_three, None, Some("2027-01-01 10:00"), &third).unwrap();
    let page = get_ok(&r.app, "/").await;
    assert!(page.contains("第3轮（2027-01-zc-test-3）"), "{page}");
    assert_eq!(get(&r.app, "/rounds/zc-test-3").await.0, StatusCode::OK);
    let progress = get_ok(&r.app, "/progress").await;
    assert!(progress.contains("历轮累计（第1轮至第3轮，共 3 轮）"), "{progress}");
    // A second folder of a job already shown is left out, not served twice.
    let copy = r.dir.path().join("2027-02-copy-of-3");
    bidui_report::write_report(&three, &set_three, None, Some("2027-01-01 10:00"), &copy).unwrap();
    let page = get_ok(&r.app, "/").await;
    assert!(!page.contains("2027-02-copy-of-3"), "{page}");
}

#[tokio::test]
async fn a_round_shows_its_towns_categories_coverage_and_downloads() {
    let r = rounds();
    let page = get_ok(&r.app, "/rounds/zc-test-1").await;
    for text in [A, B, "户籍已死亡但仍在册", "公安户籍", "upward.xlsx", "/summary"] {
        assert!(page.contains(text), "{text} missing");
    }
    let town = format!("/rounds/zc-test-1/towns/{}", encode(A));
    assert!(page.contains(&format!("{town}/workbook")));
    let summary = get_ok(&r.app, "/rounds/zc-test-1/summary").await;
    assert!(summary.contains("第二阶段数据比对结果汇总"));
    let (status, workbook) = send(&r.app, Request::get(format!("{town}/workbook")).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(workbook, std::fs::read(r.first.join("towns").join(format!("{A}.xlsx"))).unwrap());
}

#[tokio::test]
async fn a_town_page_names_its_own_people_and_lists_only_its_own_problems() {
    let r = rounds();
    let page = get_ok(&r.app, &format!("/rounds/zc-test-1/towns/{}", encode(B))).await;
    assert!(page.contains("人员4") && page.contains(&id_number(4)), "{page}");
    for other in 1..=3 {
        assert!(!page.contains(&format!("人员{other}")) && !page.contains(&id_number(other)), "row {other} is {A}'s");
    }
    let page = get_ok(&r.app, &format!("/rounds/zc-test-1/towns/{}", encode(A))).await;
    assert!(page.contains("人员3") && page.contains(&id_number(3)) && page.contains("户籍已死亡但仍在册"));
    assert!(!page.contains("人员4"));
}

#[tokio::test]
async fn claims_uploaded_with_the_token_are_kept_and_weighed_against_the_next_round() {
    let r = rounds();
    assert_eq!(progress_of_a(&r.app).await, (0, 0, 0));
    let token = token(&r.app, "zc-test-1").await;
    let (status, page) = send(&r.app, upload("zc-test-1", Some(&token), &three_claimed(&r.first))).await;
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("导入整改情况 3 条，其中申报已整改 3 条"), "{page}");
    let kept: bidui_report::claims::Claims =
        serde_json::from_slice(&std::fs::read(r.first.join("claims.json")).unwrap()).unwrap();
    assert_eq!(kept.claims.len(), 3);
    // Claimed fixed 3, claimed but still present 1 (row 2's number), confirmed 2.
    assert_eq!(progress_of_a(&r.app).await, (3, 1, 2));
    // The town's page shows what it answered.
    let town = get_ok(&r.app, &format!("/rounds/zc-test-1/towns/{}", encode(A))).await;
    assert!(town.contains("已整改") && town.contains("镇街已核实"));
}

#[tokio::test]
async fn a_post_without_the_token_is_refused_and_changes_nothing() {
    let r = rounds();
    let workbook = three_claimed(&r.first);
    let claims = r.first.join("claims.json");
    for request in [
        upload("zc-test-1", None, &workbook),
        upload("zc-test-1", Some("00ff"), &workbook),
        upload("zc-test-1", Some(&"0".repeat(64)), &workbook),
        // A plain form another site could post.
        Request::post("/rounds/zc-test-1/claims")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("workbook=x"))
            .unwrap(),
    ] {
        let (status, _) = send(&r.app, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!claims.exists());
    }
    assert_eq!(progress_of_a(&r.app).await, (0, 0, 0));
}

#[tokio::test]
async fn a_bad_workbook_gets_a_chinese_error_and_changes_nothing() {
    let r = rounds();
    let token = token(&r.app, "zc-test-1").await;
    let (status, _) = send(&r.app, upload("zc-test-1", Some(&token), &three_claimed(&r.first))).await;
    assert_eq!(status, StatusCode::OK);
    let claims = r.first.join("claims.json");
    let kept = std::fs::read(&claims).unwrap();
    // Not a workbook; the first round's workbook sent to the second, where row 3's
    // deceased problem is gone; a workbook with nothing filled in.
    let other_round = returned(&r.first.join("towns").join(format!("{A}.xlsx")), &[(3, "deceased_active", "已整改")]);
    for (workbook, job, says) in [
        (b"not a workbook".to_vec(), "zc-test-1", "无法打开工作簿"),
        (other_round, "zc-test-2", "整个工作簿未导入"),
        (returned(&r.first.join("towns").join(format!("{A}.xlsx")), &[]), "zc-test-1", "没有填写整改情况"),
    ] {
        let (status, page) = send(&r.app, upload(job, Some(&token), &workbook)).await;
        let page = String::from_utf8(page).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert!(page.contains("工作簿未导入") && page.contains(says), "{page}");
        assert_eq!(std::fs::read(&claims).unwrap(), kept);
    }
    let second = r.first.parent().unwrap().join("2026-12-zc-test-2");
    assert!(!second.join("claims.json").exists());
    // No upload is left behind.
    for dir in [&r.first, &second] {
        let left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') || n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[tokio::test]
async fn paths_that_name_no_loaded_round_or_town_are_not_found() {
    let r = rounds();
    for uri in [
        "/rounds/../x",
        "/rounds/..",
        "/rounds/%2e%2e",
        "/rounds/%2e%2e/summary",
        "/rounds/zc-test-3",
        "/rounds/2026-11-zc-test-1",
        "/rounds/zc-test-1/towns/%E7%9F%B3%E6%BB%A9%E9%95%87",
        "/rounds/zc-test-1/towns/..%2F..%2Fproblems.json",
        "/rounds/zc-test-1/towns/%2E%2E/workbook",
        "/rounds/zc-test-1/towns/%E8%8D%94%E5%9F%8E%E8%A1%97%E9%81%93.xlsx/workbook",
        "/rounds/x/upward.xlsx",
        "/nothing",
    ] {
        let (status, page) = get(&r.app, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(page.contains("找不到页面"), "{uri}");
    }
    let (status, _) = send(&r.app, upload("../x", Some("00"), b"x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_upward_export_holds_no_name_or_identity_number() {
    let r = rounds();
    let (status, json) = get(&r.app, "/rounds/zc-test-2/upward.json").await;
    assert_eq!(status, StatusCode::OK);
    let upward: bidui_report::upward::Upward = serde_json::from_str(&json).unwrap();
    assert!(upward.totals.progress.is_some(), "weighed against the round before");
    let (status, xlsx) = send(&r.app, Request::get("/rounds/zc-test-2/upward.xlsx").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let file = tempfile::Builder::new().suffix(".xlsx").tempfile().unwrap();
    std::fs::write(file.path(), &xlsx).unwrap();
    let mut cells = Vec::new();
    let mut workbook = calamine::open_workbook_auto(file.path()).unwrap();
    for name in workbook.sheet_names() {
        for row in workbook.worksheet_range(&name).unwrap().rows() {
            cells.extend(row.iter().map(text));
        }
    }
    assert!(cells.iter().any(|c| c == A), "the towns are there");
    for row in 1..=4 {
        for secret in [format!("人员{row}"), id_number(row)] {
            assert!(!json.contains(&secret), "the JSON names {secret}");
            assert!(!cells.iter().any(|c| c.contains(&secret)), "the workbook names {secret}");
        }
    }
}

#[tokio::test]
async fn no_page_references_anything_outside() {
    let r = rounds();
    let town = format!("/rounds/zc-test-1/towns/{}", encode(A));
    for uri in ["/", "/progress", "/rounds/zc-test-1", "/rounds/zc-test-2", &town, "/rounds/zc-test-1/summary", "/x"] {
        let (_, page) = get(&r.app, uri).await;
        // The summary's inline SVG names its namespace; that is no fetch.
        let page = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for outside in ["http", "src=", "<script", "@import", "url("] {
            assert!(!page.contains(outside), "{uri} holds {outside}");
        }
        assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"), "{uri}");
    }
}

#[tokio::test]
async fn every_response_forbids_loading_from_elsewhere_framing_and_caching() {
    let r = rounds();
    for uri in ["/", "/rounds/zc-test-1/summary", "/rounds/zc-test-1/upward.xlsx", "/nothing"] {
        let response = r.app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let headers = response.headers();
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "{uri}: {policy}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{uri}");
    }
}

#[test]
fn beyond_loopback_only_tls_with_accounts_is_served() {
    use bidui_console::check_listen;
    for ok in ["127.0.0.1:8800", "[::1]:8800", "127.0.0.2:1"] {
        for (tls, accounts) in [(false, false), (true, false), (false, true), (true, true)] {
            assert!(check_listen(ok.parse().unwrap(), tls, accounts).is_ok(), "{ok}");
        }
    }
    for refused in ["0.0.0.0:8800", "192.168.1.10:8800", "[::]:8800"] {
        assert!(check_listen(refused.parse().unwrap(), true, true).is_ok(), "{refused}");
        for (tls, accounts, says) in [
            (false, false, "--tls-cert 和 --tls-key）和账户（--accounts"),
            (false, true, "TLS（--tls-cert 和 --tls-key）（"),
            (true, false, "还需要账户（--accounts）"),
        ] {
            let error = check_listen(refused.parse().unwrap(), tls, accounts).unwrap_err().to_string();
            assert!(error.contains(says) && error.contains("bidui console account add"), "{error}");
        }
    }
}

/// The operator's side as the console sees it: specs, the jobs it created, the statuses it
/// answers, and a report it builds (the third round) once told the results are opened.
#[derive(Default)]
struct RecordingOperator {
    created: std::sync::Mutex<Vec<String>>,
    opened: std::sync::atomic::AtomicBool,
}

fn loop_spec() -> bidui_core::api::JobSpec {
    toml::from_str(
        "id = \"zc-test\"\npurpose = \"第二阶段数据比对\"\napproval = \"增政数〔2026〕1号\"\nepoch = \"0123456789abcdef\"\n\
         [requester]\nparty = \"veterans\"\nfields = [\"town\"]\nmax_records = 10\n\
         [[department]]\nparty = \"household\"\nmax_records = 10\n",
    )
    .unwrap()
}

impl bidui_console::jobs::Operator for RecordingOperator {
    fn specs(&self) -> Vec<bidui_console::jobs::SpecChoice> {
        vec![bidui_console::jobs::SpecChoice { file: "job.toml".into(), spec: loop_spec() }]
    }

    fn status(&self, job: &str) -> Result<bidui_core::api::JobStatus, String> {
        if job == "unknown" {
            return Err("比对服务没有这个任务".into());
        }
        let uploading = bidui_core::api::ParticipantStatus {
            party: "household".into(),
            role: bidui_core::api::PartyRole::Department,
            stage: bidui_core::api::ParticipantStage::Uploading,
            chunks_expected: Some(8),
            declined_reason: None,
            chunks: 2,
            records: 1500,
            sealed: false,
            rows_read: 1500,
            invalid_ids: BTreeMap::new(),
        };
        let declined = bidui_core::api::ParticipantStatus {
            party: "social-security".into(),
            stage: bidui_core::api::ParticipantStage::Declined,
            chunks_expected: None,
            declined_reason: Some("本地策略不允许向本任务的用途提供 <phone>".into()),
            chunks: 0,
            records: 0,
            rows_read: 0,
            ..uploading.clone()
        };
        Ok(bidui_core::api::JobStatus {
            id: job.into(),
            purpose: "第二阶段数据比对".into(),
            approval: "增政数〔2026〕1号".into(),
            state: bidui_core::api::JobState::Collecting,
            participants: vec![uploading, declined],
        })
    }

    fn create(&self, spec: &bidui_core::api::JobSpec, job: &str) -> Result<(), String> {
        assert_eq!(spec.id, job, "the spec is signed under the new id");
        self.created.lock().unwrap().push(job.to_owned());
        Ok(())
    }

    fn party_name(&self, party: &str) -> String {
        profile().party_name(party).to_owned()
    }

    fn build_report(&self, job: &str, dir: &Path) -> Result<bool, String> {
        if !self.opened.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(false);
        }
        let mut run = second_round();
        run.job = job.to_owned();
        let set = derive(&run, &Options::default()).unwrap();
        bidui_report::write_report(&run, &set, None, Some("2027-01-01 10:00"), dir).map_err(|e| e.to_string())?;
        Ok(true)
    }
}

struct WithOperator {
    dir: tempfile::TempDir,
    console: Arc<bidui_console::Console>,
    operator: Arc<RecordingOperator>,
    app: Router,
}

fn with_operator() -> WithOperator {
    let r = rounds();
    let operator = Arc::new(RecordingOperator::default());
    let console = Arc::new(bidui_console::Console::load(r.dir.path()).unwrap().with_operator(operator.clone()));
    WithOperator { app: bidui_console::app(console.clone()), dir: r.dir, console, operator }
}

fn form(uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.join("&")))
        .unwrap()
}

#[tokio::test]
async fn a_round_is_started_from_the_jobs_page_only_with_the_token_a_known_spec_and_a_valid_id() {
    let w = with_operator();
    let page = get_ok(&w.app, "/jobs").await;
    assert!(page.contains("job.toml") && page.contains("zc-test-"), "the spec offered with a new id: {page}");
    let start = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = page[start..start + page[start..].find('"').unwrap()].to_owned();
    let refusals = [
        (vec![("spec", "job.toml"), ("job", "zc-test-2027")], StatusCode::FORBIDDEN),
        (vec![("csrf", "00"), ("spec", "job.toml"), ("job", "zc-test-2027")], StatusCode::FORBIDDEN),
        (vec![("csrf", &token), ("spec", "other.toml"), ("job", "zc-test-2027")], StatusCode::UNPROCESSABLE_ENTITY),
        (vec![("csrf", &token), ("spec", "../job.toml"), ("job", "zc-test-2027")], StatusCode::UNPROCESSABLE_ENTITY),
        (vec![("csrf", &token), ("spec", "job.toml"), ("job", "a/b")], StatusCode::UNPROCESSABLE_ENTITY),
        (vec![("csrf", &token), ("spec", "job.toml"), ("job", "")], StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (fields, status) in refusals {
        let (got, _) = send(&w.app, form("/jobs/start", &fields)).await;
        assert_eq!(got, status, "{fields:?}");
    }
    assert!(w.operator.created.lock().unwrap().is_empty(), "a refused form created a job");
    assert!(!w.dir.path().join("jobs.json").exists(), "a refused form changed the watched jobs");

    let (status, _) =
        send(&w.app, form("/jobs/start", &[("csrf", &token), ("spec", "job.toml"), ("job", "zc-test-3")])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(*w.operator.created.lock().unwrap(), ["zc-test-3"]);
    let page = get_ok(&w.app, "/jobs").await;
    assert!(page.contains("zc-test-3") && page.contains("由本控制台按 job.toml 发起"), "{page}");
    assert!(
        page.contains("公安户籍") && page.contains("上传中 2/8"),
        "the party by its display name and stage: {page}"
    );
    assert!(
        page.contains("已拒绝") && page.contains("提供 &lt;phone&gt;"),
        "a decline with its reason, escaped: {page}"
    );
    assert!(page.contains("http-equiv=\"refresh\""), "a collecting job's page reloads itself");
    // Kept across a restart.
    let reloaded = bidui_console::Console::load(w.dir.path()).unwrap();
    assert_eq!(reloaded.watched().jobs.len(), 1);
}

#[tokio::test]
async fn a_job_is_watched_only_when_the_matcher_shows_it() {
    let w = with_operator();
    let token = form_token(&get_ok(&w.app, "/jobs").await);
    let (status, page) = send(&w.app, form("/jobs/watch", &[("csrf", &token), ("job", "unknown")])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8(page).unwrap().contains("比对服务没有这个任务"));
    assert!(w.console.watched().jobs.is_empty());
    let (status, _) = send(&w.app, form("/jobs/watch", &[("job", "zc-test-3")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token");
    let (status, _) = send(&w.app, form("/jobs/watch", &[("csrf", &token), ("job", "zc-test-3")])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(w.console.watched().jobs[0].job, "zc-test-3");
}

#[tokio::test]
async fn a_watched_jobs_round_is_built_once_its_results_are_opened_and_never_listed_half_built() {
    let w = with_operator();
    let token = form_token(&get_ok(&w.app, "/jobs").await);
    send(&w.app, form("/jobs/watch", &[("csrf", &token), ("job", "zc-test-3")])).await;
    bidui_console::jobs::build_ready_rounds(&w.console);
    assert_eq!(w.console.rounds().len(), 2, "not opened yet: nothing built");
    // A round being built is a hidden folder: it is never listed, even complete.
    let building = w.dir.path().join(".building-x");
    let mut run = second_round();
    run.job = "zc-test-9".into();
    let set = derive(&run, &Options::default()).unwrap();
    bidui_report::write_report(&run, &set, None, None, &building).unwrap();
    assert!(!get_ok(&w.app, "/").await.contains("zc-test-9"));

    w.operator.opened.store(true, std::sync::atomic::Ordering::SeqCst);
    bidui_console::jobs::build_ready_rounds(&w.console);
    let rounds = w.console.rounds();
    assert_eq!(rounds.len(), 3);
    let built = rounds.iter().find(|r| r.job() == "zc-test-3").expect("the round built");
    assert!(built.name.ends_with("-zc-test-3") && built.name.starts_with("20"), "{}", built.name);
    assert_eq!(w.console.watched().jobs[0].round.as_deref(), Some(built.name.as_str()));
    assert!(get_ok(&w.app, "/jobs").await.contains("报告已生成"));
    // Built once: a second pass changes nothing.
    bidui_console::jobs::build_ready_rounds(&w.console);
    assert_eq!(w.console.rounds().len(), 3);
}

#[tokio::test]
async fn without_the_operators_side_the_jobs_page_says_how_to_start_it_and_refuses_forms() {
    let r = rounds();
    let page = get_ok(&r.app, "/jobs").await;
    assert!(page.contains("--operator operator.toml"), "{page}");
    let token = token(&r.app, "zc-test-1").await;
    let (status, _) = send(&r.app, form("/jobs/start", &[("csrf", &token), ("spec", "job.toml"), ("job", "x")])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn a_damaged_jobs_file_is_an_error_that_says_what_to_do() {
    let r = rounds();
    std::fs::write(r.dir.path().join("jobs.json"), "{\"jobs\": [").unwrap();
    let Err(error) = bidui_console::Console::load(r.dir.path()) else { panic!("a damaged jobs.json was taken") };
    assert!(error.to_string().contains("已损坏"), "{error}");
}

// Access: accounts, sessions, roles, CSRF and the audit trail.

const BUREAU_PASSWORD: &str = "bureau pass 2026";
const TOWN_PASSWORD: &str = "town of lc 2026";
/// The peer the sign-ins come from (a documentation address).
const PEER: &str = "192.0.2.7:40000";

fn accounts() -> Accounts {
    let mut accounts = Accounts::default();
    accounts.add("admin", Role::Bureau, BUREAU_PASSWORD).unwrap();
    accounts.add("licheng", Role::Town { town: A.into() }, TOWN_PASSWORD).unwrap();
    accounts
}

fn signed_rounds_with(limits: Limits) -> Rounds {
    rounds_with(Some((accounts(), limits)))
}

fn signed_rounds() -> Rounds {
    signed_rounds_with(Limits::default())
}

/// A request as it comes from [`PEER`] over a socket.
fn from_peer(mut request: Request<Body>) -> Request<Body> {
    request.extensions_mut().insert(axum::extract::ConnectInfo(Remote(PEER.parse().unwrap())));
    request
}

/// `name=value` of the response's Set-Cookie for `name`, and the whole header.
fn set_cookie(response: &axum::response::Response, name: &str) -> Option<(String, String)> {
    response.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let pair = v.split(';').next()?.trim();
        pair.starts_with(&format!("{name}=")).then(|| (pair.to_owned(), v.to_owned()))
    })
}

/// The hidden CSRF field's value in a page.
fn form_token(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("the form carries a token") + 19;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// Sends a sign-in as a browser does: the sign-in page first, then its form.
async fn try_signin(app: &Router, name: &str, password: &str) -> axum::response::Response {
    try_signin_from(app, PEER, name, password).await
}

/// [`try_signin`] from another peer.
async fn try_signin_from(app: &Router, peer: &str, name: &str, password: &str) -> axum::response::Response {
    let page = app.clone().oneshot(Request::get("/signin").body(Body::empty()).unwrap()).await.unwrap();
    let (cookie, _) = set_cookie(&page, "bidui_signin").expect("the sign-in page sets its cookie");
    let body = axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap();
    let token = form_token(std::str::from_utf8(&body).unwrap());
    let form = format!("name={}&password={}&csrf={token}", encode(name), encode(password));
    let request = Request::post("/signin")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let mut request = request;
    request.extensions_mut().insert(axum::extract::ConnectInfo(Remote(peer.parse().unwrap())));
    app.clone().oneshot(request).await.unwrap()
}

/// A signed-in browser: its session cookie.
struct Browser {
    cookie: String,
}

async fn signin(app: &Router, name: &str, password: &str) -> Browser {
    let response = try_signin(app, name, password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name} did not get in");
    assert_eq!(response.headers()[header::LOCATION], "/");
    let (cookie, whole) = set_cookie(&response, "bidui_session").expect("a session cookie");
    assert!(whole.contains("HttpOnly") && whole.contains("SameSite=Strict"), "{whole}");
    assert_eq!(cookie.len(), "bidui_session=".len() + 64, "256 random bits: {cookie}");
    Browser { cookie }
}

impl Browser {
    fn request(&self, request: Request<Body>) -> Request<Body> {
        let mut request = from_peer(request);
        request.headers_mut().insert(header::COOKIE, self.cookie.parse().unwrap());
        request
    }

    async fn get(&self, app: &Router, uri: &str) -> (StatusCode, String) {
        let (status, body) = send(app, self.request(Request::get(uri).body(Body::empty()).unwrap())).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn get_ok(&self, app: &Router, uri: &str) -> String {
        let (status, page) = self.get(app, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {page}");
        page
    }

    async fn upload(&self, app: &Router, job: &str, token: Option<&str>, workbook: &[u8]) -> (StatusCode, String) {
        let (status, body) = send(app, self.request(upload(job, token, workbook))).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn signout(&self, app: &Router, token: Option<&str>) -> StatusCode {
        let form = token.map_or(String::new(), |t| format!("csrf={t}"));
        let request = Request::post("/signout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        send(app, self.request(request)).await.0
    }
}

fn audit_trail(r: &Rounds) -> Vec<bidui_console::audit::Entry> {
    bidui_console::audit::verify(r.console.audit_path()).unwrap().into_iter().map(|(e, _)| e).collect()
}

fn events(r: &Rounds) -> Vec<(String, String)> {
    audit_trail(r).into_iter().map(|e| (e.event, e.account)).collect()
}

fn redirects_to_signin(status: StatusCode, uri: &str, response_location: Option<&str>) {
    assert_eq!(status, StatusCode::SEE_OTHER, "{uri}");
    assert_eq!(response_location, Some("/signin"), "{uri}");
}

#[tokio::test]
async fn without_a_session_every_page_sends_to_the_sign_in_and_nothing_is_taken() {
    let r = signed_rounds();
    let town = format!("/rounds/zc-test-1/towns/{}", encode(A));
    let workbook = format!("{town}/workbook");
    for uri in
        ["/", "/progress", "/audit", "/rounds/zc-test-1", "/rounds/zc-test-1/upward.json", &town, &workbook, "/x"]
    {
        let response = r.app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let location = response.headers().get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
        redirects_to_signin(response.status(), uri, location.as_deref());
    }
    // A session id nobody was given is no session.
    let stranger = Browser { cookie: format!("bidui_session={}", "ab".repeat(32)) };
    assert_eq!(stranger.get(&r.app, "/").await.0, StatusCode::SEE_OTHER);
    let (status, _) = send(&r.app, upload("zc-test-1", Some("00"), &three_claimed(&r.first))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!r.first.join("claims.json").exists());
    let response = r.app.clone().oneshot(Request::get("/signin").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, cookie) = set_cookie(&response, "bidui_signin").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"));
    assert!(audit_trail(&r).is_empty(), "nothing was exported");
}

#[tokio::test]
async fn bureau_staff_see_every_town_and_the_audit_trail_and_sign_out_with_the_token() {
    let r = signed_rounds();
    let admin = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    let index = admin.get_ok(&r.app, "/").await;
    assert!(index.contains("zc-test-1") && index.contains("退出登录") && index.contains("admin"));
    let page = admin.get_ok(&r.app, &format!("/rounds/zc-test-1/towns/{}", encode(B))).await;
    assert!(page.contains("人员4"));
    admin.get_ok(&r.app, "/progress").await;
    let trail = admin.get_ok(&r.app, "/audit").await;
    assert!(trail.contains("signin-ok") && trail.contains(PEER), "{trail}");
    // Signing out needs the session's token; without it the session stays.
    assert_eq!(admin.signout(&r.app, None).await, StatusCode::FORBIDDEN);
    assert_eq!(admin.signout(&r.app, Some(&"0".repeat(64))).await, StatusCode::FORBIDDEN);
    admin.get_ok(&r.app, "/").await;
    let token = form_token(&index);
    assert_eq!(admin.signout(&r.app, Some(&token)).await, StatusCode::SEE_OTHER);
    assert_eq!(admin.get(&r.app, "/").await.0, StatusCode::SEE_OTHER);
    assert_eq!(r.console.gate().sessions(), 0);
    let kinds: Vec<String> = events(&r).into_iter().map(|(e, _)| e).collect();
    assert_eq!(kinds, ["signin-ok", "signout"]);
}

#[tokio::test]
async fn a_town_account_sees_its_own_town_and_gets_403_for_everything_else() {
    let r = signed_rounds();
    let town = signin(&r.app, "licheng", TOWN_PASSWORD).await;
    let index = town.get_ok(&r.app, "/").await;
    assert!(index.contains(A) && !index.contains(B) && !index.contains("整改进度"), "{index}");
    let own = format!("/rounds/zc-test-1/towns/{}", encode(A));
    let page = town.get_ok(&r.app, &own).await;
    assert!(page.contains("人员3") && !page.contains("href=\"/rounds/zc-test-1\""), "{page}");
    let (status, workbook) =
        send(&r.app, town.request(Request::get(format!("{own}/workbook")).body(Body::empty()).unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(workbook, std::fs::read(r.first.join("towns").join(format!("{A}.xlsx"))).unwrap());
    let other = format!("/rounds/zc-test-1/towns/{}", encode(B));
    let unknown = format!("/rounds/zc-test-1/towns/{}", encode("石滩镇"));
    let elsewhere = format!("/rounds/zc-test-9/towns/{}", encode(B));
    for uri in [
        other.clone(),
        format!("{other}/workbook"),
        unknown,
        elsewhere,
        "/progress".into(),
        "/jobs".into(),
        "/audit".into(),
        "/rounds/zc-test-1".into(),
        "/rounds/zc-test-1/summary".into(),
        "/rounds/zc-test-2/upward.json".into(),
        "/rounds/zc-test-2/upward.xlsx".into(),
    ] {
        let (status, page) = town.get(&r.app, &uri).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert!(page.contains("无权查看") && !page.contains("人员4"), "{uri}: {page}");
    }
    // With its own session's token, still no job is started or watched.
    let token = form_token(&page);
    for uri in ["/jobs/start", "/jobs/watch"] {
        let fields = [("csrf", token.as_str()), ("spec", "job.toml"), ("job", "zc-test-7")];
        let (status, _) = send(&r.app, town.request(form(uri, &fields))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert!(!r.dir.path().join("jobs.json").exists());
    let trail = audit_trail(&r);
    assert_eq!(trail.iter().filter(|e| e.event == "forbidden" && e.account == "licheng").count(), 13);
    assert!(trail.iter().any(|e| e.event == "export-town-workbook" && e.detail.contains(A)));
    assert!(!trail.iter().any(|e| e.event.starts_with("export-upward")));
}

#[tokio::test]
async fn a_town_account_cannot_return_another_towns_claims() {
    let r = signed_rounds();
    let town = signin(&r.app, "licheng", TOWN_PASSWORD).await;
    let page = town.get_ok(&r.app, &format!("/rounds/zc-test-1/towns/{}", encode(A))).await;
    let token = form_token(&page);
    let theirs = returned(&r.first.join("towns").join(format!("{B}.xlsx")), &[(4, "duplicate.cross_town", "已整改")]);
    let (status, page) = town.upload(&r.app, "zc-test-1", Some(&token), &theirs).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("其他镇街") && page.contains(B), "{page}");
    assert!(!r.first.join("claims.json").exists(), "nothing changed");
    // Its own workbook is taken.
    let (status, page) = town.upload(&r.app, "zc-test-1", Some(&token), &three_claimed(&r.first)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(r.first.join("claims.json").exists());
    let trail = audit_trail(&r);
    let refused = trail.iter().find(|e| e.event == "upload-refused").expect("the refusal is audited");
    assert!(refused.account == "licheng" && refused.detail.contains(B), "{refused:?}");
    let taken = trail.iter().find(|e| e.event == "upload-claims").expect("the upload is audited");
    assert!(taken.detail.contains("claims=3") && taken.remote == PEER, "{taken:?}");
}

#[tokio::test(start_paused = true)]
async fn sessions_end_when_idle_and_after_twelve_hours_whatever_the_use() {
    let r = signed_rounds();
    let minutes = |m: u64| std::time::Duration::from_secs(60 * m);
    let admin = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    tokio::time::advance(minutes(29)).await;
    admin.get_ok(&r.app, "/").await;
    tokio::time::advance(minutes(31)).await;
    assert_eq!(admin.get(&r.app, "/").await.0, StatusCode::SEE_OTHER, "idle for 31 minutes");

    let admin = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    for step in 1..=30u64 {
        tokio::time::advance(minutes(29)).await;
        let (status, _) = admin.get(&r.app, "/").await;
        if 29 * step >= 12 * 60 {
            assert_eq!(status, StatusCode::SEE_OTHER, "after {} minutes", 29 * step);
            break;
        }
        assert_eq!(status, StatusCode::OK, "after {} minutes", 29 * step);
    }
}

#[tokio::test]
async fn a_form_without_its_sessions_token_is_refused_and_changes_nothing() {
    let r = signed_rounds();
    let admin = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    let town = signin(&r.app, "licheng", TOWN_PASSWORD).await;
    let towns_token = form_token(&town.get_ok(&r.app, &format!("/rounds/zc-test-1/towns/{}", encode(A))).await);
    let workbook = three_claimed(&r.first);
    for token in [None, Some("00ff".to_owned()), Some("0".repeat(64)), Some(towns_token)] {
        let (status, page) = admin.upload(&r.app, "zc-test-1", token.as_deref(), &workbook).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(page.contains("表单已失效"), "{page}");
        assert!(!r.first.join("claims.json").exists());
    }
    assert!(!events(&r).iter().any(|(e, _)| e.starts_with("upload")));

    // The sign-in form: another site's post has neither the cookie nor a token that fits it.
    let form = format!("name=admin&password={}&csrf={}", encode(BUREAU_PASSWORD), "0".repeat(64));
    for cookie in [None, Some("bidui_signin=abcd")] {
        let mut request = Request::post("/signin")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap();
        if let Some(cookie) = cookie {
            request.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
        }
        let response = r.app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(set_cookie(&response, "bidui_session").is_none());
    }
    assert_eq!(r.console.gate().sessions(), 2);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_name_look_the_same_and_are_audited() {
    let r = signed_rounds();
    let mut pages = Vec::new();
    for (name, password) in [("admin", "not the password 1"), ("nobody", "not the password 1")] {
        let response = try_signin(&r.app, name, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(set_cookie(&response, "bidui_session").is_none());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("账户名或密码不对"), "{page}");
        // Each form has its own token; the rest is the same page.
        pages.push(page.replace(&form_token(&page), ""));
    }
    assert_eq!(pages[0], pages[1]);
    let trail = audit_trail(&r);
    let failed: Vec<(&str, &str)> =
        trail.iter().filter(|e| e.event == "signin-failed").map(|e| (e.account.as_str(), e.remote.as_str())).collect();
    assert_eq!(failed, [("admin", PEER), ("nobody", PEER)]);
}

#[tokio::test]
async fn five_failures_in_a_row_lock_the_name_out_for_a_while() {
    let r = signed_rounds();
    for _ in 0..5 {
        assert_eq!(try_signin(&r.app, "admin", "not the password 1").await.status(), StatusCode::UNAUTHORIZED);
    }
    let response = try_signin(&r.app, "admin", BUREAU_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "the right password waits too");
    assert!(set_cookie(&response, "bidui_session").is_none());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("分钟后再试"));
    // Another account is not held up.
    signin(&r.app, "licheng", TOWN_PASSWORD).await;
    let kinds: Vec<String> = events(&r).into_iter().map(|(e, _)| e).collect();
    assert_eq!(kinds.iter().filter(|e| *e == "signin-failed").count(), 5);
    assert_eq!(kinds.iter().filter(|e| *e == "signin-locked").count(), 1);
}

#[tokio::test]
async fn sign_ins_past_the_verification_bound_are_answered_503_at_once() {
    let r = signed_rounds_with(Limits { verifications: 1, ..Limits::default() });
    let attempts = (0..4).map(|_| try_signin(&r.app, "admin", BUREAU_PASSWORD));
    // The four are polled together: the first holds the only verification while it hashes.
    let statuses: Vec<StatusCode> = futures_join(attempts).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count(), 3, "{statuses:?}");
    // Told to wait is no failure: nothing audited but the one sign-in, nothing locked.
    assert_eq!(events(&r), [("signin-ok".to_owned(), "admin".to_owned())]);
    let none = signed_rounds_with(Limits { verifications: 0, ..Limits::default() });
    let response = try_signin(&none.app, "admin", BUREAU_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("请稍后再试"));
}

/// Every future to its end, polled together in this task.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (future, out) in pending.iter_mut().zip(done.iter_mut()) {
            if out.is_none() {
                if let std::task::Poll::Ready(value) = future.as_mut().poll(cx) {
                    *out = Some(value);
                }
            }
        }
        if done.iter().all(Option::is_some) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn the_session_table_keeps_the_most_recently_used() {
    let r = signed_rounds_with(Limits { max_sessions: 2, ..Limits::default() });
    let first = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    let second = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    first.get_ok(&r.app, "/").await;
    let third = signin(&r.app, "licheng", TOWN_PASSWORD).await;
    assert_eq!(r.console.gate().sessions(), 2);
    assert_eq!(second.get(&r.app, "/").await.0, StatusCode::SEE_OTHER, "the one unused longest went");
    first.get_ok(&r.app, "/").await;
    third.get_ok(&r.app, "/").await;
}

#[tokio::test]
async fn every_export_and_upload_is_audited_in_a_chain_the_bureau_can_read() {
    let r = rounds();
    let own = format!("/rounds/zc-test-1/towns/{}/workbook", encode(A));
    for uri in
        [own.as_str(), "/rounds/zc-test-2/upward.json", "/rounds/zc-test-2/upward.xlsx", "/rounds/zc-test-1/summary"]
    {
        let (status, _) = send(&r.app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    let token = token(&r.app, "zc-test-1").await;
    let (status, _) = send(&r.app, upload("zc-test-1", Some(&token), &three_claimed(&r.first))).await;
    assert_eq!(status, StatusCode::OK);
    let trail = audit_trail(&r);
    let kinds: Vec<&str> = trail.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        ["export-town-workbook", "export-upward-json", "export-upward-xlsx", "export-summary", "upload-claims"]
    );
    assert!(trail.iter().all(|e| e.account == "local" && e.at.ends_with("+08:00")));
    assert_eq!(r.console.audit_path(), r.dir.path().join("console-audit.log"));
    let page = get_ok(&r.app, "/audit").await;
    assert!(page.contains("哈希链校验通过") && page.contains("export-upward-xlsx"), "{page}");
    // A changed line is found.
    let text = std::fs::read_to_string(r.console.audit_path()).unwrap();
    std::fs::write(r.console.audit_path(), text.replace("zc-test-2", "zc-test-3")).unwrap();
    let page = get_ok(&r.app, "/audit").await;
    assert!(page.contains("哈希链校验失败"), "{page}");
}

#[tokio::test]
async fn an_oversized_sign_in_form_is_not_read_or_hashed() {
    let r = signed_rounds();
    let page = r.app.clone().oneshot(Request::get("/signin").body(Body::empty()).unwrap()).await.unwrap();
    let (cookie, _) = set_cookie(&page, "bidui_signin").unwrap();
    let form = format!("name=admin&password={}&csrf=00", "x".repeat(64 * 1024));
    let request = Request::post("/signin")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let response = r.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&response, "bidui_session").is_none());
    assert!(audit_trail(&r).is_empty(), "no verification was attempted");
}

#[tokio::test]
async fn an_account_removed_or_given_a_new_password_is_signed_out_at_once() {
    let r = signed_rounds();
    let admin = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    let town = signin(&r.app, "licheng", TOWN_PASSWORD).await;
    let mut changed = accounts();
    changed.remove("admin").unwrap();
    changed.set_password("licheng", "town of lc 2027").unwrap();
    r.console.gate().reload(changed);
    assert_eq!(admin.get(&r.app, "/").await.0, StatusCode::SEE_OTHER);
    assert_eq!(town.get(&r.app, "/").await.0, StatusCode::SEE_OTHER);
    assert_eq!(try_signin(&r.app, "admin", BUREAU_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    signin(&r.app, "licheng", "town of lc 2027").await.get_ok(&r.app, "/").await;
}

#[tokio::test(start_paused = true)]
async fn the_accounts_file_is_watched_and_a_removal_takes_effect_without_a_restart() {
    let r = signed_rounds();
    let file = r.dir.path().join("accounts.json");
    let mut held = Accounts::lock(&file).unwrap();
    *held = accounts();
    held.save().unwrap();
    let every = std::time::Duration::from_secs(5);
    tokio::spawn(bidui_console::session::watch_accounts(r.console.clone(), file.clone(), every));
    let town = signin(&r.app, "licheng", TOWN_PASSWORD).await;
    tokio::time::sleep(every * 2).await;
    town.get_ok(&r.app, "/").await;
    let mut changed = Accounts::lock(&file).unwrap();
    changed.remove("licheng").unwrap();
    changed.save().unwrap();
    tokio::time::sleep(every * 2).await;
    assert_eq!(town.get(&r.app, "/").await.0, StatusCode::SEE_OTHER);
}

// Language: Chinese by default, English on request.

/// Whether `c` is a CJK ideograph, CJK punctuation or a full-width form.
fn cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9FFF}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
}

/// Every text of the rounds' data a page may show as it is, longest first: names, towns,
/// problems, purposes, departments, claims, and what the operator's side says of a job.
fn data_texts(console: &bidui_console::Console) -> Vec<String> {
    let mut texts: Vec<String> = vec!["已整改".into(), "镇街已核实".into(), "比对服务没有这个任务".into()];
    texts.push("本地策略不允许向本任务的用途提供 <phone>".into());
    let profile = profile();
    texts.extend(DEPARTMENTS.iter().chain(&["veterans"]).map(|p| profile.party_name(p).to_owned()));
    for round in console.rounds().iter() {
        let set = &round.set;
        texts.extend([set.purpose.clone(), set.approval.clone(), round.name.clone()]);
        texts.extend(round.towns().into_iter().map(str::to_owned));
        texts.extend(set.party_names.values().cloned());
        texts.extend(round.people.values().map(|p| p.name.clone()));
        for p in &set.problems {
            texts.extend([p.label.clone(), p.detail.clone(), p.action.clone(), p.department_label().to_owned()]);
        }
    }
    let mut escaped: Vec<String> = texts.iter().map(|t| bidui_report::html::escape(t)).collect();
    escaped.extend(texts.iter().map(|t| encode(t)));
    escaped.extend(texts);
    escaped.sort_by_key(|t| std::cmp::Reverse(t.len()));
    escaped.dedup();
    escaped
}

/// A page in English: `lang="en"`, and no Chinese but the data's and the switch's own name.
fn assert_english(page: &str, data: &[String], what: &str) {
    assert!(page.contains("<html lang=\"en\">"), "{what}: {page}");
    assert!(page.contains("(Beijing time)"), "{what}: {page}");
    let mut chrome = page.replace(">中文</a>", "></a>");
    for text in data {
        chrome = chrome.replace(text.as_str(), "");
    }
    if let Some(at) = chrome.find(cjk) {
        let before: String = chrome[..at].chars().rev().take(120).collect::<Vec<_>>().into_iter().rev().collect();
        let after: String = chrome[at..].chars().take(60).collect();
        panic!("{what}: Chinese in an English page: …{before}{after}…");
    }
}

/// The language cookie a response sets, whole.
fn language_cookie(response: &axum::response::Response) -> Option<String> {
    set_cookie(response, "bidui_lang").map(|(_, whole)| whole)
}

async fn get_with_cookie(app: &Router, uri: &str, cookie: &str) -> axum::response::Response {
    let request = Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
    app.clone().oneshot(from_peer(request)).await.unwrap()
}

async fn body_of(response: axum::response::Response) -> String {
    String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn a_console_started_in_english_writes_every_page_in_english_but_the_data() {
    let r = bidui_i18n::in_language(bidui_i18n::Lang::En, rounds);
    let data = data_texts(&r.console);
    let town_a = format!("/rounds/zc-test-1/towns/{}", encode(A));
    for uri in ["/", "/rounds/zc-test-1", "/rounds/zc-test-2", &town_a, "/progress", "/audit", "/jobs"] {
        assert_english(&get_ok(&r.app, uri).await, &data, uri);
    }
    let (status, page) = get(&r.app, "/rounds/zc-test-9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_english(&page, &data, "404");
    // The upload's answers: refused without the token, nothing filled in, then taken.
    let (status, page) = send(&r.app, upload("zc-test-1", None, &three_claimed(&r.first))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_english(&String::from_utf8(page).unwrap(), &data, "csrf");
    let token = token(&r.app, "zc-test-1").await;
    let empty = returned(&r.first.join("towns").join(format!("{A}.xlsx")), &[]);
    let (status, page) = send(&r.app, upload("zc-test-1", Some(&token), &empty)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let page = String::from_utf8(page).unwrap();
    assert_english(&page, &data, "empty upload");
    assert!(page.contains("No row of the workbook"), "{page}");
    // What is wrong with a workbook is said in English too, though read on another thread.
    let other_round = returned(&r.first.join("towns").join(format!("{A}.xlsx")), &[(3, "deceased_active", "已整改")]);
    for (workbook, job, says) in [
        (b"not a workbook".to_vec(), "zc-test-1", "cannot open the workbook"),
        (other_round, "zc-test-2", "name no problem of job zc-test-2"),
    ] {
        let (status, page) = send(&r.app, upload(job, Some(&token), &workbook)).await;
        let page = String::from_utf8(page).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert_english(&page, &data, says);
        assert!(page.contains(says), "{page}");
    }
    let (status, page) = send(&r.app, upload("zc-test-1", Some(&token), &three_claimed(&r.first))).await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert_english(&page, &data, "upload");
    assert!(page.contains("3 claims imported, 3 of them claimed fixed"), "{page}");
    // With the claims in, the pages that weigh them.
    for uri in ["/progress", &town_a, "/audit"] {
        assert_english(&get_ok(&r.app, uri).await, &data, uri);
    }
    // The report upward is named in the page's language too.
    let response = get_with_cookie(&r.app, "/rounds/zc-test-1/upward.json", "").await;
    let disposition = response.headers()[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.ends_with(&encode("upward-report-zc-test-1.json")), "{disposition}");
    // A trail whose chain is broken says so, and where, in English.
    let text = std::fs::read_to_string(r.console.audit_path()).unwrap();
    std::fs::write(r.console.audit_path(), text.replace("zc-test-1", "zc-test-3")).unwrap();
    let page = get_ok(&r.app, "/audit").await;
    assert_english(&page, &data, "a broken trail");
    assert!(page.contains("The hash chain does not hold") && page.contains("line 1 of the audit trail"), "{page}");
}

#[tokio::test]
async fn the_jobs_page_in_english_says_each_stage_in_english() {
    let o = bidui_i18n::in_language(bidui_i18n::Lang::En, with_operator);
    let data = data_texts(&o.console);
    let page = get_ok(&o.app, "/jobs").await;
    assert_english(&page, &data, "/jobs");
    let response = o.app.clone().oneshot(form("/jobs/watch", &[("csrf", &form_token(&page)), ("job", "zc-live")]));
    assert_eq!(response.await.unwrap().status(), StatusCode::SEE_OTHER);
    let page = get_ok(&o.app, "/jobs").await;
    assert_english(&page, &data, "/jobs watching");
    assert!(page.contains("Uploading 2/8") && page.contains("Declined: waiting for a person"), "{page}");
    let refused = o.app.clone().oneshot(form("/jobs/watch", &[("csrf", &form_token(&page)), ("job", "a b")]));
    let refused = refused.await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = body_of(refused).await;
    assert_english(&page, &data, "job refused");
    assert!(page.contains("The job id does not fit"), "{page}");
}

#[tokio::test]
async fn by_default_the_pages_are_chinese_and_link_to_english() {
    let r = bidui_i18n::in_language(bidui_i18n::Lang::Zh, rounds);
    let page = get_ok(&r.app, "/progress").await;
    assert!(page.contains("<html lang=\"zh-CN\">") && page.contains("（北京时间）") && page.contains("整改进度"));
    assert!(page.contains("href=\"/language?to=en&amp;back=%2Fprogress\">English</a>"), "{page}");
    // A cookie that names no language is no choice: the console's own.
    let page = body_of(get_with_cookie(&r.app, "/", "bidui_lang=fr").await).await;
    assert!(page.contains("<html lang=\"zh-CN\">") && page.contains("各轮比对"), "{page}");
    let english = bidui_i18n::in_language(bidui_i18n::Lang::En, rounds);
    let page = body_of(get_with_cookie(&english.app, "/", "bidui_lang=garbage").await).await;
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    let page = body_of(get_with_cookie(&english.app, "/", "bidui_lang=zh").await).await;
    assert!(page.contains("<html lang=\"zh-CN\">") && page.contains("href=\"/language?to=en&amp;back=%2F\""));
}

#[tokio::test]
async fn the_switch_sets_the_choice_without_a_session_and_goes_back_to_this_site_only() {
    let r = bidui_i18n::in_language(bidui_i18n::Lang::Zh, signed_rounds);
    let data = data_texts(&r.console);
    // Before sign-in: the sign-in page links to the switch, which needs no session.
    let page = body_of(get_with_cookie(&r.app, "/signin", "").await).await;
    assert!(page.contains("href=\"/language?to=en&amp;back=%2Fsignin\""), "{page}");
    let response = get_with_cookie(&r.app, "/language?to=en&back=%2Fsignin", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/signin");
    let cookie = language_cookie(&response).expect("the choice is kept");
    for part in ["bidui_lang=en", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(set_cookie(&response, "bidui_session").is_none() && r.console.gate().sessions() == 0);
    let page = body_of(get_with_cookie(&r.app, "/signin", "bidui_lang=en").await).await;
    assert_english(&page, &data, "/signin");
    assert!(page.contains(">Sign in</button>") && page.contains("href=\"/language?to=zh&amp;back=%2Fsignin\">中文"));
    // Anywhere else is no way back.
    for back in ["https%3A%2F%2Fevil.example%2F", "%2F%2Fevil.example", "%2F%5Cevil.example", "evil", ""] {
        let response = get_with_cookie(&r.app, &format!("/language?to=en&back={back}"), "").await;
        assert_eq!(response.headers()[header::LOCATION], "/", "{back}");
    }
    // An unknown language sets nothing.
    let response = get_with_cookie(&r.app, "/language?to=fr&back=%2Fsignin", "").await;
    assert!(language_cookie(&response).is_none());
    assert_eq!(response.headers()[header::LOCATION], "/signin");

    // Signed in: the switch keeps the session, and the next page is in the choice.
    let admin = signin(&r.app, "admin", BUREAU_PASSWORD).await;
    let page = admin.get_ok(&r.app, "/rounds/zc-test-1").await;
    assert!(page.contains("<html lang=\"zh-CN\">") && page.contains("镇街 × 问题类别"));
    let response = get_with_cookie(&r.app, "/language?to=en&back=%2Frounds%2Fzc-test-1", &admin.cookie).await;
    assert_eq!(response.headers()[header::LOCATION], "/rounds/zc-test-1");
    assert!(language_cookie(&response).unwrap().contains("bidui_lang=en"));
    assert!(set_cookie(&response, "bidui_session").is_none());
    let both = format!("{}; bidui_lang=en", admin.cookie);
    let page = body_of(get_with_cookie(&r.app, "/rounds/zc-test-1", &both).await).await;
    assert_english(&page, &data, "/rounds/zc-test-1 signed in");
    assert!(page.contains("Sign out") && page.contains("Towns × problem categories"), "{page}");
    assert_eq!(r.console.gate().sessions(), 1);
    // The switch is audited nowhere: it is a preference, not an act.
    assert_eq!(events(&r), [("signin-ok".to_owned(), "admin".to_owned())]);
    // A town account's 403 and index, in English.
    let town = signin(&r.app, "licheng", TOWN_PASSWORD).await;
    let response = get_with_cookie(&r.app, "/progress", &format!("{}; bidui_lang=en", town.cookie)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_english(&body_of(response).await, &data, "403");
    let response = get_with_cookie(&r.app, "/", &format!("{}; bidui_lang=en", town.cookie)).await;
    assert_english(&body_of(response).await, &data, "the town's index");
}

/// A wrong password for `count` distinct names from `peer`, each answered as a failed sign-in.
async fn spray(app: &Router, peer: &str, count: usize) {
    for n in 0..count {
        let response = try_signin_from(app, peer, &format!("user{n}"), "not the password 1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
}

async fn page_of(response: axum::response::Response) -> String {
    String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn one_address_spraying_many_names_is_refused_before_its_next_verification() {
    use bidui_console::session::{SOURCE_FAILURES, SOURCE_WINDOW};
    let r = signed_rounds();
    // Fewer than five guesses per name: no name is ever locked.
    spray(&r.app, PEER, SOURCE_FAILURES).await;
    // Even the right password is not tried: the address has spent its budget.
    let response = try_signin(&r.app, "licheng", TOWN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&response, "bidui_session").is_none());
    let wait: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= SOURCE_WINDOW.as_secs(), "{wait}");
    let page = page_of(response).await;
    assert!(page.contains("从这个地址登录失败的次数过多") && page.contains("分钟后再试"), "{page}");
    assert!(page.contains("name=\"password\""), "the sign-in page again: {page}");
    let trail = audit_trail(&r);
    let kinds: Vec<&str> = trail.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.iter().filter(|e| **e == "signin-failed").count(), SOURCE_FAILURES);
    assert!(!kinds.contains(&"signin-ok") && !kinds.contains(&"signin-locked"), "{kinds:?}");
    let throttled: Vec<&str> =
        trail.iter().filter(|e| e.event == "signin-throttled").map(|e| e.remote.as_str()).collect();
    assert_eq!(throttled, [PEER], "audited once, with the address");
    // Refusals while it waits are neither verified nor written to the trail one by one.
    assert_eq!(try_signin(&r.app, "licheng", TOWN_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(audit_trail(&r).len(), trail.len());
    // Once its window has passed, the address may sign in again.
    tokio::time::advance(SOURCE_WINDOW).await;
    signin(&r.app, "licheng", TOWN_PASSWORD).await;
}

#[tokio::test]
async fn an_address_over_its_budget_does_not_block_another_address() {
    let r = signed_rounds();
    spray(&r.app, PEER, bidui_console::session::SOURCE_FAILURES).await;
    assert_eq!(try_signin(&r.app, "licheng", TOWN_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another IPv4 address, and an IPv6 one, are not held back by it; nor is the account.
    let other = try_signin_from(&r.app, "198.51.100.9:50000", "licheng", TOWN_PASSWORD).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
    let six = try_signin_from(&r.app, "[2001:db8::7]:50000", "admin", BUREAU_PASSWORD).await;
    assert_eq!(six.status(), StatusCode::SEE_OTHER);
    // The same address written as IPv4-mapped IPv6 is the same address.
    let mapped = try_signin_from(&r.app, "[::ffff:192.0.2.7]:40001", "admin", BUREAU_PASSWORD).await;
    assert_eq!(mapped.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn filling_the_failure_table_with_other_names_does_not_lift_a_lockout() {
    let limits = Limits { failing_names: 4, ..Limits::default() };
    let r = signed_rounds_with(limits);
    for _ in 0..5 {
        assert_eq!(try_signin(&r.app, "admin", "not the password 1").await.status(), StatusCode::UNAUTHORIZED);
    }
    // Other names locked out from other addresses fill the table, then more names fail.
    for n in 0..3 {
        let peer = format!("198.51.100.{n}:50000");
        for _ in 0..5 {
            let response = try_signin_from(&r.app, &peer, &format!("filler{n}"), "not the password 1").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
    }
    for n in 3..8 {
        // Still answered as a failed sign-in, though the full table cannot count it.
        let response = try_signin_from(&r.app, &format!("198.51.100.{n}:50000"), &format!("filler{n}"), "no 1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(r.console.gate().failing().0, 4);
    let response = try_signin_from(&r.app, "203.0.113.1:50000", "admin", BUREAU_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "the lockout holds");
    assert!(page_of(response).await.contains("这个账户连续登录失败次数过多"));
}

#[tokio::test]
async fn the_failure_tables_stay_bounded_under_a_flood_of_distinct_names_and_addresses() {
    let limits = Limits { failing_names: 8, failing_sources: 8, ..Limits::default() };
    let r = signed_rounds_with(limits);
    for n in 0..40u32 {
        let peer = if n % 2 == 0 { format!("198.51.100.{n}:50000") } else { format!("[2001:db8:{n:x}::1]:50000") };
        let response = try_signin_from(&r.app, &peer, &format!("flood{n}"), "not the password 1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{n}");
        let (names, sources) = r.console.gate().failing();
        assert!(names <= 8 && sources <= 8, "{n}: {names} names, {sources} sources");
    }
    // The flood locked nobody out: a person signs in as ever.
    signin(&r.app, "admin", BUREAU_PASSWORD).await;
}
