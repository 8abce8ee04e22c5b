//! The matcher's audit log on the shared demo district, through the real binary:
//! `bidui audit verify` passes and `bidui audit show` holds the job's creation (purpose,
//! approval, signer, digest of the signed spec), its eight seals with the fields sealed,
//! and the one delivery of results to the requester; a copy with one record deleted, or
//! with its tail cut off, fails verification.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::bidui_exe;
use crate::district::district;

const PARTIES: [&str; 8] = [
    "veterans",
    "household",
    "social-security",
    "medical-insurance",
    "housing",
    "assistance",
    "petitions",
    "service-records",
];

/// In English, whose lines these tests parse.
fn bidui(args: &[&str], db: &Path) -> Output {
    Command::new(bidui_exe()).arg("--lang=en").args(args).arg("--db").arg(db).output().expect("run bidui")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A consistent copy of a database that other tests may be writing (`VACUUM INTO` reads
/// one snapshot), for tampering.
fn snapshot(db: &Path, name: &str) -> PathBuf {
    // Outside the matcher's folder, which other tests scan while this one runs.
    let dir = db.parent().unwrap().parent().unwrap().join("audit-e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(format!("{name}.db"));
    let _ = std::fs::remove_file(&copy);
    let conn = bidui_matcher::store::open_read_only(db).unwrap();
    conn.execute("VACUUM INTO ?1", [copy.to_str().unwrap()]).unwrap();
    copy
}

fn tamper(db: &Path, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let state = bidui_matcher::AppState::open(db).unwrap();
    let sql = sql.to_owned();
    runtime.block_on(state.store.call(move |c| c.execute_batch(&sql))).unwrap();
}

/// `OK: audit chain intact, N records, head H` → (N, H).
fn intact(output: &Output) -> (u64, String) {
    assert!(output.status.success(), "verify failed:\n{}{}", stdout(output), String::from_utf8_lossy(&output.stderr));
    let text = stdout(output);
    let line = text.lines().find(|l| l.starts_with("OK: audit chain intact, ")).unwrap_or_else(|| panic!("{text}"));
    let rest = line.trim_start_matches("OK: audit chain intact, ");
    let (count, head) = rest.split_once(" records, head ").unwrap();
    (count.parse().unwrap(), head.to_owned())
}

#[test]
fn the_demo_districts_audit_log_verifies_and_records_the_job() {
    let d = district();
    let db = d.dir.join("matcher/matcher.db");
    let (count, head) = intact(&bidui(&["audit", "verify"], &db));
    // Nine enrolments, the job's creation, eight seals, one delivery of results.
    assert_eq!(count, 19, "records: {count}");
    assert_eq!(head.len(), 64);

    let shown = bidui(&["audit", "show", "--json", "--job", &d.results.job], &db);
    assert!(shown.status.success());
    let records: Vec<Value> = stdout(&shown).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let of = |action: &str| records.iter().filter(|r| r["action"] == action).collect::<Vec<_>>();
    let created = of("job-created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["actor"], "operator");
    let purpose = created[0]["details"]["purpose"].as_str().unwrap().to_owned();
    let approval = created[0]["details"]["approval"].as_str().unwrap().to_owned();
    assert!(purpose.contains("比对") && approval.contains("〔2019〕"), "{purpose} {approval}");
    assert_eq!(created[0]["details"]["signer"], "operator");
    assert_eq!(created[0]["details"]["spec_sha256"].as_str().unwrap().len(), 64);
    let mut actors: Vec<&str> = of("submission-sealed").iter().map(|r| r["actor"].as_str().unwrap()).collect();
    actors.sort();
    let mut expected = PARTIES.to_vec();
    expected.sort();
    assert_eq!(actors, expected);
    for seal in of("submission-sealed") {
        let details = &seal["details"];
        assert!(details["records"].as_u64().unwrap() > 0, "{seal}");
        // What each department sealed for the requester, by field name; never a value.
        let sealed = details["sealed_fields"].as_array().unwrap();
        assert_eq!(sealed.is_empty(), seal["actor"] == "veterans", "{seal}");
    }
    let delivered = of("results-delivered");
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["actor"], "veterans");
    assert!(delivered[0]["details"]["sealed_values"].as_u64().unwrap() > 1000, "{}", delivered[0]);
    // Everything of the job comes after its creation, in chain order.
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]) && records[0]["action"] == "job-created");
    // The enrolments the demo made, by the matcher's administrator.
    let all = bidui(&["audit", "show", "--json"], &db);
    let enrolled: Vec<Value> = stdout(&all)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["action"] == "enroll")
        .collect();
    for name in PARTIES.iter().chain(["operator"].iter()) {
        assert!(
            enrolled.iter().any(|r| r["details"]["name"] == *name && r["actor"] == "matcher-administrator"),
            "{name} not enrolled in the log"
        );
    }

    // Readable, in Chinese by default.
    let mut readable = Command::new(bidui_exe());
    readable.args(["audit", "show", "--job", &d.results.job, "--db"]).arg(&db);
    let readable = stdout(&readable.env_remove("LC_ALL").env_remove("LC_MESSAGES").env("LANG", "C").output().unwrap());
    assert!(
        readable.contains(&approval) && readable.contains("结果交付请求方") && readable.contains("用途："),
        "{readable}"
    );
}

#[test]
fn verify_fails_on_a_deleted_record_and_on_a_cut_off_tail() {
    let d = district();
    let db = d.dir.join("matcher/matcher.db");
    let deleted = snapshot(&db, "audit-deleted");
    let (count, head) = intact(&bidui(&["audit", "verify"], &deleted));
    assert!(intact(&bidui(&["audit", "verify", "--expect-head", &head], &deleted)).0 == count);
    tamper(&deleted, "DELETE FROM audit WHERE seq = 12");
    let output = bidui(&["audit", "verify"], &deleted);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stdout(&output).contains("BROKEN: audit record 12"), "{}", stdout(&output));

    let cut = snapshot(&db, "audit-cut");
    let (count, head) = intact(&bidui(&["audit", "verify"], &cut));
    tamper(&cut, &format!("DELETE FROM audit WHERE seq = {count}"));
    // Alone, the shorter chain verifies, with one record fewer and another head...
    let (shorter, other) = intact(&bidui(&["audit", "verify"], &cut));
    assert_eq!((shorter, other != head), (count - 1, true));
    // ...which the head noted before reveals.
    let output = bidui(&["audit", "verify", "--expect-head", &head], &cut);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stdout(&output).contains("HEAD DIFFERS") && stdout(&output).contains("cut off"), "{}", stdout(&output));
    for copy in [deleted, cut] {
        let _ = std::fs::remove_file(copy);
    }
}
