//! What the shared queries need from a driver: a connection that runs a
//! statement with parameters and returns its rows.
//!
//! Each driver implements [`Connection`] for its own connection types
//! (sqlx's `PgConnection`, tokio-postgres's `Client` and `Transaction`),
//! binding each [`Param`] and turning each column of a result into a
//! [`Value`]. Everything else (which statement, which parameters, how rows
//! become mq's types) is written once, in [`queries`](crate::queries).

use std::sync::Arc;

use async_trait::async_trait;
use mq_core::{Result, Uuid};
use time::OffsetDateTime;

use crate::notify_group::GroupKey;

/// A parameter of a statement, in a form every driver can bind. The
/// statements cast every parameter (`$1::uuid[]`), so each variant has one
/// PostgreSQL type.
#[derive(Clone, Copy, Debug)]
pub enum Param<'a> {
    /// `boolean`
    Bool(bool),
    /// `integer`
    I32(i32),
    /// `bigint`
    I64(i64),
    /// `bigint`, or NULL
    OptI64(Option<i64>),
    /// `text`
    Text(&'a str),
    /// `text`, or NULL
    OptText(Option<&'a str>),
    /// `uuid`
    Uuid(Uuid),
    /// `bytea`, or NULL
    OptBytes(Option<&'a [u8]>),
    /// `timestamptz`, or NULL
    OptTimestamp(Option<OffsetDateTime>),
    /// `boolean[]`
    Bools(&'a [bool]),
    /// `integer[]`
    I32s(&'a [i32]),
    /// `bigint[]`
    I64s(&'a [i64]),
    /// `bigint[]` with NULLs
    OptI64s(&'a [Option<i64>]),
    /// `text[]`
    Texts(&'a [String]),
    /// `text[]`
    Strs(&'a [&'a str]),
    /// `text[]` with NULLs
    OptTexts(&'a [Option<String>]),
    /// `bytea[]` with NULLs
    OptBytesArray(&'a [Option<Vec<u8>>]),
    /// `uuid[]`
    Uuids(&'a [Uuid]),
    /// `timestamptz[]`
    Timestamps(&'a [OffsetDateTime]),
    /// `timestamptz[]` with NULLs
    OptTimestamps(&'a [Option<OffsetDateTime>]),
}

/// One column of a result row, decoded by the driver from its PostgreSQL
/// type. The statements cast what has no variant here (`state::text`,
/// `errors::text`, intervals to microseconds).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// NULL, of any type.
    Null,
    /// `boolean`
    Bool(bool),
    /// `integer`
    I32(i32),
    /// `bigint`
    I64(i64),
    /// `text` (and `varchar`, `name`)
    Text(String),
    /// `bytea`
    Bytes(Vec<u8>),
    /// `uuid`
    Uuid(Uuid),
    /// `timestamptz`
    Timestamp(OffsetDateTime),
}

/// The column types mq reads, each decoded to one [`Value`] variant. The
/// statements cast everything else (`state::text`, intervals to
/// microseconds), so a column of another type is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// `boolean`: [`Value::Bool`]
    Bool,
    /// `integer`: [`Value::I32`]
    I32,
    /// `bigint`: [`Value::I64`]
    I64,
    /// `text`, `varchar`, `name`: [`Value::Text`]
    Text,
    /// `bytea`: [`Value::Bytes`]
    Bytes,
    /// `uuid`: [`Value::Uuid`]
    Uuid,
    /// `timestamptz`: [`Value::Timestamp`]
    Timestamp,
    /// `void` (what a function returning nothing gives): [`Value::Null`]
    Void,
}

impl ColumnType {
    /// The type of a column whose PostgreSQL type is named `name` (`int8`
    /// or `INT8`, as drivers spell it), if mq reads that type.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "bool" => Self::Bool,
            "int4" => Self::I32,
            "int8" => Self::I64,
            "text" | "varchar" | "name" => Self::Text,
            "bytea" => Self::Bytes,
            "uuid" => Self::Uuid,
            "timestamptz" => Self::Timestamp,
            "void" => Self::Void,
            _ => return None,
        })
    }
}

/// Decodes cell `$i` of `$row` as the [`ColumnType`] `$ty` with the
/// driver's `$row.try_get(i)` (sqlx's and tokio-postgres's rows both have
/// one), returning early with the driver's error: the one match both
/// drivers write alike, written once.
#[macro_export]
macro_rules! decode_cell {
    ($row:expr, $i:expr, $ty:expr) => {{
        use $crate::{ColumnType, Value};
        fn or_null<T>(value: Option<T>, variant: fn(T) -> Value) -> Value {
            value.map_or(Value::Null, variant)
        }
        match $ty {
            ColumnType::Bool => or_null($row.try_get($i)?, Value::Bool),
            ColumnType::I32 => or_null($row.try_get($i)?, Value::I32),
            ColumnType::I64 => or_null($row.try_get($i)?, Value::I64),
            ColumnType::Text => or_null($row.try_get($i)?, Value::Text),
            ColumnType::Bytes => or_null($row.try_get($i)?, Value::Bytes),
            ColumnType::Uuid => or_null($row.try_get($i)?, Value::Uuid),
            ColumnType::Timestamp => or_null($row.try_get($i)?, Value::Timestamp),
            ColumnType::Void => Value::Null,
        }
    }};
}

/// Decodes a driver's result rows into [`Row`]s. The column names and types
/// are read once, from the first row (`columns` gives each column's name
/// and type name); `value` decodes one cell as the given type, mapping the
/// driver's error for `operation`.
pub fn decode_rows<R>(
    operation: &'static str,
    rows: &[R],
    columns: impl for<'r> Fn(&'r R) -> Vec<(&'r str, &'r str)>,
    value: impl Fn(&R, usize, ColumnType) -> Result<Value>,
) -> Result<Vec<Row>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = columns(first);
    let types = columns
        .iter()
        .map(|(name, type_name)| {
            ColumnType::from_name(type_name).ok_or_else(|| {
                let reason = format!("mq reads no column of type {type_name} (column {name:?})");
                mq_core::Error::backend(operation, false, reason)
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let names = Row::columns(columns.iter().map(|(name, _)| *name));
    rows.iter()
        .map(|row| {
            let values = types
                .iter()
                .enumerate()
                .map(|(i, ty)| value(row, i, *ty))
                .collect::<Result<_>>()?;
            Ok(Row::new(names.clone(), values))
        })
        .collect()
}

/// A result row: values by column name.
#[derive(Clone, Debug)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The column names of a result, for [`Row::new`]: build it once per
    /// result and share it between its rows.
    pub fn columns<'n>(names: impl IntoIterator<Item = &'n str>) -> Arc<[String]> {
        names.into_iter().map(str::to_owned).collect()
    }

    /// A row of `values`, in the order of `columns`.
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    /// Takes the value of column `name` as a `T`, leaving NULL behind:
    /// each column is read once, without copying payloads. An error (a
    /// newer schema, a row changed by hand) says which column and why.
    pub fn take<T: FromValue>(&mut self, name: &str) -> std::result::Result<T, String> {
        // A statement has a dozen columns at most: a scan beats hashing.
        let value = self
            .columns
            .iter()
            .position(|column| column == name)
            .and_then(|i| self.values.get_mut(i))
            .ok_or_else(|| format!("no column {name:?} in the result"))?;
        T::from_value(std::mem::replace(value, Value::Null)).map_err(|value| {
            format!(
                "column {name:?} holds {value:?}, not {}",
                std::any::type_name::<T>()
            )
        })
    }
}

/// A Rust type a [`Value`] converts to.
pub trait FromValue: Sized {
    /// The value as this type, or the value back if it is not one.
    fn from_value(value: Value) -> std::result::Result<Self, Value>;
}

macro_rules! from_value {
    ($($variant:ident => $ty:ty),+ $(,)?) => {
        $(
            impl FromValue for $ty {
                fn from_value(value: Value) -> std::result::Result<Self, Value> {
                    match value {
                        Value::$variant(v) => Ok(v),
                        value => Err(value),
                    }
                }
            }
        )+
    };
}

from_value! {
    Bool => bool,
    I32 => i32,
    I64 => i64,
    Text => String,
    Bytes => Vec<u8>,
    Uuid => Uuid,
    Timestamp => OffsetDateTime,
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> std::result::Result<Self, Value> {
        match value {
            Value::Null => Ok(None),
            value => T::from_value(value).map(Some),
        }
    }
}

/// How the server connection behind a [`Connection`] is shared, which says
/// what mq may leave on it between its transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pooling {
    /// The connection is the client's for as long as it holds it (a direct
    /// connection, or a pooler in session mode): statements are prepared
    /// once and cached, and settings may span statements.
    #[default]
    Session,
    /// A proxy in transaction pooling mode (PgBouncer's `pool_mode =
    /// transaction`) may hand the server connection to another client
    /// after every transaction: no prepared statement may outlive its
    /// transaction (statements are unnamed), and no setting or lock may
    /// outlive its statement.
    Transaction,
}

/// A database connection as the shared queries use it. Implemented by each
/// driver for its own connection and transaction types; errors are mapped
/// to [`mq_core::Error`] there, naming `operation`.
#[async_trait]
pub trait Connection: Send {
    /// Runs a statement (extended protocol, prepared and cached by the
    /// driver) and returns its rows.
    async fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>>;

    /// Runs a statement and returns how many rows it changed.
    async fn execute(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64>;

    /// Runs statements without parameters through the simple protocol
    /// (for what cannot be prepared: migrations, `VACUUM`).
    async fn batch_execute(&mut self, operation: &'static str, sql: &'static str) -> Result<()>;

    /// Whether mq took this connection from a pool for this one call, so
    /// that each statement commits on its own. A notification that fails
    /// after an insert committed this way is only logged: the job is in,
    /// and runners also poll. On a caller's connection the error is
    /// returned, because the insert may be part of the caller's transaction
    /// (which the error then aborts).
    fn autocommit(&self) -> bool {
        false
    }

    /// The database this connection reaches, when mq took it from a pool
    /// for this one call: its notifications then go out with those of the
    /// other calls to that database that end meanwhile
    /// ([`notify_group`](crate::notify_group)). `None` (the default) sends
    /// them on their own.
    fn notify_group(&self) -> Option<GroupKey> {
        None
    }

    /// How the server connection is shared (see [`Pooling`]).
    fn pooling(&self) -> Pooling;

    /// Runs mq's statements on this connection as `pooling` requires.
    fn set_pooling(&mut self, pooling: Pooling);

    /// Opens a transaction on this connection (a savepoint, if it is in
    /// one already). End it with [`Transaction::commit`] or
    /// [`Transaction::rollback`].
    async fn begin(&mut self, operation: &'static str) -> Result<Box<dyn Transaction + '_>>;
}

/// A transaction opened by [`Connection::begin`].
#[async_trait]
pub trait Transaction: Connection {
    /// Commits the transaction (releases the savepoint).
    async fn commit(self: Box<Self>, operation: &'static str) -> Result<()>;

    /// Rolls the transaction back (to the savepoint).
    async fn rollback(self: Box<Self>, operation: &'static str) -> Result<()>;
}

#[async_trait]
impl<C: Connection + ?Sized> Connection for &mut C {
    async fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        (**self).query(operation, sql, params).await
    }

    async fn execute(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64> {
        (**self).execute(operation, sql, params).await
    }

    async fn batch_execute(&mut self, operation: &'static str, sql: &'static str) -> Result<()> {
        (**self).batch_execute(operation, sql).await
    }

    fn autocommit(&self) -> bool {
        (**self).autocommit()
    }

    fn notify_group(&self) -> Option<GroupKey> {
        (**self).notify_group()
    }

    fn pooling(&self) -> Pooling {
        (**self).pooling()
    }

    fn set_pooling(&mut self, pooling: Pooling) {
        (**self).set_pooling(pooling);
    }

    async fn begin(&mut self, operation: &'static str) -> Result<Box<dyn Transaction + '_>> {
        (**self).begin(operation).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_values_by_name() {
        let columns = Row::columns(["id", "n", "note"]);
        let id = Uuid::now_v7();
        let mut row = Row::new(columns, vec![Value::Uuid(id), Value::I64(3), Value::Null]);
        assert_eq!(row.take::<Uuid>("id"), Ok(id));
        // The wrong type says so, naming the column and what it holds.
        let wrong = row.take::<i32>("n").unwrap_err();
        assert!(
            wrong.contains("\"n\"") && wrong.contains("I64(3)"),
            "{wrong}"
        );
        assert_eq!(row.take::<Option<String>>("note"), Ok(None));
        assert!(row.take::<String>("note").unwrap_err().contains("\"note\""));
        assert!(
            row.take::<i64>("missing")
                .unwrap_err()
                .contains("no column")
        );
    }
}
