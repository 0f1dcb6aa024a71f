//! Parsing single cell values; a bad value becomes a [`SourceIssue`] for its line.

use muster_core::{AddressError, EmailAddress, Location, SourceIssue};

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
        EmailAddress::parse(value)
            .map_err(|e| Box::new(self.issue(field, value, &address_expected(&e))))
    }
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
