//! The department extracts: who is in each, how their cells are written, and the rows.

use crate::idgen::{self, Cell, IdForm};
use crate::names::{self, NameForm};
use crate::people::{self, Person, Universe, STATUS_DECEASED, STATUS_MOVED_OUT};
use crate::places::{self, TOWNS};
use crate::rng::{quota, stream, Draw, Purpose, SplitMix, Stream};
use crate::sink::{CsvSink, Encoding, Sink, XlsxSink};
use crate::truth::Appearance;
use crate::{Department, AS_OF};

/// A department file's layout.
pub struct Layout {
    pub department: Department,
    pub file: &'static str,
    /// `"csv"` or `"xlsx"`.
    pub format: &'static str,
    /// `utf-8`, `utf-8-bom`, `gbk`, `gb18030`; `xlsx` for workbooks.
    pub encoding: &'static str,
    pub sheet: Option<&'static str>,
    pub columns: &'static [&'static str],
    pub id_column: &'static str,
    pub name_column: &'static str,
    /// Shares of rows whose identity cell is written in a messy form (rows not listed are
    /// exact). For registry persons these are exact quotas (at least one each); for the
    /// others a per-row draw.
    pub id_rates: &'static [(IdForm, f64)],
    /// Shares of registry persons' rows whose name is written differently.
    pub name_rates: &'static [(NameForm, f64)],
    author: &'static str,
}

const NAME_RATES_HOUSEHOLD: &[(NameForm, f64)] = &[
    (NameForm::HomophoneCantonese, 0.002),
    (NameForm::Variant, 0.003),
    (NameForm::Homophone, 0.003),
    (NameForm::Different, 0.001),
];
const NAME_RATES: &[(NameForm, f64)] = &[
    (NameForm::DotLookalike, 0.5),
    (NameForm::HomophoneCantonese, 0.005),
    (NameForm::Variant, 0.015),
    (NameForm::Homophone, 0.010),
    (NameForm::Spaced, 0.005),
    (NameForm::Different, 0.002),
];

