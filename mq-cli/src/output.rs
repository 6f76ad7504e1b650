//! Text and JSON renderings: tables, times, durations, jobs.

use std::fmt::Write as _;
use std::time::Duration;

use mq::admin::{FailedAttempt, JobInfo, JobSummary};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// What a command prints: text for people, JSON for programs.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub json: Value,
}

/// Left-aligned columns, two spaces apart, under a header.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Whether `c` must not reach a terminal as it is: control characters (C0,
/// DEL and C1), which can move the cursor, clear the screen or send the
/// terminal commands, and the bidirectional controls, which reorder the
/// text around them so that what is shown differs from what is stored
/// (U+202E makes `gpj.exe` read as `exe.jpg`). Line and paragraph
/// separators break lines in some terminals, so they are escaped too.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Whether `c`, in multi-line text, must be escaped: as [`needs_escape`],
/// but line feeds are the text's own.
pub fn needs_escape_in_text(c: char) -> bool {
    c != '\n' && needs_escape(c)
}

/// `text` with the characters of [`needs_escape`] written as Rust escapes
/// (`\n`, `\u{202e}`), for text that people read. Names, channels and
/// errors come from whoever spawned the jobs, so they may hold anything.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A line of JSON text (a payload, pretty-printed) with the characters of
/// [`needs_escape`] that JSON does not escape itself (bidi controls, C1
/// controls) written as JSON escapes (`\u202e`), so that it stays valid
/// JSON. A line that is not JSON gets [`escape`] instead.
pub fn escape_json_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if needs_escape(c) {
            // Every such character is in the Basic Multilingual Plane.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// A value for a table cell: escaped (see [`escape`]), at most `max`
/// characters.
pub fn cell(text: &str, max: usize) -> String {
    let escaped = escape(text);
    if escaped.chars().count() > max {
        let mut cut: String = escaped.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        escaped
    }
}

/// `n` and the noun that agrees with it: `1 job`, `2 jobs`, `0 jobs`.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A time for people: UTC, to the second.
pub fn time(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    let utc = utc.replace_nanosecond(0).unwrap_or(utc);
    utc.format(&Rfc3339).unwrap_or_else(|_| utc.to_string())
}

/// A time for programs: RFC 3339 in UTC, to the microsecond.
pub fn time_json(at: OffsetDateTime) -> Value {
    let utc = at.to_offset(UtcOffset::UTC);
    Value::String(utc.format(&Rfc3339).unwrap_or_else(|_| utc.to_string()))
}

/// A duration for people: `350ms`, `4.2s`, `3m 12s`, `2h 5m`, `3d 4h`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    if secs < 60 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, unit) in units {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 || (!parts.is_empty() && rest == 0) {
            break;
        }
    }
    parts.join(" ")
}

/// Reads `7d`, `12h`, `1h30m`, `90s`, `2w`: numbers each followed by a unit
/// (s, m, h, d, w).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "{text:?} is not a duration: write a number and a unit (s, m, h, d, w), e.g. 7d, 12h, 1h30m"
        )
    };
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(invalid()),
        };
        let n: u64 = number.parse().map_err(|_| invalid())?;
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
        number.clear();
        any = true;
    }
    if !any || !number.is_empty() {
        return Err(invalid());
    }
    Ok(Duration::from_secs(total))
}

/// A job's channel for people: its name, and its arguments if it has some.
pub fn channel(name: &str, args: &str) -> String {
    if args.is_empty() {
        cell(name, 40)
    } else {
        format!("{} ({})", cell(name, 30), cell(args, 20))
    }
}

/// `attempt/allowed`: which attempt a job is at, out of how many.
pub fn attempts(attempt: i32, retries: i32) -> String {
    format!("{attempt}/{}", i64::from(retries) + 1)
}

pub fn failed_attempt_json(error: &FailedAttempt) -> Value {
    json!({
        "attempt": error.attempt,
        "at": time_json(error.at),
        "error": error.error,
    })
}

