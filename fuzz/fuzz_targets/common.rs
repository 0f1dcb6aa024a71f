//! What every reader's snapshot must hold, whatever the input.

use muster_core::{DirectorySnapshot, is_hidden};
use muster_directory::{NOTES_MAX_CHARS, TEXT_MAX_CHARS};

/// The field rules held: no entry carries an over-long, hidden or
/// undecodable value, a withheld field is empty, no address is claimed twice.
pub fn check(snapshot: &DirectorySnapshot) {
    let mut seen = std::collections::HashSet::new();
    for e in &snapshot.entries {
        for a in e.addresses() {
            assert!(seen.insert(a.normalized().to_owned()), "{a} claimed twice");
        }
        for (value, max, free) in [
            (&e.first_name, TEXT_MAX_CHARS, false),
            (&e.last_name, TEXT_MAX_CHARS, false),
            (&e.phone, TEXT_MAX_CHARS, false),
            (&e.company, TEXT_MAX_CHARS, false),
            (&e.department, TEXT_MAX_CHARS, false),
            (&e.notes, NOTES_MAX_CHARS, true),
        ] {
            let Some(value) = value else { continue };
            assert!(value.chars().count() <= max, "{value:?}");
            let odd = |c: char| {
                let joiner = matches!(c, '\u{200c}' | '\u{200d}');
                let line = free && matches!(c, '\n' | '\r' | '\t');
                c == '\u{fffd}' || (is_hidden(c) && !joiner && !line)
            };
            assert!(!value.chars().any(odd), "{value:?}");
        }
    }
    // Every issue prints on one line, whatever it quotes.
    for issue in &snapshot.issues {
        let shown = issue.to_string();
        assert!(!shown.contains(['\n', '\r', '\x1b']), "{shown:?}");
    }
}
