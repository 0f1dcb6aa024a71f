//! Neutralising spreadsheet formulas in exported cells (CSV injection).

use std::borrow::Cow;

/// Characters that make a spreadsheet treat a cell as a formula or command
/// (OWASP "CSV Injection"): `=`, `+`, `-`, `@`, tab and carriage return.
pub const DANGEROUS_LEADING: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Makes a value safe to put in a CSV cell that someone will open in Excel.
///
/// A value starting with one of [`DANGEROUS_LEADING`] is prefixed with a
/// single quote, which spreadsheets show as text and do not evaluate. Other
/// values are returned unchanged (no allocation). Names and addresses from a
/// directory are attacker-controlled input: a display name of
/// `=HYPERLINK(...)` must not become a live link in a reviewer's preview.
///
/// ```
/// use muster_core::neutralize_cell;
/// assert_eq!(neutralize_cell("=1+1"), "'=1+1");
/// assert_eq!(neutralize_cell("Ann"), "Ann");
/// ```
#[must_use]
pub fn neutralize_cell(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some(c) if DANGEROUS_LEADING.contains(&c) => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dangerous_leading_character_is_neutralised() {
        for (input, expected) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+447700900123", "'+447700900123"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
        ] {
            assert_eq!(neutralize_cell(input), expected, "{input:?}");
        }
    }

    #[test]
    fn safe_values_are_borrowed_unchanged() {
        for input in ["", "Ann", "ann@example.com", "a=b", " =1", "'quoted"] {
            assert!(matches!(neutralize_cell(input), Cow::Borrowed(s) if s == input));
        }
    }
}
