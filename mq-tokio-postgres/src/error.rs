//! Mapping tokio-postgres and deadpool errors into mq's, in one place.

use deadpool_postgres::PoolError;
use mq_sql::is_transient_sqlstate;

/// Wraps a tokio-postgres error from `operation`, keeping it as the source
/// so callers can downcast to `tokio_postgres::Error` and read the SQLSTATE
/// (`error.code()`).
pub(crate) fn interpret_error(
    operation: &'static str,
    error: tokio_postgres::Error,
) -> mq_core::Error {
    let transient = match error.code() {
        Some(code) => is_transient_sqlstate(code.code()),
        // Not from the server: a closed connection or an I/O failure
        // (including failing to connect) may heal; anything else (a type
        // mismatch, a bad config, TLS) will not.
        None => {
            error.is_closed()
                || std::error::Error::source(&error)
                    .is_some_and(|source| source.is::<std::io::Error>())
        }
    };
    mq_core::Error::backend(operation, transient, error)
}

/// Wraps an error from taking a connection out of a deadpool pool. A
/// failure to connect keeps the `tokio_postgres::Error` as the source, as
/// [`interpret_error`] does; a timeout is transient; a closed pool is not.
pub(crate) fn interpret_pool_error(operation: &'static str, error: PoolError) -> mq_core::Error {
    match error {
        PoolError::Backend(error) => interpret_error(operation, error),
        PoolError::Timeout(_) => mq_core::Error::backend(operation, true, error),
        other => mq_core::Error::backend(operation, false, other),
    }
}

/// `map_err` adapter: `.map_err(at("job_claim"))`.
pub(crate) fn at(operation: &'static str) -> impl FnOnce(tokio_postgres::Error) -> mq_core::Error {
    move |error| interpret_error(operation, error)
}

/// `map_err` adapter for `pool.get()`.
pub(crate) fn pool_at(operation: &'static str) -> impl FnOnce(PoolError) -> mq_core::Error {
    move |error| interpret_pool_error(operation, error)
}
