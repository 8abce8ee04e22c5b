//! `bidui agent serve`: the agent as a long-running service. It asks the matcher which jobs
//! still wait for it (`GET /v2/assignments`, wire-v2 §6.11), checks each signed job against
//! the configuration's `[serve]` section and local `[policy]`, runs the ones they allow with
//! [`run::run_assigned`] and holds the others for a person with a note in Chinese
//! (`<state_dir>/held/<job>.json`), telling the matcher it declined them (wire-v2 §6.13) so
//! the operator sees why. A decline notice that does not get through (the matcher away at
//! that moment) is sent again on each later poll that reaches the matcher until one does,
//! even across a restart (the note says whether it was heard); a job no longer listed is
//! forgotten.
//!
//! One job at a time, in the matcher's order (oldest first). The requester does not wait
//! inside a job: once sealed, it asks once per poll whether the job is complete and opens
//! its results when it is, so one job waiting for other parties never stops another job.
//! Restart-safe: the matcher lists only jobs this agent has not sealed, an interrupted
//! upload resumes by digest, and the requester's jobs awaiting results are kept in
//! `<state_dir>/serve-awaiting.json`. A failing job is tried again after a pause that
//! doubles (up to an hour) and does not hold up the others; a failure only a person can
//! mend holds the job. Stopping ([`Stop`]) takes effect between chunks, jobs and polls.
//!
//! Every event is one stable ASCII line on stdout: `<event> key=value …`, job ids
//! percent-encoded as in URLs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bidui_client::{job_path, path_segment, Client, Identity, RetryPolicy};
use bidui_core::api::{Assignment, Assignments, JobSpec, PartyRole, SubmissionNotice, MAX_DECLINED_REASON_CHARS};
use bidui_core::CivilDate;
use serde::{Deserialize, Serialize};

use crate::config::{AgentConfig, HoldReason};
use crate::run::{self, AgentError, RunOptions};
use crate::trust;

/// A request to stop, shared between the signal handler and the work: asked between steps,
/// and it cuts a pause short.
#[derive(Clone, Default)]
pub struct Stop(Arc<(Mutex<bool>, Condvar)>);

impl Stop {
    pub fn request(&self) {
        let (stopped, wake) = &*self.0;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
    }

    pub fn requested(&self) -> bool {
        *self.0 .0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pauses for `duration` or until a stop is requested; returns whether one was.
    pub fn pause(&self, duration: Duration) -> bool {
        let (stopped, wake) = &*self.0;
        let guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) =
            wake.wait_timeout_while(guard, duration, |stopped| !*stopped).unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error("{}", bidui_i18n::t!("agent-error-serve-local", path = .path.display(), source = .source))]
    Local { path: PathBuf, source: std::io::Error },
}

/// The longest pause before a failing job is tried again.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(3600);

/// The requester's jobs sealed but without results yet, kept across restarts.
pub const AWAITING_FILE: &str = "serve-awaiting.json";

/// The folder of notes about held jobs, in the state directory.
pub const HELD_DIR: &str = "held";

/// What a person reads about a job the service did not run: `<state_dir>/held/<job>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldNote {
    pub job: String,
    pub purpose: String,
    pub approval: String,
    pub requester: String,
    /// Stable codes, for scripts.
    pub codes: Vec<String>,
    /// Why, in Chinese, for the person.
    pub reasons: Vec<String>,
    /// The command that runs the job once a person agrees.
    pub to_run: String,
    pub held_at_unix: u64,
    /// Whether the matcher has heard the decline: until it has, it is told again each poll.
    /// A note written before this was kept was told once, as then.
    #[serde(default = "heard_before")]
    pub declined_heard: bool,
}

fn heard_before() -> bool {
    true
}

/// Decline notices the matcher has not heard yet, by job, with their reason.
#[derive(Debug, Default)]
struct Undelivered(BTreeMap<String, String>);

impl Undelivered {
    /// A notice that did not get through: due again at the next poll.
    fn failed(&mut self, job: &str, reason: String) {
        self.0.insert(job.to_owned(), reason);
    }

    /// A notice that got through; whether it had failed before.
    fn delivered(&mut self, job: &str) -> bool {
        self.0.remove(job).is_some()
    }

    /// The notices to send again at a poll that listed `listed`, at most one per job: a job
    /// no longer listed waits for this agent no more (run, or ended), so is forgotten.
    fn due(&mut self, listed: &[String]) -> Vec<(String, String)> {
        self.0.retain(|job, _| listed.contains(job));
        self.0.iter().map(|(job, reason)| (job.clone(), reason.clone())).collect()
    }
}

