//! Conformance cases of `Backend::job_list`: listing jobs.

use super::*;

/// `job_list` filters by channel name and state, in id order, a page at
/// a time.
pub async fn filters_and_pages_in_id_order(backend: &dyn Backend) {
    let t = Clock::new();
    let list = |channel_name: Option<&'static str>, state: Option<JobState>, after, limit| async move {
        let names = channel_name.map(|name| vec![name.to_owned()]);
        let states = state.map(|state| vec![state]);
        backend
            .job_list(JobListParams {
                filter: JobFilter {
                    channel_names: names.as_deref(),
                    states: states.as_deref(),
                    ..JobFilter::default()
                },
                after,
                limit,
            })
            .await
            .expect("job_list")
    };
    let failed = failed_job(backend, t.at(0.0), job("j", "a")).await;
    let mut spawned = vec![failed];
    for channel in ["a", "b", "a", "b", "a", "a"] {
        let mut b = job("j", channel);
        b.set_channel_args(format!("{channel}-args"));
        spawned.extend(insert(backend, t.at(0.0), &[&b]).await);
    }
    let all = list(None, None, None, 100).await;
    assert_eq!(all.iter().map(|j| j.id).collect::<Vec<_>>(), spawned);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(all[0].state, JobState::Failed);
    assert_eq!(
        all[0].last_error.as_ref().map(|e| e.error.as_str()),
        Some("boom")
    );
    assert!(all[1..].iter().all(|j| j.last_error.is_none()));
    assert_eq!(all[1].channel_args, "a-args");

    let a = list(Some("a"), None, None, 100).await;
    assert_eq!(a.len(), 5);
    assert!(a.iter().all(|j| j.channel_name == "a"));
    let failed_only = list(None, Some(JobState::Failed), None, 100).await;
    assert_eq!(
        failed_only.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![failed]
    );
    assert_eq!(
        list(Some("b"), Some(JobState::Ready), None, 100)
            .await
            .len(),
        2
    );
    assert!(
        list(Some("b"), Some(JobState::Failed), None, 100)
            .await
            .is_empty()
    );
    assert!(list(Some("nothing"), None, None, 100).await.is_empty());

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = list(None, None, after, 3).await;
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        paged.extend(page.iter().map(|j| j.id));
    }
    assert_eq!(paged, spawned);
    let a_page = list(Some("a"), Some(JobState::Ready), Some(all[1].id), 2).await;
    assert_eq!(
        a_page.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![spawned[3], spawned[5]]
    );
}

/// Listing one job by id (what `job_state` does) follows it through its
/// life.
pub async fn reports_the_state_through_a_jobs_life(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    assert_eq!(state(backend, b.id()).await, None);
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Ready));
    let claimed = claim(backend, t.at(0.0), 1).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Running));
    complete(backend, &[claimed[0].lease()]).await;
    assert_eq!(state(backend, b.id()).await, None);
}

/// A filter by job name keeps only jobs of those names, alone and with
/// the other conditions.
pub async fn filters_by_job_name(backend: &dyn Backend) {
    let t = Clock::new();
    let list = |names: &'static [&'static str], channel: Option<&'static str>| async move {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let channels = channel.map(|c| vec![c.to_owned()]);
        backend
            .job_list(JobListParams {
                filter: JobFilter {
                    names: Some(&names),
                    channel_names: channels.as_deref(),
                    ..JobFilter::default()
                },
                after: None,
                limit: 100,
            })
            .await
            .expect("job_list")
            .into_iter()
            .map(|j| j.id)
            .collect::<Vec<_>>()
    };
    let ids = insert(
        backend,
        t.at(0.0),
        &[&job("mail", "a"), &job("pdf", "a"), &job("mail", "b")],
    )
    .await;
    assert_eq!(list(&["mail"], None).await, vec![ids[0], ids[2]]);
    assert_eq!(list(&["mail"], Some("b")).await, vec![ids[2]]);
    assert_eq!(
        list(&["pdf", "mail"], Some("a")).await,
        vec![ids[0], ids[1]]
    );
    assert!(list(&["nothing"], None).await.is_empty());
}
