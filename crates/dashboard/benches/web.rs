//! Booking from the browser (issue 18) at 10,000 rows (`synthetic_lab::write_root`: 50
//! users, 8 GPUs, the user `bench`): the release `dashboard` as a whole server.
//! 1. One booking through the API (signed in once; a 30-minute slot two days ahead, booked
//!    then cancelled, again and again; only the POST timed, over a kept-alive connection)
//!    next to the CLI's own `booking --yes --password-stdin` for the same booking, in turn
//!    in the same run: the medians and their difference (the goal: within 2 ms).
//! 2. 100 concurrent readers (wrk -c100) on `/` and then on `/now`, first alone and then
//!    while 10 threads book and cancel through the API without pause: wrk's p99 (the goal:
//!    under 200 ms) and the bookers' own latencies.
//!
//! Run: `cargo bench -p dashboard --bench web` (`AIVC_BENCH_WRK_SECONDS=2` for a quick look,
//! `AIVC_BENCH_WEB_ROWS=1000` for another size).
#![allow(clippy::print_stdout)]

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

#[path = "../../../tests/support/load.rs"]
mod load;
mod server;

use server::Server;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Span, NaiveDateTime};

const READERS: u32 = 100;
const BOOKERS: usize = 10;
const SAMPLES: usize = 31;

