//! The .xlsx reader: our own streaming reader of the package (`book`, over the capped XML
//! parser `xml`) on a helper thread that owns the workbook, assembles rows and hands them
//! over in batches. Memory stays bounded whatever the file says: see `book` for the limits
//! of the parts, and [`MAX_ROW_TEXT`] and [`BATCH_BYTES`] for the rows in flight.

mod book;
#[cfg(test)]
mod tests;
mod xml;

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread;

use bidui_i18n::Said;
use calamine::DataRef;

use self::book::Workbook;
use super::{choose_sheet, header_texts, workbook_error, Row, RowError, RowReason, SourceError, BUF_LEN, OLE_MAGIC};

/// Rows per batch handed over by the xlsx reader thread.
const XLSX_BATCH: usize = 256;
/// Bytes of cells (text and cell slots) after which a batch is handed over before it has
/// [`XLSX_BATCH`] rows, so that wide or text-heavy rows do not multiply the memory in flight.
const BATCH_BYTES: usize = 1024 * 1024;
/// Text a row may hold. A department's row holds a few hundred bytes; without a limit a
/// small file could fill a row with 16,384 references to one 32,767-character shared string
/// (about 1.6 GB).
const MAX_ROW_TEXT: usize = 4 * 1024 * 1024;
/// A recycled row keeping more buffer capacity than this is dropped rather than reused.
const MAX_RECYCLED_ROW_BYTES: usize = 64 * 1024;
/// Batches in flight between the xlsx reader thread and the consumer. Two keep both busy;
/// more only spread the rows being filled and read over memory that has left the cache
/// (with 8, writing and clearing rows took about a fifth of the reader's time on one core).
const XLSX_QUEUE: usize = 2;

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

/// What the reader thread sends: the headers (or why there are none) first, then rows.
enum XlsxMsg {
    Headers(Vec<String>),
    /// The sheet could not be read up to its header.
    OpenFailed(SourceError),
    Rows(Vec<Row>),
    /// The sheet is damaged: reading stops after this.
    Fatal(RowError),
    Done,
}

/// The consumer's end of the reader thread: batches of rows received, emptied batches sent
/// back for reuse.
pub(super) struct XlsxRows {
    rx: Receiver<XlsxMsg>,
    recycle: Sender<Vec<Row>>,
    batch: Vec<Row>,
    next: usize,
    done: bool,
    last_number: u32,
    progress: Arc<AtomicU64>,
}

type XlsxBook = Workbook<BufReader<CountingFile>>;

impl XlsxRows {
    pub(super) fn open(
        path: &Path,
        file: File,
        requested: Option<&str>,
        header_row: u32,
    ) -> Result<(XlsxRows, String, Vec<String>), SourceError> {
        let mut file = file;
        let mut magic = [0; 8];
        if file.read_exact(&mut magic).is_ok() && magic[..] == *OLE_MAGIC {
            // An encrypted .xlsx is an OLE file: let calamine tell whether it holds an
            // encrypted package, so that the message says "password".
            let error = match calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(BufReader::new(file)) {
                Err(e) => e.to_string(),
                Ok(_) => "the file is an OLE file, not an .xlsx package".to_string(),
            };
            return Err(workbook_error(path, error));
        }
        file.seek(SeekFrom::Start(0)).map_err(|source| SourceError::Read { path: path.to_path_buf(), source })?;
        let progress = Arc::new(AtomicU64::new(0));
        let counting = CountingFile { file, position: 0, shared: Arc::clone(&progress) };
        let book: XlsxBook =
            Workbook::open(BufReader::with_capacity(BUF_LEN, counting)).map_err(|e| workbook_error(path, e))?;
        let sheets: Vec<(&str, bool)> = book.sheets.iter().map(|s| (s.name.as_str(), s.worksheet)).collect();
        let sheet = choose_sheet(path, requested, &sheets)?;
        let (tx, rx) = mpsc::sync_channel(XLSX_QUEUE);
        let (recycle, recycled) = mpsc::channel();
        let worker_path = path.to_path_buf();
        let worker_sheet = sheet.clone();
        thread::Builder::new()
            .name("bidui-xlsx".to_string())
            .spawn(move || xlsx_worker(book, &worker_path, &worker_sheet, header_row, &tx, &recycled))
            .map_err(|e| SourceError::Workbook {
                path: path.to_path_buf(),
                reason: Said::new(|| format!("cannot start a reader thread: {e}")),
            })?;
        let headers = match rx.recv() {
            Ok(XlsxMsg::Headers(headers)) => headers,
            Ok(XlsxMsg::OpenFailed(error)) => return Err(error),
            _ => {
                return Err(SourceError::Workbook {
                    path: path.to_path_buf(),
                    reason: Said::new(|| format!("the reader of sheet \"{sheet}\" stopped unexpectedly")),
                })
            }
        };
        let rows = XlsxRows { rx, recycle, batch: Vec::new(), next: 0, done: false, last_number: 0, progress };
        Ok((rows, sheet, headers))
    }

