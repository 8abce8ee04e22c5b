//! A workbook as a department could hand it over (`bidui_agent::fuzzing::read_workbook`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bidui_agent::fuzzing::read_workbook(data));
