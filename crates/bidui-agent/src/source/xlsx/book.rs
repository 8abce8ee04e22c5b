//! The parts of an .xlsx package the reader needs, read the way calamine 0.38 reads them so
//! that a cell comes out the same: the package and workbook relationships, the workbook
//! (sheets, 1904 date system), the styles (which number formats are dates or durations),
//! the shared strings, and a worksheet's cells one at a time.
//!
//! Nothing is allocated from a size the file states: zip entries are streamed through the
//! capped XML reader, and what is kept (shared strings, styles, sheets) has explicit limits.
//!
//! Deliberate differences from calamine, all on files calamine refuses or on limits it does
//! not have: the worksheet's `<dimension>` and the styles' fonts, fills and borders are not
//! read (calamine fails on a malformed one; they do not change a value); a cell reference
//! beyond Excel's last column or row, a text longer than Excel's 32,767 characters per cell,
//! and shared strings beyond [`MAX_SHARED_STRING_BYTES`] / [`MAX_SHARED_STRINGS`] are
//! errors; an `&` that does not start an entity is an error.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::ops::Range;

use calamine::{CellErrorType, DataRef, ExcelDateTime, ExcelDateTimeType};
use zip::result::ZipError;
use zip::ZipArchive;

use super::xml::{decode_text, Event, XmlError, XmlReader, MAX_CELL_CHARS};

/// Total bytes of text the shared-strings table may hold. A department's workbook of a
/// million rows with a few distinct texts per row (names, addresses) holds well under
/// 100 MiB; the table is kept whole in memory, so a table claiming more is refused.
pub(crate) const MAX_SHARED_STRING_BYTES: usize = 256 * 1024 * 1024;
/// Strings the shared-strings table may hold: a million rows with a dozen distinct texts
/// each fit. Each costs 4 bytes of index beside its text.
pub(crate) const MAX_SHARED_STRINGS: usize = 16 * 1024 * 1024;
/// Cell formats (`<xf>` of `cellXfs`) kept; Excel allows about 64,000.
const MAX_CELL_FORMATS: usize = 1024 * 1024;
/// Custom number formats kept; Excel allows a few hundred.
const MAX_NUMBER_FORMATS: usize = 64 * 1024;
/// Sheets and relationships kept; Excel's practical limit is far lower.
const MAX_SHEETS: usize = 64 * 1024;
/// Excel's last column (XFD) and row.
pub(crate) const MAX_COLUMNS: u32 = 16_384;
pub(crate) const MAX_ROWS: u32 = 1_048_576;
/// Bytes of UTF-8 a cell's text may take while it is decoded (4 per character at most);
/// its characters are counted against [`MAX_CELL_CHARS`] once decoded.
const MAX_CELL_BYTES: usize = 4 * MAX_CELL_CHARS;

/// Why a workbook or a sheet cannot be read. What a department's IT staff can act on is in
/// the reader's language (`xlsx-…`); the rest names the part of the package that is damaged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum XlsxError {
    #[error("{}", bidui_i18n::t!("xlsx-not-a-package", error = .0))]
    Zip(#[from] ZipError),
    #[error("{}", bidui_i18n::t!("xlsx-missing-part", part = .0))]
    MissingPart(String),
    #[error("{part}: {source}")]
    Part { part: String, source: Box<XlsxError> },
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("{0}")]
    Invalid(String),
    #[error("{}", bidui_i18n::t!("xlsx-beyond-limits", cell = .0))]
    BeyondLimits(String),
    #[error(
        "{}",
        bidui_i18n::t!(
            "xlsx-too-many-shared-strings",
            mebibytes = MAX_SHARED_STRING_BYTES >> 20,
            strings = MAX_SHARED_STRINGS
        )
    )]
    TooManySharedStrings,
    #[error("{0}")]
    TooLarge(&'static str),
}

impl XlsxError {
    fn invalid(reason: impl Into<String>) -> XlsxError {
        XlsxError::Invalid(reason.into())
    }

    fn in_part(self, part: &str) -> XlsxError {
        XlsxError::Part { part: part.to_string(), source: Box::new(self) }
    }
}

/// Whether a number format shows a number as a date, a duration or a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellFormat {
    Other,
    DateTime,
    TimeDelta,
}

/// One sheet listed by the workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkbookSheet {
    pub(crate) name: String,
    /// A worksheet, not a chart sheet or dialog sheet.
    pub(crate) worksheet: bool,
    path: String,
}

/// The shared-strings table: all texts one after another, with the end of each.
#[derive(Default)]
pub(crate) struct SharedStrings {
    text: String,
    ends: Vec<u32>,
}

impl SharedStrings {
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)? as usize;
        let start = if index == 0 { 0 } else { self.ends[index - 1] as usize };
        Some(&self.text[start..end])
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
}

/// An opened package: its zip archive, its workbook and what every sheet shares.
pub(crate) struct Workbook<R> {
    zip: ZipArchive<R>,
    /// Entry index by lower-case name with `/` separators, as calamine looks names up.
    entries: HashMap<String, usize>,
    pub(crate) sheets: Vec<WorkbookSheet>,
    is_1904: bool,
    formats: Vec<CellFormat>,
    strings: SharedStrings,
}

impl<R: Read + Seek> Workbook<R> {
    /// Opens the package and reads everything but the sheets' cells.
    pub(crate) fn open(reader: R) -> Result<Workbook<R>, XlsxError> {
        let mut zip = ZipArchive::new(reader)?;
        let mut entries = HashMap::with_capacity(zip.len().min(MAX_SHEETS));
        for (index, name) in zip.file_names_raw().enumerate() {
            let name = String::from_utf8_lossy(name).replace('\\', "/").to_ascii_lowercase();
            entries.entry(name).or_insert(index);
        }
        let (xl_path, workbook_name) = read_package_relationships(&mut zip, &entries)?;
        let part = format!("{xl_path}sharedStrings.xml");
        let strings = match open_part(&mut zip, &entries, &part)? {
            Some(xml) => {
                read_shared_strings(xml, MAX_SHARED_STRING_BYTES, MAX_SHARED_STRINGS).map_err(|e| e.in_part(&part))?
            }
            None => SharedStrings::default(),
        };
        let part = format!("{xl_path}styles.xml");
        let formats = match open_part(&mut zip, &entries, &part)? {
            Some(xml) => read_styles(xml).map_err(|e| e.in_part(&part))?,
            None => Vec::new(),
        };
        let part = format!("{xl_path}_rels/{workbook_name}.rels");
        let xml = open_part(&mut zip, &entries, &part)?.ok_or_else(|| XlsxError::MissingPart(part.clone()))?;
        let relationships = read_relationships(xml).map_err(|e| e.in_part(&part))?;
        let part = format!("{xl_path}{workbook_name}");
        let (sheets, is_1904) = match open_part(&mut zip, &entries, &part)? {
            Some(xml) => read_workbook(xml, &relationships, &xl_path).map_err(|e| e.in_part(&part))?,
            None => (Vec::new(), false),
        };
        Ok(Workbook { zip, entries, sheets, is_1904, formats, strings })
    }

