//! The matcher's HTTP API as types: signed job specs, assignments, submissions and
//! results (`protocol-docs/wire-v2.md`). JSON on the wire; token chunks are binary
//! ([`crate::wire`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::custody::PrincipalStatement;
use crate::fieldseal::{SealKind, MAX_SEALED_FIELDS};
use crate::keys::{PairDomain, Suite};
use crate::profile::{Profile, ProfileError};
use crate::wire::{Layout, MAX_ATTRIBUTES, MAX_TOKENS};

/// Header naming the principal that signed a request.
pub const HEADER_SIGNER: &str = "bidui-signer";
/// Header with the request time, Unix seconds.
pub const HEADER_TIMESTAMP: &str = "bidui-timestamp";
/// Header with a fresh random nonce, 32 lowercase hex digits.
pub const HEADER_NONCE: &str = "bidui-nonce";
/// Header with the Ed25519 signature of [`crate::wire::request_signing_payload`], hex.
pub const HEADER_SIGNATURE: &str = "bidui-signature";
/// How far a request's timestamp may be from the matcher's clock, in seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// An attribute compared between the requester and a department through attribute
/// tokens, so the matcher learns agreement without seeing a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// The canonical name (traditional folded to simplified).
    Name,
    /// The name with its script kept: tells a variant character from an identical name.
    NameScript,
    /// The sound of the name: tells a homophone from a different name.
    NameSound,
    Sex,
    BirthDate,
}

impl Attribute {
    /// The field name inside attribute-token messages.
    pub fn label(self) -> &'static str {
        match self {
            Attribute::Name => "name",
            Attribute::NameScript => "name_script",
            Attribute::NameSound => "name_sound",
            Attribute::Sex => "sex",
            Attribute::BirthDate => "birth_date",
        }
    }

    /// A job asking to compare `name` gets the three name tokens, so the report can tell
    /// same / variant / homophone / different apart.
    pub fn expand(requested: &[Attribute]) -> Vec<Attribute> {
        let mut out: Vec<Attribute> = requested
            .iter()
            .flat_map(|a| match a {
                Attribute::Name => vec![Attribute::Name, Attribute::NameScript, Attribute::NameSound],
                other => vec![*other],
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// A comparison job as the operator writes it (TOML) and submits it (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Unique job id; it enters every token key, so tokens are unrelated across jobs.
    pub id: String,
    /// Why the comparison is made (政务数据共享: a stated purpose per request).
    pub purpose: String,
    /// The approval number of the data-sharing request.
    pub approval: String,
    /// Key check value of the key epoch the job uses.
    pub epoch: String,
    #[serde(default = "default_suite")]
    pub suite: Suite,
    pub requester: RequesterSpec,
    #[serde(rename = "department")]
    pub departments: Vec<DepartmentSpec>,
    /// Hours the matcher keeps the job's tokens and sealed values after its results are built; then they
    /// are purged and only the results remain. Default [`DEFAULT_RETENTION_HOURS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_hours: Option<u32>,
    /// Status rules on the fields, for the report (`[[rule]]`; optional). The matcher
    /// only copies them into the results.
    #[serde(rename = "rule", default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<StatusRule>,
    /// The part of the district profile the job uses (display names, field labels and
    /// roles), embedded by `bidui job create` so the report speaks the district's
    /// vocabulary; checked against the job by [`JobSpec::validate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// Tokens are kept a day after the results: long enough to re-run a failed step, short
/// enough that the matcher never accumulates an index of people.
pub const DEFAULT_RETENTION_HOURS: u32 = 24;

fn default_suite() -> Suite {
    Suite::HmacSha256
}

/// The registry holder. Its `fields` (town, category, …) organise the report; they are
/// read from the registry on the requester's side and never leave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequesterSpec {
    pub party: String,
    #[serde(default)]
    pub fields: Vec<String>,
    /// Most records the party may submit (the registry's size, with room to spare).
    pub max_records: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentSpec {
    pub party: String,
    /// Attributes compared with the registry by token.
    #[serde(default)]
    pub compare: Vec<Attribute>,
    /// Fields the department seals for the requester (those its local policy allows).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Most records the party may submit.
    pub max_records: u64,
}

/// How serious a problem in the report is: 严重 / 一般 / 提示.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[serde(alias = "严重")]
    Serious,
    #[default]
    #[serde(alias = "一般")]
    Normal,
    #[serde(alias = "提示")]
    Notice,
}

/// What a [`StatusRule`] tests, on one registry row found in its department.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleTest {
    /// A released value of `field` is one of `values` (and the registry's `registry_field`,
    /// if named, is one of `registry_values`): household status 死亡 while 在册.
    AnyOf,
    /// `field` has a released value at all (and the registry's `registry_field`, if named,
    /// is one of `registry_values`): a date of death recorded while 在册.
    Present,
    /// `field` has two or more distinct released values: assistance in two towns.
    Distinct,
    /// The released values of `field` do not include the registry's `registry_field`.
    Differs,
    /// The registry's `registry_field` is empty and `field` has a value: missing data
    /// (缺省数据) the department can fill.
    Fills,
    /// The row's identity number is valid but not in the department (`field` unused).
    Absent,
}

/// A status rule declared in the job spec (`[[rule]]`). Field names are the job's own, so
/// a district with other column mappings declares its own rules; the report has built-in
/// rules for the common cases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRule {
    /// Stable problem code (a field-name-like word); with `department`, unique in the job.
    pub code: String,
    /// The problem as town staff read it: 户籍已死亡但仍在册.
    pub label: String,
    #[serde(default)]
    pub severity: Severity,
    pub department: String,
    pub test: RuleTest,
    /// A field the department is asked to seal to the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// One of the requester's own fields (read from its registry on its side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_field: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registry_values: Vec<String>,
    /// Suggested action, in plain Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Chinese names of `field` and `registry_field` for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_field_label: Option<String>,
}

