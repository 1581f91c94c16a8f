//! Booking from the browser (docs/dashboard.md, Booking from the browser): sign-in with the
//! booking password, sessions, the CSRF and origin checks, and the handlers that book,
//! cancel, shorten and extend — every one through `booking_ops`, the library `booking`
//! itself books through, so the web has no rule of its own.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use booking_ops::ops::{self, Booked, LoginState, Typed};
use booking_ops::Error as OpsError;
use hostinfo::config::Secret;
use hostinfo::schedule::{format_time, Row};
use serde::{Deserialize, Serialize};

use crate::pages::account;
use crate::routes::{self, App, HTML, JSON};
use crate::session::{self, Session, COOKIE};

/// The lab's settings for the web surface, read from `cfg/dashboard.yaml` at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Booking on the web is on (`web_booking`, default true).
    pub enabled: bool,
    /// Behind TLS: the cookie is `Secure`.
    pub behind_tls: bool,
    /// Who students ssh to.
    pub ssh_host: String,
}

impl Settings {
    pub fn of(config: &hostinfo::dashboard_config::DashboardConfig) -> Self {
        Settings {
            enabled: config.web_booking(),
            behind_tls: config.behind_tls,
            ssh_host: config
                .ssh_host
                .clone()
                .or_else(hostinfo::machine::host_name)
                .unwrap_or_else(|| "localhost".into()),
        }
    }
}

/// A refused web request: its status and a message a person can read.
#[derive(Debug)]
pub struct Refused {
    pub status: StatusCode,
    pub message: String,
    /// For a capacity refusal: the window that fits, and whether the request may wait.
    pub suggested: Option<(String, String)>,
    /// On a cluster, the node the suggested window is on.
    pub suggested_node: Option<String>,
    pub may_wait: bool,
}

impl Refused {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refused {
            status,
            message: message.into(),
            suggested: None,
            suggested_node: None,
            may_wait: false,
        }
    }
}

/// What a booking operation's error means on the web.
pub fn refused(e: OpsError) -> Refused {
    let message = e.to_string();
    let status = match &e {
        OpsError::Refused(_) | OpsError::NotExtended { .. } | OpsError::ResetPending(_) => {
            StatusCode::CONFLICT
        }
        OpsError::WrongPassword { .. } | OpsError::WrongCode { .. } => StatusCode::UNAUTHORIZED,
        OpsError::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
        OpsError::Nothing(_) => StatusCode::NOT_FOUND,
        OpsError::Files(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let suggested = match &e {
        OpsError::Refused(r) => r
            .suggestion()
            .map(|w| (format_time(w.start), format_time(w.end))),
        _ => None,
    };
    let suggested_node = match &e {
        OpsError::Refused(r) => r.suggested_node().map(str::to_string),
        _ => None,
    };
    Refused {
        status,
        message,
        suggested,
        suggested_node,
        may_wait: matches!(&e, OpsError::Refused(r) if r.is_capacity()),
    }
}

/// The session token the request's cookie carries.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// The signed-in user of a request, if any (an unknown, forged or expired token is none).
pub fn signed_in(app: &App, headers: &HeaderMap) -> Option<(String, Session)> {
    let token = cookie_token(headers)?;
    let session = app.sessions.get(token)?;
    Some((token.to_string(), session))
}

/// Refuses a state-changing request that another site's page sent: its `Origin`, when
/// given, must be this site, and a browser's `Sec-Fetch-Site` must not say cross-site.
pub fn same_origin(app: &App, headers: &HeaderMap) -> Result<(), Refused> {
    let other = || {
        Refused::new(
            StatusCode::FORBIDDEN,
            "refused: this request came from another site's page",
        )
    };
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return Err(other());
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let scheme = if app.web.behind_tls { "https" } else { "http" };
    let ours = format!("{scheme}://{host}");
    match origin.to_str() {
        Ok(o) if !host.is_empty() && o == ours => Ok(()),
        _ => Err(other()),
    }
}

/// The checks of every state-changing request of a signed-in user: booking on, same
/// origin, a live session, and its CSRF token.
pub fn guard(app: &App, headers: &HeaderMap, csrf: Option<&str>) -> Result<Session, Refused> {
    enabled(app)?;
    same_origin(app, headers)?;
    let Some((_, session)) = signed_in(app, headers) else {
        return Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            "sign in first (the session is missing, expired or not one of ours)",
        ));
    };
    let given = csrf.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
    match given {
        Some(t) if session::same_secret(t, &session.csrf) => Ok(session),
        _ => Err(Refused::new(
            StatusCode::FORBIDDEN,
            "refused: the request lacks this session's CSRF token",
        )),
    }
}

