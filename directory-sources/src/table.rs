//! Reading rows out of whatever Excel saved: encodings, delimiters, BOMs,
//! blank lines, trailing empty columns, line endings.
//!
//! Every CSV source in this crate reads through [`Table`], so each quirk is
//! handled once. The input is read incrementally from any [`io::Read`]: only
//! a prefix is buffered (to sniff the delimiter), and each field is decoded on
//! its own, so a Windows-1252 file streams just like a UTF-8 one.
//!
//! A broken file must never read as a short directory:
//! - lines end in LF, CRLF or CR alone (Excel's "CSV (Macintosh)"), and are
//!   counted so each issue names the line a person finds in an editor;
//! - a quote that never closes, or a quoted value that swallows lines that
//!   look like rows of their own, is [`Next::Broken`]: the reader marks its
//!   snapshot incomplete, so nothing is flagged, deactivated or deleted;
//! - the encoding is one per file: a file holding both valid multi-byte
//!   UTF-8 and bytes that are not UTF-8 is refused whole
//!   ([`Error::MixedEncoding`]) unless the source sets its encoding, because
//!   either guess renames somebody; UTF-16 (with or without its BOM) is
//!   refused with advice.

use std::io::{self, Read};

use muster_core::{Location, SourceIssue};

use crate::error::Error;

/// How many bytes are looked at to detect the encoding's BOM and sniff the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;
/// How many lines of the prefix the delimiter sniffer considers.
const SNIFF_LINES: usize = 50;

/// The character encoding of a CSV file.
///
/// Excel on Windows saves "CSV (Comma delimited)" in Windows-1252 and
/// "CSV UTF-8" with a byte-order mark; both are common in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// Decided for the whole file from what it holds: UTF-8 when there is a
    /// BOM or its non-ASCII text is valid UTF-8, Windows-1252 when none of it
    /// is. A file with both is refused ([`Error::MixedEncoding`], naming a
    /// line of each): set the encoding to read it anyway.
    #[default]
    Auto,
    /// UTF-8 (a BOM is skipped). Bytes that are not UTF-8 make their field a
    /// field issue (the field is left as the gateway has it), or, in the
    /// address, the record unread.
    Utf8,
    /// Windows-1252 (the Western "ANSI" code page).
    Windows1252,
}

/// The field delimiter of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delimiter {
    /// Sniffed from the first lines: comma, semicolon (Excel in locales with a
    /// decimal comma) or tab, whichever separates fields on the most lines.
    #[default]
    Auto,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// A tab.
    Tab,
}

impl Delimiter {
    fn byte(self) -> Option<u8> {
        match self {
            Delimiter::Auto => None,
            Delimiter::Comma => Some(b','),
            Delimiter::Semicolon => Some(b';'),
            Delimiter::Tab => Some(b'\t'),
        }
    }
}

/// How a CSV file is encoded and delimited. The default detects both.
///
/// ```
/// use muster_directory::{CsvFormat, Delimiter, Encoding};
/// let format = CsvFormat::default()
///     .encoding(Encoding::Windows1252)
///     .delimiter(Delimiter::Semicolon);
/// # let _ = format;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CsvFormat {
    encoding: Encoding,
    delimiter: Delimiter,
}

impl CsvFormat {
    /// Sets the encoding instead of detecting it.
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Sets the delimiter instead of sniffing it.
    #[must_use]
    pub fn delimiter(mut self, delimiter: Delimiter) -> Self {
        self.delimiter = delimiter;
        self
    }
}

/// One non-blank row, decoded. Reused between reads to avoid allocating per row.
///
/// The row's text is decoded into one buffer and each cell is a (trimmed)
/// range of it, so a row costs a copy of its bytes and nothing per cell.
#[derive(Debug, Default)]
pub(crate) struct Row {
    /// The physical line (1-based) where the record starts.
    pub(crate) line: u64,
    text: String,
    /// Each cell's trimmed byte range in `text`.
    spans: Vec<(usize, usize)>,
}

impl Row {
    /// The cell at `index`, trimmed; `""` past the end of the row.
    pub(crate) fn get(&self, index: usize) -> &str {
        self.spans
            .get(index)
            .map_or("", |&(start, end)| &self.text[start..end])
    }

    /// How many cells the row has, counting trailing empty ones.
    pub(crate) fn width(&self) -> usize {
        self.spans.len()
    }

    /// The cells, trimmed.
    pub(crate) fn cells(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .map(|&(start, end)| &self.text[start..end])
    }

    fn is_blank(&self) -> bool {
        self.spans.iter().all(|(start, end)| start == end)
    }

    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Records the cell that is `text[start..end]`, trimmed.
    fn push_cell(&mut self, start: usize, end: usize) {
        let cell = &self.text[start..end];
        let trimmed = cell.trim_start();
        let start = start + (cell.len() - trimmed.len());
        self.spans.push((start, start + trimmed.trim_end().len()));
    }
}

