//! An identity cell as a department's file holds it (`bidui_core::fuzzing::id_number`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|cell: &str| bidui_core::fuzzing::id_number(cell));
