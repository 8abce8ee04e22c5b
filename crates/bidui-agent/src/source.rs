//! Streaming readers of a department's export: CSV (UTF-8, GBK or GB18030), .xlsx and .xls.
//!
//! A [`Source`] yields the data rows of one table with their row numbers, one at a time, so
//! memory stays bounded whatever the file size:
//!
//! - **CSV** is parsed with `csv-core` straight from a 64 KiB buffer: no decoding layer for
//!   UTF-8 (the hot path), an `encoding_rs` decoder for GBK/GB18030. A record longer than
//!   1 MiB (typically a quote that is never closed) is reported and skipped instead of
//!   swallowing the rest of the file.
//! - **.xlsx** is streamed cell by cell by calamine's worksheet cell reader on a helper
//!   thread, which assembles rows and hands them over in small batches. The workbook's
//!   shared-strings table is loaded whole by calamine, as the format requires.
//! - **.xls** (at most 65,536 rows by the format) is loaded one sheet at a time.
//!
//! Row numbers are 1-based *data* row numbers: the first row after the header is 1. For a
//! workbook, number = sheet row − header row; for CSV, number = record index − header row,
//! where records are what `csv-core` yields (a quoted field may span lines; blank lines are
//! not records). Rows whose cells are all empty are skipped, but keep their number, so a
//! number is stable across runs over the same file and can serve as an opaque record
//! reference.
//!
//! A cell keeps its type from a workbook; [`Cell::text`] renders it as a person would see it
//! in Excel's General format. In particular a number of 10¹⁵ or more renders in scientific
//! notation (`4.40118E+17`): an identity number stored as a number has lost digits, and
//! downstream validation must see that rather than a silently "repaired" number.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread;

use calamine::{Data, DataRef, ExcelDateTime, Reader as _, SheetType, Xls, Xlsx};
use csv_core::ReadRecordResult;
use serde::{Deserialize, Serialize};

/// Size of the CSV read buffer and of the prefix used to sniff format and encoding.
const BUF_LEN: usize = 64 * 1024;
/// A CSV record longer than this is reported and skipped (an unclosed quote, mostly).
const MAX_RECORD_BYTES: usize = 1 << 20;
/// A CSV record with more fields than this is reported and skipped (Excel's column limit).
const MAX_FIELDS: usize = 16_384;
/// A CSV record whose fields hold more line breaks than this is reported, not returned: an
/// unclosed quote that swallowed lines up to the end of the file or to the next quote.
const MAX_RECORD_LINES: u64 = 100;
/// Rows per batch handed over by the xlsx reader thread.
const XLSX_BATCH: usize = 256;
/// Batches in flight between the xlsx reader thread and the consumer.
const XLSX_QUEUE: usize = 8;
/// Spare strings a [`Row`] keeps for reuse.
const MAX_SPARE: usize = 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// File format of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
}

impl Format {
    /// The format that a file name's extension announces (`.csv`, `.xlsx`/`.xlsm`, `.xls`).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "xls" => Some(Format::Xls),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
        })
    }
}

/// Text encoding of a CSV source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    #[serde(rename = "gbk", alias = "GBK")]
    Gbk,
    #[serde(rename = "gb18030", alias = "GB18030")]
    Gb18030,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
            Encoding::Gb18030 => "gb18030",
        })
    }
}

/// Where a department's table is and how to read it (a section of the agent's config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpec {
    pub path: PathBuf,
    /// Detected from the extension when not given. A workbook's content wins over its name:
    /// a zip file is read as .xlsx and an OLE file as .xls whatever they are called.
    #[serde(default)]
    pub format: Option<Format>,
    /// CSV only. When not given: a UTF-8 BOM means UTF-8; else UTF-8 if the first 64 KiB is
    /// valid UTF-8; else GB18030 (a superset of GBK). A BOM wins over a declared encoding.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// .xlsx/.xls only; the first worksheet when not given.
    #[serde(default)]
    pub sheet: Option<String>,
    /// 1-based row (CSV: record) of the column headers; 1 when not given. Rows above it
    /// are ignored.
    #[serde(default)]
    pub header_row: Option<u32>,
}

impl SourceSpec {
    /// A spec with everything detected.
    pub fn new(path: impl Into<PathBuf>) -> SourceSpec {
        SourceSpec { path: path.into(), format: None, encoding: None, sheet: None, header_row: None }
    }
}

/// A source that cannot be opened or used as configured. The message names the file (and
/// sheet) and says what to change.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open {}: {source}", .path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot tell the format of {}: name it .csv, .xlsx or .xls, or set format = \"csv\", \"xlsx\" or \"xls\"", .path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{}: {reason}", .path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("cannot read workbook {}: {reason}", .path.display())]
    Workbook { path: PathBuf, reason: String },
    #[error("{} has no sheet named \"{sheet}\"; its sheets are: {}", .path.display(), quoted_list(.available))]
    NoSuchSheet { path: PathBuf, sheet: String, available: Vec<String> },
    #[error("header_row must be 1 or more (the 1-based row of the column headers) for {}", .path.display())]
    BadHeaderRow { path: PathBuf },
    #[error("cannot read the header row (row {header_row}) of {}: {reason}", place(.path, .sheet.as_deref()))]
    Header { path: PathBuf, sheet: Option<String>, header_row: u32, reason: String },
    #[error("column \"{column}\" not found in {}; the headers are: {}", place(.path, .sheet.as_deref()), quoted_list(.available))]
    ColumnNotFound { path: PathBuf, sheet: Option<String>, column: String, available: Vec<String> },
    #[error("column \"{column}\" appears more than once in {} (columns {first} and {second}, counting from 1); rename one of them", place(.path, .sheet.as_deref()))]
    DuplicateColumn { path: PathBuf, sheet: Option<String>, column: String, first: usize, second: usize },
}

fn place(path: &Path, sheet: Option<&str>) -> String {
    match sheet {
        Some(sheet) => format!("{}, sheet \"{sheet}\"", path.display()),
        None => path.display().to_string(),
    }
}

fn quoted_list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_string();
    }
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

/// A row that could not be read. Reading goes on with the next row unless the reason says
/// it stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("row {row}: {reason}")]
pub struct RowError {
    /// 1-based data row number, as in [`Row::number`].
    pub row: u32,
    pub reason: String,
}

/// A date (and time) cell of a workbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl fmt::Display for CellDate {
    /// `YYYY-MM-DD`, followed by ` HH:MM:SS` when the time is not midnight.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)?;
        if (self.hour, self.minute, self.second) != (0, 0, 0) {
            write!(f, " {:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        }
        Ok(())
    }
}

