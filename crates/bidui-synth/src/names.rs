//! Chinese personal names with the surname frequencies of the Pearl River Delta, and the
//! ways a department writes someone else's name: traditional characters, Mandarin
//! homophones, the Cantonese 黄/王, spaces, middle-dot look-alikes, a different name.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::rng::Draw;

/// How a department row writes the name of a registry person, relative to the registry's
/// `姓名` (which is the person's true name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameForm {
    /// Character for character the registry's name.
    Exact,
    /// A space (ASCII or U+3000) between surname and given name: same name once whitespace
    /// is removed.
    Spaced,
    /// A minority name whose middle dot `·` (U+00B7) is written with a look-alike
    /// (U+2022 `•`, U+30FB `・`, U+FF65 `･`, U+2027 `‧`, U+2219 `∙`, U+FF0E `．`).
    DotLookalike,
    /// Traditional characters (陈→陳, 伟→偉 …): the same name after traditional→simplified.
    Variant,
    /// One character replaced by a Mandarin homophone (same toneless pinyin): 张→章, 明→铭.
    Homophone,
    /// The Cantonese homophone surname 黄↔王 (both *wong*): different in Mandarin.
    HomophoneCantonese,
    /// Another given name altogether (a typing error or a change of name): a different name.
    Different,
}

impl NameForm {
    pub const ALL: [NameForm; 7] = [
        NameForm::Exact,
        NameForm::Spaced,
        NameForm::DotLookalike,
        NameForm::Variant,
        NameForm::Homophone,
        NameForm::HomophoneCantonese,
        NameForm::Different,
    ];
}

/// `(surname, weight per 10 000, traditional form or "", homophones)`.
pub(crate) const SURNAMES: &[(&str, u32, &str, &[&str])] = &[
    ("陈", 1200, "陳", &["辰", "晨"]),
    ("李", 700, "", &["黎", "理"]),
    ("黄", 650, "黃", &["皇", "煌"]),
    ("张", 450, "張", &["章"]),
    ("梁", 400, "", &["良", "粮"]),
    ("刘", 420, "劉", &["留", "柳"]),
    ("林", 330, "", &["琳", "霖"]),
    ("何", 320, "", &["贺", "禾"]),
    ("钟", 300, "鍾", &["忠", "终"]),
    ("罗", 250, "羅", &["骆", "洛"]),
    ("叶", 200, "葉", &["业", "页"]),
    ("谢", 200, "謝", &["协"]),
    ("邓", 200, "鄧", &["登", "灯"]),
    ("朱", 200, "", &["珠", "诸"]),
    ("冯", 150, "馮", &["逢"]),
    ("王", 220, "", &["汪"]),
    ("曾", 150, "", &[]),
    ("吴", 200, "吳", &["伍", "武"]),
    ("郭", 150, "", &["锅"]),
    ("赖", 150, "賴", &["癞"]),
    ("湛", 100, "", &["战", "站"]),
    ("许", 100, "許", &["徐"]),
    ("潘", 100, "", &["攀", "盘"]),
    ("蔡", 100, "", &["菜"]),
    ("杨", 150, "楊", &["阳", "扬"]),
    ("邱", 100, "", &["丘", "秋"]),
    ("周", 150, "", &["舟", "州"]),
    ("卢", 100, "盧", &["芦", "鲁"]),
    ("廖", 100, "", &["寥"]),
    ("徐", 100, "", &["许"]),
    ("汤", 50, "湯", &["唐"]),
    ("苏", 100, "蘇", &["酥"]),
    ("郑", 150, "鄭", &["政"]),
    ("邝", 50, "鄺", &["况", "匡"]),
    ("麦", 80, "麥", &["迈"]),
    ("温", 80, "溫", &["文", "闻"]),
    ("严", 50, "嚴", &["颜", "言"]),
    ("古", 50, "", &["谷"]),
    ("欧阳", 30, "歐陽", &["欧杨"]),
    ("司徒", 20, "", &["司涂"]),
];

