//! One agent's part in one job: tokenize and upload (resuming an interrupted upload),
//! seal, then release the allowed fields of the rows that matched.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bidui_client::{path_segment, Client, ClientError};
use bidui_core::api::{
    Assignment, RefusedField, ReleaseRequest, ReleaseUpload, ReleasedRecord, SealRequest, SubmissionStatus,
};
use bidui_core::wire::ChunkBuilder;
use bidui_core::CivilDate;
use bidui_keyfile::{Identity, KeyFileError};
use serde::Serialize;

use crate::config::AgentConfig;
use crate::epochs::{self, EpochError};
use crate::job_ids::{self, JobIdError};
use crate::source::{Source, SourceError};
use crate::tokenize::{tokenize_source, ColumnIndex, PassCounts, RowOutcome, Tokenizer};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Epoch(#[from] EpochError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    JobId(#[from] JobIdError),
    #[error("the job uses suite {job} but the epoch file holds a {held} secret")]
    SuiteMismatch { job: String, held: String },
    #[error(
        "chunk {0} differs from the one the matcher holds from the interrupted upload: the source file or \
             --chunk-records changed since; the matcher keeps what it has, so restore them or ask the operator for a \
             new job"
    )]
    SourceChanged(u32),
    #[error("the release round did not open within {0:?}: are all parties done uploading? (`bidui job status`)")]
    ReleaseTimeout(Duration),
    #[error("cannot write the local file {path}: {source}")]
    Local { path: PathBuf, source: std::io::Error },
}

pub struct RunOptions {
    pub job: String,
    /// Birth dates after this day are impossible.
    pub today: CivilDate,
    pub chunk_records: usize,
    /// How long to wait for the other parties before the release round.
    pub release_wait: Duration,
    pub progress: bool,
    /// Threads that tokenize (reading and uploading have their own).
    pub workers: usize,
}

/// What left the building, printed at the end and kept in the local log.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct RunReport {
    pub job: String,
    pub party: String,
    pub matcher: String,
    pub purpose: String,
    pub approval: String,
    pub rows_read: u64,
    pub records_sent: u64,
    pub chunks_sent: u32,
    pub chunks_already_held: u32,
    pub invalid_ids: BTreeMap<String, u64>,
    pub unreadable_rows: u64,
    pub attributes: Vec<String>,
    pub fields_released: Vec<String>,
    pub fields_refused: Vec<RefusedField>,
    pub records_released: u64,
    pub invalid_rows_file: PathBuf,
    /// Wall time of the tokenize-and-upload pass (0 when the submission was already sealed).
    pub upload_seconds: f64,
    /// CPU time of that pass, all threads.
    #[serde(default)]
    pub upload_cpu_seconds: f64,
    /// The process's peak resident memory so far (Linux), for benchmarks.
    #[serde(default)]
    pub peak_memory_kib: Option<u64>,
    /// Sealed epochs addressed to this agent that it refused, and why.
    #[serde(default)]
    pub epochs_refused: Vec<String>,
}

/// Test-only fault injection: abort the process after this many chunk uploads, the way a
/// crash or a killed agent would stop, so tests can show an upload resumes losslessly.
const ABORT_AFTER_CHUNKS: &str = "BIDUI_TEST_ABORT_AFTER_CHUNKS";

