//! A one-second schedule declared by four worker processes, whose leader
//! (the process whose runner holds the schedule's lease) is killed with
//! SIGKILL every so often: every tick must be spawned exactly once, none
//! missed, and the lag from tick to start is reported.
//!
//! Finding the leader: mq keeps a runner's id to itself, but
//! `mq_schedules.leader` holds the leading runner's, and only that runner
//! ever writes its own id there (the declaration that takes the lease).
//! A trigger on `mq_schedules` records each new leader with the
//! `application_name` of the connection that wrote it, which names the
//! worker process (`worker::application_name`). Each kill therefore hits
//! the process whose lease is current at that moment, never a bystander,
//! and the harness does not have to guess by killing in turn.
//!
//! Counting spawns: a second trigger, `BEFORE INSERT` on `mq_jobs`, records
//! every spawn of the periodic job that commits, including one that the
//! tick's unique key turns away (a `BEFORE` trigger fires for every row an
//! `INSERT ... ON CONFLICT DO NOTHING` proposes): a tick fired twice shows
//! even while its first job still holds the key. The job records each of
//! its starts. Neither table has a unique constraint, so a duplicate is
//! counted, not refused.

use std::time::{Duration, Instant};

use anyhow::Result;
use mq::Uuid;

use super::Ctx;
use crate::client::Driver;
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::report::{Report, count, secs};
use crate::task::{PERIODIC_JOB, now_epoch};
use crate::worker::incarnation_of;

