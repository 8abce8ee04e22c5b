//! Streaming readers of a department's export: CSV (UTF-8, GBK or GB18030), .xlsx and .xls.
//!
//! A [`Source`] yields the data rows of one table with their row numbers, one at a time, so
//! memory stays bounded whatever the file size. Each format has its reader:
//!
//! - `csv`: parsed with `csv-core` straight from a 64 KiB buffer: no decoding layer for
//!   UTF-8 (the hot path), an `encoding_rs` decoder for GBK/GB18030. A record longer than
//!   1 MiB (typically a quote that is never closed) is reported and skipped instead of
//!   swallowing the rest of the file.
//! - `xlsx`: streamed cell by cell by our own reader (`zip` entries through a pull XML
//!   parser whose buffer is capped) on a helper thread, which assembles rows and hands them
//!   over in batches bounded in rows and bytes. Cells come out as calamine 0.38's cell
//!   reader gives them (a differential test holds the two equal). The shared-strings table
//!   is kept whole, as the format requires, up to 256 MiB of text; a cell reference beyond
//!   Excel's last column or row, a text beyond 32,767 characters or a row beyond 4 MiB of
//!   text stops reading with an error instead of taking memory.
//! - `xls` (at most 65,536 rows by the format): loaded one sheet at a time.
//!
//! Row numbers are 1-based *data* row numbers: the first row after the header is 1. For a
//! workbook, number = sheet row − header row; for CSV, number = record index − header row,
//! where records are what `csv-core` yields (a quoted field may span lines; blank lines are
//! not records). Rows whose cells are all empty are skipped, but keep their number, so a
//! number is stable across runs over the same file and can serve as an opaque record
//! reference.
//!
//! A cell keeps its type from a workbook; [`Cell::text`] renders it as a person would see it
//! in Excel's General format (`cell`). In particular a number of 10¹⁵ or more renders in
//! scientific notation (`4.40118E+17`): an identity number stored as a number has lost
//! digits, and downstream validation must see that rather than a silently "repaired" number.

mod cell;
mod csv;
mod xls;
mod xlsx;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bidui_i18n::Said;
use calamine::DataType;
use serde::{Deserialize, Serialize};

use self::cell::WorkbookCell;
pub use self::cell::{general_number, Cell, CellDate};
use self::csv::CsvRows;
use self::xls::XlsRows;
use self::xlsx::XlsxRows;

/// Size of the CSV read buffer and of the prefix used to sniff format and encoding.
const BUF_LEN: usize = 64 * 1024;
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
    #[error("{}", bidui_i18n::t!("source-error-open", path = .path.display(), source = .source))]
    Open { path: PathBuf, source: io::Error },
    #[error("{}", bidui_i18n::t!("source-error-read", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: io::Error },
    #[error("{}", bidui_i18n::t!("source-error-unknown-format", path = .path.display()))]
    UnknownFormat { path: PathBuf },
    #[error("{}: {reason}", .path.display())]
    Unsupported { path: PathBuf, reason: Said },
    #[error("{}", bidui_i18n::t!("source-error-workbook", path = .path.display(), reason = .reason))]
    Workbook { path: PathBuf, reason: Said },
    #[error(
        "{}",
        bidui_i18n::t!("source-error-no-such-sheet", path = .path.display(), sheet = .sheet, sheets = quoted_list(.available))
    )]
    NoSuchSheet { path: PathBuf, sheet: String, available: Vec<String> },
    #[error("{}", bidui_i18n::t!("source-error-bad-header-row", path = .path.display()))]
    BadHeaderRow { path: PathBuf },
    #[error(
        "{}",
        bidui_i18n::t!(
            "source-error-header",
            header_row = .header_row,
            place = place(.path, .sheet.as_deref()),
            reason = .reason
        )
    )]
    Header { path: PathBuf, sheet: Option<String>, header_row: u32, reason: Said },
    #[error(
        "{}",
        bidui_i18n::t!(
            "source-error-column-not-found",
            column = .column,
            place = place(.path, .sheet.as_deref()),
            headers = quoted_list(.available)
        )
    )]
    ColumnNotFound { path: PathBuf, sheet: Option<String>, column: String, available: Vec<String> },
    #[error(
        "{}",
        bidui_i18n::t!(
            "source-error-duplicate-column",
            column = .column,
            place = place(.path, .sheet.as_deref()),
            first = .first,
            second = .second
        )
    )]
    DuplicateColumn { path: PathBuf, sheet: Option<String>, column: String, first: usize, second: usize },
}

