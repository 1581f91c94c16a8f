//! Admission with GPU placement (in process) and `checker --json` (whole process) at 100,
//! 1,000 and 10,000 existing rows: medians, each next to a baseline from the same run.
//! Run: `cargo bench -p checker --bench checker` (GNU time gives the peak memory).
#![allow(clippy::print_stdout)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use checker::{admit, Context, Request};
use chrono::Duration as Span;
use hostinfo::Root;

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

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
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_checker");
    println!("| rows | admit + place (median) | baseline: one scan of the rows | ratio | checker --json (median) | baseline: checker --version | ratio | peak memory |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (mut admits, mut jsons) = (Vec::new(), Vec::new());
    for n in synthetic_lab::sizes() {
        let dir = tempfile::tempdir().unwrap();
        let base = synthetic_lab::now_slot();
        let rows = synthetic_lab::rows(n, base);
        synthetic_lab::write_root(dir.path(), &rows);
        let config = Root::at(dir.path()).load_config().unwrap();
        let ctx = Context {
            config: &config,
            rows: rows.iter().collect(),
            now_slot: base,
        };
        let req = Request {
            user_id: "bench".into(),
            cpus: 4.0,
            memory: 16,
            gpus: 1,
            start: base + Span::days(3),
            end: base + Span::days(4),
            forward_port: 10999,
            image: None,
            node: checker::NodeChoice::Any,
        };
        if let Err(refusal) = admit(&ctx, &req) {
            panic!("the benchmark request must be admitted at {n} rows: {refusal}");
        }
        let admit_t = time(201, || admit(&ctx, &req).unwrap());
        let scan_t = time(201, || {
            rows.iter()
                .filter(|r| r.overlaps(req.start, req.end))
                .count()
        });

        let json = || {
            let mut c = Command::new(bin);
            c.arg("--root")
                .arg(dir.path())
                .arg("--json")
                .env("AIVC_NO_NVML", "1");
            c
        };
        let run = |mut c: Command| {
            let out = c.output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "the synthetic schedule must have no problems: {}",
                String::from_utf8_lossy(&out.stdout)
                    .chars()
                    .take(2000)
                    .collect::<String>()
            );
            out.stdout.len()
        };
        let process_t = time(31, || run(json()));
        admits.push((n, admit_t.as_secs_f64()));
        jsons.push((n, process_t.as_secs_f64()));
        let version_t = time(31, || {
            let mut c = Command::new(bin);
            c.arg("--version");
            run(c)
        });
        let args = [
            OsStr::new("--root"),
            dir.path().as_os_str(),
            OsStr::new("--json"),
        ];
        let peak = synthetic_lab::peak_mb(Path::new(bin), &args, b"")
            .map_or("n/a (no /usr/bin/time)".into(), |mb| format!("{mb:.1} MB"));
        println!(
            "| {n} | {} | {} | {:.1}× | {} | {} | {:.1}× | {peak} |",
            ms(admit_t),
            ms(scan_t),
            admit_t.as_secs_f64() / scan_t.as_secs_f64(),
            ms(process_t),
            ms(version_t),
            process_t.as_secs_f64() / version_t.as_secs_f64(),
        );
    }
    println!("\n{}", synthetic_lab::growth("admission", &admits));
    println!("{}", synthetic_lab::growth("checker --json", &jsons));
}
