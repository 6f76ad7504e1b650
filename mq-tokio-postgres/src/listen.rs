//! Wake-ups from LISTEN/NOTIFY on a dedicated connection.
//!
//! Not a pooled connection: deadpool drives its connections in tasks of its
//! own, which drop notifications, and `LISTEN` is per session anyway. So
//! the backend opens its own connection (through [`Connect`]) and hands
//! the connection's message stream to the backend's [`Spawner`]: the driver
//! never spawns on a runtime by itself.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::channel::{mpsc, oneshot};
use futures::future::{self, BoxFuture, Either};
use futures::stream::{BoxStream, Stream};
use futures::{FutureExt, StreamExt};
use mq_core::backend::Wakeup;
use mq_core::{Result, Spawner};
use mq_sql::{NOTIFY_CHANNEL, parse_notification, reconnect_backoff};
use tokio_postgres::{AsyncMessage, Client};

use crate::error::at;

/// A new connection: its client, and the messages of its connection (the
/// `tokio_postgres::Connection`, which does the I/O while it is polled).
pub(crate) struct Connected {
    pub(crate) client: Client,
    pub(crate) messages:
        BoxStream<'static, std::result::Result<AsyncMessage, tokio_postgres::Error>>,
}

/// Opens wake-up connections; implemented once per runtime (the
/// `connect` module for tokio).
pub(crate) trait Connect: Send + Sync + 'static {
    fn connect(&self) -> BoxFuture<'static, std::result::Result<Connected, tokio_postgres::Error>>;
}

/// The stream handed to the runner. Dropping it (the runner stopped) drops
/// `_stop`, which ends the background task and closes the connection.
struct Wakeups {
    wakeups: mpsc::UnboundedReceiver<Wakeup>,
    _stop: oneshot::Sender<Infallible>,
}

impl Stream for Wakeups {
    type Item = Wakeup;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Wakeup>> {
        self.wakeups.poll_next_unpin(cx)
    }
}

/// Listens on a connection of its own. The first connection is opened
/// before this returns, so that a runner that cannot listen fails to start
/// and so that every notification sent after it returns is heard.
///
/// The stream never ends while the runner holds it: when the connection
/// drops, a background task reconnects with backoff (the runner polls on
/// its timer meanwhile), re-issues `LISTEN`, and then yields
/// [`Wakeup::Resync`], because whatever was sent in between is lost.
pub(crate) async fn listen(
    connect: Arc<dyn Connect>,
    spawner: Arc<dyn Spawner>,
) -> Result<BoxStream<'static, Wakeup>> {
    let (wakeups_tx, wakeups) = mpsc::unbounded();
    let (stop_tx, stop) = oneshot::channel();
    let session = open(connect.as_ref(), spawner.as_ref(), &wakeups_tx)
        .await
        .map_err(at("listen"))?;
    spawner.spawn(reconnect_forever(connect, spawner.clone(), session, wakeups_tx, stop).boxed());
    Ok(Wakeups {
        wakeups,
        _stop: stop_tx,
    }
    .boxed())
}

/// A listening session: dropping the client closes the connection;
/// `closed` resolves once the connection has ended.
struct Session {
    client: Client,
    closed: oneshot::Receiver<Infallible>,
}

/// Connects, hands the connection to the spawner (forwarding its
/// notifications as wake-ups), and subscribes.
async fn open(
    connect: &dyn Connect,
    spawner: &dyn Spawner,
    wakeups: &mpsc::UnboundedSender<Wakeup>,
) -> std::result::Result<Session, tokio_postgres::Error> {
    let Connected {
        client,
        mut messages,
    } = connect.connect().await?;
    let (closed_tx, closed) = oneshot::channel::<Infallible>();
    let wakeups = wakeups.clone();
    spawner.spawn(
        async move {
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        let wakeup = parse_notification(notification.payload());
                        if wakeups.unbounded_send(wakeup).is_err() {
                            break; // Nobody listens any more.
                        }
                    }
                    Ok(_) => {} // Notices.
                    Err(error) => {
                        tracing::warn!(%error, "the LISTEN connection failed");
                        break;
                    }
                }
            }
            drop(closed_tx);
        }
        .boxed(),
    );
    client.batch_execute(&listen_statement()).await?;
    Ok(Session { client, closed })
}

/// `LISTEN` on mq's channel (a quoted identifier).
fn listen_statement() -> String {
    format!("LISTEN \"{}\"", NOTIFY_CHANNEL.replace('"', "\"\""))
}

/// Watches the session; when its connection ends, opens another, until
/// the wake-up stream is dropped.
async fn reconnect_forever(
    connect: Arc<dyn Connect>,
    spawner: Arc<dyn Spawner>,
    mut session: Session,
    wakeups: mpsc::UnboundedSender<Wakeup>,
    mut stop: oneshot::Receiver<Infallible>,
) {
    loop {
        match future::select(session.closed, &mut stop).await {
            Either::Left(_) => {}
            // Stopped: dropping the session's client closes the connection.
            Either::Right(_) => return,
        }
        drop(session.client);
        tracing::warn!("lost the LISTEN connection; reconnecting");
        let mut failures = 0;
        session = loop {
            let delay = reconnect_backoff(failures);
            let attempt = async {
                spawner.sleep(delay).await;
                open(connect.as_ref(), spawner.as_ref(), &wakeups).await
            };
            match future::select(attempt.boxed(), &mut stop).await {
                Either::Left((Ok(session), _)) => break session,
                Either::Left((Err(error), _)) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "cannot re-open the LISTEN connection");
                }
                Either::Right(_) => return,
            }
        };
        // Notifications sent while the connection was down are lost.
        if wakeups.unbounded_send(Wakeup::Resync).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_the_notify_channel() {
        assert_eq!(listen_statement(), format!("LISTEN \"{NOTIFY_CHANNEL}\""));
    }
}