pub fn enabled(app: &App) -> Result<(), Refused> {
    if app.web.enabled {
        Ok(())
    } else {
        Err(Refused::new(
            StatusCode::FORBIDDEN,
            "booking on the web is turned off here (the dashboard is read-only); book with `booking` over ssh",
        ))
    }
}

/// The `Set-Cookie` value of a new session (or, with `None`, of signing out).
pub fn cookie(app: &App, token: Option<&str>) -> HeaderValue {
    let secure = if app.web.behind_tls { "; Secure" } else { "" };
    let value = match token {
        Some(t) => format!(
            "{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            session::LIFETIME.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Runs a booking operation off the async workers (it takes the exclusive lock, and a
/// wrong password waits before its answer), then lets the pages see the change at once.
pub async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, Refused> + Send + 'static,
) -> Result<T, Refused> {
    let app2 = app.clone();
    let out = tokio::task::spawn_blocking(move || f(&app2))
        .await
        .unwrap_or_else(|_| {
            Err(Refused::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the operation failed",
            ))
        });
    app.cache.invalidate();
    out
}

/// How many password or code checks run at once. A wrong one waits before its answer
/// (the lock-out's growing delay, the CLI's too); the rest of the server, pages included,
/// must not wait behind a flood of them.
pub const CONCURRENT_CREDENTIAL_CHECKS: usize = 4;

/// The answer to an id that cannot sign in (not the lab's, or not signed up), and to a
/// wrong password: one wording, and no sooner than a wrong password's first answer.
pub const NOT_SIGNED_IN: &str =
    "the user id or the password is wrong (first time here? sign up first)";

/// [`blocking`] for a sign-in or sign-up: one of [`CONCURRENT_CREDENTIAL_CHECKS`] at a time,
/// the others waiting without holding a thread.
pub async fn checking_credentials<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, Refused> + Send + 'static,
) -> Result<T, Refused> {
    let Ok(_permit) = app.credential_checks.acquire().await else {
        return Err(Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the dashboard is stopping",
        ));
    };
    let began = std::time::Instant::now();
    let out = blocking(app, f).await;
    if let Err(r) = &out {
        if r.status == StatusCode::UNAUTHORIZED {
            // An id that is not there answers no faster than a wrong password does.
            let least = hostinfo::auth::Policy::from_env().delay_unit;
            if let Some(rest) = least.checked_sub(began.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
    }
    out
}

/// [`blocking`] for an operation that changes the schedule: the web's changes take their
/// turn in the order they arrived (a fair queue in the server) before they wait for
/// `jobs/.lock`, so students booking at the same moment are served in order rather than
/// racing each other for the file lock.
pub async fn changing<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, Refused> + Send + 'static,
) -> Result<T, Refused> {
    let _turn = app.changes.lock().await;
    blocking(app, f).await
}

// ---- JSON API -------------------------------------------------------------------------

/// A booking as the API shows it to its owner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BookingJson {
    pub start: String,
    pub end: String,
    pub cpus: f64,
    pub memory: u32,
    pub gpus: Vec<u32>,
    pub forward_port: u16,
    /// `waiting`, `running` or `ended` at the time of the answer.
    pub state: String,
    /// The line that logs in to the booking's container.
    pub ssh: String,
    /// The cluster node it runs on; left out on a single host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// On a cluster, the GPU ids Slurm bound once the booking runs (`gpus` are then its
    /// places in the node's plan); left out before, and on a single host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_gpus: Option<Vec<u32>>,
}

/// The nodes of `cfg/cluster.yaml` in its order, as the pages last read it; `None` on a
/// single host.
pub fn cluster_nodes(app: &App) -> Option<Vec<String>> {
    let view = app.cache.view().ok()?;
    let cluster = view.config.cluster.as_ref()?;
    Some(cluster.node_names().map(str::to_string).collect())
}

