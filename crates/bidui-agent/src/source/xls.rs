//! The .xls reader: one sheet loaded whole (the format holds at most 65,536 rows).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use bidui_i18n::Said;
use calamine::{Data, DataType, Reader as _, Xls};

use super::{choose_sheet, header_texts, workbook_error, Row, RowError, SourceError, BUF_LEN};

/// The data rows of one loaded .xls sheet, read in order.
pub(super) struct XlsRows {
    range: calamine::Range<Data>,
    /// Next absolute (0-based) sheet row to read.
    next: u32,
    header_index: u32,
    total_bytes: u64,
}

impl XlsRows {
    pub(super) fn open(
        path: &Path,
        file: File,
        requested: Option<&str>,
        header_row: u32,
        total_bytes: u64,
    ) -> Result<(XlsRows, String, Vec<String>), SourceError> {
        let mut book: Xls<_> = calamine::open_workbook_from_rs(BufReader::with_capacity(BUF_LEN, file))
            .map_err(|e| workbook_error(path, e))?;
        let sheets: Vec<(&str, bool)> =
            book.sheets_metadata().iter().map(|s| (s.name.as_str(), s.typ == calamine::SheetType::WorkSheet)).collect();
        let sheet = choose_sheet(path, requested, &sheets)?;
        let range = book.worksheet_range(&sheet).map_err(|e| workbook_error(path, e))?;
        let header_index = header_row - 1;
        let mut header = Row::new();
        if let (Some(_), Some((_, last_col))) = (range.start(), range.end()) {
            for c in 0..=last_col {
                if let Some(value) = range.get_value((header_index, c)) {
                    header.set_workbook_value(c as usize, value);
                }
            }
        }
        let headers = header_texts(&header);
        if headers.is_empty() {
            let reason = Said::new(|| match range.end() {
                Some((last_row, _)) if last_row < header_index => {
                    bidui_i18n::t!("source-header-sheet-few-rows", rows = last_row + 1)
                }
                None => bidui_i18n::t!("source-header-sheet-empty"),
                Some(_) => bidui_i18n::t!("source-header-empty"),
            });
            return Err(SourceError::Header { path: path.to_path_buf(), sheet: Some(sheet), header_row, reason });
        }
        let rows = XlsRows { range, next: header_index + 1, header_index, total_bytes };
        Ok((rows, sheet, headers))
    }

    pub(super) fn next_row(&mut self, row: &mut Row) -> Option<Result<(), RowError>> {
        let (first_row, first_col) = self.range.start()?;
        let (last_row, last_col) = self.range.end()?;
        while self.next <= last_row {
            let r = self.next.max(first_row);
            self.next = r + 1;
            row.clear();
            row.number = r - self.header_index;
            for c in first_col..=last_col {
                if let Some(value) = self.range.get_value((r, c)) {
                    if !value.is_empty() {
                        row.set_workbook_value(c as usize, value);
                    }
                }
            }
            if !row.is_blank() {
                return Some(Ok(()));
            }
        }
        None
    }

    pub(super) fn bytes_read(&self) -> u64 {
        match (self.range.start(), self.range.end()) {
            (Some((first, _)), Some((last, _))) if last >= first => {
                let done = u64::from(self.next.saturating_sub(first).min(last - first + 1));
                self.total_bytes * done / u64::from(last - first + 1)
            }
            _ => self.total_bytes,
        }
    }
}
