//! The synthetic people: registry persons, the rest of the household-registered
//! population, and residents without Zengcheng household registration (migrants). Each is
//! a few bytes; names, addresses and phones are recomputed from the seed when written.

use std::collections::{HashMap, HashSet};

use bidui_core::CivilDate;

use crate::idgen::{self, Body};
use crate::names::{self, PersonName};
use crate::places::{self, Origin};
use crate::rng::{quota, stream, Draw, Purpose, SplitMix, Stream};
use crate::AS_OF;

/// The 13 kinds of 优抚对象 (collection plan, section 二), in the plan's order.
pub const CATEGORIES: [&str; 13] = [
    "退役军官",
    "退役士兵",
    "退伍红军老战士",
    "西路军红军老战士",
    "红军失散人员",
    "老复员军人",
    "无军籍离休干部",
    "无军籍退休退职职工",
    "烈士遗属",
    "因公牺牲军人遗属",
    "病故军人遗属",
    "现役军人家属",
    "享受国家抚恤的伤残民兵民工",
];

/// Share of each category, per 100 000 registry persons.
pub const CATEGORY_WEIGHTS: [u32; 13] = [4000, 78000, 5, 3, 10, 1800, 80, 400, 1500, 500, 600, 12800, 300];

const CATEGORY_MALE: [f64; 13] = [0.95, 0.97, 1.0, 1.0, 1.0, 1.0, 0.7, 0.7, 0.3, 0.25, 0.25, 0.4, 0.95];

/// Birth-year ranges per category (inclusive).
const CATEGORY_BIRTH: [(u16, u16); 13] = [
    (1935, 1988),
    (1935, 1999),
    (1914, 1922),
    (1915, 1921),
    (1914, 1922),
    (1924, 1936),
    (1920, 1932),
    (1925, 1945),
    (1928, 1995),
    (1935, 2005),
    (1935, 2005),
    (1950, 2018),
    (1930, 1965),
];

/// Categories whose members served, so have a service record at the armed-forces department.
pub(crate) fn served(category: u8) -> bool {
    category <= 5
}

pub(crate) const STATUS_NORMAL: u8 = 0;
pub(crate) const STATUS_DECEASED: u8 = 1;
pub(crate) const STATUS_MOVED_OUT: u8 = 2;

pub(crate) const FLAG_MINORITY: u8 = 1;
/// Registry person missing from household registration.
pub(crate) const FLAG_ABSENT: u8 = 2;
/// Registry person receiving assistance in two towns.
pub(crate) const FLAG_TWO_TOWN: u8 = 4;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Person {
    pub body: Body,
    pub town: u8,
    pub status: u8,
    pub flags: u8,
    pub category: u8,
}

impl Person {
    pub fn male(&self) -> bool {
        idgen::is_male(self.body)
    }
    pub fn birth(&self) -> CivilDate {
        idgen::birth_of(self.body)
    }
    pub fn minority(&self) -> bool {
        self.flags & FLAG_MINORITY != 0
    }
}

pub(crate) struct Universe {
    pub seed: u64,
    pub persons: Vec<Person>,
    /// Persons `0..registry` are on the registry.
    pub registry: usize,
    /// Persons `registry..registry + population` are the rest of the household population.
    pub population: usize,
    /// Persons after that are residents without household registration here.
    pub migrants: usize,
    ids: HashSet<Body>,
    /// Population persons who bear the name of a registry person (and share their birth
    /// date and sex): namesakes that make secondary keys ambiguous.
    namesakes: HashMap<u32, u32>,
}

impl Universe {
    pub fn name(&self, p: u32) -> PersonName {
        let p = self.namesakes.get(&p).copied().unwrap_or(p);
        let person = &self.persons[p as usize];
        names::generate(&mut SplitMix::for_person(self.seed, p, Purpose::Name), person.male(), person.minority())
    }

    pub fn is_registry(&self, p: u32) -> bool {
        (p as usize) < self.registry
    }

    pub fn population_range(&self) -> std::ops::Range<u32> {
        self.registry as u32..(self.registry + self.population) as u32
    }

    pub fn migrant_range(&self) -> std::ops::Range<u32> {
        (self.registry + self.population) as u32..self.persons.len() as u32
    }

    /// Whether a canonical body belongs to someone (or is reserved).
    pub fn taken(&self, body: Body) -> bool {
        self.ids.contains(&body)
    }

