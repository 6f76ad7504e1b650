//! The PostgreSQL side of mq, shared by its drivers: the schema migrations,
//! the text of every statement, and every operation built from them.
//!
//! Each statement lives in `statements/<name>.sql` and is named after the
//! [`Backend`](mq_core::Backend) method it implements (`job_claim.sql` ↔
//! [`queries::job_claim`] ↔ `Backend::job_claim`). [`queries`] runs them on
//! any driver's [`Connection`]; a driver only binds [`Param`]s, decodes
//! columns into [`Value`]s, and maps its errors. The batch statements on
//! running jobs share their opening, `held_leases.sql`, and their close,
//! `lease_outcomes.sql`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod connection;
pub mod executor;
mod filter;
pub mod notify_group;
pub mod queries;

pub use backend::Database;
pub use connection::{
    ColumnType, Connection, FromValue, Param, Pooling, Row, Transaction, Value, decode_rows,
};
pub use executor::{IntoSession, Session, TransactionPooled};
pub use notify_group::GroupKey;

/// What [`sql_backend!`] expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use futures::stream::BoxStream;
    pub use mq_core::backend::{
        ActivityRecordParams, Backend, CancelOutcome, ChannelLimitParams, ChannelLimitsParams,
        ChannelPauseParams, ClaimedJob, JobCancelParams, JobCheckpointParams,
        JobClaimLimitedParams, JobClaimParams, JobCommitParams, JobCompleteParams, JobDeleteParams,
        JobFailOutcome, JobFailParams, JobGetParams, JobInfo, JobInsertParams, JobKeepAliveParams,
        JobLease, JobListParams, JobReleaseParams, JobRetryParams, JobScheduleParams,
        JobScheduleResult, JobStatsParams, JobSummary, JobVacuumParams, LeaseOutcome, LimitInfo,
        ListenParams, MigrateParams, MinuteCount, QueueStats, RunnerInfo, RunnerListParams,
        ScheduleDeclareParams, ScheduleDeclared, ScheduleFireParams, ScheduleInfo,
        ScheduleListParams, ScheduleReleaseParams, Spawned, ThroughputListParams, Wakeup,
    };
    pub use mq_core::{Executor, Result, Uuid};
}

use std::sync::LazyLock;

/// A statement that opens with `statements/held_leases.sql` (the running
/// jobs whose leases are current, locked) and closes with
/// `statements/lease_outcomes.sql` (what became of each lease). Every
/// statement that changes many running jobs at once is built this way.
/// The text still holds the `/*skip_locked*/` mark: see [`skip_locked`].
macro_rules! held_leases {
    ($file:literal) => {
        concat!(
            include_str!("../statements/held_leases.sql"),
            include_str!($file),
            include_str!("../statements/lease_outcomes.sql")
        )
    };
}

/// A `held_leases!` statement that skips the rows other transactions hold
/// (`skip`), or waits for them.
fn skip_locked(statement: &str, skip: bool) -> String {
    statement.replace("/*skip_locked*/", if skip { "SKIP LOCKED" } else { "" })
}
use std::time::Duration;

