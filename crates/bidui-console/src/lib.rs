//! `bidui-console`: the bureau's console (issue #13), served by `bidui console`.
//!
//! The bureau (the requester) keeps one report directory per round (a job) under one
//! folder: what `bidui report build` wrote (problems.json, results.json with the people,
//! towns/*.xlsx, summary.html) and the towns' claims (claims.json). The console shows the
//! rounds, each round's town × category table and coverage, each town's problem list with
//! names (the bureau holds the registry), takes back the towns' returned workbooks (a form
//! protected by a CSRF token), weighs the claims against the next round, and makes the
//! report upward on request.
//!
//! Pages are rendered on the server ([`pages`]): no script, nothing fetched from outside.
//! Without accounts the console serves loopback only, to one local user with the bureau's
//! view. With accounts ([`accounts`]) every page is behind a sign-in ([`session`]), and a town
//! account sees its own town only; beyond loopback it must also speak TLS ([`tls`]). Every
//! sign-in, sign-out, export and upload goes to a hash-chained audit trail ([`audit`]).
//! A request's path names a round and a town only by looking them up among what was
//! loaded; no request string is ever joined onto a path.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::Router;
use bidui_core::api::PersonRef;
use bidui_core::idnum::ChinaTime;
use bidui_i18n::{t, Lang};
use bidui_report::claims::{Claims, CLAIMS_FILE};
use bidui_report::{ProblemSet, ReportError};

pub mod accounts;
pub mod audit;
pub mod jobs;
pub mod language;
pub mod pages;
pub mod session;
pub mod tls;

use audit::{event, AuditLog};
use session::{Bureau, Gate, Remote, Signed};

/// The largest returned workbook taken (a town's workbook is far smaller).
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{}", t!("console-not-loopback", listen = .listen, missing = .missing))]
    NotLoopback { listen: SocketAddr, missing: String },
    #[error(transparent)]
    Accounts(#[from] accounts::AccountError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("{}", t!("console-rounds-unreadable", path = .path.display(), source = .source))]
    Rounds { path: PathBuf, source: std::io::Error },
    #[error("{}", t!("console-rounds-none", path = .0.display()))]
    NoRounds(PathBuf),
    #[error("{}", t!("console-rounds-same-job", first = .first.display(), second = .second.display(), job = .job))]
    SameJob { job: String, first: PathBuf, second: PathBuf },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Jobs(#[from] jobs::JobsFileError),
    #[error("{}", t!("console-listen-failed", listen = .listen, source = .source))]
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

/// An export or upload not done because the audit trail could not be written.
struct Unaudited;

impl IntoResponse for Unaudited {
    fn into_response(self) -> Response {
        html(StatusCode::INTERNAL_SERVER_ERROR, || {
            pages::message(&t!("console-unaudited-title"), &t!("console-unaudited"))
        })
    }
}

/// The rounds, oldest first, who may see them, and the audit trail.
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
    gate: Gate,
    audit: AuditLog,
    /// The operator's side, when the console is given one: live jobs and new rounds.
    operator: Option<Arc<dyn jobs::Operator>>,
    /// The jobs watched (`jobs.json`), written through.
    watched: Mutex<jobs::WatchedJobs>,
    /// The pages' language for a browser that has not chosen one ([`language`]).
    language: Lang,
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
    /// the operator's side starts the first round itself ([`Console::check_rounds`]). The
    /// audit trail is `console-audit.log` in the same folder. No accounts: the local user.
    /// The pages speak this thread's language ([`bidui_i18n::language`]: `--lang`, or the
    /// locale) to a browser that has not chosen one.
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
        let audit = AuditLog::open(&rounds.join(audit::AUDIT_FILE))?;
        Ok(Console {
            dir: rounds.to_owned(),
            rounds: RwLock::new(Arc::new(loaded)),
            skipped: Mutex::new(BTreeMap::new()),
            gate: Gate::local(),
            audit,
            operator: None,
            watched: Mutex::new(watched),
            language: bidui_i18n::language(),
        })
    }

    /// The console with the operator's side: the jobs page shows each watched job live, and
    /// new rounds can be started from the job specs.
    pub fn with_operator(mut self, operator: Arc<dyn jobs::Operator>) -> Console {
        self.operator = Some(operator);
        self
    }

    /// Every page behind a sign-in with these accounts.
    pub fn with_accounts(mut self, accounts: accounts::Accounts, limits: session::Limits) -> Console {
        self.gate = Gate::with_accounts(accounts, limits);
        self
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The pages' language for a browser that has not chosen one.
    pub fn language(&self) -> Lang {
        self.language
    }

    pub fn audit_path(&self) -> &Path {
        self.audit.path()
    }

    /// Writes an audit entry; false (and a line on stderr) when the trail cannot be written.
    pub fn record(&self, event: &str, account: &str, remote: &str, detail: &str) -> bool {
        match self.audit.record(event, account, remote, detail) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("{} audit-write-failed event={event}: {e}", now_in_china());
                false
            }
        }
    }

    /// An export or upload by `viewer`, audited before anything leaves or changes: what
    /// cannot be audited is not done.
    fn audited(&self, signed: &Signed, event: &str, detail: &str) -> Result<(), Unaudited> {
        let viewer = signed.viewer();
        self.record(event, viewer.account(), viewer.remote(), detail).then_some(()).ok_or(Unaudited)
    }

    /// The 403 page for what `signed`'s role does not show, audited.
    pub fn refuse(&self, signed: &Signed, path: &str) -> Response {
        let path: String = path.chars().take(200).map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect();
        let viewer = signed.viewer();
        self.record(event::FORBIDDEN, viewer.account(), viewer.remote(), &format!("path={path}"));
        session::forbidden_page()
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
}

