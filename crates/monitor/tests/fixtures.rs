//! One tick on a fixture root: `<case>/in` is laid over the base root, the monitor runs once
//! at 2026-11-23 10:00 (Asia/Taipei) with the stand-in docker, and every file under
//! `<case>/out` must match — the schedule files, monitor.log, the docker calls (`docker.log`,
//! the root written `$ROOT`) and the containers left (`containers`). `<case>/env` adds
//! environment variables; `<case>/docker-state` the containers running before (state lines
//! of tests/fixtures/bin/fake-docker, `$INSTALLATION` for the lab's id). `notices` holds the
//! notices posted (without their ids) and `notices-delivered` the channels that took them.
//! AIVC_BLESS=1
//! writes the outputs instead (review them before committing).

mod common;

fn check(case: &str) {
    let dir = common::fixtures().join(case);
    let lab = common::Lab::new(Some(&dir.join("in")));
    if dir.join("docker-state").is_dir() {
        for e in std::fs::read_dir(dir.join("docker-state")).unwrap() {
            let e = e.unwrap();
            let line = std::fs::read_to_string(e.path()).unwrap();
            lab.fake_container(e.file_name().to_str().unwrap(), &line);
        }
    }
    let envs_text = std::fs::read_to_string(dir.join("env")).unwrap_or_default();
    let envs: Vec<(&str, &str)> = envs_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    let out = lab.monitor(common::NOW, &[], &envs);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut actual = std::collections::BTreeMap::new();
    for t in [
        "booking.csv",
        "using.csv",
        "used.csv",
        "monitor_exec",
        "monitor.log",
        "start-failures.csv",
    ] {
        actual.insert(format!("jobs/{t}"), lab.file(&format!("jobs/{t}")));
    }
    // The notices the tick posted, without their ids (time, pid and nanoseconds); the
    // delivery record likewise: which channel took how many.
    let notices = lab.file_or_empty("jobs/notices.csv");
    actual.insert(
        "notices".into(),
        notices
            .lines()
            .skip(1)
            .map(|l| format!("{}\n", l.split_once(',').map_or(l, |(_, rest)| rest)))
            .collect(),
    );
    let delivered = lab.file_or_empty("jobs/notices-delivered.csv");
    actual.insert(
        "notices-delivered".into(),
        delivered
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!("{},{}\n", f.get(1).unwrap_or(&""), f.get(3).unwrap_or(&""))
            })
            .collect(),
    );
    actual.insert("docker.log".into(), lab.docker_log());
    actual.insert(
        "containers".into(),
        lab.fake_containers()
            .iter()
            .map(|n| format!("{n}\n"))
            .collect(),
    );
    // stderr carries the same lines as monitor.log.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        actual["jobs/monitor.log"],
        "{case}: stderr"
    );

    let expected_dir = dir.join("out");
    if std::env::var_os("AIVC_BLESS").is_some() {
        for (rel, text) in &actual {
            let p = expected_dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        return;
    }
    for (rel, text) in &actual {
        let expected = std::fs::read_to_string(expected_dir.join(rel)).unwrap_or_else(|_| {
            panic!("{case}: missing out/{rel} (run with AIVC_BLESS=1 and review)")
        });
        assert_eq!(text, &expected, "{case}: {rel}");
    }
    let known = [
        "booking.csv",
        "using.csv",
        "used.csv",
        "monitor_exec",
        "monitor.log",
        "start-failures.csv",
        "notices.csv",
        "notices-delivered.csv",
        ".notices-lock",
        ".lock",
        // When the tick ran and how long it took (real time: not compared).
        "last-tick.csv",
    ];
    let leftovers: Vec<String> = std::fs::read_dir(lab.path().join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    assert!(leftovers.is_empty(), "{case}: left in jobs/: {leftovers:?}");
}

#[test]
fn an_ended_booking_is_closed_and_filed_in_history() {
    check("close");
}

#[test]
fn a_due_booking_is_started_and_moved_to_using() {
    check("start");
}

#[test]
fn a_user_over_quota_waits_with_a_space_warning() {
    check("quota");
}

#[test]
fn a_failed_start_stays_for_the_next_tick() {
    check("failed-start");
}

#[test]
fn a_booking_missed_entirely_goes_to_history_unstarted() {
    check("missed");
}

#[test]
fn back_to_back_bookings_close_then_start_under_one_name() {
    check("back-to-back");
}

#[test]
fn a_restart_request_restarts_the_container_and_is_consumed() {
    check("restart");
}
