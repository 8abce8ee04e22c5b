//! Identity numbers: canonical ones for synthetic people, and the messy ways they are
//! written in real spreadsheets.

use bidui_core::idnum::check_character;
use bidui_core::{CivilDate, IdNumber};
use serde::{Deserialize, Serialize};

use crate::rng::Draw;
use crate::AS_OF;

/// How an identity cell was written. The registry uses all of them; each department a few
/// (see the crate documentation for the rates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdForm {
    /// The canonical 18 characters as a text cell.
    Exact,
    /// The old 15-digit number (born 19xx): upgrades to the true identity.
    Old15,
    /// The old 15-digit number stored as a NUMBER cell (xlsx): exact in a double, so it
    /// still upgrades to the true identity.
    Old15Number,
    /// The 18-digit number stored as a NUMBER cell (xlsx), holding what Excel keeps: 15
    /// significant digits, the last three turned to `000`. Read back, it is excel-mangled.
    Number,
    /// Excel's scientific notation as text (`4.40183E+17`): excel-mangled.
    Scientific,
    /// 15 significant digits then `000`, as text: excel-mangled.
    Truncated,
    /// The check character `X` typed as `x`.
    LowercaseX,
    /// Full-width digits `０-９` and `Ｘ`.
    FullWidth,
    /// `×` (U+00D7) typed for `X`.
    TimesX,
    /// Spaces: leading/trailing ASCII spaces, a tab, U+3000, U+00A0, or groups `6 8 4`.
    Spaces,
    /// An invisible character (U+200B, U+200D, U+2060, U+FEFF, U+00AD) somewhere inside.
    Invisible,
    /// A leading `'` (Excel's text marker kept as a character).
    Apostrophe,
    /// A trailing `.0` (a number exported as a float).
    DotZero,
    /// Registry only: one character mistyped; fails validation (checksum, or birthdate
    /// when the slip hits the date).
    Typo,
    /// Registry only: one digit of the sequence mistyped *and* the check character
    /// recomputed: a valid number that belongs to nobody.
    TypoValid,
    /// Registry only: a digit dropped or doubled (17 or 19 characters).
    Length,
    /// Registry only: a letter `O`/`l` typed for `0`/`1`.
    Charset,
    /// Registry only: an impossible month or day in the birth-date part.
    Birthdate,
    /// Registry only: the cell is empty.
    Empty,
}

impl IdForm {
    pub const ALL: [IdForm; 19] = [
        IdForm::Exact,
        IdForm::Old15,
        IdForm::Old15Number,
        IdForm::Number,
        IdForm::Scientific,
        IdForm::Truncated,
        IdForm::LowercaseX,
        IdForm::FullWidth,
        IdForm::TimesX,
        IdForm::Spaces,
        IdForm::Invisible,
        IdForm::Apostrophe,
        IdForm::DotZero,
        IdForm::Typo,
        IdForm::TypoValid,
        IdForm::Length,
        IdForm::Charset,
        IdForm::Birthdate,
        IdForm::Empty,
    ];

    /// Forms that need a NUMBER cell, so an xlsx file.
    pub fn needs_number_cell(self) -> bool {
        matches!(self, IdForm::Old15Number | IdForm::Number)
    }
}

/// A spreadsheet cell as written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    Number(f64),
}

impl Cell {
    /// The text a reader gets from the cell (see [`number_cell_text`]).
    pub(crate) fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Number(v) => number_cell_text(*v),
        }
    }
}

/// How a NUMBER cell reads as text: integral values in full without a decimal point (what
/// Rust's `Display`, openpyxl and pandas print), others with Rust's `Display`. The ground
/// truth's `cell` of a number cell is this text.
pub fn number_cell_text(value: f64) -> String {
    format!("{value}")
}

/// The 17-digit body of an identity number, as an integer.
pub(crate) type Body = u64;

pub(crate) fn body_digits(body: Body) -> [u8; 17] {
    let mut out = [b'0'; 17];
    let mut v = body;
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out
}

pub(crate) fn canonical(body: Body) -> [u8; 18] {
    let digits = body_digits(body);
    let mut id = [0u8; 18];
    id[..17].copy_from_slice(&digits);
    id[17] = check_character(&digits);
    id
}

pub(crate) fn canonical_string(body: Body) -> String {
    String::from_utf8(canonical(body).to_vec()).expect("ASCII")
}