use mq_core::backend::{ChannelKey, FailedAttempt, JobFailOutcome, JobState, LeaseOutcome, Wakeup};
use mq_core::{NewJob, Uuid};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One schema migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in increasing order; recorded in `mq_migrations`.
    pub version: i64,
    /// A short name.
    pub name: &'static str,
    /// The SQL, run as one simple-protocol batch inside the migration's
    /// transaction.
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "jobs",
        sql: include_str!("../../migrations/0001_jobs.sql"),
    },
    Migration {
        version: 2,
        name: "ordered_blocked",
        sql: include_str!("../../migrations/0002_ordered_blocked.sql"),
    },
    Migration {
        version: 3,
        name: "ready_seq",
        sql: include_str!("../../migrations/0003_ready_seq.sql"),
    },
    Migration {
        version: 4,
        name: "scheduled_index",
        sql: include_str!("../../migrations/0004_scheduled_index.sql"),
    },
    Migration {
        version: 5,
        name: "retry_limits",
        sql: include_str!("../../migrations/0005_retry_limits.sql"),
    },
    Migration {
        version: 6,
        name: "channel_pauses",
        sql: include_str!("../../migrations/0006_channel_pauses.sql"),
    },
    Migration {
        version: 7,
        name: "cancelled_state",
        sql: include_str!("../../migrations/0007_cancelled_state.sql"),
    },
    Migration {
        version: 8,
        name: "cancelled_jobs",
        sql: include_str!("../../migrations/0008_cancelled_jobs.sql"),
    },
    Migration {
        version: 9,
        name: "timeouts",
        sql: include_str!("../../migrations/0009_timeouts.sql"),
    },
    Migration {
        version: 10,
        name: "priorities",
        sql: include_str!("../../migrations/0010_priorities.sql"),
    },
    Migration {
        version: 11,
        name: "unique_jobs",
        sql: include_str!("../../migrations/0011_unique_jobs.sql"),
    },
    Migration {
        version: 12,
        name: "schedules",
        sql: include_str!("../../migrations/0012_schedules.sql"),
    },
    Migration {
        version: 13,
        name: "channel_limits",
        sql: include_str!("../../migrations/0013_channel_limits.sql"),
    },
    Migration {
        version: 14,
        name: "activity",
        sql: include_str!("../../migrations/0014_activity.sql"),
    },
    Migration {
        version: 15,
        name: "trace_context",
        sql: include_str!("../../migrations/0015_trace_context.sql"),
    },
    Migration {
        version: 16,
        name: "limit_used",
        sql: include_str!("../../migrations/0016_limit_used.sql"),
    },
    Migration {
        version: 17,
        name: "limit_check",
        sql: include_str!("../../migrations/0017_limit_check.sql"),
    },
    Migration {
        version: 18,
        name: "limit_bound",
        sql: include_str!("../../migrations/0018_limit_bound.sql"),
    },
    Migration {
        version: 19,
        name: "recount_bound",
        sql: include_str!("../../migrations/0019_recount_bound.sql"),
    },
    Migration {
        version: 20,
        name: "schedule_definitions",
        sql: include_str!("../../migrations/0020_schedule_definitions.sql"),
    },
    Migration {
        version: 21,
        name: "job_tick",
        sql: include_str!("../../migrations/0021_job_tick.sql"),
    },
];

/// The newest schema version this library knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The advisory lock that serializes migrations ("mq_migra" as an integer).
pub const MIGRATION_LOCK_KEY: i64 = 0x6d71_5f6d_6967_7261;

/// The advisory lock held while one process vacuums ("mq_vacuu").
pub const VACUUM_LOCK_KEY: i64 = 0x6d71_5f76_6163_7575;

