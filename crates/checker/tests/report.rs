//! `checker --json` and the summary, run as the real binary: the document parses back into
//! the library's structs, carries no password, and every problem kind is reported.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use checker::report::{Report, State};

const NOW: &str = "2026-11-21 15:47";

fn checker(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", NOW)
        // A machine bigger than every fixture: the report does not depend on the test's.
        .env("AIVC_MACHINE", MACHINE)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

const MACHINE: &str = "cpus=256,ram=1024,swap=64";

fn report(root: &Path) -> (Report, Option<i32>) {
    let out = checker(root, &["--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON document on one line");
    (serde_json::from_str(&text).unwrap(), out.status.code())
}

fn codes(r: &Report) -> Vec<&str> {
    r.problems.iter().map(|p| p.code.as_str()).collect()
}

#[test]
fn the_lab_report_parses_back_and_has_no_problems() {
    let root = common::root_from("lab");
    let (r, code) = report(root.path());
    assert_eq!(code, Some(0), "{:?}", r.problems);
    assert_eq!(r.version, 1);
    assert_eq!(r.timezone, "Asia/Taipei");
    assert_eq!(r.now, "2026-11-21 15:47:00");
    assert!(r.clock_fixed);
    assert_eq!(r.host.memory, 80.0);
    assert_eq!(r.host.shm_rate, 0.8);
    assert_eq!(r.users.len(), 4);
    assert!(r
        .users
        .iter()
        .any(|u| u.id == "dave" && u.allowed && !u.configured));
    let states: Vec<_> = r
        .rows
        .iter()
        .map(|row| (row.user_id.as_str(), row.state))
        .collect();
    assert_eq!(
        states,
        [
            ("alice", State::Running),
            ("bob", State::Waiting),
            ("carol", State::Waiting)
        ]
    );
    // 09:00 alice on GPU 0; from 09:00 the next day bob takes it over; carol adds GPU 1 10–11.
    let at = |when: &str| r.timeline.iter().find(|p| p.at == when).unwrap();
    assert_eq!(at("2026-11-21 09:00:00").gpus, [0]);
    assert_eq!(at("2026-11-22 09:00:00").gpus, [0]);
    assert_eq!(at("2026-11-22 10:00:00").gpus, [0, 1]);
    assert_eq!(at("2026-11-22 10:00:00").cpus, 6.0);
    assert!(at("2026-11-22 12:00:00").gpus.is_empty());
}

#[test]
fn no_password_reaches_the_json_or_the_summary() {
    let root = common::root_from("lab");
    for args in [&["--json"][..], &[][..]] {
        let out = checker(root.path(), args);
        let text = String::from_utf8_lossy(&out.stdout);
        for pw in ["alice-secret-pw", "bob-secret-pw", "carol-secret-pw"] {
            assert!(!text.contains(pw), "{args:?} printed a password");
        }
        assert!(!text.to_lowercase().contains("password"), "{args:?}");
    }
}

#[test]
fn without_a_gpu_driver_the_report_says_where_the_gpus_came_from() {
    let root = common::root_from("lab");
    let (r, _) = report(root.path());
    match r.gpus.source.as_str() {
        "config" => {
            assert_eq!(r.gpus.devices.len(), 2);
            assert!(r.gpus.note.as_deref().unwrap().starts_with("NVML"));
        }
        "nvml" => assert!(r.gpus.devices.iter().all(|d| d.uuid.is_some())),
        other => panic!("unknown source {other}"),
    }
}

#[test]
fn the_original_samples_are_reported_not_refused() {
    let root = common::reference_root();
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1), "the samples hold problems");
    assert_eq!(r.rows.len(), 51);
    let codes = codes(&r);
    // The sample books GPUs 4..7 on a 4-GPU host and users that are not in the allow list.
    assert!(codes.contains(&"gpu_out_of_range"), "{codes:?}");
    assert!(codes.contains(&"user_not_allowed"), "{codes:?}");
}

fn with_booking(rows: &str) -> tempfile::TempDir {
    let root = common::root_from("lab");
    let header = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
    std::fs::write(
        root.path().join("jobs/booking.csv"),
        format!("{header}{rows}"),
    )
    .unwrap();
    root
}

