//! The matcher's state in one SQLite file. The only module that writes SQL.
//!
//! One dedicated thread owns the connection; async code sends it closures and awaits the
//! answer, so no lock is ever held across an `.await` and writes are serialized.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use bidui_core::api::SignedJob;
use bidui_core::custody::PrincipalRole;

use crate::audit;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Append only: a released database may have run any prefix of them.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE principals (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('operator', 'agent')),
    public_key  BLOB NOT NULL,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE TABLE nonces (
    signer  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (signer, nonce)
) WITHOUT ROWID;
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE submissions (
    job         TEXT NOT NULL REFERENCES jobs (id),
    party       TEXT NOT NULL,
    sealed_at   INTEGER,
    epoch       TEXT,
    chunks      INTEGER NOT NULL DEFAULT 0,
    records     INTEGER NOT NULL DEFAULT 0,
    rows_read   INTEGER NOT NULL DEFAULT 0,
    invalid_ids TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (job, party)
);
CREATE TABLE chunks (
    job      TEXT NOT NULL,
    party    TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    sha256   BLOB NOT NULL,
    records  INTEGER NOT NULL,
    last_row INTEGER NOT NULL,
    body     BLOB NOT NULL,
    PRIMARY KEY (job, party, seq)
);
CREATE TABLE matches (
    job          TEXT NOT NULL,
    party        TEXT NOT NULL,
    matched_rows BLOB NOT NULL,
    PRIMARY KEY (job, party)
);
CREATE TABLE releases (
    job         TEXT NOT NULL,
    party       TEXT NOT NULL,
    body        TEXT NOT NULL,
    released_at INTEGER NOT NULL,
    PRIMARY KEY (job, party)
);
CREATE TABLE release_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    job       TEXT NOT NULL,
    party     TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    approval  TEXT NOT NULL,
    fields    TEXT NOT NULL,
    refused   TEXT NOT NULL,
    records   INTEGER NOT NULL
);
CREATE TABLE results (
    job  TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    job       TEXT,
    record    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL UNIQUE
);
CREATE INDEX audit_job ON audit (job, seq);
"#,
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE principal_statements (
    name TEXT PRIMARY KEY,
    at   INTEGER NOT NULL
);
CREATE TABLE sealed_epochs (
    kcv          TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    suite        TEXT NOT NULL,
    body         TEXT NOT NULL,
    stored_at    INTEGER NOT NULL,
    picked_up_at INTEGER,
    PRIMARY KEY (kcv, recipient)
);
CREATE TABLE epoch_retirements (
    kcv       TEXT PRIMARY KEY,
    retire_at INTEGER NOT NULL
);
ALTER TABLE jobs ADD COLUMN purge_after INTEGER;
ALTER TABLE jobs ADD COLUMN purged_at INTEGER;
"#,
    // Protocol v2: a job is the operator's signed spec, kept verbatim (`spec` holds the
    // signed text; a job without a signature was created under protocol v1 and is refused);
    // seals name the fields sealed and refused; the custodian's statements are kept so an
    // assignment can carry the operator's enrolment. No release round: its tables go, and
    // with them the matched-row bitmaps that told a department which of its rows matched.
    r#"
ALTER TABLE jobs ADD COLUMN signer TEXT;
ALTER TABLE jobs ADD COLUMN signature TEXT;
ALTER TABLE submissions ADD COLUMN sealed_fields TEXT NOT NULL DEFAULT '[]';
ALTER TABLE submissions ADD COLUMN refused TEXT NOT NULL DEFAULT '[]';
ALTER TABLE principal_statements ADD COLUMN body TEXT;
DROP TABLE releases;
DROP TABLE release_log;
DROP TABLE matches;
"#,
    // The sealed values forwarded in results outlive the tokens until the requester has
    // fetched them (or a grace has passed): the first delivery and the stripping are kept
    // apart from `purged_at`, which now marks the tokens alone. Results of jobs purged
    // before were stripped with their tokens.
    r#"
ALTER TABLE jobs ADD COLUMN results_delivered_at INTEGER;
ALTER TABLE jobs ADD COLUMN sealed_values_purged_at INTEGER;
UPDATE jobs SET sealed_values_purged_at = purged_at WHERE purged_at IS NOT NULL;
"#,
    // Expired nonces are found by time and deleted in batches off the request path
    // (`forget_nonces`); without the index each deletion scanned the whole table.
    r#"
CREATE INDEX nonces_seen_at ON nonces (seen_at);
"#,
    // What an agent says of its submission before its seal, so the operator can follow a
    // run (wire-v2 §6.13): its last notice (`reading`, `uploading`, `declined`), its estimate
    // of the chunks to come and why it declines. A chunk stored turns a notice into
    // `uploading`; a seal clears it.
    r#"
ALTER TABLE submissions ADD COLUMN notice TEXT;
ALTER TABLE submissions ADD COLUMN chunks_expected INTEGER;
ALTER TABLE submissions ADD COLUMN declined_reason TEXT;
"#,
    // A department's chunk that arrives once the requester's registry is sealed and indexed
    // is joined on arrival: what is kept is what the join found in it (`joined = 1`, the body
    // a `matching::encode_chunk_match`), not its tokens. The rest are joined at the end.
    r#"
ALTER TABLE chunks ADD COLUMN joined INTEGER NOT NULL DEFAULT 0;
"#,
    // Results in parts: `results.body` holds everything but the rows, `result_parts` the
    // rows in registry-row ranges (each body the rows' JSON objects joined by commas), so
    // results are built, stored and served a range at a time and no one value nears
    // SQLite's 1 GB limit. A whole document stored before moves its rows into part 0; its
    // sealed values are the `sealed` arrays' elements (objects under an integer key).
    r#"
CREATE TABLE result_parts (
    job           TEXT NOT NULL,
    part          INTEGER NOT NULL,
    rows          INTEGER NOT NULL,
    sealed_values INTEGER NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (job, part)
);
INSERT INTO result_parts (job, part, rows, sealed_values, body)
    SELECT job, 0, json_array_length(body, '$.rows'),
        (SELECT count(*) FROM json_tree(results.body, '$.rows') AS e
            WHERE e.type = 'object' AND typeof(e.key) = 'integer' AND e.path LIKE '%.sealed'),
        substr(json_extract(body, '$.rows'), 2, length(json_extract(body, '$.rows')) - 2)
    FROM results WHERE json_array_length(body, '$.rows') > 0;
UPDATE results SET body = json_remove(body, '$.rows');
"#,
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database thread has stopped")]
    Gone,
    #[error("the database {path} was written by a newer bidui (schema {found}, this build knows {known})")]
    TooNew { path: String, found: i64, known: i64 },
    #[error("no matcher database at {path}")]
    Missing { path: String },
    #[error(
        "匹配服务数据库不存在 (no matcher database at {path}): 首次启动请加 --init 新建空数据库 \
         (pass --init to create a new, empty one); 若数据库已丢失，请从备份恢复 (if it was lost, restore \
         it from a backup)"
    )]
    NotCreated { path: String },
    #[error("the database file {path} is no longer the one opened ({condition:?}): nothing is written to it")]
    FileMoved { path: String, condition: FileCondition },
    #[error("cannot read the database file {path}: {source}")]
    Inspect { path: String, source: std::io::Error },
    #[error(
        "备份文件已存在 (the backup file {path} exists already): 不会覆盖，请换一个文件名 (it is never \
         overwritten; name a new file)"
    )]
    BackupExists { path: String },
    #[error("cannot create the backup file {path}: {source}")]
    BackupFile { path: String, source: std::io::Error },
    #[error(
        "the database {path} has no audit log yet (schema {found}): \
         start this version of the matcher on it once to migrate it"
    )]
    NoAuditLog { path: String, found: i64 },
    #[error("cannot make the database file {path} readable by its owner only: {source}")]
    Permissions { path: String, source: std::io::Error },
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The page size of a new database, in bytes.
const PAGE_SIZE: i64 = 16_384;