/// What one call to [`Table::next_row`] produced.
pub(crate) enum Next {
    /// A row was read into the caller's [`Row`].
    Row,
    /// The file's structure is broken here (a quote that never closes, or
    /// one that swallows rows): the record is not read, and the caller marks
    /// its snapshot partial with `reason`, so that the people on the lines
    /// swallowed do not look absent. Reading goes on after it.
    Broken {
        /// At the line where the quote opened.
        issue: SourceIssue,
        /// Why the snapshot is incomplete, for [`muster_core::Completeness::Partial`].
        reason: String,
    },
    /// End of input.
    End,
}

/// A CSV reader over any `io::Read`, with detection done on a prefix.
pub(crate) struct Table<R: Read> {
    file: String,
    records: Records<io::Chain<io::Cursor<Vec<u8>>, R>>,
    decoding: Decoding,
    evidence: Evidence,
    /// The prefix's lines end in CR alone (Excel's "CSV (Macintosh)").
    cr_alone: bool,
    delimiter: u8,
    /// The first row's cells (lowercased) and whether it looks like a
    /// header (no `@`), to see the layout change part-way.
    first: Option<(Vec<String>, bool)>,
    /// Lines with an `@` in the prefix, and the prefix's length, for [`Table::expected_rows`].
    prefix_rows: usize,
    prefix_len: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Decoding {
    /// Only ASCII so far (with [`Encoding::Auto`]).
    Undecided,
    /// Auto-detected from a BOM or valid multi-byte text; bytes that are
    /// not UTF-8 from now on refuse the file.
    DetectedUtf8,
    /// Auto-detected from bytes that are not UTF-8; valid multi-byte UTF-8
    /// from now on refuses the file.
    DetectedWindows1252,
    /// Set by the source: bytes that are not UTF-8 become U+FFFD.
    Utf8,
    /// Set by the source.
    Windows1252,
}

/// Why a file was read in the encoding it was, for messages: where the
/// first sign of each encoding was.
#[derive(Clone, Default)]
struct Evidence {
    /// "a UTF-8 byte-order mark" or "line 7".
    utf8: Option<String>,
    not_utf8: Option<u64>,
}

impl<R: Read> Table<R> {
    /// Reads a prefix of `input` to detect the BOM and delimiter, then sets up streaming.
    pub(crate) fn open(file: &str, mut input: R, format: CsvFormat) -> Result<Self, Error> {
        let mut prefix = Vec::with_capacity(SNIFF_BYTES);
        (&mut input)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut prefix)
            .map_err(|e| Error::read(file, e))?;
        if prefix.starts_with(&[0xFF, 0xFE]) || prefix.starts_with(&[0xFE, 0xFF]) {
            return Err(Error::UnsupportedEncoding {
                file: file.to_owned(),
                found: "UTF-16 (Excel's \"Unicode Text\")",
            });
        }
        if let Some(found) = utf16_without_bom(&prefix) {
            return Err(Error::UnsupportedEncoding {
                file: file.to_owned(),
                found,
            });
        }
        let had_bom = prefix.starts_with(&[0xEF, 0xBB, 0xBF]);
        if had_bom {
            prefix.drain(..3);
        }
        let mut evidence = Evidence::default();
        let decoding = match format.encoding {
            Encoding::Utf8 => Decoding::Utf8,
            Encoding::Windows1252 => Decoding::Windows1252,
            Encoding::Auto if had_bom => {
                evidence.utf8 = Some("a UTF-8 byte-order mark".to_owned());
                Decoding::DetectedUtf8
            }
            Encoding::Auto => Decoding::Undecided,
        };
        let cr_alone = prefix.contains(&b'\r') && !prefix.contains(&b'\n');
        let delimiter = format
            .delimiter
            .byte()
            .unwrap_or_else(|| sniff_delimiter(&prefix));
        Ok(Table {
            file: file.to_owned(),
            prefix_rows: lines_with_address(&prefix),
            prefix_len: prefix.len(),
            records: Records::new(io::Cursor::new(prefix).chain(input), delimiter),
            decoding,
            evidence,
            cr_alone,
            delimiter,
            first: None,
        })
    }

    /// About how many rows with an address the input has, judged from the
    /// prefix: exact for a short input, scaled to `input_len` (the whole
    /// input's size, when known) for a long one, else just the prefix's.
    /// For pre-sizing only; never a limit.
    pub(crate) fn expected_rows(&self, input_len: Option<u64>) -> usize {
        let Some(len) = input_len.filter(|_| self.prefix_len == SNIFF_BYTES) else {
            return self.prefix_rows;
        };
        let scaled = self.prefix_rows as u128 * u128::from(len) / SNIFF_BYTES as u128;
        usize::try_from(scaled).unwrap_or(usize::MAX)
    }

