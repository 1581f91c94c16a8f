//! The dashboard (issue 17): a busy lab — 10,000 live rows (and 1,000 for the growth line)
//! plus as many finished in `used.csv`, 50 users, 8 GPUs, 30 days of 5-minute GPU samples,
//! a waitlist — measured in process (the first view, a warm one, each page rendered
//! directly from a warm view, the metrics, and the monitor's textfile through
//! `checker::metrics::load`), next to `Snapshot::load_with_history` and
//! `checker::report::build` from the same run; then the release `dashboard` as a whole
//! server under wrk (100 connections, 10 s a route), its peak resident memory, the files it
//! opens with nothing changed and after a change (strace), and wrk on `/now` while a usage
//! sample is appended every second. NVML is off (`AIVC_NO_NVML`): the figures are the
//! dashboard's own.
//! Run: `cargo bench -p dashboard --bench dashboard` (`AIVC_BENCH_WRK_SECONDS=2` for a
//! quick look; `AIVC_BENCH_LAB_ONLY=DIR` writes the 10,000-row lab to DIR and stops, to
//! profile a server by hand).
#![allow(clippy::print_stdout)]

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

#[path = "../../../tests/support/dashboard_lab.rs"]
mod dashboard_lab;

#[path = "../../../tests/support/load.rs"]
mod load;
mod server;

use server::Server;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Span, NaiveDateTime};
use dashboard::pages;
use dashboard::view::{Cache, View};
use hostinfo::schedule::{self, Row};
use hostinfo::usage::{Sample, Subject};
use hostinfo::Root;

/// The routes of the issue, in the order of its list.
const ROUTES: [&str; 8] = [
    "/",
    "/now",
    "/waitlist",
    "/problems",
    "/usage?days=30",
    "/api/v1/state",
    "/api/v1/usage?days=30",
    "/metrics",
];

const CONNECTIONS: u32 = 100;

