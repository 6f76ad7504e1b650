//! Wake-ups from LISTEN/NOTIFY on a dedicated connection.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use mq_core::backend::Wakeup;
use mq_core::{Result, Spawner};
use mq_sql::{NOTIFY_CHANNEL, parse_notification, reconnect_backoff};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::error::at;

struct State {
    listener: PgListener,
    spawner: Arc<dyn Spawner>,
    failures: u32,
}

/// Listens on its own connection (a one-connection pool opened with
/// `options`), so that it never takes a slot from the application's pool. The stream never ends: when the connection drops it yields
/// [`Wakeup::Resync`], because notifications may have been missed, and
/// reconnects (re-issuing `LISTEN`) with backoff while the runner polls.
pub(crate) async fn listen(
    options: PgConnectOptions,
    spawner: Arc<dyn Spawner>,
) -> Result<BoxStream<'static, Wakeup>> {
    let own_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options);
    let mut listener = PgListener::connect_with(&own_pool)
        .await
        .map_err(at("listen"))?;
    listener
        .listen(NOTIFY_CHANNEL)
        .await
        .map_err(at("listen"))?;
    let state = State {
        listener,
        spawner,
        failures: 0,
    };
    Ok(futures::stream::unfold(state, |mut state| async move {
        loop {
            match state.listener.try_recv().await {
                Ok(Some(notification)) => {
                    state.failures = 0;
                    return Some((parse_notification(notification.payload()), state));
                }
                // The connection was lost (and re-established, LISTEN
                // included): whatever was sent meanwhile is gone.
                Ok(None) => return Some((Wakeup::Resync, state)),
                Err(error) => {
                    let backoff = reconnect_backoff(state.failures);
                    state.failures += 1;
                    tracing::warn!(%error, ?backoff, "lost the LISTEN connection; reconnecting");
                    state.spawner.sleep(backoff).await;
                    if state.failures == 1 {
                        return Some((Wakeup::Resync, state));
                    }
                }
            }
        }
    })
    .boxed())
}
