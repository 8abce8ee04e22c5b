//! The traditional→simplified character table of canonical names.
//!
//! The table is protocol data, not code: `protocol-docs/name-t2s.txt` (spec-v1.md §6.1),
//! compiled in and parsed once. Two agents hold the same bytes whatever crates they were
//! built with; `tests/name_t2s.rs` checks the file against the digest in the spec and
//! against what OpenCC's data gives by the spec's rules.

use std::sync::LazyLock;

/// The checked-in table: `#` comment lines, then `traditional<TAB>simplified` lines.
const TABLE_TEXT: &str = include_str!("../../../../protocol-docs/name-t2s.txt");

/// The table sorted by key and closed under itself (folding a folded character changes
/// nothing).
pub(super) static T2S: LazyLock<Vec<(char, char)>> =
    LazyLock::new(|| parse(TABLE_TEXT).expect("protocol-docs/name-t2s.txt is well-formed (tests/name_t2s.rs)"));

/// Why a table text is refused; line numbers count from 1, comment lines included.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum T2sTableError {
    #[error("line {line}: expected `traditional<TAB>simplified` with one character on each side, got {text:?}")]
    Malformed { line: usize, text: String },
    #[error("line {line}: {key:?} does not come after the previous key; keys must be in code point order, each once")]
    Unsorted { line: usize, key: char },
    #[error("line {line}: {key:?} maps to itself; leave characters that do not change out of the table")]
    MapsToItself { line: usize, key: char },
    #[error("line {line}: {key:?} maps to {value:?}, which the table maps again; write the final form")]
    NotClosed { line: usize, key: char, value: char },
}

/// Reads a table text. Every line ends with LF; a line starting with `#` is a comment.
/// The checks make [`fold`] well defined and idempotent.
fn parse(text: &str) -> Result<Vec<(char, char)>, T2sTableError> {
    let mut table: Vec<(char, char)> = Vec::new();
    let mut lines = Vec::new();
    for (index, text) in text.split_terminator('\n').enumerate() {
        let line = index + 1;
        if text.starts_with('#') {
            continue;
        }
        let mut chars = text.chars();
        let (key, value) = match (chars.next(), chars.next(), chars.next(), chars.next()) {
            (Some(key), Some('\t'), Some(value), None) => (key, value),
            _ => return Err(T2sTableError::Malformed { line, text: text.to_owned() }),
        };
        if table.last().is_some_and(|&(previous, _)| previous >= key) {
            return Err(T2sTableError::Unsorted { line, key });
        }
        if key == value {
            return Err(T2sTableError::MapsToItself { line, key });
        }
        table.push((key, value));
        lines.push(line);
    }
    if let Some((&(key, value), &line)) =
        table.iter().zip(&lines).find(|&(&(_, value), _)| lookup(&table, value).is_some())
    {
        return Err(T2sTableError::NotClosed { line, key, value });
    }
    Ok(table)
}

fn lookup(table: &[(char, char)], c: char) -> Option<char> {
    table.binary_search_by_key(&c, |&(from, _)| from).ok().map(|i| table[i].1)
}

/// `c` folded to simplified through `table`; unchanged when not in it.
pub(super) fn fold(table: &[(char, char)], c: char) -> char {
    // Every key is a CJK ideograph: the common Latin, digits and dots skip the search.
    if c < '\u{3400}' {
        return c;
    }
    lookup(table, c).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_table_is_sorted_closed_and_keeps_the_name_corrections() {
        let table = &*T2S;
        assert!(table.len() > 4000, "OpenCC's t2s table has about 4,100 characters");
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        for &(from, to) in table {
            assert_ne!(from, to);
            assert_eq!(fold(table, to), to, "{from} → {to} folds again");
        }
        // spec-v1.md §6.1, steps 2 and 3.
        assert_eq!(fold(table, '乾'), '乾');
        assert_eq!(fold(table, '於'), '於');
        assert_eq!(fold(table, '锺'), '钟');
        assert_eq!(fold(table, '鍾'), '钟');
        // Step 4: closed under itself.
        assert_eq!(fold(table, '薴'), '苎');
    }

    #[test]
    fn parses_comments_and_mappings() {
        assert_eq!(parse("# header\n# more\n張\t张\n麗\t丽\n"), Ok(vec![('張', '张'), ('麗', '丽')]));
        assert_eq!(parse(""), Ok(vec![]));
        // The last line's LF may be missing.
        assert_eq!(parse("張\t张"), Ok(vec![('張', '张')]));
    }

    #[test]
    fn refuses_malformed_lines() {
        for bad in ["張 张", "張\t张\t", "張张", "張\t", "\t张", "張\t张三", "張張\t张", "", " ", "張\t张\r"]
        {
            let text = format!("# header\n{bad}\n");
            assert_eq!(parse(&text), Err(T2sTableError::Malformed { line: 2, text: bad.to_owned() }), "{bad:?}");
        }
    }

    #[test]
    fn refuses_unsorted_repeated_identity_and_open_mappings() {
        assert_eq!(parse("麗\t丽\n張\t张\n"), Err(T2sTableError::Unsorted { line: 2, key: '張' }));
        assert_eq!(parse("張\t张\n張\t章\n"), Err(T2sTableError::Unsorted { line: 2, key: '張' }));
        assert_eq!(parse("#\n張\t張\n"), Err(T2sTableError::MapsToItself { line: 2, key: '張' }));
        // 苧 → 苎 is in the table, so 薴 must map to 苎, not to 苧.
        assert_eq!(
            parse("# header\n苧\t苎\n薴\t苧\n"),
            Err(T2sTableError::NotClosed { line: 3, key: '薴', value: '苧' })
        );
    }
}