/// The GPU ids Slurm bound to `row`'s job (cluster mode), from the report the pages show.
pub fn bound_gpus(app: &App, row: &Row) -> Option<Vec<u32>> {
    let view = app.cache.view().ok()?;
    bound_in(&view.report, row)
}

/// [`bound_gpus`] from `report`: the row of the same user, start and node.
pub fn bound_in(report: &checker::Report, row: &Row) -> Option<Vec<u32>> {
    let start = format_time(row.start);
    report
        .rows
        .iter()
        .find(|s| s.user_id == row.user_id && s.start == start && s.node == row.node)
        .and_then(|s| s.bound_gpus.clone())
}

pub fn booking_json(app: &App, row: &Row, now: chrono::NaiveDateTime) -> BookingJson {
    BookingJson {
        node: row.node.clone(),
        bound_gpus: bound_gpus(app, row),
        start: format_time(row.start),
        end: format_time(row.end),
        cpus: row.cpus,
        memory: row.memory,
        gpus: row.gpus.ids().to_vec(),
        forward_port: row.forward_port,
        state: if row.end <= now {
            "ended"
        } else if row.start <= now {
            "running"
        } else {
            "waiting"
        }
        .into(),
        ssh: ssh_line(app, row.forward_port),
    }
}

pub fn ssh_line(app: &App, port: u16) -> String {
    format!("ssh -p {port} root@{}", app.web.ssh_host)
}

fn json_answer(status: StatusCode, value: &impl Serialize) -> Response {
    routes::respond(
        status,
        JSON,
        serde_json::to_vec(value).unwrap_or_default().into(),
    )
}

fn json_refused(r: Refused) -> Response {
    let mut body = serde_json::json!({ "error": r.message });
    if let Some((start, end)) = &r.suggested {
        body["suggested"] = serde_json::json!({ "start": start, "end": end });
        if let Some(node) = &r.suggested_node {
            body["suggested"]["node"] = node.as_str().into();
        }
    }
    if r.status == StatusCode::CONFLICT {
        body["may_wait"] = r.may_wait.into();
    }
    json_answer(r.status, &body)
}

/// A JSON body of type `T`, or a 422 saying what is wrong with it.
fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refused> {
    if body.len() > 16 * 1024 {
        return Err(Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is over 16 KiB",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        Refused::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the body is not the JSON this route takes: {field}{}",
                e.inner()
            ),
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub user: String,
    pub password: String,
}

/// Checks the password through the CLI's own path (one counter, one lock-out) and opens a
/// session.
pub fn sign_in(app: &App, user: &str, password: &str) -> Result<(String, Session), Refused> {
    enabled(app)?;
    let root = app.cache.root();
    let config = root.load_config().map_err(|e| refused(e.into()))?;
    // An id that is not the lab's gets the answer a wrong password gets: the sign-in
    // tells nobody which ids exist.
    if ops::check_user(&config, user).is_err() {
        return Err(Refused::new(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN));
    }
    match ops::login_state_in(root, &config, user).map_err(refused)? {
        LoginState::Known => {}
        LoginState::ResetPending => {
            return Err(refused(OpsError::ResetPending(user.to_string())));
        }
        LoginState::New { .. } => {
            return Err(Refused::new(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN));
        }
    }
    ops::authenticate_in(root, &config, user, &Secret::new(password)).map_err(|e| match e {
        OpsError::WrongPassword {
            locked_until: None, ..
        } => Refused::new(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN),
        e => refused(e),
    })?;
    app.sessions.create(user).ok_or_else(|| {
        Refused::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness for a session token",
        )
    })
}

pub async fn api_session_create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    if let Err(r) = same_origin(&app, &headers) {
        return json_refused(r);
    }
    let form: SignIn = match parse_json(&body) {
        Ok(f) => f,
        Err(r) => return json_refused(r),
    };
    match checking_credentials(&app, move |app| sign_in(app, &form.user, &form.password)).await {
        Ok((token, session)) => {
            let mut r = json_answer(
                StatusCode::OK,
                &serde_json::json!({ "user": session.user, "csrf": session.csrf }),
            );
            r.headers_mut()
                .insert(header::SET_COOKIE, cookie(&app, Some(&token)));
            r
        }
        Err(r) => json_refused(r),
    }
}