/// `(character, traditional form or "", homophones)`, men's given-name characters.
const GIVEN_MALE: &[(&str, &str, &str)] = &[
    ("伟", "偉", "玮炜"),
    ("强", "強", ""),
    ("军", "軍", "君钧"),
    ("明", "", "铭鸣"),
    ("华", "華", "骅桦"),
    ("辉", "輝", "晖"),
    ("建", "", "健剑"),
    ("国", "國", "帼"),
    ("志", "", "智至"),
    ("文", "", "闻纹"),
    ("海", "", ""),
    ("平", "", "坪"),
    ("东", "東", "冬"),
    ("锦", "錦", "金"),
    ("荣", "榮", "容蓉"),
    ("贤", "賢", "娴"),
    ("伦", "倫", "仑"),
    ("广", "廣", ""),
    ("发", "發", "法"),
    ("财", "財", "才"),
    ("庆", "慶", "青"),
    ("顺", "順", "舜"),
    ("汉", "漢", "翰"),
    ("胜", "勝", "圣"),
    ("权", "權", "全泉"),
    ("坚", "堅", "兼"),
    ("锋", "鋒", "峰丰"),
    ("亮", "", "谅"),
    ("斌", "", "彬滨"),
    ("雄", "", "熊"),
    ("永", "", "勇泳"),
    ("成", "", "诚城"),
    ("金", "", "锦"),
    ("洪", "", "宏鸿"),
    ("浩", "", "豪昊"),
    ("俊", "", "骏峻"),
    ("杰", "傑", "洁捷"),
    ("勇", "", "永"),
    ("涛", "濤", "韬滔"),
    ("鹏", "鵬", "朋蓬"),
    ("健", "", "建"),
    ("宏", "", "洪鸿"),
    ("振", "", "震"),
    ("家", "", "佳嘉"),
    ("宇", "", "雨羽"),
    ("铭", "銘", "明"),
    ("泽", "澤", "则"),
    ("思", "", "斯"),
    ("焕", "煥", "换"),
    ("祥", "", "翔"),
    ("福", "", "富"),
    ("根", "", "跟"),
    ("培", "", "佩"),
    ("灿", "燦", "璨"),
    ("耀", "", "曜"),
    ("添", "", "天"),
    ("桂", "", "贵"),
    ("森", "", ""),
    ("炳", "", "丙"),
    ("棠", "", "堂唐"),
    ("水", "", ""),
    ("钊", "釗", "招"),
    ("礼", "禮", "理"),
    ("龙", "龍", "隆"),
    ("标", "標", "彪"),
    ("锐", "銳", "瑞"),
];

/// Women's given-name characters.
const GIVEN_FEMALE: &[(&str, &str, &str)] = &[
    ("芳", "", "方"),
    ("丽", "麗", "莉俐"),
    ("敏", "", "闽"),
    ("静", "靜", "婧晶"),
    ("燕", "", "艳雁"),
    ("玲", "", "铃龄"),
    ("霞", "", "侠"),
    ("红", "紅", "虹鸿"),
    ("秀", "", "绣"),
    ("英", "", "莹瑛"),
    ("兰", "蘭", "岚蓝"),
    ("凤", "鳳", "峰"),
    ("娟", "", "鹃"),
    ("婷", "", "亭庭"),
    ("颖", "穎", "影"),
    ("琼", "瓊", ""),
    ("珍", "", "真贞"),
    ("美", "", "梅玫"),
    ("娇", "嬌", "姣"),
    ("妹", "", ""),
    ("带", "帶", "代"),
    ("好", "", ""),
    ("惠", "", "慧"),
    ("慧", "", "惠"),
    ("群", "", "裙"),
    ("梅", "", "美玫"),
    ("莲", "蓮", "连廉"),
    ("琴", "", "芹勤"),
    ("仪", "儀", "怡宜"),
    ("欣", "", "馨新"),
    ("雪", "", ""),
    ("彩", "", "采"),
    ("嫦", "", "常"),
    ("卿", "", "清青"),
    ("萍", "", "平苹"),
    ("晓", "曉", "筱"),
    ("雯", "", "文"),
    ("诗", "詩", "施师"),
    ("婉", "", "宛"),
    ("佩", "", "培"),
    ("淑", "", "舒书"),
    ("碧", "", "璧"),
    ("玉", "", "钰"),
    ("银", "銀", "吟"),
    ("嘉", "", "佳"),
    ("洁", "潔", "杰"),
];

/// Uyghur names (written with U+00B7): a few registry people come from Xinjiang.
const MINORITY_MALE: &[&str] =
    &["买买提·艾力", "艾尔肯·吐尔逊", "阿不都热合曼·买买提", "努尔艾力·库尔班", "吐尔洪·艾买提", "阿迪力·吾守尔"];
