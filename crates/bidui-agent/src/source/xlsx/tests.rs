//! The .xlsx reader against calamine's cell reader (what the agent used before): random
//! workbooks written by rust_xlsxwriter, hand-written packages for what rust_xlsxwriter
//! never writes, and hostile files that made calamine take gigabytes.

use std::io::{Cursor, Write};
use std::path::Path;

use calamine::{Reader as _, SheetType};
use proptest::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format as XlsxFormat, Workbook as XlsxWorkbook};
use tempfile::TempDir;
use zip::write::SimpleFileOptions;

use super::super::{choose_sheet, header_texts, Cell, Row, RowReason, Source, SourceError, SourceSpec};

/// What a reader gives: the sheet, its headers and its rows, or the error's text.
type Read = Result<(String, Vec<String>, Vec<Row>), String>;

/// The rows as calamine's cell reader gives them, assembled as the agent did before.
fn calamine_read(path: &Path, requested: Option<&str>, header_row: u32) -> Read {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).map_err(|e: calamine::XlsxError| e.to_string())?;
    let sheets: Vec<(String, bool)> =
        book.sheets_metadata().iter().map(|s| (s.name.clone(), s.typ == SheetType::WorkSheet)).collect();
    let sheets: Vec<(&str, bool)> = sheets.iter().map(|(name, worksheet)| (name.as_str(), *worksheet)).collect();
    let sheet = choose_sheet(path, requested, &sheets).map_err(|e| e.to_string())?;
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(|e| e.to_string())?;
    let header_index = header_row - 1;
    let mut header = Row::new();
    let mut rows = Vec::new();
    let mut current: Option<(u32, Row)> = None;
    while let Some(cell) = cells.next_cell().map_err(|e| e.to_string())? {
        let (r, c) = cell.get_position();
        if r < header_index {
            continue;
        }
        if r == header_index {
            header.set_workbook_value(c as usize, cell.get_value());
            continue;
        }
        match &mut current {
            Some((current_r, row)) if *current_r == r => row.set_workbook_value(c as usize, cell.get_value()),
            _ => {
                let mut row = Row::new();
                row.number = r - header_index;
                row.set_workbook_value(c as usize, cell.get_value());
                rows.extend(current.replace((r, row)).map(|(_, row)| row).filter(|row| !row.is_blank()));
            }
        }
    }
    rows.extend(current.map(|(_, row)| row).filter(|row| !row.is_blank()));
    let headers = header_texts(&header);
    if headers.is_empty() {
        return Err("the header row is empty".to_string());
    }
    Ok((sheet, headers, rows))
}

fn our_read(path: &Path, requested: Option<&str>, header_row: u32) -> Read {
    let spec =
        SourceSpec { sheet: requested.map(str::to_string), header_row: Some(header_row), ..SourceSpec::new(path) };
    let mut source = Source::open(&spec).map_err(|e| e.to_string())?;
    let rows = source.rows().collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    Ok((source.sheet().unwrap_or_default().to_string(), source.headers().to_vec(), rows))
}

/// Both readers give the same, or both fail.
fn assert_same(path: &Path, requested: Option<&str>, header_row: u32) -> Read {
    let want = calamine_read(path, requested, header_row);
    let got = our_read(path, requested, header_row);
    match (&want, &got) {
        (Ok(want), Ok(got)) => assert_eq!(want, got),
        (Err(_), Err(_)) => {}
        _ => panic!("calamine: {want:?}\nours: {got:?}"),
    }
    got
}

// ------------------------------------------------------------------------------------------
// Random workbooks

#[derive(Clone, Debug)]
enum Value {
    Text(String),
    Rich(Vec<String>),
    Number(f64),
    /// A date (days since 1900 as Excel counts, and seconds in the day) with one of
    /// [`DATE_FORMATS`].
    Date(u32, u32, usize),
    /// A number with one of [`NUMBER_FORMATS`].
    Formatted(f64, usize),
    Bool(bool),
    Blank,
    Formula(String),
}

