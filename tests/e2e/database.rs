//! The matcher's database through the real binary: never silently empty (a missing
//! database is refused without `--init`, one deleted while serving is reported by
//! `/v1/health`), offline writers leave nothing only in the WAL, and a backup taken while
//! serving is a whole matcher.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use bidui_core::api::{JobState, JobStatus};

use crate::district::district;
use crate::{bidui, fresh_dir, path, printed, MatcherProcess};

/// `GET /v1/health` over plain HTTP: the status line and the body.
fn health(matcher: &MatcherProcess) -> String {
    let mut stream = TcpStream::connect(&matcher.address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn serve_output(database: &Path) -> std::process::Output {
    bidui(&["matcher", "serve", "--insecure-http", "--listen", "127.0.0.1:0", "--db", path(database)])
}

/// Regression: a path with no database, or a database deleted while serving, gave an empty
/// database: principals, jobs and the audit chain gone, callers told `401 unknown-signer`,
/// and `/v1/health` said ok.
#[test]
fn a_deleted_database_is_reported_and_never_recreated() {
    let dir = fresh_dir("db-deleted");
    let database = dir.join("matcher.db");
    let refused = serve_output(&database);
    assert!(!refused.status.success());
    assert!(
        printed(&refused).contains("--init") && printed(&refused).contains("数据库不存在"),
        "{}",
        printed(&refused)
    );
    assert!(!database.exists(), "serve created a database without --init");

    let matcher = MatcherProcess::start(&database, &["--insecure-http".as_ref(), "--init".as_ref()]);
    let answer = health(&matcher);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }
    let answer = health(&matcher);
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("database-missing"), "{answer}");
    drop(matcher);
    assert!(!database.exists(), "the matcher recreated the database");

    let restarted = serve_output(&database);
    assert!(!restarted.status.success() && printed(&restarted).contains("--init"), "{}", printed(&restarted));
    assert!(!database.exists());
}

/// Regression: `bidui matcher enroll` beside a serving matcher left its change in the WAL
/// only, so a copy of `matcher.db` alone lost the principal.
#[test]
fn an_enrolment_beside_a_serving_matcher_is_in_the_database_file_alone() {
    let dir = fresh_dir("db-enroll");
    let database = dir.join("matcher.db");
    let key = |name: &str| format!("{:064x}", name.len());
    let enroll = |name: &str, init: bool| {
        let mut args = vec!["matcher", "enroll", "--db", path(&database), "--name", name, "--role", "agent"];
        let key = key(name);
        args.extend(["--public-key", &key]);
        if init {
            args.push("--init");
        }
        let output = bidui(&args);
        assert!(output.status.success(), "{}", printed(&output));
    };
    enroll("veterans", true);
    let _matcher = MatcherProcess::start(&database, &["--insecure-http".as_ref()]);
    enroll("household", false);
    let copy = dir.join("copy.db");
    std::fs::copy(&database, &copy).unwrap();
    let conn = bidui_matcher::store::open_read_only(&copy).unwrap();
    let principal = bidui_matcher::store::principal(&conn, "household").unwrap();
    assert!(principal.is_some(), "the enrolment is only in matcher.db-wal");
}

/// A backup taken while the matcher serves is a whole matcher: served on its own, it knows
/// the principals and the job, and its audit chain verifies. It is 0600 and never
/// overwrites a file.
#[test]
fn a_backup_taken_while_serving_serves_the_same_jobs_and_its_audit_chain_verifies() {
    let d = district();
    let work = fresh_dir("db-backup");
    let database = d.dir.join("matcher/matcher.db");
    let serving = MatcherProcess::start(&database, &["--insecure-http".as_ref()]);
    let backup = work.join("matcher-backup.db");
    let output = bidui(&["matcher", "backup", "--db", path(&database), "--to", path(&backup)]);
    assert!(output.status.success(), "{}", printed(&output));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let before = std::fs::read(&backup).unwrap();
    let again = bidui(&["matcher", "backup", "--db", path(&database), "--to", path(&backup)]);
    assert!(!again.status.success() && printed(&again).contains("备份文件已存在"), "{}", printed(&again));
    assert_eq!(std::fs::read(&backup).unwrap(), before, "an existing file was overwritten");
    drop(serving);

    let verified = bidui(&["audit", "verify", "--db", path(&backup)]);
    assert!(verified.status.success(), "{}", printed(&verified));
    // Restored: the backup, served without --init, answers the operator.
    let restored = MatcherProcess::start(&backup, &["--insecure-http".as_ref()]);
    let operator = work.join("operator.toml");
    std::fs::write(
        &operator,
        format!(
            "matcher = \"{}\"\nname = \"operator\"\nidentity_key = {:?}\n",
            restored.http_url(),
            d.dir.join("operator/operator.ed25519")
        ),
    )
    .unwrap();
    let output = bidui(&["job", "status", &d.results.job, "--operator", path(&operator), "--json"]);
    assert!(output.status.success(), "{}", printed(&output));
    let status: JobStatus = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status.state, JobState::Complete);
}
