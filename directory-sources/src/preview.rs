//! Writing entries back out as a Standard CSV preview that is safe to open in Excel.
//!
//! Names and addresses come from directories that outsiders can write to (a
//! contact's display name, a self-service profile): a cell such as
//! `=HYPERLINK(…)` must stay text in a reviewer's spreadsheet. Every cell
//! goes through [`muster_core::neutralize_cell`]; the Standard CSV reader
//! undoes it, so a preview reads back as the entries it was written from.

use std::io::Write;

use muster_core::DirectoryEntry;

use crate::error::Error;
use crate::table::export_cell;

/// Writes `entries` as Standard CSV (current layout, with a header row):
/// First Name, Last Name, Primary Email, Mobile, Alias 1…N.
///
/// ```
/// use muster_core::DirectoryEntry;
/// use muster_directory::write_standard_csv;
/// let entry = DirectoryEntry::new("ann@example.com".parse()?).with_names("=cmd()", "Lee");
/// let mut out = Vec::new();
/// write_standard_csv(&[entry], &mut out)?;
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "First Name,Last Name,Primary Email,Mobile\n'=cmd(),Lee,ann@example.com,\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Write`] when the writer fails.
pub fn write_standard_csv(entries: &[DirectoryEntry], output: impl Write) -> Result<(), Error> {
    let aliases = entries.iter().map(|e| e.aliases.len()).max().unwrap_or(0);
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(output);
    let mut header: Vec<String> = ["First Name", "Last Name", "Primary Email", "Mobile"]
        .map(String::from)
        .to_vec();
    header.extend((1..=aliases).map(|i| format!("Alias {i}")));
    writer.write_record(&header).map_err(Error::write)?;
    for entry in entries {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let cells = [
            text(&entry.first_name),
            text(&entry.last_name),
            entry.primary_email.as_str().to_owned(),
            text(&entry.mobile),
        ]
        .into_iter()
        .chain(entry.aliases.iter().map(|a| a.as_str().to_owned()));
        writer
            .write_record(cells.map(|c| export_cell(&c).into_owned()))
            .map_err(Error::write)?;
    }
    writer.flush().map_err(Error::Write)
}
