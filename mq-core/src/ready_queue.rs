//! Places in the ready queue: how one number orders a channel's ready jobs
//! by priority, then by when they became ready.
//!
//! Every time a job becomes ready it takes the next *turn* from one counter
//! (a PostgreSQL sequence, or the memory backend's count). Its *place*
//! ([`ClaimedJob::ready_seq`](crate::backend::ClaimedJob::ready_seq)) is
//! that turn moved down by [`TURNS_PER_PRIORITY`] for each step of
//! priority:
//!
//! ```text
//! place = turn - priority × 2⁴⁷
//! ```
//!
//! so that, read in ascending order, a channel's places give its jobs of
//! the highest priority first, each priority in the order its jobs became
//! ready. Claims then need one index, one order and one lower bound, as
//! before priorities existed, and the jobs of priority 0 (nearly all of
//! them) keep their turns unchanged, which is why a database spawned
//! before priorities existed keeps its queue as it was. Each priority owns
//! a range of places ([`places`]): a runner claims from a channel one
//! priority at a time, from where its last claim there stopped, so that the
//! dead index entries earlier claims left behind at the front of one
//! priority are never walked to reach another.
//!
//! The arithmetic holds in 64 bits for every `i16` priority while turns
//! stay below 2⁴⁷ (1.4 × 10¹⁴: 44 years at 100,000 jobs a second). The
//! same formula is written in SQL, in the trigger that numbers jobs as they
//! become ready (`migrations/0010_priorities.sql`) and in the insert
//! (`job_insert.sql`).

use std::ops::Range;

/// The number of turns one step of priority is worth: 2⁴⁷.
pub const TURNS_PER_PRIORITY: i64 = 1 << 47;

/// The place of a job of `priority` that became ready at `turn` (a number
/// in `0..TURNS_PER_PRIORITY`).
pub fn place(priority: i16, turn: i64) -> i64 {
    turn - i64::from(priority) * TURNS_PER_PRIORITY
}

/// The priority of the job at `place`.
pub fn priority_of(place: i64) -> i16 {
    // place = turn - priority × 2⁴⁷ with 0 ≤ turn < 2⁴⁷, so flooring the
    // division gives -priority exactly. Places no job can have (beyond the
    // extreme priorities) are counted to the nearest.
    let priority = -place.div_euclid(TURNS_PER_PRIORITY);
    priority.clamp(i16::MIN.into(), i16::MAX.into()) as i16
}

/// The places of the jobs of `priority`.
pub fn places(priority: i16) -> Range<i64> {
    let start = -i64::from(priority) * TURNS_PER_PRIORITY;
    start..start + TURNS_PER_PRIORITY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_order_by_priority_then_turn() {
        assert_eq!(place(0, 41), 41);
        assert!(place(1, 1_000_000) < place(0, 1));
        assert!(place(0, 1_000_000) < place(-1, 1));
        assert!(place(5, 1) < place(5, 2));
        for priority in [i16::MIN, -1, 0, 1, 10, i16::MAX] {
            for turn in [0, 1, TURNS_PER_PRIORITY - 1] {
                let at = place(priority, turn);
                assert_eq!(priority_of(at), priority, "{priority} {turn}");
                assert!(places(priority).contains(&at));
            }
        }
        assert_eq!(places(1).end, places(0).start);
        // The extremes fit.
        assert_eq!(places(i16::MIN).end, (1 << 62) + TURNS_PER_PRIORITY);
        assert_eq!(places(i16::MAX).start, -32767 * TURNS_PER_PRIORITY);
    }
}
