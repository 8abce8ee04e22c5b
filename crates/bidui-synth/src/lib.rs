//! `bidui-synth`: a deterministic synthetic Zengcheng district for demos, end-to-end tests
//! and benchmarks. It writes the requester's registry, seven department extracts in mixed
//! formats and encodings, and `ground-truth.json`, which says row by row what an agent, the
//! matcher and the report must find. Same arguments → byte-identical files.
//!
//! Nothing here is real: names are drawn from common Pearl River Delta surnames, addresses
//! from plausible road and village names of Zengcheng's 13 towns and streets, identity
//! numbers are valid GB 11643-1999 numbers (area code, birth date, sequence, MOD 11-2 check)
//! that nobody holds.
//!
//! # People
//!
//! - **Registry persons** (`--registry` rows minus the duplicate rows): the 13 categories
//!   of 优抚对象 with a realistic skew ([`CATEGORIES`], [`CATEGORY_WEIGHTS`]: 退役士兵 78 %,
//!   现役军人家属 12.8 %, 退役军官 4 %, … each at least once from 100 rows); birth years and
//!   sex by category (Red Army veterans born 1914–1922, 现役军人家属 up to 2018).
//! - **Population** (`--population`): everyone else in household registration (公安 户籍).
//! - **Migrants** (a quarter of the population, more if a department's row target needs
//!   them): residents without Zengcheng household registration, found in social security,
//!   medical insurance, housing and petitions, never in household registration.
//!
//! Identity numbers: 82–85 % issued in Zengcheng — `440183` (增城市) for people born before
//! February 2014, `440118` (增城区) after, and `440125` (增城县) for 15 % of those born before
//! 1988 — the rest from other Guangzhou districts (`4401xx`), other provinces, and a few
//! Uyghur people from Xinjiang (`65xxxx`, names with the middle dot `·`). Household address
//! and town are Zengcheng's for everyone in household registration, whatever their code.
//! Numbers are unique across everybody; the only shared numbers are the registry's
//! intended duplicates.
//!
//! # Files
//!
//! Row numbers everywhere are 1-based **data** rows (the header is row 0).
//!
//! | file | department | format | columns |
//! | --- | --- | --- | --- |
//! | `registry.xlsx` (sheet `优抚对象名册`) | requester | xlsx, shared strings | 序号, 姓名, 性别, 出生日期 (`YYYY-MM-DD`), 公民身份号码, 优抚类别, 镇街, 联系电话, 户籍地址, 享受待遇, 状态 (`在册`) |
//! | `household.csv` | 公安 户籍 | CSV, UTF-8, LF | 姓名, 性别, 出生日期 (`YYYYMMDD`), 身份证号, 户籍状态 (正常/死亡/迁出), 户籍地址, 所属镇街 |
//! | `social-security.csv` | 人社 社保 | CSV, **GBK**, CRLF | 姓名, 公民身份号码, 参保状态, 养老金领取 (是/否), 参保单位, 联系电话 |
//! | `medical-insurance.xlsx` (`医保参保信息`) | 医保 | xlsx, inline strings | 姓名, 证件号码, 参保类型, 参保状态 |
//! | `housing.csv` | 住建 | CSV, UTF-8 **with BOM**, CRLF | 姓名, 身份证号, 住房类型, 房屋地址 |
//! | `assistance.xlsx` (`救助对象`) | 民政 救助 | xlsx, inline strings | 姓名, 身份证号, 救助类型 (低保/特困), 所属镇街, 月救助金额 (number) |
//! | `petitions.csv` | 信访 | CSV, **GB18030**, CRLF | 姓名, 身份证号码, 主要诉求, 登记日期 |
//! | `service-records.xlsx` (`服役信息`) | 武装部 | xlsx, inline strings | 姓名, 公民身份号码, 入伍时间 (`YYYY-MM`), 退伍时间, 军种 |
//! | `ground-truth.json` | — | JSON | [`GroundTruth`] |
//!
//! Default sizes: household = registry persons present + population; social security
//! 0.6 × population; medical insurance 0.9 ×; housing 0.05 ×; assistance 0.02 ×; petitions
//! 0.005 × (a petitioner has 1–4 rows); service records = registry rows (served registry
//! persons, the rest veterans the registry lacks). `--department-rows KEY=ROWS` overrides.
//!
//! Registry persons in departments: household all but the absent ones; social security 78 %
//! (born ≤ 2001); medical 95 %; housing 8 %; assistance 3 % (plus the two-town cases);
//! petitions 2 %; service records 92 % of those who served (the first six categories).
//!
//! # Messiness (rates are exact quotas on the registry side, at least one each from 100
//! rows; on the department side exact quotas over registry persons' rows, at least one
//! each, and per-row draws at the same rates for everybody else)
//!
//! Registry identity cells ([`REGISTRY_ID_RATES`], share of rows): old 15-digit 1 %,
//! 15-digit as NUMBER cell 0.3 %, 18-digit as NUMBER cell 1 % (holds Excel's 15 significant
//! digits → `…000`, excel-mangled), scientific text `4.40183E+17` 0.3 %, truncated text
//! `…000` 0.3 %, lowercase `x` 0.5 %, `×` 0.1 %, full-width 0.3 %, spaces 0.5 %, invisible
//! characters 0.3 %, leading `'` 0.5 %, trailing `.0` 0.3 %, one-character typo 0.5 %
//! (checksum/birthdate), valid-looking wrong number 0.2 %, digit dropped/doubled 0.1 %,
//! `O`/`l` for `0`/`1` 0.05 %, impossible birth date 0.05 %, empty 0.3 %.
//!
//! Department identity cells (share of rows): see [`LAYOUTS`] — household: `x` 0.2 %,
//! spaces 0.2 %; social security: old 15-digit 1 %, `'` 1 %, `.0` 0.5 %, spaces 0.5 %, `x`
//! 0.3 %, scientific 0.2 %, truncated 0.2 %; medical: NUMBER 0.5 %, 15-digit NUMBER 0.2 %,
//! `x` 0.3 %, spaces 0.3 %, full-width 0.2 %; housing: full-width, invisible, spaces 0.5 %
//! each, scientific 0.3 %, `x` 0.3 %, `×` 0.2 %; assistance: NUMBER 0.5 %, `'` 0.5 %,
//! spaces 0.5 %, full-width 0.3 %, old 15-digit 0.3 %; petitions: full-width 1 %, spaces
//! 1 %, `x` 0.5 %, old 15-digit 0.5 %, `×` 0.3 %, invisible 0.3 %; service records: old
//! 15-digit 3 %, `x` 0.5 %, NUMBER 0.5 %, truncated 0.2 %. (`x`/`×` only where the check
//! character is X, so their share of all rows is about a tenth of the rate.)
//!
//! Names in department rows of registry persons ([`NameForm`]): traditional characters
//! 1.5 %, Mandarin homophone 1 %, Cantonese 黄/王 0.5 % (of rows; only those surnames),
//! spaced 0.5 %, different name 0.2 %, middle-dot look-alike in half the minority names;
//! household: traditional 0.3 %, homophone 0.3 %, 黄/王 0.2 %, different 0.1 %.
//!
//! Registry rows and persons: duplicate rows 0.5 % of rows (40 % of them filed by another
//! town; one person three times); deceased in household but 在册 1.5 % of persons (the
//! oldest first); moved out 1 %; absent from household registration 2 %; assistance in two
//! towns 0.3 %; 联系电话 missing 8 % of rows (fillable from social security), 户籍地址
//! missing 5 % (fillable from household registration); 户籍地址 out of date 3 %; 镇街
//! different from household registration 2 %; 性别 wrong 0.2 %; 出生日期 wrong 0.3 % (never
//! on rows whose number is wrong, so probable matches by name + birth date + sex exist);
//! for 10 % of the rows whose number is wrong (at least one), a namesake in the population
//! with the same name, birth date and sex, so the secondary keys find two people.
//!
//! # Ground truth
//!
//! [`GroundTruth`]: per registry row the true identity, the cell as read, its expected
//! `bidui_core::IdNumber::parse` outcome (with [`AS_OF`] as "today"; the same for any later
//! day), and per department the rows where the person is with how the number and name are
//! written there; then duplicates, deceased/moved-out but active, absent from household,
//! two-town assistance, fill-ins, disagreements with household registration, probable
//! matches, service records of unregistered veterans, and summary counts.
//!
//! Number cells read as text with [`number_cell_text`] (Rust's `Display` of the double:
//! `440183198001010000`).

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use bidui_core::CivilDate;
use serde::{Deserialize, Serialize};

