//! Reading department exports: CSV in UTF-8/GBK/GB18030, .xlsx and .xls.

use std::io::Write;
use std::path::{Path, PathBuf};

use bidui_agent::source::{Cell, Encoding, Format, Row, RowError, RowReason, Source, SourceError, SourceSpec};
use bidui_core::{CivilDate, IdError, IdNumber};
use bidui_i18n::{in_language, Lang};
use rust_xlsxwriter::{ExcelDateTime, Format as XlsxFormat, Workbook};
use tempfile::TempDir;

const HEADER: &str = "公民身份号码,姓名,性别";

fn write_file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(bytes).unwrap();
    path
}

fn open(path: &Path) -> Source {
    Source::open(&SourceSpec::new(path)).unwrap_or_else(|e| panic!("{e}"))
}

/// Why a row could not be read, as an English reader reads it.
fn english(reason: &RowReason) -> String {
    in_language(Lang::En, || reason.to_string())
}

/// Every row as (number, texts) or the error.
fn read_all(source: &mut Source) -> Vec<Result<(u32, Vec<String>), RowError>> {
    source
        .rows()
        .map(|row| row.map(|row| (row.number, (0..row.len()).map(|c| row.text(c).into_owned()).collect())))
        .collect()
}

fn ok(number: u32, cells: &[&str]) -> Result<(u32, Vec<String>), RowError> {
    Ok((number, cells.iter().map(|s| s.to_string()).collect()))
}

fn today() -> CivilDate {
    CivilDate::new(2026, 1, 1).unwrap()
}

// ------------------------------------------------------------------------------------------
// CSV

#[test]
fn utf8_csv_with_chinese_headers() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER}\n440118198001010022,张三,男\n440118198001010014,李四,女\n");
    let path = write_file(&dir, "户籍.csv", text.as_bytes());
    let mut source = open(&path);
    assert_eq!(source.format(), Format::Csv);
    assert_eq!(source.encoding(), Some(Encoding::Utf8));
    assert_eq!(source.sheet(), None);
    assert_eq!(source.headers(), ["公民身份号码", "姓名", "性别"]);
    assert_eq!(source.column("姓名").unwrap(), 1);
    assert_eq!(source.column(" 公民身份号码 ").unwrap(), 0);
    assert_eq!(source.total_bytes(), Some(text.len() as u64));
    let rows = read_all(&mut source);
    assert_eq!(rows, [ok(1, &["440118198001010022", "张三", "男"]), ok(2, &["440118198001010014", "李四", "女"])]);
    assert_eq!(source.bytes_read(), text.len() as u64);
    assert!(source.rows().next().is_none(), "stays at the end");
}

#[test]
fn utf8_csv_with_bom_and_crlf() {
    let dir = TempDir::new().unwrap();
    let text = format!("\u{FEFF}{HEADER}\r\n440118198001010022,张三,男\r\n");
    let path = write_file(&dir, "bom.csv", text.as_bytes());
    let mut source = open(&path);
    assert_eq!(source.encoding(), Some(Encoding::Utf8));
    assert_eq!(source.headers()[0], "公民身份号码", "BOM stripped");
    assert_eq!(source.column("公民身份号码").unwrap(), 0);
    assert_eq!(read_all(&mut source), [ok(1, &["440118198001010022", "张三", "男"])]);
}

#[test]
fn bom_wins_over_a_declared_gbk() {
    let dir = TempDir::new().unwrap();
    let text = format!("\u{FEFF}{HEADER}\n440118198001010022,张三,男\n");
    let path = write_file(&dir, "bom.csv", text.as_bytes());
    let spec = SourceSpec { encoding: Some(Encoding::Gbk), ..SourceSpec::new(&path) };
    let mut source = Source::open(&spec).unwrap();
    assert_eq!(source.encoding(), Some(Encoding::Utf8));
    assert_eq!(read_all(&mut source), [ok(1, &["440118198001010022", "张三", "男"])]);
}

