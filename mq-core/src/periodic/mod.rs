//! Periodic jobs: schedules that spawn a job at each tick of a cron
//! expression or an interval, once per tick across every process.
//!
//! A [`Schedule`] is declared in code, on a [`JobRegistry`](crate::JobRegistry)
//! (or with `#[job(cron = "...")]`), and every runner built from that
//! registry declares it to the backend. The backend keeps, per schedule, its
//! next due time and a lease: the runner holding the lease (the schedule's
//! *leader*) spawns the jobs of the ticks that came due and moves the due
//! time on, in one transaction that also checks the due time it read
//! (see `runner/scheduler.rs`). Two runners that both believe they lead
//! therefore cannot both spawn a tick: the second finds the due time moved
//! and spawns nothing. The tick's job also carries a unique key naming the
//! schedule and the tick, so that while it waits or runs no other spawn of
//! that tick can be inserted.

mod cadence;
pub(crate) mod set;
pub mod storage;
pub(crate) mod ticks;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::builder::{MAX_UNIQUE_KEY, no_nul};
use crate::error::{Error, Result};

pub(crate) use cadence::Cadence;

/// The longest schedule name: its ticks' unique keys are the name and a
/// timestamp, and must fit in [`MAX_UNIQUE_KEY`].
pub const MAX_SCHEDULE_NAME: usize = MAX_UNIQUE_KEY - 64;

/// What a schedule's leader does with ticks that came due while no process
/// could spawn them (every process was down, or the database unreachable).
///
/// A tick spawned within [`Schedule::set_missed_after`] of its time (one
/// minute by default; a leader that died is replaced well within it) is on
/// time and always spawned, once. A tick later than that was *missed*, and
/// this policy decides whether it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissedTicks {
    /// Missed ticks are dropped: the schedule goes on from its next tick.
    Skip,
    /// The latest missed tick is spawned, once, unless an on-time tick is
    /// spawned at the same time: one run covers the gap. The default.
    #[default]
    RunLatest,
    /// Every missed tick is spawned, up to the `max` most recent ones.
    Backfill {
        /// The most missed ticks spawned after one gap.
        max: u32,
    },
}

impl MissedTicks {
    /// How many missed ticks one firing spawns at most.
    pub(crate) fn most(self) -> usize {
        match self {
            Self::Skip => 0,
            Self::RunLatest => 1,
            Self::Backfill { max } => max as usize,
        }
    }
}

impl fmt::Display for MissedTicks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Skip => f.write_str("skip"),
            Self::RunLatest => f.write_str("run latest"),
            Self::Backfill { max } => write!(f, "backfill {max}"),
        }
    }
}

/// The default for [`Schedule::set_missed_after`].
pub const DEFAULT_MISSED_AFTER: Duration = Duration::from_secs(60);

/// A periodic job: which job to spawn, at which ticks, with which payload,
/// and what to do with ticks missed while every process was down.
///
/// ```
/// use std::time::Duration;
/// use mq_core::periodic::{MissedTicks, Schedule};
///
/// # fn main() -> mq_core::Result<()> {
/// // At second 0 of every fifth minute, in Paris time.
/// let report = Schedule::cron("send_report", "0 */5 * * * *")?.set_time_zone("Europe/Paris")?;
/// // Every 30 seconds, catching up on up to 100 ticks after an outage.
/// let sweep = Schedule::every("sweep", Duration::from_secs(30))?
///     .set_missed(MissedTicks::Backfill { max: 100 });
/// # let _ = (report, sweep);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq)]
pub struct Schedule {
    name: String,
    job_name: String,
    cadence: Cadence,
    missed: MissedTicks,
    missed_after: Duration,
    payload_json: Option<String>,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("name", &self.name)
            .field("job_name", &self.job_name)
            .field("expression", &self.cadence.expression())
            .field("time_zone", &self.cadence.time_zone())
            .field("missed", &self.missed)
            .finish_non_exhaustive()
    }
}

impl Schedule {
    /// Spawns the job named `job_name` at each tick of the cron
    /// `expression`: five fields (minute, hour, day of month, month, day
    /// of week) or six, seconds first; `@hourly` and the like, names of
    /// months and days, `L`, `W` and `#` are understood. Ticks are reckoned
    /// in UTC unless [`set_time_zone`](Self::set_time_zone) says otherwise.
    /// The schedule is named after the job.
    pub fn cron(job_name: &str, expression: &str) -> Result<Self> {
        Self::new(job_name, Cadence::cron(expression)?)
    }

    /// Spawns the job named `job_name` every `period` (at least a second),
    /// at whole multiples of it since the Unix epoch, so that every process
    /// agrees on the ticks. The schedule is named after the job.
    pub fn every(job_name: &str, period: Duration) -> Result<Self> {
        Self::new(job_name, Cadence::every(period)?)
    }

    fn new(job_name: &str, cadence: Cadence) -> Result<Self> {
        check_name("job_name", job_name)?;
        Ok(Self {
            name: job_name.to_owned(),
            job_name: job_name.to_owned(),
            cadence,
            missed: MissedTicks::default(),
            missed_after: DEFAULT_MISSED_AFTER,
            payload_json: None,
        })
    }

