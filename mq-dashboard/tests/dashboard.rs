//! The dashboard over HTTP, through its router: every case on the
//! in-memory backend and on PostgreSQL (`DATABASE_URL`).

mod support;

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use mq::admin::{self, ChannelLimit};
use mq::{JobBuilder, JobState, Uuid};
use mq_dashboard::Dashboard;

use support::{Client, Form, Queue};

const SCRIPT: &str = "<script>alert(1)</script>";
const SCRIPT_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const IMG_ESCAPED: &str = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";

fn client(queue: &Queue) -> Client {
    Client::new(Dashboard::new(queue.backend.clone()).router())
}

fn job(name: &str, channel: &str) -> JobBuilder {
    let mut job = JobBuilder::new(name);
    job.set_channel_name(channel);
    job
}

/// Every page answers 200 with what the queue holds.
async fn every_page_renders(queue: Queue) {
    let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let ready = queue
        .spawn(
            job("send_email", "emails")
                .set_json(&"ada")
                .unwrap()
                .set_trace_context(Some(trace.to_owned())),
        )
        .await;
    let failed = queue
        .spawn_failed(&mut job("resize", "images"), "out of memory")
        .await;
    let head = queue
        .spawn_failed(job("step", "pipeline").set_ordered(true), "step failed")
        .await;
    let blocked = queue.spawn(job("step", "pipeline").set_ordered(true)).await;
    // A job as the runner that fires a schedule spawns it, with its tick.
    let mut ticked = job("report", "reports")
        .set_unique_key("nightly@tick")
        .job()
        .clone();
    ticked.tick = Some(time::OffsetDateTime::from_unix_timestamp(1_796_007_600).unwrap());
    queue
        .backend
        .job_insert(mq::testing::backend::JobInsertParams {
            jobs: vec![&ticked],
            now: None,
        })
        .await
        .unwrap();
    admin::pause(&*queue.backend, "emails").await.unwrap();
    let limit = ChannelLimit::new("images")
        .set_concurrency(4)
        .unwrap()
        .set_rate(10, Duration::from_secs(1))
        .unwrap();
    admin::set_limit(&*queue.backend, &limit).await.unwrap();
    assert_eq!(queue.state(blocked).await, Some(JobState::Blocked));

    let mut client = client(&queue);
    // The very first look does not wait for the count.
    let first = client.page("/").await;
    assert!(first.body.contains("Counting"), "{}", first.body);
    let live = client.live("/live").await;
    assert!(
        live.contains("emails") && live.contains("pipeline"),
        "{live}"
    );

    let overview = client.page("/").await;
    for text in [
        "Counts as of",
        "emails",
        "images",
        "pipeline",
        "held by failed jobs",
        "waiting for",
        "paused",
    ] {
        assert!(overview.body.contains(text), "overview lacks {text:?}");
    }
    assert!(!overview.body.contains("Counting"));

    let channels = client.page("/channels").await;
    assert!(channels.body.contains("0 / 4 at once · 0 / 10 per 1 s"));
    assert!(channels.body.contains("Resume"), "emails is paused");
    assert!(channels.body.contains("Retry 1 failed"));

    let list = client.page("/jobs").await;
    for id in [ready, failed, head, blocked] {
        assert!(list.body.contains(&id.to_string()), "the list lacks {id}");
    }
    let failed_list = client.page("/jobs?state=failed").await;
    assert!(failed_list.body.contains(&failed.to_string()));
    assert!(!failed_list.body.contains(&ready.to_string()));

    let page = client.page(&format!("/jobs/{ready}")).await;
    assert!(
        page.body.contains("&quot;ada&quot;"),
        "the payload, as text"
    );
    assert!(page.body.contains(trace), "the trace it was spawned in");
    let page = client.page(&format!("/jobs/{}", ticked.id)).await;
    assert!(page.body.contains("Schedule tick"), "{}", page.body);
    assert!(page.body.contains("2026-11-30 03:00:00"), "{}", page.body);
    let page = client.page(&format!("/jobs/{failed}")).await;
    assert!(page.body.contains("out of memory"));
    assert!(page.body.contains(&format!("/jobs/{failed}/retry")));
    let page = client.page(&format!("/jobs/{blocked}")).await;
    assert!(
        page.body.contains("1 ordered job(s) ahead of it"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("/jobs/{head}\"")),
        "links the head"
    );
}

