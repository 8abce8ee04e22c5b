//! The requester's registry (退役军人和其他优抚对象名册): one row per person, plus the
//! duplicates; every row's messiness decided by exact quotas.

use bidui_core::CivilDate;

use crate::idgen::{self, Cell, IdForm};
use crate::people::{self, Universe, CATEGORIES};
use crate::places::{self, TOWNS};
use crate::rng::{quota, stream, Draw, Stream};
use crate::sink::{Sink, XlsxSink};
use crate::AS_OF;

pub const REGISTRY_FILE: &str = "registry.xlsx";
pub const REGISTRY_SHEET: &str = "优抚对象名册";
pub const REGISTRY_COLUMNS: [&str; 11] = [
    "序号",
    "姓名",
    "性别",
    "出生日期",
    "公民身份号码",
    "优抚类别",
    "镇街",
    "联系电话",
    "户籍地址",
    "享受待遇",
    "状态",
];

/// Registry identity-cell forms and their shares of registry rows (each at least one row
/// when the registry has 100 rows or more). Rows not listed are [`IdForm::Exact`].
pub const REGISTRY_ID_RATES: [(IdForm, f64); 18] = [
    // Forms that need an X check character or a 19xx birth come first, while rows are free.
    (IdForm::LowercaseX, 0.005),
    (IdForm::TimesX, 0.001),
    (IdForm::Old15, 0.010),
    (IdForm::Old15Number, 0.003),
    (IdForm::Number, 0.010),
    (IdForm::Scientific, 0.003),
    (IdForm::Truncated, 0.003),
    (IdForm::DotZero, 0.003),
    (IdForm::FullWidth, 0.003),
    (IdForm::Spaces, 0.005),
    (IdForm::Invisible, 0.003),
    (IdForm::Apostrophe, 0.005),
    (IdForm::Typo, 0.005),
    (IdForm::TypoValid, 0.002),
    (IdForm::Length, 0.001),
    (IdForm::Charset, 0.0005),
    (IdForm::Birthdate, 0.0005),
    (IdForm::Empty, 0.003),
];

/// Extra rows that repeat a person, as a share of registry rows (at least two from 20 rows).
pub const RATE_DUPLICATE_ROWS: f64 = 0.005;
/// Share of duplicate rows filed by another town.
pub const SHARE_DUPLICATES_OTHER_TOWN: f64 = 0.4;
/// Row-level shares (each at least one row from 20 rows).
pub const RATE_MISSING_PHONE: f64 = 0.08;
pub const RATE_MISSING_ADDRESS: f64 = 0.05;
pub const RATE_OTHER_ADDRESS: f64 = 0.03;
pub const RATE_OTHER_TOWN: f64 = 0.02;
pub const RATE_WRONG_SEX: f64 = 0.002;
pub const RATE_WRONG_BIRTH: f64 = 0.003;
/// Share of rows with a wrong number whose person has a namesake in the population (same
/// name, birth date and sex; at least one).
pub const RATE_NAMESAKE: f64 = 0.1;

pub(crate) struct RegRow {
    pub person: u32,
    pub town: u8,
    pub id_form: IdForm,
    pub cell: Cell,
    pub male: bool,
    pub birth: CivilDate,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub treatment: &'static str,
}

pub(crate) fn duplicate_rows(rows: usize) -> usize {
    quota(RATE_DUPLICATE_ROWS, rows, if rows >= 20 { 2 } else { 0 })
}

fn treatment(category: u8, rng: &mut impl Draw) -> &'static str {
    let options: &[(&str, u32)] = match category {
        0 => &[("退役金", 40), ("无", 50), ("残疾抚恤金", 10)],
        1 => &[
            ("无", 70),
            ("老年农村退役士兵生活补助", 15),
            ("参战参试退役人员生活补助", 8),
            ("残疾抚恤金", 5),
            ("带病回乡退伍军人生活补助", 2),
        ],
        2..=4 => &[("红军老战士生活补助", 1)],
        5 => &[("在乡复员军人定期定量补助", 1)],
        6 => &[("离休费", 1)],
        7 => &[("退休费", 1)],
        8 => &[("烈属定期抚恤金", 1)],
        9 => &[("因公牺牲军人遗属定期抚恤金", 1)],
        10 => &[("病故军人遗属定期抚恤金", 1)],
        11 => &[("义务兵家庭优待金", 60), ("无", 40)],
        _ => &[("伤残抚恤金", 1)],
    };
    let weights: Vec<u32> = options.iter().map(|o| o.1).collect();
    options[rng.weighted(&weights)].0
}