    /// The file name used in issues.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// How the file was decoded and why, for messages: `UTF-8 (a UTF-8
    /// byte-order mark)`, `Windows-1252 (line 4 is not UTF-8)`, `ASCII`.
    pub(crate) fn encoding_evidence(&self) -> String {
        match self.decoding {
            Decoding::Undecided => "ASCII".to_owned(),
            Decoding::Utf8 => "UTF-8 (set by the source)".to_owned(),
            Decoding::Windows1252 => "Windows-1252 (set by the source)".to_owned(),
            Decoding::DetectedUtf8 => format!(
                "UTF-8 ({} holds UTF-8 and no line holds other bytes)",
                self.evidence.utf8.as_deref().unwrap_or("the file")
            ),
            Decoding::DetectedWindows1252 => format!(
                "Windows-1252 (line {} is not UTF-8 and no line holds multi-byte UTF-8)",
                self.evidence.not_utf8.unwrap_or(0)
            ),
        }
    }

    /// The record last read as text, when it is ASCII, or valid UTF-8 in a
    /// file read as UTF-8 with no field ending inside a character.
    fn whole_record(&self) -> Option<&str> {
        let bytes = self.records.record();
        if bytes.is_ascii() {
            // Both encodings agree on ASCII: the fast path for most records.
            return std::str::from_utf8(bytes).ok();
        }
        if !matches!(self.decoding, Decoding::Utf8 | Decoding::DetectedUtf8) {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        // Valid as a whole, but a field could still end inside a character.
        self.records
            .spans()
            .all(|(_, end)| text.is_char_boundary(end))
            .then_some(text)
    }

    /// Takes the non-ASCII fields of the record last read as evidence of
    /// the file's encoding (with [`Encoding::Auto`]); refuses a file that
    /// turns out to hold both encodings.
    fn weigh_encoding(&mut self, line: u64) -> Result<(), Error> {
        if !matches!(
            self.decoding,
            Decoding::Undecided | Decoding::DetectedUtf8 | Decoding::DetectedWindows1252
        ) {
            return Ok(());
        }
        for bytes in self.records.fields().filter(|f| !f.is_ascii()) {
            if std::str::from_utf8(bytes).is_ok() {
                self.evidence
                    .utf8
                    .get_or_insert_with(|| format!("line {line}"));
            } else {
                self.evidence.not_utf8.get_or_insert(line);
            }
        }
        self.decoding = match (&self.evidence.utf8, self.evidence.not_utf8) {
            (Some(utf8), Some(not_utf8)) => {
                return Err(Error::MixedEncoding {
                    file: self.file.clone(),
                    utf8: utf8.clone(),
                    not_utf8,
                });
            }
            (Some(_), None) => Decoding::DetectedUtf8,
            // Lines that end in CR alone are Excel's "CSV (Macintosh)", whose
            // text is Mac Roman: read as Windows-1252, José becomes JosŽ.
            (None, Some(_)) if self.cr_alone => {
                return Err(Error::UnsupportedEncoding {
                    file: self.file.clone(),
                    found: "most likely Mac Roman (Excel's \"CSV (Macintosh)\": its lines end in CR alone and hold bytes that are not UTF-8)",
                });
            }
            (None, Some(_)) => Decoding::DetectedWindows1252,
            (None, None) => Decoding::Undecided,
        };
        Ok(())
    }

    /// Reads the next non-blank record into `row`.
    ///
    /// # Errors
    /// [`Error::Read`] when the input fails, [`Error::MixedEncoding`] when
    /// the record shows the file is neither UTF-8 nor Windows-1252 throughout.
    pub(crate) fn next_row(&mut self, row: &mut Row) -> Result<Next, Error> {
        loop {
            let Some(line) = self
                .records
                .next()
                .map_err(|e| Error::read(&self.file, e))?
            else {
                tracing::info!(
                    file = %muster_core::sanitize(&self.file),
                    encoding = %self.encoding_evidence(),
                    "read as"
                );
                return Ok(Next::End);
            };
            if let Some(broken) = self.records.broken() {
                return Ok(broken.next(&self.file));
            }
            row.line = line;
            row.clear();
            if let Some(text) = self.whole_record() {
                // Every cell is valid text: one copy for the row.
                row.text.push_str(text);
                for (start, end) in self.records.spans() {
                    row.push_cell(start, end);
                }
            } else {
                self.weigh_encoding(line)?;
                let windows_1252 = matches!(
                    self.decoding,
                    Decoding::Windows1252 | Decoding::DetectedWindows1252
                );
                for bytes in self.records.fields() {
                    let start = row.text.len();
                    if windows_1252 {
                        let (text, _) =
                            encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
                        row.text.push_str(&text);
                    } else {
                        // Bytes that are not UTF-8 (only with the encoding set
                        // to UTF-8) become U+FFFD, which the field rules refuse.
                        row.text.push_str(&String::from_utf8_lossy(bytes));
                    }
                    row.push_cell(start, row.text.len());
                }
            }
            if row.is_blank() {
                continue;
            }
            if let Some(broken) = self.layout_change(row) {
                return Ok(broken);
            }
            return Ok(Next::Row);
        }
    }

    /// A row that shows the layout changing part-way: the file's header
    /// again with its columns in another order (two exports joined), or a
    /// row held together by another delimiter (one exported in a locale
    /// that separates with `;`). Read on, its columns would be the wrong
    /// fields; the snapshot is partial instead.
    fn layout_change(&mut self, row: &Row) -> Option<Next> {
        let Some((first, header)) = &self.first else {
            let cells = row.cells().map(str::to_lowercase).collect::<Vec<_>>();
            let header = !cells.iter().any(|c| c.contains('@'));
            self.first = Some((cells, header));
            return None;
        };
        let what = if *header
            && row.width() == first.len()
            && first.len() > 1
            && !row.cells().any(|c| c.contains('@'))
        {
            let mut again: Vec<String> = row.cells().map(str::to_lowercase).collect();
            if again == *first {
                return None;
            }
            again.sort_unstable();
            let mut sorted = first.clone();
            sorted.sort_unstable();
            (again == sorted)
                .then(|| "the header again with its columns in another order".to_owned())?
        } else if row.width() == 1 && first.len() > 2 {
            let cell = row.get(0);
            let other = [b',', b';', b'\t']
                .into_iter()
                .filter(|&d| d != self.delimiter)
                .find(|&d| cell.bytes().filter(|&b| b == d).count() + 1 >= first.len())?;
            if !cell.contains('@') {
                return None;
            }
            format!(
                "a row separated by {} in a file separated by {}",
                delimiter_name(other),
                delimiter_name(self.delimiter)
            )
        } else {
            return None;
        };
        let issue = SourceIssue::new(
            Location::line(self.file.as_str(), row.line),
            format!(
                "one layout throughout: here is {what}; the file is read as incomplete: nothing is flagged, deactivated or deleted"
            ),
        );
        let reason = format!("the layout changes at line {}: {what}", row.line);
        Some(Next::Broken { issue, reason })
    }
}

/// How a delimiter is named in messages.
fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b';' => "`;`",
        b'\t' => "tabs",
        _ => "`,`",
    }
}

