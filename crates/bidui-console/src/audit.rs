//! The console's audit trail: `console-audit.log` in the rounds folder, append-only (0600,
//! each entry flushed to disk before the request is answered). One line per entry:
//!
//! ```text
//! {"seq":3,"at":"2026-12-01 10:00:00 +08:00","event":"signin-ok","account":"lc","remote":"10.0.0.5:51234","detail":"","prev":"<hex>"} <hex>
//! ```
//!
//! The trailing hex is SHA-256 of the JSON text before it, and `prev` is the entry before
//! it's hash (64 zeros for the first): an entry changed, removed or reordered breaks the
//! chain, which [`verify`] finds. The event codes are stable ASCII.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The audit file's name in the rounds folder.
pub const AUDIT_FILE: &str = "console-audit.log";

/// The events, as written.
pub mod event {
    pub const SIGNIN_OK: &str = "signin-ok";
    pub const SIGNIN_FAILED: &str = "signin-failed";
    /// An account refused sign-ins for a while after repeated failures.
    pub const SIGNIN_LOCKED: &str = "signin-locked";
    /// An address refused sign-ins for a while after too many failures, whatever the names.
    pub const SIGNIN_THROTTLED: &str = "signin-throttled";
    pub const SIGNOUT: &str = "signout";
    pub const EXPORT_WORKBOOK: &str = "export-town-workbook";
    pub const EXPORT_UPWARD_XLSX: &str = "export-upward-xlsx";
    pub const EXPORT_UPWARD_JSON: &str = "export-upward-json";
    pub const EXPORT_SUMMARY: &str = "export-summary";
    pub const UPLOAD_CLAIMS: &str = "upload-claims";
    pub const UPLOAD_REFUSED: &str = "upload-refused";
    /// A signed-in account asked for what its role does not show.
    pub const FORBIDDEN: &str = "forbidden";
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}", bidui_i18n::t!("console-audit-open-failed", path = .path.display(), source = .source))]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("console-audit-chain-broken", path = .path.display(), line = .line, why = .why))]
    Broken { path: PathBuf, line: usize, why: String },
    #[error("{}", bidui_i18n::t!("console-audit-write-failed", path = .path.display(), source = .source))]
    Write { path: PathBuf, source: std::io::Error },
}

/// One entry, as its JSON text holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// China Standard Time, `2026-12-01 10:00:00 +08:00`.
    pub at: String,
    pub event: String,
    /// The account (as typed, for a failed sign-in), or `local` on loopback without accounts.
    pub account: String,
    /// The peer's address, or `-` when unknown.
    pub remote: String,
    /// What was exported or uploaded: round, town, counts.
    pub detail: String,
    pub prev: String,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn sha256_hex(text: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

/// The open trail: the file and the chain's head.
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<Head>,
}

struct Head {
    file: File,
    seq: u64,
    hash: String,
}

impl AuditLog {
    /// Opens (or creates) the trail, checking the chain so far: a trail someone changed is
    /// not appended to.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let open_error = |e| AuditError::Open { path: path.to_owned(), source: e };
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(open_error)?;
        let entries = verify(path)?;
        let (seq, hash) = entries.last().map_or((0, GENESIS.to_owned()), |(e, h)| (e.seq, h.clone()));
        Ok(AuditLog { path: path.to_owned(), inner: Mutex::new(Head { file, seq, hash }) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and flushes it to disk.
    pub fn record(&self, event: &str, account: &str, remote: &str, detail: &str) -> Result<(), AuditError> {
        let mut head = self.inner.lock().expect("audit lock");
        let entry = Entry {
            seq: head.seq + 1,
            at: crate::now_in_china().to_string(),
            event: event.to_owned(),
            account: account.to_owned(),
            remote: remote.to_owned(),
            detail: detail.to_owned(),
            prev: head.hash.clone(),
        };
        let json = serde_json::to_string(&entry).expect("an entry serializes");
        let hash = sha256_hex(&json);
        let write_error = |e| AuditError::Write { path: self.path.clone(), source: e };
        head.file.write_all(format!("{json} {hash}\n").as_bytes()).map_err(write_error)?;
        head.file.sync_data().map_err(write_error)?;
        head.seq = entry.seq;
        head.hash = hash;
        Ok(())
    }
}

/// Reads the trail and checks every link; the entries and their hashes, oldest first.
pub fn verify(path: &Path) -> Result<Vec<(Entry, String)>, AuditError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(AuditError::Open { path: path.to_owned(), source: e }),
    };
    let mut entries: Vec<(Entry, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let broken = |why: &str| AuditError::Broken { path: path.to_owned(), line: i + 1, why: why.to_owned() };
        let (json, hash) = line.rsplit_once(' ').ok_or_else(|| broken("no hash"))?;
        if sha256_hex(json) != hash {
            return Err(broken("the entry does not match its hash"));
        }
        let entry: Entry = serde_json::from_str(json).map_err(|e| broken(&e.to_string()))?;
        let (seq, prev) = entries.last().map_or((0, GENESIS), |(e, h)| (e.seq, h.as_str()));
        if entry.seq != seq + 1 || entry.prev != prev {
            return Err(broken("the entry does not follow the one before it"));
        }
        entries.push((entry, hash.to_owned()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_chain_and_a_changed_entry_breaks_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        let log = AuditLog::open(&path).unwrap();
        log.record(event::SIGNIN_OK, "admin", "127.0.0.1:5000", "").unwrap();
        log.record(event::EXPORT_SUMMARY, "admin", "127.0.0.1:5000", "round=zc-1").unwrap();
        drop(log);
        // Reopened, it goes on from the head.
        AuditLog::open(&path).unwrap().record(event::SIGNOUT, "admin", "127.0.0.1:5000", "").unwrap();
        let entries = verify(&path).unwrap();
        assert_eq!(entries.iter().map(|(e, _)| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(entries[0].0.at.ends_with("+08:00"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }

        let text = std::fs::read_to_string(&path).unwrap();
        for tampered in [
            text.replace("round=zc-1", "round=zc-2"),
            text.lines().skip(1).map(|l| format!("{l}\n")).collect(),
            text.lines().filter(|l| !l.contains("export-summary")).map(|l| format!("{l}\n")).collect(),
        ] {
            std::fs::write(&path, tampered).unwrap();
            assert!(matches!(verify(&path), Err(AuditError::Broken { .. })));
            assert!(AuditLog::open(&path).is_err(), "a broken trail is not appended to");
        }
    }
}