impl StatusRule {
    /// Why the rule cannot work in `spec`, if it cannot.
    pub fn problem_in(&self, spec: &JobSpec) -> Option<&'static str> {
        let Some(department) = spec.department(&self.department) else { return Some("names no department of the job") };
        let field_ok = |f: &Option<String>| f.as_ref().is_some_and(|f| department.fields.contains(f));
        let registry_ok = |f: &Option<String>| f.as_ref().is_none_or(|f| spec.requester.fields.contains(f));
        if !valid_field(&self.code) || self.label.trim().is_empty() {
            return Some("needs a code (like a field name) and a label");
        }
        if self.test != RuleTest::Absent && !field_ok(&self.field) {
            return Some("needs a `field` the department is asked to release");
        }
        if !registry_ok(&self.registry_field) {
            return Some("names a `registry_field` the requester does not release");
        }
        let needs_registry = matches!(self.test, RuleTest::Differs | RuleTest::Fills);
        if (needs_registry && self.registry_field.is_none()) || (self.test == RuleTest::AnyOf && self.values.is_empty())
        {
            return Some("lacks what its test needs (`values` for any_of, `registry_field` for differs and fills)");
        }
        None
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("job id must be 1–64 characters of letters, digits, CJK, '-', '_' or '.'; got {0:?}")]
    JobId(String),
    #[error("job {0} is missing its {1}")]
    Missing(String, &'static str),
    #[error("party {0:?} appears twice in the job; each party takes part once")]
    DuplicateParty(String),
    #[error("party names are 1–64 characters of lowercase letters, digits and '-'; got {0:?}")]
    PartyName(String),
    #[error("field names are 1–64 characters of lowercase letters, digits and '_'; got {0:?}")]
    FieldName(String),
    #[error("epoch must be a 16-hex-digit key check value; got {0:?}")]
    Epoch(String),
    #[error("a job needs at least one department")]
    NoDepartment,
    #[error("compare {0:?} is not an attribute a job names; `name` brings the name tiers with it")]
    DerivedAttribute(&'static str),
    #[error("status rule {0:?} {1}")]
    Rule(String, &'static str),
    #[error("party {0:?} needs `max_records` between 1 and {MAX_RECORDS_CAP}")]
    Cap(String),
    #[error("a job has at most {0} departments, each comparing and sealing at most {MAX_SEALED_FIELDS} fields")]
    TooLarge(usize),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// The largest per-party cap a spec may set: as many rows as a party's row numbers (u32)
/// can name. A province's household registration passes a hundred million records.
pub const MAX_RECORDS_CAP: u64 = u32::MAX as u64;

fn valid_party(name: &str) -> bool {
    crate::custody::has_name_form(name)
}

fn valid_field(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A job id's form (wire-v2 §5.3 rule 1): 1–64 ASCII letters or digits, `-`, `_`, `.`, or
/// CJK ideographs.
pub fn valid_job_id(id: &str) -> bool {
    let count = id.chars().count();
    (1..=64).contains(&count)
        && id.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || ('\u{4E00}'..='\u{9FFF}').contains(&c)
        })
}

impl JobSpec {
    pub fn validate(&self) -> Result<(), SpecError> {
        if !valid_job_id(&self.id) {
            return Err(SpecError::JobId(self.id.clone()));
        }
        if self.purpose.trim().is_empty() {
            return Err(SpecError::Missing(self.id.clone(), "purpose"));
        }
        if self.approval.trim().is_empty() {
            return Err(SpecError::Missing(self.id.clone(), "approval number"));
        }
        if self.epoch.len() != 16 || !self.epoch.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(SpecError::Epoch(self.epoch.clone()));
        }
        if self.departments.is_empty() {
            return Err(SpecError::NoDepartment);
        }
        let mut parties = std::collections::BTreeSet::new();
        for party in self.parties() {
            if !valid_party(party) {
                return Err(SpecError::PartyName(party.to_owned()));
            }
            if !parties.insert(party) {
                return Err(SpecError::DuplicateParty(party.to_owned()));
            }
        }
        if let Some(derived) = self
            .departments
            .iter()
            .flat_map(|d| &d.compare)
            .find(|a| matches!(a, Attribute::NameScript | Attribute::NameSound))
        {
            return Err(SpecError::DerivedAttribute(derived.label()));
        }
        let fields = self.requester.fields.iter().chain(self.departments.iter().flat_map(|d| &d.fields));
        if let Some(bad) = fields.into_iter().find(|f| !valid_field(f)) {
            return Err(SpecError::FieldName(bad.clone()));
        }
        for (party, cap) in std::iter::once((&self.requester.party, self.requester.max_records))
            .chain(self.departments.iter().map(|d| (&d.party, d.max_records)))
        {
            if !(1..=MAX_RECORDS_CAP).contains(&cap) {
                return Err(SpecError::Cap(party.clone()));
            }
        }
        let requester_tokens: usize = self.departments.iter().map(|d| 2 + Attribute::expand(&d.compare).len()).sum();
        if requester_tokens > MAX_TOKENS
            || self.departments.iter().any(|d| d.fields.len() > MAX_SEALED_FIELDS || d.compare.len() > MAX_ATTRIBUTES)
        {
            return Err(SpecError::TooLarge(MAX_TOKENS / 7));
        }
        let mut codes = std::collections::BTreeSet::new();
        for rule in &self.rules {
            if let Some(reason) = rule.problem_in(self) {
                return Err(SpecError::Rule(rule.code.clone(), reason));
            }
            if !codes.insert((&rule.code, &rule.department)) {
                return Err(SpecError::Rule(rule.code.clone(), "appears twice for the same department"));
            }
        }
        if let Some(profile) = &self.profile {
            profile.check_job(self)?;
        }
        Ok(())
    }

    /// Every party: the requester first, then the departments in spec order.
    pub fn parties(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.requester.party.as_str()).chain(self.departments.iter().map(|d| d.party.as_str()))
    }

    pub fn department(&self, party: &str) -> Option<&DepartmentSpec> {
        self.departments.iter().find(|d| d.party == party)
    }

    /// The pair domain of `department` in this job.
    pub fn pair<'a>(&'a self, department: &'a str) -> PairDomain<'a> {
        PairDomain { job: &self.id, requester: &self.requester.party, department }
    }

    /// What `party`'s chunk records hold (wire-v2 §4.1): a department sends one token group
    /// of its compared attributes, and sealed values when the job asks it for fields; the
    /// requester sends one group per department, in job order, and no sealed values.
    pub fn layout(&self, party: &str) -> Option<Layout> {
        if party == self.requester.party {
            let groups = self.departments.iter().map(|d| Attribute::expand(&d.compare).len()).collect();
            return Some(Layout { groups, sealed: false });
        }
        self.department(party)
            .map(|d| Layout { groups: vec![Attribute::expand(&d.compare).len()], sealed: !d.fields.is_empty() })
    }

    /// The party's cap on submitted records.
    pub fn max_records(&self, party: &str) -> Option<u64> {
        if party == self.requester.party {
            return Some(self.requester.max_records);
        }
        self.department(party).map(|d| d.max_records)
    }

    /// The party's part in the job.
    pub fn role(&self, party: &str) -> Option<PartyRole> {
        if party == self.requester.party {
            Some(PartyRole::Requester)
        } else {
            self.department(party).map(|_| PartyRole::Department)
        }
    }
}