pub const LAYOUTS: [Layout; 7] = [
    Layout {
        department: Department::Household,
        file: "household.csv",
        format: "csv",
        encoding: "utf-8",
        sheet: None,
        columns: &["姓名", "性别", "出生日期", "身份证号", "户籍状态", "户籍地址", "所属镇街"],
        id_column: "身份证号",
        name_column: "姓名",
        id_rates: &[(IdForm::LowercaseX, 0.002), (IdForm::Spaces, 0.002)],
        name_rates: NAME_RATES_HOUSEHOLD,
        author: "",
    },
    Layout {
        department: Department::SocialSecurity,
        file: "social-security.csv",
        format: "csv",
        encoding: "gbk",
        sheet: None,
        columns: &["姓名", "公民身份号码", "参保状态", "养老金领取", "参保单位", "联系电话"],
        id_column: "公民身份号码",
        name_column: "姓名",
        id_rates: &[
            (IdForm::LowercaseX, 0.003),
            (IdForm::Old15, 0.010),
            (IdForm::Scientific, 0.002),
            (IdForm::Truncated, 0.002),
            (IdForm::DotZero, 0.005),
            (IdForm::Apostrophe, 0.010),
            (IdForm::Spaces, 0.005),
        ],
        name_rates: NAME_RATES,
        author: "",
    },
    Layout {
        department: Department::MedicalInsurance,
        file: "medical-insurance.xlsx",
        format: "xlsx",
        encoding: "xlsx",
        sheet: Some("医保参保信息"),
        columns: &["姓名", "证件号码", "参保类型", "参保状态"],
        id_column: "证件号码",
        name_column: "姓名",
        id_rates: &[
            (IdForm::LowercaseX, 0.003),
            (IdForm::Old15Number, 0.002),
            (IdForm::Number, 0.005),
            (IdForm::FullWidth, 0.002),
            (IdForm::Spaces, 0.003),
        ],
        name_rates: NAME_RATES,
        author: "增城区医疗保障局",
    },
    Layout {
        department: Department::Housing,
        file: "housing.csv",
        format: "csv",
        encoding: "utf-8-bom",
        sheet: None,
        columns: &["姓名", "身份证号", "住房类型", "房屋地址"],
        id_column: "身份证号",
        name_column: "姓名",
        id_rates: &[
            (IdForm::LowercaseX, 0.003),
            (IdForm::TimesX, 0.002),
            (IdForm::Scientific, 0.003),
            (IdForm::FullWidth, 0.005),
            (IdForm::Invisible, 0.005),
            (IdForm::Spaces, 0.005),
        ],
        name_rates: NAME_RATES,
        author: "",
    },
    Layout {
        department: Department::Assistance,
        file: "assistance.xlsx",
        format: "xlsx",
        encoding: "xlsx",
        sheet: Some("救助对象"),
        columns: &["姓名", "身份证号", "救助类型", "所属镇街", "月救助金额"],
        id_column: "身份证号",
        name_column: "姓名",
        id_rates: &[
            (IdForm::Old15, 0.003),
            (IdForm::Number, 0.005),
            (IdForm::FullWidth, 0.003),
            (IdForm::Apostrophe, 0.005),
            (IdForm::Spaces, 0.005),
        ],
        name_rates: NAME_RATES,
        author: "增城区民政局",
    },
    Layout {
        department: Department::Petitions,
        file: "petitions.csv",
        format: "csv",
        encoding: "gb18030",
        sheet: None,
        columns: &["姓名", "身份证号码", "主要诉求", "登记日期"],
        id_column: "身份证号码",
        name_column: "姓名",
        id_rates: &[
            (IdForm::LowercaseX, 0.005),
            (IdForm::TimesX, 0.003),
            (IdForm::Old15, 0.005),
            (IdForm::FullWidth, 0.010),
            (IdForm::Invisible, 0.003),
            (IdForm::Spaces, 0.010),
        ],
        name_rates: NAME_RATES,
        author: "",
    },
    Layout {
        department: Department::ServiceRecords,
        file: "service-records.xlsx",
        format: "xlsx",
        encoding: "xlsx",
        sheet: Some("服役信息"),
        columns: &["姓名", "公民身份号码", "入伍时间", "退伍时间", "军种"],
        id_column: "公民身份号码",
        name_column: "姓名",
        id_rates: &[
            (IdForm::LowercaseX, 0.005),
            (IdForm::Old15, 0.030),
            (IdForm::Number, 0.005),
            (IdForm::Truncated, 0.002),
        ],
        name_rates: NAME_RATES,
        author: "增城区人民武装部",
    },
];

pub(crate) fn layout(department: Department) -> &'static Layout {
    LAYOUTS.iter().find(|l| l.department == department).expect("every department has a layout")
}

/// Shares of registry persons found in each department (before the row targets add the
/// rest of the population).
pub const REGISTRY_IN_SOCIAL_SECURITY: f64 = 0.78;
pub const REGISTRY_IN_MEDICAL: f64 = 0.95;
pub const REGISTRY_IN_HOUSING: f64 = 0.08;
pub const REGISTRY_IN_ASSISTANCE: f64 = 0.03;
pub const REGISTRY_IN_PETITIONS: f64 = 0.02;
pub const SERVED_IN_SERVICE_RECORDS: f64 = 0.92;

#[derive(Clone, Copy)]
struct Entry {
    person: u32,
    /// Town written in the row, if not the person's own (two-town assistance).
    town: Option<u8>,
    id_form: IdForm,
    name_form: NameForm,
}

pub(crate) struct DeptOutput {
    pub department: Department,
    pub rows: u64,
    pub bytes: u64,
    pub appearances: Vec<(u32, Appearance)>,
    /// Rows of people not on the registry that are worth listing (service records of
    /// veterans the registry lacks).
    pub unregistered_rows: Vec<u64>,
}

fn age(person: &Person) -> i32 {
    let b = person.birth();
    i32::from(AS_OF.year) - i32::from(b.year) - i32::from((AS_OF.month, AS_OF.day) < (b.month, b.day))
}

