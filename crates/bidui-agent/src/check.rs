//! `bidui agent check`: what a department's IT staff run before their first job. It reads
//! the configuration, the files it names and the source, asks the matcher whether it is
//! there and whether it knows this agent, and returns one [`Finding`] per thing checked,
//! each with a verdict and, when something is wrong, what to change.
//!
//! Nothing is sent but the health check and one signed read (`GET /v1/epochs`). Identity
//! numbers stay here: a finding carries them masked ([`mask`]: the region's first four and
//! the last four characters), never whole, since the output may be pasted into a ticket.
//!
//! Every text a person reads is in [`Message::text`] / [`Message::fix`] (and the labels of
//! [`Verdict`] and [`Kind`]), Chinese and English side by side, so that they can move to a
//! localisation catalogue in one piece.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bidui_client::{certificate_fingerprint, presented_certificate, Client, ClientError, RetryPolicy, TrustKind};
use bidui_core::api::EpochDelivery;
use bidui_core::{idnum, CivilDate, IdNumber};
use bidui_keyfile::Identity;

use crate::config::AgentConfig;
use crate::epochs;
use crate::source::{Source, SourceError};

/// The language of what is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
    Warning,
    Error,
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Config,
    File,
    Key,
    JobTrust,
    Source,
    Column,
    Sample,
    Counts,
    Policy,
    Matcher,
    Certificate,
    Epoch,
    Enrolment,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    pub verdict: Verdict,
    pub message: Message,
}

/// A file the configuration names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRole {
    Source,
    IdentityKey,
    X25519Key,
    EpochFile,
    MatcherCertificate,
    MatcherCa,
}

impl FileRole {
    /// The configuration key that names the file.
    fn key(self) -> &'static str {
        match self {
            FileRole::Source => "[source] path",
            FileRole::IdentityKey => "identity_key",
            FileRole::X25519Key => "x25519_key",
            FileRole::EpochFile => "epochs",
            FileRole::MatcherCertificate => "matcher_certificate",
            FileRole::MatcherCa => "matcher_ca",
        }
    }
}

/// What was found, with the values a text needs; [`Message::text`] says it.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    ConfigMissing {
        path: PathBuf,
    },
    ConfigUnreadable {
        path: PathBuf,
        detail: String,
    },
    ConfigRead {
        path: PathBuf,
        party: String,
    },
    FileMissing {
        role: FileRole,
        path: PathBuf,
    },
    FilePresent {
        role: FileRole,
        path: PathBuf,
    },
    /// A secret key readable by group or others.
    KeyTooOpen {
        path: PathBuf,
        mode: u32,
    },
    KeyPrivate {
        path: PathBuf,
    },
    KeyInvalid {
        role: FileRole,
        path: PathBuf,
        detail: String,
    },
    /// Sealed epochs need both `x25519_key` and `custodian_key`; one of them is missing.
    SealedEpochsOff {
        missing: &'static str,
    },
    JobTrustMissing,
    JobTrustInvalid {
        key: &'static str,
    },
    JobTrust {
        key: &'static str,
    },
    SourceUnreadable {
        detail: String,
    },
    SourceOpened {
        path: PathBuf,
        format: String,
        encoding: Option<String>,
        sheet: Option<String>,
        columns: usize,
    },
    /// `key` is the configuration key (`columns.id`, `fields.status`); `column` is 1-based.
    ColumnFound {
        key: String,
        header: String,
        column: usize,
    },
    ColumnMissing {
        key: String,
        header: String,
        headers: Vec<String>,
        suggestion: Option<String>,
    },
    ColumnTwice {
        key: String,
        header: String,
        first: usize,
        second: usize,
    },
    /// A sample row's identity cell: valid, shown masked.
    SampleValid {
        row: u32,
        masked: String,
    },
    SampleInvalid {
        row: u32,
        masked: String,
        code: &'static str,
    },
    SampleUnreadable {
        row: u32,
        reason: String,
    },
    NoRows,
    Counts {
        rows: u64,
        valid: u64,
        invalid: BTreeMap<&'static str, u64>,
        unreadable: u64,
    },
    TooFewReadable {
        readable: u64,
        rows: u64,
        percent: f64,
    },
    NoFields,
    /// `purposes` holds `*` for any purpose.
    FieldAllowed {
        field: String,
        purposes: Vec<String>,
    },
    FieldNeverAllowed {
        field: String,
    },
    PolicyFieldUnmapped {
        field: String,
    },
    MatcherSetup {
        url: String,
        detail: String,
    },
    MatcherReachable {
        url: String,
    },
    MatcherUnreachable {
        url: String,
        cause: String,
    },
    MatcherUnhealthy {
        url: String,
        cause: String,
    },
    MatcherUntrusted {
        url: String,
        cause: String,
    },
    PlainHttp {
        url: String,
    },
    CertificatePinned {
        fingerprint: String,
    },
    CertificateMismatch {
        presented: String,
        pinned: String,
    },
    CertificateByCa {
        fingerprint: String,
    },
    CertificateUnread {
        cause: String,
    },
    EpochHeld {
        kcv: String,
        suite: String,
        path: PathBuf,
    },
    EpochUnreadable {
        path: PathBuf,
        detail: String,
    },
    /// No epoch held; with sealed epochs configured one can still arrive at the next run.
    NoEpoch {
        can_receive: bool,
    },
    EpochsWaiting {
        count: usize,
    },
    Enrolled {
        party: String,
    },
    NotEnrolled {
        party: String,
        public_key: String,
    },
    /// The matcher knows the party name under another key.
    OtherKeyEnrolled {
        party: String,
        public_key: String,
    },
    Revoked {
        party: String,
    },
    ClockSkew {
        detail: String,
    },
    EnrolmentRefused {
        cause: String,
    },
    EnrolmentUnchecked,
}

/// What to check with, besides the configuration.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Rows whose identity cells are shown (masked).
    pub rows: usize,
    /// Birth dates after this day are impossible.
    pub today: CivilDate,
    /// How long each request to the matcher may take.
    pub timeout: Duration,
}

/// Checks the agent configured at `config_path`; the findings in the order a person fixes
/// them (configuration, files and keys, source, policy, matcher, epochs, enrolment).
pub fn check(config_path: &Path, options: &CheckOptions) -> Vec<Finding> {
    let mut report = Report::default();
    let config = match AgentConfig::load(config_path) {
        Ok(config) => config,
        Err(e) => {
            // The loader's message names the key and the problem: nothing else can be judged.
            let path = config_path.to_owned();
            let message = match e {
                crate::config::ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    Message::ConfigMissing { path }
                }
                crate::config::ConfigError::Read { source, .. } => {
                    Message::ConfigUnreadable { path, detail: source.to_string() }
                }
                crate::config::ConfigError::Invalid { message, .. } => {
                    Message::ConfigUnreadable { path, detail: message.trim_end().to_owned() }
                }
            };
            report.error(Kind::Config, message);
            return report.findings;
        }
    };
    report.pass(Kind::Config, Message::ConfigRead { path: config_path.to_owned(), party: config.party.clone() });
    let identity = check_keys(&config, &mut report);
    check_job_trust(&config, &mut report);
    check_source(&config, options, &mut report);
    check_policy(&config, &mut report);
    let held = held_epochs(&config, &mut report);
    let matcher = check_matcher(&config, options, &mut report);
    match (matcher, identity) {
        (Some(matcher), Some(identity)) => check_enrolment(&config, matcher.client(identity), &held, &mut report),
        (Some(_), None) => report.warn(Kind::Enrolment, Message::EnrolmentUnchecked),
        (None, _) => {}
    }
    report.findings
}

