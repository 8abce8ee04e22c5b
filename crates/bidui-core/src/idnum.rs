//! Resident identity numbers (GB 11643-1999): normalization, 15→18 upgrade, validation.
//!
//! The rules are written down in `protocol-docs/spec-v1.md` §3; this module is their
//! reference implementation. Identity numbers are the one thing bidui must never leak, so
//! [`IdNumber`] does not implement `Display` and its `Debug` shows only the birth year.

use std::borrow::Cow;
use std::fmt;

/// A canonical 18-character identity number: 17 ASCII digits and a check character
/// (`0`–`9` or `X`) that passed every rule of GB 11643-1999.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber([u8; 18]);

/// Why an identity number was rejected. The code strings are stable: they appear in
/// agents' local reports, in the counts sent to the matcher and in the test vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum IdError {
    #[error("identity number is empty")]
    Empty,
    #[error(
        "identity number was mangled by Excel (scientific notation or digits lost to 15-digit precision); \
              re-export the column as text"
    )]
    ExcelMangled,
    #[error("identity number must have 15 or 18 characters")]
    Length,
    #[error("identity number must be 17 digits followed by a digit or X (15 digits for old numbers)")]
    Charset,
    #[error("identity number holds an impossible birth date")]
    BirthDate,
    #[error("identity number check character (ISO 7064 MOD 11-2) does not match")]
    Checksum,
}

impl IdError {
    pub const ALL: [IdError; 6] = [
        IdError::Empty,
        IdError::ExcelMangled,
        IdError::Length,
        IdError::Charset,
        IdError::BirthDate,
        IdError::Checksum,
    ];

    /// The stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            IdError::Empty => "empty",
            IdError::ExcelMangled => "excel-mangled",
            IdError::Length => "length",
            IdError::Charset => "charset",
            IdError::BirthDate => "birthdate",
            IdError::Checksum => "checksum",
        }
    }

    pub fn from_code(code: &str) -> Option<IdError> {
        IdError::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// A calendar date, used for the birth-date rule ("not in the future"). The core does not
/// read the clock: callers pass today's date so results are reproducible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// The earliest birth year accepted: nobody alive or on a registry was born before it.
pub const EARLIEST_BIRTH_YEAR: u16 = 1880;

impl CivilDate {
    pub fn new(year: u16, month: u8, day: u8) -> Option<CivilDate> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(CivilDate { year, month, day })
    }

    /// The civil date of a count of days since 1970-01-01 (Howard Hinnant's algorithm), so
    /// callers holding a `SystemTime` can build today's date without a calendar crate.
    pub fn from_days_since_unix_epoch(days: i64) -> CivilDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        CivilDate { year, month, day }
    }

    /// `YYYYMMDD`, the form used in quasi-identifier tokens.
    pub fn yyyymmdd(self) -> String {
        String::from_utf8(self.yyyymmdd_bytes().to_vec()).expect("ASCII digits")
    }

    /// `YYYYMMDD` as ASCII bytes, without allocating (token messages are built per row).
    pub fn yyyymmdd_bytes(self) -> [u8; 8] {
        let digit = |n: u16| b'0' + (n % 10) as u8;
        let (y, m, d) = (self.year, u16::from(self.month), u16::from(self.day));
        [digit(y / 1000), digit(y / 100), digit(y / 10), digit(y), digit(m / 10), digit(m), digit(d / 10), digit(d)]
    }

    /// Parses `YYYYMMDD` or `YYYY-MM-DD` (also with `/` or `.` as separators).
    pub fn parse(text: &str) -> Option<CivilDate> {
        // Every row of a department file has a date cell: no allocation here.
        let mut digits = [0u8; 8];
        let mut count = 0;
        for c in text.trim().chars().filter(|c| !matches!(c, '-' | '/' | '.')) {
            if !c.is_ascii_digit() || count == digits.len() {
                return None;
            }
            digits[count] = c as u8;
            count += 1;
        }
        if count != digits.len() {
            return None;
        }
        CivilDate::new(
            digits_value(&digits[0..4]) as u16,
            digits_value(&digits[4..6]) as u8,
            digits_value(&digits[6..8]) as u8,
        )
    }
}

