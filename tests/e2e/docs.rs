//! The protocol documents and the client keep up with the matcher: every stable error code
//! the matcher can answer with is documented, and explained to the person reading a refusal
//! in every language. Codes of the job API and of request signatures belong in
//! `protocol-docs/wire-v2.md`; the custodian's and epochs' endpoints are specified in
//! `wire-v1.md` and `keys.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bidui_i18n::{in_language, Lang};

/// `ApiFailure` constructors whose first argument is the code, a string literal.
const CODE_FIRST: &[&str] = &["bad_request", "conflict", "unprocessable"];

/// `ApiFailure` constructors whose code is fixed.
const FIXED: &[(&str, &str)] = &[("forbidden", "forbidden"), ("not_found", "not-found"), ("internal", "internal")];

/// The codes `source` passes to `ApiFailure`'s constructors. A constructor called with a
/// variable instead of a literal (the constructors forwarding to `new`) names no code.
fn codes_in(source: &str) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for (at, _) in source.match_indices("ApiFailure::") {
        let call = &source[at + "ApiFailure::".len()..];
        let Some(open) = call.find('(') else { continue };
        let (method, args) = (&call[..open], &call[open + 1..]);
        if let Some((_, code)) = FIXED.iter().find(|(m, _)| *m == method) {
            codes.insert((*code).to_owned());
            continue;
        }
        let first = match method {
            // `new(StatusCode::…, "code", …)`: the code is the second argument.
            "new" => args.split_once(',').map_or("", |(_, rest)| rest),
            m if CODE_FIRST.contains(&m) => args,
            _ => continue,
        };
        if let Some(literal) = first.trim_start().strip_prefix('"') {
            let code = &literal[..literal.find('"').expect("a closed string literal")];
            codes.insert(code.to_owned());
        }
    }
    codes
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The matcher's Rust sources: each file's path and text.
fn matcher_sources() -> Vec<(PathBuf, String)> {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/bidui-matcher/src");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&sources).expect("the matcher's sources") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = read(&path);
            files.push((path, text));
        }
    }
    files
}

/// Codes the scan of the matcher's sources must find, guarding the parsing of [`codes_in`].
const CODES_THE_SCAN_FINDS: &[&str] =
    &["protocol-v1", "over-cap", "bad-sealed-fields", "signer-mismatch", "unsigned", "bad-statement"];

#[test]
fn every_error_code_the_matcher_answers_with_is_documented() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-docs");
    let wire_v2 = read(&docs.join("wire-v2.md"));
    let custody_docs = read(&docs.join("wire-v1.md")) + &read(&docs.join("keys.md"));
    let mut undocumented = Vec::new();
    let mut seen = BTreeSet::new();
    for (path, source) in matcher_sources() {
        let is_custody = path.file_name().is_some_and(|n| n == "custody.rs");
        let (doc, doc_name) =
            if is_custody { (&custody_docs, "wire-v1.md or keys.md") } else { (&wire_v2, "wire-v2.md") };
        for code in codes_in(&source) {
            // `code`, or `status code` as in `409 job-exists`.
            if !doc.contains(&format!("`{code}`")) && !doc.contains(&format!(" {code}`")) {
                undocumented.push(format!("`{code}` ({}) is not in {doc_name}", path.display()));
            }
            seen.insert(code);
        }
    }
    for expected in CODES_THE_SCAN_FINDS {
        assert!(seen.contains(*expected), "the scan of the matcher's sources missed `{expected}`: {seen:?}");
    }
    assert!(undocumented.is_empty(), "undocumented error codes:\n{}", undocumented.join("\n"));
}

/// Codes the matcher answers with other than as a literal passed to an `ApiFailure`
/// constructor: the database's condition (a code chosen in a closure) and a TLS matcher's
/// answer to plain HTTP (raw JSON written before any handler).
const CODES_SENT_OTHERWISE: &[&str] = &["database-missing", "database-replaced", "https-only"];

#[test]
fn every_refusal_code_the_matcher_answers_with_is_explained_in_every_language() {
    let sources = matcher_sources();
    let mut codes: BTreeSet<String> = sources.iter().flat_map(|(_, source)| codes_in(source)).collect();
    for expected in CODES_THE_SCAN_FINDS {
        assert!(codes.contains(*expected), "the scan of the matcher's sources missed `{expected}`: {codes:?}");
    }
    for code in CODES_SENT_OTHERWISE {
        // Kept honest: a code the matcher no longer sends is dropped from the list.
        let quoted = format!("\"{code}\"");
        assert!(sources.iter().any(|(_, source)| source.contains(&quoted)), "the matcher no longer sends `{code}`");
        codes.insert((*code).to_owned());
    }
    let mut unexplained = Vec::new();
    for code in &codes {
        let [zh, en] = [Lang::Zh, Lang::En].map(|lang| in_language(lang, || bidui_client::refusal_explanation(code)));
        match (zh, en) {
            // A key missing from a catalogue comes out as the key itself.
            (Some(zh), Some(en)) if zh != en && !zh.starts_with("refusal-") && !en.starts_with("refusal-") => {}
            (zh, en) => unexplained.push(format!("`{code}`: {zh:?} / {en:?}")),
        }
    }
    assert!(
        unexplained.is_empty(),
        "refusal codes with no explanation in bidui_client::refusal_explanation and the catalogues (refusal-<code>):\n{}",
        unexplained.join("\n")
    );
}

#[test]
fn codes_are_read_from_literals_only() {
    let source = r#"
        ApiFailure::conflict("wrong-epoch", format!("…"));
        ApiFailure::new(StatusCode::GONE, "protocol-v1", "…");
        ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "unsigned",
            "…",
        );
        ApiFailure::new(StatusCode::BAD_REQUEST, code, message);
        ApiFailure::forbidden("only the operator");
        ApiFailure::internal("database", error);
    "#;
    let codes: Vec<String> = codes_in(source).into_iter().collect();
    assert_eq!(codes, ["forbidden", "internal", "protocol-v1", "unsigned", "wrong-epoch"]);
}
