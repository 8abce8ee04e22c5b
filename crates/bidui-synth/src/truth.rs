//! `ground-truth.json`: what the generator did, row by row, so tests can check an agent,
//! the matcher and the report against it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::idgen::IdForm;
use crate::names::NameForm;
use crate::Department;

/// The whole ground truth. Row numbers are 1-based *data* rows: row 1 is the first row
/// after the header (spreadsheet row 2 in xlsx, line 2 in CSV). In the registry, the data
/// row number is also the `序号`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// `"bidui-synth/1"`.
    pub format: String,
    pub seed: u64,
    /// The date the data describes (`YYYY-MM-DD`); outcomes are those of
    /// `bidui_core::IdNumber::parse(cell, as_of)`, and the same for any later "today".
    pub as_of: String,
    pub files: Vec<FileInfo>,
    pub summary: Summary,
    /// One entry per registry data row, in row order.
    pub registry: Vec<RegistryRow>,
    /// Registry rows that are the same person (groups of two or three rows).
    pub duplicates: Vec<DuplicateGroup>,
    /// Registry persons dead in household registration (户籍状态 死亡) but 在册.
    pub deceased_active: Vec<StatusCase>,
    /// Registry persons moved out in household registration (户籍状态 迁出) but 在册.
    pub moved_out_active: Vec<StatusCase>,
    /// Registry rows whose person is not in `household.csv` at all.
    pub absent_from_household: Vec<u64>,
    /// Registry persons with two assistance rows in two different 所属镇街.
    pub two_town_assistance: Vec<TwoTownAssistance>,
    /// Empty registry fields that a department's row holds.
    pub fill_ins: Vec<FillIn>,
    /// Registry fields that disagree with household registration.
    pub disagreements: Vec<Disagreement>,
    /// Registry rows whose identity cell does not read as the person's true number, with
    /// the department rows where the person is (by a number that does read true): to be
    /// found by name + birth date + sex and flagged "needs verification".
    pub probable_matches: Vec<ProbableMatch>,
    /// Service-record rows of people who are not on the registry (veterans it lacks).
    pub unregistered_service_records: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// `None` for the registry.
    pub department: Option<Department>,
    pub file: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// `utf-8`, `utf-8-bom`, `gbk`, `gb18030`, or `xlsx`.
    pub encoding: String,
    pub sheet: Option<String>,
    pub columns: Vec<String>,
    pub id_column: String,
    pub name_column: String,
    /// Data rows (header excluded).
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryRow {
    /// Data row number, equal to `序号`.
    pub row: u64,
    /// The synthetic person (stable within one generation; duplicates share it).
    pub person: u32,
    /// The true canonical 18-character identity number.
    pub identity: String,
    /// The identity cell as a reader gets it (number cells through `number_cell_text`).
    pub id_cell: String,
    /// `text`, `number` or `empty`.
    pub id_cell_type: String,
    pub id_form: IdForm,
    /// `"OK"` or the bidui-core error code (`empty`, `excel-mangled`, `length`, `charset`,
    /// `birthdate`, `checksum`).
    pub id_outcome: String,
    /// Whether the cell reads as the true identity (false for every error, and for
    /// [`IdForm::TypoValid`], which reads as a valid number nobody has).
    pub id_correct: bool,
    pub name: String,
    /// As written in the row (`男`/`女`).
    pub sex: String,
    /// As written in the row (`YYYY-MM-DD`).
    pub birth_date: String,
    pub category: String,
    pub town: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Where the person appears in each department (absent key: nowhere).
    pub appearances: BTreeMap<Department, Vec<Appearance>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Appearance {
    /// Data row number in the department's file.
    pub row: u64,
    pub id_form: IdForm,
    /// `"OK"` or the bidui-core error code of the department's cell.
    pub id_outcome: String,
    /// Whether the department's cell reads as the true identity (so can match by number).
    pub id_correct: bool,
    pub name_form: NameForm,
    /// The name as written in the department's row.
    pub name: String,
    /// The town written in the row, for files that have one (household, assistance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DuplicateGroup {
    pub rows: Vec<u64>,
    pub towns: Vec<String>,
    /// Whether the rows are filed by different towns.
    pub different_towns: bool,
    /// Whether every row's identity cell reads as the true number (so duplicates can be
    /// found by number alone).
    pub detectable_by_id: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusCase {
    pub registry_rows: Vec<u64>,
    pub household_row: u64,
    /// `死亡` or `迁出`.
    pub household_status: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoTownAssistance {
    pub registry_rows: Vec<u64>,
    pub assistance_rows: Vec<u64>,
    pub towns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FillIn {
    pub registry_row: u64,
    /// `联系电话` or `户籍地址`.
    pub field: String,
    pub department: Department,
    pub department_row: u64,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    pub registry_row: u64,
    /// Registry column: `性别`, `出生日期`, `镇街` or `户籍地址`.
    pub field: String,
    pub department: Department,
    pub department_row: u64,
    pub registry_value: String,
    pub department_value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbableMatch {
    pub registry_row: u64,
    /// The registry cell's outcome (`"OK"` for a valid number that is not the person's).
    pub registry_id_outcome: String,
    pub department: Department,
    pub department_row: u64,
    /// How the department writes the name (a probable match by exact name needs
    /// `exact`/`spaced`/`variant`).
    pub name_form: NameForm,
    /// Whether someone else in household registration shares the true name, birth date
    /// and sex (then the secondary keys cannot decide).
    pub ambiguous: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub registry_rows: u64,
    pub registry_persons: u64,
    pub population: u64,
    pub migrants: u64,
    pub department_rows: BTreeMap<Department, u64>,
    /// Registry persons appearing at least once, per department.
    pub registry_persons_found: BTreeMap<Department, u64>,
    pub categories: BTreeMap<String, u64>,
    pub towns: BTreeMap<String, u64>,
    pub registry_id_forms: BTreeMap<IdForm, u64>,
    pub registry_id_outcomes: BTreeMap<String, u64>,
    /// Identity forms of registry persons' rows, per department.
    pub department_id_forms: BTreeMap<Department, BTreeMap<IdForm, u64>>,
    /// Name forms of registry persons' rows, per department.
    pub department_name_forms: BTreeMap<Department, BTreeMap<NameForm, u64>>,
    pub duplicate_groups: u64,
    pub duplicate_extra_rows: u64,
    pub deceased_active: u64,
    pub moved_out_active: u64,
    pub absent_from_household: u64,
    pub two_town_assistance: u64,
    pub missing_phone: u64,
    pub missing_address: u64,
    pub fill_ins: u64,
    pub disagreements: BTreeMap<String, u64>,
    pub probable_matches: u64,
    pub probable_match_rows: u64,
    pub ambiguous_probable_matches: u64,
    pub unregistered_service_records: u64,
}

/// What [`crate::generate`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub out_dir: std::path::PathBuf,
    pub seed: u64,
    pub files: Vec<FileInfo>,
    /// Path of `ground-truth.json`.
    pub ground_truth: std::path::PathBuf,
    pub ground_truth_bytes: u64,
    pub seconds: f64,
}
