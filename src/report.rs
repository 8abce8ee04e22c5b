//! `bidui report`: the stage-two comparison report (`crates/bidui-report`) from a run's
//! results; `resolve` on the requester's side; `diff` between two runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bidui_core::api::{JobResults, PersonRef, StatusRule};
use bidui_i18n::t;
use bidui_report::{Options, ProblemSet, RegistryEntry};

/// What a report run wrote (the names `bidui demo` prints).
pub struct Written {
    pub json: PathBuf,
    pub csv: PathBuf,
    pub report: bidui_report::Written,
}

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// Writes a run's report: one workbook per town (镇街), the leadership summary
    /// (summary.html), problems.csv / problems.json, results.json / results.csv.
    Build(BuildArgs),
    /// On the requester's side: fills names, identity numbers and contacts from its own
    /// registry into new town workbooks. Reads only local files; sends nothing.
    Resolve(ResolveArgs),
    /// Compares two runs (results.json, problems.json or report directories): fixed / new /
    /// still-open problems per town.
    Diff(DiffArgs),
    /// The report upward for the city: per town and category counts, coverage per
    /// department and each town's completion against the previous round; aggregate figures
    /// only, no person and no row (upward.json and upward.xlsx in --out)
    Upward(UpwardArgs),
    /// Adds up the upward files of several districts (or cities) for the level above: the
    /// city's (or province's) upward.json and upward.xlsx in --out
    Merge(MergeArgs),
    /// Takes back the town workbooks returned with 整改情况 / 整改说明 filled in, into the
    /// run's claims.json; a row that names no problem of the run refuses its workbook
    Claims(ClaimsArgs),
    /// Weighs the towns' claims against the next round: per town and category claimed
    /// fixed, confirmed, claimed but still present, new, still open; towns ranked by
    /// completion over all the rounds given
    Progress(ProgressArgs),
}

#[derive(clap::Args)]
pub struct ClaimsArgs {
    /// The run's report directory (its problems.json; claims.json is kept there).
    pub report: PathBuf,
    /// The returned town workbooks.
    #[arg(required = true)]
    pub workbooks: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub struct ProgressArgs {
    /// The rounds' report directories, oldest first (each with its towns' claims.json; the
    /// last may also be a problems.json or results.json). Two or more.
    #[arg(required = true, num_args = 2..)]
    pub rounds: Vec<PathBuf>,
    /// Also write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct UpwardArgs {
    /// The run (a report directory, problems.json or results.json).
    pub run: PathBuf,
    /// The previous round, for each town's completion (整改完成率).
    #[arg(long)]
    pub previous: Option<PathBuf>,
    /// Where upward.json and upward.xlsx go.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The upward.json files of the districts (or cities).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The area they add up to (广州市).
    #[arg(long)]
    pub area: String,
    /// Where upward.json and upward.xlsx go.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The run: the results.json the requester's agent wrote (`<state_dir>/<job>/results.json`),
    /// or a report directory holding one.
    pub results: PathBuf,
    /// Report directory (default: the directory of RESULTS).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The requester agent's local invalid-rows.csv (`<state_dir>/<job>/invalid-rows.csv`),
    /// so each invalid identity number is listed with its error code. It stays local.
    #[arg(long)]
    pub invalid_rows: Option<PathBuf>,
    /// The previous run (results.json, problems.json or report directory), for the trend.
    #[arg(long)]
    pub previous: Option<PathBuf>,
    /// Extra status rules: a TOML file of `[[rule]]` tables, as in a job spec.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Apply only the rules the job spec (and --rules) declare.
    #[arg(long)]
    pub no_builtin_rules: bool,
}

#[derive(clap::Args)]
pub struct ResolveArgs {
    /// The run's report directory (or its problems.json).
    pub report: PathBuf,
    /// The requester's own registry file (.xlsx, .xls or .csv), as its agent read it.
    #[arg(long)]
    pub registry: PathBuf,
    /// Worksheet (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    #[arg(long, default_value = "姓名")]
    pub name_column: String,
    #[arg(long, default_value = "公民身份号码")]
    pub id_column: String,
    #[arg(long, default_value = "联系电话")]
    pub contact_column: String,
    /// Column of the town, to check the registry is the one the run read; a registry without
    /// it is refused ("": no town check, then the report's results.json must name the people).
    #[arg(long, default_value = "镇街")]
    pub town_column: String,
    /// Where the resolved workbooks go (a new directory; keep it on the requester's side).
    #[arg(long)]
    pub out: PathBuf,
    /// Resolve even if the registry does not look like the one the run read.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The earlier run.
    pub before: PathBuf,
    /// The later run.
    pub after: PathBuf,
    /// List each problem under its town, not only the counts.
    #[arg(long)]
    pub details: bool,
    /// Also write the diff as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write the diff as CSV (UTF-8 with BOM).
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

pub fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Build(args) => build(args),
        ReportCommand::Resolve(args) => resolve(args),
        ReportCommand::Diff(args) => diff(args),
        ReportCommand::Upward(args) => upward(args),
        ReportCommand::Merge(args) => merge(args),
        ReportCommand::Claims(args) => claims(args),
        ReportCommand::Progress(args) => progress(args),
    }
}

