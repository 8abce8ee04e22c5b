//! The department agent: the only part of bidui that reads raw identity numbers. It
//! reads the department's own exports beside the data, turns identity numbers into
//! per-job tokens, and sends the matcher tokens, counts and — for matched rows only —
//! the fields its local policy allows.
//!
//! - [`source`]: streaming readers of CSV (UTF-8/GBK/GB18030), .xlsx and .xls;
//! - [`config`]: the agent's TOML configuration and local release policy;
//! - [`epochs`]: epoch files (suite and secret, 0600);
//! - [`job_ids`]: the job ids tokenized under, per epoch; a reused one is refused;
//! - [`tokenize`]: rows to token records;
//! - [`run`]: one job: upload with resume, seal, release, local log.

#![forbid(unsafe_code)]

pub mod config;
pub mod epochs;
pub mod job_ids;
pub mod run;
pub mod source;
pub mod tokenize;
