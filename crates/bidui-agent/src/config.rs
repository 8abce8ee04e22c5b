//! The agent's TOML configuration: where the matcher is, which keys to use, which file
//! to read, how its columns map, whose signature a job needs, and the local policy of what
//! a department may seal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bidui_client::MatcherEndpoint;
use bidui_core::api::RefusedField;
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
                Some(reason) => refused.push(RefusedField { field: field.clone(), reason }),
                None => sealed.push(field.clone()),
            }
        }
        (sealed, refused)
    }

    /// Why `field` may not be sealed for `purpose`, or `None` if it may.
    pub fn refusal(&self, field: &str, purpose: &str, configured: &BTreeMap<String, String>) -> Option<String> {
        if !configured.contains_key(field) {
            return Some(format!("this agent has no column mapped to field {field:?}"));
        }
        let allowed = self.allow.iter().any(|rule| {
            rule.fields.iter().any(|f| f == field) && rule.purposes.iter().any(|p| p == "*" || p == purpose)
        });
        (!allowed).then(|| {
            format!("the local policy does not allow sealing {field:?} to the requester for the purpose {purpose:?}")
        })
    }
}

impl AgentConfig {
    pub fn epochs_dir(&self) -> PathBuf {
        self.epochs_dir.clone().unwrap_or_else(|| self.state_dir.join("epochs"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the agent configuration {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the agent configuration {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl AgentConfig {
    /// Reads a configuration; relative paths in it are taken from the file's folder.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config: AgentConfig = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: e.to_string() })?;
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
        if !(0.0..=1.0).contains(&config.min_readable_share) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "min_readable_share is {}: give a share from 0 to 1 (0.9 is 90%)",
                    config.min_readable_share
                ),
            });
        }
        let identifying = [Some(&config.columns.id), config.columns.name.as_ref()];
        if let Some((field, column)) = config.fields.iter().find(|(_, column)| identifying.contains(&Some(*column))) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "field {field:?} maps to the identifying column {column:?}: identity numbers and names are \
                     compared by token, never sealed as values"
                ),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let error = AgentConfig::load(&path).unwrap_err().to_string();
            assert!(error.contains("identifying column"), "{error}");
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
        assert!(policy.refusal("status", "其他", &configured).unwrap().contains("local policy"));
        assert_eq!(policy.refusal("town", "其他", &configured), None);
        assert!(policy.refusal("phone", "比对", &configured).is_some());
        assert!(policy.refusal("income", "比对", &configured).unwrap().contains("no column"));
        let asked: Vec<String> = ["phone", "town", "status", "income"].into_iter().map(String::from).collect();
        let (sealed, refused) = policy.decide(&asked, "比对", &configured);
        assert_eq!(sealed, vec!["town", "status"], "the job's order");
        assert_eq!(refused.iter().map(|r| r.field.as_str()).collect::<Vec<_>>(), vec!["phone", "income"]);
    }
}