#[test]
fn gbk_csv_declared_and_detected() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER}\r\n440118198001010022,张三,男\r\n440118198001010014,欧阳·娜娜,女\r\n");
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let path = write_file(&dir, "gbk.csv", &gbk);
    let want = [ok(1, &["440118198001010022", "张三", "男"]), ok(2, &["440118198001010014", "欧阳·娜娜", "女"])];

    let spec = SourceSpec { encoding: Some(Encoding::Gbk), ..SourceSpec::new(&path) };
    let mut declared = Source::open(&spec).unwrap();
    assert_eq!(declared.encoding(), Some(Encoding::Gbk));
    assert_eq!(declared.headers(), ["公民身份号码", "姓名", "性别"]);
    assert_eq!(read_all(&mut declared), want);
    assert_eq!(declared.bytes_read(), gbk.len() as u64);

    let mut detected = open(&path);
    assert_eq!(detected.encoding(), Some(Encoding::Gb18030));
    assert_eq!(read_all(&mut detected), want);
}

#[test]
fn gb18030_detected_with_characters_outside_gbk() {
    let dir = TempDir::new().unwrap();
    // 𠀀 (U+20000) and € need GB18030's four-byte and extended codes.
    let text = format!("{HEADER},备注\n440118198001010022,王𠀀,男,€5\n");
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err());
    let path = write_file(&dir, "gb18030.csv", &bytes);
    let mut source = open(&path);
    assert_eq!(source.encoding(), Some(Encoding::Gb18030));
    assert_eq!(read_all(&mut source), [ok(1, &["440118198001010022", "王𠀀", "男", "€5"])]);
}

#[test]
fn detection_reads_past_a_character_cut_at_64_kib() {
    let dir = TempDir::new().unwrap();
    let mut text = format!("{HEADER}\n");
    let mut n = 0;
    while text.len() < 200_000 {
        n += 1;
        text.push_str(&format!("440118198001010022,张三丰{n},男\n"));
    }
    // Pad the header so that a 3-byte character straddles the 64 KiB boundary.
    let pad = (0..64).find(|&pad| !text.is_char_boundary(65_536 - pad)).unwrap();
    let text = format!("{}{text}", " ".repeat(pad));
    assert!(!text.is_char_boundary(65_536));
    let path = write_file(&dir, "big.csv", text.as_bytes());
    let mut source = open(&path);
    assert_eq!(source.encoding(), Some(Encoding::Utf8));
    let rows = read_all(&mut source);
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(Result::is_ok));
}

#[test]
fn quoted_fields_with_commas_quotes_and_newlines() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "{HEADER},地址\n440118198001010022,张三,男,\"增城区荔城街, 府佑路1号\"\n\
         \"440118198001010014\",\"李\"\"四\"\"\",女,\"第一行\n第二行\"\n440118199003051236,王五,男,末行\n"
    );
    let path = write_file(&dir, "quoted.csv", text.as_bytes());
    let mut source = open(&path);
    assert_eq!(
        read_all(&mut source),
        [
            ok(1, &["440118198001010022", "张三", "男", "增城区荔城街, 府佑路1号"]),
            ok(2, &["440118198001010014", "李\"四\"", "女", "第一行\n第二行"]),
            ok(3, &["440118199003051236", "王五", "男", "末行"]),
        ]
    );
}

#[test]
fn invalid_utf8_row_is_reported_and_reading_goes_on() {
    let dir = TempDir::new().unwrap();
    let mut bytes = format!("{HEADER}\n440118198001010022,张三,男\n").into_bytes();
    let (gbk_name, _, _) = encoding_rs::GBK.encode("李四");
    bytes.extend_from_slice(b"440118198001010014,");
    bytes.extend_from_slice(&gbk_name);
    bytes.extend_from_slice(b",\xC5\xAE\n");
    bytes.extend_from_slice("440118199003051236,王五,男\n".as_bytes());
    let path = write_file(&dir, "mixed.csv", &bytes);
    let spec = SourceSpec { encoding: Some(Encoding::Utf8), ..SourceSpec::new(&path) };
    let mut source = Source::open(&spec).unwrap();
    let rows = read_all(&mut source);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0], ok(1, &["440118198001010022", "张三", "男"]));
    let error = rows[1].clone().unwrap_err();
    assert_eq!(error.row, 2);
    assert!(english(&error.reason).starts_with("line 3 ") && english(&error.reason).contains("UTF-8"), "{error}");
    assert_eq!(in_language(Lang::En, || error.to_string()), format!("row 2: {}", english(&error.reason)));
    // Chinese unless English is asked for.
    let chinese = in_language(Lang::Zh, || error.to_string());
    assert!(chinese.starts_with("第 2 行：第 3 行不是有效的 UTF-8"), "{chinese}");
    assert_eq!(rows[2], ok(3, &["440118199003051236", "王五", "男"]));
}

