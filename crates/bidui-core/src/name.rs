//! Personal names: canonical form and comparison.
//!
//! Two departments type the same person's name differently: full-width letters, spaces
//! and invisible characters pasted from web forms, a bullet or a katakana dot instead of
//! the `·` in a minority name, traditional characters from Hong Kong or Taiwan papers.
//! None of that makes a different person, so names are compared, and quasi-identifier
//! tokens are computed, on a canonical form that erases exactly those differences:
//!
//! 1. NFKC, so full-width and compatibility forms become their ordinary characters;
//! 2. whitespace, control characters and default-ignorable code points (zero-width
//!    characters, BOM, bidi marks, variation selectors) are removed — they are invisible
//!    in a spreadsheet cell, so nobody can have meant them;
//! 3. look-alikes of the middle dot are folded to `·` U+00B7, runs of dots collapse to
//!    one and dots at either end are dropped (no name starts, ends or stutters with one);
//! 4. Latin letters are uppercased (pinyin or foreign names are typed in either case);
//! 5. for [`canonical`] only: traditional characters fold to simplified ones.
//!
//! Steps 1–4 give [`canonical_keep_script`]; they are repeated until nothing changes,
//! because removing a character can put a combining mark next to a new base that NFKC
//! then composes. Both functions are therefore idempotent.
//!
//! The traditional→simplified fold applies a fixed character table one character at a
//! time. The table is protocol data, `protocol-docs/name-t2s.txt` (module `t2s`), so
//! agents agree whatever they were built with; it was derived once from OpenCC's `t2s`
//! character table. OpenCC's phrase table is deliberately not used: names are not words,
//! and a phrase match makes one character's fold depend on its neighbours (and breaks
//! idempotence: `張法乾` → `张法乾`, but `张法乾` → `张法干`). Two kinds of corrections
//! for names:
//!
//! - `乾` (qián) and `於` (a surname) stay as they are instead of becoming `干` and `于`:
//!   in names they were never merged into those characters, and OpenCC's own phrase
//!   table keeps them in personal names (`蕭乾`, `於梨華`);
//! - where OpenCC offers both the pre-2013 merged character and the form the 2013
//!   通用规范汉字表 restored for names (`鍾` → `钟`/`锺`, `鉅` → `巨`/`钜`, `線` → `线`/`缐`,
//!   `餘` → `余`/`馀`, `麴` → `曲`/`麹`), the restored form folds to the merged one too:
//!   mainland registries wrote the merged character before 2013, so the two are spellings
//!   of one name.
//!
//! [`compare`] tells the report whether a mismatch is a different name or only a different
//! spelling of the same one: identical, a script variant, or a homophone (toneless
//! Mandarin, plus a few Cantonese surname pairs such as 黄/王).

mod t2s;

use std::borrow::Cow;
use std::sync::LazyLock;

use pinyin::ToPinyinMulti;
use unicode_normalization::{is_nfkc, UnicodeNormalization};

use t2s::T2S;

const MIDDLE_DOT: char = '·';

/// Canonical form used for comparison and for quasi-identifier tokens: NFKC; whitespace,
/// control and invisible characters removed; middle-dot look-alikes folded to `·`;
/// traditional characters folded to simplified; Latin letters uppercased. Idempotent.
pub fn canonical(name: &str) -> String {
    let table = &*T2S;
    canonical_keep_script_cow(name).chars().map(|c| t2s::fold(table, c)).collect()
}

/// [`canonical`] without the traditional→simplified fold, so a comparison can tell a
/// variant character from an identical name. Idempotent.
pub fn canonical_keep_script(name: &str) -> String {
    canonical_keep_script_cow(name).into_owned()
}

/// How two names relate, from closest to farthest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameMatch {
    /// Identical once spacing, width, dots and letter case are normalized.
    Same,
    /// Identical once traditional characters are folded to simplified ones.
    Variant,
    /// Same length, and every differing character has a reading in common.
    Homophone,
    Different,
}

impl NameMatch {
    /// The stable machine-readable code, as written in reports.
    pub fn code(self) -> &'static str {
        match self {
            NameMatch::Same => "same",
            NameMatch::Variant => "variant",
            NameMatch::Homophone => "homophone",
            NameMatch::Different => "different",
        }
    }
}

/// Compares two names as written.
///
/// - [`NameMatch::Same`]: [`canonical_keep_script`] forms are equal (two empty names too);
/// - [`NameMatch::Variant`]: only the [`canonical`] forms are equal;
/// - [`NameMatch::Homophone`]: the canonical forms have the same number of characters and
///   at each position the characters are equal, share a toneless Mandarin reading (any
///   reading of a polyphonic character counts), or are one of the Cantonese surname
///   homophones in [`CANTONESE_SURNAMES`];
/// - [`NameMatch::Different`]: otherwise, and whenever exactly one name is empty.
pub fn compare(a: &str, b: &str) -> NameMatch {
    let a = canonical_keep_script_cow(a);
    let b = canonical_keep_script_cow(b);
    if a == b {
        return NameMatch::Same;
    }
    let table = &*T2S;
    let fold_a = || a.chars().map(|c| t2s::fold(table, c));
    let fold_b = || b.chars().map(|c| t2s::fold(table, c));
    if fold_a().eq(fold_b()) {
        NameMatch::Variant
    } else if a.chars().count() == b.chars().count() && fold_a().zip(fold_b()).all(|(x, y)| sound_alike(x, y)) {
        NameMatch::Homophone
    } else {
        NameMatch::Different
    }
}

