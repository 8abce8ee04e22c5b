//! `bidui bench`: throughput measurements printed as figures, never asserted by tests.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use bidui_core::custody::PrincipalRole;
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
    /// Matcher ingest alone: signed chunk uploads of random tokens to a real matcher on
    /// loopback, then the seal and the join.
    Ingest {
        /// Folder for the matcher's database.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 3_000_000)]
        records: u32,
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
        BenchCommand::Agent { config, read_only, workers } => agent(&config, read_only, workers),
        BenchCommand::Ingest { dir, records } => ingest(&dir, records),
        BenchCommand::Wait { dir, agents, seconds } => wait(&dir, agents, seconds),
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
            let chunk = std::mem::replace(pending, ChunkBuilder::new(&layout)).finish();
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

fn ingest(dir: &std::path::Path, records: u32) -> anyhow::Result<()> {
    use bidui_core::api::{Attribute, DepartmentSpec, JobSpec, RequesterSpec, SealRequest, SignedJob};
    use bidui_core::wire::{encode_chunk, TokenGroup, TokenRecord};
    use ring::rand::SecureRandom;
    std::fs::create_dir_all(dir)?;
    let database = dir.join("matcher.db");
    let _ = std::fs::remove_file(&database);
    let (requester_key, department_key, operator_key) = (dir.join("r.key"), dir.join("d.key"), dir.join("o.key"));
    for key in [&requester_key, &department_key, &operator_key] {
        let _ = std::fs::remove_file(key);
    }
    let identities = [&requester_key, &department_key, &operator_key].map(|k| bidui_client::Identity::create(k));
    let [requester, department, operator] = identities;
    bidui_matcher::init_database(&database)?;
    bidui_matcher::enroll(&database, "registry", PrincipalRole::Agent, &requester?.public_key())?;
    bidui_matcher::enroll(&database, "department", PrincipalRole::Agent, &department?.public_key())?;
    let operator = operator?;
    bidui_matcher::enroll(&database, "operator", PrincipalRole::Operator, &operator.public_key())?;
    let matcher = crate::demo::start_matcher(&std::env::current_exe()?, dir, "127.0.0.1:0".parse()?)?;
    let epoch = "0123456789abcdef";
    let spec = JobSpec {
        id: "ingest".into(),
        purpose: "bench".into(),
        approval: "bench".into(),
        epoch: epoch.into(),
        suite: Suite::HmacSha256,
        requester: RequesterSpec { party: "registry".into(), fields: vec![], max_records: 30_000 },
        departments: vec![DepartmentSpec {
            party: "department".into(),
            compare: vec![Attribute::Name],
            fields: vec![],
            max_records: u64::from(records),
        }],
        rules: Vec::new(),
        retention_hours: None,
        profile: None,
    };
    let signed = SignedJob::sign_with(&spec, "operator", |payload| operator.sign(payload));
    let operator = bidui_client::Client::new(&matcher.url, "operator", operator);
    operator.post("/v2/jobs", &signed)?;
    let rng = ring::rand::SystemRandom::new();
    let random_token = || {
        let mut t = [0u8; 16];
        rng.fill(&mut t).expect("randomness");
        bidui_core::Token(t)
    };
    let upload = |party: &str, key: &std::path::Path, count: u32| -> anyhow::Result<f64> {
        let client = bidui_client::Client::new(&matcher.url, party, bidui_client::Identity::load(key)?);
        let chunk_records = 16_384u32;
        let chunks: Vec<Vec<u8>> = (0..count.div_ceil(chunk_records))
            .map(|c| {
                let rows = (c * chunk_records + 1)..=((c + 1) * chunk_records).min(count);
                let records: Vec<TokenRecord> = rows
                    .map(|row| TokenRecord {
                        row,
                        groups: vec![TokenGroup {
                            id: random_token(),
                            qid: random_token(),
                            attrs: (0..3).map(|_| random_token()).collect(),
                        }],
                        sealed: None,
                    })
                    .collect();
                encode_chunk(&bidui_core::wire::Layout { groups: vec![3], sealed: false }, &records)
            })
            .collect();
        let started = Instant::now();
        let mut digests = ring::digest::Context::new(&ring::digest::SHA256);
        for (seq, chunk) in chunks.iter().enumerate() {
            client.put_bytes(&format!("/v2/jobs/ingest/submission/chunks/{seq}?epoch={epoch}"), chunk)?;
            digests.update(ring::digest::digest(&ring::digest::SHA256, chunk).as_ref());
        }
        let seal = SealRequest {
            epoch: epoch.into(),
            chunks: chunks.len() as u32,
            records: u64::from(count),
            digest: hex::encode(digests.finish()),
            rows_read: u64::from(count),
            invalid_ids: Default::default(),
            sealed_fields: Vec::new(),
            refused: Vec::new(),
        };
        client.post("/v2/jobs/ingest/submission/seal", &seal)?;
        Ok(started.elapsed().as_secs_f64())
    };
    upload("registry", &requester_key, 30_000)?;
    let seconds = upload("department", &department_key, records)?;
    let peak = bidui_probe::peak_memory_kib_of(matcher.child.id());
    println!(
        "matcher ingest: {records} token records (5 tokens each) in {seconds:.2} s, \
         seal and join included: {:.0} records/s; matcher peak {} MiB",
        f64::from(records) / seconds,
        peak.map_or("?".into(), |k| (k / 1024).to_string())
    );
    Ok(())
}

/// A full-size district through the real binary: every department at `rows` rows.
fn district(dir: PathBuf, registry: u64, rows: u64, reuse_data: bool) -> anyhow::Result<()> {
    // A worksheet holds at most 1,048,576 rows: departments exporting .xlsx stop at a million.
    let departments: Vec<_> = bidui_synth::LAYOUTS
        .iter()
        .filter(|l| l.department != bidui_synth::Department::Household)
        .map(|l| (l.department, if l.format == "xlsx" { rows.min(1_000_000) } else { rows }))
        .collect();
    let args = crate::demo::DemoArgs {
        dir: Some(dir),
        registry,
        // Household registration holds the registry's people and everyone else.
        population: rows.saturating_sub(registry),
        seed: 20190419,
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        agents_via: None,
        insecure_http: false,
        reuse_data,
        job: format!("bench-{}", std::process::id()),
    };
    let run = crate::demo::run_district(&args, &departments)?;
    println!(
        "\nbidui bench district: registry {registry}, CSV departments of ~{rows} rows, xlsx ones of at most 1,000,000"
    );
    println!("synth: {:.1} s; job (create → results): {:.1} s", run.synth_seconds, run.job_seconds);
    println!("matcher peak memory: {} MiB", run.matcher_peak_kib.map_or("?".into(), |k| (k / 1024).to_string()));
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
