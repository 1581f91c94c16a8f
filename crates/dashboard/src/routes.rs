//! The routes: every one a GET (HEAD too), each answer rendered once per view
//! ([`crate::view::View::rendered`]) and served with the same security headers.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::pages;
use crate::session::Sessions;
use crate::view::{Cache, Rendered, View};
use crate::web;

/// What every request shares: the cache of the installation's state, the sessions, and
/// the lab's settings for booking on the web.
#[derive(Debug)]
pub struct App {
    pub cache: Cache,
    pub sessions: Sessions,
    pub web: web::Settings,
    /// Sign-ins and sign-ups checking a password or code now ([`web::checking_credentials`]).
    pub credential_checks: tokio::sync::Semaphore,
    /// The web's changes to the schedule, one at a time in arrival order
    /// ([`web::changing`]).
    pub changes: tokio::sync::Mutex<()>,
}

impl App {
    /// The app of `root` with the settings of its `cfg/dashboard.yaml`.
    pub fn new(root: hostinfo::Root) -> Result<Self, hostinfo::Error> {
        let settings = web::Settings::of(&root.load_dashboard_config()?);
        Ok(Self::with(root, settings))
    }

    pub fn with(root: hostinfo::Root, web: web::Settings) -> Self {
        App {
            cache: Cache::with_booking(root, web.enabled),
            sessions: Sessions::default(),
            web,
            credential_checks: tokio::sync::Semaphore::new(web::CONCURRENT_CREDENTIAL_CHECKS),
            changes: tokio::sync::Mutex::new(()),
        }
    }
}

pub const HTML: &str = "text/html; charset=utf-8";
pub const JSON: &str = "application/json";
pub const METRICS: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const CSS: &str = "text/css; charset=utf-8";

/// No script, no frame, no outside resource: the pages need none.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes over `app`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(timeline))
        .route("/signin", get(web::signin_page).post(web::signin_post))
        .route("/signup", get(web::signup_page).post(web::signup_post))
        .route("/signout", post(web::signout_post))
        .route("/book", get(web::book_page).post(web::book_post))
        .route("/my", get(web::my_page).post(web::my_post))
        .route(
            "/api/v1/session",
            post(web::api_session_create).delete(web::api_session_delete),
        )
        .route(
            "/api/v1/bookings",
            get(web::api_bookings_get)
                .post(web::api_bookings_post)
                .delete(web::api_bookings_delete)
                .patch(web::api_bookings_patch),
        )
        .route("/now", get(now))
        .route("/waitlist", get(waitlist))
        .route("/problems", get(problems))
        .route("/usage", get(usage_page))
        .route("/style.css", get(style))
        .route("/api/v1/state", get(state))
        .route("/api/v1/usage", get(usage_api))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        // No route takes more than a small JSON or form body, sent within the bound.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(within_bound))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

/// The longest a request may take, its body included: a client that sends a body a byte
/// a minute is answered 408 and its connection closed.
pub const REQUEST_BOUND: std::time::Duration = std::time::Duration::from_secs(30);

async fn within_bound(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_BOUND, next.run(request)).await {
        Ok(r) => r,
        Err(_) => {
            let mut r = respond(
                StatusCode::REQUEST_TIMEOUT,
                HTML,
                pages::error_page("Too slow", "The request took too long to arrive.").into(),
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
    }
}

/// The headers of every answer, the router's own (a 405) included.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if h.get(header::CONTENT_TYPE).is_some_and(|t| t == HTML) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    r
}

/// An answer of `content_type` (the security headers are added to every answer by
/// the router's layer).
pub fn respond(status: StatusCode, content_type: &'static str, body: bytes::Bytes) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn ok(r: Rendered) -> Response {
    respond(StatusCode::OK, r.content_type, r.body)
}

/// Reads the view off the async workers: a reading waits on the shared lock while a
/// booking holds the exclusive one.
pub async fn with_view_app(
    app: Arc<App>,
    f: impl FnOnce(&View) -> Response + Send + 'static,
) -> Response {
    let answer = tokio::task::spawn_blocking(move || match app.cache.view() {
        Ok(view) => f(&view),
        Err(e) => unavailable(&e),
    })
    .await;
    answer.unwrap_or_else(|_| unavailable("the dashboard failed to read the installation"))
}

fn unavailable(why: &str) -> Response {
    respond(
        StatusCode::SERVICE_UNAVAILABLE,
        HTML,
        pages::error_page("Cannot read the installation", why).into(),
    )
}

#[derive(Debug, Deserialize)]
pub struct PickQuery {
    pick: Option<String>,
}

