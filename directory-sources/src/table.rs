//! Reading rows out of whatever Excel saved: encodings, delimiters, BOMs,
//! blank lines, trailing empty columns.
//!
//! Every CSV source in this crate reads through [`Table`], so each quirk is
//! handled once. The input is read incrementally from any [`io::Read`]: only
//! a prefix is buffered (to sniff the delimiter), and each field is decoded on
//! its own, so a Windows-1252 file streams just like a UTF-8 one.

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
    /// UTF-8 when there is a BOM or the first non-ASCII field is valid UTF-8,
    /// Windows-1252 when the first non-ASCII field is not.
    #[default]
    Auto,
    /// UTF-8 (a BOM is skipped); a field that is not valid UTF-8 is an issue.
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
    /// A record that could not be decoded; the caller records it and goes on.
    Bad(SourceIssue),
    /// End of input.
    End,
}

/// A CSV reader over any `io::Read`, with detection done on a prefix.
pub(crate) struct Table<R: Read> {
    file: String,
    records: Records<io::Chain<io::Cursor<Vec<u8>>, R>>,
    decoding: Decoding,
    /// Lines with an `@` in the prefix, and the prefix's length, for [`Table::expected_rows`].
    prefix_rows: usize,
    prefix_len: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Decoding {
    Undecided,
    Utf8,
    Windows1252,
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
        let had_bom = prefix.starts_with(&[0xEF, 0xBB, 0xBF]);
        if had_bom {
            prefix.drain(..3);
        }
        let decoding = match format.encoding {
            Encoding::Utf8 => Decoding::Utf8,
            Encoding::Windows1252 => Decoding::Windows1252,
            Encoding::Auto if had_bom => Decoding::Utf8,
            Encoding::Auto => Decoding::Undecided,
        };
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

    /// The record last read as text, when every field of it is valid text in
    /// the file's encoding and decodes to itself (UTF-8, or ASCII in either);
    /// the encoding is decided as [`decode_into`] would have decided it.
    fn whole_record(&mut self) -> Option<&str> {
        let text = std::str::from_utf8(self.records.record()).ok()?;
        // Valid as a whole, but a field could still end inside a character.
        if !self
            .records
            .spans()
            .all(|(_, end)| text.is_char_boundary(end))
        {
            return None;
        }
        match self.decoding {
            Decoding::Utf8 => {}
            _ if text.is_ascii() => {}
            Decoding::Undecided => self.decoding = Decoding::Utf8,
            Decoding::Windows1252 => return None,
        }
        Some(text)
    }

    /// Reads the next non-blank record into `row`.
    pub(crate) fn next_row(&mut self, row: &mut Row) -> Result<Next, Error> {
        loop {
            let Some(line) = self
                .records
                .next()
                .map_err(|e| Error::read(&self.file, e))?
            else {
                return Ok(Next::End);
            };
            row.line = line;
            row.clear();
            if let Some(text) = self.whole_record() {
                // Every cell is valid text: one copy for the row.
                row.text.push_str(text);
                for (start, end) in self.records.spans() {
                    row.push_cell(start, end);
                }
                if !row.is_blank() {
                    return Ok(Next::Row);
                }
                continue;
            }
            for (index, bytes) in self.records.fields().enumerate() {
                let start = row.text.len();
                let decoded = decode_into(&mut self.decoding, bytes, &mut row.text);
                row.push_cell(start, row.text.len());
                if let Err(bad) = decoded {
                    let issue = SourceIssue::new(
                        Location::line(self.file.as_str(), row.line),
                        "text in UTF-8 (or set the encoding to Windows-1252)",
                    )
                    .with_field(format!("column {}", index + 1))
                    .with_value(&bad);
                    return Ok(Next::Bad(issue));
                }
            }
            if !row.is_blank() {
                return Ok(Next::Row);
            }
        }
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
    /// The 1-based line of `buf[pos]`.
    line: u64,
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
            line: 1,
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
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            match self.buf[self.pos] {
                b'\n' => self.line += 1,
                b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let start = self.line;
        let (mut nout, mut nend) = (0, 0);
        loop {
            self.fill()?;
            let input = &self.buf[self.pos..self.len];
            let (result, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            self.line += input[..nin].iter().filter(|&&b| b == b'\n').count() as u64;
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
                    return Ok(Some(start));
                }
                csv_core::ReadRecordResult::End => return Ok(None),
            }
        }
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

/// Decodes one field, deciding the file's encoding at its first non-ASCII field.
/// On failure returns a lossy rendering of the bytes for the issue.
fn decode_into(decoding: &mut Decoding, bytes: &[u8], out: &mut String) -> Result<(), String> {
    if bytes.is_ascii() {
        // Both encodings agree on ASCII, and the check is the fast path for most fields.
        out.push_str(std::str::from_utf8(bytes).map_err(|_| String::new())?);
        return Ok(());
    }
    if *decoding == Decoding::Undecided {
        *decoding = if std::str::from_utf8(bytes).is_ok() {
            Decoding::Utf8
        } else {
            Decoding::Windows1252
        };
    }
    match *decoding {
        Decoding::Windows1252 => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            out.push_str(&text);
            Ok(())
        }
        _ => match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                Ok(())
            }
            Err(_) => Err(String::from_utf8_lossy(bytes).into_owned()),
        },
    }
}

/// How many lines of `prefix` contain an `@` (rows that can hold an address).
fn lines_with_address(prefix: &[u8]) -> usize {
    let (mut rows, mut seen) = (0, false);
    for &b in prefix {
        match b {
            b'@' => seen = true,
            b'\n' => rows += usize::from(std::mem::take(&mut seen)),
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

    #[test]
    fn invalid_utf8_after_utf8_is_an_issue_not_a_panic() {
        let mut table = Table::open(
            "t.csv",
            &b"Jos\xc3\xa9\nbad\xff\nok\n"[..],
            CsvFormat::default(),
        )
        .unwrap();
        let mut row = Row::default();
        assert!(matches!(table.next_row(&mut row).unwrap(), Next::Row));
        match table.next_row(&mut row).unwrap() {
            Next::Bad(issue) => assert_eq!(issue.location, Location::line("t.csv", 2)),
            _ => panic!("expected an issue"),
        }
        assert!(matches!(table.next_row(&mut row).unwrap(), Next::Row));
        assert_eq!(row.get(0), "ok");
    }

    #[test]
    fn a_character_split_across_two_fields_is_not_text_in_either() {
        // Together the two fields are valid UTF-8 ("é"); each alone is not.
        let got = rows(b"a\xc3,\xa9b\n", CsvFormat::default());
        assert_eq!(got[0].1, ["a\u{c3}", "\u{a9}b"], "read as Windows-1252");
        let mut table = Table::open(
            "t.csv",
            &b"\xc3\xa9\na\xc3,\xa9b\n"[..],
            CsvFormat::default(),
        )
        .unwrap();
        let mut row = Row::default();
        assert!(matches!(table.next_row(&mut row).unwrap(), Next::Row));
        assert!(matches!(table.next_row(&mut row).unwrap(), Next::Bad(_)));
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
