//! The correction loop (整改): towns return their workbooks with 整改情况 and 整改说明 filled
//! in; [`read_workbook`] takes each claim back against the run it came from, and
//! [`progress`] weighs the claims against the next round — per town and category: claimed
//! fixed, confirmed fixed by the new round, claimed but still present, new, still open —
//! and each town's completion (整改完成率); [`progress_over`] adds up every round.
//!
//! A workbook row names its problem by 序号 (the registry row), 问题代码 and 部门; a row
//! that names no problem of the run is an error with its row number, and then nothing of
//! that workbook is taken.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bidui_i18n::t;
use calamine::{Data, Reader};
use serde::{Deserialize, Serialize};

use crate::diff;
use crate::problems::{ProblemKey, ProblemSet};
use crate::xlsx::PROBLEM_SHEET;
use crate::ReportError;

/// The version of `claims.json`.
pub const FORMAT: &str = "bidui-claims/1";

/// The file beside a run's report that keeps what its towns claimed.
pub const CLAIMS_FILE: &str = "claims.json";

/// What a town may answer in 整改情况 (the workbook offers them as a list).
pub const STATUSES: [&str; 3] = [FIXED, "核实无误", "无法整改"];

/// The answer that claims a problem fixed.
pub const FIXED: &str = "已整改";

/// What one town said about one problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub key: ProblemKey,
    pub town: String,
    pub code: String,
    /// The problem's category label.
    pub label: String,
    /// 整改情况 as written.
    pub status: String,
    /// 整改说明 as written.
    pub note: String,
}

impl Claim {
    pub fn claims_fixed(&self) -> bool {
        self.status.trim() == FIXED
    }
}

/// Every claim taken back for one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub format: String,
    pub job: String,
    pub claims: Vec<Claim>,
}

impl Claims {
    pub fn new(job: &str) -> Claims {
        Claims { format: FORMAT.to_owned(), job: job.to_owned(), claims: Vec::new() }
    }

    /// The claims kept beside the run's report in `dir` (none yet: empty); refused when
    /// they are another job's.
    pub fn load(dir: &Path, job: &str) -> Result<Claims, ReportError> {
        let path = dir.join(CLAIMS_FILE);
        if !path.exists() {
            return Ok(Claims::new(job));
        }
        let bytes = std::fs::read(&path).map_err(|e| ReportError::io(&path, e))?;
        let claims: Claims = serde_json::from_slice(&bytes).map_err(|e| bad(&path, e.to_string()))?;
        if claims.job != job {
            return Err(bad(&path, t!("claims-other-job", other = claims.job, job = job)));
        }
        Ok(claims)
    }

    /// Writes the claims to `dir`'s claims.json whole or not at all: a new file beside it,
    /// synced, renamed over it.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let path = dir.join(CLAIMS_FILE);
        let write = || -> std::io::Result<()> {
            let mut file = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(self).expect("claims serialize"))?;
            file.as_file().sync_all()?;
            file.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|e| ReportError::io(&path, e))?;
        Ok(path)
    }

    /// Adds `claims`; a problem claimed again keeps its latest answer.
    pub fn add(&mut self, claims: Vec<Claim>) {
        for claim in claims {
            match self.claims.iter_mut().find(|c| c.key == claim.key) {
                Some(kept) => *kept = claim,
                None => self.claims.push(claim),
            }
        }
        self.claims.sort_by(|a, b| (&a.town, &a.key).cmp(&(&b.town, &b.key)));
    }
}

fn cell_text(cell: Option<&Data>) -> String {
    match cell {
        Some(Data::String(s)) => s.trim().to_owned(),
        Some(Data::Float(f)) if f.fract() == 0.0 => format!("{f:.0}"),
        Some(Data::Int(i)) => i.to_string(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => other.to_string().trim().to_owned(),
    }
}

fn bad(path: &Path, message: String) -> ReportError {
    ReportError::Parse { path: path.to_owned(), message }
}

/// The claims of one returned town workbook of `set`'s run: each row with 整改情况 or
/// 整改说明 filled in. Every row that names no problem of the run is listed in the error,
/// by its row in the sheet.
pub fn read_workbook(path: &Path, set: &ProblemSet) -> Result<Vec<Claim>, ReportError> {
    let mut workbook =
        calamine::open_workbook_auto(path).map_err(|e| bad(path, t!("claims-workbook-unopened", error = e)))?;
    let range =
        workbook.worksheet_range(PROBLEM_SHEET).map_err(|_| bad(path, t!("claims-no-sheet", sheet = PROBLEM_SHEET)))?;
    let mut rows = range.rows();
    let headers: Vec<String> = rows.next().map(|r| r.iter().map(|c| cell_text(Some(c))).collect()).unwrap_or_default();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(path, t!("claims-no-column", sheet = PROBLEM_SHEET, column = name)))
    };
    let (row_c, department_c, code_c, status_c, note_c) =
        (column("序号")?, column("部门")?, column("问题代码")?, column("整改情况")?, column("整改说明")?);
    let mut claims = Vec::new();
    let mut errors = Vec::new();
    for (i, cells) in rows.enumerate() {
        let sheet_row = i + 2;
        let (status, note) = (cell_text(cells.get(status_c)), cell_text(cells.get(note_c)));
        if status.is_empty() && note.is_empty() {
            continue;
        }
        let registry_row: Option<u32> = cell_text(cells.get(row_c)).parse().ok();
        let (code, department) = (cell_text(cells.get(code_c)), cell_text(cells.get(department_c)));
        let problem = registry_row.and_then(|row| {
            set.problems.iter().find(|p| p.row == row && p.code == code && p.department_label() == department)
        });
        match problem {
            Some(p) => claims.push(Claim {
                key: p.key(),
                town: p.town.clone(),
                code: p.code.clone(),
                label: p.label.clone(),
                status,
                note,
            }),
            None => {
                errors.push(t!("claims-unknown-row", line = sheet_row, row = cell_text(cells.get(row_c)), code = code))
            }
        }
    }
    if !errors.is_empty() {
        return Err(bad(
            path,
            t!("claims-unknown-rows", job = set.job, rows = errors.join(&t!("claims-list-separator"))),
        ));
    }
    Ok(claims)
}

