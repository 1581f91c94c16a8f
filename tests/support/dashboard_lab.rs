//! Labs for the dashboard's tests and benchmarks (included with `#[path]`): a small one
//! with every kind of row, a waitlist, groups, secrets that must never be shown and usage
//! samples; and a big one (10,000 rows, weeks of samples for 8 GPUs).
#![allow(dead_code)]

use std::path::Path;

use chrono::{Duration, NaiveDateTime};
use hostinfo::schedule::{self, GpuSet, Row};
use hostinfo::usage::{Sample, Subject};

/// Strings the small lab keeps in places the web must never show.
pub const SECRETS: [&str; 4] = [
    "pw-alice-7Hq2",
    "alice@lab.example",
    "SECRET-EXTRA-CMD",
    "smtp-pass-91x",
];

pub fn row(user: &str, start: NaiveDateTime, hours: i64, gpus: &[u32], port: u16) -> Row {
    Row {
        start,
        end: start + Duration::hours(hours),
        user_id: user.into(),
        cpus: 4.0,
        memory: 16,
        gpus: GpuSet::new(gpus.to_vec()),
        forward_port: port,
        image: None,
        extra_command: Some(format!("echo {}", SECRETS[2])),
        node: None,
    }
}

fn user_entry(id: &str, password: &str, port: u16, email: Option<&str>) -> String {
    format!(
        "{id}:\n  password: {password}\n  forward_port: {port}\n  image: null\n  extra_command: \"echo {}\"\n{}  volume_work_dir: /w/{id}\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/{id}\n",
        SECRETS[2],
        email.map_or(String::new(), |e| format!("  email: {e}\n"))
    )
}

