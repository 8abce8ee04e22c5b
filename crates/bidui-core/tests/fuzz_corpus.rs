//! Every fuzz target's seed corpus (`fuzz/seeds/<target>`, tracked; the working corpus `fuzz/corpus` is not), replayed through the checks
//! the target runs (`bidui_core::fuzzing`): what fuzzing found stays fixed, and the
//! targets stay runnable, without nightly. Inputs are decoded as libFuzzer hands them to
//! the targets (`arbitrary`'s `take_rest` for structured ones).

use arbitrary::{Arbitrary, Unstructured};
use bidui_core::fuzzing;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    bidui_core::fuzzing::seeds(target)
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
