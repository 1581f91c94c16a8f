//! The test harness proves itself before the dashboard's tests lean on it: a real headless
//! Chromium runs a page's scripts and photographs it, a real Prometheus scrapes a plain
//! `/metrics` and a real node_exporter's textfile collector, and wrk measures a server;
//! all against a tiny server of this file, no dashboard needed. Each test prints how long
//! its tools took (run with `--nocapture` to see).
#![allow(clippy::print_stderr)]

#[path = "../../../tests/support/browser.rs"]
mod browser;
#[path = "../../../tests/support/load.rs"]
mod load;
#[path = "../../../tests/support/prometheus.rs"]
mod prometheus;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use prometheus::{NodeExporter, Prometheus, ScrapeTarget};

/// The page: its script adds one element at once, one after a timer, and one with what a
/// fetch from the same server brought.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness self-test</title>
<style>body { font-family: sans-serif; } .big { font-size: 32px; }</style></head>
<body>
<h1 id="title" class="big">Harness &amp; self-test</h1>
<table id="t"><tr><td>alice</td><td><b>12</b>%</td></tr></table>
<ul id="list"></ul>
<script>
  const add = (id, text) => {
    const li = document.createElement("li");
    li.id = id; li.className = "added"; li.dataset.kind = "script";
    li.textContent = text;
    document.getElementById("list").appendChild(li);
  };
  add("at-once", "added at once");
  setTimeout(() => add("after-timer", "added after 2 s"), 2000);
  fetch("/data.json").then(r => r.json()).then(d => add("fetched", d.greeting));
</script>
</body></html>
"#;

const METRICS: &str = "# HELP aivc_selftest_value A value for the harness self-test.\n\
                       # TYPE aivc_selftest_value gauge\n\
                       aivc_selftest_value 42\n";

/// A tiny HTTP/1.1 server on a loopback port: a thread per connection, keep-alive, GET only.
struct Tiny {
    port: u16,
}

