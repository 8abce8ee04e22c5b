//! `bidui`: one binary for every role. Each subcommand is a thin shell over a library crate.

#![forbid(unsafe_code)]

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bidui_core::custody::PrincipalRole;
use bidui_core::{CivilDate, IdNumber, Suite};
use bidui_i18n::t;
use clap::{Parser, Subcommand, ValueEnum};

mod audit;
mod bench;
mod clock;
#[cfg(test)]
mod config_docs;
mod console;
mod custodian;
mod demo;
mod help;
mod operator;
mod report;
mod synth;
mod tls;

#[derive(Parser)]
#[command(name = "bidui", version, about = "Privacy-preserving cross-department matching (比对)")]
struct Cli {
    /// Language of what bidui prints: zh (Chinese) or en (English). Default: English when
    /// LC_ALL, LC_MESSAGES or LANG starts with "en", Chinese otherwise.
    #[arg(long, global = true)]
    lang: Option<bidui_i18n::Lang>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Identity numbers (GB 11643-1999).
    #[command(subcommand)]
    Id(IdCommand),
    /// Benchmarks, run on a release build: `cargo run --release -- bench tokens`.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// An agent (a department's or the requester's): tokenizes and seals local files, talks to
    /// the matcher, and for the requester opens the results.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// The central matcher service.
    #[command(subcommand)]
    Matcher(MatcherCommand),
    /// The operator's jobs: sign and create, follow, finish a stalled one, fetch the match structure.
    #[command(subcommand)]
    Job(JobCommand),
    /// The key custodian's commands.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Generates a synthetic district (registry, department files, ground truth).
    Synth(synth::SynthArgs),
    /// Runs a whole comparison on a generated district: matcher, agents, job, report.
    Demo(demo::DemoArgs),
    /// The stage-two report: town workbooks, leadership summary, resolve, diff between runs.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// The matcher's hash-chained audit log: show it, verify it.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The bureau's console in a browser: jobs live and new rounds started, rounds by town
    /// with names, the towns' returned workbooks taken back, progress over the rounds, the
    /// report upward; beyond loopback only over TLS with accounts
    Console(console::ConsoleArgs),
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Creates this agent's keys in --dir: `agent.ed25519` (signs requests) and
    /// `agent.x25519` (receives sealed epochs), 0600, never overwriting; prints the public
    /// keys to hand to the key custodian.
    Init {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Takes part in a job the operator signed: tokenize, seal the fields the policy allows (a
    /// department), upload, seal the submission; the requester then waits for the results,
    /// opens the values sealed to its registry's people and writes `<state_dir>/<job>/results.json`.
    Run {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        job: String,
        /// Judge birth dates against this day (YYYY-MM-DD) instead of today.
        #[arg(long, value_parser = parse_date)]
        today: Option<CivilDate>,
        /// Records per uploaded chunk (a resumed upload must use the interrupted run's).
        #[arg(long, default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..=65_536))]
        chunk_records: u32,
        /// Seconds the requester waits for the job to complete (every party sealed) before it
        /// fetches and opens its results.
        #[arg(long, default_value_t = 3600)]
        results_wait: u64,
        /// Matcher URL, overriding the configuration's.
        #[arg(long)]
        matcher: Option<String>,
        /// Tokenizing threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Seal even if the source has no rows, or fewer readable rows than the
        /// configuration's min_readable_share (default 90%).
        #[arg(long)]
        accept_few_readable: bool,
    },
    /// Runs as a service until SIGTERM or Ctrl-C: asks the matcher every [serve] poll_seconds
    /// for the jobs waiting for this agent, runs those its [serve] section and [policy] allow
    /// and holds the others in `<state_dir>/held/<job>.json` for a person (`agent run`).
    /// One ASCII line per event on stdout.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Seconds between two asks, overriding [serve] poll_seconds.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        poll_seconds: Option<u64>,
        /// Records per uploaded chunk (a resumed upload must use the interrupted run's).
        #[arg(long, default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..=65_536))]
        chunk_records: u32,
        /// Tokenizing threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Checks an agent before its first job, and prints a verdict per line (通过 / 警告 / 错误)
    /// with what to fix: the configuration and the files it names (keys 0600), the column
    /// mapping, the first rows' identity numbers (masked), invalid numbers by code over the
    /// whole file, the local policy, the matcher (reachable, certificate fingerprint), the
    /// epochs held and whether the matcher has enrolled this agent. Exits non-zero on any
    /// error. Sends nothing but the health check and one signed read.
    Check {
        #[arg(long)]
        config: PathBuf,
        /// Rows whose identity numbers are shown (masked).
        #[arg(long, default_value_t = 5)]
        rows: usize,
        /// Judge birth dates against this day (YYYY-MM-DD) instead of today.
        #[arg(long, value_parser = parse_date)]
        today: Option<CivilDate>,
        /// Seconds each request to the matcher may take.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
}

/// The roles the administrator can enrol (the key custodian is trusted by key instead).
#[derive(Clone, Copy, ValueEnum)]
enum EnrollRole {
    Agent,
    Operator,
}

impl From<EnrollRole> for PrincipalRole {
    fn from(role: EnrollRole) -> PrincipalRole {
        match role {
            EnrollRole::Agent => PrincipalRole::Agent,
            EnrollRole::Operator => PrincipalRole::Operator,
        }
    }
}

#[derive(Subcommand)]
enum MatcherCommand {
    /// Serves the matcher API.
    Serve {
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: SocketAddr,
        /// Also write structured (JSON) logs to this file.
        #[arg(long)]
        log: Option<PathBuf>,
        /// The matcher's TLS certificate chain (PEM); `bidui keys tls-cert` makes one.
        #[arg(long, requires = "tls_key", conflicts_with = "insecure_http")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve plain HTTP instead of HTTPS: for tests and demos on loopback only.
        #[arg(long, required_unless_present = "tls_cert")]
        insecure_http: bool,
        /// Allow plain HTTP (--insecure-http) on an address other than loopback.
        #[arg(long)]
        allow_non_loopback: bool,
        /// Create the database if --db names none (first start). Without it a missing
        /// database is refused: one that was lost is restored from a backup, never replaced
        /// by an empty one.
        #[arg(long)]
        init: bool,
    },
    /// Enrols an agent or the operator by public key (run on the matcher host).
    Enroll {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: EnrollRole,
        /// Hex Ed25519 public key, as `bidui agent init` prints it.
        #[arg(long)]
        public_key: String,
        /// Create the database if --db names none (setting up a new matcher).
        #[arg(long)]
        init: bool,
    },
    /// Revokes an agent or the operator at once (run on the matcher host); audited.
    Revoke {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Trusts the key custodian's public key (once, on the matcher host).
    TrustCustodian {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        public_key: String,
        /// Create the database if --db names none (setting up a new matcher).
        #[arg(long)]
        init: bool,
    },
    /// Copies the database to a new file (0600, never overwriting) with SQLite's online
    /// backup, while the matcher serves. Restore: stop the matcher, copy the backup to
    /// --db's path (removing any `-wal`/`-shm` beside it), start the matcher.
    Backup {
        #[arg(long)]
        db: PathBuf,
        /// The backup file to create.
        #[arg(long)]
        to: PathBuf,
    },
}

#[derive(Subcommand)]
enum JobCommand {
    /// Signs a job spec (TOML) with the operator's key and submits it to the matcher.
    Create {
        spec: PathBuf,
        #[arg(long)]
        operator: PathBuf,
        /// The district profile (district.toml); default: operator.toml's `profile`.
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Shows progress per participant.
    Status {
        job: String,
        #[arg(long)]
        operator: PathBuf,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Finishes a stalled job: joins it now if every party has sealed, says it was complete
    /// already, or names the parties it still waits for (exit status 1).
    Resume {
        job: String,
        #[arg(long)]
        operator: PathBuf,
    },
    /// Fetches the job's match structure and writes it to --out as one JSON file, nothing
    /// else: per registry row, found or not in each department, attribute verdicts,
    /// duplicates and probable matches, with the counts — no names, values or identity
    /// numbers (values are sealed to the requester, whose agent writes results.json and
    /// builds the report with `bidui report build`).
    Results {
        job: String,
        #[arg(long)]
        operator: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Creates the operator's signing key (0600; never overwrites).
    InitOperator {
        #[arg(long)]
        key: PathBuf,
    },
    /// Generates the matcher's self-signed TLS certificate and key (key 0600; never
    /// overwrites); prints the certificate's SHA-256 fingerprint.
    TlsCert(tls::TlsCertArgs),
    /// The custodian's key and state: init, enroll, enroll-operator, revoke, rotate, status.
    #[command(flatten)]
    Custodian(custodian::CustodianCommand),
    /// Writes a new epoch file by hand (0600; never overwrites) and prints its key check
    /// value: for tests and demos; real epochs come sealed from `keys rotate`.
    NewEpoch {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "hmac-sha256")]
        suite: Suite,
    },
}

#[derive(Subcommand)]
enum IdCommand {
    /// Reads one identity number per line on stdin; writes `OK <canonical>` or `ERR <code>`
    /// per line, in order.
    Check {
        /// Judge birth dates against this day (YYYY-MM-DD) instead of today.
        #[arg(long, value_parser = parse_date)]
        today: Option<CivilDate>,
    },
}

fn parse_date(text: &str) -> Result<CivilDate, String> {
    CivilDate::parse(text).ok_or_else(|| t!("not-a-date", text = format!("{text:?}")))
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(lang) = help::language_asked(&args) {
        bidui_i18n::set_language(lang);
    }
    let cli = help::parse(args);
    // A reader that stops early (`bidui audit show | head`) closes our stdout: `println!`
    // then panics. That panic unwinds (so children such as the demo's matcher are still
    // stopped by their guards) without a word, and the command ends as a process killed
    // by SIGPIPE conventionally does, with 141.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_closed_stdout(info.payload()) {
            default_hook(info);
        }
    }));
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("{}", error_text(&error));
            ExitCode::FAILURE
        }
        Err(payload) if is_closed_stdout(payload.as_ref()) => ExitCode::from(CLOSED_STDOUT_EXIT),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The exit status of a command whose reader closed its stdout: 128 + SIGPIPE, as a shell
/// reports a process that signal killed.
const CLOSED_STDOUT_EXIT: u8 = 141;

/// Whether a panic is the standard library's `print!` failing on a closed pipe.
fn is_closed_stdout(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
    message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains("Broken pipe"))
}

