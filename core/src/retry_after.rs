//! Parsing the HTTP `Retry-After` header (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` value: either delay-seconds (`"7"`) or an HTTP date
/// (`"Wed, 21 Oct 2026 07:28:00 GMT"`).
///
/// `now` is passed in so this stays pure and testable. A date in the past
/// means "retry now" (`Duration::ZERO`). Garbage gives `None`, so the caller
/// falls back to its own backoff. Clamping to a sane maximum is the caller's
/// policy.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use muster_core::parse_retry_after;
/// assert_eq!(parse_retry_after("7", SystemTime::now()), Some(Duration::from_secs(7)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_form() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("99999999999999999999999", now), None);
    }

    #[test]
    fn http_date_form() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let at = httpdate::parse_http_date(date).unwrap();
        let now = at - Duration::from_secs(30);
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(30)));
        // A date in the past: retry now.
        assert_eq!(
            parse_retry_after(date, at + Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
        // The obsolete RFC 850 and asctime forms are accepted too.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now),
            None
        );
    }
}
