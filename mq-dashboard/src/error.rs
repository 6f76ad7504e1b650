//! What can go wrong in a request, and the response each gets.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::layout;

/// A request that could not be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DashboardError {
    /// The request itself is wrong: a malformed id, cursor or state.
    #[error("{0}")]
    BadRequest(String),
    /// What it asks for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// It is not allowed: a read-only dashboard, or a failed CSRF check.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The queue refused or failed.
    #[error("{}", chain(.0))]
    Queue(#[from] mq::Error),
}

impl DashboardError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Queue(mq::Error::InvalidInput { .. }) => StatusCode::BAD_REQUEST,
            Self::Queue(mq::Error::NotFound { .. }) => StatusCode::NOT_FOUND,
            Self::Queue(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let body = layout::bare(
            title,
            html! {
                h1 { (status.as_u16()) " " (title) }
                p.message { (self.to_string()) }
            },
        );
        (status, body).into_response()
    }
}

/// An error with its sources, as one line (`a: b: c`), as mq keeps a
/// failed attempt's error.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    mq::error_text(error)
}