    pub fn reserve(&mut self, body: Body) {
        self.ids.insert(body);
    }

    /// Turns population person `q` into a namesake of registry person `p`: same name,
    /// birth date and sex, another identity number.
    pub fn make_namesake(&mut self, q: u32, p: u32, rng: &mut impl Draw) {
        let model = self.persons[p as usize];
        let body = new_body(rng, &mut self.ids, Origin::Local, model.birth(), model.male());
        let q_person = &mut self.persons[q as usize];
        q_person.body = body;
        q_person.flags = model.flags & FLAG_MINORITY;
        self.namesakes.insert(q, p);
    }
}

fn birth_in_years(rng: &mut impl Draw, lo: u16, hi: u16) -> CivilDate {
    loop {
        let year = rng.range(u64::from(lo), u64::from(hi)) as u16;
        let month = rng.range(1, 12) as u8;
        let day = rng.range(1, 31) as u8;
        if let Some(date) = CivilDate::new(year, month, day) {
            if date <= AS_OF {
                return date;
            }
        }
    }
}

/// Birth years of the household population: five-year buckets from 1920.
const POPULATION_BUCKETS: [u32; 20] = [1, 2, 4, 7, 10, 14, 16, 16, 18, 24, 26, 24, 22, 20, 18, 16, 15, 15, 14, 10];

fn population_birth(rng: &mut impl Draw) -> CivilDate {
    let bucket = rng.weighted(&POPULATION_BUCKETS) as u16;
    birth_in_years(rng, 1920 + bucket * 5, 1924 + bucket * 5)
}

/// Retired soldiers: most of them born 1950–1990.
fn soldier_birth(rng: &mut impl Draw) -> CivilDate {
    const RANGES: [(u16, u16); 6] =
        [(1935, 1949), (1950, 1959), (1960, 1969), (1970, 1979), (1980, 1989), (1990, 1999)];
    let (lo, hi) = RANGES[rng.weighted(&[10, 20, 25, 22, 15, 8])];
    birth_in_years(rng, lo, hi)
}

fn new_body(rng: &mut impl Draw, ids: &mut HashSet<Body>, origin: Origin, birth: CivilDate, male: bool) -> Body {
    loop {
        let area = places::area_code(origin, birth.year, birth.month, rng);
        let seq = rng.below(100) as u32 * 10 + rng.below(5) as u32 * 2 + u32::from(male);
        let body = idgen::make_body(area, birth, seq);
        if ids.insert(body) {
            return body;
        }
    }
}

/// Picks `n` distinct indices of `pool` that satisfy `ok`, preferring those satisfying
/// `prefer` first.
pub(crate) fn choose(
    rng: &mut impl Draw,
    pool: &mut [usize],
    n: usize,
    ok: impl Fn(usize) -> bool,
    prefer: impl Fn(usize) -> bool,
) -> Vec<usize> {
    rng.shuffle(pool);
    let mut chosen: Vec<usize> = pool.iter().copied().filter(|&i| ok(i) && prefer(i)).take(n).collect();
    if chosen.len() < n {
        let more: Vec<usize> = pool.iter().copied().filter(|&i| ok(i) && !prefer(i)).take(n - chosen.len()).collect();
        chosen.extend(more);
    }
    chosen
}

/// Registry-person rates (share of registry persons; each at least one).
pub(crate) const RATE_DECEASED: f64 = 0.015;
pub(crate) const RATE_MOVED_OUT: f64 = 0.010;
pub(crate) const RATE_ABSENT: f64 = 0.020;
pub(crate) const RATE_TWO_TOWN: f64 = 0.003;
pub(crate) const RATE_MINORITY: f64 = 0.001;