/// Writes the whole report of a run into `dir`, with default options and the requester
/// agent's local invalid-rows report when it is at hand (`bidui demo`, where the
/// requester's agent runs beside the report).
pub fn write_local(results: &JobResults, dir: &Path, invalid_rows: Option<&Path>) -> anyhow::Result<Written> {
    let options = Options { invalid_rows: invalid_rows.map(read_invalid_rows).transpose()?, ..Options::default() };
    let generated = crate::clock::now_in_china().to_minute_string();
    let (_, report) = bidui_report::derive_and_write(results, &options, None, Some(&generated), dir)?;
    Ok(Written { json: report.results.clone(), csv: report.results_csv.clone(), report })
}

pub(crate) fn read_invalid_rows(path: &Path) -> anyhow::Result<BTreeMap<u32, String>> {
    let text = std::fs::read_to_string(path).with_context(|| t!("reading", path = path.display()))?;
    bidui_report::parse_invalid_rows(&text).with_context(|| t!("reading", path = path.display()))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<StatusRule>,
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let path = &args.results;
    let results = bidui_report::load_results(path)?;
    if !results.rows.is_empty() && results.rows.iter().all(|row| row.person.is_none()) {
        bail!(t!("report-names-nobody", path = path.display()));
    }
    let default_out =
        if path.is_dir() { path.clone() } else { path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf) };
    let out = args.out.unwrap_or(default_out);
    let extra_rules = match &args.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| t!("reading", path = path.display()))?;
            toml::from_str::<RulesFile>(&text).with_context(|| t!("reading-rules", path = path.display()))?.rule
        }
        None => Vec::new(),
    };
    let options = Options {
        invalid_rows: args.invalid_rows.as_deref().map(read_invalid_rows).transpose()?,
        extra_rules,
        builtin_rules: !args.no_builtin_rules,
        ..Options::default()
    };
    let previous = args.previous.as_deref().map(bidui_report::load_run).transpose()?;
    let generated = crate::clock::now_in_china().to_minute_string();
    let (set, written) = bidui_report::derive_and_write(&results, &options, previous.as_ref(), Some(&generated), &out)?;
    print_build(&set, &written);
    let unlisted = set.problems.iter().filter(|p| p.code == UNLISTED_INVALID_ID).count();
    if unlisted > 0 {
        println!("{}", t!("report-invalid-unlisted", count = unlisted, job = set.job));
    }
    Ok(())
}

/// The code of an invalid identity number listed without its reason: the report was built
/// without the requester agent's local invalid-rows report.
const UNLISTED_INVALID_ID: &str = "invalid_id.unknown";

fn print_build(set: &ProblemSet, written: &bidui_report::Written) {
    let rows = set.problems.iter().map(|p| p.row).collect::<std::collections::BTreeSet<_>>().len();
    println!(
        "{}",
        t!(
            "report-built",
            job = set.job,
            problems = set.problems.len(),
            rows = rows,
            fill_ins = set.fill_ins().count()
        )
    );
    for note in &set.notes {
        println!("  {}", t!("report-note", note = note));
    }
    print_towns(&written.towns);
    println!("  {}", t!("report-summary", path = written.summary.display()));
    println!(
        "  {}",
        t!("report-machines", csv = written.problems_csv.display(), json = written.problems_json.display())
    );
}

