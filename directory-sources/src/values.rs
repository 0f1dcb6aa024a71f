//! Parsing single cell values; a bad value becomes a [`SourceIssue`] for its line.
//!
//! Two kinds of bad value, treated differently on purpose:
//! - the **identity** (the primary address) cannot be read: the record is
//!   unread, and unread records hold deletions (anyone could be on it);
//! - **any other field** is unusable (too long, control, bidi or invisible
//!   characters, undecodable text): a field issue. The record is read, and
//!   that one field of that one account is left as the gateway has it
//!   ([`DirectoryEntry::withheld`]). Were it an unread record, anybody who
//!   can edit their own display name could freeze offboarding for everyone.
//!
//! The same rules ([`vet_entry`]) apply to every reader: the CSV formats,
//! LDAP and Graph all hand their entries to the one collector, which vets
//! each entry it keeps.

use muster_core::{
    AddressError, DirectoryEntry, EmailAddress, Field, Location, SourceIssue, is_invisible,
};

/// The longest name, company, department or phone number a source may set,
/// in characters. Longer values are field issues: the field is left as the
/// gateway has it. (AD allows 64 characters for a given name and surname,
/// Entra ID 64 for names and department: 256 leaves room for every real one.)
pub const TEXT_MAX_CHARS: usize = 256;

/// The longest notes (AD `info`) a source may set, in characters.
pub const NOTES_MAX_CHARS: usize = 1024;

/// What the decoder puts where the file's bytes were not text in its encoding.
pub(crate) const UNDECODABLE: char = '\u{FFFD}';

/// What a valid mobile number looks like, for messages.
pub(crate) const MOBILE_EXPECTED: &str =
    "an international phone number like +447700900123 (a `+` and 7 to 15 digits)";

/// Builds issues for one line of one file.
pub(crate) struct At<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u64,
}

impl At<'_> {
    /// An issue at this line about `field` holding `value`.
    pub(crate) fn issue(&self, field: &str, value: &str, expected: &str) -> SourceIssue {
        SourceIssue::new(Location::line(self.file, self.line), expected)
            .with_field(field)
            .with_value(value)
    }

    /// Parses an address, or explains why it is not one.
    pub(crate) fn address(
        &self,
        field: &str,
        value: &str,
    ) -> Result<EmailAddress, Box<SourceIssue>> {
        parse_address(value).map_err(|expected| Box::new(self.issue(field, value, &expected)))
    }
}

/// Added to an alias's issue: one alias the source cannot state makes the
/// whole list unknown, so none of that account's aliases is added or
/// removed ([`DirectoryEntry::withheld`]). Dropping just that one would
/// remove it from the gateway, and mail to it would bounce.
pub(crate) const ALIASES_KEPT: &str = "; the aliases are left as they are on the gateway";

impl At<'_> {
    /// Parses an alias of `entry`; when it is not an address, the entry's
    /// aliases are withheld and the issue says so.
    pub(crate) fn alias(
        &self,
        entry: &mut DirectoryEntry,
        field: &str,
        value: &str,
    ) -> Result<EmailAddress, Box<SourceIssue>> {
        self.address(field, value).map_err(|mut issue| {
            entry.withheld.insert(Field::Aliases);
            issue.expected.push_str(ALIASES_KEPT);
            issue
        })
    }
}

/// Parses an address read from a file, or says what it should have been.
/// Refuses text the file's encoding could not decode: a guessed address
/// could be someone else's.
pub(crate) fn parse_address(value: &str) -> Result<EmailAddress, String> {
    if value.contains(UNDECODABLE) {
        return Err("an email address like ann@example.com (it holds bytes that are not text in the file's encoding)".to_owned());
    }
    EmailAddress::parse(value).map_err(|e| address_expected(&e))
}

/// The most characters `field` may hold, and whether line breaks and tabs
/// belong in it (notes are free text, AD's `info` has several lines).
fn limits(field: Field) -> (usize, bool) {
    match field {
        Field::Notes => (NOTES_MAX_CHARS, true),
        _ => (TEXT_MAX_CHARS, false),
    }
}

/// Why `value` cannot be `field`'s value, as what was expected; `None` when it can.
///
/// The joiners U+200C and U+200D are allowed: Persian, Indic and emoji
/// names need them, and the sanitiser shows them when a person reads them.
#[must_use]
pub(crate) fn text_problem(field: Field, value: &str) -> Option<String> {
    let (max, free_text) = limits(field);
    let kept = "; this field is left as it is on the gateway";
    let count = value.chars().count();
    if count > max {
        return Some(format!("at most {max} characters (it has {count}){kept}"));
    }
    let odd = value.chars().find(|&c| {
        if c == '\u{200C}' || c == '\u{200D}' {
            return false;
        }
        let line_break = matches!(c, '\n' | '\r' | '\t');
        c == UNDECODABLE || (c.is_control() && !(free_text && line_break)) || is_invisible(c)
    })?;
    let what = if odd == UNDECODABLE {
        "bytes that are not text in the file's encoding".to_owned()
    } else if odd.is_control() {
        format!("a control character (U+{:04X})", u32::from(odd))
    } else {
        format!("a bidi or invisible character (U+{:04X})", u32::from(odd))
    };
    Some(format!("text without {what}{kept}"))
}

