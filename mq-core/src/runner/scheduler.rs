//! The scheduler task: declares the registry's schedules, holds the leases
//! of those this runner leads, and fires them when they come due.
//!
//! Every runner that declares a schedule competes for its lease; the one
//! that holds it fires the schedule. The lease is renewed every quarter of
//! its length and written to last three quarters, so a leader that dies
//! is replaced within one lease: its lease ends at most three quarters of
//! a lease after its last renewal, and the other runners declare again
//! within the last quarter. Firing checks the lease and the due time in
//! the same transaction as the jobs' insert (`Backend::schedule_fire`), so
//! a runner that wrongly believes it leads spawns nothing.
//!
//! Each declaration carries, per schedule, when this runner began
//! declaring its definition, so that the newest definition wins: while a
//! deploy runs two versions of a schedule, the runners of the older one
//! leave it alone instead of changing it back every quarter lease.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use time::OffsetDateTime;
use uuid::Uuid;

use super::shared::RunnerShared;
use crate::backend::{
    DeclaredSchedule, ScheduleDeclareParams, ScheduleFireParams, ScheduleReleaseParams,
};
use crate::builder::{JobBuilder, NewJob};
use crate::error::Result;
use crate::periodic::{Schedule, ticks};
use crate::registry::JobRegistry;

/// How long to wait after a failed statement before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The backend's clock, as last read, advanced by the local monotonic
/// clock: ticks are judged by one clock, the database's, whatever the
/// skew of the machines running runners.
#[derive(Clone, Copy)]
struct Clock {
    read: OffsetDateTime,
    at: Instant,
}

impl Clock {
    fn now(&self) -> OffsetDateTime {
        self.read + self.at.elapsed()
    }
}

/// A schedule this runner leads, and its due time as stored.
struct Led {
    due: OffsetDateTime,
}

struct Scheduler {
    shared: Arc<RunnerShared>,
    registry: JobRegistry,
    runner: Uuid,
    clock: Option<Clock>,
    led: BTreeMap<String, Led>,
    /// The names declared last time, to release those removed since.
    declared: BTreeSet<String>,
    /// The definitions this runner declared, each with when it began to
    /// (the backend's clock): a definition changed since is declared as
    /// new (see [`DeclaredSchedule::defined_at`]).
    defined: BTreeMap<String, DeclaredSchedule>,
    next_declare: Instant,
    /// No declaration was made yet.
    first_declaration: bool,
}

pub(crate) async fn run(shared: Arc<RunnerShared>, registry: JobRegistry) {
    let mut scheduler = Scheduler {
        shared,
        registry,
        runner: Uuid::now_v7(),
        clock: None,
        led: BTreeMap::new(),
        declared: BTreeSet::new(),
        defined: BTreeMap::new(),
        next_declare: Instant::now(),
        first_declaration: true,
    };
    let set = scheduler.registry.schedule_set();
    let mut stopped = scheduler.shared.stopped().fuse();
    let (mut seen, _) = set.snapshot();
    loop {
        let (version, schedules) = set.snapshot();
        if version != seen {
            seen = version;
            scheduler.next_declare = Instant::now();
        }
        scheduler.declare_if_due(&schedules).await;
        scheduler.fire_due(&schedules).await;
        let wait = scheduler
            .next_wake()
            .saturating_duration_since(Instant::now());
        let changed = set.changed_since(seen);
        let sleep = scheduler.shared.spawner.sleep(wait);
        futures::select! {
            _ = stopped => break,
            _ = changed.fuse() => {}
            () = sleep.fuse() => {}
        }
    }
    scheduler.release(None).await;
}

impl Scheduler {
    fn schedule_lease(&self) -> Duration {
        self.shared.config.schedule_lease
    }

    /// When the scheduler must act next: its next declaration, or the
    /// earliest due time of a schedule it leads.
    fn next_wake(&self) -> Instant {
        let earliest = self.led.values().map(|led| led.due).min();
        let (Some(clock), Some(earliest)) = (self.clock, earliest) else {
            return self.next_declare;
        };
        // A due time in the past is a wait of zero; one in the far future
        // (a schedule that never ticks again) is beyond the declaration.
        let wait = Duration::try_from(earliest - clock.now()).unwrap_or_default();
        Instant::now()
            .checked_add(wait)
            .map_or(self.next_declare, |due| due.min(self.next_declare))
    }

