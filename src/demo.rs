//! `bidui demo`: a whole stage-two comparison on a generated district, with the real
//! matcher on loopback and one real agent process per party.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use bidui_client::{Client, Identity, MatcherTrust};
use bidui_core::api::{Attribute, DepartmentSpec, JobResults, JobSpec, RequesterSpec, SignedJob};
use bidui_core::custody::PrincipalRole;
use bidui_core::profile::Profile;
use bidui_core::Suite;
use bidui_i18n::t;
use bidui_matcher::tls::TlsFiles;

use crate::{operator, report};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Folder for everything the demo writes (default: a new temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Registry rows to generate.
    #[arg(long, default_value_t = 3_000)]
    pub registry: u64,
    /// Residents outside the registry in household registration.
    #[arg(long, default_value_t = 30_000)]
    pub population: u64,
    #[arg(long, default_value_t = 20190419)]
    pub seed: u64,
    /// Address the matcher listens on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// URL the agents use to reach the matcher, when it differs from where the matcher
    /// listens (e.g. through a capturing proxy in tests).
    #[arg(long)]
    pub agents_via: Option<String>,
    /// Run the matcher on plain HTTP instead of HTTPS with a test certificate: only so
    /// that a test can capture and search what the agents send in clear.
    #[arg(long)]
    pub insecure_http: bool,
    /// Reuse the data already in --dir instead of generating it.
    #[arg(long)]
    pub reuse_data: bool,
    /// Job id (a rerun after corrections uses a new one).
    #[arg(long, default_value = "zc-2019-stage2-demo")]
    pub job: String,
}

/// One party of the demo: its synth file and how its agent maps it.
struct Party {
    name: &'static str,
    file: &'static str,
    sheet: Option<&'static str>,
    id: &'static str,
    name_column: &'static str,
    sex: Option<&'static str>,
    birth_date: Option<&'static str>,
    compare: &'static [Attribute],
    /// Field name → column header; all are requested by the job and allowed by policy.
    fields: &'static [(&'static str, &'static str)],
}

const REQUESTER: Party = Party {
    name: "veterans",
    file: "registry.xlsx",
    sheet: Some("优抚对象名册"),
    id: "公民身份号码",
    name_column: "姓名",
    sex: Some("性别"),
    birth_date: Some("出生日期"),
    compare: &[],
    fields: &[
        ("town", "镇街"),
        ("category", "优抚类别"),
        ("registry_status", "状态"),
        ("phone", "联系电话"),
        ("address", "户籍地址"),
    ],
};

const DEPARTMENTS: [Party; 7] = [
    Party {
        name: "household",
        file: "household.csv",
        sheet: None,
        id: "身份证号",
        name_column: "姓名",
        sex: Some("性别"),
        birth_date: Some("出生日期"),
        compare: &[Attribute::Name, Attribute::Sex, Attribute::BirthDate],
        fields: &[("household_status", "户籍状态"), ("registered_address", "户籍地址"), ("household_town", "所属镇街")],
    },
    Party {
        name: "social-security",
        file: "social-security.csv",
        sheet: None,
        id: "公民身份号码",
        name_column: "姓名",
        sex: None,
        birth_date: None,
        compare: &[Attribute::Name],
        fields: &[("insured_status", "参保状态"), ("pension", "养老金领取"), ("phone", "联系电话")],
    },
    Party {
        name: "medical-insurance",
        file: "medical-insurance.xlsx",
        sheet: Some("医保参保信息"),
        id: "证件号码",
        name_column: "姓名",
        sex: None,
        birth_date: None,
        compare: &[Attribute::Name],
        fields: &[("medical_type", "参保类型"), ("medical_status", "参保状态")],
    },
    Party {
        name: "housing",
        file: "housing.csv",
        sheet: None,
        id: "身份证号",
        name_column: "姓名",
        sex: None,
        birth_date: None,
        compare: &[Attribute::Name],
        fields: &[("housing_type", "住房类型"), ("housing_address", "房屋地址")],
    },
    Party {
        name: "assistance",
        file: "assistance.xlsx",
        sheet: Some("救助对象"),
        id: "身份证号",
        name_column: "姓名",
        sex: None,
        birth_date: None,
        compare: &[Attribute::Name],
        fields: &[
            ("assistance_type", "救助类型"),
            ("assistance_town", "所属镇街"),
            ("assistance_amount", "月救助金额"),
        ],
    },
    Party {
        name: "petitions",
        file: "petitions.csv",
        sheet: None,
        id: "身份证号码",
        name_column: "姓名",
        sex: None,
        birth_date: None,
        compare: &[Attribute::Name],
        fields: &[("petition_demand", "主要诉求"), ("petition_date", "登记日期")],
    },
    Party {
        name: "service-records",
        file: "service-records.xlsx",
        sheet: Some("服役信息"),
        id: "公民身份号码",
        name_column: "姓名",
        sex: None,
        birth_date: None,
        compare: &[Attribute::Name],
        fields: &[("enlisted", "入伍时间"), ("discharged", "退伍时间"), ("branch", "军种")],
    },
];

