//! The dashboard nested in an axum app, behind HTTP basic authentication.
//!
//! The dashboard checks nobody: authorization is the host's, as a tower
//! layer on the nested router. Here it is a few lines of
//! `axum::middleware::from_fn`; a real app would use its own sessions.
//!
//! ```sh
//! DATABASE_URL=postgres://localhost/app DASHBOARD_PASSWORD=secret \
//!     cargo run -p mq-dashboard --example basic_auth
//! # then open http://127.0.0.1:8080/admin/jobs as user "admin"
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")?;
    let password = std::env::var("DASHBOARD_PASSWORD")
        .map_err(|_| "set DASHBOARD_PASSWORD to the password of user \"admin\"")?;
    let pool = sqlx::PgPool::connect(&url).await?;
    mq::migrate(&pool).await?;

    // What a browser sends for admin:<password>.
    let expected: Arc<str> =
        format!("Basic {}", STANDARD.encode(format!("admin:{password}"))).into();
    let dashboard = mq_dashboard::router(&pool).layer(middleware::from_fn(
        move |request: Request, next: Next| {
            let expected = expected.clone();
            async move { basic_auth(&expected, request, next).await }
        },
    ));

    let app = Router::new()
        .route(
            "/",
            get(|| async { "The app itself; its jobs are at /admin/jobs." }),
        )
        .nest("/admin/jobs", dashboard);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("dashboard at http://127.0.0.1:8080/admin/jobs (user admin)");
    axum::serve(listener, app).await?;
    Ok(())
}

/// Lets a request through when it carries the expected credentials; asks
/// the browser for them otherwise.
async fn basic_auth(expected: &str, request: Request, next: Next) -> Response {
    if authorized(request.headers(), expected) {
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

fn authorized(headers: &HeaderMap, expected: &str) -> bool {
    let Some(sent) = headers.get(AUTHORIZATION) else {
        return false;
    };
    let (sent, expected) = (sent.as_bytes(), expected.as_bytes());
    // In time that does not tell how much of a guess was right.
    sent.len() == expected.len()
        && sent
            .iter()
            .zip(expected)
            .fold(0, |acc, (a, b)| acc | (a ^ b))
            == 0
}