/// Whether any finding is an error: the command's exit status.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.verdict == Verdict::Error)
}

/// An identity number as it may be shown: the first four and the last four characters,
/// the rest (birth date and sequence) as `*`; shorter texts entirely as `*`.
pub fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 15 {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - 8;
    chars[..4].iter().chain(std::iter::repeat_n(&'*', hidden)).chain(&chars[chars.len() - 4..]).collect()
}

#[derive(Default)]
struct Report {
    findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, kind: Kind, verdict: Verdict, message: Message) {
        self.findings.push(Finding { kind, verdict, message });
    }
    fn pass(&mut self, kind: Kind, message: Message) {
        self.add(kind, Verdict::Pass, message);
    }
    fn warn(&mut self, kind: Kind, message: Message) {
        self.add(kind, Verdict::Warning, message);
    }
    fn error(&mut self, kind: Kind, message: Message) {
        self.add(kind, Verdict::Error, message);
    }
}

/// Whether a file that holds a secret can be read by anyone but its owner: the mode bits.
#[cfg(unix)]
fn open_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn open_mode(_path: &Path) -> Option<u32> {
    None
}

/// A secret file: present, 0600. Returns whether it is there.
fn check_secret_file(role: FileRole, path: &Path, report: &mut Report) -> bool {
    if !path.is_file() {
        report.error(Kind::File, Message::FileMissing { role, path: path.to_owned() });
        return false;
    }
    match open_mode(path) {
        Some(mode) => report.error(Kind::Key, Message::KeyTooOpen { path: path.to_owned(), mode }),
        None => report.pass(Kind::Key, Message::KeyPrivate { path: path.to_owned() }),
    }
    true
}

/// The agent's keys and the matcher's trust files; returns the signing identity if usable.
fn check_keys(config: &AgentConfig, report: &mut Report) -> Option<Identity> {
    let mut identity = None;
    if check_secret_file(FileRole::IdentityKey, &config.identity_key, report) {
        match Identity::load(&config.identity_key) {
            Ok(loaded) => identity = Some(loaded),
            Err(e) => report.error(
                Kind::Key,
                Message::KeyInvalid {
                    role: FileRole::IdentityKey,
                    path: config.identity_key.clone(),
                    detail: e.to_string(),
                },
            ),
        }
    }
    if let Some(path) = &config.x25519_key {
        if check_secret_file(FileRole::X25519Key, path, report) {
            if let Err(e) = epochs::load_x25519(path) {
                report.error(
                    Kind::Key,
                    Message::KeyInvalid { role: FileRole::X25519Key, path: path.clone(), detail: e.to_string() },
                );
            }
        }
    }
    match (&config.x25519_key, &config.custodian_key) {
        (Some(_), None) => report.warn(Kind::Key, Message::SealedEpochsOff { missing: "custodian_key" }),
        (None, Some(_)) => report.warn(Kind::Key, Message::SealedEpochsOff { missing: "x25519_key" }),
        _ => {}
    }
    for (role, path) in
        [(FileRole::MatcherCertificate, &config.matcher.certificate), (FileRole::MatcherCa, &config.matcher.ca)]
    {
        if let Some(path) = path {
            let message = Message::FilePresent { role, path: path.clone() };
            match path.is_file() {
                true => report.pass(Kind::File, message),
                false => report.error(Kind::File, Message::FileMissing { role, path: path.clone() }),
            }
        }
    }
    identity
}

/// Whose signature a job needs: without `operator_key` or `custodian_key` every job is refused.
fn check_job_trust(config: &AgentConfig, report: &mut Report) {
    let keys = [("operator_key", &config.operator_key), ("custodian_key", &config.custodian_key)];
    let mut any = false;
    for (key, value) in keys {
        let Some(value) = value else { continue };
        any = true;
        let valid = hex::decode(value.trim()).is_ok_and(|bytes| bytes.len() == 32);
        match valid {
            true => report.pass(Kind::JobTrust, Message::JobTrust { key }),
            false => report.error(Kind::JobTrust, Message::JobTrustInvalid { key }),
        }
    }
    if !any {
        report.error(Kind::JobTrust, Message::JobTrustMissing);
    }
}

/// The header closest to `wanted`, if any is close: one contains the other, or they differ
/// in at most half their characters.
fn closest_header(wanted: &str, headers: &[String]) -> Option<String> {
    let fold = |s: &str| s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect::<String>();
    let wanted = fold(wanted);
    headers
        .iter()
        .filter_map(|header| {
            let folded = fold(header);
            if folded.is_empty() || wanted.is_empty() {
                return None;
            }
            let distance = strsim::levenshtein(&wanted, &folded);
            let longer = wanted.chars().count().max(folded.chars().count());
            let close = folded.contains(&wanted) || wanted.contains(&folded) || distance <= (longer / 2).max(1);
            close.then_some((distance, header))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, header)| header.clone())
}

/// The column of `header`, or a finding saying why there is none.
fn find_column(source: &Source, key: String, header: &str, report: &mut Report) -> Option<usize> {
    match source.column(header) {
        Ok(index) => {
            report.pass(Kind::Column, Message::ColumnFound { key, header: header.to_owned(), column: index + 1 });
            Some(index)
        }
        Err(SourceError::ColumnNotFound { column, available, .. }) => {
            let suggestion = closest_header(&column, &available);
            report.error(Kind::Column, Message::ColumnMissing { key, header: column, headers: available, suggestion });
            None
        }
        Err(SourceError::DuplicateColumn { column, first, second, .. }) => {
            report.error(Kind::Column, Message::ColumnTwice { key, header: column, first, second });
            None
        }
        Err(other) => {
            report.error(Kind::Column, Message::SourceUnreadable { detail: other.to_string() });
            None
        }
    }
}

/// The source: it opens, its columns match, a few identity cells, and counts over all rows.
fn check_source(config: &AgentConfig, options: &CheckOptions, report: &mut Report) {
    if !config.source.path.is_file() {
        report.error(Kind::File, Message::FileMissing { role: FileRole::Source, path: config.source.path.clone() });
        return;
    }
    let mut source = match Source::open(&config.source) {
        Ok(source) => source,
        Err(e) => {
            report.error(Kind::Source, Message::SourceUnreadable { detail: e.to_string() });
            return;
        }
    };
    report.pass(
        Kind::Source,
        Message::SourceOpened {
            path: config.source.path.clone(),
            format: source.format().to_string(),
            encoding: source.encoding().map(|e| e.to_string()),
            sheet: source.sheet().map(str::to_owned),
            columns: source.headers().len(),
        },
    );
    let columns = &config.columns;
    let id = find_column(&source, "columns.id".into(), &columns.id, report);
    for (key, header) in [("name", &columns.name), ("sex", &columns.sex), ("birth_date", &columns.birth_date)] {
        if let Some(header) = header {
            find_column(&source, format!("columns.{key}"), header, report);
        }
    }
    for (field, header) in &config.fields {
        find_column(&source, format!("fields.{field}"), header, report);
    }
    if let Some(id) = id {
        count_identities(&mut source, id, config.min_readable_share, options, report);
    }
}