/// A name for a log line: ASCII kept, anything else replaced.
fn ascii(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect()
}

/// Now, as a person in the bureau reads it.
pub fn now_in_china() -> ChinaTime {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    ChinaTime::from_unix_seconds(seconds as i64)
}

/// How `bidui console` serves: where, over TLS or not, with accounts or not.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub accounts: Option<PathBuf>,
    pub tls: Option<tls::TlsFiles>,
}

/// Loopback may be served as it is; anything else only over TLS and with accounts.
pub fn check_listen(listen: SocketAddr, tls: bool, accounts: bool) -> Result<(), ConsoleError> {
    if listen.ip().is_loopback() || (tls && accounts) {
        return Ok(());
    }
    let missing = match (tls, accounts) {
        (false, false) => t!("console-missing-tls-and-accounts"),
        (false, true) => t!("console-missing-tls"),
        _ => t!("console-missing-accounts"),
    };
    Err(ConsoleError::NotLoopback { listen, missing })
}

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Remote {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Remote {
        Remote(*stream.remote_addr())
    }
}

/// Serves the console until Ctrl-C, building the rounds of watched jobs as their results
/// are opened.
pub async fn serve(mut console: Console, options: ServeOptions) -> Result<(), ConsoleError> {
    let listen = options.listen;
    check_listen(listen, options.tls.is_some(), options.accounts.is_some())?;
    console.check_rounds()?;
    // Every file is read before the port is taken: a bad one fails fast.
    let tls = options.tls.as_ref().map(tls::server_config).transpose()?;
    let accounts = options.accounts.as_deref().map(accounts::Accounts::load).transpose()?;
    if let Some(accounts) = accounts {
        console = console.with_accounts(accounts, session::Limits::default());
    }
    if tls.is_some() {
        console.gate.secure_cookies();
    }
    let count = console.rounds().len();
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| ConsoleError::Listen { listen, source: e })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tls::ConsoleListener::new(listener, tls).map_err(|e| ConsoleError::Listen { listen, source: e })?;
    let address =
        axum::serve::Listener::local_addr(&listener).map_err(|e| ConsoleError::Listen { listen, source: e })?;
    let signin = if console.gate.has_accounts() { "accounts" } else { "local" };
    eprintln!("console listening on {scheme}://{address}/ rounds={count} signin={signin}");
    let console = Arc::new(console);
    if let Some(path) = options.accounts {
        tokio::spawn(session::watch_accounts(console.clone(), path, ACCOUNTS_CHECK));
    }
    let building = tokio::spawn(jobs::keep_building(console.clone()));
    let app = app(console).into_make_service_with_connect_info::<Remote>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| ConsoleError::Listen { listen, source: e });
    building.abort();
    served
}

