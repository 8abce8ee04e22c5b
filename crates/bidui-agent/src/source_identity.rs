//! Which file a job's tokens came from, so that nothing else is sent, resumed or opened
//! under that job.
//!
//! Before the tokenizing pass the agent takes the source's identity — its size, modification
//! time and SHA-256 — and keeps it in `<state>/<job>/source.json`. A later run of the same
//! job (resuming an upload, or the requester reading its registry again to open its
//! results) takes the identity again and refuses to go on when it differs: the rows would
//! not be the rows the matcher holds, and the values opened would be attached to other
//! people. The file's metadata is taken again after the pass: a file written to while it
//! was read (truncated, appended to, replaced) fails the pass before anything is sealed.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SourceIdentityError {
    #[error("{}", bidui_i18n::t!("agent-error-identity-read", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("agent-error-identity-record", path = .path.display(), source = .source))]
    Record { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("agent-error-identity-damaged", path = .path.display(), reason = .reason))]
    Damaged { path: PathBuf, reason: String },
    #[error(
        "{}",
        bidui_i18n::t!("agent-error-source-replaced", path = .path.display(), what = .what, record = .record.display())
    )]
    Changed { path: PathBuf, what: SourceChange, record: PathBuf },
    #[error("{}", bidui_i18n::t!("agent-error-source-changed-while-read", path = .path.display(), what = .what))]
    ChangedWhileRead { path: PathBuf, what: SourceChange },
}

/// How a source differs from the one taken or recorded (wire-v2 §7.8), said in the reader's
/// language when the error is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceChange {
    /// Another file (device and inode) under the same path.
    Replaced,
    /// Resized while it was read.
    Resized { before: u64, after: u64 },
    /// Written to while it was read (its modification time moved).
    WrittenTo,
    /// Another size than the recorded source's.
    OtherSize { recorded: u64, now: u64 },
    /// The recorded size, another SHA-256.
    OtherContent,
}

impl std::fmt::Display for SourceChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use bidui_i18n::t;
        f.write_str(&match self {
            SourceChange::Replaced => t!("source-change-replaced"),
            SourceChange::Resized { before, after } => t!("source-change-resized", before = before, after = after),
            SourceChange::WrittenTo => t!("source-change-written-to"),
            SourceChange::OtherSize { recorded, now } => t!("source-change-other-size", recorded = recorded, now = now),
            SourceChange::OtherContent => t!("source-change-other-content"),
        })
    }
}

/// What identifies a source file's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIdentity {
    pub path: PathBuf,
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub modified_ns: i128,
    pub sha256: String,
}

/// The file's metadata that any write to it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: i128,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        let modified_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        Ok(Stamp { device: meta.dev(), inode: meta.ino(), size: meta.len(), modified_ns })
    }

    /// What differs from `before`; `None` when nothing does.
    fn change_since(&self, before: &Stamp) -> Option<SourceChange> {
        if (self.device, self.inode) != (before.device, before.inode) {
            Some(SourceChange::Replaced)
        } else if self.size != before.size {
            Some(SourceChange::Resized { before: before.size, after: self.size })
        } else if self.modified_ns != before.modified_ns {
            Some(SourceChange::WrittenTo)
        } else {
            None
        }
    }
}

/// A source's identity, taken before a pass over it; [`Taken::unchanged`] after the pass
/// says whether the file stayed the same throughout.
pub struct Taken {
    pub identity: SourceIdentity,
    stamp: Stamp,
}