/// Whether someone outside the registry can be drawn into this department.
fn eligible_other(department: Department, person: &Person, seed: u64, p: u32) -> bool {
    let year = person.birth().year;
    match department {
        Department::Household => true,
        Department::SocialSecurity => year <= 2003,
        Department::MedicalInsurance => true,
        Department::Housing | Department::Petitions => year <= 2000,
        Department::Assistance => true,
        Department::ServiceRecords => {
            (1935..=1999).contains(&year)
                && (person.male() || SplitMix::for_person(seed, p, Purpose::Service).chance(0.03))
        }
    }
}

fn petition_repeats(rng: &mut impl Draw) -> usize {
    1 + rng.weighted(&[50, 30, 15, 5])
}

pub(crate) fn write(
    universe: &Universe,
    department: Department,
    target: u64,
    out: &std::path::Path,
) -> anyhow::Result<DeptOutput> {
    let layout = layout(department);
    let seed = universe.seed;
    let mut rng = stream(seed, Stream::Department, department.index() as u64);
    let xlsx = layout.format == "xlsx";
    let gbk = layout.encoding == "gbk";

    // Registry persons in this department.
    let mut entries: Vec<Entry> = Vec::new();
    let plain = |person: u32| Entry { person, town: None, id_form: IdForm::Exact, name_form: NameForm::Exact };
    for p in 0..universe.registry as u32 {
        let person = &universe.persons[p as usize];
        let n = match department {
            Department::Household => usize::from(person.flags & people::FLAG_ABSENT == 0),
            Department::SocialSecurity => {
                usize::from(person.birth().year <= 2001 && rng.chance(REGISTRY_IN_SOCIAL_SECURITY))
            }
            Department::MedicalInsurance => usize::from(rng.chance(REGISTRY_IN_MEDICAL)),
            Department::Housing => usize::from(rng.chance(REGISTRY_IN_HOUSING)),
            Department::Assistance => {
                if person.flags & people::FLAG_TWO_TOWN != 0 {
                    let other = (person.town + 1 + rng.below(12) as u8) % 13;
                    entries.push(plain(p));
                    entries.push(Entry { town: Some(other), ..plain(p) });
                    0
                } else {
                    usize::from(rng.chance(REGISTRY_IN_ASSISTANCE))
                }
            }
            Department::Petitions => {
                if rng.chance(REGISTRY_IN_PETITIONS) {
                    petition_repeats(&mut rng)
                } else {
                    0
                }
            }
            Department::ServiceRecords => {
                usize::from(people::served(person.category) && rng.chance(SERVED_IN_SERVICE_RECORDS))
            }
        };
        entries.extend(std::iter::repeat_n(plain(p), n));
    }

    // Their identity and name forms: exact quotas.
    let registry_entries = entries.len();
    let mut order: Vec<usize> = (0..registry_entries).collect();
    rng.shuffle(&mut order);
    let mut assigned = vec![false; registry_entries];
    for &(form, rate) in layout.id_rates {
        let want = quota(rate, registry_entries, 1);
        let mut got = 0;
        for &i in &order {
            if got == want {
                break;
            }
            let body = universe.persons[entries[i].person as usize].body;
            if !assigned[i] && idgen::form_applicable(form, body, xlsx) {
                entries[i].id_form = form;
                assigned[i] = true;
                got += 1;
            }
        }
    }
    rng.shuffle(&mut order);
    let mut assigned = vec![false; registry_entries];
    let minority_entries = entries.iter().filter(|e| universe.persons[e.person as usize].minority()).count();
    for &(form, rate) in layout.name_rates {
        let base = if form == NameForm::DotLookalike { minority_entries } else { registry_entries };
        let want = quota(rate, base, 1);
        let mut got = 0;
        for &i in &order {
            if got == want {
                break;
            }
            if !assigned[i] && names::applicable(&universe.name(entries[i].person), form) {
                entries[i].name_form = form;
                assigned[i] = true;
                got += 1;
            }
        }
    }

    // The rest of the population, up to the row target.
    if department == Department::Household {
        entries.extend(universe.population_range().map(plain));
    } else {
        let mut candidates: Vec<u32> = universe
            .population_range()
            .chain(if department == Department::Assistance || department == Department::ServiceRecords {
                0..0
            } else {
                universe.migrant_range()
            })
            .filter(|&p| eligible_other(department, &universe.persons[p as usize], seed, p))
            .collect();
        let mut want = (target as usize).saturating_sub(registry_entries);
        let mut taken = 0;
        while want > 0 && taken < candidates.len() {
            let j = taken + rng.index(candidates.len() - taken);
            candidates.swap(taken, j);
            let p = candidates[taken];
            taken += 1;
            let n = if department == Department::Petitions { petition_repeats(&mut rng).min(want) } else { 1 };
            entries.extend(std::iter::repeat_n(plain(p), n));
            want -= n;
        }
    }
    rng.shuffle(&mut entries);

    let path = out.join(layout.file);
    let mut output =
        DeptOutput { department, rows: 0, bytes: 0, appearances: Vec::new(), unregistered_rows: Vec::new() };
    let encoding = match layout.encoding {
        "gbk" => Encoding::Gbk,
        "gb18030" => Encoding::Gb18030,
        "utf-8-bom" => Encoding::Utf8Bom,
        _ => Encoding::Utf8,
    };
    let mut sink = if xlsx {
        AnySink::Xlsx(XlsxSink::create(&path, layout.sheet.unwrap_or("Sheet1"), layout.author, true)?)
    } else {
        AnySink::Csv(CsvSink::create(&path, encoding)?)
    };
    sink.header(layout.columns)?;
    let taken = |b: u64| universe.taken(b);
    for entry in &entries {
        let p = entry.person;
        let person = &universe.persons[p as usize];
        let registry = universe.is_registry(p);
        // Others' forms are drawn here, at the same rates.
        let (id_form, name_form) = if registry {
            (entry.id_form, entry.name_form)
        } else {
            (draw_id_form(layout, person.body, xlsx, &mut rng), draw_name_form(layout, &mut rng))
        };
        let name = universe.name(p);
        let mut name_text = names::render(&name, name_form, &mut rng, person.male());
        let mut name_form = name_form;
        if gbk && !gbk_encodable(&name_text) {
            name_text = name.text.clone();
            name_form = NameForm::Exact;
        }
        let id_cell = idgen::render(id_form, person.body, &mut rng, gbk, &taken);
        let town = entry.town.unwrap_or(person.town);
        output.rows += 1;
        let row = output.rows;
        if registry {
            let (outcome, parsed) = idgen::outcome_of(&id_cell.text());
            let truth = idgen::canonical_string(person.body);
            output.appearances.push((
                p,
                Appearance {
                    row,
                    id_form,
                    id_outcome: outcome,
                    id_correct: parsed.as_deref() == Some(truth.as_str()),
                    name_form,
                    name: name_text.clone(),
                    town: matches!(department, Department::Household | Department::Assistance)
                        .then(|| TOWNS[usize::from(town)].to_owned()),
                },
            ));
        } else if department == Department::ServiceRecords {
            output.unregistered_rows.push(row);
        }
        let cells = row_cells(department, universe, p, person, town, name_text, id_cell, &mut rng);
        sink.row(&cells)?;
    }
    output.bytes = sink.finish()?;
    Ok(output)
}

