//! [`mq_sql::Connection`] on sqlx's connections: binding parameters and
//! decoding columns, the only part of running a statement that depends on
//! sqlx.

use std::ops::DerefMut;

use async_trait::async_trait;
use mq_core::Result;
use mq_sql::{
    ColumnType, Connection, GroupKey, Param, Pooling, Row, Transaction, Value, decode_rows,
};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Column, PgConnection, PgPool, Postgres, Row as _, TypeInfo};

use crate::error::at;

/// A sqlx connection as the shared queries use it: anything that is a
/// `PgConnection` underneath (`&mut PgConnection`, a pooled connection, a
/// transaction).
pub(crate) struct SqlxConnection<C> {
    conn: C,
    /// See [`Connection::autocommit`].
    autocommit: bool,
    /// See [`Connection::pooling`].
    pooling: Pooling,
    /// See [`Connection::notify_group`].
    notify_group: Option<GroupKey>,
}

impl<C> SqlxConnection<C> {
    /// A connection mq took from a pool for one call.
    pub(crate) fn pooled(conn: C) -> Self {
        Self {
            conn,
            autocommit: true,
            pooling: Pooling::Session,
            notify_group: None,
        }
    }

    /// The caller's connection or transaction.
    pub(crate) fn borrowed(conn: C) -> Self {
        Self {
            conn,
            autocommit: false,
            pooling: Pooling::Session,
            notify_group: None,
        }
    }

    /// This connection, taken from `pool`: its notifications go out with
    /// those of other calls to the same database (see
    /// [`mq_sql::notify_group`]).
    pub(crate) fn grouped_with(mut self, pool: &PgPool) -> Self {
        let options = pool.connect_options();
        self.notify_group = Some(format!(
            "sqlx {:?} {} {} {} {:?}",
            options.get_socket(),
            options.get_host(),
            options.get_port(),
            options.get_username(),
            options.get_database(),
        ));
        self
    }

    /// The connection, back.
    pub(crate) fn into_inner(self) -> C {
        self.conn
    }

    /// This connection, run as `pooling` requires.
    pub(crate) fn with_pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = pooling;
        self
    }

    /// A statement as [`Pooling`] requires: prepared once and cached by
    /// sqlx, or unnamed (parsed for each use).
    fn statement(&self, sql: &'static str) -> Query<'static, Postgres, PgArguments> {
        sqlx::query(sql).persistent(self.pooling == Pooling::Session)
    }
}

impl<C: DerefMut<Target = PgConnection>> SqlxConnection<C> {
    /// Whether a statement must run in a transaction of its own: sqlx
    /// parses an unnamed statement and then binds it in two exchanges,
    /// between which a transaction pooler may switch server connections
    /// unless a transaction is open.
    fn needs_transaction(&self) -> bool {
        self.pooling == Pooling::Transaction && !sqlx::Connection::is_in_transaction(&*self.conn)
    }
}

fn bind<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    params: &'q [Param<'q>],
) -> Query<'q, Postgres, PgArguments> {
    for param in params {
        query = match *param {
            Param::Bool(v) => query.bind(v),
            Param::I32(v) => query.bind(v),
            Param::I64(v) => query.bind(v),
            Param::OptI64(v) => query.bind(v),
            Param::Text(v) => query.bind(v),
            Param::OptText(v) => query.bind(v),
            Param::Uuid(v) => query.bind(v),
            Param::OptBytes(v) => query.bind(v),
            Param::OptTimestamp(v) => query.bind(v),
            Param::Bools(v) => query.bind(v),
            Param::I32s(v) => query.bind(v),
            Param::I64s(v) => query.bind(v),
            Param::OptI64s(v) => query.bind(v),
            Param::Texts(v) => query.bind(v),
            Param::Strs(v) => query.bind(v),
            Param::OptTexts(v) => query.bind(v),
            Param::OptBytesArray(v) => query.bind(v),
            Param::Uuids(v) => query.bind(v),
            Param::Timestamps(v) => query.bind(v),
            Param::OptTimestamps(v) => query.bind(v),
        };
    }
    query
}

/// One cell, decoded as `ty`.
fn value(row: &PgRow, i: usize, ty: ColumnType) -> std::result::Result<Value, sqlx::Error> {
    Ok(mq_sql::decode_cell!(row, i, ty))
}

fn decode(operation: &'static str, rows: Vec<PgRow>) -> Result<Vec<Row>> {
    decode_rows(
        operation,
        &rows,
        |row| {
            let columns = row.columns().iter();
            columns.map(|c| (c.name(), c.type_info().name())).collect()
        },
        |row, i, ty| value(row, i, ty).map_err(at(operation)),
    )
}

#[async_trait]
impl<C: DerefMut<Target = PgConnection> + Send> Connection for SqlxConnection<C> {
    async fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        if self.needs_transaction() {
            let mut tx = self.begin(operation).await?;
            let rows = tx.query(operation, sql, params).await?;
            tx.commit(operation).await?;
            return Ok(rows);
        }
        let rows = bind(self.statement(sql), params)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(at(operation))?;
        decode(operation, rows)
    }

    async fn execute(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64> {
        if self.needs_transaction() {
            let mut tx = self.begin(operation).await?;
            let done = tx.execute(operation, sql, params).await?;
            tx.commit(operation).await?;
            return Ok(done);
        }
        let done = bind(self.statement(sql), params)
            .execute(&mut *self.conn)
            .await
            .map_err(at(operation))?;
        Ok(done.rows_affected())
    }

    async fn batch_execute(&mut self, operation: &'static str, sql: &'static str) -> Result<()> {
        sqlx::raw_sql(sql)
            .execute(&mut *self.conn)
            .await
            .map_err(at(operation))?;
        Ok(())
    }

    fn autocommit(&self) -> bool {
        self.autocommit
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
        let tx = sqlx::Connection::begin(&mut *self.conn)
            .await
            .map_err(at(operation))?;
        Ok(Box::new(
            SqlxConnection::borrowed(tx).with_pooling(self.pooling),
        ))
    }
}

#[async_trait]
impl Transaction for SqlxConnection<sqlx::Transaction<'_, Postgres>> {
    async fn commit(self: Box<Self>, operation: &'static str) -> Result<()> {
        self.conn.commit().await.map_err(at(operation))
    }

    async fn rollback(self: Box<Self>, operation: &'static str) -> Result<()> {
        self.conn.rollback().await.map_err(at(operation))
    }
}