const DATE_FORMATS: &[&str] =
    &["yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "yyyy\"年\"m\"月\"d\"日\"", "[h]:mm:ss", "hh:mm", "m/d/yy", "d-mmm-yy"];
const NUMBER_FORMATS: &[&str] = &["0.00", "@", "#,##0", "0%", "\"日期\"0", "[Red]0.0;[Blue]-0.0", "0.00E+00"];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ 张三李四王五赵六身份证号码_x0Da-zA-Z0-9<>&\"'\n\t.-]{0,12}",
        Just("_x000D_".to_string()),
        Just("  前后空格  ".to_string()),
        Just("440118198001010014".to_string()),
        "[0-9]{1,18}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => text().prop_map(Value::Text),
        1 => prop::collection::vec("[a-z张三 ]{1,4}", 1..4).prop_map(Value::Rich),
        2 => prop_oneof![
            any::<f64>().prop_filter("finite", |n| n.is_finite()),
            (100_000_000_000_000_000u64..999_999_999_999_999_999).prop_map(|n| n as f64),
            (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 100.0),
        ]
        .prop_map(Value::Number),
        2 => (1u32..60_000, 0u32..86_400, 0..DATE_FORMATS.len()).prop_map(|(d, s, f)| Value::Date(d, s, f)),
        1 => ((-1e9f64..1e9), 0..NUMBER_FORMATS.len()).prop_map(|(n, f)| Value::Formatted(n, f)),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Blank),
        1 => prop_oneof![Just("=1+1"), Just("=\"a\"&\"b\""), Just("=A1")].prop_map(|f| Value::Formula(f.to_string())),
    ]
}

#[derive(Clone, Debug)]
struct SheetSpec {
    name: String,
    cells: Vec<(u32, u16, Value)>,
}

fn sheet() -> impl Strategy<Value = SheetSpec> {
    (
        "[A-Za-z名单说明表0-9 ]{1,10}",
        prop::collection::vec((0u32..40, prop_oneof![4 => 0u16..8, 1 => 8u16..300], value()), 0..80),
    )
        .prop_map(|(name, cells)| SheetSpec { name, cells })
}

fn write_book(dir: &TempDir, sheets: &[SheetSpec]) -> std::path::PathBuf {
    let mut book = XlsxWorkbook::new();
    let date_formats: Vec<XlsxFormat> = DATE_FORMATS.iter().map(|f| XlsxFormat::new().set_num_format(*f)).collect();
    let number_formats: Vec<XlsxFormat> = NUMBER_FORMATS.iter().map(|f| XlsxFormat::new().set_num_format(*f)).collect();
    let bold = XlsxFormat::new().set_bold();
    let mut names = std::collections::HashSet::new();
    for (i, spec) in sheets.iter().enumerate() {
        let sheet = book.add_worksheet();
        let name = spec.name.trim();
        let name =
            if name.is_empty() || !names.insert(name.to_lowercase()) { format!("Sheet{i}") } else { name.into() };
        names.insert(name.to_lowercase());
        sheet.set_name(name).unwrap();
        for (row, col, value) in &spec.cells {
            let (row, col) = (*row, *col);
            match value {
                Value::Text(s) => sheet.write_string(row, col, s).map(drop).unwrap(),
                Value::Rich(runs) => {
                    let runs: Vec<(&XlsxFormat, &str)> = runs.iter().map(|r| (&bold, r.as_str())).collect();
                    sheet.write_rich_string(row, col, &runs).map(drop).unwrap();
                }
                Value::Number(n) => sheet.write_number(row, col, *n).map(drop).unwrap(),
                Value::Date(days, seconds, format) => {
                    let date =
                        ExcelDateTime::from_serial_datetime(f64::from(*days) + f64::from(*seconds) / 86_400.0).unwrap();
                    sheet.write_datetime_with_format(row, col, &date, &date_formats[*format]).map(drop).unwrap();
                }
                Value::Formatted(n, format) => {
                    sheet.write_number_with_format(row, col, *n, &number_formats[*format]).map(drop).unwrap()
                }
                Value::Bool(b) => sheet.write_boolean(row, col, *b).map(drop).unwrap(),
                Value::Blank => sheet.write_blank(row, col, &bold).map(drop).unwrap(),
                Value::Formula(f) => sheet.write_formula(row, col, f.as_str()).map(drop).unwrap(),
            }
        }
    }
    let path = dir.path().join("random.xlsx");
    book.save(&path).unwrap();
    path
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_workbooks_read_as_calamine_reads_them(
        sheets in prop::collection::vec(sheet(), 1..4),
        chosen in prop::option::of(0usize..4),
        header_row in 1u32..4,
    ) {
        let dir = TempDir::new().unwrap();
        let path = write_book(&dir, &sheets);
        let names: Vec<String> = calamine::open_workbook::<calamine::Xlsx<_>, _>(&path).unwrap().sheet_names();
        let requested = chosen.map(|i| names.get(i).cloned().unwrap_or_else(|| "没有这个表".to_string()));
        assert_same(&path, requested.as_deref(), header_row).ok();
    }
}

