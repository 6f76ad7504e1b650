//! What can go wrong, and how it is told.

use std::error::Error as StdError;
use std::fmt;

use mq::Uuid;
use serde_json::{Value, json};

use crate::output::escape;

/// An error of the command line. Each prints as one line, followed by its
/// causes and, when there is one, a hint.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line does not parse (clap's error), told as JSON
    /// because `--json` was given; without it clap prints its own text.
    #[error("{message}")]
    Usage {
        /// What is wrong, on one line.
        message: String,
        /// clap's tips, the usage line and where to read more.
        help: Option<String>,
    },

    /// No database URL was given.
    #[error("no database given: set DATABASE_URL or pass --database-url")]
    NoDatabase,

    /// The database URL is not a PostgreSQL one; nothing was tried with it.
    #[error("{from} must be a postgres:// or postgresql:// URL, got {url}")]
    NotPostgres {
        /// Where the URL came from.
        from: UrlSource,
        /// The URL, without its password.
        url: String,
    },

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

    /// mq refused a call of `command`, or the database failed it. It is
    /// told as the command the user ran and what the database said: the
    /// internal operation that mq names (`job_stats`) means nothing to the
    /// user.
    #[error("mq {command}: {}", reason(source))]
    Failed {
        /// The command, as typed: `status`, `retry`.
        command: &'static str,
        #[source]
        source: mq::Error,
    },

    /// `mq show` of a job that is not stored.
    #[error("no job {0} (it completed, was deleted or never existed)")]
    JobNotFound(Uuid),

    /// Some of the given jobs were not acted on; the others were.
    #[error("{} of the given jobs {}: {}", ids.len(), reason.text(ids.len()), list(ids))]
    Partial {
        /// Why they were left alone.
        reason: LeftAlone,
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

    /// `mq dashboard` would serve its actions to a network without
    /// authentication.
    #[error(
        "refusing to serve the dashboard's actions on {listen} without --auth: pass --auth USER:PASSWORD, or --read-only"
    )]
    Unprotected {
        /// The address asked for.
        listen: std::net::SocketAddr,
    },

    /// `--auth` is not `USER:PASSWORD`.
    #[error("--auth must be USER:PASSWORD, with a user name and a password")]
    BadAuth,

    /// The dashboard's address could not be listened on, or serving failed.
    #[error("cannot serve the dashboard on {listen}")]
    Serve {
        /// The address.
        listen: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Where the database URL came from, named as the user gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlSource {
    /// `--database-url`.
    Flag,
    /// The `DATABASE_URL` environment variable.
    Env,
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "--database-url",
            Self::Env => "DATABASE_URL",
        })
    }
}

/// Why `mq retry` or `mq delete` left some of the given jobs alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeftAlone {
    /// `mq retry`: not failed, or gone.
    NotRetried,
    /// `mq delete`: gone.
    NotFound,
}

impl LeftAlone {
    /// The rest of "N of the given jobs ...", agreeing with N.
    fn text(self, n: usize) -> &'static str {
        match (self, n == 1) {
            (Self::NotRetried, true) => "was not failed (or does not exist), so was not retried",
            (Self::NotRetried, false) => "were not failed (or do not exist), so were not retried",
            (Self::NotFound, true) => "does not exist",
            (Self::NotFound, false) => "do not exist",
        }
    }
}

fn list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What went wrong in an mq call, for [`CliError::Failed`]: for a backend
/// error, the driver's error as [`shown`] tells it (the database's own
/// message when the database answered), else mq's message.
fn reason(error: &mq::Error) -> String {
    match error {
        mq::Error::Backend { source, .. } => shown(&**source).unwrap_or_else(|| source.to_string()),
        other => other.to_string(),
    }
}

/// How a cause is shown, or `None` to leave it out.
///
/// - mq's backend error names an internal operation (`backend error in
///   job_stats`); the message before it already names the command.
/// - A database error is shown as the server's message alone: sqlx's
///   rendering adds `error returned from database: ` and ` at line 948`,
///   which is the line of the server's C source that raised it, noise to
///   anyone reading it.
fn shown(cause: &(dyn StdError + 'static)) -> Option<String> {
    if let Some(mq::Error::Backend { .. }) = cause.downcast_ref::<mq::Error>() {
        return None;
    }
    if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
        return Some(db.message().to_owned());
    }
    // The source of sqlx's database error: the boxed error itself.
    if let Some(db) = cause.downcast_ref::<Box<dyn sqlx::error::DatabaseError>>() {
        return Some(db.message().to_owned());
    }
    Some(cause.to_string())
}