pub async fn api_session_delete(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match guard(&app, &headers, None) {
        Ok(_) => {
            if let Some(token) = cookie_token(&headers) {
                app.sessions.end(token);
            }
            let mut r = StatusCode::NO_CONTENT.into_response();
            r.headers_mut()
                .insert(header::SET_COOKIE, cookie(&app, None));
            r
        }
        Err(r) => json_refused(r),
    }
}

/// The user's own bookings (live rows) and waitlist entries, read fresh.
pub fn own(app: &App, user: &str) -> Result<(Vec<Row>, Vec<hostinfo::waitlist::Entry>), Refused> {
    let root = app.cache.root();
    let files = |e: hostinfo::Error| refused(e.into());
    let lock = root.lock_shared().map_err(files)?;
    let mut rows: Vec<Row> = checker::snapshot::read_rows(root, &lock)
        .map_err(files)?
        .into_iter()
        .map(|t| t.row)
        .filter(|r| r.user_id == user)
        .collect();
    let mut entries = root.read_waitlist(&lock).map_err(files)?;
    entries.retain(|e| e.user_id == user);
    rows.sort_by_key(|r| r.start);
    Ok((rows, entries))
}

/// Now on the installation's clock, in the zone of the configuration the pages were last
/// built from (read again only when it changes).
pub fn now(app: &App) -> chrono::NaiveDateTime {
    app.cache
        .view()
        .ok()
        .and_then(|v| v.config.clock().ok())
        .map_or_else(|| chrono::Local::now().naive_local(), |c| c.now())
}

pub async fn api_bookings_get(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some((_, session)) = signed_in(&app, &headers) else {
        return json_refused(Refused::new(StatusCode::UNAUTHORIZED, "sign in first"));
    };
    let user = session.user.clone();
    match blocking(&app, move |app| {
        let (rows, entries) = own(app, &user)?;
        let now = now(app);
        Ok(serde_json::json!({
            "user": user,
            "bookings": rows.iter().map(|r| booking_json(app, r, now)).collect::<Vec<_>>(),
            "waitlist": entries.iter().map(waitlist_json).collect::<Vec<_>>(),
        }))
    })
    .await
    {
        Ok(v) => json_answer(StatusCode::OK, &v),
        Err(r) => json_refused(r),
    }
}

pub fn waitlist_json(e: &hostinfo::waitlist::Entry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "cpus": e.cpus,
        "memory": e.memory,
        "gpus": e.gpus,
        "minutes": e.minutes,
        "earliest_start": format_time(e.earliest_start),
        "latest_start": format_time(e.latest_start),
    })
}

/// A booking request as the API and the form take it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookRequest {
    pub cpus: f64,
    pub memory: u32,
    #[serde(default)]
    pub gpus: u32,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub wait: bool,
    #[serde(default)]
    pub latest_start: Option<String>,
    /// On a cluster: a node's name or `any` (left out: any). Refused on a single host.
    #[serde(default)]
    pub node: Option<String>,
}

/// Books `req` for `user` exactly as `booking --yes` would.
pub fn book(app: &App, user: &str, req: &BookRequest) -> Result<Booked, Refused> {
    if !(req.cpus.is_finite() && req.cpus > 0.0) {
        return Err(Refused::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cpus must be a number above 0",
        ));
    }
    let root = app.cache.root();
    let config = root.load_config().map_err(|e| refused(e.into()))?;
    let (booking, latest) = ops::parse_typed(
        &config,
        &Typed {
            user_id: user.to_string(),
            cpus: req.cpus,
            memory: req.memory,
            gpus: req.gpus,
            start: &req.start,
            end: &req.end,
            latest_start: req.latest_start.as_deref(),
            wait: req.wait,
            forward_port: None,
            image: None,
            extra_command: None,
            node: req.node.as_deref(),
        },
    )
    .map_err(refused)?;
    ops::book_or_wait_in(root, &config, &booking, latest).map_err(refused)
}

