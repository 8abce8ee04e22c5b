//! `bidui console`: its arguments, `bidui console account …` (the console's accounts), and
//! the console's operator side, with the code of `bidui job …` (the operator's
//! configuration, key and profile) and of `bidui report build` (the report of the results
//! the bureau's own agent opened).

use std::io::BufRead as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bidui_client::Client;
use bidui_console::accounts::{Accounts, Role};
use bidui_console::jobs::{Operator, SpecChoice};
use bidui_core::api::{JobSpec, JobStatus};
use bidui_core::profile::Profile;
use bidui_i18n::t;

use crate::operator::{self, OperatorConfig};

/// The operator's configuration, the specs rounds start from, and the bureau's agent.
pub struct ConsoleOperator {
    config: OperatorConfig,
    client: Client,
    profile: Option<Profile>,
    specs: Vec<SpecChoice>,
    /// The requester agent's state folder: `<state_dir>/<job>/results.json` once opened.
    requester_state: Option<PathBuf>,
}

impl ConsoleOperator {
    pub fn load(operator: &Path, specs: &[PathBuf], requester: Option<&Path>) -> anyhow::Result<ConsoleOperator> {
        let config = OperatorConfig::load(operator)?;
        let client = config.client()?;
        let profile = config.profile.as_deref().map(operator::read_profile).transpose()?;
        let mut choices: Vec<SpecChoice> = Vec::new();
        for path in specs {
            let spec = operator::read_spec(path)?;
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            if choices.iter().any(|c| c.file == file) {
                bail!(t!("console-spec-twice", file = file));
            }
            choices.push(SpecChoice { file, spec });
        }
        let requester_state = requester
            .map(|path| bidui_agent::config::AgentConfig::load(path).map(|c| c.state_dir))
            .transpose()
            .with_context(|| t!("console-requester-config"))?;
        Ok(ConsoleOperator { config, client, profile, specs: choices, requester_state })
    }
}

/// An error for the page: its whole chain, as `bidui job …` would print it.
fn sentence(error: anyhow::Error) -> String {
    format!("{error:#}")
}

impl Operator for ConsoleOperator {
    fn specs(&self) -> Vec<SpecChoice> {
        self.specs.clone()
    }

    fn status(&self, job: &str) -> Result<JobStatus, String> {
        operator::status(&self.client, job).map_err(sentence)
    }

    fn create(&self, spec: &JobSpec, job: &str) -> Result<(), String> {
        let created = (|| {
            let mut spec = spec.clone();
            spec.id = job.to_owned();
            let spec = operator::with_profile(spec, self.config.profile.as_deref())?;
            operator::create_job(&self.client, &self.config.sign(&spec)?)
        })();
        created.map(|_| ()).map_err(sentence)
    }

    fn party_name(&self, party: &str) -> String {
        self.profile.as_ref().map_or(party, |p| p.party_name(party)).to_owned()
    }