pub struct ServeOptions {
    /// The configuration file, named in held notes' command.
    pub config_path: PathBuf,
    /// The options of every job run; its `job` and `results_wait` are set per job.
    pub run: RunOptions,
    /// Overrides `[serve] poll_seconds`.
    pub poll: Option<Duration>,
    /// Today's date, asked before each job (birth dates after it are impossible): a
    /// service runs for months.
    pub today: fn() -> CivilDate,
}

/// A job that failed: how often, and when it may be tried again.
struct Failing {
    attempts: u32,
    due: Instant,
}

struct Service<'a> {
    config: &'a AgentConfig,
    options: &'a mut ServeOptions,
    poll: Duration,
    /// Polls with a short retry budget, so a stop is not held up by a matcher away.
    poller: Client,
    /// Runs jobs, retrying as long as an agent's upload should.
    runner: Client,
    held: BTreeSet<String>,
    failing: BTreeMap<String, Failing>,
    awaiting: BTreeSet<String>,
    undelivered: Undelivered,
}

/// Serves until `options.run.stop` is requested.
pub fn serve(config: &AgentConfig, options: &mut ServeOptions) -> Result<(), ServeError> {
    let poll = options.poll.unwrap_or(Duration::from_secs(config.serve.poll_seconds));
    let poller = config
        .matcher
        .client(&config.party, Identity::load(&config.identity_key).map_err(AgentError::from)?)
        .map_err(AgentError::from)?
        .with_retry(RetryPolicy::default());
    let runner = run::unattended_client(config)?;
    let awaiting = read_awaiting(&config.state_dir)?;
    let stop = options.run.stop.clone();
    let mut service = Service {
        config,
        options,
        poll,
        poller,
        runner,
        held: BTreeSet::new(),
        failing: BTreeMap::new(),
        awaiting,
        undelivered: Undelivered::default(),
    };
    log(&format!(
        "serve-start party={} poll_seconds={} auto_run={} awaiting_results={}",
        path_segment(&config.party),
        poll.as_secs(),
        config.serve.auto_run,
        service.awaiting.len()
    ));
    while !stop.requested() {
        service.cycle()?;
        if stop.pause(poll) {
            break;
        }
    }
    log("serve-stop");
    Ok(())
}

