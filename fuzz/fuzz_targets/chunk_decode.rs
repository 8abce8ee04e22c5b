//! A token chunk as any party could send it: decoding never panics, and what it accepts
//! is exactly the encoding of the records it reads (wire-v2 §4.3).
#![no_main]

use bidui_core::wire::{encode_chunk, Chunk, Layout, TokenRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