/// One cell. CSV cells are `Empty` or `Text`; workbook cells keep their type.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(CellDate),
    Bool(bool),
    /// An Excel error value such as `#N/A`.
    Error(String),
}

impl Cell {
    /// The cell as a person sees it in Excel's General format (see [`general_number`]);
    /// dates as `YYYY-MM-DD`; booleans as `TRUE`/`FALSE`; empty as `""`.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) | Cell::Error(s) => Cow::Borrowed(s),
            Cell::Number(n) => Cow::Owned(general_number(*n)),
            Cell::Date(d) => Cow::Owned(d.to_string()),
            Cell::Bool(true) => Cow::Borrowed("TRUE"),
            Cell::Bool(false) => Cow::Borrowed("FALSE"),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Renders a number the way Excel displays it in General format, so that an identity number
/// mangled by Excel stays visibly mangled:
///
/// - 10¹⁵ or more in magnitude (more than 15 significant digits cannot survive a float):
///   scientific notation as Excel shows it in a standard-width column, at most 11
///   characters: `4.40118E+17`, `4.4E+17`, `1E+15`;
/// - an integral number below 10¹⁵: its plain digits (`440183800101001`);
/// - anything else: Rust's shortest round-trip form (`1.5`, `0.1`).
pub fn general_number(n: f64) -> String {
    if n == 0.0 {
        return "0".to_string(); // also -0
    }
    if !n.is_finite() {
        return n.to_string();
    }
    if n.abs() >= 1e15 {
        return excel_scientific(n);
    }
    if n.fract() == 0.0 {
        return (n as i64).to_string();
    }
    n.to_string()
}

fn excel_scientific(n: f64) -> String {
    let mut out = String::new();
    for significant in (1..=6).rev() {
        let formatted = format!("{:.*e}", significant - 1, n);
        let (mantissa, exponent) = formatted.split_once('e').expect("LowerExp has an exponent");
        let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
        let mantissa =
            if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        let sign = if exponent < 0 { '-' } else { '+' };
        out = format!("{mantissa}E{sign}{:02}", exponent.unsigned_abs());
        if out.len() <= 11 {
            break;
        }
    }
    out
}

/// One data row: its 1-based number (first row after the header is 1) and its cells, by
/// column (column 0 is the first column of the file or sheet, as in [`Source::headers`]).
///
/// A `Row` can be reused with [`Source::next_row`]: its buffers are kept.
#[derive(Default)]
pub struct Row {
    pub number: u32,
    cells: Vec<Cell>,
    /// Cleared strings kept for reuse by the next row.
    spare: Vec<String>,
}

impl Row {
    pub fn new() -> Row {
        Row::default()
    }

    pub fn get(&self, column: usize) -> Option<&Cell> {
        self.cells.get(column)
    }

    /// The cell as text as a person sees it (see [`Cell::text`]); `""` if missing.
    pub fn text(&self, column: usize) -> Cow<'_, str> {
        self.cells.get(column).map_or(Cow::Borrowed(""), Cell::text)
    }

    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// Number of cells (the last non-missing column + 1 for workbooks; the number of fields
    /// for CSV, which may differ from the number of headers).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    fn is_blank(&self) -> bool {
        self.cells.iter().all(Cell::is_empty)
    }

    fn recycle(&mut self, cell: Cell) {
        if let Cell::Text(mut s) = cell {
            if self.spare.len() < MAX_SPARE {
                s.clear();
                self.spare.push(s);
            }
        }
    }

    fn clear(&mut self) {
        let mut cells = std::mem::take(&mut self.cells);
        for cell in cells.drain(..) {
            self.recycle(cell);
        }
        self.cells = cells;
    }

    fn take_string(&mut self, s: &str) -> String {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.push_str(s);
        buf
    }

    fn push_text(&mut self, s: &str) {
        let buf = self.take_string(s);
        self.cells.push(Cell::Text(buf));
    }

    /// Sets the cell at `column`, filling any gap with `Empty`.
    fn set(&mut self, column: usize, cell: Cell) {
        if column >= self.cells.len() {
            self.cells.resize(column, Cell::Empty);
            self.cells.push(cell);
        } else {
            let old = std::mem::replace(&mut self.cells[column], cell);
            self.recycle(old);
        }
    }

    fn set_text(&mut self, column: usize, s: &str) {
        let buf = self.take_string(s);
        self.set(column, Cell::Text(buf));
    }
}

impl Clone for Row {
    fn clone(&self) -> Row {
        Row { number: self.number, cells: self.cells.clone(), spare: Vec::new() }
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row").field("number", &self.number).field("cells", &self.cells).finish()
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.number == other.number && self.cells == other.cells
    }
}

/// An opened source, positioned after its header row.
pub struct Source {
    path: PathBuf,
    format: Format,
    encoding: Option<Encoding>,
    sheet: Option<String>,
    headers: Vec<String>,
    total_bytes: Option<u64>,
    inner: Inner,
    /// The buffers [`Source::next_cells`] reads workbook rows into.
    workbook_row: Row,
}

enum Inner {
    Csv(Box<CsvRows>),
    Xlsx(XlsxRows),
    Xls(XlsRows),
}

