//! The clock may step back (an NTP correction, the repeated hour of a DST fall-back): a
//! running booking's container is closed because its row left `using.csv` or ended, never
//! because `now` moved before the row's start.

mod common;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// Regression: the reconcile counted a container as current only while `start <= now`,
/// so a one-minute backward step at a booking's first slot removed the running container.
#[test]
fn a_clock_stepping_back_before_a_running_bookings_start_leaves_its_container_running() {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 10:00:00,2026-11-23 12:00:00,alice,1.0,2,[],10001,,\n"),
    )
    .unwrap();
    lab.fake_container(
        "alice",
        &format!(
            "a11ce\talice\trunning\talice\t{}\t2026-11-23 10:00:00\t2026-11-23 12:00:00\t\t10001\t2020-01-01T00:00:00Z\n",
            lab.installation
        ),
    );
    for now in ["2026-11-23 09:59", "2026-11-23 09:00"] {
        let out = lab.monitor(now, &[], &[]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let docker = lab.docker_log();
    assert!(
        docker
            .lines()
            .all(|l| !l.starts_with("stop") && !l.starts_with("rm")),
        "{docker}"
    );
    assert_eq!(lab.fake_containers(), ["alice"]);
    assert!(lab.file("jobs/using.csv").contains(",alice,"));
    assert_eq!(lab.file("jobs/monitor.log"), "", "nothing to say");
}
