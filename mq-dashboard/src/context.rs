//! What every page needs to know about its request: the prefix the
//! dashboard is nested under (for its links), the CSRF token for its
//! forms, and the flash message an action left.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;

use crate::Shared;
use crate::csrf::CsrfToken;
use crate::format;

/// The query key of a flash message that says an action worked.
pub(crate) const FLASH: &str = "flash";
/// The query key of a flash message that says an action failed.
pub(crate) const FLASH_ERROR: &str = "flash_error";

/// See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// The path the dashboard is nested under, without a trailing slash:
    /// empty when it is served at the root.
    pub(crate) base: String,
    /// The token forms carry; `None` when the dashboard is read-only (and
    /// shows no forms).
    pub(crate) csrf: Option<String>,
    /// The message of the action that redirected here, if any.
    pub(crate) flash: Option<Flash>,
}

/// A message shown once, after an action.
#[derive(Clone, Debug)]
pub(crate) struct Flash {
    /// What to say (escaped when shown, as everything is).
    pub(crate) text: String,
    /// Whether the action failed.
    pub(crate) error: bool,
}

impl Ctx {
    /// The URL of a dashboard path (`/jobs`, `/`), under the prefix.
    pub(crate) fn href(&self, path: &str) -> String {
        href(&self.base, path)
    }
}

/// The URL of a dashboard `path` under `base`.
pub(crate) fn href(base: &str, path: &str) -> String {
    if path == "/" && !base.is_empty() {
        // A router nested at `/jobs` serves its root at `/jobs`, not `/jobs/`.
        return base.to_owned();
    }
    format!("{base}{path}")
}

impl FromRequestParts<Shared> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &Shared) -> Result<Self, Infallible> {
        let flash = parts.uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes()).find_map(|(key, value)| {
                let error = match &*key {
                    FLASH => false,
                    FLASH_ERROR => true,
                    _ => return None,
                };
                Some(Flash {
                    text: value.into_owned(),
                    error,
                })
            })
        });
        Ok(Self {
            base: base(parts),
            csrf: parts
                .extensions
                .get::<CsrfToken>()
                .map(|token| token.0.clone()),
            flash,
        })
    }
}

/// The prefix a request came through: its original path less the path the
/// dashboard's router sees.
pub(crate) fn base(parts: &Parts) -> String {
    let inner = parts.uri.path();
    let original = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(inner, |uri| uri.path());
    prefix(original, inner)
}

fn prefix(original: &str, inner: &str) -> String {
    let prefix = match original.strip_suffix(inner) {
        Some(prefix) => prefix,
        // The nested router's root: `/jobs` is seen as `/`.
        None if inner == "/" => original,
        None => "",
    };
    prefix.trim_end_matches('/').to_owned()
}

/// A redirect target with a flash message: `path?flash=...`.
pub(crate) fn with_flash(base: &str, path: &str, text: &str, error: bool) -> String {
    let key = if error { FLASH_ERROR } else { FLASH };
    let separator = if path.contains('?') { '&' } else { '?' };
    format!(
        "{}{separator}{key}={}",
        href(base, path),
        format::url_component(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_what_nesting_stripped() {
        assert_eq!(prefix("/jobs/jobs/1", "/jobs/1"), "/jobs");
        assert_eq!(prefix("/admin/q", "/"), "/admin/q");
        assert_eq!(prefix("/admin/q/", "/"), "/admin/q");
        assert_eq!(prefix("/channels", "/channels"), "");
        assert_eq!(prefix("/", "/"), "");
        assert_eq!(href("", "/"), "/");
        assert_eq!(href("/q", "/"), "/q");
        assert_eq!(href("/q", "/jobs"), "/q/jobs");
    }

    #[test]
    fn flash_messages_are_encoded() {
        assert_eq!(
            with_flash("/q", "/jobs?state=failed", "a & b", true),
            "/q/jobs?state=failed&flash_error=a%20%26%20b"
        );
        assert_eq!(with_flash("", "/", "ok", false), "/?flash=ok");
    }
}
