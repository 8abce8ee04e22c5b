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
