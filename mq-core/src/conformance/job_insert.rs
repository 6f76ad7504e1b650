//! Conformance cases of `Backend::job_insert`: spawning.

use super::*;

/// Spawned jobs are claimable once, with their payloads, as attempt 1.
pub async fn makes_jobs_claimable(backend: &dyn Backend) {
    let t = Clock::new();
    let mut json = job("json", "c");
    json.set_json(&serde_json::json!({"n": 1, "s": "é\"'"}))
        .unwrap();
    let mut bytes = job("bytes", "c");
    bytes.set_raw_bytes([0u8, 1, 2, 255]);
    let mut both = job("both", "c");
    both.set_json(&[1, 2]).unwrap().set_raw_bytes(b"xyz");
    insert(backend, t.at(0.0), &[&json, &bytes, &both]).await;

    let mut claimed = claim(backend, t.at(0.0), 10).await;
    claimed.sort_by_key(|job| job.name.clone());
    assert_eq!(claimed.len(), 3);
    let by_name = |name: &str| claimed.iter().find(|job| job.name == name).unwrap();
    let j = by_name("json");
    assert_eq!(j.id, json.id());
    assert_eq!(j.attempt, 1);
    assert_eq!(j.channel_name, "c");
    let value: serde_json::Value =
        serde_json::from_str(j.payload_json.as_deref().unwrap()).unwrap();
    assert_eq!(value, serde_json::json!({"n": 1, "s": "é\"'"}));
    assert_eq!(j.payload_bytes, None);
    assert_eq!(
        by_name("bytes").payload_bytes.as_deref(),
        Some(&[0u8, 1, 2, 255][..])
    );
    assert_eq!(by_name("bytes").payload_json, None);
    assert_eq!(by_name("both").payload_json.as_deref(), Some("[1,2]"));
    assert_eq!(by_name("both").payload_bytes.as_deref(), Some(&b"xyz"[..]));
    assert_eq!(j.retries, 4);
    assert_eq!(j.retry_backoff, Duration::from_secs(1));

    assert!(
        claim(backend, t.at(0.0), 10).await.is_empty(),
        "a running job was handed out again"
    );
}

/// A batch of jobs goes in with one call and every job comes out.
pub async fn batch_is_one_call(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..500)
        .map(|i| {
            let mut b = job("batch", &format!("c{}", i % 7));
            b.set_json(&i).unwrap();
            b
        })
        .collect();
    let refs: Vec<&JobBuilder> = builders.iter().collect();
    let spawned: HashSet<Uuid> = insert(backend, t.at(0.0), &refs)
        .await
        .into_iter()
        .collect();
    let claimed: HashSet<Uuid> = ids(&claim(backend, t.at(0.0), 1000).await)
        .into_iter()
        .collect();
    assert_eq!(claimed.len(), 500);
    assert_eq!(claimed, spawned);
}

/// A batch with a duplicate id fails as a whole, inserting nothing.
pub async fn duplicate_id_inserts_nothing(backend: &dyn Backend) {
    let t = Clock::new();
    let first = job("a", "c");
    insert(backend, t.at(0.0), &[&first]).await;
    let other = job("b", "c");
    let duplicate = JobBuilder::new_with_id(first.id(), "c");
    let result = backend
        .job_insert(JobInsertParams {
            jobs: vec![other.job(), duplicate.job()],
            now: t.at(0.0),
        })
        .await;
    let error = result.expect_err("a duplicate id must be refused");
    assert!(
        !error.is_transient(),
        "a duplicate id is not a transient error: {error:?}"
    );
    assert!(
        !backend.job_exists(other.id()).await.unwrap(),
        "part of a failed batch was inserted"
    );
    assert_eq!(ids(&claim(backend, t.at(0.0), 10).await), vec![first.id()]);
}