    /// The cells of sheet `name` (the first sheet of that name).
    pub(crate) fn cells(&mut self, name: &str) -> Result<SheetCells<'_, zip::read::ZipFile<'_, R>>, XlsxError> {
        let not_found = || XlsxError::invalid(format!("the sheet \"{name}\" has no worksheet part"));
        let path = self.sheets.iter().find(|s| s.name == name).ok_or_else(not_found)?.path.clone();
        let Workbook { zip, entries, is_1904, formats, strings, .. } = self;
        let xml = open_part(zip, entries, &path)?.ok_or_else(not_found)?;
        SheetCells::new(xml, strings, formats, *is_1904)
    }
}

/// The XML reader of a part, `None` if the package has no such part. Names are looked up
/// as calamine does: case-insensitively, `\\` read as `/`.
fn open_part<'z, R: Read + Seek>(
    zip: &'z mut ZipArchive<R>,
    entries: &HashMap<String, usize>,
    name: &str,
) -> Result<Option<XmlReader<zip::read::ZipFile<'z, R>>>, XlsxError> {
    let entry = match entries.get(&name.to_ascii_lowercase()) {
        Some(&index) => zip.by_index(index),
        None => zip.by_name(name),
    };
    match entry {
        Ok(file) => Ok(Some(XmlReader::new(file))),
        Err(ZipError::FileNotFound) => Ok(None),
        Err(e) => Err(XlsxError::Zip(e)),
    }
}

/// The folder of the workbook part and its file name, from `_rels/.rels`.
fn read_package_relationships<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    entries: &HashMap<String, usize>,
) -> Result<(String, String), XlsxError> {
    const PART: &str = "_rels/.rels";
    let mut xml = open_part(zip, entries, PART)?.ok_or_else(|| XlsxError::MissingPart(PART.to_string()))?;
    let target = package_document(&mut xml).map_err(|e| e.in_part(PART))?;
    let Some(target) = target else {
        return Err(XlsxError::invalid("the package names no workbook (no officeDocument relationship)"));
    };
    let (dir, name) = match target.rfind('/') {
        Some(i) => target.split_at(i + 1),
        None => ("", target.as_str()),
    };
    let dir = dir.strip_prefix('/').unwrap_or(dir).to_string();
    let name = if name.is_empty() { "workbook.xml".to_string() } else { name.to_string() };
    Ok((dir, name))
}

fn parse_usize(raw: &[u8]) -> Option<usize> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

fn attr_string(raw: &[u8]) -> Result<String, XlsxError> {
    let mut out = String::new();
    decode_text(raw, &mut out, MAX_CELL_BYTES)?;
    Ok(out)
}

/// Reads to the start of the element named `root`; an error if the part ends first.
fn find_root<S: Read>(xml: &mut XmlReader<S>, root: &'static str) -> Result<(), XlsxError> {
    loop {
        match xml.next()? {
            Event::Start if xml.local_name() == root.as_bytes() => return Ok(()),
            Event::Eof => return Err(XmlError::Eof(root).into()),
            _ => {}
        }
    }
}

fn package_document<S: Read>(xml: &mut XmlReader<S>) -> Result<Option<String>, XlsxError> {
    find_root(xml, "Relationships")?;
    let mut document = None;
    loop {
        match xml.next()? {
            Event::Start if xml.local_name() == b"Relationship" => {
                let (mut rel_type, mut target) = (None, None);
                for item in xml.attrs() {
                    match item? {
                        (b"Type", v) => rel_type = Some(v),
                        (b"Target", v) => target = Some(v),
                        _ => {}
                    }
                }
                if rel_type.is_some_and(|t| t.ends_with(b"/relationships/officeDocument")) {
                    if let Some(target) = target {
                        document = Some(attr_string(target)?);
                    }
                }
            }
            Event::End if xml.local_name() == b"Relationships" => return Ok(document),
            Event::Eof => return Err(XmlError::Eof("Relationships").into()),
            _ => {}
        }
    }
}

/// The workbook's relationships: id → (target, type), raw as calamine keeps them.
fn read_relationships<S: Read>(mut xml: XmlReader<S>) -> Result<HashMap<String, (String, String)>, XlsxError> {
    let mut relationships = HashMap::new();
    loop {
        match xml.next()? {
            Event::Start if xml.local_name() == b"Relationship" => {
                let (mut id, mut rel_type, mut target) = (None, None, None);
                for item in xml.attrs() {
                    match item? {
                        (b"Id", v) => id = Some(v),
                        (b"Type", v) => rel_type = Some(v),
                        (b"Target", v) => target = Some(v),
                        _ => {}
                    }
                }
                if let Some(id) = id {
                    if relationships.len() >= MAX_SHEETS {
                        return Err(XlsxError::TooLarge("the workbook has too many relationships"));
                    }
                    let text = |v: Option<&[u8]>| String::from_utf8_lossy(v.unwrap_or_default()).into_owned();
                    relationships.insert(text(Some(id)), (text(target), text(rel_type)));
                }
            }
            Event::End if xml.local_name() == b"Relationships" => return Ok(relationships),
            Event::Eof => return Err(XmlError::Eof("Relationships").into()),
            _ => {}
        }
    }
}