/// A quoted value that broke the file's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Swallow {
    /// The line where the quote opened.
    line: u64,
    /// The 0-based field it opened in.
    field: usize,
    /// How many lines it took, its own included.
    lines: u64,
    /// How many of the lines it took look like rows (a delimiter and an `@`).
    rows: u64,
    /// False when it never closed.
    closed: bool,
}

impl Swallow {
    fn next(self, file: &str) -> Next {
        let Swallow {
            line,
            field,
            lines,
            rows,
            closed,
        } = self;
        let (what, reason) = if closed {
            (
                format!(
                    "a quoted value without rows in it: the quote that opens here takes {lines} lines, {rows} of which look like rows of their own"
                ),
                format!("the quote opened at line {line} takes {lines} lines that hold rows"),
            )
        } else {
            (
                format!(
                    "a closing quote for the quote that opens here: it never closes and takes the rest of the file, {lines} lines"
                ),
                format!(
                    "the quote opened at line {line} never closes: it takes the rest of the file, {lines} lines"
                ),
            )
        };
        let issue = SourceIssue::new(
            Location::line(file, line),
            format!(
                "{what}; the file is read as incomplete: nothing is flagged, deactivated or deleted"
            ),
        )
        .with_field(format!("column {}", field + 1));
        Next::Broken { issue, reason }
    }
}

/// Follows csv_core's quoting byte by byte (RFC 4180: a quote opens a
/// value only at the start of a field, a doubled quote inside is one quote)
/// and counts lines, so a record's quotes can be judged and every record
/// named by the line it starts on. csv_core itself says neither.
#[derive(Debug)]
struct Tracker {
    delimiter: u8,
    /// The 1-based line of the next byte.
    line: u64,
    /// The last byte was a CR (so a following LF ends no further line).
    after_cr: bool,
    field_start: bool,
    field: usize,
    open: bool,
    /// A quote was seen inside a quoted value: it closes the value unless
    /// another quote follows.
    closing: bool,
    opened_at: u64,
    opened_field: usize,
    breaks: u64,
    /// What the current line inside a quote holds.
    segment_delimiter: bool,
    segment_at: bool,
    /// Nothing but line breaks since the last one (a file's final line
    /// break starts no line of its own).
    segment_empty: bool,
    rows: u64,
    /// The first quote of the current record that broke the structure.
    broken: Option<Swallow>,
}