pub fn summary_json(job: &JobSummary) -> Value {
    json!({
        "id": job.id.to_string(),
        "seq": job.seq,
        "state": job.state.as_str(),
        "name": job.name,
        "channel_name": job.channel_name,
        "channel_args": job.channel_args,
        "ordered": job.ordered,
        "attempt": job.attempt,
        "retries": job.retries,
        "run_at": time_json(job.run_at),
        "created_at": time_json(job.created_at),
        "last_error": job.last_error.as_ref().map(failed_attempt_json),
    })
}

pub fn info_json(job: &JobInfo) -> Value {
    // The JSON payload is embedded as JSON, not as a string of JSON.
    let payload_json = job
        .payload_json
        .as_deref()
        .map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())));
    json!({
        "id": job.id.to_string(),
        "seq": job.seq,
        "state": job.state.as_str(),
        "name": job.name,
        "channel_name": job.channel_name,
        "channel_args": job.channel_args,
        "ordered": job.ordered,
        "priority": job.priority,
        "unique_key": job.unique_key,
        "trace_context": job.trace_context,
        "ordered_ahead": job.ordered_ahead,
        "unique_for_secs": job.unique_for.map(|period| period.as_secs_f64()),
        "attempt": job.attempt,
        "retries": job.retries,
        "retry_backoff_secs": job.retry_backoff.as_secs_f64(),
        "retry_backoff_max_secs": job.retry_backoff_max.map(|max| max.as_secs_f64()),
        "retry_jitter": job.retry_jitter,
        "timeout_secs": job.timeout.map(|timeout| timeout.as_secs_f64()),
        "run_at": time_json(job.run_at),
        "commit_deadline": job.commit_deadline.map(time_json),
        "created_at": time_json(job.created_at),
        "tick": job.tick.map(time_json),
        "payload_json": payload_json,
        "payload_bytes_hex": job.payload_bytes.as_deref().map(hex),
        "errors": job.errors.iter().map(failed_attempt_json).collect::<Vec<_>>(),
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(1_209_600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "7", "d", "7x", "1.5h", "-1d", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_print_for_people() {
        assert_eq!(duration(Duration::from_millis(350)), "350ms");
        assert_eq!(duration(Duration::from_millis(4_200)), "4.2s");
        assert_eq!(duration(Duration::from_secs(192)), "3m 12s");
        assert_eq!(duration(Duration::from_secs(3_600)), "1h");
        assert_eq!(duration(Duration::from_secs(7_500)), "2h 5m");
        assert_eq!(
            duration(Duration::from_secs(3 * 86_400 + 4 * 3_600 + 5)),
            "3d 4h"
        );
    }

    #[test]
    fn cells_are_escaped_and_cut() {
        assert_eq!(cell("a\nb", 10), "a\\nb");
        assert_eq!(cell("abcdef", 4), "abc…");
        assert_eq!(cell("ß🦀", 2), "ß🦀");
    }

    #[test]
    fn controls_and_bidi_controls_are_escaped() {
        assert_eq!(escape("gpj\u{202e}.exe"), "gpj\\u{202e}.exe");
        for c in [
            '\u{0}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{61c}', '\u{200e}', '\u{200f}',
            '\u{202a}', '\u{202d}', '\u{2066}', '\u{2069}', '\u{2028}',
        ] {
            let escaped = escape(&c.to_string());
            assert!(escaped.starts_with('\\'), "{c:?} became {escaped:?}");
            assert!(escaped.chars().all(|c| c.is_ascii_graphic()), "{escaped:?}");
        }
        assert_eq!(
            escape("ß🦀 \u{200d}"),
            "ß🦀 \u{200d}",
            "joiners are left alone"
        );
        assert_eq!(
            escape_json_text("  \"n\": \"a\u{202e}b\u{85}\""),
            "  \"n\": \"a\\u202eb\\u0085\""
        );
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1u32, "job", "jobs"), "1 job");
        assert_eq!(count(0u32, "job", "jobs"), "0 jobs");
        assert_eq!(count(2u64, "retry", "retries"), "2 retries");
    }

    #[test]
    fn tables_align_columns() {
        let text = table(
            &["A", "LONGER"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(text, "A    LONGER\nxyz  1\nq    22\n");
    }
}