impl CliError {
    /// The error a clap parse error is, for `--json`: its first paragraph
    /// as the message (on one line), the rest (tips, usage) as help.
    pub fn usage(error: &clap::Error) -> Self {
        let rendered = error.render().to_string();
        let (first, rest) = rendered
            .trim()
            .split_once("\n\n")
            .unwrap_or((rendered.trim(), ""));
        let mut message = Vec::new();
        let mut help = Vec::new();
        for line in first.lines().map(str::trim).filter(|line| !line.is_empty()) {
            if line.starts_with("tip:") {
                help.push(line);
            } else {
                message.push(line.strip_prefix("error:").unwrap_or(line).trim());
            }
        }
        help.extend(rest.lines().map(str::trim).filter(|line| !line.is_empty()));
        Self::Usage {
            message: message.join(" "),
            help: (!help.is_empty()).then(|| help.join("; ")),
        }
    }

    /// A stable name for the kind of error, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Usage { .. } => "usage",
            Self::NoDatabase => "no_database",
            Self::NotPostgres { .. } => "not_postgres",
            Self::Connect { .. } | Self::ConnectTimeout { .. } => "connect",
            Self::Failed { source, .. } => match source {
                mq::Error::InvalidInput { .. } => "invalid_input",
                mq::Error::SchemaTooNew { .. } => "schema_too_new",
                mq::Error::NotPaused { .. } => "not_paused",
                _ if self.missing_schema() => "not_migrated",
                _ if self.permission_denied() => "permission_denied",
                _ => "database",
            },
            Self::JobNotFound(_) => "not_found",
            Self::Partial { .. } => "partial",
            Self::Unconfirmed => "unconfirmed",
            Self::Bench { .. } => "bench",
            Self::Runtime(_) => "runtime",
            Self::Unprotected { .. } => "unprotected",
            Self::BadAuth => "bad_auth",
            Self::Serve { .. } => "serve",
        }
    }

    /// The exit status: 2 for bad usage, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage { .. } | Self::Unprotected { .. } | Self::BadAuth => 2,
            _ => 1,
        }
    }

    /// The error's causes, outermost first, as [`shown`] tells them; a
    /// cause whose text the one before it already shows is left out.
    pub fn causes(&self) -> Vec<String> {
        let mut causes: Vec<String> = Vec::new();
        let mut previous = self.to_string();
        let mut source = StdError::source(self);
        while let Some(cause) = source {
            if let Some(text) = shown(cause) {
                if !previous.contains(&text) {
                    causes.push(text.clone());
                }
                previous = text;
            }
            source = cause.source();
        }
        causes
    }

    /// The SQLSTATE of the database error behind this one, if any.
    fn sqlstate(&self) -> Option<String> {
        let mut source = StdError::source(self);
        while let Some(cause) = source {
            if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
                return db.code().map(|code| code.into_owned());
            }
            source = cause.source();
        }
        None
    }

    /// Whether the database lacks mq's tables (SQLSTATE 42P01,
    /// undefined_table).
    fn missing_schema(&self) -> bool {
        self.sqlstate().as_deref() == Some("42P01")
    }

    /// Whether the database role may not use mq's tables (SQLSTATE 42501,
    /// insufficient_privilege).
    fn permission_denied(&self) -> bool {
        self.sqlstate().as_deref() == Some("42501")
    }

    /// Whether setting up TLS failed (refused by the server, or its
    /// certificate not trusted).
    fn tls_failed(&self) -> bool {
        matches!(
            self,
            Self::Connect {
                source: sqlx::Error::Tls(_),
                ..
            }
        )
    }

    /// What to do about it, when that is clear.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Usage { help, .. } => help.clone(),
            Self::Failed { .. } if self.missing_schema() => Some(
                "mq's tables are missing from this database: run `mq migrate` first".to_owned(),
            ),
            Self::Failed { .. } if self.permission_denied() => Some(
                "this database role may not use mq's tables: connect as the role that ran \
                 `mq migrate`, or grant this one access to them"
                    .to_owned(),
            ),
            Self::NotPostgres { .. } => {
                Some("e.g. postgres://user:password@host:5432/database?sslmode=require".to_owned())
            }
            Self::Connect { .. } if self.tls_failed() => Some(
                "check the URL's sslmode: `require` needs a server with TLS, `prefer` falls back \
                 to plain; a server certificate from a private CA needs sslrootcert=FILE"
                    .to_owned(),
            ),
            Self::Connect { .. } | Self::ConnectTimeout { .. } => {
                Some("check the URL, and that the server is up and reachable".to_owned())
            }
            _ => None,
        }
    }

    /// The text printed on stderr: the message, causes and hint with their
    /// control and bidi characters escaped (they may come from job names
    /// or the database), so that they show as stored.
    pub fn text(&self) -> String {
        let mut text = format!("error: {}\n", escape(&self.to_string()));
        for cause in self.causes() {
            text.push_str(&format!("  caused by: {}\n", escape(&cause)));
        }
        if let Some(hint) = self.hint() {
            text.push_str(&format!("  hint: {}\n", escape(&hint)));
        }
        text
    }

    /// The JSON printed on stderr with `--json`: exact (JSON escapes what
    /// it must).
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

