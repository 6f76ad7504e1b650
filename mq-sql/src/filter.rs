//! The statements that take a [`JobFilter`] (list, retry, delete), one text
//! per combination of the filter's conditions.
//!
//! Each statement's `.sql` file holds the mark `/*filter*/` where its
//! conditions go. Rather than one text with `($n IS NULL OR ...)` for every
//! condition, which PostgreSQL plans once for all combinations (and so
//! without the indexes any one of them could use), each combination gets a
//! text of its own with exactly its conditions, prepared and cached like
//! any statement: thirty-two shapes, each also with one state spelt out.

use std::sync::LazyLock;

use mq_core::backend::{JobFilter, JobState};

use crate::connection::Param;
use crate::{micros, state_names};

/// The conditions a filter has, one bit each.
const IDS: usize = 1;
const CHANNEL_NAMES: usize = 2;
const STATES: usize = 4;
const FINISHED_BEFORE: usize = 8;
const NAMES: usize = 16;
/// How many combinations there are.
const SHAPES: usize = 32;

fn shape(filter: &JobFilter<'_>) -> usize {
    (if filter.ids.is_some() { IDS } else { 0 })
        | (if filter.channel_names.is_some() {
            CHANNEL_NAMES
        } else {
            0
        })
        | (if filter.states.is_some() { STATES } else { 0 })
        | (if filter.finished_before.is_some() {
            FINISHED_BEFORE
        } else {
            0
        })
        | (if filter.names.is_some() { NAMES } else { 0 })
}

/// The one state a filter asks for, if it asks for exactly one. That state
/// is spelt as a literal rather than a parameter: the planner can then
/// use the partial index of jobs in it (of failed jobs, say), where with a
/// parameter, which it cannot prove to match the index's predicate, it
/// walks the whole table (500 ms over a million jobs to find none failed).
fn one_state(filter: &JobFilter<'_>) -> Option<JobState> {
    match filter.states {
        Some([state]) => Some(*state),
        _ => None,
    }
}

/// Where a filter's text is in a statement's table: one text per shape,
/// with several states or none, then one per shape for each single state.
fn key(filter: &JobFilter<'_>) -> usize {
    let one = one_state(filter).map_or(0, |state| {
        1 + JobState::ALL
            .iter()
            .position(|s| *s == state)
            .expect("a state of JobState::ALL")
    });
    one * SHAPES + shape(filter)
}

/// The conditions of a filter of `shape` (of exactly the state `one`, if
/// given), its parameters numbered from `first`; `now` is the parameter
/// the clock is in.
fn conditions(shape: usize, one: Option<JobState>, first: usize, now: usize) -> String {
    let mut conditions = vec!["TRUE".to_owned()];
    let mut n = first;
    if shape & IDS != 0 {
        conditions.push(format!("id = ANY(${n}::uuid[])"));
        n += 1;
    }
    if shape & CHANNEL_NAMES != 0 {
        conditions.push(format!("channel_name = ANY(${n}::text[])"));
        n += 1;
    }
    if shape & NAMES != 0 {
        conditions.push(format!("name = ANY(${n}::text[])"));
        n += 1;
    }
    if shape & STATES != 0 {
        match one {
            // A name from mq's own fixed list, not the caller's text.
            Some(state) => conditions.push(format!("state = '{}'", state.as_str())),
            None => {
                conditions.push(format!("state = ANY(${n}::text[]::mq_job_state[])"));
                n += 1;
            }
        }
    }
    if shape & FINISHED_BEFORE != 0 {
        // Finished (failed, completed or cancelled: the last states of the
        // type's order), spelt as mq_jobs_finished's predicate so that the
        // index serves it.
        conditions.push(format!(
            "state >= 'failed' \
             AND run_at <= coalesce(${now}::timestamptz, now()) - ${n}::bigint * interval '1 microsecond'"
        ));
    }
    conditions.join(" AND ")
}

/// A statement with a filter: its template, where its filter's parameters
/// start, and which parameter holds the clock.
pub(crate) struct Filtered {
    texts: LazyLock<Vec<String>>,
}

impl Filtered {
    const fn new(texts: fn() -> Vec<String>) -> Self {
        Self {
            texts: LazyLock::new(texts),
        }
    }