#[test]
fn row_errors_name_the_lines_of_the_record() {
    let dir = TempDir::new().unwrap();
    for (terminator, name) in [("\n", "lf.csv"), ("\r\n", "crlf.csv")] {
        let mut bytes = format!("{HEADER}{terminator}1,\"a{terminator}b\",x{terminator}").into_bytes();
        bytes.extend_from_slice(b"2,\"c\xFF");
        bytes.extend_from_slice(format!("{terminator}d\",y{terminator}3,").as_bytes());
        bytes.push(0xFE);
        bytes.extend_from_slice(format!(",z{terminator}4,e,f").as_bytes());
        let path = write_file(&dir, name, &bytes);
        let spec = SourceSpec { encoding: Some(Encoding::Utf8), ..SourceSpec::new(&path) };
        let rows = read_all(&mut Source::open(&spec).unwrap());
        assert_eq!(rows.len(), 4, "{name}");
        assert!(english(&rows[1].as_ref().unwrap_err().reason).starts_with("lines 4-5 "), "{name}: {:?}", rows[1]);
        assert!(english(&rows[2].as_ref().unwrap_err().reason).starts_with("line 6 "), "{name}: {:?}", rows[2]);
        assert_eq!(rows[3], ok(4, &["4", "e", "f"]), "{name}");
    }
}

#[test]
fn split_invalid_sequence_across_fields_is_an_error_not_a_panic() {
    let dir = TempDir::new().unwrap();
    // E4 B8 | AD is "中" only once the comma is removed.
    let mut bytes = format!("{HEADER}\n").into_bytes();
    bytes.extend_from_slice(b"\xE4\xB8,\xAD,x\nok,fine,1\n");
    let path = write_file(&dir, "split.csv", &bytes);
    let spec = SourceSpec { encoding: Some(Encoding::Utf8), ..SourceSpec::new(&path) };
    let mut source = Source::open(&spec).unwrap();
    let rows = read_all(&mut source);
    assert_eq!(rows[0].as_ref().unwrap_err().row, 1);
    assert_eq!(rows[1], ok(2, &["ok", "fine", "1"]));
}

#[test]
fn invalid_utf8_after_the_detection_window_hints_at_gbk() {
    let dir = TempDir::new().unwrap();
    let mut bytes = format!("{HEADER}\n").into_bytes();
    while bytes.len() < 70_000 {
        bytes.extend_from_slice("440118198001010022,张三,男\n".as_bytes());
    }
    let good_rows = bytes.iter().filter(|&&b| b == b'\n').count() - 1;
    let (gbk, _, _) = encoding_rs::GBK.encode("440118198001010014,李四,女\n");
    bytes.extend_from_slice(&gbk);
    bytes.extend_from_slice("440118199003051236,王五,男\n".as_bytes());
    let path = write_file(&dir, "late.csv", &bytes);
    let mut source = open(&path);
    assert_eq!(source.encoding(), Some(Encoding::Utf8));
    let rows = read_all(&mut source);
    assert_eq!(rows.len(), good_rows + 2);
    let error = rows[good_rows].clone().unwrap_err();
    assert_eq!(error.row as usize, good_rows + 1);
    assert!(english(&error.reason).contains("encoding = \"gbk\""), "{error}");
    assert_eq!(rows[good_rows + 1], ok(good_rows as u32 + 2, &["440118199003051236", "王五", "男"]));
}

#[test]
fn invalid_gbk_row_is_reported() {
    let dir = TempDir::new().unwrap();
    let head = format!("{HEADER}\n440118198001010022,张三,男\n");
    let mut bytes = encoding_rs::GBK.encode(&head).0.into_owned();
    bytes.extend_from_slice(b"440118198001010014,\x81\x20,x\n");
    let (tail, _, _) = encoding_rs::GBK.encode("440118199003051236,王五,男\n");
    bytes.extend_from_slice(&tail);
    let path = write_file(&dir, "bad-gbk.csv", &bytes);
    let spec = SourceSpec { encoding: Some(Encoding::Gbk), ..SourceSpec::new(&path) };
    let mut source = Source::open(&spec).unwrap();
    let rows = read_all(&mut source);
    assert_eq!(rows[0], ok(1, &["440118198001010022", "张三", "男"]));
    let error = rows[1].clone().unwrap_err();
    assert_eq!(error.row, 2);
    assert!(english(&error.reason).contains("gbk"), "{error}");
    assert_eq!(rows[2], ok(3, &["440118199003051236", "王五", "男"]));
}

