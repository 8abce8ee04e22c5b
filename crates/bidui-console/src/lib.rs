//! `bidui-console`: the bureau's console (issue #13), served by `bidui console`.
//!
//! The bureau (the requester) keeps one report directory per round (a job) under one
//! folder: what `bidui report build` wrote (problems.json, results.json with the people,
//! towns/*.xlsx, summary.html) and the towns' claims (claims.json). The console shows the
//! rounds, each round's town × category table and coverage, each town's problem list with
//! names (the bureau holds the registry), takes back the towns' returned workbooks (a form
//! protected by a per-process CSRF token), weighs the claims against the next round, and
//! makes the report upward on request.
//!
//! Pages are rendered on the server ([`pages`]): no script, nothing fetched from outside.
//! The console binds to loopback only: TLS and accounts come with a later version.
//! A request's path names a round and a town only by looking them up among what was
//! loaded; no request string is ever joined onto a path.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bidui_core::api::PersonRef;
use bidui_core::idnum::ChinaTime;
use bidui_report::claims::{Claims, CLAIMS_FILE};
use bidui_report::{ProblemSet, ReportError};

pub mod jobs;
pub mod pages;

/// The largest returned workbook taken (a town's workbook is far smaller).
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(
        "控制台目前只在本机回环地址（127.0.0.1 或 ::1）上提供，不能监听 {0}：在其他地址上提供需要 TLS 和账户，\
         将在以后的版本中提供 (the console listens on loopback only; TLS and accounts come with a later version)"
    )]
    NotLoopback(SocketAddr),
    #[error("{path}：无法读取轮次目录 (cannot read the rounds directory): {source}")]
    Rounds { path: PathBuf, source: std::io::Error },
    #[error("{0}：没有任何一轮比对报告（每轮一个目录，内有 bidui report build 写出的 problems.json）")]
    NoRounds(PathBuf),
    #[error("{first} 和 {second} 是同一个比对任务 {job}：每轮比对只能有一个目录")]
    SameJob { job: String, first: PathBuf, second: PathBuf },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Jobs(#[from] jobs::JobsFileError),
    #[error("监听 {listen} 失败 (cannot listen): {source}")]
    Listen { listen: SocketAddr, source: std::io::Error },
}

/// One round: a report directory and what was loaded from it.
pub struct Round {
    /// The directory's own name (from the listing, never from a request).
    pub name: String,
    pub dir: PathBuf,
    pub set: ProblemSet,
    /// Registry row → the person, from the round's results.json (the requester's).
    pub people: BTreeMap<u32, PersonRef>,
    /// The towns' claims; written through to claims.json.
    claims: Mutex<Claims>,
}

impl Round {
    fn load(dir: &Path, name: String) -> Result<Round, ConsoleError> {
        let set = bidui_report::load_run(dir)?;
        let results = dir.join(bidui_report::RESULTS_FILE);
        let people = if results.exists() {
            bidui_report::load_results(&results)?.rows.into_iter().filter_map(|r| Some((r.row, r.person?))).collect()
        } else {
            BTreeMap::new()
        };
        let claims = Claims::load(dir, &set.job)?;
        Ok(Round { name, dir: dir.to_owned(), set, people, claims: Mutex::new(claims) })
    }

    pub fn job(&self) -> &str {
        &self.set.job
    }

    /// Every town of the round: with registry rows or with problems.
    pub fn towns(&self) -> BTreeSet<&str> {
        let mut towns: BTreeSet<&str> = self.set.towns.keys().map(String::as_str).collect();
        towns.extend(self.set.problems.iter().map(|p| p.town.as_str()));
        towns
    }

    /// The town as the round names it, if it is one of its towns.
    pub fn town(&self, requested: &str) -> Option<&str> {
        self.towns().into_iter().find(|t| *t == requested)
    }

    pub fn claims(&self) -> Claims {
        self.claims.lock().expect("claims lock").clone()
    }

    /// The town's workbook as `report build` wrote it, when it is there.
    pub fn workbook(&self, town: &str) -> Option<PathBuf> {
        let path = self.dir.join(bidui_report::TOWNS_DIR).join(bidui_report::xlsx::town_file_name(self.town(town)?));
        path.is_file().then_some(path)
    }
}

