//! The protocol documents keep up with the code: every stable error code the matcher can
//! answer with is documented. Codes of the job API and of request signatures belong in
//! `protocol-docs/wire-v2.md`; the custodian's and epochs' endpoints are specified in
//! `wire-v1.md` and `keys.md`.

use std::collections::BTreeSet;
use std::path::Path;

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

#[test]
fn every_error_code_the_matcher_answers_with_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = root.join("protocol-docs");
    let wire_v2 = read(&docs.join("wire-v2.md"));
    let custody_docs = read(&docs.join("wire-v1.md")) + &read(&docs.join("keys.md"));
    let mut undocumented = Vec::new();
    let mut seen = BTreeSet::new();
    let sources = root.join("crates/bidui-matcher/src");
    for entry in std::fs::read_dir(&sources).expect("the matcher's sources") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let is_custody = path.file_name().is_some_and(|n| n == "custody.rs");
        let (doc, doc_name) =
            if is_custody { (&custody_docs, "wire-v1.md or keys.md") } else { (&wire_v2, "wire-v2.md") };
        for code in codes_in(&read(&path)) {
            // `code`, or `status code` as in `409 job-exists`.
            if !doc.contains(&format!("`{code}`")) && !doc.contains(&format!(" {code}`")) {
                undocumented.push(format!("`{code}` ({}) is not in {doc_name}", path.display()));
            }
            seen.insert(code);
        }
    }
    // Guards the parsing above: the job API's codes must all have been found.
    for expected in ["protocol-v1", "over-cap", "bad-sealed-fields", "signer-mismatch", "unsigned", "bad-statement"] {
        assert!(seen.contains(expected), "the scan of {} missed `{expected}`: {seen:?}", sources.display());
    }
    assert!(undocumented.is_empty(), "undocumented error codes:\n{}", undocumented.join("\n"));
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
