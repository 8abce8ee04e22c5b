//! The matcher's database under trouble, in process: a missing database is refused, a
//! database deleted or replaced while serving is reported by `/v1/health`, a database that
//! cannot be written still serves reads, and nonces expire in batches off the request path.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use bidui_core::api::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_SIGNER, HEADER_TIMESTAMP};
use bidui_core::custody::PrincipalRole;
use bidui_core::wire::request_signing_payload;
use bidui_matcher::{auth, store, AppState};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use tower::ServiceExt;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn fresh_nonce() -> String {
    let mut nonce = [0u8; 16];
    SystemRandom::new().fill(&mut nonce).unwrap();
    hex::encode(nonce)
}

/// A matcher in process on a new database, with one enrolled operator.
struct Matcher {
    dir: tempfile::TempDir,
    state: AppState,
    operator: Ed25519KeyPair,
}

impl Matcher {
    async fn new() -> Matcher {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::create(&dir.path().join("matcher.db")).unwrap();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let operator = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let key = operator.public_key().as_ref().to_vec();
        state
            .store
            .call(move |c| store::upsert_principal(c, "operator", PrincipalRole::Operator, &key, 1))
            .await
            .unwrap();
        Matcher { dir, state, operator }
    }

    fn database(&self) -> std::path::PathBuf {
        self.dir.path().join("matcher.db")
    }

    /// A request signed by the operator with `nonce`.
    fn request(&self, method: &str, path: &str, body: &[u8], nonce: &str) -> Request<Body> {
        let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, body).as_ref().try_into().unwrap();
        let timestamp = now();
        let payload = request_signing_payload(method, path, &digest, timestamp, nonce, "operator");
        Request::builder()
            .method(method)
            .uri(path)
            .header(HEADER_SIGNER, "operator")
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, hex::encode(self.operator.sign(&payload)))
            .body(Body::from(body.to_vec()))
            .unwrap()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = bidui_matcher::app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn health(&self) -> (StatusCode, String) {
        self.send(Request::get("/v1/health").body(Body::empty()).unwrap()).await
    }

    /// A request that only reads: the status of a job that does not exist (`404` once the
    /// request is verified).
    async fn read(&self, nonce: &str) -> (StatusCode, String) {
        self.send(self.request("GET", "/v2/jobs/no-such-job", b"", nonce)).await
    }

    /// A request that must write: a job created (refused before it is stored, here, unless
    /// the nonce could not be recorded).
    async fn write(&self) -> (StatusCode, String) {
        self.send(self.request("POST", "/v2/jobs", b"{}", &fresh_nonce())).await
    }

    async fn nonces(&self) -> i64 {
        self.state.store.call(|c| c.query_row("SELECT COUNT(*) FROM nonces", [], |r| r.get(0))).await.unwrap()
    }
}

#[track_caller]
fn assert_code(answer: &(StatusCode, String), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    let body: serde_json::Value = serde_json::from_str(&answer.1).unwrap_or_else(|_| panic!("not JSON: {}", answer.1));
    assert_eq!(body["code"], code, "{}", answer.1);
}

fn remove_database_files(database: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

/// Regression: a matcher started on a path with no database created an empty one, and
/// every principal was then told `401 unknown-signer`.
#[test]
fn a_missing_database_is_refused_unless_created() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("matcher.db");
    let refused = AppState::open(&database).err().expect("a missing database is refused");
    let message = format!("{refused:#}");
    assert!(message.contains("--init") && message.contains("数据库不存在"), "{message}");
    assert!(!database.exists(), "nothing was created");
    assert!(bidui_matcher::enroll(&database, "operator", PrincipalRole::Operator, &[1; 32]).is_err());
    assert!(!database.exists(), "enrolling creates nothing either");
    assert!(bidui_matcher::init_database(&database).unwrap());
    assert!(!bidui_matcher::init_database(&database).unwrap(), "an existing database is kept");
    AppState::open(&database).unwrap();
}

