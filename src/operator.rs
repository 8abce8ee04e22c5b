//! `bidui job …`: the district operator's commands against the matcher.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bidui_client::{path_segment, Client, MatcherEndpoint};
use bidui_core::api::{
    JobResults, JobSpec, JobStatus, JoinAnswer, ParticipantStage, ParticipantStatus, SignedJob, SpecError,
    MAX_RECORDS_CAP,
};
use bidui_core::fieldseal::MAX_SEALED_FIELDS;
use bidui_core::profile::{Profile, ProfileError};
use bidui_i18n::t;
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
        let text =
            std::fs::read_to_string(path).with_context(|| t!("reading-operator-config", path = path.display()))?;
        let mut config: OperatorConfig = toml::from_str(&text).with_context(|| t!("parsing", path = path.display()))?;
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
    let text = std::fs::read_to_string(path).with_context(|| t!("reading-job-spec", path = path.display()))?;
    let spec: JobSpec = toml::from_str(&text).with_context(|| t!("job-spec-invalid", path = path.display()))?;
    spec.validate().map_err(spec_error).with_context(|| t!("job-spec-invalid", path = path.display()))?;
    Ok(spec)
}

/// A job spec's error in the reader's language. `bidui-core` stays free of the catalogue
/// (sans-IO; the matcher answers the same errors on the wire), so the command that shows
/// one says it.
fn spec_error(error: SpecError) -> anyhow::Error {
    let quoted = |text: &str| format!("{text:?}");
    let text = match &error {
        SpecError::JobId(id) => t!("spec-error-job-id", id = quoted(id)),
        SpecError::Missing(job, "purpose") => t!("spec-error-no-purpose", job = job),
        SpecError::Missing(job, "approval number") => t!("spec-error-no-approval", job = job),
        SpecError::DuplicateParty(party) => t!("spec-error-duplicate-party", party = quoted(party)),
        SpecError::PartyName(party) => t!("spec-error-party-name", party = quoted(party)),
        SpecError::FieldName(field) => t!("spec-error-field-name", field = quoted(field)),
        SpecError::Epoch(epoch) => t!("spec-error-epoch", epoch = quoted(epoch)),
        SpecError::NoDepartment => t!("spec-error-no-department"),
        SpecError::DerivedAttribute(attribute) => t!("spec-error-derived-attribute", attribute = quoted(attribute)),
        // The rule's own problem stays as bidui-core words it.
        SpecError::Rule(code, problem) => t!("spec-error-rule", code = quoted(code), problem = problem),
        SpecError::Cap(party) => t!("spec-error-cap", party = quoted(party), max = MAX_RECORDS_CAP),
        SpecError::TooLarge(departments) => {
            t!("spec-error-too-large", departments = departments, fields = MAX_SEALED_FIELDS)
        }
        SpecError::Profile(error) => return profile_error(error),
        SpecError::Missing(..) => return error.into(),
    };
    anyhow::anyhow!(text)
}

/// A district profile's error in the reader's language (`bidui-core` words it in Chinese
/// only), as [`spec_error`].
fn profile_error(error: &ProfileError) -> anyhow::Error {
    let quoted = |text: &str| format!("{text:?}");
    anyhow::anyhow!(match error {
        ProfileError::PartyCode(code) => t!("profile-error-party-code", code = quoted(code)),
        ProfileError::FieldCode(code) => t!("profile-error-field-code", code = quoted(code)),
        ProfileError::Duplicate(code) => t!("profile-error-duplicate", code = quoted(code)),
        ProfileError::Name(code) => t!("profile-error-name", code = quoted(code)),
        ProfileError::RoleTwice { field, other, role } => {
            t!("profile-error-role-twice", field = quoted(field), other = quoted(other), role = role)
        }
        ProfileError::UnknownParty(party) => t!("profile-error-unknown-party", party = quoted(party)),
        ProfileError::RequesterNotRegistry(party) => t!("profile-error-requester-not-registry", party = quoted(party)),
        ProfileError::DepartmentIsRegistry(party) => t!("profile-error-department-is-registry", party = quoted(party)),
        ProfileError::UnknownField(field) => t!("profile-error-unknown-field", field = quoted(field)),
        ProfileError::NoTown { requester } => t!("profile-error-no-town", requester = quoted(requester)),
        ProfileError::RequiredNotAsked { field, label } => {
            t!("profile-error-required-not-asked", field = quoted(field), label = label)
        }
    })
}

/// Reads and checks a district profile.
pub fn read_profile(path: &Path) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path).with_context(|| t!("reading-profile", path = path.display()))?;
    let profile: Profile = toml::from_str(&text).with_context(|| t!("profile-unparsable", path = path.display()))?;
    profile.validate().map_err(|e| profile_error(&e)).with_context(|| t!("profile-invalid", path = path.display()))?;
    Ok(profile)
}