/// The rounds, oldest first, and the process's CSRF token.
pub struct Console {
    /// The folder of the rounds.
    dir: PathBuf,
    /// The rounds loaded so far, by directory name. A request works on the snapshot it took
    /// (an `Arc`), so a round that appears meanwhile never changes a page half-way.
    rounds: RwLock<Arc<Vec<Arc<Round>>>>,
    /// Folders left out, with their problems.json's time of change and length then: tried
    /// again only once either changes, so a bad folder costs no parse (and no log line) per
    /// page. (The length too: two writes within the file system's clock tick share a time.)
    skipped: Mutex<BTreeMap<String, Option<(std::time::SystemTime, u64)>>>,
    csrf_key: ring::hmac::Key,
    csrf: String,
    /// The operator's side, when the console is given one: live jobs and new rounds.
    operator: Option<Arc<dyn jobs::Operator>>,
    /// The jobs watched (`jobs.json`), written through.
    watched: Mutex<jobs::WatchedJobs>,
}

/// Every subdirectory of `rounds` holding a problems.json, by name, hidden ones left out.
fn round_dirs(rounds: &Path) -> Result<Vec<(String, PathBuf)>, ConsoleError> {
    let listing = std::fs::read_dir(rounds).map_err(|e| ConsoleError::Rounds { path: rounds.to_owned(), source: e })?;
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| ConsoleError::Rounds { path: rounds.to_owned(), source: e })?;
        let path = entry.path();
        // A hidden folder is a round still being built (`.building-…`): never listed.
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.join(bidui_report::PROBLEMS_FILE).is_file() {
            dirs.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    dirs.sort();
    Ok(dirs)
}

impl Console {
    /// Loads every round under `rounds`: each subdirectory holding a problems.json, ordered
    /// by the directory's name (name rounds so they sort by time, as the console names the
    /// rounds it builds: the date, then the job id). There may be none yet: a console with
    /// the operator's side starts the first round itself ([`Console::check_rounds`]).
    pub fn load(rounds: &Path) -> Result<Console, ConsoleError> {
        let mut loaded: Vec<Arc<Round>> = Vec::new();
        for (name, dir) in round_dirs(rounds)? {
            let round = Round::load(&dir, name)?;
            if let Some(first) = loaded.iter().find(|r| r.job() == round.job()) {
                return Err(ConsoleError::SameJob {
                    job: round.job().to_owned(),
                    first: first.dir.clone(),
                    second: dir,
                });
            }
            loaded.push(Arc::new(round));
        }
        let watched = jobs::WatchedJobs::load(rounds)?;
        // A fresh secret per process: a page of another site cannot know the token, and no
        // earlier process's form is taken.
        let csrf_key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .expect("the system's random number generator");
        let csrf = hex::encode(ring::hmac::sign(&csrf_key, CSRF_MESSAGE));
        Ok(Console {
            dir: rounds.to_owned(),
            rounds: RwLock::new(Arc::new(loaded)),
            skipped: Mutex::new(BTreeMap::new()),
            csrf_key,
            csrf,
            operator: None,
            watched: Mutex::new(watched),
        })
    }

    /// The console with the operator's side: the jobs page shows each watched job live, and
    /// new rounds can be started from the job specs.
    pub fn with_operator(mut self, operator: Arc<dyn jobs::Operator>) -> Console {
        self.operator = Some(operator);
        self
    }

    /// The jobs watched, oldest first.
    pub fn watched(&self) -> jobs::WatchedJobs {
        self.watched.lock().expect("watched lock").clone()
    }

    /// Watches a job from now on; `false` if it was watched already.
    pub fn watch(&self, watched: jobs::Watched) -> Result<bool, jobs::JobsFileError> {
        let mut kept = self.watched.lock().expect("watched lock");
        let mut next = kept.clone();
        if !next.add(watched) {
            return Ok(false);
        }
        next.save(&self.dir)?;
        *kept = next;
        Ok(true)
    }

    /// Refuses a console with no round and no way to make one: most likely the wrong folder.
    pub fn check_rounds(&self) -> Result<(), ConsoleError> {
        if self.rounds().is_empty() && self.operator.is_none() {
            return Err(ConsoleError::NoRounds(self.dir.clone()));
        }
        Ok(())
    }

