//! Jobs, live: the jobs the console watches, each party's progress read from the matcher as
//! the operator, new rounds started from a job spec, and a round's report built once the
//! bureau's own agent has opened the job's results.
//!
//! What needs the operator's key, the job specs or the bureau's agent is behind
//! [`Operator`], which the `bidui` binary implements with the same code as `bidui job …`
//! and `bidui report build`; the console itself holds no key and reads no registry.
//!
//! The watched jobs are kept in `<rounds>/jobs.json` (0600, written atomically): the
//! console picks up where it was after a restart. A job's round is built into a hidden
//! folder and renamed into place as `<date>-<job>` when complete, so the rounds' listing
//! never shows half a round.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bidui_core::api::{JobSpec, JobState, JobStatus};
use serde::{Deserialize, Serialize};

use crate::{now_in_china, Console};

/// The file beside the rounds listing the jobs the console watches.
pub const JOBS_FILE: &str = "jobs.json";

/// How often the console looks whether a watched job's results have been opened.
pub const BUILD_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// At most this many jobs are watched; the oldest complete ones give way.
const MAX_WATCHED: usize = 200;

/// A job spec a round can be started from.
#[derive(Clone, Debug)]
pub struct SpecChoice {
    /// Its file name, as the form names it.
    pub file: String,
    pub spec: JobSpec,
}

/// What the console asks of the operator's side. Every error is a sentence for the page,
/// in Chinese, with nothing internal in it.
pub trait Operator: Send + Sync {
    /// The job specs a new round can be started from.
    fn specs(&self) -> Vec<SpecChoice>;
    /// The job's progress as the operator sees it (every party).
    fn status(&self, job: &str) -> Result<JobStatus, String>;
    /// Signs `spec` under the job id `job` and creates it on the matcher.
    fn create(&self, spec: &JobSpec, job: &str) -> Result<(), String>;
    /// A party's display name (the district profile's), or its code.
    fn party_name(&self, party: &str) -> String;
    /// Writes the job's report into `dir` from the results the bureau's agent opened;
    /// `Ok(false)` while they are not there yet.
    fn build_report(&self, job: &str, dir: &Path) -> Result<bool, String>;
}

/// One watched job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub job: String,
    /// When the console started (or began watching) it, China Standard Time.
    pub since: String,
    /// Started from this console, from this spec file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// The round folder built for it, once built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<String>,
    /// Why its round could not be built (for the page), until it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_error: Option<String>,
}

/// `jobs.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedJobs {
    pub jobs: Vec<Watched>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobsFileError {
    #[error("{}", bidui_i18n::t!("console-watched-unreadable", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("console-watched-damaged", path = .path.display(), source = .source))]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{}", bidui_i18n::t!("console-watched-unwritten", path = .path.display(), source = .source))]
    Write { path: PathBuf, source: std::io::Error },
}

impl WatchedJobs {
    pub fn load(rounds: &Path) -> Result<WatchedJobs, JobsFileError> {
        let path = rounds.join(JOBS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| JobsFileError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WatchedJobs::default()),
            Err(source) => Err(JobsFileError::Read { path, source }),
        }
    }

    /// Written whole under a temporary name, owner-only, then renamed into place.
    pub fn save(&self, rounds: &Path) -> Result<(), JobsFileError> {
        let path = rounds.join(JOBS_FILE);
        let write = |source| JobsFileError::Write { path: path.clone(), source };
        let mut file = tempfile::Builder::new().prefix(".jobs-").tempfile_in(rounds).map_err(write)?;
        std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(self).expect("jobs serialize"))
            .map_err(write)?;
        file.as_file().sync_all().map_err(write)?;
        file.persist(&path).map_err(|e| write(e.error))?;
        Ok(())
    }

    pub fn get(&self, job: &str) -> Option<&Watched> {
        self.jobs.iter().find(|w| w.job == job)
    }

    /// Adds a job (newest last); `false` if it is watched already. The oldest jobs whose
    /// round is built give way beyond [`MAX_WATCHED`].
    pub fn add(&mut self, watched: Watched) -> bool {
        if self.get(&watched.job).is_some() {
            return false;
        }
        self.jobs.push(watched);
        while self.jobs.len() > MAX_WATCHED {
            match self.jobs.iter().position(|w| w.round.is_some()) {
                Some(oldest) => self.jobs.remove(oldest),
                None => break,
            };
        }
        true
    }
}

