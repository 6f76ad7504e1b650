//! A browser of sorts for the dashboard's router (requests through
//! `tower::ServiceExt::oneshot`, the CSRF cookie kept like a browser
//! keeps it), and the queues the cases run on.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Request, StatusCode};
use futures::StreamExt;
use mq::testing::MemoryBackend;
use mq::testing::backend::{JobClaimParams, JobFailParams, JobFailure};
use mq::{Backend, IntoBackend, JobBuilder, Uuid};
use mq_test_db::TestDb;
use tower::ServiceExt;

/// The queue a case runs on, and what keeps it alive.
pub struct Queue {
    pub backend: Arc<dyn Backend>,
    /// The pool, on PostgreSQL.
    pub pool: Option<sqlx::PgPool>,
    _db: Option<TestDb>,
}

impl Queue {
    /// An in-memory queue.
    pub async fn memory() -> Self {
        let memory = MemoryBackend::new();
        Self {
            backend: (&memory).into_backend(),
            pool: None,
            _db: None,
        }
    }

    /// A queue in a fresh PostgreSQL database on `DATABASE_URL`'s server.
    pub async fn postgres() -> Self {
        let db = TestDb::create();
        let pool = sqlx::PgPool::connect(db.url()).await.expect("connects");
        mq::migrate(&pool).await.expect("migrates");
        Self {
            backend: (&pool).into_backend(),
            pool: Some(pool),
            _db: Some(db),
        }
    }

    /// Spawns a job.
    pub async fn spawn(&self, job: &JobBuilder) -> Uuid {
        job.spawn(&*self.backend).await.expect("spawned")
    }

    /// Spawns a job (with no retries) on a channel of its own, and fails
    /// it with `error`: it is then failed for good, with that error.
    pub async fn spawn_failed(&self, job: &mut JobBuilder, error: &str) -> Uuid {
        let id = self.spawn(job.set_retries(0)).await;
        let info = mq::admin::get(&*self.backend, id).await.unwrap().unwrap();
        let claimed = self
            .backend
            .job_claim(JobClaimParams {
                channel_names: Some(&[info.channel_name]),
                limit: 1000,
                lease: Duration::from_secs(60),
                after: None,
                targets: None,
                now: None,
            })
            .await
            .expect("claims");
        let job = claimed
            .iter()
            .find(|job| job.id == id)
            .expect("claimed the job: give it a channel of its own");
        self.backend
            .job_fail(JobFailParams {
                failures: &[JobFailure {
                    lease: job.lease(),
                    retry_delay: Duration::ZERO,
                    error,
                }],
                now: None,
            })
            .await
            .expect("fails");
        assert_eq!(self.state(id).await, Some(mq::JobState::Failed));
        id
    }

    /// A job's state, `None` if it is gone.
    pub async fn state(&self, id: Uuid) -> Option<mq::JobState> {
        mq::admin::get(&*self.backend, id)
            .await
            .unwrap()
            .map(|job| job.state)
    }

    /// Whether a channel is paused.
    pub async fn is_paused(&self, channel: &str) -> bool {
        mq::admin::stats(&*self.backend)
            .await
            .unwrap()
            .is_paused(channel)
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect goes.
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .expect("a redirect")
            .to_str()
            .unwrap()
    }

    /// The `href` of the link with this `class`, unescaped.
    pub fn link(&self, class: &str) -> Option<String> {
        let marker = format!("class=\"{class}\" href=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = start + self.body[start..].find('"')?;
        Some(self.body[start..end].replace("&amp;", "&"))
    }

    /// Whether the page offers any action.
    pub fn has_forms(&self) -> bool {
        self.body.contains("method=\"post\"")
    }
}

/// The dashboard's router and the cookie a browser would keep.
pub struct Client {
    router: Router,
    /// The CSRF token from the cookie set so far.
    pub token: Option<String>,
}

pub const COOKIE_NAME: &str = "mq_dashboard_csrf";

impl Client {
    pub fn new(router: Router) -> Self {
        Self {
            router,
            token: None,
        }
    }

