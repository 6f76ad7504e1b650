//! Which ticks a firing spawns: the pure decision, apart from storage and
//! time, so that it can be tested exhaustively.

use time::OffsetDateTime;

use super::Schedule;

/// The most on-time ticks one firing spawns (a one-second schedule with a
/// `missed_after` of an hour would otherwise spawn 3,600 jobs at once after
/// a stall); older ones count as missed.
pub(crate) const MAX_ON_TIME_TICKS: usize = 1000;

/// The due time of a schedule that never ticks again (a cron expression
/// whose every tick is past): far enough that it never comes, and within
/// what PostgreSQL and `time` both represent.
pub(crate) fn never() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// What one firing of a due schedule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Firing {
    /// The ticks to spawn a job for, oldest first.
    pub ticks: Vec<OffsetDateTime>,
    /// The schedule's next due time: its first tick after now.
    pub next_run_at: OffsetDateTime,
}

/// The first due time of a schedule declared at `now`: its first tick after
/// `now`.
pub(crate) fn first_due(schedule: &Schedule, now: OffsetDateTime) -> OffsetDateTime {
    schedule.cadence().tick_after(now).unwrap_or_else(never)
}

/// The firing of `schedule`, due at `due`, at `now`; `None` if it is not
/// due yet.
///
/// Every tick from `due` to `now` is either on time (no more than
/// `missed_after` old) and spawned, or missed and left to the schedule's
/// [`MissedTicks`](super::MissedTicks) policy. Ticks are enumerated from
/// `now` backwards, so a long outage costs no more than the ticks spawned.
pub(crate) fn firing(
    schedule: &Schedule,
    due: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<Firing> {
    if due > now {
        return None;
    }
    let cadence = schedule.cadence();
    let on_time_from = now - schedule.missed_after();
    let most_missed = schedule.missed().most();
    let mut on_time = Vec::new();
    let mut missed = Vec::new();
    let mut tick = cadence.tick_at_or_before(now);
    while let Some(t) = tick.filter(|t| *t >= due) {
        if t >= on_time_from && on_time.len() < MAX_ON_TIME_TICKS {
            on_time.push(t);
        } else if missed.len() < most_missed {
            missed.push(t);
        } else {
            break;
        }
        tick = cadence.tick_before(t);
    }
    if schedule.missed() == super::MissedTicks::RunLatest && !on_time.is_empty() {
        missed.clear();
    }
    let mut ticks: Vec<_> = missed.into_iter().chain(on_time).collect();
    ticks.sort();
    Some(Firing {
        ticks,
        next_run_at: cadence.tick_after(now).unwrap_or_else(never),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::periodic::MissedTicks;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn every_second(missed: MissedTicks) -> Schedule {
        Schedule::every("tick", Duration::from_secs(1))
            .unwrap()
            .set_missed(missed)
            .set_missed_after(Duration::from_secs(10))
    }

    const T: i64 = 1_800_000_000;

    #[test]
    fn nothing_fires_before_its_time() {
        let s = every_second(MissedTicks::Skip);
        assert_eq!(firing(&s, at(T + 1), at(T)), None);
    }

    #[test]
    fn an_on_time_tick_fires_once_and_the_due_time_moves_past_now() {
        let s = every_second(MissedTicks::Skip);
        let f = firing(&s, at(T), at(T) + time::Duration::milliseconds(20)).unwrap();
        assert_eq!(f.ticks, vec![at(T)]);
        assert_eq!(f.next_run_at, at(T + 1));
    }

    #[test]
    fn late_ticks_within_the_window_all_fire() {
        // A leader replaced after 4 s: every tick is still on time.
        let s = every_second(MissedTicks::Skip);
        let f = firing(&s, at(T), at(T + 4)).unwrap();
        assert_eq!(f.ticks, (T..=T + 4).map(at).collect::<Vec<_>>());
        assert_eq!(f.next_run_at, at(T + 5));
    }

    #[test]
    fn the_policy_decides_missed_ticks() {
        // Down from T to T + 100: ticks up to T + 89 are missed.
        let now = at(T + 100);
        let on_time: Vec<_> = (T + 90..=T + 100).map(at).collect();
        let skip = firing(&every_second(MissedTicks::Skip), at(T), now).unwrap();
        assert_eq!(skip.ticks, on_time);
        // An on-time tick covers the gap.
        let latest = firing(&every_second(MissedTicks::RunLatest), at(T), now).unwrap();
        assert_eq!(latest.ticks, on_time);
        let backfill = firing(&every_second(MissedTicks::Backfill { max: 3 }), at(T), now).unwrap();
        let mut expected: Vec<_> = (T + 87..=T + 89).map(at).collect();
        expected.extend(on_time);
        assert_eq!(backfill.ticks, expected);
    }

    #[test]
    fn run_latest_runs_one_tick_after_a_gap_with_none_on_time() {
        let hourly = Schedule::every("hourly", Duration::from_secs(3600))
            .unwrap()
            .set_missed(MissedTicks::RunLatest);
        // Due at T (a whole hour), back 5 hours and 30 minutes later.
        let f = firing(&hourly, at(T), at(T + 5 * 3600 + 1800)).unwrap();
        assert_eq!(f.ticks, vec![at(T + 5 * 3600)]);
        assert_eq!(f.next_run_at, at(T + 6 * 3600));
        let skip = hourly.set_missed(MissedTicks::Skip);
        assert_eq!(
            firing(&skip, at(T), at(T + 5 * 3600 + 1800)).unwrap().ticks,
            Vec::<OffsetDateTime>::new()
        );
    }

    #[test]
    fn a_cron_schedule_that_never_ticks_again_is_never_due() {
        let once = Schedule::cron("once", "0 0 0 1 1 * 2027").unwrap();
        let after = at(1_830_000_000); // 2027-12-28
        let f = firing(&once, at(1_798_761_600), after).unwrap(); // due 2027-01-01
        assert_eq!(f.ticks, vec![at(1_798_761_600)]);
        assert_eq!(f.next_run_at, never());
    }

    proptest! {
        /// Firing again and again, at any pace, spawns every tick at most
        /// once, in order; with `Backfill` of enough, every tick exactly once.
        #[test]
        fn successive_firings_spawn_each_tick_once(
            period in 1u64..120,
            steps in proptest::collection::vec(0i64..400, 1..40),
            backfill in any::<bool>(),
        ) {
            let missed = if backfill { MissedTicks::Backfill { max: 100_000 } } else { MissedTicks::Skip };
            let s = Schedule::every("p", Duration::from_secs(period))
                .unwrap()
                .set_missed(missed)
                .set_missed_after(Duration::from_secs(30));
            let start = at(T);
            let mut due = first_due(&s, start);
            let mut now = start;
            let mut spawned: Vec<OffsetDateTime> = Vec::new();
            for step in steps {
                now += time::Duration::seconds(step);
                if let Some(f) = firing(&s, due, now) {
                    prop_assert!(f.next_run_at > now);
                    for t in &f.ticks {
                        prop_assert!(*t >= due && *t <= now);
                        prop_assert!(spawned.last().is_none_or(|last| last < t), "ticks out of order or twice");
                    }
                    spawned.extend(f.ticks);
                    due = f.next_run_at;
                }
            }
            if backfill {
                let mut expected = Vec::new();
                let mut t = first_due(&s, start);
                while t < due {
                    expected.push(t);
                    t += time::Duration::seconds(period as i64);
                }
                prop_assert_eq!(spawned, expected);
            }
        }
    }
}