/// How often the accounts file is checked for changes.
const ACCOUNTS_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// The largest sign-in form taken.
const MAX_SIGNIN_BYTES: usize = 4096;

/// The console's routes, every one behind [`session::gate`]. Every request is logged as one
/// ASCII line on stderr.
pub fn app(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/signin",
            get(session::signin_page).post(session::signin).layer(DefaultBodyLimit::max(MAX_SIGNIN_BYTES)),
        )
        .route(language::SWITCH_PATH, get(language::switch))
        .route("/signout", post(session::signout).layer(DefaultBodyLimit::max(MAX_SIGNIN_BYTES)))
        .route("/audit", get(audit_page))
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
        .layer(middleware::from_fn_with_state(console.clone(), session::gate))
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
type JobPath = axum::extract::Path<String>;
type TownPath = axum::extract::Path<(String, String)>;

/// A page rendered in the language of the request being answered.
fn html(status: StatusCode, page: impl FnOnce() -> String) -> Response {
    (status, Html(language::render(page))).into_response()
}

fn not_found() -> Response {
    html(StatusCode::NOT_FOUND, || pages::message(&t!("console-not-found-title"), &t!("console-not-found")))
}

/// The 500 page for what went wrong inside: said without the details, which go to the log.
fn internal_error(title: impl FnOnce() -> String) -> Response {
    html(StatusCode::INTERNAL_SERVER_ERROR, || pages::message(&title(), &t!("console-internal-error")))
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

/// `/`: every round for the bureau; a town account's own town in each round.
async fn index(State(console): Shared, signed: Signed) -> Response {
    refresh(&console);
    match signed.own_town() {
        None => html(StatusCode::OK, || pages::index(&console)),
        Some(town) => html(StatusCode::OK, || pages::town_index(&console, town)),
    }
}

/// `/audit`: the trail, latest first, and whether its chain holds.
async fn audit_page(State(console): Shared, _: Bureau) -> Response {
    let path = console.audit_path().to_owned();
    match tokio::task::spawn_blocking(move || audit::verify(&path)).await {
        Ok(Ok(entries)) => html(StatusCode::OK, || pages::audit(&entries, None)),
        Ok(Err(broken)) => html(StatusCode::OK, || pages::audit(&[], Some(&broken.to_string()))),
        Err(_) => internal_error(|| t!("console-audit-unreadable")),
    }
}

async fn progress(State(console): Shared, _: Bureau) -> Response {
    refresh(&console);
    html(StatusCode::OK, || pages::progress(&console))
}

/// The pages that list rounds take in new ones first.
fn refresh(console: &Console) {
    if let Err(e) = console.refresh() {
        eprintln!("{} rounds-unreadable error=\"{}\"", now_in_china(), ascii(&e.to_string()));
    }
}

async fn round(State(console): Shared, _: Bureau, axum::extract::Path(job): JobPath) -> Response {
    match console.round(&job) {
        Some((_, round)) => html(StatusCode::OK, || pages::round(&round)),
        None => not_found(),
    }
}

async fn summary(State(console): Shared, bureau: Bureau, axum::extract::Path(job): JobPath) -> Response {
    let Some((_, round)) = console.round(&job) else { return not_found() };
    match std::fs::read(round.dir.join(bidui_report::SUMMARY_FILE)) {
        Ok(page) => {
            if let Err(unaudited) = console.audited(&bureau.into(), event::EXPORT_SUMMARY, &format!("round={job}")) {
                return unaudited.into_response();
            }
            (StatusCode::OK, Html(page)).into_response()
        }
        Err(_) => {
            html(StatusCode::NOT_FOUND, || pages::message(&t!("console-no-summary-title"), &t!("console-no-summary")))
        }
    }
}

/// Why a town's page or workbook is not given.
enum TownRefused {
    /// A town account asking for another town (whether or not the round has it).
    NotYours,
    NotFound,
}

impl TownRefused {
    fn answer(self, console: &Console, signed: &Signed, path: &str) -> Response {
        match self {
            TownRefused::NotYours => console.refuse(signed, path),
            TownRefused::NotFound => not_found(),
        }
    }
}

/// The round and the town as it names it, when the account may see that town.
fn town_in(console: &Console, signed: &Signed, job: &str, town: &str) -> Result<(Arc<Round>, String), TownRefused> {
    if !signed.town_allowed(town) {
        return Err(TownRefused::NotYours);
    }
    let (_, round) = console.round(job).ok_or(TownRefused::NotFound)?;
    let town = round.town(town).ok_or(TownRefused::NotFound)?.to_owned();
    Ok((round, town))
}

async fn town(
    State(console): Shared,
    signed: Signed,
    uri: axum::http::Uri,
    axum::extract::Path((job, town)): TownPath,
) -> Response {
    match town_in(&console, &signed, &job, &town) {
        Ok((round, town)) => html(StatusCode::OK, || pages::town(&round, &town)),
        Err(refused) => refused.answer(&console, &signed, uri.path()),
    }
}

async fn town_workbook(
    State(console): Shared,
    signed: Signed,
    uri: axum::http::Uri,
    axum::extract::Path((job, town)): TownPath,
) -> Response {
    let (round, town) = match town_in(&console, &signed, &job, &town) {
        Ok(found) => found,
        Err(refused) => return refused.answer(&console, &signed, uri.path()),
    };
    let Some(path) = round.workbook(&town) else { return not_found() };
    match std::fs::read(&path) {
        Ok(bytes) => {
            if let Err(unaudited) =
                console.audited(&signed, event::EXPORT_WORKBOOK, &format!("round={job} town={town}"))
            {
                return unaudited.into_response();
            }
            download(XLSX, &bidui_report::xlsx::town_file_name(&town), bytes)
        }
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

async fn upward_json(State(console): Shared, bureau: Bureau, axum::extract::Path(job): JobPath) -> Response {
    let Some(upward) = upward_of(&console, &job) else { return not_found() };
    if let Err(unaudited) = console.audited(&bureau.into(), event::EXPORT_UPWARD_JSON, &format!("round={job}")) {
        return unaudited.into_response();
    }
    let json = serde_json::to_vec_pretty(&upward).expect("upward serializes");
    download("application/json", &format!("{}.json", language::render(|| t!("console-upward-file", job = job))), json)
}

async fn upward_xlsx(State(console): Shared, bureau: Bureau, axum::extract::Path(job): JobPath) -> Response {
    let Some(upward) = upward_of(&console, &job) else { return not_found() };
    let written = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let file = tempfile::Builder::new().suffix(".xlsx").tempfile().map_err(|e| e.to_string())?;
        bidui_report::upward::write_xlsx(&upward, file.path()).map_err(|e| e.to_string())?;
        std::fs::read(file.path()).map_err(|e| e.to_string())
    })
    .await;
    match written {
        Ok(Ok(bytes)) => {
            if let Err(unaudited) = console.audited(&bureau.into(), event::EXPORT_UPWARD_XLSX, &format!("round={job}"))
            {
                return unaudited.into_response();
            }
            download(XLSX, &format!("{}.xlsx", language::render(|| t!("console-upward-file", job = job))), bytes)
        }
        Ok(Err(e)) => {
            eprintln!("{} upward-failed round={} error=\"{}\"", now_in_china(), ascii(&job), ascii(&e));
            internal_error(|| t!("console-upward-failed"))
        }
        Err(_) => internal_error(|| t!("console-upward-failed")),
    }
}

/// The 403 page for a form without its token.
pub(crate) fn csrf_refused() -> Response {
    html(StatusCode::FORBIDDEN, || pages::message(&t!("console-csrf-title"), &t!("console-csrf")))
}

/// The 400 page of an upload that took nothing, saying why (`message`, made as it is rendered).
fn bad_upload(message: impl FnOnce() -> String) -> Response {
    html(StatusCode::BAD_REQUEST, || pages::message(&t!("console-not-imported"), &message()))
}

/// Takes back one returned town workbook: with the form's CSRF token, against the round's
/// problems; nothing changes unless every row of it names a problem of the round (and,
/// for a town account, of its own town).
async fn upload_claims(
    State(console): Shared,
    signed: Signed,
    axum::extract::Path(job): JobPath,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some((_, round)) = console.round(&job) else { return not_found() };
    // A POST that is not our form carries no token.
    let Ok(mut form) = form else { return csrf_refused() };
    let (mut token, mut workbook) = (None, None);
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => token = field.text().await.ok(),
                Some("workbook") => workbook = field.bytes().await.ok(),
                _ => {}
            },
            Ok(None) => break,
            Err(_) if token.is_none() => return csrf_refused(),
            Err(_) => return bad_upload(|| t!("console-upload-incomplete")),
        }
    }
    if !signed.csrf_matches(&console, token.as_deref()) {
        return csrf_refused();
    }
    let Some(workbook) = workbook.filter(|w| !w.is_empty()) else {
        return bad_upload(|| t!("console-upload-no-file"));
    };
    let only = signed.own_town().map(str::to_owned);
    let (reader, uploader, name) = (console.clone(), signed.clone(), job.clone());
    let taken = language::spawn_blocking(move || {
        take_claims(&round, &workbook, only.as_deref(), |taken| {
            let towns: Vec<&str> = taken.towns.iter().map(String::as_str).collect();
            let detail =
                format!("round={name} towns={} claims={} fixed={}", towns.join(","), taken.claims, taken.fixed);
            reader.audited(&uploader, event::UPLOAD_CLAIMS, &detail).map_err(|_| Refusal::Unaudited)
        })
    })
    .await;
    match taken {
        Ok(Ok(taken)) => html(StatusCode::OK, || pages::claims_taken(&job, &taken)),
        Ok(Err(Refusal::Bad(message))) => bad_upload(|| message),
        Ok(Err(Refusal::OtherTowns(towns))) => {
            let towns: Vec<&str> = towns.iter().map(String::as_str).collect();
            let detail = format!("round={job} other_towns={}", towns.join(","));
            let viewer = signed.viewer();
            console.record(event::UPLOAD_REFUSED, viewer.account(), viewer.remote(), &detail);
            html(StatusCode::FORBIDDEN, || {
                let towns = towns.join(&t!("console-list-separator"));
                pages::message(&t!("console-not-imported"), &t!("console-upload-other-towns", towns = towns))
            })
        }
        Ok(Err(Refusal::Unaudited)) => Unaudited.into_response(),
        Err(_) => bad_upload(|| t!("console-internal-error")),
    }
}