/// A moment as clocks in China read it: China Standard Time, UTC+8 all year (no daylight
/// saving since 1991). The core reads no clock: callers pass the Unix time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChinaTime {
    pub date: CivilDate,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl ChinaTime {
    const UTC_OFFSET_SECONDS: i64 = 8 * 3600;

    pub fn from_unix_seconds(unix_seconds: i64) -> ChinaTime {
        let local = unix_seconds + Self::UTC_OFFSET_SECONDS;
        let second_of_day = local.rem_euclid(86_400);
        ChinaTime {
            date: CivilDate::from_days_since_unix_epoch(local.div_euclid(86_400)),
            hour: (second_of_day / 3600) as u8,
            minute: (second_of_day / 60 % 60) as u8,
            second: (second_of_day % 60) as u8,
        }
    }

    /// `2026-11-29 23:11`: to the minute, without the offset (the report's summary page).
    pub fn to_minute_string(self) -> String {
        let ChinaTime { date, hour, minute, .. } = self;
        format!("{:04}-{:02}-{:02} {hour:02}:{minute:02}", date.year, date.month, date.day)
    }
}

/// `2026-11-29 23:11:15 +08:00`.
impl fmt::Display for ChinaTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ChinaTime { date, hour, minute, second } = self;
        write!(f, "{:04}-{:02}-{:02} {hour:02}:{minute:02}:{second:02} +08:00", date.year, date.month, date.day)
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// ISO 7064 MOD 11-2 weights for the 17 body digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The check character for 17 ASCII digits.
pub fn check_character(body: &[u8; 17]) -> u8 {
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

/// Characters removed wherever they appear: whitespace that spreadsheets and web forms
/// leave in identity cells, and invisible characters copied from documents.
fn is_removable(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}')
}

/// Folds one character: full-width ASCII to ASCII, and every way of typing X to `X`.
fn fold_char(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    match c {
        'x' | '×' | '✕' | '╳' => 'X',
        other => other,
    }
}

/// Normalizes a raw identity cell as typed or exported, without judging it: removes
/// whitespace and invisible characters, folds full-width forms and X look-alikes, drops
/// leading `'` (Excel's text marker) and trailing `.0` (a number formatted as float).
///
/// Idempotent: `normalize(normalize(s)) == normalize(s)`. Borrows when nothing changes.
pub fn normalize(raw: &str) -> Cow<'_, str> {
    let clean = raw.bytes().all(|b| b.is_ascii_digit() || b == b'X');
    if clean {
        return Cow::Borrowed(raw);
    }
    let mut folded: String = raw.chars().filter(|&c| !is_removable(c)).map(fold_char).collect();
    while folded.ends_with(".0") {
        folded.truncate(folded.len() - 2);
    }
    let start = folded.len() - folded.trim_start_matches('\'').len();
    folded.drain(..start);
    Cow::Owned(folded)
}

/// Excel's scientific notation, e.g. `4.40118E+17`: the digits are gone for good.
fn is_scientific_notation(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['E', 'e']) else { return false };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once(['.', ',']) {
        Some((int_part, frac_part)) => digits(int_part) && digits(frac_part),
        None => digits(mantissa),
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    mantissa_ok && digits(exponent)
}