/// Statement text, one constant per statement file.
pub mod statements {
    /// Creates `mq_migrations` if needed.
    pub const MIGRATIONS_TABLE: &str = include_str!("../statements/migrations_table.sql");
    /// Whether `mq_migrations` exists.
    pub const MIGRATIONS_EXIST: &str = include_str!("../statements/migrations_exist.sql");
    /// The newest applied migration (the table must exist).
    pub const MIGRATIONS_VERSION: &str = include_str!("../statements/migrations_version.sql");
    /// Takes the migration lock for the transaction.
    pub const MIGRATIONS_LOCK: &str = include_str!("../statements/migrations_lock.sql");
    /// Records an applied migration.
    pub const MIGRATIONS_RECORD: &str = include_str!("../statements/migrations_record.sql");
    /// Wakes listeners after an insert or a commit.
    pub const JOB_NOTIFY: &str = include_str!("../statements/job_notify.sql");
    /// `Backend::job_checkpoint`.
    pub const JOB_CHECKPOINT: &str = include_str!("../statements/job_checkpoint.sql");
    /// `Backend::job_commit`.
    pub const JOB_COMMIT: &str = include_str!("../statements/job_commit.sql");
    /// `Backend::job_commit`: which of the ids not committed were committed
    /// before.
    pub const JOB_COMMIT_CHECK: &str = include_str!("../statements/job_commit_check.sql");
    /// `Backend::job_schedule`.
    pub const JOB_SCHEDULE: &str = include_str!("../statements/job_schedule.sql");
    /// `Backend::job_schedule` with `settle_ordered`: settles the ordered
    /// channels left blocked.
    pub const JOB_SETTLE_ORDERED: &str = include_str!("../statements/job_settle_ordered.sql");
    /// `Backend::job_get`.
    pub const JOB_GET: &str = include_str!("../statements/job_get.sql");
    /// `Backend::job_stats`.
    pub const JOB_STATS: &str = include_str!("../statements/job_stats.sql");
    /// `Backend::job_stats`: the paused channels.
    pub const CHANNEL_PAUSES: &str = include_str!("../statements/channel_pauses.sql");
    /// `Backend::job_cancel`.
    pub const JOB_CANCEL: &str = include_str!("../statements/job_cancel.sql");
    /// `Backend::channel_pause`, pausing.
    pub const CHANNEL_PAUSE: &str = include_str!("../statements/channel_pause.sql");
    /// `Backend::channel_pause`, resuming.
    pub const CHANNEL_RESUME: &str = include_str!("../statements/channel_resume.sql");
    /// `Backend::job_vacuum`: takes the vacuum lock, if free.
    pub const JOB_VACUUM_LOCK: &str = include_str!("../statements/job_vacuum_lock.sql");
    /// `Backend::job_vacuum`: the vacuum itself (simple protocol only).
    pub const JOB_VACUUM: &str = include_str!("../statements/job_vacuum.sql");
    /// `Backend::job_vacuum`: whether the xmin horizon is held back, and
    /// whether a vacuum could remove anything now.
    pub const JOB_VACUUM_USEFUL: &str = include_str!("../statements/job_vacuum_useful.sql");
    /// `Backend::job_vacuum`: the indexes to rebuild after the vacuum.
    pub const JOB_VACUUM_BLOATED: &str = include_str!("../statements/job_vacuum_bloated.sql");
    /// `Backend::job_vacuum`: unfinished rebuilds to drop.
    pub const JOB_VACUUM_INVALID: &str = include_str!("../statements/job_vacuum_invalid.sql");
    /// `Backend::job_vacuum`: releases the vacuum lock.
    pub const JOB_VACUUM_UNLOCK: &str = include_str!("../statements/job_vacuum_unlock.sql");
    /// Declares a runner's schedules, renewing and taking leases, and
    /// prunes the undeclared.
    pub const SCHEDULE_DECLARE: &str = include_str!("../statements/schedule_declare.sql");
    /// Moves a schedule's due time on, if still due and led by the runner.
    pub const SCHEDULE_FIRE: &str = include_str!("../statements/schedule_fire.sql");
    /// Records the job of a schedule's last tick.
    pub const SCHEDULE_LAST_JOB: &str = include_str!("../statements/schedule_last_job.sql");
    /// Ends a runner's schedule leases.
    pub const SCHEDULE_RELEASE: &str = include_str!("../statements/schedule_release.sql");
    /// Every schedule.
    pub const SCHEDULE_LIST: &str = include_str!("../statements/schedule_list.sql");
    /// Records a runner's report, and prunes old ones.
    pub const ACTIVITY_RECORD: &str = include_str!("../statements/activity_record.sql");
    /// The counts of recent minutes.
    pub const THROUGHPUT_LIST: &str = include_str!("../statements/throughput_list.sql");
    /// Every runner.
    pub const RUNNER_LIST: &str = include_str!("../statements/runner_list.sql");
    /// Sets a channel's limit.
    pub const CHANNEL_LIMIT_SET: &str = include_str!("../statements/channel_limit_set.sql");
    /// Removes a channel's limit.
    pub const CHANNEL_LIMIT_REMOVE: &str = include_str!("../statements/channel_limit_remove.sql");
    /// Every channel limit, with its use.
    pub const CHANNEL_LIMITS: &str = include_str!("../statements/channel_limits.sql");
    /// Every channel limit, without its use.
    pub const CHANNEL_LIMITS_PLAIN: &str = include_str!("../statements/channel_limits_plain.sql");
}

static JOB_COMPLETE: LazyLock<[String; 4]> = LazyLock::new(|| {
    let delete = held_leases!("../statements/job_complete.sql");
    let keep = held_leases!("../statements/job_complete_keep.sql");
    [
        skip_locked(delete, false),
        skip_locked(delete, true),
        skip_locked(keep, false),
        skip_locked(keep, true),
    ]
});
static JOB_FAIL: LazyLock<String> =
    LazyLock::new(|| skip_locked(held_leases!("../statements/job_fail.sql"), true));
static JOB_RELEASE: LazyLock<[String; 2]> = LazyLock::new(|| {
    let release = held_leases!("../statements/job_release.sql");
    [skip_locked(release, false), skip_locked(release, true)]
});
static JOB_KEEP_ALIVE: LazyLock<String> =
    LazyLock::new(|| skip_locked(held_leases!("../statements/job_keep_alive.sql"), true));

/// `Backend::job_complete`: the variant that keeps completed jobs or
/// deletes them, and skips busy rows or waits for them. Parameters: `$1`
/// ids, `$2` lease tokens, `$3` now. Rows: id, lease token, outcome.
pub fn job_complete(keep_completed: bool, skip_busy: bool) -> &'static str {
    &JOB_COMPLETE[usize::from(keep_completed) * 2 + usize::from(skip_busy)]
}

/// `Backend::job_fail`. Parameters: `$1` ids, `$2` lease tokens, `$3`
/// delays (µs), `$4` errors, `$5` now. Rows: id, lease token, outcome (the
/// job's new state, `busy` or `lost`).
pub fn job_fail() -> &'static str {
    &JOB_FAIL
}

/// `Backend::job_release`: the variant that skips busy rows or waits for
/// them. Parameters: `$1` ids, `$2` lease tokens, `$3` delay (µs), `$4`
/// now. Rows: id, lease token, outcome.
pub fn job_release(skip_busy: bool) -> &'static str {
    &JOB_RELEASE[usize::from(skip_busy)]
}