/// The label of the operator's signature over a job spec.
const JOB_SIGNATURE_LABEL: &[u8] = b"bidui/v2 job spec";

/// A job spec as the operator signed it: the exact JSON text, so every party verifies and
/// parses the same bytes. Agents act only on a spec whose signature verifies under the
/// operator key the custodian enrolled (wire-v2 §5); the matcher cannot change it.
///
/// ```text
/// signature = Ed25519(operator, "bidui/v2 job spec" || 0x00 || signer || 0x00 || spec)
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedJob {
    /// The job spec, JSON (a [`JobSpec`]).
    pub spec: String,
    /// The operator who signed it.
    pub signer: String,
    /// Hex of the Ed25519 signature.
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobSignatureError {
    #[error("the job spec is not signed by operator {0}'s enrolled key: refuse it")]
    BadSignature(String),
    #[error("the signed job spec is not a valid job: {0}")]
    Invalid(String),
}

fn job_signing_payload(signer: &str, spec: &str) -> Vec<u8> {
    [JOB_SIGNATURE_LABEL, b"\0", signer.as_bytes(), b"\0", spec.as_bytes()].concat()
}

impl SignedJob {
    /// Signs `spec` (serialized once, here) as operator `signer`.
    pub fn sign(spec: &JobSpec, signer: &str, key: &ring::signature::Ed25519KeyPair) -> SignedJob {
        SignedJob::sign_with(spec, signer, |payload| key.sign(payload).as_ref().to_vec())
    }

    /// [`SignedJob::sign`] with any Ed25519 signer (a key file's `Identity`).
    pub fn sign_with(spec: &JobSpec, signer: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> SignedJob {
        let spec = serde_json::to_string(spec).expect("a job spec serializes");
        let signature = hex::encode(sign(&job_signing_payload(signer, &spec)));
        SignedJob { spec, signer: signer.to_owned(), signature }
    }

    /// The spec, once the signature verifies under `operator_key` and the spec validates.
    pub fn verify(&self, operator_key: &[u8; 32]) -> Result<JobSpec, JobSignatureError> {
        let bad = || JobSignatureError::BadSignature(self.signer.clone());
        let signature = hex::decode(&self.signature).map_err(|_| bad())?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, operator_key)
            .verify(&job_signing_payload(&self.signer, &self.spec), &signature)
            .map_err(|_| bad())?;
        self.parse()
    }

    /// The spec without checking the signature: for the matcher's own validation, which
    /// then verifies against its enrolled key.
    pub fn parse(&self) -> Result<JobSpec, JobSignatureError> {
        let spec: JobSpec = serde_json::from_str(&self.spec).map_err(|e| JobSignatureError::Invalid(e.to_string()))?;
        spec.validate().map_err(|e| JobSignatureError::Invalid(e.to_string()))?;
        Ok(spec)
    }
}

/// A party's part in one job (not a principal's role at the matcher: that is
/// [`crate::custody::PrincipalRole`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    Requester,
    Department,
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for every party to upload and seal its tokens.
    Collecting,
    /// Every party sealed; joined; results available to the requester.
    Complete,
}