impl Source {
    /// Opens the file, detects format and encoding, and reads up to the header row.
    pub fn open(spec: &SourceSpec) -> Result<Source, SourceError> {
        let path = spec.path.clone();
        let header_row = spec.header_row.unwrap_or(1);
        if header_row == 0 {
            return Err(SourceError::BadHeaderRow { path });
        }
        let mut file = File::open(&path).map_err(|source| SourceError::Open { path: path.clone(), source })?;
        let total_bytes = file.metadata().ok().map(|m| m.len());
        let mut head = vec![0; BUF_LEN];
        let (n, eof) =
            read_full(&mut file, &mut head).map_err(|source| SourceError::Read { path: path.clone(), source })?;
        head.truncate(n);
        let format = resolve_format(&path, spec.format, &head)?;
        match format {
            Format::Csv => {
                let (csv, encoding, headers) = CsvRows::open(&path, file, head, eof, spec.encoding, header_row)?;
                Ok(Source {
                    path,
                    format,
                    encoding: Some(encoding),
                    sheet: None,
                    headers,
                    total_bytes,
                    inner: Inner::Csv(Box::new(csv)),
                    workbook_row: Row::new(),
                })
            }
            Format::Xlsx => {
                file.seek(SeekFrom::Start(0)).map_err(|source| SourceError::Read { path: path.clone(), source })?;
                let (xlsx, sheet, headers) = XlsxRows::open(&path, file, spec.sheet.as_deref(), header_row)?;
                Ok(Source {
                    path,
                    format,
                    encoding: None,
                    sheet: Some(sheet),
                    headers,
                    total_bytes,
                    inner: Inner::Xlsx(xlsx),
                    workbook_row: Row::new(),
                })
            }
            Format::Xls => {
                file.seek(SeekFrom::Start(0)).map_err(|source| SourceError::Read { path: path.clone(), source })?;
                let (xls, sheet, headers) =
                    XlsRows::open(&path, file, spec.sheet.as_deref(), header_row, total_bytes.unwrap_or(0))?;
                Ok(Source {
                    path,
                    format,
                    encoding: None,
                    sheet: Some(sheet),
                    headers,
                    total_bytes,
                    inner: Inner::Xls(xls),
                    workbook_row: Row::new(),
                })
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The encoding used to read a CSV source (declared, or detected); `None` for workbooks.
    pub fn encoding(&self) -> Option<Encoding> {
        self.encoding
    }

    /// The sheet being read; `None` for CSV.
    pub fn sheet(&self) -> Option<&str> {
        self.sheet.as_deref()
    }

    /// Column headers, trimmed (whitespace, BOM, zero-width space), trailing empty ones
    /// dropped. Index = column index in [`Row`].
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The column whose header is exactly `header` (both trimmed). Errors name the file,
    /// sheet and the available headers, or the two columns if the header is not unique.
    pub fn column(&self, header: &str) -> Result<usize, SourceError> {
        let wanted = trim_header(header);
        let mut found = self.headers.iter().enumerate().filter(|(_, h)| !wanted.is_empty() && h.as_str() == wanted);
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some((first, _)), Some((second, _))) => Err(SourceError::DuplicateColumn {
                path: self.path.clone(),
                sheet: self.sheet.clone(),
                column: wanted.to_string(),
                first: first + 1,
                second: second + 1,
            }),
            (None, _) => Err(SourceError::ColumnNotFound {
                path: self.path.clone(),
                sheet: self.sheet.clone(),
                column: wanted.to_string(),
                available: self.headers.iter().filter(|h| !h.is_empty()).cloned().collect(),
            }),
        }
    }

    /// Reads the next non-blank data row into `row`, reusing its buffers (the fast path).
    /// `None` at the end. On `Some(Err(_))` the row is skipped and the next call goes on
    /// with the following row, unless the error says reading stopped (then the next call
    /// returns `None`).
    pub fn next_row(&mut self, row: &mut Row) -> Option<Result<(), RowError>> {
        match &mut self.inner {
            Inner::Csv(csv) => csv.next_row(row),
            Inner::Xlsx(xlsx) => xlsx.next_row(row),
            Inner::Xls(xls) => xls.next_row(row),
        }
    }

    /// Reads the next non-blank data row as [`Source::next_row`] does, but only the cells
    /// of `columns`: their texts (as [`Cell::text`] gives them; `""` for a `None` column or
    /// a missing cell) are appended to `out` one after another, and the end offset of each
    /// in `out` is pushed to `ends`. Returns the row number. For CSV this copies a few
    /// cells instead of building a [`Row`]: the agent's reading thread does nothing else.
    pub fn next_cells(
        &mut self,
        columns: &[Option<usize>],
        out: &mut String,
        ends: &mut Vec<usize>,
    ) -> Option<Result<u32, RowError>> {
        if let Inner::Csv(csv) = &mut self.inner {
            return csv.next_cells(columns, out, ends);
        }
        let mut row = std::mem::take(&mut self.workbook_row);
        let next = self.next_row(&mut row).map(|read| {
            read.map(|()| {
                for column in columns {
                    out.push_str(&column.map_or(Cow::Borrowed(""), |c| row.text(c)));
                    ends.push(out.len());
                }
                row.number
            })
        });
        self.workbook_row = row;
        next
    }

    /// The remaining rows, each freshly allocated (convenient; [`Source::next_row`] is
    /// faster).
    pub fn rows(&mut self) -> Rows<'_> {
        Rows { source: self }
    }

    /// Bytes of the file consumed so far, for a progress bar. For .xlsx it is the position
    /// in the compressed file, an approximation; for .xls it is prorated by rows.
    pub fn bytes_read(&self) -> u64 {
        match &self.inner {
            Inner::Csv(csv) => csv.bytes_read,
            Inner::Xlsx(xlsx) => {
                if xlsx.done {
                    self.total_bytes.unwrap_or(0)
                } else {
                    xlsx.progress.load(Ordering::Relaxed)
                }
            }
            Inner::Xls(xls) => xls.bytes_read(),
        }
    }

    /// Size of the file, when known.
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("sheet", &self.sheet)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Iterator over the remaining rows of a [`Source`].
pub struct Rows<'a> {
    source: &'a mut Source,
}

impl Iterator for Rows<'_> {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = Row::new();
        self.source.next_row(&mut row).map(|result| result.map(|()| row))
    }
}

fn trim_header(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{FEFF}' | '\u{200B}' | '\u{200C}' | '\u{200D}'))
}

fn finish_headers(mut headers: Vec<String>) -> Vec<String> {
    for h in &mut headers {
        let trimmed = trim_header(h);
        if trimmed.len() != h.len() {
            *h = trimmed.to_string();
        }
    }
    while headers.last().is_some_and(String::is_empty) {
        headers.pop();
    }
    headers
}

/// Reads until `buf` is full or the end of the file; returns (bytes read, reached EOF).
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => return Ok((n, true)),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((n, false))
}

