//! Crashes and bad input lose nothing: an agent killed half-way through its upload
//! resumes where it stopped, and a department file with broken rows reports each by row
//! number while the rest goes on. Runs on the district of `district.rs`, with its keys.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use bidui_core::api::{JobResults, JobStatus};

use crate::district::district;
use crate::{bidui_exe, printed, MatcherProcess};

fn bidui_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(bidui_exe());
    command.arg("--lang=en").args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn spawn_agent(config: &Path, job: &str, matcher: &str) -> Child {
    Command::new(bidui_exe())
        .args([
            "--lang=en",
            "agent",
            "run",
            "--chunk-records",
            "300",
            "--results-wait",
            "120",
            "--job",
            job,
            "--matcher",
            matcher,
            "--config",
        ])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_killed_upload_resumes_and_bad_rows_are_reported_by_number() {
    let d = district();
    let work = d.dir.join("resume");
    std::fs::create_dir_all(&work).unwrap();
    let matcher = MatcherProcess::start(&d.dir.join("matcher/matcher.db"), &["--insecure-http".as_ref()]);
    let url = matcher.http_url();
    let kcv = {
        let job = std::fs::read_to_string(d.dir.join("job.toml")).unwrap();
        job.lines().find_map(|l| l.strip_prefix("epoch = \"")).unwrap().trim_end_matches('"').to_owned()
    };
    let operator = work.join("operator.toml");
    std::fs::write(
        &operator,
        format!(
            "matcher = \"{}\"\nname = \"operator\"\nidentity_key = {:?}\nprofile = {:?}\n",
            url,
            d.dir.join("operator/operator.ed25519"),
            crate::lenient_profile(work.as_path()),
        ),
    )
    .unwrap();

    // Housing's file with two broken rows (invalid UTF-8 in rows 5 and 9). Its agent
    // reads the copy.
    let housing = std::fs::read(d.dir.join("data/housing.csv")).unwrap();
    let mut lines: Vec<Vec<u8>> = housing.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    lines[5].splice(0..0, *b"\xff\xfe");
    lines[9].splice(0..0, *b"\xc3\x28");
    let broken = work.join("housing-broken.csv");
    std::fs::write(&broken, lines.join(&b'\n')).unwrap();
    let housing_config = work.join("housing.toml");
    let config = std::fs::read_to_string(d.dir.join("agents/housing/agent.toml")).unwrap();
    let original = d.dir.join("data/housing.csv").to_string_lossy().into_owned();
    let home = d.dir.join("agents/housing");
    let config = config
        .replace(&format!("{original:?}"), &format!("{:?}", broken.to_string_lossy()))
        .replace("\"agent.ed25519\"", &format!("{:?}", home.join("agent.ed25519")))
        .replace("\"epoch-1.toml\"", &format!("{:?}", home.join("epoch-1.toml")))
        .replace("\"state\"", &format!("{:?}", work.join("housing-state")));
    std::fs::write(&housing_config, config).unwrap();

    let job = "resume-1";
    let write_job = |job: &str, housing_cap: u64| {
        let path = work.join(format!("{job}.toml"));
        std::fs::write(
            &path,
            format!(
            "id = \"{job}\"\npurpose = \"退役军人和其他优抚对象信息采集第二阶段数据比对\"\napproval = \"test\"\nepoch = \"{kcv}\"\n\
             [requester]\nparty = \"veterans\"\nfields = [\"town\"]\nmax_records = 2000\n\
             [[department]]\nparty = \"household\"\nmax_records = 10000\n\
             compare = [\"name\", \"sex\", \"birth_date\"]\nfields = [\"household_status\"]\n\
             [[department]]\nparty = \"housing\"\ncompare = [\"name\"]\nfields = [\"housing_type\", \"income\"]\n\
             max_records = {housing_cap}\n"
            ),
        )
        .unwrap();
        let created =
            bidui_with_env(&["job", "create", path.to_str().unwrap(), "--operator", operator.to_str().unwrap()], &[]);
        assert!(created.status.success(), "{}", printed(&created));
    };
    write_job(job, 10_000);

    // The household agent dies after its third chunk, the way a crash would stop it.
    let household_config = d.dir.join("agents/household/agent.toml");
    let household_args = [
        "agent",
        "run",
        "--chunk-records",
        "300",
        "--job",
        job,
        "--matcher",
        &url,
        "--config",
        household_config.to_str().unwrap(),
    ];
    let killed = bidui_with_env(&household_args, &[("BIDUI_TEST_ABORT_AFTER_CHUNKS", "3")]);
    assert!(!killed.status.success(), "the agent should have died: {}", printed(&killed));
    let status = job_status(&operator, job);
    let household = status.participants.iter().find(|p| p.party == "household").unwrap();
    assert_eq!((household.chunks, household.records, household.sealed), (3, 900, false));

    let agents = [household_config.clone(), d.dir.join("agents/veterans/agent.toml"), housing_config.clone()]
        .map(|c| spawn_agent(&c, job, &url));
    let outputs: Vec<Output> = agents.into_iter().map(|a| a.wait_with_output().unwrap()).collect();
    for output in &outputs {
        assert!(output.status.success(), "{}", printed(output));
    }
    assert!(printed(&outputs[0]).contains("3 already held"), "{}", printed(&outputs[0]));

    // The killed run remembered the job id before its first token, and the resume, the same
    // job, was let through without a second entry.
    let job_ids = d.dir.join("agents/household/state").join(bidui_agent::job_ids::RECORD_FILE);
    let record = std::fs::read_to_string(&job_ids).unwrap();
    let entries: Vec<&str> = record.lines().filter(|l| l.contains(&format!("\"job\":\"{job}\""))).collect();
    assert_eq!(entries.len(), 1, "{record}");
    // Had the agent tokenized a different job under this id and epoch, it would refuse the
    // job before computing a token.
    let other_job = entries[0].replace("\"spec_sha256\":\"", "\"spec_sha256\":\"0");
    std::fs::write(&job_ids, record.replace(entries[0], &other_job)).unwrap();
    let refused = bidui_with_env(&household_args, &[]);
    std::fs::write(&job_ids, &record).unwrap();
    assert!(!refused.status.success(), "{}", printed(&refused));
    assert!(printed(&refused).contains("reused job id"), "{}", printed(&refused));

    // Nothing lost, nothing duplicated: the resumed household submission holds every
    // record once, and finds exactly who the uninterrupted demo found.
    let status = job_status(&operator, job);
    let household = status.participants.iter().find(|p| p.party == "household").unwrap();
    let demo_household_records = d.results.summary.found["household"];
    // The requester's agent opened the results on its side; the operator gets the match
    // structure only.
    let results: JobResults = serde_json::from_slice(
        &std::fs::read(d.dir.join(format!("agents/veterans/state/{job}/results.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(results.summary.found["household"], demo_household_records);
    // In a folder of its own, to see that `job results` writes the one file its help names.
    let fetched_dir = work.join("fetched");
    std::fs::create_dir_all(&fetched_dir).unwrap();
    let out = fetched_dir.join("structure.json");
    let fetched = bidui_with_env(
        &["job", "results", job, "--operator", operator.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(fetched.status.success(), "{}", printed(&fetched));
    assert_eq!(std::fs::read_dir(&fetched_dir).unwrap().count(), 1, "one JSON file at --out, nothing else");
    let structure: JobResults = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(structure.summary, results.summary);
    assert!(structure.rows.iter().all(|r| r.fields.is_empty() && r.person.is_none()));
    assert!(structure
        .rows
        .iter()
        .flat_map(|r| r.departments.values())
        .all(|f| f.sealed.is_empty() && f.released.is_empty()));
    let household_rows = std::fs::read_to_string(d.dir.join("data/household.csv")).unwrap().lines().count() as u64 - 1;
    assert_eq!(household.rows_read, household_rows);
    let invalid: u64 = household.invalid_ids.values().sum();
    assert!(household.records + invalid >= household_rows && household.records <= household_rows, "{household:?}");

    // The broken housing rows are reported locally by number and reason; the rest went on.
    let report = std::fs::read_to_string(work.join(format!("housing-state/{job}/invalid-rows.csv"))).unwrap();
    let reported: Vec<&str> = report.lines().skip(1).collect();
    assert!(reported.iter().any(|l| l.starts_with("5,") && l.to_lowercase().contains("utf-8")), "{report}");
    assert!(reported.iter().any(|l| l.starts_with("9,") && l.to_lowercase().contains("utf-8")), "{report}");
    // Housing has no column for "income": it refuses it, says why, and keeps a record.
    let housing_out = printed(&outputs[2]);
    assert!(housing_out.contains("refused: income"), "{housing_out}");
    let log = std::fs::read_to_string(work.join("housing-state/release-log.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(entry["fields_refused"][0]["field"], "income", "{entry}");
    assert_eq!(entry["fields_sealed"], serde_json::json!(["housing_type"]));
    assert!(results.rows.iter().all(|r| !r.departments["housing"].released.contains_key("income")));
    let housing = status.participants.iter().find(|p| p.party == "housing").unwrap();
    assert!(housing.sealed && housing.records > 100, "{housing:?}");
    let demo_found = d.results.summary.found["housing"];
    let found = results.summary.found["housing"];
    assert!(found <= demo_found && found + 2 >= demo_found, "housing found {found}, demo {demo_found}");

    // A job that caps housing below its file: the agent stops before sealing, says why,
    // and the matcher holds no sealed submission of it.
    let capped = "resume-cap";
    write_job(capped, 100);
    let housing = spawn_agent(&housing_config, capped, &url).wait_with_output().unwrap();
    assert!(!housing.status.success(), "{}", printed(&housing));
    assert!(printed(&housing).contains("more than the 100 records"), "{}", printed(&housing));
    let status = job_status(&operator, capped);
    let housing = status.participants.iter().find(|p| p.party == "housing").unwrap();
    assert!(!housing.sealed && housing.records <= 100, "{housing:?}");
}

fn job_status(operator: &Path, job: &str) -> JobStatus {
    let output = bidui_with_env(&["job", "status", job, "--json", "--operator", operator.to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", printed(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A copy of `party`'s agent configuration reading `source` and keeping its state in
/// `state`, with the keys of the district's agent.
pub(crate) fn agent_reading(
    d: &crate::district::District,
    party: &str,
    source: &Path,
    state: &Path,
) -> std::path::PathBuf {
    let home = d.dir.join("agents").join(party);
    let config = std::fs::read_to_string(home.join("agent.toml")).unwrap();
    let original = config.lines().find_map(|l| l.strip_prefix("path = ")).unwrap().to_owned();
    let config = config
        .replace(&format!("path = {original}"), &format!("path = {:?}", source.to_string_lossy()))
        .replace("\"agent.ed25519\"", &format!("{:?}", home.join("agent.ed25519")))
        .replace("\"epoch-1.toml\"", &format!("{:?}", home.join("epoch-1.toml")))
        .replace("\"state\"", &format!("{:?}", state.to_string_lossy()));
    let path = state.with_extension("toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Jobs of the district's veterans with one department, created by its operator through
/// the matcher at `url`.
pub(crate) struct Jobs {
    operator: std::path::PathBuf,
    work: std::path::PathBuf,
    kcv: String,
}

impl Jobs {
    pub(crate) fn new(d: &crate::district::District, work: &Path, url: &str) -> Jobs {
        let kcv = {
            let job = std::fs::read_to_string(d.dir.join("job.toml")).unwrap();
            job.lines().find_map(|l| l.strip_prefix("epoch = \"")).unwrap().trim_end_matches('"').to_owned()
        };
        let operator = work.join("operator.toml");
        let key = d.dir.join("operator/operator.ed25519");
        let profile = crate::lenient_profile(work);
        std::fs::write(
            &operator,
            format!("matcher = \"{url}\"\nname = \"operator\"\nidentity_key = {key:?}\nprofile = {profile:?}\n"),
        )
        .unwrap();
        Jobs { operator, work: work.to_owned(), kcv }
    }

    /// The epoch's key check value the jobs name.
    pub(crate) fn kcv(&self) -> &str {
        &self.kcv
    }

    /// The operator's configuration (`operator.toml`) for this matcher.
    pub(crate) fn operator(&self) -> &Path {
        &self.operator
    }

    pub(crate) fn create(&self, job: &str, department: &str) {
        self.create_asking(job, department, &[]);
    }

    /// A job asking `department` for `fields`.
    pub(crate) fn create_asking(&self, job: &str, department: &str, fields: &[&str]) {
        let fields: Vec<String> = fields.iter().map(|f| format!("{f:?}")).collect();
        let path = self.work.join(format!("{job}.toml"));
        std::fs::write(
            &path,
            format!(
                "id = \"{job}\"\npurpose = \"退役军人和其他优抚对象信息采集第二阶段数据比对\"\napproval = \"test\"\n\
                 epoch = \"{}\"\n[requester]\nparty = \"veterans\"\nfields = [\"town\"]\nmax_records = 2000\n\
                 [[department]]\nparty = \"{department}\"\nmax_records = 10000\ncompare = [\"name\"]\nfields = [{}]\n",
                self.kcv,
                fields.join(", ")
            ),
        )
        .unwrap();
        let operator = self.operator.to_str().unwrap();
        let created = bidui_with_env(&["job", "create", path.to_str().unwrap(), "--operator", operator], &[]);
        assert!(created.status.success(), "{}", printed(&created));
    }

    pub(crate) fn participant(&self, job: &str, party: &str) -> bidui_core::api::ParticipantStatus {
        job_status(&self.operator, job).participants.into_iter().find(|p| p.party == party).unwrap()
    }
}

#[test]
fn a_source_changed_after_its_job_began_is_refused_and_nothing_wrong_is_sent() {
    let d = district();
    let work = d.dir.join("changed-source");
    std::fs::create_dir_all(&work).unwrap();
    let matcher = MatcherProcess::start(&d.dir.join("matcher/matcher.db"), &["--insecure-http".as_ref()]);
    let url = matcher.http_url();
    let jobs = Jobs::new(d, &work, &url);
    let run = |config: &Path, job: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["agent", "run", "--chunk-records", "300", "--job", job];
        args.extend_from_slice(&["--matcher", &url, "--config", config.to_str().unwrap()]);
        args.extend_from_slice(extra);
        if !extra.contains(&"--results-wait") {
            args.extend_from_slice(&["--results-wait", "1"]);
        }
        bidui_with_env(&args, env)
    };
    let participant = |job: &str, party: &str| jobs.participant(job, party);

    // The household file is shuffled after the agent died half-way: the rerun sends none of
    // the shuffled rows (they would carry other rows' numbers) and says what to do.
    let job = "changed-1";
    jobs.create(job, "household");
    let household_copy = work.join("household.csv");
    std::fs::copy(d.dir.join("data/household.csv"), &household_copy).unwrap();
    let household = agent_reading(d, "household", &household_copy, &work.join("household-state"));
    let killed = run(&household, job, &[], &[("BIDUI_TEST_ABORT_AFTER_CHUNKS", "2")]);
    assert!(!killed.status.success(), "{}", printed(&killed));
    let original = std::fs::read_to_string(&household_copy).unwrap();
    let mut lines: Vec<&str> = original.lines().collect();
    lines[1..].reverse();
    std::fs::write(&household_copy, lines.join("\n") + "\n").unwrap();
    let refused = run(&household, job, &[], &[]);
    assert!(!refused.status.success(), "{}", printed(&refused));
    assert!(printed(&refused).contains("not the file this job was tokenized from"), "{}", printed(&refused));
    let held = participant(job, "household");
    assert_eq!((held.chunks, held.sealed), (2, false), "nothing more was sent");
    // The requester's registry replaced between its upload and its results: the results name
    // rows of the registry it tokenized, so the agent refuses to open them with another.
    let registry_copy = work.join("registry.xlsx");
    std::fs::copy(d.dir.join("data/registry.xlsx"), &registry_copy).unwrap();
    let veterans = agent_reading(d, "veterans", &registry_copy, &work.join("veterans-state"));
    let waited = run(&veterans, job, &[], &[]);
    assert!(printed(&waited).contains("not ready"), "household has not sealed yet: {}", printed(&waited));
    assert!(participant(job, "veterans").sealed, "{}", printed(&waited));
    let registry = std::fs::read(&registry_copy).unwrap();
    std::fs::write(&registry_copy, std::fs::read(d.dir.join("data/household.csv")).unwrap()).unwrap();

    // The household file restored, its upload resumes where it stopped.
    std::fs::write(&household_copy, &original).unwrap();
    let resumed = run(&household, job, &[], &[]);
    assert!(resumed.status.success(), "{}", printed(&resumed));
    assert!(printed(&resumed).contains("2 already held"), "{}", printed(&resumed));

    let refused = run(&veterans, job, &["--results-wait", "60"], &[]);
    assert!(!refused.status.success(), "{}", printed(&refused));
    assert!(printed(&refused).contains("not the file this job was tokenized from"), "{}", printed(&refused));
    assert!(!work.join(format!("veterans-state/{job}/results.json")).exists());
    std::fs::write(&registry_copy, &registry).unwrap();
    let opened = run(&veterans, job, &["--results-wait", "60"], &[]);
    assert!(opened.status.success(), "{}", printed(&opened));
    assert!(work.join(format!("veterans-state/{job}/results.json")).exists());
    let log = std::fs::read_to_string(work.join("veterans-state/release-log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "one line per job, however many runs: {log}");

    // A department export with only its header does not seal without an explicit override.
    let job = "changed-2";
    jobs.create(job, "housing");
    let empty = work.join("housing-empty.csv");
    let housing = std::fs::read_to_string(d.dir.join("data/housing.csv")).unwrap();
    std::fs::write(&empty, format!("{}\n", housing.lines().next().unwrap())).unwrap();
    let housing = agent_reading(d, "housing", &empty, &work.join("housing-state"));
    let refused = run(&housing, job, &[], &[]);
    assert!(!refused.status.success(), "{}", printed(&refused));
    assert!(printed(&refused).contains("has no data rows"), "{}", printed(&refused));
    assert!(!participant(job, "housing").sealed);
    let accepted = run(&housing, job, &["--accept-few-readable"], &[]);
    assert!(accepted.status.success(), "{}", printed(&accepted));
    assert!(participant(job, "housing").sealed);
}

#[test]
fn an_agent_survives_a_matcher_restart_mid_upload() {
    let d = district();
    let work = d.dir.join("restart");
    std::fs::create_dir_all(&work).unwrap();
    let database = d.dir.join("matcher/matcher.db");
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let first = MatcherProcess::start_at(&listen, &database, &["--insecure-http".as_ref()]);
    let url = first.http_url();
    let jobs = Jobs::new(d, &work, &url);
    let job = "restart-1";
    jobs.create(job, "household");

    // One record per chunk: thousands of requests, so the restart lands mid-upload.
    let household = agent_reading(d, "household", &d.dir.join("data/household.csv"), &work.join("household-state"));
    let mut agent = Command::new(bidui_exe())
        .args(["agent", "run", "--chunk-records", "1", "--job", job, "--matcher", &url, "--config"])
        .arg(&household)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while jobs.participant(job, "household").chunks < 200 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(first);
    assert!(agent.try_wait().unwrap().is_none(), "the agent must still be uploading when the matcher stops");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _second = MatcherProcess::start_at(&listen, &database, &["--insecure-http".as_ref()]);
    let output = agent.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", printed(&output));
    assert!(printed(&output).contains("retrying"), "the agent says it waited: {}", printed(&output));

    // Nothing lost, nothing twice: every record of the file, as in the district's own job.
    let held = jobs.participant(job, "household");
    let reference = jobs.participant(crate::district::JOB, "household");
    assert!(held.sealed, "{held:?}");
    assert_eq!((held.records, held.rows_read), (reference.records, reference.rows_read));
    assert_eq!(u64::from(held.chunks), held.records, "one record per chunk, none repeated");
}

#[test]
fn a_matcher_killed_at_random_moments_loses_and_duplicates_nothing() {
    let d = district();
    let work = d.dir.join("kill-loop");
    std::fs::create_dir_all(&work).unwrap();
    let database = d.dir.join("matcher/matcher.db");
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let mut matcher = MatcherProcess::start_at(&listen, &database, &["--insecure-http".as_ref()]);
    let url = matcher.http_url();
    let jobs = Jobs::new(d, &work, &url);
    let job = "kill-loop-1";
    jobs.create(job, "household");

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("kill loop seed {seed}");
    let mut random = seed | 1;
    let mut next_pause = move || {
        // xorshift64: a pause of 50–400 ms before each kill, so that at least the first two
        // land within the agents' run (a second or two on this district) whatever the seed.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        std::time::Duration::from_millis(50 + random % 350)
    };
    let mut agents: Vec<Child> = ["veterans", "household"]
        .iter()
        .map(|party| {
            let source = if *party == "veterans" { "data/registry.xlsx" } else { "data/household.csv" };
            let config = agent_reading(d, party, &d.dir.join(source), &work.join(format!("{party}-state")));
            Command::new(bidui_exe())
                .args(["agent", "run", "--chunk-records", "5", "--results-wait", "300", "--job", job])
                .args(["--matcher", &url, "--config"])
                .arg(config)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut kills_while_running = 0;
    for _ in 0..6 {
        std::thread::sleep(next_pause());
        drop(matcher); // SIGKILL, whatever it was doing
        if agents.iter_mut().any(|agent| agent.try_wait().unwrap().is_none()) {
            kills_while_running += 1;
        }
        matcher = MatcherProcess::start_at(&listen, &database, &["--insecure-http".as_ref()]);
    }
    println!("{kills_while_running} of 6 kills landed while agents were working");
    assert!(kills_while_running >= 2, "seed {seed}: the kills must land mid-job to test anything");
    for agent in agents {
        let output = agent.wait_with_output().unwrap();
        assert!(output.status.success(), "seed {seed}: {}", printed(&output));
    }

    // Every record once, and the requester's results as an uninterrupted run found them.
    let held = jobs.participant(job, "household");
    let reference = jobs.participant(crate::district::JOB, "household");
    assert_eq!((held.records, held.rows_read), (reference.records, reference.rows_read), "seed {seed}");
    let results: JobResults =
        serde_json::from_slice(&std::fs::read(work.join(format!("veterans-state/{job}/results.json"))).unwrap())
            .unwrap();
    assert_eq!(results.summary.found["household"], d.results.summary.found["household"], "seed {seed}");
    assert_eq!(results.rows.len(), d.results.rows.len(), "seed {seed}");
    let verified = crate::bidui(&["audit", "verify", "--db", database.to_str().unwrap()]);
    assert!(verified.status.success(), "seed {seed}: {}", printed(&verified));
    drop(matcher);
}

#[test]
fn a_matcher_killed_between_the_last_seal_and_the_join_completes_the_job_on_restart() {
    let d = district();
    let work = d.dir.join("seal-join-window");
    std::fs::create_dir_all(&work).unwrap();
    let database = d.dir.join("matcher/matcher.db");
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let mut dying = MatcherProcess::start_dying_before_join(&listen, &database);
    let url = dying.http_url();
    let jobs = Jobs::new(d, &work, &url);
    let job = "seal-join-1";
    jobs.create(job, "housing");
    let housing = agent_reading(d, "housing", &d.dir.join("data/housing.csv"), &work.join("housing-state"));
    let veterans = agent_reading(d, "veterans", &d.dir.join("data/registry.xlsx"), &work.join("veterans-state"));
    let run = |config: &Path| {
        Command::new(bidui_exe())
            .args(["agent", "run", "--results-wait", "120", "--job", job, "--matcher", &url, "--config"])
            .arg(config)
            .output()
            .unwrap()
    };
    let sealed = run(&housing);
    assert!(sealed.status.success(), "{}", printed(&sealed));
    // The requester's seal is the last: the matcher dies before the join. The agent waits
    // for the results, retrying while the matcher is away.
    let requester = std::thread::scope(|scope| {
        let requester = scope.spawn(|| run(&veterans));
        let died = dying.child.wait().unwrap();
        assert!(!died.success(), "the matcher was meant to die before the join");
        let _restarted = MatcherProcess::start_at(&listen, &database, &["--insecure-http".as_ref()]);
        let output = requester.join().unwrap();
        let held = jobs.participant(job, "housing");
        (output, held)
    });
    let (output, held) = requester;
    assert!(output.status.success(), "{}", printed(&output));
    assert!(held.sealed);
    let results: JobResults =
        serde_json::from_slice(&std::fs::read(work.join(format!("veterans-state/{job}/results.json"))).unwrap())
            .unwrap();
    assert_eq!(results.summary.found["housing"], d.results.summary.found["housing"]);
}

/// Issue #11: a job every party has sealed but that nothing joined (here a matcher that
/// starts no join of its own, as when its joins keep failing) is finished by the operator's
/// `bidui job resume`, and the requester's waiting agent gets the results an uninterrupted
/// run got. Before the last seal the command names the party it waits for; after the join,
/// it says the job is complete.
#[test]
fn the_operator_resumes_a_stalled_job() {
    let d = district();
    let work = d.dir.join("job-resume");
    std::fs::create_dir_all(&work).unwrap();
    // A database of its own (an online backup of the district's, principals and all): a
    // matcher of another test on the district's would join this job on its own.
    let database = work.join("matcher.db");
    let _ = std::fs::remove_file(&database);
    let shared = d.dir.join("matcher/matcher.db");
    let backup =
        crate::bidui(&["matcher", "backup", "--db", shared.to_str().unwrap(), "--to", database.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", printed(&backup));
    let matcher = MatcherProcess::start_without_automatic_join(&database);
    let url = matcher.http_url();
    let jobs = Jobs::new(d, &work, &url);
    let job = "job-resume-1";
    jobs.create(job, "housing");
    let resume = || {
        let operator = jobs.operator.to_str().unwrap();
        bidui_with_env(&["job", "resume", job, "--operator", operator], &[])
    };
    let housing = agent_reading(d, "housing", &d.dir.join("data/housing.csv"), &work.join("housing-state"));
    let sealed = spawn_agent(&housing, job, &url).wait_with_output().unwrap();
    assert!(sealed.status.success(), "{}", printed(&sealed));

    let waiting = resume();
    assert_eq!(waiting.status.code(), Some(1), "{}", printed(&waiting));
    assert!(printed(&waiting).contains("still waiting for: veterans"), "{}", printed(&waiting));

    let veterans = agent_reading(d, "veterans", &d.dir.join("data/registry.xlsx"), &work.join("veterans-state"));
    let requester = spawn_agent(&veterans, job, &url);
    while !jobs.participant(job, "veterans").sealed {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let joined = resume();
    assert!(joined.status.success(), "{}", printed(&joined));
    assert!(printed(&joined).contains("was joined now"), "{}", printed(&joined));
    let output = requester.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", printed(&output));
    let results: JobResults =
        serde_json::from_slice(&std::fs::read(work.join(format!("veterans-state/{job}/results.json"))).unwrap())
            .unwrap();
    assert_eq!(results.summary.found["housing"], d.results.summary.found["housing"]);

    let again = resume();
    assert!(again.status.success() && printed(&again).contains("complete already"), "{}", printed(&again));
}
