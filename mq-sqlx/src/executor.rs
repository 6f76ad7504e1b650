//! The transactional calls on sqlx's own handles.
//!
//! `&PgPool`, `&mut PgConnection` (what `&mut *tx` and `&mut *conn` give),
//! `&mut Transaction` and an owned `Transaction` (committed after the call)
//! all implement [`mq_core::Executor`], through [`mq_sql::sql_executor!`].

use std::ops::{Deref, DerefMut};

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use mq_core::Result;
use mq_sql::{IntoSession, Session};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::Sqlx;
use crate::connection::SqlxConnection;
use crate::error::at;

/// A connection to run one call on, and what to do after it.
pub(crate) enum Conn<'c> {
    /// Taken from a pool for the call, then returned.
    Pooled(PoolConnection<Postgres>),
    /// The caller's connection or transaction; the caller commits.
    Borrowed(&'c mut PgConnection),
    /// The caller's transaction, committed after the call.
    Owned(Transaction<'c, Postgres>),
}

impl Deref for Conn<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Borrowed(conn) => conn,
            Self::Owned(tx) => tx,
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Borrowed(conn) => conn,
            Self::Owned(tx) => tx,
        }
    }
}

#[async_trait]
impl<'c> Session for SqlxConnection<Conn<'c>> {
    async fn finish(self: Box<Self>) -> Result<()> {
        match self.into_inner() {
            Conn::Owned(tx) => tx.commit().await.map_err(at("commit")),
            Conn::Pooled(_) | Conn::Borrowed(_) => Ok(()),
        }
    }
}

fn session(conn: Conn<'_>) -> Box<dyn Session + '_> {
    Box::new(SqlxConnection::borrowed(conn))
}

impl<'c> IntoSession<'c, Sqlx> for &'c PgPool {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        async move {
            let conn = self.acquire().await.map_err(at("acquire"))?;
            let conn = SqlxConnection::pooled(Conn::Pooled(conn)).grouped_with(self);
            Ok(Box::new(conn) as Box<dyn Session + 'c>)
        }
        .boxed()
    }
}

impl<'c> IntoSession<'c, Sqlx> for &'c mut PgConnection {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        async move { Ok(session(Conn::Borrowed(self))) }.boxed()
    }
}

impl<'c, 't> IntoSession<'c, Sqlx> for &'c mut Transaction<'t, Postgres> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        async move { Ok(session(Conn::Borrowed(self))) }.boxed()
    }
}

impl<'c> IntoSession<'c, Sqlx> for Transaction<'c, Postgres> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        async move { Ok(session(Conn::Owned(self))) }.boxed()
    }
}

mq_sql::sql_executor!(Sqlx;
    ['c] &'c PgPool,
    ['c] &'c mut PgConnection,
    ['c, 't] &'c mut Transaction<'t, Postgres>,
    ['c] Transaction<'c, Postgres>,
);
