//! HTTP basic authentication, for a dashboard served on its own (the `mq
//! dashboard` command) or as a starting point. An application usually has
//! its own sessions and puts its own layer in front of the dashboard
//! instead.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One user name and password that a request must carry. Use it with
/// [`axum::middleware::from_fn_with_state`]:
///
/// ```no_run
/// # fn dashboard(pool: &sqlx::PgPool) -> axum::Router {
/// use std::sync::Arc;
/// use axum::middleware::from_fn_with_state;
/// use mq_dashboard::BasicAuth;
///
/// let auth = Arc::new(BasicAuth::new("admin", "a long password"));
/// mq_dashboard::router(pool).layer(from_fn_with_state(auth, BasicAuth::check))
/// # }
/// ```
#[derive(Clone)]
pub struct BasicAuth {
    /// The `Authorization` header a browser sends for these credentials.
    expected: Box<str>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials stay out of logs.
        f.debug_struct("BasicAuth").finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// Requires `user` and `password`.
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            expected: format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))).into(),
        }
    }

    /// The middleware: lets a request with the credentials through, and
    /// asks the browser for them (401) otherwise.
    pub async fn check(
        State(auth): State<Arc<BasicAuth>>,
        request: Request,
        next: Next,
    ) -> Response {
        if auth.admits(request.headers()) {
            next.run(request).await
        } else {
            (
                StatusCode::UNAUTHORIZED,
                [(
                    WWW_AUTHENTICATE,
                    r#"Basic realm="mq dashboard", charset="UTF-8""#,
                )],
                "Authentication required",
            )
                .into_response()
        }
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(sent) = headers.get(AUTHORIZATION) else {
            return false;
        };
        let (sent, expected) = (sent.as_bytes(), self.expected.as_bytes());
        // In time that does not tell how much of a guess was right.
        sent.len() == expected.len()
            && sent
                .iter()
                .zip(expected)
                .fold(0, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn admits_only_its_credentials() {
        let auth = BasicAuth::new("admin", "s3cret");
        // base64("admin:s3cret")
        assert!(auth.admits(&with("Basic YWRtaW46czNjcmV0")));
        assert!(!auth.admits(&with("Basic YWRtaW46czNjcmVU")));
        assert!(!auth.admits(&with("Basic YWRtaW46czNjcmV0AA")));
        assert!(!auth.admits(&HeaderMap::new()));
        assert_eq!(format!("{auth:?}"), "BasicAuth { .. }");
    }
}