/// Pages the WAL takes before a commit copies them into the database file.
const WAL_CHECKPOINT_PAGES: i64 = 8_192;

/// Bytes of WAL file kept after a checkpoint; the rest is truncated away.
const WAL_KEPT_BYTES: i64 = 256 << 20;

/// A handle to the database thread. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    sender: mpsc::Sender<Job>,
    path: PathBuf,
    /// The device and inode of the file opened: a file deleted or replaced under the
    /// running matcher has another (or none), and the matcher's writes would go to a file
    /// nobody can open again.
    opened: FileIdentity,
    /// Set when a write failed because the database cannot be written (read-only, full, an
    /// I/O error, the file moved); cleared by the next write that commits.
    unwritable: Arc<AtomicBool>,
}

/// The device and inode of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity { device: meta.dev(), inode: meta.ino() })
    }
}

/// Whether the database file the store opened is still the one at its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileCondition {
    /// The path names the file opened.
    InPlace,
    /// Nothing is at the path: the file was deleted (or moved) while open.
    Missing,
    /// Another file is at the path.
    Replaced,
}

impl Store {
    /// Opens and migrates an existing database file and starts its owner thread; refuses a
    /// path where there is none ([`StoreError::NotCreated`]): a database that vanished must
    /// never come back empty unnoticed. [`Store::create`] makes a new one.
    /// The file and its `-wal` and `-shm` companions are the owner's alone (0600), and
    /// deleted content is overwritten with zeros (`secure_delete`; see [`scrub_deleted`]).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::NotCreated { path: path.display().to_string() });
        }
        Store::start(path)
    }

    /// Like [`Store::open`], creating the database first when the path holds none
    /// (`bidui matcher serve --init`, the demo, tests).
    pub fn create(path: &Path) -> Result<Store, StoreError> {
        create_owner_only(path)?;
        Store::start(path)
    }

    fn start(path: &Path) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        let opened = FileIdentity::of(path)
            .map_err(|source| StoreError::Inspect { path: path.display().to_string(), source })?;
        // Chunks are megabytes: large pages keep a chunk's overflow chain and the WAL's
        // per-page frames short. Only a new, empty file takes it (before WAL mode).
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A checkpoint is where WAL mode syncs the disk, twice: at SQLite's default of one
        // every 1,000 pages, a job's 50 MB of results spent two thirds of their write
        // waiting on those syncs. One per `WAL_CHECKPOINT_PAGES` (128 MiB at 16 KiB pages)
        // syncs as often as the database grows by that much; the WAL file is cut back to
        // `WAL_KEPT_BYTES` after one.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        restrict_to_owner(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn, path)?;
        let (sender, receiver) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("bidui-store".into())
            .spawn(move || {
                while let Ok(job) = receiver.recv() {
                    job(&mut conn);
                }
            })
            .expect("spawn the database thread");
        Ok(Store { sender, path: path.to_owned(), opened, unwritable: Default::default() })
    }

    /// The database's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Streams `party`'s chunks of `job`, in order, through `visit` on the calling thread,
    /// from a read-only connection of its own: the join reads every department at once
    /// instead of queueing gigabytes on the database thread. The join runs after the last
    /// seal committed, so what it reads is complete.
    pub fn read_chunk_bodies<E: From<StoreError>>(
        &self,
        job: &str,
        party: &str,
        mut visit: impl FnMut(StoredChunk<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.file_condition() != FileCondition::InPlace {
            return Err(StoreError::Missing { path: self.path.display().to_string() }.into());
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(StoreError::from)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(StoreError::from)?;
        let mut bodies = conn
            .prepare("SELECT body, joined, records FROM chunks WHERE job = ?1 AND party = ?2 ORDER BY seq")
            .map_err(StoreError::from)?;
        let mut rows = bodies.query(params![job, party]).map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let body = row.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(StoreError::from)?;
            let (joined, records): (bool, u32) =
                (row.get(1).map_err(StoreError::from)?, row.get(2).map_err(StoreError::from)?);
            visit(if joined { StoredChunk::Joined { found: body, records } } else { StoredChunk::Tokens(body) })?;
        }
        Ok(())
    }

    /// Whether the file at the database's path is still the one opened (a `stat`, no SQL).
    pub fn file_condition(&self) -> FileCondition {
        match FileIdentity::of(&self.path) {
            Ok(found) if found == self.opened => FileCondition::InPlace,
            Ok(_) => FileCondition::Replaced,
            Err(_) => FileCondition::Missing,
        }
    }

    /// Whether the database takes writes: a write lock and a write statement, rolled back
    /// (nothing reaches the file). After a write failed for want of a writable database, a
    /// real write is committed instead (a full disk shows only when pages are written), and
    /// its success clears the failure.
    pub async fn writable(&self) -> bool {
        if self.unwritable.load(Ordering::Relaxed) {
            return self.transaction(|tx| set_setting(tx, WRITE_PROBE, "ok")).await.is_ok();
        }
        self.call(|conn| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let wrote = conn.execute_batch("DELETE FROM nonces WHERE seen_at < 0");
            // A failed statement may have ended the transaction already.
            let rolled_back = if conn.is_autocommit() { Ok(()) } else { conn.execute_batch("ROLLBACK") };
            wrote.and(rolled_back)
        })
        .await
        .is_ok()
    }

    /// Refuses to write when the file at the path is not the one opened: SQLite would go on
    /// writing to a deleted file (its WAL deleted too), and everything written would be lost
    /// with the process.
    fn refuse_a_moved_file(&self) -> Result<(), StoreError> {
        match self.file_condition() {
            FileCondition::InPlace => Ok(()),
            condition => Err(StoreError::FileMoved { path: self.path.display().to_string(), condition }),
        }
    }

    /// Notes the outcome of a write: a failure because the database cannot be written is
    /// remembered (health reports it) until a write commits again.
    fn note_write<R>(&self, outcome: &Result<R, StoreError>) {
        match outcome {
            Ok(_) => self.unwritable.store(false, Ordering::Relaxed),
            Err(error) if error.is_unwritable() => self.unwritable.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
    }

    /// Runs `f` on the database thread.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.sender.send(job).map_err(|_| StoreError::Gone)?;
        Ok(rx.await.map_err(|_| StoreError::Gone)??)
    }

    /// Runs `f` inside one transaction on the database thread; commits if it returns Ok.
    /// The transaction takes the write lock at once (`BEGIN IMMEDIATE`), so a command
    /// writing to the same file from another process (`bidui matcher enroll`) waits
    /// rather than failing half-way, and the audit chain's head cannot move under it.
    pub async fn transaction<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.refuse_a_moved_file()?;
        let outcome = self
            .call(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })
            .await;
        self.note_write(&outcome);
        outcome
    }

    /// Records a request's nonce ([`remember_nonce`]), noting whether the write went through.
    pub async fn remember_nonce(&self, signer: String, nonce: String, now: i64) -> Result<bool, StoreError> {
        self.refuse_a_moved_file()?;
        let outcome = self.call(move |c| remember_nonce(c, &signer, &nonce, now)).await;
        self.note_write(&outcome);
        outcome
    }

    /// Checkpoints the WAL into the database file and empties it ([`checkpoint_wal`]).
    pub async fn checkpoint(&self) -> Result<bool, StoreError> {
        self.call(|c| checkpoint_wal(c)).await
    }
}

