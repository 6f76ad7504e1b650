//! The PostgreSQL server the benchmark runs on: one database per system,
//! and what the server says about their tables.

use anyhow::{Context, Result, bail};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Row};

/// `url` with its database name replaced by `database` (the rest, such as
/// `?host=/tmp/socket`, is kept).
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let Some(scheme_end) = url.find("://") else {
        bail!("not a postgres:// URL: {url}");
    };
    let rest = &url[scheme_end + 3..];
    let query_start = rest.find('?').unwrap_or(rest.len());
    let path_start = rest[..query_start].find('/').unwrap_or(query_start);
    Ok(format!(
        "{}{}/{}{}",
        &url[..scheme_end + 3],
        &rest[..path_start],
        database,
        &rest[query_start..]
    ))
}

/// Drops `database` if it exists and creates it afresh.
pub async fn recreate_database(server_url: &str, database: &str) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(server_url)
        .await
        .with_context(|| format!("connecting to {server_url}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut conn)
        .await
        .with_context(|| format!("creating database {database}"))?;
    conn.close().await?;
    Ok(())
}

/// Drops `databases` if they exist, ending what connections are left on
/// them.
pub async fn drop_databases(server_url: &str, databases: &[&str]) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(server_url)
        .await
        .with_context(|| format!("connecting to {server_url}"))?;
    for database in databases {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping database {database}"))?;
    }
    conn.close().await?;
    Ok(())
}

/// A sqlx pool of `size` connections to `url`.
pub async fn pool(url: &str, size: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(size)
        .connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// The pool of `size` connections a system under test uses: as
/// [`pool`], with sqlx's ping before each acquire unless `ping` is false.
pub async fn system_pool(url: &str, size: u32, ping: bool) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(ping)
        .connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// Size and vacuum state of one table and its indexes.
#[derive(Debug, Clone)]
pub struct TableStats {
    /// The table's name.
    pub table: String,
    /// Live rows (`n_live_tup`).
    pub live: i64,
    /// Dead rows not yet vacuumed (`n_dead_tup`).
    pub dead: i64,
    /// Bytes of the table itself (`pg_relation_size`).
    pub table_bytes: i64,
    /// Bytes of each index (`pg_relation_size` of the index).
    pub indexes: Vec<(String, i64)>,
    /// Autovacuum runs on the table so far.
    pub autovacuums: i64,
}

impl TableStats {
    /// Bytes of all the table's indexes together.
    pub fn index_bytes(&self) -> i64 {
        self.indexes.iter().map(|(_, b)| b).sum()
    }
}

/// Statistics of `tables` from pg_stat_user_tables and pg_relation_size.
///
/// The statistics collector lags by up to a second behind the last
/// transaction, so callers wait a little before asking.
pub async fn table_stats(pool: &PgPool, tables: &[&str]) -> Result<Vec<TableStats>> {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let rows = sqlx::query(
        "SELECT relname::text, n_live_tup, n_dead_tup, pg_relation_size(relid),
                autovacuum_count
         FROM pg_stat_user_tables WHERE relname = ANY($1) ORDER BY relname",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;
    let mut stats = Vec::new();
    for row in rows {
        let table: String = row.get(0);
        let indexes = sqlx::query(
            "SELECT indexrelname::text, pg_relation_size(indexrelid)
             FROM pg_stat_user_indexes WHERE relname = $1 ORDER BY indexrelname",
        )
        .bind(&table)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
        .collect();
        stats.push(TableStats {
            table,
            live: row.get(1),
            dead: row.get(2),
            table_bytes: row.get(3),
            indexes,
            autovacuums: row.get(4),
        });
    }
    Ok(stats)
}

/// What a queue's tables take up at one moment, summed over the tables
/// and their partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Dead rows not yet vacuumed (`n_dead_tup`).
    pub dead: i64,
    /// Bytes of the tables themselves (`pg_relation_size`, main fork).
    pub heap_bytes: i64,
    /// Bytes of their indexes (`pg_indexes_size`).
    pub index_bytes: i64,
}

/// The [`Footprint`] of `tables`, each with its partitions if it is
/// partitioned (whose parent has no storage of its own), so the same query
/// fits either layout. `pg_partition_tree` lists a partitioned table and
/// its partitions but returns nothing for a plain table (PostgreSQL 15),
/// hence the union with the table itself.
///
/// `n_dead_tup` lags by up to a second behind the last transactions.
pub async fn footprint(pool: &PgPool, tables: &[&str]) -> Result<Footprint> {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let row = sqlx::query(
        "SELECT coalesce(sum(s.n_dead_tup), 0)::bigint,
                coalesce(sum(pg_relation_size(p.relid)), 0)::bigint,
                coalesce(sum(pg_indexes_size(p.relid)), 0)::bigint
         FROM unnest($1::text[]) AS t(name)
         CROSS JOIN LATERAL (
             SELECT relid FROM pg_partition_tree(t.name::regclass)
             UNION SELECT t.name::regclass
         ) AS p(relid)
         LEFT JOIN pg_stat_user_tables AS s ON s.relid = p.relid",
    )
    .bind(&tables)
    .fetch_one(pool)
    .await?;
    Ok(Footprint {
        dead: row.get(0),
        heap_bytes: row.get(1),
        index_bytes: row.get(2),
    })
}

/// Vacuums and analyzes `tables` and runs a checkpoint, so that every run
/// starts from the same physical state: no dead rows, fresh planner
/// statistics, no checkpoint pending from the previous run's writes.
pub async fn settle(pool: &PgPool, tables: &[&str]) -> Result<()> {
    for table in tables {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(pool)
            .await?;
    }
    sqlx::raw_sql("CHECKPOINT").execute(pool).await?;
    Ok(())
}

/// The server's version string.
pub async fn server_version(pool: &PgPool) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT version()")
        .fetch_one(pool)
        .await?)
}

/// The server's settings that matter for durability.
pub async fn durability(pool: &PgPool) -> Result<String> {
    let rows = sqlx::query(
        "SELECT name, setting FROM pg_settings
         WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_connections')
         ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| format!("{}={}", r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect::<Vec<_>>()
        .join(", "))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@localhost/postgres?host=/tmp/x", "b").unwrap(),
            "postgres://postgres@localhost/b?host=/tmp/x"
        );
        assert_eq!(
            with_database("postgresql://u:p@h:5432", "b").unwrap(),
            "postgresql://u:p@h:5432/b"
        );
        assert_eq!(
            with_database("postgres://h/db", "b").unwrap(),
            "postgres://h/b"
        );
    }
}
