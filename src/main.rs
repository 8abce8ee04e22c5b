//! `bidui`: one binary for every role. Each subcommand is a thin shell over a library crate.

use std::io::{self, BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bidui_core::{CivilDate, IdNumber};
use clap::{Parser, Subcommand};

mod bench;

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

fn today_utc() -> CivilDate {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CivilDate::from_days_since_unix_epoch((secs / 86_400) as i64)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Id(IdCommand::Check { today }) => id_check(today.unwrap_or_else(today_utc)),
        Command::Bench(command) => bench::run(command),
    }
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