impl Tiny {
    fn start() -> Tiny {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        Tiny { port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
            let h = header.to_ascii_lowercase();
            close |= h.starts_with("connection:") && h.contains("close");
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let (status, kind, body) = match path {
            "/" => ("200 OK", "text/html; charset=utf-8", PAGE.to_string()),
            "/data.json" => (
                "200 OK",
                "application/json",
                r#"{"greeting":"fetched from the server"}"#.to_string(),
            ),
            "/metrics" => ("200 OK", "text/plain; version=0.0.4", METRICS.to_string()),
            _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
        };
        // One write: head and body in two would wait on Nagle and a delayed ACK (40 ms).
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
        if close {
            return;
        }
    }
}

#[test]
fn chromium_runs_the_page_scripts_and_dump_dom_shows_what_they_added() {
    let tiny = Tiny::start();
    let started = Instant::now();
    let dom = browser::dump_dom(&tiny.url("/"));
    let took = started.elapsed();
    eprintln!("dump_dom took {took:?}");
    browser::save_artifact("harness-selftest-page.html", dom.as_bytes());

    let at_once = browser::by_id(&dom, "at-once").expect("the element the script adds at once");
    assert_eq!(at_once.tag, "li");
    assert_eq!(at_once.text(), "added at once");
    assert_eq!(at_once.attr("data-kind"), Some("script"));
    assert!(at_once.has_class("added"));
    // Virtual time: the 2-second timer fired without the run taking 2 s more.
    let timer = browser::by_id(&dom, "after-timer");
    assert_eq!(
        timer.map(|e| e.text()).as_deref(),
        Some("added after 2 s"),
        "the timer's element is missing:\n{}",
        browser::outline(&dom)
    );
    // The fetch was answered before the dump.
    let fetched = browser::by_id(&dom, "fetched");
    assert_eq!(
        fetched.map(|e| e.text()).as_deref(),
        Some("fetched from the server"),
        "the fetch's element is missing:\n{}",
        browser::outline(&dom)
    );
    assert_eq!(browser::by_class(&dom, "added").len(), 3);
    assert_eq!(browser::by_tag(&dom, "li").len(), 3);
    assert_eq!(
        browser::by_id(&dom, "title").unwrap().text(),
        "Harness & self-test"
    );
    assert_eq!(browser::by_id(&dom, "t").unwrap().text(), "alice 12%");
    assert!(took < Duration::from_secs(30), "dump_dom took {took:?}");
}

#[test]
fn chromium_takes_a_png_screenshot_into_the_artifacts_folder() {
    let tiny = Tiny::start();
    let started = Instant::now();
    let png = browser::screenshot_artifact(&tiny.url("/"), "harness-selftest-page", 1280, 800);
    eprintln!("screenshot took {:?}: {}", started.elapsed(), png.display());
    assert!(png.starts_with(browser::artifacts_dir()));
    let bytes = std::fs::read(&png).unwrap();
    // The PNG's IHDR: width and height, big-endian, at bytes 16..24.
    assert_eq!(&bytes[16..20], &1280u32.to_be_bytes());
    assert_eq!(&bytes[20..24], &800u32.to_be_bytes());

    let narrow = browser::screenshot_artifact(&tiny.url("/"), "harness-selftest-page", 390, 844);
    let bytes = std::fs::read(&narrow).unwrap();
    assert_eq!(&bytes[16..24], &[0, 0, 1, 134, 0, 0, 3, 76]);
}

#[test]
fn prometheus_scrapes_a_metrics_page_and_the_node_exporter_textfile_and_answers_queries() {
    let tiny = Tiny::start();
    let node = NodeExporter::start();
    node.write_textfile(
        "selftest",
        "# HELP aivc_selftest_textfile A textfile value.\n\
         # TYPE aivc_selftest_textfile gauge\n\
         aivc_selftest_textfile 7\n",
    );
    assert!(
        node.metrics().contains("aivc_selftest_textfile 7"),
        "node_exporter does not serve the textfile:\n{}",
        node.metrics()
    );
    let prom = Prometheus::start(&[
        ScrapeTarget::new("selftest", &tiny.address()),
        ScrapeTarget::new("node", &node.address()),
    ]);
    let ready = prom.started.elapsed();

    let value = prom.wait_for("aivc_selftest_value", Duration::from_secs(60), |s| {
        s[0].value == 42.0
    });
    let first = prom.started.elapsed();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0].label("job"), Some("selftest"));
    assert_eq!(value[0].label("instance"), Some(tiny.address().as_str()));

    let textfile = prom.wait_for_value(
        r#"aivc_selftest_textfile{job="node"}"#,
        Duration::from_secs(60),
    );
    assert_eq!(textfile, 7.0);
    // The collector read the file without error.
    assert_eq!(
        prom.wait_for_value("node_textfile_scrape_error", Duration::from_secs(10)),
        0.0
    );
    // A computed answer and a refused one.
    assert_eq!(
        prom.wait_for_value(
            "aivc_selftest_value * on() aivc_selftest_textfile",
            Duration::from_secs(10)
        ),
        294.0
    );
    assert_eq!(prom.query("this is not promql")["status"], "error");
    eprintln!(
        "prometheus ready after {ready:?}, first value after {first:?}, all after {:?}",
        prom.started.elapsed()
    );
}

#[test]
fn wrk_measures_the_tiny_server_and_its_report_is_parsed() {
    let tiny = Tiny::start();
    let r = load::wrk(&tiny.url("/metrics"), 100, 2);
    eprintln!(
        "wrk: {} requests, {:.0}/s, p50 {:?} p75 {:?} p90 {:?} p99 {:?}",
        r.requests, r.requests_per_sec, r.p50, r.p75, r.p90, r.p99
    );
    assert!(r.requests > 100, "{}", r.report);
    assert!(r.requests_per_sec > 50.0, "{}", r.report);
    assert!(
        r.duration >= Duration::from_millis(1900) && r.duration < Duration::from_secs(5),
        "{}",
        r.report
    );
    assert!(r.p50 > Duration::ZERO, "{}", r.report);
    assert!(
        r.p50 <= r.p75 && r.p75 <= r.p90 && r.p90 <= r.p99,
        "{}",
        r.report
    );
    assert!(r.p99 < Duration::from_secs(2), "{}", r.report);
    assert_eq!(r.errors(), 0, "{}", r.report);
}

