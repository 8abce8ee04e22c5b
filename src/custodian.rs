//! `bidui keys init|enroll|enroll-operator|revoke|rotate|status` for the key custodian:
//! enrol and revoke agents, rotate epochs, follow who took up which epoch. Runs on the
//! custodian's machine, never on the matcher's.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bidui_client::{Client, MatcherEndpoint};
use bidui_core::api::{EpochPickup, EpochUpload, Retirement};
use bidui_core::Suite;
use bidui_i18n::t;
use bidui_keyfile::Identity;
use bidui_keys::Custodian;
use clap::{Args, Subcommand};

use crate::clock::{china_time, china_time_of_millis, unix_millis, unix_seconds};

/// Where the matcher is and how to trust it.
#[derive(Args, Clone)]
pub struct MatcherArgs {
    /// The matcher's URL (https://…); without it, statements and sealed epochs are only
    /// written to files for hand delivery.
    #[arg(long)]
    pub matcher: Option<String>,
    /// The matcher's certificate, pinned.
    #[arg(long)]
    pub matcher_certificate: Option<PathBuf>,
    /// A CA file the matcher's certificate chains to.
    #[arg(long)]
    pub matcher_ca: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum CustodianCommand {
    /// Creates the custodian's signing key and state in --dir; prints the public key for
    /// the matcher's administrator (`bidui matcher trust-custodian`).
    Init {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Enrols an agent by the two public keys `bidui agent init` printed.
    Enroll {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        signing_key: String,
        #[arg(long)]
        x25519_key: String,
        #[command(flatten)]
        matcher: MatcherArgs,
    },
    /// Enrols the district operator's signing key.
    EnrollOperator {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        signing_key: String,
        #[command(flatten)]
        matcher: MatcherArgs,
    },
    /// Revokes an agent: refused at once, and no later epoch is sealed to it.
    Revoke {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        matcher: MatcherArgs,
    },
    /// A new epoch: a fresh secret sealed to every enrolled, non-revoked agent. Earlier
    /// epochs are retired after the grace period, so jobs already running can finish.
    Rotate {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "hmac-sha256")]
        suite: Suite,
        /// Hours before earlier epochs are deleted from the agents.
        #[arg(long, default_value_t = 72)]
        grace_hours: u64,
        #[command(flatten)]
        matcher: MatcherArgs,
    },
    /// Epochs, suites, check values, and (with --matcher) who took up which.
    Status {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        matcher: MatcherArgs,
    },
}

impl MatcherArgs {
    /// The matcher named on the command line (its files relative to the working
    /// directory), if one is.
    fn endpoint(&self) -> Option<MatcherEndpoint> {
        let url = self.matcher.clone()?;
        Some(MatcherEndpoint { url, certificate: self.matcher_certificate.clone(), ca: self.matcher_ca.clone() })
    }
}

fn client(dir: &Path, args: &MatcherArgs) -> anyhow::Result<Option<Client>> {
    let Some(endpoint) = args.endpoint() else { return Ok(None) };
    let identity = Identity::load(&dir.join(bidui_keys::KEY_FILE))?;
    Ok(Some(endpoint.client(bidui_matcher::auth::CUSTODIAN, identity)?))
}

/// Writes `body` to `file` in the custodian's folder first — so a failed delivery loses
/// nothing: sealed epochs and signed statements are safe to keep and to send again — then
/// sends it to the matcher when one is named.
fn deliver<T: serde::Serialize>(
    dir: &Path,
    args: &MatcherArgs,
    path: &str,
    body: &T,
    file: &str,
) -> anyhow::Result<()> {
    let out = dir.join(file);
    std::fs::write(&out, serde_json::to_vec_pretty(body)?).with_context(|| t!("writing", path = out.display()))?;
    println!("{}", t!("written-to", path = out.display()));
    if let Some(client) = client(dir, args)? {
        client.post(path, body).with_context(|| t!("delivering-to", url = client.base_url()))?;
        println!("{}", t!("delivered-to", url = client.base_url()));
    }
    Ok(())
}

