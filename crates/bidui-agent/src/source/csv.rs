//! The CSV reader: encoding detection (UTF-8 with or without BOM, GBK, GB18030) and records
//! parsed by `csv-core` from a 64 KiB buffer, each bounded in bytes, fields and lines.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use bidui_i18n::Said;
use csv_core::ReadRecordResult;

use super::{finish_headers, Cell, Encoding, Row, RowError, RowReason, SourceError, BUF_LEN, UTF8_BOM};

/// A CSV record longer than this is reported and skipped (an unclosed quote, mostly).
const MAX_RECORD_BYTES: usize = 1 << 20;
/// A CSV record with more fields than this is reported and skipped (Excel's column limit).
const MAX_FIELDS: usize = 16_384;
/// A CSV record whose fields hold more line breaks than this is reported, not returned: an
/// unclosed quote that swallowed lines up to the end of the file or to the next quote.
const MAX_RECORD_LINES: u64 = 100;

/// Where the parser's UTF-8 bytes come from.
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

/// The outcome of parsing one record.
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

/// The records of a CSV file as rows: the input (decoded when not UTF-8), the `csv-core`
/// parser and the buffers of the current record.
pub(super) struct CsvRows {
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
    pub(super) bytes_read: u64,
}

impl CsvRows {
    pub(super) fn open(
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
                reason: Said::new(|| bidui_i18n::t!("source-unsupported-utf16")),
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
            |reason: Said| SourceError::Header { path: path.to_path_buf(), sheet: None, header_row, reason };
        loop {
            match csv.next_record() {
                Record::End => {
                    let rows = csv.records;
                    return Err(header_error(Said::new(|| bidui_i18n::t!("source-header-few-rows", rows = rows))));
                }
                Record::Io(source) => return Err(SourceError::Read { path: path.to_path_buf(), source }),
                Record::Overlong { first_line, .. } | Record::ManyLines { first_line, .. } => {
                    csv.records += 1;
                    if csv.records == u64::from(header_row) {
                        return Err(header_error(Said::new(|| {
                            bidui_i18n::t!(
                                "source-header-not-csv",
                                first_line = first_line,
                                max_fields = MAX_FIELDS,
                                max_lines = MAX_RECORD_LINES
                            )
                        })));
                    }
                }
                Record::Complete { bytes, fields } => {
                    csv.records += 1;
                    if csv.records < u64::from(header_row) {
                        continue;
                    }
                    let content = &csv.out[..bytes];
                    let invalid = || {
                        header_error(Said::new(|| match (encoding, detected) {
                            (Encoding::Utf8, false) => bidui_i18n::t!("source-header-not-utf8-declared"),
                            (Encoding::Utf8, true) => bidui_i18n::t!("source-header-not-utf8"),
                            (other, _) => bidui_i18n::t!("source-header-not-encoding", encoding = other),
                        }))
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
                        return Err(header_error(Said::new(|| bidui_i18n::t!("source-header-empty"))));
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

    pub(super) fn next_row(&mut self, row: &mut Row) -> Option<Result<(), RowError>> {
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

    pub(super) fn next_cells(
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
                    return Some(Err(RowError { row: number, reason: RowReason::FileUnreadable(e.to_string()) }));
                }
                Record::Overlong { first_line, skipped_to_line } => {
                    let reason = RowReason::Overlong { first_line, skipped_to_line, max_fields: MAX_FIELDS };
                    return Some(Err(RowError { row: number, reason }));
                }
                Record::ManyLines { first_line, last_line } => {
                    let reason = RowReason::ManyLines { first_line, last_line, max_lines: MAX_RECORD_LINES };
                    return Some(Err(RowError { row: number, reason }));
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
        let (first_line, last_line) = self.record_lines(bytes);
        let reason = RowReason::NotText { first_line, last_line, encoding: self.encoding, detected: self.detected };
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