#[test]
fn rows_with_missing_or_extra_cells_and_blank_rows() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER},\n440118198001010022\n\n440118198001010014,李四,女,多余,更多\n,,\n,王五,\n");
    let path = write_file(&dir, "ragged.csv", text.as_bytes());
    let mut source = open(&path);
    assert_eq!(source.headers(), ["公民身份号码", "姓名", "性别"], "trailing empty header dropped");
    let rows: Vec<Row> = source.rows().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[0].number, rows[0].len()), (1, 1));
    assert_eq!(rows[0].text(1), "");
    assert_eq!(rows[0].get(2), None);
    // The blank line is not a record; `,,` is a blank row: skipped, but keeps its number.
    assert_eq!(rows[1].number, 2);
    assert_eq!(rows[1].text(4), "更多");
    assert_eq!(rows[2].number, 4);
    assert_eq!(rows[2].get(0), Some(&Cell::Empty));
    assert_eq!(rows[2].get(1), Some(&Cell::Text("王五".into())));
}

/// Every row as (number, the texts of `columns`) through `Source::next_cells`.
fn read_cells(source: &mut Source, columns: &[Option<usize>]) -> Vec<Result<(u32, Vec<String>), RowError>> {
    let (mut text, mut ends) = (String::from("left from before"), Vec::new());
    let mut rows = Vec::new();
    loop {
        let start = text.len();
        let ends_before = ends.len();
        let Some(next) = source.next_cells(columns, &mut text, &mut ends) else { return rows };
        rows.push(next.map(|number| {
            let mut at = start;
            let cells = ends[ends_before..]
                .iter()
                .map(|&end| {
                    let cell = text[at..end].to_string();
                    at = end;
                    cell
                })
                .collect();
            (number, cells)
        }));
    }
}

#[test]
fn reading_some_cells_keeps_row_numbers_blank_rows_and_errors() {
    let dir = TempDir::new().unwrap();
    let mut bytes = format!("{HEADER}\n440118198001010022,张三,男\n,,女\n,,\n").into_bytes();
    bytes.extend_from_slice(b"440118198001010030,\xff\xfe,\n440118198001010014,\xe6\x9d\x8e\xe5\x9b\x9b\n");
    let path = write_file(&dir, "cells.csv", &bytes);
    let mut source = Source::open(&SourceSpec { encoding: Some(Encoding::Utf8), ..SourceSpec::new(&path) }).unwrap();
    let rows = read_cells(&mut source, &[Some(1), None, Some(0), Some(7)]);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0], ok(1, &["张三", "", "440118198001010022", ""]));
    // Only its unread column has a value: still a row (its identity cell is empty), not
    // a blank one, exactly as `next_row` reads it.
    assert_eq!(rows[1], ok(2, &["", "", "", ""]));
    let error = rows[2].as_ref().unwrap_err();
    assert_eq!(error.row, 4, "the undecodable row is reported by number");
    assert_eq!(rows[3], ok(5, &["李四", "", "440118198001010014", ""]));
}

#[test]
fn reading_some_cells_of_a_workbook_gives_the_texts_next_row_gives() {
    let dir = TempDir::new().unwrap();
    let path = registry_xlsx(&dir, "名单.xlsx");
    let spec = SourceSpec { sheet: Some("名单".into()), header_row: Some(2), ..SourceSpec::new(&path) };
    let columns = [Some(0), Some(3), None, Some(5)];
    let by_cells = read_cells(&mut Source::open(&spec).unwrap(), &columns);
    let by_rows: Vec<_> = Source::open(&spec)
        .unwrap()
        .rows()
        .map(|row| {
            row.map(|row| {
                (row.number, columns.iter().map(|c| c.map_or(String::new(), |c| row.text(c).into_owned())).collect())
            })
        })
        .collect();
    assert_eq!(by_cells, by_rows);
    assert_eq!(by_cells[0], ok(1, &["4.40118E+17", "1980-01-01", "", "3"]));
}