/// The sheets (in workbook order) and whether dates count from 1904.
fn read_workbook<S: Read>(
    mut xml: XmlReader<S>,
    relationships: &HashMap<String, (String, String)>,
    xl_path: &str,
) -> Result<(Vec<WorkbookSheet>, bool), XlsxError> {
    let mut sheets = Vec::new();
    let mut is_1904 = false;
    loop {
        match xml.next()? {
            Event::Start if xml.local_name() == b"sheet" => {
                let mut name = String::new();
                let mut rel_id: &[u8] = b"";
                for item in xml.attrs() {
                    let (key, value) = item?;
                    match key {
                        b"name" => name = attr_string(value)?,
                        b"state" if !matches!(value, b"visible" | b"hidden" | b"veryHidden") => {
                            let state = String::from_utf8_lossy(value);
                            return Err(XlsxError::invalid(format!("unknown sheet state \"{state}\"")));
                        }
                        // The id's namespace prefix (`r:id`) is ignored, as calamine does.
                        key if key == b"id" || key.ends_with(b":id") => rel_id = value,
                        _ => {}
                    }
                }
                let rel_id = String::from_utf8_lossy(rel_id);
                let Some((target, rel_type)) = relationships.get(rel_id.as_ref()) else {
                    return Err(XlsxError::invalid(format!("sheet \"{name}\" has no relationship \"{rel_id}\"")));
                };
                let path = match target.strip_prefix('/') {
                    Some(absolute) => absolute.to_string(),
                    None => format!("{xl_path}{target}"),
                };
                let worksheet = match rel_type.rsplit('/').next() {
                    Some("worksheet") => true,
                    Some("chartsheet" | "dialogsheet") => false,
                    _ => return Err(XlsxError::invalid(format!("sheet \"{name}\" is of an unknown type"))),
                };
                if sheets.len() >= MAX_SHEETS {
                    return Err(XlsxError::TooLarge("the workbook has too many sheets"));
                }
                sheets.push(WorkbookSheet { name, worksheet, path });
            }
            Event::Start if xml.local_name() == b"workbookPr" => {
                // `<x15:workbookPr>` in `<extLst>` shares the local name and never carries
                // `date1904`, so only a present attribute counts.
                if let Some(value) = xml.attr(b"date1904")? {
                    is_1904 = value == b"1" || value == b"true";
                }
            }
            Event::End if xml.local_name() == b"workbook" => return Ok((sheets, is_1904)),
            Event::Eof => return Err(XmlError::Eof("workbook").into()),
            _ => {}
        }
    }
}

/// The number format class of every cell format (`cellXfs`), by style index.
fn read_styles<S: Read>(mut xml: XmlReader<S>) -> Result<Vec<CellFormat>, XlsxError> {
    let mut number_formats: HashMap<Vec<u8>, String> = HashMap::new();
    let mut formats = Vec::new();
    loop {
        match xml.next()? {
            Event::Start if xml.local_name() == b"numFmts" => loop {
                match xml.next()? {
                    Event::Start if xml.local_name() == b"numFmt" => {
                        let (mut id, mut code) = (None, None);
                        for item in xml.attrs() {
                            match item? {
                                (b"numFmtId", v) => id = Some(v),
                                (b"formatCode", v) => code = Some(v),
                                _ => {}
                            }
                        }
                        if let (Some(id), Some(code)) = (id, code) {
                            if number_formats.len() >= MAX_NUMBER_FORMATS {
                                return Err(XlsxError::TooLarge("the styles hold too many number formats"));
                            }
                            number_formats.insert(id.to_vec(), attr_string(code)?);
                        }
                    }
                    Event::End if xml.local_name() == b"numFmts" => break,
                    Event::Eof => return Err(XmlError::Eof("numFmts").into()),
                    _ => {}
                }
            },
            Event::Start if xml.local_name() == b"cellXfs" => loop {
                match xml.next()? {
                    Event::Start if xml.local_name() == b"xf" => {
                        let format = xml.attr(b"numFmtId")?.map_or(CellFormat::Other, |id| {
                            number_formats.get(id).map_or_else(|| builtin_format_by_id(id), |code| date_format(code))
                        });
                        if formats.len() >= MAX_CELL_FORMATS {
                            return Err(XlsxError::TooLarge("the styles hold too many cell formats"));
                        }
                        formats.push(format);
                        loop {
                            match xml.next()? {
                                Event::End if xml.local_name() == b"xf" => break,
                                Event::Eof => return Err(XmlError::Eof("xf").into()),
                                _ => {}
                            }
                        }
                    }
                    Event::End if xml.local_name() == b"cellXfs" => break,
                    Event::Eof => return Err(XmlError::Eof("cellXfs").into()),
                    _ => {}
                }
            },
            Event::End if xml.local_name() == b"styleSheet" => return Ok(formats),
            Event::Eof => return Err(XmlError::Eof("styleSheet").into()),
            _ => {}
        }
    }
}

