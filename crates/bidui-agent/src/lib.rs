//! The agent of a department or of the requester: the only part of bidui that reads raw
//! identity numbers. It reads the party's own exports beside the data, turns identity numbers into
//! per-pair tokens, and sends the matcher tokens, counts and — for a department — the
//! fields its local policy allows, sealed to whoever knows each row's person. The
//! requester's agent opens what the matcher forwards with its own registry.
//!
//! - [`check`]: `bidui agent check`, the configuration, files, source and matcher judged;
//! - [`source`]: streaming readers of CSV (UTF-8/GBK/GB18030), .xlsx and .xls;
//! - [`config`]: the agent's TOML configuration, trust anchors and local sealing policy;
//! - [`epochs`]: epoch files (suite and secret, 0600);
//! - [`trust`]: the operator's signed job spec, verified before anything is read;
//! - [`job_ids`]: the job ids tokenized under, per epoch; a reused one is refused;
//! - [`tokenize`]: rows to token records, with a department's values sealed;
//! - [`open`]: the requester opens the sealed values of its own registry's people;
//! - [`run`]: one job: upload with resume, seal, the requester's results, local log;
//! - [`serve`]: the agent as a service: the jobs waiting for it, run or held by its policy.

#![forbid(unsafe_code)]

pub mod check;
pub mod config;
pub mod epochs;
#[doc(hidden)]
pub mod fuzzing;
pub mod job_ids;
pub mod open;
pub mod run;
pub mod serve;
pub mod source;
pub mod source_identity;
pub mod tokenize;
pub mod trust;

/// A one-department job for the crate's unit tests.
#[cfg(test)]
pub(crate) fn test_spec(id: &str) -> bidui_core::api::JobSpec {
    use bidui_core::api::{Attribute, DepartmentSpec, JobSpec, RequesterSpec};
    JobSpec {
        id: id.into(),
        purpose: "比对".into(),
        approval: "民政〔2026〕1号".into(),
        epoch: "0123456789abcdef".into(),
        suite: bidui_core::Suite::HmacSha256,
        requester: RequesterSpec { party: "veterans".into(), fields: vec![], max_records: 10 },
        departments: vec![DepartmentSpec {
            party: "household".into(),
            compare: vec![Attribute::Sex],
            fields: vec!["status".into()],
            max_records: 10,
        }],
        retention_hours: None,
        rules: Vec::new(),
        profile: None,
    }
}
