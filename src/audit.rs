//! `bidui audit show|verify`: the matcher's hash-chained audit log, read-only (the
//! matcher may be running). See `protocol-docs/keys.md` §4.

use std::path::PathBuf;

use anyhow::Context;
use bidui_core::idnum::ChinaTime;
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
                .with_context(|| format!("reading the audit log of {}", db.display()))?;
            if json {
                for row in &rows {
                    println!("{}", serde_json::to_string(&json_line(row))?);
                }
            } else {
                if rows.is_empty() {
                    println!("no audit records{}", job.map(|j| format!(" for job {j}")).unwrap_or_default());
                }
                for row in &rows {
                    print!("{}", readable(row));
                }
            }
            Ok(())
        }
        AuditCommand::Verify { db, expect_head } => {
            let verdict = audit::verify_database(&db, expect_head.as_deref())
                .with_context(|| format!("reading the audit log of {}", db.display()))?;
            match verdict {
                Verdict::Intact(head) => {
                    println!("OK: audit chain intact, {} records, head {}", head.count, hex::encode(head.head));
                    if expect_head.is_some() {
                        println!("the head is the one expected");
                    }
                    Ok(())
                }
                Verdict::Broken(broken) => {
                    println!("BROKEN: {broken}");
                    println!(
                        "审计日志已被篡改或损坏 (the audit log was altered or damaged); records from {} on cannot be \
                         trusted",
                        broken.seq
                    );
                    std::process::exit(1);
                }
                Verdict::HeadDiffers { found, expected, expected_seq } => {
                    println!(
                        "HEAD DIFFERS: the chain verifies ({} records, head {}) but the expected head is {expected}",
                        found.count,
                        hex::encode(found.head)
                    );
                    match expected_seq {
                        Some(seq) => println!(
                            "the expected head is record {seq}: {} records were appended since it was noted, and \
                             the records up to it are unchanged",
                            found.count as i64 - seq
                        ),
                        None => println!(
                            "no record has the expected hash: records were cut off the end, or the whole log was \
                             rewritten"
                        ),
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

fn label(action: &str) -> &'static str {
    match action {
        action::ENROLL => "登记",
        action::REVOKE => "撤销",
        action::JOB_CREATED => "创建任务",
        action::SEALED => "提交封存",
        action::RESULTS_DELIVERED => "结果交付请求方",
        action::CUSTODIAN_TRUSTED => "信任密钥管理员",
        action::EPOCH_STORED => "密钥轮换投递",
        action::EPOCH_RETIRED => "密钥退役",
        action::TOKENS_PURGED => "令牌清除",
        action::SEALED_VALUES_PURGED => "封存值清除",
        _ => "",
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
        "none".into()
    } else {
        refused.join("; ")
    }
}

fn list(value: &Value) -> String {
    let items: Vec<String> = value.as_array().map(|a| a.iter().map(text).collect()).unwrap_or_default();
    if items.is_empty() {
        "none".into()
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
        "#{:<5} {}  {} {}  by {}",
        row.seq,
        ChinaTime::from_unix_seconds(row.at),
        row.action,
        label(&row.action),
        row.actor
    );
    if let Some(job) = &row.job {
        out.push_str(&format!("  job {job}"));
    }
    out.push('\n');
    let d = row.event().map_or(Value::Null, |e| e.details);
    let lines: Vec<String> = match row.action.as_str() {
        action::ENROLL | action::REVOKE => {
            let mut line = format!("{} {} key {}", text(&d["role"]), text(&d["name"]), short_key(&d["public_key"]));
            if let Some(replaced) = d.get("replaced") {
                line.push_str(&format!(
                    " (replaces {} key {}{})",
                    text(&replaced["role"]),
                    short_key(&replaced["public_key"]),
                    if replaced["was_revoked"] == Value::Bool(true) { ", which was revoked" } else { "" }
                ));
            }
            vec![line]
        }
        action::JOB_CREATED => {
            let departments: Vec<String> = d["department"]
                .as_array()
                .map(|a| a.iter().map(|p| format!("{} ({})", text(&p["party"]), list(&p["fields"]))).collect())
                .unwrap_or_default();
            vec![
                format!("用途 purpose: {}", text(&d["purpose"])),
                format!("批准文号 approval: {}", text(&d["approval"])),
                format!(
                    "epoch {} ({}); requester {} asks for {}",
                    text(&d["epoch"]),
                    text(&d["suite"]),
                    text(&d["requester"]["party"]),
                    list(&d["requester"]["fields"])
                ),
                format!(
                    "departments and fields asked: {}",
                    if departments.is_empty() { "none".into() } else { departments.join("; ") }
                ),
            ]
        }
        action::SEALED => {
            let invalid: Vec<String> = d["invalid_ids"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k} {v}")).collect())
                .unwrap_or_default();
            vec![
                format!(
                    "epoch {}: {} chunks, {} records, {} rows read; invalid identity numbers: {}",
                    text(&d["epoch"]),
                    d["chunks"],
                    d["records"],
                    d["rows_read"],
                    if invalid.is_empty() { "none".into() } else { invalid.join(", ") }
                ),
                format!("fields sealed: {}", list(&d["sealed_fields"])),
                format!("fields refused: {}", refused(&d["refused"])),
            ]
        }
        action::RESULTS_DELIVERED => {
            vec![format!("{} registry rows, {} sealed values forwarded unread", d["rows"], d["sealed_values"])]
        }
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
}
