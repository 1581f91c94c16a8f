//! Bounds on what a user stores (issue 12, item 3): a password is 4..=128 bytes of printable
//! characters, read from standard input without ever reading more than its line; an extra
//! command is at most 4 KiB without a NUL or a line break, wherever it enters.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use booking::ops::{self, Booking, UserChange};
use common::{booking, booking_env, file, stderr};
use hostinfo::clock::When;
use hostinfo::Root;

fn sign_up_dave(root: &Path, stdin: &[u8]) -> Output {
    booking_env(
        root,
        &[
            "--yes",
            "--password-stdin",
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
        stdin,
        &[],
    )
}

/// Before: `ab\0cd` signed dave up (his container could then never start), and so did a
/// 129-byte password.
#[test]
fn a_password_with_a_nul_or_over_128_bytes_is_refused_and_changes_nothing() {
    let root = common::root_from("lab");
    let p = root.path();
    let before = common::tree(p);
    let long = "ab".repeat(64) + "c";
    for (stdin, message) in [
        (
            &b"ab\0cd\n"[..],
            "booking: error: the password may hold printable characters only (no tabs or other control characters)\n",
        ),
        (
            &b"ab\x1b[2Jcd\n"[..],
            "booking: error: the password may hold printable characters only (no tabs or other control characters)\n",
        ),
        (
            long.as_bytes(),
            "booking: error: the password on standard input is longer than 128 bytes\n",
        ),
    ] {
        let out = sign_up_dave(p, stdin);
        assert_eq!(out.status.code(), Some(2), "{stdin:?}");
        assert_eq!(stderr(&out), message);
        assert_eq!(common::tree(p), before, "{stdin:?} changed a file");
    }
    let max = "ab".repeat(64);
    let out = sign_up_dave(p, format!("{max}\n").as_bytes());
    assert_eq!(out.status.code(), Some(0), "128 bytes: {}", stderr(&out));
}

/// Before: `--password-stdin` read all of standard input, 30 MB included, and waited for its
/// end however long it took.
#[test]
fn a_30_mb_password_is_refused_at_once_and_an_endless_one_is_not_waited_for() {
    let root = common::root_from("lab");
    let p = root.path();
    let before = common::tree(p);
    let started = Instant::now();
    let huge = vec![b'x'; 30 << 20];
    let out = booking_env(
        p,
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "alice",
            "--restart",
        ],
        &huge,
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "booking: error: the password on standard input is longer than 128 bytes\n"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(common::tree(p), before, "not counted, nothing written");

    // An input that never ends: 200 bytes and the pipe held open.
    let mut child = common::process::spawn_piped(&mut common::booking_command(
        p,
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "alice",
            "--restart",
        ],
        &[],
    ));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&[b'y'; 200]).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("booking waited for the end of an endless password");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    assert_eq!(status.code(), Some(2));
}

/// Before: every one of these was written into booking.csv or users_config.yaml.
#[test]
fn an_extra_command_over_4_kib_or_with_a_line_break_is_refused_wherever_it_enters() {
    let root = common::root_from("lab");
    let p = root.path();
    let before = common::tree(p);
    let book = |command: &str| {
        booking(
            p,
            &[
                "--yes",
                "--password-stdin",
                "--user-id",
                "bob",
                "--cpus",
                "1",
                "--memory",
                "1",
                "--start",
                "2026-11-23 09:00",
                "--end",
                "1-day",
                "--extra-command",
                command,
            ],
            "bob-secret-pw\n",
        )
    };
    for (command, why) in [
        ("x".repeat(4097), "is longer than 4096 bytes"),
        (
            "echo a\necho b".into(),
            "may not hold a NUL, a line break or another control character",
        ),
        (
            "echo a\recho b".into(),
            "may not hold a NUL, a line break or another control character",
        ),
    ] {
        let out = book(&command);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("booking: error: --extra-command {why}\n")
        );
        assert_eq!(common::tree(p), before);
    }
    let out = book(&"x".repeat(4096));
    assert_eq!(out.status.code(), Some(0), "4096 bytes: {}", stderr(&out));

    // The library paths the prompts use (a NUL cannot even be put in argv).
    let root_ = Root::at(p);
    let before = common::tree(p);
    let row = Booking {
        user_id: "bob".into(),
        cpus: 1.0,
        memory: 1,
        gpus: 0,
        start: When {
            at: hostinfo::schedule::parse_time("2026-11-25 09:00:00").unwrap(),
            via_now: false,
        },
        end: hostinfo::schedule::parse_time("2026-11-25 10:00:00").unwrap(),
        forward_port: None,
        image: None,
        extra_command: Some("echo \0 x".into()),
        node: checker::NodeChoice::Any,
    };
    let e = ops::book(&root_, &row).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the extra command may not hold a NUL, a line break or another control character"
    );
    for bad in ["a\0b".to_string(), "y".repeat(4097), "a\nb".into()] {
        let change = UserChange {
            extra_command: Some(Some(bad)),
            ..Default::default()
        };
        assert!(ops::update_user(&root_, "bob", &change).is_err());
    }
    assert_eq!(common::tree(p), before);
    assert!(!file(p, "cfg/users_config.yaml").contains("yyyy"));
}