/// The small lab at `now` (a slot boundary, UTC): 4 GPUs; alice and bob in group `phd`,
/// carol in `msc`, dave in none. alice held GPU 0 for 4 hours yesterday (used.csv); bob
/// runs now on GPUs 1 and 2 until 3 hours from now (using.csv); carol books GPU 0
/// tomorrow and dave GPU 3 in three days (booking.csv); erin waits for 2 GPUs. Samples every
/// 5 minutes for the last `sample_days` days: GPU 0 busy 80 % during alice's booking, GPUs 1
/// and 2 busy 50 % during bob's, GPU 3 busy 90 % for the last hour while nobody holds it
/// (use outside bookings); bob's container at 150 % CPU.
pub fn write_small_lab(dir: &Path, now: NaiveDateTime, sample_days: i64) {
    std::fs::create_dir_all(dir.join("cfg")).unwrap();
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("cfg/host_deploy.yaml"),
        "volume_work_dir: /w\nvolume_dataset_dir: /d\nvolume_backup_dir: /b\nusers_config_yaml: ./cfg/users_config.yaml\ncapability_config_yaml: ./cfg/capability_config.yaml\nimages: [img]\ntimezone: UTC\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("cfg/capability_config.yaml"),
        "max:\n  cpus: 32\n  ram: 128\n  swap_size: 0\n  gpus: 4\n  backup_space: 100\n  work_space: 100\nallow_userIDs: [alice, bob, carol, dave, erin]\nmax_default_capability:\n  cpus: 16\n  memory: 64\n  gpus: 4\ngroups:\n  phd:\n    members: [alice, bob]\n    total: {gpus: 4}\n  msc:\n    members: [carol]\npolicies:\n  idle_reclaim: when_needed\n  idle_timeout_minutes: 60\n",
    )
    .unwrap();
    let users = [
        user_entry("alice", SECRETS[0], 10001, Some(SECRETS[1])),
        user_entry("bob", "pw-bob", 10002, None),
        user_entry("carol", "pw-carol", 10003, None),
        user_entry("dave", "pw-dave", 10004, None),
        user_entry("erin", "pw-erin", 10005, None),
    ]
    .concat();
    std::fs::write(dir.join("cfg/users_config.yaml"), users).unwrap();
    std::fs::write(
        dir.join("cfg/notify.yaml"),
        format!("admin_emails: [{}]\n", SECRETS[1]),
    )
    .unwrap();
    std::fs::write(
        dir.join("cfg/smtp-credentials"),
        format!("aivc\n{}\n", SECRETS[3]),
    )
    .unwrap();

    let alice = row("alice", now - Duration::hours(24), 4, &[0], 10001);
    let bob = row("bob", now - Duration::hours(2), 5, &[1, 2], 10002);
    let carol = row("carol", now + Duration::hours(24), 6, &[0], 10003);
    let dave = row("dave", now + Duration::hours(72), 2, &[3], 10004);
    std::fs::write(
        dir.join("jobs/used.csv"),
        schedule::to_bytes(std::slice::from_ref(&alice)),
    )
    .unwrap();
    std::fs::write(
        dir.join("jobs/using.csv"),
        schedule::to_bytes(std::slice::from_ref(&bob)),
    )
    .unwrap();
    std::fs::write(
        dir.join("jobs/booking.csv"),
        schedule::to_bytes(&[carol, dave]),
    )
    .unwrap();
    std::fs::write(dir.join("jobs/monitor_exec"), "").unwrap();
    let wl = hostinfo::waitlist::Entry {
        id: 1,
        joined: now - Duration::minutes(20),
        user_id: "erin".into(),
        cpus: 2.0,
        memory: 8,
        gpus: 2,
        minutes: 120,
        earliest_start: now,
        latest_start: now + Duration::hours(6),
        forward_port: 10005,
        image: None,
        extra_command: Some(format!("echo {}", SECRETS[2])),
    };
    let root = hostinfo::Root::at(dir);
    let lock = root.lock_exclusive("test").unwrap();
    root.write_waitlist(&[wl], &lock).unwrap();
    drop(lock);

    let mut samples = Vec::new();
    let mut t = crate_floor(now - Duration::days(sample_days));
    while t <= now {
        for g in 0..4u32 {
            let util = if g == 0 && alice.overlaps(t, t + Duration::seconds(1)) {
                80
            } else if (g == 1 || g == 2) && bob.overlaps(t, t + Duration::seconds(1)) {
                50
            } else if g == 3 && t > now - Duration::hours(1) {
                90
            } else {
                0
            };
            samples.push(Sample {
                time: t,
                subject: Subject::Gpu(g),
                gpu_util_percent: Some(util),
                gpu_memory_mib: Some(if util > 0 { 4000 } else { 0 }),
                cpu_percent: None,
                memory_mib: None,
            });
        }
        if bob.overlaps(t, t + Duration::seconds(1)) {
            samples.push(Sample {
                time: t,
                subject: Subject::User("bob".into()),
                gpu_util_percent: None,
                gpu_memory_mib: None,
                cpu_percent: Some(150.0),
                memory_mib: Some(2048),
            });
        }
        t += Duration::minutes(5);
    }
    root.append_usage(&samples).unwrap();
}

fn crate_floor(t: NaiveDateTime) -> NaiveDateTime {
    hostinfo::clock::floor_slot(t)
}

/// GPU samples every 5 minutes for `days` days up to `now` for `gpus` GPUs, utilisation
/// cycling, written through hostinfo (one file a day).
pub fn write_samples(dir: &Path, now: NaiveDateTime, days: i64, gpus: u32) {
    let root = hostinfo::Root::at(dir);
    let mut t = crate_floor(now - Duration::days(days));
    let mut day: Vec<Sample> = Vec::new();
    let mut i = 0u32;
    while t <= now {
        for g in 0..gpus {
            day.push(Sample {
                time: t,
                subject: Subject::Gpu(g),
                gpu_util_percent: Some((i * 7 + g * 13) % 100),
                gpu_memory_mib: Some(u64::from((i + g) % 40) * 1000),
                cpu_percent: None,
                memory_mib: None,
            });
        }
        i += 1;
        t += Duration::minutes(5);
        if day.len() > 20_000 {
            root.append_usage(&day).unwrap();
            day.clear();
        }
    }
    root.append_usage(&day).unwrap();
}