pub fn run(command: CustodianCommand) -> anyhow::Result<()> {
    match command {
        CustodianCommand::Init { dir } => {
            let custodian = Custodian::init(&dir)?;
            println!("{}", hex::encode(custodian.public_key()));
            eprintln!("{}", t!("custodian-key-written", path = dir.join(bidui_keys::KEY_FILE).display()));
        }
        CustodianCommand::Enroll { dir, name, signing_key, x25519_key, matcher } => {
            let statement = Custodian::open(&dir)?.enroll(&name, &signing_key, &x25519_key, unix_millis())?;
            deliver(&dir, &matcher, "/v1/principals", &statement, &format!("enrol-{name}-{}.json", unix_millis()))?;
        }
        CustodianCommand::EnrollOperator { dir, name, signing_key, matcher } => {
            let statement = Custodian::open(&dir)?.enroll_operator(&name, &signing_key, unix_millis())?;
            deliver(&dir, &matcher, "/v1/principals", &statement, &format!("enrol-{name}-{}.json", unix_millis()))?;
        }
        CustodianCommand::Revoke { dir, name, matcher } => {
            let statement = Custodian::open(&dir)?.revoke(&name, unix_millis())?;
            deliver(&dir, &matcher, "/v1/principals", &statement, &format!("revoke-{name}-{}.json", unix_millis()))?;
        }
        CustodianCommand::Rotate { dir, suite, grace_hours, matcher } => {
            let mut custodian = Custodian::open(&dir)?;
            let earlier: Vec<String> = custodian.state().epochs.iter().map(|e| e.kcv.clone()).collect();
            let rotation = custodian.rotate(suite, unix_seconds())?;
            let retire_at = unix_seconds() + grace_hours * 3600;
            let retire = earlier.into_iter().map(|kcv| Retirement { kcv, retire_at }).collect();
            println!(
                "{}",
                t!(
                    "epoch-rotated",
                    number = rotation.number,
                    suite = rotation.suite,
                    kcv = rotation.kcv,
                    agents = rotation.sealed.len()
                )
            );
            let upload = EpochUpload { sealed: rotation.sealed, retire };
            deliver(&dir, &matcher, "/v1/epochs", &upload, &format!("epoch-{}-sealed.json", rotation.number))?;
        }
        CustodianCommand::Status { dir, matcher } => {
            let custodian = Custodian::open(&dir)?;
            let pickups: Option<Vec<EpochPickup>> = match client(&dir, &matcher)? {
                Some(client) => Some(client.get("/v1/epochs/status")?),
                None => None,
            };
            print!("{}", status_text(&custodian, pickups.as_deref()));
        }
    }
    Ok(())
}

/// `keys status`: the custodian's key, its agents, and who took up which epoch (`pickups`:
/// the matcher's answer, when asked). Every time in China Standard Time.
fn status_text(custodian: &Custodian, pickups: Option<&[EpochPickup]>) -> String {
    let mut out = format!("{}\n", t!("custodian-public-key", key = hex::encode(custodian.public_key())));
    for agent in &custodian.state().agents {
        let key = format!("{}…", &agent.signing_key[..16]);
        let line = match agent.revoked_at {
            Some(at) => t!("status-agent-revoked", name = agent.name, key = key, at = china_time_of_millis(at)),
            None => t!("status-agent", name = agent.name, key = key),
        };
        out.push_str(&format!("{line}\n"));
    }
    for epoch in &custodian.state().epochs {
        let line = t!(
            "status-epoch",
            number = epoch.number,
            suite = epoch.suite,
            kcv = epoch.kcv,
            at = china_time(epoch.created_at)
        );
        out.push_str(&format!("{line}\n"));
        for recipient in &epoch.sealed_to {
            let pickup = pickups.and_then(|p| p.iter().find(|p| p.kcv == epoch.kcv && &p.recipient == recipient));
            let mut taken = match (pickups, pickup.and_then(|p| p.picked_up_at)) {
                (_, Some(at)) => t!("status-taken-up", at = china_time(at)),
                (Some(_), None) => t!("status-not-taken-up"),
                (None, None) => t!("status-ask-matcher"),
            };
            if let Some(at) = pickup.and_then(|p| p.retire_at) {
                taken.push_str(&t!("status-retired", at = china_time(at)));
            }
            out.push_str(&format!("  {recipient:<20} {taken}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_status_shows_times_in_china_standard_time_not_unix_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let mut custodian = Custodian::init(dir.path()).unwrap();
        let (signing, x25519) = bidui_agent::epochs::init_agent_keys(&dir.path().join("agent")).unwrap();
        custodian.enroll("household", &hex::encode(signing), &hex::encode(x25519), 1_555_631_999_000).unwrap();
        let rotation = custodian.rotate(Suite::HmacSha256, 1_555_631_999).unwrap();
        custodian.revoke("household", 1_555_632_000_000).unwrap();
        let pickups = [EpochPickup {
            kcv: rotation.kcv.clone(),
            suite: Suite::HmacSha256,
            recipient: "household".into(),
            picked_up_at: Some(1_555_632_001),
            retire_at: Some(1_555_632_002),
        }];
        // Created, revoked, taken up and retired, in whichever language the test runs.
        let shown = status_text(&custodian, Some(&pickups));
        for at in ["07:59:59", "08:00:00", "08:00:01", "08:00:02"] {
            assert!(shown.contains(&format!("2019-04-19 {at} +08:00")), "{at}: {shown}");
        }
        assert!(!shown.contains("155563"), "no raw Unix time: {shown}");
    }
}