mod assemble;
mod depts;
mod idgen;
mod names;
mod people;
mod places;
mod registry;
mod rng;
mod sink;
mod truth;

pub use depts::{Layout, LAYOUTS};
pub use idgen::{number_cell_text, IdForm};
pub use names::NameForm;
pub use people::{CATEGORIES, CATEGORY_WEIGHTS};
pub use places::TOWNS;
pub use registry::{REGISTRY_COLUMNS, REGISTRY_FILE, REGISTRY_ID_RATES, REGISTRY_SHEET};
pub use rng::splitmix64;
pub use truth::{
    Appearance, Disagreement, DuplicateGroup, FileInfo, FillIn, GroundTruth, Manifest, ProbableMatch, RegistryRow,
    StatusCase, Summary, TwoTownAssistance,
};

/// The day the synthetic data describes: the stage-two deadline (2019-04-19). Nobody is
/// born after it.
pub const AS_OF: CivilDate = CivilDate { year: 2019, month: 4, day: 19 };

pub const GROUND_TRUTH_FILE: &str = "ground-truth.json";

/// A department that holds data about the registry's people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Department {
    /// 公安 户籍 (household registration).
    Household,
    /// 人社 社保 (social security, pensions).
    SocialSecurity,
    /// 医保 (medical insurance).
    MedicalInsurance,
    /// 住建 (housing).
    Housing,
    /// 民政 救助 (低保/特困 assistance).
    Assistance,
    /// 信访 (petitions).
    Petitions,
    /// 武装部 (armed-forces department: service records).
    ServiceRecords,
}

