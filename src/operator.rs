//! `bidui job …`: the district operator's commands against the matcher.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bidui_client::{path_segment, Client, MatcherEndpoint};
use bidui_core::api::{JobResults, JobSpec, JobStatus, SignedJob};
use bidui_core::profile::Profile;
use bidui_keyfile::Identity;
use serde::{Deserialize, Serialize};

/// `operator.toml`: where the matcher is and who the operator is there.
// Serialize: the configuration reference's test lists the keys (src/config_docs.rs).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// The keys `matcher`, `matcher_certificate` and `matcher_ca`.
    #[serde(flatten)]
    pub matcher: MatcherEndpoint,
    pub name: String,
    pub identity_key: PathBuf,
    /// The district profile (`district.toml`): parties' display names and kinds, fields'
    /// labels and roles. `job create` checks each job against it and embeds its part.
    #[serde(default)]
    pub profile: Option<PathBuf>,
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
        if let Some(profile) = config.profile.as_mut().filter(|p| p.is_relative()) {
            *profile = base.join(&*profile);
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

/// Reads and checks a district profile.
pub fn read_profile(path: &Path) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("读取区级档案 {} 失败", path.display()))?;
    let profile: Profile = toml::from_str(&text).with_context(|| format!("区级档案 {} 格式有误", path.display()))?;
    profile.validate().with_context(|| format!("区级档案 {} 有误", path.display()))?;
    Ok(profile)
}

/// The job as it is signed: checked against the district profile (`--profile`, else the
/// operator configuration's `profile`), whose part the job uses is embedded. A job without
/// a profile is refused: the report could not tell its towns, names or labels.
pub fn with_profile(mut spec: JobSpec, profile: Option<&Path>) -> anyhow::Result<JobSpec> {
    match profile {
        Some(path) => {
            let profile = read_profile(path)?;
            profile.check_job(&spec).with_context(|| format!("任务 {} 与区级档案 {} 不符", spec.id, path.display()))?;
            spec.profile = Some(profile.for_job(&spec));
        }
        None if spec.profile.is_some() => {}
        None => bail!(
            "任务 {} 没有区级档案：请在 operator.toml 中设置 profile = \"district.toml\"，或使用 --profile \
             指定（档案声明各部门的中文名称和字段的中文名、角色，报表按名册的镇街字段分发；示例见 \
             examples/district.toml）",
            spec.id
        ),
    }
    spec.validate().with_context(|| format!("任务 {} 不合规", spec.id))?;
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
    fn a_job_status_says_what_the_job_waits_for() {
        assert_eq!(progress_note(&status(JobState::Complete, &[true, true])), None);
        let waiting = progress_note(&status(JobState::Collecting, &[true, false, false])).unwrap();
        assert!(waiting.ends_with("p1, p2"), "{waiting}");
        let joining = progress_note(&status(JobState::Collecting, &[true, true])).unwrap();
        assert!(joining.contains("every party has sealed") && joining.contains("every minute"), "{joining}");
    }
}
