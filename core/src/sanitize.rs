//! The one sanitiser for text from outside that a person reads.
//!
//! A name, an address, a server's error message: anything muster did not
//! write itself may try to rewrite what a reviewer sees. An ESC sequence can
//! erase the line above it and print a forged summary; a newline can start a
//! fake section; a right-to-left override can make `moc.elpmaxe@nna` read as
//! `ann@example.com`; a zero-width space makes two addresses look the same.
//! Every renderer (the text preview, `show`, conflict lists, the CLI's
//! warnings and errors, CSV export cells, the JSON plan) passes such text
//! through [`sanitize`], which writes these characters as visible escapes
//! instead of letting them act.
//!
//! Hand-written on purpose: the crates that strip ANSI sequences keep bidi
//! and zero-width characters, and stripping hides that something was there;
//! an escape shows it.

use std::borrow::Cow;
use std::fmt;

/// True for a character that is not shown as itself: C0 and C1 controls and
/// DEL; bidi embeddings, overrides, isolates and marks; zero-width and
/// other default-ignorable characters (soft hyphen, joiners, variation
/// selectors, fillers, tags); line and paragraph separators.
#[must_use]
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{0000}'..='\u{001F}' | '\u{007F}'..='\u{009F}'
        | '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
        | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// True for the bidi and invisible characters among [`is_hidden`]'s (the
/// controls excepted): never part of an address, whose text is a key.
#[must_use]
pub fn is_invisible(c: char) -> bool {
    is_hidden(c) && !c.is_control()
}

/// `text` with every [`is_hidden`] character written as an escape
/// (`\x1b`, `\n`, `\u{202e}`) and every backslash doubled, so an escape
/// in the output always means the character was there. Text that needs no
/// escape is borrowed, not copied.
///
/// ```
/// use muster_core::sanitize;
/// assert_eq!(sanitize("Ann"), "Ann");
/// assert_eq!(sanitize("Ann\x1b[2K\rSummary: 0 to delete"), "Ann\\x1b[2K\\rSummary: 0 to delete");
/// assert_eq!(sanitize("moc.elpmaxe\u{202e}"), "moc.elpmaxe\\u{202e}");
/// assert_eq!(sanitize("a\\b"), "a\\\\b");
/// ```
#[must_use]
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_hidden(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x100 && is_hidden(c) => {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        }
        c if is_hidden(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

/// [`sanitize`]d text, quoted when it could be mistaken for the structure
/// around it: empty, with spaces at either end, or holding a quote,
/// ` -> `, `;`, `(` or `)` (what the preview uses to separate values).
///
/// ```
/// use muster_core::sanitize_value;
/// assert_eq!(sanitize_value("Ann"), "Ann");
/// assert_eq!(sanitize_value(""), "\"\"");
/// assert_eq!(sanitize_value("Ann -> Eve"), "\"Ann -> Eve\"");
/// assert_eq!(sanitize_value(" Ann"), "\" Ann\"");
/// assert_eq!(sanitize_value("say \"hi\""), "\"say \\\"hi\\\"\"");
/// ```
#[must_use]
pub fn sanitize_value(text: &str) -> Cow<'_, str> {
    let structural = text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
        || text.contains(['"', ';', '(', ')'])
        || text.contains("->");
    if !structural {
        return sanitize(text);
    }
    let escaped = sanitize(text).replace('"', "\\\"");
    Cow::Owned(format!("\"{escaped}\""))
}

/// Shows outside text [`sanitize`]d through `Display` (`format!("{}",
/// Sanitized(name))`), without building a string first.
#[derive(Debug, Clone, Copy)]
pub struct Sanitized<'a>(pub &'a str);

impl fmt::Display for Sanitized<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&sanitize(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hidden_character_is_escaped_and_nothing_hidden_remains() {
        for c in (0u32..0x11_0000)
            .filter_map(char::from_u32)
            .filter(|c| is_hidden(*c))
        {
            let shown = sanitize(&format!("a{c}b")).into_owned();
            assert!(
                shown.starts_with("a\\") && shown.ends_with('b'),
                "{c:?}: {shown}"
            );
            assert!(!shown.chars().any(is_hidden), "{c:?}: {shown}");
        }
    }

    #[test]
    fn controls_bidi_and_zero_width_are_all_hidden() {
        for c in [
            '\x00', '\x1b', '\x7f', '\u{85}', '\u{9b}', '\u{200b}', '\u{200d}', '\u{202e}',
            '\u{2067}', '\u{feff}', '\u{2028}',
        ] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['a', 'é', 'ß', '中', ' ', '@', '😀'] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }
}