/// Whether a custom number format code shows a date, a duration or a number. Copied from
/// calamine 0.38's `detect_custom_number_format` (MIT, © Johann Tuffe), which is not public:
/// the first section only, quoted and escaped text ignored, `[h]`/`[mm]`/`[ss]` a duration.
fn date_format(format: &str) -> CellFormat {
    let mut escaped = false;
    let mut is_quote = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ap = false;
    for s in format.chars() {
        match (s, escaped, is_quote, ap, brackets) {
            (_, true, ..) => escaped = false,
            ('_' | '\\' | '*', ..) => escaped = true,
            ('"', _, true, _, _) => is_quote = false,
            (_, _, true, _, _) => (),
            ('"', _, _, _, _) => is_quote = true,
            (';', ..) => return CellFormat::Other,
            ('[', ..) => brackets += 1,
            (']', .., 1) if hms => return CellFormat::TimeDelta,
            (']', ..) => brackets = brackets.saturating_sub(1),
            ('a' | 'A', _, _, false, 0) => ap = true,
            ('p' | 'm' | '/' | 'P' | 'M', _, _, true, 0) => return CellFormat::DateTime,
            ('d' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S', _, _, false, 0) => return CellFormat::DateTime,
            _ => {
                if !(hms && s.eq_ignore_ascii_case(&prev)) {
                    hms = prev == '[' && matches!(s, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                }
            }
        }
        prev = s;
    }
    CellFormat::Other
}

/// The class of a built-in number format, by its id as written (calamine's
/// `builtin_format_by_id`: `"014"` is not `"14"`).
fn builtin_format_by_id(id: &[u8]) -> CellFormat {
    match id {
        // Dates and clock times, including the East Asian built-in formats.
        b"14" | b"15" | b"16" | b"17" | b"18" | b"19" | b"20" | b"21" | b"22" | b"45" | b"47" | b"27" | b"28"
        | b"29" | b"30" | b"31" | b"32" | b"33" | b"34" | b"35" | b"36" | b"50" | b"51" | b"52" | b"53" | b"54"
        | b"55" | b"56" | b"57" | b"58" => CellFormat::DateTime,
        // [h]:mm:ss
        b"46" => CellFormat::TimeDelta,
        _ => CellFormat::Other,
    }
}

/// The shared-strings table, refused beyond `max_bytes` of text or `max_strings` strings.
fn read_shared_strings<S: Read>(
    mut xml: XmlReader<S>,
    max_bytes: usize,
    max_strings: usize,
) -> Result<SharedStrings, XlsxError> {
    find_root(&mut xml, "sst")?;
    let mut strings = SharedStrings::default();
    let mut bufs = TextBufs::default();
    loop {
        match xml.next()? {
            Event::Start if xml.local_name() == b"si" => {
                if strings.ends.len() >= max_strings {
                    return Err(XlsxError::TooManySharedStrings);
                }
                let closing = xml.name().to_vec();
                let start = strings.text.len();
                read_rich_text(&mut xml, &closing, &mut strings.text, &mut bufs, max_bytes)?;
                check_cell_chars(&strings.text[start..])?;
                strings.ends.push(strings.text.len() as u32);
            }
            Event::End if xml.local_name() == b"sst" => return Ok(strings),
            Event::Eof => return Err(XmlError::Eof("sst").into()),
            _ => {}
        }
    }
}

fn check_cell_chars(text: &str) -> Result<(), XlsxError> {
    if text.len() > MAX_CELL_CHARS && text.chars().count() > MAX_CELL_CHARS {
        return Err(XmlError::TextTooLong.into());
    }
    Ok(())
}

/// Appends the text of the `<si>` or `<is>` element just started (full name `closing`) to
/// `out`, as calamine's `read_string_with_bufs`: the `<t>` texts of its runs one after
/// another, phonetic runs (`<rPh>`) left out; a `<t>` without `xml:space="preserve"` is
/// trimmed of ASCII whitespace; `_xHHHH_` escapes are resolved. The text may not be longer
/// than a cell's, and `out` (the shared-strings table) may not grow beyond `limit` bytes.
fn read_rich_text<S: Read>(
    xml: &mut XmlReader<S>,
    closing: &[u8],
    out: &mut String,
    bufs: &mut TextBufs,
    limit: usize,
) -> Result<(), XlsxError> {
    let TextBufs { run, t } = bufs;
    let start = out.len();
    let mut phonetic = false;
    loop {
        match xml.next()? {
            Event::Start if xml.local_name() == b"rPh" => phonetic = true,
            Event::End if xml.name() == closing => return Ok(()),
            Event::End if xml.local_name() == b"rPh" => phonetic = false,
            Event::Start if xml.local_name() == b"t" && !phonetic => {
                let preserve = xml.attr(b"xml:space")? == Some(b"preserve");
                t.clear();
                t.extend_from_slice(xml.name());
                run.clear();
                loop {
                    match xml.next()? {
                        Event::Text => xml.decode_text(run, MAX_CELL_BYTES)?,
                        Event::CData => xml.decode_cdata(run, MAX_CELL_BYTES)?,
                        Event::End if xml.name() == t.as_slice() => break,
                        Event::Eof => return Err(XmlError::Eof("t").into()),
                        Event::Start | Event::End => {}
                    }
                }
                let value = if preserve { run.as_str() } else { run.trim_matches([' ', '\t', '\r', '\n']) };
                if out.len() - start + value.len() > MAX_CELL_BYTES {
                    return Err(XmlError::TextTooLong.into());
                }
                if out.len() + value.len() > limit {
                    return Err(XlsxError::TooManySharedStrings);
                }
                push_excel_unescaped(out, value);
            }
            Event::Eof => return Err(XmlError::Eof("si").into()),
            _ => {}
        }
    }
}

/// Buffers reused from one text to the next: a `<t>`'s decoded text and its tag name.
#[derive(Default)]
struct TextBufs {
    run: String,
    t: Vec<u8>,
}

/// Appends `text` with Excel's `_xHHHH_` escapes resolved, as calamine's `unescape_xml`:
/// the four hex digits are a UTF-16 unit, a surrogate pair is two escapes, and an unpaired
/// surrogate becomes U+FFFD.
fn push_excel_unescaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some((index, unit)) = find_excel_escape(rest) {
        out.push_str(&rest[..index]);
        rest = &rest[index + 7..];
        let c = match unit {
            0xD800..=0xDBFF => match find_excel_escape(rest) {
                Some((0, low @ 0xDC00..=0xDFFF)) => {
                    rest = &rest[7..];
                    char::from_u32(0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00))
                }
                _ => None,
            },
            _ => char::from_u32(u32::from(unit)),
        };
        out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    out.push_str(rest);
}

/// The first `_xHHHH_` escape of `text`: its byte index and UTF-16 unit.
fn find_excel_escape(text: &str) -> Option<(usize, u16)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'_', &bytes[from..]) {
        let index = from + i;
        if let Some(escape) = bytes.get(index..index + 7) {
            if escape[1] == b'x' && escape[6] == b'_' && escape[2..6].iter().all(u8::is_ascii_hexdigit) {
                let hex = std::str::from_utf8(&escape[2..6]).ok()?;
                return Some((index, u16::from_str_radix(hex, 16).ok()?));
            }
        } else {
            return None;
        }
        from = index + 1;
    }
    None
}

/// The `t` attribute of a cell.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CellType {
    /// No `t`: a number, or text if it does not parse as one.
    Absent,
    Number,
    Shared,
    Bool,
    Error,
    Str,
    Date,
    Inline,
    Unknown,
}

/// A cell's value while its element is read, before it borrows the reader's buffers.
enum Slot {
    Empty,
    Shared(usize),
    /// The text in `SheetCells::text`.
    Text,
    /// The ISO 8601 date in `SheetCells::text`.
    IsoDate,
    Number(f64),
    Date(ExcelDateTime),
    Bool(bool),
    Error(CellErrorType),
}

/// A worksheet's cells in the order of the file, as calamine's `XlsxCellReader::next_cell`
/// yields them (including the empty cells a file lists).
pub(crate) struct SheetCells<'a, S> {
    xml: XmlReader<S>,
    strings: &'a SharedStrings,
    formats: &'a [CellFormat],
    is_1904: bool,
    /// Position of a cell without an `r` attribute: a row without `r` follows the previous
    /// one, a cell without `r` the previous cell of its row.
    row_index: u32,
    col_index: u32,
    text: String,
    cell_type_raw: Vec<u8>,
    /// The full name of the element being read inside a cell.
    value_name: Vec<u8>,
    text_bufs: TextBufs,
}