/// A principal's role (`agent`, `operator`, `custodian`) as people name it; any other
/// text as it is.
fn principal_role(role: &str) -> String {
    match role {
        "agent" => t!("principal-agent"),
        "operator" => t!("principal-operator"),
        "custodian" => t!("principal-custodian"),
        other => other.to_owned(),
    }
}

/// An error as the person who ran the command reads it: what failed, then why, outermost first.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = t!("error", message = error);
    for cause in error.chain().skip(1) {
        text.push_str(&format!("\n  {}", t!("error-cause", message = cause)));
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Already chosen from the raw arguments when given; clap has now checked the value.
    if let Some(lang) = cli.lang {
        bidui_i18n::set_language(lang);
    }
    match cli.command {
        Command::Id(IdCommand::Check { today }) => id_check(today.unwrap_or_else(clock::today_in_china)),
        Command::Bench(command) => bench::run(command),
        Command::Agent(command) => agent(command),
        Command::Matcher(command) => matcher(command),
        Command::Job(command) => job(command),
        Command::Keys(command) => keys(command),
        Command::Synth(args) => synth::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Report(command) => report::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Console(args) => console::run(args),
    }
}

fn agent(command: AgentCommand) -> anyhow::Result<()> {
    match command {
        AgentCommand::Init { dir } => {
            let (signing, x25519) = bidui_agent::epochs::init_agent_keys(&dir)?;
            println!("signing_key = {}\nx25519_key = {}", hex::encode(signing), hex::encode(x25519));
            eprintln!("{}", t!("agent-keys-written", dir = dir.display()));
        }
        AgentCommand::Run {
            config,
            job,
            today,
            chunk_records,
            results_wait,
            matcher,
            workers,
            accept_few_readable,
        } => {
            // The client's retries (matcher restarting, connection cut) are told on stderr.
            init_warnings();
            let mut config = bidui_agent::config::AgentConfig::load(&config)?;
            if let Some(url) = matcher {
                config.matcher.url = url;
            }
            let options = bidui_agent::run::RunOptions {
                job,
                today: today.unwrap_or_else(clock::today_in_china),
                chunk_records: chunk_records as usize,
                results_wait: Duration::from_secs(results_wait),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                workers: workers.unwrap_or_else(default_workers),
                accept_few_readable,
                stop: bidui_agent::serve::Stop::default(),
            };
            let report = bidui_agent::run::run(&config, &options)
                .with_context(|| t!("agent-in-job", party = config.party, job = options.job))?;
            print_agent_report(&report, &config);
        }
        AgentCommand::Serve { config: config_path, poll_seconds, chunk_records, workers } => {
            init_warnings();
            let config = bidui_agent::config::AgentConfig::load(&config_path)?;
            let stop = bidui_agent::serve::Stop::default();
            stop_on_signal(stop.clone())?;
            let mut options = bidui_agent::serve::ServeOptions {
                config_path: std::path::absolute(&config_path).unwrap_or(config_path),
                run: bidui_agent::run::RunOptions {
                    job: String::new(),
                    today: clock::today_in_china(),
                    chunk_records: chunk_records as usize,
                    results_wait: Duration::ZERO,
                    progress: false,
                    workers: workers.unwrap_or_else(default_workers),
                    accept_few_readable: false,
                    stop,
                },
                poll: poll_seconds.map(Duration::from_secs),
                today: clock::today_in_china,
            };
            bidui_agent::serve::serve(&config, &mut options)
                .with_context(|| t!("agent-serving", party = config.party))?;
        }
        AgentCommand::Check { config, rows, today, timeout } => {
            let options = bidui_agent::check::CheckOptions {
                rows,
                today: today.unwrap_or_else(clock::today_in_china),
                timeout: Duration::from_secs(timeout),
            };
            let findings = bidui_agent::check::check(&config, &options);
            print_check(&findings);
            if bidui_agent::check::has_errors(&findings) {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Requests `stop` on SIGTERM (systemd stopping the service) or SIGINT (Ctrl-C), from a
/// thread of its own: the service finishes the step it is in and exits 0.
fn stop_on_signal(stop: bidui_agent::serve::Stop) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let mut terminate =
        runtime.block_on(async { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) })?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        });
        stop.request();
    });
    Ok(())
}

