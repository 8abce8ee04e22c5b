//! `bidui bench compare`: bidui's whole job against a cryptographic peer from PyPI on the
//! same identity numbers, in the same run: OpenMined's ECDH PSI (`openmined.psi`) run by
//! `bench/psi_peer.py` in a virtual environment of its own under the bench folder.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use bidui_agent::config::AgentConfig;
use bidui_agent::source::{Source, SourceSpec};
use bidui_core::{CivilDate, IdNumber};
use bidui_synth::Department;
use serde::Deserialize;

/// The peer, pinned so that figures taken on different days compare.
const PEER_PACKAGE: &str = "openmined.psi==2.0.6";
/// The module the peer's package installs, imported to tell whether a venv is complete.
const PEER_MODULE: &str = "private_set_intersection.python";
/// Carried in the binary so that the bench runs from any folder.
const PEER_SCRIPT: &str = include_str!("../../bench/psi_peer.py");

/// The held-out-style district: the registry against household registration, and the PSI
/// peer between the registry's identity numbers (client) and the household's (server).
pub fn run(dir: PathBuf, registry: u64, rows: u64, reuse_data: bool) -> anyhow::Result<()> {
    let args = super::district_args(dir, registry, rows, reuse_data, "compare");
    // The agents and the matcher are child processes, waited for before this returns.
    let children_cpu = bidui_probe::children_cpu_seconds();
    let run = crate::demo::run_district_with(&args, &[], &[Department::Household])?;
    let job_cpu = bidui_probe::children_cpu_seconds().zip(children_cpu).map(|(after, before)| after - before);
    let log = std::fs::read_to_string(run.dir.join("matcher/matcher.log")).context("reading the matcher's log")?;
    let timeline = matcher_timeline(&log, &args.job);

    // The peer gets what bidui's agents tokenize: the valid numbers, canonical, distinct.
    let extract_started = Instant::now();
    let today = crate::clock::today_in_china();
    let client = identity_numbers_of(&run.dir.join("agents/veterans/agent.toml"), today)?;
    let server = identity_numbers_of(&run.dir.join("agents/household/agent.toml"), today)?;
    let extract_seconds = extract_started.elapsed().as_secs_f64();
    let in_both = intersection_size(&client.numbers, &server.numbers);

    let peer_dir = run.dir.join("psi");
    std::fs::create_dir_all(&peer_dir).with_context(|| format!("creating {}", peer_dir.display()))?;
    let (client_file, server_file, script) =
        (peer_dir.join("client.txt"), peer_dir.join("server.txt"), peer_dir.join("psi_peer.py"));
    write_lines(&client_file, &client.numbers)?;
    write_lines(&server_file, &server.numbers)?;
    std::fs::write(&script, PEER_SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let python = peer_python(&run.dir.join("psi-venv"))?;
    println!("PSI peer ({PEER_PACKAGE}): {} × {} identity numbers…", client.numbers.len(), server.numbers.len());
    let peer_started = Instant::now();
    let output = Command::new(&python)
        .arg(&script)
        .arg(&client_file)
        .arg(&server_file)
        .output()
        .with_context(|| format!("starting {}", python.display()))?;
    let peer_wall = peer_started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("the PSI peer failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let peer = parse_peer_output(&String::from_utf8_lossy(&output.stdout))?;

    let household_rows = run.agents.iter().find(|a| a.party == "household").map_or(0, |a| a.rows_read);
    let found = run.results.summary.found.get("household").copied().unwrap_or(0);
    println!("\nbidui bench compare: registry {registry} rows × household registration {household_rows} rows");
    println!("{:<44} {:>12} {:>12}", "", "registry", "household");
    println!("{:<44} {:>12} {:>12}", "rows read", client.rows, server.rows);
    println!(
        "{:<44} {:>12} {:>12}",
        "distinct valid identity numbers (PSI sets)",
        client.numbers.len(),
        server.numbers.len()
    );
    println!("intersection: PSI {} numbers; in the clear {in_both} numbers;", peer.intersection);
    println!(
        "  bidui: {found} registry rows found in household by number (a person on several rows counts each; \
         {} duplicate groups)",
        run.results.summary.duplicate_groups
    );
    println!(
        "\nbidui job (create → results.json, TLS, 2 agents, matcher): {:.3} s; {} CPU-s (agents and matcher, \
         whole processes)",
        run.job_seconds,
        job_cpu.map_or("?".into(), |cpu| format!("{cpu:.3}"))
    );
    println!("  {}", cpu_by_process(&run));
    print_timeline(&timeline, &run);
    println!("  report written after the job: {:.3} s", run.report_seconds);
    println!(
        "\nPSI peer (one process, both parties, one after the other; messages serialized): {:.3} s, {:.3} CPU-s",
        peer.seconds, peer.cpu_seconds
    );
    println!(
        "  setup {:.3} s ({} B), request {:.3} s ({} B), response {:.3} s ({} B), intersection {:.3} s",
        peer.stages.setup,
        peer.bytes.setup,
        peer.stages.request,
        peer.bytes.request,
        peer.stages.response,
        peer.bytes.response,
        peer.stages.intersection
    );
    println!(
        "  not counted: Python start and reading its sets {:.3} s; bidui's reading of both files for the sets {:.3} s",
        peer_wall - peer.seconds,
        extract_seconds
    );
    println!(
        "\nratio (PSI protocol s / bidui job s): {:.1}×; with bidui's report: {:.1}×; in CPU-s: {}",
        peer.seconds / run.job_seconds,
        peer.seconds / (run.job_seconds + run.report_seconds),
        job_cpu.map_or("?".into(), |cpu| format!("{:.1}×", peer.cpu_seconds / cpu))
    );
    // The server's setup message depends on the client's set only through its size: a
    // department could make it ahead of time, so the peer's online part is the fairer floor.
    let online = peer.seconds - peer.stages.setup;
    println!(
        "PSI online part alone (request, response, intersection; setup made ahead): {online:.3} s, {:.1}× bidui's job",
        online / run.job_seconds
    );
    Ok(())
}

fn print_timeline(timeline: &MatcherTimeline, run: &crate::demo::DistrictRun) {
    for agent in &run.agents {
        println!("  agent {:<12} read, tokenize and upload {:>8.3} s", agent.party, agent.upload_seconds);
    }
    let last_seal =
        timeline.sealed.iter().map(|(_, at)| *at).fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
    for (party, at) in &timeline.sealed {
        println!("  matcher: {party} sealed at {at:.3} s");
    }
    if let Some(join) = timeline.join_seconds {
        println!("  matcher: join, results built and stored {join:.3} s");
    }
    if let (Some(sealed), Some(ready), Some(delivered)) = (last_seal, timeline.results_ready, timeline.delivered) {
        println!("  matcher: last seal → results ready {:.3} s → delivered {:.3} s", ready - sealed, delivered - ready);
        println!("  requester: after delivery (open, write results.json, exit) {:.3} s", run.job_seconds - delivered);
    }
}

/// Where the job's CPU time went, process by process: on two shared cores, what the
/// matcher spends is time the department's agent does not get.
fn cpu_by_process(run: &crate::demo::DistrictRun) -> String {
    let seconds = |cpu: Option<f64>| cpu.map_or("?".into(), |s| format!("{s:.3}"));
    let agents = run.agents.iter().zip(&run.agent_cpu_seconds);
    let agents: Vec<String> = agents.map(|(a, cpu)| format!("agent {} {}", a.party, seconds(*cpu))).collect();
    format!("CPU-s by process: matcher {}; {}", seconds(run.matcher_job_cpu_seconds), agents.join("; "))
}

/// A source's identity column as the agent tokenizes it.
#[derive(Debug, PartialEq)]
struct IdentityNumbers {
    /// Data rows read (unreadable ones included).
    rows: u64,
    /// The valid numbers, canonical (18 characters), distinct, sorted.
    numbers: Vec<String>,
}

fn identity_numbers_of(agent_config: &Path, today: CivilDate) -> anyhow::Result<IdentityNumbers> {
    let config = AgentConfig::load(agent_config)?;
    identity_numbers(&config.source, &config.columns.id, today)
}

/// The distinct valid identity numbers of `source`'s column `id_column`, canonical as
/// `IdNumber::parse` gives them to the agent's tokenizer.
fn identity_numbers(source: &SourceSpec, id_column: &str, today: CivilDate) -> anyhow::Result<IdentityNumbers> {
    let mut source = Source::open(source)?;
    let columns = [Some(source.column(id_column)?)];
    let (mut rows, mut numbers) = (0, HashSet::new());
    let (mut cell, mut ends) = (String::new(), Vec::new());
    while let Some(read) = source.next_cells(&columns, &mut cell, &mut ends) {
        rows += 1;
        if read.is_ok() {
            if let Ok(id) = IdNumber::parse(&cell, today) {
                numbers.insert(id.as_str().to_owned());
            }
        }
        cell.clear();
        ends.clear();
    }
    let mut numbers: Vec<String> = numbers.into_iter().collect();
    numbers.sort_unstable();
    Ok(IdentityNumbers { rows, numbers })
}

fn intersection_size(a: &[String], b: &[String]) -> usize {
    let b: HashSet<&String> = b.iter().collect();
    a.iter().filter(|x| b.contains(x)).count()
}

fn write_lines(path: &Path, lines: &[String]) -> anyhow::Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The venv's Python with the peer installed: `python3 -m venv` and `pip install` when it
/// is missing or incomplete (an interrupted install), else reused.
fn peer_python(venv: &Path) -> anyhow::Result<PathBuf> {
    let python = venv.join("bin/python");
    let installed = |python: &Path| {
        Command::new(python).args(["-c", &format!("import {PEER_MODULE}")]).output().is_ok_and(|o| o.status.success())
    };
    if python.exists() && installed(&python) {
        return Ok(python);
    }
    println!("installing {PEER_PACKAGE} into {}…", venv.display());
    let step = |command: &mut Command, what: &str| -> anyhow::Result<()> {
        let output = command.output().with_context(|| format!("starting {what}"))?;
        if !output.status.success() {
            bail!(
                "{what} failed ({}); the peer needs python3 with venv and pip reaching PyPI: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    };
    step(Command::new("python3").args(["-m", "venv"]).arg(venv), "python3 -m venv")?;
    step(Command::new(&python).args(["-m", "pip", "install", "--quiet", PEER_PACKAGE]), "pip install")?;
    Ok(python)
}

/// What `bench/psi_peer.py` prints.
#[derive(Debug, Deserialize, PartialEq)]
struct PeerRun {
    peer: String,
    version: String,
    client_size: u64,
    server_size: u64,
    intersection: u64,
    /// The protocol's four steps, both parties.
    seconds: f64,
    cpu_seconds: f64,
    stages: PeerStages,
    bytes: PeerBytes,
}

#[derive(Debug, Deserialize, PartialEq)]
struct PeerStages {
    setup: f64,
    request: f64,
    response: f64,
    intersection: f64,
}

#[derive(Debug, Deserialize, PartialEq)]
struct PeerBytes {
    setup: u64,
    request: u64,
    response: u64,
}

/// The peer's result: its last non-empty line of output (anything a library prints before it is skipped).
fn parse_peer_output(stdout: &str) -> anyhow::Result<PeerRun> {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty()).context("the PSI peer printed nothing")?;
    let run: PeerRun =
        serde_json::from_str(line).with_context(|| format!("the PSI peer's output is not its JSON: {line}"))?;
    if run.intersection > run.client_size.min(run.server_size) {
        bail!("the PSI peer found {} numbers in common, more than a set holds: {line}", run.intersection);
    }
    Ok(run)
}

/// One job in the matcher's log, in seconds from its creation.
#[derive(Debug, Default, PartialEq)]
struct MatcherTimeline {
    /// Each party's seal, in the order logged.
    sealed: Vec<(String, f64)>,
    results_ready: Option<f64>,
    /// The join, results built and stored, as the matcher timed it.
    join_seconds: Option<f64>,
    delivered: Option<f64>,
}

/// Reads the matcher's JSON log lines (`timestamp`, `fields.message`, `fields.job`) of `job`.
fn matcher_timeline(log: &str, job: &str) -> MatcherTimeline {
    let mut timeline = MatcherTimeline::default();
    let mut created = None;
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let fields = &entry["fields"];
        let Some(at) = entry["timestamp"].as_str().and_then(seconds_of_day) else { continue };
        if fields["job"].as_str() != Some(job) {
            continue;
        }
        let message = fields["message"].as_str().unwrap_or_default();
        if message == "job created" {
            created = Some(at);
            continue;
        }
        let Some(created) = created else { continue };
        // A job that runs past midnight UTC.
        let since = if at < created { at + 86_400.0 } else { at } - created;
        match message {
            "submission sealed" => {
                timeline.sealed.push((fields["party"].as_str().unwrap_or("?").to_owned(), since));
            }
            "joined; results ready" => {
                timeline.results_ready = Some(since);
                timeline.join_seconds = fields["seconds"].as_f64();
            }
            "results delivered" => timeline.delivered = Some(since),
            _ => {}
        }
    }
    timeline
}

/// `2026-12-01T09:13:05.674163Z` → seconds since midnight.
fn seconds_of_day(timestamp: &str) -> Option<f64> {
    let time = timestamp.split_once('T')?.1.strip_suffix('Z')?;
    let mut parts = time.split(':');
    let (hours, minutes, seconds) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(hours.parse::<f64>().ok()? * 3600.0 + minutes.parse::<f64>().ok()? * 60.0 + seconds.parse::<f64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_output_is_read_from_its_last_line() {
        let stdout = "a warning from the library\n\
            {\"peer\": \"openmined.psi\", \"version\": \"2.0.6\", \"client_size\": 1000, \"server_size\": 3501, \
            \"intersection\": 500, \"seconds\": 1.13, \"cpu_seconds\": 1.1, \"stages\": {\"setup\": 0.7, \
            \"request\": 0.2, \"response\": 0.1, \"intersection\": 0.13}, \"read_seconds\": 0.001, \
            \"bytes\": {\"setup\": 18121, \"request\": 35002, \"response\": 35000}}\n\n";
        let run = parse_peer_output(stdout).unwrap();
        assert_eq!((run.client_size, run.server_size, run.intersection), (1000, 3501, 500));
        assert_eq!(run.seconds, 1.13);
        assert_eq!(run.stages.intersection, 0.13);
        assert_eq!(run.bytes.request, 35002);
        assert_eq!(run.peer, "openmined.psi");
        assert_eq!(run.version, "2.0.6");
    }

    #[test]
    fn a_peer_output_that_is_not_its_json_or_claims_too_much_is_refused() {
        assert!(parse_peer_output("").is_err());
        assert!(parse_peer_output("Traceback (most recent call last):\n").is_err());
        let too_many = "{\"peer\": \"p\", \"version\": \"1\", \"client_size\": 10, \"server_size\": 5, \
            \"intersection\": 6, \"seconds\": 1, \"cpu_seconds\": 1, \"stages\": {\"setup\": 0, \"request\": 0, \
            \"response\": 0, \"intersection\": 0}, \"bytes\": {\"setup\": 0, \"request\": 0, \"response\": 0}}";
        let error = parse_peer_output(too_many).unwrap_err().to_string();
        assert!(error.contains("more than a set holds"), "{error}");
    }

    #[test]
    fn the_peer_sets_are_the_valid_numbers_canonical_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("household.csv");
        // One person written three ways and as the old 15-digit number; a checksum typo, an
        // empty cell, and another person.
        std::fs::write(
            &path,
            "姓名,身份证号\n甲,11010519491231002X\n乙,11010519491231002x\n丙, 11010519491231002X \n\
             丁,110105491231002\n戊,110105194912310021\n己,\n庚,440183198001010011\n",
        )
        .unwrap();
        let today = CivilDate::new(2026, 12, 1).unwrap();
        let set = identity_numbers(&SourceSpec::new(&path), "身份证号", today).unwrap();
        assert_eq!(set.rows, 7);
        assert_eq!(set.numbers, ["11010519491231002X", "440183198001010011"]);
        let other = ["440183198001010011".to_owned(), "11010519491231003X".to_owned()];
        assert_eq!(intersection_size(&set.numbers, &other), 1);
    }

    #[test]
    fn the_matcher_timeline_is_read_for_the_job_only_in_seconds_from_its_creation() {
        let line = |time: &str, fields: &str| {
            format!("{{\"timestamp\":\"2026-12-01T{time}Z\",\"level\":\"INFO\",\"fields\":{{{fields}}},\"target\":\"t\"}}\n")
        };
        let log = [
            line("23:59:59.500000", "\"message\":\"job created\",\"job\":\"other\""),
            line("23:59:59.750000", "\"message\":\"job created\",\"job\":\"j\""),
            line("00:00:00.250000", "\"message\":\"submission sealed\",\"job\":\"j\",\"party\":\"household\""),
            line("00:00:00.300000", "\"message\":\"submission sealed\",\"job\":\"other\",\"party\":\"x\""),
            "not json\n".to_owned(),
            line("00:00:00.750000", "\"message\":\"joined; results ready\",\"job\":\"j\",\"rows\":3,\"seconds\":0.25"),
            line("00:00:01.000000", "\"message\":\"results delivered\",\"job\":\"j\""),
        ]
        .concat();
        let timeline = matcher_timeline(&log, "j");
        assert_eq!(timeline.sealed, [("household".to_owned(), 0.5)]);
        assert_eq!(timeline.join_seconds, Some(0.25));
        assert_eq!(timeline.results_ready, Some(1.0));
        assert_eq!(timeline.delivered, Some(1.25));
        assert_eq!(seconds_of_day("2026-12-01T01:02:03.5Z"), Some(3723.5));
        assert_eq!(seconds_of_day("01:02:03"), None);
    }
}
