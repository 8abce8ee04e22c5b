//! `bidui job …`: the district operator's commands against the matcher.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bidui_agent::run::path_segment;
use bidui_client::{Client, Identity, MatcherTrust};
use bidui_core::api::{JobResults, JobSpec, JobStatus};
use serde::Deserialize;

/// `operator.toml`: where the matcher is and who the operator is there.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    pub matcher: String,
    pub name: String,
    pub identity_key: PathBuf,
    /// The matcher's TLS certificate (PEM), pinned.
    #[serde(default)]
    pub matcher_certificate: Option<PathBuf>,
    /// Or a CA file (PEM) that issued it.
    #[serde(default)]
    pub matcher_ca: Option<PathBuf>,
}

impl OperatorConfig {
    pub fn load(path: &Path) -> anyhow::Result<OperatorConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the operator configuration {}", path.display()))?;
        let mut config: OperatorConfig =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for file in std::iter::once(&mut config.identity_key)
            .chain(config.matcher_certificate.iter_mut())
            .chain(config.matcher_ca.iter_mut())
        {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(config)
    }

    pub fn client(&self) -> anyhow::Result<Client> {
        let identity = Identity::load(&self.identity_key)?;
        let trust = MatcherTrust::from_config(self.matcher_certificate.as_deref(), self.matcher_ca.as_deref())?;
        Ok(Client::with_trust(&self.matcher, &self.name, identity, trust)?)
    }
}

pub fn read_spec(path: &Path) -> anyhow::Result<JobSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the job spec {}", path.display()))?;
    let spec: JobSpec =
        toml::from_str(&text).with_context(|| format!("the job spec {} is not valid", path.display()))?;
    spec.validate().with_context(|| format!("the job spec {} is not valid", path.display()))?;
    Ok(spec)
}

pub fn create_job(client: &Client, spec: &JobSpec) -> anyhow::Result<bool> {
    let (status, _) = client.post("/v1/jobs", spec).with_context(|| format!("creating job {}", spec.id))?;
    Ok(status == 201)
}

pub fn status(client: &Client, job: &str) -> anyhow::Result<JobStatus> {
    client.get(&format!("/v1/jobs/{}", path_segment(job))).with_context(|| format!("reading the status of job {job}"))
}

pub fn results(client: &Client, job: &str) -> anyhow::Result<JobResults> {
    client
        .get(&format!("/v1/jobs/{}/results", path_segment(job)))
        .with_context(|| format!("reading the results of job {job}"))
}

pub fn print_status(status: &JobStatus) {
    println!("job {} ({:?}) — {} [{}]", status.id, status.state, status.purpose, status.approval);
    println!(
        "{:<20} {:<10} {:>8} {:>10} {:>7} {:>9} {:>8}",
        "party", "role", "chunks", "records", "sealed", "released", "invalid"
    );
    for p in &status.participants {
        let invalid: u64 = p.invalid_ids.values().sum();
        println!(
            "{:<20} {:<10} {:>8} {:>10} {:>7} {:>9} {:>8}",
            p.party,
            format!("{:?}", p.role).to_lowercase(),
            p.chunks,
            p.records,
            if p.sealed { "yes" } else { "no" },
            if p.released { "yes" } else { "no" },
            invalid
        );
    }
}
