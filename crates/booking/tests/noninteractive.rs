//! `booking --yes` with flags, and the actions on existing bookings, run as the real binary
//! on a copy of the lab fixture (16 cpus, 80 GB, 2 GPUs; now is 2026-11-21 15:47).

mod common;

use common::{booking, file, stderr, stdout, NOW};

const BOB: &str = "bob-secret-pw\n";

fn book(root: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut all = vec!["--yes", "--password-stdin"];
    all.extend_from_slice(args);
    booking(root, &all, stdin)
}

#[test]
fn a_booking_with_flags_is_written_and_printed() {
    let root = common::root_from("lab");
    let out = book(
        root.path(),
        &[
            "--user-id",
            "bob",
            "--cpus",
            "2",
            "--memory",
            "8",
            "--gpus",
            "1",
            "--start",
            "2026-11-23 09:00",
            "--end",
            "1-day",
        ],
        BOB,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = "2026-11-23 09:00:00,2026-11-24 09:00:00,bob,2.0,8,[0],10002,,\n";
    assert_eq!(stdout(&out), line);
    assert!(stderr(&out).contains("Booking successful!"));
    assert!(file(root.path(), "jobs/booking.csv").ends_with(line));
    assert_eq!(
        file(root.path(), "jobs/monitor_exec"),
        "",
        "a later start asks nothing of the monitor"
    );
}

#[test]
fn a_booking_for_now_asks_the_monitor_for_a_tick() {
    let root = common::root_from("lab");
    let out = book(
        root.path(),
        &[
            "--user-id",
            "carol",
            "--cpus",
            "1",
            "--memory",
            "1",
            "--start",
            "now",
            "--end",
            "2026-11-21 18:00",
        ],
        "carol-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("2026-11-21 15:30:00,2026-11-21 18:00:00,carol,"));
    assert_eq!(file(root.path(), "jobs/monitor_exec"), "now\n");
}

/// Each bad input: its message, its exit code, and cfg/ and jobs/ exactly as they were. (A
/// wrong password is not here: it is counted in jobs/auth-failures.csv, see tests/auth.rs.)
#[test]
fn every_bad_input_is_refused_with_its_message_and_changes_nothing() {
    let day = |args: &[&'static str]| {
        [
            args,
            &["--start", "2026-11-23 09:00", "--end", "2026-11-23 12:00"],
        ]
        .concat()
    };
    let cases: Vec<(Vec<&str>, &str, i32, &str)> = vec![
        (
            day(&["--user-id", "mallory", "--cpus", "1", "--memory", "1"]),
            BOB,
            1,
            "booking: user `mallory` is not in allow_userIDs",
        ),
        (
            day(&["--user-id=../x", "--cpus", "1", "--memory", "1"]),
            BOB,
            1,
            "booking: user id `../x` must start with a letter or a digit",
        ),
        (
            vec![
                "--user-id",
                "bob",
                "--cpus",
                "1",
                "--memory",
                "1",
                "--start",
                "2026-11-23 09:15",
                "--end",
                "1-day",
            ],
            BOB,
            2,
            "booking: error: `2026-11-23 09:15`: minutes must be 00 or 30",
        ),
        (
            vec![
                "--user-id",
                "bob",
                "--cpus",
                "1",
                "--memory",
                "1",
                "--start",
                "tomorrow",
                "--end",
                "1-day",
            ],
            BOB,
            2,
            "booking: error: `tomorrow` is not a time",
        ),
        (
            vec![
                "--user-id",
                "bob",
                "--cpus",
                "1",
                "--memory",
                "1",
                "--start",
                "2026-11-21 15:30",
                "--end",
                "1-day",
            ],
            BOB,
            2,
            "booking: error: the start 2026-11-21 15:30:00 is in the past",
        ),
        (
            day(&["--user-id", "bob", "--cpus", "9", "--memory", "1"]),
            BOB,
            1,
            "booking: over the maximum: cpus 9 asked, at most 8 for this user",
        ),
        (
            day(&[
                "--user-id",
                "bob",
                "--cpus",
                "1",
                "--memory",
                "1",
                "--forward-port",
                "10003",
            ]),
            BOB,
            1,
            "booking: forward port 10003 belongs to user `carol`",
        ),
        (
            day(&[
                "--user-id",
                "bob",
                "--cpus",
                "1",
                "--memory",
                "1",
                "--image",
                "evil/miner:latest",
            ]),
            BOB,
            1,
            "booking: image `evil/miner:latest` is not one of the images",
        ),
        (
            vec!["--user-id", "bob", "--cpus", "1"],
            BOB,
            2,
            "booking: error: booking with --yes needs --memory, --start, --end",
        ),
    ];
    for (args, stdin, code, message) in cases {
        let root = common::root_from("lab");
        let before = common::tree(root.path());
        let out = book(root.path(), &args, stdin);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(message),
            "{args:?}: expected `{message}` in\n{}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{args:?}");
        assert_eq!(common::tree(root.path()), before, "{args:?} changed a file");
    }
}

/// Regression: the window was printed twice ("Suggested window: …" and again in the
/// refusal); it is said once.
#[test]
fn a_full_window_is_refused_with_the_earliest_window_that_fits() {
    let root = common::root_from("lab");
    // bob holds GPU 0 09:00–12:00 and carol GPU 1 10:00–11:00 on the 22nd: no GPU is free
    // for 10:00–12:00; the earliest two hours with one free GPU start at 11:00.
    let out = book(
        root.path(),
        &[
            "--user-id",
            "alice",
            "--cpus",
            "1",
            "--memory",
            "1",
            "--gpus",
            "1",
            "--start",
            "2026-11-22 10:00",
            "--end",
            "2026-11-22 12:00",
        ],
        "alice-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("There is not enough computing power for the time you need, book again."),
        "{err}"
    );
    assert!(
        err.contains("the earliest window that fits is 2026-11-22 11:00 to 2026-11-22 13:00"),
        "{err}"
    );
    assert_eq!(
        err.matches("2026-11-22 11:00 to 2026-11-22 13:00").count(),
        1,
        "the window is said once: {err}"
    );
}

#[test]
fn a_new_user_signs_up_with_a_random_free_port_and_no_shared_default_password() {
    let root = common::root_from("lab");
    let weak = book(
        root.path(),
        &[
            "--user-id",
            "dave",
            "--cpus",
            "1",
            "--memory",
            "1",
            "--start",
            "1-day",
            "--end",
            "1-day",
        ],
        "0000\n",
    );
    assert_eq!(weak.status.code(), Some(2));
    // Regression: "the password needs not one character repeated".
    assert_eq!(
        stderr(&weak),
        "booking: error: the password is one character repeated: use at least two different characters\n"
    );
    let out = book(
        root.path(),
        &[
            "--user-id",
            "dave",
            "--cpus",
            "1",
            "--memory",
            "1",
            "--start",
            "1-day",
            "--end",
            "1-day",
        ],
        "dave's own pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let users = file(root.path(), "cfg/users_config.yaml");
    assert!(
        users.contains("dave:\n  password: dave's own pw\n"),
        "{users}"
    );
    assert!(users.contains("volume_work_dir: /srv/aivc/work/dave\n  volume_dataset_dir: /srv/aivc/dataset\n  volume_backup_dir: /srv/aivc/backup/dave"), "{users}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(root.path().join("cfg/users_config.yaml"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "the file holding passwords is readable by root alone"
    );
    assert!(!stderr(&out).contains("dave's own pw") && !stdout(&out).contains("dave's own pw"));
    let port: u16 = stdout(&out).split(',').nth(6).unwrap().parse().unwrap();
    assert!(
        (10001..=11000).contains(&port) && ![10001, 10002, 10003].contains(&port),
        "{port}"
    );
    // The other users' entries are kept, in order.
    let ids: Vec<&str> = users.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(ids, ["alice:", "bob:", "carol:", "dave:"]);
}

#[test]
fn cancel_removes_only_your_own_future_booking() {
    let root = common::root_from("lab");
    let out = booking(
        root.path(),
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "carol",
            "--cancel",
            "2026-11-22 09:00",
        ],
        "carol-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("you have no booking starting at 2026-11-22 09:00:00"));
    let out = booking(
        root.path(),
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "carol",
            "--cancel",
            "2026-11-22 10:00",
        ],
        "carol-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = file(root.path(), "jobs/booking.csv");
    assert!(
        !rows.contains(",carol,") && rows.contains(",bob,"),
        "{rows}"
    );
}

#[test]
fn end_at_shortens_always_and_extends_only_when_the_rules_allow() {
    let root = common::root_from("lab");
    let run = |args: &[&str], pw: &str| {
        let mut all = vec!["--yes", "--password-stdin"];
        all.extend_from_slice(args);
        booking(root.path(), &all, pw)
    };
    // alice runs on GPU 0 until 2026-11-22 09:00, when bob takes GPU 0: she cannot extend.
    let out = run(
        &["--user-id", "alice", "--end-at", "2026-11-22 10:00"],
        "alice-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("GPU"), "{}", stderr(&out));
    // Regression: an extension is not a search for another window, yet its refusal ended
    // "no window of that length and size fits in the next two weeks".
    let err = stderr(&out);
    assert!(
        err.starts_with("booking: cannot move the end to 2026-11-22 10:00: "),
        "{err}"
    );
    assert!(!err.contains("no window of that length"), "{err}");
    let out = run(
        &["--user-id", "alice", "--end-at", "2026-11-21 20:00"],
        "alice-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(file(root.path(), "jobs/using.csv")
        .contains("2026-11-21 09:00:00,2026-11-21 20:00:00,alice"));
    // carol's future booking on GPU 1 may grow into free time.
    let out = run(
        &["--user-id", "carol", "--end-at", "2026-11-22 15:00"],
        "carol-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(file(root.path(), "jobs/booking.csv")
        .contains("2026-11-22 10:00:00,2026-11-22 15:00:00,carol,2.0,8,[1]"));
    let out = run(
        &["--user-id", "carol", "--end-at", "2026-11-21 12:00"],
        "carol-secret-pw\n",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "an end before the start: {}",
        stderr(&out)
    );
}

#[test]
fn restart_is_asked_only_for_a_running_container() {
    let root = common::root_from("lab");
    let out = booking(
        root.path(),
        &["--yes", "--password-stdin", "--user-id", "bob", "--restart"],
        BOB,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("you have no running container"));
    assert_eq!(file(root.path(), "jobs/monitor_exec"), "");
    let out = booking(
        root.path(),
        &["--yes", "--password-stdin", "-id", "alice", "-rst"],
        "alice-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(file(root.path(), "jobs/monitor_exec"), "restart alice\n");
}

#[test]
fn the_schedule_lists_without_login_and_never_shows_a_password() {
    let root = common::root_from("lab");
    let out = booking(root.path(), &["-ls"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("GPU 0: alice 2026-11-21 09:00 to 2026-11-22 09:00, bob 2026-11-22 09:00 to 2026-11-22 12:00"), "{text}");
    assert!(!text.contains("secret"));
    let out = booking(root.path(), &["--list-schedule", "--json"], "");
    let listing: booking::list::Listing = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing.now, format!("{NOW}:00"));
    assert_eq!(listing.rows.len(), 3);
    assert_eq!(listing.gpus[1].holders[0].user_id, "carol");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret"));
}

#[test]
fn without_a_terminal_or_yes_it_says_so_and_exits_2() {
    let root = common::root_from("lab");
    let out = booking(root.path(), &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "booking: error: booking needs an interactive terminal (or use --yes with flags)\n"
    );
}

/// Regression: `-ls --json` (no login) printed every row's extra command, where people put
/// tokens (`export HF_TOKEN=…`); anyone with the shared booking login could read them.
#[test]
fn the_listing_without_login_shows_no_ones_extra_command() {
    let root = common::root_from("lab");
    let path = root.path().join("jobs/booking.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("2026-11-25 09:00:00,2026-11-25 10:00:00,carol,1.0,1,[],10003,,export HF_TOKEN=hf_SeCrEt123\n");
    std::fs::write(&path, text).unwrap();
    for args in [&["-ls"][..], &["--list-schedule", "--json"][..]] {
        let out = booking(root.path(), args, "");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let shown = stdout(&out);
        assert!(shown.contains("carol"), "{shown}");
        assert!(!shown.contains("hf_SeCrEt123"), "{args:?}: {shown}");
    }
}

#[test]
fn email_sets_changes_and_removes_the_address_and_a_bad_one_changes_nothing() {
    let root = common::root_from("lab");
    let users = || file(root.path(), "cfg/users_config.yaml");
    let set = |address: &str| book(root.path(), &["--user-id", "bob", "--email", address], BOB);
    let out = set("bob@lab.example");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        users().contains("  email: bob@lab.example\n"),
        "{}",
        users()
    );
    // This lab sends no e-mail: the student is told so.
    assert!(
        stderr(&out).contains("does not send e-mail"),
        "{}",
        stderr(&out)
    );

    let before = users();
    for bad in ["bob", "bob@lab.example\nBcc: x@y.z", "a b@c.d", "<x@y.z>"] {
        let out = set(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(stderr(&out).starts_with("booking: error: --email: the address "));
        assert_eq!(users(), before, "{bad:?}");
    }

    let out = set("");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!users().contains("email:"), "{}", users());
}