/// The job list pages by cursor, with its filters, to the end.
async fn job_list_pages_by_cursor(queue: Queue) {
    for i in 0..5 {
        queue.spawn(&job(&format!("page-{i}"), "paging")).await;
    }
    queue.spawn(&job("elsewhere", "other")).await;
    let mut client = client(&queue);

    let mut seen = Vec::new();
    let mut next = Some("/jobs?channel=paging&limit=2".to_owned());
    while let Some(uri) = next {
        let page = client.page(&uri).await;
        let names: Vec<String> = (0..5)
            .map(|i| format!("page-{i}"))
            .filter(|name| page.body.contains(&format!(">{name}</a>")))
            .collect();
        assert!(names.len() <= 2, "{uri}: {names:?}");
        assert!(!page.body.contains("elsewhere"));
        seen.extend(names);
        next = page.link("next");
        if let Some(next) = &next {
            assert!(next.contains("channel=paging") && next.contains("limit=2"));
            assert!(next.contains("after="));
        }
    }
    assert_eq!(seen, ["page-0", "page-1", "page-2", "page-3", "page-4"]);

    // The name filter, and a first-page link from a later page.
    let page = client.page("/jobs?channel=paging&name=page-3").await;
    assert!(page.body.contains(">page-3</a>"));
    assert!(!page.body.contains(">page-2</a>"));
    let later = client
        .page("/jobs?after=00000000-0000-0000-0000-000000000001&limit=1")
        .await;
    assert!(later.body.contains("First page"));
}