fn print_towns(towns: &[bidui_report::xlsx::TownWorkbook]) {
    for town in towns {
        println!(
            "  {:<40} {}",
            town.path.display(),
            t!("report-town", problems = format!("{:>5}", town.problems), fill_ins = format!("{:>5}", town.fill_ins))
        );
    }
}

/// The requester's registry as `resolve` reads it.
struct Registry {
    /// Row number → name, identity cell, contact, town.
    entries: BTreeMap<u32, RegistryEntry>,
    rows: u64,
    /// Whether the registry has the town column (`--town-column`), so towns can be compared.
    has_town: bool,
}

/// Reads the requester's registry. A town column named but absent is an error that lists
/// the registry's columns: a check must never be skipped for want of a column.
fn read_registry(args: &ResolveArgs) -> anyhow::Result<Registry> {
    let mut spec = bidui_agent::source::SourceSpec::new(&args.registry);
    spec.sheet = args.sheet.clone();
    let mut source = bidui_agent::source::Source::open(&spec)?;
    let name = source.column(&args.name_column)?;
    let id = source.column(&args.id_column)?;
    let contact = source.column(&args.contact_column).ok();
    let town = match args.town_column.as_str() {
        "" => None,
        column => Some(source.column(column).map_err(|_| {
            anyhow::anyhow!(t!(
                "resolve-no-town-column",
                path = args.registry.display(),
                column = format!("{column:?}"),
                columns = source.headers().iter().filter(|h| !h.is_empty()).cloned().collect::<Vec<_>>().join(", "),
                example = source.headers().iter().find(|h| h.contains("镇街")).map_or("<列名>", String::as_str)
            ))
        })?),
    };
    let mut entries = BTreeMap::new();
    let mut rows = 0u64;
    for row in source.rows() {
        rows += 1;
        let Ok(row) = row else { continue };
        entries.insert(
            row.number,
            RegistryEntry {
                name: row.text(name).trim().to_owned(),
                identity: row.text(id).into_owned(),
                contact: contact.map(|c| row.text(c).trim().to_owned()).unwrap_or_default(),
                town: town.map(|t| row.text(t).trim().to_owned()).filter(|t| !t.is_empty()),
            },
        );
    }
    Ok(Registry { entries, rows, has_town: town.is_some() })
}

/// The people of the run's rows (name and identity cell as the requester's agent read
/// them), from the `results.json` beside the report when it is the requester's: the
/// strongest check that a registry row is still the same person.
fn people_of_run(report: &Path, job: &str) -> Option<BTreeMap<u32, PersonRef>> {
    let dir = if report.is_dir() { report } else { report.parent()? };
    let results = bidui_report::load_results(&dir.join(bidui_report::RESULTS_FILE)).ok()?;
    let people: BTreeMap<u32, PersonRef> =
        results.rows.into_iter().filter_map(|row| Some((row.row, row.person?))).collect();
    (results.job == job && !people.is_empty()).then_some(people)
}

/// Why `registry` may not be the file the run read; empty when every check passed. Row
/// numbers are the record references, so a registry re-sorted, edited or replaced would
/// put names on the wrong problems: each row's person is compared when the run's results
/// name them, each problem's town when the registry has the town column, and with
/// neither at hand resolve cannot check at all — which is itself a reason to refuse.
fn registry_doubts(set: &ProblemSet, registry: &Registry, people: Option<&BTreeMap<u32, PersonRef>>) -> Vec<String> {
    let mut doubts = Vec::new();
    if registry.rows != set.summary.registry_rows_read {
        doubts.push(t!("resolve-doubt-rows", rows = registry.rows, read = set.summary.registry_rows_read));
    }
    if let Some(people) = people {
        let other_person = people
            .iter()
            .filter(|(row, person)| {
                registry.entries.get(row).is_none_or(|e| e.name != person.name || e.identity != person.id_number)
            })
            .count();
        if other_person > 0 {
            doubts.push(t!("resolve-doubt-person", rows = other_person));
        }
    }
    if registry.has_town {
        let other_town = set
            .problems
            .iter()
            .filter(|p| p.town != bidui_report::problems::NO_TOWN)
            .filter(|p| registry.entries.get(&p.row).and_then(|e| e.town.as_ref()).is_some_and(|t| *t != p.town))
            .count();
        if other_town > 0 {
            doubts.push(t!("resolve-doubt-town", problems = other_town));
        }
    }
    if people.is_none() && !registry.has_town {
        doubts.push(t!("resolve-doubt-unchecked"));
    }
    doubts
}

