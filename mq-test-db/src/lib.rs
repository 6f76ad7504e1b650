//! A fresh, empty PostgreSQL database per test.
//!
//! Tests get the server from `DATABASE_URL` (the test script starts a
//! throwaway server and sets it). Each [`TestDb`] creates its own database
//! on that server and drops it when the guard is dropped, so tests run in
//! parallel without seeing each other's jobs or notifications.
//!
//! The admin work uses the blocking `postgres` client on a thread of its
//! own, so it works the same under any async runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::thread;

/// A database created for one test; dropped (with its connections) when
/// this guard is dropped.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

/// The server to test against.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a \
             throwaway PostgreSQL, or point DATABASE_URL at a server where databases may be created"
        )
    })
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{}", &base[..path_start], database);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn admin<T: Send + 'static>(
    url: String,
    work: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
) -> T {
    thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test server at {url}: {e}"));
        work(&mut client)
    })
    .join()
    .expect("test database admin thread panicked")
}

impl TestDb {
    /// Creates an empty database.
    pub fn create() -> Self {
        let admin_url = server_url();
        let name = format!("mq_test_{}", uuid::Uuid::now_v7().simple());
        let statement = format!("CREATE DATABASE {name}");
        admin(admin_url.clone(), move |client| {
            client
                .batch_execute(&statement)
                .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        });
        let url = with_database(&admin_url, &name);
        Self {
            name,
            url,
            admin_url,
        }
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of this database through the PgBouncer (in transaction
    /// pooling mode) at `MQ_PGBOUNCER_URL`, which the test script starts in
    /// front of the server.
    pub fn pgbouncer_url(&self) -> String {
        pgbouncer_url(&self.name)
    }
}

/// The URL of `database` through the PgBouncer at `MQ_PGBOUNCER_URL`.
pub fn pgbouncer_url(database: &str) -> String {
    let bouncer = std::env::var("MQ_PGBOUNCER_URL").unwrap_or_else(|_| {
        panic!(
            "MQ_PGBOUNCER_URL is not set: run the tests with scripts/test.sh, which starts \
             PgBouncer in transaction pooling mode, or point it at one in front of DATABASE_URL"
        )
    });
    with_database(&bouncer, database)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Best effort: a leftover database on a throwaway server is harmless.
        let _ = thread::spawn({
            let url = self.admin_url.clone();
            move || {
                if let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) {
                    let _ = client.batch_execute(&statement);
                }
            }
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://u@h:5/db", "x"),
            "postgres://u@h:5/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database(
                "postgresql://postgres@localhost/postgres?host=/tmp/pg&port=5499",
                "x"
            ),
            "postgresql://postgres@localhost/x?host=/tmp/pg&port=5499"
        );
    }
}