fn wrk_seconds() -> u32 {
    std::env::var("AIVC_BENCH_WRK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1e3;
    if m < 0.1 {
        format!("{:.1} µs", m * 1e3)
    } else {
        format!("{m:.2} ms")
    }
}

fn kb(n: usize) -> String {
    format!("{:.0} kB", n as f64 / 1e3)
}

/// The lab of `n` live rows at `now`: `rows(n, now)` split as the monitor leaves them (the
/// running ones in `using.csv`, the rest in `booking.csv`), the two weeks before in
/// `used.csv` (another `n`), 20 waiting, a last tick, and `days` days of GPU samples.
fn write_lab(dir: &Path, n: usize, now: NaiveDateTime, days: i64) -> LabSize {
    let live = synthetic_lab::rows(n, now);
    let (using, booking): (Vec<Row>, Vec<Row>) = live
        .into_iter()
        .partition(|r| r.start <= now && now < r.end);
    let used = synthetic_lab::rows(n, now - Span::days(14));
    assert!(used.iter().all(|r| r.end <= now));
    synthetic_lab::write_root(dir, &booking);
    std::fs::write(dir.join("jobs/using.csv"), schedule::to_bytes(&using)).unwrap();
    std::fs::write(dir.join("jobs/used.csv"), schedule::to_bytes(&used)).unwrap();
    let root = Root::at(dir);
    let waiting: Vec<hostinfo::waitlist::Entry> = (0..20u32)
        .map(|i| hostinfo::waitlist::Entry {
            id: i + 1,
            joined: now - Span::minutes(i64::from(i) * 7),
            user_id: format!("u{:03}", 7 + i),
            cpus: 2.0,
            memory: 8,
            gpus: 1 + i % 2,
            minutes: 120,
            earliest_start: now,
            latest_start: now + Span::hours(6),
            forward_port: 10008 + i as u16,
            image: None,
            extra_command: None,
        })
        .collect();
    let lock = root.lock_exclusive("bench").unwrap();
    root.write_waitlist(&waiting, &lock).unwrap();
    drop(lock);
    root.write_last_tick(&hostinfo::tick_record::TickRecord {
        started: now,
        unix_seconds: chrono::Utc::now().timestamp() as f64,
        duration_seconds: 0.011,
    })
    .unwrap();
    dashboard_lab::write_samples(
        dir,
        chrono::Utc::now().naive_utc(),
        days,
        synthetic_lab::GPUS,
    );
    let samples_bytes = std::fs::read_dir(root.usage_dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    LabSize {
        booking: booking.len(),
        using: using.len(),
        used: used.len(),
        samples_bytes,
    }
}

#[derive(Debug, Clone, Copy)]
struct LabSize {
    booking: usize,
    using: usize,
    used: usize,
    samples_bytes: u64,
}

/// One line of the in-process table: a name and its median at each size (`None`: not
/// measured at that size), the baseline it is compared with, and the body's size.
struct Line {
    what: String,
    at: Vec<Option<Duration>>,
    baseline: Option<usize>,
    body: Option<usize>,
}

/// Each page rendered from `view` as the routes would, outside the per-view cache.
/// The first view past the stat interval after `change`: what the request that sees a
/// change waits for (median of 3).
fn after_change(cache: &Cache, change: &dyn Fn()) -> Duration {
    median(
        (0..3)
            .map(|_| {
                change();
                std::thread::sleep(dashboard::view::STAT_EVERY + Duration::from_millis(20));
                let t = Instant::now();
                std::hint::black_box(cache.view().unwrap());
                t.elapsed()
            })
            .collect(),
    )
}

type Render = Box<dyn Fn(&View) -> Vec<u8>>;

fn boxed(f: impl Fn(&View) -> Vec<u8> + 'static) -> Render {
    Box::new(f)
}

fn renders(view: &View) -> Vec<(&'static str, Render)> {
    vec![
        (
            "`/` timeline::page",
            boxed(|v: &View| pages::timeline::page(v).into_string().into_bytes()),
        ),
        (
            "`/now` now::page",
            boxed(|v: &View| pages::now::page(v).into_string().into_bytes()),
        ),
        (
            "`/waitlist` lists::waitlist",
            boxed(|v: &View| pages::lists::waitlist(v).into_string().into_bytes()),
        ),
        (
            "`/problems` lists::problems",
            boxed(|v: &View| pages::lists::problems(v).into_string().into_bytes()),
        ),
        (
            "`/usage?days=30` usage::page",
            boxed(|v: &View| pages::usage::page(v, 30).into_string().into_bytes()),
        ),
        (
            "`/api/v1/state` (report to JSON)",
            boxed(|v: &View| serde_json::to_vec(&v.report).unwrap()),
        ),
        (
            "`/api/v1/usage?days=30` (to JSON)",
            boxed(|v: &View| serde_json::to_vec(&v.usage_report(30)).unwrap()),
        ),
        (
            "`/metrics` checker::metrics::render",
            boxed(|v: &View| {
                checker::metrics::render(&checker::metrics::Input {
                    report: &v.report,
                    latest: &v.latest,
                    usage: &v.usage,
                    last_tick: v.last_tick,
                    last_sample_unix: v.last_sample_unix,
                })
                .into_bytes()
            }),
        ),
    ]
    .into_iter()
    .map(|(k, f)| {
        assert!(!f(view).is_empty());
        (k, f)
    })
    .collect()
}

fn in_process(sizes: &[usize], now: NaiveDateTime) -> Vec<PathBuf> {
    let mut lines: Vec<Line> = Vec::new();
    let line = |lines: &mut Vec<Line>,
                i: usize,
                what: &str,
                d: Duration,
                baseline: Option<usize>,
                body: Option<usize>| {
        if let Some(l) = lines.iter_mut().find(|l| l.what == what) {
            l.at[i] = Some(d);
            l.body = body.or(l.body);
        } else {
            let mut at = vec![None; sizes.len()];
            at[i] = Some(d);
            lines.push(Line {
                what: what.to_string(),
                at,
                baseline,
                body,
            });
        }
    };
    let mut dirs = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap().keep();
        let started = Instant::now();
        let size = write_lab(&dir, n, now, 30);
        println!(
            "lab at {n} rows: {} in booking.csv, {} in using.csv, {} in used.csv; 30 days of GPU samples ({:.1} MB); written in {:.0} ms",
            size.booking,
            size.using,
            size.used,
            size.samples_bytes as f64 / 1e6,
            started.elapsed().as_secs_f64() * 1e3
        );
        let root = Root::at(&dir);

        // Baselines: what `checker --json` reads (with the history) and builds.
        let load = time(15, || {
            checker::Snapshot::load_with_history(root.clone()).unwrap()
        });
        line(
            &mut lines,
            i,
            "baseline A: Snapshot::load_with_history",
            load,
            None,
            None,
        );
        let snapshot = checker::Snapshot::load_with_history(root.clone()).unwrap();
        let inventory = || {
            hostinfo::gpu::inventory(
                &hostinfo::gpu::NvmlProbe,
                snapshot.config.fallback_gpu_count(),
            )
        };
        let build = time(15, || checker::report::build(&snapshot, inventory()));
        line(
            &mut lines,
            i,
            "baseline B: checker::report::build",
            build,
            None,
            None,
        );

        let cold = time(11, || Cache::new(root.clone()).view().unwrap());
        line(
            &mut lines,
            i,
            "first view (cold: all read and parsed)",
            cold,
            Some(0),
            None,
        );
        let cache = Cache::new(root.clone());
        let view = cache.view().unwrap();
        let warm = time(1001, || cache.view().unwrap());
        line(
            &mut lines,
            i,
            "warm view, nothing changed",
            warm,
            Some(0),
            None,
        );
        if i + 1 == sizes.len() {
            // Past the 1-second stat interval: the stamps looked at again, nothing read.
            let stat = median(
                (0..5)
                    .map(|_| {
                        std::thread::sleep(dashboard::view::STAT_EVERY + Duration::from_millis(20));
                        let t = Instant::now();
                        std::hint::black_box(cache.view().unwrap());
                        t.elapsed()
                    })
                    .collect(),
            );
            line(
                &mut lines,
                i,
                "view after a stat pass, nothing changed",
                stat,
                Some(0),
                None,
            );
            assert_eq!(cache.reads(), 1, "nothing changed: nothing re-read");
            // A booking made (booking.csv rewritten): the schedule and configuration read
            // again and the view rebuilt; a sample appended: today's file read again and
            // the view rebuilt. Each past the stat interval.
            let booking = dir.join("jobs/booking.csv");
            let bytes = std::fs::read(&booking).unwrap();
            let d = after_change(&cache, &|| std::fs::write(&booking, &bytes).unwrap());
            line(
                &mut lines,
                i,
                "view after booking.csv changed",
                d,
                Some(0),
                None,
            );
            let d = after_change(&cache, &|| append_sample(&root));
            line(
                &mut lines,
                i,
                "view after a usage sample appended",
                d,
                Some(0),
                None,
            );
        }
        for (what, f) in renders(&view) {
            let body = f(&view).len();
            let d = time(31, || f(&view));
            line(&mut lines, i, what, d, Some(1), Some(body));
        }
        let textfile = time(11, || checker::metrics::load(&root).unwrap());
        line(
            &mut lines,
            i,
            "checker::metrics::load, 30 days of samples",
            textfile,
            Some(0),
            None,
        );
        if i + 1 == sizes.len() {
            let long = tempfile::tempdir().unwrap();
            write_lab(long.path(), n, now, 90);
            let long_root = Root::at(long.path());
            // Where checker::metrics::load's time goes, step by step as it runs them.
            let snapshot = checker::Snapshot::load_with_history(long_root.clone()).unwrap();
            let until = snapshot.now;
            let since = until - Span::days(90);
            let d = time(11, || long_root.read_usage_since(since, until).unwrap());
            line(
                &mut lines,
                i,
                "- of which read_usage_since, 90 days",
                d,
                Some(0),
                None,
            );
            let samples = long_root.read_usage_since(since, until).unwrap();
            let d = time(11, || checker::usage::gpu_points(&samples));
            line(
                &mut lines,
                i,
                "- of which usage::gpu_points, 90 days",
                d,
                Some(0),
                None,
            );
            let points = checker::usage::gpu_points(&samples);
            let rows = snapshot.all_rows();
            let d = time(11, || {
                checker::metrics::WINDOWS
                    .iter()
                    .map(|&w| checker::usage::report(&snapshot.config, &rows, &points, until, w))
                    .collect::<Vec<_>>()
            });
            line(
                &mut lines,
                i,
                "- of which usage::report for 7, 30 and 90 days",
                d,
                Some(0),
                None,
            );
            let textfile = time(11, || checker::metrics::load(&long_root).unwrap());
            line(
                &mut lines,
                i,
                "checker::metrics::load, 90 days of samples",
                textfile,
                Some(0),
                None,
            );
            let cold = time(5, || Cache::new(long_root.clone()).view().unwrap());
            line(
                &mut lines,
                i,
                "first view (cold), 90 days of samples",
                cold,
                Some(0),
                None,
            );
            let cache = Cache::new(long_root.clone());
            cache.view().unwrap();
            let booking = long.path().join("jobs/booking.csv");
            let bytes = std::fs::read(&booking).unwrap();
            let d = after_change(&cache, &|| std::fs::write(&booking, &bytes).unwrap());
            line(
                &mut lines,
                i,
                "view after booking.csv changed, 90 days of samples",
                d,
                Some(0),
                None,
            );
        }
        dirs.push(dir);
    }

    println!();
    print!("| in process (median) |");
    for n in sizes {
        print!(" {n} rows |");
    }
    println!(
        " growth | ratio to the baseline, {} rows | body |",
        sizes[sizes.len() - 1]
    );
    print!("|---|");
    for _ in sizes {
        print!("---:|");
    }
    println!("---:|---:|---:|");
    let last = sizes.len() - 1;
    let baselines: Vec<Option<Duration>> = lines.iter().take(2).map(|l| l.at[last]).collect();
    for l in &lines {
        print!("| {} |", l.what);
        for d in &l.at {
            print!(" {} |", d.map_or("".into(), ms));
        }
        let growth = match (l.at[0], l.at[last]) {
            (Some(a), Some(b)) if last > 0 => format!("×{:.1}", b.as_secs_f64() / a.as_secs_f64()),
            _ => String::new(),
        };
        let ratio = match (l.baseline.and_then(|b| baselines[b]), l.at[last]) {
            (Some(b), Some(d)) => format!(
                "{:.2}× {}",
                d.as_secs_f64() / b.as_secs_f64(),
                if l.baseline == Some(0) { "A" } else { "B" }
            ),
            _ => String::new(),
        };
        println!(
            " {growth} | {ratio} | {} |",
            l.body.map_or(String::new(), kb)
        );
    }
    dirs
}

/// One sampling of the 8 GPUs, now, appended to today's file as the sampler does.
fn append_sample(root: &Root) {
    let t = chrono::Utc::now().naive_utc();
    let samples: Vec<Sample> = (0..synthetic_lab::GPUS)
        .map(|g| Sample {
            time: t,
            subject: Subject::Gpu(g),
            gpu_util_percent: Some(42),
            gpu_memory_mib: Some(1000),
            cpu_percent: None,
            memory_mib: None,
        })
        .collect();
    root.append_usage(&samples).unwrap();
}

/// A plain GET with `Connection: close`: status and body length.
fn get(port: u16, path: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    (status, body)
}

/// The slowest answer, from wrk's "Latency avg stdev max" line.
fn max_latency(w: &load::WrkResult) -> String {
    w.report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Latency "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|t| load::parse_time(t).ok())
        .map_or("?".into(), ms)
}

/// Plain GETs of every route, one after another, for `span` (one round at least): how many.
fn requests_for(port: u16, span: Duration) -> usize {
    let started = Instant::now();
    let mut n = 0;
    loop {
        for r in ROUTES {
            assert_eq!(get(port, r).0, 200, "{r}");
            n += 1;
        }
        if started.elapsed() >= span {
            return n;
        }
    }
}

/// The files under `root` the server at `pid` opens while `work` runs, and how often each
/// is looked at with a stat call (strace attached to every thread for the duration).
fn traced<T>(pid: u32, root: &Path, work: impl FnOnce() -> T) -> (T, BTreeMap<String, (u32, u32)>) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut strace = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=openat,open,statx,newfstatat,lstat,stat",
            "-o",
        ])
        .arg(out.path())
        .arg("-p")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace (Debian's strace package)");
    std::thread::sleep(Duration::from_millis(500));
    let result = work();
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    let text = std::fs::read_to_string(out.path()).unwrap();
    let prefixes = [
        format!("{}/", root.display()),
        format!("{}/", root.canonicalize().unwrap().display()),
    ];
    let mut files: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for l in text.lines() {
        let Some((call, rest)) = l
            .split_once('(')
            .map(|(head, rest)| (head.rsplit(' ').next().unwrap_or(head), rest))
        else {
            continue;
        };
        let Some(path) = rest.split('"').nth(1) else {
            continue;
        };
        let Some(rel) = prefixes.iter().find_map(|p| path.strip_prefix(p.as_str())) else {
            continue;
        };
        let e = files.entry(rel.to_string()).or_default();
        if call.starts_with("open") {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    (result, files)
}

fn show(files: &BTreeMap<String, (u32, u32)>) -> String {
    let opened: Vec<String> = files
        .iter()
        .filter(|(_, (o, _))| *o > 0)
        .map(|(f, (o, _))| format!("{f} ×{o}"))
        .collect();
    if opened.is_empty() {
        "nothing".into()
    } else {
        opened.join(", ")
    }
}

fn whole_server(root: &Path, now: NaiveDateTime) {
    let seconds = wrk_seconds();
    let server = Server::start(root);
    for r in ROUTES {
        assert_eq!(get(server.port, r).0, 200, "{r}");
    }
    let (hwm0, rss0) = server.memory();
    println!(
        "\nwhole server: target/release/dashboard, 2 worker threads; wrk -t2 -c{CONNECTIONS} -d{seconds}s --latency on each route in turn (after one GET of each)"
    );
    println!("\n| route | p50 | p99 | max | requests/s | errors | body |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut now_plain = None;
    for r in ROUTES {
        let w = load::wrk(&server.url(r), CONNECTIONS, seconds);
        let body = get(server.port, r).1;
        println!(
            "| `{r}` | {} | {} | {} | {:.0} | {} | {} |",
            ms(w.p50),
            ms(w.p99),
            max_latency(&w),
            w.requests_per_sec,
            w.errors(),
            kb(body)
        );
        if r == "/now" {
            now_plain = Some(w);
        }
    }
    let (hwm1, rss1) = server.memory();

    // 100 clients on /now while the sampler appends to today's file every second.
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let stop = stop.clone();
        let root = Root::at(root);
        std::thread::spawn(move || {
            let mut appended = 0;
            while !stop.load(Ordering::Relaxed) {
                append_sample(&root);
                appended += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            appended
        })
    };
    let changing = load::wrk(&server.url("/now"), CONNECTIONS, seconds);
    stop.store(true, Ordering::Relaxed);
    let appended = appender.join().unwrap();
    let (hwm2, rss2) = server.memory();
    let plain = now_plain.unwrap();
    println!(
        "| `/now` while a sample is appended every second ({appended} appends) | {} | {} | {} | {:.0} | {} | |",
        ms(changing.p50),
        ms(changing.p99),
        max_latency(&changing),
        changing.requests_per_sec,
        changing.errors()
    );
    println!(
        "`/now` p99 with the files changing / unchanged (same run): {} / {} = {:.1}×",
        ms(changing.p99),
        ms(plain.p99),
        changing.p99.as_secs_f64() / plain.p99.as_secs_f64()
    );
    println!(
        "\nresident memory (/proc/PID/status): after start and one GET of each route VmHWM {hwm0:.1} MB, VmRSS {rss0:.1} MB; after wrk on every route VmHWM {hwm1:.1} MB, VmRSS {rss1:.1} MB; after the changing run VmHWM {hwm2:.1} MB, VmRSS {rss2:.1} MB"
    );

    // Re-read only on change: the files the server opens, counted by strace. The last
    // append is seen first; then the span covers one 15-second rebuild as well.
    std::thread::sleep(dashboard::view::STAT_EVERY + Duration::from_millis(100));
    requests_for(server.port, Duration::ZERO);
    let span = dashboard::view::REBUILD_AFTER + Duration::from_secs(1);
    let (n1, unchanged) = traced(server.child.id(), root, || requests_for(server.port, span));
    let span2 = Duration::from_millis(3200);
    let extra = synthetic_lab::rows(1, now + Span::days(13))
        .into_iter()
        .map(|mut r| {
            r.user_id = "bench".into();
            r.forward_port = 10999;
            r.gpus = schedule::GpuSet::new(Vec::new());
            r
        })
        .collect::<Vec<_>>();
    let (n2, changed) = traced(server.child.id(), root, || {
        let mut line = Vec::new();
        schedule::append_rows_to(&mut line, &extra);
        std::fs::OpenOptions::new()
            .append(true)
            .open(root.join("jobs/booking.csv"))
            .unwrap()
            .write_all(&line)
            .unwrap();
        requests_for(server.port, span2)
    });
    let stats = |f: &BTreeMap<String, (u32, u32)>| f.get("jobs/booking.csv").map_or(0, |e| e.1);
    println!(
        "\nopens under the root (strace -f -e trace=openat,statx,... -p PID, attached for the span):\n- {n1} GETs over {:.1} s, nothing changed: {}; jobs/booking.csv stat-ed {} times\n- {n2} GETs over {:.1} s after one row appended to jobs/booking.csv: {}; jobs/booking.csv stat-ed {} times",
        span.as_secs_f64(),
        show(&unchanged),
        stats(&unchanged),
        span2.as_secs_f64(),
        show(&changed),
        stats(&changed)
    );
}

/// The same proof in process, from the cache's own counter.
fn reads_counter(root: &Path) {
    let cache = Cache::new(Root::at(root));
    cache.view().unwrap();
    let started = Instant::now();
    let mut views = 0;
    while started.elapsed() < Duration::from_millis(1200) {
        cache.view().unwrap();
        views += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = cache.reads();
    let path = root.join("jobs/booking.csv");
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        cache.view().unwrap();
        views += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "in process, Cache::reads(): {before} after the first view and {views} more over 1.2 s with nothing changed; {} after jobs/booking.csv was rewritten and 1.2 s more",
        cache.reads()
    );
}

/// The machine line of scripts/bench.sh.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, m)| m.trim())
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1048576.0);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "machine: {} cores, {gib:.0} GiB, {model}, Linux {}; load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        release.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn main() {
    println!("{}", machine());
    std::env::set_var("AIVC_NO_NVML", "1");
    std::env::remove_var("AIVC_NOW");
    let started = Instant::now();
    let now = synthetic_lab::now_slot();
    if let Some(dir) = std::env::var_os("AIVC_BENCH_LAB_ONLY") {
        // The 10,000-row lab alone, kept, to profile a server by hand.
        write_lab(Path::new(&dir), 10_000, now, 30);
        println!("lab written to {}", Path::new(&dir).display());
        return;
    }
    let dirs = in_process(&[1_000, 10_000], now);
    let big = dirs.last().unwrap().clone();
    whole_server(&big, now);
    reads_counter(&big);
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    println!("\nbench ran {:.0} s", started.elapsed().as_secs_f64());
}