/// Regression: deleting `matcher.db*` while the matcher served went unnoticed (health said
/// ok) and a restart made an empty database.
#[tokio::test]
async fn a_database_deleted_while_serving_is_reported_and_never_recreated() {
    let m = Matcher::new().await;
    assert_eq!(m.health().await, (StatusCode::OK, "ok".to_owned()));
    remove_database_files(&m.database());
    assert_code(&m.health().await, StatusCode::SERVICE_UNAVAILABLE, "database-missing");
    // The file still open answers reads; writes cannot land in a file nobody can open.
    assert_code(&m.read(&fresh_nonce()).await, StatusCode::NOT_FOUND, "not-found");
    assert_code(&m.write().await, StatusCode::SERVICE_UNAVAILABLE, "database-unwritable");
    assert!(!m.database().exists(), "the matcher recreated the database");
    assert!(AppState::open(&m.database()).is_err(), "a restart without --init is refused");
}

#[tokio::test]
async fn a_database_replaced_while_serving_is_reported() {
    let m = Matcher::new().await;
    let other = m.dir.path().join("other.db");
    drop(AppState::create(&other).unwrap());
    std::fs::rename(&other, m.database()).unwrap();
    assert_code(&m.health().await, StatusCode::SERVICE_UNAVAILABLE, "database-replaced");
}

/// Regression: with a read-only database every request, reads included, failed with `500`
/// (each one writes its nonce) while `/v1/health` said ok. SQLite's `query_only` makes
/// every write fail as a read-only file does (`SQLITE_READONLY`).
#[tokio::test]
async fn on_a_read_only_database_reads_are_served_writes_refused_and_health_says_so() {
    let m = Matcher::new().await;
    m.state.store.call(|c| c.pragma_update(None, "query_only", true)).await.unwrap();
    assert_code(&m.health().await, StatusCode::SERVICE_UNAVAILABLE, "database-unwritable");
    let nonce = fresh_nonce();
    assert_code(&m.read(&nonce).await, StatusCode::NOT_FOUND, "not-found");
    // The nonce is held in memory: a replay is still refused.
    assert_code(&m.read(&nonce).await, StatusCode::UNAUTHORIZED, "replayed");
    assert_code(&m.write().await, StatusCode::SERVICE_UNAVAILABLE, "database-unwritable");
    assert_eq!(m.nonces().await, 0);
    assert_eq!(m.state.pending_nonces.len(), 2, "the read's nonce and the refused write's");

    // Writable again: health says so (a real write commits), and a replay of the nonce
    // held in memory is still refused although the database never recorded it.
    m.state.store.call(|c| c.pragma_update(None, "query_only", false)).await.unwrap();
    assert_eq!(m.health().await, (StatusCode::OK, "ok".to_owned()));
    assert_code(&m.read(&nonce).await, StatusCode::UNAUTHORIZED, "replayed");
    assert_code(&m.read(&fresh_nonce()).await, StatusCode::NOT_FOUND, "not-found");
    assert_eq!(m.nonces().await, 1, "a writable database records nonces again");
}

/// Regression: each request deleted old nonces by an unindexed timestamp (a full scan of a
/// table that grew to 97k rows). Requests no longer delete; the periodic step does, in
/// batches, by the index; a recent nonce is kept and its replay refused.
#[tokio::test]
async fn expired_nonces_are_cleared_by_the_periodic_step_not_by_requests() {
    let m = Matcher::new().await;
    let old = now() as i64 - 3_600;
    m.state
        .store
        .transaction(move |tx| {
            for n in 0..4_500 {
                store::remember_nonce(tx, "operator", &format!("{n:032x}"), old)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let recent = fresh_nonce();
    assert_code(&m.read(&recent).await, StatusCode::NOT_FOUND, "not-found");
    assert_eq!(m.nonces().await, 4_501, "a request deleted expired nonces");

    let plan: String = m
        .state
        .store
        .call(|c| {
            c.query_row(
                "EXPLAIN QUERY PLAN SELECT signer, nonce FROM nonces WHERE seen_at < 5 ORDER BY seen_at LIMIT 10",
                [],
                |r| r.get(3),
            )
        })
        .await
        .unwrap();
    assert!(plan.contains("nonces_seen_at"), "expired nonces are not found by the index: {plan}");

    assert_eq!(auth::forget_expired_nonces(&m.state).await.unwrap(), 4_500);
    assert_eq!(m.nonces().await, 1, "the recent nonce is kept");
    assert!(m.state.pending_nonces.is_empty());
    assert_code(&m.read(&recent).await, StatusCode::UNAUTHORIZED, "replayed");
}
