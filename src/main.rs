//! `bidui`: one binary for every role. Each subcommand is a thin shell over a library crate.

#![forbid(unsafe_code)]

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bidui_core::custody::PrincipalRole;
use bidui_core::{CivilDate, IdNumber, Suite};
use clap::{Parser, Subcommand, ValueEnum};

mod audit;
mod bench;
mod clock;
mod custodian;
mod demo;
mod operator;
mod report;
mod synth;
mod tls;

#[derive(Parser)]
#[command(name = "bidui", version, about = "Privacy-preserving cross-department matching (比对)")]
struct Cli {
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
    /// Fetches the match structure (no values: those are sealed to the requester, whose
    /// agent writes the report's input) and writes it as JSON.
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
    CivilDate::parse(text).ok_or_else(|| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
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
    }
}

fn agent(command: AgentCommand) -> anyhow::Result<()> {
    match command {
        AgentCommand::Init { dir } => {
            let (signing, x25519) = bidui_agent::epochs::init_agent_keys(&dir)?;
            println!("signing_key = {}\nx25519_key = {}", hex::encode(signing), hex::encode(x25519));
            eprintln!(
                "agent keys written to {} (0600). Give the two public keys above to the key custodian.",
                dir.display()
            );
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
                workers: workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                accept_few_readable,
            };
            let report = bidui_agent::run::run(&config, &options)
                .with_context(|| format!("agent {} in job {}", config.party, options.job))?;
            print_agent_report(&report);
        }
    }
    Ok(())
}

fn print_agent_report(r: &bidui_agent::run::RunReport) {
    println!("agent {} — job {} at {}", r.party, r.job, r.matcher);
    println!("  purpose: {} [{}]", r.purpose, r.approval);
    println!(
        "  rows read: {}; records sent as tokens: {} ({} chunks sent, {} already held)",
        r.rows_read, r.records_sent, r.chunks_sent, r.chunks_already_held
    );
    println!(
        "  attributes compared by token: {}",
        if r.attributes.is_empty() { "none".to_owned() } else { r.attributes.join(", ") }
    );
    let invalid: Vec<String> = r.invalid_ids.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "  invalid identity numbers (counts only sent): {}",
        if invalid.is_empty() { "none".to_owned() } else { invalid.join(", ") }
    );
    println!(
        "  fields sealed to the requester with every record: {}",
        if r.fields_sealed.is_empty() { "none".to_owned() } else { r.fields_sealed.join(", ") }
    );
    for refused in &r.fields_refused {
        println!("  refused: {} — {}", refused.field, refused.reason);
    }
    if r.values_too_long > 0 {
        println!("  values too long to seal (listed by row in the local report): {}", r.values_too_long);
    }
    println!("  local report of invalid rows (never sent): {}", r.invalid_rows_file.display());
    if let Some(results) = &r.results_file {
        println!("  results opened for the requester (local): {}", results.display());
        if r.unopened > 0 {
            println!(
                "  WARNING: {} sealed values did not open: the matcher forwarded values of people not in this \
                 registry, or they were damaged; they were dropped",
                r.unopened
            );
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
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(bidui_matcher::serve(bidui_matcher::ServeConfig {
                database: db,
                listen,
                transport,
                allow_non_loopback,
                init,
            }))
        }
        MatcherCommand::Enroll { db, name, role, public_key, init } => {
            let key = hex::decode(public_key.trim())
                .context("the public key must be hex, as `bidui agent init` prints it")?;
            init_matcher_database(&db, init)?;
            let role = PrincipalRole::from(role);
            match bidui_matcher::enroll(&db, &name, role, &key)? {
                bidui_matcher::Enrolment::Enrolled => println!("enrolled {role} {name}"),
                bidui_matcher::Enrolment::Replaced => {
                    println!("enrolled {role} {name} (replacing its earlier enrolment)")
                }
                bidui_matcher::Enrolment::Unchanged => println!("{role} {name} is already enrolled with this key"),
            }
            Ok(())
        }
        MatcherCommand::TrustCustodian { db, public_key, init } => {
            let key =
                hex::decode(public_key.trim()).context("the public key must be hex, as `bidui keys init` prints it")?;
            init_matcher_database(&db, init)?;
            bidui_matcher::trust_custodian(&db, &key)?;
            println!("the matcher now accepts enrolments, revocations and sealed epochs signed by this custodian key");
            Ok(())
        }
        MatcherCommand::Revoke { db, name } => {
            bidui_matcher::revoke(&db, &name)?;
            println!("revoked {name}: its requests are refused from now on");
            Ok(())
        }
        MatcherCommand::Backup { db, to } => {
            bidui_matcher::backup(&db, &to)?;
            println!(
                "已备份 (backed up) {} to {} (0600). 恢复 (restore): stop the matcher, copy the backup to the \
                 database's path, remove any -wal and -shm files beside it, start the matcher",
                db.display(),
                to.display()
            );
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
        eprintln!("已新建空数据库 (created a new, empty matcher database) {}", db.display());
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
                .with_context(|| format!("opening the log file {}", path.display()))?;
            Some(tracing_subscriber::fmt::layer().json().with_writer(std::sync::Mutex::new(file)))
        }
        None => None,
    };
    tracing_subscriber::registry().with(filter).with(stderr).with(json).init();
    Ok(())
}

fn job(command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::Create { spec, operator } => {
            let spec = operator::read_spec(&spec)?;
            let config = operator::OperatorConfig::load(&operator)?;
            let created = operator::create_job(&config.client()?, &config.sign(&spec)?)
                .with_context(|| format!("creating job {}", spec.id))?;
            println!("job {} {}", spec.id, if created { "created" } else { "already exists with this spec" });
        }
        JobCommand::Status { job, operator, json } => {
            let client = operator::OperatorConfig::load(&operator)?.client()?;
            let status = operator::status(&client, &job)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                operator::print_status(&status);
            }
        }
        JobCommand::Resume { job, operator } => {
            let client = operator::OperatorConfig::load(&operator)?.client()?;
            let resumed = operator::resume(&client, &job)?;
            println!("{}", operator::resumed_note(&job, &resumed));
            match resumed {
                operator::Resumed::AlreadyComplete(status) | operator::Resumed::Joined(status) => {
                    operator::print_status(&status)
                }
                operator::Resumed::Waiting(_) => std::process::exit(1),
            }
        }
        JobCommand::Results { job, operator, out } => {
            let client = operator::OperatorConfig::load(&operator)?.client()?;
            let results = operator::results(&client, &job)?;
            std::fs::write(&out, serde_json::to_vec_pretty(&results)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote the match structure of job {job} to {} ({} registry rows); the report is built by the \
                 requester's agent from the values sealed to it",
                out.display(),
                results.rows.len()
            );
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
            eprintln!(
                "epoch ({suite}) written to {} (0600). It is SECRET: it must reach the agents only, never the matcher.",
                out.display()
            );
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
        if reader.read_until(b'\n', &mut line).context("reading stdin")? == 0 {
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
            return Err(e).context("writing stdout");
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing stdout"),
        _ => Ok(()),
    }
}