fn place(path: &Path, sheet: Option<&str>) -> String {
    match sheet {
        Some(sheet) => bidui_i18n::t!("source-place-sheet", path = path.display(), sheet = sheet),
        None => path.display().to_string(),
    }
}

fn quoted_list(items: &[String]) -> String {
    if items.is_empty() {
        return bidui_i18n::t!("none");
    }
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

/// A row that could not be read. Reading goes on with the next row unless the reason
/// [stops reading](RowReason::stops_reading).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", bidui_i18n::t!("source-row-error", row = .row, reason = .reason))]
pub struct RowError {
    /// 1-based data row number, as in [`Row::number`].
    pub row: u32,
    pub reason: RowReason,
}

/// Why a row could not be read. A person reads it (`agent check`, the local
/// `invalid-rows.csv`, the town workbooks' 名册此行无法读取), so it prints through the
/// catalogue (`source-row-…`) in the reader's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowReason {
    /// Reading the file failed, as the operating system says it; reading stopped.
    FileUnreadable(String),
    /// A record longer than 1 MiB or wider than `max_fields` fields, skipped up to the
    /// next line: a quote never closed, most likely.
    Overlong { first_line: u64, skipped_to_line: u64, max_fields: usize },
    /// A record over more than `max_lines` lines: a quote never closed, most likely.
    ManyLines { first_line: u64, last_line: u64, max_lines: u64 },
    /// Bytes that are not text in `encoding`; `detected` when the encoding was taken from
    /// the file's first bytes rather than declared.
    NotText { first_line: u64, last_line: u64, encoding: Encoding, detected: bool },
    /// The xlsx reader's thread ended without a word; reading stopped.
    ReaderStopped,
    /// The sheet is damaged at this row (the workbook reader's words); reading stopped.
    DamagedSheet(Said),
    /// A row holding more than `mebibytes` MiB of text; reading stopped.
    RowTooLong { mebibytes: usize },
}

impl RowReason {
    /// Whether no row is read after this one.
    pub fn stops_reading(&self) -> bool {
        matches!(
            self,
            RowReason::FileUnreadable(_)
                | RowReason::ReaderStopped
                | RowReason::DamagedSheet(_)
                | RowReason::RowTooLong { .. }
        )
    }
}

