//! Mapping sqlx errors into mq's, in one place.

use mq_sql::is_transient_sqlstate;

/// Wraps a sqlx error from `operation`, keeping it as the source so callers
/// can downcast to `sqlx::Error` and read the SQLSTATE.
pub(crate) fn interpret_error(operation: &'static str, error: sqlx::Error) -> mq_core::Error {
    let transient = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient_sqlstate(&code)),
        _ => false,
    };
    mq_core::Error::backend(operation, transient, error)
}

/// `map_err` adapter: `.map_err(at("job_claim"))`.
pub(crate) fn at(operation: &'static str) -> impl FnOnce(sqlx::Error) -> mq_core::Error {
    move |error| interpret_error(operation, error)
}
