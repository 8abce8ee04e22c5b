//! One agent's part in one job: check the operator's signed job, tokenize (and, for a
//! department, seal its allowed fields) and upload, resuming an interrupted upload, then
//! seal the submission. A department is done then. The requester waits for the results,
//! opens the sealed values with its own registry and writes them locally.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bidui_client::{job_path, path_segment, Client, ClientError, RetryPolicy};
use bidui_core::api::{
    Assignment, JobResults, JobSpec, JobState, JobStatus, PartyRole, RefusedField, SealRequest, SubmissionNotice,
    SubmissionStatus,
};
use bidui_core::wire::{ChunkBuilder, Layout, CHUNK_BYTES_TARGET};
use bidui_core::{CivilDate, KeyEpoch};
use bidui_keyfile::{Identity, KeyFileError};
use serde::Serialize;

use crate::config::AgentConfig;
use crate::epochs::{self, EpochError};
use crate::job_ids::{self, JobIdError};
use crate::open::{self, Openers, RegistryCells, RegistryColumns};
use crate::serve::Stop;
use crate::source::{Source, SourceError};
use crate::source_identity::{SourceIdentityError, Taken};
use crate::tokenize::{tokenize_source, ColumnIndex, PassCounts, ReadProgress, RowOutcome, Tokenizer};
use crate::trust::{self, JobTrustError};

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
    #[error(transparent)]
    Trust(#[from] JobTrustError),
    #[error(transparent)]
    SourceIdentity(#[from] SourceIdentityError),
    #[error("{}", bidui_i18n::t!("agent-error-no-rows", path = .path.display()))]
    NoRows { path: PathBuf },
    #[error(
        "{}",
        bidui_i18n::t!(
            "agent-error-too-few-readable",
            readable = .readable,
            rows_read = .rows_read,
            path = .path.display(),
            percent = .percent,
            report = .report.display()
        )
    )]
    TooFewReadable { path: PathBuf, readable: u64, rows_read: u64, percent: f64, report: PathBuf },
    #[error("{}", bidui_i18n::t!("agent-error-suite-mismatch", job = .job, held = .held))]
    SuiteMismatch { job: String, held: String },
    #[error("{}", bidui_i18n::t!("agent-error-source-changed", chunk = .0))]
    SourceChanged(u32),
    #[error("{}", bidui_i18n::t!("agent-error-over-cap", cap = .cap, job = .job))]
    OverCap { job: String, cap: u64 },
    #[error("{}", bidui_i18n::t!("agent-error-unmapped-field", field = format!("{:?}", .0)))]
    UnmappedField(String),
    #[error("{}", bidui_i18n::t!("agent-error-results-timeout", wait = format!("{:?}", .0)))]
    ResultsTimeout(Duration),
    #[error("{}", bidui_i18n::t!("agent-error-other-results", found = format!("{:?}", .found), asked = format!("{:?}", .asked)))]
    OtherResults { asked: String, found: String },
    #[error("{}", bidui_i18n::t!("agent-error-local", path = .path.display(), source = .source))]
    Local { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("agent-error-stopped"))]
    Stopped,
}

impl AgentError {
    /// Whether running the job again unchanged cannot help: the job, its source or the
    /// configuration needs a person first. Anything else (the matcher away, an epoch not yet
    /// delivered, a file being written) may pass on a later try.
    pub fn needs_person(&self) -> bool {
        match self {
            AgentError::Trust(_)
            | AgentError::JobId(_)
            | AgentError::NoRows { .. }
            | AgentError::TooFewReadable { .. }
            | AgentError::SuiteMismatch { .. }
            | AgentError::SourceChanged(_)
            | AgentError::OverCap { .. }
            | AgentError::UnmappedField(_)
            | AgentError::OtherResults { .. } => true,
            AgentError::SourceIdentity(error) => {
                matches!(error, SourceIdentityError::Changed { .. } | SourceIdentityError::Damaged { .. })
            }
            // The client has already retried what may pass; a refusal stays a refusal.
            AgentError::Client(error) => error.status().is_some_and(|status| (400..500).contains(&status)),
            _ => false,
        }
    }
}

