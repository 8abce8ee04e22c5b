//! `bidui bench`: throughput measurements printed as figures, never asserted by tests.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use bidui_core::custody::PrincipalRole;
use bidui_core::idnum::check_character;
use bidui_core::{CivilDate, EpochSecret, IdNumber, KeyEpoch, Suite};
use clap::Subcommand;

mod compare;
mod ingest;

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
    /// An agent's upload pass over its source without the network (read, tokenize,
    /// encode and hash chunks): rows/s, and rows per CPU-second. Compares name, sex and
    /// birth date (the costliest job). Run it under `taskset -c 0` for one core.
    Agent {
        /// The agent's configuration (e.g. one `bidui demo` wrote).
        #[arg(long)]
        config: PathBuf,
        /// Only read the rows, without tokenizing.
        #[arg(long)]
        read_only: bool,
        /// Tokenizing threads.
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
    /// Matcher ingest alone: signed chunk uploads of made-up tokens to a real matcher on
    /// loopback, every department at once, from the first chunk to the job's results.
    Ingest {
        /// Folder for the matcher (its last run there is removed first).
        #[arg(long)]
        dir: PathBuf,
        /// Token records in all, split evenly over the departments.
        #[arg(long, default_value_t = 3_000_000)]
        records: u64,
        #[arg(long, default_value_t = 30_000)]
        registry: u32,
        #[arg(long, default_value_t = 1)]
        departments: u32,
        /// Over HTTPS with a test certificate, as deployed (default: plain HTTP).
        #[arg(long)]
        tls: bool,
    },
    /// A simulated province through the real matcher: a registry of `registry` rows against
    /// seven departments summing to `records` token records (household registration the
    /// largest), over HTTPS. Needs about 90 bytes of disk per record while it runs.
    Province {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 5_000_000)]
        registry: u32,
        #[arg(long, default_value_t = 300_000_000)]
        records: u64,
    },
    /// Requesters waiting for their results: `agents` long polls held at once against a
    /// job that never completes, for `seconds`, while the operator's `job status` is timed;
    /// the matcher's CPU and the status latencies are printed.
    Wait {
        /// Folder for the matcher's database.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 50)]
        agents: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// The requester's report from its results.json: reading it, `derive`, each writer and
    /// the whole report as `report build` writes it; fastest and median of `runs`.
    Report {
        /// The requester's results.json (`<state_dir>/<job>/results.json` or a report's).
        #[arg(long)]
        results: PathBuf,
        /// The requester agent's invalid-rows.csv, as `report build --invalid-rows` takes it.
        #[arg(long)]
        invalid_rows: Option<PathBuf>,
        /// Folder to write the report into (default: a temporary one, removed afterwards).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The matcher's results for a sealed job, in process (no network): the registry index,
    /// every department's join, `results::build`, the JSON and its write to a matcher
    /// database, then the requester parsing them and opening its values, for a registry
    /// against seven departments that seal values; fastest and median of `runs`.
    Results {
        #[arg(long, default_value_t = 30_000)]
        registry: u32,
        /// Rows per department, the registry's people among them.
        #[arg(long, default_value_t = 50_000)]
        rows: u32,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// bidui against a PSI peer from PyPI (OpenMined's ECDH PSI, `openmined.psi`) on the
    /// same held-out-style district in the same run: the whole job, registry against
    /// household registration, then the peer between their identity numbers; prints both
    /// times, their ratio, the set and intersection sizes. Needs python3 (venv) and PyPI
    /// the first time: the peer is installed into `<dir>/psi-venv`.
    Compare {
        /// Folder for the district, the run and the peer's venv.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 30_000)]
        registry: u64,
        /// Household-registration rows.
        #[arg(long, default_value_t = 400_000)]
        rows: u64,
        /// Reuse the district already generated in --dir.
        #[arg(long)]
        reuse_data: bool,
    },
    /// A whole job on a full-size district: agent rows/s, job wall time, peak memory.
    District {
        /// Folder for the district and the run (tens of GB free at full size is plenty).
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 30_000)]
        registry: u64,
        /// Rows per department.
        #[arg(long, default_value_t = 1_500_000)]
        rows: u64,
        /// Reuse the district already generated in --dir.
        #[arg(long)]
        reuse_data: bool,
    },
}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Tokens { count, suite } => tokens(count, suite),
        BenchCommand::District { dir, registry, rows, reuse_data } => district(dir, registry, rows, reuse_data),
        BenchCommand::Compare { dir, registry, rows, reuse_data } => compare::run(dir, registry, rows, reuse_data),
        BenchCommand::Agent { config, read_only, workers } => agent(&config, read_only, workers),
        BenchCommand::Ingest { dir, records, registry, departments, tls } => {
            let departments = departments.max(1);
            let each = records / u64::from(departments);
            let plan = ingest::IngestPlan { registry, departments: vec![each; departments as usize], tls };
            ingest::run(&dir, &plan)
        }
        BenchCommand::Province { dir, registry, records } => ingest::run(&dir, &ingest::province(registry, records)),
        BenchCommand::Wait { dir, agents, seconds } => wait(&dir, agents, seconds),
        BenchCommand::Report { results, invalid_rows, out, runs } => {
            report(&results, invalid_rows.as_deref(), out, runs)
        }
        BenchCommand::Results { registry, rows, runs } => results(registry, rows, runs),
    }
}