// ------------------------------------------------------------------------------------------
// Hand-written packages

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// A package of one sheet named 名单 (`workbook_pr` goes into the workbook), with the given
/// shared strings and styles when not empty.
fn package(dir: &TempDir, sheet_data: &str, shared: &str, styles: &str, workbook_pr: &str) -> std::path::PathBuf {
    let workbook = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">{workbook_pr}<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>"#
    );
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1"/><sheetData>{sheet_data}</sheetData></worksheet>"#
    );
    let mut parts = vec![
        ("_rels/.rels", RELS.to_string()),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.to_string()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    if !shared.is_empty() {
        parts.push(("xl/sharedStrings.xml", format!("<sst>{shared}</sst>")));
    }
    if !styles.is_empty() {
        parts.push(("xl/styles.xml", format!("<styleSheet>{styles}</styleSheet>")));
    }
    let path = dir.path().join("hand.xlsx");
    std::fs::write(&path, zip_of(parts.iter().map(|(name, xml)| (*name, xml.as_bytes())))).unwrap();
    path
}

fn zip_of<'a>(parts: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in parts {
        zip.start_file(name, SimpleFileOptions::default()).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn texts(row: &Row) -> Vec<String> {
    row.cells().iter().map(|c| c.text().into_owned()).collect()
}

#[test]
fn inline_rich_phonetic_escaped_and_typed_cells_read_as_calamine_reads_them() {
    let dir = TempDir::new().unwrap();
    let shared = r#"<si><t>姓名</t></si><si><r><rPr><b/></rPr><t>张</t></r><r><t xml:space="preserve"> 三 </t></r><rPh sb="0" eb="1"><t>チョウ</t></rPh></si><si><t>  trimmed &amp; &lt;ok&gt;  </t></si><si><t>a_x000D_b_x005F_x000D_</t></si><si/>"#;
    let sheet = concat!(
        r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>编号</t></is></c><c t="str"><v>类型</v></c><c><v>备注</v></c></row>"#,
        // Cells without `r` follow the previous cell; a row without `r` the previous row.
        r#"<row><c t="s"><v>1</v></c><c t="inlineStr"><is><r><t>李</t></r><r><t>四</t></r><rPh><t>リ</t></rPh></is></c><c t="str"><v>x_x000D_y&amp;z</v></c><c t="d"><v>2024-03-01T00:00:00</v></c></row>"#,
        r#"<row r="4"><c r="A4" t="s"><v>2</v></c><c r="B4" t="e"><v>#N/A</v></c><c r="C4" t="b"><v>true</v></c><c r="D4"><f>1+1</f><v>2</v></c><c r="E4" t="d"><v>2024-03-01T08:30:00</v></c></row>"#,
        r#"<row r="5"><c r="A5" t="s"><v>3</v></c><c r="B5"><v>not a number</v></c><c r="C5" t="inlineStr"><is><t><![CDATA[<cdata>]]></t></is></c><c r="D5"/><c r="F5" t="s"><v>4</v></c></row>"#,
        r#"<row r="6"><c r="C6" s="0"/></row>"#,
    );
    let path = package(&dir, sheet, shared, "", "");
    let (sheet, headers, rows) = assert_same(&path, None, 1).unwrap();
    assert_eq!(sheet, "名单");
    assert_eq!(headers, ["姓名", "编号", "类型", "备注"]);
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 3, 4]);
    assert_eq!(texts(&rows[0]), ["张 三 ", "李四", "x\ry&z", "2024-03-01"]);
    assert_eq!(texts(&rows[1]), ["trimmed & <ok>", "#N/A", "TRUE", "2", "2024-03-01 08:30:00"]);
    assert_eq!(texts(&rows[2]), ["a\rb_x000D_", "not a number", "<cdata>", "", "", ""]);
    assert_eq!(rows[1].get(1), Some(&Cell::Error("#N/A".into())));
}

