//! Streaming writers: CSV in UTF-8 (with or without BOM), GBK or GB18030, and xlsx.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use encoding_rs::{Encoder, EncoderResult};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

use crate::idgen::{number_cell_text, Cell};

/// A file's character encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    Utf8Bom,
    Gbk,
    Gb18030,
}

pub(crate) trait Sink {
    fn header(&mut self, columns: &[&str]) -> anyhow::Result<()>;
    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()>;
    /// Finishes the file; returns its size in bytes.
    fn finish(self) -> anyhow::Result<u64>;
}

/// Transcodes UTF-8 written to it into a legacy encoding; refuses characters the encoding
/// lacks (the generator only writes encodable text, so this is a bug check).
struct Transcoder<W: Write> {
    inner: W,
    encoder: Option<Encoder>,
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl<W: Write> Transcoder<W> {
    fn drain(&mut self, last: bool) -> io::Result<()> {
        let Some(encoder) = self.encoder.as_mut() else { return Ok(()) };
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&self.pending[..valid]).expect("valid prefix");
        self.out.clear();
        let needed = encoder.max_buffer_length_from_utf8_without_replacement(text.len()).unwrap_or(text.len() * 4 + 16);
        self.out.reserve(needed);
        let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(text, &mut self.out, last);
        match result {
            EncoderResult::InputEmpty => {}
            EncoderResult::Unmappable(c) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{c:?} (U+{:04X}) cannot be encoded", c as u32),
                ));
            }
            EncoderResult::OutputFull => unreachable!("buffer was sized for the worst case"),
        }
        self.inner.write_all(&self.out)?;
        self.pending.drain(..read);
        Ok(())
    }
}

impl<W: Write> Write for Transcoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.encoder.is_none() {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= 1 << 16 {
            self.drain(false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain(false)?;
        self.inner.flush()
    }
}

pub(crate) struct CsvSink {
    writer: csv::Writer<Transcoder<BufWriter<File>>>,
    path: PathBuf,
    fields: Vec<String>,
}

impl CsvSink {
    pub fn create(path: &Path, encoding: Encoding) -> anyhow::Result<CsvSink> {
        let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
        let mut inner = BufWriter::with_capacity(1 << 20, file);
        let encoder = match encoding {
            Encoding::Utf8 => None,
            Encoding::Utf8Bom => {
                inner.write_all("\u{FEFF}".as_bytes())?;
                None
            }
            Encoding::Gbk => Some(encoding_rs::GBK.new_encoder()),
            Encoding::Gb18030 => Some(encoding_rs::GB18030.new_encoder()),
        };
        // Exports from Windows systems end lines with CRLF; the UTF-8 one (from a Linux
        // database export) with LF.
        let terminator = if encoding == Encoding::Utf8 { csv::Terminator::Any(b'\n') } else { csv::Terminator::CRLF };
        let writer = csv::WriterBuilder::new().terminator(terminator).from_writer(Transcoder {
            inner,
            encoder,
            pending: Vec::new(),
            out: Vec::new(),
        });
        Ok(CsvSink { writer, path: path.to_owned(), fields: Vec::new() })
    }
}

impl Sink for CsvSink {
    fn header(&mut self, columns: &[&str]) -> anyhow::Result<()> {
        self.writer.write_record(columns)?;
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()> {
        self.fields.clear();
        for cell in cells {
            self.fields.push(match cell {
                Cell::Text(t) => t.clone(),
                Cell::Number(v) => number_cell_text(*v),
            });
        }
        self.writer.write_record(&self.fields).with_context(|| format!("write {}", self.path.display()))?;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<u64> {
        let mut transcoder =
            self.writer.into_inner().map_err(|e| anyhow::anyhow!("flush {}: {}", self.path.display(), e.error()))?;
        transcoder.drain(true)?;
        transcoder.inner.flush()?;
        drop(transcoder);
        Ok(std::fs::metadata(&self.path)?.len())
    }
}

/// The fixed creation time written into every workbook, so output is byte-identical.
fn creation_time() -> ExcelDateTime {
    ExcelDateTime::from_ymd(2019, 4, 19).and_then(|d| d.and_hms(9, 0, 0)).expect("valid date")
}

pub(crate) struct XlsxSink {
    workbook: Workbook,
    path: PathBuf,
    row: u32,
    bold: Format,
}

impl XlsxSink {
    /// `streaming`: rows go to a temporary file as they are written (rust_xlsxwriter's
    /// constant-memory mode, inline strings) instead of staying in memory with a shared
    /// string table.
    pub fn create(path: &Path, sheet: &str, author: &str, streaming: bool) -> anyhow::Result<XlsxSink> {
        let mut workbook = Workbook::new();
        let properties = DocProperties::new().set_author(author).set_creation_datetime(&creation_time());
        workbook.set_properties(&properties);
        let worksheet =
            if streaming { workbook.add_worksheet_with_constant_memory()? } else { workbook.add_worksheet() };
        worksheet.set_name(sheet)?;
        Ok(XlsxSink { workbook, path: path.to_owned(), row: 0, bold: Format::new().set_bold() })
    }
}

impl Sink for XlsxSink {
    fn header(&mut self, columns: &[&str]) -> anyhow::Result<()> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (c, name) in columns.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *name, &self.bold)?;
            let width = match *name {
                "姓名" | "性别" | "序号" | "状态" => 10.0,
                "户籍地址" | "房屋地址" | "参保单位" | "主要诉求" => 40.0,
                _ => 20.0,
            };
            sheet.set_column_width(c as u16, width)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        self.row = 1;
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (c, cell) in cells.iter().enumerate() {
            match cell {
                Cell::Text(t) if t.is_empty() => {}
                Cell::Text(t) => {
                    sheet.write_string(self.row, c as u16, t)?;
                }
                Cell::Number(v) => {
                    sheet.write_number(self.row, c as u16, *v)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<u64> {
        self.workbook.save(&self.path).with_context(|| format!("write {}", self.path.display()))?;
        Ok(std::fs::metadata(&self.path)?.len())
    }
}