impl Service<'_> {
    /// One poll: the jobs waiting for this agent, then each one attended to in turn.
    fn cycle(&mut self) -> Result<(), ServeError> {
        let listed: Assignments = match self.poller.get("/v2/assignments") {
            Ok(listed) => listed,
            Err(error) => {
                // The cause by its stable code (or the refusal's), for whoever searches the log or alerts on it.
                let cause = error.cause().map(bidui_client::ConnectionCause::code).or(error.code()).unwrap_or("other");
                log(&format!("poll-failed cause={cause} error=\"{}\"", log_text(&error)));
                return Ok(());
            }
        };
        let listed: Vec<String> = listed.jobs.into_iter().map(|j| j.id).collect();
        self.clear_stale_notes(&listed)?;
        // Before any job is attended: a decline that fails below is tried at the next poll,
        // not twice in this one.
        for (job, reason) in self.undelivered.due(&listed) {
            if self.options.run.stop.requested() {
                return Ok(());
            }
            self.tell_declined(&job, reason)?;
        }
        let awaiting: Vec<String> = self.awaiting.iter().filter(|j| !listed.contains(j)).cloned().collect();
        for job in listed.iter().chain(&awaiting) {
            if self.options.run.stop.requested() {
                break;
            }
            if self.held.contains(job) || self.failing.get(job).is_some_and(|f| f.due > Instant::now()) {
                continue;
            }
            self.attend(job)?;
        }
        Ok(())
    }

    fn attend(&mut self, job: &str) -> Result<(), ServeError> {
        let assignment: Assignment = match self.runner.get(&format!("{}/assignment", job_path(job))) {
            Ok(assignment) => assignment,
            Err(error) => return self.failed(job, &AgentError::Client(error)),
        };
        let config = self.config;
        let verified = trust::verified_spec(
            config.operator_key.as_deref(),
            config.custodian_key.as_deref(),
            &assignment,
            job,
            &config.party,
        );
        let spec = match verified {
            Ok(spec) => spec,
            Err(error) => return self.hold_failed(job, None, &AgentError::Trust(error)),
        };
        let awaiting = self.awaiting.contains(job);
        // A job awaiting its results was allowed when it was run; nothing is sent any more.
        if !awaiting {
            let reasons = config.serve.hold_reasons(&spec, &config.party, &config.policy, &config.fields);
            if !reasons.is_empty() {
                let codes = reasons.iter().map(|r| r.code().to_owned()).collect();
                let explained = reasons.iter().map(HoldReason::explain).collect();
                return self.hold(job, Some(&spec), codes, explained);
            }
            let role = spec.role(&config.party).expect("the verified spec names this party");
            log(&format!("job-start job={} role={}", path_segment(job), role_name(role)));
        }
        self.options.run.job = job.to_owned();
        self.options.run.today = (self.options.today)();
        // The requester asks once whether the job is complete, then goes on to other jobs.
        self.options.run.results_wait = Duration::ZERO;
        match run::run_assigned(config, &self.options.run, &self.runner, &assignment) {
            Ok(report) => {
                self.failing.remove(job);
                self.remove_note(job)?;
                match &report.results_file {
                    Some(results) => {
                        self.set_awaiting(job, false)?;
                        log(&format!(
                            "job-done job={} results={} unopened={}",
                            path_segment(job),
                            ascii(&results.display().to_string()),
                            report.unopened
                        ));
                    }
                    None => log(&format!(
                        "job-sealed job={} rows_read={} records_sent={} chunks_sent={} chunks_already_held={} \
                         fields_sealed={} fields_refused={}",
                        path_segment(job),
                        report.rows_read,
                        report.records_sent,
                        report.chunks_sent,
                        report.chunks_already_held,
                        report.fields_sealed.len(),
                        report.fields_refused.len()
                    )),
                }
                Ok(())
            }
            Err(AgentError::ResultsTimeout(_)) => {
                self.failing.remove(job);
                if !awaiting {
                    self.set_awaiting(job, true)?;
                    log(&format!("job-awaiting-results job={}", path_segment(job)));
                }
                Ok(())
            }
            Err(AgentError::Stopped) => Ok(()),
            Err(error) if error.needs_person() => self.hold_failed(job, Some(&spec), &error),
            Err(error) => self.failed(job, &error),
        }
    }

    /// A failure that may pass: tried again after a pause that doubles with each attempt.
    fn failed(&mut self, job: &str, error: &AgentError) -> Result<(), ServeError> {
        let attempts = self.failing.get(job).map_or(0, |f| f.attempts) + 1;
        let pause = self.poll.saturating_mul(1 << (attempts - 1).min(16)).min(MAX_RETRY_PAUSE.max(self.poll));
        self.failing.insert(job.to_owned(), Failing { attempts, due: Instant::now() + pause });
        log(&format!(
            "job-failed job={} attempt={attempts} retry_in_seconds={} error=\"{}\"",
            path_segment(job),
            pause.as_secs(),
            log_text(error)
        ));
        Ok(())
    }

    fn hold_failed(&mut self, job: &str, spec: Option<&JobSpec>, error: &AgentError) -> Result<(), ServeError> {
        self.failing.remove(job);
        let reason = format!("{FAILED_REASON}：{error}");
        self.hold(job, spec, vec![NEEDS_PERSON.into()], vec![reason])
    }

    /// Writes the job's note for a person and logs it, unless the same note is there
    /// already (a restarted service): a held job is logged once, and told to the matcher
    /// until it has heard it.
    fn hold(
        &mut self,
        job: &str,
        spec: Option<&JobSpec>,
        codes: Vec<String>,
        reasons: Vec<String>,
    ) -> Result<(), ServeError> {
        self.held.insert(job.to_owned());
        let path = note_path(&self.config.state_dir, job);
        let earlier: Option<HeldNote> = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let note = match earlier.filter(|note| note.codes == codes && note.reasons == reasons) {
            Some(note) if note.declined_heard => return Ok(()),
            Some(note) => note,
            None => self.write_note(job, spec, codes, reasons)?,
        };
        // A failure's details stay in the local note (they may name local files).
        let reason = if note.codes.iter().any(|c| c == NEEDS_PERSON) {
            declined_reason(&[FAILED_REASON.to_owned()])
        } else {
            declined_reason(&note.reasons)
        };
        self.tell_declined(job, reason)
    }

    fn write_note(
        &self,
        job: &str,
        spec: Option<&JobSpec>,
        codes: Vec<String>,
        reasons: Vec<String>,
    ) -> Result<HeldNote, ServeError> {
        let path = note_path(&self.config.state_dir, job);
        let note = HeldNote {
            job: job.to_owned(),
            purpose: spec.map(|s| s.purpose.clone()).unwrap_or_default(),
            approval: spec.map(|s| s.approval.clone()).unwrap_or_default(),
            requester: spec.map(|s| s.requester.party.clone()).unwrap_or_default(),
            to_run: format!(
                "bidui agent run --config {} --job {}",
                shell_word(&self.options.config_path.display().to_string()),
                shell_word(job)
            ),
            codes,
            reasons,
            held_at_unix: unix_now(),
            declined_heard: false,
        };
        write_json(&path, &note)?;
        log(&format!(
            "job-held job={} reasons={} note={}",
            path_segment(job),
            note.codes.join(","),
            ascii(&path.display().to_string())
        ));
        Ok(note)
    }

    /// Tells the matcher the job is declined, so the operator sees it held and why. Heard,
    /// the note says so; not, it is due again at the next poll.
    fn tell_declined(&mut self, job: &str, reason: String) -> Result<(), ServeError> {
        if let Err(error) = self.poller.notice(job, &SubmissionNotice::Declined { reason: reason.clone() }) {
            log(&format!("notice-failed job={} error=\"{}\"", path_segment(job), log_text(&error)));
            self.undelivered.failed(job, reason);
            return Ok(());
        }
        if self.undelivered.delivered(job) {
            log(&format!("notice-delivered job={}", path_segment(job)));
        }
        let path = note_path(&self.config.state_dir, job);
        let note: Option<HeldNote> = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
        match note {
            Some(note) if !note.declined_heard => write_json(&path, &HeldNote { declined_heard: true, ..note }),
            _ => Ok(()),
        }
    }

    /// Notes of jobs that no longer wait for this agent (a person ran them) are removed.
    fn clear_stale_notes(&mut self, listed: &[String]) -> Result<(), ServeError> {
        let dir = self.config.state_dir.join(HELD_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
        for entry in entries.flatten() {
            let note: Option<HeldNote> = std::fs::read(entry.path()).ok().and_then(|b| serde_json::from_slice(&b).ok());
            let Some(note) = note else { continue };
            if !listed.contains(&note.job) && !self.awaiting.contains(&note.job) {
                self.held.remove(&note.job);
                self.remove_note(&note.job)?;
                log(&format!("held-cleared job={}", path_segment(&note.job)));
            }
        }
        Ok(())
    }

    fn remove_note(&mut self, job: &str) -> Result<(), ServeError> {
        let path = note_path(&self.config.state_dir, job);
        match std::fs::remove_file(&path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => Err(ServeError::Local { path, source }),
            _ => Ok(()),
        }
    }

    fn set_awaiting(&mut self, job: &str, awaiting: bool) -> Result<(), ServeError> {
        let changed = if awaiting { self.awaiting.insert(job.to_owned()) } else { self.awaiting.remove(job) };
        if changed {
            write_json(&self.config.state_dir.join(AWAITING_FILE), &self.awaiting)?;
        }
        Ok(())
    }
}