impl<'a, S: Read> SheetCells<'a, S> {
    fn new(
        mut xml: XmlReader<S>,
        strings: &'a SharedStrings,
        formats: &'a [CellFormat],
        is_1904: bool,
    ) -> Result<SheetCells<'a, S>, XlsxError> {
        let mut root: Option<String> = None;
        loop {
            match xml.next()? {
                Event::Start if xml.local_name() == b"sheetData" => break,
                Event::Start if root.is_none() => root = Some(String::from_utf8_lossy(xml.local_name()).into_owned()),
                Event::Eof => {
                    return Err(XlsxError::invalid(match root {
                        Some(root) => format!("the sheet is not a worksheet (its content is <{root}>)"),
                        None => "the worksheet part is empty".to_string(),
                    }))
                }
                _ => {}
            }
        }
        Ok(SheetCells {
            xml,
            strings,
            formats,
            is_1904,
            row_index: 0,
            col_index: 0,
            text: String::new(),
            cell_type_raw: Vec::new(),
            value_name: Vec::new(),
            text_bufs: TextBufs::default(),
        })
    }

    /// The next cell: its 0-based row and column and its value; `None` at the end of the
    /// sheet data.
    pub(crate) fn next_cell(&mut self) -> Result<Option<(u32, u32, DataRef<'_>)>, XlsxError> {
        loop {
            // The sheet's hot path: a row's end and a cell's start tag written the usual way
            // are read straight from the parser's buffer, without an event and a second pass
            // over the attributes; anything else is read event by event.
            if let Some(buffered) = self.xml.buffered() {
                if buffered.starts_with(b"</row>") {
                    self.xml.consume(b"</row>".len());
                    self.end_row();
                    continue;
                }
                if let Some(tag) = UsualCellTag::parse(buffered) {
                    let raw = |range: Option<Range<usize>>| range.map(|range| &buffered[range]);
                    let reference = raw(tag.r).map(cell_position).transpose()?;
                    let style = raw(tag.s).map(cell_style);
                    let cell_type = raw(tag.t).map_or(CellType::Absent, |t| cell_type(t, &mut self.cell_type_raw));
                    self.xml.consume(tag.len);
                    return self.read_cell(reference, style, cell_type, tag.empty).map(Some);
                }
            }
            match self.xml.next()? {
                Event::Start if self.xml.local_name() == b"row" => {
                    if let Some(r) = self.xml.attr(b"r")? {
                        self.row_index = cell_reference(r)?.0;
                    }
                }
                Event::End if self.xml.local_name() == b"row" => self.end_row(),
                Event::Start if self.xml.local_name() == b"c" => {
                    let (mut reference, mut style, mut cell_type_read) = (None, None, CellType::Absent);
                    for item in self.xml.attrs() {
                        match item? {
                            (b"r", v) => reference = Some(cell_position(v)?),
                            (b"s", v) => style = Some(cell_style(v)),
                            (b"t", v) => cell_type_read = cell_type(v, &mut self.cell_type_raw),
                            _ => {}
                        }
                    }
                    // An empty `<c/>` comes with its end pending: the value's loop reads it.
                    return self.read_cell(reference, style, cell_type_read, false).map(Some);
                }
                Event::End if self.xml.local_name() == b"sheetData" => return Ok(None),
                Event::Eof => return Err(XmlError::Eof("sheetData").into()),
                _ => {}
            }
        }
    }

    fn end_row(&mut self) {
        self.row_index = self.row_index.saturating_add(1);
        self.col_index = 0;
    }

    /// The 0-based sheet row being read: the last `<row>` started.
    pub(crate) fn row_being_read(&self) -> u32 {
        self.row_index
    }

    /// The cell whose start tag has just been read, with its attributes (`r`, `s`, `t`):
    /// its position and its value. `empty` when the tag was `<c …/>` and its end consumed.
    fn read_cell(
        &mut self,
        reference: Option<(u32, u32)>,
        style: Option<usize>,
        cell_type: CellType,
        empty: bool,
    ) -> Result<(u32, u32, DataRef<'_>), XlsxError> {
        let (row, column) = match reference {
            Some((row, column)) => {
                self.col_index = column;
                (row, column)
            }
            None => {
                if self.row_index >= MAX_ROWS || self.col_index >= MAX_COLUMNS {
                    let (row, column) = (self.row_index.min(MAX_ROWS), self.col_index.min(MAX_COLUMNS));
                    return Err(XlsxError::BeyondLimits(format!("{}{}", column_name(column), row + 1)));
                }
                (self.row_index, self.col_index)
            }
        };
        // A number's format: the cell's style, or General when it has none.
        let format = match style {
            Some(index) => self.formats.get(index).copied(),
            None => Some(CellFormat::Other),
        };
        let slot = if empty {
            Slot::Empty
        } else {
            match self.simple_value(cell_type, format) {
                Some(slot) => slot,
                None => {
                    let mut slot = Slot::Empty;
                    loop {
                        match self.xml.next()? {
                            Event::Start => slot = self.read_value(cell_type, format)?,
                            Event::End if self.xml.local_name() == b"c" => break,
                            Event::Eof => return Err(XmlError::Eof("c").into()),
                            _ => {}
                        }
                    }
                    slot
                }
            }
        };
        self.col_index += 1;
        let value = match slot {
            Slot::Empty => DataRef::Empty,
            Slot::Shared(index) => DataRef::SharedString(self.strings.get(index).unwrap_or_default()),
            Slot::Text => DataRef::SharedString(&self.text),
            Slot::IsoDate => DataRef::DateTimeIso(self.text.clone()),
            Slot::Number(n) => DataRef::Float(n),
            Slot::Date(date) => DataRef::DateTime(date),
            Slot::Bool(b) => DataRef::Bool(b),
            Slot::Error(e) => DataRef::Error(e),
        };
        Ok((row, column, value))
    }

    /// The value of a cell written the way most writers write it, `<is><t>text</t></is></c>`
    /// or `<v>value</v></c>`, read in one step from the parser's buffer; `None` when the
    /// cell is written otherwise, holds something to decode (`&`, `_xHHHH_`, `\r`) or is
    /// wrong, and must be read event by event. What it gives is what [`Self::read_value`]
    /// gives for the same bytes, errors included (they are left to the event-by-event path).
    fn simple_value(&mut self, cell_type: CellType, format: Option<CellFormat>) -> Option<Slot> {
        let SheetCells { xml, strings, is_1904, text, .. } = self;
        if let Some(slot) = xml.take_simple_element(b"<is><t>", b"</t></is></c>", |raw| {
            // As `read_rich_text` for a `<t>` without `xml:space`: decoded (nothing to
            // decode here), trimmed, and no longer than a cell.
            if raw.len() > MAX_CELL_BYTES || memchr::memchr3(b'&', b'_', b'\r', raw).is_some() {
                return None;
            }
            // Trimmed as bytes, which is cheaper than by characters and the same: the three
            // are ASCII, so the text left is valid UTF-8 exactly when the whole is.
            let value = simdutf8::basic::from_utf8(trim_blanks(raw)).ok()?;
            check_cell_chars(value).ok()?;
            text.clear();
            text.push_str(value);
            Some(Slot::Text)
        }) {
            return Some(slot);
        }
        if !matches!(
            cell_type,
            CellType::Absent | CellType::Number | CellType::Shared | CellType::Bool | CellType::Error
        ) {
            return None;
        }
        xml.take_simple_element(b"<v>", b"</v></c>", |raw| {
            // An empty `<v></v>` has no text event: the event-by-event path reads it.
            if raw.is_empty() || memchr::memchr(b'&', raw).is_some() {
                return None;
            }
            let v = simdutf8::basic::from_utf8(raw).ok()?;
            let slot = plain_value(strings, *is_1904, v, cell_type, format).ok()?;
            if matches!(slot, Slot::Text) {
                text.clear();
                text.push_str(v);
            }
            Some(slot)
        })
    }

    /// The value of the element just started inside a cell, as calamine's `read_value`.
    fn read_value(&mut self, cell_type: CellType, format: Option<CellFormat>) -> Result<Slot, XlsxError> {
        self.value_name.clear();
        self.value_name.extend_from_slice(self.xml.name());
        let name = self.value_name.as_slice();
        match self.xml.local_name() {
            b"is" => {
                self.text.clear();
                read_rich_text(&mut self.xml, name, &mut self.text, &mut self.text_bufs, usize::MAX)?;
                check_cell_chars(&self.text)?;
                Ok(Slot::Text)
            }
            // An inline string's `<v>` repeats its `<is>`.
            b"v" if cell_type == CellType::Inline => {
                self.xml.skip_current()?;
                Ok(Slot::Empty)
            }
            b"v" if matches!(
                cell_type,
                CellType::Absent | CellType::Number | CellType::Shared | CellType::Bool | CellType::Error
            ) =>
            {
                // These values are plain ASCII: calamine reads the first text event raw
                // (entities would be separate events, so the text stops at an `&`).
                let slot = match self.xml.next()? {
                    Event::Text => {
                        let raw = self.xml.raw_text();
                        let raw = &raw[..memchr::memchr(b'&', raw).unwrap_or(raw.len())];
                        let v = simdutf8::basic::from_utf8(raw).map_err(|_| XmlError::Utf8)?;
                        let slot = plain_value(self.strings, self.is_1904, v, cell_type, format)?;
                        if matches!(slot, Slot::Text) {
                            self.text.clear();
                            self.text.push_str(v);
                        }
                        slot
                    }
                    Event::End if self.xml.name() == name => return Ok(Slot::Empty),
                    Event::Eof => return Err(XmlError::Eof("v").into()),
                    _ => Slot::Empty,
                };
                self.xml.skip_to_end(name)?;
                Ok(slot)
            }
            b"v" => {
                // Values that may hold entities: `str`, `d` or an unknown type.
                let mut value = String::new();
                loop {
                    match self.xml.next()? {
                        Event::Text => self.xml.decode_text(&mut value, MAX_CELL_BYTES)?,
                        Event::End if self.xml.name() == name => break,
                        Event::Eof => return Err(XmlError::Eof("v").into()),
                        _ => {}
                    }
                }
                match cell_type {
                    CellType::Str => {
                        self.text.clear();
                        push_excel_unescaped(&mut self.text, &value);
                        check_cell_chars(&self.text)?;
                        Ok(Slot::Text)
                    }
                    CellType::Date => {
                        self.text = value;
                        Ok(Slot::IsoDate)
                    }
                    _ => Err(XlsxError::invalid(format!(
                        "unknown cell type t=\"{}\"",
                        String::from_utf8_lossy(&self.cell_type_raw)
                    ))),
                }
            }
            b"f" => {
                self.xml.skip_current()?;
                Ok(Slot::Empty)
            }
            other => Err(XlsxError::invalid(format!(
                "unexpected element <{}> in a cell",
                String::from_utf8_lossy(&other[..other.len().min(32)])
            ))),
        }
    }
}