/// What one agent must do for a job: `GET /v2/jobs/{job}/assignment`. The same for every
/// party of the job, and independent of every other party's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The operator's signed job spec, as created.
    pub job: SignedJob,
    /// The custodian's latest statement about the signing operator (its enrolment), so an
    /// agent that trusts the custodian can check the operator's key.
    pub operator: Option<PrincipalStatement>,
}

/// The jobs still waiting for one agent: `GET /v2/assignments`. Jobs that name the caller
/// as a party and that the caller has not sealed, oldest first; nothing about any other
/// party's progress (wire-v2 §6.11).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignments {
    pub jobs: Vec<AssignedJob>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedJob {
    pub id: String,
    /// When the operator created the job at the matcher (Unix seconds).
    pub created_at: u64,
}

/// One stored chunk of a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    pub seq: u32,
    pub sha256: String,
    pub records: u32,
    pub last_row: u32,
}

/// `GET /v2/jobs/{job}/submission`: what the matcher holds, so an interrupted upload
/// resumes after the last stored chunk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionStatus {
    pub chunks: Vec<ChunkInfo>,
    pub sealed: bool,
}

/// `POST /v2/jobs/{job}/submission/seal`: closes a submission. The matcher checks the
/// counts and the digest against what it stored, so a lost or extra chunk is caught.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealRequest {
    /// Key check value of the epoch the tokens were made with.
    pub epoch: String,
    pub chunks: u32,
    pub records: u64,
    /// SHA-256 over the concatenated 32-byte chunk digests in sequence order, hex.
    pub digest: String,
    /// Data rows read from the source.
    pub rows_read: u64,
    /// Rows whose identity number failed validation, by error code. The rows stay local.
    pub invalid_ids: BTreeMap<String, u64>,
    /// The fields sealed in every record, in order: the job's fields that the agent's
    /// local policy allows. The requester needs them to open the values.
    #[serde(default)]
    pub sealed_fields: Vec<String>,
    /// The job's fields the agent's policy refused, with reasons.
    #[serde(default)]
    pub refused: Vec<RefusedField>,
}

