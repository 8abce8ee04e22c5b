//! Any bytes as a department's CSV export (`bidui_agent::fuzzing::read_source`); the first
//! byte picks the header row, so headers below the first line are reached too.
#![no_main]

use bidui_agent::source::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&header_row, file)) = data.split_first() else { return };
    bidui_agent::fuzzing::read_source(file, Format::Csv, Some(u32::from(header_row % 4) + 1));
});