#[test]
fn wrk_reports_with_errors_and_every_time_unit_are_parsed() {
    let report = "Running 2s test @ http://127.0.0.1:1/\n  \
        2 threads and 100 connections\n  \
        Thread Stats   Avg      Stdev     Max   +/- Stdev\n    \
        Latency   812.00us    1.20ms   1.02s    97.39%\n    \
        Req/Sec    20.16k     1.40k   22.00k    60.00%\n  \
        Latency Distribution\n     \
        50%  812.00us\n     \
        75%    2.05ms\n     \
        90%    1.50s\n     \
        99%    1.00m\n  \
        80512 requests in 2.00s, 17.50MB read\n  \
        Socket errors: connect 1, read 2, write 3, timeout 4\n  \
        Non-2xx or 3xx responses: 17\n\
        Requests/sec:  40216.31\n\
        Transfer/sec:      8.74MB\n";
    let r = load::parse_wrk(report).unwrap();
    assert_eq!(r.requests, 80512);
    assert_eq!(r.duration, Duration::from_secs(2));
    assert_eq!(r.requests_per_sec, 40216.31);
    assert_eq!(r.p50, Duration::from_micros(812));
    assert_eq!(r.p75, Duration::from_micros(2050));
    assert_eq!(r.p90, Duration::from_millis(1500));
    assert_eq!(r.p99, Duration::from_secs(60));
    assert_eq!(r.non_2xx_3xx, 17);
    assert_eq!(
        r.socket_errors,
        load::SocketErrors {
            connect: 1,
            read: 2,
            write: 3,
            timeout: 4
        }
    );
    assert_eq!(r.errors(), 27);
    assert!(load::parse_wrk("Running 2s test\n").is_err());
}

#[test]
fn the_dom_helpers_find_elements_by_id_class_attribute_and_tag() {
    let html = r#"<html><head><script>if (a < b && "<p id=x>") {}</script></head>
        <body><!-- <p id="commented"> --><div id="outer" class="card wide" data-user="alice">
        <p>One &lt;two&gt; &amp; &#51;<br>four</p><div id="inner" hidden>in</div></div>
        <input id="q" value="a &quot;b&quot;"><p id="last">end</p></body></html>"#;
    let outer = browser::by_id(html, "outer").unwrap();
    assert_eq!(outer.tag, "div");
    assert!(outer.has_class("card") && outer.has_class("wide") && !outer.has_class("car"));
    assert_eq!(outer.text(), "One <two> & 3 four in");
    assert!(outer
        .inner_html
        .contains(r#"<div id="inner" hidden>in</div>"#));
    assert!(
        outer.outer_html.starts_with("<div id=\"outer\"") && outer.outer_html.ends_with("</div>")
    );
    assert_eq!(outer.descendants().len(), 3);
    assert_eq!(
        browser::by_id(html, "inner").unwrap().attr("hidden"),
        Some("")
    );
    assert_eq!(
        browser::by_id(html, "q").unwrap().attr("value"),
        Some("a \"b\"")
    );
    assert_eq!(
        browser::by_attr(html, "data-user", "alice")[0].id(),
        Some("outer")
    );
    assert_eq!(browser::with_attr(html, "hidden").len(), 1);
    assert_eq!(browser::by_class(html, "wide").len(), 1);
    assert_eq!(browser::by_tag(html, "p").len(), 2);
    assert_eq!(browser::by_id(html, "x"), None);
    assert_eq!(browser::by_id(html, "commented"), None);
    assert_eq!(browser::by_id(html, "last").unwrap().text(), "end");
    assert_eq!(browser::text_of("<span>a</span><span>b</span>"), "ab");
    assert_eq!(browser::text_of("<li>a</li><li>b</li>"), "a b");
}