/// The timeline: the same page for everyone, but for a signed-in student, whose bookings
/// it marks and whose free slots pick a range to book (rendered for them alone).
async fn timeline(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Query<PickQuery>,
) -> Response {
    if let Some((_, me)) = web::signed_in(&app, &headers) {
        return web::timeline_for(app, me, q.0.pick).await;
    }
    with_view_app(app, |v| {
        ok(v.rendered("/", |v| html(pages::timeline::page(v))))
    })
    .await
}

async fn now(State(app): State<Arc<App>>) -> Response {
    with_view_app(app, |v| {
        ok(v.rendered("/now", |v| html(pages::now::page(v))))
    })
    .await
}

async fn waitlist(State(app): State<Arc<App>>) -> Response {
    with_view_app(app, |v| {
        ok(v.rendered("/waitlist", |v| html(pages::lists::waitlist(v))))
    })
    .await
}

async fn problems(State(app): State<Arc<App>>) -> Response {
    with_view_app(app, |v| {
        ok(v.rendered("/problems", |v| html(pages::lists::problems(v))))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct DaysQuery {
    days: Option<String>,
}

/// `days` as a window of 1 to 90 days (30 when left out), or why not.
fn days_of(q: &DaysQuery) -> Result<u32, String> {
    match q.days.as_deref() {
        None | Some("") => Ok(30),
        Some(d) => d
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=crate::view::USAGE_DAYS).contains(d))
            .ok_or_else(|| {
                format!(
                    "days must be a whole number from 1 to {}",
                    crate::view::USAGE_DAYS
                )
            }),
    }
}

async fn usage_page(State(app): State<Arc<App>>, q: Query<DaysQuery>) -> Response {
    let days = match days_of(&q) {
        Ok(d) if checker::metrics::WINDOWS.contains(&d) => d,
        Ok(_) | Err(_) => {
            return respond(
                StatusCode::BAD_REQUEST,
                HTML,
                pages::error_page("Bad request", "days must be 7, 30 or 90").into(),
            )
        }
    };
    with_view_app(app, move |v| {
        ok(v.rendered(&format!("/usage?days={days}"), |v| {
            html(pages::usage::page(v, days))
        }))
    })
    .await
}

async fn style() -> Response {
    respond(
        StatusCode::OK,
        CSS,
        bytes::Bytes::from_static(pages::STYLE.as_bytes()),
    )
}

async fn state(State(app): State<Arc<App>>) -> Response {
    with_view_app(
        app,
        |v| ok(v.rendered("/api/v1/state", |v| json(&v.report))),
    )
    .await
}

async fn usage_api(State(app): State<Arc<App>>, q: Query<DaysQuery>) -> Response {
    let days = match days_of(&q) {
        Ok(d) => d,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    with_view_app(app, move |v| {
        ok(v.rendered(&format!("/api/v1/usage?days={days}"), |v| {
            json(&v.usage_report(days))
        }))
    })
    .await
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    with_view_app(app, |v| {
        ok(v.rendered("/metrics", |v| Rendered {
            content_type: METRICS,
            body: kept(
                checker::metrics::render(&checker::metrics::Input {
                    report: &v.report,
                    latest: &v.latest,
                    usage: &v.usage,
                    last_tick: v.last_tick,
                    last_sample_unix: v.last_sample_unix,
                })
                .into_bytes(),
            ),
        }))
    })
    .await
}

async fn not_found() -> Response {
    respond(
        StatusCode::NOT_FOUND,
        HTML,
        pages::error_page("Not found", "There is no such page here.").into(),
    )
}

/// A body kept for the view's life: no spare capacity kept with it.
fn kept(mut bytes: Vec<u8>) -> bytes::Bytes {
    bytes.shrink_to_fit();
    bytes.into()
}

fn html(markup: maud::Markup) -> Rendered {
    Rendered {
        content_type: HTML,
        body: kept(markup.into_string().into_bytes()),
    }
}

/// Counts what is written to it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON of `value`, written once into a buffer of its exact size: the state document
/// is megabytes at 10,000 bookings, and a growing buffer would briefly hold twice that.
fn json(value: &impl serde::Serialize) -> Rendered {
    let mut size = Counter(0);
    let _ = serde_json::to_writer(&mut size, value);
    let mut body = Vec::with_capacity(size.0);
    let _ = serde_json::to_writer(&mut body, value);
    Rendered {
        content_type: JSON,
        body: kept(body),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    respond(
        status,
        JSON,
        serde_json::to_vec(&serde_json::json!({ "error": message }))
            .unwrap_or_default()
            .into(),
    )
}
