//! A job as the matcher relays it (`bidui_core::fuzzing::signed_job`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| bidui_core::fuzzing::signed_job(text));