/// Applies the field rules to every text field and list of `entry`: an
/// unusable value is removed, its field marked [withheld](DirectoryEntry::withheld),
/// and reported as `(field, value, expected)`. A list with one bad item is
/// withheld whole: the gateway's list is then left as it is, rather than
/// losing the item the source could not state.
pub(crate) fn vet_entry(entry: &mut DirectoryEntry) -> Vec<(Field, String, String)> {
    let mut found = Vec::new();
    for (field, slot) in [
        (Field::FirstName, &mut entry.first_name),
        (Field::LastName, &mut entry.last_name),
        (Field::Phone, &mut entry.phone),
        (Field::Company, &mut entry.company),
        (Field::Department, &mut entry.department),
        (Field::Notes, &mut entry.notes),
    ] {
        if let Some(problem) = slot.as_deref().and_then(|v| text_problem(field, v)) {
            let value = slot.take().unwrap_or_default();
            entry.withheld.insert(field);
            found.push((field, value, problem));
        }
    }
    for (field, list) in [
        (Field::Groups, &mut entry.member_of),
        (Field::AllowSenders, &mut entry.allow_senders),
        (Field::BlockSenders, &mut entry.block_senders),
    ] {
        let bad = list
            .iter()
            .find_map(|item| Some((item.clone(), text_problem(field, item)?)));
        if let Some((value, problem)) = bad {
            list.clear();
            entry.withheld.insert(field);
            found.push((field, value, problem));
        }
    }
    found
}

/// What an address should have been, without repeating the (possibly huge) value.
pub(crate) fn address_expected(error: &AddressError) -> String {
    let why = match error {
        AddressError::Empty => "it is empty",
        AddressError::MissingAt(_) => "it has no `@`",
        AddressError::EmptyLocal(_) => "nothing before the `@`",
        AddressError::EmptyDomain(_) => "nothing after the `@`",
        AddressError::Whitespace(_) => "it contains whitespace",
        AddressError::ControlCharacter(_) => "it contains a control character",
        AddressError::ForbiddenCharacter { .. } => "it contains a character addresses cannot have",
        AddressError::LocalTooLong(_) => "the part before the `@` is over 64 octets",
        AddressError::DomainTooLong(_) | AddressError::AddressTooLong(_) => "it is too long",
        AddressError::BadLabel(_) | AddressError::InvalidIdn(_) => "the domain is malformed",
        AddressError::Unqualified(_) => "the domain is not fully qualified",
        AddressError::BadDot(_) => "a dot is misplaced before the `@`",
        _ => "it is not a valid address",
    };
    format!("an email address like ann@example.com ({why})")
}

/// Normalises a mobile number: `+` then digits, spaces removed.
///
/// Returns `None` for anything else (a national number without prefix,
/// letters, an address in the wrong column).
pub(crate) fn mobile(value: &str) -> Option<String> {
    // One pass over the bytes into a stack buffer; only a valid number is allocated.
    const MAX_DIGITS: usize = 15;
    let rest = value.trim_start_matches(' ').strip_prefix('+')?;
    let mut compact = [b'+'; MAX_DIGITS + 1];
    let mut len = 1;
    for b in rest.bytes().filter(|&b| b != b' ') {
        if !b.is_ascii_digit() || len > MAX_DIGITS {
            return None;
        }
        compact[len] = b;
        len += 1;
    }
    let compact = std::str::from_utf8(&compact[..len]).ok()?;
    (len > 7).then(|| compact.to_owned())
}

/// Reads a yes/no cell the ways spreadsheets and directories spell it.
pub(crate) fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "enabled" | "active" => Some(true),
        "false" | "no" | "n" | "0" | "disabled" | "inactive" => Some(false),
        _ => None,
    }
}

/// Splits a list cell on `separator`, dropping blank items.
pub(crate) fn list(value: &str, separator: Option<char>) -> impl Iterator<Item = &str> {
    let parts: Box<dyn Iterator<Item = &str>> = match separator {
        Some(sep) => Box::new(value.split(sep)),
        None => Box::new(std::iter::once(value)),
    };
    parts.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_are_international_with_spaces_removed() {
        assert_eq!(mobile("+44 7700 900123").as_deref(), Some("+447700900123"));
        assert_eq!(mobile("07700 900123"), None);
        assert_eq!(mobile("+44-7700"), None);
        assert_eq!(mobile("+"), None);
        assert_eq!(mobile("+1234567890123456"), None);
    }

    #[test]
    fn flags_and_lists() {
        assert_eq!(flag("Yes"), Some(true));
        assert_eq!(flag("DISABLED"), Some(false));
        assert_eq!(flag("maybe"), None);
        assert_eq!(list(" a, ,b ", Some(',')).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(list("a,b", None).collect::<Vec<_>>(), ["a,b"]);
    }
}