/// One line per finding (verdict, subject, what was found), the fix indented below it.
/// In the language of the global --lang (or the locale), as every command.
fn print_check(findings: &[bidui_agent::check::Finding]) {
    use bidui_agent::check::Verdict;
    let mut out = io::stdout().lock();
    for finding in findings {
        let _ = writeln!(out, "[{}] {}: {}", finding.verdict.label(), finding.kind.label(), finding.message.text());
        if let Some(fix) = finding.message.fix().filter(|_| finding.verdict != Verdict::Pass) {
            let _ = writeln!(out, "       → {fix}");
        }
    }
    let _ = writeln!(out, "{}", bidui_agent::check::summary(findings));
    let _ = out.flush();
}

fn print_agent_report(r: &bidui_agent::run::RunReport, config: &bidui_agent::config::AgentConfig) {
    let none = || t!("none");
    let or_none = |items: &[String]| if items.is_empty() { none() } else { items.join(", ") };
    println!("{}", t!("agent-report-head", party = r.party, job = r.job, matcher = r.matcher));
    println!("  {}", t!("agent-report-purpose", purpose = r.purpose, approval = r.approval));
    println!(
        "  {}",
        t!(
            "agent-report-sent",
            rows = r.rows_read,
            records = r.records_sent,
            chunks = r.chunks_sent,
            held = r.chunks_already_held
        )
    );
    println!("  {}", t!("agent-report-attributes", attributes = or_none(&r.attributes)));
    let invalid: Vec<String> = r.invalid_ids.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  {}", t!("agent-report-invalid", counts = or_none(&invalid)));
    println!("  {}", t!("agent-report-sealed", fields = or_none(&r.fields_sealed)));
    for refused in &r.fields_refused {
        // The seal carried the reason in English; the department reads it in its language.
        let reason = config.policy.refusal(&refused.field, &r.purpose, &config.fields);
        let reason = reason.map_or_else(|| refused.reason.clone(), |refusal| refusal.to_string());
        println!("  {}", t!("agent-report-refused", field = refused.field, reason = reason));
    }
    if r.values_too_long > 0 {
        println!("  {}", t!("agent-report-too-long", count = r.values_too_long));
    }
    println!("  {}", t!("agent-report-invalid-rows", path = r.invalid_rows_file.display()));
    if let Some(results) = &r.results_file {
        println!("  {}", t!("agent-report-results", path = results.display()));
        if r.unopened > 0 {
            println!("  {}", t!("agent-report-unopened", count = r.unopened));
        }
    }
}

