//! What a payload may be: valid JSON (when given as text), no NUL
//! character (PostgreSQL text cannot hold one), and no larger than the
//! payload limit.
//!
//! Payloads are meant to be small: the arguments of a job, a few kilobytes,
//! with large data kept elsewhere (a table, an object store) and referred
//! to by key. A claim reads the payloads of a whole batch of jobs at once,
//! so a runner holding 100 jobs of 64 MiB holds 6 GiB. The limit guards
//! against the mistake of putting a file in a payload; it does not make
//! large payloads a good idea.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// The payload limit until [`set_payload_limit`] changes it: 64 MiB, the
/// JSON text and the binary payload together. Far below PostgreSQL's 1 GB
/// per value and far above what a job should carry: a guard against
/// mistakes, to be lowered where payloads are known to be small.
pub const DEFAULT_PAYLOAD_LIMIT: usize = 64 * 1024 * 1024;

static PAYLOAD_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_PAYLOAD_LIMIT);

/// Sets the largest payload, in bytes (JSON text and binary payload
/// together), that this process spawns or saves in a checkpoint; larger
/// ones are refused with [`Error::PayloadTooLarge`] and nothing is written.
/// It applies to the whole process, whatever the backend.
pub fn set_payload_limit(bytes: usize) {
    PAYLOAD_LIMIT.store(bytes, Ordering::Relaxed);
}

/// The largest payload this process spawns, in bytes (see
/// [`set_payload_limit`]).
pub fn payload_limit() -> usize {
    PAYLOAD_LIMIT.load(Ordering::Relaxed)
}

/// Checks a payload before it is written: `json` is its JSON text, already
/// known to be valid if `json_checked` (it came from serde).
pub(crate) fn check(json: Option<&str>, json_checked: bool, bytes: Option<&[u8]>) -> Result<()> {
    let size = json.map_or(0, str::len) + bytes.map_or(0, <[u8]>::len);
    let limit = payload_limit();
    if size > limit {
        return Err(Error::PayloadTooLarge { size, limit });
    }
    if let Some(json) = json {
        if let Some(at) = json.find('\0') {
            return Err(Error::invalid(
                "payload_json",
                format!("contains a NUL character at byte {at}"),
            ));
        }
        if !json_checked {
            serde_json::from_str::<serde::de::IgnoredAny>(json)
                .map_err(|e| Error::invalid("payload_json", format!("is not valid JSON: {e}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_payload_past_the_limit_by_its_size() {
        let json = format!("\"{}\"", "x".repeat(DEFAULT_PAYLOAD_LIMIT));
        match check(Some(&json), false, None) {
            Err(Error::PayloadTooLarge { size, limit }) => {
                assert_eq!(size, json.len());
                assert_eq!(limit, payload_limit());
            }
            other => panic!("expected PayloadTooLarge, got {other:?}"),
        }
        // Text and bytes count together.
        let half = vec![0u8; DEFAULT_PAYLOAD_LIMIT / 2 + 1];
        assert!(matches!(
            check(Some(std::str::from_utf8(&half).unwrap()), true, Some(&half)),
            Err(Error::PayloadTooLarge { .. })
        ));
        assert!(check(Some("{}"), false, Some(&[1, 2, 3])).is_ok());

        // Configurable (one test, so that no other sees the lower limit):
        // a payload the default lets in is refused under a lower limit.
        let mib = vec![1u8; 1024 * 1024 + 1];
        assert!(check(None, true, Some(&mib)).is_ok());
        set_payload_limit(1024 * 1024);
        let refused = check(None, true, Some(&mib));
        set_payload_limit(DEFAULT_PAYLOAD_LIMIT);
        assert!(
            matches!(
                refused,
                Err(Error::PayloadTooLarge { size, limit: 1_048_576 }) if size == mib.len()
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn reports_invalid_json_as_the_callers_text_not_an_encoding_failure() {
        let error = check(Some("{not json"), false, None).unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidInput {
                    field: "payload_json",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("is not valid JSON"), "{error}");
    }
}