/// Reads every row once, keeping only counts, and shows the first `options.rows` masked.
fn count_identities(source: &mut Source, id: usize, min_share: f64, options: &CheckOptions, report: &mut Report) {
    let (mut rows, mut valid, mut unreadable) = (0u64, 0u64, 0u64);
    let mut invalid: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut cell, mut ends) = (String::new(), Vec::new());
    while let Some(read) = source.next_cells(&[Some(id)], &mut cell, &mut ends) {
        rows += 1;
        let shown = rows <= options.rows as u64;
        match read {
            Err(error) => {
                unreadable += 1;
                if shown {
                    report.warn(Kind::Sample, Message::SampleUnreadable { row: error.row, reason: error.reason });
                }
            }
            Ok(row) => match IdNumber::parse(&cell, options.today) {
                Ok(number) => {
                    valid += 1;
                    if shown {
                        report.pass(Kind::Sample, Message::SampleValid { row, masked: mask(number.as_str()) });
                    }
                }
                Err(error) => {
                    *invalid.entry(error.code()).or_default() += 1;
                    if shown {
                        let masked = mask(&idnum::normalize(&cell));
                        report.warn(Kind::Sample, Message::SampleInvalid { row, masked, code: error.code() });
                    }
                }
            },
        }
        cell.clear();
        ends.clear();
    }
    if rows == 0 {
        report.error(Kind::Counts, Message::NoRows);
        return;
    }
    let clean = invalid.is_empty() && unreadable == 0;
    let readable = rows - unreadable;
    let counts = Message::Counts { rows, valid, invalid, unreadable };
    match clean {
        true => report.pass(Kind::Counts, counts),
        false => report.warn(Kind::Counts, counts),
    }
    if (readable as f64) < min_share * rows as f64 {
        report.error(Kind::Counts, Message::TooFewReadable { readable, rows, percent: min_share * 100.0 });
    }
}

/// Which mapped field may be sealed for which purposes, per `[policy]`.
fn check_policy(config: &AgentConfig, report: &mut Report) {
    if config.fields.is_empty() {
        report.pass(Kind::Policy, Message::NoFields);
    }
    for field in config.fields.keys() {
        let purposes: BTreeSet<&String> = config
            .policy
            .allow
            .iter()
            .filter(|rule| rule.fields.contains(field))
            .flat_map(|rule| &rule.purposes)
            .collect();
        let purposes: Vec<String> = match purposes.iter().any(|p| *p == "*") {
            true => vec!["*".to_owned()],
            false => purposes.into_iter().cloned().collect(),
        };
        match purposes.is_empty() {
            true => report.warn(Kind::Policy, Message::FieldNeverAllowed { field: field.clone() }),
            false => report.pass(Kind::Policy, Message::FieldAllowed { field: field.clone(), purposes }),
        }
    }
    let named: BTreeSet<&String> = config.policy.allow.iter().flat_map(|rule| &rule.fields).collect();
    for field in named.into_iter().filter(|f| !config.fields.contains_key(*f)) {
        report.warn(Kind::Policy, Message::PolicyFieldUnmapped { field: field.clone() });
    }
}

/// The epochs the agent holds, by key check value.
fn held_epochs(config: &AgentConfig, report: &mut Report) -> BTreeSet<String> {
    let mut held = BTreeSet::new();
    for path in epochs::held(&config.epochs, &config.epochs_dir()) {
        if !check_secret_file(FileRole::EpochFile, &path, report) {
            continue;
        }
        match epochs::load(&path) {
            Ok(epoch) => {
                let kcv = epoch.key_check_value();
                report.pass(Kind::Epoch, Message::EpochHeld { kcv: kcv.clone(), suite: epoch.suite.to_string(), path });
                held.insert(kcv);
            }
            Err(e) => report.error(Kind::Epoch, Message::EpochUnreadable { path, detail: e.to_string() }),
        }
    }
    if held.is_empty() {
        let can_receive = config.x25519_key.is_some() && config.custodian_key.is_some();
        let message = Message::NoEpoch { can_receive };
        match can_receive {
            true => report.warn(Kind::Epoch, message),
            false => report.error(Kind::Epoch, message),
        }
    }
    held
}

/// A matcher that answered: clients of it with a short timeout and no retries.
struct ReachableMatcher {
    endpoint: bidui_client::MatcherEndpoint,
    party: String,
    timeout: Duration,
}

impl ReachableMatcher {
    fn client(&self, identity: Identity) -> Result<Client, ClientError> {
        Ok(self.endpoint.client(&self.party, identity)?.with_retry(RetryPolicy::NONE).with_timeout(self.timeout))
    }
}

/// The matcher answers its health check, over the configured trust, and presents the
/// certificate pinned. Returns the matcher when it answered.
fn check_matcher(config: &AgentConfig, options: &CheckOptions, report: &mut Report) -> Option<ReachableMatcher> {
    let url = config.matcher.url.clone();
    let matcher =
        ReachableMatcher { endpoint: config.matcher.clone(), party: config.party.clone(), timeout: options.timeout };
    // A missing trust file is already an error of its own.
    let trust_files_present =
        [&config.matcher.certificate, &config.matcher.ca].iter().all(|p| p.as_ref().is_none_or(|p| p.is_file()));
    // The health check reads no signature: any key signs it.
    let identity = match Identity::ephemeral() {
        Ok(identity) => identity,
        Err(e) => {
            report.error(Kind::Matcher, Message::MatcherSetup { url, detail: e.to_string() });
            return None;
        }
    };
    let client = match matcher.client(identity) {
        Ok(client) => client,
        Err(e) => {
            if trust_files_present {
                report.error(Kind::Matcher, Message::MatcherSetup { url, detail: e.to_string() });
            }
            return None;
        }
    };
    let https = url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let reachable = match client.send("GET", "/v1/health", b"", "text/plain") {
        Ok(_) => {
            report.pass(Kind::Matcher, Message::MatcherReachable { url: url.clone() });
            true
        }
        Err(e @ ClientError::Refused { .. }) => {
            report.error(Kind::Matcher, Message::MatcherUnhealthy { url: url.clone(), cause: e.to_string() });
            true
        }
        Err(e @ ClientError::Untrusted { .. }) => {
            report.error(Kind::Certificate, Message::MatcherUntrusted { url: url.clone(), cause: e.to_string() });
            false
        }
        Err(e) => {
            report.error(Kind::Matcher, Message::MatcherUnreachable { url: url.clone(), cause: cause(&e) });
            return None;
        }
    };
    if https {
        check_certificate(config, &url, options.timeout, report);
    } else {
        report.warn(Kind::Matcher, Message::PlainHttp { url });
    }
    reachable.then_some(matcher)
}

/// The agent's signing public key (hex), to hand to the custodian.
fn public_key(config: &AgentConfig) -> String {
    Identity::load(&config.identity_key).map(|i| i.public_key_hex()).unwrap_or_default()
}