#[test]
fn an_over_committed_schedule_is_reported_with_where_and_when() {
    let root = with_booking(
        "2026-11-22 09:00:00,2026-11-22 12:00:00,bob,8.0,40,[1],10002,,\n\
         2026-11-22 10:00:00,2026-11-22 11:00:00,carol,8.0,40,[1],10003,,\n\
         2026-11-22 10:30:00,2026-11-22 11:00:00,dave,1.0,1,[],10004,,\n",
    );
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1));
    let codes = codes(&r);
    for expected in [
        "overcommit_cpus",
        "overcommit_memory",
        "gpu_double_booked",
        "unknown_user",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
    let cpus = r
        .problems
        .iter()
        .find(|p| p.code == "overcommit_cpus")
        .unwrap();
    assert_eq!(
        cpus.message,
        "cpus over capacity from 2026-11-22 10:30 to 2026-11-22 11:00: up to 17 booked of 16"
    );
    let gpu = r
        .problems
        .iter()
        .find(|p| p.code == "gpu_double_booked")
        .unwrap();
    assert_eq!((gpu.file.as_str(), gpu.line), ("jobs/booking.csv", Some(3)));
}

#[test]
fn every_row_problem_kind_is_found() {
    let root = with_booking(
        "2026-11-22 09:00:00,2026-11-22 12:00:00,bob,1.0,1,[],10002,,\n\
         2026-11-22 11:00:00,2026-11-22 13:00:00,bob,1.0,1,[],10002,,\n\
         2026-11-22 09:15:00,2026-11-22 10:00:00,carol,1.0,1,[],10003,,\n\
         2026-11-22 14:00:00,2026-11-22 13:00:00,carol,1.0,1,[],10003,,\n\
         2026-11-23 09:00:00,2026-11-23 10:00:00,carol,1.0,1,[5],10003,evil:latest,\n\
         2026-11-23 09:00:00,2026-11-23 10:00:00,-rm,1.0,1,[],99,,\n\
         2026-11-24 09:00:00,2026-11-24 10:00:00,carol,12.0,1,[],10009,,\n\
         2026-11-24 09:00:00,2026-11-24 10:00:00,mallory,1.0,1,[],10009,,\n",
    );
    let (r, _) = report(root.path());
    let codes = codes(&r);
    for expected in [
        "user_overlap",
        "off_grid",
        "bad_window",
        "gpu_out_of_range",
        "image_not_allowed",
        "bad_user_id",
        "bad_port",
        "over_user_max",
        "port_shared",
        "user_not_allowed",
        "unknown_user",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
    assert!(r
        .problems
        .iter()
        .all(|p| !p.message.is_empty() && !p.file.is_empty()));
}

/// Regression: a row below the minimums (cpus 0.5, memory 0) or longer than 14 days was
/// no problem, and the monitor started it; a one-character id passed as a user id, though
/// Docker refuses it as a container name and the booking could never start.
#[test]
fn rows_the_monitor_will_not_start_are_problems_naming_line_and_column() {
    let root = with_booking(
        "2026-11-23 09:00:00,2026-11-23 10:00:00,bob,0.5,0,[],10002,,\n\
         2026-11-24 09:00:00,2026-12-08 09:30:00,carol,1.0,1,[],10003,,\n\
         2026-11-25 09:00:00,2026-11-25 10:00:00,a,1.0,1,[],10004,,\n",
    );
    let (r, _) = report(root.path());
    let found: Vec<(String, Option<u64>, String)> = r
        .problems
        .iter()
        .filter(|p| ["below_minimum", "too_long", "bad_user_id"].contains(&p.code.as_str()))
        .map(|p| (p.code.clone(), p.line, p.message.clone()))
        .collect();
    assert_eq!(
        found,
        [
            ("below_minimum".into(), Some(2), "cpus: cpus 0.5 is below the minimum of 1".into()),
            (
                "too_long".into(),
                Some(3),
                "end: lasts from 2026-11-24 09:00:00 to 2026-12-08 09:30:00, longer than the 14 days a booking may".into()
            ),
            (
                "bad_user_id".into(),
                Some(4),
                "user id `a` is shorter than 2 characters (a Docker container name needs 2)".into()
            ),
        ]
    );
    let refused =
        |p: &&checker::problems::Problem| ["below_minimum", "too_long"].contains(&p.code.as_str());
    assert!(r
        .problems
        .iter()
        .filter(refused)
        .all(|p| p.severity == checker::problems::Severity::Error));
}

#[test]
fn config_problems_are_found_in_users_config() {
    let root = common::root_from("lab");
    let users = root.path().join("cfg/users_config.yaml");
    let text = std::fs::read_to_string(&users)
        .unwrap()
        .replace("forward_port: 10003", "forward_port: 10002");
    std::fs::write(&users, text).unwrap();
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1));
    let shared = r.problems.iter().find(|p| p.code == "port_shared").unwrap();
    assert_eq!(shared.file, "cfg/users_config.yaml");
}