impl StoreError {
    /// Whether the error says the database cannot be written at the moment (a read-only
    /// file or file system, a full disk, an I/O error, the file moved or deleted while open),
    /// rather than that the request or the data is wrong.
    pub fn is_unwritable(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::FileMoved { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, ReadOnly | DiskFull | SystemIoFailure | CannotOpen)
            }
            _ => false,
        }
    }
}

/// The database and its companion files: SQLite creates `-wal` and `-shm` with the
/// database file's permissions.
fn database_files(path: &Path) -> [std::path::PathBuf; 3] {
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    [path.to_owned(), with_suffix("-wal"), with_suffix("-shm")]
}

/// Creates a missing database file as 0600 before SQLite opens it (SQLite would create it
/// with the umask's 0644, and the WAL after it).
fn create_owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Permissions { path: path.display().to_string(), source }),
    }
}

/// Narrows an existing database (and its WAL and shared-memory files) to 0600: files an
/// earlier version left readable by others hold tokens and results.
fn restrict_to_owner(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    for file in database_files(path) {
        let Ok(meta) = std::fs::metadata(&file) else { continue };
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %file.display(), "the database file was readable by others: narrowed to 0600");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|source| StoreError::Permissions { path: file.display().to_string(), source })?;
        }
    }
    Ok(())
}

/// After tokens were deleted, leaves their bytes in none of the database's files:
/// `secure_delete` has already zeroed them in the pages, `VACUUM` rebuilds the file without
/// free pages, and a `TRUNCATE` checkpoint copies the WAL back and empties it (its frames
/// still held the deleted pages). Returns false when a reader kept the WAL from being
/// emptied; the caller tries again later.
pub fn scrub_deleted(conn: &Connection) -> rusqlite::Result<bool> {
    conn.execute_batch("VACUUM")?;
    checkpoint_wal(conn)
}

/// Copies the WAL's pages into the database file and empties it, so the file alone holds
/// every committed change (a copy of `matcher.db` without its `-wal` loses nothing).
/// Returns false when a reader kept the WAL from being emptied.
pub fn checkpoint_wal(conn: &Connection) -> rusqlite::Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    Ok(busy == 0)
}

/// Copies the database at `from` into a new file `to` (0600; an existing file is refused)
/// with SQLite's online backup: one read transaction copies every page, so the copy is a
/// consistent snapshot even while the matcher serves and writes (WAL readers never block
/// the writer, nor it them). The copy is checkpointed: the file alone is the backup.
pub fn backup(from: &Path, to: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let source = open_read_only(from)?;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(to).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            StoreError::BackupExists { path: to.display().to_string() }
        } else {
            StoreError::BackupFile { path: to.display().to_string(), source }
        }
    })?;
    let copied = (|| {
        let mut target = Connection::open(to)?;
        {
            let copy = rusqlite::backup::Backup::new(&source, &mut target)?;
            // -1: every page in one step, under one read transaction (no restart when the
            // matcher commits meanwhile).
            loop {
                match copy.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    _ => std::thread::sleep(std::time::Duration::from_millis(50)),
                }
            }
        }
        checkpoint_wal(&target)?;
        Ok::<_, rusqlite::Error>(())
    })();
    if let Err(error) = copied {
        // A half-written backup must not be mistaken for one.
        for file in database_files(to) {
            let _ = std::fs::remove_file(file);
        }
        return Err(error.into());
    }
    Ok(())
}

/// The schema version that introduced the audit log.
const AUDIT_SCHEMA: i64 = 2;

/// Opens the database for reading only, without migrating it: `bidui audit` may read it
/// while the matcher runs (WAL readers never block the writer).
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Missing { path: path.display().to_string() });
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew { path: path.display().to_string(), found: version, known });
    }
    if version < AUDIT_SCHEMA {
        return Err(StoreError::NoAuditLog { path: path.display().to_string(), found: version });
    }
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew { path: path.display().to_string(), found: version, known });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

// ---- Typed queries. Each takes a connection or transaction on the store thread. ----

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: PrincipalRole,
    pub public_key: Vec<u8>,
    pub revoked: bool,
}

pub fn upsert_principal(
    conn: &Connection,
    name: &str,
    role: PrincipalRole,
    public_key: &[u8],
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO principals (name, role, public_key, enrolled_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET role = ?2, public_key = ?3, enrolled_at = ?4, revoked_at = NULL",
        params![name, role.as_str(), public_key, now],
    )?;
    Ok(())
}

pub fn revoke_principal(conn: &Connection, name: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .execute("UPDATE principals SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL", params![name, now])?
        > 0)
}

pub fn principal(conn: &Connection, name: &str) -> rusqlite::Result<Option<Principal>> {
    conn.prepare_cached("SELECT name, role, public_key, revoked_at IS NOT NULL FROM principals WHERE name = ?1")?
        .query_row([name], |r| {
            Ok(Principal {
                name: r.get(0)?,
                role: enrolled_role(r.get(1)?)?,
                public_key: r.get(2)?,
                revoked: r.get(3)?,
            })
        })
        .optional()
}

/// A stored role, parsed with no fallback: a row with any other role (the custodian is
/// never enrolled) is a broken database, and its principal may do nothing.
fn enrolled_role(text: String) -> rusqlite::Result<PrincipalRole> {
    let broken = |error: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, error)
    };
    let role: PrincipalRole = text.parse().map_err(|e| broken(Box::new(e)))?;
    if !role.is_enrollable() {
        return Err(broken(format!("{role} is never an enrolled principal's role").into()));
    }
    Ok(role)
}

/// Records a nonce; false if the signer used it before (a replay). Expired nonces are
/// deleted apart, in batches ([`forget_nonces`]).
pub fn remember_nonce(conn: &Connection, signer: &str, nonce: &str, now: i64) -> rusqlite::Result<bool> {
    let inserted = conn
        .prepare_cached("INSERT OR IGNORE INTO nonces (signer, nonce, seen_at) VALUES (?1, ?2, ?3)")?
        .execute(params![signer, nonce, now])?;
    Ok(inserted == 1)
}

/// Deletes at most `batch` nonces seen before `forget_before` (by the `seen_at` index);
/// returns how many. A caller repeats while a whole batch went, letting requests in between.
pub fn forget_nonces(conn: &Connection, forget_before: i64, batch: u32) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM nonces WHERE (signer, nonce) IN \
         (SELECT signer, nonce FROM nonces WHERE seen_at < ?1 ORDER BY seen_at LIMIT ?2)",
    )?
    .execute(params![forget_before, batch])
}

