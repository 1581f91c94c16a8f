//! A booking the monitor holds back because its user is over the disk quota: the monitor
//! records it in jobs/start-failures.csv with an `over the disk quota` reason, and `checker`
//! shows it as waiting with that reason, not as a docker failure and not silently `due`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use checker::report::Report;

fn checker(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", "2026-11-21 15:47")
        // A machine bigger than the fixture: the report does not depend on the test's.
        .env("AIVC_MACHINE", "cpus=256,ram=1024,swap=64")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Regression: such a booking showed only as due until it expired, with no word of why.
#[test]
fn a_booking_waiting_on_the_disk_quota_is_shown_with_its_reason() {
    let root = common::root_from("lab");
    let p = root.path();
    let booking = p.join("jobs/booking.csv");
    let mut rows = std::fs::read_to_string(&booking).unwrap();
    rows.push_str("2026-11-21 15:30:00,2026-11-21 18:00:00,dave,1.0,1,[],10004,,\n");
    std::fs::write(&booking, rows).unwrap();
    std::fs::write(
        p.join("jobs/start-failures.csv"),
        "user_id,start,since,attempts,reason\n\
         dave,2026-11-21 15:30:00,2026-11-21 15:30:00,2,over the disk quota: work over its 100 GB\n",
    )
    .unwrap();
    let out = checker(p, &["--json"]);
    let report: Report = serde_json::from_slice(&out.stdout).unwrap();
    let waits: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.code == "waiting_on_quota")
        .collect();
    assert_eq!(waits.len(), 1, "{:?}", report.problems);
    assert_eq!(
        (waits[0].file.as_str(), waits[0].line),
        ("jobs/booking.csv", Some(4))
    );
    assert_eq!(
        waits[0].message,
        "`dave`'s booking from 2026-11-21 15:30 waits since 2026-11-21 15:30: over the disk quota: work over its 100 GB"
    );
    assert!(
        report.problems.iter().all(|p| p.code != "start_failing"),
        "a quota wait is not a docker failure: {:?}",
        report.problems
    );
    let text = String::from_utf8(checker(p, &[]).stdout).unwrap();
    assert!(
        text.contains("waits since 2026-11-21 15:30: over the disk quota: work over its 100 GB"),
        "{text}"
    );
}