fn other_town(town: u8, rng: &mut impl Draw) -> u8 {
    let t = rng.below(12) as u8;
    if t >= town {
        t + 1
    } else {
        t
    }
}

fn wrong_birth(birth: CivilDate, rng: &mut impl Draw) -> CivilDate {
    loop {
        let candidate = match rng.below(3) {
            0 => CivilDate::new(
                birth.year,
                birth.month,
                (birth.day as i32 + [-2, -1, 1, 2][rng.index(4)]).clamp(1, 31) as u8,
            ),
            1 => CivilDate::new(birth.year, birth.day, birth.month),
            _ => CivilDate::new((birth.year as i32 + [-1, 1][rng.index(2)]) as u16, birth.month, birth.day),
        };
        if let Some(c) = candidate {
            if c != birth && c <= AS_OF {
                return c;
            }
        }
    }
}

/// Whether a cell written in this form reads as the true number.
fn reads_true_form(form: IdForm) -> bool {
    !matches!(
        form,
        IdForm::Number
            | IdForm::Scientific
            | IdForm::Truncated
            | IdForm::Typo
            | IdForm::TypoValid
            | IdForm::Length
            | IdForm::Charset
            | IdForm::Birthdate
            | IdForm::Empty
    )
}

fn choose_rows(
    rng: &mut rand_chacha::ChaCha8Rng,
    order: &mut [usize],
    used: &mut [bool],
    want: usize,
    ok: &dyn Fn(usize) -> bool,
) -> Vec<usize> {
    let mut out = Vec::new();
    rng.shuffle(order);
    for &r in order.iter() {
        if out.len() == want {
            break;
        }
        if !used[r] && ok(r) {
            used[r] = true;
            out.push(r);
        }
    }
    out
}

