//! The matcher's audit log: an append-only, hash-chained record of every enrolment,
//! revocation, job creation, submission seal, delivery of results to a requester, token
//! purge and purge of the forwarded sealed values, written in the same transaction as the
//! change it records (`protocol-docs/keys.md` §4).
//!
//! Record `n` (1-based `seq`) stores the canonical JSON of its event, the hash of record
//! `n - 1` (32 zero bytes for record 1) and its own hash:
//!
//! ```text
//! hash_n = SHA-256("bidui/v1 audit" || 0x00 || u64be(n) || hash_{n-1} || canonical_json)
//! ```
//!
//! Editing, deleting or reordering any record breaks the chain at that record. Cutting
//! records off the end, or rewriting the whole chain, leaves a chain that verifies: only a
//! head hash noted outside the matcher (`bidui audit verify --expect-head`) reveals it.
//! This module computes and checks; [`crate::store`] reads and writes the table.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::store;

/// Domain separation of the record hash.
pub const HASH_DOMAIN: &[u8] = b"bidui/v1 audit\x00";

/// The `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// Who did it when the matcher's own administrator acts on the database directly
/// (`bidui matcher enroll|revoke`) rather than a signed principal over HTTP.
pub const ADMINISTRATOR: &str = "matcher-administrator";

/// The kinds of event; stable names, part of the record encoding.
pub mod action {
    pub const ENROLL: &str = "enroll";
    pub const REVOKE: &str = "revoke";
    pub const JOB_CREATED: &str = "job-created";
    pub const SEALED: &str = "submission-sealed";
    /// An agent's local policy holds the job for a person (its notice, wire-v2 §6.13).
    pub const DECLINED: &str = "submission-declined";
    /// Results, with the sealed values forwarded to it, handed to the job's requester.
    pub const RESULTS_DELIVERED: &str = "results-delivered";
    pub const CUSTODIAN_TRUSTED: &str = "custodian-trusted";
    pub const EPOCH_STORED: &str = "epoch-stored";
    pub const EPOCH_RETIRED: &str = "epoch-retired";
    pub const TOKENS_PURGED: &str = "tokens-purged";
    /// The sealed values forwarded in a job's results stripped at the end of its retention
    /// (or of the grace for results the requester never fetched).
    pub const SEALED_VALUES_PURGED: &str = "sealed-values-purged";
}

/// One event, as hashed. `details` depends on the action (keys.md §4.2); it never holds a
/// token, a secret, a sealed value or a field value — the matcher only records names, counts
/// and digests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Seconds since the Unix epoch, by the matcher's clock.
    pub at: i64,
    /// The signed principal who caused it, or [`ADMINISTRATOR`].
    pub actor: String,
    pub action: String,
    pub job: Option<String>,
    pub details: Value,
}

impl AuditEvent {
    pub fn new(at: i64, actor: &str, action: &str, job: Option<&str>, details: Value) -> AuditEvent {
        AuditEvent { at, actor: actor.to_owned(), action: action.to_owned(), job: job.map(str::to_owned), details }
    }

    /// The canonical JSON of the event: the bytes that are hashed and stored. Fails only
    /// for details holding a floating-point number, which no event has.
    pub fn canonical_json(&self) -> Result<String, String> {
        let value = json!({
            "at": self.at, "actor": self.actor, "action": self.action, "job": self.job, "details": self.details
        });
        canonical_json(&value)
    }
}