#[derive(Clone, Debug)]
pub struct JobRow {
    /// The operator's signed job as it was created; `None` for a job created under
    /// protocol v1 (a bare spec, never signed).
    pub signed: Option<SignedJob>,
    pub state: String,
    /// When the requester first fetched the results (Unix seconds).
    pub results_delivered_at: Option<i64>,
}

pub fn job(conn: &Connection, id: &str) -> rusqlite::Result<Option<JobRow>> {
    conn.prepare_cached("SELECT spec, signer, signature, state, results_delivered_at FROM jobs WHERE id = ?1")?
        .query_row([id], |r| {
            let (spec, signer, signature): (String, Option<String>, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let signed = signer.zip(signature).map(|(signer, signature)| SignedJob { spec, signer, signature });
            Ok(JobRow { signed, state: r.get(3)?, results_delivered_at: r.get(4)? })
        })
        .optional()
}

/// Creates a job from the operator's signed spec, stored verbatim, with an empty
/// submission per party.
pub fn insert_job(
    tx: &Transaction<'_>,
    id: &str,
    signed: &SignedJob,
    state: &str,
    parties: &[String],
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO jobs (id, spec, signer, signature, state, created_at, created_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3)",
        params![id, signed.spec, signed.signer, signed.signature, state, now],
    )?;
    for party in parties {
        tx.execute("INSERT INTO submissions (job, party) VALUES (?1, ?2)", params![id, party])?;
    }
    Ok(())
}

pub fn set_job_state(conn: &Connection, id: &str, state: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE jobs SET state = ?2 WHERE id = ?1", params![id, state])?;
    Ok(())
}

#[derive(Clone, Debug, Default)]
pub struct SubmissionRow {
    pub sealed: bool,
    pub epoch: Option<String>,
    pub chunks: u32,
    pub records: u64,
    pub rows_read: u64,
    /// JSON: invalid identity numbers by error code.
    pub invalid_ids: String,
    /// JSON: the fields sealed in every record, in order.
    pub sealed_fields: String,
    /// JSON: the fields the party's policy refused, with reasons.
    pub refused: String,
    /// The agent's last notice before its seal: `reading`, `uploading` or `declined`.
    pub notice: Option<String>,
    pub chunks_expected: Option<u32>,
    pub declined_reason: Option<String>,
}

pub fn submission(conn: &Connection, job: &str, party: &str) -> rusqlite::Result<Option<SubmissionRow>> {
    conn.prepare_cached(
        "SELECT sealed_at IS NOT NULL, epoch, chunks, records, rows_read, invalid_ids, sealed_fields, refused, \
         notice, chunks_expected, declined_reason FROM submissions WHERE job = ?1 AND party = ?2",
    )?
    .query_row(params![job, party], |r| {
        Ok(SubmissionRow {
            sealed: r.get(0)?,
            epoch: r.get(1)?,
            chunks: r.get(2)?,
            records: r.get::<_, i64>(3)? as u64,
            rows_read: r.get::<_, i64>(4)? as u64,
            invalid_ids: r.get(5)?,
            sealed_fields: r.get(6)?,
            refused: r.get(7)?,
            notice: r.get(8)?,
            chunks_expected: r.get(9)?,
            declined_reason: r.get(10)?,
        })
    })
    .optional()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    pub seq: u32,
    pub sha256: Vec<u8>,
    pub records: u32,
    pub last_row: u32,
}

pub fn chunk_metas(conn: &Connection, job: &str, party: &str) -> rusqlite::Result<Vec<ChunkMeta>> {
    conn.prepare_cached("SELECT seq, sha256, records, last_row FROM chunks WHERE job = ?1 AND party = ?2 ORDER BY seq")?
        .query_map(params![job, party], |r| {
            Ok(ChunkMeta { seq: r.get(0)?, sha256: r.get(1)?, records: r.get(2)?, last_row: r.get(3)? })
        })?
        .collect()
}

pub fn chunk_meta(conn: &Connection, job: &str, party: &str, seq: u32) -> rusqlite::Result<Option<ChunkMeta>> {
    conn.prepare_cached("SELECT seq, sha256, records, last_row FROM chunks WHERE job = ?1 AND party = ?2 AND seq = ?3")?
        .query_row(params![job, party, seq], |r| {
            Ok(ChunkMeta { seq: r.get(0)?, sha256: r.get(1)?, records: r.get(2)?, last_row: r.get(3)? })
        })
        .optional()
}

/// A chunk as stored: its tokens as uploaded, or what the join found in it.
#[derive(Clone, Copy, Debug)]
pub enum StoredChunk<'a> {
    Tokens(&'a [u8]),
    /// A `matching::encode_chunk_match` of a chunk of `records` records.
    Joined {
        found: &'a [u8],
        records: u32,
    },
}

pub fn insert_chunk(
    tx: &Transaction<'_>,
    job: &str,
    party: &str,
    meta: &ChunkMeta,
    stored: StoredChunk<'_>,
) -> rusqlite::Result<()> {
    let (body, joined) = match stored {
        StoredChunk::Tokens(tokens) => (tokens, false),
        StoredChunk::Joined { found, .. } => (found, true),
    };
    tx.prepare_cached(
        "INSERT INTO chunks (job, party, seq, sha256, records, last_row, body, joined) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![job, party, meta.seq, meta.sha256, meta.records, meta.last_row, body, joined])?;
    tx.prepare_cached(
        // A chunk says the party uploads, whatever it said before (a decline included).
        "UPDATE submissions SET chunks = chunks + 1, records = records + ?3, notice = 'uploading', \
         declined_reason = NULL WHERE job = ?1 AND party = ?2",
    )?
    .execute(params![job, party, meta.records])?;
    Ok(())
}

pub fn chunk_body(conn: &Connection, job: &str, party: &str, seq: u32) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT body FROM chunks WHERE job = ?1 AND party = ?2 AND seq = ?3")?
        .query_row(params![job, party, seq], |r| r.get(0))
        .optional()
}

/// What a seal records besides its time: the epoch, the rows read and the JSON of the
/// invalid-id counts, the sealed fields and the refused fields.
pub struct SealRecord<'a> {
    pub epoch: &'a str,
    pub rows_read: u64,
    pub invalid_ids: &'a str,
    pub sealed_fields: &'a str,
    pub refused: &'a str,
}

pub fn seal_submission(
    conn: &Connection,
    job: &str,
    party: &str,
    seal: &SealRecord<'_>,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE submissions SET sealed_at = ?3, epoch = ?4, rows_read = ?5, invalid_ids = ?6, sealed_fields = ?7, \
         refused = ?8, notice = NULL, declined_reason = NULL WHERE job = ?1 AND party = ?2",
        params![job, party, now, seal.epoch, seal.rows_read as i64, seal.invalid_ids, seal.sealed_fields, seal.refused],
    )?;
    Ok(())
}

/// Records an agent's notice about its unsealed submission (`notice` is `reading`,
/// `uploading` or `declined`; `chunks_expected` only with `uploading`, `declined_reason`
/// only with `declined`). Returns `false`, changing nothing, once the submission is sealed.
pub fn set_notice(
    conn: &Connection,
    job: &str,
    party: &str,
    notice: &str,
    chunks_expected: Option<u32>,
    declined_reason: Option<&str>,
) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE submissions SET notice = ?3, chunks_expected = ?4, declined_reason = ?5 \
             WHERE job = ?1 AND party = ?2 AND sealed_at IS NULL",
        )?
        .execute(params![job, party, notice, chunks_expected, declined_reason])?;
    Ok(changed == 1)
}