    /// The rounds as they are now, oldest first.
    pub fn rounds(&self) -> Arc<Vec<Arc<Round>>> {
        self.rounds.read().expect("rounds lock").clone()
    }

    /// Takes in the rounds that appeared in the folder since they were loaded (a round
    /// built by `bidui report build` or by the console itself), without a restart. A folder
    /// that cannot be loaded yet (still being written, or a second folder of a job already
    /// shown) is left out with a line in the log and tried again next time. Returns how
    /// many were taken in.
    pub fn refresh(&self) -> Result<usize, ConsoleError> {
        let changed = |dir: &Path| {
            let metadata = std::fs::metadata(dir.join(bidui_report::PROBLEMS_FILE)).ok()?;
            Some((metadata.modified().ok()?, metadata.len()))
        };
        let current = self.rounds();
        let mut skipped = self.skipped.lock().expect("skipped lock");
        let new: Vec<(String, PathBuf)> = round_dirs(&self.dir)?
            .into_iter()
            .filter(|(name, dir)| {
                current.iter().all(|r| &r.name != name) && skipped.get(name).is_none_or(|at| *at != changed(dir))
            })
            .collect();
        if new.is_empty() {
            return Ok(0);
        }
        let mut rounds = self.rounds.write().expect("rounds lock");
        let mut next: Vec<Arc<Round>> = rounds.iter().cloned().collect();
        let mut added = 0;
        for (name, dir) in new {
            if next.iter().any(|r| r.name == name) {
                continue;
            }
            let at = changed(&dir);
            let reason = match Round::load(&dir, name.clone()) {
                Ok(round) if next.iter().any(|r| r.job() == round.job()) => "same-job",
                Ok(round) => {
                    next.push(Arc::new(round));
                    skipped.remove(&name);
                    added += 1;
                    continue;
                }
                Err(_) => "unreadable",
            };
            eprintln!("{} round-skipped dir={} reason={reason}", now_in_china(), ascii(&name));
            skipped.insert(name, at);
        }
        next.sort_by(|a, b| a.name.cmp(&b.name));
        *rounds = Arc::new(next);
        Ok(added)
    }

    /// The round of a job id, and its place among the rounds.
    pub fn round(&self, job: &str) -> Option<(usize, Arc<Round>)> {
        self.rounds().iter().enumerate().find(|(_, r)| r.job() == job).map(|(i, r)| (i, r.clone()))
    }

    /// The token every form carries and every POST must return.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    fn csrf_matches(&self, offered: Option<&str>) -> bool {
        // Checked as the tag it is, in constant time.
        let tag = offered.and_then(|t| hex::decode(t).ok());
        tag.is_some_and(|tag| ring::hmac::verify(&self.csrf_key, CSRF_MESSAGE, &tag).is_ok())
    }
}

/// A name for a log line: ASCII kept, anything else replaced.
fn ascii(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect()
}

/// What the CSRF token authenticates (its key is the process's).
const CSRF_MESSAGE: &[u8] = b"bidui-console form";

/// Now, as a person in the bureau reads it.
pub fn now_in_china() -> ChinaTime {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    ChinaTime::from_unix_seconds(seconds as i64)
}

/// Refuses anything but loopback: there are no accounts and no TLS yet.
pub fn check_listen(listen: SocketAddr) -> Result<(), ConsoleError> {
    if listen.ip().is_loopback() {
        Ok(())
    } else {
        Err(ConsoleError::NotLoopback(listen))
    }
}

/// Serves the console on `listen` (loopback only) until Ctrl-C, building the rounds of
/// watched jobs as their results are opened.
pub async fn serve(console: Console, listen: SocketAddr) -> Result<(), ConsoleError> {
    check_listen(listen)?;
    console.check_rounds()?;
    let count = console.rounds().len();
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| ConsoleError::Listen { listen, source: e })?;
    let address = listener.local_addr().map_err(|e| ConsoleError::Listen { listen, source: e })?;
    eprintln!("console listening on http://{address}/ rounds={count}");
    let console = Arc::new(console);
    let building = tokio::spawn(jobs::keep_building(console.clone()));
    let served = axum::serve(listener, app(console))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| ConsoleError::Listen { listen, source: e });
    building.abort();
    served
}

