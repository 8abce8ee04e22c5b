//! A workbook as a department could hand it over: reading never panics and never stops
//! without saying so, whatever the file holds. Most inputs become the parts of a package
//! (sheet, shared strings, styles, workbook), so that the XML reader is what gets explored;
//! the rest are read as the whole file.
#![no_main]

use std::io::{Cursor, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

use bidui_agent::source::{Row, Source, SourceSpec};
use libfuzzer_sys::fuzz_target;
use zip::write::SimpleFileOptions;

const RELS: &str = r#"<Relationships><Relationship Id="rId1" Type="x/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK_RELS: &str =
    r#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
const WORKBOOK: &str =
    r#"<workbook><workbookPr date1904="1"/><sheets><sheet name="s" r:id="rId1"/></sheets></workbook>"#;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("bidui-fuzz-xlsx-{}.xlsx", std::process::id())))
}

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
        zip.start_file(name, SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let file = if mode & 1 == 0 { package(rest) } else { rest.to_vec() };
    std::fs::write(path(), file).unwrap();
    let spec = SourceSpec { header_row: Some(u32::from(mode >> 1) % 4 + 1), ..SourceSpec::new(path()) };
    let Ok(mut source) = Source::open(&spec) else { return };
    assert!(!source.headers().is_empty());
    let mut row = Row::new();
    while let Some(read) = source.next_row(&mut row) {
        match read {
            Ok(()) => {
                assert!(row.number >= 1 && !row.cells().iter().all(|c| c.is_empty()));
                assert!(row.len() <= 16_384);
            }
            Err(error) => {
                assert!(error.reason.contains("reading stopped"), "{error}");
                assert!(source.next_row(&mut row).is_none(), "reading goes on after {error}");
                break;
            }
        }
    }
});