pub fn all_sealed(conn: &Connection, job: &str) -> rusqlite::Result<bool> {
    let open: i64 =
        conn.query_row("SELECT COUNT(*) FROM submissions WHERE job = ?1 AND sealed_at IS NULL", [job], |r| r.get(0))?;
    Ok(open == 0)
}

/// Appends one event to the audit chain; call it inside the transaction that makes the
/// change it records, so neither exists without the other. Returns its sequence number.
pub fn append_audit(tx: &Transaction<'_>, event: &audit::AuditEvent) -> rusqlite::Result<i64> {
    let last: Option<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match last {
        None => (1, audit::GENESIS),
        Some((seq, hash)) => {
            let prev: [u8; 32] = hash
                .as_slice()
                .try_into()
                .map_err(|_| rusqlite::Error::InvalidColumnType(1, "hash".into(), rusqlite::types::Type::Blob))?;
            (seq + 1, prev)
        }
    };
    // An event that cannot be encoded fails its whole transaction: no change unrecorded.
    let record = event.canonical_json().map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    let hash = audit::record_hash(seq as u64, &prev, record.as_bytes());
    tx.prepare_cached(
        "INSERT INTO audit (seq, at, actor, action, job, record, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        seq,
        event.at,
        event.actor,
        event.action,
        event.job,
        record,
        prev.as_slice(),
        hash.as_slice()
    ])?;
    Ok(seq)
}

/// The audit records in sequence order, all of them or those of one job.
pub fn audit_rows(conn: &Connection, job: Option<&str>) -> rusqlite::Result<Vec<audit::AuditRow>> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(audit::AuditRow {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            job: r.get(4)?,
            record: r.get(5)?,
            prev_hash: r.get(6)?,
            hash: r.get(7)?,
        })
    };
    const COLUMNS: &str = "SELECT seq, at, actor, action, job, record, prev_hash, hash FROM audit";
    match job {
        None => conn.prepare(&format!("{COLUMNS} ORDER BY seq"))?.query_map([], row)?.collect(),
        Some(job) => conn.prepare(&format!("{COLUMNS} WHERE job = ?1 ORDER BY seq"))?.query_map([job], row)?.collect(),
    }
}

const CUSTODIAN_KEY: &str = "custodian_public_key";

/// The setting [`Store::writable`] writes to learn whether a write commits again.
const WRITE_PROBE: &str = "write_probe";

fn set_setting(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)", params![key, value])?;
    Ok(())
}

pub fn set_custodian_key(conn: &Connection, public_key_hex: &str) -> rusqlite::Result<()> {
    set_setting(conn, CUSTODIAN_KEY, public_key_hex)
}

pub fn custodian_key(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [CUSTODIAN_KEY], |r| r.get(0)).optional()
}

/// The time of the newest custodian statement applied to `name`: older ones are replays.
pub fn statement_at(conn: &Connection, name: &str) -> rusqlite::Result<Option<u64>> {
    conn.query_row("SELECT at FROM principal_statements WHERE name = ?1", [name], |r| r.get::<_, i64>(0))
        .optional()
        .map(|v| v.map(|at| at as u64))
}

/// The newest custodian statement applied to `name`, as the custodian signed it (JSON);
/// `None` if there is none, or it was applied before the matcher kept statements.
pub fn latest_statement(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT body FROM principal_statements WHERE name = ?1", [name], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

/// Records the newest statement applied to `name`: its time and its signed JSON.
pub fn set_statement(conn: &Connection, name: &str, at: u64, body: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO principal_statements (name, at, body) VALUES (?1, ?2, ?3)",
        params![name, at as i64, body],
    )?;
    Ok(())
}

/// Stores a sealed epoch; false if the same one was stored before.
pub fn insert_sealed_epoch(
    conn: &Connection,
    kcv: &str,
    recipient: &str,
    suite: &str,
    body: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO sealed_epochs (kcv, recipient, suite, body, stored_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![kcv, recipient, suite, body, now],
    )? == 1)
}

pub fn drop_undelivered_epochs(conn: &Connection, recipient: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM sealed_epochs WHERE recipient = ?1 AND picked_up_at IS NULL", [recipient])
}

/// Retires an epoch from `retire_at` on. A retirement is never postponed: a later
/// rotation naming the epoch again keeps the earlier date (a leaked epoch stays retired).
pub fn retire_epoch(conn: &Connection, kcv: &str, retire_at: u64) -> rusqlite::Result<bool> {
    let retire_at = i64::try_from(retire_at).unwrap_or(i64::MAX);
    let current: Option<i64> =
        conn.query_row("SELECT retire_at FROM epoch_retirements WHERE kcv = ?1", [kcv], |r| r.get(0)).optional()?;
    if current.is_some_and(|at| at <= retire_at) {
        return Ok(false);
    }
    conn.execute("INSERT OR REPLACE INTO epoch_retirements (kcv, retire_at) VALUES (?1, ?2)", params![kcv, retire_at])?;
    Ok(true)
}

/// Sealed epochs addressed to `recipient` that are not retired by `now`.
pub fn sealed_epochs_for(conn: &Connection, recipient: &str, now: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare(
        "SELECT s.body FROM sealed_epochs s LEFT JOIN epoch_retirements r ON r.kcv = s.kcv
         WHERE s.recipient = ?1 AND (r.retire_at IS NULL OR r.retire_at > ?2) ORDER BY s.stored_at, s.kcv",
    )?
    .query_map(params![recipient, now], |r| r.get(0))?
    .collect()
}

pub fn retired_epochs(conn: &Connection, now: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT kcv FROM epoch_retirements WHERE retire_at <= ?1 ORDER BY kcv")?
        .query_map([now], |r| r.get(0))?
        .collect()
}

/// Marks a sealed epoch taken up by its recipient; false if there is none.
pub fn ack_epoch(conn: &Connection, kcv: &str, recipient: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE sealed_epochs SET picked_up_at = COALESCE(picked_up_at, ?3) WHERE kcv = ?1 AND recipient = ?2",
        params![kcv, recipient, now],
    )? == 1)
}

pub struct EpochPickupRow {
    pub kcv: String,
    pub suite: String,
    pub recipient: String,
    pub picked_up_at: Option<i64>,
    pub retire_at: Option<i64>,
}

pub fn epoch_pickups(conn: &Connection) -> rusqlite::Result<Vec<EpochPickupRow>> {
    conn.prepare(
        "SELECT s.kcv, s.suite, s.recipient, s.picked_up_at, r.retire_at FROM sealed_epochs s
         LEFT JOIN epoch_retirements r ON r.kcv = s.kcv ORDER BY s.stored_at, s.kcv, s.recipient",
    )?
    .query_map([], |r| {
        Ok(EpochPickupRow {
            kcv: r.get(0)?,
            suite: r.get(1)?,
            recipient: r.get(2)?,
            picked_up_at: r.get(3)?,
            retire_at: r.get(4)?,
        })
    })?
    .collect()
}

pub fn set_purge_after(conn: &Connection, job: &str, purge_after: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE jobs SET purge_after = ?2 WHERE id = ?1", params![job, purge_after])?;
    Ok(())
}