const PURPOSE: &str = "退役军人和其他优抚对象信息采集第二阶段数据比对";
const APPROVAL: &str = "增退役军人〔2019〕12号（演示）";

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn agent_config(party: &Party, data: &Path, matcher: &str, tls: bool, operator_key: &str) -> String {
    let certificate = if tls { "matcher_certificate = \"matcher-cert.pem\"\n" } else { "" };
    // A demo has no custodian to enrol the operator: each agent pins the operator's key.
    let mut out = format!(
        "# Agent of {name}. Generated by `bidui demo`.\nparty = \"{name}\"\nmatcher = {matcher}\n\
         {certificate}identity_key = \"agent.ed25519\"\noperator_key = \"{operator_key}\"\n\
         epochs = [\"epoch-1.toml\"]\nstate_dir = \"state\"\n\n[source]\npath = {path}\n",
        name = party.name,
        matcher = toml_string(matcher),
        path = toml_string(&data.join(party.file).to_string_lossy()),
    );
    if let Some(sheet) = party.sheet {
        out.push_str(&format!("sheet = {}\n", toml_string(sheet)));
    }
    out.push_str(&format!("\n[columns]\nid = {}\nname = {}\n", toml_string(party.id), toml_string(party.name_column)));
    if let Some(sex) = party.sex {
        out.push_str(&format!("sex = {}\n", toml_string(sex)));
    }
    if let Some(birth) = party.birth_date {
        out.push_str(&format!("birth_date = {}\n", toml_string(birth)));
    }
    out.push_str("\n[fields]\n");
    for (field, column) in party.fields {
        out.push_str(&format!("{field} = {}\n", toml_string(column)));
    }
    let names: Vec<String> = party.fields.iter().map(|(f, _)| toml_string(f)).collect();
    out.push_str(&format!(
        "\n[[policy.allow]]\nfields = [{}]\npurposes = [{}]\n",
        names.join(", "),
        toml_string(PURPOSE)
    ));
    out
}

/// The demo district's profile: `examples/district.toml`, which `demo` copies next to the
/// operator's configuration.
const DEMO_PROFILE: &str = include_str!("../examples/district.toml");

fn demo_profile() -> Profile {
    toml::from_str(DEMO_PROFILE).expect("examples/district.toml is a valid profile")
}

/// The job, with caps twice the generated sizes: room for a district's growth, not for a
/// party tokenizing the whole province. `departments` take part, in the demo's order.
fn job_spec(
    job: &str,
    epoch: &str,
    registry_rows: u64,
    department_rows: u64,
    departments: &[bidui_synth::Department],
) -> JobSpec {
    let fields = |p: &Party| p.fields.iter().map(|(f, _)| (*f).to_owned()).collect();
    let mut spec = JobSpec {
        id: job.to_owned(),
        purpose: PURPOSE.to_owned(),
        approval: APPROVAL.to_owned(),
        epoch: epoch.to_owned(),
        suite: Suite::HmacSha256,
        requester: RequesterSpec {
            party: REQUESTER.name.to_owned(),
            fields: fields(&REQUESTER),
            max_records: 2 * registry_rows.max(1_000),
        },
        departments: taking_part(departments)
            .map(|p| DepartmentSpec {
                party: p.name.to_owned(),
                compare: p.compare.to_vec(),
                fields: fields(p),
                max_records: 2 * department_rows.max(1_000),
            })
            .collect(),
        rules: Vec::new(),
        retention_hours: None,
        profile: None,
    };
    let profile = demo_profile();
    spec.profile = Some(profile.for_job(&spec));
    spec
}