/// The hold code of a failure only a person can mend.
const NEEDS_PERSON: &str = "needs-person";

/// What a held failure says, locally before its details and to the matcher alone.
const FAILED_REASON: &str = "运行时出错，需人工处理后再运行";

/// A held note's reasons as the matcher takes a decline's (wire-v2 §6.13): one line, no
/// control character, at most [`MAX_DECLINED_REASON_CHARS`] characters (cut with `…`).
fn declined_reason(reasons: &[String]) -> String {
    let line: String =
        reasons.join("；").chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned();
    let line = if line.is_empty() { FAILED_REASON.to_owned() } else { line };
    if line.chars().count() <= MAX_DECLINED_REASON_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_DECLINED_REASON_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn role_name(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Requester => "requester",
        PartyRole::Department => "department",
    }
}

pub fn note_path(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join(HELD_DIR).join(format!("{}.json", path_segment(job)))
}

fn read_awaiting(state_dir: &Path) -> Result<BTreeSet<String>, ServeError> {
    let path = state_dir.join(AWAITING_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ServeError::Local { path, source: std::io::Error::new(std::io::ErrorKind::InvalidData, e) }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(source) => Err(ServeError::Local { path, source }),
    }
}

/// Writes `value` as JSON under a temporary name renamed into place.
fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ServeError> {
    let local = |source| ServeError::Local { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(local)?;
    }
    let temp = path.with_extension("json.partial");
    let mut bytes = serde_json::to_vec_pretty(value).expect("serializes");
    bytes.push(b'\n');
    std::fs::write(&temp, bytes).map_err(local)?;
    std::fs::rename(&temp, path).map_err(local)
}

