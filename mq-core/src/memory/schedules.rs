//! The in-memory backend's schedules: a map by name, each with its due
//! time and its lease.

use time::OffsetDateTime;
use uuid::Uuid;

use super::Store;
use crate::backend::Spawned;
use crate::error::Result;
use crate::periodic::storage::{
    DeclaredSchedule, ScheduleDeclareParams, ScheduleDeclared, ScheduleFireParams, ScheduleInfo,
    ScheduleLease, ScheduleReleaseParams,
};

/// A stored schedule.
#[derive(Clone, Debug)]
pub(super) struct StoredSchedule {
    declared: DeclaredSchedule,
    next_run_at: OffsetDateTime,
    last_run_at: Option<OffsetDateTime>,
    last_job: Option<Uuid>,
    /// The runner holding the lease, and until when.
    lease: Option<(Uuid, OffsetDateTime)>,
    /// When any runner last declared the schedule.
    declared_at: OffsetDateTime,
    /// When the definition in force was taken up.
    defined_at: OffsetDateTime,
    /// When a runner last declared the definition in force.
    definition_declared_at: OffsetDateTime,
}

impl StoredSchedule {
    /// The runner whose lease is current at `now`.
    fn leader(&self, now: OffsetDateTime) -> Option<Uuid> {
        self.lease
            .filter(|(_, until)| *until > now)
            .map(|(runner, _)| runner)
    }
}

impl Store {
    pub(super) fn schedule_declare(
        &mut self,
        params: &ScheduleDeclareParams<'_>,
        now: OffsetDateTime,
    ) -> ScheduleDeclared {
        let declared: Vec<&str> = params.schedules.iter().map(|s| s.name.as_str()).collect();
        self.schedules.retain(|name, stored| {
            declared.contains(&name.as_str()) || stored.declared_at + params.prune_after > now
        });
        let until = now + params.lease;
        let mut leases = Vec::with_capacity(params.schedules.len());
        for schedule in params.schedules {
            let defined_at = schedule.defined_at.unwrap_or(now);
            let stored = self
                .schedules
                .entry(schedule.name.clone())
                .or_insert_with(|| StoredSchedule {
                    declared: schedule.clone(),
                    next_run_at: schedule.first_due,
                    last_run_at: None,
                    last_job: None,
                    lease: None,
                    declared_at: now,
                    defined_at,
                    definition_declared_at: now,
                });
            stored.declared_at = now;
            let differs = !stored.declared.same_definition(schedule);
            // Another definition stays in force if it is newer and still
            // declared: this one is outdated, and its runner stands aside.
            // (Its runner cannot hold the lease: the newer one took it.)
            let newer_in_force = defined_at < stored.defined_at
                && stored.definition_declared_at + params.lease > now;
            if !(differs && newer_in_force) {
                let cadence_changed = stored.declared.expression != schedule.expression
                    || stored.declared.time_zone != schedule.time_zone;
                if cadence_changed {
                    stored.next_run_at = schedule.first_due;
                }
                stored.defined_at = if differs {
                    defined_at
                } else {
                    stored.defined_at.max(defined_at)
                };
                stored.definition_declared_at = now;
                stored.declared = schedule.clone();
                let lease_free = stored
                    .leader(now)
                    .is_none_or(|leader| leader == params.runner);
                if differs || lease_free {
                    stored.lease = Some((params.runner, until));
                }
            }
            leases.push(ScheduleLease {
                name: schedule.name.clone(),
                next_run_at: stored.next_run_at,
                leading: stored.leader(now) == Some(params.runner),
                leader_until: stored.lease.map(|(_, until)| until),
            });
        }
        ScheduleDeclared {
            now,
            schedules: leases,
        }
    }

    pub(super) fn schedule_fire(
        &mut self,
        params: &ScheduleFireParams<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<Spawned>>> {
        let Some(stored) = self.schedules.get(params.name) else {
            return Ok(None);
        };
        if stored.leader(now) != Some(params.runner) || stored.next_run_at != params.due {
            return Ok(None);
        }
        // The insert is all or nothing, and the schedule changes only
        // after it succeeded.
        let spawned = self.insert(params.jobs, now)?;
        let stored = self.schedules.get_mut(params.name).expect("checked above");
        stored.next_run_at = params.next_run_at;
        if let Some(tick) = params.last_tick {
            stored.last_run_at = Some(tick);
            stored.last_job = spawned.last().map(Spawned::id);
        }
        Ok(Some(spawned))
    }

    pub(super) fn schedule_release(&mut self, params: &ScheduleReleaseParams<'_>) {
        for (name, stored) in &mut self.schedules {
            let named = params.names.is_none_or(|names| names.contains(name));
            if named
                && stored
                    .lease
                    .is_some_and(|(runner, _)| runner == params.runner)
            {
                stored.lease = None;
            }
        }
    }

    pub(super) fn schedule_list(&self, now: OffsetDateTime) -> Vec<ScheduleInfo> {
        self.schedules
            .values()
            .map(|stored| {
                let declared = &stored.declared;
                let mut info = ScheduleInfo::new(
                    declared.name.clone(),
                    declared.job_name.clone(),
                    declared.expression.clone(),
                    declared.time_zone.clone(),
                    declared.missed.clone(),
                    stored.next_run_at,
                    stored.declared_at,
                );
                info.last_run_at = stored.last_run_at;
                info.last_job = stored.last_job;
                info.defined_at = Some(stored.defined_at);
                info.leader = stored.leader(now);
                info.leader_until = info.leader.and(stored.lease.map(|(_, until)| until));
                info
            })
            .collect()
    }
}
