//! A pull parser for the XML parts of an .xlsx package, reading a stream through a buffer
//! whose size is capped: a tag or a text longer than the cap is an error, so a hostile
//! part cannot make the reader buffer it whole.
//!
//! It yields the events the workbook reader needs, the way calamine's quick-xml reader is
//! configured (`expand_empty_elements`, no end-name check, no trimming): an empty element
//! `<c/>` comes as a start followed by an end; comments, processing instructions and
//! declarations are skipped. Names are matched on their local part (`x:c` is `c`).

use std::io::{self, Read};
use std::ops::Range;

use memchr::{memchr, memchr2, memmem};

/// The buffer's first size; it grows up to [`MAX_TOKEN`] when one tag or text needs it.
const INITIAL_BUF: usize = 64 * 1024;
/// The longest tag or text the parser holds. A cell holds at most 32,767 characters
/// ([`MAX_CELL_CHARS`]); written with the longest escapes (`&#x10FFFF;` for two UTF-16
/// units, `_x000D_` or `&amp;` for one) that is at most about 330,000 bytes, so any text
/// longer than this cap is longer than a cell can be.
const MAX_TOKEN: usize = 512 * 1024;
/// Excel's limit on the characters of one cell.
pub(crate) const MAX_CELL_CHARS: usize = 32_767;

/// Why a part could not be parsed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum XmlError {
    /// A read error of the zip entry (a damaged or truncated deflate stream, a bad checksum).
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the XML is malformed: {0}")]
    Malformed(&'static str),
    #[error("the part ends in the middle of <{0}>")]
    Eof(&'static str),
    #[error("{}", bidui_i18n::t!("xlsx-text-too-long", characters = MAX_CELL_CHARS))]
    TextTooLong,
    #[error("an XML tag longer than {MAX_TOKEN} bytes")]
    TagTooLong,
    #[error("the text is not valid UTF-8")]
    Utf8,
    #[error("unknown XML entity &{0};")]
    Entity(String),
}

/// What [`XmlReader::next`] found; its name, attributes or text are read with the reader's
/// accessors until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Start,
    End,
    Text,
    CData,
    Eof,
}

pub(crate) struct XmlReader<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// The end event of the empty element just returned as a start.
    pending_end: bool,
    name: Range<usize>,
    /// Where the local part of `name` starts.
    local: usize,
    /// The name of the element [`XmlReader::skip_current`] skips.
    skip_name: Vec<u8>,
    attrs: Range<usize>,
    text: Range<usize>,
}

impl<R: Read> XmlReader<R> {
    pub(crate) fn new(src: R) -> XmlReader<R> {
        XmlReader {
            src,
            buf: vec![0; INITIAL_BUF],
            pos: 0,
            end: 0,
            eof: false,
            pending_end: false,
            name: 0..0,
            local: 0,
            skip_name: Vec::new(),
            attrs: 0..0,
            text: 0..0,
        }
    }

    /// The full name of the current start or end tag (`x:c`).
    pub(crate) fn name(&self) -> &[u8] {
        &self.buf[self.name.clone()]
    }

    /// The local part of the current tag's name (`c` for `x:c`), as quick-xml's `local_name`.
    pub(crate) fn local_name(&self) -> &[u8] {
        &self.buf[self.local..self.name.end]
    }

    /// Records `name` as the current tag's name, and where its local part starts (after the
    /// first `:`, as quick-xml's `local_name`). Names are short: a plain loop beats memchr.
    fn set_name(&mut self, name: Range<usize>) {
        self.local = self.buf[name.clone()].iter().position(|&b| b == b':').map_or(name.start, |i| name.start + i + 1);
        self.name = name;
    }

    /// The raw text (or CDATA content) of the current event, undecoded.
    pub(crate) fn raw_text(&self) -> &[u8] {
        &self.buf[self.text.clone()]
    }

    /// The raw (still escaped) value of the current start tag's attribute `key`, matched on
    /// the whole key as calamine does (`xml:space`, not `space`).
    pub(crate) fn attr(&self, key: &[u8]) -> Result<Option<&[u8]>, XmlError> {
        for item in self.attrs() {
            let (k, v) = item?;
            if k == key {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The current start tag's attributes as raw (key, value) pairs.
    pub(crate) fn attrs(&self) -> Attributes<'_> {
        Attributes { raw: &self.buf[self.attrs.clone()], pos: 0 }
    }

    /// Reads more of the stream into the buffer, moving what is left to its front and
    /// growing it (up to [`MAX_TOKEN`]) when it is full. `Ok(false)` at the end of the stream.
    fn more(&mut self, in_text: bool) -> Result<bool, XmlError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_TOKEN {
                return Err(if in_text { XmlError::TextTooLong } else { XmlError::TagTooLong });
            }
            self.buf.resize((self.buf.len() * 2).min(MAX_TOKEN), 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(XmlError::Io(e)),
            }
        }
    }

