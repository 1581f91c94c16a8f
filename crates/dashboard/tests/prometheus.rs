//! Real Prometheus (Debian's `prometheus`) scrapes the dashboard's `/metrics`, and real
//! node_exporter (`prometheus-node-exporter`) serves the textfile the real `monitor
//! --sample` writes; the queries answer what the small lab holds.

mod common;
#[path = "../../../tests/support/prometheus.rs"]
mod prometheus;

use std::process::Command;
use std::time::Duration;

use common::{clock_env, Dashboard, Lab};
use prometheus::{NodeExporter, Prometheus, ScrapeTarget};

/// Prometheus' first value comes 5 to 7 s after its start (tests/support/prometheus.rs).
const FIRST_VALUE: Duration = Duration::from_secs(60);

#[test]
fn prometheus_scraping_the_dashboard_answers_bobs_gpu_and_alices_used_seconds() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let prom = Prometheus::start(&[ScrapeTarget::new("dashboard", &d.address())]);

    let booked = prom.wait_for(r#"aivc_gpu_booked{gpu="1"}"#, FIRST_VALUE, |s| s.len() == 1);
    assert_eq!(booked[0].value, 1.0);
    assert_eq!(booked[0].label("user"), Some("bob"));
    assert_eq!(booked[0].label("job"), Some("dashboard"));
    assert_eq!(booked[0].label("instance"), Some(d.address().as_str()));

    let used = prom.wait_for_value(
        r#"aivc_user_gpu_used_seconds{user="alice",window="7d"}"#,
        Duration::from_secs(10),
    );
    assert_eq!(used, 14400.0, "alice's 4 hours on GPU 0");
    // Nothing of the page was refused: Prometheus read it all.
    assert_eq!(
        prom.wait_for_value(r#"up{job="dashboard"}"#, Duration::from_secs(10)),
        1.0
    );
    assert_eq!(
        prom.wait_for_value(
            r#"count({job="dashboard",__name__=~"aivc_.*"})"#,
            Duration::from_secs(10)
        ),
        d.get("/metrics")
            .body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count() as f64,
        "every sample line is a series in Prometheus"
    );
}

#[test]
fn the_monitors_textfile_reaches_prometheus_through_node_exporter() {
    let lab = Lab::small();
    let node = NodeExporter::start();
    let textfile = node.textfile_dir.join("aivc.prom");
    std::fs::write(
        lab.path().join("cfg/dashboard.yaml"),
        format!("metrics_textfile: {}\n", textfile.display()),
    )
    .unwrap();

    let out = clock_env(&mut Command::new(common::sibling("monitor")))
        .arg("--root")
        .arg(lab.path())
        .arg("--sample")
        .env_remove("AIVC_DOCKER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "monitor --sample: {stderr}");
    assert!(!stderr.contains("MetricsWarning"), "{stderr}");
    let log = std::fs::read_to_string(lab.path().join("jobs/monitor.log")).unwrap_or_default();
    assert!(!log.contains("MetricsWarning"), "{log}");

    let text = std::fs::read_to_string(&textfile)
        .unwrap_or_else(|e| panic!("no textfile at {}: {e}", textfile.display()));
    assert!(
        text.lines().any(|l| l == "aivc_waitlist_entries 1"),
        "{text}"
    );
    // Written by a rename: no temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(&node.textfile_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["aivc.prom"]);
    // The same text the dashboard serves for the same files at the same clock.
    let d = Dashboard::start(lab.path());
    assert_eq!(d.get("/metrics").body, text);

    assert!(
        node.metrics().contains("\naivc_waitlist_entries 1\n"),
        "node_exporter does not serve the textfile:\n{}",
        node.metrics()
    );
    let prom = Prometheus::start(&[ScrapeTarget::new("node", &node.address())]);
    assert_eq!(
        prom.wait_for_value(r#"aivc_waitlist_entries{job="node"}"#, FIRST_VALUE),
        1.0
    );
    assert_eq!(
        prom.wait_for_value(
            r#"node_textfile_scrape_error{job="node"}"#,
            Duration::from_secs(10)
        ),
        0.0
    );
}