/// `Backend::job_keep_alive`. Parameters: `$1` ids, `$2` lease tokens, `$3`
/// lease (µs), `$4` now. Rows: id, lease token, outcome.
pub fn job_keep_alive() -> &'static str {
    &JOB_KEEP_ALIVE
}

/// Reads the outcome column of a `held_leases!` statement.
pub fn lease_outcome(outcome: &str) -> Result<LeaseOutcome, String> {
    match outcome {
        "done" => Ok(LeaseOutcome::Done),
        "busy" => Ok(LeaseOutcome::Busy),
        "lost" => Ok(LeaseOutcome::Lost),
        other => Err(format!("unknown lease outcome {other:?}")),
    }
}

/// Reads the outcome column of `job_fail`.
pub fn fail_outcome(outcome: &str) -> Result<JobFailOutcome, String> {
    match outcome {
        "failed" => Ok(JobFailOutcome::Failed),
        "ready" | "scheduled" => Ok(JobFailOutcome::Retrying),
        "busy" => Ok(JobFailOutcome::Busy),
        "lost" => Ok(JobFailOutcome::LeaseLost),
        other => Err(format!("unknown failure outcome {other:?}")),
    }
}

const JOB_INSERT_TEMPLATE: &str = include_str!("../statements/job_insert.sql");

static JOB_INSERT: LazyLock<[String; 2]> = LazyLock::new(|| {
    [
        without_regions(JOB_INSERT_TEMPLATE, "--unique{", "--}"),
        JOB_INSERT_TEMPLATE.to_owned(),
    ]
});

/// `Backend::job_insert`: the variant for batches with unique keys, or the
/// plain one, which inserts without `ON CONFLICT` (see job_insert.sql).
pub fn job_insert(unique: bool) -> &'static str {
    &JOB_INSERT[usize::from(unique)]
}