const MINORITY_FEMALE: &[&str] =
    &["古丽娜尔·艾买提", "热娜古丽·吾守尔", "帕提古丽·阿西木", "阿依努尔·托合提", "迪丽拜尔·卡德尔", "米热古丽·吐尔逊"];

/// Look-alikes of the middle dot that departments' systems and typists use.
pub(crate) const DOT_LOOKALIKES: &[char] = &['\u{2022}', '\u{30FB}', '\u{FF65}', '\u{2027}', '\u{2219}', '\u{FF0E}'];

struct Tables {
    surname_weights: Vec<u32>,
    traditional: HashMap<char, char>,
    homophones: HashMap<char, Vec<char>>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut traditional = HashMap::new();
        let mut homophones = HashMap::new();
        for &(surname, _, trad, _) in SURNAMES {
            for (s, t) in surname.chars().zip(trad.chars()) {
                if s != t {
                    traditional.insert(s, t);
                }
            }
        }
        for &(c, trad, homs) in GIVEN_MALE.iter().chain(GIVEN_FEMALE) {
            let c = c.chars().next().unwrap();
            if let Some(t) = trad.chars().next() {
                traditional.insert(c, t);
            }
            if !homs.is_empty() {
                homophones.insert(c, homs.chars().collect());
            }
        }
        // Characters of minority names that have traditional forms.
        for (s, t) in [('买', '買'), ('艾', '艾'), ('尔', '爾'), ('逊', '遜'), ('热', '熱'), ('库', '庫'), ('伦', '倫')]
        {
            if s != t {
                traditional.entry(s).or_insert(t);
            }
        }
        Tables { surname_weights: SURNAMES.iter().map(|s| s.1).collect(), traditional, homophones }
    })
}

/// A generated name: `surname_len` leading characters are the surname (0 for minority names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PersonName {
    pub text: String,
    pub surname: Option<usize>,
    pub minority: bool,
}

impl PersonName {
    fn surname_text(&self) -> &'static str {
        self.surname.map_or("", |i| SURNAMES[i].0)
    }

    fn given(&self) -> &str {
        &self.text[self.surname_text().len()..]
    }
}

pub(crate) fn generate(rng: &mut impl Draw, male: bool, minority: bool) -> PersonName {
    if minority {
        let list = if male { MINORITY_MALE } else { MINORITY_FEMALE };
        return PersonName { text: (*rng.pick(list)).to_owned(), surname: None, minority: true };
    }
    let surname = rng.weighted(&tables().surname_weights);
    let mut text = SURNAMES[surname].0.to_owned();
    text.push_str(&given_name(rng, male));
    PersonName { text, surname: Some(surname), minority: false }
}

fn given_name(rng: &mut impl Draw, male: bool) -> String {
    let pool = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    let len = if rng.chance(0.18) { 1 } else { 2 };
    let mut given = String::new();
    let mut last = "";
    for _ in 0..len {
        let mut c = rng.pick(pool).0;
        if c == last {
            c = rng.pick(pool).0;
        }
        given.push_str(c);
        last = c;
    }
    given
}

/// Whether `form` can be applied to this name.
pub(crate) fn applicable(name: &PersonName, form: NameForm) -> bool {
    let t = tables();
    match form {
        NameForm::Exact | NameForm::Different => true,
        NameForm::Spaced => !name.minority,
        NameForm::DotLookalike => name.minority,
        NameForm::Variant => name.text.chars().any(|c| t.traditional.contains_key(&c)),
        NameForm::Homophone => {
            !name.minority
                && (name.surname.is_some_and(|i| !SURNAMES[i].3.is_empty())
                    || name.given().chars().any(|c| t.homophones.contains_key(&c)))
        }
        NameForm::HomophoneCantonese => matches!(name.surname_text(), "黄" | "王"),
    }
}

