//! Live updates of the overview: server-sent events, each an `overview`
//! event whose data is the overview's numbers re-rendered
//! ([`fragment`](crate::pages::overview::fragment)), which the page's
//! inline script swaps in.
//!
//! The first event goes out as soon as there are numbers; then one every
//! [`EVERY`], and one as soon as a new count lands. A connected client
//! counts as watching, so the background count goes on while it listens.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::watch;

use crate::Shared;
use crate::cache::Snapshot;
use crate::context::Ctx;
use crate::pages::overview::fragment;

/// How often the numbers (and their age) are pushed at least.
pub(crate) const EVERY: Duration = Duration::from_secs(2);

/// `GET /live`.
pub(crate) async fn overview(
    State(app): State<Shared>,
    ctx: Ctx,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let snapshots = app.cache.subscribe();
    let stream = futures::stream::unfold(
        (app, ctx, snapshots, true),
        |(app, ctx, mut snapshots, first)| async move {
            let snapshot = next(&app, &mut snapshots, first).await?;
            let html = fragment(&ctx, Some(&snapshot)).into_string();
            let event = Event::default().event("overview").data(html);
            Some((Ok(event), (app, ctx, snapshots, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The numbers to push next: at once if there are some and this is the
/// first event, else when a new count lands or [`EVERY`] has passed.
/// `None` when the dashboard is gone.
async fn next(
    app: &Shared,
    snapshots: &mut watch::Receiver<Option<Arc<Snapshot>>>,
    first: bool,
) -> Option<Arc<Snapshot>> {
    if first && let Some(latest) = app.cache.watch() {
        snapshots.mark_unchanged();
        return Some(latest);
    }
    loop {
        tokio::select! {
            changed = snapshots.changed() => changed.ok()?,
            () = tokio::time::sleep(EVERY) => {}
        }
        // Watching keeps the count going while the client listens.
        if let Some(latest) = app.cache.watch() {
            snapshots.mark_unchanged();
            return Some(latest);
        }
    }
}