fn resolve(args: ResolveArgs) -> anyhow::Result<()> {
    let mut set = bidui_report::load_run(&args.report)?;
    let registry = read_registry(&args)?;
    let people = people_of_run(&args.report, &set.job);
    let doubts = registry_doubts(&set, &registry, people.as_ref());
    if !doubts.is_empty() && !args.force {
        bail!(t!("resolve-refused", path = args.registry.display(), job = set.job, doubts = doubts.join("; ")));
    }
    let (entries, rows) = (registry.entries, registry.rows);
    // Rows the matcher never saw have no town: take it from the registry.
    for p in &mut set.problems {
        if p.town == bidui_report::problems::NO_TOWN {
            if let Some(town) = entries.get(&p.row).and_then(|e| e.town.clone()) {
                p.town = town;
            }
        }
    }
    let mut towns = BTreeMap::new();
    for p in &set.problems {
        towns.entry(p.town.clone()).or_insert(0u64);
    }
    for (town, n) in &set.towns {
        if town != bidui_report::problems::NO_TOWN || set.problems.iter().any(|p| &p.town == town) {
            towns.insert(town.clone(), *n);
        }
    }
    set.towns = towns;
    let written = bidui_report::write_town_workbooks(&set, &args.out, Some(&entries))?;
    println!("{}", t!("resolved", job = set.job, path = args.registry.display(), rows = rows));
    print_towns(&written);
    println!("{}", t!("resolved-keep"));
    Ok(())
}

fn diff(args: DiffArgs) -> anyhow::Result<()> {
    let before = bidui_report::load_run(&args.before)?;
    let after = bidui_report::load_run(&args.after)?;
    if before.job == after.job {
        eprintln!("{}", t!("diff-same-job", job = before.job));
    }
    let diff = bidui_report::diff(&before, &after);
    print!("{}", bidui_report::diff::text(&diff, args.details));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&diff)?)
            .with_context(|| t!("writing", path = path.display()))?;
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, bidui_report::diff::csv(&diff)).with_context(|| t!("writing", path = path.display()))?;
    }
    Ok(())
}

/// Writes `upward` as `upward.json` and `upward.xlsx` in `dir`.
fn write_upward(upward: &bidui_report::upward::Upward, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| t!("writing", path = dir.display()))?;
    let json = dir.join("upward.json");
    std::fs::write(&json, serde_json::to_vec_pretty(upward)?).with_context(|| t!("writing", path = json.display()))?;
    let xlsx = dir.join("upward.xlsx");
    bidui_report::upward::write_xlsx(upward, &xlsx).with_context(|| t!("writing", path = xlsx.display()))?;
    println!(
        "{}",
        t!(
            "upward-written",
            area = upward.area,
            parts = upward.parts.len(),
            problems = upward.totals.problems,
            json = json.display(),
            xlsx = xlsx.display()
        )
    );
    Ok(())
}

fn upward(args: UpwardArgs) -> anyhow::Result<()> {
    let run = bidui_report::load_run(&args.run)?;
    let previous = args.previous.as_deref().map(bidui_report::load_run).transpose()?;
    let generated = crate::clock::now_in_china().to_minute_string();
    write_upward(&bidui_report::upward::Upward::of(&run, previous.as_ref(), &generated), &args.out)
}

