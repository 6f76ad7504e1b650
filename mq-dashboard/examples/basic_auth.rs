//! The dashboard nested in an axum app, behind HTTP basic authentication.
//!
//! The dashboard checks nobody: authorization is the host's, as a tower
//! layer on the nested router. Here it is `mq_dashboard::BasicAuth`; a
//! real app would more likely put its own sessions in front.
//!
//! ```sh
//! DATABASE_URL=postgres://localhost/app DASHBOARD_PASSWORD=secret \
//!     cargo run -p mq-dashboard --example basic_auth
//! # then open http://127.0.0.1:8080/admin/jobs as user "admin"
//! ```

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use mq_dashboard::BasicAuth;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")?;
    let password = std::env::var("DASHBOARD_PASSWORD")
        .map_err(|_| "set DASHBOARD_PASSWORD to the password of user \"admin\"")?;
    let pool = sqlx::PgPool::connect(&url).await?;
    mq::migrate(&pool).await?;

    let auth = Arc::new(BasicAuth::new("admin", &password));
    let dashboard = mq_dashboard::router(&pool).layer(from_fn_with_state(auth, BasicAuth::check));
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