fn canonical_keep_script_cow(name: &str) -> Cow<'_, str> {
    // Most registry names are already clean; recognising that costs no allocation.
    if is_fixed(name) {
        return Cow::Borrowed(name);
    }
    // One pass suffices except when a removed character separated a combining mark from
    // a base NFKC composes it with; the bound only guards against an unforeseen cycle.
    const MAX_PASSES: usize = 4;
    let mut text = clean_pass(name);
    for _ in 1..MAX_PASSES {
        if is_fixed(&text) {
            break;
        }
        text = clean_pass(&text);
    }
    Cow::Owned(text)
}

/// One round of steps 1–4 of the module documentation.
fn clean_pass(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc().filter_map(map_char) {
        if c == MIDDLE_DOT && (out.is_empty() || out.ends_with(MIDDLE_DOT)) {
            continue;
        }
        out.push(c);
    }
    if out.ends_with(MIDDLE_DOT) {
        out.pop();
    }
    out
}

/// Whether [`clean_pass`] would return `text` unchanged.
fn is_fixed(text: &str) -> bool {
    text.chars().all(|c| map_char(c) == Some(c))
        && !text.starts_with(MIDDLE_DOT)
        && !text.ends_with(MIDDLE_DOT)
        && !text.contains("··")
        && is_nfkc(text)
}

/// Per-character part of a clean pass: `None` drops the character.
fn map_char(c: char) -> Option<char> {
    if c.is_whitespace() || c.is_control() || is_default_ignorable(c) {
        None
    } else if is_middle_dot_lookalike(c) {
        Some(MIDDLE_DOT)
    } else if is_latin(c) {
        // Multi-character uppercase forms (ß → SS) stay as written: a name never differs
        // by one, and keeping one character per character keeps the pass simple.
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => Some(u),
            _ => Some(c),
        }
    } else {
        Some(c)
    }
}

/// Unicode's `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt, Unicode 15):
/// characters that render as nothing, so a clerk can paste them without seeing them.
fn is_default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Characters typed in place of the `·` that separates the parts of a minority name
/// (阿依古丽·买买提), after NFKC (which already turns `･` into `・`, `．` `․` `﹒` into `.`,
/// `｡` into `。` and Greek `·` into `·`). Dots that belong to a script's own spelling
/// (Canadian syllabics `ᐧ`, Tibetan tsheg `་`, Hangul `ㆍ`) and the circles `〇` `○` (a
/// real name character and its usual mistyping) are left alone.
fn is_middle_dot_lookalike(c: char) -> bool {
    matches!(
        c,
        // full stop (Latin keyboard, or `．` after NFKC)
        '.'
        // U+00B7 middle dot itself
        | '·'
        // ideographic full stop: what a Chinese IME types for `.`
        | '。'
        // U+2022 bullet
        | '•'
        // U+2027 hyphenation point (common in Taiwan)
        | '‧'
        // U+2219 bullet operator
        | '∙'
        // U+22C5 dot operator
        | '⋅'
        // U+30FB katakana middle dot (Japanese IMEs, `･` after NFKC)
        | '・'
        // U+25CF black circle
        | '●'
        // U+26AB medium black circle
        | '⚫'
        // U+2B24 black large circle
        | '⬤'
        // U+2981 Z notation spot
        | '⦁'
        // U+2E31 word separator middle dot
        | '⸱'
        // U+2E33 raised dot
        | '⸳'
        // U+16EB runic single punctuation
        | '᛫'
        // U+A78F sinological dot
        | 'ꞏ'
    )
}

/// Latin-script letters (Basic Latin to Latin Extended-E, IPA included).
fn is_latin(c: char) -> bool {
    matches!(c,
        'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' | '\u{0250}'..='\u{02AF}'
        | '\u{1E00}'..='\u{1EFF}' | '\u{2C60}'..='\u{2C7F}' | '\u{A720}'..='\u{A7FF}'
        | '\u{AB30}'..='\u{AB6F}')
}

/// Surnames that sound the same in Cantonese (toneless Jyutping), most of which Mandarin
/// tells apart (何/贺 and 区/欧 share a Mandarin reading too), so a record typed from a
/// Cantonese speaker's dictation can carry either. Deliberately
/// small: only the common surname pairs clerks in Guangdong actually confuse, not a
/// Cantonese dictionary (which would make far too many names "homophones").
const CANTONESE_SURNAMES: [(char, &str); 12] = [
    ('黄', "wong"),
    ('王', "wong"),
    ('汪', "wong"),
    ('何', "ho"),
    ('贺', "ho"),
    ('周', "zau"),
    ('邹', "zau"),
    ('张', "zoeng"),
    ('蒋', "zoeng"),
    ('章', "zoeng"),
    ('区', "au"),
    ('欧', "au"),
];

