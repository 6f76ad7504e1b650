//! Errors of the queue itself, and the error type of a job's own failure.

use uuid::Uuid;

/// Any error a job may return. Jobs return `Result<(), BoxError>` (or any
/// error convertible into it), so `?` works on most error types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `Result` whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a call to mq.
///
/// Match on the variants you care about and fall through for the rest: the
/// enum is `#[non_exhaustive]` so that new failure modes are not breaking
/// changes. Errors that come from the database keep their cause as
/// [`std::error::Error::source`], so callers can downcast to the driver's
/// own error (`sqlx::Error`, `tokio_postgres::Error`) to read a SQLSTATE.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend (the database, its connection or its pool) failed while
    /// doing `operation`.
    #[error("backend error in {operation}")]
    Backend {
        /// The backend operation that failed, e.g. `job_claim`.
        operation: &'static str,
        /// Whether retrying the same call later may succeed (connection
        /// loss, pool timeout, serialization failure...).
        transient: bool,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A value passed to mq cannot be stored or used as given.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input was rejected (`channel_name`, `delay`, ...).
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },

    /// A payload is larger than the payload limit
    /// ([`set_payload_limit`](crate::payload::set_payload_limit)); nothing
    /// was written.
    #[error(
        "the job payload is {size} bytes, more than the limit of {limit} bytes (see mq::set_payload_limit; large data belongs elsewhere, referred to by key)"
    )]
    PayloadTooLarge {
        /// The payload's size: JSON text and binary payload together.
        size: usize,
        /// The limit in force.
        limit: usize,
    },

    /// A payload could not be serialized to JSON.
    #[error("could not encode the job payload as JSON")]
    PayloadEncode(#[source] serde_json::Error),

    /// A job's JSON payload does not decode as the requested type.
    #[error("payload of job {id} ({name}) does not decode as {type_name}")]
    PayloadDecode {
        /// The job.
        id: Uuid,
        /// The job's name.
        name: String,
        /// The type the payload was decoded into.
        type_name: &'static str,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },

    /// The runner no longer holds this attempt of the job: its lease lapsed
    /// and the job was handed to another runner, or the job was deleted.
    /// Whatever the caller was about to record for this attempt must not be
    /// recorded (roll back a transaction that completes the job).
    #[error("job {id} is no longer held by this runner (attempt {attempt})")]
    LeaseLost {
        /// The job.
        id: Uuid,
        /// The attempt the caller held.
        attempt: i32,
    },

    /// Some of the given jobs do not exist (or, for `commit`, are not
    /// waiting to be committed any more).
    #[error("{} job(s) not found, first {}", ids.len(), ids.first().map(|id| id.to_string()).unwrap_or_default())]
    NotFound {
        /// The ids that were not found.
        ids: Vec<Uuid>,
    },

    /// Nothing more can be recorded for this attempt of the job: it ended
    /// already (it was snoozed, say), and the job's code called on.
    #[error("nothing more can be recorded for this attempt of job {id}: it {how}")]
    AttemptEnded {
        /// The job.
        id: Uuid,
        /// How the attempt ended: "was snoozed".
        how: &'static str,
    },

    /// [`admin::resume`](crate::admin::resume) was asked to resume a
    /// channel name that is not paused; nothing changed.
    #[error("channel {channel_name:?} is not paused")]
    NotPaused {
        /// The channel name given.
        channel_name: String,
    },

    /// The database's mq schema was migrated by a newer version of mq.
    #[error(
        "database schema is at version {found}, newer than version {supported} that this mq knows"
    )]
    SchemaTooNew {
        /// The newest migration recorded in the database.
        found: i64,
        /// The newest migration this library carries.
        supported: i64,
    },

    /// A job asks for a context value that was never registered with
    /// [`JobRegistry::set_context`](crate::JobRegistry::set_context).
    #[error("job {job} needs a context value of type {type_name}, which the registry lacks")]
    MissingContext {
        /// The job's name.
        job: String,
        /// The missing context type.
        type_name: &'static str,
    },

    /// The job's row is held by another transaction, so the change could
    /// not be made: usually the job's own transaction, still open, that
    /// changed the job (`checkpoint_with_transaction` followed by
    /// `complete()` before committing), or a completion already in flight.
    #[error("job {id} is busy: {reason}")]
    Busy {
        /// The job.
        id: Uuid,
        /// What holds it.
        reason: &'static str,
    },

    /// A runner was started without an async runtime to run on: build it on
    /// a driver's pool or backend through the `mq` crate (which pairs it
    /// with the runtime its features chose), or give it one with
    /// [`JobRunnerOptions::set_spawner`](crate::JobRunnerOptions::set_spawner).
    #[error("the job runner has no async runtime to run on: give it one with set_spawner")]
    NoRuntime,

    /// The job runner this call went through has stopped.
    #[error("the job runner has stopped")]
    RunnerStopped,
}

impl Error {
    /// Wraps a driver error that happened during `operation`.
    pub fn backend(operation: &'static str, transient: bool, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            operation,
            transient,
            source: source.into(),
        }
    }

    /// Builds an [`Error::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Backend {
                transient: true,
                ..
            }
        )
    }

    /// Whether this is an [`Error::LeaseLost`].
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Self::LeaseLost { .. })
    }
}