/// Retry, delete, cancel, retry a channel's failed jobs, pause and resume
/// change the queue, and come back with a flash message.
async fn actions_change_the_queue(queue: Queue) {
    let failed = queue
        .spawn_failed(&mut job("flaky", "retry-one"), "boom")
        .await;
    let doomed = queue
        .spawn_failed(&mut job("doomed", "delete-one"), "boom")
        .await;
    let bulk = [
        queue.spawn_failed(&mut job("bulk", "bulk"), "boom").await,
        queue.spawn_failed(&mut job("bulk", "bulk"), "boom").await,
    ];
    let other = queue
        .spawn_failed(&mut job("other", "not-bulk"), "boom")
        .await;
    let ready = queue.spawn(&job("cancel-me", "cancel-one")).await;
    let mut client = client(&queue);
    client.page("/").await;

    let done = client.post(&format!("/jobs/{failed}/retry"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(
        done.location()
            .starts_with(&format!("/jobs/{failed}?flash="))
    );
    assert_eq!(queue.state(failed).await, Some(JobState::Ready));
    let shown = client.page(done.location()).await;
    assert!(shown.body.contains("The job will run again."));
    // Retrying a job that is not failed says so, and changes nothing.
    let again = client.post(&format!("/jobs/{failed}/retry"), &[]).await;
    assert!(again.location().contains("flash_error="));
    assert_eq!(queue.state(failed).await, Some(JobState::Ready));

    let done = client.post(&format!("/jobs/{doomed}/delete"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(done.location().starts_with("/jobs?flash="));
    assert_eq!(queue.state(doomed).await, None);

    let done = client
        .post("/channels/retry-failed", &[("channel", "bulk")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(done.location().starts_with("/channels?flash="));
    assert!(
        client
            .page(done.location())
            .await
            .body
            .contains("Retried 2 failed job(s) of channel bulk.")
    );
    for id in bulk {
        assert_eq!(queue.state(id).await, Some(JobState::Ready));
    }
    assert_eq!(queue.state(other).await, Some(JobState::Failed));

    let done = client.post(&format!("/jobs/{ready}/cancel"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(queue.state(ready).await, Some(JobState::Cancelled));

    let done = client.post("/channels/pause", &[("channel", "bulk")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(queue.is_paused("bulk").await);
    let done = client
        .post("/channels/resume", &[("channel", "bulk")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(!queue.is_paused("bulk").await);
    let not_paused = client
        .post("/channels/resume", &[("channel", "bulk")])
        .await;
    assert!(not_paused.location().contains("flash_error="));
}

/// A POST without the token, or with another, is refused and changes
/// nothing; so is one a browser marks as cross-site.
async fn posts_need_the_csrf_token(queue: Queue) {
    let failed = queue.spawn_failed(&mut job("flaky", "csrf"), "boom").await;
    let mut client = client(&queue);
    let page = client.page("/").await;
    let cookie = page
        .headers
        .get(SET_COOKIE)
        .expect("a token cookie")
        .to_str()
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(cookie.contains("Path=/;"));
    let token = client.token.clone().unwrap();
    let other = Uuid::new_v4().simple().to_string();
    let uri = format!("/jobs/{failed}/retry");

    let refused = [
        ("no token at all", Form::new(&uri, &[])),
        ("the cookie only", Form::new(&uri, &[]).cookie(&token)),
        ("the field only", Form::new(&uri, &[]).token(&token)),
        (
            "another token",
            Form::new(&uri, &[]).cookie(&token).token(&other),
        ),
        (
            "cross-site",
            Form::new(&uri, &[])
                .cookie(&token)
                .token(&token)
                .header("sec-fetch-site", "cross-site"),
        ),
        (
            "another origin",
            Form::new(&uri, &[])
                .cookie(&token)
                .token(&token)
                .header("host", "queue.example")
                .header("origin", "https://evil.example"),
        ),
    ];
    for (what, form) in refused {
        let page = client.send(form.build()).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}");
        assert!(page.body.contains("403"), "{what}: a message");
        assert_eq!(queue.state(failed).await, Some(JobState::Failed), "{what}");
    }
    let paused = client
        .send(Form::new("/channels/pause", &[("channel", "csrf")]).build())
        .await;
    assert_eq!(paused.status, StatusCode::FORBIDDEN);
    assert!(!queue.is_paused("csrf").await);

    let done = client
        .send(
            Form::new(&uri, &[])
                .cookie(&token)
                .token(&token)
                .header("host", "queue.example")
                .header("origin", "https://queue.example")
                .header("sec-fetch-site", "same-origin")
                .build(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(queue.state(failed).await, Some(JobState::Ready));
}

/// A read-only dashboard offers no action, and refuses every POST.
async fn read_only_refuses_actions(queue: Queue) {
    let failed = queue.spawn_failed(&mut job("flaky", "ro"), "boom").await;
    let mut client = Client::new(
        Dashboard::new(queue.backend.clone())
            .read_only(true)
            .router(),
    );
    client.live("/live").await;
    for uri in [
        "/".to_owned(),
        "/channels".to_owned(),
        "/jobs".to_owned(),
        format!("/jobs/{failed}"),
    ] {
        let page = client.page(&uri).await;
        assert!(!page.has_forms(), "{uri} offers an action");
        assert!(
            page.headers.get(SET_COOKIE).is_none(),
            "{uri} sets a cookie"
        );
        assert!(page.body.contains("read-only"));
    }
    assert!(client.page("/channels").await.body.contains("ro"));

    let token = Uuid::new_v4().simple().to_string();
    for (uri, fields) in [
        (format!("/jobs/{failed}/retry"), vec![]),
        (format!("/jobs/{failed}/delete"), vec![]),
        ("/channels/pause".to_owned(), vec![("channel", "ro")]),
        ("/channels/retry-failed".to_owned(), vec![("channel", "ro")]),
    ] {
        let page = client
            .send(
                Form::new(&uri, &fields)
                    .cookie(&token)
                    .token(&token)
                    .build(),
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(page.body.contains("read-only"));
    }
    assert_eq!(queue.state(failed).await, Some(JobState::Failed));
    assert!(!queue.is_paused("ro").await);
}

/// Channels, names, arguments, payloads and errors holding HTML are shown
/// as text on every page.
async fn values_from_the_database_are_escaped(queue: Queue) {
    let both = format!("{SCRIPT}{IMG}");
    let payload = serde_json::json!({ "a": SCRIPT, "b": IMG });
    let failed = queue
        .spawn_failed(
            job(IMG, SCRIPT)
                .set_channel_args(IMG)
                .set_ordered(true)
                .set_json(&payload)
                .unwrap()
                .set_raw_bytes(SCRIPT.as_bytes()),
            &both,
        )
        .await;
    let blocked = queue
        .spawn(job(SCRIPT, SCRIPT).set_channel_args(IMG).set_ordered(true))
        .await;
    queue.spawn(&job(SCRIPT, IMG)).await;
    admin::pause(&*queue.backend, SCRIPT).await.unwrap();
    let limit = ChannelLimit::new(IMG).set_concurrency(2).unwrap();
    admin::set_limit(&*queue.backend, &limit).await.unwrap();

    let mut client = client(&queue);
    let live = client.live("/live").await;
    let mut pages = vec![("live".to_owned(), live)];
    let encoded =
        |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    for uri in [
        "/".to_owned(),
        "/channels".to_owned(),
        "/jobs".to_owned(),
        format!("/jobs?channel={}", encoded(SCRIPT)),
        format!("/jobs?name={}&channel={}", encoded(IMG), encoded(SCRIPT)),
        format!("/jobs/{failed}"),
        format!("/jobs/{blocked}"),
        format!("/?flash={}", encoded(&both)),
        format!("/?flash_error={}", encoded(&both)),
    ] {
        pages.push((uri.clone(), client.page(&uri).await.body));
    }
    let done = client
        .post("/channels/retry-failed", &[("channel", SCRIPT)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    pages.push(("flash".to_owned(), client.page(done.location()).await.body));
    let not_found = client.get(&format!("/jobs/{}", encoded(SCRIPT))).await;
    assert_eq!(not_found.status, StatusCode::BAD_REQUEST);
    pages.push(("bad id".to_owned(), not_found.body));

    for (uri, body) in &pages {
        for raw in [SCRIPT, IMG, "<img", "<script>alert"] {
            assert!(
                !body.contains(raw),
                "{uri} shows {raw:?} unescaped:\n{body}"
            );
        }
        assert!(
            body.contains(SCRIPT_ESCAPED) || body.contains(IMG_ESCAPED),
            "{uri} shows neither value:\n{body}"
        );
    }
    let find = |uri: &str| &pages.iter().find(|(u, _)| u == uri).unwrap().1;
    for uri in ["live", "/", "/channels", "/jobs"] {
        let body = find(uri);
        assert!(
            body.contains(SCRIPT_ESCAPED) && body.contains(IMG_ESCAPED),
            "{uri}"
        );
    }
    let job_page = find(&format!("/jobs/{failed}"));
    // The name, channel and arguments, the JSON payload, the error.
    assert!(job_page.contains(&format!("{SCRIPT_ESCAPED}{IMG_ESCAPED}")));
    assert!(job_page.contains(&format!("&quot;{SCRIPT_ESCAPED}&quot;")));
    assert!(job_page.contains(&format!("&quot;\\{IMG_ESCAPED}&quot;")));
    assert!(find("flash").contains(&format!("of channel {SCRIPT_ESCAPED}.")));
}

/// Malformed ids, cursors, states and forms are answered 400 or 404 with
/// a message, never a panic.
async fn bad_input_is_refused_with_a_message(queue: Queue) {
    let mut client = client(&queue);
    let nil = Uuid::nil();
    for (uri, status, message) in [
        (
            "/jobs/not-a-uuid".to_owned(),
            StatusCode::BAD_REQUEST,
            "is not a job id",
        ),
        (format!("/jobs/{nil}"), StatusCode::NOT_FOUND, "no job"),
        (
            "/jobs?after=abc".to_owned(),
            StatusCode::BAD_REQUEST,
            "cursor",
        ),
        (
            "/jobs?state=sleeping".to_owned(),
            StatusCode::BAD_REQUEST,
            "is not a job state",
        ),
        (
            "/jobs?limit=0".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid limit",
        ),
        (
            "/jobs?channel=a%00b".to_owned(),
            StatusCode::BAD_REQUEST,
            "NUL",
        ),
        (
            "/no/such/page".to_owned(),
            StatusCode::NOT_FOUND,
            "no such page",
        ),
    ] {
        let page = client.get(&uri).await;
        assert_eq!(page.status, status, "{uri}: {}", page.body);
        assert!(page.body.contains(message), "{uri}: {}", page.body);
    }
    client.page("/").await;
    for (uri, fields, status) in [
        (
            "/jobs/xyz/retry".to_owned(),
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/channels/pause".to_owned(),
            vec![("channel", "")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/channels/pause".to_owned(),
            vec![("channel", "a\0b")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/channels/pause".to_owned(),
            vec![],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let page = client.post(&uri, &fields).await;
        assert_eq!(page.status, status, "{uri} {fields:?}: {}", page.body);
        assert!(
            page.body.contains("<p class=\"message\">"),
            "{uri}: {}",
            page.body
        );
    }
    // Actions on a job that does not exist say so.
    let page = client.post(&format!("/jobs/{nil}/cancel"), &[]).await;
    assert!(page.location().starts_with("/jobs?flash_error="));
    let page = client.post(&format!("/jobs/{nil}/delete"), &[]).await;
    assert!(page.location().starts_with("/jobs?flash_error="));
}

/// Nested under a prefix, every link, form, redirect and the cookie carry
/// it.
async fn works_nested_under_a_prefix(queue: Queue) {
    let failed = queue
        .spawn_failed(&mut job("flaky", "nested"), "boom")
        .await;
    queue.spawn(&job("other", "nested-2")).await;
    let app = Router::new().nest("/ops/queue", Dashboard::new(queue.backend.clone()).router());
    let mut client = Client::new(app);

    let live = client.live("/ops/queue/live").await;
    assert!(
        live.contains("href=\"/ops/queue/jobs?channel=nested\""),
        "{live}"
    );
    let overview = client.page("/ops/queue").await;
    let cookie = overview.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cookie.contains("Path=/ops/queue;"), "{cookie}");
    for link in [
        "href=\"/ops/queue\"",
        "href=\"/ops/queue/channels\"",
        "href=\"/ops/queue/jobs\"",
        "data-src=\"/ops/queue/live\"",
        "href=\"/ops/queue/jobs?state=failed&amp;channel=nested\"",
    ] {
        assert!(overview.body.contains(link), "{link}");
    }
    assert!(!overview.body.contains("href=\"/jobs"));

    let list = client.page("/ops/queue/jobs?limit=1").await;
    assert!(
        list.link("next")
            .unwrap()
            .starts_with("/ops/queue/jobs?limit=1&after=")
    );
    assert!(
        list.body
            .contains(&format!("href=\"/ops/queue/jobs/{failed}\""))
    );
    let page = client.page(&format!("/ops/queue/jobs/{failed}")).await;
    assert!(
        page.body
            .contains(&format!("action=\"/ops/queue/jobs/{failed}/retry\""))
    );
    let channels = client.page("/ops/queue/channels").await;
    assert!(
        channels
            .body
            .contains("action=\"/ops/queue/channels/pause\"")
    );

    let done = client
        .post(&format!("/ops/queue/jobs/{failed}/retry"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(
        done.location()
            .starts_with(&format!("/ops/queue/jobs/{failed}?flash="))
    );
    assert_eq!(queue.state(failed).await, Some(JobState::Ready));
    // Outside the prefix, the dashboard is not there.
    assert_eq!(client.get("/jobs").await.status, StatusCode::NOT_FOUND);
}

/// The live updates push the numbers again as they change.
async fn live_updates_follow_the_queue(queue: Queue) {
    queue.spawn(&job("a", "live")).await;
    let ready = |n: u32| format!("href=\"/jobs?state=ready&amp;channel=live\">{n}</a>");
    let mut client = client(&queue);
    let mut live = client.open_live("/live").await;
    let first = live.next().await;
    assert!(first.contains(&ready(1)), "{first}");
    queue.spawn(&job("b", "live")).await;
    // A later count sees it: at most a few events on.
    for _ in 0..5 {
        let event = live.next().await;
        assert!(event.contains("Counts as of"));
        if event.contains(&ready(2)) {
            return;
        }
    }
    panic!("no live update showed the second job");
}

macro_rules! cases {
    ($queue:expr) => {
        #[tokio::test]
        async fn every_page_renders() {
            super::every_page_renders($queue.await).await;
        }

        #[tokio::test]
        async fn job_list_pages_by_cursor() {
            super::job_list_pages_by_cursor($queue.await).await;
        }

        #[tokio::test]
        async fn actions_change_the_queue() {
            super::actions_change_the_queue($queue.await).await;
        }

        #[tokio::test]
        async fn posts_need_the_csrf_token() {
            super::posts_need_the_csrf_token($queue.await).await;
        }

        #[tokio::test]
        async fn read_only_refuses_actions() {
            super::read_only_refuses_actions($queue.await).await;
        }

        #[tokio::test]
        async fn values_from_the_database_are_escaped() {
            super::values_from_the_database_are_escaped($queue.await).await;
        }

        #[tokio::test]
        async fn bad_input_is_refused_with_a_message() {
            super::bad_input_is_refused_with_a_message($queue.await).await;
        }

        #[tokio::test]
        async fn works_nested_under_a_prefix() {
            super::works_nested_under_a_prefix($queue.await).await;
        }

        #[tokio::test]
        async fn live_updates_follow_the_queue() {
            super::live_updates_follow_the_queue($queue.await).await;
        }
    };
}

mod memory {
    use super::*;

    cases!(Queue::memory());

    /// The shortcut takes the in-memory backend as a host's tests would
    /// pass it.
    #[tokio::test]
    async fn the_shortcut_takes_a_memory_backend() {
        let backend = mq::testing::MemoryBackend::new();
        let id = JobBuilder::new("hello").spawn(&backend).await.unwrap();
        let mut client = Client::new(mq_dashboard::router(&backend));
        let page = client.page(&format!("/jobs/{id}")).await;
        assert!(page.body.contains("hello"));
    }
}

mod postgres {
    use super::*;

    cases!(Queue::postgres());

    /// A count that fails is shown as such, not as an empty queue; the
    /// pages that read the database directly say what went wrong.
    #[tokio::test]
    async fn a_failing_count_is_shown() {
        let queue = Queue::postgres().await;
        let pool = queue.pool.clone().unwrap();
        sqlx::query("DROP TABLE mq_jobs CASCADE")
            .execute(&pool)
            .await
            .unwrap();
        let mut client = client(&queue);
        let live = client.live("/live").await;
        assert!(live.contains("Nothing could be counted yet."), "{live}");
        assert!(live.contains("The latest count failed: "), "{live}");
        assert!(!live.contains("class=\"cards\""), "no numbers: {live}");
        let overview = client.page("/").await;
        assert!(overview.body.contains("The latest count failed: "));
        let channels = client.page("/channels").await;
        assert!(channels.body.contains("The latest count failed: "));
        let list = client.get("/jobs").await;
        assert_eq!(list.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(list.body.contains("mq_jobs"), "{}", list.body);
    }

    /// The shortcut takes a pool, as a host passes it.
    #[tokio::test]
    async fn the_shortcut_takes_a_pool() {
        let queue = Queue::postgres().await;
        let pool = queue.pool.clone().unwrap();
        let id = JobBuilder::new("hello").spawn(&pool).await.unwrap();
        let mut client = Client::new(mq_dashboard::router(&pool));
        let page = client.page(&format!("/jobs/{id}")).await;
        assert!(page.body.contains("hello"));
        let live = client.live("/live").await;
        assert!(live.contains("(default)"), "{live}");
    }
}
