//! Password guessing (issue 12, item 2), run as the real binary on a copy of the lab fixture:
//! wrong passwords and sign-up codes are counted per user on every path, under the lock, with
//! a growing wait and a lock-out; each failure is an `AuthWarning` in jobs/monitor.log that
//! never holds what was typed; sign-ups are logged; a lab may require the admin's one-time
//! code; the admin can unlock and reset. Before this, `--password-stdin` took unlimited
//! guesses at full speed and nothing was counted or logged.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use booking::ops::{self, LoginState};
use common::{booking, booking_env, file, now, stderr};
use hostinfo::log::{Level, LogLine, Sign};
use hostinfo::Root;

const ALICE: &str = "alice-secret-pw\n";

/// `booking --yes --password-stdin --user-id ID` with `args`, `stdin` the password lines.
fn as_user(root: &Path, id: &str, args: &[&str], stdin: &str) -> Output {
    let mut all = vec!["--yes", "--password-stdin", "--user-id", id];
    all.extend_from_slice(args);
    booking(root, &all, stdin)
}

fn restart(root: &Path, id: &str, stdin: &str) -> Output {
    as_user(root, id, &["--restart"], stdin)
}

/// The AuthWarning lines of jobs/monitor.log, each checked to parse back as one.
fn auth_warnings(root: &Path) -> Vec<String> {
    file(root, "jobs/monitor.log")
        .lines()
        .filter(|l| l.contains("AuthWarning"))
        .map(|l| {
            let line = LogLine::parse(l).unwrap();
            assert_eq!(
                (line.level, line.sign),
                (Level::Warning, Some(Sign::AuthWarning))
            );
            line.message
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Before: the sixth try, with the right password, restarted alice's container (exit 0);
/// nothing was counted or logged.
#[test]
fn the_sixth_try_is_refused_as_locked_even_with_the_right_password_and_the_log_holds_no_password() {
    let root = common::root_from("lab");
    let p = root.path();
    for i in 1..=5 {
        let out = restart(p, "alice", &format!("guess-number-{i}\n"));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("incorrect password for `alice`"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            stderr(&out).contains("locked out until 2026-11-21 16:02"),
            i == 5,
            "the fifth locks: {}",
            stderr(&out)
        );
    }
    let out = restart(p, "alice", ALICE);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "booking: `alice` is locked out until 2026-11-21 16:02 after too many wrong passwords or sign-up codes; wait, or ask the admin to unlock it\n"
    );
    assert_eq!(file(p, "jobs/monitor_exec"), "", "nothing was restarted");
    let warnings = auth_warnings(p);
    assert_eq!(
        warnings,
        [
            "alice: wrong password (1 in a row).",
            "alice: wrong password (2 in a row).",
            "alice: wrong password (3 in a row).",
            "alice: wrong password (4 in a row).",
            "alice: wrong password (5 in a row).",
            "alice is locked out until 2026-11-21 16:02 after 5 wrong passwords or sign-up codes in a row.",
            "alice: a password was refused unchecked, locked out until 2026-11-21 16:02.",
        ]
    );
    let log = file(p, "jobs/monitor.log");
    assert!(!log.contains("guess-number") && !log.contains("alice-secret-pw"));
    let failures = p.join("jobs/auth-failures.csv");
    assert_eq!(
        file(p, "jobs/auth-failures.csv"),
        "user_id,failures,lockouts,last_failure,locked_until\nalice,5,1,2026-11-21 15:47:00,2026-11-21 16:02:00\n"
    );
    assert_eq!(mode(&failures), 0o600);

    // Fifteen minutes later the right password works again and clears the count.
    let later = booking_env(
        p,
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "alice",
            "--restart",
        ],
        ALICE.as_bytes(),
        &[("AIVC_NOW", "2026-11-21 16:02")],
    );
    assert_eq!(later.status.code(), Some(0), "{}", stderr(&later));
    assert_eq!(file(p, "jobs/monitor_exec"), "restart alice\n");
    assert!(!file(p, "jobs/auth-failures.csv").contains("alice"));
}

/// Before: none of these counted; the right password after them cancelled the booking.
#[test]
fn every_path_that_checks_a_password_counts_toward_one_lock_out() {
    let root = common::root_from("lab");
    let p = root.path();
    let wrong = "not-carols\n";
    let tries: [&[&str]; 5] = [
        &["--cancel", "2026-11-22 10:00"],
        &["--end-at", "2026-11-22 10:30"],
        &["--restart"],
        &[
            "--cpus", "1", "--memory", "1", "--start", "1-day", "--end", "1-day",
        ],
        &["-rst"],
    ];
    for args in tries {
        let out = as_user(p, "carol", args, wrong);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("incorrect password"), "{args:?}");
    }
    let out = as_user(
        p,
        "carol",
        &["--cancel", "2026-11-22 10:00"],
        "carol-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("locked out"), "{}", stderr(&out));
    assert!(
        file(p, "jobs/booking.csv").contains(",carol,"),
        "not cancelled"
    );
}

/// Before: all twelve parallel guesses were compared and answered "incorrect".
#[test]
fn parallel_guesses_are_all_counted_and_only_five_are_compared() {
    let root = common::root_from("lab");
    let p = root.path();
    let children: Vec<_> = (0..12)
        .map(|i| {
            let mut cmd = common::booking_command(
                p,
                &["--yes", "--password-stdin", "--user-id", "bob", "--restart"],
                &[],
            );
            let mut child = common::process::spawn_piped(&mut cmd);
            common::process::feed(&mut child, format!("parallel-guess-{i}\n").as_bytes());
            child
        })
        .collect();
    let (mut wrong, mut locked) = (0, 0);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        if stderr(&out).contains("incorrect password") {
            wrong += 1;
        } else if stderr(&out).contains("is locked out until") {
            locked += 1;
        }
    }
    assert_eq!((wrong, locked), (5, 7));
    assert!(file(p, "jobs/auth-failures.csv").contains("\nbob,5,1,"));
}