fn resolve_format(path: &Path, declared: Option<Format>, head: &[u8]) -> Result<Format, SourceError> {
    if head.starts_with(ZIP_MAGIC) {
        return Ok(Format::Xlsx);
    }
    let named = declared.or_else(|| Format::from_path(path));
    if head.starts_with(OLE_MAGIC) {
        // An encrypted .xlsx is an OLE file too; calamine's xlsx reader reports the password.
        return Ok(if named == Some(Format::Xlsx) { Format::Xlsx } else { Format::Xls });
    }
    match named {
        Some(Format::Xls | Format::Xlsx) => {
            let text = head.strip_prefix(UTF8_BOM).unwrap_or(head);
            let first = text.iter().find(|b| !b.is_ascii_whitespace());
            let reason = if first == Some(&b'<') {
                "this is not an Excel workbook but a web page (HTML/XML) saved under an Excel name, as some systems export; open it in Excel and save it as .xlsx or as CSV"
            } else {
                "this is not an Excel workbook (neither .xlsx nor .xls); if it is a CSV text file, set format = \"csv\""
            };
            Err(SourceError::Unsupported { path: path.to_path_buf(), reason: reason.to_string() })
        }
        Some(Format::Csv) => Ok(Format::Csv),
        None => Err(SourceError::UnknownFormat { path: path.to_path_buf() }),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

enum CsvInput {
    /// UTF-8: bytes go straight from the file to the parser.
    Plain(File),
    /// GBK/GB18030: raw bytes are decoded to UTF-8 first.
    Decode {
        file: File,
        decoder: encoding_rs::Decoder,
        raw: Vec<u8>,
        raw_pos: usize,
        raw_end: usize,
        raw_eof: bool,
        finished: bool,
    },
}

enum Record {
    /// A record of `fields` fields, `bytes` bytes of content, in `out`/`ends`.
    Complete {
        bytes: usize,
        fields: usize,
    },
    /// A record too long to keep; it was skipped up to the next line.
    Overlong {
        first_line: u64,
        skipped_to_line: u64,
    },
    /// A record spanning more than `MAX_RECORD_LINES` lines.
    ManyLines {
        first_line: u64,
        last_line: u64,
    },
    End,
    Io(io::Error),
}

struct CsvRows {
    input: CsvInput,
    /// UTF-8 bytes for the parser: `buf[pos..end]` is not consumed yet.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    input_done: bool,
    /// The last byte the parser consumed, and whether the last record ended at the end of
    /// the input rather than at a line terminator: to tell which lines a record spans.
    last_byte: u8,
    ended_at_eof: bool,
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Records read so far, including those up to the header.
    records: u64,
    header_row: u32,
    done: bool,
    encoding: Encoding,
    detected: bool,
    bytes_read: u64,
}

impl CsvRows {
    fn open(
        path: &Path,
        file: File,
        head: Vec<u8>,
        eof: bool,
        declared: Option<Encoding>,
        header_row: u32,
    ) -> Result<(CsvRows, Encoding, Vec<String>), SourceError> {
        if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Err(SourceError::Unsupported {
                path: path.to_path_buf(),
                reason:
                    "this file is UTF-16 text (Excel's \"Unicode Text\"); save it as \"CSV UTF-8\" or plain CSV instead"
                        .to_string(),
            });
        }
        let (encoding, detected) = if head.starts_with(UTF8_BOM) {
            (Encoding::Utf8, declared != Some(Encoding::Utf8))
        } else {
            match declared {
                Some(encoding) => (encoding, false),
                None => (detect_encoding(&head), true),
            }
        };
        let bytes_read = head.len() as u64;
        let (input, buf, end) = match encoding {
            Encoding::Utf8 => {
                let end = head.len();
                let mut buf = head;
                buf.resize(BUF_LEN, 0);
                (CsvInput::Plain(file), buf, end)
            }
            Encoding::Gbk | Encoding::Gb18030 => {
                let decoder = match encoding {
                    Encoding::Gbk => encoding_rs::GBK.new_decoder_without_bom_handling(),
                    _ => encoding_rs::GB18030.new_decoder_without_bom_handling(),
                };
                let raw_end = head.len();
                let mut raw = head;
                raw.resize(BUF_LEN, 0);
                let input = CsvInput::Decode { file, decoder, raw, raw_pos: 0, raw_end, raw_eof: eof, finished: false };
                (input, vec![0; BUF_LEN], 0)
            }
        };
        let mut csv = CsvRows {
            input,
            buf,
            pos: 0,
            end,
            input_done: false,
            last_byte: 0,
            ended_at_eof: false,
            core: csv_core::Reader::new(),
            out: vec![0; 4096],
            ends: vec![0; 64],
            records: 0,
            header_row,
            done: false,
            encoding,
            detected,
            bytes_read,
        };
        let header_error =
            |reason: String| SourceError::Header { path: path.to_path_buf(), sheet: None, header_row, reason };
        loop {
            match csv.next_record() {
                Record::End => {
                    return Err(header_error(format!("the file has only {} row(s)", csv.records)));
                }
                Record::Io(source) => return Err(SourceError::Read { path: path.to_path_buf(), source }),
                Record::Overlong { first_line, .. } | Record::ManyLines { first_line, .. } => {
                    csv.records += 1;
                    if csv.records == u64::from(header_row) {
                        return Err(header_error(format!(
                            "the record starting at line {first_line} is longer than 1 MiB, has more than {MAX_FIELDS} fields or spans more than {MAX_RECORD_LINES} lines: is this really a CSV file?"
                        )));
                    }
                }
                Record::Complete { bytes, fields } => {
                    csv.records += 1;
                    if csv.records < u64::from(header_row) {
                        continue;
                    }
                    let content = &csv.out[..bytes];
                    let invalid = || {
                        header_error(match (encoding, detected) {
                            (Encoding::Utf8, false) => "it is not valid UTF-8: if the file was saved as GBK (ANSI), set encoding = \"gbk\" or leave encoding unset to detect it".to_string(),
                            (Encoding::Utf8, true) => "it is not valid UTF-8".to_string(),
                            (other, _) => format!("it is not valid {other}; if the file is UTF-8, set encoding = \"utf-8\""),
                        })
                    };
                    let text = std::str::from_utf8(content).map_err(|_| invalid())?;
                    if encoding != Encoding::Utf8 && has_replacement(content) {
                        return Err(invalid());
                    }
                    let mut headers = Vec::with_capacity(fields);
                    let mut start = 0;
                    for &e in &csv.ends[..fields] {
                        headers.push(text.get(start..e).ok_or_else(invalid)?.to_string());
                        start = e;
                    }
                    let headers = finish_headers(headers);
                    if headers.is_empty() {
                        return Err(header_error("the row is empty".to_string()));
                    }
                    return Ok((csv, encoding, headers));
                }
            }
        }
    }

    /// Refills `buf` (only called once it is consumed). Sets `input_done` at the end.
    fn fill(&mut self) -> io::Result<()> {
        self.pos = 0;
        self.end = 0;
        match &mut self.input {
            CsvInput::Plain(file) => loop {
                match file.read(&mut self.buf) {
                    Ok(n) => {
                        self.end = n;
                        self.bytes_read += n as u64;
                        self.input_done = n == 0;
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
            CsvInput::Decode { file, decoder, raw, raw_pos, raw_end, raw_eof, finished } => loop {
                if *finished {
                    self.input_done = true;
                    return Ok(());
                }
                if *raw_pos == *raw_end && !*raw_eof {
                    *raw_pos = 0;
                    *raw_end = 0;
                    match file.read(raw) {
                        Ok(n) => {
                            *raw_end = n;
                            *raw_eof = n == 0;
                            self.bytes_read += n as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                }
                let (result, read, written, _) =
                    decoder.decode_to_utf8(&raw[*raw_pos..*raw_end], &mut self.buf, *raw_eof);
                *raw_pos += read;
                if *raw_eof && result == encoding_rs::CoderResult::InputEmpty {
                    *finished = true;
                }
                if written > 0 {
                    self.end = written;
                    return Ok(());
                }
            },
        }
    }

    /// Parses the next record into `out`/`ends`.
    fn next_record(&mut self) -> Record {
        let (mut bytes, mut fields) = (0, 0);
        let start_line = self.core.line();
        loop {
            if self.pos == self.end && !self.input_done {
                if let Err(e) = self.fill() {
                    return Record::Io(e);
                }
            }
            let input = &self.buf[self.pos..self.end];
            let at_eof = input.is_empty();
            let (result, nin, nout, nend) =
                self.core.read_record(input, &mut self.out[bytes..], &mut self.ends[fields..]);
            self.pos += nin;
            if nin > 0 {
                self.last_byte = self.buf[self.pos - 1];
            }
            bytes += nout;
            fields += nend;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.out.len() >= MAX_RECORD_BYTES {
                        return self.skip_overlong(bytes);
                    }
                    let len = self.out.len() * 2;
                    self.out.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() >= MAX_FIELDS {
                        return self.skip_overlong(bytes);
                    }
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::Record => {
                    self.ended_at_eof = at_eof;
                    // Cheap test first: the line count includes blank lines before the record.
                    if self.core.line() - start_line > MAX_RECORD_LINES
                        && count_newlines(&self.out[..bytes]) > MAX_RECORD_LINES
                    {
                        let (first_line, last_line) = self.record_lines(bytes);
                        return Record::ManyLines { first_line, last_line };
                    }
                    return Record::Complete { bytes, fields };
                }
                ReadRecordResult::End => return Record::End,
            }
        }
    }

    /// Abandons the current record and skips the input up to the end of the current line.
    fn skip_overlong(&mut self, bytes: usize) -> Record {
        let line = self.core.line();
        let first_line = line.saturating_sub(count_newlines(&self.out[..bytes]));
        let mut skipped = 0;
        loop {
            if self.pos == self.end {
                if self.input_done {
                    break;
                }
                if let Err(e) = self.fill() {
                    return Record::Io(e);
                }
                continue;
            }
            let rest = &self.buf[self.pos..self.end];
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.pos += i + 1;
                    skipped += 1;
                    break;
                }
                None => self.pos = self.end,
            }
        }
        self.core.reset();
        self.core.set_line(line + skipped);
        Record::Overlong { first_line, skipped_to_line: line }
    }

    /// The first and last line of the record just read, of `bytes` bytes of content.
    fn record_lines(&self, bytes: usize) -> (u64, u64) {
        let line = self.core.line();
        let newline_last = u64::from(self.last_byte == b'\n');
        let terminator = if self.ended_at_eof { 0 } else { newline_last };
        let first = line.saturating_sub(count_newlines(&self.out[..bytes]) + terminator);
        (first.max(1), line.saturating_sub(newline_last).max(1))
    }

    fn next_row(&mut self, row: &mut Row) -> Option<Result<(), RowError>> {
        row.clear();
        let next = self.next_text_record(|number, text, ends| {
            row.number = number;
            let mut start = 0;
            for &end in ends {
                let field = &text[start..end];
                start = end;
                if field.is_empty() {
                    row.cells.push(Cell::Empty);
                } else {
                    row.push_text(field);
                }
            }
        });
        if let Some(Err(error)) = &next {
            row.number = error.row;
        }
        next
    }

    fn next_cells(
        &mut self,
        columns: &[Option<usize>],
        out: &mut String,
        ends: &mut Vec<usize>,
    ) -> Option<Result<u32, RowError>> {
        self.next_text_record(|number, text, field_ends| {
            for column in columns {
                let field = column.filter(|&c| c < field_ends.len()).map_or("", |c| {
                    let start = if c == 0 { 0 } else { field_ends[c - 1] };
                    &text[start..field_ends[c]]
                });
                out.push_str(field);
                ends.push(out.len());
            }
            number
        })
    }

    /// The next non-blank record, handed to `consume` as its row number, its text and its
    /// fields' end offsets in the text; `None` at the end; `Some(Err(_))` for a record
    /// that cannot be read (see [`Source::next_row`]).
    fn next_text_record<R>(&mut self, consume: impl FnOnce(u32, &str, &[usize]) -> R) -> Option<Result<R, RowError>> {
        loop {
            if self.done {
                return None;
            }
            let record = self.next_record();
            if !matches!(record, Record::End) {
                self.records += 1;
            }
            let number = u32::try_from(self.records.saturating_sub(u64::from(self.header_row))).unwrap_or(u32::MAX);
            match record {
                Record::End => {
                    self.done = true;
                    return None;
                }
                Record::Io(e) => {
                    self.done = true;
                    return Some(Err(RowError {
                        row: number,
                        reason: format!("cannot read the file: {e}; reading stopped"),
                    }));
                }
                Record::Overlong { first_line, skipped_to_line } => {
                    return Some(Err(RowError {
                        row: number,
                        reason: format!(
                            "the record starting at line {first_line} is longer than 1 MiB or has more than {MAX_FIELDS} fields, most likely because of a quote (\") that is never closed; lines {first_line} to {skipped_to_line} were skipped"
                        ),
                    }));
                }
                Record::ManyLines { first_line, last_line } => {
                    return Some(Err(RowError {
                        row: number,
                        reason: format!(
                            "the record at lines {first_line}-{last_line} spans more than {MAX_RECORD_LINES} lines, most likely because of a quote (\") that is never closed; those lines were not read as rows"
                        ),
                    }));
                }
                Record::Complete { bytes, fields } => {
                    let content = &self.out[..bytes];
                    // simdutf8: Chinese text defeats std's ASCII fast path, and every byte
                    // of a record is checked (about a tenth of the agent's time otherwise).
                    let text = match simdutf8::basic::from_utf8(content) {
                        Ok(text) if self.encoding == Encoding::Utf8 || !has_replacement(content) => text,
                        _ => return Some(Err(self.encoding_error(number, bytes))),
                    };
                    let ends = &self.ends[..fields];
                    // A field boundary inside a character: the bytes were not text.
                    if !ends.iter().all(|&end| text.is_char_boundary(end)) {
                        return Some(Err(self.encoding_error(number, bytes)));
                    }
                    if ends.last().is_none_or(|&end| end == 0) {
                        continue; // every field empty: a blank row
                    }
                    return Some(Ok(consume(number, text, ends)));
                }
            }
        }
    }

    fn encoding_error(&self, number: u32, bytes: usize) -> RowError {
        let (first, last) = self.record_lines(bytes);
        let lines = if first == last { format!("line {last}") } else { format!("lines {first}-{last}") };
        let reason = match (self.encoding, self.detected) {
            (Encoding::Utf8, true) => format!(
                "{lines} is not valid UTF-8 (the file was taken as UTF-8 from its first 64 KiB; if it was saved as GBK/ANSI, set encoding = \"gbk\")"
            ),
            (Encoding::Utf8, false) => format!("{lines} is not valid UTF-8, the declared encoding"),
            (other, _) => format!("{lines} has bytes that are not valid {other}"),
        };
        RowError { row: number, reason }
    }
}

fn detect_encoding(head: &[u8]) -> Encoding {
    match std::str::from_utf8(head) {
        Ok(_) => Encoding::Utf8,
        // Only an incomplete sequence at the very end: a character cut by the 64 KiB
        // boundary (or a file cut short), still UTF-8.
        Err(e) if e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Gb18030,
    }
}

/// U+FFFD, which a decoder puts where the input was invalid.
fn has_replacement(utf8: &[u8]) -> bool {
    utf8.windows(3).any(|w| w == "\u{FFFD}".as_bytes())
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

// ---------------------------------------------------------------------------------------------
// Workbooks

/// A file that publishes its position, so the consumer can show progress while the xlsx
/// reader thread owns the file.
struct CountingFile {
    file: File,
    position: u64,
    shared: Arc<AtomicU64>,
}

impl Read for CountingFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.position += n as u64;
        self.shared.store(self.position, Ordering::Relaxed);
        Ok(n)
    }
}

impl Seek for CountingFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.position = self.file.seek(pos)?;
        self.shared.store(self.position, Ordering::Relaxed);
        Ok(self.position)
    }
}