/// Why a request did not get through, in the client's plain words (the URL is said apart).
fn cause(error: &ClientError) -> String {
    match error {
        ClientError::Transport { reason, .. } => reason.clone(),
        ClientError::GaveUp { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// The fingerprint of the certificate the matcher presents, against the pinned one.
fn check_certificate(config: &AgentConfig, url: &str, timeout: Duration, report: &mut Report) {
    let presented = match presented_certificate(url, timeout) {
        Ok(der) => certificate_fingerprint(&der),
        Err(e) => {
            report.warn(Kind::Certificate, Message::CertificateUnread { cause: cause(&e) });
            return;
        }
    };
    let Ok(Some(trust)) = config.matcher.trust() else { return };
    match trust.kind() {
        TrustKind::PinnedCertificate => {
            let pinned = trust.fingerprints().remove(0);
            match pinned == presented {
                true => report.pass(Kind::Certificate, Message::CertificatePinned { fingerprint: presented }),
                false => report.error(Kind::Certificate, Message::CertificateMismatch { presented, pinned }),
            }
        }
        TrustKind::CaFile => report.pass(Kind::Certificate, Message::CertificateByCa { fingerprint: presented }),
    }
}

/// Whether the matcher knows this agent: a signed read only an enrolled agent may make.
fn check_enrolment(
    config: &AgentConfig,
    client: Result<Client, ClientError>,
    held: &BTreeSet<String>,
    report: &mut Report,
) {
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            report.error(Kind::Enrolment, Message::EnrolmentRefused { cause: e.to_string() });
            return;
        }
    };
    let party = config.party.clone();
    match client.get::<EpochDelivery>("/v1/epochs") {
        Ok(delivery) => {
            report.pass(Kind::Enrolment, Message::Enrolled { party: party.clone() });
            let waiting = delivery.sealed.iter().filter(|s| s.recipient == party && !held.contains(&s.kcv)).count();
            if waiting > 0 {
                report.pass(Kind::Epoch, Message::EpochsWaiting { count: waiting });
            }
        }
        Err(e) => {
            let message = match (e.status(), e.code()) {
                (Some(401), Some("unknown-signer")) => Message::NotEnrolled { party, public_key: public_key(config) },
                (Some(401), Some("bad-signature")) => {
                    Message::OtherKeyEnrolled { party, public_key: public_key(config) }
                }
                (Some(403), Some("revoked")) => Message::Revoked { party },
                (Some(401), Some("stale")) => Message::ClockSkew { detail: e.to_string() },
                _ => Message::EnrolmentRefused { cause: e.to_string() },
            };
            report.error(Kind::Enrolment, message);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Every text a person reads, Chinese first and English beside it.
// ---------------------------------------------------------------------------------------

impl Verdict {
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Verdict::Pass, Lang::Zh) => "通过",
            (Verdict::Warning, Lang::Zh) => "警告",
            (Verdict::Error, Lang::Zh) => "错误",
            (Verdict::Pass, Lang::En) => "PASS",
            (Verdict::Warning, Lang::En) => "WARN",
            (Verdict::Error, Lang::En) => "ERROR",
        }
    }
}

impl Kind {
    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Kind::Config => ("配置", "config"),
            Kind::File => ("文件", "file"),
            Kind::Key => ("密钥", "key"),
            Kind::JobTrust => ("任务签名", "job signer"),
            Kind::Source => ("数据文件", "source"),
            Kind::Column => ("列", "column"),
            Kind::Sample => ("样例", "sample"),
            Kind::Counts => ("统计", "counts"),
            Kind::Policy => ("共享策略", "policy"),
            Kind::Matcher => ("比对服务器", "matcher"),
            Kind::Certificate => ("证书", "certificate"),
            Kind::Epoch => ("密钥周期", "epoch"),
            Kind::Enrolment => ("登记", "enrolment"),
        };
        pick(lang, zh, en)
    }
}

impl FileRole {
    fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            FileRole::Source => ("数据文件", "source file"),
            FileRole::IdentityKey => ("签名私钥", "signing key"),
            FileRole::X25519Key => ("接收密钥周期的私钥", "key for sealed epochs"),
            FileRole::EpochFile => ("密钥周期文件", "epoch file"),
            FileRole::MatcherCertificate => ("比对服务器证书", "matcher certificate"),
            FileRole::MatcherCa => ("比对服务器的 CA 证书", "matcher CA file"),
        };
        pick(lang, zh, en)
    }
}