impl Department {
    pub const ALL: [Department; 7] = [
        Department::Household,
        Department::SocialSecurity,
        Department::MedicalInsurance,
        Department::Housing,
        Department::Assistance,
        Department::Petitions,
        Department::ServiceRecords,
    ];

    /// The kebab-case key used in arguments and JSON (`social-security`).
    pub fn key(self) -> &'static str {
        match self {
            Department::Household => "household",
            Department::SocialSecurity => "social-security",
            Department::MedicalInsurance => "medical-insurance",
            Department::Housing => "housing",
            Department::Assistance => "assistance",
            Department::Petitions => "petitions",
            Department::ServiceRecords => "service-records",
        }
    }

    pub fn index(self) -> usize {
        Department::ALL.iter().position(|&d| d == self).unwrap()
    }

    pub fn layout(self) -> &'static Layout {
        depts::layout(self)
    }

    /// Default data rows for a registry of `registry` rows and a population of
    /// `population` (household: everyone registered, so not a target).
    pub fn default_rows(self, registry: u64, population: u64) -> u64 {
        match self {
            Department::Household => registry + population,
            Department::SocialSecurity => population * 6 / 10,
            Department::MedicalInsurance => population * 9 / 10,
            Department::Housing => population / 20,
            Department::Assistance => population / 50,
            Department::Petitions => population / 200,
            Department::ServiceRecords => registry,
        }
    }
}

/// How a district is generated: its seed and sizes. The default is the full-size district.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The same seed and sizes give byte-identical files.
    pub seed: u64,
    /// Registry rows (退役军人和其他优抚对象), duplicates included.
    pub registry: u64,
    /// Household-registration residents who are NOT on the registry.
    pub population: u64,
    /// Departments' data rows instead of [`Department::default_rows`]; the last one given
    /// for a department counts.
    pub department_rows: Vec<(Department, u64)>,
}