fn workbook_error(path: &Path, error: impl fmt::Display) -> SourceError {
    let reason = error.to_string();
    if reason.to_ascii_lowercase().contains("password") {
        return SourceError::Unsupported {
            path: path.to_path_buf(),
            reason: "the workbook is password-protected; save a copy without a password".to_string(),
        };
    }
    SourceError::Workbook { path: path.to_path_buf(), reason }
}

/// The requested sheet, or the first worksheet.
fn choose_sheet(path: &Path, requested: Option<&str>, sheets: &[calamine::Sheet]) -> Result<String, SourceError> {
    let available: Vec<String> = sheets.iter().map(|s| s.name.clone()).collect();
    match requested {
        Some(wanted) => {
            let wanted_trimmed = wanted.trim();
            available.iter().find(|name| name.as_str() == wanted || name.trim() == wanted_trimmed).cloned().ok_or_else(
                || SourceError::NoSuchSheet {
                    path: path.to_path_buf(),
                    sheet: wanted.to_string(),
                    available: available.clone(),
                },
            )
        }
        None => {
            sheets.iter().find(|s| s.typ == SheetType::WorkSheet).or(sheets.first()).map(|s| s.name.clone()).ok_or_else(
                || SourceError::Workbook { path: path.to_path_buf(), reason: "the workbook has no sheet".to_string() },
            )
        }
    }
}