/// Writes `name` in `form`. Falls back to the exact name when the form does not apply.
pub(crate) fn render(name: &PersonName, form: NameForm, rng: &mut impl Draw, male: bool) -> String {
    if !applicable(name, form) {
        return name.text.clone();
    }
    let t = tables();
    match form {
        NameForm::Exact => name.text.clone(),
        NameForm::Spaced => {
            let space = if rng.chance(0.5) { " " } else { "\u{3000}" };
            format!("{}{space}{}", name.surname_text(), name.given())
        }
        NameForm::DotLookalike => {
            let dot = *rng.pick(DOT_LOOKALIKES);
            name.text.replace('·', &dot.to_string())
        }
        NameForm::Variant => name.text.chars().map(|c| t.traditional.get(&c).copied().unwrap_or(c)).collect(),
        NameForm::Homophone => {
            let surname = name.surname_text();
            let surname_homs = name.surname.map_or(&[][..], |i| SURNAMES[i].3);
            let given_positions: Vec<(usize, char)> =
                name.given().chars().enumerate().filter(|(_, c)| t.homophones.contains_key(c)).collect();
            let choose_surname = !surname_homs.is_empty() && (given_positions.is_empty() || rng.chance(0.4));
            if choose_surname {
                format!("{}{}", rng.pick(surname_homs), name.given())
            } else {
                let &(at, c) = rng.pick(&given_positions);
                let replacement = *rng.pick(&t.homophones[&c]);
                let given: String =
                    name.given().chars().enumerate().map(|(i, ch)| if i == at { replacement } else { ch }).collect();
                format!("{surname}{given}")
            }
        }
        NameForm::HomophoneCantonese => {
            let other = if name.surname_text() == "黄" { "王" } else { "黄" };
            format!("{other}{}", name.given())
        }
        NameForm::Different => {
            if name.minority {
                let list = if male { MINORITY_MALE } else { MINORITY_FEMALE };
                let mut other = (*rng.pick(list)).to_owned();
                if other == name.text {
                    other = list.iter().find(|n| **n != name.text).unwrap().to_string();
                }
                return other;
            }
            loop {
                let given = given_name(rng, male);
                if given != name.given() {
                    return format!("{}{given}", name.surname_text());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinyin::ToPinyin;

    fn toneless(text: &str) -> Vec<&'static str> {
        text.chars().map(|c| c.to_pinyin().map_or("?", |p| p.plain())).collect()
    }

    /// Every homophone in the tables reads the same as what it replaces (default reading,
    /// no tones), so a pinyin-based comparison sees them as homophones.
    #[test]
    fn homophones_share_toneless_pinyin() {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for &(s, _, _, homs) in SURNAMES {
            pairs.extend(homs.iter().map(|h| (s.to_owned(), (*h).to_owned())));
        }
        for &(c, _, homs) in GIVEN_MALE.iter().chain(GIVEN_FEMALE) {
            pairs.extend(homs.chars().map(|h| (c.to_owned(), h.to_string())));
        }
        let bad: Vec<_> = pairs.iter().filter(|(a, b)| a == b || toneless(a) != toneless(b)).collect();
        assert!(bad.is_empty(), "not homophones: {bad:?}");
        // 黄/王 are homophones in Cantonese only.
        assert_ne!(toneless("黄"), toneless("王"));
    }

    /// Every traditional form converts back to its simplified character (OpenCC t2s).
    #[test]
    fn traditional_forms_convert_back() {
        let t2s = ferrous_opencc::OpenCC::from_config(ferrous_opencc::config::BuiltinConfig::T2s).unwrap();
        let mut bad = Vec::new();
        for (&s, &t) in &tables().traditional {
            if t2s.convert(&t.to_string()) != s.to_string() {
                bad.push((s, t));
            }
        }
        bad.sort();
        assert!(bad.is_empty(), "t2s does not map back: {bad:?}");
    }

    #[test]
    fn rendered_forms_differ_as_documented() {
        let mut rng = crate::rng::SplitMix::for_person(7, 7, crate::rng::Purpose::Name);
        for i in 0..2000 {
            let male = i % 2 == 0;
            let name = generate(&mut rng, male, i % 50 == 0);
            for form in NameForm::ALL {
                let written = render(&name, form, &mut rng, male);
                if !applicable(&name, form) {
                    assert_eq!(written, name.text);
                    continue;
                }
                match form {
                    NameForm::Exact => assert_eq!(written, name.text),
                    NameForm::Spaced => assert_eq!(written.replace([' ', '\u{3000}'], ""), name.text),
                    NameForm::DotLookalike => {
                        assert_ne!(written, name.text);
                        assert_eq!(written.replace(DOT_LOOKALIKES, "·"), name.text);
                    }
                    NameForm::Variant | NameForm::Homophone | NameForm::HomophoneCantonese | NameForm::Different => {
                        assert_ne!(written, name.text, "{form:?}");
                        assert!(written.chars().count() >= 2);
                    }
                }
            }
        }
    }
}
