//! Building request URLs: every path segment is percent-encoded, so an
//! address like `o'brien+tag@x.com` or `a/b@x.com` stays one segment.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

/// Everything except RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
/// Stricter than the URL spec requires for a path segment (which allows
/// `@`, `+`, `'`), because servers disagree on what `+` means in a path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment.
///
/// ```
/// assert_eq!(muster_gateway::encode_segment("a+b@x.com"), "a%2Bb%40x.com");
/// assert_eq!(muster_gateway::encode_segment("o'brien@x.com"), "o%27brien%40x.com");
/// ```
#[must_use]
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// `base` followed by the encoded `segments`.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    let mut path = base.path().trim_end_matches('/').to_owned();
    for s in segments {
        path.push('/');
        path.push_str(&encode_segment(s));
    }
    url.set_path(&path);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_addresses_stay_one_segment() {
        let base = Url::parse("https://us1.example/api/v1/").unwrap();
        let cases = [
            ("a+b@x.com", "a%2Bb%40x.com"),
            ("o'brien@x.com", "o%27brien%40x.com"),
            ("we#1@x.com", "we%231%40x.com"),
            ("100%@x.com", "100%25%40x.com"),
            ("a/b@x.com", "a%2Fb%40x.com"),
            ("jörg@bücher.de", "j%C3%B6rg%40b%C3%BCcher.de"),
            ("first.last-x_y~z@x.com", "first.last-x_y~z%40x.com"),
        ];
        for (raw, encoded) in cases {
            let url = join(&base, &["orgs", "x.com", "users", raw]);
            assert_eq!(
                url.path(),
                format!("/api/v1/orgs/x.com/users/{encoded}"),
                "{raw}"
            );
            assert_eq!(url.path_segments().unwrap().count(), 6, "{raw}");
        }
    }
}
