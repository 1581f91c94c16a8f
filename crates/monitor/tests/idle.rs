//! Idle-GPU reclaim (docs/operations.md, Idle GPUs), end to end: the test writes the usage
//! samples the sampler would (`Root::append_usage`), runs the idle check the sampler runs
//! after each sampling (`monitor::idle::check`), then the real `monitor` tick with the fake
//! docker. A booking idle past its timeout is warned at 80 % and 95 %, then its end moves
//! to the next slot and that tick closes it; a busy booking, a kept-alive one and an idle
//! one nobody waits for (`when_needed`) are left alone.

mod common;

use chrono::{Duration, NaiveDateTime};
use hostinfo::notices::Kind;
use hostinfo::usage::{Sample, Subject};
use hostinfo::Root;
use monitor::idle::{check, Report};

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

/// A lab whose lab-wide `policies:` are `policies` (YAML lines, indented), with alice's
/// booking 09:00–13:00 on GPU 0 running in the fake docker.
fn lab(policies: &str) -> common::Lab {
    let lab = common::Lab::new(None);
    let cap = lab.path().join("cfg/capability_config.yaml");
    let mut text = std::fs::read_to_string(&cap).unwrap();
    text.push_str(&format!("policies:\n{policies}"));
    std::fs::write(cap, text).unwrap();
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 09:00:00,2026-11-23 13:00:00,alice,1.0,2,[0],10001,,\n"),
    )
    .unwrap();
    lab.fake_container(
        "alice",
        "a11ce\talice\trunning\talice\t$INSTALLATION\t2026-11-23 09:00:00\t2026-11-23 13:00:00\t\t10001\t2020-01-01T00:00:00Z\n",
    );
    std::fs::create_dir_all(lab.path().join("vol/work/alice")).unwrap();
    lab
}

const ALWAYS: &str = "  idle_reclaim: always\n  idle_timeout_minutes: 100\n";

/// One sampling of GPU 0 and alice's container at `at`.
fn sample(root: &Root, at: NaiveDateTime, util: u32, memory: u64, cpu: f64) {
    root.append_usage(&[
        Sample {
            time: at,
            subject: Subject::Gpu(0),
            gpu_util_percent: Some(util),
            gpu_memory_mib: Some(memory),
            cpu_percent: None,
            memory_mib: None,
        },
        Sample {
            time: at,
            subject: Subject::User("alice".into()),
            gpu_util_percent: None,
            gpu_memory_mib: None,
            cpu_percent: Some(cpu),
            memory_mib: Some(900),
        },
    ])
    .unwrap();
}

/// Samples every 5 minutes from `from` to `to` (both included), each followed by the check,
/// as the sampling timer runs them; the reports of the checks, in order.
fn run(root: &Root, from: &str, to: &str, util: u32, cpu: f64) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut at = t(from);
    while at <= t(to) {
        sample(root, at, util, 1000, cpu);
        reports.push(check(root, at).unwrap());
        at += Duration::minutes(5);
    }
    reports
}

fn using(lab: &common::Lab) -> String {
    lab.file("jobs/using.csv")
}

fn idle_lines(lab: &common::Lab) -> Vec<String> {
    lab.file("jobs/monitor.log")
        .lines()
        .filter(|l| l.contains("] Idle"))
        .map(String::from)
        .collect()
}

fn notices_of(root: &Root, kinds: &[Kind]) -> Vec<(String, String)> {
    root.read_notices()
        .unwrap()
        .into_iter()
        .filter(|n| kinds.contains(&n.kind))
        .map(|n| (n.kind.as_str().to_string(), n.text))
        .collect()
}

