//! Zengcheng's towns and streets, plausible (not real) addresses, area codes, employers and
//! phone numbers.

use crate::rng::{Draw, Purpose, SplitMix};

/// Zengcheng's six streets (街道) and seven towns (镇), with weights close to their share of
/// the registered population.
pub const TOWNS: [&str; 13] = [
    "荔城街道",
    "增江街道",
    "朱村街道",
    "永宁街道",
    "荔湖街道",
    "宁西街道",
    "新塘镇",
    "石滩镇",
    "中新镇",
    "派潭镇",
    "小楼镇",
    "正果镇",
    "仙村镇",
];

pub(crate) const TOWN_WEIGHTS: [u32; 13] = [12, 7, 5, 11, 6, 5, 21, 9, 8, 5, 3, 3, 5];

/// Roads and villages per town (plausible names; house numbers are invented).
const PLACES: [&[&str]; 13] = [
    &["荔城大道", "府佑路", "光明西路", "夏街大道", "廖村", "城丰村", "棠村", "荔园路"],
    &["增江大道", "东桥路", "陆村", "大埔围村", "光辉村", "初溪村", "联益村", "西山村"],
    &["朱村大道", "山田村", "丹邱村", "凤岗村", "南岗村", "横塱村", "神岗村", "秀水村"],
    &["永宁大道", "简村", "翟洞村", "公安村", "长岗村", "塔岗村", "誉山村", "元岭村"],
    &["荔湖大道", "三联村", "合汇村", "竹园村", "白湖村", "乌石村"],
    &["宁西大道", "宁西村", "新街村", "白石村", "太平村", "九益村"],
    &["港口大道", "新墩村", "久裕村", "白江村", "塘美村", "西洲村", "甘涌村", "群星村", "沙埔大道", "东华村"],
    &["石滩大道", "三江大道", "沙庄村", "岗尾村", "麻车村", "下围村", "田桥村"],
    &["中新大道", "坑背村", "莲塘村", "五联村", "福和大道", "团结村", "大田村"],
    &["派潭村", "高滩村", "邓村", "汉湖村", "灵山村", "七境村"],
    &["小楼村", "腊圃村", "西境村", "二龙村", "庙潭村", "江坳村"],
    &["正果村", "兰溪村", "黄屋村", "何屋村", "番丰村", "新围村"],
    &["仙村", "沙头村", "基岗村", "碧潭村", "岳湖村", "蓝山村"],
];

/// An address in `town` drawn from `rng`: `广东省广州市增城区新塘镇塘美村三巷12号`.
pub(crate) fn address_in(town: u8, rng: &mut impl Draw) -> String {
    let place = *rng.pick(PLACES[usize::from(town)]);
    let number = rng.range(1, 180);
    let rest = if place.ends_with('村') {
        const LANES: [&str; 9] = ["一", "二", "三", "四", "五", "六", "七", "八", "九"];
        if rng.chance(0.6) {
            format!("{}巷{number}号", rng.pick(&LANES))
        } else {
            format!("{number}号")
        }
    } else if rng.chance(0.5) {
        format!("{number}号{}栋{}房", rng.range(1, 12), rng.range(101, 1806))
    } else {
        format!("{number}号")
    };
    format!("广东省广州市增城区{}{place}{rest}", TOWNS[usize::from(town)])
}

/// The household-registration address of a person (as 公安 records it).
pub(crate) fn household_address(seed: u64, person: u32, town: u8) -> String {
    address_in(town, &mut SplitMix::for_person(seed, person, Purpose::Address))
}

/// Another address, in `town`, for the same person (an out-of-date one in the registry).
pub(crate) fn other_address(seed: u64, person: u32, town: u8, household: &str) -> String {
    let mut rng = SplitMix::for_person(seed, person, Purpose::AltAddress);
    loop {
        let a = address_in(town, &mut rng);
        if a != household {
            return a;
        }
    }
}

/// A contact phone: mostly mobiles, some Zengcheng landlines (020-82xx / 020-32xx).
pub(crate) fn phone(seed: u64, person: u32) -> String {
    let mut rng = SplitMix::for_person(seed, person, Purpose::Phone);
    if rng.chance(0.85) {
        const PREFIXES: [&str; 12] =
            ["134", "135", "136", "137", "138", "139", "150", "152", "158", "159", "188", "189"];
        format!("{}{:08}", rng.pick(&PREFIXES), rng.below(100_000_000))
    } else {
        format!("020-{}{:06}", rng.pick(&["82", "32"]), rng.below(1_000_000))
    }
}

const FIRMS: [&str; 16] = [
    "荔丰",
    "增江",
    "挂绿",
    "凤凰",
    "华盛",
    "永宏",
    "鸿达",
    "顺景",
    "金源",
    "新塘牛仔",
    "利达",
    "广汇",
    "东升",
    "恒信",
    "嘉和",
    "粤兴",
];
const TRADES: [&str; 12] =
    ["制衣", "电子", "五金", "食品", "物流", "建材", "汽车配件", "纺织", "塑料制品", "家具", "印务", "物业管理"];
const INSTITUTIONS: [&str; 8] = [
    "广州市增城区人民医院",
    "广州市增城区教育局",
    "广州市增城区城市管理局",
    "广州市增城区市场监督管理局",
    "广州市增城区公路事务中心",
    "增城区荔城街道办事处",
    "增城区新塘镇人民政府",
    "中国邮政集团有限公司广州市增城区分公司",
];

/// The employer a person is insured through (stable per person).
pub(crate) fn employer(seed: u64, person: u32) -> String {
    let mut rng = SplitMix::for_person(seed, person, Purpose::Employer);
    if rng.chance(0.12) {
        (*rng.pick(&INSTITUTIONS)).to_owned()
    } else {
        format!("广州市增城{}{}有限公司", rng.pick(&FIRMS), rng.pick(&TRADES))
    }
}

/// Where a person's identity number was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Zengcheng: 440125 (增城县, numbers issued before 1993), 440183 (增城市, 1993–2014),
    /// 440118 (增城区, since February 2014).
    Local,
    /// Another district of Guangzhou (4401xx).
    Guangzhou,
    /// Elsewhere in Guangdong or another province.
    Elsewhere,
    /// Xinjiang (a minority name with a middle dot).
    Xinjiang,
}

const GUANGZHOU: [u32; 12] =
    [440103, 440104, 440105, 440106, 440111, 440112, 440113, 440114, 440115, 440117, 440184, 440116];
const ELSEWHERE: [u32; 20] = [
    441402, 441481, 440882, 441302, 441322, 441821, 445221, 440923, 430521, 431021, 450881, 450921, 510321, 511322,
    411522, 360732, 421182, 500234, 522121, 350583,
];
const XINJIANG: [u32; 3] = [650102, 652801, 653101];

/// The 6-digit address code of a person born `year`/`month` with this origin.
pub(crate) fn area_code(origin: Origin, year: u16, month: u8, rng: &mut impl Draw) -> u32 {
    match origin {
        Origin::Local => {
            if (year, month) >= (2014, 2) {
                440118
            } else if year < 1988 && rng.chance(0.15) {
                440125
            } else {
                440183
            }
        }
        Origin::Guangzhou => *rng.pick(&GUANGZHOU),
        Origin::Elsewhere => *rng.pick(&ELSEWHERE),
        Origin::Xinjiang => *rng.pick(&XINJIANG),
    }
}