/// The job as it is signed: checked against the district profile (`--profile`, else the
/// operator configuration's `profile`), whose part the job uses is embedded. A job without
/// a profile is refused: the report could not tell its towns, names or labels.
pub fn with_profile(mut spec: JobSpec, profile: Option<&Path>) -> anyhow::Result<JobSpec> {
    match profile {
        Some(path) => {
            let profile = read_profile(path)?;
            profile
                .check_job(&spec)
                .map_err(|e| profile_error(&e))
                .with_context(|| t!("job-does-not-fit-profile", job = spec.id, path = path.display()))?;
            spec.profile = Some(profile.for_job(&spec));
        }
        None if spec.profile.is_some() => {}
        None => bail!(t!("job-without-profile", job = spec.id)),
    }
    spec.validate().map_err(spec_error).with_context(|| t!("job-invalid", job = spec.id))?;
    Ok(spec)
}

/// Submits a signed job; `false` when the matcher already holds this very job.
pub fn create_job(client: &Client, job: &SignedJob) -> anyhow::Result<bool> {
    let (status, _) = client.post("/v2/jobs", job).with_context(|| t!("sending-job"))?;
    Ok(status == 201)
}

pub fn status(client: &Client, job: &str) -> anyhow::Result<JobStatus> {
    client.get(&format!("/v2/jobs/{}", path_segment(job))).with_context(|| t!("reading-job-status", job = job))
}

pub fn results(client: &Client, job: &str) -> anyhow::Result<JobResults> {
    client.get(&format!("/v2/jobs/{}/results", path_segment(job))).with_context(|| t!("reading-job-results", job = job))
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
        Err(error) => return Err(error).with_context(|| t!("resuming-job", job = job)),
    };
    let answer: JoinAnswer = serde_json::from_slice(&answer).with_context(|| t!("reading-join-answer", job = job))?;
    Ok(if answer.joined { Resumed::Joined(answer.status) } else { Resumed::AlreadyComplete(answer.status) })
}

/// The line `bidui job resume` prints: what happened, in words.
pub fn resumed_note(job: &str, resumed: &Resumed) -> String {
    match resumed {
        Resumed::AlreadyComplete(_) => t!("job-resume-complete", job = job),
        Resumed::Joined(_) => t!("job-resume-joined", job = job),
        Resumed::Waiting(parties) => t!("job-resume-waiting", job = job, parties = parties.join(", ")),
    }
}

/// The job's progress, parties by their display names where the district profile gives
/// them.
pub fn print_status(status: &JobStatus, profile: Option<&Profile>) {
    let name = |party: &str| profile.map_or(party, |p| p.party_name(party)).to_owned();
    let state = match status.state {
        bidui_core::api::JobState::Collecting => t!("job-state-collecting"),
        bidui_core::api::JobState::Complete => t!("job-state-complete"),
    };
    println!(
        "{}",
        t!("job-status-head", job = status.id, state = state, purpose = status.purpose, approval = status.approval)
    );
    println!("{}", t!("job-status-columns"));
    for p in &status.participants {
        let invalid: u64 = p.invalid_ids.values().sum();
        let role = match p.role {
            bidui_core::api::PartyRole::Requester => t!("role-requester"),
            bidui_core::api::PartyRole::Department => t!("role-department"),
        };
        println!(
            "{:<20} {:<10} {:<20} {:>8} {:>10} {:>7} {:>8}",
            name(&p.party),
            role,
            stage_text(p),
            p.chunks,
            p.records,
            if p.sealed { t!("yes") } else { t!("no") },
            invalid
        );
    }
    for p in &status.participants {
        if let Some(reason) = &p.declined_reason {
            println!("{}", t!("job-declined-reason", party = name(&p.party), reason = reason));
        }
    }
    if let Some(note) = progress_note(status, &name) {
        println!("{note}");
    }
}

/// A party's stage in words, with its progress while it uploads and has told its estimate.
fn stage_text(p: &ParticipantStatus) -> String {
    match (p.stage, p.chunks_expected) {
        (ParticipantStage::Waiting, _) => t!("job-stage-waiting"),
        (ParticipantStage::Reading, _) => t!("job-stage-reading"),
        (ParticipantStage::Uploading, Some(expected)) => {
            t!("job-stage-uploading-of", chunks = p.chunks, expected = expected.max(p.chunks))
        }
        (ParticipantStage::Uploading, None) => t!("job-stage-uploading"),
        (ParticipantStage::Sealed, _) => t!("job-stage-sealed"),
        (ParticipantStage::Declined, _) => t!("job-stage-declined"),
    }
}