    /// The statement's text for `filter`.
    pub(crate) fn text(&'static self, filter: &JobFilter<'_>) -> &'static str {
        &self.texts[key(filter)]
    }
}

fn texts(template: &str, first: usize, now: usize) -> Vec<String> {
    std::iter::once(None)
        .chain(JobState::ALL.into_iter().map(Some))
        .flat_map(|one| {
            (0..SHAPES).map(move |shape| {
                template.replace("/*filter*/", &conditions(shape, one, first, now))
            })
        })
        .collect()
}

/// `job_list.sql`: `$1` after, `$2` limit, `$3` now, the filter from `$4`.
pub(crate) static JOB_LIST: Filtered =
    Filtered::new(|| texts(include_str!("../statements/job_list.sql"), 4, 3));
/// `job_delete.sql`: `$1` now, the filter from `$2`.
pub(crate) static JOB_DELETE: Filtered =
    Filtered::new(|| texts(include_str!("../statements/job_delete.sql"), 2, 1));
/// `job_retry.sql`: `$1` now, the filter from `$2`.
pub(crate) static JOB_RETRY: Filtered =
    Filtered::new(|| texts(include_str!("../statements/job_retry.sql"), 2, 1));

/// The parameters of a filter's conditions, in the order [`conditions`]
/// numbers them, appended to `params`. `states` holds the state names
/// (their storage must outlive `params`).
pub(crate) fn bind<'a>(
    filter: &JobFilter<'a>,
    states: &'a [&'static str],
    finished_before_us: &'a Option<i64>,
    params: &mut Vec<Param<'a>>,
) {
    if let Some(ids) = filter.ids {
        params.push(Param::Uuids(ids));
    }
    if let Some(names) = filter.channel_names {
        params.push(Param::Texts(names));
    }
    if let Some(names) = filter.names {
        params.push(Param::Texts(names));
    }
    if filter.states.is_some() && one_state(filter).is_none() {
        params.push(Param::Strs(states));
    }
    if let Some(us) = finished_before_us {
        params.push(Param::I64(*us));
    }
}

/// What [`bind`] needs kept alive: the filter's state names and age.
pub(crate) fn owned_parts(filter: &JobFilter<'_>) -> (Vec<&'static str>, Option<i64>) {
    (
        filter.states.map(state_names).unwrap_or_default(),
        filter.finished_before.map(micros),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_combination_numbers_its_parameters_in_order() {
        assert_eq!(conditions(0, None, 2, 1), "TRUE");
        assert_eq!(
            conditions(IDS | STATES | FINISHED_BEFORE, None, 2, 1),
            "TRUE AND id = ANY($2::uuid[]) AND state = ANY($3::text[]::mq_job_state[]) \
             AND state >= 'failed' \
             AND run_at <= coalesce($1::timestamptz, now()) - $4::bigint * interval '1 microsecond'"
        );
        assert_eq!(
            conditions(CHANNEL_NAMES, None, 4, 3),
            "TRUE AND channel_name = ANY($4::text[])"
        );
        assert_eq!(
            conditions(CHANNEL_NAMES | NAMES | STATES, None, 4, 3),
            "TRUE AND channel_name = ANY($4::text[]) AND name = ANY($5::text[]) \
             AND state = ANY($6::text[]::mq_job_state[])"
        );
        assert!(
            !JOB_DELETE
                .text(&JobFilter::default())
                .contains("/*filter*/")
        );
        // One state is a literal, and takes no parameter.
        assert_eq!(
            conditions(STATES | FINISHED_BEFORE, Some(JobState::Failed), 2, 1),
            "TRUE AND state = 'failed' AND state >= 'failed' \
             AND run_at <= coalesce($1::timestamptz, now()) - $2::bigint * interval '1 microsecond'"
        );
        let failed = [JobState::Failed];
        let filter = JobFilter {
            states: Some(&failed),
            ..JobFilter::default()
        };
        assert!(JOB_LIST.text(&filter).contains("state = 'failed'"));
        let (states, age) = owned_parts(&filter);
        let mut params = Vec::new();
        bind(&filter, &states, &age, &mut params);
        assert!(params.is_empty());
    }
}