fn cantonese(c: char) -> Option<&'static str> {
    CANTONESE_SURNAMES.iter().find(|&&(k, _)| k == c).map(|&(_, reading)| reading)
}

/// Equal characters, or characters with a toneless Mandarin reading in common, or a
/// Cantonese surname pair.
fn sound_alike(x: char, y: char) -> bool {
    if x == y {
        return true;
    }
    if let (Some(px), Some(py)) = (x.to_pinyin_multi(), y.to_pinyin_multi()) {
        if px.into_iter().any(|p| py.into_iter().any(|q| p.plain() == q.plain())) {
            return true;
        }
    }
    matches!((cantonese(x), cantonese(y)), (Some(rx), Some(ry)) if rx == ry)
}

/// One spelling of a name's sound, for the `name_sound` attribute token: the matcher can
/// only test tokens for equality, so the sound must be a single key, not [`compare`]'s
/// any-reading test. Per character of [`canonical`]: for the first character (the
/// surname) the Cantonese reading of [`CANTONESE_SURNAMES`] or the surname reading of
/// [`SURNAME_READINGS`]; otherwise the first (most common) toneless pinyin reading, else
/// the character itself; separated by spaces. Middle dots are dropped: registries often
/// leave them out of minority names.
///
/// Coarser than [`compare`] (a rare reading of a polyphonic character is not tried), so
/// a `name_sound` disagreement means "different" only as far as common readings go.
pub fn sound_key(name: &str) -> String {
    sound_key_of_canonical(&canonical(name))
}

/// The three forms of a name that tokens are made of, from one cleaning pass: what an
/// agent computes per distinct name. `Default` gives three empty strings, for
/// [`forms_into`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameForms {
    /// [`canonical`]
    pub canonical: String,
    /// [`canonical_keep_script`]
    pub keep_script: String,
    /// [`sound_key`]
    pub sound: String,
}

/// [`canonical`], [`canonical_keep_script`] and [`sound_key`] of one name.
pub fn forms(name: &str) -> NameForms {
    // Sized for the fast path's usual output: CJK characters take 3 bytes, a reading and
    // its space at most 7.
    let mut out = NameForms {
        canonical: String::with_capacity(name.len()),
        keep_script: String::with_capacity(name.len()),
        sound: String::with_capacity(name.len() / 3 * 7),
    };
    forms_into(name, &mut out);
    out
}

/// [`forms`] written into `out`, reusing its strings' buffers: a caller that keeps one
/// [`NameForms`] across rows allocates nothing per name, except for the rare name the
/// fast path leaves to the general code (one with Latin letters, say).
pub fn forms_into(name: &str, out: &mut NameForms) {
    if !forms_fast(name, out) {
        *out = forms_slow(name);
    }
}

// Why a fast path: the agent computes the forms of every row's name, millions of rows.
// Through the general code (`forms_slow`) a typical name of 2–4 simplified characters
// cost about 250 ns in a release build: NFKC check, combining classes, a binary search
// in the t2s table and a pinyin lookup per character, allocations. Through the table it
// costs about 25 ns with `forms_into`, about 55 ns with `forms` (three allocations).
// Measured by the ignored test `name_bench`. The table is computed by the general code,
// character by character, and the tests compare the two paths exhaustively per
// character and by property on mixed text.

/// First and last characters [`FAST`] covers: CJK Unified Ideographs Extension A, the
/// Yijing hexagram symbols between the blocks, and the CJK Unified Ideographs block —
/// where nearly every registry name lives.
const FAST_FIRST: char = '\u{3400}';
const FAST_LAST: char = '\u{9FFF}';

/// Per-character results of the general code, for names made only of characters from
/// [`FAST_FIRST`]`..=`[`FAST_LAST`], [`FAST_DROPPED`] and single interior [`FAST_DOTS`].
/// For such a name [`canonical_keep_script`] only drops the [`FAST_DROPPED`] characters
/// and writes the dots as `·` (NFKC changes nothing that remains, no character composes
/// with another; the tests check each character), [`canonical`] then folds character by
/// character, and [`sound_key`] reads character by character, the first as a surname
/// and the dots not at all.
struct FastTable {
    /// Indexed by `c - FAST_FIRST`.
    entries: Vec<FastEntry>,
    /// The distinct readings (a character without one reads as itself).
    readings: Vec<Box<str>>,
}

#[derive(Clone, Copy)]
struct FastEntry {
    /// `t2s::fold(T2S, c)`.
    folded: char,
    /// Index into `readings`: the folded character's reading after the first position.
    reading: u16,
    /// Index into `readings`: the folded character's reading as a surname.
    surname: u16,
}

static FAST: LazyLock<FastTable> = LazyLock::new(build_fast_table);