/// A cell's `r`: its 0-based (row, column); a reference without a column is an error.
fn cell_position(raw: &[u8]) -> Result<(u32, u32), XlsxError> {
    match cell_reference(raw)? {
        (row, Some(column)) => Ok((row, column)),
        (_, None) => {
            let shown = String::from_utf8_lossy(&raw[..raw.len().min(32)]).into_owned();
            Err(XlsxError::invalid(format!("cell reference \"{shown}\" has no column")))
        }
    }
}

/// A cell's `s`: its style index, 0 when it is not a number (as calamine).
fn cell_style(raw: &[u8]) -> usize {
    parse_usize(raw).unwrap_or(0)
}

/// A cell's `t`; an unknown type is kept in `unknown` for the error it causes.
fn cell_type(raw: &[u8], unknown: &mut Vec<u8>) -> CellType {
    match raw {
        b"n" => CellType::Number,
        b"s" => CellType::Shared,
        b"b" => CellType::Bool,
        b"e" => CellType::Error,
        b"str" => CellType::Str,
        b"d" => CellType::Date,
        b"inlineStr" | b"is" => CellType::Inline,
        other => {
            unknown.clear();
            unknown.extend_from_slice(&other[..other.len().min(32)]);
            CellType::Unknown
        }
    }
}

/// A cell's start tag written the way writers write it: `<c`, then at most one each of
/// `r`, `s` and `t` as ` k="v"`, then `>` or `/>`, all in the parser's buffer. Read in one
/// pass, it means what the event-by-event reading of the same bytes means: the tag ends at
/// the same `>` (a value holds no `"`, so no `>` of it is taken for the end) and its
/// attributes are the same, each given once so that their order does not matter.
#[derive(Debug, Default, PartialEq, Eq)]
struct UsualCellTag {
    /// Bytes of the tag.
    len: usize,
    /// Where the raw values of `r`, `s` and `t` are in the bytes read.
    r: Option<Range<usize>>,
    s: Option<Range<usize>>,
    t: Option<Range<usize>>,
    /// `<c …/>`.
    empty: bool,
}