/// `template` without its lines from each `open` line to the next `close`
/// line, both included.
fn without_regions(template: &str, open: &str, close: &str) -> String {
    let mut inside = false;
    let mut text = String::with_capacity(template.len());
    for line in template.lines() {
        match line.trim() {
            marker if marker == open => inside = true,
            marker if inside && marker == close => inside = false,
            _ if inside => {}
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

const JOB_CLAIM_TEMPLATE: &str = include_str!("../statements/job_claim.sql");
const JOB_CLAIM_UPDATE: &str = include_str!("../statements/job_claim_update.sql");

/// How many size classes a claim statement has: powers of 4 from 1 to
/// 4^16, which is more than any `u32` limit.
const SIZE_CLASSES: usize = 17;

/// The placeholder of a claim statement's size class: a bound above any
/// limit, so that the text is right as it stands.
const SIZE_CLASS_PLACEHOLDER: &str = "/*size_class*/4294967296";

/// A claim statement written out once per size class of its limit.
///
/// A claim's limit is a parameter, `$1`, and PostgreSQL's generic plan of
/// a prepared statement, which cannot read it, estimates a `LIMIT $1` as a
/// tenth of the rows below it: hundreds of jobs where the runner asks for
/// a few dozen. That made the generic plan cost more than the custom one,
/// so PostgreSQL planned every claim afresh: 0.35 ms a targeted claim and
/// 1.1 ms a limited one, a fifth to a third of the whole claim. Each claim
/// therefore also says, as a literal the planner reads, the smallest power
/// of 4 at or above its limit. The generic plan then estimates a tenth of
/// that, at most 0.4 times what the custom plan estimates, and is kept.
/// The bound never changes what is claimed (the limit is at most the size
/// class), and a runner, whose limit is its free slots, uses a few texts.
struct SizeClassed([String; SIZE_CLASSES]);

impl SizeClassed {
    fn new(template: &str) -> Self {
        debug_assert!(template.contains(SIZE_CLASS_PLACEHOLDER));
        Self(std::array::from_fn(|class| {
            template.replace(SIZE_CLASS_PLACEHOLDER, &size_class_bound(class).to_string())
        }))
    }

    fn for_limit(&self, limit: u32) -> &str {
        &self.0[size_class(limit)]
    }
}

/// The size class of `limit`: the least `class` with `4^class >= limit`.
fn size_class(limit: u32) -> usize {
    // ceil(log2(limit)), halved and rounded up.
    let bits = u32::BITS - limit.max(1).wrapping_sub(1).leading_zeros();
    bits.div_ceil(2) as usize
}

/// The bound a size class writes into its statement: `4^class`.
fn size_class_bound(class: usize) -> u64 {
    1 << (2 * class)
}

static JOB_CLAIM_ALL: LazyLock<SizeClassed> = LazyLock::new(|| {
    SizeClassed::new(&(JOB_CLAIM_TEMPLATE.replace("/*channel_filter*/", "") + JOB_CLAIM_UPDATE))
});
static JOB_CLAIM_CHANNELS: LazyLock<SizeClassed> = LazyLock::new(|| {
    SizeClassed::new(
        &(JOB_CLAIM_TEMPLATE.replace("/*channel_filter*/", "AND j.channel_name = ANY($6::text[])")
            + JOB_CLAIM_UPDATE),
    )
});
static JOB_CLAIM_TARGETED: LazyLock<SizeClassed> = LazyLock::new(|| {
    SizeClassed::new(
        &(include_str!("../statements/job_claim_targeted.sql").to_owned() + JOB_CLAIM_UPDATE),
    )
});

/// `Backend::job_claim` for up to `limit` jobs: the variant for all
/// channels (parameters `$1` to `$5`), or the one restricted to the channel
/// names bound as `$6`. `$1` must be `limit` or less (see `SizeClassed`).
///
/// Two texts rather than one with an `IS NULL OR` test, so that each gets a
/// generic plan that uses the index bounds it needs.
pub fn job_claim(filtered: bool, limit: u32) -> &'static str {
    if filtered {
        JOB_CLAIM_CHANNELS.for_limit(limit)
    } else {
        JOB_CLAIM_ALL.for_limit(limit)
    }
}

/// `Backend::job_claim` with targets, for up to `limit` jobs: `$1` the
/// limit (`limit` or less), `$2` lease (µs), `$3` channel names, `$4`
/// channel arguments, `$5` now, `$6` and `$7` the range of ready_seq to
/// take in each channel.
pub fn job_claim_targeted(limit: u32) -> &'static str {
    JOB_CLAIM_TARGETED.for_limit(limit)
}

static JOB_CLAIM_LIMITED: LazyLock<SizeClassed> = LazyLock::new(|| {
    SizeClassed::new(
        &(include_str!("../statements/job_claim_limited.sql").to_owned()
            + &JOB_CLAIM_UPDATE.replace("/*limit_slot*/false", "true")
            + include_str!("../statements/job_claim_limited_record.sql")),
    )
});

/// `Backend::job_claim_limited` for up to `limit` jobs, one statement run
/// on its own, which fails with a serialization failure when a concurrent
/// claim took its room: `$1` the limit (`limit` or less), `$2` lease (µs),
/// `$3` channel name, `$4` the arguments served last, `$5` now, `$6` the
/// targets' arguments (NULL for none), `$7` and `$8` the range of
/// ready_seq each takes.
pub fn job_claim_limited(limit: u32) -> &'static str {
    JOB_CLAIM_LIMITED.for_limit(limit)
}

/// Whether an error with this SQLSTATE may go away if the operation is
/// retried: connection failures, serialization failures and deadlocks,
/// insufficient resources, shutdowns and cancellations by the operator.
pub fn is_transient_sqlstate(code: &str) -> bool {
    matches!(
        code,
        "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03"
    ) || code.starts_with("08")
        || code.starts_with("53")
}

/// The channel mq notifies on.
pub const NOTIFY_CHANNEL: &str = "mq_jobs";

/// How long a driver waits before its `failures`-th attempt in a row to
/// re-open the LISTEN connection: 100 ms, doubling up to 10 s.
pub fn reconnect_backoff(failures: u32) -> std::time::Duration {
    use std::time::Duration;
    (Duration::from_millis(100) * 2u32.pow(failures.min(7))).min(Duration::from_secs(10))
}

/// Channel names longer than this are left out of notification payloads,
/// which PostgreSQL limits to 8000 bytes; such notifications wake every
/// runner.
const MAX_NOTIFIED_NAME: usize = 4000;

/// The notification payload for a job now in `state` on `channel_name`:
/// `r:<name>` when it is ready, `s:<name>` when it will be later; just `r`
/// or `s` when the name is too long to send. (`!settle`, sent by the
/// schema's triggers, asks runners to settle ordered channels.)
pub fn notification(state: JobState, channel_name: &str) -> String {
    let kind = if state == JobState::Ready { 'r' } else { 's' };
    if channel_name.len() > MAX_NOTIFIED_NAME {
        kind.to_string()
    } else {
        format!("{kind}:{channel_name}")
    }
}

