//! The catalogues agree with each other and with the code: the same keys in every
//! language, each with the same variables, and every key the code uses present with
//! exactly the variables the code passes (and none unused).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bidui_i18n::{has_message, message_in, CATALOGUES};
use fluent_syntax::ast;

/// Key → the variables its message refers to.
type Keys = BTreeMap<String, BTreeSet<String>>;

fn variables_of_expression(expression: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            variables_of_inline(selector, out);
            for variant in variants {
                variables_of_pattern(&variant.value, out);
            }
        }
        ast::Expression::Inline(inline) => variables_of_inline(inline, out),
    }
}

fn variables_of_inline(inline: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => variables_of_expression(expression, out),
        _ => {}
    }
}

fn variables_of_pattern(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            variables_of_expression(expression, out);
        }
    }
}

fn keys_of(source: &str) -> Keys {
    let resource = fluent_syntax::parser::parse(source).unwrap_or_else(|(_, errors)| panic!("{errors:?}"));
    let mut keys = Keys::new();
    for entry in &resource.body {
        match entry {
            ast::Entry::Message(message) => {
                let mut variables = BTreeSet::new();
                let value = message.value.as_ref().unwrap_or_else(|| panic!("{} has no value", message.id.name));
                variables_of_pattern(value, &mut variables);
                assert!(keys.insert(message.id.name.to_owned(), variables).is_none(), "{} twice", message.id.name);
            }
            ast::Entry::Comment(_) | ast::Entry::GroupComment(_) | ast::Entry::ResourceComment(_) => {}
            other => panic!("only messages and comments in a catalogue: {other:?}"),
        }
    }
    keys
}

#[test]
fn every_language_has_the_same_keys_with_the_same_variables() {
    let (first, source) = CATALOGUES[0];
    let reference = keys_of(source);
    assert!(!reference.is_empty());
    for (lang, source) in &CATALOGUES[1..] {
        let keys = keys_of(source);
        let missing: Vec<_> = reference.keys().filter(|k| !keys.contains_key(*k)).collect();
        let extra: Vec<_> = keys.keys().filter(|k| !reference.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{lang:?} vs {first:?}: missing {missing:?}, extra {extra:?}");
        for (key, variables) in &keys {
            assert_eq!(variables, &reference[key], "the variables of {key} in {lang:?}");
        }
    }
    // Every message formats in every language, every variable given.
    for (lang, _) in CATALOGUES {
        for (key, variables) in &reference {
            let args: Vec<(&str, String)> = variables.iter().map(|v| (v.as_str(), format!("<{v}>"))).collect();
            assert!(has_message(lang, key), "{key} in {lang:?}");
            let text = message_in(lang, key, &args);
            for v in variables {
                assert!(text.contains(&format!("<{v}>")), "{key} in {lang:?} shows ${v}: {text}");
            }
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Skips a string literal starting at `i` (a `"`), returning the index after it.
fn skip_string(text: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < text.len() && text[i] != b'"' {
        i += if text[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// The key and variable names of a call whose arguments start at `from` (just past `(`),
/// after `skip` leading arguments (`t_in!`'s language); `None` if the key is not a literal.
fn call_at(source: &str, mut from: usize, skip: usize) -> Option<(String, BTreeSet<String>)> {
    let bytes = source.as_bytes();
    for _ in 0..skip {
        let (mut i, mut depth) = (from, 0usize);
        while i < bytes.len() && !(bytes[i] == b',' && depth == 0) {
            match bytes[i] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
                _ => {}
            }
            i += 1;
        }
        from = i + 1;
    }
    // The key, after any line break rustfmt puts before it.
    let quote = from + source[from..].len() - source[from..].trim_start().len();
    if bytes.get(quote) != Some(&b'"') {
        return None;
    }
    let key_end = skip_string(bytes, quote);
    let key = source[quote + 1..key_end - 1].to_owned();
    // The arguments at depth 0, up to the closing parenthesis.
    let (mut i, mut depth, mut names, mut argument_start) = (key_end, 0usize, BTreeSet::new(), None);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = skip_string(bytes, i);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => break,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => argument_start = Some(i + 1),
            b'=' if depth == 0 && bytes.get(i + 1) != Some(&b'=') => {
                if let Some(s) = argument_start.take() {
                    names.insert(source[s..i].trim().to_owned());
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some((key, names))
}

/// Every `t!("key", name = value, …)` and `t_in!(lang, "key", …)` in `source`: the key and
/// the variable names.
fn uses_in(source: &str) -> Vec<(String, BTreeSet<String>)> {
    let bytes = source.as_bytes();
    let mut uses = Vec::new();
    for (name, skip) in [("t!(", 0), ("t_in!(", 1)] {
        let mut from = 0;
        while let Some(at) = source[from..].find(name) {
            let start = from + at;
            from = start + name.len();
            // The macro itself, not the end of another one's name (`print!(`, `assert!(`).
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            uses.extend(call_at(source, from, skip));
        }
    }
    uses
}

#[test]
fn every_key_the_code_uses_exists_with_the_variables_it_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let catalogue = keys_of(CATALOGUES[0].1);
    let mut used = BTreeSet::new();
    for file in &files {
        for (key, names) in uses_in(&std::fs::read_to_string(file).unwrap()) {
            let Some(variables) = catalogue.get(&key) else { panic!("{}: no message {key:?}", file.display()) };
            assert_eq!(&names, variables, "{}: the variables of {key}", file.display());
            used.insert(key);
        }
    }
    let unused: Vec<&String> = catalogue.keys().filter(|k| !used.contains(*k)).collect();
    assert!(unused.is_empty(), "messages no code uses: {unused:?}");
}

#[test]
fn the_scanner_reads_keys_and_variable_names() {
    let uses = uses_in(
        r#"println!("{}", t!("a-b", rows = f(x, y), path = p.display())); assert!(t!(
        "c") == "(")
        #[error("{}", bidui_i18n::t!("d", path = .path.display(), source = .0))]"#,
    );
    assert_eq!(uses[0], ("a-b".to_owned(), ["path".to_owned(), "rows".to_owned()].into()));
    assert_eq!(uses[1], ("c".to_owned(), BTreeSet::new()));
    // A thiserror message, its fields named `.field`.
    assert_eq!(uses[2], ("d".to_owned(), ["path".to_owned(), "source".to_owned()].into()));
    assert_eq!(uses.len(), 3);
}