/// Before: a wrong password was answered at once, 30 guesses a second. The wait is spent
/// with the lock let go: other students are not held up by a guesser.
#[test]
fn each_wrong_password_waits_longer_before_the_answer_without_holding_the_lock() {
    let root = common::root_from("lab");
    let p = root.path();
    let unit = [("AIVC_AUTH_DELAY_MS", "400")];
    let args = ["--yes", "--password-stdin", "--user-id", "bob", "--restart"];
    for (n, at_least) in [(1, 400), (2, 800)] {
        let started = Instant::now();
        let out = booking_env(p, &args, b"wrong-pw\n", &unit);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            took >= Duration::from_millis(at_least),
            "failure {n} answered after {took:?}"
        );
    }
    // The third waits 1.2 s; a reader that gives up on the lock after 0.5 s still reads.
    let mut third = common::process::spawn_piped(&mut common::booking_command(p, &args, &unit));
    common::process::feed(&mut third, b"wrong-pw\n");
    std::thread::sleep(Duration::from_millis(300));
    let list = booking_env(p, &["-ls"], b"", &[("AIVC_LOCK_TIMEOUT", "0.5")]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let out = third.wait_with_output().unwrap();
    assert!(stderr(&out).contains("incorrect password"));
}

/// Before: nothing was counted, so jobs/auth-failures.csv never existed.
#[test]
fn a_right_password_clears_the_count() {
    let root = common::root_from("lab");
    let p = root.path();
    for _ in 0..2 {
        for _ in 0..4 {
            assert_eq!(restart(p, "alice", "wrong\n").status.code(), Some(1));
        }
        assert!(file(p, "jobs/auth-failures.csv").contains("\nalice,4,0,"));
        let out = restart(p, "alice", ALICE);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(!file(p, "jobs/auth-failures.csv").contains("alice"));
    }
}

fn require_codes(root: &Path) {
    let host = root.join("cfg/host_deploy.yaml");
    let mut text = std::fs::read_to_string(&host).unwrap();
    text.push_str("require_signup_code: true\n");
    std::fs::write(host, text).unwrap();
}

fn sign_up_dave(root: &Path, stdin: &str) -> Output {
    as_user(
        root,
        "dave",
        &[
            "--cpus", "1", "--memory", "1", "--start", "1-day", "--end", "1-day",
        ],
        stdin,
    )
}

