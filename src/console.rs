//! `bidui console`: serve the bureau's console, and `bidui console account …`: its accounts.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use bidui_console::accounts::{Accounts, Role};
use bidui_i18n::t;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ConsoleArgs {
    #[command(subcommand)]
    command: Option<ConsoleCommand>,
    /// The folder of the rounds: one report directory per round (`bidui report build`'s
    /// output), in the order of their names. The audit trail is written there.
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
}

#[derive(clap::Subcommand)]
enum ConsoleCommand {
    /// The console's accounts: add, list, remove, change a password.
    #[command(subcommand)]
    Account(AccountCommand),
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
            let options = bidui_console::ServeOptions { rounds, listen: args.listen, accounts: args.accounts, tls };
            let runtime = tokio::runtime::Runtime::new().context(t!("starting-runtime"))?;
            Ok(runtime.block_on(bidui_console::serve(options))?)
        }
        Some(ConsoleCommand::Account(command)) => account(command),
    }
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
            let mut accounts = Accounts::load_or_empty(&path)?;
            // Told before the password is asked for.
            if accounts.accounts.contains_key(&name) {
                return Err(bidui_console::accounts::AccountError::Exists(name).into());
            }
            let password = read_password()?;
            accounts.add(&name, role.clone(), &password)?;
            accounts.save(&path)?;
            eprintln!("{}", t!("console-account-added", name = name, role = role.describe(), path = path.display()));
        }
        AccountCommand::List { accounts: path } => {
            for (name, account) in Accounts::load_or_empty(&path)?.accounts {
                println!("{name}\t{}", account.role.describe());
            }
        }
        AccountCommand::Remove { accounts: path, name } => {
            let mut accounts = Accounts::load_or_empty(&path)?;
            accounts.remove(&name)?;
            accounts.save(&path)?;
            eprintln!("{}", t!("console-account-removed", name = name));
        }
        AccountCommand::Passwd { accounts: path, name } => {
            let mut accounts = Accounts::load_or_empty(&path)?;
            if !accounts.accounts.contains_key(&name) {
                return Err(bidui_console::accounts::AccountError::NoSuch(name).into());
            }
            let password = read_password()?;
            accounts.set_password(&name, &password)?;
            accounts.save(&path)?;
            eprintln!("{}", t!("console-account-password-set", name = name));
        }
    }
    Ok(())
}
