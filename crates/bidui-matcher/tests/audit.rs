//! The audit chain detects tampering: editing any column of one record, deleting one,
//! swapping two, and — against a head hash noted earlier — cutting records off the end or
//! rewriting the whole log. Each tampering is made with plain SQL on a real matcher
//! database, the way someone with write access to the file would.

use std::path::{Path, PathBuf};

use bidui_core::custody::PrincipalRole::{Agent, Operator};
use bidui_matcher::audit::{self, action, AuditEvent, ChainHead, Verdict};
use bidui_matcher::{store, AppState};
use serde_json::json;

/// A matcher database whose log holds enrolments, a revocation, a re-enrolment and a
/// job's records (with Chinese purpose and approval), written the way the matcher does.
struct Logged {
    _dir: tempfile::TempDir,
    db: PathBuf,
    head: ChainHead,
}

const RECORDS: u64 = 9;

fn logged() -> Logged {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("matcher.db");
    assert!(bidui_matcher::init_database(&db).unwrap(), "a new database");
    for (name, role, key) in
        [("operator", Operator, [1u8; 32]), ("veterans", Agent, [2; 32]), ("household", Agent, [3; 32])]
    {
        assert_eq!(bidui_matcher::enroll(&db, name, role, &key).unwrap(), bidui_matcher::Enrolment::Enrolled);
    }
    // Enrolling again with the same key changes nothing and records nothing.
    assert_eq!(bidui_matcher::enroll(&db, "household", Agent, &[3; 32]).unwrap(), bidui_matcher::Enrolment::Unchanged);
    bidui_matcher::revoke(&db, "household").unwrap();
    assert!(bidui_matcher::revoke(&db, "household").is_err(), "a second revocation is refused");
    assert!(bidui_matcher::revoke(&db, "nobody").is_err(), "an unknown name is refused");
    assert_eq!(bidui_matcher::enroll(&db, "household", Agent, &[4; 32]).unwrap(), bidui_matcher::Enrolment::Replaced);
    let job = "zc-2026-audit";
    let events = vec![
        AuditEvent::new(
            1_780_000_000,
            "operator",
            action::JOB_CREATED,
            Some(job),
            json!({ "id": job, "purpose": "退役军人和其他优抚对象信息采集第二阶段数据比对", "approval": "增退役军人〔2026〕1号" }),
        ),
        AuditEvent::new(
            1_780_000_100,
            "veterans",
            action::SEALED,
            Some(job),
            json!({
                "epoch": "0123456789abcdef", "chunks": 1, "records": 3000, "rows_read": 3011,
                "invalid_ids": { "checksum": 11 }, "sealed_fields": [], "refused": []
            }),
        ),
        AuditEvent::new(
            1_780_000_200,
            "household",
            action::SEALED,
            Some(job),
            json!({
                "epoch": "0123456789abcdef", "chunks": 1, "records": 2812, "rows_read": 2812, "invalid_ids": {},
                "sealed_fields": ["household_status"],
                "refused": [{ "field": "income", "reason": "本部门政策不允许" }]
            }),
        ),
        AuditEvent::new(
            1_780_000_300,
            "veterans",
            action::RESULTS_DELIVERED,
            Some(job),
            json!({ "rows": 3000, "sealed_values": 2812 }),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let state = AppState::open(&db).unwrap();
    for event in events {
        runtime.block_on(state.store.transaction(move |tx| store::append_audit(tx, &event))).unwrap();
    }
    drop(state);
    let head = match audit::verify_database(&db, None).unwrap() {
        Verdict::Intact(head) => head,
        other => panic!("a fresh log does not verify: {other:?}"),
    };
    assert_eq!(head.count, RECORDS);
    Logged { _dir: dir, db, head }
}

/// Runs SQL against the database, as a tamperer with the file would.
fn tamper(db: &Path, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let state = AppState::open(db).unwrap();
    let sql = sql.to_owned();
    let changed = runtime.block_on(state.store.call(move |c| c.execute_batch(&sql).map(|_| c.changes()))).unwrap();
    assert!(changed > 0, "the tampering changed nothing");
}

#[track_caller]
fn broken_at(db: &Path, seq: i64) -> String {
    match audit::verify_database(db, None).unwrap() {
        Verdict::Broken(broken) => {
            assert_eq!(broken.seq, seq, "broken at the wrong record: {broken}");
            broken.reason
        }
        other => panic!("tampering went unnoticed: {other:?}"),
    }
}

#[test]
fn an_untouched_log_verifies_and_names_its_head() {
    let log = logged();
    let rows = audit::read_database(&log.db, None).unwrap();
    assert_eq!(rows.len() as u64, RECORDS);
    assert_eq!(rows[0].prev_hash, audit::GENESIS);
    assert_eq!(rows.last().unwrap().hash, log.head.head);
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(&actions[..5], ["enroll", "enroll", "enroll", "revoke", "enroll"]);
    assert_eq!(&actions[5..], ["job-created", "submission-sealed", "submission-sealed", "results-delivered"]);
    let replaced = rows[4].event().unwrap();
    assert_eq!(replaced.details["replaced"]["was_revoked"], json!(true));
    assert_eq!(replaced.actor, audit::ADMINISTRATOR);
    // The job's records, by job, with purpose and approval verbatim.
    let job = audit::read_database(&log.db, Some("zc-2026-audit")).unwrap();
    assert_eq!(job.len(), 4);
    assert!(
        job[0].record.contains("增退役军人〔2026〕1号") && job[2].record.contains("本部门政策不允许"),
        "{}",
        job[2].record
    );
    match audit::verify_database(&log.db, Some(&hex::encode(log.head.head).to_uppercase())).unwrap() {
        Verdict::Intact(head) => assert_eq!(head, log.head),
        other => panic!("{other:?}"),
    }
}

#[test]
fn editing_the_hashed_record_of_one_entry_is_detected() {
    let log = logged();
    // Fewer records sealed than were: the JSON still parses, the hash no longer fits.
    tamper(&log.db, "UPDATE audit SET record = replace(record, '\"records\":2812', '\"records\":12') WHERE seq = 8");
    let reason = broken_at(&log.db, 8);
    assert!(reason.contains("does not match its hash"), "{reason}");
}

#[test]
fn editing_any_searchable_column_of_one_entry_is_detected() {
    for (column, value) in
        [("at", "0"), ("actor", "'household'"), ("action", "'enroll'"), ("job", "'another-job'"), ("job", "NULL")]
    {
        let log = logged();
        tamper(&log.db, &format!("UPDATE audit SET {column} = {value} WHERE seq = 7"));
        let reason = broken_at(&log.db, 7);
        assert!(reason.contains(&format!("its {column} column")), "{column}: {reason}");
    }
    // The job column of an enrolment, which had none.
    let log = logged();
    tamper(&log.db, "UPDATE audit SET job = 'zc-2026-audit' WHERE seq = 2");
    broken_at(&log.db, 2);
}

#[test]
fn editing_a_stored_hash_or_link_is_detected() {
    let log = logged();
    tamper(&log.db, "UPDATE audit SET hash = zeroblob(32) WHERE seq = 5");
    broken_at(&log.db, 5);
    let log = logged();
    tamper(&log.db, "UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE seq = 1) WHERE seq = 5");
    broken_at(&log.db, 5);
    // Re-hashing the edited record alone still breaks the link from the next one.
    let log = logged();
    let rows = audit::read_database(&log.db, None).unwrap();
    let mut event = rows[5].event().unwrap();
    event.details["approval"] = json!("增退役军人〔2026〕99号");
    let record = event.canonical_json().unwrap();
    let prev: [u8; 32] = rows[4].hash.clone().try_into().unwrap();
    let hash = audit::record_hash(6, &prev, record.as_bytes());
    tamper(
        &log.db,
        &format!(
            "UPDATE audit SET record = '{}', hash = x'{}' WHERE seq = 6",
            record.replace('\'', "''"),
            hex::encode(hash)
        ),
    );
    let reason = broken_at(&log.db, 7);
    assert!(reason.contains("links to a previous record"), "{reason}");
}

#[test]
fn deleting_one_entry_is_detected() {
    for seq in [1, 4, 6] {
        let log = logged();
        tamper(&log.db, &format!("DELETE FROM audit WHERE seq = {seq}"));
        let reason = broken_at(&log.db, seq);
        assert!(reason.contains("missing"), "{reason}");
    }
}

#[test]
fn swapping_two_entries_is_detected() {
    let log = logged();
    tamper(
        &log.db,
        "UPDATE audit SET seq = -1 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = 7; \
         UPDATE audit SET seq = 7 WHERE seq = -1;",
    );
    broken_at(&log.db, 6);
    // Swapping the contents and leaving the numbers is the same tampering seen otherwise.
    let log = logged();
    tamper(
        &log.db,
        "UPDATE audit SET \
         record = CASE seq WHEN 2 THEN (SELECT record FROM audit WHERE seq = 3) \
         ELSE (SELECT record FROM audit WHERE seq = 2) END, \
         actor = CASE seq WHEN 2 THEN (SELECT actor FROM audit WHERE seq = 3) \
         ELSE (SELECT actor FROM audit WHERE seq = 2) END WHERE seq IN (2, 3)",
    );
    broken_at(&log.db, 2);
}

#[test]
fn truncating_the_tail_is_detected_against_the_noted_head() {
    let log = logged();
    let noted = hex::encode(log.head.head);
    tamper(&log.db, "DELETE FROM audit WHERE seq >= 8");
    // What is left is a valid, shorter chain: on its own it verifies, with fewer records
    // and another head — which is why `verify` prints both for the operator to note.
    match audit::verify_database(&log.db, None).unwrap() {
        Verdict::Intact(head) => {
            assert_eq!(head.count, RECORDS - 2);
            assert_ne!(head.head, log.head.head);
        }
        other => panic!("{other:?}"),
    }
    match audit::verify_database(&log.db, Some(&noted)).unwrap() {
        Verdict::HeadDiffers { found, expected, expected_seq } => {
            assert_eq!((found.count, expected, expected_seq), (RECORDS - 2, noted, None));
        }
        other => panic!("truncation went unnoticed: {other:?}"),
    }
}

#[test]
fn a_log_that_only_grew_since_the_noted_head_says_so() {
    let log = logged();
    let noted = hex::encode(log.head.head);
    bidui_matcher::enroll(&log.db, "assistance", Agent, &[9; 32]).unwrap();
    match audit::verify_database(&log.db, Some(&noted)).unwrap() {
        Verdict::HeadDiffers { found, expected_seq, .. } => {
            assert_eq!((found.count, expected_seq), (RECORDS + 1, Some(RECORDS as i64)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rewriting_the_whole_chain_is_detected_only_against_the_noted_head() {
    let log = logged();
    let noted = hex::encode(log.head.head);
    // Whoever can write the file can also recompute every hash after an edit: the chain
    // then verifies on its own. Only the head noted outside the matcher reveals it.
    let rows = audit::read_database(&log.db, None).unwrap();
    let mut prev = audit::GENESIS;
    let mut sql = String::new();
    for row in &rows {
        let mut event = row.event().unwrap();
        if row.seq == 8 {
            event.details["records"] = json!(12);
        }
        let record = event.canonical_json().unwrap();
        let hash = audit::record_hash(row.seq as u64, &prev, record.as_bytes());
        sql.push_str(&format!(
            "UPDATE audit SET record = '{}', prev_hash = x'{}', hash = x'{}' WHERE seq = {};\n",
            record.replace('\'', "''"),
            hex::encode(prev),
            hex::encode(hash),
            row.seq
        ));
        prev = hash;
    }
    tamper(&log.db, &sql);
    assert!(matches!(audit::verify_database(&log.db, None).unwrap(), Verdict::Intact(_)));
    assert!(matches!(
        audit::verify_database(&log.db, Some(&noted)).unwrap(),
        Verdict::HeadDiffers { expected_seq: None, .. }
    ));
}

#[test]
fn an_event_that_cannot_be_encoded_fails_its_transaction() {
    let log = logged();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let state = AppState::open(&log.db).unwrap();
    let event = AuditEvent::new(1, "operator", "job-created", None, json!({ "ratio": 0.5 }));
    let result = runtime.block_on(state.store.transaction(move |tx| {
        store::upsert_principal(tx, "sneaky", Agent, &[7; 32], 1)?;
        store::append_audit(tx, &event)
    }));
    assert!(result.is_err());
    assert!(
        runtime.block_on(state.store.call(|c| store::principal(c, "sneaky"))).unwrap().is_none(),
        "the change was kept without its record"
    );
}