pub fn run(config: &AgentConfig, options: &RunOptions) -> Result<RunReport, AgentError> {
    let identity = Identity::load(&config.identity_key)?;
    let client = config.matcher.client(&config.party, identity)?;
    let job_path = format!("/v1/jobs/{}", path_segment(&options.job));
    let assignment: Assignment = client.get(&format!("{job_path}/assignment"))?;
    let epochs_refused = fetch_epochs(&client, config)?;
    let epoch = epochs::select(&epochs::held(&config.epochs, &config.epochs_dir()), &assignment.epoch)?;
    if epoch.suite != assignment.suite {
        return Err(AgentError::SuiteMismatch { job: assignment.suite.to_string(), held: epoch.suite.to_string() });
    }
    let job_dir = config.state_dir.join(path_segment(&options.job));
    std::fs::create_dir_all(&job_dir).map_err(|source| AgentError::Local { path: job_dir.clone(), source })?;
    // Before any token of this job exists: a job id reused for another job would let the
    // matcher link the two jobs' tokens (spec-v1 §7.3).
    job_ids::remember(&config.state_dir, &options.job, &assignment)?;

    let mut report = RunReport {
        job: options.job.clone(),
        party: config.party.clone(),
        matcher: config.matcher.url.clone(),
        purpose: assignment.purpose.clone(),
        approval: assignment.approval.clone(),
        attributes: assignment.attributes.iter().map(|a| a.label().to_owned()).collect(),
        invalid_rows_file: job_dir.join("invalid-rows.csv"),
        epochs_refused,
        ..RunReport::default()
    };

    let status: SubmissionStatus = client.get(&format!("{job_path}/submission"))?;
    if !status.sealed {
        let keys = epoch.job_keys(&options.job);
        let (started, cpu) = (Instant::now(), bidui_probe::cpu_seconds());
        upload(&client, config, options, &assignment, &status, keys, &job_path, &mut report)?;
        report.upload_seconds = started.elapsed().as_secs_f64();
        report.upload_cpu_seconds = bidui_probe::cpu_seconds().zip(cpu).map_or(0.0, |(end, start)| end - start);
    }

    release(&client, config, options, &assignment, &job_path, &mut report)?;
    report.peak_memory_kib = bidui_probe::peak_memory_kib();
    append_log(&config.state_dir, &report)?;
    Ok(report)
}

/// Takes up the epochs the custodian sealed to this agent (and forgets retired ones), when
/// the agent is set up to receive them.
/// Returns the sealed epochs refused, with reasons (one bad seal does not stop a run).
fn fetch_epochs(client: &Client, config: &AgentConfig) -> Result<Vec<String>, AgentError> {
    let (Some(key_path), Some(custodian)) = (&config.x25519_key, &config.custodian_key) else { return Ok(Vec::new()) };
    let custodian: [u8; 32] = hex::decode(custodian.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
        EpochError::Invalid { path: PathBuf::from("custodian_key"), message: "not 64 hex digits".into() }
    })?;
    let my_key = epochs::load_x25519(key_path)?;
    let delivery: bidui_core::api::EpochDelivery = client.get("/v1/epochs")?;
    let outcome = epochs::take_up(&delivery, &config.party, &my_key, &custodian, &config.epochs_dir())?;
    for kcv in &outcome.taken {
        client.post(&format!("/v1/epochs/{kcv}/ack"), &serde_json::json!({}))?;
    }
    Ok(outcome.refused)
}

#[allow(clippy::too_many_arguments)]
fn upload(
    client: &Client,
    config: &AgentConfig,
    options: &RunOptions,
    assignment: &Assignment,
    status: &SubmissionStatus,
    keys: bidui_core::JobKeys,
    job_path: &str,
    report: &mut RunReport,
) -> Result<(), AgentError> {
    let mut source = Source::open(&config.source)?;
    let columns = ColumnIndex::resolve(&source, &config.columns)?;
    let tokenizer = Tokenizer::new(keys, assignment.attributes.clone(), columns, options.today);
    let attr_count = assignment.attributes.len();
    let abort_after: Option<u32> = std::env::var(ABORT_AFTER_CHUNKS).ok().and_then(|v| v.parse().ok());
    let progress = progress_bar(options.progress, source.total_bytes());

    let invalid_path = report.invalid_rows_file.clone();
    let mut invalid_file = LocalCsv::create(&invalid_path, &["row", "reason"])?;
    let mut counts = PassCounts::default();
    let mut digests: Vec<[u8; 32]> = Vec::new();
    let mut pending = ChunkBuilder::new(attr_count);

    let flush =
        |pending: &mut ChunkBuilder, digests: &mut Vec<[u8; 32]>, report: &mut RunReport| -> Result<(), AgentError> {
            if pending.records() == 0 {
                return Ok(());
            }
            let bytes = std::mem::replace(pending, ChunkBuilder::new(attr_count)).finish();
            let digest = bidui_client::sha256(&bytes);
            let seq = digests.len() as u32;
            match status.chunks.get(seq as usize) {
                Some(held) if held.sha256 == hex::encode(digest) => report.chunks_already_held += 1,
                Some(_) => return Err(AgentError::SourceChanged(seq)),
                None => {
                    let path = format!("{job_path}/submission/chunks/{seq}?epoch={}", assignment.epoch);
                    client.put_hashed_bytes(&path, bytes, &digest)?;
                    report.chunks_sent += 1;
                    if abort_after.is_some_and(|n| report.chunks_sent >= n) {
                        std::process::abort();
                    }
                }
            }
            digests.push(digest);
            Ok(())
        };

    tokenize_source(&mut source, &tokenizer, options.workers, &progress, |outcome| {
        counts.rows_read += 1;
        let (row, record, invalid) = match outcome {
            RowOutcome::Unreadable(error) => {
                counts.unreadable_rows += 1;
                return invalid_file.record_quoting_text(&[&error.row.to_string(), &error.reason]);
            }
            RowOutcome::Tokenized { row, record, invalid } => (row, record, invalid),
        };
        if let Some(code) = invalid {
            *counts.invalid_ids.entry(code.to_owned()).or_default() += 1;
            invalid_file.record(&[&row.to_string(), code])?;
        }
        if let Some(record) = record {
            counts.records += 1;
            pending.push_encoded(record);
            if pending.records() == options.chunk_records {
                flush(&mut pending, &mut digests, report)?;
            }
        }
        Ok(())
    })?;
    flush(&mut pending, &mut digests, report)?;
    progress.finish_and_clear();
    invalid_file.finish()?;

    let mut all = ring::digest::Context::new(&ring::digest::SHA256);
    digests.iter().for_each(|d| all.update(d));
    let seal = SealRequest {
        epoch: assignment.epoch.clone(),
        chunks: digests.len() as u32,
        records: counts.records,
        digest: hex::encode(all.finish()),
        rows_read: counts.rows_read,
        invalid_ids: counts.invalid_ids.clone(),
    };
    client.post(&format!("{job_path}/submission/seal"), &seal)?;
    report.rows_read = counts.rows_read;
    report.records_sent = counts.records;
    report.invalid_ids = counts.invalid_ids;
    report.unreadable_rows = counts.unreadable_rows;
    Ok(())
}

