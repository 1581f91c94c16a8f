//! Groups and policies as a student meets them, through the real binary on the lab fixture
//! with groups (`common::GROUPS_CAPABILITY`: alice and bob in `phd`, carol in `staff`;
//! now is 2026-11-21 15:47): `-ls` shows the group's use and the user's limits, and
//! `--yes`, `--end-at` and cancel go through the same rules as the prompt.

mod common;

use std::path::Path;

use booking::list::Listing;
use common::{booking, file, stderr, stdout};

fn append(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    let mut all = std::fs::read_to_string(&path).unwrap();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}

/// `booking --yes --password-stdin ARGS` as `id`, whose password is `<id>-secret-pw`.
fn as_user(root: &Path, id: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--yes", "--password-stdin", "--user-id", id];
    all.extend_from_slice(args);
    booking(root, &all, &format!("{id}-secret-pw\n"))
}

/// alice books two GPUs and most of phd's memory on Tuesday: the group's peak.
fn with_alices_tuesday(root: &Path) {
    append(
        root,
        "jobs/booking.csv",
        "2026-11-24 10:00:00,2026-11-24 12:00:00,alice,8.0,32,\"[0, 1]\",10001,,\n",
    );
}

#[test]
fn the_listing_for_a_member_shows_the_groups_use_and_the_limits_with_the_exceptions_reason() {
    let root = common::groups_root();
    with_alices_tuesday(root.path());
    // Any case, as --user-id is matched everywhere.
    let out = booking(root.path(), &["-ls", "--user-id", "ALICE"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Group phd (alice, bob): holds 1 of 2 GPUs, 4 of 12 cpus, 16 of 48 GB now; the most at once over the next two weeks: 2 GPUs, 8 cpus, 32 GB from Tue 11-24 10:00\n"),
        "{text}"
    );
    assert!(text.contains("Limits of alice, group phd\n"), "{text}");
    for line in [
        "  cpus                   12         group phd\n",
        "  gpus                   2          exception: thesis runs, approved by the PI\n",
        "  max_hours_per_booking  48         exception: thesis runs, approved by the PI\n",
        "  max_days_ahead         14         lab policies\n",
    ] {
        assert!(text.contains(line), "`{line}` in\n{text}");
    }
    // The schedule itself is still there, first.
    assert!(
        text.starts_with("Schedule at 2026-11-21 15:47 (Asia/Taipei)\n"),
        "{text}"
    );
    assert!(
        !text.contains("Groups now"),
        "a user sees their own group: {text}"
    );

    // bob's limits come from the group; nothing of alice's exception is his.
    let text = stdout(&booking(root.path(), &["-ls", "--user-id", "bob"], ""));
    assert!(text.contains("Limits of bob, group phd\n"), "{text}");
    assert!(
        text.contains("  max_hours_per_booking  6          group phd\n"),
        "{text}"
    );
    assert!(!text.contains("thesis runs"), "{text}");
    // dave is in no group: his limits, no group line.
    let text = stdout(&booking(root.path(), &["-ls", "--user-id", "dave"], ""));
    assert!(text.contains("Limits of dave, in no group\n"), "{text}");
    assert!(!text.contains("Group "), "{text}");
}

#[test]
fn the_listing_without_a_user_shows_each_group_now_against_its_total() {
    let root = common::groups_root();
    let out = booking(root.path(), &["-ls"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let table = text
        .split_once("Groups now, of their totals\n")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no group table in\n{text}"));
    assert_eq!(
        table,
        "  GROUP            MEMBERS  GPUS         CPUS           MEM (GB)\n  \
         phd                    2  1 of 2       4 of 12        16 of 48\n  \
         staff                  1  0 of 1       0              0\n"
    );
    assert!(!text.contains("Limits of"), "{text}");
}

#[test]
fn a_lab_without_groups_lists_as_before() {
    let root = common::root_from("lab");
    let text = stdout(&booking(root.path(), &["-ls", "--user-id", "bob"], ""));
    assert!(!text.contains("Group"), "{text}");
    assert!(text.contains("Limits of bob, in no group\n"), "{text}");
    let plain = stdout(&booking(root.path(), &["-ls"], ""));
    assert!(
        plain.ends_with("  GPU 1: carol 2026-11-22 10:00 to 2026-11-22 11:00\n"),
        "{plain}"
    );
    let out = booking(root.path(), &["-ls", "--json"], "");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["user", "group", "groups"] {
        assert!(
            json.get(key).is_none(),
            "no `{key}` without groups or a user: {json}"
        );
    }
}

#[test]
fn the_json_listing_adds_the_group_and_the_limits_and_stays_version_1() {
    let root = common::groups_root();
    with_alices_tuesday(root.path());
    let out = booking(root.path(), &["-ls", "--json", "--user-id", "bob"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listing: Listing = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing.version, 1);
    let group = listing.group.expect("bob's group");
    assert_eq!(group.name, "phd");
    assert_eq!(group.members, ["alice", "bob"]);
    assert_eq!(group.total.gpus, Some(2));
    assert_eq!(group.total.cpus, Some(12.0));
    assert_eq!(
        (group.now.gpus, group.now.cpus, group.now.memory),
        (1, 4.0, 16)
    );
    assert_eq!(group.peak.gpus.amount, 2);
    assert_eq!(group.peak.gpus.at.as_deref(), Some("2026-11-24 10:00:00"));
    // bob's own 09:00–12:00 on the 22nd overlaps nothing of alice's: 4 cpus then; alice's
    // 4 running now; 8 on Tuesday.
    assert_eq!(group.peak.cpus.amount, 8.0);
    let user = listing.user.expect("bob's limits");
    assert_eq!(user.group.as_deref(), Some("phd"));
    assert_eq!(user.reason, None);
    let hours = user
        .limits
        .iter()
        .find(|l| l.key == "max_hours_per_booking")
        .unwrap();
    assert_eq!(hours.value, Some(6.0));
    assert_eq!(hours.from, checker::limits::Source::Group);
    let names: Vec<&str> = listing.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["phd", "staff"]);
    assert_eq!(
        listing.groups[1].peak.gpus.at.as_deref(),
        Some("2026-11-22 10:00:00")
    );
}

#[test]
fn the_listing_for_an_id_not_allowed_is_refused_and_says_why() {
    let root = common::groups_root();
    let out = booking(root.path(), &["-ls", "--user-id", "mallory"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "booking: user `mallory` is not in allow_userIDs of the capability config\n"
    );
    assert!(stdout(&out).is_empty());
}

/// bob's booking on the 22nd (09:00–12:00, 4 cpus, GPU 0), and alice's 10 cpus from 12:00
/// to 14:00: phd, which shares 12 cpus, has 2 left then, and books at most 6 hours at a time.
fn with_alices_afternoon(root: &Path) {
    append(
        root,
        "jobs/booking.csv",
        "2026-11-22 12:00:00,2026-11-22 14:00:00,alice,10.0,8,[],10001,,\n",
    );
}

#[test]
fn a_booking_with_flags_past_the_groups_total_is_refused_naming_the_group() {
    let root = common::groups_root();
    with_alices_afternoon(root.path());
    let before = common::tree(root.path());
    let window = ["--start", "2026-11-22 12:00", "--end", "2026-11-22 13:00"];
    let ask = |id: &str| {
        let mut args = vec!["--cpus", "4", "--memory", "4"];
        args.extend_from_slice(&window);
        as_user(root.path(), id, &args)
    };
    let out = ask("bob");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "booking: group phd already holds 10 of its 12 cpus from 12:00 to 13:00 on Sun 2026-11-22"
        ) && stderr(&out)
            .contains("the earliest window that fits is 2026-11-22 14:00 to 2026-11-22 15:00"),
        "{}",
        stderr(&out)
    );
    assert_eq!(common::tree(root.path()), before, "nothing written");
    // carol's group is not phd: the host has the room, so she gets it.
    let out = ask("carol");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A policy: 7 hours is more than phd's 6.
    let out = as_user(
        root.path(),
        "bob",
        &[
            "--cpus",
            "1",
            "--memory",
            "1",
            "--start",
            "2026-11-23 09:00",
            "--end",
            "2026-11-23 16:00",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "booking: the booking is 7 hours long; 6 hours is the longest one booking may be (group phd's policy: max_hours_per_booking)\n"
    );
}

#[test]
fn end_at_past_the_groups_total_or_the_longest_booking_is_refused_and_changes_nothing() {
    let root = common::groups_root();
    with_alices_afternoon(root.path());
    let before = common::tree(root.path());
    let refused = |id: &str, end: &str, message: &str| {
        let out = as_user(root.path(), id, &["--end-at", end]);
        assert_eq!(out.status.code(), Some(1), "{end}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("booking: cannot move the end to {end}: {message}")),
            "{end}: {err}"
        );
        // No other window was looked for: none is said to fit or not.
        assert!(!err.contains("window"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(stdout(&out).is_empty());
        assert_eq!(common::tree(root.path()), before, "{end} changed a file");
    };
    // bob's 4 cpus until 13:00 would put phd at 14 of its 12 (the host has 16).
    refused(
        "bob",
        "2026-11-22 13:00",
        "group phd already holds 10 of its 12 cpus from 12:00 to 13:00 on Sun 2026-11-22",
    );
    // Until 16:00 is 7 hours: phd's policy says 6; the policy is checked first.
    refused(
        "bob",
        "2026-11-22 16:00",
        "the booking is 7 hours long; 6 hours is the longest one booking may be (group phd's policy: max_hours_per_booking)",
    );
    // Within every rule it is extended: carol's staff shares one GPU, hers.
    let out = as_user(root.path(), "carol", &["--end-at", "2026-11-22 12:00"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(file(root.path(), "jobs/booking.csv")
        .contains("2026-11-22 10:00:00,2026-11-22 12:00:00,carol,"));
}

#[test]
fn end_at_of_a_running_booking_past_the_exceptions_longest_booking_says_why_she_has_it() {
    // alice's running booking (using.csv), 24 hours so far: her exception allows 48. (On
    // a root without her afternoon, which an extension to Monday would overlap.)
    let root = common::groups_root();
    let before = common::tree(root.path());
    let out = as_user(
        root.path(),
        "alice",
        &[
            "--end-at",
            "2026-11-23 10:00",
            "--which",
            "2026-11-21 09:00",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "booking: cannot move the end to 2026-11-23 10:00: the booking is 49 hours long; 48 hours is the longest one booking may be (your exception, thesis runs, approved by the PI: max_hours_per_booking)\n"
    );
    assert_eq!(common::tree(root.path()), before);
}

/// The admin tightens phd after the bookings were accepted: bob's booking now breaks the
/// longest-booking policy, and alice's breaks the group's cpus. Shortening is always
/// allowed, and so is cancelling; lengthening is not.
#[test]
fn shortening_and_cancelling_are_allowed_even_when_a_tightened_rule_is_broken() {
    let root = common::groups_root();
    with_alices_afternoon(root.path());
    let tightened = common::GROUPS_CAPABILITY
        .replace(
            "total: {cpus: 12, memory: 48, gpus: 2}",
            "total: {cpus: 8, memory: 48, gpus: 2}",
        )
        .replace(
            "policies: {max_hours_per_booking: 6}",
            "policies: {max_hours_per_booking: 1}",
        );
    std::fs::write(root.path().join("cfg/capability_config.yaml"), tightened).unwrap();

    let out = as_user(root.path(), "bob", &["--end-at", "2026-11-22 10:30"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(file(root.path(), "jobs/booking.csv")
        .contains("2026-11-22 09:00:00,2026-11-22 10:30:00,bob,"));
    let out = as_user(root.path(), "bob", &["--end-at", "2026-11-22 11:00"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "lengthening is checked: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("max_hours_per_booking"),
        "{}",
        stderr(&out)
    );

    let out = as_user(
        root.path(),
        "alice",
        &[
            "--end-at",
            "2026-11-22 13:00",
            "--which",
            "2026-11-22 12:00",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = as_user(root.path(), "alice", &["--cancel", "2026-11-22 12:00"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!file(root.path(), "jobs/booking.csv").contains(",alice,10.0,"));
}

/// Regression guard for the one-write listing (tests/trial.rs) with groups and a user: the
/// group lines and the limits go into the same buffer.
#[test]
fn the_listing_with_groups_and_a_user_is_still_written_in_a_few_write_calls() {
    let Some(strace) = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|s| Path::new(s).exists())
    else {
        panic!("this test counts write calls with strace: apt-get install strace (scripts/test.sh does)");
    };
    let root = common::groups_root();
    with_alices_tuesday(root.path());
    let log = root.path().join("strace.log");
    let listing = std::fs::File::create(root.path().join("listing.txt")).unwrap();
    let status = std::process::Command::new(strace)
        .args(["-f", "-e", "trace=write", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_booking"))
        .arg("--root")
        .arg(root.path())
        .args(["-ls", "--user-id", "alice"])
        .env("AIVC_NOW", common::NOW)
        .env_remove("AIVC_ROOT")
        .stdout(listing)
        .status()
        .unwrap();
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{trace}");
    let text = file(root.path(), "listing.txt");
    assert!(
        text.contains("Group phd") && text.contains("Limits of alice"),
        "{text}"
    );
    let writes = trace.lines().filter(|l| l.contains("write(1,")).count();
    assert_eq!(writes, 1, "{trace}");
}
