//! The guard in front of every route: read-only mode, and cross-site
//! request forgery.
//!
//! Double-submit tokens: a page handed to a browser sets a random token in
//! a cookie (`HttpOnly`, `SameSite=Strict`, scoped to the dashboard's
//! path) and puts the same token in a hidden field of each form. A POST is
//! served only when its form's token equals one of its cookies: another
//! site can make a browser send the cookie, but cannot read it to fill in
//! the field. As a second line, a request a browser marks as cross-site
//! (`Sec-Fetch-Site`) or whose `Origin` names another host than the one it
//! was sent to is refused whatever it carries.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Shared;
use crate::context;
use crate::error::DashboardError;

/// The cookie that holds the token.
pub(crate) const COOKIE_NAME: &str = "mq_dashboard_csrf";

/// The form field that repeats it.
pub(crate) const FIELD: &str = "csrf";

/// The most a form's body may hold.
const MAX_FORM: usize = 64 * 1024;

/// The token of the request's browser, for the forms of its page.
#[derive(Clone, Debug)]
pub(crate) struct CsrfToken(pub(crate) String);

/// See the module docs.
pub(crate) async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        if app.read_only {
            return next.run(request).await;
        }
        return with_token(request, next).await;
    }
    if app.read_only {
        return DashboardError::Forbidden("this dashboard is read-only").into_response();
    }
    match checked(request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Hands the page its browser's token, and gives a browser without one a
/// new one.
async fn with_token(mut request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let base = context::base(&parts);
    let known = cookie_tokens(&parts.headers).next().map(str::to_owned);
    request = Request::from_parts(parts, body);
    let fresh = known.is_none();
    let token = known.unwrap_or_else(new_token);
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if fresh && let Ok(cookie) = HeaderValue::from_str(&cookie(&token, &base)) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// A state-changing request, checked: its origin, then its token.
async fn checked(request: Request) -> Result<Request, DashboardError> {
    same_origin(request.headers(), request.uri())?;
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| DashboardError::BadRequest("the form is too large".to_owned()))?;
    let sent = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == FIELD)
        .map(|(_, value)| value.into_owned());
    let valid = sent.is_some_and(|sent| {
        cookie_tokens(&parts.headers).any(|token| same(token.as_bytes(), sent.as_bytes()))
    });
    if !valid {
        return Err(DashboardError::Forbidden(
            "the form's CSRF token is missing or does not match its cookie: reload the page and try again",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Refuses what a browser says comes from another site.
fn same_origin(headers: &HeaderMap, uri: &Uri) -> Result<(), DashboardError> {
    const CROSS_SITE: DashboardError = DashboardError::Forbidden("cross-site requests are refused");
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: the user's own doing (typed, bookmarked).
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Err(CROSS_SITE);
        }
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().map_err(|_| CROSS_SITE)?;
        let origin_host = origin.split_once("://").map(|(_, host)| host);
        let host = headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| uri.authority().map(|authority| authority.as_str()));
        match (origin_host, host) {
            (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host) => {}
            _ => return Err(CROSS_SITE),
        }
    }
    Ok(())
}

/// The well-formed tokens among the request's cookies (a browser sends one
/// per dashboard whose path covers the request's).
fn cookie_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, value)| *name == COOKIE_NAME && is_token(value))
        .map(|(_, value)| value)
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn is_token(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn cookie(token: &str, base: &str) -> String {
    // A prefix with characters a cookie's path cannot hold falls back to
    // the whole site.
    let path = if base.is_empty()
        || !base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~%".contains(&b))
    {
        "/"
    } else {
        base
    };
    format!("{COOKIE_NAME}={token}; Path={path}; HttpOnly; SameSite=Strict")
}

/// Compares in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn origins_must_match_the_host() {
        let uri: Uri = "/jobs/1/retry".parse().unwrap();
        let ok = |pairs| same_origin(&headers(pairs), &uri).is_ok();
        assert!(ok(&[]));
        assert!(ok(&[
            ("host", "q.example"),
            ("origin", "https://q.example")
        ]));
        assert!(ok(&[
            ("host", "q.example:8080"),
            ("origin", "http://Q.example:8080")
        ]));
        assert!(ok(&[("sec-fetch-site", "same-origin")]));
        assert!(!ok(&[
            ("host", "q.example"),
            ("origin", "https://evil.example")
        ]));
        assert!(!ok(&[("host", "q.example"), ("origin", "null")]));
        assert!(!ok(&[("origin", "https://q.example")]));
        assert!(!ok(&[("sec-fetch-site", "cross-site")]));
        assert!(!ok(&[("sec-fetch-site", "same-site")]));
    }

    #[test]
    fn tokens_come_from_the_cookie_header() {
        let token = "0123456789abcdef0123456789abcdef";
        let map = headers(&[(
            "cookie",
            "a=b; mq_dashboard_csrf=0123456789abcdef0123456789abcdef; mq_dashboard_csrf=bad",
        )]);
        assert_eq!(cookie_tokens(&map).collect::<Vec<_>>(), vec![token]);
        assert!(is_token(&new_token()));
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }

    #[test]
    fn the_cookie_is_scoped_to_the_dashboard() {
        assert_eq!(
            cookie("t", "/admin/jobs"),
            "mq_dashboard_csrf=t; Path=/admin/jobs; HttpOnly; SameSite=Strict"
        );
        assert!(cookie("t", "").contains("Path=/;"));
        assert!(cookie("t", "/a;Domain=x").contains("Path=/;"));
    }
}