fn release(
    client: &Client,
    config: &AgentConfig,
    options: &RunOptions,
    assignment: &Assignment,
    job_path: &str,
    report: &mut RunReport,
) -> Result<(), AgentError> {
    let started = Instant::now();
    let request: ReleaseRequest = loop {
        match client.get(&format!("{job_path}/release")) {
            Ok(request) => break request,
            Err(e) if e.code() == Some("not-ready") && started.elapsed() < options.release_wait => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) if e.code() == Some("not-ready") => return Err(AgentError::ReleaseTimeout(options.release_wait)),
            Err(e) => return Err(e.into()),
        }
    };
    let mut fields = Vec::new();
    let mut refused = Vec::new();
    for field in &request.fields {
        match config.policy.refusal(field, &assignment.purpose, &config.fields) {
            Some(reason) => refused.push(RefusedField { field: field.clone(), reason }),
            None => fields.push(field.clone()),
        }
    }
    let records = if fields.is_empty() || request.rows.is_empty() {
        Vec::new()
    } else {
        released_values(config, &fields, &request.rows)?
    };
    report.records_released = records.len() as u64;
    report.fields_released = fields.clone();
    report.fields_refused = refused.clone();
    let upload = ReleaseUpload { fields, refused, records };
    client.post(&format!("{job_path}/release"), &upload)?;
    Ok(())
}

/// Reads the allowed fields of exactly the matched rows.
fn released_values(config: &AgentConfig, fields: &[String], rows: &[u32]) -> Result<Vec<ReleasedRecord>, AgentError> {
    let mut source = Source::open(&config.source)?;
    let columns: Vec<Option<usize>> =
        fields.iter().map(|f| source.column(&config.fields[f]).map(Some)).collect::<Result<_, _>>()?;
    let wanted: HashSet<u32> = rows.iter().copied().collect();
    let mut records = Vec::with_capacity(rows.len());
    let (mut text, mut ends) = (String::new(), Vec::with_capacity(columns.len()));
    loop {
        text.clear();
        ends.clear();
        let Some(next) = source.next_cells(&columns, &mut text, &mut ends) else { break };
        let Ok(number) = next else { continue };
        if !wanted.contains(&number) {
            continue;
        }
        let mut start = 0;
        let values = ends
            .iter()
            .map(|&end| {
                let value = text[start..end].trim();
                start = end;
                (!value.is_empty()).then(|| value.to_owned())
            })
            .collect();
        records.push(ReleasedRecord { row: number, values });
    }
    Ok(records)
}