impl Default for Options {
    fn default() -> Options {
        Options { seed: 20190419, registry: 30_000, population: 1_000_000, department_rows: Vec::new() }
    }
}

impl Options {
    /// A small district for demos and tests: registry 300, population 3000.
    pub fn small() -> Options {
        Options { registry: 300, population: 3000, ..Options::default() }
    }

    /// Data rows asked of a department.
    pub fn rows_for(&self, department: Department) -> u64 {
        self.department_rows
            .iter()
            .rev()
            .find(|(d, _)| *d == department)
            .map_or_else(|| department.default_rows(self.registry, self.population), |&(_, rows)| rows)
    }
}

/// Generates the district into `out` (created if missing; existing files are replaced);
/// returns what was written.
pub fn generate(options: &Options, out: &Path) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let (registry_rows, population) = (options.registry, options.population);
    if registry_rows == 0 {
        bail!("--registry must be at least 1");
    }
    if registry_rows > 5_000_000 || population > 50_000_000 {
        bail!("sizes beyond a province (registry ≤ 5 000 000, population ≤ 50 000 000) are not supported");
    }
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let registry_rows = registry_rows as usize;
    let population = population as usize;
    let persons = registry_rows - registry::duplicate_rows(registry_rows);
    let max_open_target =
        [Department::SocialSecurity, Department::MedicalInsurance, Department::Housing, Department::Petitions]
            .into_iter()
            .map(|d| options.rows_for(d) as usize)
            .max()
            .unwrap_or(0);
    let migrants = (population / 4).max(max_open_target.saturating_sub(population * 8 / 10));

    let mut universe = people::build(options.seed, persons, population, migrants);
    let rows = registry::plan(&mut universe, registry_rows);
    let universe = &universe;

    let (registry_bytes, outputs) = std::thread::scope(|scope| -> anyhow::Result<_> {
        let registry_job = scope.spawn(|| registry::write(universe, &rows, &out.join(REGISTRY_FILE)));
        let jobs: Vec<_> = Department::ALL
            .into_iter()
            .map(|d| {
                let target = options.rows_for(d);
                scope.spawn(move || depts::write(universe, d, target, out))
            })
            .collect();
        let mut outputs = Vec::new();
        for job in jobs {
            outputs.push(job.join().map_err(|_| anyhow::anyhow!("a department writer panicked"))??);
        }
        let registry_bytes = registry_job.join().map_err(|_| anyhow::anyhow!("the registry writer panicked"))??;
        Ok((registry_bytes, outputs))
    })?;

    let truth = assemble::ground_truth(options.seed, universe, &rows, registry_bytes, &outputs);
    let truth_path = out.join(GROUND_TRUTH_FILE);
    let file = std::fs::File::create(&truth_path).with_context(|| format!("create {}", truth_path.display()))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    serde_json::to_writer(&mut writer, &truth)?;
    writer.write_all(b"\n")?;
    writer.flush()?;
    drop(writer);
    Ok(Manifest {
        out_dir: out.to_owned(),
        seed: options.seed,
        files: truth.files.clone(),
        ground_truth_bytes: std::fs::metadata(&truth_path)?.len(),
        ground_truth: truth_path,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The short summary `bidui synth` prints: every file with its rows, bytes and format.
impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "synthetic Zengcheng district (seed {}) in {}", self.seed, self.out_dir.display())?;
        for file in &self.files {
            writeln!(
                f,
                "  {:<24} {:>10} rows {:>12} bytes  {} {}",
                file.file,
                file.rows,
                file.bytes,
                file.format,
                if file.format == "csv" { file.encoding.as_str() } else { "" }
            )?;
        }
        writeln!(f, "  {:<24} {:>10}      {:>12} bytes", GROUND_TRUTH_FILE, "", self.ground_truth_bytes)?;
        writeln!(f, "done in {:.1} s", self.seconds)
    }
}