/// Channel names and arguments of any length and characters round-trip,
/// and can be subscribed to.
pub async fn accepts_any_channel_name(backend: &dyn Backend) {
    let t = Clock::new();
    let long = "ß'\"\\;".repeat(2000) + "🦀";
    let names = [
        long.clone(),
        String::new(),
        "a b\nc".to_owned(),
        "x".repeat(64),
    ];
    for name in &names {
        let mut b = job("any", name);
        b.set_channel_args(format!("{name}/args"));
        insert(backend, t.at(0.0), &[&b]).await;
    }
    for name in &names {
        let filter = [name.clone()];
        let claimed = claim_with(backend, t.at(0.0), 10, Some(&filter), None).await;
        assert_eq!(
            claimed.len(),
            1,
            "channel {:?}",
            name.chars().take(20).collect::<String>()
        );
        assert_eq!(&claimed[0].channel_name, name);
        assert_eq!(claimed[0].channel_args, format!("{name}/args"));
    }
}

/// A delayed job is scheduled, and ready no earlier than its time.
pub async fn delayed_waits_for_its_time(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("later", "c");
    b.set_delay(Duration::from_secs(10));
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Scheduled));

    let early = schedule(backend, t.at(9.9)).await;
    assert_eq!(early.made_ready, 0);
    assert!(
        claim(backend, t.at(9.9), 10).await.is_empty(),
        "a delayed job ran early"
    );

    let due = schedule(backend, t.at(10.0)).await;
    assert_eq!(due.made_ready, 1);
    assert_eq!(state(backend, b.id()).await, Some(JobState::Ready));
    assert_eq!(ids(&claim(backend, t.at(10.0), 10).await), vec![b.id()]);
}

/// A job with a unique key is inserted only while no job of its name holds
/// the key: not one stored, not one earlier in the same batch. Keys are
/// scoped to the job's name; an uncommitted or scheduled job holds its key
/// as a ready one does.
pub async fn unique_keys_insert_one_job_per_key(backend: &dyn Backend) {
    let t = Clock::new();
    let first = unique("report", "k");
    assert_eq!(
        insert_spawned(backend, t.at(0.0), &[&first]).await,
        [Spawned::Inserted(first.id())]
    );
    let again = unique("report", "k");
    let other_name = unique("invoice", "k");
    let (mut m1, mut m2) = (unique("report", "m"), unique("report", "m"));
    m1.set_delay(Duration::from_secs(60));
    m2.set_priority(9);
    let mut pending = unique("report", "p");
    pending.set_commit_interval(Some(Duration::from_secs(60)));
    let spawned = insert_spawned(
        backend,
        t.at(0.0),
        &[&again, &other_name, &m1, &m2, &pending],
    )
    .await;
    assert_eq!(
        spawned,
        [
            Spawned::Duplicate(first.id()),
            Spawned::Inserted(other_name.id()),
            Spawned::Inserted(m1.id()),
            Spawned::Duplicate(m1.id()),
            Spawned::Inserted(pending.id()),
        ]
    );
    assert_eq!(
        get(backend, again.id()).await,
        None,
        "a duplicate was stored"
    );
    assert_eq!(get(backend, m2.id()).await, None, "a duplicate was stored");
    let stored = get(backend, m1.id()).await.expect("stored");
    assert_eq!(stored.unique_key.as_deref(), Some("m"));
    assert_eq!(stored.state, JobState::Scheduled);
    // The uncommitted job holds its key too; and a job without a key is
    // never a duplicate.
    let late = unique("report", "p");
    let plain = job("report", "u");
    assert_eq!(
        insert_spawned(backend, t.at(1.0), &[&late, &plain]).await,
        [
            Spawned::Duplicate(pending.id()),
            Spawned::Inserted(plain.id())
        ]
    );
}

