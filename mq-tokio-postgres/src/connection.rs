//! Running a statement on a tokio-postgres client: binding parameters,
//! decoding columns and caching prepared statements, the only part of
//! running a statement that depends on tokio-postgres. The
//! [`mq_sql::Connection`] on top is the executor's `Handle`.

use deadpool_postgres::StatementCache;
use mq_core::Result;
use mq_sql::{ColumnType, Param, Pooling, Row, Value, decode_rows};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use crate::error::at;

/// Where statements run: a client, whether it is inside a transaction, and
/// its statement cache if it comes from deadpool.
#[derive(Clone, Copy)]
pub(crate) struct Conn<'a> {
    pub(crate) client: &'a Client,
    cache: Option<&'a StatementCache>,
    pub(crate) in_transaction: bool,
    pooling: Pooling,
}

impl<'a> Conn<'a> {
    /// A deadpool connection, outside a transaction.
    pub(crate) fn pooled(client: &'a deadpool_postgres::Object) -> Self {
        Self::new(client, Some(&client.statement_cache), false)
    }

    /// A transaction on a deadpool connection.
    pub(crate) fn pooled_transaction(tx: &'a deadpool_postgres::Transaction<'_>) -> Self {
        Self::new(tx.client(), Some(&tx.statement_cache), true)
    }

    /// A bare tokio-postgres client or transaction.
    pub(crate) fn new(
        client: &'a Client,
        cache: Option<&'a StatementCache>,
        in_transaction: bool,
    ) -> Self {
        Self {
            client,
            cache,
            in_transaction,
            pooling: Pooling::Session,
        }
    }

    /// This connection, run as `pooling` requires: through a transaction
    /// pooler, statements are unnamed and sent with their parameters' types
    /// in one exchange (`query_typed`), so that no statement outlives it.
    pub(crate) fn with_pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = pooling;
        self
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

    pub(crate) async fn query(
        &self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        if self.pooling == Pooling::Transaction {
            let rows = self.client.query_typed(sql, &typed(params)).await;
            return decode(operation, rows.map_err(at(operation))?);
        }
        let statement = self.prepare(operation, sql).await.map_err(at(operation))?;
        let rows = self
            .client
            .query(&statement, &to_sql(params))
            .await
            .map_err(at(operation))?;
        decode(operation, rows)
    }

    pub(crate) async fn execute(
        &self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64> {
        if self.pooling == Pooling::Transaction {
            let done = self.client.execute_typed(sql, &typed(params)).await;
            return done.map_err(at(operation));
        }
        let statement = self.prepare(operation, sql).await.map_err(at(operation))?;
        self.client
            .execute(&statement, &to_sql(params))
            .await
            .map_err(at(operation))
    }

    pub(crate) async fn batch_execute(&self, operation: &'static str, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(at(operation))
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
                Param::Timestamps(v) => v,
                Param::OptTimestamps(v) => v,
            }
        })
        .collect()
}

/// Each parameter with its PostgreSQL type, for unnamed statements (which
/// are not described before they are bound).
fn typed<'p>(params: &'p [Param<'p>]) -> Vec<(&'p (dyn ToSql + Sync), Type)> {
    let types = params.iter().map(|param| match param {
        Param::Bool(_) => Type::BOOL,
        Param::I32(_) => Type::INT4,
        Param::I64(_) | Param::OptI64(_) => Type::INT8,
        Param::Text(_) | Param::OptText(_) => Type::TEXT,
        Param::Uuid(_) => Type::UUID,
        Param::OptBytes(_) => Type::BYTEA,
        Param::OptTimestamp(_) => Type::TIMESTAMPTZ,
        Param::Bools(_) => Type::BOOL_ARRAY,
        Param::I32s(_) => Type::INT4_ARRAY,
        Param::I64s(_) | Param::OptI64s(_) => Type::INT8_ARRAY,
        Param::Texts(_) | Param::Strs(_) | Param::OptTexts(_) => Type::TEXT_ARRAY,
        Param::OptBytesArray(_) => Type::BYTEA_ARRAY,
        Param::Uuids(_) => Type::UUID_ARRAY,
        Param::Timestamps(_) | Param::OptTimestamps(_) => Type::TIMESTAMPTZ_ARRAY,
    });
    to_sql(params).into_iter().zip(types).collect()
}

/// One cell, decoded as `ty`.
fn value(
    row: &tokio_postgres::Row,
    i: usize,
    ty: ColumnType,
) -> std::result::Result<Value, tokio_postgres::Error> {
    Ok(mq_sql::decode_cell!(row, i, ty))
}

fn decode(operation: &'static str, rows: Vec<tokio_postgres::Row>) -> Result<Vec<Row>> {
    decode_rows(
        operation,
        &rows,
        |row| {
            let columns = row.columns().iter();
            columns.map(|c| (c.name(), c.type_().name())).collect()
        },
        |row, i, ty| value(row, i, ty).map_err(at(operation)),
    )
}