/// Before: with the shared booking login anyone could claim dave (allowed, not signed up)
/// and choose his password; there was no code to ask for.
#[test]
fn with_require_signup_code_a_new_id_signs_up_only_with_the_admins_code_and_only_once() {
    let root = common::root_from("lab");
    let p = root.path();
    require_codes(p);
    let before = common::tree(p);
    let out = sign_up_dave(p, "dave pw 1\n");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no sign-up code has been issued for `dave`; ask the admin"),
        "{}",
        stderr(&out)
    );
    assert_eq!(common::tree(p), before, "nothing written");
    assert_eq!(
        ops::login_state(&Root::at(p), "dave").unwrap(),
        LoginState::New {
            code_required: true
        }
    );

    let issued = checker::admin::issue_signup_code(&Root::at(p), "dave", 7, now()).unwrap();
    let code = issued.code.expose().to_string();
    let codes = file(p, "jobs/signup-codes.csv");
    assert!(
        codes.starts_with("user_id,code_sha256,expires\ndave,"),
        "{codes}"
    );
    assert!(codes.ends_with(",2026-11-28 15:47:00\n"), "{codes}");
    assert!(!codes.contains(&code), "only the hash is kept");
    assert_eq!(mode(&p.join("jobs/signup-codes.csv")), 0o600);

    let out = sign_up_dave(p, "dave pw 1\n");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`dave` needs the code the admin issued"));
    let out = sign_up_dave(p, "dave pw 1\nAAAA-BBBB-CCCC-DDDD\n");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("incorrect sign-up code for `dave`"));
    assert_eq!(auth_warnings(p), ["dave: wrong sign-up code (1 in a row)."]);
    assert!(!file(p, "cfg/users_config.yaml").contains("dave"));

    let out = sign_up_dave(p, &format!("dave pw 1\n{}\n", code.to_lowercase()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let users = file(p, "cfg/users_config.yaml");
    assert!(users.contains("dave:\n  password: dave pw 1\n"), "{users}");
    assert_eq!(
        file(p, "jobs/signup-codes.csv"),
        "user_id,code_sha256,expires\n"
    );
    assert!(
        !file(p, "jobs/auth-failures.csv").contains("dave"),
        "cleared"
    );
    let log = file(p, "jobs/monitor.log");
    assert!(
        log.contains("[INFO] dave signed up with the admin's code, forward port 1"),
        "{log}"
    );
    assert!(!log.contains(&code) && !log.contains("dave pw 1"), "{log}");

    // Used up: were dave's entry removed, the same code would not sign him up again.
    let without_dave: String = users.split("dave:\n").next().unwrap().to_string();
    std::fs::write(p.join("cfg/users_config.yaml"), without_dave).unwrap();
    let out = sign_up_dave(p, &format!("other pw 2\n{code}\n"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no sign-up code has been issued for `dave`"));
}

/// A code past its expiry is refused before it is compared (codes are new: before, dave
/// signed up with no code at all).
#[test]
fn an_expired_code_is_refused_without_being_compared() {
    let root = common::root_from("lab");
    let p = root.path();
    require_codes(p);
    let issued = checker::admin::issue_signup_code(&Root::at(p), "dave", 1, now()).unwrap();
    let out = booking_env(
        p,
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
        format!("dave pw 1\n{}\n", issued.code.expose()).as_bytes(),
        &[("AIVC_NOW", "2026-11-22 15:47")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the sign-up code of `dave` has expired"));
    assert!(!file(p, "cfg/users_config.yaml").contains("dave"));
}

/// Before: a sign-up left no trace in the log.
#[test]
fn without_the_key_sign_up_is_open_as_before_and_logged_without_the_password() {
    let root = common::root_from("lab");
    let p = root.path();
    assert_eq!(
        ops::login_state(&Root::at(p), "dave").unwrap(),
        LoginState::New {
            code_required: false
        }
    );
    let out = sign_up_dave(p, "dave's own pw\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = file(p, "jobs/monitor.log");
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.starts_with("20261121 15:47 [INFO] dave signed up, forward port "),
        "{log}"
    );
    assert!(!log.contains("own pw"));
}

/// The admin's reset: lock-out cleared, old password void at once, a code with which the
/// user sets a new one, everything else of the entry kept. Before there was no reset but
/// editing users_config.yaml by hand, and no lock-out to clear.
#[test]
fn an_admin_reset_clears_the_lock_out_voids_the_password_and_the_user_sets_a_new_one() {
    let root = common::root_from("lab");
    let p = root.path();
    for _ in 0..5 {
        restart(p, "bob", "wrong\n");
    }
    assert!(stderr(&restart(p, "bob", "bob-secret-pw\n")).contains("locked out"));

    let issued = checker::admin::reset_user(&Root::at(p), "bob", 7, now()).unwrap();
    let code = issued.code.expose().to_string();
    assert!(
        !file(p, "jobs/auth-failures.csv").contains("bob"),
        "unlocked"
    );
    let users = file(p, "cfg/users_config.yaml");
    assert!(!users.contains("bob-secret-pw"), "{users}");
    assert!(
        users.contains("  forward_port: 10002\n  image: aivc/workspace:cuda12\n"),
        "the rest of the entry stays: {users}"
    );

    // The old password no longer opens anything, and saying so counts nothing.
    let shorten = ["--end-at", "2026-11-22 11:00"];
    let out = as_user(p, "bob", &shorten, "bob-secret-pw\n");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the admin has reset the password of `bob`"));
    assert!(!file(p, "jobs/auth-failures.csv").contains("bob"));
    let out = as_user(p, "bob", &shorten, "bob new pw\nWRONG-CODE\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("incorrect sign-up code for `bob`"));

    let out = as_user(p, "bob", &shorten, &format!("bob new pw\n{code}\n"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(file(p, "jobs/booking.csv").contains("2026-11-22 09:00:00,2026-11-22 11:00:00,bob"));
    assert!(file(p, "cfg/users_config.yaml").contains("bob:\n  password: bob new pw\n"));
    assert_eq!(
        file(p, "jobs/signup-codes.csv"),
        "user_id,code_sha256,expires\n"
    );
    // From now on the new password is a plain login; the code is spent.
    let out = as_user(p, "bob", &["--end-at", "2026-11-22 10:30"], "bob new pw\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = file(p, "jobs/monitor.log");
    assert!(log.contains("[INFO] The admin reset the password of bob; a code was issued, valid until 2026-11-28 15:47."));
    assert!(log.contains("[INFO] bob set a new password with the admin's code."));
    assert!(!log.contains(&code) && !log.contains("bob new pw"));
}

/// Clearing a lock-out alone, the two ways the manual gives. Before there was no lock-out.
#[test]
fn the_admin_unlocks_with_checker_unlock_or_by_deleting_the_line() {
    let root = common::root_from("lab");
    let p = root.path();
    let lock_out = |id: &str| {
        for _ in 0..5 {
            restart(p, id, "wrong\n");
        }
    };
    lock_out("alice");
    lock_out("carol");
    assert!(checker::admin::unlock(&Root::at(p), "alice", now()).unwrap());
    assert!(!checker::admin::unlock(&Root::at(p), "alice", now()).unwrap());
    let out = restart(p, "alice", ALICE);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(file(p, "jobs/monitor.log").contains("[INFO] alice was unlocked by the admin."));

    // By hand: the admin deletes carol's line (`sed -i '/^carol,/d'`).
    let path = p.join("jobs/auth-failures.csv");
    let text = file(p, "jobs/auth-failures.csv");
    assert!(text.contains("\ncarol,5,1,"), "{text}");
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("carol,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).unwrap();
    let out = as_user(
        p,
        "carol",
        &["--cancel", "2026-11-22 10:00"],
        "carol-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A damaged failures file is an error naming it, never a way in (fail closed).
#[test]
fn a_damaged_failures_file_refuses_every_login_with_a_one_line_error() {
    let root = common::root_from("lab");
    let p = root.path();
    std::fs::write(
        p.join("jobs/auth-failures.csv"),
        "user_id,failures\nalice,x\n",
    )
    .unwrap();
    let out = restart(p, "alice", ALICE);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("booking: error: ") && err.contains("auth-failures.csv:1"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    assert_eq!(file(p, "jobs/monitor_exec"), "");
}