impl UsualCellTag {
    /// The tag at the start of `buffered`; `None` when it is not there whole or is written
    /// otherwise (other attributes, other spacing or quotes, a prefix), and must be read
    /// event by event.
    fn parse(buffered: &[u8]) -> Option<UsualCellTag> {
        let mut tag = UsualCellTag::default();
        if !buffered.starts_with(b"<c") {
            return None;
        }
        let mut pos = b"<c".len();
        loop {
            match *buffered.get(pos)? {
                b'>' => {
                    tag.len = pos + 1;
                    return Some(tag);
                }
                b'/' if buffered.get(pos + 1) == Some(&b'>') => {
                    tag.len = pos + 2;
                    tag.empty = true;
                    return Some(tag);
                }
                b' ' => {
                    let slot = match buffered.get(pos + 1..pos + 4)? {
                        b"r=\"" => &mut tag.r,
                        b"s=\"" => &mut tag.s,
                        b"t=\"" => &mut tag.t,
                        _ => return None,
                    };
                    let start = pos + 4;
                    let len = buffered.get(start..)?.iter().position(|&b| b == b'"')?;
                    if slot.replace(start..start + len).is_some() {
                        return None;
                    }
                    pos = start + len + 1;
                }
                _ => return None,
            }
        }
    }
}

/// A plain `<v>` value, as calamine's `read_v` for types n, s, b, e and none.
fn plain_value(
    strings: &SharedStrings,
    is_1904: bool,
    v: &str,
    cell_type: CellType,
    format: Option<CellFormat>,
) -> Result<Slot, XlsxError> {
    Ok(match cell_type {
        CellType::Shared => {
            if v.is_empty() {
                return Ok(Slot::Empty);
            }
            let index = parse_usize(v.as_bytes()).unwrap_or(0);
            if index >= strings.len() {
                return Err(XlsxError::invalid(format!(
                    "shared string {index} is not in the table of {} strings",
                    strings.len()
                )));
            }
            Slot::Shared(index)
        }
        CellType::Bool => {
            let value = v.trim();
            if value.is_empty() {
                Slot::Empty
            } else if value == "0" || value.eq_ignore_ascii_case("false") {
                Slot::Bool(false)
            } else if value == "1" || value.eq_ignore_ascii_case("true") {
                Slot::Bool(true)
            } else {
                return Err(XlsxError::invalid(format!("\"{}\" is not a boolean", short(v))));
            }
        }
        CellType::Error => Slot::Error(
            v.parse().map_err(|_| XlsxError::invalid(format!("\"{}\" is not an Excel error value", short(v))))?,
        ),
        _ => {
            if v.is_empty() {
                return Ok(Slot::Empty);
            }
            match fast_float2::parse::<f64, _>(v.as_bytes()) {
                Ok(n) => match format {
                    Some(CellFormat::DateTime) => {
                        Slot::Date(ExcelDateTime::new(n, ExcelDateTimeType::DateTime, is_1904))
                    }
                    Some(CellFormat::TimeDelta) => {
                        Slot::Date(ExcelDateTime::new(n, ExcelDateTimeType::TimeDelta, is_1904))
                    }
                    _ => Slot::Number(n),
                },
                // Without a type, a value that is not a number is text.
                Err(_) if cell_type == CellType::Absent => Slot::Text,
                Err(_) => return Err(XlsxError::invalid(format!("\"{}\" is not a number", short(v)))),
            }
        }
    })
}

/// `raw` without the spaces, tabs and line feeds at its ends (what a `<t>` without
/// `xml:space="preserve"` loses).
fn trim_blanks(raw: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n');
    let start = raw.iter().position(|b| !blank(b)).unwrap_or(raw.len());
    let end = raw.iter().rposition(|b| !blank(b)).map_or(start, |i| i + 1);
    &raw[start..end]
}

fn short(v: &str) -> String {
    v.chars().take(32).collect()
}

/// A cell reference (`B7`, or a row's `7`) as a 0-based (row, column); the column is `None`
/// when the reference has none (a row's reference may lack it). Beyond Excel's last row or
/// column it is an error naming the cell.
fn cell_reference(raw: &[u8]) -> Result<(u32, Option<u32>), XlsxError> {
    let shown = || String::from_utf8_lossy(&raw[..raw.len().min(32)]).into_owned();
    let letters = raw.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let (column_part, row_part) = raw.split_at(letters);
    let mut column = 0u32;
    for &b in column_part {
        column = column * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1;
        if column > MAX_COLUMNS {
            return Err(XlsxError::BeyondLimits(shown()));
        }
    }
    // One pass over the digits: a row beyond Excel's last is held there (so that it cannot
    // overflow) and reported after the loop, as a byte that is not a digit is reported
    // first wherever it is.
    let mut row = 0u32;
    for &b in row_part {
        if !b.is_ascii_digit() {
            return Err(XlsxError::invalid(format!("\"{}\" is not a cell reference", shown())));
        }
        row = (row * 10 + u32::from(b - b'0')).min(MAX_ROWS + 1);
    }
    if row_part.is_empty() {
        return Err(XlsxError::invalid(format!("\"{}\" is not a cell reference", shown())));
    }
    if row > MAX_ROWS {
        return Err(XlsxError::BeyondLimits(shown()));
    }
    if row == 0 {
        return Err(XlsxError::invalid(format!("\"{}\" is not a cell reference", shown())));
    }
    Ok((row - 1, column.checked_sub(1)))
}