/// The signed jobs in state `collecting` that name `party` and that it has not sealed, with
/// their creation times, oldest first. Whether another party sealed plays no part.
pub fn assignments(conn: &Connection, party: &str, collecting: &str) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.prepare_cached(
        "SELECT j.id, j.created_at FROM jobs j JOIN submissions s ON s.job = j.id \
         WHERE j.state = ?2 AND j.signature IS NOT NULL AND s.party = ?1 AND s.sealed_at IS NULL \
         ORDER BY j.created_at, j.id",
    )?
    .query_map(params![party, collecting], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// Jobs of protocol v2 in state `collecting` whose every party has sealed: the join is due
/// (it failed, or the matcher stopped before it ran).
pub fn jobs_ready_to_join(conn: &Connection, collecting: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare(
        "SELECT id FROM jobs WHERE state = ?1 AND signature IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.job = jobs.id AND s.sealed_at IS NULL) ORDER BY id",
    )?
    .query_map([collecting], |r| r.get(0))?
    .collect()
}

/// Jobs whose tokens are due for purging at `now`.
pub fn jobs_to_purge(conn: &Connection, now: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare(
        "SELECT id FROM jobs WHERE purge_after IS NOT NULL AND purge_after <= ?1 AND purged_at IS NULL ORDER BY id",
    )?
    .query_map([now], |r| r.get(0))?
    .collect()
}

/// Jobs whose results' sealed values are due for stripping at `now`: their retention has
/// ended and the requester has fetched the results, or `undelivered_grace` seconds more have
/// passed without it.
pub fn jobs_to_strip(conn: &Connection, now: i64, undelivered_grace: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare(
        "SELECT id FROM jobs WHERE purge_after IS NOT NULL AND sealed_values_purged_at IS NULL \
         AND ((purge_after <= ?1 AND results_delivered_at IS NOT NULL) OR purge_after + ?2 <= ?1) ORDER BY id",
    )?
    .query_map(params![now, undelivered_grace], |r| r.get(0))?
    .collect()
}

/// Deletes a job's chunks (its tokens and the sealed values as uploaded); its results and
/// audit remain. Returns the number of chunks deleted.
pub fn purge_job_tokens(tx: &Transaction<'_>, job: &str, now: i64) -> rusqlite::Result<u64> {
    let chunks = tx.execute("DELETE FROM chunks WHERE job = ?1", [job])? as u64;
    tx.execute("UPDATE jobs SET purged_at = ?2 WHERE id = ?1", params![job, now])?;
    Ok(chunks)
}

/// Records that the job's sealed values were stripped from its results.
pub fn mark_sealed_values_purged(tx: &Transaction<'_>, job: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute("UPDATE jobs SET sealed_values_purged_at = ?2 WHERE id = ?1", params![job, now])?;
    Ok(())
}

/// Records the first delivery of the job's results to its requester; later ones keep it.
pub fn record_delivery(tx: &Transaction<'_>, job: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE jobs SET results_delivered_at = COALESCE(results_delivered_at, ?2) WHERE id = ?1",
        params![job, now],
    )?;
    Ok(())
}

/// Stores the results' head (everything but the rows), the last of a job's results
/// written: the parts before it are not read until it is there.
pub fn save_results_head(conn: &Connection, job: &str, head: &str) -> rusqlite::Result<()> {
    conn.execute("INSERT OR REPLACE INTO results (job, body) VALUES (?1, ?2)", params![job, head])?;
    Ok(())
}

/// One range of a job's result rows as stored: how many rows, how many sealed values they
/// forward, and their JSON objects joined by commas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultPart {
    pub rows: u64,
    pub sealed_values: u64,
    pub body: String,
}

/// Deletes what an earlier, unfinished build left of a job's result parts.
pub fn delete_result_parts(conn: &Connection, job: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM result_parts WHERE job = ?1", [job])?;
    Ok(())
}

pub fn save_result_part(conn: &Connection, job: &str, number: u32, part: &ResultPart) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO result_parts (job, part, rows, sealed_values, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![job, number, part.rows as i64, part.sealed_values as i64, part.body])?;
    Ok(())
}

/// A job's stored results: its head and, over its parts, their number, rows and sealed
/// values; `None` until the results are complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResults {
    pub head: String,
    pub parts: u32,
    pub rows: u64,
    pub sealed_values: u64,
}

pub fn stored_results(conn: &Connection, job: &str) -> rusqlite::Result<Option<StoredResults>> {
    let Some(head) = conn.query_row("SELECT body FROM results WHERE job = ?1", [job], |r| r.get(0)).optional()? else {
        return Ok(None);
    };
    let (parts, rows, sealed_values): (i64, i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(sealed_values), 0) FROM result_parts WHERE job = ?1",
        [job],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Some(StoredResults { head, parts: parts as u32, rows: rows as u64, sealed_values: sealed_values as u64 }))
}

/// Part `number` of a job's results (parts are numbered from 0).
pub fn result_part(conn: &Connection, job: &str, number: u32) -> rusqlite::Result<Option<ResultPart>> {
    conn.prepare_cached("SELECT rows, sealed_values, body FROM result_parts WHERE job = ?1 AND part = ?2")?
        .query_row(params![job, number], |r| {
            Ok(ResultPart {
                rows: r.get::<_, i64>(0)? as u64,
                sealed_values: r.get::<_, i64>(1)? as u64,
                body: r.get(2)?,
            })
        })
        .optional()
}