#[test]
fn unclosed_quote_is_reported_and_skipped_with_bounded_memory() {
    let dir = TempDir::new().unwrap();
    let mut text = format!("{HEADER}\n440118198001010022,张三,男\n440118198001010014,\"李四,女\n");
    while text.len() < 1_500_000 {
        text.push_str("440118199003051236,王五,男\n");
    }
    text.push_str("440183198001011006,赵六,男\n");
    let path = write_file(&dir, "unclosed.csv", text.as_bytes());
    let mut source = open(&path);
    let rows = read_all(&mut source);
    assert_eq!(rows[0], ok(1, &["440118198001010022", "张三", "男"]));
    let error = rows[1].clone().unwrap_err();
    assert_eq!(error.row, 2);
    assert!(english(&error.reason).contains("line 3") && english(&error.reason).contains("quote"), "{error}");
    // Parsing resumes on the next line after the 1 MiB cut.
    assert!(rows.len() > 3, "rows after the skipped part are read");
    assert!(rows[2..].iter().all(Result::is_ok));
    assert_eq!(rows.last().unwrap().as_ref().unwrap().1[1], "赵六");
}

#[test]
fn unclosed_quote_near_the_end_is_reported() {
    let dir = TempDir::new().unwrap();
    let mut text = format!("{HEADER}\n440118198001010022,张三,男\n440118198001010014,\"李四,女\n");
    for _ in 0..500 {
        text.push_str("440118199003051236,王五,男\n");
    }
    let path = write_file(&dir, "unclosed-end.csv", text.as_bytes());
    let mut source = open(&path);
    let rows = read_all(&mut source);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], ok(1, &["440118198001010022", "张三", "男"]));
    let error = rows[1].clone().unwrap_err();
    assert_eq!(error.row, 2);
    assert!(english(&error.reason).contains("lines 3-503") && english(&error.reason).contains("quote"), "{error}");

    // A few quoted line breaks are data, and blank lines are not counted.
    let text = format!("{HEADER}\n{}1,\"a\nb\nc\",x\n", "\n".repeat(300));
    let path = write_file(&dir, "fine.csv", text.as_bytes());
    let mut source = open(&path);
    assert_eq!(read_all(&mut source), [ok(1, &["1", "a\nb\nc", "x"])]);
}

#[test]
fn header_on_row_two_skips_a_title_row() {
    let dir = TempDir::new().unwrap();
    let text = format!("增城区优抚对象名单（2025年）\n{HEADER}\n440118198001010022,张三,男\n");
    let path = write_file(&dir, "titled.csv", text.as_bytes());
    let spec = SourceSpec { header_row: Some(2), ..SourceSpec::new(&path) };
    let mut source = Source::open(&spec).unwrap();
    assert_eq!(source.headers(), ["公民身份号码", "姓名", "性别"]);
    assert_eq!(read_all(&mut source), [ok(1, &["440118198001010022", "张三", "男"])]);

    let spec = SourceSpec { header_row: Some(9), ..SourceSpec::new(&path) };
    let error = Source::open(&spec).unwrap_err();
    assert!(matches!(error, SourceError::Header { header_row: 9, .. }), "{error}");
    let (english, chinese) = (in_language(Lang::En, || error.to_string()), in_language(Lang::Zh, || error.to_string()));
    assert!(english.contains("titled.csv") && english.contains("only 3 row"), "{english}");
    assert!(chinese.contains("的表头行（第 9 行）：文件只有 3 行"), "{chinese}");

    let spec = SourceSpec { header_row: Some(0), ..SourceSpec::new(&path) };
    assert!(matches!(Source::open(&spec), Err(SourceError::BadHeaderRow { .. })));
}

#[test]
fn column_not_found_lists_the_headers() {
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "户籍.csv", format!("{HEADER},姓名\n1,2,3,4\n").as_bytes());
    let source = open(&path);
    let error = source.column("身份证号").unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SourceError::ColumnNotFound { .. }));
    assert!(message.contains("\"身份证号\"") && message.contains("户籍.csv"), "{message}");
    assert!(message.contains("\"公民身份号码\", \"姓名\", \"性别\""), "{message}");
    let error = source.column("姓名").unwrap_err();
    assert!(matches!(error, SourceError::DuplicateColumn { first: 2, second: 4, .. }), "{error}");
}