/// The notification payload for jobs that became ready on `channel`, the
/// first of them at `ready_seq`: `q:<ready_seq>:<name length>:<name><args>`,
/// so that runners can claim them with a targeted claim
/// ([`ClaimTarget`](mq_core::backend::ClaimTarget)). A channel too long to
/// send gets the plain [`notification`].
pub fn queued_notification(channel: &ChannelKey, ready_seq: i64) -> String {
    if channel.name.len() + channel.args.len() > MAX_NOTIFIED_NAME {
        notification(JobState::Ready, &channel.name)
    } else {
        format!(
            "q:{ready_seq}:{}:{}{}",
            channel.name.len(),
            channel.name,
            channel.args
        )
    }
}

/// The notification payload telling the runner of job `id` that it was
/// cancelled: `x:<id>`.
pub fn cancel_notification(id: Uuid) -> String {
    format!("x:{id}")
}

/// Reads the rest of a `q:` payload (see [`queued_notification`]).
fn parse_queued(rest: &str) -> Option<Wakeup> {
    let (ready_seq, rest) = rest.split_once(':')?;
    let (name_len, channel) = rest.split_once(':')?;
    let name_len: usize = name_len.parse().ok()?;
    // `get` refuses a length past the end or inside a character.
    let (name, args) = (channel.get(..name_len)?, channel.get(name_len..)?);
    Some(Wakeup::Queued {
        channel: ChannelKey {
            name: name.to_owned(),
            args: args.to_owned(),
        },
        ready_seq: ready_seq.parse().ok()?,
    })
}

/// Reads a notification payload written by [`notification`] or
/// [`queued_notification`]. Anything else (another version, a manual
/// `NOTIFY`) wakes the runner fully.
pub fn parse_notification(payload: &str) -> Wakeup {
    if let Some(rest) = payload.strip_prefix("q:") {
        return parse_queued(rest).unwrap_or(Wakeup::Resync);
    }
    if let Some(id) = payload.strip_prefix("x:") {
        return match Uuid::parse_str(id) {
            Ok(id) => Wakeup::Cancelled { id },
            Err(_) => Wakeup::Resync,
        };
    }
    let (kind, name) = match payload.split_once(':') {
        Some((kind, name)) => (kind, Some(name.to_owned())),
        None => (payload, None),
    };
    match kind {
        "r" => Wakeup::Ready { channel_name: name },
        "s" => Wakeup::Scheduled { channel_name: name },
        "!settle" => Wakeup::SettleOrdered,
        _ => Wakeup::Resync,
    }
}

/// At most this many channels of one insert are notified with their
/// places in the ready queue ([`queued_notification`]); an insert over more
/// wakes runners per channel name instead, as one notification each.
const MAX_QUEUED_NOTIFICATIONS: usize = 32;

/// The distinct notification payloads for a batch of new jobs. `queued`:
/// the channels where the insert made jobs ready, with the least
/// ready_seq of each (the rows of `job_insert.sql`).
pub fn insert_notifications(jobs: &[&NewJob], queued: &[(ChannelKey, i64)]) -> Vec<String> {
    let per_channel = queued.len() <= MAX_QUEUED_NOTIFICATIONS;
    let mut payloads: Vec<String> = jobs
        .iter()
        .filter(|job| {
            // Told below, with their place in the queue.
            !(per_channel && !job.ordered && initial_state(job) == JobState::Ready)
        })
        .map(|job| notification(initial_state(job), &job.channel_name))
        .collect();
    if per_channel {
        payloads.extend(
            queued
                .iter()
                .map(|(channel, ready_seq)| queued_notification(channel, *ready_seq)),
        );
    }
    payloads.sort_unstable();
    payloads.dedup();
    payloads
}

/// The state a new job is notified as: the state it starts in, or, for an
/// ordered job (which starts blocked), the state it takes if its channel
/// is idle.
pub fn initial_state(job: &NewJob) -> JobState {
    if job.commit_interval.is_some() {
        JobState::Uncommitted
    } else if job.delay.is_zero() {
        JobState::Ready
    } else {
        JobState::Scheduled
    }
}