#[test]
fn the_summary_reads_without_colour_and_names_each_problem() {
    let root = with_booking("2026-11-22 09:00:00,2026-11-22 12:00:00,mallory,1.0,1,[],10009,,\n");
    let out = checker(root.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes when stdout is not a terminal"
    );
    assert!(
        text.contains("Host: 16 cpus, 80 GB memory (64 GB RAM + 16 GB swap), 2 GPUs"),
        "{text}"
    );
    assert!(
        text.contains("Time: 2026-11-21 15:47 Asia/Taipei (fixed by AIVC_NOW)"),
        "{text}"
    );
    assert!(
        text.contains("error   unknown_user jobs/booking.csv:2: `mallory` has no entry"),
        "{text}"
    );
    let coloured = checker(root.path(), &["--color", "always"]);
    assert!(String::from_utf8_lossy(&coloured.stdout).contains('\u{1b}'));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let root = common::reference_root();
    let mut child = Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root.path())
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_booking_whose_start_keeps_failing_is_a_problem_with_dockers_reason() {
    let root = common::root_from("lab");
    // carol's booking (line 3) failed three times; a record whose booking left booking.csv
    // (dave's) is old news until the monitor's next tick drops it.
    std::fs::write(
        root.path().join("jobs/start-failures.csv"),
        "user_id,start,since,attempts,reason\n\
         carol,2026-11-22 10:00:00,2026-11-22 10:00:00,3,\"docker: the forward port is already taken on the host (Bind for 0.0.0.0:10003 failed: port is already allocated.)\"\n\
         dave,2026-11-20 10:00:00,2026-11-20 10:00:00,1,docker: gone\n",
    )
    .unwrap();
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1));
    let failing: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.code == "start_failing")
        .collect();
    assert_eq!(failing.len(), 1, "{:?}", r.problems);
    assert_eq!(
        (failing[0].file.as_str(), failing[0].line),
        ("jobs/booking.csv", Some(3))
    );
    assert_eq!(
        failing[0].message,
        "`carol`'s container could not start since 2026-11-22 10:00 (3 attempts): docker: the forward port is already taken on the host (Bind for 0.0.0.0:10003 failed: port is already allocated.)"
    );
}

#[test]
fn a_bad_start_failure_record_is_a_problem_naming_its_line_and_validate_refuses_it() {
    let root = common::root_from("lab");
    std::fs::write(
        root.path().join("jobs/start-failures.csv"),
        "user_id,start,since,attempts,reason\ncarol,2026-11-22 10:00:00,2026-11-22 10:00:00,many,x\n",
    )
    .unwrap();
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1));
    let bad = r
        .problems
        .iter()
        .find(|p| p.code == "start_failures_unreadable")
        .unwrap_or_else(|| panic!("{:?}", r.problems));
    assert_eq!(
        (bad.file.as_str(), bad.line),
        ("jobs/start-failures.csv", Some(2))
    );
    assert!(bad.message.contains("attempts: `many`"), "{}", bad.message);

    let out = checker(root.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("jobs/start-failures.csv:2: attempts:"),
        "{err}"
    );
}

/// The users file holds every user's booking password (which also opens their container):
/// `checker` warns when others can read it.
#[test]
fn a_users_file_readable_by_others_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let root = common::root_from("lab");
    let users = root.path().join("cfg/users_config.yaml");
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1));
    assert_eq!(codes(&r), ["users_config_readable"]);
    assert!(
        r.problems[0].message.contains("mode 0644"),
        "{:?}",
        r.problems
    );
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(report(root.path()).1, Some(0));
}

/// Regression: a capability_config.yaml describing a bigger host than the one it runs on
/// went unnoticed, and students booked CPUs, memory and GPUs that could not run.
#[test]
fn a_configured_host_bigger_than_the_machine_is_a_warning() {
    let root = common::root_from("lab");
    let out = Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root.path())
        .arg("--json")
        .env("AIVC_NOW", NOW)
        .env("AIVC_MACHINE", "cpus=2,ram=24,swap=0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: Report = serde_json::from_slice(&out.stdout).unwrap();
    let beyond: Vec<&str> = r
        .problems
        .iter()
        .filter(|p| p.code == "capacity_beyond_machine")
        .inspect(|p| {
            assert_eq!(p.severity, checker::problems::Severity::Warning);
            assert_eq!(p.file, "cfg/capability_config.yaml");
        })
        .map(|p| p.message.as_str())
        .collect();
    assert_eq!(beyond.len(), 3, "{:?}", r.problems);
    assert!(beyond[0].starts_with("max.cpus is 16, but this machine has 2 CPUs"));
    assert!(beyond[1].starts_with("max.ram is 64 GB, but this machine has 24 GB of RAM"));
    assert!(
        beyond[2].starts_with("max.memory is 80 GB, but this machine has 24 GB of RAM and swap")
    );

    // Within the 5% the kernel keeps out of MemTotal: a 64 GB host reads 62.5 GiB.
    let snapshot = checker::Snapshot::load(hostinfo::Root::at(root.path())).unwrap();
    let machine = hostinfo::machine::Machine {
        cpus: 16,
        ram_gb: Some(62.5),
        swap_gb: Some(16.0),
    };
    assert!(checker::problems::beyond_machine(&snapshot, &machine, None).is_empty());
    // GPUs count only when NVML answers: the lab configures 2.
    let gpus = checker::problems::beyond_machine(&snapshot, &machine, Some(1));
    assert_eq!(gpus.len(), 1);
    assert_eq!(
        gpus[0].message,
        "max.gpus is 2, but NVML finds 1 GPUs on this machine: bookings can be accepted that this machine cannot run"
    );
    assert!(checker::problems::beyond_machine(&snapshot, &machine, Some(2)).is_empty());
}

