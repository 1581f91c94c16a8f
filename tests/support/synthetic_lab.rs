//! A synthetic busy lab for the benchmarks (included with `#[path]`): `n` rows over two
//! weeks for 50 users, each user's bookings back to back with a gap, users 0..6 each on
//! their own GPU of 8 (GPU 7 stays free), on a host big enough that nothing is over-booked.
#![allow(dead_code)]

use std::path::Path;

use chrono::{Duration, NaiveDateTime};
use hostinfo::schedule::{self, GpuSet, Row};

pub const USERS: usize = 50;
pub const GPUS: u32 = 8;

pub fn rows(n: usize, base: NaiveDateTime) -> Vec<Row> {
    let per_user = n.div_ceil(USERS) as i64;
    let spacing = ((14 * 24 * 60 / per_user) / 30 * 30).max(60);
    let length = (spacing / 2 / 30 * 30).max(30);
    (0..n)
        .map(|i| {
            let (u, j) = (i % USERS, (i / USERS) as i64);
            let start = base + Duration::minutes(spacing * j);
            Row {
                start,
                end: start + Duration::minutes(length),
                user_id: format!("u{u:03}"),
                cpus: 1.0 + (i % 4) as f64,
                memory: 4,
                gpus: GpuSet::new((u < 7).then_some(u as u32).into_iter().collect()),
                forward_port: 10001 + u as u16,
                image: None,
                extra_command: None,
                node: None,
            }
        })
        .collect()
}

/// Writes a root whose config allows the 50 users and `bench` (password `bench-pw`, port
/// 10999), in the UTC zone, with `rows` in booking.csv.
pub fn write_root(dir: &Path, rows: &[Row]) {
    std::fs::create_dir_all(dir.join("cfg")).unwrap();
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("cfg/host_deploy.yaml"),
        "volume_work_dir: /w\nvolume_dataset_dir: /d\nvolume_backup_dir: /b\nusers_config_yaml: ./cfg/users_config.yaml\ncapability_config_yaml: ./cfg/capability_config.yaml\nimages: [img]\ntimezone: UTC\n",
    )
    .unwrap();
    let ids: Vec<String> = (0..USERS).map(|u| format!("u{u:03}")).collect();
    std::fs::write(
        dir.join("cfg/capability_config.yaml"),
        format!(
            "max:\n  cpus: 100000\n  ram: 400000\n  swap_size: 0\n  gpus: {GPUS}\n  backup_space: 1\n  work_space: 1\nallow_userIDs: [bench, {}]\nmax_default_capability:\n  cpus: 8\n  memory: 32\n  gpus: 1\n",
            ids.join(", ")
        ),
    )
    .unwrap();
    let mut users = String::from("bench:\n  password: bench-pw\n  forward_port: 10999\n  image: null\n  extra_command: null\n  volume_work_dir: /w/bench\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/bench\n");
    for (u, id) in ids.iter().enumerate() {
        users.push_str(&format!(
            "{id}:\n  password: pw\n  forward_port: {}\n  image: null\n  extra_command: null\n  volume_work_dir: /w/{id}\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/{id}\n",
            10001 + u
        ));
    }
    std::fs::write(dir.join("cfg/users_config.yaml"), users).unwrap();
    std::fs::write(dir.join("jobs/booking.csv"), schedule::to_bytes(rows)).unwrap();
    std::fs::write(dir.join("jobs/using.csv"), schedule::HEADER_LINE).unwrap();
    std::fs::write(dir.join("jobs/used.csv"), schedule::HEADER_LINE).unwrap();
    std::fs::write(dir.join("jobs/monitor_exec"), "").unwrap();
}

/// How many groups [`write_root_with_groups`] makes; the users are spread over them in
/// order, `USERS / GROUPS` each.
pub const GROUPS: usize = 10;

/// [`write_root`], with [`GROUPS`] groups and every policy on: `u000`..`u004` and `bench`
/// in `g00`, `u005`..`u009` in `g01`, and so on. Each group has a tier, a total of all three
/// resources (which the rows never reach: each user holds one row at a time, at most 4
/// cpus, 4 GB and 1 GPU, so a group at most 20, 20 and 5; `bench`'s 4 cpus, 16 GB and 1 GPU
/// still fit) and policies of its own; the lab's four policies are loose enough for the
/// rows and for `bench`'s booking (24 hours, 1 GPU, 3 days ahead).
pub fn write_root_with_groups(dir: &Path, rows: &[Row]) {
    write_root(dir, rows);
    let ids: Vec<String> = (0..USERS).map(|u| format!("u{u:03}")).collect();
    let per_group = USERS / GROUPS;
    let mut groups = String::from("groups:\n");
    for (g, members) in ids.chunks(per_group).enumerate() {
        let bench = if g == 0 { "bench, " } else { "" };
        groups.push_str(&format!(
            "  g{g:02}:\n    members: [{bench}{}]\n    max_capability: {{cpus: 8, memory: 32, gpus: 1}}\n    total: {{cpus: 32, memory: 64, gpus: 6}}\n    policies: {{max_active_bookings: 500, max_hours_per_booking: 168}}\n",
            members.join(", ")
        ));
    }
    std::fs::write(
        dir.join("cfg/capability_config.yaml"),
        format!(
            "max:\n  cpus: 100000\n  ram: 400000\n  swap_size: 0\n  gpus: {GPUS}\n  backup_space: 1\n  work_space: 1\nallow_userIDs: [bench, {}]\nmax_default_capability:\n  cpus: 8\n  memory: 32\n  gpus: 1\n{groups}policies:\n  max_active_bookings: 1000\n  max_hours_per_booking: 336\n  max_gpu_hours_ahead: 1000\n  max_days_ahead: 14\n",
            ids.join(", ")
        ),
    )
    .unwrap();
}

/// The current slot in UTC, as the generated root's clock sees it.
pub fn now_slot() -> NaiveDateTime {
    hostinfo::clock::floor_slot(chrono::Utc::now().naive_utc())
}

/// Peak resident memory of one run of `program args`, in MB, from GNU time.
pub fn peak_mb(program: &Path, args: &[&std::ffi::OsStr], stdin: &[u8]) -> Option<f64> {
    use std::io::Write;
    let mut child = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(stdin).ok()?;
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let kb: f64 = text.lines().last()?.trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// The schedule sizes to measure: `AIVC_BENCH_ROWS` (comma-separated), else 100, 1,000, 10,000.
pub fn sizes() -> Vec<usize> {
    std::env::var("AIVC_BENCH_ROWS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![100, 1_000, 10_000])
}

/// How a cost grew between the two largest sizes, next to what n log n would give.
pub fn growth(what: &str, points: &[(usize, f64)]) -> String {
    let [.., (n1, t1), (n2, t2)] = points else {
        return String::new();
    };
    let nlogn = (*n2 as f64 * (*n2 as f64).ln()) / (*n1 as f64 * (*n1 as f64).ln());
    format!(
        "{what}: {n1} -> {n2} rows costs x{:.1}; n log n would be x{nlogn:.1} ({})",
        t2 / t1,
        if t2 / t1 <= nlogn { "within" } else { "ABOVE" }
    )
}