fn merge(args: MergeArgs) -> anyhow::Result<()> {
    let inputs = args.files.iter().map(|f| bidui_report::upward::load(f)).collect::<Result<Vec<_>, _>>()?;
    let generated = crate::clock::now_in_china().to_minute_string();
    write_upward(&bidui_report::upward::merge(&args.area, &inputs, &generated)?, &args.out)
}

fn claims(args: ClaimsArgs) -> anyhow::Result<()> {
    let set = bidui_report::load_run(&args.report)?;
    let mut claims = bidui_report::claims::Claims::load(&args.report, &set.job)?;
    // Every workbook is read before anything is written: one bad workbook changes nothing.
    let mut taken = Vec::new();
    for workbook in &args.workbooks {
        let read = bidui_report::claims::read_workbook(workbook, &set)?;
        println!("{}", t!("claims-read", path = workbook.display(), claims = read.len()));
        taken.extend(read);
    }
    claims.add(taken);
    let path = claims.save(&args.report)?;
    let fixed = claims.claims.iter().filter(|c| c.claims_fixed()).count();
    println!("{}", t!("claims-written", path = path.display(), claims = claims.claims.len(), fixed = fixed));
    Ok(())
}

fn progress(args: ProgressArgs) -> anyhow::Result<()> {
    let mut rounds = Vec::new();
    for (i, path) in args.rounds.iter().enumerate() {
        let set = bidui_report::load_run(path)?;
        // The last round's claims weigh against nothing yet; it may be a file, not a folder.
        let claims = if i + 1 < args.rounds.len() {
            bidui_report::claims::Claims::load(path, &set.job)?
        } else {
            bidui_report::claims::Claims::new(&set.job)
        };
        rounds.push((set, claims));
    }
    let pairs: Vec<_> = rounds.iter().map(|(set, claims)| (set, claims)).collect();
    let towns = bidui_report::claims::progress_over(&pairs);
    println!("{}", t!("progress-columns"));
    for (rank, town) in towns.iter().enumerate() {
        let c = &town.total;
        let rate = c.completion().map_or("—".to_owned(), |r| format!("{:.1}%", 100.0 * r));
        println!(
            "{:>3} {:<12} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8}",
            rank + 1,
            town.town,
            c.claimed_fixed,
            c.confirmed,
            c.claimed_but_present,
            c.fixed_unclaimed,
            c.new,
            c.still_open,
            rate
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&towns)?)
            .with_context(|| t!("writing", path = path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bidui_core::api::{JobSpec, RuleTest, Severity};

    const JOB: &str = r#"
id = "zc-2026-stage2-002"
purpose = "第二阶段数据比对"
approval = "增政数〔2026〕2号"
epoch = "0123456789abcdef"

[requester]
party = "veterans"
fields = ["zj", "zt"]
max_records = 40000

[[department]]
party = "household"
compare = ["name"]
fields = ["hjzt"]
max_records = 2000000

[[rule]]
code = "deceased_active"
label = "户籍已死亡但仍在册"
severity = "严重"
department = "household"
test = "any_of"
field = "hjzt"
values = ["死亡", "注销（死亡）"]
registry_field = "zt"
registry_values = ["在册"]
field_label = "户籍状态"
registry_field_label = "状态"
"#;

    #[test]
    fn a_job_spec_declares_rules_with_its_own_field_names() {
        let spec: JobSpec = toml::from_str(JOB).unwrap();
        spec.validate().unwrap();
        assert_eq!(spec.rules.len(), 1);
        assert_eq!(spec.rules[0].test, RuleTest::AnyOf);
        assert_eq!(spec.rules[0].severity, Severity::Serious);
        let mut bad: JobSpec = toml::from_str(JOB).unwrap();
        bad.rules[0].registry_field = Some("town".into());
        assert!(bad.validate().is_err(), "a registry field the requester does not release");
        assert!(toml::from_str::<JobSpec>(&JOB.replace("test = \"any_of\"", "test = \"sometimes\"")).is_err());
        // The same tables in a rules file for `report build --rules`.
        let rules: super::RulesFile = toml::from_str(&JOB[JOB.find("[[rule]]").unwrap()..]).unwrap();
        assert_eq!(rules.rule, spec.rules);
    }
}