pub struct RunOptions {
    pub job: String,
    /// Birth dates after this day are impossible.
    pub today: CivilDate,
    pub chunk_records: usize,
    /// How long the requester waits for the other parties before its results are ready.
    pub results_wait: Duration,
    pub progress: bool,
    /// Threads that tokenize (reading and uploading have their own).
    pub workers: usize,
    /// Seal even when fewer rows could be read than the configuration's `min_readable_share`.
    pub accept_few_readable: bool,
    /// Asked between chunks and while waiting: once stopped, the run ends with
    /// [`AgentError::Stopped`] (what was uploaded stays, and a later run resumes it).
    pub stop: Stop,
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
    /// Bytes of the chunks sent (tokens and sealed values), for benchmarks.
    #[serde(default)]
    pub bytes_sent: u64,
    pub chunks_already_held: u32,
    pub invalid_ids: BTreeMap<String, u64>,
    pub unreadable_rows: u64,
    pub attributes: Vec<String>,
    /// The job's fields sealed in every record sent (a department's; what its policy allows).
    #[serde(default)]
    pub fields_sealed: Vec<String>,
    pub fields_refused: Vec<RefusedField>,
    /// Rows with a value too long to seal: sealed without it, listed in the invalid-row report.
    #[serde(default)]
    pub values_too_long: u64,
    pub invalid_rows_file: PathBuf,
    /// The requester's opened results (`results.json`), once the job is complete.
    #[serde(default)]
    pub results_file: Option<PathBuf>,
    /// Sealed values forwarded to the requester that did not open (and were dropped): zero
    /// from an honest matcher.
    #[serde(default)]
    pub unopened: u64,
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

/// How long each ask whether the job is complete may be held by the matcher (a long poll,
/// wire-v2 §6.4): the answer comes as soon as the job completes.
const RESULTS_WAIT_PER_ASK_SECS: u64 = 25;

pub fn run(config: &AgentConfig, options: &RunOptions) -> Result<RunReport, AgentError> {
    let client = unattended_client(config)?;
    let assignment: Assignment = client.get(&format!("{}/assignment", job_path(&options.job)))?;
    run_assigned(config, options, &client, &assignment)
}

/// The agent's signed connection to the matcher, retrying for as long as an agent waits.
pub fn unattended_client(config: &AgentConfig) -> Result<Client, AgentError> {
    let identity = Identity::load(&config.identity_key)?;
    Ok(config.matcher.client(&config.party, identity)?.with_retry(RetryPolicy::UNATTENDED))
}

/// [`run`] with the assignment already fetched (`bidui agent serve` checks it against its
/// policy first, and runs exactly what it checked).
pub fn run_assigned(
    config: &AgentConfig,
    options: &RunOptions,
    client: &Client,
    assignment: &Assignment,
) -> Result<RunReport, AgentError> {
    let job_path = job_path(&options.job);
    // Everything below comes from the operator's signed spec, never from the matcher.
    let spec = trust::verified_spec(
        config.operator_key.as_deref(),
        config.custodian_key.as_deref(),
        assignment,
        &options.job,
        &config.party,
    )?;
    let role = spec.role(&config.party).expect("the verified spec names this party");
    let epochs_refused = fetch_epochs(client, config)?;
    let epoch = epochs::select(&epochs::held(&config.epochs, &config.epochs_dir()), &spec.epoch)?;
    if epoch.suite != spec.suite {
        return Err(AgentError::SuiteMismatch { job: spec.suite.to_string(), held: epoch.suite.to_string() });
    }
    let job_dir = config.state_dir.join(path_segment(&options.job));
    std::fs::create_dir_all(&job_dir).map_err(|source| AgentError::Local { path: job_dir.clone(), source })?;
    // Before any token of this job exists: a job id reused for another job would let the
    // matcher link the two jobs' tokens (spec-v1 §7.3).
    job_ids::remember(&config.state_dir, &spec, &assignment.job)?;

    let (sealed_fields, refused) = match spec.department(&config.party) {
        Some(department) => config.policy.decide(&department.fields, &spec.purpose, &config.fields),
        None => (Vec::new(), Vec::new()),
    };
    let registry_fields = match role {
        PartyRole::Requester => mapped_fields(config, &spec.requester.fields)?,
        PartyRole::Department => Vec::new(),
    };
    let mut report = RunReport {
        job: options.job.clone(),
        party: config.party.clone(),
        matcher: config.matcher.url.clone(),
        purpose: spec.purpose.clone(),
        approval: spec.approval.clone(),
        attributes: attribute_labels(&spec, &config.party),
        fields_sealed: sealed_fields.clone(),
        fields_refused: refused.clone(),
        invalid_rows_file: job_dir.join("invalid-rows.csv"),
        epochs_refused,
        ..RunReport::default()
    };

    let status: SubmissionStatus = client.get(&format!("{job_path}/submission"))?;
    let uploaded = !status.sealed;
    if uploaded {
        // The operator sees the party at work (and a decline of an earlier hold moved on).
        notify(client, &options.job, &SubmissionNotice::Reading {});
        let (started, cpu) = (Instant::now(), bidui_probe::cpu_seconds());
        let submission = Submission { spec: &spec, epoch: &epoch, sealed_fields, refused };
        upload(client, config, options, &submission, &status, &job_path, &mut report)?;
        report.upload_seconds = started.elapsed().as_secs_f64();
        report.upload_cpu_seconds = bidui_probe::cpu_seconds().zip(cpu).map_or(0.0, |(end, start)| end - start);
        report.peak_memory_kib = bidui_probe::peak_memory_kib();
        // Recorded as soon as it is sealed: what left the building is in the log even if the
        // requester's wait for its results fails or is stopped.
        record_run(&config.state_dir, &report, true)?;
    }

    // A department is done once sealed: no message it receives depends on the registry.
    if role == PartyRole::Requester {
        // The results name rows of the registry as it was tokenized: read in another order
        // (or other rows), they would attach values to the wrong people.
        let registry = Taken::of(&config.source.path)?;
        registry.check_or_record(&job_dir.join(SOURCE_RECORD))?;
        wait_until_complete(client, options, &job_path)?;
        // The registry is read again while the results come: both take a few tenths of a
        // second for a district, and the second core is free once the departments are done.
        let (results, read) = std::thread::scope(|scope| {
            let reading = scope.spawn(|| read_registry(config, registry_fields));
            let results = fetch_results(client, &spec, &job_path);
            (results, reading.join().expect("reading the registry does not panic"))
        });
        let results = results?;
        let (columns, cells) = read?;
        let path = job_dir.join("results.json");
        let opening = Opening { spec: &spec, epoch: &epoch, columns, cells, registry: &registry };
        report.unopened = open_and_write(options, opening, results, &path)?;
        report.results_file = Some(path);
        report.peak_memory_kib = bidui_probe::peak_memory_kib();
        record_run(&config.state_dir, &report, false)?;
    }
    Ok(report)
}

/// The labels of the attributes this party's records compare (every department's, for
/// the requester), each once.
fn attribute_labels(spec: &JobSpec, party: &str) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for department in spec.departments.iter().filter(|d| d.party == party || spec.requester.party == party) {
        for attribute in bidui_core::api::Attribute::expand(&department.compare) {
            if !labels.iter().any(|l| l == attribute.label()) {
                labels.push(attribute.label().to_owned());
            }
        }
    }
    labels
}

/// The requester's fields with their column headers, each mapped by the configuration.
fn mapped_fields(config: &AgentConfig, fields: &[String]) -> Result<Vec<(String, String)>, AgentError> {
    fields
        .iter()
        .map(|f| {
            let column = config.fields.get(f).ok_or_else(|| AgentError::UnmappedField(f.clone()))?;
            Ok((f.clone(), column.clone()))
        })
        .collect()
}

