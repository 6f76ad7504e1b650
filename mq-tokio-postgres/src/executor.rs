//! The transactional calls on tokio-postgres's and deadpool's own handles.
//!
//! `&deadpool_postgres::Pool`, a pooled connection (`&Object`), a bare
//! `&tokio_postgres::Client`, and transactions of either crate (borrowed,
//! or owned and committed after the call) all implement
//! [`mq_core::Executor`], through [`mq_sql::sql_executor!`].

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use mq_core::Result;
use mq_sql::{Connection, GroupKey, IntoSession, Param, Pooling, Row, Session, Transaction};

use crate::TokioPostgres;
use crate::connection::Conn;
use crate::error::{at, pool_at};

/// A connection to run statements on, what ends it, and how its server
/// connection is shared.
pub(crate) struct Handle<'c> {
    link: Link<'c>,
    pooling: Pooling,
    /// See [`Connection::notify_group`].
    notify_group: Option<GroupKey>,
}

impl<'c> Handle<'c> {
    pub(crate) fn new(link: Link<'c>) -> Self {
        Self {
            link,
            pooling: Pooling::Session,
            notify_group: None,
        }
    }

    /// This handle, run as `pooling` requires.
    pub(crate) fn with_pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = pooling;
        self
    }

    fn conn(&self) -> Conn<'_> {
        self.link.conn().with_pooling(self.pooling)
    }
}

/// A connection to run statements on, and what ends it. The calls run on
/// the first five; [`begin`](Connection::begin) makes the last two.
pub(crate) enum Link<'c> {
    /// Taken from a pool for the call, then returned.
    Pooled(deadpool_postgres::Object),
    /// The caller's connection or transaction; the caller commits.
    Borrowed(Conn<'c>),
    /// The caller's transaction, committed after the call.
    Owned(tokio_postgres::Transaction<'c>),
    /// The caller's deadpool transaction, committed after the call; also
    /// the transaction mq opens on a connection of its own, which rolls
    /// back if the call is dropped half-way, so that the connection goes
    /// back to the pool clean.
    OwnedPooled(deadpool_postgres::Transaction<'c>),
    /// A transaction (`BEGIN`) or savepoint mq opened on a connection it
    /// borrows: tokio-postgres makes `Transaction` objects only from a
    /// `&mut Client`, and the caller lent a shared one.
    Begun { conn: Conn<'c>, savepoint: bool },
}

impl Link<'_> {
    fn conn(&self) -> Conn<'_> {
        match self {
            Self::Pooled(client) => Conn::pooled(client),
            Self::Borrowed(conn) | Self::Begun { conn, .. } => *conn,
            Self::Owned(tx) => Conn::new(tx.client(), None, true),
            Self::OwnedPooled(tx) => Conn::pooled_transaction(tx),
        }
    }
}

#[async_trait]
impl Connection for Handle<'_> {
    async fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        self.conn().query(operation, sql, params).await
    }

    async fn execute(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64> {
        self.conn().execute(operation, sql, params).await
    }

    async fn batch_execute(&mut self, operation: &'static str, sql: &'static str) -> Result<()> {
        self.conn().batch_execute(operation, sql).await
    }

    fn autocommit(&self) -> bool {
        matches!(self.link, Link::Pooled(_))
    }

    fn notify_group(&self) -> Option<GroupKey> {
        self.notify_group.clone()
    }

    fn pooling(&self) -> Pooling {
        self.pooling
    }

    fn set_pooling(&mut self, pooling: Pooling) {
        self.pooling = pooling;
    }

    async fn begin(&mut self, operation: &'static str) -> Result<Box<dyn Transaction + '_>> {
        let link = match &mut self.link {
            Link::Pooled(client) => {
                Link::OwnedPooled(client.transaction().await.map_err(at(operation))?)
            }
            Link::OwnedPooled(tx) => {
                Link::OwnedPooled(tx.transaction().await.map_err(at(operation))?)
            }
            Link::Owned(tx) => Link::Owned(tx.transaction().await.map_err(at(operation))?),
            Link::Borrowed(conn) | Link::Begun { conn, .. } => {
                let savepoint = conn.in_transaction;
                let sql = if savepoint { "SAVEPOINT mq" } else { "BEGIN" };
                conn.batch_execute(operation, sql).await?;
                let conn = Conn::new(conn.client, None, true);
                Link::Begun { conn, savepoint }
            }
        };
        Ok(Box::new(Handle::new(link).with_pooling(self.pooling)))
    }
}

impl Handle<'_> {
    /// Ends what this handle began: commits (or rolls back) a transaction
    /// it owns; a pooled or borrowed connection has nothing to end.
    async fn end(self, operation: &'static str, commit: bool) -> Result<()> {
        match (self.link, commit) {
            (Link::Owned(tx), true) => tx.commit().await.map_err(at(operation)),
            (Link::Owned(tx), false) => tx.rollback().await.map_err(at(operation)),
            (Link::OwnedPooled(tx), true) => tx.commit().await.map_err(at(operation)),
            (Link::OwnedPooled(tx), false) => tx.rollback().await.map_err(at(operation)),
            (Link::Begun { conn, savepoint }, commit) => {
                let sql = match (savepoint, commit) {
                    (true, true) => "RELEASE SAVEPOINT mq",
                    (true, false) => "ROLLBACK TO SAVEPOINT mq; RELEASE SAVEPOINT mq",
                    (false, true) => "COMMIT",
                    (false, false) => "ROLLBACK",
                };
                conn.batch_execute(operation, sql).await
            }
            (Link::Pooled(_) | Link::Borrowed(_), _) => Ok(()),
        }
    }
}

