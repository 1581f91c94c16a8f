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
        .env("AIVC_AUTH_DELAY_MS", "0")
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
    exit_and_last_words(p).0
}

/// The exit code and what was printed after the last expected text.
fn exit_and_last_words(p: &mut PtySession) -> (i32, String) {
    let rest = p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => (code, rest),
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
        "the typed id is used as allow_userIDs spells it: {users}"
    );
}

/// The prompt's tries are counted with the non-interactive ones: three here and two with
/// `--password-stdin` lock bob out. Before, the prompt counted nothing and the right
/// password afterwards logged bob in.
#[test]
fn three_wrong_passwords_say_byebye_exit_1_and_count_toward_the_lock_out() {
    let root = common::root_from("lab");
    let before = common::tree(root.path());
    let mut p = spawn(root.path(), &["-id", "bob"]);
    for _ in 0..3 {
        answer(&mut p, "Please input your password:", "guess");
        p.exp_string("Incorrect!!").unwrap();
    }
    p.exp_string("ByeBye~~").unwrap();
    assert_eq!(exit_code(&mut p), 1);
    let mut after = common::tree(root.path());
    let failures = after.remove(Path::new("jobs/auth-failures.csv")).unwrap();
    assert!(String::from_utf8(failures).unwrap().contains("\nbob,3,0,"));
    let log = String::from_utf8(after.remove(Path::new("jobs/monitor.log")).unwrap()).unwrap();
    assert_eq!(
        log.matches("[WARNING] AuthWarning, bob: wrong password")
            .count(),
        3
    );
    assert!(!log.contains("guess"));
    let mut unchanged = before.clone();
    unchanged.remove(Path::new("jobs/monitor.log"));
    assert_eq!(after, unchanged, "nothing else was written");

    let stdin = |pw: &str| {
        common::booking(
            root.path(),
            &["--yes", "--password-stdin", "--user-id", "bob", "--restart"],
            pw,
        )
    };
    assert!(common::stderr(&stdin("guess\n")).contains("incorrect password"));
    assert!(common::stderr(&stdin("guess\n")).contains("locked out until"));
    let out = stdin("bob-secret-pw\n");
    assert!(
        common::stderr(&out).contains("`bob` is locked out until"),
        "{}",
        common::stderr(&out)
    );
}

/// A lab that requires codes: the prompt asks the admin's code before the new password,
/// and a wrong one counts. Before, dave was asked for nothing but a password.
#[test]
fn a_new_user_gives_the_admins_code_before_choosing_a_password() {
    let root = common::root_from("lab");
    let host = root.path().join("cfg/host_deploy.yaml");
    let text = std::fs::read_to_string(&host).unwrap() + "require_signup_code: true\n";
    std::fs::write(&host, text).unwrap();
    let issued = checker::admin::issue_signup_code(
        &hostinfo::Root::at(root.path()),
        "dave",
        7,
        common::now(),
    )
    .unwrap();
    let mut p = spawn(root.path(), &["-id", "dave"]);
    answer(
        &mut p,
        "Please input the code the admin gave you:",
        "WRONG-CODE",
    );
    p.exp_string("Incorrect!!").unwrap();
    answer(
        &mut p,
        "Please input the code the admin gave you:",
        issued.code.expose(),
    );
    answer(&mut p, "Please set your password:", "dave pw 1");
    answer(&mut p, "Please input the password again:", "dave pw 1");
    p.exp_string("Your config: forward_port=").unwrap();
    p.exp_string("cpus memory gpus").unwrap();
    p.send_control('c').unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert!(common::file(root.path(), "cfg/users_config.yaml")
        .contains("dave:\n  password: dave pw 1\n"));
    assert_eq!(
        common::file(root.path(), "jobs/signup-codes.csv"),
        "user_id,code_sha256,expires\n"
    );
    assert!(common::file(root.path(), "jobs/monitor.log")
        .contains("AuthWarning, dave: wrong sign-up code (1 in a row)."));
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
    // The offer to wait, declined: back to the capability question; a wrong answer gets
    // the original's message.
    let refusal = p.exp_string("Join the waitlist?").unwrap();
    p.send("n\r").unwrap();
    p.flush().unwrap();
    p.exp_string("Your Maximum Capability Information").unwrap();
    // Regression: the window was said twice ("Suggested window: …" after the refusal).
    assert!(
        refusal.contains("the earliest window that fits is 2026-11-22 11:00 to 2026-11-22 13:00"),
        "{refusal}"
    );
    assert_eq!(
        refusal
            .matches("2026-11-22 11:00 to 2026-11-22 13:00")
            .count(),
        1,
        "{refusal}"
    );
    answer(&mut p, "cpus memory gpus", "99 1 1");
    p.exp_string("Over the maximum required.").unwrap();
    // Ctrl-C at a prompt: nothing written, exit 130.
    p.exp_string("cpus memory gpus").unwrap();
    p.send_control('c').unwrap();
    let (code, said) = exit_and_last_words(&mut p);
    assert_eq!(code, 130);
    assert!(
        said.contains("booking: interrupted; nothing was booked"),
        "{said}"
    );
    assert_eq!(common::tree(root.path()), before);
}