/// Plans the registry rows, in file order (by town, then at random).
pub(crate) fn plan(universe: &mut Universe, rows: usize) -> Vec<RegRow> {
    let seed = universe.seed;
    let mut rng = stream(seed, Stream::Registry, 0);
    let persons = universe.registry;
    let extras = rows - persons;

    // Which persons appear twice (and one three times when there are enough duplicates).
    let mut pool: Vec<usize> = (0..persons).collect();
    let mut dup_persons = people::choose(&mut rng, &mut pool, extras, |_| true, |_| true);
    if extras >= 5 {
        let last = dup_persons.len() - 1;
        dup_persons[last] = dup_persons[last - 1];
    }
    let other_town_extras = quota(SHARE_DUPLICATES_OTHER_TOWN, extras, usize::from(extras > 0));

    let mut plan: Vec<RegRow> = Vec::with_capacity(rows);
    for p in 0..persons {
        let person = universe.persons[p];
        plan.push(RegRow {
            person: p as u32,
            town: person.town,
            id_form: IdForm::Exact,
            cell: Cell::Text(String::new()),
            male: person.male(),
            birth: person.birth(),
            phone: Some(places::phone(seed, p as u32)),
            address: Some(places::household_address(seed, p as u32, person.town)),
            treatment: treatment(person.category, &mut rng),
        });
    }
    for (k, &p) in dup_persons.iter().enumerate() {
        let person = universe.persons[p];
        let mut town = person.town;
        let mut address = Some(places::household_address(seed, p as u32, person.town));
        if k < other_town_extras {
            town = other_town(town, &mut rng);
            address = Some(places::other_address(seed, p as u32, town, ""));
        }
        plan.push(RegRow {
            person: p as u32,
            town,
            id_form: IdForm::Exact,
            cell: Cell::Text(String::new()),
            male: person.male(),
            birth: person.birth(),
            phone: Some(places::phone(seed, p as u32)),
            address,
            treatment: treatment(person.category, &mut rng),
        });
    }

    // Identity-cell forms: exact quotas over rows whose number allows the form.
    let mut order: Vec<usize> = (0..rows).collect();
    rng.shuffle(&mut order);
    let min = usize::from(rows >= 100);
    for (form, rate) in REGISTRY_ID_RATES {
        let want = quota(rate, rows, min);
        let mut got = 0;
        for &r in &order {
            if got == want {
                break;
            }
            let body = universe.persons[plan[r].person as usize].body;
            if plan[r].id_form == IdForm::Exact && idgen::form_applicable(form, body, true) {
                plan[r].id_form = form;
                got += 1;
            }
        }
    }
    for row in &mut plan {
        let body = universe.persons[row.person as usize].body;
        row.cell = idgen::render(row.id_form, body, &mut rng, false, &|b| universe.taken(b));
        if row.id_form == IdForm::TypoValid {
            let text = row.cell.text();
            let new_body: u64 = text[..17].parse().unwrap();
            universe.reserve(new_body);
        }
    }

    // Row-level attribute problems, each on its own rows. Wrong sex or birth date only where
    // the identity cell still reads as the true number, so that probable matches by name,
    // birth date and sex stay possible where the number is wrong.
    let row_min = usize::from(rows >= 20);
    let mut used = vec![false; rows];
    let reads_true = |r: usize| reads_true_form(plan[r].id_form);
    let is_first = |r: usize| r < persons;
    let mut pick = |rate: f64, used: &mut Vec<bool>, ok: &dyn Fn(usize) -> bool| {
        choose_rows(&mut rng, &mut order, used, quota(rate, rows, row_min), ok)
    };
    let wrong_sex = pick(RATE_WRONG_SEX, &mut used, &|r| reads_true(r) && is_first(r));
    let wrong_birth_rows = pick(RATE_WRONG_BIRTH, &mut used, &|r| reads_true(r) && is_first(r));
    let other_town_rows = pick(RATE_OTHER_TOWN, &mut used, &is_first);
    let other_address_rows = pick(RATE_OTHER_ADDRESS, &mut used, &is_first);
    let missing_address = pick(RATE_MISSING_ADDRESS, &mut used, &is_first);
    // Missing phones may fall on any row, including those above.
    let missing_phone = pick(RATE_MISSING_PHONE, &mut vec![false; rows], &|_| true);

    for r in wrong_sex {
        plan[r].male = !plan[r].male;
    }
    for r in wrong_birth_rows {
        plan[r].birth = wrong_birth(plan[r].birth, &mut rng);
    }
    for r in other_town_rows {
        let p = plan[r].person;
        plan[r].town = other_town(plan[r].town, &mut rng);
        plan[r].address = Some(places::other_address(seed, p, plan[r].town, ""));
    }
    for r in other_address_rows {
        let p = plan[r].person;
        let household = places::household_address(seed, p, universe.persons[p as usize].town);
        plan[r].address = Some(places::other_address(seed, p, plan[r].town, &household));
    }
    for r in missing_address {
        plan[r].address = None;
    }
    for r in missing_phone {
        plan[r].phone = None;
    }

    // Namesakes for some persons whose number is wrong: the secondary keys then find two
    // people, and the match must stay "needs verification".
    let bad: Vec<usize> = (0..persons).filter(|&r| !reads_true_form(plan[r].id_form)).collect();
    let population = universe.population_range();
    let namesakes = quota(RATE_NAMESAKE, bad.len(), 1);
    if !population.is_empty() && namesakes > 0 {
        let mut pool: Vec<usize> = population.map(|q| q as usize).collect();
        let chosen = people::choose(&mut rng, &mut pool, namesakes, |_| true, |_| true);
        for (k, q) in chosen.into_iter().enumerate() {
            let p = plan[bad[k * bad.len() / namesakes]].person;
            universe.make_namesake(q as u32, p, &mut rng);
        }
    }

    // File order: by town as the towns filed them, then at random.
    let keys: Vec<u64> = (0..rows).map(|_| rng.next()).collect();
    let mut indexed: Vec<(usize, RegRow)> = plan.into_iter().enumerate().collect();
    indexed.sort_by_key(|(i, row)| (row.town, keys[*i]));
    indexed.into_iter().map(|(_, row)| row).collect()
}

pub(crate) fn write(universe: &Universe, rows: &[RegRow], path: &std::path::Path) -> anyhow::Result<u64> {
    let mut sink = XlsxSink::create(path, REGISTRY_SHEET, "增城区退役军人事务局", false)?;
    sink.header(&REGISTRY_COLUMNS)?;
    let sex = |male: bool| if male { "男" } else { "女" };
    for (i, row) in rows.iter().enumerate() {
        let person = &universe.persons[row.person as usize];
        let name = universe.name(row.person);
        let cells = [
            Cell::Number((i + 1) as f64),
            Cell::Text(name.text),
            Cell::Text(sex(row.male).to_owned()),
            Cell::Text(format!("{:04}-{:02}-{:02}", row.birth.year, row.birth.month, row.birth.day)),
            row.cell.clone(),
            Cell::Text(CATEGORIES[usize::from(person.category)].to_owned()),
            Cell::Text(TOWNS[usize::from(row.town)].to_owned()),
            Cell::Text(row.phone.clone().unwrap_or_default()),
            Cell::Text(row.address.clone().unwrap_or_default()),
            Cell::Text(row.treatment.to_owned()),
            Cell::Text("在册".to_owned()),
        ];
        sink.row(&cells)?;
    }
    sink.finish()
}
