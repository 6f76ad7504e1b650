//! `mq dashboard`: the web dashboard of `mq-dashboard`, served on its own.

use std::io::Write;
use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use mq_dashboard::{BasicAuth, Dashboard};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;

use crate::cli::DashboardArgs;
use crate::commands::CONNECT_TIMEOUT;
use crate::error::{CliError, redact};
use crate::output::Report;

/// The pool's size: a few operators' pages, the live updates and the
/// background count at once.
const POOL_SIZE: u32 = 4;

/// Serves the dashboard on `args.listen` until Ctrl-C.
pub async fn serve(url: &str, args: DashboardArgs) -> Result<Report, CliError> {
    let auth = args.auth.as_deref().map(credentials).transpose()?;
    if auth.is_none() && !args.read_only && !args.listen.ip().is_loopback() {
        return Err(CliError::Unprotected {
            listen: args.listen,
        });
    }
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await
        .map_err(|source| CliError::Connect {
            url: redact(url),
            source,
        })?;
    // As the other commands: `DATABASE_URL` may name a transaction pooler.
    let backend = mq::SqlxBackend::new(pool).transaction_pooled();
    let mut router = Dashboard::new(&backend).read_only(args.read_only).router();
    if let Some(auth) = auth {
        router = router.layer(from_fn_with_state(Arc::new(auth), BasicAuth::check));
    }
    let serve_error = |source| CliError::Serve {
        listen: args.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(serve_error)?;
    let address = listener.local_addr().map_err(serve_error)?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "serving the mq dashboard at http://{address}/ (Ctrl-C stops it)"
    )
    .and_then(|()| stdout.flush());
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(serve_error)?;
    Ok(Report {
        text: "dashboard stopped\n".to_owned(),
        json: json!({ "stopped": true }),
    })
}

/// `USER:PASSWORD`, both non-empty.
fn credentials(auth: &str) -> Result<BasicAuth, CliError> {
    match auth.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok(BasicAuth::new(user, password))
        }
        _ => Err(CliError::BadAuth),
    }
}
