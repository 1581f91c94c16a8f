//! Load tests with Debian's `wrk` for the crates' tests (included with `#[path]`): many
//! keep-alive connections hammer one URL for some seconds, and wrk's report comes back
//! parsed (requests per second, latency percentiles, errors). A missing wrk fails the test
//! with the package to install (scripts/test.sh installs it); nothing is skipped.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A request wrk waits longer for than this counts as a timeout error and not in the
/// latencies (wrk's default is 2 s; a slow answer should show as slow, not vanish).
pub const REQUEST_TIMEOUT_S: u32 = 10;

/// wrk's report, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkResult {
    /// Requests completed (answered, whatever the status).
    pub requests: u64,
    /// How long wrk ran, as it reports it.
    pub duration: Duration,
    pub requests_per_sec: f64,
    pub p50: Duration,
    pub p75: Duration,
    pub p90: Duration,
    pub p99: Duration,
    /// Answers with a status of 400 or more (wrk's "Non-2xx or 3xx responses").
    pub non_2xx_3xx: u64,
    pub socket_errors: SocketErrors,
    /// wrk's whole report, for a failure message.
    pub report: String,
}

/// wrk's "Socket errors" line (all 0 when it printed none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl SocketErrors {
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

impl WrkResult {
    /// Every failed request: error statuses and socket errors together.
    pub fn errors(&self) -> u64 {
        self.non_2xx_3xx + self.socket_errors.total()
    }
}

/// The wrk on PATH (or /usr/bin/wrk); panics naming Debian's `wrk` package.
pub fn require_wrk() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join("wrk"))
        .chain([PathBuf::from("/usr/bin/wrk")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test measures latency with wrk and there is none on PATH: install \
                 Debian's `wrk` package (apt-get install wrk; scripts/test.sh does it)"
            )
        })
}

/// Runs `wrk -t2 -cCONNECTIONS -dSECONDSs --latency URL` (one thread per connection when
/// fewer than 2) and parses its report. Panics when wrk fails, runs 30 s past its time, or
/// prints a report this cannot read.
pub fn wrk(url: &str, connections: u32, seconds: u32) -> WrkResult {
    wrk_threads(url, 2.min(connections.max(1)), connections, seconds)
}

/// `wrk` with `threads` threads.
pub fn wrk_threads(url: &str, threads: u32, connections: u32, seconds: u32) -> WrkResult {
    let program = require_wrk();
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = Command::new(&program)
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg(format!("--timeout={REQUEST_TIMEOUT_S}s"))
        .arg("--latency")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let limit = Duration::from_secs(u64::from(seconds) + 30);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wrk against {url} ran past {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "wrk against {url} failed ({status}):\n{stdout}\n{stderr}"
    );
    parse_wrk(&stdout)
        .unwrap_or_else(|e| panic!("cannot read wrk's report ({e}):\n{stdout}\n{stderr}"))
}

/// Reads wrk 4's report (with `--latency`).
pub fn parse_wrk(report: &str) -> Result<WrkResult, String> {
    let mut requests = None;
    let mut duration = None;
    let mut rps = None;
    let mut percentiles = [None; 4];
    let mut non_2xx_3xx = 0;
    let mut socket_errors = SocketErrors::default();
    let mut in_distribution = false;
    for line in report.lines() {
        let t = line.trim();
        if t.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            // "     50%    2.05ms"
            if let Some((pct, value)) = t.split_once('%') {
                let slot = match pct.trim() {
                    "50" => 0,
                    "75" => 1,
                    "90" => 2,
                    "99" => 3,
                    _ => return Err(format!("an unexpected percentile line {t:?}")),
                };
                percentiles[slot] = Some(parse_time(value.trim())?);
                continue;
            }
            in_distribution = false;
        }
        if let Some((n, rest)) = t.split_once(" requests in ") {
            // "3247 requests in 2.00s, 707.11KB read"
            requests = Some(n.trim().parse::<u64>().map_err(|e| format!("{t:?}: {e}"))?);
            let d = rest.split(',').next().unwrap_or_default().trim();
            duration = Some(parse_time(d)?);
        } else if let Some(v) = t.strip_prefix("Requests/sec:") {
            rps = Some(v.trim().parse::<f64>().map_err(|e| format!("{t:?}: {e}"))?);
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx_3xx = v.trim().parse().map_err(|e| format!("{t:?}: {e}"))?;
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            // "Socket errors: connect 0, read 12, write 0, timeout 3"
            for part in v.split(',') {
                let mut words = part.split_whitespace();
                let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                    return Err(format!("{t:?}"));
                };
                let n: u64 = n.parse().map_err(|e| format!("{t:?}: {e}"))?;
                match kind {
                    "connect" => socket_errors.connect = n,
                    "read" => socket_errors.read = n,
                    "write" => socket_errors.write = n,
                    "timeout" => socket_errors.timeout = n,
                    _ => return Err(format!("{t:?}")),
                }
            }
        }
    }
    let missing = |what: &str| format!("no {what} in the report");
    let [p50, p75, p90, p99] = percentiles;
    Ok(WrkResult {
        requests: requests.ok_or_else(|| missing("request count"))?,
        duration: duration.ok_or_else(|| missing("duration"))?,
        requests_per_sec: rps.ok_or_else(|| missing("Requests/sec"))?,
        p50: p50.ok_or_else(|| missing("50% latency"))?,
        p75: p75.ok_or_else(|| missing("75% latency"))?,
        p90: p90.ok_or_else(|| missing("90% latency"))?,
        p99: p99.ok_or_else(|| missing("99% latency"))?,
        non_2xx_3xx,
        socket_errors,
        report: report.to_string(),
    })
}

/// A time as wrk prints it: `812.00us`, `2.05ms`, `1.20s`, `1.50m`, `1.00h`.
pub fn parse_time(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("no unit in the time {text:?}"))?;
    let (n, unit) = text.split_at(split);
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|e| format!("the time {text:?}: {e}"))?;
    let seconds = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("an unknown unit in the time {text:?}")),
    };
    Ok(Duration::from_secs_f64(seconds))
}