/// The console's routes. Every request is logged as one ASCII line on stderr.
pub fn app(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/progress", get(progress))
        .route("/jobs", get(jobs_page))
        .route("/jobs/start", post(start_round))
        .route("/jobs/watch", post(watch_job))
        .route("/rounds/{job}", get(round))
        .route("/rounds/{job}/summary", get(summary))
        .route("/rounds/{job}/upward.xlsx", get(upward_xlsx))
        .route("/rounds/{job}/upward.json", get(upward_json))
        .route("/rounds/{job}/towns/{town}", get(town))
        .route("/rounds/{job}/towns/{town}/workbook", get(town_workbook))
        .route("/rounds/{job}/claims", post(upload_claims).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn(log_request))
        .with_state(console)
}

/// What the browser may load for a console page: nothing but the page itself (its inline
/// styles and SVG), forms only back to the console, and no other site may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `2026-12-01 10:00:00 +08:00 GET /rounds/x 200`: the path as sent (percent-encoded),
/// anything else replaced, so a line stays ASCII. Every response gets the headers that keep
/// the pages (names and identity numbers) in this browser tab: the policy above, not
/// cached, no referrer.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = ascii(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    eprintln!("{} {method} {path} {}", now_in_china(), response.status().as_u16());
    response
}

type Shared = State<Arc<Console>>;

fn html(status: StatusCode, page: String) -> Response {
    (status, Html(page)).into_response()
}

fn not_found() -> Response {
    html(StatusCode::NOT_FOUND, pages::message("找不到页面", "没有这一轮比对或这个镇街。"))
}

fn download(content_type: &'static str, file_name: &str, bytes: Vec<u8>) -> Response {
    let encoded = percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    let disposition = format!("attachment; filename=\"download\"; filename*=UTF-8''{encoded}");
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn index(State(console): Shared) -> Response {
    refresh(&console);
    html(StatusCode::OK, pages::index(&console))
}

async fn progress(State(console): Shared) -> Response {
    refresh(&console);
    html(StatusCode::OK, pages::progress(&console))
}

/// The pages that list rounds take in new ones first.
fn refresh(console: &Console) {
    if let Err(e) = console.refresh() {
        eprintln!("{} rounds-unreadable error=\"{}\"", now_in_china(), ascii(&e.to_string()));
    }
}

async fn round(State(console): Shared, axum::extract::Path(job): axum::extract::Path<String>) -> Response {
    match console.round(&job) {
        Some((_, round)) => html(StatusCode::OK, pages::round(&console, &round)),
        None => not_found(),
    }
}

async fn summary(State(console): Shared, axum::extract::Path(job): axum::extract::Path<String>) -> Response {
    let Some((_, round)) = console.round(&job) else { return not_found() };
    match std::fs::read(round.dir.join(bidui_report::SUMMARY_FILE)) {
        Ok(page) => (StatusCode::OK, Html(page)).into_response(),
        Err(_) => {
            html(StatusCode::NOT_FOUND, pages::message("没有领导汇总页", "这一轮的报告目录里没有 summary.html。"))
        }
    }
}

async fn town(
    State(console): Shared,
    axum::extract::Path((job, town)): axum::extract::Path<(String, String)>,
) -> Response {
    let Some((_, round)) = console.round(&job) else { return not_found() };
    match round.town(&town) {
        Some(town) => html(StatusCode::OK, pages::town(&round, town)),
        None => not_found(),
    }
}

async fn town_workbook(
    State(console): Shared,
    axum::extract::Path((job, town)): axum::extract::Path<(String, String)>,
) -> Response {
    let Some((_, round)) = console.round(&job) else { return not_found() };
    let Some(path) = round.workbook(&town) else { return not_found() };
    match std::fs::read(&path) {
        Ok(bytes) => download(XLSX, &bidui_report::xlsx::town_file_name(&town), bytes),
        Err(_) => not_found(),
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The report upward of a round, against the round before it.
fn upward_of(console: &Console, job: &str) -> Option<bidui_report::upward::Upward> {
    let (i, round) = console.round(job)?;
    let rounds = console.rounds();
    let previous = i.checked_sub(1).map(|p| &rounds[p].set);
    Some(bidui_report::upward::Upward::of(&round.set, previous, &now_in_china().to_minute_string()))
}

async fn upward_json(State(console): Shared, axum::extract::Path(job): axum::extract::Path<String>) -> Response {
    let Some(upward) = upward_of(&console, &job) else { return not_found() };
    let json = serde_json::to_vec_pretty(&upward).expect("upward serializes");
    download("application/json", &format!("上报汇总-{job}.json"), json)
}

async fn upward_xlsx(State(console): Shared, axum::extract::Path(job): axum::extract::Path<String>) -> Response {
    let Some(upward) = upward_of(&console, &job) else { return not_found() };
    let written = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let file = tempfile::Builder::new().suffix(".xlsx").tempfile().map_err(|e| e.to_string())?;
        bidui_report::upward::write_xlsx(&upward, file.path()).map_err(|e| e.to_string())?;
        std::fs::read(file.path()).map_err(|e| e.to_string())
    })
    .await;
    match written {
        Ok(Ok(bytes)) => download(XLSX, &format!("上报汇总-{job}.xlsx"), bytes),
        Ok(Err(e)) => html(StatusCode::INTERNAL_SERVER_ERROR, pages::message("无法生成上报汇总", &e)),
        Err(_) => html(StatusCode::INTERNAL_SERVER_ERROR, pages::message("无法生成上报汇总", "内部错误")),
    }
}

fn forbidden() -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::message(
            "表单已失效",
            "请从控制台页面重新打开表单后再上传（表单缺少有效的校验码，可能来自其他网站或控制台已重启）。",
        ),
    )
}

