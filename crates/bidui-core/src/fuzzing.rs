//! The checks the fuzz targets (`fuzz/fuzz_targets`) run on each input, here so that
//! `cargo test` replays every target's seed corpus through the same checks
//! (`tests/fuzz_corpus.rs`) and a regression found by fuzzing stays fixed. Each panics
//! when an invariant breaks; none is meant for anything but tests and fuzzing.

use crate::api::SignedJob;
use crate::fieldseal::{open_values, seal_values, SealContext, SealKind};
use crate::wire::{encode_chunk, Chunk, Layout, TokenRecord};
use crate::{CivilDate, EpochSecret, IdNumber, KeyEpoch, PairDomain, Suite};

/// A token chunk as any party could send it: decoding never panics, and what it accepts
/// is exactly the encoding of the records it reads (wire-v2 §4.3).
pub fn chunk_decode(data: &[u8]) {
    let Some((&[shape, attrs], body)) = data.split_first_chunk::<2>() else { return };
    // The layout the job would give the sender: one to three groups (a department has one,
    // the requester one per department), up to five attributes each, sealed values for a
    // single group only.
    let groups: Vec<usize> = (0..1 + usize::from(shape % 3)).map(|g| usize::from(attrs >> (2 * g)) % 6).collect();
    let sealed = shape & 0x80 != 0 && groups.len() == 1;
    let layout = Layout { groups, sealed };
    if let Ok(chunk) = Chunk::decode(body, &layout, 0) {
        let records: Vec<TokenRecord> = chunk.records().map(|r| r.to_record(&layout)).collect();
        assert_eq!(records.len(), chunk.len());
        assert_eq!(encode_chunk(&layout, &records), body, "an accepted chunk is the encoding of its records");
    }
}

/// An identity cell as a department's file holds it (spec-v1 §3): every input gets one
/// outcome without panicking, and a canonical number parses to itself.
pub fn id_number(cell: &str) {
    let today = CivilDate::new(2026, 11, 30).expect("a date");
    if let Ok(id) = IdNumber::parse(cell, today) {
        let again = IdNumber::parse(id.as_str(), today).expect("a canonical number is valid");
        assert_eq!(again.as_str(), id.as_str());
    }
}

const PAIR: PairDomain<'static> = PairDomain { job: "fuzz", requester: "veterans", department: "household" };
const PERSON: &[&[u8]] = &[b"11010519491231002X"];

/// Sealed field values (spec-v2 §5): any bytes forwarded as a sealed value open to
/// nothing without panicking, and any values a department seals open to exactly
/// themselves, for that person, row and field list only.
pub fn sealed_values(values: &[Option<String>], row: u32, forwarded: &[u8]) {
    let key = KeyEpoch::new(Suite::HmacSha256, EpochSecret::from_bytes([7; 32])).pair_keys(&PAIR).field_seal;
    let fields: Vec<String> = (0..values.len()).map(|i| format!("f{i}")).collect();
    let context = SealContext { pair: PAIR, fields: &fields };
    assert!(open_values(&key, SealKind::Id, PERSON, &context, row, forwarded).is_err());
    let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
    let Ok(sealed) = seal_values(&key, SealKind::Id, PERSON, &context, row, &refs) else { return };
    assert_eq!(open_values(&key, SealKind::Id, PERSON, &context, row, &sealed).as_deref(), Ok(values));
    assert!(open_values(&key, SealKind::Id, &[b"440183198001010011"], &context, row, &sealed).is_err());
    assert!(open_values(&key, SealKind::Id, PERSON, &context, row.wrapping_add(1), &sealed).is_err());
}

/// A job as the matcher relays it: any JSON parses to a valid spec or an error, never a
/// panic, and a spec that parses verifies only under the key that signed it.
pub fn signed_job(text: &str) {
    let Ok(signed) = serde_json::from_str::<SignedJob>(text) else { return };
    if let Ok(spec) = signed.parse() {
        assert!(spec.validate().is_ok());
        assert!(signed.verify(&[0x5a; 32]).is_err(), "no spec verifies under an unrelated key");
    }
}

/// The tracked seed inputs of the fuzz target `target` (`fuzz/seeds/<target>`), in a fixed
/// order, for the tests that replay them; panics when there are too few to mean anything.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds").join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.expect("a seed file").path()).expect("a readable seed"))
        .collect();
    assert!(inputs.len() >= 5, "{target}: a seed corpus of {} inputs is too small to mean anything", inputs.len());
    inputs.sort();
    inputs
}