/// A job that completes (and is deleted), fails for good or is cancelled
/// gives its key up: the next spawn with the key is inserted.
pub async fn finished_jobs_give_their_key_up(backend: &dyn Backend) {
    let t = Clock::new();
    let mut failing = unique("f", "key-f");
    failing.set_retries(0);
    let completing = unique("c", "key-c");
    let cancelled = unique("x", "key-x");
    insert(backend, t.at(0.0), &[&failing, &completing, &cancelled]).await;
    let claimed = claim(backend, t.at(0.0), 10).await;
    let lease_of = |id: Uuid| claimed.iter().find(|job| job.id == id).unwrap().lease();
    assert_eq!(
        fail(backend, t.at(0.0), lease_of(failing.id()), Duration::ZERO).await,
        JobFailOutcome::Failed
    );
    assert_eq!(
        complete(backend, &[lease_of(completing.id())]).await.len(),
        1
    );
    backend
        .job_cancel(crate::backend::JobCancelParams {
            ids: &[cancelled.id()],
            now: t.at(0.0),
        })
        .await
        .expect("job_cancel");
    let again: Vec<JobBuilder> = [("f", "key-f"), ("c", "key-c"), ("x", "key-x")]
        .into_iter()
        .map(|(name, key)| unique(name, key))
        .collect();
    let spawned = insert_spawned(backend, t.at(1.0), &again.iter().collect::<Vec<_>>()).await;
    assert!(
        spawned.iter().all(Spawned::is_inserted),
        "a finished job kept its key: {spawned:?}"
    );
}

/// With unique_for, a completed job stays (completed) and holds its key
/// that long after completing; then a spawn with the key is inserted.
pub async fn unique_for_holds_the_key_after_completion(backend: &dyn Backend) {
    let t = Clock::new();
    let mut held = unique("r", "k");
    held.set_unique_for(Duration::from_secs(60));
    insert(backend, t.at(0.0), &[&held]).await;
    let stored = get(backend, held.id()).await.expect("stored");
    assert_eq!(stored.unique_for, Some(Duration::from_secs(60)));
    let claimed = claim(backend, t.at(0.0), 10).await;
    assert_eq!(
        complete_at(backend, &[claimed[0].lease()], t.at(10.0))
            .await
            .len(),
        1
    );
    assert_eq!(state(backend, held.id()).await, Some(JobState::Completed));
    let within = unique("r", "k");
    assert_eq!(
        insert_spawned(backend, t.at(69.0), &[&within]).await,
        [Spawned::Duplicate(held.id())]
    );
    let after = unique("r", "k");
    assert_eq!(
        insert_spawned(backend, t.at(71.0), &[&after]).await,
        [Spawned::Inserted(after.id())]
    );
    assert_eq!(
        insert_spawned(backend, t.at(72.0), &[&unique("r", "k")]).await,
        [Spawned::Duplicate(after.id())]
    );
}

