//! `bidui agent serve`: a department's agent and the requester's, as services, against a
//! matcher of their own (the district's keys, a new database): the department runs two jobs
//! in a row and holds one its policy refuses, with a note and nothing uploaded; the
//! requester opens the results of the jobs that complete; a restarted service does not run
//! a sealed job again; SIGTERM stops both cleanly. A decline notice the matcher did not
//! get is told again at a later poll.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bidui_agent::serve::HeldNote;
use bidui_core::api::ParticipantStage;

use crate::district::district;
use crate::resume::{agent_reading, Jobs};
use crate::{bidui, bidui_exe, printed, MatcherProcess};

/// A `bidui agent serve` child, its stdout in a file.
pub(crate) struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    pub(crate) fn start(config: &Path, log: &Path) -> Service {
        let child = Command::new(bidui_exe())
            .args(["agent", "serve", "--chunk-records", "300", "--config"])
            .arg(config)
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Service { child, log: log.to_owned() }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// SIGTERM, as systemd stops a service: it ends cleanly, exit 0.
    fn terminate(mut self) -> Vec<String> {
        let killed = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}: {:?}", self.lines());
        self.lines()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (a generous bound, not a timing assertion) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool, services: &[&Service]) {
    let started = Instant::now();
    while !done() {
        let logs: Vec<Vec<String>> = services.iter().map(|s| s.lines()).collect();
        assert!(started.elapsed() < Duration::from_secs(300), "never: {what}; logs {logs:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `party`'s configuration of the district, reading its own copy of the data, keeping its
/// state in `work/<party>-state`, talking to `url`, with `serve` as its `[serve]` section.
pub(crate) fn serving_agent(work: &Path, party: &str, source: &str, url: &str, serve: &str) -> (PathBuf, PathBuf) {
    let d = district();
    let data = work.join(source);
    std::fs::copy(d.dir.join("data").join(source), &data).unwrap();
    let state = work.join(format!("{party}-state"));
    let config = agent_reading(d, party, &data, &state);
    let text = std::fs::read_to_string(&config).unwrap();
    let matcher = text.lines().find(|l| l.starts_with("matcher = ")).unwrap().to_owned();
    let text = text.replace(&matcher, &format!("matcher = {url:?}"));
    std::fs::write(&config, format!("{text}\n[serve]\n{serve}")).unwrap();
    (config, state)
}

/// A matcher of its own on plain HTTP, its database in `work`, with the district's operator
/// and the agents of `parties` enrolled.
pub(crate) fn enrolled_matcher(d: &crate::district::District, work: &Path, parties: &[&str]) -> MatcherProcess {
    let database = work.join("matcher.db");
    let operator = ("operator", "operator", d.dir.join("operator/operator.ed25519"));
    let agents = parties.iter().map(|p| (*p, "agent", d.dir.join("agents").join(p).join("agent.ed25519")));
    for (name, role, key) in std::iter::once(operator).chain(agents) {
        let public_key = bidui_keyfile::Identity::load(&key).unwrap().public_key_hex();
        let db = database.to_str().unwrap();
        let enrolled = bidui(&[
            "matcher",
            "enroll",
            "--init",
            "--db",
            db,
            "--name",
            name,
            "--role",
            role,
            "--public-key",
            &public_key,
        ]);
        assert!(enrolled.status.success(), "{}", printed(&enrolled));
    }
    MatcherProcess::start(&database, &["--insecure-http".as_ref()])
}

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn a_serving_department_runs_two_jobs_in_a_row_holds_one_its_policy_refuses_and_never_reruns_a_sealed_one() {
    let d = district();
    let work = d.dir.join("serve");
    std::fs::create_dir_all(&work).unwrap();
    // A matcher of its own, so no other test's job waits for these agents.
    let matcher = enrolled_matcher(d, &work, &["veterans", "household"]);
    let url = matcher.http_url();
    let jobs = Jobs::new(d, &work, &url);
    // The held job between the two others: holding it does not stop the next one.
    jobs.create_asking("serve-1", "household", &["household_status"]);
    jobs.create_asking("serve-held", "household", &["household_status", "income"]);
    jobs.create_asking("serve-2", "household", &["household_status"]);

    let purpose = "purposes = [\"退役军人和其他优抚对象信息采集第二阶段数据比对\"]\n";
    let serve = format!("auto_run = true\n{purpose}requesters = [\"veterans\"]\npoll_seconds = 1\n");
    let (household_config, household_state) = serving_agent(&work, "household", "household.csv", &url, &serve);
    let (veterans_config, veterans_state) = serving_agent(&work, "veterans", "registry.xlsx", &url, &serve);
    let household = Service::start(&household_config, &work.join("household-1.log"));
    let veterans = Service::start(&veterans_config, &work.join("veterans.log"));

    let results = |job: &str| veterans_state.join(job).join("results.json");
    let note = bidui_agent::serve::note_path(&household_state, "serve-held");
    wait_until(
        "both complete jobs opened by the requester and the third held by the department",
        || results("serve-1").exists() && results("serve-2").exists() && note.exists(),
        &[&household, &veterans],
    );
    for job in ["serve-1", "serve-2"] {
        let sealed = jobs.participant(job, "household");
        assert!(sealed.sealed && sealed.records > 100, "{job}: {sealed:?}");
        let opened: bidui_core::api::JobResults =
            serde_json::from_slice(&std::fs::read(results(job)).unwrap()).unwrap();
        assert!(opened.summary.found["household"] > 100, "{job}: {:?}", opened.summary);
    }
    let held = jobs.participant("serve-held", "household");
    assert_eq!((held.chunks, held.records, held.sealed), (0, 0, false), "nothing uploaded for the held job");
    // The operator sees the job held, and why, in the note's words.
    assert_eq!(held.stage, ParticipantStage::Declined, "{held:?}");
    let told = held.declined_reason.clone().unwrap_or_default();
    assert!(told.contains("income") && told.contains("本地策略"), "{held:?}");
    assert_eq!(jobs.participant("serve-1", "household").stage, ParticipantStage::Sealed);
    let written: HeldNote = serde_json::from_slice(&std::fs::read(&note).unwrap()).unwrap();
    assert_eq!(written.codes, vec!["fields-refused"], "{written:?}");
    assert!(written.reasons[0].contains("income") && written.reasons[0].contains("本地策略"), "{written:?}");
    assert!(written.to_run.contains("agent run --config") && written.to_run.ends_with("--job serve-held"));

    let lines = household.terminate();
    assert_eq!(count(&lines, "job-held job=serve-held reasons=fields-refused"), 1, "told once: {lines:#?}");
    for job in ["serve-1", "serve-2"] {
        assert_eq!(count(&lines, &format!("job-start job={job} role=department")), 1, "{lines:#?}");
        assert_eq!(count(&lines, &format!("job-sealed job={job} ")), 1, "{lines:#?}");
    }
    assert_eq!(count(&lines, "job-start job=serve-held"), 0, "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("serve-stop"), "{lines:#?}");
    assert!(lines.iter().all(|l| l.is_ascii()), "{lines:#?}");
    let release_log = std::fs::read_to_string(household_state.join("release-log.jsonl")).unwrap();

    // Restarted: it runs a new job and neither runs the sealed ones nor tells the held one again.
    let household = Service::start(&household_config, &work.join("household-2.log"));
    jobs.create_asking("serve-3", "household", &["household_status"]);
    wait_until(
        "the restarted department seals a new job",
        || jobs.participant("serve-3", "household").sealed,
        &[&household],
    );
    let lines = household.terminate();
    assert_eq!(count(&lines, "job-start "), 1, "only the new job: {lines:#?}");
    assert_eq!(count(&lines, "job-start job=serve-3 "), 1, "{lines:#?}");
    assert_eq!(count(&lines, "job-held "), 0, "the held job's note was already there: {lines:#?}");
    assert!(note.exists());
    let release_log_after = std::fs::read_to_string(household_state.join("release-log.jsonl")).unwrap();
    assert!(release_log_after.starts_with(&release_log), "the sealed jobs' records were left alone");

    // The requester sealed the held job too, and waits for it without holding up the others.
    let lines = veterans.terminate();
    assert_eq!(count(&lines, "job-awaiting-results job=serve-held"), 1, "{lines:#?}");
    assert_eq!(count(&lines, "job-done job=serve-1 "), 1, "{lines:#?}");
    let awaiting = std::fs::read_to_string(veterans_state.join(bidui_agent::serve::AWAITING_FILE)).unwrap();
    assert!(awaiting.contains("serve-held") && !awaiting.contains("serve-1"), "{awaiting}");

    // The restarted service told the matcher nothing again: the decline stands until a run.
    assert_eq!(jobs.participant("serve-held", "household").declined_reason.as_deref(), Some(told.as_str()));
    // A person runs the held job: the decline is moved on, and the job seals.
    let ran = bidui(&[
        "agent",
        "run",
        "--chunk-records",
        "300",
        "--job",
        "serve-held",
        "--config",
        household_config.to_str().unwrap(),
    ]);
    assert!(ran.status.success(), "{}", printed(&ran));
    let after = jobs.participant("serve-held", "household");
    assert_eq!((after.stage, after.declined_reason.as_deref(), after.sealed), (ParticipantStage::Sealed, None, true));
}

#[test]
fn a_decline_notice_that_did_not_get_through_is_sent_again_at_a_later_poll() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let d = district();
    let work = d.dir.join("serve-missed");
    std::fs::create_dir_all(&work).unwrap();
    let matcher = enrolled_matcher(d, &work, &["veterans", "household"]);
    let jobs = Jobs::new(d, &work, &matcher.http_url());
    jobs.create_asking("serve-missed", "household", &["household_status", "income"]);
    // Between the department and the matcher: its notices fail (the matcher away at that
    // moment) until the test lets them through; everything else passes.
    let away = Arc::new(AtomicBool::new(true));
    let refuse = {
        let away = away.clone();
        Arc::new(move |start: &str| away.load(Ordering::SeqCst) && start.contains("/submission/notice"))
    };
    let port = matcher.http_url().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = crate::proxy::Proxy::start_refusing(port, refuse);
    let serve = "auto_run = true\npurposes = [\"退役军人和其他优抚对象信息采集第二阶段数据比对\"]\n\
                 requesters = [\"veterans\"]\npoll_seconds = 1\n";
    let (config, state) = serving_agent(&work, "household", "household.csv", &proxy.url(), serve);
    let household = Service::start(&config, &work.join("household.log"));
    let failed = |lines: &[String]| count(lines, "notice-failed job=serve-missed ");
    wait_until("the held job's notices fail twice", || failed(&household.lines()) >= 2, &[&household]);
    assert_eq!(jobs.participant("serve-missed", "household").stage, ParticipantStage::Waiting);
    let note: HeldNote =
        serde_json::from_slice(&std::fs::read(bidui_agent::serve::note_path(&state, "serve-missed")).unwrap()).unwrap();
    assert!(!note.declined_heard, "{note:?}");

    away.store(false, Ordering::SeqCst);
    wait_until(
        "the decline told once the matcher hears again",
        || jobs.participant("serve-missed", "household").stage == ParticipantStage::Declined,
        &[&household],
    );
    let told = jobs.participant("serve-missed", "household").declined_reason.unwrap_or_default();
    assert!(told.contains("income"), "{told}");
    wait_until(
        "the note says the decline was heard",
        || {
            let note = std::fs::read(bidui_agent::serve::note_path(&state, "serve-missed")).unwrap();
            serde_json::from_slice::<HeldNote>(&note).unwrap().declined_heard
        },
        &[&household],
    );
    // Heard: not sent again, however many polls pass.
    let notices = || proxy.exchanges().iter().filter(|e| e.path.ends_with("/submission/notice")).count();
    let polls = || proxy.exchanges().iter().filter(|e| e.path.starts_with("/v2/assignments")).count();
    let (sent, polled) = (notices(), polls());
    wait_until("three more polls", || polls() >= polled + 3, &[&household]);
    let lines = household.terminate();
    assert_eq!(count(&lines, "job-held job=serve-missed "), 1, "{lines:#?}");
    assert_eq!(count(&lines, "notice-delivered job=serve-missed"), 1, "{lines:#?}");
    assert_eq!((notices(), sent), (1, 1), "one notice reached the matcher: {lines:#?}");
}