fn wrk_seconds() -> u32 {
    std::env::var("AIVC_BENCH_WRK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn rows_n() -> usize {
    std::env::var("AIVC_BENCH_WEB_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The `p`-th percentile (0–100) of `v`, nearest rank.
fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn slot(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed-in API client with its own kept-alive connection.
struct Session {
    agent: ureq::Agent,
    base: String,
    cookie: String,
    csrf: String,
}

impl Session {
    fn sign_in(server: &Server) -> Session {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(server.url("/api/v1/session"))
            .header("content-type", "application/json")
            .send(r#"{"user":"bench","password":"bench-pw"}"#)
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "sign-in of bench");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string();
        let body: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        Session {
            agent,
            base: server.url(""),
            cookie,
            csrf: body["csrf"].as_str().unwrap().to_string(),
        }
    }

    /// `method` on `path` with `body`: the status and how long the answer took.
    fn call(&self, method: &str, path: &str, body: Option<String>) -> (u16, Duration) {
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let sent = match (method, body) {
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("cookie", &self.cookie)
                .header("x-csrf-token", &self.csrf)
                .header("content-type", "application/json")
                .send(b),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("cookie", &self.cookie)
                .header("x-csrf-token", &self.csrf)
                .call(),
            (m, _) => panic!("no {m} here"),
        };
        let mut r = sent.unwrap();
        let _ = r.body_mut().read_to_string();
        (r.status().as_u16(), started.elapsed())
    }

    fn book(&self, start: &str, end: &str) -> (u16, Duration) {
        let body = format!(r#"{{"cpus":1,"memory":1,"gpus":1,"start":"{start}","end":"{end}"}}"#);
        self.call("POST", "/api/v1/bookings", Some(body))
    }

    fn cancel(&self, start: &str) -> (u16, Duration) {
        self.call(
            "DELETE",
            &format!("/api/v1/bookings?start={}", url_encode(start)),
            None,
        )
    }
}

/// The release `booking` beside the release `dashboard`, built (or found up to date) now.
fn booking_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_dashboard")).with_file_name("booking");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "booking",
            "--bin",
            "booking",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success() && path.exists(),
        "could not build booking: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// One `booking --yes --password-stdin` of the slot: how long the process took.
fn cli_booking(bin: &Path, root: &Path, start: &str, end: &str) -> Duration {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("--root")
        .arg(root)
        .args([
            "--yes",
            "--password-stdin",
            "--user-id",
            "bench",
            "--cpus",
            "1",
            "--memory",
            "1",
            "--gpus",
            "1",
            "--start",
            start,
            "--end",
            end,
        ])
        .env_remove("AIVC_NOW")
        .env_remove("AIVC_ROOT")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"bench-pw\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "booking --yes failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn one_booking(server: &Server, root: &Path, n: usize, now: NaiveDateTime) {
    let bin = booking_binary();
    let s = Session::sign_in(server);
    let start_t = now + Span::days(2);
    let (start, end) = (slot(start_t), slot(start_t + Span::minutes(30)));
    let mut web = Vec::new();
    let mut cli = Vec::new();
    // Three of each to warm the caches, then the samples, taken in turn.
    for i in 0..SAMPLES + 3 {
        let (status, took) = s.book(&start, &end);
        assert_eq!(status, 201, "the API booking must succeed");
        assert_eq!(s.cancel(&start).0, 200, "the API cancel must succeed");
        let cli_took = cli_booking(&bin, root, &start, &end);
        assert_eq!(s.cancel(&start).0, 200, "cancelling the CLI's booking");
        if i >= 3 {
            web.push(took);
            cli.push(cli_took);
        }
    }
    let (w, c) = (median(web.clone()), median(cli.clone()));
    let diff = w.as_secs_f64() - c.as_secs_f64();
    println!(
        "\n### One booking at {n} rows ({SAMPLES} each, in turn, medians)\n\n| path | median | fastest | slowest |\n|---|---:|---:|---:|"
    );
    for (what, v) in [
        (
            "POST /api/v1/bookings (signed in, kept-alive connection)",
            &web,
        ),
        ("booking --yes --password-stdin (whole process)", &cli),
    ] {
        println!(
            "| {what} | {} | {} | {} |",
            ms(median(v.clone())),
            ms(*v.iter().min().unwrap()),
            ms(*v.iter().max().unwrap())
        );
    }
    println!(
        "\nAPI − CLI: {:+.2} ms (goal: within 2 ms of the CLI: {})",
        diff * 1e3,
        if diff <= 0.002 { "met" } else { "MISSED" }
    );
    let _ = c;
}

/// Books and cancels its own slot without pause until `stop`; each answer's latency.
fn booker(
    server_url: String,
    session: Session,
    start: NaiveDateTime,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let _ = server_url;
    let (start, end) = (slot(start), slot(start + Span::minutes(30)));
    let (mut books, mut cancels, mut errors) = (Vec::new(), Vec::new(), 0);
    while !stop.load(Ordering::SeqCst) {
        let (status, took) = session.book(&start, &end);
        books.push(took);
        if status != 201 {
            errors += 1;
            continue;
        }
        let (status, took) = session.cancel(&start);
        cancels.push(took);
        if status != 200 {
            errors += 1;
        }
    }
    (books, cancels, errors)
}

/// Runs `bookers` booking threads while `during` runs; their latencies and errors.
fn with_bookers<T>(
    server: &Server,
    now: NaiveDateTime,
    bookers: usize,
    during: impl FnOnce() -> T,
) -> (T, Vec<Duration>, Vec<Duration>, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..bookers)
        .map(|i| {
            let session = Session::sign_in(server);
            let stop = stop.clone();
            let url = server.url("");
            // Each its own slot, an hour apart, three days ahead.
            let start = now + Span::days(3) + Span::hours(i as i64);
            std::thread::spawn(move || booker(url, session, start, stop))
        })
        .collect();
    let out = during();
    stop.store(true, Ordering::SeqCst);
    let (mut books, mut cancels, mut errors) = (Vec::new(), Vec::new(), 0);
    for t in threads {
        let (b, c, e) = t.join().unwrap();
        books.extend(b);
        cancels.extend(c);
        errors += e;
    }
    (out, books, cancels, errors)
}

fn booking_columns(books: &mut [Duration], cancels: &mut [Duration], errors: usize) -> String {
    if books.is_empty() {
        return "0 | – | – | – | 0".to_string();
    }
    format!(
        "{} | {} | {} | {} | {errors}",
        books.len(),
        ms(percentile(books, 50.0)),
        ms(percentile(books, 99.0)),
        ms(percentile(cancels, 99.0)),
    )
}

fn readers_while_booking(server: &Server, now: NaiveDateTime) {
    let seconds = wrk_seconds();
    println!(
        "\n### {READERS} readers (wrk -t2 -c{READERS} -d{seconds}s), alone and while {BOOKERS} threads book and cancel through the API\n"
    );
    println!("| route | bookers | requests/s | p50 | p99 | errors | bookings | booking p50 | booking p99 | cancel p99 | booker errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (_, mut books, mut cancels, errors) = with_bookers(server, now, BOOKERS, || {
        std::thread::sleep(Duration::from_secs(u64::from(seconds)))
    });
    println!(
        "| (no readers) | {BOOKERS} | | | | | {} |",
        booking_columns(&mut books, &mut cancels, errors)
    );
    for path in ["/", "/now"] {
        let _ = ureq::get(&server.url(path)).call();
        for bookers in [0, BOOKERS] {
            let (w, mut books, mut cancels, errors) = with_bookers(server, now, bookers, || {
                load::wrk_threads(&server.url(path), 2, READERS, seconds)
            });
            println!(
                "| `{path}` | {bookers} | {:.0} | {} | {} | {} | {} |",
                w.requests_per_sec,
                ms(w.p50),
                ms(w.p99),
                w.errors(),
                booking_columns(&mut books, &mut cancels, errors)
            );
            if bookers > 0 {
                println!(
                    "<!-- `{path}` p99 under load: {} (goal: under 200 ms: {}) -->",
                    ms(w.p99),
                    if w.p99 < Duration::from_millis(200) {
                        "met"
                    } else {
                        "MISSED"
                    }
                );
            }
        }
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

fn main() {
    let n = rows_n();
    let now = synthetic_lab::now_slot();
    let dir = tempfile::tempdir().unwrap();
    synthetic_lab::write_root(dir.path(), &synthetic_lab::rows(n, now));
    println!(
        "dashboard web: {n} rows in booking.csv, release build, {}; the real clock",
        machine()
    );
    let server = Server::start(dir.path());
    one_booking(&server, dir.path(), n, now);
    readers_while_booking(&server, now);
}
