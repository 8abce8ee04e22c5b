//! `bidui bench ingest` and `bidui bench province`: token records through a real matcher on
//! loopback, from the first chunk to the job's results, with the matcher's CPU, memory and
//! disk. The tokens are made up (no agent reads a file): what is measured is the matcher.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use bidui_core::api::{Attribute, DepartmentSpec, JobSpec, JobState, JobStatus, RequesterSpec, SealRequest, SignedJob};
use bidui_core::custody::PrincipalRole;
use bidui_core::wire::{encode_record, ChunkBuilder, Layout, CHUNK_BYTES_TARGET, MAX_CHUNK_RECORDS};
use bidui_core::{Suite, Token};

/// What to push through the matcher.
pub struct IngestPlan {
    pub registry: u32,
    /// Records per department.
    pub departments: Vec<u64>,
    /// HTTPS with the demo's test certificate (as deployed) rather than plain HTTP.
    pub tls: bool,
}

const EPOCH: &str = "0123456789abcdef";
const JOB: &str = "ingest";

/// Made-up tokens at a few nanoseconds each (SplitMix64), so the generator does not
/// compete with the matcher for the cores.
struct SplitMix(u64);

impl SplitMix {
    fn token(&mut self) -> Token {
        let mut token = [0u8; 16];
        token[..8].copy_from_slice(&bidui_synth::splitmix64(&mut self.0).to_le_bytes());
        token[8..].copy_from_slice(&bidui_synth::splitmix64(&mut self.0).to_le_bytes());
        Token(token)
    }
}

/// Registry row `row`'s tokens of department group `group`: the same whoever asks, so a
/// department's generator can carry them and the join finds real matches.
fn registry_tokens(row: u32, group: usize, attributes: usize) -> Vec<Token> {
    let mut rng = SplitMix((u64::from(row) << 8) ^ group as u64 ^ 0x5eed);
    (0..2 + attributes).map(|_| rng.token()).collect()
}

/// The chunks of one party, made one at a time as they are sent.
struct Chunks {
    layout: Layout,
    total: u64,
    next_row: u64,
    per_chunk: u64,
    rng: SplitMix,
    /// For a department: its group, and the registry size whose rows it carries one of
    /// every `stride` records.
    matches: Option<(usize, u32, u64)>,
}

impl Iterator for Chunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.next_row >= self.total {
            return None;
        }
        let mut builder = ChunkBuilder::new(&self.layout);
        let mut record = Vec::with_capacity(4 + 16 * self.layout.token_count());
        let mut tokens = Vec::with_capacity(self.layout.token_count());
        let end = (self.next_row + self.per_chunk).min(self.total);
        for index in self.next_row..end {
            tokens.clear();
            match self.matches {
                Some((group, registry, stride)) if index % stride == 0 && index / stride < u64::from(registry) => {
                    tokens.extend(registry_tokens((index / stride) as u32 + 1, group, self.layout.groups[0]));
                }
                Some(_) => tokens.extend((0..self.layout.token_count()).map(|_| self.rng.token())),
                None => {
                    for (group, &attributes) in self.layout.groups.iter().enumerate() {
                        tokens.extend(registry_tokens(index as u32 + 1, group, attributes));
                    }
                }
            }
            record.clear();
            encode_record(index as u32 + 1, &tokens, None, &mut record);
            builder.push_encoded(&record);
        }
        self.next_row = end;
        Some(builder.finish())
    }
}

/// Uploads a party's chunks in order and seals them; returns the bytes sent.
fn upload(client: &bidui_client::Client, chunks: Chunks) -> anyhow::Result<u64> {
    let records = chunks.total;
    let mut digests = ring::digest::Context::new(&ring::digest::SHA256);
    let (mut count, mut bytes) = (0u32, 0u64);
    // Made on a thread of its own, two ahead, so making one overlaps sending the last.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(move || {
            for chunk in chunks {
                if sender.send(chunk).is_err() {
                    break;
                }
            }
        });
        for chunk in receiver {
            let digest = ring::digest::digest(&ring::digest::SHA256, &chunk);
            digests.update(digest.as_ref());
            bytes += chunk.len() as u64;
            let sha256: [u8; 32] = digest.as_ref().try_into().expect("a SHA-256 digest");
            client.put_hashed_bytes(
                &format!("/v2/jobs/{JOB}/submission/chunks/{count}?epoch={EPOCH}"),
                chunk,
                &sha256,
            )?;
            count += 1;
        }
        Ok(())
    })?;
    let seal = SealRequest {
        epoch: EPOCH.into(),
        chunks: count,
        records,
        digest: hex::encode(digests.finish()),
        rows_read: records,
        invalid_ids: Default::default(),
        sealed_fields: Vec::new(),
        refused: Vec::new(),
    };
    client.post(&format!("/v2/jobs/{JOB}/submission/seal"), &seal)?;
    Ok(bytes)
}