/// Takes up the epochs the custodian sealed to this agent (and forgets retired ones), when
/// the agent is set up to receive them.
/// Returns the sealed epochs refused, with reasons (one bad seal does not stop a run).
fn fetch_epochs(client: &Client, config: &AgentConfig) -> Result<Vec<String>, AgentError> {
    let (Some(key_path), Some(custodian)) = (&config.x25519_key, &config.custodian_key) else { return Ok(Vec::new()) };
    let custodian: [u8; 32] = hex::decode(custodian.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
        let message = bidui_i18n::Said::new(|| bidui_i18n::t!("agent-error-bad-key", key = "custodian_key"));
        EpochError::Invalid { path: PathBuf::from("custodian_key"), message }
    })?;
    let my_key = epochs::load_x25519(key_path)?;
    let delivery: bidui_core::api::EpochDelivery = client.get("/v1/epochs")?;
    let outcome = epochs::take_up(&delivery, &config.party, &my_key, &custodian, &config.epochs_dir())?;
    for kcv in &outcome.taken {
        client.post(&format!("/v1/epochs/{kcv}/ack"), &serde_json::json!({}))?;
    }
    Ok(outcome.refused)
}

/// Tells the matcher where this party's submission stands (wire-v2 §6.13). A notice only
/// informs the operator: one that fails is logged and the run goes on.
pub(crate) fn notify(client: &Client, job: &str, notice: &SubmissionNotice) {
    if let Err(error) = client.notice(job, notice) {
        let error = bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string());
        tracing::warn!(
            job = %path_segment(job),
            error = %error.escape_default(),
            "notice not delivered to the matcher; the run goes on"
        );
    }
}

/// The `uploading` notices of one pass. Chunks leave as they close, while the source is
/// still read, so the total is not known before the first one: each estimate scales the
/// chunks closed by the source's rows over the rows they hold (the source's rows are those
/// read once the reader is done, else the rows read scaled by the bytes left), and is told
/// when it is the first, when it moved by more than a tenth, and exactly once the source
/// is read (before the last chunk).
struct ChunkEstimate<'a> {
    client: &'a Client,
    job: &'a str,
    total_bytes: Option<u64>,
    /// The party's cap in the spec: a chunk holds one record at least.
    cap: u64,
    /// The estimate last told, once one was.
    told: Option<Option<u32>>,
}

impl ChunkEstimate<'_> {
    /// Chunk `closed` (counted from 1) has closed, holding the outcomes of `rows_taken`
    /// source rows, with the reader at `read`.
    fn closed(&mut self, closed: u32, rows_taken: u64, read: &ReadProgress) {
        let source_rows = source_rows(read.rows(), read.bytes(), self.total_bytes);
        let estimate = estimate_chunks(closed, rows_taken, source_rows, self.cap);
        let moved = match self.told {
            None => true,
            Some(Some(told)) => estimate.is_some_and(|e| e.abs_diff(told) * 10 > told),
            Some(None) => estimate.is_some(),
        };
        if moved {
            self.tell(estimate);
        }
    }

    /// Every chunk has closed: `chunks` is the total.
    fn exact(&mut self, chunks: u32) {
        if chunks > 0 && self.told != Some(Some(chunks)) {
            self.tell(Some(chunks));
        }
    }

    fn tell(&mut self, chunks_expected: Option<u32>) {
        notify(self.client, self.job, &SubmissionNotice::Uploading { chunks_expected });
        self.told = Some(chunks_expected);
    }
}

/// The source's rows, from the `rows` read in `bytes` of its `total_bytes`: exact once it
/// is all read, scaled by its size before; none when nothing is read or its size unknown.
fn source_rows(rows: u64, bytes: u64, total_bytes: Option<u64>) -> Option<u64> {
    let total = total_bytes.filter(|_| rows > 0 && bytes > 0)?;
    if bytes >= total {
        return Some(rows);
    }
    let scaled = (u128::from(rows) * u128::from(total)).div_ceil(u128::from(bytes));
    Some(scaled.min(u128::from(u64::MAX)) as u64)
}

/// The chunks a submission will hold, from the `closed` chunks that hold `rows_taken` of
/// the source's `source_rows`; none when those are unknown. At least the chunks closed,
/// at most `cap` (one record a chunk at least).
fn estimate_chunks(closed: u32, rows_taken: u64, source_rows: Option<u64>, cap: u64) -> Option<u32> {
    let rows = source_rows.filter(|_| rows_taken > 0)?;
    let scaled = (u128::from(closed) * u128::from(rows)).div_ceil(u128::from(rows_taken));
    let bounded = scaled.max(u128::from(closed)).min(u128::from(cap)).min(u128::from(u32::MAX));
    Some(bounded as u32)
}

/// What this party submits, from the verified spec and its local policy.
struct Submission<'a> {
    spec: &'a JobSpec,
    epoch: &'a KeyEpoch,
    sealed_fields: Vec<String>,
    refused: Vec<RefusedField>,
}

impl Submission<'_> {
    fn tokenizer(&self, config: &AgentConfig, source: &Source, today: CivilDate) -> Result<Tokenizer, AgentError> {
        let columns = ColumnIndex::resolve(source, &config.columns)?;
        Ok(match self.spec.department(&config.party) {
            Some(department) => {
                // The policy allowed only fields with a mapped column.
                let sealed = self
                    .sealed_fields
                    .iter()
                    .map(|f| Ok((f.clone(), source.column(&config.fields[f])?)))
                    .collect::<Result<_, SourceError>>()?;
                Tokenizer::department(self.epoch, self.spec, department, sealed, columns, today)
            }
            None => Tokenizer::requester(self.epoch, self.spec, columns, today),
        })
    }
}