    pub(crate) fn next(&mut self) -> Result<Event, XmlError> {
        if self.pending_end {
            self.pending_end = false;
            return Ok(Event::End);
        }
        loop {
            if self.pos == self.end && !self.more(false)? {
                return Ok(Event::Eof);
            }
            let avail = &self.buf[self.pos..self.end];
            if avail[0] != b'<' {
                if let Some(i) = memchr(b'<', avail) {
                    self.text = self.pos..self.pos + i;
                    self.pos += i;
                    return Ok(Event::Text);
                }
                if !self.more(true)? {
                    self.text = self.pos..self.end;
                    self.pos = self.end;
                    return Ok(Event::Text);
                }
                continue;
            }
            // Enough bytes to tell a comment or CDATA from a tag, unless the part ends.
            if avail.len() < 9 && !self.eof && matches!(avail.get(1), None | Some(b'!')) {
                self.more(false)?;
                continue;
            }
            let cdata = avail.starts_with(b"<![CDATA[");
            if let Some(event) = self.markup()? {
                return Ok(event);
            }
            if !self.more(cdata)? {
                return Err(XmlError::Eof("a tag"));
            }
        }
    }

    /// Parses the markup at `self.pos` if it is complete in the buffer; `None` when it needs
    /// more bytes. Skipped markup (comments, declarations) comes as an empty text.
    fn markup(&mut self) -> Result<Option<Event>, XmlError> {
        let start = self.pos;
        let avail = &self.buf[start..self.end];
        let special = matches!(avail.get(1), Some(b'!' | b'?'));
        let skipped = if !special {
            None
        } else if avail.starts_with(b"<!--") {
            Some(memmem::find(&avail[4..], b"-->").map(|i| 4 + i + 3))
        } else if avail.starts_with(b"<![CDATA[") {
            let Some(i) = memmem::find(&avail[9..], b"]]>") else {
                return Ok(None);
            };
            self.text = start + 9..start + 9 + i;
            self.pos = start + 9 + i + 3;
            return Ok(Some(Event::CData));
        } else if avail.starts_with(b"<?") {
            Some(memmem::find(&avail[2..], b"?>").map(|i| 2 + i + 2))
        } else if avail.starts_with(b"<!") {
            Some(memchr(b'>', avail).map(|i| i + 1))
        } else {
            None
        };
        if let Some(skipped) = skipped {
            let Some(len) = skipped else {
                return Ok(None);
            };
            self.pos = start + len;
            self.text = self.pos..self.pos;
            return Ok(Some(Event::Text));
        }
        let Some(close) = tag_end(avail) else {
            return Ok(None);
        };
        let inner = &avail[1..close];
        self.pos = start + close + 1;
        if let Some(name) = inner.strip_prefix(b"/") {
            let len = name.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(name.len());
            self.set_name(start + 2..start + 2 + len);
            return Ok(Some(Event::End));
        }
        let (inner, empty) = match inner.strip_suffix(b"/") {
            Some(inner) => (inner, true),
            None => (inner, false),
        };
        let len = inner.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(inner.len());
        if len == 0 {
            return Err(XmlError::Malformed("a tag without a name"));
        }
        self.attrs = start + 1 + len..start + 1 + inner.len();
        self.set_name(start + 1..start + 1 + len);
        self.pending_end = empty;
        Ok(Some(Event::Start))
    }

    /// The bytes buffered after the current position, for a caller that recognizes markup
    /// written the usual way there and consumes it whole with [`XmlReader::consume`];
    /// `None` while the end of an empty element is pending (it is the next event). It never
    /// reads from the stream: what is not buffered whole is read with [`XmlReader::next`].
    pub(crate) fn buffered(&self) -> Option<&[u8]> {
        (!self.pending_end).then(|| &self.buf[self.pos..self.end])
    }

    /// Consumes `len` bytes of [`XmlReader::buffered`]: markup that has been read whole.
    pub(crate) fn consume(&mut self, len: usize) {
        debug_assert!(self.pos + len <= self.end);
        self.pos += len;
    }