pub(crate) fn make_body(area: u32, birth: CivilDate, seq: u32) -> Body {
    let date = u64::from(birth.year) * 10_000 + u64::from(birth.month) * 100 + u64::from(birth.day);
    (u64::from(area) * 100_000_000 + date) * 1000 + u64::from(seq)
}

pub(crate) fn birth_of(body: Body) -> CivilDate {
    let date = (body / 1000) % 100_000_000;
    CivilDate { year: (date / 10_000) as u16, month: ((date / 100) % 100) as u8, day: (date % 100) as u8 }
}

pub(crate) fn is_male(body: Body) -> bool {
    body % 2 == 1
}

/// The outcome of the bidui-core check: `"OK"` or the stable error code.
pub fn outcome_of(text: &str) -> (String, Option<String>) {
    match IdNumber::parse(text, AS_OF) {
        Ok(id) => ("OK".to_owned(), Some(id.as_str().to_owned())),
        Err(e) => (e.code().to_owned(), None),
    }
}

/// What Excel keeps of an 18-digit number: the first 15 digits, then `000`.
fn truncated15(id: &[u8; 18]) -> String {
    let mut s = String::from_utf8(id[..15].to_vec()).unwrap();
    s.push_str("000");
    s
}

/// Excel's "General" display of a large number: six significant digits, e.g. `4.40183E+17`.
fn scientific(id: &[u8; 18]) -> String {
    let mut digits: Vec<u8> = id[..7].iter().map(|d| d - b'0').collect();
    let round_up = digits.pop().unwrap() >= 5;
    let mut exponent = 17;
    if round_up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                digits.pop();
                exponent += 1;
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    let mut s = String::new();
    s.push((b'0' + digits[0]) as char);
    if digits.len() > 1 {
        s.push('.');
        for d in &digits[1..] {
            s.push((b'0' + d) as char);
        }
    }
    format!("{s}E+{exponent}")
}

/// Whether the excel-style losses of this number are detectable: its truncation to
/// `…000` must not be a valid number (it would silently become someone else's).
fn truncation_detectable(id: &[u8; 18]) -> bool {
    IdNumber::parse(&truncated15(id), AS_OF).is_err()
}

/// Whether `form` can be written for this identity (the person's number, the file type).
pub(crate) fn form_applicable(form: IdForm, body: Body, xlsx: bool) -> bool {
    let id = canonical(body);
    let x = id[17] == b'X';
    let born_19xx = &id[6..8] == b"19";
    match form {
        IdForm::Old15 => born_19xx,
        IdForm::Old15Number => xlsx && born_19xx,
        IdForm::Number => xlsx && !x && truncation_detectable(&id),
        IdForm::Truncated => !x && truncation_detectable(&id),
        IdForm::Scientific | IdForm::DotZero => !x,
        IdForm::LowercaseX | IdForm::TimesX => x,
        _ => true,
    }
}

