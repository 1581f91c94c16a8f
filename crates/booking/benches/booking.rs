//! A non-interactive booking and `booking -ls` (the listing, into a file) as whole processes
//! at 100, 1,000 and 10,000 existing rows, each on the plain synthetic lab and on the same
//! lab with 10 groups and every policy on (`synthetic_lab::write_root_with_groups`), and
//! `booking --help`: medians, next to `booking --version` (process start) from the same run.
//! The two labs' samples are taken in turn, so drift on the machine touches both alike.
//! Run: `cargo bench -p booking --bench booking` (GNU time gives the peak memory);
//! `AIVC_BENCH_ROWS=10000` for one size.
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
        "| rows | booking --yes (median) | with 10 groups, all policies (median) | baseline: booking --version | ratio | ratio with groups | peak memory (plain / groups) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut points = Vec::new();
    let mut grouped_points = Vec::new();
    for n in synthetic_lab::sizes() {
        let rows = synthetic_lab::rows(n, synthetic_lab::now_slot());
        let plain = tempfile::tempdir().unwrap();
        synthetic_lab::write_root(plain.path(), &rows);
        let grouped = tempfile::tempdir().unwrap();
        synthetic_lab::write_root_with_groups(grouped.path(), &rows);
        let pristine = std::fs::read(plain.path().join("jobs/booking.csv")).unwrap();
        let args = |dir: &Path| -> Vec<std::ffi::OsString> {
            let mut args: Vec<std::ffi::OsString> = vec!["--root".into(), dir.into()];
            args.extend(
                [
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
                .map(Into::into),
            );
            args
        };
        let labs = [plain.path(), grouped.path()].map(|dir| (dir, args(dir)));
        let mut samples = [Vec::new(), Vec::new()];
        for _ in 0..31 {
            for (i, (dir, args)) in labs.iter().enumerate() {
                std::fs::write(dir.join("jobs/booking.csv"), &pristine).unwrap();
                let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
                let (t, code) = run(bin, &args, b"bench-pw\n");
                assert_eq!(
                    code,
                    0,
                    "the benchmark booking must succeed at {n} rows ({})",
                    ["plain", "with groups"][i]
                );
                samples[i].push(t);
            }
        }
        let peaks: Vec<String> = labs
            .iter()
            .map(|(dir, args)| {
                std::fs::write(dir.join("jobs/booking.csv"), &pristine).unwrap();
                let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
                synthetic_lab::peak_mb(bin, &args, b"bench-pw\n")
                    .map_or("n/a".into(), |mb| format!("{mb:.1} MB"))
            })
            .collect();
        let [t, g] = samples.map(median);
        points.push((n, t.as_secs_f64()));
        grouped_points.push((n, g.as_secs_f64()));
        println!(
            "| {n} | {} | {} | {} | {:.1}× | {:.1}× | {} / {} |",
            ms(t),
            ms(g),
            ms(version),
            t.as_secs_f64() / version.as_secs_f64(),
            g.as_secs_f64() / version.as_secs_f64(),
            peaks[0],
            peaks[1]
        );
    }
    println!("\n{}", synthetic_lab::growth("booking --yes", &points));
    println!(
        "{}",
        synthetic_lab::growth("booking --yes with groups", &grouped_points)
    );
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

/// `booking -ls` on the plain lab, and on the lab with groups: without a user (the group
/// table) and with `--user-id bench` (the group line and the limits).
fn list_schedule(bin: &Path, version: Duration) {
    println!();
    println!("| rows | booking -ls into a file (median) | with 10 groups | with 10 groups and --user-id | baseline: booking --version | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut points = Vec::new();
    for n in synthetic_lab::sizes() {
        let rows = synthetic_lab::rows(n, synthetic_lab::now_slot());
        let plain = tempfile::tempdir().unwrap();
        synthetic_lab::write_root(plain.path(), &rows);
        let grouped = tempfile::tempdir().unwrap();
        synthetic_lab::write_root_with_groups(grouped.path(), &rows);
        let runs: [(&Path, &[&str]); 3] = [
            (plain.path(), &["-ls"]),
            (grouped.path(), &["-ls"]),
            (grouped.path(), &["-ls", "--user-id", "bench"]),
        ];
        let out = plain.path().join("listing.txt");
        let mut samples = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..31 {
            for (i, (dir, extra)) in runs.iter().enumerate() {
                let mut args: Vec<&OsStr> = vec![OsStr::new("--root"), dir.as_os_str()];
                args.extend(extra.iter().map(OsStr::new));
                let (t, code) = run_to_file(bin, &args, &out);
                assert_eq!(code, 0, "the listing must succeed at {n} rows ({extra:?})");
                samples[i].push(t);
            }
        }
        let [t, g, u] = samples.map(median);
        points.push((n, t.as_secs_f64()));
        println!(
            "| {n} | {} | {} | {} | {} | {:.1}× |",
            ms(t),
            ms(g),
            ms(u),
            ms(version),
            t.as_secs_f64() / version.as_secs_f64()
        );
    }
    println!("\n{}", synthetic_lab::growth("booking -ls", &points));
}
