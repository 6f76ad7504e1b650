//! # mq-dashboard
//!
//! A web dashboard for the [`mq`] job queue, as an [`axum::Router`] that
//! your application nests under any prefix: an overview of the queue
//! (jobs per state and channel, the oldest ready job, blocked ordered
//! channels, jobs finished per minute as a chart, runners), the channels
//! with their pauses and limits, a job list filtered by state, channel and
//! name, each job with its payload and error history, and the actions an
//! operator needs at 3 a.m.: retry, delete, cancel, retry a channel's
//! failed jobs, pause and resume a channel.
//!
//! ```no_run
//! # async fn run(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! use axum::Router;
//!
//! let app: Router = Router::new()
//!     // ... your own routes ...
//!     .nest("/jobs", mq_dashboard::router(&pool));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The dashboard takes whatever a runner is built on ([`mq::IntoBackend`]):
//! a `&sqlx::PgPool` with mq's features `driver-sqlx` and `runtime-tokio`,
//! a driver's backend, or `&mq::testing::MemoryBackend` with `testing`.
//! [`Dashboard`] sets it up further ([`read_only`](Dashboard::read_only)).
//!
//! Pages are rendered on the server and work without JavaScript; a few
//! lines of inline script swap in the overview's numbers as the server
//! pushes them (server-sent events, every 2 seconds or so).
//!
//! ## Security
//!
//! - **Authorization is yours.** The router checks nobody: put your own
//!   authentication in front of it as a tower layer, on the nested router
//!   (`.nest("/jobs", mq_dashboard::router(&pool).layer(your_auth))`) or on
//!   your whole app. [`BasicAuth`] is such a layer, for HTTP basic
//!   authentication (`examples/basic_auth.rs` nests the dashboard behind it).
//! - **Read-only mode.** [`Dashboard::read_only`] hides every action, and
//!   every request other than `GET` and `HEAD` is refused with 403.
//! - **Actions are POST forms with CSRF protection.** Each form carries a
//!   random token that must match the one in a cookie (`SameSite=Strict`,
//!   `HttpOnly`, scoped to the dashboard's path); a request that a browser
//!   marks as cross-site (`Sec-Fetch-Site`), or whose `Origin` is not the
//!   host it was sent to, is refused as well. The cookie is not `Secure`
//!   (the dashboard cannot tell whether it is served over TLS); serve it
//!   over HTTPS anywhere but on a loopback address.
//! - **Every value from the database is escaped**: job names, channels,
//!   payloads and errors are shown as text, never as HTML.
//!
//! ## Cost
//!
//! The overview and channels pages never count the jobs table in a
//! request: they render what a background task last counted, and say how
//! old it is (see the `cache` module's documentation in the source). The
//! job list reads one page at a time, and a job page one job.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod actions;
mod basic_auth;
mod cache;
mod chart;
mod context;
mod csrf;
mod error;
mod format;
mod layout;
mod live;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use mq::{Backend, IntoBackend};

pub use crate::basic_auth::BasicAuth;
use crate::cache::StatsCache;

/// A dashboard over one queue, to be turned into a [`Router`] with
/// [`router`](Dashboard::router).
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) {
/// use axum::Router;
/// use mq_dashboard::Dashboard;
///
/// // For the support team: they may look, not touch.
/// let app: Router = Router::new().nest("/jobs", Dashboard::new(&pool).read_only(true).router());
/// # }
/// ```
pub struct Dashboard {
    backend: Arc<dyn Backend>,
    read_only: bool,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard over the queue of `backend`: a pool (`&sqlx::PgPool`),
    /// a driver's backend, or anything else a runner can be built on.
    pub fn new<D>(backend: impl IntoBackend<D>) -> Self {
        Self {
            backend: backend.into_backend(),
            read_only: false,
        }
    }

    /// With `true`, the dashboard only shows: no action is offered, and
    /// every request other than `GET` and `HEAD` is refused with
    /// 403 Forbidden. Off by default.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The dashboard's routes, with their state applied: nest them under
    /// any prefix (`app.nest("/jobs", dashboard.router())`), or serve them
    /// as they are. Links carry the prefix the request came through.
    ///
    /// Call it inside a tokio runtime's reach: the overview's counts are
    /// refreshed by a task spawned on the runtime that serves the first
    /// request.
    pub fn router(self) -> Router {
        let state = Arc::new(AppState {
            cache: StatsCache::new(self.backend.clone()),
            backend: self.backend,
            read_only: self.read_only,
        });
        Router::new()
            .route("/", get(pages::overview::page))
            .route("/live", get(live::overview))
            .route("/channels", get(pages::channels::page))
            .route("/channels/pause", post(actions::pause))
            .route("/channels/resume", post(actions::resume))
            .route("/channels/retry-failed", post(actions::retry_failed))
            .route("/jobs", get(pages::jobs::page))
            .route("/jobs/{id}", get(pages::job::page))
            .route("/jobs/{id}/retry", post(actions::retry))
            .route("/jobs/{id}/cancel", post(actions::cancel))
            .route("/jobs/{id}/delete", post(actions::delete))
            .fallback(pages::not_found)
            .layer(middleware::from_fn_with_state(state.clone(), csrf::guard))
            .with_state(state)
    }
}

/// The dashboard over `backend` with the default settings: a shortcut for
/// `Dashboard::new(backend).router()`.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) {
/// let app: axum::Router = axum::Router::new().nest("/jobs", mq_dashboard::router(&pool));
/// # }
/// ```
pub fn router<D>(backend: impl IntoBackend<D>) -> Router {
    Dashboard::new(backend).router()
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) read_only: bool,
    pub(crate) cache: StatsCache,
}

/// The state as handlers take it.
pub(crate) type Shared = Arc<AppState>;