fn matcher(command: MatcherCommand) -> anyhow::Result<()> {
    match command {
        MatcherCommand::Serve { db, listen, log, tls_cert, tls_key, insecure_http, allow_non_loopback, init } => {
            init_logging(log.as_deref())?;
            let transport = match (tls_cert, tls_key) {
                (Some(certificate), Some(key)) if !insecure_http => {
                    bidui_matcher::Transport::Tls(bidui_matcher::tls::TlsFiles { certificate, key })
                }
                _ => bidui_matcher::Transport::InsecureHttp,
            };
            let runtime = tokio::runtime::Runtime::new().context(t!("starting-runtime"))?;
            runtime.block_on(bidui_matcher::serve(bidui_matcher::ServeConfig {
                database: db,
                listen,
                transport,
                allow_non_loopback,
                init,
            }))
        }
        MatcherCommand::Enroll { db, name, role, public_key, init } => {
            let key = hex::decode(public_key.trim()).context(t!("agent-key-not-hex"))?;
            init_matcher_database(&db, init)?;
            let role = PrincipalRole::from(role);
            let role_name = principal_role(&role.to_string());
            match bidui_matcher::enroll(&db, &name, role, &key)? {
                bidui_matcher::Enrolment::Enrolled => println!("{}", t!("enrolled", role = role_name, name = name)),
                bidui_matcher::Enrolment::Replaced => {
                    println!("{}", t!("enrolled-replacing", role = role_name, name = name))
                }
                bidui_matcher::Enrolment::Unchanged => {
                    println!("{}", t!("already-enrolled", role = role_name, name = name))
                }
            }
            Ok(())
        }
        MatcherCommand::TrustCustodian { db, public_key, init } => {
            let key = hex::decode(public_key.trim()).context(t!("custodian-key-not-hex"))?;
            init_matcher_database(&db, init)?;
            bidui_matcher::trust_custodian(&db, &key)?;
            println!("{}", t!("custodian-trusted"));
            Ok(())
        }
        MatcherCommand::Revoke { db, name } => {
            bidui_matcher::revoke(&db, &name)?;
            println!("{}", t!("revoked", name = name));
            Ok(())
        }
        MatcherCommand::Backup { db, to } => {
            bidui_matcher::backup(&db, &to)?;
            println!("{}", t!("backed-up", db = db.display(), to = to.display()));
            Ok(())
        }
    }
}