#[async_trait]
impl Transaction for Handle<'_> {
    async fn commit(self: Box<Self>, operation: &'static str) -> Result<()> {
        self.end(operation, true).await
    }

    async fn rollback(self: Box<Self>, operation: &'static str) -> Result<()> {
        self.end(operation, false).await
    }
}

#[async_trait]
impl Session for Handle<'_> {
    async fn finish(self: Box<Self>) -> Result<()> {
        self.end("commit", true).await
    }
}

fn ready<'c>(link: Link<'c>) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
    futures::future::ready(Ok(Box::new(Handle::new(link)) as Box<dyn Session + 'c>)).boxed()
}

impl<'c> IntoSession<'c, TokioPostgres> for &'c deadpool_postgres::Pool {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        async move {
            let client = self.get().await.map_err(pool_at("acquire"))?;
            let mut handle = Handle::new(Link::Pooled(client));
            // deadpool keeps its connection settings to itself, so the
            // group is this pool, named by its address: a group lasts only
            // while one of its calls is in flight, and such a call borrows
            // the pool, which can then be neither moved nor replaced by
            // another at the same address.
            handle.notify_group = Some(format!("deadpool {:p}", self));
            Ok(Box::new(handle) as Box<dyn Session + 'c>)
        }
        .boxed()
    }
}

impl<'c> IntoSession<'c, TokioPostgres> for &'c deadpool_postgres::Object {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::Borrowed(Conn::pooled(self)))
    }
}

impl<'c, 't> IntoSession<'c, TokioPostgres> for &'c deadpool_postgres::Transaction<'t> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::Borrowed(Conn::pooled_transaction(self)))
    }
}

impl<'c, 't> IntoSession<'c, TokioPostgres> for &'c mut deadpool_postgres::Transaction<'t> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::Borrowed(Conn::pooled_transaction(self)))
    }
}

impl<'c> IntoSession<'c, TokioPostgres> for deadpool_postgres::Transaction<'c> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::OwnedPooled(self))
    }
}

impl<'c> IntoSession<'c, TokioPostgres> for &'c tokio_postgres::Client {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::Borrowed(Conn::new(self, None, false)))
    }
}

impl<'c, 't> IntoSession<'c, TokioPostgres> for &'c tokio_postgres::Transaction<'t> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::Borrowed(Conn::new(self.client(), None, true)))
    }
}

impl<'c, 't> IntoSession<'c, TokioPostgres> for &'c mut tokio_postgres::Transaction<'t> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::Borrowed(Conn::new(self.client(), None, true)))
    }
}

impl<'c> IntoSession<'c, TokioPostgres> for tokio_postgres::Transaction<'c> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        ready(Link::Owned(self))
    }
}

mq_sql::sql_executor!(TokioPostgres;
    ['c] &'c deadpool_postgres::Pool,
    ['c] &'c deadpool_postgres::Object,
    ['c, 't] &'c deadpool_postgres::Transaction<'t>,
    ['c, 't] &'c mut deadpool_postgres::Transaction<'t>,
    ['c] deadpool_postgres::Transaction<'c>,
    ['c] &'c tokio_postgres::Client,
    ['c, 't] &'c tokio_postgres::Transaction<'t>,
    ['c, 't] &'c mut tokio_postgres::Transaction<'t>,
    ['c] tokio_postgres::Transaction<'c>,
);
