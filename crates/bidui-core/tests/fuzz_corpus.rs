//! Every fuzz target's seed corpus (`fuzz/seeds/<target>`, tracked; the working corpus `fuzz/corpus` is not), replayed through the checks
//! the target runs (`bidui_core::fuzzing`): what fuzzing found stays fixed, and the
//! targets stay runnable, without nightly. Inputs are decoded as libFuzzer hands them to
//! the targets (`arbitrary`'s `take_rest` for structured ones).

use std::path::PathBuf;

use arbitrary::{Arbitrary, Unstructured};
use bidui_core::fuzzing;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds").join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(inputs.len() >= 5, "{target}: a seed corpus of {} inputs is too small to mean anything", inputs.len());
    inputs.sort();
    inputs
}

/// Decodes an input as the fuzz target receives it.
fn take<'a, T: Arbitrary<'a>>(bytes: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(bytes)).ok()
}

#[test]
fn chunk_decode_corpus() {
    corpus("chunk_decode").iter().for_each(|input| fuzzing::chunk_decode(input));
}

#[test]
fn id_number_corpus() {
    for input in corpus("id_number") {
        if let Some(cell) = take::<&str>(&input) {
            fuzzing::id_number(cell);
        }
    }
}

#[test]
fn sealed_values_corpus() {
    for input in corpus("sealed_values") {
        if let Some((values, row, forwarded)) = take::<(Vec<Option<String>>, u32, Vec<u8>)>(&input) {
            fuzzing::sealed_values(&values, row, &forwarded);
        }
    }
}

#[test]
fn signed_job_corpus() {
    for input in corpus("signed_job") {
        if let Some(text) = take::<&str>(&input) {
            fuzzing::signed_job(text);
        }
    }
}
