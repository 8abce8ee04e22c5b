//! The agent's TOML configuration: where the matcher is, which keys to use, which file
//! to read, how its columns map, whose signature a job needs, and the local policy of what
//! a department may seal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bidui_client::MatcherEndpoint;
use bidui_core::api::{JobSpec, RefusedField};
use bidui_i18n::Said;
use serde::{Deserialize, Serialize};

use crate::source::SourceSpec;

// Serialize: the configuration reference's test lists the keys (src/config_docs.rs).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// This agent's name at the matcher (its party name in jobs).
    pub party: String,
    /// The keys `matcher`, `matcher_certificate` and `matcher_ca`.
    #[serde(flatten)]
    pub matcher: MatcherEndpoint,
    /// The agent's Ed25519 signing key (`bidui agent init` writes it).
    pub identity_key: PathBuf,
    /// Epoch files (`suite` and `secret`) provisioned by hand (tests, demos); a job picks
    /// the one whose key check value it names. Epochs from the custodian arrive sealed
    /// through the matcher instead (`x25519_key`, `custodian_key`).
    #[serde(default)]
    pub epochs: Vec<PathBuf>,
    /// The agent's X25519 key, which sealed epochs are addressed to (`bidui agent init`).
    pub x25519_key: Option<PathBuf>,
    /// The key custodian's Ed25519 public key (hex): only epochs it signed are accepted,
    /// and, without `operator_key`, only jobs signed by an operator it enrolled.
    pub custodian_key: Option<String>,
    /// The operator's Ed25519 public key (hex): only jobs it signed are taken part in.
    /// Without it, the operator's key comes from the custodian's enrolment statement.
    pub operator_key: Option<String>,
    /// Where unsealed epochs are kept (0600 files); default `<state_dir>/epochs`.
    pub epochs_dir: Option<PathBuf>,
    /// Where the agent keeps its local reports, its run log (`release-log.jsonl`), its job id
    /// record and, for the requester, each job's opened `results.json`.
    pub state_dir: PathBuf,
    pub source: SourceSpec,
    pub columns: Columns,
    /// Shareable fields: field name (as jobs name it) → column header. For a department,
    /// the fields it may seal; for the requester, its own fields read into its results.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub policy: Policy,
    /// The least share of the source's rows that must be readable for the agent to seal
    /// (`--accept-few-readable` overrides it): below it, the export is likely cut short or
    /// laid out otherwise than configured.
    #[serde(default = "default_min_readable_share")]
    pub min_readable_share: f64,
    /// What `bidui agent serve` may run without a person; absent, it runs nothing.
    #[serde(default)]
    pub serve: ServePolicy,
}

fn default_min_readable_share() -> f64 {
    0.9
}

/// Column headers of the identity number and the attributes compared by token.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub id: String,
    pub name: Option<String>,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
}

/// The department's own decision of what may leave, for which purposes. A job asking for
/// anything else is refused field by field, and the refusal is logged locally.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub allow: Vec<PolicyRule>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    pub fields: Vec<String>,
    /// Purposes the fields may be sealed for, compared exactly; `"*"` allows any.
    pub purposes: Vec<String>,
}

impl Policy {
    /// Splits a job's `fields` into those sealed (the policy allows them for `purpose`;
    /// in the job's order) and those refused, with reasons.
    pub fn decide(
        &self,
        fields: &[String],
        purpose: &str,
        configured: &BTreeMap<String, String>,
    ) -> (Vec<String>, Vec<RefusedField>) {
        let mut sealed = Vec::new();
        let mut refused = Vec::new();
        for field in fields {
            match self.refusal(field, purpose, configured) {
                Some(refusal) => refused.push(RefusedField { field: field.clone(), reason: refusal.wire_reason() }),
                None => sealed.push(field.clone()),
            }
        }
        (sealed, refused)
    }

