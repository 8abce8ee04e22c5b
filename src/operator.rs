//! `bidui job …`: the district operator's commands against the matcher.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bidui_client::{path_segment, Client, MatcherEndpoint};
use bidui_core::api::{JobResults, JobSpec, JobStatus, JoinAnswer, SignedJob};
use bidui_keyfile::Identity;
use serde::Deserialize;

/// `operator.toml`: where the matcher is and who the operator is there.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// The keys `matcher`, `matcher_certificate` and `matcher_ca`.
    #[serde(flatten)]
    pub matcher: MatcherEndpoint,
    pub name: String,
    pub identity_key: PathBuf,
}

impl OperatorConfig {
    pub fn load(path: &Path) -> anyhow::Result<OperatorConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the operator configuration {}", path.display()))?;
        let mut config: OperatorConfig =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if config.identity_key.is_relative() {
            config.identity_key = base.join(&config.identity_key);
        }
        config.matcher.resolve_relative_to(base);
        Ok(config)
    }

    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(self.matcher.client(&self.name, Identity::load(&self.identity_key)?)?)
    }

    /// The job spec signed with the operator's key: the only form agents act on.
    pub fn sign(&self, spec: &JobSpec) -> anyhow::Result<SignedJob> {
        let identity = Identity::load(&self.identity_key)?;
        Ok(SignedJob::sign_with(spec, &self.name, |payload| identity.sign(payload)))
    }
}

pub fn read_spec(path: &Path) -> anyhow::Result<JobSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the job spec {}", path.display()))?;
    let spec: JobSpec =
        toml::from_str(&text).with_context(|| format!("the job spec {} is not valid", path.display()))?;
    spec.validate().with_context(|| format!("the job spec {} is not valid", path.display()))?;
    Ok(spec)
}

/// Submits a signed job; `false` when the matcher already holds this very job.
pub fn create_job(client: &Client, job: &SignedJob) -> anyhow::Result<bool> {
    let (status, _) = client.post("/v2/jobs", job).context("creating the job")?;
    Ok(status == 201)
}

pub fn status(client: &Client, job: &str) -> anyhow::Result<JobStatus> {
    client.get(&format!("/v2/jobs/{}", path_segment(job))).with_context(|| format!("reading the status of job {job}"))
}

pub fn results(client: &Client, job: &str) -> anyhow::Result<JobResults> {
    client
        .get(&format!("/v2/jobs/{}/results", path_segment(job)))
        .with_context(|| format!("reading the results of job {job}"))
}

/// What `bidui job resume` came to.
pub enum Resumed {
    /// Complete before the request: nothing was done.
    AlreadyComplete(JobStatus),
    /// Every party had sealed and the matcher joined the job now.
    Joined(JobStatus),
    /// These parties have not sealed yet: nothing to join.
    Waiting(Vec<String>),
}

/// Asks the matcher to finish a job every party has sealed (`POST /v2/jobs/{job}/join`).
pub fn resume(client: &Client, job: &str) -> anyhow::Result<Resumed> {
    let path = format!("/v2/jobs/{}/join", path_segment(job));
    let answer = match client.post(&path, &serde_json::json!({})) {
        Ok((_, body)) => body,
        Err(refused) if refused.code() == Some("not-all-sealed") => {
            return Ok(Resumed::Waiting(refused.waiting_for().to_vec()))
        }
        Err(error) => return Err(error).with_context(|| format!("resuming job {job}")),
    };
    let answer: JoinAnswer =
        serde_json::from_slice(&answer).with_context(|| format!("reading the matcher's answer about job {job}"))?;
    Ok(if answer.joined { Resumed::Joined(answer.status) } else { Resumed::AlreadyComplete(answer.status) })
}

/// The line `bidui job resume` prints: what happened, in words.
pub fn resumed_note(job: &str, resumed: &Resumed) -> String {
    match resumed {
        Resumed::AlreadyComplete(_) => format!("job {job} 已完成 (already complete): nothing was done"),
        Resumed::Joined(_) => {
            format!("job {job} 已重新比对 (joined now): the results are ready for the requester and the operator")
        }
        Resumed::Waiting(parties) => format!(
            "job {job} 仍在等待：{} (waiting for the seal of these parties: run their agents; the job completes \
             after the last seal)",
            parties.join(", ")
        ),
    }
}

pub fn print_status(status: &JobStatus) {
    println!("job {} ({:?}) — {} [{}]", status.id, status.state, status.purpose, status.approval);
    println!("{:<20} {:<10} {:>8} {:>10} {:>7} {:>8}", "party", "role", "chunks", "records", "sealed", "invalid");
    for p in &status.participants {
        let invalid: u64 = p.invalid_ids.values().sum();
        println!(
            "{:<20} {:<10} {:>8} {:>10} {:>7} {:>8}",
            p.party,
            format!("{:?}", p.role).to_lowercase(),
            p.chunks,
            p.records,
            if p.sealed { "yes" } else { "no" },
            invalid
        );
    }
    if let Some(note) = progress_note(status) {
        println!("{note}");
    }
}

/// What a job still waits for, in words: the parties not sealed, or the matcher's join.
fn progress_note(status: &JobStatus) -> Option<String> {
    if status.state == bidui_core::api::JobState::Complete {
        return None;
    }
    let waiting: Vec<&str> = status.participants.iter().filter(|p| !p.sealed).map(|p| p.party.as_str()).collect();
    Some(if waiting.is_empty() {
        "所有参与方均已提交，比对待完成 (every party has sealed; the matcher joins the job now, and retries a \
         failed or interrupted join every minute and at start-up — see its log if this lasts)"
            .to_string()
    } else {
        format!("等待提交 (waiting for the seal of): {}", waiting.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::api::{JobState, ParticipantStatus, PartyRole};

    fn status(state: JobState, sealed: &[bool]) -> JobStatus {
        let participants = sealed
            .iter()
            .enumerate()
            .map(|(i, &sealed)| ParticipantStatus {
                party: format!("p{i}"),
                role: PartyRole::Department,
                chunks: 1,
                records: 1,
                sealed,
                rows_read: 1,
                invalid_ids: Default::default(),
            })
            .collect();
        JobStatus { id: "j".into(), purpose: String::new(), approval: String::new(), state, participants }
    }

    #[test]
    fn a_resumed_job_says_what_happened() {
        let complete = status(JobState::Complete, &[true, true]);
        assert!(resumed_note("j", &Resumed::AlreadyComplete(complete.clone())).contains("已完成"));
        assert!(resumed_note("j", &Resumed::Joined(complete)).contains("已重新比对"));
        let waiting = resumed_note("j", &Resumed::Waiting(vec!["p1".into(), "p2".into()]));
        assert!(waiting.contains("仍在等待：p1, p2"), "{waiting}");
    }

    #[test]
    fn a_job_status_says_what_the_job_waits_for() {
        assert_eq!(progress_note(&status(JobState::Complete, &[true, true])), None);
        let waiting = progress_note(&status(JobState::Collecting, &[true, false, false])).unwrap();
        assert!(waiting.ends_with("p1, p2"), "{waiting}");
        let joining = progress_note(&status(JobState::Collecting, &[true, true])).unwrap();
        assert!(joining.contains("every party has sealed") && joining.contains("every minute"), "{joining}");
    }
}
