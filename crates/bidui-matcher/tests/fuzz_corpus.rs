//! The `request_headers` fuzz target's seed corpus (`fuzz/seeds/request_headers`),
//! replayed through the checks the target runs (`bidui_matcher::fuzzing`), without nightly.

use std::path::PathBuf;

#[test]
fn request_headers_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/request_headers");
    let inputs: Vec<Vec<u8>> =
        std::fs::read_dir(&dir).unwrap().map(|entry| std::fs::read(entry.unwrap().path()).unwrap()).collect();
    assert!(inputs.len() >= 5, "a seed corpus of {} inputs is too small to mean anything", inputs.len());
    inputs.iter().for_each(|input| bidui_matcher::fuzzing::request_headers(input));
}
