//! `bidui id check` against an independent reference (`tests/reference/gb11643.py`).
//!
//! A deterministic generator produces tens of thousands of identity numbers — valid ones,
//! messy renderings of valid ones (full-width digits, stray whitespace, Excel artefacts) and
//! corrupted ones — and the binary and the Python reference must answer every line alike.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

const TODAY: &str = "2026-11-29";
const TODAY_YMD: (u32, u32, u32) = (2026, 11, 29);
const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/gb11643.py");

// ---------------------------------------------------------------------------------------------
// Running the two implementations

/// Runs `cmd` with `input` on stdin (written from a thread, so large inputs cannot deadlock)
/// and returns its stdout; panics unless it exits successfully.
fn run(mut cmd: Command, input: &[u8]) -> Vec<u8> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
    writer.join().expect("stdin writer thread").unwrap_or_else(|e| panic!("writing to {what}: {e}"));
    assert!(output.status.success(), "{what} failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn bidui_id_check(input: &[u8]) -> Vec<String> {
    let mut cmd = Command::new(crate::bidui_exe());
    cmd.args(["id", "check", "--today", TODAY]);
    output_lines(run(cmd, input))
}

fn reference_id_check(input: &[u8]) -> Vec<String> {
    let mut cmd = Command::new("python3");
    cmd.args([REFERENCE, "--today", TODAY]);
    output_lines(run(cmd, input))
}

