//! The interactive flow driven through a real pseudo-terminal, as a student at an SSH
//! session would: type, press Enter ("\r", the terminal is in raw mode), read the screen.

mod common;

use std::path::Path;
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

fn spawn(root: &Path, args: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_booking"));
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", common::NOW)
        .env("NO_COLOR", "1")
        .env_remove("AIVC_ROOT");
    rexpect::session::spawn_command(cmd, Some(10_000))
        .expect("a pseudo-terminal for the booking binary")
}

fn answer(p: &mut PtySession, prompt: &str, typed: &str) {
    p.exp_string(prompt)
        .unwrap_or_else(|e| panic!("waiting for `{prompt}`: {e}"));
    p.send(typed).unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
}

fn exit_code(p: &mut PtySession) -> i32 {
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("booking did not exit normally: {other:?}"),
    }
}

#[test]
fn a_new_user_signs_up_and_books_now() {
    let root = common::root_from("lab");
    let mut p = spawn(root.path(), &[]);
    answer(&mut p, "Please input your user ID:", "Dave");
    answer(&mut p, "Please set your password:", "dave pw 1");
    answer(&mut p, "Please input the password again:", "dave pw 1");
    p.exp_string("Your config: forward_port=").unwrap();
    p.exp_string("Your Maximum Capability Information: cpus=8 memory=32 gpus=1")
        .unwrap();
    answer(&mut p, "cpus memory gpus", "2 8 1");
    answer(&mut p, "Start time", "now");
    answer(&mut p, "End time", "2026 11 21 18 00");
    p.exp_string("Booking successful!").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    let rows = common::file(root.path(), "jobs/booking.csv");
    assert!(
        rows.contains("2026-11-21 15:30:00,2026-11-21 18:00:00,dave,2.0,8,[1],"),
        "{rows}"
    );
    assert_eq!(common::file(root.path(), "jobs/monitor_exec"), "now\n");
    let users = common::file(root.path(), "cfg/users_config.yaml");
    assert!(
        users.contains("dave:\n  password: dave pw 1\n"),
        "the typed id was lower-cased: {users}"
    );
}

#[test]
fn three_wrong_passwords_say_byebye_exit_1_and_write_nothing() {
    let root = common::root_from("lab");
    let before = common::tree(root.path());
    let mut p = spawn(root.path(), &["-id", "bob"]);
    for _ in 0..3 {
        answer(&mut p, "Please input your password:", "guess");
        p.exp_string("Incorrect!!").unwrap();
    }
    p.exp_string("ByeBye~~").unwrap();
    assert_eq!(exit_code(&mut p), 1);
    assert_eq!(common::tree(root.path()), before);
}

#[test]
fn a_refused_request_gets_the_suggested_window_and_asks_again() {
    let root = common::root_from("lab");
    let before = common::tree(root.path());
    let mut p = spawn(root.path(), &["--user-id", "alice"]);
    answer(&mut p, "Please input your password:", "alice-secret-pw");
    answer(&mut p, "cpus memory gpus", "1 1 1");
    answer(&mut p, "Start time", "2026 11 22 10 00");
    answer(&mut p, "End time", "2026 11 22 12 00");
    p.exp_string("There is not enough computing power for the time you need, book again.")
        .unwrap();
    p.exp_string("Suggested window: 2026-11-22 11:00 to 2026-11-22 13:00")
        .unwrap();
    // Back to the capability question; a wrong answer gets the original's message.
    p.exp_string("Your Maximum Capability Information").unwrap();
    answer(&mut p, "cpus memory gpus", "99 1 1");
    p.exp_string("Over the maximum required.").unwrap();
    // Ctrl-C at a prompt: nothing written, exit 130.
    p.exp_string("cpus memory gpus").unwrap();
    p.send_control('c').unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert_eq!(common::tree(root.path()), before);
}
