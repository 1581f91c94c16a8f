//! The monitor against the real Docker engine: a `now` booking is started by the very
//! command the systemd path unit runs, with the booked limits, and removed at its end.

mod common;

#[path = "../../../tests/support/docker.rs"]
mod docker;

use std::time::Instant;

use hostinfo::log::LogLine;

#[test]
#[allow(clippy::print_stderr)] // reports the measured start time
fn a_now_booking_runs_with_its_limits_then_is_removed_at_its_end() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let id = format!("mon-{}", std::process::id());
    let _cleanup = docker::Cleanup(id.clone());
    lab.add_user(&id, docker::free_port());
    let port = lab
        .file("cfg/users_config.yaml")
        .lines()
        .rev()
        .find(|l| l.contains("forward_port"))
        .unwrap()
        .split(": ")
        .nth(1)
        .unwrap()
        .to_string();
    // What `booking` writes for a booking that starts now.
    let h = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{h}2026-11-23 10:00:00,2026-11-23 11:00:00,{id},1.5,5,[],{port},,\n"),
    )
    .unwrap();
    std::fs::write(lab.path().join("jobs/monitor_exec"), "now\n").unwrap();

    // Someone else's container on the same engine, without our labels.
    let foreign = format!("foreign-{}", std::process::id());
    let _cleanup_foreign = docker::Cleanup(foreign.clone());
    let made = std::process::Command::new("docker")
        .args(["run", "-d", "--name", &foreign, docker::IMAGE])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    // aivc-monitor.path runs aivc-monitor.service, whose ExecStart is this command.
    let started = Instant::now();
    let out = lab.monitor_real(common::NOW);
    eprintln!(
        "NOTE: the path unit's command started the container in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = docker::inspect(&id).expect("the container runs");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["HostConfig"]["NanoCpus"], 1_500_000_000u64);
    assert_eq!(c["HostConfig"]["Memory"], 4u64 << 30);
    assert_eq!(c["Config"]["Labels"]["aivc.end"], "2026-11-23 11:00:00");
    assert!(lab.file("jobs/using.csv").contains(&id));
    assert_eq!(
        lab.file("jobs/monitor_exec"),
        "",
        "the request was consumed"
    );

    let out = lab.monitor_real("2026-11-23 11:00");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        docker::inspect(&id).is_none(),
        "the container is gone at the booking's end"
    );
    assert!(lab.file("jobs/used.csv").contains(&format!(
        "2026-11-23 10:00:00,2026-11-23 11:00:00,{id},1.5,5,[],{port},,"
    )));
    assert!(!lab.file("jobs/using.csv").contains(&id));
    assert_eq!(
        docker::inspect(&foreign).unwrap()["State"]["Running"],
        true,
        "an unlabelled container is never touched"
    );
    let log = lab.file("jobs/monitor.log");
    let lines: Vec<LogLine> = log.lines().map(|l| LogLine::parse(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(
        lines[0].to_string(),
        format!("20261123 10:00 [INFO] {id} is successfully run the container.")
    );
    assert_eq!(lines[1].to_string(), format!("20261123 11:00 [INFO] {id}'s booking ended at 2026-11-23 11:00; the container is removed."));
}
