//! [`mq_sql::Connection`] on tokio-postgres clients and transactions:
//! binding parameters, decoding columns and caching prepared statements,
//! the only part of running a statement that depends on tokio-postgres.

use async_trait::async_trait;
use deadpool_postgres::StatementCache;
use mq_core::Result;
use mq_sql::{Connection, Param, Row, Transaction, Value};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use crate::error::at;

/// Where statements run: a client, whether it is inside a transaction, and
/// its statement cache if it comes from deadpool.
#[derive(Clone, Copy)]
pub(crate) struct Conn<'a> {
    client: &'a Client,
    cache: Option<&'a StatementCache>,
    in_transaction: bool,
    /// See [`Connection::autocommit`].
    autocommit: bool,
}

impl<'a> Conn<'a> {
    /// A deadpool connection, outside a transaction.
    pub(crate) fn pooled(client: &'a deadpool_postgres::Object) -> Self {
        Self {
            client,
            cache: Some(&client.statement_cache),
            in_transaction: false,
            autocommit: false,
        }
    }

    /// A deadpool connection mq took from the pool for this one call.
    pub(crate) fn taken(client: &'a deadpool_postgres::Object) -> Self {
        Self {
            autocommit: true,
            ..Self::pooled(client)
        }
    }

    /// A transaction on a deadpool connection.
    pub(crate) fn pooled_transaction(tx: &'a deadpool_postgres::Transaction<'_>) -> Self {
        Self {
            client: tx.client(),
            cache: Some(&tx.statement_cache),
            in_transaction: true,
            autocommit: false,
        }
    }

    /// A bare tokio-postgres client, outside a transaction.
    pub(crate) fn client(client: &'a Client) -> Self {
        Self {
            client,
            cache: None,
            in_transaction: false,
            autocommit: false,
        }
    }

    /// A bare tokio-postgres transaction.
    pub(crate) fn transaction(tx: &'a tokio_postgres::Transaction<'_>) -> Self {
        Self {
            client: tx.client(),
            cache: None,
            in_transaction: true,
            autocommit: false,
        }
    }

    /// The statement for `sql`: from the connection's cache, or prepared
    /// for this one use. Migrations and vacuums bypass the cache: they run
    /// rarely, and a plan cached while the schema changes under it would
    /// outlive the schema it was planned for.
    async fn prepare(
        &self,
        operation: &'static str,
        sql: &str,
    ) -> std::result::Result<Statement, tokio_postgres::Error> {
        match self.cache {
            Some(cache) if !matches!(operation, "migrate" | "job_vacuum") => {
                cache.prepare(self.client, sql).await
            }
            _ => self.client.prepare(sql).await,
        }
    }
}

fn to_sql<'p>(params: &'p [Param<'p>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params
        .iter()
        .map(|param| -> &(dyn ToSql + Sync) {
            match param {
                Param::Bool(v) => v,
                Param::I32(v) => v,
                Param::I64(v) => v,
                Param::OptI64(v) => v,
                Param::Text(v) => v,
                Param::OptText(v) => v,
                Param::Uuid(v) => v,
                Param::OptBytes(v) => v,
                Param::OptTimestamp(v) => v,
                Param::Bools(v) => v,
                Param::I32s(v) => v,
                Param::I64s(v) => v,
                Param::OptI64s(v) => v,
                Param::Texts(v) => v,
                Param::Strs(v) => v,
                Param::OptTexts(v) => v,
                Param::OptBytesArray(v) => v,
                Param::Uuids(v) => v,
            }
        })
        .collect()
}

/// How a column decodes: worked out once per result from its type.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    I32,
    I64,
    Bytes,
    Uuid,
    Timestamp,
    Void,
    /// TEXT, VARCHAR, NAME; any other type fails to decode as a String,
    /// with an error that names it.
    Text,
}

fn kind(ty: &Type) -> Kind {
    match *ty {
        Type::BOOL => Kind::Bool,
        Type::INT4 => Kind::I32,
        Type::INT8 => Kind::I64,
        Type::BYTEA => Kind::Bytes,
        Type::UUID => Kind::Uuid,
        Type::TIMESTAMPTZ => Kind::Timestamp,
        Type::VOID => Kind::Void,
        _ => Kind::Text,
    }
}