fn pick<T>(lang: Lang, zh: T, en: T) -> T {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// What an identity-number error code means.
fn id_error_label(code: &str, lang: Lang) -> &'static str {
    let (zh, en) = match code {
        "empty" => ("为空", "empty"),
        "excel-mangled" => ("被 Excel 改坏（科学计数法或末位变 0）", "mangled by Excel (scientific notation or 000)"),
        "length" => ("位数不是 15 或 18", "not 15 or 18 characters"),
        "charset" => ("含有非数字字符", "characters other than digits and X"),
        "birthdate" => ("出生日期不可能", "impossible birth date"),
        "checksum" => ("校验位不符", "check character wrong"),
        _ => ("其他", "other"),
    };
    pick(lang, zh, en)
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

impl Message {
    /// What was found.
    pub fn text(&self, lang: Lang) -> String {
        use Message::*;
        let zh = matches!(lang, Lang::Zh);
        match self {
            ConfigMissing { path } => match zh {
                true => format!("配置文件 {} 不存在", path.display()),
                false => format!("the configuration {} does not exist", path.display()),
            },
            ConfigUnreadable { path, detail } => match zh {
                true => format!("配置文件 {} 无法读取或解析：{detail}", path.display()),
                false => format!("the configuration {} cannot be read: {detail}", path.display()),
            },
            ConfigRead { path, party } => match zh {
                true => format!("配置文件 {} 可以解析，参与方名称为 {party}", path.display()),
                false => format!("the configuration {} parses; party {party}", path.display()),
            },
            FileMissing { role, path } => match zh {
                true => format!("{}不存在：{}（配置项 {}）", role.label(lang), path.display(), role.key()),
                false => {
                    format!("{} not found: {} (configuration key {})", role.label(lang), path.display(), role.key())
                }
            },
            FilePresent { role, path } => match zh {
                true => format!("{}存在：{}", role.label(lang), path.display()),
                false => format!("{} present: {}", role.label(lang), path.display()),
            },
            KeyTooOpen { path, mode } => match zh {
                true => format!("密钥文件 {} 的权限是 {mode:o}，同组或其他用户可以读取", path.display()),
                false => format!("the key file {} has mode {mode:o}: group or others can read it", path.display()),
            },
            KeyPrivate { path } => match zh {
                true => format!("密钥文件 {} 仅所有者可读（600）", path.display()),
                false => format!("the key file {} is readable by its owner only (600)", path.display()),
            },
            KeyInvalid { role, path, detail } => match zh {
                true => format!("{} {} 无法使用：{detail}", role.label(lang), path.display()),
                false => format!("the {} {} is not usable: {detail}", role.label(lang), path.display()),
            },
            SealedEpochsOff { missing } => match zh {
                true => format!("未配置 {missing}：无法接收密钥管理员通过比对服务器发来的密钥周期"),
                false => {
                    format!("{missing} is not set: epochs the custodian sends through the matcher cannot be taken up")
                }
            },
            JobTrustMissing => match zh {
                true => "未配置 operator_key 或 custodian_key：本代理会拒绝所有任务".to_owned(),
                false => "neither operator_key nor custodian_key is set: every job would be refused".to_owned(),
            },
            JobTrustInvalid { key } => match zh {
                true => format!("{key} 不是 64 位十六进制的公钥"),
                false => format!("{key} is not a public key of 64 hex digits"),
            },
            JobTrust { key: "operator_key" } => match zh {
                true => "只接受持有 operator_key 所配公钥的操作员签名的任务".to_owned(),
                false => "only jobs signed by the operator whose key is operator_key are accepted".to_owned(),
            },
            JobTrust { .. } => match zh {
                true => "接受密钥管理员（custodian_key）登记的操作员签名的任务".to_owned(),
                false => "jobs signed by an operator the custodian (custodian_key) enrolled are accepted".to_owned(),
            },
            SourceUnreadable { detail } => match zh {
                true => format!("数据文件无法读取：{detail}"),
                false => format!("the source cannot be read: {detail}"),
            },
            SourceOpened { path, format, encoding, sheet, columns } => {
                let how = [Some(format.as_str()), encoding.as_deref(), sheet.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                match zh {
                    true => format!("数据文件 {}（{how}）可以读取，共 {columns} 列", path.display()),
                    false => format!("the source {} ({how}) reads, {columns} columns", path.display()),
                }
            }
            ColumnFound { key, header, column } => match zh {
                true => format!("{key} = \"{header}\" 对应第 {column} 列"),
                false => format!("{key} = \"{header}\" is column {column}"),
            },
            ColumnMissing { key, header, headers, .. } => match zh {
                true => format!("{key} = \"{header}\" 在文件的表头中找不到；文件的列名为：{}", quoted(headers)),
                false => {
                    format!("{key} = \"{header}\" is not a header of the file; its headers are: {}", quoted(headers))
                }
            },
            ColumnTwice { key, header, first, second } => match zh {
                true => format!("{key} = \"{header}\" 在表头中出现两次（第 {first} 列和第 {second} 列）"),
                false => format!("{key} = \"{header}\" appears twice in the header (columns {first} and {second})"),
            },
            SampleValid { row, masked } => match zh {
                true => format!("第 {row} 行身份证号规范化为 {masked}（本机处理，不外发）"),
                false => format!("row {row}: identity number normalizes to {masked} (locally; never sent)"),
            },
            SampleInvalid { row, masked, code } => {
                let shown = if masked.is_empty() { String::new() } else { format!(" {masked}") };
                match zh {
                    true => format!("第 {row} 行身份证号{shown} 无效：{code}（{}）", id_error_label(code, lang)),
                    false => {
                        format!("row {row}: identity number{shown} is invalid: {code} ({})", id_error_label(code, lang))
                    }
                }
            }
            SampleUnreadable { row, reason } => match zh {
                true => format!("第 {row} 行无法读取：{reason}"),
                false => format!("row {row} cannot be read: {reason}"),
            },
            NoRows => match zh {
                true => "数据文件没有数据行".to_owned(),
                false => "the source has no data rows".to_owned(),
            },
            Counts { rows, valid, invalid, unreadable } => {
                let codes = invalid
                    .iter()
                    .map(|(code, n)| match zh {
                        true => format!("{code}（{}）{n} 行", id_error_label(code, lang)),
                        false => format!("{code} ({}) {n}", id_error_label(code, lang)),
                    })
                    .collect::<Vec<_>>();
                let none = pick(lang, "无", "none");
                let codes = if codes.is_empty() { none.to_owned() } else { codes.join(pick(lang, "，", ", ")) };
                match zh {
                    true => format!(
                        "全文件 {rows} 行：身份证号有效 {valid} 行；无效的按原因：{codes}；无法读取 {unreadable} 行"
                    ),
                    false => format!(
                        "whole file, {rows} rows: {valid} valid identity numbers; invalid by code: {codes}; \
                         unreadable rows: {unreadable}"
                    ),
                }
            }
            TooFewReadable { readable, rows, percent } => match zh {
                true => format!(
                    "{rows} 行中只有 {readable} 行可以读取，低于 min_readable_share（{percent}%）：任务会拒绝密封"
                ),
                false => format!(
                    "only {readable} of {rows} rows can be read, below min_readable_share ({percent}%): a job would \
                     refuse to seal"
                ),
            },
            NoFields => match zh {
                true => "未映射任何字段（[fields]）：只发送令牌，不发送字段值".to_owned(),
                false => "no fields mapped ([fields]): tokens only, no field value leaves".to_owned(),
            },
            FieldAllowed { field, purposes } => {
                let any = purposes.iter().any(|p| p == "*");
                match (zh, any) {
                    (true, true) => format!("字段 {field} 可为任何用途密封发给请求方"),
                    (true, false) => format!("字段 {field} 可为以下用途密封发给请求方：{}", purposes.join("、")),
                    (false, true) => format!("field {field} may be sealed to the requester for any purpose"),
                    (false, false) => format!(
                        "field {field} may be sealed to the requester for these purposes: {}",
                        purposes.join(", ")
                    ),
                }
            }
            FieldNeverAllowed { field } => match zh {
                true => format!("字段 {field} 已映射列，但本地策略不允许它为任何用途发出"),
                false => format!("field {field} is mapped but the local policy lets it leave for no purpose"),
            },
            PolicyFieldUnmapped { field } => match zh {
                true => format!("[policy] 允许字段 {field}，但 [fields] 没有为它映射列，所以它不会发出"),
                false => format!("[policy] allows field {field} but [fields] maps no column to it, so it never leaves"),
            },
            MatcherSetup { url, detail } => match zh {
                true => format!("比对服务器 {url} 的连接配置有误：{detail}"),
                false => format!("the matcher {url} is misconfigured: {detail}"),
            },
            MatcherReachable { url } => match zh {
                true => format!("比对服务器 {url} 可以连通，运行正常"),
                false => format!("the matcher {url} is reachable and healthy"),
            },
            MatcherUnreachable { url, cause } => match zh {
                true => format!("无法连通比对服务器 {url}：{cause}"),
                false => format!("cannot reach the matcher {url}: {cause}"),
            },
            MatcherUnhealthy { url, cause } => match zh {
                true => format!("比对服务器 {url} 有应答但不正常：{cause}"),
                false => format!("the matcher {url} answers but is not healthy: {cause}"),
            },
            MatcherUntrusted { url, cause } => match zh {
                true => format!("比对服务器 {url} 的证书不被信任，未发送任何数据：{cause}"),
                false => format!("the matcher {url}'s certificate is not trusted; nothing was sent: {cause}"),
            },
            PlainHttp { url } => match zh {
                true => format!("{url} 是明文 HTTP，只适用于本机测试"),
                false => format!("{url} is plain HTTP, for loopback tests only"),
            },
            CertificatePinned { fingerprint } => match zh {
                true => format!("服务器证书指纹 {fingerprint}，与 matcher_certificate 一致"),
                false => {
                    format!("the matcher's certificate fingerprint {fingerprint} is the pinned matcher_certificate")
                }
            },
            CertificateMismatch { presented, pinned } => match zh {
                true => format!("服务器出示的证书指纹 {presented} 与 matcher_certificate 的指纹 {pinned} 不同"),
                false => format!(
                    "the matcher presents the certificate {presented}, not the pinned matcher_certificate {pinned}"
                ),
            },
            CertificateByCa { fingerprint } => match zh {
                true => format!("服务器证书指纹 {fingerprint}（由 matcher_ca 验证）"),
                false => format!("the matcher's certificate fingerprint is {fingerprint} (checked against matcher_ca)"),
            },
            CertificateUnread { cause } => match zh {
                true => format!("无法读取服务器证书：{cause}"),
                false => format!("cannot read the matcher's certificate: {cause}"),
            },
            EpochHeld { kcv, suite, path } => match zh {
                true => format!("持有密钥周期 {kcv}（{suite}）：{}", path.display()),
                false => format!("holds epoch {kcv} ({suite}): {}", path.display()),
            },
            EpochUnreadable { path, detail } => match zh {
                true => format!("密钥周期文件 {} 无法使用：{detail}", path.display()),
                false => format!("the epoch file {} is not usable: {detail}", path.display()),
            },
            NoEpoch { can_receive: true } => match zh {
                true => "尚未持有密钥周期；密钥管理员轮换后，第一次运行任务时会自动领取".to_owned(),
                false => "no epoch held yet; once the custodian rotates, the first job run takes it up".to_owned(),
            },
            NoEpoch { can_receive: false } => match zh {
                true => "没有密钥周期，也无法接收：任务无法运行".to_owned(),
                false => "no epoch held and none can be received: no job can run".to_owned(),
            },
            EpochsWaiting { count } => match zh {
                true => format!("比对服务器上有 {count} 个发给本代理的密钥周期，下次运行任务时领取"),
                false => {
                    format!("{count} sealed epochs for this agent wait at the matcher; the next job run takes them up")
                }
            },
            Enrolled { party } => match zh {
                true => format!("本代理已在比对服务器登记为 {party}"),
                false => format!("this agent is enrolled at the matcher as {party}"),
            },
            NotEnrolled { party, .. } => match zh {
                true => format!("比对服务器不认识本代理 {party}：尚未登记（unknown-signer）"),
                false => format!("the matcher does not know the agent {party}: not enrolled (unknown-signer)"),
            },
            OtherKeyEnrolled { party, .. } => match zh {
                true => format!("比对服务器为 {party} 登记的是另一把公钥，与本机的签名私钥不符（bad-signature）"),
                false => format!("the matcher has another public key enrolled for {party} than this signing key's"),
            },
            Revoked { party } => match zh {
                true => format!("本代理 {party} 的登记已被吊销"),
                false => format!("the enrolment of {party} has been revoked"),
            },
            ClockSkew { detail } => match zh {
                true => format!("本机时钟与比对服务器相差过大：{detail}"),
                false => format!("this machine's clock is too far from the matcher's: {detail}"),
            },
            EnrolmentRefused { cause } => match zh {
                true => format!("无法确认登记：{cause}"),
                false => format!("enrolment could not be checked: {cause}"),
            },
            EnrolmentUnchecked => match zh {
                true => "签名私钥不可用，未检查是否已登记".to_owned(),
                false => "the signing key is unusable, so enrolment was not checked".to_owned(),
            },
        }
    }

    /// What to do about it, for a warning or an error.
    pub fn fix(&self, lang: Lang) -> Option<String> {
        use Message::*;
        let zh = matches!(lang, Lang::Zh);
        let fix = match self {
            ConfigMissing { .. } => match zh {
                true => "检查 --config 的路径".to_owned(),
                false => "check the path given to --config".to_owned(),
            },
            ConfigUnreadable { .. } => match zh {
                true => "按上面的提示修改配置文件".to_owned(),
                false => "correct the configuration as the message says".to_owned(),
            },
            FileMissing { role: FileRole::IdentityKey | FileRole::X25519Key, .. } => match zh {
                true => "运行 bidui agent init --dir <目录> 生成密钥，并在配置中写明路径".to_owned(),
                false => "run bidui agent init --dir <folder> and set the paths in the configuration".to_owned(),
            },
            FileMissing { role, .. } => match zh {
                true => format!("检查配置项 {}（相对路径从配置文件所在目录算起）", role.key()),
                false => format!("check {} (relative paths start at the configuration's folder)", role.key()),
            },
            KeyTooOpen { path, .. } => format!("chmod 600 {}", path.display()),
            KeyInvalid { .. } | EpochUnreadable { .. } => match zh {
                true => "换回原来的文件；如已丢失，重新生成并请密钥管理员重新登记".to_owned(),
                false => {
                    "restore the original file; if lost, make a new one and have the custodian enrol it".to_owned()
                }
            },
            SealedEpochsOff { missing } => match zh {
                true => format!("在配置中加入 {missing}（由密钥管理员或 bidui agent init 提供）"),
                false => format!("add {missing} to the configuration (from the custodian or bidui agent init)"),
            },
            JobTrustMissing | JobTrustInvalid { .. } => match zh {
                true => "填入密钥管理员提供的 custodian_key（或操作员的 operator_key），64 位十六进制".to_owned(),
                false => "set custodian_key (or operator_key) to the 64 hex digits the custodian gives you".to_owned(),
            },
            SourceUnreadable { .. } => match zh {
                true => "检查 [source] 的 path、format、encoding、sheet 和 header_row".to_owned(),
                false => "check [source] path, format, encoding, sheet and header_row".to_owned(),
            },
            ColumnMissing { key, header, suggestion: Some(suggestion), .. } => match zh {
                true => format!("把 {key} 从 \"{header}\" 改为 \"{suggestion}\"？"),
                false => format!("change {key} from \"{header}\" to \"{suggestion}\"?"),
            },
            ColumnMissing { key, .. } => match zh {
                true => format!("把 {key} 改为上面列出的列名之一（与表头完全一致）"),
                false => format!("set {key} to one of the headers listed, exactly as written"),
            },
            ColumnTwice { .. } => match zh {
                true => "在导出文件中给其中一列改名".to_owned(),
                false => "rename one of the two columns in the export".to_owned(),
            },
            SampleInvalid { .. } | Counts { .. } => match zh {
                true => "无效号码不参与比对，只发送按原因的计数；被 Excel 改坏的号码需以文本格式重新导出".to_owned(),
                false => "invalid numbers are not compared (only counts by code leave); re-export Excel-mangled \
                          numbers as text"
                    .to_owned(),
            },
            SampleUnreadable { .. } | NoRows | TooFewReadable { .. } => match zh {
                true => "检查导出文件是否完整，以及 [source] 的 sheet 和 header_row".to_owned(),
                false => "check that the export is whole, and [source] sheet and header_row".to_owned(),
            },
            FieldNeverAllowed { field } => match zh {
                true => format!("如需共享，在 [policy] 中加一条 allow 包含 {field} 和用途；否则从 [fields] 删除"),
                false => {
                    format!("to share it, add an [[policy.allow]] rule naming {field}; otherwise drop it from [fields]")
                }
            },
            PolicyFieldUnmapped { field } => match zh {
                true => format!("在 [fields] 中为 {field} 映射一列，或从 [policy] 中删除"),
                false => format!("map a column to {field} in [fields], or drop it from [policy]"),
            },
            MatcherSetup { .. } => match zh {
                true => "https:// 地址需配置 matcher_certificate 或 matcher_ca；http:// 地址不要配置证书".to_owned(),
                false => "an https:// matcher needs matcher_certificate or matcher_ca; an http:// one none".to_owned(),
            },
            MatcherUnreachable { .. } => match zh {
                true => "确认比对服务器已启动，matcher 地址和端口正确，防火墙放行该端口".to_owned(),
                false => {
                    "check that the matcher runs, that the URL and port are right and the firewall lets it through"
                        .to_owned()
                }
            },
            MatcherUnhealthy { .. } => match zh {
                true => "请比对服务器管理员检查服务器日志".to_owned(),
                false => "ask the matcher's administrator to look at its log".to_owned(),
            },
            MatcherUntrusted { .. } | CertificateMismatch { .. } => match zh {
                true => "向操作员索取当前的服务器证书，通过电话核对指纹后替换 matcher_certificate".to_owned(),
                false => "get the current certificate from the operator, compare its fingerprint by phone, and \
                          replace matcher_certificate"
                    .to_owned(),
            },
            PlainHttp { .. } => match zh {
                true => "正式部署请使用 https:// 地址并配置 matcher_certificate".to_owned(),
                false => "in production use the https:// URL with matcher_certificate".to_owned(),
            },
            CertificateUnread { .. } => match zh {
                true => "通过电话向操作员核对证书指纹".to_owned(),
                false => "compare the certificate's fingerprint with the operator by phone".to_owned(),
            },
            NoEpoch { can_receive: true } => match zh {
                true => "无需操作；如任务报告缺少密钥周期，请联系密钥管理员".to_owned(),
                false => "nothing to do; if a job says the epoch is missing, ask the key custodian".to_owned(),
            },
            NoEpoch { can_receive: false } => match zh {
                true => "配置 x25519_key 和 custodian_key 以接收密钥周期".to_owned(),
                false => "set x25519_key and custodian_key to receive epochs".to_owned(),
            },
            NotEnrolled { public_key, .. } => match zh {
                true => format!("把签名公钥 {public_key} 和 x25519 公钥交给密钥管理员登记（bidui keys enroll）"),
                false => format!(
                    "give the signing public key {public_key} and the x25519 public key to the key custodian to \
                     enrol (bidui keys enroll)"
                ),
            },
            OtherKeyEnrolled { public_key, .. } => match zh {
                true => {
                    format!("确认 identity_key 指向原来的私钥；如私钥已重新生成，请密钥管理员重新登记公钥 {public_key}")
                }
                false => format!(
                    "check that identity_key is the original key; if it was made anew, have the custodian enrol \
                     {public_key} again"
                ),
            },
            Revoked { .. } => match zh {
                true => "联系密钥管理员".to_owned(),
                false => "contact the key custodian".to_owned(),
            },
            ClockSkew { .. } => match zh {
                true => "校准本机时间（NTP）".to_owned(),
                false => "set this machine's clock right (NTP)".to_owned(),
            },
            EnrolmentRefused { .. } | EnrolmentUnchecked => match zh {
                true => "先修正上面的错误".to_owned(),
                false => "fix the errors above first".to_owned(),
            },
            _ => return None,
        };
        Some(fix)
    }
}

/// The last line: how many errors and warnings, and what that means.
pub fn summary(findings: &[Finding], lang: Lang) -> String {
    let count = |v: Verdict| findings.iter().filter(|f| f.verdict == v).count();
    let (errors, warnings) = (count(Verdict::Error), count(Verdict::Warning));
    match (lang, errors) {
        (Lang::Zh, 0) => format!("结论：没有错误，{warnings} 个警告。可以运行任务。"),
        (Lang::Zh, _) => format!("结论：{errors} 个错误，{warnings} 个警告。请先修正错误再运行任务。"),
        (Lang::En, 0) => format!("verdict: no errors, {warnings} warnings. Ready for a job."),
        (Lang::En, _) => format!("verdict: {errors} errors, {warnings} warnings. Fix the errors before a job."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> CivilDate {
        CivilDate::new(2026, 12, 1).unwrap()
    }

    /// A valid identity number from its first 17 digits.
    fn valid(body: &str) -> String {
        let digits: [u8; 17] = body.as_bytes().try_into().unwrap();
        format!("{body}{}", idnum::check_character(&digits) as char)
    }

    /// A URL where nothing listens.
    fn closed_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    }

    /// An agent folder with keys, an epoch, `rows` as the source (under `header`) and a
    /// configuration whose identity column is `id_column`; returns the configuration's path.
    fn agent(dir: &Path, header: &str, rows: &[&str], id_column: &str) -> PathBuf {
        Identity::create(&dir.join("agent.ed25519")).unwrap();
        epochs::create(&dir.join("e.epoch"), bidui_core::Suite::HmacSha256).unwrap();
        let mut csv = format!("{header}\n");
        for row in rows {
            csv.push_str(row);
            csv.push('\n');
        }
        std::fs::write(dir.join("h.csv"), csv).unwrap();
        let config = format!(
            "party = \"household\"\nmatcher = \"{}\"\nidentity_key = \"agent.ed25519\"\nepochs = [\"e.epoch\"]\n\
             operator_key = \"{}\"\nstate_dir = \"state\"\n[source]\npath = \"h.csv\"\n\
             [columns]\nid = \"{id_column}\"\n\
             [fields]\nstatus = \"状态\"\nphone = \"电话\"\n\
             [[policy.allow]]\nfields = [\"status\"]\npurposes = [\"比对\", \"核查\"]\n",
            closed_url(),
            "ab".repeat(32)
        );
        let path = dir.join("agent.toml");
        std::fs::write(&path, config).unwrap();
        path
    }

    fn options(rows: usize) -> CheckOptions {
        CheckOptions { rows, today: today(), timeout: Duration::from_secs(5) }
    }

    fn messages(findings: &[Finding]) -> Vec<&Message> {
        findings.iter().map(|f| &f.message).collect()
    }

    #[test]
    fn a_wrong_column_name_is_an_error_suggesting_the_closest_header() {
        let dir = tempfile::tempdir().unwrap();
        let number = valid("44011819800101123");
        let config = agent(
            dir.path(),
            "公民身份号码备注,身份证号,姓名,状态,电话",
            &[&format!("x,{number},张三,正常,1")],
            "身份证",
        );
        let findings = check(&config, &options(5));
        let missing = findings
            .iter()
            .find(|f| matches!(f.message, Message::ColumnMissing { .. }))
            .unwrap_or_else(|| panic!("{findings:#?}"));
        assert_eq!(missing.verdict, Verdict::Error);
        let Message::ColumnMissing { key, suggestion, headers, .. } = &missing.message else { unreachable!() };
        assert_eq!((key.as_str(), suggestion.as_deref()), ("columns.id", Some("身份证号")));
        assert_eq!(headers.len(), 5);
        let fix = missing.message.fix(Lang::Zh).unwrap();
        assert!(fix.contains("\"身份证\"") && fix.contains("\"身份证号\""), "{fix}");
        assert!(missing.message.text(Lang::En).contains("\"公民身份号码备注\", \"身份证号\""));
        assert!(has_errors(&findings));
        // Without the identity column nothing is counted; the other columns are still judged.
        assert!(!findings.iter().any(|f| matches!(f.message, Message::Counts { .. })));
        assert!(messages(&findings).contains(&&Message::ColumnFound {
            key: "fields.status".into(),
            header: "状态".into(),
            column: 4
        }));
        // Nothing close: no suggestion.
        assert_eq!(closest_header("户籍状态", &["身份证号".into(), "姓名".into()]), None);
        assert_eq!(closest_header("Name ", &["ID".into(), "name".into()]), Some("name".into()));
    }

    #[test]
    fn a_key_file_readable_by_others_is_an_error_naming_chmod_600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let number = valid("44011819800101123");
        let config = agent(dir.path(), "身份证号,状态,电话", &[&format!("{number},正常,1")], "身份证号");
        let key = dir.path().join("agent.ed25519");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let findings = check(&config, &options(5));
        let open = findings.iter().find(|f| matches!(f.message, Message::KeyTooOpen { .. })).unwrap();
        assert_eq!((open.kind, open.verdict), (Kind::Key, Verdict::Error));
        assert_eq!(open.message.fix(Lang::Zh).unwrap(), format!("chmod 600 {}", key.display()));
        assert!(open.message.text(Lang::Zh).contains("644"), "{}", open.message.text(Lang::Zh));

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let findings = check(&config, &options(5));
        assert!(!findings.iter().any(|f| matches!(f.message, Message::KeyTooOpen { .. })));
        assert!(messages(&findings).contains(&&Message::KeyPrivate { path: key }));
    }

    #[test]
    fn invalid_identity_numbers_are_counted_by_code_over_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = valid("44011819800101123");
        let mut wrong_check = good.clone().into_bytes();
        wrong_check[17] = if wrong_check[17] == b'1' { b'2' } else { b'1' };
        let wrong_check = String::from_utf8(wrong_check).unwrap();
        let rows = [
            format!("{good},正常,1"),
            format!("{wrong_check},正常,1"),
            ",正常,1".to_owned(),
            "4401181980,正常,1".to_owned(),
            "4.40118E+17,正常,1".to_owned(),
            format!("{},正常,1", valid("44011830000101123")),
            format!("{wrong_check},正常,1"),
            format!("{},正常,1", valid("11010519491231002").to_lowercase()),
        ];
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let config = agent(dir.path(), "身份证号,状态,电话", &rows, "身份证号");
        let findings = check(&config, &options(2));
        let samples: Vec<&Finding> = findings.iter().filter(|f| f.kind == Kind::Sample).collect();
        assert_eq!(samples.len(), 2, "only the first rows are shown: {samples:#?}");
        assert_eq!(samples[0].verdict, Verdict::Pass);
        assert_eq!(samples[1].message, Message::SampleInvalid { row: 2, masked: mask(&wrong_check), code: "checksum" });
        let counts = findings.iter().find(|f| f.kind == Kind::Counts).unwrap();
        let expected: BTreeMap<&str, u64> =
            [("checksum", 2), ("empty", 1), ("length", 1), ("excel-mangled", 1), ("birthdate", 1)].into();
        assert_eq!(counts.message, Message::Counts { rows: 8, valid: 2, invalid: expected, unreadable: 0 });
        assert_eq!(counts.verdict, Verdict::Warning);
        let text = counts.message.text(Lang::Zh);
        assert!(text.contains("checksum（校验位不符）2 行"), "{text}");
        // The policy: status leaves for two purposes, phone for none.
        assert!(messages(&findings).contains(&&Message::FieldAllowed {
            field: "status".into(),
            purposes: vec!["核查".into(), "比对".into()]
        }));
        let phone = findings.iter().find(|f| f.message == Message::FieldNeverAllowed { field: "phone".into() });
        assert_eq!(phone.map(|f| f.verdict), Some(Verdict::Warning));
    }

    #[test]
    fn masked_output_never_holds_a_whole_identity_number() {
        assert_eq!(mask("44011819800101123X"), "4401**********123X");
        assert_eq!(mask("bad"), "***");
        let dir = tempfile::tempdir().unwrap();
        let valid_18 = valid("44011819800101123");
        let old_15 = "440118800101123";
        let lower_x = valid("11010519491231002").to_lowercase();
        let mut wrong_check = valid("44011819751231456").into_bytes();
        wrong_check[17] = if wrong_check[17] == b'1' { b'2' } else { b'1' };
        let wrong_check = String::from_utf8(wrong_check).unwrap();
        let numbers = [valid_18.as_str(), old_15, lower_x.as_str(), wrong_check.as_str()];
        let rows: Vec<String> = numbers.iter().map(|n| format!("{n},正常,1")).collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let config = agent(dir.path(), "身份证号,状态,电话", &rows, "身份证号");
        let findings = check(&config, &options(10));
        let samples: Vec<&Finding> = findings.iter().filter(|f| f.kind == Kind::Sample).collect();
        assert_eq!(samples.len(), 4);
        let upgraded = IdNumber::parse(old_15, today()).unwrap();
        let printed: String = findings
            .iter()
            .flat_map(|f| {
                [Lang::Zh, Lang::En].map(|lang| format!("{}\n{:?}\n", f.message.text(lang), f.message.fix(lang)))
            })
            .collect();
        for whole in numbers.iter().copied().chain([upgraded.as_str(), &lower_x.to_uppercase()]) {
            assert!(!printed.contains(whole), "{whole} printed:\n{printed}");
            assert!(!printed.contains(&whole[4..14]), "the birth date and sequence of {whole} printed");
        }
        assert!(printed.contains(&mask(upgraded.as_str())), "{printed}");
    }

    #[test]
    fn a_configuration_missing_or_not_parsing_is_the_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("agent.toml");
        let findings = check(&missing, &options(1));
        assert_eq!(
            findings,
            [Finding {
                kind: Kind::Config,
                verdict: Verdict::Error,
                message: Message::ConfigMissing { path: missing.clone() }
            }]
        );
        std::fs::write(&missing, "party = \"household\"\n").unwrap();
        let findings = check(&missing, &options(1));
        assert_eq!(findings.len(), 1);
        assert!(findings[0].message.text(Lang::En).contains("missing field"), "{findings:?}");
    }

    #[test]
    fn an_unreachable_matcher_is_an_error_naming_its_url_in_plain_words() {
        let dir = tempfile::tempdir().unwrap();
        let config = agent(dir.path(), "身份证号,状态,电话", &[&valid("44011819800101123")], "身份证号");
        let findings = check(&config, &options(1));
        let unreachable = findings.iter().find(|f| f.kind == Kind::Matcher).unwrap();
        let Message::MatcherUnreachable { url, cause } = &unreachable.message else { panic!("{unreachable:?}") };
        assert_eq!(unreachable.verdict, Verdict::Error);
        assert_eq!(cause, "the connection was refused (is the matcher running?)");
        assert!(unreachable.message.text(Lang::Zh).contains(&format!("无法连通比对服务器 {url}")));
        assert!(!findings.iter().any(|f| f.kind == Kind::Enrolment), "enrolment is not asked of an absent matcher");
    }
}
