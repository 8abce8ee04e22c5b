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

/// A bounded mutational fuzz run without nightly: `iterations` inputs made from the seed
/// corpus of `target` (each a seed in turn, changed one to four times by [`mutate`]) and fed
/// to `check`, the body of that target. `below(n)` draws a number under `n`: the caller's
/// seeded generator, so a run is the same every time. A panicking input is printed as hex
/// with its target and seed, and written under the build's target directory
/// (`target/fuzz-smoke/<target>-<seed>-<iteration>`) so that `cargo +nightly fuzz run
/// <target> <file>` replays it; then the panic goes on.
pub fn smoke(target: &str, iterations: usize, below: &mut dyn FnMut(usize) -> usize, check: impl Fn(&[u8])) {
    let seeds = seeds(target);
    for iteration in 0..iterations {
        let seed = iteration % seeds.len();
        let mut input = seeds[seed].clone();
        for _ in 0..1 + below(4) {
            let other = &seeds[below(seeds.len())];
            mutate(&mut input, other, below);
        }
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input))) {
            let saved = save_failure(target, seed, iteration, &input);
            eprintln!(
                "fuzz smoke: target {target} failed on seed {seed} ({}) mutated at iteration {iteration}; input \
                 ({} bytes, {saved}): {}",
                hex::encode(&seeds[seed]),
                input.len(),
                hex::encode(&input),
            );
            std::panic::resume_unwind(panic);
        }
    }
}

/// Where [`smoke`] keeps a failing input: `fuzz-smoke/` in the target directory the test
/// binary runs from (`target/debug/deps/<test>`, whatever `CARGO_TARGET_DIR` says).
fn save_failure(target: &str, seed: usize, iteration: usize, input: &[u8]) -> String {
    let Some(dir) = std::env::current_exe().ok().and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("fuzz-smoke")))
    else {
        return "not saved: no target directory".into();
    };
    let path = dir.join(format!("{target}-{seed}-{iteration}"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input)) {
        Ok(()) => format!("saved as {}", path.display()),
        Err(e) => format!("not saved to {}: {e}", path.display()),
    }
}

/// Byte values that make parsers take their edge paths: zero, sign and length boundaries,
/// ASCII delimiters of the formats read (CSV, XML, JSON, headers).
const INTERESTING_BYTES: &[u8] =
    &[0, 1, 0x7f, 0x80, 0xff, b'"', b',', b'<', b'>', b'{', b'}', b'\n', b'\r', b':', b'0'];

/// Integers at size boundaries, written in place as 1, 2, 4 or 8 bytes, little- or big-endian.
const INTERESTING_INTEGERS: &[u64] =
    &[0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x1_0000, 0x7fff_ffff, 0xffff_ffff, u64::MAX];

/// One mutation of `input`, as libFuzzer's mutators make them: a bit flipped, a byte
/// inserted or deleted, a cut, a splice with `other` (another seed), a span repeated, or an
/// interesting byte or integer written in place. `below(n)` draws a number under `n`.
pub fn mutate(input: &mut Vec<u8>, other: &[u8], below: &mut dyn FnMut(usize) -> usize) {
    let len = input.len();
    match below(8) {
        0 if len > 0 => {
            let at = below(len);
            input[at] ^= 1 << below(8);
        }
        1 => {
            let byte = if below(2) == 0 { INTERESTING_BYTES[below(INTERESTING_BYTES.len())] } else { below(256) as u8 };
            input.insert(below(len + 1), byte);
        }
        2 if len > 0 => {
            let at = below(len);
            let end = (at + 1 + below(8)).min(len);
            input.drain(at..end);
        }
        3 => input.truncate(below(len + 1)),
        4 => {
            let (keep, from) = (below(len + 1), below(other.len() + 1));
            input.truncate(keep);
            input.extend_from_slice(&other[from..]);
        }
        5 if len > 0 => {
            let at = below(len);
            let span = input[at..(at + 1 + below(16)).min(len)].to_vec();
            let times = 1 + below(64);
            let insert_at = below(len + 1);
            input.splice(insert_at..insert_at, span.iter().copied().cycle().take(span.len() * times));
        }
        6 if len > 0 => {
            let value = INTERESTING_INTEGERS[below(INTERESTING_INTEGERS.len())];
            let width = [1, 2, 4, 8][below(4)].min(len);
            // The value's low `width` bytes, in either order.
            let mut bytes = value.to_le_bytes()[..width].to_vec();
            if below(2) == 0 {
                bytes.reverse();
            }
            let at = below(len - width + 1);
            input[at..at + width].copy_from_slice(&bytes);
        }
        _ => {
            let byte = INTERESTING_BYTES[below(INTERESTING_BYTES.len())];
            input.insert(below(len + 1), byte);
        }
    }
}
