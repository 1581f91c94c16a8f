//! `checker usage` run as the real binary on a lab root whose schedule files and usage
//! samples (written through `Root::append_usage`, as the sampler does) are known to the
//! minute: the JSON parses back into `UsageReport` with exact hours, the terminal form is
//! the same report in tables, and a `--days` out of range is one line and exit 2.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use checker::usage::{GroupUsage, UsageReport, UserUsage};
use chrono::NaiveDateTime;
use hostinfo::usage::{Sample, Subject};
use hostinfo::Root;

/// The window of `--days 7` is [2026-11-14 12:00, 2026-11-21 12:00).
const NOW: &str = "2026-11-21 12:00";

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

fn checker(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", NOW)
        .output()
        .unwrap()
}

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn gpu(at: &str, index: u32, util: u32) -> Sample {
    Sample {
        time: t(at),
        subject: Subject::Gpu(index),
        gpu_util_percent: Some(util),
        gpu_memory_mib: Some(2000),
        cpu_percent: None,
        memory_mib: None,
    }
}

/// The lab (2 GPUs) with groups phd (bob, carol) and staff (dave), and:
///
/// - used.csv: bob on GPU 0 from before the window to 2 hours into it; carol on both GPUs
///   for 2 hours;
/// - using.csv: alice on GPU 0, 3 of her 4 hours before now;
/// - booking.csv: bob on GPU 1 for an hour today, never started; dave tomorrow;
///
/// and samples that give, to the minute: bob 3 (the first in the window, 2026-11-14 12:03,
/// reaches back only to the window's start) + 10 (after a gap, at most 10); carol 10 + 5 +
/// 5 on GPU 0 and 5 on GPU 1 (its 09:00 sample under 5 % is not use); alice 10 + 5;
/// unbooked 10 (GPU 1 at 11:00, when bob's hour is over). One sample before the window and
/// one at now are left out.
fn lab() -> tempfile::TempDir {
    let dir = common::root_from("lab");
    let p = dir.path();
    let cap = p.join("cfg/capability_config.yaml");
    let mut text = std::fs::read_to_string(&cap).unwrap();
    text.push_str("groups:\n  phd:\n    members: [bob, carol]\n  staff:\n    members: [dave]\n");
    std::fs::write(cap, text).unwrap();
    std::fs::write(
        p.join("jobs/used.csv"),
        format!(
            "{HEADER}\
2026-11-13 12:00:00,2026-11-14 14:00:00,bob,2.0,8,[0],10002,,
2026-11-20 09:00:00,2026-11-20 11:00:00,carol,2.0,8,\"[0, 1]\",10003,,
"
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/using.csv"),
        format!("{HEADER}2026-11-21 09:00:00,2026-11-21 13:00:00,alice,4.0,16,[0],10001,,\n"),
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/booking.csv"),
        format!(
            "{HEADER}\
2026-11-21 10:00:00,2026-11-21 11:00:00,bob,2.0,8,[1],10002,,
2026-11-22 09:00:00,2026-11-22 10:00:00,dave,2.0,8,[1],10004,,
"
        ),
    )
    .unwrap();
    Root::at(p)
        .append_usage(&[
            gpu("2026-11-14 11:00", 0, 100),
            gpu("2026-11-14 12:03", 0, 100),
            gpu("2026-11-20 09:00", 0, 80),
            gpu("2026-11-20 09:00", 1, 3),
            gpu("2026-11-20 09:05", 0, 80),
            gpu("2026-11-20 09:05", 1, 50),
            gpu("2026-11-20 09:10", 0, 80),
            gpu("2026-11-21 09:30", 0, 100),
            gpu("2026-11-21 09:35", 0, 100),
            gpu("2026-11-21 10:30", 1, 90),
            gpu("2026-11-21 11:00", 1, 90),
            gpu("2026-11-21 12:00", 1, 90),
        ])
        .unwrap();
    dir
}

fn minutes(m: i64) -> f64 {
    m as f64 / 60.0
}

#[test]
fn the_json_report_has_each_users_and_groups_booked_and_used_hours_to_the_minute() {
    let root = lab();
    let out = checker(root.path(), &["usage", "--json", "--days", "7"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON document on one line");
    let report: UsageReport = serde_json::from_str(&text).unwrap();
    let user = |id: &str, group: Option<&str>, booked: f64, used: i64| UserUsage {
        id: id.into(),
        group: group.map(Into::into),
        booked_gpu_hours: booked,
        used_gpu_hours: minutes(used),
    };
    assert_eq!(
        report,
        UsageReport {
            days: 7,
            from: "2026-11-14 12:00:00".into(),
            to: "2026-11-21 12:00:00".into(),
            busy_percent: 5,
            // GPU 0: 3 + 10 + 5 + 5 + 10 + 5; GPU 1: 5 + 5 + 10 + 10; per GPU.
            sampled_hours: minutes(68) / 2.0,
            users: vec![
                user("carol", Some("phd"), 4.0, 25),
                user("alice", None, 3.0, 15),
                user("bob", Some("phd"), 3.0, 13),
            ],
            groups: vec![
                GroupUsage {
                    name: "phd".into(),
                    booked_gpu_hours: 7.0,
                    used_gpu_hours: minutes(38),
                },
                GroupUsage {
                    name: "staff".into(),
                    booked_gpu_hours: 0.0,
                    used_gpu_hours: 0.0,
                },
            ],
            unbooked_gpu_hours: minutes(10),
        }
    );
}

#[test]
fn the_terminal_report_shows_the_same_numbers_in_tables() {
    let root = lab();
    let out = checker(root.path(), &["usage", "--days", "7"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "\
GPU usage over the last 7 days: 2026-11-14 12:00:00 to 2026-11-21 12:00:00
Sampled: 0.57 of 168 hours per GPU; a GPU counts as used at 5 % utilisation or more.

user   group  booked GPU-h  used GPU-h  used/booked
carol  phd            4.00        0.42         10 %
alice  -              3.00        0.25          8 %
bob    phd            3.00        0.22          7 %

group  booked GPU-h  used GPU-h  used/booked
phd            7.00        0.63          9 %
staff          0.00        0.00            -

Unbooked: 0.17 GPU-h of busy GPU time no booking held.
"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn the_default_window_is_30_days_and_a_root_without_samples_has_none_sampled() {
    let root = common::root_from("lab");
    let out = checker(root.path(), &["--json", "usage"]);
    assert_eq!(out.status.code(), Some(0));
    let report: UsageReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.days, 30);
    assert_eq!(report.from, "2026-10-22 12:00:00");
    assert_eq!(report.sampled_hours, 0.0);
    // The lab's bob, 2026-11-20 09:00-12:00, had no GPU; alice's running booking has one.
    let ids: Vec<&str> = report.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["alice"]);
    assert_eq!(report.users[0].booked_gpu_hours, 3.0);
}

#[test]
fn days_outside_1_to_90_are_a_one_line_error_and_exit_2() {
    let root = lab();
    for days in ["0", "91"] {
        let out = checker(root.path(), &["usage", "--days", days]);
        assert_eq!(out.status.code(), Some(2), "{days}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("checker: error: --days must be 1 to 90, not {days}\n")
        );
        assert!(out.stdout.is_empty());
    }
}
