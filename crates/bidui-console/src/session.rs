//! Who is asking: the gate every request passes, sessions, sign-in and sign-out, and the
//! capability types handlers take.
//!
//! On loopback without accounts the one local user is bureau staff. With accounts, every
//! request but the sign-in page's needs a session: a random 256-bit id in an HttpOnly,
//! SameSite=Strict cookie (Secure over TLS), kept in a bounded table by its SHA-256 (a
//! lookup's timing says nothing about the ids), ending after [`Limits::idle`] without a
//! request or [`Limits::absolute`] after sign-in, whichever comes first.
//!
//! A handler learns who asks only through [`Signed`] or [`Bureau`]: both are made here
//! and nowhere else (their fields are private), from the [`Viewer`] that [`gate`] put on
//! the request after checking its session, so a handler cannot forget the check. A town
//! account's [`Signed`] answers [`Signed::town_allowed`] only for its own town.
//!
//! Forms carry a CSRF token: with accounts, an HMAC of the session id under the process's
//! key; the sign-in form's token is bound the same way to a short-lived pre-session cookie,
//! so another site cannot sign a browser in to an account of its choosing either.
//!
//! Sign-in attempts cost an argon2id verification (19 MiB, tens of milliseconds): at most
//! [`Limits::verifications`] run at once and the rest are answered 503 at once; an account
//! name (existing or not) that failed [`MAX_FAILURES`] times in a row is refused without a
//! verification for [`LOCKOUT`]; a name that is no account is verified against a dummy hash,
//! so it looks and takes the same as a wrong password.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequest as _, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bidui_i18n::t;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::accounts::{self, Accounts, Role, MAX_PASSWORD_BYTES};
use crate::audit::event;
use crate::{html, language, pages, Console};

/// The sign-in page.
const SIGNIN_PATH: &str = "/signin";
/// The session cookie.
const SESSION_COOKIE: &str = "bidui_session";
/// The pre-session cookie the sign-in form's token is bound to.
const SIGNIN_COOKIE: &str = "bidui_signin";
/// How long a sign-in form stays good.
const SIGNIN_FORM_SECONDS: u32 = 15 * 60;
/// Failures in a row after which a name is locked out for a while.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked-out name is refused.
pub const LOCKOUT: Duration = Duration::from_secs(5 * 60);
/// Names whose failures are remembered; past it the oldest unlocked are forgotten.
const MAX_FAILING_NAMES: usize = 4096;
/// What the local user is called in the audit trail.
pub const LOCAL_ACCOUNT: &str = "local";

/// Sessions' lifetimes, the session table's size and the sign-in verifications at once.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub idle: Duration,
    pub absolute: Duration,
    pub max_sessions: usize,
    pub verifications: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            max_sessions: 256,
            verifications: 2,
        }
    }
}

/// The peer's address, when the console is served over a socket (`ConnectInfo<Remote>`).
#[derive(Clone, Copy, Debug)]
pub struct Remote(pub SocketAddr);

/// The peer as the audit trail writes it.
pub fn remote_of(extensions: &axum::http::Extensions) -> String {
    extensions.get::<ConnectInfo<Remote>>().map_or("-".to_owned(), |c| c.0 .0.to_string())
}

/// Who is signed in on a request: made only by [`gate`].
#[derive(Clone, Debug)]
pub struct Viewer {
    account: String,
    role: Role,
    csrf: String,
    /// What `csrf` authenticates: the session's id, or the local user's form.
    csrf_message: Vec<u8>,
    remote: String,
    /// With accounts: the session can be signed out.
    signed_in: bool,
}

impl Viewer {
    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    /// The token this viewer's forms carry.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    pub fn remote(&self) -> &str {
        &self.remote
    }

    pub fn signed_in(&self) -> bool {
        self.signed_in
    }
}

tokio::task_local! {
    /// The viewer of the request being answered, for the pages' header and forms.
    static CURRENT: Viewer;
}

/// The viewer of the request being answered (none on the sign-in page).
pub fn current() -> Option<Viewer> {
    CURRENT.try_with(Viewer::clone).ok()
}

