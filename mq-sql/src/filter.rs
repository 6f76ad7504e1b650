//! The statements that take a [`JobFilter`] (list, retry, delete), one text
//! per combination of the filter's conditions.
//!
//! Each statement's `.sql` file holds the mark `/*filter*/` where its
//! conditions go. Rather than one text with `($n IS NULL OR ...)` for every
//! condition, which PostgreSQL plans once for all combinations (and so
//! without the indexes any one of them could use), each combination gets a
//! text of its own with exactly its conditions, prepared and cached like
//! any statement: at most thirty-two per statement.

use std::sync::LazyLock;

use mq_core::backend::JobFilter;

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

/// The conditions of a filter of `shape`, its parameters numbered from
/// `first`; `now` is the parameter the clock is in.
fn conditions(shape: usize, first: usize, now: usize) -> String {
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
        conditions.push(format!("state = ANY(${n}::text[]::mq_job_state[])"));
        n += 1;
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
        &self.texts[shape(filter)]
    }
}

fn texts(template: &str, first: usize, now: usize) -> Vec<String> {
    (0..SHAPES)
        .map(|shape| template.replace("/*filter*/", &conditions(shape, first, now)))
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
    if filter.states.is_some() {
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
        assert_eq!(conditions(0, 2, 1), "TRUE");
        assert_eq!(
            conditions(IDS | STATES | FINISHED_BEFORE, 2, 1),
            "TRUE AND id = ANY($2::uuid[]) AND state = ANY($3::text[]::mq_job_state[]) \
             AND state >= 'failed' \
             AND run_at <= coalesce($1::timestamptz, now()) - $4::bigint * interval '1 microsecond'"
        );
        assert_eq!(
            conditions(CHANNEL_NAMES, 4, 3),
            "TRUE AND channel_name = ANY($4::text[])"
        );
        assert_eq!(
            conditions(CHANNEL_NAMES | NAMES | STATES, 4, 3),
            "TRUE AND channel_name = ANY($4::text[]) AND name = ANY($5::text[]) \
             AND state = ANY($6::text[]::mq_job_state[])"
        );
        assert!(
            !JOB_DELETE
                .text(&JobFilter::default())
                .contains("/*filter*/")
        );
    }
}
