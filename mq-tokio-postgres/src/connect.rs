//! Opening connections: the only code of this driver that knows which
//! runtime's sockets it uses.
//!
//! - tokio: `tokio_postgres::Config::connect`, with tokio's TCP and Unix
//!   sockets.
//! - async-std: `Config::connect_raw` over async-std's sockets, seen
//!   through tokio's I/O traits by `tokio-util`'s compat layer (the traits
//!   only: no tokio runtime, timer or socket is used). Also the pool's
//!   connections, through [`AsyncStdConnect`], deadpool's connect hook.
//!
//! With both runtimes built in, [`listen_connector`] picks one when the
//! backend is created: tokio inside a tokio runtime, async-std otherwise.

use std::sync::Arc;

use futures::StreamExt;
#[cfg(feature = "runtime-tokio")]
use futures::{FutureExt, future::BoxFuture};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use crate::listen::{Connect, Connected};

#[cfg(feature = "runtime-async-std")]
pub use self::async_std_rt::{AsyncStdConnect, AsyncStdSocket, connect_async_std};

/// A TLS connector for the wake-up connection
/// ([`TokioPostgresBackend::with_tls`](crate::TokioPostgresBackend::with_tls)):
/// a `MakeTlsConnect` for the sockets of every runtime this crate is built
/// for (`tokio_postgres::Socket` with `runtime-tokio`, [`AsyncStdSocket`]
/// with `runtime-async-std`). `NoTls` and the usual connectors (rustls,
/// native-tls), which are generic over the stream, are.
pub trait MakeTls: TokioTls + AsyncStdTls + Clone + Send + Sync + 'static {}

impl<T: TokioTls + AsyncStdTls + Clone + Send + Sync + 'static> MakeTls for T {}

/// A `MakeTlsConnect` for sockets `S` whose streams and handshakes can move
/// between threads.
pub trait MakeTlsFor<S>:
    MakeTlsConnect<S, Stream: Send + Sync, TlsConnect: TlsConnect<S, Future: Send> + Send + Sync>
{
}

impl<S, T> MakeTlsFor<S> for T where
    T: MakeTlsConnect<
            S,
            Stream: Send + Sync,
            TlsConnect: TlsConnect<S, Future: Send> + Send + Sync,
        >
{
}

/// Declares `$name`, the part of [`MakeTls`] for one runtime's sockets:
/// [`MakeTlsFor`] them when this crate is built with `$feature`, and no
/// bound at all without it.
macro_rules! tls_for_runtime {
    ($(#[$doc:meta])* $name:ident, $feature:literal, $socket:ty) => {
        $(#[$doc])*
        #[cfg(feature = $feature)]
        pub trait $name: MakeTlsFor<$socket> {}
        #[cfg(feature = $feature)]
        impl<T: MakeTlsFor<$socket>> $name for T {}
        $(#[$doc])*
        #[cfg(not(feature = $feature))]
        pub trait $name {}
        #[cfg(not(feature = $feature))]
        impl<T> $name for T {}
    };
}

tls_for_runtime!(
    /// With `runtime-tokio`, [`MakeTlsFor`] tokio-postgres's tokio sockets.
    TokioTls,
    "runtime-tokio",
    tokio_postgres::Socket
);
tls_for_runtime!(
    /// With `runtime-async-std`, [`MakeTlsFor`] [`AsyncStdSocket`].
    AsyncStdTls,
    "runtime-async-std",
    AsyncStdSocket
);

/// How the wake-up connection is opened: with tokio's sockets when built
/// for tokio alone, async-std's when built for async-std alone; built for
/// both, tokio's when called inside a tokio runtime and async-std's
/// otherwise. (Which sockets, only: the connection's I/O runs on the
/// runner's spawner.)
pub(crate) fn listen_connector<T: MakeTls>(
    config: tokio_postgres::Config,
    tls: T,
) -> Arc<dyn Connect> {
    #[cfg(all(feature = "runtime-tokio", feature = "runtime-async-std"))]
    let on_tokio = tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(all(feature = "runtime-tokio", feature = "runtime-async-std")))]
    let on_tokio = cfg!(feature = "runtime-tokio");

    #[cfg(feature = "runtime-tokio")]
    if on_tokio {
        return Arc::new(TokioConnect { config, tls });
    }
    #[cfg(feature = "runtime-async-std")]
    if !on_tokio {
        return Arc::new(async_std_rt::ListenConnect { config, tls });
    }
    unreachable!("on_tokio is true exactly when tokio is chosen")
}

/// The messages of a connection (the `Connection` future, which does the
/// I/O while it is polled), as the listener reads them.
fn connected<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
) -> Connected
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx)).boxed();
    Connected { client, messages }
}