/// Text as a writer escapes it, with what the one-step cell reading must leave to the
/// event-by-event one: entities, `_xHHHH_` escapes, carriage returns, edge whitespace.
fn escaped_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[ \t\n张三a-z0-9.-]{0,6}",
        1 => Just("\r\n".to_string()),
        1 => Just("&amp;".to_string()),
        1 => Just("&#x4E2D;".to_string()),
        1 => Just("_x000D_".to_string()),
        1 => Just("_".to_string()),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|pieces| pieces.concat())
}

/// One cell as a writer might write it: mostly the shapes read in one step
/// (`<is><t>…</t></is></c>`, `<v>…</v></c>`), and their near misses.
fn raw_cell() -> impl Strategy<Value = String> {
    let v = prop_oneof![
        Just(String::new()),
        "-?[0-9]{1,6}(\\.[0-9]{1,3})?",
        Just("27759".to_string()),
        Just("440118198001010014".to_string()),
        Just("true".to_string()),
        Just("#N/A".to_string()),
        Just("1&amp;2".to_string()),
        "[a-z张]{1,4}",
        "[0-9]",
    ];
    prop_oneof![
        4 => escaped_text().prop_map(|t| format!(r#"<c t="inlineStr"><is><t>{t}</t></is></c>"#)),
        1 => escaped_text().prop_map(|t| format!(r#"<c t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>"#)),
        1 => escaped_text().prop_map(|t| format!(r#"<c t="inlineStr"><is><t>{t}</t></is><v>x</v></c>"#)),
        1 => escaped_text().prop_map(|t| format!(r#"<c t="str"><v>{t}</v></c>"#)),
        3 => v.clone().prop_map(|v| format!("<c><v>{v}</v></c>")),
        1 => v.clone().prop_map(|v| format!(r#"<c t="n" s="1"><v>{v}</v></c>"#)),
        1 => v.clone().prop_map(|v| format!(r#"<c t="b"><v>{v}</v></c>"#)),
        1 => v.clone().prop_map(|v| format!(r#"<c t="e"><v>{v}</v></c>"#)),
        2 => v.prop_map(|v| format!(r#"<c t="s"><v>{v}</v></c>"#)),
        1 => Just(r#"<c t="s"><v>1</v><f>A1</f></c>"#.to_string()),
        1 => Just("<c/>".to_string()),
    ]
}

/// A cell of [`raw_cell`] with attributes put before its own (`<c` + these + ` t="…">`):
/// mostly the start tags read in one pass (`r`, `s` and `t` once each as ` k="v"`), and
/// their near misses, read event by event (other spacing or quotes, another attribute, a
/// bad `r`). No attribute is repeated (calamine takes the first of two, this reader the last),
/// and no cell goes back to the header row (read whole by calamine, streamed by this reader).
fn cell_with_attributes() -> impl Strategy<Value = String> {
    let usual = (prop::option::of("[A-C][2-9]"), prop::option::of("[01]"), any::<bool>());
    let unusual = prop_oneof![
        Just(r#" r='A2'"#),
        Just(r#"  r="A4""#),
        Just(r#" r = "B5""#),
        Just(" r=\"C6\"\t"),
        Just(r#" r="AB""#),
        Just(r#" r="3""#),
        Just(r#" r="A0""#),
        Just(r#" x="1""#),
        Just(r#" r="A>1""#),
    ];
    let attributes = prop_oneof![
        4 => usual.prop_map(|(r, s, s_first)| (r.map(|r| format!(r#" r="{r}""#)), s.map(|s| format!(r#" s="{s}""#)), s_first)),
        1 => unusual.prop_map(|attribute| (Some(attribute.to_string()), None, false)),
    ];
    (attributes, raw_cell()).prop_map(|((r, s, s_first), cell)| {
        let s = s.filter(|_| !cell.contains(" s=")).unwrap_or_default();
        let r = r.unwrap_or_default();
        let attributes = if s_first { s + &r } else { r + &s };
        format!("<c{attributes}{}", &cell[2..])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The one-step reading of the usual cell shapes gives what calamine gives, errors
    /// included, whatever the text holds and however the cell's start tag is written.
    #[test]
    fn cells_read_in_one_step_read_as_calamine_reads_them(
        rows in prop::collection::vec(prop::collection::vec(cell_with_attributes(), 0..6), 1..8),
    ) {
        let dir = TempDir::new().unwrap();
        let mut sheet = r#"<row><c t="inlineStr"><is><t>头</t></is></c></row>"#.to_string();
        for cells in &rows {
            sheet.push_str(&format!("<row>{}</row>", cells.concat()));
        }
        let shared = "<si><t>甲</t></si><si><t> 乙 </t></si><si><t>a_x000D_b</t></si>";
        let styles = r#"<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs>"#;
        let path = package(&dir, &sheet, shared, styles, "");
        let _ = assert_same(&path, None, 1);
    }
}

#[test]
fn dates_of_the_1904_system_and_custom_formats_read_as_calamine_reads_them() {
    let dir = TempDir::new().unwrap();
    let styles = concat!(
        r#"<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>"#,
        r#"<numFmt numFmtId="165" formatCode="0.00&quot;d&quot;"/></numFmts>"#,
        r#"<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="14"/>"#,
        r#"<xf numFmtId="46"><alignment horizontal="left"/></xf></cellXfs>"#,
    );
    let sheet = concat!(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>b</t></is></c></row>"#,
        r#"<row r="2"><c r="A2" s="1"><v>27759</v></c><c r="B2" s="2"><v>27759</v></c><c r="C2" s="3"><v>0.5</v></c><c r="D2" s="4"><v>1.5</v></c><c r="E2" s="9"><v>7</v></c><c r="F2"><v>27759</v></c></row>"#,
    );
    for (workbook_pr, first) in [(r#"<workbookPr date1904="1"/>"#, "1980-01-01"), ("<workbookPr/>", "1975-12-31")] {
        let path = package(&dir, sheet, "", styles, workbook_pr);
        let (_, _, rows) = assert_same(&path, None, 1).unwrap();
        let texts = texts(&rows[0]);
        assert_eq!(texts[0], first, "{workbook_pr}");
        assert!(matches!(rows[0].get(2), Some(Cell::Date(_))));
        // A custom format that is not a date, a duration, a style beyond the table, none.
        assert_eq!([&texts[1], &texts[3], &texts[4], &texts[5]], ["27759", "36:00:00", "7", "27759"]);
    }
}

// ------------------------------------------------------------------------------------------
// Hostile files: each is tiny, and must be refused without a large allocation.

fn open_error(path: &Path) -> SourceError {
    Source::open(&SourceSpec::new(path)).unwrap_err()
}

/// The first data row's error, after the header `h`, as an English reader reads it.
fn first_row_error(path: &Path) -> String {
    bidui_i18n::in_language(bidui_i18n::Lang::En, || {
        let mut source = Source::open(&SourceSpec::new(path)).unwrap();
        let mut row = Row::new();
        let error = source.next_row(&mut row).unwrap().unwrap_err();
        assert!(source.next_row(&mut row).is_none(), "reading must stop");
        error.to_string()
    })
}

const HEADER: &str = r#"<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row>"#;

#[test]
fn a_cell_at_column_zzzzzz_stops_reading_instead_of_taking_gigabytes() {
    // calamine made a row of 321 million cells of this 2 KB file: 9.8 GiB.
    let dir = TempDir::new().unwrap();
    let path = package(&dir, &format!(r#"{HEADER}<row r="2"><c r="ZZZZZZ2"><v>1</v></c></row>"#), "", "", "");
    let error = first_row_error(&path);
    assert!(error.contains("ZZZZZZ2") && error.contains("XFD") && error.contains("reading stopped"), "{error}");

    let path = package(&dir, &format!(r#"{HEADER}<row r="1048577"><c><v>1</v></c></row>"#), "", "", "");
    let error = first_row_error(&path);
    assert!(error.contains("1048577") && error.contains("1,048,576"), "{error}");

    // Cells without a reference run past the last column too.
    let cells = "<c><v>1</v></c>".repeat(16_385);
    let path = package(&dir, &format!("{HEADER}<row>{cells}</row>"), "", "", "");
    let error = first_row_error(&path);
    assert!(error.contains("XFE2"), "{error}");

    // In the header row it is an error of the header.
    let path = package(&dir, r#"<row r="1"><c r="XFE1"><v>1</v></c></row>"#, "", "", "");
    let error = open_error(&path);
    assert!(matches!(error, SourceError::Header { .. }) && error.to_string().contains("XFE1"), "{error}");
}

/// A package whose sheet holds one inline string of `len` bytes, written without holding
/// it in memory.
fn long_text_package(dir: &TempDir, len: usize) -> std::path::PathBuf {
    let path = dir.path().join("long.xlsx");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, xml) in [
        ("_rels/.rels", RELS.to_string()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.to_string()),
        (
            "xl/workbook.xml",
            r#"<workbook xmlns:r="r"><sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>"#.into(),
        ),
    ] {
        zip.start_file(name, deflated).unwrap();
        zip.write_all(xml.as_bytes()).unwrap();
    }
    zip.start_file("xl/worksheets/sheet1.xml", deflated).unwrap();
    zip.write_all(format!(r#"<worksheet><sheetData>{HEADER}<row r="2"><c r="A2" t="inlineStr"><is><t>"#).as_bytes())
        .unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        zip.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    zip.write_all(b"</t></is></c></row></sheetData></worksheet>").unwrap();
    zip.finish().unwrap();
    path
}

#[test]
fn a_512_mib_text_cell_is_refused_without_buffering_it() {
    // calamine buffered the whole text of this 0.5 MB file: 3.1 GiB.
    let dir = TempDir::new().unwrap();
    let path = long_text_package(&dir, 512 << 20);
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
    let error = first_row_error(&path);
    assert!(error.contains("32767 characters") && error.contains("reading stopped"), "{error}");
    // Just over Excel's limit, within the parser's buffer: refused all the same.
    let path = long_text_package(&dir, 32_768);
    assert!(first_row_error(&path).contains("32767 characters"));
    let path = long_text_package(&dir, 32_767);
    let mut source = Source::open(&SourceSpec::new(&path)).unwrap();
    assert_eq!(source.rows().next().unwrap().unwrap().text(0).len(), 32_767);
}

#[test]
fn a_shared_strings_table_of_one_huge_string_is_refused_at_open() {
    // calamine loaded a 1 GiB shared-strings table of this 2.3 MB file whole.
    let dir = TempDir::new().unwrap();
    let huge = format!("<si><t>{}</t></si>", "张".repeat(40_000));
    let path = package(&dir, HEADER, &huge, "", "");
    let error = open_error(&path);
    assert!(matches!(error, SourceError::Workbook { .. }), "{error}");
    assert!(error.to_string().contains("sharedStrings.xml") && error.to_string().contains("32767"), "{error}");
    // Said as the workbook is opened, in the reader's language.
    let english = bidui_i18n::in_language(bidui_i18n::Lang::En, || open_error(&path).to_string());
    assert!(english.contains("a text longer than Excel's limit of 32767 characters per cell"), "{english}");
    let chinese = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || open_error(&path).to_string());
    assert!(chinese.contains("文本超过 Excel 每个单元格 32767 个字符的上限"), "{chinese}");
}

#[test]
fn a_zip_entry_claiming_a_huge_size_is_streamed_not_allocated() {
    // The sizes in the zip headers are not trusted: patch the sheet's declared size to 2 GiB.
    let dir = TempDir::new().unwrap();
    let path = package(&dir, HEADER, "", "", "");
    let mut bytes = std::fs::read(&path).unwrap();
    let name = b"xl/worksheets/sheet1.xml";
    let mut patched = 0;
    // Local header (signature PK\3\4, size at 22) and central header (PK\1\2, size at 24).
    for (signature, size_at, name_at) in [(&b"PK\x03\x04"[..], 22, 30), (&b"PK\x01\x02"[..], 24, 46)] {
        let mut i = 0;
        while let Some(found) = memchr::memmem::find(&bytes[i..], signature) {
            let at = i + found;
            if bytes.get(at + name_at..at + name_at + name.len()) == Some(&name[..]) {
                bytes[at + size_at..at + size_at + 4].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
                patched += 1;
            }
            i = at + 4;
        }
    }
    assert_eq!(patched, 2);
    std::fs::write(&path, &bytes).unwrap();
    // Either read or refused, but never a 2 GiB allocation (which would abort the test).
    let _ = Source::open(&SourceSpec::new(&path)).map(|mut source| source.rows().count());
}

#[test]
fn a_damaged_sheet_reports_the_row_and_stops() {
    let dir = TempDir::new().unwrap();
    let sheet =
        format!(r#"{HEADER}<row r="2"><c r="A2"><v>1</v></c></row><row r="3"><c r="A3" t="b"><v>2</v></c></row>"#);
    let path = package(&dir, &sheet, "", "", "");
    let mut source = Source::open(&SourceSpec::new(&path)).unwrap();
    let mut row = Row::new();
    assert!(source.next_row(&mut row).unwrap().is_ok());
    let error = source.next_row(&mut row).unwrap().unwrap_err();
    assert_eq!(error.row, 2);
    let RowReason::DamagedSheet(damage) = &error.reason else { panic!("{error:?}") };
    assert!(damage.in_lang(bidui_i18n::Lang::En).contains("not a boolean") && error.reason.stops_reading(), "{error}");
    assert!(source.next_row(&mut row).is_none());
    // A sheet cut short.
    let path = package(&dir, r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2"><v>"#, "", "", "");
    assert!(first_row_error(&path).contains("damaged"));
}

#[test]
fn a_row_of_references_to_one_long_shared_string_stops_reading() {
    // One 30,000-character string referenced by every cell of a row: a tiny file, and
    // without a limit 16,384 such cells would make a row of 490 MB.
    let dir = TempDir::new().unwrap();
    let shared = format!("<si><t>h</t></si><si><t>{}</t></si>", "a".repeat(30_000));
    let cells = r#"<c t="s"><v>1</v></c>"#.repeat(200);
    let path = package(&dir, &format!(r#"<row r="1"><c t="s"><v>0</v></c></row><row>{cells}</row>"#), &shared, "", "");
    let error = first_row_error(&path);
    assert!(error.contains("4 MiB") && error.contains("reading stopped"), "{error}");
    let path = package(&dir, &format!("<row>{cells}</row>"), &shared, "", "");
    let error = open_error(&path);
    assert!(matches!(error, SourceError::Header { .. }) && error.to_string().contains("4 MiB"), "{error}");
    let error = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || open_error(&path)).to_string();
    assert!(error.contains("该行文本超过 4 MiB"), "{error}");
}
