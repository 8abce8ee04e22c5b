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

// ---- A bounded mutational smoke run of each target (bidui_core::fuzzing::smoke) ----
//
// Deterministic (a fixed seed per target), a few seconds for all seven targets in a debug
// build; longer runs are `cargo +nightly fuzz run` (fuzz/README.md).

/// Mutated inputs per target.
const SMOKE_ITERATIONS: usize = 16_000;

fn smoke(target: &str, check: impl Fn(&[u8])) {
    let mut rng = fastrand::Rng::with_seed(0xb1d0_0001_u64 ^ target.len() as u64);
    fuzzing::smoke(target, SMOKE_ITERATIONS, &mut |n| rng.usize(..n), check);
}

#[test]
fn chunk_decode_smoke() {
    smoke("chunk_decode", fuzzing::chunk_decode);
}

#[test]
fn id_number_smoke() {
    smoke("id_number", |input| {
        if let Some(cell) = take::<&str>(input) {
            fuzzing::id_number(cell);
        }
    });
}

#[test]
fn sealed_values_smoke() {
    smoke("sealed_values", |input| {
        if let Some((values, row, forwarded)) = take::<(Vec<Option<String>>, u32, Vec<u8>)>(input) {
            fuzzing::sealed_values(&values, row, &forwarded);
        }
    });
}

#[test]
fn signed_job_smoke() {
    smoke("signed_job", |input| {
        if let Some(text) = take::<&str>(input) {
            fuzzing::signed_job(text);
        }
    });
}

/// The mutations are the same on every run (so a failure replays), and they change seeds.
#[test]
fn the_smoke_mutations_are_deterministic_and_change_their_input() {
    let run = || {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut out = Vec::new();
        for _ in 0..200 {
            let mut input = b"seed input, a few bytes long".to_vec();
            fuzzing::mutate(&mut input, b"another seed", &mut |n| rng.usize(..n));
            out.push(input);
        }
        out
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    assert!(first.iter().filter(|m| m.as_slice() != b"seed input, a few bytes long").count() > 150);
}

/// A check that fails is reported with its input kept under the target directory, so it
/// can be replayed; and the failure still fails the test.
#[test]
fn a_failing_smoke_input_is_kept_for_replay() {
    let dir = std::env::current_exe().unwrap().ancestors().nth(3).unwrap().join("fuzz-smoke");
    let kept = dir.join("chunk_decode-0-0");
    let _ = std::fs::remove_file(&kept);
    let mut rng = fastrand::Rng::with_seed(1);
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fuzzing::smoke("chunk_decode", 3, &mut |n| rng.usize(..n), |_| panic!("planted failure"))
    }));
    assert!(failed.is_err(), "the failure was swallowed");
    assert!(kept.exists(), "the failing input is not kept at {}", kept.display());
}