#[test]
fn declared_utf8_header_in_gbk_asks_for_the_encoding() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER}\n1,2,3\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let path = write_file(&dir, "gbk.csv", &gbk);
    let spec = SourceSpec { encoding: Some(Encoding::Utf8), ..SourceSpec::new(&path) };
    let error = Source::open(&spec).unwrap_err();
    assert!(error.to_string().contains("encoding = \"gbk\""), "{error}");
}

#[test]
fn open_errors_name_the_file_and_the_fix() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("missing.csv");
    let error = Source::open(&SourceSpec::new(&missing)).unwrap_err();
    assert!(matches!(error, SourceError::Open { .. }) && error.to_string().contains("missing.csv"), "{error}");

    let txt = write_file(&dir, "data.dat", b"a,b\n1,2\n");
    let error = Source::open(&SourceSpec::new(&txt)).unwrap_err();
    assert!(matches!(error, SourceError::UnknownFormat { .. }), "{error}");
    let spec = SourceSpec { format: Some(Format::Csv), ..SourceSpec::new(&txt) };
    assert_eq!(Source::open(&spec).unwrap().headers(), ["a", "b"]);

    let html = write_file(&dir, "export.xls", "<html><table><tr><td>公民身份号码</td></tr></table></html>".as_bytes());
    // Made in Chinese, read in the reader's language: English where it is asked for (a log line).
    let error = in_language(Lang::Zh, || Source::open(&SourceSpec::new(&html)).unwrap_err());
    assert!(matches!(error, SourceError::Unsupported { .. }), "{error}");
    let english = in_language(Lang::En, || error.to_string());
    assert!(english.contains("not an Excel workbook but a web page"), "{english}");
    let chinese = in_language(Lang::Zh, || error.to_string());
    assert!(chinese.contains("不是 Excel 工作簿，而是以 Excel 文件名保存的网页"), "{chinese}");

    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("a,b\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let utf16 = write_file(&dir, "unicode.csv", &utf16);
    let error = Source::open(&SourceSpec::new(&utf16)).unwrap_err();
    assert!(error.to_string().contains("UTF-16"), "{error}");

    let empty = write_file(&dir, "empty.csv", b"");
    let error = Source::open(&SourceSpec::new(&empty)).unwrap_err();
    assert!(matches!(error, SourceError::Header { .. }), "{error}");
}

#[test]
fn next_row_reuses_the_row() {
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "a.csv", "a,b\n1,2\n3,\n5,6\n".as_bytes());
    let mut source = open(&path);
    let mut row = Row::new();
    let mut seen = Vec::new();
    while let Some(result) = source.next_row(&mut row) {
        result.unwrap();
        seen.push((row.number, row.text(0).into_owned(), row.get(1).cloned()));
    }
    assert_eq!(
        seen,
        [
            (1, "1".to_string(), Some(Cell::Text("2".into()))),
            (2, "3".to_string(), Some(Cell::Empty)),
            (3, "5".to_string(), Some(Cell::Text("6".into()))),
        ]
    );
}

// ------------------------------------------------------------------------------------------
// xlsx

const MANGLED_ID: f64 = 440118198001010022.0; // what Excel keeps of a typed-in 18-digit number

