//! A monitor killed with SIGKILL at every step of a tick, then a normal tick: every row is
//! in exactly one file, the history is untouched, no container outlives its booking.

mod common;

use std::os::unix::process::ExitStatusExt;

const STEPS: [&str; 10] = [
    "planned",
    "closed",
    "started",
    "journal-written",
    "booking-written",
    "using-written",
    "used-appended",
    "committed",
    "reconciled",
    "requests-done",
];

/// The steps at which a killed tick leaves its journal behind.
const JOURNAL_PENDING: [&str; 4] = [
    "journal-written",
    "booking-written",
    "using-written",
    "used-appended",
];

const HISTORY: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n2026-11-20 09:00:00,2026-11-20 10:00:00,bob,1.0,1,[],10002,,\n";

/// alice's booking ends now (her container runs), bob's is due, carol's was missed, and a
/// `now` request waits.
fn scenario() -> common::Lab {
    let lab = common::Lab::new(None);
    let h = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{h}2026-11-23 08:00:00,2026-11-23 10:00:00,alice,1.0,2,[0],10001,,\n"),
    )
    .unwrap();
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{h}2026-11-23 07:00:00,2026-11-23 09:00:00,carol,1.0,1,[],10003,,\n2026-11-23 10:00:00,2026-11-23 12:00:00,bob,2.0,5,[1],10002,,\n"),
    )
    .unwrap();
    std::fs::write(lab.path().join("jobs/used.csv"), HISTORY).unwrap();
    std::fs::write(lab.path().join("jobs/monitor_exec"), "now\n").unwrap();
    let z = "0".repeat(64);
    lab.fake_container(
        "alice",
        &format!("{z}\talice\trunning\talice\t$INSTALLATION\t2026-11-23 08:00:00\t2026-11-23 10:00:00\t\t10001\t2020-01-01T00:00:00Z\n"),
    );
    lab
}

fn users_in(lab: &common::Lab, file: &str) -> Vec<String> {
    lab.file(file)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect()
}

fn containers(lab: &common::Lab) -> Vec<String> {
    lab.fake_containers()
}

#[test]
fn a_tick_killed_at_any_step_is_completed_by_the_next() {
    for step in STEPS {
        let lab = scenario();
        let killed = lab.monitor(common::NOW, &[], &[("AIVC_CRASH_AT", step)]);
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{step}: the monitor was not killed there: {}",
            String::from_utf8_lossy(&killed.stderr)
        );

        let pending = lab.path().join("jobs/.monitor-journal").exists();
        let log_before = lab.file("jobs/monitor.log");
        let out = lab.monitor(common::NOW, &[], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !lab.path().join("jobs/.monitor-journal").exists(),
            "{step}: journal left"
        );
        // The tick that completes a journal (now done when it takes the lock) says so, once.
        assert_eq!(
            pending,
            JOURNAL_PENDING.contains(&step),
            "{step}: journal pending after the kill"
        );
        let said = lab.file("jobs/monitor.log")[log_before.len()..]
            .matches("[INFO] completed the schedule moves of an interrupted tick")
            .count();
        assert_eq!(
            said,
            usize::from(pending),
            "{step}: {}",
            lab.file("jobs/monitor.log")
        );
        assert!(
            users_in(&lab, "jobs/booking.csv").is_empty(),
            "{step}: {:?}",
            users_in(&lab, "jobs/booking.csv")
        );
        assert_eq!(users_in(&lab, "jobs/using.csv"), ["bob"], "{step}");
        let mut used = users_in(&lab, "jobs/used.csv");
        used.sort();
        assert_eq!(
            used,
            ["alice", "bob", "carol"],
            "{step}: each row exactly once"
        );
        assert!(
            lab.file("jobs/used.csv").starts_with(HISTORY),
            "{step}: the history changed"
        );
        assert_eq!(
            containers(&lab),
            ["bob"],
            "{step}: the running containers are the using rows"
        );
        assert_eq!(lab.file("jobs/monitor_exec"), "", "{step}");

        // At the end of bob's booking nothing outlives it.
        let out = lab.monitor("2026-11-23 12:00", &[], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            containers(&lab).is_empty(),
            "{step}: {:?}",
            containers(&lab)
        );
        assert!(users_in(&lab, "jobs/using.csv").is_empty(), "{step}");
        assert_eq!(users_in(&lab, "jobs/used.csv").len(), 4, "{step}");
    }
}

/// The contents of every file in jobs/ the monitor may change.
fn jobs_files(lab: &common::Lab) -> Vec<String> {
    [
        "booking.csv",
        "using.csv",
        "used.csv",
        "monitor_exec",
        "monitor.log",
    ]
    .iter()
    .map(|f| lab.file(&format!("jobs/{f}")))
    .collect()
}

#[test]
fn a_dry_run_shows_the_tick_and_changes_nothing() {
    let lab = scenario();
    let before = jobs_files(&lab);
    let out = lab.monitor(common::NOW, &["--dry-run"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("close: alice\nstart: bob\n"), "{text}");
    assert!(text.contains("missed (to used.csv): carol"), "{text}");
    assert!(
        text.contains("would log: 20261123 10:00 [WARNING] ContainerWarning, carol's booking"),
        "{text}"
    );
    let after = jobs_files(&lab);
    assert_eq!(before, after);
    assert_eq!(containers(&lab), ["alice"]);
    assert!(
        lab.docker_log().lines().all(|l| l.starts_with("ps ")),
        "{}",
        lab.docker_log()
    );
}

/// Regression: the dry run named who would start and stop but not what it would run.
#[test]
fn a_dry_run_shows_the_commands_it_would_run_without_a_password() {
    let lab = scenario();
    let out = lab.monitor(common::NOW, &["--dry-run"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let run: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("would run: "))
        .collect();
    assert_eq!(run.len(), 2, "{text}");
    assert!(run[0].ends_with(" close --user-id=alice"), "{text}");
    // bob's start exactly as run-container would run it: its own --dry-run line.
    let bob = run[1];
    assert!(
        bob.contains(" run ") && bob.contains("--name=bob"),
        "{text}"
    );
    assert!(bob.contains("--gpus '\"device=1\"'"), "{text}");
    assert!(
        bob.contains("-p 10002:22") && bob.contains("-e PASSWORD "),
        "{text}"
    );
    let all = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !all.contains("bob-pw") && !all.contains("alice-pw"),
        "{all}"
    );
    assert!(
        lab.docker_log().lines().all(|l| l.starts_with("ps ")),
        "{}",
        lab.docker_log()
    );
}
