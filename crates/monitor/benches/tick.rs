//! A monitor tick as a whole process (docker replaced by `true`, which exits 0) at 100,
//! 1,000 and 10,000 rows, and at 10,000 rows with a 1,000,000-row used.csv: medians, next
//! to `monitor --version` (process start) from the same run.
//! Run: `cargo bench -p monitor --bench tick`.
#![allow(clippy::print_stdout)]

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn tick(bin: &Path, root: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new(bin)
        .arg("--root")
        .arg(root)
        .env("AIVC_DOCKER", "true")
        .env("AIVC_NO_NVML", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

fn main() {
    let bin = Path::new(env!("CARGO_BIN_EXE_monitor"));
    let version = median(
        (0..31)
            .map(|_| {
                let t = Instant::now();
                Command::new(bin)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                t.elapsed()
            })
            .collect(),
    );
    println!("| rows | used.csv rows | tick (median) | baseline: monitor --version | ratio | peak memory |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let first = synthetic_lab::now_slot() + chrono::Duration::minutes(30);
    let mut cases: Vec<(usize, usize)> =
        synthetic_lab::sizes().into_iter().map(|n| (n, 0)).collect();
    cases.push((10_000, 1_000_000));
    let mut points = Vec::new();
    for (n, history) in cases {
        let dir = tempfile::tempdir().unwrap();
        // Nothing due now: the steady state of a tick between bookings.
        synthetic_lab::write_root(dir.path(), &synthetic_lab::rows(n, first));
        if history > 0 {
            let row = "2026-01-01 09:00:00,2026-01-01 10:00:00,u001,1.0,4,[],10002,,\n";
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(dir.path().join("jobs/used.csv"))
                .unwrap();
            let block = row.repeat(10_000);
            for _ in 0..history / 10_000 {
                f.write_all(block.as_bytes()).unwrap();
            }
        }
        let t = median((0..31).map(|_| tick(bin, dir.path())).collect());
        if history == 0 {
            points.push((n, t.as_secs_f64()));
        }
        let args = [OsStr::new("--root"), dir.path().as_os_str()];
        std::env::set_var("AIVC_DOCKER", "true");
        let peak = synthetic_lab::peak_mb(bin, &args, b"")
            .map_or("n/a".into(), |mb| format!("{mb:.1} MB"));
        println!(
            "| {n} | {history} | {} | {} | {:.1}× | {peak} |",
            ms(t),
            ms(version),
            t.as_secs_f64() / version.as_secs_f64()
        );
    }
    println!("\n{}", synthetic_lab::growth("monitor tick", &points));
}
