//! Sealed field values forwarded and opened (`bidui_core::fuzzing::sealed_values`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<Option<String>>, u32, Vec<u8>)| {
    let (values, row, forwarded) = input;
    bidui_core::fuzzing::sealed_values(&values, row, &forwarded);
});
