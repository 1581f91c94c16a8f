//! The admin commands over who may log in (`issue-signup-code`, `unlock`, `reset-user`), run
//! as the real binary: the code alone on stdout, only its hash kept, a one-line refusal
//! (exit 2, nothing written) for an id they do not apply to. Before, none of them existed.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn checker(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", "2026-11-21 15:47")
        .env_remove("AIVC_ROOT")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_default()
}

fn is_code(line: &str) -> bool {
    line.len() == 19
        && line.split('-').count() == 4
        && line
            .split('-')
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[test]
fn issue_signup_code_prints_the_code_once_and_keeps_only_its_hash() {
    let root = common::root_from("lab");
    let p = root.path();
    let out = checker(p, &["issue-signup-code", "dave", "--valid-days", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let code = text(&out.stdout);
    let code = code.strip_suffix('\n').unwrap();
    assert!(is_code(code), "{code:?}");
    assert!(
        text(&out.stderr)
            .contains("with this code dave signs up in booking, once, until 2026-11-24 15:47"),
        "{}",
        text(&out.stderr)
    );
    let codes = read(p, "jobs/signup-codes.csv");
    assert!(codes.contains("\ndave,") && codes.ends_with(",2026-11-24 15:47:00\n"));
    assert!(!codes.contains(code));
    let log = read(p, "jobs/monitor.log");
    assert!(
        log.contains("[INFO] A sign-up code was issued for dave, valid until 2026-11-24 15:47.")
    );
    assert!(!log.contains(code));
    // A second code replaces the first.
    let again = checker(p, &["issue-signup-code", "dave"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(read(p, "jobs/signup-codes.csv").matches("dave,").count(), 1);
    assert_ne!(read(p, "jobs/signup-codes.csv"), codes);
}

#[test]
fn admin_commands_refuse_ids_they_do_not_apply_to_and_write_nothing() {
    let root = common::root_from("lab");
    let p = root.path();
    let before = common::tree(p);
    for (args, message) in [
        (
            &["issue-signup-code", "bob"][..],
            "checker: error: `bob` has signed up already; `checker reset-user bob` resets the password\n",
        ),
        (
            &["issue-signup-code", "mallory"][..],
            "checker: error: `mallory` is not in allow_userIDs of ",
        ),
        (
            &["reset-user", "dave"][..],
            "checker: error: `dave` has not signed up; `checker issue-signup-code dave` lets them\n",
        ),
        (
            &["reset-user", "../x"][..],
            "checker: error: user id `../x` must start with a letter or a digit\n",
        ),
        (&["issue-signup-code", "dave", "--valid-days", "0"][..], "error:"),
        (&["issue-signup-code", "dave", "--valid-days", "91"][..], "error:"),
    ] {
        let out = checker(p, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).starts_with(message) || text(&out.stderr).contains(message),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(common::tree(p), before, "{args:?} wrote something");
    }
}

#[test]
fn reset_user_voids_the_password_keeps_the_entry_and_unlock_clears_a_lock_out() {
    let root = common::root_from("lab");
    let p = root.path();
    std::fs::write(
        p.join("jobs/auth-failures.csv"),
        "user_id,failures,lockouts,last_failure,locked_until\n\
         alice,5,1,2026-11-21 15:40:00,2026-11-21 15:55:00\n\
         bob,5,1,2026-11-21 15:40:00,2026-11-21 15:55:00\n",
    )
    .unwrap();
    let out = checker(p, &["unlock", "alice"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "checker: alice is unlocked\n");
    assert!(!read(p, "jobs/auth-failures.csv").contains("alice"));
    let out = checker(p, &["unlock", "alice"]);
    assert_eq!(
        text(&out.stderr),
        "checker: alice had no wrong passwords to forget\n"
    );

    let out = checker(p, &["reset-user", "bob"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(is_code(text(&out.stdout).trim_end()));
    let users = read(p, "cfg/users_config.yaml");
    assert!(!users.contains("bob-secret-pw"), "{users}");
    assert!(users.contains("alice-secret-pw") && users.contains("  forward_port: 10002\n"));
    assert_eq!(
        read(p, "jobs/auth-failures.csv"),
        "user_id,failures,lockouts,last_failure,locked_until\n"
    );
    assert!(read(p, "jobs/signup-codes.csv").contains("\nbob,"));
    // The report still loads everything and shows no password.
    let report = checker(p, &["--json"]);
    assert!(!text(&report.stdout).contains("secret-pw"));
    let valid = checker(p, &["validate"]);
    assert_eq!(valid.status.code(), Some(0), "{}", text(&valid.stderr));
}