fn excel_date(value: &ExcelDateTime) -> Cell {
    if value.is_duration() {
        let seconds = (value.as_f64() * 86_400.0).round() as i64;
        let sign = if seconds < 0 { "-" } else { "" };
        let seconds = seconds.unsigned_abs();
        return Cell::Text(format!("{sign}{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60));
    }
    let (year, month, day, hour, minute, second, _milli) = value.to_ymd_hms_milli();
    Cell::Date(CellDate { year, month, day, hour, minute, second })
}

/// An ISO 8601 date-time cell (`t="d"`): the date alone when the time is midnight.
fn iso_date(s: &str) -> String {
    match s.split_once('T') {
        Some((date, time)) => {
            let time = time.trim_end_matches('Z');
            if time.trim_start_matches(['0', ':', '.']).is_empty() {
                date.to_string()
            } else {
                format!("{date} {time}")
            }
        }
        None => s.to_string(),
    }
}

fn set_data_ref(row: &mut Row, column: usize, value: &DataRef<'_>) {
    match value {
        DataRef::String(s) => row.set_text(column, s),
        DataRef::SharedString(s) => row.set_text(column, s),
        DataRef::Empty => row.set(column, Cell::Empty),
        DataRef::Int(i) => row.set(column, Cell::Number(*i as f64)),
        DataRef::Float(f) => row.set(column, Cell::Number(*f)),
        DataRef::Bool(b) => row.set(column, Cell::Bool(*b)),
        DataRef::DateTime(d) => row.set(column, excel_date(d)),
        DataRef::DateTimeIso(s) => row.set(column, Cell::Text(iso_date(s))),
        DataRef::DurationIso(s) => row.set_text(column, s),
        DataRef::Error(e) => row.set(column, Cell::Error(e.to_string())),
    }
}

fn set_data(row: &mut Row, column: usize, value: &Data) {
    match value {
        Data::String(s) => row.set_text(column, s),
        Data::Empty => row.set(column, Cell::Empty),
        Data::Int(i) => row.set(column, Cell::Number(*i as f64)),
        Data::Float(f) => row.set(column, Cell::Number(*f)),
        Data::Bool(b) => row.set(column, Cell::Bool(*b)),
        Data::DateTime(d) => row.set(column, excel_date(d)),
        Data::DateTimeIso(s) => row.set(column, Cell::Text(iso_date(s))),
        Data::DurationIso(s) => row.set_text(column, s),
        Data::Error(e) => row.set(column, Cell::Error(e.to_string())),
    }
}

fn header_texts(row: &Row) -> Vec<String> {
    finish_headers(row.cells.iter().map(|c| c.text().into_owned()).collect())
}

// ---------------------------------------------------------------------------------------------
// xlsx: streamed on a helper thread that owns the workbook

enum XlsxMsg {
    Headers(Vec<String>),
    /// The sheet could not be read up to its header.
    OpenFailed(SourceError),
    Rows(Vec<Row>),
    /// The sheet is damaged: reading stops after this.
    Fatal(RowError),
    Done,
}

struct XlsxRows {
    rx: Receiver<XlsxMsg>,
    recycle: Sender<Vec<Row>>,
    batch: Vec<Row>,
    next: usize,
    done: bool,
    last_number: u32,
    progress: Arc<AtomicU64>,
}

type XlsxBook = Xlsx<BufReader<CountingFile>>;

impl XlsxRows {
    fn open(
        path: &Path,
        file: File,
        requested: Option<&str>,
        header_row: u32,
    ) -> Result<(XlsxRows, String, Vec<String>), SourceError> {
        let progress = Arc::new(AtomicU64::new(0));
        let counting = CountingFile { file, position: 0, shared: Arc::clone(&progress) };
        let book: XlsxBook = calamine::open_workbook_from_rs(BufReader::with_capacity(BUF_LEN, counting))
            .map_err(|e| workbook_error(path, e))?;
        let sheet = choose_sheet(path, requested, book.sheets_metadata())?;
        let (tx, rx) = mpsc::sync_channel(XLSX_QUEUE);
        let (recycle, recycled) = mpsc::channel();
        let worker_path = path.to_path_buf();
        let worker_sheet = sheet.clone();
        thread::Builder::new()
            .name("bidui-xlsx".to_string())
            .spawn(move || xlsx_worker(book, &worker_path, &worker_sheet, header_row, &tx, &recycled))
            .map_err(|e| SourceError::Workbook {
                path: path.to_path_buf(),
                reason: format!("cannot start a reader thread: {e}"),
            })?;
        let headers = match rx.recv() {
            Ok(XlsxMsg::Headers(headers)) => headers,
            Ok(XlsxMsg::OpenFailed(error)) => return Err(error),
            _ => {
                return Err(SourceError::Workbook {
                    path: path.to_path_buf(),
                    reason: format!("the reader of sheet \"{sheet}\" stopped unexpectedly"),
                })
            }
        };
        let rows = XlsxRows { rx, recycle, batch: Vec::new(), next: 0, done: false, last_number: 0, progress };
        Ok((rows, sheet, headers))
    }

    fn next_row(&mut self, row: &mut Row) -> Option<Result<(), RowError>> {
        loop {
            if let Some(slot) = self.batch.get_mut(self.next) {
                std::mem::swap(slot, row);
                self.next += 1;
                self.last_number = row.number;
                return Some(Ok(()));
            }
            if self.done {
                return None;
            }
            if !self.batch.is_empty() {
                let _ = self.recycle.send(std::mem::take(&mut self.batch));
            }
            self.next = 0;
            match self.rx.recv() {
                Ok(XlsxMsg::Rows(batch)) => self.batch = batch,
                Ok(XlsxMsg::Fatal(error)) => {
                    self.done = true;
                    return Some(Err(error));
                }
                Ok(XlsxMsg::Done) => {
                    self.done = true;
                    return None;
                }
                Ok(XlsxMsg::Headers(_) | XlsxMsg::OpenFailed(_)) | Err(_) => {
                    self.done = true;
                    return Some(Err(RowError {
                        row: self.last_number.saturating_add(1),
                        reason: "the xlsx reader stopped unexpectedly; reading stopped".to_string(),
                    }));
                }
            }
        }
    }
}

/// Reads the sheet cell by cell, assembles rows and sends them in batches. Returns when the
/// sheet ends, on a fatal error, or when the consumer has gone.
fn xlsx_worker(
    mut book: XlsxBook,
    path: &Path,
    sheet: &str,
    header_row: u32,
    tx: &SyncSender<XlsxMsg>,
    recycled: &Receiver<Vec<Row>>,
) {
    let header_error = |reason: String| SourceError::Header {
        path: path.to_path_buf(),
        sheet: Some(sheet.to_string()),
        header_row,
        reason,
    };
    let header_index = header_row - 1; // 0-based sheet row
    let mut cells = match book.worksheet_cells_reader(sheet) {
        Ok(cells) => cells,
        Err(e) => {
            let _ = tx.send(XlsxMsg::OpenFailed(workbook_error(path, e)));
            return;
        }
    };
    let mut header = Row::new();
    let mut headers_sent = false;
    let mut current: Option<(u32, Row)> = None;
    let mut batch: Vec<Row> = Vec::with_capacity(XLSX_BATCH);
    let mut pool: Vec<Row> = Vec::new();
    let mut last_number = 0u32;

    // Sends the header once, at the first cell below it or at the end of the sheet.
    let send_headers = |header: &Row, headers_sent: &mut bool| -> bool {
        if *headers_sent {
            return true;
        }
        *headers_sent = true;
        let headers = header_texts(header);
        if headers.is_empty() {
            let _ = tx.send(XlsxMsg::OpenFailed(header_error("the row is empty".to_string())));
            return false;
        }
        tx.send(XlsxMsg::Headers(headers)).is_ok()
    };
    // Moves a finished row into the batch, and sends the batch when full.
    let flush = |finished: Option<(u32, Row)>, batch: &mut Vec<Row>, pool: &mut Vec<Row>| -> bool {
        if let Some((_, row)) = finished {
            if row.is_blank() {
                pool.push(row);
            } else {
                batch.push(row);
            }
        }
        if batch.len() >= XLSX_BATCH {
            let full = std::mem::replace(batch, Vec::with_capacity(XLSX_BATCH));
            if tx.send(XlsxMsg::Rows(full)).is_err() {
                return false;
            }
        }
        true
    };

    loop {
        let cell = match cells.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => {
                if !headers_sent {
                    let _ = tx.send(XlsxMsg::OpenFailed(header_error(format!("the sheet is damaged: {e}"))));
                    return;
                }
                // The row being assembled is incomplete: report it rather than send it.
                let number = current.as_ref().map_or(last_number.saturating_add(1), |(_, row)| row.number);
                if !batch.is_empty() && tx.send(XlsxMsg::Rows(batch)).is_err() {
                    return;
                }
                let reason = format!("the sheet is damaged here ({e}); reading stopped");
                let _ = tx.send(XlsxMsg::Fatal(RowError { row: number, reason }));
                return;
            }
        };
        let (r, c) = cell.get_position();
        let column = c as usize;
        if r < header_index {
            continue;
        }
        if r == header_index {
            set_data_ref(&mut header, column, cell.get_value());
            continue;
        }
        if !send_headers(&header, &mut headers_sent) {
            return;
        }
        match &mut current {
            Some((current_r, row)) if *current_r == r => set_data_ref(row, column, cell.get_value()),
            _ => {
                if pool.is_empty() {
                    while let Ok(mut rows) = recycled.try_recv() {
                        pool.append(&mut rows);
                        if pool.len() >= 2 * XLSX_BATCH {
                            break;
                        }
                    }
                }
                let mut row = pool.pop().unwrap_or_default();
                row.clear();
                row.number = r - header_index;
                last_number = row.number;
                set_data_ref(&mut row, column, cell.get_value());
                if !flush(current.replace((r, row)), &mut batch, &mut pool) {
                    return;
                }
            }
        }
    }
    if !send_headers(&header, &mut headers_sent) {
        return;
    }
    let _ = flush(current.take(), &mut batch, &mut pool);
    if !batch.is_empty() && tx.send(XlsxMsg::Rows(batch)).is_err() {
        return;
    }
    let _ = tx.send(XlsxMsg::Done);
}

// ---------------------------------------------------------------------------------------------
// xls: one sheet loaded (the format holds at most 65,536 rows)

struct XlsRows {
    range: calamine::Range<Data>,
    /// Next absolute (0-based) sheet row to read.
    next: u32,
    header_index: u32,
    total_bytes: u64,
}

impl XlsRows {
    fn open(
        path: &Path,
        file: File,
        requested: Option<&str>,
        header_row: u32,
        total_bytes: u64,
    ) -> Result<(XlsRows, String, Vec<String>), SourceError> {
        let mut book: Xls<_> = calamine::open_workbook_from_rs(BufReader::with_capacity(BUF_LEN, file))
            .map_err(|e| workbook_error(path, e))?;
        let sheet = choose_sheet(path, requested, book.sheets_metadata())?;
        let range = book.worksheet_range(&sheet).map_err(|e| workbook_error(path, e))?;
        let header_index = header_row - 1;
        let mut header = Row::new();
        if let (Some(_), Some((_, last_col))) = (range.start(), range.end()) {
            for c in 0..=last_col {
                if let Some(value) = range.get_value((header_index, c)) {
                    set_data(&mut header, c as usize, value);
                }
            }
        }
        let headers = header_texts(&header);
        if headers.is_empty() {
            let reason = match range.end() {
                Some((last_row, _)) if last_row < header_index => format!("the sheet has only {} row(s)", last_row + 1),
                None => "the sheet is empty".to_string(),
                Some(_) => "the row is empty".to_string(),
            };
            return Err(SourceError::Header { path: path.to_path_buf(), sheet: Some(sheet), header_row, reason });
        }
        let rows = XlsRows { range, next: header_index + 1, header_index, total_bytes };
        Ok((rows, sheet, headers))
    }

    fn next_row(&mut self, row: &mut Row) -> Option<Result<(), RowError>> {
        let (first_row, first_col) = self.range.start()?;
        let (last_row, last_col) = self.range.end()?;
        while self.next <= last_row {
            let r = self.next.max(first_row);
            self.next = r + 1;
            row.clear();
            row.number = r - self.header_index;
            for c in first_col..=last_col {
                if let Some(value) = self.range.get_value((r, c)) {
                    if !matches!(value, Data::Empty) {
                        set_data(row, c as usize, value);
                    }
                }
            }
            if !row.is_blank() {
                return Some(Ok(()));
            }
        }
        None
    }

    fn bytes_read(&self) -> u64 {
        match (self.range.start(), self.range.end()) {
            (Some((first, _)), Some((last, _))) if last >= first => {
                let done = u64::from(self.next.saturating_sub(first).min(last - first + 1));
                self.total_bytes * done / u64::from(last - first + 1)
            }
            _ => self.total_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_render_as_excel_general_displays_them() {
        let cases: &[(f64, &str)] = &[
            // An 18-digit identity number stored as a number: digits are gone, show it.
            (440118198001010000.0, "4.40118E+17"),
            (440118198001011234.0, "4.40118E+17"),
            (123456789012345678.0, "1.23457E+17"),
            (440000000000000000.0, "4.4E+17"),
            (999999960000000000.0, "1E+18"),
            (1e15, "1E+15"),
            (-440118198001010000.0, "-4.4012E+17"),
            (1.2345678e100, "1.2346E+100"),
            // An old 15-digit identity number survives a float exactly.
            (440183800101001.0, "440183800101001"),
            (999999999999999.0, "999999999999999"),
            (42.0, "42"),
            (-3.0, "-3"),
            (0.0, "0"),
            (-0.0, "0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-2.25, "-2.25"),
            (1234.5678, "1234.5678"),
        ];
        for &(n, want) in cases {
            assert_eq!(general_number(n), want, "{n:e}");
            assert_eq!(Cell::Number(n).text(), want);
        }
    }

    #[test]
    fn dates_and_other_cells_render() {
        let date = CellDate { year: 1980, month: 1, day: 5, hour: 0, minute: 0, second: 0 };
        assert_eq!(Cell::Date(date).text(), "1980-01-05");
        let datetime = CellDate { hour: 13, minute: 4, second: 5, ..date };
        assert_eq!(Cell::Date(datetime).text(), "1980-01-05 13:04:05");
        assert_eq!(Cell::Bool(true).text(), "TRUE");
        assert_eq!(Cell::Empty.text(), "");
        assert_eq!(Cell::Error("#N/A".into()).text(), "#N/A");
        assert_eq!(iso_date("2024-03-01T00:00:00"), "2024-03-01");
        assert_eq!(iso_date("2024-03-01T08:30:00Z"), "2024-03-01 08:30:00");
        let serial = ExcelDateTime::new(29225.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(excel_date(&serial).text(), "1980-01-05");
    }

    #[test]
    fn encoding_detection_tolerates_a_character_cut_at_the_boundary() {
        let text = "公民身份号码,姓名\n".repeat(10);
        let bytes = text.as_bytes();
        // Cut in the middle of a 3-byte character.
        let cut = &bytes[..bytes.len() - 2 - 3];
        assert!(std::str::from_utf8(cut).is_err());
        assert_eq!(detect_encoding(cut), Encoding::Utf8);
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        assert_eq!(detect_encoding(&gbk), Encoding::Gb18030);
        assert_eq!(detect_encoding(b"plain,ascii\n"), Encoding::Utf8);
    }

    #[test]
    fn row_reuses_and_fills_gaps() {
        let mut row = Row::new();
        row.set_text(2, "x");
        assert_eq!(row.cells(), &[Cell::Empty, Cell::Empty, Cell::Text("x".into())]);
        assert_eq!(row.text(5), "");
        row.clear();
        assert!(row.is_empty());
        assert_eq!(row.spare.len(), 1);
        row.push_text("y");
        assert!(row.spare.is_empty());
        assert_eq!(row.text(0), "y");
    }

    #[test]
    fn serde_names() {
        let spec: SourceSpec =
            serde_json::from_str(r#"{"path": "a.csv", "format": "csv", "encoding": "gbk", "header_row": 2}"#).unwrap();
        assert_eq!(spec.format, Some(Format::Csv));
        assert_eq!(spec.encoding, Some(Encoding::Gbk));
        assert_eq!(spec.header_row, Some(2));
        assert_eq!(spec.sheet, None);
        for (name, encoding) in [("utf-8", Encoding::Utf8), ("gb18030", Encoding::Gb18030), ("utf8", Encoding::Utf8)] {
            let parsed: Encoding = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(parsed, encoding);
        }
        let parsed: Format = serde_json::from_str("\"xlsx\"").unwrap();
        assert_eq!(parsed, Format::Xlsx);
    }
}
