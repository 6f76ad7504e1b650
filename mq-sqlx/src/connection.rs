//! [`mq_sql::Connection`] on sqlx's connections: binding parameters and
//! decoding columns, the only part of running a statement that depends on
//! sqlx.

use std::ops::DerefMut;

use async_trait::async_trait;
use mq_core::Result;
use mq_sql::{Connection, Param, Row, Transaction, Value};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Column, PgConnection, Postgres, Row as _, TypeInfo};

use crate::error::{at, interpret_error};

/// A sqlx connection as the shared queries use it: anything that is a
/// `PgConnection` underneath (`&mut PgConnection`, a pooled connection, a
/// transaction).
pub(crate) struct SqlxConnection<C> {
    conn: C,
    /// See [`Connection::autocommit`].
    autocommit: bool,
}

impl<C> SqlxConnection<C> {
    /// A connection mq took from a pool for one call.
    pub(crate) fn pooled(conn: C) -> Self {
        Self {
            conn,
            autocommit: true,
        }
    }

    /// The caller's connection or transaction.
    pub(crate) fn borrowed(conn: C) -> Self {
        Self {
            conn,
            autocommit: false,
        }
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
        };
    }
    query
}

/// How a column decodes: worked out once per result from its type, so
/// that each cell is decoded without looking at type names again.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    I32,
    I64,
    Text,
    Bytes,
    Uuid,
    Timestamp,
    Void,
}

fn kind(row: &PgRow, i: usize) -> std::result::Result<Kind, sqlx::Error> {
    Ok(match row.column(i).type_info().name() {
        "BOOL" => Kind::Bool,
        "INT4" => Kind::I32,
        "INT8" => Kind::I64,
        "TEXT" | "VARCHAR" | "NAME" => Kind::Text,
        "BYTEA" => Kind::Bytes,
        "UUID" => Kind::Uuid,
        "TIMESTAMPTZ" => Kind::Timestamp,
        "VOID" => Kind::Void,
        other => {
            return Err(sqlx::Error::ColumnDecode {
                index: row.column(i).name().to_owned(),
                source: format!("mq reads no column of type {other}").into(),
            });
        }
    })
}

fn value(row: &PgRow, i: usize, kind: Kind) -> std::result::Result<Value, sqlx::Error> {
    fn or_null<T>(value: Option<T>, variant: fn(T) -> Value) -> Value {
        value.map_or(Value::Null, variant)
    }
    Ok(match kind {
        Kind::Bool => or_null(row.try_get(i)?, Value::Bool),
        Kind::I32 => or_null(row.try_get(i)?, Value::I32),
        Kind::I64 => or_null(row.try_get(i)?, Value::I64),
        Kind::Text => or_null(row.try_get(i)?, Value::Text),
        Kind::Bytes => or_null(row.try_get(i)?, Value::Bytes),
        Kind::Uuid => or_null(row.try_get(i)?, Value::Uuid),
        Kind::Timestamp => or_null(row.try_get(i)?, Value::Timestamp),
        Kind::Void => Value::Null,
    })
}

fn decode(operation: &'static str, rows: Vec<PgRow>) -> Result<Vec<Row>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = Row::columns(first.columns().iter().map(|c| c.name()));
    let kinds = (0..first.len())
        .map(|i| kind(first, i))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| interpret_error(operation, e))?;
    rows.iter()
        .map(|row| {
            let values = kinds
                .iter()
                .enumerate()
                .map(|(i, kind)| value(row, i, *kind))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| interpret_error(operation, e))?;
            Ok(Row::new(columns.clone(), values))
        })
        .collect()
}

#[async_trait]
impl<C: DerefMut<Target = PgConnection> + Send> Connection for SqlxConnection<C> {
    async fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        let rows = bind(sqlx::query(sql), params)
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
        let done = bind(sqlx::query(sql), params)
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

    async fn begin(&mut self, operation: &'static str) -> Result<Box<dyn Transaction + '_>> {
        let tx = sqlx::Connection::begin(&mut *self.conn)
            .await
            .map_err(at(operation))?;
        Ok(Box::new(SqlxConnection::borrowed(tx)))
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