/// Regression: after a sign-up was written, Ctrl-C said "interrupted; nothing was written".
#[test]
fn ctrl_c_after_signing_up_says_the_sign_up_was_kept() {
    let root = common::root_from("lab");
    let mut p = spawn(root.path(), &[]);
    answer(&mut p, "Please input your user ID:", "dave");
    answer(&mut p, "Please set your password:", "dave pw 1");
    answer(&mut p, "Please input the password again:", "dave pw 1");
    p.exp_string("cpus memory gpus").unwrap();
    p.send_control('c').unwrap();
    let (code, said) = exit_and_last_words(&mut p);
    assert_eq!(code, 130);
    assert!(
        said.contains("booking: interrupted; nothing was booked (saved: your sign-up)"),
        "{said}"
    );
    assert!(!said.contains("nothing was written"), "{said}");
    assert!(common::file(root.path(), "cfg/users_config.yaml").contains("\ndave:\n"));
}

/// Regression: under `-use-opt` a port that is another user's was taken at the port prompt
/// and refused four questions later, ending the session; a start in the past was refused
/// only after the end was asked. Both are now refused where they are typed, and asked again.
#[test]
fn use_opt_refuses_another_users_port_and_a_past_start_where_they_are_typed() {
    let root = common::root_from("lab");
    let before = common::tree(root.path());
    let mut p = spawn(root.path(), &["-id", "alice", "-use-opt"]);
    answer(&mut p, "Please input your password:", "alice-secret-pw");
    answer(&mut p, "Forward port", "10002");
    let said = p
        .exp_string("Wrong Input! The forward port 10002 belongs to user `bob`.")
        .unwrap();
    assert!(
        !said.contains("Image"),
        "refused before the next question: {said}"
    );
    // Asked again; Enter keeps alice's own port.
    answer(&mut p, "Forward port", "");
    answer(&mut p, "Image:", "");
    answer(&mut p, "Extra command", "");
    answer(&mut p, "Change your password?", "n");
    answer(&mut p, "The previous setting is for the once", "n");
    answer(&mut p, "cpus memory gpus", "1 1 0");
    answer(&mut p, "Start time", "2026 11 21 10 00");
    let said = p
        .exp_string("Wrong Input! the start 2026-11-21 10:00:00 is in the past")
        .unwrap();
    assert!(!said.contains("End time"), "refused before the end: {said}");
    p.exp_string("Start time").unwrap();
    p.send_control('c').unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert_eq!(common::tree(root.path()), before, "nothing written");
}

/// Regression: the prompt lower-cased every typed id, so an id the admin wrote in upper
/// case (`M11007S05`) was refused at the prompt though `-id M11007S05` worked.
#[test]
fn an_upper_case_allowed_id_typed_in_any_case_signs_up_under_the_admins_spelling() {
    let root = common::root_from("lab");
    let caps = root.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&caps)
        .unwrap()
        .replace("  - dave\n", "  - dave\n  - M11007S05\n");
    std::fs::write(&caps, text).unwrap();
    let mut p = spawn(root.path(), &[]);
    answer(&mut p, "Please input your user ID:", "M11007s05");
    p.exp_string("Welcome, M11007S05!").unwrap();
    answer(&mut p, "Please set your password:", "m11 pw 1");
    answer(&mut p, "Please input the password again:", "m11 pw 1");
    p.exp_string("cpus memory gpus").unwrap();
    p.send_control('c').unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert!(common::file(root.path(), "cfg/users_config.yaml").contains("\nM11007S05:\n"));
}

