//! Admission with GPU placement (in process) and `checker --json` (whole process) at 100,
//! 1,000 and 10,000 existing rows: medians, each next to a baseline from the same run.
//! Run: `cargo bench -p checker --bench checker` (GNU time gives the peak memory).
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use checker::{admit, Context, Request};
use chrono::{Duration as Span, NaiveDate, NaiveDateTime};
use hostinfo::schedule::{self, GpuSet, Row};
use hostinfo::Root;

const GPUS: u32 = 8;

fn base() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 21)
        .unwrap()
        .and_hms_opt(16, 0, 0)
        .unwrap()
}

const USERS: usize = 50;

/// `n` rows over the next two weeks for 50 users, each user's bookings back to back with a
/// gap, users 0..6 each on their own GPU: a busy lab's shape, scaled, with no problems.
fn rows(n: usize) -> Vec<Row> {
    let per_user = n.div_ceil(USERS) as i64;
    let spacing = ((14 * 24 * 60 / per_user) / 30 * 30).max(60);
    let length = (spacing / 2 / 30 * 30).max(30);
    (0..n)
        .map(|i| {
            let (u, j) = (i % USERS, (i / USERS) as i64);
            let start = base() + Span::minutes(spacing * j);
            Row {
                start,
                end: start + Span::minutes(length),
                user_id: format!("u{u:03}"),
                cpus: 1.0 + (i % 4) as f64,
                memory: 4,
                gpus: GpuSet::new((u < 7).then_some(u as u32).into_iter().collect()),
                forward_port: 10001 + u as u16,
                image: None,
                extra_command: None,
            }
        })
        .collect()
}

fn write_root(dir: &Path, rows: &[Row]) {
    std::fs::create_dir_all(dir.join("cfg")).unwrap();
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("cfg/host_deploy.yaml"),
        "volume_work_dir: /w\nvolume_dataset_dir: /d\nvolume_backup_dir: /b\nusers_config_yaml: ./cfg/users_config.yaml\ncapability_config_yaml: ./cfg/capability_config.yaml\nimages: [img]\ntimezone: Asia/Taipei\n",
    )
    .unwrap();
    let cap = format!(
        "max:\n  cpus: 100000\n  ram: 400000\n  swap_size: 0\n  gpus: {GPUS}\n  backup_space: 1\n  work_space: 1\nallow_userIDs: [bench]\nmax_default_capability:\n  cpus: 8\n  memory: 32\n  gpus: 1\n"
    );
    let mut users = String::new();
    for u in 0..USERS {
        let id = format!("u{u:03}");
        users.push_str(&format!(
            "{id}:\n  password: pw{u}\n  forward_port: {}\n  image: null\n  extra_command: null\n  volume_work_dir: /w/{id}\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/{id}\n",
            10001 + u
        ));
    }
    let ids: Vec<String> = (0..USERS).map(|u| format!("u{u:03}")).collect();
    let cap = cap.replace("[bench]", &format!("[bench, {}]", ids.join(", ")));
    std::fs::write(dir.join("cfg/capability_config.yaml"), cap).unwrap();
    std::fs::write(dir.join("cfg/users_config.yaml"), users).unwrap();
    std::fs::write(dir.join("jobs/booking.csv"), schedule::to_bytes(rows)).unwrap();
    std::fs::write(dir.join("jobs/using.csv"), schedule::HEADER_LINE).unwrap();
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
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Peak resident memory of one run, in MB, from GNU time.
fn peak_mb(cmd: &mut Command) -> Option<f64> {
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let kb: f64 = text.lines().last()?.trim().parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_checker");
    println!("| rows | admit + place (median) | baseline: one scan of the rows | ratio | checker --json (median) | baseline: checker --version | ratio | peak memory |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [100usize, 1_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let rows = rows(n);
        write_root(dir.path(), &rows);
        let config = Root::at(dir.path()).load_config().unwrap();
        let ctx = Context {
            config: &config,
            rows: rows.iter().collect(),
            now_slot: base(),
        };
        let req = Request {
            user_id: "bench".into(),
            cpus: 4.0,
            memory: 16,
            gpus: 1,
            start: base() + Span::days(3),
            end: base() + Span::days(4),
            forward_port: 10999,
            image: None,
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
        let version_t = time(31, || {
            let mut c = Command::new(bin);
            c.arg("--version");
            run(c)
        });
        let peak = peak_mb(&mut json())
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
}