/// A duration in whole microseconds, as the statements take them. Saturates;
/// mq's own durations are bounded far below the limit.
pub fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// A time as microseconds since the Unix epoch, as `job_insert.sql` takes
/// it; times beyond what PostgreSQL stores saturate (PostgreSQL refuses them).
pub fn epoch_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// Microseconds read back from the database as a duration (negative is 0).
pub fn from_micros(micros: i64) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// The parameters of `job_insert.sql`, one array per column.
#[derive(Debug, Default)]
pub struct InsertColumns {
    /// `$1`
    pub ids: Vec<Uuid>,
    /// `$2`
    pub names: Vec<String>,
    /// `$3`
    pub channel_names: Vec<String>,
    /// `$4`
    pub channel_args: Vec<String>,
    /// `$5`
    pub payload_json: Vec<Option<String>>,
    /// `$6`
    pub payload_bytes: Vec<Option<Vec<u8>>>,
    /// `$7`
    pub delays_us: Vec<i64>,
    /// `$8`
    pub retries: Vec<i32>,
    /// `$9`
    pub backoffs_us: Vec<i64>,
    /// `$10`
    pub ordered: Vec<bool>,
    /// `$11`
    pub commit_intervals_us: Vec<Option<i64>>,
    /// `$13`
    pub backoff_maxes_us: Vec<Option<i64>>,
    /// `$14`
    pub jitters: Vec<bool>,
    /// `NewJob::timeout`, µs.
    pub timeouts_us: Vec<Option<i64>>,
    /// `priority` (as `int`; the statement narrows it).
    pub priorities: Vec<i32>,
    /// `$17`: `NewJob::trace_context`, NULL for none.
    pub trace_contexts: Vec<Option<String>>,
    /// `$18`
    pub unique_keys: Vec<Option<String>>,
    /// `$19`, µs.
    pub unique_fors_us: Vec<Option<i64>>,
    /// `$20`: `NewJob::tick`, µs since the Unix epoch.
    pub ticks_us: Vec<Option<i64>>,
}

impl InsertColumns {
    /// Splits jobs into columns.
    pub fn new(jobs: &[&NewJob]) -> Self {
        let mut columns = Self::default();
        for job in jobs {
            columns.ids.push(job.id);
            columns.names.push(job.name.clone());
            columns.channel_names.push(job.channel_name.clone());
            columns.channel_args.push(job.channel_args.clone());
            columns.payload_json.push(job.payload_json.clone());
            columns.payload_bytes.push(job.payload_bytes.clone());
            columns.delays_us.push(micros(job.delay));
            columns
                .retries
                .push(i32::try_from(job.retries).unwrap_or(i32::MAX));
            columns.backoffs_us.push(micros(job.retry_backoff));
            columns.ordered.push(job.ordered);
            columns
                .commit_intervals_us
                .push(job.commit_interval.map(micros));
            columns
                .backoff_maxes_us
                .push(job.retry_backoff_max.map(micros));
            columns.jitters.push(job.retry_jitter);
            columns.timeouts_us.push(job.timeout.map(micros));
            columns.priorities.push(i32::from(job.priority));
            columns.trace_contexts.push(job.trace_context.clone());
            columns.unique_keys.push(job.unique_key.clone());
            columns.unique_fors_us.push(job.unique_for.map(micros));
            columns.ticks_us.push(job.tick.map(epoch_micros));
        }
        columns
    }
}

/// One entry of the `errors` column, as `job_fail.sql` writes it.
#[derive(serde::Deserialize)]
struct StoredError {
    attempt: i32,
    /// A `timestamptz` turned into JSON: ISO 8601 with the session's offset.
    at: String,
    error: String,
}

impl StoredError {
    fn decode(self) -> Result<FailedAttempt, String> {
        let at = OffsetDateTime::parse(&self.at, &Rfc3339)
            .map_err(|e| format!("bad time {:?} in the error history: {e}", self.at))?;
        Ok(FailedAttempt::new(self.attempt, at, self.error))
    }
}

/// Reads the `errors` column (as text; NULL before the first failure).
pub fn parse_errors(json: Option<&str>) -> Result<Vec<FailedAttempt>, String> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let entries: Vec<StoredError> = serde_json::from_str(json)
        .map_err(|e| format!("the error history is not what mq writes: {e}"))?;
    entries.into_iter().map(StoredError::decode).collect()
}

/// Reads one entry of the `errors` column (as text), or none.
pub fn parse_error(json: Option<&str>) -> Result<Option<FailedAttempt>, String> {
    let Some(json) = json else {
        return Ok(None);
    };
    let entry: StoredError = serde_json::from_str(json)
        .map_err(|e| format!("the error history is not what mq writes: {e}"))?;
    entry.decode().map(Some)
}

/// The names of states, as the statements take them (`$n::text[]`).
pub fn state_names(states: &[JobState]) -> Vec<&'static str> {
    states.iter().map(|state| state.as_str()).collect()
}

/// The distinct notification payloads for jobs made ready on these
/// channel names (after `job_retry`).
pub fn ready_notifications<'a>(channel_names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut payloads: Vec<String> = channel_names
        .into_iter()
        .map(|name| notification(JobState::Ready, name))
        .collect();
    payloads.sort_unstable();
    payloads.dedup();
    payloads
}

