//! Sealed field values (spec-v2 §5): any bytes forwarded as a sealed value open to
//! nothing without panicking, and any values a department seals open to exactly
//! themselves, for that person, row and field list only.
#![no_main]

use bidui_core::fieldseal::{open_values, seal_values, SealContext, SealKind};
use bidui_core::{EpochSecret, KeyEpoch, PairDomain, Suite};
use libfuzzer_sys::fuzz_target;

const PAIR: PairDomain<'static> = PairDomain { job: "fuzz", requester: "veterans", department: "household" };
const PERSON: &[&[u8]] = &[b"11010519491231002X"];

fuzz_target!(|input: (Vec<Option<String>>, u32, Vec<u8>)| {
    let (values, row, forwarded) = input;
    let key = KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([7; 32])).pair_keys(&PAIR).field_seal;
    let fields: Vec<String> = (0..values.len()).map(|i| format!("f{i}")).collect();
    let context = SealContext { pair: PAIR, fields: &fields };
    assert!(open_values(&key, SealKind::Id, PERSON, &context, row, &forwarded).is_err());
    let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
    let Ok(sealed) = seal_values(&key, SealKind::Id, PERSON, &context, row, &refs) else { return };
    assert_eq!(open_values(&key, SealKind::Id, PERSON, &context, row, &sealed).as_ref(), Ok(&values));
    assert!(open_values(&key, SealKind::Id, &[b"440183198001010011"], &context, row, &sealed).is_err());
    assert!(open_values(&key, SealKind::Id, PERSON, &context, row.wrapping_add(1), &sealed).is_err());
});
