//! Bad input: a typed error, and nothing inserted, lost or corrupted.

use std::time::Duration;

use mq::{Error, JobBuilder, Uuid};

use crate::support::{Db, Driver, recording_runner};

fn invalid_field(error: &Error) -> &'static str {
    match error {
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

/// Values PostgreSQL cannot store, or that would overflow, are refused
/// before anything is sent, and a batch with one bad job inserts nothing.
pub async fn unstorable_values_are_refused_with_typed_errors<D: Driver>(db: &Db<D>) {
    let nul = JobBuilder::new("j").set_channel_name("a\0b").clone();
    assert_eq!(
        invalid_field(&nul.spawn(db.ex()).await.unwrap_err()),
        "channel_name"
    );
    let nul_args = JobBuilder::new("j").set_channel_args("\0").clone();
    assert_eq!(
        invalid_field(&nul_args.spawn(db.ex()).await.unwrap_err()),
        "channel_args"
    );
    let nul_name = JobBuilder::new("a\0");
    assert_eq!(
        invalid_field(&nul_name.spawn(db.ex()).await.unwrap_err()),
        "name"
    );
    let forever = JobBuilder::new("j")
        .set_delay(Duration::from_secs(u64::MAX))
        .clone();
    assert_eq!(
        invalid_field(&forever.spawn(db.ex()).await.unwrap_err()),
        "delay"
    );
    let backoff = JobBuilder::new("j")
        .set_retry_backoff(Duration::MAX)
        .clone();
    assert_eq!(
        invalid_field(&backoff.spawn(db.ex()).await.unwrap_err()),
        "retry_backoff"
    );
    let interval = JobBuilder::new("j")
        .set_commit_interval(Some(Duration::MAX))
        .clone();
    assert_eq!(
        invalid_field(&interval.spawn(db.ex()).await.unwrap_err()),
        "commit_interval"
    );
    let timeout = JobBuilder::new("j").set_timeout(Duration::MAX).clone();
    assert_eq!(
        invalid_field(&timeout.spawn(db.ex()).await.unwrap_err()),
        "timeout"
    );
    let no_time = JobBuilder::new("j").set_timeout(Duration::ZERO).clone();
    assert_eq!(
        invalid_field(&no_time.spawn(db.ex()).await.unwrap_err()),
        "timeout"
    );
    let retries = JobBuilder::new("j").set_retries(u32::MAX).clone();
    assert_eq!(
        invalid_field(&retries.spawn(db.ex()).await.unwrap_err()),
        "retries"
    );
    for key in [String::new(), "k".repeat(10_000), "a\0b".to_owned()] {
        let unique = JobBuilder::new("j").set_unique_key(key).clone();
        assert_eq!(
            invalid_field(&unique.spawn(db.ex()).await.unwrap_err()),
            "unique_key"
        );
    }
    for context in [String::new(), "t".repeat(10_000), "a\0b".to_owned()] {
        let traced = JobBuilder::new("j")
            .set_trace_context(Some(context))
            .clone();
        assert_eq!(
            invalid_field(&traced.spawn(db.ex()).await.unwrap_err()),
            "trace_context"
        );
    }
    let held_without_key = JobBuilder::new("j")
        .set_unique_for(Duration::from_secs(60))
        .clone();
    assert_eq!(
        invalid_field(&held_without_key.spawn(db.ex()).await.unwrap_err()),
        "unique_for"
    );
    // Text that is not JSON: refused at spawn, naming the field and why,
    // not as a failure to encode.
    let not_json = JobBuilder::new("j").set_raw_json("{not json").clone();
    let error = not_json.spawn(db.ex()).await.unwrap_err();
    assert_eq!(invalid_field(&error), "payload_json");
    assert!(error.to_string().contains("is not valid JSON"), "{error}");

    let good = JobBuilder::new("good");
    let batch = [good.clone(), nul.clone()];
    assert_eq!(
        invalid_field(&mq::spawn_many(db.ex(), &batch).await.unwrap_err()),
        "channel_name"
    );
    assert!(
        !mq::exists(db.ex(), good.id()).await.unwrap(),
        "part of a refused batch was inserted"
    );
    assert_eq!(db.count("SELECT count(*) FROM mq_jobs").await, 0);
}

/// A payload past the payload limit (JSON text and bytes together) is
/// refused with its size and the limit, alone or in a batch, and nothing
/// of it is written.
pub async fn payloads_past_the_limit_are_refused<D: Driver>(db: &Db<D>) {
    let limit = mq::payload_limit();
    let text = "x".repeat(limit / 2);
    let over = JobBuilder::new("over")
        .set_json(&text)
        .unwrap()
        .set_raw_bytes(vec![7u8; limit / 2])
        .clone();
    let size = match over.spawn(db.ex()).await.unwrap_err() {
        Error::PayloadTooLarge { size, limit: said } => {
            assert_eq!(said, limit);
            size
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    };
    assert_eq!(
        size,
        text.len() + 2 + limit / 2,
        "the size counts the JSON text and the bytes"
    );
    let good = JobBuilder::new("good");
    assert!(matches!(
        mq::spawn_many(db.ex(), &[good.clone(), over]).await,
        Err(Error::PayloadTooLarge { .. })
    ));
    assert!(!mq::exists(db.ex(), good.id()).await.unwrap());
    assert_eq!(db.count("SELECT count(*) FROM mq_jobs").await, 0);
    // Just under the limit goes in.
    JobBuilder::new("under")
        .set_raw_bytes(vec![7u8; limit - 100])
        .spawn(db.ex())
        .await
        .unwrap();
    assert_eq!(db.count("SELECT count(*) FROM mq_jobs").await, 1);
}

/// Committing ids that are not waiting for a commit names them.
pub async fn committing_unknown_ids_names_them<D: Driver>(db: &Db<D>) {
    let unknown = Uuid::now_v7();
    let pending = JobBuilder::new("j")
        .set_commit_interval(Some(Duration::from_secs(60)))
        .spawn(db.ex())
        .await
        .unwrap();
    match mq::commit(db.ex(), &[pending, unknown]).await {
        Err(Error::NotFound { ids }) => assert_eq!(ids, vec![unknown]),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        db.state(pending).await,
        Some(mq::JobState::Ready),
        "the known id was not committed"
    );
    mq::commit(db.ex(), &[]).await.unwrap();
}

/// Payloads of tens of megabytes and channel names of any length and
/// character go in and come out intact.
pub async fn huge_payloads_and_odd_channel_names_round_trip<D: Driver>(db: &Db<D>) {
    let (_runner, received) = recording_runner(
        db,
        |_| {},
        |job| {
            let json: serde_json::Value = job.json().unwrap().unwrap_or(serde_json::Value::Null);
            let text = json.as_str().map_or(0, str::len);
            let bytes = job.raw_bytes().unwrap_or_default();
            let checksum: u64 = bytes.iter().map(|b| u64::from(*b)).sum();
            (
                job.channel_name().to_owned(),
                job.channel_args().to_owned(),
                text,
                checksum,
                bytes.len(),
            )
        },
    )
    .await;
    let big_text = "é".repeat(10 * 1024 * 1024); // 20 MB of UTF-8
    let big_bytes: Vec<u8> = (0..30 * 1024 * 1024)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let checksum: u64 = big_bytes.iter().map(|b| u64::from(*b)).sum();
    let odd_name = format!("{}'\";\\ 🦀 \u{2028}", "x".repeat(10_000));
    let odd_args = "ünïcödé 'quotes' \"double\" $1 %s".to_owned();
    JobBuilder::new("big")
        .set_channel_name(&odd_name)
        .set_channel_args(&odd_args)
        .set_json(&big_text)
        .unwrap()
        .set_raw_bytes(&big_bytes)
        .spawn(db.ex())
        .await
        .unwrap();
    let got = received.wait_len(1).await.remove(0);
    assert_eq!(got.0, odd_name);
    assert_eq!(got.1, odd_args);
    assert_eq!(got.2, big_text.len());
    assert_eq!(got.3, checksum);
    assert_eq!(got.4, big_bytes.len());
}