/// One town's (or one category's) correction figures between two rounds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// Claimed fixed (已整改) in the earlier round.
    pub claimed_fixed: u64,
    /// Claimed fixed and gone in the later round.
    pub confirmed: u64,
    /// Claimed fixed but still there.
    pub claimed_but_present: u64,
    /// Gone in the later round without a claim.
    pub fixed_unclaimed: u64,
    /// Not there in the earlier round.
    pub new: u64,
    /// Still there, not claimed.
    pub still_open: u64,
    /// Problems of the earlier round.
    pub before: u64,
}

impl Correction {
    /// Adds another pair of rounds' figures (a town over every round).
    pub fn add(&mut self, other: &Correction) {
        self.claimed_fixed += other.claimed_fixed;
        self.confirmed += other.confirmed;
        self.claimed_but_present += other.claimed_but_present;
        self.fixed_unclaimed += other.fixed_unclaimed;
        self.new += other.new;
        self.still_open += other.still_open;
        self.before += other.before;
    }

    /// 整改完成率: the earlier round's problems gone in the later one.
    pub fn completion(&self) -> Option<f64> {
        (self.before > 0).then(|| (self.confirmed + self.fixed_unclaimed) as f64 / self.before as f64)
    }
}

/// A town's corrections, in total and per category.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TownCorrection {
    pub town: String,
    pub total: Correction,
    pub categories: BTreeMap<String, Correction>,
}

/// The corrections of every town between `before` (with its claims) and `after`, ranked by
/// completion (highest first; towns without earlier problems last), then by town.
pub fn progress(before: &ProblemSet, claims: &Claims, after: &ProblemSet) -> Vec<TownCorrection> {
    let changes = diff::diff(before, after);
    let claimed: BTreeMap<&ProblemKey, &Claim> =
        claims.claims.iter().filter(|c| c.claims_fixed()).map(|c| (&c.key, c)).collect();
    let mut towns: Vec<TownCorrection> = Vec::new();
    for (town, d) in &changes.towns {
        let mut t = TownCorrection { town: town.clone(), ..TownCorrection::default() };
        let mut count = |label: &str, apply: &dyn Fn(&mut Correction)| {
            apply(&mut t.total);
            apply(t.categories.entry(label.to_owned()).or_default());
        };
        for p in &d.fixed {
            let is_claimed = claimed.contains_key(&p.key());
            count(&p.label, &|c| {
                c.before += 1;
                if is_claimed {
                    c.claimed_fixed += 1;
                    c.confirmed += 1;
                } else {
                    c.fixed_unclaimed += 1;
                }
            });
        }
        for p in &d.still_open {
            let is_claimed = claimed.contains_key(&p.key());
            count(&p.label, &|c| {
                c.before += 1;
                if is_claimed {
                    c.claimed_fixed += 1;
                    c.claimed_but_present += 1;
                } else {
                    c.still_open += 1;
                }
            });
        }
        for p in &d.new {
            count(&p.label, &|c| c.new += 1);
        }
        towns.push(t);
    }
    rank(&mut towns);
    towns
}

/// Highest completion first; towns without earlier problems last; then by town.
fn rank(towns: &mut [TownCorrection]) {
    towns.sort_by(|a, b| {
        let rate = |t: &TownCorrection| t.total.completion().unwrap_or(-1.0);
        rate(b).total_cmp(&rate(a)).then_with(|| a.town.cmp(&b.town))
    });
}

/// Every town's corrections over all `rounds` (oldest first, each with the claims its towns
/// returned): the figures of each consecutive pair added up, so a town's completion is the
/// share of all the problems it was handed, in any round but the last, that were gone in
/// the round after. Ranked as [`progress`]; empty with fewer than two rounds.
pub fn progress_over(rounds: &[(&ProblemSet, &Claims)]) -> Vec<TownCorrection> {
    let mut towns: BTreeMap<String, TownCorrection> = BTreeMap::new();
    for pair in rounds.windows(2) {
        let ((before, claims), (after, _)) = (pair[0], pair[1]);
        for town in progress(before, claims, after) {
            let sum = towns
                .entry(town.town.clone())
                .or_insert_with(|| TownCorrection { town: town.town.clone(), ..TownCorrection::default() });
            sum.total.add(&town.total);
            for (label, c) in &town.categories {
                sum.categories.entry(label.clone()).or_default().add(c);
            }
        }
    }
    let mut towns: Vec<TownCorrection> = towns.into_values().collect();
    rank(&mut towns);
    towns
}