fn output_lines(stdout: Vec<u8>) -> Vec<String> {
    let text = String::from_utf8(stdout).expect("output is UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "output does not end with a newline");
    text.lines().map(str::to_owned).collect()
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut input = Vec::new();
    for line in lines {
        assert!(!line.contains(&b'\n'), "a case must be a single line: {:?}", String::from_utf8_lossy(line));
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    input
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: SplitMix64

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi - lo) + 1) as u32
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn digit(&mut self) -> char {
        char::from(b'0' + self.below(10) as u8)
    }

    /// A digit other than `not`.
    fn other_digit(&mut self, not: char) -> char {
        loop {
            let d = self.digit();
            if d != not {
                return d;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pieces of an identity number

/// Real (current and abolished) six-digit address codes; `random_address` also makes up codes,
/// since the address part is never judged.
const ADDRESSES: &[&str] = &[
    "110101", "110105", "110108", "120101", "130102", "140105", "150102", "210102", "220102", "230103", "310101",
    "310104", "310115", "320102", "320583", "330106", "340104", "350203", "360102", "370102", "410105", "420106",
    "430104", "440103", "440104", "440106", "440118", "440183", "440300", "440305", "440606", "450103", "460105",
    "500101", "500103", "510104", "510107", "520102", "530102", "540102", "610104", "620102", "630102", "640104",
    "650102", "652801", "710000", "810000", "820000", "830000",
];

fn random_address(rng: &mut Rng) -> String {
    if rng.chance(3, 4) {
        (*rng.pick(ADDRESSES)).to_owned()
    } else {
        (0..6).map(|_| rng.digit()).collect()
    }
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// A real date in `from_year..=to_year`.
fn random_date(rng: &mut Rng, from_year: u32, to_year: u32) -> (u32, u32, u32) {
    let year = rng.between(from_year, to_year);
    let month = rng.between(1, 12);
    (year, month, rng.between(1, days_in_month(year, month)))
}

/// A real date in `from_year..=to_year` that is not after `TODAY`.
fn random_past_date(rng: &mut Rng, from_year: u32, to_year: u32) -> (u32, u32, u32) {
    loop {
        let date = random_date(rng, from_year, to_year);
        if date <= TODAY_YMD {
            return date;
        }
    }
}

/// Birth dates that deserve their own cases.
const SPECIAL_DATES: &[(u32, u32, u32)] = &[
    (1880, 1, 1),
    (1880, 2, 29),
    (1896, 2, 29),
    (1904, 2, 29),
    (1900, 2, 28),
    (1900, 3, 1),
    (1949, 10, 1),
    (1999, 12, 31),
    (2000, 1, 1),
    (2000, 2, 29),
    (2004, 2, 29),
    (2020, 2, 29),
    (2024, 2, 29),
    (2026, 11, 28),
    (2026, 11, 29),
];

fn random_birth_date(rng: &mut Rng) -> (u32, u32, u32) {
    if rng.chance(1, 8) {
        *rng.pick(SPECIAL_DATES)
    } else {
        random_past_date(rng, 1880, 2026)
    }
}

/// The GB 11643 check character of 17 body digits (ISO 7064 MOD 11-2).
fn check_char(body: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    assert_eq!(body.len(), 17, "body {body:?}");
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

/// 17 body digits; the date fields are printed as given, impossible or not.
fn body(address: &str, (year, month, day): (u32, u32, u32), sequence: u32) -> String {
    format!("{address}{year:04}{month:02}{day:02}{sequence:03}")
}

fn with_check(body: String) -> String {
    let c = check_char(&body);
    body + &c.to_string()
}

/// A valid 18-character number; with `want_x` its check character is `X`.
fn valid18(rng: &mut Rng, want_x: bool) -> String {
    let address = random_address(rng);
    let date = random_birth_date(rng);
    let mut sequence = rng.between(0, 999);
    loop {
        let id = with_check(body(&address, date, sequence));
        if !want_x || id.ends_with('X') {
            return id;
        }
        sequence = (sequence + 1) % 1000;
    }
}

/// A 15-digit first-generation number with a real 19xx birth date.
fn valid15(rng: &mut Rng) -> String {
    let (year, month, day) = if rng.chance(1, 10) {
        *rng.pick(&[(1900, 1, 1), (1904, 2, 29), (1996, 2, 29), (1999, 12, 31)])
    } else {
        random_past_date(rng, 1900, 1999)
    };
    format!("{}{:02}{month:02}{day:02}{:03}", random_address(rng), year % 100, rng.between(0, 999))
}

// ---------------------------------------------------------------------------------------------
// Messy renderings

/// Whitespace (Unicode `White_Space`) and invisible characters that must be ignored anywhere.
const IGNORABLE: &[char] = &[
    ' ', ' ', ' ', '\t', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{a0}', '\u{1680}', '\u{2002}', '\u{2009}',
    '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}', '\u{3000}', '\u{200b}', '\u{200c}',
    '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}', '\u{180e}',
];

fn full_width(c: char) -> char {
    match c {
        '!'..='~' => char::from_u32(c as u32 + 0xFEE0).expect("full-width form"),
        _ => c,
    }
}

fn ignorable_run(rng: &mut Rng) -> String {
    (0..rng.between(1, 3)).map(|_| *rng.pick(IGNORABLE)).collect()
}

fn insert_ignorables(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<String> = s.chars().map(String::from).collect();
    for _ in 0..rng.between(1, 4) {
        let at = rng.below(chars.len() as u64 + 1) as usize;
        chars.insert(at, ignorable_run(rng));
    }
    chars.concat()
}

/// A messy but acceptable rendering of `id` (which is canonical: digits and maybe a final X).
fn messy(rng: &mut Rng, id: &str) -> String {
    loop {
        let mut s = id.to_owned();
        if s.ends_with('X') && rng.chance(3, 4) {
            let x = *rng.pick(&["x", "Ｘ", "ｘ", "×", "✕", "╳"]);
            s = format!("{}{x}", &s[..s.len() - 1]);
        }
        if rng.chance(1, 3) {
            let all = rng.chance(1, 2);
            s = s.chars().map(|c| if all || rng.chance(1, 3) { full_width(c) } else { c }).collect();
        }
        if rng.chance(1, 2) {
            s = insert_ignorables(rng, &s);
        }
        if rng.chance(1, 4) {
            s = format!("{}{s}{}", ignorable_run(rng), ignorable_run(rng));
        }
        if rng.chance(1, 4) {
            let quotes = if rng.chance(1, 5) { "＇".to_owned() } else { "'".repeat(rng.between(1, 2) as usize) };
            s = quotes + &s;
        }
        if rng.chance(1, 4) {
            for _ in 0..rng.between(1, 3) {
                s += *rng.pick(&[".0", ".0", "．０", ". 0"]);
            }
        }
        if rng.chance(1, 8) {
            s = format!("{}{s}{}", ignorable_run(rng), ignorable_run(rng));
        }
        if s != id {
            return s;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus

struct Case {
    kind: &'static str,
    line: Vec<u8>,
}

#[derive(Default)]
struct Corpus(Vec<Case>);

impl Corpus {
    fn add(&mut self, kind: &'static str, line: impl Into<Vec<u8>>) {
        self.0.push(Case { kind, line: line.into() });
    }
}

fn replace_char(s: &str, at: usize, with: &str) -> String {
    s.chars().enumerate().map(|(i, c)| if i == at { with.to_owned() } else { c.to_string() }).collect()
}

/// The Excel rendering of a long number: `4.40118E+17` and relatives.
fn scientific(rng: &mut Rng, id: &str) -> String {
    let digits: String = id.chars().filter(char::is_ascii_digit).collect();
    let mantissa_digits = rng.between(0, 14) as usize;
    let point = if rng.chance(1, 5) { "," } else { "." };
    let mut s = digits[..1].to_owned();
    if mantissa_digits > 0 {
        s += point;
        s += &digits[1..1 + mantissa_digits];
    }
    s += if rng.chance(1, 5) { "e" } else { "E" };
    s += *rng.pick(&["+", "+", "", "-"]);
    s += &(digits.len() - 1).to_string();
    s
}

/// Strings that look almost, but not quite, like scientific notation.
const NOT_SCIENTIFIC: &[&str] = &[
    "4.E+17",
    "4,e17",
    ".4E+17",
    "4.4E+",
    "4.4E",
    "E+17",
    "4.4E+-17",
    "4.4.4E+17",
    "4,4.4E+17",
    "-4.4E+17",
    "+4.4E+17",
    "4.4EE17",
    "4.4E1.7",
    "4.4x10^17",
    "4.4D+17",
    "4.40118E+17X",
    "4.40118*10^17",
    "44011800000000E+",
    "4401180000000E+17",
    "4.4011819900E+17",
    "4.40118199001011E+1X",
    "4.401181990010E+177",
    "4.40118E+17'",
    "4.40118E+17.00",
    "4．40118E+1七",
];

/// Strings that are scientific notation, including 15- and 18-character ones (the Excel check
/// comes before the length check).
const SCIENTIFIC: &[&str] = &[
    "4.40118E+17",
    "4.40118e+17",
    "4,40118E+17",
    "4E17",
    "4e-5",
    "0E0",
    "1.10105E+17",
    "4.4011819900E+17",
    "4.401181990010E+17",
    "44011819900101E+17",
    "4.4011819900101E17",
    "440118199001011E+1",
    "４．４０１１８Ｅ＋１７",
    "'4.40118E+17",
    "4.40118E+17.0",
    " 4.40118 E+17 ",
    "4.40118\u{a0}E+17",
    "4.40118E+17\u{feff}",
];

fn corpus() -> Corpus {
    let mut rng = Rng(0x6231_3136_3433_2d31); // "gb11643-1"
    let mut corpus = Corpus::default();

    // Valid second-generation numbers, a quarter of them ending in X.
    for i in 0..6_000 {
        let id = valid18(&mut rng, i % 4 == 0);
        corpus.add("valid18", id);
    }
    for date in SPECIAL_DATES {
        for address in ["440183", "440118", "110101"] {
            for sequence in [0, 1, 998, 999] {
                corpus.add("valid18", with_check(body(address, *date, sequence)));
            }
        }
    }
    // Valid first-generation numbers.
    for _ in 0..1_500 {
        let id = valid15(&mut rng);
        corpus.add("valid15", id);
    }
    // Messy renderings of valid numbers.
    for i in 0..4_500 {
        let id = if i % 5 == 4 { valid15(&mut rng) } else { valid18(&mut rng, i % 3 == 0) };
        let s = messy(&mut rng, &id);
        corpus.add("messy", s);
    }

    // Single-character typos at every position.
    for _ in 0..150 {
        let want_x = rng.chance(1, 4);
        let id = valid18(&mut rng, want_x);
        for at in 0..18 {
            let old = id.chars().nth(at).expect("18 chars");
            let new = if at == 17 && rng.chance(1, 5) && old != 'X' { 'X' } else { rng.other_digit(old) };
            corpus.add("typo18", replace_char(&id, at, &new.to_string()));
        }
    }
    for _ in 0..50 {
        let id = valid15(&mut rng);
        for at in 0..15 {
            let old = id.chars().nth(at).expect("15 chars");
            let new = rng.other_digit(old);
            corpus.add("typo15", replace_char(&id, at, &new.to_string()));
        }
    }
    // Adjacent transpositions.
    for _ in 0..160 {
        let want_x = rng.chance(1, 4);
        let id = valid18(&mut rng, want_x);
        let chars: Vec<char> = id.chars().collect();
        for at in 0..17 {
            if chars[at] != chars[at + 1] {
                let mut swapped = chars.clone();
                swapped.swap(at, at + 1);
                corpus.add("transposition", swapped.into_iter().collect::<String>());
            }
        }
    }

    // Wrong lengths.
    for i in 0..1_000 {
        let id = if i % 4 == 3 { valid15(&mut rng) } else { valid18(&mut rng, i % 5 == 0) };
        let s = match i % 5 {
            0 => {
                let at = rng.below(id.len() as u64) as usize;
                format!("{}{}", &id[..at], &id[at + 1..])
            }
            1 => {
                let at = rng.below(id.len() as u64 + 1) as usize;
                format!("{}{}{}", &id[..at], rng.digit(), &id[at..])
            }
            2 => {
                let mut n = rng.between(1, 24) as usize;
                if n == 15 || n == 18 {
                    n += 1;
                }
                (0..n).map(|_| rng.digit()).collect()
            }
            3 => format!("{id}{id}"),
            _ => {
                let s = messy(&mut rng, &id);
                format!("{s}{}", rng.digit())
            }
        };
        corpus.add("length", s);
    }

    // Letters, look-alikes and non-ASCII digits where digits belong.
    const INTRUDERS: &[&str] = &[
        "A", "B", "E", "e", "O", "o", "I", "l", "Z", "Y", "X", "x", "×", "K", "-", "/", "+", ".", ",", "中", "é", "Ж",
        "Ω", "٣", "۵", "३", "𝟘", "①", "Ⅹ", "\u{0}", "\u{1c}", "\u{1f}", "?", "\u{fffd}",
    ];
    for i in 0..1_200 {
        let id = if i % 3 == 2 { valid15(&mut rng) } else { valid18(&mut rng, false) };
        let len = id.chars().count();
        let at = if i % 7 == 0 { len - 1 } else { rng.below(len as u64) as usize };
        let intruder = *rng.pick(INTRUDERS);
        let mut s = replace_char(&id, at, intruder);
        if rng.chance(1, 4) {
            s = messy(&mut rng, &s);
        }
        corpus.add("charset", s);
    }

    // Impossible birth dates, in both generations, with a correct check character.
    for i in 0..800 {
        let year = rng.between(1880, 2025);
        let date = match i % 8 {
            0 => (year, 2, 30),
            1 => (year, 13, rng.between(1, 28)),
            2 => (year, rng.between(1, 12), 0),
            3 => (year, 0, rng.between(1, 28)),
            4 => (year, *rng.pick(&[4, 6, 9, 11]), 31),
            5 => (year, rng.between(1, 12), rng.between(32, 99)),
            6 => (*rng.pick(&[1900, 1901, 1999, 2001, 2023, 2025, 1883]), 2, 29),
            _ => (year, rng.between(14, 99), rng.between(1, 28)),
        };
        let address = random_address(&mut rng);
        let sequence = rng.between(0, 999);
        if i % 4 == 3 {
            let (y, m, d) = date;
            corpus.add("bad-date15", format!("{address}{:02}{m:02}{d:02}{sequence:03}", y % 100));
        } else {
            corpus.add("bad-date18", with_check(body(&address, date, sequence)));
        }
    }
    // Birth dates after "today".
    for i in 0..400 {
        let date = match i % 5 {
            0 => (2026, 11, 30),
            1 => (2026, 12, rng.between(1, 31)),
            2 => random_date(&mut rng, 2027, 2099),
            3 => (rng.between(2100, 9999), rng.between(1, 12), rng.between(1, 28)),
            _ => (2027, 1, 1),
        };
        let date = if date <= TODAY_YMD { (2027, 1, 1) } else { date };
        corpus.add("future", with_check(body(&random_address(&mut rng), date, rng.between(0, 999))));
    }
    // Birth years before 1880.
    for i in 0..400 {
        let date = match i % 5 {
            0 => (1879, 12, 31),
            1 => (1879, rng.between(1, 12), rng.between(1, 28)),
            2 => (rng.between(1000, 1879), rng.between(1, 12), rng.between(1, 28)),
            3 => (0, rng.between(1, 12), rng.between(1, 28)),
            _ => (rng.between(1, 999), rng.between(1, 12), rng.between(1, 28)),
        };
        corpus.add("pre-1880", with_check(body(&random_address(&mut rng), date, rng.between(0, 999))));
    }

    // Excel: scientific notation (and near misses), and 15-significant-digit truncation.
    for s in SCIENTIFIC.iter().chain(NOT_SCIENTIFIC) {
        corpus.add("scientific", *s);
    }
    for i in 0..600 {
        let id = if i % 4 == 3 { valid15(&mut rng) } else { valid18(&mut rng, false) };
        let mut s = scientific(&mut rng, &id);
        if rng.chance(1, 4) {
            s = messy(&mut rng, &s);
        }
        corpus.add("scientific", s);
    }
    for i in 0..1_200 {
        let id = valid18(&mut rng, i % 3 == 0);
        let mut s = format!("{}000", &id[..15]);
        if i % 4 == 0 {
            s = messy(&mut rng, &s);
        } else if i % 4 == 1 {
            s += ".0";
        }
        corpus.add("truncated", s);
    }

    // Nothing at all.
    for s in
        ["", " ", "\t", "\r", "\u{3000}", "\u{feff}", "\u{200b}", "'", "''", ".0", "'.0", ".0.0", "＇", "．０", "' .0"]
    {
        corpus.add("empty", s);
    }
    for _ in 0..300 {
        let mut s = ignorable_run(&mut rng);
        if rng.chance(1, 3) {
            s = format!("{s}'{}", ignorable_run(&mut rng));
        }
        if rng.chance(1, 3) {
            s += ".0";
        }
        corpus.add("empty", s);
    }

    // Bytes that are not UTF-8 (each maximal invalid sequence becomes one U+FFFD).
    const BAD_BYTES: &[&[u8]] =
        &[b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xf0\x90\x80", b"\xc0\xaf", b"\x80"];
    for i in 0..300 {
        let id = if i % 3 == 2 { valid15(&mut rng) } else { valid18(&mut rng, false) };
        let bad = *rng.pick(BAD_BYTES);
        let at = rng.below(id.len() as u64 + 1) as usize;
        let mut line = id.as_bytes()[..at].to_vec();
        line.extend_from_slice(bad);
        // Either insert the bad bytes or let them replace one character.
        let rest = if i % 2 == 0 { at } else { (at + 1).min(id.len()) };
        line.extend_from_slice(&id.as_bytes()[rest..]);
        corpus.add("invalid-utf8", line);
    }
    for bad in BAD_BYTES {
        corpus.add("invalid-utf8", *bad);
    }

    // Shuffle (Fisher–Yates), so that neither implementation sees a sorted input.
    for i in (1..corpus.0.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        corpus.0.swap(i, j);
    }
    corpus
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn id_check_agrees_with_the_independent_reference() {
    let cases = corpus().0;
    let lines: Vec<Vec<u8>> = cases.iter().map(|c| c.line.clone()).collect();
    let input = join_lines(&lines);

    let ours = bidui_id_check(&input);
    let reference = reference_id_check(&input);
    assert_eq!(ours.len(), cases.len(), "bidui must write one line per input line");
    assert_eq!(reference.len(), cases.len(), "the reference must write one line per input line");

    // The corpus must exercise every outcome, or agreement would mean little.
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (case, out) in cases.iter().zip(&ours) {
        let outcome = if out.starts_with("OK ") { "OK" } else { out.as_str() };
        *outcomes.entry(outcome).or_default() += 1;
        *by_kind.entry((case.kind, outcome)).or_default() += 1;
    }
    eprintln!("{} cases; outcomes: {outcomes:?}", cases.len());
    eprintln!("by kind and outcome: {by_kind:?}");

    let differences: Vec<String> = cases
        .iter()
        .zip(ours.iter().zip(&reference))
        .enumerate()
        .filter(|(_, (_, (a, b)))| a != b)
        .map(|(i, (case, (a, b)))| {
            format!(
                "line {}: [{}] input {:?}: bidui {a:?}, reference {b:?}",
                i + 1,
                case.kind,
                String::from_utf8_lossy(&case.line)
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "bidui and the reference disagree on {} of {} lines; the first ones:\n{}",
        differences.len(),
        cases.len(),
        differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );

    assert!(cases.len() >= 20_000, "only {} cases", cases.len());
    assert!(outcomes.get("OK").copied().unwrap_or(0) >= 5_000, "too few OK: {outcomes:?}");
    for code in ["empty", "excel-mangled", "length", "charset", "birthdate", "checksum"] {
        let n = outcomes.get(format!("ERR {code}").as_str()).copied().unwrap_or(0);
        assert!(n >= 50, "only {n} lines gave ERR {code}: {outcomes:?}");
    }
    assert_eq!(outcomes.len(), 7, "unexpected outcomes: {outcomes:?}");
}

#[test]
fn every_single_digit_change_is_rejected() {
    let mut rng = Rng(0x7479_706f_732d_3137); // "typos-17"
    let mut lines = Vec::new();
    let mut originals = Vec::new();
    for i in 0..300 {
        let id = valid18(&mut rng, i % 4 == 0);
        originals.push(id.clone());
        let chars: Vec<char> = id.chars().collect();
        for (at, &old) in chars.iter().enumerate().take(17) {
            for d in '0'..='9' {
                if d != old {
                    lines.push((id.clone(), replace_char(&id, at, &d.to_string())));
                }
            }
        }
        for c in ('0'..='9').chain(['X']) {
            if c != chars[17] {
                lines.push((id.clone(), replace_char(&id, 17, &c.to_string())));
            }
        }
    }
    assert_eq!(lines.len(), 300 * (17 * 9 + 10));

    let mut input = join_lines(&originals.iter().map(|s| s.clone().into_bytes()).collect::<Vec<_>>());
    input.extend(join_lines(&lines.iter().map(|(_, s)| s.clone().into_bytes()).collect::<Vec<_>>()));
    let out = bidui_id_check(&input);
    assert_eq!(out.len(), originals.len() + lines.len());

    for (id, verdict) in originals.iter().zip(&out) {
        assert_eq!(verdict, &format!("OK {id}"), "the unchanged number {id} must pass");
    }
    let accepted: Vec<String> = lines
        .iter()
        .zip(&out[originals.len()..])
        .filter(|(_, verdict)| !matches!(verdict.as_str(), "ERR checksum" | "ERR birthdate" | "ERR excel-mangled"))
        .map(|((id, changed), verdict)| format!("{changed:?} (from {id}): {verdict}"))
        .collect();
    assert!(
        accepted.is_empty(),
        "{} single-character changes were not rejected as checksum/birthdate/excel-mangled:\n{}",
        accepted.len(),
        accepted.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn one_output_line_per_input_line() {
    let cases: &[(&[u8], &str)] = &[
        (b"11010519491231002X\n", "OK 11010519491231002X"),
        (b"\n", "ERR empty"),
        (b"\r\n", "ERR empty"),
        (b"11010519491231002x\r\n", "OK 11010519491231002X"),
        (b"110105194912310021\r\n", "ERR checksum"),
        (b"   \t \n", "ERR empty"),
        (b"\r\r\n", "ERR empty"),
        (b"\xff\xfe\n", "ERR length"),
        (b"1101051949123\xff002X\r\n", "ERR charset"),
        (b"\xc3\n", "ERR length"),
        (b"\n", "ERR empty"),
        (b"\xef\xbb\xbf11010519491231002X\r\n", "OK 11010519491231002X"),
        (b"110105491231002\r\n", "OK 11010519491231002X"),
        (b"\x00\n", "ERR length"),
        (b"11010519491231002X\r11010519491231002X\n", "ERR length"),
        (b"\xed\xa0\x80\n", "ERR length"),
        (b"\r\n", "ERR empty"),
        (b"11010519491231002X", "OK 11010519491231002X"), // no final newline
    ];
    let input: Vec<u8> = cases.iter().flat_map(|(line, _)| line.iter().copied()).collect();
    let expected: Vec<&str> = cases.iter().map(|(_, out)| *out).collect();
    assert_eq!(bidui_id_check(&input), expected);

    // Nothing in, nothing out; a run of blank lines, one out per line.
    assert_eq!(bidui_id_check(b""), Vec::<String>::new());
    let blanks: Vec<u8> =
        (0..10_000).flat_map(|i| if i % 3 == 0 { &b"\r\n"[..] } else { &b"\n"[..] }).copied().collect();
    let out = bidui_id_check(&blanks);
    assert_eq!(out.len(), 10_000);
    assert!(out.iter().all(|line| line == "ERR empty"));

    // A long mixed stream: the line count is preserved whatever the lines contain.
    let mut rng = Rng(0x6c69_6e65_732d_3031);
    let corpus = corpus().0;
    let mut stream = Vec::new();
    let mut count = 0;
    for case in corpus.iter().take(5_000) {
        stream.extend_from_slice(&case.line);
        stream.extend_from_slice(if rng.chance(1, 2) { b"\r\n" } else { b"\n" });
        count += 1;
        if rng.chance(1, 10) {
            let extra: [&[u8]; 4] = [b"\n", b"\r\n", b"\xff\n", b" \r\n"];
            stream.extend_from_slice(extra[rng.below(4) as usize]);
            count += 1;
        }
    }
    let out = bidui_id_check(&stream);
    assert_eq!(out.len(), count);
    assert!(out.iter().all(|line| line.starts_with("OK ") || line.starts_with("ERR ")));
}