fn progress_bar(enabled: bool, total: Option<u64>) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} tokenizing {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
        .expect("valid progress template"),
    );
    bar
}

/// A local CSV report written to a temporary name and renamed when complete, so a crash
/// never leaves a half-written report that looks whole.
struct LocalCsv {
    path: PathBuf,
    temp: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    /// The record being written, reused.
    line: Vec<u8>,
}

impl LocalCsv {
    fn create(path: &Path, header: &[&str]) -> Result<LocalCsv, AgentError> {
        let temp = path.with_extension("csv.partial");
        let file = std::fs::File::create(&temp).map_err(|source| AgentError::Local { path: temp.clone(), source })?;
        let mut csv = LocalCsv { path: path.to_owned(), temp, file: std::io::BufWriter::new(file), line: Vec::new() };
        csv.record(header)?;
        Ok(csv)
    }

    /// Writes a record, quoting a field only where CSV needs it.
    fn record(&mut self, fields: &[&str]) -> Result<(), AgentError> {
        self.write(csv::QuoteStyle::Necessary, fields)
    }

    /// Writes a record whose text fields are quoted whether CSV needs it or not, numbers
    /// bare: free text, such as a row's reason, has always been quoted in these reports.
    fn record_quoting_text(&mut self, fields: &[&str]) -> Result<(), AgentError> {
        self.write(csv::QuoteStyle::NonNumeric, fields)
    }

    fn write(&mut self, quoting: csv::QuoteStyle, fields: &[&str]) -> Result<(), AgentError> {
        // The csv crate sets quoting per writer, so each record has its own small writer.
        // It writes into `line` rather than the file, as flushing it would flush the file.
        self.line.clear();
        let mut writer =
            csv::WriterBuilder::new().quote_style(quoting).buffer_capacity(256).from_writer(&mut self.line);
        let written = writer.write_record(fields).map_err(std::io::Error::from).and_then(|()| writer.flush());
        drop(writer);
        written
            .and_then(|()| self.file.write_all(&self.line))
            .map_err(|source| AgentError::Local { path: self.temp.clone(), source })
    }

    fn finish(mut self) -> Result<(), AgentError> {
        self.file.flush().map_err(|source| AgentError::Local { path: self.temp.clone(), source })?;
        std::fs::rename(&self.temp, &self.path).map_err(|source| AgentError::Local { path: self.path.clone(), source })
    }
}

/// The agent's own record of what it released: one JSON line per run, appended.
fn append_log(state_dir: &Path, report: &RunReport) -> Result<(), AgentError> {
    #[derive(Serialize)]
    struct Entry<'a> {
        at_unix: u64,
        #[serde(flatten)]
        report: &'a RunReport,
    }
    let path = state_dir.join("release-log.jsonl");
    let at_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let line = serde_json::to_string(&Entry { at_unix, report }).expect("the report serializes");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| AgentError::Local { path: path.clone(), source })?;
    writeln!(file, "{line}").map_err(|source| AgentError::Local { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invalid_rows_report_quotes_reasons_always_and_codes_never() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("invalid-rows.csv");
        let mut report = LocalCsv::create(&path, &["row", "reason"]).unwrap();
        report.record(&["2", "excel-mangled"]).unwrap();
        report.record_quoting_text(&["3", "line 4 has bytes that are not valid gbk"]).unwrap();
        report.record_quoting_text(&["5", "merged cells, cannot read"]).unwrap();
        report.record_quoting_text(&["8", "a quote (\") that is never closed"]).unwrap();
        report.record_quoting_text(&["13", "first line\nsecond line\r\n姓名"]).unwrap();
        report.record_quoting_text(&["21", ""]).unwrap();
        assert!(!path.exists(), "the report appears only when complete");
        report.finish().unwrap();
        // Bytes as the report has always been written: a reason quoted whatever it holds,
        // its quotes doubled; the header and identity-number codes bare.
        let expected = "row,reason\n\
                        2,excel-mangled\n\
                        3,\"line 4 has bytes that are not valid gbk\"\n\
                        5,\"merged cells, cannot read\"\n\
                        8,\"a quote (\"\") that is never closed\"\n\
                        13,\"first line\nsecond line\r\n姓名\"\n\
                        21,\"\"\n";
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        assert!(!dir.path().join("invalid-rows.csv.partial").exists());
    }
}
