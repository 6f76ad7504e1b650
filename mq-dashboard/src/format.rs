//! Text for people: durations, times, byte dumps, and the encoding of
//! values put into URLs.

use std::fmt::Write;
use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};

/// A duration at the precision a person reads: `850 ms`, `42 s`,
/// `3 min 20 s`, `5 h 12 min`, `2 d 3 h`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{} ms", d.as_millis());
    }
    let (days, hours, mins, secs) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    // The larger unit, and the smaller one when it is not zero.
    let (major, minor) = match (days, hours, mins) {
        (0, 0, 0) => return format!("{secs} s"),
        (0, 0, _) => (format!("{mins} min"), (secs, "s")),
        (0, _, _) => (format!("{hours} h"), (mins, "min")),
        _ => (format!("{days} d"), (hours, "h")),
    };
    match minor {
        (0, _) => major,
        (n, unit) => format!("{major} {n} {unit}"),
    }
}

/// A time in UTC, to the second: `2026-11-30 14:05:56`.
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// How far `at` is from `now`: `3 min 20 s ago`, `in 5 s`, `now`.
pub(crate) fn relative(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let delta = now - at;
    if delta.whole_seconds() == 0 {
        return "now".to_owned();
    }
    let magnitude = Duration::try_from(delta.abs()).unwrap_or(Duration::MAX);
    if delta.is_positive() {
        format!("{} ago", duration(magnitude))
    } else {
        format!("in {}", duration(magnitude))
    }
}

/// Bytes as hexadecimal, 32 to a line, at most `max` of them.
pub(crate) fn hex(bytes: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(max) * 3);
    for (i, byte) in bytes.iter().take(max).enumerate() {
        if i > 0 {
            out.push(if i % 32 == 0 { '\n' } else { ' ' });
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// A value for a URL's query string or path segment: everything but
/// unreserved characters percent-encoded.
pub(crate) fn url_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A query string from pairs, skipping empty values: `?a=1&b=x%20y`, or
/// nothing.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&url_component(value));
    }
    out
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub(crate) fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

/// A number with thousands separated: `1 234 567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_secs(42)), "42 s");
        assert_eq!(duration(Duration::from_secs(200)), "3 min 20 s");
        assert_eq!(duration(Duration::from_secs(5 * 3600 + 720)), "5 h 12 min");
        assert_eq!(
            duration(Duration::from_secs(2 * 86_400 + 3 * 3600)),
            "2 d 3 h"
        );
        assert_eq!(duration(Duration::from_secs(60)), "1 min");
        assert_eq!(duration(Duration::from_secs(3 * 3600 + 59)), "3 h");
    }

    #[test]
    fn times_are_utc() {
        let at = OffsetDateTime::from_unix_timestamp(1_796_047_556).unwrap();
        assert_eq!(timestamp(at), "2026-11-30 14:05:56");
        let later = at + time::Duration::seconds(200);
        assert_eq!(relative(at, later), "3 min 20 s ago");
        assert_eq!(relative(later, at), "in 3 min 20 s");
        assert_eq!(relative(at, at), "now");
    }

    #[test]
    fn url_values_are_encoded() {
        assert_eq!(url_component("<a b>&\"/é"), "%3Ca%20b%3E%26%22%2F%C3%A9");
        assert_eq!(
            query(&[("state", "failed"), ("channel", ""), ("name", "a&b")]),
            "?state=failed&name=a%26b"
        );
        assert_eq!(query(&[("channel", "")]), "");
    }

    #[test]
    fn bytes_and_counts() {
        assert_eq!(hex(&[0, 1, 0xab], 2), "00 01");
        assert_eq!(hex(&[7; 33], 100).lines().count(), 2);
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(count(999), "999");
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }
}