impl Tracker {
    fn new(delimiter: u8) -> Self {
        Tracker {
            delimiter,
            line: 1,
            after_cr: false,
            field_start: true,
            field: 0,
            open: false,
            closing: false,
            opened_at: 0,
            opened_field: 0,
            breaks: 0,
            segment_delimiter: false,
            segment_at: false,
            segment_empty: true,
            rows: 0,
            broken: None,
        }
    }

    /// Counts a line break (LF, CRLF or CR alone) when `b` ends one.
    fn count_line(&mut self, b: u8) -> bool {
        let ends = b == b'\r' || (b == b'\n' && !self.after_cr);
        self.after_cr = b == b'\r';
        if ends {
            self.line += 1;
        }
        ends
    }

    /// Ends the current line inside a quote: counted as a row when it looks like one.
    fn end_segment(&mut self) {
        if self.breaks > 0 && self.segment_delimiter && self.segment_at {
            self.rows += 1;
        }
        self.segment_delimiter = false;
        self.segment_at = false;
        self.segment_empty = true;
    }

    fn close(&mut self) {
        self.open = false;
        self.end_segment();
        if self.rows > 0 && self.broken.is_none() {
            self.broken = Some(Swallow {
                line: self.opened_at,
                field: self.opened_field,
                lines: self.breaks + 1,
                rows: self.rows,
                closed: true,
            });
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            // Most bytes are plain text outside quotes: skip a run of them at once.
            if !self.open && !self.closing {
                let delimiter = self.delimiter;
                let plain = bytes[i..]
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'\r' | b'\n') || b == delimiter)
                    .unwrap_or(bytes.len() - i);
                if plain > 0 {
                    self.field_start = false;
                    self.after_cr = false;
                    i += plain;
                    continue;
                }
            }
            let b = bytes[i];
            i += 1;
            let line_before = self.line;
            let ends_line = self.count_line(b);
            if std::mem::take(&mut self.closing) {
                if b == b'"' {
                    continue;
                }
                self.close();
            }
            if self.open {
                self.segment_empty &= b == b'\r' || b == b'\n';
                match b {
                    b'"' => self.closing = true,
                    b'@' => self.segment_at = true,
                    _ if b == self.delimiter => self.segment_delimiter = true,
                    _ if ends_line => {
                        self.end_segment();
                        self.breaks += 1;
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' if self.field_start => {
                    self.open = true;
                    self.field_start = false;
                    self.opened_at = line_before;
                    self.opened_field = self.field;
                    self.breaks = 0;
                    self.rows = 0;
                    self.segment_delimiter = false;
                    self.segment_at = false;
                    self.segment_empty = true;
                }
                b'\r' | b'\n' => {
                    self.field_start = true;
                    self.field = 0;
                }
                _ if b == self.delimiter => {
                    self.field_start = true;
                    self.field += 1;
                }
                _ => self.field_start = false,
            }
        }
    }

    /// At the end of a record: a quote still open here runs to the end of the input.
    fn end_record(&mut self) {
        if std::mem::take(&mut self.closing) {
            self.close();
        }
        if self.open {
            self.open = false;
            let last_line_empty = self.breaks > 0 && self.segment_empty;
            self.end_segment();
            self.broken.get_or_insert(Swallow {
                line: self.opened_at,
                field: self.opened_field,
                lines: self.breaks + 1 - u64::from(last_line_empty),
                rows: self.rows,
                closed: false,
            });
        }
        self.field_start = true;
        self.field = 0;
    }
}

/// Splits a byte stream into CSV records with `csv_core`, counting physical
/// lines itself: the `csv` crate's record positions are off after CRLF and
/// blank lines, and an issue must name the line a person can find in Excel.
struct Records<R> {
    input: R,
    core: csv_core::Reader,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    /// Lines and quotes of the bytes consumed so far.
    tracker: Tracker,
    out: Vec<u8>,
    ends: Vec<usize>,
    fields: usize,
}

impl<R: Read> Records<R> {
    fn new(input: R, delimiter: u8) -> Self {
        Records {
            input,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            tracker: Tracker::new(delimiter),
            out: vec![0; 1024],
            ends: vec![0; 32],
            fields: 0,
        }
    }