/// A failed job gave its key up; retried, it runs without it, and the job
/// spawned with the key meanwhile keeps it.
pub async fn retried_jobs_run_without_their_key(backend: &dyn Backend) {
    let t = Clock::new();
    let mut failed = unique("r", "k");
    failed.set_retries(0);
    insert(backend, t.at(0.0), &[&failed]).await;
    let claimed = claim(backend, t.at(0.0), 10).await;
    assert_eq!(
        fail(backend, t.at(0.0), claimed[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Failed
    );
    let newer = unique("r", "k");
    assert!(insert_spawned(backend, t.at(1.0), &[&newer]).await[0].is_inserted());
    assert_eq!(
        retry(backend, t.at(2.0), Some(&[failed.id()]), None).await,
        [failed.id()]
    );
    assert_eq!(state(backend, failed.id()).await, Some(JobState::Ready));
    assert_eq!(
        get(backend, failed.id()).await.expect("stored").unique_key,
        None
    );
    assert_eq!(
        insert_spawned(backend, t.at(3.0), &[&unique("r", "k")]).await,
        [Spawned::Duplicate(newer.id())]
    );
}

/// The trace context given at insert comes back with every claim (the
/// first, a retry's, a targeted one, one after a manual retry) and from
/// `job_get`, through both variants of the insert (with and without
/// unique keys); a job without one has none.
pub async fn carries_the_trace_context(backend: &dyn Backend) {
    const A: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01;vendor=a;b,other=c";
    const B: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let t = Clock::new();
    let mut traced = job("traced", "t");
    traced.set_trace_context(Some(A.to_owned())).set_retries(1);
    let untraced = job("untraced", "t");
    let mut keyed = unique("keyed", "k");
    keyed.set_trace_context(Some(B.to_owned()));
    insert(backend, t.at(0.0), &[&traced, &untraced]).await;
    insert(backend, t.at(0.0), &[&keyed]).await;

    let context_of = |jobs: &[ClaimedJob], id: Uuid| {
        let job = jobs.iter().find(|job| job.id == id).expect("claimed");
        job.trace_context.clone()
    };
    let claimed = claim(backend, t.at(0.0), 10).await;
    assert_eq!(claimed.len(), 3);
    assert_eq!(context_of(&claimed, traced.id()).as_deref(), Some(A));
    assert_eq!(context_of(&claimed, untraced.id()), None);
    assert_eq!(context_of(&claimed, keyed.id()).as_deref(), Some(B));
    for (id, context) in [
        (traced.id(), Some(A)),
        (untraced.id(), None),
        (keyed.id(), Some(B)),
    ] {
        let info = get(backend, id).await.expect("stored");
        assert_eq!(info.trace_context.as_deref(), context, "job_get of {id}");
    }

    // Retried after a failure: the second attempt is in the same trace.
    let lease = claimed
        .iter()
        .find(|job| job.id == traced.id())
        .unwrap()
        .lease();
    assert_eq!(
        fail(backend, t.at(1.0), lease, Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
    let again = claim_targets(backend, t.at(1.0), 10, &[target("t", 0)]).await;
    assert_eq!(ids(&again), [traced.id()]);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(again[0].trace_context.as_deref(), Some(A));

    // Failed for good, then retried by hand: still the same trace.
    assert_eq!(
        fail(backend, t.at(2.0), again[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Failed
    );
    assert_eq!(
        get(backend, traced.id())
            .await
            .unwrap()
            .trace_context
            .as_deref(),
        Some(A)
    );
    assert_eq!(
        retry(backend, t.at(3.0), Some(&[traced.id()]), None).await,
        [traced.id()]
    );
    let retried = claim(backend, t.at(3.0), 10).await;
    assert_eq!(ids(&retried), [traced.id()]);
    assert_eq!(retried[0].trace_context.as_deref(), Some(A));
}

/// A job spawned for a schedule's tick carries the tick, to the
/// microsecond, to every attempt and to `job_get`; a job spawned beside it
/// in the same batch, and any other job, has none. (A job with a tick
/// always has a unique key, as the runner that fires schedules gives it.)
pub async fn carries_the_tick(backend: &dyn Backend) {
    // A tick with microseconds, the precision PostgreSQL keeps.
    let tick = OffsetDateTime::from_unix_timestamp(1_796_033_100).unwrap()
        + Duration::from_micros(123_456);
    let t = Clock::new();
    let mut ticked = unique("ticked", "nightly@tick");
    ticked.set_tick(tick).set_retries(1);
    let beside = job("beside", "t");
    let plain = job("plain", "t");
    insert(backend, t.at(0.0), &[&ticked, &beside]).await;
    insert(backend, t.at(0.0), &[&plain]).await;

    let tick_of =
        |jobs: &[ClaimedJob], id: Uuid| jobs.iter().find(|job| job.id == id).expect("claimed").tick;
    let claimed = claim(backend, t.at(0.0), 10).await;
    assert_eq!(claimed.len(), 3);
    assert_eq!(tick_of(&claimed, ticked.id()), Some(tick));
    assert_eq!(tick_of(&claimed, beside.id()), None);
    assert_eq!(tick_of(&claimed, plain.id()), None);
    for (id, expected) in [
        (ticked.id(), Some(tick)),
        (beside.id(), None),
        (plain.id(), None),
    ] {
        let info = get(backend, id).await.expect("stored");
        assert_eq!(info.tick, expected, "job_get of {id}");
    }

    // Retried after a failure: the second attempt covers the same tick.
    let lease = claimed
        .iter()
        .find(|job| job.id == ticked.id())
        .unwrap()
        .lease();
    assert_eq!(
        fail(backend, t.at(1.0), lease, Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
    let again = claim(backend, t.at(1.0), 10).await;
    assert_eq!(ids(&again), [ticked.id()]);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(again[0].tick, Some(tick));
}