    /// The sheet's hot path: when the bytes after the start tag just read are `open`, a text
    /// without markup and `close`, all already in the buffer, and `read` accepts the raw
    /// text, consumes them and returns what `read` made of it; `None` (nothing consumed)
    /// otherwise, and the events are read one by one. It never reads from the stream, so
    /// the buffer's cap holds as for [`XmlReader::next`].
    #[inline]
    pub(crate) fn take_simple_element<T>(
        &mut self,
        open: &[u8],
        close: &[u8],
        read: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<T> {
        if self.pending_end {
            return None;
        }
        let rest = self.buf[self.pos..self.end].strip_prefix(open)?;
        let len = memchr(b'<', rest)?;
        if !rest[len..].starts_with(close) {
            return None;
        }
        let value = read(&rest[..len])?;
        self.pos += open.len() + len + close.len();
        Some(value)
    }

    /// Skips to the end of the element whose start was just read (compared on the full
    /// name), counting nested elements of the same name, as quick-xml's `read_to_end`.
    pub(crate) fn skip_current(&mut self) -> Result<(), XmlError> {
        let mut name = std::mem::take(&mut self.skip_name);
        name.clear();
        name.extend_from_slice(self.name());
        let skipped = self.skip_to_end(&name);
        self.skip_name = name;
        skipped
    }

    /// Skips to the end of the element named `name` (full name) whose start has been read.
    pub(crate) fn skip_to_end(&mut self, name: &[u8]) -> Result<(), XmlError> {
        let mut depth = 0u32;
        loop {
            match self.next()? {
                Event::Start if self.name() == name => depth += 1,
                Event::End if self.name() == name => {
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                Event::Eof => return Err(XmlError::Eof("an element")),
                _ => {}
            }
        }
    }

    /// Appends the current text event decoded (entities resolved, line ends normalized as
    /// XML 1.0 requires) to `out`, as calamine does with quick-xml's `Text` and `GeneralRef`
    /// events. Fails beyond `limit` bytes of `out`.
    pub(crate) fn decode_text(&self, out: &mut String, limit: usize) -> Result<(), XmlError> {
        decode_text(self.raw_text(), out, limit)
    }

    /// Appends the current CDATA content (line ends normalized, no entities) to `out`.
    pub(crate) fn decode_cdata(&self, out: &mut String, limit: usize) -> Result<(), XmlError> {
        let text = simdutf8::basic::from_utf8(self.raw_text()).map_err(|_| XmlError::Utf8)?;
        push_normalized(out, text, limit)
    }
}

/// The index of the `>` ending the tag at the start of `avail`, skipping quoted attribute
/// values (which may hold `>`). Tags are short: a plain loop beats memchr's set-up.
fn tag_end(avail: &[u8]) -> Option<usize> {
    let mut quote = 0u8;
    for (i, &b) in avail.iter().enumerate().skip(1) {
        if quote != 0 {
            if b == quote {
                quote = 0;
            }
        } else if b == b'>' {
            return Some(i);
        } else if b == b'"' || b == b'\'' {
            quote = b;
        }
    }
    None
}

/// The raw attributes of a tag, parsed as calamine's `RawAttrIter` does.
pub(crate) struct Attributes<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), XmlError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.raw;
        let mut pos = self.pos;
        while pos < raw.len() && raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= raw.len() {
            self.pos = pos;
            return None;
        }
        self.pos = raw.len();
        let Some(eq) = raw[pos..].iter().position(|&b| b == b'=') else {
            return Some(Err(XmlError::Malformed("an attribute without a value")));
        };
        let key = raw[pos..pos + eq].trim_ascii_end();
        pos += eq + 1;
        while pos < raw.len() && raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let quote = match raw.get(pos) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Some(Err(XmlError::Malformed("an attribute value without quotes"))),
        };
        pos += 1;
        let len = raw[pos..].iter().position(|&b| b == quote).unwrap_or(raw.len() - pos);
        let value = &raw[pos..pos + len];
        self.pos = (pos + len + 1).min(raw.len());
        Some(Ok((key, value)))
    }
}

/// Appends `text` to `out` with `\r\n` and lone `\r` turned into `\n`.
fn push_normalized(out: &mut String, text: &str, limit: usize) -> Result<(), XmlError> {
    if out.len() + text.len() > limit {
        return Err(XmlError::TextTooLong);
    }
    let mut rest = text;
    while let Some(i) = memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = rest[i + 1..].strip_prefix('\n').unwrap_or(&rest[i + 1..]);
    }
    out.push_str(rest);
    Ok(())
}