fn upload(
    client: &Client,
    config: &AgentConfig,
    options: &RunOptions,
    submission: &Submission,
    status: &SubmissionStatus,
    job_path: &str,
    report: &mut RunReport,
) -> Result<(), AgentError> {
    let spec = submission.spec;
    // Before the first chunk: a resumed upload must read the file the first one read.
    let taken = Taken::of(&config.source.path)?;
    taken.check_or_record(&source_record(&report.invalid_rows_file))?;
    let mut source = Source::open(&config.source)?;
    let tokenizer = submission.tokenizer(config, &source, options.today)?;
    let layout: Layout = tokenizer.layout();
    debug_assert_eq!(Some(&layout), spec.layout(&config.party).as_ref());
    let cap = spec.max_records(&config.party).expect("the verified spec names this party");
    let abort_after: Option<u32> = std::env::var(ABORT_AFTER_CHUNKS).ok().and_then(|v| v.parse().ok());
    let progress = ReadProgress::new(progress_bar(options.progress, source.total_bytes()));
    let mut estimate = ChunkEstimate { client, job: &options.job, total_bytes: source.total_bytes(), cap, told: None };

    let mut pass = Pass {
        counts: PassCounts::default(),
        invalid_file: LocalCsv::create(&report.invalid_rows_file, &["row", "reason"])?,
        chunker: Chunker::new(&layout, options.chunk_records),
        cap,
        job: &spec.id,
        sealed_fields: tokenizer.sealed_fields(),
    };
    let mut digests: Vec<[u8; 32]> = Vec::new();

    // `rows_taken`: the source rows whose outcomes the chunks so far hold.
    let send = |chunk: Vec<u8>,
                rows_taken: u64,
                digests: &mut Vec<[u8; 32]>,
                report: &mut RunReport,
                estimate: &mut ChunkEstimate|
     -> Result<(), AgentError> {
        if options.stop.requested() {
            return Err(AgentError::Stopped);
        }
        let digest = bidui_client::sha256(&chunk);
        let seq = digests.len() as u32;
        estimate.closed(seq + 1, rows_taken, &progress);
        match status.chunks.get(seq as usize) {
            Some(held) if held.sha256 == hex::encode(digest) => report.chunks_already_held += 1,
            Some(_) => return Err(AgentError::SourceChanged(seq)),
            None => {
                let path = format!("{job_path}/submission/chunks/{seq}?epoch={}", spec.epoch);
                report.bytes_sent += chunk.len() as u64;
                client.put_hashed_bytes(&path, chunk, &digest)?;
                report.chunks_sent += 1;
                if abort_after.is_some_and(|n| report.chunks_sent >= n) {
                    std::process::abort();
                }
            }
        }
        digests.push(digest);
        Ok(())
    };

    tokenize_source(&mut source, &tokenizer, options.workers, &progress, |outcome| match pass.take(outcome)? {
        Some(chunk) => send(chunk, pass.counts.rows_read, &mut digests, report, &mut estimate),
        None => Ok(()),
    })?;
    let (last, counts) = pass.finish()?;
    // The source is read: the total is exact now.
    estimate.exact(digests.len() as u32 + u32::from(last.is_some()));
    if let Some(chunk) = last {
        send(chunk, counts.rows_read, &mut digests, report, &mut estimate)?;
    }
    progress.bar().finish_and_clear();
    taken.unchanged()?;
    enough_readable(config, options, &counts, &report.invalid_rows_file)?;

    let mut all = ring::digest::Context::new(&ring::digest::SHA256);
    digests.iter().for_each(|d| all.update(d));
    let seal = SealRequest {
        epoch: spec.epoch.clone(),
        chunks: digests.len() as u32,
        records: counts.records,
        digest: hex::encode(all.finish()),
        rows_read: counts.rows_read,
        invalid_ids: counts.invalid_ids.clone(),
        sealed_fields: submission.sealed_fields.clone(),
        refused: submission.refused.clone(),
    };
    client.post(&format!("{job_path}/submission/seal"), &seal)?;
    report.rows_read = counts.rows_read;
    report.records_sent = counts.records;
    report.invalid_ids = counts.invalid_ids;
    report.unreadable_rows = counts.unreadable_rows;
    report.values_too_long = counts.values_too_long;
    Ok(())
}

/// One pass's bookkeeping, row by row in source order: counts, the local invalid-row
/// report, the job's cap on records, and the chunks the records fill.
struct Pass<'a> {
    counts: PassCounts,
    invalid_file: LocalCsv,
    chunker: Chunker<'a>,
    cap: u64,
    job: &'a str,
    sealed_fields: &'a [String],
}

impl Pass<'_> {
    /// Takes one row's outcome; returns the chunk it closed, if it closed one. A record
    /// beyond the job's cap stops the pass: the submission is never sealed.
    fn take(&mut self, outcome: RowOutcome) -> Result<Option<Vec<u8>>, AgentError> {
        let counts = &mut self.counts;
        counts.rows_read += 1;
        let (row, record, invalid, too_long) = match outcome {
            RowOutcome::Unreadable(error) => {
                counts.unreadable_rows += 1;
                self.invalid_file.record_quoting_text(&[&error.row.to_string(), &error.reason.to_string()])?;
                return Ok(None);
            }
            RowOutcome::Tokenized { row, record, invalid, too_long } => (row, record, invalid, too_long),
        };
        if let Some(code) = invalid {
            *counts.invalid_ids.entry(code.to_owned()).or_default() += 1;
            self.invalid_file.record(&[&row.to_string(), code])?;
        }
        if !too_long.is_empty() {
            counts.values_too_long += 1;
            for field in too_long.iter() {
                let reason = format!("value-too-long:{}", self.sealed_fields[field]);
                self.invalid_file.record(&[&row.to_string(), &reason])?;
            }
        }
        let Some(record) = record else { return Ok(None) };
        if counts.records == self.cap {
            return Err(AgentError::OverCap { job: self.job.to_owned(), cap: self.cap });
        }
        counts.records += 1;
        Ok(self.chunker.push(record))
    }

    /// The last chunk, if any, and the pass's counts, once the invalid-row report is complete.
    fn finish(self) -> Result<(Option<Vec<u8>>, PassCounts), AgentError> {
        self.invalid_file.finish()?;
        Ok((self.chunker.finish(), self.counts))
    }
}