pub(crate) fn build(seed: u64, registry: usize, population: usize, migrants: usize) -> Universe {
    let mut rng = stream(seed, Stream::People, 0);
    let total = registry + population + migrants;
    let mut ids = HashSet::with_capacity(total + total / 8);
    let mut persons = Vec::with_capacity(total);

    // Registry persons: exact category counts, at least one of each when there is room.
    let mut categories: Vec<u8> = Vec::with_capacity(registry);
    let total_weight: u32 = CATEGORY_WEIGHTS.iter().sum();
    for (c, &w) in CATEGORY_WEIGHTS.iter().enumerate() {
        if c == 1 {
            continue;
        }
        let min = usize::from(registry >= 100);
        let n = quota(f64::from(w) / f64::from(total_weight), registry, min);
        categories.extend(std::iter::repeat_n(c as u8, n));
    }
    categories.truncate(registry);
    categories.resize(registry, 1);
    rng.shuffle(&mut categories);
    let minority_n = quota(RATE_MINORITY, registry, usize::from(registry >= 50));
    let mut all: Vec<usize> = (0..registry).collect();
    let minority: HashSet<usize> =
        choose(&mut rng, &mut all, minority_n, |i| categories[i] == 1, |_| true).into_iter().collect();

    for (i, &category) in categories.iter().enumerate() {
        let c = usize::from(category);
        let male = rng.chance(CATEGORY_MALE[c]);
        let birth = if c == 1 {
            soldier_birth(&mut rng)
        } else {
            birth_in_years(&mut rng, CATEGORY_BIRTH[c].0, CATEGORY_BIRTH[c].1)
        };
        let is_minority = minority.contains(&i);
        let origin = if is_minority {
            Origin::Xinjiang
        } else {
            [Origin::Local, Origin::Guangzhou, Origin::Elsewhere][rng.weighted(&[85, 5, 10])]
        };
        let body = new_body(&mut rng, &mut ids, origin, birth, male);
        let town = rng.weighted(&places::TOWN_WEIGHTS) as u8;
        persons.push(Person {
            body,
            town,
            status: STATUS_NORMAL,
            flags: if is_minority { FLAG_MINORITY } else { 0 },
            category,
        });
    }

    for _ in 0..population {
        let male = rng.chance(0.51);
        let birth = population_birth(&mut rng);
        let (origin, flags) = match rng.weighted(&[8195, 600, 1200, 5]) {
            0 => (Origin::Local, 0),
            1 => (Origin::Guangzhou, 0),
            2 => (Origin::Elsewhere, 0),
            _ => (Origin::Xinjiang, FLAG_MINORITY),
        };
        let body = new_body(&mut rng, &mut ids, origin, birth, male);
        let town = rng.weighted(&places::TOWN_WEIGHTS) as u8;
        let dead = match birth.year {
            ..1940 => 0.12,
            1940..1960 => 0.02,
            _ => 0.004,
        };
        let status = if rng.chance(dead) {
            STATUS_DECEASED
        } else if rng.chance(0.01) {
            STATUS_MOVED_OUT
        } else {
            STATUS_NORMAL
        };
        persons.push(Person { body, town, status, flags, category: u8::MAX });
    }

    for _ in 0..migrants {
        let male = rng.chance(0.55);
        let birth = birth_in_years(&mut rng, 1955, 2003);
        let (origin, flags) = match rng.weighted(&[100, 895, 5]) {
            0 => (Origin::Guangzhou, 0),
            1 => (Origin::Elsewhere, 0),
            _ => (Origin::Xinjiang, FLAG_MINORITY),
        };
        let body = new_body(&mut rng, &mut ids, origin, birth, male);
        let town = rng.weighted(&places::TOWN_WEIGHTS) as u8;
        persons.push(Person { body, town, status: STATUS_NORMAL, flags, category: u8::MAX });
    }

    // Registry persons' situations in other departments: exclusive sets.
    let mut used = vec![false; registry];
    let mut pick = |rng: &mut rand_chacha::ChaCha8Rng, rate: f64, prefer_old: bool, persons: &[Person]| -> Vec<usize> {
        let n = quota(rate, registry, usize::from(registry >= 20));
        let mut pool: Vec<usize> = (0..registry).collect();
        let chosen = choose(rng, &mut pool, n, |i| !used[i], |i| !prefer_old || persons[i].birth().year < 1950);
        for &i in &chosen {
            used[i] = true;
        }
        chosen
    };
    for i in pick(&mut rng, RATE_DECEASED, true, &persons) {
        persons[i].status = STATUS_DECEASED;
    }
    for i in pick(&mut rng, RATE_MOVED_OUT, false, &persons) {
        persons[i].status = STATUS_MOVED_OUT;
    }
    for i in pick(&mut rng, RATE_ABSENT, false, &persons) {
        persons[i].flags |= FLAG_ABSENT;
    }
    for i in pick(&mut rng, RATE_TWO_TOWN, false, &persons) {
        persons[i].flags |= FLAG_TWO_TOWN;
    }

    Universe { seed, persons, registry, population, migrants, ids, namesakes: HashMap::new() }
}