pub async fn api_bookings_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let session = match guard(&app, &headers, None) {
        Ok(s) => s,
        Err(r) => return json_refused(r),
    };
    let req: BookRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return json_refused(r),
    };
    let user = session.user;
    match changing(&app, move |app| {
        let done = book(app, &user, &req)?;
        Ok((done, now(app)))
    })
    .await
    {
        Ok((Booked::Row(row), now)) => json_answer(
            StatusCode::CREATED,
            &serde_json::json!({ "booking": booking_json(&app, &row, now), "gpus": row.gpus.ids() }),
        ),
        Ok((Booked::Waiting(entry), _)) => json_answer(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "waitlist": waitlist_json(&entry) }),
        ),
        Err(r) => json_refused(r),
    }
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    pub start: Option<String>,
}

fn start_of(q: &StartQuery) -> Result<String, Refused> {
    q.start
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            Refused::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "name the booking by its start: ?start=YYYY-MM-DD HH:MM",
            )
        })
}

pub async fn api_bookings_delete(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Query<StartQuery>,
) -> Response {
    let session = match guard(&app, &headers, None) {
        Ok(s) => s,
        Err(r) => return json_refused(r),
    };
    let start = match start_of(&q) {
        Ok(s) => s,
        Err(r) => return json_refused(r),
    };
    let user = session.user;
    match changing(&app, move |app| {
        let row = ops::cancel(app.cache.root(), &user, &start).map_err(refused)?;
        Ok((row, now(app)))
    })
    .await
    {
        Ok((row, now)) => json_answer(
            StatusCode::OK,
            &serde_json::json!({ "cancelled": booking_json(&app, &row, now) }),
        ),
        Err(r) => json_refused(r),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnd {
    pub end: String,
}

pub async fn api_bookings_patch(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Query<StartQuery>,
    body: bytes::Bytes,
) -> Response {
    let session = match guard(&app, &headers, None) {
        Ok(s) => s,
        Err(r) => return json_refused(r),
    };
    let start = match start_of(&q) {
        Ok(s) => s,
        Err(r) => return json_refused(r),
    };
    let change: NewEnd = match parse_json(&body) {
        Ok(c) => c,
        Err(r) => return json_refused(r),
    };
    let user = session.user;
    match changing(&app, move |app| {
        let (_, new) =
            ops::end_at(app.cache.root(), &user, Some(&start), &change.end).map_err(refused)?;
        Ok((new, now(app)))
    })
    .await
    {
        Ok((row, now)) => json_answer(
            StatusCode::OK,
            &serde_json::json!({ "booking": booking_json(&app, &row, now) }),
        ),
        Err(r) => json_refused(r),
    }
}

// ---- Pages ----------------------------------------------------------------------------

fn page(status: StatusCode, markup: maud::Markup) -> Response {
    routes::respond(status, HTML, markup.into_string().into())
}

/// [`guard`] for a form: a refusal is a page saying why under `title`.
#[allow(clippy::result_large_err)] // the refusal is the answer itself, made once
fn guard_form(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
    title: &str,
) -> Result<Session, Response> {
    guard(app, headers, Some(csrf))
        .map_err(|r| page(r.status, account::message(app, None, title, &r.message)))
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    pub user: String,
    pub password: String,
}

pub async fn signin_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let me = signed_in(&app, &headers).map(|(_, s)| s);
    page(StatusCode::OK, account::signin(&app, me.as_ref(), None, ""))
}

pub async fn signin_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: axum::extract::Form<SignInForm>,
) -> Response {
    if let Err(r) = same_origin(&app, &headers) {
        return page(r.status, account::signin(&app, None, Some(&r.message), ""));
    }
    let form = form.0;
    let user = form.user.clone();
    match checking_credentials(&app, move |app| sign_in(app, &form.user, &form.password)).await {
        Ok((token, _)) => {
            let mut r = see_other("/my");
            r.headers_mut()
                .insert(header::SET_COOKIE, cookie(&app, Some(&token)));
            r
        }
        Err(r) => page(
            r.status,
            account::signin(&app, None, Some(&r.message), &user),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct SignUpForm {
    pub user: String,
    pub password: String,
    pub again: String,
    #[serde(default)]
    pub code: String,
}

/// Signs up as `booking` does the first time (or sets a new password after the admin's
/// reset): the allow list, the lab's sign-up code when it asks for one, the password
/// rules; then signs in.
pub fn sign_up(app: &App, form: &SignUpForm) -> Result<(String, Session), Refused> {
    enabled(app)?;
    let root = app.cache.root();
    let config = root.load_config().map_err(|e| refused(e.into()))?;
    ops::check_user(&config, &form.user).map_err(refused)?;
    let state = ops::login_state_in(root, &config, &form.user).map_err(refused)?;
    let code_required = match state {
        LoginState::Known => {
            return Err(Refused::new(
                StatusCode::CONFLICT,
                format!("`{}` has signed up already: sign in", form.user),
            ))
        }
        LoginState::ResetPending => true,
        LoginState::New { code_required } => code_required,
    };
    if form.password != form.again {
        return Err(Refused::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the two passwords differ",
        ));
    }
    let code = form.code.trim();
    if code_required && code.is_empty() {
        return Err(Refused::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this lab needs the sign-up code the admin gave you",
        ));
    }
    let code = (!code.is_empty()).then(|| Secret::new(code));
    ops::sign_up(
        root,
        &form.user,
        Secret::new(form.password.clone()),
        code.as_ref(),
    )
    .map_err(refused)?;
    app.sessions.create(&form.user).ok_or_else(|| {
        Refused::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness for a session token",
        )
    })
}