/// A form's hidden CSRF field for the current viewer.
pub fn csrf_field() -> String {
    let token = current().map(|v| v.csrf).unwrap_or_default();
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", bidui_report::html::escape(&token))
}

/// Any signed-in account (or the local user).
#[derive(Clone, Debug)]
pub struct Signed(Viewer);

impl Signed {
    pub fn viewer(&self) -> &Viewer {
        &self.0
    }

    /// Bureau staff, if this is.
    pub fn bureau(&self) -> Option<Bureau> {
        matches!(self.0.role, Role::Bureau).then(|| Bureau(self.0.clone()))
    }

    /// The town a town account is bound to; none for bureau staff.
    pub fn own_town(&self) -> Option<&str> {
        match &self.0.role {
            Role::Bureau => None,
            Role::Town { town } => Some(town),
        }
    }

    /// Whether this account may see `town`'s list, workbook and claims.
    pub fn town_allowed(&self, town: &str) -> bool {
        self.own_town().is_none_or(|own| own == town)
    }

    /// Whether `offered` is this viewer's form token (checked in constant time).
    pub fn csrf_matches(&self, console: &Console, offered: Option<&str>) -> bool {
        console.gate.csrf_matches(&self.0, offered)
    }
}

/// Bureau staff: every town with names, the summary, progress, the report upward, the audit trail.
#[derive(Clone, Debug)]
pub struct Bureau(Viewer);

impl Bureau {
    pub fn viewer(&self) -> &Viewer {
        &self.0
    }
}

impl From<Bureau> for Signed {
    fn from(bureau: Bureau) -> Signed {
        Signed(bureau.0)
    }
}

/// Only the gate puts a viewer there; a route outside it has none and is refused.
fn viewer_of(parts: &Parts) -> Option<Viewer> {
    parts.extensions.get::<Viewer>().cloned()
}

impl FromRequestParts<Arc<Console>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Console>) -> Result<Signed, Response> {
        viewer_of(parts).map(Signed).ok_or_else(|| signin_redirect(&parts.method))
    }
}

impl FromRequestParts<Arc<Console>> for Bureau {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Arc<Console>) -> Result<Bureau, Response> {
        let signed = Signed(viewer_of(parts).ok_or_else(|| signin_redirect(&parts.method))?);
        signed.bureau().ok_or_else(|| console.refuse(&signed, parts.uri.path()))
    }
}

/// A 403 page for a signed-in account asking for what its role does not show.
pub fn forbidden_page() -> Response {
    html(StatusCode::FORBIDDEN, || pages::message(&t!("console-forbidden-title"), &t!("console-forbidden")))
}

fn signin_redirect(method: &Method) -> Response {
    if method == Method::GET || method == Method::HEAD {
        Redirect::to(SIGNIN_PATH).into_response()
    } else {
        html(StatusCode::UNAUTHORIZED, || {
            pages::message(&t!("console-signin-first-title"), &t!("console-signin-first"))
        })
    }
}

/// A session in the table.
struct Session {
    account: String,
    /// The account's password hash at sign-in: a new password ends the session.
    password: String,
    created: Instant,
    seen: Instant,
}

/// Consecutive failures of one name.
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Sign-in with accounts.
struct Signin {
    /// Replaced whole when the file changes ([`Gate::reload`]).
    accounts: std::sync::RwLock<Accounts>,
    dummy_hash: String,
    limits: Limits,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<String, Failures>>,
    verifying: Arc<Semaphore>,
}

/// The console's door: the process's key for CSRF tokens, and the accounts if any.
pub struct Gate {
    key: hmac::Key,
    signin: Option<Signin>,
    secure_cookies: bool,
}

/// What the local user's token authenticates (its key is the process's).
const LOCAL_FORM: &[u8] = b"bidui-console form";

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).expect("the system's random number generator");
    bytes
}

fn digest(id: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, id).as_ref());
    out
}