impl std::fmt::Display for RowReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use bidui_i18n::t;
        let lines = |first: u64, last: u64| match first == last {
            true => t!("source-lines-one", line = last),
            false => t!("source-lines-range", first = first, last = last),
        };
        f.write_str(&match self {
            RowReason::FileUnreadable(error) => t!("source-row-file-unreadable", error = error),
            RowReason::Overlong { first_line, skipped_to_line, max_fields } => t!(
                "source-row-overlong",
                first_line = first_line,
                skipped_to_line = skipped_to_line,
                max_fields = max_fields
            ),
            RowReason::ManyLines { first_line, last_line, max_lines } => {
                t!("source-row-many-lines", first_line = first_line, last_line = last_line, max_lines = max_lines)
            }
            RowReason::NotText { first_line, last_line, encoding: Encoding::Utf8, detected: true } => {
                t!("source-row-not-utf8-detected", lines = lines(*first_line, *last_line))
            }
            RowReason::NotText { first_line, last_line, encoding: Encoding::Utf8, detected: false } => {
                t!("source-row-not-utf8-declared", lines = lines(*first_line, *last_line))
            }
            RowReason::NotText { first_line, last_line, encoding, .. } => {
                t!("source-row-not-encoding", lines = lines(*first_line, *last_line), encoding = encoding)
            }
            RowReason::ReaderStopped => t!("source-row-reader-stopped"),
            RowReason::DamagedSheet(error) => t!("source-row-damaged-sheet", error = error),
            RowReason::RowTooLong { mebibytes } => t!("source-row-too-long", mebibytes = mebibytes),
        })
    }
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

    /// Bytes of buffers the row keeps for reuse (cell slots and spare strings).
    fn retained_bytes(&self) -> usize {
        self.cells.capacity() * std::mem::size_of::<Cell>() + self.spare.iter().map(String::capacity).sum::<usize>()
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
            // Cells mostly come in order: a gap to fill is rare.
            if column > self.cells.len() {
                self.cells.resize(column, Cell::Empty);
            }
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

    /// Sets the cell at `column` from a workbook value of either calamine cell type; text
    /// goes into a reused buffer.
    fn set_workbook_value(&mut self, column: usize, value: &impl DataType) {
        match WorkbookCell::of(value) {
            WorkbookCell::Text(text) => self.set_text(column, text),
            WorkbookCell::Other(cell) => self.set(column, cell),
        }
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
        let (encoding, sheet, headers, inner) = match format {
            Format::Csv => {
                let (csv, encoding, headers) = CsvRows::open(&path, file, head, eof, spec.encoding, header_row)?;
                (Some(encoding), None, headers, Inner::Csv(Box::new(csv)))
            }
            Format::Xlsx => {
                file.seek(SeekFrom::Start(0)).map_err(|source| SourceError::Read { path: path.clone(), source })?;
                let (xlsx, sheet, headers) = XlsxRows::open(&path, file, spec.sheet.as_deref(), header_row)?;
                (None, Some(sheet), headers, Inner::Xlsx(xlsx))
            }
            Format::Xls => {
                file.seek(SeekFrom::Start(0)).map_err(|source| SourceError::Read { path: path.clone(), source })?;
                let (xls, sheet, headers) =
                    XlsRows::open(&path, file, spec.sheet.as_deref(), header_row, total_bytes.unwrap_or(0))?;
                (None, Some(sheet), headers, Inner::Xls(xls))
            }
        };
        Ok(Source { path, format, encoding, sheet, headers, total_bytes, inner, workbook_row: Row::new() })
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
            Inner::Xlsx(xlsx) => xlsx.bytes_read(self.total_bytes),
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
            let reason = match first == Some(&b'<') {
                true => Said::new(|| bidui_i18n::t!("source-unsupported-web-page")),
                false => Said::new(|| bidui_i18n::t!("source-unsupported-not-excel")),
            };
            Err(SourceError::Unsupported { path: path.to_path_buf(), reason })
        }
        Some(Format::Csv) => Ok(Format::Csv),
        None => Err(SourceError::UnknownFormat { path: path.to_path_buf() }),
    }
}

// Shared by the two workbook readers.

fn workbook_error(path: &Path, error: impl fmt::Display) -> SourceError {
    let reason = Said::new(|| error.to_string());
    // The workbook libraries say a password in English.
    if reason.in_lang(bidui_i18n::Lang::En).to_ascii_lowercase().contains("password") {
        return SourceError::Unsupported {
            path: path.to_path_buf(),
            reason: Said::new(|| bidui_i18n::t!("source-unsupported-password")),
        };
    }
    SourceError::Workbook { path: path.to_path_buf(), reason }
}

/// The requested sheet, or the first worksheet, among the workbook's sheets given as (name,
/// whether it is a worksheet rather than a chart or dialog sheet).
fn choose_sheet(path: &Path, requested: Option<&str>, sheets: &[(&str, bool)]) -> Result<String, SourceError> {
    let available: Vec<String> = sheets.iter().map(|(name, _)| name.to_string()).collect();
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
        None => sheets
            .iter()
            .find(|(_, worksheet)| *worksheet)
            .or(sheets.first())
            .map(|(name, _)| name.to_string())
            .ok_or_else(|| SourceError::Workbook {
                path: path.to_path_buf(),
                reason: Said::new(|| bidui_i18n::t!("source-workbook-no-sheet")),
            }),
    }
}

/// The header row's cells as texts, trimmed, trailing empty ones dropped.
fn header_texts(row: &Row) -> Vec<String> {
    finish_headers(row.cells.iter().map(|c| c.text().into_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