/// Why an upload took nothing.
enum Refusal {
    /// Not a returned workbook of the round: told to the person.
    Bad(String),
    /// A town account's workbook holding these other towns' problems.
    OtherTowns(BTreeSet<String>),
    /// The audit trail could not be written.
    Unaudited,
}

/// What one upload took: the claims read, and how many of them claim a problem fixed.
pub struct Taken {
    pub claims: usize,
    pub fixed: usize,
    pub towns: BTreeSet<String>,
}

/// An upload that could not be kept for reading: logged, and told without the details.
fn unsaved(error: std::io::Error) -> Refusal {
    eprintln!("{} upload-unsaved error=\"{}\"", now_in_china(), ascii(&error.to_string()));
    Refusal::Bad(t!("console-upload-unsaved"))
}

fn take_claims(
    round: &Round,
    workbook: &[u8],
    only_town: Option<&str>,
    audit: impl FnOnce(&Taken) -> Result<(), Refusal>,
) -> Result<Taken, Refusal> {
    // calamine reads a file; the upload is kept beside the round (the bureau's data stays
    // in its folder) and removed when dropped.
    let mut file =
        tempfile::Builder::new().prefix(".upload-").suffix(".xlsx").tempfile_in(&round.dir).map_err(unsaved)?;
    file.write_all(workbook).map_err(unsaved)?;
    let claims = bidui_report::claims::read_workbook(file.path(), &round.set).map_err(|e| {
        Refusal::Bad(match e {
            // The temporary file's path means nothing to the person who uploaded it.
            ReportError::Parse { message, .. } => message,
            other => other.to_string(),
        })
    })?;
    let taken = Taken {
        claims: claims.len(),
        fixed: claims.iter().filter(|c| c.claims_fixed()).count(),
        towns: claims.iter().map(|c| c.town.clone()).collect(),
    };
    if claims.is_empty() {
        return Err(Refusal::Bad(t!("console-upload-empty")));
    }
    if let Some(own) = only_town {
        let others: BTreeSet<String> = taken.towns.iter().filter(|t| *t != own).cloned().collect();
        if !others.is_empty() {
            return Err(Refusal::OtherTowns(others));
        }
    }
    let mut kept = round.claims.lock().expect("claims lock");
    let mut next = kept.clone();
    next.add(claims);
    audit(&taken)?;
    next.save(&round.dir).map_err(|e| {
        eprintln!(
            "{} claims-unwritten round={} error=\"{}\"",
            now_in_china(),
            ascii(&round.name),
            ascii(&e.to_string())
        );
        Refusal::Bad(t!("console-claims-unwritten", file = CLAIMS_FILE))
    })?;
    *kept = next;
    Ok(taken)
}