/// Connects with `tokio_postgres::Config::connect` (tokio's TCP and Unix
/// sockets) and the given TLS connector.
#[cfg(feature = "runtime-tokio")]
struct TokioConnect<T> {
    config: tokio_postgres::Config,
    tls: T,
}

#[cfg(feature = "runtime-tokio")]
impl<T: MakeTls> Connect for TokioConnect<T> {
    fn connect(&self) -> BoxFuture<'static, Result<Connected, tokio_postgres::Error>> {
        let config = self.config.clone();
        let tls = self.tls.clone();
        async move {
            let (client, connection) = config.connect(tls).await?;
            Ok(connected(client, connection))
        }
        .boxed()
    }
}

#[cfg(feature = "runtime-async-std")]
mod async_std_rt {
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use futures::FutureExt;
    use futures::future::BoxFuture;
    use mq_core::Spawner;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio_postgres::config::{Host, SslMode};
    use tokio_postgres::tls::MakeTlsConnect;
    use tokio_postgres::{Client, Config, Connection, Error, NoTls};
    use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

    use super::{MakeTls, connected};
    use crate::listen::{Connect, Connected};

    /// A connection's socket on async-std (TCP, or Unix when the host is a
    /// socket directory), seen through tokio's I/O traits, which
    /// tokio-postgres reads and writes with.
    #[derive(Debug)]
    pub struct AsyncStdSocket(Stream);

    #[derive(Debug)]
    enum Stream {
        Tcp(Compat<async_std::net::TcpStream>),
        #[cfg(unix)]
        Unix(Compat<async_std::os::unix::net::UnixStream>),
    }