    async fn declare_if_due(&mut self, schedules: &BTreeMap<String, Schedule>) {
        if Instant::now() < self.next_declare {
            return;
        }
        let removed: Vec<String> = self
            .declared
            .iter()
            .filter(|name| !schedules.contains_key(*name))
            .cloned()
            .collect();
        if !removed.is_empty() {
            self.release(Some(&removed)).await;
        }
        if schedules.is_empty() && self.declared.is_empty() {
            // Nothing to declare: only prune, now and then, the schedules
            // other processes gave up; not at start, so that a runner
            // without schedules costs nothing.
            self.next_declare = Instant::now() + self.shared.config.schedule_prune_after / 4;
            if std::mem::replace(&mut self.first_declaration, false) {
                return;
            }
        }
        self.first_declaration = false;
        let now = self.clock.map_or_else(OffsetDateTime::now_utc, |c| c.now());
        let declared: Vec<DeclaredSchedule> = schedules
            .values()
            .map(|schedule| {
                let mut declared = DeclaredSchedule {
                    name: schedule.name().to_owned(),
                    job_name: schedule.job_name().to_owned(),
                    expression: schedule.expression(),
                    time_zone: schedule.time_zone().map(str::to_owned),
                    missed: schedule.missed().to_string(),
                    first_due: ticks::first_due(schedule, now),
                    defined_at: None,
                };
                declared.defined_at = self
                    .defined
                    .get(schedule.name())
                    .filter(|before| before.same_definition(&declared))
                    .and_then(|before| before.defined_at);
                declared
            })
            .collect();
        let result = self
            .shared
            .backend
            .schedule_declare(ScheduleDeclareParams {
                runner: self.runner,
                schedules: &declared,
                // Written to last three quarters of the lease, renewed
                // every quarter: see the module's documentation.
                lease: self.schedule_lease() * 3 / 4,
                prune_after: self.shared.config.schedule_prune_after,
                now: None,
            })
            .await;
        match result {
            Ok(result) => {
                let leading: Vec<String> = result
                    .schedules
                    .iter()
                    .filter(|s| s.leading && !self.led.contains_key(&s.name))
                    .map(|s| s.name.clone())
                    .collect();
                if !leading.is_empty() {
                    tracing::info!(schedules = ?leading, runner = %self.runner, "leading schedules");
                }
                self.clock = Some(Clock {
                    read: result.now,
                    at: Instant::now(),
                });
                self.led = result
                    .schedules
                    .into_iter()
                    .filter(|s| s.leading)
                    .map(|s| (s.name, Led { due: s.next_run_at }))
                    .collect();
                self.declared = schedules.keys().cloned().collect();
                self.defined = declared
                    .into_iter()
                    .map(|mut schedule| {
                        schedule.defined_at = schedule.defined_at.or(Some(result.now));
                        (schedule.name.clone(), schedule)
                    })
                    .collect();
                if !schedules.is_empty() {
                    self.next_declare = Instant::now() + self.schedule_lease() / 4;
                }
            }
            Err(error) => {
                // Without a renewal the leases may lapse: fire nothing
                // until a declaration says what this runner leads.
                tracing::warn!(%error, "declaring schedules failed");
                self.led.clear();
                self.next_declare = Instant::now() + RETRY_AFTER.min(self.schedule_lease() / 4);
            }
        }
    }

    async fn fire_due(&mut self, schedules: &BTreeMap<String, Schedule>) {
        let Some(clock) = self.clock else { return };
        let due: Vec<(String, OffsetDateTime)> = self
            .led
            .iter()
            .filter(|(_, led)| led.due <= clock.now())
            .map(|(name, led)| (name.clone(), led.due))
            .collect();
        for (name, due) in due {
            let Some(schedule) = schedules.get(&name) else {
                continue;
            };
            if let Err(error) = self.fire(schedule, due, clock.now()).await {
                tracing::warn!(%error, schedule = %name, "firing a schedule failed");
                // Try again shortly, after a declaration says whether this
                // runner still leads.
                self.led.remove(&name);
                self.next_declare = self.next_declare.min(Instant::now() + RETRY_AFTER);
            }
        }
    }

    async fn fire(
        &mut self,
        schedule: &Schedule,
        due: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let Some(firing) = ticks::firing(schedule, due, now) else {
            return Ok(());
        };
        let builders = firing
            .ticks
            .iter()
            .map(|tick| self.tick_job(schedule, *tick))
            .collect::<Result<Vec<_>>>()?;
        let jobs: Vec<&NewJob> = builders.iter().map(JobBuilder::job).collect();
        let fired = self
            .shared
            .backend
            .schedule_fire(ScheduleFireParams {
                runner: self.runner,
                name: schedule.name(),
                due,
                next_run_at: firing.next_run_at,
                jobs: &jobs,
                last_tick: firing.ticks.last().copied(),
                now: None,
            })
            .await?;
        match fired {
            Some(spawned) => {
                tracing::debug!(
                    schedule = schedule.name(),
                    ticks = spawned.len(),
                    "schedule fired"
                );
                if let Some(led) = self.led.get_mut(schedule.name()) {
                    led.due = firing.next_run_at;
                }
            }
            None => {
                // Another runner leads it now, or fired it first: ask
                // again which schedules this runner leads.
                self.led.remove(schedule.name());
                self.next_declare = Instant::now();
            }
        }
        Ok(())
    }

    /// The job of `schedule`'s `tick`: the job's own defaults when this
    /// registry knows it, the schedule's payload, and the tick's unique key.
    fn tick_job(&self, schedule: &Schedule, tick: OffsetDateTime) -> Result<JobBuilder> {
        let mut builder = match self.registry.resolve_job(schedule.job_name()) {
            Some(job) => job.builder(),
            None => JobBuilder::new(schedule.job_name()),
        };
        builder
            .set_unique_key(schedule.tick_key(tick))
            .set_tick(tick);
        if let Some(json) = schedule.payload_json() {
            builder.set_raw_json(json);
        }
        builder.job().validate()?;
        Ok(builder)
    }

    async fn release(&mut self, names: Option<&[String]>) {
        if self.declared.is_empty() {
            return;
        }
        let result = self
            .shared
            .backend
            .schedule_release(ScheduleReleaseParams {
                runner: self.runner,
                names,
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "releasing schedule leases failed; they lapse on their own");
        }
        match names {
            Some(names) => {
                for name in names {
                    self.led.remove(name);
                    self.declared.remove(name);
                }
            }
            None => {
                self.led.clear();
                self.declared.clear();
            }
        }
    }
}
