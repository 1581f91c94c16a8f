//! jobs/start-failures.csv, against the stand-in docker: a start that keeps failing is on
//! record (first failure, attempts, docker's latest reason) until the booking starts or
//! leaves booking.csv; a record the monitor cannot read is logged and written anew.

mod common;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
const RECORD_HEADER: &str = "user_id,start,since,attempts,reason\n";

fn carols_booking() -> common::Lab {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{HEADER}2026-11-23 09:30:00,2026-11-23 12:00:00,carol,1.0,1,[],10003,,\n"),
    )
    .unwrap();
    lab
}

fn tick(lab: &common::Lab, now: &str, envs: &[(&str, &str)]) {
    let out = lab.monitor(now, &[], envs);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const PORT_TAKEN: (&str, &str) = ("AIVC_FAKE_DOCKER_FAIL_RUN", "1");

#[test]
fn a_start_that_keeps_failing_counts_its_attempts_until_it_starts() {
    let lab = carols_booking();
    tick(&lab, "2026-11-23 10:00", &[PORT_TAKEN]);
    tick(&lab, "2026-11-23 10:30", &[PORT_TAKEN]);
    let record = lab.file("jobs/start-failures.csv");
    assert!(
        record.starts_with(&format!(
            "{RECORD_HEADER}carol,2026-11-23 09:30:00,2026-11-23 10:00:00,2,docker: the forward port is already taken on the host ("
        )),
        "{record}"
    );
    assert!(
        lab.fake_containers().is_empty(),
        "no leftover from a failed start"
    );

    tick(&lab, "2026-11-23 11:00", &[]);
    assert_eq!(lab.fake_containers(), ["carol"]);
    assert_eq!(lab.file("jobs/start-failures.csv"), RECORD_HEADER);
}

#[test]
fn a_failing_booking_that_is_missed_drops_its_record() {
    let lab = carols_booking();
    tick(&lab, "2026-11-23 10:00", &[PORT_TAKEN]);
    tick(&lab, "2026-11-23 12:00", &[PORT_TAKEN]);
    assert!(lab.file("jobs/used.csv").contains(",carol,"));
    assert_eq!(lab.file("jobs/start-failures.csv"), RECORD_HEADER);
}

#[test]
fn an_unreadable_record_is_logged_with_its_line_and_written_anew() {
    let lab = carols_booking();
    std::fs::write(
        lab.path().join("jobs/start-failures.csv"),
        format!("{RECORD_HEADER}carol,2026-11-23 09:30:00,not a time,1,x\n\"unterminated\n"),
    )
    .unwrap();
    tick(&lab, "2026-11-23 10:00", &[PORT_TAKEN]);
    let log = lab.file("jobs/monitor.log");
    let update = log
        .lines()
        .find(|l| l.starts_with("20261123 10:00 [ERROR] UpdateError, "))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        update.contains("jobs/start-failures.csv:2: since:")
            && update.ends_with("; the file is written anew"),
        "{update}"
    );
    let record = lab.file("jobs/start-failures.csv");
    assert!(
        record.starts_with(&format!(
            "{RECORD_HEADER}carol,2026-11-23 09:30:00,2026-11-23 10:00:00,1,"
        )),
        "{record}"
    );
}