fn build_fast_table() -> FastTable {
    let table = &*T2S;
    let mut readings: Vec<Box<str>> = Vec::new();
    let mut index: std::collections::HashMap<String, u16> = std::collections::HashMap::new();
    let mut intern = |reading: String| -> u16 {
        *index.entry(reading).or_insert_with_key(|reading| {
            readings.push(reading.as_str().into());
            u16::try_from(readings.len() - 1).expect("fewer than 65,536 distinct readings")
        })
    };
    // A reading after the first position, taken from the sound key of a two-character
    // name behind the key of a fixed first character.
    let first = '一';
    let prefix = format!("{} ", sound_key_of_canonical(first.encode_utf8(&mut [0; 4])));
    let entries = (FAST_FIRST..=FAST_LAST)
        .map(|c| {
            let folded = t2s::fold(table, c);
            let surname = sound_key_of_canonical(folded.encode_utf8(&mut [0; 4]));
            let pair = sound_key_of_canonical(&format!("{first}{folded}"));
            let reading =
                pair.strip_prefix(&prefix).expect("a sound key starts with its first character's reading").to_owned();
            FastEntry { folded, reading: intern(reading), surname: intern(surname) }
        })
        .collect();
    FastTable { entries, readings }
}

/// Spacing and invisible characters the fast path drops, as a clean pass does: the ones
/// clerks actually leave in cells (the ideographic space of a Chinese input method, a
/// no-break or zero-width space pasted from a web page, a BOM, a line break).
const FAST_DROPPED: [char; 8] = [' ', '\t', '\n', '\r', '\u{00A0}', '\u{3000}', '\u{200B}', '\u{FEFF}'];

/// `·` and the look-alikes the fast path folds to it, as a clean pass does: the ones a
/// keyboard or input method types (full stop, ideographic full stop, bullet, hyphenation
/// point, katakana middle dot, …), each of which NFKC leaves alone.
const FAST_DOTS: [char; 9] = [MIDDLE_DOT, '.', '。', '•', '‧', '∙', '⋅', '・', '●'];

/// The fast path of [`forms_into`]: `false`, with `out` in an unspecified state, when
/// `name` has a character outside the table, [`FAST_DROPPED`] and [`FAST_DOTS`], or a dot
/// at either end or next to another (once dropped characters are gone).
fn forms_fast(name: &str, out: &mut NameForms) -> bool {
    let fast = &*FAST;
    out.canonical.clear();
    out.keep_script.clear();
    out.sound.clear();
    let mut after_dot = true; // so a leading dot falls back
    let mut surname = true;
    let mut rewritten = false;
    for c in name.chars() {
        let Some(entry) = fast.entries.get((c as usize).wrapping_sub(FAST_FIRST as usize)) else {
            if FAST_DOTS.contains(&c) && !after_dot {
                after_dot = true;
                rewritten |= c != MIDDLE_DOT;
                out.canonical.push(MIDDLE_DOT);
            } else if FAST_DROPPED.contains(&c) {
                rewritten = true;
            } else {
                return false;
            }
            continue;
        };
        out.canonical.push(entry.folded);
        // As `sound_key_of_canonical`: a space after anything written so far.
        if !out.sound.is_empty() {
            out.sound.push(' ');
        }
        let reading = if surname { entry.surname } else { entry.reading };
        out.sound.push_str(&fast.readings[usize::from(reading)]);
        after_dot = false;
        surname = false;
    }
    if after_dot && !out.canonical.is_empty() {
        return false; // a trailing dot
    }
    if rewritten {
        let kept = name.chars().filter(|c| !FAST_DROPPED.contains(c));
        out.keep_script.extend(kept.map(|c| if FAST_DOTS.contains(&c) { MIDDLE_DOT } else { c }));
    } else {
        out.keep_script.push_str(name);
    }
    true
}

/// The general code behind [`forms`], for any text.
fn forms_slow(name: &str) -> NameForms {
    let keep_script = canonical_keep_script(name);
    let table = &*T2S;
    let canonical: String = keep_script.chars().map(|c| t2s::fold(table, c)).collect();
    let sound = sound_key_of_canonical(&canonical);
    NameForms { canonical, keep_script, sound }
}

fn sound_key_of_canonical(canonical: &str) -> String {
    let mut key = String::new();
    for (position, c) in canonical.chars().filter(|&c| c != MIDDLE_DOT).enumerate() {
        if !key.is_empty() {
            key.push(' ');
        }
        let surname = position == 0;
        let reading = match (surname, cantonese(c), surname_reading(c), c.to_pinyin_multi()) {
            (true, Some(cantonese), _, _) => cantonese,
            (true, None, Some(reading), _) => reading,
            (_, _, _, Some(readings)) => readings.into_iter().next().map_or("", |p| p.plain()),
            _ => {
                key.push(c);
                continue;
            }
        };
        key.push_str(reading);
    }
    key
}