/// A URL (or a libpq `key=value` string) without its password, to show
/// in messages: the password of `user:password@` and the value of a
/// `password=` parameter become `***`. When it is unclear where the user
/// info ends, more is hidden rather than less.
pub fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let query = url[start..].find('?').map_or(url.len(), |i| start + i);
    // The user info ends at the last `@` before the query; an `@` only
    // after a `?` may still end it (a password holding an unencoded `?`).
    let at = url[start..query]
        .rfind('@')
        .or_else(|| url[start..].rfind('@'))
        .map(|i| start + i);
    let mut out = match at.and_then(|at| url[start..at].find(':').map(|c| (start + c, at))) {
        Some((colon, at)) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_owned(),
    };
    // `password=` as a query parameter or a `key=value` setting.
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find("password=") {
        let value = from + found + "password=".len();
        let starts_key = from + found == 0
            || matches!(out.as_bytes()[from + found - 1], b'?' | b'&' | b' ' | b'\t');
        let end = out[value..]
            .find(['&', ' ', '\t', '#'])
            .map_or(out.len(), |i| value + i);
        if starts_key && end > value {
            out.replace_range(value..end, "***");
            from = value + 3;
        } else {
            from = value;
        }
    }
    out
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
        assert_eq!(
            redact("mysql://u:s/e@c@h/db"),
            "mysql://u:***@h/db",
            "unencoded / and @ in the password"
        );
        assert_eq!(
            redact("postgres://u:s?e@h/db"),
            "postgres://u:***@h/db",
            "unencoded ? in the password"
        );
        assert_eq!(
            redact("postgres://h/db?user=u&password=secret&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            redact("host=h PASSWORD=secret dbname=d"),
            "host=h PASSWORD=*** dbname=d"
        );
        assert_eq!(redact("u:secret@h/db"), "u:***@h/db");
        assert_eq!(
            redact("postgres://h/db?application_name=a@b"),
            "postgres://h/db?application_name=a@b"
        );
        assert_eq!(
            redact("postgres://h/db?old_password=x"),
            "postgres://h/db?old_password=x"
        );
    }

    #[test]
    fn partial_messages_agree_with_their_count() {
        let one = CliError::Partial {
            reason: LeftAlone::NotRetried,
            ids: vec![Uuid::nil()],
        };
        assert!(
            one.to_string().starts_with(
                "1 of the given jobs was not failed (or does not exist), so was not retried: "
            ),
            "{one}"
        );
        let two = CliError::Partial {
            reason: LeftAlone::NotFound,
            ids: vec![Uuid::nil(), Uuid::max()],
        };
        assert!(
            two.to_string()
                .starts_with("2 of the given jobs do not exist: "),
            "{two}"
        );
    }
}
