//! `bidui audit show|verify`: the matcher's hash-chained audit log, read-only (the
//! matcher may be running). See `protocol-docs/keys.md` §4.

use std::path::PathBuf;

use anyhow::Context;
use bidui_core::idnum::ChinaTime;
use bidui_i18n::t;
use bidui_matcher::audit::{self, action, AuditRow, Verdict};
use serde_json::Value;

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Lists the audit records, oldest first.
    Show {
        /// The matcher's database.
        #[arg(long)]
        db: PathBuf,
        /// Only the records of this job.
        #[arg(long)]
        job: Option<String>,
        /// One JSON object per line (seq, at, actor, action, job, details, prev_hash, hash).
        #[arg(long)]
        json: bool,
    },
    /// Checks the hash chain: prints OK with the record count and the head hash, or the
    /// first broken record and why (exit status 1).
    Verify {
        /// The matcher's database.
        #[arg(long)]
        db: PathBuf,
        /// Also fail unless the chain ends at this head hash (hex), as noted earlier:
        /// reveals records cut off the end or a rewritten log.
        #[arg(long)]
        expect_head: Option<String>,
    },
}

pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Show { db, job, json } => {
            let rows = audit::read_database(&db, job.as_deref())
                .with_context(|| t!("reading-audit-log", db = db.display()))?;
            if json {
                for row in &rows {
                    println!("{}", serde_json::to_string(&json_line(row))?);
                }
            } else {
                if rows.is_empty() {
                    match job {
                        Some(job) => println!("{}", t!("audit-no-records-for-job", job = job)),
                        None => println!("{}", t!("audit-no-records")),
                    }
                }
                for row in &rows {
                    print!("{}", readable(row));
                }
            }
            Ok(())
        }
        AuditCommand::Verify { db, expect_head } => {
            let verdict = audit::verify_database(&db, expect_head.as_deref())
                .with_context(|| t!("reading-audit-log", db = db.display()))?;
            match verdict {
                Verdict::Intact(head) => {
                    // "OK" and "BROKEN" open the line whatever the language: scripts read them.
                    println!("OK: {}", t!("audit-intact", records = head.count, head = hex::encode(head.head)));
                    if expect_head.is_some() {
                        println!("{}", t!("audit-head-expected"));
                    }
                    Ok(())
                }
                Verdict::Broken(broken) => {
                    println!("BROKEN: {broken}");
                    println!("{}", t!("audit-broken", seq = broken.seq));
                    std::process::exit(1);
                }
                Verdict::HeadDiffers { found, expected, expected_seq } => {
                    println!(
                        "HEAD DIFFERS: {}",
                        t!(
                            "audit-head-differs",
                            records = found.count,
                            head = hex::encode(found.head),
                            expected = expected
                        )
                    );
                    match expected_seq {
                        Some(seq) => {
                            println!("{}", t!("audit-head-appended", seq = seq, appended = found.count as i64 - seq))
                        }
                        None => println!("{}", t!("audit-head-cut")),
                    }
                    std::process::exit(1);
                }
            }
        }
    }
}

fn json_line(row: &AuditRow) -> Value {
    let details = row.event().map_or(Value::Null, |e| e.details);
    serde_json::json!({
        "seq": row.seq,
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "job": row.job,
        "details": details,
        "prev_hash": hex::encode(&row.prev_hash),
        "hash": hex::encode(&row.hash),
    })
}

