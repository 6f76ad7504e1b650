//! The storage itself: what vacuuming gives back.

use mq_core::backend::JobVacuumParams;

use crate::support::{Db, Driver};

/// After a burst of jobs, vacuum gives back the table's pages, and the
/// indexes that the burst left bloated are rebuilt, without a lock that
/// stops runners (`REINDEX ... CONCURRENTLY`), so the storage returns to
/// the size of what it holds.
pub async fn vacuum_rebuilds_bloated_indexes<D: Driver>(db: &Db<D>) {
    db.exec(
        "INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                             retries, retry_backoff)
         SELECT gen_random_uuid(), 'ready', 'j', 'c', '', false, now(), 0, '1s'
         FROM generate_series(1, 30000)",
    )
    .await;
    db.exec("DELETE FROM mq_jobs").await;
    assert_eq!(
        db.count("SELECT count(*) WHERE pg_indexes_size('mq_jobs') > 1048576")
            .await,
        1,
        "the burst left no index to rebuild"
    );
    let ran = db
        .backend()
        .job_vacuum(JobVacuumParams::default())
        .await
        .expect("job_vacuum");
    assert!(ran, "another vacuum held the lock");
    let sizes = "SELECT (pg_relation_size('mq_jobs') + pg_indexes_size('mq_jobs')) / 1024";
    let kib = db.count(sizes).await;
    assert!(kib < 512, "the storage is still {kib} KiB for no job");
    // Nothing left over from the rebuilds, and the queue works.
    assert_eq!(
        db.count(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'mq_jobs'::regclass AND NOT indisvalid"
        )
        .await,
        0
    );
    let id = mq::JobBuilder::new("after").spawn(db.ex()).await.unwrap();
    assert_eq!(db.state(id).await, Some(mq::JobState::Ready));
}