#[test]
fn an_idle_booking_is_warned_twice_then_reclaimed_and_closed_at_the_next_slot() {
    let lab = lab(ALWAYS);
    let root = Root::at(lab.path());
    // Idle from 09:00: 80 minutes at 10:20, 95 at 10:35, the timeout (100) at 10:40.
    let reports = run(&root, "2026-11-23 09:00", "2026-11-23 10:35", 0, 1.0);
    let warned: Vec<&String> = reports.iter().flat_map(|r| &r.warned).collect();
    assert_eq!(warned, ["alice 80", "alice 95"]);
    assert!(using(&lab).contains("2026-11-23 13:00:00,alice"), "not yet");

    let at_timeout = run(&root, "2026-11-23 10:40", "2026-11-23 10:40", 0, 1.0);
    assert_eq!(at_timeout[0].reclaimed, ["alice"]);
    assert_eq!(
        using(&lab),
        format!("{HEADER}2026-11-23 09:00:00,2026-11-23 11:00:00,alice,1.0,2,[0],10001,,\n"),
        "the end moved to the next slot"
    );
    assert_eq!(
        idle_lines(&lab),
        [
            "20261123 10:20 [WARNING] IdleWarning, alice's booking from 2026-11-23 09:00 has had idle GPUs for 80 of 100 minutes (80 % warning).",
            "20261123 10:35 [WARNING] IdleWarning, alice's booking from 2026-11-23 09:00 has had idle GPUs for 95 of 100 minutes (95 % warning).",
            "20261123 10:40 [WARNING] IdleReclaim, alice's booking from 2026-11-23 09:00 had idle GPUs for 100 minutes: it now ends at 2026-11-23 11:00 (was 2026-11-23 13:00).",
        ]
    );
    let notices = notices_of(&root, &[Kind::IdleWarning, Kind::IdleReclaimed]);
    let kinds: Vec<&str> = notices.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["idle_warning", "idle_warning", "idle_reclaimed"]);
    assert!(notices[0].1.contains("idle for 80 minutes"), "{notices:?}");
    assert!(
        notices[2].1.contains("it now ends at Mon 2026-11-23 11:00"),
        "{notices:?}"
    );
    // A later check changes nothing more: the booking ends at the next slot anyway.
    let again = run(&root, "2026-11-23 10:45", "2026-11-23 10:55", 0, 1.0);
    assert!(again.iter().all(|r| *r == Report::default()), "{again:?}");

    // The tick at 11:00 closes it like any ended booking; used.csv shows the real end.
    let out = lab.monitor("2026-11-23 11:00", &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        lab.fake_containers(),
        Vec::<String>::new(),
        "{}",
        lab.file("jobs/monitor.log")
    );
    assert_eq!(using(&lab), HEADER);
    assert!(
        lab.file("jobs/used.csv")
            .ends_with("2026-11-23 09:00:00,2026-11-23 11:00:00,alice,1.0,2,[0],10001,,\n"),
        "{}",
        lab.file("jobs/used.csv")
    );
}

#[test]
fn a_busy_booking_is_left_alone() {
    let lab = lab(ALWAYS);
    let root = Root::at(lab.path());
    // Quiet GPUs but a busy CPU, then a busy GPU: neither is idle.
    let cpu_busy = run(&root, "2026-11-23 09:00", "2026-11-23 10:00", 0, 180.0);
    let gpu_busy = run(&root, "2026-11-23 10:05", "2026-11-23 11:30", 93, 1.0);
    assert!(
        cpu_busy
            .iter()
            .chain(&gpu_busy)
            .all(|r| *r == Report::default()),
        "{gpu_busy:?}"
    );
    assert!(using(&lab).contains("2026-11-23 13:00:00,alice"));
    assert_eq!(idle_lines(&lab), Vec::<String>::new());
}

#[test]
fn gpu_memory_that_changes_is_not_idle() {
    let lab = lab(ALWAYS);
    let root = Root::at(lab.path());
    let mut at = t("2026-11-23 09:00");
    let mut reports = Vec::new();
    // A low-utilisation job that keeps allocating: the memory in use moves every sample.
    for i in 0..30 {
        sample(&root, at, 1, 1000 + i * 64, 1.0);
        reports.push(check(&root, at).unwrap());
        at += Duration::minutes(5);
    }
    assert!(reports.iter().all(|r| *r == Report::default()));
    assert!(using(&lab).contains("2026-11-23 13:00:00,alice"));
}

