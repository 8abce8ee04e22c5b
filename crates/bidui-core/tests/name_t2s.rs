//! The traditional→simplified table of canonical names is protocol data
//! (`protocol-docs/name-t2s.txt`, spec-v1.md §6.1). These tests keep it honest: the spec
//! names the file's digest, the file is what OpenCC's data gives by the spec's rules, and
//! the canonical form read from it equals the one the rules give directly.
//!
//! After a deliberate change of the rules or of the OpenCC data, regenerate the file with
//!
//! ```sh
//! cargo test -p bidui-core --test name_t2s -- --ignored regenerate_name_t2s_table
//! ```
//!
//! and write its new digest and line count into spec-v1.md §6.1.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::LazyLock;

use bidui_core::name::{canonical, canonical_keep_script};
use ferrous_opencc::config::BuiltinConfig;
use ferrous_opencc::OpenCC;
use sha2::{Digest, Sha256};
use unicode_normalization::is_nfkc;

fn protocol_docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../protocol-docs")
}

fn checked_in_table() -> String {
    std::fs::read_to_string(protocol_docs().join("name-t2s.txt")).expect("protocol-docs/name-t2s.txt is checked in")
}

/// Every block of CJK unified and compatibility ideographs, where OpenCC's keys live.
const IDEOGRAPH_RANGES: [(char, char); 4] =
    [('\u{3400}', '\u{4DBF}'), ('\u{4E00}', '\u{9FFF}'), ('\u{F900}', '\u{FAFF}'), ('\u{20000}', '\u{323AF}')];

/// Steps 2 and 3 of spec-v1.md §6.1: the corrections for names.
const T2S_KEEP: [char; 2] = ['乾', '於'];
const T2S_EXTRA: [(char, char); 5] = [('锺', '钟'), ('钜', '巨'), ('缐', '线'), ('馀', '余'), ('麹', '曲')];

/// The table by the rules of spec-v1.md §6.1 from the OpenCC data embedded in
/// `ferrous-opencc` — the code that built the table at run time before it was checked in.
static OPENCC_TABLE: LazyLock<Vec<(char, char)>> = LazyLock::new(|| {
    let opencc = OpenCC::from_config(BuiltinConfig::T2s).expect("OpenCC's embedded t2s configuration loads");
    let candidates: Vec<char> = IDEOGRAPH_RANGES.iter().flat_map(|&(lo, hi)| lo..=hi).collect();
    // One conversion call for the whole table: a newline after each character keeps any
    // phrase from matching, so each character converts on its own (step 1).
    let mut probe = String::with_capacity(candidates.len() * 5);
    for &c in &candidates {
        probe.push(c);
        probe.push('\n');
    }
    let converted = opencc.convert(&probe);
    let outputs: Vec<&str> = converted.split('\n').collect();
    assert_eq!(outputs.len(), candidates.len() + 1, "OpenCC t2s kept one line per character");

    let mut table: Vec<(char, char)> = candidates
        .iter()
        .zip(&outputs)
        .filter_map(|(&from, to)| {
            let mut chars = to.chars();
            match (chars.next(), chars.next()) {
                (Some(to), None) if to != from && !T2S_KEEP.contains(&from) => Some((from, to)),
                _ => None,
            }
        })
        .chain(T2S_EXTRA)
        .collect();
    table.sort_unstable();
    // Step 4: OpenCC maps a few characters to ones it maps again (薴 → 苧 → 苎).
    table
        .iter()
        .map(|&(from, mut to)| {
            for _ in 0..table.len() {
                match lookup(&table, to) {
                    Some(next) if next != from => to = next,
                    _ => break,
                }
            }
            (from, to)
        })
        // A target NFKC would change again would break idempotence; OpenCC has none.
        .filter(|&(from, to)| from != to && is_nfkc(to.encode_utf8(&mut [0; 4])))
        .collect()
});

fn lookup(table: &[(char, char)], c: char) -> Option<char> {
    table.binary_search_by_key(&c, |&(from, _)| from).ok().map(|i| table[i].1)
}

/// The comment lines at the top of the file; they are part of what the digest covers.
const HEADER: &str = "\
# bidui protocol v1: the traditional → simplified character table of canonical names (spec-v1.md §6.1).
# One line per mapped character, `traditional<TAB>simplified`, sorted by code point; any other character
# is left as it is. Derived from the OpenCC data of ferrous-opencc 0.4.0 by the rules of §6.1.
# Regenerate: cargo test -p bidui-core --test name_t2s -- --ignored regenerate_name_t2s_table
";

/// The file's text for `table`: the header, then one LF-terminated line per mapping.
fn render(table: &[(char, char)]) -> String {
    let mut text = String::from(HEADER);
    for &(from, to) in table {
        writeln!(text, "{from}\t{to}").unwrap();
    }
    text
}

/// Not part of the normal suite: rewrites the checked-in file from OpenCC's data.
#[test]
#[ignore = "rewrites protocol-docs/name-t2s.txt; run with --ignored after a deliberate change"]
fn regenerate_name_t2s_table() {
    let text = render(&OPENCC_TABLE);
    std::fs::write(protocol_docs().join("name-t2s.txt"), &text).expect("write protocol-docs/name-t2s.txt");
    println!(
        "name-t2s.txt: SHA-256 {}, {} mapping lines; write both into spec-v1.md section 6.1",
        hex::encode(Sha256::digest(&text)),
        OPENCC_TABLE.len()
    );
}

#[test]
fn checked_in_table_is_what_opencc_gives_by_the_spec_rules() {
    assert!(
        checked_in_table() == render(&OPENCC_TABLE),
        "protocol-docs/name-t2s.txt differs from what ferrous-opencc's data gives by the rules of spec-v1.md \
         section 6.1. If the change is deliberate, regenerate with \
         `cargo test -p bidui-core --test name_t2s -- --ignored regenerate_name_t2s_table`."
    );
}

#[test]
fn spec_names_the_checked_in_digest_and_line_count() {
    let table = checked_in_table();
    let spec = std::fs::read_to_string(protocol_docs().join("spec-v1.md")).expect("spec-v1.md is checked in");
    let digest = format!("SHA-256 `{}`", hex::encode(Sha256::digest(&table)));
    assert!(spec.contains(&digest), "spec-v1.md section 6.1 should say, on one line: {digest}");
    let mappings = table.lines().filter(|line| !line.starts_with('#')).count();
    let count = format!("{mappings} mapping lines");
    assert!(spec.contains(&count), "spec-v1.md section 6.1 should say, on one line: {count}");
}

/// `canonical` through the checked-in table equals `canonical` through the table built
/// from OpenCC, for every character that table maps and every character of the CJK blocks
/// up to the end of plane 2 — including those NFKC first turns into a mapped character.
#[test]
fn canonical_form_is_unchanged_by_the_checked_in_table() {
    let opencc_table = &*OPENCC_TABLE;
    let opencc_canonical = |name: &str| -> String {
        canonical_keep_script(name).chars().map(|c| lookup(opencc_table, c).unwrap_or(c)).collect()
    };
    let keys = opencc_table.iter().map(|&(from, _)| from);
    let blocks = ('\u{3400}'..='\u{9FFF}').chain('\u{20000}'..='\u{2FFFF}');
    let mut checked = 0;
    let mut name = String::new();
    for c in keys.chain(blocks) {
        name.clear();
        name.push(c);
        assert_eq!(canonical(&name), opencc_canonical(&name), "{c:?} U+{:04X}", u32::from(c));
        checked += 1;
    }
    assert!(checked > 27_648 + 65_536, "{checked}");
}