fn bad_upload(message: &str) -> Response {
    html(StatusCode::BAD_REQUEST, pages::message("工作簿未导入", message))
}

/// Takes back one returned town workbook: with the form's CSRF token, against the round's
/// problems; nothing changes unless every row of it names a problem of the round.
async fn upload_claims(
    State(console): Shared,
    axum::extract::Path(job): axum::extract::Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some((_, round)) = console.round(&job) else { return not_found() };
    // A POST that is not our form carries no token.
    let Ok(mut form) = form else { return forbidden() };
    let (mut token, mut workbook) = (None, None);
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => token = field.text().await.ok(),
                Some("workbook") => workbook = field.bytes().await.ok(),
                _ => {}
            },
            Ok(None) => break,
            Err(_) if token.is_none() => return forbidden(),
            Err(e) => return bad_upload(&format!("上传未完成：{e}")),
        }
    }
    if !console.csrf_matches(token.as_deref()) {
        return forbidden();
    }
    let Some(workbook) = workbook.filter(|w| !w.is_empty()) else {
        return bad_upload("没有选择工作簿文件。");
    };
    let taken = tokio::task::spawn_blocking(move || take_claims(&round, &workbook)).await;
    match taken {
        Ok(Ok(taken)) => html(StatusCode::OK, pages::claims_taken(&job, &taken)),
        Ok(Err(message)) => bad_upload(&message),
        Err(_) => bad_upload("内部错误"),
    }
}

/// What one upload took: the claims read, and how many of them claim a problem fixed.
pub struct Taken {
    pub claims: usize,
    pub fixed: usize,
    pub towns: BTreeSet<String>,
}

fn take_claims(round: &Round, workbook: &[u8]) -> Result<Taken, String> {
    // calamine reads a file; the upload is kept beside the round (the bureau's data stays
    // in its folder) and removed when dropped.
    let mut file = tempfile::Builder::new()
        .prefix(".upload-")
        .suffix(".xlsx")
        .tempfile_in(&round.dir)
        .map_err(|e| format!("无法保存上传的文件：{e}"))?;
    file.write_all(workbook).map_err(|e| format!("无法保存上传的文件：{e}"))?;
    let claims = bidui_report::claims::read_workbook(file.path(), &round.set).map_err(|e| match e {
        // The temporary file's path means nothing to the person who uploaded it.
        ReportError::Parse { message, .. } => message,
        other => other.to_string(),
    })?;
    let taken = Taken {
        claims: claims.len(),
        fixed: claims.iter().filter(|c| c.claims_fixed()).count(),
        towns: claims.iter().map(|c| c.town.clone()).collect(),
    };
    if claims.is_empty() {
        return Err("工作簿中没有填写整改情况或整改说明的行。".to_owned());
    }
    let mut kept = round.claims.lock().expect("claims lock");
    let mut next = kept.clone();
    next.add(claims);
    next.save(&round.dir).map_err(|e| format!("无法写入 {CLAIMS_FILE}：{e}"))?;
    *kept = next;
    Ok(taken)
}