/// Splits leases into the `(ids, lease tokens)` arrays the statements take.
pub fn lease_columns(leases: &[mq_core::backend::JobLease]) -> (Vec<Uuid>, Vec<i32>) {
    leases.iter().map(|lease| (lease.id, lease.token)).unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_backoff_doubles_up_to_ten_seconds() {
        use std::time::Duration;
        assert_eq!(reconnect_backoff(0), Duration::from_millis(100));
        assert_eq!(reconnect_backoff(1), Duration::from_millis(200));
        assert_eq!(reconnect_backoff(6), Duration::from_millis(6400));
        assert_eq!(reconnect_backoff(7), Duration::from_secs(10));
        assert_eq!(reconnect_backoff(100), Duration::from_secs(10));
    }

    #[test]
    fn notifications_round_trip() {
        for (state, name) in [
            (JobState::Ready, "emails"),
            (JobState::Scheduled, ""),
            (JobState::Ready, "a:b"),
        ] {
            let wakeup = parse_notification(&notification(state, name));
            let expected = Some(name.to_owned());
            match wakeup {
                Wakeup::Ready { channel_name } => {
                    assert_eq!(state, JobState::Ready);
                    assert_eq!(channel_name, expected);
                }
                Wakeup::Scheduled { channel_name } => {
                    assert_eq!(state, JobState::Scheduled);
                    assert_eq!(channel_name, expected);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn queued_notifications_round_trip() {
        for (name, args) in [("emails", ""), ("a:b", "c:d"), ("é", "ü:1"), ("", "")] {
            let channel = ChannelKey {
                name: name.to_owned(),
                args: args.to_owned(),
            };
            assert_eq!(
                parse_notification(&queued_notification(&channel, 42)),
                Wakeup::Queued {
                    channel,
                    ready_seq: 42
                }
            );
        }
        // Damaged payloads wake the runner fully rather than mislead it.
        for payload in ["q:", "q:x:1:a", "q:1:9:a", "q:1:1:\u{e9}", "q:1:-1:a"] {
            assert_eq!(parse_notification(payload), Wakeup::Resync, "{payload}");
        }
        let long = ChannelKey {
            name: "x".repeat(MAX_NOTIFIED_NAME),
            args: "y".to_owned(),
        };
        assert_eq!(
            queued_notification(&long, 1),
            notification(JobState::Ready, &long.name)
        );
    }

    #[test]
    fn long_names_are_left_out_of_notifications() {
        let long = "x".repeat(MAX_NOTIFIED_NAME + 1);
        let payload = notification(JobState::Ready, &long);
        assert_eq!(payload, "r");
        assert_eq!(
            parse_notification(&payload),
            Wakeup::Ready { channel_name: None }
        );
        assert_eq!(parse_notification("something else"), Wakeup::Resync);
    }

    #[test]
    fn error_history_parses_as_postgres_writes_it() {
        let json = r#"[{"attempt": 1, "at": "2024-05-09T07:29:33.186123+02:00", "error": "boom"},
                       {"at": "2024-05-09T07:29:34+00:00", "error": "é\u0001", "attempt": 2}]"#;
        let errors = parse_errors(Some(json)).unwrap();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].attempt, 1);
        assert_eq!(errors[0].at.offset().whole_hours(), 2);
        assert_eq!(errors[0].at.microsecond(), 186_123);
        assert_eq!(errors[1].error, "é\u{1}");
        assert!(parse_errors(None).unwrap().is_empty());
        assert!(parse_errors(Some("{}")).is_err());
        assert_eq!(parse_error(None).unwrap(), None);
        assert_eq!(
            parse_error(Some(
                r#"{"attempt": 3, "at": "2024-05-09T07:29:34Z", "error": "x"}"#
            ))
            .unwrap()
            .unwrap()
            .attempt,
            3
        );
    }

    #[test]
    fn claim_variants_differ_only_in_the_filter() {
        assert!(!job_claim(false, 64).contains("ANY($6"));
        assert!(job_claim(true, 64).contains("ANY($6::text[])"));
    }

    #[test]
    fn a_size_class_bounds_its_limits_within_a_factor_of_4() {
        for limit in (0..=70).chain([255, 256, 257, 1 << 20, u32::MAX - 1, u32::MAX]) {
            let bound = size_class_bound(size_class(limit));
            assert!(bound >= u64::from(limit), "{limit}: bound {bound}");
            assert!(
                bound < 4 * u64::from(limit.max(1)),
                "{limit}: bound {bound}"
            );
        }
        assert_eq!(size_class(u32::MAX), SIZE_CLASSES - 1);
    }

    #[test]
    fn each_claim_statement_writes_its_size_class_out() {
        for sql in [
            job_claim(false, 64),
            job_claim(true, 64),
            job_claim_targeted(64),
            job_claim_limited(64),
        ] {
            assert!(!sql.contains(SIZE_CLASS_PLACEHOLDER));
            assert!(sql.contains("LIMIT 64\n"), "{sql}");
        }
        assert!(job_claim_targeted(65).contains("LIMIT 256\n"));
    }
}