#[allow(clippy::large_enum_variant)] // one per file
enum AnySink {
    Csv(CsvSink),
    Xlsx(XlsxSink),
}

impl Sink for AnySink {
    fn header(&mut self, columns: &[&str]) -> anyhow::Result<()> {
        match self {
            AnySink::Csv(s) => s.header(columns),
            AnySink::Xlsx(s) => s.header(columns),
        }
    }

    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()> {
        match self {
            AnySink::Csv(s) => s.row(cells),
            AnySink::Xlsx(s) => s.row(cells),
        }
    }

    fn finish(self) -> anyhow::Result<u64> {
        match self {
            AnySink::Csv(s) => s.finish(),
            AnySink::Xlsx(s) => s.finish(),
        }
    }
}

fn gbk_encodable(text: &str) -> bool {
    let (_, _, unmappable) = encoding_rs::GBK.encode(text);
    !unmappable
}

fn draw_id_form(layout: &Layout, body: u64, xlsx: bool, rng: &mut impl Draw) -> IdForm {
    let mut x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    for &(form, rate) in layout.id_rates {
        if x < rate {
            return if idgen::form_applicable(form, body, xlsx) { form } else { IdForm::Exact };
        }
        x -= rate;
    }
    IdForm::Exact
}

fn draw_name_form(layout: &Layout, rng: &mut impl Draw) -> NameForm {
    let mut x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    for &(form, rate) in layout.name_rates {
        if form == NameForm::DotLookalike {
            continue;
        }
        if x < rate {
            return form;
        }
        x -= rate;
    }
    NameForm::Exact
}

