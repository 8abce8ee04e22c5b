//! The bidui matcher: a district service that joins each department's tokens with the
//! requester's and forwards to the requester the sealed values of the linked department
//! rows. It holds tokens, counts and sealed values it cannot open — never a field value in
//! clear, a raw identity number or an epoch secret.
//!
//! - [`http`]: the axum router (`app`) and handlers;
//! - [`auth`]: signed-request verification (Ed25519, timestamp window, nonces);
//! - [`jobs`]: the job life cycle and the join orchestration;
//! - [`matching`]: the in-memory join of token chunks, roaring bitmaps of rows;
//! - [`results`]: per-row results from the join, with the sealed values to forward;
//! - [`store`]: the SQLite file, the only place SQL is written;
//! - [`audit`]: the hash-chained audit log (encoding, hashing, verification);
//! - [`tls`]: HTTPS on rustls with the ring provider, the district's certificate.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bidui_core::custody::{validate_principal_name, PrincipalRole};

pub mod audit;
pub mod auth;
pub mod conn;
pub mod custody;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod indexes;
pub mod jobs;
pub mod matching;
pub mod results;
pub mod store;
pub mod tls;

pub use http::app;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: store::Store,
    /// Held while a job moves on (join, results, purge): two requests that both finish a
    /// job — the last seal and a repeat of it — take turns, and the second finds it done.
    pub finishing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Set when tokens were deleted but their bytes may still sit in the WAL; cleared once
    /// [`store::scrub_deleted`] has emptied it.
    pub scrub_pending: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Bodies being received, in KiB, before their signature can be checked
    /// (`auth::BODY_BUDGET_KIB`).
    pub bodies: std::sync::Arc<tokio::sync::Semaphore>,
    /// Nonces being checked, and those the database could not record (see
    /// [`auth::PendingNonces`]).
    pub pending_nonces: std::sync::Arc<auth::PendingNonces>,
    /// Woken whenever a job completes: status requests waiting for it (`?wait=`) look again.
    pub completions: std::sync::Arc<tokio::sync::Notify>,
    /// Registry indexes of collecting jobs, so department chunks are joined on arrival.
    pub indexes: std::sync::Arc<indexes::RegistryIndexes>,
}

impl AppState {
    /// Opens an existing database; refuses a path that holds none ([`store::Store::open`]).
    pub fn open(database: &Path) -> anyhow::Result<AppState> {
        let store = store::Store::open(database)
            .with_context(|| format!("opening the matcher database {}", database.display()))?;
        Ok(AppState::with_store(store))
    }

    /// Opens the database, creating it first when the path holds none.
    pub fn create(database: &Path) -> anyhow::Result<AppState> {
        let store = store::Store::create(database)
            .with_context(|| format!("creating the matcher database {}", database.display()))?;
        Ok(AppState::with_store(store))
    }

    fn with_store(store: store::Store) -> AppState {
        AppState {
            store,
            finishing: Default::default(),
            scrub_pending: Default::default(),
            bodies: std::sync::Arc::new(tokio::sync::Semaphore::new(auth::BODY_BUDGET_KIB)),
            pending_nonces: Default::default(),
            completions: Default::default(),
            indexes: Default::default(),
        }
    }

    /// `Ok` when the database file is still the one opened and takes writes; else the
    /// `503` that `/v1/health` answers (`database-missing`, `database-replaced`,
    /// `database-unwritable`), logged as an error. The matcher never opens another file in
    /// its place: a deleted database is restored from a backup by the administrator.
    pub async fn check_database(&self) -> Result<(), error::ApiFailure> {
        let path = self.store.path().display().to_string();
        let unavailable = |code, message: String| {
            tracing::error!(code, database = %path, "{message}");
            Err(error::ApiFailure::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, code, message))
        };
        match self.store.file_condition() {
            store::FileCondition::InPlace => {}
            store::FileCondition::Missing => {
                return unavailable(
                    "database-missing",
                    format!(
                        "数据库文件已被删除 (the database file {path} was deleted while the matcher serves): \
                         stop the matcher and restore the database from a backup"
                    ),
                )
            }
            store::FileCondition::Replaced => {
                return unavailable(
                    "database-replaced",
                    format!(
                        "数据库文件已被替换 (another file is at {path} than the one the matcher opened): \
                         stop the matcher, then start it on the database it should serve"
                    ),
                )
            }
        }
        if !self.store.writable().await {
            return unavailable(
                "database-unwritable",
                format!(
                    "数据库不可写 (the database {path} cannot be written: read-only, full, or an I/O error): \
                     reads are served, writes are refused until it can"
                ),
            );
        }
        Ok(())
    }

    pub fn now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// How the matcher speaks to its clients.
