//! The job ids this agent has tokenized under, per epoch (spec-v1 §7.3).
//!
//! A job id enters every purpose key, so two jobs offered under one id in one epoch would
//! give the matcher tokens it can link across both. The agent keeps an append-only record
//! of (epoch, job id, digest of the operator's signed spec) in its state directory and
//! refuses to tokenize a job whose id it used before for a different spec. The same spec
//! again is a resume or a rerun of the same job, and is allowed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use bidui_core::api::{JobSpec, SignedJob};
use serde::{Deserialize, Serialize};

/// The record's file name inside the agent's state directory.
pub const RECORD_FILE: &str = "job-ids.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum JobIdError {
    #[error(
        "{}",
        bidui_i18n::t!("agent-error-job-id-reused", job = format!("{:?}", .job), epoch = .epoch, path = .path.display())
    )]
    Reused { job: String, epoch: String, path: PathBuf },
    #[error("{}", bidui_i18n::t!("agent-error-job-id-io", path = .path.display(), source = .source))]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("agent-error-job-id-damaged", line = .line, path = .path.display(), source = .source))]
    Damaged { path: PathBuf, line: usize, source: serde_json::Error },
}

/// One line of the record.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// Key check value of the epoch.
    epoch: String,
    job: String,
    /// SHA-256 of the signed spec's JSON text, hex. Lines of protocol v1 named the digest
    /// of their assignment so: read as a different job, their id stays used.
    #[serde(alias = "assignment_sha256")]
    spec_sha256: String,
}

/// SHA-256 of the job spec exactly as the operator signed it, hex: what the job asks,
/// whoever relays it.
pub fn spec_digest(signed: &SignedJob) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, signed.spec.as_bytes()))
}

/// Checks the job `spec` (verified from `signed`) under its epoch against the record in
/// `state_dir` and remembers it, durably, before the caller computes a token. Refuses a job
/// id already used under the epoch for a different signed spec.
pub fn remember(state_dir: &Path, spec: &JobSpec, signed: &SignedJob) -> Result<(), JobIdError> {
    let path = state_dir.join(RECORD_FILE);
    let entry = Entry { epoch: spec.epoch.clone(), job: spec.id.clone(), spec_sha256: spec_digest(signed) };
    for known in read(&path)? {
        if known.epoch == entry.epoch && known.job == entry.job {
            if known.spec_sha256 == entry.spec_sha256 {
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

    use super::*;

    fn spec() -> JobSpec {
        crate::test_spec("zc-2026-001")
    }

    /// The job as the matcher relays it; `remember` digests the spec text, whoever signed.
    fn signed(spec: &JobSpec) -> SignedJob {
        SignedJob { spec: serde_json::to_string(spec).unwrap(), signer: "bureau".into(), signature: "00".into() }
    }

    fn remember_spec(dir: &Path, spec: &JobSpec) -> Result<(), JobIdError> {
        remember(dir, spec, &signed(spec))
    }

    fn record(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(RECORD_FILE)).unwrap()
    }

    #[test]
    fn the_same_job_again_is_allowed_and_remembered_once() {
        let dir = tempfile::tempdir().unwrap();
        remember_spec(dir.path(), &spec()).unwrap();
        let first = record(dir.path());
        assert_eq!(first.lines().count(), 1);
        // A resume finds the same signed job again.
        remember_spec(dir.path(), &spec()).unwrap();
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
        remember_spec(dir.path(), &spec()).unwrap();
        let before = record(dir.path());
        let mut changed = Vec::new();
        let mut more_fields = spec();
        more_fields.departments[0].fields.push("address".into());
        changed.push(more_fields);
        let mut fewer_attributes = spec();
        fewer_attributes.departments[0].compare.clear();
        changed.push(fewer_attributes);
        changed.push(JobSpec { purpose: "something else".into(), ..spec() });
        let mut higher_cap = spec();
        higher_cap.requester.max_records = 1_000_000;
        changed.push(higher_cap);
        for changed in changed {
            let error = remember_spec(dir.path(), &changed).unwrap_err();
            assert!(matches!(error, JobIdError::Reused { .. }), "{error}");
            let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string());
            assert!(en.contains("reused job id"), "{en}");
            let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || error.to_string());
            assert!(zh.contains("任务编号已经用过"), "{zh}");
        }
        assert_eq!(record(dir.path()), before);
    }

    #[test]
    fn the_id_is_free_again_under_another_epoch_and_other_ids_are_independent() {
        let dir = tempfile::tempdir().unwrap();
        remember_spec(dir.path(), &spec()).unwrap();
        let mut other_fields = spec();
        other_fields.departments[0].fields.clear();
        remember_spec(dir.path(), &JobSpec { epoch: "fedcba9876543210".into(), ..other_fields.clone() }).unwrap();
        remember_spec(dir.path(), &JobSpec { id: "zc-2026-002".into(), ..other_fields }).unwrap();
        assert_eq!(record(dir.path()).lines().count(), 3);
    }

    #[test]
    fn a_damaged_record_stops_the_run_rather_than_forgetting_jobs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RECORD_FILE), "{\"epoch\":\"0123\"\n").unwrap();
        let error = remember_spec(dir.path(), &spec()).unwrap_err();
        assert!(matches!(error, JobIdError::Damaged { line: 1, .. }), "{error}");
    }

    #[test]
    fn a_protocol_v1_line_keeps_its_id_used() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = format!(
            "{{\"epoch\":\"0123456789abcdef\",\"job\":\"zc-2026-001\",\"assignment_sha256\":\"{}\"}}\n",
            "ab".repeat(32)
        );
        std::fs::write(dir.path().join(RECORD_FILE), v1).unwrap();
        assert!(matches!(remember_spec(dir.path(), &spec()), Err(JobIdError::Reused { .. })));
    }

    #[test]
    fn the_digest_is_the_spec_texts_whoever_signed_it() {
        let digest = spec_digest(&signed(&spec()));
        let resigned = SignedJob { signer: "other".into(), signature: "ff".into(), ..signed(&spec()) };
        assert_eq!(digest, spec_digest(&resigned));
        assert_ne!(digest, spec_digest(&signed(&JobSpec { approval: "other".into(), ..spec() })));
        assert_eq!(digest.len(), 64);
    }
}