const DEMANDS_VETERAN: [&str; 10] = [
    "要求提高优抚待遇标准",
    "要求解决退役安置就业问题",
    "要求落实退役士兵社保接续",
    "要求解决住房困难",
    "要求补办退伍证明材料",
    "反映医疗费用报销困难",
    "要求认定参战参试身份",
    "反映企业军转干部生活困难",
    "要求解决子女入学问题",
    "反映伤残等级评定问题",
];
const DEMANDS_OTHER: [&str; 8] = [
    "反映征地补偿款发放问题",
    "反映劳动报酬被拖欠",
    "反映物业管理纠纷",
    "要求解决拆迁安置问题",
    "反映宅基地纠纷",
    "反映噪音扰民问题",
    "要求办理低保",
    "反映环境污染问题",
];

#[allow(clippy::too_many_arguments)]
fn row_cells(
    department: Department,
    universe: &Universe,
    p: u32,
    person: &Person,
    town: u8,
    name: String,
    id: Cell,
    rng: &mut impl Draw,
) -> Vec<Cell> {
    let seed = universe.seed;
    let text = |s: &str| Cell::Text(s.to_owned());
    let dead = person.status == STATUS_DECEASED;
    let age = age(person);
    let retired = age >= if person.male() { 60 } else { 50 };
    match department {
        Department::Household => {
            let b = person.birth();
            let status = match person.status {
                STATUS_DECEASED => "死亡",
                STATUS_MOVED_OUT => "迁出",
                _ => "正常",
            };
            vec![
                Cell::Text(name),
                text(if person.male() { "男" } else { "女" }),
                Cell::Text(format!("{:04}{:02}{:02}", b.year, b.month, b.day)),
                id,
                text(status),
                Cell::Text(places::household_address(seed, p, person.town)),
                text(TOWNS[usize::from(town)]),
            ]
        }
        Department::SocialSecurity => {
            let (status, pension) = if dead {
                ("终止参保", "否")
            } else if retired {
                ("正常参保", if rng.chance(0.92) { "是" } else { "否" })
            } else {
                (["正常参保", "暂停缴费", "终止参保"][rng.weighted(&[85, 10, 5])], "否")
            };
            let employer = if retired && rng.chance(0.4) {
                "广州市增城区城乡居民养老保险".to_owned()
            } else if !retired && rng.chance(0.2) {
                "灵活就业人员".to_owned()
            } else {
                places::employer(seed, p)
            };
            vec![
                Cell::Text(name),
                id,
                text(status),
                text(pension),
                Cell::Text(employer),
                Cell::Text(places::phone(seed, p)),
            ]
        }
        Department::MedicalInsurance => {
            let kind = if (18..65).contains(&age) && rng.chance(0.6) {
                "城镇职工基本医疗保险"
            } else {
                "城乡居民基本医疗保险"
            };
            let status = if dead {
                "终止参保"
            } else {
                ["正常参保", "暂停参保", "终止参保"][rng.weighted(&[90, 7, 3])]
            };
            vec![Cell::Text(name), id, text(kind), text(status)]
        }
        Department::Housing => {
            const KINDS: [&str; 8] = [
                "自有住房",
                "宅基地自建房",
                "商品房",
                "公共租赁住房",
                "廉租住房",
                "经济适用住房",
                "农村危房改造",
                "租赁私房",
            ];
            let kind = KINDS[rng.weighted(&[30, 28, 15, 8, 3, 4, 3, 9])];
            let mut r = SplitMix::for_person(seed, p, Purpose::Housing);
            let address = if universe.is_registry(p) || (p as usize) < universe.registry + universe.population {
                if r.chance(0.6) {
                    places::household_address(seed, p, person.town)
                } else {
                    places::address_in(person.town, &mut r)
                }
            } else {
                places::address_in(person.town, &mut r)
            };
            vec![Cell::Text(name), id, text(kind), Cell::Text(address)]
        }
        Department::Assistance => {
            let special = age >= 60 && rng.chance(0.25);
            let (kind, amount) = if special {
                ("特困", 1515.0 + 10.0 * rng.range(0, 100) as f64)
            } else {
                ("低保", 10.0 * rng.range(20, 101) as f64)
            };
            vec![Cell::Text(name), id, text(kind), text(TOWNS[usize::from(town)]), Cell::Number(amount)]
        }
        Department::Petitions => {
            let demand = if universe.is_registry(p) && rng.chance(0.8) {
                *rng.pick(&DEMANDS_VETERAN)
            } else {
                *rng.pick(&DEMANDS_OTHER)
            };
            let date = loop {
                let d = bidui_core::CivilDate::new(
                    rng.range(2015, 2019) as u16,
                    rng.range(1, 12) as u8,
                    rng.range(1, 28) as u8,
                );
                if let Some(d) = d.filter(|d| *d < AS_OF) {
                    break d;
                }
            };
            vec![
                Cell::Text(name),
                id,
                text(demand),
                Cell::Text(format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)),
            ]
        }
        Department::ServiceRecords => {
            let (enlist, discharge) = service_dates(universe, p, person);
            let mut r = SplitMix::for_person(seed, p, Purpose::Service);
            const BRANCHES: [&str; 6] = ["陆军", "海军", "空军", "火箭军", "武警部队", "战略支援部队"];
            let mut branch = BRANCHES[r.weighted(&[70, 8, 8, 3, 10, 1])];
            if discharge.0 < 2016 {
                branch = match branch {
                    "火箭军" => "第二炮兵",
                    "战略支援部队" => "陆军",
                    b => b,
                };
            }
            if (2..=4).contains(&person.category) {
                branch = "中国工农红军";
            }
            vec![
                Cell::Text(name),
                id,
                Cell::Text(format!("{:04}-{:02}", enlist.0, enlist.1)),
                Cell::Text(format!("{:04}-{:02}", discharge.0, discharge.1)),
                text(branch),
            ]
        }
    }
}