pub async fn signup_page(State(app): State<Arc<App>>) -> Response {
    page(StatusCode::OK, account::signup(&app, None, ""))
}

pub async fn signup_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: axum::extract::Form<SignUpForm>,
) -> Response {
    if let Err(r) = same_origin(&app, &headers) {
        return page(r.status, account::signup(&app, Some(&r.message), ""));
    }
    let form = form.0;
    let user = form.user.clone();
    match checking_credentials(&app, move |app| sign_up(app, &form)).await {
        Ok((token, _)) => {
            let mut r = see_other("/my?done=signed-up");
            r.headers_mut()
                .insert(header::SET_COOKIE, cookie(&app, Some(&token)));
            r
        }
        Err(r) => page(r.status, account::signup(&app, Some(&r.message), &user)),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn signout_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: axum::extract::Form<CsrfForm>,
) -> Response {
    if let Err(answer) = guard_form(&app, &headers, &form.csrf, "Not signed out") {
        return answer;
    }
    if let Some(token) = cookie_token(&headers) {
        app.sessions.end(token);
    }
    let mut r = see_other("/");
    r.headers_mut()
        .insert(header::SET_COOKIE, cookie(&app, None));
    r
}

/// The booking form, filled from the query (a range picked on the timeline).
#[derive(Debug, Default, Deserialize)]
pub struct BookQuery {
    pub cpus: Option<String>,
    pub memory: Option<String>,
    pub gpus: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// On a cluster: the node chosen (empty or `any`: any).
    #[serde(default)]
    pub node: Option<String>,
}

pub async fn book_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Query<BookQuery>,
) -> Response {
    let Some((_, me)) = signed_in(&app, &headers) else {
        return see_other("/signin");
    };
    if let Err(r) = enabled(&app) {
        return page(
            r.status,
            account::message(&app, Some(&me), "Booking is off", &r.message),
        );
    }
    page(StatusCode::OK, account::book_form(&app, &me, &q.0, None))
}

#[derive(Debug, Deserialize)]
pub struct BookForm {
    pub csrf: String,
    pub cpus: String,
    pub memory: String,
    #[serde(default)]
    pub gpus: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub wait: Option<String>,
    #[serde(default)]
    pub latest_start: Option<String>,
    /// Only on a cluster's form.
    #[serde(default)]
    pub node: Option<String>,
}

fn number<T: std::str::FromStr>(text: &str, field: &str) -> Result<T, Refused> {
    text.trim().parse().map_err(|_| {
        Refused::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{field}: `{}` is not a number", text.trim()),
        )
    })
}

