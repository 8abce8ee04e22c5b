//! The source fuzz targets' seed corpora (`fuzz/seeds/source_*`), replayed through the
//! checks the targets run (`bidui_agent::fuzzing`), without nightly.

use bidui_agent::fuzzing::{read_source, read_workbook};
use bidui_agent::source::Format;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    bidui_core::fuzzing::seeds(target)
}

#[test]
fn source_csv_corpus() {
    for input in corpus("source_csv") {
        let Some((&header_row, file)) = input.split_first() else { continue };
        read_source(file, Format::Csv, Some(u32::from(header_row % 4) + 1));
    }
}

#[test]
fn xlsx_read_corpus() {
    corpus("xlsx_read").iter().for_each(|input| read_workbook(input));
}

/// Mutated inputs per target in the smoke run (`bidui_core::fuzzing::smoke`; a few seconds
/// in a debug build).
const SMOKE_ITERATIONS: usize = 4_000;

fn smoke(target: &str, check: impl Fn(&[u8])) {
    let mut rng = fastrand::Rng::with_seed(0xb1d0_0002_u64 ^ target.len() as u64);
    bidui_core::fuzzing::smoke(target, SMOKE_ITERATIONS, &mut |n| rng.usize(..n), check);
}

#[test]
fn source_csv_smoke() {
    smoke("source_csv", |input| {
        if let Some((&header_row, file)) = input.split_first() {
            read_source(file, Format::Csv, Some(u32::from(header_row % 4) + 1));
        }
    });
}

#[test]
fn xlsx_read_smoke() {
    smoke("xlsx_read", read_workbook);
}