    /// Refills the buffer once it is used up; false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => {
                    (self.pos, self.len, self.eof) = (0, n, n == 0);
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next record; returns the line it starts on, or `None` at the end.
    fn next(&mut self) -> io::Result<Option<u64>> {
        // Line terminators between records (blank lines, the `\n` of a CRLF) are ours to skip.
        self.tracker.broken = None;
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            match self.buf[self.pos] {
                b @ (b'\n' | b'\r') => {
                    self.tracker.count_line(b);
                }
                _ => break,
            }
            self.pos += 1;
        }
        let start = self.tracker.line;
        let (mut nout, mut nend) = (0, 0);
        loop {
            self.fill()?;
            let input = &self.buf[self.pos..self.len];
            let (result, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            self.tracker.scan(&input[..nin]);
            self.pos += nin;
            nout += o;
            nend += e;
            match result {
                // csv_core finishes a record when handed empty input at the end;
                // should it not, stop rather than spin.
                csv_core::ReadRecordResult::InputEmpty if nin == 0 && self.eof => {
                    return Ok(None);
                }
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => {
                    let grown = self.out.len() * 2;
                    self.out.resize(grown, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    self.fields = nend;
                    self.tracker.end_record();
                    return Ok(Some(start));
                }
                csv_core::ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// How the record last read broke the file's structure, if it did.
    fn broken(&self) -> Option<Swallow> {
        self.tracker.broken
    }

    /// The byte ranges of the fields of the record last read, in [`Records::record`].
    fn spans(&self) -> impl Iterator<Item = (usize, usize)> + use<'_, R> {
        let ends = &self.ends[..self.fields];
        let starts = std::iter::once(0).chain(ends.iter().copied());
        starts.zip(ends.iter().copied())
    }

    /// The fields of the record last read.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        self.spans().map(|(s, e)| &self.out[s..e])
    }

    /// The bytes of all fields of the record last read, one after the other.
    fn record(&self) -> &[u8] {
        let end = self.fields.checked_sub(1).map_or(0, |last| self.ends[last]);
        &self.out[..end]
    }
}

/// Names UTF-16 without a byte-order mark, judged from the prefix: in
/// text that is mostly ASCII, every other byte is NUL (the high byte of
/// each character, after it in little-endian, before it in big-endian).
/// Read as UTF-8 such a file gives no entries and a control character in
/// every cell.
fn utf16_without_bom(prefix: &[u8]) -> Option<&'static str> {
    let sample = &prefix[..prefix.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for pair in sample.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    // Most characters ASCII (half the pairs, say), the other byte never NUL.
    if odd * 2 >= pairs && even == 0 {
        Some("UTF-16LE without a byte-order mark (a NUL byte after every letter)")
    } else if even * 2 >= pairs && odd == 0 {
        Some("UTF-16BE without a byte-order mark (a NUL byte before every letter)")
    } else {
        None
    }
}

/// How many lines of `prefix` contain an `@` (rows that can hold an address).
fn lines_with_address(prefix: &[u8]) -> usize {
    let (mut rows, mut seen) = (0, false);
    for &b in prefix {
        match b {
            b'@' => seen = true,
            // A CR alone ends a line too; after a CR, the LF of a CRLF finds `seen` false.
            b'\n' | b'\r' => rows += usize::from(std::mem::take(&mut seen)),
            _ => {}
        }
    }
    rows + usize::from(seen)
}

/// Picks the delimiter that separates fields on the most lines of `prefix`
/// (outside quotes); ties and single-column files go to the comma.
fn sniff_delimiter(prefix: &[u8]) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut lines_with = [0usize; 3];
    let mut on_line = [false; 3];
    let mut in_quotes = false;
    let mut lines = 0;
    for &b in prefix {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                for (count, seen) in lines_with.iter_mut().zip(&mut on_line) {
                    *count += usize::from(std::mem::take(seen));
                }
                lines += 1;
                if lines == SNIFF_LINES {
                    break;
                }
            }
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    on_line[i] = true;
                }
            }
            _ => {}
        }
    }
    for (count, seen) in lines_with.iter_mut().zip(on_line) {
        *count += usize::from(seen);
    }
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if lines_with[i] > lines_with[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

/// Undoes the formula neutralisation of [`export_cell`]: a leading `'`
/// before `'` or a character spreadsheets evaluate is dropped, so a preview
/// reads back as the entries it was written from.
pub(crate) fn unescape_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if rest.starts_with('\'')
                || rest.starts_with(muster_core::DANGEROUS_LEADING.as_slice()) =>
        {
            rest
        }
        _ => cell,
    }
}