/// An action as people name it (the stable code is shown beside it).
fn label(action: &str) -> String {
    match action {
        action::ENROLL => t!("audit-action-enroll"),
        action::REVOKE => t!("audit-action-revoke"),
        action::JOB_CREATED => t!("audit-action-job-created"),
        action::SEALED => t!("audit-action-sealed"),
        action::DECLINED => t!("audit-action-declined"),
        action::RESULTS_DELIVERED => t!("audit-action-results-delivered"),
        action::CUSTODIAN_TRUSTED => t!("audit-action-custodian-trusted"),
        action::EPOCH_STORED => t!("audit-action-epoch-stored"),
        action::EPOCH_RETIRED => t!("audit-action-epoch-retired"),
        action::TOKENS_PURGED => t!("audit-action-tokens-purged"),
        action::SEALED_VALUES_PURGED => t!("audit-action-sealed-values-purged"),
        _ => String::new(),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn refused(value: &Value) -> String {
    let refused: Vec<String> = value
        .as_array()
        .map(|a| a.iter().map(|r| format!("{} ({})", text(&r["field"]), text(&r["reason"]))).collect())
        .unwrap_or_default();
    if refused.is_empty() {
        t!("none")
    } else {
        refused.join("; ")
    }
}

fn list(value: &Value) -> String {
    let items: Vec<String> = value.as_array().map(|a| a.iter().map(text).collect()).unwrap_or_default();
    if items.is_empty() {
        t!("none")
    } else {
        items.join(", ")
    }
}

fn short_key(value: &Value) -> String {
    let key = text(value);
    if key.len() > 16 {
        format!("{}…", &key[..16])
    } else {
        key
    }
}

/// Two or more lines per record: who did what when, then its particulars.
fn readable(row: &AuditRow) -> String {
    let mut out = format!(
        "#{:<5} {}  {} {}  {}",
        row.seq,
        ChinaTime::from_unix_seconds(row.at),
        row.action,
        label(&row.action),
        t!("audit-by", actor = row.actor)
    );
    if let Some(job) = &row.job {
        out.push_str(&format!("  {}", t!("audit-job", job = job)));
    }
    out.push('\n');
    let d = row.event().map_or(Value::Null, |e| e.details);
    let lines: Vec<String> = match row.action.as_str() {
        action::ENROLL | action::REVOKE => {
            let mut line = t!(
                "audit-principal",
                role = crate::principal_role(&text(&d["role"])),
                name = text(&d["name"]),
                key = short_key(&d["public_key"])
            );
            if let Some(replaced) = d.get("replaced") {
                let (role, key) = (crate::principal_role(&text(&replaced["role"])), short_key(&replaced["public_key"]));
                line.push_str(&if replaced["was_revoked"] == Value::Bool(true) {
                    t!("audit-replaces-revoked", role = role, key = key)
                } else {
                    t!("audit-replaces", role = role, key = key)
                });
            }
            vec![line]
        }
        action::JOB_CREATED => {
            let departments: Vec<String> = d["department"]
                .as_array()
                .map(|a| a.iter().map(|p| format!("{} ({})", text(&p["party"]), list(&p["fields"]))).collect())
                .unwrap_or_default();
            vec![
                t!("audit-purpose", purpose = text(&d["purpose"])),
                t!("audit-approval", approval = text(&d["approval"])),
                t!(
                    "audit-job-epoch",
                    epoch = text(&d["epoch"]),
                    suite = text(&d["suite"]),
                    requester = text(&d["requester"]["party"]),
                    fields = list(&d["requester"]["fields"])
                ),
                t!(
                    "audit-departments",
                    departments = if departments.is_empty() { t!("none") } else { departments.join("; ") }
                ),
            ]
        }
        action::SEALED => {
            let invalid: Vec<String> = d["invalid_ids"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k} {v}")).collect())
                .unwrap_or_default();
            vec![
                t!(
                    "audit-seal",
                    epoch = text(&d["epoch"]),
                    chunks = d["chunks"],
                    records = d["records"],
                    rows = d["rows_read"],
                    invalid = if invalid.is_empty() { t!("none") } else { invalid.join(", ") }
                ),
                t!("audit-fields-sealed", fields = list(&d["sealed_fields"])),
                t!("audit-fields-refused", fields = refused(&d["refused"])),
            ]
        }
        action::RESULTS_DELIVERED => {
            vec![t!("audit-results-delivered", rows = d["rows"], values = d["sealed_values"])]
        }
        action::DECLINED => vec![t!("audit-declined", reason = text(&d["reason"]))],
        _ => vec![d.to_string()],
    };
    for line in lines {
        out.push_str(&format!("       {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_shown_in_china_standard_time() {
        let row = AuditRow {
            seq: 7,
            at: 1_555_631_999,
            actor: "operator".into(),
            action: action::JOB_CREATED.into(),
            job: None,
            record: String::new(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        };
        let shown = readable(&row);
        assert!(shown.starts_with("#7     2019-04-19 07:59:59 +08:00  job-created"), "{shown}");
    }

    #[test]
    fn a_decline_is_named_and_shows_its_reason() {
        let details = serde_json::json!({ "reason": "暂缓：需人工确认" });
        let event = audit::AuditEvent::new(1_555_631_999, "household", action::DECLINED, Some("j"), details);
        let row = AuditRow {
            seq: 8,
            at: event.at,
            actor: event.actor.clone(),
            action: event.action.clone(),
            job: event.job.clone(),
            record: event.canonical_json().unwrap(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        };
        let shown = readable(&row);
        assert!(shown.contains(&format!("submission-declined {}", t!("audit-action-declined"))), "{shown}");
        assert!(shown.contains("暂缓：需人工确认"), "{shown}");
    }
}