fn log(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// An error as a log line gives it: in English whatever the person's language, so the log
/// stays readable ASCII that a person can search for.
fn log_text(error: &dyn std::fmt::Display) -> String {
    ascii(&bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string()))
}

/// `text` on one ASCII line: non-ASCII characters, quotes and line breaks escaped.
fn ascii(text: &str) -> String {
    text.escape_default().to_string()
}

/// `text` as one word for a POSIX shell.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || "-_./:=@".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_cuts_a_pause_short_and_stays_requested() {
        let stop = Stop::default();
        assert!(!stop.pause(Duration::from_millis(1)));
        let other = stop.clone();
        let waiter = std::thread::spawn(move || other.pause(Duration::from_secs(3600)));
        stop.request();
        assert!(waiter.join().unwrap(), "the hour-long pause ended on the stop");
        assert!(stop.requested());
    }

    #[test]
    fn log_values_are_one_ascii_line_and_commands_one_shell_word() {
        let escaped = ascii("源文件 \"a.csv\"\n第二行");
        assert!(escaped.is_ascii() && !escaped.contains('\n'), "{escaped}");
        assert_eq!(shell_word("/etc/bidui/agent.toml"), "/etc/bidui/agent.toml");
        assert_eq!(shell_word("zc-2026-比对"), "zc-2026-比对");
        assert_eq!(shell_word("my dir/it's"), "'my dir/it'\\''s'");
    }

    #[test]
    fn a_declined_reason_is_one_bounded_line() {
        let reasons = ["作业用途“甲”\n不在所列之中".to_owned(), "请求方“乙”不在所列之中".to_owned()];
        assert_eq!(declined_reason(&reasons), "作业用途“甲” 不在所列之中；请求方“乙”不在所列之中");
        let long = declined_reason(&["字".repeat(MAX_DECLINED_REASON_CHARS + 10)]);
        assert_eq!(long.chars().count(), MAX_DECLINED_REASON_CHARS);
        assert!(long.ends_with('…'));
        assert_eq!(declined_reason(&["\t".to_owned()]), FAILED_REASON);
    }

    #[test]
    fn a_decline_notice_that_failed_is_due_at_each_later_poll_until_delivered_or_no_longer_listed() {
        let jobs = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<String>>();
        // Each poll: the jobs listed, the notices due, and which of those get through.
        let polls: [(&[&str], &[&str], &[&str]); 5] = [
            (&["a", "b", "c"], &["a", "b"], &["b"]),
            (&["a", "b", "c"], &["a"], &[]),
            (&["a", "c"], &["a"], &["a"]),
            (&["a", "c"], &[], &[]),
            (&["c"], &["c"], &[]),
        ];
        let mut undelivered = Undelivered::default();
        undelivered.failed("a", "甲".to_owned());
        undelivered.failed("b", "乙".to_owned());
        for (n, (listed, due, heard)) in polls.into_iter().enumerate() {
            let sent = undelivered.due(&jobs(listed));
            assert_eq!(sent.iter().map(|(job, _)| job.as_str()).collect::<Vec<_>>(), due, "poll {n}");
            for (job, reason) in sent {
                if heard.contains(&job.as_str()) {
                    assert!(undelivered.delivered(&job), "poll {n}: {job}");
                } else {
                    assert!(!reason.is_empty());
                    undelivered.failed(&job, reason);
                }
            }
            if n == 3 {
                // Held at this poll, after the notices due were sent: its first one fails.
                undelivered.failed("c", "丙".to_owned());
            }
        }
        // "c" is no longer listed: forgotten, nothing is kept for a job gone.
        assert!(undelivered.due(&[]).is_empty());
        assert!(undelivered.0.is_empty());
    }

    #[test]
    fn a_note_from_before_says_its_decline_was_heard() {
        let note = r#"{"job":"a","purpose":"","approval":"","requester":"","codes":[],"reasons":[],"to_run":"","held_at_unix":1}"#;
        assert!(serde_json::from_str::<HeldNote>(note).unwrap().declined_heard);
    }

    #[test]
    fn the_notes_and_the_awaiting_jobs_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_awaiting(dir.path()).unwrap().is_empty());
        let jobs: BTreeSet<String> = ["a".to_owned(), "zc/2".to_owned()].into();
        write_json(&dir.path().join(AWAITING_FILE), &jobs).unwrap();
        assert_eq!(read_awaiting(dir.path()).unwrap(), jobs);
        assert_eq!(note_path(dir.path(), "zc/2"), dir.path().join("held/zc%2F2.json"));
    }
}