/// Sheet "说明" first, then "名单" with a title on row 1 and the header on row 2.
fn registry_xlsx(dir: &TempDir, name: &str) -> PathBuf {
    let mut book = Workbook::new();
    book.add_worksheet().set_name("说明").unwrap().write_string(0, 0, "测试数据").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("名单").unwrap();
    let date = XlsxFormat::new().set_num_format("yyyy-mm-dd");
    let shaded = XlsxFormat::new().set_background_color(rust_xlsxwriter::Color::Yellow);
    sheet.write_string(0, 0, "增城区优抚对象名单").unwrap();
    for (c, h) in [" 公民身份号码 ", "姓名", "性别", "出生日期", "在世", "人数"].iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    // Data row 1: identity number stored as a number.
    sheet.write_number(2, 0, MANGLED_ID).unwrap();
    sheet.write_string(2, 1, "张三").unwrap();
    sheet.write_string(2, 2, "男").unwrap();
    sheet.write_datetime_with_format(2, 3, ExcelDateTime::from_ymd(1980, 1, 1).unwrap(), &date).unwrap();
    sheet.write_boolean(2, 4, true).unwrap();
    sheet.write_number(2, 5, 3.0).unwrap();
    // Data row 2: identity number stored as text.
    sheet.write_string(3, 0, "440118198001010014").unwrap();
    sheet.write_string(3, 1, "李四").unwrap();
    sheet.write_number(3, 5, 1.5).unwrap();
    // Data row 3: formatted but empty cells only (skipped). Row 4: absent.
    sheet.write_blank(4, 0, &shaded).unwrap();
    sheet.write_blank(4, 1, &shaded).unwrap();
    // Data row 5: sparse, an old 15-digit number stored as a number.
    sheet.write_number(6, 0, 440183800101001.0).unwrap();
    sheet.write_string(6, 3, "不详").unwrap();
    let path = dir.path().join(name);
    book.save(&path).unwrap();
    path
}

#[test]
fn xlsx_identity_numbers_dates_sparse_rows_sheet_and_header_row() {
    let dir = TempDir::new().unwrap();
    let path = registry_xlsx(&dir, "名单.xlsx");
    let spec = SourceSpec { sheet: Some("名单".into()), header_row: Some(2), ..SourceSpec::new(&path) };
    let mut source = Source::open(&spec).unwrap();
    assert_eq!(source.format(), Format::Xlsx);
    assert_eq!(source.encoding(), None);
    assert_eq!(source.sheet(), Some("名单"));
    assert_eq!(source.headers(), ["公民身份号码", "姓名", "性别", "出生日期", "在世", "人数"]);
    let id = source.column("公民身份号码").unwrap();
    let rows: Vec<Row> = source.rows().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 5]);

    assert_eq!(rows[0].get(id), Some(&Cell::Number(MANGLED_ID)));
    assert_eq!(rows[0].text(id), "4.40118E+17");
    assert_eq!(IdNumber::parse(&rows[0].text(id), today()), Err(IdError::ExcelMangled));
    assert_eq!(
        (0..6).map(|c| rows[0].text(c).into_owned()).collect::<Vec<_>>(),
        ["4.40118E+17", "张三", "男", "1980-01-01", "TRUE", "3"]
    );
    assert!(matches!(rows[0].get(3), Some(Cell::Date(_))));

    assert_eq!(rows[1].get(id), Some(&Cell::Text("440118198001010014".into())));
    assert!(IdNumber::parse(&rows[1].text(id), today()).is_ok());
    assert_eq!((rows[1].get(2), rows[1].text(5)), (Some(&Cell::Empty), "1.5".into()));

    assert_eq!(rows[2].text(id), "440183800101001");
    assert_eq!(IdNumber::parse(&rows[2].text(id), today()).unwrap().as_str(), "440183198001010011");
    assert_eq!(
        rows[2].cells(),
        &[Cell::Number(440183800101001.0), Cell::Empty, Cell::Empty, Cell::Text("不详".into())]
    );
    assert_eq!(source.bytes_read(), source.total_bytes().unwrap());
}

#[test]
fn xlsx_default_sheet_and_sheet_errors() {
    let dir = TempDir::new().unwrap();
    let path = registry_xlsx(&dir, "book.xlsx");
    let mut first = open(&path);
    assert_eq!(first.sheet(), Some("说明"));
    assert_eq!(first.headers(), ["测试数据"]);
    assert!(first.rows().next().is_none());

    let spec = SourceSpec { sheet: Some("花名册".into()), ..SourceSpec::new(&path) };
    let error = Source::open(&spec).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SourceError::NoSuchSheet { .. }), "{message}");
    assert!(message.contains("book.xlsx") && message.contains("\"说明\", \"名单\""), "{message}");

    let spec = SourceSpec { sheet: Some("名单".into()), header_row: Some(50), ..SourceSpec::new(&path) };
    let error = Source::open(&spec).unwrap_err();
    assert!(matches!(error, SourceError::Header { header_row: 50, .. }), "{error}");
    // Chinese first, English on request: the sheet named either way.
    let zh = bidui_i18n::in_language(bidui_i18n::Lang::Zh, || error.to_string());
    assert!(zh.contains("book.xlsx 的工作表 \"名单\"") && zh.contains("表头行（第 50 行）"), "{zh}");
    let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string());
    assert!(en.contains("sheet \"名单\"") && en.contains("header row (row 50)"), "{en}");

    let spec = SourceSpec { sheet: Some("名单".into()), header_row: Some(2), ..SourceSpec::new(&path) };
    let error = Source::open(&spec).unwrap().column("身份证号").unwrap_err();
    let en = bidui_i18n::in_language(bidui_i18n::Lang::En, || error.to_string());
    assert!(en.contains("sheet \"名单\"") && en.contains("\"出生日期\""), "{en}");
}

