//! `bidui console`: the console's operator side, with the code of `bidui job …` (the
//! operator's configuration, key and profile) and of `bidui report build` (the report of
//! the results the bureau's own agent opened).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bidui_client::Client;
use bidui_console::jobs::{Operator, SpecChoice};
use bidui_core::api::{JobSpec, JobStatus};
use bidui_core::profile::Profile;
use bidui_i18n::t;

use crate::operator::{self, OperatorConfig};

/// The operator's configuration, the specs rounds start from, and the bureau's agent.
pub struct ConsoleOperator {
    config: OperatorConfig,
    client: Client,
    profile: Option<Profile>,
    specs: Vec<SpecChoice>,
    /// The requester agent's state folder: `<state_dir>/<job>/results.json` once opened.
    requester_state: Option<PathBuf>,
}

impl ConsoleOperator {
    pub fn load(operator: &Path, specs: &[PathBuf], requester: Option<&Path>) -> anyhow::Result<ConsoleOperator> {
        let config = OperatorConfig::load(operator)?;
        let client = config.client()?;
        let profile = config.profile.as_deref().map(operator::read_profile).transpose()?;
        let mut choices: Vec<SpecChoice> = Vec::new();
        for path in specs {
            let spec = operator::read_spec(path)?;
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            if choices.iter().any(|c| c.file == file) {
                bail!(t!("console-spec-twice", file = file));
            }
            choices.push(SpecChoice { file, spec });
        }
        let requester_state = requester
            .map(|path| bidui_agent::config::AgentConfig::load(path).map(|c| c.state_dir))
            .transpose()
            .with_context(|| t!("console-requester-config"))?;
        Ok(ConsoleOperator { config, client, profile, specs: choices, requester_state })
    }
}

/// An error for the page: its whole chain, as `bidui job …` would print it.
fn sentence(error: anyhow::Error) -> String {
    format!("{error:#}")
}

impl Operator for ConsoleOperator {
    fn specs(&self) -> Vec<SpecChoice> {
        self.specs.clone()
    }

    fn status(&self, job: &str) -> Result<JobStatus, String> {
        operator::status(&self.client, job).map_err(sentence)
    }

    fn create(&self, spec: &JobSpec, job: &str) -> Result<(), String> {
        let created = (|| {
            let mut spec = spec.clone();
            spec.id = job.to_owned();
            let spec = operator::with_profile(spec, self.config.profile.as_deref())?;
            operator::create_job(&self.client, &self.config.sign(&spec)?)
        })();
        created.map(|_| ()).map_err(sentence)
    }

    fn party_name(&self, party: &str) -> String {
        self.profile.as_ref().map_or(party, |p| p.party_name(party)).to_owned()
    }

    fn build_report(&self, job: &str, dir: &Path) -> Result<bool, String> {
        let Some(state) = &self.requester_state else {
            return Err(t!("console-no-requester"));
        };
        // Where the requester's agent keeps a job's files (`bidui agent run`/`serve`).
        let job_dir = state.join(bidui_client::path_segment(job));
        let results_file = job_dir.join("results.json");
        if !results_file.is_file() {
            return Ok(false);
        }
        let built = (|| {
            let results = bidui_report::load_results(&results_file)?;
            let invalid_rows = job_dir.join("invalid-rows.csv");
            crate::report::write_local(&results, dir, invalid_rows.is_file().then_some(invalid_rows.as_path()))
        })();
        built.map(|_| true).map_err(sentence)
    }
}