fn agent(config: &std::path::Path, read_only: bool, workers: usize) -> anyhow::Result<()> {
    use bidui_agent::source::{Row, Source};
    use bidui_agent::tokenize::{tokenize_source, ReadProgress, RowOutcome};
    use bidui_core::wire::ChunkBuilder;
    let config = bidui_agent::config::AgentConfig::load(config)?;
    let epoch = bidui_agent::epochs::load(&config.epochs[0])?;
    let mut source = Source::open(&config.source)?;
    let columns = bidui_agent::tokenize::ColumnIndex::resolve(&source, &config.columns)?;
    // A department comparing name, sex and birth date and sealing every field its
    // configuration maps: the most a department does per row.
    let fields: Vec<String> = config.fields.keys().cloned().collect();
    let spec = bench_spec(&config.party, fields.clone());
    let sealed = fields
        .iter()
        .map(|f| Ok((f.clone(), source.column(&config.fields[f])?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let department = &spec.departments[0];
    let today = CivilDate::new(2026, 11, 29).expect("a date");
    let tokenizer = bidui_agent::tokenize::Tokenizer::department(&epoch, &spec, department, sealed, columns, today);
    let layout = spec.layout(&department.party).expect("the bench department is in the spec");
    let (mut rows, mut records) = (0u64, 0u64);
    let (started, cpu) = (Instant::now(), bidui_probe::cpu_seconds());
    if read_only {
        let mut row = Row::new();
        while source.next_row(&mut row).is_some() {
            rows += 1;
        }
    } else {
        // Everything an upload does but the network: chunks encoded and hashed as
        // `agent run` does with its default chunk size.
        const CHUNK_RECORDS: usize = 16_384;
        let mut pending = ChunkBuilder::new(&layout);
        let mut chunk_digests = Vec::new();
        let mut flush = |pending: &mut ChunkBuilder| {
            let next = ChunkBuilder::with_capacity(&layout, pending.len());
            let chunk = std::mem::replace(pending, next).finish();
            chunk_digests.push(bidui_client::sha256(&chunk));
        };
        tokenize_source(&mut source, &tokenizer, workers, &ReadProgress::hidden(), |outcome| {
            rows += 1;
            if let RowOutcome::Tokenized { record: Some(record), .. } = outcome {
                records += 1;
                pending.push_encoded(record);
                if pending.records() == CHUNK_RECORDS || pending.len() >= bidui_core::wire::CHUNK_BYTES_TARGET {
                    flush(&mut pending);
                }
            }
            Ok::<(), std::convert::Infallible>(())
        })
        .expect("the sink never fails");
        flush(&mut pending);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = bidui_probe::cpu_seconds().zip(cpu).map_or(f64::NAN, |(end, start)| end - start);
    println!(
        "{}: {rows} rows, {records} token records; {seconds:.2} s wall, {cpu:.2} s CPU: \
         {:.0} rows/s, {:.0} rows/s per core",
        config.source.path.display(),
        rows as f64 / seconds,
        rows as f64 / cpu
    );
    Ok(())
}

/// A one-department job for the agent benchmark.
fn bench_spec(department: &str, fields: Vec<String>) -> bidui_core::api::JobSpec {
    use bidui_core::api::{Attribute, DepartmentSpec, JobSpec, RequesterSpec};
    JobSpec {
        id: "bench".into(),
        purpose: "bench".into(),
        approval: "bench".into(),
        epoch: "0123456789abcdef".into(),
        suite: Suite::HmacSha256,
        requester: RequesterSpec { party: "bench-registry".into(), fields: vec![], max_records: 1 },
        departments: vec![DepartmentSpec {
            party: department.to_owned(),
            compare: vec![Attribute::Name, Attribute::Sex, Attribute::BirthDate],
            fields,
            max_records: bidui_core::api::MAX_RECORDS_CAP,
        }],
        rules: Vec::new(),
        retention_hours: None,
        profile: None,
    }
}

fn wait(dir: &std::path::Path, agents: usize, seconds: u64) -> anyhow::Result<()> {
    use bidui_core::api::{DepartmentSpec, JobSpec, JobStatus, RequesterSpec, SignedJob};
    std::fs::create_dir_all(dir)?;
    let database = dir.join("matcher.db");
    let _ = std::fs::remove_file(&database);
    let (requester_key, operator_key) = (dir.join("r.key"), dir.join("o.key"));
    for key in [&requester_key, &operator_key] {
        let _ = std::fs::remove_file(key);
    }
    let requester = bidui_client::Identity::create(&requester_key)?;
    let operator = bidui_client::Identity::create(&operator_key)?;
    bidui_matcher::init_database(&database)?;
    bidui_matcher::enroll(&database, "registry", PrincipalRole::Agent, &requester.public_key())?;
    // Enrolled with the requester's key: it never signs anything here.
    bidui_matcher::enroll(&database, "department", PrincipalRole::Agent, &requester.public_key())?;
    bidui_matcher::enroll(&database, "operator", PrincipalRole::Operator, &operator.public_key())?;
    let matcher = crate::demo::start_matcher(&std::env::current_exe()?, dir, "127.0.0.1:0".parse()?)?;
    // A job whose department never seals: it stays collecting, and its requester waits.
    let spec = JobSpec {
        id: "wait".into(),
        purpose: "bench".into(),
        approval: "bench".into(),
        epoch: "0123456789abcdef".into(),
        suite: Suite::HmacSha256,
        requester: RequesterSpec { party: "registry".into(), fields: vec![], max_records: 10 },
        departments: vec![DepartmentSpec {
            party: "department".into(),
            compare: vec![],
            fields: vec![],
            max_records: 10,
        }],
        rules: Vec::new(),
        retention_hours: None,
        profile: None,
    };
    let signed = SignedJob::sign_with(&spec, "operator", |payload| operator.sign(payload));
    let operator = bidui_client::Client::new(&matcher.url, "operator", operator);
    operator.post("/v2/jobs", &signed)?;
    let pid = matcher.child.id();
    let (cpu_before, started) = (bidui_probe::cpu_seconds_of(pid), Instant::now());
    let until = started + std::time::Duration::from_secs(seconds);
    let asks = std::sync::atomic::AtomicU64::new(0);
    let mut latencies = Vec::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..agents {
            let client =
                bidui_client::Client::new(&matcher.url, "registry", bidui_client::Identity::load(&requester_key)?);
            let asks = &asks;
            scope.spawn(move || loop {
                let left = until.saturating_duration_since(Instant::now()).as_secs().min(25);
                if left == 0 {
                    break;
                }
                if client.get::<JobStatus>(&format!("/v2/jobs/wait?wait={left}")).is_err() {
                    break;
                }
                asks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
        while Instant::now() < until {
            let asked = Instant::now();
            operator.get::<JobStatus>("/v2/jobs/wait")?;
            latencies.push(asked.elapsed().as_secs_f64() * 1000.0);
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        Ok(())
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = bidui_probe::cpu_seconds_of(pid).zip(cpu_before).map(|(after, before)| after - before);
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!("bidui bench wait: {agents} requesters waiting for {elapsed:.0} s");
    println!(
        "their asks: {} ({:.2} per second in all)",
        asks.load(std::sync::atomic::Ordering::Relaxed),
        asks.load(std::sync::atomic::Ordering::Relaxed) as f64 / elapsed
    );
    println!(
        "operator's job status: median {:.1} ms, 95th percentile {:.1} ms, longest {:.1} ms ({} asks)",
        at(0.5),
        at(0.95),
        at(1.0),
        latencies.len()
    );
    match cpu {
        Some(cpu) => println!("matcher CPU: {cpu:.2} s in {elapsed:.0} s ({:.1}% of one core)", 100.0 * cpu / elapsed),
        None => println!("matcher CPU: not measurable here"),
    }
    Ok(())
}

/// A generated district of `registry` rows whose household registration holds `rows`
/// (the registry's people and everyone else), served over TLS on loopback, its job named
/// `<job>-<pid>`.
pub(crate) fn district_args(
    dir: PathBuf,
    registry: u64,
    rows: u64,
    reuse_data: bool,
    job: &str,
) -> crate::demo::DemoArgs {
    crate::demo::DemoArgs {
        dir: Some(dir),
        registry,
        population: rows.saturating_sub(registry),
        seed: 20190419,
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        agents_via: None,
        insecure_http: false,
        reuse_data,
        job: format!("{job}-{}", std::process::id()),
    }
}

/// A full-size district through the real binary: every department at `rows` rows.
fn district(dir: PathBuf, registry: u64, rows: u64, reuse_data: bool) -> anyhow::Result<()> {
    // A worksheet holds at most 1,048,576 rows: departments exporting .xlsx stop at a million.
    let departments: Vec<_> = bidui_synth::LAYOUTS
        .iter()
        .filter(|l| l.department != bidui_synth::Department::Household)
        .map(|l| (l.department, if l.format == "xlsx" { rows.min(1_000_000) } else { rows }))
        .collect();
    let args = district_args(dir, registry, rows, reuse_data, "bench");
    let run = crate::demo::run_district(&args, &departments)?;
    println!(
        "\nbidui bench district: registry {registry}, CSV departments of ~{rows} rows, xlsx ones of at most 1,000,000"
    );
    println!("synth: {:.1} s; job (create → results): {:.1} s", run.synth_seconds, run.job_seconds);
    println!(
        "matcher peak memory: {} MiB; CPU during the job: {} s",
        run.matcher_peak_kib.map_or("?".into(), |k| (k / 1024).to_string()),
        run.matcher_job_cpu_seconds.map_or("?".into(), |s| format!("{s:.1}"))
    );
    println!(
        "{:<18} {:>9} {:>9} {:>12} {:>10} {:>10}",
        "agent", "rows", "upload s", "rows/CPU-s", "bytes/rec", "peak MiB"
    );
    let mut tokens = 0;
    for agent in &run.agents {
        tokens += agent.records_sent;
        let rate = if agent.upload_cpu_seconds > 0.0 { agent.rows_read as f64 / agent.upload_cpu_seconds } else { 0.0 };
        let peak = agent.peak_memory_kib.map_or("?".into(), |k| (k / 1024).to_string());
        let per_record = agent.bytes_sent as f64 / agent.records_sent.max(1) as f64;
        println!(
            "{:<18} {:>9} {:>9.2} {:>12.0} {:>10.0} {:>10}",
            agent.party, agent.rows_read, agent.upload_seconds, rate, per_record, peak
        );
    }
    println!(
        "token records ingested by the matcher: {tokens} ({:.0} per second of job time)",
        tokens as f64 / run.job_seconds
    );
    Ok(())
}

/// Seconds per stage over several runs, printed as the fastest and the median.
#[derive(Default)]
struct Stages(Vec<(&'static str, Vec<f64>)>);

impl Stages {
    fn time<T>(&mut self, stage: &'static str, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = work();
        let seconds = started.elapsed().as_secs_f64();
        match self.0.iter_mut().find(|(name, _)| *name == stage) {
            Some((_, times)) => times.push(seconds),
            None => self.0.push((stage, vec![seconds])),
        }
        out
    }

    fn print(mut self) {
        println!("{:<28} {:>10} {:>10}", "stage", "min s", "median s");
        for (stage, times) in &mut self.0 {
            times.sort_by(f64::total_cmp);
            println!("{stage:<28} {:>10.3} {:>10.3}", times[0], times[times.len() / 2]);
        }
    }
}

fn report(
    results_path: &std::path::Path,
    invalid_rows: Option<&std::path::Path>,
    out: Option<PathBuf>,
    runs: usize,
) -> anyhow::Result<()> {
    use bidui_report::{export, html, xlsx};
    let temporary = out.is_none();
    let dir = out.unwrap_or_else(|| std::env::temp_dir().join(format!("bidui-bench-report-{}", std::process::id())));
    std::fs::create_dir_all(&dir)?;
    let options = bidui_report::Options {
        invalid_rows: invalid_rows.map(crate::report::read_invalid_rows).transpose()?,
        ..bidui_report::Options::default()
    };
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes);
    let mut stages = Stages::default();
    let mut summary = String::new();
    for _ in 0..runs.max(1) {
        let results = stages.time("read results.json", || bidui_report::load_results(results_path))?;
        let set = stages.time("derive", || bidui_report::derive(&results, &options))?;
        // Each writer alone, then the whole report as `report build` writes it.
        let entries = stages.time("registry entries", || bidui_report::registry_entries(&results));
        let towns = stages.time("town workbooks", || {
            xlsx::write_town_workbooks(&set, &dir.join(bidui_report::TOWNS_DIR), entries.as_ref())
        })?;
        stages.time("results.json", || export::write_results_json(&results, &dir.join(bidui_report::RESULTS_FILE)))?;
        stages.time("results.csv", || write(bidui_report::RESULTS_CSV, export::results_csv(&results)))?;
        stages.time("problems.json", || write(bidui_report::PROBLEMS_FILE, export::problems_json(&set)))?;
        stages.time("problems.csv", || write(bidui_report::PROBLEMS_CSV, export::problems_csv(&set)))?;
        stages
            .time("summary.html", || write(bidui_report::SUMMARY_FILE, html::summary(&set, None, None).into_bytes()))?;
        stages.time("whole report (derive+write)", || {
            bidui_report::derive_and_write(&results, &options, None, None, &dir)
        })?;
        summary = format!(
            "{} registry rows, {} problems, {} town workbooks",
            results.rows.len(),
            set.problems.len(),
            towns.len()
        );
    }
    println!("bidui bench report: {} ({summary})", results_path.display());
    stages.print();
    if temporary {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// A token that looks random (the join hashes its first bytes), the same for the same
/// person, department group and purpose on both sides.
fn person_token(group: usize, person: u32, purpose: u8) -> bidui_core::Token {
    let mut message = [0u8; 9];
    message[0] = purpose;
    message[1..5].copy_from_slice(&(group as u32).to_le_bytes());
    message[5..].copy_from_slice(&person.to_le_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &message);
    bidui_core::Token(digest.as_ref()[..16].try_into().expect("16 bytes"))
}

fn decode<'a>(bytes: &'a [u8], layout: &bidui_core::wire::Layout) -> bidui_core::wire::Chunk<'a> {
    bidui_core::wire::Chunk::decode(bytes, layout, 0).expect("a chunk just encoded")
}

fn results(registry: u32, rows: u32, runs: usize) -> anyhow::Result<()> {
    use bidui_agent::open::{Openers, RegistryCells, RegistryColumns};
    use bidui_agent::source::{Source, SourceSpec};
    use bidui_core::api::{Attribute, DepartmentSpec, JobSpec, RequesterSpec};
    use bidui_core::fieldseal::{seal_values, SealContext, SealKind};
    use bidui_core::wire::{encode_chunk, Layout, TokenGroup, TokenRecord, ABSENT};
    use bidui_matcher::matching::{DepartmentJoin, RegistryIndex};
    use bidui_matcher::results::{DepartmentSeal, ResultInputs};
    const DEPARTMENTS: usize = 7;
    const CHUNK_RECORDS: u32 = 16_384;
    let (id, qid, attr) = (0u8, 1u8, 2u8);
    let compare = vec![Attribute::Name, Attribute::Sex, Attribute::BirthDate];
    let attributes = Attribute::expand(&compare).len();
    let fields: Vec<String> = (0..3).map(|f| format!("field{f}")).collect();
    // The registry's people have real identity numbers, so that the requester can open the
    // values sealed to them.
    let epoch = KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([7; 32]));
    let ids = synthetic_ids(registry as usize);
    let spec = JobSpec {
        id: "results".into(),
        purpose: "bench".into(),
        approval: "bench".into(),
        epoch: epoch.key_check_value(),
        suite: Suite::HmacSha256,
        requester: RequesterSpec { party: "registry".into(), fields: vec![], max_records: u64::from(registry) },
        departments: (0..DEPARTMENTS)
            .map(|d| DepartmentSpec {
                party: format!("department-{d}"),
                compare: compare.clone(),
                fields: fields.clone(),
                max_records: u64::from(rows),
            })
            .collect(),
        rules: Vec::new(),
        retention_hours: None,
        profile: None,
    };
    // The registry: one person per row, but 2% of rows without a valid number and every
    // 200th row the person of the row before (a duplicate).
    let person_of = |row: u32| if row.is_multiple_of(200) { row - 1 } else { row };
    let valid = |row: u32| row % 50 != 7;
    let registry_layout = Layout { groups: vec![attributes; DEPARTMENTS], sealed: false };
    let registry_chunks: Vec<Vec<u8>> = (0..registry.div_ceil(CHUNK_RECORDS))
        .map(|c| {
            let records: Vec<TokenRecord> = ((c * CHUNK_RECORDS + 1)..=((c + 1) * CHUNK_RECORDS).min(registry))
                .map(|row| {
                    let person = person_of(row);
                    let groups = (0..DEPARTMENTS)
                        .map(|g| TokenGroup {
                            id: if valid(row) { person_token(g, person, id) } else { ABSENT },
                            qid: person_token(g, person, qid),
                            attrs: (0..attributes).map(|k| person_token(g, person, attr + k as u8)).collect(),
                        })
                        .collect();
                    TokenRecord { row, groups, sealed: None }
                })
                .collect();
            encode_chunk(&registry_layout, &records)
        })
        .collect();
    // Each department: its first rows are registry people (a share of the registry like the
    // demo district's departments), one attribute in 20 differs; the rest are strangers.
    // Every row seals values: a registry person's under its identity number (those under
    // the quasi-identifier, and strangers', are random bytes: they do not open).
    const SHARES: [u32; DEPARTMENTS] = [95, 73, 92, 8, 3, 2, 75];
    let department_layout = Layout { groups: vec![attributes], sealed: true };
    let rng = ring::rand::SystemRandom::new();
    let random = |len: usize| {
        let mut bytes = vec![0u8; len];
        ring::rand::SecureRandom::fill(&rng, &mut bytes).expect("randomness");
        bytes
    };
    let department_chunks: Vec<Vec<Vec<u8>>> = (0..DEPARTMENTS)
        .map(|d| {
            let people: Vec<u32> =
                (1..=registry).filter(|p| (p.wrapping_mul(2_654_435_761) >> 7) % 100 < SHARES[d]).collect();
            let pair = spec.pair(&spec.departments[d].party);
            let seal_key = epoch.pair_keys(&pair).field_seal;
            let context = SealContext { pair, fields: &fields };
            (0..rows.div_ceil(CHUNK_RECORDS))
                .map(|c| {
                    let records: Vec<TokenRecord> = ((c * CHUNK_RECORDS + 1)..=((c + 1) * CHUNK_RECORDS).min(rows))
                        .map(|row| {
                            let group = match people.get(row as usize - 1) {
                                Some(&person) => TokenGroup {
                                    id: person_token(d, person, id),
                                    qid: person_token(d, person, qid),
                                    attrs: (0..attributes)
                                        .map(|k| {
                                            let differs = (person + k as u32).is_multiple_of(20);
                                            person_token(d, person, attr + k as u8 + if differs { 100 } else { 0 })
                                        })
                                        .collect(),
                                },
                                None => TokenGroup {
                                    id: bidui_core::Token(random(16).try_into().expect("16 bytes")),
                                    qid: bidui_core::Token(random(16).try_into().expect("16 bytes")),
                                    attrs: (0..attributes)
                                        .map(|_| bidui_core::Token(random(16).try_into().expect("16 bytes")))
                                        .collect(),
                                },
                            };
                            // Sealed values of three short fields: nonce, one pad block, tag.
                            let by_id = match people.get(row as usize - 1) {
                                Some(&person) => {
                                    let values: Vec<String> = (0..3).map(|f| format!("{d}-{row}-{f}")).collect();
                                    let values: Vec<Option<&str>> = values.iter().map(|v| Some(v.as_str())).collect();
                                    let id = bidui_core::token::id_message(&ids[person as usize - 1]);
                                    seal_values(&seal_key, SealKind::Id, &id, &context, row, &values)
                                        .expect("three short values seal")
                                }
                                None => random(12 + 64 + 16),
                            };
                            let sealed = Some((by_id, random(12 + 64 + 16)));
                            TokenRecord { row, groups: vec![group], sealed }
                        })
                        .collect();
                    encode_chunk(&department_layout, &records)
                })
                .collect()
        })
        .collect();
    let seals: std::collections::BTreeMap<String, DepartmentSeal> = spec
        .departments
        .iter()
        .map(|d| (d.party.clone(), DepartmentSeal { sealed_fields: fields.clone(), refused: Vec::new() }))
        .collect();
    // The results stored as the matcher stores them (its database settings).
    let db_dir = std::env::temp_dir().join(format!("bidui-bench-results-{}", std::process::id()));
    std::fs::create_dir_all(&db_dir)?;
    // The requester's registry as a CSV file of identity numbers (a placeholder where the
    // row has no valid one), which it reads again to open its results.
    let registry_csv = db_dir.join("registry.csv");
    let mut csv = String::from("身份证号\n");
    for row in 1..=registry {
        csv.push_str(if valid(row) { ids[person_of(row) as usize - 1].as_str() } else { "无" });
        csv.push('\n');
    }
    std::fs::write(&registry_csv, csv)?;
    let registry_columns = RegistryColumns {
        person: bidui_agent::tokenize::ColumnIndex { id: 0, name: None, sex: None, birth_date: None },
        fields: Vec::new(),
    };
    let today = crate::clock::today_in_china();
    let store = bidui_matcher::store::Store::create(&db_dir.join("matcher.db"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let mut stages = Stages::default();
    let mut figures = String::new();
    for run in 0..runs.max(1) {
        let index = stages.time("registry index", || {
            let mut index = RegistryIndex::new(DEPARTMENTS);
            for chunk in &registry_chunks {
                index.add_chunk(&decode(chunk, &registry_layout), &registry_layout);
            }
            index
        });
        // Every department at once, as the matcher joins them (on blocking threads).
        let departments = stages.time("department joins", || {
            std::thread::scope(|scope| {
                let joins: Vec<_> = spec
                    .departments
                    .iter()
                    .enumerate()
                    .zip(&department_chunks)
                    .map(|((group, department), chunks)| {
                        let index = &index;
                        let department_layout = &department_layout;
                        scope.spawn(move || {
                            let mut join = DepartmentJoin::new(index, group, Attribute::expand(&department.compare));
                            for chunk in chunks {
                                join.add_chunk(&decode(chunk, department_layout));
                            }
                            (department.party.clone(), join.result)
                        })
                    })
                    .collect();
                joins.into_iter().map(|j| j.join().expect("a join thread")).collect()
            })
        });
        // A job of its own per run, as the matcher writes each job's results once.
        let inputs = ResultInputs {
            spec: bidui_core::api::JobSpec { id: format!("results-{run}"), ..spec.clone() },
            index: std::sync::Arc::new(index),
            departments,
            seals: seals.clone(),
            registry_rows_read: u64::from(registry),
            invalid_ids: Default::default(),
        };
        let results = stages.time("results::build (in memory, whole)", || bidui_matcher::results::build(&inputs));
        // As the matcher does after the last seal: the parts built on every core and stored
        // as each is done, then the head.
        let job = inputs.spec.id.clone();
        let tally = stages.time("results built and stored, by parts", || {
            runtime.block_on(async {
                let (head, tally) = bidui_matcher::jobs::store_results(&store, inputs)
                    .await
                    .map_err(|failure| anyhow::anyhow!("results: {failure:?}"))?;
                let j = job.clone();
                store.transaction(move |tx| bidui_matcher::store::save_results_head(tx, &j, &head)).await?;
                anyhow::Ok(tally)
            })
        })?;
        let body = stages.time("results read back whole", || {
            runtime.block_on(store.call(move |c| bidui_matcher::results::stored_document(c, &job)))
        })?;
        let body = body.expect("results stored");
        figures = format!(
            "{} registry rows, {} sealed values forwarded, {:.1} MB of JSON",
            results.rows.len(),
            tally.sealed_values,
            body.len() as f64 / 1e6
        );
        // The requester's side: the fetched results parsed, its registry read again, then
        // every row's values opened with its person, as its agent does.
        let fetched = stages.time("requester parse", || serde_json::from_str::<bidui_core::api::JobResults>(&body))?;
        assert_eq!(fetched.rows, results.rows, "the stored results are the results built");
        let cells = stages.time("requester: registry read again (CSV)", || {
            let mut source = Source::open(&SourceSpec::new(&registry_csv))?;
            anyhow::Ok(RegistryCells::read(&mut source, &registry_columns))
        })?;
        let (unopened, opened) = stages.time("requester open (every core)", || {
            let openers = Openers::new(&epoch, &spec, &fetched.sealed_fields);
            let mut opened = fetched;
            let unopened = bidui_agent::open::complete(&mut opened, &cells, &registry_columns, &openers, today);
            (unopened, opened)
        });
        // The agent frees the results on a thread of their own, after writing them.
        drop(opened);
        figures.push_str(&format!(", {unopened} not opened (the probable matches')"));
    }
    println!("bidui bench results: registry {registry}, {DEPARTMENTS} departments of {rows} rows: {figures}");
    stages.print();
    drop(store);
    std::fs::remove_dir_all(&db_dir)?;
    Ok(())
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
        let pair = bidui_core::PairDomain { job: "bench", requester: "veterans", department: "household" };
        let keys = KeyEpoch::new(suite, secret.clone()).pair_keys(&pair).tokens;
        let start = Instant::now();
        let mut fold = 0u8;
        for id in &ids {
            fold ^= black_box(keys.id_token(id)).0[0];
        }
        black_box(fold);
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{:<12} {:>8} {:>10.3} {:>12.0}  one at a time",
            suite.name(),
            ids.len(),
            seconds,
            ids.len() as f64 / seconds
        );
        // As the agent computes them: queued in a batch per few thousand rows.
        let start = Instant::now();
        let mut batch = bidui_core::TokenBatch::new();
        for rows in ids.chunks(4096) {
            batch.clear();
            let slots: Vec<_> = rows.iter().map(|id| keys.queue_id_token(&mut batch, id)).collect();
            batch.compute();
            slots.iter().for_each(|&slot| fold ^= batch.run(slot, 1)[0].0[0]);
        }
        black_box(fold);
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{:<12} {:>8} {:>10.3} {:>12.0}  batched",
            suite.name(),
            ids.len(),
            seconds,
            ids.len() as f64 / seconds
        );
    }
    Ok(())
}