/// A field the agent will not seal, and why (its local policy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedField {
    pub field: String,
    pub reason: String,
}

/// The longest reason a declining agent may give, in characters (wire-v2 §6.13).
pub const MAX_DECLINED_REASON_CHARS: usize = 500;

/// `POST /v2/jobs/{job}/submission/notice`: what an agent taking part tells the matcher
/// about its own submission before its seal, so the operator can follow a run (wire-v2
/// §6.13). Progress only: nothing in it is a token, a value or a count of the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case", deny_unknown_fields)]
pub enum SubmissionNotice {
    /// The agent has started: it reads and tokenizes its source. (A struct variant, so a
    /// member sent with it is refused like any unknown member.)
    Reading {},
    /// Chunks are on their way. `chunks_expected` is the agent's estimate of the chunks its
    /// submission will hold (chunks stream while the source is read, so the total is known
    /// exactly only before the last one), absent when it has none.
    Uploading {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunks_expected: Option<u32>,
    },
    /// The agent's local policy holds the job for a person; `reason` says why, for the
    /// operator (at most [`MAX_DECLINED_REASON_CHARS`] characters, no control character).
    Declined { reason: String },
}

/// Where a participant's submission stands, as `GET /v2/jobs/{job}` shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStage {
    /// Nothing heard from the party for this job.
    #[default]
    Waiting,
    /// The agent said it started reading its source.
    Reading,
    /// Chunks are arriving (or the agent said they are about to).
    Uploading,
    Sealed,
    /// The agent's policy holds the job for a person (`declined_reason`).
    Declined,
}

/// One participant in `GET /v2/jobs/{job}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantStatus {
    pub party: String,
    pub role: PartyRole,
    /// Defaults to `waiting` so a status from a matcher before stages still parses.
    #[serde(default)]
    pub stage: ParticipantStage,
    pub chunks: u32,
    /// The agent's estimate of its submission's chunks, while `uploading`: progress is
    /// `chunks / chunks_expected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_expected: Option<u32>,
    /// Why the agent holds the job, while `declined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined_reason: Option<String>,
    pub records: u64,
    pub sealed: bool,
    pub rows_read: u64,
    pub invalid_ids: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    pub id: String,
    pub purpose: String,
    pub approval: String,
    pub state: JobState,
    pub participants: Vec<ParticipantStatus>,
}