impl Taken {
    /// Stats the file, then digests it whole.
    pub fn of(path: &Path) -> Result<Taken, SourceIdentityError> {
        let read_error = |source| SourceIdentityError::Read { path: path.to_owned(), source };
        let stamp = Stamp::of(path).map_err(read_error)?;
        let mut file = File::open(path).map_err(read_error)?;
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer).map_err(read_error)?;
            if n == 0 {
                break;
            }
            digest.update(&buffer[..n]);
        }
        let identity = SourceIdentity {
            path: path.to_owned(),
            size: stamp.size,
            modified_ns: stamp.modified_ns,
            sha256: hex::encode(digest.finish()),
        };
        Ok(Taken { identity, stamp })
    }

    /// Fails if the file was written to, resized or replaced since it was taken: what the
    /// pass read may not be what was digested.
    pub fn unchanged(&self) -> Result<(), SourceIdentityError> {
        let path = &self.identity.path;
        let now = Stamp::of(path).map_err(|source| SourceIdentityError::Read { path: path.clone(), source })?;
        match now.change_since(&self.stamp) {
            Some(what) => Err(SourceIdentityError::ChangedWhileRead { path: path.clone(), what }),
            None => Ok(()),
        }
    }

    /// Keeps the identity in `record` the first time; afterwards, refuses a source whose
    /// content differs from the recorded one. The modification time alone may change (a
    /// copy restored from a backup keeps its content).
    pub fn check_or_record(&self, record: &Path) -> Result<(), SourceIdentityError> {
        match std::fs::read(record) {
            Ok(bytes) => {
                let recorded: SourceIdentity = serde_json::from_slice(&bytes)
                    .map_err(|e| SourceIdentityError::Damaged { path: record.to_owned(), reason: e.to_string() })?;
                let what = if recorded.size != self.identity.size {
                    Some(SourceChange::OtherSize { recorded: recorded.size, now: self.identity.size })
                } else if recorded.sha256 != self.identity.sha256 {
                    Some(SourceChange::OtherContent)
                } else {
                    None
                };
                match what {
                    Some(what) => Err(SourceIdentityError::Changed {
                        path: self.identity.path.clone(),
                        what,
                        record: record.to_owned(),
                    }),
                    None => Ok(()),
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => self.record(record),
            Err(source) => Err(SourceIdentityError::Record { path: record.to_owned(), source }),
        }
    }

    /// Writes the record under a temporary name renamed into place.
    fn record(&self, record: &Path) -> Result<(), SourceIdentityError> {
        let error = |source| SourceIdentityError::Record { path: record.to_owned(), source };
        let temp = record.with_extension("json.partial");
        let text = serde_json::to_vec_pretty(&self.identity).expect("an identity serializes");
        std::fs::write(&temp, text).map_err(error)?;
        File::open(&temp).and_then(|f| f.sync_all()).map_err(error)?;
        std::fs::rename(&temp, record).map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_first_run_records_the_source_and_a_rerun_on_the_same_content_passes() {
        let dir = tempfile::tempdir().unwrap();
        let (source, record) = (dir.path().join("rows.csv"), dir.path().join("source.json"));
        write(&source, "id\n1\n2\n");
        Taken::of(&source).unwrap().check_or_record(&record).unwrap();
        let recorded: SourceIdentity = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        assert_eq!(recorded.size, 7);
        assert_eq!(recorded.sha256, hex::encode(ring::digest::digest(&ring::digest::SHA256, b"id\n1\n2\n")));
        // Rewritten with the same content (a restored copy): its time changed, not its rows.
        write(&source, "id\n1\n2\n");
        Taken::of(&source).unwrap().check_or_record(&record).unwrap();
    }

    #[test]
    fn a_source_shuffled_after_its_job_began_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (source, record) = (dir.path().join("rows.csv"), dir.path().join("source.json"));
        write(&source, "id\n1\n2\n");
        Taken::of(&source).unwrap().check_or_record(&record).unwrap();
        write(&source, "id\n2\n1\n");
        let error = Taken::of(&source).unwrap().check_or_record(&record).unwrap_err();
        assert!(matches!(&error, SourceIdentityError::Changed { what: SourceChange::OtherContent, .. }));
        let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string());
        assert!(en.contains("ask the operator for a new job"), "{en}");
        let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || error.to_string());
        assert!(zh.contains("请操作员新建任务") && zh.contains("大小相同，内容不同"), "{zh}");
        assert!(en.contains("same size, other content"), "{en}");
        write(&source, "id\n1\n");
        let error = Taken::of(&source).unwrap().check_or_record(&record).unwrap_err();
        let what = SourceChange::OtherSize { recorded: 7, now: 5 };
        assert!(matches!(&error, SourceIdentityError::Changed { what: w, .. } if *w == what));
        assert_eq!(bidui_i18n::in_language(bidui_i18n::Lang::En, || what.to_string()), "7 bytes then, 5 now");
        assert_eq!(bidui_i18n::in_language(bidui_i18n::Lang::Zh, || what.to_string()), "当时 7 字节，现在 5 字节");
    }

    #[test]
    fn a_source_truncated_appended_to_or_replaced_while_read_fails_the_pass() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("rows.csv");
        write(&source, "id\n1\n2\n");
        let taken = Taken::of(&source).unwrap();
        taken.unchanged().unwrap();

        std::fs::OpenOptions::new().write(true).open(&source).unwrap().set_len(3).unwrap();
        let error = taken.unchanged().unwrap_err();
        let resized = SourceChange::Resized { before: 7, after: 3 };
        assert!(matches!(&error, SourceIdentityError::ChangedWhileRead { what, .. } if *what == resized));

        let taken = Taken::of(&source).unwrap();
        std::fs::OpenOptions::new().append(true).open(&source).unwrap().write_all(b"3\n").unwrap();
        assert!(taken.unchanged().is_err(), "a file that grew while read");

        let taken = Taken::of(&source).unwrap();
        let other = dir.path().join("other.csv");
        write(&other, "id\n1\n2\n3\n");
        std::fs::rename(&other, &source).unwrap();
        let error = taken.unchanged().unwrap_err();
        assert!(matches!(&error, SourceIdentityError::ChangedWhileRead { what: SourceChange::Replaced, .. }));
        let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string());
        assert!(en.contains("the file was replaced by another"), "{en}");
    }

    #[test]
    fn a_damaged_record_is_named_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let (source, record) = (dir.path().join("rows.csv"), dir.path().join("source.json"));
        write(&source, "id\n1\n");
        write(&record, "not json");
        let error = Taken::of(&source).unwrap().check_or_record(&record).unwrap_err();
        assert!(matches!(error, SourceIdentityError::Damaged { .. }));
        assert_eq!(std::fs::read_to_string(&record).unwrap(), "not json");
    }

    use std::io::Write as _;
}