    /// Why `field` may not be sealed for `purpose`, or `None` if it may.
    pub fn refusal(&self, field: &str, purpose: &str, configured: &BTreeMap<String, String>) -> Option<Refusal> {
        if !configured.contains_key(field) {
            return Some(Refusal::Unmapped { field: field.to_owned() });
        }
        let allowed = self.allow.iter().any(|rule| {
            rule.fields.iter().any(|f| f == field) && rule.purposes.iter().any(|p| p == "*" || p == purpose)
        });
        (!allowed).then(|| Refusal::NotAllowed { field: field.to_owned(), purpose: purpose.to_owned() })
    }
}

/// Why the local policy keeps a field back: said to the department in its language
/// (`Display`), and to the matcher — the seal and its audit log — in stable English
/// ([`Refusal::wire_reason`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No column of the source is mapped to the field.
    Unmapped { field: String },
    /// No `[[policy.allow]]` rule lets the field leave for the purpose.
    NotAllowed { field: String, purpose: String },
}

impl Refusal {
    /// The reason as the seal carries it.
    pub fn wire_reason(&self) -> String {
        match self {
            Refusal::Unmapped { field } => format!("this agent has no column mapped to field {field:?}"),
            Refusal::NotAllowed { field, purpose } => {
                format!(
                    "the local policy does not allow sealing {field:?} to the requester for the purpose {purpose:?}"
                )
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&match self {
            Refusal::Unmapped { field } => bidui_i18n::t!("agent-refusal-unmapped", field = format!("{field:?}")),
            Refusal::NotAllowed { field, purpose } => bidui_i18n::t!(
                "agent-refusal-not-allowed",
                field = format!("{field:?}"),
                purpose = format!("{purpose:?}")
            ),
        })
    }
}

/// The `[serve]` section: which jobs `bidui agent serve` runs unattended. Every other job is
/// held for a person (`<state_dir>/held/<job>.json`), who runs it with `bidui agent run`.
/// The defaults run nothing: a department decides in writing what runs by itself.
/// (`Serialize` lists its keys for the configuration reference's test, `src/config_docs.rs`.)
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServePolicy {
    /// Run jobs without a person at all; `false` (the default) holds every job.
    #[serde(default)]
    pub auto_run: bool,
    /// Purposes a job may run unattended for, compared exactly; `"*"` allows any. Empty
    /// (the default): none.
    #[serde(default)]
    pub purposes: Vec<String>,
    /// Requesters (party names) whose jobs may run unattended; absent: any requester.
    pub requesters: Option<Vec<String>>,
    /// The largest `max_records` the job may allow the requester: the requester can open
    /// a department's values for up to that many people it chose (leakage.md §2.3), so a
    /// job allowing more waits for a person. Absent: no ceiling.
    pub max_requester_records: Option<u64>,
    /// A job asking for a field the `[policy]` refuses: `"hold"` (the default) waits for
    /// a person; `"seal-allowed"` runs it, sealing the allowed fields and reporting the
    /// refused ones, as `bidui agent run` does.
    #[serde(default)]
    pub refused_fields: RefusedFieldsAction,
    /// Seconds between two asks for new jobs (default 60).
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
}

impl Default for ServePolicy {
    fn default() -> ServePolicy {
        ServePolicy {
            auto_run: false,
            purposes: Vec::new(),
            requesters: None,
            max_requester_records: None,
            refused_fields: RefusedFieldsAction::Hold,
            poll_seconds: default_poll_seconds(),
        }
    }
}

fn default_poll_seconds() -> u64 {
    60
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusedFieldsAction {
    #[default]
    Hold,
    SealAllowed,
}

/// Why `bidui agent serve` leaves a job for a person: a stable code for logs, the reason in
/// Chinese for the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldReason {
    AutoRunOff,
    PurposeNotAllowed { purpose: String },
    RequesterNotAllowed { requester: String },
    RequesterCapTooLarge { cap: u64, ceiling: u64 },
    FieldsRefused { refused: Vec<RefusedField> },
}

impl HoldReason {
    pub fn code(&self) -> &'static str {
        match self {
            HoldReason::AutoRunOff => "auto-run-off",
            HoldReason::PurposeNotAllowed { .. } => "purpose-not-allowed",
            HoldReason::RequesterNotAllowed { .. } => "requester-not-allowed",
            HoldReason::RequesterCapTooLarge { .. } => "requester-cap-too-large",
            HoldReason::FieldsRefused { .. } => "fields-refused",
        }
    }