/// The demo's departments among `departments`, in the demo's order.
fn taking_part(departments: &[bidui_synth::Department]) -> impl Iterator<Item = &'static Party> + '_ {
    DEPARTMENTS.iter().filter(|p| departments.iter().any(|d| d.key() == p.name))
}

/// The matcher child process; killed when dropped so a failed demo leaves nothing behind.
pub struct MatcherProcess {
    pub child: Child,
    pub url: String,
}

impl Drop for MatcherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The matcher on plain HTTP (`--insecure-http`), for loopback benchmarks.
pub fn start_matcher(exe: &Path, dir: &Path, listen: std::net::SocketAddr) -> anyhow::Result<MatcherProcess> {
    start_matcher_with(exe, dir, listen, None)
}

/// The matcher on HTTPS with `tls`, or on plain HTTP without.
pub fn start_matcher_with(
    exe: &Path,
    dir: &Path,
    listen: std::net::SocketAddr,
    tls: Option<&TlsFiles>,
) -> anyhow::Result<MatcherProcess> {
    let log = std::fs::File::create(dir.join("matcher.stderr")).context(t!("demo-creating-matcher-stderr"))?;
    let mut command = Command::new(exe);
    command
        .args(["matcher", "serve", "--db"])
        .arg(dir.join("matcher.db"))
        .arg("--listen")
        .arg(listen.to_string())
        .arg("--log")
        .arg(dir.join("matcher.log"));
    match tls {
        Some(files) => command.arg("--tls-cert").arg(&files.certificate).arg("--tls-key").arg(&files.key),
        None => command.arg("--insecure-http"),
    };
    let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().context(t!("demo-starting-matcher"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).context(t!("demo-reading-matcher-address"))?;
    let Some(address) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        bail!(t!("demo-matcher-did-not-start", path = dir.join("matcher.stderr").display()));
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    Ok(MatcherProcess { url: format!("{scheme}://{address}"), child })
}

/// The demo's TLS certificate for loopback (and the listening address), labelled TEST:
/// made once in the matcher's folder and reused by later runs in the same folder.
pub fn test_certificate(matcher_dir: &Path, listen: std::net::SocketAddr) -> anyhow::Result<TlsFiles> {
    let files =
        TlsFiles { certificate: matcher_dir.join("test-tls-cert.pem"), key: matcher_dir.join("test-tls-key.pem") };
    if !files.certificate.exists() || !files.key.exists() {
        let mut hosts = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        if !listen.ip().is_unspecified() && !hosts.contains(&listen.ip().to_string()) {
            hosts.push(listen.ip().to_string());
        }
        crate::tls::write_certificate(&hosts, "bidui demo matcher (TEST ONLY)", 365, &files.certificate, &files.key)?;
    }
    Ok(files)
}

/// What a district run produced, for the demo's summary and the benchmark's figures.
pub struct DistrictRun {
    pub dir: PathBuf,
    pub results: JobResults,
    pub report: report::Written,
    pub synth_seconds: f64,
    /// From job creation to results fetched.
    pub job_seconds: f64,
    /// The requester's report written from the results, after the job.
    pub report_seconds: f64,
    pub matcher_peak_kib: Option<u64>,
    /// The matcher's CPU seconds from job creation to results fetched.
    pub matcher_job_cpu_seconds: Option<f64>,
    pub agents: Vec<bidui_agent::run::RunReport>,
    /// Each agent's whole process (start, upload, and the requester's opening), in the
    /// order of `agents`, in CPU seconds.
    pub agent_cpu_seconds: Vec<Option<f64>>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let run = run_district(&args, &[])?;
    print_summary(&run.results);
    println!("\n{}", t!("demo-results-files", json = run.report.json.display(), csv = run.report.csv.display()));
    println!(
        "{}",
        t!(
            "demo-report",
            towns = run.report.report.towns.len(),
            dir = run.dir.join("report/towns").display(),
            summary = run.report.report.summary.display()
        )
    );
    println!("{}", t!("demo-agents-dir", dir = run.dir.join("agents").display()));
    println!("{}", t!("demo-matcher-dir", dir = run.dir.join("matcher").display()));
    println!("{}", t!("demo-done", seconds = format!("{:.1}", started.elapsed().as_secs_f64())));
    Ok(())
}

/// Generates (or reuses) the district, runs the matcher and every agent, fetches the
/// results. `department_rows` overrides the generator's department sizes.
pub fn run_district(
    args: &DemoArgs,
    department_rows: &[(bidui_synth::Department, u64)],
) -> anyhow::Result<DistrictRun> {
    run_district_with(args, department_rows, &bidui_synth::Department::ALL)
}

/// [`run_district`] with only `departments` in the job (the district is generated whole).
pub fn run_district_with(
    args: &DemoArgs,
    department_rows: &[(bidui_synth::Department, u64)],
    departments: &[bidui_synth::Department],
) -> anyhow::Result<DistrictRun> {
    // Absolute once, here: the agents' configurations are read relative to their own
    // folders, so a relative --dir would be resolved twice.
    let dir = match &args.dir {
        Some(dir) => std::path::absolute(dir).with_context(|| format!("locating {}", dir.display()))?,
        None => std::env::temp_dir().join(format!("bidui-demo-{}", std::process::id())),
    };
    let data = dir.join("data");
    let matcher_dir = dir.join("matcher");
    let agents_dir = dir.join("agents");
    let operator_dir = dir.join("operator");
    for d in [&data, &matcher_dir, &agents_dir, &operator_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let exe = std::env::current_exe().context(t!("demo-locating-binary"))?;

    let synth_started = Instant::now();
    if !args.reuse_data {
        println!("{}", t!("demo-generating", registry = args.registry, population = args.population));
        let synth = bidui_synth::Options {
            seed: args.seed,
            registry: args.registry,
            population: args.population,
            department_rows: department_rows.to_vec(),
        };
        bidui_synth::generate(&synth, &data)?;
    }
    let synth_seconds = synth_started.elapsed().as_secs_f64();

    // Keys: one labelled test epoch copied to every agent by hand — a demo has no key
    // custodian (tests/e2e/keys.rs runs the sealed distribution) — one signing key per
    // agent and for the operator. The matcher gets public keys only.
    let epoch_master = dir.join("test-epoch-1.toml");
    let epoch = if epoch_master.exists() {
        bidui_agent::epochs::load(&epoch_master)?
    } else {
        bidui_agent::epochs::create(&epoch_master, Suite::HmacSha256)?
    };
    let kcv = epoch.key_check_value();
    let database = matcher_dir.join("matcher.db");
    let operator_key = operator_dir.join("operator.ed25519");
    let operator_identity =
        if operator_key.exists() { Identity::load(&operator_key)? } else { Identity::create(&operator_key)? };
    bidui_matcher::init_database(&database)?;
    bidui_matcher::enroll(&database, "operator", PrincipalRole::Operator, &operator_identity.public_key())?;

    // TLS: a test certificate made here (never overwritten on a rerun), pinned by every
    // agent and the operator. The key stays in the matcher's folder.
    let tls = if args.insecure_http { None } else { Some(test_certificate(&matcher_dir, args.listen)?) };
    let matcher = start_matcher_with(&exe, &matcher_dir, args.listen, tls.as_ref())?;
    let agent_url = args.agents_via.clone().unwrap_or_else(|| matcher.url.clone());
    println!("{}", t!("demo-matcher-listening", url = matcher.url, db = database.display()));
    let pin = |home: &Path| -> anyhow::Result<()> {
        if let Some(files) = &tls {
            std::fs::copy(&files.certificate, home.join("matcher-cert.pem"))
                .with_context(|| format!("copying the matcher's certificate to {}", home.display()))?;
        }
        Ok(())
    };

    let parties: Vec<&Party> = std::iter::once(&REQUESTER).chain(taking_part(departments)).collect();
    for party in &parties {
        let home = agents_dir.join(party.name);
        std::fs::create_dir_all(&home)?;
        let key = home.join("agent.ed25519");
        let identity = if key.exists() { Identity::load(&key)? } else { Identity::create(&key)? };
        bidui_matcher::enroll(&database, party.name, PrincipalRole::Agent, &identity.public_key())?;
        let epoch_file = home.join("epoch-1.toml");
        if !epoch_file.exists() {
            bidui_agent::epochs::write(&epoch_file, &epoch)?;
        }
        pin(&home)?;
        let config = agent_config(party, &data, &agent_url, tls.is_some(), &operator_identity.public_key_hex());
        std::fs::write(home.join("agent.toml"), config)?;
    }

    let largest_department = department_rows.iter().map(|(_, rows)| *rows).max().unwrap_or(0);
    let spec =
        job_spec(&args.job, &kcv, args.registry, largest_department.max(args.population + args.registry), departments);
    std::fs::write(dir.join("job.toml"), toml::to_string(&spec)?)?;
    pin(&operator_dir)?;
    std::fs::write(operator_dir.join("district.toml"), DEMO_PROFILE)?;
    let operator_pin = if tls.is_some() { "matcher_certificate = \"matcher-cert.pem\"\n" } else { "" };
    std::fs::write(
        operator_dir.join("operator.toml"),
        format!(
            "matcher = {}\n{operator_pin}name = \"operator\"\nidentity_key = \"operator.ed25519\"\n\
             profile = \"district.toml\"\n",
            toml_string(&matcher.url)
        ),
    )?;
    let trust = tls.as_ref().map(|files| MatcherTrust::pinned_certificate(&files.certificate)).transpose()?;
    let signed = SignedJob::sign_with(&spec, "operator", |payload| operator_identity.sign(payload));
    let client = Client::with_trust(&matcher.url, "operator", operator_identity, trust)?;
    let job_started = Instant::now();
    let matcher_cpu_before = bidui_probe::cpu_seconds_of(matcher.child.id());
    operator::create_job(&client, &signed)?;
    println!("{}", t!("demo-job-created", job = spec.id, departments = spec.departments.len(), epoch = kcv));

    let mut agents = Vec::new();
    for party in &parties {
        let home = agents_dir.join(party.name);
        let out = std::fs::File::create(home.join("agent.out"))?;
        // The agents speak the demo's language in their own logs.
        let child = Command::new(&exe)
            .args(["--lang", bidui_i18n::language().code(), "agent", "run", "--config"])
            .arg(home.join("agent.toml"))
            .args(["--job", &spec.id, "--results-wait", "600"])
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting the agent of {}", party.name))?;
        agents.push((party.name, home, child));
    }
    let mut reports = Vec::new();
    let mut agent_cpu_seconds = Vec::new();
    for (name, home, mut child) in agents {
        // The matcher is not waited for until it is dropped: the children's CPU time that
        // grows while one agent is waited for is that agent's.
        let reaped_before = bidui_probe::children_cpu_seconds();
        let status = child.wait()?;
        agent_cpu_seconds
            .push(bidui_probe::children_cpu_seconds().zip(reaped_before).map(|(after, before)| after - before));
        if !status.success() {
            bail!(t!("demo-agent-failed", party = name, path = home.join("agent.out").display()));
        }
        reports.push(last_run_report(&home.join("state/release-log.jsonl"))?);
    }

    // The report is built on the requester's side, from the results its agent opened.
    let requester_state = agents_dir.join(REQUESTER.name).join("state").join(bidui_client::path_segment(&spec.id));
    let job_seconds = job_started.elapsed().as_secs_f64();
    let matcher_job_cpu_seconds =
        bidui_probe::cpu_seconds_of(matcher.child.id()).zip(matcher_cpu_before).map(|(after, before)| after - before);
    let results = bidui_report::load_results(&requester_state.join("results.json"))?;
    let matcher_peak_kib = bidui_probe::peak_memory_kib_of(matcher.child.id());
    let invalid_rows = requester_state.join("invalid-rows.csv");
    let report_started = Instant::now();
    let written = report::write_local(&results, &dir.join("report"), Some(&invalid_rows))?;
    let report_seconds = report_started.elapsed().as_secs_f64();
    drop(matcher);
    Ok(DistrictRun {
        dir,
        results,
        report: written,
        synth_seconds,
        job_seconds,
        report_seconds,
        matcher_peak_kib,
        matcher_job_cpu_seconds,
        agents: reports,
        agent_cpu_seconds,
    })
}

/// The agent's own record of its last run (the last line of its release log).
fn last_run_report(log: &Path) -> anyhow::Result<bidui_agent::run::RunReport> {
    let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let line = text.lines().last().with_context(|| format!("{} is empty", log.display()))?;
    serde_json::from_str(line).with_context(|| format!("parsing the last line of {}", log.display()))
}

fn print_summary(results: &JobResults) {
    let s = &results.summary;
    println!(
        "\n{}",
        t!("demo-summary-head", job = results.job, read = s.registry_rows_read, compared = s.registry_rows)
    );
    let invalid: u64 = s.invalid_ids.values().sum();
    println!("  {}", t!("demo-summary-invalid", count = invalid, codes = format!("{:?}", s.invalid_ids)));
    let profile = results.profile.clone().unwrap_or_default();
    for department in &results.departments {
        let found = s.found.get(department).copied().unwrap_or(0);
        let name = profile.party_name(department);
        println!("  {}", t!("demo-summary-found", department = format!("{name:<12}"), count = format!("{found:>7}")));
    }
    println!("  {}", t!("demo-summary-nowhere", count = s.found_nowhere));
    println!("  {}", t!("demo-summary-duplicates", count = s.duplicate_groups));
    println!("  {}", t!("demo-summary-probable", count = s.probable_matches));
    let deceased = results
        .rows
        .iter()
        .filter(|r| {
            r.departments
                .get("household")
                .is_some_and(|f| f.released.get("household_status").is_some_and(|v| v.iter().any(|s| s == "死亡")))
        })
        .count();
    println!("  {}", t!("demo-summary-deceased", count = deceased));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_job_fits_the_example_profile_and_carries_its_part() {
        let spec = job_spec("zc-demo", "0123456789abcdef", 3_000, 30_000, &bidui_synth::Department::ALL);
        spec.validate().unwrap();
        let profile = demo_profile();
        profile.check_job(&spec).unwrap();
        let embedded = spec.profile.as_ref().unwrap();
        assert_eq!(embedded.parties.len(), 1 + DEPARTMENTS.len());
        assert_eq!(embedded.party_name("household"), "公安户籍");
        assert_eq!(profile.with_role(&spec.requester.fields, bidui_core::profile::FieldRole::Town), Some("town"));
        // The spec round-trips through the job.toml the demo writes.
        let written: JobSpec = toml::from_str(&toml::to_string(&spec).unwrap()).unwrap();
        assert_eq!(written, spec);
    }

    #[test]
    fn a_job_of_some_departments_names_only_them_and_fits_the_profile() {
        let only = [bidui_synth::Department::Housing, bidui_synth::Department::Household];
        let spec = job_spec("zc-compare", "0123456789abcdef", 3_000, 30_000, &only);
        spec.validate().unwrap();
        demo_profile().check_job(&spec).unwrap();
        let parties: Vec<&str> = spec.departments.iter().map(|d| d.party.as_str()).collect();
        assert_eq!(parties, ["household", "housing"], "in the demo's order");
        let embedded = spec.profile.as_ref().unwrap();
        assert_eq!(embedded.parties.len(), 1 + only.len(), "the profile carries the job's parties only");
    }
}