    /// Sends a request as it is, and keeps a CSRF cookie it is given.
    pub async fn send(&mut self, request: Request<Body>) -> Page {
        let response = self.router.clone().oneshot(request).await.unwrap();
        for cookie in response.headers().get_all(SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            if let Some(token) = cookie
                .strip_prefix(COOKIE_NAME)
                .and_then(|rest| rest.strip_prefix('='))
                .and_then(|rest| rest.split(';').next())
            {
                self.token = Some(token.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    /// `GET uri`, with the cookie.
    pub async fn get(&mut self, uri: &str) -> Page {
        let mut request = Request::get(uri);
        if let Some(token) = &self.token {
            request = request.header(COOKIE, format!("{COOKIE_NAME}={token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// `GET uri`, which must answer 200.
    pub async fn page(&mut self, uri: &str) -> Page {
        let page = self.get(uri).await;
        assert_eq!(page.status, StatusCode::OK, "GET {uri}: {}", page.body);
        page
    }

    /// A form POST as the dashboard's own pages send it: the cookie, and
    /// the token in the form.
    pub async fn post(&mut self, uri: &str, fields: &[(&str, &str)]) -> Page {
        let token = self
            .token
            .clone()
            .expect("GET a page first, for the cookie");
        self.send(Form::new(uri, fields).cookie(&token).token(&token).build())
            .await
    }

    /// Reads the first live-update event of `uri` (`/live` under its
    /// prefix) and returns its data: the overview's numbers, which exist
    /// from then on.
    pub async fn live(&mut self, uri: &str) -> String {
        self.open_live(uri).await.next().await
    }

    /// Connects to the live updates at `uri`.
    pub async fn open_live(&mut self, uri: &str) -> Live {
        let response = self
            .router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(CONTENT_TYPE).unwrap(),
            "text/event-stream"
        );
        Live {
            stream: response.into_body().into_data_stream(),
            text: String::new(),
        }
    }
}

/// A live-update connection.
pub struct Live {
    stream: axum::body::BodyDataStream,
    text: String,
}

impl Live {
    /// The data of the next `overview` event (waiting at most 30 s).
    pub async fn next(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                while let Some(end) = self.text.find("\n\n") {
                    let event: String = self.text.drain(..end + 2).collect();
                    if event.lines().any(|line| line == "event: overview") {
                        let data: Vec<&str> = event
                            .lines()
                            .filter_map(|line| line.strip_prefix("data:"))
                            .map(|data| data.strip_prefix(' ').unwrap_or(data))
                            .collect();
                        return data.join("\n");
                    }
                }
                let chunk = self
                    .stream
                    .next()
                    .await
                    .expect("the stream goes on")
                    .unwrap();
                self.text.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .expect("a live update within 30 s")
    }
}

/// A form POST, built up.
pub struct Form {
    builder: axum::http::request::Builder,
    fields: Vec<(String, String)>,
}

impl Form {
    /// A POST of these fields, without cookie or token.
    pub fn new(uri: &str, fields: &[(&str, &str)]) -> Self {
        Self {
            builder: Request::post(uri).header(CONTENT_TYPE, "application/x-www-form-urlencoded"),
            fields: fields
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    /// With the CSRF cookie `token` (beside another cookie).
    pub fn cookie(self, token: &str) -> Self {
        self.header(COOKIE.as_str(), &format!("other=1; {COOKIE_NAME}={token}"))
    }

    /// With the CSRF token `token` in the form.
    pub fn token(mut self, token: &str) -> Self {
        self.fields.push(("csrf".to_owned(), token.to_owned()));
        self
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// The request.
    pub fn build(self) -> Request<Body> {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.extend_pairs(&self.fields);
        self.builder.body(Body::from(body.finish())).unwrap()
    }
}
