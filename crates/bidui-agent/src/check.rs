//! `bidui agent check`: what a department's IT staff run before their first job. It reads
//! the configuration, the files it names and the source, asks the matcher whether it is
//! there and whether it knows this agent, and returns one [`Finding`] per thing checked,
//! each with a verdict and, when something is wrong, what to change.
//!
//! Nothing is sent but the health check and one signed read (`GET /v1/epochs`). Identity
//! numbers stay here: a finding carries them masked ([`mask`]: the region's first four and
//! the last four characters), never whole, since the output may be pasted into a ticket.
//!
//! Every text a person reads — [`Message::text`] / [`Message::fix`], the labels of [`Verdict`]
//! and [`Kind`], [`summary`] — comes from the catalogue (`check-…` keys of bidui-i18n) in the
//! reader's language: Chinese unless `--lang en` or the locale says English.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bidui_client::{
    certificate_fingerprint, presented_certificate, Client, ClientError, ConnectionCause, RetryPolicy, TrustKind,
};
use bidui_core::api::EpochDelivery;
use bidui_core::{idnum, CivilDate, IdNumber};
use bidui_i18n::t;
use bidui_keyfile::Identity;

use crate::config::AgentConfig;
use crate::epochs;
use crate::source::{RowReason, Source, SourceError};

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
        reason: RowReason,
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
        cause: ConnectionCause,
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
        cause: ConnectionCause,
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
                    Message::ConfigUnreadable { path, detail: message.to_string().trim_end().to_owned() }
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
fn cause(error: &ClientError) -> ConnectionCause {
    error.cause().cloned().unwrap_or_else(|| ConnectionCause::Other(error.to_string()))
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
// Every text a person reads, from the catalogue (`check-…` keys of bidui-i18n) in the
// reader's language.
// ---------------------------------------------------------------------------------------

impl Verdict {
    pub fn label(self) -> String {
        match self {
            Verdict::Pass => t!("check-verdict-pass"),
            Verdict::Warning => t!("check-verdict-warning"),
            Verdict::Error => t!("check-verdict-error"),
        }
    }
}

impl Kind {
    pub fn label(self) -> String {
        match self {
            Kind::Config => t!("check-kind-config"),
            Kind::File => t!("check-kind-file"),
            Kind::Key => t!("check-kind-key"),
            Kind::JobTrust => t!("check-kind-job-trust"),
            Kind::Source => t!("check-kind-source"),
            Kind::Column => t!("check-kind-column"),
            Kind::Sample => t!("check-kind-sample"),
            Kind::Counts => t!("check-kind-counts"),
            Kind::Policy => t!("check-kind-policy"),
            Kind::Matcher => t!("check-kind-matcher"),
            Kind::Certificate => t!("check-kind-certificate"),
            Kind::Epoch => t!("check-kind-epoch"),
            Kind::Enrolment => t!("check-kind-enrolment"),
        }
    }
}

impl FileRole {
    fn label(self) -> String {
        match self {
            FileRole::Source => t!("check-file-source"),
            FileRole::IdentityKey => t!("check-file-identity-key"),
            FileRole::X25519Key => t!("check-file-x25519-key"),
            FileRole::EpochFile => t!("check-file-epoch"),
            FileRole::MatcherCertificate => t!("check-file-matcher-certificate"),
            FileRole::MatcherCa => t!("check-file-matcher-ca"),
        }
    }
}

/// What an identity-number error code means.
fn id_error_label(code: &str) -> String {
    match code {
        "empty" => t!("check-id-empty"),
        "excel-mangled" => t!("check-id-excel-mangled"),
        "length" => t!("check-id-length"),
        "charset" => t!("check-id-charset"),
        "birthdate" => t!("check-id-birthdate"),
        "checksum" => t!("check-id-checksum"),
        _ => t!("check-id-other"),
    }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

impl Message {
    /// What was found.
    pub fn text(&self) -> String {
        use Message::*;
        match self {
            ConfigMissing { path } => t!("check-config-missing", path = path.display()),
            ConfigUnreadable { path, detail } => t!("check-config-unreadable", path = path.display(), detail = detail),
            ConfigRead { path, party } => t!("check-config-read", path = path.display(), party = party),
            FileMissing { role, path } => {
                t!("check-file-missing", file = role.label(), path = path.display(), key = role.key())
            }
            FilePresent { role, path } => t!("check-file-present", file = role.label(), path = path.display()),
            KeyTooOpen { path, mode } => t!("check-key-too-open", path = path.display(), mode = format!("{mode:o}")),
            KeyPrivate { path } => t!("check-key-private", path = path.display()),
            KeyInvalid { role, path, detail } => {
                t!("check-key-invalid", file = role.label(), path = path.display(), detail = detail)
            }
            SealedEpochsOff { missing } => t!("check-sealed-epochs-off", missing = missing),
            JobTrustMissing => t!("check-job-trust-missing"),
            JobTrustInvalid { key } => t!("check-job-trust-invalid", key = key),
            JobTrust { key: "operator_key" } => t!("check-job-trust-operator"),
            JobTrust { .. } => t!("check-job-trust-custodian"),
            SourceUnreadable { detail } => t!("check-source-unreadable", detail = detail),
            SourceOpened { path, format, encoding, sheet, columns } => {
                let how = [Some(format.as_str()), encoding.as_deref(), sheet.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                t!("check-source-opened", path = path.display(), how = how, columns = columns)
            }
            ColumnFound { key, header, column } => {
                t!("check-column-found", key = key, header = header, column = column)
            }
            ColumnMissing { key, header, headers, .. } => {
                t!("check-column-missing", key = key, header = header, headers = quoted(headers))
            }
            ColumnTwice { key, header, first, second } => {
                t!("check-column-twice", key = key, header = header, first = first, second = second)
            }
            SampleValid { row, masked } => t!("check-sample-valid", row = row, masked = masked),
            SampleInvalid { row, masked, code } if masked.is_empty() => {
                t!("check-sample-invalid-empty", row = row, code = code, meaning = id_error_label(code))
            }
            SampleInvalid { row, masked, code } => {
                t!("check-sample-invalid", row = row, masked = masked, code = code, meaning = id_error_label(code))
            }
            SampleUnreadable { row, reason } => t!("check-sample-unreadable", row = row, reason = reason),
            NoRows => t!("check-no-rows"),
            Counts { rows, valid, invalid, unreadable } => {
                let codes = match invalid.is_empty() {
                    true => t!("none"),
                    false => invalid
                        .iter()
                        .map(|(code, n)| t!("check-counts-code", code = code, meaning = id_error_label(code), rows = n))
                        .collect::<Vec<_>>()
                        .join(&t!("check-counts-separator")),
                };
                t!("check-counts", rows = rows, valid = valid, codes = codes, unreadable = unreadable)
            }
            TooFewReadable { readable, rows, percent } => {
                t!("check-too-few-readable", readable = readable, rows = rows, percent = percent)
            }
            NoFields => t!("check-no-fields"),
            FieldAllowed { field, purposes } if purposes.iter().any(|p| p == "*") => {
                t!("check-field-allowed-any", field = field)
            }
            FieldAllowed { field, purposes } => {
                t!("check-field-allowed", field = field, purposes = purposes.join(&t!("check-purposes-separator")))
            }
            FieldNeverAllowed { field } => t!("check-field-never-allowed", field = field),
            PolicyFieldUnmapped { field } => t!("check-policy-field-unmapped", field = field),
            MatcherSetup { url, detail } => t!("check-matcher-setup", url = url, detail = detail),
            MatcherReachable { url } => t!("check-matcher-reachable", url = url),
            MatcherUnreachable { url, cause } => t!("check-matcher-unreachable", url = url, cause = cause),
            MatcherUnhealthy { url, cause } => t!("check-matcher-unhealthy", url = url, cause = cause),
            MatcherUntrusted { url, cause } => t!("check-matcher-untrusted", url = url, cause = cause),
            PlainHttp { url } => t!("check-plain-http", url = url),
            CertificatePinned { fingerprint } => t!("check-certificate-pinned", fingerprint = fingerprint),
            CertificateMismatch { presented, pinned } => {
                t!("check-certificate-mismatch", presented = presented, pinned = pinned)
            }
            CertificateByCa { fingerprint } => t!("check-certificate-by-ca", fingerprint = fingerprint),
            CertificateUnread { cause } => t!("check-certificate-unread", cause = cause),
            EpochHeld { kcv, suite, path } => t!("check-epoch-held", kcv = kcv, suite = suite, path = path.display()),
            EpochUnreadable { path, detail } => t!("check-epoch-unreadable", path = path.display(), detail = detail),
            NoEpoch { can_receive: true } => t!("check-no-epoch-yet"),
            NoEpoch { can_receive: false } => t!("check-no-epoch"),
            EpochsWaiting { count } => t!("check-epochs-waiting", count = count),
            Enrolled { party } => t!("check-enrolled", party = party),
            NotEnrolled { party, .. } => t!("check-not-enrolled", party = party),
            OtherKeyEnrolled { party, .. } => t!("check-other-key-enrolled", party = party),
            Revoked { party } => t!("check-revoked", party = party),
            ClockSkew { detail } => t!("check-clock-skew", detail = detail),
            EnrolmentRefused { cause } => t!("check-enrolment-refused", cause = cause),
            EnrolmentUnchecked => t!("check-enrolment-unchecked"),
        }
    }

    /// What to do about it, for a warning or an error.
    pub fn fix(&self) -> Option<String> {
        use Message::*;
        let fix = match self {
            ConfigMissing { .. } => t!("check-fix-config-missing"),
            ConfigUnreadable { .. } => t!("check-fix-config-unreadable"),
            FileMissing { role: FileRole::IdentityKey | FileRole::X25519Key, .. } => t!("check-fix-agent-init"),
            FileMissing { role, .. } => t!("check-fix-file-path", key = role.key()),
            // A command: the same in every language.
            KeyTooOpen { path, .. } => format!("chmod 600 {}", path.display()),
            KeyInvalid { .. } | EpochUnreadable { .. } => t!("check-fix-restore-file"),
            SealedEpochsOff { missing } => t!("check-fix-sealed-epochs-off", missing = missing),
            JobTrustMissing | JobTrustInvalid { .. } => t!("check-fix-job-trust"),
            SourceUnreadable { .. } => t!("check-fix-source"),
            ColumnMissing { key, header, suggestion: Some(suggestion), .. } => {
                t!("check-fix-column-suggestion", key = key, header = header, suggestion = suggestion)
            }
            ColumnMissing { key, .. } => t!("check-fix-column", key = key),
            ColumnTwice { .. } => t!("check-fix-column-twice"),
            SampleInvalid { .. } | Counts { .. } => t!("check-fix-invalid-numbers"),
            SampleUnreadable { .. } | NoRows | TooFewReadable { .. } => t!("check-fix-export-whole"),
            FieldNeverAllowed { field } => t!("check-fix-field-never-allowed", field = field),
            PolicyFieldUnmapped { field } => t!("check-fix-policy-field-unmapped", field = field),
            MatcherSetup { .. } => t!("check-fix-matcher-setup"),
            MatcherUnreachable { .. } => t!("check-fix-matcher-unreachable"),
            MatcherUnhealthy { .. } => t!("check-fix-matcher-unhealthy"),
            MatcherUntrusted { .. } | CertificateMismatch { .. } => t!("check-fix-certificate"),
            PlainHttp { .. } => t!("check-fix-plain-http"),
            CertificateUnread { .. } => t!("check-fix-certificate-unread"),
            NoEpoch { can_receive: true } => t!("check-fix-no-epoch-yet"),
            NoEpoch { can_receive: false } => t!("check-fix-no-epoch"),
            NotEnrolled { public_key, .. } => t!("check-fix-not-enrolled", public_key = public_key),
            OtherKeyEnrolled { public_key, .. } => t!("check-fix-other-key-enrolled", public_key = public_key),
            Revoked { .. } => t!("check-fix-revoked"),
            ClockSkew { .. } => t!("check-fix-clock-skew"),
            EnrolmentRefused { .. } | EnrolmentUnchecked => t!("check-fix-errors-above"),
            _ => return None,
        };
        Some(fix)
    }
}

/// The last line: how many errors and warnings, and what that means.
pub fn summary(findings: &[Finding]) -> String {
    let count = |v: Verdict| findings.iter().filter(|f| f.verdict == v).count();
    let (errors, warnings) = (count(Verdict::Error), count(Verdict::Warning));
    match errors {
        0 => t!("check-summary-ready", warnings = warnings),
        _ => t!("check-summary-errors", errors = errors, warnings = warnings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_i18n::{in_language, Lang};

    fn zh<R>(f: impl FnOnce() -> R) -> R {
        in_language(Lang::Zh, f)
    }

    fn en<R>(f: impl FnOnce() -> R) -> R {
        in_language(Lang::En, f)
    }

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
        let fix = zh(|| missing.message.fix()).unwrap();
        assert!(fix.contains("\"身份证\"") && fix.contains("\"身份证号\""), "{fix}");
        assert!(en(|| missing.message.text()).contains("\"公民身份号码备注\", \"身份证号\""));
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
        assert_eq!(open.message.fix().unwrap(), format!("chmod 600 {}", key.display()));
        let text = zh(|| open.message.text());
        assert!(text.contains("权限是 644"), "{text}");

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
        let text = zh(|| counts.message.text());
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
                [Lang::Zh, Lang::En]
                    .map(|lang| in_language(lang, || format!("{}\n{:?}\n", f.message.text(), f.message.fix())))
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
        assert!(en(|| findings[0].message.text()).contains("missing field"), "{findings:?}");
    }

    #[test]
    fn an_unreachable_matcher_is_an_error_naming_its_url_in_plain_words() {
        let dir = tempfile::tempdir().unwrap();
        let config = agent(dir.path(), "身份证号,状态,电话", &[&valid("44011819800101123")], "身份证号");
        let findings = check(&config, &options(1));
        let unreachable = findings.iter().find(|f| f.kind == Kind::Matcher).unwrap();
        let Message::MatcherUnreachable { url, cause } = &unreachable.message else { panic!("{unreachable:?}") };
        assert_eq!(unreachable.verdict, Verdict::Error);
        assert_eq!(cause, &ConnectionCause::Refused);
        // In the reader's language, the cause too.
        let text = zh(|| unreachable.message.text());
        assert_eq!(text, format!("无法连通比对服务器 {url}：连接被拒绝（比对服务是否在运行？）"));
        let text = en(|| unreachable.message.text());
        assert_eq!(
            text,
            format!("cannot reach the matcher {url}: the connection was refused (is the matcher running?)")
        );
        assert!(!findings.iter().any(|f| f.kind == Kind::Enrolment), "enrolment is not asked of an absent matcher");
    }
}
