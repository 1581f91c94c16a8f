//! What a student saw in the field trial (issue 13, item 5), each as the real binary on a
//! copy of the lab fixture: the messages that misled, the listing that hid things, the ids
//! that worked one way and not the other, and the listing's write calls.

mod common;

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

use std::path::Path;

use common::{booking, file, stderr, stdout};

fn append(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    let mut all = std::fs::read_to_string(&path).unwrap_or_default();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}

fn end_at(root: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--yes", "--password-stdin", "--user-id", "bob"];
    all.extend_from_slice(args);
    booking(root, &all, "bob-secret-pw\n")
}

/// Regression: with two bookings `--end-at` said "name one with --start START" (`--start`
/// does nothing there), and a `--which` that matched none said only that there was nothing
/// to change.
#[test]
fn end_at_with_several_bookings_names_which_and_a_wrong_which_lists_the_bookings() {
    let root = common::root_from("lab");
    let p = root.path();
    append(
        p,
        "jobs/booking.csv",
        "2026-11-25 09:00:00,2026-11-25 10:00:00,bob,1.0,1,[],10002,,\n",
    );
    let out = end_at(p, &["--end-at", "2026-11-25 12:00"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "booking: error: you have 2 bookings; name one with --which START (they start at `2026-11-22 09:00`, `2026-11-25 09:00`)\n"
    );
    let out = end_at(
        p,
        &[
            "--end-at",
            "2026-11-25 12:00",
            "--which",
            "2026-11-23 09:00",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "booking: you have no running or future booking starting at 2026-11-23 09:00; yours start at `2026-11-22 09:00`, `2026-11-25 09:00`\n"
    );
    let out = end_at(
        p,
        &[
            "--end-at",
            "2026-11-25 12:00",
            "--which",
            "2026-11-25 09:00",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(file(p, "jobs/booking.csv").contains("2026-11-25 09:00:00,2026-11-25 12:00:00,bob"));
}

/// Regression: "the password needs too common".
#[test]
fn a_common_password_is_refused_in_plain_english() {
    let root = common::root_from("lab");
    let out = booking(
        root.path(),
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
        "1234\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "booking: error: the password is too common (1234, 4321, 1qaz and =0-9 are refused): choose another\n"
    );
}

/// Regression: `-ls` showed who holds each GPU over the next 7 days, though bookings are
/// made up to 14 days ahead: a GPU booked on day 10 looked free.
#[test]
fn the_listing_shows_gpu_holders_over_the_whole_two_weeks() {
    let root = common::root_from("lab");
    let p = root.path();
    append(
        p,
        "jobs/booking.csv",
        "2026-12-05 09:00:00,2026-12-05 12:00:00,bob,1.0,1,[1],10002,,\n",
    );
    let out = booking(p, &["-ls"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("GPUs over the next 14 days"), "{text}");
    assert!(
        text.contains("GPU 1: carol 2026-11-22 10:00 to 2026-11-22 11:00, bob 2026-12-05 09:00 to 2026-12-05 12:00"),
        "{text}"
    );
}

/// Regression: a due booking held back by the disk quota showed `due` in `-ls` until it
/// silently expired. The monitor records the wait in jobs/start-failures.csv; the student
/// sees it as the row's state, in the table and in `--json`.
#[test]
fn a_booking_waiting_on_the_disk_quota_says_so_in_the_listing() {
    let root = common::root_from("lab");
    let p = root.path();
    append(
        p,
        "jobs/booking.csv",
        "2026-11-21 15:30:00,2026-11-21 18:00:00,dave,1.0,1,[],10004,,\n",
    );
    std::fs::write(
        p.join("jobs/start-failures.csv"),
        "user_id,start,since,attempts,reason\n\
         dave,2026-11-21 15:30:00,2026-11-21 15:30:00,2,over the disk quota: work over its 100 GB\n\
         carol,2026-11-22 10:00:00,2026-11-22 10:00:00,1,docker: a reason only the admin sees\n",
    )
    .unwrap();
    let out = booking(p, &["-ls"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let dave = text.lines().find(|l| l.contains("dave")).unwrap();
    assert!(
        dave.ends_with("  waiting: over the disk quota: work over its 100 GB"),
        "{text}"
    );
    assert!(!text.contains("docker: a reason"), "{text}");
    let out = booking(p, &["-ls", "--json"], "");
    let listing: booking::list::Listing = serde_json::from_slice(&out.stdout).unwrap();
    let dave = listing
        .rows
        .iter()
        .find(|r| r.row.user_id == "dave")
        .unwrap();
    assert_eq!(
        dave.waiting_reason.as_deref(),
        Some("over the disk quota: work over its 100 GB")
    );
    assert!(listing
        .rows
        .iter()
        .filter(|r| r.row.user_id != "dave")
        .all(|r| r.waiting_reason.is_none()));
}

fn with_upper_case_id(root: &Path) {
    let path = root.join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("  - dave\n", "  - dave\n  - M11007S05\n");
    std::fs::write(path, text).unwrap();
}

/// Regression: an id the admin wrote in upper case worked with `-id` as written but not in
/// any other spelling, while the prompt lower-cased every typed id and so never matched it.
/// Now ids match without regard to case everywhere, and the admin's spelling is used.
#[test]
fn an_upper_case_allowed_id_works_in_any_case_with_the_flag() {
    let root = common::root_from("lab");
    let p = root.path();
    with_upper_case_id(p);
    let book = |id: &str, start: &str| {
        booking(
            p,
            &[
                "--yes",
                "--password-stdin",
                "-id",
                id,
                "--cpus",
                "1",
                "--memory",
                "1",
                "--start",
                start,
                "--end",
                "1-day",
            ],
            "m11-secret-pw\n",
        )
    };
    let out = book("m11007s05", "2026-11-23 09:00");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Signed up M11007S05"),
        "{}",
        stderr(&out)
    );
    assert!(file(p, "cfg/users_config.yaml").contains("\nM11007S05:\n"));
    let out = book("M11007S05", "2026-11-25 09:00");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = file(p, "jobs/booking.csv");
    assert_eq!(rows.matches(",M11007S05,").count(), 2, "{rows}");
    assert!(!rows.contains(",m11007s05,"), "{rows}");
}

/// Regression: `booking -ls` wrote each line with its own write calls (20,124 for 10,000
/// rows). The listing is built in memory and written at once: a few calls for 1,000 rows.
#[test]
fn the_listing_is_written_in_a_few_write_calls_not_two_a_line() {
    let Some(strace) = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|s| Path::new(s).exists())
    else {
        panic!("this test counts write calls with strace: apt-get install strace (scripts/test.sh does)");
    };
    let dir = tempfile::tempdir().unwrap();
    let base = hostinfo::clock::floor_slot(common::now());
    synthetic_lab::write_root(dir.path(), &synthetic_lab::rows(1_000, base));
    let log = dir.path().join("strace.log");
    let listing = std::fs::File::create(dir.path().join("listing.txt")).unwrap();
    let mut cmd = std::process::Command::new(strace);
    cmd.args(["-f", "-e", "trace=write", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_booking"))
        .arg("--root")
        .arg(dir.path())
        .arg("-ls")
        .env("AIVC_NOW", common::NOW)
        .env_remove("AIVC_ROOT")
        .stdout(listing);
    let status = cmd.status().unwrap();
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success() || trace.contains("write("),
        "strace cannot trace here (ptrace refused?): {trace}"
    );
    assert!(status.success(), "{trace}");
    let text = file(dir.path(), "listing.txt");
    assert!(text.lines().count() > 1_000, "{text}");
    let writes = trace.lines().filter(|l| l.contains("write(1,")).count();
    assert!(
        (1..=4).contains(&writes),
        "{writes} write calls to stdout for {} lines",
        text.lines().count()
    );
}
