//! What the dashboard's tests share: the small lab written at a fixed instant, the real
//! `dashboard` binary serving it on a loopback port (killed on drop), plain HTTP requests
//! to it, and the other workspace binaries (`checker`, `monitor`) built beside it.
#![allow(dead_code)]

#[path = "../../../../tests/support/dashboard_lab.rs"]
pub mod dashboard_lab;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

/// The instant the lab is written at (a Monday, on a slot boundary): bob's booking runs
/// 08:00–13:00, the newest samples are of 10:00.
pub const NOW: &str = "2026-11-23 10:00:00";

/// The dashboard's (and checker's, and the monitor's) clock: ten minutes later, so the
/// 10:00 samples are fresh (at most 15 minutes old) and GPU 3, busy at 10:00 with nobody
/// holding it, is in use outside bookings.
pub const SERVE_NOW: &str = "2026-11-23 10:10:00";

pub fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// Days of samples the lab gets: more than the 7-day window, so the window is covered.
pub const SAMPLE_DAYS: i64 = 8;

/// The small lab of tests/support/dashboard_lab.rs in a temporary folder, at [`NOW`].
#[derive(Debug)]
pub struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn small() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        dashboard_lab::write_small_lab(dir.path(), t(NOW), SAMPLE_DAYS);
        Lab { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The environment every program under test runs with: the fixed clock, no NVML (the GPU
/// inventory comes from the configuration whatever the machine has), no inherited root.
pub fn clock_env(cmd: &mut Command) -> &mut Command {
    cmd.env("AIVC_NOW", SERVE_NOW)
        .env("AIVC_NO_NVML", "1")
        .env_remove("AIVC_ROOT")
}

/// A loopback port nothing listens on now (the kernel's pick).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real `dashboard` serving `root` on a loopback port; killed (and reaped) on drop.
#[derive(Debug)]
pub struct Dashboard {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _logs: tempfile::TempDir,
}

impl Dashboard {
    /// Starts it and waits until it answers a request; a start that lost its port to
    /// another process is retried on a fresh one.
    pub fn start(root: &Path) -> Dashboard {
        Self::start_with(root, &[])
    }

    /// [`Dashboard::start`] with `env` added to [`clock_env`] (`AIVC_AUTH_DELAY_MS`, say).
    pub fn start_with(root: &Path, env: &[(&str, &str)]) -> Dashboard {
        let mut last = String::new();
        for _attempt in 0..3 {
            let logs = tempfile::tempdir().unwrap();
            let log = logs.path().join("dashboard.log");
            let port = free_port();
            let out = std::fs::File::create(&log).unwrap();
            let child = clock_env(&mut Command::new(env!("CARGO_BIN_EXE_dashboard")))
                .arg("--root")
                .arg(root)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap();
            let mut d = Dashboard {
                child,
                port,
                log,
                _logs: logs,
            };
            let until = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(r) = agent().get(d.url("/style.css")).call() {
                    assert_eq!(r.status().as_u16(), 200, "{}", d.log_text());
                    return d;
                }
                if let Ok(Some(status)) = d.child.try_wait() {
                    last = format!("dashboard exited ({status}): {}", d.log_text());
                    break;
                }
                assert!(
                    Instant::now() < until,
                    "the dashboard did not answer on port {port} within 30 s: {}",
                    d.log_text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            if !last.contains("in use") {
                break;
            }
        }
        panic!("{last}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `127.0.0.1:PORT`, a scrape target's address.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What it wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path)
    }

    /// `method` on `path`; the answer whatever its status.
    pub fn request(&self, method: &str, path: &str) -> Answer {
        let a = agent();
        let url = self.url(path);
        let sent = match method {
            "GET" => a.get(&url).call(),
            "HEAD" => a.head(&url).call(),
            "DELETE" => a.delete(&url).call(),
            "POST" => a.post(&url).send("x=1"),
            "PUT" => a.put(&url).send("x=1"),
            other => panic!("no such method here: {other}"),
        };
        let response = sent.unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {e}; the dashboard's log:\n{}",
                self.log_text()
            )
        });
        answer_of(method, path, response)
    }

    /// `http://127.0.0.1:PORT`: the `Origin` a page of this site sends.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Any request: `method` on `path` with `headers` and, when given, `body`; the answer
    /// whatever its status.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        send_to(&self.url(path), method, path, headers, body)
            .unwrap_or_else(|e| panic!("{e}; the dashboard's log:\n{}", self.log_text()))
    }
}

/// `method` on `url` (`path` names it in messages), the answer whatever its status.
pub fn send_to(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Answer, String> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let sent = match body {
        Some(body) => agent().run(b.body(body.to_vec()).unwrap()),
        None => agent().run(b.body(()).unwrap()),
    };
    sent.map(|r| answer_of(method, path, r))
        .map_err(|e| format!("{method} {path}: {e}"))
}

fn answer_of(method: &str, path: &str, mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("(not text)").to_string(),
            )
        })
        .collect();
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .read_to_end(&mut body)
        .unwrap();
    Answer {
        method: method.to_string(),
        path: path.to_string(),
        status: response.status().as_u16(),
        headers,
        body: String::from_utf8(body).expect("a body in UTF-8"),
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that hands back error statuses as answers and never waits long.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// One answer of the dashboard.
#[derive(Debug, Clone)]
pub struct Answer {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Panics, naming the request, unless the status is `status`.
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "{} {} answered {}: {}",
            self.method,
            self.path,
            self.status,
            truncate(&self.body, 600)
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} is no JSON ({e}): {}",
                self.method,
                self.path,
                truncate(&self.body, 600)
            )
        })
    }
}

pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The workspace binary `name` beside `dashboard`, built (or found up to date) by cargo
/// once per test run, so a test never runs a stale one.
pub fn sibling(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let path = Path::new(env!("CARGO_BIN_EXE_dashboard")).with_file_name(name);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", name, "--bin", name]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success() && path.exists(),
            "could not build {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        built.push(name.to_string());
    }
    path
}

// ---- Booking from the browser (issue 18) ----------------------------------------------

/// What makes a wrong password answer at once in tests (a debug build reads it; the
/// release default is a second per wrong answer in a row).
pub const FAST_AUTH: (&str, &str) = ("AIVC_AUTH_DELAY_MS", "1");

/// A web client of the dashboard at `base` (`http://127.0.0.1:PORT`): its session cookie and
/// CSRF token, once signed in. It keeps no reference to the server, so a token can be tried
/// on another one ([`Client::at`]).
#[derive(Debug, Clone)]
pub struct Client {
    pub base: String,
    /// The value of the `aivc_session` cookie.
    pub token: Option<String>,
    pub csrf: Option<String>,
    pub user: String,
}

/// The value of `name` in a `Set-Cookie` header, if that header sets it.
pub fn cookie_value<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    set_cookie
        .split(';')
        .next()?
        .trim()
        .strip_prefix(name)?
        .strip_prefix('=')
}

impl Client {
    /// No session at all.
    pub fn anonymous(d: &Dashboard) -> Client {
        Client {
            base: d.origin(),
            token: None,
            csrf: None,
            user: String::new(),
        }
    }

    /// Signs in through `POST /api/v1/session`; the answer, and the client when it is 200.
    pub fn try_sign_in(d: &Dashboard, user: &str, password: &str) -> (Answer, Option<Client>) {
        let body = serde_json::json!({ "user": user, "password": password }).to_string();
        let a = d.send(
            "POST",
            "/api/v1/session",
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        );
        if a.status != 200 {
            return (a, None);
        }
        let token = a
            .header("set-cookie")
            .and_then(|c| cookie_value(c, "aivc_session"))
            .unwrap_or_else(|| panic!("sign-in of {user} set no session cookie: {a:?}"))
            .to_string();
        let csrf = a.json()["csrf"]
            .as_str()
            .unwrap_or_else(|| panic!("sign-in of {user} gave no csrf: {}", a.body))
            .to_string();
        let client = Client {
            base: d.origin(),
            token: Some(token),
            csrf: Some(csrf),
            user: user.to_string(),
        };
        (a, Some(client))
    }

    /// Signs in; panics unless it answers 200.
    pub fn sign_in(d: &Dashboard, user: &str, password: &str) -> Client {
        let (a, c) = Self::try_sign_in(d, user, password);
        c.unwrap_or_else(|| {
            panic!(
                "sign-in of {user}: {} {}\n{}",
                a.status,
                a.body,
                d.log_text()
            )
        })
    }

    /// The same session, sent to `d` (a server started later, say).
    pub fn at(&self, d: &Dashboard) -> Client {
        Client {
            base: d.origin(),
            ..self.clone()
        }
    }

    /// `method` on `path` with the session cookie, `headers` and `body`; nothing else.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        let cookie = self.token.as_ref().map(|t| format!("aivc_session={t}"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(c) = &cookie {
            all.push(("cookie", c));
        }
        send_to(&format!("{}{path}", self.base), method, path, &all, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// An API call as a script makes it: the cookie, `X-CSRF-Token`, and `body` as JSON.
    pub fn api(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Answer {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(c) = &self.csrf {
            headers.push(("x-csrf-token", c));
        }
        let body = body.map(|b| b.to_string().into_bytes());
        self.send(method, path, &headers, body.as_deref())
    }

    /// A form POST as a page sends it: the cookie, this site's `Origin`, the fields
    /// url-encoded (the CSRF field only when `fields` names one).
    pub fn form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_encode(fields);
        self.send(
            "POST",
            path,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", &self.base),
            ],
            Some(body.as_bytes()),
        )
    }

    /// `GET path` with the cookie.
    pub fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &[], None)
    }
}

/// `fields` as `application/x-www-form-urlencoded`.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes `s` for a query or form value (a space as `%20`).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The JSON body of a booking request through the API.
pub fn booking_body(gpus: u32, start: &str, end: &str) -> serde_json::Value {
    serde_json::json!({ "cpus": 1, "memory": 1, "gpus": gpus, "start": start, "end": end })
}

/// The `booking` CLI on `root` as `user`, with the tests' clock, `args` after the common
/// ones and `password` on stdin: its output.
pub fn booking_cli(root: &Path, user: &str, password: &str, args: &[&str]) -> std::process::Output {
    use std::io::Write;
    let mut child = booking_command(root, user, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = writeln!(stdin, "{password}");
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// `booking --root ROOT --yes --password-stdin --user-id USER ARGS` with the tests' clock
/// and fast wrong-password answers, not yet started.
pub fn booking_command(root: &Path, user: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(sibling("booking"));
    clock_env(&mut cmd)
        .env(FAST_AUTH.0, FAST_AUTH.1)
        .env("NO_COLOR", "1")
        .arg("--root")
        .arg(root)
        .args(["--yes", "--password-stdin", "--user-id", user])
        .args(args);
    cmd
}