impl IdNumber {
    /// Normalizes and validates a raw identity cell. `today` bounds the birth date.
    ///
    /// Rules apply in a fixed order so every input gets exactly one stable code: empty,
    /// Excel scientific notation, length, character set, birth date, check character (where
    /// an 18-digit number ending in `000` with a wrong check is reported as Excel-mangled).
    pub fn parse(raw: &str, today: CivilDate) -> Result<IdNumber, IdError> {
        let text = normalize(raw);
        let s = text.as_bytes();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if is_scientific_notation(&text) {
            return Err(IdError::ExcelMangled);
        }
        let char_count = if text.is_ascii() { text.len() } else { text.chars().count() };
        if char_count != 15 && char_count != 18 {
            return Err(IdError::Length);
        }
        let mut number = [0u8; 18];
        match s.len() {
            15 => {
                if !s.iter().all(u8::is_ascii_digit) {
                    return Err(IdError::Charset);
                }
                number[..6].copy_from_slice(&s[..6]);
                number[6..8].copy_from_slice(b"19");
                number[8..17].copy_from_slice(&s[6..]);
            }
            18 => {
                let body_ok = s[..17].iter().all(u8::is_ascii_digit);
                if !body_ok || !(s[17].is_ascii_digit() || s[17] == b'X') {
                    return Err(IdError::Charset);
                }
                number.copy_from_slice(s);
            }
            // 15 or 18 characters, but some of them are not ASCII.
            _ => return Err(IdError::Charset),
        }
        let year = digits_value(&number[6..10]) as u16;
        let month = digits_value(&number[10..12]) as u8;
        let day = digits_value(&number[12..14]) as u8;
        let birth = CivilDate::new(year, month, day).ok_or(IdError::BirthDate)?;
        if birth.year < EARLIEST_BIRTH_YEAR || birth > today {
            return Err(IdError::BirthDate);
        }
        let body: &[u8; 17] = number[..17].try_into().expect("17 bytes");
        let expected = check_character(body);
        if s.len() == 15 {
            number[17] = expected;
        } else if number[17] != expected {
            let truncated_by_excel = number[15..].iter().all(|&b| b == b'0');
            return Err(if truncated_by_excel { IdError::ExcelMangled } else { IdError::Checksum });
        }
        Ok(IdNumber(number))
    }

