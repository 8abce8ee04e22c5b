//! A token chunk as any party could send it (`bidui_core::fuzzing::chunk_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bidui_core::fuzzing::chunk_decode(data));