/// `/jobs`: the watched jobs, live.
async fn jobs_page(State(console): Shared, _: Bureau) -> Response {
    let Some(operator) = console.operator.clone() else {
        return html(StatusCode::OK, pages::jobs_without_operator);
    };
    let shown = console.clone();
    let live = language::spawn_blocking(move || jobs::live(&shown, operator.as_ref())).await;
    match live {
        Ok(live) => html(StatusCode::OK, || pages::jobs(&console, &live)),
        Err(_) => internal_error(|| t!("console-jobs-unreadable")),
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

/// The 422 page of a job form that did nothing, saying why (`message`, made as it is rendered).
fn job_refused(message: impl FnOnce() -> String) -> Response {
    html(StatusCode::UNPROCESSABLE_ENTITY, || pages::message(&t!("console-job-refused"), &message()))
}

/// Starts a new round: the chosen spec under a new job id, signed and created by the
/// operator's side, then watched.
async fn start_round(
    State(console): Shared,
    bureau: Bureau,
    form: Result<axum::Form<StartForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else { return csrf_refused() };
    if !Signed::from(bureau).csrf_matches(&console, Some(&form.csrf)) {
        return csrf_refused();
    }
    let Some(operator) = console.operator.clone() else { return not_found() };
    let Some(choice) = operator.specs().into_iter().find(|c| c.file == form.spec) else {
        return job_refused(|| t!("console-job-no-spec"));
    };
    let job = form.job.trim().to_owned();
    let mut spec = choice.spec;
    spec.id = job.clone();
    if let Err(e) = spec.validate() {
        return job_refused(|| t!("console-job-spec-invalid", reason = e));
    }
    let creating = operator.clone();
    let created = language::spawn_blocking(move || creating.create(&spec, &job)).await;
    match created {
        Ok(Ok(())) => {}
        Ok(Err(message)) => return job_refused(|| message),
        Err(_) => return job_refused(|| t!("console-internal-error")),
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
        Err(e) => job_refused(|| e.to_string()),
    }
}

/// Watches a job created elsewhere (`bidui job create`), once the matcher shows it to the
/// operator.
async fn watch_job(
    State(console): Shared,
    bureau: Bureau,
    form: Result<axum::Form<WatchForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else { return csrf_refused() };
    if !Signed::from(bureau).csrf_matches(&console, Some(&form.csrf)) {
        return csrf_refused();
    }
    let Some(operator) = console.operator.clone() else { return not_found() };
    let job = form.job.trim().to_owned();
    if !bidui_core::api::valid_job_id(&job) {
        return job_refused(|| t!("console-job-id-invalid"));
    }
    let asking = job.clone();
    match language::spawn_blocking(move || operator.status(&asking)).await {
        Ok(Ok(_)) => {}
        Ok(Err(message)) => return job_refused(|| message),
        Err(_) => return job_refused(|| t!("console-internal-error")),
    }
    let watched =
        jobs::Watched { job, since: now_in_china().to_minute_string(), spec: None, round: None, build_error: None };
    match console.watch(watched) {
        Ok(_) => see_jobs(),
        Err(e) => job_refused(|| e.to_string()),
    }
}
