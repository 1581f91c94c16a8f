//! A real Prometheus and a real node_exporter on loopback for the crates' tests (included
//! with `#[path]`; needs the dev-dependencies tempfile, serde_json and ureq): Debian's
//! `prometheus` scrapes the targets a test names every second, Debian's
//! `prometheus-node-exporter` serves what a textfile-collector folder holds, and the test
//! asks Prometheus' HTTP API what it stored. A missing program fails the test with the
//! package to install (scripts/test.sh installs both); nothing is skipped.
//!
//! Prometheus 2.42 hands new targets to its scrapers on a 5-second tick, so a first value
//! shows up some 5 to 7 s after the start however short the scrape interval: give
//! `wait_for` 30 s or more.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start listening (and Prometheus to be ready).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A loopback port nothing listens on now (the kernel's pick). A server started on it a
/// moment later may still lose a race for it: the servers here retry on another port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The program `name` on PATH, else `fallback`; panics naming the Debian `package`.
fn require_program(name: &str, fallback: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain([PathBuf::from(fallback)])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test runs a real {name} and there is none on PATH nor at {fallback}: \
                 install Debian's `{package}` package (apt-get install {package}; \
                 scripts/test.sh does it)"
            )
        })
}

/// The last `lines` lines of the file at `path` (a server's log).
fn log_tail(path: &Path, lines: usize) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A server process with its output in a log file; killed (and reaped) on drop.
#[derive(Debug)]
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program` with the arguments `args(port)` gives, its stdout and stderr in `log`,
/// until something accepts on the port; a start that lost its port to another process is
/// retried on a fresh one. `what` names it in failures.
fn start_server(
    what: &str,
    program: &Path,
    log: &Path,
    args: impl Fn(u16) -> Vec<String>,
) -> Server {
    let mut last = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(program)
            .args(args(port))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        let mut server = Server {
            child,
            port,
            log: log.to_path_buf(),
        };
        let until = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                last = format!(
                    "{what} exited ({status}); its log ends:\n{}",
                    log_tail(log, 30)
                );
                break;
            }
            if Instant::now() > until {
                panic!(
                    "{what} did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}; \
                     its log ends:\n{}",
                    log_tail(log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        if !last.contains("address already in use") {
            break;
        }
    }
    panic!("{last}");
}

/// One target for Prometheus to scrape: `address` is `host:port`, the job name becomes the
/// `job` label of everything scraped from it.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    pub job: String,
    pub address: String,
    pub metrics_path: String,
}

impl ScrapeTarget {
    /// `address`'s `/metrics`, as job `job`.
    pub fn new(job: &str, address: &str) -> ScrapeTarget {
        ScrapeTarget {
            job: job.to_string(),
            address: address.to_string(),
            metrics_path: "/metrics".to_string(),
        }
    }

    /// Another path than `/metrics`.
    pub fn metrics_path(mut self, path: &str) -> ScrapeTarget {
        self.metrics_path = path.to_string();
        self
    }
}

/// One sample of a query's answer: its labels and its value (a range vector's latest).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Debian's Prometheus on a free loopback port, scraping its targets every second, with
/// its TSDB in a temporary folder. Killed on drop.
#[derive(Debug)]
pub struct Prometheus {
    server: Server,
    pub port: u16,
    agent: ureq::Agent,
    /// When it was started, to tell how long its first answer took.
    pub started: Instant,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`scrape_interval: 1s`) and waits until it
    /// says it is ready; its first scrape comes some seconds later (see the module's note).
    pub fn start(targets: &[ScrapeTarget]) -> Prometheus {
        let program = require_program("prometheus", "/usr/bin/prometheus", "prometheus");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        // JSON is YAML: serde_json quotes every name and address correctly.
        let scrape_configs: Vec<serde_json::Value> = targets
            .iter()
            .map(|t| {
                serde_json::json!({
                    "job_name": t.job,
                    "metrics_path": t.metrics_path,
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{ "targets": [t.address] }],
                })
            })
            .collect();
        let yaml = serde_json::json!({
            "global": { "scrape_interval": "1s", "evaluation_interval": "1s" },
            "scrape_configs": scrape_configs,
        });
        std::fs::write(&config, serde_json::to_string_pretty(&yaml).unwrap()).unwrap();
        let tsdb = dir.path().join("tsdb");
        let started = Instant::now();
        let server = start_server(
            "prometheus",
            &program,
            &dir.path().join("prometheus.log"),
            |port| {
                vec![
                    format!("--config.file={}", config.display()),
                    format!("--storage.tsdb.path={}", tsdb.display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                    // Debian's defaults point at /etc/prometheus; nothing of it is wanted.
                    format!("--web.console.templates={}", dir.path().display()),
                    format!("--web.console.libraries={}", dir.path().display()),
                ]
            },
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        let prometheus = Prometheus {
            port: server.port,
            server,
            agent,
            started,
            _dir: dir,
        };
        prometheus.wait_ready();
        prometheus
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let until = Instant::now() + START_TIMEOUT;
        let url = format!("{}/-/ready", self.url());
        loop {
            if let Ok(r) = self.agent.get(&url).call() {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < until,
                "prometheus was not ready within {START_TIMEOUT:?}; its log ends:\n{}",
                self.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GETs `path` (with `query` parameters) from the HTTP API; its JSON answer, whatever
    /// the status (an error answer is JSON with "status": "error" too).
    pub fn api(&self, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
        let mut request = self.agent.get(format!("{}{path}", self.url()));
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        let mut response = request.call().unwrap_or_else(|e| {
            panic!(
                "GET {path} from prometheus: {e}; its log ends:\n{}",
                self.log_tail(30)
            )
        });
        let body = response.body_mut().read_to_string().unwrap();
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("prometheus answered GET {path} with no JSON ({e}): {body}"))
    }

    /// The answer of `GET /api/v1/query?query=PROMQL` as it came:
    /// `{"status":"success","data":{"resultType":"vector","result":[...]}}`.
    pub fn query(&self, promql: &str) -> serde_json::Value {
        self.api("/api/v1/query", &[("query", promql)])
    }

    /// The samples of `promql`'s answer now; panics when Prometheus refuses the query.
    pub fn samples(&self, promql: &str) -> Vec<Sample> {
        let answer = self.query(promql);
        samples_of(&answer).unwrap_or_else(|| panic!("prometheus refused {promql:?}: {answer}"))
    }

    /// Asks `promql` until the answer is non-empty and `ok` holds for it, or `timeout`
    /// passed; then panics with the last answer, the targets' health and the log's tail.
    pub fn wait_for(
        &self,
        promql: &str,
        timeout: Duration,
        ok: impl Fn(&[Sample]) -> bool,
    ) -> Vec<Sample> {
        let until = Instant::now() + timeout;
        loop {
            let answer = self.query(promql);
            if let Some(samples) = samples_of(&answer) {
                if !samples.is_empty() && ok(&samples) {
                    return samples;
                }
            } else if answer["errorType"] == "bad_data" {
                panic!("prometheus refused {promql:?}: {answer}");
            }
            if Instant::now() > until {
                panic!(
                    "prometheus did not answer {promql:?} as expected within {timeout:?}; \
                     its last answer: {answer}\nits targets:\n{}its log ends:\n{}",
                    self.targets_summary(),
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `wait_for` a single sample of `promql` and returns its value.
    pub fn wait_for_value(&self, promql: &str, timeout: Duration) -> f64 {
        self.wait_for(promql, timeout, |s| s.len() == 1)[0].value
    }

    /// One line per target: job, address, health, last error.
    pub fn targets_summary(&self) -> String {
        let answer = self.api("/api/v1/targets", &[]);
        let mut s = String::new();
        for t in answer["data"]["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let _ = writeln!(
                s,
                "  job {} {} {} {}",
                t["labels"]["job"], t["scrapeUrl"], t["health"], t["lastError"]
            );
        }
        if s.is_empty() {
            s = "  (none active yet)\n".into();
        }
        s
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.server.log, lines)
    }
}

/// The samples of a query's answer; `None` unless it succeeded.
pub fn samples_of(answer: &serde_json::Value) -> Option<Vec<Sample>> {
    if answer["status"] != "success" {
        return None;
    }
    let data = &answer["data"];
    let number = |v: &serde_json::Value| -> f64 {
        // [timestamp, "value"]; Prometheus writes NaN and ±Inf as strings too.
        v[1].as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let labels = |m: &serde_json::Value| -> BTreeMap<String, String> {
        m.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let result = &data["result"];
    Some(match data["resultType"].as_str() {
        Some("vector") => result
            .as_array()?
            .iter()
            .map(|r| Sample {
                labels: labels(&r["metric"]),
                value: number(&r["value"]),
            })
            .collect(),
        Some("matrix") => result
            .as_array()?
            .iter()
            .filter_map(|r| {
                Some(Sample {
                    labels: labels(&r["metric"]),
                    value: number(r["values"].as_array()?.last()?),
                })
            })
            .collect(),
        Some("scalar") => vec![Sample {
            labels: BTreeMap::new(),
            value: number(result),
        }],
        _ => return None,
    })
}

/// Debian's node_exporter on a free loopback port with only the textfile collector on,
/// reading the `*.prom` files of `textfile_dir`. Killed on drop.
#[derive(Debug)]
pub struct NodeExporter {
    server: Server,
    pub port: u16,
    pub textfile_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl NodeExporter {
    /// Starts it on a textfile folder of its own (`textfile_dir`, empty).
    pub fn start() -> NodeExporter {
        let dir = tempfile::tempdir().unwrap();
        let textfiles = dir.path().join("textfile");
        std::fs::create_dir(&textfiles).unwrap();
        Self::start_in(dir, textfiles)
    }

    /// Starts it reading the textfile folder `textfile_dir` (a test's own, e.g. the one a
    /// program under test writes).
    pub fn start_reading(textfile_dir: &Path) -> NodeExporter {
        Self::start_in(tempfile::tempdir().unwrap(), textfile_dir.to_path_buf())
    }

    fn start_in(dir: tempfile::TempDir, textfile_dir: PathBuf) -> NodeExporter {
        let program = require_program(
            "prometheus-node-exporter",
            "/usr/bin/prometheus-node-exporter",
            "prometheus-node-exporter",
        );
        let server = start_server(
            "prometheus-node-exporter",
            &program,
            &dir.path().join("node-exporter.log"),
            |port| {
                vec![
                    format!("--web.listen-address=127.0.0.1:{port}"),
                    // Only the textfile collector: nothing of the host, no Go runtime.
                    "--collector.disable-defaults".into(),
                    "--collector.textfile".into(),
                    format!("--collector.textfile.directory={}", textfile_dir.display()),
                    "--web.disable-exporter-metrics".into(),
                ]
            },
        );
        NodeExporter {
            port: server.port,
            server,
            textfile_dir,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`, a scrape target's address.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Writes `<name>.prom` into the textfile folder the way the collector's documentation
    /// asks: a temporary name first, then a rename, so a scrape never reads half a file.
    // A test's own temporary folder, none of the shared files hostinfo guards.
    #[allow(clippy::disallowed_methods)]
    pub fn write_textfile(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.textfile_dir.join(format!("{name}.prom"));
        let tmp = self.textfile_dir.join(format!(".{name}.prom.tmp"));
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }

    /// What it serves at `/metrics` now (a plain GET, for a failure message or a check of
    /// the textfile without Prometheus).
    pub fn metrics(&self) -> String {
        let mut response = ureq::get(format!("http://{}/metrics", self.address()))
            .call()
            .unwrap_or_else(|e| panic!("GET /metrics from node_exporter: {e}"));
        response.body_mut().read_to_string().unwrap()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.server.log, lines)
    }
}