/// Makes a cell safe to open in a spreadsheet ([`muster_core::neutralize_cell`]),
/// and also protects a leading `'` so that [`unescape_cell`] restores it exactly.
pub(crate) fn export_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with('\'') {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        muster_core::neutralize_cell(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(input: &[u8], format: CsvFormat) -> Vec<(u64, Vec<String>)> {
        let mut table = Table::open("t.csv", input, format).unwrap();
        let mut row = Row::default();
        let mut out = Vec::new();
        while let Next::Row = table.next_row(&mut row).unwrap() {
            out.push((row.line, row.cells().map(str::to_owned).collect()));
        }
        out
    }

    #[test]
    fn sniffs_semicolon_and_tab_but_not_commas_inside_quotes() {
        assert_eq!(sniff_delimiter(b"a;b;c\nd;e;f\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n\"x,y\"\tz\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"Lee; Jr\",b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"single\ncolumn\n"), b',');
    }

    #[test]
    fn windows_1252_is_decided_by_the_first_non_ascii_field() {
        let got = rows(b"plain,x\nJos\xe9,y\n", CsvFormat::default());
        assert_eq!(got[1].1[0], "José");
        let forced = rows(
            "Jos\u{e9}".as_bytes(),
            CsvFormat::default().encoding(Encoding::Windows1252),
        );
        assert_eq!(forced[0].1[0], "JosÃ©");
    }

    fn refusal(input: &[u8]) -> Error {
        let mut table = match Table::open("t.csv", input, CsvFormat::default()) {
            Ok(table) => table,
            Err(e) => return e,
        };
        let mut row = Row::default();
        loop {
            match table.next_row(&mut row) {
                Err(e) => return e,
                Ok(Next::End) => panic!("read without a refusal"),
                Ok(_) => {}
            }
        }
    }

    #[test]
    fn invalid_utf8_after_utf8_refuses_the_file_naming_a_line_of_each() {
        let err = refusal(b"Jos\xc3\xa9\nbad\xff\nok\n");
        assert!(
            matches!(&err, Error::MixedEncoding { utf8, not_utf8: 2, .. } if utf8 == "line 1"),
            "{err:?}"
        );
        // Set to UTF-8, the bad bytes become U+FFFD (which the field rules refuse).
        let got = rows(
            b"Jos\xc3\xa9\nbad\xff\nok\n",
            CsvFormat::default().encoding(Encoding::Utf8),
        );
        assert_eq!(got[1], (2, vec!["bad\u{fffd}".to_owned()]));
        assert_eq!(got[2].1, ["ok"]);
    }

    #[test]
    fn a_bom_then_windows_1252_bytes_is_refused() {
        let err = refusal(b"\xef\xbb\xbfAnn\nJos\xe9\n");
        assert!(
            matches!(&err, Error::MixedEncoding { utf8, not_utf8: 2, .. } if utf8.contains("byte-order mark")),
            "{err:?}"
        );
    }

    #[test]
    fn a_character_split_across_two_fields_is_not_text_in_either() {
        // Together the two fields are valid UTF-8 ("é"); each alone is not.
        let got = rows(b"a\xc3,\xa9b\n", CsvFormat::default());
        assert_eq!(got[0].1, ["a\u{c3}", "\u{a9}b"], "read as Windows-1252");
        let err = refusal(b"\xc3\xa9\na\xc3,\xa9b\n");
        assert!(
            matches!(err, Error::MixedEncoding { not_utf8: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn cr_only_crlf_and_lf_lines_are_all_counted() {
        for (input, name) in [
            (&b"a,1\rb,2\r\rc,3\r"[..], "CR"),
            (&b"a,1\r\nb,2\r\n\r\nc,3\r\n"[..], "CRLF"),
            (&b"a,1\nb,2\n\nc,3"[..], "LF"),
            (&b"a,1\rb,2\n\r\nc,3"[..], "mixed"),
        ] {
            let lines: Vec<u64> = rows(input, CsvFormat::default())
                .into_iter()
                .map(|(line, _)| line)
                .collect();
            assert_eq!(lines, [1, 2, 4], "{name}");
        }
        // A quoted line break counts too, whichever ending it has.
        let got = rows(b"\"x\ry\",1\rb,2\r", CsvFormat::default());
        assert_eq!(got[1].0, 3);
    }

    fn broken(input: &[u8]) -> Vec<(u64, String, String)> {
        let mut table = Table::open("t.csv", input, CsvFormat::default()).unwrap();
        let mut row = Row::default();
        let mut out = Vec::new();
        loop {
            match table.next_row(&mut row).unwrap() {
                Next::End => return out,
                Next::Row => out.push((row.line, row.get(0).to_owned(), String::new())),
                Next::Broken { issue, reason } => {
                    let Location::Line { line, .. } = issue.location else {
                        panic!("{issue:?}")
                    };
                    out.push((line, issue.to_string(), reason));
                }
            }
        }
    }

    #[test]
    fn an_unterminated_quote_names_its_line_and_the_lines_it_took() {
        let got =
            broken(b"Ann,Lee,ann@x.com\nBob,\"Ray,bob@x.com\nCy,Lo,cy@x.com\r\nDi,Ng,di@x.com\n");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, 1);
        let (line, issue, reason) = &got[1];
        assert_eq!(*line, 2);
        assert_eq!(
            issue,
            "t.csv:2: column 2: expected a closing quote for the quote that opens here: it never closes and takes the rest of the file, 3 lines; the file is read as incomplete: nothing is flagged, deactivated or deleted"
        );
        assert_eq!(
            reason,
            "the quote opened at line 2 never closes: it takes the rest of the file, 3 lines"
        );
    }

    #[test]
    fn a_quote_that_swallows_rows_breaks_the_file_and_reading_goes_on() {
        let got =
            broken(b"Ann,\"Lee,ann@x.com\nBob,Ray,bob@x.com\nCy,\"Lo,cy@x.com\nDi,Ng,di@x.com\n");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, 1);
        assert!(
            got[0]
                .1
                .contains("takes 3 lines, 1 of which look like rows"),
            "{}",
            got[0].1
        );
        assert_eq!(
            got[0].2,
            "the quote opened at line 1 takes 3 lines that hold rows"
        );
        assert_eq!((got[1].0, got[1].1.as_str()), (4, "Di"));
    }

    #[test]
    fn a_note_over_several_lines_is_a_value_not_a_break() {
        let got = broken(
            b"Ann,\"first line\r\nsecond, with a comma\nthird \"\"quoted\"\"\",ann@x.com\nBob,x,bob@x.com\n",
        );
        assert_eq!(
            got.iter()
                .map(|(l, c, _)| (*l, c.as_str()))
                .collect::<Vec<_>>(),
            [(1, "Ann"), (4, "Bob")]
        );
    }

    #[test]
    fn a_layout_that_changes_part_way_breaks_the_file() {
        let got = broken(b"email,first,last\na@x.com,A,B\nlast,email,first\nB,b@x.com,C\n");
        assert_eq!(got[2].0, 3, "{got:?}");
        assert_eq!(
            got[2].2,
            "the layout changes at line 3: the header again with its columns in another order"
        );
        assert_eq!(got[3].1, "B", "reading goes on");
        let got = broken(b"Ann,Lee,ann@x.com\nBob;Ray;bob@x.com\n");
        assert!(
            got[1].1.starts_with("t.csv:2: expected one layout throughout: here is a row separated by `;` in a file separated by `,`"),
            "{got:?}"
        );
        // The same header twice, a one-column row with an address, a name with a `;`: no break.
        let fine = broken(
            b"email,first,last\na@x.com,A,B\nEmail,First,Last\nc@x.com\n\"Lee; Jr\",x,d@x.com\n",
        );
        assert!(
            fine.iter().all(|(_, _, reason)| reason.is_empty()),
            "{fine:?}"
        );
    }

    #[test]
    fn utf16_without_a_bom_is_refused_by_name() {
        let text = "First,Last,Email\r\nAnn,Lee,ann@x.com\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for (bytes, name) in [(le, "UTF-16LE"), (be, "UTF-16BE")] {
            let err = refusal(&bytes);
            assert!(
                matches!(&err, Error::UnsupportedEncoding { found, .. } if found.starts_with(name)),
                "{err}"
            );
            assert!(err.to_string().contains("save it as CSV UTF-8"), "{err}");
        }
        // One stray NUL is a control character in a field, not UTF-16.
        assert_eq!(rows(b"a\x00b,c\n", CsvFormat::default()).len(), 1);
    }

    #[test]
    fn expected_rows_counts_a_short_input_and_scales_a_long_one() {
        let short = b"First,Last,Email\n\nAnn,Lee,a@x.com\nBob,Ray,b@x.com\r\nCy,Lo,c@x.com";
        let table = Table::open("t.csv", &short[..], CsvFormat::default()).unwrap();
        assert_eq!(table.expected_rows(Some(short.len() as u64)), 3);
        let line = b"Ann,Lee,ann.lee@example.com,+44 7700 900123,\n";
        let long = line.repeat(10_000);
        let table = Table::open("t.csv", &long[..], CsvFormat::default()).unwrap();
        let expected = table.expected_rows(Some(long.len() as u64));
        assert!((9_900..=10_100).contains(&expected), "{expected}");
        // Without the size, the prefix's rows (the last one cut short).
        assert_eq!(table.expected_rows(None), SNIFF_BYTES.div_ceil(line.len()));
    }

    #[test]
    fn utf16_is_refused_by_name() {
        let err = Table::open("t.csv", &b"\xff\xfea\x00"[..], CsvFormat::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("UTF-16"), "{err}");
    }

    #[test]
    fn export_then_unescape_is_identity() {
        for v in ["=1+1", "'=x", "'abc", "''", "+44", "Ann", "", "-", "@a"] {
            assert_eq!(unescape_cell(&export_cell(v)), v, "{v:?}");
        }
    }
}