    impl AsyncRead for AsyncStdSocket {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match &mut self.get_mut().0 {
                Stream::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
                #[cfg(unix)]
                Stream::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
            }
        }
    }

    impl AsyncWrite for AsyncStdSocket {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            match &mut self.get_mut().0 {
                Stream::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
                #[cfg(unix)]
                Stream::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
            }
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match &mut self.get_mut().0 {
                Stream::Tcp(stream) => Pin::new(stream).poll_flush(cx),
                #[cfg(unix)]
                Stream::Unix(stream) => Pin::new(stream).poll_flush(cx),
            }
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match &mut self.get_mut().0 {
                Stream::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
                #[cfg(unix)]
                Stream::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
            }
        }
    }

    /// Connects to PostgreSQL over async-std's sockets, as
    /// `tokio_postgres::Config::connect` does over tokio's: the hosts of
    /// `config` are tried in order (TCP host names, `hostaddr`s, and Unix
    /// socket directories, where the socket is `<dir>/.s.PGSQL.<port>`),
    /// each within `connect_timeout` if one is set, and the first that
    /// accepts the connection is used.
    ///
    /// Drive the returned `Connection` (a future) on async-std, for
    /// example with `async_std::task::spawn(connection)`; the connection
    /// closes when the client is dropped.
    ///
    /// Not supported, unlike `Config::connect`: `load_balance_hosts=random`
    /// (hosts are tried in order), `target_session_attrs` other than `any`,
    /// TCP keepalive and user-timeout settings (the system's defaults
    /// apply), and the client's `cancel_token` (it needs the socket
    /// settings, which tokio-postgres keeps private).
    pub async fn connect_async_std<T>(
        config: &Config,
        mut tls: T,
    ) -> Result<(Client, Connection<AsyncStdSocket, T::Stream>), Error>
    where
        T: MakeTlsConnect<AsyncStdSocket>,
    {
        let hosts = config.get_hosts();
        let hostaddrs = config.get_hostaddrs();
        let ports = config.get_ports();
        let count = hosts.len().max(hostaddrs.len());
        if count == 0 {
            return Err(pg_error(invalid("both host and hostaddr are missing")).await);
        }
        if !hosts.is_empty() && !hostaddrs.is_empty() && hosts.len() != hostaddrs.len() {
            return Err(pg_error(invalid("as many hosts as hostaddrs are needed")).await);
        }
        if ports.len() > 1 && ports.len() != count {
            return Err(pg_error(invalid("invalid number of ports")).await);
        }
        let mut last_error = None;
        for i in 0..count {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            let host = hosts.get(i);
            // The TLS host name is the host's, even when `hostaddr` says
            // where to connect.
            let hostname = match host {
                Some(Host::Tcp(name)) => Some(name.as_str()),
                _ => None,
            };
            let socket = match hostaddrs.get(i) {
                Some(addr) => open_socket(&Host::Tcp(addr.to_string()), port, config).await,
                None => open_socket(host.expect("a host or a hostaddr"), port, config).await,
            };
            let socket = match socket {
                Ok(socket) => socket,
                Err(error) => {
                    last_error = Some(pg_error(error).await);
                    continue;
                }
            };
            let tls = tls
                .make_tls_connect(hostname.unwrap_or(""))
                .map_err(io::Error::other);
            let tls = match tls {
                Ok(tls) => tls,
                Err(error) => return Err(pg_error(error).await),
            };
            match config.connect_raw(socket, tls).await {
                Ok(connected) => return Ok(connected),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one host was tried"))
    }

    fn invalid(message: &'static str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, message)
    }

    async fn open_socket(host: &Host, port: u16, config: &Config) -> io::Result<AsyncStdSocket> {
        let open = async {
            Ok(AsyncStdSocket(match host {
                Host::Tcp(name) => {
                    let stream = async_std::net::TcpStream::connect((name.as_str(), port)).await?;
                    stream.set_nodelay(true)?;
                    Stream::Tcp(stream.compat())
                }
                #[cfg(unix)]
                Host::Unix(dir) => {
                    let path = dir.join(format!(".s.PGSQL.{port}"));
                    Stream::Unix(
                        async_std::os::unix::net::UnixStream::connect(path)
                            .await?
                            .compat(),
                    )
                }
            }))
        };
        match config.get_connect_timeout() {
            Some(timeout) => async_std::future::timeout(*timeout, open)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
                }),
            None => open.await,
        }
    }

    /// tokio-postgres has no public constructor for its errors, yet a
    /// failed connection must be reported as one (deadpool's connect hook
    /// requires it, and callers match on it). So the I/O error is handed to
    /// tokio-postgres as what a stream answers to the startup message, and
    /// comes back as tokio-postgres's own I/O error, with the original as
    /// its source. A leak in the abstraction, kept to this function.
    async fn pg_error(error: io::Error) -> Error {
        let mut config = Config::new();
        config.user("mq").ssl_mode(SslMode::Disable);
        match config.connect_raw(Failing(Some(error)), NoTls).await {
            Err(error) => error,
            Ok(_) => unreachable!("a stream that fails every write cannot connect"),
        }
    }

    /// A stream whose first write fails with the given error (and every
    /// later read or write with a generic one).
    struct Failing(Option<io::Error>);

    impl Failing {
        fn error(&mut self) -> io::Error {
            self.0
                .take()
                .unwrap_or_else(|| io::Error::other("connection failed"))
        }
    }

    impl AsyncRead for Failing {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Err(self.get_mut().error()))
        }
    }

    impl AsyncWrite for Failing {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Err(self.get_mut().error()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Err(self.get_mut().error()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// deadpool-postgres's connect hook for async-std: the pool's
    /// connections are opened with [`connect_async_std`] and driven on the
    /// spawner given (this crate never picks a runtime to spawn on). Give
    /// it to the pool's manager instead of `Manager::new` (whose
    /// connections are tokio tasks); the `mq` crate's `AsyncStdConnect`
    /// comes with async-std's spawner:
    ///
    /// ```no_run
    /// # fn pool(spawner: std::sync::Arc<dyn mq_core::Spawner>) -> Result<(), Box<dyn std::error::Error>> {
    /// use deadpool_postgres::{Manager, ManagerConfig, Pool};
    /// use mq_tokio_postgres::AsyncStdConnect;
    ///
    /// let config: tokio_postgres::Config = "postgres://app@localhost/app".parse()?;
    /// let manager =
    ///     Manager::from_connect(config.clone(), AsyncStdConnect::new(spawner), ManagerConfig::default());
    /// let pool = Pool::builder(manager).max_size(16).build()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// deadpool's own timeouts (`create_timeout` and the like) need its
    /// runtime too: `.runtime(deadpool_postgres::Runtime::AsyncStd1)` on
    /// the builder (deprecated by deadpool along with async-std itself).
    #[derive(Clone)]
    pub struct AsyncStdConnect<T = NoTls> {
        tls: T,
        spawner: Arc<dyn Spawner>,
    }

    impl<T: std::fmt::Debug> std::fmt::Debug for AsyncStdConnect<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("AsyncStdConnect")
                .field("tls", &self.tls)
                .finish_non_exhaustive()
        }
    }

    impl AsyncStdConnect<NoTls> {
        /// Connections without TLS, driven on `spawner`.
        pub fn new(spawner: Arc<dyn Spawner>) -> Self {
            Self {
                tls: NoTls,
                spawner,
            }
        }
    }

    impl<T> AsyncStdConnect<T> {
        /// Connections with TLS from `tls` (for example a
        /// `tokio_postgres_rustls::MakeRustlsConnect`), driven on `spawner`.
        pub fn with_tls(spawner: Arc<dyn Spawner>, tls: T) -> Self {
            Self { tls, spawner }
        }
    }

    impl<T> deadpool_postgres::Connect for AsyncStdConnect<T>
    where
        T: super::MakeTlsFor<AsyncStdSocket> + Clone + Send + Sync + 'static,
    {
        fn connect(
            &self,
            config: &Config,
        ) -> BoxFuture<'_, Result<(Client, tokio::task::JoinHandle<()>), Error>> {
            let config = config.clone();
            let tls = self.tls.clone();
            let spawner = self.spawner.clone();
            async move {
                let (client, connection) = connect_async_std(&config, tls).await?;
                spawner.spawn(
                    async move {
                        if let Err(error) = connection.await {
                            tracing::warn!(%error, "a pooled connection failed");
                        }
                    }
                    .boxed(),
                );
                Ok((client, finished_tokio_task()))
            }
            .boxed()
        }
    }

    /// deadpool-postgres's connect hook must return a tokio `JoinHandle` of
    /// the connection's task, which only tokio can make, and which deadpool
    /// uses for one thing: `abort()` when it drops the client. An async-std
    /// task has no such handle, and needs none: dropping the client ends
    /// the connection's future anyway. So deadpool gets the handle of an
    /// empty task added to a tokio `LocalSet` that is dropped at once,
    /// never run: a task queue, not a runtime, so no tokio thread, timer
    /// or reactor exists, and aborting the finished task does nothing.
    fn finished_tokio_task() -> tokio::task::JoinHandle<()> {
        let tasks = tokio::task::LocalSet::new();
        let handle = tasks.spawn_local(async {});
        drop(tasks);
        handle
    }

    /// The wake-up connection over async-std's sockets.
    pub(super) struct ListenConnect<T> {
        pub(super) config: Config,
        pub(super) tls: T,
    }

    impl<T: MakeTls> Connect for ListenConnect<T> {
        fn connect(&self) -> BoxFuture<'static, Result<Connected, Error>> {
            let config = self.config.clone();
            let tls = self.tls.clone();
            async move {
                let (client, connection) = connect_async_std(&config, tls).await?;
                Ok(connected(client, connection))
            }
            .boxed()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_placeholder_handle_is_of_a_finished_task_on_no_runtime() {
            assert!(tokio::runtime::Handle::try_current().is_err());
            let handle = finished_tokio_task();
            assert!(handle.is_finished());
            handle.abort();
        }

        #[async_std::test]
        async fn io_errors_become_tokio_postgres_errors_with_their_source() {
            let error = pg_error(io::Error::new(io::ErrorKind::ConnectionRefused, "nope")).await;
            let source = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<io::Error>())
                .expect("the I/O error as the source");
            assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
            assert_eq!(source.to_string(), "nope");
        }

        #[async_std::test]
        async fn a_missing_socket_is_a_connect_error() {
            let config: Config = "host=/nonexistent/mq user=mq".parse().unwrap();
            let error = connect_async_std(&config, NoTls).await.err().unwrap();
            let source = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<io::Error>())
                .expect("the I/O error as the source");
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
    }
}
