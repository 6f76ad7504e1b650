//! Opening the wake-up connection on tokio: the only code of this driver
//! that knows which runtime's sockets it uses. Another runtime would
//! implement [`Connect`] with `tokio_postgres::Config::connect_raw` over its
//! own stream.

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio_postgres::Socket;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use crate::listen::{Connect, Connected};

/// Connects with `tokio_postgres::Config::connect` (tokio's TCP and Unix
/// sockets) and the given TLS connector.
pub(crate) struct TokioConnect<T> {
    config: tokio_postgres::Config,
    tls: T,
}

impl<T> TokioConnect<T> {
    pub(crate) fn new(config: tokio_postgres::Config, tls: T) -> Self {
        Self { config, tls }
    }
}

impl<T> Connect for TokioConnect<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync,
    T::TlsConnect: Send + Sync,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(&self) -> BoxFuture<'static, Result<Connected, tokio_postgres::Error>> {
        let config = self.config.clone();
        let tls = self.tls.clone();
        async move {
            let (client, mut connection) = config.connect(tls).await?;
            let messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx)).boxed();
            Ok(Connected { client, messages })
        }
        .boxed()
    }
}
