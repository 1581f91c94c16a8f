//! Loading a large `booking.csv`: median of repeated loads, next to a baseline measured in
//! the same run (reading the bytes and counting lines, the floor any parser pays).
//! Run: `cargo bench -p hostinfo --bench load`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::{Duration as Span, NaiveDate};
use hostinfo::schedule::{self, GpuSet, Row};

fn rows(n: usize) -> Vec<Row> {
    let base = NaiveDate::from_ymd_opt(2026, 11, 23)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    (0..n)
        .map(|i| {
            let start = base + Span::minutes(30 * (i as i64 % 600));
            Row {
                start,
                end: start + Span::hours(2 + (i as i64 % 40)),
                user_id: format!("u{:03}", i % 50),
                cpus: (1 + i % 8) as f64,
                memory: 4 << (i % 4),
                gpus: if i % 3 == 0 {
                    GpuSet::new(vec![(i % 8) as u32])
                } else {
                    GpuSet::default()
                },
                forward_port: 10001 + (i % 50) as u16,
                image: (i % 5 == 0).then(|| "rober5566a/aivc-server:latest".to_string()),
                extra_command: (i % 7 == 0).then(|| "echo ready".to_string()),
                node: None,
            }
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(f());
        samples.push(started.elapsed());
    }
    median(samples)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!("| rows | load booking.csv (median) | baseline: read + count lines | ratio |");
    println!("|---:|---:|---:|---:|");
    let sizes: Vec<usize> = std::env::var("AIVC_BENCH_ROWS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_000, 10_000, 100_000]);
    for n in sizes {
        let path = dir.path().join(format!("booking-{n}.csv"));
        std::fs::write(&path, schedule::to_bytes(&rows(n))).unwrap();
        let runs = if n >= 100_000 { 21 } else { 101 };
        let load = time(runs, || schedule::read(&path).unwrap().rows.len());
        let base = time(runs, || {
            std::fs::read(&path)
                .unwrap()
                .iter()
                .filter(|b| **b == b'\n')
                .count()
        });
        println!(
            "| {n} | {:.3} ms | {:.3} ms | {:.1}× |",
            load.as_secs_f64() * 1e3,
            base.as_secs_f64() * 1e3,
            load.as_secs_f64() / base.as_secs_f64()
        );
    }
}