    pub fn explain(&self) -> String {
        match self {
            HoldReason::AutoRunOff => {
                "未开启无人值守运行（[serve] auto_run = false），每个作业都需人工确认后运行".into()
            }
            HoldReason::PurposeNotAllowed { purpose } => {
                format!("作业用途“{purpose}”不在 [serve] purposes 所列的无人值守用途之中")
            }
            HoldReason::RequesterNotAllowed { requester } => {
                format!("请求方“{requester}”不在 [serve] requesters 所列之中")
            }
            HoldReason::RequesterCapTooLarge { cap, ceiling } => format!(
                "作业允许请求方提交 {cap} 条记录，超过 [serve] max_requester_records（{ceiling}）：请求方可在此数量内\
                 打开本部门所封装的字段值"
            ),
            HoldReason::FieldsRefused { refused } => {
                let fields: Vec<&str> = refused.iter().map(|r| r.field.as_str()).collect();
                format!(
                    "作业要求的字段 {} 不在本地策略 [policy] 允许之列；[serve] refused_fields = \"hold\"，\
                     由人工决定是否只封装允许的字段后运行",
                    fields.join("、")
                )
            }
        }
    }
}

impl ServePolicy {
    /// Why `party` may not run `spec` unattended under this policy and the local sealing
    /// `policy`; empty if it may.
    pub fn hold_reasons(
        &self,
        spec: &JobSpec,
        party: &str,
        policy: &Policy,
        configured: &BTreeMap<String, String>,
    ) -> Vec<HoldReason> {
        let mut reasons = Vec::new();
        if !self.auto_run {
            reasons.push(HoldReason::AutoRunOff);
        }
        if !self.purposes.iter().any(|p| p == "*" || *p == spec.purpose) {
            reasons.push(HoldReason::PurposeNotAllowed { purpose: spec.purpose.clone() });
        }
        let requester = &spec.requester.party;
        if self.requesters.as_ref().is_some_and(|allowed| !allowed.contains(requester)) {
            reasons.push(HoldReason::RequesterNotAllowed { requester: requester.clone() });
        }
        let cap = spec.requester.max_records;
        if let Some(ceiling) = self.max_requester_records.filter(|ceiling| cap > *ceiling) {
            reasons.push(HoldReason::RequesterCapTooLarge { cap, ceiling });
        }
        if let Some(department) = spec.department(party) {
            let (_, refused) = policy.decide(&department.fields, &spec.purpose, configured);
            if !refused.is_empty() && self.refused_fields == RefusedFieldsAction::Hold {
                reasons.push(HoldReason::FieldsRefused { refused });
            }
        }
        reasons
    }
}