fn value(
    row: &tokio_postgres::Row,
    i: usize,
    kind: Kind,
) -> std::result::Result<Value, tokio_postgres::Error> {
    fn or_null<T>(value: Option<T>, variant: fn(T) -> Value) -> Value {
        value.map_or(Value::Null, variant)
    }
    Ok(match kind {
        Kind::Bool => or_null(row.try_get(i)?, Value::Bool),
        Kind::I32 => or_null(row.try_get(i)?, Value::I32),
        Kind::I64 => or_null(row.try_get(i)?, Value::I64),
        Kind::Bytes => or_null(row.try_get(i)?, Value::Bytes),
        Kind::Uuid => or_null(row.try_get(i)?, Value::Uuid),
        Kind::Timestamp => or_null(row.try_get(i)?, Value::Timestamp),
        Kind::Void => Value::Null,
        Kind::Text => or_null(row.try_get(i)?, Value::Text),
    })
}

fn decode(operation: &'static str, rows: Vec<tokio_postgres::Row>) -> Result<Vec<Row>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = Row::columns(first.columns().iter().map(|c| c.name()));
    let kinds: Vec<Kind> = first.columns().iter().map(|c| kind(c.type_())).collect();
    rows.iter()
        .map(|row| {
            let values = kinds
                .iter()
                .enumerate()
                .map(|(i, kind)| value(row, i, *kind))
                .collect::<std::result::Result<_, _>>()
                .map_err(at(operation))?;
            Ok(Row::new(columns.clone(), values))
        })
        .collect()
}

#[async_trait]
impl Connection for Conn<'_> {
    async fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        let statement = self.prepare(operation, sql).await.map_err(at(operation))?;
        let rows = self
            .client
            .query(&statement, &to_sql(params))
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
        let statement = self.prepare(operation, sql).await.map_err(at(operation))?;
        self.client
            .execute(&statement, &to_sql(params))
            .await
            .map_err(at(operation))
    }

    async fn batch_execute(&mut self, operation: &'static str, sql: &'static str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(at(operation))
    }

    fn autocommit(&self) -> bool {
        self.autocommit
    }

    /// Outside a transaction, `BEGIN`; inside one, a savepoint.
    /// tokio-postgres only starts a `Transaction` object from a
    /// `&mut Client`, and the caller lent a shared one.
    async fn begin(&mut self, operation: &'static str) -> Result<Box<dyn Transaction + '_>> {
        let savepoint = self.in_transaction;
        self.client
            .batch_execute(if savepoint { "SAVEPOINT mq" } else { "BEGIN" })
            .await
            .map_err(at(operation))?;
        Ok(Box::new(Begun {
            conn: Conn {
                in_transaction: true,
                autocommit: false,
                ..*self
            },
            savepoint,
        }))
    }
}

/// A transaction opened by [`Conn::begin`].
struct Begun<'a> {
    conn: Conn<'a>,
    savepoint: bool,
}

#[async_trait]
impl Connection for Begun<'_> {
    async fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        self.conn.query(operation, sql, params).await
    }

    async fn execute(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64> {
        self.conn.execute(operation, sql, params).await
    }

    async fn batch_execute(&mut self, operation: &'static str, sql: &'static str) -> Result<()> {
        self.conn.batch_execute(operation, sql).await
    }

    async fn begin(&mut self, operation: &'static str) -> Result<Box<dyn Transaction + '_>> {
        self.conn.begin(operation).await
    }
}

#[async_trait]
impl Transaction for Begun<'_> {
    async fn commit(self: Box<Self>, operation: &'static str) -> Result<()> {
        let sql = if self.savepoint {
            "RELEASE SAVEPOINT mq"
        } else {
            "COMMIT"
        };
        self.conn
            .client
            .batch_execute(sql)
            .await
            .map_err(at(operation))
    }

    async fn rollback(self: Box<Self>, operation: &'static str) -> Result<()> {
        let sql = if self.savepoint {
            "ROLLBACK TO SAVEPOINT mq; RELEASE SAVEPOINT mq"
        } else {
            "ROLLBACK"
        };
        self.conn
            .client
            .batch_execute(sql)
            .await
            .map_err(at(operation))
    }
}