const WAITLIST_HEADER: &str = "id,joined,user_id,cpus,memory,gpus,minutes,earliest_start,latest_start,forward_port,image,extra_command\n";

/// The waitlist in the report: each entry with whether it still waits, a line in the
/// summary, and a warning for an entry whose user may not book any more.
#[test]
fn the_waitlist_is_in_the_json_and_the_summary() {
    let root = common::root_from("lab");
    std::fs::write(
        root.path().join("jobs/waitlist.csv"),
        format!(
            "{WAITLIST_HEADER}\
             1,2026-11-21 09:00:00,bob,1.0,1,1,60,2026-11-21 10:00:00,2026-11-21 11:00:00,10002,,\n\
             2,2026-11-21 15:40:00,carol,2.0,8,1,120,2026-11-22 10:00:00,2026-11-22 14:00:00,10003,,echo hi\n\
             3,2026-11-21 15:41:00,mallory,1.0,1,0,30,2026-11-22 10:00:00,2026-11-22 10:00:00,10009,,\n"
        ),
    )
    .unwrap();
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1), "mallory's entry is a warning");
    let states: Vec<(u32, &str, &str)> = r
        .waitlist
        .iter()
        .map(|e| (e.id, e.user_id.as_str(), e.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (1, "bob", "expiring"),
            (2, "carol", "waiting"),
            (3, "mallory", "waiting")
        ]
    );
    let carol = &r.waitlist[1];
    assert_eq!(
        (
            carol.minutes,
            carol.earliest_start.as_str(),
            carol.latest_start.as_str()
        ),
        (120, "2026-11-22 10:00:00", "2026-11-22 14:00:00")
    );
    assert_eq!(carol.extra_command.as_deref(), Some("echo hi"));
    assert_eq!(codes(&r), ["waitlist_user_not_allowed"]);
    assert_eq!(r.problems[0].file, "jobs/waitlist.csv");

    let text = String::from_utf8(checker(root.path(), &[]).stdout).unwrap();
    assert!(
        text.contains(
            "Waitlist: 2 waiting, 1 past their latest start (the next tick expires them)"
        ),
        "{text}"
    );
}

#[test]
fn a_bad_waitlist_is_a_problem_naming_its_line() {
    let root = common::root_from("lab");
    std::fs::write(
        root.path().join("jobs/waitlist.csv"),
        format!("{WAITLIST_HEADER}1,2026-11-21 09:00:00,bob,1.0,1,1,60,2026-11-22 10:00:00,2026-11-22 09:00:00,10002,,\n"),
    )
    .unwrap();
    let (r, code) = report(root.path());
    assert_eq!(code, Some(1));
    assert!(r.waitlist.is_empty());
    let bad = r
        .problems
        .iter()
        .find(|p| p.code == "waitlist_unreadable")
        .unwrap_or_else(|| panic!("{:?}", r.problems));
    assert_eq!(
        (bad.file.as_str(), bad.line),
        ("jobs/waitlist.csv", Some(2))
    );
    assert_eq!(
        bad.message,
        "the waitlist cannot be read: latest_start: is before earliest_start"
    );
}

#[test]
fn validate_counts_the_waitlist() {
    let root = common::root_from("lab");
    std::fs::write(
        root.path().join("jobs/waitlist.csv"),
        format!("{WAITLIST_HEADER}1,2026-11-21 09:00:00,bob,1.0,1,1,60,2026-11-22 10:00:00,2026-11-22 10:00:00,10002,,\n"),
    )
    .unwrap();
    let out = checker(root.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).ends_with(", 1 on the waitlist\n"));
}