/// What the scenario records besides the workers' own tables: the starts
/// the periodic job writes, and the two triggers' records (see the
/// module's documentation). `rel_tick_spawns` reads each spawn's tick off
/// its unique key (`periodic@<RFC 3339>`): NULL if the key names no whole
/// second.
const PERIODIC_TABLES: &str = r#"
CREATE TABLE rel_tick_starts (
    job_id      uuid NOT NULL,
    incarnation int NOT NULL,
    attempt     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON rel_tick_starts (job_id);

CREATE TABLE rel_spawns (
    job_id           uuid NOT NULL,
    tick_key         text,
    application_name text NOT NULL,
    at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION rel_spawned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rel_spawns (job_id, tick_key, application_name)
    VALUES (NEW.id, NEW.unique_key, current_setting('application_name'));
    RETURN NEW;
END
$$;
CREATE TRIGGER rel_spawned BEFORE INSERT ON mq_jobs
    FOR EACH ROW WHEN (NEW.name = 'periodic') EXECUTE FUNCTION rel_spawned();
CREATE VIEW rel_tick_spawns AS
SELECT job_id, application_name, at,
       CASE WHEN tick_key ~ '^periodic@[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
            THEN split_part(tick_key, '@', 2)::timestamptz
       END AS tick
FROM rel_spawns;

CREATE TABLE rel_leaders (
    leader           uuid,
    application_name text NOT NULL,
    at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION rel_leader_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.leader IS DISTINCT FROM OLD.leader THEN
        INSERT INTO rel_leaders (leader, application_name)
        VALUES (NEW.leader, current_setting('application_name'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER rel_leader_changed AFTER INSERT OR UPDATE ON mq_schedules
    FOR EACH ROW EXECUTE FUNCTION rel_leader_changed();
"#;

/// How many ticks of the window `$1..=$2` (seconds since the epoch) have
/// a job that started.
const STARTED_IN_WINDOW: &str = "
SELECT count(DISTINCT s.tick)
FROM rel_tick_spawns s JOIN rel_tick_starts USING (job_id)
WHERE s.tick BETWEEN to_timestamp($1) AND to_timestamp($2)";

/// Per tick: the distinct jobs spawned for it (a job spawned twice under
/// one id, which mq's insert may do when it waits for a concurrent holder
/// of the key, is one spawn), the distinct jobs that started, and when the
/// first was spawned and the first started.
const PER_TICK: &str = "
starts AS (
    SELECT job_id, min(at) AS at, count(*) AS attempts FROM rel_tick_starts GROUP BY job_id
),
per_tick AS (
    SELECT s.tick, count(DISTINCT s.job_id) AS spawns, count(DISTINCT st.job_id) AS jobs_started,
           min(s.at) AS spawned_at, min(st.at) AS started_at
    FROM rel_tick_spawns s LEFT JOIN starts st USING (job_id)
    WHERE s.tick IS NOT NULL
    GROUP BY s.tick
),
checked AS (
    SELECT w.tick, coalesce(p.spawns, 0) AS spawns, coalesce(p.jobs_started, 0) AS jobs_started,
           extract(epoch FROM p.spawned_at - w.tick)::float8 AS spawn_lag,
           extract(epoch FROM p.started_at - w.tick)::float8 AS start_lag
    FROM generate_series(to_timestamp($1), to_timestamp($2), interval '1 second') AS w(tick)
    LEFT JOIN per_tick p USING (tick)
)";

/// A kill of the schedule's leader.
#[derive(Debug, Clone, Copy)]
struct LeaderKill {
    /// The runner that led when it was killed.
    leader: Uuid,
    /// When, in seconds since the Unix epoch.
    at: f64,
}

/// The window's ticks against what was spawned and started.
#[derive(Debug, Clone, Copy)]
struct Ticks {
    /// Ticks in the window.
    checked: i64,
    /// Of those, ticks no job was spawned for.
    missing: i64,
    /// Of those, ticks whose job never started.
    not_started: i64,
    /// Ticks, over the whole run, spawned more than once.
    spawned_twice: i64,
    /// Spawns beyond the first of those ticks.
    extra_spawns: i64,
    /// Ticks, over the whole run, that started as more than one job.
    ran_twice: i64,
    /// Spawns whose key names no whole-second tick.
    off_tick: i64,
    /// Spawns of the periodic job that committed, over the whole run.
    spawns: i64,
    /// Tick jobs with more than one attempt (a kill cut the first short).
    restarted: i64,
}

/// Seconds from tick to an event, over the window's ticks.
#[derive(Debug, Clone, Copy)]
struct Lag {
    p50: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
}

impl Lag {
    fn show(self) -> String {
        match (self.p50, self.p99, self.max) {
            (Some(p50), Some(p99), Some(max)) => format!("{p50:.3} / {p99:.3} / {max:.3} s"),
            _ => "none".into(),
        }
    }
}

/// The schedule's leader, once its lease is current and its process is
/// one of the fleet's: the runner's id and the process's slot. Polls for
/// up to `timeout`, since right after a kill the lease may still be the
/// dead leader's.
async fn leader(
    db: &ScenarioDb,
    fleet: &Fleet,
    timeout: Duration,
) -> Result<Option<(Uuid, usize)>> {
    let started = Instant::now();
    loop {
        let row: Option<(Uuid, Option<String>)> = sqlx::query_as(
            "SELECT s.leader, (SELECT l.application_name FROM rel_leaders l
                               WHERE l.leader = s.leader ORDER BY l.at DESC LIMIT 1)
             FROM mq_schedules s
             WHERE s.name = $1 AND s.leader IS NOT NULL AND s.leader_until > clock_timestamp()",
        )
        .bind(PERIODIC_JOB)
        .fetch_optional(&db.pool)
        .await?;
        if let Some((leader, Some(name))) = row
            && let Some(slot) = incarnation_of(&name).and_then(|i| fleet.slot_of(i))
        {
            return Ok(Some((leader, slot)));
        }
        if started.elapsed() > timeout {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The window's ticks (`first..=last`, seconds since the epoch) against
/// what was spawned and started over the run.
async fn ticks(db: &ScenarioDb, first: i64, last: i64) -> Result<Ticks> {
    // AssertSqlSafe: only constants are formatted in.
    let row: (i64, i64, i64, i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "WITH {PER_TICK}
         SELECT (SELECT count(*) FROM checked),
                (SELECT count(*) FROM checked WHERE spawns = 0),
                (SELECT count(*) FROM checked WHERE spawns > 0 AND jobs_started = 0),
                (SELECT count(*) FROM per_tick WHERE spawns > 1),
                (SELECT coalesce(sum(spawns - 1), 0) FROM per_tick WHERE spawns > 1)::bigint,
                (SELECT count(*) FROM per_tick WHERE jobs_started > 1),
                (SELECT count(*) FROM rel_tick_spawns WHERE tick IS NULL),
                (SELECT count(DISTINCT job_id) FROM rel_tick_spawns),
                (SELECT count(*) FROM starts WHERE attempts > 1)"
        )))
        .bind(first as f64)
        .bind(last as f64)
        .fetch_one(&db.pool)
        .await?;
    Ok(Ticks {
        checked: row.0,
        missing: row.1,
        not_started: row.2,
        spawned_twice: row.3,
        extra_spawns: row.4,
        ran_twice: row.5,
        off_tick: row.6,
        spawns: row.7,
        restarted: row.8,
    })
}

/// Tick to spawn, tick to start, and the longest time without a spawn,
/// over the window.
async fn lags(db: &ScenarioDb, first: i64, last: i64) -> Result<(Lag, Lag, Option<f64>)> {
    type Row = (
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
    );
    // AssertSqlSafe: only constants are formatted in.
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH {PER_TICK}
         SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY spawn_lag),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY spawn_lag),
                max(spawn_lag),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY start_lag),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY start_lag),
                max(start_lag),
                (SELECT max(gap) FROM (
                     SELECT extract(epoch FROM at - lag(at) OVER (ORDER BY at))::float8 AS gap
                     FROM rel_tick_spawns
                     WHERE tick BETWEEN to_timestamp($1) AND to_timestamp($2)) AS gaps)
         FROM checked"
    )))
    .bind(first as f64)
    .bind(last as f64)
    .fetch_one(&db.pool)
    .await?;
    Ok((
        Lag {
            p50: row.0,
            p99: row.1,
            max: row.2,
        },
        Lag {
            p50: row.3,
            p99: row.4,
            max: row.5,
        },
        row.6,
    ))
}