/// Bytes a job keeps in the database: each party's chunks (tokens, or what the join found
/// in them), and its results. For `bidui bench`.
pub fn job_footprint(conn: &Connection, job: &str) -> rusqlite::Result<(Vec<(String, u64)>, u64)> {
    let mut parties = conn.prepare("SELECT party, SUM(length(body)) FROM chunks WHERE job = ?1 GROUP BY party")?;
    let chunks =
        parties.query_map([job], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?.collect::<Result<_, _>>()?;
    let results: i64 = conn.query_row(
        // The bodies are text, whose length() is in characters: their bytes are what the
        // disk holds.
        "SELECT coalesce((SELECT length(CAST(body AS BLOB)) FROM results WHERE job = ?1), 0)
              + coalesce((SELECT sum(length(CAST(body AS BLOB))) FROM result_parts WHERE job = ?1), 0)",
        [job],
        |r| r.get(0),
    )?;
    Ok((chunks, results as u64))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[tokio::test]
    async fn migrates_once_and_refuses_a_newer_schema() {
        let dir = std::env::temp_dir().join(format!("bidui-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.db");
        let _ = std::fs::remove_file(&path);
        let store = Store::create(&path).unwrap();
        store.call(|c| upsert_principal(c, "a", PrincipalRole::Agent, b"k", 1)).await.unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let found = store.call(|c| principal(c, "a")).await.unwrap();
        assert_eq!(found.unwrap().public_key, b"k");
        store.call(|c| c.pragma_update(None, "user_version", 99)).await.unwrap();
        drop(store);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew { found: 99, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A database of protocol v1 (schema 3) with a job, its matched rows and a release:
    /// migrated, the release round's tables are gone (with the values released in clear),
    /// and the job is known to be v1's (no signature).
    #[tokio::test]
    async fn migrating_a_v1_database_drops_the_release_round_and_marks_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..3] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (id, spec, state, created_at, created_by) VALUES ('old', '{}', 'releasing', 1, 'op');
                 INSERT INTO submissions (job, party) VALUES ('old', 'household');
                 INSERT INTO matches (job, party, matched_rows) VALUES ('old', 'household', x'00');
                 INSERT INTO releases (job, party, body, released_at) VALUES ('old', 'household', '13800138000', 2);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let tables: Vec<String> = store
            .call(|c| {
                c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .await
            .unwrap();
        for gone in ["matches", "releases", "release_log"] {
            assert!(!tables.iter().any(|t| t == gone), "{gone} is still there");
        }
        let job = store.call(|c| job(c, "old")).await.unwrap().unwrap();
        assert!(job.signed.is_none(), "a v1 job has no signature");
        let seal = store.call(|c| submission(c, "old", "household")).await.unwrap().unwrap();
        assert_eq!((seal.sealed_fields.as_str(), seal.refused.as_str()), ("[]", "[]"));
    }

    /// Results of a job purged before migration 5 lost their sealed values with its tokens:
    /// they are marked stripped, and a job not yet purged keeps its sealed values.
    #[tokio::test]
    async fn migration_5_marks_the_results_of_purged_jobs_stripped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..4] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (id, spec, state, created_at, created_by, purge_after, purged_at) \
                 VALUES ('purged', '{}', 'complete', 1, 'op', 10, 12), ('kept', '{}', 'complete', 1, 'op', 5000, NULL);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let stripped: Vec<(String, Option<i64>)> = store
            .call(|c| {
                c.prepare("SELECT id, sealed_values_purged_at FROM jobs ORDER BY id")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .await
            .unwrap();
        assert_eq!(stripped, vec![("kept".to_owned(), None), ("purged".to_owned(), Some(12))]);
        assert!(store.call(|c| jobs_to_strip(c, 100, 0)).await.unwrap().is_empty());
        assert_eq!(store.call(|c| jobs_to_strip(c, 5_000, 0)).await.unwrap(), vec!["kept".to_owned()]);
    }

    /// A database of schema 5 (before the nonces' index) takes the index, and its nonces.
    #[tokio::test]
    async fn migration_6_indexes_the_nonces_of_an_old_database_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v5.db");
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..5] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 5).unwrap();
            conn.execute_batch(
                "INSERT INTO nonces (signer, nonce, seen_at) VALUES ('a', 'old', 10), ('a', 'new', 900);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let indexes: Vec<String> = store
            .call(|c| {
                c.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'nonces'")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .await
            .unwrap();
        assert!(indexes.contains(&"nonces_seen_at".to_owned()), "{indexes:?}");
        assert_eq!(store.call(|c| forget_nonces(c, 500, 100)).await.unwrap(), 1);
        assert!(!store.call(|c| remember_nonce(c, "a", "new", 901)).await.unwrap(), "the recent nonce is kept");
    }

    /// The WAL is checkpointed every `WAL_CHECKPOINT_PAGES`, not SQLite's 1,000 pages: each
    /// checkpoint syncs the disk twice, which cost a job's results write two thirds of its time.
    #[tokio::test]
    async fn the_wal_is_checkpointed_every_eight_thousand_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("m.db")).unwrap();
        let pages: i64 = store.call(|c| c.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))).await.unwrap();
        assert_eq!(pages, WAL_CHECKPOINT_PAGES);
        let kept: i64 = store.call(|c| c.pragma_query_value(None, "journal_size_limit", |r| r.get(0))).await.unwrap();
        assert_eq!(kept, WAL_KEPT_BYTES);
    }

    /// A database of schema 8 kept each job's results as one document: its rows move into
    /// the job's part 0 with their count and sealed values' count (a department named like
    /// a member of a finding counts nothing), and the document served is the one stored.
    #[tokio::test]
    async fn migration_9_moves_a_whole_results_document_into_a_head_and_one_part() {
        use std::collections::BTreeMap;

        use bidui_core::api::{DepartmentFinding, JobResults, RowResult, SealedValues};
        use bidui_core::fieldseal::SealKind;
        let finding = |sealed: usize| DepartmentFinding {
            found: true,
            department_rows: 1,
            attributes: BTreeMap::from([("sex".to_owned(), "agree".to_owned())]),
            sealed: (0..sealed)
                .map(|i| SealedValues { row: i as u32 + 1, kind: SealKind::Id, sealed: "ab01".into() })
                .collect(),
            ..DepartmentFinding::default()
        };
        let row = |row: u32, sealed: usize| RowResult {
            row,
            fields: BTreeMap::new(),
            id_valid: true,
            duplicate_rows: vec![7],
            departments: BTreeMap::from([("sealed".to_owned(), finding(sealed)), ("released".to_owned(), finding(1))]),
            person: None,
        };
        let document = |job: &str, rows: Vec<RowResult>| JobResults {
            job: job.into(),
            purpose: "核查 \"rows\":[]".into(),
            approval: "批准".into(),
            requester: "registry".into(),
            departments: vec!["sealed".into(), "released".into()],
            summary: Default::default(),
            rows,
            rules: Vec::new(),
            profile: None,
            registry_fields: Vec::new(),
            sealed_fields: BTreeMap::new(),
            refused: BTreeMap::new(),
            unopened: 0,
        };
        let (results, empty) = (document("old", vec![row(1, 2), row(3, 0)]), document("empty", Vec::new()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.db");
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..8] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 8).unwrap();
            for document in [&results, &empty] {
                let body = serde_json::to_string(document).unwrap();
                conn.execute("INSERT INTO results (job, body) VALUES (?1, ?2)", params![document.job, body]).unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        let stored = store.call(|c| stored_results(c, "old")).await.unwrap().unwrap();
        assert_eq!((stored.parts, stored.rows, stored.sealed_values), (1, 2, 4));
        for document in [results, empty] {
            let job = document.job.clone();
            let served = store.call(move |c| crate::results::stored_document(c, &job)).await.unwrap().unwrap();
            assert_eq!(serde_json::from_str::<JobResults>(&served).unwrap(), document);
        }
        let stored = store.call(|c| stored_results(c, "empty")).await.unwrap().unwrap();
        assert_eq!((stored.parts, stored.rows, stored.sealed_values), (0, 0, 0));
    }

    #[tokio::test]
    async fn a_jobs_footprint_counts_its_results_in_bytes_not_characters() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("m.db")).unwrap();
        let head = "{\"purpose\":\"核查\"}";
        let part = ResultPart { rows: 1, sealed_values: 0, body: "{\"town\":\"荔城街道\"}".into() };
        let bytes = (head.len() + part.body.len()) as u64;
        let (_, results) = store
            .call(move |c| {
                save_results_head(c, "j", head)?;
                save_result_part(c, "j", 0, &part)?;
                job_footprint(c, "j")
            })
            .await
            .unwrap();
        assert_eq!(results, bytes);
    }

    /// A database of schema 6 (before notices) keeps its submissions, which read as having
    /// said nothing; a notice is then kept until a chunk turns it into `uploading` and a
    /// seal clears it, and none is taken once sealed.
    #[tokio::test]
    async fn migration_7_adds_notices_that_chunks_move_on_and_seals_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..6] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 6).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (id, spec, state, created_at, created_by) VALUES ('j', '{}', 'collecting', 1, 'op');
                 INSERT INTO submissions (job, party, chunks) VALUES ('j', 'dept', 0);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        async fn read(store: &Store) -> Result<SubmissionRow, StoreError> {
            store.call(|c| Ok(submission(c, "j", "dept")?.unwrap())).await
        }
        let old = read(&store).await.unwrap();
        assert_eq!((old.notice, old.chunks_expected, old.declined_reason), (None, None, None));
        assert!(store.call(|c| set_notice(c, "j", "dept", "declined", None, Some("held"))).await.unwrap());
        let declined = read(&store).await.unwrap();
        assert_eq!((declined.notice.as_deref(), declined.declined_reason.as_deref()), (Some("declined"), Some("held")));
        assert!(store.call(|c| set_notice(c, "j", "dept", "uploading", Some(4), None)).await.unwrap());
        store
            .transaction(|tx| {
                set_notice(tx, "j", "dept", "declined", None, Some("held again"))?;
                let meta = ChunkMeta { seq: 0, sha256: vec![0; 32], records: 1, last_row: 1 };
                insert_chunk(tx, "j", "dept", &meta, StoredChunk::Tokens(b"chunk"))
            })
            .await
            .unwrap();
        let uploading = read(&store).await.unwrap();
        assert_eq!((uploading.notice.as_deref(), uploading.declined_reason), (Some("uploading"), None));
        let record = SealRecord { epoch: "e", rows_read: 1, invalid_ids: "{}", sealed_fields: "[]", refused: "[]" };
        store.call(move |c| seal_submission(c, "j", "dept", &record, 2)).await.unwrap();
        assert_eq!(read(&store).await.unwrap().notice, None);
        assert!(!store.call(|c| set_notice(c, "j", "dept", "reading", None, None)).await.unwrap(), "sealed");
        assert_eq!(read(&store).await.unwrap().notice, None);
    }

    /// The backup is a new 0600 file holding what was committed; an existing file is never
    /// overwritten.
    #[tokio::test]
    async fn a_backup_is_a_new_owner_only_copy_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, copy) = (dir.path().join("matcher.db"), dir.path().join("backup.db"));
        let store = Store::create(&path).unwrap();
        store.transaction(|tx| upsert_principal(tx, "household", PrincipalRole::Agent, b"k", 1)).await.unwrap();
        backup(&path, &copy).unwrap();
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
        let backed_up = open_read_only(&copy).unwrap();
        assert_eq!(principal(&backed_up, "household").unwrap().unwrap().public_key, b"k");
        drop(backed_up);
        let before = std::fs::read(&copy).unwrap();
        assert!(matches!(backup(&path, &copy), Err(StoreError::BackupExists { .. })));
        assert_eq!(std::fs::read(&copy).unwrap(), before, "the existing file was touched");
    }

    #[tokio::test]
    async fn a_retirement_is_never_postponed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("r.db")).unwrap();
        store.call(|c| retire_epoch(c, "00112233445566aa", 100)).await.unwrap();
        store.call(|c| retire_epoch(c, "00112233445566aa", 5_000)).await.unwrap();
        assert_eq!(store.call(|c| retired_epochs(c, 200)).await.unwrap(), vec!["00112233445566aa".to_owned()]);
        store.call(|c| retire_epoch(c, "00112233445566aa", 50)).await.unwrap();
        assert_eq!(
            store.call(|c| retired_epochs(c, 60)).await.unwrap(),
            vec!["00112233445566aa".to_owned()],
            "an earlier date wins"
        );
    }

    #[tokio::test]
    async fn a_nonce_is_accepted_once() {
        let dir = std::env::temp_dir().join(format!("bidui-nonce-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::create(&dir.join("n.db")).unwrap();
        assert!(store.call(|c| remember_nonce(c, "a", "n1", 100)).await.unwrap());
        assert!(!store.call(|c| remember_nonce(c, "a", "n1", 101)).await.unwrap());
        assert!(store.call(|c| remember_nonce(c, "b", "n1", 101)).await.unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Tokens of both jobs, 16 random bytes each, in eight chunks per job.
    fn random_tokens(count: usize) -> Vec<[u8; 16]> {
        use ring::rand::SecureRandom;
        let mut tokens = vec![[0u8; 16]; count];
        tokens.iter_mut().for_each(|t| ring::rand::SystemRandom::new().fill(t).unwrap());
        tokens
    }

    /// Every 16-byte window of the database, its WAL and its shared-memory file.
    fn windows_in_files(path: &Path) -> HashSet<[u8; 16]> {
        let mut windows = HashSet::new();
        for file in database_files(path) {
            let Ok(bytes) = std::fs::read(&file) else { continue };
            windows.extend(bytes.windows(16).map(|w| <[u8; 16]>::try_from(w).unwrap()));
        }
        windows
    }

    /// Regression: after a job with `retention_hours = 0` was purged, every one of its
    /// tokens was still readable in `matcher.db`'s free pages and WAL, and the files were
    /// 0644.
    #[tokio::test]
    async fn purged_tokens_are_in_none_of_the_database_files_and_the_files_are_the_owners() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matcher.db");
        let store = Store::create(&path).unwrap();
        let (purged, kept) = (random_tokens(16_000), random_tokens(16_000));
        for (job, tokens) in [("purged", purged.clone()), ("kept", kept.clone())] {
            store
                .transaction(move |tx| {
                    let signed = SignedJob { spec: "{}".into(), signer: "operator".into(), signature: String::new() };
                    insert_job(tx, job, &signed, "complete", &["household".to_owned()], 1)?;
                    for (seq, chunk) in tokens.chunks(2_000).enumerate() {
                        let meta = ChunkMeta { seq: seq as u32, sha256: vec![0; 32], records: 2_000, last_row: 0 };
                        insert_chunk(tx, job, "household", &meta, StoredChunk::Tokens(chunk.as_flattened()))?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
        }
        // A token that straddles two overflow pages is split by the next page's pointer,
        // so the scan sees most tokens whole, not all.
        let before = windows_in_files(&path);
        let found = purged.iter().filter(|t| before.contains(*t)).count();
        assert!(found > purged.len() * 9 / 10, "the scan finds only {found} tokens that are there");

        store.transaction(|tx| purge_job_tokens(tx, "purged", 2)).await.unwrap();
        assert!(store.call(|c| scrub_deleted(c)).await.unwrap(), "no reader holds the WAL");

        let after = windows_in_files(&path);
        let left = purged.iter().filter(|t| after.contains(*t)).count();
        assert_eq!(left, 0, "{left} of {} purged tokens are still in the database files", purged.len());
        let kept_found = kept.iter().filter(|t| after.contains(*t)).count();
        assert!(kept_found > kept.len() * 9 / 10, "the job that was not purged keeps its tokens: {kept_found}");
        for file in database_files(&path) {
            if let Ok(meta) = std::fs::metadata(&file) {
                assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", file.display());
            }
        }
        assert!(std::fs::metadata(&database_files(&path)[1]).is_ok(), "the WAL exists and was checked");
    }

    #[tokio::test]
    async fn a_database_left_readable_by_others_is_narrowed_on_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        drop(Store::create(&path).unwrap());
        for file in database_files(&path) {
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
        let _store = Store::open(&path).unwrap();
        for file in database_files(&path) {
            if let Ok(meta) = std::fs::metadata(&file) {
                assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", file.display());
            }
        }
    }
}
