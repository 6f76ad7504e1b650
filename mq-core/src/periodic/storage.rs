//! What the backend stores of schedules, and the parameters of its
//! schedule operations (`Backend::schedule_*`).
//!
//! A schedule's row holds its declaration, its next due time and its
//! lease: which runner leads it, until when. Runners declare their
//! schedules every so often, which renews the leases they hold, takes over
//! the lapsed ones, and keeps the rows from being pruned.

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::builder::NewJob;

/// One schedule as a runner declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredSchedule {
    /// The schedule's name, its key across processes.
    pub name: String,
    /// The job it spawns.
    pub job_name: String,
    /// Its cadence as text (the cron expression, or `every 30s`).
    pub expression: String,
    /// The time zone of a cron schedule.
    pub time_zone: Option<String>,
    /// Its missed-ticks policy, as text (for display).
    pub missed: String,
    /// Its first due time, used when the schedule is new or its cadence
    /// (expression or time zone) changed.
    pub first_due: OffsetDateTime,
    /// When the runner began declaring this definition (job, cadence and
    /// missed-ticks policy), as the declaration that began it returned
    /// [`ScheduleDeclared::now`]; `None` for a definition declared for the
    /// first time now. Of two different definitions, the newer is the one
    /// stored; a runner declaring the older one does not lead, as long as
    /// the newer is declared (see
    /// [`Backend::schedule_declare`](crate::Backend::schedule_declare)).
    pub defined_at: Option<OffsetDateTime>,
}

impl DeclaredSchedule {
    /// Whether `other` defines the schedule the same way: the same job,
    /// cadence and missed-ticks policy.
    pub fn same_definition(&self, other: &Self) -> bool {
        (
            &self.job_name,
            &self.expression,
            &self.time_zone,
            &self.missed,
        ) == (
            &other.job_name,
            &other.expression,
            &other.time_zone,
            &other.missed,
        )
    }
}

/// Parameters of [`Backend::schedule_declare`](crate::Backend::schedule_declare).
#[derive(Clone, Debug)]
pub struct ScheduleDeclareParams<'a> {
    /// The declaring runner.
    pub runner: Uuid,
    /// The schedules it declares.
    pub schedules: &'a [DeclaredSchedule],
    /// How long a lease taken or renewed now lasts.
    pub lease: Duration,
    /// Schedules no runner declared for this long are deleted.
    pub prune_after: Duration,
    /// The time to act at; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// One declared schedule as the declaration left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleLease {
    /// The schedule's name.
    pub name: String,
    /// Its due time.
    pub next_run_at: OffsetDateTime,
    /// Whether the declaring runner leads it now.
    pub leading: bool,
    /// When the current leader's lease ends.
    pub leader_until: Option<OffsetDateTime>,
}

/// What [`Backend::schedule_declare`](crate::Backend::schedule_declare)
/// returns: each declared schedule, and the backend's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleDeclared {
    /// The time the declaration was made at.
    pub now: OffsetDateTime,
    /// The declared schedules, in the order given.
    pub schedules: Vec<ScheduleLease>,
}

/// Parameters of [`Backend::schedule_fire`](crate::Backend::schedule_fire).
#[derive(Clone, Debug)]
pub struct ScheduleFireParams<'a> {
    /// The firing runner, which must lead the schedule.
    pub runner: Uuid,
    /// The schedule.
    pub name: &'a str,
    /// The due time the runner read: the firing happens only if it is
    /// still the schedule's.
    pub due: OffsetDateTime,
    /// The schedule's next due time after this firing.
    pub next_run_at: OffsetDateTime,
    /// The jobs of the ticks fired, oldest tick first.
    pub jobs: &'a [&'a NewJob],
    /// The last tick fired, recorded with the id of the last job.
    pub last_tick: Option<OffsetDateTime>,
    /// The time to act at; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::schedule_release`](crate::Backend::schedule_release).
#[derive(Clone, Debug)]
pub struct ScheduleReleaseParams<'a> {
    /// The runner giving its leases up.
    pub runner: Uuid,
    /// The schedules whose leases it gives up; `None` for all it holds.
    pub names: Option<&'a [String]>,
}

/// Parameters of [`Backend::schedule_list`](crate::Backend::schedule_list).
#[derive(Clone, Copy, Debug, Default)]
pub struct ScheduleListParams {
    /// The time to compare leases with; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// A stored schedule, as [`admin::schedules`](crate::admin::schedules)
/// shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduleInfo {
    /// The schedule's name.
    pub name: String,
    /// The job it spawns.
    pub job_name: String,
    /// Its cadence (the cron expression, or `every 30s`).
    pub expression: String,
    /// The time zone of a cron schedule.
    pub time_zone: Option<String>,
    /// What it does with missed ticks.
    pub missed: String,
    /// When it is next due.
    pub next_run_at: OffsetDateTime,
    /// The last tick it spawned a job for.
    pub last_run_at: Option<OffsetDateTime>,
    /// The job of that tick (which may have finished and be gone).
    pub last_job: Option<Uuid>,
    /// The runner that leads it, if its lease is current.
    pub leader: Option<Uuid>,
    /// When the leader's lease ends.
    pub leader_until: Option<OffsetDateTime>,
    /// When a runner last declared it.
    pub declared_at: OffsetDateTime,
    /// Since when its definition (job, cadence, time zone, policy) is in
    /// force: when the first runner to declare that definition began to.
    /// During a deploy that changes the schedule, the newest definition
    /// wins, and this says which one that is. `None` until a runner of
    /// this version of mq declares it (a schedule last declared by an
    /// older version, which did not record it).
    pub defined_at: Option<OffsetDateTime>,
}

impl ScheduleInfo {
    /// A stored schedule (for backends of your own).
    pub fn new(
        name: String,
        job_name: String,
        expression: String,
        time_zone: Option<String>,
        missed: String,
        next_run_at: OffsetDateTime,
        declared_at: OffsetDateTime,
    ) -> Self {
        Self {
            name,
            job_name,
            expression,
            time_zone,
            missed,
            next_run_at,
            last_run_at: None,
            last_job: None,
            leader: None,
            leader_until: None,
            declared_at,
            defined_at: None,
        }
    }
}
