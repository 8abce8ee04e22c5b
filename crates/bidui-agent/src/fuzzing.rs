//! The checks the source fuzz targets (`fuzz/fuzz_targets/source_*.rs`) run on each input,
//! here so that `cargo test` replays their seed corpora through the same checks
//! (`tests/fuzz_corpus.rs`). Each panics when an invariant breaks; none is meant for
//! anything but tests and fuzzing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::source::{Format, Row, Source, SourceSpec};

/// Any bytes as a department's file of `format` (a workbook's content wins over its name,
/// so every reader is reached): opening and reading never panic, every row comes once
/// with a number above the last, and reading stops.
pub fn read_source(data: &[u8], format: Format, header_row: Option<u32>) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("bidui-fuzz-{}-{}.{format}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let path: PathBuf = std::env::temp_dir().join(name);
    std::fs::write(&path, data).expect("a temporary file");
    let spec = SourceSpec { path: path.clone(), format: Some(format), encoding: None, sheet: None, header_row };
    if let Ok(mut source) = Source::open(&spec) {
        assert!(!source.headers().is_empty(), "an opened source has a header");
        let (mut row, mut last) = (Row::new(), 0u32);
        while let Some(read) = source.next_row(&mut row) {
            match read {
                Ok(()) => {
                    assert!(row.number > last, "row {} after row {last}", row.number);
                    last = row.number;
                }
                // A damaged row is named by its own number, which no row read yet had.
                Err(error) => assert!(error.row > last, "an error at row {} after row {last}", error.row),
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}