#[test]
fn no_samples_are_not_idle() {
    let lab = lab(ALWAYS);
    let root = Root::at(lab.path());
    // Idle samples that stop at 09:55: three hours later nothing is known, nothing happens.
    run(&root, "2026-11-23 09:00", "2026-11-23 09:55", 0, 1.0);
    assert_eq!(
        check(&root, t("2026-11-23 12:00")).unwrap(),
        Report::default()
    );
    assert!(using(&lab).contains("2026-11-23 13:00:00,alice"));
}

/// `at` in the lab's zone (Asia/Taipei, UTC+8 all year) as a file time.
fn file_time(at: NaiveDateTime) -> std::time::SystemTime {
    let utc = (at - Duration::hours(8)).and_utc().timestamp();
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(utc).unwrap())
}

#[test]
fn a_keep_alive_file_keeps_an_idle_booking_for_at_most_a_day() {
    let lab = lab(ALWAYS);
    let root = Root::at(lab.path());
    let dir = lab.path().join("vol/work/alice/.aivc");
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("keep-alive")).unwrap();
    file.set_modified(file_time(t("2026-11-23 09:10"))).unwrap();
    let reports = run(&root, "2026-11-23 09:00", "2026-11-23 11:00", 0, 1.0);
    assert!(reports
        .iter()
        .all(|r| r.warned.is_empty() && r.reclaimed.is_empty()));
    assert_eq!(reports.last().unwrap().kept_alive, ["alice"]);
    assert!(using(&lab).contains("2026-11-23 13:00:00,alice"));
    assert_eq!(idle_lines(&lab), Vec::<String>::new());

    // Touched more than a day ago (or set far ahead): not honoured.
    for stale in ["2026-11-22 09:00", "2026-11-30 09:00"] {
        file.set_modified(file_time(t(stale))).unwrap();
        let r = run(&root, "2026-11-23 11:05", "2026-11-23 11:05", 0, 1.0);
        assert!(r[0].kept_alive.is_empty(), "{stale}: {r:?}");
    }
}

#[test]
fn a_keep_alive_that_is_a_symlink_to_a_host_file_is_neither_honoured_nor_followed() {
    let lab = lab(ALWAYS);
    let root = Root::at(lab.path());
    // A host file root can see and the student cannot: fresh, so following the link
    // would keep the booking.
    let host_file = lab.path().join("cfg/host_deploy.yaml");
    std::fs::File::options()
        .append(true)
        .open(&host_file)
        .unwrap()
        .set_modified(file_time(t("2026-11-23 10:30")))
        .unwrap();
    let dir = lab.path().join("vol/work/alice/.aivc");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&host_file, dir.join("keep-alive")).unwrap();
    let reports = run(&root, "2026-11-23 09:00", "2026-11-23 10:40", 0, 1.0);
    assert!(reports.iter().all(|r| r.kept_alive.is_empty()));
    assert_eq!(reports.last().unwrap().reclaimed, ["alice"]);
    // The same with the `.aivc` folder itself a link to the host's cfg/.
    let lab = self::lab(ALWAYS);
    let root = Root::at(lab.path());
    let cfg = lab.path().join("cfg");
    std::fs::write(cfg.join("keep-alive"), "").unwrap();
    std::os::unix::fs::symlink(&cfg, lab.path().join("vol/work/alice/.aivc")).unwrap();
    let reports = run(&root, "2026-11-23 09:00", "2026-11-23 10:40", 0, 1.0);
    assert!(reports.iter().all(|r| r.kept_alive.is_empty()));
    assert_eq!(reports.last().unwrap().reclaimed, ["alice"]);
}

