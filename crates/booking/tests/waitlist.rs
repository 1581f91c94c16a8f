//! The waitlist through the real `booking` binary on a copy of the lab fixture (16 cpus,
//! 80 GB, 2 GPUs; now is Saturday 2026-11-21 15:47): joining on a capacity refusal, being
//! booked by the cancel or the shortening that frees room (in the same command), a large
//! entry that does not block a smaller one behind it, expiry, racing for one freed GPU,
//! and what may not wait.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{booking, booking_env, file, stderr, stdout};
use hostinfo::waitlist::Entry;

/// Signs dave up (the fixture has him allowed but not signed up), password `dave-pw`.
fn sign_up_dave(p: &Path) {
    let mut users = std::fs::read_to_string(p.join("cfg/users_config.yaml")).unwrap();
    users.push_str("dave:\n  password: dave-pw\n  forward_port: 10004\n  image: null\n  extra_command: null\n  volume_work_dir: /w/dave\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/dave\n");
    std::fs::write(p.join("cfg/users_config.yaml"), users).unwrap();
}

fn password(id: &str) -> String {
    match id {
        "dave" => "dave-pw\n".into(),
        id if id.starts_with("racer") => format!("pw-{id}\n"),
        id => format!("{id}-secret-pw\n"),
    }
}

/// `booking --yes --password-stdin --user-id ID` with `args`.
fn as_user(p: &Path, id: &str, args: &[&str]) -> Output {
    let mut all = vec!["--yes", "--password-stdin", "--user-id", id];
    all.extend_from_slice(args);
    booking(p, &all, &password(id))
}

/// The same at another time (`AIVC_NOW`).
fn as_user_at(p: &Path, now: &str, id: &str, args: &[&str]) -> Output {
    let mut all = vec!["--yes", "--password-stdin", "--user-id", id];
    all.extend_from_slice(args);
    booking_env(p, &all, password(id).as_bytes(), &[("AIVC_NOW", now)])
}

/// `id` asks for `gpus` GPUs, 1 cpu and 1 GB from `start` to `end`, waiting when full.
fn wait_for(p: &Path, id: &str, gpus: &str, start: &str, end: &str, more: &[&str]) -> Output {
    let mut args = vec![
        "--cpus", "1", "--memory", "1", "--gpus", gpus, "--start", start, "--end", end, "--wait",
    ];
    args.extend_from_slice(more);
    as_user(p, id, &args)
}

fn add_rows(p: &Path, rows: &str) {
    let mut text = std::fs::read_to_string(p.join("jobs/booking.csv")).unwrap();
    text.push_str(rows);
    std::fs::write(p.join("jobs/booking.csv"), text).unwrap();
}

fn waitlist(p: &Path) -> Vec<Entry> {
    let path = p.join("jobs/waitlist.csv");
    match std::fs::read_to_string(&path) {
        Ok(text) => hostinfo::waitlist::parse(&path, &text).unwrap(),
        Err(_) => Vec::new(),
    }
}

fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

/// The lines of `booking.csv` that are `id`'s.
fn rows_of(p: &Path, id: &str) -> Vec<String> {
    file(p, "jobs/booking.csv")
        .lines()
        .filter(|l| l.split(',').nth(2) == Some(id))
        .map(str::to_string)
        .collect()
}

/// On Monday the 23rd alice holds GPU 0 from 09:00 to 12:00 and carol GPU 1 from 08:00 to
/// 13:00: no GPU is free from 10:00 to 11:00.
fn full_monday(p: &Path) {
    add_rows(
        p,
        "2026-11-23 09:00:00,2026-11-23 12:00:00,alice,1.0,1,[0],10001,,\n\
         2026-11-23 08:00:00,2026-11-23 13:00:00,carol,1.0,1,[1],10003,,\n",
    );
}