/// The job id a new round of `spec` gets by default: the spec's id and the minute, so it
/// never repeats one (job ids are never reused, wire-v2 §5.3) and still reads as the same
/// job's round.
pub fn suggested_job_id(spec: &JobSpec) -> String {
    let now = now_in_china().to_minute_string();
    let stamp: String = now.chars().filter(char::is_ascii_digit).collect();
    let base: String = spec.id.chars().take(64 - stamp.len() - 1).collect();
    format!("{base}-{stamp}")
}

/// The folder name of a job's round: the date first, so rounds sort by time.
pub fn round_dir_name(job: &str) -> String {
    let now = now_in_china().to_minute_string();
    let date: String = now.chars().take(10).collect();
    format!("{date}-{}", crate::pages::segment(job))
}

/// Builds the round of every watched job whose results are opened, once; the rounds
/// listing takes it in at once.
pub fn build_ready_rounds(console: &Console) {
    let Some(operator) = console.operator.clone() else { return };
    let pending: Vec<String> = {
        let watched = console.watched.lock().expect("watched lock");
        watched.jobs.iter().filter(|w| w.round.is_none()).map(|w| w.job.clone()).collect()
    };
    for job in pending {
        if let Some((_, round)) = console.round(&job) {
            // Built by hand (`bidui report build`) into the folder: nothing to do.
            record(console, &job, |w| w.round = Some(round.name.clone()));
            continue;
        }
        let name = round_dir_name(&job);
        let building = console.dir.join(format!(".building-{name}"));
        let _ = std::fs::remove_dir_all(&building);
        match operator.build_report(&job, &building) {
            Ok(false) => {}
            Ok(true) => {
                let dir = console.dir.join(&name);
                match std::fs::rename(&building, &dir) {
                    Ok(()) => {
                        eprintln!(
                            "{} round-built job={} dir={}",
                            now_in_china(),
                            crate::ascii(&job),
                            crate::ascii(&name)
                        );
                        record(console, &job, |w| {
                            w.round = Some(name.clone());
                            w.build_error = None;
                        });
                        crate::refresh(console);
                    }
                    Err(e) => record(console, &job, |w| {
                        w.build_error = Some(bidui_i18n::t!("console-round-unmoved", error = e))
                    }),
                }
            }
            Err(message) => {
                let _ = std::fs::remove_dir_all(&building);
                record(console, &job, |w| w.build_error = Some(message.clone()));
            }
        }
    }
}

/// Changes one watched job and writes the list through.
fn record(console: &Console, job: &str, change: impl FnOnce(&mut Watched)) {
    let mut watched = console.watched.lock().expect("watched lock");
    let mut next = watched.clone();
    let Some(entry) = next.jobs.iter_mut().find(|w| w.job == job) else { return };
    let before = entry.clone();
    change(entry);
    if *entry == before {
        return;
    }
    match next.save(&console.dir) {
        Ok(()) => *watched = next,
        Err(e) => eprintln!("{} jobs-unwritable error=\"{}\"", now_in_china(), crate::ascii(&e.to_string())),
    }
}

/// Runs [`build_ready_rounds`] every [`BUILD_POLL`] until the process ends.
pub async fn keep_building(console: Arc<Console>) {
    let mut every = tokio::time::interval(BUILD_POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let console = console.clone();
        let _ = tokio::task::spawn_blocking(move || build_ready_rounds(&console)).await;
    }
}

/// A watched job as the jobs page shows it.
pub struct Live {
    pub watched: Watched,
    /// The matcher's answer, or why there is none; not asked once the round is built.
    pub status: Option<Result<JobStatus, String>>,
}

impl Live {
    pub fn collecting(&self) -> bool {
        matches!(&self.status, Some(Ok(s)) if s.state == JobState::Collecting)
    }
}

/// Every watched job, newest first, with the matcher's view of those not built into a
/// round yet (a built round's job is complete and stays so).
pub fn live(console: &Console, operator: &dyn Operator) -> Vec<Live> {
    let watched = console.watched.lock().expect("watched lock").clone();
    watched
        .jobs
        .into_iter()
        .rev()
        .map(|w| {
            let status = w.round.is_none().then(|| operator.status(&w.job));
            Live { watched: w, status }
        })
        .collect()
}