const WHEN_NEEDED: &str = "  idle_reclaim: when_needed\n  idle_timeout_minutes: 100\n";

#[test]
fn an_idle_booking_nobody_waits_for_is_only_reported_under_when_needed() {
    let lab = lab(WHEN_NEEDED);
    let root = Root::at(lab.path());
    let reports = run(&root, "2026-11-23 09:00", "2026-11-23 11:30", 0, 1.0);
    let warned: Vec<&String> = reports.iter().flat_map(|r| &r.warned).collect();
    assert_eq!(warned, ["alice 80", "alice 95"]);
    assert!(reports.iter().all(|r| r.reclaimed.is_empty()));
    assert_eq!(reports.last().unwrap().idle_not_needed, ["alice"]);
    assert!(using(&lab).contains("2026-11-23 13:00:00,alice"));
    let reported: Vec<String> = idle_lines(&lab)
        .into_iter()
        .filter(|l| l.contains("nobody waits"))
        .collect();
    assert_eq!(
        reported,
        ["20261123 10:40 [WARNING] IdleWarning, alice's booking from 2026-11-23 09:00 has had idle GPUs for 100 minutes, past its 100-minute timeout; nobody waits for GPUs, so it keeps running."],
        "logged once"
    );
}

#[test]
fn an_idle_booking_is_reclaimed_under_when_needed_once_a_waitlist_entry_would_fit() {
    let lab = lab(WHEN_NEEDED);
    // One GPU: bob's entry fits only once alice's booking ends.
    let cap = lab.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&cap)
        .unwrap()
        .replacen("  gpus: 2\n", "  gpus: 1\n", 1);
    std::fs::write(cap, text).unwrap();
    let root = Root::at(lab.path());
    run(&root, "2026-11-23 09:00", "2026-11-23 10:45", 0, 1.0);
    assert!(
        using(&lab).contains("2026-11-23 13:00:00,alice"),
        "nobody waits yet"
    );
    std::fs::write(
        lab.path().join("jobs/waitlist.csv"),
        "id,joined,user_id,cpus,memory,gpus,minutes,earliest_start,latest_start,forward_port,image,extra_command\n\
         1,2026-11-23 10:47:00,bob,1.0,2,1,60,2026-11-23 10:30:00,2026-11-23 12:00:00,10002,,\n",
    )
    .unwrap();
    let r = run(&root, "2026-11-23 10:50", "2026-11-23 10:50", 0, 1.0);
    assert_eq!(r[0].reclaimed, ["alice"]);
    assert!(using(&lab).contains("2026-11-23 11:00:00,alice"));
    // The reclaim served the waitlist in the same lock: bob is booked from 11:00.
    assert!(
        lab.file("jobs/booking.csv")
            .contains("2026-11-23 11:00:00,2026-11-23 12:00:00,bob"),
        "{}",
        lab.file("jobs/booking.csv")
    );
}

#[test]
fn the_grace_period_and_a_policy_that_is_off_leave_a_booking_alone() {
    // Off (the default): nothing, however long idle.
    let lab = lab("  max_days_ahead: 14\n");
    let root = Root::at(lab.path());
    let reports = run(&root, "2026-11-23 09:00", "2026-11-23 12:00", 0, 1.0);
    assert!(reports.iter().all(|r| *r == Report::default()));
    // A grace of 3 hours: the first warning comes only after it.
    let lab = self::lab(
        "  idle_reclaim: always\n  idle_timeout_minutes: 100\n  idle_grace_minutes: 180\n",
    );
    let root = Root::at(lab.path());
    let reports = run(&root, "2026-11-23 09:00", "2026-11-23 12:00", 0, 1.0);
    let first = reports.iter().position(|r| !r.warned.is_empty()).unwrap();
    assert_eq!(first, 36, "12:00 is the first check past the grace period");
}
