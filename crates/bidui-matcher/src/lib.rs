//! The bidui matcher: a district service that joins parties' tokens, runs the release
//! round and serves results. It holds tokens, counts and released fields — never a raw
//! identity number and never an epoch secret.
//!
//! - [`http`]: the axum router (`app`) and handlers;
//! - [`auth`]: signed-request verification (Ed25519, timestamp window, nonces);
//! - [`jobs`]: the job life cycle and the join orchestration;
//! - [`matching`]: the in-memory join of token chunks, roaring bitmaps of rows;
//! - [`results`]: per-row results from the join and the releases;
//! - [`store`]: the SQLite file, the only place SQL is written.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

pub mod auth;
pub mod error;
pub mod http;
pub mod jobs;
pub mod matching;
pub mod results;
pub mod store;

pub use http::app;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: store::Store,
}

impl AppState {
    pub fn open(database: &Path) -> anyhow::Result<AppState> {
        let store = store::Store::open(database).with_context(|| format!("opening the matcher database {}", database.display()))?;
        Ok(AppState { store })
    }

    pub fn now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

pub struct ServeConfig {
    pub database: PathBuf,
    pub listen: SocketAddr,
    /// Serving on anything but loopback must be asked for: agents' traffic belongs on
    /// the district network behind TLS (#4).
    pub allow_non_loopback: bool,
}

/// Serves until Ctrl-C / SIGTERM. Prints `listening on <addr>` once bound, so a parent
/// process can learn an OS-assigned port.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    if !config.listen.ip().is_loopback() && !config.allow_non_loopback {
        anyhow::bail!("refusing to listen on {} without --allow-non-loopback: the matcher listens on loopback unless told otherwise", config.listen);
    }
    let state = AppState::open(&config.database)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let bound = listener.local_addr()?;
    tracing::info!(%bound, database = %config.database.display(), "matcher listening");
    println!("listening on {bound}");
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown_signal()).await.context("serving HTTP")?;
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

/// Enrols (or re-enrols) a principal directly in the database: the matcher host's
/// administrator does this before the matcher serves requests from it.
pub fn enroll(database: &Path, name: &str, role: &str, public_key: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(role == "operator" || role == "agent", "role must be operator or agent, not {role:?}");
    anyhow::ensure!(public_key.len() == 32, "an Ed25519 public key is 32 bytes, got {}", public_key.len());
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let state = AppState::open(database)?;
    let now = state.now() as i64;
    let (name, role, key) = (name.to_owned(), role.to_owned(), public_key.to_vec());
    runtime.block_on(state.store.call(move |c| store::upsert_principal(c, &name, &role, &key, now)))?;
    Ok(())
}