/// Records into chunks. A chunk closes at `chunk_records` records or at
/// [`CHUNK_BYTES_TARGET`] bytes, whichever comes first, so a chunk of sealed values stays
/// under the matcher's body limit. Deterministic, so a resumed upload cuts the same chunks.
struct Chunker<'a> {
    layout: &'a Layout,
    pending: ChunkBuilder,
    chunk_records: usize,
}

impl<'a> Chunker<'a> {
    fn new(layout: &'a Layout, chunk_records: usize) -> Chunker<'a> {
        Chunker { layout, pending: ChunkBuilder::new(layout), chunk_records }
    }

    /// Adds one encoded record; returns the chunk it closed, if it closed one.
    fn push(&mut self, record: &[u8]) -> Option<Vec<u8>> {
        self.pending.push_encoded(record);
        let full = self.pending.records() >= self.chunk_records || self.pending.len() >= CHUNK_BYTES_TARGET;
        full.then(|| {
            let next = ChunkBuilder::with_capacity(self.layout, self.pending.len());
            std::mem::replace(&mut self.pending, next).finish()
        })
    }

    /// The last chunk, unless it would be empty.
    fn finish(self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| self.pending.finish())
    }
}

/// The file in a job's state directory that keeps its source's identity.
const SOURCE_RECORD: &str = "source.json";

fn source_record(invalid_rows_file: &Path) -> PathBuf {
    invalid_rows_file.with_file_name(SOURCE_RECORD)
}

/// Refuses to seal a pass that read no rows, or too few readable ones: an export cut
/// short or in the wrong layout must not pass for a department's whole data.
fn enough_readable(
    config: &AgentConfig,
    options: &RunOptions,
    counts: &PassCounts,
    invalid_rows_file: &Path,
) -> Result<(), AgentError> {
    if options.accept_few_readable {
        return Ok(());
    }
    let path = config.source.path.clone();
    if counts.rows_read == 0 {
        return Err(AgentError::NoRows { path });
    }
    let readable = counts.rows_read - counts.unreadable_rows;
    if (readable as f64) < config.min_readable_share * counts.rows_read as f64 {
        return Err(AgentError::TooFewReadable {
            path,
            readable,
            rows_read: counts.rows_read,
            percent: config.min_readable_share * 100.0,
            report: invalid_rows_file.to_owned(),
        });
    }
    Ok(())
}

/// Polls the job until it is complete (every party sealed).
fn wait_until_complete(client: &Client, options: &RunOptions, job_path: &str) -> Result<(), AgentError> {
    let started = Instant::now();
    loop {
        let left = options.results_wait.saturating_sub(started.elapsed()).as_secs();
        let wait = left.min(RESULTS_WAIT_PER_ASK_SECS);
        let status: JobStatus = client.get(&format!("{job_path}?wait={wait}"))?;
        if status.state == JobState::Complete {
            return Ok(());
        }
        if started.elapsed() >= options.results_wait {
            return Err(AgentError::ResultsTimeout(options.results_wait));
        }
        if options.stop.requested() {
            return Err(AgentError::Stopped);
        }
        if wait == 0 {
            // Less than a second left: one more ask after it.
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The results of the complete job.
fn fetch_results(client: &Client, spec: &JobSpec, job_path: &str) -> Result<JobResults, AgentError> {
    let results: JobResults = client.get(&format!("{job_path}/results"))?;
    if results.job != spec.id {
        return Err(AgentError::OtherResults { asked: spec.id.clone(), found: results.job });
    }
    Ok(results)
}

/// Reads the registry again: the person's cells and the requester's `fields` (with their
/// column headers) of every row.
fn read_registry(
    config: &AgentConfig,
    fields: Vec<(String, String)>,
) -> Result<(RegistryColumns, RegistryCells), AgentError> {
    let mut registry = Source::open(&config.source)?;
    let columns = RegistryColumns {
        person: ColumnIndex::resolve(&registry, &config.columns)?,
        fields: fields
            .into_iter()
            .map(|(field, header)| Ok((field, registry.column(&header)?)))
            .collect::<Result<_, SourceError>>()?,
    };
    let cells = RegistryCells::read(&mut registry, &columns);
    Ok((columns, cells))
}

/// What the requester opens its results with.
struct Opening<'a> {
    spec: &'a JobSpec,
    epoch: &'a KeyEpoch,
    /// The registry's columns and cells as read again for the opening.
    columns: RegistryColumns,
    cells: RegistryCells,
    /// The registry's identity, checked against the tokenized one before the results were
    /// fetched.
    registry: &'a Taken,
}

/// Opens the results with the registry's cells and writes them to `path` (0600,
/// atomically). Returns the sealed values that did not open.
fn open_and_write(
    options: &RunOptions,
    opening: Opening<'_>,
    mut results: JobResults,
    path: &Path,
) -> Result<u64, AgentError> {
    let Opening { spec, epoch, columns, cells, registry: taken } = opening;
    let openers = Openers::new(epoch, spec, &results.sealed_fields);
    // What organises the report comes from the spec the operator signed, not from the
    // matcher's copy of it.
    results.rules = spec.rules.clone();
    results.profile = spec.profile.clone();
    results.registry_fields = spec.requester.fields.clone();
    let unopened = open::complete(&mut results, &cells, &columns, &openers, options.today);
    taken.unchanged()?;
    write_private_json(path, &results)?;
    // Freeing a district's rows, each with its maps and strings, takes a noticeable part
    // of a second that nothing waits for.
    std::thread::spawn(move || drop((results, cells)));
    Ok(unopened)
}

/// Writes `value` as JSON readable by its owner only, under a temporary name renamed into
/// place, so a reader never sees a half-written file. Compact: the results of a registry
/// of tens of thousands run to tens of megabytes, and the report is what people read.
fn write_private_json(path: &Path, value: &impl Serialize) -> Result<(), AgentError> {
    let temp = path.with_extension("json.partial");
    fn local(path: &Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
        move |source| AgentError::Local { path: path.to_owned(), source }
    }
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&temp).map_err(local(&temp))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, value).map_err(std::io::Error::from).map_err(local(&temp))?;
    let file = writer.into_inner().map_err(|e| e.into_error()).map_err(local(&temp))?;
    file.sync_all().map_err(local(&temp))?;
    std::fs::rename(&temp, path).map_err(local(path))
}