#[test]
fn a_capacity_refusal_with_wait_joins_exits_0_and_says_so() {
    let root = common::root_from("lab");
    let p = root.path();
    full_monday(p);
    let out = wait_for(p, "bob", "1", "2026-11-23 10:00", "2026-11-23 11:00", &[]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("joined the waitlist as #1: 1 cpus, 1 GB, 1 GPU for 1 hour, starting at 2026-11-23 10:00"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "stdout holds booked rows only");
    let entries = waitlist(p);
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e.id, e.user_id.as_str(), e.gpus, e.minutes),
        (1, "bob", 1, 60)
    );
    assert_eq!(e.earliest_start, e.latest_start);
    assert_eq!(e.forward_port, 10002, "bob's own port");
    assert!(rows_of(p, "bob")
        .iter()
        .all(|r| !r.starts_with("2026-11-23")));
    let notices = file(p, "jobs/notices.csv");
    assert!(
        notices.contains(",user:bob,waitlist_joined,"),
        "a notice for bob: {notices}"
    );
    assert!(file(p, "jobs/monitor.log").contains("bob joined the waitlist as #1"));

    // The same without --wait is refused as before, and joins nothing.
    let out = as_user(
        p,
        "carol",
        &[
            "--cpus",
            "1",
            "--memory",
            "1",
            "--gpus",
            "1",
            "--start",
            "2026-11-23 10:00",
            "--end",
            "2026-11-23 11:00",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(waitlist(p).len(), 1);
}

#[test]
fn a_cancel_books_the_first_fitting_entry_in_the_same_command() {
    let root = common::root_from("lab");
    let p = root.path();
    sign_up_dave(p);
    full_monday(p);
    assert_ok(&wait_for(
        p,
        "bob",
        "1",
        "2026-11-23 10:00",
        "2026-11-23 11:00",
        &[],
    ));
    assert_ok(&wait_for(
        p,
        "dave",
        "1",
        "2026-11-23 10:00",
        "2026-11-23 11:00",
        &[],
    ));
    assert_eq!(waitlist(p).len(), 2);

    let out = as_user(p, "alice", &["--cancel", "2026-11-23 09:00"]);
    assert_ok(&out);

    // GPU 0 was freed: bob, first in line, has it; dave still waits.
    assert_eq!(
        rows_of(p, "bob"),
        [
            "2026-11-22 09:00:00,2026-11-22 12:00:00,bob,4.0,16,[0],10002,aivc/workspace:cuda12,",
            "2026-11-23 10:00:00,2026-11-23 11:00:00,bob,1.0,1,[0],10002,,"
        ]
    );
    assert!(rows_of(p, "dave").is_empty());
    let left = waitlist(p);
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].id, left[0].user_id.as_str()), (2, "dave"));
    let log = file(p, "jobs/monitor.log");
    assert!(
        log.contains(
            "bob's waitlist entry #1 was booked: 2026-11-23 10:00 to 2026-11-23 11:00, GPU 0."
        ),
        "{log}"
    );
    let notices = file(p, "jobs/notices.csv");
    assert!(notices.contains(",user:bob,waitlist_booked,"), "{notices}");
    assert!(
        !notices.contains(",user:dave,waitlist_booked,"),
        "{notices}"
    );
    assert_eq!(
        file(p, "jobs/monitor_exec"),
        "",
        "a booking for Monday asks nothing of the monitor"
    );
    // bob sees it as his booking; his waitlist is empty.
    let out = as_user(p, "bob", &["--waitlist"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("You have no waitlist entries."));
}

/// Regression guard for head-of-line blocking: alice's two-GPU entry is first in line, but
/// only one GPU frees up; dave's one-GPU entry behind her is booked on it.
#[test]
fn a_large_entry_ahead_does_not_block_a_smaller_one_that_fits_behind_it() {
    let root = common::root_from("lab");
    let p = root.path();
    sign_up_dave(p);
    add_rows(
        p,
        "2026-11-23 09:00:00,2026-11-23 12:00:00,bob,1.0,1,[0],10002,,\n\
         2026-11-23 08:00:00,2026-11-23 13:00:00,carol,1.0,1,[1],10003,,\n",
    );
    assert_ok(&wait_for(
        p,
        "alice",
        "2",
        "2026-11-23 10:00",
        "2026-11-23 11:00",
        &[],
    ));
    assert_ok(&wait_for(
        p,
        "dave",
        "1",
        "2026-11-23 10:00",
        "2026-11-23 11:00",
        &[],
    ));

    assert_ok(&as_user(p, "bob", &["--cancel", "2026-11-23 09:00"]));

    assert_eq!(
        rows_of(p, "dave"),
        ["2026-11-23 10:00:00,2026-11-23 11:00:00,dave,1.0,1,[0],10004,,"]
    );
    let left = waitlist(p);
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].id, left[0].user_id.as_str()), (1, "alice"));
}