/// Surnames whose reading as a surname is not the character's most common reading: the
/// sound key reads the first character of a name as a surname.
const SURNAME_READINGS: [(char, &str); 14] = [
    ('曾', "zeng"),
    ('单', "shan"),
    ('仇', "qiu"),
    ('解', "xie"),
    ('查', "zha"),
    ('翟', "zhai"),
    ('朴', "piao"),
    ('覃', "qin"),
    ('盖', "ge"),
    ('缪', "miao"),
    ('乐', "yue"),
    ('员', "yun"),
    ('长', "chang"),
    ('重', "chong"),
];

fn surname_reading(c: char) -> Option<&'static str> {
    SURNAME_READINGS.iter().find(|&&(k, _)| k == c).map(|&(_, reading)| reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        // (as written, canonical_keep_script, canonical)
        let cases: &[(&str, &str, &str)] = &[
            ("张三", "张三", "张三"),
            ("張三", "張三", "张三"),
            ("張 三", "張三", "张三"),
            ("欧阳　明", "欧阳明", "欧阳明"),
            (" 李\u{00A0}娜\t", "李娜", "李娜"),
            ("\u{FEFF}李娜\u{200B}\u{200D}\u{2060}", "李娜", "李娜"),
            ("李\u{FE00}娜\u{E0101}", "李娜", "李娜"),
            ("李\u{0000}娜\r\n", "李娜", "李娜"),
            ("阿依古丽·买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽•买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽・买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽･买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽‧买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽∙买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽⋅买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽.买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽．买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽。买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽●买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽\u{0387}买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽 · 买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("阿依古丽··买买提", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("·阿依古丽•・买买提。", "阿依古丽·买买提", "阿依古丽·买买提"),
            ("·", "", ""),
            ("", "", ""),
            (" \u{3000}\u{200B}", "", ""),
            ("王〇", "王〇", "王〇"),
            ("王○", "王○", "王○"),
            ("ｊｏｈｎ　ｓｍｉｔｈ", "JOHNSMITH", "JOHNSMITH"),
            ("Zhang San", "ZHANGSAN", "ZHANGSAN"),
            ("josé", "JOSÉ", "JOSÉ"),
            ("jose\u{0301}", "JOSÉ", "JOSÉ"),
            // The space keeps NFKC from composing; once it is gone the accent composes.
            ("e \u{0301}", "É", "É"),
            ("李Ⅲ", "李III", "李III"),
            ("黃偉", "黃偉", "黄伟"),
            ("歐陽鋒", "歐陽鋒", "欧阳锋"),
            ("鄭劉蕭", "鄭劉蕭", "郑刘萧"),
            // Name corrections to OpenCC's character table.
            ("蕭乾", "蕭乾", "萧乾"),
            ("於梨華", "於梨華", "於梨华"),
            ("鍾", "鍾", "钟"),
            ("锺", "锺", "钟"),
            ("鐘", "鐘", "钟"),
            ("李澤鉅", "李澤鉅", "李泽巨"),
            ("李泽钜", "李泽钜", "李泽巨"),
            ("缐", "缐", "线"),
            ("麹", "麹", "曲"),
            // OpenCC chains 薴 → 苧 → 苎; the table is closed.
            ("薴", "薴", "苎"),
            // CJK compatibility ideograph: NFKC gives the unified one, then the fold.
            ("\u{F9B4}", "\u{9818}", "领"),
        ];
        for &(written, keep, canon) in cases {
            assert_eq!(canonical_keep_script(written), keep, "canonical_keep_script({written:?})");
            assert_eq!(canonical(written), canon, "canonical({written:?})");
        }
    }

    #[test]
    fn comparisons() {
        use NameMatch::*;
        let cases: &[(&str, &str, NameMatch)] = &[
            ("张三", "张三", Same),
            ("张三", "張三", Variant),
            ("張三", "張 三", Same),
            ("张三", "张　三", Same),
            ("ｚｈａｎｇ ｓａｎ", "ZhangSan", Same),
            ("阿依古丽•买买提", "阿依古丽·买买提", Same),
            ("阿依古丽・买买提", "阿依古麗·買買提", Variant),
            ("欧阳锋", "歐陽鋒", Variant),
            ("钟伟", "鍾偉", Variant),
            ("锺伟", "钟伟", Variant),
            ("李泽钜", "李澤鉅", Variant),
            ("乾", "干", Homophone),
            ("於梨华", "于梨华", Homophone),
            ("李娜", "李纳", Homophone),
            ("张伟", "章伟", Homophone),
            ("張偉", "章伟", Homophone),
            ("李娜", "李娜娜", Different),
            // Polyphonic surnames: every reading counts.
            ("曾伟", "增伟", Homophone),
            ("曾伟", "层伟", Homophone),
            ("单伟", "善伟", Homophone),
            ("单伟", "丹伟", Homophone),
            // Cantonese surname homophones.
            ("黄伟", "王伟", Homophone),
            ("黃偉", "王伟", Homophone),
            ("周杰", "邹杰", Homophone),
            ("张明", "蒋明", Homophone),
            ("区小红", "欧小红", Homophone),
            ("何俊", "贺俊", Homophone),
            // Shared characters are not enough.
            ("李娜", "王芳", Different),
            ("李娜", "李明", Different),
            ("王伟", "王芳", Different),
            ("黄伟", "王芳", Different),
            ("张三", "张四", Different),
            ("陈小明", "陈大明", Different),
            ("张三", "张三丰", Different),
            ("阿依古丽·买买提", "阿依古丽买买提", Different),
            ("JOHN", "JOAN", Different),
            ("", "", Same),
            (" ", "", Same),
            ("", "张三", Different),
            ("·", "张三", Different),
        ];
        for &(a, b, expected) in cases {
            assert_eq!(compare(a, b), expected, "compare({a:?}, {b:?})");
            assert_eq!(compare(b, a), expected, "compare({b:?}, {a:?})");
        }
    }

    #[test]
    fn sound_keys_tell_homophones_from_different_names() {
        let same = |a: &str, b: &str| sound_key(a) == sound_key(b);
        assert!(same("黄伟", "王伟"), "Cantonese surname pair");
        assert!(same("张伟", "章伟") && same("王伟", "汪伟"), "Mandarin homophones kept by the Cantonese keys");
        assert!(same("曾伟", "增伟"), "曾 as a surname reads zeng");
        assert!(!same("伟曾", "伟增"), "曾 elsewhere reads ceng");
        assert!(!same("李张", "李蒋"), "Cantonese keys only for the surname");
        assert!(same("李娜", "李纳"));
        assert!(same("張三", "张三"));
        assert!(same("阿依古丽买买提", "阿依古丽·买买提"));
        assert!(!same("李娜", "王芳"));
        assert!(!same("陈小明", "陈大明"));
        assert_eq!(sound_key("李娜"), "li na");
        assert_eq!(sound_key(""), "");
    }

    #[test]
    fn codes() {
        let codes =
            [NameMatch::Same, NameMatch::Variant, NameMatch::Homophone, NameMatch::Different].map(NameMatch::code);
        assert_eq!(codes, ["same", "variant", "homophone", "different"]);
    }

    /// Why the fast path may skip the general code: every character it accepts is one a
    /// clean pass keeps as it is (or folds to `·`, or drops), and NFKC's quick check
    /// passes it with combining class 0, so a string of them is already NFKC whatever
    /// their number and order — and nothing composes across a dropped character.
    #[test]
    fn fast_path_characters_are_left_alone_by_a_clean_pass() {
        use unicode_normalization::char::canonical_combining_class;
        use unicode_normalization::{is_nfkc_quick, IsNormalized};
        let starter_in_nfkc =
            |c: char| canonical_combining_class(c) == 0 && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes;
        for c in FAST_FIRST..=FAST_LAST {
            assert!(starter_in_nfkc(c), "{c:?}");
            assert_eq!(map_char(c), Some(c), "{c:?}");
            assert!(!FAST_DOTS.contains(&c) && !FAST_DROPPED.contains(&c), "{c:?}");
            let one = c.to_string();
            assert_eq!(canonical_keep_script(&one), one, "{c:?}");
        }
        for c in FAST_DOTS {
            assert!(starter_in_nfkc(c), "{c:?}");
            assert_eq!(map_char(c), Some(MIDDLE_DOT), "{c:?}");
        }
        for c in FAST_DROPPED {
            // NFKC may rewrite it (U+3000 → U+0020), but only into starters in NFKC that
            // a clean pass drops.
            for d in std::iter::once(c).nfkc() {
                assert!(starter_in_nfkc(d), "{c:?} → {d:?}");
                assert_eq!(map_char(d), None, "{c:?} → {d:?}");
            }
            assert_eq!(canonical_keep_script(&format!("赖{c}锐")), "赖锐", "{c:?}");
        }
    }

    fn assert_fast_equals_slow(name: &str) {
        let mut fast = NameForms::default();
        assert!(forms_fast(name, &mut fast), "{name:?} takes the fast path");
        assert_eq!(fast, forms_slow(name), "{name:?}");
    }

    /// Every character of the table, as a whole name (a surname on its own), as the
    /// surname of a two-character name, as the given name after a surname, and after a
    /// `·`: the table holds what the general code computes, in both reading positions.
    #[test]
    fn fast_path_equals_slow_path_for_every_table_character() {
        let mut name = String::new();
        for c in FAST_FIRST..=FAST_LAST {
            for (before, after) in [("", ""), ("", "锐"), ("赖", ""), ("阿依·", ""), ("曾", "单")] {
                name.clear();
                name.push_str(before);
                name.push(c);
                name.push_str(after);
                assert_fast_equals_slow(&name);
            }
        }
    }

    /// Dots and dropped characters in every position the fast path takes and every one
    /// it leaves to the general code.
    #[test]
    fn fast_path_dots_and_dropped_characters() {
        for k in FAST_DOTS.iter().chain(&FAST_DROPPED) {
            assert_fast_equals_slow(&format!("阿依古丽{k}买买提"));
            assert_fast_equals_slow(&format!("張{k}三"));
            for name in [
                format!("{k}赖锐"),
                format!("赖锐{k}"),
                format!("赖{k}{k}锐"),
                format!("{k}"),
                format!("赖{k}·{k}锐"),
                format!("赖{k} {k}锐"),
                format!("赖·{k}·锐"),
                format!("赖{k}\u{0301}锐"),
            ] {
                assert_eq!(forms(&name), forms_slow(&name), "{name:?}");
            }
        }
        for name in ["", " ", "\u{3000}\u{FEFF}", " 赖 锐 ", "赖\r\n", "阿依古丽 · 买买提", "曾·单"] {
            assert_fast_equals_slow(name);
        }
        // Left to the general code.
        for name in ["·", "·赖", "赖·", "赖··锐", "赖 · · 锐", "Zhang San", "赖\u{200D}锐", "\u{F9B4}"] {
            assert!(!forms_fast(name, &mut NameForms::default()), "{name:?}");
            assert_eq!(forms(name), forms_slow(name), "{name:?}");
        }
    }

    #[test]
    fn forms_into_overwrites_what_was_there() {
        let mut out = NameForms::default();
        for name in ["阿依古丽·买买提", "Zhang San", "赖锐", "", "黃偉", "ｊｏｈｎ", "赖·锐", "李"]
        {
            forms_into(name, &mut out);
            assert_eq!(out, forms_slow(name), "{name:?}");
            assert_eq!(out, forms(name), "{name:?}");
        }
    }

    /// Throughput of [`forms`], not part of the normal suite:
    /// `cargo test -p bidui-core --release -- --ignored --nocapture name_bench`
    #[test]
    #[ignore = "benchmark; run in release mode with --ignored --nocapture"]
    fn name_bench() {
        use std::hint::black_box;
        use std::time::Instant;
        // Mostly 2–4 simplified characters, as in the registries; a few traditional ones.
        let typical = [
            "赖锐",
            "梁金权",
            "张伟",
            "王芳",
            "李娜",
            "刘洋",
            "陈小明",
            "杨秀英",
            "黄伟",
            "赵敏",
            "吴建国",
            "周杰",
            "徐丽娟",
            "孙磊",
            "马晓东",
            "朱红",
            "胡志强",
            "郭靖",
            "何俊",
            "高云",
            "林淑芬",
            "罗军",
            "郑秀兰",
            "梁朝伟",
            "谢婷婷",
            "宋佳",
            "唐明",
            "韩梅梅",
            "冯刚",
            "曾伟",
            "欧阳明",
            "诸葛亮亮",
            "黃偉",
            "歐陽鋒",
            "鄭劉蕭",
            "單偉",
            "陳國強",
            "張家輝",
        ];
        // What also turns up: minority names, spaces, invisible characters, Latin.
        let messy = [
            "阿依古丽·买买提",
            "热依拉·吐尔逊",
            "张 三",
            " 李娜",
            "王芳\u{200B}",
            "李\u{3000}娜",
            "阿依古丽•买买提",
            "Zhang San",
            "ｊｏｈｎ",
        ];
        let start = Instant::now();
        LazyLock::force(&T2S);
        let t2s = start.elapsed();
        let start = Instant::now();
        let fast = LazyLock::force(&FAST);
        println!(
            "building: t2s table {t2s:?}, fast table {:?} ({} distinct readings, {} empty)",
            start.elapsed(),
            fast.readings.len(),
            fast.readings.iter().filter(|r| r.is_empty()).count(),
        );
        const CALLS: usize = 1_000_000;
        for (label, names) in [("typical", &typical[..]), ("messy", &messy[..])] {
            let time = |function: &str, mut forms_len: Box<dyn FnMut(&str) -> usize + '_>| {
                let start = Instant::now();
                let total: usize = (0..CALLS).map(|i| forms_len(black_box(names[i % names.len()]))).sum();
                let ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
                println!("{function}, {label} names: {ns:.1} ns/call ({total})");
            };
            let len = |f: &NameForms| f.canonical.len() + f.keep_script.len() + f.sound.len();
            time("forms", Box::new(|name| len(&forms(name))));
            let mut out = NameForms::default();
            time(
                "forms_into",
                Box::new(|name| {
                    forms_into(name, &mut out);
                    len(&out)
                }),
            );
            time("forms_slow", Box::new(|name| len(&forms_slow(name))));
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Characters names are made of, messy ones included: traditional/simplified
        /// pairs, homophones, polyphonic surnames, dots and their look-alikes, spaces,
        /// invisible characters, full-width and combining Latin.
        fn messy_name() -> impl Strategy<Value = String> {
            proptest::string::string_regex(concat!(
                "[张張章蒋蔣三李娜纳王黄黃伟偉芳曾增层单單善丹乾干於于鍾锺钟欧區区阿依古丽麗买買提",
                "·•・･‧.。． 　\u{00A0}\u{200B}\u{FEFF}\u{0301}\u{0308}aeiozAZｚ]{0,8}",
            ))
            .unwrap()
        }

        /// Mostly ideographs, with the characters the fast path treats specially and
        /// ones that send a name to the general code: traditional characters, dots and
        /// look-alikes, spacing and invisible characters, Latin, full-width and
        /// compatibility forms, combining marks, ideographs outside the table.
        fn mostly_cjk_name() -> impl Strategy<Value = String> {
            let special = proptest::sample::select(vec![
                '·',
                '.',
                '。',
                '•',
                '‧',
                '∙',
                '⋅',
                '・',
                '●',
                '･',
                '．',
                '\u{0387}',
                '⸱',
                ' ',
                '\t',
                '\n',
                '\r',
                '\u{00A0}',
                '\u{3000}',
                '\u{200B}',
                '\u{FEFF}',
                '\u{200D}',
                '\u{2060}',
                '\u{FE00}',
                '\u{0000}',
                '\u{0301}',
                '\u{0308}',
                'a',
                'z',
                'A',
                'e',
                'ß',
                'é',
                'ｚ',
                'Ａ',
                'Ⅲ',
                '〇',
                '○',
                '\u{F9B4}',
                '\u{F900}',
                '\u{20000}',
                '\u{2A6D6}',
                '\u{3007}',
            ]);
            let traditional = proptest::sample::select(vec![
                '張', '黃', '偉', '歐', '陽', '鋒', '鄭', '劉', '蕭', '乾', '於', '華', '鍾', '鐘', '锺', '鉅', '钜',
                '澤', '缐', '麹', '薴', '單', '區', '麗', '買', '陳',
            ]);
            let ch = prop_oneof![
                12 => proptest::char::range('\u{4E00}', '\u{9FFF}'),
                2 => proptest::char::range('\u{3400}', '\u{4DFF}'),
                3 => traditional,
                3 => special,
                1 => any::<char>(),
            ];
            proptest::collection::vec(ch, 0..8).prop_map(|chars| chars.into_iter().collect())
        }

        proptest! {
            #[test]
            fn forms_agree_with_the_separate_functions(name in messy_name()) {
                let f = forms(&name);
                prop_assert_eq!(f.canonical, canonical(&name));
                prop_assert_eq!(f.keep_script, canonical_keep_script(&name));
                prop_assert_eq!(f.sound, sound_key(&name));
            }

            #[test]
            fn forms_equal_the_general_code(name in mostly_cjk_name(), before in mostly_cjk_name()) {
                let slow = forms_slow(&name);
                prop_assert_eq!(&forms(&name), &slow);
                let mut reused = forms(&before);
                forms_into(&name, &mut reused);
                prop_assert_eq!(&reused, &slow);
            }

            #[test]
            fn forms_equal_the_general_code_on_messy_names(name in messy_name()) {
                prop_assert_eq!(forms(&name), forms_slow(&name));
            }

            #[test]
            fn canonical_is_idempotent(name in messy_name()) {
                let once = canonical(&name);
                prop_assert_eq!(canonical(&once), once);
            }

            #[test]
            fn canonical_is_idempotent_on_any_text(name in any::<String>()) {
                let once = canonical(&name);
                prop_assert_eq!(canonical(&once), once);
            }

            #[test]
            fn canonical_keep_script_is_idempotent(name in any::<String>()) {
                let once = canonical_keep_script(&name);
                prop_assert_eq!(canonical_keep_script(&once), once);
            }

            #[test]
            fn canonical_keep_script_is_idempotent_on_names(name in messy_name()) {
                let once = canonical_keep_script(&name);
                prop_assert_eq!(canonical_keep_script(&once), once);
            }

            #[test]
            fn canonical_has_no_invisible_characters(name in any::<String>()) {
                let canon = canonical(&name);
                // Quasi-identifier messages use NUL as a separator (see `token`).
                let visible = |c: char| !c.is_whitespace() && !c.is_control() && !is_default_ignorable(c);
                prop_assert!(canon.chars().all(visible), "{:?}", canon);
            }

            #[test]
            fn a_name_is_the_same_as_itself(name in any::<String>()) {
                prop_assert_eq!(compare(&name, &name), NameMatch::Same);
            }

            #[test]
            fn compare_is_symmetric(a in messy_name(), b in messy_name()) {
                prop_assert_eq!(compare(&a, &b), compare(&b, &a));
            }

            #[test]
            fn compare_is_symmetric_on_any_text(a in any::<String>(), b in any::<String>()) {
                prop_assert_eq!(compare(&a, &b), compare(&b, &a));
            }

            #[test]
            fn compare_agrees_with_the_canonical_forms(a in messy_name(), b in messy_name()) {
                let verdict = compare(&a, &b);
                prop_assert_eq!(verdict == NameMatch::Same, canonical_keep_script(&a) == canonical_keep_script(&b));
                prop_assert_eq!(
                    matches!(verdict, NameMatch::Same | NameMatch::Variant),
                    canonical(&a) == canonical(&b)
                );
            }
        }
    }
}