#[test]
fn xlsx_named_xls_or_csv_is_read_by_content() {
    let dir = TempDir::new().unwrap();
    let path = registry_xlsx(&dir, "export.xls");
    let spec = SourceSpec { sheet: Some("名单".into()), header_row: Some(2), ..SourceSpec::new(&path) };
    let source = Source::open(&spec).unwrap();
    assert_eq!(source.format(), Format::Xlsx);
    assert_eq!(source.headers()[0], "公民身份号码");
}

#[test]
fn xlsx_many_rows_in_batches_and_early_drop() {
    let dir = TempDir::new().unwrap();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "公民身份号码").unwrap();
    sheet.write_string(0, 1, "序号").unwrap();
    let n = 5000u32;
    for i in 1..=n {
        sheet.write_string(i, 0, format!("44011819800101{i:04}")).unwrap();
        sheet.write_number(i, 1, f64::from(i)).unwrap();
    }
    let path = dir.path().join("many.xlsx");
    book.save(&path).unwrap();

    let mut source = open(&path);
    let mut row = Row::new();
    let mut count = 0;
    while let Some(result) = source.next_row(&mut row) {
        result.unwrap();
        count += 1;
        assert_eq!(row.number, count);
        assert_eq!(row.text(1), count.to_string());
        assert_eq!(row.text(0), format!("44011819800101{count:04}"));
    }
    assert_eq!(count, n);
    assert_eq!(source.bytes_read(), source.total_bytes().unwrap());

    // Dropping a source in the middle must not hang or leak a blocked thread.
    for _ in 0..3 {
        let mut source = open(&path);
        assert!(source.rows().next().unwrap().is_ok());
        drop(source);
    }
}

#[test]
fn damaged_xlsx_is_an_open_error() {
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "broken.xlsx", b"PK\x03\x04 this is not really a zip file");
    let error = Source::open(&SourceSpec::new(&path)).unwrap_err();
    assert!(matches!(error, SourceError::Workbook { .. }) && error.to_string().contains("broken.xlsx"), "{error}");
}

// ------------------------------------------------------------------------------------------
// xls (fixture written by tests/fixtures/make_xls.py)

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn xls_identity_numbers_dates_and_sparse_rows() {
    let spec = SourceSpec { sheet: Some("名单".into()), ..SourceSpec::new(fixture("registry.xls")) };
    let mut source = Source::open(&spec).unwrap();
    assert_eq!(source.format(), Format::Xls);
    assert_eq!(source.headers(), ["公民身份号码", "姓名", "性别", "出生日期", "在世"]);
    let rows: Vec<Row> = source.rows().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 4]);
    assert_eq!(
        (0..5).map(|c| rows[0].text(c).into_owned()).collect::<Vec<_>>(),
        ["4.40118E+17", "张三", "男", "1980-01-01", "TRUE"]
    );
    assert_eq!(IdNumber::parse(&rows[0].text(0), today()), Err(IdError::ExcelMangled));
    assert_eq!(rows[1].text(0), "440118198001010022");
    assert_eq!(rows[2].text(0), "440183800101001");
    assert_eq!(rows[2].cells()[1..], [Cell::Empty, Cell::Empty, Cell::Empty, Cell::Bool(false)]);
    assert_eq!(source.bytes_read(), source.total_bytes().unwrap());

    let first = Source::open(&SourceSpec::new(fixture("registry.xls"))).unwrap();
    assert_eq!(first.sheet(), Some("说明"));
}