/// `POST /v2/jobs/{job}/join`: the job as the operator's request left it, and whether this
/// request ran the join (`false`: the job was complete already, or a join running at the
/// same time completed it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinAnswer {
    pub joined: bool,
    pub status: JobStatus,
}

/// `GET /v2/jobs/{job}/results`: per requester row, the match structure and the sealed
/// values of the matched department rows (to the requester only). The requester opens
/// them and fills in its own fields and the opened values: the stage-two report's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResults {
    pub job: String,
    pub purpose: String,
    pub approval: String,
    pub requester: String,
    pub departments: Vec<String>,
    pub summary: ResultSummary,
    pub rows: Vec<RowResult>,
    /// The spec's status rules, for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<StatusRule>,
    /// The spec's district profile (display names, labels, roles), for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The requester's fields the spec names, in order (the rows carry the non-empty ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registry_fields: Vec<String>,
    /// Per department, the fields it sealed, in order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sealed_fields: BTreeMap<String, Vec<String>>,
    /// Per department, the fields its policy refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, Vec<RefusedField>>,
    /// Sealed values the requester could not open (a matcher forwarding what it should
    /// not, or damage). Set by the requester; zero from an honest matcher.
    #[serde(default)]
    pub unopened: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultSummary {
    /// Registry rows the requester's agent read.
    pub registry_rows_read: u64,
    /// Registry rows with tokens at the matcher (valid identity or quasi-identifier).
    pub registry_rows: u64,
    /// Registry rows whose identity number failed validation, by error code.
    pub invalid_ids: BTreeMap<String, u64>,
    /// Registry rows found, per department.
    pub found: BTreeMap<String, u64>,
    /// Registry rows with a valid identity number found in no department.
    pub found_nowhere: u64,
    pub duplicate_groups: u64,
    /// Registry rows with a probable (quasi-identifier) match that needs verification.
    pub probable_matches: u64,
}

/// One registry row. The matcher knows it only by the requester's row number; `fields`
/// are filled in from the registry on the requester's side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowResult {
    pub row: u32,
    pub fields: BTreeMap<String, String>,
    /// False when the requester's agent found the identity number invalid.
    pub id_valid: bool,
    /// Other registry rows holding the same identity number.
    pub duplicate_rows: Vec<u32>,
    pub departments: BTreeMap<String, DepartmentFinding>,
    /// Who the row is, as the registry writes it: filled in on the requester's side only,
    /// so town workbooks can name the people to visit. Never at the matcher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonRef>,
}

/// A registry row's name and identity number as written in the registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    pub name: String,
    pub id_number: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentFinding {
    pub found: bool,
    /// Department rows holding this identity number (more than one: the department has
    /// the person twice).
    pub department_rows: u32,
    /// Attribute comparison: `agree` / `differ` / `missing`; for `name`: `same` /
    /// `variant` / `homophone` / `different` / `missing`.
    pub attributes: BTreeMap<String, String>,
    /// Opened values, distinct, in department row order (filled in by the requester).
    pub released: BTreeMap<String, Vec<String>>,
    /// Department rows matching name, birth date and sex but not the identity number:
    /// probable matches to verify in person (上门核实), never merged.
    pub probable_rows: u32,
    /// Values of the probable matches, opened with name, birth date and sex: shown for
    /// verification, never as the person's (filled in by the requester).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probable_released: BTreeMap<String, Vec<String>>,
    /// Sealed values of the matched (`id`) and probable (`qid`) department rows, as the
    /// matcher forwards them; emptied by the requester once opened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed: Vec<SealedValues>,
}

/// One department row's sealed values, forwarded unread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedValues {
    /// The department's row.
    pub row: u32,
    pub kind: SealKind,
    /// Hex of the sealed blob (`crate::fieldseal`).
    pub sealed: String,
}