#[test]
fn shortening_a_booking_serves_the_waitlist_in_the_same_command() {
    let root = common::root_from("lab");
    let p = root.path();
    sign_up_dave(p);
    // On Sunday bob holds GPU 0 from 09:00 to 12:00 and carol GPU 1 from 10:00 to 11:00.
    assert_ok(&wait_for(
        p,
        "dave",
        "1",
        "2026-11-22 10:00",
        "2026-11-22 11:00",
        &[],
    ));
    assert_eq!(waitlist(p).len(), 1);
    // Lengthening frees nothing and serves nothing.
    assert_eq!(
        as_user(p, "carol", &["--end-at", "2026-11-22 11:30"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(waitlist(p).len(), 1);

    assert_ok(&as_user(p, "bob", &["--end-at", "2026-11-22 10:00"]));

    assert_eq!(
        rows_of(p, "dave"),
        ["2026-11-22 10:00:00,2026-11-22 11:00:00,dave,1.0,1,[0],10004,,"]
    );
    assert!(waitlist(p).is_empty());
}

#[test]
fn a_window_books_its_earliest_start_that_fits_or_waits_for_one() {
    let root = common::root_from("lab");
    let p = root.path();
    sign_up_dave(p);
    // Sunday 10:00 to 11:00 is full; from 11:00 GPU 1 is free.
    let out = wait_for(
        p,
        "dave",
        "1",
        "2026-11-22 10:00",
        "2026-11-22 11:00",
        &["--latest-start", "2026-11-22 10:30"],
    );
    assert_ok(&out);
    assert!(stderr(&out).contains(
        "joined the waitlist as #1: 1 cpus, 1 GB, 1 GPU for 1 hour, starting between 2026-11-22 10:00 and 2026-11-22 10:30"
    ), "{}", stderr(&out));
    assert_ok(&as_user(p, "dave", &["--waitlist", "--cancel-entry", "1"]));
    assert!(waitlist(p).is_empty());

    let out = wait_for(
        p,
        "dave",
        "1",
        "2026-11-22 10:00",
        "2026-11-22 11:00",
        &["--latest-start", "2026-11-22 12:00"],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "2026-11-22 11:00:00,2026-11-22 12:00:00,dave,1.0,1,[1],10004,,\n"
    );
    assert!(stderr(&out).contains("Booking successful!"));
    assert!(waitlist(p).is_empty());
}

#[test]
fn the_waitlist_lists_ones_own_entries_and_leaves_one() {
    let root = common::root_from("lab");
    let p = root.path();
    full_monday(p);
    assert_ok(&wait_for(
        p,
        "bob",
        "1",
        "2026-11-23 10:00",
        "2026-11-23 11:00",
        &[],
    ));
    assert_ok(&wait_for(
        p,
        "bob",
        "1",
        "2026-11-23 11:00",
        "2026-11-23 12:00",
        &["--latest-start", "2026-11-23 11:30"],
    ));

    let out = as_user(p, "bob", &["--waitlist"]);
    assert_ok(&out);
    let listed = stdout(&out);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines[0].starts_with("ID "));
    assert!(lines[1].starts_with("#1 ") && lines[1].contains("2026-11-23 10:00  2026-11-23 10:00"));
    assert!(lines[2].starts_with("#2 ") && lines[2].contains("2026-11-23 11:00  2026-11-23 11:30"));
    // Nobody else's: carol has none, and cannot take bob's off.
    let out = as_user(p, "carol", &["--waitlist"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "");
    let before = common::tree(p);
    let out = as_user(p, "carol", &["--waitlist", "--cancel-entry", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("you have no waitlist entry #1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(common::tree(p), before);

    let out = as_user(p, "bob", &["--waitlist", "--cancel-entry", "1"]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("Left the waitlist: #1: "),
        "{}",
        stderr(&out)
    );
    let left = waitlist(p);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, 2);
}

#[test]
fn an_entry_whose_latest_start_passed_expires_with_a_notice() {
    let root = common::root_from("lab");
    let p = root.path();
    full_monday(p);
    assert_ok(&wait_for(
        p,
        "bob",
        "1",
        "2026-11-23 10:00",
        "2026-11-23 11:00",
        &["--latest-start", "2026-11-23 10:30"],
    ));
    // Monday 11:05: nothing freed up in time. carol's cancel of a later booking serves the
    // waitlist, and bob's entry is over.
    add_rows(
        p,
        "2026-11-24 09:00:00,2026-11-24 10:00:00,carol,1.0,1,[],10003,,\n",
    );
    let out = as_user_at(
        p,
        "2026-11-23 11:05",
        "carol",
        &["--cancel", "2026-11-24 09:00"],
    );
    assert_ok(&out);
    assert!(waitlist(p).is_empty());
    assert!(rows_of(p, "bob")
        .iter()
        .all(|r| !r.starts_with("2026-11-23")));
    let log = file(p, "jobs/monitor.log");
    assert!(
        log.contains("bob's waitlist entry #1 expired: its latest start 2026-11-23 10:30 passed."),
        "{log}"
    );
    let notices = file(p, "jobs/notices.csv");
    assert!(notices.contains(",user:bob,waitlist_expired,"), "{notices}");
}

#[test]
fn a_request_over_the_users_limits_is_refused_not_waitlisted() {
    let root = common::root_from("lab");
    let p = root.path();
    full_monday(p);
    // bob may book 1 GPU at most.
    let out = wait_for(p, "bob", "2", "2026-11-23 10:00", "2026-11-23 11:00", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("over the maximum"),
        "{}",
        stderr(&out)
    );
    // A group that could never hold it: staff shares one GPU, carol may book two.
    let caps = p.join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&caps).unwrap()
        + "  carol:\n    gpus: 2\ngroups:\n  staff:\n    members: [carol]\n    total: {gpus: 1}\n";
    std::fs::write(&caps, text).unwrap();
    let out = wait_for(p, "carol", "2", "2026-11-25 10:00", "2026-11-25 11:00", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "2 gpus asked, more than group staff can ever hold (1), so it cannot wait for room"
        ),
        "{}",
        stderr(&out)
    );
    // A policy refusal cannot wait either: moving the booking would not help.
    let text = std::fs::read_to_string(&caps).unwrap() + "policies:\n  max_hours_per_booking: 1\n";
    std::fs::write(&caps, text).unwrap();
    let out = wait_for(p, "bob", "1", "2026-11-23 10:00", "2026-11-23 12:00", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("max_hours_per_booking"),
        "{}",
        stderr(&out)
    );
    assert!(!p.join("jobs/waitlist.csv").exists(), "nobody joined");
}

#[test]
fn max_waitlist_entries_refuses_one_entry_more() {
    let root = common::root_from("lab");
    let p = root.path();
    full_monday(p);
    let caps = p.join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&caps).unwrap() + "policies:\n  max_waitlist_entries: 1\n";
    std::fs::write(&caps, text).unwrap();
    assert_ok(&wait_for(
        p,
        "bob",
        "1",
        "2026-11-23 10:00",
        "2026-11-23 11:00",
        &[],
    ));
    let before = common::tree(p);
    let out = wait_for(p, "bob", "1", "2026-11-23 11:00", "2026-11-23 12:00", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "you already have 1 entries on the waitlist; 1 at a time is the most (the lab's policy: max_waitlist_entries)"
        ),
        "{}",
        stderr(&out)
    );
    let mut after = common::tree(p);
    // Only the password check's record may differ.
    after.remove(Path::new("jobs/auth-failures.csv"));
    let mut expected = before;
    expected.remove(Path::new("jobs/auth-failures.csv"));
    assert_eq!(after, expected, "nothing written");
    // Others still may.
    assert_ok(&wait_for(
        p,
        "carol",
        "1",
        "2026-11-23 14:00",
        "2026-11-23 15:00",
        &[],
    ));
}

#[test]
fn a_bad_latest_start_is_refused_before_anything_is_written() {
    let root = common::root_from("lab");
    let p = root.path();
    full_monday(p);
    let before = common::tree(p);
    for (latest, says) in [
        (
            "2026-11-23 09:30",
            "the latest start 2026-11-23 09:30 is before the start 2026-11-23 10:00",
        ),
        ("2026-11-23 09:45", "minutes must be 00 or 30"),
        (
            "2026-12-10 09:00",
            "the start 2026-12-10 09:00:00 is more than 14 days ahead",
        ),
    ] {
        let out = wait_for(
            p,
            "bob",
            "1",
            "2026-11-23 10:00",
            "2026-11-23 11:00",
            &["--latest-start", latest],
        );
        assert_eq!(out.status.code(), Some(2), "{latest}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{latest}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    // --latest-start means nothing without --wait.
    let out = as_user(
        p,
        "bob",
        &[
            "--cpus",
            "1",
            "--memory",
            "1",
            "--start",
            "2026-11-23 10:00",
            "--end",
            "2026-11-23 11:00",
            "--latest-start",
            "2026-11-23 11:00",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let mut after = common::tree(p);
    after.remove(Path::new("jobs/auth-failures.csv"));
    let mut expected = before;
    expected.remove(Path::new("jobs/auth-failures.csv"));
    assert_eq!(after, expected);
}

/// Bad input in `jobs/waitlist.csv`: the one-line error naming the file, the line and the
/// field, exit 2, and nothing changed — for a cancel (which serves the waitlist) and for a
/// join alike.
#[test]
fn a_bad_waitlist_file_stops_a_cancel_and_a_join_with_one_line_and_changes_nothing() {
    let root = common::root_from("lab");
    let p = root.path();
    full_monday(p);
    std::fs::write(
        p.join("jobs/waitlist.csv"),
        "id,joined,user_id,cpus,memory,gpus,minutes,earliest_start,latest_start,forward_port,image,extra_command\n\
         1,2026-11-21 15:00:00,bob,1.0,1,one,60,2026-11-23 10:00:00,2026-11-23 10:00:00,10002,,\n",
    )
    .unwrap();
    let before = common::tree(p);
    let expected = format!(
        "booking: error: {}:2: gpus: `one` is not a whole number\n",
        p.join("jobs/waitlist.csv").display()
    );
    let out = as_user(p, "alice", &["--cancel", "2026-11-23 09:00"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), expected);
    let out = wait_for(p, "bob", "1", "2026-11-23 10:00", "2026-11-23 11:00", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), expected);
    let out = as_user(p, "bob", &["--waitlist"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), expected);
    let mut after = common::tree(p);
    after.remove(Path::new("jobs/auth-failures.csv"));
    let mut before = before;
    before.remove(Path::new("jobs/auth-failures.csv"));
    assert_eq!(after, before);
}

const RACERS: usize = 8;

/// Adds `racer00`… to `allow_userIDs` and the users file (passwords `pw-<id>`).
fn add_racers(p: &Path) -> Vec<String> {
    let ids: Vec<String> = (0..RACERS).map(|i| format!("racer{i:02}")).collect();
    let cap = std::fs::read_to_string(p.join("cfg/capability_config.yaml")).unwrap();
    let listed: String = ids.iter().map(|id| format!("  - {id}\n")).collect();
    std::fs::write(
        p.join("cfg/capability_config.yaml"),
        cap.replace("  - dave\n", &format!("  - dave\n{listed}")),
    )
    .unwrap();
    let mut users = std::fs::read_to_string(p.join("cfg/users_config.yaml")).unwrap();
    for (i, id) in ids.iter().enumerate() {
        users.push_str(&format!(
            "{id}:\n  password: pw-{id}\n  forward_port: {}\n  image: null\n  extra_command: null\n  volume_work_dir: /w/{id}\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/{id}\n",
            10100 + i
        ));
    }
    std::fs::write(p.join("cfg/users_config.yaml"), users).unwrap();
    ids
}

/// Starts `booking` for each (user, args) before any gets its password, so they all run at
/// once; their outputs in order.
fn all_at_once(p: &Path, runs: &[(String, Vec<String>)]) -> Vec<Output> {
    let mut children: Vec<_> = runs
        .iter()
        .map(|(id, args)| {
            common::process::spawn_piped(
                Command::new(env!("CARGO_BIN_EXE_booking"))
                    .arg("--root")
                    .arg(p)
                    .args(["--yes", "--password-stdin", "--user-id", id])
                    .args(args)
                    .env("AIVC_NOW", common::NOW)
                    .env("AIVC_AUTH_DELAY_MS", "0")
                    .env_remove("AIVC_ROOT"),
            )
        })
        .collect();
    for (child, (id, _)) in children.iter_mut().zip(runs) {
        common::process::feed(child, password(id).as_bytes());
    }
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// Eight students join at once for the same GPU; then alice frees one GPU while every
/// racer shortens a booking of their own, each of which serves the waitlist: exactly one
/// entry gets the GPU, the other seven keep waiting, and no GPU is held twice.
#[test]
fn entries_racing_for_one_freed_gpu_one_wins_and_the_others_keep_waiting() {
    let root = common::root_from("lab");
    let p = root.path();
    let ids = add_racers(p);
    full_monday(p);
    // Each racer has a cpu-only booking on Wednesday to shorten.
    let own: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "2026-11-25 09:00:00,2026-11-25 12:00:00,{id},1.0,1,[],{},,\n",
                10100 + i
            )
        })
        .collect();
    add_rows(p, &own);
    let join: Vec<(String, Vec<String>)> = ids
        .iter()
        .map(|id| {
            let args = "--cpus 1 --memory 1 --gpus 1 --start 2026-11-23T10:00 --end 2026-11-23T11:00 --wait";
            let args = args
                .split(' ')
                .map(|a| a.replace('T', " "))
                .collect();
            (id.clone(), args)
        })
        .collect();
    for out in all_at_once(p, &join) {
        assert_ok(&out);
        assert!(stderr(&out).contains("joined the waitlist as #"));
    }
    let entries = waitlist(p);
    let mut numbers: Vec<u32> = entries.iter().map(|e| e.id).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=RACERS as u32).collect::<Vec<_>>(),
        "each its own number"
    );

    let mut frees: Vec<(String, Vec<String>)> = vec![(
        "alice".into(),
        vec!["--cancel".into(), "2026-11-23 09:00".into()],
    )];
    frees.extend(ids.iter().map(|id| {
        (
            id.clone(),
            vec![
                "--end-at".into(),
                "2026-11-25 10:00".into(),
                // The winner holds a second booking by then.
                "--which".into(),
                "2026-11-25 09:00".into(),
            ],
        )
    }));
    for out in all_at_once(p, &frees) {
        assert_ok(&out);
    }

    let monday: Vec<String> = file(p, "jobs/booking.csv")
        .lines()
        .filter(|l| l.starts_with("2026-11-23 10:00:00,2026-11-23 11:00:00,racer"))
        .map(str::to_string)
        .collect();
    assert_eq!(monday.len(), 1, "exactly one entry won: {monday:?}");
    assert!(
        monday[0].contains(",[0],"),
        "on the freed GPU 0: {monday:?}"
    );
    let winner = monday[0].split(',').nth(2).unwrap().to_string();
    let left = waitlist(p);
    assert_eq!(left.len(), RACERS - 1);
    assert!(left.iter().all(|e| e.user_id != winner));
    // The first in line won: entries are served in join order.
    let first = entries.iter().min_by_key(|e| e.id).unwrap();
    assert_eq!(first.user_id, winner);
    let log = file(p, "jobs/monitor.log");
    assert_eq!(log.matches("waitlist entry #").count(), 1, "{log}");
}