    /// The 18 ASCII bytes: the exact input of identity tokens. Handle with care: this is
    /// the raw identity, which must never leave the agent.
    pub fn as_bytes(&self) -> &[u8; 18] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("canonical identity numbers are ASCII")
    }

    /// Birth date encoded in the number (already validated).
    pub fn birth_date(&self) -> CivilDate {
        CivilDate {
            year: digits_value(&self.0[6..10]) as u16,
            month: digits_value(&self.0[10..12]) as u8,
            day: digits_value(&self.0[12..14]) as u8,
        }
    }

    /// Sex from the 17th digit: odd for men, even for women.
    pub fn sex(&self) -> Sex {
        if (self.0[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber(<redacted, born {}>)", &self.as_str()[6..10])
    }
}

fn digits_value(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// Sex as used in quasi-identifier tokens (`M` / `F`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }

    /// Reads the ways sex is written in department files: 男/女, M/F, 1/2 (GB/T 2261.1).
    pub fn parse(text: &str) -> Option<Sex> {
        match text.trim() {
            "男" | "M" | "m" | "1" | "男性" | "Male" | "male" => Some(Sex::Male),
            "女" | "F" | "f" | "2" | "女性" | "Female" | "female" => Some(Sex::Female),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: CivilDate = CivilDate { year: 2026, month: 11, day: 29 };

    fn check(raw: &str) -> String {
        match IdNumber::parse(raw, TODAY) {
            Ok(id) => format!("OK {}", id.as_str()),
            Err(e) => format!("ERR {}", e.code()),
        }
    }

    #[test]
    fn data_driven_cases() {
        let cases = [
            ("11010519491231002X", "OK 11010519491231002X"),
            ("11010519491231002x", "OK 11010519491231002X"),
            ("11010519491231002×", "OK 11010519491231002X"),
            ("１１０１０５１９４９１２３１００２Ｘ", "OK 11010519491231002X"),
            (" 1101 0519 4912 3100 2X\t", "OK 11010519491231002X"),
            ("\u{FEFF}\u{200B}11010519491231002X\u{3000}", "OK 11010519491231002X"),
            ("'11010519491231002X", "OK 11010519491231002X"),
            ("440524188001010014", "OK 440524188001010014"),
            ("110105491231002", "OK 11010519491231002X"),
            ("440183800101001.0", "OK 440183198001010011"),
            ("", "ERR empty"),
            ("  \u{200B} ", "ERR empty"),
            ("4.40118E+17", "ERR excel-mangled"),
            ("4.40118e17", "ERR excel-mangled"),
            ("4E+17", "ERR excel-mangled"),
            ("4.E+17", "ERR length"),
            ("440118198001010000", "ERR excel-mangled"),
            ("12345", "ERR length"),
            ("1101051949123100", "ERR length"),
            ("11010519491231002Y", "ERR charset"),
            ("1101051949123100２甲", "ERR charset"),
            ("1101051949123100X2", "ERR charset"),
            ("11010549123100X", "ERR charset"),
            ("110105194902300021", "ERR birthdate"),
            ("110105187912310021", "ERR birthdate"),
            ("110105203001010021", "ERR birthdate"),
            ("110105194912310021", "ERR checksum"),
        ];
        for (raw, want) in cases {
            assert_eq!(check(raw), want, "input {raw:?}");
        }
    }

    #[test]
    fn birth_date_and_sex_are_read_from_the_number() {
        let id = IdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(id.birth_date(), CivilDate::new(1949, 12, 31).unwrap());
        assert_eq!(id.sex(), Sex::Female);
    }

    #[test]
    fn debug_never_shows_the_number() {
        let id = IdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert!(!format!("{id:?}").contains("0519491231"));
    }

    #[test]
    fn yyyymmdd_pads_with_zeros() {
        assert_eq!(CivilDate::new(1880, 1, 2).unwrap().yyyymmdd(), "18800102");
        assert_eq!(CivilDate::new(2026, 11, 29).unwrap().yyyymmdd(), "20261129");
    }

    #[test]
    fn civil_dates_as_departments_write_them() {
        let date = CivilDate::new(1949, 12, 31);
        let cases: &[(&str, Option<CivilDate>)] = &[
            ("19491231", date),
            ("1949-12-31", date),
            ("1949/12/31", date),
            (" 1949.12.31\t", date),
            ("1949-1231", date),
            ("1949-12-3", None),
            ("194912311", None),
            ("1949-12-31 00:00", None),
            ("１９４９１２３１", None),
            ("1949-13-01", None),
            ("1949-02-29", None),
            ("", None),
            ("--", None),
        ];
        for &(text, want) in cases {
            assert_eq!(CivilDate::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn civil_date_from_unix_days() {
        assert_eq!(CivilDate::from_days_since_unix_epoch(0), CivilDate::new(1970, 1, 1).unwrap());
        assert_eq!(CivilDate::from_days_since_unix_epoch(20_786), CivilDate::new(2026, 11, 29).unwrap());
        assert_eq!(CivilDate::from_days_since_unix_epoch(11_016), CivilDate::new(2000, 2, 29).unwrap());
    }

    #[test]
    fn china_time_from_unix_seconds() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01 08:00:00 +08:00"),
            (-28_801, "1969-12-31 23:59:59 +08:00"),
            // 16:00 UTC is midnight in China: the date turns eight hours before UTC's.
            (1_795_967_999, "2026-11-29 23:59:59 +08:00"),
            (1_795_968_000, "2026-11-30 00:00:00 +08:00"),
            (1_555_631_999, "2019-04-19 07:59:59 +08:00"),
            (951_753_600, "2000-02-29 00:00:00 +08:00"),
            (1_709_222_399, "2024-02-29 23:59:59 +08:00"),
            (1_767_196_799, "2025-12-31 23:59:59 +08:00"),
            (1_767_196_800, "2026-01-01 00:00:00 +08:00"),
            (4_107_513_600, "2100-03-01 00:00:00 +08:00"),
        ];
        for &(unix, want) in cases {
            assert_eq!(ChinaTime::from_unix_seconds(unix).to_string(), want, "{unix}");
        }
        let new_year = ChinaTime::from_unix_seconds(1_767_196_800);
        assert_eq!(new_year.date, CivilDate::new(2026, 1, 1).unwrap());
        assert_eq!(new_year.to_minute_string(), "2026-01-01 00:00");
        assert_eq!(ChinaTime::from_unix_seconds(1_709_222_399).to_minute_string(), "2024-02-29 23:59");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Characters that real identity cells are made of, messy ones included.
        fn messy_cell() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[0-9xX×Ｘ０-９ '.\t\u{00A0}\u{3000}\u{200B}\u{FEFF}eE+甲]{0,24}").unwrap()
        }

        fn valid_body() -> impl Strategy<Value = [u8; 17]> {
            (110_000u32..660_000, 1880u16..2026, 1u8..=12, 1u8..=28, 0u16..1000).prop_map(|(area, y, m, d, seq)| {
                let text = format!("{area:06}{y:04}{m:02}{d:02}{seq:03}");
                text.as_bytes().try_into().unwrap()
            })
        }

        fn valid_id() -> impl Strategy<Value = String> {
            valid_body().prop_map(|body| {
                let mut text = String::from_utf8(body.to_vec()).unwrap();
                text.push(check_character(&body) as char);
                text
            })
        }

        /// `CivilDate::parse` as first written, with an allocation.
        fn civil_date_reference(text: &str) -> Option<CivilDate> {
            let digits: String = text.trim().chars().filter(|c| !matches!(c, '-' | '/' | '.')).collect();
            if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            CivilDate::new(digits[0..4].parse().ok()?, digits[4..6].parse().ok()?, digits[6..8].parse().ok()?)
        }

        proptest! {
            #[test]
            fn civil_date_parse_agrees_with_the_reference(text in "[ 0-9./:年月日１-]{0,14}") {
                prop_assert_eq!(CivilDate::parse(&text), civil_date_reference(&text));
            }

            #[test]
            fn normalize_is_idempotent(raw in messy_cell()) {
                let once = normalize(&raw).into_owned();
                prop_assert_eq!(normalize(&once).into_owned(), once);
            }

            #[test]
            fn normalize_is_idempotent_on_any_text(raw in any::<String>()) {
                let once = normalize(&raw).into_owned();
                prop_assert_eq!(normalize(&once).into_owned(), once);
            }

            #[test]
            fn every_ok_output_revalidates(raw in messy_cell()) {
                if let Ok(id) = IdNumber::parse(&raw, TODAY) {
                    prop_assert_eq!(IdNumber::parse(id.as_str(), TODAY), Ok(id));
                }
            }

            #[test]
            fn valid_numbers_survive_every_messy_spelling(
                id in valid_id(), spaces in 0usize..18, lower in any::<bool>()
            ) {
                let mut messy: String = id.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect();
                if lower { messy = id.replace('X', "x"); }
                messy.insert(spaces.min(messy.chars().count()) * if lower { 1 } else { 3 }, '\u{3000}');
                let messy = format!("'{messy}.0");
                prop_assert_eq!(IdNumber::parse(&messy, TODAY).map(|i| i.as_str().to_owned()), Ok(id));
            }

            #[test]
            fn upgraded_15_digit_numbers_are_valid_18_digit_ones(
                area in 110_000u32..660_000, yy in 0u8..100, m in 1u8..=12, d in 1u8..=28, seq in 0u16..1000,
            ) {
                let old = format!("{area:06}{yy:02}{m:02}{d:02}{seq:03}");
                let id = IdNumber::parse(&old, TODAY).unwrap();
                let body: &[u8; 17] = id.as_bytes()[..17].try_into().unwrap();
                prop_assert_eq!(id.as_bytes()[17], check_character(body));
                prop_assert_eq!(&id.as_str()[6..8], "19");
                prop_assert_eq!(IdNumber::parse(id.as_str(), TODAY), Ok(id));
            }

            #[test]
            fn any_single_character_change_is_rejected(id in valid_id(), at in 0usize..18, new in 0u8..11) {
                let mut bytes = id.into_bytes();
                let replacement = b"0123456789X"[new as usize];
                prop_assume!(bytes[at] != replacement && (at == 17 || replacement != b'X'));
                bytes[at] = replacement;
                prop_assert!(IdNumber::parse(std::str::from_utf8(&bytes).unwrap(), TODAY).is_err());
            }
        }
    }
}