/// The pass's progress over the source's bytes: drawn when `enabled`, kept hidden
/// otherwise (its position still feeds the matcher's estimate of chunks).
fn progress_bar(enabled: bool, total: Option<u64>) -> indicatif::ProgressBar {
    if !enabled {
        let bar = indicatif::ProgressBar::hidden();
        bar.set_length(total.unwrap_or(0));
        return bar;
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

/// The agent's own record of what it sent and sealed (and refused): one JSON line per run,
/// appended.
/// Keeps one line per job in the run log (`release-log.jsonl`), replaced by a later run of
/// the same job: a rerun after a crash, or a requester fetching its results again, updates
/// the job's record instead of adding a second one. A run that found its submission
/// already sealed sent nothing, so the earlier run's counts stay.
fn record_run(state_dir: &Path, report: &RunReport, uploaded: bool) -> Result<(), AgentError> {
    #[derive(Serialize, serde::Deserialize)]
    struct Entry {
        at_unix: u64,
        #[serde(flatten)]
        report: RunReport,
    }
    let path = state_dir.join("release-log.jsonl");
    let local = |source| AgentError::Local { path: path.clone(), source };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(local(source)),
    };
    let mut lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    let at_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let earlier = lines.iter().position(|line| {
        serde_json::from_str::<serde_json::Value>(line).is_ok_and(|entry| entry["job"] == report.job.as_str())
    });
    let entry = match earlier.and_then(|i| serde_json::from_str::<Entry>(&lines[i]).ok()) {
        Some(mut entry) if !uploaded => {
            if report.results_file.is_none() {
                return Ok(());
            }
            entry.report.results_file.clone_from(&report.results_file);
            entry.report.unopened = report.unopened;
            entry.at_unix = at_unix;
            entry
        }
        _ => Entry { at_unix, report: report.clone() },
    };
    let line = serde_json::to_string(&entry).expect("the report serializes");
    match earlier {
        Some(i) => lines[i] = line,
        None => lines.push(line),
    }
    let temp = path.with_extension("jsonl.partial");
    let mut file = std::fs::File::create(&temp).map_err(local)?;
    for line in &lines {
        writeln!(file, "{line}").map_err(local)?;
    }
    file.sync_all().map_err(local)?;
    std::fs::rename(&temp, &path).map_err(local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::api::{Attribute, DepartmentSpec, RequesterSpec};
    use bidui_core::fieldseal::{open_values, SealContext, SealKind};
    use bidui_core::idnum::check_character;
    use bidui_core::wire::Chunk;
    use bidui_core::{EpochSecret, IdNumber, Suite};

    #[test]
    fn the_requester_needs_a_column_for_each_of_its_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            "party = \"veterans\"\nmatcher = \"http://127.0.0.1:1\"\nidentity_key = \"k\"\nstate_dir = \"s\"\n\
             [source]\npath = \"r.csv\"\n[columns]\nid = \"身份证号\"\n[fields]\ntown = \"镇街\"\n",
        )
        .unwrap();
        let config = AgentConfig::load(&path).unwrap();
        let asked = |fields: &[&str]| fields.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        assert_eq!(mapped_fields(&config, &asked(&["town"])).unwrap(), vec![("town".into(), "镇街".into())]);
        let error = mapped_fields(&config, &asked(&["town", "category"])).unwrap_err();
        assert!(matches!(&error, AgentError::UnmappedField(f) if f == "category"), "{error}");
    }

    /// A department's agent.toml with `extra` among its top-level keys.
    fn config_file(extra: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            format!(
                "party = \"housing\"\nmatcher = \"http://127.0.0.1:1\"\nidentity_key = \"k\"\nstate_dir = \"s\"\n\
                 {extra}[source]\npath = \"r.csv\"\n[columns]\nid = \"身份证号\"\n"
            ),
        )
        .unwrap();
        (dir, path)
    }

    fn config_with(extra: &str) -> (tempfile::TempDir, AgentConfig) {
        let (dir, path) = config_file(extra);
        (dir, AgentConfig::load(&path).unwrap())
    }

    #[test]
    fn a_pass_with_no_rows_or_mostly_unreadable_ones_does_not_seal_unless_accepted() {
        let (_dir, config) = config_with("");
        assert_eq!(config.min_readable_share, 0.9);
        let options = |accept_few_readable| RunOptions {
            job: "j".into(),
            today: CivilDate::parse("2026-12-01").unwrap(),
            chunk_records: 1,
            results_wait: Duration::ZERO,
            progress: false,
            workers: 1,
            accept_few_readable,
            stop: Stop::default(),
        };
        let counts = |rows_read, unreadable_rows| PassCounts { rows_read, unreadable_rows, ..PassCounts::default() };
        let report = Path::new("invalid-rows.csv");
        // (rows read, unreadable, sealed?)
        let cases = [(0, 0, false), (3050, 3000, false), (1000, 101, false), (1000, 100, true), (5, 0, true)];
        for (rows_read, unreadable, seals) in cases {
            let checked = enough_readable(&config, &options(false), &counts(rows_read, unreadable), report);
            assert_eq!(checked.is_ok(), seals, "{rows_read} rows, {unreadable} unreadable: {checked:?}");
            enough_readable(&config, &options(true), &counts(rows_read, unreadable), report).unwrap();
        }
        let error = enough_readable(&config, &options(false), &counts(3050, 3000), report).unwrap_err();
        // The person reads it in their language: Chinese first, English on request.
        let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || error.to_string());
        assert!(zh.contains("共 3050 行，只有 50 行能读取"), "{zh}");
        let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string());
        assert!(en.contains("only 50 of the 3050 rows"), "{en}");
        let error = enough_readable(&config, &options(false), &counts(0, 0), report).unwrap_err();
        assert!(matches!(error, AgentError::NoRows { .. }), "{error}");

        let (_dir, lenient) = config_with("min_readable_share = 0.0\n");
        enough_readable(&lenient, &options(false), &counts(3050, 3000), report).unwrap();
    }

    #[test]
    fn a_share_outside_zero_to_one_is_a_configuration_error() {
        let (_dir, path) = config_file("min_readable_share = 90\n");
        let error = bidui_i18n::in_language(bidui_i18n::Lang::En, || AgentConfig::load(&path).unwrap_err().to_string());
        assert!(error.contains("min_readable_share is 90"), "{error}");
    }

    #[test]
    fn a_rerun_of_a_job_updates_its_line_in_the_run_log_instead_of_adding_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = || std::fs::read_to_string(dir.path().join("release-log.jsonl")).unwrap();
        let entries =
            || log().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).collect::<Vec<_>>();
        let report = |job: &str, rows_read| RunReport { job: job.into(), rows_read, ..RunReport::default() };

        record_run(dir.path(), &report("a", 10), true).unwrap();
        record_run(dir.path(), &report("b", 20), true).unwrap();
        // A resumed upload of job a: its numbers replace the interrupted run's.
        record_run(dir.path(), &report("a", 11), true).unwrap();
        // A rerun that found a's submission sealed sent nothing: the log keeps the counts.
        record_run(dir.path(), &report("a", 0), false).unwrap();
        let logged = entries();
        assert_eq!(logged.len(), 2, "{}", log());
        assert_eq!((logged[0]["job"].as_str(), logged[0]["rows_read"].as_u64()), (Some("a"), Some(11)));
        assert_eq!((logged[1]["job"].as_str(), logged[1]["rows_read"].as_u64()), (Some("b"), Some(20)));

        // The requester fetching its results again records where they are, keeping the counts.
        let opened = RunReport { results_file: Some("s/b/results.json".into()), unopened: 0, ..report("b", 0) };
        record_run(dir.path(), &opened, false).unwrap();
        let logged = entries();
        assert_eq!(logged.len(), 2);
        assert_eq!(logged[1]["rows_read"], 20);
        assert_eq!(logged[1]["results_file"], "s/b/results.json");
    }

    #[test]
    fn the_chunks_expected_scale_with_the_rows_taken_within_the_closed_and_the_cap() {
        assert_eq!(estimate_chunks(1, 300, Some(3586), 10_000), Some(12));
        assert_eq!(estimate_chunks(3, 900, Some(900), 100), Some(3), "every row taken");
        assert_eq!(estimate_chunks(2, 600, Some(1000), 100), Some(4), "rounded up");
        assert_eq!(estimate_chunks(1, 1, Some(1000), 50), Some(50), "never past the cap");
        assert_eq!(estimate_chunks(4, 2000, Some(1000), 100), Some(4), "never below the chunks closed");
        assert_eq!(estimate_chunks(1, 0, Some(1000), 100), None, "no row taken yet");
        assert_eq!(estimate_chunks(1, 10, None, 100), None, "the source's rows unknown");
        assert_eq!(estimate_chunks(1, 1, Some(u64::MAX), u64::MAX), Some(u32::MAX));
    }

    #[test]
    fn the_source_rows_are_those_read_once_it_is_read_and_scaled_by_size_before() {
        assert_eq!(source_rows(3586, 500_000, Some(500_000)), Some(3586), "all read: exact");
        assert_eq!(source_rows(4096, 250, Some(1000)), Some(16_384));
        assert_eq!(source_rows(3, 300, Some(1000)), Some(10), "rounded up");
        assert_eq!(source_rows(0, 0, Some(1000)), None, "nothing read yet");
        assert_eq!(source_rows(10, 100, None), None, "a source of unknown size");
    }

    #[test]
    fn chunks_close_at_the_record_count_or_the_byte_target() {
        let layout = Layout { groups: vec![0], sealed: false };
        let mut by_count = Chunker::new(&layout, 2);
        let record = [0u8; 36];
        assert_eq!(by_count.push(&record), None);
        let chunk = by_count.push(&record).expect("two records close a chunk");
        assert_eq!(chunk.len(), 12 + 2 * 36);
        assert_eq!(by_count.finish(), None, "no empty last chunk");
        let mut by_bytes = Chunker::new(&layout, 65_536);
        let large = vec![0u8; 1 << 20];
        let closed: Vec<usize> = (0..9).filter(|_| by_bytes.push(&large).is_some()).collect();
        assert_eq!(closed, vec![3, 7], "4 MiB of records close a chunk whatever its count");
        assert!(by_bytes.finish().is_some());
    }

    /// A valid identity number of someone born on 1950-01-`day`.
    fn id_number(day: u8) -> String {
        let body: [u8; 17] = format!("1101051950010{}{:03}", day, 10 + day as u16).as_bytes().try_into().unwrap();
        let mut id = body.to_vec();
        id.push(check_character(&body));
        String::from_utf8(id).unwrap()
    }

    fn today() -> CivilDate {
        CivilDate::new(2026, 11, 29).unwrap()
    }

    /// Household's source of `people` (identity number, name, sex, status, address,
    /// phone) in `dir`, and its tokenizer in a job that asks for the three fields, with a
    /// cap of `cap` records.
    fn household(dir: &Path, people: &[[String; 6]], cap: u64) -> (JobSpec, KeyEpoch, Tokenizer, Source) {
        let path = dir.join("household.csv");
        let mut csv = String::from("身份证号,姓名,性别,户籍状态,住址,电话\n");
        for person in people {
            csv.push_str(&person.join(","));
            csv.push('\n');
        }
        std::fs::write(&path, csv).unwrap();
        let epoch = KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([7; 32]));
        let spec = JobSpec {
            id: "zc-clear".into(),
            purpose: "比对".into(),
            approval: "1".into(),
            epoch: epoch.key_check_value(),
            suite: Suite::HmacSha256,
            requester: RequesterSpec { party: "veterans".into(), fields: vec![], max_records: 10 },
            departments: vec![DepartmentSpec {
                party: "household".into(),
                compare: vec![Attribute::Name, Attribute::Sex],
                fields: vec!["status".into(), "address".into(), "phone".into()],
                max_records: cap,
            }],
            retention_hours: None,
            rules: Vec::new(),
            profile: None,
        };
        let source = Source::open(&crate::source::SourceSpec::new(&path)).unwrap();
        let columns = ColumnIndex { id: 0, name: Some(1), sex: Some(2), birth_date: None };
        let sealed = vec![("status".to_owned(), 3), ("address".to_owned(), 4), ("phone".to_owned(), 5)];
        let tokenizer = Tokenizer::department(&epoch, &spec, &spec.departments[0], sealed, columns, today());
        (spec, epoch, tokenizer, source)
    }

    fn people(count: u8) -> Vec<[String; 6]> {
        (1..=count)
            .map(|i| {
                [
                    id_number(i),
                    format!("欧阳{}", ["一", "二", "三", "四", "五"][i as usize - 1]),
                    "女".into(),
                    format!("独特户籍状态甲{i}"),
                    format!("Rue Distinctive {i}4711"),
                    format!("1391234{i:04}"),
                ]
            })
            .collect()
    }

    /// Runs the department's pass over its source as `upload` does, without the network.
    fn pass(
        dir: &Path,
        spec: &JobSpec,
        tokenizer: &Tokenizer,
        source: &mut Source,
    ) -> Result<(Vec<Vec<u8>>, PassCounts), AgentError> {
        let layout = tokenizer.layout();
        let mut pass = Pass {
            counts: PassCounts::default(),
            invalid_file: LocalCsv::create(&dir.join("invalid-rows.csv"), &["row", "reason"])?,
            chunker: Chunker::new(&layout, 2),
            cap: spec.max_records("household").unwrap(),
            job: &spec.id,
            sealed_fields: tokenizer.sealed_fields(),
        };
        let mut chunks = Vec::new();
        tokenize_source(source, tokenizer, 2, &ReadProgress::hidden(), |outcome| {
            chunks.extend(pass.take(outcome)?);
            Ok::<(), AgentError>(())
        })?;
        let (last, counts) = pass.finish()?;
        chunks.extend(last);
        Ok((chunks, counts))
    }

    #[test]
    fn a_departments_chunks_carry_no_value_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let people = people(5);
        let (spec, epoch, tokenizer, mut source) = household(dir.path(), &people, 10);
        let layout = tokenizer.layout();
        let (chunks, counts) = pass(dir.path(), &spec, &tokenizer, &mut source).unwrap();
        assert_eq!((chunks.len(), counts.records), (3, 5));

        let bytes = chunks.concat();
        // Every value, identity number and name, and fragments of them.
        let fragments = ["Distinctive", "独特", "欧阳", "13912340", "110105195001"].map(String::from);
        for clear in people.iter().flat_map(|p| p.iter().filter(|v| v.as_str() != "女")).chain(&fragments) {
            let found = bytes.windows(clear.len()).any(|w| w == clear.as_bytes());
            assert!(!found, "{clear:?} travels in clear");
        }
        // Yet every value is there, for whoever knows the person.
        let keys = epoch.pair_keys(&spec.pair("household"));
        let fields = tokenizer.sealed_fields().to_vec();
        let context = SealContext { pair: spec.pair("household"), fields: &fields };
        let mut after = 0;
        let mut opened = Vec::new();
        for chunk in &chunks {
            let decoded = Chunk::decode(chunk, &layout, after).unwrap();
            after = decoded.last_row();
            for record in decoded.records() {
                let id = IdNumber::parse(&people[record.row() as usize - 1][0], today()).unwrap();
                let person = bidui_core::token::id_message(&id);
                let values =
                    open_values(&keys.field_seal, SealKind::Id, &person, &context, record.row(), record.sealed_id())
                        .unwrap();
                opened.push(values.into_iter().map(Option::unwrap).collect::<Vec<_>>());
            }
        }
        let expected: Vec<Vec<String>> = people.iter().map(|p| p[3..].to_vec()).collect();
        assert_eq!(opened, expected);
    }

    #[test]
    fn a_value_too_long_is_reported_locally_and_sealed_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut people = people(2);
        people[1][4] = "长".repeat(bidui_core::fieldseal::MAX_VALUE_BYTES / 3 + 1);
        let (spec, _, tokenizer, mut source) = household(dir.path(), &people, 10);
        let (chunks, counts) = pass(dir.path(), &spec, &tokenizer, &mut source).unwrap();
        assert_eq!((chunks.len(), counts.records, counts.values_too_long), (1, 2, 1));
        let report = std::fs::read_to_string(dir.path().join("invalid-rows.csv")).unwrap();
        assert_eq!(report, "row,reason\n2,value-too-long:address\n");
    }

    #[test]
    fn more_records_than_the_cap_stop_the_pass_before_sealing() {
        let dir = tempfile::tempdir().unwrap();
        let (spec, _, tokenizer, mut source) = household(dir.path(), &people(5), 4);
        let error = pass(dir.path(), &spec, &tokenizer, &mut source).unwrap_err();
        assert!(matches!(error, AgentError::OverCap { cap: 4, .. }), "{error}");
        assert!(error.to_string().contains("max_records"), "{error}");
        let (spec, _, tokenizer, mut source) = household(dir.path(), &people(5), 5);
        assert_eq!(pass(dir.path(), &spec, &tokenizer, &mut source).unwrap().1.records, 5, "exactly the cap is fine");
    }

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

    #[test]
    fn results_are_written_for_their_owner_only_and_replace_a_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        std::fs::write(dir.path().join("results.json.partial"), "left by a crash").unwrap();
        write_private_json(&path, &serde_json::json!({"unopened": 0})).unwrap();
        write_private_json(&path, &serde_json::json!({"unopened": 1})).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written["unopened"], 1);
        assert!(!dir.path().join("results.json.partial").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