/// Decodes escaped XML text (or an attribute value) into `out`: the five predefined
/// entities and character references, as quick-xml resolves them; anything else is an
/// error, as in calamine.
pub(crate) fn decode_text(raw: &[u8], out: &mut String, limit: usize) -> Result<(), XmlError> {
    let text = simdutf8::basic::from_utf8(raw).map_err(|_| XmlError::Utf8)?;
    if memchr2(b'&', b'\r', raw).is_none() {
        // Most texts: nothing to resolve.
        if out.len() + text.len() > limit {
            return Err(XmlError::TextTooLong);
        }
        out.push_str(text);
        return Ok(());
    }
    let mut rest = text;
    while let Some(amp) = memchr(b'&', rest.as_bytes()) {
        push_normalized(out, &rest[..amp], limit)?;
        let after = &rest[amp + 1..];
        let Some(semi) = memchr(b';', after.as_bytes()) else {
            return Err(XmlError::Malformed("an `&` that does not start an entity"));
        };
        let entity = &after[..semi];
        match entity {
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "amp" => out.push('&'),
            "apos" => out.push('\''),
            "quot" => out.push('"'),
            _ => out.push(char_ref(entity).ok_or_else(|| XmlError::Entity(entity.chars().take(16).collect()))?),
        }
        rest = &after[semi + 1..];
    }
    push_normalized(out, rest, limit)
}

/// A character reference (`#38`, `#x26`) as quick-xml parses it: no sign, no NUL.
fn char_ref(entity: &str) -> Option<char> {
    let number = entity.strip_prefix('#')?;
    let (digits, radix) = match number.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    if digits.starts_with(['+', '-']) {
        return None;
    }
    let code = u32::from_str_radix(digits, radix).ok()?;
    if code == 0 {
        return None;
    }
    char::from_u32(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(xml: &str) -> Vec<String> {
        let mut reader = XmlReader::new(xml.as_bytes());
        let mut out = Vec::new();
        loop {
            let event = reader.next().unwrap();
            out.push(match event {
                Event::Start => format!("<{}>", String::from_utf8_lossy(reader.name())),
                Event::End => format!("</{}>", String::from_utf8_lossy(reader.name())),
                Event::Text if reader.raw_text().is_empty() => continue,
                Event::Text | Event::CData => String::from_utf8_lossy(reader.raw_text()).into_owned(),
                Event::Eof => break,
            });
        }
        out
    }

    #[test]
    fn empty_elements_expand_and_markup_is_skipped() {
        let xml = "<?xml version=\"1.0\"?><!-- a > b --><x:a k='>'><b/>t<![CDATA[<c>]]></x:a >";
        assert_eq!(events(xml), ["<x:a>", "<b>", "</b>", "t", "<c>", "</x:a>"]);
    }

    #[test]
    fn a_tag_ends_at_the_first_gt_outside_quotes() {
        assert_eq!(tag_end(br#"<a k="'>" j='">'>x"#), Some(16));
        assert_eq!(tag_end(b"<c r=\"A1\" t=\"s\">"), Some(15));
        assert_eq!(tag_end(b"<a>"), Some(2));
        for unfinished in [&b"<a k=\">"[..], b"<a k='x'", b"<", b"<a"] {
            assert_eq!(tag_end(unfinished), None, "{unfinished:?}");
        }
    }

    #[test]
    fn text_decodes_entities_and_line_ends() {
        let mut out = String::new();
        decode_text(b"a&lt;&#x4E2D;&#25991;\r\nb\rc&amp;", &mut out, 100).unwrap();
        assert_eq!(out, "a<中文\nb\nc&");
        assert!(matches!(decode_text(b"&nbsp;", &mut String::new(), 100), Err(XmlError::Entity(_))));
        assert!(matches!(decode_text(b"&#0;", &mut String::new(), 100), Err(XmlError::Entity(_))));
        assert!(matches!(decode_text(b"abcd", &mut String::new(), 3), Err(XmlError::TextTooLong)));
    }

    #[test]
    fn a_text_longer_than_the_buffer_cap_is_refused_without_reading_it_whole() {
        // An endless text: the reader must stop at its cap instead of buffering it.
        let endless = io::repeat(b'a');
        let mut reader = XmlReader::new(b"<t>".chain(endless));
        assert_eq!(reader.next().unwrap(), Event::Start);
        assert!(matches!(reader.next(), Err(XmlError::TextTooLong)));
        assert!(reader.buf.len() <= MAX_TOKEN);
        let mut reader = XmlReader::new(b"<t a=\"".chain(io::repeat(b'a')));
        assert!(matches!(reader.next(), Err(XmlError::TagTooLong)));
    }
}
