//! The example configurations under `examples/` and the configuration reference under
//! `docs/` keep up with the code (tests only): every example parses with the real types
//! and fits the district profile, and every key the types accept is documented, in both
//! languages, and nothing else is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bidui_agent::config::{AgentConfig, Columns, Policy, PolicyRule, ServePolicy};
use bidui_agent::source::SourceSpec;
use bidui_core::api::{DepartmentSpec, JobSpec, RequesterSpec, StatusRule};
use bidui_core::profile::{FieldProfile, PartyProfile, Profile};
use serde::de::{self, DeserializeOwned, Visitor};

use crate::operator::{read_profile, read_spec, OperatorConfig};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> PathBuf {
    root().join("examples")
}

/// The example agent configurations, by party.
fn example_agents() -> Vec<(String, AgentConfig)> {
    let mut agents: Vec<(String, AgentConfig)> = std::fs::read_dir(examples().join("agents"))
        .expect("examples/agents")
        .map(|entry| {
            let dir = entry.unwrap().path();
            let party = dir.file_name().unwrap().to_string_lossy().into_owned();
            let config = AgentConfig::load(&dir.join("agent.toml")).unwrap_or_else(|e| panic!("{e}"));
            (party, config)
        })
        .collect();
    agents.sort_by(|a, b| a.0.cmp(&b.0));
    agents
}

#[test]
fn every_example_configuration_parses_and_the_job_fits_the_profile_and_the_agents() {
    let profile = read_profile(&examples().join("district.toml")).unwrap();
    let operator = OperatorConfig::load(&examples().join("operator.toml")).unwrap();
    assert_eq!(operator.profile.as_deref(), Some(examples().join("district.toml").as_path()));
    assert!(operator.matcher.url.starts_with("https://") && operator.matcher.certificate.is_some());
    let spec = read_spec(&examples().join("job.toml")).unwrap();
    profile.check_job(&spec).unwrap();
    assert!(!spec.rules.is_empty(), "the example job declares a [[rule]]");

    let agents = example_agents();
    let parties: BTreeSet<&str> = agents.iter().map(|(party, _)| party.as_str()).collect();
    let in_profile: BTreeSet<&str> = profile.parties.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(parties, in_profile, "one example agent per party of examples/district.toml");
    for (party, config) in &agents {
        assert_eq!(&config.party, party, "examples/agents/{party}/agent.toml names another party");
        // The production shape: HTTPS with a pinned certificate, epochs from the custodian.
        assert!(config.matcher.url.starts_with("https://") && config.matcher.certificate.is_some(), "{party}");
        assert!(config.x25519_key.is_some() && config.custodian_key.is_some() && config.epochs.is_empty(), "{party}");
        let role = spec.role(party).unwrap_or_else(|| panic!("{party} is not in examples/job.toml"));
        let asked: Vec<String> = match role {
            bidui_core::api::PartyRole::Requester => spec.requester.fields.clone(),
            bidui_core::api::PartyRole::Department => spec.department(party).unwrap().fields.clone(),
        };
        for field in &asked {
            assert!(config.fields.contains_key(field), "{party} maps no column to {field}");
        }
        if role == bidui_core::api::PartyRole::Department {
            let (_, refused) = config.policy.decide(&asked, &spec.purpose, &config.fields);
            assert!(refused.is_empty(), "{party}'s [policy] refuses the example job's fields: {refused:?}");
        }
    }
}