fn files_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => files_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

pub fn run(dir: &Path, plan: &IngestPlan) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let matcher_dir = dir.join("matcher");
    if matcher_dir.exists() {
        std::fs::remove_dir_all(&matcher_dir).context("removing the last run's matcher")?;
    }
    std::fs::create_dir_all(&matcher_dir)?;
    let database = matcher_dir.join("matcher.db");
    let departments: Vec<String> = (0..plan.departments.len()).map(|d| format!("department-{d}")).collect();
    let key = |name: &str| matcher_dir.join(format!("{name}.key"));
    bidui_matcher::init_database(&database)?;
    let operator = bidui_client::Identity::create(&key("operator"))?;
    bidui_matcher::enroll(&database, "operator", PrincipalRole::Operator, &operator.public_key())?;
    for party in std::iter::once("registry").chain(departments.iter().map(String::as_str)) {
        let identity = bidui_client::Identity::create(&key(party))?;
        bidui_matcher::enroll(&database, party, PrincipalRole::Agent, &identity.public_key())?;
    }
    let exe = std::env::current_exe()?;
    let tls = if plan.tls { Some(crate::demo::test_certificate(&matcher_dir, "127.0.0.1:0".parse()?)?) } else { None };
    let matcher = crate::demo::start_matcher_with(&exe, &matcher_dir, "127.0.0.1:0".parse()?, tls.as_ref())?;
    let client = |party: &str| -> anyhow::Result<bidui_client::Client> {
        let trust = tls.as_ref().map(|files| bidui_client::MatcherTrust::pinned_certificate(&files.certificate));
        Ok(bidui_client::Client::with_trust(
            &matcher.url,
            party,
            bidui_client::Identity::load(&key(party))?,
            trust.transpose()?,
        )?)
    };
    let spec = JobSpec {
        id: JOB.into(),
        purpose: "bench".into(),
        approval: "bench".into(),
        epoch: EPOCH.into(),
        suite: Suite::HmacSha256,
        requester: RequesterSpec { party: "registry".into(), fields: vec![], max_records: u64::from(plan.registry) },
        departments: departments
            .iter()
            .zip(&plan.departments)
            .map(|(party, &records)| DepartmentSpec {
                party: party.clone(),
                compare: vec![Attribute::Name],
                fields: vec![],
                max_records: records,
            })
            .collect(),
        rules: Vec::new(),
        retention_hours: None,
        profile: None,
    };
    let signed = SignedJob::sign_with(&spec, "operator", |payload| operator.sign(payload));
    let operator = client("operator")?;
    operator.post("/v2/jobs", &signed)?;
    let chunks_of = |party: &str, total: u64, matches| {
        let layout = spec.layout(party).expect("a party of the job");
        let per_chunk = (CHUNK_BYTES_TARGET / (4 + 16 * layout.token_count())).min(MAX_CHUNK_RECORDS) as u64;
        Chunks { layout, total, next_row: 0, per_chunk, rng: SplitMix(total ^ 0xdead_beef), matches }
    };

    let pid = matcher.child.id();
    let (cpu_before, client_before, started) =
        (bidui_probe::cpu_seconds_of(pid), bidui_probe::cpu_seconds(), Instant::now());
    upload(&client("registry")?, chunks_of("registry", u64::from(plan.registry), None))?;
    let registry_seconds = started.elapsed().as_secs_f64();
    // The departments start once the registry is indexed, as when they read their larger
    // files for longer than the registry takes: every chunk is then joined on arrival.
    // Its index not fitting the matcher's budget, they go on after a minute.
    let log = matcher_dir.join("matcher.log");
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(60)
        && !std::fs::read_to_string(&log).unwrap_or_default().contains("registry indexed")
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let index_seconds = waited.elapsed().as_secs_f64();
    let index_kib = bidui_probe::peak_memory_kib_of(pid);
    let (uploaded, cpu_at_index) = (Instant::now(), bidui_probe::cpu_seconds_of(pid));
    let bytes: u64 = std::thread::scope(|scope| -> anyhow::Result<u64> {
        let uploads: Vec<_> = departments
            .iter()
            .zip(&plan.departments)
            .enumerate()
            .map(|(group, (party, &records))| {
                let stride = (records / u64::from(plan.registry.max(1))).max(1);
                let chunks = chunks_of(party, records, Some((group, plan.registry, stride)));
                let client = client(party);
                scope.spawn(move || upload(&client?, chunks))
            })
            .collect();
        uploads.into_iter().map(|u| u.join().expect("an upload thread")).sum()
    })?;
    let sealed = uploaded.elapsed().as_secs_f64();
    let cpu_at_seal = bidui_probe::cpu_seconds_of(pid);
    let status = loop {
        let status: JobStatus = operator.get(&format!("/v2/jobs/{JOB}"))?;
        if status.state != JobState::Collecting {
            break status;
        }
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(failure) = logged.lines().find(|line| line.contains("join failed")) {
            anyhow::bail!("the matcher's join failed: {failure}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = uploaded.elapsed().as_secs_f64();
    anyhow::ensure!(status.state == JobState::Complete, "the job ended {:?}, not complete", status.state);
    let cpu = bidui_probe::cpu_seconds_of(pid).zip(cpu_before).map(|(after, before)| after - before);
    let client_cpu = bidui_probe::cpu_seconds().zip(client_before).map(|(after, before)| after - before);
    let peak = bidui_probe::peak_memory_kib_of(pid);
    let records: u64 = plan.departments.iter().sum();
    let disk = files_bytes(&matcher_dir);
    println!(
        "bidui bench ingest: registry {} rows; {} department(s), {records} token records (5 tokens each) over {}",
        plan.registry,
        plan.departments.len(),
        if plan.tls { "HTTPS" } else { "plain HTTP" },
    );
    println!(
        "registry uploaded and sealed: {registry_seconds:.2} s; indexed {index_seconds:.2} s later (matcher then at {} MiB)",
        index_kib.map_or("?".into(), |k| (k / 1024).to_string())
    );
    println!(
        "departments: {:.2} s to the last seal, {seconds:.2} s to the results: {:.2} M records/s ({:.0} MB/s of chunks)",
        sealed,
        records as f64 / seconds / 1e6,
        bytes as f64 / seconds / 1e6
    );
    let all = (records + u64::from(plan.registry)) as f64;
    match cpu {
        Some(cpu) => println!("matcher CPU: {cpu:.2} s, {:.0} ns per record in all", cpu * 1e9 / all),
        None => println!("matcher CPU: not measurable here"),
    }
    if let (Some(before), Some(at_index), Some(at_seal), Some(cpu)) = (cpu_before, cpu_at_index, cpu_at_seal, cpu) {
        let departments = at_seal - at_index;
        println!(
            "  registry upload and index {:.2} s; departments to their last seal {departments:.2} s, {:.0} ns per \
             record: {:.1} M records/s per core; the join's end and the results {:.2} s",
            at_index - before,
            departments * 1e9 / records.max(1) as f64,
            records as f64 / departments / 1e6,
            cpu - (at_seal - before)
        );
    }
    if let Some(client) = client_cpu {
        println!(
            "the parties' CPU on the same cores (making, hashing, signing and sending chunks): {client:.2} s, {:.0} ns per record",
            client * 1e9 / all
        );
    }
    println!("matcher peak memory: {} MiB", peak.map_or("?".into(), |k| (k / 1024).to_string()));
    let connection = bidui_matcher::store::open_read_only(&database)?;
    let (chunks, results) = bidui_matcher::store::job_footprint(&connection, JOB)?;
    let registry_bytes = chunks.iter().filter(|(party, _)| party == "registry").map(|(_, b)| b).sum::<u64>();
    let department_bytes = chunks.iter().filter(|(party, _)| party != "registry").map(|(_, b)| b).sum::<u64>();
    println!(
        "matcher files after the job: {:.1} MB (database, WAL and its index); in them the registry's tokens {:.1} MB, \
         the results {:.1} MB ({:.0} bytes per registry row), and the departments' chunks {:.1} MB: {:.2} bytes per \
         department record (whose tokens are {} bytes)",
        disk as f64 / 1e6,
        registry_bytes as f64 / 1e6,
        results as f64 / 1e6,
        results as f64 / f64::from(plan.registry.max(1)),
        department_bytes as f64 / 1e6,
        department_bytes as f64 / records.max(1) as f64,
        16 * 5
    );
    Ok(())
}

/// A province's departments: shares of all records after a district's (household
/// registration holds everyone, social security and medical insurance most of them).
pub fn province(registry: u32, records: u64) -> IngestPlan {
    const SHARES: [u64; 7] = [40, 20, 20, 8, 6, 4, 2];
    let total: u64 = SHARES.iter().sum();
    let mut departments: Vec<u64> = SHARES.iter().map(|share| records * share / total).collect();
    departments[0] += records - departments.iter().sum::<u64>();
    IngestPlan { registry, departments, tls: true }
}
