//! When a schedule ticks: a cron expression in a time zone (evaluated by
//! `croner` on `jiff`'s zoned times), or a fixed period.

use std::sync::Arc;
use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// How often a schedule ticks.
#[derive(Clone)]
pub(crate) enum Cadence {
    /// The ticks of a cron expression, in `zone` (UTC when `zone_name` is
    /// `None`).
    Cron {
        expression: String,
        cron: Arc<Cron>,
        zone_name: Option<String>,
        zone: TimeZone,
    },
    /// Every `period`, at whole multiples of it since the Unix epoch.
    Every { period_ns: i128 },
}

impl PartialEq for Cadence {
    fn eq(&self, other: &Self) -> bool {
        self.expression() == other.expression() && self.time_zone() == other.time_zone()
    }
}

impl Cadence {
    pub(crate) fn cron(expression: &str) -> Result<Self> {
        let expression = expression.trim();
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| Error::invalid("cron expression", format!("{expression:?}: {e}")))?;
        Ok(Self::Cron {
            expression: expression.to_owned(),
            cron: Arc::new(cron),
            zone_name: None,
            zone: TimeZone::UTC,
        })
    }

    pub(crate) fn every(period: Duration) -> Result<Self> {
        if period < Duration::from_secs(1) {
            return Err(Error::invalid(
                "period",
                format!("{period:?} is shorter than a second"),
            ));
        }
        // Microseconds: what PostgreSQL keeps of a due time.
        let period_ns = i128::from(u64::try_from(period.as_micros()).map_err(|_| {
            Error::invalid("period", format!("{period:?} is longer than mq can store"))
        })?) * 1000;
        Ok(Self::Every { period_ns })
    }

    pub(crate) fn in_time_zone(self, name: &str) -> Result<Self> {
        match self {
            Self::Cron {
                expression, cron, ..
            } => {
                let zone = TimeZone::get(name)
                    .map_err(|e| Error::invalid("time zone", format!("{name:?}: {e}")))?;
                Ok(Self::Cron {
                    expression,
                    cron,
                    zone_name: Some(name.to_owned()),
                    zone,
                })
            }
            Self::Every { .. } => Err(Error::invalid(
                "time zone",
                "an interval schedule ticks at fixed instants; only a cron schedule has a time zone",
            )),
        }
    }

    pub(crate) fn expression(&self) -> String {
        match self {
            Self::Cron { expression, .. } => expression.clone(),
            Self::Every { period_ns } => {
                let micros = period_ns / 1000;
                if micros % 1_000_000 == 0 {
                    format!("every {}s", micros / 1_000_000)
                } else {
                    format!("every {}ms", micros / 1000)
                }
            }
        }
    }

    pub(crate) fn time_zone(&self) -> Option<&str> {
        match self {
            Self::Cron { zone_name, .. } => zone_name.as_deref(),
            Self::Every { .. } => None,
        }
    }

    /// The first tick strictly after `at`, if the schedule ticks again.
    pub(crate) fn tick_after(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Cron { cron, zone, .. } => {
                let zoned = to_zoned(at, zone)?;
                from_zoned(&cron.find_next_occurrence(&zoned, false).ok()?)
            }
            Self::Every { period_ns } => {
                let at = at.unix_timestamp_nanos();
                let tick = (at.div_euclid(*period_ns) + 1) * period_ns;
                OffsetDateTime::from_unix_timestamp_nanos(tick).ok()
            }
        }
    }

    /// The last tick at or before `at`, if the schedule ticked before.
    pub(crate) fn tick_at_or_before(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Cron { cron, zone, .. } => {
                // Cron ticks fall on whole seconds: the second `at` is in
                // counts if it is a tick.
                let second = at.replace_nanosecond(0).ok()?;
                let zoned = to_zoned(second, zone)?;
                from_zoned(&cron.find_previous_occurrence(&zoned, true).ok()?)
            }
            Self::Every { period_ns } => {
                let at = at.unix_timestamp_nanos();
                let tick = at.div_euclid(*period_ns) * period_ns;
                OffsetDateTime::from_unix_timestamp_nanos(tick).ok()
            }
        }
    }

    /// The last tick strictly before `tick`.
    pub(crate) fn tick_before(&self, tick: OffsetDateTime) -> Option<OffsetDateTime> {
        self.tick_at_or_before(tick - time::Duration::nanoseconds(1))
    }
}

fn to_zoned(at: OffsetDateTime, zone: &TimeZone) -> Option<Zoned> {
    let timestamp = Timestamp::from_nanosecond(at.unix_timestamp_nanos()).ok()?;
    Some(timestamp.to_zoned(zone.clone()))
}

fn from_zoned(zoned: &Zoned) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(zoned.timestamp().as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn cron_ticks_step_both_ways() {
        let every_five = Cadence::cron("*/5 * * * * *").unwrap();
        // 1_800_000_000 is a multiple of 5.
        let t = at(1_800_000_000);
        assert_eq!(every_five.tick_at_or_before(t), Some(t));
        assert_eq!(
            every_five.tick_at_or_before(t + time::Duration::milliseconds(300)),
            Some(t)
        );
        assert_eq!(every_five.tick_after(t), Some(at(1_800_000_005)));
        assert_eq!(
            every_five.tick_after(t + time::Duration::milliseconds(300)),
            Some(at(1_800_000_005))
        );
        assert_eq!(every_five.tick_before(t), Some(at(1_799_999_995)));
        // Five fields: minutes.
        let minutely = Cadence::cron("* * * * *").unwrap();
        assert_eq!(
            minutely.tick_after(at(1_800_000_001)),
            Some(at(1_800_000_060))
        );
    }

    #[test]
    fn cron_ticks_follow_the_time_zone() {
        // 9 a.m. in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        let nine = Cadence::cron("0 0 9 * * *")
            .unwrap()
            .in_time_zone("Europe/Paris")
            .unwrap();
        let winter = nine.tick_after(at(1_767_225_600)).unwrap(); // 2026-01-01 00:00 UTC
        assert_eq!((winter.hour(), winter.minute()), (8, 0));
        let summer = nine.tick_after(at(1_782_864_000)).unwrap(); // 2026-07-01 00:00 UTC
        assert_eq!((summer.hour(), summer.minute()), (7, 0));
    }

    #[test]
    fn intervals_tick_at_multiples_of_their_period() {
        let every = Cadence::every(Duration::from_secs(60)).unwrap();
        assert_eq!(every.tick_after(at(1_800_000_010)), Some(at(1_800_000_060)));
        assert_eq!(every.tick_after(at(1_800_000_000)), Some(at(1_800_000_060)));
        assert_eq!(
            every.tick_at_or_before(at(1_800_000_059)),
            Some(at(1_800_000_000))
        );
        assert_eq!(
            every.tick_before(at(1_800_000_000)),
            Some(at(1_799_999_940))
        );
    }
}