    /// Reckons a cron schedule's ticks in the IANA time zone `time_zone`
    /// (`"Europe/Paris"`): `0 0 9 * * *` is then 9 a.m. there, summer and
    /// winter. An interval has no time zone: it is refused.
    pub fn set_time_zone(mut self, time_zone: &str) -> Result<Self> {
        self.cadence = self.cadence.in_time_zone(time_zone)?;
        Ok(self)
    }

    /// Names the schedule (by default, its job's name). Schedules are
    /// known across processes by name: give two schedules of one job
    /// different names.
    pub fn set_name(mut self, name: &str) -> Result<Self> {
        check_name("schedule name", name)?;
        self.name = name.to_owned();
        Ok(self)
    }

    /// What to do with missed ticks (default [`MissedTicks::RunLatest`]).
    pub fn set_missed(mut self, missed: MissedTicks) -> Self {
        self.missed = missed;
        self
    }

    /// How late a tick may be spawned and still count as on time (default
    /// [`DEFAULT_MISSED_AFTER`], one minute). Keep it longer than the
    /// schedule lease of the runners
    /// ([`JobRunnerOptions::set_schedule_lease`](crate::JobRunnerOptions::set_schedule_lease)),
    /// so that ticks due while a dead leader is replaced are on time.
    pub fn set_missed_after(mut self, missed_after: Duration) -> Self {
        self.missed_after = missed_after;
        self
    }

    /// The JSON payload of every job the schedule spawns.
    pub fn set_json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self> {
        self.payload_json = Some(serde_json::to_string(value).map_err(Error::PayloadEncode)?);
        Ok(self)
    }

    /// The schedule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the job it spawns.
    pub fn job_name(&self) -> &str {
        &self.job_name
    }

    /// Its cadence as text: the cron expression, or `every 30s`.
    pub fn expression(&self) -> String {
        self.cadence.expression()
    }

    /// The time zone of a cron schedule, if one was set.
    pub fn time_zone(&self) -> Option<&str> {
        self.cadence.time_zone()
    }

    /// What it does with missed ticks.
    pub fn missed(&self) -> MissedTicks {
        self.missed
    }

    /// How late a tick may be and still be on time.
    pub fn missed_after(&self) -> Duration {
        self.missed_after
    }

    /// The JSON payload of the jobs it spawns.
    pub fn payload_json(&self) -> Option<&str> {
        self.payload_json.as_deref()
    }

    pub(crate) fn cadence(&self) -> &Cadence {
        &self.cadence
    }

    /// The unique key of the job of `tick`: the schedule and the tick, so
    /// that no two jobs of one tick wait or run at once.
    pub(crate) fn tick_key(&self, tick: time::OffsetDateTime) -> String {
        let tick = tick
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| tick.unix_timestamp_nanos().to_string());
        format!("{}@{tick}", self.name)
    }
}

fn check_name(field: &'static str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    if name.len() > MAX_SCHEDULE_NAME {
        return Err(Error::invalid(
            field,
            format!(
                "is {} bytes, more than the maximum of {MAX_SCHEDULE_NAME} for a schedule",
                name.len()
            ),
        ));
    }
    no_nul(field, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_schedules_are_refused_with_the_field() {
        let cases = [
            Schedule::cron("job", "not a cron").err(),
            Schedule::cron("job", "0 0 0 0 0 0 0 0").err(),
            Schedule::cron("", "* * * * *").err(),
            Schedule::cron("job\0", "* * * * *").err(),
            Schedule::every("job", Duration::from_millis(999)).err(),
            Schedule::cron("job", "* * * * *")
                .and_then(|s| s.set_time_zone("Mars/Olympus"))
                .err(),
            Schedule::every("job", Duration::from_secs(5))
                .and_then(|s| s.set_time_zone("UTC"))
                .err(),
            Schedule::cron("job", "* * * * *")
                .and_then(|s| s.set_name(&"x".repeat(MAX_SCHEDULE_NAME + 1)))
                .err(),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            match case {
                Some(Error::InvalidInput { .. }) => {}
                other => panic!("case {i}: expected InvalidInput, got {other:?}"),
            }
        }
    }

    #[test]
    fn schedules_describe_themselves() {
        let cron = Schedule::cron("report", " 0 */5 * * * * ")
            .unwrap()
            .set_time_zone("Europe/Paris")
            .unwrap()
            .set_name("report-paris")
            .unwrap();
        assert_eq!(cron.name(), "report-paris");
        assert_eq!(cron.job_name(), "report");
        assert_eq!(cron.expression(), "0 */5 * * * *");
        assert_eq!(cron.time_zone(), Some("Europe/Paris"));
        let every = Schedule::every("sweep", Duration::from_secs(90)).unwrap();
        assert_eq!(every.expression(), "every 90s");
        assert_eq!(every.time_zone(), None);
        assert_eq!(every.missed(), MissedTicks::RunLatest);
        let tick = time::OffsetDateTime::from_unix_timestamp(1_796_033_100).unwrap();
        assert_eq!(every.tick_key(tick), "sweep@2026-11-30T10:05:00Z");
    }
}