impl Gate {
    /// Loopback without accounts: one local user. A fresh key per process: a page of
    /// another site cannot know the token, and no earlier process's form is taken.
    pub fn local() -> Gate {
        Gate { key: hmac::Key::new(hmac::HMAC_SHA256, &random::<32>()), signin: None, secure_cookies: false }
    }

    /// Every page behind a sign-in with `accounts`.
    pub fn with_accounts(accounts: Accounts, limits: Limits) -> Gate {
        let signin = Signin {
            accounts: std::sync::RwLock::new(accounts),
            dummy_hash: accounts::dummy_hash(),
            limits,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            verifying: Arc::new(Semaphore::new(limits.verifications)),
        };
        Gate { signin: Some(signin), ..Gate::local() }
    }

    /// Cookies only over HTTPS from now on.
    pub fn secure_cookies(&mut self) {
        self.secure_cookies = true;
    }

    pub fn has_accounts(&self) -> bool {
        self.signin.is_some()
    }

    /// The accounts as the file now holds them: a session whose account is gone, or whose
    /// password changed, ends at its next request; a changed role applies at once.
    pub fn reload(&self, accounts: Accounts) {
        if let Some(signin) = &self.signin {
            *signin.accounts.write().expect("accounts lock") = accounts;
        }
    }

    fn token(&self, message: &[u8]) -> String {
        hex::encode(hmac::sign(&self.key, message))
    }

    fn token_matches(&self, message: &[u8], offered: Option<&str>) -> bool {
        let tag = offered.and_then(|t| hex::decode(t).ok());
        tag.is_some_and(|tag| hmac::verify(&self.key, message, &tag).is_ok())
    }

    fn csrf_matches(&self, viewer: &Viewer, offered: Option<&str>) -> bool {
        self.token_matches(&viewer.csrf_message, offered)
    }

