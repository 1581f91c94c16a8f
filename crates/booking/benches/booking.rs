//! A non-interactive booking and `booking -ls` (the listing, into a file) as whole processes
//! at 100, 1,000 and 10,000 existing rows, and `booking --help`: medians, next to
//! `booking --version` (process start) from the same run.
//! Run: `cargo bench -p booking --bench booking` (GNU time gives the peak memory).
#![allow(clippy::print_stdout)]

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

#[path = "../../../tests/support/process.rs"]
mod process;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn run(bin: &Path, args: &[&OsStr], stdin: &[u8]) -> (Duration, i32) {
    let started = Instant::now();
    let mut child = process::spawn_piped(Command::new(bin).args(args));
    process::feed(&mut child, stdin);
    let status = child.wait().unwrap();
    (started.elapsed(), status.code().unwrap_or(-1))
}

fn main() {
    let bin = Path::new(env!("CARGO_BIN_EXE_booking"));
    let version = median(
        (0..31)
            .map(|_| run(bin, &[OsStr::new("--version")], b"").0)
            .collect(),
    );
    let help = median(
        (0..31)
            .map(|_| run(bin, &[OsStr::new("--help")], b"").0)
            .collect(),
    );
    println!(
        "booking --help: {} median; baseline booking --version: {} ({:.2}×)\n",
        ms(help),
        ms(version),
        help.as_secs_f64() / version.as_secs_f64()
    );
    println!(
        "| rows | booking --yes (median) | baseline: booking --version | ratio | peak memory |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mut points = Vec::new();
    for n in synthetic_lab::sizes() {
        let dir = tempfile::tempdir().unwrap();
        let rows = synthetic_lab::rows(n, synthetic_lab::now_slot());
        synthetic_lab::write_root(dir.path(), &rows);
        let pristine = std::fs::read(dir.path().join("jobs/booking.csv")).unwrap();
        let args: Vec<&OsStr> = [
            "--root",
            dir.path().to_str().unwrap(),
            "--yes",
            "--password-stdin",
            "--user-id",
            "bench",
            "--cpus",
            "4",
            "--memory",
            "16",
            "--gpus",
            "1",
            "--start",
            "3-day",
            "--end",
            "1-day",
        ]
        .into_iter()
        .map(OsStr::new)
        .collect();
        let mut samples = Vec::new();
        for _ in 0..31 {
            std::fs::write(dir.path().join("jobs/booking.csv"), &pristine).unwrap();
            let (t, code) = run(bin, &args, b"bench-pw\n");
            assert_eq!(code, 0, "the benchmark booking must succeed at {n} rows");
            samples.push(t);
        }
        std::fs::write(dir.path().join("jobs/booking.csv"), &pristine).unwrap();
        let peak = synthetic_lab::peak_mb(bin, &args, b"bench-pw\n")
            .map_or("n/a".into(), |mb| format!("{mb:.1} MB"));
        let t = median(samples);
        points.push((n, t.as_secs_f64()));
        println!(
            "| {n} | {} | {} | {:.1}× | {peak} |",
            ms(t),
            ms(version),
            t.as_secs_f64() / version.as_secs_f64()
        );
    }
    println!("\n{}", synthetic_lab::growth("booking --yes", &points));
    list_schedule(bin, version);
}

/// `booking -ls` into a file, as `booking -ls > schedule.txt` or a pipe to a pager would.
fn run_to_file(bin: &Path, args: &[&OsStr], out: &Path) -> (Duration, i32) {
    let file = std::fs::File::create(out).unwrap();
    let started = Instant::now();
    let status = Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .status()
        .unwrap();
    (started.elapsed(), status.code().unwrap_or(-1))
}

fn list_schedule(bin: &Path, version: Duration) {
    println!();
    println!("| rows | booking -ls into a file (median) | baseline: booking --version | ratio |");
    println!("|---:|---:|---:|---:|");
    let mut points = Vec::new();
    for n in synthetic_lab::sizes() {
        let dir = tempfile::tempdir().unwrap();
        let rows = synthetic_lab::rows(n, synthetic_lab::now_slot());
        synthetic_lab::write_root(dir.path(), &rows);
        let args: Vec<&OsStr> = ["--root", dir.path().to_str().unwrap(), "-ls"]
            .into_iter()
            .map(OsStr::new)
            .collect();
        let out = dir.path().join("listing.txt");
        let samples: Vec<Duration> = (0..31)
            .map(|_| {
                let (t, code) = run_to_file(bin, &args, &out);
                assert_eq!(code, 0, "the listing must succeed at {n} rows");
                t
            })
            .collect();
        let t = median(samples);
        points.push((n, t.as_secs_f64()));
        println!(
            "| {n} | {} | {} | {:.1}× |",
            ms(t),
            ms(version),
            t.as_secs_f64() / version.as_secs_f64()
        );
    }
    println!("\n{}", synthetic_lab::growth("booking -ls", &points));
}