/// `GET /v1/epochs`: the sealed epochs addressed to the calling agent, and the epochs
/// retired for good (the agent deletes its copies).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochDelivery {
    pub sealed: Vec<crate::seal::SealedEpoch>,
    pub retired: Vec<String>,
}

/// `POST /v1/epochs` (custodian): a rotation's sealed epochs and retirements.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochUpload {
    pub sealed: Vec<crate::seal::SealedEpoch>,
    #[serde(default)]
    pub retire: Vec<Retirement>,
}

/// An epoch agents delete from `retire_at` (Unix seconds) on: jobs created before a
/// rotation finish on their epoch during the grace period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    pub kcv: String,
    pub retire_at: u64,
}

/// `GET /v1/epochs/status`: which agent has taken up which epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochPickup {
    pub kcv: String,
    pub suite: Suite,
    pub recipient: String,
    pub picked_up_at: Option<u64>,
    pub retire_at: Option<u64>,
}

/// Every error response: a stable code and a message that never echoes internals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    /// The parties whose seal the refused request waits for (`409 not-all-sealed`), so a
    /// caller can name them without parsing the message; absent from every other refusal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            id: "zc-2026-001".into(),
            purpose: "第二阶段数据比对".into(),
            approval: "增政数〔2026〕1号".into(),
            epoch: "0123456789abcdef".into(),
            suite: Suite::HmacSha256,
            requester: RequesterSpec { party: "veterans".into(), fields: vec!["town".into()], max_records: 100 },
            departments: vec![
                DepartmentSpec {
                    party: "household".into(),
                    compare: vec![Attribute::Name, Attribute::Sex],
                    fields: vec!["status".into()],
                    max_records: 100,
                },
                DepartmentSpec {
                    party: "pension".into(),
                    compare: vec![Attribute::BirthDate],
                    fields: vec![],
                    max_records: 100,
                },
            ],
            rules: Vec::new(),
            retention_hours: None,
            profile: None,
        }
    }

    #[test]
    fn a_good_spec_validates() {
        assert_eq!(spec().validate(), Ok(()));
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        let mut s = spec();
        s.id = "a/b".into();
        assert!(matches!(s.validate(), Err(SpecError::JobId(_))));
        let mut s = spec();
        s.departments[1].party = "veterans".into();
        assert!(matches!(s.validate(), Err(SpecError::DuplicateParty(_))));
        let mut s = spec();
        s.epoch = "xyz".into();
        assert!(matches!(s.validate(), Err(SpecError::Epoch(_))));
        let mut s = spec();
        s.departments[0].fields = vec!["Status!".into()];
        assert!(matches!(s.validate(), Err(SpecError::FieldName(_))));
        let mut s = spec();
        s.departments[0].compare = vec![Attribute::NameSound];
        assert_eq!(s.validate(), Err(SpecError::DerivedAttribute("name_sound")));
        let mut s = spec();
        s.approval = " ".into();
        assert!(matches!(s.validate(), Err(SpecError::Missing(_, _))));
    }

    #[test]
    fn status_rules_name_released_fields_and_are_optional_on_the_wire() {
        let mut s = spec();
        s.requester.fields.push("registry_status".into());
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("\"rule\""), "no rules, no member: {json}");
        s.rules = serde_json::from_str(
            r#"[{"code": "deceased_active", "label": "户籍已死亡但仍在册", "severity": "严重",
                 "department": "household", "test": "any_of", "field": "status", "values": ["死亡"],
                 "registry_field": "registry_status", "registry_values": ["在册"]}]"#,
        )
        .unwrap();
        assert_eq!(s.rules[0].severity, Severity::Serious);
        assert_eq!(s.validate(), Ok(()));
        let back: JobSpec = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let mut bad = s.clone();
        bad.rules[0].field = Some("address".into());
        assert!(matches!(bad.validate(), Err(SpecError::Rule(_, _))), "a field the department is not asked for");
        let mut bad = s.clone();
        bad.rules[0].registry_field = Some("phone".into());
        assert!(
            matches!(bad.validate(), Err(SpecError::Rule(_, _))),
            "a registry field the requester does not release"
        );
        let mut bad = s.clone();
        bad.rules.push(bad.rules[0].clone());
        assert!(matches!(bad.validate(), Err(SpecError::Rule(_, _))), "twice");
    }

    #[test]
    fn the_requester_sends_a_group_per_department_and_names_expand() {
        let s = spec();
        assert_eq!(s.layout("veterans").unwrap(), Layout { groups: vec![4, 1], sealed: false });
        assert_eq!(s.layout("household").unwrap(), Layout { groups: vec![4], sealed: true });
        assert_eq!(s.layout("pension").unwrap(), Layout { groups: vec![1], sealed: false });
        assert_eq!(s.layout("nobody"), None);
    }

    #[test]
    fn every_party_needs_a_cap() {
        let mut s = spec();
        s.departments[1].max_records = 0;
        assert_eq!(s.validate(), Err(SpecError::Cap("pension".into())));
        let mut s = spec();
        s.requester.max_records = MAX_RECORDS_CAP + 1;
        assert_eq!(s.validate(), Err(SpecError::Cap("veterans".into())));
        // A province's household registration: past the hundred million once the cap.
        let mut s = spec();
        s.departments[0].max_records = 120_000_000;
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn a_signed_job_verifies_under_its_operator_key_only() {
        let rng = ring::rand::SystemRandom::new();
        let key = |_| {
            let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
        };
        use ring::signature::KeyPair;
        let (operator, other) = (key(0), key(1));
        let public: [u8; 32] = operator.public_key().as_ref().try_into().unwrap();
        let signed = SignedJob::sign(&spec(), "bureau", &operator);
        assert_eq!(signed.verify(&public), Ok(spec()));
        let forged = SignedJob::sign(&spec(), "bureau", &other);
        assert_eq!(forged.verify(&public), Err(JobSignatureError::BadSignature("bureau".into())));
        let mut changed = signed.clone();
        changed.spec = changed.spec.replace("\"status\"", "\"phone\"");
        assert_eq!(changed.verify(&public), Err(JobSignatureError::BadSignature("bureau".into())));
        let mut renamed = signed.clone();
        renamed.signer = "someone".into();
        assert!(renamed.verify(&public).is_err());
    }

    #[test]
    fn notices_parse_by_stage_and_refuse_anything_else() {
        let parse = |text: &str| serde_json::from_str::<SubmissionNotice>(text);
        assert_eq!(parse(r#"{"stage":"reading"}"#).unwrap(), SubmissionNotice::Reading {});
        assert_eq!(parse(r#"{"stage":"uploading"}"#).unwrap(), SubmissionNotice::Uploading { chunks_expected: None });
        assert_eq!(
            parse(r#"{"stage":"uploading","chunks_expected":7}"#).unwrap(),
            SubmissionNotice::Uploading { chunks_expected: Some(7) }
        );
        assert_eq!(
            parse(r#"{"stage":"declined","reason":"人工确认"}"#).unwrap(),
            SubmissionNotice::Declined { reason: "人工确认".into() }
        );
        for refused in [
            r#"{"stage":"sealed"}"#,
            r#"{"stage":"waiting"}"#,
            r#"{"stage":"declined"}"#,
            r#"{"stage":"uploading","chunks_expected":-1}"#,
            r#"{"stage":"uploading","records":5}"#,
            r#"{"stage":"reading","rows":5}"#,
            r#"{"reason":"x"}"#,
            "[]",
        ] {
            assert!(parse(refused).is_err(), "{refused}");
        }
        let sent = SubmissionNotice::Uploading { chunks_expected: Some(3) };
        assert_eq!(serde_json::to_string(&sent).unwrap(), r#"{"stage":"uploading","chunks_expected":3}"#);
    }

    /// A status from a matcher before stages (no `stage`, no progress) still parses.
    #[test]
    fn a_participant_without_a_stage_reads_as_waiting() {
        let old = r#"{"party":"household","role":"department","chunks":0,"records":0,"sealed":false,
            "rows_read":0,"invalid_ids":{}}"#;
        let status: ParticipantStatus = serde_json::from_str(old).unwrap();
        assert_eq!(
            (status.stage, status.chunks_expected, status.declined_reason),
            (ParticipantStage::Waiting, None, None)
        );
    }
}