/// For each kill: seconds from it to the first change of leader to
/// another runner (`None`: no other runner took the lease over).
async fn takeovers(db: &ScenarioDb, kills: &[LeaderKill]) -> Result<Vec<Option<f64>>> {
    let times: Vec<f64> = kills.iter().map(|k| k.at).collect();
    let leaders: Vec<Uuid> = kills.iter().map(|k| k.leader).collect();
    Ok(sqlx::query_scalar(
        "SELECT extract(epoch FROM (SELECT min(l.at) FROM rel_leaders l
                                    WHERE l.at > to_timestamp(k.at)
                                      AND l.leader IS NOT NULL AND l.leader <> k.leader))::float8
                - k.at
         FROM unnest($1::float8[], $2::uuid[]) WITH ORDINALITY AS k(at, leader, n)
         ORDER BY k.n",
    )
    .bind(&times)
    .bind(&leaders)
    .fetch_all(&db.pool)
    .await?)
}

/// A whole second since the epoch, as the report shows it.
fn clock(epoch: i64) -> String {
    let format = time::macros::format_description!("[hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| epoch.to_string())
}

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let workers = 4;
    let duration = ctx.pick(Duration::from_secs(60), Duration::from_secs(600));
    let kill_every = ctx.pick(Duration::from_secs(15), Duration::from_secs(30));
    // Short enough that a dead leader is replaced in a few seconds, long
    // enough that a loaded machine's late renewal does not lose it.
    let schedule_lease = Duration::from_secs(4);
    let lease = Duration::from_secs(2);
    // How long the window's last ticks may take to start after the run
    // ends: a second or so (the last kill is a whole interval before the
    // end); the bound only keeps a broken run from waiting for ever.
    let settle = Duration::from_secs(60);
    let mut report = Report::new(
        super::Scenario::Periodic.title(),
        format!(
            "{workers} worker processes (sqlx and tokio-postgres alternately; schedule lease {}, \
             job lease {}) declare one schedule, a job every second, for {}; its missed ticks are \
             backfilled (up to 1,000) and a tick is on time for 60 s, so every tick must be \
             spawned. Every {} the harness finds the schedule's leader (the process whose runner \
             holds the lease, by a trigger that records which connection took it) and kills it \
             with SIGKILL, starting a new worker in its place. The job records its start; a \
             trigger records every spawn of it that commits, even one its unique key turns away. \
             Every tick from two seconds after the schedule was declared to the end of the run \
             is checked.",
            secs(schedule_lease),
            secs(lease),
            secs(duration),
            secs(kill_every),
        ),
    );
    let db = ScenarioDb::create(true).await?;
    sqlx::raw_sql(PERIODIC_TABLES).execute(&db.pool).await?;
    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    let spec = WorkerSpec {
        schedule_lease: Some(schedule_lease),
        ..WorkerSpec::new(Driver::Sqlx, lease)
    };
    fleet.start_alternating(workers, spec).await?;
    let started = Instant::now();
    let end = started + duration;
    let mut kills: Vec<LeaderKill> = Vec::new();
    let mut planned = 0;
    let mut next_kill = started + kill_every;
    while next_kill < end {
        tokio::time::sleep_until(next_kill.into()).await;
        planned += 1;
        // Two leases: time enough for a takeover after a kill, should the
        // last one have been late.
        if let Some((leader, slot)) = leader(&db, &fleet, schedule_lease * 2).await? {
            let kill = fleet.replace(slot).await?;
            kills.push(LeaderKill {
                leader,
                at: kill.at,
            });
        }
        next_kill += kill_every;
    }
    tokio::time::sleep_until(end.into()).await;

    // The window: from two seconds after the schedule was declared (its
    // first due time is the first whole second after the declaration,
    // give or take the statement's own time) to the last whole second of
    // the run.
    let (first, last): (i64, i64) = sqlx::query_as(
        "SELECT extract(epoch FROM date_trunc('second', created_at))::bigint + 2,
                extract(epoch FROM date_trunc('second', clock_timestamp()))::bigint
         FROM mq_schedules WHERE name = $1",
    )
    .bind(PERIODIC_JOB)
    .fetch_one(&db.pool)
    .await?;
    let waiting = Instant::now();
    loop {
        let started: i64 = sqlx::query_scalar(STARTED_IN_WINDOW)
            .bind(first as f64)
            .bind(last as f64)
            .fetch_one(&db.pool)
            .await?;
        if started > last - first || waiting.elapsed() > settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stopping = now_epoch();
    fleet.stop_all().await?;

    let takeovers = takeovers(&db, &kills).await?;
    let ticks = ticks(&db, first, last).await?;
    let (spawn_lag, start_lag, gap) = lags(&db, first, last).await?;

    report.fact("leader kills", count(kills.len() as i64));
    let mut delays: Vec<f64> = takeovers.iter().flatten().copied().collect();
    delays.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (delays.first(), delays.last()) {
        let median = delays[delays.len() / 2];
        report.fact(
            "kill to another runner taking the lease (min / median / max)",
            format!("{min:.3} / {median:.3} / {max:.3} s"),
        );
    }
    // Stopping gracefully hands the lease from worker to worker: those
    // changes are no failover.
    let changes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rel_leaders WHERE leader IS NOT NULL AND at <= to_timestamp($1)",
    )
    .bind(stopping)
    .fetch_one(&db.pool)
    .await?;
    // The first leader's takeover of the new schedule is no change; every
    // kill accounts for one.
    let unprovoked = (changes - 1 - delays.len() as i64).max(0);
    report.fact("leader changes without a kill", count(unprovoked));
    report.fact(
        format!("ticks checked ({} to {} UTC)", clock(first), clock(last)),
        count(ticks.checked),
    );
    report.fact("spawns of the periodic job, in all", count(ticks.spawns));
    report.fact("ticks missing", count(ticks.missing));
    report.fact("ticks spawned more than once", count(ticks.spawned_twice));
    report.fact(
        "tick jobs started again after a kill cut them short",
        count(ticks.restarted),
    );
    report.fact("tick to spawn (p50 / p99 / max)", spawn_lag.show());
    report.fact("tick to start (p50 / p99 / max)", start_lag.show());
    report.fact(
        "longest time without a spawn (the failover gap)",
        gap.map_or("none".into(), |g| format!("{g:.3} s")),
    );

    report.check(
        planned > 0 && kills.len() == planned,
        format!(
            "every {} the schedule's leader was found and killed ({} of {planned} kills)",
            secs(kill_every),
            kills.len()
        ),
    );
    // mq replaces a dead leader within one lease; 5 s more for a loaded
    // machine. The bound is on recovery, not on latency: it fails only if
    // the lease was not taken over.
    let bound = schedule_lease + Duration::from_secs(5);
    let late = takeovers
        .iter()
        .filter(|t| t.is_none_or(|t| t > bound.as_secs_f64()))
        .count();
    report.check(
        late == 0,
        format!(
            "after every kill another runner took the schedule's lease within the lease + 5 s ({}; {late} of {} did not)",
            secs(bound),
            takeovers.len()
        ),
    );
    report.check(
        ticks.checked > 0 && ticks.missing == 0,
        format!(
            "every tick was spawned ({} of {} ticks missing)",
            count(ticks.missing),
            count(ticks.checked)
        ),
    );
    report.check(
        ticks.not_started == 0,
        format!(
            "every tick's job started within {} of the run's end ({} did not)",
            secs(settle),
            count(ticks.not_started)
        ),
    );
    report.check(
        ticks.spawned_twice == 0,
        format!(
            "no tick was spawned more than once, whether or not its unique key turned the second spawn away ({} ticks were, {} spawns too many)",
            count(ticks.spawned_twice),
            count(ticks.extra_spawns)
        ),
    );
    report.check(
        ticks.ran_twice == 0,
        format!(
            "no tick ran as more than one job ({} did)",
            count(ticks.ran_twice)
        ),
    );
    report.check(
        ticks.off_tick == 0,
        format!(
            "every spawn's unique key names a whole-second tick of the schedule ({} did not)",
            count(ticks.off_tick)
        ),
    );
    Ok(report)
}