    pub(super) fn next_row(&mut self, row: &mut Row) -> Option<Result<(), RowError>> {
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
                        reason: RowReason::ReaderStopped,
                    }));
                }
            }
        }
    }

    /// The position in the compressed file (an approximation of progress); the whole file
    /// once the sheet has been read.
    pub(super) fn bytes_read(&self, total_bytes: Option<u64>) -> u64 {
        if self.done {
            total_bytes.unwrap_or(0)
        } else {
            self.progress.load(Ordering::Relaxed)
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
    let header_error = |reason: Said| SourceError::Header {
        path: path.to_path_buf(),
        sheet: Some(sheet.to_string()),
        header_row,
        reason,
    };
    let header_index = header_row - 1; // 0-based sheet row
    let mut cells = match book.cells(sheet) {
        Ok(cells) => cells,
        Err(e) => {
            let _ = tx.send(XlsxMsg::OpenFailed(workbook_error(path, e)));
            return;
        }
    };
    let mut header = Row::new();
    let mut headers_sent = false;
    let mut current: Option<(u32, Row)> = None;
    // Text in the row being assembled, and bytes in the batch being filled.
    let mut row_text = 0usize;
    let mut header_text = 0usize;
    let mut batch_bytes = 0usize;
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
            let _ = tx.send(XlsxMsg::OpenFailed(header_error(Said::new(|| bidui_i18n::t!("source-header-empty")))));
            return false;
        }
        tx.send(XlsxMsg::Headers(headers)).is_ok()
    };
    // Moves a finished row into the batch, and sends the batch when full.
    let flush = |finished: Option<(u32, Row)>,
                 row_text: usize,
                 batch: &mut Vec<Row>,
                 batch_bytes: &mut usize,
                 pool: &mut Vec<Row>|
     -> bool {
        if let Some((_, row)) = finished {
            if row.is_blank() {
                pool.push(row);
            } else {
                *batch_bytes += row_text + row.len() * std::mem::size_of::<super::Cell>();
                batch.push(row);
            }
        }
        if batch.len() >= XLSX_BATCH || *batch_bytes >= BATCH_BYTES {
            *batch_bytes = 0;
            let full = std::mem::replace(batch, Vec::with_capacity(XLSX_BATCH));
            if tx.send(XlsxMsg::Rows(full)).is_err() {
                return false;
            }
        }
        true
    };
    // Reports a damaged sheet: the rows read so far, then the error at the row being read.
    let fatal = |reason: RowReason, number: u32, batch: Vec<Row>| {
        if !batch.is_empty() && tx.send(XlsxMsg::Rows(batch)).is_err() {
            return;
        }
        let _ = tx.send(XlsxMsg::Fatal(RowError { row: number, reason }));
    };

    loop {
        let (r, c, value) = match cells.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => {
                // Damage below a complete header row is the data's, not the header's.
                if !headers_sent
                    && (cells.row_being_read() <= header_index || !send_headers(&header, &mut headers_sent))
                {
                    if !headers_sent {
                        let _ = tx.send(XlsxMsg::OpenFailed(header_error(Said::new(|| {
                            bidui_i18n::t!("source-header-damaged", error = e)
                        }))));
                    }
                    return;
                }
                // The row being assembled is incomplete: report it rather than send it. A row
                // whose sheet row has ended is complete (calamine's reader could not tell).
                let sheet_row = cells.row_being_read();
                let mut batch = batch;
                let number = match current.take() {
                    Some((r, row)) if sheet_row > r => {
                        if !row.is_blank() {
                            batch.push(row);
                        }
                        sheet_row - header_index
                    }
                    Some((_, row)) => row.number,
                    None => sheet_row.saturating_sub(header_index).max(last_number.saturating_add(1)),
                };
                fatal(RowReason::DamagedSheet(Said::new(|| e.to_string())), number, batch);
                return;
            }
        };
        let column = c as usize;
        if r < header_index {
            continue;
        }
        let text = match &value {
            DataRef::SharedString(s) => s.len(),
            DataRef::DateTimeIso(s) => s.len(),
            _ => 0,
        };
        if r == header_index {
            header.set_workbook_value(column, &value);
            header_text += text;
            if header_text > MAX_ROW_TEXT {
                let reason = Said::new(|| bidui_i18n::t!("source-header-too-long", mebibytes = MAX_ROW_TEXT >> 20));
                let _ = tx.send(XlsxMsg::OpenFailed(header_error(reason)));
                return;
            }
            continue;
        }
        if !send_headers(&header, &mut headers_sent) {
            return;
        }
        match &mut current {
            Some((current_r, row)) if *current_r == r => {
                row.set_workbook_value(column, &value);
                row_text += text;
                if row_text > MAX_ROW_TEXT {
                    fatal(RowReason::RowTooLong { mebibytes: MAX_ROW_TEXT >> 20 }, row.number, batch);
                    return;
                }
            }
            _ => {
                if pool.is_empty() {
                    while let Ok(rows) = recycled.try_recv() {
                        // A row that held a wide or long row keeps its capacity: let it go.
                        pool.extend(rows.into_iter().filter(|row| row.retained_bytes() <= MAX_RECYCLED_ROW_BYTES));
                        if pool.len() >= XLSX_BATCH {
                            break;
                        }
                    }
                }
                let mut row = pool.pop().unwrap_or_default();
                row.clear();
                row.number = r - header_index;
                last_number = row.number;
                row.set_workbook_value(column, &value);
                let finished_text = std::mem::replace(&mut row_text, text);
                if !flush(current.replace((r, row)), finished_text, &mut batch, &mut batch_bytes, &mut pool) {
                    return;
                }
            }
        }
    }
    if !send_headers(&header, &mut headers_sent) {
        return;
    }
    let _ = flush(current.take(), row_text, &mut batch, &mut batch_bytes, &mut pool);
    if !batch.is_empty() && tx.send(XlsxMsg::Rows(batch)).is_err() {
        return;
    }
    let _ = tx.send(XlsxMsg::Done);
}