/// Records the field names serde asks for when it deserializes a struct: the keys the
/// type accepts (renamed as they appear in TOML), without needing a value of it.
struct FieldNames(Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("field names recorded"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a plain struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// The keys of a struct without flattened parts, prefixed with its table (`source.path`).
fn keys_of<T: DeserializeOwned>(table: &str) -> Vec<String> {
    let mut names = FieldNames(None);
    let _ = T::deserialize(&mut names);
    let fields = names.0.unwrap_or_else(|| panic!("{} is not a plain struct", std::any::type_name::<T>()));
    fields.iter().map(|f| if table.is_empty() { (*f).to_owned() } else { format!("{table}.{f}") }).collect()
}

/// The top-level keys of a configuration with a flattened part (`MatcherEndpoint`), which
/// serde does not list: those of a value serialized to JSON, where an absent option is
/// still a key (`null`).
fn serialized_keys(value: &impl serde::Serialize) -> Vec<String> {
    match serde_json::to_value(value).unwrap() {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not a table: {other}"),
    }
}

/// Every key each configuration file accepts, by file name.
fn keys_in_code() -> Vec<(&'static str, BTreeSet<String>)> {
    let (_, agent) = example_agents().into_iter().next().unwrap();
    let mut agent_keys = serialized_keys(&agent);
    agent_keys.extend(keys_of::<SourceSpec>("source"));
    agent_keys.extend(keys_of::<Columns>("columns"));
    agent_keys.extend(keys_of::<Policy>("policy"));
    agent_keys.extend(keys_of::<PolicyRule>("policy.allow"));
    agent_keys.extend(keys_of::<ServePolicy>("serve"));
    let operator = serialized_keys(&OperatorConfig::load(&examples().join("operator.toml")).unwrap());
    let mut job = keys_of::<JobSpec>("");
    job.extend(keys_of::<RequesterSpec>("requester"));
    job.extend(keys_of::<DepartmentSpec>("department"));
    job.extend(keys_of::<StatusRule>("rule"));
    let mut district = keys_of::<Profile>("");
    district.extend(keys_of::<PartyProfile>("party"));
    district.extend(keys_of::<FieldProfile>("field"));
    [("agent.toml", agent_keys), ("operator.toml", operator), ("job.toml", job), ("district.toml", district)]
        .into_iter()
        .map(|(file, keys)| (file, keys.into_iter().collect()))
        .collect()
}

/// The keys a reference documents, by file: the first cell, in backquotes, of each row of a
/// table whose first header is `键` or `key`, under the last `## ` heading naming a file.
fn keys_in_reference(text: &str) -> Vec<(String, String)> {
    let files = ["agent.toml", "operator.toml", "job.toml", "district.toml"];
    let mut file = None;
    let mut in_key_table = false;
    let mut keys = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            file = files.iter().find(|f| heading.contains(*f)).map(|f| (*f).to_owned());
        }
        if !line.starts_with('|') {
            in_key_table = false;
            continue;
        }
        if line.starts_with("| 键 |") || line.starts_with("| key |") {
            in_key_table = true;
            continue;
        }
        let Some(cell) = line.strip_prefix("| `").filter(|_| in_key_table) else { continue };
        let key = cell.split('`').next().unwrap_or_default();
        let file = file.clone().unwrap_or_else(|| panic!("the key {key:?} is under no file's heading"));
        keys.push((file, key.to_owned()));
    }
    keys
}

#[test]
fn the_configuration_reference_documents_every_key_in_both_languages() {
    let code = keys_in_code();
    assert!(code.iter().any(|(f, k)| *f == "agent.toml" && k.contains("matcher_certificate")), "flattened keys");
    assert!(code.iter().any(|(f, k)| *f == "job.toml" && k.contains("rule.registry_values")), "nested keys");
    for language in ["zh", "en"] {
        let name = format!("docs/configuration.{language}.md");
        let text = std::fs::read_to_string(root().join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let documented = keys_in_reference(&text);
        let mut problems = Vec::new();
        for (file, keys) in &code {
            for key in keys {
                if !documented.iter().any(|(f, k)| f == file && k == key) {
                    problems.push(format!("{file}: `{key}` is accepted by the code but not documented in {name}"));
                }
            }
        }
        for (file, key) in &documented {
            if !code.iter().any(|(f, keys)| f == file && keys.contains(key)) {
                problems.push(format!("{file}: `{key}` is documented in {name} but no such key exists"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

#[test]
fn reference_keys_are_read_from_key_tables_under_file_headings() {
    let text = "# t\n| file | x |\n| `agent.toml` | a |\n## 1. agent.toml\n| key | x |\n| --- | --- |\n\
                | `party` | a |\n| `source.path` | b |\n\ntext `not-a-key`\n| test | x |\n| `any_of` | c |\n\
                ## 2. job.toml\n| 键 | 含义 |\n| `rule.code` | c |\n";
    let keys = keys_in_reference(text);
    let expected = [("agent.toml", "party"), ("agent.toml", "source.path"), ("job.toml", "rule.code")];
    assert_eq!(keys, expected.map(|(f, k)| (f.to_owned(), k.to_owned())));
}
