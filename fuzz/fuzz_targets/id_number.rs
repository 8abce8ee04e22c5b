//! An identity cell as a department's file holds it (spec-v1 §3): every input gets one
//! outcome without panicking, and a canonical number parses to itself.
#![no_main]

use bidui_core::{CivilDate, IdNumber};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|cell: &str| {
    let today = CivilDate::new(2026, 11, 30).expect("a date");
    if let Ok(id) = IdNumber::parse(cell, today) {
        let again = IdNumber::parse(id.as_str(), today).expect("a canonical number is valid");
        assert_eq!(again.as_str(), id.as_str());
    }
});
