//! `bidui bench`: throughput measurements printed as figures, never asserted by tests.

use std::hint::black_box;
use std::time::Instant;

use bidui_core::idnum::check_character;
use bidui_core::{CivilDate, EpochSecret, IdNumber, KeyEpoch, Suite};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Identity tokens per second on one core, per suite, from canonical ids in memory.
    Tokens {
        /// How many distinct identity numbers to tokenize per suite.
        #[arg(long, default_value_t = 5_000_000)]
        count: usize,
        /// Only this suite (default: all).
        #[arg(long)]
        suite: Option<Suite>,
    },
}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Tokens { count, suite } => tokens(count, suite),
    }
}

/// Valid, distinct identity numbers spread over addresses and birth dates.
fn synthetic_ids(count: usize) -> Vec<IdNumber> {
    let today = CivilDate::new(2026, 1, 1).expect("valid date");
    (0..count)
        .map(|i| {
            let area = 440_000 + (i % 999) as u32;
            let day = 1 + (i / 999 % 28) as u32;
            let month = 1 + (i / 27_972 % 12) as u32;
            let year = 1930 + (i / 335_664 % 90) as u32;
            let seq = i % 1000;
            let body = format!("{area:06}{year:04}{month:02}{day:02}{seq:03}");
            let check = check_character(body.as_bytes().try_into().expect("17 digits")) as char;
            IdNumber::parse(&format!("{body}{check}"), today).expect("synthetic ids are valid")
        })
        .collect()
}

fn tokens(count: usize, only: Option<Suite>) -> anyhow::Result<()> {
    let ids = synthetic_ids(count);
    let secret = EpochSecret::from_bytes([0x42; 32]);
    println!("suite         tokens      seconds   tokens/s (1 core)");
    for suite in Suite::ALL.into_iter().filter(|s| only.is_none_or(|o| o == *s)) {
        let keys = KeyEpoch::new(suite, secret.clone()).job_keys("bench");
        let start = Instant::now();
        let mut fold = 0u8;
        for id in &ids {
            fold ^= black_box(keys.id_token(id)).0[0];
        }
        black_box(fold);
        let seconds = start.elapsed().as_secs_f64();
        println!("{:<12} {:>8} {:>10.3} {:>12.0}", suite.name(), ids.len(), seconds, ids.len() as f64 / seconds);
    }
    Ok(())
}
