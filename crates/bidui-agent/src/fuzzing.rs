//! The checks the source fuzz targets (`source_csv`, `xlsx_read`) run on each input,
//! here so that `cargo test` replays their seed corpora through the same checks
//! (`tests/fuzz_corpus.rs`). Each panics when an invariant breaks; none is meant for
//! anything but tests and fuzzing.

use std::io::{Cursor, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use zip::write::SimpleFileOptions;

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

const RELS: &str = r#"<Relationships><Relationship Id="rId1" Type="x/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK_RELS: &str =
    r#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
const WORKBOOK: &str =
    r#"<workbook><workbookPr date1904="1"/><sheets><sheet name="s" r:id="rId1"/></sheets></workbook>"#;

/// A package whose parts are the input split at `\0` bytes: sheet data, shared strings,
/// styles, and the workbook when a fourth part is given.
fn package(data: &[u8]) -> Vec<u8> {
    let mut parts = data.split(|&b| b == 0);
    let sheet = [&b"<worksheet><sheetData>"[..], parts.next().unwrap_or_default()].concat();
    let shared = [&b"<sst>"[..], parts.next().unwrap_or_default()].concat();
    let styles = [&b"<styleSheet>"[..], parts.next().unwrap_or_default()].concat();
    let workbook = parts.next().unwrap_or(WORKBOOK.as_bytes());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in [
        ("_rels/.rels", RELS.as_bytes()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
        ("xl/workbook.xml", workbook),
        ("xl/worksheets/sheet1.xml", &sheet),
        ("xl/sharedStrings.xml", &shared),
        ("xl/styles.xml", &styles),
    ] {
        let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file(name, stored).expect("a zip entry in memory");
        zip.write_all(content).expect("a zip entry in memory");
    }
    zip.finish().expect("a zip in memory").into_inner()
}

/// A workbook as a department could hand it over: reading never panics and never stops
/// without saying so, whatever the file holds. The first byte's low bit makes the rest
/// the parts of a package (sheet, shared strings, styles, workbook; so that the XML reader
/// is what gets explored) or the whole file; its other bits pick the header row.
pub fn read_workbook(data: &[u8]) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some((&mode, rest)) = data.split_first() else { return };
    let file = if mode & 1 == 0 { package(rest) } else { rest.to_vec() };
    let name = format!("bidui-fuzz-{}-{}.xlsx", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, file).expect("a temporary file");
    let spec = SourceSpec { header_row: Some(u32::from(mode >> 1) % 4 + 1), ..SourceSpec::new(&path) };
    if let Ok(mut source) = Source::open(&spec) {
        assert!(!source.headers().is_empty());
        let mut row = Row::new();
        while let Some(read) = source.next_row(&mut row) {
            match read {
                Ok(()) => {
                    assert!(row.number >= 1 && !row.cells().iter().all(|c| c.is_empty()));
                    assert!(row.len() <= 16_384);
                }
                Err(error) => {
                    assert!(error.reason.stops_reading(), "{error}");
                    assert!(source.next_row(&mut row).is_none(), "reading goes on after {error}");
                    break;
                }
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}