/// Enlistment and discharge (year, month), stable per person.
fn service_dates(universe: &Universe, p: u32, person: &Person) -> ((u16, u8), (u16, u8)) {
    let mut r = SplitMix::for_person(universe.seed, p, Purpose::Service);
    let _ = r.next();
    let birth = person.birth().year;
    let (enlist_year, years) = match person.category {
        2..=4 => (1933 + r.below(4) as u16, 3 + r.below(10) as u16),
        5 => ((birth + 18).clamp(1945, 1954), 3 + r.below(8) as u16),
        0 => (birth + 17 + r.below(4) as u16, 8 + r.below(18) as u16),
        _ => (birth + 17 + r.below(4) as u16, [2, 3, 4, 5, 8, 12][r.weighted(&[30, 30, 15, 10, 10, 5])]),
    };
    let mut enlist_year = enlist_year;
    if enlist_year + years > 2018 {
        enlist_year = 2018 - years;
    }
    let month = if enlist_year >= 2013 { 9 } else { 12 };
    let (enlist, discharge) = if person.category == 0 {
        ((enlist_year, r.range(1, 12) as u8), (enlist_year + years, r.range(1, 12) as u8))
    } else {
        ((enlist_year, month), (enlist_year + years, month))
    };
    (enlist, discharge)
}
