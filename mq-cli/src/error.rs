//! What can go wrong, and how it is told.

use mq::Uuid;
use serde_json::{Value, json};

/// An error of the command line. Each prints as one line, followed by its
/// causes and, when there is one, a hint.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No database URL was given.
    #[error("no database given: set DATABASE_URL or pass --database-url")]
    NoDatabase,

    /// The database could not be reached.
    #[error("cannot connect to the database at {url}")]
    Connect {
        /// The URL, without its password.
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// The database did not answer in time.
    #[error("timed out after {after:?} connecting to the database at {url}")]
    ConnectTimeout {
        /// The URL, without its password.
        url: String,
        /// How long it waited.
        after: std::time::Duration,
    },

    /// mq refused the call, or the database failed it.
    #[error(transparent)]
    Mq(#[from] mq::Error),

    /// `mq show` of a job that is not stored.
    #[error("no job {0} (it completed, was deleted or never existed)")]
    JobNotFound(Uuid),

    /// Some of the given jobs were not acted on; the others were.
    #[error("{} of the given jobs {}: {}", ids.len(), reason, list(ids))]
    Partial {
        /// Why, e.g. "were not failed (or do not exist), so not retried".
        reason: &'static str,
        /// The jobs left alone.
        ids: Vec<Uuid>,
    },

    /// `mq clear --all` without `--yes`.
    #[error("refusing to delete every job without --yes (mq clear --all --yes)")]
    Unconfirmed,

    /// The benchmark could not be started.
    #[error("cannot run {path}")]
    Bench {
        /// The benchmark binary.
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

fn list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CliError {
    /// A stable name for the kind of error, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoDatabase => "no_database",
            Self::Connect { .. } | Self::ConnectTimeout { .. } => "connect",
            Self::Mq(mq::Error::InvalidInput { .. }) => "invalid_input",
            Self::Mq(mq::Error::SchemaTooNew { .. }) => "schema_too_new",
            Self::Mq(_) if self.missing_schema() => "not_migrated",
            Self::Mq(_) => "database",
            Self::JobNotFound(_) => "not_found",
            Self::Partial { .. } => "partial",
            Self::Unconfirmed => "unconfirmed",
            Self::Bench { .. } => "bench",
            Self::Runtime(_) => "runtime",
        }
    }

    /// The error's causes, outermost first; a cause whose text the one
    /// before it already shows is left out.
    pub fn causes(&self) -> Vec<String> {
        let mut causes: Vec<String> = Vec::new();
        let mut previous = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !previous.contains(&text) {
                causes.push(text.clone());
            }
            previous = text;
            source = cause.source();
        }
        causes
    }

    /// Whether the database lacks mq's tables (SQLSTATE 42P01,
    /// undefined_table).
    fn missing_schema(&self) -> bool {
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
                return db.code().as_deref() == Some("42P01");
            }
            source = cause.source();
        }
        false
    }

    /// What to do about it, when that is clear.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Mq(_) if self.missing_schema() => {
                Some("mq's tables are missing from this database: run `mq migrate` first")
            }
            Self::Connect { .. } | Self::ConnectTimeout { .. } => {
                Some("check the URL, and that the server is up and reachable")
            }
            _ => None,
        }
    }

    /// The text printed on stderr.
    pub fn text(&self) -> String {
        let mut text = format!("error: {self}\n");
        for cause in self.causes() {
            text.push_str(&format!("  caused by: {cause}\n"));
        }
        if let Some(hint) = self.hint() {
            text.push_str(&format!("  hint: {hint}\n"));
        }
        text
    }

    /// The JSON printed on stderr with `--json`.
    pub fn json(&self) -> Value {
        json!({
            "error": {
                "kind": self.kind(),
                "message": self.to_string(),
                "causes": self.causes(),
                "hint": self.hint(),
            }
        })
    }
}

/// A URL without its password, to show in messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("not a url"), "not a url");
    }
}
