//! `cargo run --release -p bidui-synth --example synth -- --out /tmp/district [--small]`
use clap::Parser;

#[derive(Parser)]
#[command(about = "Write a synthetic Zengcheng district (registry, department extracts, ground truth)")]
struct Cli {
    #[command(flatten)]
    args: bidui_synth::SynthArgs,
}

fn main() -> anyhow::Result<()> {
    bidui_synth::run(Cli::parse().args)
}