/// Writes the identity `body` in `form`. `gbk` restricts the characters to those GBK can
/// encode. `taken` tells whether a canonical body is anyone's (for [`IdForm::TypoValid`]).
pub(crate) fn render(form: IdForm, body: Body, rng: &mut impl Draw, gbk: bool, taken: &dyn Fn(Body) -> bool) -> Cell {
    let id = canonical(body);
    let text = String::from_utf8(id.to_vec()).unwrap();
    let old15 = || {
        let mut s = String::from_utf8(id[..6].to_vec()).unwrap();
        s.push_str(std::str::from_utf8(&id[8..17]).unwrap());
        s
    };
    match form {
        IdForm::Exact => Cell::Text(text),
        IdForm::Old15 => Cell::Text(old15()),
        IdForm::Old15Number => Cell::Number(old15().parse::<f64>().unwrap()),
        IdForm::Number => Cell::Number(truncated15(&id).parse::<f64>().unwrap()),
        IdForm::Scientific => Cell::Text(scientific(&id)),
        IdForm::Truncated => Cell::Text(truncated15(&id)),
        IdForm::LowercaseX => Cell::Text(text.replace('X', "x")),
        IdForm::TimesX => Cell::Text(text.replace('X', "×")),
        IdForm::FullWidth => Cell::Text(text.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect()),
        IdForm::Spaces => {
            let choices: &[u8] = if gbk { &[0, 1, 2, 3, 5] } else { &[0, 1, 2, 3, 4, 5] };
            Cell::Text(match rng.pick(choices) {
                0 => format!(" {text}"),
                1 => format!("{text}  "),
                2 => format!("{} {} {}", &text[..6], &text[6..14], &text[14..]),
                3 => format!("{text}\u{3000}"),
                4 => format!("\u{00A0}{text}"),
                _ => format!("{text}\t"),
            })
        }
        IdForm::Invisible => {
            const INVISIBLE: [char; 5] = ['\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}'];
            let c = *rng.pick(&INVISIBLE);
            let at = *rng.pick(&[0usize, 6, 14, 18]);
            Cell::Text(format!("{}{c}{}", &text[..at], &text[at..]))
        }
        IdForm::Apostrophe => Cell::Text(format!("'{text}")),
        IdForm::DotZero => Cell::Text(format!("{text}.0")),
        IdForm::Typo => {
            let mut bytes = id;
            let at = rng.index(18);
            let alphabet: &[u8] = if at == 17 { b"0123456789X" } else { b"0123456789" };
            loop {
                let c = *rng.pick(alphabet);
                if c != bytes[at] {
                    bytes[at] = c;
                    break;
                }
            }
            Cell::Text(String::from_utf8(bytes.to_vec()).unwrap())
        }
        IdForm::TypoValid => {
            let digits = body_digits(body);
            loop {
                let mut d = digits;
                let at = *rng.pick(&[14usize, 15]);
                let c = b'0' + rng.below(10) as u8;
                if c == d[at] {
                    continue;
                }
                d[at] = c;
                let new_body = std::str::from_utf8(&d).unwrap().parse::<u64>().unwrap();
                if taken(new_body) {
                    continue;
                }
                return Cell::Text(canonical_string(new_body));
            }
        }
        IdForm::Length => {
            let at = rng.index(17);
            let mut s = text.clone();
            if rng.chance(0.6) {
                s.remove(at);
            } else {
                s.insert(at, s.as_bytes()[at] as char);
            }
            Cell::Text(s)
        }
        IdForm::Charset => {
            let mut bytes: Vec<char> = text.chars().collect();
            let spots: Vec<usize> = (0..17).filter(|&i| matches!(bytes[i], '0' | '1')).collect();
            if spots.is_empty() {
                bytes[16] = 'O';
            } else {
                let at = *rng.pick(&spots);
                bytes[at] = if bytes[at] == '0' { 'O' } else { 'l' };
            }
            Cell::Text(bytes.into_iter().collect())
        }
        IdForm::Birthdate => {
            let mut bytes = id;
            match rng.below(3) {
                0 => bytes[10..12].copy_from_slice(b"13"),
                1 => bytes[10..12].copy_from_slice(b"00"),
                _ => bytes[12..14].copy_from_slice(b"32"),
            }
            Cell::Text(String::from_utf8(bytes.to_vec()).unwrap())
        }
        IdForm::Empty => Cell::Text(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix;

    #[test]
    fn scientific_rounds_like_excel() {
        let id = |s: &str| -> [u8; 18] { s.as_bytes().try_into().unwrap() };
        assert_eq!(scientific(&id("440183198001010011")), "4.40183E+17");
        assert_eq!(scientific(&id("440118201505050014")), "4.40118E+17");
        assert_eq!(scientific(&id("440125600101001234")), "4.40126E+17");
        assert_eq!(scientific(&id("999999600101001234")), "1E+18");
        assert_eq!(scientific(&id("440000400101001234")), "4.4E+17");
    }

    #[test]
    fn every_form_has_its_expected_outcome() {
        let birth = CivilDate::new(1980, 1, 1).unwrap();
        let mut rng = SplitMix::for_person(1, 1, crate::rng::Purpose::Name);
        for seq in 0..400u32 {
            let body = make_body(440183, birth, seq);
            let truth = canonical_string(body);
            for form in IdForm::ALL {
                if !form_applicable(form, body, true) {
                    continue;
                }
                let cell = render(form, body, &mut rng, false, &|_| false);
                let (code, parsed) = outcome_of(&cell.text());
                let want: &[&str] = match form {
                    IdForm::Number | IdForm::Scientific | IdForm::Truncated => &["excel-mangled"],
                    IdForm::Typo => &["checksum", "birthdate"],
                    IdForm::TypoValid => &["OK"],
                    IdForm::Length => &["length"],
                    IdForm::Charset => &["charset"],
                    IdForm::Birthdate => &["birthdate"],
                    IdForm::Empty => &["empty"],
                    _ => &["OK"],
                };
                assert!(want.contains(&code.as_str()), "{form:?} {:?} gave {code}", cell);
                if code == "OK" {
                    assert_eq!(parsed.as_deref() == Some(truth.as_str()), form != IdForm::TypoValid, "{form:?}");
                }
            }
        }
    }
}