pub async fn book_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: axum::extract::Form<BookForm>,
) -> Response {
    let f = form.0;
    let me = match guard_form(&app, &headers, &f.csrf, "Not booked") {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let filled = BookQuery {
        cpus: Some(f.cpus.clone()),
        memory: Some(f.memory.clone()),
        gpus: Some(f.gpus.clone()),
        start: Some(f.start.clone()),
        end: Some(f.end.clone()),
        node: f.node.clone(),
    };
    let req = (|| {
        Ok::<_, Refused>(BookRequest {
            cpus: number(&f.cpus, "CPUs")?,
            memory: number(&f.memory, "memory")?,
            gpus: if f.gpus.trim().is_empty() {
                0
            } else {
                number(&f.gpus, "GPUs")?
            },
            start: f.start.clone(),
            end: f.end.clone(),
            wait: f.wait.is_some(),
            latest_start: f.latest_start.clone().filter(|s| !s.trim().is_empty()),
            node: f.node.clone().filter(|s| !s.trim().is_empty()),
        })
    })();
    let req = match req {
        Ok(r) => r,
        Err(r) => return page(r.status, account::book_form(&app, &me, &filled, Some(&r))),
    };
    let user = me.user.clone();
    match changing(&app, move |app| book(app, &user, &req)).await {
        Ok(Booked::Row(_)) => see_other("/my?done=booked"),
        Ok(Booked::Waiting(_)) => see_other("/my?done=waiting"),
        Err(r) => page(r.status, account::book_form(&app, &me, &filled, Some(&r))),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct MyQuery {
    pub done: Option<String>,
}

pub async fn my_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Query<MyQuery>,
) -> Response {
    let Some((_, me)) = signed_in(&app, &headers) else {
        return see_other("/signin");
    };
    let user = me.user.clone();
    match blocking(&app, move |app| Ok((own(app, &user)?, now(app)))).await {
        Ok(((rows, entries), now)) => page(
            StatusCode::OK,
            account::my(&app, &me, &rows, &entries, now, q.done.as_deref(), None),
        ),
        Err(r) => page(
            r.status,
            account::message(&app, Some(&me), "My bookings", &r.message),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    pub csrf: String,
    pub start: String,
    /// `cancel`, `end` (end now: at the next slot boundary) or `move` (to `end`).
    pub action: String,
    #[serde(default)]
    pub end: String,
    /// A waitlist entry's number, for `leave`.
    #[serde(default)]
    pub entry: Option<u32>,
}

pub async fn my_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: axum::extract::Form<ChangeForm>,
) -> Response {
    let f = form.0;
    let me = match guard_form(&app, &headers, &f.csrf, "Not changed") {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let user = me.user.clone();
    let done = changing(&app, move |app| {
        let root = app.cache.root();
        match f.action.as_str() {
            "cancel" => ops::cancel(root, &user, &f.start).map(|_| "cancelled"),
            // End now: at the next half hour (the slot under way is the booking's).
            "end" => {
                let next = now(app)
                    .checked_add_signed(chrono::Duration::minutes(hostinfo::clock::SLOT_MINUTES))
                    .map(hostinfo::clock::floor_slot)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                ops::end_at(root, &user, Some(&f.start), &next).map(|_| "ended")
            }
            "move" => ops::end_at(root, &user, Some(&f.start), &f.end).map(|_| "changed"),
            "leave" => {
                booking_ops::waitlist::leave(root, &user, f.entry.unwrap_or(0)).map(|_| "left")
            }
            other => Err(OpsError::Usage(format!("`{other}` is not something to do"))),
        }
        .map_err(refused)
    })
    .await;
    match done {
        Ok(what) => see_other(&format!("/my?done={what}")),
        Err(r) => {
            let user = me.user.clone();
            let listed = blocking(&app, move |app| Ok((own(app, &user)?, now(app)))).await;
            match listed {
                Ok(((rows, entries), now)) => page(
                    r.status,
                    account::my(&app, &me, &rows, &entries, now, None, Some(&r.message)),
                ),
                Err(e) => page(
                    e.status,
                    account::message(&app, Some(&me), "My bookings", &e.message),
                ),
            }
        }
    }
}

/// The timeline of a signed-in user: their bookings marked, free slots to pick a range.
pub async fn timeline_for(app: Arc<App>, me: Session, pick: Option<String>) -> Response {
    routes::with_view_app(app.clone(), move |v| {
        // As the pick links write it: `YYYY-MM-DD HH:MM`.
        let pick = pick
            .as_deref()
            .and_then(|p| chrono::NaiveDateTime::parse_from_str(p.trim(), "%Y-%m-%d %H:%M").ok());
        page(
            StatusCode::OK,
            crate::pages::timeline::page_for(v, Some((&me, app.web.enabled)), pick),
        )
    })
    .await
}
