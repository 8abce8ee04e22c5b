//! The job ids this agent has tokenized under, per epoch (spec-v1 §7.3).
//!
//! A job id enters every purpose key, so two jobs offered under one id in one epoch would
//! give the matcher tokens it can link across both. The agent keeps an append-only record
//! of (epoch, job id, assignment digest) in its state directory and refuses to tokenize a
//! job whose id it used before for a different assignment. The same assignment again is a
//! resume or a rerun of the same job, and is allowed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use bidui_core::api::Assignment;
use serde::{Deserialize, Serialize};

/// The record's file name inside the agent's state directory.
pub const RECORD_FILE: &str = "job-ids.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum JobIdError {
    #[error(
        "the matcher offered a reused job id: this agent already tokenized a different job {job:?} under epoch \
         {epoch} (remembered in {path}); tokens of two jobs under one id could be linked, so nothing was \
         tokenized or sent. Ask the operator to create the job under a new id"
    )]
    Reused { job: String, epoch: String, path: PathBuf },
    #[error("cannot read or write the job id record {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "line {line} of the job id record {path} is damaged ({source}); it guards against reused job ids, so \
         restore it from a backup rather than deleting it"
    )]
    Damaged { path: PathBuf, line: usize, source: serde_json::Error },
}

/// One line of the record.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// Key check value of the epoch.
    epoch: String,
    job: String,
    /// SHA-256 of the assignment as received, without its state (see [`assignment_digest`]), hex.
    assignment_sha256: String,
}

/// SHA-256 over the assignment's JSON with its members in sorted order. The job's state is
/// left out: it moves on while a job is resumed, and is not part of what the job asks.
pub fn assignment_digest(assignment: &Assignment) -> String {
    let mut value = serde_json::to_value(assignment).expect("an assignment serializes");
    if let serde_json::Value::Object(members) = &mut value {
        members.remove("state");
    }
    let sorted = serde_json::to_vec(&sort_members(value)).expect("a JSON value serializes");
    hex::encode(ring::digest::digest(&ring::digest::SHA256, &sorted))
}

/// The value with every object's members sorted by name, whatever map order serde_json keeps.
fn sort_members(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(members) => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                members.into_iter().map(|(name, value)| (name, sort_members(value))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sort_members).collect()),
        other => other,
    }
}

/// Checks `job` under `assignment.epoch` against the record in `state_dir` and remembers
/// it, durably, before the caller computes a token. Refuses a job id already used under the
/// epoch for a different assignment.
pub fn remember(state_dir: &Path, job: &str, assignment: &Assignment) -> Result<(), JobIdError> {
    let path = state_dir.join(RECORD_FILE);
    let entry = Entry {
        epoch: assignment.epoch.clone(),
        job: job.to_owned(),
        assignment_sha256: assignment_digest(assignment),
    };
    for known in read(&path)? {
        if known.epoch == entry.epoch && known.job == entry.job {
            if known.assignment_sha256 == entry.assignment_sha256 {
                return Ok(());
            }
            return Err(JobIdError::Reused { job: entry.job, epoch: entry.epoch, path });
        }
    }
    let io = |source| JobIdError::Io { path: path.clone(), source };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    // The record tells which jobs this agent took part in: its owner's business only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    let line = serde_json::to_string(&entry).expect("an entry serializes");
    // Synced before any token exists, so a crash cannot forget a job whose tokens left.
    writeln!(file, "{line}").and_then(|()| file.sync_data()).map_err(io)
}

fn read(path: &Path) -> Result<Vec<Entry>, JobIdError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(JobIdError::Io { path: path.to_owned(), source }),
    };
    let mut entries = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| JobIdError::Io { path: path.to_owned(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = serde_json::from_str(&line).map_err(|source| JobIdError::Damaged {
            path: path.to_owned(),
            line: index + 1,
            source,
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use bidui_core::api::{Attribute, JobState, PartyRole};
    use bidui_core::Suite;

    use super::*;

    fn assignment() -> Assignment {
        Assignment {
            job: "zc-2026-001".into(),
            purpose: "veterans' welfare check".into(),
            approval: "民政〔2026〕1号".into(),
            role: PartyRole::Department,
            suite: Suite::HmacSha256,
            epoch: "0123456789abcdef".into(),
            attributes: vec![Attribute::Sex],
            fields: vec!["status".into()],
            state: JobState::Collecting,
        }
    }

    fn record(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(RECORD_FILE)).unwrap()
    }

    #[test]
    fn the_same_job_again_is_allowed_and_remembered_once() {
        let dir = tempfile::tempdir().unwrap();
        remember(dir.path(), "zc-2026-001", &assignment()).unwrap();
        let first = record(dir.path());
        assert_eq!(first.lines().count(), 1);
        // A resume finds the job further on: still the same job.
        let resumed = Assignment { state: JobState::Releasing, ..assignment() };
        remember(dir.path(), "zc-2026-001", &resumed).unwrap();
        assert_eq!(record(dir.path()), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(RECORD_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_different_job_under_a_used_id_and_epoch_is_refused_and_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        remember(dir.path(), "zc-2026-001", &assignment()).unwrap();
        let before = record(dir.path());
        for changed in [
            Assignment { fields: vec!["status".into(), "address".into()], ..assignment() },
            Assignment { attributes: vec![], ..assignment() },
            Assignment { purpose: "something else".into(), ..assignment() },
            Assignment { role: PartyRole::Requester, ..assignment() },
        ] {
            let error = remember(dir.path(), "zc-2026-001", &changed).unwrap_err();
            assert!(matches!(error, JobIdError::Reused { .. }), "{error}");
            assert!(error.to_string().contains("reused job id"), "{error}");
        }
        assert_eq!(record(dir.path()), before);
    }

    #[test]
    fn the_id_is_free_again_under_another_epoch_and_other_ids_are_independent() {
        let dir = tempfile::tempdir().unwrap();
        remember(dir.path(), "zc-2026-001", &assignment()).unwrap();
        let other_fields = Assignment { fields: vec![], ..assignment() };
        remember(dir.path(), "zc-2026-001", &Assignment { epoch: "fedcba9876543210".into(), ..other_fields.clone() })
            .unwrap();
        remember(dir.path(), "zc-2026-002", &other_fields).unwrap();
        assert_eq!(record(dir.path()).lines().count(), 3);
    }

    #[test]
    fn a_damaged_record_stops_the_run_rather_than_forgetting_jobs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RECORD_FILE), "{\"epoch\":\"0123\"\n").unwrap();
        let error = remember(dir.path(), "zc-2026-001", &assignment()).unwrap_err();
        assert!(matches!(error, JobIdError::Damaged { line: 1, .. }), "{error}");
    }

    #[test]
    fn the_digest_ignores_the_state_and_nothing_else() {
        let digest = assignment_digest(&assignment());
        assert_eq!(digest, assignment_digest(&Assignment { state: JobState::Complete, ..assignment() }));
        assert_ne!(digest, assignment_digest(&Assignment { approval: "other".into(), ..assignment() }));
        assert_eq!(digest.len(), 64);
    }
}