impl AgentConfig {
    pub fn epochs_dir(&self) -> PathBuf {
        self.epochs_dir.clone().unwrap_or_else(|| self.state_dir.join("epochs"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}", bidui_i18n::t!("agent-error-config-read", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("agent-error-config-invalid", path = .path.display(), message = .message))]
    Invalid { path: PathBuf, message: Said },
}

impl AgentConfig {
    /// Reads a configuration; relative paths in it are taken from the file's folder.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config: AgentConfig = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: Said::new(|| e.to_string()) })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.identity_key);
        config.matcher.resolve_relative_to(base);
        resolve(&mut config.state_dir);
        resolve(&mut config.source.path);
        config.epochs.iter_mut().for_each(resolve);
        config.x25519_key.iter_mut().for_each(resolve);
        config.epochs_dir.iter_mut().for_each(resolve);
        if config.serve.poll_seconds == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: Said::new(|| bidui_i18n::t!("agent-config-poll-zero")),
            });
        }
        if !(0.0..=1.0).contains(&config.min_readable_share) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: Said::new(|| {
                    bidui_i18n::t!("agent-config-min-readable-share", share = config.min_readable_share)
                }),
            });
        }
        let identifying = [Some(&config.columns.id), config.columns.name.as_ref()];
        if let Some((field, column)) = config.fields.iter().find(|(_, column)| identifying.contains(&Some(*column))) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: Said::new(|| {
                    bidui_i18n::t!(
                        "agent-config-identifying-field",
                        field = format!("{field:?}"),
                        column = format!("{column:?}")
                    )
                }),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_i18n::{in_language, Lang};

    #[test]
    fn a_field_mapped_to_an_identifying_column_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        let config = |field_column: &str| {
            format!(
                "party = \"household\"\nmatcher = \"http://127.0.0.1:1\"\nidentity_key = \"k\"\nepochs = []\n\
                 state_dir = \"s\"\n[source]\npath = \"h.csv\"\n[columns]\nid = \"身份证号\"\nname = \"姓名\"\n\
                 [fields]\nstatus = \"{field_column}\"\n"
            )
        };
        std::fs::write(&path, config("户籍状态")).unwrap();
        let loaded = AgentConfig::load(&path).unwrap();
        assert_eq!(loaded.source.path, dir.path().join("h.csv"), "relative paths are taken from the config's folder");
        for identifying in ["身份证号", "姓名"] {
            std::fs::write(&path, config(identifying)).unwrap();
            // Said in the language it is read in: Chinese, or English (a log line, --lang en).
            let error = AgentConfig::load(&path).unwrap_err();
            let english = in_language(Lang::En, || error.to_string());
            assert!(english.contains("identifying column"), "{english}");
            let chinese = in_language(Lang::Zh, || error.to_string());
            assert!(chinese.contains(&format!("对应的是身份识别列 \"{identifying}\"")), "{chinese}");
        }
    }

    #[test]
    fn the_matcher_keys_are_read_and_their_files_taken_from_the_configs_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        let config = |matcher_keys: &str| {
            format!(
                "party = \"household\"\n{matcher_keys}identity_key = \"k\"\nstate_dir = \"s\"\n\
                 [source]\npath = \"h.csv\"\n[columns]\nid = \"身份证号\"\n"
            )
        };
        std::fs::write(&path, config("matcher = \"https://m:8700\"\nmatcher_certificate = \"m.pem\"\n")).unwrap();
        let loaded = AgentConfig::load(&path).unwrap();
        assert_eq!(loaded.matcher.url, "https://m:8700");
        assert_eq!(loaded.matcher.certificate, Some(dir.path().join("m.pem")));
        assert_eq!(loaded.matcher.ca, None);
        std::fs::write(&path, config("matcher = \"https://m:8700\"\nmatcher_pin = \"m.pem\"\n")).unwrap();
        let error = AgentConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("matcher_pin"), "unknown keys are refused: {error}");
    }

    #[test]
    fn serve_holds_every_job_by_default_and_says_why() {
        let spec = crate::test_spec("j");
        let configured: BTreeMap<String, String> = [("status".to_owned(), "户籍状态".to_owned())].into();
        let allowing = Policy { allow: vec![PolicyRule { fields: vec!["status".into()], purposes: vec!["*".into()] }] };
        let codes = |serve: &ServePolicy, policy: &Policy| {
            serve.hold_reasons(&spec, "household", policy, &configured).iter().map(HoldReason::code).collect::<Vec<_>>()
        };
        assert_eq!(codes(&ServePolicy::default(), &allowing), vec!["auto-run-off", "purpose-not-allowed"]);
        let open = ServePolicy { auto_run: true, purposes: vec!["比对".into()], ..ServePolicy::default() };
        assert!(codes(&open, &allowing).is_empty());
        assert_eq!(codes(&open, &Policy::default()), vec!["fields-refused"], "status refused by [policy]");
        let sealing = ServePolicy { refused_fields: RefusedFieldsAction::SealAllowed, ..open.clone() };
        assert!(codes(&sealing, &Policy::default()).is_empty());
        let strict = ServePolicy {
            requesters: Some(vec!["civil-affairs".into()]),
            max_requester_records: Some(9),
            ..open.clone()
        };
        assert_eq!(codes(&strict, &allowing), vec!["requester-not-allowed", "requester-cap-too-large"]);
        let reasons = strict.hold_reasons(&spec, "household", &allowing, &configured);
        assert!(reasons[1].explain().contains("10 条记录"), "{}", reasons[1].explain());
    }

    #[test]
    fn the_serve_section_reads_its_keys_and_refuses_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        let config = |serve: &str| {
            format!(
                "party = \"household\"\nmatcher = \"http://127.0.0.1:1\"\nidentity_key = \"k\"\nstate_dir = \"s\"\n\
                 [source]\npath = \"h.csv\"\n[columns]\nid = \"身份证号\"\n{serve}"
            )
        };
        std::fs::write(&path, config("")).unwrap();
        let serve = AgentConfig::load(&path).unwrap().serve;
        assert!(!serve.auto_run && serve.purposes.is_empty() && serve.poll_seconds == 60);
        std::fs::write(
            &path,
            config(
                "[serve]\nauto_run = true\npurposes = [\"*\"]\nrefused_fields = \"seal-allowed\"\npoll_seconds = 5\n",
            ),
        )
        .unwrap();
        let serve = AgentConfig::load(&path).unwrap().serve;
        assert_eq!((serve.refused_fields, serve.poll_seconds), (RefusedFieldsAction::SealAllowed, 5));
        std::fs::write(&path, config("[serve]\nautorun = true\n")).unwrap();
        assert!(AgentConfig::load(&path).unwrap_err().to_string().contains("autorun"));
        std::fs::write(&path, config("[serve]\npoll_seconds = 0\n")).unwrap();
        assert!(AgentConfig::load(&path).unwrap_err().to_string().contains("poll_seconds"));
    }

    #[test]
    fn policy_allows_only_listed_fields_for_listed_purposes() {
        let policy = Policy {
            allow: vec![
                PolicyRule { fields: vec!["status".into()], purposes: vec!["比对".into()] },
                PolicyRule { fields: vec!["town".into()], purposes: vec!["*".into()] },
            ],
        };
        let configured: BTreeMap<String, String> = [("status", "户籍状态"), ("town", "镇街"), ("phone", "电话")]
            .into_iter()
            .map(|(a, b)| (a.into(), b.into()))
            .collect();
        assert_eq!(policy.refusal("status", "比对", &configured), None);
        let refusal = policy.refusal("status", "其他", &configured).unwrap();
        assert!(refusal.wire_reason().contains("local policy"), "the seal says it in English");
        // The department reads it in its language.
        let en = in_language(Lang::En, || refusal.to_string());
        assert_eq!(en, refusal.wire_reason());
        let zh = in_language(Lang::Zh, || refusal.to_string());
        assert_eq!(zh, "本地策略不允许为用途 \"其他\" 把字段 \"status\" 密封发给请求方");
        assert_eq!(policy.refusal("town", "其他", &configured), None);
        assert!(policy.refusal("phone", "比对", &configured).is_some());
        assert_eq!(policy.refusal("income", "比对", &configured), Some(Refusal::Unmapped { field: "income".into() }));
        let asked: Vec<String> = ["phone", "town", "status", "income"].into_iter().map(String::from).collect();
        let (sealed, refused) = policy.decide(&asked, "比对", &configured);
        assert_eq!(sealed, vec!["town", "status"], "the job's order");
        assert_eq!(refused.iter().map(|r| r.field.as_str()).collect::<Vec<_>>(), vec!["phone", "income"]);
    }
}