/// Canonical JSON (keys.md §4.1): no whitespace, object keys sorted by their UTF-8 bytes,
/// strings escaped as RFC 8259 requires and nothing more (non-ASCII stays UTF-8),
/// integers in decimal. Floating-point numbers have no canonical form here and are
/// refused.
pub fn canonical_json(value: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut String) -> Result<(), String> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write!(out, "{i}").expect("writing to a String");
            } else if let Some(u) = n.as_u64() {
                write!(out, "{u}").expect("writing to a String");
            } else {
                return Err(format!("{n} is not an integer"));
            }
        }
        Value::String(s) => out.push_str(&serde_json::to_string(s).expect("strings serialize")),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("strings serialize"));
                out.push(':');
                write_canonical(&map[key], out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// The hash of record `seq` with canonical JSON `record`, following `prev_hash`.
pub fn record_hash(seq: u64, prev_hash: &[u8; 32], record: &[u8]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(HASH_DOMAIN);
    ctx.update(&seq.to_be_bytes());
    ctx.update(prev_hash);
    ctx.update(record);
    ctx.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// One stored record, every column as the table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub job: Option<String>,
    /// The canonical JSON of the event, exactly as hashed.
    pub record: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditRow {
    /// The event, parsed from the hashed record.
    pub fn event(&self) -> Option<AuditEvent> {
        serde_json::from_str(&self.record).ok()
    }
}

/// A chain that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub count: u64,
    /// The last record's hash (the genesis value, all zeros, for an empty log).
    pub head: [u8; 32],
}

/// Where and why a chain does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq}: {reason}")]
pub struct ChainBroken {
    /// The sequence number of the first record that fails (or that is missing).
    pub seq: i64,
    pub reason: String,
}

/// Checks a whole log, records in `seq` order as stored.
pub fn verify_rows(rows: impl IntoIterator<Item = AuditRow>) -> Result<ChainHead, ChainBroken> {
    let mut prev = GENESIS;
    let mut expected: i64 = 1;
    for row in rows {
        let broken = |reason: String| ChainBroken { seq: row.seq, reason };
        if row.seq != expected {
            let reason = if row.seq > expected {
                format!(
                    "records {expected}..{} are missing: the log jumps from {} to {} (deleted or renumbered)",
                    row.seq - 1,
                    expected - 1,
                    row.seq
                )
            } else {
                format!("out of order: sequence number {} follows {}", row.seq, expected - 1)
            };
            return Err(ChainBroken { seq: expected.min(row.seq), reason });
        }
        let stored_hash: [u8; 32] = row
            .hash
            .as_slice()
            .try_into()
            .map_err(|_| broken(format!("its hash is {} bytes, not 32", row.hash.len())))?;
        let prev_hash: [u8; 32] = row
            .prev_hash
            .as_slice()
            .try_into()
            .map_err(|_| broken(format!("its previous-record hash is {} bytes, not 32", row.prev_hash.len())))?;
        if record_hash(row.seq as u64, &prev_hash, row.record.as_bytes()) != stored_hash {
            return Err(broken(
                "its content does not match its hash (the record, its number or its link was edited)".into(),
            ));
        }
        if prev_hash != prev {
            return Err(broken(format!(
                "it links to a previous record hashing to {} but record {} hashes to {} \
                 (a record was removed, inserted, reordered or rewritten)",
                hex::encode(prev_hash),
                row.seq - 1,
                hex::encode(prev)
            )));
        }
        let value: Value =
            serde_json::from_str(&row.record).map_err(|e| broken(format!("the hashed record is not JSON: {e}")))?;
        if canonical_json(&value).as_deref() != Ok(row.record.as_str()) {
            return Err(broken("the hashed record is not in canonical form".into()));
        }
        let event: AuditEvent = serde_json::from_value(value)
            .map_err(|e| broken(format!("the hashed record is not an audit event: {e}")))?;
        let columns = [
            ("at", row.at.to_string(), event.at.to_string()),
            ("actor", row.actor.clone(), event.actor.clone()),
            ("action", row.action.clone(), event.action.clone()),
            ("job", format!("{:?}", row.job), format!("{:?}", event.job)),
        ];
        if let Some((column, stored, hashed)) = columns.iter().find(|(_, stored, hashed)| stored != hashed) {
            return Err(broken(format!(
                "its {column} column says {stored} but the hashed record says {hashed} (the column was edited)"
            )));
        }
        prev = stored_hash;
        expected += 1;
    }
    Ok(ChainHead { count: (expected - 1) as u64, head: prev })
}

/// What `bidui audit verify` reports.
#[derive(Debug)]
pub enum Verdict {
    Intact(ChainHead),
    Broken(ChainBroken),
    /// The chain verifies but does not end where the caller noted it ended.
    HeadDiffers {
        found: ChainHead,
        expected: String,
        /// The record whose hash is the expected head, if one is: the log then only grew
        /// since the head was noted. `None`: the log was cut off or rewritten.
        expected_seq: Option<i64>,
    },
}

/// Verifies stored rows and, with `expect_head` (hex), that the chain ends there.
pub fn verdict(rows: Vec<AuditRow>, expect_head: Option<&str>) -> Verdict {
    let expected = expect_head.map(|h| h.trim().to_ascii_lowercase());
    let expected_seq = expected.as_ref().and_then(|e| rows.iter().find(|r| hex::encode(&r.hash) == *e).map(|r| r.seq));
    match verify_rows(rows) {
        Err(broken) => Verdict::Broken(broken),
        Ok(head) => match expected {
            Some(expected) if expected != hex::encode(head.head) => {
                Verdict::HeadDiffers { found: head, expected, expected_seq }
            }
            _ => Verdict::Intact(head),
        },
    }
}

/// Opens the database read-only (the matcher may be running) and verifies its log; with
/// `expect_head`, also checks the chain ends at that hash (hex).
pub fn verify_database(database: &Path, expect_head: Option<&str>) -> anyhow::Result<Verdict> {
    let conn = store::open_read_only(database)?;
    let rows = store::audit_rows(&conn, None)?;
    Ok(verdict(rows, expect_head))
}

/// The records of one job (or all), in order, for `bidui audit show`.
pub fn read_database(database: &Path, job: Option<&str>) -> anyhow::Result<Vec<AuditRow>> {
    let conn = store::open_read_only(database)?;
    Ok(store::audit_rows(&conn, job)?)
}

/// The audit chain vectors, `protocol-docs/vectors/audit.json` (keys.md §4.1): a chain of
/// fixed events from the first record on, each with its canonical JSON, link and hash, and
/// the head. Strings hold Chinese, a quote, a backslash and control characters, so the
/// escaping rules are pinned too. `tests/audit_vectors.rs` fails when the file is stale.
pub fn chain_vectors() -> String {
    let custodian_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let events = [
        AuditEvent::new(
            1_764_547_200,
            ADMINISTRATOR,
            action::CUSTODIAN_TRUSTED,
            None,
            json!({ "public_key": custodian_key }),
        ),
        AuditEvent::new(
            1_764_547_260,
            "custodian",
            action::ENROLL,
            None,
            json!({
                "name": "household",
                "role": "agent",
                "public_key": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "x25519_key": "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
                "signed_at": 1_764_547_259_000u64,
            }),
        ),
        AuditEvent::new(
            1_764_550_800,
            "operator",
            action::JOB_CREATED,
            Some("增城区-2026-复核"),
            json!({
                "id": "增城区-2026-复核",
                "purpose": "退役军人和其他优抚对象信息采集第二阶段数据比对",
                "approval": "增退役军人〔2026〕7号",
                "epoch": "37276da36d8ff562",
                "suite": "hmac-sha256",
                "requester": { "party": "veterans", "fields": ["town"], "max_records": 4000 },
                "department": [{
                    "party": "household",
                    "compare": ["name"],
                    "fields": ["household_status", "income"],
                    "max_records": 1_200_000,
                }],
                "retention_hours": 24,
                "signer": "operator",
                "spec_sha256": "05989e07e98419d1e749dc0509a05f042e99bdc97d1cf792f661a6d81288b5b0",
            }),
        ),
        AuditEvent::new(
            1_764_554_400,
            "household",
            action::SEALED,
            Some("增城区-2026-复核"),
            json!({
                "epoch": "37276da36d8ff562",
                "chunks": 3,
                "records": 32911,
                "rows_read": 32925,
                "invalid_ids": { "checksum": 14 },
                "digest": "4495192a38377e3850fd03cab790683b8a95b0799cdec641a0365a3f77e97340",
                "sealed_fields": ["household_status"],
                "refused": [{ "field": "income", "reason": "本部门政策不允许\n见 \"附件\\2\"\t\u{1}" }],
            }),
        ),
        AuditEvent::new(
            1_764_554_460,
            "veterans",
            action::RESULTS_DELIVERED,
            Some("增城区-2026-复核"),
            json!({ "rows": 3000, "sealed_values": 2842 }),
        ),
    ];
    let mut prev_hash = GENESIS;
    let mut records = Vec::new();
    for (seq, event) in (1u64..).zip(&events) {
        let record = event.canonical_json().expect("the vector events hold no floating-point number");
        let hash = record_hash(seq, &prev_hash, record.as_bytes());
        records.push(json!({
            "seq": seq,
            "event": serde_json::to_value(event).expect("events serialize"),
            "record": record,
            "prev_hash": hex::encode(prev_hash),
            "hash": hex::encode(hash),
        }));
        prev_hash = hash;
    }
    let mut text = serde_json::to_string_pretty(&json!({ "records": records, "head": hex::encode(prev_hash) }))
        .expect("vectors serialize");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_keeps_chinese_verbatim() {
        let value: Value =
            serde_json::from_str(r#"{ "b": [1, -2, {"z": null, "a": true}], "a": "退役\"军人\n", "é": 0 }"#).unwrap();
        assert_eq!(canonical_json(&value).unwrap(), r#"{"a":"退役\"军人\n","b":[1,-2,{"a":true,"z":null}],"é":0}"#);
        assert!(canonical_json(&json!({ "x": 1.5 })).is_err());
    }

    /// The worked example of keys.md §4.1, computed independently (Python's `json.dumps`
    /// with sorted keys and `hashlib`).
    #[test]
    fn the_documented_example_hashes_as_published() {
        let event = AuditEvent::new(
            1_764_554_400,
            "household",
            action::SEALED,
            Some("zc-2026-stage2"),
            json!({
                "epoch": "37276da36d8ff562",
                "chunks": 2,
                "records": 2812,
                "rows_read": 2820,
                "invalid_ids": { "checksum": 8 },
                "digest": "4495192a38377e3850fd03cab790683b8a95b0799cdec641a0365a3f77e97340",
                "sealed_fields": ["household_status"],
                "refused": [{ "field": "income", "reason": "本部门政策不允许" }],
            }),
        );
        let record = event.canonical_json().unwrap();
        assert_eq!(
            record,
            concat!(
                r#"{"action":"submission-sealed","actor":"household","at":1764554400,"details":{"chunks":2,"#,
                r#""digest":"4495192a38377e3850fd03cab790683b8a95b0799cdec641a0365a3f77e97340","#,
                r#""epoch":"37276da36d8ff562","invalid_ids":{"checksum":8},"records":2812,"#,
                r#""refused":[{"field":"income","reason":"本部门政策不允许"}],"rows_read":2820,"#,
                r#""sealed_fields":["household_status"]},"job":"zc-2026-stage2"}"#
            )
        );
        let first = record_hash(1, &GENESIS, record.as_bytes());
        assert_eq!(hex::encode(first), "75ef03ae256b38b2eff63f84a178e4aaca3275d505793db8dff50d72d2381875");
        assert_eq!(
            hex::encode(record_hash(2, &first, record.as_bytes())),
            "13c86fa01bc4646b8ae18db3729557dd99eb53da7b8edbb127cb733a6f5f135c"
        );
    }

    #[test]
    fn the_record_hash_binds_domain_sequence_link_and_content() {
        let record = b"{}";
        let h = record_hash(1, &GENESIS, record);
        let mut manual = HASH_DOMAIN.to_vec();
        manual.extend_from_slice(&1u64.to_be_bytes());
        manual.extend_from_slice(&GENESIS);
        manual.extend_from_slice(record);
        assert_eq!(h.as_slice(), ring::digest::digest(&ring::digest::SHA256, &manual).as_ref());
        assert_ne!(h, record_hash(2, &GENESIS, record));
        assert_ne!(h, record_hash(1, &[1; 32], record));
        assert_ne!(h, record_hash(1, &GENESIS, b"{ }"));
    }
}