#[derive(Clone, Debug)]
pub enum Transport {
    /// HTTPS with this certificate and key (rustls on ring).
    Tls(tls::TlsFiles),
    /// Plain HTTP: only when asked for explicitly (`--insecure-http`), for tests and
    /// demos on loopback and for captures of what agents send.
    InsecureHttp,
}

pub struct ServeConfig {
    pub database: PathBuf,
    pub listen: SocketAddr,
    pub transport: Transport,
    /// Plain HTTP on anything but loopback must be asked for as well: without TLS the
    /// network path reads the match structure and can forge answers.
    pub allow_non_loopback: bool,
    /// Create the database when `database` holds none (`--init`); without it a missing
    /// database is refused, never replaced by an empty one.
    pub init: bool,
}

/// Serves until Ctrl-C / SIGTERM. Prints `listening on <addr>` once bound, so a parent
/// process can learn an OS-assigned port.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let insecure = matches!(config.transport, Transport::InsecureHttp);
    if insecure && !config.listen.ip().is_loopback() && !config.allow_non_loopback {
        anyhow::bail!(
            "refusing to serve plain HTTP on {} without --allow-non-loopback: \
             serve HTTPS (--tls-cert, --tls-key) beyond loopback",
            config.listen
        );
    }
    // Read the certificate before touching the database: a bad file fails fast.
    let tls = match &config.transport {
        Transport::Tls(files) => Some((tls::server_config(files)?, files.clone())),
        Transport::InsecureHttp => None,
    };
    let state = if config.init && !config.database.exists() {
        let state = AppState::create(&config.database)?;
        tracing::warn!(database = %config.database.display(), "created a new, empty matcher database (--init)");
        state
    } else {
        AppState::open(&config.database)?
    };
    let keeper = state.clone();
    tokio::spawn(async move {
        // The first tick is at once: a job whose last seal was committed before the matcher
        // stopped, and whose join never ran, is completed on start-up.
        let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            // A database gone, replaced or unwritable is logged by the check; nothing is
            // written until it is back.
            if keeper.check_database().await.is_err() {
                auth::forget_expired_pending_nonces(&keeper);
                continue;
            }
            if let Err(failure) = auth::forget_expired_nonces(&keeper).await {
                tracing::error!(%failure, "forgetting expired nonces failed; retrying in a minute");
            }
            match jobs::join_ready_jobs(&keeper).await {
                Ok(completed) if !completed.is_empty() => {
                    tracing::info!(?completed, "jobs whose parties had all sealed completed")
                }
                Ok(_) => {}
                Err(failure) => tracing::error!(?failure, "joining or purging failed; retrying in a minute"),
            }
        }
    });
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let bound = listener.local_addr()?;
    let limits = conn::Limits::from_process();
    tracing::info!(
        max_connections = limits.max_connections,
        max_pending = limits.max_pending,
        head_timeout_s = limits.head_timeout.as_secs(),
        idle_timeout_s = limits.idle_timeout.as_secs(),
        "connection limits (from the open-file limit)"
    );
    match tls {
        Some((server_config, files)) => {
            let certificate = tls::read_certificates(&files.certificate)?;
            tracing::info!(
                %bound,
                database = %config.database.display(),
                certificate = %files.certificate.display(),
                fingerprint = %tls::fingerprint(&certificate[0]),
                "matcher listening (HTTPS)"
            );
            println!("listening on {bound}");
            conn::serve(listener, Some(server_config), app(state), limits, shutdown_signal()).await;
        }
        None => {
            tracing::warn!(
                %bound,
                database = %config.database.display(),
                "matcher listening on PLAIN HTTP (--insecure-http): requests and answers are readable on the path"
            );
            println!("listening on {bound}");
            conn::serve(listener, None, app(state), limits, shutdown_signal()).await;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

/// What `enroll` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrolment {
    /// A new principal.
    Enrolled,
    /// The name was enrolled before (with another key or role, or revoked): replaced.
    Replaced,
    /// Already enrolled, active, with this role and key: nothing changed, nothing logged.
    Unchanged,
}

/// Creates the matcher's database when `database` holds none (`--init`); true if it did.
pub fn init_database(database: &Path) -> anyhow::Result<bool> {
    let existed = database.exists();
    drop(AppState::create(database)?);
    Ok(!existed)
}

/// Copies the database at `database` to a new file `to` while the matcher may serve
/// (SQLite's online backup; [`store::backup`]).
pub fn backup(database: &Path, to: &Path) -> anyhow::Result<()> {
    store::backup(database, to).with_context(|| format!("backing up the matcher database {}", database.display()))
}

/// Runs an offline writer's (`enroll`, `revoke`, `trust-custodian`) transaction, then
/// checkpoints the WAL: a matcher serving the same file keeps the WAL open, so without it
/// the change would sit only in `matcher.db-wal` and a copy of `matcher.db` would lose it.
fn write_offline<R, F>(database: &Path, write: F) -> anyhow::Result<R>
where
    R: Send + 'static,
    F: FnOnce(&rusqlite::Transaction<'_>, i64) -> Result<R, rusqlite::Error> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let state = AppState::open(database)?;
    let now = state.now() as i64;
    runtime.block_on(async {
        let outcome = state.store.transaction(move |tx| write(tx, now)).await?;
        if !state.store.checkpoint().await? {
            tracing::warn!(
                database = %database.display(),
                "a reader kept the WAL from being emptied: the change is committed, but back up with \
                 `bidui matcher backup`, not by copying matcher.db alone"
            );
        }
        Ok::<R, anyhow::Error>(outcome)
    })
}

/// Enrols (or re-enrols) a principal directly in the database: the matcher host's
/// administrator does this before the matcher serves requests from it. Audited in the
/// same transaction.
pub fn enroll(database: &Path, name: &str, role: PrincipalRole, public_key: &[u8]) -> anyhow::Result<Enrolment> {
    anyhow::ensure!(
        role.is_enrollable(),
        "role must be operator or agent, not {role}: the key custodian is trusted by key (trust-custodian)"
    );
    anyhow::ensure!(public_key.len() == 32, "an Ed25519 public key is 32 bytes, got {}", public_key.len());
    validate_principal_name(name)?;
    let (name, key) = (name.to_owned(), public_key.to_vec());
    write_offline(database, move |tx, now| {
        let before = store::principal(tx, &name)?;
        if before.as_ref().is_some_and(|p| p.role == role && p.public_key == key && !p.revoked) {
            return Ok(Enrolment::Unchanged);
        }
        store::upsert_principal(tx, &name, role, &key, now)?;
        let mut details = serde_json::json!({ "name": name, "role": role, "public_key": hex::encode(&key) });
        if let Some(before) = &before {
            details["replaced"] = serde_json::json!({
                "role": before.role,
                "public_key": hex::encode(&before.public_key),
                "was_revoked": before.revoked,
            });
        }
        let event = audit::AuditEvent::new(now, audit::ADMINISTRATOR, audit::action::ENROLL, None, details);
        store::append_audit(tx, &event)?;
        Ok(if before.is_some() { Enrolment::Replaced } else { Enrolment::Enrolled })
    })
}

/// Trusts the key custodian's public key (run once on the matcher host, audited): the
/// custodian's signed enrolments, revocations and sealed epochs are accepted from then on.
pub fn trust_custodian(database: &Path, public_key: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(public_key.len() == 32, "an Ed25519 public key is 32 bytes, got {}", public_key.len());
    let key = hex::encode(public_key);
    write_offline(database, move |tx, now| {
        store::set_custodian_key(tx, &key)?;
        let details = serde_json::json!({ "public_key": key });
        store::append_audit(
            tx,
            &audit::AuditEvent::new(now, audit::ADMINISTRATOR, audit::action::CUSTODIAN_TRUSTED, None, details),
        )?;
        Ok(())
    })
}

/// Revokes a principal at once: its next request is refused (`403 revoked`). Audited in
/// the same transaction. Refuses a name that is not enrolled or already revoked.
pub fn revoke(database: &Path, name: &str) -> anyhow::Result<()> {
    let name = name.to_owned();
    let revoked = write_offline(database, move |tx, now| {
        let Some(principal) = store::principal(tx, &name)? else {
            return Ok(Err(format!("no principal named {name:?} is enrolled")));
        };
        if !store::revoke_principal(tx, &name, now)? {
            return Ok(Err(format!("{name:?} is already revoked")));
        }
        let details = serde_json::json!({
            "name": name,
            "role": principal.role,
            "public_key": hex::encode(&principal.public_key),
        });
        let event = audit::AuditEvent::new(now, audit::ADMINISTRATOR, audit::action::REVOKE, None, details);
        store::append_audit(tx, &event)?;
        Ok(Ok(()))
    })?;
    revoked.map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_administrator_enrols_only_enrollable_roles_under_valid_names() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("matcher.db");
        let key = [7u8; 32];
        init_database(&db).unwrap();
        assert!(enroll(&db, "household", PrincipalRole::Custodian, &key).is_err());
        for name in [auth::CUSTODIAN, audit::ADMINISTRATOR, "", "House Hold", "户籍"] {
            assert!(enroll(&db, name, PrincipalRole::Agent, &key).is_err(), "{name:?} was enrolled");
        }
        assert_eq!(enroll(&db, "household", PrincipalRole::Agent, &key).unwrap(), Enrolment::Enrolled);
    }
}
