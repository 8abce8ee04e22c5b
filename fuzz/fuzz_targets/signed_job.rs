//! A job as the matcher relays it: any JSON parses to a valid spec or an error, never a
//! panic, and a spec that parses verifies only under the key that signed it.
#![no_main]

use bidui_core::api::SignedJob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(signed) = serde_json::from_str::<SignedJob>(text) else { return };
    if let Ok(spec) = signed.parse() {
        assert!(spec.validate().is_ok());
        assert!(signed.verify(&[0x5a; 32]).is_err(), "no spec verifies under an unrelated key");
    }
});
