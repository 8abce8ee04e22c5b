//! A request's headers as anyone can send them (`bidui_matcher::fuzzing::request_headers`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bidui_matcher::fuzzing::request_headers(data));