    fn build_report(&self, job: &str, dir: &Path) -> Result<bool, String> {
        let Some(state) = &self.requester_state else {
            return Err(t!("console-no-requester"));
        };
        // Where the requester's agent keeps a job's files (`bidui agent run`/`serve`).
        let job_dir = state.join(bidui_client::path_segment(job));
        let results_file = job_dir.join("results.json");
        if !results_file.is_file() {
            return Ok(false);
        }
        let built = (|| {
            let results = bidui_report::load_results(&results_file)?;
            let invalid_rows = job_dir.join("invalid-rows.csv");
            crate::report::write_local(&results, dir, invalid_rows.is_file().then_some(invalid_rows.as_path()))
        })();
        built.map(|_| true).map_err(sentence)
    }
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ConsoleArgs {
    #[command(subcommand)]
    command: Option<ConsoleCommand>,
    /// The folder of the rounds: one report directory per round (`bidui report build`'s
    /// output, or the console's own), in the order of their names. The audit trail is
    /// written there.
    #[arg(long, required = true)]
    rounds: Option<PathBuf>,
    /// Where to listen: loopback as it is; any other address needs --tls-cert, --tls-key and --accounts.
    #[arg(long, default_value = "127.0.0.1:8800")]
    listen: SocketAddr,
    /// The accounts file (`bidui console account add`): every page behind a sign-in.
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// Serve HTTPS with this certificate (PEM, e.g. from `bidui keys tls-cert`).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The operator's configuration (`operator.toml`): the jobs page follows jobs live
    /// and starts new rounds, signed with the operator's key.
    #[arg(long)]
    operator: Option<PathBuf>,
    /// A job spec (`job.toml`) new rounds can be started from; repeatable.
    #[arg(long = "spec", requires = "operator")]
    specs: Vec<PathBuf>,
    /// The bureau's own agent (`agent.toml` of the registry): a watched job's round is
    /// built from the results it opened.
    #[arg(long, requires = "operator")]
    requester: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum ConsoleCommand {
    /// The console's accounts: add, list, remove, change a password.
    #[command(subcommand)]
    Account(AccountCommand),
    /// The console's audit trail (sign-ins, exports, uploads): checks its hash chain and
    /// prints every entry; exits 1 when the chain is broken
    Audit {
        /// The folder of the rounds, which holds console-audit.log.
        #[arg(long)]
        rounds: PathBuf,
    },
}

#[derive(clap::Subcommand)]
enum AccountCommand {
    /// Adds an account; its password is read from standard input (one line). Never replaces an account.
    Add {
        /// The accounts file (created 0600 when missing).
        #[arg(long)]
        accounts: PathBuf,
        /// The account's name: letters, digits, `.`, `_`, `-`.
        name: String,
        /// bureau (every town, with names) or town (one town only, with --town).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The town a town account is bound to, as the rounds name it.
        #[arg(long)]
        town: Option<String>,
    },
    /// Lists the accounts and their roles.
    List {
        #[arg(long)]
        accounts: PathBuf,
    },
    /// Removes an account; a running console signs it out within seconds.
    Remove {
        #[arg(long)]
        accounts: PathBuf,
        name: String,
    },
    /// Sets an account's password, read from standard input (one line).
    Passwd {
        #[arg(long)]
        accounts: PathBuf,
        name: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Bureau,
    Town,
}

/// The password: typed twice at a terminal without echo, else one line of standard input
/// (so that a script can pipe it).
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(t!("console-password-prompt")).context(t!("console-password-unread"))?;
        let again = rpassword::prompt_password(t!("console-password-again")).context(t!("console-password-unread"))?;
        anyhow::ensure!(first == again, t!("console-password-differs"));
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context(t!("console-password-unread"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    match args.command {
        None => {
            let rounds = args.rounds.expect("clap requires --rounds without a subcommand");
            let tls = args
                .tls_cert
                .zip(args.tls_key)
                .map(|(certificate, key)| bidui_console::tls::TlsFiles { certificate, key });
            bidui_console::check_listen(args.listen, tls.is_some(), args.accounts.is_some())?;
            let mut console = bidui_console::Console::load(&rounds)?;
            if let Some(operator) = args.operator {
                let side = ConsoleOperator::load(&operator, &args.specs, args.requester.as_deref())?;
                console = console.with_operator(std::sync::Arc::new(side));
            }
            let options = bidui_console::ServeOptions { listen: args.listen, accounts: args.accounts, tls };
            let runtime = tokio::runtime::Runtime::new().context(t!("starting-runtime"))?;
            Ok(runtime.block_on(bidui_console::serve(console, options))?)
        }
        Some(ConsoleCommand::Account(command)) => account(command),
        Some(ConsoleCommand::Audit { rounds }) => audit(&rounds),
    }
}

/// Prints the audit trail after checking its chain: one line an entry, its time in China
/// Standard Time; a broken chain is the error (exit 1) naming the line.
fn audit(rounds: &Path) -> anyhow::Result<()> {
    let path = rounds.join(bidui_console::audit::AUDIT_FILE);
    let entries = bidui_console::audit::verify(&path)?;
    let mut out = std::io::stdout().lock();
    for (entry, _) in &entries {
        let line = format!("{}\t{}\t{}\t{}\t{}", entry.at, entry.event, entry.account, entry.remote, entry.detail);
        if writeln!(out, "{line}").is_err() {
            // A closed pipe (`… | head`) is a normal way to stop.
            return Ok(());
        }
    }
    eprintln!("{}", t!("console-audit-verified", entries = entries.len(), path = path.display()));
    Ok(())
}

fn account(command: AccountCommand) -> anyhow::Result<()> {
    match command {
        AccountCommand::Add { accounts: path, name, role, town } => {
            let role = match (role, town) {
                (RoleArg::Bureau, None) => Role::Bureau,
                (RoleArg::Bureau, Some(_)) => return Err(bidui_console::accounts::AccountError::TownForBureau.into()),
                (RoleArg::Town, Some(town)) => Role::Town { town },
                (RoleArg::Town, None) => return Err(bidui_console::accounts::AccountError::TownMissing.into()),
            };
            // Told before the password is asked for; asked for before the lock is taken,
            // so a person typing holds up no other change.
            if Accounts::load_or_empty(&path)?.accounts.contains_key(&name) {
                return Err(bidui_console::accounts::AccountError::Exists(name).into());
            }
            let password = read_password()?;
            // A weak password is refused before the lock file is made: it changes nothing.
            bidui_console::accounts::check_password(&name, &password)?;
            // `add` checks the name again on the file as it is now, under the lock.
            let mut accounts = Accounts::lock(&path)?;
            accounts.add(&name, role.clone(), &password)?;
            accounts.save()?;
            eprintln!("{}", t!("console-account-added", name = name, role = role.describe(), path = path.display()));
        }
        AccountCommand::List { accounts: path } => {
            for (name, account) in Accounts::load_or_empty(&path)?.accounts {
                println!("{name}\t{}", account.role.describe());
            }
        }
        AccountCommand::Remove { accounts: path, name } => {
            let mut accounts = Accounts::lock(&path)?;
            accounts.remove(&name)?;
            accounts.save()?;
            eprintln!("{}", t!("console-account-removed", name = name));
        }
        AccountCommand::Passwd { accounts: path, name } => {
            if !Accounts::load_or_empty(&path)?.accounts.contains_key(&name) {
                return Err(bidui_console::accounts::AccountError::NoSuch(name).into());
            }
            let password = read_password()?;
            bidui_console::accounts::check_password(&name, &password)?;
            // `set_password` looks for the account again on the file as it is now.
            let mut accounts = Accounts::lock(&path)?;
            accounts.set_password(&name, &password)?;
            accounts.save()?;
            eprintln!("{}", t!("console-account-password-set", name = name));
        }
    }
    Ok(())
}