/// The letters of a 0-based column (0 → A, 16,383 → XFD).
fn column_name(column: u32) -> String {
    let mut n = column + 1;
    let mut letters = Vec::new();
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A cell's start tag as a writer might write it, followed by more markup.
    fn cell_start_tag() -> impl Strategy<Value = String> {
        let attribute = prop_oneof![
            "[rst]=\"[A-C0-9>' ]{0,3}\"",
            "[rst]='[A-C0-9>\" ]{0,3}'",
            "[rst] = \"[A-C1-9]{0,2}\"",
            "x:r=\"A1\"",
        ];
        let separator = prop_oneof![8 => Just(" "), 1 => Just("  "), 1 => Just("\t"), 1 => Just("")];
        (
            prop_oneof![8 => Just("<c"), 1 => Just("<x:c"), 1 => Just("<cc")],
            prop::collection::vec((separator, attribute), 0..4),
            prop_oneof![Just(">"), Just("/>"), Just(" />"), Just(" >"), Just("")],
        )
            .prop_map(|(name, attributes, end)| {
                let attributes: String =
                    attributes.into_iter().map(|(sep, attribute)| sep.to_string() + &attribute).collect();
                format!("{name}{attributes}{end}<v>1</v>")
            })
    }

    proptest! {
        /// A start tag read in one pass ends where the event-by-event reading ends it, and
        /// has the attributes that reading gives.
        #[test]
        fn usual_cell_tags_read_in_one_pass_as_event_by_event(xml in cell_start_tag()) {
            let Some(tag) = UsualCellTag::parse(xml.as_bytes()) else {
                return Ok(());
            };
            let mut reader = XmlReader::new(xml.as_bytes());
            prop_assert_eq!(reader.next().unwrap(), Event::Start);
            prop_assert_eq!(reader.name(), b"c");
            let attributes: Vec<(Vec<u8>, Vec<u8>)> =
                reader.attrs().map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<Result<_, _>>().unwrap();
            let mut one_pass: Vec<(Vec<u8>, Vec<u8>)> = [(b"r", &tag.r), (b"s", &tag.s), (b"t", &tag.t)]
                .into_iter()
                .filter_map(|(key, range)| Some((key.to_vec(), xml.as_bytes()[range.clone()?].to_vec())))
                .collect();
            let mut sorted = attributes.clone();
            sorted.sort();
            one_pass.sort();
            prop_assert_eq!(sorted, one_pass);
            // Each attribute once, so that their order does not matter.
            prop_assert!(attributes.windows(2).all(|pair| pair[0].0 != pair[1].0) && attributes.len() <= 3);
            if tag.empty {
                prop_assert_eq!(reader.next().unwrap(), Event::End);
            }
            prop_assert_eq!(reader.buffered(), Some(&xml.as_bytes()[tag.len..]));
        }
    }

    #[test]
    fn usual_cell_tags_are_read_in_one_pass() {
        let tag = UsualCellTag::parse(br#"<c r="B7" s="1" t="s"><v>1</v></c>"#).unwrap();
        assert_eq!(tag, UsualCellTag { len: 22, r: Some(6..8), s: Some(13..14), t: Some(19..20), empty: false });
        let tag = UsualCellTag::parse(br#"<c s="2" r="A1"/><c>"#).unwrap();
        assert_eq!(tag, UsualCellTag { len: 17, r: Some(12..14), s: Some(6..7), t: None, empty: true });
        assert_eq!(UsualCellTag::parse(b"<c>").map(|tag| tag.len), Some(3));
        for other in [
            &br#"<c r="A1" r="A2">"#[..],
            br#"<c r='A1'>"#,
            br#"<c  r="A1">"#,
            br#"<c r="A1" />"#,
            br#"<c x="1">"#,
            br#"<x:c r="A1">"#,
            br#"<col min="1">"#,
            br#"<c r="A1""#,
            br#"<c r="A1"#,
        ] {
            assert_eq!(UsualCellTag::parse(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn date_formats_are_classified_as_calamine_does() {
        for (code, want) in [
            ("yyyy-mm-dd", CellFormat::DateTime),
            ("DD/MM/YY", CellFormat::DateTime),
            ("H:MM:SS;@", CellFormat::DateTime),
            ("[h]:mm:ss", CellFormat::TimeDelta),
            ("[ss]", CellFormat::TimeDelta),
            ("0.00", CellFormat::Other),
            ("\\Y000000", CellFormat::Other),
            ("#,##0.0####\" YMD\"", CellFormat::Other),
            ("@", CellFormat::Other),
            ("m\"M\"d\"D\";@", CellFormat::DateTime),
            ("[$-404]e\"\\xfc\"m\"\\xfc\"d\"\\xfc\"", CellFormat::DateTime),
            ("0_ ;[Red]\\-0\\ ", CellFormat::Other),
        ] {
            assert_eq!(date_format(code), want, "{code}");
        }
        assert_eq!(builtin_format_by_id(b"14"), CellFormat::DateTime);
        assert_eq!(builtin_format_by_id(b"46"), CellFormat::TimeDelta);
        assert_eq!(builtin_format_by_id(b"014"), CellFormat::Other);
        assert_eq!(builtin_format_by_id(b"49"), CellFormat::Other);
    }

    #[test]
    fn excel_escapes_resolve_as_calamine_does() {
        let mut out = String::new();
        push_excel_unescaped(&mut out, "a_x000D_b_x005F_x000D__xD83D__xDCF7__xD800_z_x00");
        assert_eq!(out, "a\rb_x000D_📷\u{FFFD}z_x00");
    }

    #[test]
    fn cell_references_are_checked_against_excel_limits() {
        assert_eq!(cell_reference(b"A1").unwrap(), (0, Some(0)));
        assert_eq!(cell_reference(b"xfd1048576").unwrap(), (1_048_575, Some(16_383)));
        assert_eq!(cell_reference(b"7").unwrap(), (6, None));
        assert!(matches!(cell_reference(b"XFE1"), Err(XlsxError::BeyondLimits(c)) if c == "XFE1"));
        assert!(matches!(cell_reference(b"ZZZZZZZZZZ1"), Err(XlsxError::BeyondLimits(_))));
        assert!(matches!(cell_reference(b"A1048577"), Err(XlsxError::BeyondLimits(_))));
        assert!(matches!(cell_reference(b"A99999999999999999999"), Err(XlsxError::BeyondLimits(_))));
        // A reference that is not one is that error, however long its digits.
        for bad in [&b"A0"[..], b"A", b"", b"1A", b"A-1", b"A99999999999x", b"A1048577x"] {
            assert!(matches!(cell_reference(bad), Err(XlsxError::Invalid(_))), "{bad:?}");
        }
        assert!(matches!(cell_reference(b"ZZZZ1x"), Err(XlsxError::BeyondLimits(_))));
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(16_383), "XFD");
    }

    #[test]
    fn a_shared_strings_table_beyond_its_limits_is_refused() {
        let table = |n: usize| {
            let items: String = (0..n).map(|i| format!("<si><t>string {i:04}</t></si>")).collect();
            format!("<sst>{items}</sst>")
        };
        let xml = table(10);
        let read = |max_bytes, max_strings| read_shared_strings(XmlReader::new(xml.as_bytes()), max_bytes, max_strings);
        let strings = read(110, 10).unwrap();
        assert_eq!((strings.len(), strings.get(9)), (10, Some("string 0009")));
        assert!(matches!(read(109, 10), Err(XlsxError::TooManySharedStrings)));
        assert!(matches!(read(110, 9), Err(XlsxError::TooManySharedStrings)));
        // The limits a real department's workbook of a million rows fits in.
        assert_eq!((MAX_SHARED_STRING_BYTES, MAX_SHARED_STRINGS), (256 << 20, 16 << 20));
    }
}