/// With groups (tests/common: `GROUPS_CAPABILITY`): the maximums shown say where they come
/// from (alice's group tier, and her exception with its reason) and what the group may hold
/// together; the group's total refuses at the prompt as it does with flags, and asks again.
#[test]
fn the_maximums_name_the_group_and_the_exceptions_reason_and_the_groups_total_refuses() {
    let root = common::groups_root();
    let mut p = spawn(root.path(), &["--user-id", "alice"]);
    answer(&mut p, "Please input your password:", "alice-secret-pw");
    p.exp_string("Your Maximum Capability Information: cpus=12 memory=48 gpus=2")
        .unwrap();
    p.exp_string(
        "(cpus, memory: group phd's tier; gpus: your exception, thesis runs, approved by the PI)",
    )
    .unwrap();
    p.exp_string(
        "Group phd: its members together hold at most 2 GPUs, 12 cpus, 48 GB at any time.",
    )
    .unwrap();
    // bob holds 4 of phd's 12 cpus from 09:00 to 12:00; the host has 16, so only the group
    // refuses.
    answer(&mut p, "cpus memory gpus", "12 8 0");
    answer(&mut p, "Start time", "2026 11 22 09 00");
    answer(&mut p, "End time", "2026 11 22 10 00");
    let said = p.exp_string("Join the waitlist?").unwrap();
    p.send("n\r").unwrap();
    p.flush().unwrap();
    p.exp_string("Your Maximum Capability Information").unwrap();
    assert!(
        said.contains(
            "group phd already holds 4 of its 12 cpus from 09:00 to 10:00 on Sun 2026-11-22"
        ) && said.contains("the earliest window that fits is 2026-11-22 12:00 to 2026-11-22 13:00"),
        "{said}"
    );
    answer(&mut p, "cpus memory gpus", "4 8 0");
    answer(&mut p, "Start time", "2026 11 22 09 00");
    answer(&mut p, "End time", "2026 11 22 10 00");
    p.exp_string("Booking successful!").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert!(common::file(root.path(), "jobs/booking.csv")
        .contains("2026-11-22 09:00:00,2026-11-22 10:00:00,alice,4.0,8,[],"));
}

/// A full schedule offers the waitlist: a latest start before the start is refused where
/// it is typed, a window that does not fit yet joins, and the session ends with exit 0.
#[test]
fn a_capacity_refusal_offers_the_waitlist_and_joins_with_a_window() {
    let root = common::root_from("lab");
    let mut p = spawn(root.path(), &["--user-id", "alice"]);
    answer(&mut p, "Please input your password:", "alice-secret-pw");
    // Both GPUs are busy on Sunday from 10:00 to 11:00 (bob's and carol's bookings).
    answer(&mut p, "cpus memory gpus", "1 1 1");
    answer(&mut p, "Start time", "2026 11 22 10 00");
    answer(&mut p, "End time", "2026 11 22 11 00");
    p.exp_string("There is not enough computing power").unwrap();
    answer(&mut p, "Join the waitlist?", "y");
    answer(&mut p, "Latest start you would take", "2026 11 22 09 30");
    p.exp_string(
        "Wrong Input! the latest start 2026-11-22 09:30 is before the start 2026-11-22 10:00",
    )
    .unwrap();
    answer(&mut p, "Latest start you would take", "2026 11 22 10 30");
    p.exp_string("joined the waitlist as #1: 1 cpus, 1 GB, 1 GPU for 1 hour, starting between 2026-11-22 10:00 and 2026-11-22 10:30")
        .unwrap();
    assert_eq!(exit_code(&mut p), 0);
    let waitlist = common::file(root.path(), "jobs/waitlist.csv");
    assert!(
        waitlist.contains(",alice,1.0,1,1,60,2026-11-22 10:00:00,2026-11-22 10:30:00,10001,,"),
        "{waitlist}"
    );
    assert!(!common::file(root.path(), "jobs/booking.csv").contains(",alice,"));
}

/// On a cluster the flow asks one question more, the node, after the times: `any` by
/// default, a node that is not in cfg/cluster.yaml is refused where it is typed.
#[test]
fn on_a_cluster_the_node_is_asked_and_an_unknown_one_is_refused_where_it_is_typed() {
    let root = common::root_from("lab");
    std::fs::write(
        root.path().join("cfg/cluster.yaml"),
        "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 1}\n  node1: {cpus: 8, memory: 32, gpus: 2}\n",
    )
    .unwrap();
    let mut p = spawn(root.path(), &["--user-id", "alice"]);
    answer(&mut p, "Please input your password:", "alice-secret-pw");
    answer(&mut p, "cpus memory gpus", "2 8 1");
    answer(&mut p, "Start time", "2026 11 23 09 00");
    answer(&mut p, "End time", "2026 11 23 10 00");
    answer(&mut p, "Node to run on (any, node0, node1):", "node9");
    p.exp_string("`node9` is not in cfg/cluster.yaml").unwrap();
    answer(&mut p, "Node to run on (any, node0, node1):", "node1");
    p.exp_string("Booking successful!").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    let rows = common::file(root.path(), "jobs/booking.csv");
    assert!(
        rows.starts_with(hostinfo::schedule::HEADER_LINE_WITH_NODE)
            && rows.contains(
                "2026-11-23 09:00:00,2026-11-23 10:00:00,alice,2.0,8,[0],10001,,,node1\n"
            ),
        "{rows}"
    );
}