/// Warnings on stderr, for commands that otherwise only print their results.
fn init_warnings() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}

/// With `--init`, creates the matcher's database when `db` names none, and says so.
fn init_matcher_database(db: &std::path::Path, init: bool) -> anyhow::Result<()> {
    if init && bidui_matcher::init_database(db)? {
        eprintln!("{}", t!("database-created", db = db.display()));
    }
    Ok(())
}

fn init_logging(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let json = match file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| t!("opening-log", path = path.display()))?;
            Some(tracing_subscriber::fmt::layer().json().with_writer(std::sync::Mutex::new(file)))
        }
        None => None,
    };
    tracing_subscriber::registry().with(filter).with(stderr).with(json).init();
    Ok(())
}

fn job(command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::Create { spec, operator, profile } => {
            let config = operator::OperatorConfig::load(&operator)?;
            let spec =
                operator::with_profile(operator::read_spec(&spec)?, profile.or(config.profile.clone()).as_deref())?;
            let created = operator::create_job(&config.client()?, &config.sign(&spec)?)
                .with_context(|| t!("creating-job", job = spec.id))?;
            if created {
                println!("{}", t!("job-created", job = spec.id));
            } else {
                println!("{}", t!("job-exists", job = spec.id));
            }
        }
        JobCommand::Status { job, operator, json } => {
            let config = operator::OperatorConfig::load(&operator)?;
            let status = operator::status(&config.client()?, &job)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                let profile = config.profile.as_deref().map(operator::read_profile).transpose()?;
                operator::print_status(&status, profile.as_ref());
            }
        }
        JobCommand::Resume { job, operator } => {
            let config = operator::OperatorConfig::load(&operator)?;
            let resumed = operator::resume(&config.client()?, &job)?;
            println!("{}", operator::resumed_note(&job, &resumed));
            match resumed {
                operator::Resumed::AlreadyComplete(status) | operator::Resumed::Joined(status) => {
                    let profile = config.profile.as_deref().map(operator::read_profile).transpose()?;
                    operator::print_status(&status, profile.as_ref())
                }
                operator::Resumed::Waiting(_) => std::process::exit(1),
            }
        }
        JobCommand::Results { job, operator, out } => {
            let client = operator::OperatorConfig::load(&operator)?.client()?;
            let results = operator::results(&client, &job)?;
            std::fs::write(&out, serde_json::to_vec_pretty(&results)?)
                .with_context(|| t!("writing", path = out.display()))?;
            println!("{}", t!("job-results-written", job = job, path = out.display(), rows = results.rows.len()));
        }
    }
    Ok(())
}

fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::InitOperator { key } => {
            let identity = bidui_client::Identity::create(&key)?;
            println!("{}", identity.public_key_hex());
        }
        KeysCommand::TlsCert(args) => tls::tls_cert(args)?,
        KeysCommand::Custodian(command) => custodian::run(command)?,
        KeysCommand::NewEpoch { out, suite } => {
            let epoch = bidui_agent::epochs::create(&out, suite)?;
            println!("{}", epoch.key_check_value());
            eprintln!("{}", t!("epoch-written", suite = suite, path = out.display()));
        }
    }
    Ok(())
}

fn id_check(today: CivilDate) -> anyhow::Result<()> {
    let stdin = io::stdin().lock();
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut reader = io::BufReader::with_capacity(1 << 16, stdin);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).context(t!("reading-stdin"))? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let written = match IdNumber::parse(text, today) {
            Ok(id) => writeln!(out, "OK {}", id.as_str()),
            Err(e) => writeln!(out, "ERR {}", e.code()),
        };
        if let Err(e) = written {
            // A closed pipe (`bidui id check | head`) is a normal way to stop.
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e).context(t!("writing-stdout"));
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context(t!("writing-stdout")),
        _ => Ok(()),
    }
}
