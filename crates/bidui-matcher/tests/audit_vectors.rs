//! `protocol-docs/vectors/audit.json` is what `audit::chain_vectors` generates, and the
//! chain it holds verifies as the matcher verifies its own log. `tests/e2e/vectors.rs`
//! recomputes it independently in Python.

use std::path::PathBuf;

use bidui_matcher::audit::{self, AuditRow};
use serde_json::Value;

fn vector_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../protocol-docs/vectors/audit.json")
}

#[test]
fn the_checked_in_audit_vectors_are_fresh() {
    let generated = audit::chain_vectors();
    let on_disk = std::fs::read_to_string(vector_file()).unwrap_or_default();
    if on_disk != generated && std::env::var_os("BIDUI_BLESS").is_some() {
        std::fs::write(vector_file(), &generated).expect("write audit.json");
        return;
    }
    assert!(
        on_disk == generated,
        "protocol-docs/vectors/audit.json differs from what the code generates. If the record encoding change is \
         intended, regenerate with `BIDUI_BLESS=1 cargo test -p bidui-matcher --test audit_vectors` and update \
         keys.md §4."
    );
}

#[test]
fn the_vector_chain_verifies_as_a_stored_log() {
    let vectors: Value = serde_json::from_str(&audit::chain_vectors()).unwrap();
    let records = vectors["records"].as_array().unwrap();
    assert!(records.len() >= 3, "genesis and at least two events");
    let rows: Vec<AuditRow> = records
        .iter()
        .map(|entry| {
            let event: audit::AuditEvent = serde_json::from_value(entry["event"].clone()).unwrap();
            AuditRow {
                seq: entry["seq"].as_i64().unwrap(),
                at: event.at,
                actor: event.actor,
                action: event.action,
                job: event.job,
                record: entry["record"].as_str().unwrap().to_owned(),
                prev_hash: hex::decode(entry["prev_hash"].as_str().unwrap()).unwrap(),
                hash: hex::decode(entry["hash"].as_str().unwrap()).unwrap(),
            }
        })
        .collect();
    assert_eq!(rows[0].prev_hash, audit::GENESIS);
    let head = audit::verify_rows(rows).expect("the vector chain verifies");
    assert_eq!((head.count, hex::encode(head.head)), (records.len() as u64, vectors["head"].as_str().unwrap().into()));
}
