//! `bidui synth`: the command line of `crates/bidui-synth`.

use std::path::PathBuf;

use bidui_synth::{Department, Options};

/// Arguments of `bidui synth`.
#[derive(clap::Args, Clone, Debug)]
pub struct SynthArgs {
    /// Directory to write the files into (created if missing; existing files are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed: the same seed and sizes give byte-identical files.
    #[arg(long, default_value_t = Options::default().seed)]
    pub seed: u64,
    /// Registry rows (退役军人和其他优抚对象), duplicates included.
    #[arg(long, default_value_t = Options::default().registry)]
    pub registry: u64,
    /// Household-registration residents who are NOT on the registry.
    #[arg(long, default_value_t = Options::default().population)]
    pub population: u64,
    /// Override a department's data rows: `KEY=ROWS`, repeatable or comma-separated
    /// (social-security, medical-insurance, housing, assistance, petitions, service-records).
    #[arg(
        long = "department-rows",
        value_name = "KEY=ROWS",
        value_delimiter = ',',
        value_parser = parse_department_rows
    )]
    pub department_rows: Vec<(Department, u64)>,
    /// A small district for demos and tests: registry 300, population 3000.
    #[arg(long, conflicts_with_all = ["registry", "population"])]
    pub small: bool,
}

impl SynthArgs {
    fn options(&self) -> Options {
        let sizes = if self.small {
            Options::small()
        } else {
            Options { registry: self.registry, population: self.population, ..Options::default() }
        };
        Options { seed: self.seed, department_rows: self.department_rows.clone(), ..sizes }
    }
}

/// `KEY=ROWS`, e.g. `medical-insurance=1500000`.
fn parse_department_rows(text: &str) -> Result<(Department, u64), String> {
    let (key, rows) = text.split_once('=').ok_or_else(|| format!("{text:?}: expected DEPARTMENT=ROWS"))?;
    let department = Department::ALL.into_iter().find(|d| d.key() == key.trim()).ok_or_else(|| {
        format!("unknown department {key:?} (one of: {})", Department::ALL.map(|d| d.key()).join(", "))
    })?;
    if department == Department::Household {
        return Err("household registration holds the registry persons and the population; use --population".into());
    }
    let rows = rows.trim().replace('_', "").parse::<u64>().map_err(|e| format!("{rows:?}: {e}"))?;
    Ok((department, rows))
}

/// Generates the district, then prints what was written.
pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let manifest = bidui_synth::generate(&args.options(), &args.out)?;
    print!("{manifest}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SynthArgs,
    }

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Cli::try_parse_from(["synth", "--out", "district"].iter().chain(args)).map(|cli| cli.args.options())
    }

    #[test]
    fn flags_become_options() {
        assert_eq!(parse(&[]).unwrap(), Options::default());
        assert_eq!(parse(&["--small", "--seed", "7"]).unwrap(), Options { seed: 7, ..Options::small() });
        let options = parse(&[
            "--registry",
            "120",
            "--population",
            "800",
            "--department-rows",
            "housing=500,petitions=4_0",
            "--department-rows",
            "service-records=10",
        ])
        .unwrap();
        assert_eq!((options.registry, options.population), (120, 800));
        assert_eq!(
            options.department_rows,
            [(Department::Housing, 500), (Department::Petitions, 40), (Department::ServiceRecords, 10)]
        );
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(parse(&["--small", "--registry", "5"]).is_err());
        assert!(parse(&["--department-rows", "household=5"]).unwrap_err().to_string().contains("use --population"));
        assert!(parse(&["--department-rows", "police=5"]).unwrap_err().to_string().contains("unknown department"));
        assert!(parse(&["--department-rows", "housing"]).unwrap_err().to_string().contains("expected DEPARTMENT=ROWS"));
    }
}