    pub(crate) fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if let Some(seconds) = max_age {
            cookie.push_str(&format!("; Max-Age={seconds}"));
        }
        if self.secure_cookies {
            cookie.push_str("; Secure");
        }
        HeaderValue::from_str(&cookie).expect("a cookie of ASCII")
    }

    /// The viewer of a session id, if it is live; touches it.
    fn session(&self, signin: &Signin, id: &str, remote: String) -> Option<Viewer> {
        let raw = hex::decode(id).ok().filter(|raw| raw.len() == 32)?;
        let now = Instant::now();
        let mut sessions = signin.sessions.lock().expect("sessions lock");
        let key = digest(&raw);
        let session = sessions.get_mut(&key)?;
        let role = signin
            .accounts
            .read()
            .expect("accounts lock")
            .accounts
            .get(&session.account)
            .filter(|account| account.password == session.password)
            .map(|account| account.role.clone());
        let expired = now.duration_since(session.seen) >= signin.limits.idle
            || now.duration_since(session.created) >= signin.limits.absolute;
        let Some(role) = role.filter(|_| !expired) else {
            sessions.remove(&key);
            return None;
        };
        session.seen = now;
        let account = session.account.clone();
        drop(sessions);
        let csrf_message = [b"csrf:".as_slice(), &raw].concat();
        Some(Viewer { account, role, csrf: self.token(&csrf_message), csrf_message, remote, signed_in: true })
    }

    fn open_session(&self, signin: &Signin, account: &str, password: String) -> String {
        let id = random::<32>();
        let now = Instant::now();
        let mut sessions = signin.sessions.lock().expect("sessions lock");
        let limits = signin.limits;
        sessions
            .retain(|_, s| now.duration_since(s.seen) < limits.idle && now.duration_since(s.created) < limits.absolute);
        while sessions.len() >= limits.max_sessions.max(1) {
            // The table is full of live sessions: the one unused longest goes.
            let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k) else { break };
            sessions.remove(&oldest);
        }
        sessions.insert(digest(&id), Session { account: account.to_owned(), password, created: now, seen: now });
        hex::encode(id)
    }

    fn close_session(&self, signin: &Signin, id: &str) {
        if let Ok(raw) = hex::decode(id) {
            signin.sessions.lock().expect("sessions lock").remove(&digest(&raw));
        }
    }

    /// How many sessions the table holds (for tests and the log).
    pub fn sessions(&self) -> usize {
        self.signin.as_ref().map_or(0, |s| s.sessions.lock().expect("sessions lock").len())
    }

    /// When a name is locked out, until when.
    fn locked(&self, signin: &Signin, name: &str) -> Option<Duration> {
        let failures = signin.failures.lock().expect("failures lock");
        let until = failures.get(name)?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a failure; true when it locked the name out.
    fn failed(&self, signin: &Signin, name: &str) -> bool {
        let now = Instant::now();
        let mut failures = signin.failures.lock().expect("failures lock");
        if failures.len() >= MAX_FAILING_NAMES && !failures.contains_key(name) {
            failures.retain(|_, f| f.locked_until.is_some_and(|until| until > now));
            while failures.len() >= MAX_FAILING_NAMES {
                let Some(oldest) = failures.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| k.clone()) else { break };
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(name.to_owned()).or_insert(Failures { count: 0, last: now, locked_until: None });
        entry.count += 1;
        entry.last = now;
        if entry.count >= MAX_FAILURES {
            entry.locked_until = Some(now + LOCKOUT);
            entry.count = 0;
            return true;
        }
        false
    }
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The middleware every request passes: answers it in the language it asks for, and puts
/// the [`Viewer`] on it or sends it to sign in.
pub async fn gate(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    let lang = language::chosen(request.headers(), console.language());
    language::answer(lang, request, |request| admit(&console, request, next)).await
}

/// The viewer of `request` on it, or the sign-in; the sign-in page and the language switch
/// are open to everyone.
async fn admit(console: &Console, mut request: Request, next: Next) -> Response {
    let remote = remote_of(request.extensions());
    let gate = &console.gate;
    let viewer = match &gate.signin {
        None => Some(Viewer {
            account: LOCAL_ACCOUNT.to_owned(),
            role: Role::Bureau,
            csrf: gate.token(LOCAL_FORM),
            csrf_message: LOCAL_FORM.to_vec(),
            remote,
            signed_in: false,
        }),
        Some(signin) => cookie_value(request.headers(), SESSION_COOKIE).and_then(|id| gate.session(signin, id, remote)),
    };
    if [SIGNIN_PATH, language::SWITCH_PATH].contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(viewer) = viewer else { return signin_redirect(request.method()) };
    request.extensions_mut().insert(viewer.clone());
    CURRENT.scope(viewer, next.run(request)).await
}

/// `GET /signin`: the form, bound to a fresh pre-session cookie.
pub async fn signin_page(State(console): State<Arc<Console>>) -> Response {
    if !console.gate.has_accounts() {
        return Redirect::to("/").into_response();
    }
    signin_form(&console.gate, StatusCode::OK, None)
}

/// The sign-in form, with `error` (a message made when the page is rendered) above it.
fn signin_form(gate: &Gate, status: StatusCode, error: Option<&dyn Fn() -> String>) -> Response {
    let nonce = hex::encode(random::<32>());
    let token = gate.token(&[b"signin:".as_slice(), nonce.as_bytes()].concat());
    let mut response = html(status, || pages::signin(&token, error.map(|error| error()).as_deref()));
    response
        .headers_mut()
        .append(header::SET_COOKIE, gate.cookie(SIGNIN_COOKIE, &nonce, Some(u64::from(SIGNIN_FORM_SECONDS))));
    response
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// What the audit trail records of a name as typed: at most 64 characters, printable.
fn typed_name(name: &str) -> String {
    name.chars().take(64).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// `POST /signin`.
pub async fn signin(State(console): State<Arc<Console>>, headers: HeaderMap, request: Request) -> Response {
    let gate = &console.gate;
    let Some(signin) = &gate.signin else { return Redirect::to("/").into_response() };
    let remote = remote_of(request.extensions());
    let Ok(Form(form)) = Form::<SigninForm>::from_request(request, &()).await else {
        return signin_form(gate, StatusCode::BAD_REQUEST, Some(&|| t!("console-signin-incomplete")));
    };
    // The form must come from our own sign-in page in this browser: no login CSRF.
    let nonce = cookie_value(&headers, SIGNIN_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !gate.token_matches(&[b"signin:".as_slice(), nonce.as_bytes()].concat(), Some(&form.csrf)) {
        return html(StatusCode::FORBIDDEN, || {
            pages::message(&t!("console-signin-expired-title"), &t!("console-signin-expired"))
        });
    }
    // No account's name is longer than 64 characters: a longer one is remembered (and
    // audited) by its first 64, so a failing name costs the table little.
    let name = typed_name(form.name.trim());
    if let Some(left) = gate.locked(signin, &name) {
        let minutes = left.as_secs().div_ceil(60).max(1);
        return signin_form(
            gate,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&|| t!("console-signin-locked", minutes = minutes)),
        );
    }
    // At most a few argon2 verifications at once: the rest are told to come back.
    let Ok(permit) = signin.verifying.clone().try_acquire_owned() else {
        return signin_form(gate, StatusCode::SERVICE_UNAVAILABLE, Some(&|| t!("console-signin-busy")));
    };
    let known = signin.accounts.read().expect("accounts lock").accounts.get(&name).map(|a| a.password.clone());
    let hash = known.clone().unwrap_or_else(|| signin.dummy_hash.clone());
    let password = form.password;
    let verified = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        password.len() <= MAX_PASSWORD_BYTES && accounts::verify(&hash, &password)
    })
    .await
    .unwrap_or(false);
    let Some(hash) = known.filter(|_| verified) else {
        let locked = gate.failed(signin, &name);
        console.record(event::SIGNIN_FAILED, &name, &remote, "");
        if locked {
            console.record(event::SIGNIN_LOCKED, &name, &remote, &format!("minutes={}", LOCKOUT.as_secs() / 60));
        }
        return signin_form(gate, StatusCode::UNAUTHORIZED, Some(&|| t!("console-signin-wrong")));
    };
    signin.failures.lock().expect("failures lock").remove(&name);
    let id = gate.open_session(signin, &name, hash);
    console.record(event::SIGNIN_OK, &name, &remote, "");
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, gate.cookie(SESSION_COOKIE, &id, None));
    headers.append(header::SET_COOKIE, gate.cookie(SIGNIN_COOKIE, "", Some(0)));
    response
}

#[derive(Deserialize)]
pub struct SignoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /signout`: with the session's token.
pub async fn signout(
    State(console): State<Arc<Console>>,
    signed: Signed,
    headers: HeaderMap,
    form: Result<Form<SignoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let offered = form.ok().map(|Form(f)| f.csrf);
    if !signed.csrf_matches(&console, offered.as_deref()) {
        return crate::csrf_refused();
    }
    let gate = &console.gate;
    let Some(signin) = &gate.signin else { return Redirect::to("/").into_response() };
    if let Some(id) = cookie_value(&headers, SESSION_COOKIE) {
        gate.close_session(signin, id);
    }
    console.record(event::SIGNOUT, signed.viewer().account(), signed.viewer().remote(), "");
    let mut response = Redirect::to(SIGNIN_PATH).into_response();
    response.headers_mut().append(header::SET_COOKIE, gate.cookie(SESSION_COOKIE, "", Some(0)));
    response
}

/// Reloads the accounts file whenever what it holds changes (read `every`; the file is
/// small): an account removed or given a new password with `bidui console account` is
/// signed out without a restart. A file that cannot be read keeps the accounts as they were.
pub async fn watch_accounts(console: Arc<Console>, path: std::path::PathBuf, every: Duration) {
    let fingerprint = |path: &std::path::Path| std::fs::read(path).ok().map(|bytes| digest(&bytes));
    let mut seen = fingerprint(&path);
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let now = fingerprint(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match Accounts::load(&path) {
            Ok(accounts) => {
                let count = accounts.accounts.len();
                console.gate.reload(accounts);
                eprintln!("{} accounts-reloaded accounts={count}", crate::now_in_china());
            }
            Err(e) => eprintln!("{} accounts-reload-failed: {e}", crate::now_in_china()),
        }
    }
}