/// `/jobs`: the watched jobs, live.
async fn jobs_page(State(console): Shared) -> Response {
    let Some(operator) = console.operator.clone() else {
        return html(StatusCode::OK, pages::jobs_without_operator());
    };
    let shown = console.clone();
    let live = tokio::task::spawn_blocking(move || jobs::live(&shown, operator.as_ref())).await;
    match live {
        Ok(live) => html(StatusCode::OK, pages::jobs(&console, &live)),
        Err(_) => html(StatusCode::INTERNAL_SERVER_ERROR, pages::message("无法读取比对任务", "内部错误")),
    }
}

#[derive(serde::Deserialize)]
struct StartForm {
    csrf: String,
    spec: String,
    job: String,
}

#[derive(serde::Deserialize)]
struct WatchForm {
    csrf: String,
    job: String,
}

fn see_jobs() -> Response {
    axum::response::Redirect::to("/jobs").into_response()
}

fn job_refused(message: &str) -> Response {
    html(StatusCode::UNPROCESSABLE_ENTITY, pages::message("未能办理", message))
}

/// Starts a new round: the chosen spec under a new job id, signed and created by the
/// operator's side, then watched.
async fn start_round(
    State(console): Shared,
    form: Result<axum::Form<StartForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else { return forbidden() };
    if !console.csrf_matches(Some(&form.csrf)) {
        return forbidden();
    }
    let Some(operator) = console.operator.clone() else { return not_found() };
    let Some(choice) = operator.specs().into_iter().find(|c| c.file == form.spec) else {
        return job_refused("没有这份任务配置。");
    };
    let job = form.job.trim().to_owned();
    let mut spec = choice.spec;
    spec.id = job.clone();
    if let Err(e) = spec.validate() {
        return job_refused(&format!("任务编号或任务配置不可用：{e}"));
    }
    let creating = operator.clone();
    let created = tokio::task::spawn_blocking(move || creating.create(&spec, &job)).await;
    match created {
        Ok(Ok(())) => {}
        Ok(Err(message)) => return job_refused(&message),
        Err(_) => return job_refused("内部错误"),
    }
    let watched = jobs::Watched {
        job: form.job.trim().to_owned(),
        since: now_in_china().to_minute_string(),
        spec: Some(choice.file),
        round: None,
        build_error: None,
    };
    eprintln!("{} job-started job={}", now_in_china(), ascii(&watched.job));
    match console.watch(watched) {
        Ok(_) => see_jobs(),
        Err(e) => job_refused(&e.to_string()),
    }
}

/// Watches a job created elsewhere (`bidui job create`), once the matcher shows it to the
/// operator.
async fn watch_job(
    State(console): Shared,
    form: Result<axum::Form<WatchForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else { return forbidden() };
    if !console.csrf_matches(Some(&form.csrf)) {
        return forbidden();
    }
    let Some(operator) = console.operator.clone() else { return not_found() };
    let job = form.job.trim().to_owned();
    if !bidui_core::api::valid_job_id(&job) {
        return job_refused("任务编号不符合格式（1–64 个字母、数字、汉字或 - _ .）。");
    }
    let asking = job.clone();
    match tokio::task::spawn_blocking(move || operator.status(&asking)).await {
        Ok(Ok(_)) => {}
        Ok(Err(message)) => return job_refused(&message),
        Err(_) => return job_refused("内部错误"),
    }
    let watched =
        jobs::Watched { job, since: now_in_china().to_minute_string(), spec: None, round: None, build_error: None };
    match console.watch(watched) {
        Ok(_) => see_jobs(),
        Err(e) => job_refused(&e.to_string()),
    }
}