/// What a job still waits for, in words: the parties not sealed, or the matcher's join.
fn progress_note(status: &JobStatus, name: &dyn Fn(&str) -> String) -> Option<String> {
    if status.state == bidui_core::api::JobState::Complete {
        return None;
    }
    let waiting: Vec<String> = status.participants.iter().filter(|p| !p.sealed).map(|p| name(&p.party)).collect();
    Some(if waiting.is_empty() { t!("job-joining") } else { t!("job-waiting-for", parties = waiting.join(", ")) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::api::{JobState, PartyRole};

    fn code(party: &str) -> String {
        party.to_owned()
    }

    fn status(state: JobState, sealed: &[bool]) -> JobStatus {
        let participants = sealed
            .iter()
            .enumerate()
            .map(|(i, &sealed)| ParticipantStatus {
                party: format!("p{i}"),
                role: PartyRole::Department,
                stage: if sealed { ParticipantStage::Sealed } else { ParticipantStage::Waiting },
                chunks_expected: None,
                declined_reason: None,
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
    fn a_job_spec_error_is_said_in_the_readers_language() {
        use bidui_i18n::{in_language, Lang};
        let error = || spec_error(SpecError::Cap("renshe".into()));
        let zh = in_language(Lang::Zh, || error().to_string());
        assert_eq!(zh, "参与方 \"renshe\" 需要 max_records，取值 1 到 4294967295");
        let en = in_language(Lang::En, || error().to_string());
        assert_eq!(en, "party \"renshe\" needs `max_records` between 1 and 4294967295");
        // Its English is bidui-core's own, word for word.
        assert_eq!(en, SpecError::Cap("renshe".into()).to_string());
        let missing = in_language(Lang::Zh, || spec_error(SpecError::Missing("zc-1".into(), "purpose")).to_string());
        assert!(missing.contains("用途") && missing.contains("zc-1"), "{missing}");
    }

    #[test]
    fn a_profile_error_is_said_in_the_readers_language() {
        use bidui_i18n::{in_language, Lang};
        let errors = || {
            [
                ProfileError::PartyCode("Bad".into()),
                ProfileError::FieldCode("Bad".into()),
                ProfileError::Duplicate("gongan".into()),
                ProfileError::Name("gongan".into()),
                ProfileError::RoleTwice { field: "a".into(), other: "b".into(), role: "town" },
                ProfileError::UnknownParty("gongan".into()),
                ProfileError::RequesterNotRegistry("gongan".into()),
                ProfileError::DepartmentIsRegistry("gongan".into()),
                ProfileError::UnknownField("hukou".into()),
                ProfileError::NoTown { requester: "minzheng".into() },
                ProfileError::RequiredNotAsked { field: "phone".into(), label: "电话".into() },
            ]
        };
        for (error, again) in errors().into_iter().zip(errors()) {
            // The Chinese is bidui-core's own, word for word; the English is the catalogue's.
            let zh = in_language(Lang::Zh, || profile_error(&error).to_string());
            assert_eq!(zh, error.to_string());
            let en = in_language(Lang::En, || spec_error(SpecError::Profile(again)).to_string());
            assert!(en.chars().filter(|c| !c.is_ascii()).all(|c| "镇街电话…–".contains(c)), "{en}");
        }
    }

    #[test]
    fn a_resumed_job_says_what_happened() {
        // In whichever language the test runs: three different notes, the parties named.
        let complete = status(JobState::Complete, &[true, true]);
        let already = resumed_note("j", &Resumed::AlreadyComplete(complete.clone()));
        let joined = resumed_note("j", &Resumed::Joined(complete));
        let waiting = resumed_note("j", &Resumed::Waiting(vec!["p1".into(), "p2".into()]));
        assert!(already != joined && joined != waiting && already != waiting);
        assert!(waiting.contains("p1, p2"), "{waiting}");
    }

    #[test]
    fn each_stage_reads_differently_and_an_upload_shows_its_progress() {
        let mut p = status(JobState::Collecting, &[false]).participants.remove(0);
        let mut seen = Vec::new();
        for stage in [
            ParticipantStage::Waiting,
            ParticipantStage::Reading,
            ParticipantStage::Uploading,
            ParticipantStage::Sealed,
            ParticipantStage::Declined,
        ] {
            p.stage = stage;
            seen.push(stage_text(&p));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5, "{seen:?}");
        (p.stage, p.chunks, p.chunks_expected) = (ParticipantStage::Uploading, 3, Some(7));
        assert!(stage_text(&p).ends_with(" 3/7"), "{}", stage_text(&p));
        p.chunks = 9;
        assert!(stage_text(&p).ends_with(" 9/9"), "an estimate passed reads as done: {}", stage_text(&p));
    }

    #[test]
    fn a_job_status_says_what_the_job_waits_for() {
        assert_eq!(progress_note(&status(JobState::Complete, &[true, true]), &code), None);
        let waiting = progress_note(&status(JobState::Collecting, &[true, false, false]), &code).unwrap();
        assert!(waiting.ends_with("p1, p2"), "{waiting}");
        let joining = progress_note(&status(JobState::Collecting, &[true, true]), &code).unwrap();
        assert_eq!(joining, t!("job-joining"));
    }
}
