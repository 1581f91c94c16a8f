//! The tick serves the waitlist (`jobs/waitlist.csv`) before it plans, against the stand-in
//! docker: an entry is booked at its earliest start that fits and started when due, one
//! whose latest start passed expires with a notice, a dry run serves nothing, and a
//! waitlist that cannot be read is logged while the tick goes on.

mod common;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
const WAITLIST_HEADER: &str = "id,joined,user_id,cpus,memory,gpus,minutes,earliest_start,latest_start,forward_port,image,extra_command\n";

/// alice's container holds both cpus of the host (2) until 10:00 on Monday the 23rd; bob
/// waits for 1 cpu for an hour, starting from 09:30 to `latest`.
fn full_until_ten(latest: &str) -> common::Lab {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 08:00:00,2026-11-23 10:00:00,alice,2.0,1,[],10001,,\n"),
    )
    .unwrap();
    lab.fake_container(
        "alice",
        &format!(
            "{}\talice\trunning\talice\t$INSTALLATION\t2026-11-23 08:00:00\t2026-11-23 10:00:00\t\t10001\t2020-01-01T00:00:00Z\n",
            "0".repeat(64)
        ),
    );
    std::fs::write(
        lab.path().join("jobs/waitlist.csv"),
        format!("{WAITLIST_HEADER}1,2026-11-23 09:10:00,bob,1.0,1,0,60,2026-11-23 09:30:00,{latest}:00,10002,,\n"),
    )
    .unwrap();
    lab
}

fn tick(lab: &common::Lab, now: &str, args: &[&str]) -> String {
    let out = lab.monitor(now, args, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_tick_books_an_entry_at_its_earliest_start_that_fits_and_starts_it_when_due() {
    let lab = full_until_ten("2026-11-23 10:30");
    tick(&lab, "2026-11-23 09:30", &[]);
    // 09:30 is full; 10:00, when alice's booking ends, fits.
    assert_eq!(
        lab.file("jobs/booking.csv"),
        format!("{HEADER}2026-11-23 10:00:00,2026-11-23 11:00:00,bob,1.0,1,[],10002,,\n")
    );
    assert_eq!(lab.file("jobs/waitlist.csv"), WAITLIST_HEADER);
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains(
            "[INFO] bob's waitlist entry #1 was booked: 2026-11-23 10:00 to 2026-11-23 11:00."
        ),
        "{log}"
    );
    assert!(lab
        .file("jobs/notices.csv")
        .contains(",user:bob,waitlist_booked,"));

    tick(&lab, "2026-11-23 10:00", &[]);
    assert!(lab.file("jobs/using.csv").contains(",bob,1.0,1,[],10002,"));
    assert_eq!(lab.fake_containers(), ["bob"]);
    assert_eq!(
        lab.file("jobs/monitor.log")
            .matches("waitlist entry")
            .count(),
        1,
        "booked once"
    );
}

#[test]
fn an_entry_due_now_is_booked_and_started_in_the_same_tick() {
    let lab = full_until_ten("2026-11-23 10:30");
    tick(&lab, "2026-11-23 10:00", &[]);
    assert!(
        lab.file("jobs/using.csv")
            .contains("2026-11-23 10:00:00,2026-11-23 11:00:00,bob,"),
        "{}",
        lab.file("jobs/using.csv")
    );
    assert_eq!(lab.fake_containers(), ["bob"]);
    assert_eq!(lab.file("jobs/waitlist.csv"), WAITLIST_HEADER);
}

#[test]
fn an_entry_whose_latest_start_passed_expires_with_a_notice() {
    let lab = full_until_ten("2026-11-23 09:30");
    tick(&lab, "2026-11-23 09:30", &[]);
    assert!(
        lab.file("jobs/waitlist.csv").contains(",bob,"),
        "still waits"
    );
    tick(&lab, "2026-11-23 10:00", &[]);
    assert_eq!(lab.file("jobs/waitlist.csv"), WAITLIST_HEADER);
    assert_eq!(lab.file("jobs/booking.csv"), HEADER, "never booked");
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains(
            "[INFO] bob's waitlist entry #1 expired: its latest start 2026-11-23 09:30 passed."
        ),
        "{log}"
    );
    let notices = lab.file("jobs/notices.csv");
    assert!(notices.contains(",user:bob,waitlist_expired,"), "{notices}");
    // checker shows the waitlist empty again.
    assert!(lab.checker("2026-11-23 10:00").waitlist.is_empty());
}

#[test]
fn checker_shows_the_waitlist_and_which_entries_the_next_tick_expires() {
    let lab = full_until_ten("2026-11-23 09:30");
    let report = lab.checker("2026-11-23 09:45");
    assert_eq!(report.waitlist.len(), 1);
    let e = &report.waitlist[0];
    assert_eq!(
        (e.id, e.user_id.as_str(), e.state.as_str()),
        (1, "bob", "waiting")
    );
    assert_eq!(e.latest_start, "2026-11-23 09:30:00");
    let report = lab.checker("2026-11-23 10:05");
    assert_eq!(report.waitlist[0].state, "expiring");
}

#[test]
fn a_dry_run_serves_nothing() {
    let lab = full_until_ten("2026-11-23 10:30");
    let before = lab.file("jobs/waitlist.csv");
    tick(&lab, "2026-11-23 09:30", &["--dry-run"]);
    assert_eq!(lab.file("jobs/waitlist.csv"), before);
    assert_eq!(lab.file("jobs/booking.csv"), HEADER);
}

#[test]
fn a_waitlist_that_cannot_be_read_is_logged_left_alone_and_the_tick_goes_on() {
    let lab = full_until_ten("2026-11-23 10:30");
    let bad = format!(
        "{WAITLIST_HEADER}1,2026-11-23 09:10:00,bob,1.0,1,0,45,2026-11-23 09:30:00,2026-11-23 10:30:00,10002,,\n"
    );
    std::fs::write(lab.path().join("jobs/waitlist.csv"), &bad).unwrap();
    tick(&lab, "2026-11-23 10:00", &[]);
    assert_eq!(lab.file("jobs/waitlist.csv"), bad, "left as it was");
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains("[ERROR] UpdateError, the waitlist was not served: ")
            && log.contains("jobs/waitlist.csv:2: minutes: 45 is not a positive multiple of 30"),
        "{log}"
    );
    // The rest of the tick ran: alice's ended booking was closed.
    assert!(lab.file("jobs/used.csv").contains(",alice,"));
}
